/* The zoo spec: parsing and validating the JSON recipe, expanding its grid into model specs, and
 * the canonical recipe string that identifies a zoo (include/mzoo/spec.h describes the format). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mzoo/data.h"
#include "mzoo/formats.h"
#include "mzoo/spec.h"
#include "core/hparams-impl.h"
#include "core/banned.h"

/* A larger grid is almost certainly a typo: the largest published zoos hold tens of thousands of
 * models. The bound keeps what a spec can cost before training starts small: a million model
 * specs are 72 MB and their rows in a new zoo file about 80 MB, written in seconds (ten million
 * took 2.3 GB of memory and minutes of writing before the first epoch). */
#define MAX_MODELS 1000000
#define MAX_EPOCHS 100000
#define MAX_BATCH 1000000
#define MAX_SPEC_BYTES (64 << 20)
#define RANDOM_SEED_RANGE 1000000 /* the reference's tune.randint(0, 1000000) */

/* ---- name tables (the hyperparameters' are in core/hparams.c) ---- */

static const char *const architecture_names[] = {"cnn-s", "cnn-l", "resnet18"};
#define N_ARCHITECTURES 3

static int index_of(const char *const *names, int n, const char *s)
{
    for (int i = 0; s && i < n; i++)
        if (!strcmp(names[i], s))
            return i;
    return -1;
}

/* "a, b, c" into buf. */
static const char *join(const char *const *names, int n, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%s", i ? ", " : "", names[i]);
    return buf;
}

void mz_spec_release(mz_spec *spec)
{
    if (!spec)
        return;
    free(spec->recipe);
    free(spec->models);
    memset(spec, 0, sizeof *spec);
}

/* ---- parsing context and messages ---- */

typedef struct pctx {
    const char *origin;
    mz_error *err;
} pctx;

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static mz_status
bad(const pctx *c, const char *path, const char *fmt, ...)
{
    char what[800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return mz_fail(c->err, MZ_ESPEC, "%s: %s: %s", c->origin, path, what);
}

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "a list";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a real number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "?";
}

static mz_status wrong_type(const pctx *c, const char *path, const json_t *v, const char *expect)
{
    return bad(c, path, "wrong type: got %s (expected %s)", type_name(v), expect);
}

/* Rejects keys of object `o` (at `path`, "" for the top level) not in `allowed`. */
static mz_status check_keys(const pctx *c, const json_t *o, const char *path,
                            const char *const *allowed, int n_allowed)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)o, key, v)
    {
        if (index_of(allowed, n_allowed, key) < 0) {
            char where[160], list[256];
            snprintf(where, sizeof where, "%s%s%.80s", path, path[0] ? "." : "", key);
            return bad(c, where, "unknown key (allowed keys: %s)",
                       join(allowed, n_allowed, list, sizeof list));
        }
    }
    return MZ_OK;
}

static mz_status get_string(const pctx *c, const json_t *v, const char *path, const char **out)
{
    if (!json_is_string(v))
        return wrong_type(c, path, v, "a string");
    *out = json_string_value(v);
    return MZ_OK;
}

static mz_status get_int(const pctx *c, const json_t *v, const char *path, json_int_t lo,
                         json_int_t hi, const char *expect, json_int_t *out)
{
    if (!json_is_integer(v))
        return wrong_type(c, path, v, expect);
    json_int_t x = json_integer_value(v);
    if (x < lo || x > hi)
        return bad(c, path, "%lld is out of range (expected %s)", (long long)x, expect);
    *out = x;
    return MZ_OK;
}

/* ---- the grid ---- */

enum { G_ACT, G_INIT, G_OPT, G_LR, G_WD, G_DROPOUT, G_MOM, G_NEST, G_SEED, G_COUNT };
/* Index order = expansion order (activation outermost, seed innermost). */
static const char *const grid_keys[G_COUNT] = {"activation", "init",         "optimizer",
                                               "lr",         "weight_decay", "dropout",
                                               "momentum",   "nesterov",     "seed"};

typedef enum { K_NAME, K_REAL, K_BOOL } key_kind;

typedef struct key_def {
    key_kind kind;
    const char *const *names; /* K_NAME */
    int n_names;
    double lo, hi; /* K_REAL: valid iff lo <(=) x <(=) hi */
    int lo_open, hi_open;
    const char *expect; /* one value, for messages */
    double dflt;
} key_def;

static const key_def key_defs[G_SEED] = {
    [G_ACT] = {K_NAME, mz_activation_names_, MZ_ACT_COUNT, 0, 0, 0, 0, "an activation name",
               MZ_ACT_TANH},
    [G_INIT] = {K_NAME, mz_init_names_, MZ_INIT_COUNT, 0, 0, 0, 0, "an init name", MZ_INIT_UNIFORM},
    [G_OPT] = {K_NAME, mz_optimizer_names_, MZ_OPT_COUNT, 0, 0, 0, 0, "an optimizer name", MZ_OPT_ADAM},
    [G_LR] = {K_REAL, NULL, 0, 0, HUGE_VAL, 1, 1, "a finite number > 0", 3e-4},
    [G_WD] = {K_REAL, NULL, 0, 0, HUGE_VAL, 0, 1, "a finite number >= 0", 0},
    [G_DROPOUT] = {K_REAL, NULL, 0, 0, 1, 0, 1, "a number p with 0 <= p < 1", 0},
    [G_MOM] = {K_REAL, NULL, 0, 0, HUGE_VAL, 0, 1, "a finite number >= 0", 0},
    [G_NEST] = {K_BOOL, NULL, 0, 0, 0, 0, 0, "true or false", 0},
};
static const char *const key_what[G_SEED] = {"activation", "init", "optimizer"};

typedef struct vlist {
    double *v; /* enum index, 0/1, or the number */
    int64_t n;
} vlist;

enum { SEEDS_LIST, SEEDS_RANGE, SEEDS_RANDOM };
typedef struct seeds {
    int kind;
    int64_t *list, n_list; /* SEEDS_LIST */
    int64_t a, b;          /* SEEDS_RANGE, inclusive */
    int64_t n_random;      /* SEEDS_RANDOM */
    int64_t master;
    uint64_t count;
} seeds;

typedef struct grid {
    vlist v[G_SEED];
    seeds s;
} grid;

static void grid_release(grid *g)
{
    for (int k = 0; k < G_SEED; k++)
        free(g->v[k].v);
    free(g->s.list);
}

static mz_status parse_value(const pctx *c, int k, const json_t *v, const char *path, int single,
                             double *out)
{
    const key_def *d = &key_defs[k];
    char expect[160];
    snprintf(expect, sizeof expect, "%s%s", d->expect,
             single ? ", or a non-empty list of them" : "");
    if (d->kind == K_NAME) {
        if (!json_is_string(v))
            return wrong_type(c, path, v, expect);
        int i = index_of(d->names, d->n_names, json_string_value(v));
        if (i < 0) {
            char list[256];
            return bad(c, path, "unknown %s \"%.60s\" (expected one of %s)", key_what[k],
                       json_string_value(v), join(d->names, d->n_names, list, sizeof list));
        }
        *out = i;
    } else if (d->kind == K_BOOL) {
        if (!json_is_boolean(v))
            return wrong_type(c, path, v, expect);
        *out = json_is_true(v) ? 1 : 0;
    } else {
        if (!json_is_number(v))
            return wrong_type(c, path, v, expect);
        double x = json_number_value(v) + 0.0; /* + 0.0: -0 becomes 0 */
        if (!isfinite(x) || (d->lo_open ? !(x > d->lo) : !(x >= d->lo)) ||
            (d->hi_open ? !(x < d->hi) : !(x <= d->hi))) {
            char num[32];
            mz_format_double(num, sizeof num, x);
            return bad(c, path, "%s is out of range (expected %s)", num, d->expect);
        }
        *out = x;
    }
    return MZ_OK;
}

/* Finds a repeated value in keys[0..n-1]: sets *dup to the smallest index whose value occurs
 * earlier, and *first to that earlier index. Returns 0 if none, -1 on allocation failure. */
typedef struct keyed {
    uint64_t key;
    int64_t i;
} keyed;

static int cmp_keyed(const void *pa, const void *pb)
{
    const keyed *a = pa, *b = pb;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    return a->i < b->i ? -1 : a->i > b->i;
}

static int find_duplicate(const uint64_t *keys, int64_t n, int64_t *dup, int64_t *first)
{
    if (n < 2)
        return 0;
    keyed *t = malloc((size_t)n * sizeof *t);
    if (!t)
        return -1;
    for (int64_t i = 0; i < n; i++)
        t[i] = (keyed){keys[i], i};
    qsort(t, (size_t)n, sizeof *t, cmp_keyed);
    int found = 0;
    for (int64_t i = 1; i < n; i++)
        if (t[i].key == t[i - 1].key && (!found || t[i].i < *dup)) {
            *dup = t[i].i;
            *first = t[i - 1].i;
            found = 1;
        }
    free(t);
    return found;
}

static mz_status no_duplicates(const pctx *c, const char *key, const uint64_t *keys, int64_t n,
                               const char *const *show, const double *vals, const int64_t *ints)
{
    int64_t dup = 0, first = 0;
    int r = find_duplicate(keys, n, &dup, &first);
    if (r < 0)
        return mz_fail(c->err, MZ_ENOMEM, "%s: out of memory", c->origin);
    if (r == 0)
        return MZ_OK;
    char path[96], val[64];
    snprintf(path, sizeof path, "grid.%s[%lld]", key, (long long)dup);
    if (show)
        snprintf(val, sizeof val, "\"%s\"", show[(int)vals[dup]]);
    else if (vals)
        mz_format_double(val, sizeof val, vals[dup]);
    else
        snprintf(val, sizeof val, "%lld", (long long)ints[dup]);
    return bad(c, path,
               "duplicate value %s (already at grid.%s[%lld]; it would train the same "
               "models twice)",
               val, key, (long long)first);
}

static mz_status parse_key(const pctx *c, int k, const json_t *v, vlist *out)
{
    const char *key = grid_keys[k];
    char path[96];
    if (!v) {
        out->v = malloc(sizeof *out->v);
        if (!out->v)
            return mz_fail(c->err, MZ_ENOMEM, "%s: out of memory", c->origin);
        out->v[0] = key_defs[k].dflt;
        out->n = 1;
        return MZ_OK;
    }
    int single = !json_is_array(v);
    int64_t n = single ? 1 : (int64_t)json_array_size(v);
    snprintf(path, sizeof path, "grid.%s", key);
    if (n == 0)
        return bad(c, path, "empty list (expected %s, or a non-empty list of them)",
                   key_defs[k].expect);
    out->v = malloc((size_t)n * sizeof *out->v);
    uint64_t *bits = malloc((size_t)n * sizeof *bits);
    mz_status st = MZ_OK;
    if (!out->v || !bits)
        st = mz_fail(c->err, MZ_ENOMEM, "%s: out of memory", c->origin);
    for (int64_t i = 0; st == MZ_OK && i < n; i++) {
        if (!single)
            snprintf(path, sizeof path, "grid.%s[%lld]", key, (long long)i);
        st = parse_value(c, k, single ? v : json_array_get(v, (size_t)i), path, single, &out->v[i]);
        if (st == MZ_OK)
            memcpy(&bits[i], &out->v[i], sizeof bits[i]); /* no NaN, no -0: bits identify */
    }
    out->n = n;
    if (st == MZ_OK)
        st = no_duplicates(c, key, bits, n, key_defs[k].kind == K_NAME ? key_defs[k].names : NULL,
                           out->v, NULL);
    free(bits);
    return st;
}

#define SEED_FORMS                                                                                 \
    "an integer seed >= 0, a non-empty list of them, {\"range\": [A, B]} or {\"random\": N, "      \
    "\"master_seed\": S}"

static mz_status parse_seed_int(const pctx *c, const json_t *v, const char *path, int64_t *out)
{
    json_int_t x = 0;
    mz_status st = get_int(c, v, path, 0, INT64_MAX, "an integer >= 0", &x);
    *out = (int64_t)x;
    return st;
}

static mz_status parse_seeds(const pctx *c, const json_t *v, seeds *s)
{
    mz_status st;
    char path[96];
    memset(s, 0, sizeof *s);
    s->kind = SEEDS_LIST;
    if (!v || json_is_integer(v)) {
        s->list = malloc(sizeof *s->list);
        if (!s->list)
            return mz_fail(c->err, MZ_ENOMEM, "%s: out of memory", c->origin);
        s->n_list = 1;
        s->count = 1;
        s->list[0] = 1;
        return v ? parse_seed_int(c, v, "grid.seed", &s->list[0]) : MZ_OK;
    }
    if (json_is_array(v)) {
        int64_t n = (int64_t)json_array_size(v);
        if (n == 0)
            return bad(c, "grid.seed", "empty list (expected " SEED_FORMS ")");
        s->list = malloc((size_t)n * sizeof *s->list);
        if (!s->list)
            return mz_fail(c->err, MZ_ENOMEM, "%s: out of memory", c->origin);
        s->n_list = n;
        s->count = (uint64_t)n;
        for (int64_t i = 0; i < n; i++) {
            snprintf(path, sizeof path, "grid.seed[%lld]", (long long)i);
            if ((st = parse_seed_int(c, json_array_get(v, (size_t)i), path, &s->list[i])))
                return st;
        }
        /* seeds are >= 0, so their values order like their uint64 images */
        return no_duplicates(c, "seed", (const uint64_t *)(const void *)s->list, n, NULL, NULL,
                             s->list);
    }
    if (!json_is_object(v))
        return wrong_type(c, "grid.seed", v, SEED_FORMS);

    json_t *range = json_object_get(v, "range");
    if (range) {
        static const char *const allowed[] = {"range"};
        if ((st = check_keys(c, v, "grid.seed", allowed, 1)))
            return st;
        if (!json_is_array(range) || json_array_size(range) != 2) {
            char got[48];
            if (json_is_array(range))
                snprintf(got, sizeof got, "a list of %zu items", json_array_size(range));
            else
                snprintf(got, sizeof got, "%s", type_name(range));
            return bad(c, "grid.seed.range",
                       "wrong type: got %s (expected [A, B], two integers >= 0 with A <= B)", got);
        }
        if ((st = parse_seed_int(c, json_array_get(range, 0), "grid.seed.range[0]", &s->a)) ||
            (st = parse_seed_int(c, json_array_get(range, 1), "grid.seed.range[1]", &s->b)))
            return st;
        if (s->a > s->b)
            return bad(c, "grid.seed.range", "[%lld, %lld] is empty (expected [A, B] with A <= B)",
                       (long long)s->a, (long long)s->b);
        s->kind = SEEDS_RANGE;
        s->count = (uint64_t)(s->b - s->a) + 1;
        return MZ_OK;
    }
    if (json_object_get(v, "random")) {
        static const char *const allowed[] = {"random", "master_seed"};
        if ((st = check_keys(c, v, "grid.seed", allowed, 2)))
            return st;
        json_int_t n = 0;
        if ((st = get_int(c, json_object_get(v, "random"), "grid.seed.random", 1, INT64_MAX,
                          "an integer N >= 1, the number of random seeds", &n)))
            return st;
        json_t *m = json_object_get(v, "master_seed");
        if (!m)
            return bad(c, "grid.seed.master_seed",
                       "missing (random seeds are drawn from a recorded master seed: "
                       "{\"random\": N, \"master_seed\": S})");
        if ((st = parse_seed_int(c, m, "grid.seed.master_seed", &s->master)))
            return st;
        s->kind = SEEDS_RANDOM;
        s->n_random = (int64_t)n;
        s->count = (uint64_t)n;
        return MZ_OK;
    }
    if (json_object_size(v) == 0)
        return bad(c, "grid.seed", "empty object (expected " SEED_FORMS ")");
    if (json_object_get(v, "master_seed"))
        return bad(c, "grid.seed.random", "missing (expected {\"random\": N, \"master_seed\": S})");
    static const char *const forms[] = {"range", "random", "master_seed"};
    return check_keys(c, v, "grid.seed", forms, 3); /* names the first key; never MZ_OK here */
}

/* ---- the canonical recipe ---- */

static int put(json_t *o, const char *key, json_t *v)
{
    return json_object_set_new(o, key, v) == 0 ? 0 : -1;
}

static int append(json_t *a, json_t *v)
{
    return json_array_append_new(a, v) == 0 ? 0 : -1;
}

static json_t *seeds_json(const seeds *s)
{
    json_t *o = NULL;
    int64_t a = s->a, b = s->b;
    int as_range = s->kind == SEEDS_RANGE && a < b;
    if (s->kind == SEEDS_LIST && s->n_list >= 2) { /* a consecutive run is a range */
        as_range = 1;
        for (int64_t i = 1; i < s->n_list && as_range; i++)
            as_range = s->list[i - 1] < INT64_MAX && s->list[i] == s->list[i - 1] + 1;
        a = s->list[0];
        b = s->list[s->n_list - 1];
    }
    if (s->kind == SEEDS_RANDOM) {
        o = json_object();
        if (o && (put(o, "random", json_integer(s->n_random)) ||
                  put(o, "master_seed", json_integer(s->master)))) {
            json_decref(o);
            o = NULL;
        }
    } else if (as_range) {
        json_t *r = json_array();
        o = json_object();
        if (!r || !o || append(r, json_integer(a)) || append(r, json_integer(b)) ||
            put(o, "range", json_incref(r))) {
            json_decref(o);
            o = NULL;
        }
        json_decref(r);
    } else {
        o = json_array();
        int64_t n = s->kind == SEEDS_LIST ? s->n_list : 1;
        for (int64_t i = 0; o && i < n; i++)
            if (append(o, json_integer(s->kind == SEEDS_LIST ? s->list[i] : a))) {
                json_decref(o);
                o = NULL;
            }
    }
    return o;
}

static json_t *grid_json(const grid *g)
{
    json_t *o = json_object();
    for (int k = 0; o && k < G_SEED; k++) {
        json_t *a = json_array();
        const key_def *d = &key_defs[k];
        for (int64_t i = 0; a && i < g->v[k].n; i++) {
            double x = g->v[k].v[i];
            json_t *e = d->kind == K_NAME   ? json_string(d->names[(int)x])
                        : d->kind == K_BOOL ? json_boolean(x != 0)
                                            : json_real(x);
            if (append(a, e)) {
                json_decref(a);
                a = NULL;
            }
        }
        if (!a || put(o, grid_keys[k], a)) {
            json_decref(o);
            o = NULL;
        }
    }
    if (o && put(o, "seed", seeds_json(&g->s))) {
        json_decref(o);
        o = NULL;
    }
    return o;
}

/* Every key but "data", defaults filled in, each grid value a list (seeds: a list, a range for a
 * consecutive run, or the random form), reals as reals, sorted keys, no whitespace. train_subset
 * appears only when given, so the recipe is itself a spec whose recipe is the recipe. */
static char *make_recipe(const mz_spec *spec, const grid *g)
{
    json_t *o = json_object();
    char *text = NULL;
    if (o && !put(o, "dataset", json_string(spec->dataset)) &&
        !put(o, "variant", json_string(spec->variant)) &&
        !put(o, "architecture", json_string(spec->architecture)) &&
        !put(o, "epochs", json_integer(spec->epochs)) &&
        !put(o, "batch_size", json_integer(spec->batch_size)) &&
        !(spec->train_subset > 0 && put(o, "train_subset", json_integer(spec->train_subset))) &&
        !put(o, "scheduler", json_string(mz_scheduler_name(spec->scheduler))) &&
        !put(o, "grid", grid_json(g)))
        text = mz_json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return text;
}

/* ---- top level ---- */

static int same_dataset_name(const char *a, const char *b, size_t nb)
{
    size_t i = 0;
    for (; i < nb && a[i]; i++) {
        char ca = a[i] >= 'A' && a[i] <= 'Z' ? (char)(a[i] - 'A' + 'a') : a[i] == '_' ? '-' : a[i];
        if (ca != b[i])
            return 0;
    }
    return i == nb && !a[i];
}

/* Finds `name` in mz_dataset_names() (case-insensitive, '_' for '-', as mz_dataset_load does)
 * and copies the canonical spelling. */
static int canonical_dataset(const char *name, char *out, size_t cap)
{
    const char *p = mz_dataset_names();
    while (*p) {
        size_t n = strcspn(p, ",");
        if (same_dataset_name(name, p, n) && n < cap) {
            memcpy(out, p, n);
            out[n] = '\0';
            return 1;
        }
        p += n;
        while (*p == ',' || *p == ' ')
            p++;
    }
    return 0;
}

static mz_status copy_string(const pctx *c, const json_t *v, const char *path, char *out,
                             size_t cap)
{
    const char *s = NULL;
    mz_status st = get_string(c, v, path, &s);
    if (st)
        return st;
    size_t n = strlen(s);
    if (n >= cap)
        return bad(c, path, "too long (%zu bytes; at most %zu)", n, cap - 1);
    memcpy(out, s, n + 1);
    return MZ_OK;
}

static mz_status parse_root(mz_spec *spec, const pctx *c, const json_t *root)
{
    static const char *const top_keys[] = {"dataset",      "data",      "variant",
                                           "architecture", "epochs",    "batch_size",
                                           "train_subset", "scheduler", "grid"};
    static const char *const required[] = {"dataset", "architecture", "epochs", "batch_size",
                                           "grid"};
    mz_status st;
    if (!json_is_object(root))
        return wrong_type(c, "(top level)", root, "an object");
    if ((st = check_keys(c, root, "", top_keys, (int)(sizeof top_keys / sizeof *top_keys))))
        return st;
    for (size_t i = 0; i < sizeof required / sizeof *required; i++)
        if (!json_object_get(root, required[i]))
            return bad(c, required[i],
                       "missing (required keys: dataset, architecture, epochs, "
                       "batch_size, grid)");

    const char *s = NULL;
    json_t *v = json_object_get(root, "dataset");
    if ((st = get_string(c, v, "dataset", &s)))
        return st;
    if (!canonical_dataset(s, spec->dataset, sizeof spec->dataset))
        return bad(c, "dataset", "unknown dataset \"%.60s\" (expected one of %s)", s,
                   mz_dataset_names());
    if ((v = json_object_get(root, "data")) &&
        (st = copy_string(c, v, "data", spec->data_dir, sizeof spec->data_dir)))
        return st;
    /* The variant is checked by the dataset loader (data.h has no list of variants). */
    if ((v = json_object_get(root, "variant")) &&
        (st = copy_string(c, v, "variant", spec->variant, sizeof spec->variant)))
        return st;

    if ((st = get_string(c, json_object_get(root, "architecture"), "architecture", &s)))
        return st;
    if (index_of(architecture_names, N_ARCHITECTURES, s) < 0) {
        char list[64];
        return bad(c, "architecture", "unknown architecture \"%.60s\" (expected one of %s)", s,
                   join(architecture_names, N_ARCHITECTURES, list, sizeof list));
    }
    snprintf(spec->architecture, sizeof spec->architecture, "%s", s);
    /* the images the variant gives must fit the architecture: said here, not after the data
     * has been read */
    int need = !strcmp(s, "cnn-s") ? 28 : !strcmp(s, "cnn-l") ? 32 : 0;
    int side = mz_dataset_variant_side(spec->dataset, spec->variant);
    const char *variants = mz_dataset_variants(spec->dataset);
    if (spec->variant[0] && side == 0 && variants)
        return bad(c, "variant", "unknown variant \"%.60s\" of %s (expected one of %s)",
                   spec->variant, spec->dataset, variants);
    if (need && side && side != need) {
        const char *fix = mz_dataset_variant_with_side(spec->dataset, need);
        char which[96];
        if (spec->variant[0])
            snprintf(which, sizeof which, "variant \"%s\"", spec->variant);
        else
            snprintf(which, sizeof which, "default variant");
        if (fix)
            return bad(c, "variant",
                       "%s needs %dx%d images, and %s's %s gives %dx%d; set \"variant\": \"%s\"",
                       s, need, need, spec->dataset, which, side, side, fix);
        return bad(c, "architecture",
                   "%s needs %dx%d images, and no variant of %s gives them (its variants: %s)", s,
                   need, need, spec->dataset, variants);
    }

    json_int_t x;
    if ((st = get_int(c, json_object_get(root, "epochs"), "epochs", 1, MAX_EPOCHS,
                      "an integer from 1 to 100000", &x)))
        return st;
    spec->epochs = (int)x;
    if ((st = get_int(c, json_object_get(root, "batch_size"), "batch_size", 1, MAX_BATCH,
                      "an integer from 1 to 1000000", &x)))
        return st;
    spec->batch_size = (int)x;
    if ((v = json_object_get(root, "train_subset"))) {
        if ((st = get_int(c, v, "train_subset", 1, INT64_MAX, "an integer >= 1", &x)))
            return st;
        spec->train_subset = (int64_t)x;
    }
    spec->scheduler = MZ_SCHED_NONE;
    if ((v = json_object_get(root, "scheduler"))) {
        if ((st = get_string(c, v, "scheduler", &s)))
            return st;
        int k = mz_scheduler_parse(s);
        if (k < 0) {
            char list[64];
            return bad(c, "scheduler", "unknown scheduler \"%.60s\" (expected one of %s)", s,
                       join(mz_scheduler_names_, MZ_N_SCHEDULERS, list, sizeof list));
        }
        spec->scheduler = (mz_scheduler)k;
    }

    json_t *gj = json_object_get(root, "grid");
    if (!json_is_object(gj))
        return wrong_type(c, "grid", gj, "an object");
    if ((st = check_keys(c, gj, "grid", grid_keys, G_COUNT)))
        return st;
    grid g;
    memset(&g, 0, sizeof g);
    for (int k = 0; st == MZ_OK && k < G_SEED; k++)
        st = parse_key(c, k, json_object_get(gj, grid_keys[k]), &g.v[k]);
    if (st == MZ_OK)
        st = parse_seeds(c, json_object_get(gj, "seed"), &g.s);

    /* The grid size, with overflow and absurd sizes refused before allocating. */
    uint64_t count[G_COUNT], n = 1;
    int overflow = 0;
    for (int k = 0; st == MZ_OK && k < G_COUNT; k++) {
        count[k] = k == G_SEED ? g.s.count : (uint64_t)g.v[k].n;
        if (n > UINT64_MAX / count[k])
            overflow = 1;
        n *= count[k];
    }
    if (st == MZ_OK && (overflow || n > MAX_MODELS)) {
        char factors[512], num[32] = "more than 2^64";
        size_t len = 0;
        for (int k = 0; k < G_COUNT; k++)
            len += (size_t)snprintf(factors + len, len < sizeof factors ? sizeof factors - len : 0,
                                    "%s%s %llu", k ? " x " : "", grid_keys[k],
                                    (unsigned long long)count[k]);
        if (!overflow)
            snprintf(num, sizeof num, "%llu", (unsigned long long)n);
        st = bad(c, "grid", "expands to %s models (%s; at most %d allowed)", num, factors,
                 MAX_MODELS);
    }

    if (st == MZ_OK) {
        spec->n_models = (int64_t)n;
        spec->models = calloc((size_t)n, sizeof *spec->models);
        if (!spec->models)
            st = mz_fail(c->err, MZ_ENOMEM, "%s: out of memory for %lld model specs", c->origin,
                         (long long)n);
    }
    for (int64_t id = 0; st == MZ_OK && id < spec->n_models; id++) {
        /* id in mixed radix, seed the fastest digit */
        uint64_t rem = (uint64_t)id, digit[G_COUNT];
        for (int k = G_COUNT - 1; k >= 0; k--) {
            digit[k] = rem % count[k];
            rem /= count[k];
        }
        mz_model_spec *m = &spec->models[id];
        m->id = id;
        m->activation = (mz_activation)g.v[G_ACT].v[digit[G_ACT]];
        m->init = (mz_init)g.v[G_INIT].v[digit[G_INIT]];
        m->optimizer = (mz_optimizer)g.v[G_OPT].v[digit[G_OPT]];
        m->lr = g.v[G_LR].v[digit[G_LR]];
        m->weight_decay = g.v[G_WD].v[digit[G_WD]];
        m->dropout = g.v[G_DROPOUT].v[digit[G_DROPOUT]];
        m->momentum = g.v[G_MOM].v[digit[G_MOM]];
        m->nesterov = g.v[G_NEST].v[digit[G_NEST]] != 0;
        if (g.s.kind == SEEDS_LIST) {
            m->seed = g.s.list[digit[G_SEED]];
        } else if (g.s.kind == SEEDS_RANGE) {
            m->seed = g.s.a + (int64_t)digit[G_SEED];
        } else {
            /* Random seeds: model id i (its global expansion index, not its repetition number)
             * gets mz_rng_below(&stream, &draw, 1000000) with draw starting at 0 and
             * stream = mz_rng_make(master_seed, MZ_RNG_SEEDS, (uint32_t)i, (uint32_t)(i >> 32), 0),
             * i.e. an unbiased integer in [0, 999999] (Lemire's method; a rare rejection uses
             * the following draws of the same stream). */
            mz_rng_stream rs = mz_rng_make((uint64_t)g.s.master, MZ_RNG_SEEDS, (uint32_t)id,
                                           (uint32_t)((uint64_t)id >> 32), 0);
            uint64_t draw = 0;
            m->seed = mz_rng_below(&rs, &draw, RANDOM_SEED_RANGE);
        }
    }
    if (st == MZ_OK && !(spec->recipe = make_recipe(spec, &g)))
        st = mz_fail(c->err, MZ_ENOMEM, "%s: out of memory", c->origin);
    grid_release(&g);
    return st;
}

static mz_status parse_buffer(mz_spec *spec, const char *text, size_t len, const char *origin,
                              mz_error *err)
{
    memset(spec, 0, sizeof *spec);
    pctx c = {origin ? origin : "spec", err};
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        if (je.line > 0)
            return mz_fail(err, MZ_ESPEC, "%s:%d:%d: invalid JSON: %s", c.origin, je.line,
                           je.column, je.text);
        return mz_fail(err, MZ_ESPEC, "%s: invalid JSON: %s", c.origin, je.text);
    }
    mz_status st = parse_root(spec, &c, root);
    json_decref(root);
    if (st != MZ_OK)
        mz_spec_release(spec);
    return st;
}

mz_status mz_spec_parse(mz_spec *spec, const char *json_text, const char *origin, mz_error *err)
{
    if (!spec)
        return mz_fail(err, MZ_EINVAL, "mz_spec_parse: NULL spec");
    if (!json_text) {
        memset(spec, 0, sizeof *spec);
        return mz_fail(err, MZ_EINVAL, "mz_spec_parse: NULL text");
    }
    return parse_buffer(spec, json_text, strlen(json_text), origin, err);
}

mz_status mz_spec_load_file(mz_spec *spec, const char *path, mz_error *err)
{
    if (!spec)
        return mz_fail(err, MZ_EINVAL, "mz_spec_load_file: NULL spec");
    memset(spec, 0, sizeof *spec);
    if (!path)
        return mz_fail(err, MZ_EINVAL, "mz_spec_load_file: NULL path");
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        return mz_fail(err, e == ENOENT ? MZ_ENOTFOUND : MZ_EIO, "%s: cannot open spec file: %s",
                       path, strerror(e));
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    mz_status st = buf ? MZ_OK : mz_fail(err, MZ_ENOMEM, "%s: out of memory", path);
    while (st == MZ_OK) {
        if (len == cap) {
            if (cap > MAX_SPEC_BYTES) {
                st = mz_fail(err, MZ_ELIMIT, "%s: spec file larger than %d MiB", path,
                             MAX_SPEC_BYTES >> 20);
                break;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                st = mz_fail(err, MZ_ENOMEM, "%s: out of memory", path);
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f)) {
                int e = errno;
                st = mz_fail(err, MZ_EIO, "%s: cannot read spec file: %s", path, strerror(e));
            }
            break;
        }
    }
    fclose(f);
    if (st == MZ_OK)
        st = parse_buffer(spec, buf, len, path, err);
    free(buf);
    return st;
}
