/* PIL-exact 8-bit image operations, on planar images [c][h][w].
 *
 * Resize is Pillow's ImagingResample for 8-bit bands with the bilinear ("triangle") filter:
 * separable, horizontal pass first, the filter support widened by the downscale factor (this is
 * PIL's antialiasing), coefficients normalised to sum 1 and then converted to fixed point with 22
 * fractional bits, each pass rounding to uint8. Every band is resampled independently, so an RGB
 * image gives the same bytes as PIL's interleaved loop. The golden test (tests/test_pil.c, goldens
 * from tools/make_pil_golden.py) checks this byte for byte against python3-pil.
 *
 * The augmentations of the ResNet zoos are pure functions of (seed, epoch, sample position): their
 * random numbers come from the Philox stream (seed, MZ_RNG_AUGMENT, epoch, position, 0).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mzoo/data.h"
#include "core/banned.h"

#define PIL_PRECISION_BITS (32 - 8 - 2)

/* PIL's bilinear filter: a triangle of support 1. */
static double triangle(double x)
{
    if (x < 0.0)
        x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

/* Coefficients for resampling a line of in_size pixels to out_size (Pillow precompute_coeffs +
 * normalize_coeffs_8bpc, box = whole image). bounds[2*o] is the first input pixel of output o,
 * bounds[2*o+1] the number of input pixels; k[o*ksize + i] their fixed-point weights. */
static int precompute(int in_size, int out_size, int **bounds_out, int32_t **k_out)
{
    double scale = (double)in_size / out_size;
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 1.0 * filterscale;
    int ksize = (int)ceil(support) * 2 + 1;
    int *bounds = malloc((size_t)out_size * 2 * sizeof *bounds);
    int32_t *kk = malloc((size_t)out_size * (size_t)ksize * sizeof *kk);
    double *w = malloc((size_t)ksize * sizeof *w);
    if (!bounds || !kk || !w) {
        free(bounds);
        free(kk);
        free(w);
        return -1;
    }
    for (int xx = 0; xx < out_size; xx++) {
        double center = (xx + 0.5) * scale;
        double ww = 0.0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0)
            xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size)
            xmax = in_size;
        xmax -= xmin;
        int x;
        for (x = 0; x < xmax; x++) {
            w[x] = triangle((x + xmin - center + 0.5) * ss);
            ww += w[x];
        }
        for (x = 0; x < xmax; x++)
            if (ww != 0.0)
                w[x] /= ww;
        for (; x < ksize; x++)
            w[x] = 0.0;
        for (x = 0; x < ksize; x++) {
            double v = w[x] * (1 << PIL_PRECISION_BITS);
            kk[xx * ksize + x] = (int32_t)(v < 0 ? -0.5 + v : 0.5 + v);
        }
        bounds[2 * xx] = xmin;
        bounds[2 * xx + 1] = xmax;
    }
    free(w);
    *bounds_out = bounds;
    *k_out = kk;
    return ksize;
}

static uint8_t clip8(int32_t v)
{
    if (v >= (1 << PIL_PRECISION_BITS << 8))
        return 255;
    if (v <= 0)
        return 0;
    return (uint8_t)(v >> PIL_PRECISION_BITS);
}

mz_status mz_pil_resampler_init(mz_pil_resampler *r, int in_h, int in_w, int out_h, int out_w,
                                mz_error *err)
{
    memset(r, 0, sizeof *r);
    if (in_h < 1 || in_w < 1 || out_h < 1 || out_w < 1 || in_h > 65536 || in_w > 65536 ||
        out_h > 65536 || out_w > 65536)
        return mz_fail(err, MZ_EINVAL, "resize: bad sizes %dx%d -> %dx%d", in_h, in_w, out_h,
                       out_w);
    r->in_h = in_h;
    r->in_w = in_w;
    r->out_h = out_h;
    r->out_w = out_w;
    r->ksize_x = precompute(in_w, out_w, &r->bounds_x, &r->k_x);
    r->ksize_y = precompute(in_h, out_h, &r->bounds_y, &r->k_y);
    if (r->ksize_x < 0 || r->ksize_y < 0) {
        mz_pil_resampler_release(r);
        return mz_fail(err, MZ_ENOMEM, "resize: out of memory for coefficients");
    }
    /* The horizontal pass only needs the input rows the vertical pass reads. */
    r->row0 = r->bounds_y[0];
    r->nrows = r->bounds_y[2 * out_h - 2] + r->bounds_y[2 * out_h - 1] - r->row0;
    r->tmp = malloc((size_t)r->nrows * (size_t)out_w);
    if (!r->tmp) {
        mz_pil_resampler_release(r);
        return mz_fail(err, MZ_ENOMEM, "resize: out of memory for the intermediate image");
    }
    return MZ_OK;
}

void mz_pil_resampler_release(mz_pil_resampler *r)
{
    if (!r)
        return;
    free(r->bounds_x);
    free(r->bounds_y);
    free(r->k_x);
    free(r->k_y);
    free(r->tmp);
    memset(r, 0, sizeof *r);
}

void mz_pil_resample_plane(mz_pil_resampler *r, const uint8_t *in, uint8_t *out)
{
    const int in_w = r->in_w, out_w = r->out_w, out_h = r->out_h;
    const uint8_t *src = in;
    int src_w = in_w, row0 = 0;
    /* Horizontal pass (PIL skips it when the width does not change). */
    if (out_w != in_w) {
        for (int y = 0; y < r->nrows; y++) {
            const uint8_t *line = in + (size_t)(y + r->row0) * in_w;
            for (int xx = 0; xx < out_w; xx++) {
                int xmin = r->bounds_x[2 * xx], n = r->bounds_x[2 * xx + 1];
                const int32_t *k = r->k_x + (size_t)xx * r->ksize_x;
                int32_t ss = 1 << (PIL_PRECISION_BITS - 1);
                for (int x = 0; x < n; x++)
                    ss += (int32_t)line[x + xmin] * k[x];
                r->tmp[(size_t)y * out_w + xx] = clip8(ss);
            }
        }
        src = r->tmp;
        src_w = out_w;
        row0 = r->row0;
    }
    /* Vertical pass. */
    if (out_h != r->in_h) {
        for (int yy = 0; yy < out_h; yy++) {
            int ymin = r->bounds_y[2 * yy] - row0, n = r->bounds_y[2 * yy + 1];
            const int32_t *k = r->k_y + (size_t)yy * r->ksize_y;
            for (int xx = 0; xx < src_w; xx++) {
                int32_t ss = 1 << (PIL_PRECISION_BITS - 1);
                for (int y = 0; y < n; y++)
                    ss += (int32_t)src[(size_t)(y + ymin) * src_w + xx] * k[y];
                out[(size_t)yy * out_w + xx] = clip8(ss);
            }
        }
    } else {
        /* No vertical change: the (possibly horizontally resampled) rows are the result. */
        for (int yy = 0; yy < out_h; yy++)
            memcpy(out + (size_t)yy * out_w, src + (size_t)(yy - row0) * src_w, (size_t)out_w);
    }
}

mz_status mz_pil_resize(const uint8_t *in, int c, int h, int w, uint8_t *out, int oh, int ow,
                        mz_error *err)
{
    mz_pil_resampler r;
    mz_status st = mz_pil_resampler_init(&r, h, w, oh, ow, err);
    if (st)
        return st;
    for (int ch = 0; ch < c; ch++)
        mz_pil_resample_plane(&r, in + (size_t)ch * h * w, out + (size_t)ch * oh * ow);
    mz_pil_resampler_release(&r);
    return MZ_OK;
}

void mz_pil_rgb_to_l(const uint8_t *rgb, int h, int w, uint8_t *out)
{
    /* PIL Convert.c: L = (R*19595 + G*38470 + B*7471 + 0x8000) >> 16, i.e. ITU-R 601-2 luma
     * (0.299, 0.587, 0.114) in 16-bit fixed point, rounded. Checked on all 2^24 colours. */
    size_t n = (size_t)h * w;
    const uint8_t *r = rgb, *g = rgb + n, *b = rgb + 2 * n;
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)(((uint32_t)r[i] * 19595u + (uint32_t)g[i] * 38470u +
                            (uint32_t)b[i] * 7471u + 0x8000u) >>
                           16);
}

void mz_pil_center_crop_offsets(int h, int w, int oh, int ow, int *top, int *left)
{
    /* torchvision center_crop: int(round((h - oh) / 2.0)), Python's round-half-to-even. */
    *top = (int)nearbyint((h - oh) / 2.0);
    *left = (int)nearbyint((w - ow) / 2.0);
}

void mz_pil_center_crop(const uint8_t *in, int c, int h, int w, uint8_t *out, int oh, int ow)
{
    int top, left;
    mz_pil_center_crop_offsets(h, w, oh, ow, &top, &left);
    for (int ch = 0; ch < c; ch++)
        for (int y = 0; y < oh; y++)
            for (int x = 0; x < ow; x++) {
                int sy = y + top, sx = x + left;
                out[((size_t)ch * oh + y) * ow + x] = (sy >= 0 && sy < h && sx >= 0 && sx < w)
                                                          ? in[((size_t)ch * h + sy) * w + sx]
                                                          : 0;
            }
}

/* ---- augmentation (ResNet zoos) ---- */

void mz_aug_crop_flip_params(uint64_t seed, uint32_t epoch, uint32_t pos, int pad, int *dy, int *dx,
                             int *flip)
{
    mz_rng_stream s = mz_rng_make(seed, MZ_RNG_AUGMENT, epoch, pos, 0);
    uint64_t i = 0;
    *dy = (int)mz_rng_below(&s, &i, (uint32_t)(2 * pad + 1));
    *dx = (int)mz_rng_below(&s, &i, (uint32_t)(2 * pad + 1));
    *flip = mz_u32_to_unit_float(mz_rng_u32(&s, i)) < 0.5f;
}

void mz_aug_crop_flip_apply(const uint8_t *in, int c, int h, int w, int pad, int dy, int dx,
                            int flip, uint8_t *out)
{
    /* Pad by `pad` zeros on every side, crop h x w at (dy, dx) of the padded image, then mirror. */
    for (int ch = 0; ch < c; ch++)
        for (int y = 0; y < h; y++) {
            int sy = y + dy - pad;
            for (int x = 0; x < w; x++) {
                int cx = flip ? w - 1 - x : x;
                int sx = cx + dx - pad;
                out[((size_t)ch * h + y) * w + x] = (sy >= 0 && sy < h && sx >= 0 && sx < w)
                                                        ? in[((size_t)ch * h + sy) * w + sx]
                                                        : 0;
            }
        }
}

void mz_aug_crop_flip(const uint8_t *in, int c, int h, int w, int pad, uint64_t seed,
                      uint32_t epoch, uint32_t pos, uint8_t *out)
{
    int dy, dx, flip;
    mz_aug_crop_flip_params(seed, epoch, pos, pad, &dy, &dx, &flip);
    mz_aug_crop_flip_apply(in, c, h, w, pad, dy, dx, flip, out);
}

void mz_aug_flip_rotate_params(uint64_t seed, uint32_t epoch, uint32_t pos, float degrees,
                               int *flip, float *angle)
{
    mz_rng_stream s = mz_rng_make(seed, MZ_RNG_AUGMENT, epoch, pos, 0);
    *flip = mz_u32_to_unit_float(mz_rng_u32(&s, 0)) < 0.5f;
    *angle = -degrees + 2.0f * degrees * mz_u32_to_unit_float(mz_rng_u32(&s, 1));
}

void mz_aug_rotate_apply(const uint8_t *in, int c, int h, int w, double angle_deg, uint8_t *out)
{
    /* torchvision F.rotate on a float tensor (expand=False, center = image centre, nearest, fill
     * 0): the inverse affine matrix [cos a, -sin a, 0; sin a, cos a, 0] in float32, divided by the
     * half sizes, applied to the pixel-centre grid (x - w/2 + 0.5, y - h/2 + 0.5), then
     * grid_sample(align_corners=False): source = (g + 1) * size/2 - 0.5, rounded half to even. */
    const double pi = 3.14159265358979323846;
    double rad = -angle_deg * (pi / 180.0); /* math.radians(-angle), as torchvision does */
    float m0 = (float)cos(rad), m1 = (float)sin(rad), m3 = (float)-sin(rad), m4 = (float)cos(rad);
    float hw = 0.5f * (float)w, hh = 0.5f * (float)h;
    float t00 = m0 / hw, t10 = m1 / hw, t01 = m3 / hh, t11 = m4 / hh;
    for (int y = 0; y < h; y++) {
        float by = -(float)h * 0.5f + 0.5f + (float)y;
        for (int x = 0; x < w; x++) {
            float bx = -(float)w * 0.5f + 0.5f + (float)x;
            float gx = bx * t00 + by * t10 + 0.0f;
            float gy = bx * t01 + by * t11 + 0.0f;
            float ix = (gx + 1.0f) * hw - 0.5f;
            float iy = (gy + 1.0f) * hh - 0.5f;
            float rx = nearbyintf(ix), ry = nearbyintf(iy);
            int ok = rx >= 0.0f && rx < (float)w && ry >= 0.0f && ry < (float)h;
            int sx = ok ? (int)rx : 0, sy = ok ? (int)ry : 0;
            for (int ch = 0; ch < c; ch++)
                out[((size_t)ch * h + y) * w + x] = ok ? in[((size_t)ch * h + sy) * w + sx] : 0;
        }
    }
}

void mz_aug_flip_rotate(const uint8_t *in, int c, int h, int w, float degrees, uint64_t seed,
                        uint32_t epoch, uint32_t pos, uint8_t *tmp, uint8_t *out)
{
    int flip;
    float angle;
    mz_aug_flip_rotate_params(seed, epoch, pos, degrees, &flip, &angle);
    const uint8_t *src = in;
    if (flip) {
        for (int ch = 0; ch < c; ch++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    tmp[((size_t)ch * h + y) * w + x] = in[((size_t)ch * h + y) * w + (w - 1 - x)];
        src = tmp;
    }
    mz_aug_rotate_apply(src, c, h, w, angle, out);
}
