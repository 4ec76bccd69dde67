/* The trainer against an independent re-computation of the protocol with the reference kernels:
 * two models (Adam and SGD with momentum, dropout 0.5, GELU) on 200 Fashion-MNIST images for one
 * epoch. Epoch-0 weights must equal the initialisation, epoch-1 weights must equal plain
 * forward/backward/step over the model's own shuffled batches bit for bit, and the stored train and
 * test metrics must match. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "mzoo/data.h"
#include "mzoo/nn.h"
#include "mzoo/optim.h"
#include "mzoo/spec.h"
#include "mzoo/store.h"
#include "mzoo/train.h"
#include "nn/nn-impl.h"

static const char spec_json[] =
    "{\"dataset\": \"fashion-mnist\", \"architecture\": \"cnn-s\", \"epochs\": 1, \"batch_size\": 10,"
    " \"train_subset\": 205, \"grid\": {\"activation\": \"gelu\", \"init\": \"kaiming_normal\","
    " \"optimizer\": [\"adam\", \"sgd\"], \"lr\": 0.01, \"weight_decay\": 0.001, \"momentum\": 0.9,"
    " \"dropout\": 0.5, \"seed\": 3}}";

typedef struct metrics {
    double v[2];
    int n;
} metrics;

static int get_metrics(void *ctx, int ncol, const char *const *val, const char *const *names)
{
    metrics *m = ctx;
    for (int i = 0; i < ncol && i < 2; i++)
        m->v[i] = val[i] ? strtod(val[i], NULL) : -1;
    m->n++;
    return 0;
}

int main(void)
{
    mz_error err = {0};
    mz_spec spec;
    CHECK_OK(mz_spec_parse(&spec, spec_json, "test spec", &err), &err);
    CHECK_EQ_INT(spec.n_models, 2);
    char path[] = "/tmp/mz_test_train_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    unlink(path);
    mz_train_opts opts = {0};
    opts.threads = 2;
    mz_status st = mz_train_run(&spec, path, &opts, &err);
    CHECK_OK(st, &err);
    if (st != MZ_OK)
        return check_summary("test_train");

    mz_dataset ds;
    CHECK_OK(mz_dataset_load(&ds, "fashion-mnist", NULL, NULL, &err), &err);
    CHECK_OK(mz_dataset_subset_train(&ds, 205, &err), &err);
    mz_store *store = NULL;
    CHECK_OK(mz_store_open(&store, path, MZ_STORE_READ, &err), &err);

    for (int64_t m = 0; m < spec.n_models; m++) {
        const mz_model_spec *ms = &spec.models[m];
        mz_arch a;
        CHECK_OK(mz_arch_init(&a, "cnn-s", 1, 28, 28, ms->dropout, &err), &err);
        int64_t np = a.n_params;
        float *p = calloc((size_t)np, 4), *g = calloc((size_t)np, 4), *w = calloc((size_t)np, 4);
        float *opt = calloc((size_t)(2 * np), 4);
        int B = 10;
        float *ws = calloc((size_t)mz_ref_workspace_floats(&a, B), 4);
        float *x = calloc((size_t)(784 * B), 4), logits[100], dlogits[100];
        int32_t y[10];
        mz_arch_init_params(&a, ms->init, ms->seed, p);
        CHECK_OK(mz_store_read_weights(store, m, 0, w, np, &err), &err);
        CHECK_MSG(!memcmp(p, w, sizeof(float) * (size_t)np), "model %lld: epoch-0 weights differ from the init", (long long)m);

        /* epoch 1 by hand */
        int64_t N = ds.train.n;
        uint32_t *perm = malloc(sizeof(uint32_t) * (size_t)N);
        mz_rng_stream s = mz_rng_make((uint64_t)ms->seed, MZ_RNG_SHUFFLE, 1, 0, 0);
        mz_rng_permutation(&s, perm, (uint32_t)N);
        mz_optim_cfg oc;
        mz_optim_cfg_from_model(&oc, ms);
        double loss_sum = 0;
        int64_t hits = 0, t = 0;
        for (int step = 0; step * B < N; step++) {
            int nb = (int)(N - step * B < B ? N - step * B : B);
            for (int b = 0; b < nb; b++) {
                uint32_t i = perm[step * B + b];
                mz_image_to_float(ds.train.x + (int64_t)i * 784, 1, 784, &ds.lut[0][0], x + b * 784);
                y[b] = ds.train.y[i];
            }
            mz_fwd_cfg fc = {ms->activation, (float)ms->dropout, 1, ms->seed, 1, step};
            mz_ref_forward(&a, &fc, p, x, nb, ws, logits);
            int c = 0;
            float l = mz_ref_loss(logits, y, nb, 10, dlogits, &c);
            loss_sum += (double)l * nb;
            hits += c;
            mz_ref_backward(&a, &fc, p, nb, dlogits, ws, g);
            mz_optim_step(&oc, p, g, opt, np, ++t);
        }
        CHECK_OK(mz_store_read_weights(store, m, 1, w, np, &err), &err);
        int same = !memcmp(p, w, sizeof(float) * (size_t)np);
        CHECK_MSG(same, "model %lld: epoch-1 weights differ from the reference computation", (long long)m);
        if (!same)
            CHECK_CLOSE("epoch-1 weights", w, p, np, 1e-5, 1e-6);

        /* test metrics of the trained model by hand */
        double test_loss = 0;
        int64_t test_hits = 0;
        mz_fwd_cfg ev = {ms->activation, (float)ms->dropout, 0, ms->seed, 0, 0};
        for (int64_t i = 0; i < ds.test.n; i++) {
            mz_image_to_float(ds.test.x + i * 784, 1, 784, &ds.lut[0][0], x);
            mz_ref_forward(&a, &ev, p, x, 1, ws, logits);
            int c = 0;
            test_loss += mz_ref_loss(logits, &ds.test.y[i], 1, 10, NULL, &c);
            test_hits += c;
        }
        char sql[200];
        snprintf(sql, sizeof sql, "SELECT train_loss, train_acc FROM epochs WHERE model_id = %lld AND epoch = 1", (long long)m);
        metrics mt = {{0, 0}, 0};
        CHECK_OK(mz_store_query(store, sql, get_metrics, &mt, &err), &err);
        CHECK_EQ_INT(mt.n, 1);
        CHECK_NEAR(mt.v[0], loss_sum / (double)N, 1e-12 * (loss_sum / (double)N));
        CHECK_NEAR(mt.v[1], (double)hits / (double)N, 1e-12);
        snprintf(sql, sizeof sql, "SELECT test_loss, test_acc FROM epochs WHERE model_id = %lld AND epoch = 1", (long long)m);
        mt.n = 0;
        CHECK_OK(mz_store_query(store, sql, get_metrics, &mt, &err), &err);
        CHECK_NEAR(mt.v[0], test_loss / (double)ds.test.n, 1e-12 * (test_loss / (double)ds.test.n));
        CHECK_NEAR(mt.v[1], (double)test_hits / (double)ds.test.n, 1e-12);
        free(p), free(g), free(w), free(opt), free(ws), free(x), free(perm);
    }
    mz_store_close(store);
    mz_dataset_release(&ds);
    mz_spec_release(&spec);
    unlink(path);
    char side[600];
    snprintf(side, sizeof side, "%s-wal", path), unlink(side);
    snprintf(side, sizeof side, "%s-shm", path), unlink(side);
    return check_summary("test_train");
}
