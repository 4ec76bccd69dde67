/* JSON files mzoo writes (through jansson): numbers as short as they can be and still read back
 * as the same doubles. */
#ifndef MZ_JSON_IMPL_H
#define MZ_JSON_IMPL_H

#include <stddef.h>

#include <jansson.h>

/* The JSON_REAL_PRECISION flag for dumping root: the fewest significant digits, 15, 16 or 17,
 * with which every real in it reads back as the same double (0.7 rather than
 * 0.69999999999999996, which jansson's default of 17 digits writes). One precision serves the
 * whole document, so a single real that needs 17 digits gives every real 17: never less exact. */
size_t mz_json_real_flags(const json_t *root);

#endif
