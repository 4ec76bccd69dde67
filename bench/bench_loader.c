/* bench_loader: how fast a zoo's checkpoints come out of the loader, the data path of
 * `mzoo dataset`, `mzoo bench` and the streaming C API (bench/data_path.sh, docs/PERFORMANCE.md).
 *
 *   bench_loader ZOO.db [OUT_DIR]
 *
 * Times opening the loader with the default options (the selection, which streams every
 * candidate's weights once for the NaN/Inf filter), streaming every sample with mz_loader_next,
 * and, with OUT_DIR, mz_dataset_write into OUT_DIR (created; give it a fresh path on a tmpfs to
 * leave the disk out). Prints each phase's seconds and MB/s of checkpoint bytes. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "mzoo/loader.h"

/* CPU seconds of this process (user + system): on a busy machine, wall time says little. */
static double cpu(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_utime.tv_sec + 1e-6 * (double)u.ru_utime.tv_usec +
           (double)u.ru_stime.tv_sec + 1e-6 * (double)u.ru_stime.tv_usec;
}

/* This process's resident memory in MB: private (RssAnon) and mapped file pages (RssFile; the
 * zoo is memory-mapped, so its pages are the page cache's, shared and dropped under pressure). */
static void rss(double *anon, double *file)
{
    *anon = *file = -1;
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f)) {
        long kb;
        if (sscanf(line, "RssAnon: %ld", &kb) == 1)
            *anon = (double)kb / 1024;
        else if (sscanf(line, "RssFile: %ld", &kb) == 1)
            *file = (double)kb / 1024;
    }
    if (f)
        fclose(f);
}

static double mb(int64_t n, int64_t dim)
{
    return (double)n * (double)dim * 4.0 / 1e6;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: bench_loader ZOO.db [OUT_DIR]\n");
        return 2;
    }
    mz_error err = {0};
    mz_loader *L = NULL;
    double t0 = mz_now(), c0 = cpu();
    if (mz_loader_open(&L, argv[1], NULL, &err) != MZ_OK) {
        fprintf(stderr, "bench_loader: %s\n", err.msg);
        return 1;
    }
    double t_open = mz_now() - t0, c_open = cpu() - c0;
    int64_t n = mz_loader_n_samples(L), dim = mz_loader_layout(L)->dim;
    printf("bench_loader: %lld samples of %lld floats (%.1f MB)\n", (long long)n, (long long)dim,
           mb(n, dim));
    printf("  phase                          wall s     MB/s    CPU s\n");
    printf("  open (selection and filters)  %7.3f  %7.0f  %7.3f\n", t_open, mb(n, dim) / t_open,
           c_open);
    const float *x;
    double sum = 0;
    int64_t got = 0;
    t0 = mz_now(), c0 = cpu();
    for (;;) {
        if (mz_loader_next(L, &x, NULL, &err) != MZ_OK) {
            fprintf(stderr, "bench_loader: %s\n", err.msg);
            return 1;
        }
        if (!x)
            break;
        sum += x[0]; /* touch the sample */
        got++;
    }
    double t_stream = mz_now() - t0, c_stream = cpu() - c0;
    printf("  stream (mz_loader_next)       %7.3f  %7.0f  %7.3f   (sum of first floats %g)\n",
           t_stream, mb(got, dim) / t_stream, c_stream, sum);
    if (argc == 3) {
        mz_loader_rewind(L);
        t0 = mz_now(), c0 = cpu();
        if (mz_dataset_write(L, argv[2], MZ_FMT_NPZ, "bench", &err) != MZ_OK) {
            fprintf(stderr, "bench_loader: %s\n", err.msg);
            return 1;
        }
        double t_write = mz_now() - t0, c_write = cpu() - c0;
        printf("  mz_dataset_write (npz)        %7.3f  %7.0f  %7.3f\n", t_write,
               mb(n, dim) / t_write, c_write);
    }
    double anon, file;
    rss(&anon, &file);
    printf("  resident memory: %.0f MB private, %.0f MB of mapped file pages\n", anon, file);
    mz_loader_close(L);
    return 0;
}
