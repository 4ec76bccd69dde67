/* The parts of a dataset every reader shares: the normalisation table, the seeded train/val split,
 * taking a training subset, and releasing. */
#include <stdlib.h>
#include <string.h>

#include "mzoo/data.h"
#include "core/banned.h"

void mz_dataset_fill_lut(mz_dataset *ds)
{
    int c = ds->c < 0 ? 0 : ds->c > MZ_MAX_CHANNELS ? MZ_MAX_CHANNELS : ds->c;
    for (int ch = 0; ch < c; ch++) {
        /* torchvision: ToTensor is x.float().div(255), Normalize is sub_(mean).div_(std), with
         * mean and std as float32 tensors: three float32 operations in this order (the golden in
         * tests/data/datasets/lut.txt, from torchvision itself, checks all 256 values). */
        for (int v = 0; v < 256; v++)
            ds->lut[ch][v] = ((float)v / 255.0f - ds->mean[ch]) / ds->std[ch];
    }
}

void mz_dataset_set_normalize(mz_dataset *ds, const float *mean, const float *std)
{
    int c = ds->c < 0 ? 0 : ds->c > MZ_MAX_CHANNELS ? MZ_MAX_CHANNELS : ds->c;
    memset(ds->mean, 0, sizeof ds->mean);
    memset(ds->std, 0, sizeof ds->std);
    memset(ds->lut, 0, sizeof ds->lut);
    for (int ch = 0; ch < c; ch++) {
        ds->mean[ch] = mean[ch];
        ds->std[ch] = std[ch];
    }
    mz_dataset_fill_lut(ds);
}

void mz_split_release(mz_split *s)
{
    if (!s)
        return;
    free(s->x);
    free(s->y);
    memset(s, 0, sizeof *s);
}

void mz_dataset_release(mz_dataset *ds)
{
    if (!ds)
        return;
    mz_split_release(&ds->train);
    mz_split_release(&ds->val);
    mz_split_release(&ds->test);
}

/* Allocates s for n images of bpi bytes (NULL buffers when n == 0). */
static int split_alloc(mz_split *s, int64_t n, int64_t bpi)
{
    memset(s, 0, sizeof *s);
    if (n == 0)
        return 0;
    s->x = malloc((size_t)n * (size_t)bpi);
    s->y = malloc((size_t)n * sizeof *s->y);
    if (!s->x || !s->y) {
        mz_split_release(s);
        return -1;
    }
    s->n = n;
    return 0;
}

static void gather(mz_split *s, const uint8_t *x, const int32_t *y, const uint32_t *idx,
                   int64_t bpi)
{
    for (int64_t k = 0; k < s->n; k++) {
        memcpy(s->x + k * bpi, x + (int64_t)idx[k] * bpi, (size_t)bpi);
        s->y[k] = y[idx[k]];
    }
}

/* torch.utils.data.random_split(full, [n_train, n_val], generator=manual_seed(seed)) takes
 * perm = torch.randperm(n) and returns Subset(full, perm[0:n_train]) and
 * Subset(full, perm[n_train:n_train + n_val]). The splits here hold the images in exactly that
 * order. (The reference then copied each split through a DataLoader(shuffle=True) driven by torch's
 * unseeded global RNG before saving it; that extra order cannot be reproduced and changes nothing
 * but the storage order, so train is perm[0:n_train] in perm order.) */
mz_status mz_split_random(const uint8_t *x, const int32_t *y, int64_t n, int64_t bytes_per_image,
                          int64_t n_train, int64_t n_val, uint64_t seed, mz_split *out_train,
                          mz_split *out_val, mz_error *err)
{
    if (!out_train || !out_val)
        return mz_fail(err, MZ_EINVAL, "mz_split_random: NULL output split");
    memset(out_train, 0, sizeof *out_train);
    memset(out_val, 0, sizeof *out_val);
    if (n < 0 || n > (int64_t)UINT32_MAX || n_train < 0 || n_val < 0 || n_train > n ||
        n_val > n - n_train)
        return mz_fail(err, MZ_EINVAL, "mz_split_random: cannot take %lld + %lld items from %lld",
                       (long long)n_train, (long long)n_val, (long long)n);
    if (bytes_per_image <= 0 || (n > 0 && (!x || !y)))
        return mz_fail(err, MZ_EINVAL, "mz_split_random: no images (%lld bytes per image)",
                       (long long)bytes_per_image);
    uint32_t *perm = malloc((size_t)(n ? n : 1) * sizeof *perm);
    if (!perm)
        return mz_fail(err, MZ_ENOMEM, "split: out of memory for a permutation of %lld",
                       (long long)n);
    mz_status st = mz_torch_randperm(perm, (uint32_t)n, seed);
    if (st) {
        free(perm);
        return mz_fail(err, st, "split: randperm(%lld) failed", (long long)n);
    }
    if (split_alloc(out_train, n_train, bytes_per_image) ||
        split_alloc(out_val, n_val, bytes_per_image)) {
        free(perm);
        mz_split_release(out_train);
        return mz_fail(err, MZ_ENOMEM, "split: out of memory for %lld + %lld images",
                       (long long)n_train, (long long)n_val);
    }
    gather(out_train, x, y, perm, bytes_per_image);
    gather(out_val, x, y, perm + n_train, bytes_per_image);
    free(perm);
    return MZ_OK;
}

/* The reference's "train_subset": the first n images of the training split (perm[0..n-1]). */
mz_status mz_dataset_subset_train(mz_dataset *ds, int64_t n, mz_error *err)
{
    if (!ds)
        return mz_fail(err, MZ_EINVAL, "mz_dataset_subset_train: NULL dataset");
    if (n < 0 || n > ds->train.n)
        return mz_fail(err, MZ_EINVAL,
                       "%s: train_subset of %lld images requested, but the training split has "
                       "%lld (expected 1 to %lld)",
                       ds->name, (long long)n, (long long)ds->train.n, (long long)ds->train.n);
    if (n == ds->train.n)
        return MZ_OK;
    if (n == 0) {
        mz_split_release(&ds->train);
        return MZ_OK;
    }
    int64_t bpi = (int64_t)ds->c * ds->h * ds->w;
    /* Shrinking realloc: on failure the old, larger block is still valid and is kept. */
    uint8_t *nx = bpi > 0 ? realloc(ds->train.x, (size_t)n * (size_t)bpi) : NULL;
    if (nx)
        ds->train.x = nx;
    int32_t *ny = realloc(ds->train.y, (size_t)n * sizeof *ny);
    if (ny)
        ds->train.y = ny;
    ds->train.n = n;
    return MZ_OK;
}
