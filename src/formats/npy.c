/* .npy: the header numpy writes and reads (format versions 1.0-3.0, C order, little-endian). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "formats/formats-impl.h"
#include "core/banned.h"

size_t mz_npy_header(char *buf, size_t cap, const mz_array_desc *a)
{
    const mz_dtype_info *t = mz_dtype_get(a->dtype);
    if (!t || !t->npy || mz_array_bytes(a) < 0)
        return 0;
    char dict[512], shape[256];
    int len = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                       t->npy, mz_array_shape_str(a, shape, sizeof shape));
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

/* Finds 'key': in the header dict h; returns the position after the colon and spaces. */
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

static mz_status parse_dict(const char *h, size_t start, mz_array_desc *a, const char *origin,
                            mz_error *err)
{
    const char *d = dict_value(h, "descr"), *f = dict_value(h, "fortran_order"),
               *s = dict_value(h, "shape");
    if (!d || !f || !s)
        return mz_fail(err, MZ_EFORMAT,
                       "%s: offset %zu: .npy header lacks 'descr', 'fortran_order' or 'shape'",
                       origin, start);
#define AT(p) (start + (size_t)((p)-h))
    const char *q = *d == '\'' ? strchr(d + 1, '\'') : NULL;
    if (!q || !mz_dtype_from_npy(d + 1, (size_t)(q - d - 1), &a->dtype))
        return mz_fail(err, MZ_EFORMAT,
                       "%s: offset %zu: .npy dtype %.12s is not supported (expected '<f4', "
                       "'<f8', '<f2', '<i8', '<i4', '<i2', '|i1', '|u1' or '|b1')",
                       origin, AT(d), d);
    if (strncmp(f, "False", 5) != 0)
        return mz_fail(err, MZ_EFORMAT,
                       "%s: offset %zu: .npy array is in Fortran order (expected C order)", origin,
                       AT(f));
    if (*s != '(')
        return mz_fail(err, MZ_EFORMAT, "%s: offset %zu: .npy shape is not a tuple", origin, AT(s));
    s++;
    a->ndim = 0;
    for (;;) {
        while (*s == ' ')
            s++;
        if (*s == ')')
            break;
        const char *at = s;
        char *e;
        errno = 0;
        long long v = *s >= '0' && *s <= '9' ? strtoll(s, &e, 10) : -1;
        if (v < 0 || errno || e == s)
            return mz_fail(err, MZ_EFORMAT,
                           "%s: offset %zu: .npy shape: expected a non-negative integer, got %.24s",
                           origin, AT(at), at);
        if (a->ndim == MZ_ARRAY_MAX_DIMS)
            return mz_fail(err, MZ_EFORMAT,
                           "%s: offset %zu: .npy shape has more than %d dimensions", origin, AT(at),
                           MZ_ARRAY_MAX_DIMS);
        if (v > MZ_ARRAY_DIM_MAX)
            return mz_fail(err, MZ_EFORMAT,
                           "%s: offset %zu: .npy shape[%d] = %lld (expected 0 .. %lld elements "
                           "per dimension)",
                           origin, AT(at), a->ndim, v, (long long)MZ_ARRAY_DIM_MAX);
        a->shape[a->ndim++] = v;
        s = e;
        while (*s == ' ')
            s++;
        if (*s == ',')
            s++;
        else if (*s != ')')
            return mz_fail(err, MZ_EFORMAT,
                           "%s: offset %zu: .npy shape: expected ',' or ')' in the tuple", origin,
                           AT(s));
    }
    char where[48];
    snprintf(where, sizeof where, "offset %zu: .npy ", AT(s));
#undef AT
    return mz_fmt_check_shape(a, origin, where, err);
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
        hlen = (size_t)mz_get32(buf + 8);
        start = 12;
    } else {
        return mz_fail(err, MZ_EFORMAT,
                       "%s: offset 6: unsupported .npy version %d (expected 1, 2 or 3)", origin,
                       buf[6]);
    }
    if (hlen > MZ_NPY_HEADER_MAX)
        return mz_fail(err, MZ_ELIMIT, "%s: offset 8: .npy header of %zu bytes (limit %d)", origin,
                       hlen, MZ_NPY_HEADER_MAX);
    if (hlen > n - start)
        return mz_fail(err, MZ_EFORMAT,
                       "%s: offset 8: .npy header of %zu bytes, but only %zu bytes follow", origin,
                       hlen, n - start);
    char *h = malloc(hlen + 1);
    if (!h)
        return mz_fail(err, MZ_ENOMEM, "%s: out of memory", origin);
    memcpy(h, buf + start, hlen);
    h[hlen] = 0;
    mz_status st = parse_dict(h, start, a, origin, err);
    free(h);
    if (st == MZ_OK)
        *data_offset = start + hlen;
    return st;
}

mz_status mz_npy_load(const char *path, uint64_t max_bytes, mz_array_desc *desc, void **data,
                      mz_error *err)
{
    *data = NULL;
    memset(desc, 0, sizeof *desc);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t bl = strlen(base);
    if (bl > 4 && !strcmp(base + bl - 4, ".npy"))
        bl -= 4;
    if (bl < sizeof desc->name)
        memcpy(desc->name, base, bl);
    int fd;
    uint64_t size;
    mz_status st = mz_fmt_open(path, &fd, &size, err);
    if (st != MZ_OK)
        return st;
    unsigned char *head = NULL;
    size_t hn = size < 12 + MZ_NPY_HEADER_MAX ? (size_t)size : 12 + MZ_NPY_HEADER_MAX, doff = 0;
    if (!(head = malloc(hn ? hn : 1)))
        st = mz_fail(err, MZ_ENOMEM, "%s: out of memory", path);
    if (st == MZ_OK)
        st = mz_fmt_pread(fd, path, 0, head, hn, err);
    if (st == MZ_OK)
        st = mz_npy_parse(head, hn, desc, &doff, path, err);
    free(head);
    uint64_t bytes = st == MZ_OK ? (uint64_t)mz_array_bytes(desc) : 0;
    if (st == MZ_OK && bytes > size - doff)
        st = mz_fail(err, MZ_EFORMAT,
                     "%s: offset %zu: shape needs %llu bytes of %s but the file has %llu after "
                     "its header",
                     path, doff, (unsigned long long)bytes, mz_dtype_name(desc->dtype),
                     (unsigned long long)(size - doff));
    if (st == MZ_OK && (bytes > max_bytes || bytes >= SIZE_MAX))
        st = mz_fail(err, MZ_ELIMIT, "%s: array of %llu bytes, more than the limit of %llu", path,
                     (unsigned long long)bytes, (unsigned long long)max_bytes);
    if (st == MZ_OK && !(*data = malloc(bytes ? (size_t)bytes : 1)))
        st = mz_fail(err, MZ_ENOMEM, "%s: out of memory for %llu bytes", path,
                     (unsigned long long)bytes);
    if (st == MZ_OK)
        st = mz_fmt_pread(fd, path, doff, *data, (size_t)bytes, err);
    close(fd);
    if (st != MZ_OK) {
        free(*data);
        *data = NULL;
    }
    return st;
}
