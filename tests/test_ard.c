/* The variational-dropout ("ARD") twins' reference kernels (src/nn/ard.c).
 *
 *  1. Elementwise pieces: mzf_log1p and mzf_cossin_turns against double-precision libm; the noise
 *     (mz_ard_noise: determinism, independence of the slice asked for, the streams' separation,
 *     moments, agreement with a double-precision Box-Muller of the same words); the KL term and
 *     its derivative against double formulas and the reference's orientation values.
 *  2. Against PyTorch 1.13 (tests/data/golden/ard.{json,bin}, tools/make_ard_golden.py), with the
 *     same noise fed to both sides: the layout table (names, shapes, order), training-mode and
 *     eval-mode (clipped) logits, CE, KL, ELBO, the eval loss with its KL term, the number of
 *     dropped weights, every parameter's gradient, and 3 Adam / SGD steps (losses and weights).
 *  3. Against the plain model: a twin fresh from a checkpoint with zero noise gives the plain
 *     model's logits bit for bit in training mode, and so does the eval forward when no weight is
 *     clipped.
 *  4. Finite differences of J = sum r * logits (training mode, fixed noise and dropout masks)
 *     + kl_weight * KL for sampled coordinates of every tensor (the method of
 *     tests/test_nn_gradcheck.c, which explains it), CNN-s C=1 / C=3 with dropout, CNN-l.
 *
 * Tolerances against PyTorch: the two sides compute the same float32 formulas with different
 * summation orders, FMA use and elementary functions (mzoo's log/exp/log1p/sigmoid vs torch's), so
 * they differ by rounding, amplified by depth (test_nn_golden.c discusses it). Here:
 *  - logits: |d| <= 1e-5 + 1e-5 |ref| + 3e-6 max|logits| (as for plain models);
 *  - KL: 2e-6 relative (thousands of terms, each ~1e-7 relative apart, summed in float by torch);
 *  - CE, ELBO, eval loss: 1e-5 relative + 1e-5 absolute (ELBO: + 2e-6 kl_weight KL);
 *  - gradients, per tensor: |d| <= 1e-4 |ref| + 1e-5 max|ref of that tensor| + 1e-7; log_sigma2
 *    gradients add kl_weight * 1e-6 (the KL part's rounding);
 *  - weights after 3 steps: as test_nn_golden.c (1e-5 |w| + 1e-3 lr + 1e-4 of the move + 1e-5 of
 *    the tensor's largest move).
 * The worst errors are printed.
 */
#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "golden.h"
#include "mzoo/nn.h"
#include "mzoo/optim.h"
#include "nn/ard-impl.h"
#include "nn/mathf-impl.h"

#define GOLDEN_B 10

static const char *const act_names[] = {"tanh", "relu", "sigmoid", "gelu", "leakyrelu", "silu"};

static int lookup_act(const char *s)
{
    for (int i = 0; s && i < 6; i++)
        if (!strcmp(act_names[i], s))
            return i;
    return -1;
}

static int same_bits(const void *a, const void *b, size_t n)
{
    return memcmp(a, b, n) == 0;
}

/* ---- 1. elementwise pieces ---- */

static void test_log1p_cossin(void)
{
    double worst = 0;
    long bad = 0;
    /* log1p over [-0.999, 1e6] geometrically, both signs near 0, and special values */
    for (int k = -4000; k <= 4000; k++) {
        float mag = powf(10.0f, (float)abs(k) / 500.0f - 8.0f); /* 1e-8 .. 1e0 */
        float xs[3] = {k < 0 ? -0.999f * mag : mag, mag * 1e6f, 1.0f + mag};
        for (int j = 0; j < 3; j++) {
            float x = xs[j];
            double r = log1p((double)x);
            double e = fabs(mzf_log1p(x) - r) / fmax(fabs(r), 1e-300);
            worst = fmax(worst, e);
            bad += !(e <= 4e-7);
        }
    }
    CHECK_MSG(bad == 0, "log1p: %ld points beyond 4e-7 relative (worst %.3g)", bad, worst);
    CHECK(mzf_log1p(0.0f) == 0.0f);
    CHECK(mzf_log1p(-1.0f) == -INFINITY);
    CHECK(isnan(mzf_log1p(-2.0f)));
    CHECK(mzf_log1p(INFINITY) == INFINITY);
    CHECK(isnan(mzf_log1p(NAN)));
    CHECK(mzf_log1p(1e-30f) == 1e-30f);
    printf("  log1p: worst relative error %.3g\n", worst);

    double wc = 0;
    for (uint32_t u = 0; u < (1u << 24); u += 97) {
        float t = (float)u * (1.0f / 16777216.0f), c, s;
        mzf_cossin_turns(t, &c, &s);
        double a = 6.283185307179586 * (double)t;
        wc = fmax(wc, fmax(fabs(c - cos(a)), fabs(s - sin(a))));
    }
    CHECK_MSG(wc <= 3e-7, "cos/sin in turns: worst absolute error %.3g", wc);
    printf("  cos/sin(2 pi t): worst absolute error %.3g\n", wc);
}

static void test_noise(void)
{
    enum { N = 1 << 20 };
    float *z = malloc(sizeof(float) * N), *z2 = malloc(sizeof(float) * N);
    if (!z || !z2) {
        CHECK_MSG(0, "out of memory");
        free(z), free(z2);
        return;
    }
    mz_ard_noise(77, 3, 41, 2, 0, N, z);
    /* a slice starting anywhere gives the same numbers */
    mz_ard_noise(77, 3, 41, 2, 12345, 1001, z2);
    CHECK(same_bits(z + 12345, z2, 1001 * sizeof(float)));
    mz_ard_noise(77, 3, 41, 2, 3, 2, z2);
    CHECK(same_bits(z + 3, z2, 2 * sizeof(float)));
    mz_ard_noise(77, 3, 41, 2, 0, N, z2);
    CHECK(same_bits(z, z2, sizeof(float) * N));
    /* every part of the key changes the numbers */
    const int64_t keys[4][4] = {{78, 3, 41, 2}, {77, 4, 41, 2}, {77, 3, 42, 2}, {77, 3, 41, 3}};
    for (int k = 0; k < 4; k++) {
        mz_ard_noise(keys[k][0], (int)keys[k][1], (int)keys[k][2], (int)keys[k][3], 0, 4096, z2);
        long same = 0;
        for (int i = 0; i < 4096; i++)
            same += z[i] == z2[i];
        CHECK_MSG(same < 4, "noise key %d: %ld of 4096 numbers equal", k, same);
    }
    /* moments: mean 0, variance 1, skewness 0, kurtosis 3, P(|z| > 1.96) = 0.05 */
    double m1 = 0, m2 = 0, m3 = 0, m4 = 0, tail = 0;
    for (int i = 0; i < N; i++) {
        double v = z[i];
        m1 += v, m2 += v * v, m3 += v * v * v, m4 += v * v * v * v;
        tail += fabs(v) > 1.959964;
    }
    m1 /= N, m2 /= N, m3 /= N, m4 /= N, tail /= N;
    double se = 1.0 / sqrt((double)N);
    CHECK_MSG(fabs(m1) < 5 * se, "noise mean %.3g", m1);
    CHECK_MSG(fabs(m2 - 1) < 5 * sqrt(2.0) * se, "noise variance %.6f", m2);
    CHECK_MSG(fabs(m3) < 5 * sqrt(15.0) * se, "noise third moment %.3g", m3);
    CHECK_MSG(fabs(m4 - 3) < 5 * sqrt(96.0) * se, "noise fourth moment %.4f", m4);
    CHECK_MSG(fabs(tail - 0.05) < 5 * sqrt(0.05 * 0.95) * se, "noise P(|z|>1.96) %.5f", tail);
    /* the same Box-Muller in double from the same words */
    mz_rng_stream s = mz_rng_make(77, MZ_RNG_SPARSE, 3, 41, 2);
    double worst = 0;
    for (uint32_t blk = 0; blk < N / 4; blk++) {
        uint32_t w[4];
        mz_rng_block(&s, blk, w);
        for (int p = 0; p < 2; p++) {
            double u1 = ((double)(w[2 * p] >> 8) + 1.0) / 16777216.0;
            double u2 = (double)(w[2 * p + 1] >> 8) / 16777216.0;
            double r = sqrt(-2.0 * log(u1)), a = 6.283185307179586 * u2;
            worst = fmax(worst, fabs(z[4 * blk + 2 * p] - r * cos(a)));
            worst = fmax(worst, fabs(z[4 * blk + 2 * p + 1] - r * sin(a)));
        }
    }
    CHECK_MSG(worst <= 4e-6, "noise vs double Box-Muller: %.3g", worst);
    printf("  noise: mean %.2e var %.5f m3 %.2e m4 %.4f tail %.5f; vs double Box-Muller %.2e\n", m1,
           m2, m3, m4, tail, worst);
    free(z), free(z2);
}

static double kl_double(double la)
{
    double s = 1 / (1 + exp(-(1.8732 + 1.48695 * la)));
    return -(0.63576 * s - 0.5 * log1p(exp(-la)) - 0.63576);
}

static void test_kl(void)
{
    /* the reference's orientation values */
    CHECK_NEAR(mzf_ard_kl(-10.0f), 5.636, 5e-4);
    CHECK_NEAR(mzf_ard_kl(0.0f), 0.431, 5e-4);
    CHECK_NEAR(mzf_ard_kl(3.0f), 0.0254, 5e-5);
    /* the schedule: -0.0004 for the evaluation before training, 0 for the first epoch, 0.0096
     * for the 25th */
    CHECK(mz_ard_kl_weight(0, 25) == -0.0004f);
    CHECK(mz_ard_kl_weight(1, 25) == 0.0f);
    CHECK(mz_ard_kl_weight(25, 25) == 0.0096f);
    CHECK(mz_ard_kl_weight(2, 25) == (float)(0.01 * 1 / 25.0));
    CHECK(mz_ard_kl_weight(1000, 5) == 1.0f);
    /* over the clamped range: 2e-6 relative, plus the rounding of k1 s - k1 (the formula's own
     * cancellation, the same in torch: 1.2e-7 absolute) near the top; the derivative likewise
     * with s (1 - s) */
    double wk = 0, wd = 0;
    for (int k = -2000; k <= 2000; k++) {
        float la = (float)k / 200.0f;
        double r = kl_double(la);
        wk = fmax(wk, fabs(mzf_ard_kl(la) - r) / (2e-6 * fabs(r) + 1.5e-7));
        double h = 1e-4, d = (kl_double(la + h) - kl_double(la - h)) / (2 * h);
        wd = fmax(wd, fabs(mzf_ard_dkl(la) - d) / (2e-6 * fabs(d) + 1.5e-7));
    }
    CHECK_MSG(wk <= 1, "KL: worst error %.3g of tolerance", wk);
    CHECK_MSG(wd <= 1, "dKL: worst error %.3g of tolerance", wd);
    printf("  KL worst error %.3f of tolerance, derivative %.3f\n", wk, wd);
}

/* ---- inputs and generated values (tools/make_ard_golden.py) ---- */

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static float bits24(uint64_t seed, long i)
{
    return (float)(mix64(seed * 0x9E3779B97F4A7C15ULL + (uint64_t)i) >> 40);
}

static int make_batch(const json_t *meta, long n, float *x, int32_t *y)
{
    uint64_t seed = (uint64_t)json_integer_value(json_object_get(meta, "seed"));
    double sum = 0;
    for (long i = 0; i < n; i++) {
        x[i] = bits24(seed, i) * (1.0f / 4194304.0f) - 1.0f;
        sum += x[i];
    }
    const json_t *labels = json_object_get(meta, "labels");
    int ok = json_array_size(labels) == GOLDEN_B;
    for (int b = 0; ok && b < GOLDEN_B; b++) {
        y[b] = (int32_t)json_integer_value(json_array_get(labels, (size_t)b));
        ok = y[b] >= 0 && y[b] < 10;
    }
    double want = json_real_value(json_object_get(meta, "checksum"));
    CHECK_MSG(ok && sum == want, "batch %llu: labels / checksum %.17g vs %.17g",
              (unsigned long long)seed, sum, want);
    return ok && sum == want;
}

/* noise of every ARD layer: eps[o] = [B][out_size] from the seeds */
static void make_noise(const mz_arch *a, const json_t *seeds, float **eps)
{
    for (int i = 0; i < a->n_layers; i++) {
        const mz_layer *l = &a->layers[i];
        if (l->kind != MZ_LAYER_CONV && l->kind != MZ_LAYER_LINEAR)
            continue;
        uint64_t seed = (uint64_t)json_integer_value(json_array_get(seeds, (size_t)l->ard_ordinal));
        for (long e = 0; e < l->out_size * GOLDEN_B; e++)
            eps[l->ard_ordinal][e] = bits24(seed, e) * (1.0f / 4194304.0f) - 2.0f;
    }
}

/* parameters from the manifest's per-tensor generators */
static int make_params(const json_t *c, const mz_arch *a, float *p)
{
    const json_t *tensors = json_object_get(c, "tensors");
    if (json_array_size(tensors) != (size_t)a->n_tensors)
        return 0;
    for (int t = 0; t < a->n_tensors; t++) {
        const json_t *jt = json_array_get(tensors, (size_t)t);
        uint64_t seed = (uint64_t)json_integer_value(json_object_get(jt, "seed"));
        float lo = (float)json_number_value(json_object_get(jt, "lo"));
        float width = (float)json_number_value(json_object_get(jt, "width"));
        const mz_tensor_desc *d = &a->tensors[t];
        for (long i = 0; i < d->count; i++)
            p[d->offset + i] = lo + width * (bits24(seed, i) * (1.0f / 16777216.0f));
    }
    const json_t *zeros = json_object_get(c, "zeros");
    for (size_t k = 0; k < json_array_size(zeros); k++) {
        const json_t *z = json_array_get(zeros, k);
        int t = (int)json_integer_value(json_array_get(z, 0));
        long i = (long)json_integer_value(json_array_get(z, 1));
        p[a->tensors[t].offset + i] = 0.0f;
    }
    double sum = 0;
    for (int64_t i = 0; i < a->n_params; i++)
        sum += p[i];
    double want = json_real_value(json_object_get(c, "params_checksum"));
    CHECK_MSG(sum == want, "parameters checksum %.17g, manifest %.17g", sum, want);
    return sum == want;
}

/* ---- comparison ---- */

/* Worst errors of a category: as a fraction of the tolerance, absolute, and relative (over the
 * elements above 1e-3 of their array's largest magnitude). */
typedef struct stat {
    double ratio, abs, rel;
} stat;

static void stat_add(stat *st, double d, double lim, double ref, double scale)
{
    if (d / lim > st->ratio)
        st->ratio = d / lim;
    if (d > st->abs)
        st->abs = d;
    if (fabs(ref) > 1e-3 * scale && d / fabs(ref) > st->rel)
        st->rel = d / fabs(ref);
}

/* |a-b| <= atol + rtol |b| + stol max|b|; returns the number of elements out of bound. */
static long compare(const char *cs, const char *what, const float *a, const float *b, long n,
                    double rtol, double atol, double stol, stat *worst)
{
    double scale = 0;
    for (long i = 0; i < n; i++)
        scale = fmax(scale, fabs(b[i]));
    long bad = 0, first = -1;
    for (long i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]), lim = atol + rtol * fabs(b[i]) + stol * scale;
        if (!(d <= lim) && bad++ == 0)
            first = i;
        stat_add(worst, d, lim, b[i], scale);
    }
    if (bad)
        fprintf(stderr, "  %s: %s: %ld of %ld out of bound; first [%ld] %.9g vs torch %.9g\n", cs,
                what, bad, n, first, (double)a[first], (double)b[first]);
    CHECK_MSG(bad == 0, "%s: %s", cs, what);
    return bad;
}

static int is_log_sigma2(const mz_tensor_desc *d)
{
    return strstr(d->name, "log_sigma2") != NULL;
}

static void compare_grads(const char *cs, const mz_arch *a, const float *g, const float *ref,
                          double klw, stat *worst)
{
    for (int t = 0; t < a->n_tensors; t++) {
        const mz_tensor_desc *d = &a->tensors[t];
        char what[128];
        snprintf(what, sizeof what, "grad %s", d->name);
        double atol = 1e-7 + (is_log_sigma2(d) ? 1e-6 * fabs(klw) : 0);
        compare(cs, what, g + d->offset, ref + d->offset, (long)d->count, 1e-4, atol, 1e-5, worst);
    }
}

static void compare_weights(const char *cs, const char *what, const mz_arch *a, const float *w,
                            const float *ref, const float *w0, double lr, stat *worst)
{
    for (int t = 0; t < a->n_tensors; t++) {
        const mz_tensor_desc *d = &a->tensors[t];
        double maxD = 0;
        for (int64_t i = d->offset; i < d->offset + d->count; i++)
            maxD = fmax(maxD, fabs((double)ref[i] - w0[i]));
        long bad = 0, first = -1;
        double scale = 0;
        for (int64_t i = d->offset; i < d->offset + d->count; i++)
            scale = fmax(scale, fabs(ref[i]));
        for (int64_t i = d->offset; i < d->offset + d->count; i++) {
            double D = fabs((double)ref[i] - w0[i]);
            double err = fabs((double)w[i] - ref[i]);
            double bound = 1e-5 * fabs(ref[i]) + 1e-3 * lr + 1e-4 * D + 1e-5 * maxD;
            if (!(err <= bound) && bad++ == 0)
                first = (long)i;
            stat_add(worst, err, bound, ref[i], scale);
        }
        if (bad)
            fprintf(stderr, "  %s: %s: %s: %ld of %lld out of bound; first [%ld] %.9g vs %.9g\n",
                    cs, what, d->name, bad, (long long)d->count, first, (double)w[first],
                    (double)ref[first]);
        CHECK_MSG(bad == 0, "%s: %s: %s", cs, what, d->name);
    }
}

static void check_scalar(const char *cs, const char *what, double v, double ref, double tol,
                         stat *worst)
{
    double e = fabs(v - ref);
    CHECK_MSG(e <= tol, "%s: %s %.9g, torch %.9g (tol %.3g)", cs, what, v, ref, tol);
    stat_add(worst, e, tol, ref, fabs(ref));
}

static int check_layout(const char *cs, const mz_arch *a, const json_t *tensors)
{
    int ok = (size_t)a->n_tensors == json_array_size(tensors);
    CHECK_MSG(ok, "%s: %d tensors, torch %zu", cs, a->n_tensors, json_array_size(tensors));
    int64_t off = 0;
    for (int t = 0; ok && t < a->n_tensors; t++) {
        const mz_tensor_desc *d = &a->tensors[t];
        const json_t *jt = json_array_get(tensors, (size_t)t);
        const char *name = json_string_value(json_object_get(jt, "name"));
        const json_t *shape = json_object_get(jt, "shape");
        int same = name && !strcmp(name, d->name) && (size_t)d->ndim == json_array_size(shape) &&
                   d->offset == off;
        for (int k = 0; same && k < d->ndim; k++)
            same = d->shape[k] == json_integer_value(json_array_get(shape, (size_t)k));
        CHECK_MSG(same, "%s: tensor %d: mzoo %s, torch %s", cs, t, d->name, name ? name : "?");
        ok = ok && same;
        off += d->count;
    }
    return ok && off == a->n_params;
}

typedef struct worst_t {
    stat logits, scalars, grads, steps;
} worst_t;

/* ---- 2. golden cases ---- */

static void run_case(const golden *g, const json_t *c, worst_t *wt)
{
    const char *cs = json_string_value(json_object_get(c, "name"));
    const char *arch_name = json_string_value(json_object_get(c, "arch"));
    int channels = (int)json_integer_value(json_object_get(c, "channels"));
    int hw = (int)json_integer_value(json_object_get(c, "h"));
    int drop_layers = json_is_true(json_object_get(c, "dropout_layers"));
    int act = lookup_act(json_string_value(json_object_get(c, "activation")));
    float klw = (float)json_number_value(json_object_get(c, "kl_weight"));
    long n_params = (long)json_integer_value(json_object_get(c, "n_params"));
    if (!cs || !arch_name || act < 0) {
        CHECK_MSG(0, "malformed case in manifest");
        return;
    }
    mz_arch plain, a;
    mz_error err = {0};
    CHECK_OK(mz_arch_init(&plain, arch_name, channels, hw, hw, drop_layers ? 0.1 : 0.0, &err),
             &err);
    CHECK_OK(mz_arch_init_ard(&a, &plain, &err), &err);
    CHECK_EQ_INT(a.n_params, n_params);
    CHECK_EQ_INT(a.n_ard_weights, json_integer_value(json_object_get(c, "n_weights")));
    if (!check_layout(cs, &a, json_object_get(c, "tensors")))
        return;

    const int B = GOLDEN_B, K = a.n_classes;
    long in_n = (long)B * channels * hw * hw;
    float *p0 = malloc(sizeof(float) * (size_t)n_params);
    float *params = malloc(sizeof(float) * (size_t)n_params);
    float *grads = malloc(sizeof(float) * (size_t)n_params);
    float *x = malloc(sizeof(float) * (size_t)in_n);
    float *ws = malloc(sizeof(float) * (size_t)mz_ard_workspace_floats(&a, B));
    float *eps[MZ_MAX_LAYERS] = {0};
    int ok = p0 && params && grads && x && ws;
    for (int i = 0; ok && i < a.n_layers; i++)
        if (a.layers[i].kind == MZ_LAYER_CONV || a.layers[i].kind == MZ_LAYER_LINEAR)
            ok = (eps[a.layers[i].ard_ordinal] =
                      malloc(sizeof(float) * (size_t)(a.layers[i].out_size * B))) != NULL;
    const float *ref_lt =
        golden_array(g, json_string_value(json_object_get(c, "logits_train")), (long)B * K);
    const float *ref_le =
        golden_array(g, json_string_value(json_object_get(c, "logits_eval")), (long)B * K);
    const float *ref_g = golden_array(g, json_string_value(json_object_get(c, "grads")), n_params);
    ok = ok && ref_lt && ref_le && ref_g && make_params(c, &a, p0);
    float logits[GOLDEN_B * 10], dlogits[GOLDEN_B * 10];
    int32_t y[GOLDEN_B];
    if (!ok) {
        CHECK_MSG(0, "%s: missing arrays, bad parameters or out of memory", cs);
        goto done;
    }

    mz_ard_cfg cfg = {{(mz_activation)act, 0.0f, 1, 1234, 1, 0}, klw, (const float *const *)eps};
    /* training forward, loss terms, backward */
    memcpy(params, p0, sizeof(float) * (size_t)n_params);
    make_batch(json_object_get(c, "batch"), in_n, x, y);
    make_noise(&a, json_object_get(c, "noise_seeds"), eps);
    mz_ard_forward(&a, &cfg, params, x, B, ws, logits);
    compare(cs, "train logits", logits, ref_lt, (long)B * K, 1e-5, 1e-5, 3e-6, &wt->logits);
    float ce = mz_ref_loss(logits, y, B, K, dlogits, NULL);
    float kl = mz_ard_kl(&a, params);
    float elbo = ce + klw * kl;
    double ref_ce = json_real_value(json_object_get(c, "ce"));
    double ref_kl = json_real_value(json_object_get(c, "kl"));
    check_scalar(cs, "CE", ce, ref_ce, 1e-5 + 1e-5 * fabs(ref_ce), &wt->scalars);
    check_scalar(cs, "KL", kl, ref_kl, 2e-6 * fabs(ref_kl), &wt->scalars);
    double ref_elbo = json_real_value(json_object_get(c, "elbo"));
    check_scalar(cs, "ELBO", elbo, ref_elbo,
                 1e-5 + 1e-5 * fabs(ref_elbo) + 2e-6 * fabs(klw * ref_kl), &wt->scalars);
    mz_ard_backward(&a, &cfg, params, B, dlogits, ws, grads);
    compare_grads(cs, &a, grads, ref_g, klw, &wt->grads);
    /* linear log_sigma2_bias: no gradient at all */
    for (int i = 0; i < a.n_layers; i++)
        if (a.layers[i].kind == MZ_LAYER_LINEAR)
            for (int k = 0; k < a.layers[i].out_c; k++)
                CHECK(grads[a.layers[i].sb_off + k] == 0.0f);

    /* eval forward (clipped), eval loss with the KL term, dropped weights */
    cfg.fwd.train = 0;
    mz_ard_forward(&a, &cfg, params, x, B, ws, logits);
    compare(cs, "eval logits", logits, ref_le, (long)B * K, 1e-5, 1e-5, 3e-6, &wt->logits);
    float eval_loss = mz_ref_loss(logits, y, B, K, NULL, NULL) + klw * kl;
    double ref_el = json_real_value(json_object_get(c, "eval_loss"));
    check_scalar(cs, "eval loss", eval_loss, ref_el,
                 1e-5 + 1e-5 * fabs(ref_el) + 2e-6 * fabs(klw * ref_kl), &wt->scalars);
    CHECK_EQ_INT(mz_ard_dropped(&a, params), json_integer_value(json_object_get(c, "dropped")));
    cfg.fwd.train = 1;

    /* optimizer trajectories */
    const json_t *trajs = json_object_get(c, "trajectories");
    for (size_t ti = 0; ti < json_array_size(trajs); ti++) {
        const json_t *tj = json_array_get(trajs, ti);
        const char *opt = json_string_value(json_object_get(tj, "optimizer"));
        const char *tname = json_string_value(json_object_get(tj, "name"));
        mz_optim_cfg oc = {0};
        oc.type = opt && !strcmp(opt, "adam") ? MZ_OPT_ADAM : MZ_OPT_SGD;
        oc.lr = json_number_value(json_object_get(tj, "lr"));
        oc.weight_decay = json_number_value(json_object_get(tj, "weight_decay"));
        oc.momentum = json_number_value(json_object_get(tj, "momentum"));
        oc.nesterov = json_is_true(json_object_get(tj, "nesterov"));
        oc.beta1 = 0.9, oc.beta2 = 0.999, oc.eps = 1e-8;
        float *state = calloc((size_t)mz_optim_state_floats(oc.type, n_params), sizeof(float));
        const float *ref_w =
            golden_array(g, json_string_value(json_object_get(tj, "weights")), n_params);
        if (!state || !ref_w) {
            CHECK_MSG(0, "%s: trajectory %zu: missing weights or out of memory", cs, ti);
            free(state);
            continue;
        }
        memcpy(params, p0, sizeof(float) * (size_t)n_params);
        for (int t = 1; t <= 3; t++) {
            make_batch(json_array_get(json_object_get(tj, "batches"), (size_t)(t - 1)), in_n, x, y);
            make_noise(&a, json_array_get(json_object_get(tj, "noise_seeds"), (size_t)(t - 1)),
                       eps);
            mz_ard_forward(&a, &cfg, params, x, B, ws, logits);
            float l = mz_ref_loss(logits, y, B, K, dlogits, NULL) + klw * mz_ard_kl(&a, params);
            double rl =
                json_number_value(json_array_get(json_object_get(tj, "losses"), (size_t)(t - 1)));
            char what[96];
            snprintf(what, sizeof what, "%s step %d loss", tname, t);
            check_scalar(cs, what, l, rl, 1e-5 + 1e-5 * fabs(rl) + 2e-6 * fabs(klw * ref_kl),
                         &wt->scalars);
            mz_ard_backward(&a, &cfg, params, B, dlogits, ws, grads);
            mz_ard_optim_step(&a, &oc, params, grads, state, t);
        }
        char what[96];
        snprintf(what, sizeof what, "%s weights after 3 steps", tname);
        compare_weights(cs, what, &a, params, ref_w, p0, oc.lr, &wt->steps);
        free(state);
    }
    /* coverage: log alpha below, inside and above its clamps, and above the threshold */
    long low = 0, high = 0, pruned = 0;
    for (int i = 0; i < a.n_layers; i++) {
        const mz_layer *l = &a.layers[i];
        if (l->kind != MZ_LAYER_CONV && l->kind != MZ_LAYER_LINEAR)
            continue;
        float hi = mz_ard_clamp_of(l);
        for (int64_t k = 0; k < l->b_off - l->w_off; k++) {
            mz_ard_elem e = mz_ard_elem_of(p0[l->w_off + k], p0[l->s_off + k], hi);
            low += e.u < -hi;
            high += e.u > hi;
            pruned += e.la >= MZ_ARD_THRESHOLD;
        }
    }
    CHECK(low > 0 && high > 0 && pruned > 0);
    printf("  %-20s KL %8.1f; log alpha of %5lld weights: %4ld below the clamp, %2ld above, %3ld "
           "dropped; %zu trajectories\n",
           cs, (double)kl, (long long)a.n_ard_weights, low, high, pruned, json_array_size(trajs));
done:
    for (int o = 0; o < MZ_MAX_LAYERS; o++)
        free(eps[o]);
    free(p0), free(params), free(grads), free(x), free(ws);
}

static void test_golden(void)
{
    const char *dir = getenv("MZ_TEST_DATA");
    golden g = {0};
    if (!dir || !golden_load(&g, dir, "ard")) {
        CHECK_MSG(0, "cannot load golden files (MZ_TEST_DATA=%s)", dir ? dir : "unset");
        return;
    }
    CHECK_EQ_INT(json_integer_value(json_object_get(g.root, "format")), 1);
    CHECK_EQ_INT(json_integer_value(json_object_get(g.root, "batch_size")), GOLDEN_B);
    const json_t *cases = json_object_get(g.root, "cases");
    CHECK(json_array_size(cases) >= 6);
    worst_t wt = {0};
    for (size_t i = 0; i < json_array_size(cases); i++)
        run_case(&g, json_array_get(cases, i), &wt);
    const struct {
        const char *what;
        const stat *s;
    } rows[] = {{"logits (train, eval)", &wt.logits},
                {"CE, KL, ELBO, eval and step losses", &wt.scalars},
                {"gradients (every tensor)", &wt.grads},
                {"weights after 3 optimizer steps", &wt.steps}};
    printf("  %-36s %-12s %-12s %s\n", "worst against torch", "abs", "rel", "of tolerance");
    for (int r = 0; r < 4; r++)
        printf("  %-36s %-12.3g %-12.3g %.3f\n", rows[r].what, rows[r].s->abs, rows[r].s->rel,
               rows[r].s->ratio);
    json_decref(g.root);
    free(g.blob);
}

/* ---- 3. the twin against its plain model ---- */

static void test_against_plain(void)
{
    const struct {
        const char *arch;
        int c, hw;
        double dropout;
        mz_activation act;
    } cases[] = {
        {"cnn-s", 1, 28, 0.0, MZ_ACT_TANH},
        {"cnn-s", 3, 28, 0.5, MZ_ACT_GELU},
        {"cnn-l", 3, 32, 0.0, MZ_ACT_RELU},
    };
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        mz_arch plain, a;
        mz_error err = {0};
        CHECK_OK(mz_arch_init(&plain, cases[ci].arch, cases[ci].c, cases[ci].hw, cases[ci].hw,
                              cases[ci].dropout, &err),
                 &err);
        CHECK_OK(mz_arch_init_ard(&a, &plain, &err), &err);
        CHECK(a.ard && !plain.ard && a.n_layers == plain.n_layers);
        CHECK(mz_arch_init_ard(&a, &a, &err) != MZ_OK);
        const int B = 3;
        long in_n = (long)B * cases[ci].c * cases[ci].hw * cases[ci].hw;
        float *pp = malloc(sizeof(float) * (size_t)plain.n_params);
        float *pa = malloc(sizeof(float) * (size_t)a.n_params);
        float *x = malloc(sizeof(float) * (size_t)in_n);
        float *wsp = malloc(sizeof(float) * (size_t)mz_ref_workspace_floats(&plain, B));
        float *wsa = malloc(sizeof(float) * (size_t)mz_ard_workspace_floats(&a, B));
        float *zeros = calloc((size_t)(a.max_layer_size * B), sizeof(float));
        if (!pp || !pa || !x || !wsp || !wsa || !zeros) {
            CHECK_MSG(0, "out of memory");
            free(pp), free(pa), free(x), free(wsp), free(wsa), free(zeros);
            continue;
        }
        mz_arch_init_params(&plain, MZ_INIT_KAIMING_UNIFORM, 5, pp);
        for (int64_t i = 0; i < plain.n_params; i++) /* nothing near exp(-6.5): none clipped */
            if (fabsf(pp[i]) < 0.01f)
                pp[i] = copysignf(0.01f, pp[i]);
        mz_rng_stream s = mz_rng_make(6, MZ_RNG_USER, 0, 0, 0);
        mz_rng_uniform(&s, x, (size_t)in_n, -1.0f, 2.0f);
        mz_ard_params_from_plain(&a, &plain, pp, pa);
        /* layout of the twin's vector */
        int ok = 1;
        for (int i = 0; i < a.n_layers; i++) {
            const mz_layer *l = &a.layers[i], *pl = &plain.layers[i];
            if (l->kind != MZ_LAYER_CONV && l->kind != MZ_LAYER_LINEAR)
                continue;
            ok &= same_bits(pa + l->w_off, pp + pl->w_off,
                            sizeof(float) * (size_t)(l->b_off - l->w_off));
            ok &= same_bits(pa + l->b_off, pp + pl->b_off, sizeof(float) * (size_t)l->out_c);
            for (int64_t k = l->s_off; k < l->sb_off + l->out_c; k++)
                ok &= pa[k] == -10.0f;
        }
        CHECK_MSG(ok, "%s: twin parameters from the plain checkpoint", plain.variant);
        float lp[3 * 10], la[3 * 10];
        mz_fwd_cfg fc = {cases[ci].act, (float)cases[ci].dropout, 1, 99, 2, 7};
        mz_ref_forward(&plain, &fc, pp, x, B, wsp, lp);
        /* training mode, zero noise: y = mu + si * 0 is the plain forward (dropout masks too) */
        const float *eps[MZ_MAX_LAYERS];
        for (int o = 0; o < MZ_MAX_LAYERS; o++)
            eps[o] = zeros;
        mz_ard_cfg cfg = {fc, 0.0f, eps};
        mz_ard_forward(&a, &cfg, pa, x, B, wsa, la);
        CHECK_MSG(same_bits(lp, la, sizeof lp), "%s: train, zero noise", plain.variant);
        /* eval: log alpha = -10 - 2 log|theta| < 3 everywhere, so nothing is clipped and the eval
         * forward is the plain one */
        CHECK_EQ_INT(mz_ard_dropped(&a, pa), 0);
        fc.train = 0, cfg.fwd.train = 0;
        mz_ref_forward(&plain, &fc, pp, x, B, wsp, lp);
        mz_ard_forward(&a, &cfg, pa, x, B, wsa, la);
        CHECK_MSG(same_bits(lp, la, sizeof lp), "%s: eval, nothing clipped", plain.variant);
        printf("  %-24s twin from a checkpoint: train (zero noise) and eval logits are the plain "
               "model's\n",
               plain.variant);
        /* and a weight below exp(-6.5) is clipped at log_sigma2 = -10: set one and see it drop */
        pa[a.layers[0].w_off] = 1e-3f;
        CHECK_EQ_INT(mz_ard_dropped(&a, pa), 1);
        free(pp), free(pa), free(x), free(wsp), free(wsa), free(zeros);
    }
}

/* mz_ard_optim_step = mz_optim_step except on the linear layers' log_sigma2_bias, which keep
 * their values and optimizer state (weight decay included), for Adam and SGD with momentum. */
static void test_optim_skip(void)
{
    mz_arch plain, a;
    mz_error err = {0};
    CHECK_OK(mz_arch_init(&plain, "cnn-s", 1, 28, 28, 0.0, &err), &err);
    CHECK_OK(mz_arch_init_ard(&a, &plain, &err), &err);
    mz_span spans[MZ_MAX_LAYERS];
    int ns = mz_ard_frozen_spans(&a, spans);
    CHECK_EQ_INT(ns, 2);
    int64_t n = a.n_params;
    float *p1 = malloc(sizeof(float) * (size_t)n), *p2 = malloc(sizeof(float) * (size_t)n);
    float *g = malloc(sizeof(float) * (size_t)n), *p0 = malloc(sizeof(float) * (size_t)n);
    float *s1 = malloc(sizeof(float) * 2 * (size_t)n), *s2 = malloc(sizeof(float) * 2 * (size_t)n);
    if (!p1 || !p2 || !g || !p0 || !s1 || !s2) {
        CHECK_MSG(0, "out of memory");
        free(p1), free(p2), free(g), free(p0), free(s1), free(s2);
        return;
    }
    for (int opt = 0; opt < 2; opt++) {
        mz_optim_cfg oc = {opt ? MZ_OPT_SGD : MZ_OPT_ADAM, 1e-2, 1e-2, 0.9, 0, 0.9, 0.999, 1e-8};
        mz_rng_stream s = mz_rng_make(3, MZ_RNG_USER, 7, (uint32_t)opt, 0);
        mz_rng_uniform(&s, p1, (size_t)n, -1.0f, 1.0f);
        memcpy(p2, p1, sizeof(float) * (size_t)n);
        memcpy(p0, p1, sizeof(float) * (size_t)n);
        memset(s1, 0, sizeof(float) * 2 * (size_t)n);
        memset(s2, 0, sizeof(float) * 2 * (size_t)n);
        for (int t = 1; t <= 3; t++) {
            s = mz_rng_make(3, MZ_RNG_USER, 8, (uint32_t)t, 0);
            mz_rng_uniform(&s, g, (size_t)n, -1.0f, 1.0f);
            mz_optim_step(&oc, p1, g, s1, n, t);
            mz_ard_optim_step(&a, &oc, p2, g, s2, t);
        }
        int64_t nstate = mz_optim_state_floats(oc.type, n);
        int ok = 1, k = 0;
        for (int64_t i = 0; i < n; i++) {
            int frozen = k < ns && i >= spans[k].first && i < spans[k].first + spans[k].count;
            if (k < ns && i == spans[k].first + spans[k].count - 1)
                k++;
            int moved = p2[i] != p1[i] || s2[i] != s1[i] || (nstate > n && s2[n + i] != s1[n + i]);
            ok &= frozen ? (s2[i] == 0.0f && (nstate == n || s2[n + i] == 0.0f) && p2[i] == p0[i] &&
                            p1[i] != p0[i])
                         : !moved;
        }
        CHECK_MSG(ok, "%s: frozen spans kept, everything else as mz_optim_step",
                  opt ? "sgd" : "adam");
    }
    free(p1), free(p2), free(g), free(p0), free(s1), free(s2);
}

/* ---- 4. finite differences ---- */

typedef struct model {
    mz_arch a;
    mz_ard_cfg cfg;
    int B;
    float *params, *x, *ws, *logits;
    double *r;
} model;

static int model_make(model *m, const char *arch, int c, int hw, double dropout, mz_activation act,
                      int B, uint64_t seed, float klw)
{
    memset(m, 0, sizeof *m);
    mz_arch plain;
    mz_error err = {0};
    if (mz_arch_init(&plain, arch, c, hw, hw, dropout, &err) != MZ_OK ||
        mz_arch_init_ard(&m->a, &plain, &err) != MZ_OK) {
        CHECK_MSG(0, "%s", err.msg);
        return 0;
    }
    m->B = B;
    mz_fwd_cfg fc = {act, (float)dropout, 1, (int64_t)seed, 3, 17};
    m->cfg.fwd = fc;
    m->cfg.kl_weight = klw;
    int K = m->a.n_classes;
    int64_t in_n = (int64_t)B * c * hw * hw;
    float *pp = malloc(sizeof(float) * (size_t)plain.n_params);
    m->params = malloc(sizeof(float) * (size_t)m->a.n_params);
    m->x = malloc(sizeof(float) * (size_t)in_n);
    m->ws = malloc(sizeof(float) * (size_t)mz_ard_workspace_floats(&m->a, B));
    m->logits = malloc(sizeof(float) * (size_t)(B * K));
    m->r = malloc(sizeof(double) * (size_t)(B * K));
    if (!pp || !m->params || !m->x || !m->ws || !m->logits || !m->r) {
        free(pp);
        return 0;
    }
    mz_arch_init_params(&plain, MZ_INIT_KAIMING_UNIFORM, (int64_t)seed, pp);
    mz_ard_params_from_plain(&m->a, &plain, pp, m->params);
    free(pp);
    /* biases spread out; log_sigma2 in [-14, -2] so that log alpha spans its range, some values
     * clamped; weights on the 2^-12 grid, log_sigma2 on the 2^-8 grid (perturbations exact) */
    for (int t = 0; t < m->a.n_tensors; t++) {
        const mz_tensor_desc *d = &m->a.tensors[t];
        float *v = m->params + d->offset;
        mz_rng_stream s = mz_rng_make(seed, MZ_RNG_USER, 1, (uint32_t)t, 0);
        if (strstr(d->name, "log_sigma2")) {
            mz_rng_uniform(&s, v, (size_t)d->count, -14.0f, -2.0f);
            for (int64_t i = 0; i < d->count; i++)
                v[i] = roundf(v[i] * 256.0f) / 256.0f;
            continue;
        }
        if (d->ndim == 1)
            mz_rng_uniform(&s, v, (size_t)d->count, -0.2f, 0.2f);
        for (int64_t i = 0; i < d->count; i++)
            v[i] = roundf(v[i] * 4096.0f) / 4096.0f;
    }
    mz_rng_stream s = mz_rng_make(seed, MZ_RNG_USER, 2, 0, 0);
    mz_rng_uniform(&s, m->x, (size_t)in_n, -1.0f, 2.0f);
    float *rf = malloc(sizeof(float) * (size_t)(B * K));
    if (!rf)
        return 0;
    s = mz_rng_make(seed, MZ_RNG_USER, 3, 0, 0);
    mz_rng_uniform(&s, rf, (size_t)(B * K), -1.0f, 1.0f);
    for (int i = 0; i < B * K; i++)
        m->r[i] = rf[i];
    free(rf);
    return 1;
}

static void model_free(model *m)
{
    free(m->params), free(m->x), free(m->ws), free(m->logits), free(m->r);
}

static double J(model *m)
{
    mz_ard_forward(&m->a, &m->cfg, m->params, m->x, m->B, m->ws, m->logits);
    double j = 0;
    for (int i = 0; i < m->B * m->a.n_classes; i++)
        j += m->r[i] * m->logits[i];
    /* the KL sum in double here (mz_ard_kl rounds it to float, whose ulp at 1e4 would hide the
     * change made by one coordinate) */
    double kl = 0;
    const mz_arch *a = &m->a;
    for (int i = 0; i < a->n_layers; i++) {
        const mz_layer *l = &a->layers[i];
        if (l->kind != MZ_LAYER_CONV && l->kind != MZ_LAYER_LINEAR)
            continue;
        float hi = mz_ard_clamp_of(l);
        int64_t nw = l->b_off - l->w_off;
        for (int64_t k = 0; k < nw; k++)
            kl +=
                mzf_ard_kl(mz_ard_elem_of(m->params[l->w_off + k], m->params[l->s_off + k], hi).la);
        for (int64_t k = 0; l->kind == MZ_LAYER_CONV && k < l->out_c; k++)
            kl += mzf_ard_kl(
                mz_ard_elem_of(m->params[l->b_off + k], m->params[l->sb_off + k], hi).la);
    }
    return j + (double)m->cfg.kl_weight * kl;
}

static double J_at(model *m, int64_t i, float delta)
{
    float p = m->params[i];
    m->params[i] = p + delta;
    double j = J(m);
    m->params[i] = p;
    return j;
}

/* rounding noise of J: second differences at steps of 2^-20 along a few weight coordinates */
static double J_noise(model *m)
{
    double worst = 0;
    const mz_tensor_desc *w0 = &m->a.tensors[0], *w1 = &m->a.tensors[4];
    for (int k = 0; k < 4; k++) {
        const mz_tensor_desc *d = k % 2 ? w1 : w0;
        int64_t i = d->offset + (int64_t)(((uint64_t)k * 2654435761u) % (uint64_t)d->count);
        double v[5];
        for (int j = 0; j < 5; j++)
            v[j] = J_at(m, i, (float)j * (1.0f / 1048576.0f));
        for (int j = 1; j < 4; j++)
            worst = fmax(worst, fabs(v[j - 1] - 2 * v[j] + v[j + 1]) / 2);
    }
    return worst > 0 ? worst : 1e-300;
}

/* As tests/test_nn_gradcheck.c's gradcheck (the kinks here also include the log alpha clamps). */
static double gradcheck(model *m, const char *what, int n_coords)
{
    const mz_arch *a = &m->a;
    float *g = malloc(sizeof(float) * (size_t)a->n_params);
    float *dl = malloc(sizeof(float) * (size_t)(m->B * a->n_classes));
    if (!g || !dl) {
        free(g), free(dl);
        CHECK_MSG(0, "out of memory");
        return 0;
    }
    double j0 = J(m);
    for (int i = 0; i < m->B * a->n_classes; i++)
        dl[i] = (float)m->r[i];
    mz_ard_backward(a, &m->cfg, m->params, m->B, dl, m->ws, g);
    double noise = J_noise(m);
    double worst = 0;
    int checked = 0, skipped = 0, one_sided = 0;
    mz_rng_stream s = mz_rng_make(99, MZ_RNG_USER, 4, 0, 0);
    uint64_t draw = 0;
    for (int t = 0; t < a->n_tensors; t++) {
        const mz_tensor_desc *d = &a->tensors[t];
        double gmax = 0;
        for (int64_t i = 0; i < d->count; i++)
            gmax = fmax(gmax, fabs(g[d->offset + i]));
        int unused = 0; /* linear layers' log_sigma2_bias */
        for (int li = 0; li < a->n_layers; li++)
            unused |= a->layers[li].kind == MZ_LAYER_LINEAR && a->layers[li].sb_off == d->offset;
        if (unused) {
            CHECK_MSG(gmax == 0, "%s: %s: gradient not zero", what, d->name);
            continue;
        }
        CHECK_MSG(gmax > 0, "%s: %s: gradient identically zero", what, d->name);
        int n = d->count < n_coords ? (int)d->count : n_coords;
        for (int k = 0; k < n; k++) {
            int64_t i =
                d->offset +
                (d->count <= n_coords ? k : (int64_t)mz_rng_below(&s, &draw, (uint32_t)d->count));
            int done = 0;
            checked++;
            for (float h = 1.0f / 256; h >= 1.0f / 4096 && !done; h /= 4) {
                double jm = J_at(m, i, -h), jmh = J_at(m, i, -h / 2), jph = J_at(m, i, h / 2),
                       jp = J_at(m, i, h);
                double central = (4 * (jph - jmh) / h - (jp - jm) / (2 * h)) / 3;
                double right = (-3 * j0 + 4 * jph - jp) / h, left = (3 * j0 - 4 * jmh + jm) / h;
                double s1 = (jmh - jm) / (h / 2), s2 = (j0 - jmh) / (h / 2),
                       s3 = (jph - j0) / (h / 2), s4 = (jp - jph) / (h / 2);
                double spread = fmax(fabs(s1 - 2 * s2 + s3),
                                     fmax(fabs(s2 - 2 * s3 + s4), fabs(s1 - s2 - s3 + s4)));
                double tol_c = 24 * noise / h + 1e-4 * fabs(central) + 1e-6 * gmax;
                double tol_1 = 48 * noise / h + 1e-4 * fabs(g[i]) + 1e-6 * gmax;
                if (spread <= 12 * noise / h + 1e-4 * fabs(central)) {
                    double e = fabs(central - g[i]);
                    worst = fmax(worst, e / tol_c);
                    CHECK_MSG(e <= tol_c,
                              "%s: %s[%lld]: backward %.9g, finite differences %.9g (tol %.3g)",
                              what, d->name, (long long)(i - d->offset), (double)g[i], central,
                              tol_c);
                    done = 1;
                } else if (fabs(g[i] - left) <= tol_1 || fabs(g[i] - right) <= tol_1) {
                    one_sided++;
                    done = 1;
                }
            }
            skipped += !done;
        }
    }
    CHECK_MSG(skipped * 100 <= checked * 10, "%s: %d of %d coordinates unresolved at kinks", what,
              skipped, checked);
    printf("  %-40s %3d coordinates (%2d one-sided, %d unresolved), worst %.3f of tolerance\n",
           what, checked, one_sided, skipped, worst);
    free(g), free(dl);
    return worst;
}

static void test_gradcheck(void)
{
    for (int act = 0; act < MZ_ACT_COUNT; act++) {
        char what[96];
        model m;
        snprintf(what, sizeof what, "cnn-s c1 %s kl_weight 0.05", act_names[act]);
        if (model_make(&m, "cnn-s", 1, 28, 0.0, (mz_activation)act, 2, 100 + (uint64_t)act, 0.05f))
            gradcheck(&m, what, 4);
        model_free(&m);
        if (act % 2)
            continue;
        snprintf(what, sizeof what, "cnn-s c3 %s dropout 0.3 kl_weight -0.0004", act_names[act]);
        if (model_make(&m, "cnn-s", 3, 28, 0.3, (mz_activation)act, 1, 200 + (uint64_t)act,
                       -0.0004f))
            gradcheck(&m, what, 3);
        model_free(&m);
        snprintf(what, sizeof what, "cnn-l c%d %s dropout 0.2 kl_weight 0.01", act % 4 ? 1 : 3,
                 act_names[act]);
        if (model_make(&m, "cnn-l", act % 4 ? 1 : 3, 32, 0.2, (mz_activation)act, 1,
                       300 + (uint64_t)act, 0.01f))
            gradcheck(&m, what, 2);
        model_free(&m);
    }
}

int main(void)
{
    printf("elementwise:\n");
    test_log1p_cossin();
    test_noise();
    test_kl();
    printf("against PyTorch:\n");
    test_golden();
    printf("against the plain model:\n");
    test_against_plain();
    test_optim_skip();
    printf("finite differences:\n");
    test_gradcheck();
    return check_summary("test_ard");
}
