/* Tests of src/data's core: IDX reading (plain and gzip'd, and every kind of damage), the
 * normalisation table and torch.randperm against goldens from tools/make_data_golden.py, the
 * seeded split, the registry and the MNIST/Fashion-MNIST loaders (on synthetic files, and on the
 * real Fashion-MNIST files when /usr/share/datasets/fashion-mnist is installed).
 *
 * MZ_TEST_LARGE=1 also checks torch.randperm at n ~ 2^32/20 (~1 GB of memory, a few seconds). */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "mzoo/data.h"

#define FMNIST_DIR "/usr/share/datasets/fashion-mnist"

static char tmpdir[256];

/* ---- helpers ---- */

/* st must be `code` and err->msg must contain every string of the NULL-terminated list. */
static void check_err_(const char *file, int line, mz_status st, mz_status code,
                       const mz_error *err, const char *const *parts)
{
    int ok = st == code;
    for (const char *const *p = parts; ok && *p; p++)
        ok = strstr(err->msg, *p) != NULL;
    if (ok) {
        check_passed_++;
        return;
    }
    check_failed_++;
    fprintf(stderr, "%s:%d: expected status %d with", file, line, (int)code);
    for (const char *const *p = parts; *p; p++)
        fprintf(stderr, " \"%s\"", *p);
    fprintf(stderr, "; got status %d: %s\n", (int)st, err->msg);
}
#define CHECK_ERR(st, code, err, ...)                                                              \
    check_err_(__FILE__, __LINE__, st, code, err, (const char *const[]){__VA_ARGS__, NULL})

static void tmp_path(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", tmpdir, name);
}

static int write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(data, 1, n, f);
    return fclose(f) == 0 && w == n ? 0 : -1;
}

static int write_gz(const char *path, const void *data, size_t n)
{
    gzFile f = gzopen(path, "wb6");
    if (!f)
        return -1;
    int ok = n == 0 || gzwrite(f, data, (unsigned)n) == (int)n;
    return gzclose(f) == Z_OK && ok ? 0 : -1;
}

/* Reads a whole file (for corrupting gzip files at the byte level). */
static uint8_t *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(len > 0 ? (size_t)len : 1);
    *n = buf ? fread(buf, 1, (size_t)len, f) : 0;
    fclose(f);
    return buf;
}

/* An IDX file in memory: magic 00 00 <type> <ndim>, big-endian dims, then `data_len` bytes. */
static uint8_t *make_idx(int type, int ndim, const uint32_t *dims, const uint8_t *data,
                         size_t data_len, size_t *out_len)
{
    size_t n = 4 + 4 * (size_t)ndim + data_len;
    uint8_t *b = malloc(n);
    b[0] = 0;
    b[1] = 0;
    b[2] = (uint8_t)type;
    b[3] = (uint8_t)ndim;
    for (int i = 0; i < ndim; i++) {
        b[4 + 4 * i] = (uint8_t)(dims[i] >> 24);
        b[5 + 4 * i] = (uint8_t)(dims[i] >> 16);
        b[6 + 4 * i] = (uint8_t)(dims[i] >> 8);
        b[7 + 4 * i] = (uint8_t)dims[i];
    }
    if (data_len)
        memcpy(b + 4 + 4 * ndim, data, data_len);
    *out_len = n;
    return b;
}

/* Writes <tmpdir>/<name> holding an IDX array of unsigned bytes; gz: gzip'd. */
static void write_idx(const char *name, int gz, int ndim, const uint32_t *dims, const uint8_t *data)
{
    size_t count = 1, len;
    for (int i = 0; i < ndim; i++)
        count *= dims[i];
    uint8_t *b = make_idx(0x08, ndim, dims, data, count, &len);
    char path[512];
    tmp_path(path, sizeof path, name);
    CHECK((gz ? write_gz(path, b, len) : write_file(path, b, len)) == 0);
    free(b);
}

static void remove_tmp(const char *name)
{
    char path[512];
    tmp_path(path, sizeof path, name);
    remove(path);
}

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* The goldens' checksum: sum_i splitmix64((i << shift) | v_i) mod 2^64. */
static uint64_t hash_u8(const uint8_t *v, int64_t n)
{
    uint64_t h = 0;
    for (int64_t i = 0; i < n; i++)
        h += splitmix64((uint64_t)i << 8 | v[i]);
    return h;
}
static uint64_t hash_i32(const int32_t *v, int64_t n)
{
    uint64_t h = 0;
    for (int64_t i = 0; i < n; i++)
        h += splitmix64((uint64_t)i << 8 | (uint32_t)v[i]);
    return h;
}
static uint64_t hash_perm(const uint32_t *v, int64_t n)
{
    uint64_t h = 0;
    for (int64_t i = 0; i < n; i++)
        h += splitmix64((uint64_t)i << 32 | v[i]);
    return h;
}

static FILE *open_golden(const char *name)
{
    const char *root = getenv("MZ_TEST_DATA");
    char path[1024];
    snprintf(path, sizeof path, "%s/datasets/%s", root ? root : "tests/data", name);
    FILE *f = fopen(path, "r");
    CHECK_MSG(f != NULL, "cannot open golden %s (run tools/make_data_golden.py)", path);
    return f;
}

static float bits_to_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}
static uint32_t float_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

#define LINE_MAX_ 65536
static char line[LINE_MAX_];

/* Next whitespace-separated token of the current line (strtok state). */
static const char *tok(void)
{
    return strtok(NULL, " \t\r\n");
}
static unsigned long long tok_u64(void)
{
    const char *t = tok();
    return t ? strtoull(t, NULL, 10) : 0;
}

/* ---- torch.randperm ---- */

static void test_randperm_golden(void)
{
    FILE *f = open_golden("randperm.txt");
    if (!f)
        return;
    int n_cases = 0, large = getenv("MZ_TEST_LARGE") && *getenv("MZ_TEST_LARGE") == '1';
    while (fgets(line, sizeof line, f)) {
        const char *kind = strtok(line, " \t\r\n");
        if (!kind || kind[0] == '#')
            continue;
        if (strcmp(kind, "randperm-large") == 0 && !large)
            continue;
        uint32_t n = (uint32_t)tok_u64();
        uint64_t seed = tok_u64();
        uint32_t *p = malloc((size_t)n * sizeof *p);
        CHECK(p != NULL);
        if (!p)
            continue;
        CHECK_EQ_INT(mz_torch_randperm(p, n, seed), MZ_OK);
        const char *mode = tok();
        int bad = 0;
        if (mode && strcmp(mode, "full") == 0) {
            for (uint32_t i = 0; i < n; i++) {
                unsigned long long want = tok_u64();
                if (p[i] != want && !bad++)
                    fprintf(stderr, "randperm(%u, %llu)[%u] = %u, torch %llu\n", n,
                            (unsigned long long)seed, i, p[i], want);
            }
        } else {
            int k = (int)tok_u64(); /* head K */
            for (int i = 0; i < k; i++)
                bad += p[i] != tok_u64();
            tok();
            k = (int)tok_u64(); /* tail K */
            for (int i = 0; i < k; i++)
                bad += p[n - (uint32_t)k + (uint32_t)i] != tok_u64();
            tok(); /* hash */
            bad += hash_perm(p, n) != tok_u64();
        }
        CHECK_MSG(bad == 0, "randperm(%u, seed %llu) differs from torch in %d places", n,
                  (unsigned long long)seed, bad);
        n_cases++;
        free(p);
    }
    fclose(f);
    CHECK_MSG(n_cases >= 7, "only %d randperm cases in the golden", n_cases);
    CHECK_EQ_INT(mz_torch_randperm(NULL, 0, 1), MZ_OK);
    CHECK_EQ_INT(mz_torch_randperm(NULL, 5, 1), MZ_EINVAL);
}

/* ---- normalisation table ---- */

static void test_lut_golden(void)
{
    FILE *f = open_golden("lut.txt");
    if (!f)
        return;
    int n_tables = 0;
    while (fgets(line, sizeof line, f)) {
        const char *kind = strtok(line, " \t\r\n");
        if (!kind || strcmp(kind, "lut") != 0)
            continue;
        const char *mean_s = tok(), *std_s = tok();
        float mean_dec = strtof(mean_s, NULL), std_dec = strtof(std_s, NULL);
        float mean = bits_to_float((uint32_t)strtoul(tok(), NULL, 16));
        float std = bits_to_float((uint32_t)strtoul(tok(), NULL, 16));
        /* The loaders write 0.1307f etc.: the float torch gets from the Python double. */
        CHECK(float_bits(mean_dec) == float_bits(mean) && float_bits(std_dec) == float_bits(std));
        mz_dataset ds;
        memset(&ds, 0, sizeof ds);
        ds.c = 3;
        float m3[3] = {mean, mean, mean}, s3[3] = {std, std, std};
        mz_dataset_set_normalize(&ds, m3, s3);
        int bad = 0;
        for (int v = 0; v < 256; v++) {
            uint32_t want = (uint32_t)strtoul(tok(), NULL, 16);
            for (int c = 0; c < 3; c++)
                if (float_bits(ds.lut[c][v]) != want && !bad++)
                    fprintf(stderr, "lut(%s, %s)[%d] = %.9g, torch %.9g\n", mean_s, std_s, v,
                            (double)ds.lut[c][v], (double)bits_to_float(want));
        }
        CHECK_MSG(bad == 0, "normalisation (%s, %s): %d values differ from torchvision", mean_s,
                  std_s, bad);
        n_tables++;
    }
    fclose(f);
    CHECK_EQ_INT(n_tables, 2);
    /* Channels beyond ds.c stay zero. */
    mz_dataset ds;
    memset(&ds, 0, sizeof ds);
    ds.c = 1;
    float m[3] = {0.5f, 9, 9}, s[3] = {0.5f, 9, 9};
    mz_dataset_set_normalize(&ds, m, s);
    CHECK(ds.lut[0][255] == 1.0f && ds.lut[0][0] == -1.0f && ds.lut[1][7] == 0.0f &&
          ds.mean[1] == 0.0f);
}

/* ---- IDX reading ---- */

static void test_idx_ok(void)
{
    uint8_t data[3 * 4 * 5];
    for (int i = 0; i < 60; i++)
        data[i] = (uint8_t)(i * 37 + 11);
    uint32_t dims[3] = {3, 4, 5};
    for (int gz = 0; gz < 2; gz++) {
        const char *name = gz ? "ok.idx.gz" : "ok.idx";
        write_idx(name, gz, 3, dims, data);
        char path[512];
        tmp_path(path, sizeof path, name);
        mz_idx idx;
        mz_error err = {0};
        CHECK_OK(mz_idx_read(path, &idx, &err), &err);
        CHECK_EQ_INT(idx.ndim, 3);
        CHECK(idx.dims[0] == 3 && idx.dims[1] == 4 && idx.dims[2] == 5);
        CHECK(idx.data && memcmp(idx.data, data, sizeof data) == 0);
        mz_idx_release(&idx);
        CHECK(idx.data == NULL && idx.ndim == 0);
        mz_idx_release(&idx); /* twice: no-op */
        remove(path);
    }
    /* A 1-D label file, and an empty array (0 items). */
    uint32_t d1 = 4, d0 = 0;
    write_idx("lab.idx", 0, 1, &d1, data);
    write_idx("empty.idx", 1, 1, &d0, data);
    char path[512];
    mz_idx idx;
    mz_error err = {0};
    tmp_path(path, sizeof path, "lab.idx");
    CHECK_OK(mz_idx_read(path, &idx, &err), &err);
    CHECK(idx.ndim == 1 && idx.dims[0] == 4 && memcmp(idx.data, data, 4) == 0);
    mz_idx_release(&idx);
    tmp_path(path, sizeof path, "empty.idx");
    CHECK_OK(mz_idx_read(path, &idx, &err), &err);
    CHECK(idx.ndim == 1 && idx.dims[0] == 0 && idx.data != NULL);
    mz_idx_release(&idx);
    remove_tmp("lab.idx");
    remove_tmp("empty.idx");
}

/* Writes `bytes` (plain or gzip'd) to <tmpdir>/<name>, reads it as IDX, expects the error. */
static mz_status idx_try(const char *name, int gz, const uint8_t *bytes, size_t n, mz_error *err,
                         char *path, size_t cap)
{
    tmp_path(path, cap, name);
    CHECK((gz ? write_gz(path, bytes, n) : write_file(path, bytes, n)) == 0);
    mz_idx idx;
    memset(&idx, 0x5a, sizeof idx);
    mz_error_clear(err);
    mz_status st = mz_idx_read(path, &idx, err);
    if (st == MZ_OK)
        mz_idx_release(&idx);
    else
        CHECK(idx.data == NULL); /* zeroed on failure */
    return st;
}

static void test_idx_errors(void)
{
    uint8_t data[2 * 3 * 3];
    for (int i = 0; i < 18; i++)
        data[i] = (uint8_t)i;
    uint32_t dims[3] = {2, 3, 3};
    size_t len;
    uint8_t *good = make_idx(0x08, 3, dims, data, sizeof data, &len); /* 16 + 18 = 34 bytes */
    uint8_t buf[128];
    char path[512];
    mz_error err;
    mz_status st;

    for (int gz = 0; gz < 2; gz++) {
        const char *after = gz ? "after decompression" : "";
        /* bad magic */
        memcpy(buf, good, len);
        buf[0] = 0x12;
        buf[1] = 0x34;
        st = idx_try(gz ? "magic.gz" : "magic", gz, buf, len, &err, path, sizeof path);
        CHECK_ERR(st, MZ_EFORMAT, &err, path, "offset 0", "bad IDX magic number 0x12340803", after);
        /* wrong type code (float32) */
        memcpy(buf, good, len);
        buf[2] = 0x0D;
        st = idx_try(gz ? "type.gz" : "type", gz, buf, len, &err, path, sizeof path);
        CHECK_ERR(st, MZ_EFORMAT, &err, path, "offset 2", "type code 0x0d (float32)",
                  "expected 0x08");
        /* no dimensions */
        memcpy(buf, good, len);
        buf[3] = 0;
        st = idx_try(gz ? "ndim.gz" : "ndim", gz, buf, len, &err, path, sizeof path);
        CHECK_ERR(st, MZ_EFORMAT, &err, path, "offset 3", "0 dimensions");
        /* empty file */
        st = idx_try(gz ? "empty.gz" : "empty", gz, buf, 0, &err, path, sizeof path);
        CHECK_ERR(st, MZ_EFORMAT, &err, path, "empty");
        /* truncated magic, truncated dims */
        st = idx_try(gz ? "short.gz" : "short", gz, good, 3, &err, path, sizeof path);
        CHECK_ERR(st, MZ_EFORMAT, &err, path, "truncated header", "only 3 bytes", after);
        st = idx_try(gz ? "hdr.gz" : "hdr", gz, good, 10, &err, path, sizeof path);
        CHECK_ERR(st, MZ_EFORMAT, &err, path, "offset 10: truncated header",
                  "expected a 16-byte header for 3 dimensions", after);
        /* truncated data */
        st = idx_try(gz ? "data.gz" : "data", gz, good, 30, &err, path, sizeof path);
        CHECK_ERR(st, MZ_EFORMAT, &err, path, "truncated: expected 34 bytes of data", "got 30",
                  "2x3x3", after);
        /* trailing garbage */
        memcpy(buf, good, len);
        memcpy(buf + len, "junk!", 5);
        st = idx_try(gz ? "trail.gz" : "trail", gz, buf, len + 5, &err, path, sizeof path);
        CHECK_ERR(st, MZ_EFORMAT, &err, path, "offset 34", "5 bytes of unexpected data", after);
        /* dimensions over the 1 GiB cap: refused before allocating */
        uint32_t huge[3] = {60000, 65536, 65536};
        size_t hl;
        uint8_t *h = make_idx(0x08, 3, huge, data, sizeof data, &hl);
        st = idx_try(gz ? "huge.gz" : "huge", gz, h, hl, &err, path, sizeof path);
        CHECK_ERR(st, MZ_ELIMIT, &err, path, "limit");
        free(h);
    }

    /* Damaged gzip streams. */
    tmp_path(path, sizeof path, "gzsrc.gz");
    uint8_t big[20000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)((i * 2654435761u) >> 13); /* poorly compressible */
    uint32_t bd[1] = {(uint32_t)sizeof big};
    size_t bl;
    uint8_t *bidx = make_idx(0x08, 1, bd, big, sizeof big, &bl);
    CHECK(write_gz(path, bidx, bl) == 0);
    size_t gl = 0;
    uint8_t *gzb = slurp(path, &gl);
    CHECK(gzb && gl > 1000);
    if (gzb) {
        /* cut in the middle of the deflate stream */
        st = idx_try("gzcut.gz", 0, gzb, gl / 2, &err, path, sizeof path);
        char at[64];
        snprintf(at, sizeof at, "the file ends at byte %zu", gl / 2);
        CHECK_ERR(st, MZ_EFORMAT, &err, path, "truncated gzip data", at);
        /* corrupt the deflate data */
        uint8_t *c = malloc(gl);
        memcpy(c, gzb, gl);
        for (size_t i = 20; i < 60; i++)
            c[i] ^= 0xA5;
        st = idx_try("gzbad.gz", 0, c, gl, &err, path, sizeof path);
        CHECK_ERR(st, MZ_EFORMAT, &err, path, "corrupt gzip data", "detected at byte");
        /* wrong CRC in the trailer (the data itself decompresses fine) */
        memcpy(c, gzb, gl);
        c[gl - 8] ^= 0xFF;
        st = idx_try("gzcrc.gz", 0, c, gl, &err, path, sizeof path);
        snprintf(at, sizeof at, "byte %zu of the file: the CRC-32", gl - 8);
        CHECK_ERR(st, MZ_EFORMAT, &err, path, at, "incorrect data check");
        free(c);
    }
    free(gzb);
    free(bidx);

    /* Missing file, and a directory. */
    tmp_path(path, sizeof path, "nonexistent.idx");
    mz_idx idx;
    st = mz_idx_read(path, &idx, &err);
    CHECK_ERR(st, MZ_ENOTFOUND, &err, path, "not found");
    st = mz_idx_read(tmpdir, &idx, &err);
    CHECK_MSG(st != MZ_OK && strstr(err.msg, tmpdir), "directory: %d %s", (int)st, err.msg);
    free(good);
    const char *names[] = {"magic", "type", "ndim",  "empty", "short",
                           "hdr",   "data", "trail", "huge"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char gzname[64];
        snprintf(gzname, sizeof gzname, "%s.gz", names[i]);
        remove_tmp(names[i]);
        remove_tmp(gzname);
    }
    remove_tmp("gzsrc.gz");
    remove_tmp("gzcut.gz");
    remove_tmp("gzbad.gz");
    remove_tmp("gzcrc.gz");
}

/* Every prefix and many random corruptions of a small file: either it reads, or it fails with a
 * message naming the file. Never a crash (run under -fsanitize=address to see more). */
static void test_idx_fuzz(void)
{
    uint8_t data[2 * 4 * 4];
    for (int i = 0; i < 32; i++)
        data[i] = (uint8_t)(i * 7);
    uint32_t dims[3] = {2, 4, 4};
    size_t len;
    uint8_t *good = make_idx(0x08, 3, dims, data, sizeof data, &len);
    uint8_t buf[64];
    char path[512];
    mz_error err;
    int bad = 0, ok = 0;
    for (int gz = 0; gz < 2; gz++)
        for (size_t cut = 0; cut <= len; cut++) {
            mz_status st = idx_try("fuzz", gz, good, cut, &err, path, sizeof path);
            if (st == MZ_OK)
                ok++;
            else if (st != MZ_EFORMAT || !strstr(err.msg, path))
                bad++;
        }
    CHECK_EQ_INT(ok, 2); /* only the whole file, plain and gzip'd */
    uint32_t rng = 12345;
    for (int it = 0; it < 400; it++) {
        memcpy(buf, good, len);
        int flips = 1 + it % 3;
        for (int k = 0; k < flips; k++) {
            rng = rng * 1664525u + 1013904223u;
            size_t pos = (rng >> 8) % (it % 2 ? len : 16); /* half of them in the header */
            rng = rng * 1664525u + 1013904223u;
            buf[pos] ^= (uint8_t)(1u << (rng >> 29));
        }
        mz_status st = idx_try("fuzz", it % 4 == 0, buf, len, &err, path, sizeof path);
        if (st != MZ_OK && !strstr(err.msg, path))
            bad++;
    }
    CHECK_MSG(bad == 0, "%d damaged files gave an unexpected status or a message without the path",
              bad);
    remove_tmp("fuzz");
    free(good);
}

static void test_read_file_maybe_gz(void)
{
    uint8_t data[100000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i % 251);
    char path[512];
    mz_error err;
    for (int gz = 0; gz < 2; gz++) {
        tmp_path(path, sizeof path, gz ? "whole.gz" : "whole");
        CHECK((gz ? write_gz(path, data, sizeof data) : write_file(path, data, sizeof data)) == 0);
        uint8_t *out = NULL;
        size_t n = 0;
        CHECK_OK(mz_read_file_maybe_gz(path, &out, &n, sizeof data, &err), &err);
        CHECK(n == sizeof data && out && memcmp(out, data, n) == 0);
        free(out);
        CHECK_ERR(mz_read_file_maybe_gz(path, &out, &n, sizeof data - 1, &err), MZ_ELIMIT, &err,
                  path, "more than 99999 bytes");
        CHECK(out == NULL && n == 0);
        CHECK_ERR(mz_read_file_maybe_gz(path, &out, &n, 10, &err), MZ_ELIMIT, &err, path);
        remove(path);
    }
    tmp_path(path, sizeof path, "zero");
    CHECK(write_file(path, data, 0) == 0);
    uint8_t *out = NULL;
    size_t n = 1;
    CHECK_OK(mz_read_file_maybe_gz(path, &out, &n, 0, &err), &err);
    CHECK(n == 0 && out != NULL);
    free(out);
    remove(path);
    CHECK_ERR(mz_read_file_maybe_gz(path, &out, &n, 10, &err), MZ_ENOTFOUND, &err, path);
}

/* ---- split, subset, release ---- */

static void test_split(void)
{
    enum { N = 1000, BPI = 3 };
    uint8_t *x = malloc(N * BPI);
    int32_t y[N];
    for (int i = 0; i < N; i++) {
        x[i * BPI] = (uint8_t)i;
        x[i * BPI + 1] = (uint8_t)(i >> 8);
        x[i * BPI + 2] = 0xEE;
        y[i] = i % 10;
    }
    mz_split tr, va;
    mz_error err;
    uint32_t perm[N];
    CHECK_EQ_INT(mz_torch_randperm(perm, N, 42), MZ_OK);
    CHECK_OK(mz_split_random(x, y, N, BPI, 700, 200, 42, &tr, &va, &err), &err);
    CHECK(tr.n == 700 && va.n == 200);
    static uint8_t seen[N];
    memset(seen, 0, sizeof seen);
    int order_bad = 0, dup = 0;
    for (int k = 0; k < 900; k++) {
        const mz_split *s = k < 700 ? &tr : &va;
        int j = k < 700 ? k : k - 700;
        int id = s->x[j * BPI] | s->x[j * BPI + 1] << 8;
        order_bad += (uint32_t)id != perm[k] || s->x[j * BPI + 2] != 0xEE || s->y[j] != id % 10;
        dup += seen[id]++ != 0;
    }
    CHECK_EQ_INT(order_bad, 0);
    CHECK_EQ_INT(dup, 0); /* train and val disjoint, no image twice */
    mz_split_release(&tr);
    mz_split_release(&va);
    CHECK(tr.x == NULL && tr.n == 0);

    /* The split is random_split's: against torch's own permutation for (1000, 123456789). */
    FILE *f = open_golden("randperm.txt");
    int matched = 0;
    while (f && fgets(line, sizeof line, f)) {
        const char *kind = strtok(line, " \t\r\n");
        if (!kind || strcmp(kind, "randperm") != 0 || tok_u64() != 1000 || tok_u64() != 123456789)
            continue;
        tok(); /* full */
        CHECK_OK(mz_split_random(x, y, N, BPI, 600, 400, 123456789, &tr, &va, &err), &err);
        int bad = 0;
        for (int k = 0; k < N; k++) {
            const uint8_t *p = k < 600 ? tr.x + k * BPI : va.x + (k - 600) * BPI;
            bad += (unsigned long long)(p[0] | p[1] << 8) != tok_u64();
        }
        CHECK_EQ_INT(bad, 0);
        matched = 1;
        mz_split_release(&tr);
        mz_split_release(&va);
    }
    if (f)
        fclose(f);
    CHECK(matched);

    /* No validation set; invalid requests. */
    CHECK_OK(mz_split_random(x, y, N, BPI, N, 0, 1, &tr, &va, &err), &err);
    CHECK(tr.n == N && va.n == 0 && va.x == NULL && va.y == NULL);
    mz_split_release(&tr);
    CHECK_ERR(mz_split_random(x, y, N, BPI, 900, 101, 1, &tr, &va, &err), MZ_EINVAL, &err,
              "900 + 101", "1000");
    CHECK_ERR(mz_split_random(x, y, N, BPI, -1, 0, 1, &tr, &va, &err), MZ_EINVAL, &err, "-1");
    CHECK_ERR(mz_split_random(x, y, N, 0, 1, 0, 1, &tr, &va, &err), MZ_EINVAL, &err, "0 bytes");
    CHECK(tr.x == NULL && va.x == NULL);

    /* Subset of the training split keeps its first n images. */
    mz_dataset ds;
    memset(&ds, 0, sizeof ds);
    mz_dataset_release(&ds); /* zeroed: no-op */
    snprintf(ds.name, sizeof ds.name, "synthetic");
    ds.c = 1;
    ds.h = 1;
    ds.w = BPI;
    CHECK_OK(mz_split_random(x, y, N, BPI, 700, 200, 42, &ds.train, &ds.val, &err), &err);
    uint8_t first[100 * BPI];
    memcpy(first, ds.train.x, sizeof first);
    CHECK_OK(mz_dataset_subset_train(&ds, 100, &err), &err);
    CHECK(ds.train.n == 100 && memcmp(ds.train.x, first, sizeof first) == 0 &&
          ds.train.y[99] == (int32_t)(perm[99] % 10) && ds.val.n == 200);
    CHECK_ERR(mz_dataset_subset_train(&ds, 101, &err), MZ_EINVAL, &err, "synthetic", "101", "100");
    CHECK_OK(mz_dataset_subset_train(&ds, 100, &err), &err);
    CHECK_OK(mz_dataset_subset_train(&ds, 0, &err), &err);
    CHECK(ds.train.n == 0 && ds.train.x == NULL);
    mz_dataset_release(&ds);
    CHECK(ds.val.x == NULL && ds.val.n == 0);
    mz_dataset_release(&ds);
    mz_dataset_release(NULL);
    free(x);
}

/* ---- registry and loaders on synthetic files ---- */

static const char *IDX_NAMES[4] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                   "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};

static void clear_mnist_dir(void)
{
    for (int i = 0; i < 4; i++) {
        char gzname[64];
        snprintf(gzname, sizeof gzname, "%s.gz", IDX_NAMES[i]);
        remove_tmp(IDX_NAMES[i]);
        remove_tmp(gzname);
    }
}

/* Writes a small (wrong-sized) train pair: n_img images of side x side, n_lab labels. */
static void write_small_train(int gz, uint32_t n_img, uint32_t side, uint32_t n_lab,
                              int bad_label_at)
{
    clear_mnist_dir();
    uint8_t *img = calloc((size_t)n_img * side * side + 1, 1);
    uint8_t lab[64] = {0};
    for (uint32_t i = 0; i < n_lab; i++)
        lab[i] = (uint8_t)(i % 10);
    if (bad_label_at >= 0)
        lab[bad_label_at] = 10;
    uint32_t d3[3] = {n_img, side, side}, d1[1] = {n_lab};
    char a[64], b[64];
    snprintf(a, sizeof a, "%s%s", IDX_NAMES[0], gz ? ".gz" : "");
    snprintf(b, sizeof b, "%s%s", IDX_NAMES[1], gz ? ".gz" : "");
    write_idx(a, gz, 3, d3, img);
    write_idx(b, gz, 1, d1, lab);
    free(img);
}

static void test_registry_errors(void)
{
    mz_dataset ds;
    mz_error err;
    char path[512], dir[512];
    const char *names = mz_dataset_names();
    CHECK(strstr(names, "fashion-mnist") && strstr(names, "mnist"));
    CHECK(mz_dataset_help("FASHION_MNIST") && strstr(mz_dataset_help("fashion-mnist"), "apt-get"));
    CHECK(mz_dataset_help("nope") == NULL && mz_dataset_help(NULL) == NULL);

    CHECK_ERR(mz_dataset_load(&ds, "fasion-mnist", NULL, NULL, &err), MZ_ENOTFOUND, &err,
              "unknown dataset 'fasion-mnist'", "fashion-mnist", "mnist");
    CHECK(ds.train.x == NULL && ds.c == 0);

    /* Missing data: the message says where we looked and how to get it. */
    snprintf(dir, sizeof dir, "%s/no-such-dir", tmpdir);
    CHECK_ERR(mz_dataset_load(&ds, "fashion-mnist", dir, NULL, &err), MZ_ENOTFOUND, &err,
              "fashion-mnist: ", "no-such-dir/train-images-idx3-ubyte.gz not found",
              "apt-get install dataset-fashion-mnist", "--data DIR", "t10k-labels-idx1-ubyte[.gz]");
    CHECK_ERR(mz_dataset_load(&ds, "mnist", NULL, NULL, &err), MZ_ENOTFOUND, &err, "mnist",
              "--data DIR", "train-images-idx3-ubyte[.gz]");
    CHECK_ERR(mz_dataset_load(&ds, "MNIST", dir, "28px", &err), MZ_ENOTFOUND, &err,
              "no-such-dir/train-images-idx3-ubyte.gz not found", "no Debian package");
    CHECK_ERR(mz_dataset_load(&ds, "mnist", dir, "64px", &err), MZ_EINVAL, &err, "mnist",
              "unknown variant '64px'", "28px or 32px");

    /* Images present, labels missing. */
    write_small_train(0, 5, 28, 5, -1);
    remove_tmp(IDX_NAMES[1]);
    CHECK_ERR(mz_dataset_load(&ds, "mnist", tmpdir, NULL, &err), MZ_ENOTFOUND, &err,
              "train-labels-idx1-ubyte.gz not found");

    /* Count mismatch between images and labels (gzip'd files). */
    write_small_train(1, 5, 28, 4, -1);
    snprintf(path, sizeof path, "%s/%s.gz", tmpdir, IDX_NAMES[1]);
    CHECK_ERR(mz_dataset_load(&ds, "fashion-mnist", tmpdir, NULL, &err), MZ_EFORMAT, &err, path,
              "offset 4: 4 labels", "has 5 images");
    CHECK(ds.train.x == NULL && ds.test.x == NULL);

    /* Label out of range, naming the item. */
    write_small_train(0, 5, 28, 5, 3);
    snprintf(path, sizeof path, "%s/%s", tmpdir, IDX_NAMES[1]);
    CHECK_ERR(mz_dataset_load(&ds, "mnist", tmpdir, NULL, &err), MZ_EFORMAT, &err, path,
              "offset 11: label 10 of item 3 is out of range", "0 to 9");

    /* Consistent but not the official size. */
    write_small_train(0, 5, 28, 5, -1);
    snprintf(path, sizeof path, "%s/%s", tmpdir, IDX_NAMES[0]);
    CHECK_ERR(mz_dataset_load(&ds, "mnist", tmpdir, NULL, &err), MZ_EFORMAT, &err, path,
              "5 images, expected 60000");

    /* Wrong image size. */
    write_small_train(1, 5, 32, 5, -1);
    snprintf(path, sizeof path, "%s/%s.gz", tmpdir, IDX_NAMES[0]);
    CHECK_ERR(mz_dataset_load(&ds, "fashion-mnist", tmpdir, NULL, &err), MZ_EFORMAT, &err, path,
              "images are 32x32, expected 28x28");

    /* A label file where the images should be. */
    write_small_train(0, 5, 28, 5, -1);
    uint8_t lab[5] = {0};
    uint32_t d1 = 5;
    write_idx(IDX_NAMES[0], 0, 1, &d1, lab);
    snprintf(path, sizeof path, "%s/%s", tmpdir, IDX_NAMES[0]);
    CHECK_ERR(mz_dataset_load(&ds, "mnist", tmpdir, NULL, &err), MZ_EFORMAT, &err, path, "offset 3",
              "a label file", "expected 3");
    clear_mnist_dir();
}

/* A full-size synthetic MNIST (plain files): image i carries i in its first three bytes. */
/* The registry's variants: defaults first, unknown names refused, sides for the spec check. */
static void test_variant_table(void)
{
    mz_dataset_shape sh;
    CHECK(mz_dataset_shape_of("cifar10", NULL, &sh) == MZ_OK && sh.side == 28 && sh.channels == 3 &&
          sh.n_train == 42000 && sh.n_val == 8000 && sh.n_test == 10000);
    CHECK(mz_dataset_shape_of("CIFAR10", "resnet", &sh) == MZ_OK && sh.side == 32 &&
          sh.n_train == 40000);
    CHECK(mz_dataset_shape_of("tiny-imagenet", NULL, &sh) == MZ_OK && sh.side == 64 &&
          sh.n_classes == 200 && sh.n_val == 0);
    CHECK(mz_dataset_shape_of("cifar10", "64px", &sh) == MZ_ENOTFOUND && sh.side == 0);
    CHECK(mz_dataset_shape_of("nope", NULL, &sh) == MZ_ENOTFOUND);
    CHECK_EQ_INT(mz_dataset_variant_side("stl10", "32px"), 32);
    CHECK_EQ_INT(mz_dataset_variant_side("stl10", "resnet"), 0);
    CHECK(mz_dataset_variant_with_side("usps", 32) == NULL);
    CHECK(mz_dataset_variant_with_side("mnist", 32) && !strcmp(mz_dataset_variant_with_side("mnist", 32), "32px"));
    CHECK(mz_dataset_variants("eurosat") && !strcmp(mz_dataset_variants("eurosat"), "28px (28x28), 32px (32x32)"));
    CHECK(mz_dataset_variants("nope") == NULL);
    /* every dataset the registry loads has its variants listed */
    const char *names = mz_dataset_names();
    for (const char *p = names; *p;) {
        size_t n = strcspn(p, ",");
        char name[32];
        snprintf(name, sizeof name, "%.*s", (int)n, p);
        CHECK_MSG(mz_dataset_shape_of(name, NULL, &sh) == MZ_OK, "no variants listed for %s", name);
        p += n;
        while (*p == ',' || *p == ' ')
            p++;
    }
}

static void test_synthetic_mnist(void)
{
    const uint32_t NTR = 60000, NTE = 10000, P = 784;
    uint8_t *img = malloc((size_t)NTR * P);
    uint8_t *lab = malloc(NTR);
    for (uint32_t i = 0; i < NTR; i++) {
        uint8_t *p = img + (size_t)i * P;
        for (uint32_t j = 0; j < P; j++)
            p[j] = (uint8_t)(i * 31 + j);
        p[0] = (uint8_t)i;
        p[1] = (uint8_t)(i >> 8);
        p[2] = (uint8_t)(i >> 16);
        lab[i] = (uint8_t)(i * 7 % 10);
    }
    uint32_t d[3] = {NTR, 28, 28};
    write_idx(IDX_NAMES[0], 0, 3, d, img);
    write_idx(IDX_NAMES[1], 0, 1, d, lab);
    d[0] = NTE;
    for (uint32_t i = 0; i < NTE; i++)
        img[(size_t)i * P + 2] = 0x80; /* mark the test images */
    write_idx(IDX_NAMES[2], 0, 3, d, img);
    write_idx(IDX_NAMES[3], 0, 1, d, lab);
    free(img);
    free(lab);

    mz_dataset ds;
    mz_error err;
    double t0 = mz_now();
    CHECK_OK(mz_dataset_load(&ds, "mnist", tmpdir, NULL, &err), &err);
    printf("synthetic mnist (plain files): loaded in %.3f s\n", mz_now() - t0);
    CHECK(strcmp(ds.name, "mnist") == 0 && strcmp(ds.source, tmpdir) == 0);
    CHECK(ds.c == 1 && ds.h == 28 && ds.w == 28 && ds.n_classes == 10);
    CHECK(ds.train.n == 50000 && ds.val.n == 10000 && ds.test.n == 10000);
    CHECK(ds.mean[0] == 0.1307f && ds.std[0] == 0.3081f);
    CHECK(ds.lut[0][0] == (0.0f - 0.1307f) / 0.3081f);
    uint32_t *perm = malloc(60000 * sizeof *perm);
    CHECK_EQ_INT(mz_torch_randperm(perm, 60000, 42), MZ_OK);
    int bad = 0;
    for (int64_t k = 0; k < 60000; k++) {
        const mz_split *s = k < 50000 ? &ds.train : &ds.val;
        int64_t j = k < 50000 ? k : k - 50000;
        const uint8_t *p = s->x + j * 784;
        uint32_t id = (uint32_t)(p[0] | p[1] << 8 | p[2] << 16);
        bad += id != perm[k] || s->y[j] != (int32_t)(id * 7 % 10) ||
               p[500] != (uint8_t)(id * 31 + 500);
    }
    CHECK_EQ_INT(bad, 0);
    bad = 0;
    for (int64_t k = 0; k < 10000; k++) {
        const uint8_t *p = ds.test.x + k * 784;
        bad += (uint32_t)(p[0] | p[1] << 8) != (uint32_t)k || p[2] != 0x80 ||
               ds.test.y[k] != (int32_t)(k * 7 % 10);
    }
    CHECK_EQ_INT(bad, 0);
    free(perm);
    mz_dataset_release(&ds);
    CHECK(ds.train.x == NULL && ds.test.x == NULL);
    clear_mnist_dir();
}

/* ---- the real Fashion-MNIST ---- */

static const mz_split *split_by_name(const mz_dataset *ds, const char *name)
{
    return strcmp(name, "train") == 0 ? &ds->train
           : strcmp(name, "val") == 0 ? &ds->val
                                      : &ds->test;
}

static void test_real_fashion_mnist(void)
{
    FILE *probe = fopen(FMNIST_DIR "/train-images-idx3-ubyte.gz", "rb");
    if (!probe) {
        printf("test_data: %s not installed, real-data test skipped\n", FMNIST_DIR);
        return;
    }
    fclose(probe);
    FILE *f = open_golden("fashion_mnist.txt");
    if (!f)
        return;
    mz_dataset ds;
    mz_error err;
    double t0 = mz_now();
    mz_status st = mz_dataset_load(&ds, "fashion-mnist", NULL, NULL, &err);
    printf("fashion-mnist: loaded in %.3f s\n", mz_now() - t0);
    CHECK_OK(st, &err);
    if (st) {
        fclose(f);
        return;
    }
    CHECK(strcmp(ds.source, FMNIST_DIR) == 0 && ds.c == 1 && ds.n_classes == 10);
    CHECK(ds.train.n == 50000 && ds.val.n == 10000 && ds.test.n == 10000);
    uint64_t train_xhash = 0;
    int n_split = 0, n_sample = 0, n_hist = 0;
    while (fgets(line, sizeof line, f)) {
        const char *kind = strtok(line, " \t\r\n");
        if (!kind || kind[0] == '#')
            continue;
        if (strcmp(kind, "split") == 0) {
            const char *name = tok();
            const mz_split *s = split_by_name(&ds, name);
            tok();
            int64_t n = (int64_t)tok_u64();
            tok();
            uint64_t xh = tok_u64();
            tok();
            uint64_t yh = tok_u64();
            CHECK_EQ_INT(s->n, n);
            CHECK_MSG(s->n == n && hash_u8(s->x, n * 784) == xh, "%s: images differ from torch",
                      name);
            CHECK_MSG(s->n == n && hash_i32(s->y, n) == yh, "%s: labels differ from torch", name);
            if (strcmp(name, "train") == 0)
                train_xhash = xh;
            n_split++;
        } else if (strcmp(kind, "hist") == 0) {
            tok();
            int64_t hist[10] = {0};
            for (int64_t i = 0; i < ds.test.n; i++)
                if (ds.test.y[i] >= 0 && ds.test.y[i] < 10)
                    hist[ds.test.y[i]]++;
            for (int c = 0; c < 10; c++)
                CHECK_EQ_INT(hist[c], tok_u64());
            n_hist++;
        } else if (strcmp(kind, "sample") == 0) {
            const char *name = tok();
            const mz_split *s = split_by_name(&ds, name);
            int64_t k = (int64_t)tok_u64();
            tok();
            tok_u64(); /* src: index in the file (informative) */
            tok();
            int32_t label = (int32_t)tok_u64();
            tok();
            uint64_t xh = tok_u64();
            tok(); /* px */
            if (k >= s->n) {
                CHECK_MSG(0, "%s[%lld] out of range", name, (long long)k);
                continue;
            }
            const uint8_t *x = s->x + k * 784;
            CHECK_MSG(s->y[k] == label, "%s[%lld]: label %d, torch %d", name, (long long)k, s->y[k],
                      label);
            CHECK_MSG(hash_u8(x, 784) == xh, "%s[%lld]: pixels differ from torch", name,
                      (long long)k);
            const char *t;
            int bad = 0, npx = 0;
            while ((t = tok())) {
                int p = (int)strtol(t, NULL, 10);
                uint32_t want = (uint32_t)strtoul(tok(), NULL, 16);
                bad += p < 0 || p >= 784 || float_bits(ds.lut[0][x[p]]) != want;
                npx++;
            }
            CHECK_MSG(bad == 0 && npx >= 4,
                      "%s[%lld]: %d of %d normalised pixels differ from torch", name, (long long)k,
                      bad, npx);
            n_sample++;
        }
    }
    fclose(f);
    CHECK(n_split == 3 && n_hist == 1 && n_sample >= 5);
    mz_dataset_release(&ds);

    /* The same files through the "mnist" entry: same split, MNIST's normalisation. */
    CHECK_OK(mz_dataset_load(&ds, "mnist", FMNIST_DIR, NULL, &err), &err);
    CHECK(ds.train.n == 50000 && hash_u8(ds.train.x, 50000 * 784) == train_xhash);
    CHECK(ds.mean[0] == 0.1307f && strcmp(ds.name, "mnist") == 0);
    mz_dataset_release(&ds);

    /* The 32px variant (for CNN-l): the same split, each image through PIL's bilinear 28 -> 32. */
    mz_dataset d28, d32;
    CHECK_OK(mz_dataset_load(&d28, "fashion-mnist", FMNIST_DIR, NULL, &err), &err);
    CHECK_OK(mz_dataset_load(&d32, "fashion-mnist", FMNIST_DIR, "32px", &err), &err);
    CHECK(d32.h == 32 && d32.w == 32 && d32.c == 1 && d32.train.n == 50000 && d32.val.n == 10000 &&
          d32.test.n == 10000);
    const mz_split *a[] = {&d28.train, &d28.val, &d28.test}, *b[] = {&d32.train, &d32.val, &d32.test};
    int bad = 0;
    for (int p = 0; p < 3; p++)
        for (int64_t i = 0; i < a[p]->n; i += 997) {
            uint8_t out[32 * 32];
            CHECK_OK(mz_pil_resize(a[p]->x + i * 784, 1, 28, 28, out, 32, 32, &err), &err);
            bad += memcmp(out, b[p]->x + i * 1024, sizeof out) != 0 || a[p]->y[i] != b[p]->y[i];
        }
    CHECK_MSG(bad == 0, "%d resized images differ", bad);
    /* what the registry says of a variant before reading it (spec checks, dry-run estimates) is
     * what the loader gives */
    const mz_dataset *got[] = {&d28, &d32};
    const char *vname[] = {NULL, "32px"};
    for (int v = 0; v < 2; v++) {
        mz_dataset_shape sh;
        CHECK(mz_dataset_shape_of("fashion-mnist", vname[v], &sh) == MZ_OK);
        CHECK_MSG(sh.channels == got[v]->c && sh.side == got[v]->h && sh.side == got[v]->w &&
                      sh.n_classes == got[v]->n_classes && sh.n_train == got[v]->train.n &&
                      sh.n_val == got[v]->val.n && sh.n_test == got[v]->test.n,
                  "mz_dataset_shape_of(fashion-mnist, %s) disagrees with the loader",
                  vname[v] ? vname[v] : "default");
    }
    mz_dataset_release(&d28);
    mz_dataset_release(&d32);
}

int main(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/mz_test_data_XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_randperm_golden();
    test_lut_golden();
    test_idx_ok();
    test_idx_errors();
    test_idx_fuzz();
    test_read_file_maybe_gz();
    test_split();
    test_registry_errors();
    test_variant_table();
    test_synthetic_mnist();
    test_real_fashion_mnist();
    rmdir(tmpdir);
    return check_summary("test_data");
}
