/* mzoo info ZOO.db: models by status, test accuracy quantiles at each model's last epoch, and the
 * median test accuracy per value of every hyperparameter that varies; --metrics FILE: every
 * (model, epoch) row with its metrics and hyperparameters as CSV. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* ---- --metrics FILE: one CSV row per (model, epoch) ---- */

typedef struct csv_out {
    FILE *f;
    int n_cols;
} csv_out;

/* A text field, quoted when it holds a comma, a quote or a line break (RFC 4180). */
static void csv_text(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
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

static int csv_row(void *ctx, int64_t model_id, int epoch, const char *variant, int keep,
                   const mz_store_value *vals)
{
    (void)keep;
    csv_out *o = ctx;
    fprintf(o->f, "%lld,%d,", (long long)model_id, epoch);
    csv_text(o->f, variant);
    for (int i = 0; i < o->n_cols; i++) {
        fputc(',', o->f);
        char num[40];
        if (vals[i].null)
            continue;
        if (vals[i].text)
            csv_text(o->f, vals[i].text);
        else
            fputs(mz_format_double(num, sizeof num, vals[i].num), o->f);
    }
    fputc('\n', o->f);
    return ferror(o->f) != 0;
}

/* Every (model, epoch) row of the zoo with its metrics and the model's hyperparameters, as CSV
 * into path ("-": standard output), written to path.tmp and renamed. */
static mz_status write_metrics(mz_store *st, const char *path, mz_error *err)
{
    mz_store_column cols[96];
    int n = 0;
    mz_status s = mz_store_columns(st, cols, 96, &n, err);
    if (s != MZ_OK)
        return s;
    int to_stdout = !strcmp(path, "-");
    char tmp[4200];
    if (!to_stdout && (size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
        return mz_fail(err, MZ_ELIMIT, "--metrics: path too long");
    FILE *f = to_stdout ? stdout : fopen(tmp, "w");
    if (!f)
        return mz_fail(err, MZ_EIO, "%s: cannot create", tmp);
    fputs("model_id,epoch,variant", f);
    for (int i = 0; i < n; i++) {
        fputc(',', f);
        csv_text(f, cols[i].name);
    }
    fputc('\n', f);
    csv_out o = {f, n};
    mz_store_selection sel = {NULL, 0, cols, n, 0};
    s = mz_store_select(st, &sel, csv_row, &o, err);
    if (s == MZ_OK && (ferror(f) || fflush(f) != 0))
        s = mz_fail(err, MZ_EIO, "%s: write failed", to_stdout ? "standard output" : tmp);
    if (!to_stdout) {
        if (fclose(f) != 0 && s == MZ_OK)
            s = mz_fail(err, MZ_EIO, "%s: write failed", tmp);
        if (s == MZ_OK && rename(tmp, path) != 0)
            s = mz_fail(err, MZ_EIO, "%s: cannot rename %s to it", path, tmp);
        if (s != MZ_OK)
            remove(tmp);
    }
    return s;
}

/* ---- --json: the summary for programs ---- */

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void json_num(FILE *f, double v)
{
    char buf[40];
    if (isfinite(v))
        fputs(mz_format_double(buf, sizeof buf, v), f);
    else
        fputs("null", f); /* NaN and infinities (diverged models) have no JSON number */
}

/* {"n": .., "min": .., "q05": .., ..., "max": ..} of v[0..n-1] (sorted here). */
static void json_quantiles(FILE *f, double *v, size_t n)
{
    static const double q[] = {0.05, 0.25, 0.5, 0.75, 0.95};
    static const char *const qn[] = {"q05", "q25", "median", "q75", "q95"};
    qsort(v, n, sizeof *v, cmp_double);
    fprintf(f, "{\"n\": %zu", n);
    if (n) {
        fputs(", \"min\": ", f);
        json_num(f, v[0]);
        for (int k = 0; k < 5; k++) {
            fprintf(f, ", \"%s\": ", qn[k]);
            json_num(f, quantile(v, n, q[k]));
        }
        fputs(", \"max\": ", f);
        json_num(f, v[n - 1]);
    }
    fputc('}', f);
}

typedef struct epoch_vals {
    int *epoch;
    double *v[4]; /* test_acc, val_acc, train_acc, test_loss */
    size_t n, cap;
    int oom;
} epoch_vals;

static int collect_epoch(void *ctx, int ncol, const char *const *val, const char *const *names)
{
    (void)ncol, (void)names;
    epoch_vals *e = ctx;
    if (e->n == e->cap) {
        size_t cap = e->cap ? 2 * e->cap : 1024;
        int *ep = realloc(e->epoch, cap * sizeof *ep);
        if (!ep) {
            e->oom = 1;
            return 1;
        }
        e->epoch = ep;
        for (int k = 0; k < 4; k++) {
            double *d = realloc(e->v[k], cap * sizeof *d);
            if (!d) {
                e->oom = 1;
                return 1;
            }
            e->v[k] = d;
        }
        e->cap = cap;
    }
    e->epoch[e->n] = val[0] ? (int)strtol(val[0], NULL, 10) : -1;
    for (int k = 0; k < 4; k++)
        e->v[k][e->n] = val[1 + k] ? strtod(val[1 + k], NULL) : NAN;
    e->n++;
    return 0;
}

/* The finite values of v[from..to-1] into out; their count. */
static size_t finite(const double *v, size_t from, size_t to, double *out)
{
    size_t m = 0;
    for (size_t i = from; i < to; i++)
        if (isfinite(v[i]))
            out[m++] = v[i];
    return m;
}

static int json_status(void *ctx, int ncol, const char *const *val, const char *const *names)
{
    (void)ncol, (void)names;
    int *first = ctx;
    fprintf(stdout, "%s", *first ? "" : ", ");
    *first = 0;
    json_str(stdout, val[0] ? val[0] : "?");
    fprintf(stdout, ": %s", val[1] ? val[1] : "0");
    return 0;
}

/* The summary as one JSON object on stdout: the file, its meta rows and recipe (as text), models
 * by status, test accuracy quantiles at each model's last epoch and per hyperparameter value, and
 * per epoch the population's statistics over the models that reached it. */
static mz_status info_json(mz_store *st, const char *path, mz_error *err)
{
    FILE *f = stdout;
    fputs("{\"zoo\": ", f);
    json_str(f, path);
    const char *keys[] = {"generator", "kind",       "dataset", "architecture",
                          "epochs",    "batch_size", "method",  "source_checkpoints",
                          "created_at"};
    char buf[256];
    fputs(", \"meta\": {", f);
    int first = 1;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (mz_store_meta(st, keys[i], buf, sizeof buf, NULL) == MZ_OK) {
            fprintf(f, "%s\"%s\": ", first ? "" : ", ", keys[i]);
            json_str(f, buf);
            first = 0;
        }
    fputs("}, \"recipe\": ", f);
    char *recipe = NULL;
    if (mz_store_recipe(st, &recipe, NULL) == MZ_OK)
        json_str(f, recipe);
    else
        fputs("null", f);
    free(recipe);
    fputs(", \"models_by_status\": {", f);
    first = 1;
    mz_status s = mz_store_query(
        st, "SELECT status, count(*) FROM models GROUP BY status ORDER BY status", json_status,
        &first, err);
    fputc('}', f);
    rows r = {0};
    if (s == MZ_OK)
        s = mz_store_query(
            st,
            "SELECT m.activation, m.init, m.optimizer, m.lr, m.weight_decay, m.dropout, "
            "m.momentum, m.nesterov, e.epoch, e.test_acc FROM models m JOIN epochs e "
            "ON e.model_id = m.id AND e.epoch = m.epochs_done ORDER BY m.id",
            collect, &r, err);
    epoch_vals ev = {0};
    if (s == MZ_OK)
        s = mz_store_query(st,
                           "SELECT epoch, test_acc, val_acc, train_acc, test_loss FROM epochs "
                           "ORDER BY epoch",
                           collect_epoch, &ev, err);
    size_t cap = r.n > ev.n ? r.n : ev.n;
    double *tmp = malloc((cap ? cap : 1) * sizeof *tmp);
    if (s == MZ_OK && (r.oom || ev.oom || !tmp))
        s = mz_fail(err, MZ_ENOMEM, "out of memory");
    if (s == MZ_OK) {
        size_t m = 0;
        for (size_t i = 0; i < r.n; i++)
            if (isfinite(r.v[i].test_acc))
                tmp[m++] = r.v[i].test_acc;
        fputs(", \"last_epoch_test_acc\": ", f);
        json_quantiles(f, tmp, m);
        fputs(", \"median_test_acc_by\": {", f);
        int firsth = 1;
        for (int h = 0; h < N_HP; h++) {
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
            fprintf(f, "%s\"%s\": {", firsth ? "" : ", ", hp_names[h]);
            firsth = 0;
            for (int k = 0; k < nv; k++) {
                m = 0;
                for (size_t i = 0; i < r.n; i++)
                    if (!strcmp(r.v[i].hp[h], vals[k]) && isfinite(r.v[i].test_acc))
                        tmp[m++] = r.v[i].test_acc;
                qsort(tmp, m, sizeof *tmp, cmp_double);
                fprintf(f, "%s", k ? ", " : "");
                json_str(f, vals[k]);
                fputs(": {\"models\": ", f);
                fprintf(f, "%zu, \"median\": ", m);
                json_num(f, m ? quantile(tmp, m, 0.5) : NAN);
                fputc('}', f);
            }
            fputc('}', f);
        }
        fputs("}, \"epochs\": [", f);
        static const char *const vn[4] = {"test_acc", "val_acc", "train_acc", "test_loss"};
        for (size_t a = 0, b; a < ev.n; a = b) {
            for (b = a; b < ev.n && ev.epoch[b] == ev.epoch[a]; b++)
                ;
            fprintf(f, "%s{\"epoch\": %d, \"rows\": %zu", a ? ", " : "", ev.epoch[a], b - a);
            for (int k = 0; k < 4; k++) {
                fprintf(f, ", \"%s\": ", vn[k]);
                json_quantiles(f, tmp, finite(ev.v[k], a, b, tmp));
            }
            fputc('}', f);
        }
        fputs("]}\n", f);
    }
    free(tmp);
    free(r.v);
    free(ev.epoch);
    for (int k = 0; k < 4; k++)
        free(ev.v[k]);
    return s;
}

static const char info_usage[] =
    "usage: mzoo info ZOO.db [--json] [--metrics FILE.csv]\n"
    "Summarises a zoo file: its recipe, models by status, test accuracy quantiles at each model's\n"
    "last epoch and per-hyperparameter medians.\n\n"
    "options:\n"
    "  --json          the summary as one JSON object (meta, recipe, models by status, test\n"
    "                  accuracy quantiles at the last epoch and by hyperparameter value, and per\n"
    "                  epoch the quantiles of test_acc, val_acc, train_acc and test_loss)\n"
    "  --metrics FILE  also write one CSV row per model and epoch: model_id, epoch, variant, the\n"
    "                  epoch's metrics and the model's hyperparameters (FILE - : standard output,\n"
    "                  and no summary)\n";

int mz_cmd_info(int argc, char **argv)
{
    const char *path = NULL, *metrics = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(info_usage, stdout);
            return 0;
        } else if (!strcmp(argv[i], "--metrics") && i + 1 < argc) {
            metrics = argv[++i];
        } else if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (argv[i][0] == '-') {
            mz_cli_error("info: unknown or incomplete option '%s'", argv[i]);
            fputs(info_usage, stderr);
            return 2;
        } else if (!path) {
            path = argv[i];
        } else {
            mz_cli_error("info: unexpected argument '%s'", argv[i]);
            fputs(info_usage, stderr);
            return 2;
        }
    }
    if (!path) {
        mz_cli_error("info: missing ZOO.db");
        fputs(info_usage, stderr);
        return 2;
    }
    mz_error err = {0};
    mz_store *st = NULL;
    if (mz_store_open(&st, path, MZ_STORE_READ, &err) != MZ_OK) {
        mz_cli_error("%s", err.msg);
        return 1;
    }
    if (metrics) {
        mz_status ms = write_metrics(st, metrics, &err);
        if (ms != MZ_OK || !strcmp(metrics, "-")) {
            if (ms != MZ_OK)
                mz_cli_error("%s", err.msg);
            mz_store_close(st);
            return ms == MZ_OK ? 0 : 1;
        }
    }
    if (json) {
        if (metrics && !strcmp(metrics, "-")) {
            mz_cli_error("info: --json and --metrics - both write to standard output");
            mz_store_close(st);
            return 2;
        }
        mz_status js = info_json(st, path, &err);
        mz_store_close(st);
        if (js != MZ_OK)
            mz_cli_error("%s", err.msg);
        return js == MZ_OK ? 0 : 1;
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
        s = mz_store_query(
            st,
            "SELECT m.activation, m.init, m.optimizer, m.lr, m.weight_decay, m.dropout, "
            "m.momentum, m.nesterov, e.epoch, e.test_acc FROM models m JOIN epochs e "
            "ON e.model_id = m.id AND e.epoch = m.epochs_done ORDER BY m.id",
            collect, &r, &err);
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
        printf("test accuracy at each model's last epoch (%zu models, epochs %d..%d):\n", na, minep,
               maxep);
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
            size_t m = 0;
            for (size_t i = 0; i < r.n; i++)
                if (!strcmp(r.v[i].hp[h], vals[k]) && !isnan(r.v[i].test_acc))
                    acc[m++] = r.v[i].test_acc;
            if (!m)
                continue;
            qsort(acc, m, sizeof(double), cmp_double);
            printf("  %-16s %.4f  (%zu models)\n", vals[k], quantile(acc, m, 0.5), m);
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
