/* The files of a dataset directory (docs/DATASET.md) on top of src/formats: which file each of
 * the loader's formats (MZ_FMT_*) writes, the dtype and rank every array must have, and capped
 * reads of its JSON files. Private to src/loader. */
#ifndef MZ_LOADER_ARRAYS_IMPL_H
#define MZ_LOADER_ARRAYS_IMPL_H

#include "mzoo/formats.h"
#include "mzoo/loader.h"

/* The file name(s) a format writes, for the manifest ("dataset.npz", "<array>.npy"...). */
const char *mz_format_file(unsigned format);

/* A sink writing `arrays` into the directory dir: dir/dataset.npz (MZ_FMT_NPZ), dir/<name>.npy
 * (MZ_FMT_NPY) or dir/dataset.safetensors (MZ_FMT_SAFETENSORS, `meta_kv` as its __metadata__). */
mz_status mz_dataset_sink_open(mz_asink **out, unsigned format, const char *dir,
                               const mz_array_desc *arrays, int n, const char *const *meta_kv,
                               int n_meta, mz_error *err);

/* A reader of the arrays of directory dir in one format. */
mz_status mz_dataset_arrays_open(mz_areader **out, const char *dir, unsigned format, mz_error *err);
/* Finds array want->name: its dtype and number of dimensions must be want's (else MZ_EFORMAT
 * naming the file); fills want->shape. Reads no data. */
mz_status mz_dataset_array_find(mz_areader *r, mz_array_desc *want, mz_error *err);

/* Parses the JSON file `path` of at most max_bytes (MZ_ELIMIT above, before reading) into *out
 * (json_decref it): the manifests of a dataset directory. MZ_EFORMAT names the line and column. */
struct json_t;
#define MZ_DATASET_JSON_MAX ((uint64_t)16 << 20) /* dataset.json, index_dict.json */
#define MZ_DATASET_PROPS_MAX ((uint64_t)1 << 30) /* properties.json */
mz_status mz_dataset_json_load(const char *path, uint64_t max_bytes, struct json_t **out,
                               mz_error *err);

/* Reads array `name` of a dataset directory into a malloc'd *data; its dtype and number of
 * dimensions must match `want` (whose name and shape are filled in). */
mz_status mz_array_read(const char *dir, unsigned format, const char *name, mz_array_desc *want,
                        void **data, mz_error *err);

#endif
