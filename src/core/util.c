/* Small utilities: clock, hashing, allocation, checked arithmetic, paths. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libdeflate.h>

#include "mzoo/core.h"
#include "core/banned.h"

double mz_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

uint64_t mz_hash64(const void *data, size_t n)
{
    const unsigned char *p = data;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

char *mz_strdup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* A decimal of at most 15 significant digits that reads back as v is what %.15g prints (with
 * its trailing zeros dropped): doubles carry more than 15 digits, so rounding v to 15 digits
 * lands on that decimal. Only when %.15g does not read back does a 16th or 17th digit help.
 * Fixed precisions keep printf off its slow path for '*' arguments. */
char *mz_format_double(char *buf, size_t cap, double v)
{
    snprintf(buf, cap, "%.15g", v);
    if (strtod(buf, NULL) == v || isnan(v))
        return buf;
    snprintf(buf, cap, "%.16g", v);
    if (strtod(buf, NULL) == v)
        return buf;
    snprintf(buf, cap, "%.17g", v);
    return buf;
}

uint32_t mz_crc32(uint32_t crc, const void *data, size_t n)
{
    if (n == 0) /* libdeflate answers 0 (a new CRC) for a NULL buffer, whatever crc was */
        return crc;
    return libdeflate_crc32(crc, data, n);
}

void *mz_alloc_aligned(size_t bytes)
{
    void *p = NULL;
    if (bytes == 0)
        bytes = 64;
    bytes = (bytes + 63) & ~(size_t)63;
    if (posix_memalign(&p, 64, bytes) != 0)
        return NULL;
    return p;
}

void mz_free_aligned(void *p)
{
    free(p);
}

char *mz_shape_json(const mz_tensor_desc *t, char *buf, size_t cap)
{
    size_t len = 0;
    if (cap == 0)
        return buf;
    buf[0] = '\0';
    len += (size_t)snprintf(buf + len, cap - len, "[");
    for (int d = 0; d < t->ndim && len < cap; d++)
        len += (size_t)snprintf(buf + len, cap - len, d ? ",%lld" : "%lld", (long long)t->shape[d]);
    if (len < cap)
        snprintf(buf + len, cap - len, "]");
    return buf;
}

int mz_mul_overflow_i64(int64_t a, int64_t b, int64_t *out)
{
    int over;
    if (a == 0 || b == 0)
        over = 0;
    else if (a > 0)
        over = b > 0 ? a > INT64_MAX / b : b < INT64_MIN / a;
    else
        over = b > 0 ? a < INT64_MIN / b : a < INT64_MAX / b;
    *out = over ? 0 : a * b;
    return over;
}

int mz_add_overflow_i64(int64_t a, int64_t b, int64_t *out)
{
    int over = b > 0 ? a > INT64_MAX - b : a < INT64_MIN - b;
    *out = over ? 0 : a + b;
    return over;
}

int mz_mul_overflow_u64(uint64_t a, uint64_t b, uint64_t *out)
{
    int over = a != 0 && b > UINT64_MAX / a;
    *out = over ? 0 : a * b;
    return over;
}

int mz_add_overflow_u64(uint64_t a, uint64_t b, uint64_t *out)
{
    int over = b > UINT64_MAX - a;
    *out = over ? 0 : a + b;
    return over;
}

mz_status mz_path_join(char *buf, size_t cap, const char *dir, const char *name, mz_error *err)
{
    size_t nd = strlen(dir), nn = strlen(name);
    if (cap == 0 || nd >= cap || nn >= cap - nd - 1) {
        if (cap)
            buf[0] = 0;
        return mz_fail(err, MZ_ELIMIT,
                       "%.48s...: path of %zu bytes is longer than the limit of %zu", dir,
                       nd + 1 + nn, cap ? cap - 1 : 0);
    }
    memcpy(buf, dir, nd);
    buf[nd] = '/';
    memcpy(buf + nd + 1, name, nn + 1);
    return MZ_OK;
}
