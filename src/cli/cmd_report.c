/* mzoo report ZOO.db [ZOO2.db ...] -o report.html: a self-contained HTML page of plots. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mzoo/report.h"
#include "cli/commands.h"
#include "core/banned.h"

static const char report_usage[] =
    "usage: mzoo report ZOO.db [ZOO2.db ...] -o REPORT.html [options]\n"
    "Writes one self-contained HTML page (plots inline as SVG, no network, no JavaScript) that\n"
    "shows a zoo: accuracy and loss over training with quantile bands per hyperparameter value,\n"
    "box plots of the final test accuracy per hyperparameter value, the generalisation gap,\n"
    "diverged and chance-level models, a PCA of checkpoints with trajectories, per-layer weight\n"
    "norms, pairwise weight distances, prediction disagreement, and sparsity against accuracy\n"
    "drop for twin zoos. Several zoos are shown side by side. docs/REPORT.md has the details.\n"
    "\n"
    "options:\n"
    "  -o, --output FILE    the page to write (required)\n"
    "  --where EXPR         use only the (model, epoch) rows for which this SQL expression over\n"
    "                       the columns of the models (m) and epochs (e) tables is true, e.g.\n"
    "                       \"m.optimizer = 'adam' AND e.epoch <= 20\"\n"
    "  --epochs LIST        epochs of the weight-space plots: all, last, or epochs and ranges\n"
    "                       (\"0,5,10-20\"); default: up to 6 spread from the first to the last\n"
    "  --by NAME            hyperparameter whose values get a band each (default: the one whose\n"
    "                       values' median final test accuracies differ most)\n"
    "  --data DIR           the dataset, for prediction disagreement (default: its usual place)\n"
    "  --max-points N       checkpoints in the PCA and norm plots, models sampled (2000)\n"
    "  --dist-models N      models in the pairwise distances (200)\n"
    "  --pred-models N      models evaluated for prediction disagreement (16)\n"
    "  --pred-images N      test images they are evaluated on; 0 skips it (500)\n"
    "  --trajectories N     models drawn as trajectories (12)\n"
    "  --seed N             sampling seed (1)\n"
    "  -q, --quiet          no progress on stderr\n";

static void on_progress(void *ctx, const char *what)
{
    const double *t0 = ctx;
    fprintf(stderr, "mzoo report: [%5.1f s] %s\n", mz_now() - *t0, what);
}

static int parse_int(const char *opt, const char *v, long long lo, long long hi, long long *out)
{
    char *end = NULL;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || !end || *end || end == v || x < lo || x > hi) {
        mz_cli_error("%s: '%s' is not an integer in [%lld, %lld]", opt, v, lo, hi);
        return -1;
    }
    *out = x;
    return 0;
}

int mz_cmd_report(int argc, char **argv)
{
    mz_report_options o;
    mz_report_options_default(&o);
    const char *out = NULL, *zoos[MZ_REPORT_MAX_ZOOS];
    int nz = 0, quiet = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(report_usage, stdout);
            return 0;
        }
        if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            quiet = 1;
            continue;
        }
        if (a[0] != '-') {
            if (nz == MZ_REPORT_MAX_ZOOS) {
                mz_cli_error("at most %d zoos in one report", MZ_REPORT_MAX_ZOOS);
                return 2;
            }
            zoos[nz++] = a;
            continue;
        }
        if (i + 1 >= argc) {
            mz_cli_error("%s needs a value", a);
            return 2;
        }
        const char *v = argv[++i];
        long long x;
        if (!strcmp(a, "-o") || !strcmp(a, "--output"))
            out = v;
        else if (!strcmp(a, "--where"))
            o.where = v;
        else if (!strcmp(a, "--epochs"))
            o.epochs = v;
        else if (!strcmp(a, "--by"))
            o.by = v;
        else if (!strcmp(a, "--data"))
            o.data_dir = v;
        else if (!strcmp(a, "--max-points")) {
            if (parse_int(a, v, 3, 1000000, &x))
                return 2;
            o.max_points = x;
        } else if (!strcmp(a, "--dist-models")) {
            if (parse_int(a, v, 2, 5000, &x))
                return 2;
            o.max_dist_models = (int)x;
        } else if (!strcmp(a, "--pred-models")) {
            if (parse_int(a, v, 2, 1000, &x))
                return 2;
            o.max_pred_models = (int)x;
        } else if (!strcmp(a, "--pred-images")) {
            if (parse_int(a, v, 0, 1000000, &x))
                return 2;
            o.pred_images = (int)x;
        } else if (!strcmp(a, "--trajectories")) {
            if (parse_int(a, v, 0, 32, &x))
                return 2;
            o.max_trajectories = (int)x;
        } else if (!strcmp(a, "--seed")) {
            if (parse_int(a, v, 0, 0x7fffffffffffffffLL, &x))
                return 2;
            o.seed = (uint64_t)x;
        } else {
            mz_cli_error("unknown option %s", a);
            fputs(report_usage, stderr);
            return 2;
        }
    }
    if (!nz || !out) {
        fputs(report_usage, stderr);
        return 2;
    }
    /* the command as typed, for the page's header */
    size_t cap = 16;
    for (int i = 0; i < argc; i++)
        cap += strlen(argv[i]) + 3;
    char *cmd = malloc(cap);
    if (!cmd) {
        mz_cli_error("out of memory");
        return 1;
    }
    size_t at = (size_t)snprintf(cmd, cap, "mzoo");
    for (int i = 0; i < argc; i++) {
        int plain = strcspn(argv[i], " '\"\\$`*?;&|<>()") == strlen(argv[i]) && argv[i][0];
        at += (size_t)snprintf(cmd + at, cap - at, plain ? " %s" : " '%s'", argv[i]);
    }
    o.command = cmd;
    double t0 = mz_now();
    if (!quiet) {
        o.progress = on_progress;
        o.progress_ctx = &t0;
    }
    mz_error err = {0};
    mz_report_stats st;
    mz_status s = mz_report_write(zoos, nz, &o, out, &st, &err);
    free(cmd);
    if (s != MZ_OK) {
        mz_cli_error("%s", err.msg[0] ? err.msg : mz_strerror(s));
        return 1;
    }
    printf("mzoo: the report is in ");
    mz_cli_print_escaped(stdout, out);
    printf(" (%d plots, %.1f MB, %.1f s)\n", st.n_plots, (double)st.bytes / 1e6, st.seconds);
    return 0;
}
