/* The files of a dataset directory, through src/formats (see arrays-impl.h). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "loader/arrays-impl.h"
#include "core/banned.h"

const char *mz_format_file(unsigned format)
{
    switch (format) {
    case MZ_FMT_NPZ:
        return "dataset.npz";
    case MZ_FMT_SAFETENSORS:
        return "dataset.safetensors";
    case MZ_FMT_NPY:
        return "<array>.npy";
    default:
        return "?";
    }
}

/* The container format and path of a dataset directory's arrays. */
static mz_status container(unsigned format, const char *dir, mz_afmt *fmt, char *path, size_t cap,
                           mz_error *err)
{
    switch (format) {
    case MZ_FMT_NPZ:
        *fmt = MZ_AFMT_NPZ;
        return mz_path_join(path, cap, dir, "dataset.npz", err);
    case MZ_FMT_SAFETENSORS:
        *fmt = MZ_AFMT_SAFETENSORS;
        return mz_path_join(path, cap, dir, "dataset.safetensors", err);
    case MZ_FMT_NPY:
        *fmt = MZ_AFMT_NPY;
        if (strlen(dir) >= cap)
            return mz_fail(err, MZ_ELIMIT,
                           "%.48s...: path of %zu bytes is longer than the limit of %zu", dir,
                           strlen(dir), cap - 1);
        snprintf(path, cap, "%s", dir);
        return MZ_OK;
    default:
        return mz_fail(err, MZ_EINVAL, "unknown array format %u", format);
    }
}

mz_status mz_dataset_sink_open(mz_asink **out, unsigned format, const char *dir,
                               const mz_array_desc *arrays, int n, const char *const *meta_kv,
                               int n_meta, mz_error *err)
{
    *out = NULL;
    char path[MZ_PATH_MAX];
    mz_afmt fmt = MZ_AFMT_NPZ;
    mz_status st = container(format, dir, &fmt, path, sizeof path, err);
    if (st != MZ_OK)
        return st;
    return mz_asink_open(out, fmt, path, arrays, n, meta_kv, n_meta, err);
}

mz_status mz_dataset_arrays_open(mz_areader **out, const char *dir, unsigned format, mz_error *err)
{
    *out = NULL;
    char path[MZ_PATH_MAX];
    mz_afmt fmt = MZ_AFMT_NPZ;
    mz_status st = container(format, dir, &fmt, path, sizeof path, err);
    if (st != MZ_OK)
        return st;
    return mz_areader_open(out, fmt, path, err);
}

mz_status mz_dataset_array_find(mz_areader *r, mz_array_desc *want, mz_error *err)
{
    mz_array_desc got;
    mz_status st = mz_areader_find(r, want->name, &got, err);
    if (st != MZ_OK)
        return st;
    if (got.dtype != want->dtype || got.ndim != want->ndim) {
        char origin[MZ_PATH_MAX + 96];
        return mz_fail(err, MZ_EFORMAT,
                       "%s: array %s has dtype %s with %d dimensions (expected %s with %d)",
                       mz_areader_origin(r, want->name, origin, sizeof origin), want->name,
                       mz_dtype_name(got.dtype), got.ndim, mz_dtype_name(want->dtype), want->ndim);
    }
    memcpy(want->shape, got.shape, sizeof got.shape);
    return MZ_OK;
}

mz_status mz_array_read(const char *dir, unsigned format, const char *name, mz_array_desc *want,
                        void **data, mz_error *err)
{
    *data = NULL;
    size_t nl = strlen(name);
    if (nl >= sizeof want->name)
        return mz_fail(err, MZ_EINVAL, "%s: array name of %zu bytes (limit %zu)", dir, nl,
                       sizeof want->name - 1);
    memcpy(want->name, name, nl + 1);
    mz_areader *r;
    mz_status st = mz_dataset_arrays_open(&r, dir, format, err);
    if (st != MZ_OK)
        return st;
    st = mz_dataset_array_find(r, want, err);
    int64_t bytes = mz_array_bytes(want);
    if (st == MZ_OK && !(*data = malloc(bytes ? (size_t)bytes : 1)))
        st = mz_fail(err, MZ_ENOMEM, "%s: out of memory for array %s (%lld bytes)", dir, name,
                     (long long)bytes);
    if (st == MZ_OK)
        st = mz_areader_read(r, name, *data, (size_t)bytes, err);
    if (st != MZ_OK) {
        free(*data);
        *data = NULL;
    }
    mz_areader_close(r);
    return st;
}

mz_status mz_dataset_json_load(const char *path, uint64_t max_bytes, json_t **out, mz_error *err)
{
    *out = NULL;
    void *text;
    size_t n;
    mz_status st = mz_read_file(path, max_bytes, &text, &n, err);
    if (st != MZ_OK)
        return st;
    json_error_t je;
    *out = json_loadb(text, n, 0, &je);
    free(text);
    if (!*out)
        return mz_fail(err, MZ_EFORMAT, "%s: line %d, column %d (offset %d): bad JSON: %s", path,
                       je.line, je.column, je.position, je.text);
    return MZ_OK;
}
