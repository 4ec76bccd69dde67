/* Array sinks: .npz (stored zip members, zip64 when needed), a directory of .npy files, and
 * safetensors, written as the arrays stream in. Output is reproducible: fixed zip timestamps and
 * the header text depends only on the declared arrays. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <jansson.h>

#include "formats/formats-impl.h"
#include "core/banned.h"

/* EOCD fields are 16-bit; more arrays would need a zip64 count as well. */
#define SINK_MAX_ARRAYS 65535

typedef struct zip_member {
    char name[MZ_ARRAY_NAME_MAX + 4]; /* "<array>.npy" */
    uint32_t crc;
    uint64_t size;
    uint64_t local_off;
    int zip64;
} zip_member;

struct mz_asink {
    mz_afmt fmt;
    char *path;                 /* the file (NPZ, SAFETENSORS) or directory (NPY); owned */
    char cur_path[MZ_PATH_MAX]; /* the file being written */
    FILE *f;
    int n;
    mz_array_desc *arrays;
    int cur;          /* array being written, -1 before the first */
    uint64_t written; /* bytes of the current array's data */
    uint32_t crc;
    zip_member *members; /* NPZ: [n] */
    int n_created;
    char **created; /* [n + 1] files created, removed by abort */
};

static uint64_t array_bytes(const mz_asink *s, int i)
{
    return (uint64_t)mz_array_bytes(&s->arrays[i]);
}

static mz_status sink_io_error(mz_asink *s, mz_error *err)
{
    return mz_fail(err, errno == ENOSPC ? MZ_ENOSPC : MZ_EIO, "%s: write failed (%s)", s->cur_path,
                   strerror(errno));
}

/* Creates `path` (already checked to fit cur_path). */
static mz_status open_file(mz_asink *s, mz_error *err)
{
    s->f = fopen(s->cur_path, "wb");
    if (!s->f)
        return mz_fail(err, errno == EACCES || errno == EROFS ? MZ_EREADONLY : MZ_EIO,
                       "%s: cannot create (%s)", s->cur_path, strerror(errno));
    if (!(s->created[s->n_created] = mz_strdup(s->cur_path)))
        return mz_fail(err, MZ_ENOMEM, "%s: out of memory", s->cur_path);
    s->n_created++;
    return MZ_OK;
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
        json_object_set_new(t, "dtype", json_string(mz_dtype_get(a->dtype)->safetensors));
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
        return mz_fail(err, MZ_ENOMEM, "%s: cannot build the safetensors header", s->cur_path);
    size_t len = strlen(text), padded = (len + 7) / 8 * 8;
    unsigned char n8[8];
    mz_put64(n8, padded);
    int ok = fwrite(n8, 1, 8, s->f) == 8 && fwrite(text, 1, len, s->f) == len;
    for (size_t i = len; ok && i < padded; i++)
        ok = fputc(' ', s->f) != EOF;
    free(text);
    return ok ? MZ_OK : sink_io_error(s, err);
}

/* Names, dtypes and sizes the format can hold. */
static mz_status check_arrays(mz_afmt fmt, const char *path, const mz_array_desc *arrays, int n,
                              mz_error *err)
{
    if (n < 0 || n > SINK_MAX_ARRAYS)
        return mz_fail(err, MZ_ELIMIT, "%s: %d arrays (expected 0 .. %d)", path, n,
                       SINK_MAX_ARRAYS);
    int64_t total = 0;
    for (int i = 0; i < n; i++) {
        const mz_array_desc *a = &arrays[i];
        const mz_dtype_info *t = mz_dtype_get(a->dtype);
        size_t nl = strnlen(a->name, sizeof a->name);
        if (nl == 0 || nl == sizeof a->name)
            return mz_fail(err, MZ_EINVAL, "%s: array %d: name empty or not NUL-terminated", path,
                           i);
        if (!t)
            return mz_fail(err, MZ_EINVAL, "%s: array %s: unknown dtype %d", path, a->name,
                           (int)a->dtype);
        if (mz_array_bytes(a) < 0 || mz_add_overflow_i64(total, mz_array_bytes(a), &total))
            return mz_fail(err, MZ_EINVAL, "%s: array %s: invalid shape or too large", path,
                           a->name);
        if (fmt != MZ_AFMT_SAFETENSORS && !t->npy)
            return mz_fail(err, MZ_EUNSUPPORTED,
                           "%s: array %s: .npy has no %s dtype (safetensors has)", path, a->name,
                           t->name);
        if (fmt == MZ_AFMT_NPY && strchr(a->name, '/'))
            return mz_fail(err, MZ_EINVAL, "%s: array %s: a file name cannot hold '/'", path,
                           a->name);
        if (fmt == MZ_AFMT_SAFETENSORS && !strcmp(a->name, "__metadata__"))
            return mz_fail(err, MZ_EINVAL, "%s: '__metadata__' is not a tensor name", path);
    }
    return MZ_OK;
}

mz_status mz_asink_open(mz_asink **out, mz_afmt fmt, const char *path, const mz_array_desc *arrays,
                        int n, const char *const *meta_kv, int n_meta, mz_error *err)
{
    *out = NULL;
    if (fmt != MZ_AFMT_NPZ && fmt != MZ_AFMT_NPY && fmt != MZ_AFMT_SAFETENSORS)
        return mz_fail(err, MZ_EINVAL, "%s: unknown array format %u", path, (unsigned)fmt);
    mz_status st = check_arrays(fmt, path, arrays, n, err);
    if (st != MZ_OK)
        return st;
    size_t pl = strlen(path);
    if (pl >= MZ_PATH_MAX)
        return mz_fail(err, MZ_ELIMIT, "%.48s...: path of %zu bytes is longer than the limit of %d",
                       path, pl, MZ_PATH_MAX - 1);
    mz_asink *s = calloc(1, sizeof *s);
    if (!s)
        return mz_fail(err, MZ_ENOMEM, "%s: out of memory", path);
    s->fmt = fmt;
    s->n = n;
    s->cur = -1;
    s->path = mz_strdup(path);
    s->arrays = malloc((size_t)(n ? n : 1) * sizeof *s->arrays);
    s->created = calloc((size_t)n + 1, sizeof *s->created);
    s->members = fmt == MZ_AFMT_NPZ ? calloc((size_t)(n ? n : 1), sizeof *s->members) : NULL;
    if (!s->path || !s->arrays || !s->created || (fmt == MZ_AFMT_NPZ && !s->members)) {
        mz_asink_abort(s);
        return mz_fail(err, MZ_ENOMEM, "%s: out of memory", path);
    }
    memcpy(s->arrays, arrays, (size_t)n * sizeof *arrays);
    memcpy(s->cur_path, path, pl + 1);
    if (fmt != MZ_AFMT_NPY) {
        st = open_file(s, err);
        if (st == MZ_OK && fmt == MZ_AFMT_SAFETENSORS)
            st = safetensors_header(s, meta_kv, n_meta, err);
        if (st != MZ_OK) {
            mz_asink_abort(s);
            return st;
        }
    }
    *out = s;
    return MZ_OK;
}

/* npz: the local header of a stored member "<name>.npy"; its CRC is patched in end(). */
static mz_status zip_local_header(mz_asink *s, zip_member *e, mz_error *err)
{
    off_t pos = ftello(s->f);
    if (pos < 0)
        return sink_io_error(s, err);
    e->local_off = (uint64_t)pos;
    unsigned char lh[30];
    size_t nl = strlen(e->name);
    mz_put32(lh, 0x04034b50);
    mz_put16(lh + 4, e->zip64 ? 45 : 20);
    mz_put16(lh + 6, 0);
    mz_put16(lh + 8, 0);     /* stored */
    mz_put16(lh + 10, 0);    /* 00:00:00 */
    mz_put16(lh + 12, 0x21); /* 1980-01-01: fixed, so files are reproducible */
    mz_put32(lh + 14, 0);    /* CRC, patched */
    mz_put32(lh + 18, e->zip64 ? 0xffffffffu : (uint32_t)e->size);
    mz_put32(lh + 22, e->zip64 ? 0xffffffffu : (uint32_t)e->size);
    mz_put16(lh + 26, (unsigned)nl);
    mz_put16(lh + 28, e->zip64 ? 20 : 0);
    if (fwrite(lh, 1, 30, s->f) != 30 || fwrite(e->name, 1, nl, s->f) != nl)
        return sink_io_error(s, err);
    if (e->zip64) {
        unsigned char x[20];
        mz_put16(x, 1);
        mz_put16(x + 2, 16);
        mz_put64(x + 4, e->size);
        mz_put64(x + 12, e->size);
        if (fwrite(x, 1, 20, s->f) != 20)
            return sink_io_error(s, err);
    }
    return MZ_OK;
}

mz_status mz_asink_begin(mz_asink *s, int i, mz_error *err)
{
    if (i != s->cur + 1 || i >= s->n || (s->cur >= 0 && s->written != array_bytes(s, s->cur)))
        return mz_fail(err, MZ_EINVAL, "%s: array sink: arrays out of order", s->path);
    const mz_array_desc *a = &s->arrays[i];
    s->cur = i;
    s->written = 0;
    s->crc = mz_crc32(0, NULL, 0);
    if (s->fmt == MZ_AFMT_SAFETENSORS)
        return MZ_OK;
    char hdr[640];
    size_t hl = mz_npy_header(hdr, sizeof hdr, a);
    if (!hl)
        return mz_fail(err, MZ_EINVAL, "%s: array %s: cannot format the .npy header", s->path,
                       a->name);
    if (s->fmt == MZ_AFMT_NPY) {
        char name[MZ_ARRAY_NAME_MAX + 4];
        snprintf(name, sizeof name, "%s.npy", a->name);
        mz_status st = mz_path_join(s->cur_path, sizeof s->cur_path, s->path, name, err);
        if (st == MZ_OK)
            st = open_file(s, err);
        if (st != MZ_OK)
            return st;
        return fwrite(hdr, 1, hl, s->f) == hl ? MZ_OK : sink_io_error(s, err);
    }
    zip_member *e = &s->members[i];
    snprintf(e->name, sizeof e->name, "%s.npy", a->name);
    e->size = hl + array_bytes(s, i);
    e->zip64 = e->size >= 0xffffffffu;
    mz_status st = zip_local_header(s, e, err);
    if (st != MZ_OK)
        return st;
    s->crc = mz_crc32(s->crc, hdr, hl);
    return fwrite(hdr, 1, hl, s->f) == hl ? MZ_OK : sink_io_error(s, err);
}

mz_status mz_asink_write(mz_asink *s, const void *data, size_t bytes, mz_error *err)
{
    if (s->cur < 0 || bytes > array_bytes(s, s->cur) - s->written)
        return mz_fail(err, MZ_EINVAL, "%s: array sink: more data than declared for %s", s->path,
                       s->cur >= 0 ? s->arrays[s->cur].name : "?");
    if (s->fmt == MZ_AFMT_NPZ)
        s->crc = mz_crc32(s->crc, data, bytes);
    if (bytes && fwrite(data, 1, bytes, s->f) != bytes)
        return sink_io_error(s, err);
    s->written += bytes;
    return MZ_OK;
}

mz_status mz_asink_end(mz_asink *s, mz_error *err)
{
    if (s->cur < 0)
        return mz_fail(err, MZ_EINVAL, "%s: array sink: end() before begin()", s->path);
    const mz_array_desc *a = &s->arrays[s->cur];
    if (s->written != array_bytes(s, s->cur))
        return mz_fail(err, MZ_EINVAL, "%s: array sink: %s got %llu bytes (declared %lld)", s->path,
                       a->name, (unsigned long long)s->written, (long long)mz_array_bytes(a));
    if (s->fmt == MZ_AFMT_NPY) {
        int rc = fclose(s->f);
        s->f = NULL;
        if (rc != 0)
            return sink_io_error(s, err);
    } else if (s->fmt == MZ_AFMT_NPZ) {
        zip_member *e = &s->members[s->cur];
        e->crc = s->crc;
        off_t end = ftello(s->f);
        unsigned char c[4];
        mz_put32(c, e->crc);
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
        zip_member *e = &s->members[i];
        int off64 = e->local_off >= 0xffffffffu;
        unsigned char x[28];
        size_t xn = 0;
        if (e->zip64 || off64) {
            size_t body = (e->zip64 ? 16 : 0) + (off64 ? 8 : 0);
            mz_put16(x, 1);
            mz_put16(x + 2, (unsigned)body);
            xn = 4;
            if (e->zip64) {
                mz_put64(x + xn, e->size);
                mz_put64(x + xn + 8, e->size);
                xn += 16;
            }
            if (off64) {
                mz_put64(x + xn, e->local_off);
                xn += 8;
            }
            any64 = 1;
        }
        unsigned char c[46];
        size_t nl = strlen(e->name);
        mz_put32(c, 0x02014b50);
        mz_put16(c + 4, xn ? 45 : 20);
        mz_put16(c + 6, xn ? 45 : 20);
        mz_put16(c + 8, 0);
        mz_put16(c + 10, 0);
        mz_put16(c + 12, 0);
        mz_put16(c + 14, 0x21);
        mz_put32(c + 16, e->crc);
        mz_put32(c + 20, e->zip64 ? 0xffffffffu : (uint32_t)e->size);
        mz_put32(c + 24, e->zip64 ? 0xffffffffu : (uint32_t)e->size);
        mz_put16(c + 28, (unsigned)nl);
        mz_put16(c + 30, (unsigned)xn);
        mz_put16(c + 32, 0);
        mz_put16(c + 34, 0);
        mz_put16(c + 36, 0);
        mz_put32(c + 38, 0);
        mz_put32(c + 42, off64 ? 0xffffffffu : (uint32_t)e->local_off);
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
        mz_put32(z, 0x06064b50);
        mz_put64(z + 4, 44);
        mz_put16(z + 12, 45);
        mz_put16(z + 14, 45);
        mz_put32(z + 16, 0);
        mz_put32(z + 20, 0);
        mz_put64(z + 24, (uint64_t)s->n);
        mz_put64(z + 32, (uint64_t)s->n);
        mz_put64(z + 40, cd_size);
        mz_put64(z + 48, (uint64_t)cd_start);
        mz_put32(z + 56, 0x07064b50); /* locator */
        mz_put32(z + 60, 0);
        mz_put64(z + 64, (uint64_t)cd_end);
        mz_put32(z + 72, 1);
        if (fwrite(z, 1, 76, s->f) != 76)
            return sink_io_error(s, err);
    }
    unsigned char eo[22];
    mz_put32(eo, 0x06054b50);
    mz_put16(eo + 4, 0);
    mz_put16(eo + 6, 0);
    mz_put16(eo + 8, (unsigned)s->n);
    mz_put16(eo + 10, (unsigned)s->n);
    mz_put32(eo + 12, cd_size >= 0xffffffffu ? 0xffffffffu : (uint32_t)cd_size);
    mz_put32(eo + 16, any64 ? 0xffffffffu : (uint32_t)cd_start);
    mz_put16(eo + 20, 0);
    if (fwrite(eo, 1, 22, s->f) != 22)
        return sink_io_error(s, err);
    return MZ_OK;
}

mz_status mz_asink_close(mz_asink *s, mz_error *err)
{
    if (!s)
        return MZ_OK;
    mz_status st = MZ_OK;
    if (s->cur != s->n - 1 || (s->n > 0 && s->written != array_bytes(s, s->n - 1)))
        st = mz_fail(err, MZ_EINVAL, "%s: array sink: closed before every array was written",
                     s->path);
    if (st == MZ_OK && s->fmt == MZ_AFMT_NPZ)
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
    for (int i = 0; i < s->n_created; i++)
        free(s->created[i]);
    free(s->created);
    free(s->members);
    free(s->arrays);
    free(s->path);
    free(s);
    return MZ_OK;
}

void mz_asink_abort(mz_asink *s)
{
    if (!s)
        return;
    if (s->f)
        fclose(s->f);
    for (int i = 0; i < s->n_created; i++) {
        remove(s->created[i]);
        free(s->created[i]);
    }
    free(s->created);
    free(s->members);
    free(s->arrays);
    free(s->path);
    free(s);
}
