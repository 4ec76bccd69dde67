/* The reference's linear classifier: Linear(d, K) trained with cross-entropy and Adam.
 *
 * torch semantics: kaiming_normal_ weights (fan_in = d, gain sqrt(2): std sqrt(2/d)), bias 0.01;
 * Adam(lr, betas 0.9/0.999, eps 1e-8, weight_decay added to the gradient), bias-corrected as
 * torch: p -= lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps). Shuffled batches of `batch` per epoch, the
 * last one smaller; the final model is kept. Arithmetic in double; randomness from Philox, so the
 * result is a pure function of (data, cfg).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mzoo/probe.h"
#include "core/banned.h"

void mz_softmax_cfg_default(mz_softmax_cfg *cfg)
{
    cfg->epochs = 50;
    cfg->batch = 10;
    cfg->lr = 1e-4;
    cfg->wd = 1e-6;
    cfg->bias_init = 0.01;
    cfg->seed = 42;
}

void mz_softmax_release(mz_softmax *m)
{
    if (!m)
        return;
    free(m->w); /* b lives in the same allocation */
    m->w = m->b = NULL;
}

/* logits[k] = w[k,:] . x + b[k] */
static void logits_of(const mz_softmax *m, const double *x, double *z)
{
    for (int k = 0; k < m->k; k++) {
        const double *w = m->w + (int64_t)k * m->d;
        double s0 = 0, s1 = 0;
        int64_t j = 0;
        for (; j + 2 <= m->d; j += 2) {
            s0 += w[j] * x[j];
            s1 += w[j + 1] * x[j + 1];
        }
        for (; j < m->d; j++)
            s0 += w[j] * x[j];
        z[k] = (s0 + s1) + m->b[k];
    }
}

mz_status mz_softmax_fit(mz_softmax *m, const double *X, int64_t n, int64_t d, const int32_t *y,
                         int k, const mz_softmax_cfg *cfg, mz_error *err)
{
    memset(m, 0, sizeof *m);
    if (n < 1 || d < 1 || k < 2 || cfg->batch < 1 || cfg->epochs < 0 || n > UINT32_MAX)
        return mz_fail(err, MZ_EINVAL,
                       "softmax classifier: need n >= 1, d >= 1, k >= 2 (n=%lld d=%lld k=%d)",
                       (long long)n, (long long)d, k);
    for (int64_t i = 0; i < n; i++)
        if (y[i] < 0 || y[i] >= k)
            return mz_fail(err, MZ_EINVAL,
                           "softmax classifier: label %d of sample %lld not in [0, %d)", y[i],
                           (long long)i, k);
    int64_t np = (int64_t)k * (d + 1); /* parameters: w then b */
    double *p = calloc((size_t)np, sizeof *p), *g = malloc((size_t)np * sizeof *g);
    double *ma = calloc((size_t)np, sizeof *ma), *va = calloc((size_t)np, sizeof *va);
    float *init = malloc((size_t)(k * d) * sizeof *init);
    uint32_t *perm = malloc((size_t)n * sizeof *perm);
    double *z = malloc((size_t)k * sizeof *z);
    if (!p || !g || !ma || !va || !init || !perm || !z) {
        free(p);
        free(g);
        free(ma);
        free(va);
        free(init);
        free(perm);
        free(z);
        return mz_fail(err, MZ_ENOMEM, "softmax classifier: out of memory (%lld parameters)",
                       (long long)np);
    }
    m->d = d;
    m->k = k;
    m->w = p;
    m->b = p + (int64_t)k * d;
    mz_rng_stream rs = mz_rng_make(cfg->seed, MZ_RNG_INIT, 0, 0, 0);
    mz_rng_normal(&rs, init, (size_t)(k * d));
    double std = sqrt(2.0 / (double)d);
    for (int64_t i = 0; i < (int64_t)k * d; i++)
        m->w[i] = std * (double)init[i];
    for (int c = 0; c < k; c++)
        m->b[c] = cfg->bias_init;
    free(init);

    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    int64_t step = 0;
    for (int e = 1; e <= cfg->epochs; e++) {
        mz_rng_stream sh = mz_rng_make(cfg->seed, MZ_RNG_SHUFFLE, (uint32_t)e, 0, 0);
        mz_rng_permutation(&sh, perm, (uint32_t)n);
        for (int64_t s0 = 0; s0 < n; s0 += cfg->batch) {
            int64_t bs = n - s0 < cfg->batch ? n - s0 : cfg->batch;
            memset(g, 0, (size_t)np * sizeof *g);
            double *gb = g + (int64_t)k * d;
            for (int64_t t = 0; t < bs; t++) {
                const double *x = X + (int64_t)perm[s0 + t] * d;
                int32_t yi = y[perm[s0 + t]];
                logits_of(m, x, z);
                double mx = z[0];
                for (int c = 1; c < k; c++)
                    mx = z[c] > mx ? z[c] : mx;
                double se = 0;
                for (int c = 0; c < k; c++) {
                    z[c] = exp(z[c] - mx);
                    se += z[c];
                }
                /* dL/dz = (softmax - onehot) / batch, the mean loss's gradient */
                for (int c = 0; c < k; c++) {
                    double dz = (z[c] / se - (c == yi ? 1.0 : 0.0)) / (double)bs;
                    double *gw = g + (int64_t)c * d;
                    for (int64_t j = 0; j < d; j++)
                        gw[j] += dz * x[j];
                    gb[c] += dz;
                }
            }
            step++;
            double bc1 = 1 - pow(b1, (double)step), bc2 = 1 - pow(b2, (double)step);
            double step_size = cfg->lr / bc1, sbc2 = sqrt(bc2);
            for (int64_t i = 0; i < np; i++) {
                double gi = g[i] + cfg->wd * p[i];
                ma[i] = b1 * ma[i] + (1 - b1) * gi;
                va[i] = b2 * va[i] + (1 - b2) * gi * gi;
                p[i] -= step_size * ma[i] / (sqrt(va[i]) / sbc2 + eps);
            }
        }
    }
    free(g);
    free(ma);
    free(va);
    free(perm);
    free(z);
    return MZ_OK;
}

void mz_softmax_predict(const mz_softmax *m, const double *X, int64_t n, int32_t *out)
{
    for (int64_t i = 0; i < n; i++) {
        const double *x = X + i * m->d;
        int best = 0;
        double zbest = 0;
        for (int c = 0; c < m->k; c++) {
            /* the same sum as logits_of, one class at a time */
            const double *w = m->w + (int64_t)c * m->d;
            double s0 = 0, s1 = 0;
            int64_t j = 0;
            for (; j + 2 <= m->d; j += 2) {
                s0 += w[j] * x[j];
                s1 += w[j + 1] * x[j + 1];
            }
            for (; j < m->d; j++)
                s0 += w[j] * x[j];
            double z = (s0 + s1) + m->b[c];
            if (c == 0 || z > zbest) {
                best = c;
                zbest = z;
            }
        }
        out[i] = best;
    }
}
