/* libFuzzer target: a spec.json (mz_spec_parse: JSON, keys, grid expansion, recipe), then the
 * recipe compared with itself and with the input (mz_recipe_diff, as a zoo's recipe is compared
 * with a spec). See fuzz_pt.c for building and running. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mzoo/spec.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = 0;
    mz_spec spec;
    mz_error err = {0};
    mz_status st = mz_spec_parse(&spec, text, "fuzz.json", &err);
    FUZZ_CHECK_MSG(st, err);
    if (st == MZ_OK) {
        char buf[1024];
        mz_recipe_diff(spec.recipe, spec.recipe, "fuzz.json", buf, sizeof buf);
        mz_recipe_diff(spec.recipe, text, "fuzz.json", buf, sizeof buf);
        (void)mz_recipe_same_settings(spec.recipe, text);
        mz_spec_release(&spec);
    }
    free(text);
    return 0;
}
