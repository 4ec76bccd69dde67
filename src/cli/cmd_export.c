/* mzoo export ZOO.db -o DIR --format F: a zoo file in the layouts other tools read
 * (docs/INTEROP.md). */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mzoo/interop.h"
#include "cli/commands.h"
#include "core/banned.h"

static const char export_usage[] =
    "usage: mzoo export ZOO.db -o DIR --format F [options]\n"
    "Writes a zoo's models and checkpoints into DIR (created; it must be new or empty):\n"
    "  pt           DIR/model_<id>/epoch_<e>.pt: one torch.save state_dict per checkpoint\n"
    "               (torch.load(f, weights_only=True), then load_state_dict(strict=True) into\n"
    "               the reference's module), with index.json and index.csv\n"
    "  safetensors  DIR/model_<id>.safetensors (tensors epoch_<e>/<name>, metadata with the\n"
    "               hyperparameters and metrics), with index.json and index.csv\n"
    "  modelzoos    a Ray Tune experiment folder as the Model Zoos publish it (params.json,\n"
    "               result.json, checkpoint_<e:06d>/checkpoints): CNN-s, CNN-l, ResNet-18\n"
    "  ctc          Google's Small CNN Zoo files (weights.npy, metrics.csv.gz, layout.csv):\n"
    "               smallcnn zoos\n"
    "Importing an export of modelzoos or ctc gives back the same zoo content. See\n"
    "docs/INTEROP.md.\n\n"
    "options:\n"
    "  -o, --output DIR   the directory to write (required)\n"
    "  --format F         pt, safetensors, modelzoos or ctc (required)\n"
    "  --where EXPR       only (model, epoch) rows for which this SQL expression over the\n"
    "                     models and epochs columns is true, e.g. \"test_acc > 0.5\"\n"
    "  --epochs LIST      all (default), last, or epochs and ranges such as 0,5,10-20\n"
    "  --per-zoo          safetensors: one file, DIR/zoo.safetensors (tensors\n"
    "                     model_<id>/epoch_<e>/<name>)\n"
    "  -q, --quiet        no progress, only the summary\n";

static volatile int stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    if (__atomic_load_n(&stop_flag, __ATOMIC_RELAXED))
        _exit(130);
    __atomic_store_n(&stop_flag, 1, __ATOMIC_RELAXED);
}

typedef struct progress_ctx {
    int tty, quiet;
    double last;
} progress_ctx;

static int on_progress(void *vctx, const mz_interop_progress *p)
{
    progress_ctx *c = vctx;
    if (!c->quiet && p->elapsed - c->last >= (c->tty ? 0.2 : 10.0)) {
        c->last = p->elapsed;
        fprintf(stderr, "%sexporting: %lld of %lld models, %.0f s%s", c->tty ? "\r\033[K" : "",
                (long long)p->done, (long long)p->total, p->elapsed, c->tty ? "" : "\n");
        fflush(stderr);
    }
    return __atomic_load_n(&stop_flag, __ATOMIC_RELAXED);
}

int mz_cmd_export(int argc, char **argv)
{
    const char *zoo = NULL;
    mz_export_options o;
    mz_export_options_default(&o);
    o.format = MZ_INTEROP_AUTO;
    const char *dir = NULL;
    progress_ctx pc = {isatty(STDERR_FILENO), 0, 0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_next = i + 1 < argc;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(export_usage, stdout);
            return 0;
        } else if ((!strcmp(a, "-o") || !strcmp(a, "--output")) && has_next) {
            dir = argv[++i];
        } else if (!strcmp(a, "--format") && has_next) {
            int f = mz_interop_format_parse(argv[++i]);
            if (f <= 0) {
                mz_cli_error("--format: expected pt, safetensors, modelzoos or ctc, got '%s'",
                             argv[i]);
                return 2;
            }
            o.format = (mz_interop_format)f;
        } else if (!strcmp(a, "--where") && has_next) {
            o.where = argv[++i];
        } else if (!strcmp(a, "--epochs") && has_next) {
            o.epochs = argv[++i];
        } else if (!strcmp(a, "--per-zoo")) {
            o.per_zoo = 1;
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            pc.quiet = 1;
        } else if (a[0] == '-' && a[1]) {
            mz_cli_error("export: unknown or incomplete option '%s'", a);
            fputs(export_usage, stderr);
            return 2;
        } else if (!zoo) {
            zoo = a;
        } else {
            mz_cli_error("export: one ZOO.db only ('%s' is a second)", a);
            return 2;
        }
    }
    if (!zoo || !dir || o.format == MZ_INTEROP_AUTO) {
        fputs(export_usage, stderr);
        return 2;
    }
    o.progress = on_progress;
    o.progress_ctx = &pc;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    mz_export_report r;
    mz_error err = {0};
    mz_status s = mz_export(zoo, dir, &o, &r, &err);
    if (pc.tty && !pc.quiet && pc.last > 0)
        fprintf(stderr, "\r\033[K");
    if (s != MZ_OK) {
        mz_cli_error("%s", err.msg);
        return s == MZ_EINTERRUPTED ? 130 : 1;
    }
    char esc[1100];
    printf("%s: %s export of %lld models, %lld epochs (%lld checkpoints), %lld files, %.1f s\n",
           mz_escape(esc, sizeof esc, dir), mz_interop_format_name(o.format), (long long)r.models,
           (long long)r.epochs, (long long)r.checkpoints, (long long)r.files, r.seconds);
    if (r.skipped)
        printf("  %lld epochs without a checkpoint left out (the format has a row per "
               "checkpoint)\n",
               (long long)r.skipped);
    return 0;
}
