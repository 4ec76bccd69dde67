/* libFuzzer target: an stl10_binary.tar.gz (members, image and label files, their sizes).
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
    mz_split_sizes sz = {2, 1, 2};
    fuzz_write("stl10_binary.tar.gz", data, size);
    mz_status st = mz_load_stl10_sized(&ds, fuzz_dir(), "32px", &sz, &err);
    FUZZ_CHECK_MSG(st, err);
    if (st == MZ_OK)
        mz_dataset_release(&ds);
    return 0;
}
