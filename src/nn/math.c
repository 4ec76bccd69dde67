/* Exported wrappers of the elementwise functions in mathf-impl.h. */
#include "mzoo/nn.h"
#include "nn/mathf-impl.h"
#include "core/banned.h"

float mz_tanhf(float x) { return mzf_tanh(x); }
float mz_expf(float x) { return mzf_exp(x); }
float mz_logf(float x) { return mzf_log(x); }
float mz_erff(float x) { return mzf_erf(x); }
float mz_sigmoidf(float x) { return mzf_sigmoid(x); }
float mz_log1pf(float x) { return mzf_log1p(x); }

float mz_act_forward(mz_activation act, float x)
{
    switch (act) {
    case MZ_ACT_TANH: return mzf_tanh(x);
    case MZ_ACT_RELU: return x > 0.0f ? x : 0.0f;
    case MZ_ACT_SIGMOID: return mzf_sigmoid(x);
    case MZ_ACT_GELU: return mzf_gelu(x);
    case MZ_ACT_LEAKYRELU: return x > 0.0f ? x : x * 0.01f;
    case MZ_ACT_SILU: return mzf_silu(x);
    default: return x;
    }
}

/* The factor f'(x) that multiplies the incoming gradient, given input x and output y. */
float mz_act_backward(mz_activation act, float x, float y)
{
    switch (act) {
    case MZ_ACT_TANH: return 1.0f - y * y;
    case MZ_ACT_RELU: return y > 0.0f ? 1.0f : 0.0f;
    case MZ_ACT_SIGMOID: return (1.0f - y) * y;
    case MZ_ACT_GELU: return mzf_gelu_grad(x);
    case MZ_ACT_LEAKYRELU: return x > 0.0f ? 1.0f : 0.01f;
    case MZ_ACT_SILU: return mzf_silu_grad(x);
    default: return 1.0f;
    }
}
