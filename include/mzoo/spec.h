/* mzoo spec: a zoo's recipe (JSON) and its expansion into one model spec per grid point.
 *
 * Spec file (all keys but "grid" are top-level):
 *   {
 *     "dataset": "fashion-mnist",         required, one of mz_dataset_names()
 *     "data": "/path/to/dir",              optional; where the dataset files are
 *     "variant": "28px",                   optional; dataset preprocessing variant, checked
 *                                          against the architecture (cnn-s 28 px, cnn-l 32 px)
 *     "architecture": "cnn-s",             required: cnn-s | cnn-l | resnet18
 *     "epochs": 50,                        required, >= 1
 *     "batch_size": 10,                    required, >= 1
 *     "train_subset": 1000,                optional; train on the first N training images only
 *     "scheduler": "none" | "onecycle",    optional, default "none"
 *     "grid": {
 *        "activation": "tanh" | [...],    tanh relu sigmoid gelu leakyrelu silu
 *        "init": "uniform" | [...],       uniform normal kaiming_uniform kaiming_normal
 *                                         xavier_uniform xavier_normal default
 *        "optimizer": "adam" | [...],     adam sgd
 *        "lr": 3e-4 | [...],              > 0
 *        "weight_decay": 0 | [...],       >= 0
 *        "dropout": 0 | [...],            0 <= p < 1
 *        "momentum": 0.9 | [...],         >= 0 (sgd only; default 0)
 *        "nesterov": false | [...],       sgd only; default false
 *        "seed": 1 | [1,2] | {"range": [1, 1000]} | {"random": 10, "master_seed": 7}
 *     }
 *   }
 * Defaults when a grid key is absent: activation tanh, init uniform, optimizer adam, lr 3e-4,
 * weight_decay 0, dropout 0, momentum 0, nesterov false, seed 1.
 *
 * Expansion order (model ids 0..n-1): nested loops with activation outermost, then init, optimizer,
 * lr, weight_decay, dropout, momentum, nesterov, and seed innermost; list order within each key.
 * {"random": N, "master_seed": S} gives each hyperparameter combination N repetitions whose seeds
 * are independent uniform integers in [0, 999999], drawn from Philox(S, MZ_RNG_SEEDS) by model id,
 * as the reference's per-trial tune.randint(0, 1000000) but reproducible.
 */
#ifndef MZOO_SPEC_H
#define MZOO_SPEC_H

#include "mzoo/core.h"
#include "mzoo/hparams.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mz_spec {
    char dataset[32];
    char data_dir[1024]; /* "" = default location */
    char variant[16];    /* "" = dataset default */
    char architecture[16];
    int epochs;
    int batch_size;
    int64_t train_subset; /* 0 = whole training split */
    mz_scheduler scheduler;
    /* The recipe: canonical JSON of everything that determines the models' results (all keys
     * above except "data", with defaults filled in, keys sorted, no whitespace). Two specs are
     * the same zoo iff their recipes are equal. Owned. */
    char *recipe;
    int64_t n_models;
    mz_model_spec *models; /* [n_models], owned, in expansion order */
} mz_spec;

/* Parses and validates a spec. `origin` names the source in messages (usually the file path).
 * Errors are MZ_ESPEC with "origin: key.path: what is wrong (expected ...)". */
mz_status mz_spec_parse(mz_spec *spec, const char *json_text, const char *origin, mz_error *err);
mz_status mz_spec_load_file(mz_spec *spec, const char *path, mz_error *err);
void mz_spec_release(mz_spec *spec);

/* The first difference between two recipes (JSON texts) as "grid.lr is 0.001 in the file but
 * 0.0001 in <want_name>" (key path in sorted-key order; want_name e.g. "the spec"), into buf. */
void mz_recipe_diff(const char *have, const char *want, const char *want_name, char *buf,
                    size_t cap);

/* 1 if two recipes (JSON texts) are equal but for their "grid" objects: the same zoo settings,
 * perhaps with other hyperparameter values. */
int mz_recipe_same_settings(const char *a, const char *b);

#ifdef __cplusplus
}
#endif
#endif
