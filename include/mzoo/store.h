/* mzoo store: one SQLite file per zoo (schema in docs/FORMAT.md).
 *
 * Tables: meta(key, value), models(id, variant, <hyperparameters>, status, epochs_done, message,
 * source_id, source_epoch, hparams), epochs(model_id, epoch, <metrics>, weights BLOB,
 * weights_crc32, sparsity, metrics), layout(variant, idx, name, shape, offset, count),
 * resume(model_id, epoch, opt_step, opt_state BLOB, opt_crc32).
 *
 * The store owns all SQL: other modules read and write zoos through these functions only.
 *
 * Threading: an mz_store handle is used by one thread at a time (the single writer). Readers in
 * other processes may read concurrently.
 */
#ifndef MZOO_STORE_H
#define MZOO_STORE_H

#include "mzoo/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MZ_SCHEMA_VERSION 3

typedef struct mz_store mz_store;

typedef enum mz_store_mode {
    MZ_STORE_READ = 0,  /* read-only; the file must exist and be a zoo; nothing is created or
                           changed beside it */
    MZ_STORE_WRITE = 1, /* read-write; created if missing; nothing is written before attach */
} mz_store_mode;

typedef enum mz_model_status {
    MZ_MODEL_PENDING = 0,
    MZ_MODEL_RUNNING = 1, /* some epochs committed */
    MZ_MODEL_DONE = 2,
    MZ_MODEL_DIVERGED = 3, /* NaN/Inf loss or weights; its last finite epochs are kept */
    MZ_MODEL_FAILED = 4,
} mz_model_status;
const char *mz_model_status_name(mz_model_status s);
/* 1 for done, diverged and failed: a model that is never trained again. */
int mz_model_status_final(mz_model_status s);

/* A layout variant: the tensors of one architecture variant in state_dict order. */
typedef struct mz_layout {
    char variant[64]; /* e.g. "cnn-s/c1/dropout" */
    int n_tensors;
    const mz_tensor_desc *tensors;
    int64_t n_params; /* total floats in the weights blob */
} mz_layout;

/* Opens (or in WRITE mode creates) a zoo file. Errors: MZ_EBUSY if locked by another writer,
 * MZ_EREADONLY, MZ_ENOTFOUND (READ mode, missing), MZ_EFORMAT (not an SQLite file, another
 * program's database, an incomplete zoo or a newer schema). Opening never writes. */
mz_status mz_store_open(mz_store **out, const char *path, mz_store_mode mode, mz_error *err);
/* A writer: folds the WAL into the file and returns it to rollback-journal mode, so the zoo is
 * one self-contained file again (done by close too; call it to learn whether it worked). A reader
 * elsewhere keeps the file in WAL mode: it is folded by the next writer. */
mz_status mz_store_fold(mz_store *st, mz_error *err);
void mz_store_close(mz_store *st);
/* The file's schema version (0 for a file that holds no zoo yet). */
int mz_store_schema_version(const mz_store *st);
/* 1 when the file's epochs rows carry weights_absmax (the largest |w| of the blob, +Inf for a
 * NaN or Inf, NULL when unknown) ahead of the blob, so that selections may read it cheaply. */
int mz_store_has_absmax(const mz_store *st);
/* The path the store was opened with. */
const char *mz_store_path(const mz_store *st);

/* ---- attaching a zoo ---- */

/* One row of table models. Hyperparameters a zoo does not have are NULL (strings), NaN (reals),
 * -1 (nesterov) or has_seed = 0. */
typedef struct mz_model_row {
    int64_t id; /* 0..n-1 */
    const char *variant;
    const char *activation, *init, *optimizer;
    double lr, weight_decay, dropout, momentum;
    int nesterov;
    int has_seed;
    int64_t seed;
    int64_t source_id;   /* twins: the model in the source zoo; -1 = none */
    int source_epoch;    /* twins: the source checkpoint's epoch; -1 = none */
    const char *hparams; /* JSON object of further hyperparameters, or NULL */
} mz_model_row;

/* Everything a zoo file records about the zoo itself. */
typedef struct mz_zoo_desc {
    const char *kind;   /* "grid" (trained from a spec), "twin", "imported" */
    const char *recipe; /* canonical JSON: a file is continued only with an equal recipe */
    int n_meta;
    const char *const (*meta)[2]; /* further meta rows: {key, value}; "epochs" = last epoch */
    int64_t n_models;
    const mz_model_row *models;
    int n_layouts;
    const mz_layout *layouts;
    const char *shard; /* "K/N": the file trains the models with id % N == K only; NULL: all */
} mz_zoo_desc;

/* Ties the file to a zoo. In a new file: creates the schema and writes, in one transaction,
 * meta (schema_version, generator, kind, recipe, created_at and z->meta), the models rows
 * (status pending) and the layout rows. In a file that holds a zoo: checks that its kind and
 * recipe are z's (MZ_EMISMATCH otherwise: use mz_store_recipe and mz_recipe_diff to say what
 * differs) and that it has z's models and layouts; nothing is written then: the first commit
 * switches the file to WAL and upgrades an older schema. A refused file, and a finished zoo run
 * again, keep every byte. */
mz_status mz_store_attach(mz_store *st, const mz_zoo_desc *z, mz_error *err);

/* Grows an existing zoo to the description z, a superset of its models: old model i becomes
 * model new_id[i] of z (its epochs, resume state and status kept), the other models of z are
 * added as pending, layout variants it lacks are added, and the recipe and model count become
 * z's, all in one transaction. The caller has established that z keeps every old model with the
 * same hyperparameters and seed, and the old layouts; the store checks that new_id is a one-to-
 * one map into z's ids and that z's rows for the old models name their old variants. */
mz_status mz_store_grow(mz_store *st, const mz_zoo_desc *z, const int64_t *new_id, int64_t n_old,
                        mz_error *err);

/* Per-model progress, for resuming. `epochs_done` = highest committed epoch, -1 if none. */
typedef struct mz_model_progress {
    int64_t model_id;
    mz_model_status status;
    int epochs_done;
    const char *message; /* why it diverged or failed (mz_store_read_models only; else NULL) */
} mz_model_progress;
/* Fills out[0..n_models-1] in id order; every epochs_done is checked against meta "epochs". */
mz_status mz_store_progress(mz_store *st, mz_model_progress *out, int64_t n_models, mz_error *err);

/* Resume state of a model at its last committed epoch: the weights of that epoch, the optimizer
 * state and its step counter. Sizes and checksums must match what was written, else MZ_EFORMAT. */
mz_status mz_store_load_resume(mz_store *st, int64_t model_id, int *epoch, float *weights,
                               int64_t n_weights, float *opt_state, int64_t n_opt,
                               int64_t *opt_step, mz_error *err);

/* One committed (model, epoch), or with status_only a change of the model's status alone (a
 * model that diverged or failed inside an epoch). Metrics that do not exist (e.g. val when there
 * is no validation set) are NaN and stored as NULL. */
typedef struct mz_epoch_record {
    int64_t model_id;
    int epoch;
    int status_only;
    double train_loss, train_acc, val_loss, val_acc, test_loss, test_acc;
    double sparsity;      /* NaN when not applicable */
    const char *metrics;  /* JSON object of further metrics, or NULL */
    const float *weights; /* NULL: an epoch without a checkpoint (imported zoos) */
    int64_t n_weights;
    const float *opt_state; /* may be NULL (n_opt 0) */
    int64_t n_opt;
    int64_t opt_step;
    mz_model_status status; /* the model's status after this record */
    const char *message;    /* optional, e.g. "train loss is NaN at epoch 7 step 1203" */
} mz_epoch_record;

/* Commits records in ONE transaction, durably (WAL, synchronous=FULL): inserts the epochs rows
 * with their checksums, replaces or removes the resume rows and updates the models rows. All or
 * nothing. MZ_ENOSPC on a full disk (the zoo keeps what was committed before the call). */
mz_status mz_store_commit(mz_store *st, const mz_epoch_record *recs, int n, mz_error *err);

/* ---- reading ---- */
/* meta value for key into buf; MZ_ENOTFOUND if absent, MZ_ELIMIT if it does not fit. */
mz_status mz_store_meta(mz_store *st, const char *key, char *buf, size_t cap, mz_error *err);
/* The recipe JSON (malloc'd, caller frees). MZ_ENOTFOUND in a file that holds no zoo yet. */
mz_status mz_store_recipe(mz_store *st, char **out, mz_error *err);
/* Weights of (model, epoch) into w[n], checksum verified; MZ_ENOTFOUND if that row does not
 * exist or has no checkpoint. */
mz_status mz_store_read_weights(mz_store *st, int64_t model_id, int epoch, float *w, int64_t n,
                                mz_error *err);
/* A read transaction over many reads: every read until mz_store_read_end sees one snapshot of
 * the file, and the file is locked once instead of once per read (a reader of many blobs, such
 * as the loader, runs much faster). A writer keeps committing meanwhile (WAL). No-op inside a
 * transaction already. */
mz_status mz_store_read_begin(mz_store *st, mz_error *err);
void mz_store_read_end(mz_store *st);
/* Layout of a variant, checked (consecutive offsets, counts = products of the shapes, no
 * overflow, at most the largest blob a zoo may hold); tensors malloc'd into *out (caller frees),
 * count in *n; the floats of the whole blob in *n_params (may be NULL). */
mz_status mz_store_layout(mz_store *st, const char *variant, mz_tensor_desc **out, int *n,
                          int64_t *n_params, mz_error *err);
/* Every row of table models in id order (ids must be 0..n-1), with their progress: rows[i] and
 * progress[i] (progress may be NULL). Strings point into memory owned by *rows: free(*rows)
 * frees everything. */
mz_status mz_store_read_models(mz_store *st, mz_model_row **rows, mz_model_progress **progress,
                               int64_t *n, mz_error *err);
/* Calls fn with every epoch row of model_id in epoch order, as a record (status_only 0; weights
 * NULL where the row has none; status and message unset), its weights checked against their
 * crc32 and their expected size n_weights; the record's pointers are valid during the call.
 * Return non-zero from fn to stop. */
typedef int (*mz_store_epoch_fn)(void *ctx, const mz_epoch_record *rec);
mz_status mz_store_read_epochs(mz_store *st, int64_t model_id, int64_t n_weights,
                               mz_store_epoch_fn fn, void *ctx, mz_error *err);
/* The layout variants of the models, in order of their first model; names malloc'd (free each
 * and the array). */
mz_status mz_store_variants(mz_store *st, char ***names, int *n, mz_error *err);

/* Summary for `mzoo info`. */
typedef struct mz_store_summary {
    int64_t n_models;
    int64_t by_status[5]; /* indexed by mz_model_status */
    int64_t n_epoch_rows;
    int max_epoch; /* highest epoch of the recipe (meta "epochs"), -1 if unknown */
} mz_store_summary;
mz_status mz_store_summary_get(mz_store *st, mz_store_summary *out, mz_error *err);

/* Runs one read-only SQL statement written by mzoo itself (never user text: see
 * mz_store_select) and calls row() for each row with the column values as text (NULL for SQL
 * NULL; reals in their shortest form that reads back to the same double). Return non-zero from
 * row() to stop. */
typedef int (*mz_store_row_fn)(void *ctx, int ncol, const char *const *values,
                               const char *const *names);
mz_status mz_store_query(mz_store *st, const char *sql, mz_store_row_fn row, void *ctx,
                         mz_error *err);

/* ---- verification ---- */

typedef struct mz_verify_report {
    int integrity_ok;      /* SQLite's integrity_check found nothing */
    int64_t checkpoints;   /* weights blobs checked */
    int64_t no_checkpoint; /* epoch rows without weights (imported zoos) */
    int64_t resume_states; /* optimizer states checked */
    int64_t unchecked;     /* blobs without a checksum (written before schema 2) */
    int64_t problems;      /* everything reported through the callback */
} mz_verify_report;
/* Called once per problem found, with a one-line description (escaped). */
typedef void (*mz_verify_fn)(void *ctx, const char *problem);
/* Checks the whole file: SQLite's integrity_check, every layout, every blob's size and crc32,
 * and the bookkeeping between models, epochs and resume rows. Damage is reported through fn and
 * counted in out (the status stays MZ_OK); an error is returned only when the check itself
 * cannot run. */
mz_status mz_store_verify(mz_store *st, mz_verify_fn fn, void *ctx, mz_verify_report *out,
                          mz_error *err);

/* ---- selections (the loader) ---- */

/* A column of epochs ('e') or models ('m') that can serve as a property of samples. */
typedef struct mz_store_column {
    char table;
    char name[64];
    int categorical; /* TEXT column */
} mz_store_column;
/* The property columns of the file: the metrics of epochs, then the hyperparameters of models
 * (internal columns such as ids, blobs, checksums and status are left out). */
mz_status mz_store_columns(mz_store *st, mz_store_column *out, int cap, int *n, mz_error *err);

/* A value of one column in one selected row. */
typedef struct mz_store_value {
    int null;
    double num;       /* numeric columns */
    const char *text; /* categorical columns, valid during the callback */
} mz_store_value;

typedef struct mz_store_selection {
    const char *where;   /* user's SQL expression over the columns of models (m) and epochs (e),
                            or NULL: checked to be exactly one read-only expression */
    int last_epoch_only; /* only each model's highest committed epoch */
    const mz_store_column *cols;
    int n_cols;
    int64_t max_steps; /* bound on the expression's work per row (SQLite VM steps); 0 = 1e8 */
} mz_store_selection;

/* Calls fn for every (model, epoch) row in (model, epoch) order; keep = the where expression's
 * truth value (1 without one). Return non-zero from fn to stop. Every failure of the expression
 * (not one expression, not read-only, an SQL error, more than max_steps of work on one row) is
 * MZ_EINVAL with the reason. */
typedef int (*mz_store_select_fn)(void *ctx, int64_t model_id, int epoch, const char *variant,
                                  int keep, const mz_store_value *vals);
mz_status mz_store_select(mz_store *st, const mz_store_selection *sel, mz_store_select_fn fn,
                          void *ctx, mz_error *err);

#ifdef __cplusplus
}
#endif
#endif
