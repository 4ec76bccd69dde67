/* MNIST and Fashion-MNIST from their four IDX files, as the reference prepares them:
 *   train/val: torch.utils.data.random_split(<60000 training images>, [50000, 10000],
 *              generator=torch.Generator().manual_seed(42))  (see mz_split_random)
 *   test:      the 10000 t10k images in file order
 *   transform: ToTensor + Normalize(0.5, 0.5) for Fashion-MNIST, Normalize(0.1307, 0.3081) for
 *              MNIST (kept as bytes plus the lookup table ds->lut).
 * Each file may be gzip'd (train-images-idx3-ubyte.gz, as distributed) or not
 * (train-images-idx3-ubyte, as torchvision's raw/ folder holds them).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/readers-impl.h"
#include "data/registry-impl.h"
#include "core/banned.h"

#define MNIST_SIDE 28
#define MNIST_CLASSES 10
#define MNIST_N_TRAIN_FULL 60000
#define MNIST_N_TRAIN 50000
#define MNIST_N_VAL 10000
#define MNIST_N_TEST 10000
#define MNIST_SPLIT_SEED 42

typedef struct idx_family {
    float mean, std;
} idx_family;

static const idx_family FASHION_MNIST = {0.5f, 0.5f};
static const idx_family MNIST = {0.1307f, 0.3081f};

/* Finds <dir>/<base>.gz or <dir>/<base>; missing: MZ_ENOTFOUND naming the .gz and how to get it. */
static mz_status find_idx(const mz_dataset_entry *e, const char *dir, const char *base, char *out,
                          size_t cap, mz_error *err)
{
    static const char *const suffixes[] = {".gz", ""};
    for (int i = 0; i < 2; i++) {
        if ((size_t)snprintf(out, cap, "%s/%s%s", dir, base, suffixes[i]) >= cap)
            return mz_fail(err, MZ_EINVAL, "%s: data directory path too long: %.200s...", e->name,
                           dir);
        FILE *f = fopen(out, "rb");
        if (f) {
            fclose(f);
            return MZ_OK;
        }
    }
    return mz_fail(err, MZ_ENOTFOUND, "%s: %.400s/%s.gz not found; %s", e->name, dir, base,
                   e->help);
}

/* Reads an image file: n x 28 x 28 unsigned bytes. */
static mz_status read_images(const char *path, mz_idx *im, mz_error *err)
{
    mz_status st = mz_idx_read(path, im, err);
    if (st)
        return st;
    if (im->ndim != 3)
        st = mz_fail(err, MZ_EFORMAT,
                     "%s: offset 3: %d dimension%s (magic 0x%08x%s), expected 3 (magic 0x00000803, "
                     "an image file)",
                     path, im->ndim, im->ndim == 1 ? "" : "s", 0x800u | (unsigned)im->ndim,
                     im->ndim == 1 ? ", a label file" : "");
    else if (im->dims[1] != MNIST_SIDE || im->dims[2] != MNIST_SIDE)
        st = mz_fail(err, MZ_EFORMAT, "%s: offset 8: images are %lldx%lld, expected %dx%d", path,
                     (long long)im->dims[1], (long long)im->dims[2], MNIST_SIDE, MNIST_SIDE);
    if (st)
        mz_idx_release(im);
    return st;
}

/* Reads a label file matching `n_images` images of `images_path`, labels in [0, 10). */
static mz_status read_labels(const char *path, const char *images_path, int64_t n_images,
                             int32_t **out, mz_error *err)
{
    mz_idx lb;
    mz_status st = mz_idx_read(path, &lb, err);
    if (st)
        return st;
    if (lb.ndim != 1) {
        st = mz_fail(err, MZ_EFORMAT,
                     "%s: offset 3: %d dimensions (magic 0x%08x%s), expected 1 (magic 0x00000801, "
                     "a label file)",
                     path, lb.ndim, 0x800u | (unsigned)lb.ndim,
                     lb.ndim == 3 ? ", an image file" : "");
    } else if (lb.dims[0] != n_images) {
        st = mz_fail(err, MZ_EFORMAT, "%s: offset 4: %lld labels, but %s has %lld images", path,
                     (long long)lb.dims[0], images_path, (long long)n_images);
    } else {
        for (int64_t i = 0; i < n_images; i++)
            if (lb.data[i] >= MNIST_CLASSES) {
                st = mz_fail(err, MZ_EFORMAT,
                             "%s: offset %lld: label %u of item %lld is out of range (expected 0 "
                             "to %d)",
                             path, (long long)(8 + i), lb.data[i], (long long)i, MNIST_CLASSES - 1);
                break;
            }
    }
    int32_t *y = NULL;
    if (!st && !(y = malloc((size_t)(n_images ? n_images : 1) * sizeof *y)))
        st = mz_fail(err, MZ_ENOMEM, "%s: out of memory", path);
    if (!st)
        for (int64_t i = 0; i < n_images; i++)
            y[i] = lb.data[i];
    mz_idx_release(&lb);
    *out = y;
    return st;
}

/* Reads one (images, labels) pair of files and checks the count. */
static mz_status read_pair(const mz_dataset_entry *e, const char *dir, const char *images_base,
                           const char *labels_base, int64_t n_expected, const char *what,
                           mz_idx *im, int32_t **y, mz_error *err)
{
    char ipath[4096], lpath[4096];
    mz_status st;
    *y = NULL;
    if ((st = find_idx(e, dir, images_base, ipath, sizeof ipath, err)) ||
        (st = find_idx(e, dir, labels_base, lpath, sizeof lpath, err)))
        return st;
    if ((st = read_images(ipath, im, err)))
        return st;
    if ((st = read_labels(lpath, ipath, im->dims[0], y, err))) {
        mz_idx_release(im);
        return st;
    }
    if (im->dims[0] != n_expected) {
        st = mz_fail(err, MZ_EFORMAT,
                     "%s: offset 4: %lld images, expected %lld (the official %s %s set; truncated "
                     "or a different dataset?)",
                     ipath, (long long)im->dims[0], (long long)n_expected, e->name, what);
        mz_idx_release(im);
        free(*y);
        *y = NULL;
    }
    return st;
}

/* The "32px" variant (an mzoo extension, for CNN-l on 28 px data): every image through PIL's
 * bilinear resize 28 -> 32, as transforms.Resize(32) would do it, before normalisation. */
static mz_status resize_split(mz_split *s, int from, int to, mz_error *err)
{
    mz_rd_images im = {s->n, s->n, (int64_t)from * from, s->x, NULL};
    mz_status st = mz_rd_images_resize(&im, 1, from, from, to, to, err);
    s->x = im.x;
    return st;
}

static mz_status load_idx_family(mz_dataset *ds, const mz_dataset_entry *e, const char *dir,
                                 const char *variant, const idx_family *fam, mz_error *err)
{
    int side = MNIST_SIDE;
    if (variant && *variant && !strcmp(variant, "32px"))
        side = 32;
    else if (variant && *variant && strcmp(variant, "28px") != 0)
        return mz_fail(err, MZ_EINVAL, "%s: unknown variant '%.60s' (expected 28px or 32px)",
                       e->name, variant);
    if (!dir)
        dir = e->default_dir;
    if (!dir)
        return mz_fail(err, MZ_ENOTFOUND,
                       "%s: no data directory given and %s has no default "
                       "location; %s",
                       e->name, e->name, e->help);

    mz_idx im = {0};
    int32_t *y = NULL;
    mz_status st = read_pair(e, dir, "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                             MNIST_N_TRAIN_FULL, "training", &im, &y, err);
    if (st)
        return st;
    st = mz_split_random(im.data, y, im.dims[0], MNIST_SIDE * MNIST_SIDE, MNIST_N_TRAIN,
                         MNIST_N_VAL, MNIST_SPLIT_SEED, &ds->train, &ds->val, err);
    mz_idx_release(&im);
    free(y);
    if (st)
        return st;

    if ((st = read_pair(e, dir, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", MNIST_N_TEST,
                        "test", &im, &y, err)))
        return st;
    ds->test.n = im.dims[0];
    ds->test.x = im.data; /* the test set in file order: take the buffer as it is */
    ds->test.y = y;
    im.data = NULL;

    mz_split *parts[] = {&ds->train, &ds->val, &ds->test};
    for (int i = 0; i < 3 && side != MNIST_SIDE; i++)
        if ((st = resize_split(parts[i], MNIST_SIDE, side, err))) {
            mz_dataset_release(ds);
            return st;
        }
    snprintf(ds->name, sizeof ds->name, "%s", e->name);
    ds->c = 1;
    ds->h = ds->w = side;
    ds->n_classes = MNIST_CLASSES;
    mz_dataset_set_normalize(ds, &fam->mean, &fam->std);
    snprintf(ds->source, sizeof ds->source, "%s", dir);
    return MZ_OK;
}

mz_status mz_load_fashion_mnist(mz_dataset *ds, const mz_dataset_entry *e, const char *dir,
                                const char *variant, mz_error *err)
{
    return load_idx_family(ds, e, dir, variant, &FASHION_MNIST, err);
}

mz_status mz_load_mnist(mz_dataset *ds, const mz_dataset_entry *e, const char *dir,
                        const char *variant, mz_error *err)
{
    return load_idx_family(ds, e, dir, variant, &MNIST, err);
}
