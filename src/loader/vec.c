/* The layout map: which floats of a checkpoint form a sample, matched across layout variants by
 * layer position, and its index_dict.json form. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "mzoo/loader.h"
#include "formats/json-impl.h"
#include "mzoo/nn.h"
#include "loader/arrays-impl.h"
#include "core/banned.h"

const char *mz_part_name(mz_part p)
{
    switch (p) {
    case MZ_PART_TRAIN:
        return "train";
    case MZ_PART_VAL:
        return "val";
    case MZ_PART_TEST:
        return "test";
    default:
        return "?";
    }
}

void mz_vec_layout_release(mz_vec_layout *L)
{
    if (!L)
        return;
    free(L->sources);
    L->sources = NULL;
    L->n_sources = 0;
}

/* One parameterised layer of a variant, before selection. */
typedef struct raw_layer {
    int conv; /* 1: conv2d (4-D weight), 0: fc (2-D weight) */
    int module_index;
    const mz_tensor_desc *w, *b;
    const mz_tensor_desc *s, *sb; /* twins: log_sigma2 and log_sigma2_bias, or NULL */
} raw_layer;

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

/* "module_list.3" -> 3; -1 if the prefix does not end in a number. */
static int module_index_of(const char *prefix, size_t len)
{
    size_t i = len;
    while (i > 0 && prefix[i - 1] >= '0' && prefix[i - 1] <= '9')
        i--;
    if (i == len || len - i > 6)
        return -1;
    int v = 0;
    for (size_t k = i; k < len; k++)
        v = v * 10 + (prefix[k] - '0');
    return v;
}

static int same_shape(const mz_tensor_desc *a, const mz_tensor_desc *b)
{
    if (a->ndim != b->ndim)
        return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i])
            return 0;
    return 1;
}

static mz_status scan_variant(const char *variant, const mz_tensor_desc *t, int nt, raw_layer *out,
                              int *n_out, mz_error *err)
{
    int n = 0;
    for (int i = 0; i < nt; i++) {
        if (!ends_with(t[i].name, ".weight") || (t[i].ndim != 4 && t[i].ndim != 2))
            continue;
        if (n == MZ_VEC_MAX_LAYERS)
            return mz_fail(err, MZ_ELIMIT, "layout %s: more than %d conv/linear layers", variant,
                           MZ_VEC_MAX_LAYERS);
        size_t plen = strlen(t[i].name) - strlen(".weight");
        raw_layer *r = &out[n++];
        r->conv = t[i].ndim == 4;
        r->module_index = module_index_of(t[i].name, plen);
        r->w = &t[i];
        r->b = r->s = r->sb = NULL;
        for (int j = 0; j < nt; j++) {
            if (strncmp(t[j].name, t[i].name, plen) != 0)
                continue;
            const char *rest = t[j].name + plen;
            if (!strcmp(rest, ".bias") && t[j].ndim == 1 && t[j].shape[0] == t[i].shape[0])
                r->b = &t[j];
            else if (!strcmp(rest, ".log_sigma2") && same_shape(&t[j], &t[i]))
                r->s = &t[j];
            else if (!strcmp(rest, ".log_sigma2_bias") && t[j].ndim == 1 &&
                     t[j].shape[0] == t[i].shape[0])
                r->sb = &t[j];
        }
    }
    if (n == 0)
        return mz_fail(err, MZ_EFORMAT,
                       "layout %s: no conv or linear weights (expected tensors named *.weight)",
                       variant);
    *n_out = n;
    return MZ_OK;
}

/* Parses "conv1,fc2" against the positional names; sel[i] = 1 for chosen layers. */
static mz_status parse_layers(const char *spec, char names[][16], int n, int *sel, mz_error *err)
{
    if (!spec || !*spec || !strcmp(spec, "all")) {
        for (int i = 0; i < n; i++)
            sel[i] = 1;
        return MZ_OK;
    }
    for (int i = 0; i < n; i++)
        sel[i] = 0;
    const char *p = spec;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        int found = -1;
        for (int i = 0; i < n; i++)
            if (strlen(names[i]) == len && !strncmp(names[i], p, len))
                found = i;
        if (found < 0) {
            char avail[MZ_VEC_MAX_LAYERS * 18 + 1] = "";
            size_t at = 0;
            for (int i = 0; i < n; i++) {
                size_t len_i = strlen(names[i]);
                if (i) {
                    memcpy(avail + at, ", ", 2);
                    at += 2;
                }
                memcpy(avail + at, names[i], len_i);
                at += len_i;
            }
            avail[at] = 0;
            return mz_fail(err, MZ_EINVAL,
                           "layers: unknown layer '%.*s' (expected all or a list of %s)", (int)len,
                           p, avail);
        }
        if (sel[found])
            return mz_fail(err, MZ_EINVAL, "layers: '%s' listed twice", names[found]);
        sel[found] = 1;
        p += len;
        if (*p == ',')
            p++;
    }
    return MZ_OK;
}

mz_status mz_vec_layout_build(mz_vec_layout *L, int n_variants, const char *const *variants,
                              const mz_tensor_desc *const *tensors, const int *n_tensors,
                              const char *layers, int with_bias, mz_error *err)
{
    memset(L, 0, sizeof *L);
    if (n_variants < 1)
        return mz_fail(err, MZ_EINVAL, "layout: the zoo has no layout variants");
    raw_layer(*raw)[MZ_VEC_MAX_LAYERS] = calloc((size_t)n_variants, sizeof *raw);
    int *nraw = calloc((size_t)n_variants, sizeof *nraw);
    L->sources = calloc((size_t)n_variants, sizeof *L->sources);
    mz_status st = MZ_OK;
    if (!raw || !nraw || !L->sources) {
        st = mz_fail(err, MZ_ENOMEM, "layout: out of memory");
        goto done;
    }
    for (int v = 0; v < n_variants; v++) {
        if ((st = scan_variant(variants[v], tensors[v], n_tensors[v], raw[v], &nraw[v], err)) !=
            MZ_OK)
            goto done;
        if (v == 0)
            continue;
        /* Position-wise match with the first variant. */
        if (nraw[v] != nraw[0]) {
            st = mz_fail(err, MZ_EMISMATCH,
                         "layout: variants %s and %s have %d and %d conv/linear layers",
                         variants[0], variants[v], nraw[0], nraw[v]);
            goto done;
        }
        for (int l = 0; l < nraw[0]; l++) {
            const raw_layer *a = &raw[0][l], *b = &raw[v][l];
            if (!same_shape(a->w, b->w) || (a->b == NULL) != (b->b == NULL)) {
                char sa[96], sb[96];
                st = mz_fail(err, MZ_EMISMATCH,
                             "layout: layer %d differs between variants %s (%s %s) and %s (%s %s)",
                             l + 1, variants[0], a->w->name, mz_shape_json(a->w, sa, sizeof sa),
                             variants[v], b->w->name, mz_shape_json(b->w, sb, sizeof sb));
                goto done;
            }
        }
    }
    /* Positional names and reference fields from the first variant. */
    int n = nraw[0], nconv = 0, nfc = 0, sel[MZ_VEC_MAX_LAYERS];
    char names[MZ_VEC_MAX_LAYERS][16];
    mz_vec_layer all[MZ_VEC_MAX_LAYERS];
    memset(all, 0, sizeof all);
    for (int l = 0; l < n; l++) {
        const raw_layer *r = &raw[0][l];
        mz_vec_layer *ly = &all[l];
        if (r->conv)
            snprintf(ly->name, sizeof ly->name, "conv%d", ++nconv);
        else
            snprintf(ly->name, sizeof ly->name, "fc%d", ++nfc);
        memcpy(names[l], ly->name, sizeof names[l]);
        snprintf(ly->type, sizeof ly->type, "%s", r->conv ? "conv2d" : "fc");
        ly->module_index = r->module_index;
        ly->ndim = r->w->ndim;
        for (int k = 0; k < r->w->ndim; k++)
            ly->shape[k] = r->w->shape[k];
        ly->kernel_no = r->w->shape[0];
        ly->n_weights = r->w->count;
        if (r->conv) {
            ly->channels_in = r->w->shape[1];
            ly->kernel_size = r->w->shape[2] * r->w->shape[3];
        } else {
            /* fc after a layer with c outputs: channels_in = c and kernel_size = in / c (the
             * spatial positions of a flattened conv output; 1 after another fc), as index_dict.json
             */
            int64_t in = r->w->shape[1], c = l > 0 ? all[l - 1].kernel_no : in;
            if (c <= 0 || in % c != 0)
                c = in;
            ly->channels_in = c;
            ly->kernel_size = in / c;
        }
        ly->n_bias = with_bias && r->b ? r->b->count : 0;
    }
    if ((st = parse_layers(layers, names, n, sel, err)) != MZ_OK)
        goto done;
    int64_t pos = 0;
    for (int l = 0; l < n; l++) {
        if (!sel[l])
            continue;
        mz_vec_layer *ly = &L->layers[L->n_layers];
        *ly = all[l];
        ly->idx_start = pos;
        ly->idx_length = ly->n_weights + ly->n_bias;
        pos += ly->idx_length;
        for (int v = 0; v < n_variants; v++) {
            mz_vec_source *s = &L->sources[v];
            const raw_layer *r = &raw[v][l];
            s->module_index[L->n_layers] = r->module_index;
            snprintf(s->weight_key[L->n_layers], MZ_TENSOR_NAME_MAX, "%s", r->w->name);
            s->w_off[L->n_layers] = r->w->offset;
            if (ly->n_bias) {
                snprintf(s->bias_key[L->n_layers], MZ_TENSOR_NAME_MAX, "%s", r->b->name);
                s->b_off[L->n_layers] = r->b->offset;
            } else {
                s->b_off[L->n_layers] = -1;
            }
            s->s_off[L->n_layers] = r->s ? r->s->offset : -1;
            s->sb_off[L->n_layers] = r->sb ? r->sb->offset : -1;
        }
        L->n_layers++;
    }
    for (int v = 0; v < n_variants; v++) {
        mz_vec_source *s = &L->sources[v];
        snprintf(s->variant, sizeof s->variant, "%s", variants[v]);
        for (int i = 0; i < n_tensors[v]; i++) {
            int64_t end = tensors[v][i].offset + tensors[v][i].count;
            if (end > s->n_params)
                s->n_params = end;
        }
    }
    L->n_sources = n_variants;
    L->with_bias = with_bias != 0;
    L->dim = pos;
done:
    free(raw);
    free(nraw);
    if (st != MZ_OK)
        mz_vec_layout_release(L);
    return st;
}

/* dst[i] = src[i], or 0 where the twin prunes it (its log_sigma2 ls2[i]). */
static void copy_pruned(float *dst, const float *src, const float *ls2, int64_t n, int conv)
{
    for (int64_t i = 0; i < n; i++)
        dst[i] = mz_ard_pruned(conv, src[i], ls2[i]) ? 0.0f : src[i];
}

void mz_vec_extract(const mz_vec_layout *L, int source, const float *params, float *out)
{
    const mz_vec_source *s = &L->sources[source];
    for (int l = 0; l < L->n_layers; l++) {
        const mz_vec_layer *ly = &L->layers[l];
        int conv = ly->ndim == 4;
        float *w = out + ly->idx_start, *b = w + ly->n_weights;
        if (L->prune && s->s_off[l] >= 0)
            copy_pruned(w, params + s->w_off[l], params + s->s_off[l], ly->n_weights, conv);
        else
            memcpy(w, params + s->w_off[l], (size_t)ly->n_weights * sizeof *out);
        if (!ly->n_bias)
            continue;
        /* the pruned network zeroes conv biases by their log_sigma2_bias; linear biases stay */
        if (L->prune && conv && s->sb_off[l] >= 0)
            copy_pruned(b, params + s->b_off[l], params + s->sb_off[l], ly->n_bias, conv);
        else
            memcpy(b, params + s->b_off[l], (size_t)ly->n_bias * sizeof *out);
    }
}

/* ---- index_dict.json ---- */

mz_status mz_vec_layout_write_json(const mz_vec_layout *L, const char *path, mz_error *err)
{
    json_t *root = json_object();
    json_t *layer = json_array(), *start = json_array(), *length = json_array(),
           *kno = json_array(), *ksz = json_array(), *cin = json_array(), *name = json_array(),
           *nw = json_array(), *nb = json_array(), *shape = json_array(), *midx = json_object(),
           *keys = json_object();
    for (int l = 0; l < L->n_layers; l++) {
        const mz_vec_layer *ly = &L->layers[l];
        json_array_append_new(layer, json_pack("[is]", ly->module_index, ly->type));
        json_array_append_new(start, json_integer(ly->idx_start));
        json_array_append_new(length, json_integer(ly->idx_length));
        json_array_append_new(kno, json_integer(ly->kernel_no));
        json_array_append_new(ksz, json_integer(ly->kernel_size));
        json_array_append_new(cin, json_integer(ly->channels_in));
        json_array_append_new(name, json_string(ly->name));
        json_array_append_new(nw, json_integer(ly->n_weights));
        json_array_append_new(nb, json_integer(ly->n_bias));
        json_t *sh = json_array();
        for (int k = 0; k < ly->ndim; k++)
            json_array_append_new(sh, json_integer(ly->shape[k]));
        json_array_append_new(shape, sh);
    }
    for (int v = 0; v < L->n_sources; v++) {
        const mz_vec_source *s = &L->sources[v];
        json_t *mi = json_array(), *ks = json_array();
        for (int l = 0; l < L->n_layers; l++) {
            json_array_append_new(mi, json_integer(s->module_index[l]));
            json_t *pair = json_array();
            json_array_append_new(pair, json_string(s->weight_key[l]));
            if (L->layers[l].n_bias)
                json_array_append_new(pair, json_string(s->bias_key[l]));
            json_array_append_new(ks, pair);
        }
        json_object_set_new(midx, s->variant, mi);
        json_object_set_new(keys, s->variant, ks);
    }
    json_object_set_new(root, "layer", layer);
    json_object_set_new(root, "idx_start", start);
    json_object_set_new(root, "idx_length", length);
    json_object_set_new(root, "kernel_no", kno);
    json_object_set_new(root, "kernel_size", ksz);
    json_object_set_new(root, "channels_in", cin);
    json_object_set_new(root, "name", name);
    json_object_set_new(root, "n_weights", nw);
    json_object_set_new(root, "n_bias", nb);
    json_object_set_new(root, "shape", shape);
    json_object_set_new(root, "with_bias", json_boolean(L->with_bias));
    json_object_set_new(root, "dim", json_integer(L->dim));
    json_object_set_new(root, "module_index", midx);
    json_object_set_new(root, "keys", keys);
    int rc = json_dump_file(root, path,
                            JSON_INDENT(1) | JSON_PRESERVE_ORDER | mz_json_real_flags(root));
    json_decref(root);
    if (rc != 0)
        return mz_fail(err, MZ_EIO, "%s: cannot write (%s)", path, strerror(errno));
    return MZ_OK;
}

static mz_status get_int_list(json_t *root, const char *key, const char *path, int64_t *out, int n,
                              int *n_out, mz_error *err)
{
    json_t *a = json_object_get(root, key);
    if (!json_is_array(a))
        return mz_fail(err, MZ_EFORMAT, "%s: key '%s': missing or not a list", path, key);
    if (n_out) {
        *n_out = (int)json_array_size(a);
        if (*n_out < 1 || *n_out > MZ_VEC_MAX_LAYERS)
            return mz_fail(err, MZ_EFORMAT, "%s: key '%s': %d layers (expected 1..%d)", path, key,
                           *n_out, MZ_VEC_MAX_LAYERS);
        n = *n_out;
    } else if ((int)json_array_size(a) != n) {
        return mz_fail(err, MZ_EFORMAT, "%s: key '%s': %d entries (expected %d, one per layer)",
                       path, key, (int)json_array_size(a), n);
    }
    for (int i = 0; i < n; i++) {
        json_t *e = json_array_get(a, (size_t)i);
        if (!json_is_integer(e) || json_integer_value(e) < 0)
            return mz_fail(err, MZ_EFORMAT, "%s: key '%s'[%d]: not a non-negative integer", path,
                           key, i);
        out[i] = json_integer_value(e);
    }
    return MZ_OK;
}

mz_status mz_vec_layout_read_json(mz_vec_layout *L, const char *path, mz_error *err)
{
    memset(L, 0, sizeof *L);
    json_t *root;
    mz_status st = mz_dataset_json_load(path, MZ_DATASET_JSON_MAX, &root, err);
    if (st != MZ_OK)
        return st;
    int n = 0;
    int64_t start[MZ_VEC_MAX_LAYERS], len[MZ_VEC_MAX_LAYERS], kno[MZ_VEC_MAX_LAYERS],
        ksz[MZ_VEC_MAX_LAYERS], cin[MZ_VEC_MAX_LAYERS];
    st = get_int_list(root, "idx_start", path, start, 0, &n, err);
    if (st == MZ_OK)
        st = get_int_list(root, "idx_length", path, len, n, NULL, err);
    if (st == MZ_OK)
        st = get_int_list(root, "kernel_no", path, kno, n, NULL, err);
    if (st == MZ_OK)
        st = get_int_list(root, "kernel_size", path, ksz, n, NULL, err);
    if (st == MZ_OK)
        st = get_int_list(root, "channels_in", path, cin, n, NULL, err);
    json_t *layer = json_object_get(root, "layer"), *name = json_object_get(root, "name");
    json_t *wb = json_object_get(root, "with_bias"), *dim = json_object_get(root, "dim");
    if (st == MZ_OK && (!json_is_array(layer) || (int)json_array_size(layer) != n))
        st = mz_fail(err, MZ_EFORMAT, "%s: key 'layer': missing or not %d [index, type] pairs",
                     path, n);
    int any_bias = 0;
    int64_t pos = 0;
    for (int l = 0; st == MZ_OK && l < n; l++) {
        mz_vec_layer *ly = &L->layers[l];
        json_t *pair = json_array_get(layer, (size_t)l);
        json_t *t = json_array_get(pair, 1);
        json_int_t mi = json_integer_value(json_array_get(pair, 0));
        if (!json_is_array(pair) || !json_is_integer(json_array_get(pair, 0)) || mi < -1 ||
            mi > INT_MAX || !json_is_string(t) || strlen(json_string_value(t)) >= sizeof ly->type) {
            st =
                mz_fail(err, MZ_EFORMAT,
                        "%s: key 'layer'[%d]: expected [module_index, \"conv2d\"|\"fc\"]", path, l);
            break;
        }
        ly->module_index = (int)mi;
        snprintf(ly->type, sizeof ly->type, "%s", json_string_value(t));
        json_t *nm = json_is_array(name) ? json_array_get(name, (size_t)l) : NULL;
        if (json_is_string(nm) && strlen(json_string_value(nm)) >= sizeof ly->name) {
            st = mz_fail(err, MZ_EFORMAT, "%s: key 'name'[%d]: %zu bytes (expected at most %zu)",
                         path, l, strlen(json_string_value(nm)), sizeof ly->name - 1);
            break;
        }
        if (json_is_string(nm))
            snprintf(ly->name, sizeof ly->name, "%s", json_string_value(nm));
        else
            snprintf(ly->name, sizeof ly->name, "layer%d", (unsigned char)(l + 1));
        ly->idx_start = start[l];
        ly->idx_length = len[l];
        ly->kernel_no = kno[l];
        ly->kernel_size = ksz[l];
        ly->channels_in = cin[l];
        if (mz_mul_overflow_i64(kno[l], ksz[l], &ly->n_weights) ||
            mz_mul_overflow_i64(ly->n_weights, cin[l], &ly->n_weights)) {
            st = mz_fail(err, MZ_EFORMAT,
                         "%s: layer %d: kernel_no * kernel_size * channels_in = %lld * %lld * %lld "
                         "overflows int64",
                         path, l, (long long)kno[l], (long long)ksz[l], (long long)cin[l]);
            break;
        }
        ly->n_bias = len[l] - ly->n_weights;
        if (ly->n_bias < 0 || start[l] != pos) {
            st = mz_fail(err, MZ_EFORMAT,
                         "%s: layer %d: idx_start %lld / idx_length %lld inconsistent with "
                         "kernel_no*kernel_size*channels_in = %lld at position %lld",
                         path, l, (long long)start[l], (long long)len[l], (long long)ly->n_weights,
                         (long long)pos);
            break;
        }
        any_bias |= ly->n_bias > 0;
        if (mz_add_overflow_i64(pos, len[l], &pos)) {
            st = mz_fail(err, MZ_EFORMAT, "%s: layer %d: idx_start + idx_length overflows int64",
                         path, l);
            break;
        }
    }
    if (st == MZ_OK && dim && (!json_is_integer(dim) || json_integer_value(dim) != pos))
        st = mz_fail(err, MZ_EFORMAT,
                     "%s: key 'dim': expected %lld, the sum of idx_length over the layers", path,
                     (long long)pos);
    if (st == MZ_OK) {
        L->n_layers = n;
        L->dim = pos;
        L->with_bias = json_is_boolean(wb) ? json_is_true(wb) : any_bias;
    }
    json_decref(root);
    return st;
}
