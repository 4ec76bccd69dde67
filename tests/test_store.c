/* The zoo store: schema and header fields, commits and read-back, all-or-nothing transactions,
 * resume state, recipe checks, refusal of foreign files without touching them, locking, disk
 * full (simulated with SQLite's max_page_count) and read-only queries. */
#define _POSIX_C_SOURCE 200809L
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "mzoo/nn.h"
#include "mzoo/store.h"

static char tmpdir[] = "/tmp/mz_test_store_XXXXXX";
static mz_arch arch[2];
static mz_layout layouts[2];

#define N_MODELS 3

static void make_spec(mz_spec *spec, const char *recipe, const char **variant_of)
{
    memset(spec, 0, sizeof *spec);
    snprintf(spec->dataset, sizeof spec->dataset, "fashion-mnist");
    snprintf(spec->architecture, sizeof spec->architecture, "cnn-s");
    spec->epochs = 2;
    spec->batch_size = 10;
    spec->recipe = mz_strdup(recipe);
    spec->n_models = N_MODELS;
    spec->models = calloc(N_MODELS, sizeof *spec->models);
    for (int m = 0; m < N_MODELS; m++) {
        mz_model_spec *s = &spec->models[m];
        s->id = m;
        s->activation = m == 2 ? MZ_ACT_GELU : MZ_ACT_TANH;
        s->init = MZ_INIT_KAIMING_NORMAL;
        s->optimizer = m == 1 ? MZ_OPT_SGD : MZ_OPT_ADAM;
        s->lr = 1e-3;
        s->weight_decay = 1e-4;
        s->dropout = m == 2 ? 0.5 : 0;
        s->momentum = 0.9;
        s->nesterov = m == 1;
        s->seed = 100 + m;
        variant_of[m] = arch[m == 2].variant;
    }
}

static void free_spec(mz_spec *spec)
{
    free(spec->recipe);
    free(spec->models);
}

static float wval(int m, int e, int64_t j)
{
    return (float)((m + 1) * 0.001 * (double)j - e * 0.5);
}

static mz_epoch_record record(int m, int e, float *w, float *opt, int64_t np, mz_model_status s)
{
    for (int64_t j = 0; j < np; j++) {
        w[j] = wval(m, e, j);
        opt[j] = -w[j];
        opt[np + j] = w[j] * 2;
    }
    mz_epoch_record r;
    memset(&r, 0, sizeof r);
    r.model_id = m;
    r.epoch = e;
    r.train_loss = 2.5 - e;
    r.train_acc = 0.1 * e;
    r.val_loss = NAN;
    r.val_acc = NAN;
    r.test_loss = 2.0 - e;
    r.test_acc = 0.2 * e + 0.01 * m;
    r.weights = w;
    r.n_weights = np;
    r.opt_state = opt;
    r.n_opt = 2 * np;
    r.opt_step = 5000 * e + m;
    r.status = s;
    return r;
}

/* Whole-file bytes, for "nothing was written" checks. */
static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        *n = 0;
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)len + 1);
    *n = fread(b, 1, (size_t)len, f);
    fclose(f);
    return b;
}

static int same_file(const char *path, const char *bytes, size_t n)
{
    size_t m;
    char *b = slurp(path, &m);
    int same = b && m == n && !memcmp(b, bytes, n);
    free(b);
    return same;
}

static int64_t sql_int(mz_store *st, const char *sql)
{
    sqlite3 *db = mz_store_sqlite(st);
    sqlite3_stmt *q = NULL;
    int64_t v = -999;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        v = sqlite3_column_type(q, 0) == SQLITE_NULL ? -777 : sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return v;
}

static int count_rows(void *ctx, int ncol, const char *const *v, const char *const *names)
{
    (void)ncol, (void)v, (void)names;
    (*(int *)ctx)++;
    return 0;
}

static void test_create_and_commit(const char *path)
{
    mz_error err = {0};
    mz_spec spec;
    const char *variant_of[N_MODELS];
    make_spec(&spec, "{\"epochs\":2,\"grid\":{\"lr\":[0.001]}}", variant_of);
    mz_store *st = NULL;
    CHECK_OK(mz_store_open(&st, path, MZ_STORE_WRITE, &err), &err);
    CHECK_OK(mz_store_attach(st, &spec, variant_of, layouts, 2, &err), &err);

    CHECK_EQ_INT(sql_int(st, "PRAGMA application_id"), 0x6d7a6f6f);
    CHECK_EQ_INT(sql_int(st, "PRAGMA user_version"), MZ_SCHEMA_VERSION);
    CHECK_EQ_INT(sql_int(st, "SELECT count(*) FROM models"), N_MODELS);
    CHECK_EQ_INT(sql_int(st, "SELECT count(*) FROM models WHERE status = 'pending' AND "
                             "epochs_done = -1"),
                 N_MODELS);
    CHECK_EQ_INT(sql_int(st, "SELECT nesterov FROM models WHERE id = 1"), 1);
    CHECK_EQ_INT(sql_int(st, "SELECT seed FROM models WHERE id = 2"), 102);
    CHECK_EQ_INT(sql_int(st, "SELECT count(*) FROM models WHERE id = 2 AND activation = 'gelu' AND "
                             "init = 'kaiming_normal' AND dropout = 0.5"),
                 1);
    CHECK_EQ_INT(sql_int(st, "SELECT count(*) FROM models WHERE id = 1 AND optimizer = 'sgd' AND "
                             "lr = 0.001 AND weight_decay = 0.0001 AND momentum = 0.9"),
                 1);
    CHECK_EQ_INT(sql_int(st, "SELECT count(*) FROM layout"), arch[0].n_tensors + arch[1].n_tensors);
    char buf[256];
    CHECK_OK(mz_store_meta(st, "generator", buf, sizeof buf, &err), &err);
    CHECK(!strncmp(buf, "mzoo ", 5));
    CHECK_OK(mz_store_meta(st, "epochs", buf, sizeof buf, &err), &err);
    CHECK(!strcmp(buf, "2"));
    CHECK_EQ_INT(mz_store_meta(st, "nonexistent", buf, sizeof buf, &err), MZ_ENOTFOUND);

    /* layout round trip: names, shapes and offsets as the architecture gives them */
    for (int v = 0; v < 2; v++) {
        mz_tensor_desc *t = NULL;
        int n = 0;
        CHECK_OK(mz_store_layout(st, arch[v].variant, &t, &n, &err), &err);
        CHECK_EQ_INT(n, arch[v].n_tensors);
        for (int k = 0; k < n && k < arch[v].n_tensors; k++) {
            CHECK(!strcmp(t[k].name, arch[v].tensors[k].name));
            CHECK_EQ_INT(t[k].offset, arch[v].tensors[k].offset);
            CHECK_EQ_INT(t[k].count, arch[v].tensors[k].count);
            CHECK_EQ_INT(t[k].ndim, arch[v].tensors[k].ndim);
        }
        free(t);
    }
    /* the dropout variant's names are shifted (module_list.4 vs .3 for the second conv) */
    CHECK(strcmp(arch[0].tensors[2].name, arch[1].tensors[2].name) != 0);

    int64_t np0 = arch[0].n_params, np1 = arch[1].n_params;
    CHECK_EQ_INT(np0, np1);
    int64_t np = np0;
    float *w = malloc(sizeof(float) * (size_t)np * N_MODELS),
          *opt = malloc(sizeof(float) * (size_t)np * 2 * N_MODELS);
    mz_epoch_record r[N_MODELS];
    for (int m = 0; m < N_MODELS; m++)
        r[m] = record(m, 0, w + m * np, opt + 2 * m * np, np, MZ_MODEL_RUNNING);
    CHECK_OK(mz_store_commit(st, r, N_MODELS, &err), &err);
    CHECK_EQ_INT(sql_int(st, "SELECT count(*) FROM epochs"), N_MODELS);
    CHECK_EQ_INT(sql_int(st, "SELECT val_loss FROM epochs WHERE model_id = 0"), -777); /* NULL */
    CHECK_EQ_INT(sql_int(st, "SELECT length(weights) FROM epochs WHERE model_id = 1"), np * 4);
    CHECK_EQ_INT(sql_int(st, "SELECT count(*) FROM models WHERE status = 'running' AND "
                             "epochs_done = 0"),
                 N_MODELS);

    /* all or nothing: a batch with a duplicate (model 1, epoch 0) leaves no trace */
    mz_epoch_record bad[2];
    bad[0] = record(0, 1, w, opt, np, MZ_MODEL_RUNNING);
    bad[1] = record(1, 0, w + np, opt + 2 * np, np, MZ_MODEL_RUNNING);
    mz_status s = mz_store_commit(st, bad, 2, &err);
    CHECK_MSG(s != MZ_OK, "duplicate epoch row accepted");
    CHECK_EQ_INT(sql_int(st, "SELECT count(*) FROM epochs"), N_MODELS);
    CHECK_EQ_INT(sql_int(st, "SELECT epochs_done FROM models WHERE id = 0"), 0);

    /* epoch 1: model 0 finishes early (diverged, message kept), model 1 runs on */
    r[0] = record(0, 1, w, opt, np, MZ_MODEL_DIVERGED);
    r[0].message = "train loss is NaN at epoch 1";
    r[0].train_loss = INFINITY;
    r[1] = record(1, 1, w + np, opt + 2 * np, np, MZ_MODEL_RUNNING);
    CHECK_OK(mz_store_commit(st, r, 2, &err), &err);
    CHECK_EQ_INT(sql_int(st, "SELECT train_loss FROM epochs WHERE model_id = 0 AND epoch = 1"),
                 -777);
    CHECK_EQ_INT(sql_int(st, "SELECT count(*) FROM resume WHERE model_id = 0"), 0);
    CHECK_EQ_INT(sql_int(st, "SELECT count(*) FROM resume"), 2);
    CHECK_EQ_INT(sql_int(st, "SELECT count(*) FROM models WHERE id = 0 AND status = 'diverged' AND "
                             "message LIKE '%NaN%'"),
                 1);
    CHECK_OK(mz_store_set_status(st, 2, MZ_MODEL_FAILED, "no memory", &err), &err);
    CHECK_EQ_INT(sql_int(st, "SELECT count(*) FROM resume WHERE model_id = 2"), 0);
    CHECK_EQ_INT(mz_store_set_status(st, 99, MZ_MODEL_FAILED, NULL, &err), MZ_EINVAL);

    /* read-back: weights and resume state bit for bit */
    float *back = malloc(sizeof(float) * (size_t)np * 3);
    CHECK_OK(mz_store_read_weights(st, 1, 1, back, np, &err), &err);
    CHECK(!memcmp(back, w + np, sizeof(float) * (size_t)np));
    CHECK_EQ_INT(mz_store_read_weights(st, 1, 2, back, np, &err), MZ_ENOTFOUND);
    CHECK_EQ_INT(mz_store_read_weights(st, 1, 1, back, np - 1, &err), MZ_EFORMAT);
    int ep = -1;
    int64_t step = -1;
    CHECK_OK(mz_store_load_resume(st, 1, &ep, back, np, back + np, 2 * np, &step, &err), &err);
    CHECK_EQ_INT(ep, 1);
    CHECK_EQ_INT(step, 5001);
    CHECK(!memcmp(back, w + np, sizeof(float) * (size_t)np));
    CHECK(!memcmp(back + np, opt + 2 * np, sizeof(float) * (size_t)np * 2));
    CHECK_EQ_INT(mz_store_load_resume(st, 1, &ep, back, np, back + np, np, &step, &err),
                 MZ_EFORMAT);
    CHECK_EQ_INT(mz_store_load_resume(st, 0, &ep, back, np, back + np, 2 * np, &step, &err),
                 MZ_EFORMAT);

    mz_model_progress pr[N_MODELS];
    CHECK_OK(mz_store_progress(st, pr, N_MODELS, &err), &err);
    CHECK_EQ_INT(pr[0].status, MZ_MODEL_DIVERGED);
    CHECK_EQ_INT(pr[1].status, MZ_MODEL_RUNNING);
    CHECK_EQ_INT(pr[1].epochs_done, 1);
    CHECK_EQ_INT(pr[2].status, MZ_MODEL_FAILED);
    CHECK_EQ_INT(pr[2].epochs_done, 0);
    CHECK_EQ_INT(mz_store_progress(st, pr, N_MODELS - 1, &err), MZ_EFORMAT);

    mz_store_summary sum;
    CHECK_OK(mz_store_summary_get(st, &sum, &err), &err);
    CHECK_EQ_INT(sum.n_models, N_MODELS);
    CHECK_EQ_INT(sum.by_status[MZ_MODEL_RUNNING], 1);
    CHECK_EQ_INT(sum.n_epoch_rows, 5);
    CHECK_EQ_INT(sum.max_epoch, 2);

    int rows = 0;
    CHECK_OK(mz_store_query(st, "SELECT id FROM models", count_rows, &rows, &err), &err);
    CHECK_EQ_INT(rows, N_MODELS);
    CHECK_EQ_INT(mz_store_query(st, "DELETE FROM models", count_rows, &rows, &err), MZ_EINVAL);
    CHECK_EQ_INT(sql_int(st, "SELECT count(*) FROM models"), N_MODELS);

    /* a second writer is refused while this one holds the file; readers are welcome */
    mz_store *st2 = NULL;
    CHECK_EQ_INT(mz_store_open(&st2, path, MZ_STORE_WRITE, &err), MZ_EBUSY);
    CHECK(strstr(err.msg, "locked") != NULL);
    CHECK_OK(mz_store_open(&st2, path, MZ_STORE_READ, &err), &err);
    if (st2) {
        CHECK_OK(mz_store_read_weights(st2, 1, 1, back, np, &err), &err);
        CHECK(!memcmp(back, w + np, sizeof(float) * (size_t)np));
        mz_store_close(st2);
    }

    /* disk full: SQLite reports SQLITE_FULL once the page limit is hit; the commit rolls back */
    sqlite3_exec(mz_store_sqlite(st), "VACUUM", NULL, NULL, NULL); /* no free pages left */
    int64_t pages = sql_int(st, "PRAGMA page_count");
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA max_page_count = %lld", (long long)pages);
    sqlite3_exec(mz_store_sqlite(st), sql, NULL, NULL, NULL);
    r[0] = record(1, 2, w, opt, np, MZ_MODEL_DONE);
    CHECK_EQ_INT(mz_store_commit(st, r, 1, &err), MZ_ENOSPC);
    CHECK(strstr(err.msg, "disk full") != NULL);
    CHECK_EQ_INT(sql_int(st, "SELECT epochs_done FROM models WHERE id = 1"), 1);
    CHECK_EQ_INT(sql_int(st, "SELECT count(*) FROM epochs"), 5);
    sqlite3_exec(mz_store_sqlite(st), "PRAGMA max_page_count = 1073741823", NULL, NULL, NULL);
    CHECK_OK(mz_store_commit(st, r, 1, &err), &err);
    CHECK_EQ_INT(sql_int(st, "SELECT count(*) FROM models WHERE status = 'done'"), 1);
    mz_store_close(st);

    /* reopen: same recipe attaches; a different one is refused naming the key, file unchanged */
    size_t n0;
    char *before = slurp(path, &n0);
    CHECK_OK(mz_store_open(&st, path, MZ_STORE_WRITE, &err), &err);
    CHECK_OK(mz_store_attach(st, &spec, variant_of, layouts, 2, &err), &err);
    mz_store_close(st);
    mz_spec other;
    const char *vo2[N_MODELS];
    make_spec(&other, "{\"epochs\":2,\"grid\":{\"lr\":[0.0003]}}", vo2);
    CHECK_OK(mz_store_open(&st, path, MZ_STORE_WRITE, &err), &err);
    CHECK_EQ_INT(mz_store_attach(st, &other, vo2, layouts, 2, &err), MZ_EMISMATCH);
    CHECK_MSG(strstr(err.msg, "grid.lr[0]") && strstr(err.msg, "0.001") &&
                  strstr(err.msg, "0.0003"),
              "%s", err.msg);
    mz_store_close(st);
    CHECK(same_file(path, before, n0));
    free(before);
    free_spec(&other);

    /* a newer schema is refused */
    sqlite3 *db = NULL;
    sqlite3_open(path, &db);
    sqlite3_exec(db, "PRAGMA user_version = 2", NULL, NULL, NULL);
    sqlite3_close(db);
    CHECK_EQ_INT(mz_store_open(&st, path, MZ_STORE_READ, &err), MZ_EFORMAT);
    CHECK(strstr(err.msg, "newer") != NULL);
    free(back);
    free(w);
    free(opt);
    free_spec(&spec);
}

static void test_foreign_files(void)
{
    mz_error err = {0};
    mz_store *st = NULL;
    char path[512];

    snprintf(path, sizeof path, "%s/missing.db", tmpdir);
    CHECK_EQ_INT(mz_store_open(&st, path, MZ_STORE_READ, &err), MZ_ENOTFOUND);
    CHECK(access(path, F_OK) != 0);

    /* a text file */
    snprintf(path, sizeof path, "%s/notes.txt", tmpdir);
    FILE *f = fopen(path, "wb");
    fputs("my precious notes, not a zoo\n", f);
    fclose(f);
    size_t n;
    char *before = slurp(path, &n);
    CHECK_EQ_INT(mz_store_open(&st, path, MZ_STORE_WRITE, &err), MZ_EFORMAT);
    CHECK(strstr(err.msg, "not a zoo") != NULL);
    CHECK(same_file(path, before, n));
    free(before);

    /* another program's SQLite database */
    snprintf(path, sizeof path, "%s/other.db", tmpdir);
    sqlite3 *db = NULL;
    sqlite3_open(path, &db);
    sqlite3_exec(db, "CREATE TABLE t(x); INSERT INTO t VALUES (42);", NULL, NULL, NULL);
    sqlite3_close(db);
    before = slurp(path, &n);
    CHECK_EQ_INT(mz_store_open(&st, path, MZ_STORE_WRITE, &err), MZ_EFORMAT);
    CHECK(strstr(err.msg, "application_id") != NULL);
    CHECK(same_file(path, before, n));
    free(before);

    /* an empty file may become a zoo */
    snprintf(path, sizeof path, "%s/empty.db", tmpdir);
    f = fopen(path, "wb");
    fclose(f);
    mz_spec spec;
    const char *variant_of[N_MODELS];
    make_spec(&spec, "{}", variant_of);
    CHECK_OK(mz_store_open(&st, path, MZ_STORE_WRITE, &err), &err);
    if (st) {
        CHECK_OK(mz_store_attach(st, &spec, variant_of, layouts, 2, &err), &err);
        CHECK_EQ_INT(sql_int(st, "PRAGMA journal_mode") == -999, 0);
        mz_store_close(st);
    }
    /* a truncated zoo is not intact */
    before = slurp(path, &n);
    f = fopen(path, "wb");
    fwrite(before, 1, 100, f);
    fclose(f);
    free(before);
    st = NULL;
    mz_status s = mz_store_open(&st, path, MZ_STORE_READ, &err);
    CHECK_MSG(s == MZ_EFORMAT, "truncated zoo: status %d (%s)", s, err.msg);
    mz_store_close(st);
    free_spec(&spec);

    /* read-only file: only meaningful when permissions apply to us */
    if (geteuid() != 0) {
        snprintf(path, sizeof path, "%s/ro.db", tmpdir);
        make_spec(&spec, "{}", variant_of);
        CHECK_OK(mz_store_open(&st, path, MZ_STORE_WRITE, &err), &err);
        CHECK_OK(mz_store_attach(st, &spec, variant_of, layouts, 2, &err), &err);
        mz_store_close(st);
        chmod(path, 0444);
        CHECK_EQ_INT(mz_store_open(&st, path, MZ_STORE_WRITE, &err), MZ_EREADONLY);
        CHECK_OK(mz_store_open(&st, path, MZ_STORE_READ, &err), &err);
        mz_store_close(st);
        free_spec(&spec);
    }
}

int main(void)
{
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    mz_error err = {0};
    CHECK_OK(mz_arch_init(&arch[0], "cnn-s", 1, 28, 28, 0, &err), &err);
    CHECK_OK(mz_arch_init(&arch[1], "cnn-s", 1, 28, 28, 0.5, &err), &err);
    for (int v = 0; v < 2; v++) {
        memset(&layouts[v], 0, sizeof layouts[v]);
        snprintf(layouts[v].variant, sizeof layouts[v].variant, "%s", arch[v].variant);
        layouts[v].n_tensors = arch[v].n_tensors;
        layouts[v].tensors = arch[v].tensors;
        layouts[v].n_params = arch[v].n_params;
    }
    char path[512];
    snprintf(path, sizeof path, "%s/zoo.db", tmpdir);
    test_create_and_commit(path);
    test_foreign_files();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return check_summary("test_store");
}
