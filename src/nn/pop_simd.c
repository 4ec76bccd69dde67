/* The "simd" population backend: the 16 models of a pop live in the 16 float lanes of a vector.
 *
 * Every tensor is stored lane-interleaved, [element][16] (one v16f per element): parameters P,
 * gradients G, optimizer state M (Adam exp_avg or SGD momentum buffer) and V (Adam exp_avg_sq),
 * and the activations of one sample. Each vector instruction thus does the same operation for 16
 * models, and per lane it is exactly the scalar operation of the reference kernels (src/nn/ref.c)
 * in the same order, so every lane is bit-identical to the "ref" backend (tests/test_pop.c).
 *
 * A training step runs sample by sample: forward, loss and backward of sample b (b = 0..B-1),
 * the weight gradient sums carried over from sample to sample in G. The reference's summation
 * orders are over b first (weight gradients: b, then oy, ox; bias gradients likewise), so this
 * performs the same operations in the same order while only one sample's activations (a few
 * hundred KB) are live: they stay in the L2 cache. Then one optimizer update of every active lane.
 *
 * Layer kernels (one function per layer kind and direction) work on tiles of outputs held in
 * registers; tile shapes are chosen per layer from the instantiations below, with a 1x1 tile as the
 * fallback for any other shape. See docs/PERFORMANCE.md for the measurements behind them.
 *
 * Eval turns the lanes around: 16 images in the lanes and one model at a time, its weights
 * broadcast (section "eval" at the end), so that pops of few models fill the lanes too.
 */
#include <stdlib.h>
#include <string.h>

#include "mzoo/pop.h"
#include "nn/nn-impl.h"
#include "nn/simd-impl.h"
#include "core/banned.h"

#define UNROLL _Pragma("GCC unroll 32")
#define NOINLINE __attribute__((noinline)) /* keeps layers apart in profiles; calls are per layer  \
                                            */
#define PAD                                                                                        \
    32 /* vectors of slack on both sides of the gradient buffers (dx tiles read past rows) */

/* ---- convolution forward ----
 * One tile: y[co0 .. co0+CB)[oy][ox0 .. ox0+RB) of one sample, every lane, kernel size K.
 *   x [in_c][in_h][in_w], W [out_c][in_c][K][K], bias [out_c], y [out_c][out_h][out_w]
 * Per output: acc = 0; acc = fma(W, x, acc) over (ci, ky, kx) ascending; y = acc + bias. */
typedef void (*conv_fwd_fn)(const mz_layer *l, const v16f *W, const v16f *bias, const v16f *x,
                            v16f *y, int co0, int oy, int ox0);

/* WT is the weights' type: v16f (one model per lane, WL(w) = w) or float (eval: one model's
 * weights broadcast to the 16 lanes, which hold 16 images, WL(w) = vf(w)); per lane the same
 * operations either way. */
#define WL_VEC(w) (w)
#define WL_BCAST(w) vf(w)
#define DEF_CONV_FWD_T(NAME, WT, WL, CB, RB, K)                                                    \
    static void NAME(const mz_layer *l, const WT *W, const WT *bias, const v16f *x, v16f *y,       \
                     int co0, int oy, int ox0)                                                     \
    {                                                                                              \
        const int in_c = l->in_c, in_h = l->in_h, in_w = l->in_w;                                  \
        const int wstride = in_c * K * K;                                                          \
        v16f acc[CB][RB];                                                                          \
        UNROLL for (int c = 0; c < CB; c++) UNROLL for (int r = 0; r < RB; r++) acc[c][r] =        \
            vf(0.0f);                                                                              \
        for (int ci = 0; ci < in_c; ci++)                                                          \
            for (int ky = 0; ky < K; ky++) {                                                       \
                const v16f *xr = x + (ci * in_h + oy + ky) * in_w + ox0;                           \
                const WT *wr = W + (co0 * in_c + ci) * K * K + ky * K;                             \
                UNROLL for (int kx = 0; kx < K; kx++)                                              \
                {                                                                                  \
                    UNROLL for (int c = 0; c < CB; c++)                                            \
                    {                                                                              \
                        v16f w = WL(wr[c * wstride + kx]);                                         \
                        UNROLL for (int r = 0; r < RB; r++) acc[c][r] =                            \
                            vfma(w, xr[r + kx], acc[c][r]);                                        \
                    }                                                                              \
                }                                                                                  \
            }                                                                                      \
        UNROLL for (int c = 0; c < CB; c++)                                                        \
        {                                                                                          \
            v16f bv = WL(bias[co0 + c]);                                                           \
            v16f *yr = y + ((co0 + c) * l->out_h + oy) * l->out_w + ox0;                           \
            UNROLL for (int r = 0; r < RB; r++) yr[r] = acc[c][r] + bv;                            \
        }                                                                                          \
    }
#define DEF_CONV_FWD(CB, RB, K) DEF_CONV_FWD_T(conv_fwd_##CB##x##RB##k##K, v16f, WL_VEC, CB, RB, K)
#define DEF_CONV_FWDB(CB, RB, K)                                                                   \
    DEF_CONV_FWD_T(conv_fwdb_##CB##x##RB##k##K, float, WL_BCAST, CB, RB, K)

DEF_CONV_FWD(4, 6, 5) /* CNN-s conv1 */
DEF_CONV_FWD(6, 4, 5) /* CNN-s conv2 */
DEF_CONV_FWD(4, 3, 2) /* CNN-s conv3 */
DEF_CONV_FWD(4, 6, 3) /* CNN-l conv1 */
DEF_CONV_FWD(4, 5, 3) /* CNN-l conv2: 13 = 5 + 5 + 3 */
DEF_CONV_FWD(4, 3, 3)
DEF_CONV_FWD(5, 4, 3) /* CNN-l conv3 */

/* the eval kernels: x and y hold 16 images, W and bias one model's (broadcast) */
typedef void (*conv_fwdb_fn)(const mz_layer *l, const float *W, const float *bias, const v16f *x,
                             v16f *y, int co0, int oy, int ox0);

typedef struct fwd_tile {
    int cb, rb, k;
    conv_fwd_fn fn;
} fwd_tile;
static const fwd_tile fwd_tiles[] = {
    {4, 6, 5, conv_fwd_4x6k5}, {6, 4, 5, conv_fwd_6x4k5}, {4, 3, 2, conv_fwd_4x3k2},
    {4, 6, 3, conv_fwd_4x6k3}, {4, 5, 3, conv_fwd_4x5k3}, {4, 3, 3, conv_fwd_4x3k3},
    {5, 4, 3, conv_fwd_5x4k3},
};

/* Eval tiles (the weights broadcast from scalars): a tile holds CB x RB accumulators and a row
 * of RB + K - 1 inputs in registers. Measured (bench_eval, CNN-s, ReLU, 16 models, fraction of
 * the thread's FMA peak): 2x8 for both 5x5 layers 0.85, the training tiles 4x6 and 6x4 0.80
 * (they spill with the broadcasts), 4x4 / 3x4 0.80, 1x8 0.82, 2x12 0.81. */
#define TILES_FWDB(X)                                                                              \
    X(2, 8, 5) X(4, 6, 5) X(6, 4, 5) X(4, 3, 2) X(4, 6, 3) X(4, 5, 3) X(4, 3, 3) X(5, 4, 3)
#define X(CB, RB, K) DEF_CONV_FWDB(CB, RB, K)
TILES_FWDB(X)
#undef X
typedef struct fwdb_tile {
    int cb, rb, k;
    conv_fwdb_fn fn;
} fwdb_tile;
static const fwdb_tile fwdb_tiles[] = {
#define X(CB, RB, K) {CB, RB, K, conv_fwdb_##CB##x##RB##k##K},
    TILES_FWDB(X)
#undef X
};

/* Any shape: one output at a time, same chain. */
#define DEF_CONV_FWD_ANY(NAME, WT, WL)                                                             \
    static void NAME(const mz_layer *l, const WT *W, const WT *bias, const v16f *x, v16f *y)       \
    {                                                                                              \
        const int K = l->k;                                                                        \
        for (int co = 0; co < l->out_c; co++)                                                      \
            for (int oy = 0; oy < l->out_h; oy++)                                                  \
                for (int ox = 0; ox < l->out_w; ox++) {                                            \
                    v16f acc = vf(0.0f);                                                           \
                    for (int ci = 0; ci < l->in_c; ci++)                                           \
                        for (int ky = 0; ky < K; ky++)                                             \
                            for (int kx = 0; kx < K; kx++)                                         \
                                acc = vfma(WL(W[((co * l->in_c + ci) * K + ky) * K + kx]),         \
                                           x[(ci * l->in_h + oy + ky) * l->in_w + ox + kx], acc);  \
                    y[(co * l->out_h + oy) * l->out_w + ox] = acc + WL(bias[co]);                  \
                }                                                                                  \
    }
DEF_CONV_FWD_ANY(conv_fwd_any, v16f, WL_VEC)
DEF_CONV_FWD_ANY(conv_fwdb_any, float, WL_BCAST)

/* ---- convolution weight and bias gradients (accumulated over the samples of a step) ----
 * One tile: dW[co0 .. co0+CB)[ci][ky][0 .. K) += sum over (oy, ox) ascending of dy * x, one fma per
 * term, continuing each weight's chain from the previous samples.
 *   x [in_c][in_h][in_w], dy [out_c][out_h][out_w], dW [out_c][in_c][K][K] */
typedef void (*conv_dw_fn)(const mz_layer *l, const v16f *x, const v16f *dy, v16f *dW, int co0,
                           int ci, int ky);

#define DEF_CONV_DW(CB, K)                                                                         \
    static void conv_dw_##CB##x##K(const mz_layer *l, const v16f *x, const v16f *dy, v16f *dW,     \
                                   int co0, int ci, int ky)                                        \
    {                                                                                              \
        const int in_c = l->in_c, in_h = l->in_h, in_w = l->in_w;                                  \
        const int oh = l->out_h, ow = l->out_w, osz = oh * ow;                                     \
        v16f acc[CB][K];                                                                           \
        v16f *wr = dW + (co0 * in_c + ci) * K * K + ky * K;                                        \
        UNROLL for (int c = 0; c < CB; c++) UNROLL for (int kx = 0; kx < K; kx++) acc[c][kx] =     \
            wr[c * in_c * K * K + kx];                                                             \
        const v16f *dyr = dy + co0 * osz;                                                          \
        for (int oy = 0; oy < oh; oy++) {                                                          \
            const v16f *xr = x + (ci * in_h + oy + ky) * in_w;                                     \
            for (int ox = 0; ox < ow; ox++) {                                                      \
                UNROLL for (int c = 0; c < CB; c++)                                                \
                {                                                                                  \
                    v16f d = dyr[c * osz + oy * ow + ox];                                          \
                    UNROLL for (int kx = 0; kx < K; kx++) acc[c][kx] =                             \
                        vfma(d, xr[ox + kx], acc[c][kx]);                                          \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
        UNROLL for (int c = 0; c < CB; c++) UNROLL for (int kx = 0; kx < K; kx++)                  \
            wr[c * in_c * K * K + kx] = acc[c][kx];                                                \
    }

DEF_CONV_DW(4, 5)
DEF_CONV_DW(3, 5)
DEF_CONV_DW(2, 5)
DEF_CONV_DW(8, 3)
DEF_CONV_DW(5, 3)
DEF_CONV_DW(4, 3)
DEF_CONV_DW(8, 2)
DEF_CONV_DW(4, 2)
DEF_CONV_DW(2, 2)

typedef struct dw_tile {
    int cb, k;
    conv_dw_fn fn;
} dw_tile;
static const dw_tile dw_tiles[] = {
    {4, 5, conv_dw_4x5}, {3, 5, conv_dw_3x5}, {2, 5, conv_dw_2x5},
    {8, 3, conv_dw_8x3}, {5, 3, conv_dw_5x3}, {4, 3, conv_dw_4x3},
    {8, 2, conv_dw_8x2}, {4, 2, conv_dw_4x2}, {2, 2, conv_dw_2x2},
};

/* Any shape: one weight at a time, same chain. */
static void conv_dw_any(const mz_layer *l, const v16f *x, const v16f *dy, v16f *dW)
{
    const int K = l->k, oh = l->out_h, ow = l->out_w;
    for (int co = 0; co < l->out_c; co++)
        for (int ci = 0; ci < l->in_c; ci++)
            for (int ky = 0; ky < K; ky++)
                for (int kx = 0; kx < K; kx++) {
                    v16f *w = dW + ((co * l->in_c + ci) * K + ky) * K + kx;
                    v16f g = *w;
                    for (int oy = 0; oy < oh; oy++)
                        for (int ox = 0; ox < ow; ox++)
                            g = vfma(dy[(co * oh + oy) * ow + ox],
                                     x[(ci * l->in_h + oy + ky) * l->in_w + ox + kx], g);
                    *w = g;
                }
}

/* ---- convolution input gradient (gather form) ----
 * dx[ci][iy][ix] = sum over (co, ky, kx) ascending of dy[co][iy-ky][ix-kx] * W[co][ci][ky][kx], the
 * terms whose output position falls outside dy skipped, one fma per term.
 *   dy [out_c][out_h][out_w], W [out_c][in_c][K][K], dx [in_c][in_h][in_w]
 * Rows: the valid ky are a range, the loop bounds. Columns: for ix in [K-1, out_w-1] ("interior")
 * every kx is valid, so tiles of RB such columns need no test; the other columns (borders and the
 * interior's remainder) go one at a time with their own kx range. */
typedef void (*conv_dx_fn)(const mz_layer *l, const v16f *W, const v16f *dy, v16f *dx, int ci0,
                           int iy, int ix0);

/* Interior tile: dx[ci0 .. ci0+CB)[iy][ix0 .. ix0+RB), K - 1 <= ix0, ix0 + RB <= out_w. */
#define DEF_CONV_DX_IN(CB, RB, K)                                                                  \
    static void conv_dx_in_##CB##x##RB##k##K(const mz_layer *l, const v16f *W, const v16f *dy,     \
                                             v16f *dx, int ci0, int iy, int ix0)                   \
    {                                                                                              \
        const int in_c = l->in_c, oh = l->out_h, ow = l->out_w;                                    \
        int ky0 = iy - oh + 1 > 0 ? iy - oh + 1 : 0, ky1 = iy < K - 1 ? iy : K - 1;                \
        v16f acc[CB][RB];                                                                          \
        UNROLL for (int c = 0; c < CB; c++) UNROLL for (int r = 0; r < RB; r++) acc[c][r] =        \
            vf(0.0f);                                                                              \
        for (int co = 0; co < l->out_c; co++)                                                      \
            for (int ky = ky0; ky <= ky1; ky++) {                                                  \
                const v16f *dyr = dy + (co * oh + iy - ky) * ow + ix0;                             \
                const v16f *wr = W + ((co * in_c + ci0) * K + ky) * K;                             \
                UNROLL for (int kx = 0; kx < K; kx++)                                              \
                {                                                                                  \
                    UNROLL for (int c = 0; c < CB; c++)                                            \
                    {                                                                              \
                        v16f w = wr[c * K * K + kx];                                               \
                        UNROLL for (int r = 0; r < RB; r++) acc[c][r] =                            \
                            vfma(dyr[r - kx], w, acc[c][r]);                                       \
                    }                                                                              \
                }                                                                                  \
            }                                                                                      \
        UNROLL for (int c = 0; c < CB; c++) UNROLL for (int r = 0; r < RB; r++)                    \
            dx[((ci0 + c) * l->in_h + iy) * l->in_w + ix0 + r] = acc[c][r];                        \
    }

/* One column ix, its own kx range: dx[ci0 .. ci0+CB)[iy][ix]. */
#define DEF_CONV_DX_COL(CB, K)                                                                     \
    static void conv_dx_col_##CB##k##K(const mz_layer *l, const v16f *W, const v16f *dy, v16f *dx, \
                                       int ci0, int iy, int ix)                                    \
    {                                                                                              \
        const int in_c = l->in_c, oh = l->out_h, ow = l->out_w;                                    \
        int ky0 = iy - oh + 1 > 0 ? iy - oh + 1 : 0, ky1 = iy < K - 1 ? iy : K - 1;                \
        int kx0 = ix - ow + 1 > 0 ? ix - ow + 1 : 0, kx1 = ix < K - 1 ? ix : K - 1;                \
        v16f acc[CB];                                                                              \
        UNROLL for (int c = 0; c < CB; c++) acc[c] = vf(0.0f);                                     \
        for (int co = 0; co < l->out_c; co++)                                                      \
            for (int ky = ky0; ky <= ky1; ky++) {                                                  \
                const v16f *dyr = dy + (co * oh + iy - ky) * ow + ix;                              \
                const v16f *wr = W + ((co * in_c + ci0) * K + ky) * K;                             \
                for (int kx = kx0; kx <= kx1; kx++) {                                              \
                    v16f d = dyr[-kx];                                                             \
                    UNROLL for (int c = 0; c < CB; c++) acc[c] =                                   \
                        vfma(d, wr[c * K * K + kx], acc[c]);                                       \
                }                                                                                  \
            }                                                                                      \
        UNROLL for (int c = 0; c < CB; c++) dx[((ci0 + c) * l->in_h + iy) * l->in_w + ix] =        \
            acc[c];                                                                                \
    }

/* Edge tile: RB border columns ix0.., kx over the union of their ranges; a term outside one
 * column's range is a masked fma (the accumulator is kept: the term is skipped). dy must have
 * readable slack around it (PAD) for the masked-off loads. */
#define DEF_CONV_DX_EDGE(CB, RB, K)                                                                \
    static void conv_dx_edge_##CB##x##RB##k##K(const mz_layer *l, const v16f *W, const v16f *dy,   \
                                               v16f *dx, int ci0, int iy, int ix0)                 \
    {                                                                                              \
        const int in_c = l->in_c, oh = l->out_h, ow = l->out_w;                                    \
        int ky0 = iy - oh + 1 > 0 ? iy - oh + 1 : 0, ky1 = iy < K - 1 ? iy : K - 1;                \
        int kx0 = ix0 - ow + 1 > 0 ? ix0 - ow + 1 : 0;                                             \
        int kx1 = ix0 + RB - 1 < K - 1 ? ix0 + RB - 1 : K - 1;                                     \
        int on[K][RB];                                                                             \
        for (int kx = 0; kx < K; kx++)                                                             \
            for (int r = 0; r < RB; r++)                                                           \
                on[kx][r] = (unsigned)(ix0 + r - kx) < (unsigned)ow;                               \
        v16f acc[CB][RB];                                                                          \
        UNROLL for (int c = 0; c < CB; c++) UNROLL for (int r = 0; r < RB; r++) acc[c][r] =        \
            vf(0.0f);                                                                              \
        for (int co = 0; co < l->out_c; co++)                                                      \
            for (int ky = ky0; ky <= ky1; ky++) {                                                  \
                const v16f *dyr = dy + (co * oh + iy - ky) * ow + ix0;                             \
                const v16f *wr = W + ((co * in_c + ci0) * K + ky) * K;                             \
                for (int kx = kx0; kx <= kx1; kx++) {                                              \
                    UNROLL for (int c = 0; c < CB; c++)                                            \
                    {                                                                              \
                        v16f w = wr[c * K * K + kx];                                               \
                        UNROLL for (int r = 0; r < RB; r++) acc[c][r] =                            \
                            vfma_if(on[kx][r], dyr[r - kx], w, acc[c][r]);                         \
                    }                                                                              \
                }                                                                                  \
            }                                                                                      \
        UNROLL for (int c = 0; c < CB; c++) UNROLL for (int r = 0; r < RB; r++)                    \
            dx[((ci0 + c) * l->in_h + iy) * l->in_w + ix0 + r] = acc[c][r];                        \
    }

DEF_CONV_DX_EDGE(8, 2, 5) /* CNN-s conv2 */
DEF_CONV_DX_EDGE(8, 2, 3) /* CNN-l conv2, conv3 */
DEF_CONV_DX_IN(4, 4, 5)   /* CNN-s conv2 */
DEF_CONV_DX_COL(8, 5)
DEF_CONV_DX_IN(6, 2, 2) /* CNN-s conv3 */
DEF_CONV_DX_COL(6, 2)
DEF_CONV_DX_IN(8, 3, 3) /* CNN-l conv2 */
DEF_CONV_DX_IN(8, 2, 3) /* CNN-l conv3 */
DEF_CONV_DX_COL(16, 3)
DEF_CONV_DX_COL(8, 3)
DEF_CONV_DX_COL(1, 5)
DEF_CONV_DX_COL(1, 3)
DEF_CONV_DX_COL(1, 2)

typedef struct dx_tile {
    int cb, rb, k; /* rb = 0: a column kernel */
    conv_dx_fn fn;
} dx_tile;
static const dx_tile dx_edge_tiles[] = {
    {8, 2, 5, conv_dx_edge_8x2k5},
    {8, 2, 3, conv_dx_edge_8x2k3},
};
static const dx_tile dx_tiles[] = {
    {4, 4, 5, conv_dx_in_4x4k5}, {6, 2, 2, conv_dx_in_6x2k2},  {8, 3, 3, conv_dx_in_8x3k3},
    {8, 2, 3, conv_dx_in_8x2k3}, {16, 0, 3, conv_dx_col_16k3}, {8, 0, 5, conv_dx_col_8k5},
    {8, 0, 3, conv_dx_col_8k3},  {6, 0, 2, conv_dx_col_6k2},   {1, 0, 5, conv_dx_col_1k5},
    {1, 0, 3, conv_dx_col_1k3},  {1, 0, 2, conv_dx_col_1k2},
};

/* Any shape: one input element at a time, same chain. */
static void conv_dx_any(const mz_layer *l, const v16f *W, const v16f *dy, v16f *dx)
{
    const int K = l->k, oh = l->out_h, ow = l->out_w;
    for (int ci = 0; ci < l->in_c; ci++)
        for (int iy = 0; iy < l->in_h; iy++)
            for (int ix = 0; ix < l->in_w; ix++) {
                v16f acc = vf(0.0f);
                for (int co = 0; co < l->out_c; co++)
                    for (int ky = 0; ky < K; ky++) {
                        int oy = iy - ky;
                        if (oy < 0 || oy >= oh)
                            continue;
                        for (int kx = 0; kx < K; kx++) {
                            int ox = ix - kx;
                            if (ox < 0 || ox >= ow)
                                continue;
                            acc = vfma(dy[(co * oh + oy) * ow + ox],
                                       W[((co * l->in_c + ci) * K + ky) * K + kx], acc);
                        }
                    }
                dx[(ci * l->in_h + iy) * l->in_w + ix] = acc;
            }
}

/* Per conv layer: the tiles chosen for its shape (NULL: the one-at-a-time fallback). */
typedef struct conv_plan {
    conv_fwd_fn fwd, fwd_rem;    /* rows: tiles of frb outputs, then one of frem */
    conv_fwdb_fn fwdb, fwdb_rem; /* eval (broadcast weights): tiles of bcb x brb, then brem */
    int bcb, brb, brem;
    int fcb, frb, frem;
    conv_dw_fn dw;
    int wcb;
    conv_dx_fn dx_in, dx_col; /* interior tiles of xrb columns, other columns one by one */
    conv_dx_fn dx_edge;       /* or, where it fits, edge tiles of erb columns */
    int xcb, xrb, ccb, ecb, erb;
} conv_plan;

static void plan_conv(const mz_layer *l, conv_plan *pl)
{
    const size_t nf = sizeof fwd_tiles / sizeof fwd_tiles[0];
    memset(pl, 0, sizeof *pl);
    for (size_t i = 0; i < nf && !pl->fwd; i++) {
        const fwd_tile *t = &fwd_tiles[i];
        if (t->k != l->k || l->out_c % t->cb || t->rb > l->out_w)
            continue;
        int rem = l->out_w % t->rb;
        conv_fwd_fn rf = NULL;
        for (size_t j = 0; j < nf && rem && !rf; j++)
            if (fwd_tiles[j].k == l->k && fwd_tiles[j].cb == t->cb && fwd_tiles[j].rb == rem)
                rf = fwd_tiles[j].fn;
        if (rem && !rf)
            continue;
        pl->fwd = t->fn, pl->fwd_rem = rf, pl->fcb = t->cb, pl->frb = t->rb, pl->frem = rem;
    }
    const size_t nb = sizeof fwdb_tiles / sizeof fwdb_tiles[0];
    for (size_t i = 0; i < nb && !pl->fwdb; i++) {
        const fwdb_tile *t = &fwdb_tiles[i];
        if (t->k != l->k || l->out_c % t->cb || t->rb > l->out_w)
            continue;
        int rem = l->out_w % t->rb;
        conv_fwdb_fn rf = NULL;
        for (size_t j = 0; j < nb && rem && !rf; j++)
            if (fwdb_tiles[j].k == l->k && fwdb_tiles[j].cb == t->cb && fwdb_tiles[j].rb == rem)
                rf = fwdb_tiles[j].fn;
        if (rem && !rf)
            continue;
        pl->fwdb = t->fn, pl->fwdb_rem = rf, pl->bcb = t->cb, pl->brb = t->rb, pl->brem = rem;
    }
    for (size_t i = 0; i < sizeof dw_tiles / sizeof dw_tiles[0] && !pl->dw; i++)
        if (l->k == dw_tiles[i].k && l->out_c % dw_tiles[i].cb == 0)
            pl->dw = dw_tiles[i].fn, pl->wcb = dw_tiles[i].cb;
    int interior = l->out_w - l->k + 1; /* columns K-1 .. out_w-1 */
    for (size_t i = 0; i < sizeof dx_tiles / sizeof dx_tiles[0]; i++) {
        const dx_tile *t = &dx_tiles[i];
        if (t->k != l->k || l->in_c % t->cb)
            continue;
        if (t->rb && !pl->dx_in && t->rb <= interior)
            pl->dx_in = t->fn, pl->xcb = t->cb, pl->xrb = t->rb;
        if (!t->rb && !pl->dx_col)
            pl->dx_col = t->fn, pl->ccb = t->cb;
    }
    if (!pl->dx_col)
        pl->dx_in = NULL;
    for (size_t i = 0; i < sizeof dx_edge_tiles / sizeof dx_edge_tiles[0] && !pl->dx_edge; i++)
        if (dx_edge_tiles[i].k == l->k && l->in_c % dx_edge_tiles[i].cb == 0 && pl->dx_col)
            pl->dx_edge = dx_edge_tiles[i].fn, pl->ecb = dx_edge_tiles[i].cb,
            pl->erb = dx_edge_tiles[i].rb;
}

/* conv forward of one sample: x [in_c][in_h][in_w] -> y [out_c][out_h][out_w] */
NOINLINE static void conv_forward(const mz_layer *l, const conv_plan *pl, const v16f *P,
                                  const v16f *x, v16f *y)
{
    const v16f *W = P + l->w_off, *bias = P + l->b_off;
    if (!pl->fwd) {
        conv_fwd_any(l, W, bias, x, y);
        return;
    }
    int full = l->out_w - pl->frem;
    for (int co0 = 0; co0 < l->out_c; co0 += pl->fcb)
        for (int oy = 0; oy < l->out_h; oy++) {
            for (int ox0 = 0; ox0 < full; ox0 += pl->frb)
                pl->fwd(l, W, bias, x, y, co0, oy, ox0);
            if (pl->frem)
                pl->fwd_rem(l, W, bias, x, y, co0, oy, full);
        }
}

/* eval: conv forward of 16 images (x, y as conv_forward) with one model's weights W (scalars) */
NOINLINE static void conv_forward_b(const mz_layer *l, const conv_plan *pl, const float *P,
                                    const v16f *x, v16f *y)
{
    const float *W = P + l->w_off, *bias = P + l->b_off;
    if (!pl->fwdb) {
        conv_fwdb_any(l, W, bias, x, y);
        return;
    }
    int full = l->out_w - pl->brem;
    for (int co0 = 0; co0 < l->out_c; co0 += pl->bcb)
        for (int oy = 0; oy < l->out_h; oy++) {
            for (int ox0 = 0; ox0 < full; ox0 += pl->brb)
                pl->fwdb(l, W, bias, x, y, co0, oy, ox0);
            if (pl->brem)
                pl->fwdb_rem(l, W, bias, x, y, co0, oy, full);
        }
}

/* conv backward of one sample: adds dW, db of this sample to G; dx [in_c][in_h][in_w] if not NULL.
 *   x [in_c][in_h][in_w], dy [out_c][out_h][out_w] */
NOINLINE static void conv_backward(const mz_layer *l, const conv_plan *pl, const v16f *P,
                                   const v16f *x, const v16f *dy, v16f *dx, v16f *G)
{
    const int osz = l->out_h * l->out_w;
    const v16f *W = P + l->w_off;
    v16f *db = G + l->b_off, *dW = G + l->w_off;
    for (int co0 = 0; co0 < l->out_c; co0 += 4) { /* bias: plain sums over (oy, ox) */
        int n = l->out_c - co0 < 4 ? l->out_c - co0 : 4;
        v16f acc[4];
        for (int c = 0; c < n; c++)
            acc[c] = db[co0 + c];
        for (int o = 0; o < osz; o++)
            for (int c = 0; c < n; c++)
                acc[c] = acc[c] + dy[(co0 + c) * osz + o];
        for (int c = 0; c < n; c++)
            db[co0 + c] = acc[c];
    }
    if (pl->dw) {
        for (int co0 = 0; co0 < l->out_c; co0 += pl->wcb)
            for (int ci = 0; ci < l->in_c; ci++)
                for (int ky = 0; ky < l->k; ky++)
                    pl->dw(l, x, dy, dW, co0, ci, ky);
    } else {
        conv_dw_any(l, x, dy, dW);
    }
    if (!dx)
        return;
    if (!pl->dx_col) {
        conv_dx_any(l, W, dy, dx);
        return;
    }
    const int K = l->k;
    int in_end = K - 1; /* interior columns done by tiles: [K-1, in_end) */
    if (pl->dx_in) {
        int interior = l->out_w - K + 1;
        in_end = K - 1 + interior / pl->xrb * pl->xrb;
        for (int ci0 = 0; ci0 < l->in_c; ci0 += pl->xcb)
            for (int iy = 0; iy < l->in_h; iy++)
                for (int ix0 = K - 1; ix0 < in_end; ix0 += pl->xrb)
                    pl->dx_in(l, W, dy, dx, ci0, iy, ix0);
    }
    /* border columns [0, K-1) and [in_end, in_w): edge tiles, then single columns */
    int lo_end = K - 1 < l->in_w ? K - 1 : l->in_w, left = 0,
        right = in_end > lo_end ? in_end : lo_end;
    if (pl->dx_edge) {
        int er = pl->erb;
        left = lo_end / er * er;
        int rcount = (l->in_w - right) / er * er;
        for (int ci0 = 0; ci0 < l->in_c; ci0 += pl->ecb)
            for (int iy = 0; iy < l->in_h; iy++) {
                for (int ix0 = 0; ix0 < left; ix0 += er)
                    pl->dx_edge(l, W, dy, dx, ci0, iy, ix0);
                for (int ix0 = right; ix0 < right + rcount; ix0 += er)
                    pl->dx_edge(l, W, dy, dx, ci0, iy, ix0);
            }
        right += rcount;
    }
    for (int ci0 = 0; ci0 < l->in_c; ci0 += pl->ccb)
        for (int iy = 0; iy < l->in_h; iy++) {
            for (int ix = left; ix < lo_end; ix++)
                pl->dx_col(l, W, dy, dx, ci0, iy, ix);
            for (int ix = right; ix < l->in_w; ix++)
                pl->dx_col(l, W, dy, dx, ci0, iy, ix);
        }
}

/* ---- linear ----
 * forward: y[o] = (sum over i ascending of fma(W[o][i], x[i])) + b[o];  x [in_c], W [out_c][in_c]
 */
NOINLINE static void linear_forward(const mz_layer *l, const v16f *P, const v16f *x, v16f *y)
{
    const v16f *W = P + l->w_off, *bias = P + l->b_off;
    const int n_in = l->in_c;
    int o = 0;
    for (; o + 8 <= l->out_c; o += 8) {
        v16f acc[8];
        UNROLL for (int r = 0; r < 8; r++) acc[r] = vf(0.0f);
        for (int i = 0; i < n_in; i++) {
            v16f xv = x[i];
            UNROLL for (int r = 0; r < 8; r++) acc[r] = vfma(W[(o + r) * n_in + i], xv, acc[r]);
        }
        UNROLL for (int r = 0; r < 8; r++) y[o + r] = acc[r] + bias[o + r];
    }
    for (; o < l->out_c; o++) {
        v16f acc = vf(0.0f);
        for (int i = 0; i < n_in; i++)
            acc = vfma(W[o * n_in + i], x[i], acc);
        y[o] = acc + bias[o];
    }
}

/* eval: linear_forward of 16 images with one model's weights (scalars) */
NOINLINE static void linear_forward_b(const mz_layer *l, const float *P, const v16f *x, v16f *y)
{
    const float *W = P + l->w_off, *bias = P + l->b_off;
    const int n_in = l->in_c;
    int o = 0;
    for (; o + 8 <= l->out_c; o += 8) {
        v16f acc[8];
        UNROLL for (int r = 0; r < 8; r++) acc[r] = vf(0.0f);
        for (int i = 0; i < n_in; i++) {
            v16f xv = x[i];
            UNROLL for (int r = 0; r < 8; r++) acc[r] = vfma(vf(W[(o + r) * n_in + i]), xv, acc[r]);
        }
        UNROLL for (int r = 0; r < 8; r++) y[o + r] = acc[r] + vf(bias[o + r]);
    }
    for (; o < l->out_c; o++) {
        v16f acc = vf(0.0f);
        for (int i = 0; i < n_in; i++)
            acc = vfma(vf(W[o * n_in + i]), x[i], acc);
        y[o] = acc + vf(bias[o]);
    }
}

/* backward of one sample: db[o] += dy[o]; dW[o][i] = fma(dy[o], x[i], dW[o][i]);
 * dx[i] = sum over o ascending of fma(dy[o], W[o][i]) if dx is not NULL.  dy [out_c], x [in_c] */
NOINLINE static void linear_backward(const mz_layer *l, const v16f *P, const v16f *x,
                                     const v16f *dy, v16f *dx, v16f *G)
{
    const v16f *W = P + l->w_off;
    v16f *dW = G + l->w_off, *db = G + l->b_off;
    const int n_in = l->in_c, n_out = l->out_c;
    for (int o = 0; o < n_out; o++) {
        v16f d = dy[o];
        db[o] = db[o] + d;
        for (int i = 0; i < n_in; i++)
            dW[o * n_in + i] = vfma(d, x[i], dW[o * n_in + i]);
    }
    if (!dx)
        return;
    int i = 0;
    for (; i + 8 <= n_in; i += 8) {
        v16f acc[8];
        UNROLL for (int r = 0; r < 8; r++) acc[r] = vf(0.0f);
        for (int o = 0; o < n_out; o++) {
            v16f d = dy[o];
            UNROLL for (int r = 0; r < 8; r++) acc[r] = vfma(d, W[o * n_in + i + r], acc[r]);
        }
        UNROLL for (int r = 0; r < 8; r++) dx[i + r] = acc[r];
    }
    for (; i < n_in; i++) {
        v16f acc = vf(0.0f);
        for (int o = 0; o < n_out; o++)
            acc = vfma(dy[o], W[o * n_in + i], acc);
        dx[i] = acc;
    }
}

/* ---- max pooling (k x k windows, stride k, floor) ----
 * forward: y = the first strict maximum of the window in (ky, kx) order, a NaN winning at once;
 * arg = its window index per lane.  x [c][in_h][in_w], y and arg [c][out_h][out_w] */
NOINLINE static void pool_forward(const mz_layer *l, const v16f *x, v16f *y, v16b *arg)
{
    const int k = l->k;
    for (int c = 0; c < l->out_c; c++)
        for (int oy = 0; oy < l->out_h; oy++)
            for (int ox = 0; ox < l->out_w; ox++) {
                const v16f *xw = x + (c * l->in_h + oy * k) * l->in_w + ox * k;
                v16f m = xw[0];
                v16i best = vi(0);
                for (int ky = 0; ky < k; ky++)
                    for (int kx = 0; kx < k; kx++) {
                        if (ky == 0 && kx == 0)
                            continue;
                        /* (v > m || isnan(v)) while no NaN has been taken, i.e. m is not NaN
                         * (a NaN m is the NaN that won) */
                        v16f v = xw[ky * l->in_w + kx];
                        v16i upd = ~(v <= m) & (m == m);
                        m = vsel(upd, v, m);
                        best = vseli(upd, vi(ky * k + kx), best);
                    }
                int o = (c * l->out_h + oy) * l->out_w + ox;
                y[o] = m;
                arg[o] = __builtin_convertvector(best, v16b);
            }
}

/* eval: pool_forward's values without the arg */
NOINLINE static void pool_forward_eval(const mz_layer *l, const v16f *x, v16f *y)
{
    const int k = l->k;
    for (int c = 0; c < l->out_c; c++)
        for (int oy = 0; oy < l->out_h; oy++)
            for (int ox = 0; ox < l->out_w; ox++) {
                const v16f *xw = x + (c * l->in_h + oy * k) * l->in_w + ox * k;
                v16f m = xw[0];
                for (int ky = 0; ky < k; ky++)
                    for (int kx = 0; kx < k; kx++) {
                        if (ky == 0 && kx == 0)
                            continue;
                        v16f v = xw[ky * l->in_w + kx];
                        m = vsel(~(v <= m) & (m == m), v, m);
                    }
                y[(c * l->out_h + oy) * l->out_w + ox] = m;
            }
}

/* backward: dx = dy at each window's arg, 0 elsewhere.  dy, arg [c][out_h][out_w], dx
 * [c][in_h][in_w] */
NOINLINE static void pool_backward(const mz_layer *l, const v16b *arg, const v16f *dy, v16f *dx)
{
    const int k = l->k;
    if (l->in_h != l->out_h * k || l->in_w != l->out_w * k) /* floor mode left rows/columns out */
        memset(dx, 0, sizeof(v16f) * (size_t)l->in_size);
    for (int c = 0; c < l->out_c; c++)
        for (int oy = 0; oy < l->out_h; oy++)
            for (int ox = 0; ox < l->out_w; ox++) {
                int o = (c * l->out_h + oy) * l->out_w + ox;
                v16i a = __builtin_convertvector(arg[o], v16i);
                v16f d = dy[o];
                v16f *xw = dx + (c * l->in_h + oy * k) * l->in_w + ox * k;
                for (int ky = 0; ky < k; ky++)
                    for (int kx = 0; kx < k; kx++)
                        xw[ky * l->in_w + kx] = vsel(a == vi(ky * k + kx), d, vf(0.0f));
            }
}

/* ---- activation: y = f(x), dx = dy * f'(x, y), elementwise over n ----
 * GELU and SiLU keep a by-product of the forward pass in aux [n] (erf(x / sqrt 2), resp.
 * 1 + exp(-x)): the derivative computes the same value again in the same way, so reusing it gives
 * the same bits for half the work. Loops take 4 vectors at a time: the functions are long serial
 * chains (polynomials, a division), and independent chains side by side keep the FP units busy. */
MZ_INLINE v16f act_fwd1(mz_activation act, v16f x, v16f *aux)
{
    if (act == MZ_ACT_GELU) {
        v16f e = v_erf(x * MZF_SQRT1_2);
        *aux = e;
        return x * 0.5f * (1.0f + e);
    }
    if (act == MZ_ACT_SILU) {
        v16f d = 1.0f + v_exp(-x);
        *aux = d;
        return x / d;
    }
    return v_act_forward(act, x);
}

MZ_INLINE v16f act_bwd1(mz_activation act, v16f x, v16f y, v16f aux)
{
    if (act == MZ_ACT_GELU) { /* v_gelu_grad with erf from the forward pass */
        v16f cdf = 0.5f * (1.0f + aux);
        v16f pdf = v_exp(-0.5f * x * x) * MZF_INV_SQRT_2PI;
        return cdf + x * pdf;
    }
    if (act == MZ_ACT_SILU) { /* v_silu_grad with 1 + exp(-x) from the forward pass */
        v16f sg = 1.0f / aux;
        return sg * (1.0f + x * (1.0f - sg));
    }
    return v_act_backward(act, x, y);
}

#define ACT_CASES(X)                                                                               \
    X(MZ_ACT_TANH)                                                                                 \
    X(MZ_ACT_RELU) X(MZ_ACT_SIGMOID) X(MZ_ACT_GELU) X(MZ_ACT_LEAKYRELU) X(MZ_ACT_SILU)

/* x, y, aux [n] */
NOINLINE static void act_forward(mz_activation act, const v16f *x, v16f *y, v16f *aux, int64_t n)
{
    int64_t n4 = n & ~(int64_t)3;
    switch (act) {
#define X(A)                                                                                       \
    case A:                                                                                        \
        for (int64_t e = 0; e < n4; e += 4) {                                                      \
            UNROLL for (int j = 0; j < 4; j++) y[e + j] = act_fwd1(A, x[e + j], &aux[e + j]);      \
        }                                                                                          \
        for (int64_t e = n4; e < n; e++)                                                           \
            y[e] = act_fwd1(A, x[e], &aux[e]);                                                     \
        break;
        ACT_CASES(X)
#undef X
    default:
        memcpy(y, x, sizeof(v16f) * (size_t)n);
    }
}

#if defined(__AVX512F__)
/* ---- eval: tanh and GELU by packed branches (AVX-512) ----
 * mzoo's tanh and erf compute two branches in every lane and select one (v_tanh: |x| < 0.55 or
 * not; v_erf: |x| <= 1 or >= 4, else the long one). With 16 images in the lanes nearly every
 * vector mixes both branches, so eval packs a layer's elements by branch (compress), runs each
 * branch on whole vectors of its own elements, and puts the results back in place (expand). Per
 * element these are the operations of v_tanh / act_fwd1 that its select keeps: the same bits,
 * about half the work. */
MZ_INLINE __mmask16 tanh_branch(v16f x)
{
    return _mm512_cmp_ps_mask((__m512)vabs(x), _mm512_set1_ps(0.55f), _CMP_LT_OQ);
}
MZ_INLINE v16f tanh_a(v16f x) /* |x| < 0.55 */
{
    return vcopysign(v_tanh_small(vabs(x)), x);
}
MZ_INLINE v16f tanh_b(v16f x) /* the rest, NaN included */
{
    v16f t = vcopysign(v_tanh_large(vabs(x)), x);
    return vsel(x != x, x, t);
}
MZ_INLINE __mmask16 gelu_branch(v16f x)
{
    __m512 a = (__m512)vabs(x * MZF_SQRT1_2);
    return _mm512_cmp_ps_mask(a, _mm512_set1_ps(1.0f), _CMP_LE_OQ) |
           _mm512_cmp_ps_mask(a, _mm512_set1_ps(4.0f), _CMP_GE_OQ);
}
MZ_INLINE v16f gelu_a(v16f x) /* |x / sqrt 2| <= 1 or >= 4 */
{
    v16f z = x * MZF_SQRT1_2, a = vabs(z);
    v16f r = vsel(a >= vf(4.0f), vf(1.0f), v_erf_small(a));
    r = vcopysign(r, z);
    return x * 0.5f * (1.0f + r);
}
MZ_INLINE v16f gelu_b(v16f x) /* the rest, NaN included */
{
    v16f z = x * MZF_SQRT1_2;
    v16f r = vcopysign(v_erf_mid(vabs(z)), z);
    r = vsel(z != z, z, r);
    return x * 0.5f * (1.0f + r);
}

/* y [n] = f(x [n]); pa, pb [16 n + 16] floats, 64-byte aligned; mk [n] */
#define DEF_PACKED(NAME, BRANCH, FA, FB)                                                           \
    NOINLINE static void NAME(const v16f *x, v16f *y, int64_t n, float *pa, float *pb,             \
                              uint16_t *mk)                                                        \
    {                                                                                              \
        int64_t na = 0, nb = 0;                                                                    \
        for (int64_t e = 0; e < n; e++) {                                                          \
            __mmask16 m = BRANCH(x[e]);                                                            \
            _mm512_storeu_ps(pa + na, _mm512_maskz_compress_ps(m, (__m512)x[e]));                  \
            _mm512_storeu_ps(pb + nb, _mm512_maskz_compress_ps((__mmask16)~m, (__m512)x[e]));      \
            int c = __builtin_popcount(m);                                                         \
            na += c, nb += 16 - c;                                                                 \
            mk[e] = m;                                                                             \
        }                                                                                          \
        _mm512_storeu_ps(pa + na, _mm512_setzero_ps()); /* the last vectors' tails */              \
        _mm512_storeu_ps(pb + nb, _mm512_setzero_ps());                                            \
        v16f *va = (v16f *)pa, *vb = (v16f *)pb;                                                   \
        int64_t ka = (na + 15) / 16, kb = (nb + 15) / 16, i = 0;                                   \
        for (; i + 4 <= ka; i += 4)                                                                \
            UNROLL for (int j = 0; j < 4; j++) va[i + j] = FA(va[i + j]);                          \
        for (; i < ka; i++)                                                                        \
            va[i] = FA(va[i]);                                                                     \
        for (i = 0; i + 4 <= kb; i += 4)                                                           \
            UNROLL for (int j = 0; j < 4; j++) vb[i + j] = FB(vb[i + j]);                          \
        for (; i < kb; i++)                                                                        \
            vb[i] = FB(vb[i]);                                                                     \
        na = nb = 0;                                                                               \
        for (int64_t e = 0; e < n; e++) {                                                          \
            __mmask16 m = mk[e];                                                                   \
            __m512 r = _mm512_maskz_expand_ps(m, _mm512_loadu_ps(pa + na));                        \
            y[e] = (v16f)_mm512_mask_expand_ps(r, (__mmask16)~m, _mm512_loadu_ps(pb + nb));        \
            int c = __builtin_popcount(m);                                                         \
            na += c, nb += 16 - c;                                                                 \
        }                                                                                          \
    }
DEF_PACKED(tanh_packed, tanh_branch, tanh_a, tanh_b)
DEF_PACKED(gelu_packed, gelu_branch, gelu_a, gelu_b)
#endif

/* eval: act_forward without keeping aux.  x, y [n]; pa, pb, mk: the packed branches' buffers */
NOINLINE static void act_forward_eval(mz_activation act, const v16f *x, v16f *y, int64_t n,
                                      float *pa, float *pb, uint16_t *mk)
{
    int64_t n4 = n & ~(int64_t)3;
    v16f aux[4];
#if defined(__AVX512F__)
    if (act == MZ_ACT_TANH) {
        tanh_packed(x, y, n, pa, pb, mk);
        return;
    }
    if (act == MZ_ACT_GELU) {
        gelu_packed(x, y, n, pa, pb, mk);
        return;
    }
#else
    (void)pa, (void)pb, (void)mk;
#endif
    switch (act) {
#define X(A)                                                                                       \
    case A:                                                                                        \
        for (int64_t e = 0; e < n4; e += 4) {                                                      \
            UNROLL for (int j = 0; j < 4; j++) y[e + j] = act_fwd1(A, x[e + j], &aux[j]);          \
        }                                                                                          \
        for (int64_t e = n4; e < n; e++)                                                           \
            y[e] = act_fwd1(A, x[e], &aux[0]);                                                     \
        break;
        ACT_CASES(X)
#undef X
    default:
        memcpy(y, x, sizeof(v16f) * (size_t)n);
    }
}

/* x, y, aux (as the forward left them), dy, dx [n] */
NOINLINE static void act_backward(mz_activation act, const v16f *x, const v16f *y, const v16f *aux,
                                  const v16f *dy, v16f *dx, int64_t n)
{
    int64_t n4 = n & ~(int64_t)3;
    switch (act) {
#define X(A)                                                                                       \
    case A:                                                                                        \
        for (int64_t e = 0; e < n4; e += 4) {                                                      \
            UNROLL for (int j = 0; j < 4; j++) dx[e + j] =                                         \
                dy[e + j] * act_bwd1(A, x[e + j], y[e + j], aux[e + j]);                           \
        }                                                                                          \
        for (int64_t e = n4; e < n; e++)                                                           \
            dx[e] = dy[e] * act_bwd1(A, x[e], y[e], aux[e]);                                       \
        break;
        ACT_CASES(X)
#undef X
    default:
        for (int64_t e = 0; e < n; e++)
            dx[e] = dy[e] * vf(1.0f);
    }
}

/* Pops whose lanes mix activations: every activation present is computed for all lanes and each
 * lane keeps its own activation's result (vsel), so a lane's bits are those of its activation
 * alone. The cost is the sum of the activations present, paid once for all 16 lanes. */
NOINLINE static void act_forward_mixed(int n_acts, const mz_activation *acts, const v16i *lanes,
                                       const v16f *x, v16f *y, v16f *aux, int64_t n)
{
    for (int64_t e = 0; e < n; e++) {
        y[e] = x[e];
        aux[e] = vf(0.0f);
    }
    for (int k = 0; k < n_acts; k++) {
        v16i m = lanes[k];
        switch (acts[k]) {
#define X(A)                                                                                       \
    case A:                                                                                        \
        for (int64_t e = 0; e < n; e++) {                                                          \
            v16f t = vf(0.0f);                                                                     \
            v16f r = act_fwd1(A, x[e], &t);                                                        \
            y[e] = vsel(m, r, y[e]);                                                               \
            aux[e] = vsel(m, t, aux[e]);                                                           \
        }                                                                                          \
        break;
            ACT_CASES(X)
#undef X
        default:
            break;
        }
    }
}

NOINLINE static void act_backward_mixed(int n_acts, const mz_activation *acts, const v16i *lanes,
                                        const v16f *x, const v16f *y, const v16f *aux,
                                        const v16f *dy, v16f *dx, int64_t n)
{
    for (int64_t e = 0; e < n; e++)
        dx[e] = dy[e] * vf(1.0f);
    for (int k = 0; k < n_acts; k++) {
        v16i m = lanes[k];
        switch (acts[k]) {
#define X(A)                                                                                       \
    case A:                                                                                        \
        for (int64_t e = 0; e < n; e++)                                                            \
            dx[e] = vsel(m, dy[e] * act_bwd1(A, x[e], y[e], aux[e]), dx[e]);                       \
        break;
            ACT_CASES(X)
#undef X
        default:
            break;
        }
    }
}

/* ---- backend state ---- */

typedef struct simd_state {
    v16f *P, *G, *M, *V; /* [n_params]: parameters, gradients, exp_avg / momentum, exp_avg_sq */
    v16f *act[MZ_MAX_LAYERS + 1]; /* one sample: act[0] = input, act[i + 1] = output of layer i */
    v16f *mask[MZ_MAX_LAYERS];    /* dropout layers: the sample's keep-scale mask */
    v16b *arg[MZ_MAX_LAYERS];     /* maxpool layers: window index of each max */
    v16f *aux[MZ_MAX_LAYERS];     /* activation layers: forward by-product for the derivative */
    v16f *gbuf[2];                /* gradient ping-pong buffers (PAD vectors of slack each side) */
    conv_plan plan[MZ_MAX_LAYERS];
    /* ARD pops (arch->ard): see the section "variational-dropout twins" below */
    v16f *D;                        /* [n_params] derived parameters, as src/nn/ard.c */
    v16f *eps[MZ_MAX_LAYERS];       /* ARD layers: the sample's noise [out_size] */
    v16f *si[MZ_MAX_LAYERS];        /* ARD layers: sqrt(1e-15 + S) [out_size] */
    v16f *xsq, *dxsq, *gs;          /* [max_layer_size]: x^2, its gradient, dS (PAD slack) */
    mz_layer shadow[MZ_MAX_LAYERS]; /* ARD layers with weight, bias at log_sigma2, _bias */
    mz_span frozen[MZ_MAX_LAYERS];  /* parameters the optimizer skips */
    float *Ws;     /* eval: [MZ_LANES][n_params], each lane's parameters (ARD: D) as plain floats */
    float *pk[2];  /* eval: packed activation branches [16 max_layer_size + 16] floats each */
    uint16_t *pkm; /* eval: their masks [max_layer_size] */
    int n_frozen;
    void *blocks[5 * MZ_MAX_LAYERS + 16];
    int n_blocks;
} simd_state;

/* Per-step lane settings as vectors. */
typedef struct lane_vec {
    v16i active;
    v16i drop_on; /* train && dropout > 0 */
    v16f drop_p, drop_scale;
    v16u key0, key1; /* model seeds (dropout and noise streams) */
    v16f klw;        /* ARD: kl_weight */
    /* the activations of the active lanes (a pop may mix them) and each one's lanes */
    int n_acts;
    mz_activation acts[MZ_ACT_COUNT];
    v16i act_lanes[MZ_ACT_COUNT];
} lane_vec;

static void act_forward_lanes(const lane_vec *lv, const v16f *x, v16f *y, v16f *aux, int64_t n)
{
    if (lv->n_acts == 1)
        act_forward(lv->acts[0], x, y, aux, n);
    else
        act_forward_mixed(lv->n_acts, lv->acts, lv->act_lanes, x, y, aux, n);
}

static void act_backward_lanes(const lane_vec *lv, const v16f *x, const v16f *y, const v16f *aux,
                               const v16f *dy, v16f *dx, int64_t n)
{
    if (lv->n_acts == 1)
        act_backward(lv->acts[0], x, y, aux, dy, dx, n);
    else
        act_backward_mixed(lv->n_acts, lv->acts, lv->act_lanes, x, y, aux, dy, dx, n);
}

static void *block(simd_state *s, int64_t n_vectors)
{
    void *p = mz_alloc_aligned(sizeof(v16f) * (size_t)n_vectors);
    if (p) {
        memset(p, 0, sizeof(v16f) * (size_t)n_vectors);
        s->blocks[s->n_blocks++] = p;
    }
    return p;
}

static void simd_destroy(mz_pop *p)
{
    simd_state *s = p->impl;
    if (!s)
        return;
    for (int i = 0; i < s->n_blocks; i++)
        mz_free_aligned(s->blocks[i]);
    free(s);
    p->impl = NULL;
}

static mz_status simd_create(mz_pop *p, mz_error *err)
{
    const mz_arch *a = p->arch;
    simd_state *s = calloc(1, sizeof *s);
    if (!s)
        return mz_fail(err, MZ_ENOMEM, "out of memory creating a population");
    p->impl = s;
    int ok = (s->P = block(s, a->n_params)) && (s->G = block(s, a->n_params)) &&
             (s->M = block(s, a->n_params)) && (s->V = block(s, a->n_params)) &&
             (s->act[0] = block(s, (int64_t)a->in_c * a->in_h * a->in_w)) &&
             (s->Ws = (float *)block(s, a->n_params)) &&
             (s->pk[0] = (float *)block(s, a->max_layer_size + 1)) &&
             (s->pk[1] = (float *)block(s, a->max_layer_size + 1)) &&
             (s->pkm = (uint16_t *)block(s, a->max_layer_size / 32 + 1));
    for (int i = 0; ok && i < a->n_layers; i++) {
        const mz_layer *l = &a->layers[i];
        ok = (s->act[i + 1] = block(s, l->out_size)) != NULL;
        if (ok && l->kind == MZ_LAYER_DROPOUT)
            ok = (s->mask[i] = block(s, l->out_size)) != NULL;
        if (ok && l->kind == MZ_LAYER_ACT)
            ok = (s->aux[i] = block(s, l->out_size)) != NULL;
        if (ok && l->kind == MZ_LAYER_MAXPOOL)
            ok = (s->arg[i] = block(s, (l->out_size + 3) / 4)) != NULL;
        if (l->kind == MZ_LAYER_CONV)
            plan_conv(l, &s->plan[i]);
    }
    for (int j = 0; ok && j < 2; j++) {
        v16f *g = block(s, a->max_layer_size + 2 * PAD);
        ok = g != NULL;
        s->gbuf[j] = ok ? g + PAD : NULL;
    }
    if (ok && a->ard) {
        v16f *gs = NULL;
        ok = (s->D = block(s, a->n_params)) && (s->xsq = block(s, a->max_layer_size)) &&
             (s->dxsq = block(s, a->max_layer_size)) &&
             (gs = block(s, a->max_layer_size + 2 * PAD));
        s->gs = gs ? gs + PAD : NULL;
        for (int i = 0; ok && i < a->n_layers; i++) {
            const mz_layer *l = &a->layers[i];
            if (l->kind != MZ_LAYER_CONV && l->kind != MZ_LAYER_LINEAR)
                continue;
            ok = (s->eps[i] = block(s, l->out_size)) && (s->si[i] = block(s, l->out_size));
            s->shadow[i] = *l;
            s->shadow[i].w_off = l->s_off;
            s->shadow[i].b_off = l->sb_off;
        }
        s->n_frozen = mz_ard_frozen_spans(a, s->frozen);
    }
    if (!ok) {
        simd_destroy(p);
        return mz_fail(err, MZ_ENOMEM, "out of memory creating a population");
    }
    return MZ_OK;
}

static void simd_set_lane(mz_pop *p, int lane, const float *params, const float *opt_state)
{
    simd_state *s = p->impl;
    int64_t n = p->arch->n_params;
    int adam = p->lane[lane].opt.type == MZ_OPT_ADAM;
    for (int64_t i = 0; i < n; i++) {
        s->P[i][lane] = params[i];
        s->M[i][lane] = opt_state ? opt_state[i] : 0.0f;
        s->V[i][lane] = opt_state && adam ? opt_state[n + i] : 0.0f;
    }
}

static void simd_get_lane(const mz_pop *p, int lane, float *params, float *opt_state)
{
    const simd_state *s = p->impl;
    int64_t n = p->arch->n_params;
    int adam = p->lane[lane].opt.type == MZ_OPT_ADAM;
    for (int64_t i = 0; i < n; i++) {
        if (params)
            params[i] = s->P[i][lane];
        if (opt_state) {
            opt_state[i] = s->M[i][lane];
            if (adam)
                opt_state[n + i] = s->V[i][lane];
        }
    }
}

/* Dropout keep-scale mask of sample b of layer l for every lane: element j is draw
 * e = b * out_size + j of Philox(seed, DROPOUT, epoch, step, ordinal), as mz_dropout_mask.
 * mask [out_size] */
NOINLINE static void dropout_mask(const mz_layer *l, const lane_vec *lv, int epoch, int step, int b,
                                  v16f *mask)
{
    int64_t n = l->out_size, e0 = (int64_t)b * n, e1 = e0 + n;
    uint32_t c1 = ((uint32_t)MZ_RNG_DROPOUT << 24) ^ (uint32_t)l->dropout_ordinal;
    for (int64_t blk = e0 >> 2; blk << 2 < e1; blk++) {
        v16u w[4] = {vu((uint32_t)blk), vu(c1), vu((uint32_t)epoch), vu((uint32_t)step)};
        v_philox(w, lv->key0, lv->key1);
        for (int k = 0; k < 4; k++) {
            int64_t e = (blk << 2) + k;
            if (e < e0 || e >= e1)
                continue;
            v16f u = __builtin_convertvector((v16i)(w[k] >> 8), v16f) * (1.0f / 16777216.0f);
            mask[e - e0] = vsel(u >= lv->drop_p, lv->drop_scale, vf(0.0f));
        }
    }
}

/* ---- variational-dropout ("ARD") twins ----
 * The operations of src/nn/ard.c per lane: per step, the derived parameters D (V = alpha theta^2
 * at the log_sigma2 offsets, the clipped weights at the weight offsets) before the first sample;
 * per sample the noise, the variance convolution of x^2 with V (the conv kernels above on a shadow
 * layer whose weight and bias offsets are s_off and sb_off), its backward accumulating dV in G at
 * the log_sigma2 offsets (the reference's order: b, then the output positions); after the last
 * sample, per parameter, (dtheta, dV) -> (dtheta, dlog_sigma2) with the KL term, whose sum goes
 * into the loss (in double, the reference's order). */

typedef double v8d __attribute__((vector_size(64)));
typedef float v8f __attribute__((vector_size(32)));

/* acc (two halves of 8 lanes) += (double)x per lane */
MZ_INLINE void vacc_double(v8d acc[2], v16f x)
{
    v8f lo, hi;
    memcpy(&lo, &x, sizeof lo);
    memcpy(&hi, (const char *)&x + sizeof lo, sizeof hi);
    acc[0] += __builtin_convertvector(lo, v8d);
    acc[1] += __builtin_convertvector(hi, v8d);
}

MZ_INLINE v16f vdouble_to_float(const v8d acc[2])
{
    v8f lo = __builtin_convertvector(acc[0], v8f), hi = __builtin_convertvector(acc[1], v8f);
    v16f r;
    memcpy(&r, &lo, sizeof lo);
    memcpy((char *)&r + sizeof lo, &hi, sizeof hi);
    return r;
}

static int64_t n_weights(const mz_layer *l)
{
    return (int64_t)l->out_c * l->in_c * (l->kind == MZ_LAYER_CONV ? l->k * l->k : 1);
}

static int is_ard(const mz_layer *l)
{
    return l->kind == MZ_LAYER_CONV || l->kind == MZ_LAYER_LINEAR;
}

/* D from P, every lane (src/nn/ard.c, derive). */
NOINLINE static void ard_derive(const mz_arch *a, const v16f *P, v16f *D)
{
    for (int i = 0; i < a->n_layers; i++) {
        const mz_layer *l = &a->layers[i];
        if (!is_ard(l))
            continue;
        float hi = mz_ard_clamp_of(l);
        for (int64_t k = 0; k < n_weights(l); k++) {
            v_ard_elem e = v_ard_elem_of(P[l->w_off + k], P[l->s_off + k], hi);
            D[l->s_off + k] = e.V;
            D[l->w_off + k] = vsel(e.la >= vf(MZ_ARD_THRESHOLD), vf(0.0f), P[l->w_off + k]);
        }
        for (int64_t k = 0; k < l->out_c; k++) {
            if (l->kind == MZ_LAYER_CONV) {
                v_ard_elem e = v_ard_elem_of(P[l->b_off + k], P[l->sb_off + k], hi);
                D[l->sb_off + k] = e.V;
                D[l->b_off + k] = vsel(e.la >= vf(MZ_ARD_THRESHOLD), vf(0.0f), P[l->b_off + k]);
            } else {
                D[l->sb_off + k] = vf(0.0f);
                D[l->b_off + k] = P[l->b_off + k];
            }
        }
    }
}

/* KL sum per lane (mz_ard_kl), rounded to float. */
NOINLINE static v16f ard_kl(const mz_arch *a, const v16f *P)
{
    v8d acc[2] = {{0}, {0}};
    for (int i = 0; i < a->n_layers; i++) {
        const mz_layer *l = &a->layers[i];
        if (!is_ard(l))
            continue;
        float hi = mz_ard_clamp_of(l);
        for (int64_t k = 0; k < n_weights(l); k++)
            vacc_double(acc, v_ard_kl(v_ard_elem_of(P[l->w_off + k], P[l->s_off + k], hi).la));
        if (l->kind == MZ_LAYER_CONV)
            for (int64_t k = 0; k < l->out_c; k++)
                vacc_double(acc, v_ard_kl(v_ard_elem_of(P[l->b_off + k], P[l->sb_off + k], hi).la));
    }
    return vdouble_to_float(acc);
}

/* After the last sample: G holds (dtheta through the mean, dV) of every parameter; turns them
 * into (dtheta, dlog_sigma2) with the KL term's gradient (src/nn/ard.c, params_backward), and
 * returns the KL sum per lane (mz_ard_kl), computed on the way in the same order. */
NOINLINE static v16f ard_params_backward(const mz_arch *a, const v16f *P, v16f klw, v16f *G)
{
    v8d acc[2] = {{0}, {0}};
    for (int i = 0; i < a->n_layers; i++) {
        const mz_layer *l = &a->layers[i];
        if (!is_ard(l))
            continue;
        float hi = mz_ard_clamp_of(l);
        for (int64_t k = 0; k < n_weights(l); k++) {
            v16f theta = P[l->w_off + k];
            v_ard_elem e = v_ard_elem_of(theta, P[l->s_off + k], hi);
            vacc_double(acc, v_ard_kl(e.la));
            v_ard_elem_backward(&e, theta, hi, G[l->w_off + k], G[l->s_off + k], klw,
                                &G[l->w_off + k], &G[l->s_off + k]);
        }
        for (int64_t k = 0; k < l->out_c; k++) {
            if (l->kind == MZ_LAYER_CONV) {
                v16f b = P[l->b_off + k];
                v_ard_elem e = v_ard_elem_of(b, P[l->sb_off + k], hi);
                vacc_double(acc, v_ard_kl(e.la));
                v_ard_elem_backward(&e, b, hi, G[l->b_off + k], G[l->sb_off + k], klw,
                                    &G[l->b_off + k], &G[l->sb_off + k]);
            } else {
                G[l->sb_off + k] = vf(0.0f);
            }
        }
    }
    return vdouble_to_float(acc);
}

/* Noise of sample b of ARD layer l for every lane: element j is normal number
 * e = b * out_size + j of Philox(seed, SPARSE, epoch, step, ordinal), as mz_ard_noise.
 * eps [out_size] */
NOINLINE static void ard_noise(const mz_layer *l, const lane_vec *lv, int epoch, int step, int b,
                               v16f *eps)
{
    int64_t n = l->out_size, e0 = (int64_t)b * n, e1 = e0 + n;
    uint32_t c1 = ((uint32_t)MZ_RNG_SPARSE << 24) ^ (uint32_t)l->ard_ordinal;
    for (int64_t blk = e0 >> 2; blk << 2 < e1; blk++) {
        v16u w[4] = {vu((uint32_t)blk), vu(c1), vu((uint32_t)epoch), vu((uint32_t)step)};
        v_philox(w, lv->key0, lv->key1);
        v16f z[4];
        v_normal_pair(w[0], w[1], &z[0], &z[1]);
        v_normal_pair(w[2], w[3], &z[2], &z[3]);
        int64_t e = blk << 2;
        if (e >= e0 && e + 4 <= e1) {
            for (int k = 0; k < 4; k++)
                eps[e - e0 + k] = z[k];
            continue;
        }
        for (int k = 0; k < 4; k++)
            if (e + k >= e0 && e + k < e1)
                eps[e + k - e0] = z[k];
    }
}

static void square(const v16f *x, v16f *y, int64_t n)
{
    for (int64_t e = 0; e < n; e++)
        y[e] = x[e] * x[e];
}

/* Linear, training forward of one sample: x [in_c], eps, si, y [out_c], theta and V [out_c][in_c]
 * mu = sum_i fma(theta, x), S = sum_i fma(V, x*x) (i ascending from 0); si = sqrt(S + 1e-15);
 * y = (mu + si * eps) + b */
NOINLINE static void ard_linear_forward(const mz_layer *l, const v16f *P, const v16f *D,
                                        const v16f *x, const v16f *eps, v16f *si, v16f *y)
{
    const v16f *theta = P + l->w_off, *bias = P + l->b_off, *V = D + l->s_off;
    const int n_in = l->in_c;
    int o = 0;
    for (; o + 4 <= l->out_c; o += 4) {
        v16f mu[4], S[4];
        UNROLL for (int r = 0; r < 4; r++) mu[r] = vf(0.0f), S[r] = vf(0.0f);
        for (int i = 0; i < n_in; i++) {
            v16f xv = x[i], xq = x[i] * x[i];
            UNROLL for (int r = 0; r < 4; r++)
            {
                mu[r] = vfma(theta[(o + r) * n_in + i], xv, mu[r]);
                S[r] = vfma(V[(o + r) * n_in + i], xq, S[r]);
            }
        }
        UNROLL for (int r = 0; r < 4; r++)
        {
            si[o + r] = vsqrt(S[r] + MZ_ARD_EPS);
            y[o + r] = (mu[r] + si[o + r] * eps[o + r]) + bias[o + r];
        }
    }
    for (; o < l->out_c; o++) {
        v16f mu = vf(0.0f), S = vf(0.0f);
        for (int i = 0; i < n_in; i++) {
            mu = vfma(theta[o * n_in + i], x[i], mu);
            S = vfma(V[o * n_in + i], x[i] * x[i], S);
        }
        si[o] = vsqrt(S + MZ_ARD_EPS);
        y[o] = (mu + si[o] * eps[o]) + bias[o];
    }
}

/* Forward pass of the sample in act[0] through every layer (train: dropout active for the lanes
 * with drop_on; the masks are kept for the backward pass). */
NOINLINE static void forward_sample(simd_state *s, const mz_pop *p, const lane_vec *lv, int train,
                                    int epoch, int step, int b)
{
    const mz_arch *a = p->arch;
    int ard_train = a->ard && train;
    /* ARD eval: the plain forward on D (clipped weights) */
    const v16f *P = a->ard && !train ? s->D : s->P;
    for (int i = 0; i < a->n_layers; i++) {
        const mz_layer *l = &a->layers[i];
        const v16f *in = s->act[i];
        v16f *out = s->act[i + 1];
        int64_t n = l->out_size;
        if (ard_train && is_ard(l))
            ard_noise(l, lv, epoch, step, b, s->eps[i]);
        switch (l->kind) {
        case MZ_LAYER_CONV:
            conv_forward(l, &s->plan[i], P, in, out);
            if (ard_train) { /* y = mu + sqrt(1e-15 + conv(x^2, V, V_b)) eps */
                v16f *si = s->si[i];
                const v16f *eps = s->eps[i];
                square(in, s->xsq, l->in_size);
                conv_forward(&s->shadow[i], &s->plan[i], s->D, s->xsq, si);
                for (int64_t e = 0; e < n; e++) {
                    si[e] = vsqrt(MZ_ARD_EPS + si[e]);
                    out[e] = out[e] + si[e] * eps[e];
                }
            }
            break;
        case MZ_LAYER_LINEAR:
            if (ard_train)
                ard_linear_forward(l, s->P, s->D, in, s->eps[i], s->si[i], out);
            else
                linear_forward(l, P, in, out);
            break;
        case MZ_LAYER_MAXPOOL:
            pool_forward(l, in, out, s->arg[i]);
            break;
        case MZ_LAYER_ACT:
            act_forward_lanes(lv, in, out, s->aux[i], n);
            break;
        case MZ_LAYER_DROPOUT:
            if (train) {
                v16f *m = s->mask[i];
                dropout_mask(l, lv, epoch, step, b, m);
                for (int64_t e = 0; e < n; e++)
                    out[e] = vsel(lv->drop_on, in[e] * m[e], in[e]);
            } else {
                memcpy(out, in, sizeof(v16f) * (size_t)n);
            }
            break;
        case MZ_LAYER_FLATTEN:
            memcpy(out, in, sizeof(v16f) * (size_t)n);
            break;
        }
    }
}

/* Loss of one sample per lane, as mz_ref_loss for that sample: z [K] logits, y labels;
 * *total += the log-probability of the label, *hits += argmax == y (first max wins);
 * dl [K] = (softmax - onehot) * invB if dl is not NULL. */
NOINLINE static void loss_sample(const v16f *z, v16i y, int K, float invB, v16f *total, v16i *hits,
                                 v16f *dl)
{
    v16f m = z[0];
    v16i arg = vi(0);
    for (int k = 1; k < K; k++) {
        v16i gt = z[k] > m;
        m = vsel(gt, z[k], m);
        arg = vseli(gt, vi(k), arg);
    }
    *hits -= arg == y; /* comparisons are -1 where true */
    v16f se = vf(0.0f), zy = z[0];
    for (int k = 0; k < K; k++) {
        se = se + v_exp(z[k] - m);
        zy = vsel(y == vi(k), z[k], zy);
    }
    v16f lse = v_log(se);
    *total = *total + ((zy - m) - lse);
    if (dl)
        for (int k = 0; k < K; k++) {
            v16f logp = (z[k] - m) - lse;
            dl[k] = vsel(y == vi(k), vf(-invB), vf(0.0f)) + v_exp(logp) * invB;
        }
}

/* Backward pass of the sample whose forward is in act[], from dlogits in gbuf[0]; adds its
 * parameter gradients to G. */
NOINLINE static void backward_sample(simd_state *s, const mz_pop *p, const lane_vec *lv)
{
    const mz_arch *a = p->arch;
    v16f *g_out = s->gbuf[0], *g_in = s->gbuf[1];
    for (int i = a->n_layers - 1; i >= 0; i--) {
        const mz_layer *l = &a->layers[i];
        const v16f *in = s->act[i], *out = s->act[i + 1];
        int64_t n = l->out_size;
        v16f *dx = i > 0 ? g_in : NULL; /* no gradient w.r.t. the input images */
        if (a->ard && is_ard(l)) {      /* y = mu + si eps (+ b): dS = (dy eps) / (2 si) */
            const v16f *eps = s->eps[i], *si = s->si[i];
            for (int64_t e = 0; e < n; e++)
                s->gs[e] = (g_out[e] * eps[e]) / (2.0f * si[e]);
        }
        switch (l->kind) {
        case MZ_LAYER_CONV:
            conv_backward(l, &s->plan[i], s->P, in, g_out, dx, s->G);
            if (a->ard) {
                square(in, s->xsq, l->in_size);
                conv_backward(&s->shadow[i], &s->plan[i], s->D, s->xsq, s->gs, dx ? s->dxsq : NULL,
                              s->G);
            }
            break;
        case MZ_LAYER_LINEAR:
            linear_backward(l, s->P, in, g_out, dx, s->G);
            if (a->ard) {
                square(in, s->xsq, l->in_size);
                linear_backward(&s->shadow[i], s->D, s->xsq, s->gs, dx ? s->dxsq : NULL, s->G);
            }
            break;
        case MZ_LAYER_MAXPOOL:
            if (dx)
                pool_backward(l, s->arg[i], g_out, dx);
            break;
        case MZ_LAYER_ACT:
            if (dx)
                act_backward_lanes(lv, in, out, s->aux[i], g_out, dx, n);
            break;
        case MZ_LAYER_DROPOUT:
            if (dx) {
                const v16f *m = s->mask[i];
                for (int64_t e = 0; e < n; e++)
                    dx[e] = vsel(lv->drop_on, g_out[e] * m[e], g_out[e]);
            }
            break;
        case MZ_LAYER_FLATTEN:
            if (dx)
                memcpy(dx, g_out, sizeof(v16f) * (size_t)n);
            break;
        }
        if (dx && a->ard && is_ard(l))
            for (int64_t e = 0; e < l->in_size; e++)
                dx[e] = dx[e] + 2.0f * (s->dxsq[e] * in[e]);
        if (dx) {
            v16f *t = g_out;
            g_out = g_in;
            g_in = t;
        }
    }
}

/* Per-lane optimizer settings of one update, as vectors (mz_optim_step's scalars per lane). */
typedef struct optim_vec {
    v16f wd, b1, b2, omb1, omb2, neg_step, bc2, eps, mu, neg_lr;
    v16i active, adam, adam_on, wd_on, mu_on, nest, first;
} optim_vec;

/* mz_optim_step per lane on parameters [lo, hi) (inactive lanes unchanged). */
static void optim_range(simd_state *s, const optim_vec *o, int64_t lo, int64_t hi)
{
    for (int64_t i = lo; i < hi; i++) {
        v16f pv = s->P[i], m = s->M[i], v = s->V[i];
        v16f g = vsel(o->wd_on, s->G[i] + o->wd * pv, s->G[i]);
        /* Adam */
        v16f am = m * o->b1 + g * o->omb1;
        v16f av = v * o->b2 + (g * g) * o->omb2;
        v16f denom = vsqrt(av) / o->bc2 + o->eps;
        v16f ap = pv + o->neg_step * (am / denom);
        /* SGD */
        v16f buf = vsel(o->mu_on, vsel(o->first, g, m * o->mu + g), m);
        v16f d = vsel(o->mu_on, vsel(o->nest, g + o->mu * buf, buf), g);
        v16f sp = pv + o->neg_lr * d;
        s->P[i] = vsel(o->active, vsel(o->adam, ap, sp), pv);
        s->M[i] = vsel(o->active, vsel(o->adam, am, buf), m);
        s->V[i] = vsel(o->adam_on, av, v);
    }
}

/* One optimizer update of every active lane (mz_optim_step per lane; inactive lanes unchanged),
 * skipping the frozen spans as mz_optim_step_except does. */
NOINLINE static void optim_step(simd_state *s, mz_pop *p)
{
    optim_vec o;
    o.wd = o.b1 = o.b2 = o.omb1 = o.omb2 = o.neg_step = o.mu = o.neg_lr = vf(0);
    o.bc2 = o.eps = vf(1);
    o.active = o.adam = o.wd_on = o.mu_on = o.nest = o.first = vi(0);
    for (int l = 0; l < MZ_LANES; l++) {
        const mz_lane_cfg *lc = &p->lane[l];
        if (!lc->active)
            continue;
        o.active[l] = -1;
        if (lc->opt.type == MZ_OPT_ADAM) {
            mz_adam_scalars sc;
            mz_adam_scalars_get(&lc->opt, lc->t, &sc);
            o.adam[l] = -1;
            o.wd[l] = sc.wd;
            o.b1[l] = sc.b1, o.b2[l] = sc.b2;
            o.omb1[l] = sc.one_minus_b1, o.omb2[l] = sc.one_minus_b2;
            o.neg_step[l] = -sc.step_size;
            o.bc2[l] = sc.bc2_sqrt;
            o.eps[l] = sc.eps;
        } else {
            o.wd[l] = (float)lc->opt.weight_decay;
            o.mu[l] = (float)lc->opt.momentum;
            o.neg_lr[l] = (float)-lc->opt.lr;
            o.nest[l] = lc->opt.nesterov ? -1 : 0;
            o.first[l] = lc->t == 1 ? -1 : 0;
            o.mu_on[l] = o.mu[l] != 0.0f ? -1 : 0;
        }
        o.wd_on[l] = o.wd[l] != 0.0f ? -1 : 0;
    }
    o.adam_on = o.active & o.adam;
    int64_t lo = 0;
    for (int k = 0; k < s->n_frozen; k++) {
        optim_range(s, &o, lo, s->frozen[k].first);
        lo = s->frozen[k].first + s->frozen[k].count;
    }
    optim_range(s, &o, lo, p->arch->n_params);
}

static void lane_vectors(const mz_pop *p, int train, lane_vec *lv)
{
    memset(lv, 0, sizeof *lv);
    for (int l = 0; l < MZ_LANES; l++) {
        const mz_lane_cfg *lc = &p->lane[l];
        lv->active[l] = lc->active ? -1 : 0;
        lv->drop_on[l] = lc->active && train && lc->dropout > 0.0f ? -1 : 0;
        lv->drop_p[l] = lc->dropout;
        lv->drop_scale[l] = (float)(1.0 / (1.0 - (double)lc->dropout));
        lv->key0[l] = (uint32_t)(uint64_t)lc->seed;
        lv->key1[l] = (uint32_t)((uint64_t)lc->seed >> 32);
        lv->klw[l] = lc->kl_weight;
        if (!lc->active)
            continue;
        int k = 0;
        while (k < lv->n_acts && lv->acts[k] != p->lane_act[l])
            k++;
        if (k == lv->n_acts)
            lv->acts[lv->n_acts++] = p->lane_act[l];
        lv->act_lanes[k][l] = -1;
    }
    if (lv->n_acts == 0) /* no active lane: any activation will do */
        lv->acts[lv->n_acts++] = p->act;
}

static void simd_train_step(mz_pop *p, const uint8_t *images, const int32_t *labels,
                            const uint32_t *idx, int B, int epoch, int step, float *loss,
                            int *correct)
{
    simd_state *s = p->impl;
    const mz_arch *a = p->arch;
    const int K = a->n_classes;
    const int64_t hw = (int64_t)a->in_h * a->in_w, chw = a->in_c * hw;
    lane_vec lv;
    lane_vectors(p, 1, &lv);
    memset(s->G, 0, sizeof(v16f) * (size_t)a->n_params);
    if (a->ard)
        ard_derive(a, s->P, s->D);
    v16f total = vf(0.0f);
    v16i hits = vi(0);
    float invB = 1.0f / (float)B;
    for (int b = 0; b < B; b++) {
        /* gather: lane l's sample b, through the byte -> float table; inactive lanes get zeros */
        v16f *x = s->act[0];
        v16i y = vi(0);
        const uint8_t *img[MZ_LANES];
        for (int l = 0; l < MZ_LANES; l++) {
            img[l] = NULL;
            if (p->lane[l].active) {
                uint32_t i = idx[l * B + b];
                img[l] = images + (int64_t)i * chw;
                y[l] = labels[i];
            }
        }
        if (b + 1 < B) /* the next sample's images: random rows of the split, likely not cached */
            for (int l = 0; l < MZ_LANES; l++)
                if (p->lane[l].active) {
                    const uint8_t *nx = images + (int64_t)idx[l * B + b + 1] * chw;
                    for (int64_t j = 0; j < chw; j += 64)
                        __builtin_prefetch(nx + j);
                    __builtin_prefetch(nx + chw - 1);
                }
        /* in blocks of 128 elements (8 KB of x), so the lane-strided stores stay in L1 */
        for (int ch = 0; ch < a->in_c; ch++)
            for (int64_t j0 = ch * hw; j0 < (ch + 1) * hw; j0 += 128) {
                int64_t j1 = j0 + 128 < (ch + 1) * hw ? j0 + 128 : (ch + 1) * hw;
                const float *lut = p->lut + ch * 256;
                for (int l = 0; l < MZ_LANES; l++) {
                    const uint8_t *im = img[l];
                    if (!im) {
                        for (int64_t j = j0; j < j1; j++)
                            x[j][l] = 0.0f;
                        continue;
                    }
                    for (int64_t j = j0; j < j1; j++)
                        x[j][l] = lut[im[j]];
                }
            }
        forward_sample(s, p, &lv, 1, epoch, step, b);
        loss_sample(s->act[a->n_layers], y, K, invB, &total, &hits, s->gbuf[0]);
        backward_sample(s, p, &lv);
    }
    v16f lossv = -total / (float)B;
    if (a->ard) /* ELBO = CE + kl_weight * KL */
        lossv = lossv + lv.klw * ard_params_backward(a, s->P, lv.klw, s->G);
    for (int l = 0; l < MZ_LANES; l++)
        if (p->lane[l].active) {
            p->lane[l].t += 1;
            loss[l] = lossv[l];
            correct[l] = hits[l];
        }
    optim_step(s, p);
}

/* ---- eval: 16 images in the lanes ----
 * Eval has no per-lane state beyond the weights, so instead of one image broadcast to the models
 * in the lanes, it puts 16 images in the lanes and runs one model at a time with its weights
 * broadcast (the WL_BCAST kernels): every lane does useful work however few models the pop
 * holds, and the transposed images are shared by all the models. Per (model, image) the float
 * operations are those of forward_sample in eval mode, and the per-image losses are added to
 * loss_sum in image order, so the results are the same bits as one image at a time.
 * Lanes whose weights are the same bits and whose activation is the same (models that differ only
 * in optimizer, learning rate, weight decay or dropout start from the same initial weights,
 * evaluated at epoch 0) compute the same results: they are evaluated once and the results added
 * to each of them. */

#if defined(__AVX512F__)
/* r[j] byte l = the old r[l] byte j (a 16 x 16 byte transposition) */
static void transpose_16x16_u8(__m128i r[16])
{
    __m128i t[16], u[16], v[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm_unpacklo_epi8(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm_unpackhi_epi8(r[2 * i], r[2 * i + 1]);
    }
    for (int g = 0; g < 4; g++) /* rows 4g .. 4g+3: bytes 0-3, 4-7, 8-11, 12-15 */
        for (int h = 0; h < 2; h++) {
            u[4 * g + 2 * h] = _mm_unpacklo_epi16(t[4 * g + h], t[4 * g + 2 + h]);
            u[4 * g + 2 * h + 1] = _mm_unpackhi_epi16(t[4 * g + h], t[4 * g + 2 + h]);
        }
    for (int g = 0; g < 2; g++) /* rows 8g .. 8g+7: bytes in pairs */
        for (int h = 0; h < 4; h++) {
            v[8 * g + 2 * h] = _mm_unpacklo_epi32(u[8 * g + h], u[8 * g + 4 + h]);
            v[8 * g + 2 * h + 1] = _mm_unpackhi_epi32(u[8 * g + h], u[8 * g + 4 + h]);
        }
    for (int h = 0; h < 8; h++) {
        r[2 * h] = _mm_unpacklo_epi64(v[h], v[8 + h]);
        r[2 * h + 1] = _mm_unpackhi_epi64(v[h], v[8 + h]);
    }
}
#endif

/* x [in_c*h*w] (16 lanes) = images img[0..15] through the byte -> float table; NULL: zeros */
static void gather_images(const mz_pop *p, const uint8_t *const img[MZ_LANES], v16f *x)
{
    const mz_arch *a = p->arch;
    const int64_t hw = (int64_t)a->in_h * a->in_w;
#if defined(__AVX512F__)
    int full = 1;
    for (int l = 0; l < MZ_LANES; l++)
        full = full && img[l];
    if (full) { /* 16 pixels of the 16 images at a time: transposed bytes, table gathers */
        for (int ch = 0; ch < a->in_c; ch++) {
            const float *lut = p->lut + ch * 256;
            int64_t j0 = ch * hw;
            for (; j0 + 16 <= (ch + 1) * hw; j0 += 16) {
                __m128i r[16];
                for (int l = 0; l < MZ_LANES; l++)
                    r[l] = _mm_loadu_si128((const __m128i *)(img[l] + j0));
                transpose_16x16_u8(r);
                for (int j = 0; j < 16; j++)
                    x[j0 + j] = (v16f)_mm512_i32gather_ps(_mm512_cvtepu8_epi32(r[j]), lut, 4);
            }
            for (; j0 < (ch + 1) * hw; j0++)
                for (int l = 0; l < MZ_LANES; l++)
                    x[j0][l] = lut[img[l][j0]];
        }
        return;
    }
#endif
    /* in blocks of 128 elements (8 KB of x), so the lane-strided stores stay in L1 */
    for (int ch = 0; ch < a->in_c; ch++)
        for (int64_t j0 = ch * hw; j0 < (ch + 1) * hw; j0 += 128) {
            int64_t j1 = j0 + 128 < (ch + 1) * hw ? j0 + 128 : (ch + 1) * hw;
            const float *lut = p->lut + ch * 256;
            for (int l = 0; l < MZ_LANES; l++) {
                const uint8_t *im = img[l];
                if (!im) {
                    for (int64_t j = j0; j < j1; j++)
                        x[j][l] = 0.0f;
                    continue;
                }
                for (int64_t j = j0; j < j1; j++)
                    x[j][l] = lut[im[j]];
            }
        }
}

/* Eval-mode forward of the 16 images in act[0] with the weights W [n_params] of one model;
 * returns the logits [n_classes] (dropout and flatten are the identity: no copies). */
NOINLINE static const v16f *eval_forward(simd_state *s, const mz_pop *p, const float *W,
                                         mz_activation act)
{
    const mz_arch *a = p->arch;
    const v16f *in = s->act[0];
    for (int i = 0; i < a->n_layers; i++) {
        const mz_layer *l = &a->layers[i];
        v16f *out = s->act[i + 1];
        switch (l->kind) {
        case MZ_LAYER_CONV:
            conv_forward_b(l, &s->plan[i], W, in, out);
            break;
        case MZ_LAYER_LINEAR:
            linear_forward_b(l, W, in, out);
            break;
        case MZ_LAYER_MAXPOOL:
            pool_forward_eval(l, in, out);
            break;
        case MZ_LAYER_ACT:
            act_forward_eval(act, in, out, l->out_size, s->pk[0], s->pk[1], s->pkm);
            break;
        case MZ_LAYER_DROPOUT:
        case MZ_LAYER_FLATTEN:
            continue; /* in stays */
        }
        in = out;
    }
    return in;
}

static void simd_eval(mz_pop *p, const uint8_t *images, const int32_t *labels, int64_t n,
                      double *loss_sum, int64_t *correct, int32_t *const *classes)
{
    simd_state *s = p->impl;
    const mz_arch *a = p->arch;
    const int K = a->n_classes;
    const int64_t chw = (int64_t)a->in_c * a->in_h * a->in_w, np = a->n_params;
    lane_vec lv;
    lane_vectors(p, 0, &lv);
    if (a->ard)
        ard_derive(a, s->P, s->D);
    const v16f *P = a->ard ? s->D : s->P; /* ARD eval: the plain forward on D (clipped weights) */
    int models[MZ_LANES], nm = 0;         /* the distinct weight vectors: one lane of each */
    int same_as[MZ_LANES];                /* active lane -> the lane in models[] with its weights */
    for (int l = 0; l < MZ_LANES; l++) {
        same_as[l] = -1;
        if (!p->lane[l].active)
            continue;
        float *w = s->Ws + l * np;
        for (int64_t e = 0; e < np; e++)
            w[e] = P[e][l];
        same_as[l] = l;
        for (int mi = 0; mi < nm && same_as[l] == l; mi++)
            if (p->lane_act[l] == p->lane_act[models[mi]] &&
                !memcmp(w, s->Ws + models[mi] * np, sizeof(float) * (size_t)np))
                same_as[l] = models[mi];
        if (same_as[l] == l)
            models[nm++] = l;
    }
    for (int64_t i0 = 0; i0 < n && nm; i0 += MZ_LANES) {
        int nb = n - i0 < MZ_LANES ? (int)(n - i0) : MZ_LANES;
        const uint8_t *img[MZ_LANES];
        v16i y = vi(0);
        for (int j = 0; j < MZ_LANES; j++) {
            img[j] = j < nb ? images + (i0 + j) * chw : NULL;
            y[j] = j < nb ? labels[i0 + j] : 0;
        }
        gather_images(p, img, s->act[0]);
        for (int mi = 0; mi < nm; mi++) {
            const v16f *z = eval_forward(s, p, s->Ws + models[mi] * np, p->lane_act[models[mi]]);
            v16f total = vf(0.0f);
            v16i hits = vi(0);
            loss_sample(z, y, K, 1.0f, &total, &hits, NULL);
            v16f lb = -total / 1.0f;
            v16i arg = vi(0);
            if (classes) { /* the argmax loss_sample counts hits with */
                v16f m = z[0];
                for (int k = 1; k < K; k++) {
                    v16i gt = z[k] > m;
                    m = vsel(gt, z[k], m);
                    arg = vseli(gt, vi(k), arg);
                }
            }
            for (int l = 0; l < MZ_LANES; l++) {
                if (same_as[l] != models[mi])
                    continue;
                for (int j = 0; j < nb; j++) { /* in image order */
                    loss_sum[l] += (double)lb[j];
                    correct[l] += hits[j];
                }
                if (classes && classes[l])
                    for (int j = 0; j < nb; j++)
                        classes[l][i0 + j] = arg[j];
            }
        }
    }
    if (a->ard) { /* the KL term of the test loss, once per image */
        v16f term = lv.klw * ard_kl(a, s->P);
        for (int l = 0; l < MZ_LANES; l++)
            if (p->lane[l].active)
                loss_sum[l] += (double)term[l] * (double)n;
    }
}

static void simd_dropped(const mz_pop *p, int64_t *dropped)
{
    const simd_state *s = p->impl;
    const mz_arch *a = p->arch;
    v16i count = vi(0);
    for (int i = 0; i < a->n_layers; i++) {
        const mz_layer *l = &a->layers[i];
        if (!is_ard(l))
            continue;
        float hi = mz_ard_clamp_of(l);
        for (int64_t k = 0; k < n_weights(l); k++)
            count -= v_ard_elem_of(s->P[l->w_off + k], s->P[l->s_off + k], hi).la >=
                     vf(MZ_ARD_THRESHOLD);
    }
    for (int l = 0; l < MZ_LANES; l++)
        if (p->lane[l].active)
            dropped[l] = count[l];
}

static const mz_pop_backend simd_backend = {
    "simd",        simd_create,     simd_destroy, simd_set_lane,
    simd_get_lane, simd_train_step, simd_eval,    simd_dropped,
};

const mz_pop_backend *mz_pop_backend_simd(void)
{
    return &simd_backend;
}
