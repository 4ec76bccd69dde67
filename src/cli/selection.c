/* Shared selection/filter/split options of `mzoo dataset` and `mzoo bench`. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/selection.h"
#include "core/banned.h"

const char mz_cli_selection_help[] =
    "selection:\n"
    "  --epochs LIST      all (default), last (each model's last epoch), or epochs and\n"
    "                     ranges, e.g. 0,5,10-20\n"
    "  --layers LIST      all (default) or positional layer names, e.g. conv1,conv2,fc2\n"
    "                     (layers are matched by position, so dropout 0 and > 0 models share\n"
    "                     one layout)\n"
    "  --no-bias          weights only (default: each layer's weights, then its biases)\n"
    "  --dense            twin zoos: the dense parameters (default: the pruned network's\n"
    "                     weights, zero where log alpha >= 3)\n"
    "filters (a dropped sample is one model-epoch pair):\n"
    "  --keep-nonfinite   keep checkpoints with NaN/Inf in a selected tensor (default: drop)\n"
    "  --max-abs X        drop checkpoints with any selected |w| > X (reference: 5)\n"
    "  --where EXPR       keep samples for which this SQL expression over the columns of the\n"
    "                     models and epochs tables is true, e.g.\n"
    "                     \"dropout > 0 AND activation = 'relu' AND test_acc > 0.2\"\n"
    "  --max-models N     keep only the first N models of the split permutation\n"
    "split (by model: no model in two parts):\n"
    "  --split F,F[,F]    train,val,test fractions summing to 1 (default 0.7,0.15,0.15;\n"
    "                     two values: train,test)\n"
    "  --seed N           split seed (default 42)\n";

int mz_cli_parse_doubles(const char *s, double *out, int max)
{
    int n = 0;
    while (*s) {
        char *e;
        errno = 0;
        double v = strtod(s, &e);
        if (e == s || errno || n == max)
            return -1;
        out[n++] = v;
        s = e;
        if (*s == ',')
            s++;
        else if (*s)
            return -1;
    }
    return n;
}

int mz_cli_selection_option(int argc, char **argv, int *i, mz_loader_options *o)
{
    const char *a = argv[*i];
    int has_next = *i + 1 < argc;
    const char *v = has_next ? argv[*i + 1] : NULL;
    if (!strcmp(a, "--no-bias")) {
        o->with_bias = 0;
        return 1;
    }
    if (!strcmp(a, "--dense")) {
        o->dense = 1;
        return 1;
    }
    if (!strcmp(a, "--keep-nonfinite")) {
        o->drop_nonfinite = 0;
        return 1;
    }
    int takes_value = !strcmp(a, "--epochs") || !strcmp(a, "--layers") || !strcmp(a, "--max-abs") ||
                      !strcmp(a, "--where") || !strcmp(a, "--max-models") ||
                      !strcmp(a, "--split") || !strcmp(a, "--seed");
    if (!takes_value)
        return 0;
    if (!has_next) {
        mz_cli_error("%s: missing value", a);
        return -1;
    }
    (*i)++;
    char *e;
    errno = 0;
    if (!strcmp(a, "--epochs")) {
        o->epochs = v;
    } else if (!strcmp(a, "--layers")) {
        o->layers = v;
    } else if (!strcmp(a, "--where")) {
        o->where = v;
    } else if (!strcmp(a, "--max-abs")) {
        double x = strtod(v, &e);
        if (e == v || *e || errno || !(x > 0)) {
            mz_cli_error("--max-abs: expected a positive number, got '%s'", v);
            return -1;
        }
        o->max_abs = x;
    } else if (!strcmp(a, "--max-models")) {
        long long x = strtoll(v, &e, 10);
        if (e == v || *e || errno || x < 1) {
            mz_cli_error("--max-models: expected a count >= 1, got '%s'", v);
            return -1;
        }
        o->max_models = x;
    } else if (!strcmp(a, "--seed")) {
        unsigned long long x = strtoull(v, &e, 10);
        if (e == v || *e || errno || v[0] == '-') {
            mz_cli_error("--seed: expected a non-negative integer, got '%s'", v);
            return -1;
        }
        o->seed = x;
    } else { /* --split */
        double f[3] = {0, 0, 0};
        int n = mz_cli_parse_doubles(v, f, 3);
        if (n == 2) {
            f[2] = f[1];
            f[1] = 0;
        }
        if (n < 2 || fabs(f[0] + f[1] + f[2] - 1.0) > 1e-9 || f[0] < 0 || f[1] < 0 || f[2] < 0) {
            mz_cli_error("--split: expected 2 or 3 non-negative fractions summing to 1, got '%s'",
                         v);
            return -1;
        }
        memcpy(o->fractions, f, sizeof f);
    }
    return 1;
}
