/* A zoo file as a weight-space dataset: selection, filters, split by model, streaming.
 *
 * The candidate samples come from the store's selection (mz_store_select: every (model, epoch)
 * row with the truth value of the user's --where expression). The property columns are
 * discovered from the schema (mz_store_columns: the metrics of epochs and the hyperparameters of
 * models), so a zoo written by a newer store with more columns still loads; TEXT columns are
 * categorical, the others numeric. The store is opened read-only.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mzoo/loader.h"
#include "mzoo/store.h"
#include "loader/loader-impl.h"
#include "core/banned.h"

void mz_loader_options_default(mz_loader_options *o)
{
    memset(o, 0, sizeof *o);
    o->with_bias = 1;
    o->drop_nonfinite = 1;
    o->max_abs = INFINITY;
    o->fractions[0] = 0.7;
    o->fractions[1] = 0.15;
    o->fractions[2] = 0.15;
    o->seed = 42;
}

void mz_prop_columns_free(mz_prop_column *cols, int n)
{
    if (!cols)
        return;
    for (int i = 0; i < n; i++) {
        free(cols[i].v);
        for (int l = 0; l < cols[i].n_levels; l++)
            free(cols[i].levels[l]);
        free(cols[i].levels);
    }
    free(cols);
}

/* ---- epoch selections ---- */

mz_status mz_epochs_parse(mz_epoch_sel *s, const char *spec, mz_error *err)
{
    memset(s, 0, sizeof *s);
    if (!spec || !*spec || !strcmp(spec, "all")) {
        s->all = 1;
        return MZ_OK;
    }
    if (!strcmp(spec, "last")) {
        s->last = 1;
        return MZ_OK;
    }
    const char *p = spec;
    while (*p) {
        char *e;
        long lo = strtol(p, &e, 10), hi;
        if (e == p || lo < 0 || lo > 1000000)
            return mz_fail(
                err, MZ_EINVAL,
                "epochs '%s': offset %d: expected an epoch number (all, last, or e.g. 0,5,10-20)",
                spec, (int)(p - spec));
        hi = lo;
        p = e;
        if (*p == '-') {
            p++;
            hi = strtol(p, &e, 10);
            if (e == p || hi < lo || hi > 1000000)
                return mz_fail(err, MZ_EINVAL,
                               "epochs '%s': offset %d: bad range end (expected a number >= %ld)",
                               spec, (int)(p - spec), lo);
            p = e;
        }
        if (*p && *p != ',')
            return mz_fail(err, MZ_EINVAL, "epochs '%s': offset %d: unexpected '%c'", spec,
                           (int)(p - spec), *p);
        if (*p == ',')
            p++;
        if (s->n == MZ_EPOCH_SEL_MAX)
            return mz_fail(err, MZ_ELIMIT, "epochs '%s': more than %d items", spec,
                           MZ_EPOCH_SEL_MAX);
        s->lo[s->n] = (int)lo;
        s->hi[s->n] = (int)hi;
        s->n++;
    }
    if (s->n == 0)
        return mz_fail(err, MZ_EINVAL, "epochs: empty list");
    return MZ_OK;
}

int mz_epochs_match(const mz_epoch_sel *s, int epoch)
{
    if (s->all || s->last)
        return 1;
    for (int i = 0; i < s->n; i++)
        if (epoch >= s->lo[i] && epoch <= s->hi[i])
            return 1;
    return 0;
}

/* ---- the split ---- */

mz_status mz_split_by_model(int64_t n, const double fractions[3], uint64_t seed, int64_t max_models,
                            int8_t *part, mz_error *err)
{
    double sum = fractions[0] + fractions[1] + fractions[2];
    for (int i = 0; i < 3; i++)
        if (!(fractions[i] >= 0 && fractions[i] <= 1))
            return mz_fail(err, MZ_EINVAL, "split: fraction %g is not in [0, 1]", fractions[i]);
    if (fabs(sum - 1.0) > 1e-9)
        return mz_fail(err, MZ_EINVAL, "split: fractions sum to %.12g (expected 1)", sum);
    if (n > (int64_t)UINT32_MAX)
        return mz_fail(err, MZ_ELIMIT, "split: %lld models", (long long)n);
    uint32_t *perm = malloc((size_t)(n ? n : 1) * sizeof *perm);
    if (!perm)
        return mz_fail(err, MZ_ENOMEM, "split: out of memory");
    mz_rng_stream rs = mz_rng_make(seed, MZ_RNG_SPLIT, 0, 0, 0);
    mz_rng_permutation(&rs, perm, (uint32_t)n);
    int64_t m = max_models > 0 && max_models < n ? max_models : n;
    /* The reference: train = [:int(f0 m)], val = [i1 : i1 + int(f1 m)], test = the rest. */
    int64_t n_train = (int64_t)(fractions[0] * (double)m),
            n_val = (int64_t)(fractions[1] * (double)m);
    if (n_train + n_val > m)
        n_val = m - n_train;
    for (int64_t i = 0; i < n; i++)
        part[i] = -1;
    for (int64_t r = 0; r < m; r++)
        part[perm[r]] = (int8_t)(r < n_train           ? MZ_PART_TRAIN
                                 : r < n_train + n_val ? MZ_PART_VAL
                                                       : MZ_PART_TEST);
    free(perm);
    return MZ_OK;
}

/* ---- the loader ---- */

struct mz_loader {
    char path[1024];
    mz_store *st;
    mz_vec_layout layout;
    mz_loader_counts counts;
    int64_t n;
    mz_sample_info *samples;
    int n_props;
    mz_prop_column *props;
    float *params; /* one checkpoint, max over the sources */
    int64_t params_cap;
    float *x;    /* one sample */
    int64_t pos; /* streaming position */
    char epochs_text[256], layers_text[256], where_text[1024];
    mz_loader_options opt;
};

const mz_vec_layout *mz_loader_layout(const mz_loader *L)
{
    return &L->layout;
}
const mz_loader_counts *mz_loader_get_counts(const mz_loader *L)
{
    return &L->counts;
}
int64_t mz_loader_n_samples(const mz_loader *L)
{
    return L->n;
}
const mz_sample_info *mz_loader_samples(const mz_loader *L)
{
    return L->samples;
}
const mz_prop_column *mz_loader_props(const mz_loader *L, int *n_cols)
{
    if (n_cols)
        *n_cols = L->n_props;
    return L->props;
}
const mz_loader_options *mz_loader_get_options(const mz_loader *L)
{
    return &L->opt;
}
const char *mz_loader_path(const mz_loader *L)
{
    return L->path;
}

void mz_loader_close(mz_loader *L)
{
    if (!L)
        return;
    mz_store_close(L->st);
    mz_vec_layout_release(&L->layout);
    free(L->samples);
    mz_prop_columns_free(L->props, L->n_props);
    free(L->params);
    free(L->x);
    free(L);
}

typedef struct cand {
    int64_t model_id;
    int epoch;
    int source;
} cand;

/* Growable arrays for pass 1. */
typedef struct grow {
    cand *c;
    double *vals; /* [n][n_cols] numeric value or level id (categorical, resolved later) */
    int64_t n, cap;
} grow;

/* String interning for categorical columns. */
typedef struct strtab {
    char **s;
    int n, cap;
} strtab;

static int strtab_id(strtab *t, const char *v)
{
    for (int i = 0; i < t->n; i++)
        if (!strcmp(t->s[i], v))
            return i;
    if (t->n == t->cap) {
        int nc = t->cap ? 2 * t->cap : 8;
        char **ns = realloc(t->s, (size_t)nc * sizeof *ns);
        if (!ns)
            return -1;
        t->s = ns;
        t->cap = nc;
    }
    t->s[t->n] = mz_strdup(v);
    return t->s[t->n] ? t->n++ : -1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The property columns, in the documented order, aligned with L->samples (rowof maps a sample
 * to its row of vals). */
static mz_status build_props(mz_loader *L, const mz_store_column *cols, int ncols, strtab *tabs,
                             const double *vals, const int64_t *rowof, mz_error *err)
{
    static const char *const first[] = {"test_acc",  "val_acc",  "train_acc",  "ggap",
                                        "test_loss", "val_loss", "train_loss", "epoch"};
    const int nfirst = (int)(sizeof first / sizeof first[0]);
    int order[96 + 8], n_order = 0; /* >= 0: column index; -1: ggap; -2: epoch */
    int col_of[8];
    for (int k = 0; k < nfirst; k++) {
        col_of[k] = -100;
        for (int i = 0; i < ncols; i++)
            if (cols[i].table == 'e' && !strcmp(cols[i].name, first[k]))
                col_of[k] = i;
    }
    int i_train = col_of[2], i_test = col_of[0];
    for (int k = 0; k < nfirst; k++) {
        if (!strcmp(first[k], "ggap")) {
            if (i_train >= 0 && i_test >= 0)
                order[n_order++] = -1;
        } else if (!strcmp(first[k], "epoch")) {
            order[n_order++] = -2;
        } else if (col_of[k] >= 0) {
            order[n_order++] = col_of[k];
        }
    }
    for (int i = 0; i < ncols; i++) {
        int listed = 0;
        for (int k = 0; k < nfirst; k++)
            listed |= col_of[k] == i;
        if (!listed)
            order[n_order++] = i;
    }
    mz_prop_column *pc = calloc((size_t)n_order, sizeof *pc);
    if (!pc)
        return mz_fail(err, MZ_ENOMEM, "out of memory");
    L->props = pc;
    L->n_props = n_order;
    int64_t n = L->n, stride = ncols + 1;
    for (int c = 0; c < n_order; c++) {
        mz_prop_column *p = &pc[c];
        int src = order[c];
        p->v = malloc((size_t)(n ? n : 1) * sizeof *p->v);
        if (!p->v)
            return mz_fail(err, MZ_ENOMEM, "out of memory");
        if (src == -1) {
            snprintf(p->name, sizeof p->name, "ggap");
            for (int64_t r = 0; r < n; r++)
                p->v[r] = vals[rowof[r] * stride + i_train] - vals[rowof[r] * stride + i_test];
            continue;
        }
        if (src == -2) {
            snprintf(p->name, sizeof p->name, "epoch");
            for (int64_t r = 0; r < n; r++)
                p->v[r] = L->samples[r].epoch;
            continue;
        }
        snprintf(p->name, sizeof p->name, "%s", cols[src].name);
        if (!cols[src].categorical) {
            for (int64_t r = 0; r < n; r++)
                p->v[r] = vals[rowof[r] * stride + src];
            continue;
        }
        /* categorical: levels sorted by strcmp (np.unique order); remap the interned ids */
        p->kind = MZ_PROP_CATEGORICAL;
        strtab *t = &tabs[src];
        p->levels = malloc((size_t)(t->n ? t->n : 1) * sizeof *p->levels);
        int *remap = malloc((size_t)(t->n ? t->n : 1) * sizeof *remap);
        if (!p->levels || !remap) {
            free(remap);
            return mz_fail(err, MZ_ENOMEM, "out of memory");
        }
        for (int k = 0; k < t->n; k++) {
            p->levels[k] = mz_strdup(t->s[k]);
            if (!p->levels[k]) {
                free(remap);
                return mz_fail(err, MZ_ENOMEM, "out of memory");
            }
            p->n_levels++;
        }
        qsort(p->levels, (size_t)p->n_levels, sizeof *p->levels, cmp_str);
        for (int k = 0; k < t->n; k++)
            for (int j = 0; j < p->n_levels; j++)
                if (!strcmp(t->s[k], p->levels[j]))
                    remap[k] = j;
        for (int64_t r = 0; r < n; r++) {
            double v = vals[rowof[r] * stride + src];
            p->v[r] = isnan(v) ? NAN : remap[(int)v];
        }
        free(remap);
    }
    return MZ_OK;
}

/* Pass 1: one callback per candidate row of the selection. */
typedef struct pass1 {
    mz_loader *L;
    const mz_epoch_sel *es;
    const mz_store_column *cols;
    int ncols; /* property columns; cols[ncols] is epochs.weights_absmax when absmax_col */
    int absmax_col;
    grow g;
    strtab tabs[96];
    char last_variant[64];
    int last_source;
    int64_t rows;                        /* (model, epoch) rows seen, before any selection */
    int min_epoch, max_epoch;            /* of those rows */
    unsigned char hit[MZ_EPOCH_SEL_MAX]; /* items of an epoch list that matched a row */
    mz_status st;
    mz_error *err;
} pass1;

/* Filters on the weights: 1 to keep the sample. */
static int keep_weights(pass1 *p, int64_t mid, int epoch)
{
    mz_loader *L = p->L;
    const mz_loader_options *o = &L->opt;
    const mz_vec_source *src = &L->layout.sources[p->last_source];
    if ((p->st = mz_store_read_weights(L->st, mid, epoch, L->params, src->n_params, p->err)) !=
        MZ_OK)
        return 0;
    mz_vec_extract(&L->layout, p->last_source, L->params, L->x);
    /* branch-free, so that it vectorises: NaN fails both comparisons; Inf passes a > max_abs
     * exactly when max_abs is finite, as the reference's abs(w) > t test */
    int nonfinite = 0, big = 0;
    float t = (float)o->max_abs; /* the largest float <= max_abs: a > t exactly when a > max_abs */
    if ((double)t > o->max_abs)
        t = nextafterf(t, 0.0f);
    const float *x = L->x;
    for (int64_t j = 0; j < L->layout.dim; j++) {
        float a = fabsf(x[j]);
        nonfinite |= !(a <= FLT_MAX);
        big |= a > t;
    }
    if (nonfinite && o->drop_nonfinite) {
        L->counts.dropped_nonfinite++;
        return 0;
    }
    if (big) {
        L->counts.dropped_max_abs++;
        return 0;
    }
    return 1;
}

static int on_candidate(void *ctx, int64_t mid, int epoch, const char *variant, int keep,
                        const mz_store_value *vals)
{
    pass1 *p = ctx;
    mz_loader *L = p->L;
    const mz_loader_options *o = &L->opt;
    if (p->rows == 0 || epoch < p->min_epoch)
        p->min_epoch = epoch;
    if (p->rows == 0 || epoch > p->max_epoch)
        p->max_epoch = epoch;
    p->rows++;
    if (!mz_epochs_match(p->es, epoch))
        return 0;
    for (int i = 0; i < p->es->n; i++)
        if (epoch >= p->es->lo[i] && epoch <= p->es->hi[i])
            p->hit[i] = 1;
    L->counts.candidates++;
    if (!keep) {
        L->counts.dropped_where++;
        return 0;
    }
    if (strcmp(variant, p->last_variant) != 0) {
        p->last_source = -1;
        for (int s = 0; s < L->layout.n_sources; s++)
            if (!strcmp(L->layout.sources[s].variant, variant))
                p->last_source = s;
        if (p->last_source < 0) {
            p->st = mz_fail(p->err, MZ_EFORMAT,
                            "%s: model %lld: layout variant '%s' has no layout rows", L->path,
                            (long long)mid, variant);
            return 1;
        }
        snprintf(p->last_variant, sizeof p->last_variant, "%s", variant);
    }
    if (o->drop_nonfinite || isfinite(o->max_abs)) {
        /* the blob's stored absmax, when known, keeps a sample without reading its weights:
         * the selected (and pruned) weights are a subset of the blob */
        const mz_store_value *am = p->absmax_col ? &vals[p->ncols] : NULL;
        int pass = am && !am->null && am->num <= o->max_abs && am->num <= FLT_MAX;
        if (!pass && !keep_weights(p, mid, epoch))
            return p->st != MZ_OK;
    }
    grow *g = &p->g;
    if (g->n == g->cap) {
        int64_t nc = g->cap ? 2 * g->cap : 1024;
        cand *c2 = realloc(g->c, (size_t)nc * sizeof *c2);
        if (c2)
            g->c = c2;
        double *v2 = c2 ? realloc(g->vals, (size_t)(nc * (p->ncols + 1)) * sizeof *v2) : NULL;
        if (!c2 || !v2) {
            p->st = mz_fail(p->err, MZ_ENOMEM, "out of memory selecting samples");
            return 1;
        }
        g->vals = v2;
        g->cap = nc;
    }
    g->c[g->n].model_id = mid;
    g->c[g->n].epoch = epoch;
    g->c[g->n].source = p->last_source;
    double *v = g->vals + g->n * (p->ncols + 1);
    for (int i = 0; i < p->ncols; i++) {
        if (vals[i].null) {
            v[i] = NAN;
        } else if (p->cols[i].categorical) {
            int id = strtab_id(&p->tabs[i], vals[i].text ? vals[i].text : "");
            if (id < 0) {
                p->st = mz_fail(p->err, MZ_ENOMEM, "out of memory");
                return 1;
            }
            v[i] = id;
        } else {
            v[i] = vals[i].num;
        }
    }
    g->n++;
    return 0;
}

/* Pass 1 and the split; fills L->samples and L->props. */
static mz_status select_samples(mz_loader *L, mz_error *err)
{
    const mz_loader_options *o = &L->opt;
    mz_status st = MZ_OK;
    mz_epoch_sel es;
    if ((st = mz_epochs_parse(&es, o->epochs, err)) != MZ_OK)
        return st;

    /* property columns: metrics of epochs, then the models' hyperparameters */
    mz_store_column cols[97];
    int ncols = 0;
    if ((st = mz_store_columns(L->st, cols, 96, &ncols, err)) != MZ_OK)
        return st;
    int absmax_col = mz_store_has_absmax(L->st);
    if (absmax_col)
        cols[ncols] = (mz_store_column){'e', "weights_absmax", 0};
    pass1 *p = calloc(1, sizeof *p);
    if (!p)
        return mz_fail(err, MZ_ENOMEM, "out of memory");
    p->L = L;
    p->es = &es;
    p->cols = cols;
    p->ncols = ncols;
    p->absmax_col = absmax_col;
    p->last_source = -1;
    p->err = err;
    mz_store_selection sel = {o->where, es.last, cols, ncols + absmax_col, 0};
    st = mz_store_select(L->st, &sel, on_candidate, p, err);
    if (st == MZ_OK)
        st = p->st;
    /* an epoch the zoo does not have is a mistake, not an empty selection */
    for (int i = 0; st == MZ_OK && p->rows > 0 && i < es.n; i++) {
        if (p->hit[i])
            continue;
        char item[48];
        if (es.lo[i] == es.hi[i])
            snprintf(item, sizeof item, "epoch %d is", es.lo[i]);
        else
            snprintf(item, sizeof item, "epochs %d-%d are", es.lo[i], es.hi[i]);
        st = mz_fail(err, MZ_EINVAL,
                     "%s: --epochs '%s': %s in no model of the zoo (its checkpoints are of "
                     "epochs %d to %d)",
                     L->path, o->epochs, item, p->min_epoch, p->max_epoch);
    }
    grow g = p->g;
    strtab *tabs = p->tabs;

    /* split the models that kept a sample */
    int64_t n_models = 0;
    int8_t *part = NULL;
    int64_t *model_of = NULL;
    if (st == MZ_OK) {
        model_of = malloc((size_t)(g.n ? g.n : 1) * sizeof *model_of);
        part = malloc((size_t)(g.n ? g.n : 1));
        if (!model_of || !part)
            st = mz_fail(err, MZ_ENOMEM, "out of memory");
    }
    if (st == MZ_OK) {
        for (int64_t i = 0; i < g.n; i++) {
            if (i == 0 || g.c[i].model_id != g.c[i - 1].model_id)
                n_models++;
            model_of[i] = n_models - 1;
        }
        st = mz_split_by_model(n_models, o->fractions, o->seed, o->max_models, part, err);
    }
    if (st == MZ_OK) {
        int64_t kept = 0;
        for (int64_t i = 0; i < g.n; i++)
            if (part[model_of[i]] >= 0)
                kept++;
            else
                L->counts.dropped_max_models++;
        L->samples = calloc((size_t)(kept ? kept : 1), sizeof *L->samples);
        int64_t *rowof = malloc((size_t)(kept ? kept : 1) * sizeof *rowof);
        if (!L->samples || !rowof) {
            free(rowof);
            st = mz_fail(err, MZ_ENOMEM, "out of memory");
        } else {
            /* part-major, then (model, epoch) as the query's order */
            int64_t w = 0;
            for (int p = 0; p < MZ_N_PARTS; p++)
                for (int64_t i = 0; i < g.n; i++)
                    if (part[model_of[i]] == p) {
                        mz_sample_info *s = &L->samples[w];
                        s->model_id = g.c[i].model_id;
                        s->epoch = g.c[i].epoch;
                        s->part = (mz_part)p;
                        s->source = g.c[i].source;
                        rowof[w++] = i;
                        L->counts.part_samples[p]++;
                    }
            for (int64_t i = 0; i < n_models; i++)
                if (part[i] >= 0)
                    L->counts.models[part[i]]++;
            L->n = kept;
            L->counts.samples = kept;
            st = build_props(L, cols, ncols, tabs, g.vals, rowof, err);
            free(rowof);
        }
    }
    for (int i = 0; i < 96; i++) {
        for (int k = 0; k < tabs[i].n; k++)
            free(tabs[i].s[k]);
        free(tabs[i].s);
    }
    free(g.c);
    free(g.vals);
    free(part);
    free(model_of);
    free(p);
    return st;
}

/* The layout map from every variant's layout rows, variants in order of their first model. */
static mz_status build_layout(mz_loader *L, mz_error *err)
{
    char **names = NULL;
    int nv = 0;
    mz_status st = mz_store_variants(L->st, &names, &nv, err);
    mz_tensor_desc **tensors = calloc((size_t)(nv ? nv : 1), sizeof *tensors);
    int *counts = calloc((size_t)(nv ? nv : 1), sizeof *counts);
    if (st == MZ_OK && (!tensors || !counts))
        st = mz_fail(err, MZ_ENOMEM, "out of memory");
    for (int i = 0; i < nv && st == MZ_OK; i++)
        st = mz_store_layout(L->st, names[i], &tensors[i], &counts[i], NULL, err);
    if (st == MZ_OK && nv == 0)
        st = mz_fail(err, MZ_EFORMAT, "%s: the zoo has no models", L->path);
    if (st == MZ_OK && (st = mz_vec_layout_build(&L->layout, nv, (const char *const *)names,
                                                 (const mz_tensor_desc *const *)tensors, counts,
                                                 L->opt.layers, L->opt.with_bias, err)))
        mz_error_prefix(err, "%s", L->path); /* the store's messages name the file already */
    for (int i = 0; i < nv; i++) {
        free(names[i]);
        if (tensors)
            free(tensors[i]);
    }
    free(names);
    free(tensors);
    free(counts);
    if (st != MZ_OK)
        return st;
    L->layout.prune = !L->opt.dense;
    L->params_cap = 0;
    for (int s = 0; s < L->layout.n_sources; s++)
        if (L->layout.sources[s].n_params > L->params_cap)
            L->params_cap = L->layout.sources[s].n_params;
    L->params = malloc((size_t)(L->params_cap ? L->params_cap : 1) * sizeof *L->params);
    L->x = malloc((size_t)(L->layout.dim ? L->layout.dim : 1) * sizeof *L->x);
    if (!L->params || !L->x)
        return mz_fail(err, MZ_ENOMEM, "out of memory");
    return MZ_OK;
}

static void copy_opt_text(char *dst, size_t cap, const char **field)
{
    if (*field) {
        snprintf(dst, cap, "%s", *field);
        *field = dst;
    }
}

mz_status mz_loader_open(mz_loader **out, const char *zoo_path, const mz_loader_options *opt,
                         mz_error *err)
{
    *out = NULL;
    mz_loader *L = calloc(1, sizeof *L);
    if (!L)
        return mz_fail(err, MZ_ENOMEM, "out of memory");
    snprintf(L->path, sizeof L->path, "%s", zoo_path);
    if (opt)
        L->opt = *opt;
    else
        mz_loader_options_default(&L->opt);
    /* the options own copies of their strings */
    copy_opt_text(L->epochs_text, sizeof L->epochs_text, &L->opt.epochs);
    copy_opt_text(L->layers_text, sizeof L->layers_text, &L->opt.layers);
    if (L->opt.where && strlen(L->opt.where) >= sizeof L->where_text) {
        free(L);
        return mz_fail(err, MZ_ELIMIT, "--where: expression longer than %zu bytes",
                       sizeof L->where_text - 1);
    }
    copy_opt_text(L->where_text, sizeof L->where_text, &L->opt.where);
    if (L->opt.where && !*L->opt.where)
        L->opt.where = NULL;
    mz_status st = mz_store_open(&L->st, zoo_path, MZ_STORE_READ, err);
    /* one snapshot for the selection and every read after it */
    if (st == MZ_OK)
        st = mz_store_read_begin(L->st, err);
    if (st == MZ_OK)
        st = build_layout(L, err);
    if (st == MZ_OK) {
        mz_store_summary sum;
        st = mz_store_summary_get(L->st, &sum, err);
        L->counts.models_in_zoo = sum.n_models;
    }
    if (st == MZ_OK)
        st = select_samples(L, err);
    if (st != MZ_OK) {
        mz_loader_close(L);
        return st;
    }
    *out = L;
    return MZ_OK;
}

mz_status mz_loader_read(mz_loader *L, int64_t i, float *x, mz_error *err)
{
    if (i < 0 || i >= L->n)
        return mz_fail(err, MZ_EINVAL, "sample %lld out of range [0, %lld)", (long long)i,
                       (long long)L->n);
    const mz_sample_info *s = &L->samples[i];
    const mz_vec_source *src = &L->layout.sources[s->source];
    mz_status st =
        mz_store_read_weights(L->st, s->model_id, s->epoch, L->params, src->n_params, err);
    if (st != MZ_OK)
        return st;
    mz_vec_extract(&L->layout, s->source, L->params, x);
    return MZ_OK;
}

mz_status mz_loader_next(mz_loader *L, const float **x, const mz_sample_info **info, mz_error *err)
{
    *x = NULL;
    if (info)
        *info = NULL;
    if (L->pos >= L->n)
        return MZ_OK;
    mz_status st = mz_loader_read(L, L->pos, L->x, err);
    if (st != MZ_OK)
        return st;
    *x = L->x;
    if (info)
        *info = &L->samples[L->pos];
    L->pos++;
    return MZ_OK;
}

void mz_loader_rewind(mz_loader *L)
{
    L->pos = 0;
}

void mz_wset_release(mz_wset *w)
{
    if (!w)
        return;
    free(w->x);
    free(w->samples);
    mz_vec_layout_release(&w->layout);
    mz_prop_columns_free(w->props, w->n_props);
    memset(w, 0, sizeof *w);
}

/* Deep copy of the property columns. */
mz_status mz_props_copy(const mz_prop_column *src, int n_cols, int64_t n, mz_prop_column **out,
                        mz_error *err)
{
    *out = calloc((size_t)(n_cols ? n_cols : 1), sizeof **out);
    if (!*out)
        return mz_fail(err, MZ_ENOMEM, "out of memory");
    for (int c = 0; c < n_cols; c++) {
        mz_prop_column *d = &(*out)[c];
        *d = src[c];
        d->v = malloc((size_t)(n ? n : 1) * sizeof *d->v);
        d->levels = src[c].n_levels ? calloc((size_t)src[c].n_levels, sizeof *d->levels) : NULL;
        d->n_levels = 0;
        if (!d->v || (src[c].n_levels && !d->levels)) {
            mz_prop_columns_free(*out, c + 1);
            *out = NULL;
            return mz_fail(err, MZ_ENOMEM, "out of memory");
        }
        memcpy(d->v, src[c].v, (size_t)n * sizeof *d->v);
        for (int l = 0; l < src[c].n_levels; l++) {
            d->levels[l] = mz_strdup(src[c].levels[l]);
            if (!d->levels[l]) {
                mz_prop_columns_free(*out, c + 1);
                *out = NULL;
                return mz_fail(err, MZ_ENOMEM, "out of memory");
            }
            d->n_levels++;
        }
    }
    return MZ_OK;
}

mz_status mz_loader_load_all(mz_loader *L, mz_wset *out, int64_t max_bytes, mz_error *err)
{
    memset(out, 0, sizeof *out);
    int64_t dim = L->layout.dim;
    if (max_bytes > 0 && L->n > 0 && dim > max_bytes / 4 / L->n)
        return mz_fail(err, MZ_ELIMIT,
                       "%s: %lld samples of %lld floats exceed the memory cap of %lld bytes",
                       L->path, (long long)L->n, (long long)dim, (long long)max_bytes);
    out->x = malloc((size_t)((L->n ? L->n : 1) * dim) * sizeof *out->x);
    out->samples = malloc((size_t)(L->n ? L->n : 1) * sizeof *out->samples);
    if (!out->x || !out->samples) {
        mz_wset_release(out);
        return mz_fail(err, MZ_ENOMEM, "%s: out of memory for %lld samples of %lld floats", L->path,
                       (long long)L->n, (long long)dim);
    }
    out->n = L->n;
    out->dim = dim;
    memcpy(out->samples, L->samples, (size_t)L->n * sizeof *out->samples);
    mz_status st = MZ_OK;
    for (int64_t i = 0; i < L->n && st == MZ_OK; i++)
        st = mz_loader_read(L, i, out->x + i * dim, err);
    out->layout = L->layout;
    out->layout.sources = NULL;
    out->layout.n_sources = 0;
    if (st == MZ_OK)
        st = mz_props_copy(L->props, L->n_props, L->n, &out->props, err);
    if (st == MZ_OK)
        out->n_props = L->n_props;
    if (st != MZ_OK)
        mz_wset_release(out);
    return st;
}
