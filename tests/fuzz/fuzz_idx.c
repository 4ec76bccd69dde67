/* libFuzzer target: an IDX file, plain or gzip'd (mz_idx_read: the strict gzip reader, the magic, the
 * dimensions against the bytes present), as the MNIST family's files are read.
 * See fuzz_pt.c for building and running; replay.c replays a corpus without libFuzzer. */
#include <stdint.h>
#include <stdlib.h>

#include "mzoo/data.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mz_error err = {0};
    mz_idx idx;
    mz_status st = mz_idx_read(fuzz_write("fuzz-idx3-ubyte", data, size), &idx, &err);
    FUZZ_CHECK_MSG(st, err);
    if (st == MZ_OK)
        mz_idx_release(&idx);
    return 0;
}
