/* mz_store_verify: everything a zoo file can be checked for, without trusting any of it.
 *
 * SQLite's own integrity check (b-trees, free list, indexes) first, then the zoo's content: every
 * layout variant, every checkpoint's size against its model's layout and its crc32, every resume
 * state's crc32, and the bookkeeping between models and epochs (epochs_done is the highest
 * committed epoch; a running model has resume state). A damaged page that SQLite cannot read is
 * reported as such and ends the scan. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store-impl.h"
#include "core/banned.h"

typedef struct variant_size {
    char name[64];
    int64_t floats; /* -1: the layout itself is bad */
} variant_size;

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static void
problem(mz_verify_fn fn, void *ctx, mz_verify_report *r, const char *fmt, ...)
{
    char raw[512], msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    r->problems++;
    if (fn)
        fn(ctx, mz_escape(msg, sizeof msg, raw));
}

/* SQLite's integrity_check: every line it prints other than "ok" is a problem. */
static mz_status integrity(mz_store *st, mz_verify_fn fn, void *ctx, mz_verify_report *r,
                           mz_error *err)
{
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(st->db, "PRAGMA integrity_check(100)", -1, &q, NULL);
    if (rc != SQLITE_OK)
        return mz_store_db_fail(st, err, rc, "integrity check");
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        const char *text = (const char *)sqlite3_column_text(q, 0);
        if (!text || !strcmp(text, "ok"))
            continue;
        /* one problem per line; the first line may only say which database */
        for (const char *line = text; *line;) {
            size_t n = strcspn(line, "\n");
            if (n && strncmp(line, "*** in database", 15) != 0)
                problem(fn, ctx, r, "SQLite: %.*s", (int)n, line);
            line += n + (line[n] == '\n');
        }
    }
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE)
        problem(fn, ctx, r, "SQLite integrity check stopped: %s", sqlite3_errstr(rc));
    r->integrity_ok = r->problems == 0;
    return MZ_OK;
}

static mz_status variant_sizes(mz_store *st, variant_size **out, int *n, mz_verify_fn fn, void *ctx,
                               mz_verify_report *r, mz_error *err)
{
    char **names = NULL;
    int nv = 0;
    mz_status s = mz_store_variants(st, &names, &nv, err);
    if (s != MZ_OK)
        return s;
    variant_size *v = calloc((size_t)(nv ? nv : 1), sizeof *v);
    if (!v)
        s = mz_fail(err, MZ_ENOMEM, "out of memory");
    for (int i = 0; i < nv && s == MZ_OK; i++) {
        snprintf(v[i].name, sizeof v[i].name, "%s", names[i]);
        mz_tensor_desc *t = NULL;
        int nt = 0;
        mz_error e = {0};
        mz_status ls = mz_store_layout(st, names[i], &t, &nt, &v[i].floats, &e);
        if (ls == MZ_ENOMEM) { /* the check cannot run: not damage in the file */
            s = mz_fail(err, MZ_ENOMEM, "%s", e.msg);
        } else if (ls != MZ_OK) {
            v[i].floats = -1;
            problem(fn, ctx, r, "%s", e.msg);
        }
        free(t);
    }
    for (int i = 0; i < nv; i++)
        free(names[i]);
    free(names);
    if (s != MZ_OK) {
        free(v);
        return s;
    }
    *out = v;
    *n = nv;
    return MZ_OK;
}

static int64_t size_of(const variant_size *v, int n, const char *name)
{
    for (int i = 0; name && i < n; i++)
        if (!strcmp(v[i].name, name))
            return v[i].floats;
    return -2;
}

static mz_status checkpoints(mz_store *st, const variant_size *vs, int nv, mz_verify_fn fn,
                             void *ctx, mz_verify_report *r, mz_error *err)
{
    sqlite3_stmt *q = NULL;
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT e.model_id, e.epoch, m.variant, e.weights, %s, %s FROM epochs e LEFT JOIN "
             "models m ON m.id = e.model_id ORDER BY e.model_id, e.epoch",
             st->version >= 2 ? "e.weights_crc32" : "NULL",
             st->version >= 3 ? "e.weights_absmax" : "NULL");
    int rc = sqlite3_prepare_v2(st->db, sql, -1, &q, NULL);
    if (rc != SQLITE_OK)
        return mz_store_db_fail(st, err, rc, "read epochs");
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        long long mid = sqlite3_column_int64(q, 0);
        int epoch = sqlite3_column_int(q, 1);
        const char *variant = (const char *)sqlite3_column_text(q, 2);
        if (!variant) {
            problem(fn, ctx, r, "model %lld epoch %d: no such model in table models", mid, epoch);
            continue;
        }
        if (sqlite3_column_type(q, 3) == SQLITE_NULL) {
            r->no_checkpoint++;
            if (sqlite3_column_type(q, 5) != SQLITE_NULL)
                problem(fn, ctx, r, "model %lld epoch %d: weights_absmax without weights", mid,
                        epoch);
            continue;
        }
        r->checkpoints++;
        int64_t want = size_of(vs, nv, variant);
        int64_t bytes = sqlite3_column_bytes(q, 3);
        if (want >= 0 && bytes != want * 4) {
            problem(fn, ctx, r,
                    "model %lld epoch %d: weights of %lld bytes (its layout %s needs %lld)", mid,
                    epoch, (long long)bytes, variant, (long long)want * 4);
            continue;
        }
        const float *w = sqlite3_column_blob(q, 3);
        /* a wrong absmax would let the loader's filters keep NaN or large weights unread */
        if (sqlite3_column_type(q, 5) != SQLITE_NULL) {
            double am = mz_store_absmax_floats(w, bytes / 4), rec = sqlite3_column_double(q, 5);
            if (!(am == rec))
                problem(fn, ctx, r,
                        "model %lld epoch %d: weights_absmax is %.9g, the weights' largest |w| "
                        "is %.9g",
                        mid, epoch, rec, am);
        }
        if (sqlite3_column_type(q, 4) == SQLITE_NULL) {
            r->unchecked++;
            continue;
        }
        uint32_t got = mz_store_crc_floats(w, bytes / 4),
                 rec = (uint32_t)sqlite3_column_int64(q, 4);
        if (got != rec)
            problem(fn, ctx, r,
                    "model %lld epoch %d: weights are damaged (crc32 0x%08x, recorded 0x%08x)", mid,
                    epoch, got, rec);
    }
    if (rc != SQLITE_DONE)
        problem(fn, ctx, r, "reading the checkpoints stopped: %s (the file is damaged there)",
                sqlite3_errmsg(st->db));
    sqlite3_finalize(q);
    return MZ_OK;
}

static mz_status resume_states(mz_store *st, mz_verify_fn fn, void *ctx, mz_verify_report *r,
                               mz_error *err)
{
    if (st->version < 2)
        return MZ_OK;
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(st->db,
                                "SELECT r.model_id, r.epoch, r.opt_state, r.opt_crc32, m.status, "
                                "m.epochs_done FROM resume r LEFT JOIN models m ON m.id = "
                                "r.model_id ORDER BY r.model_id",
                                -1, &q, NULL);
    if (rc != SQLITE_OK)
        return mz_store_db_fail(st, err, rc, "read resume");
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        long long mid = sqlite3_column_int64(q, 0);
        int epoch = sqlite3_column_int(q, 1);
        r->resume_states++;
        const char *status = (const char *)sqlite3_column_text(q, 4);
        if (!status || strcmp(status, "running") != 0 || sqlite3_column_int(q, 5) != epoch)
            problem(fn, ctx, r,
                    "model %lld: resume state for epoch %d, but the model is %s with epochs_done "
                    "%d",
                    mid, epoch, status ? status : "missing", sqlite3_column_int(q, 5));
        int bytes = sqlite3_column_bytes(q, 2);
        if (bytes % 4 != 0) {
            problem(fn, ctx, r, "model %lld: optimizer state of %d bytes", mid, bytes);
            continue;
        }
        if (sqlite3_column_type(q, 3) == SQLITE_NULL) {
            r->unchecked++;
            continue;
        }
        uint32_t got = mz_store_crc_floats(sqlite3_column_blob(q, 2), bytes / 4),
                 rec = (uint32_t)sqlite3_column_int64(q, 3);
        if (got != rec)
            problem(fn, ctx, r,
                    "model %lld: optimizer state is damaged (crc32 0x%08x, recorded 0x%08x)", mid,
                    got, rec);
    }
    if (rc != SQLITE_DONE)
        problem(fn, ctx, r, "reading the resume states stopped: %s (the file is damaged there)",
                sqlite3_errmsg(st->db));
    sqlite3_finalize(q);
    return MZ_OK;
}

/* epochs_done of every model is its highest committed epoch; running models can resume. */
static void bookkeeping(mz_store *st, mz_verify_fn fn, void *ctx, mz_verify_report *r)
{
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(st->db,
                           "SELECT m.id, m.status, m.epochs_done, (SELECT max(epoch) FROM epochs "
                           "WHERE model_id = m.id), (SELECT count(*) FROM resume WHERE model_id = "
                           "m.id) FROM models m ORDER BY m.id",
                           -1, &q, NULL) != SQLITE_OK)
        return;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        long long id = sqlite3_column_int64(q, 0);
        const char *status = (const char *)sqlite3_column_text(q, 1);
        int64_t done = sqlite3_column_int64(q, 2);
        int64_t max = sqlite3_column_type(q, 3) == SQLITE_NULL ? -1 : sqlite3_column_int64(q, 3);
        if (done != max)
            problem(fn, ctx, r, "model %lld: epochs_done is %lld but its highest epoch row is %lld",
                    id, (long long)done, (long long)max);
        if (status && !strcmp(status, "running") && sqlite3_column_int(q, 4) != 1)
            problem(fn, ctx, r, "model %lld: running, but it has no resume state", id);
        if (mz_store_status_parse(status) < 0)
            problem(fn, ctx, r, "model %lld: unknown status", id);
    }
    if (rc != SQLITE_DONE)
        problem(fn, ctx, r, "reading the models stopped: %s", sqlite3_errmsg(st->db));
    sqlite3_finalize(q);
}

mz_status mz_store_verify(mz_store *st, mz_verify_fn fn, void *ctx, mz_verify_report *out,
                          mz_error *err)
{
    memset(out, 0, sizeof *out);
    mz_status s = integrity(st, fn, ctx, out, err);
    variant_size *vs = NULL;
    int nv = 0;
    if (s == MZ_OK)
        s = variant_sizes(st, &vs, &nv, fn, ctx, out, err);
    if (s == MZ_OK)
        s = checkpoints(st, vs, nv, fn, ctx, out, err);
    if (s == MZ_OK)
        s = resume_states(st, fn, ctx, out, err);
    if (s == MZ_OK)
        bookkeeping(st, fn, ctx, out);
    free(vs);
    return s;
}
