/* The zoo store: schema and header fields, commits and read-back, all-or-nothing transactions,
 * resume state, checksums, recipe checks, refusal of foreign files without touching them (also
 * SQLite files whose header page count is 0), crafted layout and progress rows, locking, disk
 * full (simulated with SQLite's max_page_count), reads that change nothing beside the file, the
 * WAL folded at close, and the upgrade of a schema-1 file. */
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
#include "mzoo/train.h"
#include "store/store-impl.h"

static char tmpdir[] = "/tmp/mz_test_store_XXXXXX";
static mz_arch arch[2];
static mz_layout layouts[2];

#define N_MODELS 3

typedef struct zoo {
    mz_spec spec;
    const char *variant_of[N_MODELS];
    mz_grid_desc g;
} zoo;

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

/* A grid zoo's description from make_spec. */
static const mz_zoo_desc *make_zoo(zoo *z, const char *recipe)
{
    mz_error err = {0};
    make_spec(&z->spec, recipe, z->variant_of);
    CHECK_OK(mz_grid_desc_make(&z->g, &z->spec, z->variant_of, layouts, 2, &err), &err);
    return &z->g.desc;
}

static void free_zoo(zoo *z)
{
    mz_grid_desc_release(&z->g);
    free_spec(&z->spec);
}

/* A status change without an epoch (what mz_store_set_status was). */
static mz_status set_status(mz_store *st, int64_t id, mz_model_status status, const char *msg,
                            mz_error *err)
{
    mz_epoch_record r;
    memset(&r, 0, sizeof r);
    r.model_id = id;
    r.epoch = -1;
    r.status_only = 1;
    r.status = status;
    r.message = msg;
    return mz_store_commit(st, &r, 1, err);
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

static const char *wal_of(const char *path)
{
    static char b[600];
    snprintf(b, sizeof b, "%s-wal", path);
    return b;
}

static const char *shm_of(const char *path)
{
    static char b[600];
    snprintf(b, sizeof b, "%s-shm", path);
    return b;
}

/* Runs sql on the file through a connection of its own; returns the SQLite result code. */
static int file_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open(path, &db);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_close(db);
    return rc;
}

static int64_t sql_int(mz_store *st, const char *sql)
{
    sqlite3 *db = mz_store_handle(st);
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
    zoo z;
    const mz_zoo_desc *desc = make_zoo(&z, "{\"epochs\":2,\"grid\":{\"lr\":[0.001]}}");
    mz_store *st = NULL;
    CHECK_OK(mz_store_open(&st, path, MZ_STORE_WRITE, &err), &err);
    CHECK_OK(mz_store_attach(st, desc, &err), &err);

    CHECK_EQ_INT(sql_int(st, "PRAGMA application_id"), 0x6d7a6f6f);
    CHECK_EQ_INT(sql_int(st, "PRAGMA user_version"), MZ_SCHEMA_VERSION);
    CHECK_EQ_INT(mz_store_has_absmax(st), 1);
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
        int64_t total = 0;
        CHECK_OK(mz_store_layout(st, arch[v].variant, &t, &n, &total, &err), &err);
        CHECK_EQ_INT(total, arch[v].n_params);
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
    CHECK_OK(set_status(st, 2, MZ_MODEL_FAILED, "no memory", &err), &err);
    CHECK_EQ_INT(sql_int(st, "SELECT count(*) FROM resume WHERE model_id = 2"), 0);
    CHECK_EQ_INT(set_status(st, 99, MZ_MODEL_FAILED, NULL, &err), MZ_EINVAL);
    /* every blob is written with its crc32 */
    CHECK_EQ_INT(sql_int(st, "SELECT count(*) FROM epochs WHERE weights_crc32 IS NULL"), 0);
    CHECK_EQ_INT(sql_int(st, "SELECT count(*) FROM resume WHERE opt_crc32 IS NULL"), 0);

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
    sqlite3_exec(mz_store_handle(st), "VACUUM", NULL, NULL, NULL); /* no free pages left */
    int64_t pages = sql_int(st, "PRAGMA page_count");
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA max_page_count = %lld", (long long)pages);
    sqlite3_exec(mz_store_handle(st), sql, NULL, NULL, NULL);
    r[0] = record(1, 2, w, opt, np, MZ_MODEL_DONE);
    CHECK_EQ_INT(mz_store_commit(st, r, 1, &err), MZ_ENOSPC);
    CHECK(strstr(err.msg, "disk full") != NULL && strstr(err.msg, "-wal") != NULL);
    CHECK_EQ_INT(sql_int(st, "SELECT epochs_done FROM models WHERE id = 1"), 1);
    CHECK_EQ_INT(sql_int(st, "SELECT count(*) FROM epochs"), 5);
    sqlite3_exec(mz_store_handle(st), "PRAGMA max_page_count = 1073741823", NULL, NULL, NULL);
    CHECK_OK(mz_store_commit(st, r, 1, &err), &err);
    CHECK_EQ_INT(sql_int(st, "SELECT count(*) FROM models WHERE status = 'done'"), 1);
    mz_store_close(st);

    /* closing folded the WAL: one self-contained file in rollback-journal mode */
    CHECK(access(wal_of(path), F_OK) != 0);

    /* reopen: same recipe attaches; a different one is refused, the file unchanged to the byte
     * (the writer's open and checks write nothing, not even the journal mode) */
    size_t n0;
    char *before = slurp(path, &n0);
    CHECK_OK(mz_store_open(&st, path, MZ_STORE_WRITE, &err), &err);
    CHECK_OK(mz_store_attach(st, desc, &err), &err);
    mz_store_close(st);
    free(before);
    before = slurp(path, &n0);
    zoo other;
    const mz_zoo_desc *odesc = make_zoo(&other, "{\"epochs\":2,\"grid\":{\"lr\":[0.0003]}}");
    CHECK_OK(mz_store_open(&st, path, MZ_STORE_WRITE, &err), &err);
    CHECK_EQ_INT(mz_store_attach(st, odesc, &err), MZ_EMISMATCH);
    char *have = NULL, diff[256];
    CHECK_OK(mz_store_recipe(st, &have, &err), &err);
    mz_recipe_diff(have, odesc->recipe, "the spec", diff, sizeof diff);
    CHECK_MSG(strstr(diff, "grid.lr[0]") && strstr(diff, "0.001") && strstr(diff, "0.0003"), "%s",
              diff);
    free(have);
    mz_store_close(st);
    CHECK(same_file(path, before, n0));
    CHECK(access(wal_of(path), F_OK) != 0);
    /* a description with other model rows is refused too */
    other.g.desc.recipe = desc->recipe;
    ((mz_model_row *)other.g.desc.models)[2].variant = arch[0].variant;
    CHECK_OK(mz_store_open(&st, path, MZ_STORE_WRITE, &err), &err);
    CHECK_EQ_INT(mz_store_attach(st, odesc, &err), MZ_EMISMATCH);
    mz_store_close(st);
    CHECK(same_file(path, before, n0));
    free_zoo(&other);

    /* reading changes nothing in the directory: no -wal/-shm, same bytes */
    CHECK_OK(mz_store_open(&st, path, MZ_STORE_READ, &err), &err);
    CHECK_OK(mz_store_read_weights(st, 1, 1, back, np, &err), &err);
    mz_store_close(st);
    CHECK(same_file(path, before, n0));
    CHECK(access(wal_of(path), F_OK) != 0 && access(shm_of(path), F_OK) != 0);
    free(before);

    /* a damaged blob is found by its checksum */
    {
        char dmg[600];
        snprintf(dmg, sizeof dmg, "%s.damaged", path);
        sqlite3 *d = NULL;
        sqlite3_open(path, &d);
        char sqlc[700];
        snprintf(sqlc, sizeof sqlc, "VACUUM INTO '%s'", dmg);
        CHECK_EQ_INT(sqlite3_exec(d, sqlc, NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(d);
        sqlite3_open(dmg, &d);
        /* flip one byte of model 1's epoch-1 blob behind SQLite's back: rewrite the blob with the
         * old checksum kept */
        CHECK_EQ_INT(sqlite3_exec(d,
                                  "UPDATE epochs SET weights = substr(weights, 1, 99) || "
                                  "x'5a' || substr(weights, 101) WHERE model_id = 1 AND epoch = 1",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
        sqlite3_close(d);
        CHECK_OK(mz_store_open(&st, dmg, MZ_STORE_READ, &err), &err);
        CHECK_EQ_INT(mz_store_read_weights(st, 1, 1, back, np, &err), MZ_EFORMAT);
        CHECK_MSG(strstr(err.msg, "damaged") && strstr(err.msg, "model 1 epoch 1"), "%s", err.msg);
        CHECK_OK(mz_store_read_weights(st, 1, 0, back, np, &err), &err);
        mz_store_close(st);
        unlink(dmg);
    }

    /* a newer schema is refused */
    sqlite3 *db = NULL;
    sqlite3_open(path, &db);
    sqlite3_exec(db, "PRAGMA user_version = 4", NULL, NULL, NULL);
    sqlite3_close(db);
    CHECK_EQ_INT(mz_store_open(&st, path, MZ_STORE_READ, &err), MZ_EFORMAT);
    CHECK(strstr(err.msg, "newer") != NULL);
    free(back);
    free(w);
    free(opt);
    free_zoo(&z);
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

    /* another program's database written by an SQLite before 3.7.0: the header's page count
     * (bytes 28-31) is 0, which must not make it look new */
    snprintf(path, sizeof path, "%s/old.db", tmpdir);
    sqlite3_open(path, &db);
    sqlite3_exec(db, "CREATE TABLE notes(x); INSERT INTO notes VALUES ('keep me');", NULL, NULL,
                 NULL);
    sqlite3_close(db);
    f = fopen(path, "r+b");
    fseek(f, 28, SEEK_SET);
    fwrite("\0\0\0\0", 1, 4, f);
    fclose(f);
    before = slurp(path, &n);
    CHECK_EQ_INT(mz_store_open(&st, path, MZ_STORE_WRITE, &err), MZ_EFORMAT);
    CHECK_MSG(strstr(err.msg, "another program") != NULL, "%s", err.msg);
    CHECK(same_file(path, before, n));
    CHECK_EQ_INT(mz_store_open(&st, path, MZ_STORE_READ, &err), MZ_EFORMAT);
    CHECK(same_file(path, before, n));
    free(before);

    /* an empty file may become a zoo, and so may an SQLite database without any schema */
    zoo z;
    const mz_zoo_desc *desc = make_zoo(&z, "{}");
    for (int kind = 0; kind < 2; kind++) {
        snprintf(path, sizeof path, "%s/empty%d.db", tmpdir, kind);
        if (kind == 0) {
            f = fopen(path, "wb");
            fclose(f);
        } else {
            sqlite3_open(path, &db);
            sqlite3_exec(db, "PRAGMA page_size = 4096; VACUUM;", NULL, NULL, NULL);
            sqlite3_close(db);
        }
        CHECK_OK(mz_store_open(&st, path, MZ_STORE_WRITE, &err), &err);
        if (st) {
            CHECK_OK(mz_store_attach(st, desc, &err), &err);
            CHECK_EQ_INT(sql_int(st, "SELECT count(*) FROM models"), N_MODELS);
            mz_store_close(st);
        }
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

    /* read-only file: only meaningful when permissions apply to us (cli_readonly.sh covers
     * other users' files and read-only directories as root) */
    if (geteuid() != 0) {
        snprintf(path, sizeof path, "%s/ro.db", tmpdir);
        CHECK_OK(mz_store_open(&st, path, MZ_STORE_WRITE, &err), &err);
        CHECK_OK(mz_store_attach(st, desc, &err), &err);
        mz_store_close(st);
        chmod(path, 0444);
        CHECK_EQ_INT(mz_store_open(&st, path, MZ_STORE_WRITE, &err), MZ_EREADONLY);
        CHECK_OK(mz_store_open(&st, path, MZ_STORE_READ, &err), &err);
        mz_store_close(st);
    }
    free_zoo(&z);
}

/* A fresh zoo at path with one epoch of every model (rollback-journal mode once closed). */
static void make_zoo_file(const char *path, zoo *z)
{
    mz_error err = {0};
    const mz_zoo_desc *desc = make_zoo(z, "{}");
    mz_store *st = NULL;
    unlink(path);
    CHECK_OK(mz_store_open(&st, path, MZ_STORE_WRITE, &err), &err);
    CHECK_OK(mz_store_attach(st, desc, &err), &err);
    int64_t np = arch[0].n_params;
    float *w = malloc(sizeof(float) * (size_t)np), *opt = malloc(sizeof(float) * (size_t)np * 2);
    for (int m = 0; m < N_MODELS; m++) {
        mz_epoch_record r = record(m, 0, w, opt, np, MZ_MODEL_RUNNING);
        CHECK_OK(mz_store_commit(st, &r, 1, &err), &err);
    }
    mz_store_close(st);
    free(w);
    free(opt);
}

/* Rows a crafted file may hold: huge layout counts and shapes whose products overflow, and an
 * epochs_done far beyond the recipe's epochs, are errors naming the row, never overflows. */
static void test_crafted_rows(void)
{
    mz_error err = {0};
    char path[512];
    snprintf(path, sizeof path, "%s/crafted.db", tmpdir);
    zoo z;
    make_zoo_file(path, &z);
    const char *variant = arch[0].variant;
    int last = arch[0].n_tensors - 1;
    char sql[2048];
    struct {
        const char *shape;
        long long count, shift;
    } cases[] = {
        {"[8,576460752303423513]", 4611686018427388104LL, 4611686018427387904LL}, /* 2^62+200 */
        {"[4294967296,4294967296]", 0, 0},            /* product overflows int64 to 0 */
        {"[3037000500,3037000500,3037000500]", 1, 0}, /* overflows to garbage */
        {"[9223372036854775807]", 9223372036854775807LL, 0},
        {"[10]", -10, 0},
        {"[-10]", -10, 0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char copy[600];
        snprintf(copy, sizeof copy, "%s.%zu", path, c);
        snprintf(sql, sizeof sql, "VACUUM INTO '%s'", copy);
        CHECK_EQ_INT(file_exec(path, sql), SQLITE_OK);
        snprintf(sql, sizeof sql,
                 "UPDATE layout SET shape = '%s', count = %lld WHERE variant = '%s' AND idx = %d;",
                 cases[c].shape, cases[c].count, variant, last);
        CHECK_EQ_INT(file_exec(copy, sql), SQLITE_OK);
        mz_store *st = NULL;
        CHECK_OK(mz_store_open(&st, copy, MZ_STORE_READ, &err), &err);
        mz_tensor_desc *t = NULL;
        int n = 0;
        int64_t total = 0;
        mz_status s = mz_store_layout(st, variant, &t, &n, &total, &err);
        CHECK_MSG(s == MZ_EFORMAT, "case %zu: status %d", c, s);
        CHECK_MSG(strstr(err.msg, "table layout") != NULL, "%s", err.msg);
        free(t);
        mz_store_close(st);
        unlink(copy);
    }

    /* epochs_done beyond the recipe's last epoch (INT_MAX, or wider than an int) */
    const char *bad_done[] = {"2147483647", "9223372036854775807", "-2", "3"};
    for (size_t c = 0; c < sizeof bad_done / sizeof bad_done[0]; c++) {
        snprintf(sql, sizeof sql, "UPDATE models SET epochs_done = %s WHERE id = 1", bad_done[c]);
        CHECK_EQ_INT(file_exec(path, sql), SQLITE_OK);
        mz_store *st = NULL;
        CHECK_OK(mz_store_open(&st, path, MZ_STORE_READ, &err), &err);
        mz_model_progress pr[N_MODELS];
        mz_status s = mz_store_progress(st, pr, N_MODELS, &err);
        CHECK_MSG(s == MZ_EFORMAT && strstr(err.msg, "epochs_done"), "%s: %d %s", bad_done[c], s,
                  err.msg);
        mz_store_close(st);
    }
    free_zoo(&z);
}

/* A zoo still in WAL mode copied without its -wal/-shm (nothing was left in the WAL) opens
 * read-only without creating them; one whose commits live in the -wal file is read through it. */
static void test_wal_copies(void)
{
    mz_error err = {0};
    char path[512], copy[2600];
    snprintf(path, sizeof path, "%s/walzoo.db", tmpdir);
    zoo z;
    make_zoo_file(path, &z);
    CHECK_EQ_INT(file_exec(path, "PRAGMA journal_mode=WAL"), SQLITE_OK);
    CHECK(access(wal_of(path), F_OK) != 0);
    mz_store *st = NULL;
    CHECK_OK(mz_store_open(&st, path, MZ_STORE_READ, &err), &err);
    int64_t np = arch[0].n_params;
    float *w = malloc(sizeof(float) * (size_t)np);
    CHECK_OK(mz_store_read_weights(st, 2, 0, w, np, &err), &err);
    CHECK(w[1] == wval(2, 0, 1));
    mz_store_close(st);
    CHECK_MSG(access(wal_of(path), F_OK) != 0 && access(shm_of(path), F_OK) != 0,
              "a read created -wal/-shm beside a WAL-mode zoo");

    /* commits in the -wal file, as a killed run leaves them: a copy of both files reads them */
    mz_store *wr = NULL;
    zoo z2;
    CHECK_OK(mz_store_open(&wr, path, MZ_STORE_WRITE, &err), &err);
    CHECK_OK(mz_store_attach(wr, make_zoo(&z2, "{}"), &err), &err);
    float *opt = malloc(sizeof(float) * (size_t)np * 2);
    mz_epoch_record r = record(0, 1, w, opt, np, MZ_MODEL_RUNNING);
    CHECK_OK(mz_store_commit(wr, &r, 1, &err), &err);
    snprintf(copy, sizeof copy, "cp '%s' '%s.copy' && cp '%s' '%s.copy-wal'", path, path,
             wal_of(path), path);
    CHECK_EQ_INT(system(copy), 0);
    snprintf(copy, sizeof copy, "%s.copy", path);
    CHECK_OK(mz_store_open(&st, copy, MZ_STORE_READ, &err), &err);
    CHECK_OK(mz_store_read_weights(st, 0, 1, w, np, &err), &err);
    CHECK(w[7] == wval(0, 1, 7));
    mz_store_close(st);
    mz_store_close(wr);
    CHECK(access(wal_of(path), F_OK) != 0); /* the writer folded it */
    free(w);
    free(opt);
    free_zoo(&z);
    free_zoo(&z2);
}

/* A file of schema version 1 (as mzoo 0.1 wrote it) is read as it is and upgraded by a writer. */
static void test_schema1(void)
{
    static const char v1[] =
        "PRAGMA application_id = 1836740463; PRAGMA user_version = 1;"
        "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "CREATE TABLE models(id INTEGER PRIMARY KEY, variant TEXT NOT NULL, activation TEXT NOT "
        "NULL, init TEXT NOT NULL, optimizer TEXT NOT NULL, lr REAL NOT NULL, weight_decay REAL "
        "NOT NULL, dropout REAL NOT NULL, momentum REAL NOT NULL, nesterov INTEGER NOT NULL, seed "
        "INTEGER NOT NULL, status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN "
        "('pending','running','done','diverged','failed')), epochs_done INTEGER NOT NULL DEFAULT "
        "-1, message TEXT);"
        "CREATE TABLE epochs(model_id INTEGER NOT NULL REFERENCES models(id), epoch INTEGER NOT "
        "NULL, train_loss REAL, train_acc REAL, val_loss REAL, val_acc REAL, test_loss REAL, "
        "test_acc REAL, weights BLOB NOT NULL, PRIMARY KEY (model_id, epoch));"
        "CREATE TABLE layout(variant TEXT NOT NULL, idx INTEGER NOT NULL, name TEXT NOT NULL, "
        "shape TEXT NOT NULL, offset INTEGER NOT NULL, count INTEGER NOT NULL, PRIMARY KEY "
        "(variant, idx));"
        "CREATE TABLE resume(model_id INTEGER PRIMARY KEY REFERENCES models(id), epoch INTEGER NOT "
        "NULL, opt_step INTEGER NOT NULL, opt_state BLOB NOT NULL);";
    mz_error err = {0};
    char path[512], sql[2048];
    snprintf(path, sizeof path, "%s/v1.db", tmpdir);
    zoo z;
    const mz_zoo_desc *desc = make_zoo(&z, "{\"v\":1}");
    /* the same rows a v2 writer makes, copied into v1 tables */
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s/v2src.db", tmpdir);
    mz_store *st = NULL;
    CHECK_OK(mz_store_open(&st, tmp, MZ_STORE_WRITE, &err), &err);
    CHECK_OK(mz_store_attach(st, desc, &err), &err);
    int64_t np = arch[0].n_params;
    float *w = malloc(sizeof(float) * (size_t)np), *opt = malloc(sizeof(float) * (size_t)np * 2);
    mz_epoch_record r = record(1, 0, w, opt, np, MZ_MODEL_RUNNING);
    CHECK_OK(mz_store_commit(st, &r, 1, &err), &err);
    mz_store_close(st);
    CHECK_EQ_INT(file_exec(path, v1), SQLITE_OK);
    snprintf(sql, sizeof sql,
             "ATTACH '%s' AS s;"
             "INSERT INTO meta SELECT key, value FROM s.meta WHERE key <> 'kind';"
             "UPDATE meta SET value = '1' WHERE key = 'schema_version';"
             "INSERT INTO models SELECT id, variant, activation, init, optimizer, lr, "
             "weight_decay, dropout, momentum, nesterov, seed, status, epochs_done, message FROM "
             "s.models;"
             "INSERT INTO epochs SELECT model_id, epoch, train_loss, train_acc, val_loss, val_acc, "
             "test_loss, test_acc, weights FROM s.epochs;"
             "INSERT INTO layout SELECT * FROM s.layout;"
             "INSERT INTO resume SELECT model_id, epoch, opt_step, opt_state FROM s.resume;",
             tmp);
    CHECK_EQ_INT(file_exec(path, sql), SQLITE_OK);

    size_t n0;
    char *before = slurp(path, &n0);
    CHECK_OK(mz_store_open(&st, path, MZ_STORE_READ, &err), &err);
    CHECK_EQ_INT(mz_store_schema_version(st), 1);
    float *back = malloc(sizeof(float) * (size_t)np * 3);
    CHECK_OK(mz_store_read_weights(st, 1, 0, back, np, &err), &err);
    CHECK(!memcmp(back, w, sizeof(float) * (size_t)np));
    mz_store_column cols[64];
    int nc = 0;
    CHECK_OK(mz_store_columns(st, cols, 64, &nc, &err), &err);
    CHECK(nc > 8);
    mz_store_close(st);
    CHECK(same_file(path, before, n0)); /* reading did not upgrade it */
    free(before);

    /* attaching writes nothing; the first commit upgrades the file */
    before = slurp(path, &n0);
    CHECK_OK(mz_store_open(&st, path, MZ_STORE_WRITE, &err), &err);
    CHECK_OK(mz_store_attach(st, desc, &err), &err);
    CHECK_EQ_INT(mz_store_schema_version(st), 1);
    int ep = -1;
    int64_t step = 0;
    CHECK_OK(mz_store_load_resume(st, 1, &ep, back, np, back + np, 2 * np, &step, &err), &err);
    CHECK_EQ_INT(ep, 0);
    CHECK(same_file(path, before, n0));
    free(before);
    r = record(1, 1, w, opt, np, MZ_MODEL_RUNNING);
    CHECK_OK(mz_store_commit(st, &r, 1, &err), &err);
    CHECK_EQ_INT(mz_store_schema_version(st), MZ_SCHEMA_VERSION);
    CHECK_EQ_INT(sql_int(st, "PRAGMA user_version"), MZ_SCHEMA_VERSION);
    CHECK_EQ_INT(sql_int(st, "SELECT count(*) FROM meta WHERE key = 'kind' AND value = 'grid'"), 1);
    CHECK_EQ_INT(sql_int(st, "SELECT weights_crc32 IS NULL FROM epochs WHERE model_id = 1 AND "
                             "epoch = 0"),
                 1); /* written before the upgrade: no checksum */
    CHECK_EQ_INT(sql_int(st, "SELECT weights_crc32 IS NOT NULL FROM epochs WHERE model_id = 1 AND "
                             "epoch = 1"),
                 1);
    /* the upgrade's absmax column lands behind the blob: written, but not offered to readers */
    CHECK_EQ_INT(sql_int(st, "SELECT weights_absmax IS NOT NULL FROM epochs WHERE model_id = 1 "
                             "AND epoch = 1"),
                 1);
    CHECK_EQ_INT(mz_store_has_absmax(st), 0);
    mz_store_close(st);
    CHECK_OK(mz_store_open(&st, path, MZ_STORE_READ, &err), &err);
    CHECK_OK(mz_store_read_weights(st, 1, 1, back, np, &err), &err);
    CHECK(!memcmp(back, w, sizeof(float) * (size_t)np));
    mz_store_close(st);
    free(w);
    free(opt);
    free(back);
    free_zoo(&z);
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
    test_crafted_rows();
    test_wal_copies();
    test_schema1();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return check_summary("test_store");
}
