/* mzoo-synth-zoo: writes a synthetic zoo through the store API, for the report's tests and its
 * timing on large zoos. The models are CNN-s on Fashion-MNIST's shape with real initial weights
 * (mz_arch_init_params) that then drift and diffuse each epoch; the metrics are made-up learning
 * curves whose plateau depends on the hyperparameters. A few models diverge (NaN: metrics and
 * weights stop), a few stay at chance. Everything is a pure function of the model id.
 *
 *   mzoo-synth-zoo -o ZOO.db [--models N] [--epochs E] [--twin]
 *
 * --twin writes a twin zoo instead: magnitude-pruned "twins" (targets 0.5 and 0.8) whose sparsity
 * grows over the epochs, with per-layer sparsity in epochs.metrics.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mzoo/nn.h"
#include "mzoo/spec.h"
#include "mzoo/store.h"

static double unit(uint64_t seed, uint32_t a, uint32_t b, uint32_t i)
{
    mz_rng_stream s = mz_rng_make(seed, MZ_RNG_USER, a, b, 0);
    return mz_u64_to_unit_double(mz_rng_u32(&s, 2 * (uint64_t)i),
                                 mz_rng_u32(&s, 2 * (uint64_t)i + 1));
}

static int fail(const char *what, const mz_error *err)
{
    fprintf(stderr, "mzoo-synth-zoo: %s: %s\n", what, err->msg);
    return 1;
}

int main(int argc, char **argv)
{
    const char *out = NULL;
    long n_models = 64;
    int epochs = 10, twin = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-o") && i + 1 < argc)
            out = argv[++i];
        else if (!strcmp(argv[i], "--models") && i + 1 < argc)
            n_models = strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--epochs") && i + 1 < argc)
            epochs = (int)strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--twin"))
            twin = 1;
        else {
            fprintf(stderr, "usage: mzoo-synth-zoo -o ZOO.db [--models N] [--epochs E] [--twin]\n");
            return 2;
        }
    }
    if (!out || n_models < 1 || n_models > 10000000 || epochs < 1 || epochs > 1000) {
        fprintf(stderr, "usage: mzoo-synth-zoo -o ZOO.db [--models N] [--epochs E] [--twin]\n");
        return 2;
    }
    mz_error err = {0};
    mz_arch arch[2];
    if (mz_arch_init(&arch[0], "cnn-s", 1, 28, 28, 0, &err) != MZ_OK ||
        mz_arch_init(&arch[1], "cnn-s", 1, 28, 28, 0.5, &err) != MZ_OK)
        return fail("architecture", &err);
    mz_layout layouts[2];
    for (int v = 0; v < 2; v++) {
        memcpy(layouts[v].variant, arch[v].variant, sizeof layouts[v].variant);
        layouts[v].n_tensors = arch[v].n_tensors;
        layouts[v].tensors = arch[v].tensors;
        layouts[v].n_params = arch[v].n_params;
    }
    static const char *const acts[] = {"tanh", "relu", "sigmoid", "gelu"};
    static const double act_plateau[] = {0.86, 0.88, 0.80, 0.87};
    mz_model_row *rows = calloc((size_t)n_models, sizeof *rows);
    char(*hp)[96] = calloc((size_t)n_models, sizeof *hp);
    if (!rows || !hp)
        return 1;
    for (long i = 0; i < n_models; i++) {
        mz_model_row *r = &rows[i];
        r->id = i;
        r->activation = acts[i % 4];
        r->init = (i / 4) % 2 ? "kaiming_uniform" : "uniform";
        r->optimizer = (i / 8) % 2 ? "sgd" : "adam";
        r->lr = (i / 16) % 2 ? 1e-4 : 1e-3;
        r->weight_decay = 1e-4;
        r->dropout = twin ? 0 : ((i / 32) % 2 ? 0.5 : 0);
        r->momentum = 0.9;
        r->nesterov = 0;
        r->has_seed = 1;
        r->seed = 1000 + i;
        r->variant = arch[r->dropout > 0].variant;
        r->source_id = twin ? i / 2 : -1;
        r->source_epoch = twin ? 50 : -1;
        if (twin) {
            snprintf(hp[i], sizeof hp[i],
                     "{\"method\":\"magnitude\",\"scope\":\"global\","
                     "\"target\":%s}",
                     i % 2 ? "0.8" : "0.5");
            r->hparams = hp[i];
        } else {
            r->hparams = NULL;
        }
    }
    char ep[16], nm[32];
    snprintf(ep, sizeof ep, "%d", epochs);
    snprintf(nm, sizeof nm, "%ld", n_models);
    const char *meta[][2] = {
        {"dataset", "fashion-mnist"}, {"architecture", "cnn-s"}, {"epochs", ep},
        {"batch_size", "10"},         {"n_models", nm},          {"method", "magnitude"}};
    char recipe[256];
    snprintf(recipe, sizeof recipe, "{\"synthetic\":{\"epochs\":%d,\"models\":%ld,\"twin\":%d}}",
             epochs, n_models, twin);
    mz_zoo_desc z = {0};
    z.kind = twin ? "twin" : "grid";
    z.recipe = recipe;
    z.n_meta = twin ? 6 : 5;
    z.meta = (const char *const(*)[2])meta;
    z.n_models = n_models;
    z.models = rows;
    z.n_layouts = 2;
    z.layouts = layouts;
    mz_store *st = NULL;
    if (mz_store_open(&st, out, MZ_STORE_WRITE, &err) != MZ_OK)
        return fail(out, &err);
    if (mz_store_attach(st, &z, &err) != MZ_OK)
        return fail("attach", &err);
    int64_t np = arch[0].n_params > arch[1].n_params ? arch[0].n_params : arch[1].n_params;
    float *w = malloc(sizeof(float) * (size_t)np * (size_t)(epochs + 1)),
          *drift = malloc(sizeof(float) * (size_t)np), *noise = malloc(sizeof(float) * (size_t)np);
    mz_epoch_record *rec = calloc((size_t)epochs + 1, sizeof *rec);
    char(*metrics)[160] = calloc((size_t)epochs + 1, sizeof *metrics);
    if (!w || !drift || !noise || !rec || !metrics)
        return 1;
    for (long i = 0; i < n_models; i++) {
        const mz_model_row *r = &rows[i];
        const mz_arch *a = &arch[r->dropout > 0];
        mz_arch_init_params(a, (i / 4) % 2 ? MZ_INIT_KAIMING_UNIFORM : MZ_INIT_UNIFORM, r->seed, w);
        mz_rng_stream ds = mz_rng_make((uint64_t)r->seed, MZ_RNG_USER, 7, 0, 0);
        mz_rng_normal(&ds, drift, (size_t)a->n_params);
        /* the plateau: activation, optimizer and learning rate matter; a few never learn */
        double plateau = act_plateau[i % 4] - ((i / 8) % 2 ? 0.06 : 0) - ((i / 16) % 2 ? 0.05 : 0) +
                         0.02 * (unit((uint64_t)r->seed, 1, 0, 0) - 0.5);
        int chance = i % 17 == 5, diverge_at = i % 23 == 7 ? epochs / 2 + 1 : -1;
        if (chance)
            plateau = 0.1;
        double tau = 1.0 + 2.0 * unit((uint64_t)r->seed, 2, 0, 0);
        int n = 0;
        for (int e = 0; e <= epochs; e++) {
            float *we = w + (size_t)e * (size_t)a->n_params;
            if (e > 0) {
                mz_rng_stream ns = mz_rng_make((uint64_t)r->seed, MZ_RNG_USER, 8, (uint32_t)e, 0);
                mz_rng_normal(&ns, noise, (size_t)a->n_params);
                float *prev = we - a->n_params;
                for (int64_t j = 0; j < a->n_params; j++)
                    we[j] = prev[j] + 0.01f * drift[j] + 0.004f * noise[j];
            }
            double sp = 0;
            if (twin) { /* prune the smallest weights: a growing fraction of the target */
                double target = i % 2 ? 0.8 : 0.5;
                sp = target * (1 - exp(-(double)e / 2.0));
                int64_t pruned = 0, total = 0;
                double thr =
                    sp * 0.12; /* |w| below thr: about a fraction sp of the initial weights */
                for (int l = 0; l < a->n_layers; l++) {
                    const mz_layer *ly = &a->layers[l];
                    if (ly->kind != MZ_LAYER_CONV && ly->kind != MZ_LAYER_LINEAR)
                        continue;
                    int64_t cnt = (int64_t)ly->out_c * ly->in_c *
                                  (ly->kind == MZ_LAYER_CONV ? ly->k * ly->k : 1);
                    for (int64_t j = 0; j < cnt; j++) {
                        total++;
                        if (fabsf(we[ly->w_off + j]) < thr) {
                            we[ly->w_off + j] = 0;
                            pruned++;
                        }
                    }
                }
                sp = total ? (double)pruned / (double)total : 0;
                snprintf(metrics[e], sizeof metrics[e],
                         "{\"sparsity\":{\"conv1\":%.4f,\"conv2\":%.4f,\"conv3\":%.4f,"
                         "\"fc1\":%.4f,\"fc2\":%.4f}}",
                         sp * 0.6, sp * 0.9, sp * 1.0, sp * 1.05 > 1 ? 1 : sp * 1.05, sp * 0.5);
            }
            mz_epoch_record *rc = &rec[n++];
            memset(rc, 0, sizeof *rc);
            rc->model_id = i;
            rc->epoch = e;
            double acc = plateau - (plateau - 0.1) * exp(-(double)e / tau) +
                         0.01 * (unit((uint64_t)r->seed, 3, (uint32_t)e, 0) - 0.5);
            if (twin)
                acc = 0.85 - 0.3 * pow(sp, 4) +
                      0.005 * (unit((uint64_t)r->seed, 3, (uint32_t)e, 0) - 0.5);
            double train = acc + 0.02 * (1 - exp(-(double)e / 4)) +
                           0.005 * unit((uint64_t)r->seed, 4, (uint32_t)e, 0);
            rc->test_acc = acc;
            rc->val_acc = acc + 0.003;
            rc->train_acc = train > 1 ? 1 : train;
            rc->test_loss = -log(acc > 0.05 ? acc : 0.05) * 1.2;
            rc->val_loss = rc->test_loss * 0.99;
            rc->train_loss = -log(rc->train_acc) * 1.1;
            rc->sparsity = twin ? sp : NAN;
            rc->metrics = twin ? metrics[e] : NULL;
            rc->weights = we;
            rc->n_weights = a->n_params;
            rc->status = MZ_MODEL_RUNNING;
            if (e == diverge_at) { /* the loss became NaN: the epoch is not kept */
                n--;
                rc = &rec[n];
                memset(rc, 0, sizeof *rc);
                rc->model_id = i;
                rc->epoch = -1;
                rc->status_only = 1;
                rc->status = MZ_MODEL_DIVERGED;
                rc->message = "train loss is NaN (synthetic)";
                n++;
                break;
            }
        }
        if (!rec[n - 1].status_only)
            rec[n - 1].status = MZ_MODEL_DONE;
        if (mz_store_commit(st, rec, n, &err) != MZ_OK)
            return fail("commit", &err);
    }
    if (mz_store_fold(st, &err) != MZ_OK)
        return fail("fold", &err);
    mz_store_close(st);
    free(w), free(drift), free(noise), free(rec), free(metrics), free(rows), free(hp);
    return 0;
}
