/* PIL-exact image operations against goldens written by tools/make_pil_golden.py (python3-pil and
 * torchvision), byte for byte; and the ResNet augmentations' determinism and semantics. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "data/readers-impl.h" /* the readers' JPEG decoder (private to src/data) */
#include "mzoo/data.h"

static const char *data_dir(void)
{
    const char *d = getenv("MZ_TEST_DATA");
    return d ? d : "tests/data";
}

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
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

static void golden_cases(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/pil/cases.txt", data_dir());
    FILE *f = fopen(path, "r");
    CHECK_MSG(f != NULL, "cannot open %s (run tools/make_pil_golden.py)", path);
    if (!f)
        return;
    char name[128], op[32];
    int c, h, w, oh, ow, ncases = 0;
    double param;
    while (fscanf(f, "%127s %31s %d %d %d %d %d %lf", name, op, &c, &h, &w, &oh, &ow, &param) ==
           8) {
        size_t in_len = 0, out_len = 0;
        snprintf(path, sizeof path, "%s/pil/%s.in", data_dir(), name);
        uint8_t *in = read_all(path, &in_len);
        snprintf(path, sizeof path, "%s/pil/%s.out", data_dir(), name);
        uint8_t *want = read_all(path, &out_len);
        CHECK_MSG(in && want, "%s: missing golden files", name);
        if (!in || !want) {
            free(in);
            free(want);
            continue;
        }
        int oc = strcmp(op, "gray") == 0 ? 1 : c;
        if (strcmp(op, "jpeg") != 0)
            CHECK_EQ_INT(in_len, (size_t)c * h * w);
        CHECK_EQ_INT(out_len, (size_t)oc * oh * ow);
        uint8_t *got = calloc(out_len, 1);
        mz_error err = {0};
        if (strcmp(op, "resize") == 0) {
            CHECK_OK(mz_pil_resize(in, c, h, w, got, oh, ow, &err), &err);
        } else if (strcmp(op, "gray") == 0) {
            mz_pil_rgb_to_l(in, h, w, got);
        } else if (strcmp(op, "crop") == 0) {
            mz_pil_center_crop(in, c, h, w, got, oh, ow);
        } else if (strcmp(op, "rotate") == 0) {
            mz_aug_rotate_apply(in, c, h, w, param, got);
        } else if (strcmp(op, "jpeg") == 0) {
            CHECK_OK(mz_rd_jpeg_decode_rgb(in, in_len, h, w, got, name, &err), &err);
        } else {
            CHECK_MSG(0, "%s: unknown op %s", name, op);
        }
        size_t diff = 0, first = 0;
        for (size_t i = 0; i < out_len; i++)
            if (got[i] != want[i] && !diff++)
                first = i;
        CHECK_MSG(diff == 0,
                  "%s (%s %dx%dx%d -> %dx%d): %zu of %zu bytes differ, first at %zu: %d vs %d",
                  name, op, c, h, w, oh, ow, diff, out_len, first, got[first], want[first]);
        ncases++;
        free(in);
        free(want);
        free(got);
    }
    fclose(f);
    CHECK_MSG(ncases >= 20, "only %d golden cases ran", ncases);
}

/* A resampler reused across images gives the same bytes as one-shot resizes. */
static void resampler_reuse(void)
{
    uint8_t a[2][32 * 32], o1[28 * 28], o2[28 * 28];
    for (int i = 0; i < 32 * 32; i++) {
        a[0][i] = (uint8_t)(i * 7);
        a[1][i] = (uint8_t)(i * 13 + 5);
    }
    mz_pil_resampler r;
    mz_error err = {0};
    CHECK_OK(mz_pil_resampler_init(&r, 32, 32, 28, 28, &err), &err);
    for (int k = 0; k < 2; k++) {
        mz_pil_resample_plane(&r, a[k], o1);
        CHECK_OK(mz_pil_resize(a[k], 1, 32, 32, o2, 28, 28, &err), &err);
        CHECK(memcmp(o1, o2, sizeof o1) == 0);
    }
    mz_pil_resampler_release(&r);
    mz_pil_resampler_release(&r); /* released twice: harmless */
    CHECK(mz_pil_resampler_init(&r, 0, 32, 28, 28, &err) == MZ_EINVAL);
    /* a constant image stays constant through any resize */
    uint8_t flat[16 * 16], big[28 * 28];
    memset(flat, 77, sizeof flat);
    CHECK_OK(mz_pil_resize(flat, 1, 16, 16, big, 28, 28, &err), &err);
    int all = 1;
    for (int i = 0; i < 28 * 28; i++)
        all &= big[i] == 77;
    CHECK(all);
}

static void augment(void)
{
    enum { C = 3, H = 32, W = 32 };
    static uint8_t img[C * H * W], a[C * H * W], b[C * H * W], ref[C * H * W];
    for (int i = 0; i < C * H * W; i++)
        img[i] = (uint8_t)(1 + (i * 31) % 251); /* no zeros, so padding is visible */

    /* Pure function of (seed, epoch, position). */
    mz_aug_crop_flip(img, C, H, W, 4, 7, 3, 11, a);
    mz_aug_crop_flip(img, C, H, W, 4, 7, 3, 11, b);
    CHECK(memcmp(a, b, sizeof a) == 0);

    /* Semantics: pad 4 with zeros, crop at (dy, dx), then mirror horizontally. */
    int hist_dy[9] = {0}, flips = 0, n = 2000, differ = 0;
    for (int pos = 0; pos < n; pos++) {
        int dy, dx, flip;
        mz_aug_crop_flip_params(7, 3, (uint32_t)pos, 4, &dy, &dx, &flip);
        CHECK(dy >= 0 && dy <= 8 && dx >= 0 && dx <= 8);
        if (dy < 0 || dy > 8 || dx < 0 || dx > 8)
            break;
        hist_dy[dy]++;
        flips += flip;
        if (pos < 20) {
            mz_aug_crop_flip(img, C, H, W, 4, 7, 3, (uint32_t)pos, a);
            for (int ch = 0; ch < C; ch++)
                for (int y = 0; y < H; y++)
                    for (int x = 0; x < W; x++) {
                        int px = flip ? W - 1 - x : x; /* column in the crop before the flip */
                        int sy = y + dy - 4, sx = px + dx - 4;
                        ref[(ch * H + y) * W + x] = sy < 0 || sy >= H || sx < 0 || sx >= W
                                                        ? 0
                                                        : img[(ch * H + sy) * W + sx];
                    }
            CHECK_MSG(memcmp(a, ref, sizeof a) == 0, "crop/flip at position %d", pos);
            mz_aug_crop_flip(img, C, H, W, 4, 7, 4, (uint32_t)pos, b);
            differ += memcmp(a, b, sizeof a) != 0;
        }
    }
    for (int k = 0; k < 9; k++)
        CHECK_MSG(hist_dy[k] > n / 9 / 2, "dy = %d drawn %d times of %d", k, hist_dy[k], n);
    CHECK_MSG(flips > n * 4 / 10 && flips < n * 6 / 10, "%d flips of %d", flips, n);
    CHECK_MSG(differ >= 15, "the epoch changed only %d of 20 augmentations", differ);

    /* Flip + rotation: angle in [-20, 20), flip about half the time, deterministic. */
    double sum = 0;
    int fl = 0;
    float lo = 100, hi = -100;
    for (int pos = 0; pos < n; pos++) {
        int flip;
        float ang;
        mz_aug_flip_rotate_params(9, 1, (uint32_t)pos, 20.0f, &flip, &ang);
        fl += flip;
        sum += ang;
        lo = ang < lo ? ang : lo;
        hi = ang > hi ? ang : hi;
    }
    CHECK(lo >= -20.0f && hi < 20.0f && lo < -19.0f && hi > 19.0f);
    CHECK_NEAR(sum / n, 0.0, 1.0);
    CHECK_MSG(fl > n * 4 / 10 && fl < n * 6 / 10, "%d flips of %d", fl, n);
    uint8_t tmp[C * H * W];
    mz_aug_flip_rotate(img, C, H, W, 20.0f, 9, 1, 5, tmp, a);
    mz_aug_flip_rotate(img, C, H, W, 20.0f, 9, 1, 5, tmp, b);
    CHECK(memcmp(a, b, sizeof a) == 0);
    /* A rotation by 0 degrees is the identity. */
    mz_aug_rotate_apply(img, C, H, W, 0.0, a);
    CHECK(memcmp(a, img, sizeof a) == 0);
}

int main(void)
{
    golden_cases();
    resampler_reuse();
    augment();
    return check_summary("test_pil");
}
