/* ResNet-18 as the reference builds it (torchvision's, 3x3 stride-1 stem, no max-pool): layout, initialisation, forward/backward with
 * im2col + sgemm, BatchNorm in train and eval mode, and the optimizer step over the trainable
 * tensors. Activations are channel-major [C][B][H][W] (mzoo/resnet.h). */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mzoo/resnet.h"
#ifdef MZ_HAVE_OPENBLAS
#include <cblas.h>
#endif
#include "core/banned.h"

#define BN_EPS 1e-5
#define BN_MOMENTUM 0.1
/* im2col columns per chunk of samples, in floats (16 MB): the batch is split into chunks so the
 * column matrix stays bounded; a chunk's size depends only on the layer, never on the batch. */
#define COL_TARGET (1 << 22)

/* ---- layout ---- */

static int64_t add_tensor(mz_resnet *net, int64_t *off, const char *name, int ndim,
                          const int64_t *shape, int trainable)
{
    mz_tensor_desc *t = &net->tensors[net->n_tensors];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = ndim;
    t->count = 1;
    for (int d = 0; d < ndim; d++) {
        t->shape[d] = shape[d];
        t->count *= shape[d];
    }
    t->offset = *off;
    *off += t->count;
    net->trainable[net->n_tensors++] = (unsigned char)trainable;
    if (trainable)
        net->n_trainable += t->count;
    return t->offset;
}

/* Adds "<prefix>weight" of a conv and "<bn>.{weight,bias,running_mean,running_var,
 * num_batches_tracked}" of its BatchNorm; returns the conv's index. */
static int add_conv(mz_resnet *net, int64_t *off, const char *conv_name, const char *bn_name,
                    int cin, int cout, int k, int stride, int in_h, int in_w)
{
    int i = 0;
    while (i < MZ_RESNET_CONVS && net->convs[i].cout)
        i++;
    mz_resnet_conv *c = &net->convs[i];
    char name[MZ_TENSOR_NAME_MAX];
    c->cin = cin;
    c->cout = cout;
    c->k = k;
    c->stride = stride;
    c->pad = k / 2;
    c->in_h = in_h;
    c->in_w = in_w;
    c->out_h = (in_h + 2 * c->pad - k) / stride + 1;
    c->out_w = (in_w + 2 * c->pad - k) / stride + 1;
    int64_t ws[4] = {cout, cin, k, k}, bs[1] = {cout};
    snprintf(name, sizeof name, "%s.weight", conv_name);
    c->w = add_tensor(net, off, name, 4, ws, 1);
    snprintf(name, sizeof name, "%s.weight", bn_name);
    c->bn_w = add_tensor(net, off, name, 1, bs, 1);
    snprintf(name, sizeof name, "%s.bias", bn_name);
    c->bn_b = add_tensor(net, off, name, 1, bs, 1);
    snprintf(name, sizeof name, "%s.running_mean", bn_name);
    c->bn_mean = add_tensor(net, off, name, 1, bs, 0);
    snprintf(name, sizeof name, "%s.running_var", bn_name);
    c->bn_var = add_tensor(net, off, name, 1, bs, 0);
    snprintf(name, sizeof name, "%s.num_batches_tracked", bn_name);
    c->bn_count = add_tensor(net, off, name, 0, NULL, 0);
    return i;
}

mz_status mz_resnet_init(mz_resnet *net, int channels, int h, int w, int n_classes, mz_error *err)
{
    memset(net, 0, sizeof *net);
    if (channels < 1 || channels > 3)
        return mz_fail(err, MZ_EINVAL, "resnet18: %d input channels (expected 1 to 3)", channels);
    if (h < 1 || w < 1 || h > 4096 || w > 4096)
        return mz_fail(err, MZ_EINVAL, "resnet18: %dx%d inputs (expected 1 to 4096 pixels a side)",
                       h, w);
    if (n_classes < 1 || n_classes > 100000)
        return mz_fail(err, MZ_EINVAL, "resnet18: %d classes (expected 1 to 100000)", n_classes);
    net->in_c = channels;
    net->in_h = h;
    net->in_w = w;
    net->n_classes = n_classes;
    snprintf(net->variant, sizeof net->variant, "resnet18/c%d/k%d", channels, n_classes);
    int64_t off = 0;
    int c0 = add_conv(net, &off, "conv1", "bn1", channels, 64, 3, 1, h, w);
    int cin = 64, ch = net->convs[c0].out_h, cw = net->convs[c0].out_w;
    static const int widths[4] = {64, 128, 256, 512};
    for (int L = 0; L < 4; L++) {
        for (int j = 0; j < 2; j++) {
            mz_resnet_block *b = &net->blocks[L * 2 + j];
            char cn[40], bn[40];
            int stride = (L > 0 && j == 0) ? 2 : 1, cout = widths[L];
            snprintf(cn, sizeof cn, "layer%d.%d.conv1", L + 1, j);
            snprintf(bn, sizeof bn, "layer%d.%d.bn1", L + 1, j);
            b->conv1 = add_conv(net, &off, cn, bn, cin, cout, 3, stride, ch, cw);
            int oh = net->convs[b->conv1].out_h, ow = net->convs[b->conv1].out_w;
            snprintf(cn, sizeof cn, "layer%d.%d.conv2", L + 1, j);
            snprintf(bn, sizeof bn, "layer%d.%d.bn2", L + 1, j);
            b->conv2 = add_conv(net, &off, cn, bn, cout, cout, 3, 1, oh, ow);
            b->down = -1;
            if (stride != 1 || cin != cout) {
                snprintf(cn, sizeof cn, "layer%d.%d.downsample.0", L + 1, j);
                snprintf(bn, sizeof bn, "layer%d.%d.downsample.1", L + 1, j);
                b->down = add_conv(net, &off, cn, bn, cin, cout, 1, stride, ch, cw);
            }
            cin = cout, ch = oh, cw = ow;
        }
    }
    int64_t fw[2] = {n_classes, 512}, fb[1] = {n_classes};
    net->fc_w = add_tensor(net, &off, "fc.weight", 2, fw, 1);
    net->fc_b = add_tensor(net, &off, "fc.bias", 1, fb, 1);
    net->n_state = off;
    return MZ_OK;
}

/* ---- initialisation ---- */

static void init_weight(float *w, int64_t n, double fan_in, double fan_out, mz_init init,
                        const mz_rng_stream *s)
{
    double bound = 0, std = 0;
    int normal = 0;
    switch (init) {
    case MZ_INIT_UNIFORM:
        bound = -1;
        break;
    case MZ_INIT_NORMAL:
        normal = 1, std = 1.0;
        break;
    case MZ_INIT_KAIMING_UNIFORM:
        bound = sqrt(6.0 / fan_in);
        break;
    case MZ_INIT_KAIMING_NORMAL:
        normal = 1, std = sqrt(2.0 / fan_in);
        break;
    case MZ_INIT_XAVIER_UNIFORM:
        bound = sqrt(6.0 / (fan_in + fan_out));
        break;
    case MZ_INIT_XAVIER_NORMAL:
        normal = 1, std = sqrt(2.0 / (fan_in + fan_out));
        break;
    default:
        bound = 1.0 / sqrt(fan_in);
        break; /* PyTorch's default init */
    }
    if (normal) {
        mz_rng_normal(s, w, (size_t)n);
        if (std != 1.0)
            for (int64_t j = 0; j < n; j++)
                w[j] = (float)(w[j] * std);
    } else if (bound < 0) {
        mz_rng_uniform(s, w, (size_t)n, 0.0f, 1.0f);
    } else {
        mz_rng_uniform(s, w, (size_t)n, (float)-bound, (float)bound);
    }
}

void mz_resnet_init_params(const mz_resnet *net, mz_init init, int64_t seed, float *state)
{
    memset(state, 0, sizeof(float) * (size_t)net->n_state);
    for (int i = 0; i < MZ_RESNET_CONVS; i++) {
        const mz_resnet_conv *c = &net->convs[i];
        for (int j = 0; j < c->cout; j++) {
            state[c->bn_w + j] = 1.0f;
            state[c->bn_var + j] = 1.0f;
        }
    }
    for (int t = 0; t < net->n_tensors; t++) {
        const mz_tensor_desc *d = &net->tensors[t];
        if (!net->trainable[t] || d->ndim < 2)
            continue; /* BN tensors and fc.bias: constants */
        mz_rng_stream s = mz_rng_make((uint64_t)seed, MZ_RNG_INIT, (uint32_t)t, 0, 0);
        int64_t kk = d->ndim == 4 ? d->shape[2] * d->shape[3] : 1;
        double fan_in = (double)(d->shape[1] * kk), fan_out = (double)(d->shape[0] * kk);
        if (init == MZ_INIT_DEFAULT && d->ndim == 4 && t > 0) {
            /* the reference keeps what construction drew: torchvision's kaiming_normal_(mode
             * fan_out, relu) for every conv but the rebuilt stem (PyTorch's default init) */
            mz_rng_normal(&s, state + d->offset, (size_t)d->count);
            for (int64_t j = 0; j < d->count; j++)
                state[d->offset + j] = (float)(state[d->offset + j] * sqrt(2.0 / fan_out));
        } else {
            init_weight(state + d->offset, d->count, fan_in, fan_out, init, &s);
        }
    }
    for (int k = 0; k < net->n_classes; k++)
        state[net->fc_b + k] = 0.01f;
}

/* ---- GEMM: row-major C[M][N] = alpha op(A)[M][K] op(B)[K][N] + beta C ---- */

static void gemm(int ta, int tb, int M, int N, int K, const float *A, int lda, const float *B,
                 int ldb, float beta, float *C, int ldc)
{
#ifdef MZ_HAVE_OPENBLAS
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N,
                K, 1.0f, A, lda, B, ldb, beta, C, ldc);
#else
    for (int i = 0; i < M; i++) {
        float *c = C + (int64_t)i * ldc;
        for (int j = 0; j < N; j++)
            c[j] = beta == 0.0f ? 0.0f : beta * c[j];
        for (int p = 0; p < K; p++) {
            float a = ta ? A[(int64_t)p * lda + i] : A[(int64_t)i * lda + p];
            if (!tb) {
                const float *b = B + (int64_t)p * ldb;
                for (int j = 0; j < N; j++)
                    c[j] += a * b[j];
            } else {
                for (int j = 0; j < N; j++)
                    c[j] += a * B[(int64_t)j * ldb + p];
            }
        }
    }
#endif
}

/* ---- workspace ---- */

struct mz_resnet_ws {
    int max_batch, B, train;
    float *x;                         /* input [C][B][H][W] */
    float *conv_out[MZ_RESNET_CONVS]; /* each conv's output before its BN, [cout][B][oh][ow] */
    float *act[MZ_RESNET_CONVS];      /* stem and conv1: ReLU(BN); conv2: the block's output */
    float *mean[MZ_RESNET_CONVS], *invstd[MZ_RESNET_CONVS]; /* BN batch statistics [cout] */
    float *pooled, *dpooled;                                /* [512][B] */
    float *g[4]; /* gradient buffers, each of the largest activation */
    float *col;  /* im2col columns */
    float *mem;
};

static int64_t chunk_of(const mz_resnet_conv *c)
{
    int64_t per = (int64_t)c->cin * c->k * c->k * c->out_h * c->out_w;
    int64_t n = COL_TARGET / (per > 0 ? per : 1);
    return n < 1 ? 1 : n;
}

#define ALIGN16(n) (((n) + 15) & ~(int64_t)15)

static float *take(const mz_resnet_ws *ws, int64_t *off, int64_t n)
{
    float *p = ws->mem ? ws->mem + *off : NULL;
    *off += ALIGN16(n);
    return p;
}

/* Float count of the workspace; with ws->mem set, also hands out the pointers. */
static int64_t ws_layout(const mz_resnet *net, int Bm, mz_resnet_ws *ws)
{
    int64_t off = 0, biggest = 0, col = 0;
    ws->x = take(ws, &off, (int64_t)net->in_c * Bm * net->in_h * net->in_w);
    for (int i = 0; i < MZ_RESNET_CONVS; i++) {
        const mz_resnet_conv *c = &net->convs[i];
        int64_t n = (int64_t)c->cout * Bm * c->out_h * c->out_w;
        int is_down = 0;
        for (int b = 0; b < MZ_RESNET_BLOCKS; b++)
            is_down |= net->blocks[b].down == i;
        ws->conv_out[i] = take(ws, &off, n);
        ws->act[i] = is_down ? NULL : take(ws, &off, n);
        ws->mean[i] = take(ws, &off, c->cout);
        ws->invstd[i] = take(ws, &off, c->cout);
        if (n > biggest)
            biggest = n;
        int64_t ch = chunk_of(c) < Bm ? chunk_of(c) : Bm;
        int64_t cn = (int64_t)c->cin * c->k * c->k * c->out_h * c->out_w * ch;
        if (cn > col)
            col = cn;
    }
    ws->pooled = take(ws, &off, (int64_t)512 * Bm);
    ws->dpooled = take(ws, &off, (int64_t)512 * Bm);
    for (int k = 0; k < 4; k++)
        ws->g[k] = take(ws, &off, biggest);
    ws->col = take(ws, &off, col);
    return off;
}

int64_t mz_resnet_ws_bytes(const mz_resnet *net, int max_batch)
{
    mz_resnet_ws tmp;
    memset(&tmp, 0, sizeof tmp);
    return (int64_t)sizeof(float) * ws_layout(net, max_batch, &tmp) + (int64_t)sizeof tmp;
}

mz_status mz_resnet_ws_new(mz_resnet_ws **out, const mz_resnet *net, int max_batch, mz_error *err)
{
    *out = NULL;
    if (max_batch < 1)
        return mz_fail(err, MZ_EINVAL, "resnet18 workspace: batch %d (expected >= 1)", max_batch);
    mz_resnet_ws *ws = calloc(1, sizeof *ws);
    int64_t n = ws ? ws_layout(net, max_batch, ws) : 0;
    if (ws)
        ws->mem = mz_alloc_aligned(sizeof(float) * (size_t)n);
    if (!ws || !ws->mem) {
        free(ws);
        return mz_fail(err, MZ_ENOMEM, "resnet18 workspace: out of memory (%.1f GB for batch %d)",
                       (double)n * 4 / 1e9, max_batch);
    }
    ws->max_batch = max_batch;
    ws_layout(net, max_batch, ws);
    *out = ws;
    return MZ_OK;
}

void mz_resnet_ws_free(mz_resnet_ws *ws)
{
    if (ws) {
        mz_free_aligned(ws->mem);
        free(ws);
    }
}

/* ---- convolution as im2col + GEMM ---- */

/* The output columns [lo, hi) whose input column ox*stride + kx - pad lies inside the image. */
static void inside_cols(const mz_resnet_conv *c, int kx, int *lo, int *hi)
{
    int s = c->stride, p = c->pad, w = c->in_w, ow = c->out_w;
    int l = 0, h = ow;
    while (l < ow && l * s + kx - p < 0)
        l++;
    while (h > l && (h - 1) * s + kx - p >= w)
        h--;
    *lo = l;
    *hi = h;
}

/* x [cin][B][h][w] (samples b0..b0+nb-1 of it) -> col [cin*k*k][nb][oh][ow], zero padding. */
static void im2col(const mz_resnet_conv *c, const float *x, int B, int b0, int nb, float *col)
{
    int k = c->k, s = c->stride, p = c->pad, h = c->in_h, w = c->in_w, oh = c->out_h, ow = c->out_w;
    int64_t plane = (int64_t)h * w, ohw = (int64_t)oh * ow;
    for (int ci = 0; ci < c->cin; ci++)
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) {
                float *dst = col + ((int64_t)(ci * k + ky) * k + kx) * nb * ohw;
                int lo, hi;
                inside_cols(c, kx, &lo, &hi);
                for (int b = 0; b < nb; b++) {
                    const float *src = x + ((int64_t)ci * B + b0 + b) * plane;
                    for (int oy = 0; oy < oh; oy++, dst += ow) {
                        int iy = oy * s + ky - p;
                        if (iy < 0 || iy >= h) {
                            memset(dst, 0, sizeof(float) * (size_t)ow);
                            continue;
                        }
                        const float *row = src + (int64_t)iy * w; /* input column ox*s + kx - p */
                        for (int ox = 0; ox < lo; ox++)
                            dst[ox] = 0.0f;
                        if (s == 1)
                            memcpy(dst + lo, row + lo + kx - p, sizeof(float) * (size_t)(hi - lo));
                        else
                            for (int ox = lo; ox < hi; ox++)
                                dst[ox] = row[ox * s + kx - p];
                        for (int ox = hi; ox < ow; ox++)
                            dst[ox] = 0.0f;
                    }
                }
            }
}

/* The transpose: dx [cin][B][h][w] += col [cin*k*k][nb][oh][ow] (samples b0..b0+nb-1). */
static void col2im(const mz_resnet_conv *c, const float *col, int B, int b0, int nb, float *dx)
{
    int k = c->k, s = c->stride, p = c->pad, h = c->in_h, w = c->in_w, oh = c->out_h, ow = c->out_w;
    int64_t plane = (int64_t)h * w, ohw = (int64_t)oh * ow;
    for (int ci = 0; ci < c->cin; ci++)
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) {
                const float *src = col + ((int64_t)(ci * k + ky) * k + kx) * nb * ohw;
                int lo, hi;
                inside_cols(c, kx, &lo, &hi);
                for (int b = 0; b < nb; b++) {
                    float *dst = dx + ((int64_t)ci * B + b0 + b) * plane;
                    for (int oy = 0; oy < oh; oy++, src += ow) {
                        int iy = oy * s + ky - p;
                        if (iy < 0 || iy >= h)
                            continue;
                        float *row = dst + (int64_t)iy * w;
                        if (s == 1) {
                            float *r1 = row + lo + kx - p; /* lo + kx - p >= 0 */
                            const float *s1 = src + lo;
                            for (int ox = 0; ox < hi - lo; ox++)
                                r1[ox] += s1[ox];
                        } else {
                            for (int ox = lo; ox < hi; ox++)
                                row[ox * s + kx - p] += src[ox];
                        }
                    }
                }
            }
}

/* y [cout][B][oh][ow] = conv(x [cin][B][h][w]) with weights W [cout][cin][k][k]. */
static void conv_forward(const mz_resnet_conv *c, const float *W, const float *x, int B, float *y,
                         float *col)
{
    int64_t ohw = (int64_t)c->out_h * c->out_w, chunk = chunk_of(c);
    int kdim = c->cin * c->k * c->k;
    for (int b0 = 0; b0 < B; b0 += (int)chunk) {
        int nb = (int)(B - b0 < chunk ? B - b0 : chunk);
        im2col(c, x, B, b0, nb, col);
        gemm(0, 0, c->cout, (int)(nb * ohw), kdim, W, kdim, col, (int)(nb * ohw), 0.0f,
             y + b0 * ohw, (int)(B * ohw));
    }
}

/* From dy [cout][B][oh][ow]: dW [cout][cin][k][k] = sum over chunks of dy . col^T (overwritten),
 * and if dx is not NULL, dx [cin][B][h][w] += the transposed convolution of dy. */
static void conv_backward(const mz_resnet_conv *c, const float *W, const float *x, int B,
                          const float *dy, float *dW, float *dx, float *col)
{
    int64_t ohw = (int64_t)c->out_h * c->out_w, chunk = chunk_of(c);
    int kdim = c->cin * c->k * c->k;
    for (int b0 = 0; b0 < B; b0 += (int)chunk) {
        int nb = (int)(B - b0 < chunk ? B - b0 : chunk);
        int n = (int)(nb * ohw);
        im2col(c, x, B, b0, nb, col);
        gemm(0, 1, c->cout, kdim, n, dy + b0 * ohw, (int)(B * ohw), col, n, b0 ? 1.0f : 0.0f, dW,
             kdim);
        if (dx) {
            gemm(1, 0, kdim, n, c->cout, W, kdim, dy + b0 * ohw, (int)(B * ohw), 0.0f, col, n);
            col2im(c, col, B, b0, nb, dx);
        }
    }
}

/* ---- BatchNorm (+ ReLU) ----
 * x, y [cout][n] with n = B*oh*ow values per channel. */

static void bn_forward(const mz_resnet_conv *c, float *state, const float *x, int64_t n, int train,
                       float *mean_out, float *invstd_out, float *y)
{
    const float *gamma = state + c->bn_w, *beta = state + c->bn_b;
    float *rmean = state + c->bn_mean, *rvar = state + c->bn_var;
    for (int ch = 0; ch < c->cout; ch++) {
        const float *xc = x + ch * n;
        double mean, invstd;
        if (train) {
            double sum = 0, sq = 0;
            for (int64_t i = 0; i < n; i++)
                sum += xc[i];
            mean = sum / (double)n;
            for (int64_t i = 0; i < n; i++) {
                double d = xc[i] - mean;
                sq += d * d;
            }
            double var = sq / (double)n;
            invstd = 1.0 / sqrt(var + BN_EPS);
            double unbiased = n > 1 ? sq / (double)(n - 1) : var;
            rmean[ch] = (float)((1.0 - BN_MOMENTUM) * rmean[ch] + BN_MOMENTUM * mean);
            rvar[ch] = (float)((1.0 - BN_MOMENTUM) * rvar[ch] + BN_MOMENTUM * unbiased);
            mean_out[ch] = (float)mean;
            invstd_out[ch] = (float)invstd;
        } else {
            mean = rmean[ch];
            invstd = 1.0 / sqrt((double)rvar[ch] + BN_EPS);
        }
        /* y = x * a + b with a = gamma * invstd, b = beta - mean * a (as torch's CPU kernel) */
        float a = (float)(gamma[ch] * invstd), b = (float)(beta[ch] - mean * gamma[ch] * invstd);
        float *yc = y + ch * n;
        for (int64_t i = 0; i < n; i++)
            yc[i] = xc[i] * a + b;
    }
    if (train)
        state[c->bn_count] += 1.0f;
}

/* ReLU that keeps NaN (so a diverging model shows up in its loss, as in torch). */
static void relu_inplace(float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = y[i] < 0.0f ? 0.0f : y[i];
}

/* Training-mode BN backward, in place allowed (dx may equal dy): from the conv output x, the
 * batch statistics and dy, writes dgamma, dbeta and dx [cout][n]. */
static void bn_backward(const mz_resnet_conv *c, const float *state, const float *x,
                        const float *mean, const float *invstd, int64_t n, const float *dy,
                        float *dgamma, float *dbeta, float *dx)
{
    const float *gamma = state + c->bn_w;
    for (int ch = 0; ch < c->cout; ch++) {
        const float *xc = x + ch * n, *dyc = dy + ch * n;
        double m = mean[ch], is = invstd[ch], sdy = 0, sdyx = 0;
        for (int64_t i = 0; i < n; i++) {
            sdy += dyc[i];
            sdyx += dyc[i] * ((xc[i] - m) * is);
        }
        dgamma[ch] = (float)sdyx;
        dbeta[ch] = (float)sdy;
        /* dx = gamma*invstd * (dy - sdy/n - xhat*sdyx/n), xhat = (x - mean)*invstd
         *    = a*dy + k1*x + k0 */
        double a = gamma[ch] * is, k1 = -a * is * sdyx / (double)n;
        double k0 = -a * sdy / (double)n - k1 * m;
        float fa = (float)a, fk1 = (float)k1, fk0 = (float)k0;
        float *dxc = dx + ch * n;
        for (int64_t i = 0; i < n; i++)
            dxc[i] = dyc[i] * fa + (xc[i] * fk1 + fk0);
    }
}

/* ---- forward / backward ---- */

static int64_t conv_out_count(const mz_resnet_conv *c, int B)
{
    return (int64_t)c->cout * B * c->out_h * c->out_w;
}

/* conv -> BN into act (ReLU if relu): the stem's and every block's first unit */
static void unit_forward(const mz_resnet *net, mz_resnet_ws *ws, float *state, int i,
                         const float *in, int B, int train, float *act, int relu)
{
    const mz_resnet_conv *c = &net->convs[i];
    int64_t n = (int64_t)B * c->out_h * c->out_w;
    conv_forward(c, state + c->w, in, B, ws->conv_out[i], ws->col);
    bn_forward(c, state, ws->conv_out[i], n, train, ws->mean[i], ws->invstd[i], act);
    if (relu)
        relu_inplace(act, (int64_t)c->cout * n);
}

void mz_resnet_forward(const mz_resnet *net, mz_resnet_ws *ws, float *state, const float *x, int B,
                       int train, float *logits)
{
    int C = net->in_c, K = net->n_classes;
    int64_t hw = (int64_t)net->in_h * net->in_w;
    ws->B = B;
    ws->train = train;
    for (int b = 0; b < B; b++) /* [B][C][HW] -> [C][B][HW] */
        for (int ch = 0; ch < C; ch++)
            memcpy(ws->x + ((int64_t)ch * B + b) * hw, x + ((int64_t)b * C + ch) * hw,
                   sizeof(float) * (size_t)hw);
    unit_forward(net, ws, state, 0, ws->x, B, train, ws->act[0], 1);
    const float *in = ws->act[0];
    for (int bi = 0; bi < MZ_RESNET_BLOCKS; bi++) {
        const mz_resnet_block *blk = &net->blocks[bi];
        unit_forward(net, ws, state, blk->conv1, in, B, train, ws->act[blk->conv1], 1);
        float *out = ws->act[blk->conv2];
        unit_forward(net, ws, state, blk->conv2, ws->act[blk->conv1], B, train, out, 0);
        int64_t n = conv_out_count(&net->convs[blk->conv2], B);
        if (blk->down >= 0) {
            /* the shortcut's BN output goes through the (not yet needed) first gradient buffer */
            float *sc = ws->g[0];
            unit_forward(net, ws, state, blk->down, in, B, train, sc, 0);
            for (int64_t i = 0; i < n; i++)
                out[i] = out[i] + sc[i];
        } else {
            for (int64_t i = 0; i < n; i++)
                out[i] = out[i] + in[i];
        }
        relu_inplace(out, n);
        in = out;
    }
    /* adaptive average pool to 1x1: pooled [512][B] */
    const mz_resnet_conv *last = &net->convs[net->blocks[MZ_RESNET_BLOCKS - 1].conv2];
    int64_t phw = (int64_t)last->out_h * last->out_w;
    for (int64_t cb = 0; cb < (int64_t)512 * B; cb++) {
        const float *p = in + cb * phw;
        double s = 0;
        for (int64_t i = 0; i < phw; i++)
            s += p[i];
        ws->pooled[cb] = (float)(s / (double)phw);
    }
    /* fc: logits [B][K] = pooled^T [B][512] . W^T [512][K] + bias */
    gemm(1, 1, B, K, 512, ws->pooled, B, state + net->fc_w, 512, 0.0f, logits, K);
    for (int b = 0; b < B; b++)
        for (int k = 0; k < K; k++)
            logits[(int64_t)b * K + k] += state[net->fc_b + k];
}

/* a gradient buffer other than the ones in use */
static float *free_buffer(mz_resnet_ws *ws, const float *u1, const float *u2, const float *u3)
{
    for (int k = 0; k < 4; k++)
        if (ws->g[k] != u1 && ws->g[k] != u2 && ws->g[k] != u3)
            return ws->g[k];
    return NULL; /* unreachable: four buffers, at most three in use */
}

static void relu_backward_inplace(float *g, const float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        g[i] = y[i] > 0.0f ? g[i] : 0.0f;
}

void mz_resnet_backward(const mz_resnet *net, mz_resnet_ws *ws, const float *state,
                        const float *dlogits, float *grads)
{
    int B = ws->B, K = net->n_classes;
    memset(grads, 0, sizeof(float) * (size_t)net->n_state);
    /* fc: dW [K][512] = dlogits^T [K][B] . pooled^T [B][512]; db = column sums;
     * dpooled [512][B] = W^T [512][K] . dlogits^T [K][B] */
    gemm(1, 1, K, 512, B, dlogits, K, ws->pooled, B, 0.0f, grads + net->fc_w, 512);
    for (int k = 0; k < K; k++) {
        float s = 0;
        for (int b = 0; b < B; b++)
            s += dlogits[(int64_t)b * K + k];
        grads[net->fc_b + k] = s;
    }
    float *dpooled = ws->dpooled;
    gemm(1, 1, 512, B, K, state + net->fc_w, 512, dlogits, K, 0.0f, dpooled, B);
    /* average pool */
    const mz_resnet_conv *last = &net->convs[net->blocks[MZ_RESNET_BLOCKS - 1].conv2];
    int64_t phw = (int64_t)last->out_h * last->out_w;
    float *gout = ws->g[0];
    for (int64_t cb = 0; cb < (int64_t)512 * B; cb++) {
        float v = (float)((double)dpooled[cb] / (double)phw);
        for (int64_t i = 0; i < phw; i++)
            gout[cb * phw + i] = v;
    }
    for (int bi = MZ_RESNET_BLOCKS - 1; bi >= 0; bi--) {
        const mz_resnet_block *blk = &net->blocks[bi];
        const mz_resnet_conv *c1 = &net->convs[blk->conv1], *c2 = &net->convs[blk->conv2];
        const float *in = bi ? ws->act[net->blocks[bi - 1].conv2] : ws->act[0];
        int64_t n2 = (int64_t)B * c2->out_h * c2->out_w, n1 = (int64_t)B * c1->out_h * c1->out_w;
        relu_backward_inplace(gout, ws->act[blk->conv2], (int64_t)c2->cout * n2);
        float *gt = free_buffer(ws, gout, NULL, NULL);
        bn_backward(c2, state, ws->conv_out[blk->conv2], ws->mean[blk->conv2],
                    ws->invstd[blk->conv2], n2, gout, grads + c2->bn_w, grads + c2->bn_b, gt);
        float *gin;
        if (blk->down >= 0) {
            const mz_resnet_conv *cd = &net->convs[blk->down];
            bn_backward(cd, state, ws->conv_out[blk->down], ws->mean[blk->down],
                        ws->invstd[blk->down], n2, gout, grads + cd->bn_w, grads + cd->bn_b, gout);
            gin = free_buffer(ws, gout, gt, NULL);
            memset(gin, 0, sizeof(float) * (size_t)(cd->cin * (int64_t)B * cd->in_h * cd->in_w));
            conv_backward(cd, state + cd->w, in, B, gout, grads + cd->w, gin, ws->col);
        } else {
            gin = gout; /* identity shortcut: the block input's gradient starts as the output's */
        }
        float *gu = free_buffer(ws, gin, gt, NULL);
        memset(gu, 0, sizeof(float) * (size_t)(c1->cout * n1));
        conv_backward(c2, state + c2->w, ws->act[blk->conv1], B, gt, grads + c2->w, gu, ws->col);
        relu_backward_inplace(gu, ws->act[blk->conv1], (int64_t)c1->cout * n1);
        bn_backward(c1, state, ws->conv_out[blk->conv1], ws->mean[blk->conv1],
                    ws->invstd[blk->conv1], n1, gu, grads + c1->bn_w, grads + c1->bn_b, gu);
        conv_backward(c1, state + c1->w, in, B, gu, grads + c1->w, gin, ws->col);
        gout = gin;
    }
    const mz_resnet_conv *c0 = &net->convs[0];
    int64_t n0 = (int64_t)B * c0->out_h * c0->out_w;
    relu_backward_inplace(gout, ws->act[0], (int64_t)c0->cout * n0);
    bn_backward(c0, state, ws->conv_out[0], ws->mean[0], ws->invstd[0], n0, gout, grads + c0->bn_w,
                grads + c0->bn_b, gout);
    conv_backward(c0, state + c0->w, ws->x, B, gout, grads + c0->w, NULL, ws->col);
}

void mz_resnet_optim_step(const mz_resnet *net, const mz_optim_cfg *cfg, float *state,
                          const float *grads, float *opt_state, int64_t t)
{
    int64_t off = 0;
    for (int i = 0; i < net->n_tensors; i++) {
        if (!net->trainable[i])
            continue;
        const mz_tensor_desc *d = &net->tensors[i];
        mz_optim_step(cfg, state + d->offset, grads + d->offset, opt_state + off, d->count, t);
        off += mz_optim_state_floats(cfg->type, d->count);
    }
}

/* ---- BLAS ---- */
int mz_blas_prefer_avx512(void)
{
#if defined(MZ_HAVE_OPENBLAS) && defined(__x86_64__) && defined(__GNUC__)
    static const char *const avx512_kernels[] = {"SkylakeX", "Cooperlake", "SapphireRapids"};
    if (getenv("OPENBLAS_CORETYPE"))
        return 0; /* the user's choice */
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512f"))
        return 0;
    const char *core = openblas_get_corename();
    for (size_t i = 0; core && i < sizeof avx512_kernels / sizeof avx512_kernels[0]; i++)
        if (!strcmp(core, avx512_kernels[i]))
            return 0; /* OpenBLAS already uses an AVX-512 kernel */
    return setenv("OPENBLAS_CORETYPE", "SkylakeX", 1) == 0;
#else
    return 0;
#endif
}

#ifdef MZ_HAVE_OPENBLAS
const char *mz_blas_corename(void)
{
    const char *s = openblas_get_corename();
    return s ? s : "unknown";
}

void mz_blas_set_threads(int n)
{
    openblas_set_num_threads(n > 0 ? n : 1);
}
#else
const char *mz_blas_corename(void)
{
    return "none";
}

void mz_blas_set_threads(int n)
{
    (void)n;
}
#endif
