/* mzoo info ZOO.db: models by status, test accuracy quantiles at each model's last epoch, and the
 * median test accuracy per value of every hyperparameter that varies; --json: the same and
 * per-epoch population statistics as JSON; --metrics FILE: one CSV row per model and epoch. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "mzoo/formats.h"
#include "mzoo/store.h"
#include "cli/commands.h"
#include "core/banned.h"

#define N_HP 8
static const char *const hp_names[N_HP] = {"activation",   "init",    "optimizer", "lr",
                                           "weight_decay", "dropout", "momentum",  "nesterov"};

typedef struct row {
    char hp[N_HP][32];
    double test_acc;
    int epoch;
} row;

typedef struct rows {
    row *v;
    size_t n, cap;
    int oom;
} rows;

static int collect(void *ctx, int ncol, const char *const *val, const char *const *names)
{
    rows *r = ctx;
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 256;
        row *v = realloc(r->v, cap * sizeof *v);
        if (!v) {
            r->oom = 1;
            return 1;
        }
        r->v = v;
        r->cap = cap;
    }
    row *x = &r->v[r->n++];
    for (int i = 0; i < N_HP && i < ncol; i++)
        mz_escape(x->hp[i], sizeof x->hp[i], val[i] ? val[i] : "-");
    x->epoch = val[N_HP] ? (int)strtol(val[N_HP], NULL, 10) : -1;
    x->test_acc = val[N_HP + 1] ? strtod(val[N_HP + 1], NULL) : NAN;
    return 0;
}

/* Each model's hyperparameters and the test accuracy of its last committed epoch. */
static const char last_epoch_sql[] =
    "SELECT m.activation, m.init, m.optimizer, m.lr, m.weight_decay, m.dropout, m.momentum, "
    "m.nesterov, e.epoch, e.test_acc FROM models m JOIN epochs e ON e.model_id = m.id AND "
    "e.epoch = m.epochs_done ORDER BY m.id";

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* numpy's default ("linear") quantile of sorted v[0..n-1]. */
static double quantile(const double *v, size_t n, double q)
{
    double pos = q * (double)(n - 1);
    size_t i = (size_t)pos;
    if (i + 1 >= n)
        return v[n - 1];
    return v[i] + (pos - (double)i) * (v[i + 1] - v[i]);
}

/* The median test accuracy of the models whose hyperparameter h is v (NaNs left out); *m = how many
 * models had one (0: none, and the median is NaN). acc: room for r->n values. */
static double median_where(const rows *r, int h, const char *v, double *acc, size_t *m)
{
    *m = 0;
    for (size_t i = 0; i < r->n; i++)
        if (!strcmp(r->v[i].hp[h], v) && !isnan(r->v[i].test_acc))
            acc[(*m)++] = r->v[i].test_acc;
    if (!*m)
        return NAN;
    qsort(acc, *m, sizeof(double), cmp_double);
    return quantile(acc, *m, 0.5);
}

/* ---- twin zoos ---- */

typedef struct twin_rows {
    double *sparsity, *drop; /* at each twin's last epoch */
    size_t n, cap;
    int oom;
} twin_rows;

static int collect_twin(void *ctx, int ncol, const char *const *val, const char *const *names)
{
    (void)ncol, (void)names;
    twin_rows *t = ctx;
    if (!val[0] || !val[1])
        return 0;
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 256;
        double *a = realloc(t->sparsity, cap * sizeof *a);
        if (a)
            t->sparsity = a;
        double *b = a ? realloc(t->drop, cap * sizeof *b) : NULL;
        if (!b) {
            t->oom = 1;
            return 1;
        }
        t->drop = b;
        t->cap = cap;
    }
    t->sparsity[t->n] = strtod(val[0], NULL);
    t->drop[t->n] = strtod(val[1], NULL);
    t->n++;
    return 0;
}

static void print_quantiles(const char *what, double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
    printf("%s (%zu twins):\n  min %.4f  q05 %.4f  q25 %.4f  median %.4f  q75 %.4f  q95 %.4f  "
           "max %.4f\n",
           what, n, v[0], quantile(v, n, 0.05), quantile(v, n, 0.25), quantile(v, n, 0.5),
           quantile(v, n, 0.75), quantile(v, n, 0.95), v[n - 1]);
}

static int print_epoch_row(void *ctx, int ncol, const char *const *val, const char *const *names)
{
    (void)ctx, (void)ncol, (void)names;
    printf("  %5s  %8.4f  %8.4f  %8.4f  %6s\n", val[0] ? val[0] : "?",
           val[1] ? strtod(val[1], NULL) : NAN, val[2] ? strtod(val[2], NULL) : NAN,
           val[3] ? strtod(val[3], NULL) : NAN, val[4] ? val[4] : "0");
    return 0;
}

/* Sparsity and accuracy drop (the test accuracy of epoch 0, the source checkpoint, minus that of
 * the last epoch): quantiles at each twin's last epoch, and means per epoch. */
static mz_status twin_summary(mz_store *st, mz_error *err)
{
    twin_rows t = {0};
    mz_status s = mz_store_query(
        st,
        "SELECT e.sparsity, e0.test_acc - e.test_acc FROM models m JOIN epochs e ON e.model_id = "
        "m.id AND e.epoch = m.epochs_done JOIN epochs e0 ON e0.model_id = m.id AND e0.epoch = 0 "
        "WHERE m.epochs_done > 0 ORDER BY m.id",
        collect_twin, &t, err);
    if (s == MZ_OK && t.oom)
        s = mz_fail(err, MZ_ENOMEM, "out of memory");
    if (s == MZ_OK && t.n) {
        print_quantiles("sparsity at each twin's last epoch", t.sparsity, t.n);
        print_quantiles("test accuracy drop from epoch 0 (the source checkpoint) to the last epoch",
                        t.drop, t.n);
    }
    free(t.sparsity);
    free(t.drop);
    if (s != MZ_OK)
        return s;
    printf("by epoch (means over the twins that reached it):\n  %5s  %8s  %8s  %8s  %6s\n", "epoch",
           "sparsity", "test_acc", "drop", "twins");
    return mz_store_query(st,
                          "SELECT e.epoch, avg(e.sparsity), avg(e.test_acc), avg(e0.test_acc - "
                          "e.test_acc), count(*) FROM epochs e JOIN epochs e0 ON e0.model_id = "
                          "e.model_id AND e0.epoch = 0 WHERE e.sparsity IS NOT NULL GROUP BY "
                          "e.epoch ORDER BY e.epoch",
                          print_epoch_row, NULL, err);
}

/* ---- --json ---- */

static const char *const metric_names[] = {"train_loss", "train_acc", "val_loss", "val_acc",
                                           "test_loss",  "test_acc",  "sparsity"};
#define N_METRICS (sizeof metric_names / sizeof metric_names[0])

/* (epoch, value) rows, ordered by epoch then value. */
typedef struct ev_rows {
    int *epoch;
    double *v;
    size_t n, cap;
    int oom;
} ev_rows;

static int collect_ev(void *ctx, int ncol, const char *const *val, const char *const *names)
{
    (void)ncol, (void)names;
    ev_rows *r = ctx;
    if (!val[0] || !val[1])
        return 0;
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 1024;
        int *e = realloc(r->epoch, cap * sizeof *e);
        if (e)
            r->epoch = e;
        double *v = e ? realloc(r->v, cap * sizeof *v) : NULL;
        if (!v) {
            r->oom = 1;
            return 1;
        }
        r->v = v;
        r->cap = cap;
    }
    r->epoch[r->n] = (int)strtol(val[0], NULL, 10);
    r->v[r->n++] = strtod(val[1], NULL);
    return 0;
}

/* {"n", "mean", "min", "q05", "q25", "median", "q75", "q95", "max"} of sorted v[n]. */
static json_t *stats_json(const double *v, size_t n)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += v[i];
    double mean = sum / (double)n; /* huge losses of diverging models can overflow the sum */
    return json_pack("{s:I,s:o,s:f,s:f,s:f,s:f,s:f,s:f,s:f}", "n", (json_int_t)n, "mean",
                     isfinite(mean) ? json_real(mean) : json_null(), "min", v[0], "q05",
                     quantile(v, n, 0.05), "q25", quantile(v, n, 0.25), "median",
                     quantile(v, n, 0.5), "q75", quantile(v, n, 0.75), "q95", quantile(v, n, 0.95),
                     "max", v[n - 1]);
}

/* Per epoch, the statistics of every metric over the models that have it (NULLs, i.e. NaN or
 * missing values, left out): [{"epoch": e, "test_acc": {...}, ...}, ...]. */
static mz_status epochs_json(mz_store *st, json_t *out, mz_error *err)
{
    json_t *by_epoch = json_object(); /* "e" -> {...}, then flattened in epoch order */
    int max_epoch = -1;
    mz_status s = MZ_OK;
    for (size_t k = 0; k < N_METRICS && s == MZ_OK; k++) {
        if (!strcmp(metric_names[k], "sparsity") && mz_store_schema_version(st) < 2)
            continue;
        char sql[200];
        snprintf(sql, sizeof sql,
                 "SELECT epoch, %s FROM epochs WHERE %s IS NOT NULL ORDER BY epoch, %s",
                 metric_names[k], metric_names[k], metric_names[k]);
        ev_rows r = {0};
        s = mz_store_query(st, sql, collect_ev, &r, err);
        if (s == MZ_OK && r.oom)
            s = mz_fail(err, MZ_ENOMEM, "out of memory");
        for (size_t i = 0; s == MZ_OK && i < r.n;) {
            size_t j = i;
            while (j < r.n && r.epoch[j] == r.epoch[i])
                j++;
            char key[16];
            snprintf(key, sizeof key, "%d", r.epoch[i]);
            json_t *e = json_object_get(by_epoch, key);
            if (!e) {
                e = json_pack("{s:i}", "epoch", r.epoch[i]);
                json_object_set_new(by_epoch, key, e);
            }
            json_object_set_new(e, metric_names[k], stats_json(r.v + i, j - i));
            if (r.epoch[i] > max_epoch)
                max_epoch = r.epoch[i];
            i = j;
        }
        free(r.epoch);
        free(r.v);
    }
    /* how many models committed each epoch (the rows, whatever their metrics) */
    ev_rows c = {0};
    if (s == MZ_OK)
        s = mz_store_query(st, "SELECT epoch, count(*) FROM epochs GROUP BY epoch ORDER BY epoch",
                           collect_ev, &c, err);
    for (size_t i = 0; s == MZ_OK && i < c.n; i++) {
        char key[16];
        snprintf(key, sizeof key, "%d", c.epoch[i]);
        json_t *e = json_object_get(by_epoch, key);
        if (!e) {
            e = json_pack("{s:i}", "epoch", c.epoch[i]);
            json_object_set_new(by_epoch, key, e);
        }
        json_object_set_new(e, "models", json_integer((json_int_t)c.v[i]));
        if (c.epoch[i] > max_epoch)
            max_epoch = c.epoch[i];
    }
    free(c.epoch);
    free(c.v);
    json_t *arr = json_array();
    for (int e = 0; e <= max_epoch; e++) {
        char key[16];
        snprintf(key, sizeof key, "%d", e);
        json_t *x = json_object_get(by_epoch, key);
        if (x)
            json_array_append(arr, x);
    }
    json_decref(by_epoch);
    json_object_set_new(out, "epochs", arr);
    return s;
}

static int status_json(void *ctx, int ncol, const char *const *val, const char *const *names)
{
    (void)ncol, (void)names;
    json_object_set_new(ctx, val[0] ? val[0] : "?",
                        json_integer(val[1] ? strtoll(val[1], NULL, 10) : 0));
    return 0;
}

/* Everything the text summary says, as one JSON object on stdout. */
static mz_status info_json(mz_store *st, const char *path, const rows *r, mz_error *err)
{
    json_t *o = json_object();
    json_object_set_new(o, "zoo", json_string(path));
    json_object_set_new(o, "schema_version", json_integer(mz_store_schema_version(st)));
    const char *keys[] = {"generator",          "kind",       "dataset",    "variant",
                          "architecture",       "epochs",     "batch_size", "method",
                          "source_checkpoints", "created_at", "epoch_unit"};
    json_t *meta = json_object();
    char buf[256];
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (mz_store_meta(st, keys[i], buf, sizeof buf, NULL) == MZ_OK)
            json_object_set_new(meta, keys[i], json_string(buf));
    json_object_set_new(o, "meta", meta);
    char *recipe = NULL;
    if (mz_store_recipe(st, &recipe, NULL) == MZ_OK) {
        json_t *rj = json_loads(recipe, 0, NULL);
        json_object_set_new(o, "recipe", rj ? rj : json_string(recipe));
        free(recipe);
    }
    json_t *status = json_object();
    json_object_set_new(o, "models_by_status", status);
    mz_status s =
        mz_store_query(st, "SELECT status, count(*) FROM models GROUP BY status ORDER BY status",
                       status_json, status, err);
    double *acc = malloc(sizeof(double) * (r->n ? r->n : 1));
    if (s == MZ_OK && !acc)
        s = mz_fail(err, MZ_ENOMEM, "out of memory");
    size_t na = 0;
    for (size_t i = 0; acc && i < r->n; i++)
        if (!isnan(r->v[i].test_acc))
            acc[na++] = r->v[i].test_acc;
    if (s == MZ_OK && na) {
        qsort(acc, na, sizeof(double), cmp_double);
        json_object_set_new(o, "last_epoch_test_acc", stats_json(acc, na));
    }
    json_t *by_hp = json_object();
    for (int h = 0; s == MZ_OK && h < N_HP && na; h++) {
        json_t *vals = json_object();
        for (size_t i = 0; i < r->n; i++) {
            const char *v = r->v[i].hp[h];
            if (json_object_get(vals, v) || isnan(r->v[i].test_acc))
                continue;
            size_t m;
            double med = median_where(r, h, v, acc, &m);
            json_object_set_new(
                vals, v, json_pack("{s:f,s:I}", "median_test_acc", med, "models", (json_int_t)m));
        }
        if (json_object_size(vals) >= 2)
            json_object_set_new(by_hp, hp_names[h], vals);
        else
            json_decref(vals);
    }
    json_object_set_new(o, "last_epoch_test_acc_by", by_hp);
    free(acc);
    if (s == MZ_OK)
        s = epochs_json(st, o, err);
    if (s == MZ_OK) {
        char *text = mz_json_dumps(o, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
        if (!text)
            s = mz_fail(err, MZ_ENOMEM, "out of memory");
        else
            printf("%s\n", text);
        free(text);
    }
    json_decref(o);
    return s;
}

/* ---- --metrics ---- */

/* A CSV field: quoted (quotes doubled) when it holds a comma, quote or line break. */
static void csv_field(FILE *f, const char *v)
{
    if (!v)
        return;
    if (!strpbrk(v, ",\"\r\n")) {
        fputs(v, f);
        return;
    }
    fputc('"', f);
    for (const char *p = v; *p; p++) {
        if (*p == '"')
            fputc('"', f);
        fputc(*p, f);
    }
    fputc('"', f);
}

typedef struct csv_out {
    FILE *f;
    int header_done;
} csv_out;

static int csv_row(void *ctx, int ncol, const char *const *val, const char *const *names)
{
    csv_out *o = ctx;
    if (!o->header_done) {
        for (int i = 0; i < ncol; i++)
            fprintf(o->f, "%s%s", i ? "," : "", names[i]);
        fputc('\n', o->f);
        o->header_done = 1;
    }
    for (int i = 0; i < ncol; i++) {
        if (i)
            fputc(',', o->f);
        csv_field(o->f, val[i]);
    }
    fputc('\n', o->f);
    return ferror(o->f) != 0;
}

/* One row per model and epoch, with the model's hyperparameters; empty fields for NULL. */
static mz_status info_metrics(mz_store *st, const char *out, mz_error *err)
{
    int v2 = mz_store_schema_version(st) >= 2;
    const char *cols =
        v2 ? "m.id AS model_id, e.epoch, m.variant, m.activation, m.init, m.optimizer, m.lr, "
             "m.weight_decay, m.dropout, m.momentum, m.nesterov, m.seed, m.status, m.hparams, "
             "m.source_id, m.source_epoch, e.train_loss, e.train_acc, e.val_loss, e.val_acc, "
             "e.test_loss, e.test_acc, e.sparsity"
           : "m.id AS model_id, e.epoch, m.variant, m.activation, m.init, m.optimizer, m.lr, "
             "m.weight_decay, m.dropout, m.momentum, m.nesterov, m.seed, m.status, e.train_loss, "
             "e.train_acc, e.val_loss, e.val_acc, e.test_loss, e.test_acc";
    char sql[2048];
    snprintf(sql, sizeof sql,
             "SELECT %s FROM models m JOIN epochs e ON e.model_id = m.id ORDER BY m.id, e.epoch",
             cols);
    /* a file is written as FILE.tmp and renamed: an existing FILE is replaced whole or kept */
    char tmp[4096];
    int to_file = strcmp(out, "-") != 0;
    if (to_file && snprintf(tmp, sizeof tmp, "%s.tmp", out) >= (int)sizeof tmp)
        return mz_fail(err, MZ_EINVAL, "%s: path too long", out);
    FILE *f = to_file ? fopen(tmp, "w") : stdout;
    if (!f)
        return mz_fail(err, MZ_EIO, "%s: cannot write (%s)", tmp, strerror(errno));
    csv_out co = {f, 0};
    mz_status s = mz_store_query(st, sql, csv_row, &co, err);
    int bad = ferror(f);
    if (to_file)
        bad |= fclose(f) != 0;
    else
        bad |= fflush(f) != 0;
    if (s == MZ_OK && bad)
        s = mz_fail(err, MZ_EIO, "%s: write failed", to_file ? tmp : "stdout");
    if (to_file && s == MZ_OK && rename(tmp, out) != 0)
        s = mz_fail(err, MZ_EIO, "%s: cannot rename to %s (%s)", tmp, out, strerror(errno));
    if (to_file && s != MZ_OK)
        remove(tmp);
    return s;
}

static int has_row(void *ctx, int ncol, const char *const *val, const char *const *names)
{
    (void)ncol, (void)val, (void)names;
    *(int *)ctx = 1;
    return 0;
}

static int print_status(void *ctx, int ncol, const char *const *val, const char *const *names)
{
    char status[64];
    printf("  %-10s %s\n", mz_escape(status, sizeof status, val[0] ? val[0] : "?"),
           val[1] ? val[1] : "0");
    return 0;
}

static const char info_usage[] =
    "usage: mzoo info ZOO.db [--json] [--metrics FILE.csv]\n"
    "Summarises a zoo file: its recipe, models by status, test accuracy quantiles at each model's\n"
    "last epoch and per-hyperparameter medians (twin zoos: sparsity and accuracy drop).\n\n"
    "options:\n"
    "  --json              the summary as JSON on stdout, with per-epoch population statistics\n"
    "                      (n, mean, min, quantiles, max of every metric at every epoch)\n"
    "  --metrics FILE.csv  one CSV row per model and epoch with the model's hyperparameters and\n"
    "                      the epoch's metrics (- for stdout); empty fields for missing values\n";

int mz_cmd_info(int argc, char **argv)
{
    const char *path = NULL, *metrics = NULL;
    int as_json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(info_usage, stdout);
            return 0;
        } else if (!strcmp(argv[i], "--json")) {
            as_json = 1;
        } else if (!strcmp(argv[i], "--metrics") && i + 1 < argc) {
            metrics = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1]) {
            mz_cli_error("info: unknown option '%s' (try --help)", argv[i]);
            return 2;
        } else if (!path) {
            path = argv[i];
        } else {
            mz_cli_error("info: one zoo file at a time ('%s' and '%s')", path, argv[i]);
            return 2;
        }
    }
    if (!path) {
        fputs(info_usage, stderr);
        return 2;
    }
    if (as_json && metrics && !strcmp(metrics, "-")) {
        mz_cli_error("info: --json and --metrics - both write to stdout; give --metrics a file");
        return 2;
    }
    mz_error err = {0};
    mz_store *st = NULL;
    if (mz_store_open(&st, path, MZ_STORE_READ, &err) != MZ_OK) {
        mz_cli_error("%s", err.msg);
        return 1;
    }
    if (metrics && info_metrics(st, metrics, &err) != MZ_OK) {
        mz_cli_error("%s", err.msg);
        mz_store_close(st);
        return 1;
    }
    if (metrics && !as_json) {
        mz_store_close(st);
        return 0;
    }
    if (as_json) {
        rows r = {0};
        mz_status s = mz_store_query(st, last_epoch_sql, collect, &r, &err);
        if (s == MZ_OK && r.oom)
            s = mz_fail(&err, MZ_ENOMEM, "out of memory");
        if (s == MZ_OK)
            s = info_json(st, path, &r, &err);
        free(r.v);
        mz_store_close(st);
        if (s != MZ_OK) {
            mz_cli_error("%s", err.msg);
            return 1;
        }
        return 0;
    }
    char buf[256], esc[1024];
    printf("zoo ");
    mz_cli_print_escaped(stdout, path);
    putchar('\n');
    const char *keys[] = {"generator", "kind",       "dataset", "architecture",
                          "epochs",    "batch_size", "method",  "source_checkpoints",
                          "created_at"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (mz_store_meta(st, keys[i], buf, sizeof buf, NULL) == MZ_OK)
            printf("  %-13s %s\n", keys[i], mz_escape(esc, sizeof esc, buf));
    char *recipe = NULL;
    if (mz_store_recipe(st, &recipe, NULL) == MZ_OK) {
        printf("  recipe        ");
        mz_cli_print_escaped(stdout, recipe);
        putchar('\n');
        free(recipe);
    }
    printf("models by status:\n");
    mz_status s =
        mz_store_query(st, "SELECT status, count(*) FROM models GROUP BY status ORDER BY status",
                       print_status, NULL, &err);
    rows r = {0};
    if (s == MZ_OK)
        s = mz_store_query(st, last_epoch_sql, collect, &r, &err);
    if (s != MZ_OK || r.oom) {
        mz_cli_error("%s", r.oom ? "out of memory" : err.msg);
        free(r.v);
        mz_store_close(st);
        return 1;
    }
    double *acc = malloc(sizeof(double) * (r.n ? r.n : 1));
    size_t na = 0;
    int minep = 1 << 30, maxep = -1;
    for (size_t i = 0; acc && i < r.n; i++) {
        if (!isnan(r.v[i].test_acc))
            acc[na++] = r.v[i].test_acc;
        if (r.v[i].epoch < minep)
            minep = r.v[i].epoch;
        if (r.v[i].epoch > maxep)
            maxep = r.v[i].epoch;
    }
    if (na) {
        qsort(acc, na, sizeof(double), cmp_double);
        /* a Small CNN Zoo import counts training steps, not epochs (meta epoch_unit) */
        char unit[16] = "epoch";
        mz_store_meta(st, "epoch_unit", unit, sizeof unit, NULL);
        if (strcmp(unit, "step") != 0)
            snprintf(unit, sizeof unit, "epoch");
        printf("test accuracy at each model's last %s (%zu models, %ss %d..%d):\n", unit, na, unit,
               minep, maxep);
        printf("  min %.4f  q05 %.4f  q25 %.4f  median %.4f  q75 %.4f  q95 %.4f  max %.4f\n",
               acc[0], quantile(acc, na, 0.05), quantile(acc, na, 0.25), quantile(acc, na, 0.5),
               quantile(acc, na, 0.75), quantile(acc, na, 0.95), acc[na - 1]);
    } else {
        printf("no epochs committed yet\n");
    }
    /* per hyperparameter: values in first-seen order, median test accuracy of each */
    for (int h = 0; h < N_HP && na; h++) {
        char vals[64][32];
        int nv = 0;
        for (size_t i = 0; i < r.n && nv < 64; i++) {
            int seen = 0;
            for (int k = 0; k < nv && !seen; k++)
                seen = !strcmp(vals[k], r.v[i].hp[h]);
            if (!seen)
                snprintf(vals[nv++], sizeof vals[0], "%s", r.v[i].hp[h]);
        }
        if (nv < 2)
            continue;
        printf("median test accuracy by %s:\n", hp_names[h]);
        for (int k = 0; k < nv; k++) {
            size_t m;
            double med = median_where(&r, h, vals[k], acc, &m);
            if (m)
                printf("  %-16s %.4f  (%zu models)\n", vals[k], med, m);
        }
    }
    free(acc);
    free(r.v);
    char kind[32] = "";
    int twins =
        mz_store_meta(st, "kind", kind, sizeof kind, NULL) == MZ_OK && !strcmp(kind, "twin");
    if (!twins && s == MZ_OK) /* imported twins: their variational-dropout layouts say so */
        s = mz_store_query(st, "SELECT 1 FROM layout WHERE variant LIKE '%/ard' LIMIT 1", has_row,
                           &twins, &err);
    if (twins && s == MZ_OK)
        s = twin_summary(st, &err);
    mz_store_close(st);
    if (s != MZ_OK) {
        mz_cli_error("%s", err.msg);
        return 1;
    }
    return 0;
}
