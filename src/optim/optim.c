/* Adam and SGD with torch.optim (1.13, single-tensor path) semantics. Per element, in float:
 *   Adam: g = g + wd*p; m = m*b1 + g*(1-b1); v = v*b2 + (g*g)*(1-b2);
 *         p = p + (-step_size) * (m / (sqrt(v) / sqrt(bc2) + eps))
 *   SGD:  g = g + wd*p; buf = t == 1 ? g : buf*mu + g; d = nesterov ? g + mu*buf : buf;
 *         p = p + (-lr) * d
 * The per-step scalars are computed in double (as Python does) and rounded to float. */
#include <math.h>
#include <string.h>

#include "mzoo/optim.h"
#include "core/banned.h"

void mz_optim_cfg_from_model(mz_optim_cfg *cfg, const mz_model_spec *m)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->type = m->optimizer;
    cfg->lr = m->lr;
    cfg->weight_decay = m->weight_decay;
    cfg->momentum = m->momentum;
    cfg->nesterov = m->nesterov;
    cfg->beta1 = 0.9;
    cfg->beta2 = 0.999;
    cfg->eps = 1e-8;
}

int64_t mz_optim_state_floats(mz_optimizer type, int64_t n)
{
    return type == MZ_OPT_ADAM ? 2 * n : n;
}

void mz_adam_scalars_get(const mz_optim_cfg *cfg, int64_t t, mz_adam_scalars *s)
{
    double bc1 = 1.0 - pow(cfg->beta1, (double)t);
    double bc2 = 1.0 - pow(cfg->beta2, (double)t);
    s->b1 = (float)cfg->beta1;
    s->b2 = (float)cfg->beta2;
    s->one_minus_b1 = (float)(1.0 - cfg->beta1);
    s->one_minus_b2 = (float)(1.0 - cfg->beta2);
    s->wd = (float)cfg->weight_decay;
    s->step_size = (float)(cfg->lr / bc1);
    s->bc2_sqrt = (float)sqrt(bc2);
    s->eps = (float)cfg->eps;
}

/* The update of elements [lo, hi) (state layout of the whole vector of n). */
static void step_range(const mz_optim_cfg *cfg, float *params, const float *grads, float *state,
                       int64_t n, int64_t t, int64_t lo, int64_t hi)
{
    if (cfg->type == MZ_OPT_ADAM) {
        mz_adam_scalars s;
        mz_adam_scalars_get(cfg, t, &s);
        float *m = state, *v = state + n;
        float neg_step = -s.step_size;
        for (int64_t i = lo; i < hi; i++) {
            float g = grads[i];
            if (s.wd != 0.0f)
                g = g + s.wd * params[i];
            m[i] = m[i] * s.b1 + g * s.one_minus_b1;
            v[i] = v[i] * s.b2 + (g * g) * s.one_minus_b2;
            float denom = sqrtf(v[i]) / s.bc2_sqrt + s.eps;
            params[i] = params[i] + neg_step * (m[i] / denom);
        }
    } else {
        float wd = (float)cfg->weight_decay, mu = (float)cfg->momentum, neg_lr = (float)-cfg->lr;
        float *buf = state;
        for (int64_t i = lo; i < hi; i++) {
            float g = grads[i];
            if (wd != 0.0f)
                g = g + wd * params[i];
            float d = g;
            if (mu != 0.0f) {
                buf[i] = t == 1 ? g : buf[i] * mu + g;
                d = cfg->nesterov ? g + mu * buf[i] : buf[i];
            }
            params[i] = params[i] + neg_lr * d;
        }
    }
}

void mz_optim_step(const mz_optim_cfg *cfg, float *params, const float *grads, float *state,
                   int64_t n, int64_t t)
{
    step_range(cfg, params, grads, state, n, t, 0, n);
}

void mz_optim_step_except(const mz_optim_cfg *cfg, float *params, const float *grads, float *state,
                          int64_t n, int64_t t, const mz_span *skip, int n_skip)
{
    int64_t lo = 0;
    for (int k = 0; k < n_skip; k++) {
        step_range(cfg, params, grads, state, n, t, lo, skip[k].first);
        lo = skip[k].first + skip[k].count;
    }
    step_range(cfg, params, grads, state, n, t, lo, n);
}
