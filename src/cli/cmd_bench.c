/* mzoo bench ZOO.db|DATASET_DIR: predict model properties from weights (docs/BENCHMARK.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mzoo/loader.h"
#include "mzoo/probe.h"
#include "cli/commands.h"
#include "cli/selection.h"
#include "core/banned.h"

static const char bench_usage_head[] =
    "usage: mzoo bench ZOO.db|DATASET_DIR [options]\n"
    "Predicts model properties from the weights W and from per-layer statistics s(W), with ridge\n"
    "regression (lambda chosen on the validation split), the reference's linear softmax\n"
    "classifier and gradient-boosted trees (XGBoost); scores R^2 and Kendall's tau (numeric) or\n"
    "accuracy (categorical) on train/val/test. The input is a zoo file (selected with the options\n"
    "below, as `mzoo dataset`) or a directory written by `mzoo dataset`. See docs/BENCHMARK.md.\n\n"
    "benchmark:\n"
    "  --properties LIST  properties to predict (default: test_acc,val_acc,ggap,epoch,test_loss,\n"
    "                     activation,init,optimizer,lr,weight_decay,dropout); constant ones are\n"
    "                     skipped and listed\n"
    "  --models LIST      ridge,linear,xgboost (default: all)\n"
    "  --features LIST    w,stats (default: both)\n"
    "  --json FILE        also write the results as JSON\n"
    "  --threads N        BLAS and XGBoost threads (default 1; results are the same for any N,\n"
    "                     and OpenBLAS threads spin, so more than the free cores is much slower)\n"
    "  --xgb-rounds N     most boosting rounds (default 400; early stopping after 25 on val)\n"
    "  --max-memory MB    refuse zoo selections larger than this in memory (default 4096)\n"
    "  -q, --quiet        no progress on stderr\n"
    "(for a zoo file)\n";

static void usage(FILE *f)
{
    fputs(bench_usage_head, f);
    fputs(mz_cli_selection_help, f);
}

static void progress(void *ctx, const char *what)
{
    (void)ctx;
    fprintf(stderr, "mzoo bench: %s\n", what);
}

/* Splits a comma list in place into at most max items; -1 when there are more. */
static int split_list(char *s, const char **items, int max)
{
    int n = 0;
    for (char *p = strtok(s, ","); p; p = strtok(NULL, ",")) {
        if (n == max)
            return -1;
        items[n++] = p;
    }
    return n;
}

int mz_cmd_bench(int argc, char **argv)
{
    mz_loader_options lopt;
    mz_loader_options_default(&lopt);
    mz_bench_options bopt;
    mz_bench_options_default(&bopt);
    const char *input = NULL, *json = NULL;
    char *props_buf = NULL;
    const char *props[64];
    int quiet = 0, selection_given = 0, rc = 1;
    long long max_mb = 4096;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int r = mz_cli_selection_option(argc, argv, &i, &lopt);
        if (r < 0)
            goto usage_error;
        if (r > 0) {
            selection_given = 1;
            continue;
        }
        int has_next = i + 1 < argc;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            free(props_buf);
            return 0;
        } else if (!strcmp(a, "--properties") && has_next) {
            free(props_buf);
            props_buf = mz_strdup(argv[++i]);
            if (!props_buf) {
                mz_cli_error("out of memory");
                return 1;
            }
            bopt.n_properties = split_list(props_buf, props, 64);
            bopt.properties = props;
            if (bopt.n_properties <= 0) {
                mz_cli_error("--properties: %s",
                             bopt.n_properties ? "more than 64 properties" : "empty list");
                goto usage_error;
            }
        } else if ((!strcmp(a, "--models") || !strcmp(a, "--features")) && has_next) {
            int models = !strcmp(a, "--models");
            char buf[256];
            const char *items[8];
            if (strlen(argv[++i]) >= sizeof buf) {
                mz_cli_error("%s: a list of %zu bytes (expected at most %zu)", a, strlen(argv[i]),
                             sizeof buf - 1);
                goto usage_error;
            }
            snprintf(buf, sizeof buf, "%s", argv[i]);
            int n = split_list(buf, items, 8);
            if (n < 0) {
                mz_cli_error("%s: more than 8 items", a);
                goto usage_error;
            }
            int *flags = models ? bopt.models : bopt.features;
            for (int k = 0; k < (models ? MZ_PROBE_N_MODELS : MZ_FEAT_N); k++)
                flags[k] = 0;
            for (int k = 0; k < n; k++) {
                if (models && !strcmp(items[k], "ridge"))
                    flags[MZ_PROBE_RIDGE] = 1;
                else if (models && !strcmp(items[k], "linear"))
                    flags[MZ_PROBE_LINEAR] = 1;
                else if (models && (!strcmp(items[k], "xgboost") || !strcmp(items[k], "xgb")))
                    flags[MZ_PROBE_XGB] = 1;
                else if (!models && (!strcmp(items[k], "w") || !strcmp(items[k], "W")))
                    flags[MZ_FEAT_W] = 1;
                else if (!models && (!strcmp(items[k], "stats") || !strcmp(items[k], "s(W)")))
                    flags[MZ_FEAT_STATS] = 1;
                else {
                    mz_cli_error("%s: unknown item '%s' (expected %s)", a, items[k],
                                 models ? "ridge, linear, xgboost" : "w, stats");
                    goto usage_error;
                }
            }
            if (n == 0) {
                mz_cli_error("%s: empty list", a);
                goto usage_error;
            }
            if (models && bopt.models[MZ_PROBE_XGB] && !mz_xgb_available()) {
                mz_cli_error("--models: this build of mzoo has no XGBoost");
                free(props_buf);
                return 1;
            }
        } else if (!strcmp(a, "--json") && has_next) {
            json = argv[++i];
        } else if ((!strcmp(a, "--threads") || !strcmp(a, "--xgb-rounds") ||
                    !strcmp(a, "--max-memory")) &&
                   has_next) {
            char *e;
            errno = 0;
            long long v = strtoll(argv[++i], &e, 10);
            if (e == argv[i] || *e || errno || v < 1 || v > (1LL << 30)) {
                mz_cli_error("%s: expected a positive integer, got '%s'", a, argv[i]);
                goto usage_error;
            }
            if (!strcmp(a, "--threads")) {
                bopt.threads = (int)v;
                bopt.xgb.nthread = (int)v;
            } else if (!strcmp(a, "--xgb-rounds")) {
                bopt.xgb.max_rounds = (int)v;
            } else {
                max_mb = v;
            }
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            quiet = 1;
        } else if (a[0] == '-' && a[1]) {
            mz_cli_error("bench: unknown or incomplete option '%s'", a);
            goto usage_error;
        } else if (!input) {
            input = a;
        } else {
            mz_cli_error("bench: unexpected argument '%s'", a);
            goto usage_error;
        }
    }
    if (!input) {
        mz_cli_error("bench: missing ZOO.db or DATASET_DIR");
        goto usage_error;
    }
    if (!quiet)
        bopt.progress = progress;
    mz_error err = {0};
    mz_wset ds;
    struct stat sb;
    int is_dir = stat(input, &sb) == 0 && S_ISDIR(sb.st_mode);
    if (is_dir) {
        if (selection_given) {
            mz_cli_error("bench: selection, filter and split options apply to zoo files; %s is a "
                         "dataset directory "
                         "(its selection is fixed)",
                         input);
            goto usage_error;
        }
        if (mz_dataset_read(&ds, input, &err) != MZ_OK) {
            mz_cli_error("%s", err.msg);
            goto done;
        }
    } else {
        mz_loader *L = NULL;
        if (mz_loader_open(&L, input, &lopt, &err) != MZ_OK) {
            mz_cli_error("%s", err.msg);
            rc = err.code == MZ_EINVAL ? 2 : 1;
            goto done;
        }
        int n_cols = 0;
        const mz_prop_column *cols = mz_loader_props(L, &n_cols);
        if (mz_bench_check_properties(cols, n_cols, &bopt, &err) != MZ_OK) {
            mz_cli_error("%s: %s", input, err.msg);
            mz_loader_close(L);
            rc = 2;
            goto done;
        }
        if (!quiet)
            mz_cli_print_selection(L, stderr);
        mz_status st = mz_loader_load_all(L, &ds, max_mb * 1024 * 1024, &err);
        mz_loader_close(L);
        if (st != MZ_OK) {
            mz_cli_error("%s", err.msg);
            goto done;
        }
    }
    mz_bench_result res;
    if (mz_bench_run(&ds, &bopt, &res, &err) != MZ_OK) {
        mz_cli_error("%s: %s", input, err.msg);
        mz_wset_release(&ds);
        if (err.code == MZ_EINVAL)
            rc = 2;
        goto done;
    }
    mz_wset_release(&ds);
    mz_bench_print_table(&res, stdout);
    if (json && mz_bench_write_json(&res, input, json, &err) != MZ_OK) {
        mz_cli_error("%s", err.msg);
        mz_bench_result_release(&res);
        goto done;
    }
    mz_bench_result_release(&res);
    rc = 0;
done:
    free(props_buf);
    return rc;
usage_error:
    free(props_buf);
    usage(stderr);
    return 2;
}
