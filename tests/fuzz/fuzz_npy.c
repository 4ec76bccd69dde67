/* libFuzzer target: a .npy file: mz_npy_parse on the bytes, then mz_npy_load (the header against the
 * file's size) and the same file as one array of a directory read through mz_areader.
 * See fuzz_pt.c for building and running; replay.c replays a corpus without libFuzzer. */
#include <stdint.h>
#include <stdlib.h>

#include "mzoo/formats.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every array the reader lists: its header checked against the file, then its data (capped: the
 * fuzzer's memory, not the format's limit). */
static void read_all(mz_areader *r)
{
    for (int i = 0; i < mz_areader_count(r); i++) {
        const char *name = mz_areader_name(r, i);
        mz_array_desc d;
        void *buf = NULL;
        mz_error err = {0};
        char where[256];
        mz_areader_origin(r, name, where, sizeof where);
        mz_status st = mz_areader_load(r, name, 1 << 24, &d, &buf, &err);
        FUZZ_CHECK_MSG(st, err);
        free(buf);
    }
}

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
        read_all(r);
        mz_areader_close(r);
    }
    return 0;
}
