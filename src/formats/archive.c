/* Archives read in place: tar (plain or gzip'd) and zip, member by member, through libarchive
 * with mzoo's strict gzip layer (gunzip.c) underneath. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef MZ_HAVE_LIBARCHIVE
#include <archive.h>
#include <archive_entry.h>
#endif

#include "mzoo/formats.h"
#include "core/banned.h"

const char *mz_name_label(const char *name, char buf[MZ_NAME_LABEL])
{
    size_t len = strlen(name);
    if (len < MZ_NAME_LABEL)
        return name;
    snprintf(buf, MZ_NAME_LABEL, "%.64s...(%zu bytes)...%s", name, len, name + len - 96);
    return buf;
}

#ifdef MZ_HAVE_LIBARCHIVE
/* A gzip'd archive is decompressed by our strict gzip reader and handed to libarchive as a plain
 * stream: libarchive's gzip filter does not check the CRC-32 or the length in the gzip trailer
 * (libarchive 3.6/3.7), so one flipped byte in a stored block went unnoticed. */
typedef struct gz_source {
    mz_gz *gz;
    uint8_t *buf;
    size_t cap;
    mz_status st; /* the first error of the gzip layer; its message is in *err */
    mz_error *err;
} gz_source;

static la_ssize_t gz_source_read(struct archive *a, void *client, const void **out)
{
    gz_source *s = client;
    size_t got = 0;
    mz_status st = mz_gz_read(s->gz, s->buf, s->cap, &got, s->err);
    if (st) {
        s->st = st;
        archive_set_error(a, EIO, "gzip data unreadable");
        return -1;
    }
    *out = s->buf;
    return (la_ssize_t)got;
}

/* After libarchive's end of the archive: the rest of the gzip stream (tar padding), its trailer
 * and that nothing follows it. */
static mz_status gz_source_drain(gz_source *s)
{
    size_t got;
    do {
        mz_status st = mz_gz_read(s->gz, s->buf, s->cap, &got, s->err);
        if (st)
            return s->st = st;
    } while (got == s->cap);
    return MZ_OK;
}

/* An error from libarchive: the gzip layer's own message if it caused it. */
static mz_status archive_fail(const gz_source *src, mz_error *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static mz_status archive_fail(const gz_source *src, mz_error *err, const char *fmt, ...)
{
    if (src && src->st)
        return src->st;
    char msg[MZ_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return mz_fail(err, MZ_EFORMAT, "%s", msg);
}

static mz_status read_member(struct archive *a, struct archive_entry *e, const gz_source *src,
                             const char *path, const char *name, size_t max_member, uint8_t **buf,
                             size_t *cap, size_t *len, mz_error *err)
{
    char lb[MZ_NAME_LABEL];
    name = mz_name_label(name, lb); /* only used in messages here */
    size_t n = 0;
    if (archive_entry_size_is_set(e)) {
        int64_t sz = archive_entry_size(e);
        if (sz < 0 || (uint64_t)sz > max_member)
            return mz_fail(err, MZ_ELIMIT, "%s: member %s: %lld bytes, more than the %zu expected",
                           path, name, (long long)sz, max_member);
        if ((size_t)sz + 1 > *cap) {
            uint8_t *nb = realloc(*buf, (size_t)sz + 1);
            if (!nb)
                return mz_fail(err, MZ_ENOMEM, "%s: member %s: out of memory", path, name);
            *buf = nb;
            *cap = (size_t)sz + 1;
        }
    }
    for (;;) {
        if (n == *cap) {
            if (*cap >= max_member)
                return mz_fail(err, MZ_ELIMIT, "%s: member %s: more than the %zu bytes expected",
                               path, name, max_member);
            size_t ncap = *cap ? *cap * 2 : 1 << 16;
            if (ncap > max_member)
                ncap = max_member;
            uint8_t *nb = realloc(*buf, ncap);
            if (!nb)
                return mz_fail(err, MZ_ENOMEM, "%s: member %s: out of memory", path, name);
            *buf = nb;
            *cap = ncap;
        }
        /* Any negative value, ARCHIVE_WARN included, is damage: zip reports a bad CRC-32 or a
         * wrong size of an entry as a warning at its end. */
        la_ssize_t got = archive_read_data(a, *buf + n, *cap - n);
        if (got < 0)
            return archive_fail(src, err,
                                "%s: member %s: corrupt or truncated archive at byte %zu of the "
                                "member (libarchive: %s)",
                                path, name, n, archive_error_string(a));
        if (got == 0)
            break;
        n += (size_t)got;
    }
    if (archive_entry_size_is_set(e) && (int64_t)n != archive_entry_size(e))
        return mz_fail(err, MZ_EFORMAT,
                       "%s: member %s: truncated: %zu of the %lld bytes its header announces", path,
                       name, n, (long long)archive_entry_size(e));
    *len = n;
    return MZ_OK;
}
#endif

mz_status mz_archive_scan(const char *path, mz_archive_want_fn want, mz_archive_take_fn take,
                          void *ctx, size_t max_member, mz_error *err)
{
#ifdef MZ_HAVE_LIBARCHIVE
    gz_source src = {.err = err};
    mz_status st = mz_gz_open(&src.gz, path, 1, err);
    if (st)
        return st;
    int gz = !mz_gz_plain(src.gz);
    struct archive *a = archive_read_new();
    if (!a || (gz && !(src.buf = malloc(src.cap = (size_t)1 << 20)))) {
        if (a)
            archive_read_free(a);
        mz_gz_close(src.gz);
        src.gz = NULL;
        return mz_fail(err, MZ_ENOMEM, "%s: out of memory", path);
    }
    /* Only the formats of the official files, and no decompression filters: "all" would also
     * accept, e.g., an mtree file (whose entries name files on this machine, which libarchive
     * then reads), compressors without checksums, and filters that run external programs. */
    archive_read_support_format_tar(a);
    archive_read_support_format_zip(a);
    archive_read_support_format_empty(a);
    int r;
    if (gz) {
        r = archive_read_open(a, &src, NULL, gz_source_read, NULL);
    } else {
        /* zip (CRC-32 of each entry checked when it is read whole) or a plain tar */
        mz_gz_close(src.gz);
        src.gz = NULL;
        r = archive_read_open_filename(a, path, 1 << 16);
    }
    const char *what = gz ? "of the decompressed archive" : "of the file";
    const char *expected = gz ? "a tar file inside the gzip data" : "a tar.gz or zip file";
    if (r != ARCHIVE_OK) {
        st = archive_fail(&src, err, "%s: not a readable archive (expected %s; libarchive: %s)",
                          path, expected, archive_error_string(a));
        goto done;
    }
    uint8_t *buf = NULL;
    size_t cap = 0;
    int members = 0;
    for (;;) {
        struct archive_entry *e;
        r = archive_read_next_header(a, &e);
        if (r == ARCHIVE_EOF)
            break;
        /* Not only fatal errors: a tar header with a bad checksum is ARCHIVE_RETRY ("Damaged
         * tar archive"), and warnings flag damaged or dubious headers. None occur in the
         * official files. */
        if (r != ARCHIVE_OK) {
            if (members == 0 && r == ARCHIVE_FATAL)
                st = archive_fail(&src, err,
                                  "%s: not a readable archive (expected %s; libarchive: %s)", path,
                                  expected, archive_error_string(a));
            else
                st = archive_fail(&src, err,
                                  "%s: corrupt archive: the header of member %d (at byte %lld %s) "
                                  "is damaged (libarchive: %s)",
                                  path, members + 1, (long long)archive_read_header_position(a),
                                  what, archive_error_string(a));
            break;
        }
        members++;
        if (archive_entry_filetype(e) != AE_IFREG)
            continue;
        const char *name = archive_entry_pathname(e);
        if (!name) {
            st = mz_fail(err, MZ_EFORMAT,
                         "%s: corrupt archive: member %d (header at byte %lld %s) has no "
                         "readable name",
                         path, members, (long long)archive_read_header_position(a), what);
            break;
        }
        if (!want(ctx, name))
            continue;
        /* The whole name, however long: the callbacks match on it, and a cut name could match
         * another member (or none) in take than in want. */
        char *name_copy = strdup(name);
        if (!name_copy) {
            st = mz_fail(err, MZ_ENOMEM, "%s: out of memory", path);
            break;
        }
        size_t len = 0;
        st = read_member(a, e, &src, path, name_copy, max_member, &buf, &cap, &len, err);
        if (!st)
            st = take(ctx, name_copy, buf, len, err);
        free(name_copy);
        if (st)
            break;
    }
    free(buf);
    if (!st && members == 0)
        st = mz_fail(err, MZ_EFORMAT, "%s: the archive is empty (no members%s)", path,
                     gz ? " in the decompressed data" : "");
    if (!st && gz)
        st = gz_source_drain(&src);
done:
    archive_read_free(a);
    mz_gz_close(src.gz);
    src.gz = NULL;
    free(src.buf);
    return st;
#else
    (void)want;
    (void)take;
    (void)ctx;
    (void)max_member;
    return mz_fail(err, MZ_EUNSUPPORTED,
                   "%s: this build has no libarchive (install libarchive-dev "
                   "and rebuild)",
                   path);
#endif
}
