/* Element types and array descriptors. */
#include <stdio.h>
#include <string.h>

#include "formats/formats-impl.h"
#include "core/banned.h"

static const mz_dtype_info dtypes[MZ_DT_COUNT] = {
    [MZ_DT_F32] = {"float32", "<f4", "F32", 4},   [MZ_DT_I64] = {"int64", "<i8", "I64", 8},
    [MZ_DT_F64] = {"float64", "<f8", "F64", 8},   [MZ_DT_F16] = {"float16", "<f2", "F16", 2},
    [MZ_DT_BF16] = {"bfloat16", NULL, "BF16", 2}, [MZ_DT_I32] = {"int32", "<i4", "I32", 4},
    [MZ_DT_I16] = {"int16", "<i2", "I16", 2},     [MZ_DT_I8] = {"int8", "|i1", "I8", 1},
    [MZ_DT_U8] = {"uint8", "|u1", "U8", 1},       [MZ_DT_BOOL] = {"bool", "|b1", "BOOL", 1},
};

const mz_dtype_info *mz_dtype_get(mz_dtype t)
{
    return (unsigned)t < MZ_DT_COUNT ? &dtypes[t] : NULL;
}

size_t mz_dtype_size(mz_dtype t)
{
    return (unsigned)t < MZ_DT_COUNT ? dtypes[t].size : 0;
}

const char *mz_dtype_name(mz_dtype t)
{
    return (unsigned)t < MZ_DT_COUNT ? dtypes[t].name : "?";
}

int mz_dtype_from_npy(const char *descr, size_t len, mz_dtype *out)
{
    for (int t = 0; t < MZ_DT_COUNT; t++)
        if (dtypes[t].npy && strlen(dtypes[t].npy) == len && !memcmp(dtypes[t].npy, descr, len)) {
            *out = (mz_dtype)t;
            return 1;
        }
    return 0;
}

int mz_dtype_from_safetensors(const char *s, mz_dtype *out)
{
    for (int t = 0; t < MZ_DT_COUNT; t++)
        if (!strcmp(dtypes[t].safetensors, s)) {
            *out = (mz_dtype)t;
            return 1;
        }
    return 0;
}

int64_t mz_array_count(const mz_array_desc *a)
{
    if (a->ndim < 0 || a->ndim > MZ_ARRAY_MAX_DIMS)
        return -1;
    int64_t n = 1;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] < 0 || a->shape[i] > MZ_ARRAY_DIM_MAX ||
            mz_mul_overflow_i64(n, a->shape[i], &n))
            return -1;
    return n;
}

int64_t mz_array_bytes(const mz_array_desc *a)
{
    int64_t n = mz_array_count(a), b;
    size_t size = mz_dtype_size(a->dtype);
    if (n < 0 || size == 0 || mz_mul_overflow_i64(n, (int64_t)size, &b))
        return -1;
    return b;
}

char *mz_array_shape_str(const mz_array_desc *a, char *buf, size_t cap)
{
    if (cap == 0)
        return buf;
    int nd = a->ndim < 0 ? 0 : a->ndim > MZ_ARRAY_MAX_DIMS ? MZ_ARRAY_MAX_DIMS : a->ndim;
    size_t at = 0;
    buf[0] = 0;
    for (int i = -1; i <= nd && at < cap; i++) {
        int w;
        if (i < 0)
            w = snprintf(buf + at, cap - at, "(");
        else if (i == nd)
            w = snprintf(buf + at, cap - at, nd == 1 ? ",)" : ")");
        else
            w = snprintf(buf + at, cap - at, i ? ", %lld" : "%lld", (long long)a->shape[i]);
        if (w < 0)
            break;
        at += (size_t)w;
    }
    return buf;
}

mz_status mz_fmt_check_shape(const mz_array_desc *a, const char *origin, const char *where,
                             mz_error *err)
{
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] < 0 || a->shape[i] > MZ_ARRAY_DIM_MAX)
            return mz_fail(err, MZ_EFORMAT,
                           "%s: %sshape[%d] = %lld (expected 0 .. %lld elements per dimension)",
                           origin, where, i, (long long)a->shape[i], (long long)MZ_ARRAY_DIM_MAX);
    if (mz_array_bytes(a) < 0) {
        char sh[200];
        return mz_fail(err, MZ_EFORMAT, "%s: %sshape %s of %s: the byte count overflows int64",
                       origin, where, mz_array_shape_str(a, sh, sizeof sh),
                       mz_dtype_name(a->dtype));
    }
    return MZ_OK;
}
