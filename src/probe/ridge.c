/* Closed-form ridge regression in double, as the reference's benchmark.
 *
 * Why two solvers: the Gram matrix for raw weights is up to ~2500 x 2500 (CNN-s) and is solved for
 * 17 lambdas, which is seconds with OpenBLAS's blocked dsyrk/dpotrf and about a minute with plain
 * loops. The plain Cholesky below is always built: it is the oracle the LAPACK path is tested
 * against, and the fallback when mzoo is built without OpenBLAS.
 *
 * Why Cholesky rather than the reference's LU (torch.linalg.solve): G + lambda I is symmetric
 * positive definite for lambda > 0, Cholesky is backward stable on it with half the work of LU, and
 * the two give the same solution up to rounding (tested against numpy.linalg.solve). Should the
 * factorisation still fail (a pivot <= 0 from rounding in a numerically singular Gram matrix), we
 * fall back to LU with partial pivoting, as the reference.
 *
 * Why the dual form when d+1 > n: with A = [X, 1], (A'A + lI)^-1 A' = A'(AA' + lI)^-1, so
 * b = A' (AA' + l I)^-1 y is the same solution from an n x n system.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mzoo/probe.h"
#include "core/banned.h"

const double mz_ridge_lambdas[MZ_RIDGE_N_LAMBDAS] = {
    1e3, 3e2, 1e2, 3e1, 1e1, 3, 1, 3e-1, 1e-1, 3e-2, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5, 1e-5};

#ifdef MZ_HAVE_OPENBLAS
/* Fortran LAPACK/BLAS entry points of OpenBLAS (LP64), with gfortran's hidden string lengths. */
void dsyrk_(const char *uplo, const char *trans, const int *n, const int *k, const double *alpha,
            const double *a, const int *lda, const double *beta, double *c, const int *ldc,
            size_t l_uplo, size_t l_trans);
void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info, size_t l_uplo);
void dpotrs_(const char *uplo, const int *n, const int *nrhs, const double *a, const int *lda,
             double *b, const int *ldb, int *info, size_t l_uplo);
void dgesv_(const int *n, const int *nrhs, double *a, const int *lda, int *ipiv, double *b,
            const int *ldb, int *info);
void openblas_set_num_threads(int n);
int mz_linalg_have_lapack(void)
{
    return 1;
}
#else
int mz_linalg_have_lapack(void)
{
    return 0;
}
#endif

/* Dot product with four fixed partial sums (deterministic, and fast without -ffast-math). */
static double dot(const double *a, const double *b, int64_t n)
{
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
    }
    for (; i < n; i++)
        s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}

/* ---- reference solver (row-major, full symmetric matrices) ---- */

/* G (m x m, full) = A'A for A n x m (primal) or AA' for A n x m (dual, G is n x n). */
static void ref_gram(const double *A, int64_t n, int64_t m, int dual, double *G)
{
    if (dual) {
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j <= i; j++)
                G[i * n + j] = G[j * n + i] = dot(A + i * m, A + j * m, m);
        return;
    }
    memset(G, 0, (size_t)(m * m) * sizeof *G);
    /* Rank-1 updates of the upper triangle, row by row of A (contiguous inner loop). */
    for (int64_t r = 0; r < n; r++) {
        const double *a = A + r * m;
        for (int64_t j = 0; j < m; j++) {
            double aj = a[j];
            double *g = G + j * m;
            for (int64_t k = j; k < m; k++)
                g[k] += aj * a[k];
        }
    }
    for (int64_t j = 0; j < m; j++)
        for (int64_t k = 0; k < j; k++)
            G[j * m + k] = G[k * m + j];
}

/* In-place Cholesky G = L L' (L in the lower triangle). Returns 0, or -1 on a pivot <= 0. */
static int ref_cholesky(double *G, int64_t m)
{
    for (int64_t j = 0; j < m; j++) {
        double *lj = G + j * m;
        double d = lj[j] - dot(lj, lj, j);
        if (!(d > 0))
            return -1;
        d = sqrt(d);
        lj[j] = d;
        for (int64_t i = j + 1; i < m; i++) {
            double *li = G + i * m;
            li[j] = (li[j] - dot(li, lj, j)) / d;
        }
    }
    return 0;
}

static void ref_cholesky_solve(const double *L, int64_t m, double *b)
{
    for (int64_t i = 0; i < m; i++)
        b[i] = (b[i] - dot(L + i * m, b, i)) / L[i * m + i];
    for (int64_t i = m - 1; i >= 0; i--) {
        double s = b[i];
        for (int64_t k = i + 1; k < m; k++)
            s -= L[k * m + i] * b[k];
        b[i] = s / L[i * m + i];
    }
}

/* LU with partial pivoting, solving M x = b in place (M destroyed). -1 if exactly singular. */
static int ref_lu_solve(double *M, int64_t m, double *b)
{
    for (int64_t k = 0; k < m; k++) {
        int64_t p = k;
        for (int64_t i = k + 1; i < m; i++)
            if (fabs(M[i * m + k]) > fabs(M[p * m + k]))
                p = i;
        if (M[p * m + k] == 0)
            return -1;
        if (p != k) {
            for (int64_t j = 0; j < m; j++) {
                double t = M[k * m + j];
                M[k * m + j] = M[p * m + j];
                M[p * m + j] = t;
            }
            double t = b[k];
            b[k] = b[p];
            b[p] = t;
        }
        double piv = M[k * m + k];
        for (int64_t i = k + 1; i < m; i++) {
            double f = M[i * m + k] / piv;
            if (f == 0)
                continue;
            M[i * m + k] = f;
            double *ri = M + i * m, *rk = M + k * m;
            for (int64_t j = k + 1; j < m; j++)
                ri[j] -= f * rk[j];
            b[i] -= f * b[k];
        }
    }
    for (int64_t i = m - 1; i >= 0; i--) {
        double s = b[i];
        for (int64_t j = i + 1; j < m; j++)
            s -= M[i * m + j] * b[j];
        b[i] = s / M[i * m + i];
    }
    return 0;
}

/* Solves (G + lambda I) x_t = rhs_t for a full symmetric G (m x m) and nt right-hand sides
 * (stored one after the other); work has m*m doubles. */
static int ref_solve(const double *G, int64_t m, double lambda, const double *rhs, int nt,
                     double *x, double *work)
{
    memcpy(work, G, (size_t)(m * m) * sizeof *work);
    for (int64_t i = 0; i < m; i++)
        work[i * m + i] += lambda;
    memcpy(x, rhs, (size_t)(m * nt) * sizeof *x);
    if (ref_cholesky(work, m) == 0) {
        for (int t = 0; t < nt; t++)
            ref_cholesky_solve(work, m, x + (int64_t)t * m);
        return 0;
    }
    for (int t = 0; t < nt; t++) {
        memcpy(work, G, (size_t)(m * m) * sizeof *work);
        for (int64_t i = 0; i < m; i++)
            work[i * m + i] += lambda;
        if (ref_lu_solve(work, m, x + (int64_t)t * m) != 0)
            return -1;
    }
    return 0;
}

#ifdef MZ_HAVE_OPENBLAS
/* The Gram matrix through dsyrk. Row-major A (n x m) is column-major A' (m x n, lda m). The result
 * is stored in column-major upper triangle and then mirrored, so G is full and symmetric. */
static void lapack_gram(const double *A, int64_t n, int64_t m, int dual, double *G)
{
    int N = (int)(dual ? n : m), K = (int)(dual ? m : n), lda = (int)m;
    double one = 1, zero = 0;
    dsyrk_("U", dual ? "T" : "N", &N, &K, &one, A, &lda, &zero, G, &N, 1, 1);
    for (int64_t j = 0; j < N; j++)
        for (int64_t i = 0; i < j; i++)
            G[i * N + j] = G[j * N + i]; /* column-major (i,j) upper -> mirror */
}

static int lapack_solve(const double *G, int64_t m, double lambda, const double *rhs, int nt,
                        double *x, double *work)
{
    int M = (int)m, NRHS = nt, info = 0;
    memcpy(work, G, (size_t)(m * m) * sizeof *work);
    for (int64_t i = 0; i < m; i++)
        work[i * m + i] += lambda;
    memcpy(x, rhs, (size_t)(m * nt) * sizeof *x);
    dpotrf_("U", &M, work, &M, &info, 1);
    if (info == 0) {
        /* x is column-major m x nt with ldb m: exactly our target-major layout */
        dpotrs_("U", &M, &NRHS, work, &M, x, &M, &info, 1);
        if (info == 0)
            return 0;
    }
    int *ipiv = malloc((size_t)m * sizeof *ipiv);
    if (!ipiv)
        return -2;
    memcpy(work, G, (size_t)(m * m) * sizeof *work);
    for (int64_t i = 0; i < m; i++)
        work[i * m + i] += lambda;
    memcpy(x, rhs, (size_t)(m * nt) * sizeof *x);
    dgesv_(&M, &NRHS, work, &M, ipiv, x, &M, &info);
    free(ipiv);
    return info == 0 ? 0 : -1;
}
#endif

mz_status mz_ridge_path(const double *X, int64_t n, int64_t d, const double *y,
                        const double *lambdas, int nl, mz_linalg backend, int threads,
                        double *coefs, mz_error *err)
{
    return mz_ridge_path_multi(X, n, d, y, 1, lambdas, nl, backend, threads, coefs, err);
}

mz_status mz_ridge_path_multi(const double *X, int64_t n, int64_t d, const double *Y, int nt,
                              const double *lambdas, int nl, mz_linalg backend, int threads,
                              double *coefs, mz_error *err)
{
    if (n < 1 || d < 0 || nl < 1 || nt < 1)
        return mz_fail(err, MZ_EINVAL, "ridge: need n >= 1 samples and a lambda (n=%lld, d=%lld)",
                       (long long)n, (long long)d);
    for (int k = 0; k < nl; k++)
        if (!(lambdas[k] > 0))
            return mz_fail(err, MZ_EINVAL, "ridge: lambda[%d] = %g (expected > 0)", k, lambdas[k]);
    int use_lapack =
        backend == MZ_LINALG_LAPACK || (backend == MZ_LINALG_AUTO && mz_linalg_have_lapack());
    if (use_lapack && !mz_linalg_have_lapack())
        return mz_fail(err, MZ_EUNSUPPORTED,
                       "ridge: this build has no LAPACK (OpenBLAS not found at build time)");
    int64_t m = d + 1;
    int dual = m > n;
    int64_t g = dual ? n : m; /* order of the system */
    if (g > 46340 || (use_lapack && (n > INT32_MAX / (m > 0 ? m : 1))))
        return mz_fail(err, MZ_ELIMIT, "ridge: system of order %lld is too large", (long long)g);
    double *A = malloc((size_t)(n * m) * sizeof *A);
    double *G = malloc((size_t)(g * g) * sizeof *G);
    double *W = malloc((size_t)(g * g) * sizeof *W);
    double *rhs = malloc((size_t)(g * nt) * sizeof *rhs),
           *sol = malloc((size_t)(g * nt) * sizeof *sol);
    mz_status st = MZ_OK;
    if (!A || !G || !W || !rhs || !sol) {
        st = mz_fail(err, MZ_ENOMEM, "ridge: out of memory for a %lld x %lld system", (long long)g,
                     (long long)g);
        goto done;
    }
    for (int64_t i = 0; i < n; i++) {
        memcpy(A + i * m, X + i * d, (size_t)d * sizeof *A);
        A[i * m + d] = 1.0;
    }
#ifdef MZ_HAVE_OPENBLAS
    if (use_lapack) {
        openblas_set_num_threads(threads > 0 ? threads : 1);
        lapack_gram(A, n, m, dual, G);
    } else
#endif
        ref_gram(A, n, m, dual, G);
    /* right-hand sides, one column per target, stored target-major: rhs[t*g + i] */
    for (int t = 0; t < nt; t++) {
        const double *y = Y + (int64_t)t * n;
        double *r = rhs + (int64_t)t * g;
        if (dual) {
            memcpy(r, y, (size_t)n * sizeof *r);
        } else {
            for (int64_t j = 0; j < m; j++)
                r[j] = 0;
            for (int64_t i = 0; i < n; i++)
                for (int64_t j = 0; j < m; j++)
                    r[j] += A[i * m + j] * y[i];
        }
    }
    for (int k = 0; k < nl; k++) {
        int rc;
#ifdef MZ_HAVE_OPENBLAS
        if (use_lapack)
            rc = lapack_solve(G, g, lambdas[k], rhs, nt, sol, W);
        else
#endif
            rc = ref_solve(G, g, lambdas[k], rhs, nt, sol, W);
        if (rc == -2) {
            st = mz_fail(err, MZ_ENOMEM, "ridge: out of memory");
            goto done;
        }
        if (rc != 0) {
            st = mz_fail(err, MZ_EINVAL, "ridge: the system for lambda %g is singular", lambdas[k]);
            goto done;
        }
        for (int t = 0; t < nt; t++) {
            double *b = coefs + ((int64_t)t * nl + k) * m;
            const double *x = sol + (int64_t)t * g;
            if (dual) {
                for (int64_t j = 0; j < m; j++)
                    b[j] = 0;
                for (int64_t i = 0; i < n; i++)
                    for (int64_t j = 0; j < m; j++)
                        b[j] += A[i * m + j] * x[i];
            } else {
                memcpy(b, x, (size_t)m * sizeof *b);
            }
        }
    }
done:
    free(A);
    free(G);
    free(W);
    free(rhs);
    free(sol);
    return st;
}

void mz_ridge_predict(const double *X, int64_t n, int64_t d, const double *coef, double *out)
{
    for (int64_t i = 0; i < n; i++)
        out[i] = dot(X + i * d, coef, d) + coef[d];
}

int mz_ridge_choose(const double *coefs, const double *Xtr, int64_t ntr, const double *ytr,
                    const double *Xva, int64_t nva, const double *yva, int64_t d, double *pred)
{
    int64_t m = d + 1;
    int best = -1;
    for (int pass = 0; pass < 2 && best < 0; pass++) {
        /* pass 0: validation R^2; pass 1 (no validation, or all NaN): train R^2 */
        const double *X = pass == 0 ? Xva : Xtr, *y = pass == 0 ? yva : ytr;
        int64_t n = pass == 0 ? nva : ntr;
        if (n <= 0)
            continue;
        double best_r2 = 0;
        for (int k = 0; k < MZ_RIDGE_N_LAMBDAS; k++) {
            mz_ridge_predict(X, n, d, coefs + k * m, pred);
            double r2 = mz_r2(y, pred, n);
            if (!isnan(r2) && (best < 0 || r2 > best_r2)) {
                best = k;
                best_r2 = r2;
            }
        }
    }
    return best < 0 ? 0 : best;
}

mz_status mz_ridge_select(const double *Xtr, int64_t ntr, const double *ytr, const double *Xva,
                          int64_t nva, const double *yva, int64_t d, mz_linalg backend, int threads,
                          double *coef, int *best_k, mz_error *err)
{
    int64_t m = d + 1;
    int64_t nmax = ntr > nva ? ntr : nva;
    double *coefs = malloc((size_t)(MZ_RIDGE_N_LAMBDAS * m) * sizeof *coefs);
    double *pred = malloc((size_t)(nmax > 0 ? nmax : 1) * sizeof *pred);
    if (!coefs || !pred) {
        free(coefs);
        free(pred);
        return mz_fail(err, MZ_ENOMEM, "ridge: out of memory");
    }
    mz_status st = mz_ridge_path(Xtr, ntr, d, ytr, mz_ridge_lambdas, MZ_RIDGE_N_LAMBDAS, backend,
                                 threads, coefs, err);
    if (st == MZ_OK) {
        int best = mz_ridge_choose(coefs, Xtr, ntr, ytr, Xva, nva, yva, d, pred);
        memcpy(coef, coefs + best * m, (size_t)m * sizeof *coef);
        if (best_k)
            *best_k = best;
    }
    free(coefs);
    free(pred);
    return st;
}
