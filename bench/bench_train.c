/* bench_train: mzoo's side of the training-speed benchmark (bench/README.md, section 3).
 *
 * usage: bench_train [--quick] [--configs a,b,c] [--threads N] [--steps N] [--eval-images N]
 *                    [--backend simd|ref]
 *
 * One population (16 models in the lanes of one pop) per thread, all threads timed together
 * (released by a barrier). Per config it measures the wall time of one group train step at batch 10
 * (every lane on its own random batch) and of evaluating images (the same image for every lane),
 * and prints one JSON line on stdout; progress goes to stderr. Data are random bytes of the right
 * shapes, with train, val and test splits held in memory as the reference does.
 *
 * Layouts: fmnist-seed and cifar-cnnl: 16 lanes of the same settings, seeds 0..15 (different
 * weights and batches). fmnist-hyp: one pop per activation (tanh, relu, sigmoid, gelu), whose 16
 * lanes hold the 16 combinations of dropout {0, 0.5} x optimizer {Adam, SGD momentum 0.9} x init
 * {uniform, normal, kaiming_uniform, kaiming_normal}, with lr {1e-3, 1e-4} and wd {1e-3, 1e-4}
 * mixed over the lanes; in phase k thread r runs activation (k + r * 4 / threads) % 4, and the
 * figures are the means over all (phase, thread) runs. mnist-vd: 16 variational-dropout twins
 * (CNN-s, tanh, Adam lr 3e-4: the reference's MNIST sparsification), each started from a plain
 * model, kl_weight 0.005.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "mzoo/pop.h"
#include "core/banned.h"

typedef struct config {
    const char *name, *arch;
    int c, hw;
    int n_train, n_val, n_test, epochs;
    int ard; /* variational-dropout twins */
} config;

static const config configs[] = {
    {"fmnist-seed", "cnn-s", 1, 28, 50000, 10000, 10000, 50, 0},
    {"fmnist-hyp", "cnn-s", 1, 28, 50000, 10000, 10000, 50, 0},
    {"cifar-cnnl", "cnn-l", 3, 32, 42000, 8000, 10000, 50, 0},
    /* the twins' trainable reports no val metrics: epoch 0 evaluates train and test */
    {"mnist-vd", "cnn-s", 1, 28, 50000, 0, 10000, 25, 1},
};

#define BATCH 10

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Exact multiply-add counts of the conv and linear layers of one image (bench/README.md, 4). */
static void count_macs(const mz_arch *a, double *fwd, double *bwd)
{
    double f = 0, first = 0;
    for (int i = 0; i < a->n_layers; i++) {
        const mz_layer *l = &a->layers[i];
        double m = 0;
        if (l->kind == MZ_LAYER_CONV)
            m = (double)l->out_c * l->out_h * l->out_w * l->in_c * l->k * l->k;
        else if (l->kind == MZ_LAYER_LINEAR)
            m = (double)l->out_c * l->in_c;
        if (m > 0 && f == 0)
            first = m;
        f += m;
    }
    *fwd = f;
    *bwd = f + (f - first);
}

typedef struct shared {
    const config *cfg;
    const uint8_t *train_x, *eval_x;
    const int32_t *train_y, *eval_y;
    const float *lut;
    const mz_pop_backend *backend;
    int threads, steps, warmup, eval_images, phases;
    pthread_barrier_t bar;
    /* results [phase][thread] */
    double t_step[4][64], t_eval[4][64];
    int failed;
} shared;

typedef struct worker {
    shared *sh;
    int rank;
} worker;

static const mz_activation hyp_acts[4] = {MZ_ACT_TANH, MZ_ACT_RELU, MZ_ACT_SIGMOID, MZ_ACT_GELU};
static const char *const hyp_act_names[4] = {"tanh", "relu", "sigmoid", "gelu"};

/* Lane settings of lane l for the config (see the header comment). */
static void lane_setup(const config *cfg, int rank, int l, mz_lane_cfg *lc, mz_init *init,
                       double *dropout)
{
    memset(lc, 0, sizeof *lc);
    lc->active = 1;
    lc->seed = 1000 * rank + l;
    lc->opt.beta1 = 0.9, lc->opt.beta2 = 0.999, lc->opt.eps = 1e-8;
    if (!strcmp(cfg->name, "fmnist-seed")) {
        *init = MZ_INIT_UNIFORM;
        lc->opt.type = MZ_OPT_ADAM, lc->opt.lr = 3e-4;
        *dropout = 0;
    } else if (!strcmp(cfg->name, "cifar-cnnl")) {
        *init = MZ_INIT_KAIMING_UNIFORM;
        lc->opt.type = MZ_OPT_ADAM, lc->opt.lr = 1e-4, lc->opt.weight_decay = 1e-2;
        *dropout = 0;
    } else if (!strcmp(cfg->name, "mnist-vd")) {
        *init = MZ_INIT_UNIFORM;
        lc->opt.type = MZ_OPT_ADAM, lc->opt.lr = 3e-4;
        lc->kl_weight = 0.005f; /* the reference's schedule: 0 .. 0.0096 */
        *dropout = 0;
    } else {
        *dropout = (l / 8) % 2 ? 0.5 : 0.0;
        lc->opt.type = (l / 4) % 2 ? MZ_OPT_SGD : MZ_OPT_ADAM;
        if (lc->opt.type == MZ_OPT_SGD)
            lc->opt.momentum = 0.9;
        *init = (mz_init)(l % 4);
        lc->opt.lr = l % 2 ? 1e-4 : 1e-3;
        lc->opt.weight_decay = (l / 2) % 2 ? 1e-4 : 1e-3;
    }
    lc->dropout = (float)*dropout;
}

static void *work(void *arg)
{
    worker *w = arg;
    shared *sh = w->sh;
    const config *cfg = sh->cfg;
    int hyp = !strcmp(cfg->name, "fmnist-hyp");
    mz_error err;
    uint64_t rs = 12345 + (uint64_t)w->rank;
    uint32_t *idx = malloc(sizeof(uint32_t) * MZ_LANES * BATCH);
    float *params = NULL;
    for (int ph = 0; ph < sh->phases; ph++) {
        mz_activation act = MZ_ACT_TANH;
        if (hyp)
            act = hyp_acts[(ph + w->rank * 4 / sh->threads) % 4];
        else if (!strcmp(cfg->name, "cifar-cnnl"))
            act = MZ_ACT_GELU;
        mz_arch plain, ard, *a = &plain;
        /* CNN-s has dropout layers when any lane uses dropout (fmnist-hyp) */
        if (mz_arch_init(&plain, cfg->arch, cfg->c, cfg->hw, cfg->hw, hyp ? 0.5 : 0.0, &err) !=
                MZ_OK ||
            (cfg->ard && mz_arch_init_ard(&ard, &plain, &err) != MZ_OK)) {
            fprintf(stderr, "bench_train: %s\n", err.msg);
            sh->failed = 1;
        }
        if (cfg->ard)
            a = &ard;
        mz_pop pop;
        if (!sh->failed && mz_pop_init(&pop, sh->backend, a, act, BATCH, sh->lut, &err) != MZ_OK) {
            fprintf(stderr, "bench_train: %s\n", err.msg);
            sh->failed = 1;
        }
        if (!params) /* room for the plain model and its twin */
            params = malloc(sizeof(float) * (size_t)(plain.n_params + a->n_params));
        for (int l = 0; !sh->failed && l < MZ_LANES; l++) {
            mz_lane_cfg lc;
            mz_init init;
            double dropout;
            lane_setup(cfg, w->rank, l, &lc, &init, &dropout);
            mz_arch_init_params(&plain, init, lc.seed, params);
            if (cfg->ard) /* a twin starts from its plain model's checkpoint */
                mz_ard_params_from_plain(&ard, &plain, params, params + plain.n_params);
            mz_pop_set_lane(&pop, l, &lc, cfg->ard ? params + plain.n_params : params, NULL);
        }
        float loss[MZ_LANES];
        int correct[MZ_LANES];
        double t0 = 0;
        for (int s = -sh->warmup; s < sh->steps; s++) {
            if (s == 0) {
                pthread_barrier_wait(&sh->bar);
                t0 = now();
            }
            if (sh->failed)
                continue;
            for (int k = 0; k < MZ_LANES * BATCH; k++) /* random batches, as a shuffled loader */
                idx[k] = (uint32_t)(splitmix(&rs) % (uint64_t)cfg->n_train);
            int step = s < 0 ? s + sh->warmup : s;
            mz_pop_train_step(&pop, sh->train_x, sh->train_y, idx, BATCH, 1, step, loss, correct);
        }
        sh->t_step[ph][w->rank] = (now() - t0) / sh->steps;
        double ls[MZ_LANES] = {0};
        int64_t hits[MZ_LANES] = {0};
        if (!sh->failed)
            mz_pop_eval(&pop, sh->eval_x, sh->eval_y, 200, ls, hits); /* warm-up */
        pthread_barrier_wait(&sh->bar);
        t0 = now();
        if (!sh->failed)
            mz_pop_eval(&pop, sh->eval_x, sh->eval_y, sh->eval_images, ls, hits);
        sh->t_eval[ph][w->rank] = (now() - t0) / ((double)sh->eval_images * MZ_LANES);
        if (!sh->failed)
            mz_pop_release(&pop);
        pthread_barrier_wait(&sh->bar);
    }
    free(params);
    free(idx);
    return NULL;
}

static int run_config(const config *cfg, int threads, int steps, int eval_images, int quick,
                      const mz_pop_backend *backend)
{
    int64_t img = (int64_t)cfg->c * cfg->hw * cfg->hw;
    int64_t n_all = (int64_t)cfg->n_train + cfg->n_val + cfg->n_test;
    uint8_t *x = malloc((size_t)(n_all * img));
    int32_t *y = malloc(sizeof(int32_t) * (size_t)n_all);
    float lut[3 * 256];
    if (!x || !y) {
        fprintf(stderr, "bench_train: out of memory\n");
        return 1;
    }
    uint64_t rs = 99;
    for (int64_t i = 0; i < n_all * img; i += 8) {
        uint64_t r = splitmix(&rs);
        memcpy(x + i, &r, (size_t)(n_all * img - i < 8 ? n_all * img - i : 8));
    }
    for (int64_t i = 0; i < n_all; i++)
        y[i] = (int32_t)(splitmix(&rs) % 10);
    for (int ch = 0; ch < cfg->c; ch++)
        for (int v = 0; v < 256; v++)
            lut[ch * 256 + v] = ((float)v / 255.0f - 0.5f) / 0.25f;

    shared *sh = calloc(1, sizeof *sh);
    sh->cfg = cfg;
    sh->train_x = x, sh->train_y = y;
    sh->eval_x = x + (int64_t)cfg->n_train * img; /* the val and test splits */
    sh->eval_y = y + cfg->n_train;
    if (eval_images > cfg->n_val + cfg->n_test)
        eval_images = cfg->n_val + cfg->n_test;
    sh->lut = lut;
    sh->backend = backend;
    sh->threads = threads;
    int hyp = !strcmp(cfg->name, "fmnist-hyp");
    sh->phases = hyp ? 4 : 1;
    sh->steps = hyp ? steps / 4 : steps;
    if (sh->steps < 1)
        sh->steps = 1;
    sh->warmup = sh->steps / 10 + 1;
    sh->eval_images = hyp ? eval_images / 4 : eval_images;
    if (sh->eval_images < 16)
        sh->eval_images = 16;
    pthread_barrier_init(&sh->bar, NULL, (unsigned)threads);
    pthread_t th[64];
    worker wk[64];
    fprintf(stderr, "bench_train: %s: %d threads x %d lanes, %d steps, %d eval images per worker\n",
            cfg->name, threads, MZ_LANES, sh->steps * sh->phases, sh->eval_images * sh->phases);
    double t_wall = now();
    for (int r = 0; r < threads; r++) {
        wk[r].sh = sh, wk[r].rank = r;
        pthread_create(&th[r], NULL, work, &wk[r]);
    }
    for (int r = 0; r < threads; r++)
        pthread_join(th[r], NULL);
    t_wall = now() - t_wall;
    pthread_barrier_destroy(&sh->bar);
    if (sh->failed) {
        free(sh);
        free(x);
        free(y);
        return 1;
    }

    double t_step = 0, t_eval = 0;
    char per_run[1024];
    size_t pos = 0;
    for (int ph = 0; ph < sh->phases; ph++)
        for (int r = 0; r < threads; r++) {
            t_step += sh->t_step[ph][r];
            t_eval += sh->t_eval[ph][r];
            if (hyp && pos < sizeof per_run)
                pos += (size_t)snprintf(per_run + pos, sizeof per_run - pos,
                                        "%s{\"act\":\"%s\",\"t_step\":%.6g,\"t_eval_img\":%.6g}",
                                        pos ? "," : "", hyp_act_names[(ph + r * 4 / threads) % 4],
                                        sh->t_step[ph][r], sh->t_eval[ph][r]);
        }
    t_step /= sh->phases * threads;
    t_eval /= sh->phases * threads;

    mz_arch a;
    mz_error err;
    mz_arch_init(&a, cfg->arch, cfg->c, cfg->hw, cfg->hw, hyp ? 0.5 : 0.0, &err);
    double fwd, bwd;
    count_macs(&a, &fwd, &bwd);
    /* twins: a training step has twice the multiply-adds (the mean and the variance paths, in
     * both directions); eval is the plain forward on clipped weights (bench/README.md, 4) */
    double flops_step = (cfg->ard ? 2.0 : 1.0) * 2.0 * (fwd + bwd) * BATCH, flops_eval = 2.0 * fwd;
    if (cfg->ard) {
        mz_arch plain = a;
        mz_arch_init_ard(&a, &plain, &err);
    }
    double steps_per_model = (double)cfg->epochs * ((cfg->n_train + BATCH - 1) / BATCH);
    double eval_per_model = (double)n_all + (double)cfg->epochs * (cfg->n_val + cfg->n_test);
    double t_step_model = t_step / MZ_LANES;
    double s_per_model = steps_per_model * t_step_model + eval_per_model * t_eval;
    double mph = 3600.0 * threads / s_per_model;
    double flops_model = steps_per_model * flops_step + eval_per_model * flops_eval;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"config\":\"%s\",\"side\":\"mzoo\",\"backend\":\"%s\",\"arch\":\"%s\",\"lanes\":%d,"
           "\"models_per_group\":%d,\"threads\":%d,\"n_procs\":%d,\"batch\":%d,"
           "\"t_step\":%.6g,\"t_step_per_model\":%.6g,\"t_eval_img\":%.6g,\"t_eval_img_per_model\":"
           "%.6g,"
           "\"steps_per_model\":%.0f,\"eval_images_per_model\":%.0f,\"seconds_per_model\":%.4g,"
           "\"models_per_hour\":%.4g,\"flops_step\":%.0f,\"flops_eval_img\":%.0f,\"flops_per_"
           "model\":%.6g,"
           "\"gflops\":%.4g,\"gflops_step_per_thread\":%.4g,\"gflops_eval_per_thread\":%.4g,"
           "\"peak_rss_mb\":%.1f,\"steps_per_worker\":%d,\"eval_images_per_worker\":%d,"
           "\"wall_seconds\":%.2f,\"quick\":%s,\"layout\":\"%s\"%s%s%s}\n",
           cfg->name, backend->name, a.variant, MZ_LANES, MZ_LANES, threads, threads, BATCH, t_step,
           t_step_model, t_eval, t_eval, steps_per_model, eval_per_model, s_per_model, mph,
           flops_step, flops_eval, flops_model, mph / 3600.0 * flops_model / 1e9,
           flops_step * MZ_LANES / t_step / 1e9, flops_eval / t_eval / 1e9,
           (double)ru.ru_maxrss / 1024.0, sh->steps * sh->phases, sh->eval_images * sh->phases,
           t_wall, quick ? "true" : "false",
           hyp ? "one pop per activation (tanh, relu, sigmoid, gelu); 16 lanes = dropout {0,0.5} x "
                 "{adam, sgd m0.9} x 4 inits, lr/wd mixed"
           : cfg->ard ? "16 variational-dropout twins of the same settings, different seeds and "
                        "batches"
                      : "16 lanes of the same settings, different seeds and batches",
           hyp ? ",\"per_run\":[" : "", hyp ? per_run : "", hyp ? "]" : "");
    fflush(stdout);
    free(sh);
    free(x);
    free(y);
    return 0;
}

int main(int argc, char **argv)
{
    int quick = 0, threads = (int)sysconf(_SC_NPROCESSORS_ONLN), steps = -1, eval_images = -1;
    const char *list = "fmnist-seed,fmnist-hyp,cifar-cnnl,mnist-vd", *be_name = "simd";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick"))
            quick = 1;
        else if (!strcmp(argv[i], "--configs") && i + 1 < argc)
            list = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = (int)strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc)
            steps = (int)strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--eval-images") && i + 1 < argc)
            eval_images = (int)strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--backend") && i + 1 < argc)
            be_name = argv[++i];
        else {
            fprintf(stderr,
                    "usage: bench_train [--quick] [--configs a,b,c] [--threads N] [--steps N] "
                    "[--eval-images N] [--backend simd|ref]\n");
            return 2;
        }
    }
    if (threads < 1 || threads > 64) {
        fprintf(stderr, "bench_train: --threads must be 1..64\n");
        return 2;
    }
    const mz_pop_backend *backend = mz_pop_backend_by_name(be_name);
    if (!backend) {
        fprintf(stderr, "bench_train: unknown backend '%s'\n", be_name);
        return 2;
    }
    int rc = 0;
    for (size_t c = 0; c < sizeof configs / sizeof configs[0]; c++) {
        const char *p = strstr(list, configs[c].name);
        if (!p)
            continue;
        int cnnl = !strcmp(configs[c].arch, "cnn-l");
        int st = steps > 0 ? steps : (quick ? 200 : 2000);
        int ev = eval_images > 0 ? eval_images : (quick ? 500 : (cnnl ? 2000 : 5000));
        rc |= run_config(&configs[c], threads, st, ev, quick, backend);
    }
    return rc;
}
