/* Strict streaming gzip reader: see gunzip-impl.h. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "formats/gunzip-impl.h"
#include "core/banned.h"

#define GZ_IN_BUF ((size_t)1 << 18)

uint64_t mz_gz_offset(const mz_gz *g)
{
    return g->in_off + (uint64_t)(g->z.next_in - g->in);
}

/* Makes at least `want` unread bytes available in the buffer if the file has them (want <=
 * in_cap): keeps the unread ones, moves them to the front, reads more. *eof = the file has fewer.
 */
static mz_status fill(mz_gz *g, size_t want, int *eof, mz_error *err)
{
    *eof = 0;
    if (g->z.avail_in >= want)
        return MZ_OK;
    size_t keep = g->z.avail_in;
    g->in_off = mz_gz_offset(g);
    if (keep)
        memmove(g->in, g->z.next_in, keep);
    g->z.next_in = g->in;
    while (keep < want) {
        size_t got = fread(g->in + keep, 1, g->in_cap - keep, g->f);
        keep += got;
        if (got == 0) {
            if (ferror(g->f)) {
                g->z.avail_in = (uInt)keep;
                return mz_fail(err, MZ_EIO, "%s: read error at byte %llu: %s", g->path,
                               (unsigned long long)(g->in_off + keep), strerror(errno));
            }
            *eof = 1;
            break;
        }
    }
    g->z.avail_in = (uInt)keep;
    return MZ_OK;
}

static mz_status gz_start(mz_gz *g, const char *path, int allow_plain, mz_error *err);

static void gz_release(mz_gz *g)
{
    if (g->z_live)
        inflateEnd(&g->z);
    if (g->f)
        fclose(g->f);
    free(g->in);
    free(g);
}

mz_status mz_gz_open(mz_gz **out, const char *path, int allow_plain, mz_error *err)
{
    *out = NULL;
    mz_gz *g = calloc(1, sizeof *g);
    if (!g)
        return mz_fail(err, MZ_ENOMEM, "%s: out of memory", path);
    mz_status s = gz_start(g, path, allow_plain, err);
    if (s != MZ_OK) {
        gz_release(g);
        return s;
    }
    *out = g;
    return MZ_OK;
}

int mz_gz_plain(const mz_gz *g)
{
    return g->plain;
}

/* Opens the file and looks at its first bytes; on failure the caller releases g. */
static mz_status gz_start(mz_gz *g, const char *path, int allow_plain, mz_error *err)
{
    g->path = path;
    errno = 0;
    g->f = fopen(path, "rb");
    if (!g->f) {
        if (errno == ENOENT)
            return mz_fail(err, MZ_ENOTFOUND, "%s: not found", path);
        return mz_fail(err, MZ_EIO, "%s: cannot open: %s", path, strerror(errno));
    }
    struct stat st;
    if (fstat(fileno(g->f), &st) == 0 && S_ISREG(st.st_mode))
        g->file_size = (uint64_t)st.st_size;
    g->in_cap = GZ_IN_BUF;
    g->in = malloc(g->in_cap);
    if (!g->in) {
        return mz_fail(err, MZ_ENOMEM, "%s: out of memory", path);
    }
    g->z.next_in = g->in;
    int eof;
    mz_status s = fill(g, 2, &eof, err);
    if (s) {
        return s;
    }
    if (g->z.avail_in < 2 || g->in[0] != 0x1f || g->in[1] != 0x8b) {
        if (!allow_plain) {
            return mz_fail(err, MZ_EFORMAT,
                           "%s: byte 0: not a gzip file (expected the gzip magic 1f 8b)", path);
        }
        g->plain = 1;
        return MZ_OK;
    }
    /* 15 + 16: a gzip wrapper, whose CRC-32 and length zlib checks at the member's end. */
    if (inflateInit2(&g->z, 15 + 16) != Z_OK) {
        return mz_fail(err, MZ_ENOMEM, "%s: cannot start gzip decompression (out of memory)", path);
    }
    g->z_live = 1;
    g->members = 1;
    return MZ_OK;
}

void mz_gz_close(mz_gz *g)
{
    if (g)
        gz_release(g);
}

static mz_status fail(mz_gz *g, mz_status st)
{
    g->failed = st;
    return st;
}

/* At the end of a member (zlib verified its trailer): another member, the end of the file, or an
 * error for whatever else follows. */
static mz_status after_member(mz_gz *g, mz_error *err)
{
    int eof;
    mz_status st = fill(g, 2, &eof, err);
    if (st)
        return fail(g, st);
    uint64_t at = mz_gz_offset(g);
    if (g->z.avail_in == 0) {
        g->ended = 1;
        return MZ_OK;
    }
    if (g->z.avail_in >= 2 && g->z.next_in[0] == 0x1f && g->z.next_in[1] == 0x8b) {
        inflateReset(&g->z);
        g->member_start = at;
        g->members++;
        return MZ_OK;
    }
    return fail(g,
                mz_fail(err, MZ_EFORMAT,
                        "%s: byte %llu of the file: %llu bytes of unexpected data after the "
                        "end of gzip member %lld (expected the end of the file or another gzip "
                        "member, which starts with 1f 8b; found %02x%s)",
                        g->path, (unsigned long long)at,
                        (unsigned long long)(g->file_size > at ? g->file_size - at : g->z.avail_in),
                        (long long)g->members, g->z.next_in[0], g->z.avail_in >= 2 ? " ..." : ""));
}

static mz_status inflate_error(mz_gz *g, int r, mz_error *err)
{
    uint64_t at = mz_gz_offset(g);
    const char *msg = g->z.msg ? g->z.msg : "zlib error";
    if (r == Z_MEM_ERROR)
        return fail(g, mz_fail(err, MZ_ENOMEM, "%s: out of memory while decompressing", g->path));
    /* zlib has just read the 4-byte field it complains about. */
    if (strcmp(msg, "incorrect data check") == 0 || strcmp(msg, "incorrect length check") == 0) {
        int crc = msg[10] == 'd';
        return fail(g, mz_fail(err, MZ_EFORMAT,
                               "%s: byte %llu of the file: the %s in the trailer of gzip member "
                               "%lld (which starts at byte %llu) does not match its %llu "
                               "decompressed bytes (zlib: %s): the file is damaged",
                               g->path, (unsigned long long)(at - 4), crc ? "CRC-32" : "length",
                               (long long)g->members, (unsigned long long)g->member_start,
                               (unsigned long long)g->z.total_out, msg));
    }
    return fail(g, mz_fail(err, MZ_EFORMAT,
                           "%s: corrupt gzip data in member %lld (which starts at byte %llu): %s, "
                           "detected at byte %llu of the file after %llu decompressed bytes of "
                           "the member",
                           g->path, (long long)g->members, (unsigned long long)g->member_start, msg,
                           (unsigned long long)at, (unsigned long long)g->z.total_out));
}

mz_status mz_gz_read(mz_gz *g, void *buf, size_t n, size_t *got, mz_error *err)
{
    uint8_t *out = buf;
    size_t done = 0;
    *got = 0;
    if (g->failed) /* the message of the first failure stays in err */
        return g->failed;
    while (done < n && !g->ended) {
        mz_status st;
        int eof;
        if (g->z.avail_in == 0 && (st = fill(g, 1, &eof, err)))
            return fail(g, st);
        if (g->plain) {
            if (g->z.avail_in == 0) {
                g->ended = 1;
                break;
            }
            size_t k = n - done < g->z.avail_in ? n - done : g->z.avail_in;
            memcpy(out + done, g->z.next_in, k);
            g->z.next_in += k;
            g->z.avail_in -= (uInt)k;
            done += k;
            g->out += k;
            continue;
        }
        if (g->z.avail_in == 0)
            return fail(g, mz_fail(err, MZ_EFORMAT,
                                   "%s: truncated gzip data: the file ends at byte %llu, inside "
                                   "gzip member %lld (which starts at byte %llu), after %llu "
                                   "decompressed bytes of it (the rest of its deflate data or its "
                                   "8-byte trailer of CRC-32 and length is missing)",
                                   g->path, (unsigned long long)mz_gz_offset(g),
                                   (long long)g->members, (unsigned long long)g->member_start,
                                   (unsigned long long)g->z.total_out));
        size_t room = n - done;
        g->z.next_out = out + done;
        g->z.avail_out = room > UINT_MAX ? UINT_MAX : (uInt)room;
        uInt before = g->z.avail_out;
        int r = inflate(&g->z, Z_NO_FLUSH);
        done += before - g->z.avail_out;
        g->out += before - g->z.avail_out;
        if (r == Z_STREAM_END) {
            if ((st = after_member(g, err)))
                return st;
        } else if (r != Z_OK && r != Z_BUF_ERROR) {
            return inflate_error(g, r, err);
        }
        /* Z_BUF_ERROR: no progress possible without more input; the loop reads more. */
    }
    *got = done;
    return MZ_OK;
}
