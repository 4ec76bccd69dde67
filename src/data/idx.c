/* IDX files (the format of MNIST and Fashion-MNIST), gzip'd or plain, and whole-file reads.
 *
 * Both go through the strict gzip reader (the strict gzip reader of formats.h), which decompresses
 * gzip data (checking every member's CRC-32 and length and refusing trailing data) and passes any
 * other file through unchanged, so the format is detected by content, not by name.
 *
 * IDX layout (big-endian): bytes 0-1 zero, byte 2 the element type (0x08 = unsigned byte, the only
 * one we accept), byte 3 the number of dimensions d, then d uint32 sizes, then the elements in C
 * order and nothing else. MNIST images are 0x00000803 (d = 3: n, 28, 28), labels 0x00000801.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mzoo/data.h"
#include "mzoo/formats.h"
#include "core/banned.h"

/* No IDX file we read is anywhere near this; a larger header is corrupt or hostile. */
#define IDX_MAX_BYTES ((uint64_t)1 << 30)

static const char *idx_type_name(unsigned code)
{
    switch (code) {
    case 0x08:
        return "unsigned byte";
    case 0x09:
        return "signed byte";
    case 0x0B:
        return "int16";
    case 0x0C:
        return "int32";
    case 0x0D:
        return "float32";
    case 0x0E:
        return "float64";
    }
    return "not an IDX type";
}

static void dims_string(const int64_t *dims, int ndim, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < ndim && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%lld", i ? "x" : "", (long long)dims[i]);
}

mz_status mz_idx_read(const char *path, mz_idx *out, mz_error *err)
{
    if (!path || !out)
        return mz_fail(err, MZ_EINVAL, "mz_idx_read: NULL argument");
    memset(out, 0, sizeof *out);
    mz_gz *f = NULL;
    mz_status st = mz_gz_open(&f, path, 1, err);
    if (st)
        return st;
    int plain = 0;
    const char *after = "";
    uint8_t hdr[4 + 4 * 4];
    size_t got = 0;
    uint8_t *data = NULL;

    if ((st = mz_gz_read(f, hdr, 4, &got, err)))
        goto fail;
    plain = mz_gz_plain(f);
    after = plain ? "" : " after decompression";
    if (got < 4) {
        if (got == 0)
            st = mz_fail(err, MZ_EFORMAT,
                         "%s: offset 0: the file is empty%s (expected an IDX file)", path, after);
        else
            st = mz_fail(err, MZ_EFORMAT,
                         "%s: offset %zu: truncated header: the file has only %zu bytes%s "
                         "(expected a 4-byte IDX magic number)",
                         path, got, got, after);
        goto fail;
    }
    uint32_t magic =
        (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
    if (hdr[0] || hdr[1]) {
        st = mz_fail(err, MZ_EFORMAT,
                     "%s: offset 0: bad IDX magic number 0x%08x%s (expected 0x00000803 for images "
                     "or 0x00000801 for labels; not an IDX file?)",
                     path, magic, after);
        goto fail;
    }
    if (hdr[2] != 0x08) {
        st = mz_fail(err, MZ_EFORMAT,
                     "%s: offset 2: IDX type code 0x%02x (%s) is not supported (expected 0x08, "
                     "unsigned byte; magic 0x%08x)",
                     path, hdr[2], idx_type_name(hdr[2]), magic);
        goto fail;
    }
    int ndim = hdr[3];
    if (ndim < 1 || ndim > 4) {
        st = mz_fail(err, MZ_EFORMAT,
                     "%s: offset 3: %d dimensions (magic 0x%08x; expected 1 to 4, e.g. 0x00000803 "
                     "for images, 0x00000801 for labels)",
                     path, ndim, magic);
        goto fail;
    }
    size_t hdr_len = 4 + 4 * (size_t)ndim;
    if ((st = mz_gz_read(f, hdr + 4, hdr_len - 4, &got, err)))
        goto fail;
    if (got < hdr_len - 4) {
        st = mz_fail(err, MZ_EFORMAT,
                     "%s: offset %zu: truncated header: the file ends after %zu bytes%s (expected "
                     "a %zu-byte header for %d dimensions)",
                     path, 4 + got, 4 + got, after, hdr_len, ndim);
        goto fail;
    }
    uint64_t total = 1;
    for (int i = 0; i < ndim; i++) {
        const uint8_t *b = hdr + 4 + 4 * i;
        out->dims[i] =
            (int64_t)((uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3]);
        /* Each factor is < 2^32 and total stays <= 2^30 before it, so this cannot overflow. */
        total *= (uint64_t)out->dims[i];
        if (total > IDX_MAX_BYTES) {
            char ds[96];
            dims_string(out->dims, i + 1, ds, sizeof ds);
            st = mz_fail(err, MZ_ELIMIT,
                         "%s: offset %d: the array is at least %s bytes, over the %llu-byte limit "
                         "for IDX files (corrupt header?)",
                         path, 4 + 4 * i, ds, (unsigned long long)IDX_MAX_BYTES);
            goto fail;
        }
    }
    out->ndim = ndim;
    char ds[96];
    dims_string(out->dims, ndim, ds, sizeof ds);

    data = malloc(total ? (size_t)total : 1);
    if (!data) {
        st = mz_fail(err, MZ_ENOMEM, "%s: out of memory for a %s array", path, ds);
        goto fail;
    }
    if ((st = mz_gz_read(f, data, (size_t)total, &got, err)))
        goto fail;
    if (got < total) {
        st = mz_fail(err, MZ_EFORMAT,
                     "%s: truncated: expected %llu bytes of data%s (a %zu-byte header and a %s "
                     "array), got %llu",
                     path, (unsigned long long)(hdr_len + total), after, hdr_len, ds,
                     (unsigned long long)(hdr_len + got));
        goto fail;
    }
    /* Anything after the array is an error: count it (up to a point) for the message. */
    uint8_t extra[4096];
    size_t n_extra = 0;
    for (;;) {
        if ((st = mz_gz_read(f, extra, sizeof extra, &got, err)))
            goto fail;
        n_extra += got;
        if (got < sizeof extra || n_extra >= ((size_t)1 << 20))
            break;
    }
    if (n_extra) {
        st = mz_fail(err, MZ_EFORMAT,
                     "%s: offset %llu: %s%zu bytes of unexpected data after the %s array%s "
                     "(expected the file to end there)",
                     path, (unsigned long long)(hdr_len + total),
                     n_extra >= ((size_t)1 << 20) ? "at least " : "", n_extra, ds, after);
        goto fail;
    }
    mz_gz_close(f);
    out->data = data;
    return MZ_OK;

fail:
    free(data);
    mz_gz_close(f);
    memset(out, 0, sizeof *out);
    return st;
}

void mz_idx_release(mz_idx *idx)
{
    if (!idx)
        return;
    free(idx->data);
    memset(idx, 0, sizeof *idx);
}

mz_status mz_read_file_maybe_gz(const char *path, uint8_t **out, size_t *out_len, size_t max_bytes,
                                mz_error *err)
{
    if (!path || !out || !out_len)
        return mz_fail(err, MZ_EINVAL, "mz_read_file_maybe_gz: NULL argument");
    *out = NULL;
    *out_len = 0;
    mz_gz *f = NULL;
    mz_status st = mz_gz_open(&f, path, 1, err);
    if (st)
        return st;
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    if (!buf) {
        mz_gz_close(f);
        return mz_fail(err, MZ_ENOMEM, "%s: out of memory", path);
    }
    for (;;) {
        if (n == cap) {
            /* Grow, but never beyond max_bytes + 1: one byte past the cap proves it is exceeded. */
            size_t limit = max_bytes < SIZE_MAX ? max_bytes + 1 : SIZE_MAX;
            size_t ncap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
            if (ncap > limit)
                ncap = limit;
            if (ncap <= cap)
                break; /* n == cap == max_bytes + 1: over the cap */
            uint8_t *nb = realloc(buf, ncap);
            if (!nb) {
                free(buf);
                mz_gz_close(f);
                return mz_fail(err, MZ_ENOMEM, "%s: out of memory after %zu bytes", path, n);
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = 0;
        if ((st = mz_gz_read(f, buf + n, cap - n, &got, err))) {
            free(buf);
            mz_gz_close(f);
            return st;
        }
        n += got;
        if (n < cap)
            break; /* the verified end of the data */
    }
    int plain = mz_gz_plain(f);
    mz_gz_close(f);
    if (n > max_bytes) {
        free(buf);
        return mz_fail(err, MZ_ELIMIT, "%s: more than %zu bytes%s (the limit for this file)", path,
                       max_bytes, plain ? "" : " after decompression");
    }
    *out = buf;
    *out_len = n;
    return MZ_OK;
}
