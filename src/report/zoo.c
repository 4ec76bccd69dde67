/* A zoo as the report sees it: meta, models with their hyperparameters, and every epoch row's
 * metrics (never the weights) in one pass through the store's selection, --where applied. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "report/report-impl.h"
#include "core/banned.h"

const char *const rp_metric_names[RP_N_METRICS] = {"train_loss", "train_acc", "val_loss", "val_acc",
                                                   "test_loss",  "test_acc",  "sparsity"};

typedef struct raw_row {
    int64_t model;
    int epoch;
    int keep;
    float v[RP_N_METRICS];
} raw_row;

typedef struct reader {
    raw_row *v;
    size_t n, cap;
    int col_of[RP_N_METRICS]; /* index into the selection's columns, -1 absent */
    int oom;
} reader;

static int on_row(void *ctx, int64_t model_id, int epoch, const char *variant, int keep,
                  const mz_store_value *vals)
{
    (void)variant;
    reader *r = ctx;
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 4096;
        raw_row *v = realloc(r->v, cap * sizeof *v);
        if (!v) {
            r->oom = 1;
            return 1;
        }
        r->v = v;
        r->cap = cap;
    }
    raw_row *x = &r->v[r->n++];
    x->model = model_id;
    x->epoch = epoch;
    x->keep = keep;
    for (int k = 0; k < RP_N_METRICS; k++) {
        int c = r->col_of[k];
        x->v[k] = c < 0 || vals[c].null ? NAN : (float)vals[c].num;
    }
    return 0;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return x < y ? -1 : x > y;
}

double rp_chance_threshold(const rp_zoo *z)
{
    return 1.5 / (z->n_classes > 1 ? z->n_classes : 10);
}

double rp_final(const rp_zoo *z, int64_t i, int metric)
{
    int t = z->last[i];
    return t < 0 ? NAN : (double)rp_metric(z, i, t, metric);
}

/* ---- hyperparameters ---- */

typedef struct hp_builder {
    rp_hp *hp;
    double num[RP_MAX_VALUES];
    int overflow;
} hp_builder;

/* The index of value (text s, or number x when s is NULL) in hp, added if new. */
static int hp_value(rp_hp *hp, double *nums, const char *s, double x)
{
    char buf[64];
    if (!s) {
        if (isnan(x))
            return -1;
        mz_format_double(buf, sizeof buf, x);
        s = buf;
    }
    for (int k = 0; k < hp->n_values; k++)
        if (!strcmp(hp->values[k], s))
            return k;
    if (hp->n_values == RP_MAX_VALUES)
        return -2;
    char *c = mz_strdup(s);
    if (!c)
        return -3;
    nums[hp->n_values] = x;
    hp->values[hp->n_values] = c;
    return hp->n_values++;
}

/* Sorts the values (numbers ascending, text by strcmp) and renumbers of_model. */
static void hp_sort(rp_hp *hp, const double *nums, int64_t n_models)
{
    int order[RP_MAX_VALUES], rank[RP_MAX_VALUES];
    for (int k = 0; k < hp->n_values; k++)
        order[k] = k;
    for (int a = 0; a < hp->n_values; a++)
        for (int b = a + 1; b < hp->n_values; b++) {
            int x = order[a], y = order[b];
            int swap = hp->numeric ? nums[y] < nums[x] : strcmp(hp->values[y], hp->values[x]) < 0;
            if (swap)
                order[a] = y, order[b] = x;
        }
    char *vals[RP_MAX_VALUES];
    for (int k = 0; k < hp->n_values; k++) {
        vals[k] = hp->values[order[k]];
        rank[order[k]] = k;
    }
    memcpy(hp->values, vals, sizeof(char *) * (size_t)hp->n_values);
    memset(hp->count, 0, sizeof hp->count);
    for (int64_t i = 0; i < n_models; i++)
        if (hp->of_model[i] >= 0) {
            hp->of_model[i] = rank[hp->of_model[i]];
            hp->count[hp->of_model[i]]++;
        }
}

static rp_hp *hp_new(rp_zoo *z, const char *name, int numeric)
{
    if (z->n_hp == RP_MAX_HP)
        return NULL;
    rp_hp *hp = &z->hp[z->n_hp];
    memset(hp, 0, sizeof *hp);
    snprintf(hp->name, sizeof hp->name, "%.47s", name);
    hp->numeric = numeric;
    hp->of_model = malloc(sizeof(int) * (size_t)(z->n_models ? z->n_models : 1));
    if (!hp->of_model)
        return NULL;
    for (int64_t i = 0; i < z->n_models; i++)
        hp->of_model[i] = -1;
    z->n_hp++;
    return hp;
}

/* Drops the last hyperparameter when no model has a value. */
static void hp_finish(rp_zoo *z, rp_hp *hp, const double *nums)
{
    if (hp->n_values == 0) {
        free(hp->of_model);
        z->n_hp--;
        return;
    }
    hp_sort(hp, nums, z->n_models);
}

/* 1 for a text-valued key of the hparams that names each model apart (a source trial's path,
 * a Small CNN Zoo's modeldir): one value per model is an identifier, not a hyperparameter that
 * groups models. */
static int hp_is_identifier(const rp_hp *hp, int64_t n_models)
{
    if (hp->numeric)
        return 0;
    int64_t with = 0, overflow = 0;
    for (int64_t i = 0; i < n_models; i++) {
        with += hp->of_model[i] != -1;
        overflow += hp->of_model[i] < -1;
    }
    return with >= 2 && (overflow || hp->n_values == with);
}

/* A variational-dropout twin's layout variant ("cnn-s/c1/nodropout/ard"). */
static int ard_variant(const char *v)
{
    size_t n = v ? strlen(v) : 0;
    return n >= 4 && !strcmp(v + n - 4, "/ard");
}

static mz_status build_hps(rp_zoo *z, mz_error *err)
{
    static const char *const text_cols[] = {"activation", "init", "optimizer"};
    static const char *const num_cols[] = {"lr", "weight_decay", "dropout", "momentum", "nesterov"};
    double nums[RP_MAX_VALUES];
    for (int c = 0; c < 3; c++) {
        rp_hp *hp = hp_new(z, text_cols[c], 0);
        if (!hp)
            return mz_fail(err, MZ_ENOMEM, "out of memory");
        for (int64_t i = 0; i < z->n_models; i++) {
            if (z->last[i] < 0) /* no selected row: not part of the report */
                continue;
            const mz_model_row *r = &z->rows[i];
            const char *s = c == 0 ? r->activation : c == 1 ? r->init : r->optimizer;
            hp->of_model[i] = s ? hp_value(hp, nums, s, 0) : -1;
        }
        hp_finish(z, hp, nums);
    }
    for (int c = 0; c < 5; c++) {
        rp_hp *hp = hp_new(z, num_cols[c], 1);
        if (!hp)
            return mz_fail(err, MZ_ENOMEM, "out of memory");
        for (int64_t i = 0; i < z->n_models; i++) {
            if (z->last[i] < 0) /* no selected row: not part of the report */
                continue;
            const mz_model_row *r = &z->rows[i];
            double x = c == 0   ? r->lr
                       : c == 1 ? r->weight_decay
                       : c == 2 ? r->dropout
                       : c == 3 ? r->momentum
                                : (r->nesterov < 0 ? NAN : r->nesterov);
            hp->of_model[i] = hp_value(hp, nums, NULL, x);
        }
        hp_finish(z, hp, nums);
    }
    /* keys of the hparams JSON objects (an imported zoo's own, a twin method's settings) */
    char keys[64][48];
    int n_keys = 0;
    for (int64_t i = 0; i < z->n_models && n_keys < 64; i++) {
        if (!z->rows[i].hparams)
            continue;
        json_t *o = json_loads(z->rows[i].hparams, 0, NULL);
        const char *key;
        json_t *v;
        if (json_is_object(o))
            json_object_foreach(o, key, v)
            {
                int seen = 0;
                for (int k = 0; k < n_keys && !seen; k++)
                    seen = !strcmp(keys[k], key);
                if (!seen && n_keys < 64 && strlen(key) < 40 &&
                    (json_is_string(v) || json_is_number(v)))
                    snprintf(keys[n_keys++], sizeof keys[0], "%s", key);
            }
        json_decref(o);
    }
    for (int k = 0; k < n_keys && z->n_hp < RP_MAX_HP - 1; k++) { /* a slot kept for twins */
        rp_hp *hp = hp_new(z, keys[k], 1);
        if (!hp)
            return mz_fail(err, MZ_ENOMEM, "out of memory");
        for (int64_t i = 0; i < z->n_models; i++) {
            if (z->last[i] < 0)
                continue;
            json_t *o = z->rows[i].hparams ? json_loads(z->rows[i].hparams, 0, NULL) : NULL;
            json_t *v = json_object_get(o, keys[k]);
            if (json_is_string(v)) {
                hp->numeric = 0;
                hp->of_model[i] = hp_value(hp, nums, json_string_value(v), 0);
            } else if (json_is_number(v)) {
                hp->of_model[i] = hp_value(hp, nums, NULL, json_number_value(v));
            }
            json_decref(o);
        }
        /* an imported zoo's hparams hold every key of its source's config: only those that
         * vary are hyperparameters of the page, and not the ones that name each model apart */
        if (hp->n_values < 2 || hp_is_identifier(hp, z->n_models)) {
            for (int v = 0; v < hp->n_values; v++)
                free(hp->values[v]);
            free(hp->of_model);
            z->n_hp--;
            continue;
        }
        hp_finish(z, hp, nums);
    }
    /* twins: the method with its settings, as one value ("magnitude target=0.8") */
    if (z->is_twin) {
        rp_hp *hp = hp_new(z, "twin method", 0);
        if (!hp)
            return mz_fail(err, MZ_ENOMEM, "out of memory");
        for (int64_t i = 0; i < z->n_models; i++) {
            if (z->last[i] < 0)
                continue;
            json_t *o = z->rows[i].hparams ? json_loads(z->rows[i].hparams, 0, NULL) : NULL;
            const char *m = json_string_value(json_object_get(o, "method"));
            if (!m && ard_variant(z->rows[i].variant))
                m = "vd"; /* an imported twin: its hparams are the source's own */
            json_t *t = json_object_get(o, "target");
            char lab[96], num[32];
            if (m) {
                if (json_is_number(t))
                    snprintf(lab, sizeof lab, "%.40s target=%s", m,
                             mz_format_double(num, sizeof num, json_number_value(t)));
                else
                    snprintf(lab, sizeof lab, "%.40s", m);
                hp->of_model[i] = hp_value(hp, nums, lab, 0);
            }
            json_decref(o);
        }
        hp_finish(z, hp, nums);
    }
    for (int h = 0; h < z->n_hp; h++)
        for (int64_t i = 0; i < z->n_models; i++)
            if (z->hp[h].of_model[i] < -1)
                z->hp[h].of_model[i] = -1; /* beyond RP_MAX_VALUES values, or out of memory */
    return MZ_OK;
}

/* The hyperparameter of the bands: the one asked for, else among those with 2..8 values the one
 * whose values' median final test accuracies spread most. */
static mz_status choose_by(rp_zoo *z, const char *by, mz_error *err)
{
    z->by = -1;
    if (by && *by) {
        for (int h = 0; h < z->n_hp; h++)
            if (!strcmp(z->hp[h].name, by)) {
                z->by = h;
                snprintf(z->by_why, sizeof z->by_why, "chosen with --by");
                return MZ_OK;
            }
        char list[512] = "";
        size_t at = 0;
        for (int h = 0; h < z->n_hp && at < sizeof list; h++)
            at +=
                (size_t)snprintf(list + at, sizeof list - at, "%s%s", h ? ", " : "", z->hp[h].name);
        return mz_fail(err, MZ_EINVAL, "%s: --by %s: no such hyperparameter (this zoo has: %s)",
                       z->path, by, list);
    }
    double *v = malloc(sizeof(double) * (size_t)(z->n_models ? z->n_models : 1));
    if (!v)
        return mz_fail(err, MZ_ENOMEM, "out of memory");
    double best = -1;
    for (int h = 0; h < z->n_hp; h++) /* twins: their method, when it varies */
        if (!strcmp(z->hp[h].name, "twin method") && z->hp[h].n_values >= 2 &&
            z->hp[h].n_values <= 8) {
            z->by = h;
            snprintf(z->by_why, sizeof z->by_why, "the twins' method and its settings");
            free(v);
            return MZ_OK;
        }
    for (int h = 0; h < z->n_hp; h++) {
        rp_hp *hp = &z->hp[h];
        if (hp->n_values < 2 || hp->n_values > 8)
            continue;
        double lo = INFINITY, hi = -INFINITY;
        for (int k = 0; k < hp->n_values; k++) {
            int64_t m = 0;
            for (int64_t i = 0; i < z->n_models; i++) {
                double a = rp_final(z, i, RP_TEST_ACC);
                if (hp->of_model[i] == k && !isnan(a))
                    v[m++] = a;
            }
            if (!m)
                continue;
            double q = 0.5, med;
            rp_quantiles(v, m, &q, 1, &med);
            lo = med < lo ? med : lo;
            hi = med > hi ? med : hi;
        }
        double spread = hi > lo ? hi - lo : 0;
        if (spread > best) {
            best = spread;
            z->by = h;
        }
    }
    free(v);
    if (z->by >= 0)
        snprintf(z->by_why, sizeof z->by_why,
                 "its values' median final test accuracies differ most (by %.3f)", best);
    return MZ_OK;
}

/* ---- reading ---- */

static int on_sparsity(void *ctx, int ncol, const char *const *val, const char *const *names)
{
    (void)ncol, (void)names;
    rp_zoo *z = ctx;
    if (!val[0] || !val[1] || !val[2])
        return 0;
    int64_t i = strtoll(val[0], NULL, 10);
    int e = (int)strtol(val[1], NULL, 10);
    if (i < 0 || i >= z->n_models || z->last[i] < 0 || z->epoch_value[z->last[i]] != e)
        return 0;
    json_t *o = json_loads(val[2], 0, NULL);
    json_t *sp = json_object_get(o, "sparsity");
    const char *key;
    json_t *v;
    if (json_is_object(sp))
        json_object_foreach(sp, key, v)
        {
            int l = 0;
            while (l < z->n_sp_layers && strcmp(z->sp_layer[l], key))
                l++;
            if (l == z->n_sp_layers) {
                if (l == 16 || strlen(key) >= sizeof z->sp_layer[0])
                    continue;
                snprintf(z->sp_layer[z->n_sp_layers++], sizeof z->sp_layer[0], "%s", key);
            }
            if (json_is_number(v))
                z->sp_layers[i * 16 + l] = json_number_value(v);
        }
    json_decref(o);
    return 0;
}

static void meta(mz_store *st, const char *key, char *buf, size_t cap)
{
    if (mz_store_meta(st, key, buf, cap, NULL) != MZ_OK)
        buf[0] = 0;
}

mz_status rp_zoo_read(rp_zoo *z, const char *path, const mz_report_options *o, mz_error *err)
{
    memset(z, 0, sizeof *z);
    z->by = -1;
    snprintf(z->path, sizeof z->path, "%s", path);
    const char *slash = strrchr(path, '/');
    snprintf(z->name, sizeof z->name, "%s", slash ? slash + 1 : path);
    mz_store *st = NULL;
    mz_status s = mz_store_open(&st, path, MZ_STORE_READ, err);
    if (s != MZ_OK)
        return s;
    meta(st, "kind", z->kind, sizeof z->kind);
    meta(st, "dataset", z->dataset, sizeof z->dataset);
    meta(st, "architecture", z->architecture, sizeof z->architecture);
    meta(st, "variant", z->variant, sizeof z->variant);
    meta(st, "method", z->method, sizeof z->method);
    meta(st, "generator", z->generator, sizeof z->generator);
    meta(st, "created_at", z->created_at, sizeof z->created_at);
    meta(st, "epochs", z->epochs_meta, sizeof z->epochs_meta);
    char unit[16], format[16];
    meta(st, "epoch_unit", unit, sizeof unit);
    meta(st, "source_format", format, sizeof format);
    /* zoos imported from a Small CNN Zoo before the importer wrote epoch_unit hold steps too */
    snprintf(z->unit, sizeof z->unit, "%s",
             !strcmp(unit, "step") || (!unit[0] && !strcmp(format, "ctc")) ? "step" : "epoch");
    z->is_twin = !strcmp(z->kind, "twin");
    if (mz_store_recipe(st, &z->recipe, NULL) != MZ_OK)
        z->recipe = NULL;
    s = mz_store_read_models(st, &z->rows, &z->prog, &z->n_models, err);
    if (s != MZ_OK)
        goto out;
    /* imported twins (the Model Zoos' CNN_ARD): a zoo whose models are variational-dropout
     * twins, as their layout variants say, is shown as a twin zoo */
    for (int64_t i = 0; !z->is_twin && i < z->n_models; i++)
        z->is_twin = ard_variant(z->rows[i].variant);
    for (int64_t i = 0; i < z->n_models; i++)
        if ((int)z->prog[i].status >= 0 && z->prog[i].status < 5)
            z->by_status[z->prog[i].status]++;
    /* classes: the length of the last bias of the first model's layout */
    z->n_classes = 0;
    if (z->n_models > 0) {
        mz_tensor_desc *t = NULL;
        int nt = 0;
        if (mz_store_layout(st, z->rows[0].variant, &t, &nt, NULL, NULL) == MZ_OK)
            for (int k = nt - 1; k >= 0; k--) {
                size_t L = strlen(t[k].name);
                if (L > 5 && !strcmp(t[k].name + L - 5, ".bias")) {
                    z->n_classes = (int)t[k].count;
                    break;
                }
            }
        free(t);
    }
    /* every epoch row's metrics, with the --where truth value */
    mz_store_column cols[128];
    int ncols = 0;
    s = mz_store_columns(st, cols, 128, &ncols, err);
    if (s != MZ_OK)
        goto out;
    mz_store_column sel_cols[RP_N_METRICS];
    int nsel = 0;
    reader rd = {0};
    for (int k = 0; k < RP_N_METRICS; k++) {
        rd.col_of[k] = -1;
        for (int c = 0; c < ncols; c++)
            if (cols[c].table == 'e' && !strcmp(cols[c].name, rp_metric_names[k])) {
                sel_cols[nsel] = cols[c];
                rd.col_of[k] = nsel++;
                break;
            }
    }
    mz_store_selection sel = {0};
    sel.where = o->where;
    sel.cols = sel_cols;
    sel.n_cols = nsel;
    s = mz_store_select(st, &sel, on_row, &rd, err);
    if (s == MZ_OK && rd.oom)
        s = mz_fail(err, MZ_ENOMEM, "%s: out of memory reading the epochs", path);
    if (s != MZ_OK) {
        free(rd.v);
        mz_error_prefix(err, "%s", path);
        goto out;
    }
    /* the distinct epochs, ascending */
    int *ep = malloc(sizeof(int) * (rd.n ? rd.n : 1));
    if (!ep) {
        free(rd.v);
        s = mz_fail(err, MZ_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t r = 0; r < rd.n; r++)
        ep[r] = rd.v[r].epoch;
    qsort(ep, rd.n, sizeof *ep, cmp_int);
    int ne = 0;
    for (size_t r = 0; r < rd.n; r++)
        if (ne == 0 || ep[ne - 1] != ep[r])
            ep[ne++] = ep[r];
    z->n_epochs = ne;
    z->epoch_value = ep;
    size_t cells = (size_t)z->n_models * (size_t)(ne ? ne : 1);
    z->m = malloc(sizeof(float) * cells * RP_N_METRICS);
    z->kept = calloc(cells, 1);
    z->last = malloc(sizeof(int) * (size_t)(z->n_models ? z->n_models : 1));
    if (!z->m || !z->kept || !z->last) {
        free(rd.v);
        s = mz_fail(err, MZ_ENOMEM, "%s: out of memory (%lld models x %d epochs)", path,
                    (long long)z->n_models, ne);
        goto out;
    }
    for (size_t c = 0; c < cells * RP_N_METRICS; c++)
        z->m[c] = NAN;
    for (int64_t i = 0; i < z->n_models; i++)
        z->last[i] = -1;
    for (size_t r = 0; r < rd.n; r++) {
        const raw_row *x = &rd.v[r];
        if (x->model < 0 || x->model >= z->n_models)
            continue;
        z->n_rows++;
        if (!x->keep)
            continue;
        int lo = 0, hi = ne - 1;
        while (lo < hi) {
            int mid = (lo + hi) / 2;
            if (ep[mid] < x->epoch)
                lo = mid + 1;
            else
                hi = mid;
        }
        size_t cell = (size_t)x->model * (size_t)ne + (size_t)lo;
        z->kept[cell] = 1;
        memcpy(&z->m[cell * RP_N_METRICS], x->v, sizeof x->v);
        if (lo > z->last[x->model])
            z->last[x->model] = lo;
        z->n_kept_rows++;
        if (!isnan(x->v[RP_VAL_ACC]))
            z->has_val = 1;
    }
    free(rd.v);
    for (int64_t i = 0; i < z->n_models; i++)
        z->n_kept_models += z->last[i] >= 0;
    if ((s = build_hps(z, err)) != MZ_OK)
        goto out;
    if ((s = choose_by(z, o->by, err)) != MZ_OK)
        goto out;
    if (z->is_twin) {
        z->sp_layers = malloc(sizeof(double) * 16 * (size_t)(z->n_models ? z->n_models : 1));
        if (!z->sp_layers) {
            s = mz_fail(err, MZ_ENOMEM, "out of memory");
            goto out;
        }
        for (int64_t i = 0; i < 16 * z->n_models; i++)
            z->sp_layers[i] = NAN;
        s = mz_store_query(st,
                           "SELECT model_id, epoch, metrics FROM epochs WHERE metrics IS NOT NULL",
                           on_sparsity, z, err);
    }
out:
    mz_store_close(st);
    return s;
}

void rp_zoo_release(rp_zoo *z)
{
    free(z->recipe);
    free(z->rows);
    free(z->prog);
    free(z->epoch_value);
    free(z->m);
    free(z->kept);
    free(z->last);
    free(z->sp_layers);
    for (int h = 0; h < z->n_hp; h++) {
        free(z->hp[h].of_model);
        for (int k = 0; k < z->hp[h].n_values; k++)
            free(z->hp[h].values[k]);
    }
    rp_weights_release(&z->w);
    memset(z, 0, sizeof *z);
}
