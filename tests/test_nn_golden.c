/* The reference kernels and optimizers against PyTorch 1.13 (tests/data/golden/nn.{json,bin},
 * written by tools/make_nn_golden.py).
 *
 * For every case: the layout table (tensor names, shapes, offsets) equals the state_dict torch
 * wrote; from torch's initial weights, the logits, loss and every parameter gradient of batch 0
 * match; then 3 steps of forward + backward + mz_optim_step on batches 0, 1, 2 give the weights
 * torch's optimizer gave after each step, and the same losses.
 *
 * Tolerances. The two sides compute the same float32 formulas with different summation orders,
 * FMA use and elementary functions (mz_* vs torch's vectorised ones), so the results differ by
 * rounding, amplified by the depth of the network:
 *  - logits: |d| <= 1e-5 + 1e-5 |ref| + 3e-6 max|logits|. The last term covers cancellation and
 *    amplification: with N(0,1) weights every layer multiplies the rounding differences of its
 *    inputs by ~sqrt(fan_in), logits reach hundreds while single ones are near 0 (worst case
 *    measured: 2e-6 of the largest logit, tanh with N(0,1) weights);
 *  - loss: 1e-5 relative + 1e-6;
 *  - gradients, per tensor: |d| <= 1e-4 |ref| + 1e-5 max|ref of that tensor| + 1e-7. A wrong
 *    formula, index or layout changes whole tensors by O(100%); rounding stays near 1e-6 of the
 *    tensor's scale. Saturated units (tanh/sigmoid with U(0,1) weights) give gradients that are
 *    pure rounding noise (1 - y^2 with y within an ulp of 1): they are covered by the term in the
 *    tensor's scale, not by the relative one.
 *  - weights after each optimizer step: |d| <= 1e-5 |w| + lr * 1e-3 (one step changes a weight
 *    by at most ~lr for Adam, lr * |g| for SGD; a missing bias correction, decay, momentum or
 *    sign error changes it by O(lr)). Adam divides by sqrt(v): where the gradient itself is
 *    rounding noise, g = grad + wd * w is still dominated by wd * w (1e-3 * |w|), so the update
 *    direction is stable. Elements whose torch update is smaller than the allowed error are not
 *    special: the bound is absolute.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "golden.h"
#include "mzoo/nn.h"
#include "mzoo/optim.h"

#define GOLDEN_B 10

static const char *const act_names[] = {"tanh", "relu", "sigmoid", "gelu", "leakyrelu", "silu"};
static const char *const init_names[] = {"uniform",        "normal",         "kaiming_uniform",
                                         "kaiming_normal", "xavier_uniform", "xavier_normal"};

static int lookup(const char *const *names, int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], s))
            return i;
    return -1;
}

/* ---- inputs: the generator documented in tools/make_nn_golden.py ---- */
static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Fills x [B][C][H][W] and y [B] from a batch description; checks it against the manifest's
 * checksum and first values. */
static int make_batch(const json_t *meta, long n, float *x, int32_t *y)
{
    uint64_t seed = (uint64_t)json_integer_value(json_object_get(meta, "seed"));
    uint64_t base = seed * 0x9E3779B97F4A7C15ULL;
    double sum = 0;
    for (long i = 0; i < n; i++) {
        x[i] = (float)(mix64(base + (uint64_t)i) >> 40) * (1.0f / 4194304.0f) - 1.0f;
        sum += x[i];
    }
    const json_t *labels = json_object_get(meta, "labels");
    int ok = json_array_size(labels) == GOLDEN_B;
    for (int b = 0; ok && b < GOLDEN_B; b++) {
        y[b] = (int32_t)json_integer_value(json_array_get(labels, (size_t)b));
        ok = y[b] >= 0 && y[b] < 10;
    }
    CHECK_MSG(ok, "batch %llu: labels", (unsigned long long)seed);
    double want = json_real_value(json_object_get(meta, "checksum"));
    CHECK_MSG(sum == want, "batch %llu: input checksum %.17g, manifest %.17g",
              (unsigned long long)seed, sum, want);
    const json_t *first = json_object_get(meta, "first");
    for (int i = 0; i < 4; i++)
        CHECK_MSG(x[i] == (float)json_number_value(json_array_get(first, (size_t)i)),
                  "batch %llu: x[%d] = %.9g", (unsigned long long)seed, i, (double)x[i]);
    return ok && sum == want;
}

/* ---- comparison ---- */
typedef struct cmp {
    double worst_rel; /* max |a-b| / |b| over elements with |b| > 1e-3 of the array's scale */
    double worst_abs;
    long bad; /* elements outside the bound */
    long first_bad;
} cmp;

/* |a-b| <= atol + rtol |b| + stol * max|b| */
static cmp compare(const float *a, const float *b, long n, double rtol, double atol, double stol)
{
    cmp c = {0, 0, 0, -1};
    double scale = 0;
    for (long i = 0; i < n; i++)
        if (fabs(b[i]) > scale)
            scale = fabs(b[i]);
    for (long i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= atol + rtol * fabs(b[i]) + stol * scale)) {
            if (c.bad++ == 0)
                c.first_bad = i;
        }
        if (d > c.worst_abs)
            c.worst_abs = d;
        if (fabs(b[i]) > 1e-3 * scale && d / fabs(b[i]) > c.worst_rel)
            c.worst_rel = d / fabs(b[i]);
    }
    return c;
}

static void report(const char *cs, const char *what, const float *a, const float *b, long n,
                   double rtol, double atol, double stol, double *worst)
{
    cmp c = compare(a, b, n, rtol, atol, stol);
    if (c.bad)
        fprintf(stderr,
                "  %s: %s: %ld of %ld elements out of bound; first [%ld] %.9g vs torch %.9g\n", cs,
                what, c.bad, n, c.first_bad, (double)a[c.first_bad], (double)b[c.first_bad]);
    CHECK_MSG(c.bad == 0, "%s: %s", cs, what);
    if (c.worst_rel > *worst)
        *worst = c.worst_rel;
}

/* Gradients are compared tensor by tensor (each with its own scale). */
static void compare_grads(const char *cs, const mz_arch *a, const float *g, const float *ref,
                          double *worst)
{
    for (int t = 0; t < a->n_tensors; t++) {
        const mz_tensor_desc *d = &a->tensors[t];
        char what[128];
        snprintf(what, sizeof what, "grad %s", d->name);
        report(cs, what, g + d->offset, ref + d->offset, (long)d->count, 1e-4, 1e-7, 1e-5, worst);
    }
}

/* Weights after optimizer steps, tensor by tensor. D = |w_torch - w_initial| is how far torch's
 * steps moved each weight: the error of the steps is a small part of it (gradient errors, see
 * above, are ~1e-4 relative and ~1e-5 of the tensor's scale), plus the rounding of w itself and
 * a floor of 1e-3 lr (for Adam, whose steps have size ~lr whatever the gradient). */
static void compare_weights(const char *cs, const char *what, const mz_arch *a, const float *w,
                            const float *ref, const float *w0, double lr, double *worst)
{
    for (int t = 0; t < a->n_tensors; t++) {
        const mz_tensor_desc *d = &a->tensors[t];
        double maxD = 0;
        for (int64_t i = d->offset; i < d->offset + d->count; i++)
            maxD = fmax(maxD, fabs((double)ref[i] - w0[i]));
        long bad = 0, first = -1;
        for (int64_t i = d->offset; i < d->offset + d->count; i++) {
            double D = fabs((double)ref[i] - w0[i]);
            double err = fabs((double)w[i] - ref[i]);
            double bound = 1e-5 * fabs(ref[i]) + 1e-3 * lr + 1e-4 * D + 1e-5 * maxD;
            if (!(err <= bound) && bad++ == 0)
                first = (long)i;
            if (D > 0 && err / D > *worst)
                *worst = err / D;
        }
        if (bad)
            fprintf(stderr,
                    "  %s: %s: %s: %ld of %lld elements out of bound; first [%ld] %.9g vs torch "
                    "%.9g (moved %.3g)\n",
                    cs, what, d->name, bad, (long long)d->count, first, (double)w[first],
                    (double)ref[first], fabs((double)ref[first] - w0[first]));
        CHECK_MSG(bad == 0, "%s: %s: %s", cs, what, d->name);
    }
}

/* The layout table against the manifest's state_dict keys and shapes. */
static int check_layout(const char *cs, const mz_arch *a, const json_t *tensors, long n_params)
{
    int ok = (size_t)a->n_tensors == json_array_size(tensors) && a->n_params == n_params;
    CHECK_MSG(ok, "%s: %d tensors / %lld params, torch %zu / %ld", cs, a->n_tensors,
              (long long)a->n_params, json_array_size(tensors), n_params);
    int64_t off = 0;
    for (int t = 0; ok && t < a->n_tensors; t++) {
        const mz_tensor_desc *d = &a->tensors[t];
        const json_t *jt = json_array_get(tensors, (size_t)t);
        const char *name = json_string_value(json_object_get(jt, "name"));
        const json_t *shape = json_object_get(jt, "shape");
        int same = name && !strcmp(name, d->name) && (size_t)d->ndim == json_array_size(shape) &&
                   d->offset == off;
        int64_t count = 1;
        for (int k = 0; same && k < d->ndim; k++) {
            same = d->shape[k] == json_integer_value(json_array_get(shape, (size_t)k));
            count *= d->shape[k];
        }
        same = same && count == d->count;
        CHECK_MSG(same, "%s: tensor %d: mzoo %s at %lld, torch %s", cs, t, d->name,
                  (long long)d->offset, name ? name : "?");
        ok = ok && same;
        off += d->count;
    }
    return ok;
}

static int run_case(const golden *g, const json_t *c)
{
    const char *cs = json_string_value(json_object_get(c, "name"));
    const char *arch_name = json_string_value(json_object_get(c, "arch"));
    int channels = (int)json_integer_value(json_object_get(c, "channels"));
    int h = (int)json_integer_value(json_object_get(c, "h")),
        w = (int)json_integer_value(json_object_get(c, "w"));
    int drop_layers = json_is_true(json_object_get(c, "dropout_layers"));
    int act = lookup(act_names, 6, json_string_value(json_object_get(c, "activation")));
    long n_params = (long)json_integer_value(json_object_get(c, "n_params"));
    if (!cs || !arch_name || act < 0 ||
        lookup(init_names, 6, json_string_value(json_object_get(c, "init"))) < 0) {
        CHECK_MSG(0, "malformed case in manifest");
        return 0;
    }

    mz_arch a;
    mz_error err = {0};
    /* a rate > 0 only selects CNN-s's layout with Dropout modules; the forward uses rate 0 */
    CHECK_OK(mz_arch_init(&a, arch_name, channels, h, w, drop_layers ? 0.1 : 0.0, &err), &err);
    CHECK_EQ_INT(a.has_dropout_layers, drop_layers || !strcmp(arch_name, "cnn-l"));
    if (!check_layout(cs, &a, json_object_get(c, "tensors"), n_params))
        return 0;

    const int B = GOLDEN_B, K = a.n_classes;
    long in_n = (long)B * channels * h * w;
    const float *p0 = golden_array(g, json_string_value(json_object_get(c, "params")), n_params);
    const float *ref_logits =
        golden_array(g, json_string_value(json_object_get(c, "logits")), (long)B * K);
    const float *ref_grads =
        golden_array(g, json_string_value(json_object_get(c, "grads")), n_params);
    float *params = malloc(sizeof(float) * (size_t)n_params);
    float *grads = malloc(sizeof(float) * (size_t)n_params);
    float *x = malloc(sizeof(float) * (size_t)in_n);
    float *ws = malloc(sizeof(float) * (size_t)mz_ref_workspace_floats(&a, B));
    float logits[GOLDEN_B * 10], dlogits[GOLDEN_B * 10];
    int32_t y[GOLDEN_B];
    if (!p0 || !ref_logits || !ref_grads || !params || !grads || !x || !ws) {
        CHECK_MSG(0, "%s: missing arrays or out of memory", cs);
        free(params), free(grads), free(x), free(ws);
        return 0;
    }

    mz_fwd_cfg fc = {(mz_activation)act, 0.0f, 1, 0, 0, 0};
    double worst_fwd = 0, worst_grad = 0, worst_step = 0;

    /* forward, loss, backward on batch 0 from torch's initial weights */
    memcpy(params, p0, sizeof(float) * (size_t)n_params);
    make_batch(json_object_get(c, "batch"), in_n, x, y);
    mz_ref_forward(&a, &fc, params, x, B, ws, logits);
    report(cs, "logits", logits, ref_logits, (long)B * K, 1e-5, 1e-5, 3e-6, &worst_fwd);
    float loss = mz_ref_loss(logits, y, B, K, dlogits, NULL);
    double ref_loss = json_real_value(json_object_get(c, "loss"));
    CHECK_MSG(fabs(loss - ref_loss) <= 1e-6 + 1e-5 * fabs(ref_loss), "%s: loss %.9g, torch %.9g",
              cs, (double)loss, ref_loss);
    if (fabs(ref_loss) > 0 && fabs(loss - ref_loss) / fabs(ref_loss) > worst_fwd)
        worst_fwd = fabs(loss - ref_loss) / fabs(ref_loss);
    mz_ref_backward(&a, &fc, params, B, dlogits, ws, grads);
    compare_grads(cs, &a, grads, ref_grads, &worst_grad);

    /* optimizer trajectories */
    const json_t *trajs = json_object_get(c, "trajectories");
    for (size_t ti = 0; ti < json_array_size(trajs); ti++) {
        const json_t *tj = json_array_get(trajs, ti);
        const char *opt = json_string_value(json_object_get(tj, "optimizer"));
        mz_model_spec ms;
        memset(&ms, 0, sizeof ms);
        ms.activation = (mz_activation)act;
        ms.optimizer = opt && !strcmp(opt, "adam") ? MZ_OPT_ADAM : MZ_OPT_SGD;
        ms.lr = json_number_value(json_object_get(tj, "lr"));
        ms.weight_decay = json_number_value(json_object_get(tj, "weight_decay"));
        ms.momentum = json_number_value(json_object_get(tj, "momentum"));
        ms.nesterov = json_is_true(json_object_get(tj, "nesterov"));
        mz_optim_cfg oc;
        mz_optim_cfg_from_model(&oc, &ms);
        int64_t ns = mz_optim_state_floats(oc.type, n_params);
        float *state = calloc((size_t)ns, sizeof(float));
        if (!state) {
            CHECK_MSG(0, "out of memory");
            continue;
        }
        memcpy(params, p0, sizeof(float) * (size_t)n_params);
        char what[160];
        for (int t = 1; t <= 3; t++) {
            const json_t *meta = json_array_get(json_object_get(tj, "batches"), (size_t)(t - 1));
            const float *ref_w = golden_array(
                g,
                json_string_value(json_array_get(json_object_get(tj, "weights"), (size_t)(t - 1))),
                n_params);
            if (!meta || !ref_w) {
                CHECK_MSG(0, "%s: trajectory %zu step %d missing", cs, ti, t);
                break;
            }
            make_batch(meta, in_n, x, y);
            mz_ref_forward(&a, &fc, params, x, B, ws, logits);
            float l = mz_ref_loss(logits, y, B, K, dlogits, NULL);
            double rl =
                json_number_value(json_array_get(json_object_get(tj, "losses"), (size_t)(t - 1)));
            CHECK_MSG(fabs(l - rl) <= 1e-6 + 1e-5 * fabs(rl),
                      "%s: %s step %d: loss %.9g, torch %.9g", cs,
                      json_string_value(json_object_get(tj, "name")), t, (double)l, rl);
            mz_ref_backward(&a, &fc, params, B, dlogits, ws, grads);
            mz_optim_step(&oc, params, grads, state, n_params, t);
            snprintf(what, sizeof what, "%s weights after step %d",
                     json_string_value(json_object_get(tj, "name")), t);
            compare_weights(cs, what, &a, params, ref_w, p0, oc.lr, &worst_step);
        }
        free(state);
    }
    printf("%-40s worst relative error: forward %.2e  grads %.2e  steps %.2e (of the step)\n", cs,
           worst_fwd, worst_grad, worst_step);
    free(params), free(grads), free(x), free(ws);
    return 1;
}

int main(void)
{
    const char *dir = getenv("MZ_TEST_DATA");
    golden g = {0};
    if (!dir || !golden_load(&g, dir, "nn")) {
        CHECK_MSG(0, "cannot load golden files (MZ_TEST_DATA=%s)", dir ? dir : "unset");
        return check_summary("test_nn_golden");
    }
    CHECK_EQ_INT(json_integer_value(json_object_get(g.root, "format")), 1);
    CHECK_EQ_INT(json_integer_value(json_object_get(g.root, "batch_size")), GOLDEN_B);
    const json_t *cases = json_object_get(g.root, "cases");
    CHECK(json_array_size(cases) >= 36);
    size_t n_traj = 0;
    for (size_t i = 0; i < json_array_size(cases); i++) {
        run_case(&g, json_array_get(cases, i));
        n_traj += json_array_size(json_object_get(json_array_get(cases, i), "trajectories"));
    }
    printf("%zu cases, %zu optimizer trajectories\n", json_array_size(cases), n_traj);
    json_decref(g.root);
    free(g.blob);
    return check_summary("test_nn_golden");
}
