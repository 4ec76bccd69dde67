/* libFuzzer target: a .npy file: mz_npy_parse on the bytes, then mz_npy_load (the header against
 * the file's size) and the same file as one array of a directory read through mz_areader. See
 * fuzz_pt.c for building and running; replay.c replays a corpus without libFuzzer. */
#include <stdint.h>
#include <stdlib.h>

#include "mzoo/formats.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mz_error err = {0};
    mz_array_desc d;
    size_t off = 0;
    if (size >= 10 && mz_npy_parse(data, size, &d, &off, "fuzz.npy", &err) != MZ_OK && !err.msg[0])
        abort();
    err.msg[0] = 0;
    void *buf = NULL;
    mz_status st = mz_npy_load(fuzz_write("x.npy", data, size), 1 << 24, &d, &buf, &err);
    FUZZ_CHECK_MSG(st, err);
    free(buf);
    err.msg[0] = 0;
    mz_areader *r = NULL;
    st = mz_areader_open(&r, MZ_AFMT_NPY, fuzz_dir(), &err);
    FUZZ_CHECK_MSG(st, err);
    if (st == MZ_OK) {
        fuzz_read_arrays(r);
        mz_areader_close(r);
    }
    return 0;
}
