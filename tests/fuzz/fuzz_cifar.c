/* libFuzzer target: a cifar-10-binary.tar.gz (mz_archive_scan over the strict gzip reader and tar,
 * member names of any length, whole records, labels, the split sizes).
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
    mz_split_sizes sz = {4, 1, 1};
    fuzz_write("cifar-10-binary.tar.gz", data, size);
    mz_status st = mz_load_cifar10_sized(&ds, fuzz_dir(), "32px", &sz, &err);
    FUZZ_CHECK_MSG(st, err);
    if (st == MZ_OK)
        mz_dataset_release(&ds);
    return 0;
}
