/* mzoo data: image datasets read from their official distribution files, preprocessed and split
 * exactly as the reference does it.
 *
 * Images are kept as uint8 [n][c][h][w] (after any resize/crop/grayscale, which the reference also
 * performs on 8-bit PIL images) plus a per-channel lookup table that maps a byte to its normalised
 * float: lut[c][v] = ((float)v / 255.0f - mean[c]) / std[c], computed with exactly the float
 * operations of torchvision's ToTensor + Normalize, so gathering through the table is bit-identical
 * to materialising the float tensor, at a quarter of the memory.
 */
#ifndef MZOO_DATA_H
#define MZOO_DATA_H

#include "mzoo/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MZ_MAX_CHANNELS 3

typedef struct mz_split {
    int64_t n;
    uint8_t *x;  /* [n][c][h][w], owned */
    int32_t *y;  /* [n], class index in [0, n_classes), owned */
} mz_split;

typedef struct mz_dataset {
    char name[32];   /* canonical name, e.g. "fashion-mnist" */
    int c, h, w;     /* image shape after preprocessing */
    int n_classes;
    float mean[MZ_MAX_CHANNELS], std[MZ_MAX_CHANNELS];
    float lut[MZ_MAX_CHANNELS][256]; /* normalised value of each byte, per channel */
    mz_split train, val, test;       /* val.n may be 0 (no validation set) */
    char source[512];                /* the directory or file the data came from */
} mz_dataset;

/* Loads dataset `name` ("fashion-mnist", "mnist", ... see mz_dataset_names) from directory `dir`
 * (NULL: the dataset's default location, e.g. /usr/share/datasets/fashion-mnist) with the
 * reference's preprocessing, split sizes and split seed (42). `variant` selects a preprocessing
 * variant where a dataset has several (e.g. "28px" / "32px" for CIFAR-10 and STL-10), or NULL.
 * Missing files give MZ_ENOTFOUND with a message saying how to get them. */
mz_status mz_dataset_load(mz_dataset *ds, const char *name, const char *dir, const char *variant,
                          mz_error *err);
void mz_dataset_release(mz_dataset *ds);

/* Keeps only the first n images of the training split (n <= train.n). */
mz_status mz_dataset_subset_train(mz_dataset *ds, int64_t n, mz_error *err);

/* Comma-separated list of dataset names mz_dataset_load knows. */
const char *mz_dataset_names(void);

/* Fills the normalisation table from mean/std (ToTensor + Normalize semantics). */
void mz_dataset_fill_lut(mz_dataset *ds);

/* Sets mean/std per channel and fills the table. */
void mz_dataset_set_normalize(mz_dataset *ds, const float *mean, const float *std);

/* ---- IDX files (MNIST, Fashion-MNIST), gzip'd or plain, detected by content ---- */
typedef struct mz_idx {
    int ndim;
    int64_t dims[4];
    uint8_t *data; /* owned, product(dims) bytes (type code 0x08, unsigned byte only) */
} mz_idx;
mz_status mz_idx_read(const char *path, mz_idx *out, mz_error *err);
void mz_idx_release(mz_idx *idx);

/* Splits a full training set (images x [n][...], labels y) into train = perm[0..n_train-1] and
 * val = perm[n_train..n_train+n_val-1] with perm = torch.randperm(n) under manual_seed(seed).
 * `bytes_per_image` = c*h*w. Allocates out_train/out_val. */
mz_status mz_split_random(const uint8_t *x, const int32_t *y, int64_t n, int64_t bytes_per_image,
                          int64_t n_train, int64_t n_val, uint64_t seed, mz_split *out_train,
                          mz_split *out_val, mz_error *err);
void mz_split_release(mz_split *s);

/* Reads a whole file into memory, decompressing gzip (by magic bytes) if needed.
 * max_bytes caps the decompressed size (MZ_ELIMIT beyond). *out is malloc'd, caller frees. */
mz_status mz_read_file_maybe_gz(const char *path, uint8_t **out, size_t *out_len, size_t max_bytes,
                                mz_error *err);

#ifdef __cplusplus
}
#endif
#endif
