/* mzoo probe: predicting model properties from weights (the reference's benchmark,
 * plus gradient-boosted trees and Kendall's tau).
 *
 * Matrices are row-major: X[i*d + j] is feature j of sample i. Sample counts are int64_t.
 * Numerics:
 *  - features s(W): per tensor mean, population variance and the 1/25/50/75/99 percentiles with
 *    numpy's default 'linear' interpolation, all in double;
 *  - ridge regression: closed form in double on [X, 1] (the intercept column is regularised too,
 *    as the reference), lambda picked from the reference's 17-value grid by validation R^2;
 *  - linear softmax classifier: Linear(d, K), kaiming_normal weights, bias 0.01, Adam(1e-4,
 *    weight decay 1e-6), 50 epochs of shuffled batches of 10, final model; Philox-driven, so the
 *    result depends only on the data and the seed;
 *  - gradient-boosted trees through XGBoost's C API (when built with MZ_HAVE_XGBOOST).
 */
#ifndef MZOO_PROBE_H
#define MZOO_PROBE_H

#include <stdio.h>

#include "mzoo/core.h"
#include "mzoo/loader.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- descriptive statistics ---- */

/* numpy.percentile(a, q) (method 'linear') of the ascending a[0..n-1]; q in [0, 100]. NaN if n ==
 * 0. */
double mz_percentile_sorted(const double *a, int64_t n, double q);

#define MZ_STATS_PER_TENSOR 7
/* out = mean, population variance (ddof 0), percentiles 1, 25, 50, 75, 99 of x[0..n-1] (all NaN if
 * n == 0). scratch holds n doubles. */
void mz_tensor_stats(const float *x, int64_t n, double *scratch, double out[MZ_STATS_PER_TENSOR]);

/* Dimension of s(W) for a layout: 7 per layer for the weights plus 7 for the biases when the
 * layout has them (70 for a 5-layer CNN with biases). */
int64_t mz_stats_dim(const mz_vec_layout *L);
/* s(W) of one vectorised sample x[L->dim] into out[mz_stats_dim(L)], layer by layer: weight
 * statistics then bias statistics. scratch holds at least L->dim doubles. */
void mz_stats_features(const mz_vec_layout *L, const float *x, double *scratch, double *out);
/* Feature names ("conv1.w.mean", "conv1.b.p99", ...) into names[i] (cap bytes each). */
void mz_stats_feature_name(const mz_vec_layout *L, int64_t i, char *buf, size_t cap);

/* ---- metrics (pairs with a NaN in either array must be removed by the caller) ---- */

/* R^2 = 1 - SS_res / SS_tot against y's own mean; NaN if n < 2 or y is constant. */
double mz_r2(const double *y, const double *yhat, int64_t n);
/* Kendall's tau-b as scipy.stats.kendalltau (variant 'b'), O(n log n) (Knight's algorithm).
 * *tau = NaN when n < 2 or either array is constant. */
mz_status mz_kendall_tau_b(const double *x, const double *y, int64_t n, double *tau, mz_error *err);
/* Fraction of i with y[i] == yhat[i]; NaN if n == 0. */
double mz_accuracy(const int32_t *y, const int32_t *yhat, int64_t n);

/* ---- ridge regression ---- */

#define MZ_RIDGE_N_LAMBDAS 17
/* The reference's grid, 1e3 ... 1e-5, in its order (the first of tied lambdas wins). */
extern const double mz_ridge_lambdas[MZ_RIDGE_N_LAMBDAS];

typedef enum mz_linalg {
    MZ_LINALG_AUTO = 0,      /* LAPACK (OpenBLAS) when built with it, else the reference */
    MZ_LINALG_REFERENCE = 1, /* mzoo's own Cholesky, always built */
    MZ_LINALG_LAPACK = 2,    /* dsyrk + dpotrf/dpotrs, falling back to dgesv (MZ_EUNSUPPORTED
                                if not built with OpenBLAS) */
} mz_linalg;
int mz_linalg_have_lapack(void);

/* Ridge solutions for every lambda in lambdas[0..nl-1]: coefs[k*(d+1) + j] is coefficient j of
 * lambda k, the intercept last. Solves (A'A + lambda I) b = A'y with A = [X, 1] (n x (d+1)),
 * in the primal form when d+1 <= n and in the equivalent dual form b = A'(AA' + lambda I)^-1 y
 * otherwise, so the cost is O(n m^2 + nl m^3) with m = min(n, d+1). Every lambda must be > 0.
 * `threads` bounds the BLAS threads (<= 0: 1). */
mz_status mz_ridge_path(const double *X, int64_t n, int64_t d, const double *y,
                        const double *lambdas, int nl, mz_linalg backend, int threads,
                        double *coefs, mz_error *err);
/* The same for nt targets Y[t*n + i] sharing X: one factorisation per lambda for all of them.
 * coefs[(t*nl + k)*(d+1) + j]. */
mz_status mz_ridge_path_multi(const double *X, int64_t n, int64_t d, const double *Y, int nt,
                              const double *lambdas, int nl, mz_linalg backend, int threads,
                              double *coefs, mz_error *err);
/* Index of the lambda (into mz_ridge_lambdas, coefs from a path over them) with the best R^2 on
 * (Xva, yva), the first on ties; on (Xtr, ytr) when nva == 0 or every validation R^2 is NaN.
 * pred is scratch of max(ntr, nva) doubles. */
int mz_ridge_choose(const double *coefs, const double *Xtr, int64_t ntr, const double *ytr,
                    const double *Xva, int64_t nva, const double *yva, int64_t d, double *pred);
/* The reference's selection: the path over mz_ridge_lambdas on (Xtr, ytr), each lambda
 * scored by R^2 on (Xva, yva), the best kept (first on ties). When there is no validation part, or
 * its R^2 is NaN for every lambda (constant target), the train R^2 decides. coef holds d+1 values;
 * *best_k (may be NULL) the index into mz_ridge_lambdas. */
mz_status mz_ridge_select(const double *Xtr, int64_t ntr, const double *ytr, const double *Xva,
                          int64_t nva, const double *yva, int64_t d, mz_linalg backend, int threads,
                          double *coef, int *best_k, mz_error *err);
/* out[i] = X[i,:] . coef[0..d-1] + coef[d]. */
void mz_ridge_predict(const double *X, int64_t n, int64_t d, const double *coef, double *out);

/* ---- linear softmax classifier (the reference's) ---- */

typedef struct mz_softmax_cfg {
    int epochs; /* 50 */
    int batch;  /* 10 */
    double lr;  /* 1e-4 */
    double wd;  /* 1e-6, Adam's L2 weight decay (added to the gradient, as torch.optim.Adam) */
    double bias_init; /* 0.01 */
    uint64_t seed;    /* 42: init from Philox(seed, INIT, 0), epoch e's order from Philox(seed,
                         SHUFFLE, e) */
} mz_softmax_cfg;
void mz_softmax_cfg_default(mz_softmax_cfg *cfg);

typedef struct mz_softmax {
    int64_t d;
    int k;
    double *w; /* [k][d] */
    double *b; /* [k], in w's allocation */
} mz_softmax;

/* Trains Linear(d, k) on labels y[i] in [0, k). The model owns w and b (mz_softmax_release). */
mz_status mz_softmax_fit(mz_softmax *m, const double *X, int64_t n, int64_t d, const int32_t *y,
                         int k, const mz_softmax_cfg *cfg, mz_error *err);
/* Class with the largest logit (first on ties, as torch.argmax). */
void mz_softmax_predict(const mz_softmax *m, const double *X, int64_t n, int32_t *out);
void mz_softmax_release(mz_softmax *m);

/* ---- gradient-boosted trees (XGBoost) ---- */

typedef struct mz_xgb_cfg {
    int max_rounds;          /* 400 */
    int early_stopping;      /* 25 rounds without improvement of the validation metric */
    double eta;              /* 0.1 */
    int max_depth;           /* 4 */
    double subsample;        /* 0.8 */
    double colsample;        /* 0.8 (per tree) */
    double min_child_weight; /* 1 */
    double reg_lambda;       /* 1 */
    int max_bin;             /* 64 histogram bins per feature */
    int nthread;   /* 1 (results do not depend on it with tree_method=hist, but we fix it) */
    uint64_t seed; /* 42 */
} mz_xgb_cfg;
void mz_xgb_cfg_default(mz_xgb_cfg *cfg);
int mz_xgb_available(void);

typedef struct mz_xgb mz_xgb;
/* Trains a regressor (n_classes == 0, objective reg:squarederror, metric rmse) or a classifier
 * (n_classes >= 2, multi:softprob, metric mlogloss; y holds class indices) on float32 features,
 * stopping early on (Xva, yva) when nva > 0 and keeping the best iteration.
 * MZ_EUNSUPPORTED when mzoo was built without XGBoost. */
mz_status mz_xgb_fit(mz_xgb **out, const float *Xtr, int64_t ntr, const float *ytr,
                     const float *Xva, int64_t nva, const float *yva, int64_t d, int n_classes,
                     const mz_xgb_cfg *cfg, mz_error *err);
/* Regression: predicted values; classification: predicted class indices (as doubles). */
mz_status mz_xgb_predict(mz_xgb *m, const float *X, int64_t n, double *out, mz_error *err);
int mz_xgb_best_iteration(const mz_xgb *m);
void mz_xgb_free(mz_xgb *m);

/* ---- the benchmark driver ---- */

typedef enum mz_probe_model {
    MZ_PROBE_RIDGE = 0,  /* numeric properties */
    MZ_PROBE_LINEAR = 1, /* categorical properties: the softmax classifier */
    MZ_PROBE_XGB = 2,    /* both */
    MZ_PROBE_N_MODELS
} mz_probe_model;
typedef enum mz_probe_features { MZ_FEAT_W = 0, MZ_FEAT_STATS = 1, MZ_FEAT_N } mz_probe_features;
const char *mz_probe_model_name(mz_probe_model m);
const char *mz_probe_features_name(mz_probe_features f);

typedef struct mz_bench_options {
    int models[MZ_PROBE_N_MODELS]; /* non-zero: run this model; all on by default */
    int features[MZ_FEAT_N];       /* non-zero: use this feature set; both on by default */
    const char *const
        *properties; /* NULL: the defaults present in the data (see mz_bench_default_properties) */
    int n_properties;
    mz_softmax_cfg softmax;
    mz_xgb_cfg xgb;
    mz_linalg linalg;
    int threads; /* BLAS and XGBoost threads (default 1) */
    /* Optional progress callback (e.g. the CLI prints to stderr); NULL for none. */
    void (*progress)(void *ctx, const char *what);
    void *progress_ctx;
} mz_bench_options;
void mz_bench_options_default(mz_bench_options *o);

/* Default properties, in this order: test_acc, val_acc, ggap, epoch, test_loss, activation, init,
 * optimizer, lr, weight_decay, dropout. */
extern const char *const mz_bench_default_properties[];
extern const int mz_bench_n_default_properties;

typedef struct mz_bench_row {
    char property[64];
    int categorical;
    mz_probe_model model;
    mz_probe_features features;
    /* [train, val, test]; NaN where a split is empty. Numeric: R^2 and Kendall's tau-b;
     * categorical: accuracy (tau NaN). */
    double score[3];
    double tau[3];
    int64_t n[3];       /* samples used per split (non-NaN targets) */
    double lambda;      /* ridge: the chosen lambda; else NaN */
    int best_iteration; /* xgb: best boosting round; else -1 */
    int n_classes;      /* categorical: number of classes seen in train */
} mz_bench_row;

typedef struct mz_bench_skip {
    char property[64];
    char reason[128]; /* "constant (0.01)", "not in the data", "no values" */
} mz_bench_skip;

typedef struct mz_bench_result {
    int n_rows;
    mz_bench_row *rows;
    int n_skipped;
    mz_bench_skip *skipped;
    int64_t n_samples[3];
    int64_t dim_w, dim_stats;
    double seconds;
} mz_bench_result;
void mz_bench_result_release(mz_bench_result *r);

/* MZ_EINVAL, naming the first one and listing the properties there are, if opt names a property
 * (opt->properties) that is not among cols[n_cols] (mz_loader_props, or mz_wset.props); MZ_OK
 * otherwise. The defaults (opt->properties NULL) are never an error: those missing are skipped. */
mz_status mz_bench_check_properties(const mz_prop_column *cols, int n_cols,
                                    const mz_bench_options *opt, mz_error *err);
/* Runs every (property, features, model) combination on an in-memory weight dataset (mz_wset,
 * from mz_loader_load_all or mz_dataset_read). A property named in opt->properties that the data
 * lacks is an error (mz_bench_check_properties). */
mz_status mz_bench_run(const mz_wset *ds, const mz_bench_options *opt, mz_bench_result *res,
                       mz_error *err);
/* The readable table (the caller chooses the stream). */
void mz_bench_print_table(const mz_bench_result *r, FILE *f);
/* The machine-readable result, as JSON (schema in docs/BENCHMARK.md); `source` names the input. */
mz_status mz_bench_write_json(const mz_bench_result *r, const char *source, const char *path,
                              mz_error *err);

#ifdef __cplusplus
}
#endif
#endif
