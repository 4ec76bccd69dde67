/* mzoo interop: reading the model zoos people already have into zoo files, and writing zoo files
 * in the layouts other tools read. docs/INTEROP.md is the user's description of every mapping.
 *
 * Import (mz_import): a source is read twice. The first pass reads everything but the weights
 * (the Model Zoos' params.json, result.json and every checkpoint's pickle and zip directory; the
 * Small CNN Zoo's layout.csv, metrics and the weights' header) and checks it, so a source that
 * cannot be imported is refused before the zoo file is written. The zoo is then attached with
 * kind "imported" and a recipe naming the format and a digest of what was read; the second pass
 * reads the weights and commits whole models (a model is written in one transaction, except a
 * model too large to hold in memory, whose epochs are committed in order). Re-running an import
 * of the same source into the same file resumes it: committed models and epochs are skipped, and
 * a finished import is a no-op. Another source is refused (MZ_EMISMATCH) and the file keeps
 * every byte.
 *
 * Export (mz_export): the models and epochs a selection keeps, written into a new directory.
 * Exporting an imported zoo in its own format and importing that gives the same zoo content:
 * models rows, epochs rows (weights bit for bit) and layouts.
 *
 * Ownership: options and sources are borrowed for the call; nothing is kept after it returns.
 */
#ifndef MZOO_INTEROP_H
#define MZOO_INTEROP_H

#include "mzoo/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Append-only. */
typedef enum mz_interop_format {
    MZ_INTEROP_AUTO = 0,        /* import: detect from the source */
    MZ_INTEROP_MODELZOOS = 1,   /* Ray Tune experiment folders of the Model Zoos (dir, .zip, .tar,
                                   .tar.gz); export writes one */
    MZ_INTEROP_CTC = 2,         /* Google's Small CNN Zoo: weights.npy, metrics.csv(.gz),
                                   layout.csv */
    MZ_INTEROP_PT = 3,          /* export: one torch.save state_dict per checkpoint + index */
    MZ_INTEROP_SAFETENSORS = 4, /* export: one safetensors file per model (or per zoo) + index */
} mz_interop_format;

/* "modelzoos", "ctc", "pt", "safetensors" ("auto" for AUTO). */
const char *mz_interop_format_name(mz_interop_format f);
/* The format of a name; -1 if unknown. */
int mz_interop_format_parse(const char *name);

/* Progress, reported after each commit (import) or model (export). */
typedef struct mz_interop_progress {
    const char *phase;   /* "reading" (first pass), "importing", "exporting" */
    const char *unit;    /* what done and total count: "checkpoints", "rows", "models" */
    int64_t done, total; /* total 0: not known yet */
    int64_t commits;
    double elapsed; /* seconds */
} mz_interop_progress;
/* Return non-zero to stop: what is committed stays, and the call returns MZ_EINTERRUPTED. */
typedef int (*mz_interop_progress_fn)(void *ctx, const mz_interop_progress *p);

typedef struct mz_import_options {
    mz_interop_format format; /* AUTO detects */
    mz_interop_progress_fn progress;
    void *progress_ctx;
    int64_t memory_limit;  /* bytes of weights held before they are committed (0: 1 GiB) */
    int models_per_commit; /* models per transaction (0: as many as fit in 64 MiB of weights
                              and 4096 epochs) */
} mz_import_options;
void mz_import_options_default(mz_import_options *o);

/* What an import found and did. Counts are over the whole source (also on a resumed or repeated
 * import), except the ones named "written". */
typedef struct mz_import_report {
    mz_interop_format format;
    char architecture[32]; /* meta "architecture": cnn-s, cnn-l, resnet18, smallcnn, or mixed */
    int already;           /* the file held this whole import: nothing was written */
    int resumed;           /* the file held part of it */
    int64_t models;        /* models (trial folders, modeldirs) */
    int64_t by_status[5];  /* models by final mz_model_status */
    int64_t epochs;        /* (model, epoch) rows */
    int64_t checkpoints;   /* rows with weights */
    int64_t no_checkpoint; /* rows with metrics but no checkpoint */
    int64_t no_metrics;    /* rows with a checkpoint but no metrics */
    int64_t nonfinite_checkpoints; /* checkpoints holding NaN or Inf (stored as they are) */
    int64_t nonfinite_metrics;     /* NaN/Inf metrics (stored as NULL) */
    int64_t placeholders;          /* the reference's -999 epoch-0 train metrics (stored NULL) */
    int64_t duplicates;            /* repeated (model, epoch) lines or rows: the later one kept */
    int64_t rounded;               /* float64 weights rounded to float32 */
    /* nonfinite_checkpoints and rounded count the checkpoints this call read */
    int64_t epochs_written; /* rows written by this call */
    int64_t commits;        /* transactions of this call */
    double seconds;
    int64_t twins; /* models that are variational-dropout twins (CNN_ARD, CNN3_ARD) */
    /* twins' checkpoints (read by this call) with NaN or Inf only where the network never reads:
     * the linear layers' log_sigma2_bias, which the reference leaves uninitialised. Stored as
     * they are; they do not make a model diverged. */
    int64_t nonfinite_unused;
} mz_import_report;

/* Imports `source` (a directory, or a .zip / .tar / .tar.gz of a Model Zoos experiment) into the
 * zoo file `zoo_path` (created if missing). rep may be NULL. */
mz_status mz_import(const char *source, const char *zoo_path, const mz_import_options *opt,
                    mz_import_report *rep, mz_error *err);

typedef struct mz_export_options {
    mz_interop_format format; /* PT, SAFETENSORS, MODELZOOS or CTC */
    const char *where;  /* SQL expression over the models and epochs columns (as mzoo dataset),
                           or NULL */
    const char *epochs; /* NULL/"all", "last" (each model's last epoch), or "0,5,10-20" */
    int per_zoo;        /* safetensors: one file for the whole zoo instead of one per model */
    mz_interop_progress_fn progress;
    void *progress_ctx;
} mz_export_options;
void mz_export_options_default(mz_export_options *o);

typedef struct mz_export_report {
    int64_t models;      /* models written */
    int64_t epochs;      /* (model, epoch) rows written */
    int64_t checkpoints; /* of them with weights */
    int64_t skipped;     /* rows the format cannot hold (ctc: rows without a checkpoint) */
    int64_t files;
    double seconds;
} mz_export_report;

/* Exports the zoo file `zoo_path` into the directory `dir`, which is created and must not exist
 * or be empty. Formats and what they hold: docs/INTEROP.md. A failed export leaves what it wrote
 * (the message says where it stopped). rep may be NULL. */
mz_status mz_export(const char *zoo_path, const char *dir, const mz_export_options *opt,
                    mz_export_report *rep, mz_error *err);

#ifdef __cplusplus
}
#endif
#endif
