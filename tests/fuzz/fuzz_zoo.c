/* libFuzzer target: a zoo file from elsewhere, as SQLite bytes (the store's opening checks,
 * schema, meta and recipe, layout rows with any count, shape or offset, model and epoch rows,
 * blobs and their checksums, resume rows), read the ways mzoo reads a zoo: info's summary, the
 * models, every layout, each model's epochs and resume state (as train resumes), verify, and the
 * loader (as mzoo dataset and bench read one). See fuzz_pt.c for building and running; replay.c
 * replays a corpus without libFuzzer. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mzoo/loader.h"
#include "mzoo/spec.h"
#include "mzoo/store.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FLOATS (1 << 22) /* the fuzzer's memory: larger layouts are read as layouts only */

static int count_epoch(void *ctx, const mz_epoch_record *rec)
{
    (void)rec;
    return ++*(int *)ctx > 64;
}

static void ignore_problem(void *ctx, const char *problem)
{
    (void)ctx;
    (void)problem;
}

static void read_store(const char *path)
{
    mz_error err = {0};
    mz_store *st = NULL;
    mz_status s = mz_store_open(&st, path, MZ_STORE_READ, &err);
    FUZZ_CHECK_MSG(s, err);
    if (s)
        return;
    char buf[256];
    char *recipe = NULL;
    (void)mz_store_schema_version(st);
    if (mz_store_meta(st, "epochs", buf, sizeof buf, &err) == MZ_OK) {
    }
    if (mz_store_recipe(st, &recipe, &err) == MZ_OK) {
        char diff[512];
        mz_recipe_diff(recipe, "{\"grid\": {}}", "fuzz", diff, sizeof diff);
        free(recipe);
    }
    mz_store_summary sum;
    s = mz_store_summary_get(st, &sum, &err);
    FUZZ_CHECK_MSG(s, err);

    /* layouts by variant */
    char **names = NULL;
    int nv = 0;
    int64_t n_params[16] = {0};
    if (mz_store_variants(st, &names, &nv, &err) == MZ_OK) {
        for (int i = 0; i < nv; i++) {
            mz_tensor_desc *t = NULL;
            int nt = 0;
            int64_t np = 0;
            err.msg[0] = 0;
            s = mz_store_layout(st, names[i], &t, &nt, &np, &err);
            FUZZ_CHECK_MSG(s, err);
            if (s == MZ_OK && i < 16)
                n_params[i] = np;
            free(t);
        }
    }

    /* models, their epochs and resume state */
    mz_model_row *rows = NULL;
    mz_model_progress *prog = NULL;
    int64_t n = 0;
    err.msg[0] = 0;
    s = mz_store_read_models(st, &rows, &prog, &n, &err);
    FUZZ_CHECK_MSG(s, err);
    if (s == MZ_OK) {
        mz_model_progress *p2 = calloc((size_t)(n ? n : 1), sizeof *p2);
        if (p2 && mz_store_progress(st, p2, n, &err) != MZ_OK && !err.msg[0])
            abort();
        free(p2);
        for (int64_t i = 0; i < n && i < 8; i++) {
            int64_t np = 0;
            for (int v = 0; v < nv && v < 16; v++)
                if (rows[i].variant && !strcmp(rows[i].variant, names[v]))
                    np = n_params[v];
            if (np <= 0 || np > MAX_FLOATS)
                continue;
            int count = 0;
            err.msg[0] = 0;
            s = mz_store_read_epochs(st, rows[i].id, np, count_epoch, &count, &err);
            FUZZ_CHECK_MSG(s, err);
            float *w = malloc((size_t)np * sizeof *w), *o = malloc((size_t)np * 2 * sizeof *o);
            int epoch = 0;
            int64_t step = 0;
            err.msg[0] = 0;
            if (w && o) {
                s = mz_store_load_resume(st, rows[i].id, &epoch, w, np, o, 2 * np, &step, &err);
                FUZZ_CHECK_MSG(s, err);
                err.msg[0] = 0;
                s = mz_store_read_weights(st, rows[i].id, 0, w, np, &err);
                FUZZ_CHECK_MSG(s, err);
            }
            free(w);
            free(o);
        }
        free(rows);
        free(prog);
    }
    for (int i = 0; i < nv; i++)
        free(names[i]);
    free(names);

    mz_verify_report rep;
    err.msg[0] = 0;
    s = mz_store_verify(st, ignore_problem, NULL, &rep, &err);
    FUZZ_CHECK_MSG(s, err);
    mz_store_close(st);
}

static void read_loader(const char *path)
{
    mz_loader_options opt;
    mz_loader_options_default(&opt);
    mz_error err = {0};
    mz_loader *L = NULL;
    mz_status s = mz_loader_open(&L, path, &opt, &err);
    FUZZ_CHECK_MSG(s, err);
    if (s)
        return;
    if (mz_loader_layout(L)->dim <= MAX_FLOATS) {
        const float *x;
        const mz_sample_info *info;
        for (int k = 0; k < 256; k++) {
            err.msg[0] = 0;
            s = mz_loader_next(L, &x, &info, &err);
            FUZZ_CHECK_MSG(s, err);
            if (s || !x)
                break;
        }
    }
    mz_loader_close(L);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char side[700];
    const char *path = fuzz_write("zoo.db", data, size);
    snprintf(side, sizeof side, "%s-wal", path);
    remove(side);
    snprintf(side, sizeof side, "%s-shm", path);
    remove(side);
    read_store(path);
    read_loader(path);
    return 0;
}
