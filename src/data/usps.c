/* USPS as distributed for torchvision (the LIBSVM data sets): usps.bz2 (7291 digits) and
 * usps.t.bz2 (2007), bzip2'd text, one digit per line: "label 1:v1 2:v2 ... 256:v256" with
 * label 1..10 (digit + 1) and values in [-1, 1], a 16x16 image row-major.
 *
 * torchvision's USPS parses the values as float32 and maps them to bytes with
 * ((v + 1) / 2 * 255).astype(uint8): float32 arithmetic, then truncation. We do the same: strtod,
 * round to float, the same three float operations, truncate. Preprocessing (the USPS CNN zoos):
 * PIL bilinear resize 16 -> 28, Normalize(0.1307, 0.3081). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef MZ_HAVE_BZ2
#include <bzlib.h>
#endif

#include "data/readers-impl.h"
#include "core/banned.h"

#define USPS_MAX_TEXT ((size_t)64 << 20)

#ifdef MZ_HAVE_BZ2
/* Decompresses a whole .bz2 file. Several concatenated streams are read as one (as Python's bz2
 * does); anything after the last stream that is not another stream is an error (Python ignores
 * it), as is a stream cut short. libbz2 checks each block's and each stream's CRC-32. */
static mz_status bunzip_file(const char *path, char **out, size_t *out_len, mz_error *err)
{
    uint8_t *in = NULL;
    size_t in_len = 0;
    mz_status st = mz_read_file(path, (size_t)16 << 20, (void **)&in, &in_len, err);
    if (st)
        return st;
    size_t cap = in_len < (USPS_MAX_TEXT - 4096) / 4 ? in_len * 4 + 4096 : USPS_MAX_TEXT, n = 0,
           pos = 0;
    char *buf = malloc(cap + 1);
    if (!buf) {
        free(in);
        return mz_fail(err, MZ_ENOMEM, "%s: out of memory", path);
    }
    if (in_len < 3 || memcmp(in, "BZh", 3) != 0) {
        st = mz_fail(err, MZ_EFORMAT, "%s: byte 0: not a bzip2 file (expected the magic 'BZh')",
                     path);
        goto done;
    }
    for (int stream = 1; pos < in_len; stream++) {
        if (in_len - pos < 3 || memcmp(in + pos, "BZh", 3) != 0) {
            st = mz_fail(err, MZ_EFORMAT,
                         "%s: byte %zu: %zu bytes of unexpected data after the end of bzip2 "
                         "stream %d (expected the end of the file or another stream, which starts "
                         "with 'BZh')",
                         path, pos, in_len - pos, stream - 1);
            goto done;
        }
        bz_stream bz;
        memset(&bz, 0, sizeof bz);
        if (BZ2_bzDecompressInit(&bz, 0, 0) != BZ_OK) {
            st = mz_fail(err, MZ_ENOMEM, "%s: cannot start bzip2 decompression", path);
            goto done;
        }
        bz.next_in = (char *)in + pos;
        bz.avail_in = (unsigned)(in_len - pos);
        int r;
        do {
            if (n == cap) {
                if (cap >= USPS_MAX_TEXT) {
                    BZ2_bzDecompressEnd(&bz);
                    st = mz_fail(err, MZ_ELIMIT, "%s: decompresses to more than %zu bytes", path,
                                 USPS_MAX_TEXT);
                    goto done;
                }
                size_t ncap = cap * 2 > USPS_MAX_TEXT ? USPS_MAX_TEXT : cap * 2;
                char *nb = realloc(buf, ncap + 1);
                if (!nb) {
                    BZ2_bzDecompressEnd(&bz);
                    st = mz_fail(err, MZ_ENOMEM, "%s: out of memory", path);
                    goto done;
                }
                buf = nb;
                cap = ncap;
            }
            bz.next_out = buf + n;
            bz.avail_out = (unsigned)(cap - n);
            r = BZ2_bzDecompress(&bz);
            n = cap - bz.avail_out;
        } while (r == BZ_OK && (bz.avail_in > 0 || bz.avail_out == 0));
        size_t consumed = (size_t)(bz.next_in - ((char *)in + pos));
        BZ2_bzDecompressEnd(&bz);
        if (r == BZ_OK) { /* all input used, stream not finished */
            st = mz_fail(err, MZ_EFORMAT,
                         "%s: truncated bzip2 data: the file ends at byte %zu, inside bzip2 stream "
                         "%d (which starts at byte %zu)",
                         path, in_len, stream, pos);
            goto done;
        }
        if (r != BZ_STREAM_END) {
            st = mz_fail(err, MZ_EFORMAT,
                         "%s: corrupt bzip2 data in stream %d (which starts at byte %zu), "
                         "detected at byte %zu of the file: %s",
                         path, stream, pos, pos + consumed,
                         r == BZ_DATA_ERROR         ? "a block or stream CRC does not match, or "
                                                      "a block is damaged"
                         : r == BZ_DATA_ERROR_MAGIC ? "bad stream header"
                         : r == BZ_MEM_ERROR        ? "out of memory"
                                                    : "libbz2 error");
            goto done;
        }
        pos += consumed;
    }
    buf[n] = '\0';
    *out = buf;
    *out_len = n;
    buf = NULL;
done:
    free(buf);
    free(in);
    return st;
}

/* Parses the text of one file into 16x16 images. */
static mz_status parse_usps(const char *path, const char *text, size_t len, mz_rd_images *im,
                            mz_error *err)
{
    const char *nul = memchr(text, '\0', len);
    if (nul) {
        int64_t at_line = 1;
        for (const char *c = text; c < nul; c++)
            at_line += *c == '\n';
        return mz_fail(err, MZ_EFORMAT,
                       "%s: line %lld (byte %zu of the decompressed text): a NUL byte (expected "
                       "LIBSVM text, not binary data)",
                       path, (long long)at_line, (size_t)(nul - text));
    }
    size_t pos = 0;
    int64_t line = 0;
    while (pos < len) {
        size_t end = pos;
        while (end < len && text[end] != '\n')
            end++;
        line++;
        /* Work on a NUL-terminated copy of the line (strtod/strtol need one). */
        size_t ll = end - pos;
        char stackbuf[8192];
        char *l = ll < sizeof stackbuf ? stackbuf : malloc(ll + 1);
        if (!l)
            return mz_fail(err, MZ_ENOMEM, "%s: out of memory", path);
        memcpy(l, text + pos, ll);
        l[ll] = '\0';
        pos = end + 1;
        char *p = l;
        while (*p == ' ' || *p == '\t' || *p == '\r')
            p++;
        if (!*p) {
            if (l != stackbuf)
                free(l);
            continue; /* blank line (e.g. the end of the file) */
        }
        mz_status st = mz_rd_images_reserve(im, im->n + 1, err);
        if (st) {
            if (l != stackbuf)
                free(l);
            return st;
        }
        char *q;
        errno = 0;
        long label = strtol(p, &q, 10);
        if (q == p || errno || label < 1 || label > 10 || (*q != ' ' && *q != '\t')) {
            st = mz_fail(err, MZ_EFORMAT, "%s: line %lld: bad label '%.20s' (expected 1..10)", path,
                         (long long)line, p);
            goto bad;
        }
        p = q;
        uint8_t *img = im->x + im->n * 256;
        for (int k = 1; k <= 256; k++) {
            while (*p == ' ' || *p == '\t')
                p++;
            errno = 0;
            long idx = strtol(p, &q, 10);
            if (q == p || *q != ':' || idx != k) {
                st = mz_fail(err, MZ_EFORMAT,
                             "%s: line %lld: feature %d: expected '%d:<value>', found '%.20s'",
                             path, (long long)line, k, k, p);
                goto bad;
            }
            p = q + 1;
            /* A plain decimal number, as Python's float() reads it: no hex, inf or nan. */
            size_t span = strspn(p, "0123456789+-.eE");
            double d = strtod(p, &q);
            if (q == p || q != p + span || !(d >= -1.0 && d <= 1.0)) {
                st = mz_fail(err, MZ_EFORMAT,
                             "%s: line %lld: feature %d: bad value '%.20s' (expected a number in "
                             "[-1, 1])",
                             path, (long long)line, k, p);
                goto bad;
            }
            p = q;
            float v = (float)d;
            float b = (v + 1.0f) / 2.0f * 255.0f;
            img[k - 1] = (uint8_t)b; /* numpy astype(uint8): truncation */
        }
        while (*p == ' ' || *p == '\t' || *p == '\r')
            p++;
        if (*p) {
            st = mz_fail(err, MZ_EFORMAT,
                         "%s: line %lld: unexpected '%.20s' after 256 features (wrong dimensions?)",
                         path, (long long)line, p);
            goto bad;
        }
        im->y[im->n] = (int32_t)label - 1;
        im->n++;
        if (l != stackbuf)
            free(l);
        continue;
    bad:
        if (l != stackbuf)
            free(l);
        return st;
    }
    if (im->n == 0)
        return mz_fail(err, MZ_EFORMAT, "%s: no digits in the file", path);
    return MZ_OK;
}

static mz_status read_usps(const char *path, mz_rd_images *im, mz_error *err)
{
    char *text = NULL;
    size_t len = 0;
    mz_status st = bunzip_file(path, &text, &len, err);
    if (st)
        return st;
    st = parse_usps(path, text, len, im, err);
    free(text);
    return st;
}
#endif

mz_status mz_load_usps_sized(mz_dataset *ds, const char *dir, const char *variant,
                             const mz_split_sizes *sizes, mz_error *err)
{
    static const char *const variants[] = {"28px", NULL};
    memset(ds, 0, sizeof *ds);
    int v;
    mz_status st = mz_rd_variant("usps", variant, variants, &v, err);
    if (st)
        return st;
#ifdef MZ_HAVE_BZ2
    static const char *const train_names[] = {"usps.bz2", NULL};
    static const char *const test_names[] = {"usps.t.bz2", NULL};
    const char *how =
        "from https://www.csie.ntu.edu.tw/~cjlin/libsvmtools/datasets/multiclass.html#usps";
    const char *base = dir && *dir ? dir : "/usr/share/datasets/usps";
    char train_path[MZ_RD_PATH_MAX], test_path[MZ_RD_PATH_MAX];
    if ((st = mz_rd_find_file("usps", base, base, train_names, how, train_path, sizeof train_path,
                              err)))
        return st;
    if (strcmp(train_path, base) == 0)
        return mz_fail(err, MZ_EINVAL,
                       "usps: %s: pass the directory holding usps.bz2 and usps.t.bz2, not a file",
                       base);
    if ((st = mz_rd_find_file("usps", base, base, test_names, how, test_path, sizeof test_path,
                              err)))
        return st;
    mz_rd_images full = {.bytes_per_image = 256}, test = {.bytes_per_image = 256};
    if ((st = read_usps(train_path, &full, err)) || (st = read_usps(test_path, &test, err)) ||
        (st = mz_rd_images_resize(&full, 1, 16, 16, 28, 28, err)) ||
        (st = mz_rd_images_resize(&test, 1, 16, 16, 28, 28, err))) {
        mz_rd_images_release(&full);
        mz_rd_images_release(&test);
        return st;
    }
    mz_split_sizes sz = sizes ? *sizes : (mz_split_sizes){6000, 1291, 2007};
    const float mean[1] = {0.1307f}, std[1] = {0.3081f};
    st = mz_rd_finish(ds, "usps", 1, 28, 28, 10, &full, &test, sz.n_train, sz.n_val, sz.n_test,
                      mean, std, train_path, err);
    if (st)
        mz_dataset_release(ds);
    return st;
#else
    (void)dir;
    (void)sizes;
    return mz_fail(err, MZ_EUNSUPPORTED,
                   "usps: this build has no libbz2 (install libbz2-dev and rebuild)");
#endif
}

mz_status mz_load_usps(mz_dataset *ds, const char *dir, const char *variant, mz_error *err)
{
    return mz_load_usps_sized(ds, dir, variant, NULL, err);
}
