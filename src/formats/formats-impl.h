/* Private to src/formats: little-endian fields and positioned reads of regular files. */
#ifndef MZ_FORMATS_IMPL_H
#define MZ_FORMATS_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "mzoo/formats.h"

static inline void mz_put16(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}
static inline void mz_put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}
static inline void mz_put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}
static inline uint32_t mz_get16(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}
static inline uint32_t mz_get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t mz_get64(const unsigned char *p)
{
    return (uint64_t)mz_get32(p) | (uint64_t)mz_get32(p + 4) << 32;
}

/* Opens a regular file for reading (anything else, such as a directory or a FIFO, is refused
 * without blocking): its descriptor and size. */
mz_status mz_fmt_open(const char *path, int *fd, uint64_t *size, mz_error *err);
/* Exactly n bytes at offset off: MZ_EFORMAT naming the offset when the file ends first, MZ_EIO on
 * a read error. */
mz_status mz_fmt_pread(int fd, const char *path, uint64_t off, void *buf, size_t n, mz_error *err);
/* Checks a descriptor parsed from `origin`: each dimension in [0, MZ_ARRAY_DIM_MAX] and the byte
 * count within int64; MZ_EFORMAT naming the dimension otherwise. `where` precedes the field in the
 * message ("offset 10: ", "header: "). */
mz_status mz_fmt_check_shape(const mz_array_desc *a, const char *origin, const char *where,
                             mz_error *err);

#endif
