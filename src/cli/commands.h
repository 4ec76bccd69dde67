/* The mzoo command's subcommands: one file per command, one entry each in main.c's table.
 * Each returns the process exit code: 0 success, 1 failure, 2 usage error. */
#ifndef MZ_CLI_COMMANDS_H
#define MZ_CLI_COMMANDS_H

int mz_cmd_train(int argc, char **argv);
int mz_cmd_info(int argc, char **argv);
int mz_cmd_presets(int argc, char **argv);
int mz_cmd_dataset(int argc, char **argv);
int mz_cmd_bench(int argc, char **argv);
int mz_cmd_verify(int argc, char **argv);
int mz_cmd_sparsify(int argc, char **argv);
int mz_cmd_merge(int argc, char **argv);
int mz_cmd_import(int argc, char **argv);
int mz_cmd_export(int argc, char **argv);
int mz_cmd_report(int argc, char **argv);

#include <stdio.h>

/* Prints "mzoo: <message>" to stderr, escaped (mz_escape): messages quote input. */
void mz_cli_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
/* A decimal integer in [lo, hi], the whole of s: 0 and *out set, else -1 (for option values). */
int mz_cli_parse_int(const char *s, int lo, int hi, int *out);

/* ---- running a training (run.c) ---- */
#include <stdint.h>

#include "mzoo/train.h"

typedef struct mz_cli_progress {
    int tty, quiet;
    double last_print;
    int64_t kill_after; /* testing: _exit(137) after this many commits, as a crash would */
    int nothing_to_do;  /* set by the final report of a run that found every model finished */
} mz_cli_progress;
/* Installs the SIGINT/SIGTERM handler (first: stop after the epochs in flight; second: exit at
 * once) and sets up pc. */
void mz_cli_run_start(mz_cli_progress *pc, int quiet, int64_t kill_after);
/* The flag the handler sets, for mz_train_opts.stop. */
volatile int *mz_cli_stop_flag(void);
/* mz_train_opts.progress: a live line on a terminal, a line every 30 s otherwise. */
void mz_cli_on_progress(void *ctx, const mz_train_progress *p);

/* The MPI job this process belongs to (NULL: none), and whether this process keeps quiet (a rank
 * other than 0: rank 0 reports for all). */
mz_dist *mz_cli_dist(void);
int mz_cli_quiet_rank(void);

/* Writes s to f with control characters made visible (mz_escape), for text read from files. */
void mz_cli_print_escaped(FILE *f, const char *s);

#endif
