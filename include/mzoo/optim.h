/* mzoo optim: Adam and SGD with torch.optim semantics (coupled L2 weight decay).
 *
 * State layout (floats): Adam = [exp_avg (n)][exp_avg_sq (n)]; SGD = [momentum_buffer (n)].
 * The step counter t (number of updates done) is kept by the caller and stored with the state.
 */
#ifndef MZOO_OPTIM_H
#define MZOO_OPTIM_H

#include "mzoo/core.h"
#include "mzoo/hparams.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mz_optim_cfg {
    mz_optimizer type;
    double lr;
    double weight_decay;
    double momentum;     /* SGD */
    int nesterov;        /* SGD */
    double beta1, beta2, eps; /* Adam: 0.9, 0.999, 1e-8 */
} mz_optim_cfg;

/* Fills cfg from a model spec (Adam betas/eps as torch's defaults). */
void mz_optim_cfg_from_model(mz_optim_cfg *cfg, const mz_model_spec *m);

/* Floats of optimizer state for n parameters. */
int64_t mz_optim_state_floats(mz_optimizer type, int64_t n);

/* One update of params[n] from grads[n]; t = the number of this update, starting at 1.
 * State must be zero before the first update. grads is not modified. */
void mz_optim_step(const mz_optim_cfg *cfg, float *params, const float *grads, float *state,
                   int64_t n, int64_t t);

/* A run of parameters [first, first + count). */
typedef struct mz_span {
    int64_t first, count;
} mz_span;

/* mz_optim_step except for the parameters of the spans skip[0 .. n_skip) (sorted by `first`, not
 * overlapping), which keep their values and state: torch.optim skips a parameter whose .grad is
 * None (one that takes no part in the loss), weight decay included. */
void mz_optim_step_except(const mz_optim_cfg *cfg, float *params, const float *grads, float *state,
                          int64_t n, int64_t t, const mz_span *skip, int n_skip);

/* The per-update scalars the kernels use, computed once per step in double as torch does and
 * then rounded to float (shared with the population engine). */
typedef struct mz_adam_scalars {
    float one_minus_b1, one_minus_b2, b1, b2, wd;
    float step_size;       /* lr / (1 - b1^t) */
    float bc2_sqrt;        /* sqrt(1 - b2^t) */
    float eps;
} mz_adam_scalars;
void mz_adam_scalars_get(const mz_optim_cfg *cfg, int64_t t, mz_adam_scalars *s);

/* OneCycleLR (torch defaults: pct_start 0.3, cos annealing, div_factor 25, final_div_factor 1e4,
 * momentum cycled between 0.95 and 0.85, two phases): lr and momentum for update number k
 * (0-based) of total_steps. The trainer overwrites SGD's momentum (Adam's beta1) with it, as
 * torch does. */
void mz_onecycle(double max_lr, int64_t total_steps, int64_t k, double *lr, double *momentum);

#ifdef __cplusplus
}
#endif
#endif
