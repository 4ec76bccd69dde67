/* EuroSAT (RGB), read straight from EuroSAT.zip (folder 2750/) or EuroSAT_RGB.zip (folder
 * EuroSAT_RGB/): one folder per class of 64x64 JPEGs, 27000 images in 10 classes.
 *
 * The reference has no code for its EuroSAT zoo, so this protocol is ours (docs/DATASETS.md):
 * the order is torchvision's EuroSAT/ImageFolder order (classes sorted by name, then files sorted
 * by name within a class); images are resized with PIL bilinear to 28x28 ("28px", CNN-s) or 32x32
 * ("32px", CNN-l), kept RGB, Normalize(0.5, 0.5); the one set is split as
 * random_split(full, [21600, 2700, 2700], generator=manual_seed(42)). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "data/readers-impl.h"
#include "core/banned.h"

#define ES_SIDE 64
#define ES_IMAGE (3 * ES_SIDE * ES_SIDE)
#define ES_NAME 96

static const char *const es_classes[10] = {
    "AnnualCrop", "Forest",        "HerbaceousVegetation", "Highway", "Industrial",
    "Pasture",    "PermanentCrop", "Residential",          "River",   "SeaLake"};

typedef struct es_rec {
    int cls; /* index into es_classes */
    char file[ES_NAME];
    int64_t slot;
} es_rec;

typedef struct es_ctx {
    const char *path;
    mz_rd_images pix;
    es_rec *recs;
    int64_t n, cap;
} es_ctx;

/* A member is an image if it ends in .jpg and sits in a folder (any name: the folder is checked
 * against the classes when the member is read, so that a wrong folder is an error, not ignored).
 * Sets *folder / *folder_len to the folder's name. */
static int es_split_name(const char *name, const char **folder, size_t *folder_len)
{
    const char *base = mz_rd_basename(name);
    size_t blen = strlen(base);
    if (blen < 5 || strcasecmp(base + blen - 4, ".jpg") != 0 || base == name)
        return 0;
    const char *end = base - 1, *start = end;
    while (start > name && start[-1] != '/')
        start--;
    *folder = start;
    *folder_len = (size_t)(end - start);
    return *folder_len > 0;
}

static int es_want(void *ctx, const char *name)
{
    (void)ctx;
    const char *folder;
    size_t folder_len;
    /* macOS zips carry __MACOSX/ resource forks named like the images: not images. */
    if (strncmp(name, "__MACOSX/", 9) == 0 || strstr(name, "/__MACOSX/"))
        return 0;
    return es_split_name(name, &folder, &folder_len);
}

static mz_status es_take(void *ctx, const char *name, const uint8_t *data, size_t size,
                         mz_error *err)
{
    es_ctx *c = ctx;
    es_rec r;
    memset(&r, 0, sizeof r);
    const char *folder, *file = mz_rd_basename(name);
    size_t folder_len;
    char lb[MZ_NAME_LABEL];
    if (!es_split_name(name, &folder, &folder_len)) /* es_want said yes: cannot happen */
        return mz_fail(err, MZ_EINVAL, "%s: member %s: internal: not an image member", c->path,
                       mz_name_label(name, lb));
    r.cls = -1;
    for (int k = 0; k < 10; k++)
        if (strlen(es_classes[k]) == folder_len && memcmp(folder, es_classes[k], folder_len) == 0)
            r.cls = k;
    if (r.cls < 0)
        return mz_fail(err, MZ_EFORMAT,
                       "%s: member %s: folder '%.*s' is not one of the 10 EuroSAT classes "
                       "(AnnualCrop, Forest, ..., SeaLake)",
                       c->path, mz_name_label(name, lb), folder_len > 64 ? 64 : (int)folder_len,
                       folder);
    if (strlen(file) >= ES_NAME)
        return mz_fail(err, MZ_EFORMAT,
                       "%s: member %s: file name of %zu bytes is too long (expected at most %d, "
                       "names like Forest_1.jpg)",
                       c->path, mz_name_label(name, lb), strlen(file), ES_NAME - 1);
    snprintf(r.file, sizeof r.file, "%s", file);
    mz_status st = mz_rd_images_reserve(&c->pix, c->pix.n + 1, err);
    if (st)
        return st;
    char what[MZ_RD_PATH_MAX + MZ_NAME_LABEL + 16];
    snprintf(what, sizeof what, "%s: member %s", c->path, mz_name_label(name, lb));
    st = mz_rd_jpeg_decode_rgb(data, size, ES_SIDE, ES_SIDE, c->pix.x + c->pix.n * ES_IMAGE, what,
                               err);
    if (st)
        return st;
    r.slot = c->pix.n++;
    if (c->n == c->cap) {
        int64_t nc = c->cap ? c->cap * 2 : 4096;
        es_rec *nr = realloc(c->recs, (size_t)nc * sizeof *nr);
        if (!nr)
            return mz_fail(err, MZ_ENOMEM, "%s: out of memory", c->path);
        c->recs = nr;
        c->cap = nc;
    }
    c->recs[c->n++] = r;
    return MZ_OK;
}

static int es_cmp(const void *a, const void *b)
{
    const es_rec *x = a, *y = b;
    if (x->cls != y->cls)
        return x->cls < y->cls ? -1 : 1; /* es_classes is sorted by name */
    return strcmp(x->file, y->file);
}

mz_status mz_load_eurosat_sized(mz_dataset *ds, const char *dir, const char *variant,
                                const mz_split_sizes *sizes, mz_error *err)
{
    static const char *const variants[] = {"28px", "32px", NULL};
    static const char *const names[] = {"EuroSAT.zip", "EuroSAT_RGB.zip", NULL};
    memset(ds, 0, sizeof *ds);
    int v;
    mz_status st = mz_rd_variant("eurosat", variant, variants, &v, err);
    if (st)
        return st;
    char path[MZ_RD_PATH_MAX];
    if ((st =
             mz_rd_find_file("eurosat", dir, "/usr/share/datasets/eurosat", names,
                             "the RGB version: https://madm.dfki.de/files/sentinel/EuroSAT.zip, or "
                             "EuroSAT_RGB.zip from the dataset's Zenodo record",
                             path, sizeof path, err)))
        return st;
    es_ctx c = {.path = path, .pix = {.bytes_per_image = ES_IMAGE}};
    mz_rd_images full = {.bytes_per_image = ES_IMAGE};
    if ((st = mz_archive_scan(path, es_want, es_take, &c, (size_t)16 << 20, err)))
        goto done;
    if (c.n == 0) {
        st = mz_fail(err, MZ_EFORMAT,
                     "%s: no <class>/<name>.jpg images in the archive (is this the RGB version of "
                     "EuroSAT?)",
                     path);
        goto done;
    }
    if (c.n > 1)
        qsort(c.recs, (size_t)c.n, sizeof *c.recs, es_cmp);
    int classes[10] = {0}, n_classes = 0;
    for (int64_t i = 0; i < c.n; i++) {
        if (i > 0 && es_cmp(&c.recs[i - 1], &c.recs[i]) == 0) {
            st = mz_fail(err, MZ_EFORMAT, "%s: image %s/%s appears twice", path,
                         es_classes[c.recs[i].cls], c.recs[i].file);
            goto done;
        }
        if (!classes[c.recs[i].cls]++)
            n_classes++;
    }
    if (n_classes != 10) {
        st = mz_fail(err, MZ_EFORMAT, "%s: images of %d classes found, expected all 10", path,
                     n_classes);
        goto done;
    }
    if ((st = mz_rd_images_reserve(&full, c.n, err)))
        goto done;
    for (int64_t i = 0; i < c.n; i++) {
        memcpy(full.x + i * ES_IMAGE, c.pix.x + c.recs[i].slot * ES_IMAGE, ES_IMAGE);
        full.y[i] = c.recs[i].cls; /* es_classes is sorted: ImageFolder's class index */
    }
    full.n = c.n;
    mz_rd_images_release(&c.pix);
    int side = v == 0 ? 28 : 32;
    if ((st = mz_rd_images_resize(&full, 3, ES_SIDE, ES_SIDE, side, side, err)))
        goto done;
    mz_split_sizes sz;
    if (sizes) {
        sz = *sizes;
    } else {
        if (full.n != 27000) {
            st = mz_fail(err, MZ_EFORMAT, "%s: %lld images, expected 27000 (incomplete archive?)",
                         path, (long long)full.n);
            goto done;
        }
        sz = (mz_split_sizes){21600, 2700, 2700};
    }
    const float half[3] = {0.5f, 0.5f, 0.5f};
    st = mz_rd_finish3(ds, "eurosat", 3, side, side, 10, &full, sz.n_train, sz.n_val, sz.n_test,
                       half, half, path, err);
done:
    free(c.recs);
    mz_rd_images_release(&c.pix);
    mz_rd_images_release(&full);
    if (st)
        mz_dataset_release(ds);
    return st;
}

mz_status mz_load_eurosat(mz_dataset *ds, const char *dir, const char *variant, mz_error *err)
{
    return mz_load_eurosat_sized(ds, dir, variant, NULL, err);
}
