/* libFuzzer target: a dataset directory as mzoo bench reads one (mz_dataset_read: dataset.json,
 * index_dict.json, properties.json and the x/model_id/epoch arrays of each split, as .npy files,
 * dataset.npz or dataset.safetensors, checked against their files and each other).
 *
 * The input packs the directory's files one after another: a name (at most 63 bytes, letters,
 * digits, '_' and '.'), a NUL, the length as 4 bytes little-endian, the bytes. Packing stops at the
 * first record that does not parse; tools/make_fuzz_seeds.py writes seeds from real directories.
 * See fuzz_pt.c for building and running; replay.c replays a corpus without libFuzzer. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "mzoo/loader.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int name_ok(const char *s, size_t n)
{
    if (n == 0 || n > 63 || s[0] == '.')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '.'))
            return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char dir[640], path[720];
    snprintf(dir, sizeof dir, "%s/ds", fuzz_dir());
    if (mkdir(dir, 0700) != 0)
        abort();
    size_t i = 0;
    while (i < size) {
        const uint8_t *nul = memchr(data + i, 0, size - i < 64 ? size - i : 64);
        if (!nul || !name_ok((const char *)data + i, (size_t)(nul - (data + i))))
            break;
        size_t nl = (size_t)(nul - (data + i)), at = i + nl + 1;
        if (size - at < 4)
            break;
        uint32_t len = (uint32_t)data[at] | (uint32_t)data[at + 1] << 8 |
                       (uint32_t)data[at + 2] << 16 | (uint32_t)data[at + 3] << 24;
        at += 4;
        if (len > size - at)
            len = (uint32_t)(size - at);
        snprintf(path, sizeof path, "%s/%.*s", dir, (int)nl, (const char *)data + i);
        FILE *f = fopen(path, "wb");
        if (!f || (len && fwrite(data + at, 1, len, f) != len) || fclose(f) != 0)
            abort();
        i = at + len;
    }
    mz_wset w;
    mz_error err = {0};
    mz_status st = mz_dataset_read(&w, dir, &err);
    FUZZ_CHECK_MSG(st, err);
    if (st == MZ_OK)
        mz_wset_release(&w);
    nftw(dir, fuzz_rm_, 8, FTW_DEPTH | FTW_PHYS); /* the next input gets an empty directory */
    return 0;
}
