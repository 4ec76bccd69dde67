/* The difference between two recipes, for messages that refuse to continue a zoo file. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mzoo/spec.h"
#include "core/banned.h"

static void json_path_append(char *path, size_t cap, const char *key, long idx)
{
    size_t n = strlen(path);
    if (key)
        snprintf(path + n, cap - n, "%s%s", n ? "." : "", key);
    else
        snprintf(path + n, cap - n, "[%ld]", idx);
}

/* First difference between two JSON values; path gets its key path. Returns 1 if they differ. */
static int json_first_diff(json_t *a, json_t *b, char *path, size_t cap)
{
    if (json_typeof(a) != json_typeof(b) && !(json_is_number(a) && json_is_number(b)))
        return 1;
    if (json_is_object(a)) {
        /* keys of both, in sorted order: the recipe is written with sorted keys */
        json_t *keys = json_array();
        const char *k;
        json_t *v;
        json_object_foreach(a, k, v) json_array_append_new(keys, json_string(k));
        json_object_foreach(b, k, v) if (!json_object_get(a, k))
            json_array_append_new(keys, json_string(k));
        size_t nk = json_array_size(keys);
        const char **ks = malloc(sizeof(char *) * (nk ? nk : 1));
        for (size_t i = 0; ks && i < nk; i++)
            ks[i] = json_string_value(json_array_get(keys, i));
        for (size_t i = 1; ks && i < nk; i++) /* insertion sort: a handful of keys */
            for (size_t j = i; j > 0 && strcmp(ks[j - 1], ks[j]) > 0; j--) {
                const char *t = ks[j];
                ks[j] = ks[j - 1];
                ks[j - 1] = t;
            }
        int diff = 0;
        size_t base = strlen(path);
        for (size_t i = 0; ks && i < nk && !diff; i++) {
            path[base] = 0;
            json_path_append(path, cap, ks[i], 0);
            json_t *x = json_object_get(a, ks[i]), *y = json_object_get(b, ks[i]);
            diff = !x || !y || json_first_diff(x, y, path, cap);
        }
        if (!diff)
            path[base] = 0;
        free(ks);
        json_decref(keys);
        return diff;
    }
    if (json_is_array(a)) {
        size_t base = strlen(path);
        size_t na = json_array_size(a), nb = json_array_size(b);
        for (size_t i = 0; i < na && i < nb; i++) {
            json_path_append(path, cap, NULL, (long)i);
            if (json_first_diff(json_array_get(a, i), json_array_get(b, i), path, cap))
                return 1;
            path[base] = 0;
        }
        return na != nb;
    }
    if (json_is_number(a))
        return json_number_value(a) != json_number_value(b) ||
               json_is_integer(a) != json_is_integer(b);
    return !json_equal(a, b);
}

static void describe_value(json_t *v, int digits, char *buf, size_t cap)
{
    char *s = v ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY |
                                    JSON_REAL_PRECISION(digits))
                : NULL;
    snprintf(buf, cap, "%s", s ? s : "(absent)");
    if (strlen(buf) > 120)
        snprintf(buf + 117, cap - 117, "...");
    free(s);
}

static json_t *json_at(json_t *root, const char *path)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *v = root;
    char *p = buf;
    while (v && *p) {
        if (*p == '[') {
            long i = strtol(p + 1, &p, 10);
            v = json_array_get(v, (size_t)i);
            if (*p == ']')
                p++;
        } else {
            if (*p == '.')
                p++;
            size_t n = strcspn(p, ".[");
            char save = p[n];
            p[n] = 0;
            v = json_object_get(v, p);
            p[n] = save;
            p += n;
        }
    }
    return v;
}

void mz_recipe_diff(const char *have, const char *want, const char *want_name, char *buf,
                    size_t cap)
{
    json_error_t je;
    json_t *a = json_loads(have ? have : "", 0, &je), *b = json_loads(want ? want : "", 0, &je);
    char path[512] = "";
    char va[160], vb[160];
    if (!a || !b) {
        snprintf(buf, cap, "the recipes are not comparable");
    } else {
        json_first_diff(a, b, path, sizeof path);
        /* 15 digits read better (0.0003, not 0.00029999999999999997) unless they hide the
         * difference */
        for (int digits = 15; digits <= 17; digits += 2) {
            describe_value(json_at(a, path), digits, va, sizeof va);
            describe_value(json_at(b, path), digits, vb, sizeof vb);
            if (strcmp(va, vb) != 0)
                break;
        }
        snprintf(buf, cap, "%s is %s in the file but %s in %s", path[0] ? path : "(top level)", va,
                 vb, want_name);
    }
    json_decref(a);
    json_decref(b);
}

int mz_recipe_same_settings(const char *a, const char *b)
{
    json_error_t je;
    json_t *x = json_loads(a ? a : "", 0, &je), *y = json_loads(b ? b : "", 0, &je);
    int same = json_is_object(x) && json_is_object(y);
    if (same) {
        json_object_del(x, "grid");
        json_object_del(y, "grid");
        same = json_equal(x, y);
    }
    json_decref(x);
    json_decref(y);
    return same;
}
