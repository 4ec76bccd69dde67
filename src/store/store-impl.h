/* Private to src/store: the handle and the helpers its files share.
 *
 * The store is split by concern: open.c (opening, locking, the read-only strategy, folding the
 * WAL at close), schema.c (the tables of each schema version, creating, checking and migrating
 * them), records.c (attaching a zoo, committing records, progress and resume state), read.c
 * (meta, layouts, weights, summaries and the read-only selection queries of the loader). */
#ifndef MZ_STORE_IMPL_H
#define MZ_STORE_IMPL_H

#include <sqlite3.h>

#include "mzoo/store.h"

/* "mzoo" in ASCII: written to the SQLite header's application_id field. */
#define MZ_APPLICATION_ID 0x6d7a6f6f

/* The largest weights blob a zoo may hold: SQLite's default length limit (1e9 bytes). */
#define MZ_STORE_MAX_FLOATS ((int64_t)250000000)

struct mz_store {
    sqlite3 *db;
    int lock_fd; /* flock'd descriptor of the zoo file (WRITE mode), else -1 */
    mz_store_mode mode;
    int version; /* user_version of the file (0 while it is new and empty) */
    int absmax_first; /* epochs.weights_absmax exists and comes before the blob */
    int wrote;   /* this handle has written: fold the WAL at close */
    int attached; /* mz_store_attach succeeded: commits may follow */
    char path[1024];
    sqlite3_stmt *ins_epoch, *put_resume, *del_resume, *upd_model;
    sqlite3_stmt *rd_weights; /* mz_store_read_weights, prepared once */
    int reading;              /* inside mz_store_read_begin */
};

/* Maps an SQLite result code to an mz_status and a message naming the file and what failed. */
mz_status mz_store_db_fail(mz_store *st, mz_error *err, int rc, const char *what);
/* sqlite3_exec of sql; on failure the message names what. */
mz_status mz_store_exec(mz_store *st, const char *sql, mz_error *err);
/* Rolls back an open transaction (if any). */
void mz_store_rollback(mz_store *st);
/* A single integer from a query without parameters; -1 on error or no row. */
int64_t mz_store_query_int(mz_store *st, const char *sql);

/* The SQLite handle, for tests that need to reach under the store (fault injection, crafted
 * rows). Nothing in the library outside src/store uses it. */
sqlite3 *mz_store_handle(mz_store *st);

/* ---- schema.c ---- */
/* Creates the tables of the current schema version (inside the caller's transaction). */
mz_status mz_schema_create(mz_store *st, mz_error *err);
/* Checks that the zoo tables exist with the columns of st->version. */
mz_status mz_schema_check(mz_store *st, mz_error *err);
/* Upgrades an older file to the current version, in one transaction. */
mz_status mz_schema_migrate(mz_store *st, mz_error *err);
/* 1 if the database holds no schema objects at all. */
int mz_schema_is_empty(mz_store *st);

/* ---- records.c ---- */
/* The mz_model_status of a status name, -1 if unknown. */
int mz_store_status_parse(const char *s);
/* zlib crc32 of the n floats as they are stored (little-endian bytes). */
uint32_t mz_store_crc_floats(const float *v, int64_t n);
/* The largest |v[i]|, +Inf when any is NaN or Inf (epochs.weights_absmax). */
double mz_store_absmax_floats(const float *v, int64_t n);
/* Copies the float32 blob of column col into dst[n] after checking its size and, when the row
 * has one (crc_col >= 0 and not NULL), its checksum. what/model_id/epoch name it in errors. */
mz_status mz_store_blob_floats(mz_store *st, sqlite3_stmt *q, int col, int crc_col, float *dst,
                               int64_t n, const char *what, int64_t model_id, int epoch,
                               mz_error *err);

#endif
