/* sgemm_peak: the machine's practical float32 matrix-multiply peak, measured with OpenBLAS.
 *
 * The training-speed benchmark (bench/README.md) reports each engine's GFLOP/s as a fraction of
 * this figure. Each worker process runs single-threaded cblas_sgemm on square n x n matrices
 * (C = A*B, 2*n^3 FLOP per call) for a fixed wall time; with --procs N, N workers are forked
 * before any BLAS call and released together through a pipe barrier, so the figure is the peak
 * with every core busy, as in the benchmark proper.
 *
 * Usage: sgemm_peak [--procs N] [--size n] [--seconds S]
 * Prints one JSON line: per-process GFLOP/s, their sum, and OpenBLAS's core name (set
 * OPENBLAS_CORETYPE, e.g. SkylakeX, when OpenBLAS does not recognise the CPU).
 */
#define _GNU_SOURCE /* fork, pipe, waitpid; cblas.h wants cpu_set_t */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cblas.h>

#include "core/banned.h"

#define MAX_PROCS 256

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int parse_double(const char *s, double lo, double hi, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v >= lo && v <= hi))
        return -1;
    *out = v;
    return 0;
}

/* One worker: returns GFLOP/s, or a negative value on allocation failure. */
static double run_worker(int n, double seconds)
{
    size_t nn = (size_t)n * (size_t)n;
    float *a = malloc(nn * sizeof *a);
    float *b = malloc(nn * sizeof *b);
    float *c = malloc(nn * sizeof *c);
    if (a == NULL || b == NULL || c == NULL) {
        free(a);
        free(b);
        free(c);
        return -1.0;
    }
    /* Values do not affect timing; keep them small and normal (no denormals, no overflow). */
    for (size_t i = 0; i < nn; i++) {
        a[i] = (float)((i * 7u) % 13u) * 0.01f - 0.06f;
        b[i] = (float)((i * 11u) % 17u) * 0.01f - 0.08f;
        c[i] = 0.0f;
    }
    openblas_set_num_threads(1);
    /* warm-up: page in the buffers, let OpenBLAS allocate its packing memory */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
    long calls = 0;
    double t0 = now_s(), t1 = t0;
    while (calls < 3 || t1 - t0 < seconds) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c,
                    n);
        calls++;
        t1 = now_s();
    }
    double flops = 2.0 * (double)n * (double)n * (double)n * (double)calls;
    volatile float sink = c[nn / 2]; /* keep the result observable */
    (void)sink;
    free(a);
    free(b);
    free(c);
    return flops / (t1 - t0) / 1e9;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: sgemm_peak [--procs N] [--size n] [--seconds S]\n"
               "  --procs N    concurrent single-threaded worker processes (default 1)\n"
               "  --size n     square matrix size (default 1024)\n"
               "  --seconds S  timed wall time per worker (default 2)\n");
}

int main(int argc, char **argv)
{
    long procs = 1, n = 1024;
    double seconds = 2.0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(arg, "--procs") == 0 && val != NULL) {
            bad = parse_long(val, 1, MAX_PROCS, &procs);
            i++;
        } else if (strcmp(arg, "--size") == 0 && val != NULL) {
            bad = parse_long(val, 16, 16384, &n);
            i++;
        } else if (strcmp(arg, "--seconds") == 0 && val != NULL) {
            bad = parse_double(val, 0.01, 3600.0, &seconds);
            i++;
        } else {
            bad = -1;
        }
        if (bad) {
            fprintf(stderr, "sgemm_peak: bad argument '%s'%s%s\n", arg, val ? " " : "",
                    val ? val : "");
            usage(stderr);
            return 2;
        }
    }

    /* result[k] travels back from worker k through its own pipe as text */
    int result_fd[MAX_PROCS];
    pid_t pid[MAX_PROCS];
    int ready[2], go[2];
    if (pipe(ready) != 0 || pipe(go) != 0) {
        perror("sgemm_peak: pipe");
        return 1;
    }
    for (long k = 0; k < procs; k++) {
        int res[2];
        if (pipe(res) != 0) {
            perror("sgemm_peak: pipe");
            return 1;
        }
        pid[k] = fork();
        if (pid[k] < 0) {
            perror("sgemm_peak: fork");
            return 1;
        }
        if (pid[k] == 0) {
            close(res[0]);
            close(ready[0]);
            close(go[1]);
            char byte = 'r', dummy;
            if (write(ready[1], &byte, 1) != 1)
                _exit(1);
            /* barrier: the parent closes its end of `go` once every worker is ready */
            while (read(go[0], &dummy, 1) > 0) {
            }
            double g = run_worker((int)n, seconds);
            char line[64];
            int len = snprintf(line, sizeof line, "%.6f\n", g);
            if (write(res[1], line, (size_t)len) != len)
                _exit(1);
            _exit(g < 0 ? 1 : 0);
        }
        close(res[1]);
        result_fd[k] = res[0];
    }
    close(ready[1]);
    close(go[0]);
    for (long k = 0; k < procs; k++) {
        char byte;
        if (read(ready[0], &byte, 1) != 1) {
            fprintf(stderr, "sgemm_peak: a worker died before starting\n");
            return 1;
        }
    }
    close(go[1]); /* release all workers at once */

    double gflops[MAX_PROCS], total = 0.0, lo = 0.0;
    int failed = 0;
    for (long k = 0; k < procs; k++) {
        char line[64] = {0};
        ssize_t got = read(result_fd[k], line, sizeof line - 1);
        close(result_fd[k]);
        int status = 0;
        waitpid(pid[k], &status, 0);
        gflops[k] = got > 0 ? strtod(line, NULL) : -1.0;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || gflops[k] <= 0.0) {
            fprintf(stderr, "sgemm_peak: worker %ld failed\n", k);
            failed = 1;
            continue;
        }
        total += gflops[k];
        if (k == 0 || gflops[k] < lo)
            lo = gflops[k];
    }
    if (failed)
        return 1;

    const char *coretype = getenv("OPENBLAS_CORETYPE");
    const char *corename = openblas_get_corename();
    const char *config = openblas_get_config();
    printf("{\"bench\": \"sgemm_peak\", \"procs\": %ld, \"size\": %ld, \"seconds\": %.3f, "
           "\"gflops_per_proc\": [",
           procs, n, seconds);
    for (long k = 0; k < procs; k++)
        printf("%s%.3f", k ? ", " : "", gflops[k]);
    printf("], \"gflops_total\": %.3f, \"gflops_min_proc\": %.3f, \"openblas_corename\": \"%s\", "
           "\"openblas_config\": \"%s\", \"OPENBLAS_CORETYPE\": \"%s\"}\n",
           total, lo, corename ? corename : "", config ? config : "", coretype ? coretype : "");
    return 0;
}
