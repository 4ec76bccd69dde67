/* The import driver, shared by the formats: the models and epochs the first pass found, the
 * zoo's description, resuming what a previous run committed, and committing whole models as
 * their weights arrive in the second pass. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mzoo/sparse.h"
#include "interop/interop-impl.h"
#include "core/banned.h"

#define IMPORTER_VERSION 1
#define BATCH_BYTES ((int64_t)64 << 20)
#define BATCH_RECORDS 4096

const char *const mz_metric_columns[M_N] = {"train_loss", "train_acc", "val_loss", "val_acc",
                                            "test_loss",  "test_acc",  "sparsity"};

static const char *const format_names[] = {"auto", "modelzoos", "ctc", "pt", "safetensors"};

const char *mz_interop_format_name(mz_interop_format f)
{
    return (unsigned)f < sizeof format_names / sizeof format_names[0] ? format_names[f] : "?";
}

int mz_interop_format_parse(const char *name)
{
    for (int i = 0; i < (int)(sizeof format_names / sizeof format_names[0]); i++)
        if (!strcmp(name, format_names[i]))
            return i;
    return -1;
}

void mz_import_options_default(mz_import_options *o)
{
    memset(o, 0, sizeof *o);
}

/* ---- building the description ---- */

imp_model *imp_add_model(importer *im, const char *name, mz_error *err)
{
    if (im->n_models == im->cap_models) {
        int64_t cap = im->cap_models ? 2 * im->cap_models : 64;
        imp_model *n = realloc(im->models, (size_t)cap * sizeof *n);
        if (!n) {
            mz_fail(err, MZ_ENOMEM, "out of memory for %lld models", (long long)cap);
            return NULL;
        }
        im->models = n;
        im->cap_models = cap;
    }
    imp_model *m = &im->models[im->n_models];
    memset(m, 0, sizeof *m);
    if (!(m->name = mz_strdup(name))) {
        mz_fail(err, MZ_ENOMEM, "out of memory");
        return NULL;
    }
    m->lr = m->weight_decay = m->dropout = m->momentum = NAN;
    m->nesterov = -1;
    m->status_override = -1;
    m->nonfinite_metric = m->nonfinite_ckpt = -1;
    m->layout = -1;
    m->source_id = m->source_epoch = -1;
    im->n_models++;
    return m;
}

imp_epoch *imp_epoch_at(importer *im, imp_model *m, int epoch, mz_error *err)
{
    (void)im;
    for (int i = m->n_ep - 1; i >= 0; i--)
        if (m->ep[i].epoch == epoch)
            return &m->ep[i];
    if (m->n_ep == m->cap_ep) {
        int cap = m->cap_ep ? 2 * m->cap_ep : 16;
        imp_epoch *n = realloc(m->ep, (size_t)cap * sizeof *n);
        if (!n) {
            mz_fail(err, MZ_ENOMEM, "out of memory");
            return NULL;
        }
        m->ep = n;
        m->cap_ep = cap;
    }
    imp_epoch *e = &m->ep[m->n_ep++];
    memset(e, 0, sizeof *e);
    e->epoch = epoch;
    for (int k = 0; k < M_N; k++)
        e->m[k] = NAN;
    e->src = -1;
    return e;
}

int imp_layout_add(importer *im, const mz_ilayout *L, mz_error *err)
{
    for (int i = 0; i < im->n_layouts; i++)
        if (!strcmp(im->layouts[i].variant, L->variant))
            return i;
    mz_ilayout *n = realloc(im->layouts, (size_t)(im->n_layouts + 1) * sizeof *n);
    if (!n) {
        mz_fail(err, MZ_ENOMEM, "out of memory");
        return -1;
    }
    im->layouts = n;
    im->layouts[im->n_layouts] = *L;
    return im->n_layouts++;
}

void imp_meta(importer *im, const char *key, const char *value)
{
    for (int i = 0; i < im->n_meta; i++)
        if (!strcmp(im->meta[i][0], key)) {
            snprintf(im->meta[i][1], sizeof im->meta[i][1], "%s", value);
            return;
        }
    if (im->n_meta < (int)(sizeof im->meta / sizeof im->meta[0])) {
        snprintf(im->meta[im->n_meta][0], sizeof im->meta[0][0], "%s", key);
        snprintf(im->meta[im->n_meta][1], sizeof im->meta[0][1], "%s", value);
        im->n_meta++;
    }
}

static int cmp_model(const void *a, const void *b)
{
    return strcmp(((const imp_model *)a)->name, ((const imp_model *)b)->name);
}

static int cmp_epoch(const void *a, const void *b)
{
    int x = ((const imp_epoch *)a)->epoch, y = ((const imp_epoch *)b)->epoch;
    return (x > y) - (x < y);
}

typedef struct committed_ctx {
    importer *im;
    int bad;
} committed_ctx;

static int on_committed(void *vctx, int ncol, const char *const *v, const char *const *names)
{
    (void)names;
    committed_ctx *c = vctx;
    if (ncol != 2 || !v[0] || !v[1]) {
        c->bad = 1;
        return 1;
    }
    int64_t id = strtoll(v[0], NULL, 10);
    int epoch = (int)strtol(v[1], NULL, 10);
    if (id < 0 || id >= c->im->n_models) {
        c->bad = 1;
        return 1;
    }
    imp_model *m = &c->im->models[id];
    for (int i = 0; i < m->n_ep; i++)
        if (m->ep[i].epoch == epoch && !m->ep[i].committed) {
            m->ep[i].committed = 1;
            if (m->ep[i].has_ckpt)
                m->pending--;
        }
    return 0;
}

/* What a previous run of this import committed. */
static mz_status find_committed(importer *im, int *any)
{
    mz_model_progress *p = malloc((size_t)(im->n_models ? im->n_models : 1) * sizeof *p);
    if (!p)
        return mz_fail(im->err, MZ_ENOMEM, "out of memory");
    mz_status st = mz_store_progress(im->st, p, im->n_models, im->err);
    for (int64_t i = 0; !st && i < im->n_models; i++) {
        imp_model *m = &im->models[i];
        if (p[i].epochs_done >= 0 || p[i].status != MZ_MODEL_PENDING)
            *any = 1;
        if (mz_model_status_final(p[i].status)) {
            m->final = 1;
            m->pending = 0;
            for (int e = 0; e < m->n_ep; e++)
                m->ep[e].committed = 1;
            im->models_final++;
        }
    }
    free(p);
    if (st)
        return st;
    committed_ctx c = {im, 0};
    st = mz_store_query(im->st,
                        "SELECT model_id, epoch FROM epochs WHERE model_id IN (SELECT id FROM "
                        "models WHERE status NOT IN ('done', 'diverged', 'failed'))",
                        on_committed, &c, im->err);
    if (!st && c.bad)
        st = mz_fail(im->err, MZ_EFORMAT,
                     "%s: an epochs row names a model this import does not have", im->zoo_path);
    return st;
}

mz_status imp_attach(importer *im, int *all_done)
{
    mz_error *err = im->err;
    mz_import_report *rep = im->rep;
    *all_done = 0;
    if (im->n_models == 0)
        return mz_fail(err, MZ_EFORMAT, "%s: no models found", im->source);
    qsort(im->models, (size_t)im->n_models, sizeof *im->models, cmp_model);
    int max_epoch = 0;
    for (int64_t i = 0; i < im->n_models; i++) {
        imp_model *m = &im->models[i];
        if (i && !strcmp(m->name, im->models[i - 1].name))
            return mz_fail(err, MZ_EFORMAT, "%s: two models named %s", im->source, m->name);
        if (m->n_ep > 1) /* a model without epochs may have no array: qsort(NULL, 0) is undefined */
            qsort(m->ep, (size_t)m->n_ep, sizeof *m->ep, cmp_epoch);
        for (int e = 0; e < m->n_ep; e++) {
            imp_epoch *x = &m->ep[e];
            if (x->epoch > max_epoch)
                max_epoch = x->epoch;
            rep->epochs++;
            if (x->has_ckpt) {
                rep->checkpoints++;
                m->pending++;
            }
            if (!x->has_ckpt && x->has_metrics)
                rep->no_checkpoint++;
            if (x->has_ckpt && !x->has_metrics)
                rep->no_metrics++;
        }
    }
    rep->models = im->n_models;
    for (int64_t i = 0; i < im->n_models; i++)
        rep->twins += im->models[i].layout >= 0 && im->layouts[im->models[i].layout].ard;
    if (rep->twins == im->n_models) /* a zoo of twins says its method, as mzoo's twin zoos do */
        imp_meta(im, "method", "vd");
    /* the recipe: what was read, not where it lay */
    char digest[96];
    mz_digest_hex(&im->digest, digest, sizeof digest);
    json_t *r = json_pack("{s:s, s:s, s:i, s:I}", "digest", digest, "format",
                          mz_interop_format_name(im->format), "importer", IMPORTER_VERSION,
                          "models", (json_int_t)im->n_models);
    char *recipe = r ? mz_json_canonical(r) : NULL;
    json_decref(r);
    char arch[32] = "";
    for (int i = 0; i < im->n_layouts; i++)
        if (!arch[0] || !strcmp(arch, im->layouts[i].arch))
            snprintf(arch, sizeof arch, "%s", im->layouts[i].arch);
        else
            snprintf(arch, sizeof arch, "mixed");
    snprintf(rep->architecture, sizeof rep->architecture, "%s", arch);
    char epochs[16];
    snprintf(epochs, sizeof epochs, "%d", max_epoch);
    imp_meta(im, "architecture", arch);
    imp_meta(im, "epochs", epochs);
    const char *meta[8][2];
    int n_meta = 0;
    for (int i = 0; i < im->n_meta; i++) {
        meta[n_meta][0] = im->meta[i][0];
        meta[n_meta++][1] = im->meta[i][1];
    }
    meta[n_meta][0] = "source";
    meta[n_meta++][1] = im->source;
    meta[n_meta][0] = "source_format";
    meta[n_meta++][1] = mz_interop_format_name(im->format);

    mz_model_row *rows = calloc((size_t)im->n_models, sizeof *rows);
    mz_layout *lay = calloc((size_t)im->n_layouts, sizeof *lay);
    mz_status st = MZ_OK;
    if (!recipe || !rows || !lay)
        st = mz_fail(err, MZ_ENOMEM, "out of memory");
    for (int64_t i = 0; !st && i < im->n_models; i++) {
        imp_model *m = &im->models[i];
        mz_model_row *row = &rows[i];
        row->id = i;
        row->variant = im->layouts[m->layout].variant;
        row->activation = m->activation;
        row->init = m->init;
        row->optimizer = m->optimizer;
        row->lr = m->lr;
        row->weight_decay = m->weight_decay;
        row->dropout = m->dropout;
        row->momentum = m->momentum;
        row->nesterov = m->nesterov;
        row->has_seed = m->has_seed;
        row->seed = m->seed;
        row->source_id = m->source_id;
        row->source_epoch = m->source_epoch;
        row->hparams = m->hparams;
    }
    for (int i = 0; !st && i < im->n_layouts; i++) {
        snprintf(lay[i].variant, sizeof lay[i].variant, "%s", im->layouts[i].variant);
        lay[i].n_tensors = im->layouts[i].n;
        lay[i].tensors = im->layouts[i].t;
        lay[i].n_params = im->layouts[i].n_params;
    }
    mz_zoo_desc z = {"imported",   recipe, n_meta,        (const char *const(*)[2])meta,
                     im->n_models, rows,   im->n_layouts, lay,
                     NULL};
    if (!st)
        st = mz_store_open(&im->st, im->zoo_path, MZ_STORE_WRITE, err);
    int existing = !st && mz_store_schema_version(im->st) > 0;
    if (!st) {
        st = mz_store_attach(im->st, &z, err);
        if (st == MZ_EMISMATCH)
            mz_error_prefix(err,
                            "%s was not imported: it differs from what %s holds (another "
                            "source, or another version of it)",
                            im->source, im->zoo_path);
    }
    int any = 0;
    if (!st && existing)
        st = find_committed(im, &any);
    free(rows);
    free(lay);
    free(recipe);
    if (st)
        return st;
    rep->resumed = any && im->models_final < im->n_models;
    rep->already = im->models_final == im->n_models;
    *all_done = rep->already;
    return MZ_OK;
}

/* ---- committing ---- */

static void decide(const imp_model *m, mz_model_status *status, char *msg, size_t cap)
{
    msg[0] = 0;
    if (m->status_override >= 0) {
        *status = (mz_model_status)m->status_override;
        snprintf(msg, cap, "%s", m->message ? m->message : "");
        return;
    }
    if (m->failed) {
        *status = MZ_MODEL_FAILED;
        snprintf(msg, cap, "%s", m->message ? m->message : "training failed");
        return;
    }
    if (m->nonfinite_metric >= 0 || m->nonfinite_ckpt >= 0) {
        *status = MZ_MODEL_DIVERGED;
        size_t at = 0;
        if (m->nonfinite_metric >= 0)
            at += (size_t)snprintf(msg, cap, "%s is not finite at epoch %d", m->nonfinite_what,
                                   m->nonfinite_metric);
        if (m->nonfinite_ckpt >= 0 && at < cap)
            snprintf(msg + at, cap - at, "%sthe checkpoint of epoch %d holds NaN or Inf",
                     at ? "; " : "", m->nonfinite_ckpt);
        return;
    }
    *status = MZ_MODEL_DONE;
    snprintf(msg, cap, "%s", m->message ? m->message : "");
}

static mz_status grow_batch(importer *im, int more)
{
    if (im->n_batch + more <= im->cap_batch)
        return MZ_OK;
    int cap = im->cap_batch ? im->cap_batch : 256;
    while (cap < im->n_batch + more)
        cap *= 2;
    mz_epoch_record *n = realloc(im->batch, (size_t)cap * sizeof *n);
    if (!n)
        return mz_fail(im->err, MZ_ENOMEM, "out of memory");
    im->batch = n;
    imp_epoch **ne = realloc(im->batch_ep, (size_t)cap * sizeof *ne);
    if (!ne)
        return mz_fail(im->err, MZ_ENOMEM, "out of memory");
    im->batch_ep = ne;
    im->cap_batch = cap;
    return MZ_OK;
}

static mz_status commit_batch(importer *im)
{
    if (!im->n_batch)
        return MZ_OK;
    mz_status st = mz_store_commit(im->st, im->batch, im->n_batch, im->err);
    for (int i = 0; i < im->n_batch; i++) {
        mz_epoch_record *r = &im->batch[i];
        imp_epoch *e = im->batch_ep[i];
        if (e && e->w) {
            int64_t bytes = r->n_weights * 4;
            im->held_bytes -= bytes;
            im->models[r->model_id].bytes -= bytes;
            free(e->w);
            e->w = NULL;
        }
        free((char *)r->message);
    }
    im->n_batch = 0;
    im->batch_bytes = 0;
    im->batch_models = 0;
    if (st)
        return st;
    im->rep->commits++;
    return imp_progress(im, "importing");
}

/* Queues the uncommitted epochs of model mi (all of them when `whole`, else only those whose
 * weights are held), the last with the model's final status when `whole`. A whole model is
 * committed with the batch when the batch is full; a part waits for the caller's commit. */
static mz_status queue_model(importer *im, int64_t mi, int whole)
{
    imp_model *m = &im->models[mi];
    const mz_ilayout *L = &im->layouts[m->layout];
    mz_status st = grow_batch(im, m->n_ep + 1);
    if (st)
        return st;
    int last = -1;
    for (int e = 0; e < m->n_ep; e++)
        if (!m->ep[e].committed && (whole || m->ep[e].w))
            last = e;
    mz_model_status status = MZ_MODEL_RUNNING;
    char msg[512] = "";
    if (whole)
        decide(m, &status, msg, sizeof msg);
    for (int e = 0; e <= last; e++) {
        imp_epoch *x = &m->ep[e];
        if (x->committed || (!whole && !x->w))
            continue;
        mz_epoch_record *r = &im->batch[im->n_batch];
        memset(r, 0, sizeof *r);
        r->model_id = mi;
        r->epoch = x->epoch;
        r->train_loss = x->m[M_TRAIN_LOSS];
        r->train_acc = x->m[M_TRAIN_ACC];
        r->val_loss = x->m[M_VAL_LOSS];
        r->val_acc = x->m[M_VAL_ACC];
        r->test_loss = x->m[M_TEST_LOSS];
        r->test_acc = x->m[M_TEST_ACC];
        r->sparsity = x->m[M_SPARSITY];
        r->metrics = x->extra;
        r->weights = x->w;
        r->n_weights = x->w ? L->n_params : 0;
        r->status = e == last ? status : MZ_MODEL_RUNNING;
        if (e == last && msg[0] && !(r->message = mz_strdup(msg)))
            return mz_fail(im->err, MZ_ENOMEM, "out of memory");
        if (x->has_ckpt && !x->w)
            return mz_fail(im->err, MZ_EFORMAT,
                           "%s: model %s: the checkpoint of epoch %d was "
                           "listed but not read",
                           im->source, m->name, x->epoch);
        im->batch_ep[im->n_batch++] = x;
        im->batch_bytes += r->n_weights * 4;
        x->committed = 1;
        im->rep->epochs_written++;
    }
    if (whole && last < 0) { /* no epochs to write: the status alone */
        mz_epoch_record *r = &im->batch[im->n_batch];
        memset(r, 0, sizeof *r);
        r->model_id = mi;
        r->status_only = 1;
        r->status = status;
        if (msg[0] && !(r->message = mz_strdup(msg)))
            return mz_fail(im->err, MZ_ENOMEM, "out of memory");
        im->batch_ep[im->n_batch++] = NULL;
    }
    if (whole) {
        m->final = 1;
        im->models_final++;
        im->batch_models++;
    }
    int per = im->opt->models_per_commit;
    if (whole && (im->batch_bytes >= BATCH_BYTES || im->n_batch >= BATCH_RECORDS ||
                  (per > 0 && im->batch_models >= per)))
        return commit_batch(im);
    return MZ_OK;
}

/* When too much is held, commits every held checkpoint of the unfinished models (in epoch order
 * within each model) in one transaction: memory stays bounded whatever the order of the rows,
 * and the work per row stays constant. */
static mz_status relieve(importer *im)
{
    if (im->held_bytes <= im->memory_limit)
        return MZ_OK;
    mz_status st = commit_batch(im);
    for (int64_t i = 0; !st && i < im->n_models; i++)
        if (!im->models[i].final && im->models[i].bytes > 0)
            st = queue_model(im, i, 0);
    if (!st)
        st = commit_batch(im);
    return st;
}

int imp_wants(const importer *im, int64_t mi, int e)
{
    const imp_model *m = &im->models[mi];
    return !m->final && e >= 0 && e < m->n_ep && m->ep[e].has_ckpt && !m->ep[e].committed &&
           !m->ep[e].w;
}

/* 1 if the parameters the network reads are finite; *unused = 1 if those it never reads (a
 * twin's linear log_sigma2_bias, the spans L->unused in order) hold NaN or Inf. */
static int finite_weights(const mz_ilayout *L, const float *w, int *unused)
{
    int64_t k = 0;
    for (int u = 0; u <= L->n_unused; u++) {
        int64_t end = u < L->n_unused ? L->unused[u].first : L->n_params;
        for (; k < end; k++)
            if (!isfinite(w[k]))
                return 0;
        if (u == L->n_unused)
            break;
        for (; k < end + L->unused[u].count; k++)
            *unused |= !isfinite(w[k]);
    }
    return 1;
}

/* A twin's per-layer sparsity, recomputed from its checkpoint as mzoo's own twins record it
 * (mz_ard_sparsity_metrics), goes into the epoch's further metrics under "sparsity" (replacing a
 * "sparsity" key of the source's line, e.g. an mzoo export's); epochs.sparsity stays what the
 * source reported (sparsity_ratio). */
static mz_status twin_metrics(importer *im, const mz_ilayout *L, imp_epoch *x, const float *w)
{
    char json[512];
    double total;
    mz_status st = mz_ard_sparsity_metrics(&L->ard_arch, w, &total, json, sizeof json, im->err);
    if (st)
        return st;
    json_t *o = NULL;
    if (x->extra) {
        json_error_t je;
        o = json_loads(x->extra, 0, &je);
    }
    if (!json_is_object(o)) {
        json_decref(o);
        o = json_object();
    }
    json_error_t je;
    json_t *fig = json_loads(json, 0, &je);
    char *text = NULL;
    if (o && fig && !json_object_set(o, "sparsity", json_object_get(fig, "sparsity")))
        text = mz_json_canonical(o);
    json_decref(fig);
    json_decref(o);
    if (!text)
        return mz_fail(im->err, MZ_ENOMEM, "out of memory");
    free(x->extra);
    x->extra = text;
    return MZ_OK;
}

mz_status imp_put_weights(importer *im, int64_t mi, int e, float *w)
{
    imp_model *m = &im->models[mi];
    if (!imp_wants(im, mi, e)) {
        free(w);
        return MZ_OK;
    }
    imp_epoch *x = &m->ep[e];
    const mz_ilayout *L = &im->layouts[m->layout];
    int unused_nonfinite = 0;
    if (!finite_weights(L, w, &unused_nonfinite)) {
        x->nonfinite_w = 1;
        im->rep->nonfinite_checkpoints++;
        if (m->nonfinite_ckpt < 0 || x->epoch < m->nonfinite_ckpt)
            m->nonfinite_ckpt = x->epoch;
    }
    if (unused_nonfinite && !x->nonfinite_w)
        im->rep->nonfinite_unused++;
    if (L->ard) {
        mz_status st = twin_metrics(im, L, x, w);
        if (st) {
            free(w);
            return st;
        }
    }
    x->w = w;
    m->pending--;
    m->bytes += L->n_params * 4;
    im->held_bytes += L->n_params * 4;
    if (m->pending == 0)
        return queue_model(im, mi, 1);
    return relieve(im);
}

mz_status imp_progress(importer *im, const char *phase)
{
    const mz_import_options *o = im->opt;
    if (!o || !o->progress)
        return MZ_OK;
    mz_interop_progress p = {phase,
                             im->unit ? im->unit : "models",
                             im->prog_done,
                             im->prog_total,
                             im->rep->commits,
                             mz_now() - im->t0};
    if (o->progress(o->progress_ctx, &p))
        return mz_fail(im->err, MZ_EINTERRUPTED,
                       "%s: import stopped; what is committed stays (run it again to resume)",
                       im->zoo_path);
    return MZ_OK;
}

typedef struct status_count {
    mz_import_report *rep;
} status_count;

static int on_status(void *vctx, int ncol, const char *const *v, const char *const *names)
{
    (void)names;
    status_count *c = vctx;
    static const char *const st[] = {"pending", "running", "done", "diverged", "failed"};
    for (int i = 0; ncol == 2 && v[0] && v[1] && i < 5; i++)
        if (!strcmp(v[0], st[i]))
            c->rep->by_status[i] = strtoll(v[1], NULL, 10);
    return 0;
}

mz_status imp_finish(importer *im)
{
    mz_status st = MZ_OK;
    for (int64_t i = 0; !st && i < im->n_models; i++) {
        imp_model *m = &im->models[i];
        if (!m->final && m->pending == 0)
            st = queue_model(im, i, 1);
        else if (!m->final)
            st = mz_fail(im->err, MZ_EFORMAT,
                         "%s: model %s: %d listed checkpoints were not found when the weights "
                         "were read (did the source change during the import?)",
                         im->source, m->name, m->pending);
    }
    if (!st)
        st = commit_batch(im);
    if (!st) {
        status_count c = {im->rep};
        memset(im->rep->by_status, 0, sizeof im->rep->by_status);
        st = mz_store_query(im->st, "SELECT status, count(*) FROM models GROUP BY status",
                            on_status, &c, im->err);
    }
    if (!st)
        st = mz_store_fold(im->st, im->err);
    return st;
}

void imp_release(importer *im)
{
    for (int i = 0; i < im->n_batch; i++)
        free((char *)im->batch[i].message);
    free(im->batch);
    free(im->batch_ep);
    for (int64_t i = 0; i < im->n_models; i++) {
        imp_model *m = &im->models[i];
        for (int e = 0; e < m->n_ep; e++) {
            free(m->ep[e].extra);
            free(m->ep[e].w);
        }
        free(m->ep);
        free(m->name);
        free(m->activation);
        free(m->init);
        free(m->optimizer);
        free(m->hparams);
        free(m->message);
    }
    free(im->models);
    free(im->layouts);
    mz_store_close(im->st);
    memset(im, 0, sizeof *im);
}

mz_status mz_import(const char *source, const char *zoo_path, const mz_import_options *opt,
                    mz_import_report *rep, mz_error *err)
{
    mz_import_report local;
    mz_error local_err;
    if (!rep)
        rep = &local;
    if (!err)
        err = &local_err; /* the importers read the code back after a failure */
    memset(rep, 0, sizeof *rep);
    mz_import_options defaults;
    if (!opt) {
        mz_import_options_default(&defaults);
        opt = &defaults;
    }
    struct stat sb;
    if (stat(source, &sb) != 0)
        return mz_fail(err, MZ_ENOTFOUND, "%s: no such file or directory", source);
    mz_interop_format f = opt->format;
    if (f == MZ_INTEROP_AUTO)
        f = S_ISDIR(sb.st_mode) && mz_ctc_detect(source) ? MZ_INTEROP_CTC : MZ_INTEROP_MODELZOOS;
    if (f != MZ_INTEROP_MODELZOOS && f != MZ_INTEROP_CTC)
        return mz_fail(err, MZ_EINVAL, "%s is an export format; import reads modelzoos or ctc",
                       mz_interop_format_name(f));
    if (f == MZ_INTEROP_CTC && !S_ISDIR(sb.st_mode))
        return mz_fail(err, MZ_EUNSUPPORTED,
                       "%s: a Small CNN Zoo is read from its directory (extract the download "
                       "first: tar xf mnist.tar.xz)",
                       source);
    importer im;
    memset(&im, 0, sizeof im);
    im.source = source;
    im.zoo_path = zoo_path;
    im.opt = opt;
    im.rep = rep;
    im.err = err;
    im.format = f;
    im.t0 = mz_now();
    im.memory_limit = opt->memory_limit > 0 ? opt->memory_limit : (int64_t)1 << 30;
    mz_digest_init(&im.digest);
    rep->format = f;
    mz_status st = f == MZ_INTEROP_CTC ? mz_ctc_import(&im) : mz_modelzoos_import(&im);
    double t0 = im.t0;
    imp_release(&im);
    rep->seconds = mz_now() - t0;
    return st;
}
