/* Private to src/nn: 16-lane float vectors for the "simd" population backend (src/nn/pop_simd.c).
 *
 * One v16f holds the same element of the 16 models of a population (lane l = model in lane l).
 * Every function here performs, per lane, exactly the float operations of its scalar counterpart
 * in mathf-impl.h / math.c / optim.c in the same order, so results are bit-identical to the
 * reference kernels. Rules that keep it so:
 *  - no implicit contraction (the project builds with -ffp-contract=off); fused multiply-adds are
 *    written as vfma(), which is one fmaf per lane (AVX-512 vfmadd, or a loop of fmaf elsewhere);
 *  - selects (?: in the scalar code) are bitwise blends of both computed sides, which is the same
 *    value per lane: no lane's side effects leak into another lane;
 *  - fminf/fmaxf with constant bounds are written as compare-and-select, which agrees with them
 *    for every input including NaN (see v_exp).
 */
#ifndef MZ_NN_SIMD_IMPL_H
#define MZ_NN_SIMD_IMPL_H

#include <math.h>
#include <stdint.h>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "mzoo/nn.h"
#include "nn/ard-impl.h"
#include "nn/mathf-impl.h"

#if defined(__GNUC__) && !defined(__clang__)
/* v16f values passed between this file's static functions: no ABI is involved. */
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

typedef float v16f __attribute__((vector_size(64)));
typedef int32_t v16i __attribute__((vector_size(64)));
typedef uint32_t v16u __attribute__((vector_size(64)));
typedef int8_t v16b __attribute__((vector_size(16)));

#define MZ_INLINE static inline __attribute__((always_inline))

MZ_INLINE v16f vf(float c)
{
    return (v16f){c, c, c, c, c, c, c, c, c, c, c, c, c, c, c, c};
}
MZ_INLINE v16i vi(int32_t c)
{
    return (v16i){c, c, c, c, c, c, c, c, c, c, c, c, c, c, c, c};
}
MZ_INLINE v16u vu(uint32_t c)
{
    return (v16u){c, c, c, c, c, c, c, c, c, c, c, c, c, c, c, c};
}

/* m ? a : b per lane; m is a comparison result (all ones or all zeros per lane). */
MZ_INLINE v16f vsel(v16i m, v16f a, v16f b)
{
    return (v16f)((m & (v16i)a) | (~m & (v16i)b));
}
MZ_INLINE v16i vseli(v16i m, v16i a, v16i b)
{
    return (m & a) | (~m & b);
}

/* fmaf(a, b, c) per lane. */
MZ_INLINE v16f vfma(v16f a, v16f b, v16f c)
{
#if defined(__AVX512F__)
    return (v16f)_mm512_fmadd_ps((__m512)a, (__m512)b, (__m512)c);
#else
    v16f r;
    for (int i = 0; i < 16; i++)
        r[i] = fmaf(a[i], b[i], c[i]);
    return r;
#endif
}

/* on ? fmaf(a, b, c) : c, with `on` the same for every lane (a skipped term of a sum). */
MZ_INLINE v16f vfma_if(int on, v16f a, v16f b, v16f c)
{
#if defined(__AVX512F__)
    return (v16f)_mm512_mask3_fmadd_ps((__m512)a, (__m512)b, (__m512)c, (__mmask16) - (on != 0));
#else
    return on ? vfma(a, b, c) : c;
#endif
}

MZ_INLINE v16f vsqrt(v16f x)
{
#if defined(__AVX512F__)
    return (v16f)_mm512_sqrt_ps((__m512)x);
#else
    v16f r;
    for (int i = 0; i < 16; i++)
        r[i] = sqrtf(x[i]);
    return r;
#endif
}

/* nearbyintf per lane (round to nearest even in the default rounding mode). */
MZ_INLINE v16f vrint(v16f x)
{
#if defined(__AVX512F__)
    return (v16f)_mm512_roundscale_ps((__m512)x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
#else
    v16f r;
    for (int i = 0; i < 16; i++)
        r[i] = nearbyintf(x[i]);
    return r;
#endif
}

MZ_INLINE v16f vabs(v16f x)
{
    return (v16f)((v16i)x & vi(0x7fffffff));
}
/* copysignf(mag, sgn) */
MZ_INLINE v16f vcopysign(v16f mag, v16f sgn)
{
    return (v16f)(((v16i)mag & vi(0x7fffffff)) | ((v16i)sgn & vi((int32_t)0x80000000u)));
}
MZ_INLINE v16i visnan(v16f x)
{
    return x != x;
}

/* ---- elementary functions: lane-wise copies of mathf-impl.h ---- */

MZ_INLINE v16f v_exp(v16f x)
{
    const float log2e = 1.44269504088896341f;
    const float ln2_hi = 0.693145751953125f;
    const float ln2_lo = 1.42860682030941723e-6f;
    /* fminf(fmaxf(x, -104), 89): fmaxf(NaN, -104) = -104, and (NaN > -104) is false, so the
     * select gives -104 too; the clamped value is never NaN for the fminf. */
    v16f xc = vsel(x > vf(-104.0f), x, vf(-104.0f));
    xc = vsel(xc < vf(89.0f), xc, vf(89.0f));
    v16f k = vrint(xc * log2e);
    v16f r = (xc - k * ln2_hi) - k * ln2_lo;
    v16f p = vf(1.0f / 5040.0f);
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    v16i ki = __builtin_convertvector(k, v16i);
    v16i k1 = ki / 2, k2 = ki - k1;
    v16f s1 = (v16f)((k1 + 127) << 23);
    v16f s2 = (v16f)((k2 + 127) << 23);
    v16f y = (p * s1) * s2;
    y = vsel(x > vf(88.7228394f), vf(INFINITY), y);
    y = vsel(x < vf(-103.972084f), vf(0.0f), y);
    y = vsel(x != x, x, y);
    return y;
}

MZ_INLINE v16f v_log(v16f x)
{
    const float ln2_hi = 0.693145751953125f, ln2_lo = 1.42860682030941723e-6f;
    v16i sub = x < vf(1.17549435e-38f);
    v16f xs = vsel(sub, x * 8388608.0f, x);
    v16u u = (v16u)xs;
    v16i e = (v16i)((u >> 23) & 0xffu) - 127;
    v16f m = (v16f)((u & 0x007fffffu) | 0x3f800000u);
    v16i big = m > vf(1.41421356f);
    m = vsel(big, m * 0.5f, m);
    e = vseli(big, e + 1, e);
    e = vseli(sub, e - 23, e);
    v16f f = (m - 1.0f) / (m + 1.0f);
    v16f s = f * f;
    v16f p = vf(1.0f / 13.0f);
    p = p * s + 1.0f / 11.0f;
    p = p * s + 1.0f / 9.0f;
    p = p * s + 1.0f / 7.0f;
    p = p * s + 1.0f / 5.0f;
    p = p * s + 1.0f / 3.0f;
    v16f lm = 2.0f * f + 2.0f * f * (s * p);
    v16f ef = __builtin_convertvector(e, v16f);
    v16f y = (ef * ln2_lo + lm) + ef * ln2_hi;
    y = vsel(x == vf(0.0f), vf(-INFINITY), y);
    y = vsel(x < vf(0.0f), vf(NAN), y);
    y = vsel(x == vf(INFINITY), vf(INFINITY), y);
    y = vsel(x != x, x, y);
    return y;
}

/* tanh's two branches on a = |x| (v_tanh selects, then copies x's sign; the eval's packed
 * activations call them apart, src/nn/pop_simd.c) */
MZ_INLINE v16f v_tanh_small(v16f a)
{
    v16f s = a * a;
    v16f p = vf(1.004639751e-04f);
    p = p * s + 2.376788296e-04f;
    p = p * s + -1.285706699e-03f;
    p = p * s + 3.547187987e-03f;
    p = p * s + -8.856400760e-03f;
    p = p * s + 2.186889643e-02f;
    p = p * s + -5.396822674e-02f;
    p = p * s + 1.333333328e-01f;
    p = p * s + -3.333333333e-01f;
    return a + a * (s * p);
}
MZ_INLINE v16f v_tanh_large(v16f a)
{
    v16f e = v_exp(2.0f * a);
    return 1.0f - 2.0f / (e + 1.0f);
}
MZ_INLINE v16f v_tanh(v16f x)
{
    v16f a = vabs(x);
    v16f t = vsel(a < vf(0.55f), v_tanh_small(a), v_tanh_large(a));
    t = vcopysign(t, x);
    return vsel(x != x, x, t);
}

/* erf's branches on a = |x| (v_erf selects among them: small for a <= 1, mid for 1 < a < 4,
 * 1 above; then copies x's sign) */
MZ_INLINE v16f v_erf_small(v16f a)
{
    v16f s = a * a;
    v16f p = vf(-9.770091218e-06f);
    p = p * s + 1.129980865e-04f;
    p = p * s + -8.488422328e-04f;
    p = p * s + 5.221305975e-03f;
    p = p * s + -2.686551881e-02f;
    p = p * s + 1.128378383e-01f;
    p = p * s + -3.761263854e-01f;
    p = p * s + 1.128379167e+00f;
    return a * p;
}
MZ_INLINE v16f v_erf_mid(v16f a)
{
    v16f s = a * a;
    v16f t = a - 2.5f;
    v16f q = vf(2.990671720e-10f);
    q = q * t + -1.423647183e-09f;
    q = q * t + 3.505589589e-09f;
    q = q * t + -1.396532385e-08f;
    q = q * t + 6.754113114e-08f;
    q = q * t + -2.775089712e-07f;
    q = q * t + 1.085152686e-06f;
    q = q * t + -4.209048848e-06f;
    q = q * t + 1.596151516e-05f;
    q = q * t + -5.887234190e-05f;
    q = q * t + 2.110201567e-04f;
    q = q * t + -7.335897992e-04f;
    q = q * t + 2.467036700e-03f;
    q = q * t + -8.001569552e-03f;
    q = q * t + 2.493799710e-02f;
    q = q * t + -7.434734678e-02f;
    q = q * t + 2.108063641e-01f;
    return 1.0f - v_exp(-s) * q;
}
MZ_INLINE v16f v_erf(v16f x)
{
    v16f a = vabs(x);
    v16f r = vsel(a <= vf(1.0f), v_erf_small(a), v_erf_mid(a));
    r = vsel(a >= vf(4.0f), vf(1.0f), r);
    r = vcopysign(r, x);
    return vsel(x != x, x, r);
}

MZ_INLINE v16f v_sigmoid(v16f x)
{
    return 1.0f / (1.0f + v_exp(-x));
}
MZ_INLINE v16f v_gelu(v16f x)
{
    return x * 0.5f * (1.0f + v_erf(x * MZF_SQRT1_2));
}
MZ_INLINE v16f v_gelu_grad(v16f x)
{
    v16f cdf = 0.5f * (1.0f + v_erf(x * MZF_SQRT1_2));
    v16f pdf = v_exp(-0.5f * x * x) * MZF_INV_SQRT_2PI;
    return cdf + x * pdf;
}
MZ_INLINE v16f v_silu(v16f x)
{
    return x / (1.0f + v_exp(-x));
}
MZ_INLINE v16f v_silu_grad(v16f x)
{
    v16f sg = 1.0f / (1.0f + v_exp(-x));
    return sg * (1.0f + x * (1.0f - sg));
}

/* mz_act_forward per lane. */
MZ_INLINE v16f v_act_forward(mz_activation act, v16f x)
{
    switch (act) {
    case MZ_ACT_TANH:
        return v_tanh(x);
    case MZ_ACT_RELU:
        return vsel(x > vf(0.0f), x, vf(0.0f));
    case MZ_ACT_SIGMOID:
        return v_sigmoid(x);
    case MZ_ACT_GELU:
        return v_gelu(x);
    case MZ_ACT_LEAKYRELU:
        return vsel(x > vf(0.0f), x, x * 0.01f);
    case MZ_ACT_SILU:
        return v_silu(x);
    default:
        return x;
    }
}

/* mz_act_backward per lane: the factor f'(x) from the activation's input x and output y. */
MZ_INLINE v16f v_act_backward(mz_activation act, v16f x, v16f y)
{
    switch (act) {
    case MZ_ACT_TANH:
        return 1.0f - y * y;
    case MZ_ACT_RELU:
        return vsel(y > vf(0.0f), vf(1.0f), vf(0.0f));
    case MZ_ACT_SIGMOID:
        return (1.0f - y) * y;
    case MZ_ACT_GELU:
        return v_gelu_grad(x);
    case MZ_ACT_LEAKYRELU:
        return vsel(x > vf(0.0f), vf(1.0f), vf(0.01f));
    case MZ_ACT_SILU:
        return v_silu_grad(x);
    default:
        return vf(1.0f);
    }
}

/* ---- variational-dropout twins: lane-wise copies of mathf-impl.h / ard-impl.h ---- */

MZ_INLINE v16f v_log1p(v16f x)
{
    v16f u = 1.0f + x;
    v16f d = u - 1.0f;
    v16f r = v_log(u) * (x / d);
    r = vsel(d == vf(0.0f), x, r);
    r = vsel(x == vf(INFINITY), x, r);
    return r;
}

/* mzf_cossin_turns */
MZ_INLINE void v_cossin_turns(v16f t, v16f *c, v16f *s)
{
    v16f n = vrint(t * 4.0f);
    v16f x = (t - n * 0.25f) * 6.28318531f;
    v16f x2 = x * x;
    v16f pc = vf(-1.0f / 3628800.0f);
    pc = pc * x2 + 1.0f / 40320.0f;
    pc = pc * x2 + -1.0f / 720.0f;
    pc = pc * x2 + 1.0f / 24.0f;
    pc = pc * x2 + -0.5f;
    v16f cx = 1.0f + x2 * pc;
    v16f ps = vf(1.0f / 362880.0f);
    ps = ps * x2 + -1.0f / 5040.0f;
    ps = ps * x2 + 1.0f / 120.0f;
    ps = ps * x2 + -1.0f / 6.0f;
    v16f sx = x + x * (x2 * ps);
    v16i q = __builtin_convertvector(n, v16i) & 3;
    v16i odd = (q & 1) != 0;
    v16f cq = vsel(odd, sx, cx), sq = vsel(odd, cx, sx);
    *c = vsel((q == 1) | (q == 2), -cq, cq);
    *s = vsel(q >= 2, -sq, sq);
}

/* mzf_normal_pair per lane */
MZ_INLINE void v_normal_pair(v16u w0, v16u w1, v16f *z0, v16f *z1)
{
    v16f u1 = __builtin_convertvector((v16i)((w0 >> 8) + 1u), v16f) * (1.0f / 16777216.0f);
    v16f u2 = __builtin_convertvector((v16i)(w1 >> 8), v16f) * (1.0f / 16777216.0f);
    v16f r = vsqrt(-2.0f * v_log(u1));
    v16f c, s;
    v_cossin_turns(u2, &c, &s);
    *z0 = r * c;
    *z1 = r * s;
}

/* mz_ard_elem_of per lane */
typedef struct v_ard_elem {
    v16f A, u, la, alpha, t1, V;
} v_ard_elem;

MZ_INLINE v_ard_elem v_ard_elem_of(v16f theta, v16f ls2, float hi)
{
    v_ard_elem e;
    e.A = vabs(theta) + MZ_ARD_EPS;
    e.u = ls2 - 2.0f * v_log(e.A);
    v16f la = vsel(e.u < vf(-hi), vf(-hi), e.u);
    e.la = vsel(la > vf(hi), vf(hi), la);
    e.alpha = v_exp(e.la);
    e.t1 = e.alpha * theta;
    e.V = e.t1 * theta;
    return e;
}

/* mzf_ard_kl, mzf_ard_dkl per lane */
MZ_INLINE v16f v_ard_kl(v16f la)
{
    v16f s = v_sigmoid(MZ_ARD_K2 + MZ_ARD_K3 * la);
    v16f e = v_exp(-la);
    return -((MZ_ARD_K1 * s - 0.5f * v_log1p(e)) - MZ_ARD_K1);
}
MZ_INLINE v16f v_ard_dkl(v16f la)
{
    v16f s = v_sigmoid(MZ_ARD_K2 + MZ_ARD_K3 * la);
    v16f e = v_exp(-la);
    return -MZ_ARD_K1K3 * (s * (1.0f - s)) - 0.5f * (e / (1.0f + e));
}

/* mz_ard_elem_backward per lane */
MZ_INLINE void v_ard_elem_backward(const v_ard_elem *e, v16f theta, float hi, v16f gmu, v16f gV,
                                   v16f klw, v16f *dtheta, v16f *dls2)
{
    v16f dkl = v_ard_dkl(e->la);
    v16f g_t1 = gV * theta;
    v16f g_la = (g_t1 * theta) * e->alpha + klw * dkl;
    v16f g_u = vsel((e->u >= vf(-hi)) & (e->u <= vf(hi)), g_la, vf(0.0f));
    v16f sgn = vsel(theta > vf(0.0f), vf(1.0f), vsel(theta < vf(0.0f), vf(-1.0f), vf(0.0f)));
    *dls2 = g_u;
    *dtheta = (gmu + (gV * e->t1 + g_t1 * e->alpha)) + ((-2.0f * g_u) / e->A) * sgn;
}

/* ---- Philox4x32-10 with a different key in every lane (src/core/rng.c, mz_philox4x32) ---- */

/* hi and lo 32 bits of a * m per lane. */
MZ_INLINE void v_mulhilo(v16u a, uint32_t m, v16u *hi, v16u *lo)
{
#if defined(__AVX512F__)
    __m512i mv = _mm512_set1_epi32((int)m);
    __m512i ev = _mm512_mul_epu32((__m512i)a, mv);                        /* even lanes, 64-bit */
    __m512i od = _mm512_mul_epu32(_mm512_srli_epi64((__m512i)a, 32), mv); /* odd lanes */
    *hi = (v16u)_mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(ev, 32), od);
    *lo = (v16u)_mm512_mask_blend_epi32(0xAAAA, ev, _mm512_slli_epi64(od, 32));
#else
    for (int i = 0; i < 16; i++) {
        uint64_t p = (uint64_t)m * a[i];
        (*hi)[i] = (uint32_t)(p >> 32);
        (*lo)[i] = (uint32_t)p;
    }
#endif
}

/* c[0..3] = counter words in, random words out; (k0, k1) = per-lane key. */
MZ_INLINE void v_philox(v16u c[4], v16u k0, v16u k1)
{
    v16u c0 = c[0], c1 = c[1], c2 = c[2], c3 = c[3];
    for (int r = 0; r < 10; r++) {
        v16u hi0, lo0, hi1, lo1;
        v_mulhilo(c0, 0xD2511F53u, &hi0, &lo0);
        v_mulhilo(c2, 0xCD9E8D57u, &hi1, &lo1);
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    c[0] = c0;
    c[1] = c1;
    c[2] = c2;
    c[3] = c3;
}

#endif
