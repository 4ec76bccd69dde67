/* The PyTorch checkpoint reader (mz_pt, src/formats/pickle.c and pt.c): real torch.save files
 * (tests/data/pt, written by tools/make_interop_fixtures.py with torch 1.13: protocols 2 and 4,
 * parameters, strided views of one storage, float64/float16/bfloat16/int32/int64 tensors, a
 * big-endian copy, the legacy format), mz_pt_write read back with its 64-byte alignment, and
 * hand-made pickles that must each be refused with a message naming the offset, opcode and
 * reason: other globals (os.system), other opcodes, bad persistent ids, offsets and strides
 * outside the storage, overflows, every limit, truncations. Every truncation and a flipped bit
 * at every byte of a real file are refused or read without a crash. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "mzoo/formats.h"

static char dir[] = "/tmp/mz_test_pickle_XXXXXX";

static const char *data_path(char *buf, size_t cap, const char *name)
{
    const char *d = getenv("MZ_TEST_DATA");
    snprintf(buf, cap, "%s/pt/%s", d ? d : "tests/data", name);
    return buf;
}

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
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

/* ---- real files against expected.txt ---- */

static mz_dtype dtype_of(const char *s)
{
    static const struct {
        const char *n;
        mz_dtype t;
    } m[] = {{"float32", MZ_DT_F32},   {"float64", MZ_DT_F64}, {"float16", MZ_DT_F16},
             {"bfloat16", MZ_DT_BF16}, {"int64", MZ_DT_I64},   {"int32", MZ_DT_I32}};
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        if (!strcmp(m[i].n, s))
            return m[i].t;
    return MZ_DT_COUNT;
}

/* Checks every tensor of `file` (as `as` in expected.txt) against the expected line. */
static void check_file(const char *file, const char *as)
{
    char p[512], e[512];
    mz_error err = {0};
    mz_pt *pt = NULL;
    CHECK_OK(mz_pt_open(&pt, data_path(p, sizeof p, file), NULL, &err), &err);
    if (!pt)
        return;
    FILE *f = fopen(data_path(e, sizeof e, "expected.txt"), "r");
    CHECK(f != NULL);
    char line[8192];
    int seen = 0;
    while (f && fgets(line, sizeof line, f)) {
        if (line[0] == '#')
            continue;
        char *save, *tok = strtok_r(line, " \n", &save);
        if (!tok || strcmp(tok, as) != 0)
            continue;
        const char *key = strtok_r(NULL, " \n", &save);
        mz_dtype dt = dtype_of(strtok_r(NULL, " \n", &save));
        int rg = (int)strtol(strtok_r(NULL, " \n", &save), NULL, 10);
        int nd = (int)strtol(strtok_r(NULL, " \n", &save), NULL, 10);
        int64_t shape[8];
        for (int d = 0; d < nd; d++)
            shape[d] = strtoll(strtok_r(NULL, " \n", &save), NULL, 10);
        int64_t count = strtoll(strtok_r(NULL, " \n", &save), NULL, 10);
        int i = mz_pt_find(pt, key);
        CHECK_MSG(i == seen, "%s: key %s at %d, expected %d", file, key, i, seen);
        seen++;
        const mz_pt_tensor *t = mz_pt_tensor_at(pt, i);
        if (!t)
            continue;
        CHECK_MSG(t->dtype == dt && t->ndim == nd && t->count == count && t->requires_grad == rg,
                  "%s: %s: dtype %d ndim %d count %lld requires_grad %d", file, key, t->dtype,
                  t->ndim, (long long)t->count, t->requires_grad);
        for (int d = 0; d < nd && d < t->ndim; d++)
            CHECK_EQ_INT(t->shape[d], shape[d]);
        float *v = malloc(sizeof(float) * (size_t)(count ? count : 1));
        int64_t rounded = 0;
        mz_status st = mz_pt_read_f32(pt, i, v, count, &rounded, &err);
        if (!strcmp(key, "f64")) { /* 1e300 has no float32 */
            CHECK(st == MZ_EFORMAT && strstr(err.msg, "beyond float32's range"));
        } else {
            CHECK_MSG(st == MZ_OK, "%s: %s: %s", file, key, err.msg);
            for (int64_t k = 0; st == MZ_OK && k < count; k++) {
                double want = strtod(strtok_r(NULL, " \n", &save), NULL);
                CHECK_MSG(v[k] == (float)want, "%s: %s[%lld] = %.9g, expected %.9g", file, key,
                          (long long)k, v[k], want);
            }
        }
        if (dt == MZ_DT_F64) { /* the raw doubles */
            double raw[2];
            CHECK_OK(mz_pt_read(pt, i, raw, sizeof raw, &err), &err);
            CHECK(raw[0] == 0.1 && raw[1] == 1e300);
        }
        free(v);
    }
    if (f)
        fclose(f);
    CHECK_MSG(seen == mz_pt_count(pt) && seen > 0, "%s: %d expected tensors, %d in the file", file,
              seen, mz_pt_count(pt));
    mz_pt_close(pt);
}

static void test_real_files(void)
{
    check_file("p2.pt", "p2.pt");
    check_file("p4.pt", "p4.pt");
    check_file("views.pt", "views.pt");
    /* big-endian storages (byteorder "big") read back as the little-endian original */
    check_file("big.pt", "p2.pt");
    char p[512];
    mz_error err = {0};
    mz_pt *pt = NULL;
    CHECK_OK(mz_pt_open(&pt, data_path(p, sizeof p, "big.pt"), NULL, &err), &err);
    CHECK(pt && mz_pt_big_endian(pt));
    mz_pt_close(pt);
    /* views.pt: "transposed" is a strided view of the storage "row1" points into */
    CHECK_OK(mz_pt_open(&pt, data_path(p, sizeof p, "views.pt"), NULL, &err), &err);
    if (pt) {
        const mz_pt_tensor *a = mz_pt_tensor_at(pt, mz_pt_find(pt, "transposed")),
                           *b = mz_pt_tensor_at(pt, mz_pt_find(pt, "row1"));
        CHECK(a && b && !strcmp(a->storage, b->storage) && b->offset == 4 && a->stride[0] == 1 &&
              a->stride[1] == 4 && !strcmp(a->location, "cpu"));
        CHECK(mz_pt_find(pt, "nothing") == -1 && mz_pt_tensor_at(pt, 99) == NULL);
        float small[3];
        CHECK(mz_pt_read(pt, 0, small, sizeof small, &err) == MZ_EINVAL);
    }
    mz_pt_close(pt);
    /* the same bytes from memory */
    size_t n;
    unsigned char *bytes = slurp(data_path(p, sizeof p, "p4.pt"), &n);
    CHECK(bytes != NULL);
    CHECK_OK(mz_pt_open_mem(&pt, "member p4", bytes, n, NULL, &err), &err);
    CHECK(pt && mz_pt_count(pt) == 9);
    if (pt) {
        float w[18];
        CHECK_OK(mz_pt_read_f32(pt, 0, w, 18, NULL, &err), &err);
        CHECK(w[0] == -0.0024956068955361843f);
        float nb;
        CHECK_OK(mz_pt_read_f32(pt, 8, &nb, 1, NULL, &err), &err); /* int64 num_batches */
        CHECK(nb == 12.0f);
    }
    mz_pt_close(pt);
    free(bytes);
    /* the legacy format is named as such */
    CHECK(mz_pt_open(&pt, data_path(p, sizeof p, "legacy.pt"), NULL, &err) == MZ_EUNSUPPORTED &&
          strstr(err.msg, "legacy torch.save format") && pt == NULL);
}

/* Every truncation is refused; every flipped bit is refused or still reads (never a crash). */
static void test_damaged_files(void)
{
    char p[512];
    size_t n;
    unsigned char *bytes = slurp(data_path(p, sizeof p, "p2.pt"), &n);
    CHECK(bytes != NULL);
    if (!bytes)
        return;
    int refused = 0, read = 0;
    for (size_t k = 0; k < n; k++) {
        mz_error err = {0};
        mz_pt *pt = NULL;
        if (mz_pt_open_mem(&pt, "cut", bytes, k, NULL, &err) != MZ_OK)
            refused++;
        mz_pt_close(pt);
    }
    CHECK_EQ_INT(refused, n);
    /* the bytes of every entry's data are CRC-32 checked: a flip there must be refused */
    unsigned char *covered = calloc(n, 1);
    mz_zip *z = NULL;
    mz_error zerr = {0};
    CHECK_OK(mz_zip_open_mem(&z, "p2", bytes, n, &zerr), &zerr);
    for (int64_t i = 0; z && i < mz_zip_count(z); i++) {
        const mz_zip_entry *e = mz_zip_entry_at(z, i);
        uint64_t off = 0;
        CHECK_OK(mz_zip_data_offset(z, e, &off, &zerr), &zerr);
        memset(covered + off, 1, (size_t)e->size);
    }
    mz_zip_close(z);
    int in_data = 0, refused_in_data = 0;
    for (size_t k = 0; k < n; k++) {
        bytes[k] ^= (unsigned char)(1u << (k % 8));
        mz_error err = {0};
        mz_pt *pt = NULL;
        mz_status st = mz_pt_open_mem(&pt, "flip", bytes, n, NULL, &err);
        for (int i = 0; st == MZ_OK && i < mz_pt_count(pt); i++) {
            const mz_pt_tensor *t = mz_pt_tensor_at(pt, i);
            size_t b = (size_t)t->count * mz_dtype_size(t->dtype);
            void *buf = malloc(b ? b : 1);
            st = mz_pt_read(pt, i, buf, b, &err);
            free(buf);
        }
        if (st == MZ_OK)
            read++;
        else
            refused++;
        CHECK(st == MZ_OK || err.msg[0]);
        if (covered[k]) {
            in_data++;
            refused_in_data += st != MZ_OK;
        }
        mz_pt_close(pt);
        bytes[k] ^= (unsigned char)(1u << (k % 8));
    }
    /* elsewhere a flip may pass where nothing depends on the byte (zip times, the padding that
     * aligns the data, the local headers' copies of the sizes that torch leaves 0) */
    CHECK_MSG(in_data > 500 && refused_in_data == in_data,
              "%d of %d flips in the entries' data refused (%d refused, %d read in all)",
              refused_in_data, in_data, refused, read);
    free(covered);
    free(bytes);
}

/* ---- writing ---- */

static void test_write(void)
{
    float w[6] = {1, -2, 3.5f, 1e-30f, -0.0f, 7};
    double d[2] = {0.1, -1e300};
    int64_t c = 46920;
    uint16_t h[3] = {0x3c00, 0xfc00, 0x0001}; /* 1, -inf, the smallest subnormal */
    mz_pt_wtensor t[] = {
        {"module_list.0.weight", MZ_DT_F32, 2, {2, 3}, w},
        {"module_list.0.bias", MZ_DT_F64, 1, {2}, d},
        {"bn1.num_batches_tracked", MZ_DT_I64, 0, {0}, &c},
        {"half", MZ_DT_F16, 1, {3}, h},
        {"empty", MZ_DT_F32, 2, {0, 4}, NULL},
    };
    char path[256];
    snprintf(path, sizeof path, "%s/model.pt", dir);
    mz_error err = {0};
    CHECK_OK(mz_pt_write(path, t, 5, &err), &err);
    mz_pt *pt = NULL;
    CHECK_OK(mz_pt_open(&pt, path, NULL, &err), &err);
    if (!pt)
        return;
    CHECK_EQ_INT(mz_pt_count(pt), 5);
    for (int i = 0; i < 5; i++) {
        const mz_pt_tensor *r = mz_pt_tensor_at(pt, i);
        CHECK(!strcmp(r->name, t[i].name) && r->dtype == t[i].dtype && r->ndim == t[i].ndim);
    }
    float back[6];
    CHECK_OK(mz_pt_read(pt, 0, back, sizeof back, &err), &err);
    CHECK(!memcmp(back, w, sizeof w));
    double db[2];
    CHECK_OK(mz_pt_read(pt, 1, db, sizeof db, &err), &err);
    CHECK(db[0] == 0.1 && db[1] == -1e300);
    float f3[3];
    CHECK_OK(mz_pt_read_f32(pt, 3, f3, 3, NULL, &err), &err);
    CHECK(f3[0] == 1.0f && f3[1] < -3e38f && f3[2] == 5.9604644775390625e-08f);
    float one;
    CHECK_OK(mz_pt_read_f32(pt, 2, &one, 1, NULL, &err), &err);
    CHECK(one == 46920.0f);
    CHECK_OK(mz_pt_read(pt, 4, NULL, 0, &err), &err);
    mz_pt_close(pt);
    /* torch's layout: model/data.pkl, model/data/<i>, model/version, every entry's data at a
     * multiple of 64 */
    mz_zip *z = NULL;
    CHECK_OK(mz_zip_open(&z, path, &err), &err);
    if (z) {
        CHECK(mz_zip_find(z, "model/data.pkl") && mz_zip_find(z, "model/data/4") &&
              mz_zip_find(z, "model/version") && mz_zip_find(z, "model/byteorder"));
        for (int64_t i = 0; i < mz_zip_count(z); i++) {
            uint64_t off = 1;
            CHECK_OK(mz_zip_data_offset(z, mz_zip_entry_at(z, i), &off, &err), &err);
            CHECK_MSG(off % 64 == 0, "%s at %llu", mz_zip_entry_at(z, i)->name,
                      (unsigned long long)off);
        }
    }
    mz_zip_close(z);
    /* reproducible: writing the same tensors again gives the same bytes */
    size_t n1 = 0, n2 = 0;
    unsigned char *a = slurp(path, &n1);
    CHECK_OK(mz_pt_write(path, t, 5, &err), &err);
    unsigned char *b = slurp(path, &n2);
    CHECK(a && b && n1 == n2 && n1 > 0 && !memcmp(a, b, n1));
    free(a);
    free(b);
    /* refused: a dtype torch has no storage for; a failed write leaves no file */
    mz_pt_wtensor bad = {"x", MZ_DT_COUNT, 1, {1}, w};
    CHECK(mz_pt_write(path, &bad, 1, &err) == MZ_EINVAL);
    char nodir[256];
    snprintf(nodir, sizeof nodir, "%s/missing/x.pt", dir);
    CHECK(mz_pt_write(nodir, t, 1, &err) == MZ_EIO && access(nodir, F_OK) != 0);
}

/* ---- hand-made pickles ---- */

typedef struct buf {
    unsigned char b[8192];
    size_t n;
} buf;

static void raw(buf *b, const void *p, size_t n)
{
    memcpy(b->b + b->n, p, n);
    b->n += n;
}
static void byte(buf *b, unsigned c)
{
    b->b[b->n++] = (unsigned char)c;
}
static void str(buf *b, const char *s)
{
    size_t n = strlen(s);
    byte(b, 'X');
    for (int i = 0; i < 4; i++)
        byte(b, (unsigned)(n >> (8 * i)) & 0xff);
    raw(b, s, n);
}
static void integer(buf *b, long long v)
{
    if (v >= 0 && v < 256) {
        byte(b, 'K');
        byte(b, (unsigned)v);
    } else {
        byte(b, 0x8a);
        byte(b, 8);
        for (int i = 0; i < 8; i++)
            byte(b, (unsigned)((unsigned long long)v >> (8 * i)) & 0xff);
    }
}
static void global(buf *b, const char *module, const char *name)
{
    byte(b, 'c');
    raw(b, module, strlen(module));
    byte(b, '\n');
    raw(b, name, strlen(name));
    byte(b, '\n');
}
static void tuple(buf *b, const long long *v, int n)
{
    byte(b, '(');
    for (int i = 0; i < n; i++)
        integer(b, v[i]);
    byte(b, 't');
}

/* One state_dict entry: name -> _rebuild_tensor_v2(storage(key, numel), offset, shape, stride) */
typedef struct entry {
    const char *name, *key;
    long long numel, offset;
    int nd;
    long long shape[4], stride[4];
} entry;

static void tensor(buf *b, const entry *e, const char *storage_type)
{
    str(b, e->name);
    global(b, "torch._utils", "_rebuild_tensor_v2");
    byte(b, '(');
    byte(b, '(');
    str(b, "storage");
    global(b, "torch", storage_type);
    str(b, e->key);
    str(b, "cpu");
    integer(b, e->numel);
    byte(b, 't');
    byte(b, 'Q');
    integer(b, e->offset);
    tuple(b, e->shape, e->nd);
    tuple(b, e->stride, e->nd);
    byte(b, 0x89);
    global(b, "collections", "OrderedDict");
    byte(b, ')');
    byte(b, 'R');
    byte(b, 't');
    byte(b, 'R');
}

static void state_dict(buf *b, const entry *e, int n)
{
    b->n = 0;
    byte(b, 0x80);
    byte(b, 2);
    global(b, "collections", "OrderedDict");
    byte(b, ')');
    byte(b, 'R');
    byte(b, '(');
    for (int i = 0; i < n; i++)
        tensor(b, &e[i], "FloatStorage");
    byte(b, 'u');
    byte(b, '.');
}

/* Parses b and expects status `want` with every string of `needles` in the message. */
static void expect(const buf *b, mz_status want, const char *needle1, const char *needle2,
                   const mz_pt_limits *lim, int line)
{
    mz_error err = {0};
    mz_pt *pt = NULL;
    mz_status st = mz_pt_parse_pickle(&pt, "test.pkl", b->b, b->n, lim, &err);
    int ok = st == want && (want == MZ_OK || (pt == NULL && strstr(err.msg, "test.pkl"))) &&
             (!needle1 || strstr(err.msg, needle1)) && (!needle2 || strstr(err.msg, needle2));
    CHECK_MSG(ok, "line %d: status %d (expected %d): %s", line, st, want, err.msg);
    mz_pt_close(pt);
}
#define EXPECT(b, st, n1, n2) expect(b, st, n1, n2, NULL, __LINE__)

static const entry good[2] = {
    {"w", "0", 6, 0, 2, {2, 3}, {3, 1}},
    {"b", "1", 2, 0, 1, {2}, {1}},
};

static void test_pickles(void)
{
    buf b;
    entry e[2];
    memcpy(e, good, sizeof e);
    state_dict(&b, e, 2);
    EXPECT(&b, MZ_OK, NULL, NULL);
    mz_pt *pt = NULL;
    mz_error err = {0};
    CHECK_OK(mz_pt_parse_pickle(&pt, "ok", b.b, b.n, NULL, &err), &err);
    if (pt) {
        CHECK(mz_pt_count(pt) == 2 && mz_pt_tensor_at(pt, 0)->count == 6);
        float x[6];
        CHECK(mz_pt_read(pt, 0, x, sizeof x, &err) == MZ_EINVAL); /* no storages */
    }
    mz_pt_close(pt);

    /* globals outside the allow-list, by GLOBAL and by STACK_GLOBAL */
    b.n = 0;
    byte(&b, 0x80), byte(&b, 2), global(&b, "os", "system"), str(&b, "echo hi");
    byte(&b, 0x85), byte(&b, 'R'), byte(&b, '.');
    EXPECT(&b, MZ_EFORMAT, "offset 2: opcode 0x63 (GLOBAL)", "os.system is not allowed");
    b.n = 0;
    byte(&b, 0x80), byte(&b, 4), byte(&b, 0x8c), byte(&b, 8), raw(&b, "builtins", 8);
    byte(&b, 0x8c), byte(&b, 4), raw(&b, "eval", 4), byte(&b, 0x93), byte(&b, '.');
    EXPECT(&b, MZ_EFORMAT, "(STACK_GLOBAL)", "builtins.eval is not allowed");
    /* opcodes a state_dict does not use */
    b.n = 0;
    byte(&b, 0x80), byte(&b, 2), byte(&b, 'i'), raw(&b, "os\nsystem\n", 10), byte(&b, '.');
    EXPECT(&b, MZ_EFORMAT, "opcode 0x69 (INST)", "not an opcode of a state_dict");
    b.n = 0;
    byte(&b, 0x80), byte(&b, 2), byte(&b, 0xff);
    EXPECT(&b, MZ_EFORMAT, "offset 2: opcode 0xff", NULL);
    b.n = 0;
    byte(&b, 0x80), byte(&b, 9);
    EXPECT(&b, MZ_EFORMAT, "protocol 9", NULL);
    /* calling a storage type */
    b.n = 0;
    byte(&b, 0x80), byte(&b, 2), global(&b, "torch", "FloatStorage"), byte(&b, ')'), byte(&b, 'R'),
        byte(&b, '.');
    EXPECT(&b, MZ_EFORMAT, "storage type, not something to call", NULL);

    /* storage offsets and strides */
    memcpy(e, good, sizeof e);
    e[1].offset = -1;
    state_dict(&b, e, 2);
    EXPECT(&b, MZ_EFORMAT, "storage 1: the storage offset is negative", "(REDUCE)");
    memcpy(e, good, sizeof e);
    e[0].offset = 1; /* 6 elements from offset 1 of a 6-element storage */
    state_dict(&b, e, 2);
    EXPECT(&b, MZ_EFORMAT, "reads element 6 of a storage of 6", NULL);
    memcpy(e, good, sizeof e);
    e[0].stride[0] = 4; /* a stride that reads past the storage */
    state_dict(&b, e, 2);
    EXPECT(&b, MZ_EFORMAT, "reads element 6 of a storage of 6", NULL);
    memcpy(e, good, sizeof e);
    e[0].offset = (long long)1 << 62;
    e[0].stride[0] = (long long)1 << 62;
    state_dict(&b, e, 2);
    EXPECT(&b, MZ_EFORMAT, "overflow", NULL);
    memcpy(e, good, sizeof e);
    e[0].shape[0] = (long long)1 << 40;
    e[0].shape[1] = (long long)1 << 40;
    state_dict(&b, e, 2);
    EXPECT(&b, MZ_EFORMAT, "the size overflows", NULL);
    memcpy(e, good, sizeof e);
    e[0].stride[1] = -1;
    state_dict(&b, e, 2);
    EXPECT(&b, MZ_EFORMAT, "stride[1] is negative", NULL);
    memcpy(e, good, sizeof e);
    e[0].numel = -5;
    state_dict(&b, e, 2);
    EXPECT(&b, MZ_EFORMAT, "storage 0: its size is negative", "(BINPERSID)");
    memcpy(e, good, sizeof e);
    e[1].key = "0"; /* the same storage named with another size */
    state_dict(&b, e, 2);
    EXPECT(&b, MZ_EFORMAT, "storage 0 is named again", NULL);
    memcpy(e, good, sizeof e);
    e[0].key = "../x";
    state_dict(&b, e, 2);
    EXPECT(&b, MZ_EFORMAT, "storage key is not a name", NULL);
    memcpy(e, good, sizeof e);
    e[0].numel = (long long)1 << 62;
    state_dict(&b, e, 2);
    EXPECT(&b, MZ_ELIMIT, "more than the limit", NULL);
    memcpy(e, good, sizeof e);
    e[1].name = "w"; /* a key twice */
    state_dict(&b, e, 2);
    EXPECT(&b, MZ_EFORMAT, "the key 'w' appears twice", NULL);
    /* 0-element tensors may sit at the end of the storage, not past it */
    memcpy(e, good, sizeof e);
    e[0].shape[0] = 0;
    e[0].offset = 6;
    state_dict(&b, e, 2);
    EXPECT(&b, MZ_OK, NULL, NULL);
    e[0].offset = 7;
    state_dict(&b, e, 2);
    EXPECT(&b, MZ_EFORMAT, "offset 7 is past its 6 elements", NULL);

    /* persistent ids other than ('storage', type, key, location, numel) */
    b.n = 0;
    byte(&b, 0x80), byte(&b, 2), byte(&b, '('), str(&b, "module"), str(&b, "x"), byte(&b, 't');
    byte(&b, 'Q'), byte(&b, '.');
    EXPECT(&b, MZ_EFORMAT, "(BINPERSID)", "persistent id that is not");
    b.n = 0;
    byte(&b, 0x80), byte(&b, 2), byte(&b, '('), str(&b, "storage"),
        global(&b, "collections", "OrderedDict"), str(&b, "0"), str(&b, "cpu"), integer(&b, 1);
    byte(&b, 't'), byte(&b, 'Q'), byte(&b, '.');
    EXPECT(&b, MZ_EFORMAT, "the storage type is a OrderedDict", NULL);

    /* the result must be a dict of tensors */
    b.n = 0;
    byte(&b, 0x80), byte(&b, 2), byte(&b, ']'), byte(&b, '.');
    EXPECT(&b, MZ_EFORMAT, "holds a list, not a state_dict", NULL);
    b.n = 0;
    byte(&b, 0x80), byte(&b, 2), byte(&b, '}'), str(&b, "epoch"), integer(&b, 3), byte(&b, 's');
    byte(&b, '.');
    EXPECT(&b, MZ_EFORMAT, "entry 'epoch' is a int, not a tensor", NULL);
    /* an empty state_dict is a state_dict; BUILD of an OrderedDict's _metadata is fine */
    b.n = 0;
    byte(&b, 0x80), byte(&b, 2), global(&b, "collections", "OrderedDict"), byte(&b, ')');
    byte(&b, 'R'), byte(&b, '}'), str(&b, "_metadata"), byte(&b, '}'), byte(&b, 's');
    byte(&b, 'b'), byte(&b, '.');
    EXPECT(&b, MZ_OK, NULL, NULL);
    b.n = 0;
    byte(&b, 0x80), byte(&b, 2), byte(&b, ']'), byte(&b, '}'), byte(&b, 'b'), byte(&b, '.');
    EXPECT(&b, MZ_EFORMAT, "setting the state of a list", NULL);

    /* stack, memo and marks */
    b.n = 0;
    byte(&b, 0x80), byte(&b, 2), byte(&b, 0x85);
    EXPECT(&b, MZ_EFORMAT, "(TUPLE1)", "fewer than 1 values");
    b.n = 0;
    byte(&b, 0x80), byte(&b, 2), byte(&b, 'h'), byte(&b, 7);
    EXPECT(&b, MZ_EFORMAT, "memo slot 7 was never set", NULL);
    b.n = 0;
    byte(&b, 0x80), byte(&b, 2), byte(&b, 't');
    EXPECT(&b, MZ_EFORMAT, "no MARK is open", NULL);
    b.n = 0;
    byte(&b, 0x80), byte(&b, 2), byte(&b, '}'), byte(&b, '('), byte(&b, 'R');
    EXPECT(&b, MZ_EFORMAT, "the stack is empty above the mark", NULL);
    b.n = 0;
    byte(&b, 0x80), byte(&b, 2), byte(&b, '}');
    EXPECT(&b, MZ_EFORMAT, "ends without STOP", NULL);
    b.n = 0;
    byte(&b, 0x80), byte(&b, 2), byte(&b, '}'), byte(&b, '.'), byte(&b, 'N');
    EXPECT(&b, MZ_EFORMAT, "1 bytes after STOP", NULL);
    b.n = 0;
    byte(&b, 0x80), byte(&b, 2), byte(&b, '}'), byte(&b, '}'), byte(&b, '.');
    EXPECT(&b, MZ_EFORMAT, "2 values on the stack", NULL);
    b.n = 0;
    byte(&b, 0x80), byte(&b, 2);
    for (int i = 0; i < 65; i++)
        byte(&b, '(');
    EXPECT(&b, MZ_ELIMIT, "more than 64 MARKs open", NULL);
    b.n = 0;
    byte(&b, 0x80), byte(&b, 2), byte(&b, 'r');
    raw(&b, "\xff\xff\xff\xff", 4);
    EXPECT(&b, MZ_EFORMAT, "the stack is empty", NULL);
    b.n = 0;
    byte(&b, 0x80), byte(&b, 2), byte(&b, 'N'), byte(&b, 'r');
    raw(&b, "\xff\xff\xff\x7f", 4);
    EXPECT(&b, MZ_ELIMIT, "memo slot 2147483647", NULL);

    /* strings, integers, truncated arguments */
    b.n = 0;
    byte(&b, 0x80), byte(&b, 2), byte(&b, 'X');
    raw(&b, "\x10\x00\x00\x00", 4), raw(&b, "short", 5);
    EXPECT(&b, MZ_EFORMAT, "16 argument bytes run past the end", NULL);
    b.n = 0;
    byte(&b, 0x80), byte(&b, 2), byte(&b, 0x8c), byte(&b, 2), raw(&b, "\xc3\x28", 2);
    EXPECT(&b, MZ_EFORMAT, "not valid UTF-8", NULL);
    b.n = 0;
    byte(&b, 0x80), byte(&b, 2), byte(&b, 0x8c), byte(&b, 3), raw(&b, "a\0b", 3);
    EXPECT(&b, MZ_EFORMAT, "NUL byte", NULL);
    b.n = 0;
    byte(&b, 0x80), byte(&b, 2), byte(&b, 0x8a), byte(&b, 9);
    raw(&b, "123456789", 9);
    EXPECT(&b, MZ_ELIMIT, "an integer of 9 bytes", NULL);
    b.n = 0;
    byte(&b, 0x80), byte(&b, 2), byte(&b, 'J'), raw(&b, "\x01", 1);
    EXPECT(&b, MZ_EFORMAT, "(BININT)", "run past the end");
    b.n = 0;
    byte(&b, 0x80), byte(&b, 2), byte(&b, 'c'), raw(&b, "collections", 11);
    EXPECT(&b, MZ_EFORMAT, "module line runs past the end", NULL);
    b.n = 0;
    byte(&b, 0x80), byte(&b, 4), byte(&b, 0x95), raw(&b, "\xff\x00\x00\x00\x00\x00\x00\x00", 8);
    EXPECT(&b, MZ_EFORMAT, "a frame of 255 bytes runs past the end", NULL);

    /* limits */
    mz_pt_limits lim;
    mz_pt_limits_default(&lim);
    memcpy(e, good, sizeof e);
    state_dict(&b, e, 2);
    lim.max_objects = 20;
    expect(&b, MZ_ELIMIT, "more than 20 values", NULL, &lim, __LINE__);
    mz_pt_limits_default(&lim);
    lim.max_tensors = 1;
    expect(&b, MZ_ELIMIT, "more than 1", NULL, &lim, __LINE__);
    mz_pt_limits_default(&lim);
    lim.max_string = 3;
    expect(&b, MZ_ELIMIT, "a string of 7 bytes (limit 3)", NULL, &lim, __LINE__);
    mz_pt_limits_default(&lim);
    lim.max_pickle_bytes = 10;
    expect(&b, MZ_ELIMIT, "more than the limit of 10", NULL, &lim, __LINE__);
    mz_pt_limits_default(&lim);
    lim.max_storage_bytes = 20; /* 6 floats are 24 bytes */
    expect(&b, MZ_ELIMIT, "storage 0: 6 elements of float32", NULL, &lim, __LINE__);

    /* every truncation of a good pickle is refused */
    state_dict(&b, good, 2);
    int refused = 0;
    for (size_t k = 0; k < b.n; k++) {
        mz_pt *q = NULL;
        if (mz_pt_parse_pickle(&q, "cut", b.b, k, NULL, &err) != MZ_OK)
            refused++;
        mz_pt_close(q);
    }
    CHECK_EQ_INT(refused, b.n);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_real_files();
    test_damaged_files();
    test_write();
    test_pickles();
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return check_summary("test_pickle");
}
