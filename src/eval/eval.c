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
    if (ev->opt.max_images < 0) {
        free(ev);
        return mz_fail(err, MZ_EINVAL, "max_images %lld: expected 0 (all) or more",
                       (long long)opt->max_images);
    }
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

/* One checkpoint ready to run: its architecture, activation and plain weights. */
typedef struct job {
    const variant_info *vi;
    int act;         /* ARCH_POP */
    float dropout;   /* eval mode: no effect, kept for the lane's settings */
    float *w;        /* the plain network's weights (twins: pruned), owned */
    double sparsity; /* twins; NaN otherwise */
    mz_eval_result *out;
    int32_t *classes; /* [images] each image's predicted class, or NULL */
} job;

/* The split to evaluate on (its first max_images images when asked). */
static mz_status split_of(mz_evaluator *ev, mz_part part, mz_split *out, mz_error *err)
{
    const mz_dataset *ds = NULL;
    if ((int)part < 0 || part >= MZ_N_PARTS)
        return mz_fail(err, MZ_EINVAL, "split %d: expected train, val or test", (int)part);
    mz_status s = mz_evaluator_dataset(ev, &ds, err);
    if (s != MZ_OK)
        return s;
    *out = part == MZ_PART_TRAIN ? ds->train : part == MZ_PART_VAL ? ds->val : ds->test;
    if (out->n == 0)
        return mz_fail(err, MZ_EINVAL, "dataset %s has no %s split", ds->name, mz_part_name(part));
    if (ev->opt.max_images > 0 && ev->opt.max_images < out->n)
        out->n = ev->opt.max_images; /* a prefix of the same arrays */
    return MZ_OK;
}

/* Fills j for model_id with weights w[n], or with checkpoint `epoch` read from the zoo when w is
 * NULL. */
static mz_status prepare(mz_evaluator *ev, int64_t model_id, int epoch, const float *w, int64_t n,
                         job *j, mz_error *err)
{
    model_row m;
    variant_info *vi = NULL;
    memset(j, 0, sizeof *j);
    j->sparsity = NAN;
    mz_status s = read_model(ev, model_id, &m, err);
    if (s == MZ_OK)
        s = resolve_variant(ev, m.variant, &vi, err);
    if (s != MZ_OK)
        return s;
    j->vi = vi;
    j->dropout = (float)m.dropout;
    if (vi->kind == ARCH_POP) {
        j->act = mz_activation_parse(m.activation);
        if (j->act < 0)
            return mz_fail(err, m.activation[0] ? MZ_EFORMAT : MZ_EINVAL,
                           "%s: model %lld: the activation is %s%s%s", mz_store_path(ev->st),
                           (long long)model_id, m.activation[0] ? "'" : "not recorded",
                           m.activation, m.activation[0] ? "', which mzoo does not know" : "");
    }
    if (w && n != vi->n_params)
        return mz_fail(err, MZ_EINVAL,
                       "model %lld: %lld weights given, but its layout variant %s has %lld",
                       (long long)model_id, (long long)n, vi->name, (long long)vi->n_params);
    float *own = NULL;
    if (!w) {
        own = malloc(sizeof(float) * (size_t)(vi->n_params + 1));
        if (!own)
            return mz_fail(err, MZ_ENOMEM, "out of memory for a checkpoint");
        s = mz_store_read_weights(ev->st, model_id, epoch, own, vi->n_params, err);
        if (s != MZ_OK) {
            free(own);
            return s;
        }
        w = own;
    }
    int64_t np = vi->kind == ARCH_POP ? vi->arch.n_params : vi->net->n_state;
    j->w = malloc(sizeof(float) * (size_t)(np + 1));
    if (!j->w)
        s = mz_fail(err, MZ_ENOMEM, "out of memory for a checkpoint");
    else if (vi->twin) {
        int64_t dropped = 0, total = 0;
        s = mz_ard_prune(vi->tensors, vi->n_tensors, w, vi->arch.tensors, vi->arch.n_tensors, j->w,
                         &dropped, &total, err);
        j->sparsity = total ? (double)dropped / (double)total : 0.0;
    } else {
        memcpy(j->w, w, sizeof(float) * (size_t)np);
    }
    free(own);
    if (s != MZ_OK) {
        free(j->w);
        j->w = NULL;
    }
    return s;
}

static void finish(job *j, const mz_split *sp, double loss_sum, int64_t hits)
{
    j->out->n = sp->n;
    j->out->loss = loss_sum / (double)sp->n;
    j->out->acc = (double)hits / (double)sp->n;
    j->out->sparsity = j->sparsity;
    free(j->w);
    j->w = NULL;
}

/* Up to MZ_LANES checkpoints of one architecture, in the lanes of one pop (activations mixed). */
static mz_status run_pop(mz_evaluator *ev, job *jobs, int k, const mz_split *sp, mz_error *err)
{
    const mz_pop_backend *be =
        ev->opt.backend ? mz_pop_backend_by_name(ev->opt.backend) : mz_pop_backend_default();
    if (!be)
        return mz_fail(err, MZ_EINVAL, "unknown population backend '%s' (expected ref or simd)",
                       ev->opt.backend);
    mz_pop pop;
    mz_status s = mz_pop_init(&pop, be, &jobs[0].vi->arch, (mz_activation)jobs[0].act, ev->batch,
                              &ev->ds->lut[0][0], err);
    if (s != MZ_OK)
        return s;
    for (int l = 0; l < k; l++) {
        mz_lane_cfg lc;
        memset(&lc, 0, sizeof lc);
        lc.active = 1;
        lc.dropout = jobs[l].dropout;
        mz_pop_set_activation(&pop, l, (mz_activation)jobs[l].act);
        mz_pop_set_lane(&pop, l, &lc, jobs[l].w, NULL);
    }
    double ls[MZ_LANES] = {0};
    int64_t hit[MZ_LANES] = {0};
    int32_t *classes[MZ_LANES] = {NULL};
    for (int l = 0; l < k; l++)
        classes[l] = jobs[l].classes;
    mz_pop_eval_classes(&pop, sp->x, sp->y, sp->n, ls, hit, classes);
    mz_pop_release(&pop);
    for (int l = 0; l < k; l++)
        finish(&jobs[l], sp, ls[l], hit[l]);
    return MZ_OK;
}

static mz_status run_resnet(mz_evaluator *ev, job *j, const mz_split *sp, mz_error *err)
{
    const mz_resnet *net = j->vi->net;
    const mz_dataset *ds = ev->ds;
    int B = ev->batch, K = net->n_classes, c = ds->c;
    int64_t hw = (int64_t)ds->h * ds->w;
    mz_resnet_ws *ws = NULL;
    float *x = malloc(sizeof(float) * (size_t)(B * c * hw));
    float *logits = malloc(sizeof(float) * (size_t)(B * K));
    mz_status s = x && logits ? mz_resnet_ws_new(&ws, net, B, err)
                              : mz_fail(err, MZ_ENOMEM, "out of memory for ResNet-18");
    if (s == MZ_OK) {
        double ls = 0;
        int64_t hits = 0;
        for (int64_t first = 0; first < sp->n; first += B) {
            int nb = (int)(sp->n - first < B ? sp->n - first : B);
            for (int b = 0; b < nb; b++) {
                const uint8_t *img = sp->x + (first + b) * c * hw;
                for (int ch = 0; ch < c; ch++)
                    for (int64_t p = 0; p < hw; p++)
                        x[(b * c + ch) * hw + p] = ds->lut[ch][img[ch * hw + p]];
            }
            /* eval mode leaves the state (j->w, our copy) unchanged */
            mz_resnet_forward(net, ws, j->w, x, nb, 0, logits);
            for (int b = 0; b < nb; b++) {
                int hit = 0;
                const float *z = logits + (int64_t)b * K;
                ls += mz_ref_loss(z, sp->y + first + b, 1, K, NULL, &hit);
                hits += hit;
                if (j->classes) { /* the argmax mz_ref_loss counts hits with */
                    int32_t arg = 0;
                    for (int c = 1; c < K; c++)
                        if (z[c] > z[arg])
                            arg = c;
                    j->classes[first + b] = arg;
                }
            }
        }
        finish(j, sp, ls, hits);
    }
    mz_resnet_ws_free(ws);
    free(x);
    free(logits);
    return s;
}

/* Checkpoints waiting for a full pop, one group per layout variant. */
#define MAX_GROUPS 16
typedef struct pending {
    int n_groups;
    int k[MAX_GROUPS];
    job jobs[MAX_GROUPS][MZ_LANES];
} pending;

static mz_status flush_group(mz_evaluator *ev, pending *p, int g, const mz_split *sp, mz_error *err)
{
    mz_status s = p->k[g] ? run_pop(ev, p->jobs[g], p->k[g], sp, err) : MZ_OK;
    for (int l = 0; l < p->k[g]; l++) {
        free(p->jobs[g][l].w); /* NULL once finished */
        p->jobs[g][l].w = NULL;
    }
    p->k[g] = 0;
    return s;
}

static void pending_release(pending *p)
{
    for (int g = 0; g < p->n_groups; g++)
        for (int l = 0; l < p->k[g]; l++)
            free(p->jobs[g][l].w);
    free(p);
}

/* Runs j now (ResNet-18) or queues it with its group, running the group once it is full. */
static mz_status submit(mz_evaluator *ev, pending *p, const job *j, const mz_split *sp,
                        mz_error *err)
{
    if (j->vi->kind == ARCH_RESNET) {
        job copy = *j;
        mz_status s = run_resnet(ev, &copy, sp, err);
        free(copy.w);
        return s;
    }
    int g = 0;
    /* an emptied group keeps its key (the architecture) in slot 0 until refilled */
    while (g < p->n_groups && p->jobs[g][0].vi != j->vi)
        g++;
    if (g == p->n_groups) {
        if (p->n_groups == MAX_GROUPS) {
            for (int h = 0; h < p->n_groups; h++) {
                mz_status s = flush_group(ev, p, h, sp, err);
                if (s != MZ_OK)
                    return s;
            }
            p->n_groups = 0;
            g = 0;
        }
        p->n_groups++;
        p->k[g] = 0;
    }
    p->jobs[g][p->k[g]++] = *j;
    return p->k[g] == MZ_LANES ? flush_group(ev, p, g, sp, err) : MZ_OK;
}

/* Checkpoints i of n: results into out[i], and each image's class into classes[i * images + j]
 * when classes is not NULL. */
static mz_status evaluate(mz_evaluator *ev, int64_t n, const int64_t *model_ids, const int *epochs,
                          mz_part part, int32_t *classes, mz_eval_result *out, mz_error *err)
{
    for (int64_t i = 0; i < n; i++) {
        out[i].n = 0;
        out[i].loss = out[i].acc = out[i].sparsity = NAN;
    }
    mz_split sp;
    mz_status s = split_of(ev, part, &sp, err);
    pending *p = s == MZ_OK ? calloc(1, sizeof *p) : NULL;
    if (s == MZ_OK && !p)
        s = mz_fail(err, MZ_ENOMEM, "out of memory for an evaluation");
    for (int64_t i = 0; s == MZ_OK && i < n; i++) {
        job j;
        s = prepare(ev, model_ids[i], epochs[i], NULL, 0, &j, err);
        j.out = &out[i];
        j.classes = classes ? classes + i * sp.n : NULL;
        if (s == MZ_OK)
            s = submit(ev, p, &j, &sp, err);
        else if (n > 1)
            mz_error_prefix(err, "model %lld epoch %d", (long long)model_ids[i], epochs[i]);
    }
    for (int g = 0; s == MZ_OK && p && g < p->n_groups; g++)
        s = flush_group(ev, p, g, &sp, err);
    if (p)
        pending_release(p);
    return s;
}

mz_status mz_evaluator_checkpoints(mz_evaluator *ev, int64_t n, const int64_t *model_ids,
                                   const int *epochs, mz_part part, mz_eval_result *out,
                                   mz_error *err)
{
    return evaluate(ev, n, model_ids, epochs, part, NULL, out, err);
}

mz_status mz_evaluator_images(mz_evaluator *ev, mz_part part, int64_t *n_images, mz_error *err)
{
    mz_split sp;
    mz_status s = split_of(ev, part, &sp, err);
    *n_images = s == MZ_OK ? sp.n : 0;
    return s;
}

mz_status mz_evaluator_predict(mz_evaluator *ev, int64_t n, const int64_t *model_ids,
                               const int *epochs, mz_part part, int32_t *classes,
                               mz_eval_result *out, mz_error *err)
{
    mz_eval_result *own = NULL;
    if (!out && !(out = own = malloc(sizeof *out * (size_t)(n ? n : 1))))
        return mz_fail(err, MZ_ENOMEM, "out of memory for an evaluation");
    mz_status s = evaluate(ev, n, model_ids, epochs, part, classes, out, err);
    free(own);
    return s;
}

mz_status mz_evaluator_checkpoint(mz_evaluator *ev, int64_t model_id, int epoch, mz_part part,
                                  mz_eval_result *out, mz_error *err)
{
    return mz_evaluator_checkpoints(ev, 1, &model_id, &epoch, part, out, err);
}

mz_status mz_evaluator_weights(mz_evaluator *ev, int64_t model_id, const float *w, int64_t n,
                               mz_part part, mz_eval_result *out, mz_error *err)
{
    out->n = 0;
    out->loss = out->acc = out->sparsity = NAN;
    mz_split sp;
    job j;
    mz_status s = split_of(ev, part, &sp, err);
    if (s == MZ_OK)
        s = prepare(ev, model_id, -1, w, n, &j, err);
    if (s != MZ_OK)
        return s;
    j.out = out;
    if (j.vi->kind == ARCH_RESNET)
        s = run_resnet(ev, &j, &sp, err);
    else
        s = run_pop(ev, &j, 1, &sp, err);
    free(j.w);
    return s;
}
