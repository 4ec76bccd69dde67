/* Opening and closing zoo files.
 *
 * Nothing is written to a file that is not already a zoo or new: the SQLite header and the
 * application_id are checked before SQLite opens the file, and an SQLite database without mzoo's
 * application_id is taken for a new zoo only if it holds no schema at all (whatever its header's
 * page count says: files written before SQLite 3.7.0 leave it 0).
 *
 * Writers: an exclusive flock() on the zoo file for as long as the store is open, so two runs can
 * never interleave their commits; the flock descriptor stays open until after sqlite3_close
 * (closing any descriptor of the file would drop SQLite's own POSIX locks on it). Opening writes
 * nothing: the WAL journal mode is set by mz_store_attach once the file has been checked, so a
 * refused run leaves the file's bytes as they were. At close, a writer folds the WAL back into the
 * file and returns it to rollback-journal mode, so a finished zoo is one self-contained file that
 * opens read-only anywhere (read-only media, another user's file, plain sqlite3 without -shm).
 *
 * Readers never change the directory. A file in rollback-journal mode is opened read-only as it
 * is. A file still in WAL mode (a run in progress, or killed) is read through its -wal file, which
 * holds committed epochs; without a -wal file and without a writer it is opened immutable, so no
 * -wal/-shm file is created beside it. */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* flock */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store-impl.h"
#include "core/banned.h"

mz_status mz_store_db_fail(mz_store *st, mz_error *err, int rc, const char *what)
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
        hint = " (disk full: the zoo keeps every epoch committed before this one; until a later "
               "run completes, some of them may live in the file's -wal companion, which is part "
               "of the zoo: keep it beside the file and copy both)";
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
    case SQLITE_INTERRUPT:
        code = MZ_EINTERRUPTED;
        break;
    default:
        code = MZ_ESTORE;
        break;
    }
    const char *m = st && st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc);
    return mz_fail(err, code, "%s: %s: %s%s", st ? st->path : "zoo", what, m, hint);
}

mz_status mz_store_exec(mz_store *st, const char *sql, mz_error *err)
{
    int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? MZ_OK : mz_store_db_fail(st, err, rc, sql);
}

void mz_store_rollback(mz_store *st)
{
    if (!sqlite3_get_autocommit(st->db))
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

int64_t mz_store_query_int(mz_store *st, const char *sql)
{
    sqlite3_stmt *q = NULL;
    int64_t v = -1;
    if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return v;
}

/* What the first 100 bytes of an existing file say. */
typedef struct header {
    int empty;        /* zero bytes long */
    uint32_t app;     /* application_id */
    uint32_t version; /* user_version */
    int wal;          /* file format bytes 18-19 say WAL */
} header;

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static mz_status read_header(const char *path, header *h, mz_error *err)
{
    memset(h, 0, sizeof *h);
    FILE *f = fopen(path, "rb");
    if (!f)
        return mz_fail(err,
                       errno == ENOENT   ? MZ_ENOTFOUND
                       : errno == EACCES ? MZ_EREADONLY
                                         : MZ_EIO,
                       "%s: cannot open: %s", path, strerror(errno));
    unsigned char b[100];
    size_t n = fread(b, 1, sizeof b, f);
    fclose(f);
    h->empty = n == 0;
    if (n == 0)
        return MZ_OK;
    if (n < sizeof b || memcmp(b, "SQLite format 3", 16) != 0)
        return mz_fail(err, MZ_EFORMAT,
                       "%s: byte 0: not a zoo file (expected an SQLite database written by mzoo); "
                       "refusing to touch it",
                       path);
    h->app = be32(b + 68);
    h->version = be32(b + 60);
    h->wal = b[18] == 2 || b[19] == 2;
    if (h->app != 0 && h->app != MZ_APPLICATION_ID)
        return mz_fail(
            err, MZ_EFORMAT,
            "%s: byte 68: SQLite application_id is 0x%08x (expected 0x%08x, a zoo made by "
            "mzoo); refusing to touch it",
            path, h->app, MZ_APPLICATION_ID);
    if (h->app == MZ_APPLICATION_ID && h->version > MZ_SCHEMA_VERSION)
        return mz_fail(err, MZ_EFORMAT,
                       "%s: byte 60: schema version %u is newer than this mzoo understands (%d); "
                       "use a newer mzoo",
                       path, h->version, MZ_SCHEMA_VERSION);
    return MZ_OK;
}

static void finalize_all(mz_store *st)
{
    sqlite3_finalize(st->ins_epoch);
    sqlite3_finalize(st->put_resume);
    sqlite3_finalize(st->del_resume);
    sqlite3_finalize(st->upd_model);
    sqlite3_finalize(st->rd_weights);
    st->ins_epoch = st->put_resume = st->del_resume = st->upd_model = st->rd_weights = NULL;
}

mz_status mz_store_fold(mz_store *st, mz_error *err)
{
    if (!st || !st->db || st->mode != MZ_STORE_WRITE || !st->wrote)
        return MZ_OK;
    finalize_all(st);
    /* A reader that has the file open keeps it in WAL mode (the switch needs the only
     * connection); the next writer folds it then. */
    int rc = sqlite3_exec(st->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return mz_store_db_fail(st, err, rc, "folding the -wal file into the zoo");
    sqlite3_busy_timeout(st->db, 0);
    sqlite3_exec(st->db, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL);
    sqlite3_busy_timeout(st->db, 10000);
    st->wrote = 0;
    return MZ_OK;
}

void mz_store_close(mz_store *st)
{
    if (!st)
        return;
    mz_store_fold(st, NULL);
    finalize_all(st);
    if (st->db)
        sqlite3_close_v2(st->db);
    if (st->lock_fd >= 0)
        close(st->lock_fd); /* releases the flock, after SQLite has let go of the file */
    free(st);
}

static mz_status take_lock(mz_store *st, mz_error *err)
{
    st->lock_fd = open(st->path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
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

/* The directory of path into dir[cap]. */
static void dir_of(const char *path, char *dir, size_t cap)
{
    snprintf(dir, cap, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, cap, ".");
    else if (slash == dir)
        dir[1] = 0;
    else
        *slash = 0;
}

/* The directory must be writable for the journal files. */
static mz_status check_dir_writable(const char *path, mz_error *err)
{
    char dir[1024];
    dir_of(path, dir, sizeof dir);
    if (access(dir, W_OK) != 0)
        return mz_fail(err, errno == ENOENT ? MZ_ENOTFOUND : MZ_EREADONLY,
                       "%s: directory %s is not writable (%s); the zoo file needs its journal "
                       "beside it",
                       path, dir, strerror(errno));
    return MZ_OK;
}

/* Size of path + suffix, -1 if it does not exist. */
static int64_t companion_size(const char *path, const char *suffix)
{
    char p[1100];
    struct stat sb;
    snprintf(p, sizeof p, "%s%s", path, suffix);
    return stat(p, &sb) == 0 ? (int64_t)sb.st_size : -1;
}

/* 1 if an mzoo writer holds the file's flock. */
static int writer_active(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    int busy = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    close(fd); /* drops the shared flock at once: it only asked */
    return busy;
}

/* The URI that opens path read-only: "file:<path, percent-encoded>?mode=ro[&immutable=1]". */
static mz_status reader_uri(const char *path, int immutable, char *uri, size_t cap, mz_error *err)
{
    size_t o = (size_t)snprintf(uri, cap, "file:");
    for (const unsigned char *p = (const unsigned char *)path; *p && o + 4 < cap; p++) {
        if (*p == '?' || *p == '#' || *p == '%' || *p < 0x20 || *p >= 0x7f)
            o += (size_t)snprintf(uri + o, cap - o, "%%%02X", *p);
        else
            uri[o++] = (char)*p;
    }
    const char *q = immutable ? "?mode=ro&immutable=1" : "?mode=ro";
    if (o + strlen(q) + 1 > cap)
        return mz_fail(err, MZ_ELIMIT, "%s: path too long to open", path);
    snprintf(uri + o, cap - o, "%s", q);
    return MZ_OK;
}

/* Opens st->db for reading without creating anything beside the file. */
static mz_status open_reader(mz_store *st, const header *h, mz_error *err)
{
    int immutable = 0;
    if (h->wal) {
        int64_t wal = companion_size(st->path, "-wal");
        if (wal > 0) {
            /* committed epochs may live in the -wal file: read through it (SQLite needs the -shm
             * file for that, and creates it if it can) */
            char dir[1024];
            dir_of(st->path, dir, sizeof dir);
            if (companion_size(st->path, "-shm") < 0 && access(dir, W_OK) != 0)
                return mz_fail(err, MZ_EREADONLY,
                               "%s: this zoo's latest commits are still in %s-wal, and reading "
                               "them needs a %s-shm file that cannot be created in the read-only "
                               "directory %s; copy the zoo file together with its -wal file to a "
                               "writable place (the next run on it folds the -wal file in)",
                               st->path, st->path, st->path, dir);
        } else if (!writer_active(st->path)) {
            immutable = 1; /* nothing outside the file, nobody writing: read it as it is */
        }
    }
    char uri[3200];
    mz_status s = reader_uri(st->path, immutable, uri, sizeof uri, err);
    if (s != MZ_OK)
        return s;
    int rc = sqlite3_open_v2(uri, &st->db,
                             SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, NULL);
    return rc == SQLITE_OK ? MZ_OK : mz_store_db_fail(st, err, rc, "open");
}

/* What the database says it is, read through SQLite (the bytes on disk may be older: in WAL mode
 * the latest header lives in the -wal file): a zoo (st->version set and its tables checked), a
 * database without any schema (a new zoo may be made in it: version 0) or another program's. */
static mz_status identify(mz_store *st, mz_error *err)
{
    int rc = sqlite3_exec(st->db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return mz_store_db_fail(st, err, rc, "reading the schema");
    int64_t app = mz_store_query_int(st, "PRAGMA application_id");
    int64_t version = mz_store_query_int(st, "PRAGMA user_version");
    if (app == 0 && mz_schema_is_empty(st)) {
        st->version = 0;
        return MZ_OK;
    }
    if (app != MZ_APPLICATION_ID)
        return mz_fail(err, MZ_EFORMAT,
                       "%s: an SQLite database of another program (application_id 0x%08x, not "
                       "mzoo's 0x%08x, and it has tables); refusing to touch it",
                       st->path, (unsigned)app, MZ_APPLICATION_ID);
    if (version < 1 || version > MZ_SCHEMA_VERSION)
        return mz_fail(err, MZ_EFORMAT,
                       "%s: schema version %lld %s (this mzoo reads versions 1 to %d)", st->path,
                       (long long)version,
                       version > MZ_SCHEMA_VERSION ? "is newer than this mzoo understands; use a "
                                                     "newer mzoo"
                                                   : "is not a zoo schema",
                       MZ_SCHEMA_VERSION);
    st->version = (int)version;
    return mz_schema_check(st, err);
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
        return mz_fail(err, MZ_ELIMIT, "zoo file: path of %zu bytes (at most %zu)", strlen(path),
                       sizeof st->path - 1);
    }
    snprintf(st->path, sizeof st->path, "%s", path);

    mz_status s = MZ_OK;
    struct stat sb;
    int exists = stat(path, &sb) == 0;
    header h;
    memset(&h, 0, sizeof h);
    h.empty = !exists;
    if (exists && !S_ISREG(sb.st_mode))
        s = mz_fail(err, MZ_EFORMAT, "%s: not a regular file", path);
    else if (!exists && mode == MZ_STORE_READ)
        s = mz_fail(err, MZ_ENOTFOUND, "%s: no such zoo file", path);
    else if (exists)
        s = read_header(path, &h, err);
    if (s == MZ_OK && mode == MZ_STORE_READ && h.empty)
        s = mz_fail(err, MZ_EFORMAT, "%s: not a zoo file (it is empty)", path);
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

    if (mode == MZ_STORE_READ) {
        s = open_reader(st, &h, err);
    } else {
        s = take_lock(st, err);
        if (s == MZ_OK) {
            int rc = sqlite3_open_v2(
                path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                NULL);
            if (rc != SQLITE_OK)
                s = mz_store_db_fail(st, err, rc, "open");
        }
    }
    if (s == MZ_OK) {
        sqlite3_extended_result_codes(st->db, 1);
        sqlite3_busy_timeout(st->db, 10000);
        if (mode == MZ_STORE_WRITE)
            s = mz_store_exec(st, "PRAGMA synchronous=FULL", err); /* per connection: no write */
        else /* readers map the file: blobs without a copy through read() */
            sqlite3_exec(st->db, "PRAGMA mmap_size=1099511627776", NULL, NULL, NULL);
    }
    if (s == MZ_OK && !h.empty)
        s = identify(st, err);
    if (s == MZ_OK && mode == MZ_STORE_READ && st->version == 0)
        s = mz_fail(err, MZ_EFORMAT, "%s: not a zoo file (an SQLite database that holds no zoo)",
                    path);
    if (s != MZ_OK) {
        mz_store_close(st);
        return s;
    }
    *out = st;
    return MZ_OK;
}

int mz_store_schema_version(const mz_store *st)
{
    return st->version;
}

int mz_store_has_absmax(const mz_store *st)
{
    return st->absmax_first;
}

sqlite3 *mz_store_handle(mz_store *st)
{
    return st->db;
}

const char *mz_store_path(const mz_store *st)
{
    return st->path;
}
