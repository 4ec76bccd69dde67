/* mzoo: the command-line client of libmzoo. One file per subcommand; this table dispatches. */
#define _POSIX_C_SOURCE 200809L /* execv */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mzoo/core.h"
#include "mzoo/resnet.h"
#include "mzoo/train.h"
#include "cli/commands.h"
#include "core/banned.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"train", mz_cmd_train, "train every model of a zoo spec into one SQLite zoo file"},
    {"info", mz_cmd_info, "summarise a zoo file"},
    {"presets", mz_cmd_presets, "list the zoos of the Model Zoos paper as named specs"},
    {"dataset", mz_cmd_dataset,
     "write a zoo's checkpoints as a weight-space dataset split by model"},
    {"bench", mz_cmd_bench, "predict model properties from weights (ridge, linear, XGBoost)"},
    {"sparsify", mz_cmd_sparsify,
     "make sparsified twins of a zoo's models (variational dropout, magnitude)"},
    {"merge", mz_cmd_merge, "merge the shards of a zoo (mzoo train --shard K/N) into one zoo file"},
    {"verify", mz_cmd_verify, "check a zoo file for damage (integrity, checksums, bookkeeping)"},
    {"import", mz_cmd_import,
     "read a zoo made elsewhere (Model Zoos, Small CNN Zoo) into a zoo file"},
    {"export", mz_cmd_export, "write a zoo as .pt, safetensors, Model Zoos or Small CNN Zoo files"},
    {"report", mz_cmd_report, "write a self-contained HTML page of plots of one or more zoos"},
};

static mz_dist *cli_dist;

mz_dist *mz_cli_dist(void)
{
    return cli_dist;
}

int mz_cli_quiet_rank(void)
{
    return mz_dist_rank(cli_dist) != 0;
}

void mz_cli_error(const char *fmt, ...)
{
    if (mz_cli_quiet_rank()) /* every rank has the same error: rank 0 says it */
        return;
    char raw[2 * MZ_ERROR_MSG_MAX], msg[2 * MZ_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    fprintf(stderr, "mzoo: %s\n", mz_escape(msg, sizeof msg, raw));
}

int mz_cli_parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

void mz_cli_print_escaped(FILE *f, const char *s)
{
    size_t cap = 4 * strlen(s ? s : "") + 1;
    char *e = malloc(cap);
    if (e)
        fputs(mz_escape(e, cap, s), f);
    free(e);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mzoo <command> [options]   (mzoo <command> --help for details)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv)
{
    /* OpenBLAS picks its kernel when it is loaded: on an AVX-512 CPU it did not recognise, restart
     * once with OPENBLAS_CORETYPE=SkylakeX (mz_blas_prefer_avx512 sets it, so this cannot loop).
     * If execv fails we go on with the kernel we have. */
    if (mz_blas_prefer_avx512())
        execv("/proc/self/exe", argv);
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("mzoo %s\n", MZ_VERSION_STRING);
        return 0;
    }
    /* Under mpirun/srun with several processes: join the job; train and sparsify then spread
     * their work over the ranks, and only rank 0 speaks. */
    if (mz_dist_launched()) {
        mz_error err = {0};
        if (mz_dist_init(&cli_dist, &argc, &argv, &err) != MZ_OK) {
            mz_cli_error("%s", err.msg);
            return 1;
        }
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) {
            int rc = commands[i].run(argc - 1, argv + 1);
            mz_dist_finalize(cli_dist);
            return rc;
        }
    mz_dist_finalize(cli_dist);
    mz_cli_error("unknown command '%s'", argv[1]);
    usage(stderr);
    return 2;
}
