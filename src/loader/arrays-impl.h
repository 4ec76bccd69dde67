/* Array files Python reads directly: .npy, .npz (stored zip, zip64 when needed) and safetensors.
 * Little-endian data (the only byte order mzoo builds for). Private to src/loader. */
#ifndef MZ_LOADER_ARRAYS_IMPL_H
#define MZ_LOADER_ARRAYS_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "mzoo/core.h"

typedef enum mz_dtype { MZ_DT_F32 = 0, MZ_DT_I64 = 1 } mz_dtype;
size_t mz_dtype_size(mz_dtype t);

typedef struct mz_array_desc {
    char name[64]; /* "x_train"; files add ".npy" */
    mz_dtype dtype;
    int ndim; /* 1 or 2 */
    int64_t shape[2];
} mz_array_desc;
int64_t mz_array_bytes(const mz_array_desc *a);

/* The .npy v1.0 header for a C-order array (padded so the data starts at a multiple of 64).
 * Returns its length, or 0 if cap is too small. */
size_t mz_npy_header(char *buf, size_t cap, const mz_array_desc *a);
/* Parses a .npy header from the first n bytes of a file (n >= 10); fills a (name untouched) and
 * *data_offset. `origin` names the file in messages. */
mz_status mz_npy_parse(const unsigned char *buf, size_t n, mz_array_desc *a, size_t *data_offset,
                       const char *origin, mz_error *err);

/* A sink receives arrays in the order they were declared: begin(i), write()..., end(). */
typedef struct mz_asink mz_asink;
/* format: MZ_FMT_NPZ (dir/dataset.npz), MZ_FMT_NPY (dir/<name>.npy each), MZ_FMT_SAFETENSORS
 * (dir/dataset.safetensors, with `meta_json` (may be NULL) as its __metadata__ strings). */
mz_status mz_asink_open(mz_asink **out, unsigned format, const char *dir,
                        const mz_array_desc *arrays, int n, const char *const *meta_kv, int n_meta,
                        mz_error *err);
mz_status mz_asink_begin(mz_asink *s, int i, mz_error *err);
mz_status mz_asink_write(mz_asink *s, const void *data, size_t bytes, mz_error *err);
mz_status mz_asink_end(mz_asink *s, mz_error *err);
/* Finishes the file(s) and frees s (also on error). */
mz_status mz_asink_close(mz_asink *s, mz_error *err);
/* Frees s and removes what it wrote. */
void mz_asink_abort(mz_asink *s);
/* The file name(s) a format writes, for the manifest ("dataset.npz", "<name>.npy"...). */
const char *mz_format_file(unsigned format);

/* Reads array `name` from a dataset directory in the given format; *data is malloc'd. The dtype
 * and number of dimensions must match `want` (its shape is filled in). */
mz_status mz_array_read(const char *dir, unsigned format, const char *name, mz_array_desc *want,
                        void **data, mz_error *err);

#endif
