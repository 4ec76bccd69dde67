/* mzoo hparams: the hyperparameters of one model (activation, init, optimizer, learning rate,
 * ...), their names and the learning-rate scheduler: the vocabulary shared by the spec, the
 * network and optimizer kernels, the store and the tools, kept below all of them so that the
 * kernels need not depend on the spec. Names are those of zoo specs and of the models table
 * ("tanh", "kaiming_uniform", "adam", "onecycle"). */
#ifndef MZOO_HPARAMS_H
#define MZOO_HPARAMS_H

#include "mzoo/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mz_activation {
    MZ_ACT_TANH = 0,
    MZ_ACT_RELU,
    MZ_ACT_SIGMOID,
    MZ_ACT_GELU,
    MZ_ACT_LEAKYRELU,
    MZ_ACT_SILU,
    MZ_ACT_COUNT
} mz_activation;

typedef enum mz_init {
    MZ_INIT_UNIFORM = 0,
    MZ_INIT_NORMAL,
    MZ_INIT_KAIMING_UNIFORM,
    MZ_INIT_KAIMING_NORMAL,
    MZ_INIT_XAVIER_UNIFORM,
    MZ_INIT_XAVIER_NORMAL,
    MZ_INIT_DEFAULT, /* PyTorch's default U(+-1/sqrt(fan_in)), the reference's fallback */
    MZ_INIT_COUNT
} mz_init;

typedef enum mz_optimizer { MZ_OPT_ADAM = 0, MZ_OPT_SGD, MZ_OPT_COUNT } mz_optimizer;

typedef enum mz_scheduler { MZ_SCHED_NONE = 0, MZ_SCHED_ONECYCLE } mz_scheduler;

const char *mz_activation_name(mz_activation a);
const char *mz_init_name(mz_init i);
const char *mz_optimizer_name(mz_optimizer o);
const char *mz_scheduler_name(mz_scheduler s);
/* Name -> enum; return -1 if unknown. */
int mz_activation_parse(const char *s);
int mz_init_parse(const char *s);
int mz_optimizer_parse(const char *s);
int mz_scheduler_parse(const char *s);

/* One model: every resolved hyperparameter. */
typedef struct mz_model_spec {
    int64_t id;
    mz_activation activation;
    mz_init init;
    mz_optimizer optimizer;
    double lr, weight_decay, dropout, momentum;
    int nesterov;
    int64_t seed;
} mz_model_spec;

/* Writes a one-line description of model m (e.g. "id=3 activation=relu init=normal ...") into buf. */
void mz_model_spec_describe(const mz_model_spec *m, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
