/* Private to src/loader: epoch selections and the loader's accessors for the writers. */
#ifndef MZ_LOADER_IMPL_H
#define MZ_LOADER_IMPL_H

#include "mzoo/loader.h"

#define MZ_EPOCH_SEL_MAX 256
typedef struct mz_epoch_sel {
    int all, last;
    int n;
    int lo[MZ_EPOCH_SEL_MAX], hi[MZ_EPOCH_SEL_MAX];
} mz_epoch_sel;

/* "all", "last", or "0,5,10-20". */
mz_status mz_epochs_parse(mz_epoch_sel *s, const char *spec, mz_error *err);
int mz_epochs_match(const mz_epoch_sel *s, int epoch);

const mz_loader_options *mz_loader_get_options(const mz_loader *L);
const char *mz_loader_path(const mz_loader *L);

/* Deep copy of n_cols property columns of n samples. */
mz_status mz_props_copy(const mz_prop_column *src, int n_cols, int64_t n, mz_prop_column **out,
                        mz_error *err);

#endif
