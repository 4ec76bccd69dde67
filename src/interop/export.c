/* Export: the selection (as mzoo dataset's --where and --epochs), the models and their epochs
 * read exactly (reals as 17 significant digits), and the pt and safetensors formats with their
 * index files. The modelzoos and ctc layouts are in export_zoos.c. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "interop/interop-impl.h"
#include "core/banned.h"

void mz_export_options_default(mz_export_options *o)
{
    memset(o, 0, sizeof *o);
    o->format = MZ_INTEROP_PT;
}

mz_status exp_mkdir(const char *path, mz_error *err)
{
    if (mkdir(path, 0777) == 0 || errno == EEXIST)
        return MZ_OK;
    return mz_fail(err, errno == EACCES || errno == EROFS ? MZ_EREADONLY : MZ_EIO,
                   "%s: cannot create the directory (%s)", path, strerror(errno));
}

/* The export directory: created, or existing and empty. */
static mz_status make_dir(const char *dir, mz_error *err)
{
    struct stat sb;
    if (stat(dir, &sb) == 0) {
        if (!S_ISDIR(sb.st_mode))
            return mz_fail(err, MZ_EINVAL, "%s exists and is not a directory", dir);
        DIR *d = opendir(dir);
        if (!d)
            return mz_fail(err, MZ_EIO, "%s: cannot list (%s)", dir, strerror(errno));
        struct dirent *de;
        int empty = 1;
        while (empty && (de = readdir(d)))
            empty = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
        closedir(d);
        if (!empty)
            return mz_fail(err, MZ_EINVAL,
                           "%s is not empty (an export goes into a new or empty directory)", dir);
        return MZ_OK;
    }
    return exp_mkdir(dir, err);
}

/* ---- the selection ---- */

typedef struct pair {
    int64_t model;
    int epoch;
} pair;

typedef struct selection {
    pair *p;
    int64_t n, cap;
    int oom;
    int last; /* epochs "last" */
    /* epochs list: ranges [lo, hi] */
    int n_ranges;
    int lo[256], hi[256];
} selection;

static mz_status parse_epochs(selection *s, const char *spec, mz_error *err)
{
    if (!spec || !*spec || !strcmp(spec, "all"))
        return MZ_OK;
    if (!strcmp(spec, "last")) {
        s->last = 1;
        return MZ_OK;
    }
    const char *p = spec;
    while (*p) {
        char *e;
        errno = 0;
        long a = strtol(p, &e, 10), b = a;
        if (e == p || errno || a < 0 || a > 1000000)
            break;
        p = e;
        if (*p == '-') {
            const char *q = p + 1;
            b = strtol(q, &e, 10);
            if (e == q || errno || b < a || b > 1000000)
                break;
            p = e;
        }
        if (s->n_ranges == 256)
            return mz_fail(err, MZ_ELIMIT, "--epochs: more than 256 items");
        s->lo[s->n_ranges] = (int)a;
        s->hi[s->n_ranges++] = (int)b;
        if (*p == ',')
            p++;
        else if (*p)
            break;
    }
    if (*p || !s->n_ranges)
        return mz_fail(err, MZ_EINVAL,
                       "--epochs: expected all, last or epochs and ranges such as 0,5,10-20, got "
                       "'%s'",
                       spec);
    return MZ_OK;
}

static int on_select(void *vctx, int64_t model_id, int epoch, const char *variant, int keep,
                     const mz_store_value *vals)
{
    (void)variant;
    (void)vals;
    selection *s = vctx;
    if (!keep)
        return 0;
    if (s->n_ranges) {
        int in = 0;
        for (int i = 0; i < s->n_ranges && !in; i++)
            in = epoch >= s->lo[i] && epoch <= s->hi[i];
        if (!in)
            return 0;
    }
    if (s->n == s->cap) {
        int64_t cap = s->cap ? 2 * s->cap : 1024;
        pair *n = realloc(s->p, (size_t)cap * sizeof *n);
        if (!n) {
            s->oom = 1;
            return 1;
        }
        s->p = n;
        s->cap = cap;
    }
    s->p[s->n++] = (pair){model_id, epoch};
    return 0;
}

/* ---- reading models and epochs ---- */

static double real_of(const char *v)
{
    return v ? strtod(v, NULL) : NAN;
}

static char *dup_or_null(const char *v, int *oom)
{
    if (!v)
        return NULL;
    char *s = mz_strdup(v);
    if (!s)
        *oom = 1;
    return s;
}

typedef struct model_rows {
    exp_model *m;
    int64_t n, cap;
    int oom, bad;
} model_rows;

static int on_model(void *vctx, int ncol, const char *const *v, const char *const *names)
{
    (void)names;
    model_rows *r = vctx;
    if (ncol != 16 || !v[0] || !v[1] || !v[11]) {
        r->bad = 1;
        return 1;
    }
    if (r->n == r->cap) {
        int64_t cap = r->cap ? 2 * r->cap : 256;
        exp_model *n = realloc(r->m, (size_t)cap * sizeof *n);
        if (!n) {
            r->oom = 1;
            return 1;
        }
        r->m = n;
        r->cap = cap;
    }
    exp_model *m = &r->m[r->n++];
    memset(m, 0, sizeof *m);
    m->id = strtoll(v[0], NULL, 10);
    snprintf(m->variant, sizeof m->variant, "%s", v[1]);
    m->activation = dup_or_null(v[2], &r->oom);
    m->init = dup_or_null(v[3], &r->oom);
    m->optimizer = dup_or_null(v[4], &r->oom);
    m->lr = real_of(v[5]);
    m->weight_decay = real_of(v[6]);
    m->dropout = real_of(v[7]);
    m->momentum = real_of(v[8]);
    m->nesterov = v[9] ? (int)strtol(v[9], NULL, 10) : -1;
    m->has_seed = v[10] != NULL;
    m->seed = v[10] ? strtoll(v[10], NULL, 10) : 0;
    static const char *const st[] = {"pending", "running", "done", "diverged", "failed"};
    m->status = 0;
    for (int i = 0; i < 5; i++)
        if (!strcmp(v[11], st[i]))
            m->status = i;
    m->message = dup_or_null(v[12], &r->oom);
    m->hparams = dup_or_null(v[13], &r->oom);
    m->source_id = v[14] ? strtoll(v[14], NULL, 10) : -1;
    m->source_epoch = v[15] ? (int)strtol(v[15], NULL, 10) : -1;
    return 0;
}

typedef struct epoch_rows {
    exp_epoch *e;
    int n, cap;
    int oom;
} epoch_rows;

static int on_epoch(void *vctx, int ncol, const char *const *v, const char *const *names)
{
    (void)names;
    epoch_rows *r = vctx;
    if (ncol != 10 || !v[0])
        return 1;
    if (r->n == r->cap) {
        int cap = r->cap ? 2 * r->cap : 64;
        exp_epoch *n = realloc(r->e, (size_t)cap * sizeof *n);
        if (!n) {
            r->oom = 1;
            return 1;
        }
        r->e = n;
        r->cap = cap;
    }
    exp_epoch *e = &r->e[r->n++];
    memset(e, 0, sizeof *e);
    e->epoch = (int)strtol(v[0], NULL, 10);
    for (int k = 0; k < M_N; k++)
        e->m[k] = real_of(v[1 + k]);
    e->extra = dup_or_null(v[8], &r->oom);
    e->has_weights = v[9] && !strcmp(v[9], "1");
    return 0;
}

/* Reals as 17 significant digits, which read back exactly (SQLite's own text has 15). */
#define REAL(c) "CASE WHEN " c " IS NULL THEN NULL ELSE printf('%!.17g', " c ") END"

// clang-format off
static const char models_sql[] =
    "SELECT id, variant, activation, init, optimizer, " REAL("lr") ", " REAL("weight_decay") ", "
    REAL("dropout") ", " REAL("momentum") ", nesterov, seed, status, message, hparams, "
    "source_id, source_epoch FROM models ORDER BY id";
static const char epoch_sql[] =
    "SELECT epoch, " REAL("train_loss") ", " REAL("train_acc") ", " REAL("val_loss") ", "
    REAL("val_acc") ", " REAL("test_loss") ", " REAL("test_acc") ", " REAL("sparsity") ", "
    "metrics, weights IS NOT NULL FROM epochs WHERE model_id = ";
// clang-format on

int exp_layout_of(const exporter *ex, const char *variant)
{
    for (int i = 0; i < ex->n_layouts; i++)
        if (!strcmp(ex->layouts[i].variant, variant))
            return i;
    return -1;
}

mz_status exp_weights(exporter *ex, const exp_model *m, int epoch, float **w)
{
    int li = exp_layout_of(ex, m->variant);
    MZ_ASSERT(li >= 0);
    const mz_ilayout *L = &ex->layouts[li];
    *w = malloc((size_t)L->n_params * sizeof **w);
    if (!*w)
        return mz_fail(ex->err, MZ_ENOMEM, "out of memory for %lld weights",
                       (long long)L->n_params);
    mz_status st = mz_store_read_weights(ex->st, m->id, epoch, *w, L->n_params, ex->err);
    if (st) {
        free(*w);
        *w = NULL;
    }
    return st;
}

mz_status exp_write_pt(exporter *ex, const mz_ilayout *L, const float *w, const char *path)
{
    mz_pt_wtensor *t = calloc((size_t)L->n, sizeof *t);
    int64_t *ints = calloc((size_t)L->n, sizeof *ints);
    if (!t || !ints) {
        free(t);
        free(ints);
        return mz_fail(ex->err, MZ_ENOMEM, "out of memory");
    }
    for (int i = 0; i < L->n; i++) {
        const mz_tensor_desc *d = &L->t[i];
        t[i].name = d->name;
        t[i].ndim = d->ndim;
        memcpy(t[i].shape, d->shape, sizeof(int64_t) * (size_t)d->ndim);
        t[i].dtype = MZ_DT_F32;
        t[i].data = w + d->offset;
        size_t nl = strlen(d->name);
        if (d->ndim == 0 && nl >= 20 && !strcmp(d->name + nl - 20, "num_batches_tracked")) {
            /* torch keeps the count as int64; mzoo's blob holds it as a float */
            ints[i] = (int64_t)w[d->offset];
            t[i].dtype = MZ_DT_I64;
            t[i].data = &ints[i];
        }
    }
    mz_status st = mz_pt_write(path, t, L->n, ex->err);
    free(t);
    free(ints);
    return st;
}

json_t *exp_model_json(const exp_model *m)
{
    json_t *o = NULL;
    if (m->hparams) {
        json_error_t je;
        o = json_loads(m->hparams, 0, &je);
    }
    if (!json_is_object(o)) {
        json_decref(o);
        o = json_object();
    }
    if (!o)
        return NULL;
    if (m->activation)
        json_object_set_new(o, "activation", json_string(m->activation));
    if (m->init)
        json_object_set_new(o, "init", json_string(m->init));
    if (m->optimizer)
        json_object_set_new(o, "optimizer", json_string(m->optimizer));
    const double r[4] = {m->lr, m->weight_decay, m->dropout, m->momentum};
    static const char *const rn[4] = {"lr", "weight_decay", "dropout", "momentum"};
    for (int i = 0; i < 4; i++)
        if (!isnan(r[i]))
            json_object_set_new(o, rn[i], json_real(r[i]));
    if (m->nesterov >= 0)
        json_object_set_new(o, "nesterov", json_boolean(m->nesterov));
    if (m->has_seed)
        json_object_set_new(o, "seed", json_integer(m->seed));
    return o;
}

mz_status exp_progress(exporter *ex, int64_t done)
{
    const mz_export_options *o = ex->opt;
    if (!o->progress)
        return MZ_OK;
    mz_interop_progress p = {"exporting", "models", done, ex->n_models, 0, mz_now() - ex->t0};
    if (o->progress(o->progress_ctx, &p))
        return mz_fail(ex->err, MZ_EINTERRUPTED, "%s: export stopped; its files are incomplete",
                       ex->dir);
    return MZ_OK;
}

static void free_model(exp_model *m)
{
    free(m->activation);
    free(m->init);
    free(m->optimizer);
    free(m->hparams);
    free(m->message);
    for (int e = 0; m->ep && e < m->n_ep; e++)
        free(m->ep[e].extra);
    free(m->ep);
    m->ep = NULL;
}

/* The selected models in id order, each with its selected epochs. */
mz_status exp_each_model(exporter *ex, exp_model_fn fn, void *ctx)
{
    mz_error *err = ex->err;
    selection s;
    memset(&s, 0, sizeof s);
    mz_status st = parse_epochs(&s, ex->opt->epochs, err);
    int everything = !s.last && !s.n_ranges && !(ex->opt->where && *ex->opt->where);
    mz_store_selection sel = {ex->opt->where, s.last, NULL, 0, 0};
    if (!st)
        st = mz_store_select(ex->st, &sel, on_select, &s, err);
    if (!st && s.oom)
        st = mz_fail(err, MZ_ENOMEM, "out of memory");
    model_rows mr = {0};
    if (!st)
        st = mz_store_query(ex->st, models_sql, on_model, &mr, err);
    if (!st && (mr.oom || mr.bad))
        st = mz_fail(err, mr.oom ? MZ_ENOMEM : MZ_EFORMAT, "%s: %s", ex->zoo_path,
                     mr.oom ? "out of memory" : "a models row without id, variant or status");
    ex->n_models = mr.n;
    int64_t at = 0, done = 0;
    for (int64_t i = 0; !st && i < mr.n; i++) {
        exp_model *m = &mr.m[i];
        int64_t first = at;
        while (at < s.n && s.p[at].model == m->id)
            at++;
        if (at == first && !everything)
            continue;
        if (exp_layout_of(ex, m->variant) < 0) {
            st = mz_fail(err, MZ_EFORMAT, "%s: model %lld: variant %s has no layout rows",
                         ex->zoo_path, (long long)m->id, m->variant);
            break;
        }
        char sql[sizeof epoch_sql + 64];
        snprintf(sql, sizeof sql, "%s%lld ORDER BY epoch", epoch_sql, (long long)m->id);
        epoch_rows er = {0};
        st = mz_store_query(ex->st, sql, on_epoch, &er, err);
        if (!st && er.oom)
            st = mz_fail(err, MZ_ENOMEM, "out of memory");
        /* keep the selected epochs (both lists are in epoch order) */
        int k = 0;
        int64_t q = first;
        for (int e = 0; !st && e < er.n; e++) {
            while (q < at && s.p[q].epoch < er.e[e].epoch)
                q++;
            if (q < at && s.p[q].epoch == er.e[e].epoch)
                er.e[k++] = er.e[e];
            else
                free(er.e[e].extra);
        }
        m->ep = er.e;
        m->n_ep = st ? er.n : k;
        if (!st)
            st = fn(ex, m, ctx);
        if (!st) {
            ex->rep->models++;
            ex->rep->epochs += m->n_ep;
            st = exp_progress(ex, ++done);
        }
        free_model(m);
        m->activation = m->init = m->optimizer = m->hparams = m->message = NULL;
    }
    for (int64_t i = 0; i < mr.n; i++)
        free_model(&mr.m[i]);
    free(mr.m);
    free(s.p);
    return st;
}

/* ---- the index files (pt, safetensors) ---- */

typedef struct index_writer {
    FILE *csv, *json;
    char csv_path[MZ_PATH_MAX], json_path[MZ_PATH_MAX];
    int first;
} index_writer;

static mz_status index_open(exporter *ex, index_writer *ix)
{
    mz_error *err = ex->err;
    memset(ix, 0, sizeof *ix);
    ix->first = 1;
    mz_status st = mz_path_join(ix->csv_path, sizeof ix->csv_path, ex->dir, "index.csv", err);
    if (!st)
        st = mz_path_join(ix->json_path, sizeof ix->json_path, ex->dir, "index.json", err);
    if (st)
        return st;
    ix->csv = fopen(ix->csv_path, "w");
    ix->json = fopen(ix->json_path, "w");
    if (!ix->csv || !ix->json)
        return mz_fail(err, MZ_EIO, "%s: cannot create (%s)", ex->dir, strerror(errno));
    fprintf(ix->csv, "model_id,epoch,file,variant,status");
    for (int k = 0; k < M_N; k++)
        fprintf(ix->csv, ",%s", mz_metric_columns[k]);
    fprintf(ix->csv, ",activation,init,optimizer,lr,weight_decay,dropout,momentum,nesterov,"
                     "seed\n");
    /* the zoo and its layouts, then the models as they come */
    sbuf b = {0};
    sb_puts(&b, "{\n  \"format\": \"mzoo export\",\n  \"zoo\": ");
    sb_json_string(&b, ex->zoo_path);
    sb_puts(&b, ",\n  \"architecture\": ");
    sb_json_string(&b, ex->architecture);
    sb_puts(&b, ",\n  \"layouts\": {");
    for (int i = 0; i < ex->n_layouts; i++) {
        const mz_ilayout *L = &ex->layouts[i];
        sb_puts(&b, i ? ",\n    " : "\n    ");
        sb_json_string(&b, L->variant);
        sb_puts(&b, ": [");
        for (int t = 0; t < L->n; t++) {
            char shape[128];
            sb_puts(&b, t ? ", [" : "[");
            sb_json_string(&b, L->t[t].name);
            sb_printf(&b, ", %s]", mz_shape_json(&L->t[t], shape, sizeof shape));
        }
        sb_puts(&b, "]");
    }
    sb_puts(&b, "\n  },\n  \"models\": [");
    int ok = !b.oom && fputs(b.s, ix->json) >= 0;
    free(b.s);
    return ok ? MZ_OK : mz_fail(err, MZ_EIO, "%s: write failed", ix->json_path);
}

static void csv_field(FILE *f, const char *s)
{
    if (!s)
        return;
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void csv_real(FILE *f, double v)
{
    if (isnan(v))
        return;
    sbuf b = {0};
    sb_double(&b, v);
    if (b.s)
        fputs(b.s, f);
    free(b.s);
}

/* One model: its line(s) in index.csv and its object in index.json. files[e]: the checkpoint's
 * file relative to the export directory (NULL for none). */
static mz_status index_model(exporter *ex, index_writer *ix, const exp_model *m, char *const *files)
{
    static const char *const st_names[] = {"pending", "running", "done", "diverged", "failed"};
    for (int e = 0; e < m->n_ep; e++) {
        const exp_epoch *x = &m->ep[e];
        fprintf(ix->csv, "%lld,%d,", (long long)m->id, x->epoch);
        csv_field(ix->csv, files[e]);
        fprintf(ix->csv, ",%s,%s", m->variant, st_names[m->status]);
        for (int k = 0; k < M_N; k++) {
            fputc(',', ix->csv);
            csv_real(ix->csv, x->m[k]);
        }
        fputc(',', ix->csv);
        csv_field(ix->csv, m->activation);
        fputc(',', ix->csv);
        csv_field(ix->csv, m->init);
        fputc(',', ix->csv);
        csv_field(ix->csv, m->optimizer);
        const double r[4] = {m->lr, m->weight_decay, m->dropout, m->momentum};
        for (int k = 0; k < 4; k++) {
            fputc(',', ix->csv);
            csv_real(ix->csv, r[k]);
        }
        fputc(',', ix->csv);
        if (m->nesterov >= 0)
            fprintf(ix->csv, "%d", m->nesterov);
        fputc(',', ix->csv);
        if (m->has_seed)
            fprintf(ix->csv, "%lld", (long long)m->seed);
        fputc('\n', ix->csv);
    }
    json_t *o = json_object();
    json_t *hp = exp_model_json(m);
    json_t *eps = json_array();
    if (!o || !hp || !eps) {
        json_decref(o);
        json_decref(hp);
        json_decref(eps);
        return mz_fail(ex->err, MZ_ENOMEM, "out of memory");
    }
    json_object_set_new(o, "id", json_integer(m->id));
    json_object_set_new(o, "variant", json_string(m->variant));
    json_object_set_new(o, "status", json_string(st_names[m->status]));
    if (m->message)
        json_object_set_new(o, "message", json_string(m->message));
    /* the hyperparameters: columns and hparams in one object, as hp, and the columns at the
     * top level for readers that look for them there */
    const char *key;
    json_t *v;
    json_object_foreach(hp, key, v)
    {
        static const char *const cols[] = {"activation", "init",         "optimizer",
                                           "lr",         "weight_decay", "dropout",
                                           "momentum",   "nesterov",     "seed"};
        for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++)
            if (!strcmp(key, cols[c]))
                json_object_set(o, key, v);
    }
    json_object_set_new(o, "hyperparameters", hp);
    for (int e = 0; e < m->n_ep; e++) {
        const exp_epoch *x = &m->ep[e];
        json_t *je = json_object();
        json_object_set_new(je, "epoch", json_integer(x->epoch));
        json_object_set_new(je, "file", files[e] ? json_string(files[e]) : json_null());
        for (int k = 0; k < M_N; k++)
            if (!isnan(x->m[k]))
                json_object_set_new(je, mz_metric_columns[k], json_real(x->m[k]));
        if (x->extra) {
            json_error_t jerr;
            json_t *mx = json_loads(x->extra, 0, &jerr);
            if (mx)
                json_object_set_new(je, "metrics", mx);
        }
        json_array_append_new(eps, je);
    }
    json_object_set_new(o, "epochs", eps);
    sbuf b = {0};
    sb_puts(&b, ix->first ? "\n    " : ",\n    ");
    mz_json_write(&b, o, 0);
    json_decref(o);
    ix->first = 0;
    int ok = !b.oom && fputs(b.s, ix->json) >= 0;
    free(b.s);
    return ok ? MZ_OK : mz_fail(ex->err, MZ_EIO, "%s: write failed", ix->json_path);
}

static mz_status index_close(exporter *ex, index_writer *ix, mz_status st)
{
    if (ix->json) {
        if (!st)
            fputs("\n  ]\n}\n", ix->json);
        if (fclose(ix->json) != 0 && !st)
            st = mz_fail(ex->err, MZ_EIO, "%s: write failed", ix->json_path);
    }
    if (ix->csv && fclose(ix->csv) != 0 && !st)
        st = mz_fail(ex->err, MZ_EIO, "%s: write failed", ix->csv_path);
    if (!st)
        ex->rep->files += 2;
    return st;
}

/* ---- pt ---- */

typedef struct pt_ctx {
    index_writer ix;
} pt_ctx;

static mz_status write_pt_model(exporter *ex, const exp_model *m, void *vctx)
{
    pt_ctx *c = vctx;
    mz_error *err = ex->err;
    const mz_ilayout *L = &ex->layouts[exp_layout_of(ex, m->variant)];
    char **files = calloc((size_t)(m->n_ep ? m->n_ep : 1), sizeof *files);
    if (!files)
        return mz_fail(err, MZ_ENOMEM, "out of memory");
    char mdir[MZ_PATH_MAX], rel[96], path[MZ_PATH_MAX];
    snprintf(rel, sizeof rel, "model_%lld", (long long)m->id);
    mz_status st = mz_path_join(mdir, sizeof mdir, ex->dir, rel, err);
    int made = 0;
    for (int e = 0; !st && e < m->n_ep; e++) {
        if (!m->ep[e].has_weights)
            continue;
        if (!made && !(st = exp_mkdir(mdir, err)))
            made = 1;
        float *w = NULL;
        snprintf(rel, sizeof rel, "model_%lld/epoch_%d.pt", (long long)m->id, m->ep[e].epoch);
        if (!st)
            st = mz_path_join(path, sizeof path, ex->dir, rel, err);
        if (!st)
            st = exp_weights(ex, m, m->ep[e].epoch, &w);
        if (!st)
            st = exp_write_pt(ex, L, w, path);
        free(w);
        if (!st && !(files[e] = mz_strdup(rel)))
            st = mz_fail(err, MZ_ENOMEM, "out of memory");
        if (!st) {
            ex->rep->checkpoints++;
            ex->rep->files++;
        }
    }
    if (!st)
        st = index_model(ex, &c->ix, m, files);
    for (int e = 0; e < m->n_ep; e++)
        free(files[e]);
    free(files);
    return st;
}

/* ---- safetensors ---- */

typedef struct st_ctx {
    index_writer ix;
    int per_zoo;
    /* per zoo: the file is written in two walks: the tensors' list, then their data */
    mz_array_desc *arrays;
    int64_t n_arrays, cap_arrays;
    json_t *models;
    mz_asink *sink;
} st_ctx;

static mz_status safetensors_meta(exporter *ex, const exp_model *m, json_t **out)
{
    json_t *o = json_object();
    json_t *hp = exp_model_json(m);
    json_t *eps = json_array();
    if (!o || !hp || !eps) {
        json_decref(o);
        json_decref(hp);
        json_decref(eps);
        return mz_fail(ex->err, MZ_ENOMEM, "out of memory");
    }
    static const char *const st_names[] = {"pending", "running", "done", "diverged", "failed"};
    json_object_set_new(o, "id", json_integer(m->id));
    json_object_set_new(o, "variant", json_string(m->variant));
    json_object_set_new(o, "status", json_string(st_names[m->status]));
    if (m->message)
        json_object_set_new(o, "message", json_string(m->message));
    json_object_set_new(o, "hyperparameters", hp);
    for (int e = 0; e < m->n_ep; e++) {
        json_t *je = json_object();
        json_object_set_new(je, "epoch", json_integer(m->ep[e].epoch));
        json_object_set_new(je, "checkpoint", json_boolean(m->ep[e].has_weights));
        for (int k = 0; k < M_N; k++)
            if (!isnan(m->ep[e].m[k]))
                json_object_set_new(je, mz_metric_columns[k], json_real(m->ep[e].m[k]));
        json_array_append_new(eps, je);
    }
    json_object_set_new(o, "epochs", eps);
    *out = o;
    return MZ_OK;
}

static mz_status add_arrays(exporter *ex, st_ctx *c, const exp_model *m, const char *prefix)
{
    const mz_ilayout *L = &ex->layouts[exp_layout_of(ex, m->variant)];
    for (int e = 0; e < m->n_ep; e++) {
        if (!m->ep[e].has_weights)
            continue;
        for (int t = 0; t < L->n; t++) {
            if (c->n_arrays == c->cap_arrays) {
                int64_t cap = c->cap_arrays ? 2 * c->cap_arrays : 256;
                if (cap > 1000000)
                    return mz_fail(ex->err, MZ_ELIMIT,
                                   "more than a million tensors in one safetensors file (export "
                                   "one file per model instead)");
                mz_array_desc *n = realloc(c->arrays, (size_t)cap * sizeof *n);
                if (!n)
                    return mz_fail(ex->err, MZ_ENOMEM, "out of memory");
                c->arrays = n;
                c->cap_arrays = cap;
            }
            mz_array_desc *a = &c->arrays[c->n_arrays++];
            memset(a, 0, sizeof *a);
            if ((size_t)snprintf(a->name, sizeof a->name, "%sepoch_%d/%s", prefix, m->ep[e].epoch,
                                 L->t[t].name) >= sizeof a->name)
                return mz_fail(ex->err, MZ_ELIMIT,
                               "model %lld: the tensor name %sepoch_%d/%s is longer than %d "
                               "bytes",
                               (long long)m->id, prefix, m->ep[e].epoch, L->t[t].name,
                               MZ_ARRAY_NAME_MAX - 1);
            a->dtype = MZ_DT_F32;
            a->ndim = L->t[t].ndim;
            memcpy(a->shape, L->t[t].shape, sizeof(int64_t) * (size_t)L->t[t].ndim);
        }
    }
    return MZ_OK;
}

static mz_status write_arrays(exporter *ex, mz_asink *sink, int64_t *next, const exp_model *m)
{
    const mz_ilayout *L = &ex->layouts[exp_layout_of(ex, m->variant)];
    mz_status st = MZ_OK;
    for (int e = 0; !st && e < m->n_ep; e++) {
        if (!m->ep[e].has_weights)
            continue;
        float *w = NULL;
        st = exp_weights(ex, m, m->ep[e].epoch, &w);
        for (int t = 0; !st && t < L->n; t++) {
            st = mz_asink_begin(sink, (int)(*next)++, ex->err);
            if (!st)
                st = mz_asink_write(sink, w + L->t[t].offset, (size_t)L->t[t].count * 4, ex->err);
            if (!st)
                st = mz_asink_end(sink, ex->err);
        }
        free(w);
        if (!st)
            ex->rep->checkpoints++;
    }
    return st;
}

static mz_status write_st_model(exporter *ex, const exp_model *m, void *vctx)
{
    st_ctx *c = vctx;
    mz_error *err = ex->err;
    char **files = calloc((size_t)(m->n_ep ? m->n_ep : 1), sizeof *files);
    if (!files)
        return mz_fail(err, MZ_ENOMEM, "out of memory");
    char rel[96], path[MZ_PATH_MAX], prefix[48];
    mz_status st = MZ_OK;
    if (c->per_zoo) {
        /* first walk: the list of tensors and the models' metadata */
        snprintf(prefix, sizeof prefix, "model_%lld/", (long long)m->id);
        st = add_arrays(ex, c, m, prefix);
        json_t *o = NULL;
        if (!st)
            st = safetensors_meta(ex, m, &o);
        if (!st)
            json_array_append_new(c->models, o);
        snprintf(rel, sizeof rel, "zoo.safetensors");
    } else {
        c->n_arrays = 0;
        st = add_arrays(ex, c, m, "");
        snprintf(rel, sizeof rel, "model_%lld.safetensors", (long long)m->id);
        json_t *o = NULL;
        if (!st)
            st = safetensors_meta(ex, m, &o);
        char *meta = o ? mz_json_canonical(o) : NULL;
        json_decref(o);
        if (!st && !meta)
            st = mz_fail(err, MZ_ENOMEM, "out of memory");
        const char *kv[4] = {"format", "pt", "mzoo.model", meta};
        mz_asink *sink = NULL;
        if (!st)
            st = mz_path_join(path, sizeof path, ex->dir, rel, err);
        if (!st)
            st = mz_asink_open(&sink, MZ_AFMT_SAFETENSORS, path, c->arrays, (int)c->n_arrays, kv, 2,
                               err);
        int64_t next = 0;
        if (!st)
            st = write_arrays(ex, sink, &next, m);
        if (sink) {
            if (st)
                mz_asink_abort(sink);
            else
                st = mz_asink_close(sink, err);
        }
        free(meta);
        if (!st)
            ex->rep->files++;
    }
    for (int e = 0; !st && e < m->n_ep; e++)
        if (m->ep[e].has_weights && !(files[e] = mz_strdup(rel)))
            st = mz_fail(err, MZ_ENOMEM, "out of memory");
    if (!st)
        st = index_model(ex, &c->ix, m, files);
    for (int e = 0; e < m->n_ep; e++)
        free(files[e]);
    free(files);
    return st;
}

static mz_status write_st_data(exporter *ex, const exp_model *m, void *vctx)
{
    st_ctx *c = vctx;
    int64_t next = c->n_arrays;
    mz_status st = write_arrays(ex, c->sink, &next, m);
    c->n_arrays = next;
    ex->rep->models--; /* the second walk over the same models */
    ex->rep->epochs -= m->n_ep;
    return st;
}

/* ---- the entry point ---- */

static mz_status read_layouts(exporter *ex)
{
    char **names = NULL;
    int n = 0;
    mz_status st = mz_store_variants(ex->st, &names, &n, ex->err);
    if (st)
        return st;
    ex->layouts = calloc((size_t)(n ? n : 1), sizeof *ex->layouts);
    if (!ex->layouts)
        st = mz_fail(ex->err, MZ_ENOMEM, "out of memory");
    for (int i = 0; !st && i < n; i++) {
        mz_tensor_desc *t = NULL;
        int nt = 0;
        int64_t np = 0;
        st = mz_store_layout(ex->st, names[i], &t, &nt, &np, ex->err);
        if (!st && nt > MZ_RESNET_TENSORS)
            st = mz_fail(ex->err, MZ_ELIMIT, "%s: layout %s has %d tensors (at most %d)",
                         ex->zoo_path, names[i], nt, MZ_RESNET_TENSORS);
        if (!st) {
            mz_ilayout *L = &ex->layouts[ex->n_layouts++];
            snprintf(L->variant, sizeof L->variant, "%s", names[i]);
            mz_variant_arch(names[i], L->arch, sizeof L->arch);
            L->n = nt;
            memcpy(L->t, t, (size_t)nt * sizeof *t);
            L->n_params = np;
            L->ard = mz_ilayout_is_ard(L);
        }
        free(t);
    }
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return st;
}

mz_status mz_export(const char *zoo_path, const char *dir, const mz_export_options *opt,
                    mz_export_report *rep, mz_error *err)
{
    mz_export_report local;
    mz_error local_err;
    if (!rep)
        rep = &local;
    if (!err)
        err = &local_err;
    memset(rep, 0, sizeof *rep);
    mz_export_options defaults;
    if (!opt) {
        mz_export_options_default(&defaults);
        opt = &defaults;
    }
    if (opt->format != MZ_INTEROP_PT && opt->format != MZ_INTEROP_SAFETENSORS &&
        opt->format != MZ_INTEROP_MODELZOOS && opt->format != MZ_INTEROP_CTC)
        return mz_fail(err, MZ_EINVAL, "export formats: pt, safetensors, modelzoos, ctc");
    exporter ex;
    memset(&ex, 0, sizeof ex);
    ex.zoo_path = zoo_path;
    ex.dir = dir;
    ex.opt = opt;
    ex.rep = rep;
    ex.err = err;
    ex.t0 = mz_now();
    mz_status st = mz_store_open(&ex.st, zoo_path, MZ_STORE_READ, err);
    if (!st)
        st = read_layouts(&ex);
    if (!st) {
        char buf[64];
        if (mz_store_meta(ex.st, "architecture", buf, sizeof buf, NULL) == MZ_OK)
            snprintf(ex.architecture, sizeof ex.architecture, "%s", buf);
        if (mz_store_meta(ex.st, "dataset", buf, sizeof buf, NULL) == MZ_OK)
            snprintf(ex.dataset, sizeof ex.dataset, "%s", buf);
        if (mz_store_meta(ex.st, "epochs", buf, sizeof buf, NULL) == MZ_OK)
            ex.epochs_meta = (int)strtol(buf, NULL, 10);
        if (mz_store_meta(ex.st, "batch_size", buf, sizeof buf, NULL) == MZ_OK)
            ex.batch_size = (int)strtol(buf, NULL, 10);
    }
    if (!st)
        st = make_dir(dir, err);
    if (!st && opt->format == MZ_INTEROP_PT) {
        pt_ctx c;
        st = index_open(&ex, &c.ix);
        if (!st)
            st = exp_each_model(&ex, write_pt_model, &c);
        st = index_close(&ex, &c.ix, st);
    } else if (!st && opt->format == MZ_INTEROP_SAFETENSORS) {
        st_ctx c;
        memset(&c, 0, sizeof c);
        c.per_zoo = opt->per_zoo;
        c.models = json_array();
        st = index_open(&ex, &c.ix);
        if (!st)
            st = exp_each_model(&ex, write_st_model, &c);
        if (!st && c.per_zoo) {
            char path[MZ_PATH_MAX];
            char *meta = mz_json_canonical(c.models);
            const char *kv[4] = {"format", "pt", "mzoo.models", meta};
            st = meta ? mz_path_join(path, sizeof path, dir, "zoo.safetensors", err)
                      : mz_fail(err, MZ_ENOMEM, "out of memory");
            if (!st)
                st = mz_asink_open(&c.sink, MZ_AFMT_SAFETENSORS, path, c.arrays, (int)c.n_arrays,
                                   kv, 2, err);
            c.n_arrays = 0;
            if (!st)
                st = exp_each_model(&ex, write_st_data, &c);
            if (c.sink) {
                if (st)
                    mz_asink_abort(c.sink);
                else
                    st = mz_asink_close(c.sink, err);
            }
            if (!st)
                rep->files++;
            free(meta);
        }
        st = index_close(&ex, &c.ix, st);
        json_decref(c.models);
        free(c.arrays);
    } else if (!st && opt->format == MZ_INTEROP_MODELZOOS) {
        st = mz_export_modelzoos(&ex);
    } else if (!st) {
        st = mz_export_ctc(&ex);
    }
    mz_store_close(ex.st);
    free(ex.layouts);
    rep->seconds = mz_now() - ex.t0;
    return st;
}
