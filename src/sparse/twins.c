/* Sparsified twins (sparse.h): the source zoo read once, the twins trained by the population
 * family through the training driver.
 *
 *   source zoo (read-only) -> selection (where, epoch) -> the source checkpoints, their digest
 *   -> a twin spec (one model spec per twin: its source model's hyperparameters and seed) and the
 *   twin zoo's description (kind "twin", recipe naming the source's recipe and digest, models
 *   with source_id/source_epoch) -> mz_drive with the population family in twin mode. */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mzoo/data.h"
#include "mzoo/formats.h"
#include "mzoo/nn.h"
#include "mzoo/sparse.h"
#include "mzoo/store.h"
#include "train/train-impl.h"
#include "core/banned.h"

const char *mz_sparse_method_name(mz_sparse_method m)
{
    return m == MZ_SPARSE_MAGNITUDE ? "magnitude" : "vd";
}

void mz_sparsify_opts_default(mz_sparsify_opts *o)
{
    memset(o, 0, sizeof *o);
    o->method = MZ_SPARSE_VD;
    o->from_epoch = -1;
    o->epochs = 25;
    static const double t[] = {0.5, 0.7, 0.8, 0.9};
    o->n_targets = 4;
    memcpy(o->targets, t, sizeof t);
}

mz_status mz_ard_sparsity_metrics(const mz_arch *a, const float *params, double *sparsity,
                                  char *json, size_t cap, mz_error *err)
{
    int64_t dropped[MZ_MAX_LAYERS] = {0}, total = 0;
    mz_ard_dropped_layers(a, params, dropped);
    size_t at = (size_t)snprintf(json, cap, "{\"sparsity\":{");
    int nconv = 0, nfc = 0;
    for (int i = 0; i < a->n_layers; i++) {
        const mz_layer *l = &a->layers[i];
        if (l->kind != MZ_LAYER_CONV && l->kind != MZ_LAYER_LINEAR)
            continue;
        int64_t nw = (int64_t)l->out_c * l->in_c * (l->kind == MZ_LAYER_CONV ? l->k * l->k : 1);
        char num[32];
        mz_format_double(num, sizeof num, (double)dropped[l->ard_ordinal] / (double)nw);
        if (at < cap)
            at += (size_t)snprintf(json + at, cap - at, "%s\"%s%d\":%s", l->ard_ordinal ? "," : "",
                                   l->kind == MZ_LAYER_CONV ? "conv" : "fc",
                                   l->kind == MZ_LAYER_CONV ? ++nconv : ++nfc, num);
        total += dropped[l->ard_ordinal];
    }
    if (at < cap)
        at += (size_t)snprintf(json + at, cap - at, "}}");
    *sparsity = (double)total / (double)a->n_ard_weights;
    if (at >= cap) {
        if (cap)
            json[0] = 0;
        return mz_fail(err, MZ_ELIMIT, "per-layer sparsity: more than %zu bytes of JSON", cap);
    }
    return MZ_OK;
}

static const mz_twin_preset twin_presets[] = {
    {"mnist-seed-vd", "mnist-seed", "zoos/MNIST/ARD/cnn_small_mnist_ard",
     "MNIST CNN-s seed zoo: variational-dropout twins, 25 epochs from epoch 50", MZ_SPARSE_VD, 50,
     25, 1000},
    {"svhn-seed-vd", "svhn-seed", "zoos/SVHN/ARD/cnn_small_svhn_ard",
     "SVHN CNN-s seed zoo: variational-dropout twins, 25 epochs from epoch 50", MZ_SPARSE_VD, 50,
     25, 1000},
};

int mz_twin_preset_count(void)
{
    return (int)(sizeof twin_presets / sizeof twin_presets[0]);
}

const mz_twin_preset *mz_twin_preset_get(int i)
{
    return i >= 0 && i < mz_twin_preset_count() ? &twin_presets[i] : NULL;
}

const mz_twin_preset *mz_twin_preset_find(const char *name)
{
    for (int i = 0; name && i < mz_twin_preset_count(); i++)
        if (!strcmp(twin_presets[i].name, name))
            return &twin_presets[i];
    return NULL;
}

/* One selected source checkpoint. */
typedef struct pick {
    int64_t id;
    int epoch;
} pick;

typedef struct source {
    const char *path;
    mz_store *st;
    char *recipe;
    mz_spec spec; /* parsed from the recipe: dataset, architecture, batch size, ... */
    int have_spec;
    mz_model_row *rows;
    mz_model_progress *prog;
    int64_t n_models;
    pick *picks;
    int64_t n_picks, cap_picks;
    int64_t missing; /* models without the chosen epoch */
} source;

static void source_release(source *s)
{
    mz_store_close(s->st);
    free(s->recipe);
    if (s->have_spec)
        mz_spec_release(&s->spec);
    free(s->rows);
    free(s->prog);
    free(s->picks);
    memset(s, 0, sizeof *s);
}

typedef struct pick_ctx {
    source *s;
    int from_epoch;
    mz_status st;
    mz_error *err;
} pick_ctx;

static int on_row(void *ctx, int64_t model_id, int epoch, const char *variant, int keep,
                  const mz_store_value *vals)
{
    (void)variant, (void)vals;
    pick_ctx *c = ctx;
    source *s = c->s;
    if (!keep || (c->from_epoch >= 0 && epoch != c->from_epoch))
        return 0;
    if (s->n_picks == s->cap_picks) {
        int64_t cap = s->cap_picks ? 2 * s->cap_picks : 256;
        pick *p = realloc(s->picks, sizeof *p * (size_t)cap);
        if (!p) {
            c->st = mz_fail(c->err, MZ_ENOMEM, "out of memory");
            return 1;
        }
        s->picks = p;
        s->cap_picks = cap;
    }
    s->picks[s->n_picks++] = (pick){model_id, epoch};
    return 0;
}

/* Opens the source, checks that its models can have twins, and selects the checkpoints. */
static mz_status source_open(source *s, const char *path, const mz_sparsify_opts *o, mz_error *err)
{
    memset(s, 0, sizeof *s);
    s->path = path;
    mz_status st = mz_store_open(&s->st, path, MZ_STORE_READ, err);
    char kind[32] = "grid";
    if (st == MZ_OK && mz_store_meta(s->st, "kind", kind, sizeof kind, NULL) == MZ_OK &&
        strcmp(kind, "grid") != 0)
        st = mz_fail(err, MZ_EUNSUPPORTED,
                     "%s: a %s zoo; twins are made from zoos trained by mzoo (kind grid)", path,
                     kind);
    if (st == MZ_OK)
        st = mz_store_recipe(s->st, &s->recipe, err);
    if (st == MZ_OK) {
        char origin[1100];
        snprintf(origin, sizeof origin, "%s: recipe", path);
        st = mz_spec_parse(&s->spec, s->recipe, origin, err);
        s->have_spec = st == MZ_OK;
    }
    if (st == MZ_OK && strcmp(s->spec.architecture, "cnn-s") != 0 &&
        strcmp(s->spec.architecture, "cnn-l") != 0)
        st = mz_fail(err, MZ_EUNSUPPORTED,
                     "%s: architecture %s cannot be sparsified (twins exist for cnn-s and cnn-l)",
                     path, s->spec.architecture);
    if (st == MZ_OK)
        st = mz_store_read_models(s->st, &s->rows, &s->prog, &s->n_models, err);
    if (st == MZ_OK && o->from_epoch > s->spec.epochs)
        st = mz_fail(err, MZ_ENOTFOUND, "%s: no epoch %d (the zoo's models train %d epochs)", path,
                     o->from_epoch, s->spec.epochs);
    if (st == MZ_OK) {
        pick_ctx c = {s, o->from_epoch, MZ_OK, err};
        mz_store_selection sel = {o->where, o->from_epoch < 0, NULL, 0, 0};
        st = mz_store_select(s->st, &sel, on_row, &c, err);
        if (st == MZ_OK)
            st = c.st;
    }
    if (st == MZ_OK && o->from_epoch >= 0)
        for (int64_t i = 0; i < s->n_models; i++)
            s->missing += s->prog[i].epochs_done < o->from_epoch;
    if (st == MZ_OK && s->n_picks == 0)
        st = mz_fail(err, MZ_ENOTFOUND,
                     "%s: no checkpoint to make twins from (%s%s%s); nothing written", path,
                     o->from_epoch >= 0 ? "no model has the chosen epoch" : "no model has an epoch",
                     o->where ? " that matches --where " : "", o->where ? o->where : "");
    return st;
}

mz_status mz_sparsify_plan(const char *source_zoo, const mz_sparsify_opts *o, int64_t *n_twins,
                           int64_t **source_ids, int **source_epochs, mz_error *err)
{
    source s;
    mz_status st = source_open(&s, source_zoo, o, err);
    int64_t per = o->method == MZ_SPARSE_MAGNITUDE ? o->n_targets : 1, n = s.n_picks * per;
    int64_t *ids = NULL;
    int *eps = NULL;
    if (st == MZ_OK && (source_ids || source_epochs)) {
        ids = malloc(sizeof *ids * (size_t)(n ? n : 1));
        eps = malloc(sizeof *eps * (size_t)(n ? n : 1));
        if (!ids || !eps)
            st = mz_fail(err, MZ_ENOMEM, "out of memory");
        for (int64_t i = 0; st == MZ_OK && i < n; i++) {
            ids[i] = s.picks[i / per].id;
            eps[i] = s.picks[i / per].epoch;
        }
    }
    source_release(&s);
    if (st != MZ_OK) {
        free(ids);
        free(eps);
        return st;
    }
    *n_twins = n;
    if (source_ids)
        *source_ids = ids;
    else
        free(ids);
    if (source_epochs)
        *source_epochs = eps;
    else
        free(eps);
    return MZ_OK;
}

/* ---- the twins family ---- */

/* Everything the twin zoo's run owns. */
typedef struct twins {
    mz_pop_family pf; /* first: the population family's state (r->fs) */
    mz_sparse_method method;
    mz_arch plain[MZ_POP_MAX_VARIANTS]; /* the source variants, parallel to pf.arch */
    mz_spec spec;                       /* the twin zoo's models */
    char *recipe;
    mz_model_row *rows;
    char (*hparams)[96];
    char meta_v[6][64];
    const char *meta[8][2];
    int n_meta;
    float **initial;
} twins;

/* The reference's KL weight during training epoch e of E (0 for the evaluation of epoch 0). */
static float vd_kl_weight(int epoch, int last_epoch)
{
    return epoch <= 0 ? 0.0f : mz_ard_kl_weight(epoch, last_epoch);
}

static mz_status twins_prepare(mz_run *r, mz_error *err)
{
    twins *t = r->fs;
    r->desc.kind = "twin";
    r->desc.recipe = t->recipe;
    r->desc.n_meta = t->n_meta;
    r->desc.meta = (const char *const(*)[2])t->meta;
    r->desc.n_models = t->spec.n_models;
    r->desc.models = t->rows;
    r->desc.n_layouts = t->pf.n_variants;
    r->desc.layouts = t->pf.layouts;
    (void)err;
    return MZ_OK;
}

static void twins_release(mz_run *r)
{
    (void)r; /* the twins are released by mz_sparsify_run, which made them */
}

static const mz_family family_twins = {
    "twins",
    NULL,
    twins_prepare,
    mz_pop_family_plan,
    mz_pop_family_worker_new,
    mz_pop_family_run_unit,
    mz_pop_family_worker_free,
    twins_release,
    mz_pop_family_resume_sizes,
};

static void twins_release_all(twins *t)
{
    if (t->initial)
        for (int64_t i = 0; i < t->spec.n_models; i++)
            free(t->initial[i]);
    free(t->initial);
    free(t->pf.variant_of);
    free(t->rows);
    free(t->hparams);
    free(t->recipe);
    free(t->spec.models);
    memset(t, 0, sizeof *t);
}

/* The twin's variant for the plain variant v of the source (built on first use). */
static mz_status twin_variant(twins *t, const source *s, const mz_dataset *ds, const char *name,
                              double dropout, int *out, mz_error *err)
{
    for (int v = 0; v < t->pf.n_variants; v++)
        if (!strcmp(t->plain[v].variant, name)) {
            *out = v;
            return MZ_OK;
        }
    int v = t->pf.n_variants;
    if (v == MZ_POP_MAX_VARIANTS)
        return mz_fail(err, MZ_ELIMIT, "%s: more than %d layout variants", s->path, v);
    mz_arch *plain = &t->plain[v], *twin = &t->pf.arch[v];
    mz_status st = mz_arch_init(plain, s->spec.architecture, ds->c, ds->h, ds->w, dropout, err);
    if (st != MZ_OK)
        return st;
    if (strcmp(plain->variant, name) != 0)
        return mz_fail(err, MZ_EFORMAT,
                       "%s: layout variant %s is not what this mzoo builds for its models (%s)",
                       s->path, name, plain->variant);
    /* the checkpoints must be in the layout this build knows */
    mz_tensor_desc *lt = NULL;
    int nt = 0;
    st = mz_store_layout(s->st, name, &lt, &nt, NULL, err);
    int same = st == MZ_OK && nt == plain->n_tensors;
    for (int k = 0; same && k < nt; k++)
        same = !strcmp(lt[k].name, plain->tensors[k].name) &&
               lt[k].offset == plain->tensors[k].offset && lt[k].count == plain->tensors[k].count;
    free(lt);
    if (st != MZ_OK)
        return st;
    if (!same)
        return mz_fail(err, MZ_EFORMAT, "%s: layout of variant %s differs from this mzoo's",
                       s->path, name);
    if (t->method == MZ_SPARSE_VD) {
        if ((st = mz_arch_init_ard(twin, plain, err)) != MZ_OK)
            return st;
    } else {
        *twin = *plain;
    }
    mz_layout *l = &t->pf.layouts[v];
    memcpy(l->variant, twin->variant, sizeof l->variant);
    l->n_tensors = twin->n_tensors;
    l->tensors = twin->tensors;
    l->n_params = twin->n_params;
    t->pf.n_variants++;
    *out = v;
    return MZ_OK;
}

/* A model spec from a source row (the hyperparameters the twin trains with). */
static mz_status spec_of_row(const source *s, const mz_model_row *m, mz_model_spec *out,
                             mz_error *err)
{
    int act = m->activation ? mz_activation_parse(m->activation) : -1;
    int init = m->init ? mz_init_parse(m->init) : -1;
    int opt = m->optimizer ? mz_optimizer_parse(m->optimizer) : -1;
    if (act < 0 || init < 0 || opt < 0 || isnan(m->lr) || isnan(m->weight_decay) ||
        isnan(m->dropout) || isnan(m->momentum) || m->nesterov < 0 || !m->has_seed)
        return mz_fail(err, MZ_EFORMAT,
                       "%s: model %lld: incomplete or unknown hyperparameters (activation, init, "
                       "optimizer, lr, weight_decay, dropout, momentum, nesterov, seed)",
                       s->path, (long long)m->id);
    memset(out, 0, sizeof *out);
    out->activation = (mz_activation)act;
    out->init = (mz_init)init;
    out->optimizer = (mz_optimizer)opt;
    out->lr = m->lr;
    out->weight_decay = m->weight_decay;
    out->dropout = m->dropout;
    out->momentum = m->momentum;
    out->nesterov = m->nesterov;
    out->seed = m->seed;
    return MZ_OK;
}

typedef struct mag {
    float v;
    int64_t at;
} mag;

static int cmp_mag(const void *x, const void *y)
{
    const mag *a = x, *b = y;
    if (a->v != b->v)
        return a->v < b->v ? -1 : 1;
    return a->at < b->at ? -1 : a->at > b->at;
}

/* Magnitude pruning of a plain checkpoint in place: the fraction `target` (rounded to the nearest
 * count) of the conv/linear weights with the smallest |w|, over all layers or within each layer,
 * set to zero; ties broken by position, so the count is exact. Biases are kept. */
static mz_status prune_magnitude(const mz_arch *a, float *p, double target, int per_layer,
                                 mz_error *err)
{
    int64_t total = 0;
    for (int i = 0; i < a->n_layers; i++)
        if (a->layers[i].kind == MZ_LAYER_CONV || a->layers[i].kind == MZ_LAYER_LINEAR)
            total += a->layers[i].b_off - a->layers[i].w_off;
    mag *m = malloc(sizeof *m * (size_t)(total ? total : 1));
    if (!m)
        return mz_fail(err, MZ_ENOMEM, "out of memory");
    for (int g = 0; g < (per_layer ? a->n_layers : 1); g++) {
        int64_t n = 0;
        for (int i = 0; i < a->n_layers; i++) {
            const mz_layer *l = &a->layers[i];
            if ((l->kind != MZ_LAYER_CONV && l->kind != MZ_LAYER_LINEAR) || (per_layer && i != g))
                continue;
            for (int64_t k = l->w_off; k < l->b_off; k++)
                m[n++] = (mag){fabsf(p[k]), k};
        }
        qsort(m, (size_t)n, sizeof *m, cmp_mag);
        int64_t cut = (int64_t)floor(target * (double)n + 0.5);
        for (int64_t i = 0; i < cut; i++)
            p[m[i].at] = 0.0f;
    }
    free(m);
    return MZ_OK;
}

/* Hex digest of the selected checkpoints: FNV-1a 64 over (source id, epoch, crc32 of the
 * weights) of each, in order. */
static void digest_hex(const int64_t *ids, const int *epochs, const uint32_t *crcs, int64_t n,
                       char out[17])
{
    uint64_t h = 1469598103934665603ull;
    for (int64_t i = 0; i < n; i++) {
        unsigned char b[16];
        for (int k = 0; k < 8; k++)
            b[k] = (unsigned char)((uint64_t)ids[i] >> (8 * k));
        for (int k = 0; k < 4; k++)
            b[8 + k] = (unsigned char)((uint32_t)epochs[i] >> (8 * k));
        for (int k = 0; k < 4; k++)
            b[12 + k] = (unsigned char)(crcs[i] >> (8 * k));
        for (int k = 0; k < 16; k++) {
            h ^= b[k];
            h *= 1099511628211ull;
        }
    }
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

/* The twin zoo's recipe: canonical JSON of everything that determines its content. */
static char *twin_recipe(const source *s, const mz_sparsify_opts *o, const char *digest)
{
    json_error_t je;
    json_t *src = json_loads(s->recipe, 0, &je);
    json_t *r = json_object();
    if (!src || !r) {
        json_decref(src);
        json_decref(r);
        return NULL;
    }
    json_object_set_new(r, "kind", json_string("twin"));
    json_object_set_new(r, "method", json_string(mz_sparse_method_name(o->method)));
    json_object_set_new(r, "epochs", json_integer(o->epochs));
    json_object_set_new(r, "from_epoch",
                        o->from_epoch < 0 ? json_string("last") : json_integer(o->from_epoch));
    json_object_set_new(r, "where", o->where && *o->where ? json_string(o->where) : json_null());
    if (o->method == MZ_SPARSE_MAGNITUDE) {
        json_t *t = json_array();
        for (int i = 0; i < o->n_targets; i++)
            json_array_append_new(t, json_real(o->targets[i]));
        json_object_set_new(r, "targets", t);
        json_object_set_new(r, "scope", json_string(o->per_layer ? "per_layer" : "global"));
    }
    json_t *so = json_object();
    json_object_set_new(so, "recipe", src);
    json_object_set_new(so, "checkpoints", json_string(digest));
    json_object_set_new(so, "n_checkpoints", json_integer(s->n_picks));
    json_object_set_new(r, "source", so);
    char *text = mz_json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(r);
    return text;
}

static mz_status check_opts(const mz_sparsify_opts *o, mz_error *err)
{
    if (o->epochs < 0 || o->epochs > 100000)
        return mz_fail(err, MZ_EINVAL, "--epochs %d: expected 0..100000", o->epochs);
    if (o->method == MZ_SPARSE_VD && o->epochs < 1)
        return mz_fail(err, MZ_EINVAL, "--epochs %d: variational dropout trains at least 1 epoch",
                       o->epochs);
    if (o->method == MZ_SPARSE_MAGNITUDE) {
        if (o->n_targets < 1 || o->n_targets > MZ_SPARSE_MAX_TARGETS)
            return mz_fail(err, MZ_EINVAL, "--targets: expected 1 to %d sparsities",
                           MZ_SPARSE_MAX_TARGETS);
        for (int i = 0; i < o->n_targets; i++)
            if (!(o->targets[i] > 0 && o->targets[i] < 1))
                return mz_fail(err, MZ_EINVAL, "--targets: %g is not a sparsity in (0, 1)",
                               o->targets[i]);
    }
    return MZ_OK;
}

/* Builds the twins: models, variants, initial parameters, description. */
static mz_status build(twins *t, source *s, const mz_dataset *ds, const mz_sparsify_opts *o,
                       mz_error *err)
{
    int64_t per = o->method == MZ_SPARSE_MAGNITUDE ? o->n_targets : 1;
    int64_t n = s->n_picks * per;
    t->method = o->method;
    t->spec.n_models = n;
    t->spec.models = calloc((size_t)(n ? n : 1), sizeof *t->spec.models);
    t->rows = calloc((size_t)(n ? n : 1), sizeof *t->rows);
    t->hparams = calloc((size_t)(n ? n : 1), sizeof *t->hparams);
    t->initial = calloc((size_t)(n ? n : 1), sizeof *t->initial);
    t->pf.variant_of = calloc((size_t)(n ? n : 1), sizeof *t->pf.variant_of);
    int64_t *ids = malloc(sizeof *ids * (size_t)(s->n_picks + 1));
    int *eps = malloc(sizeof *eps * (size_t)(s->n_picks + 1));
    uint32_t *crcs = malloc(sizeof *crcs * (size_t)(s->n_picks + 1));
    float *plain = NULL;
    int64_t plain_cap = 0;
    mz_status st = MZ_OK;
    if (!t->spec.models || !t->rows || !t->hparams || !t->initial || !t->pf.variant_of || !ids ||
        !eps || !crcs)
        st = mz_fail(err, MZ_ENOMEM, "out of memory");
    for (int64_t i = 0; i < s->n_picks && st == MZ_OK; i++) {
        const pick *pk = &s->picks[i];
        const mz_model_row *src = &s->rows[pk->id];
        mz_model_spec ms;
        int v = 0;
        if ((st = spec_of_row(s, src, &ms, err)) != MZ_OK ||
            (st = twin_variant(t, s, ds, src->variant, src->dropout, &v, err)) != MZ_OK)
            break;
        const mz_arch *pa = &t->plain[v], *ta = &t->pf.arch[v];
        if (pa->n_params > plain_cap) {
            float *g = realloc(plain, sizeof *plain * (size_t)pa->n_params);
            if (!g) {
                st = mz_fail(err, MZ_ENOMEM, "out of memory");
                break;
            }
            plain = g;
            plain_cap = pa->n_params;
        }
        if ((st = mz_store_read_weights(s->st, pk->id, pk->epoch, plain, pa->n_params, err)) !=
            MZ_OK)
            break;
        ids[i] = pk->id;
        eps[i] = pk->epoch;
        crcs[i] = mz_crc32(0, plain, sizeof *plain * (size_t)pa->n_params);
        if (!mz_all_finite(plain, pa->n_params)) {
            st = mz_fail(err, MZ_EFORMAT,
                         "%s: model %lld epoch %d has non-finite weights; select other models or "
                         "another epoch (e.g. --where \"m.status = 'done'\")",
                         s->path, (long long)pk->id, pk->epoch);
            break;
        }
        for (int64_t k = 0; k < per && st == MZ_OK; k++) {
            int64_t id = i * per + k;
            mz_model_spec *tm = &t->spec.models[id];
            *tm = ms;
            tm->id = id;
            t->pf.variant_of[id] = v;
            mz_model_row *row = &t->rows[id];
            *row = *src;
            row->id = id;
            row->variant = t->pf.layouts[v].variant;
            row->source_id = pk->id;
            row->source_epoch = pk->epoch;
            if (o->method == MZ_SPARSE_VD) {
                snprintf(t->hparams[id], sizeof t->hparams[id], "{\"method\":\"vd\"}");
            } else {
                char num[32];
                mz_format_double(num, sizeof num, o->targets[k]);
                snprintf(t->hparams[id], sizeof t->hparams[id],
                         "{\"method\":\"magnitude\",\"scope\":\"%s\",\"target\":%s}",
                         o->per_layer ? "per_layer" : "global", num);
            }
            row->hparams = t->hparams[id];
            t->initial[id] = malloc(sizeof(float) * (size_t)ta->n_params);
            if (!t->initial[id]) {
                st = mz_fail(err, MZ_ENOMEM, "out of memory");
                break;
            }
            if (o->method == MZ_SPARSE_VD) {
                mz_ard_params_from_plain(ta, pa, plain, t->initial[id]);
            } else {
                memcpy(t->initial[id], plain, sizeof(float) * (size_t)pa->n_params);
                st = prune_magnitude(pa, t->initial[id], o->targets[k], o->per_layer, err);
            }
        }
    }
    free(plain);
    char digest[17] = "";
    if (st == MZ_OK) {
        digest_hex(ids, eps, crcs, s->n_picks, digest);
        t->recipe = twin_recipe(s, o, digest);
        if (!t->recipe)
            st = mz_fail(err, MZ_ENOMEM, "out of memory");
    }
    free(ids);
    free(eps);
    free(crcs);
    if (st != MZ_OK)
        return st;
    /* the twin zoo's models train like the source's */
    mz_spec *ts = &t->spec;
    snprintf(ts->dataset, sizeof ts->dataset, "%s", s->spec.dataset);
    snprintf(ts->variant, sizeof ts->variant, "%s", s->spec.variant);
    snprintf(ts->architecture, sizeof ts->architecture, "%s", s->spec.architecture);
    ts->epochs = o->epochs;
    ts->batch_size = s->spec.batch_size;
    ts->train_subset = s->spec.train_subset;
    ts->scheduler = MZ_SCHED_NONE;
    ts->recipe = t->recipe;
    snprintf(t->meta_v[0], sizeof t->meta_v[0], "%d", o->epochs);
    snprintf(t->meta_v[1], sizeof t->meta_v[1], "%d", ts->batch_size);
    const char *kv[][2] = {
        {"dataset", ts->dataset},           {"variant", ts->variant},
        {"architecture", ts->architecture}, {"epochs", t->meta_v[0]},
        {"batch_size", t->meta_v[1]},       {"method", mz_sparse_method_name(o->method)},
        {"source_checkpoints", NULL}};
    t->n_meta = (int)(sizeof kv / sizeof kv[0]);
    snprintf(t->meta_v[2], sizeof t->meta_v[2], "%s", digest);
    kv[t->n_meta - 1][1] = t->meta_v[2];
    memcpy(t->meta, kv, sizeof kv);
    t->pf.twins = o->method == MZ_SPARSE_VD ? 1 : 2;
    t->pf.initial = t->initial;
    t->pf.kl_weight = vd_kl_weight;
    return MZ_OK;
}

mz_status mz_sparsify_run(const char *source_zoo, const char *twin_zoo, const mz_sparsify_opts *o,
                          mz_error *err)
{
    mz_status st = check_opts(o, err);
    if (st == MZ_OK && o->method == MZ_SPARSE_MAGNITUDE && o->epochs > 0)
        st = mz_fail(err, MZ_EUNSUPPORTED,
                     "magnitude pruning with fine-tuning epochs is not built yet; use --epochs 0");
    source s;
    memset(&s, 0, sizeof s);
    if (st == MZ_OK)
        st = source_open(&s, source_zoo, o, err);
    mz_dataset ds;
    memset(&ds, 0, sizeof ds);
    int have_ds = 0;
    if (st == MZ_OK) {
        st = mz_dataset_load(&ds, s.spec.dataset, o->data_dir && *o->data_dir ? o->data_dir : NULL,
                             s.spec.variant[0] ? s.spec.variant : NULL, err);
        have_ds = st == MZ_OK;
    }
    if (st == MZ_OK && s.spec.train_subset > 0)
        st = mz_dataset_subset_train(&ds, s.spec.train_subset, err);
    twins *t = st == MZ_OK ? calloc(1, sizeof *t) : NULL;
    if (st == MZ_OK && !t)
        st = mz_fail(err, MZ_ENOMEM, "out of memory");
    if (st == MZ_OK) {
        const mz_train_opts *to = &o->train;
        t->pf.backend =
            to->backend ? mz_pop_backend_by_name(to->backend) : mz_pop_backend_default();
        if (!t->pf.backend)
            st =
                mz_fail(err, MZ_EINVAL, "unknown backend '%s' (expected ref or simd)", to->backend);
    }
    if (st == MZ_OK)
        st = build(t, &s, &ds, o, err);
    /* under MPI every rank reads the source and the data: one that cannot stops them all */
    st = mz_dist_check(o->train.dist, st, err);
    if (st == MZ_OK) {
        mz_run r;
        memset(&r, 0, sizeof r);
        r.spec = &t->spec;
        r.ds = &ds;
        r.opts = &o->train;
        r.fs = t;
        r.last_epoch = o->epochs;
        st = mz_drive(&r, &family_twins, twin_zoo, err);
    }
    if (t) {
        t->spec.recipe = NULL; /* owned by t->recipe */
        twins_release_all(t);
        free(t);
    }
    source_release(&s); /* after the run: the twins' model rows point into its rows */
    if (have_ds)
        mz_dataset_release(&ds);
    return st;
}
