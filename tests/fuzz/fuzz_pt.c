/* libFuzzer target: a PyTorch checkpoint from memory (the zip container, data.pkl, the storages)
 * read whole, as mzoo import reads an archive member. Build with clang:
 *   CC=clang cmake -S . -B build-fuzz -DMZOO_FUZZ=ON -DMZOO_SANITIZE=address,undefined
 *   cmake --build build-fuzz --target fuzz_pt fuzz_pickle
 *   build-fuzz/fuzz_pt -max_total_time=300 new-inputs/ tests/fuzz/corpus/pt
 * or run scripts/fuzz.sh, which does this for every target. Without -DMZOO_FUZZ=ON each target is
 * linked with replay.c instead, and `ctest -R fuzz_` replays every corpus in tests/fuzz/corpus/.
 * Every input must give MZ_OK or an error with a message; never a crash, a leak or a read out of
 * bounds. */
#include <stdint.h>
#include <stdlib.h>

#include "mzoo/formats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mz_pt_limits lim;
    mz_pt_limits_default(&lim);
    lim.max_storage_bytes = 1 << 24; /* the fuzzer's memory, not the format's */
    mz_error err = {0};
    mz_pt *pt = NULL;
    if (mz_pt_open_mem(&pt, "fuzz", data, size, &lim, &err) == MZ_OK) {
        for (int i = 0; i < mz_pt_count(pt); i++) {
            const mz_pt_tensor *t = mz_pt_tensor_at(pt, i);
            if (t->count > (1 << 22))
                continue;
            float *f = malloc((size_t)(t->count ? t->count : 1) * sizeof *f);
            if (f)
                mz_pt_read_f32(pt, i, f, t->count, NULL, &err);
            free(f);
        }
    } else if (!err.msg[0]) {
        abort(); /* every failure has a message */
    }
    mz_pt_close(pt);
    return 0;
}
