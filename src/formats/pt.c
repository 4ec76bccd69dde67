/* PyTorch checkpoints (torch.save's zip format): the container around the pickle interpreter
 * (pickle.c), reading tensors out of their storages, and writing state_dicts torch.load reads
 * with weights_only=True. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "formats/formats-impl.h"
#include "formats/pt-impl.h"
#include "core/banned.h"

struct mz_pt {
    char *origin;
    mz_zip *zip;  /* NULL for mz_pt_parse_pickle */
    char *prefix; /* "<stem>/" (or "" when data.pkl is at the top) */
    int big_endian;
    mz_pt_limits lim;
    mz_pkl_result r;
    const mz_zip_entry **entries; /* [r.n_storages]: each storage's data/<key> entry */
    int cached;                   /* storage whose bytes are in cache, -1 for none */
    unsigned char *cache;
    size_t cache_size;
};

void mz_pt_limits_default(mz_pt_limits *l)
{
    l->max_pickle_bytes = (uint64_t)64 << 20;
    l->max_storage_bytes = (uint64_t)16 << 30;
    l->max_objects = (int64_t)1 << 22;
    l->max_depth = 64;
    l->max_tensors = 65536;
    l->max_string = 1 << 20;
}

void mz_pt_close(mz_pt *p)
{
    if (!p)
        return;
    mz_zip_close(p->zip);
    mz_pkl_result_release(&p->r);
    free(p->entries);
    free(p->cache);
    free(p->prefix);
    free(p->origin);
    free(p);
}

int mz_pt_count(const mz_pt *p)
{
    return p->r.n_tensors;
}

const mz_pt_tensor *mz_pt_tensor_at(const mz_pt *p, int i)
{
    return i >= 0 && i < p->r.n_tensors ? &p->r.tensors[i] : NULL;
}

int mz_pt_find(const mz_pt *p, const char *name)
{
    for (int i = 0; i < p->r.n_tensors; i++)
        if (!strcmp(p->r.tensors[i].name, name))
            return i;
    return -1;
}

int mz_pt_big_endian(const mz_pt *p)
{
    return p->big_endian;
}

static mz_pt *pt_new(const char *origin, const mz_pt_limits *lim)
{
    mz_pt *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->cached = -1;
    if (lim)
        p->lim = *lim;
    else
        mz_pt_limits_default(&p->lim);
    if (!(p->origin = mz_strdup(origin))) {
        free(p);
        return NULL;
    }
    return p;
}

mz_status mz_pt_parse_pickle(mz_pt **out, const char *origin, const void *pkl, size_t size,
                             const mz_pt_limits *lim, mz_error *err)
{
    *out = NULL;
    mz_pt *p = pt_new(origin, lim);
    if (!p)
        return mz_fail(err, MZ_ENOMEM, "%s: out of memory", origin);
    mz_status st = mz_pkl_state_dict(pkl, size, origin, &p->lim, &p->r, err);
    if (st) {
        mz_pt_close(p);
        return st;
    }
    *out = p;
    return MZ_OK;
}

static const mz_zip_entry *entry_named(mz_pt *p, const char *suffix)
{
    char name[512];
    if ((size_t)snprintf(name, sizeof name, "%s%s", p->prefix, suffix) >= sizeof name)
        return NULL;
    return mz_zip_find(p->zip, name);
}

/* A small text entry (version, byteorder) into buf, trailing whitespace removed. */
static mz_status small_entry(mz_pt *p, const mz_zip_entry *e, char *buf, size_t cap, mz_error *err)
{
    if (e->size >= cap)
        return mz_fail(err, MZ_EFORMAT, "%s: entry %s has %llu bytes (expected a few)", p->origin,
                       e->name, (unsigned long long)e->size);
    void *data;
    size_t n;
    mz_status st = mz_zip_read(p->zip, e, cap, &data, &n, err);
    if (st)
        return st;
    memcpy(buf, data, n);
    free(data);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        n--;
    buf[n] = 0;
    return MZ_OK;
}

/* The archive's layout: one "<stem>/data.pkl", its version and byte order. */
static mz_status find_records(mz_pt *p, mz_error *err)
{
    const mz_zip_entry *pkl = NULL;
    int torchscript = 0;
    for (int64_t i = 0; i < mz_zip_count(p->zip); i++) {
        const mz_zip_entry *e = mz_zip_entry_at(p->zip, i);
        const char *slash = strchr(e->name, '/');
        const char *base = slash ? slash + 1 : e->name;
        if (!strcmp(base, "data.pkl")) {
            if (pkl)
                return mz_fail(err, MZ_EFORMAT, "%s: two data.pkl entries (%s and %s)", p->origin,
                               pkl->name, e->name);
            pkl = e;
        }
        if (!strcmp(base, "constants.pkl") || !strncmp(base, "code/", 5))
            torchscript = 1;
    }
    if (!pkl)
        return mz_fail(err, MZ_EFORMAT, "%s: %s", p->origin,
                       torchscript ? "a TorchScript archive (torch.jit.save), not a torch.save "
                                     "state_dict"
                                   : "no data.pkl entry: not a checkpoint written by torch.save");
    size_t plen = strlen(pkl->name) - strlen("data.pkl");
    if (!(p->prefix = malloc(plen + 1)))
        return mz_fail(err, MZ_ENOMEM, "%s: out of memory", p->origin);
    memcpy(p->prefix, pkl->name, plen);
    p->prefix[plen] = 0;

    char buf[32];
    const mz_zip_entry *ver = entry_named(p, "version");
    if (!ver)
        ver = entry_named(p, ".data/version");
    if (!ver)
        return mz_fail(err, MZ_EFORMAT, "%s: no %sversion entry (torch.save writes one)", p->origin,
                       p->prefix);
    mz_status st = small_entry(p, ver, buf, sizeof buf, err);
    if (st)
        return st;
    char *end;
    long v = strtol(buf, &end, 10);
    if (end == buf || *end || v < 1 || v > 10)
        return mz_fail(err, MZ_EUNSUPPORTED,
                       "%s: entry %s says format version '%s' (1 to 10 are read)", p->origin,
                       ver->name, buf);
    const mz_zip_entry *bo = entry_named(p, "byteorder");
    if (bo) {
        if ((st = small_entry(p, bo, buf, sizeof buf, err)))
            return st;
        if (!strcmp(buf, "big"))
            p->big_endian = 1;
        else if (strcmp(buf, "little") != 0)
            return mz_fail(err, MZ_EFORMAT, "%s: entry %s says '%s' (expected little or big)",
                           p->origin, bo->name, buf);
    }

    void *data;
    size_t n;
    if (pkl->size > p->lim.max_pickle_bytes)
        return mz_fail(err, MZ_ELIMIT, "%s: entry %s has %llu bytes (limit %llu)", p->origin,
                       pkl->name, (unsigned long long)pkl->size,
                       (unsigned long long)p->lim.max_pickle_bytes);
    if ((st = mz_zip_read(p->zip, pkl, p->lim.max_pickle_bytes, &data, &n, err)))
        return st;
    char origin[1024];
    snprintf(origin, sizeof origin, "%s: %s", p->origin, pkl->name);
    st = mz_pkl_state_dict(data, n, origin, &p->lim, &p->r, err);
    free(data);
    if (st)
        return st;

    /* every storage present, with exactly its bytes */
    p->entries = calloc((size_t)(p->r.n_storages ? p->r.n_storages : 1), sizeof *p->entries);
    if (!p->entries)
        return mz_fail(err, MZ_ENOMEM, "%s: out of memory", p->origin);
    for (int s = 0; s < p->r.n_storages; s++) {
        const mz_pkl_storage *ps = &p->r.storages[s];
        char rel[96];
        snprintf(rel, sizeof rel, "data/%s", ps->key);
        const mz_zip_entry *e = entry_named(p, rel);
        if (!e)
            return mz_fail(err, MZ_EFORMAT, "%s: storage %s: no entry %s%s", p->origin, ps->key,
                           p->prefix, rel);
        uint64_t want = (uint64_t)ps->numel * mz_dtype_size(ps->dtype);
        if (e->size != want)
            return mz_fail(err, MZ_EFORMAT,
                           "%s: storage %s: entry %s has %llu bytes, but the pickle says %lld "
                           "elements of %s (%llu bytes)",
                           p->origin, ps->key, e->name, (unsigned long long)e->size,
                           (long long)ps->numel, mz_dtype_name(ps->dtype),
                           (unsigned long long)want);
        p->entries[s] = e;
    }
    return MZ_OK;
}

static mz_status open_common(mz_pt **out, const char *origin, const char *path, const void *data,
                             size_t size, const mz_pt_limits *lim, mz_error *err)
{
    *out = NULL;
    unsigned char magic[2] = {0, 0};
    mz_status st = MZ_OK;
    if (data) {
        if (size >= 2)
            memcpy(magic, data, 2);
    } else {
        int fd;
        uint64_t fsize;
        if ((st = mz_fmt_open(path, &fd, &fsize, err)))
            return st;
        if (fsize >= 2)
            st = mz_fmt_pread(fd, path, 0, magic, 2, err);
        close(fd);
        if (st)
            return st;
    }
    if (magic[0] == 0x80 && magic[1] >= 2 && magic[1] <= 5)
        return mz_fail(err, MZ_EUNSUPPORTED,
                       "%s: the legacy torch.save format (torch before 1.6, or "
                       "_use_new_zipfile_serialization=False) is not read; save it again with a "
                       "newer torch",
                       origin);
    if (magic[0] != 'P' || magic[1] != 'K')
        return mz_fail(err, MZ_EFORMAT,
                       "%s: not a zip file (a checkpoint written by torch.save since torch 1.6 is "
                       "one)",
                       origin);
    mz_pt *p = pt_new(origin, lim);
    if (!p)
        return mz_fail(err, MZ_ENOMEM, "%s: out of memory", origin);
    st = data ? mz_zip_open_mem(&p->zip, origin, data, size, err) : mz_zip_open(&p->zip, path, err);
    if (!st)
        st = find_records(p, err);
    if (st) {
        mz_pt_close(p);
        return st;
    }
    *out = p;
    return MZ_OK;
}

mz_status mz_pt_open(mz_pt **out, const char *path, const mz_pt_limits *lim, mz_error *err)
{
    return open_common(out, path, path, NULL, 0, lim, err);
}

mz_status mz_pt_open_mem(mz_pt **out, const char *origin, const void *data, size_t size,
                         const mz_pt_limits *lim, mz_error *err)
{
    static const unsigned char empty[1];
    return open_common(out, origin, NULL, data ? data : empty, data ? size : 0, lim, err);
}

/* ---- reading tensors ---- */

static mz_status load_storage(mz_pt *p, int s, mz_error *err)
{
    if (p->cached == s)
        return MZ_OK;
    free(p->cache);
    p->cache = NULL;
    p->cached = -1;
    void *data;
    size_t n;
    mz_status st = mz_zip_read(p->zip, p->entries[s], p->lim.max_storage_bytes, &data, &n, err);
    if (st)
        return st;
    p->cache = data;
    p->cache_size = n;
    p->cached = s;
    return MZ_OK;
}

static void swap_bytes(unsigned char *b, int64_t count, size_t es)
{
    for (int64_t i = 0; i < count; i++, b += es)
        for (size_t k = 0; k < es / 2; k++) {
            unsigned char t = b[k];
            b[k] = b[es - 1 - k];
            b[es - 1 - k] = t;
        }
}

mz_status mz_pt_read(mz_pt *p, int i, void *buf, size_t bytes, mz_error *err)
{
    const mz_pt_tensor *t = mz_pt_tensor_at(p, i);
    if (!t)
        return mz_fail(err, MZ_EINVAL, "%s: no tensor %d", p->origin, i);
    size_t es = mz_dtype_size(t->dtype);
    if ((uint64_t)t->count * es != bytes)
        return mz_fail(err, MZ_EINVAL, "%s: tensor %s has %lld bytes, not %zu", p->origin, t->name,
                       (long long)(t->count * (int64_t)es), bytes);
    if (!p->zip)
        return mz_fail(err, MZ_EINVAL, "%s: a pickle on its own holds no tensor data", p->origin);
    if (t->count == 0)
        return MZ_OK;
    int s = 0;
    while (s < p->r.n_storages && strcmp(p->r.storages[s].key, t->storage) != 0)
        s++;
    MZ_ASSERT(s < p->r.n_storages);
    mz_status st = load_storage(p, s, err);
    if (st)
        return st;
    /* the parser checked that every element reached lies in the storage */
    const unsigned char *src = p->cache;
    unsigned char *dst = buf;
    int contiguous = 1;
    int64_t expect = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        if (t->shape[d] != 1 && t->stride[d] != expect)
            contiguous = 0;
        expect *= t->shape[d];
    }
    if (contiguous) {
        memcpy(dst, src + (size_t)t->offset * es, bytes);
    } else {
        int64_t idx[MZ_ARRAY_MAX_DIMS] = {0};
        for (int64_t k = 0; k < t->count; k++) {
            int64_t e = t->offset;
            for (int d = 0; d < t->ndim; d++)
                e += idx[d] * t->stride[d];
            memcpy(dst + (size_t)k * es, src + (size_t)e * es, es);
            for (int d = t->ndim - 1; d >= 0; d--) {
                if (++idx[d] < t->shape[d])
                    break;
                idx[d] = 0;
            }
        }
    }
    if (p->big_endian && es > 1)
        swap_bytes(dst, t->count, es);
    return MZ_OK;
}

static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, u;
    if (exp == 0x1f) {
        u = sign | 0x7f800000u | man << 13; /* Inf, NaN (payload kept) */
    } else if (exp) {
        u = sign | (exp + 112) << 23 | man << 13;
    } else if (man) { /* subnormal: normalise */
        int e = -1;
        do {
            e++;
            man <<= 1;
        } while (!(man & 0x400));
        u = sign | (uint32_t)(112 - e) << 23 | (man & 0x3ff) << 13;
    } else {
        u = sign;
    }
    float f;
    memcpy(&f, &u, 4);
    return f;
}

mz_status mz_pt_read_f32(mz_pt *p, int i, float *out, int64_t n, int64_t *rounded, mz_error *err)
{
    const mz_pt_tensor *t = mz_pt_tensor_at(p, i);
    if (!t)
        return mz_fail(err, MZ_EINVAL, "%s: no tensor %d", p->origin, i);
    if (n != t->count)
        return mz_fail(err, MZ_EINVAL, "%s: tensor %s has %lld elements, not %lld", p->origin,
                       t->name, (long long)t->count, (long long)n);
    if (t->dtype == MZ_DT_F32)
        return mz_pt_read(p, i, out, (size_t)n * 4, err);
    size_t es = mz_dtype_size(t->dtype);
    unsigned char *raw = malloc(n ? (size_t)n * es : 1);
    if (!raw)
        return mz_fail(err, MZ_ENOMEM, "%s: out of memory", p->origin);
    mz_status st = mz_pt_read(p, i, raw, (size_t)n * es, err);
    int64_t changed = 0;
    for (int64_t k = 0; !st && k < n; k++) {
        const unsigned char *b = raw + (size_t)k * es;
        double exact = 0;
        int integer = 1;
        switch (t->dtype) {
        case MZ_DT_F64: {
            double d;
            memcpy(&d, b, 8);
            out[k] = (float)d;
            if (d == d && (out[k] - out[k] != 0) != (d - d != 0)) /* finite became Inf */
                st = mz_fail(err, MZ_EFORMAT,
                             "%s: tensor %s: element %lld (%.17g) is beyond float32's range",
                             p->origin, t->name, (long long)k, d);
            changed += (double)out[k] != d && d == d;
            integer = 0;
            break;
        }
        case MZ_DT_F16: {
            uint16_t h;
            memcpy(&h, b, 2);
            out[k] = half_to_float(h);
            integer = 0;
            break;
        }
        case MZ_DT_BF16: {
            uint16_t h;
            memcpy(&h, b, 2);
            uint32_t u = (uint32_t)h << 16;
            memcpy(&out[k], &u, 4);
            integer = 0;
            break;
        }
        case MZ_DT_I64: {
            int64_t v;
            memcpy(&v, b, 8);
            exact = (double)v;
            if (v > ((int64_t)1 << 53) || v < -((int64_t)1 << 53))
                exact = 1e300; /* cannot be held */
            break;
        }
        case MZ_DT_I32: {
            int32_t v;
            memcpy(&v, b, 4);
            exact = v;
            break;
        }
        case MZ_DT_I16: {
            int16_t v;
            memcpy(&v, b, 2);
            exact = v;
            break;
        }
        case MZ_DT_I8:
            exact = (int8_t)b[0];
            break;
        case MZ_DT_U8:
        case MZ_DT_BOOL:
            exact = b[0];
            break;
        default:
            st = mz_fail(err, MZ_EUNSUPPORTED, "%s: tensor %s: %s is not converted to float32",
                         p->origin, t->name, mz_dtype_name(t->dtype));
            continue;
        }
        if (integer) {
            out[k] = (float)exact;
            if ((double)out[k] != exact)
                st = mz_fail(err, MZ_EFORMAT,
                             "%s: tensor %s: element %lld (%.17g) is not exactly a float32",
                             p->origin, t->name, (long long)k, exact);
        }
    }
    free(raw);
    if (rounded)
        *rounded += changed;
    return st;
}

/* ---- writing ---- */

static const char *storage_type(mz_dtype dt)
{
    switch (dt) {
    case MZ_DT_F32:
        return "FloatStorage";
    case MZ_DT_F64:
        return "DoubleStorage";
    case MZ_DT_F16:
        return "HalfStorage";
    case MZ_DT_BF16:
        return "BFloat16Storage";
    case MZ_DT_I64:
        return "LongStorage";
    case MZ_DT_I32:
        return "IntStorage";
    case MZ_DT_I16:
        return "ShortStorage";
    case MZ_DT_I8:
        return "CharStorage";
    case MZ_DT_U8:
        return "ByteStorage";
    case MZ_DT_BOOL:
        return "BoolStorage";
    default:
        return NULL;
    }
}

typedef struct wbuf {
    unsigned char *b;
    size_t n, cap;
    int oom;
} wbuf;

static void put(wbuf *w, const void *p, size_t k)
{
    if (w->oom)
        return;
    if (w->n + k > w->cap) {
        size_t cap = w->cap ? w->cap : 1024;
        while (cap < w->n + k)
            cap *= 2;
        unsigned char *nb = realloc(w->b, cap);
        if (!nb) {
            w->oom = 1;
            return;
        }
        w->b = nb;
        w->cap = cap;
    }
    memcpy(w->b + w->n, p, k);
    w->n += k;
}

static void put_byte(wbuf *w, unsigned c)
{
    unsigned char b = (unsigned char)c;
    put(w, &b, 1);
}

static void put_str(wbuf *w, const char *s) /* BINUNICODE */
{
    unsigned char len[4];
    size_t n = strlen(s);
    mz_put32(len, (uint32_t)n);
    put_byte(w, 'X');
    put(w, len, 4);
    put(w, s, n);
}

static void put_int(wbuf *w, int64_t v)
{
    unsigned char b[8];
    if (v >= 0 && v < 256) {
        put_byte(w, 'K');
        put_byte(w, (unsigned)v);
    } else if (v >= 0 && v < 65536) {
        put_byte(w, 'M');
        mz_put16(b, (unsigned)v);
        put(w, b, 2);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
        put_byte(w, 'J');
        mz_put32(b, (uint32_t)(int32_t)v);
        put(w, b, 4);
    } else {
        put_byte(w, 0x8a); /* LONG1, 8 bytes of two's complement */
        put_byte(w, 8);
        mz_put64(b, (uint64_t)v);
        put(w, b, 8);
    }
}

static void put_tuple(wbuf *w, const int64_t *v, int n)
{
    if (n == 0) {
        put_byte(w, ')');
        return;
    }
    if (n > 3)
        put_byte(w, '(');
    for (int i = 0; i < n; i++)
        put_int(w, v[i]);
    put_byte(w, n == 1 ? 0x85 : n == 2 ? 0x86 : n == 3 ? 0x87 : 't');
}

static void put_global(wbuf *w, const char *module, const char *name)
{
    put_byte(w, 'c');
    put(w, module, strlen(module));
    put_byte(w, '\n');
    put(w, name, strlen(name));
    put_byte(w, '\n');
}

/* The protocol-2 pickle of OrderedDict(name -> _rebuild_tensor_v2(storage i, 0, shape,
 * C-order strides, False, OrderedDict())). */
static void build_pickle(wbuf *w, const mz_pt_wtensor *t, int n)
{
    put_byte(w, 0x80);
    put_byte(w, 2);
    put_global(w, "collections", "OrderedDict");
    put_byte(w, ')');
    put_byte(w, 'R');
    put_byte(w, '(');
    for (int i = 0; i < n; i++) {
        int64_t count = 1, stride[MZ_ARRAY_MAX_DIMS];
        for (int d = t[i].ndim - 1; d >= 0; d--) {
            stride[d] = count;
            count *= t[i].shape[d];
        }
        char key[16];
        snprintf(key, sizeof key, "%d", i);
        put_str(w, t[i].name);
        put_global(w, "torch._utils", "_rebuild_tensor_v2");
        put_byte(w, '(');
        put_byte(w, '(');
        put_str(w, "storage");
        put_global(w, "torch", storage_type(t[i].dtype));
        put_str(w, key);
        put_str(w, "cpu");
        put_int(w, count);
        put_byte(w, 't');
        put_byte(w, 'Q');
        put_int(w, 0);
        put_tuple(w, t[i].shape, t[i].ndim);
        put_tuple(w, stride, t[i].ndim);
        put_byte(w, 0x89);
        put_global(w, "collections", "OrderedDict");
        put_byte(w, ')');
        put_byte(w, 'R');
        put_byte(w, 't');
        put_byte(w, 'R');
    }
    put_byte(w, 'u');
    put_byte(w, '.');
}

typedef struct zentry {
    char name[160];
    const void *data;
    uint64_t size;
    uint32_t crc;
    uint64_t off;
} zentry;

/* Padding after a local header so that the data starts at a multiple of 64, carried in an extra
 * field with torch's id "FB" (at least its 4-byte header when there is any). */
static size_t pad_for(uint64_t off, size_t name_len)
{
    size_t pad = (size_t)((64 - (off + 30 + name_len) % 64) % 64);
    if (pad && pad < 4)
        pad += 64;
    return pad;
}

static int write_all(FILE *f, const void *p, size_t n)
{
    return fwrite(p, 1, n, f) == n;
}

mz_status mz_pt_write(const char *path, const mz_pt_wtensor *t, int n, mz_error *err)
{
    if (n < 0 || n > 65000)
        return mz_fail(err, MZ_ELIMIT, "%s: %d tensors (at most 65000 are written)", path, n);
    for (int i = 0; i < n; i++) {
        if (!t[i].name || !*t[i].name || strlen(t[i].name) > 4096)
            return mz_fail(err, MZ_EINVAL, "%s: tensor %d: empty or overlong name", path, i);
        if (!storage_type(t[i].dtype))
            return mz_fail(err, MZ_EINVAL, "%s: tensor %s: dtype %d has no torch storage", path,
                           t[i].name, (int)t[i].dtype);
        if (t[i].ndim < 0 || t[i].ndim > MZ_ARRAY_MAX_DIMS)
            return mz_fail(err, MZ_EINVAL, "%s: tensor %s: %d dimensions", path, t[i].name,
                           t[i].ndim);
    }
    /* the archive's name: the file's base name without its extension, as torch.save */
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    char stem[64];
    size_t sl = 0;
    for (const char *c = base; *c && *c != '.' && sl + 1 < sizeof stem; c++)
        stem[sl++] = ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                      (*c >= '0' && *c <= '9') || *c == '_' || *c == '-')
                         ? *c
                         : '_';
    stem[sl] = 0;
    if (!sl)
        snprintf(stem, sizeof stem, "archive");

    wbuf pk = {0};
    build_pickle(&pk, t, n);
    if (pk.oom)
        return mz_fail(err, MZ_ENOMEM, "%s: out of memory", path);
    int ne = n + 3;
    zentry *e = calloc((size_t)ne, sizeof *e);
    if (!e) {
        free(pk.b);
        return mz_fail(err, MZ_ENOMEM, "%s: out of memory", path);
    }
    snprintf(e[0].name, sizeof e[0].name, "%s/data.pkl", stem);
    e[0].data = pk.b;
    e[0].size = pk.n;
    mz_status st = MZ_OK;
    for (int i = 0; i < n && !st; i++) {
        int64_t count = 1, bytes;
        for (int d = 0; d < t[i].ndim && !st; d++)
            if (t[i].shape[d] < 0 || mz_mul_overflow_i64(count, t[i].shape[d], &count))
                st = mz_fail(err, MZ_EINVAL, "%s: tensor %s: bad shape", path, t[i].name);
        if (!st && mz_mul_overflow_i64(count, (int64_t)mz_dtype_size(t[i].dtype), &bytes))
            st = mz_fail(err, MZ_EINVAL, "%s: tensor %s: too large", path, t[i].name);
        snprintf(e[i + 1].name, sizeof e[i + 1].name, "%s/data/%d", stem, i);
        e[i + 1].data = t[i].data;
        e[i + 1].size = st ? 0 : (uint64_t)bytes;
    }
    static const char version[] = "3\n", order[] = "little";
    snprintf(e[n + 1].name, sizeof e[n + 1].name, "%s/version", stem);
    e[n + 1].data = version;
    e[n + 1].size = 2;
    snprintf(e[n + 2].name, sizeof e[n + 2].name, "%s/byteorder", stem);
    e[n + 2].data = order;
    e[n + 2].size = 6;
    /* offsets, and the 4 GiB limit of a zip without zip64 */
    uint64_t off = 0, cd = 0;
    for (int i = 0; i < ne && !st; i++) {
        size_t nl = strlen(e[i].name);
        e[i].off = off;
        e[i].crc = mz_crc32(0, e[i].data, (size_t)e[i].size);
        off += 30 + nl + pad_for(off, nl) + e[i].size;
        cd += 46 + nl;
        if (off + cd + 22 >= 0xffffffffu)
            st = mz_fail(err, MZ_ELIMIT, "%s: more than 4 GiB of tensors (not written)", path);
    }
    FILE *f = NULL;
    if (!st && !(f = fopen(path, "wb")))
        st = mz_fail(err, errno == EACCES || errno == EROFS ? MZ_EREADONLY : MZ_EIO,
                     "%s: cannot create (%s)", path, strerror(errno));
    int ok = !st;
    for (int i = 0; i < ne && ok; i++) {
        unsigned char lh[30], extra[4 + 128];
        size_t nl = strlen(e[i].name), pad = pad_for(e[i].off, nl);
        mz_put32(lh, 0x04034b50);
        mz_put16(lh + 4, 20);
        mz_put16(lh + 6, 0);
        mz_put16(lh + 8, 0);     /* stored */
        mz_put16(lh + 10, 0);    /* 00:00:00 */
        mz_put16(lh + 12, 0x21); /* 1980-01-01: fixed, so files are reproducible */
        mz_put32(lh + 14, e[i].crc);
        mz_put32(lh + 18, (uint32_t)e[i].size);
        mz_put32(lh + 22, (uint32_t)e[i].size);
        mz_put16(lh + 26, (unsigned)nl);
        mz_put16(lh + 28, (unsigned)pad);
        ok = write_all(f, lh, 30) && write_all(f, e[i].name, nl);
        if (ok && pad) {
            mz_put16(extra, 0x4246); /* "FB" */
            mz_put16(extra + 2, (unsigned)(pad - 4));
            memset(extra + 4, 'Z', pad - 4);
            ok = write_all(f, extra, pad);
        }
        if (ok && e[i].size)
            ok = write_all(f, e[i].data, (size_t)e[i].size);
    }
    for (int i = 0; i < ne && ok; i++) {
        unsigned char c[46];
        size_t nl = strlen(e[i].name);
        memset(c, 0, sizeof c);
        mz_put32(c, 0x02014b50);
        mz_put16(c + 4, 20);
        mz_put16(c + 6, 20);
        mz_put16(c + 14, 0x21);
        mz_put32(c + 16, e[i].crc);
        mz_put32(c + 20, (uint32_t)e[i].size);
        mz_put32(c + 24, (uint32_t)e[i].size);
        mz_put16(c + 28, (unsigned)nl);
        mz_put32(c + 42, (uint32_t)e[i].off);
        ok = write_all(f, c, 46) && write_all(f, e[i].name, nl);
    }
    if (ok) {
        unsigned char end[22];
        memset(end, 0, sizeof end);
        mz_put32(end, 0x06054b50);
        mz_put16(end + 8, (unsigned)ne);
        mz_put16(end + 10, (unsigned)ne);
        mz_put32(end + 12, (uint32_t)cd);
        mz_put32(end + 16, (uint32_t)off);
        ok = write_all(f, end, 22);
    }
    if (f) {
        if (fclose(f) != 0)
            ok = 0;
        if (!ok) {
            st = mz_fail(err, errno == ENOSPC ? MZ_ENOSPC : MZ_EIO, "%s: write failed (%s)", path,
                         strerror(errno));
            unlink(path);
        }
    }
    free(e);
    free(pk.b);
    return st;
}
