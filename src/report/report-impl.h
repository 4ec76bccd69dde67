/* mzoo report, private: a zoo's data as the report sees it, the statistics, the plots (PLplot to
 * SVG) and the page buffer. */
#ifndef MZ_REPORT_IMPL_H
#define MZ_REPORT_IMPL_H

#include <stdint.h>

#include "mzoo/core.h"
#include "mzoo/loader.h"
#include "mzoo/report.h"
#include "mzoo/store.h"

/* ---- a growable text buffer with a size cap ---- */
typedef struct rp_buf {
    char *s;
    size_t n, cap, limit;
    int failed; /* an allocation failed or the limit was reached: everything after is dropped */
} rp_buf;
void rp_buf_init(rp_buf *b, size_t limit);
void rp_buf_release(rp_buf *b);
void rp_buf_add(rp_buf *b, const char *s, size_t n);
void rp_buf_puts(rp_buf *b, const char *s);
void rp_buf_printf(rp_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* s with & < > " ' as entities (text from zoo files is shown as it is, never as markup). */
void rp_buf_html(rp_buf *b, const char *s);

/* ---- one zoo ---- */
enum {
    RP_TRAIN_LOSS,
    RP_TRAIN_ACC,
    RP_VAL_LOSS,
    RP_VAL_ACC,
    RP_TEST_LOSS,
    RP_TEST_ACC,
    RP_SPARSITY,
    RP_N_METRICS
};
extern const char *const rp_metric_names[RP_N_METRICS];

#define RP_MAX_HP 24
#define RP_MAX_VALUES 64

/* A hyperparameter the report can group models by. */
typedef struct rp_hp {
    char name[48];
    int numeric;
    int n_values; /* values in ascending order (numbers) or strcmp order */
    char *values[RP_MAX_VALUES];
    int64_t count[RP_MAX_VALUES];
    int *of_model; /* [n_models] index into values, -1 when unknown */
} rp_hp;

/* The weight-space results of a zoo. */
typedef struct rp_weights {
    int done;
    char note[512]; /* why a part is missing, shown on the page */
    int n_sel_epochs;
    int sel_epochs[64];
    int64_t candidates; /* checkpoints the selection has (before sampling) */
    int64_t n, dim;     /* sampled checkpoints */
    int64_t nonfinite;  /* sampled checkpoints left out for NaN or infinite weights */
    int64_t *model, *epoch_of;
    float *test_acc;
    double *proj;  /* [n][2] */
    double evr[2]; /* explained variance ratio of PC1, PC2 */
    double total_var;
    int n_layers;
    char layer_name[MZ_VEC_MAX_LAYERS][16];
    double *norms; /* [n][n_layers] L2 norm of each layer's weights (biases left out) */
    /* trajectories */
    int n_traj;
    int64_t traj_model[32];
    int traj_len[32];
    int *traj_epoch[32];
    double *traj_proj[32]; /* [len][2] */
    /* pairwise distances at the last selected epoch */
    int dist_epoch;
    int64_t n_dist;
    int64_t *dist_model; /* [n_dist] */
    double *dist;        /* [n_dist][n_dist] */
    /* prediction disagreement */
    char pred_note[512];
    int64_t n_pred; /* models evaluated: the first n_pred of dist_model */
    int pred_images;
    double *disagree; /* [n_pred][n_pred] fraction of images predicted differently */
    double *pred_acc; /* [n_pred] accuracy on the subset */
    double pred_seconds;
} rp_weights;

typedef struct rp_zoo {
    char path[MZ_PATH_MAX];
    char name[256]; /* the file's base name */
    char kind[32], dataset[64], architecture[64], variant[64], method[32], generator[64],
        created_at[64], epochs_meta[32];
    /* what epochs.epoch counts: "epoch", or "step" in a zoo whose meta says so (a Small CNN Zoo
     * import: each checkpoint's training step) */
    char unit[8];
    char *recipe;
    int is_twin;
    int n_classes;
    int64_t n_models;
    mz_model_row *rows;
    mz_model_progress *prog;
    int64_t by_status[5];
    /* metrics: dense over (model, epoch index); NaN where missing or not selected */
    int n_epochs;
    int *epoch_value; /* [n_epochs] the epoch numbers, ascending */
    float *m;         /* [n_models][n_epochs][RP_N_METRICS] */
    uint8_t *kept;    /* [n_models][n_epochs]: the row exists and --where keeps it */
    int *last;        /* [n_models] last kept epoch index, -1 none */
    int64_t n_rows, n_kept_rows, n_kept_models;
    int has_val;
    /* hyperparameters */
    int n_hp;
    rp_hp hp[RP_MAX_HP];
    int by; /* index into hp, -1: none varies */
    char by_why[160];
    /* per-layer sparsity of twins at their last kept epoch */
    int n_sp_layers;
    char sp_layer[16][16];
    double *sp_layers; /* [n_models][16]: layer l of model i at [i * 16 + l]; NaN missing */
    rp_weights w;
} rp_zoo;

/* Reads meta, models and every epoch row's metrics (no weights) with --where applied. */
mz_status rp_zoo_read(rp_zoo *z, const char *path, const mz_report_options *o, mz_error *err);
void rp_zoo_release(rp_zoo *z);
/* Final test accuracy of model i (at its last kept epoch), NaN if none. */
double rp_final(const rp_zoo *z, int64_t i, int metric);
static inline float rp_metric(const rp_zoo *z, int64_t i, int t, int metric)
{
    return z->m[((size_t)i * (size_t)z->n_epochs + (size_t)t) * RP_N_METRICS + (size_t)metric];
}
/* Chance level: a final test accuracy below 1.5 / n_classes. */
double rp_chance_threshold(const rp_zoo *z);

/* The weight-space part: sampling, PCA, trajectories, norms, distances, predictions. */
mz_status rp_weights_compute(rp_zoo *z, const mz_report_options *o, mz_error *err);
void rp_weights_release(rp_weights *w);

/* ---- statistics ---- */
int rp_cmp_double(const void *a, const void *b);
/* Quantiles (numpy 'linear') of v[0..n-1] (sorted in place); q in [0, 1]. */
void rp_quantiles(double *v, int64_t n, const double *q, int nq, double *out);
typedef struct rp_box {
    int64_t n;
    double q1, med, q3, lo, hi; /* whiskers: the furthest values within 1.5 IQR of the box */
    double min, max, mean;
    int64_t n_out;
} rp_box;
void rp_box_stats(double *v, int64_t n, rp_box *b); /* sorts v */
/* The top k principal components of the n x d rows of X (float, row-major): the mean[d], the
 * components comp[k][d] (unit vectors, each signed so that its largest |entry| is positive), the
 * variances var[k] (eigenvalues of the covariance, ddof 1) and the total variance. Subspace
 * iteration in double on a block of 8 vectors with a Rayleigh-Ritz step, from a Philox start. */
mz_status rp_pca(const float *X, int64_t n, int64_t d, int k, uint64_t seed, double *mean,
                 double *comp, double *var, double *total_var, mz_error *err);

/* ---- plots (PLplot's SVG driver) ---- */
/* Colour-blind-safe categorical palette (Okabe and Ito), as RGB. */
#define RP_N_COLOURS 8
extern const unsigned char rp_palette[RP_N_COLOURS][3];

typedef struct rp_series {
    const char *label;
    int n;
    const double *x, *y;     /* NaN y: a gap */
    const double *lo, *hi;   /* band (NULL: none) */
    const double *lo2, *hi2; /* a second, lighter band (NULL: none) */
    int colour;              /* palette index, -1: black */
    int dashed;
} rp_series;

typedef struct rp_axes {
    const char *title, *xlabel, *ylabel;
    double xmin, xmax, ymin, ymax;
    int width, height; /* pixels */
} rp_axes;

/* Each function appends one <svg class="plot" data-plot="id"> element to b (nothing on failure,
 * with the reason in err). */
mz_status rp_plot_lines(rp_buf *b, const char *id, const rp_axes *ax, const rp_series *s, int ns,
                        mz_error *err);
/* Box plots: one box per group, labelled. */
mz_status rp_plot_boxes(rp_buf *b, const char *id, const rp_axes *ax, const rp_box *boxes,
                        const char *const *labels, const int *colours, int n, mz_error *err);
/* Scatter: points coloured by value c (continuous, a colour bar titled clabel) or by category
 * (cat >= 0: palette, legend labels). */
typedef struct rp_scatter {
    int64_t n;
    const double *x, *y;
    const double *c; /* continuous colour values, or NULL */
    const char *clabel;
    const int *cat; /* category per point, or NULL */
    const char *const *cat_labels;
    int n_cat;
    int cat_unordered; /* categories in the palette (else ordered: viridis) */
    /* optional lines drawn over the points (trajectories): m lines of len[i] points */
    int n_lines;
    const int *line_len;
    const double *const *line_xy; /* [len][2] */
} rp_scatter;
mz_status rp_plot_scatter(rp_buf *b, const char *id, const rp_axes *ax, const rp_scatter *sc,
                          mz_error *err);
/* Histograms of several samples on shared bins, drawn as outlined steps. */
mz_status rp_plot_hist(rp_buf *b, const char *id, const rp_axes *ax, const double *const *v,
                       const int64_t *n, const char *const *labels, int ns, int bins,
                       mz_error *err);
/* Grouped bars: n_groups groups (x labels) of n_bars bars (legend labels); value[g*n_bars+k]. */
mz_status rp_plot_bars(rp_buf *b, const char *id, const rp_axes *ax, const double *value,
                       const char *const *group_labels, int n_groups, const char *const *bar_labels,
                       int n_bars, mz_error *err);

/* A label safe for PLplot (which reads '#' as an escape) and for SVG text. */
void rp_plot_label(char *dst, size_t cap, const char *src);

#endif
