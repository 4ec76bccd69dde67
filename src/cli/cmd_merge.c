/* mzoo merge PART.db... -o ZOO.db: the shards of a zoo into one zoo file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mzoo/train.h"
#include "cli/commands.h"
#include "core/banned.h"

static const char merge_usage[] =
    "usage: mzoo merge PART.db... -o ZOO.db\n"
    "Merges the shards of a zoo, made with `mzoo train SPEC.json --shard K/N -o PART.db` for\n"
    "K = 0..N-1, into one new zoo file whose content equals a single run's. The parts must come\n"
    "from the same spec, be disjoint and complete; otherwise nothing is written and the missing\n"
    "or unfinished parts are listed. The parts are only read.\n";

int mz_cmd_merge(int argc, char **argv)
{
    const char *out = NULL;
    const char **parts = calloc((size_t)argc, sizeof *parts);
    int n = 0;
    if (!parts) {
        mz_cli_error("out of memory");
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(merge_usage, stdout);
            free(parts);
            return 0;
        } else if ((!strcmp(argv[i], "-o") || !strcmp(argv[i], "--output")) && i + 1 < argc) {
            out = argv[++i];
        } else if (argv[i][0] == '-' && argv[i][1]) {
            mz_cli_error("merge: unknown or incomplete option '%s'", argv[i]);
            fputs(merge_usage, stderr);
            free(parts);
            return 2;
        } else {
            parts[n++] = argv[i];
        }
    }
    if (!out || n == 0) {
        mz_cli_error("merge: %s", !out ? "-o ZOO.db is required" : "no parts to merge");
        fputs(merge_usage, stderr);
        free(parts);
        return 2;
    }
    mz_error err = {0};
    mz_status s = mz_zoo_merge(parts, n, out, &err);
    free(parts);
    if (s != MZ_OK) {
        mz_cli_error("%s", err.msg);
        return 1;
    }
    fprintf(stderr, "mzoo: merged %d parts into %s\n", n, out);
    return 0;
}
