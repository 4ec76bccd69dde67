/* bench_eval: evaluation throughput of the population engine (mz_pop_eval), the per-epoch
 * train/val/test evaluation of every model and what mzoo eval, sparsify and report run.
 *
 * usage: bench_eval [--arch cnn-s|cnn-l] [--acts tanh,relu,...] [--models 1,8,16] [--images N]
 *                   [--reps N] [--backend simd|ref] [--data DIR]
 *
 * One thread. For each activation and number of models, a pop of that many models (kaiming
 * uniform, seeds 1..) evaluates the first N test images of Fashion-MNIST (cnn-s; random bytes if
 * the dataset is not found, and always for cnn-l) reps times; the best pass is reported as one
 * JSON line: model_images_per_s = models x images / seconds (CPU seconds of the process; wall
 * seconds in "wall"), i.e. the images per second one model is evaluated at when the pop's work
 * is shared out. Right before each timing, the FMA peak of
 * this thread is measured (24 independent vector FMA chains), so that gflops / peak_gflops is
 * the fraction of peak whatever else the machine is running. bench/eval_speed.py runs this next
 * to PyTorch. Uses only the public API (and the vector helpers of nn/simd-impl.h), so it builds
 * against older versions of the library too. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mzoo/data.h"
#include "mzoo/nn.h"
#include "mzoo/pop.h"
#include "nn/simd-impl.h"

/* CPU time of this (single-threaded) process: on a machine shared with other jobs, the time
 * the thread was descheduled is not counted, so rates measured now and then compare */
static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double wall(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* GFLOP/s of 24 independent chains of vector FMAs (2 flops per lane), best of 3 x ~50 ms */
static double fma_peak(void)
{
    v16f acc[24], m = vf(0.999f), c = vf(1e-4f);
    for (int i = 0; i < 24; i++)
        acc[i] = vf((float)i * 1e-3f);
    double best = 0;
    for (int rep = 0; rep < 3; rep++) {
        const long n = 1000000;
        double t0 = now();
        for (long k = 0; k < n; k++)
            _Pragma("GCC unroll 24") for (int i = 0; i < 24; i++) acc[i] = vfma(acc[i], m, c);
        double g = (double)n * 24 * 2 * MZ_LANES / (now() - t0) / 1e9;
        best = g > best ? g : best;
    }
    float sum = 0;
    for (int i = 0; i < 24; i++)
        sum += acc[i][0];
    if (sum == 12345.0f) /* keeps the chains alive */
        fprintf(stderr, "!");
    return best;
}

/* Multiply-adds x 2 of one image's eval forward (conv and linear layers) */
static double flops_per_image(const mz_arch *a)
{
    double f = 0;
    for (int i = 0; i < a->n_layers; i++) {
        const mz_layer *l = &a->layers[i];
        if (l->kind == MZ_LAYER_CONV)
            f += 2.0 * (double)l->out_size * l->in_c * l->k * l->k;
        else if (l->kind == MZ_LAYER_LINEAR)
            f += 2.0 * (double)l->out_size * l->in_c;
    }
    return f;
}

static int parse_list(const char *s, int *out, int cap)
{
    int n = 0;
    while (*s && n < cap) {
        char *end;
        out[n++] = (int)strtol(s, &end, 10);
        s = *end == ',' ? end + 1 : end;
        if (end == s && *s != ',')
            break;
    }
    return n;
}

int main(int argc, char **argv)
{
    const char *arch_name = "cnn-s", *acts = "tanh,relu,gelu", *backend = "simd", *dir = NULL;
    int models[16] = {1, 8, 16}, n_models = 3, reps = 3;
    int64_t n_images = 10000;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "bench_eval: %s needs a value\n", a);
            return 2;
        }
        if (!strcmp(a, "--arch"))
            arch_name = v;
        else if (!strcmp(a, "--acts"))
            acts = v;
        else if (!strcmp(a, "--models"))
            n_models = parse_list(v, models, 16);
        else if (!strcmp(a, "--images"))
            n_images = strtoll(v, NULL, 10);
        else if (!strcmp(a, "--reps"))
            reps = (int)strtol(v, NULL, 10);
        else if (!strcmp(a, "--backend"))
            backend = v;
        else if (!strcmp(a, "--data"))
            dir = v;
        else {
            fprintf(stderr, "bench_eval: unknown option %s\n", a);
            return 2;
        }
        i++;
    }
    int cnnl = !strcmp(arch_name, "cnn-l"), c = cnnl ? 3 : 1, hw = cnnl ? 32 : 28;
    mz_arch arch;
    mz_error err = {0};
    if (mz_arch_init(&arch, arch_name, c, hw, hw, 0.0, &err) != MZ_OK) {
        fprintf(stderr, "bench_eval: %s\n", err.msg);
        return 1;
    }
    const mz_pop_backend *be = mz_pop_backend_by_name(backend);
    if (!be) {
        fprintf(stderr, "bench_eval: unknown backend %s\n", backend);
        return 2;
    }
    /* images: Fashion-MNIST's test split, or random bytes */
    mz_dataset ds;
    memset(&ds, 0, sizeof ds);
    int have_ds = !cnnl && mz_dataset_load(&ds, "fashion-mnist", dir, NULL, &err) == MZ_OK;
    int64_t chw = (int64_t)c * hw * hw;
    uint8_t *x = NULL;
    int32_t *y = NULL;
    float lut[3][256];
    if (have_ds && ds.test.n < n_images)
        n_images = ds.test.n;
    if (have_ds) {
        x = ds.test.x, y = ds.test.y;
        memcpy(lut, ds.lut, sizeof lut);
    } else {
        x = malloc((size_t)(n_images * chw));
        y = malloc(sizeof(int32_t) * (size_t)n_images);
        if (!x || !y)
            return 1;
        uint64_t r = 12345;
        for (int64_t i = 0; i < n_images * chw; i++) {
            r = r * 6364136223846793005ull + 1442695040888963407ull;
            x[i] = (uint8_t)(r >> 56);
        }
        for (int64_t i = 0; i < n_images; i++)
            y[i] = (int32_t)(i % 10);
        for (int ch = 0; ch < 3; ch++)
            for (int b = 0; b < 256; b++)
                lut[ch][b] = ((float)b / 255.0f - 0.5f) / 0.25f;
    }
    float *params = malloc(sizeof(float) * (size_t)arch.n_params);
    if (!params)
        return 1;
    char list[256];
    snprintf(list, sizeof list, "%s", acts);
    for (char *act = strtok(list, ","); act; act = strtok(NULL, ",")) {
        int ai = -1;
        for (int k = 0; k < MZ_ACT_COUNT; k++)
            if (!strcmp(act, mz_activation_name((mz_activation)k)))
                ai = k;
        if (ai < 0) {
            fprintf(stderr, "bench_eval: unknown activation %s\n", act);
            return 2;
        }
        for (int mi = 0; mi < n_models; mi++) {
            int nm = models[mi] < 1 ? 1 : models[mi] > MZ_LANES ? MZ_LANES : models[mi];
            mz_pop pop;
            if (mz_pop_init(&pop, be, &arch, (mz_activation)ai, 10, &lut[0][0], &err) != MZ_OK) {
                fprintf(stderr, "bench_eval: %s\n", err.msg);
                return 1;
            }
            for (int l = 0; l < nm; l++) {
                mz_lane_cfg lc;
                memset(&lc, 0, sizeof lc);
                lc.active = 1;
                lc.opt.type = MZ_OPT_ADAM;
                lc.opt.lr = 1e-3, lc.opt.beta1 = 0.9, lc.opt.beta2 = 0.999, lc.opt.eps = 1e-8;
                lc.seed = l + 1;
                mz_arch_init_params(&arch, MZ_INIT_KAIMING_UNIFORM, lc.seed, params);
                mz_pop_set_lane(&pop, l, &lc, params, NULL);
            }
            double ls[MZ_LANES] = {0}, best = 1e30, best_wall = 1e30, peak = fma_peak();
            int64_t hits[MZ_LANES] = {0};
            mz_pop_eval(&pop, x, y, n_images < 320 ? n_images : 320, ls, hits); /* warm-up */
            for (int r = 0; r < reps; r++) {
                double t0 = now(), w0 = wall();
                mz_pop_eval(&pop, x, y, n_images, ls, hits);
                double t = now() - t0, w = wall() - w0;
                best = t < best ? t : best;
                best_wall = w < best_wall ? w : best_wall;
            }
            printf("{\"arch\":\"%s\",\"act\":\"%s\",\"backend\":\"%s\",\"models\":%d,"
                   "\"images\":%lld,\"data\":\"%s\",\"seconds\":%.6g,\"wall\":%.6g,"
                   "\"model_images_per_s\":%.6g,\"flops_per_image\":%.6g,\"gflops\":%.4g,"
                   "\"peak_gflops\":%.4g}\n",
                   arch_name, act, be->name, nm, (long long)n_images,
                   have_ds ? "fashion-mnist" : "random", best, best_wall,
                   (double)nm * (double)n_images / best, flops_per_image(&arch),
                   flops_per_image(&arch) * nm * (double)n_images / best / 1e9, peak);
            fflush(stdout);
            mz_pop_release(&pop);
        }
    }
    free(params);
    if (have_ds)
        mz_dataset_release(&ds);
    else
        free(x), free(y);
    return 0;
}
