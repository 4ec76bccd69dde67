/* mzoo train SPEC.json -o ZOO.db [-j N] [--dry-run] [--data DIR] [--backend NAME] */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mzoo/data.h"
#include "mzoo/nn.h"
#include "mzoo/presets.h"
#include "mzoo/resnet.h"
#include "mzoo/spec.h"
#include "mzoo/train.h"
#include "cli/commands.h"
#include "core/banned.h"

static const char train_usage[] =
    "usage: mzoo train SPEC.json -o ZOO.db [options]\n"
    "       mzoo train --preset NAME -o ZOO.db [options]   (mzoo presets lists them)\n"
    "Trains every model of the spec's grid into one SQLite zoo file, keeping every epoch's "
    "weights\n"
    "and metrics. Running the same command again resumes an interrupted run.\n\n"
    "options:\n"
    "  -o, --output ZOO.db   zoo file to create or resume (required unless --dry-run)\n"
    "  -j, --threads N       worker threads (default: all online CPUs)\n"
    "  --dry-run             print the models the grid expands to, the zoo file's size and\n"
    "                        the compute (estimates), and exit\n"
    "  --data DIR            dataset directory (overrides the spec's \"data\")\n"
    "  --backend NAME        population backend for CNN-s/CNN-l: simd (default when built) or ref\n"
    "  --shard K/N           train only shard K (0..N-1) of N: the models with id % N == K, into "
    "a\n"
    "                        part that `mzoo merge` joins with the others (e.g. a job array)\n"
    "  --group N             CNN-s/CNN-l models trained together per population (1-16; default "
    "automatic)\n"
    "  -q, --quiet           no progress output\n";

/* Assumed sustained rate for the time estimate: about what one AVX-512 core gives the population
 * engine on CNN-s/CNN-l (docs/PERFORMANCE.md: 89 to 111 GFLOP/s per thread). */
#define RATE_GFLOPS_PER_CORE 100.0

static void print_size(double bytes)
{
    static const char *const unit[] = {"B", "KB", "MB", "GB", "TB", "PB"};
    int u = 0;
    while (bytes >= 1000 && u < 5)
        bytes /= 1000, u++;
    printf("%.3g %s", bytes, unit[u]);
}

/* What the zoo will cost, before anything is read: its file's size (every model's checkpoint at
 * every epoch, the per-epoch rows' own bytes left out) and the arithmetic of training and
 * evaluating it (2 x the multiply-adds of the convolutions and linear layers, as bench/README.md
 * counts them), from the dataset's reference split sizes and the spec's train_subset. */
static void print_estimate(const mz_spec *spec)
{
    mz_dataset_shape sh;
    if (mz_dataset_shape_of(spec->dataset, spec->variant, &sh) != MZ_OK)
        return;
    mz_error err = {0};
    int64_t floats = 0;
    double macs = 0, first = 0; /* multiply-adds of a forward pass, of its first layer */
    if (!strcmp(spec->architecture, "resnet18")) {
        mz_resnet net;
        if (mz_resnet_init(&net, sh.channels, sh.side, sh.side, sh.n_classes, &err) != MZ_OK)
            return;
        floats = net.n_state;
        for (int i = 0; i < MZ_RESNET_CONVS; i++) {
            const mz_resnet_conv *c = &net.convs[i];
            macs += (double)c->cout * c->out_h * c->out_w * c->cin * c->k * c->k;
        }
        macs += 512.0 * sh.n_classes;
        const mz_resnet_conv *c0 = &net.convs[0];
        first = (double)c0->cout * c0->out_h * c0->out_w * c0->cin * c0->k * c0->k;
    } else {
        mz_arch a;
        if (mz_arch_init(&a, spec->architecture, sh.channels, sh.side, sh.side, 0, &err) != MZ_OK)
            return;
        floats = a.n_params;
        for (int i = 0; i < a.n_layers; i++) {
            const mz_layer *l = &a.layers[i];
            double m = (double)l->out_c * l->out_h * l->out_w * l->in_c * l->k * l->k;
            if (l->kind == MZ_LAYER_CONV && first == 0)
                first = m;
            if (l->kind == MZ_LAYER_CONV)
                macs += m;
            else if (l->kind == MZ_LAYER_LINEAR)
                macs += (double)l->out_c * l->in_c;
        }
    }
    int64_t n_train = spec->train_subset > 0 && spec->train_subset < sh.n_train
                          ? spec->train_subset
                          : sh.n_train;
    /* bench/README.md's counts: backward = weight gradients (a forward's MACs) + input gradients
     * (the same but for the first layer, whose input needs none) */
    double fwd = 2 * macs, train = 2 * (macs + macs + macs - first);
    double models = (double)spec->n_models, epochs = spec->epochs;
    double per_model = epochs * (double)n_train * train +                      /* training */
                       (double)(n_train + sh.n_val + sh.n_test) * fwd +       /* epoch 0 */
                       epochs * (double)(sh.n_val + sh.n_test) * fwd;         /* evaluation */
    double flop = models * per_model;
    double bytes = models * (epochs + 1) * (double)floats * 4;
    double core_hours = flop / (RATE_GFLOPS_PER_CORE * 1e9) / 3600;
    printf("estimate: zoo file about ");
    print_size(bytes);
    printf(" (%lld checkpoints of %lld floats); compute about %.3g FLOP (per model and epoch "
           "%lld training and %lld evaluation images of %dx%d), about %.3g core-hours at %.0f "
           "GFLOP/s per core",
           (long long)(spec->n_models * (spec->epochs + 1)), (long long)floats, flop,
           (long long)n_train, (long long)(sh.n_val + sh.n_test), sh.side, sh.side, core_hours,
           RATE_GFLOPS_PER_CORE);
    if (core_hours > 48)
        printf(" (%.3g core-days)", core_hours / 24);
    printf("\n");
}

int mz_cmd_train(int argc, char **argv)
{
    const char *spec_path = NULL, *out = NULL, *data = NULL, *backend = NULL, *preset = NULL;
    int threads = 0, dry = 0, quiet = 0, group = 0, kill_after = 0, shard = 0, shards = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_next = i + 1 < argc;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(train_usage, stdout);
            return 0;
        } else if ((!strcmp(a, "-o") || !strcmp(a, "--output")) && has_next) {
            out = argv[++i];
        } else if ((!strcmp(a, "-j") || !strcmp(a, "--threads")) && has_next) {
            if (mz_cli_parse_int(argv[++i], 1, 4096, &threads)) {
                mz_cli_error("-j: expected a number of threads >= 1, got '%s'", argv[i]);
                return 2;
            }
        } else if (!strncmp(a, "-j", 2) && a[2]) { /* -jN, as make */
            if (mz_cli_parse_int(a + 2, 1, 4096, &threads)) {
                mz_cli_error("-j: expected a number of threads >= 1, got '%s'", a + 2);
                return 2;
            }
        } else if (!strcmp(a, "--shard") && has_next) {
            char *end;
            long k = strtol(argv[++i], &end, 10), nn = -1;
            if (*end == '/')
                nn = strtol(end + 1, &end, 10);
            if (*end || nn < 1 || nn > 1000000 || k < 0 || k >= nn) {
                mz_cli_error("--shard: expected K/N with 0 <= K < N, got '%s'", argv[i]);
                return 2;
            }
            shard = (int)k;
            shards = (int)nn;
        } else if (!strcmp(a, "--dry-run")) {
            dry = 1;
        } else if (!strcmp(a, "--preset") && has_next) {
            preset = argv[++i];
        } else if (!strcmp(a, "--data") && has_next) {
            data = argv[++i];
        } else if (!strcmp(a, "--backend") && has_next) {
            backend = argv[++i];
        } else if (!strcmp(a, "--group") && has_next) {
            if (mz_cli_parse_int(argv[++i], 1, 16, &group)) {
                mz_cli_error("--group: expected 1..16, got '%s'", argv[i]);
                return 2;
            }
        } else if (!strcmp(a, "--kill-after-commits") && has_next) { /* for the crash tests */
            if (mz_cli_parse_int(argv[++i], 1, 1 << 30, &kill_after)) {
                mz_cli_error("--kill-after-commits: expected a count >= 1");
                return 2;
            }
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            quiet = 1;
        } else if (a[0] == '-' && a[1]) {
            mz_cli_error("train: unknown or incomplete option '%s'", a);
            fputs(train_usage, stderr);
            return 2;
        } else if (!spec_path) {
            spec_path = a;
        } else {
            mz_cli_error("train: unexpected argument '%s'", a);
            return 2;
        }
    }
    if (!spec_path == !preset) {
        if (spec_path)
            mz_cli_error("train: give either SPEC.json or --preset NAME, not both");
        fputs(train_usage, stderr);
        return 2;
    }
    mz_error err = {0};
    mz_spec spec;
    if (preset) {
        char *json = mz_preset_json(preset);
        if (!json) {
            mz_cli_error("unknown preset '%s' (mzoo presets lists them)", preset);
            return 2;
        }
        char origin[128];
        snprintf(origin, sizeof origin, "preset %s", preset);
        mz_status ps = mz_spec_parse(&spec, json, origin, &err);
        free(json);
        if (ps != MZ_OK) {
            mz_cli_error("%s", err.msg);
            return 1;
        }
    } else {
        /* under MPI every rank reads the spec; one that cannot stops them all */
        mz_status ls =
            mz_dist_check(mz_cli_dist(), mz_spec_load_file(&spec, spec_path, &err), &err);
        if (ls != MZ_OK) {
            mz_cli_error("%s", err.msg);
            return 1;
        }
    }
    if (data)
        snprintf(spec.data_dir, sizeof spec.data_dir, "%s", data);
    if (dry) {
        printf("%lld models (%s, %s, %d epochs, batch %d)\n", (long long)spec.n_models,
               spec.dataset, spec.architecture, spec.epochs, spec.batch_size);
        print_estimate(&spec);
        for (int64_t i = 0; i < spec.n_models; i++) {
            char line[512];
            mz_model_spec_describe(&spec.models[i], line, sizeof line);
            printf("%s\n", line);
        }
        mz_spec_release(&spec);
        return 0;
    }
    if (!out) {
        mz_cli_error("train: -o ZOO.db is required");
        mz_spec_release(&spec);
        return 2;
    }
    if (mz_cli_quiet_rank())
        quiet = 1;
    mz_cli_progress pc;
    mz_cli_run_start(&pc, quiet, kill_after);
    mz_train_opts opts = {0};
    opts.dist = mz_cli_dist();
    opts.threads = threads;
    opts.backend = backend;
    opts.progress = mz_cli_on_progress;
    opts.progress_ctx = &pc;
    opts.stop = mz_cli_stop_flag();
    opts.max_group = group;
    opts.shard = shard;
    opts.shards = shards;
    if (!quiet)
        fprintf(stderr, "mzoo: training %lld models (%s, %s, %d epochs) into %s\n",
                (long long)spec.n_models, spec.dataset, spec.architecture, spec.epochs, out);
    mz_status st = mz_train_run(&spec, out, &opts, &err);
    mz_spec_release(&spec);
    if (st != MZ_OK) {
        mz_cli_error("%s", err.msg);
        return st == MZ_EINTERRUPTED ? 130 : 1;
    }
    if (!quiet && !pc.nothing_to_do)
        fprintf(stderr, "mzoo: zoo written to %s (summary: mzoo info %s)\n", out, out);
    return 0;
}
