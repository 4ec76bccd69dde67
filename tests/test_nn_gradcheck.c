/* Finite-difference checks of the reference backward pass (an oracle independent of PyTorch).
 *
 * Parameter gradients: for a small random model (B = 1 or 2) and fixed random weights r[B][K],
 * the scalar J(theta) = sum r * logits(theta) is accumulated in double; mz_ref_backward with
 * dlogits = r must give dJ/dtheta. Sampled coordinates of every tensor are checked, so every conv,
 * pool, activation, dropout, flatten and linear layer is on the path, for every activation on
 * CNN-s (C=1; C=3 with dropout active) and CNN-l. Parameters are rounded to multiples of 2^-12 so
 * that the perturbed values are exact in float; the forward itself is float, so J carries a
 * rounding noise that is measured per model (J_noise) and sets the tolerances. gradcheck()
 * explains how ReLU/LeakyReLU kinks and max-pool switches are told apart from wrong gradients.
 *
 * Also: activations and their derivatives against double-precision formulas, mz_ref_loss (value,
 * gradient vs finite differences and vs the exact softmax - onehot, argmax ties), and dropout
 * (train-mode masks fixed by (seed, epoch, step) so the gradient check sees one function; mask
 * statistics; eval mode and rate 0 are the identity, bit for bit).
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mzoo/nn.h"
#include "nn/nn-impl.h"

static const char *const act_names[] = {"tanh", "relu", "sigmoid", "gelu", "leakyrelu", "silu"};

typedef struct model {
    mz_arch a;
    mz_fwd_cfg fc;
    int B;
    float *params, *x, *ws, *logits;
    double *r; /* [B][K] weights of J */
    int32_t *y;
} model;

static int model_make(model *m, const char *arch, int c, int hw, double dropout, mz_activation act,
                      int B, uint64_t seed)
{
    memset(m, 0, sizeof *m);
    mz_error err = {0};
    if (mz_arch_init(&m->a, arch, c, hw, hw, dropout, &err) != MZ_OK) {
        CHECK_MSG(0, "%s", err.msg);
        return 0;
    }
    m->B = B;
    m->fc.act = act;
    m->fc.dropout = (float)dropout;
    m->fc.train = 1;
    m->fc.seed = (int64_t)seed;
    m->fc.epoch = 3;
    m->fc.step = 17;
    int K = m->a.n_classes;
    int64_t in_n = (int64_t)B * c * hw * hw;
    m->params = malloc(sizeof(float) * (size_t)m->a.n_params);
    m->x = malloc(sizeof(float) * (size_t)in_n);
    m->ws = malloc(sizeof(float) * (size_t)mz_ref_workspace_floats(&m->a, B));
    m->logits = malloc(sizeof(float) * (size_t)(B * K));
    m->r = malloc(sizeof(double) * (size_t)(B * K));
    m->y = malloc(sizeof(int32_t) * (size_t)B);
    if (!m->params || !m->x || !m->ws || !m->logits || !m->r || !m->y)
        return 0;
    /* kaiming-uniform weights (activations neither vanish nor saturate), biases spread out so
     * that bias gradients are not all alike; everything on the 2^-12 grid */
    mz_arch_init_params(&m->a, MZ_INIT_KAIMING_UNIFORM, (int64_t)seed, m->params);
    for (int t = 0; t < m->a.n_tensors; t++) {
        const mz_tensor_desc *d = &m->a.tensors[t];
        if (d->ndim == 1) {
            mz_rng_stream s = mz_rng_make(seed, MZ_RNG_USER, 1, (uint32_t)t, 0);
            mz_rng_uniform(&s, m->params + d->offset, (size_t)d->count, -0.2f, 0.2f);
        }
    }
    for (int64_t i = 0; i < m->a.n_params; i++)
        m->params[i] = roundf(m->params[i] * 4096.0f) / 4096.0f;
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
    for (int b = 0; b < B; b++)
        m->y[b] = (int32_t)(mz_rng_u32(&s, 1000 + (uint64_t)b) % (uint32_t)K);
    return 1;
}

static void model_free(model *m)
{
    free(m->params), free(m->x), free(m->ws), free(m->logits), free(m->r), free(m->y);
}

static double J(model *m)
{
    mz_ref_forward(&m->a, &m->fc, m->params, m->x, m->B, m->ws, m->logits);
    double j = 0;
    for (int i = 0; i < m->B * m->a.n_classes; i++)
        j += m->r[i] * m->logits[i];
    return j;
}

/* J with coordinate i moved by delta (exact: |theta| < 8 on the 2^-12 grid and delta a multiple
 * of 2^-20 need at most 24 significant bits), theta restored afterwards. */
static double J_at(model *m, int64_t i, float delta)
{
    float p = m->params[i];
    m->params[i] = p + delta;
    double j = J(m);
    m->params[i] = p;
    return j;
}

/* The rounding noise of J (the forward is float): second differences of J along a few
 * coordinates at steps of 2^-20, where J is linear far below its rounding. */
static double J_noise(model *m)
{
    double worst = 0;
    for (int k = 0; k < 4; k++) {
        int64_t i = (int64_t)(((uint64_t)k * 2654435761u) % (uint64_t)m->a.n_params);
        double v[5];
        for (int j = 0; j < 5; j++)
            v[j] = J_at(m, i, (float)j * (1.0f / 1048576.0f));
        for (int j = 1; j < 4; j++)
            worst = fmax(worst, fabs(v[j - 1] - 2 * v[j] + v[j + 1]) / 2);
    }
    return worst > 0 ? worst : 1e-300;
}

/* Gradient check of `n_coords` sampled coordinates per tensor. Returns the worst error ratio.
 *
 * At a step h, J is evaluated at theta + {-h, -h/2, 0, h/2, h}. From these: the central estimate
 * (Richardson's extrapolation of the central differences at h and h/2, error O(h^4)), the two
 * one-sided estimates (three points each) and the slopes s1..s4 of the four intervals. Where J is
 * smooth the slopes change linearly (their second differences are O(h^2 J''')); a kink of jump D
 * inside [-h, h] moves them by at least D/3 and leaves the central estimate off by at most D/2.
 * So if the spread of the second differences is within the noise, J counts as smooth and the
 * central estimate must match the backward pass: a mismatch is a failure. Otherwise a kink (ReLU,
 * max-pool switch) lies within h of theta -- often a unit of a later layer sits so near its kink
 * that every coordinate sees it -- and the backward pass must give the derivative on theta's
 * side, i.e. match the one-sided estimate of the kink-free side (a wrong gradient matches neither);
 * if it matches neither, the check is retried at a 4x smaller step, and counted as unresolved when
 * no step resolves it (at most 10% may be). */
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
    mz_ref_backward(a, &m->fc, m->params, m->B, dl, m->ws, g);
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
                /* rounding noise: the central estimate carries ~2 noise / h, a one-sided one and
                 * the spread ~8 (worst cases over all models here: 6 and 12) */
                double tol_c = 24 * noise / h + 1e-4 * fabs(central) + 1e-6 * gmax;
                double tol_1 = 48 * noise / h + 1e-4 * fabs(g[i]) + 1e-6 * gmax;
                if (spread <= 12 * noise / h + 1e-4 * fabs(central)) { /* smooth */
                    double err = fabs(central - g[i]);
                    worst = fmax(worst, err / tol_c);
                    CHECK_MSG(err <= tol_c,
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
    printf(
        "  %-34s %3d coordinates (%2d one-sided, %d unresolved), worst error %.3f of tolerance\n",
        what, checked, one_sided, skipped, worst);
    free(g), free(dl);
    return worst;
}

/* ---- activations against double formulas ---- */
static double act_ref(int act, double x)
{
    switch (act) {
    case MZ_ACT_TANH:
        return tanh(x);
    case MZ_ACT_RELU:
        return x > 0 ? x : 0;
    case MZ_ACT_SIGMOID:
        return 1 / (1 + exp(-x));
    case MZ_ACT_GELU:
        return 0.5 * x * (1 + erf(x / sqrt(2.0)));
    case MZ_ACT_LEAKYRELU:
        return x > 0 ? x : 0.01 * x;
    default:
        return x / (1 + exp(-x));
    }
}

static double act_ref_grad(int act, double x)
{
    double s = 1 / (1 + exp(-x));
    switch (act) {
    case MZ_ACT_TANH:
        return 1 - tanh(x) * tanh(x);
    case MZ_ACT_RELU:
        return x > 0 ? 1 : 0;
    case MZ_ACT_SIGMOID:
        return s * (1 - s);
    case MZ_ACT_GELU:
        return 0.5 * (1 + erf(x / sqrt(2.0))) +
               x * exp(-0.5 * x * x) / sqrt(2 * 3.14159265358979323846);
    case MZ_ACT_LEAKYRELU:
        return x > 0 ? 1 : 0.01;
    default:
        return s * (1 + x * (1 - s));
    }
}

static void test_activations(void)
{
    for (int act = 0; act < MZ_ACT_COUNT; act++) {
        double worst_f = 0, worst_g = 0;
        int bad_f = 0, bad_g = 0;
        for (int k = -200000; k <= 200000; k++) {
            float x = (float)k * (1.0f / 16384.0f); /* [-12.2, 12.2] */
            float y = mz_act_forward((mz_activation)act, x);
            double yr = act_ref(act, x);
            /* gelu's 1 + erf(x / sqrt 2) cancels for x < 0 (in torch too): absolute term in x */
            double ef = fabs(y - yr),
                   lf = 4e-7 * fabs(yr) + 1e-37 + (act == MZ_ACT_GELU ? 1e-7 * fabs(x) : 0);
            /* the derivative from the float output: 1 - y^2 and y (1 - y) lose the absolute
             * accuracy of y (6e-8), hence the absolute term */
            float gd = mz_act_backward((mz_activation)act, x, y);
            double gr = act_ref_grad(act, x);
            double eg = fabs(gd - gr), lg = 2e-6 * fabs(gr) + 2.5e-7;
            bad_f += !(ef <= lf);
            bad_g += !(eg <= lg);
            if (ef / lf > worst_f)
                worst_f = ef / lf;
            if (eg / lg > worst_g)
                worst_g = eg / lg;
        }
        CHECK_MSG(bad_f == 0, "%s forward: %d points off", act_names[act], bad_f);
        CHECK_MSG(bad_g == 0, "%s derivative: %d points off", act_names[act], bad_g);
        printf("  activation %-9s forward worst %.3f, derivative worst %.3f of tolerance\n",
               act_names[act], worst_f, worst_g);
        /* limits */
        CHECK(mz_act_forward((mz_activation)act, 0.0f) == 0.0f || act == MZ_ACT_SIGMOID);
        CHECK(isfinite(mz_act_forward((mz_activation)act, 100.0f)));
        CHECK(isfinite(mz_act_forward((mz_activation)act, -100.0f)));
        CHECK(isfinite(mz_act_backward((mz_activation)act, -100.0f,
                                       mz_act_forward((mz_activation)act, -100.0f))));
        CHECK(isfinite(mz_act_backward((mz_activation)act, 100.0f,
                                       mz_act_forward((mz_activation)act, 100.0f))));
    }
    CHECK(mz_act_forward(MZ_ACT_SIGMOID, 0.0f) == 0.5f);
    CHECK(mz_act_forward(MZ_ACT_LEAKYRELU, -2.0f) == -0.02f);
    CHECK(mz_act_backward(MZ_ACT_RELU, -1.0f, 0.0f) == 0.0f);
    CHECK(mz_act_backward(MZ_ACT_RELU, 0.0f, 0.0f) ==
          0.0f); /* torch: threshold_backward, x <= 0 -> 0 */
    CHECK(mz_act_backward(MZ_ACT_LEAKYRELU, 0.0f, 0.0f) == 0.01f); /* torch: x > 0 ? 1 : slope */
}

/* ---- loss ---- */
static double loss_ref(const float *z, const int32_t *y, int B, int K, double *dz)
{
    double total = 0;
    for (int b = 0; b < B; b++) {
        double m = z[b * K];
        for (int k = 1; k < K; k++)
            m = fmax(m, z[b * K + k]);
        double se = 0;
        for (int k = 0; k < K; k++)
            se += exp(z[b * K + k] - m);
        double lse = m + log(se);
        total += lse - z[b * K + y[b]];
        for (int k = 0; k < K; k++)
            dz[b * K + k] = (exp(z[b * K + k] - lse) - (k == y[b])) / B;
    }
    return total / B;
}

static void test_loss(void)
{
    enum { B = 6, K = 10 };
    float z[B * K], dz[B * K];
    double dref[B * K];
    int32_t y[B] = {0, 3, 9, 4, 4, 7};
    for (int scale = 0; scale < 4; scale++) {
        static const float scales[] = {0.1f, 3.0f, 30.0f, 3000.0f};
        mz_rng_stream s = mz_rng_make(5, MZ_RNG_USER, 5, (uint32_t)scale, 0);
        mz_rng_uniform(&s, z, B * K, -scales[scale], scales[scale]);
        int correct = -1;
        float L = mz_ref_loss(z, y, B, K, dz, &correct);
        double Lr = loss_ref(z, y, B, K, dref);
        CHECK_MSG(fabs(L - Lr) <= 1e-6 * fabs(Lr) + 1e-7, "scale %g: loss %.9g, double %.12g",
                  (double)scales[scale], (double)L, Lr);
        int hits = 0;
        for (int b = 0; b < B; b++) {
            int arg = 0;
            for (int k = 1; k < K; k++)
                if (z[b * K + k] > z[b * K + arg])
                    arg = k;
            hits += arg == y[b];
        }
        CHECK_EQ_INT(correct, hits);
        for (int i = 0; i < B * K; i++)
            CHECK_MSG(fabs(dz[i] - dref[i]) <= 1e-6 * fabs(dref[i]) + 2e-8,
                      "scale %g: dlogits[%d] %.9g, exact %.9g", (double)scales[scale], i,
                      (double)dz[i], dref[i]);
        if (scale > 1)
            continue; /* finite differences of a float loss: only at moderate scales */
        double worst = 0;
        for (int i = 0; i < B * K; i++) {
            float zi = z[i];
            double est[2];
            for (int k = 0; k < 2; k++) {
                float h = k ? 1.0f / 64 : 1.0f / 32;
                z[i] = zi + h;
                double lp = mz_ref_loss(z, y, B, K, NULL, NULL);
                z[i] = zi - h;
                double lm = mz_ref_loss(z, y, B, K, NULL, NULL);
                z[i] = zi;
                est[k] = (lp - lm) / ((double)(zi + h) - (double)(zi - h));
            }
            double fd = (4 * est[1] - est[0]) / 3;
            /* the float loss has rounding ~|L| FLT_EPSILON per evaluation */
            double tol = 8 * FLT_EPSILON * fabs(L) / (1.0 / 64) + 1e-4 * fabs(fd);
            worst = fmax(worst, fabs(fd - dz[i]) / tol);
            CHECK_MSG(fabs(fd - dz[i]) <= tol,
                      "scale %g: dlogits[%d] %.9g, finite differences %.9g", (double)scales[scale],
                      i, (double)dz[i], fd);
        }
        printf("  loss at logit scale %-6g finite differences worst %.3f of tolerance\n",
               (double)scales[scale], worst);
    }
    /* ties: the first maximum wins (torch.max); no overflow with huge logits */
    float t[2 * 3] = {1, 3, 3, 5, 5, 5};
    int32_t yt[2] = {2, 0};
    int c = -1;
    float L = mz_ref_loss(t, yt, 2, 3, NULL, &c);
    CHECK_EQ_INT(c, 1); /* sample 0: argmax 1 (not 2); sample 1: argmax 0 */
    CHECK(isfinite(L));
    float big[3] = {1e30f, -1e30f, 0.0f}, dbig[3];
    int32_t yb = 0;
    L = mz_ref_loss(big, &yb, 1, 3, dbig, NULL);
    CHECK_MSG(L == 0.0f && dbig[0] == 0.0f && dbig[1] == 0.0f && dbig[2] == 0.0f,
              "huge logits: loss %g", (double)L);
    yb = 1;
    L = mz_ref_loss(big, &yb, 1, 3, dbig, NULL);
    CHECK_MSG(L == 2e30f && dbig[0] == 1.0f && dbig[1] == -1.0f, "huge logits: loss %g", (double)L);
}

/* ---- dropout ---- */
static int same_bits(const float *a, const float *b, size_t n)
{
    return memcmp(a, b, n * sizeof(float)) == 0;
}

static void test_dropout(void)
{
    /* masks: rate, scale of survivors, determinism, independence of the streams */
    enum { N = 100000 };
    float *m1 = malloc(sizeof(float) * N), *m2 = malloc(sizeof(float) * N);
    if (!m1 || !m2)
        return;
    static const float rates[] = {0.1f, 0.25f, 0.5f};
    for (int ri = 0; ri < 3; ri++) {
        mz_fwd_cfg fc = {MZ_ACT_RELU, rates[ri], 1, 1234, 2, 5};
        mz_dropout_mask(&fc, 1, N, m1);
        long zeros = 0, other = 0;
        float scale = (float)(1.0 / (1.0 - (double)rates[ri]));
        for (int i = 0; i < N; i++) {
            zeros += m1[i] == 0.0f;
            other += m1[i] != 0.0f && m1[i] != scale;
        }
        double p = rates[ri], sd = sqrt(p * (1 - p) / N);
        CHECK_MSG(fabs((double)zeros / N - p) <= 5 * sd, "rate %g: %ld of %d dropped", p, zeros, N);
        CHECK_EQ_INT(other, 0);
        mz_dropout_mask(&fc, 1, N, m2);
        CHECK(same_bits(m1, m2, N));
        mz_fwd_cfg f2 = fc;
        f2.step++;
        mz_dropout_mask(&f2, 1, N, m2);
        CHECK(!same_bits(m1, m2, N));
        f2 = fc;
        f2.epoch++;
        mz_dropout_mask(&f2, 1, N, m2);
        CHECK(!same_bits(m1, m2, N));
        f2 = fc;
        f2.seed++;
        mz_dropout_mask(&f2, 1, N, m2);
        CHECK(!same_bits(m1, m2, N));
        mz_dropout_mask(&fc, 2, N, m2);
        CHECK(!same_bits(m1, m2, N));
        long both = 0; /* layers' masks are independent: P(both dropped) = p^2 */
        for (int i = 0; i < N; i++)
            both += m1[i] == 0.0f && m2[i] == 0.0f;
        CHECK_MSG(fabs((double)both / N - p * p) <= 5 * sqrt(p * p * (1 - p * p) / N),
                  "rate %g: %ld dropped in both", p, both);
    }
    free(m1), free(m2);

    /* eval mode and rate 0 are the identity: CNN-s with Dropout layers gives, bit for bit, the
     * logits and gradients of CNN-s without them (the parameter layouts coincide) */
    model with, without;
    if (model_make(&with, "cnn-s", 1, 28, 0.5, MZ_ACT_TANH, 3, 21) &&
        model_make(&without, "cnn-s", 1, 28, 0.0, MZ_ACT_TANH, 3, 21)) {
        CHECK_EQ_INT(with.a.n_params, without.a.n_params);
        CHECK_EQ_INT(with.a.n_layers, without.a.n_layers + 3);
        CHECK(same_bits(with.params, without.params, (size_t)with.a.n_params));
        int64_t np = with.a.n_params;
        int K = with.a.n_classes, Bn = with.B;
        float *g1 = malloc(sizeof(float) * (size_t)np), *g2 = malloc(sizeof(float) * (size_t)np);
        float *dl = malloc(sizeof(float) * (size_t)(Bn * K)),
              *ref_logits = malloc(sizeof(float) * (size_t)(Bn * K));
        if (g1 && g2 && dl && ref_logits) {
            for (int i = 0; i < Bn * K; i++)
                dl[i] = (float)with.r[i];
            without.fc.dropout = 0.0f;
            J(&without);
            memcpy(ref_logits, without.logits, sizeof(float) * (size_t)(Bn * K));
            mz_ref_backward(&without.a, &without.fc, without.params, Bn, dl, without.ws, g2);
            with.fc.train = 0; /* eval */
            J(&with);
            CHECK(same_bits(with.logits, ref_logits, (size_t)(Bn * K)));
            mz_ref_backward(&with.a, &with.fc, with.params, Bn, dl, with.ws, g1);
            CHECK(same_bits(g1, g2, (size_t)np));
            with.fc.train = 1; /* train, rate 0 */
            with.fc.dropout = 0.0f;
            J(&with);
            CHECK(same_bits(with.logits, ref_logits, (size_t)(Bn * K)));
            mz_ref_backward(&with.a, &with.fc, with.params, Bn, dl, with.ws, g1);
            CHECK(same_bits(g1, g2, (size_t)np));
            with.fc.dropout = 0.5f; /* train, rate 0.5: different, and reproducible */
            J(&with);
            CHECK(!same_bits(with.logits, ref_logits, (size_t)(Bn * K)));
            memcpy(ref_logits, with.logits, sizeof(float) * (size_t)(Bn * K));
            J(&with);
            CHECK(same_bits(with.logits, ref_logits, (size_t)(Bn * K)));
            with.fc.step++;
            J(&with);
            CHECK(!same_bits(with.logits, ref_logits, (size_t)(Bn * K)));
        }
        free(g1), free(g2), free(dl), free(ref_logits);
    }
    model_free(&with);
    model_free(&without);
    printf("  masks (rates 0.1, 0.25, 0.5), eval and rate-0 identity, reproducibility checked\n");
}

int main(void)
{
    printf("activations:\n");
    test_activations();
    printf("loss:\n");
    test_loss();
    printf("dropout:\n");
    test_dropout();

    printf("parameter gradients:\n");
    for (int act = 0; act < MZ_ACT_COUNT; act++) {
        char what[96];
        model m;
        /* CNN-s, C=1, without Dropout layers */
        snprintf(what, sizeof what, "cnn-s c1 %s", act_names[act]);
        if (model_make(&m, "cnn-s", 1, 28, 0.0, (mz_activation)act, 2, 100 + (uint64_t)act))
            gradcheck(&m, what, 5);
        model_free(&m);
        /* CNN-s, C=3, Dropout layers active in train mode (fixed masks) */
        snprintf(what, sizeof what, "cnn-s c3 %s dropout 0.3", act_names[act]);
        if (model_make(&m, "cnn-s", 3, 28, 0.3, (mz_activation)act, 1, 200 + (uint64_t)act))
            gradcheck(&m, what, 5);
        model_free(&m);
        /* CNN-l, C=3 (C=1 for half of the activations), dropout active */
        snprintf(what, sizeof what, "cnn-l c%d %s dropout 0.2", act % 2 ? 1 : 3, act_names[act]);
        if (model_make(&m, "cnn-l", act % 2 ? 1 : 3, 32, 0.2, (mz_activation)act, 1,
                       300 + (uint64_t)act))
            gradcheck(&m, what, 3);
        model_free(&m);
    }
    return check_summary("test_nn_gradcheck");
}
