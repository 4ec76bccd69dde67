/* The benchmark driver: every (property, feature set, model) on an in-memory weight dataset.
 *
 * Per property: the samples whose value is NaN are removed per part, as the reference does. Numeric
 * properties get ridge regression (lambda by validation R^2) and XGBoost regression, scored by R^2
 * and Kendall's tau-b; categorical ones get the linear softmax classifier and XGBoost
 * classification, scored by accuracy. Classes are the levels present in the training part (as
 * np.unique of the train values); a val/test sample of a level unseen in training counts as a
 * miss. Ridge factorisations are shared by all numeric properties with the same training samples.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "mzoo/formats.h"
#include "mzoo/probe.h"
#include "core/banned.h"

const char *const mz_bench_default_properties[] = {
    "test_acc", "val_acc",   "ggap", "epoch",        "test_loss", "activation",
    "init",     "optimizer", "lr",   "weight_decay", "dropout"};
const int mz_bench_n_default_properties =
    (int)(sizeof mz_bench_default_properties / sizeof mz_bench_default_properties[0]);

const char *mz_probe_model_name(mz_probe_model m)
{
    switch (m) {
    case MZ_PROBE_RIDGE:
        return "ridge";
    case MZ_PROBE_LINEAR:
        return "linear";
    case MZ_PROBE_XGB:
        return "xgboost";
    default:
        return "?";
    }
}

const char *mz_probe_features_name(mz_probe_features f)
{
    return f == MZ_FEAT_W ? "W" : f == MZ_FEAT_STATS ? "s(W)" : "?";
}

void mz_bench_options_default(mz_bench_options *o)
{
    memset(o, 0, sizeof *o);
    for (int i = 0; i < MZ_PROBE_N_MODELS; i++)
        o->models[i] = 1;
    for (int i = 0; i < MZ_FEAT_N; i++)
        o->features[i] = 1;
    mz_softmax_cfg_default(&o->softmax);
    mz_xgb_cfg_default(&o->xgb);
    o->linalg = MZ_LINALG_AUTO;
    o->threads = 1;
}

void mz_bench_result_release(mz_bench_result *r)
{
    if (!r)
        return;
    free(r->rows);
    free(r->skipped);
    memset(r, 0, sizeof *r);
}

/* A feature matrix in double (ridge, softmax) and float (XGBoost). */
typedef struct feats {
    int64_t d;
    double *xd; /* [n][d] */
    float *xf;  /* [n][d] */
} feats;

/* Everything one property needs: per part, the sample indices with a value. */
typedef struct target {
    const mz_prop_column *col;
    int64_t *idx[MZ_N_PARTS];
    int64_t n[MZ_N_PARTS];
} target;

static void target_release(target *t)
{
    for (int p = 0; p < MZ_N_PARTS; p++)
        free(t->idx[p]);
}

static void progress(const mz_bench_options *o, const char *what)
{
    if (o->progress)
        o->progress(o->progress_ctx, what);
}

static mz_status add_row(mz_bench_result *r, const mz_bench_row *row, mz_error *err)
{
    mz_bench_row *nr = realloc(r->rows, (size_t)(r->n_rows + 1) * sizeof *nr);
    if (!nr)
        return mz_fail(err, MZ_ENOMEM, "bench: out of memory");
    r->rows = nr;
    r->rows[r->n_rows++] = *row;
    return MZ_OK;
}

static mz_status add_skip(mz_bench_result *r, const char *prop, const char *reason, mz_error *err)
{
    mz_bench_skip *ns = realloc(r->skipped, (size_t)(r->n_skipped + 1) * sizeof *ns);
    if (!ns)
        return mz_fail(err, MZ_ENOMEM, "bench: out of memory");
    r->skipped = ns;
    mz_bench_skip *s = &r->skipped[r->n_skipped++];
    snprintf(s->property, sizeof s->property, "%s", prop);
    snprintf(s->reason, sizeof s->reason, "%s", reason);
    return MZ_OK;
}

static void row_init(mz_bench_row *row, const mz_prop_column *c, mz_probe_model m,
                     mz_probe_features f)
{
    memset(row, 0, sizeof *row);
    snprintf(row->property, sizeof row->property, "%s", c->name);
    row->categorical = c->kind == MZ_PROP_CATEGORICAL;
    row->model = m;
    row->features = f;
    for (int p = 0; p < MZ_N_PARTS; p++)
        row->score[p] = row->tau[p] = NAN;
    row->lambda = NAN;
    row->best_iteration = -1;
}

/* Rows idx[0..n-1] of a [*][d] matrix, contiguous. */
static double *gather_d(const double *x, int64_t d, const int64_t *idx, int64_t n)
{
    double *o = malloc((size_t)((n ? n : 1) * d) * sizeof *o);
    if (o)
        for (int64_t i = 0; i < n; i++)
            memcpy(o + i * d, x + idx[i] * d, (size_t)d * sizeof *o);
    return o;
}

static float *gather_f(const float *x, int64_t d, const int64_t *idx, int64_t n)
{
    float *o = malloc((size_t)((n ? n : 1) * d) * sizeof *o);
    if (o)
        for (int64_t i = 0; i < n; i++)
            memcpy(o + i * d, x + idx[i] * d, (size_t)d * sizeof *o);
    return o;
}

static void score_numeric(mz_bench_row *row, int p, const double *y, const double *pred, int64_t n,
                          mz_error *err)
{
    row->n[p] = n;
    row->score[p] = mz_r2(y, pred, n);
    double tau = NAN;
    if (mz_kendall_tau_b(pred, y, n, &tau, err) != MZ_OK)
        tau = NAN;
    row->tau[p] = tau;
}

/* ---- ridge for a group of numeric targets with the same training samples ---- */
static mz_status run_ridge_group(const feats *F, mz_probe_features fk, target *const *group, int ng,
                                 const mz_bench_options *o, mz_bench_result *res, mz_error *err)
{
    const target *t0 = group[0];
    int64_t d = F->d, m = d + 1, ntr = t0->n[MZ_PART_TRAIN];
    mz_status st = MZ_OK;
    double *Xtr = gather_d(F->xd, d, t0->idx[MZ_PART_TRAIN], ntr);
    double *Y = malloc((size_t)(ntr * ng) * sizeof *Y);
    double *coefs = malloc((size_t)(ng * MZ_RIDGE_N_LAMBDAS * m) * sizeof *coefs);
    if (!Xtr || !Y || !coefs) {
        st = mz_fail(err, MZ_ENOMEM, "bench: out of memory for ridge on %s",
                     mz_probe_features_name(fk));
        goto done;
    }
    for (int g = 0; g < ng; g++)
        for (int64_t i = 0; i < ntr; i++)
            Y[g * ntr + i] = group[g]->col->v[t0->idx[MZ_PART_TRAIN][i]];
    st = mz_ridge_path_multi(Xtr, ntr, d, Y, ng, mz_ridge_lambdas, MZ_RIDGE_N_LAMBDAS, o->linalg,
                             o->threads, coefs, err);
    if (st != MZ_OK)
        goto done;
    for (int g = 0; g < ng; g++) {
        const target *t = group[g];
        mz_bench_row row;
        row_init(&row, t->col, MZ_PROBE_RIDGE, fk);
        double *Xp[MZ_N_PARTS] = {0}, *yp[MZ_N_PARTS] = {0}, *pred = NULL;
        int64_t nmax = 1;
        for (int p = 0; p < MZ_N_PARTS; p++)
            nmax = t->n[p] > nmax ? t->n[p] : nmax;
        pred = malloc((size_t)nmax * sizeof *pred);
        int ok = pred != NULL;
        for (int p = 0; p < MZ_N_PARTS && ok; p++) {
            Xp[p] = gather_d(F->xd, d, t->idx[p], t->n[p]);
            yp[p] = malloc((size_t)(t->n[p] ? t->n[p] : 1) * sizeof *yp[p]);
            ok = Xp[p] && yp[p];
            for (int64_t i = 0; ok && i < t->n[p]; i++)
                yp[p][i] = t->col->v[t->idx[p][i]];
        }
        if (ok) {
            const double *c = coefs + (int64_t)g * MZ_RIDGE_N_LAMBDAS * m;
            int best =
                mz_ridge_choose(c, Xp[MZ_PART_TRAIN], t->n[MZ_PART_TRAIN], yp[MZ_PART_TRAIN],
                                Xp[MZ_PART_VAL], t->n[MZ_PART_VAL], yp[MZ_PART_VAL], d, pred);
            row.lambda = mz_ridge_lambdas[best];
            for (int p = 0; p < MZ_N_PARTS; p++) {
                mz_ridge_predict(Xp[p], t->n[p], d, c + (int64_t)best * m, pred);
                score_numeric(&row, p, yp[p], pred, t->n[p], err);
            }
        }
        for (int p = 0; p < MZ_N_PARTS; p++) {
            free(Xp[p]);
            free(yp[p]);
        }
        free(pred);
        if (!ok) {
            st = mz_fail(err, MZ_ENOMEM, "bench: out of memory");
            goto done;
        }
        if ((st = add_row(res, &row, err)) != MZ_OK)
            goto done;
    }
done:
    free(Xtr);
    free(Y);
    free(coefs);
    return st;
}

/* Class labels of a categorical target for part p: index into the train classes, -1 if unseen. */
static int32_t *class_labels(const target *t, int p, const int *level_to_class)
{
    int32_t *y = malloc((size_t)(t->n[p] ? t->n[p] : 1) * sizeof *y);
    if (y)
        for (int64_t i = 0; i < t->n[p]; i++)
            y[i] = level_to_class[(int)t->col->v[t->idx[p][i]]];
    return y;
}

static mz_status run_linear(const feats *F, mz_probe_features fk, const target *t, const int *l2c,
                            int k, const mz_bench_options *o, mz_bench_result *res, mz_error *err)
{
    mz_bench_row row;
    row_init(&row, t->col, MZ_PROBE_LINEAR, fk);
    row.n_classes = k;
    mz_status st = MZ_OK;
    double *X[MZ_N_PARTS] = {0};
    int32_t *y[MZ_N_PARTS] = {0}, *pred = NULL;
    int64_t nmax = 1;
    for (int p = 0; p < MZ_N_PARTS; p++) {
        X[p] = gather_d(F->xd, F->d, t->idx[p], t->n[p]);
        y[p] = class_labels(t, p, l2c);
        if (!X[p] || !y[p]) {
            st = mz_fail(err, MZ_ENOMEM, "bench: out of memory");
            goto done;
        }
        nmax = t->n[p] > nmax ? t->n[p] : nmax;
    }
    pred = malloc((size_t)nmax * sizeof *pred);
    if (!pred) {
        st = mz_fail(err, MZ_ENOMEM, "bench: out of memory");
        goto done;
    }
    mz_softmax m;
    st = mz_softmax_fit(&m, X[MZ_PART_TRAIN], t->n[MZ_PART_TRAIN], F->d, y[MZ_PART_TRAIN], k,
                        &o->softmax, err);
    if (st != MZ_OK)
        goto done;
    for (int p = 0; p < MZ_N_PARTS; p++) {
        mz_softmax_predict(&m, X[p], t->n[p], pred);
        row.n[p] = t->n[p];
        row.score[p] = mz_accuracy(y[p], pred, t->n[p]);
    }
    mz_softmax_release(&m);
    st = add_row(res, &row, err);
done:
    for (int p = 0; p < MZ_N_PARTS; p++) {
        free(X[p]);
        free(y[p]);
    }
    free(pred);
    return st;
}

static mz_status run_xgb(const feats *F, mz_probe_features fk, const target *t, const int *l2c,
                         int k, const mz_bench_options *o, mz_bench_result *res, mz_error *err)
{
    mz_bench_row row;
    row_init(&row, t->col, MZ_PROBE_XGB, fk);
    row.n_classes = k;
    int cat = t->col->kind == MZ_PROP_CATEGORICAL;
    mz_status st = MZ_OK;
    float *X[MZ_N_PARTS] = {0}, *yf[MZ_N_PARTS] = {0};
    double *yd[MZ_N_PARTS] = {0}, *pred = NULL;
    mz_xgb *m = NULL;
    int64_t nmax = 1;
    for (int p = 0; p < MZ_N_PARTS; p++) {
        int64_t n = t->n[p];
        X[p] = gather_f(F->xf, F->d, t->idx[p], n);
        yf[p] = malloc((size_t)(n ? n : 1) * sizeof *yf[p]);
        yd[p] = malloc((size_t)(n ? n : 1) * sizeof *yd[p]);
        if (!X[p] || !yf[p] || !yd[p]) {
            st = mz_fail(err, MZ_ENOMEM, "bench: out of memory");
            goto done;
        }
        for (int64_t i = 0; i < n; i++) {
            double v = t->col->v[t->idx[p][i]];
            yd[p][i] = cat ? l2c[(int)v] : v;
            yf[p][i] = (float)yd[p][i];
        }
        nmax = n > nmax ? n : nmax;
    }
    /* Classes unseen in training cannot be labels of the validation matrix: early stopping then
     * uses only the validation samples of known classes. */
    int64_t nva = t->n[MZ_PART_VAL];
    float *Xva = X[MZ_PART_VAL], *yva = yf[MZ_PART_VAL];
    if (cat) {
        int64_t w = 0;
        for (int64_t i = 0; i < nva; i++) {
            if (yva[i] < 0)
                continue;
            memmove(Xva + w * F->d, Xva + i * F->d, (size_t)F->d * sizeof *Xva);
            yva[w++] = yva[i];
        }
        nva = w;
    }
    st = mz_xgb_fit(&m, X[MZ_PART_TRAIN], t->n[MZ_PART_TRAIN], yf[MZ_PART_TRAIN], Xva, nva, yva,
                    F->d, cat ? k : 0, &o->xgb, err);
    if (st != MZ_OK)
        goto done;
    /* the validation features were compacted: rebuild them for scoring */
    free(X[MZ_PART_VAL]);
    X[MZ_PART_VAL] = gather_f(F->xf, F->d, t->idx[MZ_PART_VAL], t->n[MZ_PART_VAL]);
    pred = malloc((size_t)nmax * sizeof *pred);
    if (!X[MZ_PART_VAL] || !pred) {
        st = mz_fail(err, MZ_ENOMEM, "bench: out of memory");
        goto done;
    }
    row.best_iteration = mz_xgb_best_iteration(m);
    for (int p = 0; p < MZ_N_PARTS; p++) {
        int64_t n = t->n[p];
        if ((st = mz_xgb_predict(m, X[p], n, pred, err)) != MZ_OK)
            goto done;
        if (cat) {
            int64_t hit = 0;
            for (int64_t i = 0; i < n; i++)
                hit += yd[p][i] >= 0 && pred[i] == yd[p][i];
            row.n[p] = n;
            row.score[p] = n ? (double)hit / (double)n : NAN;
        } else {
            score_numeric(&row, p, yd[p], pred, n, err);
        }
    }
    st = add_row(res, &row, err);
done:
    mz_xgb_free(m);
    for (int p = 0; p < MZ_N_PARTS; p++) {
        free(X[p]);
        free(yf[p]);
        free(yd[p]);
    }
    free(pred);
    return st;
}

static const mz_prop_column *find_col(const mz_wset *ds, const char *name)
{
    for (int i = 0; i < ds->n_props; i++)
        if (!strcmp(ds->props[i].name, name))
            return &ds->props[i];
    return NULL;
}

/* Decides whether a property can be benchmarked; fills its per-part indices. Returns 0 with
 * `reason` filled when it must be skipped. */
static int prepare_target(const mz_wset *ds, const mz_prop_column *c, target *t, char *reason,
                          size_t cap)
{
    memset(t, 0, sizeof *t);
    t->col = c;
    int64_t nval = 0;
    double first = NAN, lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < ds->n; i++) {
        double v = c->v[i];
        if (isnan(v))
            continue;
        if (nval++ == 0)
            first = v;
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    /* constant up to rounding: e.g. ggap = (a + 0.02) - a varies in the last bits only */
    double scale = fmax(fabs(lo), fabs(hi));
    int constant = nval > 0 && (hi == lo || (isfinite(hi - lo) && hi - lo <= 1e-9 * scale));
    if (nval == 0) {
        snprintf(reason, cap, "no values");
        return 0;
    }
    if (constant) {
        if (c->kind == MZ_PROP_CATEGORICAL)
            snprintf(reason, cap, "constant (%s)", c->levels[(int)first]);
        else
            snprintf(reason, cap, "constant (%.6g)", first);
        return 0;
    }
    for (int p = 0; p < MZ_N_PARTS; p++) {
        t->idx[p] = malloc((size_t)(ds->n ? ds->n : 1) * sizeof *t->idx[p]);
        if (!t->idx[p]) {
            snprintf(reason, cap, "out of memory");
            return -1;
        }
    }
    for (int64_t i = 0; i < ds->n; i++)
        if (!isnan(c->v[i]))
            t->idx[ds->samples[i].part][t->n[ds->samples[i].part]++] = i;
    if (t->n[MZ_PART_TRAIN] < 2) {
        snprintf(reason, cap, "fewer than 2 training samples with a value");
        return 0;
    }
    return 1;
}

static int same_train(const target *a, const target *b)
{
    return a->n[MZ_PART_TRAIN] == b->n[MZ_PART_TRAIN] &&
           !memcmp(a->idx[MZ_PART_TRAIN], b->idx[MZ_PART_TRAIN],
                   (size_t)a->n[MZ_PART_TRAIN] * sizeof(int64_t));
}

static mz_status build_features(const mz_wset *ds, mz_probe_features fk, feats *F, mz_error *err)
{
    memset(F, 0, sizeof *F);
    int64_t n = ds->n;
    F->d = fk == MZ_FEAT_W ? ds->dim : mz_stats_dim(&ds->layout);
    if (F->d < 1)
        return mz_fail(err, MZ_EINVAL, "bench: feature set %s is empty",
                       mz_probe_features_name(fk));
    F->xd = malloc((size_t)((n ? n : 1) * F->d) * sizeof *F->xd);
    F->xf = malloc((size_t)((n ? n : 1) * F->d) * sizeof *F->xf);
    double *scratch = malloc((size_t)(ds->dim ? ds->dim : 1) * sizeof *scratch);
    if (!F->xd || !F->xf || !scratch) {
        free(scratch);
        return mz_fail(err, MZ_ENOMEM, "bench: out of memory for %lld x %lld features",
                       (long long)n, (long long)F->d);
    }
    for (int64_t i = 0; i < n; i++) {
        const float *x = ds->x + i * ds->dim;
        double *o = F->xd + i * F->d;
        if (fk == MZ_FEAT_W)
            for (int64_t j = 0; j < F->d; j++)
                o[j] = x[j];
        else
            mz_stats_features(&ds->layout, x, scratch, o);
        for (int64_t j = 0; j < F->d; j++)
            F->xf[i * F->d + j] = (float)o[j];
    }
    free(scratch);
    return MZ_OK;
}

mz_status mz_bench_check_properties(const mz_prop_column *cols, int n_cols,
                                    const mz_bench_options *opt, mz_error *err)
{
    if (!opt || !opt->properties)
        return MZ_OK;
    for (int i = 0; i < opt->n_properties; i++) {
        int found = 0;
        for (int c = 0; c < n_cols && !found; c++)
            found = !strcmp(cols[c].name, opt->properties[i]);
        if (found)
            continue;
        char list[2048];
        size_t o = 0;
        list[0] = 0;
        for (int c = 0; c < n_cols && o + 70 < sizeof list; c++)
            o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", c ? ", " : "", cols[c].name);
        if (o + 70 >= sizeof list)
            snprintf(list + o, sizeof list - o, ", ...");
        return mz_fail(err, MZ_EINVAL, "--properties: unknown property '%s' (expected %s)",
                       opt->properties[i], n_cols ? list : "none: the data has no properties");
    }
    return MZ_OK;
}

mz_status mz_bench_run(const mz_wset *ds, const mz_bench_options *opt, mz_bench_result *res,
                       mz_error *err)
{
    memset(res, 0, sizeof *res);
    double t0 = mz_now();
    mz_bench_options defaults;
    if (!opt) {
        mz_bench_options_default(&defaults);
        opt = &defaults;
    }
    for (int64_t i = 0; i < ds->n; i++)
        res->n_samples[ds->samples[i].part]++;
    if (res->n_samples[MZ_PART_TRAIN] < 2)
        return mz_fail(err, MZ_EINVAL,
                       "bench: the training part has %lld samples (need at least 2)",
                       (long long)res->n_samples[MZ_PART_TRAIN]);
    mz_status cs = mz_bench_check_properties(ds->props, ds->n_props, opt, err);
    if (cs != MZ_OK)
        return cs;
    res->dim_w = ds->dim;
    res->dim_stats = mz_stats_dim(&ds->layout);
    const char *const *names = opt->properties ? opt->properties : mz_bench_default_properties;
    int n_names = opt->properties ? opt->n_properties : mz_bench_n_default_properties;
    target *targets = calloc((size_t)(n_names ? n_names : 1), sizeof *targets);
    int nt = 0;
    mz_status st = MZ_OK;
    feats F = {0};
    if (!targets)
        return mz_fail(err, MZ_ENOMEM, "bench: out of memory");
    for (int i = 0; i < n_names; i++) {
        const mz_prop_column *c = find_col(ds, names[i]);
        char reason[128];
        if (!c) {
            if ((st = add_skip(res, names[i], "not in the data", err)) != MZ_OK)
                goto done;
            continue;
        }
        int ok = prepare_target(ds, c, &targets[nt], reason, sizeof reason);
        if (ok < 0) {
            st = mz_fail(err, MZ_ENOMEM, "bench: out of memory");
            target_release(&targets[nt]);
            goto done;
        }
        if (!ok) {
            target_release(&targets[nt]);
            if ((st = add_skip(res, names[i], reason, err)) != MZ_OK)
                goto done;
            continue;
        }
        nt++;
    }
    for (int fk = 0; fk < MZ_FEAT_N; fk++) {
        if (!opt->features[fk] || nt == 0)
            continue;
        char what[160];
        snprintf(what, sizeof what, "features %s", mz_probe_features_name((mz_probe_features)fk));
        progress(opt, what);
        if ((st = build_features(ds, (mz_probe_features)fk, &F, err)) != MZ_OK)
            goto done;
        /* ridge, grouped by training samples */
        if (opt->models[MZ_PROBE_RIDGE]) {
            char *done_mask = calloc((size_t)nt, 1);
            target **group = malloc((size_t)nt * sizeof *group);
            if (!done_mask || !group) {
                free(done_mask);
                free(group);
                st = mz_fail(err, MZ_ENOMEM, "bench: out of memory");
                goto done;
            }
            for (int i = 0; i < nt && st == MZ_OK; i++) {
                if (done_mask[i] || targets[i].col->kind != MZ_PROP_NUMERIC)
                    continue;
                int ng = 0;
                for (int j = i; j < nt; j++)
                    if (!done_mask[j] && targets[j].col->kind == MZ_PROP_NUMERIC &&
                        same_train(&targets[i], &targets[j])) {
                        group[ng++] = &targets[j];
                        done_mask[j] = 1;
                    }
                snprintf(what, sizeof what, "ridge on %s (%d properties)",
                         mz_probe_features_name((mz_probe_features)fk), ng);
                progress(opt, what);
                st = run_ridge_group(&F, (mz_probe_features)fk, group, ng, opt, res, err);
            }
            free(done_mask);
            free(group);
            if (st != MZ_OK)
                goto done;
        }
        for (int i = 0; i < nt; i++) {
            target *t = &targets[i];
            int cat = t->col->kind == MZ_PROP_CATEGORICAL;
            int *l2c = NULL, k = 0;
            if (cat) {
                /* classes: levels present in train, in level (sorted) order */
                l2c = malloc((size_t)(t->col->n_levels ? t->col->n_levels : 1) * sizeof *l2c);
                char *seen = calloc((size_t)(t->col->n_levels ? t->col->n_levels : 1), 1);
                if (!l2c || !seen) {
                    free(l2c);
                    free(seen);
                    st = mz_fail(err, MZ_ENOMEM, "bench: out of memory");
                    goto done;
                }
                for (int64_t s = 0; s < t->n[MZ_PART_TRAIN]; s++)
                    seen[(int)t->col->v[t->idx[MZ_PART_TRAIN][s]]] = 1;
                for (int l = 0; l < t->col->n_levels; l++)
                    l2c[l] = seen[l] ? k++ : -1;
                free(seen);
                if (k < 2) {
                    free(l2c);
                    if (fk == (opt->features[MZ_FEAT_W] ? MZ_FEAT_W : MZ_FEAT_STATS) &&
                        (st = add_skip(res, t->col->name, "one class in the training part", err)) !=
                            MZ_OK)
                        goto done;
                    continue;
                }
                if (opt->models[MZ_PROBE_LINEAR]) {
                    snprintf(what, sizeof what, "linear classifier for %s on %s", t->col->name,
                             mz_probe_features_name((mz_probe_features)fk));
                    progress(opt, what);
                    st = run_linear(&F, (mz_probe_features)fk, t, l2c, k, opt, res, err);
                }
            }
            if (st == MZ_OK && opt->models[MZ_PROBE_XGB] && mz_xgb_available()) {
                snprintf(what, sizeof what, "xgboost for %s on %s", t->col->name,
                         mz_probe_features_name((mz_probe_features)fk));
                progress(opt, what);
                st = run_xgb(&F, (mz_probe_features)fk, t, l2c, k, opt, res, err);
            }
            free(l2c);
            if (st != MZ_OK)
                goto done;
        }
        free(F.xd);
        free(F.xf);
        memset(&F, 0, sizeof F);
    }
    if (opt->models[MZ_PROBE_XGB] && !mz_xgb_available())
        st = add_skip(res, "xgboost", "this build has no XGBoost", err);
    /* rows grouped by property in the requested order, then features, then model */
    if (st == MZ_OK && res->n_rows > 1) {
        mz_bench_row *sorted = malloc((size_t)res->n_rows * sizeof *sorted);
        if (!sorted) {
            st = mz_fail(err, MZ_ENOMEM, "bench: out of memory");
            goto done;
        }
        int w = 0;
        for (int i = 0; i < n_names; i++) {
            int dup = 0;
            for (int k = 0; k < i; k++)
                dup |= !strcmp(names[k], names[i]);
            if (dup)
                continue;
            for (int f = 0; f < MZ_FEAT_N; f++)
                for (int m = 0; m < MZ_PROBE_N_MODELS; m++)
                    for (int r = 0; r < res->n_rows; r++)
                        if (!strcmp(res->rows[r].property, names[i]) &&
                            (int)res->rows[r].features == f && (int)res->rows[r].model == m &&
                            w < res->n_rows)
                            sorted[w++] = res->rows[r];
        }
        if (w == res->n_rows)
            memcpy(res->rows, sorted, (size_t)w * sizeof *sorted);
        free(sorted);
    }
done:
    free(F.xd);
    free(F.xf);
    for (int i = 0; i < nt; i++)
        target_release(&targets[i]);
    free(targets);
    res->seconds = mz_now() - t0;
    if (st != MZ_OK)
        mz_bench_result_release(res);
    return st;
}

/* ---- output ---- */

static void fmt_score(char *buf, size_t cap, double v)
{
    if (isnan(v))
        snprintf(buf, cap, "%8s", "-");
    else if (fabs(v) < 1000)
        snprintf(buf, cap, "%8.4f", v);
    else
        snprintf(buf, cap, "%8.1e", v);
}

void mz_bench_print_table(const mz_bench_result *r, FILE *f)
{
    fprintf(f, "samples: train %lld, val %lld, test %lld; features: W %lld, s(W) %lld\n\n",
            (long long)r->n_samples[0], (long long)r->n_samples[1], (long long)r->n_samples[2],
            (long long)r->dim_w, (long long)r->dim_stats);
    fprintf(f, "%-14s %-6s %-8s %-5s %8s %8s %8s %9s  %s\n", "property", "metric", "model", "feat",
            "train", "val", "test", "tau(test)", "selected");
    int edges = 0;
    for (int i = 0; i < r->n_rows; i++) {
        const mz_bench_row *row = &r->rows[i];
        char s[3][32], tau[32], note[80] = "";
        for (int p = 0; p < 3; p++)
            fmt_score(s[p], sizeof s[p], row->score[p]);
        fmt_score(tau, sizeof tau, row->tau[2]);
        if (row->model == MZ_PROBE_RIDGE) {
            int edge = row->lambda == mz_ridge_lambdas[0] ||
                       row->lambda == mz_ridge_lambdas[MZ_RIDGE_N_LAMBDAS - 1];
            edges += edge;
            snprintf(note, sizeof note, "lambda=%g%s", row->lambda, edge ? " (grid edge)" : "");
        }
        else if (row->model == MZ_PROBE_XGB)
            snprintf(note, sizeof note, "rounds=%d", row->best_iteration + 1);
        if (row->categorical)
            snprintf(note + strlen(note), sizeof note - strlen(note), "%sclasses=%d",
                     *note ? " " : "", row->n_classes);
        fprintf(f, "%-14s %-6s %-8s %-5s %s %s %s %9s  %s\n", row->property,
                row->categorical ? "acc" : "R2", mz_probe_model_name(row->model),
                mz_probe_features_name(row->features), s[0], s[1], s[2],
                row->categorical ? "" : tau, note);
    }
    if (edges)
        fprintf(f,
                "\nnote: %d ridge row%s chose lambda at an edge of its grid (%g to %g), where the "
                "best value may lie beyond it; a few models whose weights are huge (diverged) "
                "often cause this: try --max-abs 5, the reference notebook's threshold\n",
                edges, edges == 1 ? "" : "s", mz_ridge_lambdas[MZ_RIDGE_N_LAMBDAS - 1],
                mz_ridge_lambdas[0]);
    for (int i = 0; i < r->n_skipped; i++)
        fprintf(f, "%s%s: skipped, %s\n", i == 0 ? "\n" : "", r->skipped[i].property,
                r->skipped[i].reason);
}

static json_t *jnum(double v)
{
    return isnan(v) || isinf(v) ? json_null() : json_real(v);
}

mz_status mz_bench_write_json(const mz_bench_result *r, const char *source, const char *path,
                              mz_error *err)
{
    static const char *const parts[3] = {"train", "val", "test"};
    json_t *root = json_object(), *rows = json_array(), *skipped = json_array(),
           *ns = json_object();
    for (int p = 0; p < 3; p++)
        json_object_set_new(ns, parts[p], json_integer(r->n_samples[p]));
    json_object_set_new(root, "format", json_string("mzoo-bench-1"));
    json_object_set_new(root, "source", json_string(source ? source : ""));
    json_object_set_new(root, "samples", ns);
    json_object_set_new(root, "dim_w", json_integer(r->dim_w));
    json_object_set_new(root, "dim_stats", json_integer(r->dim_stats));
    json_object_set_new(root, "seconds", json_real(r->seconds));
    for (int i = 0; i < r->n_rows; i++) {
        const mz_bench_row *row = &r->rows[i];
        json_t *o = json_object();
        json_object_set_new(o, "property", json_string(row->property));
        json_object_set_new(o, "kind", json_string(row->categorical ? "categorical" : "numeric"));
        json_object_set_new(o, "model", json_string(mz_probe_model_name(row->model)));
        json_object_set_new(o, "features", json_string(mz_probe_features_name(row->features)));
        json_object_set_new(o, "metric", json_string(row->categorical ? "accuracy" : "r2"));
        for (int p = 0; p < 3; p++) {
            json_t *po = json_object();
            json_object_set_new(po, row->categorical ? "accuracy" : "r2", jnum(row->score[p]));
            if (!row->categorical)
                json_object_set_new(po, "kendall_tau", jnum(row->tau[p]));
            json_object_set_new(po, "n", json_integer(row->n[p]));
            json_object_set_new(o, parts[p], po);
        }
        if (row->model == MZ_PROBE_RIDGE)
            json_object_set_new(o, "lambda", jnum(row->lambda));
        if (row->model == MZ_PROBE_XGB)
            json_object_set_new(o, "best_iteration", json_integer(row->best_iteration));
        if (row->categorical)
            json_object_set_new(o, "n_classes", json_integer(row->n_classes));
        json_array_append_new(rows, o);
    }
    for (int i = 0; i < r->n_skipped; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "property", json_string(r->skipped[i].property));
        json_object_set_new(o, "reason", json_string(r->skipped[i].reason));
        json_array_append_new(skipped, o);
    }
    json_object_set_new(root, "results", rows);
    json_object_set_new(root, "skipped", skipped);
    int rc = mz_json_dump_file(root, path, JSON_INDENT(1));
    json_decref(root);
    if (rc != 0)
        return mz_fail(err, MZ_EIO, "%s: cannot write the benchmark results", path);
    return MZ_OK;
}
