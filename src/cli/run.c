/* What the commands that train share: Ctrl-C handling and the progress line. */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "core/banned.h"

static volatile int stop_flag;
static volatile int stderr_tty; /* the progress line may be open (no newline yet) */

static void on_signal(int sig)
{
    (void)sig;
    /* a second signal: leave now; committed epochs are safe in the zoo file */
    if (__atomic_load_n(&stop_flag, __ATOMIC_RELAXED))
        _exit(130);
    __atomic_store_n(&stop_flag, 1, __ATOMIC_RELAXED);
    /* say so at once, on a line of its own (write() is safe in a handler; stdio is not) */
    static const char msg[] = "mzoo: stopping after the epochs in flight (committed epochs are "
                              "kept); press Ctrl-C again to quit now\n";
    if (stderr_tty && write(2, "\n", 1) < 0)
        return;
    if (write(2, msg, sizeof msg - 1) < 0)
        return;
}

volatile int *mz_cli_stop_flag(void)
{
    return &stop_flag;
}

void mz_cli_run_start(mz_cli_progress *pc, int quiet, int64_t kill_after)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    memset(pc, 0, sizeof *pc);
    pc->tty = isatty(2);
    stderr_tty = pc->tty && !quiet;
    pc->quiet = quiet;
    pc->last_print = -1e9;
    pc->kill_after = kill_after;
}

static void fmt_duration(double s, char *buf, size_t cap)
{
    if (s < 0) {
        snprintf(buf, cap, "?");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, cap, "%ldh%02ldm", t / 3600, (t / 60) % 60);
    else if (t >= 60)
        snprintf(buf, cap, "%ldm%02lds", t / 60, t % 60);
    else
        snprintf(buf, cap, "%lds", t);
}

void mz_cli_on_progress(void *vctx, const mz_train_progress *p)
{
    mz_cli_progress *c = vctx;
    if (c->kill_after && p->commits >= c->kill_after)
        _exit(137); /* crash simulation for the resume tests: right after a commit */
    if (p->final && p->epochs_total == 0 && p->epochs_done == 0) {
        /* a finished zoo run again: say so rather than print an empty progress line */
        c->nothing_to_do = 1;
        if (!c->quiet)
            fprintf(stderr,
                    "mzoo: nothing to do: all %lld models are finished; the zoo file is "
                    "unchanged\n",
                    (long long)p->models_total);
        return;
    }
    if (c->quiet)
        return;
    double interval = c->tty ? 0.2 : 30.0;
    if (!p->final && p->elapsed - c->last_print < interval)
        return;
    c->last_print = p->elapsed;
    char eta[32], el[32];
    fmt_duration(p->eta, eta, sizeof eta);
    fmt_duration(p->elapsed, el, sizeof el);
    double pct = p->epochs_total ? 100.0 * (double)p->epochs_done / (double)p->epochs_total : 100.0;
    if (c->tty)
        fprintf(stderr, "\r\033[K");
    fprintf(
        stderr,
        "models %lld/%lld done | model-epochs %lld/%lld (%.1f%%) | last epoch %d, test acc %.3f | "
        "%.0f samples/s | elapsed %s, ETA %s",
        (long long)p->models_done, (long long)p->models_total, (long long)p->epochs_done,
        (long long)p->epochs_total, pct, p->last_epoch, p->last_test_acc, p->samples_per_sec, el,
        eta);
    fputc(c->tty && !p->final ? ' ' : '\n', stderr);
    fflush(stderr);
}
