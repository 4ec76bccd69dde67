/* Private to src/formats: the pickle interpreter behind mz_pt (pickle.c) and its result. */
#ifndef MZ_PT_IMPL_H
#define MZ_PT_IMPL_H

#include "mzoo/formats.h"

/* One storage a state_dict's tensors point into: the archive entry "data/<key>". */
typedef struct mz_pkl_storage {
    char *key;
    char *location;
    mz_dtype dtype;
    int64_t numel;
} mz_pkl_storage;

/* What a data.pkl holds: the state_dict's entries (names, storage keys and locations point into
 * `strings`) and the storages they use. */
typedef struct mz_pkl_result {
    int n_tensors;
    mz_pt_tensor *tensors;
    int n_storages;
    mz_pkl_storage *storages;
    char *strings;
} mz_pkl_result;

/* Interprets the pickle p[n] as a state_dict (see formats.h). `origin` names it in messages
 * ("f.pt: checkpoints/data.pkl"). On failure *out is empty. */
mz_status mz_pkl_state_dict(const unsigned char *p, size_t n, const char *origin,
                            const mz_pt_limits *lim, mz_pkl_result *out, mz_error *err);
void mz_pkl_result_release(mz_pkl_result *r);

#endif
