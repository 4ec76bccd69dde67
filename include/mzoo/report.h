/* mzoo report: a population seen at a glance. One self-contained HTML page (plots inline as SVG,
 * no network, no JavaScript needed to read it) of one or more zoos side by side: accuracy and loss
 * over training with quantile bands per value of a hyperparameter, the final test accuracy's box
 * plots per hyperparameter value, the generalisation gap, diverged and chance-level models, a PCA
 * of checkpoints with trajectories, per-layer weight norms, pairwise weight distances, prediction
 * disagreement on a fixed test subset, and for twin zoos sparsity against accuracy drop.
 * docs/REPORT.md describes every section and how it is computed.
 *
 * Plots are drawn by PLplot's SVG driver. PLplot keeps one current plot stream per process, so
 * mz_report_write serialises its plotting under a lock: two reports may be written from two
 * threads, one plot at a time.
 *
 * The numbers behind the plots are embedded in the page as JSON (<script type="application/json"
 * id="mzoo-data">, schema in docs/REPORT.md), so that they can be checked or reused.
 */
#ifndef MZOO_REPORT_H
#define MZOO_REPORT_H

#include "mzoo/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MZ_REPORT_MAX_ZOOS 8

typedef struct mz_report_options {
    const char *where;    /* SQL expression over the columns of models (m) and epochs (e), as
                             mzoo dataset's --where, or NULL: the rows the report uses */
    const char *epochs;   /* epochs of the weight-space plots: NULL (up to 6 spread from the first
                             to the last), "all", "last" or a list "0,5,10-20" */
    const char *by;       /* hyperparameter of the bands, NULL: the one whose values' median final
                             test accuracies differ most */
    const char *data_dir; /* the dataset for prediction disagreement, NULL: its default location */
    const char *command;  /* the command line shown in the header, or NULL */
    int64_t max_points;   /* checkpoints in the PCA and norms (models sampled): default 2000 */
    int max_dist_models;  /* models in the pairwise distances: default 200 */
    int max_pred_models;  /* models evaluated for prediction disagreement: default 16 */
    int pred_images;      /* test images they are evaluated on (the first n): default 500;
                             0 skips the evaluation */
    int max_trajectories; /* models drawn as trajectories in the PCA plane: default 12 */
    uint64_t seed;        /* sampling seed: default 1 */
    /* Optional progress callback (the CLI prints to stderr); NULL for none. */
    void (*progress)(void *ctx, const char *what);
    void *progress_ctx;
} mz_report_options;
void mz_report_options_default(mz_report_options *o);

/* What a report did, for the caller to print. */
typedef struct mz_report_stats {
    int n_plots;
    int64_t bytes;
    double seconds;
} mz_report_stats;

/* Writes the report of zoos[0..n_zoos-1] (zoo files, opened read-only) to out_path (through a
 * temporary file beside it, renamed when complete). stats may be NULL. */
mz_status mz_report_write(const char *const *zoos, int n_zoos, const mz_report_options *o,
                          const char *out_path, mz_report_stats *stats, mz_error *err);

#ifdef __cplusplus
}
#endif
#endif
