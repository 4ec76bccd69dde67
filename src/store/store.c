/* The zoo store: one SQLite file per zoo (schema in docs/FORMAT.md).
 *
 * Durability: WAL journal, synchronous=FULL, one transaction per mz_store_commit. A writer holds an
 * exclusive flock() on the zoo file for as long as the store is open, so two `mzoo train` runs can
 * never interleave their commits in one file; readers take no lock (WAL lets them read while the
 * writer commits). The flock descriptor stays open until after sqlite3_close: closing any
 * descriptor of the file would drop SQLite's own POSIX locks on it.
 *
 * Nothing is written to a file that is not already a zoo or empty: the SQLite header and the
 * application_id are checked before any pragma that could write. */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* flock */
#include "mzoo/store.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/banned.h"

/* "mzoo" in ASCII: written to the SQLite header's application_id field. */
#define MZ_APPLICATION_ID 0x6d7a6f6f

struct mz_store {
    sqlite3 *db;
    int lock_fd; /* flock'd descriptor of the zoo file (WRITE mode), else -1 */
    mz_store_mode mode;
    char path[1024];
    sqlite3_stmt *ins_epoch, *put_resume, *del_resume, *upd_model;
};

static const char *const status_names[] = {"pending", "running", "done", "diverged", "failed"};

const char *mz_model_status_name(mz_model_status s)
{
    return (unsigned)s < sizeof status_names / sizeof status_names[0] ? status_names[s] : "unknown";
}

static int status_parse(const char *s)
{
    for (int i = 0; s && i < (int)(sizeof status_names / sizeof status_names[0]); i++)
        if (!strcmp(s, status_names[i]))
            return i;
    return -1;
}

static const char schema_sql[] =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE models("
    " id INTEGER PRIMARY KEY, variant TEXT NOT NULL,"
    " activation TEXT NOT NULL, init TEXT NOT NULL, optimizer TEXT NOT NULL,"
    " lr REAL NOT NULL, weight_decay REAL NOT NULL, dropout REAL NOT NULL, momentum REAL NOT NULL,"
    " nesterov INTEGER NOT NULL, seed INTEGER NOT NULL,"
    " status TEXT NOT NULL DEFAULT 'pending'"
    "  CHECK (status IN ('pending','running','done','diverged','failed')),"
    " epochs_done INTEGER NOT NULL DEFAULT -1, message TEXT);"
    "CREATE TABLE epochs("
    " model_id INTEGER NOT NULL REFERENCES models(id), epoch INTEGER NOT NULL,"
    " train_loss REAL, train_acc REAL, val_loss REAL, val_acc REAL, test_loss REAL, test_acc REAL,"
    " weights BLOB NOT NULL, PRIMARY KEY (model_id, epoch));"
    "CREATE TABLE layout("
    " variant TEXT NOT NULL, idx INTEGER NOT NULL, name TEXT NOT NULL, shape TEXT NOT NULL,"
    " offset INTEGER NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (variant, idx));"
    "CREATE TABLE resume("
    " model_id INTEGER PRIMARY KEY REFERENCES models(id), epoch INTEGER NOT NULL,"
    " opt_step INTEGER NOT NULL, opt_state BLOB NOT NULL);";

/* Maps an SQLite result code to an mz_status and a message naming the file. */
static mz_status db_fail(mz_store *st, mz_error *err, int rc, const char *what)
{
    mz_status code;
    const char *hint = "";
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        code = MZ_EBUSY;
        hint = " (another process is using the zoo file)";
        break;
    case SQLITE_FULL:
        code = MZ_ENOSPC;
        hint = " (disk full; the file keeps its last complete commit)";
        break;
    case SQLITE_READONLY:
    case SQLITE_PERM:
        code = MZ_EREADONLY;
        hint = " (the file or its directory is not writable)";
        break;
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
        code = MZ_EFORMAT;
        hint = " (not an intact SQLite database)";
        break;
    case SQLITE_IOERR:
        code = MZ_EIO;
        break;
    case SQLITE_CANTOPEN:
        code = MZ_EIO;
        hint = " (cannot open the file or create its journal)";
        break;
    case SQLITE_NOMEM:
        code = MZ_ENOMEM;
        break;
    default:
        code = MZ_ESTORE;
        break;
    }
    const char *m = st && st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc);
    return mz_fail(err, code, "%s: %s: %s%s", st ? st->path : "zoo", what, m, hint);
}

static mz_status exec(mz_store *st, const char *sql, mz_error *err)
{
    int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? MZ_OK : db_fail(st, err, rc, sql);
}

static void rollback(mz_store *st)
{
    if (!sqlite3_get_autocommit(st->db))
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

/* Single integer from a query with no parameters; -1 on error or no row. */
static int64_t query_int(mz_store *st, const char *sql)
{
    sqlite3_stmt *q = NULL;
    int64_t v = -1;
    if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return v;
}

/* Checks the first bytes of an existing file: empty (a new zoo may be made in it) or SQLite. */
static mz_status check_header(const char *path, int *empty, mz_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return mz_fail(err,
                       errno == ENOENT   ? MZ_ENOTFOUND
                       : errno == EACCES ? MZ_EREADONLY
                                         : MZ_EIO,
                       "%s: cannot open: %s", path, strerror(errno));
    unsigned char h[100];
    size_t n = fread(h, 1, sizeof h, f);
    fclose(f);
    *empty = n == 0;
    if (n == 0)
        return MZ_OK;
    if (n < sizeof h || memcmp(h, "SQLite format 3", 16) != 0)
        return mz_fail(err, MZ_EFORMAT,
                       "%s: byte 0: not a zoo file (expected an SQLite database written by mzoo); "
                       "refusing to touch it",
                       path);
    uint32_t app = (uint32_t)h[68] << 24 | (uint32_t)h[69] << 16 | (uint32_t)h[70] << 8 | h[71];
    uint32_t ver = (uint32_t)h[60] << 24 | (uint32_t)h[61] << 16 | (uint32_t)h[62] << 8 | h[63];
    uint32_t pages = (uint32_t)h[28] << 24 | (uint32_t)h[29] << 16 | (uint32_t)h[30] << 8 | h[31];
    /* A freshly created database with no tables has application_id 0: let attach fill it. */
    if (app == 0 && pages <= 1) {
        *empty = 1;
        return MZ_OK;
    }
    if (app != MZ_APPLICATION_ID)
        return mz_fail(
            err, MZ_EFORMAT,
            "%s: byte 68: SQLite application_id is 0x%08x (expected 0x%08x, a zoo made by "
            "mzoo); refusing to touch it",
            path, app, MZ_APPLICATION_ID);
    if (ver > MZ_SCHEMA_VERSION)
        return mz_fail(err, MZ_EFORMAT,
                       "%s: byte 60: schema version %u is newer than this mzoo understands (%d); "
                       "use a newer mzoo",
                       path, ver, MZ_SCHEMA_VERSION);
    return MZ_OK;
}

static void finalize_all(mz_store *st)
{
    sqlite3_finalize(st->ins_epoch);
    sqlite3_finalize(st->put_resume);
    sqlite3_finalize(st->del_resume);
    sqlite3_finalize(st->upd_model);
    st->ins_epoch = st->put_resume = st->del_resume = st->upd_model = NULL;
}

void mz_store_close(mz_store *st)
{
    if (!st)
        return;
    finalize_all(st);
    if (st->db)
        sqlite3_close_v2(st->db);
    if (st->lock_fd >= 0)
        close(st->lock_fd); /* releases the flock, after SQLite has let go of the file */
    free(st);
}

static mz_status take_lock(mz_store *st, mz_error *err)
{
    st->lock_fd = open(st->path, O_RDWR | O_CLOEXEC);
    if (st->lock_fd < 0)
        return mz_fail(err, errno == EACCES || errno == EROFS ? MZ_EREADONLY : MZ_EIO,
                       "%s: cannot open for writing: %s", st->path, strerror(errno));
    if (flock(st->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK)
            return mz_fail(err, MZ_EBUSY,
                           "%s: zoo file is locked by another mzoo process (one writer at a time; "
                           "wait for it to finish or stop it)",
                           st->path);
        return mz_fail(err, MZ_EIO, "%s: cannot lock: %s", st->path, strerror(errno));
    }
    return MZ_OK;
}

/* The directory must be writable for the WAL and shared-memory files. */
static mz_status check_dir_writable(const char *path, mz_error *err)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        dir[1] = 0;
    else
        *slash = 0;
    if (access(dir, W_OK) != 0)
        return mz_fail(err, errno == ENOENT ? MZ_ENOTFOUND : MZ_EREADONLY,
                       "%s: directory %s is not writable (%s); the zoo file needs its journal "
                       "beside it",
                       path, dir, strerror(errno));
    return MZ_OK;
}

mz_status mz_store_open(mz_store **out, const char *path, mz_store_mode mode, mz_error *err)
{
    *out = NULL;
    if (!path || !*path)
        return mz_fail(err, MZ_EINVAL, "zoo file: empty path");
    mz_store *st = calloc(1, sizeof *st);
    if (!st)
        return mz_fail(err, MZ_ENOMEM, "out of memory");
    st->lock_fd = -1;
    st->mode = mode;
    if (strlen(path) >= sizeof st->path) {
        free(st);
        return mz_fail(err, MZ_EINVAL, "zoo file: path longer than %zu bytes", sizeof st->path - 1);
    }
    snprintf(st->path, sizeof st->path, "%s", path);

    mz_status s = MZ_OK;
    struct stat sb;
    int exists = stat(path, &sb) == 0;
    int empty = !exists; /* a new file, or one with no zoo in it yet */
    if (exists && !S_ISREG(sb.st_mode))
        s = mz_fail(err, MZ_EFORMAT, "%s: not a regular file", path);
    else if (!exists && mode == MZ_STORE_READ)
        s = mz_fail(err, MZ_ENOTFOUND, "%s: no such zoo file", path);
    else if (exists)
        s = check_header(path, &empty, err);
    if (s == MZ_OK && mode == MZ_STORE_WRITE) {
        s = check_dir_writable(path, err);
        if (s == MZ_OK && exists && access(path, W_OK) != 0)
            s = mz_fail(err, MZ_EREADONLY, "%s: zoo file is not writable (%s)", path,
                        strerror(errno));
    }
    if (s != MZ_OK) {
        free(st);
        return s;
    }

    int flags =
        mode == MZ_STORE_READ ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    int rc = sqlite3_open_v2(path, &st->db, flags | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        s = db_fail(st, err, rc, "open");
        mz_store_close(st);
        return s;
    }
    sqlite3_extended_result_codes(st->db, 1);
    sqlite3_busy_timeout(st->db, 10000);
    if (mode == MZ_STORE_WRITE) {
        s = take_lock(st, err);
        if (s == MZ_OK && !empty)
            s = exec(st, "PRAGMA journal_mode=WAL", err);
        if (s == MZ_OK)
            s = exec(st, "PRAGMA synchronous=FULL", err);
    }
    if (s == MZ_OK && !empty) {
        /* The header said zoo; make sure the tables agree (and that the file reads at all). */
        int64_t n =
            query_int(st, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name IN "
                          "('meta','models','epochs','layout','resume')");
        if (n != 5)
            s = mz_fail(
                err, MZ_EFORMAT,
                "%s: not a complete zoo file (expected tables meta, models, epochs, layout, "
                "resume)",
                path);
    }
    if (s != MZ_OK) {
        mz_store_close(st);
        return s;
    }
    *out = st;
    return MZ_OK;
}

void *mz_store_sqlite(mz_store *st)
{
    return st ? st->db : NULL;
}

static int is_zoo(mz_store *st)
{
    return query_int(st, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='meta'") ==
           1;
}

/* ---- attach ---- */

static void json_path_append(char *path, size_t cap, const char *key, long idx)
{
    size_t n = strlen(path);
    if (key)
        snprintf(path + n, cap - n, "%s%s", n ? "." : "", key);
    else
        snprintf(path + n, cap - n, "[%ld]", idx);
}

/* First difference between two JSON values; path gets its key path. Returns 1 if they differ. */
static int json_first_diff(json_t *a, json_t *b, char *path, size_t cap)
{
    if (json_typeof(a) != json_typeof(b) && !(json_is_number(a) && json_is_number(b)))
        return 1;
    if (json_is_object(a)) {
        /* keys of both, in sorted order: the recipe is written with sorted keys */
        json_t *keys = json_array();
        const char *k;
        json_t *v;
        json_object_foreach(a, k, v) json_array_append_new(keys, json_string(k));
        json_object_foreach(b, k, v) if (!json_object_get(a, k))
            json_array_append_new(keys, json_string(k));
        size_t nk = json_array_size(keys);
        const char **ks = malloc(sizeof(char *) * (nk ? nk : 1));
        for (size_t i = 0; ks && i < nk; i++)
            ks[i] = json_string_value(json_array_get(keys, i));
        for (size_t i = 1; ks && i < nk; i++) /* insertion sort: a handful of keys */
            for (size_t j = i; j > 0 && strcmp(ks[j - 1], ks[j]) > 0; j--) {
                const char *t = ks[j];
                ks[j] = ks[j - 1];
                ks[j - 1] = t;
            }
        int diff = 0;
        size_t base = strlen(path);
        for (size_t i = 0; ks && i < nk && !diff; i++) {
            path[base] = 0;
            json_path_append(path, cap, ks[i], 0);
            json_t *x = json_object_get(a, ks[i]), *y = json_object_get(b, ks[i]);
            diff = !x || !y || json_first_diff(x, y, path, cap);
        }
        if (!diff)
            path[base] = 0;
        free(ks);
        json_decref(keys);
        return diff;
    }
    if (json_is_array(a)) {
        size_t base = strlen(path);
        size_t na = json_array_size(a), nb = json_array_size(b);
        for (size_t i = 0; i < na && i < nb; i++) {
            json_path_append(path, cap, NULL, (long)i);
            if (json_first_diff(json_array_get(a, i), json_array_get(b, i), path, cap))
                return 1;
            path[base] = 0;
        }
        return na != nb;
    }
    if (json_is_number(a))
        return json_number_value(a) != json_number_value(b) ||
               json_is_integer(a) != json_is_integer(b);
    return !json_equal(a, b);
}

static void describe_value(json_t *v, int digits, char *buf, size_t cap)
{
    char *s = v ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY |
                                    JSON_REAL_PRECISION(digits))
                : NULL;
    snprintf(buf, cap, "%s", s ? s : "(absent)");
    if (strlen(buf) > 120)
        snprintf(buf + 117, cap - 117, "...");
    free(s);
}

static json_t *json_at(json_t *root, const char *path)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *v = root;
    char *p = buf;
    while (v && *p) {
        if (*p == '[') {
            long i = strtol(p + 1, &p, 10);
            v = json_array_get(v, (size_t)i);
            if (*p == ']')
                p++;
        } else {
            if (*p == '.')
                p++;
            size_t n = strcspn(p, ".[");
            char save = p[n];
            p[n] = 0;
            v = json_object_get(v, p);
            p[n] = save;
            p += n;
        }
    }
    return v;
}

static mz_status recipe_mismatch(mz_store *st, const char *have, const char *want, mz_error *err)
{
    json_error_t je;
    json_t *a = json_loads(have, 0, &je), *b = json_loads(want, 0, &je);
    char path[512] = "";
    char va[160], vb[160];
    mz_status s;
    if (!a || !b) {
        s = mz_fail(err, MZ_EMISMATCH,
                    "%s: holds a zoo made from a different spec (its recipe is not comparable); "
                    "not touching it: use another output file",
                    st->path);
    } else {
        json_first_diff(a, b, path, sizeof path);
        /* 15 digits read better (0.0003, not 0.00029999999999999997) unless they hide the
         * difference */
        for (int digits = 15; digits <= 17; digits += 2) {
            describe_value(json_at(a, path), digits, va, sizeof va);
            describe_value(json_at(b, path), digits, vb, sizeof vb);
            if (strcmp(va, vb) != 0)
                break;
        }
        s = mz_fail(err, MZ_EMISMATCH,
                    "%s: holds a zoo made from a different spec: %s is %s in the file but %s in "
                    "the spec; not touching it (use another output file, or the spec the file "
                    "was made with: `mzoo info %s` shows its recipe)",
                    st->path, path[0] ? path : "(top level)", va, vb, st->path);
    }
    json_decref(a);
    json_decref(b);
    return s;
}

static mz_status write_new(mz_store *st, const mz_spec *spec, const char *const *variant_of,
                           const mz_layout *layouts, int n_layouts, mz_error *err)
{
    char sql[256];
    mz_status s = exec(st, "PRAGMA journal_mode=WAL", err);
    if (s == MZ_OK)
        s = exec(st, "BEGIN IMMEDIATE", err);
    if (s != MZ_OK)
        return s;
    snprintf(sql, sizeof sql, "PRAGMA application_id=%d; PRAGMA user_version=%d;",
             (int)MZ_APPLICATION_ID, MZ_SCHEMA_VERSION);
    if ((s = exec(st, sql, err)) != MZ_OK || (s = exec(st, schema_sql, err)) != MZ_OK)
        goto fail;

    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(st->db, "INSERT INTO meta(key, value) VALUES (?, ?)", -1, &q, NULL);
    if (rc != SQLITE_OK) {
        s = db_fail(st, err, rc, "prepare meta");
        goto fail;
    }
    char now[32], num[32][4];
    time_t t = time(NULL);
    struct tm tmv;
    gmtime_r(&t, &tmv);
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tmv);
    snprintf(num[0], sizeof num[0], "%d", MZ_SCHEMA_VERSION);
    snprintf(num[1], sizeof num[1], "%d", spec->epochs);
    snprintf(num[2], sizeof num[2], "%d", spec->batch_size);
    snprintf(num[3], sizeof num[3], "%lld", (long long)spec->n_models);
    const char *kv[][2] = {
        {"schema_version", num[0]},
        {"generator", "mzoo " MZ_VERSION_STRING},
        {"recipe", spec->recipe ? spec->recipe : "{}"},
        {"created_at", now},
        {"dataset", spec->dataset},
        {"variant", spec->variant},
        {"architecture", spec->architecture},
        {"epochs", num[1]},
        {"batch_size", num[2]},
        {"n_models", num[3]},
        {"weights_format", "float32 little-endian, PyTorch state_dict order (see layout)"},
    };
    for (size_t i = 0; i < sizeof kv / sizeof kv[0] && s == MZ_OK; i++) {
        sqlite3_bind_text(q, 1, kv[i][0], -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, kv[i][1], -1, SQLITE_STATIC);
        if ((rc = sqlite3_step(q)) != SQLITE_DONE)
            s = db_fail(st, err, rc, "write meta");
        sqlite3_reset(q);
    }
    sqlite3_finalize(q);
    if (s != MZ_OK)
        goto fail;

    rc = sqlite3_prepare_v2(st->db,
                            "INSERT INTO models(id, variant, activation, init, optimizer, lr, "
                            "weight_decay, dropout, momentum, nesterov, seed) "
                            "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                            -1, &q, NULL);
    if (rc != SQLITE_OK) {
        s = db_fail(st, err, rc, "prepare models");
        goto fail;
    }
    for (int64_t i = 0; i < spec->n_models && s == MZ_OK; i++) {
        const mz_model_spec *m = &spec->models[i];
        sqlite3_bind_int64(q, 1, m->id);
        sqlite3_bind_text(q, 2, variant_of[i], -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 3, mz_activation_name(m->activation), -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 4, mz_init_name(m->init), -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 5, mz_optimizer_name(m->optimizer), -1, SQLITE_STATIC);
        sqlite3_bind_double(q, 6, m->lr);
        sqlite3_bind_double(q, 7, m->weight_decay);
        sqlite3_bind_double(q, 8, m->dropout);
        sqlite3_bind_double(q, 9, m->momentum);
        sqlite3_bind_int(q, 10, m->nesterov != 0);
        sqlite3_bind_int64(q, 11, m->seed);
        if ((rc = sqlite3_step(q)) != SQLITE_DONE)
            s = db_fail(st, err, rc, "write models");
        sqlite3_reset(q);
    }
    sqlite3_finalize(q);
    if (s != MZ_OK)
        goto fail;

    rc = sqlite3_prepare_v2(st->db,
                            "INSERT INTO layout(variant, idx, name, shape, offset, count) "
                            "VALUES (?,?,?,?,?,?)",
                            -1, &q, NULL);
    if (rc != SQLITE_OK) {
        s = db_fail(st, err, rc, "prepare layout");
        goto fail;
    }
    for (int v = 0; v < n_layouts && s == MZ_OK; v++) {
        for (int k = 0; k < layouts[v].n_tensors && s == MZ_OK; k++) {
            const mz_tensor_desc *t = &layouts[v].tensors[k];
            char shape[128];
            mz_shape_json(t, shape, sizeof shape);
            sqlite3_bind_text(q, 1, layouts[v].variant, -1, SQLITE_STATIC);
            sqlite3_bind_int(q, 2, k);
            sqlite3_bind_text(q, 3, t->name, -1, SQLITE_STATIC);
            sqlite3_bind_text(q, 4, shape, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(q, 5, t->offset);
            sqlite3_bind_int64(q, 6, t->count);
            if ((rc = sqlite3_step(q)) != SQLITE_DONE)
                s = db_fail(st, err, rc, "write layout");
            sqlite3_reset(q);
        }
    }
    sqlite3_finalize(q);
    if (s == MZ_OK)
        s = exec(st, "COMMIT", err);
    if (s == MZ_OK)
        return MZ_OK;
fail:
    rollback(st);
    return s;
}

/* An existing zoo with the same recipe: its layout must be what this build computes. */
static mz_status check_layouts(mz_store *st, const mz_layout *layouts, int n_layouts, mz_error *err)
{
    for (int v = 0; v < n_layouts; v++) {
        mz_tensor_desc *t = NULL;
        int n = 0;
        mz_status s = mz_store_layout(st, layouts[v].variant, &t, &n, err);
        if (s == MZ_ENOTFOUND)
            continue; /* a variant no model of this zoo uses */
        if (s != MZ_OK)
            return s;
        int same = n == layouts[v].n_tensors;
        for (int k = 0; same && k < n; k++) {
            const mz_tensor_desc *a = &t[k], *b = &layouts[v].tensors[k];
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
                           st->path, layouts[v].variant, n, layouts[v].n_tensors);
    }
    return MZ_OK;
}

static mz_status prepare_writers(mz_store *st, mz_error *err)
{
    struct {
        sqlite3_stmt **q;
        const char *sql;
    } w[] = {
        {&st->ins_epoch, "INSERT INTO epochs(model_id, epoch, train_loss, train_acc, val_loss, "
                         "val_acc, test_loss, test_acc, weights) VALUES (?,?,?,?,?,?,?,?,?)"},
        {&st->put_resume, "INSERT OR REPLACE INTO resume(model_id, epoch, opt_step, opt_state) "
                          "VALUES (?,?,?,?)"},
        {&st->del_resume, "DELETE FROM resume WHERE model_id = ?"},
        {&st->upd_model, "UPDATE models SET status = ?, epochs_done = max(epochs_done, ?), "
                         "message = ? WHERE id = ?"},
    };
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) {
        if (*w[i].q)
            continue;
        int rc = sqlite3_prepare_v2(st->db, w[i].sql, -1, w[i].q, NULL);
        if (rc != SQLITE_OK)
            return db_fail(st, err, rc, "prepare");
    }
    return MZ_OK;
}

mz_status mz_store_attach(mz_store *st, const mz_spec *spec, const char *const *variant_of,
                          const mz_layout *layouts, int n_layouts, mz_error *err)
{
    if (st->mode != MZ_STORE_WRITE)
        return mz_fail(err, MZ_EINVAL, "%s: opened read-only", st->path);
    for (int64_t i = 0; i < spec->n_models; i++) {
        int found = 0;
        for (int v = 0; v < n_layouts && !found; v++)
            found = !strcmp(variant_of[i], layouts[v].variant);
        if (!found)
            return mz_fail(err, MZ_EINVAL, "model %lld: variant %s has no layout", (long long)i,
                           variant_of[i]);
    }
    mz_status s;
    if (!is_zoo(st)) {
        s = write_new(st, spec, variant_of, layouts, n_layouts, err);
    } else {
        char *have = NULL;
        if ((s = mz_store_recipe(st, &have, err)) != MZ_OK)
            return s;
        if (strcmp(have, spec->recipe ? spec->recipe : "{}") != 0)
            s = recipe_mismatch(st, have, spec->recipe ? spec->recipe : "{}", err);
        free(have);
        if (s == MZ_OK && query_int(st, "SELECT count(*) FROM models") != spec->n_models)
            s = mz_fail(err, MZ_EMISMATCH, "%s: holds %lld models but the spec expands to %lld",
                        st->path, (long long)query_int(st, "SELECT count(*) FROM models"),
                        (long long)spec->n_models);
        if (s == MZ_OK)
            s = check_layouts(st, layouts, n_layouts, err);
    }
    if (s == MZ_OK)
        s = prepare_writers(st, err);
    return s;
}

/* ---- progress and resume ---- */

mz_status mz_store_progress(mz_store *st, mz_model_progress *out, int64_t n_models, mz_error *err)
{
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(st->db, "SELECT id, status, epochs_done FROM models ORDER BY id",
                                -1, &q, NULL);
    if (rc != SQLITE_OK)
        return db_fail(st, err, rc, "read models");
    int64_t i = 0;
    mz_status s = MZ_OK;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW && s == MZ_OK) {
        int64_t id = sqlite3_column_int64(q, 0);
        int status = status_parse((const char *)sqlite3_column_text(q, 1));
        if (i >= n_models || id != i || status < 0) {
            s = mz_fail(
                err, MZ_EFORMAT, "%s: table models, row id %lld: %s", st->path, (long long)id,
                status < 0 ? "unknown status" : "model ids are not 0..n-1 as the spec expands");
            break;
        }
        out[i].model_id = id;
        out[i].status = (mz_model_status)status;
        out[i].epochs_done = sqlite3_column_int(q, 2);
        i++;
    }
    if (s == MZ_OK && rc != SQLITE_DONE)
        s = db_fail(st, err, rc, "read models");
    sqlite3_finalize(q);
    if (s == MZ_OK && i != n_models)
        s = mz_fail(err, MZ_EFORMAT, "%s: table models has %lld rows (expected %lld)", st->path,
                    (long long)i, (long long)n_models);
    return s;
}

/* Copies a float32 blob (little-endian on disk) into dst[n]; checks its size. */
static mz_status blob_floats(mz_store *st, sqlite3_stmt *q, int col, float *dst, int64_t n,
                             const char *what, int64_t model_id, int epoch, mz_error *err)
{
    int bytes = sqlite3_column_bytes(q, col);
    const void *p = sqlite3_column_blob(q, col);
    if ((int64_t)bytes != n * 4)
        return mz_fail(err, MZ_EFORMAT,
                       "%s: %s of model %lld epoch %d has %d bytes (expected %lld)", st->path, what,
                       (long long)model_id, epoch, bytes, (long long)(n * 4));
    if (n) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        const unsigned char *b = p;
        for (int64_t i = 0; i < n; i++) {
            uint32_t u = (uint32_t)b[4 * i] | (uint32_t)b[4 * i + 1] << 8 |
                         (uint32_t)b[4 * i + 2] << 16 | (uint32_t)b[4 * i + 3] << 24;
            memcpy(&dst[i], &u, 4);
        }
#else
        memcpy(dst, p, (size_t)n * 4);
#endif
    }
    return MZ_OK;
}

mz_status mz_store_load_resume(mz_store *st, int64_t model_id, int *epoch, float *weights,
                               int64_t n_weights, float *opt_state, int64_t n_opt,
                               int64_t *opt_step, mz_error *err)
{
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(st->db,
                                "SELECT r.epoch, r.opt_step, r.opt_state, e.weights FROM resume r "
                                "JOIN epochs e ON e.model_id = r.model_id AND e.epoch = r.epoch "
                                "WHERE r.model_id = ?",
                                -1, &q, NULL);
    if (rc != SQLITE_OK)
        return db_fail(st, err, rc, "read resume state");
    sqlite3_bind_int64(q, 1, model_id);
    mz_status s;
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        *epoch = sqlite3_column_int(q, 0);
        *opt_step = sqlite3_column_int64(q, 1);
        s = blob_floats(st, q, 3, weights, n_weights, "weights", model_id, *epoch, err);
        if (s == MZ_OK)
            s = blob_floats(st, q, 2, opt_state, n_opt, "optimizer state", model_id, *epoch, err);
    } else if (rc == SQLITE_DONE) {
        s = mz_fail(err, MZ_EFORMAT, "%s: model %lld has committed epochs but no resume state",
                    st->path, (long long)model_id);
    } else {
        s = db_fail(st, err, rc, "read resume state");
    }
    sqlite3_finalize(q);
    return s;
}

/* ---- commit ---- */

static void bind_metric(sqlite3_stmt *q, int col, double v)
{
    if (isfinite(v))
        sqlite3_bind_double(q, col, v);
    else
        sqlite3_bind_null(q, col); /* NaN (absent) and +-Inf (diverged) are stored as NULL */
}

static int bind_floats(sqlite3_stmt *q, int col, const float *v, int64_t n, void **tmp)
{
    *tmp = NULL;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    unsigned char *b = malloc((size_t)n * 4 + 1);
    if (!b)
        return SQLITE_NOMEM;
    for (int64_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        b[4 * i] = u & 0xff, b[4 * i + 1] = u >> 8 & 0xff, b[4 * i + 2] = u >> 16 & 0xff,
              b[4 * i + 3] = u >> 24;
    }
    *tmp = b;
    return sqlite3_bind_blob64(q, col, b, (sqlite3_uint64)n * 4, SQLITE_STATIC);
#else
    static const char empty[1] = {0};
    return sqlite3_bind_blob64(q, col, n ? (const void *)v : (const void *)empty,
                               (sqlite3_uint64)n * 4, SQLITE_STATIC);
#endif
}

static mz_status step_done(mz_store *st, sqlite3_stmt *q, const char *what, mz_error *err)
{
    int rc = sqlite3_step(q);
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    return rc == SQLITE_DONE ? MZ_OK : db_fail(st, err, rc, what);
}

static mz_status update_model(mz_store *st, int64_t id, mz_model_status status, int epoch,
                              const char *message, mz_error *err)
{
    sqlite3_stmt *q = st->upd_model;
    sqlite3_bind_text(q, 1, mz_model_status_name(status), -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 2, epoch);
    if (message)
        sqlite3_bind_text(q, 3, message, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(q, 3);
    sqlite3_bind_int64(q, 4, id);
    mz_status s = step_done(st, q, "update models", err);
    if (s == MZ_OK && sqlite3_changes(st->db) != 1)
        s = mz_fail(err, MZ_EINVAL, "%s: no model with id %lld", st->path, (long long)id);
    return s;
}

mz_status mz_store_commit(mz_store *st, const mz_epoch_record *recs, int n, mz_error *err)
{
    if (!st->ins_epoch)
        return mz_fail(err, MZ_EINVAL, "%s: commit before attach", st->path);
    mz_status s = exec(st, "BEGIN IMMEDIATE", err);
    for (int i = 0; i < n && s == MZ_OK; i++) {
        const mz_epoch_record *r = &recs[i];
        if (!r->weights || r->n_weights <= 0) {
            s = mz_fail(err, MZ_EINVAL, "model %lld epoch %d: record without weights",
                        (long long)r->model_id, r->epoch);
            break;
        }
        sqlite3_stmt *q = st->ins_epoch;
        void *tmp = NULL;
        sqlite3_bind_int64(q, 1, r->model_id);
        sqlite3_bind_int(q, 2, r->epoch);
        bind_metric(q, 3, r->train_loss);
        bind_metric(q, 4, r->train_acc);
        bind_metric(q, 5, r->val_loss);
        bind_metric(q, 6, r->val_acc);
        bind_metric(q, 7, r->test_loss);
        bind_metric(q, 8, r->test_acc);
        int rc = bind_floats(q, 9, r->weights, r->n_weights, &tmp);
        s = rc == SQLITE_OK ? step_done(st, q, "insert epoch", err) : db_fail(st, err, rc, "bind");
        free(tmp);
        if (s != MZ_OK)
            break;
        int final = r->status == MZ_MODEL_DONE || r->status == MZ_MODEL_DIVERGED ||
                    r->status == MZ_MODEL_FAILED;
        if (final) {
            /* a finished model is never resumed: its optimizer state is not kept */
            q = st->del_resume;
            sqlite3_bind_int64(q, 1, r->model_id);
            s = step_done(st, q, "delete resume", err);
        } else {
            q = st->put_resume;
            sqlite3_bind_int64(q, 1, r->model_id);
            sqlite3_bind_int(q, 2, r->epoch);
            sqlite3_bind_int64(q, 3, r->opt_step);
            rc = bind_floats(q, 4, r->opt_state, r->opt_state ? r->n_opt : 0, &tmp);
            s = rc == SQLITE_OK ? step_done(st, q, "write resume", err)
                                : db_fail(st, err, rc, "bind");
            free(tmp);
        }
        if (s == MZ_OK)
            s = update_model(st, r->model_id, r->status, r->epoch, r->message, err);
    }
    if (s == MZ_OK)
        s = exec(st, "COMMIT", err);
    if (s != MZ_OK)
        rollback(st);
    return s;
}

mz_status mz_store_set_status(mz_store *st, int64_t model_id, mz_model_status status,
                              const char *message, mz_error *err)
{
    if (!st->upd_model)
        return mz_fail(err, MZ_EINVAL, "%s: set_status before attach", st->path);
    mz_status s = exec(st, "BEGIN IMMEDIATE", err);
    if (s == MZ_OK)
        s = update_model(st, model_id, status, -1, message, err);
    if (s == MZ_OK && status != MZ_MODEL_PENDING && status != MZ_MODEL_RUNNING) {
        sqlite3_stmt *q = st->del_resume;
        sqlite3_bind_int64(q, 1, model_id);
        s = step_done(st, q, "delete resume", err);
    }
    if (s == MZ_OK)
        s = exec(st, "COMMIT", err);
    if (s != MZ_OK)
        rollback(st);
    return s;
}

/* ---- reading ---- */

mz_status mz_store_meta(mz_store *st, const char *key, char *buf, size_t cap, mz_error *err)
{
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(st->db, "SELECT value FROM meta WHERE key = ?", -1, &q, NULL);
    if (rc != SQLITE_OK)
        return db_fail(st, err, rc, "read meta");
    sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
    mz_status s;
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(q, 0);
        snprintf(buf, cap, "%s", v ? v : "");
        s = MZ_OK;
    } else if (rc == SQLITE_DONE) {
        s = mz_fail(err, MZ_ENOTFOUND, "%s: no meta key %s", st->path, key);
    } else {
        s = db_fail(st, err, rc, "read meta");
    }
    sqlite3_finalize(q);
    return s;
}

mz_status mz_store_recipe(mz_store *st, char **out, mz_error *err)
{
    *out = NULL;
    sqlite3_stmt *q = NULL;
    int rc =
        sqlite3_prepare_v2(st->db, "SELECT value FROM meta WHERE key = 'recipe'", -1, &q, NULL);
    if (rc != SQLITE_OK)
        return db_fail(st, err, rc, "read recipe");
    mz_status s = MZ_OK;
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        *out = mz_strdup((const char *)sqlite3_column_text(q, 0));
        if (!*out)
            s = mz_fail(err, MZ_ENOMEM, "out of memory");
    } else {
        s = rc == SQLITE_DONE ? mz_fail(err, MZ_EFORMAT, "%s: meta has no recipe", st->path)
                              : db_fail(st, err, rc, "read recipe");
    }
    sqlite3_finalize(q);
    return s;
}

mz_status mz_store_read_weights(mz_store *st, int64_t model_id, int epoch, float *w, int64_t n,
                                mz_error *err)
{
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(
        st->db, "SELECT weights FROM epochs WHERE model_id = ? AND epoch = ?", -1, &q, NULL);
    if (rc != SQLITE_OK)
        return db_fail(st, err, rc, "read weights");
    sqlite3_bind_int64(q, 1, model_id);
    sqlite3_bind_int(q, 2, epoch);
    mz_status s;
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        s = blob_floats(st, q, 0, w, n, "weights", model_id, epoch, err);
    else if (rc == SQLITE_DONE)
        s = mz_fail(err, MZ_ENOTFOUND, "%s: no epoch %d of model %lld", st->path, epoch,
                    (long long)model_id);
    else
        s = db_fail(st, err, rc, "read weights");
    sqlite3_finalize(q);
    return s;
}

/* Parses a shape "[a,b,...]" into t. */
static int parse_shape(const char *s, mz_tensor_desc *t)
{
    json_error_t je;
    json_t *a = s ? json_loads(s, 0, &je) : NULL;
    int ok = a && json_is_array(a) && json_array_size(a) <= MZ_MAX_DIMS;
    t->ndim = ok ? (int)json_array_size(a) : 0;
    for (int d = 0; ok && d < t->ndim; d++) {
        json_t *v = json_array_get(a, (size_t)d);
        ok = json_is_integer(v) && json_integer_value(v) >= 0;
        t->shape[d] = ok ? json_integer_value(v) : 0;
    }
    json_decref(a);
    return ok;
}

mz_status mz_store_layout(mz_store *st, const char *variant, mz_tensor_desc **out, int *n,
                          mz_error *err)
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
        return db_fail(st, err, rc, "read layout");
    sqlite3_bind_text(q, 1, variant, -1, SQLITE_STATIC);
    mz_tensor_desc *t = NULL;
    int cap = 0, k = 0;
    mz_status s = MZ_OK;
    int64_t next = 0;
    while (s == MZ_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (k == cap) {
            cap = cap ? 2 * cap : 16;
            mz_tensor_desc *g = realloc(t, sizeof *t * (size_t)cap);
            if (!g) {
                s = mz_fail(err, MZ_ENOMEM, "out of memory");
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
        int64_t prod = 1;
        int ok = sqlite3_column_int(q, 0) == k &&
                 parse_shape((const char *)sqlite3_column_text(q, 2), d);
        for (int j = 0; ok && j < d->ndim; j++)
            prod *= d->shape[j];
        if (!ok || prod != d->count || d->offset != next)
            s = mz_fail(err, MZ_EFORMAT,
                        "%s: table layout, variant %s, idx %d (%s): inconsistent shape, count or "
                        "offset",
                        st->path, variant, k, d->name);
        next = d->offset + d->count;
        k++;
    }
    if (s == MZ_OK && rc != SQLITE_DONE)
        s = db_fail(st, err, rc, "read layout");
    sqlite3_finalize(q);
    if (s == MZ_OK && k == 0)
        s = mz_fail(err, MZ_ENOTFOUND, "%s: no layout for variant %s", st->path, variant);
    if (s != MZ_OK) {
        free(t);
        return s;
    }
    *out = t;
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
        return db_fail(st, err, rc, "read models");
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        int s = status_parse((const char *)sqlite3_column_text(q, 0));
        int64_t c = sqlite3_column_int64(q, 1);
        out->n_models += c;
        if (s >= 0)
            out->by_status[s] += c;
    }
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE)
        return db_fail(st, err, rc, "read models");
    out->n_epoch_rows = query_int(st, "SELECT count(*) FROM epochs");
    char buf[32];
    out->max_epoch = mz_store_meta(st, "epochs", buf, sizeof buf, NULL) == MZ_OK
                         ? (int)strtol(buf, NULL, 10)
                         : -1;
    return MZ_OK;
}

mz_status mz_store_query(mz_store *st, const char *sql, mz_store_row_fn row, void *ctx,
                         mz_error *err)
{
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(st->db, sql, -1, &q, NULL);
    if (rc != SQLITE_OK)
        return db_fail(st, err, rc, "query");
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
    mz_status s = MZ_OK;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        for (int c = 0; c < ncol; c++)
            vals[c] = (const char *)sqlite3_column_text(q, c);
        if (row(ctx, ncol, vals, names))
            break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        s = db_fail(st, err, rc, "query");
    free(vals);
    sqlite3_finalize(q);
    return s;
}
