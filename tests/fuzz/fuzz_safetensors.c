/* libFuzzer target: a safetensors file (the header length, the JSON header, dtypes, shapes and
 * data_offsets against the file) read through mz_areader.
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
    mz_status st =
        mz_areader_open(&r, MZ_AFMT_SAFETENSORS, fuzz_write("fuzz.safetensors", data, size), &err);
    FUZZ_CHECK_MSG(st, err);
    if (st == MZ_OK) {
        fuzz_read_arrays(r);
        (void)mz_areader_meta(r, "format");
        mz_areader_close(r);
    }
    return 0;
}
