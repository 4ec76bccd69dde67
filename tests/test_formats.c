/* The formats floor: checked arithmetic and paths (core), dtypes, .npy headers, the array sinks
 * and readers (npy directory, npz, safetensors) round trip, and the zip reader on files written by
 * Python's zipfile and numpy (stored, deflated, zip64) and on corrupt copies of them (bad CRC,
 * truncated central directory, entry counts that do not fit). Crafted headers must give
 * MZ_EFORMAT/MZ_ELIMIT naming the file, never a crash or an allocation of the claimed size. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "check.h"
#include "mzoo/formats.h"

static char dir[] = "/tmp/mz_test_formats_XXXXXX";

static void path_of(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", dir, name);
}

static void put_bytes(const char *name, const void *data, size_t n)
{
    char p[256];
    path_of(p, sizeof p, name);
    FILE *f = fopen(p, "wb");
    CHECK(f != NULL);
    if (!f)
        return;
    CHECK(fwrite(data, 1, n, f) == n);
    fclose(f);
}

/* The whole file (malloc'd; *n bytes), or NULL. */
static unsigned char *get_bytes(const char *name, size_t *n)
{
    char p[256];
    path_of(p, sizeof p, name);
    FILE *f = fopen(p, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)len + 1);
    *n = fread(b, 1, (size_t)len, f);
    fclose(f);
    return b;
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void test_checked_arithmetic(void)
{
    int64_t r;
    uint64_t u;
    CHECK(!mz_mul_overflow_i64(3, -4, &r) && r == -12);
    CHECK(!mz_mul_overflow_i64(INT64_MIN, 1, &r) && r == INT64_MIN);
    CHECK(mz_mul_overflow_i64(INT64_MIN, -1, &r) && r == 0);
    CHECK(mz_mul_overflow_i64((int64_t)1 << 62, 4, &r));
    CHECK(mz_mul_overflow_i64((int64_t)1 << 32, (int64_t)1 << 31, &r));
    CHECK(!mz_mul_overflow_i64((int64_t)1 << 31, (int64_t)1 << 31, &r) && r == (int64_t)1 << 62);
    CHECK(mz_mul_overflow_i64(-((int64_t)1 << 32), (int64_t)1 << 32, &r));
    CHECK(!mz_mul_overflow_i64(-((int64_t)1 << 31), (int64_t)1 << 32, &r) && r == INT64_MIN);
    CHECK(mz_mul_overflow_i64(-3, INT64_MIN / 2, &r));
    CHECK(!mz_mul_overflow_i64(0, INT64_MIN, &r) && r == 0);
    CHECK(!mz_add_overflow_i64(INT64_MAX - 1, 1, &r) && r == INT64_MAX);
    CHECK(mz_add_overflow_i64(INT64_MAX, 1, &r));
    CHECK(mz_add_overflow_i64(INT64_MIN, -1, &r));
    CHECK(!mz_add_overflow_i64(INT64_MIN, INT64_MAX, &r) && r == -1);
    CHECK(mz_mul_overflow_u64(UINT64_MAX / 3 + 1, 3, &u));
    CHECK(!mz_mul_overflow_u64(UINT64_MAX / 3, 3, &u) && u == UINT64_MAX / 3 * 3);
    CHECK(mz_add_overflow_u64(UINT64_MAX, 1, &u));
    CHECK(!mz_add_overflow_u64(UINT64_MAX - 5, 5, &u) && u == UINT64_MAX);

    char buf[16];
    mz_error err = {0};
    CHECK_OK(mz_path_join(buf, sizeof buf, "ab", "cdef.npy", &err), &err);
    CHECK(!strcmp(buf, "ab/cdef.npy"));
    CHECK_OK(mz_path_join(buf, sizeof buf, "abcdef", "ghijklmn", &err), &err); /* 15 + NUL */
    CHECK(mz_path_join(buf, sizeof buf, "abcdef", "ghijklmno", &err) == MZ_ELIMIT);
    CHECK(buf[0] == 0 && strstr(err.msg, "path of 16 bytes") && strstr(err.msg, "limit of 15"));
}

static void test_dtypes(void)
{
    mz_dtype t;
    CHECK(mz_dtype_size(MZ_DT_F32) == 4 && mz_dtype_size(MZ_DT_I64) == 8);
    CHECK(mz_dtype_size(MZ_DT_BF16) == 2 && mz_dtype_size(MZ_DT_BOOL) == 1);
    CHECK(mz_dtype_size(MZ_DT_COUNT) == 0 && mz_dtype_get((mz_dtype)-1) == NULL);
    for (int i = 0; i < MZ_DT_COUNT; i++) {
        const mz_dtype_info *d = mz_dtype_get((mz_dtype)i);
        CHECK(mz_dtype_from_safetensors(d->safetensors, &t) && t == (mz_dtype)i);
        if (d->npy)
            CHECK(mz_dtype_from_npy(d->npy, strlen(d->npy), &t) && t == (mz_dtype)i);
    }
    CHECK(!mz_dtype_from_npy(">f4", 3, &t) && !mz_dtype_from_safetensors("F8_E4M3", &t));
    CHECK(!strcmp(mz_dtype_name(MZ_DT_U8), "uint8"));

    mz_array_desc a = {.dtype = MZ_DT_F32, .ndim = 2, .shape = {3, 5}};
    char s[64];
    CHECK(mz_array_count(&a) == 15 && mz_array_bytes(&a) == 60);
    CHECK(!strcmp(mz_array_shape_str(&a, s, sizeof s), "(3, 5)"));
    a.ndim = 1;
    CHECK(!strcmp(mz_array_shape_str(&a, s, sizeof s), "(3,)"));
    a.ndim = 0;
    CHECK(!strcmp(mz_array_shape_str(&a, s, sizeof s), "()") && mz_array_bytes(&a) == 4);
    a.ndim = 2;
    a.shape[0] = (int64_t)1 << 40;
    a.shape[1] = (int64_t)1 << 40; /* 2^80 elements */
    CHECK(mz_array_count(&a) == -1 && mz_array_bytes(&a) == -1);
    a.shape[1] = (int64_t)1 << 22; /* 2^62 elements: count fits, bytes do not */
    CHECK(mz_array_count(&a) == (int64_t)1 << 62 && mz_array_bytes(&a) == -1);
    a.shape[0] = MZ_ARRAY_DIM_MAX + 1;
    a.shape[1] = 0;
    CHECK(mz_array_count(&a) == -1);
    a.shape[0] = -1;
    CHECK(mz_array_count(&a) == -1);
    a.ndim = MZ_ARRAY_MAX_DIMS + 1;
    CHECK(mz_array_count(&a) == -1);
}

/* A .npy header with the given dict text (not padded), for parser errors. */
static size_t raw_npy(unsigned char *buf, const char *dict)
{
    size_t len = strlen(dict);
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)(len & 0xff);
    buf[9] = (unsigned char)(len >> 8);
    memcpy(buf + 10, dict, len);
    return 10 + len;
}

static void expect_parse(const char *dict, mz_status want, const char *text)
{
    unsigned char buf[600];
    size_t n = raw_npy(buf, dict);
    mz_array_desc a;
    size_t off;
    mz_error err = {0};
    mz_status st = mz_npy_parse(buf, n, &a, &off, "t.npy", &err);
    CHECK_MSG(st == want, "%s: got %d, want %d (%s)", dict, st, want, err.msg);
    if (text)
        CHECK_MSG(strstr(err.msg, text) && strstr(err.msg, "t.npy"), "%s: message %s", dict,
                  err.msg);
}

static void test_npy(void)
{
    mz_array_desc a = {.name = "v", .dtype = MZ_DT_U8, .ndim = 3, .shape = {2, 0, 7}}, b;
    char h[256];
    size_t off, hl = mz_npy_header(h, sizeof h, &a);
    mz_error err = {0};
    CHECK(hl == 128 && h[127] == '\n'); /* 10 + 63 + 1 bytes, padded to 64 */
    h[hl] = 0;
    CHECK(strstr(h + 10, "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 0, 7), }") ==
          h + 10);
    CHECK_OK(mz_npy_parse((unsigned char *)h, hl, &b, &off, "x", &err), &err);
    CHECK(off == 128 && b.dtype == MZ_DT_U8 && b.ndim == 3 && b.shape[2] == 7);
    a.ndim = 0;
    a.dtype = MZ_DT_BOOL;
    hl = mz_npy_header(h, sizeof h, &a);
    h[hl] = 0;
    CHECK(strstr(h + 10, "'descr': '|b1'") && strstr(h + 10, "'shape': (), }"));
    CHECK_OK(mz_npy_parse((unsigned char *)h, hl, &b, &off, "x", &err), &err);
    CHECK(b.ndim == 0 && b.dtype == MZ_DT_BOOL);
    a.dtype = MZ_DT_BF16; /* numpy has no bfloat16 */
    CHECK(mz_npy_header(h, sizeof h, &a) == 0);
    CHECK(mz_npy_header(h, 32, &b) == 0); /* too small a buffer */

    expect_parse("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", MZ_OK, NULL);
    expect_parse("{'descr': '>f4', 'fortran_order': False, 'shape': (3,), }", MZ_EFORMAT,
                 "not supported");
    expect_parse("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3,), }", MZ_EFORMAT,
                 "not supported");
    expect_parse("{'descr': '<f4', 'fortran_order': True, 'shape': (3,), }", MZ_EFORMAT, "Fortran");
    expect_parse("{'descr': '<f4', 'fortran_order': False, 'shape': (-3,), }", MZ_EFORMAT,
                 "offset 61");
    expect_parse("{'descr': '<f4', 'fortran_order': False, 'shape': (3 4), }", MZ_EFORMAT,
                 "expected ','");
    expect_parse("{'descr': '<f4', 'fortran_order': False, 'shape': (1,2,3,4,5,6,7,8,9), }",
                 MZ_EFORMAT, "more than 8");
    expect_parse("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }",
                 MZ_EFORMAT, "non-negative integer");
    expect_parse("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 0), }",
                 MZ_EFORMAT, "shape[0] = 4611686018427387904");
    expect_parse("{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, "
                 "1099511627776), }",
                 MZ_EFORMAT, "overflows");
    expect_parse("{'descr': '<f4', 'fortran_order': False}", MZ_EFORMAT, "lacks");
    unsigned char buf[128];
    size_t n = raw_npy(buf, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }");
    buf[8] = 0xff; /* header length 255 + 256 * len: more than the bytes given */
    mz_array_desc d;
    CHECK(mz_npy_parse(buf, n, &d, &off, "t.npy", &err) == MZ_EFORMAT);
    buf[6] = 2;
    buf[8] = buf[9] = buf[10] = buf[11] = 0xff; /* v2: a 4 GiB header */
    CHECK(mz_npy_parse(buf, n, &d, &off, "t.npy", &err) == MZ_ELIMIT);
    buf[6] = 9;
    CHECK(mz_npy_parse(buf, n, &d, &off, "t.npy", &err) == MZ_EFORMAT);
    CHECK(strstr(err.msg, "version 9") != NULL);
    CHECK(mz_npy_parse((const unsigned char *)"NUMPY", 5, &d, &off, "t.npy", &err) == MZ_EFORMAT);
}

/* Writes arrays in format fmt and reads them back by name; returns the path written. */
static void roundtrip(mz_afmt fmt, const char *path)
{
    float x[6] = {1.5f, -2, 3, 4, 5, 6};
    int64_t ids[3] = {7, -2, (int64_t)1 << 40};
    uint16_t bf[2] = {0x3f80, 0xc000}; /* bfloat16 1, -2 */
    mz_array_desc a[4] = {
        {.name = "x", .dtype = MZ_DT_F32, .ndim = 2, .shape = {2, 3}},
        {.name = "ids", .dtype = MZ_DT_I64, .ndim = 1, .shape = {3}},
        {.name = "empty", .dtype = MZ_DT_F32, .ndim = 2, .shape = {0, 3}},
        {.name = "bf", .dtype = MZ_DT_BF16, .ndim = 1, .shape = {2}},
    };
    int n = fmt == MZ_AFMT_SAFETENSORS ? 4 : 3;
    const void *data[4] = {x, ids, NULL, bf};
    const char *meta[2] = {"format", "test"};
    mz_error err = {0};
    mz_asink *s;
    CHECK_OK(mz_asink_open(&s, fmt, path, a, n, meta, 1, &err), &err);
    for (int i = 0; i < n; i++) {
        CHECK_OK(mz_asink_begin(s, i, &err), &err);
        CHECK_OK(mz_asink_write(s, data[i], (size_t)mz_array_bytes(&a[i]), &err), &err);
        CHECK_OK(mz_asink_end(s, &err), &err);
    }
    CHECK_OK(mz_asink_close(s, &err), &err);

    mz_areader *r;
    CHECK_OK(mz_areader_open(&r, fmt, path, &err), &err);
    if (!r)
        return;
    CHECK_EQ_INT(mz_areader_count(r), n);
    int seen = 0;
    for (int i = 0; i < mz_areader_count(r); i++)
        for (int k = 0; k < n; k++)
            seen += !strcmp(mz_areader_name(r, i), a[k].name);
    CHECK_EQ_INT(seen, n);
    if (fmt == MZ_AFMT_SAFETENSORS)
        CHECK(mz_areader_meta(r, "format") && !strcmp(mz_areader_meta(r, "format"), "test"));
    else
        CHECK(mz_areader_meta(r, "format") == NULL);
    for (int i = 0; i < n; i++) {
        mz_array_desc d;
        void *got = NULL;
        CHECK_OK(mz_areader_load(r, a[i].name, 1 << 20, &d, &got, &err), &err);
        CHECK(d.dtype == a[i].dtype && d.ndim == a[i].ndim && d.shape[0] == a[i].shape[0]);
        CHECK(!strcmp(d.name, a[i].name));
        if (got && data[i])
            CHECK(!memcmp(got, data[i], (size_t)mz_array_bytes(&a[i])));
        free(got);
    }
    mz_array_desc d;
    void *got = NULL;
    float into[6];
    CHECK_OK(mz_areader_read(r, "x", into, sizeof into, &err), &err);
    CHECK(!memcmp(into, x, sizeof x));
    CHECK(mz_areader_read(r, "x", into, 8, &err) == MZ_EINVAL);
    CHECK(mz_areader_load(r, "x", 8, &d, &got, &err) == MZ_ELIMIT && got == NULL);
    CHECK(mz_areader_find(r, "nope", &d, &err) == MZ_ENOTFOUND);
    char longname[80];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    CHECK(mz_areader_find(r, longname, &d, &err) == MZ_EINVAL);
    mz_areader_close(r);
}

static void test_sinks_and_readers(void)
{
    char p[256];
    mz_error err = {0};
    path_of(p, sizeof p, "r.npz");
    roundtrip(MZ_AFMT_NPZ, p);
    path_of(p, sizeof p, "r.safetensors");
    roundtrip(MZ_AFMT_SAFETENSORS, p);
    path_of(p, sizeof p, "npydir");
    CHECK(mkdir(p, 0777) == 0);
    roundtrip(MZ_AFMT_NPY, p);

    /* what the formats cannot hold */
    mz_array_desc bad = {.name = "bf", .dtype = MZ_DT_BF16, .ndim = 1, .shape = {2}};
    mz_asink *s;
    path_of(p, sizeof p, "no.npz");
    CHECK(mz_asink_open(&s, MZ_AFMT_NPZ, p, &bad, 1, NULL, 0, &err) == MZ_EUNSUPPORTED);
    CHECK(access(p, F_OK) != 0);
    mz_array_desc slash = {.name = "../x", .dtype = MZ_DT_F32, .ndim = 1, .shape = {1}};
    path_of(p, sizeof p, "npydir");
    CHECK(mz_asink_open(&s, MZ_AFMT_NPY, p, &slash, 1, NULL, 0, &err) == MZ_EINVAL);
    mz_array_desc huge = {.name = "h", .dtype = MZ_DT_F32, .ndim = 2};
    huge.shape[0] = huge.shape[1] = (int64_t)1 << 47;
    CHECK(mz_asink_open(&s, MZ_AFMT_SAFETENSORS, p, &huge, 1, NULL, 0, &err) == MZ_EINVAL);
    /* a directory path longer than any path buffer: refused, not truncated */
    char *longp = malloc(MZ_PATH_MAX + 10);
    memset(longp, 'a', MZ_PATH_MAX + 9);
    longp[0] = '/';
    longp[MZ_PATH_MAX + 9] = 0;
    mz_array_desc one = {.name = "one", .dtype = MZ_DT_F32, .ndim = 1, .shape = {1}};
    CHECK(mz_asink_open(&s, MZ_AFMT_NPZ, longp, &one, 1, NULL, 0, &err) == MZ_ELIMIT);
    CHECK(strstr(err.msg, "4105 bytes") != NULL);
    longp[MZ_PATH_MAX - 6] = 0; /* fits alone, not with "/one.npy" */
    CHECK_OK(mz_asink_open(&s, MZ_AFMT_NPY, longp, &one, 1, NULL, 0, &err), &err);
    CHECK(mz_asink_begin(s, 0, &err) == MZ_ELIMIT);
    mz_asink_abort(s);
    free(longp);

    /* an npz member whose header claims more than the member holds */
    float four[4] = {1, 2, 3, 4};
    mz_array_desc x4 = {.name = "x", .dtype = MZ_DT_F32, .ndim = 1, .shape = {4}};
    path_of(p, sizeof p, "lie.npz");
    CHECK_OK(mz_asink_open(&s, MZ_AFMT_NPZ, p, &x4, 1, NULL, 0, &err), &err);
    CHECK_OK(mz_asink_begin(s, 0, &err), &err);
    CHECK_OK(mz_asink_write(s, four, sizeof four, &err), &err);
    CHECK_OK(mz_asink_end(s, &err), &err);
    CHECK_OK(mz_asink_close(s, &err), &err);
    size_t n;
    unsigned char *b = get_bytes("lie.npz", &n);
    unsigned char *at = NULL;
    for (size_t i = 0; b && !at && i + 4 <= n; i++)
        if (!memcmp(b + i, "(4,)", 4))
            at = b + i;
    CHECK(at != NULL);
    if (at) {
        at[1] = '9';
        put_bytes("lie.npz", b, n);
        mz_areader *r;
        CHECK_OK(mz_areader_open(&r, MZ_AFMT_NPZ, p, &err), &err);
        mz_array_desc d;
        CHECK(mz_areader_find(r, "x", &d, &err) == MZ_EFORMAT);
        CHECK(strstr(err.msg, "lie.npz: member x.npy") && strstr(err.msg, "needs 36 bytes"));
        mz_areader_close(r);
        at[1] = '4';
        b[n - 22 - 46 - 5 - 1] ^= 1; /* the last data byte: the CRC catches it */
        put_bytes("lie.npz", b, n);
        CHECK_OK(mz_areader_open(&r, MZ_AFMT_NPZ, p, &err), &err);
        void *got = NULL;
        CHECK(mz_areader_load(r, "x", 1024, &d, &got, &err) == MZ_EFORMAT);
        CHECK(strstr(err.msg, "CRC-32") != NULL && got == NULL);
        mz_areader_close(r);
    }
    free(b);
}

/* Safetensors files with one crafted header; find("t") must give `want` and `text`. */
static void expect_safetensors(const char *header, size_t data_bytes, mz_status want,
                               const char *text)
{
    size_t hl = strlen(header);
    unsigned char *b = calloc(1, 8 + hl + data_bytes);
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(b + 8, header, hl);
    put_bytes("c.safetensors", b, 8 + hl + data_bytes);
    free(b);
    char p[256];
    path_of(p, sizeof p, "c.safetensors");
    mz_error err = {0};
    mz_areader *r = NULL;
    mz_status st = mz_areader_open(&r, MZ_AFMT_SAFETENSORS, p, &err);
    mz_array_desc d;
    if (st == MZ_OK)
        st = mz_areader_find(r, "t", &d, &err);
    CHECK_MSG(st == want, "%s: got %d, want %d (%s)", header, st, want, err.msg);
    if (text)
        CHECK_MSG(strstr(err.msg, text) && strstr(err.msg, "c.safetensors"), "%s: message %s",
                  header, err.msg);
    mz_areader_close(r);
}

static void test_safetensors_crafted(void)
{
    expect_safetensors("{\"t\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}}", 8,
                       MZ_OK, NULL);
    expect_safetensors("{\"t\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}}", 4,
                       MZ_EFORMAT, "outside the 4 data bytes");
    expect_safetensors("{\"t\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [0, 8]}}", 8,
                       MZ_EFORMAT, "do not match shape (3,)");
    expect_safetensors("{\"t\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [8, 0]}}", 8,
                       MZ_EFORMAT, "data_offsets [8, 0]");
    expect_safetensors("{\"t\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [-8, 0]}}",
                       8, MZ_EFORMAT, "data_offsets");
    expect_safetensors("{\"t\": {\"dtype\": \"C64\", \"shape\": [2], \"data_offsets\": [0, 8]}}", 8,
                       MZ_EFORMAT, "dtype C64 not supported");
    expect_safetensors("{\"t\": {\"dtype\": \"F32\", \"shape\": [-2], \"data_offsets\": [0, 8]}}",
                       8, MZ_EFORMAT, "shape[0] = -2");
    expect_safetensors("{\"t\": {\"dtype\": \"F32\", \"shape\": [1099511627776, 1099511627776], "
                       "\"data_offsets\": [0, 0]}}",
                       8, MZ_EFORMAT, "overflows");
    /* the byte count 8 * 2^62 would wrap to 0 = the data_offsets' length */
    expect_safetensors("{\"t\": {\"dtype\": \"I64\", \"shape\": [4611686018427387904], "
                       "\"data_offsets\": [0, 0]}}",
                       0, MZ_EFORMAT, "shape[0] = 4611686018427387904");
    expect_safetensors("{\"t\": {\"dtype\": \"F32\", \"shape\": [1,1,1,1,1,1,1,1,1], "
                       "\"data_offsets\": [0, 4]}}",
                       4, MZ_EFORMAT, "9 dimensions");
    expect_safetensors("{\"t\": {\"dtype\": \"F32\", \"shape\": [2]}}", 8, MZ_EFORMAT,
                       "data_offsets");
    expect_safetensors("{\"t\": 1, \"t\": 2}", 0, MZ_EFORMAT, "duplicate");
    expect_safetensors("[1, 2]", 0, MZ_EFORMAT, "not an object");
    expect_safetensors("{\"__metadata__\": {\"a\": 1}}", 0, MZ_EFORMAT, "__metadata__");
    expect_safetensors("{\"__metadata__\": {}}", 0, MZ_ENOTFOUND, "no tensor t");
    expect_safetensors("{\"t\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, "
                       "99999999999999999999999]}}",
                       0, MZ_EFORMAT, "bad safetensors header");
    /* a header length beyond the file, and files shorter than the length field */
    put_bytes("c.safetensors", "\xff\xff\xff\xff\xff\xff\xff\x7f{}", 10);
    char p[256];
    path_of(p, sizeof p, "c.safetensors");
    mz_areader *r;
    mz_error err = {0};
    CHECK(mz_areader_open(&r, MZ_AFMT_SAFETENSORS, p, &err) == MZ_EFORMAT);
    CHECK(strstr(err.msg, "header length") != NULL);
    put_bytes("c.safetensors", "\x02\x00", 2);
    CHECK(mz_areader_open(&r, MZ_AFMT_SAFETENSORS, p, &err) == MZ_EFORMAT);
}

static void test_read_file(void)
{
    char p[256], buf[100];
    memset(buf, 'z', sizeof buf);
    put_bytes("hundred", buf, sizeof buf);
    path_of(p, sizeof p, "hundred");
    void *data;
    size_t n;
    mz_error err = {0};
    CHECK(mz_read_file(p, 99, &data, &n, &err) == MZ_ELIMIT && data == NULL);
    CHECK(strstr(err.msg, "100 bytes") && strstr(err.msg, "limit of 99"));
    CHECK_OK(mz_read_file(p, 100, &data, &n, &err), &err);
    CHECK(n == 100 && data && ((char *)data)[100] == 0);
    free(data);
    CHECK(mz_read_file(dir, 1 << 20, &data, &n, &err) == MZ_EFORMAT);
    CHECK(strstr(err.msg, "not a regular file") != NULL);
    path_of(p, sizeof p, "fifo");
    CHECK(mkfifo(p, 0600) == 0);
    CHECK(mz_read_file(p, 1 << 20, &data, &n, &err) == MZ_EFORMAT); /* and does not block */
    remove(p);
    path_of(p, sizeof p, "missing");
    CHECK(mz_read_file(p, 1 << 20, &data, &n, &err) == MZ_ENOTFOUND);
}

/* ---- zip ---- */

static const char py_script[] =
    "import sys, zipfile\n"
    "d = sys.argv[1]\n"
    "stored = bytes(i % 256 for i in range(10240))\n"
    "text = b''.join(b'line %d of a compressible member\\n' % i for i in range(20000))\n"
    "def write(name):\n"
    "    with zipfile.ZipFile(d + '/' + name, 'w') as z:\n"
    "        z.writestr('stored.bin', stored, compress_type=zipfile.ZIP_STORED)\n"
    "        z.writestr('deflated.txt', text, compress_type=zipfile.ZIP_DEFLATED)\n"
    "        z.writestr('empty', b'', compress_type=zipfile.ZIP_STORED)\n"
    "        z.writestr('dir/', b'')\n"
    "write('plain.zip')\n"
    "# zip64 on a small file: sizes, offsets and counts above these limits take zip64 fields\n"
    "zipfile.ZIP64_LIMIT = 1000\n"
    "zipfile.ZIP_FILECOUNT_LIMIT = 2\n"
    "write('z64.zip')\n"
    "try:\n"
    "    import numpy as np\n"
    "except ImportError:\n"
    "    sys.exit(0)\n"
    "a = np.arange(12, dtype='<f4').reshape(3, 4)\n"
    "arrs = dict(a=a, b=np.array([1, -2, 3], dtype='<i8'), c=np.array([True, False]),\n"
    "            h=np.arange(5, dtype='<f2'))\n"
    "np.savez(d + '/n.npz', **arrs)\n"
    "np.savez_compressed(d + '/c.npz', **arrs)\n"
    "np.save(d + '/one.npy', a)\n";

static int have_python;

static void make_python_files(void)
{
    if (access("/usr/bin/python3", X_OK) != 0) {
        printf("test_formats: /usr/bin/python3 missing: zip files from Python skipped\n");
        return;
    }
    put_bytes("make.py", py_script, strlen(py_script));
    char cmd[512];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/make.py %s", dir, dir);
    CHECK(system(cmd) == 0);
    have_python = 1;
}

static unsigned char stored_byte(size_t i)
{
    return (unsigned char)(i % 256);
}

/* The text member: "line %d of a compressible member\n" for 0..19999. */
static char *make_text(size_t *n)
{
    size_t cap = 20000 * 48, at = 0;
    char *t = malloc(cap);
    for (int i = 0; i < 20000; i++)
        at += (size_t)snprintf(t + at, cap - at, "line %d of a compressible member\n", i);
    *n = at;
    return t;
}

static void check_zip(const char *name, int zip64)
{
    char p[256];
    path_of(p, sizeof p, name);
    mz_zip *z;
    mz_error err = {0};
    CHECK_OK(mz_zip_open(&z, p, &err), &err);
    if (!z)
        return;
    size_t fn, tn;
    unsigned char *file = get_bytes(name, &fn);
    int has64 = 0;
    for (size_t i = 0; file && i + 4 <= fn; i++)
        has64 |= le32(file + i) == 0x06064b50;
    CHECK_EQ_INT(has64, zip64);
    CHECK_EQ_INT(mz_zip_count(z), 4);
    CHECK(!strcmp(mz_zip_path(z), p) && mz_zip_entry_at(z, 4) == NULL);
    char *text = make_text(&tn);
    const mz_zip_entry *s = mz_zip_find(z, "stored.bin"), *d = mz_zip_find(z, "deflated.txt"),
                       *e = mz_zip_find(z, "empty"), *dd = mz_zip_find(z, "dir/");
    CHECK(s && d && e && dd && mz_zip_find(z, "nope") == NULL);
    if (!(s && d && e && dd))
        goto done;
    CHECK(s->method == 0 && s->size == 10240 && s->csize == 10240);
    CHECK(d->method == 8 && d->size == tn && d->csize < tn / 4);
    CHECK(e->size == 0 && dd->size == 0);
    if (zip64)
        CHECK(d->header_offset > 1000 && d->header_offset < fn); /* from a zip64 extra field */
    void *data;
    size_t n;
    CHECK_OK(mz_zip_read(z, s, 1 << 20, &data, &n, &err), &err);
    int same = n == 10240;
    for (size_t i = 0; same && i < n; i++)
        same = ((unsigned char *)data)[i] == stored_byte(i);
    CHECK(same);
    free(data);
    CHECK_OK(mz_zip_read(z, d, 1 << 20, &data, &n, &err), &err);
    CHECK(n == tn && data && !memcmp(data, text, tn) && ((char *)data)[n] == 0);
    free(data);
    CHECK_OK(mz_zip_read(z, e, 0, &data, &n, &err), &err);
    CHECK(n == 0);
    free(data);
    CHECK(mz_zip_read(z, d, tn - 1, &data, &n, &err) == MZ_ELIMIT && data == NULL);
    /* ranges: straight from the file (stored) and inflated (deflated), whole entry verified */
    char part[70];
    CHECK_OK(mz_zip_extract(z, d, 500000, part, sizeof part, &err), &err);
    CHECK(!memcmp(part, text + 500000, sizeof part));
    unsigned char sp[300];
    CHECK_OK(mz_zip_extract(z, s, 9000, sp, sizeof sp, &err), &err);
    CHECK(sp[0] == stored_byte(9000) && sp[299] == stored_byte(9299));
    CHECK(mz_zip_extract(z, s, 10000, sp, sizeof sp, &err) == MZ_EINVAL);
    CHECK_OK(mz_zip_peek(z, d, part, 10, &err), &err);
    CHECK(!memcmp(part, "line 0 of ", 10));
    uint64_t off;
    CHECK_OK(mz_zip_data_offset(z, s, &off, &err), &err);
    CHECK(file && off + 10240 <= fn && file[off + 300] == stored_byte(300));
    CHECK(mz_zip_data_offset(z, d, &off, &err) == MZ_EUNSUPPORTED);
done:
    free(text);
    free(file);
    mz_zip_close(z);
}

/* Writes `b` (n bytes) as name, opens it as a zip and reads entry `entry` (if given). */
static void expect_zip(const char *name, const unsigned char *b, size_t n, const char *entry,
                       mz_status want, const char *text)
{
    put_bytes(name, b, n);
    char p[256];
    path_of(p, sizeof p, name);
    mz_zip *z = NULL;
    mz_error err = {0};
    mz_status st = mz_zip_open(&z, p, &err);
    if (st == MZ_OK && entry) {
        void *data = NULL;
        size_t sz;
        const mz_zip_entry *e = mz_zip_find(z, entry);
        CHECK(e != NULL);
        st = e ? mz_zip_read(z, e, 1 << 24, &data, &sz, &err) : MZ_ENOTFOUND;
        free(data);
    }
    CHECK_MSG(st == want, "%s: got %d, want %d (%s)", name, st, want, err.msg);
    if (text)
        CHECK_MSG(strstr(err.msg, text) && strstr(err.msg, name), "%s: message %s", name, err.msg);
    mz_zip_close(z);
}

static void test_zip_corrupt(void)
{
    size_t n;
    unsigned char *b = get_bytes("plain.zip", &n);
    CHECK(b != NULL && n > 100);
    if (!b)
        return;
    unsigned char *c = malloc(n);
    size_t eo = n - 22; /* no comment */
    CHECK(le32(b + eo) == 0x06054b50);
    uint32_t cd_size = le32(b + eo + 12), cd_off = le32(b + eo + 16);
    char p[256];
    path_of(p, sizeof p, "plain.zip");
    mz_zip *z;
    mz_error err = {0};
    uint64_t off = 0;
    CHECK_OK(mz_zip_open(&z, p, &err), &err);
    CHECK_OK(mz_zip_data_offset(z, mz_zip_find(z, "stored.bin"), &off, &err), &err);
    const mz_zip_entry *d = mz_zip_find(z, "deflated.txt");
    uint64_t d_at = d->header_offset + 30 + strlen(d->name) + d->csize / 2;
    mz_zip_close(z);

    /* a flipped data byte: the CRC-32 check refuses the stored entry */
    memcpy(c, b, n);
    c[off + 100] ^= 0x40;
    expect_zip("crc.zip", c, n, "stored.bin", MZ_EFORMAT, "CRC-32");
    /* ... and the deflated one (bad deflate data or CRC, either refuses it) */
    memcpy(c, b, n);
    c[d_at] ^= 0x40;
    expect_zip("crc2.zip", c, n, "deflated.txt", MZ_EFORMAT, "deflated.txt");
    /* the central directory truncated in the middle, the end record kept */
    memcpy(c, b, cd_off + cd_size / 2);
    memcpy(c + cd_off + cd_size / 2, b + eo, 22);
    expect_zip("trunc.zip", c, cd_off + cd_size / 2 + 22, NULL, MZ_EFORMAT,
               "runs past the end records");
    /* the file cut before its end record */
    expect_zip("cut.zip", b, n - 10, NULL, MZ_EFORMAT, "no zip end-of-central-directory");
    /* the second directory entry's signature broken */
    memcpy(c, b, n);
    c[cd_off + 46 + strlen("stored.bin")] = 'X';
    expect_zip("sig.zip", c, n, NULL, MZ_EFORMAT, "entry 1 of 4: expected PK\\1\\2");
    /* an entry count that cannot fit: refused before anything is allocated */
    memcpy(c, b, n);
    c[eo + 8] = c[eo + 10] = 0xf0;
    c[eo + 9] = c[eo + 11] = 0xff;
    expect_zip("many.zip", c, n, NULL, MZ_EFORMAT, "cannot fit");
    c[eo + 8] = c[eo + 10] = 0xff; /* 0xffff: zip64 marker without a zip64 record */
    expect_zip("z64marker.zip", c, n, NULL, MZ_EFORMAT, "zip64 locator");
    /* an entry's size running into the central directory */
    memcpy(c, b, n);
    c[cd_off + 20 + 3] = 0x7f; /* first entry's compressed size */
    c[cd_off + 24 + 3] = 0x7f;
    expect_zip("big.zip", c, n, NULL, MZ_EFORMAT, "run into the central directory");
    /* a local header that is not one */
    memcpy(c, b, n);
    c[0] = 'X';
    expect_zip("local.zip", c, n, "stored.bin", MZ_EFORMAT, "expected a local header");
    expect_zip("tiny.zip", b, 10, NULL, MZ_EFORMAT, "too short");
    free(c);
    free(b);
}

static void test_zip(void)
{
    make_python_files();
    if (!have_python)
        return;
    check_zip("plain.zip", 0);
    check_zip("z64.zip", 1);
    test_zip_corrupt();

    /* numpy's npz: stored (np.savez) and deflated (np.savez_compressed) members */
    char p[256];
    mz_error err = {0};
    path_of(p, sizeof p, "n.npz");
    if (access(p, F_OK) != 0) {
        printf("test_formats: numpy missing: npz files from numpy skipped\n");
        return;
    }
    static const char *const files[2] = {"n.npz", "c.npz"};
    for (int k = 0; k < 2; k++) {
        path_of(p, sizeof p, files[k]);
        mz_areader *r;
        CHECK_OK(mz_areader_open(&r, MZ_AFMT_NPZ, p, &err), &err);
        if (!r)
            continue;
        CHECK_EQ_INT(mz_areader_count(r), 4);
        mz_array_desc d;
        void *data;
        CHECK_OK(mz_areader_load(r, "a", 1 << 20, &d, &data, &err), &err);
        CHECK(d.dtype == MZ_DT_F32 && d.ndim == 2 && d.shape[0] == 3 && d.shape[1] == 4);
        CHECK(data && ((float *)data)[11] == 11.0f);
        free(data);
        CHECK_OK(mz_areader_load(r, "b", 1 << 20, &d, &data, &err), &err);
        CHECK(d.dtype == MZ_DT_I64 && data && ((int64_t *)data)[1] == -2);
        free(data);
        CHECK_OK(mz_areader_load(r, "c", 1 << 20, &d, &data, &err), &err);
        CHECK(d.dtype == MZ_DT_BOOL && data && ((unsigned char *)data)[0] == 1);
        free(data);
        CHECK_OK(mz_areader_load(r, "h", 1 << 20, &d, &data, &err), &err);
        CHECK(d.dtype == MZ_DT_F16 && d.shape[0] == 5 && data && ((uint16_t *)data)[4] == 0x4400);
        free(data);
        mz_areader_close(r);
    }
    path_of(p, sizeof p, "one.npy");
    mz_array_desc d;
    void *data;
    CHECK_OK(mz_npy_load(p, 1 << 20, &d, &data, &err), &err);
    CHECK(!strcmp(d.name, "one") && d.shape[1] == 4 && data && ((float *)data)[5] == 5.0f);
    free(data);
    CHECK(mz_npy_load(p, 47, &d, &data, &err) == MZ_ELIMIT && data == NULL);
}

/* JSON with shortest round-trip reals: 0.7 not 0.69999999999999996, reals stay reals, integers
 * and strings untouched, and every real reads back to the same double. */
static void test_json_shortest(void)
{
    json_t *o =
        json_pack("{s:[f,f,f,f,f,f],s:I,s:s}", "r", 0.7, 0.15, 3.0, -2.5e-300, 1e22, 0.1 + 0.2, "n",
                  (json_int_t)12345678901LL, "s", "0.69999999999999996 stays");
    CHECK(o != NULL);
    char *t = o ? mz_json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    CHECK(t && !strcmp(t, "{\"n\":12345678901,\"r\":[0.7,0.15,3.0,-2.5e-300,1e+22,"
                          "0.30000000000000004],\"s\":\"0.69999999999999996 stays\"}"));
    json_t *back = t ? json_loads(t, 0, NULL) : NULL;
    CHECK(back && json_equal(o, back));
    char path[300];
    snprintf(path, sizeof path, "%s/s.json", dir);
    CHECK(o && mz_json_dump_file(o, path, JSON_INDENT(1)) == 0);
    json_t *f = json_load_file(path, 0, NULL);
    CHECK(f && json_equal(o, f));
    CHECK(mz_json_dump_file(o, "/nonexistent-dir/x.json", 0) == -1);
    json_decref(f);
    json_decref(back);
    json_decref(o);
    free(t);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_checked_arithmetic();
    test_dtypes();
    test_npy();
    test_sinks_and_readers();
    test_safetensors_crafted();
    test_read_file();
    test_zip();
    test_json_shortest();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "test_formats: could not remove %s\n", dir);
    return check_summary("test_formats");
}
