/* Plots through PLplot's SVG driver, one plot stream per figure, written into memory and
 * appended to the page as an inline <svg>.
 *
 * PLplot keeps its current stream in process-wide state, so every figure is drawn under one lock.
 * On a fatal error PLplot calls its exit handler and then exit(): the handler jumps back here
 * instead, and the figure fails with a status (the library never exits).
 */
#define _POSIX_C_SOURCE 200809L /* open_memstream */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <plplot/plplot.h>

#include "report/report-impl.h"
#include "core/banned.h"

/* Okabe and Ito's palette without yellow (too pale on white) and black, then black. */
const unsigned char rp_palette[RP_N_COLOURS][3] = {
    {0, 114, 178},   /* blue */
    {213, 94, 0},    /* vermillion */
    {0, 158, 115},   /* bluish green */
    {230, 159, 0},   /* orange */
    {204, 121, 167}, /* reddish purple */
    {86, 180, 233},  /* sky blue */
    {120, 94, 60},   /* brown (dark, distinct in lightness from the others) */
    {0, 0, 0},       /* black */
};

/* matplotlib's viridis at 0, 0.1, ..., 1: perceptually uniform and readable without colour
 * vision; interpolated linearly in between. */
static const unsigned char viridis[11][3] = {
    {68, 1, 84},    {72, 36, 117},  {65, 68, 135},  {53, 95, 141},  {42, 120, 142}, {33, 145, 140},
    {34, 168, 132}, {68, 191, 112}, {122, 209, 81}, {189, 223, 38}, {253, 231, 37}};

static void viridis_rgb(double t, int rgb[3])
{
    if (!(t >= 0))
        t = 0;
    if (t > 1)
        t = 1;
    double p = t * 10;
    int i = (int)p;
    if (i >= 10)
        i = 9;
    double f = p - i;
    for (int c = 0; c < 3; c++)
        rgb[c] = (int)lround(viridis[i][c] + f * (viridis[i + 1][c] - viridis[i][c]));
}

/* cmap0 indices */
enum {
    C_BG = 0,
    C_FG = 1,
    C_GRID = 2,
    C_PAL = 3,    /* palette, opaque */
    C_BAND = 11,  /* palette, alpha 0.28 */
    C_BAND2 = 19, /* palette, alpha 0.12 */
    C_FREE = 27,  /* set per use */
    C_N = 32
};

/* The figure being drawn is this many pixels wide and high (set by fig_begin, under the lock). */
static int fig_px_w = 1, fig_px_h = 1;
static double fig_chr = 1.15; /* character scale of the figure being drawn */

static pthread_mutex_t plot_lock = PTHREAD_MUTEX_INITIALIZER;
static jmp_buf plot_jump;
static char plot_fatal[256];

static int on_plexit(const char *msg)
{
    snprintf(plot_fatal, sizeof plot_fatal, "%s", msg ? msg : "");
    longjmp(plot_jump, 1);
    return 1;
}

void rp_plot_label(char *dst, size_t cap, const char *src)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)(src ? src : ""); *p && o + 3 < cap; p++) {
        unsigned char c = *p;
        if (c == '#') { /* PLplot's escape character, doubled */
            dst[o++] = '#';
            dst[o++] = '#';
        } else if (c >= 0x20 && c < 0x7f && c != '<' && c != '>' && c != '&') {
            dst[o++] = (char)c;
        } else {
            dst[o++] = '?';
        }
    }
    if (cap)
        dst[o < cap ? o : cap - 1] = 0;
}

typedef struct fig {
    FILE *f;
    char *mem;
    size_t len;
    int width, height;
} fig;

static void set_colours(void)
{
    plscmap0n(C_N);
    plscol0a(C_BG, 255, 255, 255, 1.0);
    plscol0a(C_FG, 0, 0, 0, 1.0);
    plscol0a(C_GRID, 200, 200, 200, 1.0);
    for (int k = 0; k < RP_N_COLOURS; k++) {
        const unsigned char *c = rp_palette[k];
        plscol0a(C_PAL + k, c[0], c[1], c[2], 1.0);
        plscol0a(C_BAND + k, c[0], c[1], c[2], 0.28);
        plscol0a(C_BAND2 + k, c[0], c[1], c[2], 0.12);
    }
    PLINT r[256], g[256], b[256];
    for (int i = 0; i < 256; i++) {
        int rgb[3];
        viridis_rgb(i / 255.0, rgb);
        r[i] = rgb[0], g[i] = rgb[1], b[i] = rgb[2];
    }
    plscmap1n(256);
    plscmap1(r, g, b, 256);
}

/* Starts a figure: a new stream drawing SVG into memory. Called with the lock held. */
static mz_status fig_begin(fig *fg, int width, int height, mz_error *err)
{
    memset(fg, 0, sizeof *fg);
    fg->width = width;
    fg->height = height;
    fig_px_w = width;
    fig_px_h = height;
    fg->f = open_memstream(&fg->mem, &fg->len);
    if (!fg->f)
        return mz_fail(err, MZ_ENOMEM, "plot: out of memory");
    PLINT strm;
    plmkstrm(&strm);
    plsexit(on_plexit);
    plsdev("svg");
    plsfile(fg->f);
    plspage(0, 0, width, height, 0, 0);
    plsori(0);
    set_colours();
    plinit();
    pladv(0);
    /* PLplot's character height follows the page's size: keep text the same size in pixels in
     * smaller figures */
    fig_chr = 1.15 * (width < 560 ? 560.0 / width : 1.0);
    plschr(0, fig_chr);
    plwidth(1);
    return MZ_OK;
}

/* Ends the figure and appends it to b as <svg class="plot" data-plot="id">: PLplot's XML
 * prologue dropped, sizes in pixels, runs of layout whitespace between attributes folded. */
static mz_status fig_end(fig *fg, rp_buf *b, const char *id, const char *title, mz_error *err)
{
    plend1(); /* the driver closes the stream, which completes fg->mem */
    fg->f = NULL;
    const char *svg = fg->mem ? strstr(fg->mem, "<svg") : NULL;
    if (!svg) {
        free(fg->mem);
        return mz_fail(err, MZ_EFORMAT, "plot %s: PLplot wrote no SVG", id);
    }
    const char *body = strchr(svg, '>');
    if (!body) {
        free(fg->mem);
        return mz_fail(err, MZ_EFORMAT, "plot %s: PLplot wrote an incomplete SVG", id);
    }
    body++;
    rp_buf_printf(b, "<svg class=\"plot\" data-plot=\"%s\" role=\"img\" aria-label=\"", id);
    rp_buf_html(b, title ? title : id);
    rp_buf_printf(b,
                  "\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                  "viewBox=\"0 0 %d %d\">",
                  fg->width, fg->height, fg->width, fg->height);
    for (const char *p = body; *p;) {
        if (*p == '\n') {
            while (*p == '\n' || *p == ' ')
                p++;
            rp_buf_add(b, " ", 1);
            continue;
        }
        const char *q = p;
        while (*q && *q != '\n')
            q++;
        rp_buf_add(b, p, (size_t)(q - p));
        p = q;
    }
    rp_buf_puts(b, "\n");
    free(fg->mem);
    fg->mem = NULL;
    return b->failed ? mz_fail(err, MZ_ENOMEM, "report: out of memory (or over its size limit)")
                     : MZ_OK;
}

/* The viewport, leaving room on the right for a legend when there is one. */
static void frame(const rp_axes *ax, int legend_right, int categorical, int xlabels_vertical)
{
    char t[160], xl[96], yl[96];
    /* margins in pixels (text keeps its size in pixels whatever the figure's size) */
    double right = 1 - (legend_right ? 180.0 : 28.0) / fig_px_w;
    double bottom = (xlabels_vertical ? 108.0 : 61.0) / fig_px_h;
    plvpor(80.0 / fig_px_w, right, bottom, 1 - 40.0 / fig_px_h);
    double x0 = ax->xmin, x1 = ax->xmax, y0 = ax->ymin, y1 = ax->ymax;
    if (!(x1 > x0))
        x1 = x0 + 1;
    if (!(y1 > y0))
        y1 = y0 + 1;
    plwind(x0, x1, y0, y1);
    plsxax(6, 0); /* plain numbers: no "(x10^-2)" beside the axis */
    plsyax(6, 0);
    plcol0(C_GRID);
    plbox(categorical ? "" : "g", 0, 0, "g", 0, 0);
    plcol0(C_FG);
    plbox(categorical ? "bc" : "bcnst", 0, 0, "bcnstv", 0, 0);
    rp_plot_label(t, sizeof t, ax->title);
    rp_plot_label(xl, sizeof xl, ax->xlabel);
    rp_plot_label(yl, sizeof yl, ax->ylabel);
    plmtex("t", 1.2, 0.5, 0.5, t);
    plmtex("b", xlabels_vertical ? 7.5 : 3.4, 0.5, 0.5, xl);
    plmtex("l", 4.4, 0.5, 0.5, yl);
}

/* Legend outside the viewport on the right: lines (with an optional band box) or boxes. */
static void legend(int n, const char *const *labels, const int *colours, int with_lines,
                   int with_boxes)
{
    if (n <= 0)
        return;
    if (n > 16)
        n = 16;
    PLINT opt[16], tcol[16], bcol[16], bpat[16], lcol[16], lsty[16];
    PLFLT bscale[16], bwidth[16], lwidth[16];
    char lab[16][40];
    const char *text[16];
    for (int i = 0; i < n; i++) {
        int c = colours ? colours[i] : i % RP_N_COLOURS;
        opt[i] = (with_lines ? PL_LEGEND_LINE : 0) | (with_boxes ? PL_LEGEND_COLOR_BOX : 0);
        tcol[i] = C_FG;
        bcol[i] = with_lines ? C_BAND + c : C_PAL + c;
        bpat[i] = 0;
        bscale[i] = 0.8;
        bwidth[i] = 1;
        lcol[i] = C_PAL + c;
        lsty[i] = 1;
        lwidth[i] = 2.5;
        char tmp[40];
        snprintf(tmp, sizeof tmp, "%.24s%s", labels[i] ? labels[i] : "",
                 labels[i] && strlen(labels[i]) > 24 ? "..." : "");
        rp_plot_label(lab[i], sizeof lab[i], tmp);
        text[i] = lab[i];
    }
    PLFLT w, h;
    plscol0a(C_FREE, 255, 255, 255, 1.0);
    pllegend(&w, &h, PL_LEGEND_BACKGROUND, PL_POSITION_RIGHT | PL_POSITION_OUTSIDE, 0.03, 0.0, 0.06,
             C_FREE, C_FG, 1, 0, 0, n, opt, 0.8, 0.95, 2.0, 0.0, tcol, text, bcol, bpat, bscale,
             bwidth, lcol, lsty, lwidth, NULL, NULL, NULL, NULL);
}

/* A marker of r pixels' radius at (x, y) in world coordinates, filled or as an outline (shapes,
 * not PLplot's symbol glyphs, which its SVG driver writes as text). */
static void marker(double x, double y, double r, int filled)
{
    PLFLT vx0, vx1, vy0, vy1, wx0, wx1, wy0, wy1;
    plgvpd(&vx0, &vx1, &vy0, &vy1);
    plgvpw(&wx0, &wx1, &wy0, &wy1);
    double rx = r * (wx1 - wx0) / ((vx1 - vx0) * fig_px_w);
    double ry = r * (wy1 - wy0) / ((vy1 - vy0) * fig_px_h);
    PLFLT px[13], py[13];
    for (int k = 0; k <= 12; k++) {
        double a = k * (3.14159265358979 / 6);
        px[k] = x + rx * cos(a);
        py[k] = y + ry * sin(a);
    }
    if (filled)
        plfill(12, px, py);
    else
        plline(13, px, py);
}

static double finite_or(double v, double d)
{
    return isfinite(v) ? v : d;
}

/* Draws one figure: fn(ctx) between the stream's start and end, under the lock, with PLplot's
 * fatal errors turned into a status. fn's locals are abandoned if PLplot jumps out. */
static mz_status guarded(rp_buf *b, const char *id, const rp_axes *ax, void (*fn)(void *),
                         void *ctx, mz_error *err)
{
    static fig fg; /* under the lock; static so that nothing live is clobbered by longjmp */
    pthread_mutex_lock(&plot_lock);
    if (setjmp(plot_jump)) {
        free(fg.mem);
        memset(&fg, 0, sizeof fg);
        pthread_mutex_unlock(&plot_lock);
        return mz_fail(err, MZ_EUNSUPPORTED, "plot %s: PLplot failed: %s", id, plot_fatal);
    }
    if (fig_begin(&fg, ax->width, ax->height, err) != MZ_OK) {
        pthread_mutex_unlock(&plot_lock);
        return mz_fail(err, MZ_ENOMEM, "plot %s: out of memory", id);
    }
    fn(ctx);
    mz_status st = fig_end(&fg, b, id, ax->title, err);
    pthread_mutex_unlock(&plot_lock);
    return st;
}

/* Fills the band between lo and hi over the runs of x where both are finite. */
static void band(int n, const double *x, const double *lo, const double *hi, int colour)
{
    PLFLT *px = malloc(sizeof(PLFLT) * 2 * (size_t)n), *py = malloc(sizeof(PLFLT) * 2 * (size_t)n);
    if (!px || !py) {
        free(px), free(py);
        return;
    }
    plcol0(colour);
    for (int i = 0; i < n;) {
        while (i < n && !(isfinite(lo[i]) && isfinite(hi[i])))
            i++;
        int j = i;
        while (j < n && isfinite(lo[j]) && isfinite(hi[j]))
            j++;
        int m = 0;
        for (int k = i; k < j; k++)
            px[m] = x[k], py[m++] = lo[k];
        for (int k = j - 1; k >= i; k--)
            px[m] = x[k], py[m++] = hi[k];
        if (j - i >= 2)
            plfill(m, px, py);
        i = j;
    }
    free(px), free(py);
}

static void polyline(int n, const double *x, const double *y)
{
    for (int i = 0; i < n;) {
        while (i < n && !isfinite(y[i]))
            i++;
        int j = i;
        while (j < n && isfinite(y[j]))
            j++;
        if (j - i >= 2)
            plline(j - i, (PLFLT *)x + i, (PLFLT *)y + i);
        else if (j - i == 1)
            marker(x[i], y[i], 2.5, 1);
        i = j;
    }
}

typedef struct lines_args {
    const rp_axes *ax;
    const rp_series *s;
    int ns;
} lines_args;

static void draw_lines(void *ctx)
{
    const lines_args *a = ctx;
    const rp_axes *ax = a->ax;
    const rp_series *s = a->s;
    int ns = a->ns;
    int with_legend = ns > 1 || (ns == 1 && s[0].label && *s[0].label);
    frame(ax, with_legend, 0, 0);
    for (int k = 0; k < ns; k++) {
        int c = s[k].colour < 0 ? RP_N_COLOURS - 1 : s[k].colour % RP_N_COLOURS;
        if (s[k].lo2 && s[k].hi2)
            band(s[k].n, s[k].x, s[k].lo2, s[k].hi2, C_BAND2 + c);
        if (s[k].lo && s[k].hi)
            band(s[k].n, s[k].x, s[k].lo, s[k].hi, C_BAND + c);
    }
    for (int k = 0; k < ns; k++) {
        int c = s[k].colour < 0 ? RP_N_COLOURS - 1 : s[k].colour % RP_N_COLOURS;
        plcol0(C_PAL + c);
        plwidth(2.5);
        pllsty(s[k].dashed ? 2 : 1);
        polyline(s[k].n, s[k].x, s[k].y);
    }
    pllsty(1);
    plwidth(1);
    if (with_legend) {
        const char *labels[16];
        int colours[16];
        int n = ns < 16 ? ns : 16;
        for (int k = 0; k < n; k++) {
            labels[k] = s[k].label;
            colours[k] = s[k].colour < 0 ? RP_N_COLOURS - 1 : s[k].colour % RP_N_COLOURS;
        }
        legend(n, labels, colours, 1, s[0].lo != NULL);
    }
}

mz_status rp_plot_lines(rp_buf *b, const char *id, const rp_axes *ax, const rp_series *s, int ns,
                        mz_error *err)
{
    lines_args a = {ax, s, ns};
    return guarded(b, id, ax, draw_lines, &a, err);
}

/* Category labels under the x axis at x = 0..n-1 (vertical when long). */
static void category_labels(const rp_axes *ax, const char *const *labels, int n, int vertical)
{
    double span = ax->xmax - ax->xmin;
    plcol0(C_FG);
    for (int i = 0; i < n; i++) {
        char lab[40], tmp[40];
        snprintf(tmp, sizeof tmp, "%.14s%s", labels[i] ? labels[i] : "",
                 labels[i] && strlen(labels[i]) > 14 ? "..." : "");
        rp_plot_label(lab, sizeof lab, tmp);
        double pos = ((double)i - ax->xmin) / span;
        if (vertical)
            plmtex("bv", 0.7, pos, 1.0, lab);
        else
            plmtex("b", 1.4, pos, 0.5, lab);
    }
}

static int labels_vertical(const char *const *labels, int n)
{
    size_t total = 0;
    for (int i = 0; i < n; i++)
        total += strlen(labels[i] ? labels[i] : "") + 2;
    return total > 48 || n > 8;
}

typedef struct boxes_args {
    const rp_axes *ax;
    const rp_box *boxes;
    const char *const *labels;
    const int *colours;
    int n;
} boxes_args;

static void draw_boxes(void *ctx)
{
    const boxes_args *a = ctx;
    const rp_axes *ax = a->ax;
    const rp_box *boxes = a->boxes;
    const char *const *labels = a->labels;
    const int *colours = a->colours;
    int n = a->n;
    int vertical = labels_vertical(labels, n);
    frame(ax, 0, 1, vertical);
    category_labels(ax, labels, n, vertical);
    for (int i = 0; i < n; i++) {
        const rp_box *bx = &boxes[i];
        if (bx->n == 0)
            continue;
        int c = colours ? colours[i] % RP_N_COLOURS : 0;
        double x0 = i - 0.3, x1 = i + 0.3;
        PLFLT bxs[5] = {x0, x1, x1, x0, x0}, bys[5] = {bx->q1, bx->q1, bx->q3, bx->q3, bx->q1};
        plcol0(C_BAND + c);
        plfill(4, bxs, bys);
        plcol0(C_PAL + c);
        plwidth(1.5);
        plline(5, bxs, bys);
        PLFLT mx[2] = {x0, x1}, my[2] = {bx->med, bx->med};
        plwidth(3);
        plline(2, mx, my);
        plwidth(1.5);
        PLFLT wx[2] = {i, i}, wy[2] = {bx->q3, bx->hi}, wy2[2] = {bx->q1, bx->lo};
        plline(2, wx, wy);
        plline(2, wx, wy2);
        PLFLT cx[2] = {i - 0.12, i + 0.12}, cy[2] = {bx->hi, bx->hi}, cy2[2] = {bx->lo, bx->lo};
        plline(2, cx, cy);
        plline(2, cx, cy2);
        /* the extremes beyond the whiskers, as the outliers' range */
        if (bx->min < bx->lo)
            marker(i, bx->min, 3.5, 0);
        if (bx->max > bx->hi)
            marker(i, bx->max, 3.5, 0);
        plwidth(1);
    }
}

mz_status rp_plot_boxes(rp_buf *b, const char *id, const rp_axes *ax0, const rp_box *boxes,
                        const char *const *labels, const int *colours, int n, mz_error *err)
{
    rp_axes ax = *ax0;
    ax.xmin = -0.6;
    ax.xmax = n - 0.4;
    boxes_args a = {&ax, boxes, labels, colours, n};
    return guarded(b, id, &ax, draw_boxes, &a, err);
}

typedef struct scatter_args {
    const rp_axes *ax;
    const rp_scatter *sc;
} scatter_args;

static void draw_scatter(void *ctx)
{
    const scatter_args *a = ctx;
    const rp_axes *ax = a->ax;
    const rp_scatter *sc = a->sc;
    int with_legend = sc->cat && sc->n_cat > 0;
    int with_bar = sc->c != NULL;
    double cmin = INFINITY, cmax = -INFINITY;
    for (int64_t i = 0; with_bar && i < sc->n; i++)
        if (isfinite(sc->c[i])) {
            cmin = sc->c[i] < cmin ? sc->c[i] : cmin;
            cmax = sc->c[i] > cmax ? sc->c[i] : cmax;
        }
    if (!(cmax > cmin)) {
        cmin = finite_or(cmin, 0);
        cmax = cmin + 1;
    }
    frame(ax, with_legend || with_bar, 0, 0);
    for (int64_t i = 0; i < sc->n; i++) {
        if (!isfinite(sc->x[i]) || !isfinite(sc->y[i]))
            continue;
        int rgb[3] = {80, 80, 80};
        if (sc->cat) {
            int k = sc->cat[i];
            if (k >= 0 && sc->cat_unordered) {
                const unsigned char *p = rp_palette[k % RP_N_COLOURS];
                rgb[0] = p[0], rgb[1] = p[1], rgb[2] = p[2];
            } else if (k >= 0) {
                viridis_rgb(sc->n_cat > 1 ? (double)k / (sc->n_cat - 1) * 0.95 : 0.3, rgb);
            }
        } else if (sc->c && isfinite(sc->c[i])) {
            viridis_rgb((sc->c[i] - cmin) / (cmax - cmin), rgb);
        }
        plscol0a(C_FREE, rgb[0], rgb[1], rgb[2], 0.75);
        plcol0(C_FREE);
        marker(sc->x[i], sc->y[i], 2.5, 1);
    }
    for (int l = 0; l < sc->n_lines; l++) {
        int len = sc->line_len[l];
        const double *xy = sc->line_xy[l];
        if (len < 1)
            continue;
        PLFLT *px = malloc(sizeof(PLFLT) * (size_t)len), *py = malloc(sizeof(PLFLT) * (size_t)len);
        if (!px || !py) {
            free(px), free(py);
            continue;
        }
        for (int k = 0; k < len; k++)
            px[k] = xy[2 * k], py[k] = xy[2 * k + 1];
        plcol0(C_PAL + l % (RP_N_COLOURS - 1));
        plwidth(2);
        plline(len, px, py);
        marker(px[0], py[0], 4, 0);             /* start: a circle */
        marker(px[len - 1], py[len - 1], 3, 1); /* end: a dot */
        plwidth(1);
        free(px), free(py);
    }
    if (with_legend) {
        /* ordered categories in viridis */
        int n = sc->n_cat < 16 ? sc->n_cat : 16;
        PLINT opt[16], tcol[16], bcol[16], bpat[16];
        PLFLT bscale[16], bwidth[16];
        char lab[16][40];
        const char *text[16];
        for (int k = 0; k < n; k++) {
            int rgb[3];
            if (sc->cat_unordered) {
                const unsigned char *p = rp_palette[k % RP_N_COLOURS];
                rgb[0] = p[0], rgb[1] = p[1], rgb[2] = p[2];
            } else {
                viridis_rgb(sc->n_cat > 1 ? (double)k / (sc->n_cat - 1) * 0.95 : 0.3, rgb);
            }
            plscol0a(C_FREE - 16 + k, rgb[0], rgb[1], rgb[2], 1.0);
            opt[k] = PL_LEGEND_COLOR_BOX;
            tcol[k] = C_FG;
            bcol[k] = C_FREE - 16 + k;
            bpat[k] = 0;
            bscale[k] = 0.8;
            bwidth[k] = 1;
            rp_plot_label(lab[k], sizeof lab[k], sc->cat_labels[k]);
            text[k] = lab[k];
        }
        PLFLT w, h;
        plscol0a(C_FREE, 255, 255, 255, 1.0);
        pllegend(&w, &h, PL_LEGEND_BACKGROUND, PL_POSITION_RIGHT | PL_POSITION_OUTSIDE, 0.03, 0.0,
                 0.06, C_FREE, C_FG, 1, 0, 0, n, opt, 0.8, 0.95, 2.0, 0.0, tcol, text, bcol, bpat,
                 bscale, bwidth, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
    }
    if (with_bar) {
        PLFLT w, h;
        PLINT label_opts[1] = {PL_COLORBAR_LABEL_TOP};
        char lab[64];
        rp_plot_label(lab, sizeof lab, sc->clabel);
        const char *labels[1] = {lab};
        const char *axis_opts[1] = {"bcvtm"};
        PLFLT ticks[1] = {0};
        PLINT sub_ticks[1] = {0};
        PLINT n_values[1] = {2};
        PLFLT vals[2] = {cmin, cmax};
        const PLFLT *values[1] = {vals};
        plcol0(C_FG);
        plcolorbar(&w, &h, PL_COLORBAR_GRADIENT, PL_POSITION_RIGHT | PL_POSITION_OUTSIDE, 0.04, 0.0,
                   0.04, 0.6, C_BG, C_FG, 1, 0, 0, C_FG, 1, 1, label_opts, labels, 1, axis_opts,
                   ticks, sub_ticks, n_values, values);
    }
}

mz_status rp_plot_scatter(rp_buf *b, const char *id, const rp_axes *ax, const rp_scatter *sc,
                          mz_error *err)
{
    scatter_args a = {ax, sc};
    return guarded(b, id, ax, draw_scatter, &a, err);
}

typedef struct hist_args {
    const rp_axes *ax;
    const double *cnt;
    const char *const *labels;
    int ns, bins;
} hist_args;

static void draw_hist(void *ctx)
{
    const hist_args *a = ctx;
    const rp_axes *ax = a->ax;
    const double *cnt = a->cnt;
    int ns = a->ns, bins = a->bins;
    double lo = ax->xmin, hi = ax->xmax;
    frame(ax, ns > 1, 0, 0);
    PLFLT *px = malloc(sizeof(PLFLT) * (2 * (size_t)bins + 2)),
          *py = malloc(sizeof(PLFLT) * (2 * (size_t)bins + 2));
    for (int k = 0; px && py && k < ns; k++) {
        int c = k % RP_N_COLOURS, m = 0;
        double w = (hi - lo) / bins;
        px[m] = lo, py[m++] = 0;
        for (int j = 0; j < bins; j++) {
            px[m] = lo + j * w, py[m++] = cnt[k * bins + j];
            px[m] = lo + (j + 1) * w, py[m++] = cnt[k * bins + j];
        }
        px[m] = hi, py[m++] = 0;
        plcol0(ns > 1 ? C_BAND2 + c : C_BAND + c);
        plfill(m, px, py);
        plcol0(C_PAL + c);
        plwidth(2);
        plline(m, px, py);
        plwidth(1);
    }
    free(px), free(py);
    if (ns > 1) {
        int colours[16];
        for (int k = 0; k < ns && k < 16; k++)
            colours[k] = k % RP_N_COLOURS;
        legend(ns < 16 ? ns : 16, a->labels, colours, 1, 0);
    }
}

mz_status rp_plot_hist(rp_buf *b, const char *id, const rp_axes *ax0, const double *const *v,
                       const int64_t *n, const char *const *labels, int ns, int bins, mz_error *err)
{
    rp_axes axv = *ax0;
    double lo = ax0->xmin, hi = ax0->xmax;
    if (!(hi > lo))
        hi = lo + 1;
    double *cnt = calloc((size_t)ns * (size_t)bins, sizeof *cnt);
    if (!cnt)
        return mz_fail(err, MZ_ENOMEM, "plot %s: out of memory", id);
    double top = 0;
    for (int k = 0; k < ns; k++) {
        for (int64_t i = 0; i < n[k]; i++) {
            if (!isfinite(v[k][i]))
                continue;
            int j = (int)((v[k][i] - lo) / (hi - lo) * bins);
            j = j < 0 ? 0 : j >= bins ? bins - 1 : j;
            cnt[k * bins + j] += 1;
        }
        /* as a fraction of the sample, so groups of different sizes compare */
        for (int j = 0; j < bins; j++) {
            cnt[k * bins + j] /= n[k] > 0 ? (double)n[k] : 1;
            top = cnt[k * bins + j] > top ? cnt[k * bins + j] : top;
        }
    }
    axv.xmin = lo;
    axv.xmax = hi;
    axv.ymin = 0;
    axv.ymax = top > 0 ? top * 1.08 : 1;
    hist_args a = {&axv, cnt, labels, ns, bins};
    mz_status st = guarded(b, id, &axv, draw_hist, &a, err);
    free(cnt);
    return st;
}

typedef struct bars_args {
    const rp_axes *ax;
    const double *value;
    const char *const *group_labels, *const *bar_labels;
    int n_groups, n_bars;
} bars_args;

static void draw_bars(void *ctx)
{
    const bars_args *a = ctx;
    const rp_axes *ax = a->ax;
    const double *value = a->value;
    const char *const *group_labels = a->group_labels, *const *bar_labels = a->bar_labels;
    int n_groups = a->n_groups, n_bars = a->n_bars;
    int vertical = labels_vertical(group_labels, n_groups);
    frame(ax, n_bars > 1, 1, vertical);
    category_labels(ax, group_labels, n_groups, vertical);
    double w = 0.8 / n_bars;
    for (int g = 0; g < n_groups; g++)
        for (int k = 0; k < n_bars; k++) {
            double x0 = g - 0.4 + k * w, x1 = x0 + w * 0.9, y = value[g * n_bars + k];
            if (!(y > 0))
                continue;
            PLFLT bx[4] = {x0, x1, x1, x0}, by[4] = {0, 0, y, y};
            plcol0(C_PAL + k % RP_N_COLOURS);
            plfill(4, bx, by);
        }
    if (n_bars > 1) {
        int colours[16];
        for (int k = 0; k < n_bars && k < 16; k++)
            colours[k] = k % RP_N_COLOURS;
        legend(n_bars < 16 ? n_bars : 16, bar_labels, colours, 0, 1);
    }
}

mz_status rp_plot_bars(rp_buf *b, const char *id, const rp_axes *ax0, const double *value,
                       const char *const *group_labels, int n_groups, const char *const *bar_labels,
                       int n_bars, mz_error *err)
{
    rp_axes ax = *ax0;
    ax.xmin = -0.6;
    ax.xmax = n_groups - 0.4;
    double top = 0;
    for (int i = 0; i < n_groups * n_bars; i++)
        top = value[i] > top ? value[i] : top;
    ax.ymin = 0;
    ax.ymax = top > 0 ? top * 1.12 : 1;
    bars_args a = {&ax, value, group_labels, bar_labels, n_groups, n_bars};
    return guarded(b, id, &ax, draw_bars, &a, err);
}
