/* Accuracy of mzoo's float elementary functions (src/nn/mathf-impl.h) against double-precision
 * libm, in units in the last place of the float result.
 *
 * Points: every 2047th float bit pattern of each sign (about a million per sign, spread over all
 * binades, subnormals included), a uniform grid k/4096 on [-16, 16], the special values, and the
 * worst cases an exhaustive scan of all 2^32 floats found (set MZ_TEST_EXHAUSTIVE=1 to repeat that
 * scan: about 8 minutes). Where the correctly rounded result is a normal float the error must be
 * within the bound; where it is subnormal the error must be within 1 subnormal ulp (2^-149),
 * except for sigmoidf, which may flush them to 0 (1/(1 + exp(-x)) overflows exp first; the error
 * is then below FLT_MIN); where it overflows, the result must be the same infinity.
 *
 * Bounds (exhaustive maxima in parentheses): expf 2 ulp (1.17), logf 2 (1.97), tanhf 2 (1.52);
 * erff 3 ulp (2.76, at x = 0.4769: the float coefficients of the polynomial on [0, 1]); sigmoidf
 * 3 ulp (2.48: 1/(1 + exp(-x)) rounds three times). */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mzoo/nn.h"

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* ulp of the float nearest to r (r finite, |r| >= FLT_MIN) */
static double ulp_of(double r)
{
    int e;
    frexp(fabs(r), &e);
    return ldexp(1.0, e - 24);
}

static double sigmoid_ref(double x)
{
    return 1.0 / (1.0 + exp(-x));
}

typedef struct fn {
    const char *name;
    float (*f)(float);
    double (*ref)(double);
    double bound; /* ulp */
    int negative; /* defined for x < 0 */
    int flushes;  /* may flush subnormal results (else: within 2^-149) */
} fn;

typedef struct stats {
    double worst;
    float worst_x;
    long points, bad;
} stats;

static void check_point(const fn *F, float x, stats *st)
{
    double r = F->ref((double)x);
    float y = F->f(x);
    float rf = (float)r;
    st->points++;
    int ok;
    if (isnan(r)) {
        ok = isnan(y);
    } else if (isinf(rf)) {
        ok = y == rf;
    } else if (fabs(r) >= FLT_MIN) {
        double e = fabs((double)y - r) / ulp_of(r);
        if (e > st->worst || isnan(e)) {
            st->worst = isnan(e) ? INFINITY : e;
            st->worst_x = x;
        }
        ok = e <= F->bound;
    } else if (F->flushes) {
        ok = fabs((double)y - r) < FLT_MIN;
    } else {
        ok = fabs((double)y - r) <= 0x1p-149;
    }
    if (!ok && st->bad++ < 5)
        fprintf(stderr, "  %s(%.9g = %a) = %.9g, libm %.17g\n", F->name, (double)x, (double)x,
                (double)y, r);
}

static void test_accuracy(const fn *F, const float *extra, int n_extra, int exhaustive)
{
    stats st = {0, 0, 0, 0};
    uint64_t stride = exhaustive ? 1 : 2047;
    for (uint64_t u = 0; u < 0x7f800000u; u += stride) {
        check_point(F, from_bits((uint32_t)u), &st);
        if (F->negative)
            check_point(F, from_bits((uint32_t)u | 0x80000000u), &st);
    }
    for (int k = -65536; k <= 65536; k++)
        if (F->negative || k > 0)
            check_point(F, (float)k / 4096.0f, &st);
    for (int i = 0; i < n_extra; i++)
        check_point(F, extra[i], &st);
    CHECK_MSG(st.bad == 0, "%s: %ld of %ld points beyond %g ulp", F->name, st.bad, st.points,
              F->bound);
    printf("  %-8s %8ld points, max error %.3f ulp at %.9g (bound %g)\n", F->name, st.points,
           st.worst, (double)st.worst_x, F->bound);
}

static int is_neg_zero(float x)
{
    return x == 0.0f && signbit(x);
}
static int is_pos_zero(float x)
{
    return x == 0.0f && !signbit(x);
}

static void test_special(void)
{
    const float inf = INFINITY, nan = NAN, big = FLT_MAX, tiny = FLT_TRUE_MIN;
    /* exp */
    CHECK(mz_expf(0.0f) == 1.0f);
    CHECK(mz_expf(-0.0f) == 1.0f);
    CHECK(mz_expf(inf) == inf);
    CHECK(is_pos_zero(mz_expf(-inf)));
    CHECK(isnan(mz_expf(nan)));
    CHECK(mz_expf(big) == inf);
    CHECK(is_pos_zero(mz_expf(-big)));
    CHECK(mz_expf(88.72283935546875f) == inf); /* just above ln(FLT_MAX) */
    CHECK(isfinite(mz_expf(88.7228317f)) && mz_expf(88.7228317f) > 3.4e38f);
    CHECK(mz_expf(-104.0f) == 0.0f); /* below half the smallest subnormal */
    /* log */
    CHECK(mz_logf(1.0f) == 0.0f);
    CHECK(mz_logf(0.0f) == -inf);
    CHECK(mz_logf(-0.0f) == -inf);
    CHECK(isnan(mz_logf(-1.0f)));
    CHECK(isnan(mz_logf(-tiny)));
    CHECK(isnan(mz_logf(-inf)));
    CHECK(mz_logf(inf) == inf);
    CHECK(isnan(mz_logf(nan)));
    CHECK(fabs(mz_logf(tiny) - log((double)tiny)) <= 2 * ulp_of(log((double)tiny)));
    CHECK(fabs(mz_logf(big) - log((double)big)) <= 2 * ulp_of(log((double)big)));
    /* tanh: odd, saturates, exact near 0 */
    CHECK(is_pos_zero(mz_tanhf(0.0f)));
    CHECK(is_neg_zero(mz_tanhf(-0.0f)));
    CHECK(mz_tanhf(inf) == 1.0f);
    CHECK(mz_tanhf(-inf) == -1.0f);
    CHECK(mz_tanhf(big) == 1.0f);
    CHECK(mz_tanhf(-big) == -1.0f);
    CHECK(isnan(mz_tanhf(nan)));
    CHECK(mz_tanhf(tiny) == tiny);
    CHECK(mz_tanhf(1e-20f) == 1e-20f);
    CHECK(mz_tanhf(10.0f) == 1.0f);
    /* erf */
    CHECK(is_pos_zero(mz_erff(0.0f)));
    CHECK(is_neg_zero(mz_erff(-0.0f)));
    CHECK(mz_erff(inf) == 1.0f);
    CHECK(mz_erff(-inf) == -1.0f);
    CHECK(mz_erff(big) == 1.0f);
    CHECK(mz_erff(-big) == -1.0f);
    CHECK(isnan(mz_erff(nan)));
    CHECK(mz_erff(5.0f) == 1.0f);
    /* sigmoid */
    CHECK(mz_sigmoidf(0.0f) == 0.5f);
    CHECK(mz_sigmoidf(-0.0f) == 0.5f);
    CHECK(mz_sigmoidf(inf) == 1.0f);
    CHECK(is_pos_zero(mz_sigmoidf(-inf)));
    CHECK(mz_sigmoidf(big) == 1.0f);
    CHECK(is_pos_zero(mz_sigmoidf(-big)));
    CHECK(isnan(mz_sigmoidf(nan)));
    CHECK(mz_sigmoidf(20.0f) == 1.0f);

    /* symmetries the callers rely on, bit for bit: tanh and erf are odd; sigmoid(x) in [0, 1] */
    long asym = 0, out = 0;
    for (uint32_t u = 0; u < 0x7f800000u; u += 4093) {
        float x = from_bits(u);
        asym += mz_tanhf(-x) != -mz_tanhf(x);
        asym += mz_erff(-x) != -mz_erff(x);
        float s1 = mz_sigmoidf(x), s2 = mz_sigmoidf(-x);
        out += !(s1 >= 0.5f && s1 <= 1.0f && s2 >= 0.0f && s2 <= 0.5f);
    }
    CHECK_EQ_INT(asym, 0);
    CHECK_EQ_INT(out, 0);
}

int main(void)
{
    int exhaustive = getenv("MZ_TEST_EXHAUSTIVE") && !strcmp(getenv("MZ_TEST_EXHAUSTIVE"), "1");
    /* worst cases of the exhaustive scan and boundaries (ln FLT_MAX, ln FLT_MIN, the end of the
     * subnormals, sqrt 2 for logf's reduction, the joins of tanhf's and erff's pieces); inputs
     * only, the expected values come from libm */
    static const float exp_x[] = {-0x1.78299p+2f, 0x1.62e42ep+6f, -0x1.5d589ep+6f, -0x1.9fe368p+6f,
                                  0x1p-24f};
    static const float log_x[] = {0x1.00fd16p+0f, 0x1.0fc67ap+0f, 0x1.6a09e6p+0f,
                                  0x1.6a09e8p+0f, 0x1p-149f,      0x1p-126f};
    static const float tanh_x[] = {0x1.1b668p-1f, 0x1.1b974cp-1f, 0x1.19999ap-1f, 0x1.199998p-1f,
                                   9.01f};
    static const float erf_x[] = {0x1.e861fap-2f, 0x1.f4b6bp-1f,  1.0f,
                                  0x1.000002p+0f, 0x1.fffffep+1f, 4.0f};
    static const float sig_x[] = {-0x1.0a2bd8p+4f, -0x1.0a6d7ap+4f, -87.0f, -88.7f, 88.7f};
    static const fn fns[] = {
        {"expf", mz_expf, exp, 2, 1, 0},
        {"logf", mz_logf, log, 2, 0, 0},
        {"tanhf", mz_tanhf, tanh, 2, 1, 0},
        {"erff", mz_erff, erf, 3, 1, 0},
        {"sigmoidf", mz_sigmoidf, sigmoid_ref, 3, 1, 1},
    };
    const float *extra[] = {exp_x, log_x, tanh_x, erf_x, sig_x};
    const int n_extra[] = {5, 6, 5, 6, 5};
    printf("accuracy against double libm%s:\n", exhaustive ? " (exhaustive)" : "");
    for (int i = 0; i < 5; i++)
        test_accuracy(&fns[i], extra[i], n_extra[i], exhaustive);
    test_special();
    return check_summary("test_nn_math");
}
