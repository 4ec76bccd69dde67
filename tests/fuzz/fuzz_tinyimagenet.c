/* libFuzzer target: a tiny-imagenet-200.zip (the zip reader, wnids.txt, the train folders,
 * val_annotations.txt, every JPEG through libjpeg at 64x64).
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
    mz_split_sizes sz = {6, 0, 3};
    fuzz_write("tiny-imagenet-200.zip", data, size);
    mz_status st = mz_load_tinyimagenet_sized(&ds, fuzz_dir(), NULL, &sz, &err);
    FUZZ_CHECK_MSG(st, err);
    if (st == MZ_OK)
        mz_dataset_release(&ds);
    return 0;
}
