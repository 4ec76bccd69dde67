/* mzoo sparse: sparsified twins of a zoo's models.
 *
 * For every selected model of a source zoo, a twin starts from one of its checkpoints and is kept,
 * with its whole sparsification trajectory, in a twin zoo: its own zoo file (meta kind "twin";
 * docs/FORMAT.md, docs/SPARSIFY.md). The source zoo is only read.
 *
 * Methods:
 *  - "vd": variational dropout (Molchanov et al. 2017), the reference's ARD twins. The twin's
 *    checkpoint is the ARD state_dict (per conv/linear layer: weight, bias, log_sigma2,
 *    log_sigma2_bias); epoch 0 is the source checkpoint with log_sigma2 = -10, evaluated; epochs
 *    1..E train on the source zoo's dataset with the source model's optimizer settings (fresh
 *    state), its seed and batch size, the loss CE + w_e KL with the reference's schedule
 *    w_e = 0.01 (e - 1) / E for training epoch e (0 for the evaluation of epoch 0). Train metrics
 *    are the noisy forward's running averages; val/test metrics are the pruned network's (weights
 *    with log alpha >= 3 zeroed), the test loss including w_e KL as the reference's does; the
 *    sparsity is the fraction of weights pruned (biases not counted), per layer in the metrics.
 *  - "magnitude": magnitude pruning to each target sparsity (global: the smallest |w| over all
 *    conv/linear weights; per layer: the smallest of each layer), biases kept; epoch 0 is the
 *    pruned source checkpoint, evaluated; epochs 1..E fine-tune with the mask fixed. Each
 *    (model, target) pair is a twin of its own.
 *
 * Twins train in populations like ordinary models (nn/pop.h), through the same driver: one
 * writer, resumable, bit-identical whatever the threads, grouping or interruptions. */
#ifndef MZOO_SPARSE_H
#define MZOO_SPARSE_H

#include "mzoo/core.h"
#include "mzoo/nn.h"
#include "mzoo/train.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mz_sparse_method { MZ_SPARSE_VD = 0, MZ_SPARSE_MAGNITUDE = 1 } mz_sparse_method;
const char *mz_sparse_method_name(mz_sparse_method m);

#define MZ_SPARSE_MAX_TARGETS 16

typedef struct mz_sparsify_opts {
    mz_sparse_method method;
    int from_epoch;    /* the source checkpoint: an epoch number, or -1 for each model's last
                          committed epoch (default) */
    int epochs;        /* training (vd, default 25) or fine-tuning (magnitude, default 0) epochs */
    const char *where; /* selects the source models: an SQL expression over the columns of the
                          source's models (m) and of the chosen checkpoint's epochs row (e), or
                          NULL for all models that have the checkpoint */
    const char *data_dir; /* the dataset's files (NULL: the default location) */
    /* magnitude */
    int n_targets;
    double targets[MZ_SPARSE_MAX_TARGETS]; /* sparsities in (0, 1) */
    int per_layer;                         /* 0: one global threshold; 1: per layer */
    mz_train_opts train;                   /* threads, progress, stop, backend, max_group */
} mz_sparsify_opts;
/* vd, the last epoch, 25 epochs, all models; magnitude targets 0.5, 0.7, 0.8, 0.9, global. */
void mz_sparsify_opts_default(mz_sparsify_opts *o);

/* The twins mz_sparsify_run would make (without training): their number and the source models
 * and epochs, in twin order (malloc'd arrays, caller frees; either may be NULL). */
mz_status mz_sparsify_plan(const char *source_zoo, const mz_sparsify_opts *o, int64_t *n_twins,
                           int64_t **source_ids, int **source_epochs, mz_error *err);

/* Makes (or resumes) the twin zoo at twin_zoo from source_zoo. A twin zoo made from another
 * source, selection, method or settings is refused (MZ_EMISMATCH) and left as it is; the source
 * is never written. Errors: MZ_ENOTFOUND (no such epoch, nothing selected), MZ_EUNSUPPORTED (an
 * architecture that cannot be sparsified), and those of mz_train_run. */
mz_status mz_sparsify_run(const char *source_zoo, const char *twin_zoo, const mz_sparsify_opts *o,
                          mz_error *err);

/* A variational-dropout twin's figures as its epochs rows record them: *sparsity = dropped weights
 * (log alpha >= 3, mz_ard_dropped_layers) / all weights of its conv and linear layers (biases not
 * counted), and json = {"sparsity":{"conv1":...,"fc1":...}}, the same fraction per layer, layers
 * named by position (conv1, conv2, ..., fc1, fc2, ...), numbers in their shortest round-trip form
 * (mz_format_double). `a` is an ARD architecture (mz_arch_init_ard), params its [a->n_params].
 * MZ_ELIMIT when json[cap] is too small (512 bytes hold any CNN-s or CNN-l). */
mz_status mz_ard_sparsity_metrics(const mz_arch *a, const float *params, double *sparsity,
                                  char *json, size_t cap, mz_error *err);

/* The paper's twin zoos: the settings of `mzoo sparsify --preset NAME`, which also checks that
 * the source zoo was made with source_preset. */
typedef struct mz_twin_preset {
    const char *name;          /* e.g. "mnist-seed-vd" */
    const char *source_preset; /* the zoo preset the twins are made from */
    const char *reference;     /* the reference's experiment directory */
    const char *description;
    mz_sparse_method method;
    int from_epoch, epochs;
    int64_t n_twins; /* as the reference made them */
} mz_twin_preset;
int mz_twin_preset_count(void);
const mz_twin_preset *mz_twin_preset_get(int i); /* NULL out of range */
const mz_twin_preset *mz_twin_preset_find(const char *name);

#ifdef __cplusplus
}
#endif
#endif
