/* Reading arrays by name from a directory of .npy files, an .npz or a safetensors file. Each
 * array's header is checked against the bytes actually present before any data is read. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "formats/formats-impl.h"
#include "core/banned.h"

/* The safetensors format's own limit on its JSON header. */
#define ST_HEADER_MAX ((uint64_t)100 << 20)

struct mz_areader {
    mz_afmt fmt;
    char *path;
    int count;
    char **names;
    mz_zip *zip;         /* NPZ */
    int fd;              /* SAFETENSORS */
    uint64_t size;       /* SAFETENSORS: file size */
    uint64_t data_start; /* SAFETENSORS: 8 + header length */
    json_t *header;      /* SAFETENSORS */
};

/* An array found in the container. */
typedef struct located {
    mz_array_desc desc;
    int fd;                    /* NPY: the open file (closed by release) */
    const mz_zip_entry *entry; /* NPZ */
    uint64_t offset; /* of the data: in the file (NPY, SAFETENSORS), in the member (NPZ) */
} located;

static void release(located *l)
{
    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
}

char *mz_areader_origin(const mz_areader *r, const char *name, char *buf, size_t cap)
{
    if (r->fmt == MZ_AFMT_NPY)
        snprintf(buf, cap, "%s/%s.npy", r->path, name);
    else if (r->fmt == MZ_AFMT_NPZ)
        snprintf(buf, cap, "%s: member %s.npy", r->path, name);
    else
        snprintf(buf, cap, "%s: tensor %s", r->path, name);
    return buf;
}

int mz_areader_count(const mz_areader *r)
{
    return r->count;
}

const char *mz_areader_name(const mz_areader *r, int i)
{
    return i >= 0 && i < r->count ? r->names[i] : NULL;
}

const char *mz_areader_meta(const mz_areader *r, const char *key)
{
    if (r->fmt != MZ_AFMT_SAFETENSORS)
        return NULL;
    return json_string_value(json_object_get(json_object_get(r->header, "__metadata__"), key));
}

void mz_areader_close(mz_areader *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->count; i++)
        free(r->names[i]);
    free(r->names);
    mz_zip_close(r->zip);
    if (r->fd >= 0)
        close(r->fd);
    json_decref(r->header);
    free(r->path);
    free(r);
}

static mz_status add_name(mz_areader *r, const char *s, size_t len, int *cap, mz_error *err)
{
    if (r->count == *cap) {
        int nc = *cap ? 2 * *cap : 16;
        char **nn = nc > MZ_ZIP_MAX_ENTRIES ? NULL : realloc(r->names, (size_t)nc * sizeof *nn);
        if (!nn)
            return mz_fail(err, nc > MZ_ZIP_MAX_ENTRIES ? MZ_ELIMIT : MZ_ENOMEM,
                           "%s: too many arrays to list", r->path);
        r->names = nn;
        *cap = nc;
    }
    char *c = malloc(len + 1);
    if (!c)
        return mz_fail(err, MZ_ENOMEM, "%s: out of memory", r->path);
    memcpy(c, s, len);
    c[len] = 0;
    r->names[r->count++] = c;
    return MZ_OK;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "x.npy" -> 1 and *len = 1 (the array name's length, which must fit MZ_ARRAY_NAME_MAX). */
static int npy_name(const char *s, size_t *len)
{
    size_t n = strlen(s);
    if (n <= 4 || n - 4 >= MZ_ARRAY_NAME_MAX || strcmp(s + n - 4, ".npy") != 0)
        return 0;
    *len = n - 4;
    return 1;
}

static mz_status open_npy_dir(mz_areader *r, mz_error *err)
{
    DIR *d = opendir(r->path);
    if (!d)
        return mz_fail(err, errno == ENOENT ? MZ_ENOTFOUND : MZ_EIO, "%s: cannot open (%s)",
                       r->path, strerror(errno));
    mz_status st = MZ_OK;
    int cap = 0;
    size_t len;
    for (struct dirent *de; st == MZ_OK && (de = readdir(d));)
        if (npy_name(de->d_name, &len))
            st = add_name(r, de->d_name, len, &cap, err);
    closedir(d);
    if (st == MZ_OK && r->count > 1)
        qsort(r->names, (size_t)r->count, sizeof *r->names, cmp_names);
    return st;
}

static mz_status open_npz(mz_areader *r, mz_error *err)
{
    mz_status st = mz_zip_open(&r->zip, r->path, err);
    int cap = 0;
    size_t len;
    for (int64_t i = 0; st == MZ_OK && i < mz_zip_count(r->zip); i++) {
        const char *n = mz_zip_entry_at(r->zip, i)->name;
        if (npy_name(n, &len))
            st = add_name(r, n, len, &cap, err);
    }
    return st;
}

static mz_status open_safetensors(mz_areader *r, mz_error *err)
{
    mz_status st = mz_fmt_open(r->path, &r->fd, &r->size, err);
    if (st != MZ_OK)
        return st;
    unsigned char n8[8];
    if (r->size < 8)
        return mz_fail(err, MZ_EFORMAT,
                       "%s: %llu bytes, too short for safetensors (an 8-byte header length first)",
                       r->path, (unsigned long long)r->size);
    if ((st = mz_fmt_pread(r->fd, r->path, 0, n8, 8, err)) != MZ_OK)
        return st;
    uint64_t hn = mz_get64(n8);
    if (hn > r->size - 8)
        return mz_fail(err, MZ_EFORMAT,
                       "%s: offset 0: header length %llu exceeds the file (%llu bytes follow)",
                       r->path, (unsigned long long)hn, (unsigned long long)(r->size - 8));
    if (hn > ST_HEADER_MAX)
        return mz_fail(err, MZ_ELIMIT, "%s: offset 0: header length %llu (limit %llu)", r->path,
                       (unsigned long long)hn, (unsigned long long)ST_HEADER_MAX);
    char *h = malloc((size_t)hn + 1);
    if (!h)
        return mz_fail(err, MZ_ENOMEM, "%s: out of memory", r->path);
    if ((st = mz_fmt_pread(r->fd, r->path, 8, h, (size_t)hn, err)) != MZ_OK) {
        free(h);
        return st;
    }
    json_error_t je;
    r->header = json_loadb(h, (size_t)hn, JSON_REJECT_DUPLICATES, &je);
    free(h);
    if (!r->header)
        return mz_fail(err, MZ_EFORMAT, "%s: offset %d: bad safetensors header: %s", r->path,
                       8 + je.position, je.text);
    r->data_start = 8 + hn;
    if (!json_is_object(r->header))
        return mz_fail(err, MZ_EFORMAT, "%s: offset 8: the safetensors header is not an object",
                       r->path);
    const char *key;
    json_t *v;
    int cap = 0;
    json_t *meta = json_object_get(r->header, "__metadata__");
    if (meta) {
        int ok = json_is_object(meta);
        json_object_foreach(meta, key, v)
        {
            ok = ok && json_is_string(v);
        }
        if (!ok)
            return mz_fail(err, MZ_EFORMAT,
                           "%s: offset 8: __metadata__ is not an object of strings", r->path);
    }
    json_object_foreach(r->header, key, v)
    {
        if (strcmp(key, "__metadata__") != 0 &&
            (st = add_name(r, key, strlen(key), &cap, err)) != MZ_OK)
            return st;
    }
    return MZ_OK;
}

mz_status mz_areader_open(mz_areader **out, mz_afmt fmt, const char *path, mz_error *err)
{
    *out = NULL;
    if (fmt != MZ_AFMT_NPZ && fmt != MZ_AFMT_NPY && fmt != MZ_AFMT_SAFETENSORS)
        return mz_fail(err, MZ_EINVAL, "%s: unknown array format %u", path, (unsigned)fmt);
    mz_areader *r = calloc(1, sizeof *r);
    if (!r)
        return mz_fail(err, MZ_ENOMEM, "%s: out of memory", path);
    r->fmt = fmt;
    r->fd = -1;
    mz_status st = MZ_OK;
    if (!(r->path = mz_strdup(path)))
        st = mz_fail(err, MZ_ENOMEM, "%s: out of memory", path);
    else if (fmt == MZ_AFMT_NPY)
        st = open_npy_dir(r, err);
    else if (fmt == MZ_AFMT_NPZ)
        st = open_npz(r, err);
    else
        st = open_safetensors(r, err);
    if (st != MZ_OK) {
        mz_areader_close(r);
        return st;
    }
    *out = r;
    return MZ_OK;
}

/* The data must fit in the `avail` bytes after the header. */
static mz_status check_fits(const char *origin, const mz_array_desc *d, uint64_t at, uint64_t avail,
                            const char *what, mz_error *err)
{
    uint64_t bytes = (uint64_t)mz_array_bytes(d);
    if (bytes <= avail)
        return MZ_OK;
    char sh[200];
    return mz_fail(err, MZ_EFORMAT,
                   "%s: offset %llu: shape %s of %s needs %llu bytes, but the %s has %llu after "
                   "its header",
                   origin, (unsigned long long)at, mz_array_shape_str(d, sh, sizeof sh),
                   mz_dtype_name(d->dtype), (unsigned long long)bytes, what,
                   (unsigned long long)avail);
}

static mz_status locate_npy(mz_areader *r, const char *name, located *l, mz_error *err)
{
    char file[MZ_ARRAY_NAME_MAX + 4], path[MZ_PATH_MAX];
    snprintf(file, sizeof file, "%s.npy", name);
    mz_status st = mz_path_join(path, sizeof path, r->path, file, err);
    uint64_t size = 0;
    if (st == MZ_OK)
        st = mz_fmt_open(path, &l->fd, &size, err);
    if (st != MZ_OK)
        return st;
    size_t hn = size < 12 + MZ_NPY_HEADER_MAX ? (size_t)size : 12 + MZ_NPY_HEADER_MAX, doff = 0;
    unsigned char *head = malloc(hn ? hn : 1);
    if (!head)
        return mz_fail(err, MZ_ENOMEM, "%s: out of memory", path);
    st = mz_fmt_pread(l->fd, path, 0, head, hn, err);
    if (st == MZ_OK)
        st = mz_npy_parse(head, hn, &l->desc, &doff, path, err);
    free(head);
    if (st == MZ_OK)
        st = check_fits(path, &l->desc, doff, size - doff, "file", err);
    l->offset = doff;
    return st;
}

static mz_status locate_npz(mz_areader *r, const char *name, located *l, mz_error *err)
{
    char member[MZ_ARRAY_NAME_MAX + 4], origin[MZ_PATH_MAX + 96];
    snprintf(member, sizeof member, "%s.npy", name);
    mz_areader_origin(r, name, origin, sizeof origin);
    const mz_zip_entry *e = mz_zip_find(r->zip, member);
    if (!e)
        return mz_fail(err, MZ_ENOTFOUND, "%s: no member %s", r->path, member);
    size_t hn = e->size < 12 + MZ_NPY_HEADER_MAX ? (size_t)e->size : 12 + MZ_NPY_HEADER_MAX,
           doff = 0;
    unsigned char *head = malloc(hn ? hn : 1);
    if (!head)
        return mz_fail(err, MZ_ENOMEM, "%s: out of memory", r->path);
    mz_status st = mz_zip_peek(r->zip, e, head, hn, err);
    if (st == MZ_OK)
        st = mz_npy_parse(head, hn, &l->desc, &doff, origin, err);
    free(head);
    if (st == MZ_OK)
        st = check_fits(origin, &l->desc, doff, e->size - doff, "member", err);
    l->entry = e;
    l->offset = doff;
    return st;
}

static mz_status locate_safetensors(mz_areader *r, const char *name, located *l, mz_error *err)
{
    char origin[MZ_PATH_MAX + 96];
    mz_areader_origin(r, name, origin, sizeof origin);
    json_t *t = strcmp(name, "__metadata__") ? json_object_get(r->header, name) : NULL;
    if (!t)
        return mz_fail(err, MZ_ENOTFOUND, "%s: no tensor %s", r->path, name);
    json_t *dt = json_object_get(t, "dtype"), *sh = json_object_get(t, "shape"),
           *of = json_object_get(t, "data_offsets");
    if (!json_is_string(dt) || !json_is_array(sh) || !json_is_array(of) ||
        json_array_size(of) != 2 || !json_is_integer(json_array_get(of, 0)) ||
        !json_is_integer(json_array_get(of, 1)))
        return mz_fail(err, MZ_EFORMAT,
                       "%s: header (offset 8): expected an object with dtype, shape and "
                       "data_offsets [begin, end]",
                       origin);
    if (!mz_dtype_from_safetensors(json_string_value(dt), &l->desc.dtype))
        return mz_fail(err, MZ_EFORMAT,
                       "%s: header (offset 8): dtype %s not supported (expected F32, F64, F16, "
                       "BF16, I64, I32, I16, I8, U8 or BOOL)",
                       origin, json_string_value(dt));
    if (json_array_size(sh) > MZ_ARRAY_MAX_DIMS)
        return mz_fail(err, MZ_EFORMAT,
                       "%s: header (offset 8): shape has %zu dimensions (limit %d)", origin,
                       json_array_size(sh), MZ_ARRAY_MAX_DIMS);
    l->desc.ndim = (int)json_array_size(sh);
    for (int k = 0; k < l->desc.ndim; k++) {
        json_t *v = json_array_get(sh, (size_t)k);
        if (!json_is_integer(v))
            return mz_fail(err, MZ_EFORMAT, "%s: header (offset 8): shape[%d] is not an integer",
                           origin, k);
        l->desc.shape[k] = json_integer_value(v);
    }
    mz_status st = mz_fmt_check_shape(&l->desc, origin, "header (offset 8): ", err);
    if (st != MZ_OK)
        return st;
    int64_t b = json_integer_value(json_array_get(of, 0)),
            e = json_integer_value(json_array_get(of, 1)), bytes = mz_array_bytes(&l->desc);
    uint64_t avail = r->size - r->data_start;
    if (b < 0 || e < b || (uint64_t)e > avail)
        return mz_fail(err, MZ_EFORMAT,
                       "%s: header (offset 8): data_offsets [%lld, %lld] lie outside the %llu "
                       "data bytes",
                       origin, (long long)b, (long long)e, (unsigned long long)avail);
    if (e - b != bytes) {
        char s[200];
        return mz_fail(err, MZ_EFORMAT,
                       "%s: header (offset 8): data_offsets [%lld, %lld] do not match shape %s of "
                       "%s (%lld bytes)",
                       origin, (long long)b, (long long)e,
                       mz_array_shape_str(&l->desc, s, sizeof s), mz_dtype_name(l->desc.dtype),
                       (long long)bytes);
    }
    l->offset = r->data_start + (uint64_t)b;
    return MZ_OK;
}

static mz_status locate(mz_areader *r, const char *name, located *l, mz_error *err)
{
    memset(l, 0, sizeof *l);
    l->fd = -1;
    size_t nl = strlen(name);
    if (nl == 0 || nl >= MZ_ARRAY_NAME_MAX)
        return mz_fail(err, MZ_EINVAL, "%s: array name of %zu bytes (expected 1 .. %d)", r->path,
                       nl, MZ_ARRAY_NAME_MAX - 1);
    mz_status st = r->fmt == MZ_AFMT_NPY   ? locate_npy(r, name, l, err)
                   : r->fmt == MZ_AFMT_NPZ ? locate_npz(r, name, l, err)
                                           : locate_safetensors(r, name, l, err);
    if (st != MZ_OK) {
        release(l);
        return st;
    }
    memcpy(l->desc.name, name, nl + 1);
    return MZ_OK;
}

static mz_status read_located(mz_areader *r, located *l, void *buf, size_t bytes, mz_error *err)
{
    if ((uint64_t)bytes != (uint64_t)mz_array_bytes(&l->desc)) {
        char origin[MZ_PATH_MAX + 96];
        return mz_fail(err, MZ_EINVAL, "%s: a buffer of %zu bytes for an array of %lld",
                       mz_areader_origin(r, l->desc.name, origin, sizeof origin), bytes,
                       (long long)mz_array_bytes(&l->desc));
    }
    if (r->fmt == MZ_AFMT_NPZ)
        return mz_zip_extract(r->zip, l->entry, l->offset, buf, bytes, err);
    if (r->fmt == MZ_AFMT_SAFETENSORS)
        return mz_fmt_pread(r->fd, r->path, l->offset, buf, bytes, err);
    char path[MZ_PATH_MAX];
    snprintf(path, sizeof path, "%s/%s.npy", r->path, l->desc.name);
    return mz_fmt_pread(l->fd, path, l->offset, buf, bytes, err);
}

mz_status mz_areader_find(mz_areader *r, const char *name, mz_array_desc *desc, mz_error *err)
{
    located l;
    mz_status st = locate(r, name, &l, err);
    if (st == MZ_OK)
        *desc = l.desc;
    release(&l);
    return st;
}

mz_status mz_areader_read(mz_areader *r, const char *name, void *buf, size_t bytes, mz_error *err)
{
    located l;
    mz_status st = locate(r, name, &l, err);
    if (st == MZ_OK)
        st = read_located(r, &l, buf, bytes, err);
    release(&l);
    return st;
}

mz_status mz_areader_load(mz_areader *r, const char *name, uint64_t max_bytes, mz_array_desc *desc,
                          void **data, mz_error *err)
{
    *data = NULL;
    located l;
    mz_status st = locate(r, name, &l, err);
    uint64_t bytes = st == MZ_OK ? (uint64_t)mz_array_bytes(&l.desc) : 0;
    if (st == MZ_OK && (bytes > max_bytes || bytes >= SIZE_MAX)) {
        char origin[MZ_PATH_MAX + 96];
        st = mz_fail(err, MZ_ELIMIT, "%s: %llu bytes, more than the limit of %llu",
                     mz_areader_origin(r, name, origin, sizeof origin), (unsigned long long)bytes,
                     (unsigned long long)max_bytes);
    }
    if (st == MZ_OK && !(*data = malloc(bytes ? (size_t)bytes : 1)))
        st = mz_fail(err, MZ_ENOMEM, "%s: out of memory for %llu bytes of %s", r->path,
                     (unsigned long long)bytes, name);
    if (st == MZ_OK)
        st = read_located(r, &l, *data, (size_t)bytes, err);
    if (st == MZ_OK) {
        *desc = l.desc;
    } else {
        free(*data);
        *data = NULL;
    }
    release(&l);
    return st;
}
