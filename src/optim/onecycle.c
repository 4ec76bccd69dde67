/* torch.optim.lr_scheduler.OneCycleLR with torch's defaults, as the reference's ResNet zoos use it. */
#include <math.h>

#include "mzoo/optim.h"
#include "core/banned.h"

static double anneal_cos(double start, double end, double pct)
{
    return end + (start - end) / 2.0 * (cos(3.14159265358979323846 * pct) + 1.0);
}

void mz_onecycle(double max_lr, int64_t total_steps, int64_t k, double *lr, double *momentum)
{
    const double pct_start = 0.3, div = 25.0, final_div = 1e4, base_m = 0.85, max_m = 0.95;
    double initial = max_lr / div, min_lr = initial / final_div;
    double e1 = pct_start * (double)total_steps - 1.0, e2 = (double)total_steps - 1.0;
    double step = (double)k;
    if (step <= e1) {
        double pct = step / e1;
        *lr = anneal_cos(initial, max_lr, pct);
        *momentum = anneal_cos(max_m, base_m, pct);
    } else {
        double pct = (step - e1) / (e2 - e1);
        *lr = anneal_cos(max_lr, min_lr, pct);
        *momentum = anneal_cos(base_m, max_m, pct);
    }
}
