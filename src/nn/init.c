/* Parameter initialisation with the reference's distributions. */
#include <math.h>

#include "mzoo/nn.h"
#include "core/banned.h"

void mz_arch_init_params(const mz_arch *a, mz_init init, int64_t seed, float *params)
{
    int ordinal = 0; /* weight tensors in order; independent of the dropout layers' presence */
    for (int i = 0; i < a->n_layers; i++) {
        const mz_layer *l = &a->layers[i];
        if (l->kind != MZ_LAYER_CONV && l->kind != MZ_LAYER_LINEAR)
            continue;
        int kk = l->kind == MZ_LAYER_CONV ? l->k * l->k : 1;
        double fan_in = (double)l->in_c * kk, fan_out = (double)l->out_c * kk;
        int64_t n = (int64_t)l->out_c * l->in_c * kk;
        float *w = params + l->w_off;
        mz_rng_stream s = mz_rng_make((uint64_t)seed, MZ_RNG_INIT, (uint32_t)ordinal++, 0, 0);
        double bound = 0, std = 0;
        int normal = 0;
        switch (init) {
        case MZ_INIT_UNIFORM: bound = -1; break;
        case MZ_INIT_NORMAL: normal = 1, std = 1.0; break;
        case MZ_INIT_KAIMING_UNIFORM: bound = sqrt(6.0 / fan_in); break;
        case MZ_INIT_KAIMING_NORMAL: normal = 1, std = sqrt(2.0 / fan_in); break;
        case MZ_INIT_XAVIER_UNIFORM: bound = sqrt(6.0 / (fan_in + fan_out)); break;
        case MZ_INIT_XAVIER_NORMAL: normal = 1, std = sqrt(2.0 / (fan_in + fan_out)); break;
        default: bound = 1.0 / sqrt(fan_in); break; /* PyTorch's default init */
        }
        if (normal) {
            mz_rng_normal(&s, w, (size_t)n);
            if (std != 1.0)
                for (int64_t j = 0; j < n; j++)
                    w[j] = (float)(w[j] * std);
        } else if (bound < 0) {
            mz_rng_uniform(&s, w, (size_t)n, 0.0f, 1.0f);
        } else {
            mz_rng_uniform(&s, w, (size_t)n, (float)-bound, (float)bound);
        }
        float *b = params + l->b_off;
        for (int j = 0; j < l->out_c; j++)
            b[j] = 0.01f;
    }
}
