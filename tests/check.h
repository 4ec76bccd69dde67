/* Minimal test helpers: CHECK prints file:line and the values that differ, and counts failures.
 * A test program ends with `return check_summary("name");`, which prints "N passed, N failed". */
#ifndef MZ_TESTS_CHECK_H
#define MZ_TESTS_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_passed_, check_failed_;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (cond) {                                                                  \
            check_passed_++;                                                         \
        } else {                                                                     \
            check_failed_++;                                                         \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                            \
    } while (0)

#define CHECK_MSG(cond, ...)                                                         \
    do {                                                                             \
        if (cond) {                                                                  \
            check_passed_++;                                                         \
        } else {                                                                     \
            check_failed_++;                                                         \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                            \
            fputc('\n', stderr);                                                     \
        }                                                                            \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                     \
    do {                                                                                       \
        long long a_ = (long long)(a), b_ = (long long)(b);                                    \
        CHECK_MSG(a_ == b_, "%s = %lld, %s = %lld", #a, a_, #b, b_);                           \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                                  \
    do {                                                                                       \
        double a_ = (double)(a), b_ = (double)(b), t_ = (double)(tol);                         \
        CHECK_MSG(fabs(a_ - b_) <= t_, "%s = %.9g, %s = %.9g (tol %g)", #a, a_, #b, b_, t_);   \
    } while (0)

#define CHECK_OK(expr, errp)                                                                   \
    do {                                                                                       \
        int st_ = (int)(expr);                                                                 \
        CHECK_MSG(st_ == 0, "%s returned %d: %s", #expr, st_, (errp)->msg);                    \
    } while (0)

/* Relative/absolute closeness of arrays; reports the worst element. */
static inline int check_close_arrays_(const char *file, int line, const char *what, const float *a,
                                      const float *b, long n, double rtol, double atol)
{
    long worst = -1;
    double worst_excess = 0;
    for (long i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        double lim = atol + rtol * fabs((double)b[i]);
        if (!(d <= lim) && (worst < 0 || d - lim > worst_excess)) {
            worst = i;
            worst_excess = d - lim;
        }
    }
    if (worst >= 0) {
        check_failed_++;
        fprintf(stderr, "%s:%d: %s: element %ld: %.9g vs expected %.9g (rtol %g atol %g)\n", file,
                line, what, worst, (double)a[worst], (double)b[worst], rtol, atol);
        return 0;
    }
    check_passed_++;
    return 1;
}
#define CHECK_CLOSE(what, a, b, n, rtol, atol) \
    check_close_arrays_(__FILE__, __LINE__, what, a, b, (long)(n), rtol, atol)

static inline int check_summary(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, check_passed_, check_failed_);
    return check_failed_ ? 1 : 0;
}

#endif
