/* Status codes and error messages. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mzoo/core.h"
#include "core/banned.h"

const char *mz_strerror(mz_status s)
{
    switch (s) {
    case MZ_OK:
        return "success";
    case MZ_ENOMEM:
        return "out of memory";
    case MZ_EINVAL:
        return "invalid argument";
    case MZ_EIO:
        return "input/output error";
    case MZ_EFORMAT:
        return "malformed input";
    case MZ_ESPEC:
        return "invalid zoo spec";
    case MZ_ESTORE:
        return "zoo store error";
    case MZ_EBUSY:
        return "zoo file is locked";
    case MZ_ENOSPC:
        return "no space left on device";
    case MZ_EREADONLY:
        return "not writable";
    case MZ_EMISMATCH:
        return "zoo file was made from a different spec";
    case MZ_ENOTFOUND:
        return "not found";
    case MZ_EDIVERGED:
        return "model diverged";
    case MZ_EUNSUPPORTED:
        return "not supported";
    case MZ_EINTERRUPTED:
        return "interrupted";
    case MZ_ELIMIT:
        return "size limit exceeded";
    }
    return "unknown error";
}

/* Length of the valid UTF-8 sequence at s encoding a code point >= U+00A0, or 0. */
static size_t utf8_printable(const unsigned char *s)
{
    unsigned c = s[0];
    size_t n;
    unsigned cp;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4, cp = c & 0x07;
    else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    static const unsigned min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp < 0xa0)
        return 0;
    return n;
}

char *mz_escape(char *dst, size_t cap, const char *src)
{
    if (cap == 0)
        return dst;
    const unsigned char *s = (const unsigned char *)(src ? src : "");
    size_t o = 0;
    while (*s) {
        char tmp[5];
        const char *piece = (const char *)s;
        size_t adv = *s >= 0x80 ? utf8_printable(s) : (*s >= 0x20 && *s < 0x7f);
        size_t n = adv;
        if (!adv) {
            if (*s == '\n' || *s == '\r' || *s == '\t')
                snprintf(tmp, sizeof tmp, "\\%c", *s == '\n' ? 'n' : *s == '\r' ? 'r' : 't');
            else
                snprintf(tmp, sizeof tmp, "\\x%02x", *s);
            piece = tmp, n = strlen(tmp), adv = 1;
        }
        if (o + n >= cap)
            break;
        memcpy(dst + o, piece, n);
        o += n;
        s += adv;
    }
    dst[o] = 0;
    return dst;
}

mz_status mz_fail(mz_error *err, mz_status code, const char *fmt, ...)
{
    if (err) {
        char raw[MZ_ERROR_MSG_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(raw, sizeof raw, fmt, ap);
        va_end(ap);
        mz_escape(err->msg, sizeof err->msg, raw);
        err->code = code;
    }
    return code;
}

mz_status mz_error_prefix(mz_error *err, const char *fmt, ...)
{
    if (!err)
        return MZ_OK;
    char prefix[512], old[MZ_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    char raw[MZ_ERROR_MSG_MAX];
    snprintf(raw, sizeof raw, "%.500s: %.*s", prefix, (int)(sizeof old - 504), old);
    /* the old message is escaped already, and escaping is idempotent */
    mz_escape(err->msg, sizeof err->msg, raw);
    return err->code;
}

void mz_error_clear(mz_error *err)
{
    if (err) {
        err->code = MZ_OK;
        err->msg[0] = '\0';
    }
}

void mz_assert_fail(const char *cond, const char *file, int line)
{
    fprintf(stderr, "mzoo: %s:%d: invariant failed: %s (a bug in mzoo: please report it)\n", file,
            line, cond);
    abort();
}
