/* The hyperparameters' name tables, indexed by their enums (core/hparams.c), for the spec's
 * parser and its messages that list what is allowed. */
#ifndef MZOO_CORE_HPARAMS_IMPL_H
#define MZOO_CORE_HPARAMS_IMPL_H

#include "mzoo/hparams.h"

#define MZ_N_SCHEDULERS 2
extern const char *const mz_activation_names_[MZ_ACT_COUNT];
extern const char *const mz_init_names_[MZ_INIT_COUNT];
extern const char *const mz_optimizer_names_[MZ_OPT_COUNT];
extern const char *const mz_scheduler_names_[MZ_N_SCHEDULERS];

#endif
