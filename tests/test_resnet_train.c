/* The ResNet-18 training path (src/train/train_resnet.c) on a small synthetic dataset: 3x8x8
 * images whose class sets the mean colour, 48 train / 16 val / 16 test images, 10 classes, with
 * the CIFAR augmentation (the spec says cifar10), batch 16, SGD + OneCycle, 2 epochs, 2 models on
 * 2 threads. Small, because every commit of a ResNet-18 epoch writes 90 MB (weights, momentum).
 *
 *  - every epoch row exists, epoch-0 weights are the initialisation, statuses are done;
 *  - epoch 1 of model 0 recomputed by hand (Philox shuffle, augmentation by position, OneCycle,
 *    training-mode forward, backward, SGD on the trainable tensors) gives the stored weights,
 *    running statistics and counters bit for bit, and the stored train loss;
 *  - the training loss decreases (the colours are learnable; eval-mode losses are not checked:
 *    after 6 updates the running statistics are far from the batch statistics);
 *  - a run stopped after a few commits and resumed on one thread gives the same zoo, bit for bit,
 *    as the uninterrupted run;
 *  - a model with an absurd learning rate is marked diverged, the other finishes;
 *  - with the Tiny-ImageNet augmentation (flip + rotation) and a constant lr, epoch 1 recomputed
 *    by hand equals the stored one;
 *  - mz_train_run hands resnet18 specs to this path.
 */
#define _POSIX_C_SOURCE 200809L /* mkstemp */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "check.h"
#include "mzoo/data.h"
#include "mzoo/nn.h"
#include "mzoo/optim.h"
#include "mzoo/resnet.h"
#include "mzoo/spec.h"
#include "mzoo/store.h"
#include "mzoo/train.h"
#include "train/train-impl.h"

#define HW 8
#define NCLS 10
#define BATCH 16
#define EPOCHS 2

static const char spec_json[] =
    "{\"dataset\": \"cifar10\", \"variant\": \"resnet\", \"architecture\": \"resnet18\", "
    "\"epochs\": 2,"
    " \"batch_size\": 16, \"scheduler\": \"onecycle\", \"grid\": {\"activation\": \"relu\","
    " \"init\": \"kaiming_uniform\", \"optimizer\": \"sgd\", \"lr\": 0.01, \"weight_decay\": "
    "0.0005,"
    " \"momentum\": 0.9, \"dropout\": 0, \"seed\": [1, 2]}}";

static const char diverge_json[] =
    "{\"dataset\": \"cifar10\", \"variant\": \"resnet\", \"architecture\": \"resnet18\", "
    "\"epochs\": 1,"
    " \"batch_size\": 16, \"grid\": {\"activation\": \"relu\", \"init\": \"kaiming_uniform\","
    " \"optimizer\": \"sgd\", \"lr\": [0.01, 1e30], \"weight_decay\": 0.0005, \"momentum\": 0.9,"
    " \"seed\": 5}}";

static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return *s >> 33;
}

static void make_split(mz_split *s, int64_t n, uint64_t seed)
{
    s->n = n;
    s->x = malloc((size_t)(n * 3 * HW * HW));
    s->y = malloc(sizeof(int32_t) * (size_t)n);
    for (int64_t i = 0; i < n; i++) {
        int k = (int)(lcg(&seed) % NCLS);
        s->y[i] = k;
        for (int ch = 0; ch < 3; ch++) {
            int base = 30 + (k * 37 + ch * 71) % 190;
            for (int p = 0; p < HW * HW; p++)
                s->x[(i * 3 + ch) * HW * HW + p] = (uint8_t)(base + (int)(lcg(&seed) % 41) - 20);
        }
    }
}

static void make_dataset(mz_dataset *ds)
{
    memset(ds, 0, sizeof *ds);
    snprintf(ds->name, sizeof ds->name, "synthetic");
    ds->c = 3, ds->h = HW, ds->w = HW, ds->n_classes = NCLS;
    const float mean[3] = {0.5f, 0.5f, 0.5f}, std[3] = {0.25f, 0.25f, 0.25f};
    mz_dataset_set_normalize(ds, mean, std);
    make_split(&ds->train, 48, 11);
    make_split(&ds->val, 16, 12);
    make_split(&ds->test, 16, 13);
}

/* Zoo files go to /dev/shm when it exists and has room (containers often give it 64 MB): each
 * commit writes 90 MB, which on a disk costs far more than the computation being tested. */
static const char *scratch_dir(void)
{
    struct statvfs v;
    if (access("/dev/shm", W_OK) == 0 && statvfs("/dev/shm", &v) == 0 &&
        (double)v.f_bavail * (double)v.f_frsize > 4e9)
        return "/dev/shm";
    const char *t = getenv("TMPDIR");
    return t && *t ? t : "/tmp";
}

static void temp_path(char *path, size_t cap, const char *tag)
{
    snprintf(path, cap, "%s/mz_test_resnet_%s_XXXXXX", scratch_dir(), tag);
    int fd = mkstemp(path);
    close(fd);
    unlink(path);
}

static void remove_zoo(const char *path)
{
    char p[512];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

typedef struct row {
    double v[6];
    int n;
} row;

static int get_row(void *ctx, int ncol, const char *const *val, const char *const *names)
{
    row *r = ctx;
    for (int i = 0; i < ncol && i < 6; i++)
        r->v[i] = val[i] ? strtod(val[i], NULL) : NAN;
    r->n++;
    return 0;
}

static row metrics(mz_store *st, int64_t id, int epoch)
{
    char sql[200];
    row r = {{0}, 0};
    mz_error err = {0};
    snprintf(sql, sizeof sql,
             "SELECT train_loss, train_acc, val_loss, val_acc, test_loss, test_acc FROM epochs "
             "WHERE model_id = %lld AND epoch = %d",
             (long long)id, epoch);
    CHECK_OK(mz_store_query(st, sql, get_row, &r, &err), &err);
    return r;
}

/* Stops the run after `after` commits (set from the progress callback). */
typedef struct stopper {
    volatile int stop;
    int64_t after;
} stopper;

static void stop_after(void *ctx, const mz_train_progress *p)
{
    stopper *s = ctx;
    if (p->epochs_done >= s->after)
        s->stop = 1;
}

/* Epoch 1 of model m by hand, from its initialisation; augmentation as for CIFAR (crop 4 + flip)
 * or, with rotate set, as for Tiny-ImageNet (flip + rotation by up to 20 degrees). */
static void epoch1_by_hand(const mz_spec *spec, const mz_dataset *ds, const mz_model_spec *m,
                           int rotate, float *state, double *train_loss)
{
    mz_resnet net;
    mz_error err = {0};
    mz_resnet_ws *ws = NULL;
    CHECK_OK(mz_resnet_init(&net, 3, HW, HW, NCLS, &err), &err);
    CHECK_OK(mz_resnet_ws_new(&ws, &net, BATCH, &err), &err);
    float *grads = malloc(sizeof(float) * (size_t)net.n_state);
    float *mom = calloc((size_t)net.n_trainable, sizeof(float));
    float *x = malloc(sizeof(float) * BATCH * 3 * HW * HW), logits[BATCH * NCLS], dl[BATCH * NCLS];
    int32_t y[BATCH];
    uint8_t img[3 * HW * HW], tmp[3 * HW * HW];
    mz_resnet_init_params(&net, m->init, m->seed, state);
    int64_t N = ds->train.n, steps = (N + BATCH - 1) / BATCH;
    uint32_t perm[48];
    mz_rng_stream s = mz_rng_make((uint64_t)m->seed, MZ_RNG_SHUFFLE, 1, 0, 0);
    mz_rng_permutation(&s, perm, (uint32_t)N);
    mz_optim_cfg oc;
    mz_optim_cfg_from_model(&oc, m);
    double lsum = 0;
    for (int64_t step = 0; step < steps; step++) {
        for (int b = 0; b < BATCH; b++) {
            int64_t pos = step * BATCH + b, i = perm[pos];
            if (rotate)
                mz_aug_flip_rotate(ds->train.x + i * 3 * HW * HW, 3, HW, HW, 20.0f,
                                   (uint64_t)m->seed, 1, (uint32_t)pos, tmp, img);
            else
                mz_aug_crop_flip(ds->train.x + i * 3 * HW * HW, 3, HW, HW, 4, (uint64_t)m->seed, 1,
                                 (uint32_t)pos, img);
            for (int ch = 0; ch < 3; ch++)
                for (int p = 0; p < HW * HW; p++)
                    x[(b * 3 + ch) * HW * HW + p] = ds->lut[ch][img[ch * HW * HW + p]];
            y[b] = ds->train.y[i];
        }
        if (spec->scheduler == MZ_SCHED_ONECYCLE)
            mz_onecycle(m->lr, steps * spec->epochs, step, &oc.lr, &oc.momentum);
        mz_resnet_forward(&net, ws, state, x, BATCH, 1, logits);
        float loss = mz_ref_loss(logits, y, BATCH, NCLS, dl, NULL);
        mz_resnet_backward(&net, ws, state, dl, grads);
        mz_resnet_optim_step(&net, &oc, state, grads, mom, step + 1);
        lsum += (double)loss * BATCH;
    }
    *train_loss = lsum / (double)N;
    mz_resnet_ws_free(ws);
    free(grads);
    free(mom);
    free(x);
}

/* Both zoos hold the same epochs rows, bit for bit (weights) and exactly (metrics). */
static void compare_zoos(const char *a, const char *b, const mz_spec *spec, int64_t n_state)
{
    mz_store *sa = NULL, *sb = NULL;
    mz_error err = {0};
    CHECK_OK(mz_store_open(&sa, a, MZ_STORE_READ, &err), &err);
    CHECK_OK(mz_store_open(&sb, b, MZ_STORE_READ, &err), &err);
    if (!sa || !sb)
        return;
    float *wa = malloc(sizeof(float) * (size_t)n_state),
          *wb = malloc(sizeof(float) * (size_t)n_state);
    for (int64_t id = 0; id < spec->n_models; id++)
        for (int e = 0; e <= spec->epochs; e++) {
            CHECK_OK(mz_store_read_weights(sa, id, e, wa, n_state, &err), &err);
            CHECK_OK(mz_store_read_weights(sb, id, e, wb, n_state, &err), &err);
            CHECK_MSG(!memcmp(wa, wb, sizeof(float) * (size_t)n_state),
                      "model %lld epoch %d: weights differ", (long long)id, e);
            row ra = metrics(sa, id, e), rb = metrics(sb, id, e);
            CHECK_MSG(ra.n == 1 && rb.n == 1 && !memcmp(ra.v, rb.v, sizeof ra.v),
                      "model %lld epoch %d: metrics differ (train loss %.9g vs %.9g)",
                      (long long)id, e, ra.v[0], rb.v[0]);
        }
    mz_store_summary sum;
    CHECK_OK(mz_store_summary_get(sb, &sum, &err), &err);
    CHECK_EQ_INT(sum.by_status[MZ_MODEL_DONE], spec->n_models);
    free(wa);
    free(wb);
    mz_store_close(sa);
    mz_store_close(sb);
}

int main(void)
{
    mz_error err = {0};
    mz_spec spec;
    CHECK_OK(mz_spec_parse(&spec, spec_json, "test spec", &err), &err);
    CHECK_EQ_INT(spec.n_models, 2);
    CHECK_EQ_INT(mz_train_resnet_augmentation("cifar10"), 1);
    CHECK_EQ_INT(mz_train_resnet_augmentation("tiny-imagenet"), 2);
    CHECK_EQ_INT(mz_train_resnet_augmentation("fashion-mnist"), 0);
    mz_dataset ds;
    make_dataset(&ds);
    mz_resnet net;
    CHECK_OK(mz_resnet_init(&net, 3, HW, HW, NCLS, &err), &err);

    /* uninterrupted */
    char zoo_a[128], zoo_b[128];
    temp_path(zoo_a, sizeof zoo_a, "a");
    mz_train_opts opts = {0};
    opts.threads = 2;
    double t0 = mz_now();
    mz_status st = mz_train_run_ds(&spec, &ds, zoo_a, &opts, &err);
    CHECK_OK(st, &err);
    printf("uninterrupted run: %.2f s (BLAS kernel %s)\n", mz_now() - t0, mz_blas_corename());
    if (st != MZ_OK)
        return check_summary("test_resnet_train");

    mz_store *store = NULL;
    CHECK_OK(mz_store_open(&store, zoo_a, MZ_STORE_READ, &err), &err);
    float *w = malloc(sizeof(float) * (size_t)net.n_state),
          *p = malloc(sizeof(float) * (size_t)net.n_state);
    for (int64_t id = 0; id < spec.n_models; id++) {
        const mz_model_spec *m = &spec.models[id];
        mz_resnet_init_params(&net, m->init, m->seed, p);
        CHECK_OK(mz_store_read_weights(store, id, 0, w, net.n_state, &err), &err);
        CHECK_MSG(!memcmp(p, w, sizeof(float) * (size_t)net.n_state),
                  "model %lld: epoch 0 is not the init", (long long)id);
        row r0 = metrics(store, id, 0), r1 = metrics(store, id, 1), r2 = metrics(store, id, EPOCHS);
        CHECK_EQ_INT(r0.n + r1.n + r2.n, 3);
        printf("model %lld: train loss e0 %.4f e1 %.4f e2 %.4f, train acc e1 %.3f e2 %.3f\n",
               (long long)id, r0.v[0], r1.v[0], r2.v[0], r1.v[1], r2.v[1]);
        /* learning: the last epoch's training loss is below the first's and the untrained one */
        CHECK_MSG(r2.v[0] < r1.v[0] && r2.v[0] < r0.v[0], "model %lld: train loss did not decrease",
                  (long long)id);
        for (int k = 0; k < 6; k++)
            CHECK(isfinite(r2.v[k]));
        if (id == 0) {
            double tl = 0;
            epoch1_by_hand(&spec, &ds, m, 0, p, &tl);
            CHECK_OK(mz_store_read_weights(store, id, 1, w, net.n_state, &err), &err);
            CHECK_MSG(!memcmp(p, w, sizeof(float) * (size_t)net.n_state),
                      "model 0: stored epoch 1 differs from the recomputation");
            /* the blob carries the running statistics and counters: 3 updates */
            CHECK_EQ_INT((int)w[net.convs[0].bn_count], 3);
            CHECK_NEAR(r1.v[0], tl, 1e-12);
        }
    }
    mz_store_summary sum;
    CHECK_OK(mz_store_summary_get(store, &sum, &err), &err);
    CHECK_EQ_INT(sum.by_status[MZ_MODEL_DONE], 2);
    CHECK_EQ_INT(sum.n_epoch_rows, 2 * (EPOCHS + 1));
    mz_tensor_desc *lay = NULL;
    int nl = 0;
    CHECK_OK(mz_store_layout(store, "resnet18/c3/k10", &lay, &nl, NULL, &err), &err);
    CHECK_EQ_INT(nl, 122);
    if (lay && nl == 122)
        CHECK(!strcmp(lay[121].name, "fc.bias") && lay[5].ndim == 0 && lay[5].count == 1);
    free(lay);
    mz_store_close(store);

    /* stopped after 3 commits, then resumed with one thread */
    printf("checks of the first zoo: %.2f s\n", mz_now() - t0);
    t0 = mz_now();
    temp_path(zoo_b, sizeof zoo_b, "b");
    stopper sp = {0, 3};
    mz_train_opts o2 = {0};
    o2.threads = 2;
    o2.stop = &sp.stop;
    o2.progress = stop_after;
    o2.progress_ctx = &sp;
    st = mz_train_run_ds(&spec, &ds, zoo_b, &o2, &err);
    CHECK_EQ_INT(st, MZ_EINTERRUPTED);
    mz_train_opts o3 = {0};
    o3.threads = 1;
    st = mz_train_run_ds(&spec, &ds, zoo_b, &o3, &err);
    CHECK_OK(st, &err);
    printf("stopped and resumed run: %.2f s\n", mz_now() - t0);
    compare_zoos(zoo_a, zoo_b, &spec, net.n_state);
    /* a finished zoo: nothing to do */
    CHECK_OK(mz_train_run_ds(&spec, &ds, zoo_b, &o3, &err), &err);

    printf("comparison: %.2f s\n", mz_now() - t0);
    t0 = mz_now();
    /* divergence */
    mz_spec dspec;
    char zoo_d[128];
    temp_path(zoo_d, sizeof zoo_d, "d");
    CHECK_OK(mz_spec_parse(&dspec, diverge_json, "diverge spec", &err), &err);
    CHECK_OK(mz_train_run_ds(&dspec, &ds, zoo_d, &opts, &err), &err);
    CHECK_OK(mz_store_open(&store, zoo_d, MZ_STORE_READ, &err), &err);
    if (store) {
        CHECK_OK(mz_store_summary_get(store, &sum, &err), &err);
        CHECK_EQ_INT(sum.by_status[MZ_MODEL_DONE], 1);
        CHECK_EQ_INT(sum.by_status[MZ_MODEL_DIVERGED], 1);
        mz_store_close(store);
    }
    mz_spec_release(&dspec);
    printf("divergence run: %.2f s\n", mz_now() - t0);

    /* Tiny-ImageNet's augmentation (flip + rotation), constant lr, one model, one epoch */
    mz_spec tspec;
    char zoo_t[128];
    temp_path(zoo_t, sizeof zoo_t, "t");
    CHECK_OK(
        mz_spec_parse(
            &tspec,
            "{\"dataset\": \"tiny-imagenet\", \"architecture\": \"resnet18\", \"epochs\": 1, "
            "\"batch_size\": 16, \"grid\": {\"init\": \"kaiming_uniform\", \"optimizer\": "
            "\"sgd\", \"lr\": 0.01, \"momentum\": 0.9, \"weight_decay\": 0.0005, \"seed\": 9}}",
            "tiny spec", &err),
        &err);
    CHECK_OK(mz_train_run_ds(&tspec, &ds, zoo_t, &opts, &err), &err);
    CHECK_OK(mz_store_open(&store, zoo_t, MZ_STORE_READ, &err), &err);
    if (store) {
        double tl = 0;
        epoch1_by_hand(&tspec, &ds, &tspec.models[0], 1, p, &tl);
        CHECK_OK(mz_store_read_weights(store, 0, 1, w, net.n_state, &err), &err);
        CHECK_MSG(!memcmp(p, w, sizeof(float) * (size_t)net.n_state),
                  "tiny-imagenet augmentation: stored epoch 1 differs from the recomputation");
        CHECK_NEAR(metrics(store, 0, 1).v[0], tl, 1e-12);
        mz_store_close(store);
    }
    mz_spec_release(&tspec);
    remove_zoo(zoo_t);

    /* mz_train_run hands resnet18 to this path (no "unknown architecture" from the CNN builder):
     * here it fails on the missing CIFAR-10 files, before creating the zoo file */
    mz_spec mspec;
    char zoo_m[128];
    temp_path(zoo_m, sizeof zoo_m, "m");
    CHECK_OK(mz_spec_parse(
                 &mspec,
                 "{\"dataset\": \"cifar10\", \"data\": \"/nonexistent-mzoo-dir\", \"variant\": "
                 "\"resnet\", \"architecture\": \"resnet18\", \"epochs\": 1, \"batch_size\": 8, "
                 "\"grid\": {}}",
                 "missing data", &err),
             &err);
    st = mz_train_run(&mspec, zoo_m, &opts, &err);
    CHECK_MSG(st == MZ_ENOTFOUND, "mz_train_run: %d (%s)", (int)st, err.msg);
    CHECK(access(zoo_m, F_OK) != 0);
    mz_spec_release(&mspec);

    remove_zoo(zoo_a);
    remove_zoo(zoo_b);
    remove_zoo(zoo_d);
    free(w);
    free(p);
    mz_dataset_release(&ds);
    mz_spec_release(&spec);
    return check_summary("test_resnet_train");
}
