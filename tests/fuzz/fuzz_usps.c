/* libFuzzer target: a USPS file (bzip2 of libsvm text lines), written as both usps.bz2 and
 * usps.t.bz2.
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
    mz_split_sizes sz = {6, 3, -1};
    fuzz_write("usps.bz2", data, size);
    fuzz_write("usps.t.bz2", data, size);
    mz_status st = mz_load_usps_sized(&ds, fuzz_dir(), NULL, &sz, &err);
    FUZZ_CHECK_MSG(st, err);
    if (st == MZ_OK)
        mz_dataset_release(&ds);
    return 0;
}
