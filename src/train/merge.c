/* mz_zoo_merge: the parts of a zoo trained as shards (mzoo train --shard K/N) into one zoo file
 * whose content equals a single run's. The parts are only read. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mzoo/store.h"
#include "mzoo/train.h"
#include "core/banned.h"

typedef struct part {
    const char *path;
    mz_store *st;
    char kind[32], shard[64];
    int k, n;
    char *recipe;
    mz_model_row *rows;
    mz_model_progress *prog;
    int64_t n_models;
    mz_layout layouts[16];
    mz_tensor_desc *tensors[16];
    int n_layouts;
} part;

static void part_release(part *p)
{
    mz_store_close(p->st);
    free(p->recipe);
    free(p->rows);
    free(p->prog);
    for (int v = 0; v < p->n_layouts; v++)
        free(p->tensors[v]);
    memset(p, 0, sizeof *p);
}

static mz_status part_open(part *p, const char *path, mz_error *err)
{
    memset(p, 0, sizeof *p);
    p->path = path;
    mz_status s = mz_store_open(&p->st, path, MZ_STORE_READ, err);
    if (s == MZ_OK && mz_store_meta(p->st, "kind", p->kind, sizeof p->kind, NULL) != MZ_OK)
        snprintf(p->kind, sizeof p->kind, "grid");
    if (s == MZ_OK &&
        (mz_store_meta(p->st, "shard", p->shard, sizeof p->shard, NULL) != MZ_OK ||
         sscanf(p->shard, "%d/%d", &p->k, &p->n) != 2 || p->n < 1 || p->k < 0 || p->k >= p->n))
        s = mz_fail(err, MZ_EINVAL,
                    "%s: not a shard of a zoo (made by mzoo train --shard K/N); nothing written",
                    path);
    if (s == MZ_OK)
        s = mz_store_recipe(p->st, &p->recipe, err);
    if (s == MZ_OK)
        s = mz_store_read_models(p->st, &p->rows, &p->prog, &p->n_models, err);
    char **names = NULL;
    int nv = 0;
    if (s == MZ_OK)
        s = mz_store_variants(p->st, &names, &nv, err);
    if (s == MZ_OK && nv > 16)
        s = mz_fail(err, MZ_ELIMIT, "%s: more than 16 layout variants", path);
    for (int v = 0; v < nv && s == MZ_OK; v++) {
        mz_layout *l = &p->layouts[v];
        snprintf(l->variant, sizeof l->variant, "%s", names[v]);
        s = mz_store_layout(p->st, names[v], &p->tensors[v], &l->n_tensors, &l->n_params, err);
        l->tensors = p->tensors[v];
        p->n_layouts = v + 1;
    }
    for (int v = 0; v < nv; v++)
        free(names[v]);
    free(names);
    return s;
}

static int same_text(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

static int same_real(double a, double b)
{
    return (isnan(a) && isnan(b)) || a == b;
}

static int same_row(const mz_model_row *a, const mz_model_row *b)
{
    return a->id == b->id && same_text(a->variant, b->variant) &&
           same_text(a->activation, b->activation) && same_text(a->init, b->init) &&
           same_text(a->optimizer, b->optimizer) && same_real(a->lr, b->lr) &&
           same_real(a->weight_decay, b->weight_decay) && same_real(a->dropout, b->dropout) &&
           same_real(a->momentum, b->momentum) && a->nesterov == b->nesterov &&
           a->has_seed == b->has_seed && (!a->has_seed || a->seed == b->seed) &&
           a->source_id == b->source_id && a->source_epoch == b->source_epoch &&
           same_text(a->hparams, b->hparams);
}

static int same_layouts(const part *a, const part *b)
{
    if (a->n_layouts != b->n_layouts)
        return 0;
    for (int v = 0; v < a->n_layouts; v++) {
        const mz_layout *x = &a->layouts[v], *y = &b->layouts[v];
        if (strcmp(x->variant, y->variant) != 0 || x->n_tensors != y->n_tensors)
            return 0;
        for (int t = 0; t < x->n_tensors; t++) {
            const mz_tensor_desc *p = &x->tensors[t], *q = &y->tensors[t];
            if (strcmp(p->name, q->name) || p->offset != q->offset || p->count != q->count ||
                p->ndim != q->ndim || memcmp(p->shape, q->shape, sizeof p->shape))
                return 0;
        }
    }
    return 1;
}

/* Appends one line to the report of what is wrong (at most a few). */
#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static void
note(char *buf, size_t cap, int *n, const char *fmt, ...)
{
    (*n)++;
    if (*n > 8)
        return;
    size_t at = strlen(buf);
    if (at + 3 >= cap)
        return;
    if (at)
        at += (size_t)snprintf(buf + at, cap - at, "; ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + at, cap - at, fmt, ap);
    va_end(ap);
}

/* The parts belong together, cover the zoo once, and every model is finished. */
static mz_status check_parts(part *p, int n, mz_error *err)
{
    const part *a = &p[0];
    for (int i = 1; i < n; i++) {
        const part *b = &p[i];
        if (strcmp(a->kind, b->kind) || strcmp(a->recipe, b->recipe) || a->n != b->n)
            return mz_fail(err, MZ_EMISMATCH,
                           "%s and %s are not shards of one zoo (%s); nothing written", a->path,
                           b->path,
                           strcmp(a->kind, b->kind)       ? "different kinds"
                           : strcmp(a->recipe, b->recipe) ? "different recipes"
                                                          : "different numbers of shards");
        if (b->n_models != a->n_models || !same_layouts(a, b))
            return mz_fail(err, MZ_EMISMATCH,
                           "%s and %s hold different models or layouts; nothing written", a->path,
                           b->path);
        for (int64_t m = 0; m < a->n_models; m++)
            if (!same_row(&a->rows[m], &b->rows[m]))
                return mz_fail(err, MZ_EMISMATCH,
                               "%s and %s disagree on model %lld; nothing written", a->path,
                               b->path, (long long)m);
        for (int j = 0; j < i; j++)
            if (p[j].k == b->k)
                return mz_fail(err, MZ_EMISMATCH, "%s and %s are both shard %s; nothing written",
                               p[j].path, b->path, b->shard);
    }
    char report[800] = "";
    int problems = 0;
    for (int k = 0; k < a->n; k++) {
        int found = 0;
        for (int i = 0; i < n; i++)
            found |= p[i].k == k;
        if (!found)
            note(report, sizeof report, &problems, "shard %d/%d is missing", k, a->n);
    }
    for (int i = 0; i < n; i++)
        for (int64_t m = 0; m < p[i].n_models; m++) {
            const mz_model_progress *pr = &p[i].prog[m];
            int mine = m % p[i].n == p[i].k;
            if (mine && !mz_model_status_final(pr->status))
                note(report, sizeof report, &problems,
                     "model %lld of shard %s (%s) is %s with epochs up to %d", (long long)m,
                     p[i].shard, p[i].path, mz_model_status_name(pr->status), pr->epochs_done);
            else if (!mine && pr->epochs_done >= 0)
                note(report, sizeof report, &problems,
                     "%s has epochs of model %lld, which belongs to shard %lld/%d", p[i].path,
                     (long long)m, (long long)(m % p[i].n), p[i].n);
        }
    if (problems)
        return mz_fail(err, MZ_ENOTFOUND,
                       "the shards do not make a complete zoo: %s%s (%d problem%s); nothing "
                       "written: finish the missing shards with the same command and merge again",
                       report, problems > 8 ? "; ..." : "", problems, problems == 1 ? "" : "s");
    return MZ_OK;
}

/* Records of one model gathered into transactions of at most ~64 MB. */
typedef struct copier {
    mz_store *out;
    mz_epoch_record rec[64];
    char metrics[64][256];
    float *buf;
    int64_t cap, used;
    int n;
    mz_status s;
    mz_error *err;
} copier;

static mz_status flush(copier *c)
{
    if (c->n && c->s == MZ_OK)
        c->s = mz_store_commit(c->out, c->rec, c->n, c->err);
    c->n = 0;
    c->used = 0;
    return c->s;
}

static int copy_epoch(void *ctx, const mz_epoch_record *r)
{
    copier *c = ctx;
    int64_t nw = r->weights ? r->n_weights : 0;
    if (c->n == 64 || (c->n && c->used + nw > c->cap))
        if (flush(c) != MZ_OK)
            return 1;
    if (nw > c->cap) {
        float *g = realloc(c->buf, sizeof(float) * (size_t)nw);
        if (!g) {
            c->s = mz_fail(c->err, MZ_ENOMEM, "out of memory");
            return 1;
        }
        c->buf = g;
        c->cap = nw;
    }
    mz_epoch_record *w = &c->rec[c->n];
    *w = *r;
    w->status = MZ_MODEL_RUNNING;
    w->opt_state = NULL;
    w->n_opt = 0;
    if (r->metrics) {
        snprintf(c->metrics[c->n], sizeof c->metrics[c->n], "%s", r->metrics);
        w->metrics = c->metrics[c->n];
    }
    if (nw) {
        memcpy(c->buf + c->used, r->weights, sizeof(float) * (size_t)nw);
        w->weights = c->buf + c->used;
        c->used += nw;
    }
    c->n++;
    return 0;
}

mz_status mz_zoo_merge(const char *const *parts, int n_parts, const char *out, mz_error *err)
{
    if (n_parts < 1)
        return mz_fail(err, MZ_EINVAL, "merge: no parts");
    struct stat sb;
    if (stat(out, &sb) == 0 && sb.st_size > 0)
        return mz_fail(err, MZ_EINVAL, "%s exists; merge writes a new zoo file", out);
    part *p = calloc((size_t)n_parts, sizeof *p);
    if (!p)
        return mz_fail(err, MZ_ENOMEM, "out of memory");
    mz_status s = MZ_OK;
    for (int i = 0; i < n_parts && s == MZ_OK; i++)
        s = part_open(&p[i], parts[i], err);
    if (s == MZ_OK)
        s = check_parts(p, n_parts, err);
    /* the merged zoo: the parts' description without the shard */
    char(*meta)[2][256] = NULL;
    const char *kv[64][2];
    int n_meta = 0;
    mz_store *o = NULL;
    if (s == MZ_OK) {
        static const char *const keys[] = {"dataset",    "variant", "architecture",       "epochs",
                                           "batch_size", "method",  "source_checkpoints", NULL};
        meta = calloc(64, sizeof *meta);
        if (!meta)
            s = mz_fail(err, MZ_ENOMEM, "out of memory");
        for (int k = 0; keys[k] && s == MZ_OK; k++) {
            char v[256];
            if (mz_store_meta(p[0].st, keys[k], v, sizeof v, NULL) != MZ_OK)
                continue;
            snprintf(meta[n_meta][0], sizeof meta[n_meta][0], "%s", keys[k]);
            snprintf(meta[n_meta][1], sizeof meta[n_meta][1], "%s", v);
            kv[n_meta][0] = meta[n_meta][0];
            kv[n_meta][1] = meta[n_meta][1];
            n_meta++;
        }
    }
    if (s == MZ_OK) {
        mz_zoo_desc z = {p[0].kind,     p[0].recipe, n_meta,         (const char *const(*)[2])kv,
                         p[0].n_models, p[0].rows,   p[0].n_layouts, p[0].layouts,
                         NULL};
        s = mz_store_open(&o, out, MZ_STORE_WRITE, err);
        if (s == MZ_OK)
            s = mz_store_attach(o, &z, err);
    }
    copier c;
    memset(&c, 0, sizeof c);
    c.out = o;
    c.err = err;
    c.cap = (int64_t)16 << 20; /* floats per transaction: 64 MB */
    if (s == MZ_OK && !(c.buf = malloc(sizeof(float) * (size_t)c.cap)))
        s = mz_fail(err, MZ_ENOMEM, "out of memory");
    for (int64_t m = 0; s == MZ_OK && m < p[0].n_models; m++) {
        const part *owner = NULL;
        for (int i = 0; i < n_parts; i++)
            if (m % p[i].n == p[i].k)
                owner = &p[i];
        int64_t nw = 0;
        for (int v = 0; v < owner->n_layouts; v++)
            if (!strcmp(owner->layouts[v].variant, owner->rows[m].variant))
                nw = owner->layouts[v].n_params;
        c.s = MZ_OK;
        s = mz_store_read_epochs(owner->st, m, nw, copy_epoch, &c, err);
        if (s == MZ_OK)
            s = c.s;
        /* the model's own ending: its status and message, as the run committed them */
        const mz_model_progress *pr = &owner->prog[m];
        if (s == MZ_OK && c.n && pr->status == MZ_MODEL_DONE) {
            c.rec[c.n - 1].status = MZ_MODEL_DONE;
            c.rec[c.n - 1].message = pr->message;
        } else if (s == MZ_OK) {
            mz_epoch_record *w = &c.rec[c.n++];
            memset(w, 0, sizeof *w);
            w->model_id = m;
            w->epoch = pr->epochs_done;
            w->status_only = 1;
            w->status = pr->status;
            w->message = pr->message;
        }
        if (s == MZ_OK)
            s = flush(&c);
    }
    free(c.buf);
    free(meta);
    mz_error fe = {0};
    if (o && mz_store_fold(o, &fe) != MZ_OK && s == MZ_OK) {
        if (err)
            *err = fe;
        s = fe.code;
    }
    mz_store_close(o);
    if (s != MZ_OK && o)
        remove(out); /* a merge is all or nothing: no half-written zoo is left behind */
    for (int i = 0; i < n_parts; i++)
        part_release(&p[i]);
    free(p);
    return s;
}
