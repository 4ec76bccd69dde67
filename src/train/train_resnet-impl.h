/* Private to src/train (and its tests): the per-model ResNet-18 training path, and what it shares
 * with the population trainer (train.c). */
#ifndef MZ_TRAIN_RESNET_IMPL_H
#define MZ_TRAIN_RESNET_IMPL_H

#include "mzoo/data.h"
#include "mzoo/spec.h"
#include "mzoo/store.h"
#include "mzoo/train.h"

/* mz_train_run for spec->architecture "resnet18": loads the spec's dataset and trains. */
mz_status mz_train_resnet_run(const mz_spec *spec, const char *zoo_path, const mz_train_opts *opts,
                              mz_error *err);

/* The same on an already loaded dataset (spec->train_subset is applied by the caller). Tests use
 * it with small synthetic data; spec->dataset still selects the augmentation. */
mz_status mz_train_resnet_run_ds(const mz_spec *spec, const mz_dataset *ds, const char *zoo_path,
                                 const mz_train_opts *opts, mz_error *err);

/* Augmentation applied to training images: 0 none, 1 RandomCrop(pad 4) + flip (CIFAR-10/100),
 * 2 flip + RandomRotation(20) (Tiny-ImageNet). */
int mz_train_resnet_augmentation(const char *dataset);

/* The first epoch still to train for a model with stored progress p (0 for a fresh model), or -1
 * when there is none: a final status (counted in prog->models_skipped) or every epoch committed.
 * Adds the epochs still to train to prog->epochs_total. */
int mz_train_start_epoch(const mz_model_progress *p, int epochs, mz_train_progress *prog);

/* Fills p's elapsed time, rate and ETA from the start time t0 and the samples trained so far, and
 * hands p to opts->progress (if any). Used by both trainers. */
void mz_train_report(const mz_train_opts *opts, mz_train_progress *p, double t0, int64_t samples,
                     int final);

#endif
