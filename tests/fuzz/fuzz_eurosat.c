/* libFuzzer target: an EuroSAT.zip (the zip reader, the class folders, every JPEG through libjpeg at
 * 64x64, the resize to 28 px).
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
    mz_split_sizes sz = {8, 2, 2};
    fuzz_write("EuroSAT.zip", data, size);
    mz_status st = mz_load_eurosat_sized(&ds, fuzz_dir(), NULL, &sz, &err);
    FUZZ_CHECK_MSG(st, err);
    if (st == MZ_OK)
        mz_dataset_release(&ds);
    return 0;
}
