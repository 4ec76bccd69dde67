/* bench_writer: how fast one zoo file takes commits, the ceiling of rank 0 in a run over many
 * processes (docs/SCALING.md). Writes synthetic epochs of CNN-s models (2,464 weights, Adam
 * state of 4,928 floats) the way the driver does: one transaction per batch of up to 16 records,
 * WAL, synchronous=FULL, checksums; prints model-epochs/s, transactions/s and MB/s.
 *
 *   bench_writer DIR [models [epochs [batch [weights]]]]   (default 2560 models x 3 epochs,
 *                                                          batches of 16, 2464 weights)
 * With MZ_KEEP=1 the zoo stays in DIR/bench_writer.db (a synthetic zoo for reader benchmarks). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mzoo/nn.h"
#include "mzoo/store.h"

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_writer DIR [models [epochs [batch [weights]]]]\n");
        return 2;
    }
    int64_t models = argc > 2 ? atoll(argv[2]) : 2560;
    int epochs = argc > 3 ? atoi(argv[3]) : 3, batch = argc > 4 ? atoi(argv[4]) : 16;
    int64_t nw = argc > 5 ? atoll(argv[5]) : 2464, nopt = 2 * nw;
    if (models < 1 || epochs < 1 || batch < 1 || batch > 64 || nw < 1)
        return 2;
    char path[4096];
    snprintf(path, sizeof path, "%s/bench_writer.db", argv[1]);
    unlink(path);
    /* CNN-s's layout when the size is its 2,464 weights (readers need conv/linear tensors), one
     * flat tensor otherwise */
    mz_arch a;
    mz_error aerr = {0};
    mz_tensor_desc t = {"w", 1, {nw, 0, 0, 0}, 0, nw};
    mz_layout lay = {"synthetic", 1, &t, nw};
    if (mz_arch_init(&a, "cnn-s", 1, 28, 28, 0, &aerr) == MZ_OK && a.n_params == nw) {
        snprintf(lay.variant, sizeof lay.variant, "%s", a.variant);
        lay.n_tensors = a.n_tensors;
        lay.tensors = a.tensors;
    }
    mz_model_row *rows = calloc((size_t)models, sizeof *rows);
    for (int64_t i = 0; i < models; i++) {
        rows[i].id = i;
        rows[i].activation = "tanh";
        rows[i].init = "uniform";
        rows[i].optimizer = "adam";
        rows[i].lr = 3e-4;
        rows[i].weight_decay = rows[i].dropout = rows[i].momentum = 0;
        rows[i].nesterov = 0;
        rows[i].has_seed = 1;
        rows[i].seed = i;
        rows[i].source_id = rows[i].source_epoch = -1;
    }
    for (int64_t i = 0; i < models; i++)
        rows[i].variant = lay.variant;
    char ep[16];
    snprintf(ep, sizeof ep, "%d", epochs);
    const char *kv[1][2] = {{"epochs", ep}};
    mz_zoo_desc z = {
        "grid", "{\"bench\":\"writer\"}", 1, (const char *const(*)[2])kv, models, rows, 1, &lay,
        NULL};
    mz_error err = {0};
    mz_store *st = NULL;
    if (mz_store_open(&st, path, MZ_STORE_WRITE, &err) || mz_store_attach(st, &z, &err)) {
        fprintf(stderr, "bench_writer: %s\n", err.msg);
        return 1;
    }
    float *buf = malloc(sizeof(float) * (size_t)(batch * (nw + nopt)));
    for (int64_t i = 0; i < (int64_t)batch * (nw + nopt); i++)
        buf[i] = (float)sin((double)i);
    mz_epoch_record *rec = calloc((size_t)batch, sizeof *rec);
    double t0 = mz_now();
    int64_t commits = 0, records = 0;
    for (int e = 0; e < epochs; e++)
        for (int64_t first = 0; first < models; first += batch) {
            int n = (int)(models - first < batch ? models - first : batch);
            for (int k = 0; k < n; k++) {
                mz_epoch_record *r = &rec[k];
                memset(r, 0, sizeof *r);
                r->model_id = first + k;
                r->epoch = e;
                r->train_loss = r->train_acc = r->val_loss = r->val_acc = 0.5;
                r->test_loss = r->test_acc = 0.5;
                r->sparsity = NAN;
                buf[k * (nw + nopt)] = (float)e; /* every blob differs */
                r->weights = buf + k * (nw + nopt);
                r->n_weights = nw;
                r->opt_state = r->weights + nw;
                r->n_opt = nopt;
                r->opt_step = e;
                r->status = e == epochs - 1 ? MZ_MODEL_DONE : MZ_MODEL_RUNNING;
            }
            if (mz_store_commit(st, rec, n, &err)) {
                fprintf(stderr, "bench_writer: %s\n", err.msg);
                return 1;
            }
            commits++;
            records += n;
        }
    double dt = mz_now() - t0;
    mz_store_close(st);
    double mb = (double)records * (double)(nw + nopt) * 4.0 / 1e6;
    printf("bench_writer: %lld model-epochs in %lld transactions of up to %d, %.2f s: %.0f "
           "model-epochs/s, %.1f transactions/s, %.1f MB/s of blobs (weights + optimizer state)\n",
           (long long)records, (long long)commits, batch, dt, (double)records / dt,
           (double)commits / dt, mb / dt);
    if (!getenv("MZ_KEEP") || strcmp(getenv("MZ_KEEP"), "1") != 0)
        unlink(path);
    free(buf);
    free(rec);
    free(rows);
    return 0;
}
