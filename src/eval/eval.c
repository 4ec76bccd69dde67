/* Checkpoints of a zoo evaluated on the zoo's dataset (include/mzoo/eval.h). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "mzoo/eval.h"
#include "mzoo/nn.h"
#include "mzoo/pop.h"
#include "mzoo/resnet.h"
#include "mzoo/store.h"
#include "core/banned.h"

#define MAX_VARIANTS 32
#define EVAL_DEFAULT_BATCH 100
/* a twin's weight is pruned where log alpha >= 3 (the reference's threshold) */
#define ARD_THRESHOLD 3.0f

enum { ARCH_POP = 1, ARCH_RESNET = 2 };

/* What a layout variant of the zoo is, found once per variant. */
typedef struct variant_info {
    char name[64];
    int kind;                /* ARCH_POP or ARCH_RESNET */
    mz_arch arch;            /* ARCH_POP: the plain architecture */
    mz_resnet *net;          /* ARCH_RESNET, owned */
    mz_tensor_desc *tensors; /* the zoo's layout of the variant, owned */
    int n_tensors;
    int64_t n_params;
    int twin; /* the layout has log_sigma2 tensors: evaluated as the pruned plain network */
} variant_info;

struct mz_evaluator {
    mz_store *st;
    mz_eval_options opt;
    char data_dir[MZ_PATH_MAX];
    char ds_name[64], ds_variant[64];
    int64_t train_subset;
    int batch;
    mz_dataset own;
    const mz_dataset *ds; /* &own or the caller's; NULL until loaded */
    int n_variants;
    variant_info variants[MAX_VARIANTS];
};

void mz_eval_options_default(mz_eval_options *o)
{
    memset(o, 0, sizeof *o);
}

/* A meta value, or "" when the key is absent. */
static mz_status meta_or_empty(mz_store *st, const char *key, char *buf, size_t cap, mz_error *err)
{
    mz_status s = mz_store_meta(st, key, buf, cap, err);
    if (s == MZ_ENOTFOUND) {
        buf[0] = '\0';
        mz_error_clear(err);
        return MZ_OK;
    }
    return s;
}

mz_status mz_evaluator_open(mz_evaluator **out, const char *zoo_path, const mz_eval_options *opt,
                            mz_error *err)
{
    *out = NULL;
    mz_evaluator *ev = calloc(1, sizeof *ev);
    if (!ev)
        return mz_fail(err, MZ_ENOMEM, "out of memory for an evaluator");
    if (opt)
        ev->opt = *opt;
    if (ev->opt.data_dir) {
        if (strlen(ev->opt.data_dir) >= sizeof ev->data_dir) {
            free(ev);
            return mz_fail(err, MZ_ELIMIT, "data directory: path of %zu bytes (limit %d)",
                           strlen(opt->data_dir), MZ_PATH_MAX - 1);
        }
        snprintf(ev->data_dir, sizeof ev->data_dir, "%s", ev->opt.data_dir);
    }
    ev->opt.data_dir = NULL; /* the copy in data_dir is used */
    char batch[32] = "", *recipe = NULL;
    mz_status s = mz_store_open(&ev->st, zoo_path, MZ_STORE_READ, err);
    if (s == MZ_OK)
        s = meta_or_empty(ev->st, "dataset", ev->ds_name, sizeof ev->ds_name, err);
    if (s == MZ_OK)
        s = meta_or_empty(ev->st, "variant", ev->ds_variant, sizeof ev->ds_variant, err);
    if (s == MZ_OK)
        s = meta_or_empty(ev->st, "batch_size", batch, sizeof batch, err);
    if (s == MZ_OK && mz_store_recipe(ev->st, &recipe, NULL) == MZ_OK) {
        /* the training split the zoo's train metrics were measured on */
        json_t *r = json_loads(recipe, 0, NULL);
        json_t *ts = r ? json_object_get(r, "train_subset") : NULL;
        if (json_is_integer(ts) && json_integer_value(ts) > 0)
            ev->train_subset = json_integer_value(ts);
        json_decref(r);
        free(recipe);
    }
    if (s != MZ_OK) {
        mz_evaluator_close(ev);
        return s;
    }
    long b = strtol(batch, NULL, 10);
    ev->batch = ev->opt.batch > 0    ? ev->opt.batch
                : b > 0 && b <= 4096 ? (int)b
                                     : EVAL_DEFAULT_BATCH;
    ev->ds = ev->opt.dataset;
    *out = ev;
    return MZ_OK;
}

void mz_evaluator_close(mz_evaluator *ev)
{
    if (!ev)
        return;
    for (int v = 0; v < ev->n_variants; v++) {
        free(ev->variants[v].net);
        free(ev->variants[v].tensors);
    }
    if (ev->ds == &ev->own)
        mz_dataset_release(&ev->own);
    mz_store_close(ev->st);
    free(ev);
}

mz_status mz_evaluator_dataset(mz_evaluator *ev, const mz_dataset **out, mz_error *err)
{
    if (!ev->ds) {
        if (!ev->ds_name[0])
            return mz_fail(err, MZ_ENOTFOUND,
                           "%s: the zoo names no dataset (meta 'dataset'), so its checkpoints "
                           "cannot be evaluated on it",
                           mz_store_path(ev->st));
        mz_status s = mz_dataset_load(&ev->own, ev->ds_name, ev->data_dir[0] ? ev->data_dir : NULL,
                                      ev->ds_variant[0] ? ev->ds_variant : NULL, err);
        if (s == MZ_OK && ev->train_subset > 0 && ev->train_subset < ev->own.train.n)
            s = mz_dataset_subset_train(&ev->own, ev->train_subset, err);
        if (s != MZ_OK) {
            mz_dataset_release(&ev->own);
            return s;
        }
        ev->ds = &ev->own;
    }
    *out = ev->ds;
    return MZ_OK;
}

/* ---- the model's row ---- */

typedef struct model_row {
    int found;
    char variant[64];
    char activation[32]; /* "" when NULL */
    double dropout;
} model_row;

static int model_row_cb(void *ctx, int ncol, const char *const *v, const char *const *names)
{
    model_row *m = ctx;
    (void)names;
    if (ncol < 3)
        return 1;
    m->found = 1;
    snprintf(m->variant, sizeof m->variant, "%s", v[0] ? v[0] : "");
    snprintf(m->activation, sizeof m->activation, "%s", v[1] ? v[1] : "");
    m->dropout = v[2] ? strtod(v[2], NULL) : 0.0;
    return 1;
}

static mz_status read_model(mz_evaluator *ev, int64_t id, model_row *m, mz_error *err)
{
    char sql[128];
    memset(m, 0, sizeof *m);
    snprintf(sql, sizeof sql, "SELECT variant, activation, dropout FROM models WHERE id = %lld",
             (long long)id);
    mz_status s = mz_store_query(ev->st, sql, model_row_cb, m, err);
    if (s == MZ_OK && !m->found)
        s = mz_fail(err, MZ_ENOTFOUND, "%s: no model %lld", mz_store_path(ev->st), (long long)id);
    return s;
}

/* ---- architectures from layouts ---- */

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

/* 1 if the two tensor lists are the same (names, shapes, offsets). */
static int same_tensors(const mz_tensor_desc *a, int na, const mz_tensor_desc *b, int nb)
{
    if (na != nb)
        return 0;
    for (int i = 0; i < na; i++) {
        if (strcmp(a[i].name, b[i].name) || a[i].ndim != b[i].ndim || a[i].offset != b[i].offset ||
            a[i].count != b[i].count)
            return 0;
        for (int d = 0; d < a[i].ndim; d++)
            if (a[i].shape[d] != b[i].shape[d])
                return 0;
    }
    return 1;
}

static mz_status resolve_variant(mz_evaluator *ev, const char *name, variant_info **out,
                                 mz_error *err)
{
    for (int v = 0; v < ev->n_variants; v++)
        if (!strcmp(ev->variants[v].name, name)) {
            *out = &ev->variants[v];
            return MZ_OK;
        }
    if (ev->n_variants == MAX_VARIANTS)
        return mz_fail(err, MZ_ELIMIT, "%s: more than %d layout variants", mz_store_path(ev->st),
                       MAX_VARIANTS);
    const mz_dataset *ds;
    mz_status s = mz_evaluator_dataset(ev, &ds, err);
    if (s != MZ_OK)
        return s;
    variant_info *vi = &ev->variants[ev->n_variants];
    memset(vi, 0, sizeof *vi);
    snprintf(vi->name, sizeof vi->name, "%s", name);
    s = mz_store_layout(ev->st, name, &vi->tensors, &vi->n_tensors, &vi->n_params, err);
    if (s != MZ_OK)
        return s;
    /* the plain tensors: a twin's weights and biases, packed as the plain layout packs them */
    mz_tensor_desc *plain = malloc(sizeof *plain * (size_t)(vi->n_tensors + 1));
    if (!plain) {
        free(vi->tensors);
        return mz_fail(err, MZ_ENOMEM, "out of memory for a layout");
    }
    int np = 0;
    int64_t off = 0;
    for (int t = 0; t < vi->n_tensors; t++) {
        if (ends_with(vi->tensors[t].name, ".log_sigma2") ||
            ends_with(vi->tensors[t].name, ".log_sigma2_bias")) {
            vi->twin = 1;
            continue;
        }
        plain[np] = vi->tensors[t];
        plain[np++].offset = off;
        off += vi->tensors[t].count;
    }
    /* CNN-s without and with dropout modules, CNN-l, ResNet-18 for the dataset's images */
    static const struct {
        const char *name;
        double dropout;
    } pops[] = {{"cnn-s", 0.0}, {"cnn-s", 0.5}, {"cnn-l", 0.0}};
    for (size_t k = 0; k < sizeof pops / sizeof pops[0] && !vi->kind; k++) {
        mz_arch a;
        if (mz_arch_init(&a, pops[k].name, ds->c, ds->h, ds->w, pops[k].dropout, NULL) == MZ_OK &&
            a.n_classes == ds->n_classes && same_tensors(a.tensors, a.n_tensors, plain, np)) {
            vi->arch = a;
            vi->kind = ARCH_POP;
        }
    }
    if (!vi->kind && !vi->twin) {
        mz_resnet *net = malloc(sizeof *net);
        if (net && mz_resnet_init(net, ds->c, ds->h, ds->w, ds->n_classes, NULL) == MZ_OK &&
            same_tensors(net->tensors, net->n_tensors, plain, np)) {
            vi->net = net;
            vi->kind = ARCH_RESNET;
        } else {
            free(net);
        }
    }
    free(plain);
    if (!vi->kind) {
        free(vi->tensors);
        return mz_fail(err, MZ_EUNSUPPORTED,
                       "%s: layout variant '%s' is none of the architectures mzoo evaluates "
                       "(CNN-s, CNN-l, ResNet-18 and the twins of CNN-s/CNN-l) for %s images "
                       "(%dx%dx%d, %d classes)",
                       mz_store_path(ev->st), name, ds->name, ds->c, ds->h, ds->w, ds->n_classes);
    }
    ev->n_variants++;
    *out = vi;
    return MZ_OK;
}

/* ---- twins ---- */

static const mz_tensor_desc *find_tensor(const mz_tensor_desc *t, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(t[i].name, name))
            return &t[i];
    return NULL;
}

static int same_shape(const mz_tensor_desc *a, const mz_tensor_desc *b)
{
    if (a->ndim != b->ndim || a->count != b->count)
        return 0;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d])
            return 0;
    return 1;
}

mz_status mz_ard_prune(const mz_tensor_desc *ard, int n_ard, const float *ard_w,
                       const mz_tensor_desc *plain, int n_plain, float *out, int64_t *pruned,
                       int64_t *n_weights, mz_error *err)
{
    int64_t dropped = 0, total = 0;
    for (int t = 0; t < n_plain; t++) {
        const mz_tensor_desc *p = &plain[t];
        char prefix[MZ_TENSOR_NAME_MAX], name[MZ_TENSOR_NAME_MAX + 24];
        int is_bias = ends_with(p->name, ".bias");
        if (!is_bias && !ends_with(p->name, ".weight"))
            return mz_fail(err, MZ_EUNSUPPORTED, "%s: a twin has only weights and biases", p->name);
        size_t len = strlen(p->name) - (is_bias ? 5 : 7);
        snprintf(prefix, sizeof prefix, "%.*s", (int)len, p->name);
        snprintf(name, sizeof name, "%s.weight", prefix);
        const mz_tensor_desc *wt = find_tensor(ard, n_ard, name);
        const mz_tensor_desc *th = find_tensor(ard, n_ard, p->name);
        snprintf(name, sizeof name, "%s.%s", prefix, is_bias ? "log_sigma2_bias" : "log_sigma2");
        const mz_tensor_desc *ls = find_tensor(ard, n_ard, name);
        if (!wt || !th || !ls || !same_shape(th, p) || !same_shape(ls, p))
            return mz_fail(err, MZ_EFORMAT,
                           "%s: the twin's layout lacks it or its %s, or their shapes differ",
                           p->name, name);
        int conv = wt->ndim == 4;
        /* linear biases are never pruned (the reference's LinearARD keeps its bias) */
        int prune = !is_bias || conv;
        /* log alpha is clamped to [-8, 8] (conv) or [-10, 10] (linear) before the comparison
         * with 3; clamping cannot move a value across 3, so it is left out */
        const float *theta = ard_w + th->offset, *lsig = ard_w + ls->offset;
        float *dst = out + p->offset;
        for (int64_t i = 0; i < p->count; i++) {
            float la = lsig[i] - 2.0f * mz_logf(fabsf(theta[i]) + 1e-15f);
            int drop = prune && la >= ARD_THRESHOLD;
            dst[i] = drop ? 0.0f : theta[i];
            if (!is_bias) {
                total++;
                dropped += drop;
            }
        }
    }
    if (pruned)
        *pruned = dropped;
    if (n_weights)
        *n_weights = total;
    return MZ_OK;
}

/* ---- evaluation ---- */

static mz_status eval_pop(mz_evaluator *ev, const variant_info *vi, const model_row *m,
                          const float *w, const mz_split *sp, double *loss_sum, int64_t *hits,
                          mz_error *err)
{
    int act = mz_activation_parse(m->activation);
    if (act < 0)
        return mz_fail(err, m->activation[0] ? MZ_EFORMAT : MZ_EINVAL,
                       "%s: the model's activation is %s%s%s", mz_store_path(ev->st),
                       m->activation[0] ? "'" : "not recorded", m->activation,
                       m->activation[0] ? "', which mzoo does not know" : "");
    const mz_pop_backend *be =
        ev->opt.backend ? mz_pop_backend_by_name(ev->opt.backend) : mz_pop_backend_default();
    if (!be)
        return mz_fail(err, MZ_EINVAL, "unknown population backend '%s' (expected ref or simd)",
                       ev->opt.backend);
    mz_pop pop;
    mz_status s =
        mz_pop_init(&pop, be, &vi->arch, (mz_activation)act, ev->batch, &ev->ds->lut[0][0], err);
    if (s != MZ_OK)
        return s;
    mz_lane_cfg lc;
    memset(&lc, 0, sizeof lc);
    lc.active = 1;
    lc.dropout = (float)m->dropout; /* eval mode: no effect */
    mz_pop_set_lane(&pop, 0, &lc, w, NULL);
    double ls[MZ_LANES] = {0};
    int64_t hit[MZ_LANES] = {0};
    mz_pop_eval(&pop, sp->x, sp->y, sp->n, ls, hit);
    mz_pop_release(&pop);
    *loss_sum = ls[0];
    *hits = hit[0];
    return MZ_OK;
}

static mz_status eval_resnet(mz_evaluator *ev, const variant_info *vi, const float *w,
                             const mz_split *sp, double *loss_sum, int64_t *hits, mz_error *err)
{
    const mz_resnet *net = vi->net;
    const mz_dataset *ds = ev->ds;
    int B = ev->batch, K = net->n_classes, c = ds->c;
    int64_t hw = (int64_t)ds->h * ds->w;
    mz_resnet_ws *ws = NULL;
    float *state = malloc(sizeof(float) * (size_t)net->n_state);
    float *x = malloc(sizeof(float) * (size_t)(B * c * hw));
    float *logits = malloc(sizeof(float) * (size_t)(B * K));
    mz_status s = state && x && logits ? mz_resnet_ws_new(&ws, net, B, err)
                                       : mz_fail(err, MZ_ENOMEM, "out of memory for ResNet-18");
    if (s == MZ_OK) {
        /* eval mode does not change the state, but the forward takes it writable */
        memcpy(state, w, sizeof(float) * (size_t)net->n_state);
        double ls = 0;
        int64_t h = 0;
        for (int64_t first = 0; first < sp->n; first += B) {
            int nb = (int)(sp->n - first < B ? sp->n - first : B);
            for (int b = 0; b < nb; b++) {
                const uint8_t *img = sp->x + (first + b) * c * hw;
                for (int ch = 0; ch < c; ch++)
                    for (int64_t p = 0; p < hw; p++)
                        x[(b * c + ch) * hw + p] = ds->lut[ch][img[ch * hw + p]];
            }
            mz_resnet_forward(net, ws, state, x, nb, 0, logits);
            for (int b = 0; b < nb; b++) {
                int hit = 0;
                ls += mz_ref_loss(logits + (int64_t)b * K, sp->y + first + b, 1, K, NULL, &hit);
                h += hit;
            }
        }
        *loss_sum = ls;
        *hits = h;
    }
    mz_resnet_ws_free(ws);
    free(state);
    free(x);
    free(logits);
    return s;
}

mz_status mz_evaluator_weights(mz_evaluator *ev, int64_t model_id, const float *w, int64_t n,
                               mz_part part, mz_eval_result *out, mz_error *err)
{
    out->n = 0;
    out->loss = out->acc = out->sparsity = NAN;
    if ((int)part < 0 || part >= MZ_N_PARTS)
        return mz_fail(err, MZ_EINVAL, "split %d: expected train, val or test", (int)part);
    model_row m;
    variant_info *vi = NULL;
    mz_status s = read_model(ev, model_id, &m, err);
    if (s == MZ_OK)
        s = resolve_variant(ev, m.variant, &vi, err);
    if (s != MZ_OK)
        return s;
    if (n != vi->n_params)
        return mz_fail(err, MZ_EINVAL,
                       "model %lld: %lld weights given, but its layout variant %s has %lld",
                       (long long)model_id, (long long)n, vi->name, (long long)vi->n_params);
    const mz_split *sp = part == MZ_PART_TRAIN ? &ev->ds->train
                         : part == MZ_PART_VAL ? &ev->ds->val
                                               : &ev->ds->test;
    if (sp->n == 0)
        return mz_fail(err, MZ_EINVAL, "dataset %s has no %s split", ev->ds->name,
                       mz_part_name(part));
    const float *use = w;
    float *pruned = NULL;
    if (vi->twin) {
        pruned = malloc(sizeof(float) * (size_t)vi->arch.n_params);
        if (!pruned)
            return mz_fail(err, MZ_ENOMEM, "out of memory for a pruned network");
        int64_t dropped = 0, total = 0;
        s = mz_ard_prune(vi->tensors, vi->n_tensors, w, vi->arch.tensors, vi->arch.n_tensors,
                         pruned, &dropped, &total, err);
        out->sparsity = total ? (double)dropped / (double)total : 0.0;
        use = pruned;
    }
    double loss_sum = 0;
    int64_t hits = 0;
    if (s == MZ_OK)
        s = vi->kind == ARCH_POP ? eval_pop(ev, vi, &m, use, sp, &loss_sum, &hits, err)
                                 : eval_resnet(ev, vi, use, sp, &loss_sum, &hits, err);
    free(pruned);
    if (s != MZ_OK)
        return s;
    out->n = sp->n;
    out->loss = loss_sum / (double)sp->n;
    out->acc = (double)hits / (double)sp->n;
    return MZ_OK;
}

mz_status mz_evaluator_checkpoint(mz_evaluator *ev, int64_t model_id, int epoch, mz_part part,
                                  mz_eval_result *out, mz_error *err)
{
    out->n = 0;
    out->loss = out->acc = out->sparsity = NAN;
    model_row m;
    variant_info *vi = NULL;
    mz_status s = read_model(ev, model_id, &m, err);
    if (s == MZ_OK)
        s = resolve_variant(ev, m.variant, &vi, err);
    if (s != MZ_OK)
        return s;
    float *w = malloc(sizeof(float) * (size_t)(vi->n_params + 1));
    if (!w)
        return mz_fail(err, MZ_ENOMEM, "out of memory for a checkpoint");
    s = mz_store_read_weights(ev->st, model_id, epoch, w, vi->n_params, err);
    if (s == MZ_OK)
        s = mz_evaluator_weights(ev, model_id, w, vi->n_params, part, out, err);
    free(w);
    return s;
}
