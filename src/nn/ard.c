/* Reference kernels of variational-dropout ("ARD") twins, one model: the oracle for the population
 * engine's twins and the code tested against PyTorch (tests/test_ard.c). Formulas: mzoo/nn.h.
 *
 * Order of operations (the population engine repeats it per lane):
 *  - every forward first derives D [n_params] from the parameters P, per conv/linear weight (and
 *    conv bias) through mz_ard_elem_of (src/nn/ard-impl.h):
 *      D[s_off + k]  = V = alpha theta^2       D[sb_off + k] = alpha_b b^2 (conv), 0 (linear)
 *      D[w_off + k]  = theta, or 0 where log alpha >= 3
 *      D[b_off + k]  = b, or 0 where log alpha_b >= 3 (conv); b (linear: never clipped)
 *    so that the variance convolution is the reference conv kernel run on a "shadow" layer whose
 *    weight and bias offsets are s_off and sb_off, and the eval forward is the plain forward on D;
 *  - conv, train: mu = conv(x, theta, b); S = conv(x*x, V, V_b) (mz_ref_conv_forward, fmaf chains
 *    over (ci, ky, kx), then + bias); y = mu + sqrtf(1e-15 + S) * eps;
 *  - linear, train: mu = sum_i fmaf(theta, x, .), S = sum_i fmaf(V, x*x, .) (i ascending, from 0);
 *    y = (mu + sqrtf(S + 1e-15) * eps) + b;
 *  - backward: gS = (dy * eps) / (2 si); the mean part through the reference kernels (dtheta at
 *    w_off, db at b_off, dx), the variance part through the same kernels on the shadow layer (dV at
 *    s_off, dV_b at sb_off, dxsq), dx = dx + 2 (dxsq * x); finally mz_ard_elem_backward turns
 *    (dtheta, dV) of every parameter into dtheta and dlog_sigma2, with the KL term's gradient.
 */
#include <string.h>

#include "mzoo/nn.h"
#include "nn/ard-impl.h"
#include "nn/nn-impl.h"
#include "core/banned.h"

/* weights and biases of a conv/linear layer */
static int64_t n_weights(const mz_layer *l)
{
    return (int64_t)l->out_c * l->in_c * (l->kind == MZ_LAYER_CONV ? l->k * l->k : 1);
}

/* The layer whose "weight" and "bias" are log_sigma2's and log_sigma2_bias's slots: in D they hold
 * V and V_b, in the gradient dV and dV_b. */
static mz_layer shadow(const mz_layer *l)
{
    mz_layer s = *l;
    s.w_off = l->s_off;
    s.b_off = l->sb_off;
    return s;
}

/* ---- workspace ---- */

typedef struct ard_ws {
    float *act[MZ_MAX_LAYERS + 1];    /* act[0] = input [B][in], act[i + 1] = output of layer i */
    float *mask[MZ_MAX_LAYERS];       /* dropout layers: keep-scale masks [B][out] */
    float *eps[MZ_MAX_LAYERS];        /* ARD layers: noise [B][out] */
    float *si[MZ_MAX_LAYERS];         /* ARD layers: sqrt(1e-15 + S) [B][out] */
    float *D;                         /* derived parameters [n_params] */
    float *g0, *g1, *xsq, *dxsq, *gs; /* [B][max_layer_size] each */
} ard_ws;

/* Lays out the workspace at base (NULL: only counts); returns its size in floats. */
static int64_t ws_map(const mz_arch *a, int B, float *base, ard_ws *w)
{
    int64_t off = 0;
#define TAKE(ptr, n)                                                                               \
    do {                                                                                           \
        if (base)                                                                                  \
            (ptr) = base + off;                                                                    \
        off += (n);                                                                                \
    } while (0)
    memset(w, 0, sizeof *w);
    TAKE(w->act[0], (int64_t)a->in_c * a->in_h * a->in_w * B);
    for (int i = 0; i < a->n_layers; i++) {
        const mz_layer *l = &a->layers[i];
        TAKE(w->act[i + 1], l->out_size * B);
        if (l->kind == MZ_LAYER_DROPOUT)
            TAKE(w->mask[i], l->out_size * B);
        if (l->kind == MZ_LAYER_CONV || l->kind == MZ_LAYER_LINEAR) {
            TAKE(w->eps[i], l->out_size * B);
            TAKE(w->si[i], l->out_size * B);
        }
    }
    TAKE(w->D, a->n_params);
    int64_t g = a->max_layer_size * B;
    TAKE(w->g0, g);
    TAKE(w->g1, g);
    TAKE(w->xsq, g);
    TAKE(w->dxsq, g);
    TAKE(w->gs, g);
#undef TAKE
    return off;
}

int64_t mz_ard_workspace_floats(const mz_arch *a, int B)
{
    ard_ws w;
    return ws_map(a, B, NULL, &w);
}

/* ---- parameters ---- */

float mz_ard_kl_weight(int iteration, int n_epochs)
{
    double w = 0.01 * (double)(iteration - 1) / (double)n_epochs;
    return (float)(w < 1.0 ? w : 1.0);
}

void mz_ard_params_from_plain(const mz_arch *ard, const mz_arch *plain, const float *plain_params,
                              float *ard_params)
{
    for (int i = 0; i < ard->n_layers; i++) {
        const mz_layer *l = &ard->layers[i], *pl = &plain->layers[i];
        if (l->kind != MZ_LAYER_CONV && l->kind != MZ_LAYER_LINEAR)
            continue;
        int64_t nw = n_weights(l), nb = l->out_c;
        memcpy(ard_params + l->w_off, plain_params + pl->w_off, sizeof(float) * (size_t)nw);
        memcpy(ard_params + l->b_off, plain_params + pl->b_off, sizeof(float) * (size_t)nb);
        for (int64_t k = 0; k < nw; k++)
            ard_params[l->s_off + k] = MZ_ARD_INIT_LOG_SIGMA2;
        for (int64_t k = 0; k < nb; k++)
            ard_params[l->sb_off + k] = MZ_ARD_INIT_LOG_SIGMA2;
    }
}

/* D from P (see the header comment). */
static void derive(const mz_arch *a, const float *P, float *D)
{
    for (int i = 0; i < a->n_layers; i++) {
        const mz_layer *l = &a->layers[i];
        if (l->kind != MZ_LAYER_CONV && l->kind != MZ_LAYER_LINEAR)
            continue;
        float hi = mz_ard_clamp_of(l);
        for (int64_t k = 0; k < n_weights(l); k++) {
            mz_ard_elem e = mz_ard_elem_of(P[l->w_off + k], P[l->s_off + k], hi);
            D[l->s_off + k] = e.V;
            D[l->w_off + k] = e.la >= MZ_ARD_THRESHOLD ? 0.0f : P[l->w_off + k];
        }
        for (int64_t k = 0; k < l->out_c; k++) {
            if (l->kind == MZ_LAYER_CONV) {
                mz_ard_elem e = mz_ard_elem_of(P[l->b_off + k], P[l->sb_off + k], hi);
                D[l->sb_off + k] = e.V;
                D[l->b_off + k] = e.la >= MZ_ARD_THRESHOLD ? 0.0f : P[l->b_off + k];
            } else {
                D[l->sb_off + k] = 0.0f;
                D[l->b_off + k] = P[l->b_off + k];
            }
        }
    }
}

float mz_ard_kl(const mz_arch *a, const float *P)
{
    double sum = 0.0;
    for (int i = 0; i < a->n_layers; i++) {
        const mz_layer *l = &a->layers[i];
        if (l->kind != MZ_LAYER_CONV && l->kind != MZ_LAYER_LINEAR)
            continue;
        float hi = mz_ard_clamp_of(l);
        for (int64_t k = 0; k < n_weights(l); k++)
            sum += (double)mzf_ard_kl(mz_ard_elem_of(P[l->w_off + k], P[l->s_off + k], hi).la);
        if (l->kind == MZ_LAYER_CONV)
            for (int64_t k = 0; k < l->out_c; k++)
                sum += (double)mzf_ard_kl(mz_ard_elem_of(P[l->b_off + k], P[l->sb_off + k], hi).la);
    }
    return (float)sum;
}

int64_t mz_ard_dropped(const mz_arch *a, const float *P)
{
    int64_t n = 0;
    for (int i = 0; i < a->n_layers; i++) {
        const mz_layer *l = &a->layers[i];
        if (l->kind != MZ_LAYER_CONV && l->kind != MZ_LAYER_LINEAR)
            continue;
        float hi = mz_ard_clamp_of(l);
        for (int64_t k = 0; k < n_weights(l); k++)
            n += mz_ard_elem_of(P[l->w_off + k], P[l->s_off + k], hi).la >= MZ_ARD_THRESHOLD;
    }
    return n;
}

void mz_ard_dropped_layers(const mz_arch *a, const float *P, int64_t *dropped)
{
    for (int i = 0; i < a->n_layers; i++) {
        const mz_layer *l = &a->layers[i];
        if (l->kind != MZ_LAYER_CONV && l->kind != MZ_LAYER_LINEAR)
            continue;
        float hi = mz_ard_clamp_of(l);
        int64_t n = 0;
        for (int64_t k = 0; k < n_weights(l); k++)
            n += mz_ard_elem_of(P[l->w_off + k], P[l->s_off + k], hi).la >= MZ_ARD_THRESHOLD;
        dropped[l->ard_ordinal] = n;
    }
}

int mz_ard_pruned(int conv, float theta, float log_sigma2)
{
    float hi = conv ? MZ_ARD_CONV_CLAMP : MZ_ARD_LINEAR_CLAMP;
    return mz_ard_elem_of(theta, log_sigma2, hi).la >= MZ_ARD_THRESHOLD;
}

int mz_ard_frozen_spans(const mz_arch *a, mz_span *spans)
{
    int n = 0;
    for (int i = 0; i < a->n_layers; i++)
        if (a->layers[i].kind == MZ_LAYER_LINEAR) {
            spans[n].first = a->layers[i].sb_off;
            spans[n++].count = a->layers[i].out_c;
        }
    return n;
}

void mz_ard_optim_step(const mz_arch *a, const mz_optim_cfg *cfg, float *params, const float *grads,
                       float *state, int64_t t)
{
    mz_span spans[MZ_MAX_LAYERS];
    int n = mz_ard_frozen_spans(a, spans);
    mz_optim_step_except(cfg, params, grads, state, a->n_params, t, spans, n);
}

/* ---- noise ---- */

void mz_ard_noise(int64_t seed, int epoch, int step, int ordinal, int64_t first, int64_t n,
                  float *out)
{
    mz_rng_stream s = mz_rng_make((uint64_t)seed, MZ_RNG_SPARSE, (uint32_t)epoch, (uint32_t)step,
                                  (uint32_t)ordinal);
    int64_t end = first + n;
    for (int64_t blk = first >> 2; blk << 2 < end; blk++) {
        uint32_t w[4];
        float z[4];
        mz_rng_block(&s, (uint32_t)blk, w);
        mzf_normal_pair(w[0], w[1], &z[0], &z[1]);
        mzf_normal_pair(w[2], w[3], &z[2], &z[3]);
        for (int k = 0; k < 4; k++) {
            int64_t e = (blk << 2) + k;
            if (e >= first && e < end)
                out[e - first] = z[k];
        }
    }
}

/* ---- layers ---- */

static void square(const float *x, float *y, int64_t n)
{
    for (int64_t e = 0; e < n; e++)
        y[e] = x[e] * x[e];
}

/* Linear, training forward: x [B][in_c], eps / si / y [B][out_c], theta and V [out_c][in_c].
 * mu = sum_i fmaf(theta, x, .), S = sum_i fmaf(V, x*x, .), i ascending from 0;
 * si = sqrtf(S + 1e-15); y = (mu + si * eps) + b. */
static void linear_train_forward(const mz_layer *l, const float *P, const float *D, const float *x,
                                 const float *eps, float *si, float *y, int B)
{
    const float *theta = P + l->w_off, *bias = P + l->b_off, *V = D + l->s_off;
    const int n_in = l->in_c, n_out = l->out_c;
    for (int b = 0; b < B; b++)
        for (int o = 0; o < n_out; o++) {
            float mu = 0.0f, S = 0.0f;
            for (int i = 0; i < n_in; i++) {
                float xi = x[b * n_in + i];
                mu = fmaf(theta[o * n_in + i], xi, mu);
                S = fmaf(V[o * n_in + i], xi * xi, S);
            }
            float s = sqrtf(S + MZ_ARD_EPS);
            si[b * n_out + o] = s;
            y[b * n_out + o] = (mu + s * eps[b * n_out + o]) + bias[o];
        }
}

void mz_ard_forward(const mz_arch *a, const mz_ard_cfg *cfg, const float *params, const float *x,
                    int B, float *ws, float *logits)
{
    ard_ws w;
    ws_map(a, B, ws, &w);
    const mz_fwd_cfg *fc = &cfg->fwd;
    memcpy(w.act[0], x, sizeof(float) * (size_t)((int64_t)a->in_c * a->in_h * a->in_w * B));
    derive(a, params, w.D);
    for (int i = 0; i < a->n_layers; i++) {
        const mz_layer *l = &a->layers[i];
        const float *in = w.act[i];
        float *out = w.act[i + 1];
        int64_t n = l->out_size * B;
        int ard = l->kind == MZ_LAYER_CONV || l->kind == MZ_LAYER_LINEAR;
        if (ard && fc->train) {
            if (cfg->eps)
                memcpy(w.eps[i], cfg->eps[l->ard_ordinal], sizeof(float) * (size_t)n);
            else
                mz_ard_noise(fc->seed, fc->epoch, fc->step, l->ard_ordinal, 0, n, w.eps[i]);
        }
        switch (l->kind) {
        case MZ_LAYER_CONV:
            if (!fc->train) {
                mz_ref_conv_forward(l, w.D, in, out, B);
                break;
            }
            {
                mz_layer sh = shadow(l);
                float *si = w.si[i];
                const float *eps = w.eps[i];
                mz_ref_conv_forward(l, params, in, out, B);
                square(in, w.xsq, l->in_size * B);
                mz_ref_conv_forward(&sh, w.D, w.xsq, si, B);
                for (int64_t e = 0; e < n; e++) {
                    si[e] = sqrtf(MZ_ARD_EPS + si[e]);
                    out[e] = out[e] + si[e] * eps[e];
                }
            }
            break;
        case MZ_LAYER_LINEAR:
            if (fc->train)
                linear_train_forward(l, params, w.D, in, w.eps[i], w.si[i], out, B);
            else
                mz_ref_linear_forward(l, w.D, in, out, B);
            break;
        case MZ_LAYER_MAXPOOL:
            mz_ref_pool_forward(l, in, out, B);
            break;
        case MZ_LAYER_ACT:
            for (int64_t e = 0; e < n; e++)
                out[e] = mz_act_forward(fc->act, in[e]);
            break;
        case MZ_LAYER_DROPOUT:
            if (fc->train && fc->dropout > 0.0f) {
                mz_dropout_mask(fc, l->dropout_ordinal, n, w.mask[i]);
                for (int64_t e = 0; e < n; e++)
                    out[e] = in[e] * w.mask[i][e];
            } else {
                memcpy(out, in, sizeof(float) * (size_t)n);
            }
            break;
        case MZ_LAYER_FLATTEN:
            memcpy(out, in, sizeof(float) * (size_t)n);
            break;
        }
    }
    memcpy(logits, w.act[a->n_layers], sizeof(float) * (size_t)(a->n_classes * B));
}

/* Turns the accumulated (dtheta through the mean, dV) of every parameter into (dtheta,
 * dlog_sigma2), adding the KL term's gradient with weight klw. */
static void params_backward(const mz_arch *a, const float *P, float klw, float *G)
{
    for (int i = 0; i < a->n_layers; i++) {
        const mz_layer *l = &a->layers[i];
        if (l->kind != MZ_LAYER_CONV && l->kind != MZ_LAYER_LINEAR)
            continue;
        float hi = mz_ard_clamp_of(l);
        for (int64_t k = 0; k < n_weights(l); k++) {
            float theta = P[l->w_off + k];
            mz_ard_elem e = mz_ard_elem_of(theta, P[l->s_off + k], hi);
            mz_ard_elem_backward(&e, theta, hi, G[l->w_off + k], G[l->s_off + k], klw,
                                 &G[l->w_off + k], &G[l->s_off + k]);
        }
        for (int64_t k = 0; k < l->out_c; k++) {
            if (l->kind == MZ_LAYER_CONV) {
                float b = P[l->b_off + k];
                mz_ard_elem e = mz_ard_elem_of(b, P[l->sb_off + k], hi);
                mz_ard_elem_backward(&e, b, hi, G[l->b_off + k], G[l->sb_off + k], klw,
                                     &G[l->b_off + k], &G[l->sb_off + k]);
            } else {
                G[l->sb_off + k] = 0.0f; /* linear log_sigma2_bias: unused */
            }
        }
    }
}

void mz_ard_backward(const mz_arch *a, const mz_ard_cfg *cfg, const float *params, int B,
                     const float *dlogits, float *ws, float *grads)
{
    ard_ws w;
    ws_map(a, B, ws, &w);
    const mz_fwd_cfg *fc = &cfg->fwd;
    float *g_out = w.g0, *g_in = w.g1;
    memcpy(g_out, dlogits, sizeof(float) * (size_t)(a->n_classes * B));
    for (int i = a->n_layers - 1; i >= 0; i--) {
        const mz_layer *l = &a->layers[i];
        const float *in = w.act[i], *out = w.act[i + 1];
        int64_t n = l->out_size * B, n_in = l->in_size * B;
        float *dx = i > 0 ? g_in : NULL; /* no gradient w.r.t. the input images */
        switch (l->kind) {
        case MZ_LAYER_CONV:
        case MZ_LAYER_LINEAR: {
            /* y = mu + si eps (+ b): dS = (dy eps) / (2 si) */
            mz_layer sh = shadow(l);
            for (int64_t e = 0; e < n; e++)
                w.gs[e] = (g_out[e] * w.eps[i][e]) / (2.0f * w.si[i][e]);
            square(in, w.xsq, n_in);
            if (l->kind == MZ_LAYER_CONV) {
                mz_ref_conv_backward(l, params, in, g_out, dx, grads, B);
                mz_ref_conv_backward(&sh, w.D, w.xsq, w.gs, dx ? w.dxsq : NULL, grads, B);
            } else {
                mz_ref_linear_backward(l, params, in, g_out, dx, grads, B);
                mz_ref_linear_backward(&sh, w.D, w.xsq, w.gs, dx ? w.dxsq : NULL, grads, B);
            }
            if (dx)
                for (int64_t e = 0; e < n_in; e++)
                    dx[e] = dx[e] + 2.0f * (w.dxsq[e] * in[e]);
            break;
        }
        case MZ_LAYER_MAXPOOL:
            if (dx)
                mz_ref_pool_backward(l, in, g_out, dx, B);
            break;
        case MZ_LAYER_ACT:
            if (dx)
                for (int64_t e = 0; e < n; e++)
                    dx[e] = g_out[e] * mz_act_backward(fc->act, in[e], out[e]);
            break;
        case MZ_LAYER_DROPOUT:
            if (dx) {
                if (fc->train && fc->dropout > 0.0f)
                    for (int64_t e = 0; e < n; e++)
                        dx[e] = g_out[e] * w.mask[i][e];
                else
                    memcpy(dx, g_out, sizeof(float) * (size_t)n);
            }
            break;
        case MZ_LAYER_FLATTEN:
            if (dx)
                memcpy(dx, g_out, sizeof(float) * (size_t)n);
            break;
        }
        if (dx) {
            float *t = g_out;
            g_out = g_in;
            g_in = t;
        }
    }
    params_backward(a, params, cfg->kl_weight, grads);
}
