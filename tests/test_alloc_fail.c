/* Allocation failure at the k-th allocation, for every k, in the manner of SQLite's and curl's
 * torture tests: the library's malloc, calloc, realloc and posix_memalign are wrapped at link time
 * (-Wl,--wrap, CMakeLists.txt), so that allocation number k of an operation fails. For k = 1, 2, ... until the operation no longer reaches a k-th allocation,
 * it must fail cleanly: MZ_ENOMEM with a message (never another status, never MZ_OK with missing
 * data), no crash, no leak (LeakSanitizer in the sanitizer build), and the zoo file unchanged.
 *
 * Operations: parsing a spec; opening a zoo and reading it as info, a resuming train and verify
 * do; the loader over a zoo; reading a dataset directory; parsing a PyTorch pickle. Allocations
 * inside SQLite and jansson are not failed: SQLite has its own torture tests, and jansson 2.14
 * asserts (aborts) when its allocator fails inside a string, so it cannot be tested this way. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mzoo/formats.h"
#include "mzoo/loader.h"
#include "mzoo/spec.h"
#include "mzoo/store.h"
#include "check.h"

/* ---- the allocator: fails allocation number fail_at (1-based) of the current operation ---- */
static long alloc_count, fail_at; /* fail_at 0: never */
static int injected;

static int should_fail(void)
{
    alloc_count++;
    if (fail_at && alloc_count == fail_at) {
        injected = 1;
        return 1;
    }
    return 0;
}

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
int __real_posix_memalign(void **p, size_t align, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
int __wrap_posix_memalign(void **p, size_t align, size_t n);

void *__wrap_malloc(size_t n)
{
    return should_fail() ? NULL : __real_malloc(n);
}
void *__wrap_calloc(size_t n, size_t size)
{
    return should_fail() ? NULL : __real_calloc(n, size);
}
void *__wrap_realloc(void *p, size_t n)
{
    return should_fail() ? NULL : __real_realloc(p, n);
}
int __wrap_posix_memalign(void **p, size_t align, size_t n)
{
    return should_fail() ? 12 /* ENOMEM */ : __real_posix_memalign(p, align, n);
}

/* ---- the operations: each returns its status and fills err ---- */
static const char *zoo_path, *ds_dir, *spec_text;
static void *pkl;
static size_t pkl_size;

static int count_epoch(void *ctx, const mz_epoch_record *rec)
{
    (void)rec;
    ++*(int *)ctx;
    return 0;
}
static void ignore(void *ctx, const char *p)
{
    (void)ctx;
    (void)p;
}

static mz_status op_spec(mz_error *err)
{
    mz_spec s;
    mz_status st = mz_spec_parse(&s, spec_text, "spec.json", err);
    if (st == MZ_OK)
        mz_spec_release(&s);
    return st;
}

static mz_status op_store(mz_error *err)
{
    mz_store *st = NULL;
    mz_status s = mz_store_open(&st, zoo_path, MZ_STORE_READ, err);
    if (s)
        return s;
    char *recipe = NULL;
    mz_store_summary sum;
    mz_model_row *rows = NULL;
    mz_model_progress *prog = NULL;
    int64_t n = 0;
    mz_tensor_desc *t = NULL;
    int nt = 0, count = 0;
    int64_t np = 0;
    if ((s = mz_store_recipe(st, &recipe, err)) || (s = mz_store_summary_get(st, &sum, err)) ||
        (s = mz_store_read_models(st, &rows, &prog, &n, err)) ||
        (s = mz_store_layout(st, rows[0].variant, &t, &nt, &np, err)) ||
        (s = mz_store_read_epochs(st, 0, np, count_epoch, &count, err)))
        goto done;
    mz_verify_report rep;
    s = mz_store_verify(st, ignore, NULL, &rep, err);
    if (s == MZ_OK && (rep.problems || !rep.integrity_ok))
        s = mz_fail(err, MZ_EFORMAT, "verify found %lld problems", (long long)rep.problems);
done:
    free(recipe);
    free(rows);
    free(prog);
    free(t);
    mz_store_close(st);
    return s;
}

static mz_status op_loader(mz_error *err)
{
    mz_loader_options opt;
    mz_loader_options_default(&opt);
    mz_loader *L = NULL;
    mz_status s = mz_loader_open(&L, zoo_path, &opt, err);
    if (s)
        return s;
    const float *x;
    const mz_sample_info *info;
    int64_t n = 0;
    while ((s = mz_loader_next(L, &x, &info, err)) == MZ_OK && x)
        n++;
    if (s == MZ_OK && n != mz_loader_n_samples(L))
        s = mz_fail(err, MZ_EINVAL, "served %lld samples of %lld", (long long)n,
                    (long long)mz_loader_n_samples(L));
    mz_loader_close(L);
    return s;
}

static mz_status op_dataset(mz_error *err)
{
    mz_wset w;
    mz_status s = mz_dataset_read(&w, ds_dir, err);
    if (s == MZ_OK)
        mz_wset_release(&w);
    return s;
}

static mz_status op_pickle(mz_error *err)
{
    mz_pt *pt = NULL;
    mz_status s = mz_pt_parse_pickle(&pt, "data.pkl", pkl, pkl_size, NULL, err);
    mz_pt_close(pt);
    return s;
}

static uint64_t file_hash(const char *path)
{
    void *d = NULL;
    size_t n = 0;
    mz_error e = {0};
    long saved = fail_at;
    fail_at = 0;
    uint64_t h = mz_read_file(path, 1 << 30, &d, &n, &e) == MZ_OK ? mz_hash64(d, n) : 0;
    free(d);
    fail_at = saved;
    return h;
}

/* Runs op with allocation k failing, for k = 1.. until op completes without reaching k. */
static void torture(const char *name, mz_status (*op)(mz_error *), const char *keep_file)
{
    uint64_t before = keep_file ? file_hash(keep_file) : 0;
    mz_error err = {0};
    fail_at = 0;
    alloc_count = 0;
    mz_status st = op(&err);
    CHECK_MSG(st == MZ_OK, "%s without failures: %s", name, err.msg);
    long total = alloc_count, bad = 0;
    for (long k = 1; k <= total + 1; k++) {
        memset(&err, 0, sizeof err);
        alloc_count = 0;
        injected = 0;
        fail_at = k;
        st = op(&err);
        fail_at = 0;
        if (!injected) {
            CHECK_MSG(st == MZ_OK, "%s: no failure injected at %ld, yet: %s", name, k, err.msg);
            break;
        }
        /* a failed allocation may be survived (a cache not filled, a smaller buffer), but an
         * error must be MZ_ENOMEM with a message */
        if (st != MZ_OK && (st != MZ_ENOMEM || !err.msg[0])) {
            if (bad++ < 5)
                fprintf(stderr, "%s: allocation %ld failed: status %d (%s), message: %s\n", name,
                        k, (int)st, mz_strerror(st), err.msg[0] ? err.msg : "(none)");
        }
    }
    CHECK_MSG(bad == 0, "%s: %ld of %ld injected failures gave another status than MZ_ENOMEM or "
                        "no message", name, bad, total);
    if (keep_file)
        CHECK_MSG(file_hash(keep_file) == before, "%s changed %s", name, keep_file);
    printf("%s: %ld allocations, each failed in turn\n", name, total);
}

int main(void)
{
    const char *src = getenv("MZ_SOURCE_DIR");
    if (!src) {
        fprintf(stderr, "test_alloc_fail: MZ_SOURCE_DIR not set\n");
        return 1;
    }
    static char zoo[1024], spec[1024], pk[1024], tmp[] = "/tmp/mz_test_alloc_fail_XXXXXX";
    snprintf(zoo, sizeof zoo, "%s/tests/fuzz/corpus/zoo/zoo0.db", src);
    snprintf(spec, sizeof spec, "%s/examples/fmnist-hyp-small.json", src);
    snprintf(pk, sizeof pk, "%s/tests/fuzz/corpus/pickle/p2.pkl", src);
    zoo_path = zoo;
    void *text = NULL;
    size_t n = 0;
    mz_error err = {0};
    CHECK_OK(mz_read_file(spec, 1 << 20, &text, &n, &err), &err);
    spec_text = text;
    CHECK_OK(mz_read_file(pk, 1 << 20, &pkl, &pkl_size, &err), &err);
    if (!spec_text || !pkl)
        return check_summary("test_alloc_fail");

    /* a dataset directory written from the zoo (without failures) */
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 1;
    }
    mz_loader_options opt;
    mz_loader_options_default(&opt);
    mz_loader *L = NULL;
    CHECK_OK(mz_loader_open(&L, zoo_path, &opt, &err), &err);
    if (L) {
        CHECK_OK(mz_dataset_write(L, tmp, MZ_FMT_NPY | MZ_FMT_NPZ, "zoo0", &err), &err);
        mz_loader_close(L);
    }
    ds_dir = tmp;

    torture("spec", op_spec, NULL);
    torture("store", op_store, zoo_path);
    torture("loader", op_loader, zoo_path);
    torture("dataset", op_dataset, NULL);
    torture("pickle", op_pickle, NULL);

    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmp);
    free(text);
    free(pkl);
    return check_summary("test_alloc_fail");
}
