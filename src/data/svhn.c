/* SVHN (cropped digits), train_32x32.mat and test_32x32.mat (MATLAB v5), read with libmatio.
 *
 * X is uint8 [32][32][3][N] in MATLAB's column-major order, so image n, channel c, row r, column
 * k is at r + 32 k + 1024 c + 3072 n; y is N x 1 with labels 1..10, 10 meaning the digit 0
 * (torchvision: np.place(labels, labels == 10, 0)). Preprocessing (the SVHN CNN zoos): PIL
 * convert("L"), CenterCrop(28) (offset 2), Normalize(0.5, 0.5). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef MZ_HAVE_MATIO
#include <matio.h>
#endif

#include "data/readers-impl.h"
#include "core/banned.h"

#ifdef MZ_HAVE_MATIO
/* matio reports problems through a process-wide log function whose default prints to stderr and
 * may abort; ours only remembers the last message, for our error text. */
static _Thread_local char matio_last[256];

static void matio_log(int level, char *message)
{
    (void)level;
    snprintf(matio_last, sizeof matio_last, "%s", message ? message : "");
}

static double label_at(const matvar_t *v, size_t i)
{
    switch (v->class_type) {
    case MAT_C_DOUBLE:
        return ((const double *)v->data)[i];
    case MAT_C_SINGLE:
        return ((const float *)v->data)[i];
    case MAT_C_INT8:
        return ((const int8_t *)v->data)[i];
    case MAT_C_UINT8:
        return ((const uint8_t *)v->data)[i];
    case MAT_C_INT16:
        return ((const int16_t *)v->data)[i];
    case MAT_C_UINT16:
        return ((const uint16_t *)v->data)[i];
    case MAT_C_INT32:
        return ((const int32_t *)v->data)[i];
    case MAT_C_UINT32:
        return ((const uint32_t *)v->data)[i];
    case MAT_C_INT64:
        return (double)((const int64_t *)v->data)[i];
    case MAT_C_UINT64:
        return (double)((const uint64_t *)v->data)[i];
    default:
        return -1;
    }
}

static size_t class_size(enum matio_classes c)
{
    switch (c) {
    case MAT_C_DOUBLE:
    case MAT_C_INT64:
    case MAT_C_UINT64:
        return 8;
    case MAT_C_SINGLE:
    case MAT_C_INT32:
    case MAT_C_UINT32:
        return 4;
    case MAT_C_INT16:
    case MAT_C_UINT16:
        return 2;
    case MAT_C_INT8:
    case MAT_C_UINT8:
        return 1;
    default:
        return 0;
    }
}

/* Reads one .mat file into im as preprocessed 1x28x28 images. */
static mz_status read_mat(const char *path, mz_rd_images *im, mz_error *err)
{
    Mat_LogInitFunc("mzoo", matio_log);
    matio_last[0] = '\0';
    mat_t *mat = Mat_Open(path, MAT_ACC_RDONLY);
    if (!mat)
        return mz_fail(err, MZ_EFORMAT, "%s: not a readable MATLAB file%s%s", path,
                       matio_last[0] ? " (matio: " : "", matio_last[0] ? matio_last : "");
    mz_status st = MZ_OK;
    matvar_t *x = NULL, *y = NULL;
    uint8_t *rgb = NULL, *gray = NULL;
    x = Mat_VarRead(mat, "X");
    if (!x) {
        st = mz_fail(err, MZ_EFORMAT, "%s: variable X missing or unreadable%s%s", path,
                     matio_last[0] ? " (matio: " : "", matio_last[0] ? ")" : "");
        goto done;
    }
    if (x->class_type != MAT_C_UINT8 || x->isComplex || x->rank != 4 || x->dims[0] != 32 ||
        x->dims[1] != 32 || x->dims[2] != 3) {
        st = mz_fail(err, MZ_EFORMAT,
                     "%s: variable X: class %d rank %d dims [%zu %zu %zu ...], expected uint8 "
                     "32x32x3xN",
                     path, (int)x->class_type, x->rank, x->rank > 0 ? x->dims[0] : 0,
                     x->rank > 1 ? x->dims[1] : 0, x->rank > 2 ? x->dims[2] : 0);
        goto done;
    }
    size_t n = x->dims[3];
    if (!x->data || x->nbytes != n * 3072) {
        st = mz_fail(err, MZ_EFORMAT, "%s: variable X: %zu data bytes for %zu images (truncated?)",
                     path, x->data ? x->nbytes : 0, n);
        goto done;
    }
    y = Mat_VarRead(mat, "y");
    if (!y) {
        st = mz_fail(err, MZ_EFORMAT, "%s: variable y missing or unreadable", path);
        goto done;
    }
    size_t ny = y->rank == 2 ? y->dims[0] * y->dims[1] : 0;
    if (y->rank != 2 || (y->dims[0] != 1 && y->dims[1] != 1) || ny != n || y->isComplex ||
        !class_size(y->class_type) || !y->data || y->nbytes != ny * class_size(y->class_type)) {
        st = mz_fail(err, MZ_EFORMAT,
                     "%s: variable y: rank %d, %zu labels of class %d for %zu images (expected a "
                     "real %zu x 1 vector)",
                     path, y->rank, ny, (int)y->class_type, n, n);
        goto done;
    }
    if ((st = mz_rd_images_reserve(im, im->n + (int64_t)n, err)))
        goto done;
    rgb = malloc(3 * 32 * 32);
    gray = malloc(32 * 32);
    if (!rgb || !gray) {
        st = mz_fail(err, MZ_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    const uint8_t *xd = x->data;
    for (size_t i = 0; i < n; i++) {
        double lab = label_at(y, i);
        if (!(lab >= 1 && lab <= 10) || lab != (double)(int)lab) {
            st = mz_fail(err, MZ_EFORMAT, "%s: y(%zu) = %g: label out of range (expected 1..10)",
                         path, i + 1, lab);
            goto done;
        }
        const uint8_t *src = xd + i * 3072;
        for (int c = 0; c < 3; c++)
            for (int r = 0; r < 32; r++)
                for (int k = 0; k < 32; k++)
                    rgb[(c * 32 + r) * 32 + k] = src[r + 32 * k + 1024 * c];
        mz_pil_rgb_to_l(rgb, 32, 32, gray);
        mz_pil_center_crop(gray, 1, 32, 32, im->x + im->n * 784, 28, 28);
        im->y[im->n] = (int)lab % 10;
        im->n++;
    }
done:
    free(rgb);
    free(gray);
    Mat_VarFree(x);
    Mat_VarFree(y);
    Mat_Close(mat);
    return st;
}
#endif

mz_status mz_load_svhn_sized(mz_dataset *ds, const char *dir, const char *variant,
                             const mz_split_sizes *sizes, mz_error *err)
{
    static const char *const variants[] = {"28px", NULL};
    memset(ds, 0, sizeof *ds);
    int v;
    mz_status st = mz_rd_variant("svhn", variant, variants, &v, err);
    if (st)
        return st;
#ifdef MZ_HAVE_MATIO
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
#else
    (void)dir;
    (void)sizes;
    return mz_fail(err, MZ_EUNSUPPORTED,
                   "svhn: this build has no libmatio (install libmatio-dev and rebuild)");
#endif
}

mz_status mz_load_svhn(mz_dataset *ds, const char *dir, const char *variant, mz_error *err)
{
    return mz_load_svhn_sized(ds, dir, variant, NULL, err);
}
