/* Plain reference kernels for one model: the oracle for the population engine.
 *
 * Summation orders are part of the contract (the population engine repeats them per lane):
 *  conv/linear forward: acc = 0; acc = fmaf(w, x, acc) over (ci, ky, kx) / i ascending; out = acc + b
 *  weight gradients:    acc over batch b, then (oy, ox) ascending, with fmaf
 *  bias gradients:      plain sums in the same order
 *  input gradients:     gather form, acc over (co, ky, kx) / o ascending, with fmaf
 */
#include <math.h>
#include <string.h>

#include "mzoo/nn.h"
#include "nn/mathf-impl.h"
#include "nn/nn-impl.h"
#include "core/banned.h"

int64_t mz_ref_workspace_floats(const mz_arch *a, int B)
{
    int64_t n = a->act_floats * B; /* input copy + every layer's output */
    for (int i = 0; i < a->n_layers; i++)
        if (a->layers[i].kind == MZ_LAYER_DROPOUT)
            n += a->layers[i].out_size * B; /* mask */
    n += 2 * a->max_layer_size * B;         /* two gradient buffers for backward */
    return n;
}

/* Offsets into ws: out[i] = output of layer i (i = -1: the input). */
static float *layer_out(const mz_arch *a, float *ws, int B, int i)
{
    int64_t off = (int64_t)a->in_c * a->in_h * a->in_w * B;
    for (int j = 0; j < i; j++)
        off += a->layers[j].out_size * B;
    return i < 0 ? ws : ws + off;
}

static float *mask_of(const mz_arch *a, float *ws, int B, int i)
{
    int64_t off = a->act_floats * B;
    for (int j = 0; j < i; j++)
        if (a->layers[j].kind == MZ_LAYER_DROPOUT)
            off += a->layers[j].out_size * B;
    return ws + off;
}

void mz_dropout_mask(const mz_fwd_cfg *cfg, int ordinal, int64_t n, float *mask)
{
    mz_rng_stream s = mz_rng_make((uint64_t)cfg->seed, MZ_RNG_DROPOUT, (uint32_t)cfg->epoch,
                                  (uint32_t)cfg->step, (uint32_t)ordinal);
    float p = cfg->dropout;
    float scale = (float)(1.0 / (1.0 - (double)p));
    for (int64_t e = 0; e < n; e += 4) {
        uint32_t w[4];
        mz_rng_block(&s, (uint32_t)(e >> 2), w);
        for (int k = 0; k < 4 && e + k < n; k++)
            mask[e + k] = mz_u32_to_unit_float(w[k]) >= p ? scale : 0.0f;
    }
}

void mz_ref_conv_forward(const mz_layer *l, const float *P, const float *x, float *y, int B)
{
    const float *W = P + l->w_off, *bias = P + l->b_off;
    int k = l->k;
    for (int b = 0; b < B; b++)
        for (int co = 0; co < l->out_c; co++)
            for (int oy = 0; oy < l->out_h; oy++)
                for (int ox = 0; ox < l->out_w; ox++) {
                    float acc = 0.0f;
                    for (int ci = 0; ci < l->in_c; ci++)
                        for (int ky = 0; ky < k; ky++)
                            for (int kx = 0; kx < k; kx++)
                                acc = fmaf(W[((co * l->in_c + ci) * k + ky) * k + kx],
                                           x[b * l->in_size + (ci * l->in_h + oy + ky) * l->in_w + ox + kx],
                                           acc);
                    y[b * l->out_size + (co * l->out_h + oy) * l->out_w + ox] = acc + bias[co];
                }
}

void mz_ref_conv_backward(const mz_layer *l, const float *P, const float *x, const float *dy,
                          float *dx, float *G, int B)
{
    const float *W = P + l->w_off;
    float *dW = G + l->w_off, *db = G + l->b_off;
    int k = l->k;
    for (int co = 0; co < l->out_c; co++) {
        float acc = 0.0f;
        for (int b = 0; b < B; b++)
            for (int o = 0; o < l->out_h * l->out_w; o++)
                acc += dy[b * l->out_size + co * l->out_h * l->out_w + o];
        db[co] = acc;
        for (int ci = 0; ci < l->in_c; ci++)
            for (int ky = 0; ky < k; ky++)
                for (int kx = 0; kx < k; kx++) {
                    float g = 0.0f;
                    for (int b = 0; b < B; b++)
                        for (int oy = 0; oy < l->out_h; oy++)
                            for (int ox = 0; ox < l->out_w; ox++)
                                g = fmaf(dy[b * l->out_size + (co * l->out_h + oy) * l->out_w + ox],
                                         x[b * l->in_size + (ci * l->in_h + oy + ky) * l->in_w + ox + kx], g);
                    dW[((co * l->in_c + ci) * k + ky) * k + kx] = g;
                }
    }
    if (!dx)
        return;
    for (int b = 0; b < B; b++)
        for (int ci = 0; ci < l->in_c; ci++)
            for (int iy = 0; iy < l->in_h; iy++)
                for (int ix = 0; ix < l->in_w; ix++) {
                    float acc = 0.0f;
                    for (int co = 0; co < l->out_c; co++)
                        for (int ky = 0; ky < k; ky++) {
                            int oy = iy - ky;
                            if (oy < 0 || oy >= l->out_h)
                                continue;
                            for (int kx = 0; kx < k; kx++) {
                                int ox = ix - kx;
                                if (ox < 0 || ox >= l->out_w)
                                    continue;
                                acc = fmaf(dy[b * l->out_size + (co * l->out_h + oy) * l->out_w + ox],
                                           W[((co * l->in_c + ci) * k + ky) * k + kx], acc);
                            }
                        }
                    dx[b * l->in_size + (ci * l->in_h + iy) * l->in_w + ix] = acc;
                }
}

void mz_ref_linear_forward(const mz_layer *l, const float *P, const float *x, float *y, int B)
{
    const float *W = P + l->w_off, *bias = P + l->b_off;
    for (int b = 0; b < B; b++)
        for (int o = 0; o < l->out_c; o++) {
            float acc = 0.0f;
            for (int i = 0; i < l->in_c; i++)
                acc = fmaf(W[o * l->in_c + i], x[b * l->in_c + i], acc);
            y[b * l->out_c + o] = acc + bias[o];
        }
}

void mz_ref_linear_backward(const mz_layer *l, const float *P, const float *x, const float *dy,
                            float *dx, float *G, int B)
{
    const float *W = P + l->w_off;
    float *dW = G + l->w_off, *db = G + l->b_off;
    for (int o = 0; o < l->out_c; o++) {
        float acc = 0.0f;
        for (int b = 0; b < B; b++)
            acc += dy[b * l->out_c + o];
        db[o] = acc;
        for (int i = 0; i < l->in_c; i++) {
            float g = 0.0f;
            for (int b = 0; b < B; b++)
                g = fmaf(dy[b * l->out_c + o], x[b * l->in_c + i], g);
            dW[o * l->in_c + i] = g;
        }
    }
    if (!dx)
        return;
    for (int b = 0; b < B; b++)
        for (int i = 0; i < l->in_c; i++) {
            float acc = 0.0f;
            for (int o = 0; o < l->out_c; o++)
                acc = fmaf(dy[b * l->out_c + o], W[o * l->in_c + i], acc);
            dx[b * l->in_c + i] = acc;
        }
}

/* Index (within the window, 0..k*k-1) of the max: first strict maximum, NaN wins (as torch). */
static int pool_argmax(const mz_layer *l, const float *x, int c, int oy, int ox)
{
    int best = 0;
    float m = x[(c * l->in_h + oy * l->k) * l->in_w + ox * l->k];
    for (int ky = 0; ky < l->k; ky++)
        for (int kx = 0; kx < l->k; kx++) {
            float v = x[(c * l->in_h + oy * l->k + ky) * l->in_w + ox * l->k + kx];
            if (v > m || isnan(v)) {
                m = v;
                best = ky * l->k + kx;
                if (isnan(v))
                    return best;
            }
        }
    return best;
}

void mz_ref_pool_forward(const mz_layer *l, const float *x, float *y, int B)
{
    for (int b = 0; b < B; b++)
        for (int c = 0; c < l->out_c; c++)
            for (int oy = 0; oy < l->out_h; oy++)
                for (int ox = 0; ox < l->out_w; ox++) {
                    int a = pool_argmax(l, x + b * l->in_size, c, oy, ox);
                    y[b * l->out_size + (c * l->out_h + oy) * l->out_w + ox] =
                        x[b * l->in_size + (c * l->in_h + oy * l->k + a / l->k) * l->in_w + ox * l->k + a % l->k];
                }
}

void mz_ref_pool_backward(const mz_layer *l, const float *x, const float *dy, float *dx, int B)
{
    memset(dx, 0, sizeof(float) * (size_t)(l->in_size * B));
    for (int b = 0; b < B; b++)
        for (int c = 0; c < l->out_c; c++)
            for (int oy = 0; oy < l->out_h; oy++)
                for (int ox = 0; ox < l->out_w; ox++) {
                    int a = pool_argmax(l, x + b * l->in_size, c, oy, ox);
                    dx[b * l->in_size + (c * l->in_h + oy * l->k + a / l->k) * l->in_w + ox * l->k + a % l->k] =
                        dy[b * l->out_size + (c * l->out_h + oy) * l->out_w + ox];
                }
}

void mz_ref_forward(const mz_arch *a, const mz_fwd_cfg *cfg, const float *params, const float *x,
                    int B, float *ws, float *logits)
{
    int64_t in_n = (int64_t)a->in_c * a->in_h * a->in_w * B;
    memcpy(ws, x, sizeof(float) * (size_t)in_n);
    for (int i = 0; i < a->n_layers; i++) {
        const mz_layer *l = &a->layers[i];
        const float *in = layer_out(a, ws, B, i - 1);
        float *out = layer_out(a, ws, B, i);
        int64_t n = l->out_size * B;
        switch (l->kind) {
        case MZ_LAYER_CONV: mz_ref_conv_forward(l, params, in, out, B); break;
        case MZ_LAYER_LINEAR: mz_ref_linear_forward(l, params, in, out, B); break;
        case MZ_LAYER_MAXPOOL: mz_ref_pool_forward(l, in, out, B); break;
        case MZ_LAYER_ACT:
            for (int64_t e = 0; e < n; e++)
                out[e] = mz_act_forward(cfg->act, in[e]);
            break;
        case MZ_LAYER_DROPOUT:
            if (cfg->train && cfg->dropout > 0.0f) {
                float *m = mask_of(a, ws, B, i);
                mz_dropout_mask(cfg, l->dropout_ordinal, n, m);
                for (int64_t e = 0; e < n; e++)
                    out[e] = in[e] * m[e];
            } else {
                memcpy(out, in, sizeof(float) * (size_t)n);
            }
            break;
        case MZ_LAYER_FLATTEN: memcpy(out, in, sizeof(float) * (size_t)n); break;
        }
    }
    memcpy(logits, layer_out(a, ws, B, a->n_layers - 1), sizeof(float) * (size_t)(a->n_classes * B));
}

float mz_ref_loss(const float *logits, const int32_t *y, int B, int K, float *dlogits, int *correct)
{
    float total = 0.0f;
    int hits = 0;
    float invB = 1.0f / (float)B;
    for (int b = 0; b < B; b++) {
        const float *z = logits + (int64_t)b * K;
        float m = z[0];
        int arg = 0;
        for (int k = 1; k < K; k++)
            if (z[k] > m) {
                m = z[k];
                arg = k;
            }
        hits += arg == y[b];
        float se = 0.0f;
        for (int k = 0; k < K; k++)
            se += mzf_exp(z[k] - m);
        float lse = mzf_log(se);
        total += (z[y[b]] - m) - lse; /* log-probability of the label */
        if (dlogits)
            for (int k = 0; k < K; k++) {
                float logp = (z[k] - m) - lse;
                dlogits[(int64_t)b * K + k] = (k == y[b] ? -invB : 0.0f) + mzf_exp(logp) * invB;
            }
    }
    if (correct)
        *correct = hits;
    return -total / (float)B;
}

void mz_ref_backward(const mz_arch *a, const mz_fwd_cfg *cfg, const float *params, int B,
                     const float *dlogits, float *ws, float *grads)
{
    int64_t gb = a->act_floats * B;
    for (int i = 0; i < a->n_layers; i++)
        if (a->layers[i].kind == MZ_LAYER_DROPOUT)
            gb += a->layers[i].out_size * B;
    float *g_out = ws + gb, *g_in = g_out + a->max_layer_size * B;
    memcpy(g_out, dlogits, sizeof(float) * (size_t)(a->n_classes * B));
    for (int i = a->n_layers - 1; i >= 0; i--) {
        const mz_layer *l = &a->layers[i];
        const float *in = layer_out(a, ws, B, i - 1);
        const float *out = layer_out(a, ws, B, i);
        int64_t n = l->out_size * B;
        float *dx = i > 0 ? g_in : NULL; /* no gradient w.r.t. the input images */
        switch (l->kind) {
        case MZ_LAYER_CONV: mz_ref_conv_backward(l, params, in, g_out, dx, grads, B); break;
        case MZ_LAYER_LINEAR: mz_ref_linear_backward(l, params, in, g_out, dx, grads, B); break;
        case MZ_LAYER_MAXPOOL:
            if (dx)
                mz_ref_pool_backward(l, in, g_out, dx, B);
            break;
        case MZ_LAYER_ACT:
            if (dx)
                for (int64_t e = 0; e < n; e++)
                    dx[e] = g_out[e] * mz_act_backward(cfg->act, in[e], out[e]);
            break;
        case MZ_LAYER_DROPOUT:
            if (dx) {
                if (cfg->train && cfg->dropout > 0.0f) {
                    const float *m = mask_of(a, ws, B, i);
                    for (int64_t e = 0; e < n; e++)
                        dx[e] = g_out[e] * m[e];
                } else {
                    memcpy(dx, g_out, sizeof(float) * (size_t)n);
                }
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
}
