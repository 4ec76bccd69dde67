/* mz_report_write: reads every zoo, computes what the plots show, and lays out the page: a
 * header, then sections whose figures stand side by side when there are several zoos (one column
 * per zoo, rows of the same figure), and the numbers behind the plots as a JSON block. */
#define _POSIX_C_SOURCE 200809L /* fileno, fsync */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "mzoo/formats.h"
#include "report/report-impl.h"
#include "core/banned.h"

#define PAGE_LIMIT ((size_t)512 << 20)
#define MAX_FIGS 256

void mz_report_options_default(mz_report_options *o)
{
    memset(o, 0, sizeof *o);
    o->max_points = 2000;
    o->max_dist_models = 200;
    o->max_pred_models = 16;
    o->pred_images = 500;
    o->max_trajectories = 12;
    o->seed = 1;
}

/* ---- figures, collected per section and laid out at its end ---- */
typedef struct figure {
    char key[64];
    int zoo;
    rp_buf html;
} figure;

typedef struct page {
    const mz_report_options *o;
    rp_zoo *zoos;
    int nz;
    rp_buf out;
    figure figs[MAX_FIGS];
    int n_figs;
    int n_plots;
    int fig_w, fig_h, small_w, small_h;
    json_t *data; /* the JSON data block: one object per zoo under "zoos" */
    mz_error *err;
} page;

static void progress(page *p, const char *what)
{
    if (p->o->progress)
        p->o->progress(p->o->progress_ctx, what);
}

static rp_buf *fig_new(page *p, int zoo, const char *key)
{
    if (p->n_figs == MAX_FIGS)
        return NULL;
    figure *f = &p->figs[p->n_figs++];
    snprintf(f->key, sizeof f->key, "%s", key);
    f->zoo = zoo;
    rp_buf_init(&f->html, PAGE_LIMIT);
    return &f->html;
}

/* Opens a figure, draws it with the plot call in `draw`, adds the caption. */
#define FIGURE(p, z, key, caption_html, draw)                                                      \
    do {                                                                                           \
        rp_buf *fb_ = fig_new(p, z, key);                                                          \
        if (!fb_)                                                                                  \
            break;                                                                                 \
        rp_buf_printf(fb_, "<figure class=\"fig\" data-zoo=\"%d\">", z);                           \
        char id_[96];                                                                              \
        snprintf(id_, sizeof id_, "z%d-%s", z, key);                                               \
        mz_status ps_ = draw;                                                                      \
        if (ps_ != MZ_OK)                                                                          \
            return ps_;                                                                            \
        p->n_plots++;                                                                              \
        rp_buf_puts(fb_, "<figcaption>");                                                          \
        rp_buf_puts(fb_, caption_html);                                                            \
        rp_buf_puts(fb_, "</figcaption></figure>\n");                                              \
    } while (0)

static void note_fig(page *p, int z, const char *key, const char *text)
{
    rp_buf *b = fig_new(p, z, key);
    if (!b)
        return;
    rp_buf_puts(b, "<figure class=\"fig note\"><p>");
    rp_buf_html(b, text);
    rp_buf_puts(b, "</p></figure>\n");
}

/* Lays out the collected figures: one grid with one zoo; with several, one row per figure key
 * with a cell per zoo. */
static void flush_figs(page *p)
{
    if (p->nz == 1) {
        rp_buf_puts(&p->out, "<div class=\"grid\">\n");
        for (int i = 0; i < p->n_figs; i++)
            rp_buf_add(&p->out, p->figs[i].html.s ? p->figs[i].html.s : "", p->figs[i].html.n);
        rp_buf_puts(&p->out, "</div>\n");
    } else {
        for (int i = 0; i < p->n_figs; i++) {
            int first = 1;
            for (int j = 0; j < i && first; j++)
                first = strcmp(p->figs[j].key, p->figs[i].key) != 0;
            if (!first)
                continue;
            rp_buf_printf(&p->out,
                          "<div class=\"row\" style=\"grid-template-columns: repeat(%d, "
                          "%dpx)\">\n",
                          p->nz, p->fig_w + 16);
            for (int z = 0; z < p->nz; z++) {
                int found = -1;
                for (int j = i; j < p->n_figs && found < 0; j++)
                    if (p->figs[j].zoo == z && !strcmp(p->figs[j].key, p->figs[i].key))
                        found = j;
                if (found >= 0)
                    rp_buf_add(&p->out, p->figs[found].html.s ? p->figs[found].html.s : "",
                               p->figs[found].html.n);
                else
                    rp_buf_puts(&p->out, "<figure class=\"fig note\"><p>(not in this "
                                         "zoo)</p></figure>\n");
            }
            rp_buf_puts(&p->out, "</div>\n");
        }
    }
    for (int i = 0; i < p->n_figs; i++) {
        if (p->figs[i].html.failed)
            p->out.failed = 1;
        rp_buf_release(&p->figs[i].html);
    }
    p->n_figs = 0;
}

static void section(page *p, const char *id, const char *title, const char *intro_html)
{
    rp_buf_printf(&p->out, "<section id=\"%s\"><h2>", id);
    rp_buf_html(&p->out, title);
    rp_buf_puts(&p->out, "</h2>\n<p class=\"intro\">");
    rp_buf_puts(&p->out, intro_html);
    rp_buf_puts(&p->out, "</p>\n");
}

static void section_end(page *p)
{
    flush_figs(p);
    rp_buf_puts(&p->out, "</section>\n");
}

/* ---- JSON helpers ---- */
static json_t *jnum(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *jarr_d(const double *v, int64_t n)
{
    json_t *a = json_array();
    for (int64_t i = 0; i < n; i++)
        json_array_append_new(a, jnum(v[i]));
    return a;
}

static json_t *jarr_i64(const int64_t *v, int64_t n)
{
    json_t *a = json_array();
    for (int64_t i = 0; i < n; i++)
        json_array_append_new(a, json_integer(v[i]));
    return a;
}

/* ---- per-epoch quantiles ---- */

static const double QS[5] = {0.05, 0.25, 0.5, 0.75, 0.95};

/* Value of metric (or the gap, metric = -1) of model i at epoch index t. */
static double value_at(const rp_zoo *z, int64_t i, int t, int metric)
{
    if (!z->kept[(size_t)i * (size_t)z->n_epochs + (size_t)t])
        return NAN;
    if (metric >= 0)
        return rp_metric(z, i, t, metric);
    return (double)rp_metric(z, i, t, RP_TRAIN_ACC) - rp_metric(z, i, t, RP_TEST_ACC);
}

/* q[t][5] for the models of group g of hp h (h < 0: all), NaN where an epoch has none. */
static void epoch_quantiles(const rp_zoo *z, int metric, int h, int g, double *scratch, double *q,
                            int64_t *count)
{
    for (int t = 0; t < z->n_epochs; t++) {
        int64_t m = 0;
        for (int64_t i = 0; i < z->n_models; i++) {
            if (h >= 0 && z->hp[h].of_model[i] != g)
                continue;
            double v = value_at(z, i, t, metric);
            if (isfinite(v))
                scratch[m++] = v;
        }
        if (count)
            count[t] = m;
        if (m)
            rp_quantiles(scratch, m, QS, 5, q + 5 * t);
        else
            for (int k = 0; k < 5; k++)
                q[5 * t + k] = NAN;
    }
}

static const char *metric_title(int metric)
{
    switch (metric) {
    case RP_TEST_ACC:
        return "test accuracy";
    case RP_VAL_ACC:
        return "validation accuracy";
    case RP_TRAIN_ACC:
        return "training accuracy";
    case RP_TEST_LOSS:
        return "test loss";
    case RP_VAL_LOSS:
        return "validation loss";
    case RP_TRAIN_LOSS:
        return "training loss";
    case RP_SPARSITY:
        return "sparsity";
    default:
        return "generalisation gap (train - test accuracy)";
    }
}

static const char *metric_key(int metric)
{
    return metric >= 0 ? rp_metric_names[metric] : "ggap";
}

/* The y range of a metric over every zoo: [0, 1] for accuracies and sparsity, else from 0 (or the
 * 1st percentile when negative) to the 99th percentile of every kept value, with a margin. */
static void metric_range(page *p, int metric, double *lo, double *hi)
{
    if (metric == RP_TEST_ACC || metric == RP_VAL_ACC || metric == RP_TRAIN_ACC ||
        metric == RP_SPARSITY) {
        *lo = 0, *hi = 1;
        return;
    }
    double l = 0, h = 0;
    for (int zi = 0; zi < p->nz; zi++) {
        const rp_zoo *z = &p->zoos[zi];
        size_t cells = (size_t)z->n_models * (size_t)z->n_epochs, m = 0;
        double *v = malloc(sizeof(double) * (cells ? cells : 1));
        if (!v)
            continue;
        for (int64_t i = 0; i < z->n_models; i++)
            for (int t = 0; t < z->n_epochs; t++) {
                double x = value_at(z, i, t, metric);
                if (isfinite(x))
                    v[m++] = x;
            }
        if (m) {
            double q[2], qq[2] = {0.01, 0.99};
            rp_quantiles(v, (int64_t)m, qq, 2, q);
            l = q[0] < l ? q[0] : l;
            h = q[1] > h ? q[1] : h;
        }
        free(v);
    }
    double span = h - l > 0 ? h - l : 1;
    *lo = l < 0 ? l - 0.05 * span : 0;
    *hi = h + 0.08 * span;
}

/* ---- sections ---- */

static void fmt_count(char *buf, size_t cap, int64_t v)
{
    char raw[32];
    snprintf(raw, sizeof raw, "%lld", (long long)v);
    size_t L = strlen(raw), o = 0;
    for (size_t i = 0; i < L && o + 2 < cap; i++) {
        if (i && (L - i) % 3 == 0 && raw[i - 1] != '-')
            buf[o++] = ',';
        buf[o++] = raw[i];
    }
    buf[o] = 0;
}

static void header(page *p)
{
    rp_buf *b = &p->out;
    rp_buf_puts(b, "<header><h1>mzoo report</h1>\n<p class=\"cmd\">Made by <code>");
    rp_buf_html(b, p->o->command ? p->o->command : "mz_report_write");
    rp_buf_printf(b, "</code> (mzoo %s).", MZ_VERSION_STRING);
    if (p->o->where && *p->o->where) {
        rp_buf_puts(b, " Rows selected with <code>--where ");
        rp_buf_html(b, p->o->where);
        rp_buf_puts(b, "</code>.");
    }
    rp_buf_puts(b, "</p>\n<div class=\"zoos\">\n");
    for (int zi = 0; zi < p->nz; zi++) {
        const rp_zoo *z = &p->zoos[zi];
        char n1[32], n2[32], n3[32];
        rp_buf_printf(b, "<div class=\"zoo\" data-zoo=\"%d\"><h3>", zi);
        rp_buf_html(b, z->name);
        rp_buf_puts(b, "</h3><table>\n");
        int imported = !strcmp(z->kind, "imported"), steps = !strcmp(z->unit, "step");
        const char *rows[][2] = {
            {"file", z->path},
            {"kind", z->kind},
            {"dataset", z->dataset},
            {"architecture", z->architecture},
            {steps      ? "last step"
             : imported ? "last epoch"
                        : "epochs (recipe)",
             z->epochs_meta},
            {"epoch numbers", steps ? "training steps: each checkpoint's step, as the source "
                                      "records it (models of different train sizes have "
                                      "different steps)"
                                    : ""},
            {"twin method", z->is_twin ? z->method : ""},
            {"made by", z->generator},
            {"created", z->created_at}};
        for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
            if (!rows[r][1] || !rows[r][1][0])
                continue;
            rp_buf_printf(b, "<tr><th>%s</th><td>", rows[r][0]);
            rp_buf_html(b, rows[r][1]);
            rp_buf_puts(b, "</td></tr>\n");
        }
        fmt_count(n1, sizeof n1, z->n_models);
        rp_buf_printf(b, "<tr><th>models</th><td>%s:", n1);
        for (int s = 0; s < 5; s++)
            if (z->by_status[s]) {
                fmt_count(n2, sizeof n2, z->by_status[s]);
                rp_buf_printf(b, " %s %s", n2, mz_model_status_name((mz_model_status)s));
            }
        fmt_count(n1, sizeof n1, z->n_rows);
        fmt_count(n2, sizeof n2, z->n_kept_rows);
        fmt_count(n3, sizeof n3, z->n_kept_models);
        rp_buf_printf(b, "</td></tr>\n<tr><th>%s rows</th><td>%s (%s selected, of %s models)",
                      z->unit, n1, n2, n3);
        if (z->n_epochs)
            rp_buf_printf(b, "; %ss %d to %d", z->unit, z->epoch_value[0],
                          z->epoch_value[z->n_epochs - 1]);
        rp_buf_puts(b, "</td></tr>\n<tr><th>hyperparameters</th><td>");
        int any = 0;
        for (int h = 0; h < z->n_hp; h++) {
            if (z->hp[h].n_values < 2)
                continue;
            rp_buf_printf(b, "%s", any ? "; " : "");
            rp_buf_html(b, z->hp[h].name);
            rp_buf_printf(b, " (%d values)", z->hp[h].n_values);
            any = 1;
        }
        rp_buf_puts(b, any ? "" : "none varies");
        rp_buf_puts(b, "</td></tr>\n<tr><th>bands by</th><td>");
        if (z->by >= 0) {
            rp_buf_html(b, z->hp[z->by].name);
            rp_buf_puts(b, ": ");
            rp_buf_html(b, z->by_why);
        } else {
            rp_buf_puts(b, "(no hyperparameter varies: one band for the population)");
        }
        rp_buf_puts(b, "</td></tr>\n</table>\n");
        if (z->recipe) {
            rp_buf_puts(b, "<details><summary>recipe</summary><pre class=\"recipe\">");
            rp_buf_html(b, z->recipe);
            rp_buf_puts(b, "</pre></details>\n");
        }
        rp_buf_puts(b, "</div>\n");
    }
    rp_buf_puts(b, "</div>\n<nav>Sections: <a href=\"#curves\">training curves</a> · <a "
                   "href=\"#final\">final accuracy</a> · <a href=\"#gap\">generalisation gap</a> "
                   "· <a href=\"#health\">divergence</a> · <a href=\"#weights\">weight space</a> "
                   "· <a href=\"#diversity\">diversity</a>");
    int twins = 0;
    for (int zi = 0; zi < p->nz; zi++)
        twins |= p->zoos[zi].is_twin;
    if (twins)
        rp_buf_puts(b, " · <a href=\"#twins\">twins</a>");
    rp_buf_puts(b, "</nav></header>\n");
}

/* One figure of a metric against epoch, a median line and an IQR band per value of the chosen
 * hyperparameter (or the population's fan when none varies or it has too many values). */
static mz_status curves_figure(page *p, int zi, int metric, json_t *jz)
{
    rp_zoo *z = &p->zoos[zi];
    int h = z->by;
    int ng = h >= 0 && z->hp[h].n_values <= RP_N_COLOURS - 1 ? z->hp[h].n_values : 0;
    size_t cells = (size_t)z->n_models + 1;
    double *scratch = malloc(sizeof(double) * cells);
    double *x = malloc(sizeof(double) * (size_t)(z->n_epochs + 1));
    int groups = ng ? ng : 1;
    double *q = malloc(sizeof(double) * 5 * (size_t)(z->n_epochs + 1) * (size_t)(groups + 1));
    double *cols = malloc(sizeof(double) * 5 * (size_t)(z->n_epochs + 1) * (size_t)(groups + 1));
    int64_t *cnt = malloc(sizeof(int64_t) * (size_t)(z->n_epochs + 1));
    if (!scratch || !x || !q || !cols || !cnt) {
        free(scratch), free(x), free(q), free(cols), free(cnt);
        return mz_fail(p->err, MZ_ENOMEM, "out of memory");
    }
    int E = z->n_epochs;
    for (int t = 0; t < E; t++)
        x[t] = z->epoch_value[t];
    /* population quantiles (group index `groups`) and per group */
    epoch_quantiles(z, metric, -1, 0, scratch, q + 5 * (size_t)E * (size_t)groups, cnt);
    for (int g = 0; g < ng; g++)
        epoch_quantiles(z, metric, h, g, scratch, q + 5 * (size_t)E * (size_t)g, NULL);
    /* columns: for group g, quantile k at epoch t -> cols[((g*5)+k)*E + t] */
    for (int g = 0; g <= groups; g++)
        for (int k = 0; k < 5; k++)
            for (int t = 0; t < E; t++)
                cols[((size_t)g * 5 + k) * E + t] = q[5 * ((size_t)E * g + t) + k];
    json_t *jq = json_object();
    json_t *pop = json_array();
    for (int t = 0; t < E; t++)
        json_array_append_new(pop, jarr_d(q + 5 * ((size_t)E * groups + t), 5));
    json_object_set_new(jq, "all", pop);
    json_object_set_new(jq, "count", jarr_i64(cnt, E));
    if (ng) {
        json_t *bg = json_object();
        for (int g = 0; g < ng; g++) {
            json_t *a = json_array();
            for (int t = 0; t < E; t++)
                json_array_append_new(a, jarr_d(q + 5 * ((size_t)E * g + t), 5));
            json_object_set_new(bg, z->hp[h].values[g], a);
        }
        json_object_set_new(jq, "by_value", bg);
    }
    json_object_set_new(json_object_get(jz, "curves"), metric_key(metric), jq);

    rp_series s[RP_N_COLOURS + 1];
    int ns = 0;
    for (int g = 0; g < ng; g++) {
        rp_series *r = &s[ns++];
        memset(r, 0, sizeof *r);
        r->label = z->hp[h].values[g];
        r->n = E;
        r->x = x;
        r->y = cols + ((size_t)g * 5 + 2) * E;
        r->lo = cols + ((size_t)g * 5 + 1) * E;
        r->hi = cols + ((size_t)g * 5 + 3) * E;
        r->colour = g;
    }
    rp_series *r = &s[ns++];
    memset(r, 0, sizeof *r);
    r->label = ng ? "all (median)" : "median";
    r->n = E;
    r->x = x;
    r->y = cols + ((size_t)groups * 5 + 2) * E;
    r->colour = ng ? -1 : 0;
    r->dashed = ng > 0;
    if (!ng) {
        r->lo = cols + ((size_t)groups * 5 + 1) * E;
        r->hi = cols + ((size_t)groups * 5 + 3) * E;
        r->lo2 = cols + ((size_t)groups * 5 + 0) * E;
        r->hi2 = cols + ((size_t)groups * 5 + 4) * E;
        r->label = "";
    }
    rp_axes ax = {0};
    char title[160], caption[512];
    snprintf(title, sizeof title, "%s%s%s", metric_title(metric), ng ? " by " : "",
             ng ? z->hp[h].name : "");
    ax.title = title;
    ax.xlabel = z->unit;
    ax.ylabel = metric_title(metric);
    if (metric < 0)
        ax.ylabel = "train - test accuracy";
    ax.xmin = E ? x[0] : 0;
    ax.xmax = E ? x[E - 1] : 1;
    metric_range(p, metric, &ax.ymin, &ax.ymax);
    ax.width = p->fig_w;
    ax.height = p->fig_h;
    if (ng)
        snprintf(caption, sizeof caption,
                 "Median (line) and 25-75%% quantile band of the models with each value of "
                 "<b>%s</b>; dashed: the median of all models.",
                 z->hp[h].name);
    else
        snprintf(caption, sizeof caption,
                 "Median (line), 25-75%% (dark band) and 5-95%% (light band) quantiles of all "
                 "models at each %s.",
                 z->unit);
    char key[48];
    snprintf(key, sizeof key, "curve-%s", metric_key(metric));
    FIGURE(p, zi, key, caption, rp_plot_lines(fb_, id_, &ax, s, ns, p->err));
    free(scratch), free(x), free(q), free(cols), free(cnt);
    return MZ_OK;
}

/* The population's fan for test accuracy (always, even when bands by a hyperparameter exist). */
static mz_status population_figure(page *p, int zi)
{
    rp_zoo *z = &p->zoos[zi];
    int E = z->n_epochs;
    double *scratch = malloc(sizeof(double) * ((size_t)z->n_models + 1));
    double *q = malloc(sizeof(double) * 5 * ((size_t)E + 1)),
           *cols = malloc(sizeof(double) * 5 * ((size_t)E + 1)),
           *x = malloc(sizeof(double) * ((size_t)E + 1));
    if (!scratch || !q || !cols || !x) {
        free(scratch), free(q), free(cols), free(x);
        return MZ_ENOMEM;
    }
    epoch_quantiles(z, RP_TEST_ACC, -1, 0, scratch, q, NULL);
    for (int t = 0; t < E; t++) {
        x[t] = z->epoch_value[t];
        for (int k = 0; k < 5; k++)
            cols[k * E + t] = q[5 * t + k];
    }
    rp_series s = {0};
    s.label = "";
    s.n = E;
    s.x = x;
    s.y = cols + 2 * E;
    s.lo = cols + 1 * E;
    s.hi = cols + 3 * E;
    s.lo2 = cols;
    s.hi2 = cols + 4 * E;
    s.colour = 0;
    rp_axes ax = {0};
    ax.title = "test accuracy of the population";
    ax.xlabel = z->unit;
    ax.ylabel = "test accuracy";
    ax.xmin = E ? x[0] : 0;
    ax.xmax = E ? x[E - 1] : 1;
    ax.ymin = 0;
    ax.ymax = 1;
    ax.width = p->fig_w;
    ax.height = p->fig_h;
    char caption[256];
    snprintf(caption, sizeof caption,
             "Median (line), 25-75%% (dark band) and 5-95%% (light band) of all models' test "
             "accuracy at each %s%s.",
             z->unit, strcmp(z->unit, "step") ? "" : " (of the models checkpointed at that step)");
    FIGURE(p, zi, "curve-population", caption, rp_plot_lines(fb_, id_, &ax, &s, 1, p->err));
    free(scratch), free(q), free(cols), free(x);
    return MZ_OK;
}

static mz_status curves_section(page *p)
{
    section(p, "curves", "Accuracy and loss over training",
            "Each model contributes its value at every epoch it has; quantiles use numpy's "
            "default (linear) interpolation. Accuracy is a fraction of the test (validation, "
            "training) images classified correctly; loss is the mean negative log-likelihood "
            "(nats). Training accuracy and loss of epochs after 0 are running averages over the "
            "epoch's batches.");
    static const int metrics[] = {RP_TEST_ACC,  RP_VAL_ACC,  RP_TRAIN_ACC,
                                  RP_TEST_LOSS, RP_VAL_LOSS, RP_TRAIN_LOSS};
    for (int zi = 0; zi < p->nz; zi++) {
        mz_status s = population_figure(p, zi);
        if (s != MZ_OK)
            return s;
    }
    for (size_t k = 0; k < sizeof metrics / sizeof metrics[0]; k++)
        for (int zi = 0; zi < p->nz; zi++) {
            rp_zoo *z = &p->zoos[zi];
            if ((metrics[k] == RP_VAL_ACC || metrics[k] == RP_VAL_LOSS) && !z->has_val)
                continue;
            mz_status s = curves_figure(
                p, zi, metrics[k], json_array_get(json_object_get(p->data, "zoos"), (size_t)zi));
            if (s != MZ_OK)
                return s;
        }
    section_end(p);
    return MZ_OK;
}

static mz_status final_section(page *p)
{
    section(p, "final", "Final test accuracy per hyperparameter value",
            "Box plots of each model's test accuracy at its last selected epoch, one box per "
            "value of each hyperparameter that varies: the box spans the 25-75% quantiles, the "
            "thick line is the median, whiskers reach the furthest model within 1.5 times the "
            "box's height, circles mark the lowest and highest models beyond them. The "
            "divergence table below gives the number of models of each value.");
    for (int zi = 0; zi < p->nz; zi++) {
        rp_zoo *z = &p->zoos[zi];
        json_t *jz = json_array_get(json_object_get(p->data, "zoos"), (size_t)zi);
        json_t *jb = json_object();
        json_object_set_new(jz, "final_test_acc", jb);
        double *v = malloc(sizeof(double) * ((size_t)z->n_models + 1));
        if (!v)
            return MZ_ENOMEM;
        int any = 0;
        for (int h = 0; h < z->n_hp; h++) {
            rp_hp *hp = &z->hp[h];
            if (hp->n_values < 2 || hp->n_values > 16)
                continue;
            rp_box boxes[16];
            int colours[16];
            const char *labels[16];
            json_t *jh = json_object();
            for (int g = 0; g < hp->n_values; g++) {
                int64_t m = 0;
                for (int64_t i = 0; i < z->n_models; i++) {
                    double a = rp_final(z, i, RP_TEST_ACC);
                    if (hp->of_model[i] == g && isfinite(a))
                        v[m++] = a;
                }
                rp_box_stats(v, m, &boxes[g]);
                colours[g] = h == z->by ? g % RP_N_COLOURS : 0;
                labels[g] = hp->values[g];
                json_t *jv = json_object();
                json_object_set_new(jv, "n", json_integer(m));
                json_object_set_new(jv, "q1", jnum(boxes[g].q1));
                json_object_set_new(jv, "median", jnum(boxes[g].med));
                json_object_set_new(jv, "q3", jnum(boxes[g].q3));
                json_object_set_new(jv, "whisker_lo", jnum(boxes[g].lo));
                json_object_set_new(jv, "whisker_hi", jnum(boxes[g].hi));
                json_object_set_new(jv, "mean", jnum(boxes[g].mean));
                json_object_set_new(jh, hp->values[g], jv);
            }
            json_object_set_new(jb, hp->name, jh);
            rp_axes ax = {0};
            char title[96], key[64], xl[96];
            snprintf(title, sizeof title, "final test accuracy by %s", hp->name);
            snprintf(xl, sizeof xl, "%s", hp->name);
            snprintf(key, sizeof key, "box-%s", hp->name);
            for (char *c = key; *c; c++)
                if (*c == ' ')
                    *c = '_';
            ax.title = title;
            ax.xlabel = xl;
            ax.ylabel = "test accuracy";
            ax.ymin = 0;
            ax.ymax = 1.05;
            ax.width = p->small_w;
            ax.height = p->fig_h;
            FIGURE(p, zi, key, "",
                   rp_plot_boxes(fb_, id_, &ax, boxes, labels, colours, hp->n_values, p->err));
            any = 1;
        }
        /* the whole population as one box */
        int64_t m = 0;
        for (int64_t i = 0; i < z->n_models; i++) {
            double a = rp_final(z, i, RP_TEST_ACC);
            if (isfinite(a))
                v[m++] = a;
        }
        rp_box all;
        rp_box_stats(v, m, &all);
        json_t *ja = json_object();
        json_object_set_new(ja, "n", json_integer(m));
        json_object_set_new(ja, "q1", jnum(all.q1));
        json_object_set_new(ja, "median", jnum(all.med));
        json_object_set_new(ja, "q3", jnum(all.q3));
        json_object_set_new(jz, "final_test_acc_all", ja);
        free(v);
        if (!any)
            note_fig(p, zi, "box-none",
                     "No hyperparameter varies in this zoo's selected models: see the population "
                     "figures above.");
    }
    section_end(p);
    return MZ_OK;
}

static mz_status gap_section(page *p)
{
    section(p, "gap", "Generalisation gap",
            "The gap is training accuracy minus test accuracy of the same model and epoch "
            "(positive: the model does better on its training images). Left: its median and "
            "25-75% band over training; right: its distribution at each model's last selected "
            "epoch, per value of the banding hyperparameter, as a fraction of each group's "
            "models.");
    for (int zi = 0; zi < p->nz; zi++) {
        mz_status s =
            curves_figure(p, zi, -1, json_array_get(json_object_get(p->data, "zoos"), (size_t)zi));
        if (s != MZ_OK)
            return s;
    }
    for (int zi = 0; zi < p->nz; zi++) {
        rp_zoo *z = &p->zoos[zi];
        int h = z->by, ng = h >= 0 && z->hp[h].n_values <= RP_N_COLOURS ? z->hp[h].n_values : 1;
        double *v = malloc(sizeof(double) * ((size_t)z->n_models + 1) * (size_t)ng);
        if (!v)
            return MZ_ENOMEM;
        const double *vs[RP_N_COLOURS];
        int64_t n[RP_N_COLOURS] = {0};
        const char *labels[RP_N_COLOURS];
        double lo = INFINITY, hi = -INFINITY;
        for (int g = 0; g < ng; g++) {
            vs[g] = v + (size_t)g * ((size_t)z->n_models + 1);
            labels[g] = ng > 1 ? z->hp[h].values[g] : "all";
        }
        for (int64_t i = 0; i < z->n_models; i++) {
            double gap = rp_final(z, i, RP_TRAIN_ACC) - rp_final(z, i, RP_TEST_ACC);
            int g = ng > 1 ? z->hp[h].of_model[i] : 0;
            if (!isfinite(gap) || g < 0)
                continue;
            ((double *)vs[g])[n[g]++] = gap;
            lo = gap < lo ? gap : lo;
            hi = gap > hi ? gap : hi;
        }
        if (!(hi >= lo)) {
            free(v);
            note_fig(p, zi, "gap-hist", "No model has both a training and a test accuracy.");
            continue;
        }
        if (hi - lo < 1e-3)
            lo -= 0.01, hi += 0.01;
        rp_axes ax = {0};
        ax.title = "gap at the last epoch";
        ax.xlabel = "train - test accuracy";
        ax.ylabel = "fraction of models";
        ax.xmin = lo;
        ax.xmax = hi;
        ax.width = p->fig_w;
        ax.height = p->fig_h;
        FIGURE(p, zi, "gap-hist", "", rp_plot_hist(fb_, id_, &ax, vs, n, labels, ng, 30, p->err));
        free(v);
    }
    section_end(p);
    return MZ_OK;
}

/* Diverged, failed and chance-level models per value of each hyperparameter. */
static mz_status health_section(page *p)
{
    char intro[600];
    snprintf(intro, sizeof intro,
             "A model <b>diverged</b> when its loss or weights became NaN or infinite (its last "
             "finite epochs are kept); <b>failed</b> models stopped on an error; a model is at "
             "<b>chance level</b> when its final test accuracy is below 1.5 / (number of "
             "classes), e.g. 0.15 for ten classes, and it neither diverged nor failed. The bars "
             "count models per value of the banding hyperparameter; the table has every "
             "hyperparameter that varies.");
    section(p, "health", "Divergence and chance-level models", intro);
    for (int zi = 0; zi < p->nz; zi++) {
        rp_zoo *z = &p->zoos[zi];
        json_t *jz = json_array_get(json_object_get(p->data, "zoos"), (size_t)zi);
        json_t *jh = json_object();
        json_object_set_new(jz, "health", jh);
        double thr = rp_chance_threshold(z);
        json_object_set_new(jz, "chance_threshold", json_real(thr));
        rp_buf *tb = fig_new(p, zi, "health-table");
        if (!tb)
            break;
        rp_buf_puts(tb, "<figure class=\"fig table\"><table class=\"health\"><tr><th>value</th>"
                        "<th>models</th><th>diverged</th><th>failed</th><th>chance</th>"
                        "<th>median final test acc.</th></tr>\n");
        double *v = malloc(sizeof(double) * ((size_t)z->n_models + 1));
        if (!v)
            return MZ_ENOMEM;
        for (int h = -1; h < z->n_hp; h++) {
            int nv = h < 0 ? 1 : z->hp[h].n_values;
            if (h >= 0 && (nv < 2 || nv > 16))
                continue;
            double bars[16 * 3];
            const char *glabels[16];
            json_t *jv = json_object();
            for (int g = 0; g < nv; g++) {
                int64_t n = 0, div = 0, fail = 0, chance = 0, m = 0;
                for (int64_t i = 0; i < z->n_models; i++) {
                    if (h >= 0 && z->hp[h].of_model[i] != g)
                        continue;
                    n++;
                    mz_model_status st = z->prog[i].status;
                    double a = rp_final(z, i, RP_TEST_ACC);
                    if (st == MZ_MODEL_DIVERGED)
                        div++;
                    else if (st == MZ_MODEL_FAILED)
                        fail++;
                    else if (isfinite(a) && a < thr)
                        chance++;
                    if (isfinite(a))
                        v[m++] = a;
                }
                double med = NAN, q = 0.5;
                if (m)
                    rp_quantiles(v, m, &q, 1, &med);
                bars[g * 3 + 0] = (double)div;
                bars[g * 3 + 1] = (double)chance;
                bars[g * 3 + 2] = (double)fail;
                glabels[g] = h < 0 ? "all" : z->hp[h].values[g];
                rp_buf_puts(tb, "<tr><td>");
                if (h >= 0) {
                    rp_buf_html(tb, z->hp[h].name);
                    rp_buf_puts(tb, " = ");
                    rp_buf_html(tb, z->hp[h].values[g]);
                } else {
                    rp_buf_puts(tb, "<b>all models</b>");
                }
                rp_buf_printf(tb,
                              "</td><td>%lld</td><td>%lld</td><td>%lld</td><td>%lld</td><td>%.4f"
                              "</td></tr>\n",
                              (long long)n, (long long)div, (long long)fail, (long long)chance,
                              med);
                json_t *c = json_object();
                json_object_set_new(c, "models", json_integer(n));
                json_object_set_new(c, "diverged", json_integer(div));
                json_object_set_new(c, "failed", json_integer(fail));
                json_object_set_new(c, "chance", json_integer(chance));
                json_object_set_new(jv, glabels[g], c);
            }
            json_object_set_new(jh, h < 0 ? "all" : z->hp[h].name, jv);
            if (h >= 0 && h == z->by) {
                static const char *const bl[3] = {"diverged", "chance level", "failed"};
                rp_axes ax = {0};
                char title[96];
                snprintf(title, sizeof title, "models that failed to learn, by %s", z->hp[h].name);
                ax.title = title;
                ax.xlabel = z->hp[h].name;
                ax.ylabel = "models";
                ax.width = p->fig_w;
                ax.height = p->fig_h;
                FIGURE(p, zi, "health-bars", "",
                       rp_plot_bars(fb_, id_, &ax, bars, glabels, nv, bl, 3, p->err));
            }
        }
        free(v);
        rp_buf_puts(tb, "</table></figure>\n");
    }
    section_end(p);
    return MZ_OK;
}

static mz_status weights_section(page *p)
{
    section(p, "weights", "Weight space",
            "Checkpoints are vectors of every layer's weights and biases (twins: the pruned "
            "network's). PCA is fitted on the sampled checkpoints of the selected epochs "
            "(centred, not scaled); every point is one checkpoint. Trajectories follow a few of "
            "the sampled models through all their epochs in the same plane, from a circle "
            "(first epoch) to a dot (last). Weight norms are the L2 norms of each layer's weight "
            "tensor (biases left out).");
    for (int zi = 0; zi < p->nz; zi++) {
        rp_zoo *z = &p->zoos[zi];
        progress(p, "weight space: sampling checkpoints, PCA, trajectories, distances, "
                    "predictions");
        mz_status s = rp_weights_compute(z, p->o, p->err);
        if (s != MZ_OK)
            return s;
        rp_weights *w = &z->w;
        json_t *jz = json_array_get(json_object_get(p->data, "zoos"), (size_t)zi);
        if (!w->done) {
            note_fig(p, zi, "pca-epoch", w->note[0] ? w->note : "no weight-space plots");
            continue;
        }
        int64_t models = 0;
        for (int64_t i = 0; i < w->n; i++)
            models += i == 0 || w->model[i] != w->model[i - 1];
        char c1[32], c2[32], c3[32], sampled[600];
        fmt_count(c1, sizeof c1, w->n);
        fmt_count(c2, sizeof c2, models);
        fmt_count(c3, sizeof c3, w->candidates);
        size_t at = (size_t)snprintf(sampled, sizeof sampled, "%s checkpoints of %s models at %ss ",
                                     c1, c2, z->unit);
        for (int k = 0; k < w->n_sel_epochs && at < sizeof sampled; k++)
            at += (size_t)snprintf(sampled + at, sizeof sampled - at, "%s%d", k ? ", " : "",
                                   w->sel_epochs[k]);
        if (at < sizeof sampled) {
            if (w->n < w->candidates)
                snprintf(sampled + at, sizeof sampled - at,
                         "; <b>subsampled</b>: models drawn at random (seed %llu) from the %s "
                         "checkpoints selected",
                         (unsigned long long)p->o->seed, c3);
            else
                snprintf(sampled + at, sizeof sampled - at, " (every selected checkpoint)");
        }
        json_t *jp = json_object();
        json_object_set_new(jz, "pca", jp);
        json_object_set_new(jp, "dim", json_integer(w->dim));
        json_object_set_new(jp, "candidates", json_integer(w->candidates));
        json_object_set_new(jp, "models", jarr_i64(w->model, w->n));
        json_object_set_new(jp, "epochs", jarr_i64(w->epoch_of, w->n));
        json_object_set_new(jp, "proj", jarr_d(w->proj, 2 * w->n));
        json_object_set_new(jp, "explained_variance_ratio", jarr_d(w->evr, 2));
        json_object_set_new(jp, "total_variance", jnum(w->total_var));
        double *px = malloc(sizeof(double) * (size_t)w->n),
               *py = malloc(sizeof(double) * (size_t)w->n),
               *acc = malloc(sizeof(double) * (size_t)w->n);
        int *cat = malloc(sizeof(int) * (size_t)w->n);
        if (!px || !py || !acc || !cat) {
            free(px), free(py), free(acc), free(cat);
            return MZ_ENOMEM;
        }
        double xl = INFINITY, xh = -INFINITY, yl = INFINITY, yh = -INFINITY;
        for (int64_t i = 0; i < w->n; i++) {
            px[i] = w->proj[2 * i];
            py[i] = w->proj[2 * i + 1];
            acc[i] = w->test_acc[i];
            int k = 0;
            while (k < w->n_sel_epochs && w->sel_epochs[k] != w->epoch_of[i])
                k++;
            cat[i] = k;
            xl = px[i] < xl ? px[i] : xl, xh = px[i] > xh ? px[i] : xh;
            yl = py[i] < yl ? py[i] : yl, yh = py[i] > yh ? py[i] : yh;
        }
        for (int t = 0; t < w->n_traj; t++)
            for (int k = 0; k < w->traj_len[t]; k++) {
                double a = w->traj_proj[t][2 * k], b = w->traj_proj[t][2 * k + 1];
                xl = a < xl ? a : xl, xh = a > xh ? a : xh;
                yl = b < yl ? b : yl, yh = b > yh ? b : yh;
            }
        double mx = (xh - xl) * 0.05 + 1e-9, my = (yh - yl) * 0.05 + 1e-9;
        char elab[64][16];
        const char *elabels[64];
        for (int k = 0; k < w->n_sel_epochs; k++) {
            snprintf(elab[k], sizeof elab[k], "%s %d", z->unit, w->sel_epochs[k]);
            elabels[k] = elab[k];
        }
        char xlab[64], ylab[64], cap[800];
        snprintf(xlab, sizeof xlab, "PC1 (%.1f%% of the variance)", 100 * w->evr[0]);
        snprintf(ylab, sizeof ylab, "PC2 (%.1f%%)", 100 * w->evr[1]);
        rp_axes ax = {0};
        ax.xlabel = xlab;
        ax.ylabel = ylab;
        ax.xmin = xl - mx;
        ax.xmax = xh + mx;
        ax.ymin = yl - my;
        ax.ymax = yh + my;
        ax.width = p->fig_w;
        ax.height = p->fig_h;
        rp_scatter sc = {0};
        sc.n = w->n;
        sc.x = px;
        sc.y = py;
        sc.cat = cat;
        sc.cat_labels = elabels;
        sc.n_cat = w->n_sel_epochs;
        char pca_title[64];
        snprintf(pca_title, sizeof pca_title, "PCA of checkpoints, coloured by %s", z->unit);
        ax.title = pca_title;
        snprintf(cap, sizeof cap, "%s.", sampled);
        FIGURE(p, zi, "pca-epoch", cap, rp_plot_scatter(fb_, id_, &ax, &sc, p->err));
        memset(&sc, 0, sizeof sc);
        sc.n = w->n;
        sc.x = px;
        sc.y = py;
        sc.c = acc;
        sc.clabel = "test acc.";
        ax.title = "PCA of checkpoints, coloured by test accuracy";
        FIGURE(p, zi, "pca-acc", "The same points coloured by each checkpoint's test accuracy.",
               rp_plot_scatter(fb_, id_, &ax, &sc, p->err));
        /* trajectories over the faded sample */
        memset(&sc, 0, sizeof sc);
        sc.n = w->n;
        sc.x = px;
        sc.y = py;
        int lens[32];
        const double *lines[32];
        json_t *jt = json_array();
        for (int t = 0; t < w->n_traj; t++) {
            lens[t] = w->traj_len[t];
            lines[t] = w->traj_proj[t];
            json_t *o = json_object();
            json_object_set_new(o, "model", json_integer(w->traj_model[t]));
            json_object_set_new(o, "proj", jarr_d(w->traj_proj[t], 2 * (int64_t)w->traj_len[t]));
            json_array_append_new(jt, o);
        }
        json_object_set_new(jp, "trajectories", jt);
        sc.n_lines = w->n_traj;
        sc.line_len = lens;
        sc.line_xy = lines;
        ax.title = "trajectories of sampled models";
        snprintf(cap, sizeof cap,
                 "%d models (spread over the sampled ones) through every selected %s; grey: "
                 "the sampled checkpoints.",
                 w->n_traj, z->unit);
        FIGURE(p, zi, "pca-traj", cap, rp_plot_scatter(fb_, id_, &ax, &sc, p->err));
        free(px), free(py), free(acc), free(cat);

        /* per-layer norms: a box per selected epoch, one small figure per layer */
        json_t *jn = json_object();
        json_object_set_new(jz, "weight_norms", jn);
        double *v = malloc(sizeof(double) * (size_t)(w->n + 1));
        if (!v)
            return MZ_ENOMEM;
        for (int l = 0; l < w->n_layers; l++) {
            rp_box boxes[16];
            const char *labels[16];
            char lab[16][16];
            int nb = w->n_sel_epochs < 16 ? w->n_sel_epochs : 16;
            double top = 0;
            json_t *jl = json_array();
            for (int k = 0; k < nb; k++) {
                int64_t m = 0;
                for (int64_t i = 0; i < w->n; i++)
                    if (w->epoch_of[i] == w->sel_epochs[k])
                        v[m++] = w->norms[i * w->n_layers + l];
                rp_box_stats(v, m, &boxes[k]);
                top = m && boxes[k].max > top ? boxes[k].max : top;
                snprintf(lab[k], sizeof lab[k], "%d", w->sel_epochs[k]);
                labels[k] = lab[k];
                json_array_append_new(jl, jnum(boxes[k].med));
            }
            json_object_set_new(jn, w->layer_name[l], jl);
            rp_axes bx = {0};
            char title[64], key[48];
            snprintf(title, sizeof title, "%s weight norm", w->layer_name[l]);
            snprintf(key, sizeof key, "norm-%s", w->layer_name[l]);
            bx.title = title;
            bx.xlabel = z->unit;
            bx.ylabel = "L2 norm";
            bx.ymin = 0;
            bx.ymax = top > 0 ? top * 1.1 : 1;
            bx.width = p->small_w;
            bx.height = p->small_h;
            FIGURE(p, zi, key, "", rp_plot_boxes(fb_, id_, &bx, boxes, labels, NULL, nb, p->err));
        }
        free(v);
    }
    section_end(p);
    return MZ_OK;
}

static void upper_triangle(const double *M, int64_t m, double *out, int64_t *n)
{
    *n = 0;
    for (int64_t a = 0; a < m; a++)
        for (int64_t b = a + 1; b < m; b++)
            out[(*n)++] = M[a * m + b];
}

static mz_status diversity_section(page *p)
{
    section(p, "diversity", "Diversity",
            "Pairwise L2 distances between the weight vectors of sampled models at the last "
            "selected epoch, split into pairs that share the banding hyperparameter's value and "
            "pairs that do not; and how often two models predict different classes for the "
            "same image, on the first images of the test set, each image's class from "
            "mz_evaluator_predict (the engine that trained the models, in eval mode).");
    for (int zi = 0; zi < p->nz; zi++) {
        rp_zoo *z = &p->zoos[zi];
        rp_weights *w = &z->w;
        json_t *jz = json_array_get(json_object_get(p->data, "zoos"), (size_t)zi);
        if (!w->done || w->n_dist < 2) {
            note_fig(p, zi, "dist-hist", "Too few checkpoints for pairwise distances.");
            continue;
        }
        int64_t m = w->n_dist, np = m * (m - 1) / 2;
        double *all = malloc(sizeof(double) * (size_t)(np + 1)),
               *same = malloc(sizeof(double) * (size_t)(np + 1)),
               *other = malloc(sizeof(double) * (size_t)(np + 1));
        if (!all || !same || !other) {
            free(all), free(same), free(other);
            return MZ_ENOMEM;
        }
        int64_t ns = 0, no = 0, na = 0;
        int h = z->by;
        for (int64_t a = 0; a < m; a++)
            for (int64_t b = a + 1; b < m; b++) {
                double dd = w->dist[a * m + b];
                all[na++] = dd;
                if (h >= 0 &&
                    z->hp[h].of_model[w->dist_model[a]] == z->hp[h].of_model[w->dist_model[b]])
                    same[ns++] = dd;
                else
                    other[no++] = dd;
            }
        json_t *jd = json_object();
        json_object_set_new(jz, "distances", jd);
        json_object_set_new(jd, "epoch", json_integer(w->dist_epoch));
        json_object_set_new(jd, "models", jarr_i64(w->dist_model, m));
        double qs[7] = {0, 0.05, 0.25, 0.5, 0.75, 0.95, 1}, qv[7], mean = 0;
        for (int64_t i = 0; i < na; i++)
            mean += all[i];
        mean /= (double)na;
        double *tmp = malloc(sizeof(double) * (size_t)na);
        if (tmp) {
            memcpy(tmp, all, sizeof(double) * (size_t)na);
            rp_quantiles(tmp, na, qs, 7, qv);
            free(tmp);
        }
        json_object_set_new(jd, "quantiles_at", jarr_d(qs, 7));
        json_object_set_new(jd, "quantiles", jarr_d(qv, 7));
        json_object_set_new(jd, "mean", jnum(mean));
        const double *vs[2];
        int64_t n2[2];
        const char *labels[2];
        int nser;
        char l1[80], l2[80];
        if (h >= 0 && ns && no) {
            snprintf(l1, sizeof l1, "same %s", z->hp[h].name);
            snprintf(l2, sizeof l2, "different %s", z->hp[h].name);
            vs[0] = same, n2[0] = ns, labels[0] = l1;
            vs[1] = other, n2[1] = no, labels[1] = l2;
            nser = 2;
        } else {
            vs[0] = all, n2[0] = na, labels[0] = "all pairs";
            nser = 1;
        }
        char title[96], cap[400];
        snprintf(title, sizeof title, "pairwise weight distances at %s %d", z->unit, w->dist_epoch);
        int64_t at_epoch = 0;
        for (int64_t i = 0; i < w->n; i++)
            at_epoch += w->epoch_of[i] == w->dist_epoch;
        snprintf(cap, sizeof cap, "%lld models, %lld pairs%s.", (long long)m, (long long)na,
                 m < at_epoch || w->n < w->candidates ? " (models sampled at random)" : "");
        rp_axes ax = {0};
        ax.title = title;
        ax.xlabel = "L2 distance";
        ax.ylabel = "fraction of pairs";
        ax.xmin = qv[0] * 0.95;
        ax.xmax = qv[6] * 1.05 + 1e-9;
        ax.width = p->fig_w;
        ax.height = p->fig_h;
        FIGURE(p, zi, "dist-hist", cap,
               rp_plot_hist(fb_, id_, &ax, vs, n2, labels, nser, 30, p->err));
        free(same), free(other);
        if (!w->disagree) {
            char msg[700];
            snprintf(msg, sizeof msg, "Prediction disagreement %s.", w->pred_note);
            note_fig(p, zi, "disagree-hist", msg);
            note_fig(p, zi, "disagree-vs-dist", "");
            free(all);
            continue;
        }
        int64_t k = w->n_pred, kp = k * (k - 1) / 2, nk = 0;
        double *dis = malloc(sizeof(double) * (size_t)(kp + 1)),
               *dd = malloc(sizeof(double) * (size_t)(kp + 1));
        if (!dis || !dd) {
            free(dis), free(dd), free(all);
            return MZ_ENOMEM;
        }
        upper_triangle(w->disagree, k, dis, &nk);
        for (int64_t a = 0, j = 0; a < k; a++)
            for (int64_t b = a + 1; b < k; b++)
                dd[j++] = w->dist[a * m + b];
        json_t *jg = json_object();
        json_object_set_new(jz, "disagreement", jg);
        json_object_set_new(jg, "epoch", json_integer(w->dist_epoch));
        json_object_set_new(jg, "models", jarr_i64(w->dist_model, k));
        json_object_set_new(jg, "images", json_integer(w->pred_images));
        json_object_set_new(jg, "matrix", jarr_d(w->disagree, k * k));
        json_object_set_new(jg, "subset_accuracy", jarr_d(w->pred_acc, k));
        double dlo = INFINITY, dhi = -INFINITY;
        for (int64_t i = 0; i < nk; i++)
            dlo = dis[i] < dlo ? dis[i] : dlo, dhi = dis[i] > dhi ? dis[i] : dhi;
        rp_axes a2 = {0};
        char t2[96], c2[400];
        snprintf(t2, sizeof t2, "prediction disagreement at %s %d", z->unit, w->dist_epoch);
        snprintf(c2, sizeof c2,
                 "%lld models evaluated on the first %d test images; the fraction of images two "
                 "models classify differently, over %lld pairs.",
                 (long long)k, w->pred_images, (long long)nk);
        a2.title = t2;
        a2.xlabel = "fraction of images predicted differently";
        a2.ylabel = "fraction of pairs";
        a2.xmin = dlo > 0.02 ? dlo - 0.02 : 0;
        a2.xmax = dhi + 0.02 < 1 ? dhi + 0.02 : 1;
        a2.width = p->fig_w;
        a2.height = p->fig_h;
        const double *v1[1] = {dis};
        int64_t n1[1] = {nk};
        const char *lb1[1] = {"pairs"};
        FIGURE(p, zi, "disagree-hist", c2, rp_plot_hist(fb_, id_, &a2, v1, n1, lb1, 1, 25, p->err));
        rp_scatter sc = {0};
        sc.n = nk;
        sc.x = dd;
        sc.y = dis;
        double xl = INFINITY, xh = -INFINITY;
        for (int64_t i = 0; i < nk; i++)
            xl = dd[i] < xl ? dd[i] : xl, xh = dd[i] > xh ? dd[i] : xh;
        rp_axes a3 = {0};
        a3.title = "disagreement against weight distance";
        a3.xlabel = "L2 distance of the weights";
        a3.ylabel = "prediction disagreement";
        a3.xmin = xl - 0.05 * (xh - xl) - 1e-9;
        a3.xmax = xh + 0.05 * (xh - xl) + 1e-9;
        a3.ymin = a2.xmin;
        a3.ymax = a2.xmax;
        a3.width = p->fig_w;
        a3.height = p->fig_h;
        FIGURE(p, zi, "disagree-vs-dist", "Every pair of evaluated models.",
               rp_plot_scatter(fb_, id_, &a3, &sc, p->err));
        free(dis), free(dd), free(all);
    }
    section_end(p);
    return MZ_OK;
}

/* Twins: sparsity against the accuracy drop from epoch 0 (the source checkpoint). */
static mz_status twins_section(page *p)
{
    int any = 0;
    for (int zi = 0; zi < p->nz; zi++)
        any |= p->zoos[zi].is_twin;
    if (!any)
        return MZ_OK;
    section(p, "twins", "Sparsified twins",
            "Sparsity is the fraction of conv and linear weights pruned (biases not counted). "
            "The accuracy drop of a twin at an epoch is the test accuracy of its epoch 0 (the "
            "source model's checkpoint it started from, evaluated) minus its test accuracy then. "
            "Left: the medians over the twins of each method at every epoch, a path from epoch 0; "
            "middle: every twin at its last selected epoch; right: per-layer sparsity there.");
    for (int zi = 0; zi < p->nz; zi++) {
        rp_zoo *z = &p->zoos[zi];
        if (!z->is_twin) {
            note_fig(p, zi, "twin-path", "Not a twin zoo.");
            continue;
        }
        int h = -1;
        for (int k = 0; k < z->n_hp; k++)
            if (!strcmp(z->hp[k].name, "twin method"))
                h = k;
        int ng = h >= 0 ? (z->hp[h].n_values < RP_N_COLOURS ? z->hp[h].n_values : RP_N_COLOURS) : 1;
        int E = z->n_epochs;
        double *sx = malloc(sizeof(double) * (size_t)(E * ng + 1)),
               *sy = malloc(sizeof(double) * (size_t)(E * ng + 1)),
               *v = malloc(sizeof(double) * ((size_t)z->n_models + 1)),
               *u = malloc(sizeof(double) * ((size_t)z->n_models + 1));
        if (!sx || !sy || !v || !u) {
            free(sx), free(sy), free(v), free(u);
            return MZ_ENOMEM;
        }
        json_t *jz = json_array_get(json_object_get(p->data, "zoos"), (size_t)zi);
        json_t *jt = json_object();
        json_object_set_new(jz, "twins", jt);
        rp_series s[RP_N_COLOURS];
        for (int g = 0; g < ng; g++) {
            json_t *jm = json_object();
            for (int t = 0; t < E; t++) {
                int64_t a = 0, b = 0;
                for (int64_t i = 0; i < z->n_models; i++) {
                    if (h >= 0 && z->hp[h].of_model[i] != g)
                        continue;
                    if (!z->kept[(size_t)i * E + t])
                        continue;
                    double sp = rp_metric(z, i, t, RP_SPARSITY);
                    double a0 = z->kept[(size_t)i * E] ? rp_metric(z, i, 0, RP_TEST_ACC) : NAN;
                    double drop = a0 - rp_metric(z, i, t, RP_TEST_ACC);
                    if (isfinite(sp))
                        v[a++] = sp;
                    if (isfinite(drop))
                        u[b++] = drop;
                }
                double q = 0.5;
                sx[g * E + t] = NAN, sy[g * E + t] = NAN;
                if (a)
                    rp_quantiles(v, a, &q, 1, &sx[g * E + t]);
                if (b)
                    rp_quantiles(u, b, &q, 1, &sy[g * E + t]);
            }
            json_object_set_new(jm, "median_sparsity", jarr_d(sx + g * E, E));
            json_object_set_new(jm, "median_drop", jarr_d(sy + g * E, E));
            json_object_set_new(jt, h >= 0 ? z->hp[h].values[g] : "all", jm);
            memset(&s[g], 0, sizeof s[g]);
            s[g].label = h >= 0 ? z->hp[h].values[g] : "all twins";
            s[g].n = E;
            s[g].x = sx + g * E;
            s[g].y = sy + g * E;
            s[g].colour = g;
        }
        /* the path's x is sparsity: lines through (sparsity, drop) in epoch order */
        double ylo = 0, yhi = 0;
        for (int i = 0; i < E * ng; i++)
            if (isfinite(sy[i]))
                ylo = sy[i] < ylo ? sy[i] : ylo, yhi = sy[i] > yhi ? sy[i] : yhi;
        rp_axes ax = {0};
        ax.title = "median accuracy drop against sparsity";
        ax.xlabel = "sparsity (fraction of weights pruned)";
        ax.ylabel = "test accuracy drop";
        ax.xmin = 0;
        ax.xmax = 1;
        ax.ymin = ylo - 0.02;
        ax.ymax = yhi + 0.02;
        ax.width = p->fig_w;
        ax.height = p->fig_h;
        /* rp_plot_lines draws y over x in the order given: epochs in order make the path */
        FIGURE(p, zi, "twin-path", "One point per epoch, from epoch 0 (sparsity 0, no drop).",
               rp_plot_lines(fb_, id_, &ax, s, ng, p->err));
        /* every twin at its last epoch */
        int64_t n = 0;
        double *fx = malloc(sizeof(double) * ((size_t)z->n_models + 1)),
               *fy = malloc(sizeof(double) * ((size_t)z->n_models + 1));
        int *fc = malloc(sizeof(int) * ((size_t)z->n_models + 1));
        if (!fx || !fy || !fc) {
            free(fx), free(fy), free(fc), free(sx), free(sy), free(v), free(u);
            return MZ_ENOMEM;
        }
        double fyl = 0, fyh = 0;
        for (int64_t i = 0; i < z->n_models; i++) {
            double sp = rp_final(z, i, RP_SPARSITY);
            double a0 = z->kept[(size_t)i * E] ? rp_metric(z, i, 0, RP_TEST_ACC) : NAN;
            double drop = a0 - rp_final(z, i, RP_TEST_ACC);
            if (!isfinite(sp) || !isfinite(drop))
                continue;
            fx[n] = sp, fy[n] = drop, fc[n] = h >= 0 ? z->hp[h].of_model[i] : 0;
            fyl = drop < fyl ? drop : fyl, fyh = drop > fyh ? drop : fyh;
            n++;
        }
        const char *cl[RP_N_COLOURS];
        for (int g = 0; g < ng; g++)
            cl[g] = h >= 0 ? z->hp[h].values[g] : "all";
        rp_scatter sc = {0};
        sc.n = n;
        sc.x = fx;
        sc.y = fy;
        sc.cat = fc;
        sc.cat_labels = cl;
        sc.n_cat = ng;
        sc.cat_unordered = 1;
        rp_axes a2 = ax;
        a2.title = "twins at their last epoch";
        a2.ymin = fyl - 0.02;
        a2.ymax = fyh + 0.02;
        FIGURE(p, zi, "twin-final", "", rp_plot_scatter(fb_, id_, &a2, &sc, p->err));
        free(fx), free(fy), free(fc);
        /* per-layer sparsity */
        if (z->n_sp_layers) {
            rp_box boxes[16];
            const char *labels[16];
            for (int l = 0; l < z->n_sp_layers; l++) {
                int64_t m = 0;
                for (int64_t i = 0; i < z->n_models; i++) {
                    double x = z->sp_layers[i * 16 + l];
                    if (isfinite(x))
                        v[m++] = x;
                }
                rp_box_stats(v, m, &boxes[l]);
                labels[l] = z->sp_layer[l];
            }
            rp_axes a3 = {0};
            a3.title = "per-layer sparsity at the last epoch";
            a3.xlabel = "layer";
            a3.ylabel = "sparsity";
            a3.ymin = 0;
            a3.ymax = 1.05;
            a3.width = p->fig_w;
            a3.height = p->fig_h;
            FIGURE(p, zi, "twin-layers", "",
                   rp_plot_boxes(fb_, id_, &a3, boxes, labels, NULL, z->n_sp_layers, p->err));
        }
        free(sx), free(sy), free(v), free(u);
    }
    section_end(p);
    return MZ_OK;
}

static const char style[] =
    "<style>\n"
    "body{font-family:'DejaVu Sans',Verdana,sans-serif;margin:16px 24px;color:#111;"
    "background:#fff;max-width:100%;}\n"
    "h1{font-size:26px;margin:4px 0}h2{font-size:20px;margin:28px 0 6px;border-bottom:1px solid "
    "#bbb}h3{font-size:16px;margin:4px 0}\n"
    "p.intro{max-width:1100px;font-size:14px;line-height:1.4}\n"
    ".zoos{display:flex;flex-wrap:wrap;gap:16px}.zoo{border:1px solid #ccc;padding:8px;"
    "max-width:560px;font-size:13px}\n"
    ".zoo table{border-collapse:collapse}.zoo th{text-align:left;padding:2px 8px 2px 0;"
    "vertical-align:top;white-space:nowrap}.zoo td{overflow-wrap:anywhere}\n"
    "pre.recipe{white-space:pre-wrap;overflow-wrap:anywhere;font-size:11px;max-width:540px}\n"
    "code{overflow-wrap:anywhere}p.cmd{font-size:14px}\n"
    ".grid{display:flex;flex-wrap:wrap;gap:8px;align-items:flex-start}\n"
    ".row{display:grid;gap:8px;align-items:start;margin-bottom:8px}\n"
    "figure.fig{margin:0;padding:4px;border:1px solid #e4e4e4;max-width:100%}\n"
    "figure.fig figcaption{font-size:12px;max-width:560px;line-height:1.3}\n"
    "figure.note p{font-size:13px;max-width:420px;color:#444}\n"
    "svg.plot{display:block}\n"
    "table.health{border-collapse:collapse;font-size:12px}table.health td,table.health th{"
    "border:1px solid #ccc;padding:2px 6px;text-align:right}table.health td:first-child{"
    "text-align:left}\n"
    "nav{font-size:14px;margin-top:8px}\n"
    "</style>\n";

static mz_status render(page *p)
{
    rp_buf *b = &p->out;
    rp_buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>mzoo "
                   "report: ");
    for (int zi = 0; zi < p->nz; zi++) {
        rp_buf_puts(b, zi ? ", " : "");
        rp_buf_html(b, p->zoos[zi].name);
    }
    rp_buf_puts(b, "</title>\n<meta name=\"viewport\" content=\"width=device-width\">\n");
    rp_buf_puts(b, style);
    rp_buf_puts(b, "</head>\n<body>\n");
    header(p);
    mz_status s;
    progress(p, "training curves");
    if ((s = curves_section(p)) != MZ_OK)
        return s;
    progress(p, "box plots, gap, divergence");
    if ((s = final_section(p)) != MZ_OK)
        return s;
    if ((s = gap_section(p)) != MZ_OK)
        return s;
    if ((s = health_section(p)) != MZ_OK)
        return s;
    if ((s = weights_section(p)) != MZ_OK)
        return s;
    progress(p, "diversity");
    if ((s = diversity_section(p)) != MZ_OK)
        return s;
    if ((s = twins_section(p)) != MZ_OK)
        return s;
    progress(p, "writing the page");
    json_object_set_new(p->data, "n_plots", json_integer(p->n_plots));
    char *js = mz_json_dumps(p->data, JSON_COMPACT | JSON_ESCAPE_SLASH);
    if (!js)
        return MZ_ENOMEM;
    rp_buf_puts(b, "<script type=\"application/json\" id=\"mzoo-data\">");
    rp_buf_puts(b, js);
    rp_buf_puts(b, "</script>\n</body></html>\n");
    free(js);
    return b->failed ? MZ_ENOMEM : MZ_OK;
}

mz_status mz_report_write(const char *const *zoos, int n_zoos, const mz_report_options *o,
                          const char *out_path, mz_report_stats *stats, mz_error *err)
{
    double t0 = mz_now();
    if (n_zoos < 1 || n_zoos > MZ_REPORT_MAX_ZOOS)
        return mz_fail(err, MZ_EINVAL, "report: %d zoos (expected 1 to %d)", n_zoos,
                       MZ_REPORT_MAX_ZOOS);
    mz_report_options defaults;
    if (!o) {
        mz_report_options_default(&defaults);
        o = &defaults;
    }
    page *p = calloc(1, sizeof *p);
    rp_zoo *zs = calloc((size_t)n_zoos, sizeof *zs);
    if (!p || !zs) {
        free(p), free(zs);
        return mz_fail(err, MZ_ENOMEM, "out of memory");
    }
    p->o = o;
    p->err = err;
    p->zoos = zs;
    p->nz = n_zoos;
    p->fig_w = n_zoos <= 2 ? 560 : 430;
    p->fig_h = n_zoos <= 2 ? 360 : 300;
    p->small_w = n_zoos <= 2 ? 420 : 360;
    p->small_h = 280;
    rp_buf_init(&p->out, PAGE_LIMIT);
    p->data = json_object();
    json_object_set_new(p->data, "generator", json_string("mzoo " MZ_VERSION_STRING));
    if (o->command)
        json_object_set_new(p->data, "command", json_string(o->command));
    json_object_set_new(p->data, "quantiles_at", jarr_d(QS, 5));
    json_t *jzs = json_array();
    json_object_set_new(p->data, "zoos", jzs);
    mz_status s = MZ_OK;
    for (int zi = 0; zi < n_zoos && s == MZ_OK; zi++) {
        progress(p, "reading the zoo");
        s = rp_zoo_read(&zs[zi], zoos[zi], o, err);
        if (s != MZ_OK)
            break;
        rp_zoo *z = &zs[zi];
        json_t *jz = json_object();
        json_object_set_new(jz, "path", json_string(z->path));
        json_object_set_new(jz, "kind", json_string(z->kind));
        json_object_set_new(jz, "n_models", json_integer(z->n_models));
        json_object_set_new(jz, "n_rows", json_integer(z->n_rows));
        json_object_set_new(jz, "n_kept_rows", json_integer(z->n_kept_rows));
        json_object_set_new(jz, "n_classes", json_integer(z->n_classes));
        json_object_set_new(jz, "epoch_unit", json_string(z->unit));
        json_object_set_new(jz, "by", z->by >= 0 ? json_string(z->hp[z->by].name) : json_null());
        int64_t ep[4096];
        int ne = z->n_epochs < 4096 ? z->n_epochs : 4096;
        for (int t = 0; t < ne; t++)
            ep[t] = z->epoch_value[t];
        json_object_set_new(jz, "epochs", jarr_i64(ep, ne));
        json_object_set_new(jz, "curves", json_object());
        json_array_append_new(jzs, jz);
    }
    if (s == MZ_OK) {
        s = render(p);
        if (s != MZ_OK && err && err->code == MZ_OK)
            mz_fail(err, s, "report: %s", s == MZ_ENOMEM ? "out of memory" : "failed");
    }
    if (s == MZ_OK) {
        char tmp[MZ_PATH_MAX];
        if (snprintf(tmp, sizeof tmp, "%s.tmp", out_path) >= (int)sizeof tmp) {
            s = mz_fail(err, MZ_ELIMIT, "%s: path too long", out_path);
        } else {
            FILE *f = fopen(tmp, "wb");
            if (!f) {
                s = mz_fail(err, MZ_EIO, "%s: cannot create", tmp);
            } else {
                size_t w = fwrite(p->out.s, 1, p->out.n, f);
                int bad = w != p->out.n || fflush(f) != 0;
                bad |= fclose(f) != 0;
                if (bad || rename(tmp, out_path) != 0) {
                    remove(tmp);
                    s = mz_fail(err, MZ_EIO, "%s: cannot write the report", out_path);
                }
            }
        }
    }
    if (stats) {
        stats->n_plots = p->n_plots;
        stats->bytes = (int64_t)p->out.n;
        stats->seconds = mz_now() - t0;
    }
    for (int zi = 0; zi < n_zoos; zi++)
        rp_zoo_release(&zs[zi]);
    for (int i = 0; i < p->n_figs; i++)
        rp_buf_release(&p->figs[i].html);
    rp_buf_release(&p->out);
    json_decref(p->data);
    free(zs);
    free(p);
    return s;
}
