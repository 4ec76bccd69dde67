/* mzoo verify ZOO.db: checks a zoo file end to end and says what is damaged. */
#include <stdio.h>
#include <string.h>

#include "mzoo/store.h"
#include "cli/commands.h"
#include "core/banned.h"

static const char verify_usage[] =
    "usage: mzoo verify ZOO.db\n"
    "Checks a zoo file without changing it: SQLite's integrity check, every layout, the size and\n"
    "crc32 of every checkpoint and optimizer state, and the bookkeeping between models and\n"
    "epochs. Prints each problem found; exits 0 when there is none, 1 otherwise.\n";

static void on_problem(void *ctx, const char *what)
{
    const char *path = ctx;
    fprintf(stdout, "%s: %s\n", path, what);
}

int mz_cmd_verify(int argc, char **argv)
{
    if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        fputs(verify_usage, stdout);
        return 0;
    }
    if (argc != 2 || argv[1][0] == '-') {
        fputs(verify_usage, stderr);
        return 2;
    }
    const char *path = argv[1];
    mz_error err = {0};
    mz_store *st = NULL;
    if (mz_store_open(&st, path, MZ_STORE_READ, &err) != MZ_OK) {
        mz_cli_error("%s", err.msg);
        return 1;
    }
    char shown[1100];
    mz_escape(shown, sizeof shown, path);
    mz_verify_report r;
    mz_status s = mz_store_verify(st, on_problem, shown, &r, &err);
    mz_store_close(st);
    if (s != MZ_OK) {
        mz_cli_error("%s", err.msg);
        return 1;
    }
    printf("%s: %s: %lld checkpoints and %lld optimizer states checked", shown,
           r.problems ? "DAMAGED" : "ok", (long long)r.checkpoints, (long long)r.resume_states);
    if (r.unchecked)
        printf(", %lld without a checksum (written by an older mzoo: size checked only)",
               (long long)r.unchecked);
    if (r.no_checkpoint)
        printf(", %lld epochs without a checkpoint", (long long)r.no_checkpoint);
    if (r.problems)
        printf("; %lld problem%s", (long long)r.problems, r.problems == 1 ? "" : "s");
    printf("\n");
    return r.problems ? 1 : 0;
}
