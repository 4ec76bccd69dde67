/* The report's text buffer and statistics: quantiles, box plots, PCA. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mzoo/probe.h"
#include "report/report-impl.h"
#include "core/banned.h"

/* ---- buffer ---- */

void rp_buf_init(rp_buf *b, size_t limit)
{
    memset(b, 0, sizeof *b);
    b->limit = limit;
}

void rp_buf_release(rp_buf *b)
{
    free(b->s);
    memset(b, 0, sizeof *b);
}

void rp_buf_add(rp_buf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 65536;
        while (cap < b->n + n + 1)
            cap *= 2;
        if (cap > b->limit && b->n + n + 1 <= b->limit)
            cap = b->limit;
        char *p = cap <= b->limit ? realloc(b->s, cap) : NULL;
        if (!p) {
            b->failed = 1;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}

void rp_buf_puts(rp_buf *b, const char *s)
{
    rp_buf_add(b, s, strlen(s));
}

void rp_buf_printf(rp_buf *b, const char *fmt, ...)
{
    char small[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return;
    }
    if ((size_t)n < sizeof small) {
        rp_buf_add(b, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        b->failed = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    rp_buf_add(b, big, (size_t)n);
    free(big);
}

void rp_buf_html(rp_buf *b, const char *s)
{
    for (const char *p = s ? s : ""; *p;) {
        size_t run = strcspn(p, "&<>\"'");
        rp_buf_add(b, p, run);
        p += run;
        if (!*p)
            break;
        switch (*p++) {
        case '&':
            rp_buf_puts(b, "&amp;");
            break;
        case '<':
            rp_buf_puts(b, "&lt;");
            break;
        case '>':
            rp_buf_puts(b, "&gt;");
            break;
        case '"':
            rp_buf_puts(b, "&quot;");
            break;
        default:
            rp_buf_puts(b, "&#39;");
            break;
        }
    }
}

/* ---- quantiles and boxes ---- */

int rp_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

void rp_quantiles(double *v, int64_t n, const double *q, int nq, double *out)
{
    qsort(v, (size_t)n, sizeof *v, rp_cmp_double);
    for (int k = 0; k < nq; k++)
        out[k] = mz_percentile_sorted(v, n, 100.0 * q[k]);
}

void rp_box_stats(double *v, int64_t n, rp_box *b)
{
    memset(b, 0, sizeof *b);
    b->n = n;
    if (n == 0) {
        b->q1 = b->med = b->q3 = b->lo = b->hi = b->min = b->max = b->mean = NAN;
        return;
    }
    qsort(v, (size_t)n, sizeof *v, rp_cmp_double);
    b->q1 = mz_percentile_sorted(v, n, 25);
    b->med = mz_percentile_sorted(v, n, 50);
    b->q3 = mz_percentile_sorted(v, n, 75);
    double iqr = b->q3 - b->q1, sum = 0;
    b->lo = b->q1, b->hi = b->q3;
    for (int64_t i = 0; i < n; i++) {
        sum += v[i];
        if (v[i] >= b->q1 - 1.5 * iqr && v[i] < b->lo)
            b->lo = v[i];
        if (v[i] <= b->q3 + 1.5 * iqr && v[i] > b->hi)
            b->hi = v[i];
        if (v[i] < b->q1 - 1.5 * iqr || v[i] > b->q3 + 1.5 * iqr)
            b->n_out++;
    }
    b->min = v[0];
    b->max = v[n - 1];
    b->mean = sum / (double)n;
}

/* ---- PCA ---- */

/* Eigen-decomposition of the symmetric k x k matrix A (destroyed) by cyclic Jacobi rotations:
 * eigenvalues in w, eigenvectors in the columns of V, sorted by decreasing eigenvalue. */
static void jacobi_eigen(double *A, int k, double *w, double *V)
{
    for (int i = 0; i < k; i++)
        for (int j = 0; j < k; j++)
            V[i * k + j] = i == j;
    for (int sweep = 0; sweep < 100; sweep++) {
        double off = 0, diag = 0;
        for (int i = 0; i < k; i++)
            for (int j = 0; j < k; j++)
                if (i != j)
                    off += A[i * k + j] * A[i * k + j];
                else
                    diag += A[i * k + i] * A[i * k + i];
        if (off <= 1e-30 * diag || off == 0)
            break;
        for (int p = 0; p < k; p++)
            for (int q = p + 1; q < k; q++) {
                double apq = A[p * k + q];
                if (fabs(apq) < 1e-300)
                    continue;
                double theta = (A[q * k + q] - A[p * k + p]) / (2 * apq);
                double t = (theta >= 0 ? 1 : -1) / (fabs(theta) + sqrt(theta * theta + 1));
                double c = 1 / sqrt(t * t + 1), s = t * c;
                for (int r = 0; r < k; r++) { /* A = J^T A J */
                    double arp = A[r * k + p], arq = A[r * k + q];
                    A[r * k + p] = c * arp - s * arq;
                    A[r * k + q] = s * arp + c * arq;
                }
                for (int r = 0; r < k; r++) {
                    double apr = A[p * k + r], aqr = A[q * k + r];
                    A[p * k + r] = c * apr - s * aqr;
                    A[q * k + r] = s * apr + c * aqr;
                }
                for (int r = 0; r < k; r++) {
                    double vrp = V[r * k + p], vrq = V[r * k + q];
                    V[r * k + p] = c * vrp - s * vrq;
                    V[r * k + q] = s * vrp + c * vrq;
                }
            }
    }
    int order[16];
    for (int i = 0; i < k; i++)
        order[i] = i;
    for (int i = 0; i < k; i++) /* selection sort by decreasing eigenvalue */
        for (int j = i + 1; j < k; j++)
            if (A[order[j] * k + order[j]] > A[order[i] * k + order[i]]) {
                int t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
    double Vs[256];
    for (int i = 0; i < k; i++) {
        w[i] = A[order[i] * k + order[i]];
        for (int r = 0; r < k; r++)
            Vs[r * k + i] = V[r * k + order[i]];
    }
    memcpy(V, Vs, sizeof(double) * (size_t)(k * k));
}

/* Orthonormalises the k vectors Q[j][0..d-1] (modified Gram-Schmidt, twice). */
static void orthonormalise(double *Q, int64_t d, int k)
{
    for (int pass = 0; pass < 2; pass++)
        for (int j = 0; j < k; j++) {
            double *qj = Q + (size_t)j * (size_t)d;
            for (int i = 0; i < j; i++) {
                const double *qi = Q + (size_t)i * (size_t)d;
                double dot = 0;
                for (int64_t r = 0; r < d; r++)
                    dot += qi[r] * qj[r];
                for (int64_t r = 0; r < d; r++)
                    qj[r] -= dot * qi[r];
            }
            double nrm = 0;
            for (int64_t r = 0; r < d; r++)
                nrm += qj[r] * qj[r];
            nrm = sqrt(nrm);
            for (int64_t r = 0; r < d; r++)
                qj[r] = nrm > 0 ? qj[r] / nrm : (r == j);
        }
}

/* a . b over n doubles, in 8 interleaved partial sums (which the compiler can keep in one vector
 * register without reassociating anything itself). */
static double dot8(const double *a, const double *b, int64_t n)
{
    double acc[8] = {0};
    int64_t r = 0;
    for (; r + 8 <= n; r += 8)
        for (int u = 0; u < 8; u++)
            acc[u] += a[r + u] * b[r + u];
    for (; r < n; r++)
        acc[0] += a[r] * b[r];
    return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

/* Y [n][k] = Xc Q^T, Xc [n][d] centred, Q [k][d] */
static void times_q(const double *Xc, int64_t n, int64_t d, const double *Q, int k, double *Y)
{
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < k; j++)
            Y[i * k + j] = dot8(Xc + (size_t)i * (size_t)d, Q + (size_t)j * (size_t)d, d);
}

/* Z [k][d] = (Xc^T Y)^T */
static void times_xt(const double *Xc, int64_t n, int64_t d, const double *Y, int k, double *Z)
{
    memset(Z, 0, sizeof(double) * (size_t)(d * k));
    for (int64_t i = 0; i < n; i++) {
        const double *x = Xc + (size_t)i * (size_t)d;
        for (int j = 0; j < k; j++) {
            double y = Y[i * k + j];
            double *z = Z + (size_t)j * (size_t)d;
            for (int64_t r = 0; r < d; r++)
                z[r] += y * x[r];
        }
    }
}

mz_status rp_pca(const float *X, int64_t n, int64_t d, int kout, uint64_t seed, double *mean,
                 double *comp, double *var, double *total_var, mz_error *err)
{
    for (int64_t r = 0; r < d; r++)
        mean[r] = 0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t r = 0; r < d; r++)
            mean[r] += X[i * d + r];
    for (int64_t r = 0; r < d; r++)
        mean[r] /= n > 0 ? (double)n : 1;
    double tot = 0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t r = 0; r < d; r++) {
            double v = X[i * d + r] - mean[r];
            tot += v * v;
        }
    *total_var = n > 1 ? tot / (double)(n - 1) : 0;
    for (int j = 0; j < kout; j++) {
        var[j] = 0;
        for (int64_t r = 0; r < d; r++)
            comp[j * d + r] = 0;
    }
    if (n < 2 || d < 1)
        return MZ_OK;
    int k = 8;
    if (k > d)
        k = (int)d;
    if (k > n)
        k = (int)n;
    if (kout > k)
        kout = k;
    double *Xc = malloc(sizeof(double) * (size_t)(n * d)),
           *Q = malloc(sizeof(double) * (size_t)(d * k)),
           *Z = malloc(sizeof(double) * (size_t)(d * k)),
           *Y = malloc(sizeof(double) * (size_t)(n * k));
    float *g = malloc(sizeof(float) * (size_t)(d * k));
    if (!Xc || !Q || !Z || !Y || !g) {
        free(Xc), free(Q), free(Z), free(Y), free(g);
        return mz_fail(err, MZ_ENOMEM, "PCA: out of memory (%lld x %lld)", (long long)n,
                       (long long)d);
    }
    for (int64_t i = 0; i < n; i++)
        for (int64_t r = 0; r < d; r++)
            Xc[i * d + r] = (double)X[i * d + r] - mean[r];
    mz_rng_stream rs = mz_rng_make(seed, MZ_RNG_USER, 1, 0, 0);
    mz_rng_normal(&rs, g, (size_t)(d * k));
    for (int64_t i = 0; i < d * k; i++)
        Q[i] = g[i];
    free(g);
    orthonormalise(Q, d, k);
    double B[256], V[256], w[16], prev[2] = {0, 0};
    int stable = 0;
    for (int it = 0; it < 1000; it++) {
        times_q(Xc, n, d, Q, k, Y);
        /* Rayleigh-Ritz: B = Y^T Y = Q C Q^T ((n-1) times the covariance's) */
        for (int a = 0; a < k; a++)
            for (int c = 0; c < k; c++) {
                double s = 0;
                for (int64_t i = 0; i < n; i++)
                    s += Y[i * k + a] * Y[i * k + c];
                B[a * k + c] = s;
            }
        jacobi_eigen(B, k, w, V);
        /* rotate Q onto the Ritz vectors: Q <- V^T Q */
        for (int c = 0; c < k; c++)
            for (int64_t r = 0; r < d; r++) {
                double s = 0;
                for (int a = 0; a < k; a++)
                    s += V[a * k + c] * Q[(size_t)a * (size_t)d + r];
                Z[(size_t)c * (size_t)d + r] = s;
            }
        memcpy(Q, Z, sizeof(double) * (size_t)(d * k));
        double ch = fabs(w[0] - prev[0]) + (k > 1 ? fabs(w[1] - prev[1]) : 0);
        stable = ch <= 1e-13 * (fabs(w[0]) + 1e-300) ? stable + 1 : 0;
        prev[0] = w[0];
        prev[1] = k > 1 ? w[1] : 0;
        if (stable >= 2)
            break;
        /* one step of the power iteration on the rotated block (Y rotated alike) */
        for (int64_t i = 0; i < n; i++) {
            double row[16];
            for (int c = 0; c < k; c++) {
                double s = 0;
                for (int a = 0; a < k; a++)
                    s += Y[i * k + a] * V[a * k + c];
                row[c] = s;
            }
            memcpy(Y + i * k, row, sizeof(double) * (size_t)k);
        }
        times_xt(Xc, n, d, Y, k, Q);
        orthonormalise(Q, d, k);
    }
    for (int j = 0; j < kout; j++) {
        const double *q = Q + (size_t)j * (size_t)d;
        var[j] = w[j] / (double)(n - 1);
        int64_t big = 0;
        for (int64_t r = 0; r < d; r++)
            if (fabs(q[r]) > fabs(q[big]))
                big = r;
        double sgn = q[big] < 0 ? -1 : 1;
        for (int64_t r = 0; r < d; r++)
            comp[j * d + r] = sgn * q[r];
    }
    free(Xc);
    free(Q), free(Z), free(Y);
    return MZ_OK;
}
