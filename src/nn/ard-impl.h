/* Private to src/nn: the per-parameter arithmetic of variational-dropout ("ARD") twins, shared by
 * the reference kernels (src/nn/ard.c) and, in lane-wise copies performing the same operations in
 * the same order, by the population engine (src/nn/pop_simd.c). Formulas: include/mzoo/nn.h. */
#ifndef MZ_NN_ARD_IMPL_H
#define MZ_NN_ARD_IMPL_H

#include "mzoo/nn.h"
#include "nn/mathf-impl.h"

#define MZ_ARD_K1 0.63576f
#define MZ_ARD_K2 1.8732f
#define MZ_ARD_K3 1.48695f
#define MZ_ARD_K1K3 (0.63576f * 1.48695f)
#define MZ_ARD_EPS 1e-15f         /* inside log(|theta| + eps) and sqrt(eps + s^2) */
#define MZ_ARD_CONV_CLAMP 8.0f    /* conv log alpha in [-8, 8] */
#define MZ_ARD_LINEAR_CLAMP 10.0f /* linear log alpha in [-10, 10] */

/* clamp bound of a layer's log alpha */
static inline float mz_ard_clamp_of(const mz_layer *l)
{
    return l->kind == MZ_LAYER_CONV ? MZ_ARD_CONV_CLAMP : MZ_ARD_LINEAR_CLAMP;
}

/* One parameter (theta with its log_sigma2), forward quantities. */
typedef struct mz_ard_elem {
    float A;            /* |theta| + 1e-15 */
    float u;            /* log_sigma2 - 2 log A, before the clamp */
    float la;           /* log alpha = clamp(u, -hi, hi); NaN stays NaN (as torch.clamp) */
    float alpha, t1, V; /* exp(la), alpha * theta, t1 * theta (= alpha theta^2) */
} mz_ard_elem;

static inline mz_ard_elem mz_ard_elem_of(float theta, float ls2, float hi)
{
    mz_ard_elem e;
    e.A = fabsf(theta) + MZ_ARD_EPS;
    e.u = ls2 - 2.0f * mzf_log(e.A);
    float la = e.u < -hi ? -hi : e.u;
    e.la = la > hi ? hi : la;
    e.alpha = mzf_exp(e.la);
    e.t1 = e.alpha * theta;
    e.V = e.t1 * theta;
    return e;
}

/* KL term of one parameter and its derivative with respect to log alpha:
 *   s = sigmoid(k2 + k3 la), e = exp(-la)
 *   kl = -((k1 s - 0.5 log1p(e)) - k1),  dkl = -(k1 k3) (s (1 - s)) - 0.5 (e / (1 + e)) */
static inline float mzf_ard_kl(float la)
{
    float s = mzf_sigmoid(MZ_ARD_K2 + MZ_ARD_K3 * la);
    float e = mzf_exp(-la);
    return -((MZ_ARD_K1 * s - 0.5f * mzf_log1p(e)) - MZ_ARD_K1);
}
static inline float mzf_ard_dkl(float la)
{
    float s = mzf_sigmoid(MZ_ARD_K2 + MZ_ARD_K3 * la);
    float e = mzf_exp(-la);
    return -MZ_ARD_K1K3 * (s * (1.0f - s)) - 0.5f * (e / (1.0f + e));
}

/* Backward of one parameter. gmu = dL/dtheta through the mean (conv/linear with theta),
 * gV = dL/dV through the variance (conv/linear of x^2 with V), klw = kl_weight (0: no KL term).
 * Writes dL/dtheta and dL/dlog_sigma2:
 *   g_t1 = gV theta; g_la = (g_t1 theta) alpha + klw dkl(la); g_u = g_la if -hi <= u <= hi else 0
 *   dlog_sigma2 = g_u
 *   dtheta = (gmu + (gV t1 + g_t1 alpha)) + ((-2 g_u) / A) sgn(theta) */
static inline void mz_ard_elem_backward(const mz_ard_elem *e, float theta, float hi, float gmu,
                                        float gV, float klw, float *dtheta, float *dls2)
{
    float dkl = mzf_ard_dkl(e->la);
    float g_t1 = gV * theta;
    float g_la = (g_t1 * theta) * e->alpha + klw * dkl;
    float g_u = (e->u >= -hi && e->u <= hi) ? g_la : 0.0f;
    float sgn = theta > 0.0f ? 1.0f : (theta < 0.0f ? -1.0f : 0.0f);
    *dls2 = g_u;
    *dtheta = (gmu + (gV * e->t1 + g_t1 * e->alpha)) + ((-2.0f * g_u) / e->A) * sgn;
}

#endif
