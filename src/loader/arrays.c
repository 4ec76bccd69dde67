/* .npy, .npz and safetensors writers and readers (see arrays-impl.h). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <jansson.h>
#include <zlib.h>

#include "mzoo/loader.h"
#include "loader/arrays-impl.h"
#include "core/banned.h"

size_t mz_dtype_size(mz_dtype t)
{
    return t == MZ_DT_F32 ? 4 : 8;
}

int64_t mz_array_bytes(const mz_array_desc *a)
{
    int64_t n = (int64_t)mz_dtype_size(a->dtype);
    for (int i = 0; i < a->ndim; i++)
        n *= a->shape[i];
    return n;
}

static const char *npy_descr(mz_dtype t)
{
    return t == MZ_DT_F32 ? "<f4" : "<i8";
}

size_t mz_npy_header(char *buf, size_t cap, const mz_array_desc *a)
{
    char dict[160];
    int len;
    if (a->ndim == 1)
        len = snprintf(dict, sizeof dict,
                       "{'descr': '%s', 'fortran_order': False, 'shape': (%lld,), }",
                       npy_descr(a->dtype), (long long)a->shape[0]);
    else
        len = snprintf(dict, sizeof dict,
                       "{'descr': '%s', 'fortran_order': False, 'shape': (%lld, %lld), }",
                       npy_descr(a->dtype), (long long)a->shape[0], (long long)a->shape[1]);
    if (len < 0 || (size_t)len >= sizeof dict)
        return 0;
    size_t total = 10 + (size_t)len + 1; /* magic, version, u16 length, dict, '\n' */
    total = (total + 63) / 64 * 64;
    if (total > cap)
        return 0;
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    size_t hlen = total - 10;
    buf[8] = (char)(hlen & 0xff);
    buf[9] = (char)(hlen >> 8);
    memcpy(buf + 10, dict, (size_t)len);
    memset(buf + 10 + len, ' ', total - 10 - (size_t)len - 1);
    buf[total - 1] = '\n';
    return total;
}

/* Finds 'key': in the header dict and returns the position after the colon and spaces. */
static const char *dict_value(const char *h, const char *key)
{
    char pat[32];
    snprintf(pat, sizeof pat, "'%s':", key);
    const char *p = strstr(h, pat);
    if (!p)
        return NULL;
    p += strlen(pat);
    while (*p == ' ')
        p++;
    return p;
}

mz_status mz_npy_parse(const unsigned char *buf, size_t n, mz_array_desc *a, size_t *data_offset,
                       const char *origin, mz_error *err)
{
    if (n < 10 || memcmp(buf, "\x93NUMPY", 6) != 0)
        return mz_fail(err, MZ_EFORMAT, "%s: offset 0: not a .npy file (no \\x93NUMPY magic)",
                       origin);
    size_t hlen, start;
    if (buf[6] == 1) {
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
        start = 10;
    } else if (buf[6] == 2 || buf[6] == 3) {
        if (n < 12)
            return mz_fail(err, MZ_EFORMAT, "%s: offset 8: truncated .npy header", origin);
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24;
        start = 12;
    } else {
        return mz_fail(err, MZ_EFORMAT, "%s: offset 6: unsupported .npy version %d", origin,
                       buf[6]);
    }
    if (hlen > 65536 || start + hlen > n)
        return mz_fail(err, MZ_EFORMAT,
                       "%s: offset 8: .npy header of %zu bytes is truncated or too long", origin,
                       hlen);
    char h[65537];
    memcpy(h, buf + start, hlen);
    h[hlen] = 0;
    const char *d = dict_value(h, "descr"), *f = dict_value(h, "fortran_order"),
               *s = dict_value(h, "shape");
    if (!d || !f || !s)
        return mz_fail(err, MZ_EFORMAT,
                       "%s: offset %zu: .npy header lacks descr/fortran_order/shape", origin,
                       start);
    if (!strncmp(d, "'<f4'", 5))
        a->dtype = MZ_DT_F32;
    else if (!strncmp(d, "'<i8'", 5))
        a->dtype = MZ_DT_I64;
    else
        return mz_fail(err, MZ_EFORMAT,
                       "%s: .npy dtype %.8s is not supported (expected '<f4' or '<i8')", origin, d);
    if (strncmp(f, "False", 5) != 0)
        return mz_fail(err, MZ_EFORMAT, "%s: .npy array is in Fortran order (expected C order)",
                       origin);
    if (*s != '(')
        return mz_fail(err, MZ_EFORMAT, "%s: .npy shape is not a tuple", origin);
    s++;
    a->ndim = 0;
    while (*s && *s != ')') {
        while (*s == ' ' || *s == ',')
            s++;
        if (*s == ')')
            break;
        char *e;
        errno = 0;
        long long v = strtoll(s, &e, 10);
        if (e == s || errno || v < 0 || a->ndim == 2)
            return mz_fail(err, MZ_EFORMAT, "%s: .npy shape: bad or more than 2 dimensions",
                           origin);
        a->shape[a->ndim++] = v;
        s = e;
    }
    if (*s != ')')
        return mz_fail(err, MZ_EFORMAT, "%s: .npy shape: unterminated tuple", origin);
    *data_offset = start + hlen;
    return MZ_OK;
}

/* ---- sinks ---- */

#define ZIP_MAX_ENTRIES 64

typedef struct zip_entry {
    char name[80];
    uint32_t crc;
    uint64_t size;
    uint64_t local_off;
    int zip64;
} zip_entry;

struct mz_asink {
    unsigned format;
    char dir[1024];
    char path[1200]; /* current file (npz/safetensors: the one file) */
    FILE *f;
    int n;
    mz_array_desc *arrays;
    int cur;          /* array being written, -1 between arrays */
    uint64_t written; /* bytes of the current array's data */
    uint32_t crc;
    zip_entry entries[ZIP_MAX_ENTRIES];
    int n_files;
    char files[ZIP_MAX_ENTRIES][1200]; /* every file created, for abort */
};

const char *mz_format_file(unsigned format)
{
    switch (format) {
    case MZ_FMT_NPZ:
        return "dataset.npz";
    case MZ_FMT_SAFETENSORS:
        return "dataset.safetensors";
    case MZ_FMT_NPY:
        return "<array>.npy";
    default:
        return "?";
    }
}

static mz_status sink_io_error(mz_asink *s, mz_error *err)
{
    return mz_fail(err, errno == ENOSPC ? MZ_ENOSPC : MZ_EIO, "%s: write failed (%s)", s->path,
                   strerror(errno));
}

static mz_status open_file(mz_asink *s, const char *name, mz_error *err)
{
    snprintf(s->path, sizeof s->path, "%s/%s", s->dir, name);
    s->f = fopen(s->path, "wb");
    if (!s->f)
        return mz_fail(err, errno == EACCES || errno == EROFS ? MZ_EREADONLY : MZ_EIO,
                       "%s: cannot create (%s)", s->path, strerror(errno));
    if (s->n_files < ZIP_MAX_ENTRIES)
        snprintf(s->files[s->n_files++], sizeof s->files[0], "%s", s->path);
    return MZ_OK;
}

static void put16(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}
static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}
static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static mz_status safetensors_header(mz_asink *s, const char *const *meta_kv, int n_meta,
                                    mz_error *err)
{
    json_t *root = json_object();
    if (n_meta > 0) {
        json_t *m = json_object();
        for (int i = 0; i + 1 < 2 * n_meta; i += 2)
            json_object_set_new(m, meta_kv[i], json_string(meta_kv[i + 1]));
        json_object_set_new(root, "__metadata__", m);
    }
    int64_t off = 0;
    for (int i = 0; i < s->n; i++) {
        const mz_array_desc *a = &s->arrays[i];
        json_t *t = json_object(), *shape = json_array();
        for (int k = 0; k < a->ndim; k++)
            json_array_append_new(shape, json_integer(a->shape[k]));
        json_object_set_new(t, "dtype", json_string(a->dtype == MZ_DT_F32 ? "F32" : "I64"));
        json_object_set_new(t, "shape", shape);
        json_object_set_new(
            t, "data_offsets",
            json_pack("[II]", (json_int_t)off, (json_int_t)(off + mz_array_bytes(a))));
        off += mz_array_bytes(a);
        json_object_set_new(root, a->name, t);
    }
    char *text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!text)
        return mz_fail(err, MZ_ENOMEM, "%s: cannot build the safetensors header", s->path);
    size_t len = strlen(text), padded = (len + 7) / 8 * 8;
    unsigned char n8[8];
    put64(n8, padded);
    int ok = fwrite(n8, 1, 8, s->f) == 8 && fwrite(text, 1, len, s->f) == len;
    for (size_t i = len; ok && i < padded; i++)
        ok = fputc(' ', s->f) != EOF;
    free(text);
    return ok ? MZ_OK : sink_io_error(s, err);
}

mz_status mz_asink_open(mz_asink **out, unsigned format, const char *dir,
                        const mz_array_desc *arrays, int n, const char *const *meta_kv, int n_meta,
                        mz_error *err)
{
    *out = NULL;
    if (n > ZIP_MAX_ENTRIES)
        return mz_fail(err, MZ_ELIMIT, "%s: more than %d arrays", dir, ZIP_MAX_ENTRIES);
    mz_asink *s = calloc(1, sizeof *s);
    if (!s)
        return mz_fail(err, MZ_ENOMEM, "out of memory");
    s->arrays = malloc((size_t)(n ? n : 1) * sizeof *s->arrays);
    if (!s->arrays) {
        free(s);
        return mz_fail(err, MZ_ENOMEM, "out of memory");
    }
    memcpy(s->arrays, arrays, (size_t)n * sizeof *arrays);
    s->format = format;
    s->n = n;
    s->cur = -1;
    snprintf(s->dir, sizeof s->dir, "%s", dir);
    mz_status st = MZ_OK;
    if (format == MZ_FMT_NPZ) {
        st = open_file(s, "dataset.npz", err);
    } else if (format == MZ_FMT_SAFETENSORS) {
        st = open_file(s, "dataset.safetensors", err);
        if (st == MZ_OK)
            st = safetensors_header(s, meta_kv, n_meta, err);
    } else if (format != MZ_FMT_NPY) {
        st = mz_fail(err, MZ_EINVAL, "unknown array format %u", format);
    }
    if (st != MZ_OK) {
        mz_asink_abort(s);
        return st;
    }
    *out = s;
    return MZ_OK;
}

mz_status mz_asink_begin(mz_asink *s, int i, mz_error *err)
{
    if (i != s->cur + 1 || i >= s->n ||
        (s->cur >= 0 && s->written != (uint64_t)mz_array_bytes(&s->arrays[s->cur])))
        return mz_fail(err, MZ_EINVAL, "array sink: arrays out of order");
    /* cur is the previous array until now; end() resets written */
    const mz_array_desc *a = &s->arrays[i];
    s->cur = i;
    s->written = 0;
    s->crc = (uint32_t)crc32(0L, Z_NULL, 0);
    if (s->format == MZ_FMT_SAFETENSORS)
        return MZ_OK;
    char hdr[256];
    size_t hl = mz_npy_header(hdr, sizeof hdr, a);
    if (!hl)
        return mz_fail(err, MZ_EINVAL, "array %s: cannot format the .npy header", a->name);
    if (s->format == MZ_FMT_NPY) {
        char name[96];
        snprintf(name, sizeof name, "%s.npy", a->name);
        mz_status st = open_file(s, name, err);
        if (st != MZ_OK)
            return st;
        return fwrite(hdr, 1, hl, s->f) == hl ? MZ_OK : sink_io_error(s, err);
    }
    /* npz: a stored zip entry "<name>.npy"; CRC patched in end() */
    zip_entry *e = &s->entries[i];
    snprintf(e->name, sizeof e->name, "%s.npy", a->name);
    e->size = hl + (uint64_t)mz_array_bytes(a);
    e->zip64 = e->size >= 0xffffffffu;
    off_t pos = ftello(s->f);
    if (pos < 0)
        return sink_io_error(s, err);
    e->local_off = (uint64_t)pos;
    unsigned char lh[30 + 20];
    size_t nl = strlen(e->name);
    put32(lh, 0x04034b50);
    put16(lh + 4, e->zip64 ? 45 : 20);
    put16(lh + 6, 0);
    put16(lh + 8, 0);     /* stored */
    put16(lh + 10, 0);    /* 00:00:00 */
    put16(lh + 12, 0x21); /* 1980-01-01: fixed, so files are reproducible */
    put32(lh + 14, 0);    /* CRC, patched */
    put32(lh + 18, e->zip64 ? 0xffffffffu : (uint32_t)e->size);
    put32(lh + 22, e->zip64 ? 0xffffffffu : (uint32_t)e->size);
    put16(lh + 26, (unsigned)nl);
    put16(lh + 28, e->zip64 ? 20 : 0);
    size_t lhn = 30;
    if (fwrite(lh, 1, 30, s->f) != 30 || fwrite(e->name, 1, nl, s->f) != nl)
        return sink_io_error(s, err);
    if (e->zip64) {
        unsigned char x[20];
        put16(x, 1);
        put16(x + 2, 16);
        put64(x + 4, e->size);
        put64(x + 12, e->size);
        if (fwrite(x, 1, 20, s->f) != 20)
            return sink_io_error(s, err);
    }
    (void)lhn;
    s->crc = (uint32_t)crc32(s->crc, (const unsigned char *)hdr, (uInt)hl);
    return fwrite(hdr, 1, hl, s->f) == hl ? MZ_OK : sink_io_error(s, err);
}

mz_status mz_asink_write(mz_asink *s, const void *data, size_t bytes, mz_error *err)
{
    if (s->cur < 0 || s->written + bytes > (uint64_t)mz_array_bytes(&s->arrays[s->cur]))
        return mz_fail(err, MZ_EINVAL, "array sink: more data than declared for %s",
                       s->cur >= 0 ? s->arrays[s->cur].name : "?");
    if (s->format == MZ_FMT_NPZ) {
        const unsigned char *p = data;
        size_t left = bytes;
        while (left) {
            uInt chunk = left > (1u << 30) ? (1u << 30) : (uInt)left;
            s->crc = (uint32_t)crc32(s->crc, p, chunk);
            p += chunk;
            left -= chunk;
        }
    }
    if (bytes && fwrite(data, 1, bytes, s->f) != bytes)
        return sink_io_error(s, err);
    s->written += bytes;
    return MZ_OK;
}

mz_status mz_asink_end(mz_asink *s, mz_error *err)
{
    const mz_array_desc *a = &s->arrays[s->cur];
    if (s->written != (uint64_t)mz_array_bytes(a))
        return mz_fail(err, MZ_EINVAL, "array sink: %s got %llu bytes (declared %lld)", a->name,
                       (unsigned long long)s->written, (long long)mz_array_bytes(a));
    if (s->format == MZ_FMT_NPY) {
        int rc = fclose(s->f);
        s->f = NULL;
        if (rc != 0)
            return sink_io_error(s, err);
    } else if (s->format == MZ_FMT_NPZ) {
        zip_entry *e = &s->entries[s->cur];
        e->crc = s->crc;
        off_t end = ftello(s->f);
        unsigned char c[4];
        put32(c, e->crc);
        if (end < 0 || fseeko(s->f, (off_t)e->local_off + 14, SEEK_SET) != 0 ||
            fwrite(c, 1, 4, s->f) != 4 || fseeko(s->f, end, SEEK_SET) != 0)
            return sink_io_error(s, err);
    }
    return MZ_OK;
}

static mz_status zip_finish(mz_asink *s, mz_error *err)
{
    off_t cd_start = ftello(s->f);
    if (cd_start < 0)
        return sink_io_error(s, err);
    int any64 = (uint64_t)cd_start >= 0xffffffffu;
    for (int i = 0; i < s->n; i++) {
        zip_entry *e = &s->entries[i];
        int off64 = e->local_off >= 0xffffffffu;
        unsigned char x[28];
        size_t xn = 0;
        if (e->zip64 || off64) {
            size_t body = (e->zip64 ? 16 : 0) + (off64 ? 8 : 0);
            put16(x, 1);
            put16(x + 2, (unsigned)body);
            xn = 4;
            if (e->zip64) {
                put64(x + xn, e->size);
                put64(x + xn + 8, e->size);
                xn += 16;
            }
            if (off64) {
                put64(x + xn, e->local_off);
                xn += 8;
            }
            any64 = 1;
        }
        unsigned char c[46];
        size_t nl = strlen(e->name);
        put32(c, 0x02014b50);
        put16(c + 4, xn ? 45 : 20);
        put16(c + 6, xn ? 45 : 20);
        put16(c + 8, 0);
        put16(c + 10, 0);
        put16(c + 12, 0);
        put16(c + 14, 0x21);
        put32(c + 16, e->crc);
        put32(c + 20, e->zip64 ? 0xffffffffu : (uint32_t)e->size);
        put32(c + 24, e->zip64 ? 0xffffffffu : (uint32_t)e->size);
        put16(c + 28, (unsigned)nl);
        put16(c + 30, (unsigned)xn);
        put16(c + 32, 0);
        put16(c + 34, 0);
        put16(c + 36, 0);
        put32(c + 38, 0);
        put32(c + 42, off64 ? 0xffffffffu : (uint32_t)e->local_off);
        if (fwrite(c, 1, 46, s->f) != 46 || fwrite(e->name, 1, nl, s->f) != nl ||
            (xn && fwrite(x, 1, xn, s->f) != xn))
            return sink_io_error(s, err);
    }
    off_t cd_end = ftello(s->f);
    if (cd_end < 0)
        return sink_io_error(s, err);
    uint64_t cd_size = (uint64_t)(cd_end - cd_start);
    if (any64) {
        unsigned char z[56 + 20];
        put32(z, 0x06064b50);
        put64(z + 4, 44);
        put16(z + 12, 45);
        put16(z + 14, 45);
        put32(z + 16, 0);
        put32(z + 20, 0);
        put64(z + 24, (uint64_t)s->n);
        put64(z + 32, (uint64_t)s->n);
        put64(z + 40, cd_size);
        put64(z + 48, (uint64_t)cd_start);
        put32(z + 56, 0x07064b50); /* locator */
        put32(z + 60, 0);
        put64(z + 64, (uint64_t)cd_end);
        put32(z + 72, 1);
        if (fwrite(z, 1, 76, s->f) != 76)
            return sink_io_error(s, err);
    }
    unsigned char eo[22];
    put32(eo, 0x06054b50);
    put16(eo + 4, 0);
    put16(eo + 6, 0);
    put16(eo + 8, (unsigned)s->n);
    put16(eo + 10, (unsigned)s->n);
    put32(eo + 12, cd_size >= 0xffffffffu ? 0xffffffffu : (uint32_t)cd_size);
    put32(eo + 16, any64 ? 0xffffffffu : (uint32_t)cd_start);
    put16(eo + 20, 0);
    if (fwrite(eo, 1, 22, s->f) != 22)
        return sink_io_error(s, err);
    return MZ_OK;
}

mz_status mz_asink_close(mz_asink *s, mz_error *err)
{
    if (!s)
        return MZ_OK;
    mz_status st = MZ_OK;
    if (s->cur != s->n - 1 ||
        (s->n > 0 && s->written != (uint64_t)mz_array_bytes(&s->arrays[s->n - 1])))
        st = mz_fail(err, MZ_EINVAL, "array sink: closed before every array was written");
    if (st == MZ_OK && s->format == MZ_FMT_NPZ)
        st = zip_finish(s, err);
    if (s->f) {
        if (fclose(s->f) != 0 && st == MZ_OK)
            st = sink_io_error(s, err);
        s->f = NULL;
    }
    if (st != MZ_OK) {
        mz_asink_abort(s);
        return st;
    }
    free(s->arrays);
    free(s);
    return MZ_OK;
}

void mz_asink_abort(mz_asink *s)
{
    if (!s)
        return;
    if (s->f)
        fclose(s->f);
    for (int i = 0; i < s->n_files; i++)
        remove(s->files[i]);
    free(s->arrays);
    free(s);
}

/* ---- readers ---- */

static uint32_t get16(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}
static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get64(const unsigned char *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static mz_status read_at(FILE *f, const char *path, uint64_t off, void *buf, size_t n,
                         mz_error *err)
{
    if (fseeko(f, (off_t)off, SEEK_SET) != 0 || fread(buf, 1, n, f) != n)
        return mz_fail(err, MZ_EFORMAT, "%s: offset %llu: truncated file (wanted %zu bytes)", path,
                       (unsigned long long)off, n);
    return MZ_OK;
}

/* Reads `bytes` of array data at `off` after checking it fits in the file. */
static mz_status read_data(FILE *f, const char *path, uint64_t off, uint64_t file_size,
                           mz_array_desc *a, void **data, mz_error *err)
{
    uint64_t bytes = (uint64_t)mz_array_bytes(a);
    if (off > file_size || bytes > file_size - off)
        return mz_fail(err, MZ_EFORMAT,
                       "%s: offset %llu: array %s needs %llu bytes but the file ends at %llu", path,
                       (unsigned long long)off, a->name, (unsigned long long)bytes,
                       (unsigned long long)file_size);
    *data = malloc(bytes ? (size_t)bytes : 1);
    if (!*data)
        return mz_fail(err, MZ_ENOMEM, "%s: out of memory for array %s (%llu bytes)", path, a->name,
                       (unsigned long long)bytes);
    mz_status st = read_at(f, path, off, *data, (size_t)bytes, err);
    if (st != MZ_OK) {
        free(*data);
        *data = NULL;
    }
    return st;
}

static mz_status check_desc(const mz_array_desc *got, const mz_array_desc *want, const char *path,
                            mz_error *err)
{
    if (got->dtype != want->dtype || got->ndim != want->ndim)
        return mz_fail(
            err, MZ_EFORMAT, "%s: array %s has dtype %s with %d dimensions (expected %s with %d)",
            path, want->name, npy_descr(got->dtype), got->ndim, npy_descr(want->dtype), want->ndim);
    return MZ_OK;
}

static mz_status npy_at(FILE *f, const char *path, uint64_t off, uint64_t limit,
                        mz_array_desc *want, void **data, mz_error *err)
{
    unsigned char head[4096];
    size_t n = limit - off < sizeof head ? (size_t)(limit - off) : sizeof head;
    mz_status st = read_at(f, path, off, head, n, err);
    if (st != MZ_OK)
        return st;
    mz_array_desc got;
    size_t doff;
    if ((st = mz_npy_parse(head, n, &got, &doff, path, err)) != MZ_OK)
        return st;
    if ((st = check_desc(&got, want, path, err)) != MZ_OK)
        return st;
    memcpy(want->shape, got.shape, sizeof got.shape);
    return read_data(f, path, off + doff, limit, want, data, err);
}

static mz_status npz_find(FILE *f, const char *path, uint64_t size, const char *entry,
                          uint64_t *data_off, uint64_t *data_size, mz_error *err)
{
    if (size < 22)
        return mz_fail(err, MZ_EFORMAT, "%s: too short for a zip file", path);
    unsigned char tail[65557];
    size_t tn = size < sizeof tail ? (size_t)size : sizeof tail;
    mz_status st = read_at(f, path, size - tn, tail, tn, err);
    if (st != MZ_OK)
        return st;
    long eo = -1;
    for (long i = (long)tn - 22; i >= 0; i--)
        if (get32(tail + i) == 0x06054b50) {
            eo = i;
            break;
        }
    if (eo < 0)
        return mz_fail(err, MZ_EFORMAT, "%s: no zip end-of-central-directory record", path);
    uint64_t n_entries = get16(tail + eo + 10), cd_size = get32(tail + eo + 12),
             cd_off = get32(tail + eo + 16);
    if (cd_off == 0xffffffffu || n_entries == 0xffff) {
        if (eo < 20 || get32(tail + eo - 20) != 0x07064b50)
            return mz_fail(err, MZ_EFORMAT, "%s: zip64 locator missing", path);
        uint64_t z64 = get64(tail + eo - 20 + 8);
        unsigned char z[56];
        if ((st = read_at(f, path, z64, z, 56, err)) != MZ_OK)
            return st;
        if (get32(z) != 0x06064b50)
            return mz_fail(err, MZ_EFORMAT, "%s: offset %llu: bad zip64 end record", path,
                           (unsigned long long)z64);
        n_entries = get64(z + 32);
        cd_size = get64(z + 40);
        cd_off = get64(z + 48);
    }
    if (cd_off > size || cd_size > size - cd_off || cd_size > (64u << 20))
        return mz_fail(err, MZ_EFORMAT, "%s: zip central directory out of bounds", path);
    unsigned char *cd = malloc(cd_size ? (size_t)cd_size : 1);
    if (!cd)
        return mz_fail(err, MZ_ENOMEM, "%s: out of memory", path);
    if ((st = read_at(f, path, cd_off, cd, (size_t)cd_size, err)) != MZ_OK) {
        free(cd);
        return st;
    }
    size_t p = 0;
    st = mz_fail(err, MZ_ENOTFOUND, "%s: no entry %s", path, entry);
    for (uint64_t k = 0; k < n_entries; k++) {
        if (p + 46 > cd_size || get32(cd + p) != 0x02014b50) {
            st = mz_fail(err, MZ_EFORMAT, "%s: offset %llu: bad zip central directory entry", path,
                         (unsigned long long)(cd_off + p));
            break;
        }
        uint32_t method = get16(cd + p + 10), nl = get16(cd + p + 28), xl = get16(cd + p + 30),
                 cl = get16(cd + p + 32);
        uint64_t csize = get32(cd + p + 20), usize = get32(cd + p + 24), loff = get32(cd + p + 42);
        if (p + 46 + nl + xl + cl > cd_size) {
            st = mz_fail(err, MZ_EFORMAT, "%s: zip central directory entry %llu is truncated", path,
                         (unsigned long long)k);
            break;
        }
        const unsigned char *name = cd + p + 46, *x = name + nl;
        /* zip64 extra: the fields that are 0xffffffff, in order usize, csize, offset */
        for (uint32_t q = 0; q + 4 <= xl;) {
            uint32_t id = get16(x + q), len = get16(x + q + 2);
            if (q + 4 + len > xl)
                break;
            if (id == 1) {
                uint32_t r = q + 4;
                if (usize == 0xffffffffu && r + 8 <= q + 4 + len) {
                    usize = get64(x + r);
                    r += 8;
                }
                if (csize == 0xffffffffu && r + 8 <= q + 4 + len) {
                    csize = get64(x + r);
                    r += 8;
                }
                if (loff == 0xffffffffu && r + 8 <= q + 4 + len)
                    loff = get64(x + r);
            }
            q += 4 + len;
        }
        if (strlen(entry) == nl && !memcmp(name, entry, nl)) {
            if (method != 0 || csize != usize) {
                st = mz_fail(err, MZ_EUNSUPPORTED,
                             "%s: entry %s is compressed (method %u); only stored entries are read",
                             path, entry, method);
                break;
            }
            unsigned char lh[30];
            if ((st = read_at(f, path, loff, lh, 30, err)) != MZ_OK)
                break;
            if (get32(lh) != 0x04034b50) {
                st = mz_fail(err, MZ_EFORMAT, "%s: offset %llu: bad zip local header", path,
                             (unsigned long long)loff);
                break;
            }
            *data_off = loff + 30 + get16(lh + 26) + get16(lh + 28);
            *data_size = usize;
            if (*data_off > size || usize > size - *data_off) {
                st = mz_fail(err, MZ_EFORMAT, "%s: entry %s extends past the end of the file", path,
                             entry);
                break;
            }
            st = MZ_OK;
            break;
        }
        p += 46 + nl + xl + cl;
    }
    free(cd);
    return st;
}

mz_status mz_array_read(const char *dir, unsigned format, const char *name, mz_array_desc *want,
                        void **data, mz_error *err)
{
    *data = NULL;
    snprintf(want->name, sizeof want->name, "%s", name);
    char path[1200];
    if (format == MZ_FMT_NPY)
        snprintf(path, sizeof path, "%s/%s.npy", dir, name);
    else
        snprintf(path, sizeof path, "%s/%s", dir, mz_format_file(format));
    FILE *f = fopen(path, "rb");
    if (!f)
        return mz_fail(err, errno == ENOENT ? MZ_ENOTFOUND : MZ_EIO, "%s: cannot open (%s)", path,
                       strerror(errno));
    mz_status st = MZ_OK;
    uint64_t size = 0;
    if (fseeko(f, 0, SEEK_END) != 0 || ftello(f) < 0) {
        st = mz_fail(err, MZ_EIO, "%s: cannot seek", path);
        goto done;
    }
    size = (uint64_t)ftello(f);
    if (format == MZ_FMT_NPY) {
        st = npy_at(f, path, 0, size, want, data, err);
    } else if (format == MZ_FMT_NPZ) {
        char entry[96];
        uint64_t off, esize;
        snprintf(entry, sizeof entry, "%s.npy", name);
        st = npz_find(f, path, size, entry, &off, &esize, err);
        if (st == MZ_OK)
            st = npy_at(f, path, off, off + esize, want, data, err);
    } else if (format == MZ_FMT_SAFETENSORS) {
        unsigned char n8[8];
        if ((st = read_at(f, path, 0, n8, 8, err)) != MZ_OK)
            goto done;
        uint64_t hn = get64(n8);
        if (hn > size - 8 || hn > (100u << 20)) {
            st = mz_fail(err, MZ_EFORMAT, "%s: offset 0: header length %llu exceeds the file", path,
                         (unsigned long long)hn);
            goto done;
        }
        char *h = malloc((size_t)hn + 1);
        if (!h) {
            st = mz_fail(err, MZ_ENOMEM, "%s: out of memory", path);
            goto done;
        }
        if ((st = read_at(f, path, 8, h, (size_t)hn, err)) != MZ_OK) {
            free(h);
            goto done;
        }
        h[hn] = 0;
        json_error_t je;
        json_t *root = json_loads(h, 0, &je);
        free(h);
        if (!root) {
            st = mz_fail(err, MZ_EFORMAT, "%s: offset %d: bad safetensors header: %s", path,
                         8 + je.position, je.text);
            goto done;
        }
        json_t *t = json_object_get(root, name);
        json_t *dt = json_object_get(t, "dtype"), *sh = json_object_get(t, "shape"),
               *of = json_object_get(t, "data_offsets");
        mz_array_desc got;
        memset(&got, 0, sizeof got);
        if (!t) {
            st = mz_fail(err, MZ_ENOTFOUND, "%s: no tensor %s", path, name);
        } else if (!json_is_string(dt) || !json_is_array(sh) || json_array_size(sh) < 1 ||
                   json_array_size(sh) > 2 || !json_is_array(of) || json_array_size(of) != 2) {
            st = mz_fail(err, MZ_EFORMAT,
                         "%s: header key %s: expected dtype, shape (1-2 dims) and data_offsets",
                         path, name);
        } else {
            const char *d = json_string_value(dt);
            got.dtype = !strcmp(d, "F32") ? MZ_DT_F32 : MZ_DT_I64;
            got.ndim = (int)json_array_size(sh);
            for (int k = 0; k < got.ndim; k++)
                got.shape[k] = json_integer_value(json_array_get(sh, (size_t)k));
            int64_t b = json_integer_value(json_array_get(of, 0)),
                    e = json_integer_value(json_array_get(of, 1));
            if (strcmp(d, "F32") && strcmp(d, "I64"))
                st = mz_fail(err, MZ_EFORMAT,
                             "%s: tensor %s: dtype %s not supported (expected F32 or I64)", path,
                             name, d);
            else if ((st = check_desc(&got, want, path, err)) == MZ_OK) {
                memcpy(want->shape, got.shape, sizeof got.shape);
                if (b < 0 || e - b != mz_array_bytes(want) || got.shape[0] < 0 ||
                    (got.ndim == 2 && got.shape[1] < 0))
                    st = mz_fail(err, MZ_EFORMAT,
                                 "%s: tensor %s: data_offsets [%lld, %lld] do not match its shape",
                                 path, name, (long long)b, (long long)e);
                else
                    st = read_data(f, path, 8 + hn + (uint64_t)b, size, want, data, err);
            }
        }
        json_decref(root);
    } else {
        st = mz_fail(err, MZ_EINVAL, "unknown array format %u", format);
    }
done:
    fclose(f);
    return st;
}
