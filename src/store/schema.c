/* The tables of a zoo file, per schema version, and the migration between versions.
 *
 * Version 1: grid zoos only (every hyperparameter column NOT NULL, every epoch with weights).
 * Version 2 adds what twins and imported zoos need and the checksums:
 *   models  + source_id, source_epoch (a twin's model and checkpoint epoch in its source zoo),
 *             hparams (JSON object of hyperparameters beyond the columns); the hyperparameter
 *             columns may be NULL (an imported zoo may not know them);
 *   epochs  + sparsity, metrics (JSON object of further metrics, e.g. per-layer sparsity),
 *             weights_crc32 (zlib crc32 of the blob); weights may be NULL (an imported epoch
 *             whose checkpoint is missing);
 *   resume  + opt_crc32.
 * Version 3 (current) adds
 *   epochs  + weights_absmax: the largest |w| of the blob, +Inf when it holds a NaN or an Inf,
 *             NULL when unknown (no blob, or a row written before the upgrade). A selection that
 *             drops non-finite or large weights keeps a row whose absmax passes without reading
 *             its blob. A file created at version 3 has the column before the blob; an upgraded
 *             file has it behind the blob, where reading it costs as much as the blob itself, so
 *             readers use it only when it comes first (mz_store_has_absmax).
 * The weights blob is the last column of epochs: SQLite reads a column behind a blob only by
 * walking the blob's overflow pages, so the small columns come first (queries over metrics never
 * touch the weights).
 * A version-1 file is read as it is; a writer upgrades it in one transaction (ALTER TABLE ADD
 * COLUMN: the new columns land behind the blob, and the v1 NOT NULL constraints stay, which grid
 * zoos satisfy anyway; rows written before the upgrade have no checksum). */
#include <stdio.h>
#include <string.h>

#include "store/store-impl.h"
#include "core/banned.h"

static const char schema_v3[] =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE models("
    " id INTEGER PRIMARY KEY, variant TEXT NOT NULL,"
    " activation TEXT, init TEXT, optimizer TEXT,"
    " lr REAL, weight_decay REAL, dropout REAL, momentum REAL, nesterov INTEGER, seed INTEGER,"
    " status TEXT NOT NULL DEFAULT 'pending'"
    "  CHECK (status IN ('pending','running','done','diverged','failed')),"
    " epochs_done INTEGER NOT NULL DEFAULT -1, message TEXT,"
    " source_id INTEGER, source_epoch INTEGER, hparams TEXT);"
    "CREATE TABLE epochs("
    " model_id INTEGER NOT NULL REFERENCES models(id), epoch INTEGER NOT NULL,"
    " train_loss REAL, train_acc REAL, val_loss REAL, val_acc REAL, test_loss REAL, test_acc REAL,"
    " sparsity REAL, weights_crc32 INTEGER, metrics TEXT, weights_absmax REAL, weights BLOB,"
    " PRIMARY KEY (model_id, epoch));"
    "CREATE TABLE layout("
    " variant TEXT NOT NULL, idx INTEGER NOT NULL, name TEXT NOT NULL, shape TEXT NOT NULL,"
    " offset INTEGER NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (variant, idx));"
    "CREATE TABLE resume("
    " model_id INTEGER PRIMARY KEY REFERENCES models(id), epoch INTEGER NOT NULL,"
    " opt_step INTEGER NOT NULL, opt_state BLOB NOT NULL, opt_crc32 INTEGER);";

static const char migrate_v1_v2[] = "ALTER TABLE models ADD COLUMN source_id INTEGER;"
                                    "ALTER TABLE models ADD COLUMN source_epoch INTEGER;"
                                    "ALTER TABLE models ADD COLUMN hparams TEXT;"
                                    "ALTER TABLE epochs ADD COLUMN sparsity REAL;"
                                    "ALTER TABLE epochs ADD COLUMN metrics TEXT;"
                                    "ALTER TABLE epochs ADD COLUMN weights_crc32 INTEGER;"
                                    "ALTER TABLE resume ADD COLUMN opt_crc32 INTEGER;";
static const char migrate_v2_v3[] = "ALTER TABLE epochs ADD COLUMN weights_absmax REAL;";

/* Columns each version's tables must have (a file may have more: a newer writer's additions). */
static const char *const columns_v1[][16] = {
    {"meta", "key", "value", NULL},
    {"models", "id", "variant", "activation", "init", "optimizer", "lr", "weight_decay", "dropout",
     "momentum", "nesterov", "seed", "status", "epochs_done", "message", NULL},
    {"epochs", "model_id", "epoch", "train_loss", "train_acc", "val_loss", "val_acc", "test_loss",
     "test_acc", "weights", NULL},
    {"layout", "variant", "idx", "name", "shape", "offset", "count", NULL},
    {"resume", "model_id", "epoch", "opt_step", "opt_state", NULL},
};
static const char *const columns_v2[][5] = {
    {"models", "source_id", "source_epoch", "hparams", NULL},
    {"epochs", "sparsity", "metrics", "weights_crc32", NULL},
    {"resume", "opt_crc32", NULL},
};
static const char *const columns_v3[] = {"epochs", "weights_absmax", NULL};

int mz_schema_is_empty(mz_store *st)
{
    return mz_store_query_int(st, "SELECT count(*) FROM sqlite_master") == 0;
}

mz_status mz_schema_create(mz_store *st, mz_error *err)
{
    char sql[128];
    snprintf(sql, sizeof sql, "PRAGMA application_id=%d; PRAGMA user_version=%d;",
             (int)MZ_APPLICATION_ID, MZ_SCHEMA_VERSION);
    mz_status s = mz_store_exec(st, sql, err);
    if (s == MZ_OK)
        s = mz_store_exec(st, schema_v3, err);
    if (s == MZ_OK) {
        st->version = MZ_SCHEMA_VERSION;
        st->absmax_first = 1;
    }
    return s;
}

/* Whether table has column (*found), or the error that kept SQLite from saying: a file it cannot
 * read (a -shm it cannot map, an I/O error) must not pass for a zoo with a table missing. */
static mz_status has_column(mz_store *st, const char *table, const char *column, int *found,
                            mz_error *err)
{
    sqlite3_stmt *q = NULL;
    *found = 0;
    int rc = sqlite3_prepare_v2(st->db, "SELECT 1 FROM pragma_table_info(?) WHERE name = ?", -1, &q,
                                NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(q, 1, table, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, column, -1, SQLITE_STATIC);
        rc = sqlite3_step(q);
        *found = rc == SQLITE_ROW;
        if (rc == SQLITE_ROW || rc == SQLITE_DONE)
            rc = SQLITE_OK;
    }
    sqlite3_finalize(q);
    return rc == SQLITE_OK ? MZ_OK : mz_store_db_fail(st, err, rc, "reading the schema");
}

static mz_status check_columns(mz_store *st, const char *const *tc, mz_error *err)
{
    int table = 0, found = 0;
    for (int c = 1; tc[c] && !table; c++) {
        mz_status s = has_column(st, tc[0], tc[c], &table, err);
        if (s != MZ_OK)
            return s;
    }
    for (int c = 1; tc[c]; c++) {
        mz_status s = has_column(st, tc[0], tc[c], &found, err);
        if (s != MZ_OK)
            return s;
        if (found)
            continue;
        if (!table)
            return mz_fail(err, MZ_EFORMAT,
                           "%s: not a complete zoo file (schema version %d): table %s is missing",
                           st->path, st->version, tc[0]);
        return mz_fail(err, MZ_EFORMAT,
                       "%s: not a complete zoo file (schema version %d): table %s has no column %s",
                       st->path, st->version, tc[0], tc[c]);
    }
    return MZ_OK;
}

/* The column's position in table (pragma table_info's cid), or -1. */
static int column_index(mz_store *st, const char *table, const char *column)
{
    sqlite3_stmt *q = NULL;
    int cid = -1;
    if (sqlite3_prepare_v2(st->db, "SELECT cid FROM pragma_table_info(?) WHERE name = ?", -1, &q,
                           NULL) == SQLITE_OK) {
        sqlite3_bind_text(q, 1, table, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, column, -1, SQLITE_STATIC);
        if (sqlite3_step(q) == SQLITE_ROW)
            cid = sqlite3_column_int(q, 0);
    }
    sqlite3_finalize(q);
    return cid;
}

/* Whether epochs.weights_absmax exists and comes before the blob (see the top of the file). */
static void probe_absmax(mz_store *st)
{
    int a = column_index(st, "epochs", "weights_absmax");
    st->absmax_first = a >= 0 && a < column_index(st, "epochs", "weights");
}

mz_status mz_schema_check(mz_store *st, mz_error *err)
{
    /* the file must read at all before its tables are asked about */
    int rc = sqlite3_exec(st->db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return mz_store_db_fail(st, err, rc, "reading the schema");
    mz_status s = MZ_OK;
    for (size_t t = 0; s == MZ_OK && t < sizeof columns_v1 / sizeof columns_v1[0]; t++)
        s = check_columns(st, columns_v1[t], err);
    for (size_t t = 0;
         s == MZ_OK && st->version >= 2 && t < sizeof columns_v2 / sizeof columns_v2[0]; t++)
        s = check_columns(st, columns_v2[t], err);
    if (s == MZ_OK && st->version >= 3)
        s = check_columns(st, columns_v3, err);
    if (s == MZ_OK)
        probe_absmax(st);
    return s;
}

mz_status mz_schema_migrate(mz_store *st, mz_error *err)
{
    if (st->version >= MZ_SCHEMA_VERSION)
        return MZ_OK;
    char sql[256];
    mz_status s = mz_store_exec(st, "BEGIN IMMEDIATE", err);
    if (s == MZ_OK && st->version < 2)
        s = mz_store_exec(st, migrate_v1_v2, err);
    if (s == MZ_OK && st->version < 3)
        s = mz_store_exec(st, migrate_v2_v3, err);
    snprintf(sql, sizeof sql,
             "PRAGMA user_version=%d; UPDATE meta SET value = '%d' WHERE key = 'schema_version';"
             "INSERT OR IGNORE INTO meta(key, value) VALUES ('kind', 'grid');",
             MZ_SCHEMA_VERSION, MZ_SCHEMA_VERSION);
    if (s == MZ_OK)
        s = mz_store_exec(st, sql, err);
    if (s == MZ_OK)
        s = mz_store_exec(st, "COMMIT", err);
    if (s != MZ_OK) {
        mz_store_rollback(st);
        mz_error_prefix(err, "upgrading the zoo file from schema version %d", st->version);
        return s;
    }
    st->version = MZ_SCHEMA_VERSION;
    probe_absmax(st);
    return MZ_OK;
}
