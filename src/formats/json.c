/* The precision of the reals of a JSON document (json-impl.h). */
#include <stdio.h>
#include <stdlib.h>

#include "formats/json-impl.h"
#include "core/banned.h"

/* 1 if every real under v reads back from `digits` significant digits. */
static int round_trips(const json_t *v, int digits)
{
    if (json_is_real(v)) {
        double x = json_real_value(v);
        char buf[40];
        snprintf(buf, sizeof buf, "%.*g", digits, x);
        return strtod(buf, NULL) == x || x != x; /* NaN never reads back; jansson refuses it */
    }
    if (json_is_array(v)) {
        size_t i;
        const json_t *e;
        json_array_foreach(v, i, e) {
            if (!round_trips(e, digits))
                return 0;
        }
        return 1;
    }
    if (json_is_object(v)) {
        const char *k;
        const json_t *e;
        json_object_foreach((json_t *)v, k, e) {
            if (!round_trips(e, digits))
                return 0;
        }
    }
    return 1;
}

size_t mz_json_real_flags(const json_t *root)
{
    for (int digits = 15; digits < 17; digits++)
        if (round_trips(root, digits))
            return JSON_REAL_PRECISION(digits);
    return JSON_REAL_PRECISION(17);
}
