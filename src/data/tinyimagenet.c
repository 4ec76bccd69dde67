/* Tiny-ImageNet, read straight from tiny-imagenet-200.zip.
 *
 * Members used: tiny-imagenet-200/wnids.txt (200 WordNet ids, one a line), train/<wnid>/images/
 * <wnid>_<k>.JPEG (500 per class), val/images/val_<k>.JPEG and val/val_annotations.txt
 * ("<file>\t<wnid>\t<box>"). test/ has no labels and is skipped. All images are 64x64; a few
 * are grayscale JPEGs, replicated to RGB as PIL's convert("RGB") does.
 *
 * The reference's TinyImageNetDataset (module tiny_imagenet_helpers) is not public, so the
 * orders are our choice (docs/DATASETS.md): class k = line k of wnids.txt; the training set is
 * class by class in that order, images by file name (byte order) within a class; the test set
 * (the official val/ split, as the reference's mode='val') follows val_annotations.txt. There is
 * no validation set. Normalisation is on the 0-255 scale (the reference applies Normalize to
 * tensors that were never divided by 255). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/readers-impl.h"
#include "core/banned.h"

#define TIN_SIDE 64
#define TIN_IMAGE (3 * TIN_SIDE * TIN_SIDE)
#define TIN_NAME 64

typedef struct tin_rec {
    char file[TIN_NAME]; /* file name without directories */
    char wnid[TIN_NAME]; /* train: the class folder */
    int64_t slot;        /* index into the decoded pixels */
    int label;
} tin_rec;

typedef struct tin_ctx {
    const char *path;
    mz_rd_images pix; /* every decoded image, in archive order */
    tin_rec *train, *val;
    int64_t n_train, cap_train, n_val, cap_val;
    char *wnids;
    size_t wnids_len;
    char *annot;
    size_t annot_len;
} tin_ctx;

enum { M_NONE, M_WNIDS, M_ANNOT, M_TRAIN, M_VAL };

/* Classifies a member by its path relative to the dataset's top folder (any or no prefix). For
 * M_TRAIN, *wnid / *wnid_len give the class folder (of any length: the caller checks it). */
static int tin_kind(const char *name, const char **wnid, size_t *wnid_len)
{
    const char *base = mz_rd_basename(name);
    size_t len = strlen(name), blen = strlen(base);
    if (strcmp(base, "wnids.txt") == 0 && (len == blen || name[len - blen - 1] == '/')) {
        /* only the top-level one: no "train/" or "val/" in front of it */
        return strstr(name, "train/") || strstr(name, "val/") || strstr(name, "test/") ? M_NONE
                                                                                       : M_WNIDS;
    }
    if (strcmp(base, "val_annotations.txt") == 0 && len >= 24 &&
        strcmp(name + len - 24, "/val/val_annotations.txt") == 0)
        return M_ANNOT;
    if (strcmp(name, "val/val_annotations.txt") == 0)
        return M_ANNOT;
    if (blen < 6 || strcmp(base + blen - 5, ".JPEG") != 0)
        return M_NONE;
    /* .../val/images/<file>.JPEG */
    const char *p = name + len - blen;
    if (p - name >= 11 && strncmp(p - 11, "val/images/", 11) == 0 &&
        (p - name == 11 || p[-12] == '/'))
        return M_VAL;
    /* .../train/<wnid>/images/<file>.JPEG */
    if (p - name >= 7 && strncmp(p - 7, "images/", 7) == 0) {
        const char *wend = p - 8; /* the '/' before "images/" */
        if (wend <= name || *wend != '/')
            return M_NONE;
        const char *wstart = wend;
        while (wstart > name && wstart[-1] != '/')
            wstart--;
        if (wstart - name < 6 || strncmp(wstart - 6, "train/", 6) != 0)
            return M_NONE;
        if (wstart - name > 6 && wstart[-7] != '/')
            return M_NONE;
        if (wend == wstart)
            return M_NONE;
        *wnid = wstart;
        *wnid_len = (size_t)(wend - wstart);
        return M_TRAIN;
    }
    return M_NONE;
}

static int tin_want(void *ctx, const char *name)
{
    (void)ctx;
    const char *wnid;
    size_t wnid_len;
    return tin_kind(name, &wnid, &wnid_len) != M_NONE;
}

static mz_status push_rec(tin_rec **arr, int64_t *n, int64_t *cap, const tin_rec *r, mz_error *err)
{
    if (*n == *cap) {
        int64_t nc = *cap ? *cap * 2 : 4096;
        tin_rec *na = realloc(*arr, (size_t)nc * sizeof *na);
        if (!na)
            return mz_fail(err, MZ_ENOMEM, "tiny-imagenet: out of memory");
        *arr = na;
        *cap = nc;
    }
    (*arr)[(*n)++] = *r;
    return MZ_OK;
}

static mz_status tin_take(void *ctx, const char *name, const uint8_t *data, size_t size,
                          mz_error *err)
{
    tin_ctx *c = ctx;
    const char *file = mz_rd_basename(name), *wnid = NULL;
    size_t wnid_len = 0;
    char lb[MZ_NAME_LABEL];
    tin_rec r;
    memset(&r, 0, sizeof r);
    int kind = tin_kind(name, &wnid, &wnid_len);
    if (kind == M_NONE) /* tin_want said yes to this very name: cannot happen */
        return mz_fail(err, MZ_EINVAL, "%s: member %s: internal: not a wanted member", c->path,
                       mz_name_label(name, lb));
    if (kind == M_WNIDS || kind == M_ANNOT) {
        char **dst = kind == M_WNIDS ? &c->wnids : &c->annot;
        size_t *dlen = kind == M_WNIDS ? &c->wnids_len : &c->annot_len;
        if (*dst)
            return mz_fail(err, MZ_EFORMAT, "%s: member %s appears twice", c->path,
                           mz_name_label(name, lb));
        /* The lines are parsed as C strings: a NUL byte would end the text early. */
        const uint8_t *nul = memchr(data, '\0', size);
        if (nul)
            return mz_fail(err, MZ_EFORMAT,
                           "%s: member %s: byte %zu: a NUL byte (expected a text file)", c->path,
                           mz_name_label(name, lb), (size_t)(nul - data));
        *dst = malloc(size + 1);
        if (!*dst)
            return mz_fail(err, MZ_ENOMEM, "%s: out of memory", c->path);
        memcpy(*dst, data, size);
        (*dst)[size] = '\0';
        *dlen = size;
        return MZ_OK;
    }
    if (strlen(file) >= TIN_NAME)
        return mz_fail(err, MZ_EFORMAT,
                       "%s: member %s: file name of %zu bytes is too long (expected at most %d, "
                       "names like n01443537_0.JPEG)",
                       c->path, mz_name_label(name, lb), strlen(file), TIN_NAME - 1);
    if (kind == M_TRAIN && wnid_len >= TIN_NAME)
        return mz_fail(err, MZ_EFORMAT,
                       "%s: member %s: class folder name of %zu bytes is too long (expected a "
                       "WordNet id like n01443537)",
                       c->path, mz_name_label(name, lb), wnid_len);
    snprintf(r.file, sizeof r.file, "%s", file);
    if (kind == M_TRAIN)
        snprintf(r.wnid, sizeof r.wnid, "%.*s", (int)wnid_len, wnid);
    mz_status st = mz_rd_images_reserve(&c->pix, c->pix.n + 1, err);
    if (st)
        return st;
    char what[MZ_RD_PATH_MAX + MZ_NAME_LABEL + 16];
    snprintf(what, sizeof what, "%s: member %s", c->path, mz_name_label(name, lb));
    st = mz_rd_jpeg_decode_rgb(data, size, TIN_SIDE, TIN_SIDE, c->pix.x + c->pix.n * TIN_IMAGE,
                               what, err);
    if (st)
        return st;
    r.slot = c->pix.n++;
    if (kind == M_TRAIN)
        return push_rec(&c->train, &c->n_train, &c->cap_train, &r, err);
    return push_rec(&c->val, &c->n_val, &c->cap_val, &r, err);
}

static int cmp_train(const void *a, const void *b)
{
    const tin_rec *x = a, *y = b;
    if (x->label != y->label)
        return x->label < y->label ? -1 : 1;
    return strcmp(x->file, y->file);
}

static int cmp_file(const void *a, const void *b)
{
    return strcmp(((const tin_rec *)a)->file, ((const tin_rec *)b)->file);
}

typedef struct wnid_ent {
    const char *id;
    int index;
} wnid_ent;

static int cmp_wnid(const void *a, const void *b)
{
    return strcmp(((const wnid_ent *)a)->id, ((const wnid_ent *)b)->id);
}

static int find_wnid(const wnid_ent *sorted, int n, const char *id)
{
    wnid_ent key = {id, 0};
    const wnid_ent *e = bsearch(&key, sorted, (size_t)n, sizeof key, cmp_wnid);
    return e ? e->index : -1;
}

/* Splits text in place into lines (trailing CR and spaces removed); returns the count. */
static int64_t split_lines(char *text, char ***lines_out)
{
    int64_t n = 0, cap = 256;
    char **lines = malloc((size_t)cap * sizeof *lines);
    if (!lines)
        return -1;
    char *p = text;
    while (*p) {
        char *e = strchr(p, '\n');
        char *next = e ? e + 1 : p + strlen(p);
        if (e)
            *e = '\0';
        size_t l = strlen(p);
        while (l && (p[l - 1] == '\r' || p[l - 1] == ' ' || p[l - 1] == '\t'))
            p[--l] = '\0';
        if (n == cap) {
            cap *= 2;
            char **nl = realloc(lines, (size_t)cap * sizeof *nl);
            if (!nl) {
                free(lines);
                return -1;
            }
            lines = nl;
        }
        lines[n++] = p;
        p = next;
    }
    *lines_out = lines;
    return n;
}

static mz_status copy_out(const tin_ctx *c, const tin_rec *recs, int64_t n, mz_rd_images *out,
                          mz_error *err)
{
    mz_status st = mz_rd_images_reserve(out, n, err);
    if (st)
        return st;
    for (int64_t i = 0; i < n; i++) {
        memcpy(out->x + i * TIN_IMAGE, c->pix.x + recs[i].slot * TIN_IMAGE, TIN_IMAGE);
        out->y[i] = recs[i].label;
    }
    out->n = n;
    return MZ_OK;
}

mz_status mz_load_tinyimagenet_sized(mz_dataset *ds, const char *dir, const char *variant,
                                     const mz_split_sizes *sizes, mz_error *err)
{
    static const char *const variants[] = {"resnet", NULL};
    static const char *const names[] = {"tiny-imagenet-200.zip", NULL};
    memset(ds, 0, sizeof *ds);
    int v;
    mz_status st = mz_rd_variant("tiny-imagenet", variant, variants, &v, err);
    if (st)
        return st;
    char path[MZ_RD_PATH_MAX];
    if ((st = mz_rd_find_file("tiny-imagenet", dir, "/usr/share/datasets/tiny-imagenet", names,
                              "from http://cs231n.stanford.edu/tiny-imagenet-200.zip", path,
                              sizeof path, err)))
        return st;
    tin_ctx c = {.path = path, .pix = {.bytes_per_image = TIN_IMAGE}};
    mz_rd_images full = {.bytes_per_image = TIN_IMAGE}, test = {.bytes_per_image = TIN_IMAGE};
    char **wl = NULL, **al = NULL;
    wnid_ent *ids = NULL;
    if ((st = mz_archive_scan(path, tin_want, tin_take, &c, (size_t)16 << 20, err)))
        goto done;
    if (!c.wnids) {
        st = mz_fail(err, MZ_EFORMAT, "%s: member tiny-imagenet-200/wnids.txt not found", path);
        goto done;
    }
    if (!c.annot) {
        st = mz_fail(err, MZ_EFORMAT,
                     "%s: member tiny-imagenet-200/val/val_annotations.txt not found", path);
        goto done;
    }
    int64_t nw = split_lines(c.wnids, &wl);
    if (nw < 0) {
        st = mz_fail(err, MZ_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    while (nw > 0 && !*wl[nw - 1])
        nw--; /* trailing blank lines */
    if (nw < 1 || nw > 100000 || (!sizes && nw != 200)) {
        st = mz_fail(err, MZ_EFORMAT, "%s: wnids.txt lists %lld classes, expected 200", path,
                     (long long)nw);
        goto done;
    }
    ids = malloc((size_t)nw * sizeof *ids);
    if (!ids) {
        st = mz_fail(err, MZ_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    for (int64_t i = 0; i < nw; i++) {
        if (!*wl[i] || strlen(wl[i]) >= TIN_NAME) {
            st = mz_fail(err, MZ_EFORMAT, "%s: wnids.txt line %lld: bad class id '%.40s'", path,
                         (long long)i + 1, wl[i]);
            goto done;
        }
        ids[i].id = wl[i];
        ids[i].index = (int)i;
    }
    qsort(ids, (size_t)nw, sizeof *ids, cmp_wnid);
    for (int64_t i = 1; i < nw; i++)
        if (strcmp(ids[i - 1].id, ids[i].id) == 0) {
            st = mz_fail(err, MZ_EFORMAT, "%s: wnids.txt lists %s twice", path, ids[i].id);
            goto done;
        }
    for (int64_t i = 0; i < c.n_train; i++) {
        c.train[i].label = find_wnid(ids, (int)nw, c.train[i].wnid);
        if (c.train[i].label < 0) {
            st = mz_fail(err, MZ_EFORMAT,
                         "%s: member train/%s/images/%s: class %s is not in wnids.txt", path,
                         c.train[i].wnid, c.train[i].file, c.train[i].wnid);
            goto done;
        }
    }
    if (c.n_train) /* qsort and bsearch take no NULL array, even of 0 elements */
        qsort(c.train, (size_t)c.n_train, sizeof *c.train, cmp_train);
    if ((st = copy_out(&c, c.train, c.n_train, &full, err)))
        goto done;

    /* Test set: the val/ images in the order of val_annotations.txt. */
    if (c.n_val)
        qsort(c.val, (size_t)c.n_val, sizeof *c.val, cmp_file);
    int64_t na = split_lines(c.annot, &al);
    if (na < 0) {
        st = mz_fail(err, MZ_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    tin_rec *ordered = malloc((size_t)(na ? na : 1) * sizeof *ordered);
    if (!ordered) {
        st = mz_fail(err, MZ_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    int64_t nt = 0;
    for (int64_t i = 0; i < na; i++) {
        if (!*al[i])
            continue;
        char *tab1 = strchr(al[i], '\t');
        char *tab2 = tab1 ? strchr(tab1 + 1, '\t') : NULL;
        if (!tab1) {
            st = mz_fail(err, MZ_EFORMAT,
                         "%s: val_annotations.txt line %lld: expected '<file>\\t<wnid>\\t...', "
                         "found '%.60s'",
                         path, (long long)i + 1, al[i]);
            break;
        }
        *tab1 = '\0';
        if (tab2)
            *tab2 = '\0';
        if (strlen(al[i]) >= TIN_NAME) { /* no image has such a name: do not cut it to match */
            st = mz_fail(err, MZ_EFORMAT,
                         "%s: val_annotations.txt line %lld: file name of %zu bytes is too long "
                         "(expected at most %d, names like val_0.JPEG)",
                         path, (long long)i + 1, strlen(al[i]), TIN_NAME - 1);
            break;
        }
        tin_rec key;
        memset(&key, 0, sizeof key);
        snprintf(key.file, sizeof key.file, "%s", al[i]);
        tin_rec *hit = c.n_val ? bsearch(&key, c.val, (size_t)c.n_val, sizeof key, cmp_file) : NULL;
        int label = find_wnid(ids, (int)nw, tab1 + 1);
        if (!hit || label < 0 || hit->label == -2) {
            st = mz_fail(err, MZ_EFORMAT, "%s: val_annotations.txt line %lld: %s (%s)", path,
                         (long long)i + 1,
                         !hit        ? "no such image in val/images"
                         : label < 0 ? "class not in wnids.txt"
                                     : "image listed twice",
                         al[i]);
            break;
        }
        ordered[nt] = *hit;
        ordered[nt].label = label;
        hit->label = -2; /* used */
        nt++;
    }
    if (!st && nt != c.n_val)
        st = mz_fail(err, MZ_EFORMAT,
                     "%s: val/images holds %lld images but val_annotations.txt labels %lld", path,
                     (long long)c.n_val, (long long)nt);
    if (!st)
        st = copy_out(&c, ordered, nt, &test, err);
    free(ordered);
    if (st)
        goto done;
    mz_rd_images_release(&c.pix);

    mz_split_sizes sz = sizes ? *sizes : (mz_split_sizes){100000, 0, 10000};
    /* mean/std as the reference writes them (0-1 scale); the table below uses 255 x these. */
    const double m[3] = {0.485, 0.456, 0.406}, s[3] = {0.229, 0.224, 0.225};
    float mean[3], std[3];
    for (int k = 0; k < 3; k++) {
        mean[k] = (float)m[k];
        std[k] = (float)s[k];
    }
    st = mz_rd_finish(ds, "tiny-imagenet", 3, TIN_SIDE, TIN_SIDE, (int)nw, &full, &test, sz.n_train,
                      sz.n_val, sz.n_test, mean, std, path, err);
    if (!st) {
        /* Normalize(mean=255*m, std=255*s) on 0-255 float tensors: (v - mean) / std in float32,
         * mean and std rounded once from the Python doubles. */
        for (int k = 0; k < 3; k++) {
            float mf = (float)(255.0 * m[k]), sf = (float)(255.0 * s[k]);
            for (int b = 0; b < 256; b++)
                ds->lut[k][b] = ((float)b - mf) / sf;
        }
    }
done:
    free(ids);
    free(wl);
    free(al);
    free(c.wnids);
    free(c.annot);
    free(c.train);
    free(c.val);
    mz_rd_images_release(&c.pix);
    mz_rd_images_release(&full);
    mz_rd_images_release(&test);
    if (st)
        mz_dataset_release(ds);
    return st;
}

mz_status mz_load_tinyimagenet(mz_dataset *ds, const char *dir, const char *variant, mz_error *err)
{
    return mz_load_tinyimagenet_sized(ds, dir, variant, NULL, err);
}
