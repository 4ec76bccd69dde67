/* mzoo store: one SQLite file per zoo (schema in docs/FORMAT.md).
 *
 * Tables: meta(key, value), models(id, variant, <hyperparameters>, status, epochs_done, message),
 * epochs(model_id, epoch, metrics..., weights BLOB), layout(variant, idx, name, shape, offset,
 * count), resume(model_id, epoch, opt_step, opt_state BLOB).
 *
 * Threading: an mz_store handle is used by one thread at a time (the single writer). Readers in
 * other processes may read concurrently (WAL mode).
 */
#ifndef MZOO_STORE_H
#define MZOO_STORE_H

#include "mzoo/core.h"
#include "mzoo/spec.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MZ_SCHEMA_VERSION 1

typedef struct mz_store mz_store;

typedef enum mz_store_mode {
    MZ_STORE_READ = 0,   /* read-only; the file must exist and be a zoo */
    MZ_STORE_WRITE = 1,  /* read-write; created if missing */
} mz_store_mode;

typedef enum mz_model_status {
    MZ_MODEL_PENDING = 0,
    MZ_MODEL_RUNNING = 1,  /* some epochs committed */
    MZ_MODEL_DONE = 2,
    MZ_MODEL_DIVERGED = 3, /* NaN/Inf loss or weights; its last finite epochs are kept */
    MZ_MODEL_FAILED = 4,
} mz_model_status;
const char *mz_model_status_name(mz_model_status s);

/* A layout variant: the tensors of one architecture variant in state_dict order. */
typedef struct mz_layout {
    char variant[64];          /* e.g. "cnn-s/c1/dropout" */
    int n_tensors;
    const mz_tensor_desc *tensors;
    int64_t n_params;          /* total floats in the weights blob */
} mz_layout;

/* Opens (or in WRITE mode creates) a zoo file. Errors: MZ_EBUSY if locked, MZ_EREADONLY,
 * MZ_ENOTFOUND (READ mode, missing), MZ_EFORMAT (not an SQLite file / not a zoo / newer schema). */
mz_status mz_store_open(mz_store **out, const char *path, mz_store_mode mode, mz_error *err);
void mz_store_close(mz_store *st);

/* Ties the file to a zoo. In an empty file: creates the schema and, in one transaction, writes
 * meta (schema_version, generator, recipe, created_at), one models row per spec model (status
 * pending) with `variant_of[i]` as its layout variant, and the layout rows of every variant.
 * In a file that already holds a zoo: checks that its recipe equals spec->recipe, else
 * MZ_EMISMATCH with an explanation of the first difference; nothing is written. */
mz_status mz_store_attach(mz_store *st, const mz_spec *spec, const char *const *variant_of,
                          const mz_layout *layouts, int n_layouts, mz_error *err);

/* Per-model progress, for resuming. `epochs_done` = highest committed epoch, -1 if none. */
typedef struct mz_model_progress {
    int64_t model_id;
    mz_model_status status;
    int epochs_done;
} mz_model_progress;
/* Fills out[0..n_models-1] in id order. */
mz_status mz_store_progress(mz_store *st, mz_model_progress *out, int64_t n_models, mz_error *err);

/* Resume state of a model at its last committed epoch: the weights of that epoch, the optimizer
 * state and its step counter. Sizes must match what was written, else MZ_EFORMAT. */
mz_status mz_store_load_resume(mz_store *st, int64_t model_id, int *epoch, float *weights,
                               int64_t n_weights, float *opt_state, int64_t n_opt, int64_t *opt_step,
                               mz_error *err);

/* One committed (model, epoch). Metrics that do not exist (e.g. val when there is no validation
 * set) are NaN and stored as NULL. */
typedef struct mz_epoch_record {
    int64_t model_id;
    int epoch;
    double train_loss, train_acc, val_loss, val_acc, test_loss, test_acc;
    const float *weights;
    int64_t n_weights;
    const float *opt_state; /* may be NULL (n_opt 0) */
    int64_t n_opt;
    int64_t opt_step;
    mz_model_status status; /* the model's status after this record */
    const char *message;    /* optional, e.g. "train loss is NaN at epoch 7 step 1203" */
} mz_epoch_record;

/* Commits records in ONE transaction, durably (WAL, synchronous=FULL): inserts the epochs rows,
 * replaces the resume rows and updates the models rows. All or nothing. MZ_ENOSPC on a full disk
 * (the file stays as it was before the call). */
mz_status mz_store_commit(mz_store *st, const mz_epoch_record *recs, int n, mz_error *err);

/* Marks a model's status without an epoch (e.g. failed before its first epoch). */
mz_status mz_store_set_status(mz_store *st, int64_t model_id, mz_model_status status,
                              const char *message, mz_error *err);

/* ---- reading ---- */
/* meta value for key into buf; MZ_ENOTFOUND if absent. */
mz_status mz_store_meta(mz_store *st, const char *key, char *buf, size_t cap, mz_error *err);
/* The recipe JSON (malloc'd, caller frees). */
mz_status mz_store_recipe(mz_store *st, char **out, mz_error *err);
/* Weights of (model, epoch) into w[n]; MZ_ENOTFOUND if that row does not exist. */
mz_status mz_store_read_weights(mz_store *st, int64_t model_id, int epoch, float *w, int64_t n,
                                mz_error *err);
/* Layout of a variant; tensors malloc'd into *out (caller frees), count in *n. */
mz_status mz_store_layout(mz_store *st, const char *variant, mz_tensor_desc **out, int *n,
                          mz_error *err);

/* Summary for `mzoo info`. */
typedef struct mz_store_summary {
    int64_t n_models;
    int64_t by_status[5];  /* indexed by mz_model_status */
    int64_t n_epoch_rows;
    int max_epoch;          /* highest epoch of the recipe (spec epochs) */
} mz_store_summary;
mz_status mz_store_summary_get(mz_store *st, mz_store_summary *out, mz_error *err);

/* Runs a read-only SQL query and calls row() for each row with the column values as text
 * (NULL for SQL NULL). For reports (`mzoo info`) and loaders; the library never passes user SQL
 * here without validation. Return non-zero from row() to stop. */
typedef int (*mz_store_row_fn)(void *ctx, int ncol, const char *const *values,
                               const char *const *names);
mz_status mz_store_query(mz_store *st, const char *sql, mz_store_row_fn row, void *ctx,
                         mz_error *err);

/* The underlying sqlite3* handle, for modules that need more than this API (loader, interop).
 * Returned as void* so this header does not depend on sqlite3.h. Owned by the store. */
void *mz_store_sqlite(mz_store *st);

#ifdef __cplusplus
}
#endif
#endif
