/* The population engine's common part and its plain reference backend. */
#include <stdlib.h>
#include <string.h>

#include "mzoo/pop.h"
#include "nn/nn-impl.h"
#include "core/banned.h"

mz_status mz_pop_init(mz_pop *p, const mz_pop_backend *backend, const mz_arch *arch,
                      mz_activation act, int max_batch, const float *lut, mz_error *err)
{
    memset(p, 0, sizeof *p);
    p->backend = backend;
    p->arch = arch;
    p->act = act;
    for (int l = 0; l < MZ_LANES; l++)
        p->lane_act[l] = act;
    p->max_batch = max_batch;
    p->lut = lut;
    mz_status st = backend->create(p, err);
    if (st != MZ_OK)
        memset(p, 0, sizeof *p);
    return st;
}

void mz_pop_release(mz_pop *p)
{
    if (p && p->backend) {
        p->backend->destroy(p);
        memset(p, 0, sizeof *p);
    }
}

void mz_pop_set_lane(mz_pop *p, int lane, const mz_lane_cfg *cfg, const float *params,
                     const float *opt_state)
{
    p->lane[lane] = *cfg;
    p->backend->set_lane(p, lane, params, opt_state);
}

void mz_pop_get_lane(const mz_pop *p, int lane, float *params, float *opt_state)
{
    p->backend->get_lane(p, lane, params, opt_state);
}

void mz_pop_set_activation(mz_pop *p, int lane, mz_activation act)
{
    p->lane_act[lane] = act;
}

void mz_pop_train_step(mz_pop *p, const uint8_t *images, const int32_t *labels, const uint32_t *idx,
                       int B, int epoch, int step, float *loss, int *correct)
{
    p->backend->train_step(p, images, labels, idx, B, epoch, step, loss, correct);
}

void mz_pop_eval(mz_pop *p, const uint8_t *images, const int32_t *labels, int64_t n,
                 double *loss_sum, int64_t *correct)
{
    p->backend->eval(p, images, labels, n, loss_sum, correct, NULL);
}

void mz_pop_eval_classes(mz_pop *p, const uint8_t *images, const int32_t *labels, int64_t n,
                         double *loss_sum, int64_t *correct, int32_t *const classes[MZ_LANES])
{
    p->backend->eval(p, images, labels, n, loss_sum, correct, classes);
}

void mz_pop_dropped(const mz_pop *p, int64_t *dropped)
{
    if (p->arch->ard)
        p->backend->dropped(p, dropped);
}

/* ---- the reference backend: every lane through src/nn/ref.c ---- */

typedef struct ref_state {
    float *params[MZ_LANES], *grads, *opt[MZ_LANES];
    float *ws, *x, *logits, *dlogits;
    int32_t *y;
    int64_t n_opt;
} ref_state;

static void ref_destroy(mz_pop *p)
{
    ref_state *s = p->impl;
    if (!s)
        return;
    for (int l = 0; l < MZ_LANES; l++) {
        free(s->params[l]);
        free(s->opt[l]);
    }
    free(s->grads);
    free(s->ws);
    free(s->x);
    free(s->logits);
    free(s->dlogits);
    free(s->y);
    free(s);
    p->impl = NULL;
}

static mz_status ref_create(mz_pop *p, mz_error *err)
{
    const mz_arch *a = p->arch;
    ref_state *s = calloc(1, sizeof *s);
    if (!s)
        return mz_fail(err, MZ_ENOMEM, "out of memory creating a population");
    p->impl = s;
    s->n_opt = 2 * a->n_params; /* room for either optimizer */
    int ok = 1;
    for (int l = 0; l < MZ_LANES; l++) {
        s->params[l] = calloc((size_t)a->n_params, sizeof(float));
        s->opt[l] = calloc((size_t)s->n_opt, sizeof(float));
        ok = ok && s->params[l] && s->opt[l];
    }
    int B = p->max_batch;
    s->grads = calloc((size_t)a->n_params, sizeof(float));
    int64_t nws = a->ard ? mz_ard_workspace_floats(a, B) : mz_ref_workspace_floats(a, B);
    s->ws = calloc((size_t)nws, sizeof(float));
    s->x = calloc((size_t)(a->in_c * a->in_h * a->in_w) * (size_t)B, sizeof(float));
    s->logits = calloc((size_t)(a->n_classes * B), sizeof(float));
    s->dlogits = calloc((size_t)(a->n_classes * B), sizeof(float));
    s->y = calloc((size_t)B, sizeof(int32_t));
    if (!ok || !s->grads || !s->ws || !s->x || !s->logits || !s->dlogits || !s->y) {
        ref_destroy(p);
        return mz_fail(err, MZ_ENOMEM, "out of memory creating a population");
    }
    return MZ_OK;
}

static void ref_set_lane(mz_pop *p, int lane, const float *params, const float *opt_state)
{
    ref_state *s = p->impl;
    int64_t n = p->arch->n_params;
    memcpy(s->params[lane], params, sizeof(float) * (size_t)n);
    int64_t no = mz_optim_state_floats(p->lane[lane].opt.type, n);
    if (opt_state)
        memcpy(s->opt[lane], opt_state, sizeof(float) * (size_t)no);
    else
        memset(s->opt[lane], 0, sizeof(float) * (size_t)no);
}

static void ref_get_lane(const mz_pop *p, int lane, float *params, float *opt_state)
{
    const ref_state *s = p->impl;
    int64_t n = p->arch->n_params;
    if (params)
        memcpy(params, s->params[lane], sizeof(float) * (size_t)n);
    if (opt_state)
        memcpy(opt_state, s->opt[lane],
               sizeof(float) * (size_t)mz_optim_state_floats(p->lane[lane].opt.type, n));
}

static void ref_train_step(mz_pop *p, const uint8_t *images, const int32_t *labels,
                           const uint32_t *idx, int B, int epoch, int step, float *loss, int *correct)
{
    ref_state *s = p->impl;
    const mz_arch *a = p->arch;
    int64_t hw = (int64_t)a->in_h * a->in_w, chw = a->in_c * hw;
    for (int l = 0; l < MZ_LANES; l++) {
        mz_lane_cfg *lc = &p->lane[l];
        if (!lc->active)
            continue;
        for (int b = 0; b < B; b++) {
            uint32_t i = idx[l * B + b];
            mz_image_to_float(images + (int64_t)i * chw, a->in_c, hw, p->lut, s->x + b * chw);
            s->y[b] = labels[i];
        }
        mz_fwd_cfg fc = {p->lane_act[l], lc->dropout, 1, lc->seed, epoch, step};
        if (a->ard) {
            mz_ard_cfg ac = {fc, lc->kl_weight, NULL};
            mz_ard_forward(a, &ac, s->params[l], s->x, B, s->ws, s->logits);
            float ce = mz_ref_loss(s->logits, s->y, B, a->n_classes, s->dlogits, &correct[l]);
            loss[l] = ce + lc->kl_weight * mz_ard_kl(a, s->params[l]);
            mz_ard_backward(a, &ac, s->params[l], B, s->dlogits, s->ws, s->grads);
            lc->t += 1;
            mz_ard_optim_step(a, &lc->opt, s->params[l], s->grads, s->opt[l], lc->t);
            continue;
        }
        mz_ref_forward(a, &fc, s->params[l], s->x, B, s->ws, s->logits);
        loss[l] = mz_ref_loss(s->logits, s->y, B, a->n_classes, s->dlogits, &correct[l]);
        mz_ref_backward(a, &fc, s->params[l], B, s->dlogits, s->ws, s->grads);
        lc->t += 1;
        mz_optim_step(&lc->opt, s->params[l], s->grads, s->opt[l], a->n_params, lc->t);
    }
}

/* The index of the largest of z[K], the first of equal ones (NaN never wins over z[0]). */
static int32_t argmax(const float *z, int K)
{
    float m = z[0];
    int32_t arg = 0;
    for (int k = 1; k < K; k++)
        if (z[k] > m) {
            m = z[k];
            arg = k;
        }
    return arg;
}

static void ref_eval(mz_pop *p, const uint8_t *images, const int32_t *labels, int64_t n,
                     double *loss_sum, int64_t *correct, int32_t *const *classes)
{
    ref_state *s = p->impl;
    const mz_arch *a = p->arch;
    int64_t hw = (int64_t)a->in_h * a->in_w, chw = a->in_c * hw;
    int B = p->max_batch;
    for (int64_t first = 0; first < n; first += B) {
        int nb = (int)(n - first < B ? n - first : B);
        for (int b = 0; b < nb; b++)
            mz_image_to_float(images + (first + b) * chw, a->in_c, hw, p->lut, s->x + b * chw);
        for (int l = 0; l < MZ_LANES; l++) {
            if (!p->lane[l].active)
                continue;
            mz_fwd_cfg fc = {p->lane_act[l], p->lane[l].dropout, 0, p->lane[l].seed, 0, 0};
            mz_ard_cfg ac = {fc, 0.0f, NULL};
            if (a->ard)
                mz_ard_forward(a, &ac, s->params[l], s->x, nb, s->ws, s->logits);
            else
                mz_ref_forward(a, &fc, s->params[l], s->x, nb, s->ws, s->logits);
            for (int b = 0; b < nb; b++) {
                int hit = 0;
                float lb = mz_ref_loss(s->logits + b * a->n_classes, &labels[first + b], 1,
                                       a->n_classes, NULL, &hit);
                loss_sum[l] += (double)lb;
                correct[l] += hit;
                if (classes && classes[l]) /* the argmax mz_ref_loss counts hits with */
                    classes[l][first + b] = argmax(s->logits + b * a->n_classes, a->n_classes);
            }
        }
    }
    for (int l = 0; a->ard && l < MZ_LANES; l++)
        if (p->lane[l].active) /* the KL term of the test loss, once per image */
            loss_sum[l] += (double)(p->lane[l].kl_weight * mz_ard_kl(a, s->params[l])) * (double)n;
}

static void ref_dropped(const mz_pop *p, int64_t *dropped)
{
    const ref_state *s = p->impl;
    for (int l = 0; l < MZ_LANES; l++)
        if (p->lane[l].active)
            dropped[l] = mz_ard_dropped(p->arch, s->params[l]);
}

static const mz_pop_backend ref_backend = {
    "ref",        ref_create,     ref_destroy, ref_set_lane,
    ref_get_lane, ref_train_step, ref_eval,    ref_dropped,
};

const mz_pop_backend *mz_pop_backend_ref(void) { return &ref_backend; }

const mz_pop_backend *mz_pop_backend_by_name(const char *name)
{
    if (!strcmp(name, "ref"))
        return &ref_backend;
    if (!strcmp(name, "simd"))
        return mz_pop_backend_simd();
    return NULL;
}

const mz_pop_backend *mz_pop_backend_default(void)
{
    const char *env = getenv("MZOO_BACKEND");
    if (env && *env) {
        const mz_pop_backend *b = mz_pop_backend_by_name(env);
        if (b)
            return b;
    }
    const mz_pop_backend *simd = mz_pop_backend_simd();
    return simd ? simd : &ref_backend;
}
