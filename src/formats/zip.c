/* Zip reading: the central directory (zip64 included), stored and deflated entries with their
 * CRC-32 verified. Enough for .npz files and PyTorch's .pt checkpoints (a zip of stored members).
 * Layout (PKWARE APPNOTE): [local header, data]* central directory [zip64 end record, zip64
 * locator] end record. Every offset and size is checked against the file before use. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "formats/formats-impl.h"
#include "core/banned.h"

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_END 0x06054b50u
#define SIG_END64 0x06064b50u
#define SIG_LOCATOR64 0x07064b50u
#define CHUNK ((size_t)1 << 16)

struct mz_zip {
    char *path;
    int fd;
    const unsigned char *mem; /* mz_zip_open_mem: the zip's bytes (borrowed), else NULL */
    uint64_t size;
    uint64_t cd_off; /* entries' headers and data lie before it */
    int64_t n;
    mz_zip_entry *entries;
    char *names; /* the entries' names, NUL-terminated, back to back */
};


/* Exactly n bytes at offset off, from the file or the memory the zip was opened on. */
static mz_status zread(const mz_zip *z, uint64_t off, void *buf, size_t n, mz_error *err)
{
    if (!z->mem)
        return mz_fmt_pread(z->fd, z->path, off, buf, n, err);
    if (off > z->size || n > z->size - off)
        return mz_fail(err, MZ_EFORMAT,
                       "%s: offset %llu: the data ends there (wanted %zu bytes at offset %llu of "
                       "%llu)",
                       z->path, (unsigned long long)(off > z->size ? z->size : off), n,
                       (unsigned long long)off, (unsigned long long)z->size);
    if (n)
        memcpy(buf, z->mem + off, n);
    return MZ_OK;
}

const char *mz_zip_path(const mz_zip *z)
{
    return z->path;
}
int64_t mz_zip_count(const mz_zip *z)
{
    return z->n;
}
const mz_zip_entry *mz_zip_entry_at(const mz_zip *z, int64_t i)
{
    return i >= 0 && i < z->n ? &z->entries[i] : NULL;
}
const mz_zip_entry *mz_zip_find(const mz_zip *z, const char *name)
{
    for (int64_t i = 0; i < z->n; i++)
        if (!strcmp(z->entries[i].name, name))
            return &z->entries[i];
    return NULL;
}

void mz_zip_close(mz_zip *z)
{
    if (!z)
        return;
    if (z->fd >= 0)
        close(z->fd);
    free(z->entries);
    free(z->names);
    free(z->path);
    free(z);
}

/* The end record (and the zip64 one when present): entry count, directory size and offset. */
static mz_status read_end(mz_zip *z, uint64_t *n_entries, uint64_t *cd_size, mz_error *err)
{
    const char *path = z->path;
    if (z->size < 22)
        return mz_fail(err, MZ_EFORMAT,
                       "%s: %llu bytes, too short for a zip file (its end record alone has 22)",
                       path, (unsigned long long)z->size);
    size_t tn = z->size < 22 + 65535 ? (size_t)z->size : 22 + 65535;
    unsigned char *tail = malloc(tn);
    if (!tail)
        return mz_fail(err, MZ_ENOMEM, "%s: out of memory", path);
    uint64_t tail_off = z->size - tn;
    mz_status st = zread(z, tail_off, tail, tn, err);
    long eo = -1;
    for (long i = (long)tn - 22; st == MZ_OK && i >= 0; i--)
        if (mz_get32(tail + i) == SIG_END && (size_t)i + 22 + mz_get16(tail + i + 20) <= tn) {
            eo = i;
            break;
        }
    if (st == MZ_OK && eo < 0)
        st = mz_fail(err, MZ_EFORMAT,
                     "%s: no zip end-of-central-directory record (PK\\5\\6) in the last %zu bytes "
                     "(truncated, or not a zip file)",
                     path, tn);
    if (st != MZ_OK) {
        free(tail);
        return st;
    }
    const unsigned char *e = tail + eo;
    uint64_t end_off = tail_off + (uint64_t)eo, limit = end_off;
    uint64_t disk = mz_get16(e + 4), cd_disk = mz_get16(e + 6), n_disk = mz_get16(e + 8);
    uint64_t n_total = mz_get16(e + 10), size = mz_get32(e + 12), off = mz_get32(e + 16);
    int marked = n_total == 0xffff || n_disk == 0xffff || size == 0xffffffffu ||
                 off == 0xffffffffu || disk == 0xffff || cd_disk == 0xffff;
    free(tail);
    unsigned char loc[20];
    int located = 0;
    if (end_off >= 20) {
        if ((st = zread(z, end_off - 20, loc, 20, err)) != MZ_OK)
            return st;
        located = mz_get32(loc) == SIG_LOCATOR64;
    }
    uint64_t z64 = located ? mz_get64(loc + 8) : 0;
    if (marked && !located)
        return mz_fail(err, MZ_EFORMAT,
                       "%s: offset %llu: the end record needs zip64 values, but no zip64 locator "
                       "(PK\\6\\7) precedes it",
                       path, (unsigned long long)end_off);
    if (located) {
        unsigned char r[56];
        if (end_off < 20 + 56 || z64 > end_off - 20 - 56)
            return mz_fail(err, MZ_EFORMAT,
                           "%s: offset %llu: zip64 locator points to offset %llu, past the room "
                           "before it",
                           path, (unsigned long long)(end_off - 20), (unsigned long long)z64);
        if ((st = zread(z, z64, r, sizeof r, err)) != MZ_OK)
            return st;
        if (mz_get32(r) != SIG_END64)
            return mz_fail(err, MZ_EFORMAT,
                           "%s: offset %llu: expected the zip64 end record (PK\\6\\6)", path,
                           (unsigned long long)z64);
        disk = mz_get32(r + 16);
        cd_disk = mz_get32(r + 20);
        n_disk = mz_get64(r + 24);
        n_total = mz_get64(r + 32);
        size = mz_get64(r + 40);
        off = mz_get64(r + 48);
        limit = z64;
    }
    if (disk != 0 || cd_disk != 0 || n_disk != n_total)
        return mz_fail(err, MZ_EUNSUPPORTED,
                       "%s: offset %llu: a multi-disk zip archive (only one disk is read)", path,
                       (unsigned long long)end_off);
    if (off > limit || size > limit - off)
        return mz_fail(err, MZ_EFORMAT,
                       "%s: offset %llu: the central directory (%llu bytes at offset %llu) runs "
                       "past the end records at offset %llu (truncated file?)",
                       path, (unsigned long long)end_off, (unsigned long long)size,
                       (unsigned long long)off, (unsigned long long)limit);
    if (size > MZ_ZIP_MAX_CDIR)
        return mz_fail(err, MZ_ELIMIT, "%s: central directory of %llu bytes (limit %llu)", path,
                       (unsigned long long)size, (unsigned long long)MZ_ZIP_MAX_CDIR);
    if (n_total > MZ_ZIP_MAX_ENTRIES)
        return mz_fail(err, MZ_ELIMIT, "%s: %llu entries (limit %d)", path,
                       (unsigned long long)n_total, MZ_ZIP_MAX_ENTRIES);
    if (n_total > size / 46)
        return mz_fail(err, MZ_EFORMAT,
                       "%s: offset %llu: %llu entries cannot fit in a central directory of %llu "
                       "bytes (46 or more each)",
                       path, (unsigned long long)end_off, (unsigned long long)n_total,
                       (unsigned long long)size);
    z->cd_off = off;
    *n_entries = n_total;
    *cd_size = size;
    return MZ_OK;
}

/* Replaces the 0xffffffff fields of a central directory entry by their zip64 extra values, which
 * come in the order size, compressed size, offset (each only if its field is 0xffffffff). */
static int zip64_extra(const unsigned char *x, size_t xl, uint64_t *usize, uint64_t *csize,
                       uint64_t *loff)
{
    uint64_t *f[3] = {usize, csize, loff};
    for (size_t q = 0; q + 4 <= xl;) {
        size_t id = mz_get16(x + q), len = mz_get16(x + q + 2);
        if (len > xl - q - 4)
            return -1;
        if (id == 1) {
            size_t r = q + 4, end = q + 4 + len;
            for (int k = 0; k < 3; k++) {
                if (*f[k] != 0xffffffffu)
                    continue;
                if (end - r < 8)
                    return -1;
                *f[k] = mz_get64(x + r);
                r += 8;
            }
            return 0;
        }
        q += 4 + len;
    }
    return 0;
}

static mz_status read_directory(mz_zip *z, uint64_t n, uint64_t cd_size, mz_error *err)
{
    const char *path = z->path;
    unsigned char *cd = malloc(cd_size ? (size_t)cd_size : 1);
    z->entries = calloc(n ? (size_t)n : 1, sizeof *z->entries);
    z->names = malloc((size_t)cd_size + 1);
    if (!cd || !z->entries || !z->names) {
        free(cd);
        return mz_fail(err, MZ_ENOMEM, "%s: out of memory for the zip directory", path);
    }
    mz_status st = zread(z, z->cd_off, cd, (size_t)cd_size, err);
    size_t p = 0, names_at = 0;
    for (uint64_t k = 0; st == MZ_OK && k < n; k++) {
        uint64_t at = z->cd_off + p;
        if (cd_size - p < 46 || mz_get32(cd + p) != SIG_CENTRAL) {
            st =
                mz_fail(err, MZ_EFORMAT,
                        "%s: offset %llu: central directory entry %llu of %llu: expected PK\\1\\2 "
                        "(truncated directory?)",
                        path, (unsigned long long)at, (unsigned long long)k, (unsigned long long)n);
            break;
        }
        const unsigned char *c = cd + p;
        size_t nl = mz_get16(c + 28), xl = mz_get16(c + 30), cl = mz_get16(c + 32);
        if (cd_size - p - 46 < nl + xl + cl) {
            st = mz_fail(err, MZ_EFORMAT,
                         "%s: offset %llu: central directory entry %llu runs past the directory's "
                         "end",
                         path, (unsigned long long)at, (unsigned long long)k);
            break;
        }
        const unsigned char *name = c + 46;
        if (memchr(name, 0, nl)) {
            st = mz_fail(err, MZ_EFORMAT, "%s: offset %llu: entry %llu: name holds a NUL byte",
                         path, (unsigned long long)(at + 46), (unsigned long long)k);
            break;
        }
        mz_zip_entry *e = &z->entries[k];
        memcpy(z->names + names_at, name, nl);
        z->names[names_at + nl] = 0;
        e->name = z->names + names_at;
        names_at += nl + 1;
        e->flags = mz_get16(c + 8);
        e->method = mz_get16(c + 10);
        e->crc32 = mz_get32(c + 16);
        e->csize = mz_get32(c + 20);
        e->size = mz_get32(c + 24);
        e->header_offset = mz_get32(c + 42);
        if (zip64_extra(name + nl, xl, &e->size, &e->csize, &e->header_offset) != 0) {
            st = mz_fail(err, MZ_EFORMAT,
                         "%s: offset %llu: entry %s: malformed extra fields (a zip64 value is "
                         "missing)",
                         path, (unsigned long long)(at + 46 + nl), e->name);
            break;
        }
        if (e->header_offset > z->cd_off || z->cd_off - e->header_offset < 30 ||
            e->csize > z->cd_off - e->header_offset - 30) {
            st = mz_fail(err, MZ_EFORMAT,
                         "%s: offset %llu: entry %s: %llu bytes at offset %llu run into the "
                         "central directory at offset %llu",
                         path, (unsigned long long)at, e->name, (unsigned long long)e->csize,
                         (unsigned long long)e->header_offset, (unsigned long long)z->cd_off);
            break;
        }
        if (e->method == 0 && e->csize != e->size) {
            st = mz_fail(err, MZ_EFORMAT,
                         "%s: offset %llu: stored entry %s has %llu bytes compressed but %llu "
                         "uncompressed (expected equal)",
                         path, (unsigned long long)at, e->name, (unsigned long long)e->csize,
                         (unsigned long long)e->size);
            break;
        }
        p += 46 + nl + xl + cl;
    }
    free(cd);
    if (st == MZ_OK)
        z->n = (int64_t)n;
    return st;
}

static mz_status zip_open(mz_zip **out, const char *path, const void *mem, size_t mem_size,
                          mz_error *err)
{
    *out = NULL;
    mz_zip *z = calloc(1, sizeof *z);
    if (!z)
        return mz_fail(err, MZ_ENOMEM, "%s: out of memory", path);
    z->fd = -1;
    if (!(z->path = mz_strdup(path))) {
        mz_zip_close(z);
        return mz_fail(err, MZ_ENOMEM, "%s: out of memory", path);
    }
    uint64_t n = 0, cd_size = 0;
    mz_status st = MZ_OK;
    if (mem) {
        z->mem = mem;
        z->size = mem_size;
    } else {
        st = mz_fmt_open(path, &z->fd, &z->size, err);
    }
    if (st == MZ_OK)
        st = read_end(z, &n, &cd_size, err);
    if (st == MZ_OK)
        st = read_directory(z, n, cd_size, err);
    if (st != MZ_OK) {
        mz_zip_close(z);
        return st;
    }
    *out = z;
    return MZ_OK;
}

mz_status mz_zip_open(mz_zip **out, const char *path, mz_error *err)
{
    return zip_open(out, path, NULL, 0, err);
}

mz_status mz_zip_open_mem(mz_zip **out, const char *origin, const void *data, size_t size,
                          mz_error *err)
{
    static const unsigned char empty[1];
    return zip_open(out, origin, data ? data : empty, data ? size : 0, err);
}

/* Where entry e's data starts, after checking its local header against the directory. */
static mz_status local_data(mz_zip *z, const mz_zip_entry *e, uint64_t *offset, mz_error *err)
{
    unsigned char lh[30];
    mz_status st = zread(z, e->header_offset, lh, 30, err);
    if (st != MZ_OK)
        return st;
    if (mz_get32(lh) != SIG_LOCAL)
        return mz_fail(err, MZ_EFORMAT,
                       "%s: offset %llu: entry %s: expected a local header (PK\\3\\4)", z->path,
                       (unsigned long long)e->header_offset, e->name);
    size_t nl = mz_get16(lh + 26), xl = mz_get16(lh + 28);
    uint64_t data = e->header_offset + 30 + nl + xl;
    if (data > z->cd_off || e->csize > z->cd_off - data)
        return mz_fail(err, MZ_EFORMAT,
                       "%s: offset %llu: entry %s: its data (%llu bytes at offset %llu) runs into "
                       "the central directory at offset %llu",
                       z->path, (unsigned long long)e->header_offset, e->name,
                       (unsigned long long)e->csize, (unsigned long long)data,
                       (unsigned long long)z->cd_off);
    char name[256];
    int same = nl == strlen(e->name);
    if (same && nl <= sizeof name) {
        if ((st = zread(z, e->header_offset + 30, name, nl, err)) != MZ_OK)
            return st;
        same = !memcmp(name, e->name, nl);
    }
    if (!same)
        return mz_fail(err, MZ_EFORMAT,
                       "%s: offset %llu: entry %s: the local header names another entry", z->path,
                       (unsigned long long)(e->header_offset + 30), e->name);
    *offset = data;
    return MZ_OK;
}

static mz_status check_readable(const mz_zip *z, const mz_zip_entry *e, mz_error *err)
{
    if (e->flags & 1)
        return mz_fail(err, MZ_EUNSUPPORTED, "%s: entry %s is encrypted", z->path, e->name);
    if (e->method != 0 && e->method != 8)
        return mz_fail(err, MZ_EUNSUPPORTED,
                       "%s: entry %s: compression method %u (only 0, stored, and 8, deflated, are "
                       "read)",
                       z->path, e->name, e->method);
    return MZ_OK;
}

mz_status mz_zip_data_offset(mz_zip *z, const mz_zip_entry *e, uint64_t *offset, mz_error *err)
{
    mz_status st = check_readable(z, e, err);
    if (st != MZ_OK)
        return st;
    if (e->method != 0)
        return mz_fail(err, MZ_EUNSUPPORTED, "%s: entry %s is compressed (not stored)", z->path,
                       e->name);
    return local_data(z, e, offset, err);
}

/* Copies the part of out[0..got) (entry bytes from `pos`) inside [skip, skip + n) into buf. */
static void copy_range(const unsigned char *out, size_t got, uint64_t pos, uint64_t skip,
                       unsigned char *buf, size_t n)
{
    uint64_t lo = pos > skip ? pos : skip, hi = pos + got < skip + n ? pos + got : skip + n;
    if (lo < hi)
        memcpy(buf + (lo - skip), out + (lo - pos), (size_t)(hi - lo));
}

static mz_status inflate_entry(mz_zip *z, const mz_zip_entry *e, uint64_t data, uint64_t skip,
                               unsigned char *buf, size_t n, int verify, unsigned char *win,
                               uint32_t *crc, mz_error *err)
{
    unsigned char *in = malloc(CHUNK);
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (!in || inflateInit2(&zs, -MAX_WBITS) != Z_OK) {
        free(in);
        return mz_fail(err, MZ_ENOMEM, "%s: entry %s: cannot start inflating", z->path, e->name);
    }
    mz_status st = MZ_OK;
    uint64_t in_pos = 0, out_pos = 0;
    int zr = Z_OK;
    while (zr != Z_STREAM_END) {
        if (zs.avail_in == 0) {
            if (in_pos == e->csize) {
                st = mz_fail(err, MZ_EFORMAT,
                             "%s: offset %llu: entry %s: the deflate stream ends before its end "
                             "(truncated?)",
                             z->path, (unsigned long long)(data + in_pos), e->name);
                break;
            }
            size_t k = e->csize - in_pos < CHUNK ? (size_t)(e->csize - in_pos) : CHUNK;
            if ((st = zread(z, data + in_pos, in, k, err)) != MZ_OK)
                break;
            in_pos += k;
            zs.next_in = in;
            zs.avail_in = (uInt)k;
        }
        zs.next_out = win;
        zs.avail_out = (uInt)CHUNK;
        zr = inflate(&zs, Z_NO_FLUSH);
        size_t got = CHUNK - zs.avail_out;
        if ((zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR) ||
            (zr == Z_BUF_ERROR && got == 0)) {
            st = mz_fail(err, MZ_EFORMAT, "%s: offset %llu: entry %s: bad deflate data (%s)",
                         z->path, (unsigned long long)(data + in_pos), e->name,
                         zs.msg ? zs.msg : "no progress");
            break;
        }
        if (got > e->size - out_pos) {
            st = mz_fail(err, MZ_EFORMAT,
                         "%s: entry %s: inflates to more than the %llu bytes its directory entry "
                         "says",
                         z->path, e->name, (unsigned long long)e->size);
            break;
        }
        *crc = mz_crc32(*crc, win, got);
        copy_range(win, got, out_pos, skip, buf, n);
        out_pos += got;
        if (!verify && out_pos >= skip + n)
            break;
    }
    if (st == MZ_OK && verify && out_pos != e->size)
        st = mz_fail(err, MZ_EFORMAT,
                     "%s: entry %s: inflates to %llu bytes, but its directory entry says %llu",
                     z->path, e->name, (unsigned long long)out_pos, (unsigned long long)e->size);
    inflateEnd(&zs);
    free(in);
    return st;
}

/* Produces bytes [skip, skip + n) of entry e into buf. With verify, the whole entry is read and
 * its size and CRC-32 checked. */
static mz_status walk(mz_zip *z, const mz_zip_entry *e, uint64_t skip, unsigned char *buf, size_t n,
                      int verify, mz_error *err)
{
    mz_status st = check_readable(z, e, err);
    if (st != MZ_OK)
        return st;
    if (skip > e->size || n > e->size - skip)
        return mz_fail(err, MZ_EINVAL,
                       "%s: entry %s: bytes %llu .. %llu are outside its %llu bytes", z->path,
                       e->name, (unsigned long long)skip, (unsigned long long)(skip + n),
                       (unsigned long long)e->size);
    uint64_t data;
    if ((st = local_data(z, e, &data, err)) != MZ_OK)
        return st;
    unsigned char *win = malloc(CHUNK);
    if (!win)
        return mz_fail(err, MZ_ENOMEM, "%s: out of memory", z->path);
    uint32_t crc = mz_crc32(0, NULL, 0);
    if (e->method == 8) {
        st = inflate_entry(z, e, data, skip, buf, n, verify, win, &crc, err);
    } else {
        uint64_t pos = 0, end = verify ? e->size : skip + n;
        while (st == MZ_OK && pos < end) {
            unsigned char *to;
            size_t k;
            if (pos >= skip && pos < skip + n) { /* the wanted range: straight into buf */
                to = buf + (pos - skip);
                k = (size_t)(skip + n - pos);
            } else {
                uint64_t lim = pos < skip ? skip : end;
                to = win;
                k = lim - pos < CHUNK ? (size_t)(lim - pos) : CHUNK;
            }
            if ((st = zread(z, data + pos, to, k, err)) == MZ_OK)
                crc = mz_crc32(crc, to, k);
            pos += k;
        }
    }
    free(win);
    if (st == MZ_OK && verify && crc != e->crc32)
        st = mz_fail(err, MZ_EFORMAT,
                     "%s: entry %s: CRC-32 of its data is %08x, its directory entry says %08x "
                     "(corrupt data)",
                     z->path, e->name, (unsigned)crc, (unsigned)e->crc32);
    return st;
}

mz_status mz_zip_extract(mz_zip *z, const mz_zip_entry *e, uint64_t skip, void *buf, size_t n,
                         mz_error *err)
{
    return walk(z, e, skip, buf, n, 1, err);
}

mz_status mz_zip_peek(mz_zip *z, const mz_zip_entry *e, void *buf, size_t n, mz_error *err)
{
    return walk(z, e, 0, buf, n, 0, err);
}

mz_status mz_zip_read(mz_zip *z, const mz_zip_entry *e, uint64_t max_bytes, void **data,
                      size_t *size, mz_error *err)
{
    *data = NULL;
    *size = 0;
    if (e->size > max_bytes || e->size >= SIZE_MAX)
        return mz_fail(err, MZ_ELIMIT, "%s: entry %s: %llu bytes, more than the limit of %llu",
                       z->path, e->name, (unsigned long long)e->size,
                       (unsigned long long)max_bytes);
    unsigned char *buf = malloc((size_t)e->size + 1);
    if (!buf)
        return mz_fail(err, MZ_ENOMEM, "%s: entry %s: out of memory for %llu bytes", z->path,
                       e->name, (unsigned long long)e->size);
    mz_status st = walk(z, e, 0, buf, (size_t)e->size, 1, err);
    if (st != MZ_OK) {
        free(buf);
        return st;
    }
    buf[e->size] = 0;
    *data = buf;
    *size = (size_t)e->size;
    return MZ_OK;
}
