/* Export into the layouts of other zoos: the Model Zoos' Ray Tune folders (what the reference's
 * own loaders and the HSG/SANE code read) and Google's Small CNN Zoo (what nfn-style loaders
 * read). Both are read back by mz_import into the same zoo content. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "interop/interop-impl.h"
#include "core/banned.h"

static const char *const status_names[] = {"pending", "running", "done", "diverged", "failed"};

static mz_status write_text(const char *path, const char *text, size_t n, mz_error *err)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return mz_fail(err, MZ_EIO, "%s: cannot create (%s)", path, strerror(errno));
    int ok = fwrite(text, 1, n, f) == n;
    if (fclose(f) != 0)
        ok = 0;
    return ok ? MZ_OK : mz_fail(err, MZ_EIO, "%s: write failed (%s)", path, strerror(errno));
}

/* ---- modelzoos ---- */

typedef struct mzx {
    int width; /* digits of the model ids in the folder names */
} mzx;

/* The trial's params.json: the source's own keys (hparams), the reference's names of mzoo's
 * columns, and for a zoo mzoo trained the keys the reference's loaders need. */
static json_t *params_of(exporter *ex, const exp_model *m, const mz_ilayout *L)
{
    json_t *p = NULL;
    if (m->hparams) {
        json_error_t je;
        p = json_loads(m->hparams, 0, &je);
    }
    if (!json_is_object(p)) {
        json_decref(p);
        p = json_object();
    }
    if (!p)
        return NULL;
    if (!json_object_get(p, "model::type")) {
        const char *type = !strcmp(L->arch, "cnn-s")   ? (L->ard ? "CNN_ARD" : "CNN")
                           : !strcmp(L->arch, "cnn-l") ? (L->ard ? "CNN3_ARD" : "CNN3")
                                                       : "Resnet18";
        const char *c = strstr(L->variant, "/c"), *k = strstr(L->variant, "/k");
        json_object_set_new(p, "model::type", json_string(type));
        json_object_set_new(p, "model::i_dim", json_integer(c ? strtol(c + 2, NULL, 10) : 1));
        json_object_set_new(p, "model::o_dim", json_integer(k ? strtol(k + 2, NULL, 10) : 10));
        if (ex->epochs_meta > 0)
            json_object_set_new(p, "training::epochs_train", json_integer(ex->epochs_meta));
        if (ex->batch_size > 0)
            json_object_set_new(p, "training::batchsize", json_integer(ex->batch_size));
    }
    if (m->activation)
        json_object_set_new(p, "model::nlin", json_string(m->activation));
    if (m->init)
        json_object_set_new(p, "model::init_type", json_string(m->init));
    if (m->optimizer)
        json_object_set_new(p, "optim::optimizer", json_string(m->optimizer));
    const double r[4] = {m->lr, m->weight_decay, m->dropout, m->momentum};
    static const char *const rn[4] = {"optim::lr", "optim::wd", "model::dropout",
                                      "optim::momentum"};
    for (int i = 0; i < 4; i++)
        if (!isnan(r[i]))
            json_object_set_new(p, rn[i], json_real(r[i]));
    if (m->nesterov >= 0)
        json_object_set_new(p, "optim::nesterov", json_boolean(m->nesterov));
    if (m->has_seed)
        json_object_set_new(p, "seed", json_integer(m->seed));
    /* a twin mzoo made: its source checkpoint (the reference names the source trial's folder in
     * training::init_checkpoint_path, which a zoo file does not know) */
    if (m->source_id >= 0)
        json_object_set_new(p, "mzoo::source_id", json_integer(m->source_id));
    if (m->source_epoch >= 0)
        json_object_set_new(p, "mzoo::source_epoch", json_integer(m->source_epoch));
    return p;
}

static mz_status write_trial(exporter *ex, const exp_model *m, void *vctx)
{
    mzx *c = vctx;
    mz_error *err = ex->err;
    const mz_ilayout *L = &ex->layouts[exp_layout_of(ex, m->variant)];
    char name[160], tdir[MZ_PATH_MAX], path[MZ_PATH_MAX], rel[64];
    snprintf(name, sizeof name, "NN_tune_trainable_%0*lld_%lld_seed=%lld_1970-01-01_00-00-00",
             c->width, (long long)m->id, (long long)m->id, (long long)(m->has_seed ? m->seed : 0));
    mz_status st = mz_path_join(tdir, sizeof tdir, ex->dir, name, err);
    if (!st)
        st = exp_mkdir(tdir, err);
    json_t *params = st ? NULL : params_of(ex, m, L);
    if (!st && !params)
        st = mz_fail(err, MZ_ENOMEM, "out of memory");
    sbuf b = {0};
    if (!st) {
        mz_json_write(&b, params, 2);
        if (!(st = mz_path_join(path, sizeof path, tdir, "params.json", err)))
            st = b.oom ? mz_fail(err, MZ_ENOMEM, "out of memory") : write_text(path, b.s, b.n, err);
        free(b.s);
        memset(&b, 0, sizeof b);
    }
    /* result.json: one line per epoch row; the reference's four metrics always present (NaN
     * where the zoo has none, as Python's float arithmetic expects), val and sparsity when
     * known, further metrics as their own keys */
    char trial_id[32];
    snprintf(trial_id, sizeof trial_id, "mzoo_%lld", (long long)m->id);
    for (int e = 0; !st && e < m->n_ep; e++) {
        const exp_epoch *x = &m->ep[e];
        json_t *line = NULL;
        if (x->extra) {
            json_error_t je;
            line = json_loads(x->extra, 0, &je);
        }
        if (!json_is_object(line)) {
            json_decref(line);
            line = json_object();
        }
        static const char *const keys[M_N] = {"train_loss", "train_acc", "val_loss",      "val_acc",
                                              "test_loss",  "test_acc",  "sparsity_ratio"};
        for (int k = 0; k < M_N; k++) {
            int always =
                k == M_TRAIN_LOSS || k == M_TRAIN_ACC || k == M_TEST_LOSS || k == M_TEST_ACC;
            if (!isnan(x->m[k]))
                json_object_set_new(line, keys[k], json_real(x->m[k]));
            else if (always)
                json_object_set_new(line, keys[k], json_string("\001NaN"));
        }
        int last = e == m->n_ep - 1;
        json_object_set_new(line, "training_iteration", json_integer(x->epoch));
        json_object_set_new(
            line, "done",
            json_boolean(last && (m->status == MZ_MODEL_DONE || m->status == MZ_MODEL_DIVERGED)));
        json_object_set_new(line, "trial_id", json_string(trial_id));
        json_object_set(line, "config", params);
        mz_json_write(&b, line, 0);
        sb_add(&b, "\n", 1);
        json_decref(line);
    }
    if (!st && !(st = mz_path_join(path, sizeof path, tdir, "result.json", err)))
        st = b.oom ? mz_fail(err, MZ_ENOMEM, "out of memory")
                   : write_text(path, b.s ? b.s : "", b.n, err);
    free(b.s);
    json_decref(params);
    /* how it ended: mzoo_status.json (read back by mzoo), error.txt (Ray's marker) */
    if (!st && mz_model_status_final((mz_model_status)m->status)) {
        sbuf s = {0};
        sb_puts(&s, "{\"status\": ");
        sb_json_string(&s, status_names[m->status]);
        if (m->message) {
            sb_puts(&s, ", \"message\": ");
            sb_json_string(&s, m->message);
        }
        sb_puts(&s, "}\n");
        if (!(st = mz_path_join(path, sizeof path, tdir, "mzoo_status.json", err)))
            st = s.oom ? mz_fail(err, MZ_ENOMEM, "out of memory") : write_text(path, s.s, s.n, err);
        free(s.s);
        if (!st && m->status == MZ_MODEL_FAILED &&
            !(st = mz_path_join(path, sizeof path, tdir, "error.txt", err))) {
            const char *msg = m->message ? m->message : "failed";
            st = write_text(path, msg, strlen(msg), err);
        }
    }
    for (int e = 0; !st && e < m->n_ep; e++) {
        if (!m->ep[e].has_weights)
            continue;
        char cdir[MZ_PATH_MAX];
        snprintf(rel, sizeof rel, "checkpoint_%06d", m->ep[e].epoch);
        float *w = NULL;
        if (!(st = mz_path_join(cdir, sizeof cdir, tdir, rel, err)) &&
            !(st = exp_mkdir(cdir, err)) &&
            !(st = mz_path_join(path, sizeof path, cdir, "checkpoints", err)) &&
            !(st = exp_weights(ex, m, m->ep[e].epoch, &w)))
            st = exp_write_pt(ex, L, w, path);
        free(w);
        if (!st) {
            ex->rep->checkpoints++;
            ex->rep->files++;
        }
    }
    if (!st)
        ex->rep->files += 2;
    return st;
}

mz_status mz_export_modelzoos(exporter *ex)
{
    for (int i = 0; i < ex->n_layouts; i++) {
        const char *a = ex->layouts[i].arch;
        int ard = ex->layouts[i].ard;
        if (strcmp(a, "cnn-s") != 0 && strcmp(a, "cnn-l") != 0 &&
            (strcmp(a, "resnet18") != 0 || ard))
            return mz_fail(ex->err, MZ_EUNSUPPORTED,
                           "%s: the Model Zoos' layout holds the reference's CNN, CNN3 and "
                           "Resnet18 only (and the twins CNN_ARD and CNN3_ARD), not %s (export it "
                           "as pt or safetensors)",
                           ex->zoo_path, ex->layouts[i].variant);
    }
    mzx c = {5};
    char buf[32];
    int64_t n = 0;
    if (mz_store_meta(ex->st, "n_models", buf, sizeof buf, NULL) == MZ_OK)
        n = strtoll(buf, NULL, 10);
    for (int64_t k = 100000; k <= n && c.width < 18; k *= 10)
        c.width++;
    return exp_each_model(ex, write_trial, &c);
}

/* ---- ctc ---- */

typedef struct ctcx {
    const mz_ilayout *L;
    int layers;
    int64_t rows, written;
    json_t *config_keys; /* set of config.* names (object used as a set) */
    json_t *metric_keys; /* further metrics' names */
    char **columns;      /* the CSV header after the first walk */
    int n_columns;
    FILE *npy;
    gzFile csv;
    char npy_path[MZ_PATH_MAX], csv_path[MZ_PATH_MAX];
    float *row;
} ctcx;

/* mzoo's columns under the Small CNN Zoo's names */
static json_t *config_of(const exp_model *m)
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
        json_object_set_new(o, "config.activation", json_string(m->activation));
    if (m->optimizer)
        json_object_set_new(o, "config.optimizer", json_string(m->optimizer));
    if (!isnan(m->lr))
        json_object_set_new(o, "config.learning_rate", json_real(m->lr));
    if (!isnan(m->dropout))
        json_object_set_new(o, "config.dropout", json_real(m->dropout));
    if (m->has_seed)
        json_object_set_new(o, "config.random_seed", json_integer(m->seed));
    return o;
}

static mz_status count_rows(exporter *ex, const exp_model *m, void *vctx)
{
    ctcx *c = vctx;
    if (strcmp(m->variant, c->L->variant) != 0)
        return mz_fail(ex->err, MZ_EUNSUPPORTED,
                       "model %lld is a %s: a Small CNN Zoo holds one network (%s) in one "
                       "matrix",
                       (long long)m->id, m->variant, c->L->variant);
    json_t *cfg = config_of(m);
    if (!cfg)
        return mz_fail(ex->err, MZ_ENOMEM, "out of memory");
    const char *k;
    json_t *v;
    json_object_foreach(cfg, k, v) if (!strncmp(k, "config.", 7))
        json_object_set_new(c->config_keys, k, json_true());
    json_decref(cfg);
    for (int e = 0; e < m->n_ep; e++) {
        if (m->ep[e].has_weights)
            c->rows++;
        else
            ex->rep->skipped++;
        if (m->ep[e].extra) {
            json_error_t je;
            json_t *x = json_loads(m->ep[e].extra, 0, &je);
            json_object_foreach(x, k, v) json_object_set_new(c->metric_keys, k, json_true());
            json_decref(x);
        }
    }
    ex->rep->models--; /* counted by the second walk */
    ex->rep->epochs -= m->n_ep;
    return MZ_OK;
}

static void csv_put(sbuf *b, const char *s)
{
    if (!strpbrk(s, ",\"\n\r")) {
        sb_puts(b, s);
        return;
    }
    sb_add(b, "\"", 1);
    for (; *s; s++) {
        if (*s == '"')
            sb_add(b, "\"", 1);
        sb_add(b, s, 1);
    }
    sb_add(b, "\"", 1);
}

static void csv_json(sbuf *b, const json_t *v)
{
    char buf[32];
    if (json_is_string(v))
        csv_put(b, json_string_value(v));
    else if (json_is_integer(v))
        snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v)), sb_puts(b, buf);
    else if (json_is_real(v))
        sb_double(b, json_real_value(v));
    else if (json_is_true(v))
        sb_puts(b, "True");
    else if (json_is_false(v))
        sb_puts(b, "False");
    else if (v && !json_is_null(v)) {
        char *t = mz_json_canonical(v);
        if (t)
            csv_put(b, t);
        free(t);
    }
}

/* PyTorch order and layout -> the Small CNN Zoo's: per layer bias, then the kernel as
 * [kh][kw][in][out] (dense: [in][out]). */
static void to_tf(const mz_ilayout *L, const float *w, float *row)
{
    int64_t at = 0;
    for (int t = 0; t + 1 < L->n; t += 2) {
        const mz_tensor_desc *k = &L->t[t], *b = &L->t[t + 1];
        memcpy(row + at, w + b->offset, (size_t)b->count * sizeof *row);
        at += b->count;
        const float *src = w + k->offset;
        float *dst = row + at;
        if (k->ndim == 4) {
            int64_t co = k->shape[0], ci = k->shape[1], kh = k->shape[2], kw = k->shape[3];
            for (int64_t o = 0; o < co; o++)
                for (int64_t i = 0; i < ci; i++)
                    for (int64_t y = 0; y < kh; y++)
                        for (int64_t x = 0; x < kw; x++)
                            dst[((y * kw + x) * ci + i) * co + o] =
                                src[((o * ci + i) * kh + y) * kw + x];
        } else {
            int64_t no = k->shape[0], ni = k->shape[1];
            for (int64_t o = 0; o < no; o++)
                for (int64_t i = 0; i < ni; i++)
                    dst[i * no + o] = src[o * ni + i];
        }
        at += k->count;
    }
}

static mz_status write_rows(exporter *ex, const exp_model *m, void *vctx)
{
    ctcx *c = vctx;
    mz_error *err = ex->err;
    json_t *cfg = config_of(m);
    if (!cfg)
        return mz_fail(err, MZ_ENOMEM, "out of memory");
    char modeldir[64];
    const char *md = json_string_value(json_object_get(cfg, "modeldir"));
    if (!md) {
        snprintf(modeldir, sizeof modeldir, "model_%lld", (long long)m->id);
        md = modeldir;
    }
    mz_status st = MZ_OK;
    for (int e = 0; !st && e < m->n_ep; e++) {
        const exp_epoch *x = &m->ep[e];
        if (!x->has_weights)
            continue;
        float *w = NULL;
        if ((st = exp_weights(ex, m, x->epoch, &w)))
            break;
        to_tf(c->L, w, c->row);
        free(w);
        size_t rb = (size_t)c->L->n_params * sizeof *c->row;
        if (fwrite(c->row, 1, rb, c->npy) != rb) {
            st = mz_fail(err, errno == ENOSPC ? MZ_ENOSPC : MZ_EIO, "%s: write failed (%s)",
                         c->npy_path, strerror(errno));
            break;
        }
        json_t *extra = NULL;
        if (x->extra) {
            json_error_t je;
            extra = json_loads(x->extra, 0, &je);
        }
        sbuf b = {0};
        for (int k = 0; k < c->n_columns; k++) {
            const char *col = c->columns[k];
            if (k)
                sb_add(&b, ",", 1);
            if (!strncmp(col, "config.", 7))
                csv_json(&b, json_object_get(cfg, col));
            else if (!strcmp(col, "modeldir"))
                csv_put(&b, md);
            else if (!strcmp(col, "step"))
                sb_printf(&b, "%d", x->epoch);
            else if (!strcmp(col, "test_accuracy") && !isnan(x->m[M_TEST_ACC]))
                sb_double(&b, x->m[M_TEST_ACC]);
            else if (!strcmp(col, "test_loss") && !isnan(x->m[M_TEST_LOSS]))
                sb_double(&b, x->m[M_TEST_LOSS]);
            else if (!strcmp(col, "train_accuracy") && !isnan(x->m[M_TRAIN_ACC]))
                sb_double(&b, x->m[M_TRAIN_ACC]);
            else if (!strcmp(col, "train_loss") && !isnan(x->m[M_TRAIN_LOSS]))
                sb_double(&b, x->m[M_TRAIN_LOSS]);
            else if (!strcmp(col, "mzoo.status"))
                sb_puts(&b, status_names[m->status]);
            else if (!strcmp(col, "mzoo.message") && m->message)
                csv_put(&b, m->message);
            else if (extra)
                csv_json(&b, json_object_get(extra, col));
        }
        sb_add(&b, "\n", 1);
        json_decref(extra);
        if (b.oom || gzwrite(c->csv, b.s, (unsigned)b.n) != (int)b.n)
            st = mz_fail(err, b.oom ? MZ_ENOMEM : MZ_EIO, "%s: write failed", c->csv_path);
        free(b.s);
        c->written++;
        ex->rep->checkpoints++;
    }
    json_decref(cfg);
    return st;
}

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

mz_status mz_export_ctc(exporter *ex)
{
    mz_error *err = ex->err;
    const mz_ilayout *L = NULL;
    for (int i = 0; i < ex->n_layouts; i++)
        if (!strcmp(ex->layouts[i].arch, "smallcnn"))
            L = &ex->layouts[i];
    if (!L || ex->n_layouts != 1)
        return mz_fail(err, MZ_EUNSUPPORTED,
                       "%s: a Small CNN Zoo holds its one network (smallcnn) only; this zoo has "
                       "%s%s (export it as pt, safetensors or modelzoos)",
                       ex->zoo_path, ex->n_layouts ? ex->layouts[0].variant : "no layout",
                       ex->n_layouts > 1 ? " and others" : "");
    ctcx c;
    memset(&c, 0, sizeof c);
    c.L = L;
    c.config_keys = json_object();
    c.metric_keys = json_object();
    c.row = malloc((size_t)L->n_params * sizeof *c.row);
    mz_status st =
        c.config_keys && c.metric_keys && c.row ? MZ_OK : mz_fail(err, MZ_ENOMEM, "out of memory");
    if (!st)
        st = exp_each_model(ex, count_rows, &c);
    /* the header: config.* sorted, then the Small CNN Zoo's columns, then mzoo's */
    int n_cfg = st ? 0 : (int)json_object_size(c.config_keys);
    int n_met = st ? 0 : (int)json_object_size(c.metric_keys);
    static const char *const fixed[] = {"modeldir",  "step",           "test_accuracy",
                                        "test_loss", "train_accuracy", "train_loss"};
    c.columns = calloc((size_t)(n_cfg + n_met + 8), sizeof *c.columns);
    if (!st && !c.columns)
        st = mz_fail(err, MZ_ENOMEM, "out of memory");
    if (!st) {
        const char *k;
        json_t *v;
        json_object_foreach(c.config_keys, k, v) c.columns[c.n_columns++] = (char *)k;
        qsort(c.columns, (size_t)c.n_columns, sizeof *c.columns, cmp_cstr);
        for (int i = 0; i < 6; i++)
            c.columns[c.n_columns++] = (char *)fixed[i];
        int at = c.n_columns;
        json_object_foreach(c.metric_keys, k, v) c.columns[c.n_columns++] = (char *)k;
        qsort(c.columns + at, (size_t)(c.n_columns - at), sizeof *c.columns, cmp_cstr);
        c.columns[c.n_columns++] = "mzoo.status";
        c.columns[c.n_columns++] = "mzoo.message";
    }
    /* layout.csv */
    char path[MZ_PATH_MAX];
    if (!st && !(st = mz_path_join(path, sizeof path, ex->dir, "layout.csv", err))) {
        sbuf b = {0};
        sb_puts(&b, "varname,start_idx,end_idx,shape\n");
        int64_t at = 0;
        int conv = 0;
        for (int t = 0; t + 1 < L->n; t += 2) {
            const mz_tensor_desc *k = &L->t[t], *bias = &L->t[t + 1];
            char scope[48];
            if (k->ndim == 4 && conv)
                snprintf(scope, sizeof scope, "sequential/conv2d_%d", conv);
            else
                snprintf(scope, sizeof scope, "sequential/%s", k->ndim == 4 ? "conv2d" : "dense");
            conv += k->ndim == 4;
            sb_printf(&b, "%s/bias:0,%lld,%lld,\"(%lld,)\"\n", scope, (long long)at,
                      (long long)(at + bias->count), (long long)bias->shape[0]);
            at += bias->count;
            if (k->ndim == 4)
                sb_printf(&b, "%s/kernel:0,%lld,%lld,\"(%lld, %lld, %lld, %lld)\"\n", scope,
                          (long long)at, (long long)(at + k->count), (long long)k->shape[2],
                          (long long)k->shape[3], (long long)k->shape[1], (long long)k->shape[0]);
            else
                sb_printf(&b, "%s/kernel:0,%lld,%lld,\"(%lld, %lld)\"\n", scope, (long long)at,
                          (long long)(at + k->count), (long long)k->shape[1],
                          (long long)k->shape[0]);
            at += k->count;
        }
        st = b.oom ? mz_fail(err, MZ_ENOMEM, "out of memory") : write_text(path, b.s, b.n, err);
        free(b.s);
    }
    /* weights.npy: the header knows the rows from the first walk */
    if (!st && !(st = mz_path_join(c.npy_path, sizeof c.npy_path, ex->dir, "weights.npy", err))) {
        mz_array_desc a;
        memset(&a, 0, sizeof a);
        a.dtype = MZ_DT_F32;
        a.ndim = 2;
        a.shape[0] = c.rows;
        a.shape[1] = L->n_params;
        char h[512];
        size_t hn = mz_npy_header(h, sizeof h, &a);
        c.npy = fopen(c.npy_path, "wb");
        if (!hn || !c.npy || fwrite(h, 1, hn, c.npy) != hn)
            st = mz_fail(err, MZ_EIO, "%s: cannot write (%s)", c.npy_path, strerror(errno));
    }
    if (!st &&
        !(st = mz_path_join(c.csv_path, sizeof c.csv_path, ex->dir, "metrics.csv.gz", err))) {
        c.csv = gzopen(c.csv_path, "wb");
        sbuf b = {0};
        for (int k = 0; k < c.n_columns; k++) {
            if (k)
                sb_add(&b, ",", 1);
            csv_put(&b, c.columns[k]);
        }
        sb_add(&b, "\n", 1);
        if (!c.csv || b.oom || gzwrite(c.csv, b.s, (unsigned)b.n) != (int)b.n)
            st = mz_fail(err, MZ_EIO, "%s: cannot write", c.csv_path);
        free(b.s);
    }
    if (!st)
        st = exp_each_model(ex, write_rows, &c);
    if (!st && c.written != c.rows)
        st = mz_fail(err, MZ_EFORMAT,
                     "%s: %lld rows written, %lld counted (the zoo changed "
                     "during the export?)",
                     ex->zoo_path, (long long)c.written, (long long)c.rows);
    if (c.npy && fclose(c.npy) != 0 && !st)
        st = mz_fail(err, MZ_EIO, "%s: write failed", c.npy_path);
    if (c.csv && gzclose(c.csv) != Z_OK && !st)
        st = mz_fail(err, MZ_EIO, "%s: write failed", c.csv_path);
    if (!st)
        ex->rep->files += 3;
    free(c.columns);
    json_decref(c.config_keys);
    json_decref(c.metric_keys);
    free(c.row);
    return st;
}
