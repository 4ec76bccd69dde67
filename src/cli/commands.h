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
int mz_cmd_import(int argc, char **argv);
int mz_cmd_export(int argc, char **argv);

#include <stdio.h>

/* Prints "mzoo: <message>" to stderr, escaped (mz_escape): messages quote input. */
void mz_cli_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
/* Writes s to f with control characters made visible (mz_escape), for text read from files. */
void mz_cli_print_escaped(FILE *f, const char *s);

#endif
