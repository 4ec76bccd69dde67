/* The hyperparameters' names (include/mzoo/hparams.h). */
#include <stdio.h>
#include <string.h>

#include "core/hparams-impl.h"
#include "core/banned.h"

const char *const mz_activation_names_[MZ_ACT_COUNT] = {"tanh", "relu",      "sigmoid",
                                                        "gelu", "leakyrelu", "silu"};
const char *const mz_init_names_[MZ_INIT_COUNT] = {
    "uniform",        "normal",        "kaiming_uniform", "kaiming_normal",
    "xavier_uniform", "xavier_normal", "default"};
const char *const mz_optimizer_names_[MZ_OPT_COUNT] = {"adam", "sgd"};
const char *const mz_scheduler_names_[MZ_N_SCHEDULERS] = {"none", "onecycle"};

static const char *name_of(const char *const *names, int n, int i)
{
    return i >= 0 && i < n ? names[i] : "?";
}

static int index_of(const char *const *names, int n, const char *s)
{
    for (int i = 0; s && i < n; i++)
        if (!strcmp(names[i], s))
            return i;
    return -1;
}

const char *mz_activation_name(mz_activation a)
{
    return name_of(mz_activation_names_, MZ_ACT_COUNT, (int)a);
}
const char *mz_init_name(mz_init i)
{
    return name_of(mz_init_names_, MZ_INIT_COUNT, (int)i);
}
const char *mz_optimizer_name(mz_optimizer o)
{
    return name_of(mz_optimizer_names_, MZ_OPT_COUNT, (int)o);
}
const char *mz_scheduler_name(mz_scheduler s)
{
    return name_of(mz_scheduler_names_, MZ_N_SCHEDULERS, (int)s);
}
int mz_activation_parse(const char *s)
{
    return index_of(mz_activation_names_, MZ_ACT_COUNT, s);
}
int mz_init_parse(const char *s)
{
    return index_of(mz_init_names_, MZ_INIT_COUNT, s);
}
int mz_optimizer_parse(const char *s)
{
    return index_of(mz_optimizer_names_, MZ_OPT_COUNT, s);
}
int mz_scheduler_parse(const char *s)
{
    return index_of(mz_scheduler_names_, MZ_N_SCHEDULERS, s);
}

void mz_model_spec_describe(const mz_model_spec *m, char *buf, size_t cap)
{
    if (!buf || cap == 0)
        return;
    char lr[32], wd[32], dr[32], mo[32];
    mz_format_double(lr, sizeof lr, m->lr);
    mz_format_double(wd, sizeof wd, m->weight_decay);
    mz_format_double(dr, sizeof dr, m->dropout);
    mz_format_double(mo, sizeof mo, m->momentum);
    snprintf(buf, cap,
             "id=%lld activation=%s init=%s optimizer=%s lr=%s weight_decay=%s dropout=%s "
             "momentum=%s nesterov=%d seed=%lld",
             (long long)m->id, mz_activation_name(m->activation), mz_init_name(m->init),
             mz_optimizer_name(m->optimizer), lr, wd, dr, mo, m->nesterov ? 1 : 0,
             (long long)m->seed);
}
