/* Variational-dropout ("ARD") twins in populations: the "simd" backend against the "ref" backend
 * (which loops the reference kernels of src/nn/ard.c), bit for bit.
 *
 *  - lane-wise pieces (simd-impl.h) against their scalar counterparts (mathf-impl.h, ard-impl.h):
 *    log1p, cos/sin in turns, the Box-Muller pair, log alpha and its by-products, the KL term and
 *    its derivative, a parameter's backward, on special values and strided walks over the bits;
 *  - whole populations of twins: CNN-s (C=1 and C=3, with and without dropout layers) and CNN-l,
 *    every activation, Adam and SGD (weight decay on/off, momentum, nesterov), per-lane learning
 *    rates, dropout rates, seeds, kl_weights (negative, zero, changed between steps) and
 *    log_sigma2 spreads (fresh twins at -10 and spread ones with clipped and clamped weights),
 *    resumed optimizer state, partially filled pops, a lane deactivated midway, a partial last
 *    batch, a model blowing up: every active lane's losses (ELBO), hits, parameters, optimizer
 *    state, eval loss sums (with the KL term), hits and dropped-weight counts are identical (same
 *    bits; a NaN matches any NaN, see same_value_bits) to the reference backend's, and the linear
 *    layers' log_sigma2_bias stays -10;
 *  - lane independence: the same twins in other lanes next to other neighbours give the same bits.
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

/* Identical bits, or both NaN. When an operation meets two NaNs x86 keeps the first operand's,
 * and C lets the compiler commute a + b or a * b, so the sign and payload of such a NaN is the
 * compiler's choice (tests/test_pop.c); twins that blow up (NaN from Inf - Inf and the like in both
 * the noise and the mean paths) meet it in whole steps, not only in the elementwise functions. It
 * is not a value: every other bit pattern must match. */
static int same_value_bits(float a, float b)
{
    return (a != a && b != b) || memcmp(&a, &b, sizeof a) == 0;
}

static int same_floats(const float *a, const float *b, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (!same_value_bits(a[i], b[i]))
            return 0;
    return 1;
}

static int same_double(double a, double b)
{
    return (a != a && b != b) || memcmp(&a, &b, sizeof a) == 0;
}

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static uint32_t rnd(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(*s >> 33);
}

/* ---- lane-wise pieces ---- */

static int count_bad(const char *what, const float *vec, const float *sca, int n, const float *x)
{
    int bad = 0;
    for (int i = 0; i < n; i++)
        if (!same_value_bits(vec[i], sca[i]) && bad++ < 3)
            fprintf(stderr, "%s at %a: vector %a, scalar %a\n", what, (double)x[i], (double)vec[i],
                    (double)sca[i]);
    return bad;
}

static void test_elementwise(void)
{
    enum { N = 1 << 15 };
    static float xs[N], ys[N];
    int n = 0;
    const float special[] = {
        0.0f,  -0.0f,    1.0f,      -1.0f, 1e-15f,    -1e-15f, 1e-30f,  1e-45f,  -1e-45f,  3.0f,
        -3.0f, 8.0f,     -8.0f,     10.0f, -10.0f,    0.25f,   0.5f,    0.75f,   0.125f,   0.875f,
        1.0f,  INFINITY, -INFINITY, NAN,   -0.99999f, 88.0f,   -104.0f, 2.5e-3f, -2.5e-3f, 6.0f};
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++)
        xs[n++] = special[i];
    for (uint64_t u = 0x2345; u < 0x100000000ull && n < N; u += 131071 + 2 * (uint64_t)n)
        xs[n++] = from_bits((uint32_t)u);
    n &= ~15;
    /* second operands (log_sigma2, gradients): a shuffle of the same values and a spread in
     * [-20, 4] */
    uint64_t r = 5;
    for (int i = 0; i < n; i++)
        ys[i] = i % 3 ? xs[rnd(&r) % (uint32_t)n]
                      : -20.0f + 24.0f * (float)(rnd(&r) >> 8) / 16777216.0f;
    int bad = 0;
    for (int i = 0; i < n; i += 16) {
        v16f x, y;
        for (int l = 0; l < 16; l++)
            x[l] = xs[i + l], y[l] = ys[i + l];
        float vv[16], ss[16];
        /* log1p, KL, dKL */
        v16f v = v_log1p(x);
        for (int l = 0; l < 16; l++)
            vv[l] = v[l], ss[l] = mzf_log1p(x[l]);
        bad += count_bad("log1p", vv, ss, 16, xs + i);
        v = v_ard_kl(x);
        for (int l = 0; l < 16; l++)
            vv[l] = v[l], ss[l] = mzf_ard_kl(x[l]);
        bad += count_bad("kl", vv, ss, 16, xs + i);
        v = v_ard_dkl(x);
        for (int l = 0; l < 16; l++)
            vv[l] = v[l], ss[l] = mzf_ard_dkl(x[l]);
        bad += count_bad("dkl", vv, ss, 16, xs + i);
        /* log alpha and its by-products, and the backward, for both clamps */
        for (int c = 0; c < 2; c++) {
            float hi = c ? MZ_ARD_LINEAR_CLAMP : MZ_ARD_CONV_CLAMP;
            v_ard_elem e = v_ard_elem_of(x, y, hi);
            v16f gmu = y * 0.5f, gV = x * 0.25f, klw = vf(c ? 0.01f : -0.0004f), dt, dl;
            v_ard_elem_backward(&e, x, hi, gmu, gV, klw, &dt, &dl);
            for (int l = 0; l < 16; l++) {
                mz_ard_elem es = mz_ard_elem_of(x[l], y[l], hi);
                float st, sl;
                mz_ard_elem_backward(&es, x[l], hi, gmu[l], gV[l], klw[l], &st, &sl);
                const float pv[8] = {e.A[l],  e.u[l], e.la[l], e.alpha[l],
                                     e.t1[l], e.V[l], dt[l],   dl[l]};
                const float ps[8] = {es.A, es.u, es.la, es.alpha, es.t1, es.V, st, sl};
                for (int k = 0; k < 8; k++)
                    if (!same_value_bits(pv[k], ps[k]) && bad++ < 3)
                        fprintf(stderr, "ard elem field %d at (%a, %a): vector %a, scalar %a\n", k,
                                (double)x[l], (double)y[l], (double)pv[k], (double)ps[k]);
            }
        }
    }
    /* cos/sin in turns and the normal pair over random words */
    for (int i = 0; i < 4096; i++) {
        v16u w0, w1;
        for (int l = 0; l < 16; l++)
            w0[l] = rnd(&r), w1[l] = rnd(&r);
        if (i == 0)
            for (int l = 0; l < 16; l++) /* the extremes: u1 = 2^-24 and 1, u2 at quarter turns */
                w0[l] = l % 2 ? 0xffffffffu : 0, w1[l] = (uint32_t)(l / 2) << 29;
        v16f z0, z1;
        v_normal_pair(w0, w1, &z0, &z1);
        for (int l = 0; l < 16; l++) {
            float s0, s1;
            mzf_normal_pair(w0[l], w1[l], &s0, &s1);
            if ((!same_bits(&s0, &z0[l], 4) || !same_bits(&s1, &z1[l], 4)) && bad++ < 3)
                fprintf(stderr, "normal pair (%08x, %08x): vector %a %a, scalar %a %a\n", w0[l],
                        w1[l], (double)z0[l], (double)z1[l], (double)s0, (double)s1);
        }
    }
    CHECK_EQ_INT(bad, 0);
}

/* ---- populations ---- */

typedef struct dataset {
    int c, h, w, n;
    uint8_t *x;
    int32_t *y;
    float lut[3 * 256];
} dataset;

static void make_data(dataset *d, int c, int h, int w, int n, uint64_t seed)
{
    d->c = c, d->h = h, d->w = w, d->n = n;
    d->x = malloc((size_t)n * c * h * w);
    d->y = malloc(sizeof(int32_t) * (size_t)n);
    for (int64_t i = 0; i < (int64_t)n * c * h * w; i++)
        d->x[i] = (uint8_t)rnd(&seed);
    for (int i = 0; i < n; i += 2) /* constant bands: maxpool ties, zero inputs to the variance */
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

/* Twin m's settings, independent of the lane it is put in. */
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
    static const float klw[5] = {0.0f, 0.0096f, -0.0004f, 0.05f, 1.0f};
    lc->kl_weight = klw[m % 5];
    *init = (mz_init)(m % 4);
}

typedef struct pop_result {
    float loss[4][MZ_LANES];
    int correct[4][MZ_LANES];
    double eval_loss[MZ_LANES];
    int64_t eval_correct[MZ_LANES], dropped[MZ_LANES];
    float *params[MZ_LANES], *opt[MZ_LANES];
} pop_result;

typedef struct scenario {
    const char *arch;
    int c, hw;
    double dropout; /* arch built with this dropout (CNN-s: layers present if > 0) */
    int n_models;   /* lanes filled */
    int steps;
} scenario;

/* Runs a pop of twins: model model_of[l] in lane l (-1: unused). Twins start from plain
 * checkpoints; model m % 4 == 1 stays fresh (log_sigma2 -10), the others get log_sigma2 spread
 * over [-16, -2]. Steps: full batches of B, the last one partial; model 2 deactivated after the
 * first step; models 3 and 5 resume from a nonzero optimizer state at t = 4; every lane's
 * kl_weight changes after step 1 (a new epoch); model 15 blows up. */
static void run_pop(const mz_pop_backend *be, const scenario *sc, mz_activation act,
                    const dataset *d, const int *model_of, pop_result *res)
{
    mz_arch plain, a;
    mz_error err;
    CHECK_OK(mz_arch_init(&plain, sc->arch, sc->c, sc->hw, sc->hw, sc->dropout, &err), &err);
    CHECK_OK(mz_arch_init_ard(&a, &plain, &err), &err);
    const int B = 10;
    mz_pop pop;
    CHECK_OK(mz_pop_init(&pop, be, &a, act, B, d->lut, &err), &err);
    int64_t np = a.n_params;
    float *pp = malloc(sizeof(float) * (size_t)plain.n_params);
    float *params = malloc(sizeof(float) * (size_t)np),
          *st = malloc(sizeof(float) * 2 * (size_t)np);
    for (int l = 0; l < MZ_LANES; l++) {
        int m = model_of[l];
        res->params[l] = calloc((size_t)np, sizeof(float));
        res->opt[l] = calloc(2 * (size_t)np, sizeof(float));
        res->dropped[l] = -1;
        if (m < 0)
            continue;
        mz_lane_cfg lc;
        mz_init init;
        model_cfg(m, &a, sc->dropout, &lc, &init);
        mz_arch_init_params(&plain, init, lc.seed, pp);
        mz_ard_params_from_plain(&a, &plain, pp, params);
        if (m % 4 != 1) {
            uint64_t r = 99 + (uint64_t)m;
            for (int t = 0; t < a.n_tensors; t++)
                if (strstr(a.tensors[t].name, "log_sigma2") &&
                    !strstr(a.tensors[t].name, "log_sigma2_bias"))
                    for (int64_t i = 0; i < a.tensors[t].count; i++)
                        params[a.tensors[t].offset + i] =
                            -16.0f + 14.0f * (float)(rnd(&r) >> 8) / 16777216.0f;
        }
        if (m == 15)
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
        for (int l = 0; l < MZ_LANES; l++) {
            if (s == 0 && model_of[l] == 2)
                pop.lane[l].active = 0;
            if (s == 1) /* the next epoch's kl_weight */
                pop.lane[l].kl_weight = pop.lane[l].kl_weight * 0.5f + 0.001f;
        }
    }
    memset(res->eval_loss, 0, sizeof res->eval_loss);
    memset(res->eval_correct, 0, sizeof res->eval_correct);
    mz_pop_eval(&pop, d->x, d->y, 23, res->eval_loss, res->eval_correct);
    mz_pop_dropped(&pop, res->dropped);
    for (int l = 0; l < MZ_LANES; l++)
        if (model_of[l] >= 0)
            mz_pop_get_lane(&pop, l, res->params[l], res->opt[l]);
    /* the linear layers' log_sigma2_bias never moves */
    for (int l = 0; l < MZ_LANES; l++)
        for (int i = 0; model_of[l] >= 0 && model_of[l] != 15 && i < a.n_layers; i++)
            if (a.layers[i].kind == MZ_LAYER_LINEAR)
                for (int k = 0; k < a.layers[i].out_c; k++)
                    CHECK(res->params[l][a.layers[i].sb_off + k] == -10.0f);
    mz_pop_release(&pop);
    free(pp);
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

static int compare_model(const char *what, const scenario *sc, int act, int m, const pop_result *A,
                         int la, const pop_result *B, int lb, int64_t np, int active_at_end)
{
    int bad = 0;
    for (int s = 0; s < sc->steps; s++) {
        if (s > 0 && m == 2)
            break;
        bad += !same_value_bits(A->loss[s][la], B->loss[s][lb]);
        bad += A->correct[s][la] != B->correct[s][lb];
    }
    if (active_at_end) {
        bad += !same_double(A->eval_loss[la], B->eval_loss[lb]);
        bad += A->eval_correct[la] != B->eval_correct[lb];
        bad += A->dropped[la] != B->dropped[lb] || A->dropped[la] < 0;
    }
    bad += !same_floats(A->params[la], B->params[lb], np);
    bad += !same_floats(A->opt[la], B->opt[lb], 2 * np);
    if (getenv("MZ_DEBUG") && bad) {
        for (int s = 0; s < sc->steps; s++)
            fprintf(stderr, " step %d loss %a %a\n", s, A->loss[s][la], B->loss[s][lb]);
        fprintf(stderr, " eval %a %a dropped %lld %lld\n", A->eval_loss[la], B->eval_loss[lb],
                (long long)A->dropped[la], (long long)B->dropped[lb]);
        for (int64_t i = 0, k = 0; i < np && k < 5; i++)
            if (!same_bits(&A->params[la][i], &B->params[lb][i], 4))
                k++, fprintf(stderr, " param %lld %a %a\n", (long long)i, A->params[la][i],
                             B->params[lb][i]);
        for (int64_t i = 0, k = 0; i < 2 * np && k < 5; i++)
            if (!same_bits(&A->opt[la][i], &B->opt[lb][i], 4))
                k++, fprintf(stderr, " opt %lld %a %a\n", (long long)i, A->opt[la][i],
                             B->opt[lb][i]);
    }
    if (bad)
        fprintf(stderr, "%s: %s/c%d dropout %g act %d: twin %d (lanes %d, %d) differs (%d items)\n",
                what, sc->arch, sc->c, sc->dropout, act, m, la, lb, bad);
    return bad == 0;
}

static void test_scenario(const scenario *sc, const int *acts, int n_acts)
{
    dataset d;
    make_data(&d, sc->c, sc->hw, sc->hw, 60, 4242 + (uint64_t)sc->c);
    mz_arch plain, a;
    mz_error err;
    CHECK_OK(mz_arch_init(&plain, sc->arch, sc->c, sc->hw, sc->hw, sc->dropout, &err), &err);
    CHECK_OK(mz_arch_init_ard(&a, &plain, &err), &err);
    int64_t np = a.n_params;
    int lay1[MZ_LANES], lay2[MZ_LANES];
    for (int l = 0; l < MZ_LANES; l++) {
        lay1[l] = l < sc->n_models ? l : -1;
        lay2[l] = -1;
    }
    for (int m = 0; m < sc->n_models && m < 8; m++)
        lay2[15 - 2 * m] = m, lay2[14 - 2 * m] = 20 + m;
    int n_finite = 0;
    int64_t n_dropped = 0;
    for (int k = 0; k < n_acts; k++) {
        int act = acts[k];
        pop_result ref, simd, simd2;
        run_pop(mz_pop_backend_ref(), sc, (mz_activation)act, &d, lay1, &ref);
        run_pop(mz_pop_backend_simd(), sc, (mz_activation)act, &d, lay1, &simd);
        int ok = 1;
        for (int m = 0; m < sc->n_models; m++)
            ok &= compare_model("simd vs ref", sc, act, m, &simd, m, &ref, m, np, m != 2);
        CHECK_MSG(ok, "%s c%d dropout %g act %d: simd == ref", sc->arch, sc->c, sc->dropout, act);
        /* not vacuous: most twins stay finite (the NaN rule above is for the few that blow up),
         * and some weights are dropped */
        int finite = 0;
        int64_t dropped = 0;
        for (int m = 0; m < sc->n_models; m++) {
            int f = 1;
            for (int64_t i = 0; i < np; i++)
                f &= isfinite(ref.params[m][i]);
            finite += f && isfinite(ref.eval_loss[m]);
            dropped += m != 2 && ref.dropped[m] > 0 ? ref.dropped[m] : 0;
        }
        CHECK_MSG(finite >= sc->n_models - 3 && dropped > 0, "%d of %d twins finite, %lld dropped",
                  finite, sc->n_models, (long long)dropped);
        n_finite += finite, n_dropped += dropped;
        if (sc->n_models < MZ_LANES)
            CHECK(simd.loss[0][MZ_LANES - 1] == -1.0f && simd.dropped[MZ_LANES - 1] == -1);
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
    printf("  %s c%d dropout %g: %d twins x %d activations (%d finite, %lld weights dropped in "
           "all): simd == ref, lanes independent\n",
           sc->arch, sc->c, sc->dropout, sc->n_models, n_acts, n_finite, (long long)n_dropped);
    free_data(&d);
}

int main(void)
{
    test_elementwise();
    const int all[] = {MZ_ACT_TANH, MZ_ACT_RELU,      MZ_ACT_SIGMOID,
                       MZ_ACT_GELU, MZ_ACT_LEAKYRELU, MZ_ACT_SILU};
    const scenario s_c1 = {"cnn-s", 1, 28, 0.0, 16, 4};
    const scenario s_c1d = {"cnn-s", 1, 28, 0.5, 13, 3};
    const scenario s_c3d = {"cnn-s", 3, 28, 0.3, 9, 3};
    const scenario l_c3 = {"cnn-l", 3, 32, 0.4, 6, 2};
    const scenario l_c1 = {"cnn-l", 1, 32, 0.0, 16, 2};
    test_scenario(&s_c1, all, 6);
    const int some[] = {MZ_ACT_GELU, MZ_ACT_TANH, MZ_ACT_RELU};
    test_scenario(&s_c1d, some, 3);
    test_scenario(&s_c3d, some + 1, 2);
    const int l_acts[] = {MZ_ACT_SILU};
    test_scenario(&l_c3, l_acts, 1);
    const int l_acts1[] = {MZ_ACT_LEAKYRELU};
    test_scenario(&l_c1, l_acts1, 1);
    return check_summary("test_pop_ard");
}
