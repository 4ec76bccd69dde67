/* mzoo nn: architectures (CNN-s, CNN-l) and the plain reference kernels for one model.
 *
 * Layouts: a batch of inputs is [B][C][H][W] float; every layer's per-sample output is
 * [C][H][W] row-major (linear layers: [features]); logits [B][K]. The parameters of one model are
 * one flat float vector in PyTorch state_dict order (mz_arch.tensors), which is at once the
 * checkpoint blob and the weight-space sample.
 *
 * The reference kernels here are the oracle: the population engine (nn/pop.h) performs, per model,
 * exactly the same float operations in the same order, so it is compared bit for bit.
 * Arithmetic rules shared by both: no FMA contraction by the compiler (-ffp-contract=off); where a
 * fused multiply-add is wanted it is written as fmaf(); transcendental functions are mzoo's own
 * (mz_tanhf, mz_expf, ...) so results do not depend on the C library or the CPU.
 */
#ifndef MZOO_NN_H
#define MZOO_NN_H

#include "mzoo/core.h"
#include "mzoo/optim.h"
#include "mzoo/hparams.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mz_layer_kind {
    MZ_LAYER_CONV = 0,  /* Conv2d(in_c, out_c, k), stride 1, no padding, with bias */
    MZ_LAYER_MAXPOOL,   /* MaxPool2d(k, k), floor mode */
    MZ_LAYER_ACT,       /* the model's activation function */
    MZ_LAYER_DROPOUT,   /* inverted dropout with the model's rate */
    MZ_LAYER_FLATTEN,   /* no-op on our layout */
    MZ_LAYER_LINEAR,    /* Linear(in_c, out_c) with bias */
} mz_layer_kind;

typedef struct mz_layer {
    mz_layer_kind kind;
    int module_index;           /* index in the reference's module_list */
    int in_c, in_h, in_w;       /* input shape per sample (linear: in_c features, h = w = 1) */
    int out_c, out_h, out_w;    /* output shape per sample */
    int k;                      /* kernel (conv) or window (pool) size */
    int64_t w_off, b_off;       /* conv/linear: offsets of weight and bias in the parameter vector */
    int64_t in_size, out_size;  /* per-sample element counts */
    int dropout_ordinal;        /* dropout layers: 0, 1, 2, ... in order (selects the RNG stream) */
    /* ARD architectures only (mz_arch.ard), conv/linear layers: offsets of log_sigma2 (the weight's
     * shape) and log_sigma2_bias (the bias's shape), and the layer's ordinal among the ARD layers
     * (0, 1, 2, ... in order; selects the noise stream). Plain architectures: 0. */
    int64_t s_off, sb_off;
    int ard_ordinal;
} mz_layer;

#define MZ_MAX_LAYERS 32
#define MZ_MAX_TENSORS 24

typedef struct mz_arch {
    char name[16];      /* "cnn-s", "cnn-l" */
    char variant[64];   /* layout variant, e.g. "cnn-s/c1/nodropout" */
    int in_c, in_h, in_w;
    int n_classes;
    int has_dropout_layers; /* CNN-s: only when dropout > 0; CNN-l: always */
    int n_layers;
    mz_layer layers[MZ_MAX_LAYERS];
    int n_tensors;
    mz_tensor_desc tensors[MZ_MAX_TENSORS]; /* state_dict order, names as PyTorch writes them */
    int64_t n_params;
    int64_t act_floats;    /* per sample: sum of all layer outputs plus the input */
    int64_t max_layer_size;/* per sample: largest single layer input/output */
    /* Variational-dropout ("ARD") twin (mz_arch_init_ard): every conv/linear layer also has
     * log_sigma2 and log_sigma2_bias. 0 for plain architectures. */
    int ard;
    int n_ard_layers;      /* conv + linear layers */
    int64_t n_ard_weights; /* weights of those layers, biases not counted (sparsity denominator) */
} mz_arch;

/* Builds an architecture. name: "cnn-s" (expects 28x28) or "cnn-l" (32x32); channels 1 or 3.
 * `dropout` only decides whether CNN-s has dropout layers (dropout > 0), which shifts the module
 * indices exactly as in the reference. */
mz_status mz_arch_init(mz_arch *a, const char *name, int channels, int h, int w, double dropout,
                       mz_error *err);

/* Initialises parameters as the reference: weights per `init` (fans per layer type), all biases 0.01.
 * Tensor t draws from Philox(seed, MZ_RNG_INIT, t). Depends only on (arch, init, seed). */
void mz_arch_init_params(const mz_arch *a, mz_init init, int64_t seed, float *params);

/* ---- reference kernels, one model ---- */

/* Per-model settings that affect the forward pass. */
typedef struct mz_fwd_cfg {
    mz_activation act;
    float dropout;     /* rate p; 0 disables */
    int train;         /* 1: training mode (dropout active) */
    int64_t seed;      /* model seed: dropout masks come from Philox(seed, DROPOUT, epoch, step, ord) */
    int epoch, step;   /* position in training, for dropout masks */
} mz_fwd_cfg;

/* Floats of workspace mz_ref_forward needs for a batch of B (activations plus dropout masks). */
int64_t mz_ref_workspace_floats(const mz_arch *a, int B);

/* Forward pass of B samples x [B][C][H][W]; writes logits [B][K] and keeps every layer's output
 * in ws (needed by mz_ref_backward). */
void mz_ref_forward(const mz_arch *a, const mz_fwd_cfg *cfg, const float *params, const float *x,
                    int B, float *ws, float *logits);

/* Mean NLL of log_softmax over the batch. If dlogits is not NULL writes dL/dlogits [B][K]
 * (softmax - onehot) / B. *correct (if not NULL) = number of argmax hits (first max wins, as
 * torch.max). Returns the loss. */
float mz_ref_loss(const float *logits, const int32_t *y, int B, int K, float *dlogits, int *correct);

/* Backward pass: from dlogits [B][K] and the forward's ws, writes dL/dparams into grads
 * (overwritten, not accumulated). */
void mz_ref_backward(const mz_arch *a, const mz_fwd_cfg *cfg, const float *params, int B,
                     const float *dlogits, float *ws, float *grads);

/* ---- variational-dropout ("ARD") twins: reference kernels, one model ----
 *
 * A twin (Molchanov et al. 2017, "Variational Dropout Sparsifies DNNs", as the reference's
 * CNN_ARD / CNN3_ARD) has the layers of its plain model; every conv/linear layer has weight theta,
 * bias b, log_sigma2 (theta's shape) and log_sigma2_bias (b's shape), in this state_dict order:
 * module_list.i.weight, .bias, .log_sigma2, .log_sigma2_bias (CNN-s C=1: 4928 floats).
 *
 *   log alpha = clamp(log_sigma2 - 2 log(|theta| + 1e-15), lo, hi), alpha = exp(log alpha);
 *   lo, hi = -8, 8 for conv (weights and biases), -10, 10 for linear (weights).
 *   Training forward (local reparameterisation), eps ~ N(0, 1) per output element:
 *     conv:   y = conv(x, theta, b) + sqrt(1e-15 + conv(x^2, alpha theta^2, alpha_b b^2)) eps
 *     linear: y = x theta^T + sqrt(x^2 (alpha theta^2)^T + 1e-15) eps + b
 *   Eval forward: theta (and conv biases) replaced by 0 where log alpha >= 3.
 *   KL(log alpha) = -(k1 sigmoid(k2 + k3 log alpha) - 0.5 log1p(exp(-log alpha)) - k1),
 *     k1 = 0.63576, k2 = 1.8732, k3 = 1.48695, summed over linear weights and conv weights and
 *     biases (in double, layer by layer, weights then biases, in element order).
 *   Loss (ELBO) = CE (batch mean, mz_ref_loss) + kl_weight * KL, computed in float as
 *     ce + kl_weight * kl.
 *   Linear log_sigma2_bias is unused (the reference leaves it uninitialised): mzoo sets it to -10;
 *   its gradient is 0 and, as torch's optimizers skip a parameter that never gets a gradient,
 *   mz_ard_optim_step never changes it (weight decay included).
 *
 * Noise: eps of element j of sample b of ARD layer o is normal number e = b * out_size + j of
 * Philox(seed, MZ_RNG_SPARSE, epoch, step, o) (mz_ard_noise), so it depends on neither threads nor
 * the population a twin trains in. */

#define MZ_ARD_THRESHOLD 3.0f /* a weight is dropped (pruned) where log alpha >= 3 */
#define MZ_ARD_INIT_LOG_SIGMA2 -10.0f

/* The reference's KL weight schedule: min(1, 0.01 * (iteration - 1) / n_epochs) for the step
 * that produces training_iteration `iteration` (1 .. n_epochs: the training epochs; 0: the
 * evaluation before training, which gets -0.01 / n_epochs), in double, rounded to float. */
float mz_ard_kl_weight(int iteration, int n_epochs);

/* Derives the twin's architecture from a plain one (same layers, ARD parameter layout; variant
 * "<plain variant>/ard"). `plain` must not be an ARD architecture itself. */
mz_status mz_arch_init_ard(mz_arch *ard, const mz_arch *plain, mz_error *err);

/* The twin's initial parameters [ard->n_params] from a plain checkpoint [plain->n_params] (the
 * architecture `ard` was derived from): weight and bias copied, log_sigma2 and log_sigma2_bias
 * set to MZ_ARD_INIT_LOG_SIGMA2. */
void mz_ard_params_from_plain(const mz_arch *ard, const mz_arch *plain, const float *plain_params,
                              float *ard_params);

/* Per-twin settings of a forward/backward pass. */
typedef struct mz_ard_cfg {
    mz_fwd_cfg fwd;  /* activation, dropout rate and masks, train/eval, seed, epoch, step */
    float kl_weight; /* weight of the KL term in the loss (used by the backward pass) */
    /* NULL: noise from mz_ard_noise(seed, epoch, step, ordinal). Otherwise eps[o] is the noise
     * [B][out_size] of ARD layer o (borrowed; tests use it to feed PyTorch the same noise). */
    const float *const *eps;
} mz_ard_cfg;

/* n standard normal numbers, numbers first .. first+n-1 of the stream
 * Philox(seed, MZ_RNG_SPARSE, epoch, step, ordinal): block k gives numbers 4k .. 4k+3 by
 * Box-Muller from its two pairs of 24-bit uniforms, in float with mzoo's own log, sin and cos. */
void mz_ard_noise(int64_t seed, int epoch, int step, int ordinal, int64_t first, int64_t n,
                  float *out);

/* Floats of workspace mz_ard_forward needs for a batch of B. */
int64_t mz_ard_workspace_floats(const mz_arch *a, int B);

/* Forward pass of B samples x [B][C][H][W] (cfg->fwd.train: noisy training forward, else the
 * clipped eval forward); logits [B][K]; keeps what mz_ard_backward needs in ws. */
void mz_ard_forward(const mz_arch *a, const mz_ard_cfg *cfg, const float *params, const float *x,
                    int B, float *ws, float *logits);

/* Backward pass of the training forward that filled ws: from dlogits [B][K] (of the CE term,
 * mz_ref_loss) writes the gradient of CE + cfg->kl_weight * KL into grads [n_params]
 * (overwritten). */
void mz_ard_backward(const mz_arch *a, const mz_ard_cfg *cfg, const float *params, int B,
                     const float *dlogits, float *ws, float *grads);

/* Sum of the KL term over the twin's parameters. */
float mz_ard_kl(const mz_arch *a, const float *params);

/* The spans of parameters the loss does not depend on (the linear layers' log_sigma2_bias), in
 * order; returns their number (at most MZ_MAX_LAYERS). */
int mz_ard_frozen_spans(const mz_arch *a, mz_span *spans);

/* One optimizer update of a twin (t = the number of this update, from 1): mz_optim_step over the
 * whole vector except mz_ard_frozen_spans. */
void mz_ard_optim_step(const mz_arch *a, const mz_optim_cfg *cfg, float *params, const float *grads,
                       float *state, int64_t t);

/* Number of dropped weights (log alpha >= 3) of conv and linear layers (biases not counted);
 * sparsity = mz_ard_dropped / a->n_ard_weights. */
int64_t mz_ard_dropped(const mz_arch *a, const float *params);
/* The same per ARD layer: dropped[o] for the layer with ard_ordinal o ([a->n_ard_layers]). */
void mz_ard_dropped_layers(const mz_arch *a, const float *params, int64_t *dropped);
/* 1 if a parameter theta with log_sigma2 ls2 of a conv (conv = 1) or linear (0) layer is pruned
 * (log alpha >= 3, computed exactly as the kernels do): for readers that mask checkpoints. */
int mz_ard_pruned(int conv, float theta, float log_sigma2);

/* ---- elementwise pieces shared with the population engine ---- */
float mz_tanhf(float x);
float mz_expf(float x);
float mz_logf(float x);
float mz_erff(float x);
float mz_sigmoidf(float x);
float mz_log1pf(float x);
/* activation and its derivative. act_backward takes the activation's input x and output y. */
float mz_act_forward(mz_activation act, float x);
float mz_act_backward(mz_activation act, float x, float y);

#ifdef __cplusplus
}
#endif
#endif
