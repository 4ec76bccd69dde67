/* Scores: R^2, Kendall's tau-b (Knight's O(n log n) algorithm, as scipy), accuracy. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mzoo/probe.h"
#include "core/banned.h"

double mz_r2(const double *y, const double *yhat, int64_t n)
{
    if (n < 2)
        return NAN;
    double mean = 0;
    for (int64_t i = 0; i < n; i++)
        mean += y[i];
    mean /= (double)n;
    double ss_res = 0, ss_tot = 0;
    for (int64_t i = 0; i < n; i++) {
        double r = y[i] - yhat[i], t = y[i] - mean;
        ss_res += r * r;
        ss_tot += t * t;
    }
    if (!(ss_tot > 0))
        return NAN;
    return 1.0 - ss_res / ss_tot;
}

double mz_accuracy(const int32_t *y, const int32_t *yhat, int64_t n)
{
    if (n <= 0)
        return NAN;
    int64_t hit = 0;
    for (int64_t i = 0; i < n; i++)
        hit += y[i] == yhat[i];
    return (double)hit / (double)n;
}

/* Sort keys for the lexicographic (x, y) order. */
typedef struct pair {
    double x, y;
} pair;

static int cmp_pair(const void *pa, const void *pb)
{
    const pair *a = pa, *b = pb;
    if (a->x != b->x)
        return a->x < b->x ? -1 : 1;
    return (a->y > b->y) - (a->y < b->y);
}

/* Number of pairs i < j with v[i] > v[j] (strict), sorting v ascending; tmp has n doubles. */
static int64_t count_inversions(double *v, double *tmp, int64_t n)
{
    int64_t inv = 0;
    /* Bottom-up merge sort: stable, equal keys never counted. */
    for (int64_t w = 1; w < n; w *= 2) {
        for (int64_t lo = 0; lo < n; lo += 2 * w) {
            int64_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            int64_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) {
                if (v[j] < v[i]) {
                    inv += mid - i;
                    tmp[k++] = v[j++];
                } else {
                    tmp[k++] = v[i++];
                }
            }
            while (i < mid)
                tmp[k++] = v[i++];
            while (j < hi)
                tmp[k++] = v[j++];
        }
        memcpy(v, tmp, (size_t)n * sizeof *v);
    }
    return inv;
}

/* Sum over groups of equal consecutive values of t(t-1)/2. */
static int64_t tied_pairs_sorted(const double *v, int64_t n)
{
    int64_t ties = 0, run = 1;
    for (int64_t i = 1; i <= n; i++) {
        if (i < n && v[i] == v[i - 1]) {
            run++;
        } else {
            ties += run * (run - 1) / 2;
            run = 1;
        }
    }
    return ties;
}

mz_status mz_kendall_tau_b(const double *x, const double *y, int64_t n, double *tau, mz_error *err)
{
    *tau = NAN;
    if (n < 2)
        return MZ_OK;
    pair *p = malloc((size_t)n * sizeof *p);
    double *v = malloc((size_t)n * sizeof *v), *tmp = malloc((size_t)n * sizeof *tmp);
    if (!p || !v || !tmp) {
        free(p);
        free(v);
        free(tmp);
        return mz_fail(err, MZ_ENOMEM, "kendall tau: out of memory for %lld samples", (long long)n);
    }
    for (int64_t i = 0; i < n; i++) {
        p[i].x = x[i];
        p[i].y = y[i];
    }
    qsort(p, (size_t)n, sizeof *p, cmp_pair);
    /* Ties in x, and joint ties in (x, y). */
    int64_t xtie = 0, ntie = 0, run_x = 1, run_xy = 1;
    for (int64_t i = 1; i <= n; i++) {
        int same_x = i < n && p[i].x == p[i - 1].x;
        int same_xy = same_x && p[i].y == p[i - 1].y;
        if (same_x) {
            run_x++;
        } else {
            xtie += run_x * (run_x - 1) / 2;
            run_x = 1;
        }
        if (same_xy) {
            run_xy++;
        } else {
            ntie += run_xy * (run_xy - 1) / 2;
            run_xy = 1;
        }
    }
    /* Discordant pairs: inversions of y in (x, y) order; ties in x are sorted by y and never
     * inverted, ties in y are not counted. */
    for (int64_t i = 0; i < n; i++)
        v[i] = p[i].y;
    int64_t dis = count_inversions(v, tmp, n);
    int64_t ytie = tied_pairs_sorted(v, n); /* v is now y sorted */
    int64_t tot = n * (n - 1) / 2;
    free(p);
    free(v);
    free(tmp);
    if (xtie == tot || ytie == tot)
        return MZ_OK;
    int64_t con_minus_dis = tot - xtie - ytie + ntie - 2 * dis;
    /* The same operation order as scipy: c / sqrt(tot - xtie) / sqrt(tot - ytie), clipped. */
    double t = (double)con_minus_dis / sqrt((double)(tot - xtie)) / sqrt((double)(tot - ytie));
    *tau = t > 1 ? 1 : t < -1 ? -1 : t;
    return MZ_OK;
}
