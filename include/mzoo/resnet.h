/* mzoo resnet: the reference's ResNet-18 (torchvision's, with a 3x3 stride-1 stem) for one model, with
 * convolutions as im2col + sgemm (OpenBLAS when the build found it, a plain loop otherwise).
 *
 * Network: conv1 3x3/s1/p1 (no bias) -> bn1 -> ReLU -> [no maxpool] -> layer1..layer4 (two
 * BasicBlocks each; 64, 128, 256, 512 channels; the first block of layer2..4 has stride 2 and a
 * 1x1/s2 conv + BN shortcut named "downsample") -> adaptive average pool to 1x1 -> fc 512 -> K.
 * BasicBlock: out = ReLU(bn2(conv2(ReLU(bn1(conv1(x))))) + shortcut(x)); 3x3 convs pad 1, no bias.
 * BatchNorm2d: eps 1e-5, momentum 0.1, affine.
 *
 * The state vector. One flat float vector holds the model's whole torch state_dict, in its order
 * and with its names (mz_resnet.tensors, 122 entries): conv weights, BN weight/bias (trainable),
 * BN running_mean/running_var and num_batches_tracked (buffers), fc weight/bias. It is at once
 * the checkpoint blob of an epoch and the weight-space sample. 11,183,582 floats for K = 10
 * (11,173,962 trainable + 9,600 running statistics + 20 counters), as the reference's table.
 *
 * num_batches_tracked is an int64 scalar in torch; here it is stored as a float holding the count
 * (shape [], ndim 0, one float). A float counts exactly up to 2^24 = 16,777,216 training steps
 * (the largest ResNet zoo makes 46,920 per model). Readers convert it back with int(x).
 *
 * Workspace layout: activations are kept channel-major, [C][B][H][W], so that a convolution over
 * the whole batch is one GEMM (batch and pixels form the N dimension) and BatchNorm's statistics
 * run over contiguous memory. Inputs and logits use the usual [B][C][H][W] / [B][K].
 *
 * Reproducibility: a model's results are a pure function of its seed and the data for a given
 * sgemm (the same OpenBLAS build, kernel (OPENBLAS_CORETYPE) and thread count; mzoo's trainer
 * always runs one BLAS thread per model). Different kernels round differently.
 */
#ifndef MZOO_RESNET_H
#define MZOO_RESNET_H

#include "mzoo/core.h"
#include "mzoo/optim.h"
#include "mzoo/hparams.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MZ_RESNET_TENSORS 122 /* state_dict entries */
#define MZ_RESNET_CONVS 20    /* 3x3 and 1x1 convolutions, each followed by its BatchNorm */
#define MZ_RESNET_BLOCKS 8

/* One convolution and the BatchNorm that follows it (read-only, filled by mz_resnet_init). */
typedef struct mz_resnet_conv {
    int cin, cout, k, stride, pad;
    int in_h, in_w, out_h, out_w;
    int64_t w;               /* offset of the weight [cout][cin][k][k] */
    int64_t bn_w, bn_b;      /* BN weight, bias [cout] (trainable) */
    int64_t bn_mean, bn_var; /* running_mean, running_var [cout] */
    int64_t bn_count;        /* num_batches_tracked (one float) */
} mz_resnet_conv;

/* A BasicBlock: indices into mz_resnet.convs; down = -1 when the shortcut is the identity. */
typedef struct mz_resnet_block {
    int conv1, conv2, down;
} mz_resnet_block;

typedef struct mz_resnet {
    char variant[64]; /* layout variant, e.g. "resnet18/c3/k10" */
    int in_c, in_h, in_w;
    int n_classes;
    int n_tensors;                              /* 122 */
    mz_tensor_desc tensors[MZ_RESNET_TENSORS];  /* state_dict order, torch's names and shapes */
    unsigned char trainable[MZ_RESNET_TENSORS]; /* 1 for parameters, 0 for BN buffers */
    int64_t n_state;                            /* floats in the state vector (all 122 tensors) */
    int64_t n_trainable; /* floats of the trainable tensors (= optimizer state floats) */
    mz_resnet_conv convs[MZ_RESNET_CONVS]; /* [0] = stem, then per block conv1, conv2, [down] */
    mz_resnet_block blocks[MZ_RESNET_BLOCKS];
    int64_t fc_w, fc_b; /* fc.weight [K][512], fc.bias [K] */
} mz_resnet;

/* Builds the layout for `channels` input channels, h x w images (both >= 8 and multiples of 8
 * give the reference's spatial sizes; any h, w >= 1 work as torch's arithmetic does) and
 * n_classes outputs. */
mz_status mz_resnet_init(mz_resnet *net, int channels, int h, int w, int n_classes, mz_error *err);

/* The reference's initialisation of its ResNet18: every conv weight (3x3 and 1x1) and the
 * fc weight drawn per `init` with fan_in = in_channels * kh * kw (fc: 512), fc.bias = 0.01, BN
 * weight 1, bias 0, running_mean 0, running_var 1, num_batches_tracked 0. Tensor t (state_dict
 * index) draws from Philox(seed, MZ_RNG_INIT, t). state: n_state floats. With MZ_INIT_DEFAULT
 * (the reference's fallback, which keeps the construction-time weights) the convs after the stem
 * are N(0, 2/fan_out) (torchvision's kaiming_normal_, mode fan_out) and the stem and fc weights
 * U(+-1/sqrt(fan_in)) (PyTorch's default). */
void mz_resnet_init_params(const mz_resnet *net, mz_init init, int64_t seed, float *state);

/* Per-model scratch for batches of up to max_batch samples (activations saved for backward,
 * gradient buffers, im2col columns). Owned by the caller; one per thread. */
typedef struct mz_resnet_ws mz_resnet_ws;
mz_status mz_resnet_ws_new(mz_resnet_ws **out, const mz_resnet *net, int max_batch, mz_error *err);
void mz_resnet_ws_free(mz_resnet_ws *ws);
/* Bytes mz_resnet_ws_new would allocate. */
int64_t mz_resnet_ws_bytes(const mz_resnet *net, int max_batch);

/* Forward pass of B <= max_batch samples x [B][C][H][W] -> logits [B][K].
 * train = 1: BatchNorm normalises with the batch's statistics (biased variance) and updates the
 *   running statistics in `state` (running = 0.9 running + 0.1 batch, the variance unbiased,
 *   n/(n-1)), num_batches_tracked += 1, exactly as torch's train mode; the activations needed by
 *   mz_resnet_backward are kept in ws.
 * train = 0: eval mode, normalising with the running statistics; state is not modified. */
void mz_resnet_forward(const mz_resnet *net, mz_resnet_ws *ws, float *state, const float *x, int B,
                       int train, float *logits);

/* Backward pass of the last (training-mode) forward with ws: from dlogits [B][K] writes
 * dL/dstate into grads [n_state] (overwritten; 0 at the BN buffers). */
void mz_resnet_backward(const mz_resnet *net, mz_resnet_ws *ws, const float *state,
                        const float *dlogits, float *grads);

/* One optimizer update (mz_optim_step semantics, t = number of this update from 1) of the
 * trainable tensors only; the BN buffers are left alone. opt_state holds the optimizer state of
 * the trainable tensors packed in state_dict order: mz_optim_state_floats(type, n_trainable). */
void mz_resnet_optim_step(const mz_resnet *net, const mz_optim_cfg *cfg, float *state,
                          const float *grads, float *opt_state, int64_t t);

/* ---- BLAS ----
 * OpenBLAS picks its kernel in a constructor when the library is loaded, from OPENBLAS_CORETYPE
 * or by detecting the CPU; setting the variable later has no effect. Debian 12's OpenBLAS 0.3.21
 * does not know some AVX-512 CPUs and falls back to a slower kernel on them. */

/* Name of the kernel OpenBLAS chose ("SkylakeX", "Haswell", ...), or "none" without OpenBLAS. */
const char *mz_blas_corename(void);
/* For a program's main() before anything else: if OPENBLAS_CORETYPE is unset, the CPU has
 * AVX-512F and the loaded OpenBLAS chose a kernel without AVX-512, sets OPENBLAS_CORETYPE=SkylakeX
 * in the environment and returns 1: the caller should then re-execute itself (execv) so that
 * OpenBLAS's constructor sees it. Otherwise changes nothing and returns 0. */
int mz_blas_prefer_avx512(void);
/* Threads OpenBLAS uses per call (no-op without OpenBLAS). */
void mz_blas_set_threads(int n);

#ifdef __cplusplus
}
#endif
#endif
