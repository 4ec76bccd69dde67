/* mz_arch_init_params against the reference's initialisation distributions.
 *
 * Per weight tensor (fans from its shape: conv [out, in, k, k] -> fan_in = in k k, fan_out =
 * out k k; linear [out, in] -> in, out), the expected distribution is
 *   uniform U(0,1); normal N(0,1); kaiming_uniform U(+-sqrt(6/fan_in)); kaiming_normal
 *   N(0, 2/fan_in); xavier_uniform U(+-sqrt(6/(fan_in+fan_out))); xavier_normal
 *   N(0, 2/(fan_in+fan_out)); default U(+-1/sqrt(fan_in)),
 * and every bias is exactly 0.01. The sample statistics are checked at 5 standard errors of the
 * sample size: mean, variance, the fraction in each quarter of the range (uniform) or within 1
 * and 2 sigma (normal), and the extremes (inside the support; a uniform sample of n must come
 * within 20/n of both ends, which fails with probability e^-20). A single tensor of CNN-s may
 * have 96 elements, too few to tell a fan_in from a fan_out; so every tensor is also checked on
 * the pool of 24 seeds, and CNN-l's 4608-element conv2 (fan_in 144, fan_out 288) is in the set.
 * Also: determinism in the seed, distinct streams per tensor, and independence of the dropout
 * flag (CNN-s with and without Dropout modules gets the same weights for the same seed).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mzoo/nn.h"

static const char *const init_names[] = {"uniform",        "normal",         "kaiming_uniform",
                                         "kaiming_normal", "xavier_uniform", "xavier_normal",
                                         "default"};

typedef struct dist {
    int normal;
    double lo, hi; /* uniform */
    double sd;     /* normal */
} dist;

static dist expected(mz_init init, const mz_tensor_desc *t)
{
    double rf = 1;
    for (int d = 2; d < t->ndim; d++)
        rf *= (double)t->shape[d];
    double fan_in = (double)t->shape[1] * rf, fan_out = (double)t->shape[0] * rf;
    dist e = {0, 0, 0, 0};
    double b = 0;
    switch (init) {
    case MZ_INIT_UNIFORM:
        e.lo = 0, e.hi = 1;
        return e;
    case MZ_INIT_NORMAL:
        e.normal = 1, e.sd = 1;
        return e;
    case MZ_INIT_KAIMING_UNIFORM:
        b = sqrt(6 / fan_in);
        break;
    case MZ_INIT_KAIMING_NORMAL:
        e.normal = 1, e.sd = sqrt(2 / fan_in);
        return e;
    case MZ_INIT_XAVIER_UNIFORM:
        b = sqrt(6 / (fan_in + fan_out));
        break;
    case MZ_INIT_XAVIER_NORMAL:
        e.normal = 1, e.sd = sqrt(2 / (fan_in + fan_out));
        return e;
    default:
        b = 1 / sqrt(fan_in);
        break;
    }
    e.lo = -b, e.hi = b;
    return e;
}

/* Checks n samples against d; `what` names them. */
static void check_sample(const char *what, const float *w, long n, dist d)
{
    double sum = 0, sq = 0, mn = INFINITY, mx = -INFINITY;
    long quarter[4] = {0, 0, 0, 0}, in1 = 0, in2 = 0, nonfinite = 0;
    for (long i = 0; i < n; i++) {
        double v = w[i];
        nonfinite += !isfinite(v);
        sum += v;
        mn = fmin(mn, v), mx = fmax(mx, v);
        if (d.normal) {
            in1 += fabs(v) <= d.sd;
            in2 += fabs(v) <= 2 * d.sd;
        } else {
            int q = (int)floor(4 * (v - d.lo) / (d.hi - d.lo));
            quarter[q < 0 ? 0 : q > 3 ? 3 : q]++;
        }
    }
    double mean = sum / n;
    for (long i = 0; i < n; i++)
        sq += (w[i] - mean) * (w[i] - mean);
    double var = sq / (n - 1);
    CHECK_MSG(nonfinite == 0, "%s: %ld non-finite values", what, nonfinite);
    if (d.normal) {
        double sd = d.sd;
        CHECK_MSG(fabs(mean) <= 5 * sd / sqrt((double)n), "%s: mean %.5g (N(0, %.5g^2), n %ld)",
                  what, mean, sd, n);
        CHECK_MSG(fabs(var / (sd * sd) - 1) <= 5 * sqrt(2.0 / n),
                  "%s: sd %.5g, expected %.5g (n %ld)", what, sqrt(var), sd, n);
        static const double p1 = 0.682689492137, p2 = 0.954499736104;
        CHECK_MSG(fabs((double)in1 / n - p1) <= 5 * sqrt(p1 * (1 - p1) / n),
                  "%s: %.4f within 1 sd (n %ld)", what, (double)in1 / n, n);
        CHECK_MSG(fabs((double)in2 / n - p2) <= 5 * sqrt(p2 * (1 - p2) / n),
                  "%s: %.4f within 2 sd (n %ld)", what, (double)in2 / n, n);
        /* P(|z| > 6.5) = 8e-11 per draw; n >= 96 draws all below 1 sd has probability < 1e-7 */
        CHECK_MSG(mx <= 6.5 * sd && mn >= -6.5 * sd, "%s: range [%.5g, %.5g] for sd %.5g", what, mn,
                  mx, sd);
        CHECK_MSG(mx >= sd && mn <= -sd, "%s: range [%.5g, %.5g] too narrow for sd %.5g", what, mn,
                  mx, sd);
    } else {
        double wdt = d.hi - d.lo, mu = (d.lo + d.hi) / 2, v = wdt * wdt / 12;
        CHECK_MSG(fabs(mean - mu) <= 5 * sqrt(v / n), "%s: mean %.5g, expected %.5g (n %ld)", what,
                  mean, mu, n);
        /* variance of the sample variance of a uniform: v^2 (9/5 - 1) / n */
        CHECK_MSG(fabs(var / v - 1) <= 5 * sqrt(0.8 / n),
                  "%s: variance %.5g, expected %.5g (n %ld)", what, var, v, n);
        for (int q = 0; q < 4; q++)
            CHECK_MSG(fabs((double)quarter[q] / n - 0.25) <= 5 * sqrt(0.1875 / n),
                      "%s: %.4f in quarter %d (n %ld)", what, (double)quarter[q] / n, q, n);
        CHECK_MSG(mn >= d.lo && mx <= d.hi, "%s: range [%.6g, %.6g] outside [%.6g, %.6g]", what, mn,
                  mx, d.lo, d.hi);
        double slack = fmin(20.0 / n, 0.5) * wdt;
        CHECK_MSG(mn <= d.lo + slack && mx >= d.hi - slack,
                  "%s: range [%.6g, %.6g] does not fill [%.6g, %.6g]", what, mn, mx, d.lo, d.hi);
    }
}

#define POOL_SEEDS 24

static void check_arch(const char *name, int c, int hw)
{
    mz_arch a;
    mz_error err = {0};
    CHECK_OK(mz_arch_init(&a, name, c, hw, hw, 0.0, &err), &err);
    int64_t np = a.n_params;
    float *p = malloc(sizeof(float) * (size_t)np * POOL_SEEDS);
    float *pool = malloc(sizeof(float) * (size_t)np * POOL_SEEDS);
    if (!p || !pool) {
        free(p), free(pool);
        CHECK_MSG(0, "out of memory");
        return;
    }
    for (int init = 0; init < MZ_INIT_COUNT; init++) {
        for (int s = 0; s < POOL_SEEDS; s++) {
            float *q = p + (int64_t)s * np;
            for (int64_t i = 0; i < np; i++)
                q[i] = NAN; /* every element must be written */
            mz_arch_init_params(&a, (mz_init)init, 1000 + s, q);
        }
        for (int t = 0; t < a.n_tensors; t++) {
            const mz_tensor_desc *d = &a.tensors[t];
            char what[160];
            snprintf(what, sizeof what, "%s c%d %s %s", name, c, init_names[init], d->name);
            if (d->ndim == 1) {
                long bad = 0;
                for (int s = 0; s < POOL_SEEDS; s++)
                    for (int64_t i = 0; i < d->count; i++)
                        bad += p[(int64_t)s * np + d->offset + i] != 0.01f;
                CHECK_MSG(bad == 0, "%s: %ld biases are not 0.01", what, bad);
                continue;
            }
            dist e = expected((mz_init)init, d);
            check_sample(what, p + d->offset, (long)d->count, e); /* one model */
            for (int s = 0; s < POOL_SEEDS; s++)
                memcpy(pool + (int64_t)s * d->count, p + (int64_t)s * np + d->offset,
                       sizeof(float) * (size_t)d->count);
            snprintf(what, sizeof what, "%s c%d %s %s (%d seeds)", name, c, init_names[init],
                     d->name, POOL_SEEDS);
            check_sample(what, pool, (long)d->count * POOL_SEEDS, e);
        }
    }
    free(p), free(pool);
}

static int count_equal(const float *a, const float *b, int64_t n)
{
    int eq = 0;
    for (int64_t i = 0; i < n; i++)
        eq += a[i] == b[i];
    return eq;
}

static void check_identity(void)
{
    mz_arch s0, s1, l3;
    mz_error err = {0};
    CHECK_OK(mz_arch_init(&s0, "cnn-s", 1, 28, 28, 0.0, &err), &err);
    CHECK_OK(mz_arch_init(&s1, "cnn-s", 1, 28, 28, 0.5, &err), &err);
    CHECK_OK(mz_arch_init(&l3, "cnn-l", 3, 32, 32, 0.0, &err), &err);
    CHECK_EQ_INT(s0.n_params, 2464);
    CHECK_EQ_INT(s1.n_params, 2464);
    CHECK_EQ_INT(l3.n_params, 10853);
    int64_t n = l3.n_params;
    float *a = malloc(sizeof(float) * (size_t)n), *b = malloc(sizeof(float) * (size_t)n);
    if (!a || !b) {
        free(a), free(b);
        return;
    }
    for (int init = 0; init < MZ_INIT_COUNT; init++) {
        /* same seed: the same bits; CNN-s with Dropout modules: the same weights */
        for (int64_t seed = 0; seed < 3; seed++) {
            mz_arch_init_params(&s0, (mz_init)init, seed * 7919, a);
            mz_arch_init_params(&s1, (mz_init)init, seed * 7919, b);
            CHECK_MSG(memcmp(a, b, sizeof(float) * 2464) == 0,
                      "%s seed %lld: dropout layers change the weights", init_names[init],
                      (long long)seed);
            mz_arch_init_params(&s0, (mz_init)init, seed * 7919, b);
            CHECK(memcmp(a, b, sizeof(float) * 2464) == 0);
        }
        mz_arch_init_params(&l3, (mz_init)init, 5, a);
        mz_arch_init_params(&l3, (mz_init)init, 5, b);
        CHECK(memcmp(a, b, sizeof(float) * (size_t)n) == 0);
        /* another seed: every weight tensor changes (equal values only by chance) */
        mz_arch_init_params(&l3, (mz_init)init, 6, b);
        for (int t = 0; t < l3.n_tensors; t++) {
            const mz_tensor_desc *d = &l3.tensors[t];
            if (d->ndim == 1)
                continue;
            int eq = count_equal(a + d->offset, b + d->offset, d->count);
            CHECK_MSG(eq * 100 < d->count, "%s %s: %d of %lld weights equal for seeds 5 and 6",
                      init_names[init], d->name, eq, (long long)d->count);
        }
        /* large seeds use both key words */
        mz_arch_init_params(&l3, (mz_init)init, (int64_t)1 << 32 | 5, b);
        CHECK(count_equal(a, b, 432) < 5);
        /* tensors draw from distinct streams: tensor 0 and tensor 2 (and 4) are not the same
         * sequence rescaled */
        const mz_tensor_desc *t0 = &l3.tensors[0], *t2 = &l3.tensors[2], *t4 = &l3.tensors[4];
        int same = 0;
        for (int64_t i = 0; i < t0->count; i++) {
            double r2 = a[t2->offset + i] / a[t0->offset + i],
                   r4 = a[t4->offset + i] / a[t0->offset + i];
            double r2_0 = a[t2->offset] / a[t0->offset], r4_0 = a[t4->offset] / a[t0->offset];
            same += fabs(r2 - r2_0) < 1e-6 * fabs(r2_0) || fabs(r4 - r4_0) < 1e-6 * fabs(r4_0);
        }
        CHECK_MSG(same < 5, "%s: tensors 0, 2, 4 share a stream (%d)", init_names[init], same);
    }
    /* the init types differ from each other */
    for (int i = 0; i < MZ_INIT_COUNT; i++)
        for (int j = i + 1; j < MZ_INIT_COUNT; j++) {
            mz_arch_init_params(&l3, (mz_init)i, 9, a);
            mz_arch_init_params(&l3, (mz_init)j, 9, b);
            CHECK_MSG(memcmp(a, b, sizeof(float) * (size_t)n) != 0,
                      "%s and %s give the same weights", init_names[i], init_names[j]);
        }
    /* the example bounds of the reference spec (kaiming_uniform, CNN-s, C=1) */
    static const double bounds[5] = {0.4899, 0.1732, 0.5, 0.4082, 0.5477};
    float *pool = malloc(sizeof(float) * 2464 * 50);
    if (pool) {
        for (int s = 0; s < 50; s++)
            mz_arch_init_params(&s0, MZ_INIT_KAIMING_UNIFORM, 77 + s, pool + s * 2464);
        for (int t = 0; t < 5; t++) {
            const mz_tensor_desc *d = &s0.tensors[2 * t];
            double mx = 0;
            for (int s = 0; s < 50; s++)
                for (int64_t i = 0; i < d->count; i++)
                    mx = fmax(mx, fabs(pool[s * 2464 + d->offset + i]));
            CHECK_MSG(mx <= bounds[t] + 5e-5 && mx >= bounds[t] * 0.99,
                      "%s: max |w| %.5f, bound %.4f", d->name, mx, bounds[t]);
        }
        free(pool);
    }
    free(a), free(b);
}

int main(void)
{
    check_arch("cnn-s", 1, 28);
    check_arch("cnn-s", 3, 28);
    check_arch("cnn-l", 1, 32);
    check_arch("cnn-l", 3, 32);
    check_identity();
    return check_summary("test_nn_init");
}
