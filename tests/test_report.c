/* The report's own pieces: quantiles and box plots against numpy's numbers, the PCA on data whose
 * components are known, labels made safe for PLplot, the page buffer's escaping and size cap, a
 * figure drawn by PLplot, and mz_report_write's refusals (no page left behind). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "mzoo/report.h"
#include "report/report-impl.h"

static void test_quantiles(void)
{
    /* numpy.percentile([4, 1, 3, 2], [5, 25, 50, 75, 95]) */
    double v[4] = {4, 1, 3, 2}, q[5] = {0.05, 0.25, 0.5, 0.75, 0.95}, out[5];
    rp_quantiles(v, 4, q, 5, out);
    double want[5] = {1.15, 1.75, 2.5, 3.25, 3.85};
    for (int k = 0; k < 5; k++)
        CHECK_NEAR(out[k], want[k], 1e-12);
    /* matplotlib's whiskers: the furthest values within 1.5 IQR; 100 lies beyond */
    double b[9] = {1, 2, 3, 4, 5, 6, 7, 8, 100};
    rp_box box;
    rp_box_stats(b, 9, &box);
    CHECK_NEAR(box.q1, 3, 1e-12);
    CHECK_NEAR(box.med, 5, 1e-12);
    CHECK_NEAR(box.q3, 7, 1e-12);
    CHECK_NEAR(box.lo, 1, 1e-12);
    CHECK_NEAR(box.hi, 8, 1e-12);
    CHECK_EQ_INT(box.n_out, 1);
    CHECK_NEAR(box.max, 100, 0);
    rp_box empty;
    rp_box_stats(b, 0, &empty);
    CHECK(empty.n == 0 && isnan(empty.med));
}

/* Rows a_i u + b_i v + mean with orthonormal u, v and var(a) = 9 var(b): PC1 = u, PC2 = v. */
static void test_pca(void)
{
    enum { N = 400, D = 50 };
    float *X = malloc(sizeof(float) * N * D);
    double u[D], v[D], mean[D], comp[2 * D], var[2], total;
    for (int r = 0; r < D; r++) {
        u[r] = r < 25 ? 0.2 : 0;
        v[r] = r >= 25 ? -0.2 : 0;
    }
    double sa = 0, sb = 0;
    for (int i = 0; i < N; i++) {
        double a = 3 * cos(i * 0.731) * (i % 2 ? 1 : -1), b = sin(i * 1.37);
        sa += a, sb += b;
        for (int r = 0; r < D; r++)
            X[i * D + r] = (float)(a * u[r] + b * v[r] + 0.5 * r);
    }
    mz_error err = {0};
    CHECK_OK(rp_pca(X, N, D, 2, 1, mean, comp, var, &total, &err), &err);
    double d1 = 0, d2 = 0, ssa = 0, ssb = 0;
    for (int r = 0; r < D; r++) {
        d1 += comp[r] * u[r];
        d2 += comp[D + r] * v[r];
    }
    CHECK_NEAR(fabs(d1), 1, 1e-6);
    CHECK_NEAR(fabs(d2), 1, 1e-6);
    /* signed so that the largest |entry| is positive: u's entries are +0.2, v's -0.2 */
    CHECK(d1 > 0 && d2 < 0);
    for (int i = 0; i < N; i++) {
        double a = 3 * cos(i * 0.731) * (i % 2 ? 1 : -1), b = sin(i * 1.37);
        ssa += (a - sa / N) * (a - sa / N);
        ssb += (b - sb / N) * (b - sb / N);
    }
    CHECK_NEAR(var[0], ssa / (N - 1), 1e-4 * var[0]);
    CHECK_NEAR(var[1], ssb / (N - 1), 1e-4 * var[0]);
    CHECK_NEAR(total, (ssa + ssb) / (N - 1), 1e-4 * total);
    CHECK_NEAR(mean[30], 15, 1e-4);
    free(X);
}

static void test_buffer_and_labels(void)
{
    char lab[64];
    rp_plot_label(lab, sizeof lab, "a#b<c>&\x1b\xc3\xa9");
    CHECK_MSG(!strcmp(lab, "a##b?c?????"), "%s", lab);
    rp_buf b;
    rp_buf_init(&b, 1 << 20);
    rp_buf_html(&b, "<a href=\"x\">'&'</a>");
    CHECK(!strcmp(b.s, "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"));
    rp_buf_release(&b);
    rp_buf_init(&b, 100);
    for (int i = 0; i < 20; i++)
        rp_buf_puts(&b, "0123456789");
    CHECK(b.failed && b.n <= 100);
    rp_buf_release(&b);
    /* a figure: PLplot's SVG, inlined with its size in pixels and its id */
    rp_buf_init(&b, 1 << 24);
    double x[3] = {0, 1, 2}, y[3] = {0.1, 0.5, NAN};
    rp_series s = {0};
    s.label = "a#1";
    s.n = 3;
    s.x = x;
    s.y = y;
    rp_axes ax = {"title <t>", "epoch", "accuracy", 0, 2, 0, 1, 400, 300};
    mz_error err = {0};
    CHECK_OK(rp_plot_lines(&b, "z0-test", &ax, &s, 1, &err), &err);
    CHECK(b.s && !strncmp(b.s, "<svg class=\"plot\" data-plot=\"z0-test\"", 37));
    CHECK(b.s && strstr(b.s, "width=\"400\" height=\"300\" viewBox=\"0 0 400 300\""));
    CHECK(b.s && strstr(b.s, "aria-label=\"title &lt;t&gt;\""));
    CHECK(b.s && !strstr(b.s, "<?xml") && !strstr(b.s, "<!DOCTYPE"));
    CHECK(b.s && strstr(b.s, "<text"));
    rp_buf_release(&b);
}

static void test_refusals(void)
{
    mz_error err = {0};
    const char *none[1] = {"/nonexistent/zoo.db"};
    CHECK_EQ_INT(mz_report_write(none, 0, NULL, "/tmp/x.html", NULL, &err), MZ_EINVAL);
    char dir[] = "/tmp/mz_test_report_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char out[256];
    snprintf(out, sizeof out, "%s/r.html", dir);
    CHECK(mz_report_write(none, 1, NULL, out, NULL, &err) == MZ_ENOTFOUND);
    CHECK(access(out, F_OK) != 0);
    rmdir(dir);
}

int main(void)
{
    test_quantiles();
    test_pca();
    test_buffer_and_labels();
    test_refusals();
    return check_summary("test_report");
}
