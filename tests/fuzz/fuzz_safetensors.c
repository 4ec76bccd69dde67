/* libFuzzer target: a safetensors file (the header length, the JSON header, dtypes, shapes and
 * data_offsets against the file) read through mz_areader.
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
    mz_areader *r = NULL;
    mz_status st = mz_areader_open(&r, MZ_AFMT_SAFETENSORS, fuzz_write("fuzz.safetensors", data, size), &err);
    FUZZ_CHECK_MSG(st, err);
    if (st == MZ_OK) {
        read_all(r);
        (void)mz_areader_meta(r, "format");
        mz_areader_close(r);
    }
    return 0;
}
