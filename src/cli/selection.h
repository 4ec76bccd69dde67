/* Options shared by `mzoo dataset` and `mzoo bench`: which samples of a zoo, filters, split. */
#ifndef MZ_CLI_SELECTION_H
#define MZ_CLI_SELECTION_H

#include <stdio.h>

#include "mzoo/loader.h"

/* Help text for the shared options. */
extern const char mz_cli_selection_help[];

/* If argv[*i] is a selection option, consumes it (and its value) into o and returns 1; returns 0
 * if it is not one; returns -1 (after printing "mzoo: ...") on a bad value. */
int mz_cli_selection_option(int argc, char **argv, int *i, mz_loader_options *o);

/* Parses "a,b,c" into doubles; returns the count or -1. */
int mz_cli_parse_doubles(const char *s, double *out, int max);

/* Prints what a selection kept and dropped (layout, filters, split). */
void mz_cli_print_selection(const mz_loader *L, FILE *f);

#endif
