/* Private to src/nn: pieces shared by the reference kernels and the population backends. */
#ifndef MZ_NN_IMPL_H
#define MZ_NN_IMPL_H

#include "mzoo/nn.h"

/* Dropout keep-scale mask for n elements: mask[e] = (u_e >= p) ? 1/(1-p) : 0 with
 * u_e = 24-bit uniform from draw e of Philox(seed, MZ_RNG_DROPOUT, epoch, step, ordinal). */
void mz_dropout_mask(const mz_fwd_cfg *cfg, int ordinal, int64_t n, float *mask);

/* The reference's layer kernels (src/nn/ref.c), for B samples; the layer's parameters are read
 * at P + l->w_off (weight) and P + l->b_off (bias), its gradients written (overwritten) at the same
 * offsets of G. Summation orders: see ref.c.
 *   conv:   x [B][in_c][in_h][in_w], y / dy [B][out_c][out_h][out_w], W [out_c][in_c][k][k]
 *   linear: x [B][in_c], y / dy [B][out_c], W [out_c][in_c]
 *   pool:   x / dx [B][c][in_h][in_w], y / dy [B][c][out_h][out_w]
 * dx (input gradient) may be NULL: not computed. */
void mz_ref_conv_forward(const mz_layer *l, const float *P, const float *x, float *y, int B);
void mz_ref_conv_backward(const mz_layer *l, const float *P, const float *x, const float *dy,
                          float *dx, float *G, int B);
void mz_ref_linear_forward(const mz_layer *l, const float *P, const float *x, float *y, int B);
void mz_ref_linear_backward(const mz_layer *l, const float *P, const float *x, const float *dy,
                            float *dx, float *G, int B);
void mz_ref_pool_forward(const mz_layer *l, const float *x, float *y, int B);
void mz_ref_pool_backward(const mz_layer *l, const float *x, const float *dy, float *dx, int B);

/* Converts one image of `chw` bytes to floats through the per-channel table lut[c][256]. */
static inline void mz_image_to_float(const uint8_t *img, int c, int64_t hw, const float *lut, float *out)
{
    for (int ch = 0; ch < c; ch++)
        for (int64_t i = 0; i < hw; i++)
            out[ch * hw + i] = lut[ch * 256 + img[ch * hw + i]];
}

#endif
