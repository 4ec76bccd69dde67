/* mzoo import SOURCE -o ZOO.db [--format F]: a zoo someone else made, as a zoo file
 * (docs/INTEROP.md). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mzoo/interop.h"
#include "mzoo/store.h"
#include "cli/commands.h"
#include "core/banned.h"

static const char import_usage[] =
    "usage: mzoo import SOURCE -o ZOO.db [options]\n"
    "Reads a zoo made elsewhere into a zoo file (kind \"imported\"): every model, its\n"
    "hyperparameters, every epoch's metrics and checkpoint. SOURCE is\n"
    "  - a Model Zoos raw zoo: a Ray Tune experiment folder, or its .zip / .tar / .tar.gz as\n"
    "    downloaded (read in place)\n"
    "  - Google's Small CNN Zoo: a folder with weights.npy, metrics.csv(.gz) and layout.csv\n"
    "Running the same command again resumes an interrupted import (or does nothing when it is\n"
    "complete); a file holding another import is refused and left as it is. See\n"
    "docs/INTEROP.md.\n\n"
    "options:\n"
    "  -o, --output ZOO.db   the zoo file to create or resume (required)\n"
    "  --format F            modelzoos or ctc (default: detected)\n"
    "  --commit-every N      models per transaction (default: up to 64 MiB of weights)\n"
    "  --max-memory SIZE     weights held before they are committed, e.g. 512M, 4G (default\n"
    "                        1G); a model whose checkpoints are spread further apart in the\n"
    "                        source is committed in parts\n"
    "  -q, --quiet           no progress, only the summary\n";

static volatile int stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    if (__atomic_load_n(&stop_flag, __ATOMIC_RELAXED))
        _exit(130); /* second signal: leave now; committed models are safe in the zoo file */
    __atomic_store_n(&stop_flag, 1, __ATOMIC_RELAXED);
}

typedef struct progress_ctx {
    int tty, quiet;
    double last;
    int64_t kill_after; /* testing: _exit(137) after this many commits, as a crash would */
} progress_ctx;

static int on_progress(void *vctx, const mz_interop_progress *p)
{
    progress_ctx *c = vctx;
    if (c->kill_after && p->commits >= c->kill_after)
        _exit(137);
    if (!c->quiet && p->elapsed - c->last >= (c->tty ? 0.2 : 10.0)) {
        c->last = p->elapsed;
        if (c->tty)
            fprintf(stderr, "\r\033[K");
        if (p->total)
            fprintf(stderr, "%s: %lld/%lld %s (%.0f%%), %lld commits, %.0f s", p->phase,
                    (long long)p->done, (long long)p->total, p->unit,
                    100.0 * (double)p->done / (double)p->total, (long long)p->commits, p->elapsed);
        else
            fprintf(stderr, "%s: %lld %s, %.0f s", p->phase, (long long)p->done, p->unit,
                    p->elapsed);
        fputc(c->tty ? ' ' : '\n', stderr);
        fflush(stderr);
    }
    return __atomic_load_n(&stop_flag, __ATOMIC_RELAXED);
}

static void print_report(const char *zoo, const mz_import_report *r)
{
    char esc[1100];
    printf("%s: %s zoo (%s), %lld models: %lld done, %lld diverged, %lld failed\n",
           mz_escape(esc, sizeof esc, zoo), mz_interop_format_name(r->format), r->architecture,
           (long long)r->models, (long long)r->by_status[MZ_MODEL_DONE],
           (long long)r->by_status[MZ_MODEL_DIVERGED], (long long)r->by_status[MZ_MODEL_FAILED]);
    printf("  %lld epochs: %lld with a checkpoint, %lld without one (metrics only), %lld without "
           "metrics\n",
           (long long)r->epochs, (long long)r->checkpoints, (long long)r->no_checkpoint,
           (long long)r->no_metrics);
    if (r->twins)
        printf("  %lld sparsified twins (variational dropout; per-layer sparsity recomputed)\n",
               (long long)r->twins);
    if (r->nonfinite_checkpoints)
        printf("  %lld checkpoints hold NaN or Inf (kept as they are)\n",
               (long long)r->nonfinite_checkpoints);
    if (r->nonfinite_unused)
        printf("  %lld twin checkpoints hold NaN or Inf in the unused log_sigma2_bias of linear "
               "layers (kept as they are; not a divergence)\n",
               (long long)r->nonfinite_unused);
    if (r->nonfinite_metrics)
        printf("  %lld NaN/Inf metrics stored as NULL\n", (long long)r->nonfinite_metrics);
    if (r->placeholders)
        printf("  %lld epoch-0 train metrics of -999 (not evaluated) stored as NULL\n",
               (long long)r->placeholders);
    if (r->duplicates)
        printf("  %lld repeated epochs (a restored trial): the later line kept\n",
               (long long)r->duplicates);
    if (r->rounded)
        printf("  %lld float64 weights rounded to float32\n", (long long)r->rounded);
    if (r->already)
        printf("  already imported: nothing to do\n");
    else
        printf("  %s%lld epochs written in %lld transactions, %.1f s\n",
               r->resumed ? "resumed: " : "", (long long)r->epochs_written, (long long)r->commits,
               r->seconds);
}

int mz_cmd_import(int argc, char **argv)
{
    const char *source = NULL, *out = NULL;
    mz_import_options o;
    mz_import_options_default(&o);
    progress_ctx pc = {isatty(STDERR_FILENO), 0, 0, 0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_next = i + 1 < argc;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(import_usage, stdout);
            return 0;
        } else if ((!strcmp(a, "-o") || !strcmp(a, "--output")) && has_next) {
            out = argv[++i];
        } else if (!strcmp(a, "--format") && has_next) {
            int f = mz_interop_format_parse(argv[++i]);
            if (f != MZ_INTEROP_MODELZOOS && f != MZ_INTEROP_CTC && f != MZ_INTEROP_AUTO) {
                mz_cli_error("--format: expected modelzoos or ctc, got '%s'", argv[i]);
                return 2;
            }
            o.format = (mz_interop_format)f;
        } else if (!strcmp(a, "--commit-every") && has_next) {
            char *end;
            errno = 0;
            long v = strtol(argv[++i], &end, 10);
            if (errno || *end || v < 1 || v > 1000000) {
                mz_cli_error("--commit-every: expected a number of models >= 1, got '%s'", argv[i]);
                return 2;
            }
            o.models_per_commit = (int)v;
        } else if (!strcmp(a, "--max-memory") && has_next) {
            char *end;
            errno = 0;
            double v = strtod(argv[++i], &end);
            double unit = *end == 'K'   ? 1024.0
                          : *end == 'M' ? 1048576.0
                          : *end == 'G' ? 1073741824.0
                                        : 1.0;
            if (unit > 1.0)
                end++;
            if (errno || end == argv[i] || *end || !(v * unit >= 1) || v * unit > 9e18) {
                mz_cli_error("--max-memory: expected a size such as 512M or 4G, got '%s'", argv[i]);
                return 2;
            }
            o.memory_limit = (int64_t)(v * unit);
        } else if (!strcmp(a, "--kill-after-commits") && has_next) { /* for the resume tests */
            char *end;
            errno = 0;
            pc.kill_after = strtoll(argv[++i], &end, 10);
            if (errno || *end || pc.kill_after < 1) {
                mz_cli_error("--kill-after-commits: expected a count >= 1");
                return 2;
            }
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            pc.quiet = 1;
        } else if (a[0] == '-' && a[1]) {
            mz_cli_error("import: unknown or incomplete option '%s'", a);
            fputs(import_usage, stderr);
            return 2;
        } else if (!source) {
            source = a;
        } else {
            mz_cli_error("import: one SOURCE only ('%s' is a second)", a);
            return 2;
        }
    }
    if (!source || !out) {
        fputs(import_usage, stderr);
        return 2;
    }
    o.progress = on_progress;
    o.progress_ctx = &pc;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    mz_import_report r;
    mz_error err = {0};
    mz_status s = mz_import(source, out, &o, &r, &err);
    if (pc.tty && !pc.quiet && pc.last > 0)
        fprintf(stderr, "\r\033[K");
    if (s != MZ_OK) {
        mz_cli_error("%s", err.msg);
        if (r.commits && s != MZ_EINTERRUPTED)
            mz_cli_error("%s keeps the %lld epochs committed before the error; running the same "
                         "import again resumes it",
                         out, (long long)r.epochs_written);
        return s == MZ_EINTERRUPTED ? 130 : 1;
    }
    print_report(out, &r);
    return 0;
}
