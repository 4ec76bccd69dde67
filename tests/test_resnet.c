/* ResNet-18 against PyTorch 1.13 / torchvision 0.14 (tests/data/golden/resnet.{json,bin}, written
 * by tools/make_resnet_golden.py), plus checks that need no golden file.
 *
 *  - layout: the 122 state_dict names, shapes and order for C=3 with K=10/100/200 and C=1, and
 *    the reference's totals;
 *  - init: the reference's ResNet initialisation (kaiming_uniform convs and fc, BN 1/0, buffers
 *    0/1/0, fc.bias 0.01), per-tensor statistics, determinism;
 *  - golden cases: eval-mode logits, train-mode logits, loss, every gradient, BN running stats
 *    and counters after a training forward, and 3 SGD + OneCycle updates (losses, the change of
 *    every weight, the buffers);
 *  - a finite-difference check of the backward pass along whole-tensor directions;
 *  - the workspace's batch chunking: a batch evaluated at once equals its halves.
 *
 * Tolerances. Both sides compute the same float32 formulas in different orders (GEMM blocking,
 * BatchNorm reductions in double here, vectorised in torch), so they differ by rounding, which
 * the 20 conv+BN layers amplify a little. A gradient tensor passes when its largest element
 * difference is below GRAD_TOL times the tensor's RMS and its norm and random projection (a
 * full-tensor check for the sampled large tensors) agree within PROJ_TOL of its norm. A wrong
 * index, formula or layout moves whole tensors by O(100%) of their RMS.
 */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "golden.h"
#include "mzoo/nn.h"
#include "mzoo/optim.h"
#include "mzoo/resnet.h"

#define LOGIT_TOL 2e-5 /* of the largest |logit| of the case (measured: 3e-6) */
#define LOSS_TOL 2e-5  /* relative */
#define GRAD_TOL 5e-4  /* max element difference / tensor RMS (measured: 5e-5) */
#define PROJ_TOL 1e-4  /* norm and projection difference / tensor norm (measured: 1e-6) */
#define BUF_TOL 2e-5   /* running statistics: relative + absolute */
#define DELTA_TOL 2e-3 /* weight change after 3 updates: max difference / RMS (measured: 3e-4) */

static int verbose;

/* ---- the generators documented in tools/make_resnet_golden.py ---- */
#define GOLD 0x9E3779B97F4A7C15ULL

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

static void fill_state(const mz_resnet *net, int64_t case_seed, float *state)
{
    for (int t = 0; t < net->n_tensors; t++) {
        const mz_tensor_desc *d = &net->tensors[t];
        float *v = state + d->offset;
        uint64_t base = (uint64_t)(1000 * case_seed + t) * GOLD;
        for (int64_t i = 0; i < d->count; i++) {
            double u = (double)(mix64(base + (uint64_t)i) >> 40) * 0x1p-24, a;
            if (ends_with(d->name, "num_batches_tracked"))
                a = 3;
            else if (ends_with(d->name, "running_mean"))
                a = 0.1 * (2 * u - 1);
            else if (ends_with(d->name, "running_var"))
                a = 0.5 + u;
            else if (!strcmp(d->name, "fc.bias"))
                a = 0.1 * (2 * u - 1);
            else if (d->ndim >= 2)
                a = sqrt(6.0 /
                         (double)(d->shape[1] * (d->ndim == 4 ? d->shape[2] * d->shape[3] : 1))) *
                    (2 * u - 1);
            else if (ends_with(d->name, ".weight"))
                a = 0.75 + 0.5 * u;
            else
                a = 0.2 * (2 * u - 1);
            v[i] = (float)a;
        }
    }
}

static void make_batch(int64_t seed, int B, int C, int H, int W, float *x)
{
    uint64_t base = (uint64_t)seed * GOLD;
    for (int64_t i = 0; i < (int64_t)B * C * H * W; i++)
        x[i] = (float)((double)(mix64(base + (uint64_t)i) >> 40) * 0x1p-22 - 1.0);
}

static double sign_of(int64_t i)
{
    return (mix64((uint64_t)i + 12345) & 1) ? 1.0 : -1.0;
}

/* ---- comparisons ---- */

static double max_abs(const float *a, long n)
{
    double m = 0;
    for (long i = 0; i < n; i++)
        if (fabs((double)a[i]) > m)
            m = fabs((double)a[i]);
    return m;
}

/* Compares tensor `v` [count] with its golden form (whole, or samples + norm + projection):
 * max element difference <= tol * RMS, norm and projection within proj_tol * norm. */
static void compare_tensor(const golden *g, const char *array, json_t *stats, const float *v,
                           int64_t count, double tol, double proj_tol)
{
    int full = json_is_true(json_object_get(stats, "full"));
    int64_t ns = full ? count : (int64_t)json_integer_value(json_object_get(g->root, "samples"));
    const float *ref = golden_array(g, array, (long)ns);
    CHECK_MSG(ref != NULL, "%s missing", array);
    if (!ref)
        return;
    double norm_ref = 0, norm = 0, proj = 0;
    for (int64_t i = 0; i < count; i++) {
        norm += (double)v[i] * v[i];
        proj += v[i] * sign_of(i);
    }
    norm = sqrt(norm);
    if (full) {
        for (int64_t i = 0; i < count; i++)
            norm_ref += (double)ref[i] * ref[i];
        norm_ref = sqrt(norm_ref);
    } else {
        norm_ref = json_real_value(json_object_get(stats, "norm"));
    }
    double rms = norm_ref / sqrt((double)count) + 1e-30, worst = 0;
    int64_t worst_i = 0;
    for (int64_t j = 0; j < ns; j++) {
        int64_t i = full ? j : (int64_t)((j * count) / ns);
        double d = fabs((double)v[i] - ref[j]);
        if (d > worst)
            worst = d, worst_i = i;
    }
    CHECK_MSG(worst <= tol * rms, "%s: element %lld differs by %.3g = %.3g RMS (tol %g; ours %.9g)",
              array, (long long)worst_i, worst, worst / rms, tol, (double)v[worst_i]);
    CHECK_MSG(fabs(norm - norm_ref) <= proj_tol * norm_ref, "%s: norm %.9g vs %.9g", array, norm,
              norm_ref);
    if (!full) {
        double proj_ref = json_real_value(json_object_get(stats, "proj"));
        CHECK_MSG(fabs(proj - proj_ref) <= proj_tol * norm_ref,
                  "%s: projection %.9g vs %.9g (norm %.6g)", array, proj, proj_ref, norm_ref);
    }
    if (verbose)
        printf("  %-50s max diff %.2e RMS, norm rel %.2e\n", array, worst / rms,
               fabs(norm - norm_ref) / (norm_ref + 1e-30));
}

static void compare_logits(const golden *g, const char *array, const float *logits, long n)
{
    const float *ref = golden_array(g, array, n);
    CHECK_MSG(ref != NULL, "%s missing", array);
    if (!ref)
        return;
    double scale = max_abs(ref, n), worst = 0;
    for (long i = 0; i < n; i++)
        if (fabs((double)logits[i] - ref[i]) > worst)
            worst = fabs((double)logits[i] - ref[i]);
    CHECK_MSG(worst <= LOGIT_TOL * scale, "%s: differs by %.3g (largest |logit| %.4g)", array,
              worst, scale);
    if (verbose)
        printf("  %-50s max diff %.2e of max|logit| %.3g\n", array, worst / scale, scale);
}

static void compare_buffers(const golden *g, const mz_resnet *net, const char *prefix,
                            const float *state)
{
    double worst = 0;
    for (int t = 0; t < net->n_tensors; t++) {
        const mz_tensor_desc *d = &net->tensors[t];
        if (net->trainable[t])
            continue;
        char name[160];
        snprintf(name, sizeof name, "%s/%s", prefix, d->name);
        const float *ref = golden_array(g, name, (long)d->count);
        CHECK_MSG(ref != NULL, "%s missing", name);
        if (!ref)
            continue;
        CHECK_CLOSE(name, state + d->offset, ref, d->count, BUF_TOL, BUF_TOL);
        for (int64_t i = 0; i < d->count; i++) {
            double e = fabs((double)state[d->offset + i] - ref[i]) / (fabs((double)ref[i]) + 1e-3);
            if (e > worst)
                worst = e;
        }
    }
    if (verbose)
        printf("  %-50s worst relative difference %.2e\n", prefix, worst);
}

/* ---- layout ---- */

static void test_layouts(const golden *g)
{
    json_t *layouts = json_object_get(g->root, "layouts");
    const char *key;
    json_t *list;
    int seen = 0;
    json_object_foreach(layouts, key, list)
    {
        int C = 0, K = 0;
        CHECK(sscanf(key, "c%d_k%d", &C, &K) == 2);
        mz_resnet net;
        mz_error err = {0};
        CHECK_OK(mz_resnet_init(&net, C, 32, 32, K, &err), &err);
        CHECK_EQ_INT(net.n_tensors, (long)json_array_size(list));
        CHECK_EQ_INT(net.n_tensors, 122);
        int64_t off = 0, trainable = 0;
        for (int t = 0; t < net.n_tensors && t < (int)json_array_size(list); t++) {
            json_t *e = json_array_get(list, (size_t)t);
            const char *name = json_string_value(json_array_get(e, 0));
            json_t *shape = json_array_get(e, 1);
            const mz_tensor_desc *d = &net.tensors[t];
            CHECK_MSG(name && !strcmp(d->name, name), "%s tensor %d: '%s' vs torch '%s'", key, t,
                      d->name, name ? name : "?");
            CHECK_EQ_INT(d->ndim, (long)json_array_size(shape));
            int64_t count = 1;
            for (int k = 0; k < d->ndim; k++) {
                CHECK_EQ_INT(d->shape[k], json_integer_value(json_array_get(shape, (size_t)k)));
                count *= d->shape[k];
            }
            CHECK_EQ_INT(d->count, count);
            CHECK_EQ_INT(d->offset, off);
            off += d->count;
            int is_buffer = strstr(d->name, "running_") || strstr(d->name, "num_batches_tracked");
            CHECK_EQ_INT(net.trainable[t], !is_buffer);
            if (!is_buffer)
                trainable += d->count;
        }
        CHECK_EQ_INT(net.n_state, off);
        CHECK_EQ_INT(net.n_trainable, trainable);
        /* the reference's parameter counts */
        static const int64_t totals[3][3] = {
            {10, 11183582, 11173962}, {100, 11229752, 11220132}, {200, 11281052, 11271432}};
        for (int k = 0; k < 3; k++)
            if (C == 3 && K == totals[k][0]) {
                CHECK_EQ_INT(net.n_state, totals[k][1]);
                CHECK_EQ_INT(net.n_trainable, totals[k][2]);
            }
        seen++;
    }
    CHECK_EQ_INT(seen, 4);
    /* the stored shape of the counter is a scalar */
    mz_resnet net;
    mz_error err = {0};
    CHECK_OK(mz_resnet_init(&net, 3, 64, 64, 200, &err), &err);
    char buf[96];
    CHECK(!strcmp(mz_shape_json(&net.tensors[5], buf, sizeof buf), "[]"));
    CHECK(!strcmp(net.variant, "resnet18/c3/k200"));
    /* spatial sizes as the reference's: 64 -> 64, 32, 16, 8 */
    CHECK_EQ_INT(net.convs[net.blocks[1].conv2].out_h, 64);
    CHECK_EQ_INT(net.convs[net.blocks[3].conv2].out_h, 32);
    CHECK_EQ_INT(net.convs[net.blocks[5].conv2].out_h, 16);
    CHECK_EQ_INT(net.convs[net.blocks[7].conv2].out_h, 8);
    CHECK(mz_resnet_init(&net, 4, 32, 32, 10, &err) == MZ_EINVAL);
    CHECK(mz_resnet_init(&net, 3, 0, 32, 10, &err) == MZ_EINVAL);
    CHECK(mz_resnet_init(&net, 3, 32, 32, 0, &err) == MZ_EINVAL);
}

/* ---- initialisation ---- */

static void test_init(void)
{
    mz_resnet net;
    mz_error err = {0};
    CHECK_OK(mz_resnet_init(&net, 3, 32, 32, 10, &err), &err);
    float *s = malloc(sizeof(float) * (size_t)net.n_state),
          *s2 = malloc(sizeof(float) * (size_t)net.n_state);
    mz_resnet_init_params(&net, MZ_INIT_KAIMING_UNIFORM, 7, s);
    mz_resnet_init_params(&net, MZ_INIT_KAIMING_UNIFORM, 7, s2);
    CHECK(!memcmp(s, s2, sizeof(float) * (size_t)net.n_state));
    mz_resnet_init_params(&net, MZ_INIT_KAIMING_UNIFORM, 8, s2);
    CHECK(memcmp(s, s2, sizeof(float) * (size_t)net.n_tensors) != 0);
    for (int t = 0; t < net.n_tensors; t++) {
        const mz_tensor_desc *d = &net.tensors[t];
        const float *v = s + d->offset;
        if (d->ndim >= 2) { /* kaiming_uniform: U(-b, b), b = sqrt(6 / fan_in) */
            double fan_in = (double)(d->shape[1] * (d->ndim == 4 ? d->shape[2] * d->shape[3] : 1));
            double b = sqrt(6.0 / fan_in), sum = 0, sq = 0, mx = 0;
            for (int64_t i = 0; i < d->count; i++) {
                sum += v[i], sq += (double)v[i] * v[i];
                if (fabs(v[i]) > mx)
                    mx = fabs(v[i]);
            }
            double n = (double)d->count, mean = sum / n, var = sq / n - mean * mean;
            double var_ref = b * b / 3, se_mean = sqrt(var_ref / n),
                   se_var = var_ref * sqrt(0.8 / n);
            CHECK_MSG(mx <= (float)b && mx > b * (1 - 20.0 / n), "%s: max |w| %.9g, bound %.9g",
                      d->name, mx, b);
            CHECK_MSG(fabs(mean) <= 5 * se_mean, "%s: mean %.3g (se %.3g)", d->name, mean, se_mean);
            CHECK_MSG(fabs(var - var_ref) <= 5 * se_var, "%s: var %.6g vs %.6g", d->name, var,
                      var_ref);
        } else {
            float want = 0;
            if (!strcmp(d->name, "fc.bias"))
                want = 0.01f;
            else if (ends_with(d->name, "running_var") || (ends_with(d->name, ".weight")))
                want = 1.0f; /* BN weight */
            int ok = 1;
            for (int64_t i = 0; i < d->count; i++)
                ok &= v[i] == want;
            CHECK_MSG(ok, "%s: expected every element %g", d->name, (double)want);
        }
    }
    /* every init type: per weight tensor, mean and variance of the reference's distribution */
    for (int init = 0; init < MZ_INIT_COUNT; init++) {
        mz_resnet_init_params(&net, (mz_init)init, 3, s);
        for (int t = 0; t < net.n_tensors; t++) {
            const mz_tensor_desc *d = &net.tensors[t];
            if (d->ndim < 2)
                continue;
            double kk = d->ndim == 4 ? (double)(d->shape[2] * d->shape[3]) : 1;
            double fi = (double)d->shape[1] * kk, fo = (double)d->shape[0] * kk, mean_ref = 0,
                   var_ref;
            switch ((mz_init)init) {
            case MZ_INIT_UNIFORM:
                mean_ref = 0.5, var_ref = 1.0 / 12;
                break;
            case MZ_INIT_NORMAL:
                var_ref = 1;
                break;
            case MZ_INIT_KAIMING_UNIFORM:
            case MZ_INIT_KAIMING_NORMAL:
                var_ref = 2 / fi;
                break;
            case MZ_INIT_XAVIER_UNIFORM:
            case MZ_INIT_XAVIER_NORMAL:
                var_ref = 2 / (fi + fo);
                break;
            default: /* torchvision's kaiming_normal_(fan_out) after the stem; PyTorch's default
                        else */
                var_ref = d->ndim == 4 && t > 0 ? 2 / fo : 1 / (3 * fi);
                break;
            }
            double sum = 0, sq = 0, n = (double)d->count;
            for (int64_t i = 0; i < d->count; i++)
                sum += s[d->offset + i], sq += (double)s[d->offset + i] * s[d->offset + i];
            double mean = sum / n, var = sq / n - mean * mean;
            CHECK_MSG(fabs(mean - mean_ref) <= 5 * sqrt(var_ref / n) &&
                          fabs(var - var_ref) <= 6 * var_ref * sqrt(2 / n),
                      "init %s, %s: mean %.4g var %.4g (expected %.4g, %.4g)",
                      mz_init_name((mz_init)init), d->name, mean, var, mean_ref, var_ref);
        }
        CHECK(s[net.fc_b] == 0.01f && s[net.convs[3].bn_w] == 1.0f &&
              s[net.convs[3].bn_var] == 1.0f);
    }
    free(s);
    free(s2);
}

/* ---- golden cases ---- */

typedef struct model {
    mz_resnet net;
    mz_resnet_ws *ws;
    float *state, *grads, *x, *logits, *dlogits;
    int32_t *y;
    int B, C, H, W, K;
} model;

static int model_init(model *m, int B, int C, int H, int W, int K)
{
    mz_error err = {0};
    memset(m, 0, sizeof *m);
    m->B = B, m->C = C, m->H = H, m->W = W, m->K = K;
    if (mz_resnet_init(&m->net, C, H, W, K, &err) != MZ_OK ||
        mz_resnet_ws_new(&m->ws, &m->net, B, &err) != MZ_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 0;
    }
    m->state = malloc(sizeof(float) * (size_t)m->net.n_state);
    m->grads = malloc(sizeof(float) * (size_t)m->net.n_state);
    m->x = malloc(sizeof(float) * (size_t)B * C * H * W);
    m->logits = malloc(sizeof(float) * (size_t)B * K);
    m->dlogits = malloc(sizeof(float) * (size_t)B * K);
    m->y = malloc(sizeof(int32_t) * (size_t)B);
    return m->state && m->grads && m->x && m->logits && m->dlogits && m->y;
}

static void model_release(model *m)
{
    mz_resnet_ws_free(m->ws);
    free(m->state);
    free(m->grads);
    free(m->x);
    free(m->logits);
    free(m->dlogits);
    free(m->y);
}

static void labels_from(json_t *arr, int32_t *y, int B)
{
    for (int b = 0; b < B; b++)
        y[b] = (int32_t)json_integer_value(json_array_get(arr, (size_t)b));
}

/* train forward + loss + backward; returns the loss */
static float train_pass(model *m)
{
    mz_resnet_forward(&m->net, m->ws, m->state, m->x, m->B, 1, m->logits);
    float loss = mz_ref_loss(m->logits, m->y, m->B, m->K, m->dlogits, NULL);
    mz_resnet_backward(&m->net, m->ws, m->state, m->dlogits, m->grads);
    return loss;
}

static void test_case(const golden *g, json_t *c)
{
    const char *tag = json_string_value(json_object_get(c, "name"));
    int B = (int)json_integer_value(json_object_get(c, "B"));
    int C = (int)json_integer_value(json_object_get(c, "C"));
    int H = (int)json_integer_value(json_object_get(c, "H"));
    int W = (int)json_integer_value(json_object_get(c, "W"));
    int K = (int)json_integer_value(json_object_get(c, "K"));
    int64_t seed = json_integer_value(json_object_get(c, "seed"));
    if (verbose)
        printf("case %s: B=%d %dx%dx%d K=%d\n", tag, B, C, H, W, K);
    model m;
    if (!model_init(&m, B, C, H, W, K)) {
        CHECK_MSG(0, "%s: setup failed", tag);
        return;
    }
    char name[200];
    fill_state(&m.net, seed, m.state);
    make_batch(seed, B, C, H, W, m.x);
    labels_from(json_object_get(c, "labels"), m.y, B);

    /* eval mode leaves the state alone */
    float *before = malloc(sizeof(float) * (size_t)m.net.n_state);
    memcpy(before, m.state, sizeof(float) * (size_t)m.net.n_state);
    mz_resnet_forward(&m.net, m.ws, m.state, m.x, B, 0, m.logits);
    CHECK(!memcmp(before, m.state, sizeof(float) * (size_t)m.net.n_state));
    snprintf(name, sizeof name, "%s/logits_eval", tag);
    compare_logits(g, name, m.logits, (long)B * K);

    float loss = train_pass(&m);
    snprintf(name, sizeof name, "%s/logits_train", tag);
    compare_logits(g, name, m.logits, (long)B * K);
    double loss_ref = json_real_value(json_object_get(c, "loss"));
    CHECK_MSG(fabs(loss - loss_ref) <= LOSS_TOL * fabs(loss_ref), "%s: loss %.9g vs %.9g", tag,
              (double)loss, loss_ref);
    json_t *gstats = json_object_get(c, "grads");
    for (int t = 0; t < m.net.n_tensors; t++) {
        const mz_tensor_desc *d = &m.net.tensors[t];
        if (!m.net.trainable[t]) {
            int zero = 1;
            for (int64_t i = 0; i < d->count; i++)
                zero &= m.grads[d->offset + i] == 0.0f;
            CHECK_MSG(zero, "%s: gradient of buffer %s is not 0", tag, d->name);
            continue;
        }
        snprintf(name, sizeof name, "%s/grad/%s", tag, d->name);
        compare_tensor(g, name, json_object_get(gstats, d->name), m.grads + d->offset, d->count,
                       GRAD_TOL, PROJ_TOL);
    }
    snprintf(name, sizeof name, "%s/after_forward", tag);
    compare_buffers(g, &m.net, name, m.state);
    /* trainable tensors are not touched by a forward pass */
    int same = 1;
    for (int t = 0; t < m.net.n_tensors; t++)
        if (m.net.trainable[t])
            same &= !memcmp(before + m.net.tensors[t].offset, m.state + m.net.tensors[t].offset,
                            sizeof(float) * (size_t)m.net.tensors[t].count);
    CHECK(same);

    json_t *steps = json_object_get(c, "steps");
    if (steps) {
        fill_state(&m.net, seed, m.state);
        memcpy(before, m.state, sizeof(float) * (size_t)m.net.n_state);
        double max_lr = json_real_value(json_object_get(steps, "max_lr"));
        int64_t total = json_integer_value(json_object_get(steps, "total_steps"));
        json_t *seeds = json_object_get(steps, "input_seeds");
        mz_optim_cfg oc;
        memset(&oc, 0, sizeof oc);
        oc.type = MZ_OPT_SGD;
        oc.weight_decay = 5e-4;
        oc.momentum = 0.9;
        float *mom =
            calloc((size_t)mz_optim_state_floats(MZ_OPT_SGD, m.net.n_trainable), sizeof(float));
        for (size_t s = 0; s < json_array_size(seeds); s++) {
            make_batch(json_integer_value(json_array_get(seeds, s)), B, C, H, W, m.x);
            labels_from(json_array_get(json_object_get(steps, "labels"), s), m.y, B);
            double lr, mo;
            mz_onecycle(max_lr, total, (int64_t)s, &lr, &mo);
            CHECK_NEAR(lr, json_real_value(json_array_get(json_object_get(steps, "lr"), s)), 1e-12);
            CHECK_NEAR(mo, json_real_value(json_array_get(json_object_get(steps, "momentum"), s)),
                       1e-12);
            oc.lr = lr;
            oc.momentum = mo;
            float l = train_pass(&m);
            double lref = json_real_value(json_array_get(json_object_get(steps, "losses"), s));
            CHECK_MSG(fabs(l - lref) <= 1e-4 * fabs(lref), "%s step %zu: loss %.9g vs %.9g", tag, s,
                      (double)l, lref);
            mz_resnet_optim_step(&m.net, &oc, m.state, m.grads, mom, (int64_t)s + 1);
        }
        json_t *dstats = json_object_get(steps, "delta");
        float *delta = malloc(sizeof(float) * (size_t)m.net.n_state);
        for (int64_t i = 0; i < m.net.n_state; i++)
            delta[i] = m.state[i] - before[i];
        for (int t = 0; t < m.net.n_tensors; t++) {
            const mz_tensor_desc *d = &m.net.tensors[t];
            if (!m.net.trainable[t])
                continue;
            snprintf(name, sizeof name, "%s/delta/%s", tag, d->name);
            compare_tensor(g, name, json_object_get(dstats, d->name), delta + d->offset, d->count,
                           DELTA_TOL, DELTA_TOL);
        }
        snprintf(name, sizeof name, "%s/after_steps", tag);
        compare_buffers(g, &m.net, name, m.state);
        free(delta);
        free(mom);
    }
    free(before);
    model_release(&m);
}

/* ---- finite differences ----
 * Along a whole tensor's direction v (the sign pattern): (L(s + h v) - L(s - h v)) / 2h must
 * equal <grad, v>. Each evaluation is a training-mode forward (batch statistics) from a copy of
 * the state, so the BN buffers do not drift between evaluations. */
static double loss_at(model *m, const float *state, float *scratch)
{
    memcpy(scratch, state, sizeof(float) * (size_t)m->net.n_state);
    mz_resnet_forward(&m->net, m->ws, scratch, m->x, m->B, 1, m->logits);
    return mz_ref_loss(m->logits, m->y, m->B, m->K, NULL, NULL);
}

static void test_finite_differences(void)
{
    model m;
    if (!model_init(&m, 3, 3, 10, 10, 10)) {
        CHECK(0);
        return;
    }
    fill_state(&m.net, 11, m.state);
    make_batch(12, 3, 3, 10, 10, m.x);
    for (int b = 0; b < 3; b++)
        m.y[b] = b * 3;
    float *base = malloc(sizeof(float) * (size_t)m.net.n_state);
    float *probe = malloc(sizeof(float) * (size_t)m.net.n_state);
    float *scratch = malloc(sizeof(float) * (size_t)m.net.n_state);
    memcpy(base, m.state, sizeof(float) * (size_t)m.net.n_state);
    train_pass(&m); /* gradients at base (the forward moved m.state's buffers only) */
    static const char *const names[] = {"conv1.weight",
                                        "bn1.weight",
                                        "layer1.1.conv2.weight",
                                        "layer2.0.downsample.0.weight",
                                        "layer3.0.bn2.bias",
                                        "layer4.1.bn1.weight",
                                        "fc.weight",
                                        "fc.bias"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        const mz_tensor_desc *d = NULL;
        for (int t = 0; t < m.net.n_tensors; t++)
            if (!strcmp(m.net.tensors[t].name, names[k]))
                d = &m.net.tensors[t];
        CHECK(d != NULL);
        if (!d)
            continue;
        /* direction u = g / |g| (the largest signal for a given step); <g, u> = |g| */
        double gn = 0, wn = 0;
        for (int64_t i = 0; i < d->count; i++) {
            gn += (double)m.grads[d->offset + i] * m.grads[d->offset + i];
            wn += (double)base[d->offset + i] * base[d->offset + i];
        }
        gn = sqrt(gn), wn = sqrt(wn);
        double dot = gn;
        double h = 1e-4 * wn;
        memcpy(probe, base, sizeof(float) * (size_t)m.net.n_state);
        for (int64_t i = 0; i < d->count; i++)
            probe[d->offset + i] = (float)(base[d->offset + i] + h * m.grads[d->offset + i] / gn);
        double lp = loss_at(&m, probe, scratch);
        for (int64_t i = 0; i < d->count; i++)
            probe[d->offset + i] = (float)(base[d->offset + i] - h * m.grads[d->offset + i] / gn);
        double lm = loss_at(&m, probe, scratch);
        double fd = (lp - lm) / (2 * h);
        double tol = 3e-2 * dot + 1e-3;
        CHECK_MSG(fabs(fd - dot) <= tol, "%s: finite difference %.6g vs <grad, v> %.6g", names[k],
                  fd, dot);
        if (verbose)
            printf("  fd %-30s %.6g vs %.6g\n", names[k], fd, dot);
    }
    free(base);
    free(probe);
    free(scratch);
    model_release(&m);
}

/* Eval mode is per sample: a batch of 5 equals its parts of 2 and 3 (different GEMM widths). */
static void test_batch_independence(void)
{
    model m;
    if (!model_init(&m, 5, 3, 16, 16, 10)) {
        CHECK(0);
        return;
    }
    fill_state(&m.net, 21, m.state);
    make_batch(22, 5, 3, 16, 16, m.x);
    float whole[50], parts[50];
    mz_resnet_forward(&m.net, m.ws, m.state, m.x, 5, 0, whole);
    mz_resnet_forward(&m.net, m.ws, m.state, m.x, 2, 0, parts);
    mz_resnet_forward(&m.net, m.ws, m.state, m.x + 2 * 3 * 256, 3, 0, parts + 20);
    CHECK_CLOSE("eval logits by parts", parts, whole, 50, 0, 1e-5 * max_abs(whole, 50));
    model_release(&m);
}

int main(void)
{
    verbose = getenv("MZ_TEST_VERBOSE") != NULL;
    const char *dir = getenv("MZ_TEST_DATA");
    golden g = {0};
    test_init();
    test_finite_differences();
    test_batch_independence();
    if (!dir || !golden_load(&g, dir, "resnet")) {
        CHECK_MSG(0, "golden file not found (MZ_TEST_DATA=%s)", dir ? dir : "(unset)");
        return check_summary("test_resnet");
    }
    test_layouts(&g);
    json_t *cases = json_object_get(g.root, "cases");
    for (size_t i = 0; i < json_array_size(cases); i++)
        test_case(&g, json_array_get(cases, i));
    json_decref(g.root);
    free(g.blob);
    return check_summary("test_resnet");
}
