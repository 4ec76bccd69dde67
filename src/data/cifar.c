/* CIFAR-10 and CIFAR-100, binary versions, read straight from the official tar.gz.
 *
 * CIFAR-10 (cifar-10-binary.tar.gz): cifar-10-batches-bin/data_batch_1..5.bin and test_batch.bin,
 * records of 1 label byte + 3072 image bytes ([3][32][32], R then G then B planes, row-major).
 * CIFAR-100 (cifar-100-binary.tar.gz): cifar-100-binary/train.bin and test.bin, records of a coarse
 * label byte, a fine label byte and 3072 image bytes; the fine label is the class.
 * The training set is the five batches in order, as torchvision's CIFAR10 concatenates them. */
#include <stdlib.h>
#include <string.h>

#include "data/readers-impl.h"
#include "core/banned.h"

#define CIFAR_IMAGE 3072
#define CIFAR_MAX_MEMBER ((size_t)200 << 20)

typedef struct cifar_ctx {
    int is100;
    const char *path;
    /* CIFAR-10: parts 0..4 = data_batch_1..5, 5 = test_batch. CIFAR-100: 0 = train, 1 = test. */
    uint8_t *part[6];
    size_t part_len[6];
    int n_parts;
} cifar_ctx;

static int member_index(const cifar_ctx *c, const char *name)
{
    const char *base = mz_rd_basename(name);
    if (c->is100) {
        if (strcmp(base, "train.bin") == 0)
            return 0;
        if (strcmp(base, "test.bin") == 0)
            return 1;
        return -1;
    }
    if (strcmp(base, "test_batch.bin") == 0)
        return 5;
    if (strncmp(base, "data_batch_", 11) == 0 && base[11] >= '1' && base[11] <= '5' &&
        strcmp(base + 12, ".bin") == 0)
        return base[11] - '1';
    return -1;
}

static int cifar_want(void *ctx, const char *name)
{
    cifar_ctx *c = ctx;
    int i = member_index(c, name);
    return i >= 0 && !c->part[i];
}

static mz_status cifar_take(void *ctx, const char *name, const uint8_t *data, size_t size,
                            mz_error *err)
{
    cifar_ctx *c = ctx;
    int i = member_index(c, name);
    char lb[MZ_NAME_LABEL];
    if (i < 0 || c->part[i]) /* cifar_want said yes to this very name: cannot happen */
        return mz_fail(err, MZ_EINVAL, "%s: member %s: internal: not a wanted member", c->path,
                       mz_name_label(name, lb));
    size_t rec = (size_t)CIFAR_IMAGE + (c->is100 ? 2 : 1);
    if (size == 0 || size % rec != 0)
        return mz_fail(err, MZ_EFORMAT,
                       "%s: member %s: %zu bytes is not a whole number of %zu-byte records (1%s "
                       "label byte%s + 3072 image bytes; truncated?)",
                       c->path, mz_name_label(name, lb), size, rec,
                       c->is100 ? " coarse + 1 fine" : "", c->is100 ? "s" : "");
    c->part[i] = malloc(size);
    if (!c->part[i])
        return mz_fail(err, MZ_ENOMEM, "%s: member %s: out of memory", c->path,
                       mz_name_label(name, lb));
    memcpy(c->part[i], data, size);
    c->part_len[i] = size;
    return MZ_OK;
}

/* Appends the records of one part to im, checking the labels. */
static mz_status add_records(const cifar_ctx *c, int part, const char *member, mz_rd_images *im,
                             mz_error *err)
{
    size_t rec = (size_t)CIFAR_IMAGE + (c->is100 ? 2 : 1);
    int64_t n = (int64_t)(c->part_len[part] / rec);
    mz_status st = mz_rd_images_reserve(im, im->n + n, err);
    if (st)
        return st;
    const uint8_t *p = c->part[part];
    for (int64_t i = 0; i < n; i++, p += rec) {
        int label = c->is100 ? p[1] : p[0];
        if (c->is100 && p[0] >= 20)
            return mz_fail(
                err, MZ_EFORMAT,
                "%s: member %s: offset %lld: coarse label %d out of range (expected 0..19)",
                c->path, member, (long long)(i * (int64_t)rec), p[0]);
        if (label >= (c->is100 ? 100 : 10))
            return mz_fail(err, MZ_EFORMAT,
                           "%s: member %s: offset %lld: label %d out of range (expected 0..%d)",
                           c->path, member, (long long)(i * (int64_t)rec + c->is100), label,
                           c->is100 ? 99 : 9);
        memcpy(im->x + im->n * CIFAR_IMAGE, p + (c->is100 ? 2 : 1), CIFAR_IMAGE);
        im->y[im->n] = label;
        im->n++;
    }
    return MZ_OK;
}

static mz_status load_cifar(mz_dataset *ds, int is100, const char *dir, const char *variant,
                            const mz_split_sizes *sizes, mz_error *err)
{
    static const char *const variants10[] = {"28px", "32px", "resnet", NULL};
    static const char *const variants100[] = {"resnet", NULL};
    static const char *const names10[] = {"cifar-10-binary.tar.gz", NULL};
    static const char *const names100[] = {"cifar-100-binary.tar.gz", NULL};
    const char *name = is100 ? "cifar100" : "cifar10";
    memset(ds, 0, sizeof *ds);
    int v;
    mz_status st = mz_rd_variant(name, variant, is100 ? variants100 : variants10, &v, err);
    if (st)
        return st;
    const char *vname = (is100 ? variants100 : variants10)[v];
    int resnet = strcmp(vname, "resnet") == 0;
    char path[MZ_RD_PATH_MAX];
    st = mz_rd_find_file(
        name, dir, is100 ? "/usr/share/datasets/cifar100" : "/usr/share/datasets/cifar10",
        is100 ? names100 : names10,
        is100 ? "the binary version, https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz"
              : "the binary version, https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
        path, sizeof path, err);
    if (st)
        return st;

    cifar_ctx c = {.is100 = is100, .path = path, .n_parts = is100 ? 2 : 6};
    mz_rd_images full = {.bytes_per_image = CIFAR_IMAGE}, test = {.bytes_per_image = CIFAR_IMAGE};
    st = mz_archive_scan(path, cifar_want, cifar_take, &c, CIFAR_MAX_MEMBER, err);
    if (st)
        goto done;
    static const char *const members10[] = {"data_batch_1.bin", "data_batch_2.bin",
                                            "data_batch_3.bin", "data_batch_4.bin",
                                            "data_batch_5.bin", "test_batch.bin"};
    static const char *const members100[] = {"train.bin", "test.bin"};
    for (int i = 0; i < c.n_parts; i++)
        if (!c.part[i]) {
            st = mz_fail(err, MZ_EFORMAT,
                         "%s: member %s/%s not found in the archive (is this the binary version "
                         "of %s, not the python or matlab one?)",
                         path, is100 ? "cifar-100-binary" : "cifar-10-batches-bin",
                         is100 ? members100[i] : members10[i], is100 ? "CIFAR-100" : "CIFAR-10");
            goto done;
        }
    for (int i = 0; i < c.n_parts - 1; i++)
        if ((st = add_records(&c, i, is100 ? members100[i] : members10[i], &full, err)))
            goto done;
    if ((st = add_records(&c, c.n_parts - 1, is100 ? members100[1] : members10[5], &test, err)))
        goto done;
    for (int i = 0; i < c.n_parts; i++) {
        free(c.part[i]);
        c.part[i] = NULL;
    }

    int side = strcmp(vname, "28px") == 0 ? 28 : 32;
    if (side != 32) {
        if ((st = mz_rd_images_resize(&full, 3, 32, 32, side, side, err)) ||
            (st = mz_rd_images_resize(&test, 3, 32, 32, side, side, err)))
            goto done;
    }
    mz_split_sizes sz =
        resnet ? (mz_split_sizes){40000, 10000, 10000} : (mz_split_sizes){42000, 8000, 10000};
    if (sizes)
        sz = *sizes;
    float mean[3] = {0.5f, 0.5f, 0.5f}, std[3] = {0.5f, 0.5f, 0.5f};
    if (resnet && !is100) {
        /* transforms.Normalize(mean=[x / 255.0 for x in [125.3, 123.0, 113.9]], std=[x / 255.0
         * for x in [63.0, 62.1, 66.7]]): doubles rounded once to float32. */
        const double m[3] = {125.3, 123.0, 113.9}, s[3] = {63.0, 62.1, 66.7};
        for (int k = 0; k < 3; k++) {
            mean[k] = (float)(m[k] / 255.0);
            std[k] = (float)(s[k] / 255.0);
        }
    } else if (resnet) {
        const double m[3] = {0.5071, 0.4867, 0.4408}, s[3] = {0.2675, 0.2565, 0.2761};
        for (int k = 0; k < 3; k++) {
            mean[k] = (float)m[k];
            std[k] = (float)s[k];
        }
    }
    st = mz_rd_finish(ds, name, 3, side, side, is100 ? 100 : 10, &full, &test, sz.n_train, sz.n_val,
                      sz.n_test, mean, std, path, err);
done:
    for (int i = 0; i < c.n_parts; i++)
        free(c.part[i]);
    mz_rd_images_release(&full);
    mz_rd_images_release(&test);
    if (st)
        mz_dataset_release(ds);
    return st;
}

mz_status mz_load_cifar10_sized(mz_dataset *ds, const char *dir, const char *variant,
                                const mz_split_sizes *sizes, mz_error *err)
{
    return load_cifar(ds, 0, dir, variant, sizes, err);
}

mz_status mz_load_cifar10(mz_dataset *ds, const char *dir, const char *variant, mz_error *err)
{
    return load_cifar(ds, 0, dir, variant, NULL, err);
}

mz_status mz_load_cifar100_sized(mz_dataset *ds, const char *dir, const char *variant,
                                 const mz_split_sizes *sizes, mz_error *err)
{
    return load_cifar(ds, 1, dir, variant, sizes, err);
}

mz_status mz_load_cifar100(mz_dataset *ds, const char *dir, const char *variant, mz_error *err)
{
    return load_cifar(ds, 1, dir, variant, NULL, err);
}
