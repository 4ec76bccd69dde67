/* libFuzzer target: an .npz (the zip reader: directory, zip64 fields, local headers, CRC-32; each
 * member's .npy header against the member's size) read through mz_areader.
 * See fuzz_pt.c for building and running; replay.c replays a corpus without libFuzzer. */
#include <stdint.h>
#include <stdlib.h>

#include "mzoo/formats.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mz_error err = {0};
    mz_areader *r = NULL;
    mz_status st = mz_areader_open(&r, MZ_AFMT_NPZ, fuzz_write("fuzz.npz", data, size), &err);
    FUZZ_CHECK_MSG(st, err);
    if (st == MZ_OK) {
        fuzz_read_arrays(r);
        (void)mz_areader_meta(r, "format");
        mz_areader_close(r);
    }
    return 0;
}
