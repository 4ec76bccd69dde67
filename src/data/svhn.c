/* SVHN (cropped digits), train_32x32.mat and test_32x32.mat (MATLAB v5 MAT-files).
 *
 * X is uint8 [32][32][3][N] in MATLAB's column-major order, so image n, channel c, row r, column
 * k is at r + 32 k + 1024 c + 3072 n; y is N x 1 with labels 1..10, 10 meaning the digit 0
 * (torchvision: np.place(labels, labels == 10, 0)). Preprocessing (the SVHN CNN zoos): PIL
 * convert("L"), CenterCrop(28) (offset 2), Normalize(0.5, 0.5).
 *
 * The files are read by the small MAT v5 reader below rather than by libmatio: matio allocates
 * whatever the dimensions in a file say before reading anything (a crafted file made it ask for
 * terabytes), fills a variable cut short by the end of the file with zeros, and ignores the
 * result of inflating a compressed variable, so a damaged file loaded as an all-zero training set.
 * Here every size is checked against the file before use, images are converted as they are read
 * (memory grows with the data actually present), compressed variables must inflate completely
 * with a correct Adler-32, and every error names the file, the variable and the byte offset.
 *
 * MAT v5 layout (little-endian; "MATLAB 5.0 MAT-file" format): a 128-byte header (text, subsystem
 * offset, version 0x0100, endian indicator "IM"), then one top-level data element per variable:
 * miMATRIX (14), or miCOMPRESSED (15) holding a zlib stream of one miMATRIX element. An element is
 * an 8-byte tag (uint32 type, uint32 byte count) and its data padded to 8 bytes; a sub-element of
 * at most 4 bytes may use the small format (byte count in the tag's upper 16 bits, data in its
 * second word). miMATRIX holds, in order: array flags (miUINT32 x 2: class in the low byte,
 * complex flag 0x800), dimensions (miINT32 x rank), the name (miINT8), the real part (any numeric
 * type). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "data/readers-impl.h"
#include "core/banned.h"

#define SVHN_MAX_IMAGES ((uint64_t)1 << 20) /* the official files hold 73257 and 26032 */
#define SVHN_CHUNK 256                      /* images converted per read */
#define MAT_MAX_RANK 8
#define MAT_MAX_NAME 63    /* MATLAB's namelengthmax */
#define DEFLATE_RATIO 1032 /* deflate cannot expand data by more than ~1032:1 */

enum { MI_INT8 = 1, MI_UINT8, MI_INT16, MI_UINT16, MI_INT32, MI_UINT32, MI_SINGLE, MI_DOUBLE = 9 };
enum { MI_INT64 = 12, MI_UINT64, MI_MATRIX, MI_COMPRESSED };
enum { MX_DOUBLE = 6, MX_UINT8 = 9, MX_UINT64 = 15 };

static size_t mi_size(uint32_t type)
{
    switch (type) {
    case MI_INT8:
    case MI_UINT8:
        return 1;
    case MI_INT16:
    case MI_UINT16:
        return 2;
    case MI_INT32:
    case MI_UINT32:
    case MI_SINGLE:
        return 4;
    case MI_DOUBLE:
    case MI_INT64:
    case MI_UINT64:
        return 8;
    }
    return 0;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Element i of little-endian numeric data of MAT type `type`, as a double. */
static double mi_value(const uint8_t *p, uint32_t type)
{
    uint64_t u = 0;
    for (size_t k = mi_size(type); k-- > 0;)
        u = u << 8 | p[k];
    switch (type) {
    case MI_INT8:
        return (int8_t)u;
    case MI_UINT8:
    case MI_UINT16:
    case MI_UINT32:
        return (double)u;
    case MI_INT16:
        return (int16_t)u;
    case MI_INT32:
        return (int32_t)u;
    case MI_INT64:
        return (double)(int64_t)u;
    case MI_UINT64:
        return (double)u;
    case MI_SINGLE: {
        uint32_t w = (uint32_t)u;
        float f;
        memcpy(&f, &w, 4);
        return f;
    }
    case MI_DOUBLE: {
        double d;
        memcpy(&d, &u, 8);
        return d;
    }
    }
    return -1;
}

/* The bytes of one variable's miMATRIX element (after its tag), read from the file or inflated. */
typedef struct var_src {
    FILE *f;
    const char *path;
    char name[MAT_MAX_NAME + 1]; /* once known; "" before */
    int index;                   /* 1-based position of the variable in the file */
    uint64_t at;                 /* file offset of the top-level element's tag */
    int compressed;
    uint64_t file_left; /* bytes of the top-level element not yet read from the file */
    uint64_t left;      /* bytes of the miMATRIX content not yet consumed */
    uint64_t done;      /* bytes of the miMATRIX element delivered so far, its tag included */
    z_stream z;
    int z_live;
    uint8_t *in;
} var_src;

#define ZIN_SIZE ((size_t)1 << 16)

/* "variable X (element at byte 128)", for messages. */
static const char *var_label(const var_src *s, char *buf, size_t cap)
{
    if (s->name[0])
        snprintf(buf, cap, "variable %s (element at byte %llu)", s->name,
                 (unsigned long long)s->at);
    else
        snprintf(buf, cap, "variable %d (element at byte %llu)", s->index,
                 (unsigned long long)s->at);
    return buf;
}

/* Where the next byte of the variable comes from, for messages. */
static const char *var_where(const var_src *s, char *buf, size_t cap)
{
    if (s->compressed)
        snprintf(buf, cap, "byte %llu of its decompressed data", (unsigned long long)s->done);
    else
        snprintf(buf, cap, "byte %llu of the file", (unsigned long long)(s->at + 8 + s->done));
    return buf;
}

/* Gives zlib more of the element's compressed bytes when it has used up the last ones. */
static mz_status zin_fill(var_src *s, mz_error *err)
{
    if (s->z.avail_in > 0 || s->file_left == 0)
        return MZ_OK;
    size_t want = s->file_left < ZIN_SIZE ? (size_t)s->file_left : ZIN_SIZE;
    if (fread(s->in, 1, want, s->f) != want) {
        char lb[160];
        return mz_fail(err, ferror(s->f) ? MZ_EIO : MZ_EFORMAT,
                       "%s: %s: cannot read its compressed data (%s)", s->path,
                       var_label(s, lb, sizeof lb),
                       ferror(s->f) ? "read error" : "the file ended early");
    }
    s->file_left -= want;
    s->z.next_in = s->in;
    s->z.avail_in = (uInt)want;
    return MZ_OK;
}

/* File offset of the next compressed byte zlib will read. */
static uint64_t zin_offset(const var_src *s)
{
    return s->at + 8 + (uint64_t)s->z.total_in;
}

/* Reads exactly n bytes of the element (from the decompressed stream if compressed). */
static mz_status var_read(var_src *s, void *buf, size_t n, const char *what, mz_error *err)
{
    char lb[160], wb[96];
    if (n > s->left)
        return mz_fail(err, MZ_EFORMAT,
                       "%s: %s: %s: %s needs %zu bytes but only %llu are left in the element "
                       "(corrupt sizes)",
                       s->path, var_label(s, lb, sizeof lb), var_where(s, wb, sizeof wb), what, n,
                       (unsigned long long)s->left);
    if (!s->compressed) {
        size_t got = fread(buf, 1, n, s->f);
        if (got != n)
            return mz_fail(err, ferror(s->f) ? MZ_EIO : MZ_EFORMAT,
                           "%s: %s: %s: cannot read %s (%zu of %zu bytes: %s)", s->path,
                           var_label(s, lb, sizeof lb), var_where(s, wb, sizeof wb), what, got, n,
                           ferror(s->f) ? "read error" : "the file ended early");
        s->file_left -= n;
    } else {
        s->z.next_out = buf;
        s->z.avail_out = (uInt)n;
        while (s->z.avail_out > 0) {
            mz_status st = zin_fill(s, err);
            if (st)
                return st;
            uInt before = s->z.avail_out;
            int r = inflate(&s->z, Z_NO_FLUSH);
            size_t made = before - s->z.avail_out;
            s->done += made;
            if (r == Z_STREAM_END && s->z.avail_out > 0)
                return mz_fail(err, MZ_EFORMAT,
                               "%s: %s: %s: the compressed data ends there, but %s needs %zu "
                               "more bytes (truncated or corrupt variable)",
                               s->path, var_label(s, lb, sizeof lb), var_where(s, wb, sizeof wb),
                               what, (size_t)s->z.avail_out);
            if (r == Z_DATA_ERROR || r == Z_NEED_DICT || r == Z_STREAM_ERROR || r == Z_MEM_ERROR)
                return mz_fail(err, r == Z_MEM_ERROR ? MZ_ENOMEM : MZ_EFORMAT,
                               "%s: %s: corrupt compressed data (zlib: %s), detected at byte "
                               "%llu of the file, at %s",
                               s->path, var_label(s, lb, sizeof lb), s->z.msg ? s->z.msg : "error",
                               (unsigned long long)zin_offset(s), var_where(s, wb, sizeof wb));
            if (made == 0 && s->z.avail_in == 0 && s->file_left == 0)
                return mz_fail(err, MZ_EFORMAT,
                               "%s: %s: %s: the element's compressed data (%llu bytes) ends "
                               "before %s (%zu more bytes) and before the end of its zlib "
                               "stream: truncated",
                               s->path, var_label(s, lb, sizeof lb), var_where(s, wb, sizeof wb),
                               (unsigned long long)s->z.total_in, what, (size_t)s->z.avail_out);
        }
        return MZ_OK; /* s->done was counted as the data arrived */
    }
    s->done += n;
    return MZ_OK;
}

/* var_read, also counting the bytes against the element's content. */
static mz_status var_take(var_src *s, void *buf, size_t n, const char *what, mz_error *err)
{
    mz_status st = var_read(s, buf, n, what, err);
    if (!st)
        s->left -= n;
    return st;
}

/* Skips n bytes of the element's content. */
static mz_status var_skip(var_src *s, uint64_t n, const char *what, mz_error *err)
{
    uint8_t tmp[4096];
    while (n > 0) {
        size_t k = n < sizeof tmp ? (size_t)n : sizeof tmp;
        mz_status st = var_take(s, tmp, k, what, err);
        if (st)
            return st;
        n -= k;
    }
    return MZ_OK;
}

/* A sub-element tag. Small format: *small = 1 and the data (at most 4 bytes) are in data[]. */
static mz_status var_tag(var_src *s, uint32_t *type, uint32_t *n, int *small, uint8_t data[4],
                         const char *what, mz_error *err)
{
    uint8_t t[8];
    mz_status st = var_take(s, t, 8, what, err);
    if (st)
        return st;
    uint32_t w = le32(t);
    *small = (w >> 16) != 0;
    if (*small) {
        *type = w & 0xffff;
        *n = w >> 16;
        memcpy(data, t + 4, 4);
        if (*n > 4) {
            char lb[160];
            return mz_fail(err, MZ_EFORMAT,
                           "%s: %s: %s: small-format tag claims %u bytes (at most 4 fit)", s->path,
                           var_label(s, lb, sizeof lb), what, (unsigned)*n);
        }
    } else {
        *type = w;
        *n = le32(t + 4);
    }
    return MZ_OK;
}

/* Skips the padding after a regular sub-element of n bytes. */
static mz_status var_pad(var_src *s, uint64_t n, const char *what, mz_error *err)
{
    return var_skip(s, (8 - n % 8) % 8, what, err);
}

/* After the variable's last sub-element: nothing may be left, and a compressed element's zlib
 * stream must end there (zlib then has checked its Adler-32) with nothing after it. */
static mz_status var_finish(var_src *s, mz_error *err)
{
    char lb[160], wb[96];
    if (s->left)
        return mz_fail(err, MZ_EFORMAT,
                       "%s: %s: %s: %llu unexpected bytes after the variable's data (expected the "
                       "end of its element)",
                       s->path, var_label(s, lb, sizeof lb), var_where(s, wb, sizeof wb),
                       (unsigned long long)s->left);
    if (!s->compressed)
        return MZ_OK;
    uint8_t extra;
    for (;;) {
        mz_status st = zin_fill(s, err);
        if (st)
            return st;
        s->z.next_out = &extra;
        s->z.avail_out = 1;
        int r = inflate(&s->z, Z_NO_FLUSH);
        if (s->z.avail_out == 0)
            return mz_fail(err, MZ_EFORMAT,
                           "%s: %s: %s: unexpected data after the variable's miMATRIX element, "
                           "inside its compressed data",
                           s->path, var_label(s, lb, sizeof lb), var_where(s, wb, sizeof wb));
        if (r == Z_STREAM_END)
            break;
        if (r != Z_OK && r != Z_BUF_ERROR)
            return mz_fail(err, MZ_EFORMAT,
                           "%s: %s: corrupt compressed data at the end of the variable (zlib: "
                           "%s), detected at byte %llu of the file",
                           s->path, var_label(s, lb, sizeof lb), s->z.msg ? s->z.msg : "error",
                           (unsigned long long)zin_offset(s));
        if (s->z.avail_in == 0 && s->file_left == 0)
            return mz_fail(err, MZ_EFORMAT,
                           "%s: %s: byte %llu of the file: the element ends before its zlib "
                           "stream does (the end of the deflate data or the Adler-32 is "
                           "missing): truncated",
                           s->path, var_label(s, lb, sizeof lb), (unsigned long long)zin_offset(s));
    }
    uint64_t rest = s->z.avail_in + s->file_left;
    if (rest)
        return mz_fail(err, MZ_EFORMAT,
                       "%s: %s: byte %llu of the file: %llu bytes after the end of the zlib "
                       "stream, inside the element",
                       s->path, var_label(s, lb, sizeof lb), (unsigned long long)zin_offset(s),
                       (unsigned long long)rest);
    return MZ_OK;
}

static void var_release(var_src *s)
{
    if (s->z_live)
        inflateEnd(&s->z);
    s->z_live = 0;
    free(s->in);
    s->in = NULL;
}

/* What read_mat collects from X and y. */
typedef struct svhn_vars {
    int have_x, have_y;
    uint64_t nx, ny;
    int32_t *labels; /* [ny], 0..9 */
} svhn_vars;

/* X's real part: n images of 3072 bytes, converted to 28x28 gray as they arrive. */
static mz_status read_images(var_src *s, uint64_t n, mz_rd_images *im, mz_error *err)
{
    uint8_t *raw = malloc((size_t)SVHN_CHUNK * 3072), rgb[3 * 32 * 32], gray[32 * 32];
    if (!raw)
        return mz_fail(err, MZ_ENOMEM, "%s: out of memory", s->path);
    mz_status st = MZ_OK;
    for (uint64_t i = 0; i < n && !st;) {
        size_t k = n - i < SVHN_CHUNK ? (size_t)(n - i) : SVHN_CHUNK;
        char what[64];
        snprintf(what, sizeof what, "image %llu", (unsigned long long)i + 1);
        if ((st = var_take(s, raw, k * 3072, what, err)) ||
            (st = mz_rd_images_reserve(im, im->n + (int64_t)k, err)))
            break;
        for (size_t j = 0; j < k; j++) {
            const uint8_t *src = raw + j * 3072;
            for (int c = 0; c < 3; c++)
                for (int r = 0; r < 32; r++)
                    for (int q = 0; q < 32; q++)
                        rgb[(c * 32 + r) * 32 + q] = src[r + 32 * q + 1024 * c];
            mz_pil_rgb_to_l(rgb, 32, 32, gray);
            mz_pil_center_crop(gray, 1, 32, 32, im->x + im->n * 784, 28, 28);
            im->n++;
        }
        i += k;
    }
    free(raw);
    return st;
}

/* Reads one variable's miMATRIX content: X into im, y into v->labels, others skipped. */
static mz_status read_var(var_src *s, svhn_vars *v, mz_rd_images *im, mz_error *err)
{
    char lb[160], wb[96];
    uint32_t type, n;
    int small;
    uint8_t sd[4], flags[8];
    mz_status st;
    /* array flags */
    if ((st = var_tag(s, &type, &n, &small, sd, "the array flags", err)))
        return st;
    if (small || type != MI_UINT32 || n != 8)
        return mz_fail(err, MZ_EFORMAT,
                       "%s: %s: array flags of type %u and %u bytes (expected miUINT32, 8 bytes)",
                       s->path, var_label(s, lb, sizeof lb), (unsigned)type, (unsigned)n);
    if ((st = var_take(s, flags, 8, "the array flags", err)))
        return st;
    int cls = flags[0], complex = (flags[1] & 0x08) != 0;
    /* dimensions */
    if ((st = var_tag(s, &type, &n, &small, sd, "the dimensions", err)))
        return st;
    uint8_t db[4 * MAT_MAX_RANK];
    if (small || type != MI_INT32 || n % 4 || n < 8 || n > sizeof db)
        return mz_fail(err, MZ_EFORMAT,
                       "%s: %s: dimensions of type %u and %u bytes (expected miINT32, rank 2 to "
                       "%d)",
                       s->path, var_label(s, lb, sizeof lb), (unsigned)type, (unsigned)n,
                       MAT_MAX_RANK);
    if ((st = var_take(s, db, n, "the dimensions", err)) ||
        (st = var_pad(s, n, "the dimensions", err)))
        return st;
    int rank = (int)(n / 4); /* the values are checked once the name is known, for the message */
    /* name */
    if ((st = var_tag(s, &type, &n, &small, sd, "the name", err)))
        return st;
    if ((type != MI_INT8 && type != MI_UINT8) || n > MAT_MAX_NAME)
        return mz_fail(
            err, MZ_EFORMAT, "%s: %s: name of type %u and %u bytes (expected miINT8, at most %d)",
            s->path, var_label(s, lb, sizeof lb), (unsigned)type, (unsigned)n, MAT_MAX_NAME);
    char name[MAT_MAX_NAME + 1];
    if (small)
        memcpy(name, sd, n);
    else if ((st = var_take(s, name, n, "the name", err)) || (st = var_pad(s, n, "the name", err)))
        return st;
    name[n] = '\0';
    if (strlen(name) != n)
        return mz_fail(err, MZ_EFORMAT, "%s: %s: the name holds a NUL byte", s->path,
                       var_label(s, lb, sizeof lb));
    memcpy(s->name, name, n + 1);
    int64_t dims[MAT_MAX_RANK];
    for (int i = 0; i < rank; i++) {
        dims[i] = (int32_t)le32(db + 4 * i);
        if (dims[i] < 0)
            return mz_fail(err, MZ_EFORMAT, "%s: %s: dimension %d is %lld (negative)", s->path,
                           var_label(s, lb, sizeof lb), i + 1, (long long)dims[i]);
    }
    int is_x = strcmp(name, "X") == 0, is_y = strcmp(name, "y") == 0;
    if (!is_x && !is_y)
        return var_skip(s, s->left, "another variable", err); /* not ours: only its size counts */
    if ((is_x && v->have_x) || (is_y && v->have_y))
        return mz_fail(err, MZ_EFORMAT, "%s: %s: a second variable %s", s->path,
                       var_label(s, lb, sizeof lb), name);
    /* shape and class */
    uint64_t count = 1;
    for (int i = 0; i < rank; i++) {
        count *= (uint64_t)dims[i]; /* factors < 2^31, count < 2^32 before: no overflow */
        if (count > SVHN_MAX_IMAGES * 3072)
            break;
    }
    if (is_x) {
        if (cls != MX_UINT8 || complex || rank != 4 || dims[0] != 32 || dims[1] != 32 ||
            dims[2] != 3 || (uint64_t)dims[3] > SVHN_MAX_IMAGES)
            return mz_fail(err, MZ_EFORMAT,
                           "%s: %s: class %d%s, rank %d, dims [%lld %lld %lld %lld%s] (expected "
                           "uint8 32x32x3xN, N at most %llu)",
                           s->path, var_label(s, lb, sizeof lb), cls, complex ? " complex" : "",
                           rank, (long long)dims[0], (long long)dims[1],
                           rank > 2 ? (long long)dims[2] : 0, rank > 3 ? (long long)dims[3] : 0,
                           rank > 4 ? " ..." : "", (unsigned long long)SVHN_MAX_IMAGES);
    } else {
        int vector = rank == 2 && (dims[0] == 1 || dims[1] == 1);
        if (cls < MX_DOUBLE || cls > MX_UINT64 || complex || !vector || count > SVHN_MAX_IMAGES)
            return mz_fail(err, MZ_EFORMAT,
                           "%s: %s: class %d%s, rank %d, dims [%lld %lld%s] (expected a real "
                           "numeric N x 1 vector, N at most %llu)",
                           s->path, var_label(s, lb, sizeof lb), cls, complex ? " complex" : "",
                           rank, (long long)dims[0], rank > 1 ? (long long)dims[1] : 0,
                           rank > 2 ? " ..." : "", (unsigned long long)SVHN_MAX_IMAGES);
    }
    /* real part */
    if ((st = var_tag(s, &type, &n, &small, sd, "the real part", err)))
        return st;
    size_t es = mi_size(type);
    if (!es || (is_x && type != MI_UINT8) || (uint64_t)n != count * es)
        return mz_fail(err, MZ_EFORMAT,
                       "%s: %s: %s: real part of type %u and %u bytes for %llu elements (expected "
                       "%s, %llu bytes)",
                       s->path, var_label(s, lb, sizeof lb), var_where(s, wb, sizeof wb),
                       (unsigned)type, (unsigned)n, (unsigned long long)count,
                       is_x ? "miUINT8" : "a numeric type",
                       (unsigned long long)(count * (es ? es : 1)));
    if (!small && n > s->left)
        return mz_fail(err, MZ_EFORMAT,
                       "%s: %s: %s: the real part declares %u bytes but only %llu are left in the "
                       "element (truncated or corrupt)",
                       s->path, var_label(s, lb, sizeof lb), var_where(s, wb, sizeof wb),
                       (unsigned)n, (unsigned long long)s->left);
    if (is_x) {
        v->have_x = 1;
        v->nx = count / 3072;
        if ((st = read_images(s, v->nx, im, err)))
            return st;
    } else {
        v->have_y = 1;
        v->ny = count;
        uint8_t *raw = malloc(n ? n : 1);
        v->labels = malloc((size_t)(count ? count : 1) * sizeof *v->labels);
        if (!raw || !v->labels) {
            free(raw);
            return mz_fail(err, MZ_ENOMEM, "%s: out of memory", s->path);
        }
        if (small)
            memcpy(raw, sd, n);
        else
            st = var_take(s, raw, n, "the labels", err);
        for (uint64_t i = 0; i < count && !st; i++) {
            double lab = mi_value(raw + i * es, type);
            if (!(lab >= 1 && lab <= 10) || lab != (double)(int)lab)
                st = mz_fail(err, MZ_EFORMAT,
                             "%s: %s: y(%llu) = %g: label out of range (expected 1..10)", s->path,
                             var_label(s, lb, sizeof lb), (unsigned long long)i + 1, lab);
            else
                v->labels[i] = (int)lab % 10;
        }
        free(raw);
        if (st)
            return st;
    }
    if (!small && (st = var_pad(s, n, "the padding", err)))
        return st;
    return MZ_OK;
}

/* Reads one .mat file into im as preprocessed 1x28x28 images. */
static mz_status read_mat(const char *path, mz_rd_images *im, mz_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return mz_fail(err, MZ_EIO, "%s: cannot open", path);
    struct stat sb;
    uint64_t size = fstat(fileno(f), &sb) == 0 ? (uint64_t)sb.st_size : 0;
    uint8_t hdr[128];
    mz_status st = MZ_OK;
    svhn_vars v = {0};
    var_src s;
    memset(&s, 0, sizeof s);
    if (fread(hdr, 1, sizeof hdr, f) != sizeof hdr) {
        st = mz_fail(err, MZ_EFORMAT,
                     "%s: not a MATLAB v5 MAT-file: %llu bytes, shorter than the 128-byte header",
                     path, (unsigned long long)size);
        goto done;
    }
    unsigned version = (unsigned)hdr[124] | (unsigned)hdr[125] << 8;
    if (hdr[126] == 'M' && hdr[127] == 'I') {
        st = mz_fail(err, MZ_EFORMAT,
                     "%s: byte 126: a big-endian MAT-file (the official files are little-endian; "
                     "not supported)",
                     path);
        goto done;
    }
    if (hdr[126] != 'I' || hdr[127] != 'M' || version != 0x0100) {
        st = mz_fail(err, MZ_EFORMAT,
                     "%s: byte 124: version 0x%04x, endian indicator %02x %02x (expected 0x0100 "
                     "and 'IM', a MATLAB v5 MAT-file%s)",
                     path, version, hdr[126], hdr[127],
                     version == 0x0200 ? "; v7.3 (HDF5) MAT-files are not supported" : "");
        goto done;
    }
    uint64_t off = 128;
    int index = 0;
    while (off < size) {
        if (size - off < 8) {
            /* A writer may pad the file to a multiple of 8 bytes with zeros; nothing else. */
            uint8_t pad[8];
            size_t k = (size_t)(size - off);
            if (fread(pad, 1, k, f) != k || memcmp(pad, "\0\0\0\0\0\0\0", k) != 0) {
                st = mz_fail(err, MZ_EFORMAT,
                             "%s: byte %llu: %zu stray bytes at the end of the file (expected "
                             "another 8-byte element tag or the end)",
                             path, (unsigned long long)off, k);
                goto done;
            }
            break;
        }
        uint8_t t[8];
        if (fread(t, 1, 8, f) != 8) {
            st = mz_fail(err, MZ_EIO, "%s: byte %llu: read error", path, (unsigned long long)off);
            goto done;
        }
        uint32_t type = le32(t), n = le32(t + 4);
        index++;
        memset(&s, 0, sizeof s);
        s.f = f;
        s.path = path;
        s.index = index;
        s.at = off;
        char lb[160];
        if (type != MI_MATRIX && type != MI_COMPRESSED) {
            st = mz_fail(err, MZ_EFORMAT,
                         "%s: %s: data type %u (expected miMATRIX 14 or miCOMPRESSED 15)", path,
                         var_label(&s, lb, sizeof lb), (unsigned)type);
            goto done;
        }
        if ((uint64_t)n > size - off - 8) {
            st = mz_fail(err, MZ_EFORMAT,
                         "%s: %s: the element declares %u bytes, but the file ends %llu bytes "
                         "after its tag, at byte %llu (truncated file?)",
                         path, var_label(&s, lb, sizeof lb), (unsigned)n,
                         (unsigned long long)(size - off - 8), (unsigned long long)size);
            goto done;
        }
        s.file_left = n;
        s.compressed = type == MI_COMPRESSED;
        if (!s.compressed) {
            s.left = n;
        } else {
            s.in = malloc(ZIN_SIZE);
            if (!s.in || inflateInit(&s.z) != Z_OK) {
                st = mz_fail(err, MZ_ENOMEM, "%s: out of memory", path);
                goto done;
            }
            s.z_live = 1;
            /* The inner miMATRIX tag; its size must be one deflate could produce from n bytes. */
            s.left = 8;
            uint8_t it[8];
            if ((st = var_read(&s, it, 8, "the compressed element's tag", err)))
                goto done;
            s.left = le32(it + 4);
            if (le32(it) != MI_MATRIX || s.left > (uint64_t)n * DEFLATE_RATIO + 64) {
                st = mz_fail(err, MZ_EFORMAT,
                             "%s: %s: the compressed data holds an element of type %u and %llu "
                             "bytes (expected miMATRIX, at most %llu bytes from %u compressed "
                             "ones)",
                             path, var_label(&s, lb, sizeof lb), (unsigned)le32(it),
                             (unsigned long long)s.left,
                             (unsigned long long)((uint64_t)n * DEFLATE_RATIO + 64), (unsigned)n);
                goto done;
            }
        }
        if ((st = read_var(&s, &v, im, err)) || (st = var_finish(&s, err)))
            goto done;
        var_release(&s);
        off += 8 + (uint64_t)n;
        if (fseeko(f, (off_t)off, SEEK_SET) != 0) {
            st = mz_fail(err, MZ_EIO, "%s: byte %llu: seek error", path, (unsigned long long)off);
            goto done;
        }
    }
    if (!v.have_x || !v.have_y) {
        st = mz_fail(err, MZ_EFORMAT, "%s: variable %s missing (expected X and y)", path,
                     !v.have_x ? "X" : "y");
        goto done;
    }
    if (v.ny != v.nx) {
        st = mz_fail(err, MZ_EFORMAT,
                     "%s: variable y holds %llu labels for the %llu images of X (expected a real "
                     "%llu x 1 vector)",
                     path, (unsigned long long)v.ny, (unsigned long long)v.nx,
                     (unsigned long long)v.nx);
        goto done;
    }
    if (v.nx)
        memcpy(im->y + (im->n - (int64_t)v.nx), v.labels, (size_t)v.nx * sizeof *v.labels);
done:
    var_release(&s);
    free(v.labels);
    fclose(f);
    return st;
}

mz_status mz_load_svhn_sized(mz_dataset *ds, const char *dir, const char *variant,
                             const mz_split_sizes *sizes, mz_error *err)
{
    static const char *const variants[] = {"28px", NULL};
    memset(ds, 0, sizeof *ds);
    int v;
    mz_status st = mz_rd_variant("svhn", variant, variants, &v, err);
    if (st)
        return st;
    static const char *const train_names[] = {"train_32x32.mat", NULL};
    static const char *const test_names[] = {"test_32x32.mat", NULL};
    const char *how = "from http://ufldl.stanford.edu/housenumbers/ (format 2, cropped digits)";
    char train_path[MZ_RD_PATH_MAX], test_path[MZ_RD_PATH_MAX], parent[MZ_RD_PATH_MAX];
    const char *base = dir && *dir ? dir : "/usr/share/datasets/svhn";
    if ((st = mz_rd_find_file("svhn", base, base, train_names, how, train_path, sizeof train_path,
                              err)))
        return st;
    if (strcmp(train_path, base) == 0) {
        /* Given a file (the training file): the test file is expected beside it. */
        const char *slash = strrchr(base, '/');
        snprintf(parent, sizeof parent, "%.*s", slash ? (int)(slash - base) : 1,
                 slash ? base : ".");
        if (slash == base)
            snprintf(parent, sizeof parent, "/");
        base = parent;
    }
    if ((st = mz_rd_find_file("svhn", base, base, test_names, how, test_path, sizeof test_path,
                              err)))
        return st;
    mz_rd_images full = {.bytes_per_image = 784}, test = {.bytes_per_image = 784};
    if ((st = read_mat(train_path, &full, err)) || (st = read_mat(test_path, &test, err))) {
        mz_rd_images_release(&full);
        mz_rd_images_release(&test);
        return st;
    }
    mz_split_sizes sz = sizes ? *sizes : (mz_split_sizes){60000, 13257, 26032};
    const float half[1] = {0.5f};
    st = mz_rd_finish(ds, "svhn", 1, 28, 28, 10, &full, &test, sz.n_train, sz.n_val, sz.n_test,
                      half, half, train_path, err);
    if (st)
        mz_dataset_release(ds);
    return st;
}

mz_status mz_load_svhn(mz_dataset *ds, const char *dir, const char *variant, mz_error *err)
{
    return mz_load_svhn_sized(ds, dir, variant, NULL, err);
}
