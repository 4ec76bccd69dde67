/* mzoo train: generates a zoo. Expands the spec into models, groups them into units of work
 * (CNN-s/CNN-l: populations of up to MZ_LANES models with the same layout variant, activation and
 * progress; ResNet-18: one model), trains the units on worker threads and hands every finished
 * (unit, epoch) to a single writer thread that commits it to the zoo file in one transaction and
 * reports progress. Running it again on the same file resumes where it stopped.
 *
 * Protocol per model (the reference's, Version B semantics):
 *   epoch 0: eval-mode loss/accuracy of the untrained model on the train, val and test sets;
 *   epoch e = 1..E: one training epoch over the train split in this model's own shuffled order
 *   (Philox(seed, SHUFFLE, e)), batches of batch_size (the last one smaller), train loss/accuracy =
 *   running averages of the training-mode batches; then eval-mode val and test.
 */
#ifndef MZOO_TRAIN_H
#define MZOO_TRAIN_H

#include "mzoo/core.h"
#include "mzoo/data.h"
#include "mzoo/spec.h"
#include "mzoo/store.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mz_train_progress {
    int64_t models_total;
    int64_t models_done; /* done, diverged or failed (finished one way or another) */
    int64_t models_diverged;
    int64_t models_failed;
    int64_t epochs_total;   /* model-epochs to commit in this run, including epoch 0 rows */
    int64_t epochs_done;    /* model-epochs committed in this run */
    int64_t models_skipped; /* already finished when the run started */
    double elapsed;         /* seconds since the run started */
    double eta;             /* seconds, estimate; < 0 if unknown */
    double samples_per_sec; /* training samples per second, all models */
    int last_epoch;         /* epoch of the last commit */
    double last_test_acc;   /* mean test accuracy of the last committed group */
    int64_t commits;        /* transactions committed in this run */
    int final;              /* 1 on the last call */
} mz_train_progress;

typedef void (*mz_train_progress_fn)(void *ctx, const mz_train_progress *p);

/* ---- several processes (MPI) ----
 * Under an MPI launcher (mpirun, srun), every process runs the same command; rank 0 owns the zoo
 * file (the only writer) and hands out units of work (a group of models from a start epoch) to
 * the other ranks as they ask, with the resume state they need; every finished epoch is sent back
 * to rank 0, which commits it exactly as a local run does. The zoo file is bit-identical to a
 * single-process run whatever the number of ranks and threads. A rank that cannot load the data,
 * or runs a different build or recipe, is refused before anything is written, naming the rank
 * and its host. */
typedef struct mz_dist mz_dist;
/* 1 if this process was started by an MPI launcher as one of several processes. */
int mz_dist_launched(void);
/* Joins the MPI job (MPI_Init_thread). MZ_EUNSUPPORTED in a build without MPI. */
mz_status mz_dist_init(mz_dist **out, int *argc, char ***argv, mz_error *err);
int mz_dist_rank(const mz_dist *d);
int mz_dist_size(const mz_dist *d);
const char *mz_dist_host(const mz_dist *d);
/* Every rank with its own status: all get MZ_OK, or all get the first failing rank's status
 * with its message, prefixed with "rank K (host): ". For checks each rank makes on its own
 * (reading the spec, the options) before a run. With d NULL: local. */
mz_status mz_dist_check(mz_dist *d, mz_status local, mz_error *err);
/* Leaves the job (MPI_Finalize) and frees d; NULL is a no-op. */
void mz_dist_finalize(mz_dist *d);

typedef struct mz_train_opts {
    int threads;                   /* worker threads; <= 0: all online CPUs */
    const char *backend;           /* population backend name, NULL = default */
    mz_train_progress_fn progress; /* called from the writer thread after each commit, and once
                                      more with final = 1 at the end; may be NULL */
    void *progress_ctx;
    volatile int *stop; /* if non-NULL and set non-zero (e.g. by a signal handler, with
                           __atomic_store_n), the run stops after committing complete
                           epochs; returns MZ_EINTERRUPTED */
    int max_group;      /* models per population, 1..MZ_LANES; 0 = automatic */
    mz_dist *dist;      /* several processes (mz_dist_init), or NULL: this process alone */
    int shard, shards;  /* shards > 0: train only the models with id % shards == shard (a part
                           of the zoo for mz_zoo_merge); 0: all models */
} mz_train_opts;

/* Trains every unfinished model of spec into the zoo file at zoo_path (created if missing;
 * refused with MZ_EMISMATCH if it holds a different spec). Loads the dataset named by the spec.
 * A model whose loss or weights become NaN/Inf is marked diverged and the others go on. */
mz_status mz_train_run(const mz_spec *spec, const char *zoo_path, const mz_train_opts *opts,
                       mz_error *err);
/* The same on a dataset the caller has loaded (and subset: spec->train_subset is not applied);
 * spec->dataset still names it in the zoo and selects ResNet augmentation. */
mz_status mz_train_run_ds(const mz_spec *spec, const mz_dataset *ds, const char *zoo_path,
                          const mz_train_opts *opts, mz_error *err);

/* Merges the shards of a zoo (files made by mz_train_run with opts.shards = N, one for each
 * shard 0..N-1) into a new zoo file at out whose content equals a single run's: the parts must
 * come from the same recipe and build, be disjoint and complete (every model finished in its
 * shard), else MZ_ENOTFOUND / MZ_EMISMATCH listing what is wrong, and nothing is written. The
 * parts are only read. */
mz_status mz_zoo_merge(const char *const *parts, int n_parts, const char *out, mz_error *err);

/* The description a zoo file records for a grid zoo made from spec (mz_store_attach), with
 * variant_of[i] the layout variant of model i and the layouts of every variant; desc borrows
 * spec, variant_of and layouts, which must outlive it. */
typedef struct mz_grid_desc {
    mz_zoo_desc desc;
    void *mem; /* owned */
} mz_grid_desc;
mz_status mz_grid_desc_make(mz_grid_desc *out, const mz_spec *spec, const char *const *variant_of,
                            const mz_layout *layouts, int n_layouts, mz_error *err);
void mz_grid_desc_release(mz_grid_desc *d);

#ifdef __cplusplus
}
#endif
#endif
