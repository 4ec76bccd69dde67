/* STL-10, binary version, read straight from stl10_binary.tar.gz.
 *
 * Members stl10_binary/train_X.bin (5000 images), train_y.bin, test_X.bin (8000), test_y.bin.
 * Images are 3x96x96 bytes, each channel plane stored column-major (torchvision reshapes to
 * (-1, 3, 96, 96) and transposes the last two axes), so pixel (c, row r, column k) of image n is
 * at n*27648 + c*9216 + k*96 + r. Labels are one byte 1..10 (torchvision subtracts 1). The 2.6 GB
 * unlabeled_X.bin is not kept (but decompressed, to verify the gzip CRC at the archive's end).
 * Preprocessing (the STL-10 CNN zoos): PIL bilinear resize 96 -> 28
 * ("28px", CNN-s) or 96 -> 32 ("32px", CNN-l), Normalize(0.5, 0.5). */
#include <stdlib.h>
#include <string.h>

#include "data/readers-impl.h"
#include "core/banned.h"

#define STL_SIDE 96
#define STL_IMAGE (3 * STL_SIDE * STL_SIDE)
#define STL_MAX_MEMBER ((size_t)1 << 30)

static const char *const stl_members[4] = {"train_X.bin", "train_y.bin", "test_X.bin",
                                           "test_y.bin"};

typedef struct stl_ctx {
    const char *path;
    uint8_t *part[4];
    size_t len[4];
} stl_ctx;

static int stl_index(const char *name)
{
    const char *base = mz_rd_basename(name);
    for (int i = 0; i < 4; i++)
        if (strcmp(base, stl_members[i]) == 0)
            return i;
    return -1;
}

static int stl_want(void *ctx, const char *name)
{
    stl_ctx *c = ctx;
    /* unlabeled_X.bin is not wanted, but the scan still reads through it (2.6 GB of the gzip
     * stream) to check the gzip trailer at the end. */
    int i = stl_index(name);
    return i >= 0 && !c->part[i];
}

static mz_status stl_take(void *ctx, const char *name, const uint8_t *data, size_t size,
                          mz_error *err)
{
    stl_ctx *c = ctx;
    int i = stl_index(name);
    char lb[MZ_NAME_LABEL];
    if (i < 0 || c->part[i]) /* stl_want said yes to this very name: cannot happen */
        return mz_fail(err, MZ_EINVAL, "%s: member %s: internal: not a wanted member", c->path,
                       mz_name_label(name, lb));
    if (i % 2 == 0 && (size == 0 || size % STL_IMAGE != 0))
        return mz_fail(err, MZ_EFORMAT,
                       "%s: member %s: %zu bytes is not a whole number of %d-byte images "
                       "(3x96x96; truncated?)",
                       c->path, mz_name_label(name, lb), size, STL_IMAGE);
    c->part[i] = malloc(size ? size : 1);
    if (!c->part[i])
        return mz_fail(err, MZ_ENOMEM, "%s: member %s: out of memory", c->path,
                       mz_name_label(name, lb));
    memcpy(c->part[i], data, size);
    c->len[i] = size;
    return MZ_OK;
}

/* Images + labels of one split, transposed to [c][row][col], into im (3x96x96). */
static mz_status stl_split(const stl_ctx *c, int xi, mz_rd_images *im, mz_error *err)
{
    int64_t n = (int64_t)(c->len[xi] / STL_IMAGE);
    if ((int64_t)c->len[xi + 1] != n)
        return mz_fail(err, MZ_EFORMAT, "%s: member %s holds %lld labels but %s holds %lld images",
                       c->path, stl_members[xi + 1], (long long)c->len[xi + 1], stl_members[xi],
                       (long long)n);
    mz_status st = mz_rd_images_reserve(im, n, err);
    if (st)
        return st;
    for (int64_t i = 0; i < n; i++) {
        int lab = c->part[xi + 1][i];
        if (lab < 1 || lab > 10)
            return mz_fail(err, MZ_EFORMAT,
                           "%s: member %s: offset %lld: label %d out of range (expected 1..10)",
                           c->path, stl_members[xi + 1], (long long)i, lab);
        const uint8_t *src = c->part[xi] + i * STL_IMAGE;
        uint8_t *dst = im->x + i * STL_IMAGE;
        for (int ch = 0; ch < 3; ch++)
            for (int r = 0; r < STL_SIDE; r++)
                for (int k = 0; k < STL_SIDE; k++)
                    dst[(ch * STL_SIDE + r) * STL_SIDE + k] =
                        src[(ch * STL_SIDE + k) * STL_SIDE + r];
        im->y[i] = lab - 1;
    }
    im->n = n;
    return MZ_OK;
}

mz_status mz_load_stl10_sized(mz_dataset *ds, const char *dir, const char *variant,
                              const mz_split_sizes *sizes, mz_error *err)
{
    static const char *const variants[] = {"28px", "32px", NULL};
    static const char *const names[] = {"stl10_binary.tar.gz", NULL};
    memset(ds, 0, sizeof *ds);
    int v;
    mz_status st = mz_rd_variant("stl10", variant, variants, &v, err);
    if (st)
        return st;
    char path[MZ_RD_PATH_MAX];
    if ((st = mz_rd_find_file("stl10", dir, "/usr/share/datasets/stl10", names,
                              "from http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz",
                              path, sizeof path, err)))
        return st;
    stl_ctx c = {.path = path};
    mz_rd_images full = {.bytes_per_image = STL_IMAGE}, test = {.bytes_per_image = STL_IMAGE};
    if ((st = mz_archive_scan(path, stl_want, stl_take, &c, STL_MAX_MEMBER, err)))
        goto done;
    for (int i = 0; i < 4; i++)
        if (!c.part[i]) {
            st = mz_fail(err, MZ_EFORMAT,
                         "%s: member stl10_binary/%s not found in the archive (is this "
                         "stl10_binary.tar.gz?)",
                         path, stl_members[i]);
            goto done;
        }
    if ((st = stl_split(&c, 0, &full, err)) || (st = stl_split(&c, 2, &test, err)))
        goto done;
    for (int i = 0; i < 4; i++) {
        free(c.part[i]);
        c.part[i] = NULL;
    }
    int side = v == 0 ? 28 : 32;
    if ((st = mz_rd_images_resize(&full, 3, STL_SIDE, STL_SIDE, side, side, err)) ||
        (st = mz_rd_images_resize(&test, 3, STL_SIDE, STL_SIDE, side, side, err)))
        goto done;
    mz_split_sizes sz = sizes ? *sizes : (mz_split_sizes){4200, 800, 8000};
    const float half[3] = {0.5f, 0.5f, 0.5f};
    st = mz_rd_finish(ds, "stl10", 3, side, side, 10, &full, &test, sz.n_train, sz.n_val, sz.n_test,
                      half, half, path, err);
done:
    for (int i = 0; i < 4; i++)
        free(c.part[i]);
    mz_rd_images_release(&full);
    mz_rd_images_release(&test);
    if (st)
        mz_dataset_release(ds);
    return st;
}

mz_status mz_load_stl10(mz_dataset *ds, const char *dir, const char *variant, mz_error *err)
{
    return mz_load_stl10_sized(ds, dir, variant, NULL, err);
}
