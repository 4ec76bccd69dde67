/* mzoo's own float elementary functions, shared by the reference kernels and the population
 * engine. Branch-free (selects only) so loops over them vectorise, and pure float arithmetic so
 * the results do not depend on the C library or on the CPU (with -ffp-contract=off). Accuracy is
 * checked against double-precision libm in tests/test_nn_math.c. */
#ifndef MZ_NN_MATHF_IMPL_H
#define MZ_NN_MATHF_IMPL_H

#include <math.h>
#include <stdint.h>
#include <string.h>

static inline float mzf_from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static inline uint32_t mzf_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* e^x: x = k ln2 + r, |r| <= ln2/2, degree-7 Taylor for e^r, 2^k applied in two halves so that
 * subnormal results are right. */
static inline float mzf_exp(float x)
{
    const float log2e = 1.44269504088896341f;
    const float ln2_hi = 0.693145751953125f;    /* 12 bits: k * ln2_hi is exact */
    const float ln2_lo = 1.42860682030941723e-6f;
    float xc = fminf(fmaxf(x, -104.0f), 89.0f);
    float k = nearbyintf(xc * log2e);
    float r = (xc - k * ln2_hi) - k * ln2_lo;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    int32_t ki = (int32_t)k;
    int32_t k1 = ki / 2, k2 = ki - k1;
    float s1 = mzf_from_bits((uint32_t)(k1 + 127) << 23);
    float s2 = mzf_from_bits((uint32_t)(k2 + 127) << 23);
    float y = (p * s1) * s2;
    y = x > 88.7228394f ? INFINITY : y;
    y = x < -103.972084f ? 0.0f : y;
    y = x != x ? x : y;
    return y;
}

/* log(x): x = m 2^e, m in [sqrt(1/2), sqrt(2)), log m = 2 atanh(f), f = (m-1)/(m+1). */
static inline float mzf_log(float x)
{
    const float ln2_hi = 0.693145751953125f, ln2_lo = 1.42860682030941723e-6f;
    int sub = x < 1.17549435e-38f;
    float xs = sub ? x * 8388608.0f : x; /* scale subnormals by 2^23 */
    uint32_t u = mzf_bits(xs);
    int32_t e = (int32_t)((u >> 23) & 0xff) - 127;
    float m = mzf_from_bits((u & 0x007fffffu) | 0x3f800000u); /* [1, 2) */
    int big = m > 1.41421356f;
    m = big ? m * 0.5f : m;
    e = big ? e + 1 : e;
    e = sub ? e - 23 : e;
    float f = (m - 1.0f) / (m + 1.0f);
    float s = f * f;
    float p = 1.0f / 13.0f;
    p = p * s + 1.0f / 11.0f;
    p = p * s + 1.0f / 9.0f;
    p = p * s + 1.0f / 7.0f;
    p = p * s + 1.0f / 5.0f;
    p = p * s + 1.0f / 3.0f;
    float lm = 2.0f * f + 2.0f * f * (s * p);
    float ef = (float)e;
    float y = (ef * ln2_lo + lm) + ef * ln2_hi;
    y = x == 0.0f ? -INFINITY : y;
    y = x < 0.0f ? NAN : y;
    y = x == INFINITY ? INFINITY : y;
    y = x != x ? x : y;
    return y;
}

/* tanh: x + x s R(s) (s = x^2, R fitted) for |x| < 0.55, 1 - 2/(e^{2|x|} + 1) above; sign restored. */
static inline float mzf_tanh(float x)
{
    float a = fabsf(x);
    float s = a * a;
    float p = 1.004639751e-04f; /* R(s), fitted by tools/fit_erf.py */
    p = p * s + 2.376788296e-04f;
    p = p * s + -1.285706699e-03f;
    p = p * s + 3.547187987e-03f;
    p = p * s + -8.856400760e-03f;
    p = p * s + 2.186889643e-02f;
    p = p * s + -5.396822674e-02f;
    p = p * s + 1.333333328e-01f;
    p = p * s + -3.333333333e-01f;
    float small = a + a * (s * p);
    float e = mzf_exp(2.0f * a);
    float large = 1.0f - 2.0f / (e + 1.0f);
    float t = a < 0.55f ? small : large;
    t = copysignf(t, x);
    return x != x ? x : t;
}

static inline float mzf_erf(float x)
{
    float a = fabsf(x);
    float s = a * a;
    float p = -9.770091218e-06f;
    p = p * s + 1.129980865e-04f;
    p = p * s + -8.488422328e-04f;
    p = p * s + 5.221305975e-03f;
    p = p * s + -2.686551881e-02f;
    p = p * s + 1.128378383e-01f;
    p = p * s + -3.761263854e-01f;
    p = p * s + 1.128379167e+00f;
    float small = a * p;
    float t = a - 2.5f;
    float q = 2.990671720e-10f;
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
    float mid = 1.0f - mzf_exp(-s) * q;
    float r = a <= 1.0f ? small : mid;
    r = a >= 4.0f ? 1.0f : r;
    r = copysignf(r, x);
    return x != x ? x : r;
}

static inline float mzf_sigmoid(float x) { return 1.0f / (1.0f + mzf_exp(-x)); }

/* log(1 + x), accurate for small |x| too: with u = 1 + x rounded, log(u) * (x / (u - 1)) cancels
 * the rounding of u (Goldberg's trick; exact x where u == 1). */
static inline float mzf_log1p(float x)
{
    float u = 1.0f + x;
    float d = u - 1.0f;
    float r = mzf_log(u) * (x / d);
    r = d == 0.0f ? x : r;
    r = x == INFINITY ? x : r;
    return r;
}

/* cos(2 pi t) and sin(2 pi t) for t in [0, 1]: t = n/4 + f with n = nearest quarter, |f| <= 1/8
 * exact, x = 2 pi f in [-pi/4, pi/4], Taylor polynomials to x^10 / x^9 (error < 2e-9), then the
 * quadrant n selects and negates. */
static inline void mzf_cossin_turns(float t, float *c, float *s)
{
    float n = nearbyintf(t * 4.0f);
    float x = (t - n * 0.25f) * 6.28318531f;
    float x2 = x * x;
    float pc = -1.0f / 3628800.0f;
    pc = pc * x2 + 1.0f / 40320.0f;
    pc = pc * x2 + -1.0f / 720.0f;
    pc = pc * x2 + 1.0f / 24.0f;
    pc = pc * x2 + -0.5f;
    float cx = 1.0f + x2 * pc;
    float ps = 1.0f / 362880.0f;
    ps = ps * x2 + -1.0f / 5040.0f;
    ps = ps * x2 + 1.0f / 120.0f;
    ps = ps * x2 + -1.0f / 6.0f;
    float sx = x + x * (x2 * ps);
    int q = (int)n & 3;
    float cq = (q & 1) ? sx : cx, sq = (q & 1) ? cx : sx;
    *c = (q == 1 || q == 2) ? -cq : cq;
    *s = (q >= 2) ? -sq : sq;
}

/* Two standard normal numbers from two random words (Box-Muller): u1 = (w0 >> 8 + 1) 2^-24 in
 * (0, 1], u2 = (w1 >> 8) 2^-24 in [0, 1); z0 = r cos(2 pi u2), z1 = r sin(2 pi u2) with
 * r = sqrt(-2 log u1). */
static inline void mzf_normal_pair(uint32_t w0, uint32_t w1, float *z0, float *z1)
{
    float u1 = (float)((w0 >> 8) + 1u) * (1.0f / 16777216.0f);
    float u2 = (float)(w1 >> 8) * (1.0f / 16777216.0f);
    float r = sqrtf(-2.0f * mzf_log(u1));
    float c, s;
    mzf_cossin_turns(u2, &c, &s);
    *z0 = r * c;
    *z1 = r * s;
}

#define MZF_SQRT1_2 0.70710678118654752f
#define MZF_INV_SQRT_2PI 0.39894228040143268f

/* ---- activations, as PyTorch computes them on CPU ---- */
static inline float mzf_gelu(float x) { return x * 0.5f * (1.0f + mzf_erf(x * MZF_SQRT1_2)); }
static inline float mzf_gelu_grad(float x)
{
    float cdf = 0.5f * (1.0f + mzf_erf(x * MZF_SQRT1_2));
    float pdf = mzf_exp(-0.5f * x * x) * MZF_INV_SQRT_2PI;
    return cdf + x * pdf;
}
static inline float mzf_silu(float x) { return x / (1.0f + mzf_exp(-x)); }
static inline float mzf_silu_grad(float x)
{
    float sg = 1.0f / (1.0f + mzf_exp(-x));
    return sg * (1.0f + x * (1.0f - sg));
}

#endif
