/* Status codes and error messages. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mzoo/core.h"
#include "core/banned.h"

const char *mz_strerror(mz_status s)
{
    switch (s) {
    case MZ_OK: return "success";
    case MZ_ENOMEM: return "out of memory";
    case MZ_EINVAL: return "invalid argument";
    case MZ_EIO: return "input/output error";
    case MZ_EFORMAT: return "malformed input";
    case MZ_ESPEC: return "invalid zoo spec";
    case MZ_ESTORE: return "zoo store error";
    case MZ_EBUSY: return "zoo file is locked";
    case MZ_ENOSPC: return "no space left on device";
    case MZ_EREADONLY: return "not writable";
    case MZ_EMISMATCH: return "zoo file was made from a different spec";
    case MZ_ENOTFOUND: return "not found";
    case MZ_EDIVERGED: return "model diverged";
    case MZ_EUNSUPPORTED: return "not supported";
    case MZ_EINTERRUPTED: return "interrupted";
    case MZ_ELIMIT: return "size limit exceeded";
    }
    return "unknown error";
}

mz_status mz_fail(mz_error *err, mz_status code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
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
    snprintf(err->msg, sizeof err->msg, "%.500s: %.*s", prefix, (int)(sizeof old - 504), old);
    return err->code;
}

void mz_error_clear(mz_error *err)
{
    if (err) {
        err->code = MZ_OK;
        err->msg[0] = '\0';
    }
}
