/* Attaching a zoo to a file, committing records, progress and resume state.
 *
 * Durability: WAL journal, synchronous=FULL, one transaction per mz_store_commit. Every blob is
 * written with its CRC-32 (zlib's) and checked against it whenever mzoo reads it back. */
#define _POSIX_C_SOURCE 200809L
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/store-impl.h"
#include "core/banned.h"

static const char *const status_names[] = {"pending", "running", "done", "diverged", "failed"};

const char *mz_model_status_name(mz_model_status s)
{
    return (unsigned)s < sizeof status_names / sizeof status_names[0] ? status_names[s] : "unknown";
}

int mz_model_status_final(mz_model_status s)
{
    return s == MZ_MODEL_DONE || s == MZ_MODEL_DIVERGED || s == MZ_MODEL_FAILED;
}

int mz_store_status_parse(const char *s)
{
    for (int i = 0; s && i < (int)(sizeof status_names / sizeof status_names[0]); i++)
        if (!strcmp(s, status_names[i]))
            return i;
    return -1;
}

/* ---- blobs ---- */

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#error                                                                                             \
    "mzoo stores float32 little-endian blobs by copying memory: add byte swapping for this target"
#endif

uint32_t mz_store_crc_floats(const float *v, int64_t n)
{
    return mz_crc32(0, v, (size_t)n * 4);
}

/* The largest |v[i]|, +Inf when any is NaN or Inf. Branch-free, so that it vectorises. */
double mz_store_absmax_floats(const float *v, int64_t n)
{
    float m = 0.0f;
    int nonfinite = 0;
    for (int64_t i = 0; i < n; i++) {
        float a = fabsf(v[i]);
        nonfinite |= !(a <= FLT_MAX);
        m = a > m ? a : m;
    }
    return nonfinite ? INFINITY : (double)m;
}

mz_status mz_store_blob_floats(mz_store *st, sqlite3_stmt *q, int col, int crc_col, float *dst,
                               int64_t n, const char *what, int64_t model_id, int epoch,
                               mz_error *err)
{
    int bytes = sqlite3_column_bytes(q, col);
    const void *p = sqlite3_column_blob(q, col);
    if (sqlite3_column_type(q, col) == SQLITE_NULL)
        return mz_fail(err, MZ_ENOTFOUND, "%s: model %lld epoch %d has no %s", st->path,
                       (long long)model_id, epoch, what);
    if ((int64_t)bytes != n * 4)
        return mz_fail(err, MZ_EFORMAT,
                       "%s: %s of model %lld epoch %d has %d bytes (expected %lld)", st->path, what,
                       (long long)model_id, epoch, bytes, (long long)(n * 4));
    if (n)
        memcpy(dst, p, (size_t)n * 4);
    if (crc_col >= 0 && sqlite3_column_type(q, crc_col) != SQLITE_NULL) {
        uint32_t want = (uint32_t)sqlite3_column_int64(q, crc_col),
                 got = mz_store_crc_floats(dst, n);
        if (want != got)
            return mz_fail(err, MZ_EFORMAT,
                           "%s: %s of model %lld epoch %d are damaged (crc32 0x%08x, recorded "
                           "0x%08x); `mzoo verify %s` lists all damage",
                           st->path, what, (long long)model_id, epoch, got, want, st->path);
    }
    return MZ_OK;
}

static int bind_floats(sqlite3_stmt *q, int col, const float *v, int64_t n)
{
    static const char empty[1] = {0};
    return sqlite3_bind_blob64(q, col, n ? (const void *)v : (const void *)empty,
                               (sqlite3_uint64)n * 4, SQLITE_STATIC);
}

static void bind_real(sqlite3_stmt *q, int col, double v)
{
    if (isfinite(v))
        sqlite3_bind_double(q, col, v);
    else
        sqlite3_bind_null(q, col); /* NaN (absent) and +-Inf (diverged) are stored as NULL */
}

static void bind_text(sqlite3_stmt *q, int col, const char *v)
{
    if (v)
        sqlite3_bind_text(q, col, v, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(q, col);
}

static mz_status step_done(mz_store *st, sqlite3_stmt *q, const char *what, mz_error *err)
{
    int rc = sqlite3_step(q);
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    return rc == SQLITE_DONE ? MZ_OK : mz_store_db_fail(st, err, rc, what);
}

static mz_status prepare(mz_store *st, const char *sql, sqlite3_stmt **q, mz_error *err)
{
    int rc = sqlite3_prepare_v2(st->db, sql, -1, q, NULL);
    return rc == SQLITE_OK ? MZ_OK : mz_store_db_fail(st, err, rc, "prepare");
}

/* ---- attach ---- */

static mz_status write_meta(mz_store *st, const mz_zoo_desc *z, mz_error *err)
{
    sqlite3_stmt *q = NULL;
    mz_status s = prepare(st, "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", &q, err);
    if (s != MZ_OK)
        return s;
    char now[32], ver[16], nm[32];
    time_t t = time(NULL);
    struct tm tmv;
    gmtime_r(&t, &tmv);
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tmv);
    snprintf(ver, sizeof ver, "%d", MZ_SCHEMA_VERSION);
    snprintf(nm, sizeof nm, "%lld", (long long)z->n_models);
    const char *fixed[][2] = {
        {"schema_version", ver},
        {"generator", "mzoo " MZ_VERSION_STRING},
        {"kind", z->kind},
        {"recipe", z->recipe ? z->recipe : "{}"},
        {"created_at", now},
        {"n_models", nm},
        {"weights_format", "float32 little-endian, PyTorch state_dict order (see layout)"},
        {"shard", z->shard ? z->shard : ""},
    };
    int n_fixed = (int)(sizeof fixed / sizeof fixed[0]);
    for (int i = 0; i < n_fixed + z->n_meta && s == MZ_OK; i++) {
        const char *const *kv = i < n_fixed ? fixed[i] : z->meta[i - n_fixed];
        sqlite3_bind_text(q, 1, kv[0], -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, kv[1] ? kv[1] : "", -1, SQLITE_STATIC);
        s = step_done(st, q, "write meta", err);
    }
    sqlite3_finalize(q);
    return s;
}

static mz_status write_models(mz_store *st, const mz_zoo_desc *z, mz_error *err)
{
    sqlite3_stmt *q = NULL;
    mz_status s = prepare(st,
                          "INSERT INTO models(id, variant, activation, init, optimizer, lr, "
                          "weight_decay, dropout, momentum, nesterov, seed, source_id, "
                          "source_epoch, hparams) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                          &q, err);
    for (int64_t i = 0; i < z->n_models && s == MZ_OK; i++) {
        const mz_model_row *m = &z->models[i];
        sqlite3_bind_int64(q, 1, m->id);
        sqlite3_bind_text(q, 2, m->variant, -1, SQLITE_STATIC);
        bind_text(q, 3, m->activation);
        bind_text(q, 4, m->init);
        bind_text(q, 5, m->optimizer);
        bind_real(q, 6, m->lr);
        bind_real(q, 7, m->weight_decay);
        bind_real(q, 8, m->dropout);
        bind_real(q, 9, m->momentum);
        if (m->nesterov >= 0)
            sqlite3_bind_int(q, 10, m->nesterov != 0);
        if (m->has_seed)
            sqlite3_bind_int64(q, 11, m->seed);
        if (m->source_id >= 0)
            sqlite3_bind_int64(q, 12, m->source_id);
        if (m->source_epoch >= 0)
            sqlite3_bind_int(q, 13, m->source_epoch);
        bind_text(q, 14, m->hparams);
        s = step_done(st, q, "write models", err);
    }
    sqlite3_finalize(q);
    return s;
}

static mz_status write_layouts(mz_store *st, const mz_zoo_desc *z, mz_error *err)
{
    sqlite3_stmt *q = NULL;
    mz_status s = prepare(st,
                          "INSERT INTO layout(variant, idx, name, shape, offset, count) "
                          "VALUES (?,?,?,?,?,?)",
                          &q, err);
    for (int v = 0; v < z->n_layouts && s == MZ_OK; v++) {
        for (int k = 0; k < z->layouts[v].n_tensors && s == MZ_OK; k++) {
            const mz_tensor_desc *t = &z->layouts[v].tensors[k];
            char shape[128];
            mz_shape_json(t, shape, sizeof shape);
            sqlite3_bind_text(q, 1, z->layouts[v].variant, -1, SQLITE_STATIC);
            sqlite3_bind_int(q, 2, k);
            sqlite3_bind_text(q, 3, t->name, -1, SQLITE_STATIC);
            sqlite3_bind_text(q, 4, shape, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(q, 5, t->offset);
            sqlite3_bind_int64(q, 6, t->count);
            s = step_done(st, q, "write layout", err);
        }
    }
    sqlite3_finalize(q);
    return s;
}

static mz_status write_new(mz_store *st, const mz_zoo_desc *z, mz_error *err)
{
    mz_status s = mz_store_exec(st, "PRAGMA journal_mode=WAL", err);
    if (s == MZ_OK)
        s = mz_store_exec(st, "BEGIN IMMEDIATE", err);
    if (s != MZ_OK)
        return s;
    st->wrote = 1;
    if ((s = mz_schema_create(st, err)) == MZ_OK && (s = write_meta(st, z, err)) == MZ_OK &&
        (s = write_models(st, z, err)) == MZ_OK && (s = write_layouts(st, z, err)) == MZ_OK)
        s = mz_store_exec(st, "COMMIT", err);
    if (s != MZ_OK) {
        mz_store_rollback(st);
        st->version = 0;
    }
    return s;
}

/* An existing zoo: its layouts must be what the caller computes. */
static mz_status check_layouts(mz_store *st, const mz_zoo_desc *z, mz_error *err)
{
    for (int v = 0; v < z->n_layouts; v++) {
        mz_tensor_desc *t = NULL;
        int n = 0;
        mz_status s = mz_store_layout(st, z->layouts[v].variant, &t, &n, NULL, err);
        if (s == MZ_ENOTFOUND)
            continue; /* a variant no model of this zoo uses */
        if (s != MZ_OK)
            return s;
        int same = n == z->layouts[v].n_tensors;
        for (int k = 0; same && k < n; k++) {
            const mz_tensor_desc *a = &t[k], *b = &z->layouts[v].tensors[k];
            same = !strcmp(a->name, b->name) && a->offset == b->offset && a->count == b->count &&
                   a->ndim == b->ndim;
            for (int d = 0; same && d < a->ndim; d++)
                same = a->shape[d] == b->shape[d];
        }
        free(t);
        if (!same)
            return mz_fail(err, MZ_EMISMATCH,
                           "%s: layout of variant %s differs from this mzoo's (%d tensors in the "
                           "file, %d here); the file was made by an incompatible generator",
                           st->path, z->layouts[v].variant, n, z->layouts[v].n_tensors);
    }
    return MZ_OK;
}

/* An existing zoo: every model row must name the variant the caller gives it. */
static mz_status check_models(mz_store *st, const mz_zoo_desc *z, mz_error *err)
{
    int64_t have = mz_store_query_int(st, "SELECT count(*) FROM models");
    if (have != z->n_models)
        return mz_fail(err, MZ_EMISMATCH, "%s: holds %lld models but the spec expands to %lld",
                       st->path, (long long)have, (long long)z->n_models);
    sqlite3_stmt *q = NULL;
    mz_status s = prepare(st, "SELECT id, variant FROM models ORDER BY id", &q, err);
    int64_t i = 0;
    int rc;
    while (s == MZ_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(q, 1);
        if (i >= z->n_models || sqlite3_column_int64(q, 0) != z->models[i].id || !v ||
            strcmp(v, z->models[i].variant) != 0)
            s = mz_fail(err, MZ_EMISMATCH,
                        "%s: table models, row %lld: id or layout variant differs from the "
                        "zoo's (the file was made by an incompatible generator)",
                        st->path, (long long)i);
        i++;
    }
    sqlite3_finalize(q);
    return s;
}

static mz_status prepare_writers(mz_store *st, mz_error *err)
{
    struct {
        sqlite3_stmt **q;
        const char *sql;
    } w[] = {
        {&st->ins_epoch,
         "INSERT INTO epochs(model_id, epoch, train_loss, train_acc, val_loss, val_acc, "
         "test_loss, test_acc, sparsity, metrics, weights, weights_crc32, weights_absmax) "
         "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"},
        {&st->put_resume, "INSERT OR REPLACE INTO resume(model_id, epoch, opt_step, opt_state, "
                          "opt_crc32) VALUES (?,?,?,?,?)"},
        {&st->del_resume, "DELETE FROM resume WHERE model_id = ?"},
        {&st->upd_model, "UPDATE models SET status = ?, epochs_done = max(epochs_done, ?), "
                         "message = ? WHERE id = ?"},
    };
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) {
        if (*w[i].q)
            continue;
        mz_status s = prepare(st, w[i].sql, w[i].q, err);
        if (s != MZ_OK)
            return s;
    }
    return MZ_OK;
}

mz_status mz_store_attach(mz_store *st, const mz_zoo_desc *z, mz_error *err)
{
    if (st->mode != MZ_STORE_WRITE)
        return mz_fail(err, MZ_EINVAL, "%s: opened read-only", st->path);
    for (int64_t i = 0; i < z->n_models; i++) {
        int found = 0;
        for (int v = 0; v < z->n_layouts && !found; v++)
            found = !strcmp(z->models[i].variant, z->layouts[v].variant);
        if (!found || z->models[i].id != i)
            return mz_fail(err, MZ_EINVAL, "model %lld: %s", (long long)i,
                           found ? "ids must be 0..n-1 in order" : "its variant has no layout");
    }
    mz_status s;
    if (st->version == 0) {
        s = write_new(st, z, err);
    } else {
        /* everything read-only first: a refused file keeps every byte */
        char kind[32], *have = NULL;
        if (mz_store_meta(st, "kind", kind, sizeof kind, NULL) != MZ_OK)
            snprintf(kind, sizeof kind, "grid"); /* schema 1: grid zoos only */
        if (strcmp(kind, z->kind) != 0)
            return mz_fail(err, MZ_EMISMATCH, "%s: holds a %s zoo, not a %s zoo; not touching it",
                           st->path, kind, z->kind);
        char shard[64] = "";
        mz_store_meta(st, "shard", shard, sizeof shard, NULL);
        const char *want = z->shard ? z->shard : "";
        if (strcmp(shard, want) != 0) {
            char have_s[80], want_s[80];
            snprintf(have_s, sizeof have_s, shard[0] ? "shard %s of a zoo" : "a whole zoo", shard);
            snprintf(want_s, sizeof want_s, want[0] ? "shard %s" : "the whole zoo", want);
            return mz_fail(err, MZ_EMISMATCH,
                           "%s: holds %s, and this run trains %s; not touching it", st->path,
                           have_s, want_s);
        }
        if ((s = mz_store_recipe(st, &have, err)) != MZ_OK)
            return s;
        if (strcmp(have, z->recipe ? z->recipe : "{}") != 0)
            s = mz_fail(err, MZ_EMISMATCH,
                        "%s: holds a zoo made from a different recipe; not touching it", st->path);
        free(have);
        if (s == MZ_OK)
            s = check_models(st, z, err);
        if (s == MZ_OK)
            s = check_layouts(st, z, err);
        if (s != MZ_OK)
            return s;
        /* the first commit switches to WAL and upgrades an older schema: a run with nothing
         * left to do writes nothing */
    }
    if (s == MZ_OK)
        st->attached = 1;
    return s;
}

/* Before the first commit to an existing zoo: WAL journal mode, the current schema, the
 * prepared statements. */
static mz_status start_writing(mz_store *st, mz_error *err)
{
    mz_status s = MZ_OK;
    if (!st->wrote) {
        st->wrote = 1;
        s = mz_store_exec(st, "PRAGMA journal_mode=WAL", err);
        if (s == MZ_OK)
            s = mz_schema_migrate(st, err);
    }
    if (s == MZ_OK)
        s = prepare_writers(st, err);
    return s;
}

/* ---- growing a zoo ---- */

mz_status mz_store_grow(mz_store *st, const mz_zoo_desc *z, const int64_t *new_id, int64_t n_old,
                        mz_error *err)
{
    if (st->mode != MZ_STORE_WRITE || st->version == 0)
        return mz_fail(err, MZ_EINVAL, "%s: grow needs an existing zoo opened for writing",
                       st->path);
    int64_t have = mz_store_query_int(st, "SELECT count(*) FROM models");
    if (have != n_old || z->n_models < n_old)
        return mz_fail(err, MZ_EINVAL, "%s: grow: %lld models in the file, %lld given", st->path,
                       (long long)have, (long long)n_old);
    unsigned char *used = calloc((size_t)(z->n_models ? z->n_models : 1), 1);
    if (!used)
        return mz_fail(err, MZ_ENOMEM, "out of memory");
    mz_model_row *rows = NULL;
    int64_t nr = 0;
    mz_status s = mz_store_read_models(st, &rows, NULL, &nr, err);
    for (int64_t i = 0; i < n_old && s == MZ_OK; i++) {
        int64_t j = new_id[i];
        if (j < 0 || j >= z->n_models || used[j] || strcmp(rows[i].variant, z->models[j].variant))
            s = mz_fail(err, MZ_EINVAL, "%s: grow: model %lld cannot become model %lld", st->path,
                        (long long)i, (long long)j);
        else
            used[j] = 1;
    }
    free(rows);
    /* one transaction: switch to WAL and the current schema first, as any first commit does */
    if (s == MZ_OK && !st->wrote) {
        st->wrote = 1;
        s = mz_store_exec(st, "PRAGMA journal_mode=WAL", err);
        if (s == MZ_OK)
            s = mz_schema_migrate(st, err);
    }
    if (s == MZ_OK)
        s = mz_store_exec(st, "BEGIN IMMEDIATE", err);
    sqlite3_stmt *q = NULL;
    if (s == MZ_OK)
        s = mz_store_exec(st,
                          "CREATE TEMP TABLE IF NOT EXISTS idmap(old INTEGER PRIMARY KEY, "
                          "new INTEGER NOT NULL); DELETE FROM idmap;",
                          err);
    if (s == MZ_OK)
        s = prepare(st, "INSERT INTO idmap(old, new) VALUES (?, ?)", &q, err);
    for (int64_t i = 0; i < n_old && s == MZ_OK; i++) {
        sqlite3_bind_int64(q, 1, i);
        sqlite3_bind_int64(q, 2, new_id[i]);
        s = step_done(st, q, "grow", err);
    }
    sqlite3_finalize(q);
    /* through negative ids, so that no intermediate id collides with one still in place */
    static const char renumber[] =
        "UPDATE models SET id = -1 - (SELECT new FROM idmap WHERE old = id);"
        "UPDATE models SET id = -1 - id;"
        "UPDATE epochs SET model_id = -1 - (SELECT new FROM idmap WHERE old = model_id);"
        "UPDATE epochs SET model_id = -1 - model_id;"
        "UPDATE resume SET model_id = -1 - (SELECT new FROM idmap WHERE old = model_id);"
        "UPDATE resume SET model_id = -1 - model_id;"
        "DROP TABLE idmap;";
    if (s == MZ_OK)
        s = mz_store_exec(st, renumber, err);
    if (s == MZ_OK) { /* the new models, pending */
        mz_zoo_desc add = *z;
        mz_model_row *fresh = malloc(sizeof *fresh * (size_t)(z->n_models - n_old + 1));
        int64_t k = 0;
        for (int64_t j = 0; fresh && j < z->n_models; j++)
            if (!used[j])
                fresh[k++] = z->models[j];
        add.models = fresh;
        add.n_models = k;
        s = fresh ? write_models(st, &add, err) : mz_fail(err, MZ_ENOMEM, "out of memory");
        free(fresh);
    }
    if (s == MZ_OK) { /* layout variants the file lacks */
        mz_zoo_desc add = *z;
        mz_layout *missing = malloc(sizeof *missing * (size_t)(z->n_layouts + 1));
        int k = 0;
        for (int v = 0; missing && v < z->n_layouts; v++) {
            mz_tensor_desc *t = NULL;
            int n = 0;
            mz_status ls = mz_store_layout(st, z->layouts[v].variant, &t, &n, NULL, NULL);
            free(t);
            if (ls == MZ_ENOTFOUND)
                missing[k++] = z->layouts[v];
        }
        add.layouts = missing;
        add.n_layouts = k;
        s = missing ? write_layouts(st, &add, err) : mz_fail(err, MZ_ENOMEM, "out of memory");
        free(missing);
    }
    if (s == MZ_OK) {
        char num[32];
        snprintf(num, sizeof num, "%lld", (long long)z->n_models);
        const char *kv[][2] = {{"recipe", z->recipe ? z->recipe : "{}"}, {"n_models", num}};
        s = prepare(st, "UPDATE meta SET value = ? WHERE key = ?", &q, err);
        for (int i = 0; i < 2 && s == MZ_OK; i++) {
            sqlite3_bind_text(q, 1, kv[i][1], -1, SQLITE_STATIC);
            sqlite3_bind_text(q, 2, kv[i][0], -1, SQLITE_STATIC);
            s = step_done(st, q, "grow: meta", err);
        }
        sqlite3_finalize(q);
    }
    if (s == MZ_OK)
        s = mz_store_exec(st, "COMMIT", err);
    if (s != MZ_OK)
        mz_store_rollback(st);
    free(used);
    return s;
}

/* ---- progress and resume ---- */

mz_status mz_store_progress(mz_store *st, mz_model_progress *out, int64_t n_models, mz_error *err)
{
    char buf[32];
    int64_t last = -1;
    if (mz_store_meta(st, "epochs", buf, sizeof buf, NULL) == MZ_OK) {
        char *end;
        last = strtoll(buf, &end, 10);
        if (end == buf || *end || last < 0 || last > 1000000)
            return mz_fail(err, MZ_EFORMAT, "%s: meta epochs is '%s' (expected 0..1000000)",
                           st->path, buf);
    }
    sqlite3_stmt *q = NULL;
    mz_status s = prepare(st, "SELECT id, status, epochs_done FROM models ORDER BY id", &q, err);
    if (s != MZ_OK)
        return s;
    int64_t i = 0;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(q, 0);
        int status = mz_store_status_parse((const char *)sqlite3_column_text(q, 1));
        int64_t done = sqlite3_column_int64(q, 2);
        if (i >= n_models || id != i || status < 0) {
            s = mz_fail(
                err, MZ_EFORMAT, "%s: table models, row id %lld: %s", st->path, (long long)id,
                status < 0 ? "unknown status" : "model ids are not 0..n-1 as the zoo expands");
            break;
        }
        if (done < -1 || (last >= 0 && done > last)) {
            s = mz_fail(err, MZ_EFORMAT,
                        "%s: table models, row id %lld: epochs_done is %lld (expected -1..%lld)",
                        st->path, (long long)id, (long long)done, (long long)last);
            break;
        }
        out[i].model_id = id;
        out[i].status = (mz_model_status)status;
        out[i].epochs_done = (int)done;
        i++;
    }
    if (s == MZ_OK && rc != SQLITE_DONE)
        s = mz_store_db_fail(st, err, rc, "read models");
    sqlite3_finalize(q);
    if (s == MZ_OK && i != n_models)
        s = mz_fail(err, MZ_EFORMAT, "%s: table models has %lld rows (expected %lld)", st->path,
                    (long long)i, (long long)n_models);
    return s;
}

mz_status mz_store_load_resume(mz_store *st, int64_t model_id, int *epoch, float *weights,
                               int64_t n_weights, float *opt_state, int64_t n_opt,
                               int64_t *opt_step, mz_error *err)
{
    int v2 = st->version >= 2;
    sqlite3_stmt *q = NULL;
    mz_status s = prepare(st,
                          v2 ? "SELECT r.epoch, r.opt_step, r.opt_state, e.weights, r.opt_crc32, "
                               "e.weights_crc32 FROM resume r JOIN epochs e ON e.model_id = "
                               "r.model_id AND e.epoch = r.epoch WHERE r.model_id = ?"
                             : "SELECT r.epoch, r.opt_step, r.opt_state, e.weights FROM resume r "
                               "JOIN epochs e ON e.model_id = r.model_id AND e.epoch = r.epoch "
                               "WHERE r.model_id = ?",
                          &q, err);
    if (s != MZ_OK)
        return s;
    sqlite3_bind_int64(q, 1, model_id);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        *epoch = sqlite3_column_int(q, 0);
        *opt_step = sqlite3_column_int64(q, 1);
        s = mz_store_blob_floats(st, q, 3, v2 ? 5 : -1, weights, n_weights, "weights", model_id,
                                 *epoch, err);
        if (s == MZ_OK)
            s = mz_store_blob_floats(st, q, 2, v2 ? 4 : -1, opt_state, n_opt, "optimizer state",
                                     model_id, *epoch, err);
        if (s == MZ_ENOTFOUND)
            s = mz_fail(err, MZ_EFORMAT, "%s: model %lld: resume state without weights", st->path,
                        (long long)model_id);
    } else if (rc == SQLITE_DONE) {
        s = mz_fail(err, MZ_EFORMAT, "%s: model %lld has committed epochs but no resume state",
                    st->path, (long long)model_id);
    } else {
        s = mz_store_db_fail(st, err, rc, "read resume state");
    }
    sqlite3_finalize(q);
    return s;
}

/* ---- commit ---- */

static mz_status update_model(mz_store *st, const mz_epoch_record *r, mz_error *err)
{
    sqlite3_stmt *q = st->upd_model;
    sqlite3_bind_text(q, 1, mz_model_status_name(r->status), -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 2, r->status_only ? -1 : r->epoch);
    bind_text(q, 3, r->message);
    sqlite3_bind_int64(q, 4, r->model_id);
    mz_status s = step_done(st, q, "update models", err);
    if (s == MZ_OK && sqlite3_changes(st->db) != 1)
        s = mz_fail(err, MZ_EINVAL, "%s: no model with id %lld", st->path, (long long)r->model_id);
    return s;
}

static mz_status insert_epoch(mz_store *st, const mz_epoch_record *r, mz_error *err)
{
    sqlite3_stmt *q = st->ins_epoch;
    sqlite3_bind_int64(q, 1, r->model_id);
    sqlite3_bind_int(q, 2, r->epoch);
    bind_real(q, 3, r->train_loss);
    bind_real(q, 4, r->train_acc);
    bind_real(q, 5, r->val_loss);
    bind_real(q, 6, r->val_acc);
    bind_real(q, 7, r->test_loss);
    bind_real(q, 8, r->test_acc);
    bind_real(q, 9, r->sparsity);
    bind_text(q, 10, r->metrics);
    if (r->weights) {
        int rc = bind_floats(q, 11, r->weights, r->n_weights);
        if (rc != SQLITE_OK)
            return mz_store_db_fail(st, err, rc, "bind weights");
        sqlite3_bind_int64(q, 12, mz_store_crc_floats(r->weights, r->n_weights));
        sqlite3_bind_double(q, 13, mz_store_absmax_floats(r->weights, r->n_weights));
    }
    return step_done(st, q, "insert epoch", err);
}

static mz_status write_resume(mz_store *st, const mz_epoch_record *r, mz_error *err)
{
    sqlite3_stmt *q;
    if (mz_model_status_final(r->status)) {
        /* a finished model is never resumed: its optimizer state is not kept */
        q = st->del_resume;
        sqlite3_bind_int64(q, 1, r->model_id);
        return step_done(st, q, "delete resume", err);
    }
    if (r->status_only)
        return MZ_OK;
    int64_t n_opt = r->opt_state ? r->n_opt : 0;
    q = st->put_resume;
    sqlite3_bind_int64(q, 1, r->model_id);
    sqlite3_bind_int(q, 2, r->epoch);
    sqlite3_bind_int64(q, 3, r->opt_step);
    int rc = bind_floats(q, 4, r->opt_state, n_opt);
    if (rc != SQLITE_OK)
        return mz_store_db_fail(st, err, rc, "bind optimizer state");
    sqlite3_bind_int64(q, 5, mz_store_crc_floats(r->opt_state, n_opt));
    return step_done(st, q, "write resume", err);
}

mz_status mz_store_commit(mz_store *st, const mz_epoch_record *recs, int n, mz_error *err)
{
    if (!st->attached)
        return mz_fail(err, MZ_EINVAL, "%s: commit before attach", st->path);
    if (!st->ins_epoch) {
        mz_status s = start_writing(st, err);
        if (s != MZ_OK)
            return s;
    }
    for (int i = 0; i < n; i++) {
        const mz_epoch_record *r = &recs[i];
        if (!r->status_only && r->weights &&
            (r->n_weights <= 0 || r->n_weights > MZ_STORE_MAX_FLOATS))
            return mz_fail(err, MZ_EINVAL, "model %lld epoch %d: %lld weights",
                           (long long)r->model_id, r->epoch, (long long)r->n_weights);
    }
    mz_status s = mz_store_exec(st, "BEGIN IMMEDIATE", err);
    for (int i = 0; i < n && s == MZ_OK; i++) {
        const mz_epoch_record *r = &recs[i];
        if (!r->status_only)
            s = insert_epoch(st, r, err);
        if (s == MZ_OK)
            s = write_resume(st, r, err);
        if (s == MZ_OK)
            s = update_model(st, r, err);
    }
    if (s == MZ_OK)
        s = mz_store_exec(st, "COMMIT", err);
    if (s != MZ_OK)
        mz_store_rollback(st);
    return s;
}
