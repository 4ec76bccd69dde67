/* Private to src/nn: pieces shared by the reference kernels and the population backends. */
#ifndef MZ_NN_IMPL_H
#define MZ_NN_IMPL_H

#include "mzoo/nn.h"

/* Dropout keep-scale mask for n elements: mask[e] = (u_e >= p) ? 1/(1-p) : 0 with
 * u_e = 24-bit uniform from draw e of Philox(seed, MZ_RNG_DROPOUT, epoch, step, ordinal). */
void mz_dropout_mask(const mz_fwd_cfg *cfg, int ordinal, int64_t n, float *mask);

/* Converts one image of `chw` bytes to floats through the per-channel table lut[c][256]. */
static inline void mz_image_to_float(const uint8_t *img, int c, int64_t hw, const float *lut, float *out)
{
    for (int ch = 0; ch < c; ch++)
        for (int64_t i = 0; i < hw; i++)
            out[ch * hw + i] = lut[ch * 256 + img[ch * hw + i]];
}

#endif
