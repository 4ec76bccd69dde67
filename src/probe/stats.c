/* s(W): per-tensor mean, population variance and percentiles, in double. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mzoo/probe.h"
#include "core/banned.h"

static const double stat_q[5] = {1, 25, 50, 75, 99};
static const char *const stat_names[MZ_STATS_PER_TENSOR] = {"mean", "var", "p1", "p25",
                                                            "p50",  "p75", "p99"};

double mz_percentile_sorted(const double *a, int64_t n, double q)
{
    if (n <= 0)
        return NAN;
    /* numpy 'linear': virtual index p = q/100 * (n-1), a[lo] + (p - lo) * (a[lo+1] - a[lo]). numpy
     * computes the difference form the same way (lerp with t = fraction), so we match it to the ulp
     * except where numpy switches to b - (b-a)(1-t) for t >= 0.5. */
    double p = q / 100.0 * (double)(n - 1);
    double fl = floor(p);
    int64_t lo = (int64_t)fl;
    if (lo >= n - 1)
        return a[n - 1];
    if (lo < 0)
        return a[0];
    double t = p - fl;
    double x0 = a[lo], x1 = a[lo + 1];
    double d = x1 - x0;
    /* numpy's _lerp: a + d*t, but b - d*(1-t) when t >= 0.5 (monotone and exact at the ends). */
    return t >= 0.5 ? x1 - d * (1.0 - t) : x0 + d * t;
}

static int cmp_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

void mz_tensor_stats(const float *x, int64_t n, double *scratch, double out[MZ_STATS_PER_TENSOR])
{
    if (n <= 0) {
        for (int i = 0; i < MZ_STATS_PER_TENSOR; i++)
            out[i] = NAN;
        return;
    }
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        s += x[i];
    double mean = s / (double)n;
    /* Two-pass variance: sum of squared deviations, as numpy.var. */
    double ss = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)x[i] - mean;
        ss += d * d;
        scratch[i] = x[i];
    }
    out[0] = mean;
    out[1] = ss / (double)n;
    qsort(scratch, (size_t)n, sizeof *scratch, cmp_double);
    for (int k = 0; k < 5; k++)
        out[2 + k] = mz_percentile_sorted(scratch, n, stat_q[k]);
}

int64_t mz_stats_dim(const mz_vec_layout *L)
{
    return (int64_t)L->n_layers * MZ_STATS_PER_TENSOR * (L->with_bias ? 2 : 1);
}

void mz_stats_features(const mz_vec_layout *L, const float *x, double *scratch, double *out)
{
    for (int l = 0; l < L->n_layers; l++) {
        const mz_vec_layer *ly = &L->layers[l];
        mz_tensor_stats(x + ly->idx_start, ly->n_weights, scratch, out);
        out += MZ_STATS_PER_TENSOR;
        if (L->with_bias) {
            mz_tensor_stats(x + ly->idx_start + ly->n_weights, ly->n_bias, scratch, out);
            out += MZ_STATS_PER_TENSOR;
        }
    }
}

void mz_stats_feature_name(const mz_vec_layout *L, int64_t i, char *buf, size_t cap)
{
    int per_layer = MZ_STATS_PER_TENSOR * (L->with_bias ? 2 : 1);
    int64_t l = i / per_layer, r = i % per_layer;
    if (i < 0 || l >= L->n_layers) {
        snprintf(buf, cap, "?");
        return;
    }
    snprintf(buf, cap, "%s.%s.%s", L->layers[l].name, r < MZ_STATS_PER_TENSOR ? "w" : "b",
             stat_names[r % MZ_STATS_PER_TENSOR]);
}
