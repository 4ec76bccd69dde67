/* Reading regular files: positioned reads and a capped whole-file read. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/formats-impl.h"
#include "core/banned.h"

mz_status mz_fmt_open(const char *path, int *fd, uint64_t *size, mz_error *err)
{
    *fd = -1;
    *size = 0;
    /* O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below. */
    int f = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (f < 0)
        return mz_fail(err,
                       errno == ENOENT         ? MZ_ENOTFOUND
                       : errno == ENAMETOOLONG ? MZ_ELIMIT
                                               : MZ_EIO,
                       "%s: cannot open (%s)", path, strerror(errno));
    struct stat sb;
    if (fstat(f, &sb) != 0) {
        int e = errno;
        close(f);
        return mz_fail(err, MZ_EIO, "%s: cannot stat (%s)", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(f);
        return mz_fail(err, MZ_EFORMAT, "%s: not a regular file", path);
    }
    *fd = f;
    *size = (uint64_t)sb.st_size;
    return MZ_OK;
}

mz_status mz_fmt_pread(int fd, const char *path, uint64_t off, void *buf, size_t n, mz_error *err)
{
    unsigned char *p = buf;
    size_t got = 0;
    if (off > (uint64_t)INT64_MAX || n > (uint64_t)INT64_MAX - off)
        return mz_fail(err, MZ_EFORMAT, "%s: offset %llu: beyond any file", path,
                       (unsigned long long)off);
    while (got < n) {
        size_t want = n - got > ((size_t)1 << 30) ? (size_t)1 << 30 : n - got;
        ssize_t r = pread(fd, p + got, want, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return mz_fail(err, MZ_EIO, "%s: offset %llu: read failed (%s)", path,
                           (unsigned long long)(off + got), strerror(errno));
        if (r == 0)
            return mz_fail(err, MZ_EFORMAT,
                           "%s: offset %llu: the file ends there (wanted %zu bytes at offset %llu)",
                           path, (unsigned long long)(off + got), n, (unsigned long long)off);
        got += (size_t)r;
    }
    return MZ_OK;
}

mz_status mz_read_file(const char *path, uint64_t max_bytes, void **data, size_t *size,
                       mz_error *err)
{
    *data = NULL;
    *size = 0;
    int fd;
    uint64_t n;
    mz_status st = mz_fmt_open(path, &fd, &n, err);
    if (st != MZ_OK)
        return st;
    if (n > max_bytes || n >= SIZE_MAX) {
        close(fd);
        return mz_fail(err, MZ_ELIMIT, "%s: %llu bytes, more than the limit of %llu for this file",
                       path, (unsigned long long)n, (unsigned long long)max_bytes);
    }
    unsigned char *buf = malloc((size_t)n + 1);
    if (!buf) {
        close(fd);
        return mz_fail(err, MZ_ENOMEM, "%s: out of memory for %llu bytes", path,
                       (unsigned long long)n);
    }
    st = mz_fmt_pread(fd, path, 0, buf, (size_t)n, err);
    close(fd);
    if (st != MZ_OK) {
        free(buf);
        return st;
    }
    buf[n] = 0;
    *data = buf;
    *size = (size_t)n;
    return MZ_OK;
}
