/* libFuzzer target: an SVHN MAT v5 file, written as both train_32x32.mat and test_32x32.mat (the
 * strict MAT reader: tags, dimensions against the variable's size, compressed variables, X
 * and y in either order).
 * See fuzz_pt.c for building and running; replay.c replays a corpus without libFuzzer. */
#include <stdint.h>
#include <stdlib.h>

#include "mzoo/data.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mz_error err = {0};
    mz_dataset ds;
    mz_split_sizes sz = {3, 2, -1};
    fuzz_write("train_32x32.mat", data, size);
    fuzz_write("test_32x32.mat", data, size);
    mz_status st = mz_load_svhn_sized(&ds, fuzz_dir(), NULL, &sz, &err);
    FUZZ_CHECK_MSG(st, err);
    if (st == MZ_OK)
        mz_dataset_release(&ds);
    return 0;
}
