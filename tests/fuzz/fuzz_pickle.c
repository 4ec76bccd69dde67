/* libFuzzer target: a data.pkl on its own through mz_pt's pickle interpreter (see fuzz_pt.c for
 * building and running). */
#include <stdint.h>
#include <stdlib.h>

#include "mzoo/formats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mz_pt_limits lim;
    mz_pt_limits_default(&lim);
    lim.max_objects = 1 << 16; /* keep each run small */
    mz_error err = {0};
    mz_pt *pt = NULL;
    if (mz_pt_parse_pickle(&pt, "fuzz", data, size, &lim, &err) != MZ_OK && !err.msg[0])
        abort();
    mz_pt_close(pt);
    return 0;
}
