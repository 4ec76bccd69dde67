/* Golden files written by tools/make_*_golden.py: NAME.json (a manifest whose "arrays" maps each
 * array's name to its offset and count in floats) and NAME.bin (little-endian float32). */
#ifndef MZ_TESTS_GOLDEN_H
#define MZ_TESTS_GOLDEN_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct golden {
    json_t *root, *arrays;
    float *blob;
    long n_floats;
} golden;

/* Loads DIR/golden/NAME.json and .bin; prints why and returns 0 on failure. */
static int golden_load(golden *g, const char *dir, const char *name)
{
    char path[4096];
    json_error_t jerr;
    snprintf(path, sizeof path, "%s/golden/%s.json", dir, name);
    g->root = json_load_file(path, 0, &jerr);
    if (!g->root) {
        fprintf(stderr, "%s:%d: %s\n", path, jerr.line, jerr.text);
        return 0;
    }
    g->arrays = json_object_get(g->root, "arrays");
    snprintf(path, sizeof path, "%s/golden/%s.bin", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return 0;
    }
    fseek(f, 0, SEEK_END);
    long bytes = ftell(f);
    fseek(f, 0, SEEK_SET);
    g->n_floats = bytes / 4;
    g->blob = malloc((size_t)bytes);
    size_t got = g->blob ? fread(g->blob, 1, (size_t)bytes, f) : 0;
    fclose(f);
    if (got != (size_t)bytes) {
        fprintf(stderr, "%s: short read\n", path);
        return 0;
    }
    /* the file is little-endian float32; so is every machine this runs on, but say so if not */
    const uint16_t probe = 1;
    if (*(const uint8_t *)&probe != 1) {
        fprintf(stderr, "big-endian host: golden file not supported\n");
        return 0;
    }
    return 1;
}

/* The array `name`, which must have `count` floats (count < 0: any). */
static const float *golden_array(const golden *g, const char *name, long count)
{
    json_t *a = json_object_get(g->arrays, name);
    if (!a) {
        fprintf(stderr, "golden: no array '%s'\n", name);
        return NULL;
    }
    long off = (long)json_integer_value(json_object_get(a, "offset"));
    long n = (long)json_integer_value(json_object_get(a, "count"));
    if ((count >= 0 && n != count) || off < 0 || off + n > g->n_floats) {
        fprintf(stderr, "golden: array '%s': %ld floats at %ld (expected %ld, file has %ld)\n",
                name, n, off, count, g->n_floats);
        return NULL;
    }
    return g->blob + off;
}

#endif
