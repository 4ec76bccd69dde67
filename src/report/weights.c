/* The weight-space part of a report: a sample of checkpoints through the loader (models drawn at
 * random, every selected epoch of each), their PCA, trajectories of a few models over all their
 * epochs in the PCA plane, per-layer weight norms, pairwise distances at the last selected epoch,
 * and prediction disagreement of some of those models on a fixed test subset, each image's class
 * from mz_evaluator_predict (eval.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mzoo/data.h"
#include "mzoo/eval.h"
#include "mzoo/nn.h"
#include "mzoo/spec.h"
#include "report/report-impl.h"
#include "core/banned.h"

/* Floats of sampled checkpoints held at once: 128 MiB, and twice that for the PCA in double. */
#define MAX_SAMPLE_FLOATS ((int64_t)32 << 20)

void rp_weights_release(rp_weights *w)
{
    free(w->model);
    free(w->epoch_of);
    free(w->test_acc);
    free(w->proj);
    free(w->norms);
    for (int t = 0; t < w->n_traj; t++) {
        free(w->traj_epoch[t]);
        free(w->traj_proj[t]);
    }
    free(w->dist_model);
    free(w->dist);
    free(w->disagree);
    free(w->pred_acc);
    memset(w, 0, sizeof *w);
}

static int epoch_index(const rp_zoo *z, int epoch)
{
    int lo = 0, hi = z->n_epochs - 1;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (z->epoch_value[mid] < epoch)
            lo = mid + 1;
        else
            hi = mid;
    }
    return z->n_epochs && z->epoch_value[lo] == epoch ? lo : -1;
}

/* The default epochs: up to 6 spread evenly over the epochs that have kept rows. */
static void default_epochs(const rp_zoo *z, char *buf, size_t cap)
{
    int have[4096], n = 0;
    for (int t = 0; t < z->n_epochs && n < 4096; t++) {
        int any = 0;
        for (int64_t i = 0; i < z->n_models && !any; i++)
            any = z->kept[(size_t)i * (size_t)z->n_epochs + (size_t)t];
        if (any)
            have[n++] = z->epoch_value[t];
    }
    size_t at = 0;
    buf[0] = 0;
    int k = n < 6 ? n : 6, prev = -1;
    for (int j = 0; j < k && at < cap; j++) {
        int idx = k == 1 ? n - 1 : (int)lround((double)j * (n - 1) / (k - 1));
        if (idx == prev)
            continue;
        prev = idx;
        at += (size_t)snprintf(buf + at, cap - at, "%s%d", at ? "," : "", have[idx]);
    }
}

static double dot_centered(const float *x, const double *mean, const double *c, int64_t d)
{
    double s = 0;
    for (int64_t r = 0; r < d; r++)
        s += ((double)x[r] - mean[r]) * c[r];
    return s;
}

typedef struct traj_ctx {
    const rp_zoo *z;
    const mz_vec_layout *L;
    int source;
    float *buf;
    const double *mean, *comp;
    int64_t model;
    int n;
    int *epochs;
    double *proj;
} traj_ctx;

static int on_traj_epoch(void *ctx, const mz_epoch_record *rec)
{
    traj_ctx *t = ctx;
    int ti = epoch_index(t->z, rec->epoch);
    if (!rec->weights || ti < 0 || !t->z->kept[(size_t)t->model * (size_t)t->z->n_epochs + ti])
        return 0;
    mz_vec_extract(t->L, t->source, rec->weights, t->buf);
    for (int64_t r = 0; r < t->L->dim; r++)
        if (!isfinite(t->buf[r]))
            return 0;
    if (t->n >= 4096)
        return 1;
    t->epochs[t->n] = rec->epoch;
    t->proj[2 * t->n] = dot_centered(t->buf, t->mean, t->comp, t->L->dim);
    t->proj[2 * t->n + 1] = dot_centered(t->buf, t->mean, t->comp + t->L->dim, t->L->dim);
    t->n++;
    return 0;
}

static int source_of(const mz_vec_layout *L, const char *variant)
{
    for (int s = 0; s < L->n_sources; s++)
        if (!strcmp(L->sources[s].variant, variant))
            return s;
    return -1;
}

/* ---- prediction disagreement ---- */

static mz_status predictions(rp_zoo *z, const mz_report_options *o, mz_error *err)
{
    rp_weights *w = &z->w;
    int64_t m = w->n_dist < o->max_pred_models ? w->n_dist : o->max_pred_models;
    if (o->pred_images <= 0 || m < 2) {
        snprintf(w->pred_note, sizeof w->pred_note, "%s",
                 o->pred_images <= 0 ? "not computed (no test images asked for)"
                                     : "not computed (fewer than two models)");
        return MZ_OK;
    }
    /* ResNet-18 would cost minutes per model on a CPU: the page leaves it out */
    if (strcmp(z->architecture, "cnn-s") && strcmp(z->architecture, "cnn-l")) {
        snprintf(w->pred_note, sizeof w->pred_note,
                 "not computed: mzoo evaluates CNN-s and CNN-l models here, this zoo's "
                 "architecture is '%.64s'",
                 z->architecture);
        return MZ_OK;
    }
    double t0 = mz_now();
    /* the first pred_images test images, through the engines that trained the models (twins:
     * their pruned networks); checkpoints of one layout and activation share populations */
    mz_eval_options eo;
    mz_eval_options_default(&eo);
    eo.data_dir = o->data_dir;
    eo.max_images = o->pred_images;
    mz_evaluator *ev = NULL;
    mz_error e2 = {0};
    int64_t N = 0;
    int32_t *pred = NULL;
    int *eps = malloc(sizeof(int) * (size_t)m);
    mz_eval_result *res = malloc(sizeof *res * (size_t)m);
    mz_status s = eps && res ? MZ_OK : mz_fail(err, MZ_ENOMEM, "out of memory");
    mz_status es = MZ_OK;
    if (s == MZ_OK)
        es = mz_evaluator_open(&ev, z->path, &eo, &e2);
    if (s == MZ_OK && es == MZ_OK)
        es = mz_evaluator_images(ev, MZ_PART_TEST, &N, &e2);
    if (s == MZ_OK && es == MZ_OK && !(pred = malloc(sizeof(int32_t) * (size_t)(m * N))))
        s = mz_fail(err, MZ_ENOMEM, "out of memory");
    for (int64_t j = 0; s == MZ_OK && es == MZ_OK && j < m; j++)
        eps[j] = w->dist_epoch;
    if (s == MZ_OK && es == MZ_OK)
        es = mz_evaluator_predict(ev, m, w->dist_model, eps, MZ_PART_TEST, pred, res, &e2);
    if (s == MZ_OK && es == MZ_ENOMEM)
        s = mz_fail(err, MZ_ENOMEM, "%s", e2.msg);
    else if (s == MZ_OK && es != MZ_OK) { /* no dataset, an architecture it cannot build, ... */
        char esc[400];
        snprintf(w->pred_note, sizeof w->pred_note, "not computed: %.400s",
                 mz_escape(esc, sizeof esc, e2.msg));
    }
    if (s == MZ_OK && es == MZ_OK) {
        w->pred_acc = malloc(sizeof(double) * (size_t)m);
        w->disagree = malloc(sizeof(double) * (size_t)(m * m));
        if (!w->pred_acc || !w->disagree) {
            s = mz_fail(err, MZ_ENOMEM, "out of memory");
        } else {
            for (int64_t a = 0; a < m; a++) {
                w->pred_acc[a] = res[a].acc;
                for (int64_t b = 0; b < m; b++) {
                    int64_t diff = 0;
                    for (int64_t i = 0; i < N; i++)
                        diff += pred[a * N + i] != pred[b * N + i];
                    w->disagree[a * m + b] = (double)diff / (double)N;
                }
            }
            w->n_pred = m;
            w->pred_images = (int)N;
        }
    }
    mz_evaluator_close(ev);
    free(pred);
    free(eps);
    free(res);
    w->pred_seconds = mz_now() - t0;
    return s;
}

mz_status rp_weights_compute(rp_zoo *z, const mz_report_options *o, mz_error *err)
{
    rp_weights *w = &z->w;
    memset(w, 0, sizeof *w);
    char epochs[512];
    if (o->epochs && *o->epochs)
        snprintf(epochs, sizeof epochs, "%s", o->epochs);
    else
        default_epochs(z, epochs, sizeof epochs);
    if (!epochs[0]) {
        snprintf(w->note, sizeof w->note, "no checkpoints selected");
        return MZ_OK;
    }
    int n_sel = 1;
    for (const char *p = epochs; *p; p++)
        n_sel += *p == ',';
    mz_loader_options lo;
    mz_loader_options_default(&lo);
    lo.epochs = epochs;
    /* only rows with a checkpoint (an imported zoo has epochs with metrics alone); SQLite tells
     * a NULL blob from its record header, without reading any blob */
    char where[4200];
    if (o->where && strlen(o->where) > 4000)
        return mz_fail(err, MZ_ELIMIT, "--where: longer than 4000 bytes");
    if (o->where && *o->where)
        snprintf(where, sizeof where, "(%s) AND e.weights IS NOT NULL", o->where);
    else
        snprintf(where, sizeof where, "e.weights IS NOT NULL");
    lo.where = where;
    lo.fractions[0] = 1;
    lo.fractions[1] = 0;
    lo.fractions[2] = 0;
    lo.seed = o->seed;
    lo.max_models = (o->max_points + n_sel - 1) / n_sel;
    /* the loader would read every candidate's weights to find non-finite ones: only the sampled
     * checkpoints are read, and those that are not finite are skipped below */
    lo.drop_nonfinite = 0;
    if (lo.max_models < 2)
        lo.max_models = 2;
    mz_loader *L = NULL;
    mz_status s = mz_loader_open(&L, z->path, &lo, err);
    if (s != MZ_OK) {
        if (s == MZ_ENOMEM)
            return s;
        char esc[400];
        if (!strcmp(z->architecture, "mixed")) /* e.g. a Model Zoos folder of CNN-s and CNN-l */
            snprintf(w->note, sizeof w->note,
                     "no weight-space plots: the zoo's models have several architectures, whose "
                     "checkpoints do not compare (the weight-space sample maps every layout of "
                     "the zoo, --where or not); import each architecture's trials into a zoo of "
                     "its own (%.200s)",
                     mz_escape(esc, sizeof esc, err->msg));
        else
            snprintf(w->note, sizeof w->note, "no weight-space plots: %.400s",
                     mz_escape(esc, sizeof esc, err->msg));
        mz_error_clear(err);
        return MZ_OK;
    }
    const mz_vec_layout *lay = mz_loader_layout(L);
    const mz_loader_counts *cnt = mz_loader_get_counts(L);
    int64_t n = mz_loader_n_samples(L), d = lay->dim;
    w->candidates = cnt->candidates - cnt->dropped_where;
    if (n * d > MAX_SAMPLE_FLOATS)
        n = MAX_SAMPLE_FLOATS / (d ? d : 1);
    float *X = malloc(sizeof(float) * (size_t)(n * d + 1));
    double *mean = malloc(sizeof(double) * (size_t)(d + 1)),
           *comp = malloc(sizeof(double) * (size_t)(2 * d + 1));
    w->model = malloc(sizeof(int64_t) * (size_t)(n + 1));
    w->epoch_of = malloc(sizeof(int64_t) * (size_t)(n + 1));
    w->test_acc = malloc(sizeof(float) * (size_t)(n + 1));
    w->proj = malloc(sizeof(double) * (size_t)(2 * n + 1));
    w->n_layers = lay->n_layers;
    w->norms = malloc(sizeof(double) * (size_t)(n * lay->n_layers + 1));
    if (!X || !mean || !comp || !w->model || !w->epoch_of || !w->test_acc || !w->proj ||
        !w->norms) {
        s = mz_fail(err, MZ_ENOMEM, "%s: out of memory for %lld checkpoints of %lld floats",
                    z->path, (long long)n, (long long)d);
        goto out;
    }
    for (int l = 0; l < lay->n_layers; l++)
        snprintf(w->layer_name[l], sizeof w->layer_name[l], "%s", lay->layers[l].name);
    /* stream the sample */
    int64_t got = 0;
    while (got < n) {
        const float *x;
        const mz_sample_info *info;
        if ((s = mz_loader_next(L, &x, &info, err)) != MZ_OK)
            goto out;
        if (!x)
            break;
        int finite = 1;
        for (int64_t r = 0; r < d && finite; r++)
            finite = isfinite(x[r]);
        if (!finite) {
            w->nonfinite++;
            continue;
        }
        memcpy(X + got * d, x, sizeof(float) * (size_t)d);
        w->model[got] = info->model_id;
        w->epoch_of[got] = info->epoch;
        int ti = epoch_index(z, info->epoch);
        w->test_acc[got] = ti < 0 ? NAN : rp_metric(z, info->model_id, ti, RP_TEST_ACC);
        for (int l = 0; l < lay->n_layers; l++) {
            const mz_vec_layer *ly = &lay->layers[l];
            double ss = 0;
            for (int64_t r = 0; r < ly->n_weights; r++)
                ss += (double)x[ly->idx_start + r] * x[ly->idx_start + r];
            w->norms[got * lay->n_layers + l] = sqrt(ss);
        }
        got++;
    }
    n = got;
    w->n = n;
    w->dim = d;
    for (int64_t i = 0; i < n; i++) { /* the distinct epochs of the sample */
        int e = (int)w->epoch_of[i], k = 0;
        while (k < w->n_sel_epochs && w->sel_epochs[k] != e)
            k++;
        if (k == w->n_sel_epochs && k < 64)
            w->sel_epochs[w->n_sel_epochs++] = e;
    }
    for (int a = 0; a < w->n_sel_epochs; a++) /* ascending */
        for (int b = a + 1; b < w->n_sel_epochs; b++)
            if (w->sel_epochs[b] < w->sel_epochs[a]) {
                int t = w->sel_epochs[a];
                w->sel_epochs[a] = w->sel_epochs[b];
                w->sel_epochs[b] = t;
            }
    if (n < 3) {
        snprintf(w->note, sizeof w->note, "too few checkpoints for weight-space plots (%lld)",
                 (long long)n);
        goto out;
    }
    if (o->progress)
        o->progress(o->progress_ctx, "PCA");
    double var[2];
    if ((s = rp_pca(X, n, d, 2, o->seed, mean, comp, var, &w->total_var, err)) != MZ_OK)
        goto out;
    for (int j = 0; j < 2; j++)
        w->evr[j] = w->total_var > 0 ? var[j] / w->total_var : NAN;
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < 2; j++)
            w->proj[2 * i + j] = dot_centered(X + i * d, mean, comp + j * d, d);
    w->done = 1;

    if (o->progress)
        o->progress(o->progress_ctx, "trajectories and distances");
    /* trajectories: models spread over the sampled ones, every kept epoch */
    mz_store *st = NULL;
    if ((s = mz_store_open(&st, z->path, MZ_STORE_READ, err)) != MZ_OK)
        goto out;
    int64_t distinct[4096];
    int nd = 0;
    for (int64_t i = 0; i < n && nd < 4096; i++)
        if (nd == 0 || distinct[nd - 1] != w->model[i])
            distinct[nd++] = w->model[i];
    int nt = o->max_trajectories < nd ? o->max_trajectories : nd;
    if (nt > 32)
        nt = 32;
    float *buf = malloc(sizeof(float) * (size_t)(d + 1));
    for (int t = 0; buf && t < nt && s == MZ_OK; t++) {
        int64_t id = distinct[nt == 1 ? 0 : (int64_t)t * (nd - 1) / (nt - 1)];
        int src = source_of(lay, z->rows[id].variant);
        if (src < 0)
            continue;
        traj_ctx tc = {z, lay, src, buf, mean, comp, id, 0, NULL, NULL};
        tc.epochs = malloc(sizeof(int) * 4096);
        tc.proj = malloc(sizeof(double) * 2 * 4096);
        if (!tc.epochs || !tc.proj) {
            free(tc.epochs), free(tc.proj);
            s = mz_fail(err, MZ_ENOMEM, "out of memory");
            break;
        }
        s = mz_store_read_epochs(st, id, lay->sources[src].n_params, on_traj_epoch, &tc, err);
        w->traj_model[w->n_traj] = id;
        w->traj_len[w->n_traj] = tc.n;
        w->traj_epoch[w->n_traj] = tc.epochs;
        w->traj_proj[w->n_traj] = tc.proj;
        w->n_traj++;
    }
    free(buf);

    /* pairwise distances at the last selected epoch */
    if (s == MZ_OK) {
        w->dist_epoch = w->sel_epochs[w->n_sel_epochs - 1];
        int64_t m = 0;
        for (int64_t i = 0; i < n; i++)
            m += w->epoch_of[i] == w->dist_epoch;
        if (m > o->max_dist_models)
            m = o->max_dist_models;
        w->dist_model = malloc(sizeof(int64_t) * (size_t)(m + 1));
        int64_t *row = malloc(sizeof(int64_t) * (size_t)(m + 1));
        w->dist = malloc(sizeof(double) * (size_t)(m * m + 1));
        if (!w->dist_model || !row || !w->dist) {
            free(row);
            s = mz_fail(err, MZ_ENOMEM, "out of memory");
        } else {
            int64_t k = 0;
            for (int64_t i = 0; i < n && k < m; i++)
                if (w->epoch_of[i] == w->dist_epoch) {
                    row[k] = i;
                    w->dist_model[k++] = w->model[i];
                }
            for (int64_t a = 0; a < m; a++) {
                w->dist[a * m + a] = 0;
                for (int64_t b = a + 1; b < m; b++) {
                    const float *xa = X + row[a] * d, *xb = X + row[b] * d;
                    double ss = 0;
                    for (int64_t r = 0; r < d; r++) {
                        double df = (double)xa[r] - xb[r];
                        ss += df * df;
                    }
                    w->dist[a * m + b] = w->dist[b * m + a] = sqrt(ss);
                }
            }
            w->n_dist = m;
            free(row);
        }
    }
    if (s == MZ_OK && o->progress)
        o->progress(o->progress_ctx, "predictions");
    if (s == MZ_OK)
        s = predictions(z, o, err);
    mz_store_close(st);
out:
    free(X);
    free(mean);
    free(comp);
    mz_loader_close(L);
    return s;
}
