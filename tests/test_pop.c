/* The "simd" population backend against the "ref" backend, bit for bit.
 *
 *  - lane-wise elementary functions (simd-impl.h) against mathf-impl.h / math.c on special values
 *    and a strided walk over every binade, and the lane-keyed Philox against mz_philox4x32;
 *  - whole populations: CNN-s (C=1 and C=3, with and without dropout layers) and CNN-l, every
 *    activation, Adam and SGD (weight decay on/off, momentum on/off, nesterov), per-lane learning
 *    rates, dropout rates, seeds, inits and resumed optimizer state, partially filled pops, a lane
 *    deactivated midway, a partial last batch, images with constant regions (maxpool ties), a
 *    model blowing up to Inf/NaN: after the train steps and an eval, every active
 *    lane's losses, hits, parameters, optimizer state, eval loss sums and hits are identical
 *    (memcmp) to the reference backend's;
 *  - lane independence: the same models in other lanes next to other neighbours give the same bits;
 *  - mixed pops: every activation next to every other (and Adam next to SGD) in one pop, each
 *    model with the bits it has in a pop of its activation alone and in the reference backend;
 *    a model without dropout trained in the architecture with dropout layers (as the trainer
 *    groups the two layout variants) with the bits of its own architecture.
 */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "mzoo/pop.h"
#include "nn/simd-impl.h"

static int same_bits(const void *a, const void *b, size_t n)
{
    return memcmp(a, b, n) == 0;
}

/* Elementwise results: identical bits, except that any NaN matches any NaN. When an operation
 * meets two NaNs, x86 returns the first operand's, and C lets the compiler commute a * b, so the
 * sign/payload of such a NaN is the compiler's choice (seen with SiLU's derivative at NaN in a
 * build without AVX-512); it is not a value. */
static int same_value_bits(float a, float b)
{
    return (a != a && b != b) || memcmp(&a, &b, sizeof a) == 0;
}

/* ---- elementwise functions ---- */

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

#define N_FUN 9
static float scalar_fun(int f, float x)
{
    switch (f) {
    case 0:
        return mzf_exp(x);
    case 1:
        return mzf_log(x);
    case 2:
        return mzf_tanh(x);
    case 3:
        return mzf_erf(x);
    case 4:
        return mzf_sigmoid(x);
    case 5:
        return mzf_gelu(x);
    case 6:
        return mzf_gelu_grad(x);
    case 7:
        return mzf_silu(x);
    case 8:
        return mzf_silu_grad(x);
    default:
        return x;
    }
}

static v16f vector_fun(int f, v16f x)
{
    switch (f) {
    case 0:
        return v_exp(x);
    case 1:
        return v_log(x);
    case 2:
        return v_tanh(x);
    case 3:
        return v_erf(x);
    case 4:
        return v_sigmoid(x);
    case 5:
        return v_gelu(x);
    case 6:
        return v_gelu_grad(x);
    case 7:
        return v_silu(x);
    case 8:
        return v_silu_grad(x);
    default:
        return x;
    }
}

static void test_elementwise(void)
{
    /* inputs: special values, then a strided walk over all bit patterns (every binade, both signs)
     */
    static float xs[1 << 16];
    int n = 0;
    const float special[] = {0.0f,
                             -0.0f,
                             1.0f,
                             -1.0f,
                             0.55f,
                             -0.55f,
                             4.0f,
                             -4.0f,
                             88.7228394f,
                             88.73f,
                             89.0f,
                             -103.972084f,
                             -104.0f,
                             -110.0f,
                             1e-45f,
                             -1e-45f,
                             1.17549435e-38f,
                             1e-40f,
                             INFINITY,
                             -INFINITY,
                             NAN,
                             -NAN,
                             2.5f,
                             1.41421356f,
                             0.70710678f,
                             3e38f,
                             -3e38f,
                             1.0f + 1e-7f};
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++)
        xs[n++] = special[i];
    for (uint64_t u = 0x12345; u < 0x100000000ull && n < (1 << 16); u += 65519)
        xs[n++] = from_bits((uint32_t)u);
    int bad[N_FUN] = {0}, bad_act = 0, bad_bwd = 0;
    for (int i = 0; i + 16 <= n; i += 16) {
        v16f x;
        for (int l = 0; l < 16; l++)
            x[l] = xs[i + l];
        for (int f = 0; f < N_FUN; f++) {
            v16f y = vector_fun(f, x);
            for (int l = 0; l < 16; l++) {
                float r = scalar_fun(f, x[l]);
                if (!same_value_bits(r, y[l]) && bad[f]++ < 3)
                    fprintf(stderr, "function %d at %a: vector %a, scalar %a\n", f, (double)x[l],
                            (double)y[l], (double)r);
            }
        }
        for (int act = 0; act < MZ_ACT_COUNT; act++) {
            v16f y = v_act_forward((mz_activation)act, x);
            v16f yy;
            for (int l = 0; l < 16; l++)
                yy[l] = mz_act_forward((mz_activation)act, x[l]);
            for (int l = 0; l < 16; l++)
                if (!same_value_bits(y[l], yy[l]) && bad_act++ < 3)
                    fprintf(stderr, "activation %d at %a: vector %a, scalar %a\n", act,
                            (double)x[l], (double)y[l], (double)yy[l]);
            v16f d = v_act_backward((mz_activation)act, x, yy);
            for (int l = 0; l < 16; l++) {
                float r = mz_act_backward((mz_activation)act, x[l], yy[l]);
                if (!same_value_bits(r, d[l]) && bad_bwd++ < 3)
                    fprintf(stderr, "activation %d derivative at %a (y %a): vector %a, scalar %a\n",
                            act, (double)x[l], (double)yy[l], (double)d[l], (double)r);
            }
        }
    }
    for (int f = 0; f < N_FUN; f++)
        CHECK_MSG(bad[f] == 0, "function %d: %d inputs differ", f, bad[f]);
    CHECK_EQ_INT(bad_act, 0);
    CHECK_EQ_INT(bad_bwd, 0);

    /* Philox: lane l keyed by its own seed */
    v16u k0, k1, c[4];
    uint64_t seeds[16];
    for (int l = 0; l < 16; l++) {
        seeds[l] = 0x9E3779B97F4A7C15ull * (uint64_t)(l + 1) ^ (uint64_t)l << 40;
        k0[l] = (uint32_t)seeds[l];
        k1[l] = (uint32_t)(seeds[l] >> 32);
    }
    int bad_rng = 0;
    for (uint32_t blk = 0; blk < 50; blk++) {
        c[0] = vu(blk * 977u), c[1] = vu(0x03000001u), c[2] = vu(7), c[3] = vu(blk);
        v_philox(c, k0, k1);
        for (int l = 0; l < 16; l++) {
            uint32_t ctr[4] = {blk * 977u, 0x03000001u, 7, blk}, key[2] = {k0[l], k1[l]}, out[4];
            mz_philox4x32(ctr, key, out);
            for (int w = 0; w < 4; w++)
                bad_rng += out[w] != c[w][l];
        }
    }
    CHECK_EQ_INT(bad_rng, 0);
}

/* ---- populations ---- */

typedef struct dataset {
    int c, h, w, n;
    uint8_t *x;
    int32_t *y;
    float lut[3 * 256];
} dataset;

static uint32_t rnd(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(*s >> 33);
}

static void make_data(dataset *d, int c, int h, int w, int n, uint64_t seed)
{
    d->c = c, d->h = h, d->w = w, d->n = n;
    d->x = malloc((size_t)n * c * h * w);
    d->y = malloc(sizeof(int32_t) * (size_t)n);
    for (int64_t i = 0; i < (int64_t)n * c * h * w; i++)
        d->x[i] = (uint8_t)rnd(&seed);
    /* constant bands (as the black backgrounds of MNIST): equal conv outputs, so maxpool ties */
    for (int i = 0; i < n; i += 2)
        memset(d->x + (int64_t)i * c * h * w, 0, (size_t)(c * h * w / 3));
    for (int i = 0; i < n; i++)
        d->y[i] = (int32_t)(rnd(&seed) % 10);
    const float mean[3] = {0.49f, 0.48f, 0.45f}, sd[3] = {0.25f, 0.24f, 0.26f};
    for (int ch = 0; ch < c; ch++)
        for (int v = 0; v < 256; v++)
            d->lut[ch * 256 + v] = ((float)v / 255.0f - mean[ch]) / sd[ch];
}

static void free_data(dataset *d)
{
    free(d->x);
    free(d->y);
}

/* Model m's settings (m = 0..), independent of the lane it is put in. */
static void model_cfg(int m, const mz_arch *a, double dropout_max, mz_lane_cfg *lc, mz_init *init)
{
    memset(lc, 0, sizeof *lc);
    lc->active = 1;
    lc->seed = 1000 + 7919 * m;
    lc->opt.type = m % 2 ? MZ_OPT_SGD : MZ_OPT_ADAM;
    lc->opt.lr = (m % 3 == 0) ? 1e-3 : (m % 3 == 1 ? 3e-4 : 0.05);
    lc->opt.weight_decay = (m / 2) % 2 ? 1e-2 : 0.0;
    lc->opt.momentum = lc->opt.type == MZ_OPT_SGD ? ((m / 4) % 2 ? 0.9 : 0.0) : 0.0;
    lc->opt.nesterov = lc->opt.momentum != 0.0 && (m / 8) % 2;
    lc->opt.beta1 = 0.9;
    lc->opt.beta2 = 0.999;
    lc->opt.eps = 1e-8;
    lc->dropout = a->has_dropout_layers ? (float)(dropout_max * (m % 3) / 2.0) : 0.0f;
    *init = (mz_init)(m % 4);
}

typedef struct pop_result {
    float loss[4][MZ_LANES];
    int correct[4][MZ_LANES];
    double eval_loss[MZ_LANES];
    int64_t eval_correct[MZ_LANES];
    int32_t eval_class[MZ_LANES][23];
    float *params[MZ_LANES], *opt[MZ_LANES];
} pop_result;

typedef struct scenario {
    const char *arch;
    int c, hw;
    double
        dropout;  /* arch built with this dropout (CNN-s: layers present if > 0); lanes up to it */
    int n_models; /* lanes filled */
    int steps;
} scenario;

/* act = MIXED: model m has activation m % MZ_ACT_COUNT. */
#define MIXED MZ_ACT_COUNT
static mz_activation act_of(int act, int m)
{
    return act == MIXED ? (mz_activation)(m % MZ_ACT_COUNT) : (mz_activation)act;
}

/* Runs a pop: model model_of[l] in lane l (-1: lane unused). Steps: full batches of B, the last
 * one partial; model 2 (if present) deactivated after the first step; lanes of models 3 and 5
 * resume from a nonzero optimizer state at t = 4. */
static void run_pop(const mz_pop_backend *be, const scenario *sc, mz_activation act,
                    const dataset *d, const int *model_of, pop_result *res)
{
    mz_arch a;
    mz_error err;
    CHECK_OK(mz_arch_init(&a, sc->arch, sc->c, sc->hw, sc->hw, sc->dropout, &err), &err);
    const int B = 10;
    mz_pop pop;
    CHECK_OK(mz_pop_init(&pop, be, &a, act_of(act, 0), B, d->lut, &err), &err);
    int64_t np = a.n_params;
    float *params = malloc(sizeof(float) * (size_t)np),
          *st = malloc(sizeof(float) * 2 * (size_t)np);
    for (int l = 0; l < MZ_LANES; l++) {
        int m = model_of[l];
        res->params[l] = calloc((size_t)np, sizeof(float));
        res->opt[l] = calloc(2 * (size_t)np, sizeof(float));
        if (m < 0)
            continue;
        mz_lane_cfg lc;
        mz_init init;
        model_cfg(m, &a, sc->dropout, &lc, &init);
        mz_arch_init_params(&a, init, lc.seed, params);
        if (m == 15) /* a model that blows up: Inf and NaN activations, losses and weights */
            for (int64_t i = 0; i < np; i++)
                params[i] *= 1e12f;
        const float *opt = NULL;
        if (m == 3 || m == 5) {
            uint64_t r = 77 + (uint64_t)m;
            for (int64_t i = 0; i < 2 * np; i++)
                st[i] = (float)(rnd(&r) % 2000) * 1e-7f *
                        (lc.opt.type == MZ_OPT_ADAM && i < np ? -1.0f : 1.0f);
            opt = st;
            lc.t = 4;
        }
        if (act == MIXED)
            mz_pop_set_activation(&pop, l, act_of(act, m));
        mz_pop_set_lane(&pop, l, &lc, params, opt);
    }
    uint32_t idx[MZ_LANES * 10];
    for (int s = 0; s < sc->steps; s++) {
        int nb = s == sc->steps - 1 ? 7 : B;
        for (int l = 0; l < MZ_LANES; l++)
            for (int b = 0; b < nb; b++) {
                int m = model_of[l] < 0 ? 0 : model_of[l];
                idx[l * nb + b] = (uint32_t)((m * 131 + s * 17 + b * 7) % d->n);
            }
        for (int l = 0; l < MZ_LANES; l++)
            res->loss[s][l] = -1.0f, res->correct[s][l] = -1;
        mz_pop_train_step(&pop, d->x, d->y, idx, nb, 1 + s / 2, s, res->loss[s], res->correct[s]);
        if (s == 0)
            for (int l = 0; l < MZ_LANES; l++)
                if (model_of[l] == 2)
                    pop.lane[l].active = 0;
    }
    memset(res->eval_loss, 0, sizeof res->eval_loss);
    memset(res->eval_correct, 0, sizeof res->eval_correct);
    int32_t *classes[MZ_LANES];
    for (int l = 0; l < MZ_LANES; l++)
        classes[l] = l % 3 ? res->eval_class[l] : NULL; /* some lanes without predictions */
    memset(res->eval_class, 0xff, sizeof res->eval_class);
    mz_pop_eval_classes(&pop, d->x, d->y, 23, res->eval_loss, res->eval_correct, classes);
    for (int l = 0; l < MZ_LANES; l++)
        if (model_of[l] >= 0)
            mz_pop_get_lane(&pop, l, res->params[l], res->opt[l]);
    mz_pop_release(&pop);
    free(params);
    free(st);
}

static void free_result(pop_result *r)
{
    for (int l = 0; l < MZ_LANES; l++) {
        free(r->params[l]);
        free(r->opt[l]);
    }
}

/* Compares model m in lane la of result A with lane lb of result B. */
static int compare_model(const char *what, const scenario *sc, int act, int m, const pop_result *A,
                         int la, const pop_result *B, int lb, int64_t np, int active_at_end)
{
    int bad = 0;
    for (int s = 0; s < sc->steps; s++) {
        if (s > 0 && m == 2)
            break; /* deactivated: no more outputs */
        bad += !same_bits(&A->loss[s][la], &B->loss[s][lb], sizeof(float));
        bad += A->correct[s][la] != B->correct[s][lb];
    }
    if (active_at_end) {
        bad += !same_bits(&A->eval_loss[la], &B->eval_loss[lb], sizeof(double));
        bad += A->eval_correct[la] != B->eval_correct[lb];
        if (la % 3 && lb % 3)
            bad += memcmp(A->eval_class[la], B->eval_class[lb], sizeof A->eval_class[la]) != 0;
    }
    bad += !same_bits(A->params[la], B->params[lb], sizeof(float) * (size_t)np);
    bad += !same_bits(A->opt[la], B->opt[lb], sizeof(float) * 2 * (size_t)np);
    if (bad)
        fprintf(stderr,
                "%s: %s/c%d dropout %g act %d: model %d (lanes %d, %d) differs (%d items)\n", what,
                sc->arch, sc->c, sc->dropout, act, m, la, lb, bad);
    return bad == 0;
}

static void test_scenario(const scenario *sc, const int *acts, int n_acts)
{
    dataset d;
    make_data(&d, sc->c, sc->hw, sc->hw, 60, 4242 + (uint64_t)sc->c);
    mz_arch a;
    mz_error err;
    CHECK_OK(mz_arch_init(&a, sc->arch, sc->c, sc->hw, sc->hw, sc->dropout, &err), &err);
    int64_t np = a.n_params;
    /* layout 1: models 0..n-1 in lanes 0..n-1; layout 2: the same models in reversed lanes,
     * interleaved with other models (n..) as neighbours */
    int lay1[MZ_LANES], lay2[MZ_LANES];
    for (int l = 0; l < MZ_LANES; l++) {
        lay1[l] = l < sc->n_models ? l : -1;
        lay2[l] = -1;
    }
    for (int m = 0; m < sc->n_models && m < 8; m++)
        lay2[15 - 2 * m] = m, lay2[14 - 2 * m] = 20 + m;
    for (int k = 0; k < n_acts; k++) {
        int act = acts[k];
        pop_result ref, simd, simd2;
        run_pop(mz_pop_backend_ref(), sc, (mz_activation)act, &d, lay1, &ref);
        run_pop(mz_pop_backend_simd(), sc, (mz_activation)act, &d, lay1, &simd);
        int ok = 1;
        for (int m = 0; m < sc->n_models; m++)
            ok &= compare_model("simd vs ref", sc, act, m, &simd, m, &ref, m, np, m != 2);
        CHECK_MSG(ok, "%s c%d dropout %g act %d: simd == ref", sc->arch, sc->c, sc->dropout, act);
        /* a model ignored while the lane was inactive at the start: its loss stays untouched */
        if (sc->n_models < MZ_LANES)
            CHECK(simd.loss[0][MZ_LANES - 1] == -1.0f && simd.correct[0][MZ_LANES - 1] == -1);
        run_pop(mz_pop_backend_simd(), sc, (mz_activation)act, &d, lay2, &simd2);
        ok = 1;
        for (int m = 0; m < sc->n_models && m < 8; m++)
            ok &= compare_model("lane moved", sc, act, m, &simd2, 15 - 2 * m, &simd, m, np, m != 2);
        CHECK_MSG(ok, "%s c%d dropout %g act %d: lane independence", sc->arch, sc->c, sc->dropout,
                  act);
        free_result(&ref);
        free_result(&simd);
        free_result(&simd2);
    }
    free_data(&d);
}

/* Mixed activations: simd == ref, each model as in a pop of its activation alone, lanes moved. */
static void test_mixed(const scenario *sc)
{
    dataset d;
    make_data(&d, sc->c, sc->hw, sc->hw, 60, 4242 + (uint64_t)sc->c);
    mz_arch a;
    mz_error err;
    CHECK_OK(mz_arch_init(&a, sc->arch, sc->c, sc->hw, sc->hw, sc->dropout, &err), &err);
    int64_t np = a.n_params;
    int lay1[MZ_LANES], lay2[MZ_LANES];
    for (int l = 0; l < MZ_LANES; l++) {
        lay1[l] = l < sc->n_models ? l : -1;
        lay2[l] = -1;
    }
    for (int m = 0; m < sc->n_models && m < 8; m++)
        lay2[15 - 2 * m] = m, lay2[14 - 2 * m] = 21 + m; /* other activations as neighbours */
    pop_result ref, simd, simd2;
    run_pop(mz_pop_backend_ref(), sc, MIXED, &d, lay1, &ref);
    run_pop(mz_pop_backend_simd(), sc, MIXED, &d, lay1, &simd);
    int ok = 1;
    for (int m = 0; m < sc->n_models; m++)
        ok &= compare_model("mixed simd vs ref", sc, MIXED, m, &simd, m, &ref, m, np, m != 2);
    CHECK_MSG(ok, "%s c%d dropout %g mixed activations: simd == ref", sc->arch, sc->c, sc->dropout);
    for (int act = 0; act < MZ_ACT_COUNT; act++) {
        pop_result alone;
        run_pop(mz_pop_backend_simd(), sc, act, &d, lay1, &alone);
        ok = 1;
        for (int m = act; m < sc->n_models; m += MZ_ACT_COUNT)
            ok &= compare_model("mixed vs alone", sc, act, m, &simd, m, &alone, m, np, m != 2);
        CHECK_MSG(ok, "%s c%d dropout %g act %d: mixed pop == pop of one activation", sc->arch,
                  sc->c, sc->dropout, act);
        free_result(&alone);
    }
    run_pop(mz_pop_backend_simd(), sc, MIXED, &d, lay2, &simd2);
    ok = 1;
    for (int m = 0; m < sc->n_models && m < 8; m++)
        ok &= compare_model("mixed, lane moved", sc, MIXED, m, &simd2, 15 - 2 * m, &simd, m, np,
                            m != 2);
    CHECK_MSG(ok, "%s c%d dropout %g mixed activations: lane independence", sc->arch, sc->c,
              sc->dropout);
    free_result(&ref);
    free_result(&simd);
    free_result(&simd2);
    free_data(&d);
}

/* Models without dropout (m % 3 == 0 get dropout 0 in model_cfg) in the architecture with dropout
 * layers: the bits of their own architecture, for both backends. */
static void test_dropout_variants(void)
{
    const scenario plain = {"cnn-s", 1, 28, 0.0, 16, 4}, with = {"cnn-s", 1, 28, 0.5, 16, 4};
    dataset d;
    make_data(&d, 1, 28, 28, 60, 4243);
    mz_arch a;
    mz_error err;
    CHECK_OK(mz_arch_init(&a, "cnn-s", 1, 28, 28, 0.0, &err), &err);
    int lay[MZ_LANES];
    for (int l = 0; l < MZ_LANES; l++)
        lay[l] = l;
    const mz_pop_backend *be[2] = {mz_pop_backend_ref(), mz_pop_backend_simd()};
    for (int k = 0; k < 2; k++) {
        pop_result A, D;
        run_pop(be[k], &plain, MIXED, &d, lay, &A);
        run_pop(be[k], &with, MIXED, &d, lay, &D);
        int ok = 1;
        for (int m = 0; m < MZ_LANES; m += 3)
            ok &= compare_model("dropout-0 model in the dropout architecture", &plain, MIXED, m, &D,
                                m, &A, m, a.n_params, m != 2);
        CHECK_MSG(ok, "%s: models without dropout train alike in both layout variants",
                  be[k]->name);
        free_result(&A);
        free_result(&D);
    }
    free_data(&d);
}

/* Eval alone, simd against ref: lanes with the same weights (evaluated once by simd) next to
 * others, lanes left out, accumulators that already hold values, predictions, and image counts
 * around the 16-image blocks. act = MIXED: lane k's activation is k % MZ_ACT_COUNT, so lanes with
 * the same weights differ in activation (and must not share results) except lanes 0 and 15
 * (model 1, tanh, both). */
static void test_eval_shared_weights(const char *arch_name, int c, int hw, int act)
{
    mz_arch a;
    mz_error err = {0};
    CHECK(mz_arch_init(&a, arch_name, c, hw, hw, 0.5, &err) == MZ_OK);
    dataset d;
    make_data(&d, c, hw, hw, 41, 99);
    int64_t np = a.n_params;
    float *params = malloc(sizeof(float) * (size_t)np);
    const int lanes[] = {0, 2, 3, 5, 9, 10, 15}; /* weights of models 1, 1, 2, 1, 3, 2, 1 */
    const int model[] = {1, 1, 2, 1, 3, 2, 1};
    const int counts[] = {41, 16, 1, 17};
    for (int ci = 0; ci < 4; ci++) {
        double loss[2][MZ_LANES];
        int64_t correct[2][MZ_LANES];
        int32_t cls[2][MZ_LANES][41];
        for (int bi = 0; bi < 2; bi++) {
            const mz_pop_backend *be = bi ? mz_pop_backend_simd() : mz_pop_backend_ref();
            mz_pop pop;
            CHECK(mz_pop_init(&pop, be, &a, act_of(act, 0), 10, d.lut, &err) == MZ_OK);
            int32_t *classes[MZ_LANES] = {0};
            for (int k = 0; k < 7; k++) {
                mz_lane_cfg lc;
                mz_init init;
                model_cfg(k, &a, 0.5, &lc, &init); /* optimizer, dropout: per lane */
                lc.seed = 1000 + model[k];
                mz_arch_init_params(&a, (mz_init)(model[k] % 4), lc.seed, params);
                if (act == MIXED)
                    mz_pop_set_activation(&pop, lanes[k], act_of(act, k));
                mz_pop_set_lane(&pop, lanes[k], &lc, params, NULL);
                if (k != 3)
                    classes[lanes[k]] = cls[bi][lanes[k]];
            }
            for (int l = 0; l < MZ_LANES; l++)
                loss[bi][l] = 0.25 * l, correct[bi][l] = l;
            memset(cls[bi], 0xff, sizeof cls[bi]);
            mz_pop_eval_classes(&pop, d.x, d.y, counts[ci], loss[bi], correct[bi], classes);
            mz_pop_release(&pop);
        }
        CHECK(same_bits(loss[0], loss[1], sizeof loss[0]));
        CHECK(!memcmp(correct[0], correct[1], sizeof correct[0]));
        CHECK(!memcmp(cls[0], cls[1], sizeof cls[0]));
    }
    free(params);
    free_data(&d);
}

int main(void)
{
    CHECK(mz_pop_backend_simd() != NULL);
    CHECK(mz_pop_backend_by_name("simd") == mz_pop_backend_simd());
    test_elementwise();

    const int all[] = {MZ_ACT_TANH, MZ_ACT_RELU,      MZ_ACT_SIGMOID,
                       MZ_ACT_GELU, MZ_ACT_LEAKYRELU, MZ_ACT_SILU};
    const scenario s_c1 = {"cnn-s", 1, 28, 0.0, 16, 4};
    const scenario s_c1d = {"cnn-s", 1, 28, 0.5, 13, 3};
    const scenario s_c3d = {"cnn-s", 3, 28, 0.3, 9, 3};
    const scenario l_c3 = {"cnn-l", 3, 32, 0.4, 6, 2};
    test_scenario(&s_c1, all, 6);
    test_scenario(&s_c1d, all, 6);
    const int some[] = {MZ_ACT_GELU, MZ_ACT_TANH, MZ_ACT_RELU};
    test_scenario(&s_c3d, some, 3);
    const int l_acts[] = {MZ_ACT_GELU, MZ_ACT_SIGMOID};
    test_scenario(&l_c3, l_acts, 2);
    test_mixed(&s_c1);
    test_mixed(&s_c3d);
    const scenario l_c3m = {"cnn-l", 3, 32, 0.4, 7, 2};
    test_mixed(&l_c3m);
    test_dropout_variants();
    test_eval_shared_weights("cnn-s", 1, 28, MZ_ACT_TANH);
    test_eval_shared_weights("cnn-s", 3, 28, MZ_ACT_GELU);
    test_eval_shared_weights("cnn-l", 3, 32, MZ_ACT_SILU);
    test_eval_shared_weights("cnn-s", 1, 28, MIXED);
    return check_summary("test_pop");
}
