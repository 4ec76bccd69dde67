/* JSON text as mzoo writes it: jansson's, with reals in their shortest round-trip form. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "mzoo/formats.h"
#include "core/banned.h"

/* Rewrites every real number of JSON text (outside strings) in its shortest form that reads back
 * to the same double, keeping a '.' or an exponent so that it stays a real. */
static char *shortest_reals(const char *in)
{
    size_t n = strlen(in);
    char *out = malloc(2 * n + 32), *o = out;
    if (!out)
        return NULL;
    int in_str = 0;
    for (const char *p = in; *p;) {
        if (in_str) {
            if (*p == '\\' && p[1])
                *o++ = *p++;
            else if (*p == '"')
                in_str = 0;
            *o++ = *p++;
        } else if (*p == '"') {
            in_str = 1;
            *o++ = *p++;
        } else if (*p == '-' || (*p >= '0' && *p <= '9')) {
            size_t len = strspn(p, "+-0123456789.eE");
            int real = memchr(p, '.', len) || memchr(p, 'e', len) || memchr(p, 'E', len);
            char tok[64];
            if (!real || len >= sizeof tok) {
                memcpy(o, p, len), o += len;
            } else {
                memcpy(tok, p, len);
                tok[len] = 0;
                char buf[40];
                mz_format_double(buf, sizeof buf, strtod(tok, NULL));
                if (!strpbrk(buf, ".eEni")) /* "3" -> "3.0"; jansson never prints inf/nan */
                    snprintf(buf + strlen(buf), sizeof buf - strlen(buf), ".0");
                size_t bl = strlen(buf);
                memcpy(o, buf, bl), o += bl;
            }
            p += len;
        } else {
            *o++ = *p++;
        }
    }
    *o = 0;
    return out;
}

char *mz_json_dumps(const struct json_t *root, size_t flags)
{
    char *text =
        json_dumps(root, (flags & ~(size_t)JSON_REAL_PRECISION(31)) | JSON_REAL_PRECISION(17));
    char *s = text ? shortest_reals(text) : NULL;
    free(text);
    return s;
}

int mz_json_dump_file(const struct json_t *root, const char *path, size_t flags)
{
    char *s = mz_json_dumps(root, flags);
    if (!s) {
        errno = ENOMEM;
        return -1;
    }
    FILE *f = fopen(path, "w");
    int rc = -1;
    if (f) {
        size_t n = strlen(s);
        rc = fwrite(s, 1, n, f) == n && fputc('\n', f) != EOF ? 0 : -1;
        int e = errno;
        if (fclose(f) != 0 && rc == 0)
            rc = -1;
        else
            errno = e;
    }
    free(s);
    return rc;
}
