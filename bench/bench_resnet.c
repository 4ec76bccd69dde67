/* bench_resnet: cost of ResNet-18 training steps (forward, loss, backward, SGD) and of eval-mode
 * images, to extrapolate the time of one CIFAR-scale epoch (bench/resnet_epoch.sh runs it next to
 * the PyTorch side; docs/PERFORMANCE.md, section "ResNet-18").
 *
 * usage: bench_resnet [--batch 256] [--images 512] [--eval-images 512] [--hw 32] [--classes 10]
 *                     [--models 1] [--blas-threads 1]
 *
 * --models M trains M independent models at once, one per thread (each with its own workspace),
 * every BLAS call single-threaded unless --blas-threads says otherwise: "models in parallel" is
 * --models 2 --blas-threads 1, "one model, threaded BLAS" is --models 1 --blas-threads 2.
 * Each model runs ceil(images / batch) timed steps after one untimed warm-up step, then evaluates
 * eval-images images. Prints one JSON line: seconds per training step and per image (wall time,
 * all models together), the extrapolated wall time of one epoch of 40,000 training images plus
 * the 20,000 val + test images the trainer evaluates per epoch, and GFLOP/s.
 * Data are random bytes through a normalisation table: the cost does not depend on the values.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "mzoo/nn.h"
#include "mzoo/optim.h"
#include "mzoo/resnet.h"
#include "core/banned.h"

typedef struct job {
    const mz_resnet *net;
    int batch, steps, eval_images;
    uint64_t seed;
    double t_train, t_eval;
    int ok;
    pthread_barrier_t *bar;
} job;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void random_batch(uint64_t *s, float *x, int32_t *y, int64_t n, int K, int64_t per)
{
    for (int64_t i = 0; i < n * per; i++) {
        *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
        x[i] = (float)((*s >> 40) & 255) / 255.0f * 4.0f - 2.0f;
    }
    for (int64_t b = 0; b < n; b++)
        y[b] = (int32_t)((*s >> 33) % (uint64_t)K), *s += 77;
}

static void *run_job(void *arg)
{
    job *j = arg;
    const mz_resnet *net = j->net;
    int B = j->batch, K = net->n_classes;
    int64_t per = (int64_t)net->in_c * net->in_h * net->in_w;
    mz_resnet_ws *ws = NULL;
    mz_error err = {0};
    float *state = malloc(sizeof(float) * (size_t)net->n_state);
    float *grads = malloc(sizeof(float) * (size_t)net->n_state);
    float *mom = calloc((size_t)net->n_trainable, sizeof(float));
    float *x = malloc(sizeof(float) * (size_t)(per * B));
    float *logits = malloc(sizeof(float) * (size_t)B * K),
          *dl = malloc(sizeof(float) * (size_t)B * K);
    int32_t *y = malloc(sizeof(int32_t) * (size_t)B);
    j->ok = state && grads && mom && x && logits && dl && y &&
            mz_resnet_ws_new(&ws, net, B, &err) == MZ_OK;
    if (!j->ok)
        fprintf(stderr, "bench_resnet: %s\n", err.msg[0] ? err.msg : "out of memory");
    pthread_barrier_wait(j->bar);
    if (j->ok) {
        uint64_t s = j->seed;
        mz_resnet_init_params(net, MZ_INIT_KAIMING_UNIFORM, (int64_t)j->seed, state);
        mz_optim_cfg oc = {0};
        oc.type = MZ_OPT_SGD;
        oc.weight_decay = 5e-4;
        for (int step = 0; step <= j->steps; step++) {
            if (step == 1) { /* step 0 is the warm-up; all models start timing together */
                pthread_barrier_wait(j->bar);
                j->t_train = now();
            }
            random_batch(&s, x, y, B, K, per);
            mz_onecycle(0.05, 7850, step, &oc.lr, &oc.momentum);
            mz_resnet_forward(net, ws, state, x, B, 1, logits);
            mz_ref_loss(logits, y, B, K, dl, NULL);
            mz_resnet_backward(net, ws, state, dl, grads);
            mz_resnet_optim_step(net, &oc, state, grads, mom, step + 1);
        }
        j->t_train = now() - j->t_train;
        pthread_barrier_wait(j->bar);
        j->t_eval = now();
        for (int done = 0; done < j->eval_images; done += B) {
            int nb = j->eval_images - done < B ? j->eval_images - done : B;
            random_batch(&s, x, y, nb, K, per);
            mz_resnet_forward(net, ws, state, x, nb, 0, logits);
        }
        j->t_eval = now() - j->t_eval;
    } else {
        pthread_barrier_wait(j->bar);
        pthread_barrier_wait(j->bar);
    }
    mz_resnet_ws_free(ws);
    free(state), free(grads), free(mom), free(x), free(logits), free(dl), free(y);
    return NULL;
}

static double max_rss_mb(void)
{
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? (double)ru.ru_maxrss / 1024.0 : 0;
}

static double forward_flops(const mz_resnet *net)
{
    double f = 2.0 * 512 * net->n_classes;
    for (int i = 0; i < MZ_RESNET_CONVS; i++) {
        const mz_resnet_conv *c = &net->convs[i];
        f += 2.0 * c->cout * c->cin * c->k * c->k * c->out_h * c->out_w;
    }
    return f;
}

static int arg_int(int argc, char **argv, const char *name, int def)
{
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], name))
            return (int)strtol(argv[i + 1], NULL, 10);
    return def;
}

int main(int argc, char **argv)
{
    int B = arg_int(argc, argv, "--batch", 256), images = arg_int(argc, argv, "--images", 512);
    int eval_images = arg_int(argc, argv, "--eval-images", 512),
        hw = arg_int(argc, argv, "--hw", 32);
    int K = arg_int(argc, argv, "--classes", 10), models = arg_int(argc, argv, "--models", 1);
    int blas_threads = arg_int(argc, argv, "--blas-threads", 1);
    if (B < 1 || images < 1 || models < 1 || models > 64) {
        fprintf(stderr, "usage: bench_resnet [--batch N] [--images N] [--eval-images N] [--hw N] "
                        "[--classes K] [--models M] [--blas-threads T]\n");
        return 2;
    }
    mz_resnet net;
    mz_error err = {0};
    if (mz_resnet_init(&net, 3, hw, hw, K, &err) != MZ_OK) {
        fprintf(stderr, "bench_resnet: %s\n", err.msg);
        return 1;
    }
    mz_blas_set_threads(blas_threads);
    int steps = (images + B - 1) / B;
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, (unsigned)models);
    job *jobs = calloc((size_t)models, sizeof *jobs);
    pthread_t *tids = calloc((size_t)models, sizeof *tids);
    for (int m = 0; m < models; m++) {
        jobs[m] = (job){&net, B, steps, eval_images, 1000 + (uint64_t)m, 0, 0, 0, &bar};
        pthread_create(&tids[m], NULL, run_job, &jobs[m]);
    }
    double t_train = 0, t_eval = 0;
    int ok = 1;
    for (int m = 0; m < models; m++) {
        pthread_join(tids[m], NULL);
        ok &= jobs[m].ok;
        t_train = jobs[m].t_train > t_train ? jobs[m].t_train : t_train;
        t_eval = jobs[m].t_eval > t_eval ? jobs[m].t_eval : t_eval;
    }
    pthread_barrier_destroy(&bar);
    if (!ok)
        return 1;
    /* wall time per image with all models running: per model divided by the models in flight */
    double per_train_img = t_train / ((double)steps * B) / models;
    double per_eval_img = eval_images ? t_eval / (double)eval_images / models : 0;
    double epoch = 40000 * per_train_img + 20000 * per_eval_img;
    double ff = forward_flops(&net);
    printf(
        "{\"side\": \"mzoo\", \"batch\": %d, \"hw\": %d, \"classes\": %d, \"models\": %d, "
        "\"blas_threads\": %d, \"blas_core\": \"%s\", \"train_images\": %d, \"eval_images\": %d, "
        "\"s_per_step\": %.4f, \"s_per_train_image\": %.6f, \"s_per_eval_image\": %.6f, "
        "\"train_gflops\": %.1f, \"eval_gflops\": %.1f, \"epoch_s\": %.1f, \"max_rss_mb\": %.0f}\n",
        B, hw, K, models, blas_threads, mz_blas_corename(), steps * B, eval_images, t_train / steps,
        per_train_img, per_eval_img, 3 * ff / per_train_img / 1e9,
        per_eval_img > 0 ? ff / per_eval_img / 1e9 : 0, epoch, max_rss_mb());
    free(jobs);
    free(tids);
    return 0;
}
