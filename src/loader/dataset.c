/* Dataset directories: writing a loader's selection as files Python loads directly, and reading
 * them back for the benchmark. Layout of a directory (docs/DATASET.md):
 *   dataset.json        manifest: selection, filters, split, counts, arrays, files
 *   dataset.npz         x_train/x_val/x_test float32 [n, dim]; model_id_* and epoch_* int64 [n]
 *   <array>.npy         the same arrays, one file each (--format npy)
 *   dataset.safetensors the same tensors (--format safetensors)
 *   properties.csv      one row per sample: part, model_id, then every property
 *   properties.json     {"columns": [...], "train": {"model_id": [...], "<prop>": [...]}, ...}
 *   index_dict.json     the layout map (reference fields + names per variant)
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <jansson.h>

#include "mzoo/loader.h"
#include "loader/arrays-impl.h"
#include "loader/loader-impl.h"
#include "core/banned.h"

#define N_ARRAYS (3 * MZ_N_PARTS)

static void array_descs(const mz_loader_counts *c, int64_t dim, mz_array_desc *a)
{
    for (int p = 0; p < MZ_N_PARTS; p++) {
        mz_array_desc *x = &a[p], *m = &a[MZ_N_PARTS + p], *e = &a[2 * MZ_N_PARTS + p];
        memset(x, 0, sizeof *x);
        memset(m, 0, sizeof *m);
        memset(e, 0, sizeof *e);
        snprintf(x->name, sizeof x->name, "x_%s", mz_part_name((mz_part)p));
        x->dtype = MZ_DT_F32;
        x->ndim = 2;
        x->shape[0] = c->part_samples[p];
        x->shape[1] = dim;
        snprintf(m->name, sizeof m->name, "model_id_%s", mz_part_name((mz_part)p));
        snprintf(e->name, sizeof e->name, "epoch_%s", mz_part_name((mz_part)p));
        m->dtype = e->dtype = MZ_DT_I64;
        m->ndim = e->ndim = 1;
        m->shape[0] = e->shape[0] = c->part_samples[p];
    }
}

static mz_status make_dir(const char *dir, mz_error *err)
{
    struct stat sb;
    if (stat(dir, &sb) == 0) {
        if (!S_ISDIR(sb.st_mode))
            return mz_fail(err, MZ_EINVAL, "%s: exists and is not a directory", dir);
        return MZ_OK;
    }
    if (mkdir(dir, 0777) != 0)
        return mz_fail(err, errno == EACCES || errno == EROFS ? MZ_EREADONLY : MZ_EIO,
                       "%s: cannot create directory (%s)", dir, strerror(errno));
    return MZ_OK;
}

static void csv_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static mz_status write_csv(const char *path, const mz_sample_info *samples, int64_t n,
                           const mz_prop_column *pc, int np, mz_error *err)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return mz_fail(err, MZ_EIO, "%s: cannot create (%s)", path, strerror(errno));
    char buf[64];
    fputs("part,model_id", f);
    for (int c = 0; c < np; c++) {
        fputc(',', f);
        csv_field(f, pc[c].name);
    }
    fputc('\n', f);
    for (int64_t i = 0; i < n; i++) {
        fprintf(f, "%s,%lld", mz_part_name(samples[i].part), (long long)samples[i].model_id);
        for (int c = 0; c < np; c++) {
            double v = pc[c].v[i];
            fputc(',', f);
            if (isnan(v))
                continue;
            if (pc[c].kind == MZ_PROP_CATEGORICAL)
                csv_field(f, pc[c].levels[(int)v]);
            else
                fprintf(f, "%s", mz_format_double(buf, sizeof buf, v));
        }
        fputc('\n', f);
    }
    int bad = ferror(f);
    if (fclose(f) != 0 || bad)
        return mz_fail(err, errno == ENOSPC ? MZ_ENOSPC : MZ_EIO, "%s: write failed (%s)", path,
                       strerror(errno));
    return MZ_OK;
}

static json_t *prop_value(const mz_prop_column *c, double v)
{
    if (isnan(v) || isinf(v))
        return json_null();
    if (c->kind == MZ_PROP_CATEGORICAL)
        return json_string(c->levels[(int)v]);
    if (v == floor(v) && fabs(v) < 9e15)
        return json_integer((json_int_t)v);
    return json_real(v);
}

static mz_status write_props_json(const char *path, const mz_sample_info *samples, int64_t n,
                                  const mz_prop_column *pc, int np, mz_error *err)
{
    json_t *root = json_object(), *cols = json_array();
    for (int c = 0; c < np; c++) {
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(pc[c].name));
        json_object_set_new(
            o, "kind", json_string(pc[c].kind == MZ_PROP_CATEGORICAL ? "categorical" : "numeric"));
        if (pc[c].kind == MZ_PROP_CATEGORICAL) {
            json_t *lv = json_array();
            for (int l = 0; l < pc[c].n_levels; l++)
                json_array_append_new(lv, json_string(pc[c].levels[l]));
            json_object_set_new(o, "levels", lv);
        }
        json_array_append_new(cols, o);
    }
    json_object_set_new(root, "columns", cols);
    for (int p = 0; p < MZ_N_PARTS; p++) {
        json_t *part = json_object(), *mid = json_array();
        json_t **lists = calloc((size_t)(np ? np : 1), sizeof *lists);
        if (!lists) {
            json_decref(root);
            json_decref(part);
            json_decref(mid);
            return mz_fail(err, MZ_ENOMEM, "out of memory");
        }
        for (int c = 0; c < np; c++)
            lists[c] = json_array();
        for (int64_t i = 0; i < n; i++) {
            if ((int)samples[i].part != p)
                continue;
            json_array_append_new(mid, json_integer(samples[i].model_id));
            for (int c = 0; c < np; c++)
                json_array_append_new(lists[c], prop_value(&pc[c], pc[c].v[i]));
        }
        json_object_set_new(part, "model_id", mid);
        for (int c = 0; c < np; c++)
            json_object_set_new(part, pc[c].name, lists[c]);
        free(lists);
        json_object_set_new(root, mz_part_name((mz_part)p), part);
    }
    int rc =
        json_dump_file(root, path, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    json_decref(root);
    if (rc != 0)
        return mz_fail(err, MZ_EIO, "%s: cannot write", path);
    return MZ_OK;
}

static mz_status write_manifest(const char *path, mz_loader *L, unsigned formats,
                                const char *zoo_name, const mz_array_desc *arrays, mz_error *err)
{
    const mz_loader_options *o = mz_loader_get_options(L);
    const mz_loader_counts *c = mz_loader_get_counts(L);
    const mz_vec_layout *lay = mz_loader_layout(L);
    json_t *root = json_object();
    json_object_set_new(root, "format", json_string("mzoo-dataset-1"));
    json_object_set_new(root, "mzoo_version", json_string(MZ_VERSION_STRING));
    json_object_set_new(root, "zoo", json_string(zoo_name ? zoo_name : ""));
    json_object_set_new(root, "dim", json_integer(lay->dim));
    json_object_set_new(root, "with_bias", json_boolean(lay->with_bias));
    json_t *layers = json_array();
    for (int l = 0; l < lay->n_layers; l++)
        json_array_append_new(layers, json_string(lay->layers[l].name));
    json_object_set_new(root, "layers", layers);
    json_t *sel = json_object();
    json_object_set_new(sel, "epochs", json_string(o->epochs ? o->epochs : "all"));
    json_object_set_new(sel, "layers", json_string(o->layers ? o->layers : "all"));
    json_object_set_new(sel, "with_bias", json_boolean(o->with_bias));
    json_object_set_new(sel, "drop_nonfinite", json_boolean(o->drop_nonfinite));
    json_object_set_new(sel, "max_abs", isfinite(o->max_abs) ? json_real(o->max_abs) : json_null());
    json_object_set_new(sel, "where", o->where ? json_string(o->where) : json_null());
    json_object_set_new(sel, "max_models", json_integer(o->max_models));
    json_object_set_new(root, "selection", sel);
    json_t *split = json_object();
    json_object_set_new(split, "by", json_string("model"));
    json_object_set_new(split, "fractions",
                        json_pack("[fff]", o->fractions[0], o->fractions[1], o->fractions[2]));
    json_object_set_new(split, "seed", json_integer((json_int_t)o->seed));
    json_object_set_new(split, "rng", json_string("philox4x32-10, purpose split (7)"));
    json_object_set_new(root, "split", split);
    json_t *cn = json_object();
    json_object_set_new(cn, "models_in_zoo", json_integer(c->models_in_zoo));
    json_object_set_new(cn, "candidates", json_integer(c->candidates));
    json_object_set_new(cn, "dropped_where", json_integer(c->dropped_where));
    json_object_set_new(cn, "dropped_nonfinite", json_integer(c->dropped_nonfinite));
    json_object_set_new(cn, "dropped_max_abs", json_integer(c->dropped_max_abs));
    json_object_set_new(cn, "dropped_max_models", json_integer(c->dropped_max_models));
    json_object_set_new(cn, "samples", json_integer(c->samples));
    json_t *models = json_object(), *samples = json_object();
    for (int p = 0; p < MZ_N_PARTS; p++) {
        json_object_set_new(models, mz_part_name((mz_part)p), json_integer(c->models[p]));
        json_object_set_new(samples, mz_part_name((mz_part)p), json_integer(c->part_samples[p]));
    }
    json_object_set_new(cn, "models", models);
    json_object_set_new(cn, "part_samples", samples);
    json_object_set_new(root, "counts", cn);
    json_t *arr = json_object();
    for (int i = 0; i < N_ARRAYS; i++) {
        json_t *o2 = json_object(), *sh = json_array();
        for (int k = 0; k < arrays[i].ndim; k++)
            json_array_append_new(sh, json_integer(arrays[i].shape[k]));
        json_object_set_new(o2, "dtype", json_string(mz_dtype_name(arrays[i].dtype)));
        json_object_set_new(o2, "shape", sh);
        json_object_set_new(arr, arrays[i].name, o2);
    }
    json_object_set_new(root, "arrays", arr);
    json_t *files = json_object(), *fmts = json_array();
    if (formats & MZ_FMT_NPZ) {
        json_array_append_new(fmts, json_string("npz"));
        json_object_set_new(files, "npz", json_string("dataset.npz"));
    }
    if (formats & MZ_FMT_NPY) {
        json_t *l = json_array();
        for (int i = 0; i < N_ARRAYS; i++) {
            char nm[96];
            snprintf(nm, sizeof nm, "%.63s.npy", arrays[i].name);
            json_array_append_new(l, json_string(nm));
        }
        json_array_append_new(fmts, json_string("npy"));
        json_object_set_new(files, "npy", l);
    }
    if (formats & MZ_FMT_SAFETENSORS) {
        json_array_append_new(fmts, json_string("safetensors"));
        json_object_set_new(files, "safetensors", json_string("dataset.safetensors"));
    }
    json_object_set_new(files, "properties_csv", json_string("properties.csv"));
    json_object_set_new(files, "properties_json", json_string("properties.json"));
    json_object_set_new(files, "index_dict", json_string("index_dict.json"));
    json_object_set_new(root, "formats", fmts);
    json_object_set_new(root, "files", files);
    int rc = json_dump_file(root, path, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (rc != 0)
        return mz_fail(err, MZ_EIO, "%s: cannot write", path);
    return MZ_OK;
}

mz_status mz_dataset_write(mz_loader *L, const char *dir, unsigned formats, const char *zoo_name,
                           mz_error *err)
{
    if (!(formats & (MZ_FMT_NPZ | MZ_FMT_NPY | MZ_FMT_SAFETENSORS)))
        return mz_fail(err, MZ_EINVAL, "dataset: no array format chosen (npz, npy, safetensors)");
    mz_status st = make_dir(dir, err);
    if (st != MZ_OK)
        return st;
    const mz_loader_counts *c = mz_loader_get_counts(L);
    const mz_vec_layout *lay = mz_loader_layout(L);
    const mz_sample_info *samples = mz_loader_samples(L);
    int64_t n = mz_loader_n_samples(L), dim = lay->dim;
    mz_array_desc arrays[N_ARRAYS];
    array_descs(c, dim, arrays);
    static const unsigned fmt_list[3] = {MZ_FMT_NPZ, MZ_FMT_NPY, MZ_FMT_SAFETENSORS};
    mz_asink *sinks[3] = {0};
    int ns = 0;
    char with_bias[8];
    snprintf(with_bias, sizeof with_bias, "%s", lay->with_bias ? "true" : "false");
    const char *meta[] = {"format",    "mzoo-dataset-1", "zoo", zoo_name ? zoo_name : "",
                          "with_bias", with_bias};
    for (int i = 0; i < 3 && st == MZ_OK; i++)
        if (formats & fmt_list[i]) {
            st = mz_dataset_sink_open(&sinks[ns], fmt_list[i], dir, arrays, N_ARRAYS, meta, 3, err);
            if (st == MZ_OK)
                ns++;
        }
    float *x = malloc((size_t)(dim ? dim : 1) * sizeof *x);
    if (st == MZ_OK && !x)
        st = mz_fail(err, MZ_ENOMEM, "out of memory");
    /* x arrays, streamed: samples are part-major */
    int64_t i = 0;
    for (int p = 0; p < MZ_N_PARTS && st == MZ_OK; p++) {
        for (int s = 0; s < ns && st == MZ_OK; s++)
            st = mz_asink_begin(sinks[s], p, err);
        for (int64_t k = 0; k < c->part_samples[p] && st == MZ_OK; k++, i++) {
            st = mz_loader_read(L, i, x, err);
            for (int s = 0; s < ns && st == MZ_OK; s++)
                st = mz_asink_write(sinks[s], x, (size_t)dim * sizeof *x, err);
        }
        for (int s = 0; s < ns && st == MZ_OK; s++)
            st = mz_asink_end(sinks[s], err);
    }
    /* model ids, then epochs */
    for (int which = 0; which < 2 && st == MZ_OK; which++) {
        int64_t base = 0;
        for (int p = 0; p < MZ_N_PARTS && st == MZ_OK; p++) {
            int idx = (1 + which) * MZ_N_PARTS + p;
            for (int s = 0; s < ns && st == MZ_OK; s++)
                st = mz_asink_begin(sinks[s], idx, err);
            for (int64_t k = 0; k < c->part_samples[p] && st == MZ_OK; k++) {
                int64_t v = which == 0 ? samples[base + k].model_id : samples[base + k].epoch;
                for (int s = 0; s < ns && st == MZ_OK; s++)
                    st = mz_asink_write(sinks[s], &v, sizeof v, err);
            }
            for (int s = 0; s < ns && st == MZ_OK; s++)
                st = mz_asink_end(sinks[s], err);
            base += c->part_samples[p];
        }
    }
    free(x);
    for (int s = 0; s < ns; s++) {
        if (st == MZ_OK)
            st = mz_asink_close(sinks[s], err);
        else
            mz_asink_abort(sinks[s]);
    }
    char path[1200];
    int np = 0;
    const mz_prop_column *pc = mz_loader_props(L, &np);
    if (st == MZ_OK) {
        snprintf(path, sizeof path, "%s/properties.csv", dir);
        st = write_csv(path, samples, n, pc, np, err);
    }
    if (st == MZ_OK) {
        snprintf(path, sizeof path, "%s/properties.json", dir);
        st = write_props_json(path, samples, n, pc, np, err);
    }
    if (st == MZ_OK) {
        snprintf(path, sizeof path, "%s/index_dict.json", dir);
        st = mz_vec_layout_write_json(lay, path, err);
    }
    if (st == MZ_OK) {
        snprintf(path, sizeof path, "%s/dataset.json", dir);
        st = write_manifest(path, L, formats, zoo_name, arrays, err);
    }
    return st;
}

/* ---- reading back ---- */

static mz_status read_props(mz_wset *w, const char *path, mz_error *err)
{
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root)
        return mz_fail(err, MZ_EFORMAT, "%s: line %d: %s", path, je.line, je.text);
    mz_status st = MZ_OK;
    json_t *cols = json_object_get(root, "columns");
    int np = json_is_array(cols) ? (int)json_array_size(cols) : -1;
    if (np < 0) {
        json_decref(root);
        return mz_fail(err, MZ_EFORMAT, "%s: key 'columns': missing or not a list", path);
    }
    w->props = calloc((size_t)(np ? np : 1), sizeof *w->props);
    if (!w->props) {
        json_decref(root);
        return mz_fail(err, MZ_ENOMEM, "out of memory");
    }
    w->n_props = np;
    for (int c = 0; c < np && st == MZ_OK; c++) {
        json_t *o = json_array_get(cols, (size_t)c);
        json_t *nm = json_object_get(o, "name"), *kind = json_object_get(o, "kind"),
               *lv = json_object_get(o, "levels");
        mz_prop_column *p = &w->props[c];
        if (!json_is_string(nm) || !json_is_string(kind)) {
            st = mz_fail(err, MZ_EFORMAT, "%s: columns[%d]: expected name and kind", path, c);
            break;
        }
        snprintf(p->name, sizeof p->name, "%s", json_string_value(nm));
        p->kind =
            !strcmp(json_string_value(kind), "categorical") ? MZ_PROP_CATEGORICAL : MZ_PROP_NUMERIC;
        p->v = malloc((size_t)(w->n ? w->n : 1) * sizeof *p->v);
        if (!p->v) {
            st = mz_fail(err, MZ_ENOMEM, "out of memory");
            break;
        }
        if (p->kind == MZ_PROP_CATEGORICAL) {
            if (!json_is_array(lv)) {
                st = mz_fail(err, MZ_EFORMAT, "%s: columns[%d] (%s): categorical without levels",
                             path, c, p->name);
                break;
            }
            p->levels = calloc(json_array_size(lv) + 1, sizeof *p->levels);
            if (!p->levels) {
                st = mz_fail(err, MZ_ENOMEM, "out of memory");
                break;
            }
            for (size_t l = 0; l < json_array_size(lv); l++) {
                const char *s = json_string_value(json_array_get(lv, l));
                p->levels[l] = mz_strdup(s ? s : "");
                if (!p->levels[l]) {
                    st = mz_fail(err, MZ_ENOMEM, "out of memory");
                    break;
                }
                p->n_levels++;
            }
        }
        /* values, part by part in sample order */
        int64_t i = 0;
        for (int part = 0; part < MZ_N_PARTS && st == MZ_OK; part++) {
            json_t *po = json_object_get(root, mz_part_name((mz_part)part));
            json_t *list = json_object_get(po, p->name);
            int64_t want = 0;
            for (int64_t k = 0; k < w->n; k++)
                want += (int)w->samples[k].part == part;
            if (!json_is_array(list) || (int64_t)json_array_size(list) != want) {
                st = mz_fail(err, MZ_EFORMAT, "%s: key %s.%s: expected a list of %lld values", path,
                             mz_part_name((mz_part)part), p->name, (long long)want);
                break;
            }
            for (int64_t k = 0; k < want; k++, i++) {
                json_t *e = json_array_get(list, (size_t)k);
                if (json_is_null(e)) {
                    p->v[i] = NAN;
                } else if (p->kind == MZ_PROP_CATEGORICAL) {
                    const char *s = json_string_value(e);
                    p->v[i] = NAN;
                    for (int l = 0; s && l < p->n_levels; l++)
                        if (!strcmp(s, p->levels[l]))
                            p->v[i] = l;
                    if (isnan(p->v[i])) {
                        st = mz_fail(err, MZ_EFORMAT,
                                     "%s: key %s.%s[%lld]: not one of the column's levels", path,
                                     mz_part_name((mz_part)part), p->name, (long long)k);
                        break;
                    }
                } else if (json_is_number(e)) {
                    p->v[i] = json_number_value(e);
                } else {
                    st = mz_fail(err, MZ_EFORMAT, "%s: key %s.%s[%lld]: not a number", path,
                                 mz_part_name((mz_part)part), p->name, (long long)k);
                    break;
                }
            }
        }
    }
    json_decref(root);
    return st;
}

mz_status mz_dataset_read(mz_wset *w, const char *dir, mz_error *err)
{
    memset(w, 0, sizeof *w);
    char path[1200];
    snprintf(path, sizeof path, "%s/dataset.json", dir);
    json_error_t je;
    json_t *man = json_load_file(path, 0, &je);
    if (!man)
        return mz_fail(err, je.line < 0 ? MZ_ENOTFOUND : MZ_EFORMAT, "%s: %s%s", path,
                       je.line < 0 ? "" : "bad JSON: ", je.text);
    const char *fmt = json_string_value(json_object_get(man, "format"));
    json_t *fmts = json_object_get(man, "formats");
    unsigned use = 0;
    for (size_t i = 0; json_is_array(fmts) && i < json_array_size(fmts); i++) {
        const char *f = json_string_value(json_array_get(fmts, i));
        unsigned u = !f                          ? 0
                     : !strcmp(f, "npy")         ? MZ_FMT_NPY
                     : !strcmp(f, "npz")         ? MZ_FMT_NPZ
                     : !strcmp(f, "safetensors") ? MZ_FMT_SAFETENSORS
                                                 : 0;
        if (u && (!use || u == MZ_FMT_NPY || (u == MZ_FMT_NPZ && use == MZ_FMT_SAFETENSORS)))
            use = u; /* prefer npy, then npz, then safetensors */
    }
    mz_status st = MZ_OK;
    if (!fmt || strcmp(fmt, "mzoo-dataset-1") != 0)
        st = mz_fail(err, MZ_EFORMAT, "%s: key 'format': expected \"mzoo-dataset-1\"", path);
    else if (!use)
        st = mz_fail(err, MZ_EFORMAT, "%s: key 'formats': no npz, npy or safetensors files listed",
                     path);
    json_decref(man);
    if (st != MZ_OK)
        return st;
    snprintf(path, sizeof path, "%s/index_dict.json", dir);
    if ((st = mz_vec_layout_read_json(&w->layout, path, err)) != MZ_OK)
        return st;
    /* arrays */
    void *xs[MZ_N_PARTS] = {0}, *ids[MZ_N_PARTS] = {0}, *eps[MZ_N_PARTS] = {0};
    int64_t cnt[MZ_N_PARTS] = {0};
    for (int p = 0; p < MZ_N_PARTS && st == MZ_OK; p++) {
        char name[64];
        mz_array_desc d = {.dtype = MZ_DT_F32, .ndim = 2};
        snprintf(name, sizeof name, "x_%s", mz_part_name((mz_part)p));
        st = mz_array_read(dir, use, name, &d, &xs[p], err);
        if (st != MZ_OK)
            break;
        if (d.shape[1] != w->layout.dim) {
            st = mz_fail(err, MZ_EFORMAT,
                         "%s: array %s has %lld columns but index_dict.json describes %lld", dir,
                         name, (long long)d.shape[1], (long long)w->layout.dim);
            break;
        }
        cnt[p] = d.shape[0];
        mz_array_desc di = {.dtype = MZ_DT_I64, .ndim = 1};
        snprintf(name, sizeof name, "model_id_%s", mz_part_name((mz_part)p));
        if ((st = mz_array_read(dir, use, name, &di, &ids[p], err)) != MZ_OK)
            break;
        mz_array_desc de = {.dtype = MZ_DT_I64, .ndim = 1};
        snprintf(name, sizeof name, "epoch_%s", mz_part_name((mz_part)p));
        if ((st = mz_array_read(dir, use, name, &de, &eps[p], err)) != MZ_OK)
            break;
        if (di.shape[0] != cnt[p] || de.shape[0] != cnt[p])
            st = mz_fail(err, MZ_EFORMAT,
                         "%s: part %s: %lld samples but %lld model ids and %lld epochs", dir,
                         mz_part_name((mz_part)p), (long long)cnt[p], (long long)di.shape[0],
                         (long long)de.shape[0]);
    }
    if (st == MZ_OK) {
        int64_t n = cnt[0] + cnt[1] + cnt[2], dim = w->layout.dim;
        w->x = malloc((size_t)((n ? n : 1) * (dim ? dim : 1)) * sizeof *w->x);
        w->samples = malloc((size_t)(n ? n : 1) * sizeof *w->samples);
        if (!w->x || !w->samples) {
            st = mz_fail(err, MZ_ENOMEM, "%s: out of memory for %lld samples", dir, (long long)n);
        } else {
            int64_t at = 0;
            for (int p = 0; p < MZ_N_PARTS; p++) {
                memcpy(w->x + at * dim, xs[p], (size_t)(cnt[p] * dim) * sizeof *w->x);
                for (int64_t k = 0; k < cnt[p]; k++) {
                    w->samples[at + k].model_id = ((int64_t *)ids[p])[k];
                    w->samples[at + k].epoch = (int)((int64_t *)eps[p])[k];
                    w->samples[at + k].part = (mz_part)p;
                    w->samples[at + k].source = -1;
                }
                at += cnt[p];
            }
            w->n = n;
            w->dim = dim;
        }
    }
    for (int p = 0; p < MZ_N_PARTS; p++) {
        free(xs[p]);
        free(ids[p]);
        free(eps[p]);
    }
    if (st == MZ_OK) {
        snprintf(path, sizeof path, "%s/properties.json", dir);
        st = read_props(w, path, err);
    }
    if (st != MZ_OK)
        mz_wset_release(w);
    return st;
}
