/* Reading zoos: meta, recipe, weights, layouts, summaries, and the loader's selections.
 *
 * Everything read from the file is checked before it is used: a layout's counts, shapes and
 * offsets must agree and fit the largest blob a zoo may hold; a blob's size and checksum must be
 * what its row says.
 *
 * The user's --where expression is spliced into the selection query only after a lexer has
 * checked that it is one parenthesised expression (balanced parentheses outside strings,
 * identifiers and comments, no unterminated string or comment, no ';'), so no text of it can
 * close the surrounding "(...)" or comment out the rest of the query; it is compiled under an
 * authorizer that allows reading only, and its evaluation is bounded per row by a progress
 * handler. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "store/store-impl.h"
#include "core/banned.h"

mz_status mz_store_meta(mz_store *st, const char *key, char *buf, size_t cap, mz_error *err)
{
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(st->db, "SELECT value FROM meta WHERE key = ?", -1, &q, NULL);
    if (rc != SQLITE_OK)
        return mz_store_db_fail(st, err, rc, "read meta");
    sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
    mz_status s;
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(q, 0);
        s = (size_t)snprintf(buf, cap, "%s", v ? v : "") < cap
                ? MZ_OK
                : mz_fail(err, MZ_ELIMIT, "%s: meta %s is longer than %zu bytes", st->path, key,
                          cap - 1);
    } else if (rc == SQLITE_DONE) {
        s = mz_fail(err, MZ_ENOTFOUND, "%s: no meta key %s", st->path, key);
    } else {
        s = mz_store_db_fail(st, err, rc, "read meta");
    }
    sqlite3_finalize(q);
    return s;
}

mz_status mz_store_recipe(mz_store *st, char **out, mz_error *err)
{
    *out = NULL;
    if (st->version == 0)
        return mz_fail(err, MZ_ENOTFOUND, "%s: holds no zoo yet", st->path);
    sqlite3_stmt *q = NULL;
    int rc =
        sqlite3_prepare_v2(st->db, "SELECT value FROM meta WHERE key = 'recipe'", -1, &q, NULL);
    if (rc != SQLITE_OK)
        return mz_store_db_fail(st, err, rc, "read recipe");
    mz_status s = MZ_OK;
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(q, 0);
        *out = mz_strdup(v ? v : "");
        if (!*out)
            s = mz_fail(err, MZ_ENOMEM, "out of memory");
    } else {
        s = rc == SQLITE_DONE ? mz_fail(err, MZ_EFORMAT, "%s: meta has no recipe", st->path)
                              : mz_store_db_fail(st, err, rc, "read recipe");
    }
    sqlite3_finalize(q);
    return s;
}

mz_status mz_store_read_weights(mz_store *st, int64_t model_id, int epoch, float *w, int64_t n,
                                mz_error *err)
{
    int v2 = st->version >= 2;
    if (!st->rd_weights) {
        int rc = sqlite3_prepare_v3(
            st->db,
            v2 ? "SELECT weights, weights_crc32 FROM epochs WHERE model_id = ? AND epoch = ?"
               : "SELECT weights FROM epochs WHERE model_id = ? AND epoch = ?",
            -1, SQLITE_PREPARE_PERSISTENT, &st->rd_weights, NULL);
        if (rc != SQLITE_OK)
            return mz_store_db_fail(st, err, rc, "read weights");
    }
    sqlite3_stmt *q = st->rd_weights;
    sqlite3_bind_int64(q, 1, model_id);
    sqlite3_bind_int(q, 2, epoch);
    mz_status s;
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        s = mz_store_blob_floats(st, q, 0, v2 ? 1 : -1, w, n, "weights", model_id, epoch, err);
    else if (rc == SQLITE_DONE)
        s = mz_fail(err, MZ_ENOTFOUND, "%s: no epoch %d of model %lld", st->path, epoch,
                    (long long)model_id);
    else
        s = mz_store_db_fail(st, err, rc, "read weights");
    sqlite3_reset(q);
    return s;
}

mz_status mz_store_read_begin(mz_store *st, mz_error *err)
{
    if (st->reading || !sqlite3_get_autocommit(st->db))
        return MZ_OK;
    mz_status s = mz_store_exec(st, "BEGIN", err);
    if (s == MZ_OK)
        s = mz_store_exec(st, "SELECT count(*) FROM meta", err); /* take the snapshot now */
    st->reading = s == MZ_OK;
    return s;
}

void mz_store_read_end(mz_store *st)
{
    if (st->reading) {
        sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
        st->reading = 0;
    }
}

/* Parses a shape "[a,b,...]" into t: at most MZ_MAX_DIMS dimensions, each 0..MZ_STORE_MAX_FLOATS.
 */
static int parse_shape(const char *s, mz_tensor_desc *t)
{
    json_error_t je;
    json_t *a = s ? json_loads(s, 0, &je) : NULL;
    int ok = a && json_is_array(a) && json_array_size(a) <= MZ_MAX_DIMS;
    t->ndim = ok ? (int)json_array_size(a) : 0;
    for (int d = 0; ok && d < t->ndim; d++) {
        json_t *v = json_array_get(a, (size_t)d);
        ok = json_is_integer(v) && json_integer_value(v) >= 0 &&
             json_integer_value(v) <= MZ_STORE_MAX_FLOATS;
        t->shape[d] = ok ? json_integer_value(v) : 0;
    }
    json_decref(a);
    return ok;
}

mz_status mz_store_layout(mz_store *st, const char *variant, mz_tensor_desc **out, int *n,
                          int64_t *n_params, mz_error *err)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *q = NULL;
    int rc =
        sqlite3_prepare_v2(st->db,
                           "SELECT idx, name, shape, offset, count FROM layout WHERE variant = ? "
                           "ORDER BY idx",
                           -1, &q, NULL);
    if (rc != SQLITE_OK)
        return mz_store_db_fail(st, err, rc, "read layout");
    sqlite3_bind_text(q, 1, variant, -1, SQLITE_STATIC);
    mz_tensor_desc *t = NULL;
    int cap = 0, k = 0;
    mz_status s = MZ_OK;
    int64_t next = 0;
    while (s == MZ_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (k == cap) {
            cap = cap ? 2 * cap : 16;
            mz_tensor_desc *g = cap <= 65536 ? realloc(t, sizeof *t * (size_t)cap) : NULL;
            if (!g) {
                s = cap > 65536 ? mz_fail(err, MZ_ELIMIT,
                                          "%s: table layout, variant %s: more than 65536 tensors",
                                          st->path, variant)
                                : mz_fail(err, MZ_ENOMEM, "out of memory");
                break;
            }
            t = g;
        }
        mz_tensor_desc *d = &t[k];
        memset(d, 0, sizeof *d);
        const char *name = (const char *)sqlite3_column_text(q, 1);
        snprintf(d->name, sizeof d->name, "%s", name ? name : "");
        d->offset = sqlite3_column_int64(q, 3);
        d->count = sqlite3_column_int64(q, 4);
        /* every factor and partial product stays <= MZ_STORE_MAX_FLOATS (2.5e8): no overflow */
        int64_t prod = 1;
        int ok = sqlite3_column_int(q, 0) == k && name && strlen(name) < sizeof d->name &&
                 parse_shape((const char *)sqlite3_column_text(q, 2), d);
        for (int j = 0; ok && j < d->ndim; j++) {
            prod *= d->shape[j];
            ok = prod <= MZ_STORE_MAX_FLOATS;
        }
        ok = ok && d->count == prod && d->offset == next && d->count <= MZ_STORE_MAX_FLOATS - next;
        if (!ok) {
            s = mz_fail(err, MZ_EFORMAT,
                        "%s: table layout, variant %s, idx %d (%s): inconsistent name, shape, "
                        "count or offset (expected offset %lld, count = product of the shape, "
                        "at most %lld floats in all)",
                        st->path, variant, k, d->name, (long long)next,
                        (long long)MZ_STORE_MAX_FLOATS);
            break;
        }
        next = d->offset + d->count;
        k++;
    }
    if (s == MZ_OK && rc != SQLITE_DONE)
        s = mz_store_db_fail(st, err, rc, "read layout");
    sqlite3_finalize(q);
    if (s == MZ_OK && k == 0)
        s = mz_fail(err, MZ_ENOTFOUND, "%s: no layout for variant %s", st->path, variant);
    if (s != MZ_OK) {
        free(t);
        return s;
    }
    *out = t;
    *n = k;
    if (n_params)
        *n_params = next;
    return MZ_OK;
}

/* Copies text into the arena at *at (advancing it); NULL stays NULL. */
static const char *arena_text(char **at, const unsigned char *text)
{
    if (!text)
        return NULL;
    size_t n = strlen((const char *)text) + 1;
    memcpy(*at, text, n);
    const char *s = *at;
    *at += n;
    return s;
}

mz_status mz_store_read_models(mz_store *st, mz_model_row **rows, mz_model_progress **progress,
                               int64_t *n, mz_error *err)
{
    *rows = NULL;
    if (progress)
        *progress = NULL;
    *n = 0;
    int v2 = st->version >= 2;
    int64_t count = mz_store_query_int(st, "SELECT count(*) FROM models");
    int64_t text = mz_store_query_int(
        st, v2 ? "SELECT coalesce(sum(length(CAST(variant AS BLOB)) + coalesce(length(CAST("
                 "activation AS BLOB)), 0) + coalesce(length(CAST(init AS BLOB)), 0) + "
                 "coalesce(length(CAST(optimizer AS BLOB)), 0) + coalesce(length(CAST(hparams AS "
                 "BLOB)), 0) + coalesce(length(CAST(message AS BLOB)), 0) + 8), 0) FROM models"
               : "SELECT coalesce(sum(length(CAST(variant AS BLOB)) + length(CAST(activation AS "
                 "BLOB)) + length(CAST(init AS BLOB)) + length(CAST(optimizer AS BLOB)) + "
                 "coalesce(length(CAST(message AS BLOB)), 0) + 8), 0) FROM models");
    if (count < 0 || text < 0)
        return mz_fail(err, MZ_ESTORE, "%s: cannot read table models", st->path);
    if (count > ((int64_t)1 << 32) || text > ((int64_t)1 << 34))
        return mz_fail(err, MZ_ELIMIT, "%s: table models is too large (%lld rows)", st->path,
                       (long long)count);
    size_t head = sizeof(mz_model_row) * (size_t)count;
    char *mem = malloc(head + (size_t)text + 1);
    mz_model_progress *pr = progress ? calloc((size_t)(count ? count : 1), sizeof *pr) : NULL;
    if (!mem || (progress && !pr)) {
        free(mem);
        free(pr);
        return mz_fail(err, MZ_ENOMEM, "%s: out of memory for %lld models", st->path,
                       (long long)count);
    }
    mz_model_row *r = (mz_model_row *)mem;
    char *at = mem + head, *end = mem + head + text;
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(
        st->db,
        v2 ? "SELECT id, variant, activation, init, optimizer, lr, weight_decay, dropout, "
             "momentum, nesterov, seed, source_id, source_epoch, hparams, status, epochs_done, "
             "message FROM models ORDER BY id"
           : "SELECT id, variant, activation, init, optimizer, lr, weight_decay, dropout, "
             "momentum, nesterov, seed, NULL, NULL, NULL, status, epochs_done, message FROM "
             "models ORDER BY id",
        -1, &q, NULL);
    mz_status s = rc == SQLITE_OK ? MZ_OK : mz_store_db_fail(st, err, rc, "read models");
    int64_t i = 0;
    while (s == MZ_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (i >= count || sqlite3_column_int64(q, 0) != i) {
            s = mz_fail(err, MZ_EFORMAT, "%s: table models: ids are not 0..n-1", st->path);
            break;
        }
        size_t need = 8;
        static const int text_cols[] = {1, 2, 3, 4, 13, 16};
        for (int c = 0; c < 6; c++)
            need += (size_t)sqlite3_column_bytes(q, text_cols[c]);
        if (need > (size_t)(end - at)) {
            s = mz_fail(err, MZ_ESTORE, "%s: table models changed while being read", st->path);
            break;
        }
        mz_model_row *m = &r[i];
        memset(m, 0, sizeof *m);
        m->id = i;
        m->variant = arena_text(&at, sqlite3_column_text(q, 1));
        m->activation = arena_text(&at, sqlite3_column_text(q, 2));
        m->init = arena_text(&at, sqlite3_column_text(q, 3));
        m->optimizer = arena_text(&at, sqlite3_column_text(q, 4));
        double *reals[] = {&m->lr, &m->weight_decay, &m->dropout, &m->momentum};
        for (int c = 0; c < 4; c++)
            *reals[c] = sqlite3_column_type(q, 5 + c) == SQLITE_NULL
                            ? NAN
                            : sqlite3_column_double(q, 5 + c);
        m->nesterov = sqlite3_column_type(q, 9) == SQLITE_NULL ? -1 : sqlite3_column_int(q, 9) != 0;
        m->has_seed = sqlite3_column_type(q, 10) != SQLITE_NULL;
        m->seed = sqlite3_column_int64(q, 10);
        m->source_id = sqlite3_column_type(q, 11) == SQLITE_NULL ? -1 : sqlite3_column_int64(q, 11);
        m->source_epoch =
            sqlite3_column_type(q, 12) == SQLITE_NULL ? -1 : sqlite3_column_int(q, 12);
        m->hparams = arena_text(&at, sqlite3_column_text(q, 13));
        if (!m->variant)
            m->variant = arena_text(&at, (const unsigned char *)"");
        if (pr) {
            int status = mz_store_status_parse((const char *)sqlite3_column_text(q, 14));
            int64_t done = sqlite3_column_int64(q, 15);
            if (status < 0 || done < -1 || done > 1000000) {
                s = mz_fail(err, MZ_EFORMAT,
                            "%s: table models, row id %lld: bad status or "
                            "epochs_done",
                            st->path, (long long)i);
                break;
            }
            pr[i].model_id = i;
            pr[i].status = (mz_model_status)status;
            pr[i].epochs_done = (int)done;
            pr[i].message = arena_text(&at, sqlite3_column_text(q, 16));
        }
        i++;
    }
    if (s == MZ_OK && rc != SQLITE_DONE)
        s = mz_store_db_fail(st, err, rc, "read models");
    sqlite3_finalize(q);
    if (s == MZ_OK && i != count)
        s = mz_fail(err, MZ_ESTORE, "%s: table models changed while being read", st->path);
    if (s != MZ_OK) {
        free(mem);
        free(pr);
        return s;
    }
    *rows = r;
    if (progress)
        *progress = pr;
    *n = count;
    return MZ_OK;
}

mz_status mz_store_read_epochs(mz_store *st, int64_t model_id, int64_t n_weights,
                               mz_store_epoch_fn fn, void *ctx, mz_error *err)
{
    int v2 = st->version >= 2;
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(
        st->db,
        v2 ? "SELECT epoch, train_loss, train_acc, val_loss, val_acc, test_loss, test_acc, "
             "sparsity, metrics, weights, weights_crc32 FROM epochs WHERE model_id = ? ORDER BY "
             "epoch"
           : "SELECT epoch, train_loss, train_acc, val_loss, val_acc, test_loss, test_acc, NULL, "
             "NULL, weights, NULL FROM epochs WHERE model_id = ? ORDER BY epoch",
        -1, &q, NULL);
    if (rc != SQLITE_OK)
        return mz_store_db_fail(st, err, rc, "read epochs");
    sqlite3_bind_int64(q, 1, model_id);
    float *w = malloc(sizeof(float) * (size_t)(n_weights > 0 ? n_weights : 1));
    mz_status s = w ? MZ_OK : mz_fail(err, MZ_ENOMEM, "out of memory");
    while (s == MZ_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        mz_epoch_record r;
        memset(&r, 0, sizeof r);
        r.model_id = model_id;
        r.epoch = sqlite3_column_int(q, 0);
        double *cols[7] = {&r.train_loss, &r.train_acc, &r.val_loss, &r.val_acc,
                           &r.test_loss,  &r.test_acc,  &r.sparsity};
        for (int c = 0; c < 7; c++)
            *cols[c] = sqlite3_column_type(q, 1 + c) == SQLITE_NULL
                           ? NAN
                           : sqlite3_column_double(q, 1 + c);
        r.metrics = (const char *)sqlite3_column_text(q, 8);
        if (sqlite3_column_type(q, 9) != SQLITE_NULL) {
            s = mz_store_blob_floats(st, q, 9, 10, w, n_weights, "weights", model_id, r.epoch, err);
            r.weights = w;
            r.n_weights = n_weights;
        }
        if (s == MZ_OK && fn(ctx, &r))
            break;
    }
    if (s == MZ_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
        s = mz_store_db_fail(st, err, rc, "read epochs");
    sqlite3_finalize(q);
    free(w);
    return s;
}

mz_status mz_store_variants(mz_store *st, char ***names, int *n, mz_error *err)
{
    *names = NULL;
    *n = 0;
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(
        st->db, "SELECT variant FROM models GROUP BY variant ORDER BY MIN(id)", -1, &q, NULL);
    if (rc != SQLITE_OK)
        return mz_store_db_fail(st, err, rc, "read the models' variants");
    mz_status s = MZ_OK;
    char **v = NULL;
    int k = 0;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(q, 0);
        char **g = k < 4096 ? realloc(v, sizeof *v * (size_t)(k + 1)) : NULL;
        if (!g) {
            s = k >= 4096 ? mz_fail(err, MZ_ELIMIT, "%s: more than 4096 layout variants", st->path)
                          : mz_fail(err, MZ_ENOMEM, "out of memory");
            break;
        }
        v = g;
        if (!(v[k] = mz_strdup(name ? name : ""))) {
            s = mz_fail(err, MZ_ENOMEM, "out of memory");
            break;
        }
        k++;
    }
    if (s == MZ_OK && rc != SQLITE_DONE)
        s = mz_store_db_fail(st, err, rc, "read the models' variants");
    sqlite3_finalize(q);
    if (s != MZ_OK) {
        for (int i = 0; i < k; i++)
            free(v[i]);
        free(v);
        return s;
    }
    *names = v;
    *n = k;
    return MZ_OK;
}

mz_status mz_store_summary_get(mz_store *st, mz_store_summary *out, mz_error *err)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(st->db, "SELECT status, count(*) FROM models GROUP BY status", -1,
                                &q, NULL);
    if (rc != SQLITE_OK)
        return mz_store_db_fail(st, err, rc, "read models");
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        int s = mz_store_status_parse((const char *)sqlite3_column_text(q, 0));
        int64_t c = sqlite3_column_int64(q, 1);
        out->n_models += c;
        if (s >= 0)
            out->by_status[s] += c;
    }
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE)
        return mz_store_db_fail(st, err, rc, "read models");
    out->n_epoch_rows = mz_store_query_int(st, "SELECT count(*) FROM epochs");
    char buf[32];
    out->max_epoch = -1;
    if (mz_store_meta(st, "epochs", buf, sizeof buf, NULL) == MZ_OK) {
        char *end;
        long v = strtol(buf, &end, 10);
        if (end != buf && !*end && v >= 0 && v <= 1000000)
            out->max_epoch = (int)v;
    }
    return MZ_OK;
}

mz_status mz_store_query(mz_store *st, const char *sql, mz_store_row_fn row, void *ctx,
                         mz_error *err)
{
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(st->db, sql, -1, &q, NULL);
    if (rc != SQLITE_OK)
        return mz_store_db_fail(st, err, rc, "query");
    if (!sqlite3_stmt_readonly(q)) {
        sqlite3_finalize(q);
        return mz_fail(err, MZ_EINVAL, "%s: query is not read-only", st->path);
    }
    int ncol = sqlite3_column_count(q);
    const char **vals = calloc((size_t)(2 * ncol + 1), sizeof(char *));
    if (!vals) {
        sqlite3_finalize(q);
        return mz_fail(err, MZ_ENOMEM, "out of memory");
    }
    const char **names = vals + ncol;
    for (int c = 0; c < ncol; c++)
        names[c] = sqlite3_column_name(q, c);
    char(*reals)[32] = malloc((size_t)(ncol ? ncol : 1) * sizeof *reals);
    if (!reals) {
        free(vals);
        sqlite3_finalize(q);
        return mz_fail(err, MZ_ENOMEM, "out of memory");
    }
    mz_status s = MZ_OK;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        for (int c = 0; c < ncol; c++)
            vals[c] = sqlite3_column_type(q, c) == SQLITE_FLOAT /* SQLite's text has 15 digits */
                          ? mz_format_double(reals[c], sizeof reals[c], sqlite3_column_double(q, c))
                          : (const char *)sqlite3_column_text(q, c);
        if (row(ctx, ncol, vals, names))
            break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        s = mz_store_db_fail(st, err, rc, "query");
    free(reals);
    free(vals);
    sqlite3_finalize(q);
    return s;
}

/* ---- selections ---- */

/* Columns never offered as properties. */
static int internal_column(char table, const char *name)
{
    static const char *const skip_epochs[] = {
        "model_id",  "epoch",    "weights",    "weights_crc32", "weights_absmax", "metrics",
        "opt_state", "opt_step", "created_at", "seconds",       "wall_time",      NULL};
    static const char *const skip_models[] = {"id",      "variant", "status", "epochs_done",
                                              "message", "spec",    "config", "updated_at",
                                              "hparams", NULL};
    for (const char *const *s = table == 'e' ? skip_epochs : skip_models; *s; s++)
        if (!strcmp(*s, name))
            return 1;
    return 0;
}

static int is_text_type(const char *t)
{
    char u[64];
    size_t i = 0;
    for (; t && t[i] && i + 1 < sizeof u; i++)
        u[i] = (char)(t[i] >= 'a' && t[i] <= 'z' ? t[i] - 32 : t[i]);
    u[i] = 0;
    return strstr(u, "CHAR") || strstr(u, "TEXT") || strstr(u, "CLOB");
}

/* Columns of twin zoos only (NULL in every other zoo; in a file upgraded from schema 1 they sit
 * behind the weights blob, where reading them costs reading the blob). */
static int twin_column(const char *name)
{
    return !strcmp(name, "sparsity") || !strcmp(name, "source_id") || !strcmp(name, "source_epoch");
}

mz_status mz_store_columns(mz_store *st, mz_store_column *out, int cap, int *n, mz_error *err)
{
    *n = 0;
    char kind[32] = "", method[32];
    int twin = mz_store_meta(st, "kind", kind, sizeof kind, NULL) == MZ_OK && !strcmp(kind, "twin");
    /* an imported zoo of twins (the Model Zoos' CNN_ARD) says its method, as twin zoos do */
    if (!twin && !strcmp(kind, "imported"))
        twin = mz_store_meta(st, "method", method, sizeof method, NULL) == MZ_OK;
    static const struct {
        const char *table;
        char alias;
    } tables[] = {{"epochs", 'e'}, {"models", 'm'}};
    for (int t = 0; t < 2; t++) {
        sqlite3_stmt *q = NULL;
        int rc =
            sqlite3_prepare_v2(st->db, "SELECT name, type FROM pragma_table_info(?)", -1, &q, NULL);
        if (rc != SQLITE_OK)
            return mz_store_db_fail(st, err, rc, "read the schema");
        sqlite3_bind_text(q, 1, tables[t].table, -1, SQLITE_STATIC);
        while (sqlite3_step(q) == SQLITE_ROW) {
            const char *name = (const char *)sqlite3_column_text(q, 0),
                       *type = (const char *)sqlite3_column_text(q, 1);
            if (!name || internal_column(tables[t].alias, name) || strlen(name) >= 64 ||
                (!twin && twin_column(name)) || strchr(name, '"') || (type && strstr(type, "BLOB")))
                continue;
            if (*n == cap)
                break;
            mz_store_column *c = &out[(*n)++];
            c->table = tables[t].alias;
            snprintf(c->name, sizeof c->name, "%s", name);
            c->categorical = is_text_type(type);
        }
        sqlite3_finalize(q);
    }
    return MZ_OK;
}

/* Authorizer for the user's expression: reading only. */
static int read_only_authorizer(void *ctx, int action, const char *a, const char *b, const char *c,
                                const char *d)
{
    static const char *const denied_functions[] = {"load_extension", "readfile",       "writefile",
                                                   "edit",           "fts3_tokenizer", NULL};
    (void)ctx, (void)a, (void)c, (void)d;
    switch (action) {
    case SQLITE_FUNCTION: /* b = the function's name */
        for (int i = 0; b && denied_functions[i]; i++)
            if (!sqlite3_stricmp(b, denied_functions[i]))
                return SQLITE_DENY;
        return SQLITE_OK;
    case SQLITE_SELECT:
    case SQLITE_READ:
    case SQLITE_RECURSIVE:
        return SQLITE_OK;
    default: /* PRAGMA (table-valued pragma functions too), writes, ATTACH, ... */
        return SQLITE_DENY;
    }
}

/* Checks that expr is one expression that cannot escape the parentheses it is put in. */
static mz_status check_expression(const char *expr, mz_error *err)
{
    int depth = 0;
    const char *p = expr;
    while (*p) {
        const char *start = p;
        char c = *p;
        if (c == '\'' || c == '"' || c == '`' || c == '[') {
            char close = c == '[' ? ']' : c;
            for (p++;; p++) {
                if (!*p)
                    return mz_fail(err, MZ_EINVAL,
                                   "--where '%s': offset %d: unterminated %s (expected one SQL "
                                   "expression)",
                                   expr, (int)(start - expr),
                                   c == '\'' ? "string" : "quoted identifier");
                if (*p == close) {
                    if (close != ']' && p[1] == close) { /* doubled quote: a literal quote */
                        p++;
                        continue;
                    }
                    break;
                }
            }
            p++;
        } else if (c == '-' && p[1] == '-') {
            p += strcspn(p, "\n");
        } else if (c == '/' && p[1] == '*') {
            const char *e = strstr(p + 2, "*/");
            if (!e)
                return mz_fail(err, MZ_EINVAL,
                               "--where '%s': offset %d: unterminated /* comment (expected one SQL "
                               "expression)",
                               expr, (int)(p - expr));
            p = e + 2;
        } else {
            if (c == '(')
                depth++;
            else if (c == ')' && --depth < 0)
                return mz_fail(err, MZ_EINVAL,
                               "--where '%s': offset %d: ')' without its '(' (expected one SQL "
                               "expression)",
                               expr, (int)(p - expr));
            else if (c == ';')
                return mz_fail(err, MZ_EINVAL,
                               "--where '%s': offset %d: ';' (expected one SQL expression, not "
                               "statements)",
                               expr, (int)(p - expr));
            p++;
        }
    }
    if (depth != 0)
        return mz_fail(err, MZ_EINVAL,
                       "--where '%s': %d '(' without ')' (expected one SQL expression)", expr,
                       depth);
    return MZ_OK;
}

typedef struct budget {
    int64_t steps, max;
} budget;

static int progress_cb(void *ctx)
{
    budget *b = ctx;
    b->steps += 1000;
    return b->steps > b->max;
}

/* "m: id, variant, ...; e: epoch, ..." into buf: the columns a --where expression can name (the
 * blobs left out). */
static void where_columns(mz_store *st, char *buf, size_t cap)
{
    size_t o = 0;
    buf[0] = 0;
    static const char *const tables[2][2] = {{"models", "m"}, {"epochs", "e"}};
    for (int t = 0; t < 2 && o < cap; t++) {
        sqlite3_stmt *q = NULL;
        if (sqlite3_prepare_v2(st->db, "SELECT name, type FROM pragma_table_info(?)", -1, &q,
                               NULL) != SQLITE_OK)
            break;
        sqlite3_bind_text(q, 1, tables[t][0], -1, SQLITE_STATIC);
        o += (size_t)snprintf(buf + o, cap - o, "%s%s (%s):", t ? "; " : "", tables[t][0],
                              tables[t][1]);
        int k = 0;
        while (o < cap && sqlite3_step(q) == SQLITE_ROW) {
            const char *name = (const char *)sqlite3_column_text(q, 0),
                       *type = (const char *)sqlite3_column_text(q, 1);
            if (name && !(type && strstr(type, "BLOB")))
                o += (size_t)snprintf(buf + o, cap - o, "%s %s", k++ ? "," : "", name);
        }
        sqlite3_finalize(q);
    }
    if (o >= cap && cap > 4)
        snprintf(buf + cap - 5, 5, "...");
}

mz_status mz_store_select(mz_store *st, const mz_store_selection *sel, mz_store_select_fn fn,
                          void *ctx, mz_error *err)
{
    const char *where = sel->where && *sel->where ? sel->where : NULL;
    mz_status s = where ? check_expression(where, err) : MZ_OK;
    if (s != MZ_OK)
        return s;
    for (int i = 0; i < sel->n_cols; i++)
        if ((sel->cols[i].table != 'e' && sel->cols[i].table != 'm') ||
            strchr(sel->cols[i].name, '"'))
            return mz_fail(err, MZ_EINVAL, "selection: bad column %s", sel->cols[i].name);

    /* SELECT m.id, e.epoch, m.variant, keep, <cols>; keep = the expression's SQL truth value
     * (NULL and 0 are false), after a newline so that a trailing "--" comment ends there */
    size_t cap = 8192 + (where ? strlen(where) : 0) + (size_t)sel->n_cols * 80;
    char *sql = malloc(cap);
    if (!sql)
        return mz_fail(err, MZ_ENOMEM, "out of memory");
    size_t at = (size_t)snprintf(sql, cap, "SELECT m.id, e.epoch, m.variant, %s%s%s",
                                 where ? "CASE WHEN (" : "1", where ? where : "",
                                 where ? "\n) THEN 1 ELSE 0 END" : "");
    for (int i = 0; i < sel->n_cols && at < cap; i++)
        at += (size_t)snprintf(sql + at, cap - at, ", %c.\"%s\"", sel->cols[i].table,
                               sel->cols[i].name);
    if (at < cap)
        at += (size_t)snprintf(sql + at, cap - at,
                               " FROM epochs AS e JOIN models AS m ON m.id = e.model_id%s"
                               " ORDER BY m.id, e.epoch",
                               sel->last_epoch_only
                                   ? " WHERE e.epoch = (SELECT MAX(e2.epoch) FROM epochs AS e2 "
                                     "WHERE e2.model_id = e.model_id)"
                                   : "");
    if (at >= cap) {
        free(sql);
        return mz_fail(err, MZ_ELIMIT, "selection query too long");
    }
    sqlite3_stmt *q = NULL;
    const char *tail = NULL;
    sqlite3_set_authorizer(st->db, read_only_authorizer, NULL);
    int rc = sqlite3_prepare_v2(st->db, sql, -1, &q, &tail);
    sqlite3_set_authorizer(st->db, NULL, NULL);
    const char *why = rc != SQLITE_OK                                   ? sqlite3_errmsg(st->db)
                      : sqlite3_column_count(q) != 4 + sel->n_cols      ? "not a single expression"
                      : tail && strspn(tail, " \t\r\n") != strlen(tail) ? "more than one statement"
                      : !sqlite3_stmt_readonly(q)                       ? "not read-only"
                                                                        : NULL;
    free(sql); /* after the checks: tail points into it */
    if (why) {
        char cols[1024] = "";
        if (where && !strncmp(why, "no such column", 14))
            where_columns(st, cols, sizeof cols);
        s = where ? mz_fail(err, MZ_EINVAL,
                            "--where '%s': %s (expected one read-only SQL expression over the "
                            "columns of models (m) and epochs (e)%s%s)",
                            where, why, cols[0] ? "; they are " : "", cols)
                  : mz_store_db_fail(st, err, rc ? rc : SQLITE_ERROR, "selection query");
        sqlite3_finalize(q);
        return s;
    }
    mz_store_value *vals = calloc((size_t)(sel->n_cols ? sel->n_cols : 1), sizeof *vals);
    if (!vals) {
        sqlite3_finalize(q);
        return mz_fail(err, MZ_ENOMEM, "out of memory");
    }
    budget b = {0, sel->max_steps > 0 ? sel->max_steps : (int64_t)100000000};
    sqlite3_progress_handler(st->db, 1000, progress_cb, &b);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        b.steps = 0;
        for (int i = 0; i < sel->n_cols; i++) {
            int ci = 4 + i;
            mz_store_value *v = &vals[i];
            v->null = sqlite3_column_type(q, ci) == SQLITE_NULL;
            v->text = v->null || !sel->cols[i].categorical
                          ? NULL
                          : (const char *)sqlite3_column_text(q, ci);
            v->num = v->null || sel->cols[i].categorical ? 0 : sqlite3_column_double(q, ci);
        }
        const char *variant = (const char *)sqlite3_column_text(q, 2);
        if (fn(ctx, sqlite3_column_int64(q, 0), sqlite3_column_int(q, 1), variant ? variant : "",
               sqlite3_column_int(q, 3) == 1, vals))
            break;
    }
    sqlite3_progress_handler(st->db, 0, NULL, NULL);
    if (rc == SQLITE_INTERRUPT && where)
        s = mz_fail(err, MZ_EINVAL,
                    "--where '%s': gave up after %lld SQLite steps on one row (a runaway "
                    "recursive query?)",
                    where, (long long)b.max);
    else if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        s = where ? mz_fail(err, MZ_EINVAL, "--where '%s': %s", where, sqlite3_errmsg(st->db))
                  : mz_store_db_fail(st, err, rc, "reading samples");
    free(vals);
    sqlite3_finalize(q);
    return s;
}
