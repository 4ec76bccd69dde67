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
#include "mzoo/spec.h"

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
} mz_layer;

#define MZ_MAX_LAYERS 32
#define MZ_MAX_TENSORS 16

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

/* ---- elementwise pieces shared with the population engine ---- */
float mz_tanhf(float x);
float mz_expf(float x);
float mz_logf(float x);
float mz_erff(float x);
float mz_sigmoidf(float x);
/* activation and its derivative. act_backward takes the activation's input x and output y. */
float mz_act_forward(mz_activation act, float x);
float mz_act_backward(mz_activation act, float x, float y);

#ifdef __cplusplus
}
#endif
#endif
