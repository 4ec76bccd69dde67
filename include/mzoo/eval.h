/* mzoo eval: checkpoints of a zoo evaluated on the zoo's own dataset, through the same engines
 * that trained them (CNN-s/CNN-l: the population engine, one lane; ResNet-18: mzoo/resnet.h).
 *
 * An evaluator opens a zoo read-only and, at its first evaluation, loads the dataset the zoo
 * names (meta "dataset" and "variant", the recipe's "train_subset" applied to the training
 * split), so that evaluating a grid zoo's checkpoint on a split gives the loss and accuracy its
 * epochs row records for that split (up to the argmax of exact ties, which the engines break
 * alike).
 *
 * The architecture of a model is found from its layout variant's tensors (names, shapes,
 * offsets), not from the variant's name: CNN-s with and without dropout modules, CNN-l and
 * ResNet-18 for the dataset's image shape and classes. Variational-dropout twins (layouts with
 * log_sigma2 tensors) are evaluated as their pruned network: the plain architecture whose
 * weights, and conv biases, are zeroed where
 *   log alpha = clamp(log_sigma2 - 2 log(|theta| + 1e-15), -8, 8 (conv) or -10, 10 (linear)) >= 3;
 * its loss is then the cross-entropy alone (the twins' recorded test loss adds the KL term).
 *
 * Threading: one evaluator per thread.
 */
#ifndef MZOO_EVAL_H
#define MZOO_EVAL_H

#include "mzoo/core.h"
#include "mzoo/data.h"
#include "mzoo/loader.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mz_evaluator mz_evaluator;

typedef struct mz_eval_options {
    const char *data_dir;      /* where the dataset's files are; NULL: its default location */
    const mz_dataset *dataset; /* borrowed, used instead of loading one (it must outlive the
                                  evaluator); NULL: load the zoo's */
    const char *backend;       /* population backend ("ref", "simd"); NULL: the default */
    int batch;                 /* images per forward pass; 0: the zoo's batch_size (else 100) */
    int64_t max_images;        /* > 0: only the first max_images images of a split (a quick
                                  check); 0: all */
} mz_eval_options;
void mz_eval_options_default(mz_eval_options *o);

typedef struct mz_eval_result {
    int64_t n;       /* images evaluated */
    double loss;     /* mean NLL of log_softmax over them (twins: of the pruned network) */
    double acc;      /* fraction of argmax hits */
    double sparsity; /* twins: fraction of weights pruned (biases not counted); NaN otherwise */
} mz_eval_result;

/* Opens the zoo read-only (errors as mz_store_open). Loads nothing yet. opt may be NULL. */
mz_status mz_evaluator_open(mz_evaluator **out, const char *zoo_path, const mz_eval_options *opt,
                            mz_error *err);
void mz_evaluator_close(mz_evaluator *ev);

/* The dataset (loaded now if needed). Owned by the evaluator (or the caller's, when given). */
mz_status mz_evaluator_dataset(mz_evaluator *ev, const mz_dataset **out, mz_error *err);

/* Evaluates checkpoint (model_id, epoch) on split `part` of the dataset. MZ_ENOTFOUND for a
 * model or epoch the zoo does not have, or an epoch without a checkpoint; MZ_EINVAL for a split
 * the dataset does not have (no validation set); MZ_EUNSUPPORTED for a layout that is none of the
 * architectures above. */
mz_status mz_evaluator_checkpoint(mz_evaluator *ev, int64_t model_id, int epoch, mz_part part,
                                  mz_eval_result *out, mz_error *err);

/* Several checkpoints (model_ids[i], epochs[i]) on one split, out[n]: CNN checkpoints of the same
 * layout variant and activation share the lanes of a population (up to 16 per pass over the
 * images, as in training), so this is much faster than one call per checkpoint. Stops at the
 * first checkpoint that cannot be evaluated, naming it (the results before it are filled). */
mz_status mz_evaluator_checkpoints(mz_evaluator *ev, int64_t n, const int64_t *model_ids,
                                   const int *epochs, mz_part part, mz_eval_result *out,
                                   mz_error *err);

/* The number of images an evaluation on split `part` runs over: the split's size, or max_images
 * when smaller (loads the dataset if needed). MZ_EINVAL for a split the dataset does not have. */
mz_status mz_evaluator_images(mz_evaluator *ev, mz_part part, int64_t *n_images, mz_error *err);

/* mz_evaluator_checkpoints, and each image's predicted class: classes[i * n_images + j] is the
 * class checkpoint i gives image j of the split (n_images = mz_evaluator_images; the caller's
 * array holds n * n_images), the index of its largest logit, the first of equal ones (as the
 * accuracy counts it: out[i].acc is the fraction of j with classes[i * n_images + j] equal to
 * the label). Twins: their pruned network's. Checkpoints of one layout and activation share the
 * lanes of a population as in mz_evaluator_checkpoints; the classes do not depend on which
 * checkpoints share them. out may be NULL. */
mz_status mz_evaluator_predict(mz_evaluator *ev, int64_t n, const int64_t *model_ids,
                               const int *epochs, mz_part part, int32_t *classes,
                               mz_eval_result *out, mz_error *err);

/* The same for weights the caller gives (w[n], the layout of model_id's variant), e.g. an edited
 * checkpoint: model_id supplies the architecture and activation. */
mz_status mz_evaluator_weights(mz_evaluator *ev, int64_t model_id, const float *w, int64_t n,
                               mz_part part, mz_eval_result *out, mz_error *err);

/* Twins: writes the pruned plain weights of an ARD checkpoint. `ard` = the twin's tensors
 * [n_ard] (state_dict order: per layer weight, bias, log_sigma2, log_sigma2_bias), `plain` = the
 * plain architecture's tensors [n_plain]; out[total floats of plain]. Every plain tensor must
 * have its ARD tensors (same name and shape); conv layers are the 4-D weights. Returns the number
 * of pruned weights in *pruned and of all weights in *n_weights (either may be NULL). */
mz_status mz_ard_prune(const mz_tensor_desc *ard, int n_ard, const float *ard_w,
                       const mz_tensor_desc *plain, int n_plain, float *out, int64_t *pruned,
                       int64_t *n_weights, mz_error *err);

#ifdef __cplusplus
}
#endif
#endif
