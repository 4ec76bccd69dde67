/* mzoo pop: the population engine. A "pop" is a group of up to MZ_LANES models of the same
 * architecture that advance together, step by step; each model (lane) keeps its own
 * parameters, optimizer (type and hyperparameters), dropout rate, seed and training data order.
 *
 * Lanes never interact: a model's results are bit-identical whichever lane it occupies and whoever
 * its neighbours are, and every backend performs exactly the reference kernels' float operations
 * (include/mzoo/nn.h, src/nn/ref.c) per lane, so backends agree bit for bit.
 *
 * Variational-dropout ("ARD") twins train in pops too: give mz_pop_init an ARD architecture
 * (mz_arch_init_ard). Then a training step is the twins' noisy forward (the reference kernels
 * mz_ard_*), its loss is the ELBO, CE + lane.kl_weight * KL, and the update skips the unused
 * parameters (mz_ard_optim_step); eval is the clipped forward and its loss includes the KL term
 * with the lane's kl_weight, as the reference's test loss does; mz_pop_dropped counts each lane's
 * dropped weights (sparsity = dropped / arch->n_ard_weights).
 *
 * Lanes may differ in activation too (mz_pop_set_activation): every activation present is then
 * computed for all lanes and each lane keeps its own, which costs the sum of those activations
 * but fills lanes that models of one activation alone would leave idle.
 *
 * Backends: "ref" (plain, loops over lanes calling the reference kernels; always built, the oracle)
 * and "simd" (models in the 16 float lanes of a vector register). mz_pop_backend_default() picks the
 * fastest available unless the environment variable MZOO_BACKEND names another.
 */
#ifndef MZOO_POP_H
#define MZOO_POP_H

#include "mzoo/core.h"
#include "mzoo/nn.h"
#include "mzoo/optim.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MZ_LANES 16

typedef struct mz_pop mz_pop;

/* Per-lane settings. */
typedef struct mz_lane_cfg {
    int active;           /* 0: lane unused (its results are meaningless) */
    mz_optim_cfg opt;
    float dropout;
    int64_t seed;         /* model seed: selects the dropout masks */
    int64_t t;            /* optimizer updates done so far (incremented by each train step) */
    float kl_weight;      /* ARD pops: weight of the KL term in the loss (steps and evals) */
} mz_lane_cfg;

typedef struct mz_pop_backend {
    const char *name;
    /* Allocates backend state in p->impl for batches of up to max_batch samples. */
    mz_status (*create)(mz_pop *p, mz_error *err);
    void (*destroy)(mz_pop *p);
    /* Copy one lane's parameters [n_params] and optimizer state [mz_optim_state_floats] in/out. */
    void (*set_lane)(mz_pop *p, int lane, const float *params, const float *opt_state);
    void (*get_lane)(const mz_pop *p, int lane, float *params, float *opt_state);
    /* One training step of every active lane on its own batch (see mz_pop_train_step). */
    void (*train_step)(mz_pop *p, const uint8_t *images, const int32_t *labels, const uint32_t *idx,
                       int B, int epoch, int step, float *loss, int *correct);
    /* Eval-mode forward of images [first, first+n) for every lane (see mz_pop_eval and
     * mz_pop_eval_classes; classes NULL: no predictions). */
    void (*eval)(mz_pop *p, const uint8_t *images, const int32_t *labels, int64_t n,
                 double *loss_sum, int64_t *correct, int32_t *const *classes);
    /* ARD pops: dropped weights of every active lane (see mz_pop_dropped). */
    void (*dropped)(const mz_pop *p, int64_t *dropped);
} mz_pop_backend;

struct mz_pop {
    const mz_pop_backend *backend;
    const mz_arch *arch;      /* borrowed; must outlive the pop */
    mz_activation act;                 /* the activation given to mz_pop_init */
    mz_activation lane_act[MZ_LANES];  /* each lane's (mz_pop_set_activation; default act) */
    int max_batch;
    const float *lut;         /* [in_c][256] normalisation table, borrowed */
    mz_lane_cfg lane[MZ_LANES];
    void *impl;               /* backend state */
};

const mz_pop_backend *mz_pop_backend_ref(void);
const mz_pop_backend *mz_pop_backend_simd(void); /* NULL if not built */
/* The default backend: $MZOO_BACKEND ("ref" or "simd") if set, else simd if built, else ref. */
const mz_pop_backend *mz_pop_backend_default(void);
const mz_pop_backend *mz_pop_backend_by_name(const char *name);

/* Creates a pop (all lanes inactive, parameters zero). lut = [arch->in_c][256] byte->float table. */
mz_status mz_pop_init(mz_pop *p, const mz_pop_backend *backend, const mz_arch *arch,
                      mz_activation act, int max_batch, const float *lut, mz_error *err);
void mz_pop_release(mz_pop *p);

/* Activates a lane with its model's parameters, optimizer state (NULL = zeros) and settings.
 * A lane's settings (p->lane[l]) may also be changed between steps: kl_weight per epoch, active. */
void mz_pop_set_lane(mz_pop *p, int lane, const mz_lane_cfg *cfg, const float *params,
                     const float *opt_state);
void mz_pop_get_lane(const mz_pop *p, int lane, float *params, float *opt_state);
/* The lane's activation, when it is not the pop's (mz_pop_init's act); set before a step. */
void mz_pop_set_activation(mz_pop *p, int lane, mz_activation act);

/* One training step. images = uint8 [N][C*H*W] (the split), labels [N]; idx = [MZ_LANES][B]
 * sample indices per lane (inactive lanes' rows are ignored); step = batch number within the
 * epoch (0-based), epoch = the epoch being trained (1-based): together they select dropout masks
 * (and ARD noise). Outputs per lane: loss[lane] = the batch's mean loss (training mode; ARD: the
 * ELBO), correct[lane] = hits. Each active lane's optimizer does one update (lane.t += 1). */
void mz_pop_train_step(mz_pop *p, const uint8_t *images, const int32_t *labels, const uint32_t *idx,
                       int B, int epoch, int step, float *loss, int *correct);

/* Eval mode on n images (the same images for every lane). Adds each lane's summed per-sample loss
 * (in double) to loss_sum[lane] and its hits to correct[lane]. ARD pops: the clipped forward; the
 * per-sample losses are CE, and n * (kl_weight * KL) is added after them (KL and the product in
 * float, as in a training step), so loss_sum / n is the reference's test loss. */
void mz_pop_eval(mz_pop *p, const uint8_t *images, const int32_t *labels, int64_t n,
                 double *loss_sum, int64_t *correct);

/* mz_pop_eval, and each image's predicted class: classes[lane][i] (for the lanes whose pointer is
 * not NULL, [n] each) = the index of the largest logit of image i, the first of equal ones (as
 * the hits count it: classes[lane][i] == labels[i] exactly for the images counted correct). */
void mz_pop_eval_classes(mz_pop *p, const uint8_t *images, const int32_t *labels, int64_t n,
                         double *loss_sum, int64_t *correct, int32_t *const classes[MZ_LANES]);

/* ARD pops: dropped[lane] = the number of weights with log alpha >= 3 (mz_ard_dropped) of every
 * active lane; other entries untouched. Plain pops: nothing is written. */
void mz_pop_dropped(const mz_pop *p, int64_t *dropped);

#ifdef __cplusplus
}
#endif
#endif
