/* mzoo sparsify ZOO.db -o TWINS.db [options]: sparsified twins of a zoo's models. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mzoo/presets.h"
#include "mzoo/sparse.h"
#include "mzoo/spec.h"
#include "mzoo/store.h"
#include "cli/commands.h"
#include "core/banned.h"

static const char sparsify_usage[] =
    "usage: mzoo sparsify ZOO.db -o TWINS.db [options]\n"
    "       mzoo sparsify --preset NAME ZOO.db -o TWINS.db [options]   (mzoo presets lists them)\n"
    "Makes a sparsified twin of every selected model of ZOO.db, starting from one of its\n"
    "checkpoints, and keeps the twins' whole trajectories in their own zoo file. ZOO.db is only\n"
    "read. Running the same command again resumes an interrupted run. See docs/SPARSIFY.md.\n\n"
    "options:\n"
    "  -o, --output TWINS.db   the twin zoo to create or resume (required unless --dry-run)\n"
    "  --method vd|magnitude   variational dropout (default) or magnitude pruning\n"
    "  --from-epoch N|last     the source checkpoint (default last: each model's last epoch)\n"
    "  --epochs N              training epochs (vd, default 25) or fine-tuning epochs\n"
    "                          (magnitude, default 0)\n"
    "  --where EXPR            source models to twin: an SQL expression over the columns of the\n"
    "                          source's models and of the checkpoint's epochs row, e.g.\n"
    "                          \"status = 'done' AND test_acc > 0.5\"\n"
    "  --targets LIST          magnitude: sparsities, e.g. 0.5,0.7,0.8,0.9 (the default)\n"
    "  --per-layer             magnitude: prune each layer to the target (default: one global\n"
    "                          threshold)\n"
    "  --preset NAME           the paper's twin zoo settings (checks ZOO.db is that preset's zoo)\n"
    "  --data DIR              the source dataset's files (default: its standard location)\n"
    "  -j, --threads N         worker threads (default: all online CPUs)\n"
    "  --backend NAME          population backend: simd (default when built) or ref\n"
    "  --group N               twins trained together per population (1-16; default automatic)\n"
    "  --dry-run               list the twins to make and exit\n"
    "  -q, --quiet             no progress output\n";

static int parse_targets(const char *s, mz_sparsify_opts *o)
{
    o->n_targets = 0;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        double v = strtod(p, &end);
        if (errno || end == p || (*end && *end != ',') || o->n_targets == MZ_SPARSE_MAX_TARGETS)
            return -1;
        o->targets[o->n_targets++] = v;
        p = *end ? end + 1 : end;
    }
    return o->n_targets ? 0 : -1;
}

/* --preset: the source must be the preset's zoo (same recipe). */
static int check_preset_source(const mz_twin_preset *tp, const char *zoo)
{
    char *json = mz_preset_json(tp->source_preset);
    mz_spec spec;
    mz_error err = {0};
    if (!json || mz_spec_parse(&spec, json, tp->source_preset, &err) != MZ_OK) {
        mz_cli_error("preset %s: %s", tp->source_preset, json ? err.msg : "out of memory");
        free(json);
        return 1;
    }
    free(json);
    mz_store *st = NULL;
    char *have = NULL;
    int rc = 0;
    if (mz_store_open(&st, zoo, MZ_STORE_READ, &err) != MZ_OK ||
        mz_store_recipe(st, &have, &err) != MZ_OK) {
        mz_cli_error("%s", err.msg);
        rc = 1;
    } else if (strcmp(have, spec.recipe) != 0) {
        char diff[600];
        mz_recipe_diff(have, spec.recipe, "the preset", diff, sizeof diff);
        mz_cli_error("%s: --preset %s makes twins of the %s zoo, and this is another zoo (%s); "
                     "use --method and --from-epoch for twins of other zoos",
                     zoo, tp->name, tp->source_preset, diff);
        rc = 1;
    }
    free(have);
    mz_store_close(st);
    mz_spec_release(&spec);
    return rc;
}

int mz_cmd_sparsify(int argc, char **argv)
{
    const char *zoo = NULL, *out = NULL, *preset = NULL;
    int dry = 0, quiet = 0, kill_after = 0, epochs_set = 0;
    mz_sparsify_opts o;
    mz_sparsify_opts_default(&o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_next = i + 1 < argc;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(sparsify_usage, stdout);
            return 0;
        } else if ((!strcmp(a, "-o") || !strcmp(a, "--output")) && has_next) {
            out = argv[++i];
        } else if (!strcmp(a, "--method") && has_next) {
            const char *m = argv[++i];
            if (!strcmp(m, "vd"))
                o.method = MZ_SPARSE_VD;
            else if (!strcmp(m, "magnitude"))
                o.method = MZ_SPARSE_MAGNITUDE;
            else {
                mz_cli_error("--method: unknown method '%s' (expected vd or magnitude)", m);
                return 2;
            }
        } else if (!strcmp(a, "--from-epoch") && has_next) {
            const char *v = argv[++i];
            if (!strcmp(v, "last"))
                o.from_epoch = -1;
            else if (mz_cli_parse_int(v, 0, 1000000, &o.from_epoch)) {
                mz_cli_error("--from-epoch: expected an epoch number or last, got '%s'", v);
                return 2;
            }
        } else if (!strcmp(a, "--epochs") && has_next) {
            if (mz_cli_parse_int(argv[++i], 0, 100000, &o.epochs)) {
                mz_cli_error("--epochs: expected a number of epochs >= 0, got '%s'", argv[i]);
                return 2;
            }
            epochs_set = 1;
        } else if (!strcmp(a, "--where") && has_next) {
            o.where = argv[++i];
        } else if (!strcmp(a, "--targets") && has_next) {
            if (parse_targets(argv[++i], &o)) {
                mz_cli_error("--targets: expected up to %d sparsities separated by commas, e.g. "
                             "0.5,0.8, got '%s'",
                             MZ_SPARSE_MAX_TARGETS, argv[i]);
                return 2;
            }
        } else if (!strcmp(a, "--per-layer")) {
            o.per_layer = 1;
        } else if (!strcmp(a, "--preset") && has_next) {
            preset = argv[++i];
        } else if (!strcmp(a, "--data") && has_next) {
            o.data_dir = argv[++i];
        } else if ((!strcmp(a, "-j") || !strcmp(a, "--threads")) && has_next) {
            if (mz_cli_parse_int(argv[++i], 1, 4096, &o.train.threads)) {
                mz_cli_error("-j: expected a number of threads >= 1, got '%s'", argv[i]);
                return 2;
            }
        } else if (!strncmp(a, "-j", 2) && a[2]) {
            if (mz_cli_parse_int(a + 2, 1, 4096, &o.train.threads)) {
                mz_cli_error("-j: expected a number of threads >= 1, got '%s'", a + 2);
                return 2;
            }
        } else if (!strcmp(a, "--backend") && has_next) {
            o.train.backend = argv[++i];
        } else if (!strcmp(a, "--group") && has_next) {
            if (mz_cli_parse_int(argv[++i], 1, 16, &o.train.max_group)) {
                mz_cli_error("--group: expected 1..16, got '%s'", argv[i]);
                return 2;
            }
        } else if (!strcmp(a, "--kill-after-commits") && has_next) { /* for the crash tests */
            if (mz_cli_parse_int(argv[++i], 1, 1 << 30, &kill_after)) {
                mz_cli_error("--kill-after-commits: expected a count >= 1");
                return 2;
            }
        } else if (!strcmp(a, "--dry-run")) {
            dry = 1;
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            quiet = 1;
        } else if (a[0] == '-' && a[1]) {
            mz_cli_error("sparsify: unknown or incomplete option '%s'", a);
            fputs(sparsify_usage, stderr);
            return 2;
        } else if (!zoo) {
            zoo = a;
        } else {
            mz_cli_error("sparsify: unexpected argument '%s'", a);
            return 2;
        }
    }
    if (!zoo || (!out && !dry)) {
        mz_cli_error("sparsify: %s", !zoo ? "missing ZOO.db" : "-o TWINS.db is required");
        fputs(sparsify_usage, stderr);
        return 2;
    }
    if (o.method == MZ_SPARSE_MAGNITUDE && !epochs_set)
        o.epochs = 0;
    if (preset) {
        const mz_twin_preset *tp = mz_twin_preset_find(preset);
        if (!tp) {
            mz_cli_error("unknown twin preset '%s' (mzoo presets lists them)", preset);
            return 2;
        }
        o.method = tp->method;
        o.from_epoch = tp->from_epoch;
        if (!epochs_set)
            o.epochs = tp->epochs;
        if (check_preset_source(tp, zoo))
            return 1;
    }
    mz_error err = {0};
    if (dry) {
        int64_t n = 0, *ids = NULL;
        int *eps = NULL;
        if (mz_sparsify_plan(zoo, &o, &n, &ids, &eps, &err) != MZ_OK) {
            mz_cli_error("%s", err.msg);
            return 1;
        }
        printf("%lld twins (%s, %d epochs)\n", (long long)n, mz_sparse_method_name(o.method),
               o.epochs);
        int per = o.method == MZ_SPARSE_MAGNITUDE ? o.n_targets : 1;
        for (int64_t i = 0; i < n; i++) {
            printf("twin %lld: source model %lld, epoch %d", (long long)i, (long long)ids[i],
                   eps[i]);
            if (o.method == MZ_SPARSE_MAGNITUDE)
                printf(", target sparsity %g (%s)", o.targets[i % per],
                       o.per_layer ? "per layer" : "global");
            printf("\n");
        }
        free(ids);
        free(eps);
        return 0;
    }
    if (mz_cli_quiet_rank())
        quiet = 1;
    o.train.dist = mz_cli_dist();
    mz_cli_progress pc;
    mz_cli_run_start(&pc, quiet, kill_after);
    o.train.progress = mz_cli_on_progress;
    o.train.progress_ctx = &pc;
    o.train.stop = mz_cli_stop_flag();
    if (!quiet)
        fprintf(stderr, "mzoo: sparsifying %s (%s, %d epochs) into %s\n", zoo,
                mz_sparse_method_name(o.method), o.epochs, out);
    mz_status st = mz_sparsify_run(zoo, out, &o, &err);
    if (st != MZ_OK) {
        mz_cli_error("%s", err.msg);
        return st == MZ_EINTERRUPTED ? 130 : 1;
    }
    if (!quiet && !pc.nothing_to_do)
        fprintf(stderr, "mzoo: twins written to %s (summary: mzoo info %s)\n", out, out);
    return 0;
}
