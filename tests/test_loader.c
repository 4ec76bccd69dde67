/* Loader: the layout map against the reference's index_dict.json, position
 * matching of dropout 0 / > 0 CNN-s variants, epoch lists, the split by model, array files, and
 * (with zoo files written through the store API with synthetic weights) vectorisation, filters,
 * splits, streaming and the dataset directory round trip. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "mzoo/loader.h"
#include "mzoo/nn.h"
#include "loader/arrays-impl.h"
#include "loader/loader-impl.h"

static void build_cnn_layout(mz_vec_layout *L, const char *arch, int channels,
                             const double *dropouts, int nv, const char *layers, int with_bias,
                             mz_status want)
{
    mz_arch a[4];
    const char *names[4];
    const mz_tensor_desc *tens[4];
    int counts[4];
    mz_error err = {0};
    for (int v = 0; v < nv; v++) {
        int h = !strcmp(arch, "cnn-l") ? 32 : 28;
        CHECK_OK(mz_arch_init(&a[v], arch, channels, h, h, dropouts[v], &err), &err);
        names[v] = a[v].variant;
        tens[v] = a[v].tensors;
        counts[v] = a[v].n_tensors;
    }
    mz_status st = mz_vec_layout_build(L, nv, names, tens, counts, layers, with_bias, &err);
    CHECK_MSG(st == want, "layout build returned %d (want %d): %s", st, want, err.msg);
}

/* The verified CNN-s C=1 index_dict.json, and the inferred C=3 / CNN-l C=3 ones. */
static void test_index_dict(void)
{
    static const double p0[1] = {0}, p1[1] = {0.5}, mixed[2] = {0, 0.5}, mixed2[2] = {0.5, 0};
    mz_vec_layout L;
    build_cnn_layout(&L, "cnn-s", 1, p0, 1, NULL, 1, MZ_OK);
    static const int64_t start[5] = {0, 208, 1414, 1514, 2254}, len[5] = {208, 1206, 100, 740, 210},
                         kno[5] = {8, 6, 4, 20, 10}, ksz[5] = {25, 25, 4, 9, 1},
                         cin[5] = {1, 8, 6, 4, 20};
    static const int midx[5] = {0, 3, 6, 9, 11};
    static const char *const nm[5] = {"conv1", "conv2", "conv3", "fc1", "fc2"};
    CHECK_EQ_INT(L.n_layers, 5);
    CHECK_EQ_INT(L.dim, 2464);
    for (int l = 0; l < 5; l++) {
        CHECK_EQ_INT(L.layers[l].idx_start, start[l]);
        CHECK_EQ_INT(L.layers[l].idx_length, len[l]);
        CHECK_EQ_INT(L.layers[l].kernel_no, kno[l]);
        CHECK_EQ_INT(L.layers[l].kernel_size, ksz[l]);
        CHECK_EQ_INT(L.layers[l].channels_in, cin[l]);
        CHECK_EQ_INT(L.layers[l].module_index, midx[l]);
        CHECK(!strcmp(L.layers[l].name, nm[l]));
        CHECK(!strcmp(L.layers[l].type, l < 3 ? "conv2d" : "fc"));
    }
    mz_vec_layout_release(&L);

    build_cnn_layout(&L, "cnn-s", 3, p0, 1, NULL, 1, MZ_OK);
    static const int64_t start3[5] = {0, 608, 1814, 1914, 2654}, cin3[5] = {3, 8, 6, 4, 20};
    CHECK_EQ_INT(L.dim, 2864);
    for (int l = 0; l < 5; l++) {
        CHECK_EQ_INT(L.layers[l].idx_start, start3[l]);
        CHECK_EQ_INT(L.layers[l].channels_in, cin3[l]);
    }
    mz_vec_layout_release(&L);

    build_cnn_layout(&L, "cnn-l", 3, p0, 1, NULL, 1, MZ_OK);
    static const int64_t sl[5] = {0, 448, 5088, 9423, 10643}, ll[5] = {448, 4640, 4335, 1220, 210},
                         kl[5] = {16, 32, 15, 20, 10}, zl[5] = {9, 9, 9, 4, 1},
                         cl[5] = {3, 16, 32, 15, 20};
    static const int ml[5] = {0, 4, 8, 13, 16};
    CHECK_EQ_INT(L.dim, 10853);
    for (int l = 0; l < 5; l++) {
        CHECK_EQ_INT(L.layers[l].idx_start, sl[l]);
        CHECK_EQ_INT(L.layers[l].idx_length, ll[l]);
        CHECK_EQ_INT(L.layers[l].kernel_no, kl[l]);
        CHECK_EQ_INT(L.layers[l].kernel_size, zl[l]);
        CHECK_EQ_INT(L.layers[l].channels_in, cl[l]);
        CHECK_EQ_INT(L.layers[l].module_index, ml[l]);
    }
    mz_vec_layout_release(&L);

    /* dropout > 0 alone: same positions, shifted module indices 0/4/8/11/14 */
    build_cnn_layout(&L, "cnn-s", 1, p1, 1, NULL, 1, MZ_OK);
    static const int midx1[5] = {0, 4, 8, 11, 14};
    CHECK_EQ_INT(L.dim, 2464);
    for (int l = 0; l < 5; l++)
        CHECK_EQ_INT(L.layers[l].module_index, midx1[l]);
    mz_vec_layout_release(&L);

    /* mixed zoo: one layout of 2464 floats, both names recorded, offsets per variant */
    build_cnn_layout(&L, "cnn-s", 1, mixed, 2, NULL, 1, MZ_OK);
    CHECK_EQ_INT(L.dim, 2464);
    CHECK_EQ_INT(L.n_sources, 2);
    CHECK(!strcmp(L.sources[0].variant, "cnn-s/c1/nodropout"));
    CHECK(!strcmp(L.sources[1].variant, "cnn-s/c1/dropout"));
    for (int l = 0; l < 5; l++) {
        CHECK_EQ_INT(L.sources[0].module_index[l], midx[l]);
        CHECK_EQ_INT(L.sources[1].module_index[l], midx1[l]);
        CHECK_EQ_INT(L.layers[l].module_index, midx[l]);
    }
    CHECK(!strcmp(L.sources[0].weight_key[3], "module_list.9.weight"));
    CHECK(!strcmp(L.sources[1].weight_key[3], "module_list.11.weight"));
    CHECK(!strcmp(L.sources[1].bias_key[4], "module_list.14.bias"));
    /* extraction: the same flat parameter vector gives the same sample under both variants,
     * since the state_dict order (and so the offsets) is the same; names differ only */
    float params[2464], x0[2464], x1[2464];
    for (int i = 0; i < 2464; i++)
        params[i] = (float)i;
    mz_vec_extract(&L, 0, params, x0);
    mz_vec_extract(&L, 1, params, x1);
    CHECK(!memcmp(x0, x1, sizeof x0));
    CHECK(x0[208] == 208.0f && x0[2463] == 2463.0f);
    /* index_dict.json round trip */
    char dir[] = "/tmp/mz_test_loader_XXXXXX", path[256];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/index_dict.json", dir);
    mz_error err = {0};
    CHECK_OK(mz_vec_layout_write_json(&L, path, &err), &err);
    mz_vec_layout R;
    CHECK_OK(mz_vec_layout_read_json(&R, path, &err), &err);
    CHECK_EQ_INT(R.n_layers, 5);
    CHECK_EQ_INT(R.dim, 2464);
    CHECK_EQ_INT(R.with_bias, 1);
    for (int l = 0; l < 5; l++) {
        CHECK_EQ_INT(R.layers[l].idx_start, start[l]);
        CHECK_EQ_INT(R.layers[l].n_weights, len[l] - kno[l]);
        CHECK_EQ_INT(R.layers[l].n_bias, kno[l]);
        CHECK(!strcmp(R.layers[l].name, nm[l]));
    }
    remove(path);
    /* a file without the mzoo extras (only the reference's keys) also reads */
    FILE *f = fopen(path, "w");
    fputs("{\"layer\": [[0, \"conv2d\"], [3, \"conv2d\"], [6, \"conv2d\"], [9, \"fc\"], [11, "
          "\"fc\"]],"
          " \"idx_start\": [0, 208, 1414, 1514, 2254], \"idx_length\": [208, 1206, 100, 740, 210],"
          " \"kernel_no\": [8, 6, 4, 20, 10], \"kernel_size\": [25, 25, 4, 9, 1], \"channels_in\": "
          "[1, 8, 6, 4, 20]}",
          f);
    fclose(f);
    mz_vec_layout_release(&R);
    CHECK_OK(mz_vec_layout_read_json(&R, path, &err), &err);
    CHECK_EQ_INT(R.dim, 2464);
    CHECK_EQ_INT(R.with_bias, 1);
    CHECK_EQ_INT(R.layers[3].n_weights, 720);
    /* inconsistent: idx_start does not follow the previous layer */
    f = fopen(path, "w");
    fputs("{\"layer\": [[0, \"conv2d\"], [3, \"conv2d\"]], \"idx_start\": [0, 200], "
          "\"idx_length\": [208, 1206],"
          " \"kernel_no\": [8, 6], \"kernel_size\": [25, 25], \"channels_in\": [1, 8]}",
          f);
    fclose(f);
    mz_vec_layout_release(&R);
    CHECK(mz_vec_layout_read_json(&R, path, &err) == MZ_EFORMAT);
    CHECK(strstr(err.msg, "index_dict.json") && strstr(err.msg, "layer 1"));
    remove(path);
    rmdir(dir);
    mz_vec_layout_release(&L);

    /* the other variant first: its module indices are the reference's "layer" */
    build_cnn_layout(&L, "cnn-s", 1, mixed2, 2, NULL, 1, MZ_OK);
    CHECK_EQ_INT(L.layers[1].module_index, 4);
    mz_vec_layout_release(&L);

    /* layer subsets and no biases */
    build_cnn_layout(&L, "cnn-s", 1, mixed, 2, "conv2,fc2", 0, MZ_OK);
    CHECK_EQ_INT(L.n_layers, 2);
    CHECK_EQ_INT(L.dim, 1200 + 200);
    CHECK(!strcmp(L.layers[0].name, "conv2") && !strcmp(L.layers[1].name, "fc2"));
    CHECK_EQ_INT(L.layers[1].idx_start, 1200);
    CHECK_EQ_INT(L.layers[1].idx_length, 200);
    CHECK_EQ_INT(L.layers[1].n_bias, 0);
    CHECK_EQ_INT(L.sources[1].w_off[0], 208);
    mz_vec_layout_release(&L);
    /* listed out of order: network order is kept */
    build_cnn_layout(&L, "cnn-s", 1, p0, 1, "fc1,conv1", 1, MZ_OK);
    CHECK(!strcmp(L.layers[0].name, "conv1") && !strcmp(L.layers[1].name, "fc1"));
    CHECK_EQ_INT(L.dim, 208 + 740);
    mz_vec_layout_release(&L);
    build_cnn_layout(&L, "cnn-s", 1, p0, 1, "conv4", 1, MZ_EINVAL);
    build_cnn_layout(&L, "cnn-s", 1, p0, 1, "conv1,conv1", 1, MZ_EINVAL);

    /* incompatible variants: CNN-s C=1 with C=3 */
    mz_arch a1, a3;
    CHECK_OK(mz_arch_init(&a1, "cnn-s", 1, 28, 28, 0, &err), &err);
    CHECK_OK(mz_arch_init(&a3, "cnn-s", 3, 28, 28, 0, &err), &err);
    const char *names[2] = {a1.variant, a3.variant};
    const mz_tensor_desc *tens[2] = {a1.tensors, a3.tensors};
    int counts[2] = {a1.n_tensors, a3.n_tensors};
    CHECK(mz_vec_layout_build(&L, 2, names, tens, counts, NULL, 1, &err) == MZ_EMISMATCH);
    CHECK(strstr(err.msg, "layer 1") != NULL && strstr(err.msg, "[8,3,5,5]") != NULL);
}

static void test_epochs(void)
{
    mz_epoch_sel s;
    mz_error err = {0};
    CHECK_OK(mz_epochs_parse(&s, "0,5,10-20", &err), &err);
    CHECK(mz_epochs_match(&s, 0) && mz_epochs_match(&s, 5) && mz_epochs_match(&s, 10) &&
          mz_epochs_match(&s, 20));
    CHECK(!mz_epochs_match(&s, 1) && !mz_epochs_match(&s, 9) && !mz_epochs_match(&s, 21));
    CHECK_OK(mz_epochs_parse(&s, NULL, &err), &err);
    CHECK(s.all);
    CHECK_OK(mz_epochs_parse(&s, "last", &err), &err);
    CHECK(s.last);
    CHECK(mz_epochs_parse(&s, "5-3", &err) == MZ_EINVAL);
    CHECK(mz_epochs_parse(&s, "1,x", &err) == MZ_EINVAL);
    CHECK(strstr(err.msg, "offset 2") != NULL);
    CHECK(mz_epochs_parse(&s, "-1", &err) == MZ_EINVAL);
}

static void test_split(void)
{
    /* the reference's sizes for [0.7, 0.15, 0.15] */
    static const int64_t n[4] = {1000, 2560, 4320, 1280}, want[4][3] = {
                                                              {700, 150, 150},
                                                              {1792, 384, 384},
                                                              {3024, 648, 648},
                                                              {896, 192, 192},
                                                          };
    const double f[3] = {0.7, 0.15, 0.15};
    mz_error err = {0};
    for (int k = 0; k < 4; k++) {
        int8_t *part = malloc((size_t)n[k]), *again = malloc((size_t)n[k]),
               *other = malloc((size_t)n[k]);
        CHECK_OK(mz_split_by_model(n[k], f, 42, 0, part, &err), &err);
        CHECK_OK(mz_split_by_model(n[k], f, 42, 0, again, &err), &err);
        CHECK_OK(mz_split_by_model(n[k], f, 43, 0, other, &err), &err);
        int64_t c[3] = {0, 0, 0};
        for (int64_t i = 0; i < n[k]; i++) {
            CHECK(part[i] >= 0 && part[i] < 3);
            c[part[i]]++;
        }
        for (int p = 0; p < 3; p++)
            CHECK_EQ_INT(c[p], want[k][p]);
        CHECK(!memcmp(part, again, (size_t)n[k]));     /* same every run */
        CHECK(memcmp(part, other, (size_t)n[k]) != 0); /* depends on the seed */
        /* not simply the first models: the permutation mixes ids */
        int64_t first_train = 0;
        for (int64_t i = 0; i < want[k][0]; i++)
            first_train += part[i] == 0;
        CHECK(first_train < want[k][0]);
        free(part);
        free(again);
        free(other);
    }
    /* two parts and max_models */
    int8_t part[10];
    const double f2[3] = {0.8, 0, 0.2};
    CHECK_OK(mz_split_by_model(10, f2, 1, 0, part, &err), &err);
    int c[3] = {0, 0, 0};
    for (int i = 0; i < 10; i++)
        c[part[i]]++;
    CHECK(c[0] == 8 && c[1] == 0 && c[2] == 2);
    CHECK_OK(mz_split_by_model(10, f, 1, 4, part, &err), &err);
    int dropped = 0, tr = 0;
    for (int i = 0; i < 10; i++) {
        dropped += part[i] == -1;
        tr += part[i] == 0;
    }
    CHECK_EQ_INT(dropped, 6);
    CHECK_EQ_INT(tr, 2); /* int(0.7 * 4) */
    const double bad[3] = {0.7, 0.2, 0.2};
    CHECK(mz_split_by_model(10, bad, 1, 0, part, &err) == MZ_EINVAL);
    CHECK(strstr(err.msg, "sum") != NULL);
}

static void test_arrays(void)
{
    char dir[] = "/tmp/mz_test_arrays_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    mz_array_desc a[3];
    memset(a, 0, sizeof a);
    snprintf(a[0].name, sizeof a[0].name, "x_train");
    a[0].dtype = MZ_DT_F32;
    a[0].ndim = 2;
    a[0].shape[0] = 3;
    a[0].shape[1] = 5;
    snprintf(a[1].name, sizeof a[1].name, "x_val");
    a[1].dtype = MZ_DT_F32;
    a[1].ndim = 2;
    a[1].shape[0] = 0;
    a[1].shape[1] = 5;
    snprintf(a[2].name, sizeof a[2].name, "ids");
    a[2].dtype = MZ_DT_I64;
    a[2].ndim = 1;
    a[2].shape[0] = 3;
    float x[15];
    for (int i = 0; i < 15; i++)
        x[i] = (float)i * 0.5f - 1.0f;
    int64_t ids[3] = {7, -2, 1LL << 40};
    const char *meta[2] = {"format", "test"};
    static const unsigned fmts[3] = {MZ_FMT_NPZ, MZ_FMT_NPY, MZ_FMT_SAFETENSORS};
    mz_error err = {0};
    for (int k = 0; k < 3; k++) {
        mz_asink *s;
        CHECK_OK(mz_dataset_sink_open(&s, fmts[k], dir, a, 3, meta, 1, &err), &err);
        CHECK_OK(mz_asink_begin(s, 0, &err), &err);
        CHECK_OK(mz_asink_write(s, x, 6 * sizeof(float), &err), &err);
        CHECK_OK(mz_asink_write(s, x + 6, 9 * sizeof(float), &err), &err);
        CHECK(mz_asink_write(s, x, 4, &err) == MZ_EINVAL); /* more than declared */
        CHECK_OK(mz_asink_end(s, &err), &err);
        CHECK_OK(mz_asink_begin(s, 1, &err), &err);
        CHECK_OK(mz_asink_end(s, &err), &err);
        CHECK_OK(mz_asink_begin(s, 2, &err), &err);
        CHECK_OK(mz_asink_write(s, ids, sizeof ids, &err), &err);
        CHECK_OK(mz_asink_end(s, &err), &err);
        CHECK_OK(mz_asink_close(s, &err), &err);
        mz_array_desc w = {.dtype = MZ_DT_F32, .ndim = 2};
        void *data = NULL;
        CHECK_OK(mz_array_read(dir, fmts[k], "x_train", &w, &data, &err), &err);
        CHECK(w.shape[0] == 3 && w.shape[1] == 5 && data && !memcmp(data, x, sizeof x));
        free(data);
        mz_array_desc wv = {.dtype = MZ_DT_F32, .ndim = 2};
        CHECK_OK(mz_array_read(dir, fmts[k], "x_val", &wv, &data, &err), &err);
        CHECK(wv.shape[0] == 0 && wv.shape[1] == 5);
        free(data);
        mz_array_desc wi = {.dtype = MZ_DT_I64, .ndim = 1};
        CHECK_OK(mz_array_read(dir, fmts[k], "ids", &wi, &data, &err), &err);
        CHECK(wi.shape[0] == 3 && data && !memcmp(data, ids, sizeof ids));
        free(data);
        /* wrong dtype and missing arrays are errors naming the file */
        mz_array_desc wrong = {.dtype = MZ_DT_I64, .ndim = 2};
        CHECK(mz_array_read(dir, fmts[k], "x_train", &wrong, &data, &err) == MZ_EFORMAT);
        CHECK(strstr(err.msg, dir) != NULL);
        CHECK(mz_array_read(dir, fmts[k], "nope", &wrong, &data, &err) == MZ_ENOTFOUND);
    }
    /* the .npy header: 64-byte aligned, numpy's dict syntax */
    char h[256];
    size_t hl = mz_npy_header(h, sizeof h, &a[0]);
    CHECK(hl % 64 == 0 && h[hl - 1] == '\n');
    CHECK(strstr(h + 10, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 5), }") == h + 10);
    hl = mz_npy_header(h, sizeof h, &a[2]);
    CHECK(strstr(h + 10, "'shape': (3,), }") != NULL);
    /* truncated and corrupt files */
    char path[300];
    snprintf(path, sizeof path, "%s/x_train.npy", dir);
    CHECK(truncate(path, 100) == 0);
    mz_array_desc w = {.dtype = MZ_DT_F32, .ndim = 2};
    void *data = NULL;
    CHECK(mz_array_read(dir, MZ_FMT_NPY, "x_train", &w, &data, &err) == MZ_EFORMAT);
    CHECK(strstr(err.msg, "x_train.npy") != NULL);
    snprintf(path, sizeof path, "%s/dataset.npz", dir);
    CHECK(truncate(path, 50) == 0);
    CHECK(mz_array_read(dir, MZ_FMT_NPZ, "x_train", &w, &data, &err) == MZ_EFORMAT);
    snprintf(path, sizeof path, "%s/dataset.safetensors", dir);
    FILE *f = fopen(path, "wb");
    fwrite("\xff\xff\xff\xff\xff\xff\x00\x00{}", 1, 10, f);
    fclose(f);
    CHECK(mz_array_read(dir, MZ_FMT_SAFETENSORS, "x_train", &w, &data, &err) == MZ_EFORMAT);
    CHECK(strstr(err.msg, "header length") != NULL);
    static const char *const files[] = {"dataset.npz", "dataset.safetensors", "x_train.npy",
                                        "x_val.npy", "ids.npy"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        remove(path);
    }
    rmdir(dir);
}

/* ---- crafted dataset directories: every size read from a file is checked before use ---- */

static void put_file(const char *dir, const char *name, const void *data, size_t n)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f)
        return;
    if (n)
        CHECK(fwrite(data, 1, n, f) == n);
    fclose(f);
}

static void put_text(const char *dir, const char *name, const char *text)
{
    put_file(dir, name, text, strlen(text));
}

/* A .npy file: numpy's v1.0 header for `descr` and `shape` ("(3, 5)"), then n bytes of data. */
static void put_npy(const char *dir, const char *name, const char *descr, const char *shape,
                    const void *data, size_t n)
{
    unsigned char buf[512];
    int len = snprintf((char *)buf + 10, sizeof buf - 10,
                       "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shape);
    size_t total = (10 + (size_t)len + 1 + 63) / 64 * 64;
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)((total - 10) & 0xff);
    buf[9] = (unsigned char)((total - 10) >> 8);
    memset(buf + 10 + len, ' ', total - 10 - (size_t)len - 1);
    buf[total - 1] = '\n';
    unsigned char *all = malloc(total + n + 1);
    memcpy(all, buf, total);
    if (n)
        memcpy(all + total, data, n);
    put_file(dir, name, all, total + n);
    free(all);
}

static const char crafted_index[] =
    "{\"layer\": [[0, \"fc\"]], \"idx_start\": [0], \"idx_length\": [2], \"kernel_no\": [1], "
    "\"kernel_size\": [2], \"channels_in\": [1]}";
static const char crafted_props[] =
    "{\"columns\": [{\"name\": \"test_acc\", \"kind\": \"numeric\"}], "
    "\"train\": {\"model_id\": [1, 2], \"test_acc\": [0.5, 0.25]}, "
    "\"val\": {\"model_id\": [], \"test_acc\": []}, \"test\": {\"model_id\": [], \"test_acc\": "
    "[]}}";

/* A valid two-sample npy dataset directory of dim 2, which the cases below then break. */
static void crafted_base(const char *dir)
{
    static const char *const parts[3] = {"train", "val", "test"};
    const float x[4] = {1, 2, 3, 4};
    const int64_t ids[2] = {1, 2}, eps[2] = {0, 1};
    char name[64];
    for (int p = 0; p < 3; p++) {
        snprintf(name, sizeof name, "x_%s.npy", parts[p]);
        put_npy(dir, name, "<f4", p ? "(0, 2)" : "(2, 2)", x, p ? 0 : sizeof x);
        snprintf(name, sizeof name, "model_id_%s.npy", parts[p]);
        put_npy(dir, name, "<i8", p ? "(0,)" : "(2,)", ids, p ? 0 : sizeof ids);
        snprintf(name, sizeof name, "epoch_%s.npy", parts[p]);
        put_npy(dir, name, "<i8", p ? "(0,)" : "(2,)", eps, p ? 0 : sizeof eps);
    }
    put_text(dir, "dataset.json", "{\"format\": \"mzoo-dataset-1\", \"formats\": [\"npy\"]}");
    put_text(dir, "index_dict.json", crafted_index);
    put_text(dir, "properties.json", crafted_props);
}

/* mz_dataset_read must fail with `code` and a message containing every string in want[]. */
static void expect_read_fails(const char *dir, mz_status code, const char *const *want, int nw,
                              const char *what)
{
    mz_wset w;
    mz_error err = {0};
    mz_status st = mz_dataset_read(&w, dir, &err);
    CHECK_MSG(st == code, "%s: mz_dataset_read returned %d (want %d): %s", what, st, code, err.msg);
    for (int i = 0; i < nw; i++)
        CHECK_MSG(strstr(err.msg, want[i]) != NULL, "%s: message lacks '%s': %s", what, want[i],
                  err.msg);
    if (st == MZ_OK)
        mz_wset_release(&w);
}

static void test_crafted_dirs(void)
{
    char dir[] = "/tmp/mz_test_crafted_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    mz_error err = {0};
    mz_wset w;

    crafted_base(dir);
    CHECK_OK(mz_dataset_read(&w, dir, &err), &err);
    CHECK_EQ_INT(w.n, 2);
    CHECK_EQ_INT(w.dim, 2);
    CHECK(w.n_props == 1 && w.props[0].v[1] == 0.25);
    mz_wset_release(&w);

    /* model ids and x rows disagree */
    const int64_t three[3] = {1, 2, 3};
    put_npy(dir, "model_id_train.npy", "<i8", "(3,)", three, sizeof three);
    {
        const char *want[] = {"model_id_train.npy", "x_train", "3", "2"};
        expect_read_fails(dir, MZ_EFORMAT, want, 4, "model_id rows");
    }
    crafted_base(dir);
    /* an epoch that is not an int */
    const int64_t big_epoch[2] = {0, (int64_t)1 << 40};
    put_npy(dir, "epoch_train.npy", "<i8", "(2,)", big_epoch, sizeof big_epoch);
    {
        const char *want[] = {"epoch_train.npy", "[1]"};
        expect_read_fails(dir, MZ_EFORMAT, want, 2, "epoch range");
    }
    crafted_base(dir);
    /* properties.json rows do not match the arrays' model ids */
    put_text(dir, "properties.json",
             "{\"columns\": [], \"train\": {\"model_id\": [1, 2, 3]}, \"val\": {\"model_id\": []}, "
             "\"test\": {\"model_id\": []}}");
    {
        const char *want[] = {"properties.json", "train.model_id"};
        expect_read_fails(dir, MZ_EFORMAT, want, 2, "properties rows");
    }
    crafted_base(dir);
    /* index_dict.json: kernel_no * kernel_size * channels_in overflows int64 */
    put_text(dir, "index_dict.json",
             "{\"layer\": [[0, \"fc\"]], \"idx_start\": [0], \"idx_length\": [2], "
             "\"kernel_no\": [2147483648], \"kernel_size\": [2147483648], "
             "\"channels_in\": [2147483648]}");
    {
        const char *want[] = {"index_dict.json", "layer 0"};
        expect_read_fails(dir, MZ_EFORMAT, want, 2, "index_dict overflow");
    }
    crafted_base(dir);
    /* a header whose rows need more bytes than the file has */
    put_npy(dir, "model_id_train.npy", "<i8", "(1099511627776,)", NULL, 0);
    {
        const char *want[] = {"model_id_train.npy", "offset 128"};
        expect_read_fails(dir, MZ_EFORMAT, want, 2, "rows beyond the file");
    }
    crafted_base(dir);
    /* a directory name longer than any path buffer */
    {
        size_t n = 5000;
        char *longdir = malloc(n + 1);
        memset(longdir, 'd', n);
        longdir[0] = '/';
        longdir[n] = 0;
        const char *want[] = {"5000"};
        expect_read_fails(longdir, MZ_ELIMIT, want, 1, "long directory name");
        free(longdir);
    }

    /* The reported crash: x_train of shape (2^62, 0), model ids and epochs (2^62,) with no data,
     * a layout of dim 0 and no property columns. */
    static const char *const parts[3] = {"train", "val", "test"};
    char name[64];
    for (int p = 0; p < 3; p++) {
        snprintf(name, sizeof name, "x_%s.npy", parts[p]);
        put_npy(dir, name, "<f4", p ? "(0, 0)" : "(4611686018427387904, 0)", NULL, 0);
        snprintf(name, sizeof name, "model_id_%s.npy", parts[p]);
        put_npy(dir, name, "<i8", p ? "(0,)" : "(4611686018427387904,)", NULL, 0);
        snprintf(name, sizeof name, "epoch_%s.npy", parts[p]);
        put_npy(dir, name, "<i8", p ? "(0,)" : "(4611686018427387904,)", NULL, 0);
    }
    put_text(dir, "index_dict.json",
             "{\"layer\": [[0, \"fc\"]], \"idx_start\": [0], \"idx_length\": [0], \"kernel_no\": "
             "[0], \"kernel_size\": [0], \"channels_in\": [0]}");
    put_text(dir, "properties.json", "{\"columns\": []}");
    {
        const char *want[] = {"x_train.npy", "4611686018427387904"};
        expect_read_fails(dir, MZ_EFORMAT, want, 2, "shape (2^62, 0)");
    }
    /* the same with 2^40 rows (below the per-dimension limit): the model ids are not there */
    put_npy(dir, "x_train.npy", "<f4", "(1099511627776, 0)", NULL, 0);
    put_npy(dir, "model_id_train.npy", "<i8", "(1099511627776,)", NULL, 0);
    put_npy(dir, "epoch_train.npy", "<i8", "(1099511627776,)", NULL, 0);
    {
        const char *want[] = {"model_id_train.npy", "bytes"};
        expect_read_fails(dir, MZ_EFORMAT, want, 2, "shape (2^40, 0)");
    }
    /* the same arrays as safetensors: the byte count 8 * 2^62 wraps to 0 = data_offsets */
    {
        const char *hdr =
            "{\"x_train\": {\"dtype\": \"F32\", \"shape\": [4611686018427387904, 0], "
            "\"data_offsets\": [0, 0]}, "
            "\"model_id_train\": {\"dtype\": \"I64\", \"shape\": [4611686018427387904], "
            "\"data_offsets\": [0, 0]}, "
            "\"epoch_train\": {\"dtype\": \"I64\", \"shape\": [4611686018427387904], "
            "\"data_offsets\": [0, 0]}, "
            "\"x_val\": {\"dtype\": \"F32\", \"shape\": [0, 0], \"data_offsets\": [0, 0]}, "
            "\"model_id_val\": {\"dtype\": \"I64\", \"shape\": [0], \"data_offsets\": [0, 0]}, "
            "\"epoch_val\": {\"dtype\": \"I64\", \"shape\": [0], \"data_offsets\": [0, 0]}, "
            "\"x_test\": {\"dtype\": \"F32\", \"shape\": [0, 0], \"data_offsets\": [0, 0]}, "
            "\"model_id_test\": {\"dtype\": \"I64\", \"shape\": [0], \"data_offsets\": [0, 0]}, "
            "\"epoch_test\": {\"dtype\": \"I64\", \"shape\": [0], \"data_offsets\": [0, 0]}}";
        size_t hl = strlen(hdr);
        unsigned char *b = malloc(8 + hl);
        for (int i = 0; i < 8; i++)
            b[i] = (unsigned char)((uint64_t)hl >> (8 * i));
        memcpy(b + 8, hdr, hl);
        put_file(dir, "dataset.safetensors", b, 8 + hl);
        free(b);
        put_text(dir, "dataset.json",
                 "{\"format\": \"mzoo-dataset-1\", \"formats\": [\"safetensors\"]}");
        const char *want[] = {"dataset.safetensors", "x_train"};
        expect_read_fails(dir, MZ_EFORMAT, want, 2, "safetensors shape (2^62, 0)");
    }
    static const char *const files[] = {
        "dataset.json",       "index_dict.json", "properties.json",    "x_train.npy",
        "x_val.npy",          "x_test.npy",      "model_id_train.npy", "model_id_val.npy",
        "model_id_test.npy",  "epoch_train.npy", "epoch_val.npy",      "epoch_test.npy",
        "dataset.safetensors"};
    char path[600];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        remove(path);
    }
    rmdir(dir);
}

int main(void)
{
    test_index_dict();
    test_epochs();
    test_split();
    test_arrays();
    test_crafted_dirs();
    return check_summary("test_loader");
}
