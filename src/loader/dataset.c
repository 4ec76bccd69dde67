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
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

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

/* The longest file name in a dataset directory: "dataset.safetensors" (19 bytes), in the
 * directory's temporary sibling ("<dir>.partial-<pid>-<k>": up to 34 more bytes). */
#define LONGEST_FILE_NAME (19 + 34)

/* A directory whose files' paths would not fit MZ_PATH_MAX is refused before anything is read or
 * created in it (a path is never truncated). */
static mz_status check_dir_length(const char *dir, mz_error *err)
{
    size_t n = strlen(dir);
    if (n + 1 + LONGEST_FILE_NAME < MZ_PATH_MAX)
        return MZ_OK;
    return mz_fail(err, MZ_ELIMIT,
                   "%.48s...: dataset directory path of %zu bytes is too long (its files' paths "
                   "must stay under %d bytes)",
                   dir, n, MZ_PATH_MAX);
}

/* 1 if name is a file mz_dataset_write writes. */
static int export_file_name(const char *name)
{
    static const char *const fixed[] = {"dataset.json",    "dataset.npz",     "dataset.safetensors",
                                        "properties.csv",  "properties.json", "index_dict.json"};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (!strcmp(name, fixed[i]))
            return 1;
    static const char *const arrays[] = {"x_", "model_id_", "epoch_"};
    for (size_t a = 0; a < 3; a++)
        for (int p = 0; p < MZ_N_PARTS; p++) {
            char nm[64];
            snprintf(nm, sizeof nm, "%s%s.npy", arrays[a], mz_part_name((mz_part)p));
            if (!strcmp(name, nm))
                return 1;
        }
    return 0;
}

/* What is at `dir` before an export: nothing (*old = 0), an empty directory (1) or an earlier
 * export, every file of it one mz_dataset_write writes and its manifest there (2). Anything else
 * is refused: an export replaces only what an export wrote. */
static mz_status inspect_dir(const char *dir, int *old, mz_error *err)
{
    struct stat sb;
    *old = 0;
    if (stat(dir, &sb) != 0)
        return errno == ENOENT ? MZ_OK
                               : mz_fail(err, MZ_EIO, "%s: cannot read (%s)", dir, strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return mz_fail(err, MZ_EINVAL, "%s: exists and is not a directory", dir);
    DIR *d = opendir(dir);
    if (!d)
        return mz_fail(err, errno == EACCES ? MZ_EREADONLY : MZ_EIO, "%s: cannot list (%s)", dir,
                       strerror(errno));
    int files = 0, manifest = 0;
    mz_status st = MZ_OK;
    struct dirent *e;
    while (st == MZ_OK && (e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        files++;
        manifest |= !strcmp(e->d_name, "dataset.json");
        if (!export_file_name(e->d_name))
            st = mz_fail(err, MZ_EINVAL,
                         "%s: holds '%s', which mzoo dataset does not write; refusing to replace "
                         "the directory (choose a new -o DIR, or empty this one)",
                         dir, e->d_name);
    }
    closedir(d);
    if (st == MZ_OK && files && !manifest)
        st = mz_fail(err, MZ_EINVAL,
                     "%s: holds files but no dataset.json, so it is not a finished export of mzoo "
                     "dataset; refusing to replace it (choose a new -o DIR, or empty this one)",
                     dir);
    if (st == MZ_OK)
        *old = files ? 2 : 1;
    return st;
}

/* Removes a directory that only mzoo dataset wrote to (no subdirectories); best effort. */
static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char path[MZ_PATH_MAX];
        while ((e = readdir(d)) != NULL)
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
                mz_path_join(path, sizeof path, dir, e->d_name, NULL) == MZ_OK)
                unlink(path);
        closedir(d);
    }
    rmdir(dir);
}

/* A new directory beside dir, "<dir>.<tag>-<pid>-<k>", created empty. */
static mz_status sibling_dir(const char *dir, const char *tag, char *out, size_t cap, mz_error *err)
{
    for (int k = 0; k < 1000; k++) {
        if ((size_t)snprintf(out, cap, "%s.%s-%ld-%d", dir, tag, (long)getpid(), k) >= cap)
            return mz_fail(err, MZ_ELIMIT, "%.48s...: path too long", dir);
        if (mkdir(out, 0777) == 0)
            return MZ_OK;
        if (errno != EEXIST)
            return mz_fail(err, errno == EACCES || errno == EROFS ? MZ_EREADONLY : MZ_EIO,
                           "%s: cannot create directory (%s)", out, strerror(errno));
    }
    return mz_fail(err, MZ_EIO, "%s.%s-*: cannot find a free name", dir, tag);
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
        mz_json_dump_file(root, path, JSON_COMPACT | JSON_PRESERVE_ORDER);
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
    int rc = mz_json_dump_file(root, path, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (rc != 0)
        return mz_fail(err, MZ_EIO, "%s: cannot write", path);
    return MZ_OK;
}

/* The files of an export, into the existing directory dir. */
static mz_status write_files(mz_loader *L, const char *dir, unsigned formats, const char *zoo_name,
                             mz_error *err)
{
    mz_status st = MZ_OK;
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
    char path[MZ_PATH_MAX];
    int np = 0;
    const mz_prop_column *pc = mz_loader_props(L, &np);
    if (st == MZ_OK && (st = mz_path_join(path, sizeof path, dir, "properties.csv", err)) == MZ_OK)
        st = write_csv(path, samples, n, pc, np, err);
    if (st == MZ_OK && (st = mz_path_join(path, sizeof path, dir, "properties.json", err)) == MZ_OK)
        st = write_props_json(path, samples, n, pc, np, err);
    if (st == MZ_OK && (st = mz_path_join(path, sizeof path, dir, "index_dict.json", err)) == MZ_OK)
        st = mz_vec_layout_write_json(lay, path, err);
    if (st == MZ_OK && (st = mz_path_join(path, sizeof path, dir, "dataset.json", err)) == MZ_OK)
        st = write_manifest(path, L, formats, zoo_name, arrays, err);
    return st;
}

/* The export is written into a new sibling directory and renamed to dir when it is complete, so
 * dir never mixes two exports: it is the earlier export or the new one, whole (an earlier export
 * is moved aside just before the rename and removed after it). */
mz_status mz_dataset_write(mz_loader *L, const char *dir_arg, unsigned formats,
                           const char *zoo_name, mz_error *err)
{
    if (!(formats & (MZ_FMT_NPZ | MZ_FMT_NPY | MZ_FMT_SAFETENSORS)))
        return mz_fail(err, MZ_EINVAL, "dataset: no array format chosen (npz, npy, safetensors)");
    mz_status st = check_dir_length(dir_arg, err);
    if (st != MZ_OK)
        return st;
    char dir[MZ_PATH_MAX], tmp[MZ_PATH_MAX], old_dir[MZ_PATH_MAX] = "";
    snprintf(dir, sizeof dir, "%s", dir_arg);
    for (size_t n = strlen(dir); n > 1 && dir[n - 1] == '/'; n--)
        dir[n - 1] = 0; /* "ds/" names the directory ds */
    int old = 0;
    if ((st = inspect_dir(dir, &old, err)) != MZ_OK)
        return st;
    if ((st = sibling_dir(dir, "partial", tmp, sizeof tmp, err)) != MZ_OK)
        return st;
    st = write_files(L, tmp, formats, zoo_name, err);
    if (st == MZ_OK && old == 2 && (st = sibling_dir(dir, "old", old_dir, sizeof old_dir, err)) ==
                                       MZ_OK) {
        if (rename(dir, old_dir) != 0) { /* onto the empty directory just made */
            st = mz_fail(err, MZ_EIO, "%s: cannot move the earlier export aside (%s)", dir,
                         strerror(errno));
            rmdir(old_dir);
        }
    }
    if (st == MZ_OK && rename(tmp, dir) != 0) /* also onto an empty directory */
        st = mz_fail(err, errno == EACCES || errno == EROFS ? MZ_EREADONLY : MZ_EIO,
                     "%s: cannot rename the finished export %s to it (%s)", dir, tmp,
                     strerror(errno));
    if (st != MZ_OK) {
        remove_dir(tmp);
        if (old == 2 && access(dir, F_OK) != 0)
            rename(old_dir, dir); /* put the earlier export back */
        return st;
    }
    if (old == 2)
        remove_dir(old_dir);
    return MZ_OK;
}

/* ---- reading back ----
 * A directory may come from anywhere: every size in it is checked before it is used. The
 * arrays' headers are checked against their files by src/formats; here the arrays are checked
 * against each other (rows of x, model ids and epochs; x's columns and index_dict.json), and
 * properties.json against the arrays, before the samples are allocated. */

/* Most property columns a directory may list (a zoo gives about twenty). */
#define MAX_PROP_COLUMNS 4096

/* The "model_id" list and column c's values in one part of properties.json: `want` entries. */
static mz_status prop_list(json_t *root, const char *path, mz_part part, const char *key,
                           int64_t want, json_t **list, mz_error *err)
{
    json_t *po = json_object_get(root, mz_part_name(part));
    *list = json_object_get(po, key);
    if (!json_is_array(*list) || (int64_t)json_array_size(*list) != want)
        return mz_fail(err, MZ_EFORMAT, "%s: key %s.%s: expected a list of %lld values (got %lld)",
                       path, mz_part_name(part), key, (long long)want,
                       json_is_array(*list) ? (long long)json_array_size(*list) : -1LL);
    return MZ_OK;
}

static mz_status read_column(mz_wset *w, json_t *root, json_t *o, int c, const int64_t *rows,
                             const char *path, mz_error *err)
{
    json_t *nm = json_object_get(o, "name"), *kind = json_object_get(o, "kind"),
           *lv = json_object_get(o, "levels");
    mz_prop_column *p = &w->props[c];
    if (!json_is_string(nm) || !json_is_string(kind))
        return mz_fail(err, MZ_EFORMAT, "%s: columns[%d]: expected name and kind", path, c);
    const char *name = json_string_value(nm), *k = json_string_value(kind);
    if (strlen(name) >= sizeof p->name)
        return mz_fail(err, MZ_EFORMAT, "%s: columns[%d]: name of %zu bytes (limit %zu)", path, c,
                       strlen(name), sizeof p->name - 1);
    if (strcmp(k, "numeric") != 0 && strcmp(k, "categorical") != 0)
        return mz_fail(err, MZ_EFORMAT,
                       "%s: columns[%d] (%s): kind '%s' (expected numeric or categorical)", path, c,
                       name, k);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->kind = !strcmp(k, "categorical") ? MZ_PROP_CATEGORICAL : MZ_PROP_NUMERIC;
    /* the lists' lengths first: nothing is allocated for a column that does not fit the rows */
    json_t *lists[MZ_N_PARTS];
    mz_status st = MZ_OK;
    for (int part = 0; part < MZ_N_PARTS && st == MZ_OK; part++)
        st = prop_list(root, path, (mz_part)part, p->name, rows[part], &lists[part], err);
    if (st != MZ_OK)
        return st;
    if (p->kind == MZ_PROP_CATEGORICAL) {
        if (!json_is_array(lv) || json_array_size(lv) > INT32_MAX)
            return mz_fail(err, MZ_EFORMAT, "%s: columns[%d] (%s): categorical without levels",
                           path, c, p->name);
        p->levels = calloc(json_array_size(lv) + 1, sizeof *p->levels);
        if (!p->levels)
            return mz_fail(err, MZ_ENOMEM, "%s: out of memory", path);
        for (size_t l = 0; l < json_array_size(lv); l++) {
            const char *v = json_string_value(json_array_get(lv, l));
            if (!v)
                return mz_fail(err, MZ_EFORMAT, "%s: columns[%d] (%s): levels[%zu]: not a string",
                               path, c, p->name, l);
            if (!(p->levels[l] = mz_strdup(v)))
                return mz_fail(err, MZ_ENOMEM, "%s: out of memory", path);
            p->n_levels++;
        }
    }
    p->v = malloc((size_t)(w->n ? w->n : 1) * sizeof *p->v);
    if (!p->v)
        return mz_fail(err, MZ_ENOMEM, "%s: out of memory", path);
    int64_t i = 0;
    for (int part = 0; part < MZ_N_PARTS; part++) {
        for (int64_t k = 0; k < rows[part]; k++, i++) {
            json_t *e = json_array_get(lists[part], (size_t)k);
            if (json_is_null(e)) {
                p->v[i] = NAN;
            } else if (p->kind == MZ_PROP_CATEGORICAL) {
                const char *v = json_string_value(e);
                p->v[i] = NAN;
                for (int l = 0; v && l < p->n_levels; l++)
                    if (!strcmp(v, p->levels[l]))
                        p->v[i] = l;
                if (isnan(p->v[i]))
                    return mz_fail(err, MZ_EFORMAT,
                                   "%s: key %s.%s[%lld]: not one of the column's levels", path,
                                   mz_part_name((mz_part)part), p->name, (long long)k);
            } else if (json_is_number(e)) {
                p->v[i] = json_number_value(e);
            } else {
                return mz_fail(err, MZ_EFORMAT, "%s: key %s.%s[%lld]: not a number", path,
                               mz_part_name((mz_part)part), p->name, (long long)k);
            }
        }
    }
    return MZ_OK;
}

static mz_status read_props(mz_wset *w, const char *path, mz_error *err)
{
    json_t *root;
    mz_status st = mz_dataset_json_load(path, MZ_DATASET_PROPS_MAX, &root, err);
    if (st != MZ_OK)
        return st;
    json_t *cols = json_object_get(root, "columns");
    if (!json_is_array(cols) || json_array_size(cols) > MAX_PROP_COLUMNS) {
        json_decref(root);
        return mz_fail(err, MZ_EFORMAT, "%s: key 'columns': missing or not a list of at most %d",
                       path, MAX_PROP_COLUMNS);
    }
    int np = (int)json_array_size(cols);
    int64_t rows[MZ_N_PARTS] = {0};
    for (int64_t k = 0; k < w->n; k++)
        rows[w->samples[k].part]++;
    /* the rows belong to the arrays' models, in the same order */
    int64_t i = 0;
    for (int part = 0; part < MZ_N_PARTS && st == MZ_OK; part++) {
        json_t *ids;
        if (!json_object_get(json_object_get(root, mz_part_name((mz_part)part)), "model_id") &&
            rows[part] == 0)
            continue; /* an empty part may be left out */
        st = prop_list(root, path, (mz_part)part, "model_id", rows[part], &ids, err);
        for (int64_t k = 0; st == MZ_OK && k < rows[part]; k++, i++) {
            json_t *e = json_array_get(ids, (size_t)k);
            if (!json_is_integer(e) || json_integer_value(e) != w->samples[i].model_id)
                st = mz_fail(err, MZ_EFORMAT,
                             "%s: key %s.model_id[%lld]: expected %lld, the model id of row "
                             "%lld of model_id_%s",
                             path, mz_part_name((mz_part)part), (long long)k,
                             (long long)w->samples[i].model_id, (long long)k,
                             mz_part_name((mz_part)part));
        }
    }
    if (st == MZ_OK && !(w->props = calloc((size_t)(np ? np : 1), sizeof *w->props)))
        st = mz_fail(err, MZ_ENOMEM, "%s: out of memory", path);
    if (st == MZ_OK)
        w->n_props = np;
    for (int c = 0; c < np && st == MZ_OK; c++)
        st = read_column(w, root, json_array_get(cols, (size_t)c), c, rows, path, err);
    json_decref(root);
    return st;
}

/* The three arrays of each part, checked against each other and the layout, then read. */
static mz_status read_arrays(mz_wset *w, const char *dir, unsigned use, const char *index_path,
                             mz_error *err)
{
    mz_areader *r;
    mz_status st = mz_dataset_arrays_open(&r, dir, use, err);
    if (st != MZ_OK)
        return st;
    mz_array_desc a[MZ_N_PARTS][3];
    char ox[MZ_PATH_MAX + 96], o[MZ_PATH_MAX + 96];
    int64_t n = 0, rows_max = 0, dim = w->layout.dim, count, bytes;
    for (int p = 0; p < MZ_N_PARTS && st == MZ_OK; p++) {
        static const char *const what[3] = {"x", "model_id", "epoch"};
        for (int k = 0; k < 3 && st == MZ_OK; k++) {
            mz_array_desc *d = &a[p][k];
            memset(d, 0, sizeof *d);
            snprintf(d->name, sizeof d->name, "%s_%s", what[k], mz_part_name((mz_part)p));
            d->dtype = k ? MZ_DT_I64 : MZ_DT_F32;
            d->ndim = k ? 1 : 2;
            st = mz_dataset_array_find(r, d, err);
        }
        if (st != MZ_OK)
            break;
        int64_t rows = a[p][0].shape[0];
        mz_areader_origin(r, a[p][0].name, ox, sizeof ox);
        if (a[p][0].shape[1] != dim) {
            st = mz_fail(err, MZ_EFORMAT,
                         "%s: array %s has %lld columns, but %s describes samples of %lld floats",
                         ox, a[p][0].name, (long long)a[p][0].shape[1], index_path, (long long)dim);
            break;
        }
        for (int k = 1; k < 3 && st == MZ_OK; k++)
            if (a[p][k].shape[0] != rows)
                st = mz_fail(err, MZ_EFORMAT, "%s: %s has %lld entries, but %s has %lld rows",
                             mz_areader_origin(r, a[p][k].name, o, sizeof o), a[p][k].name,
                             (long long)a[p][k].shape[0], ox, (long long)rows);
        if (st == MZ_OK && mz_add_overflow_i64(n, rows, &n))
            st = mz_fail(err, MZ_EFORMAT, "%s: the parts' rows overflow int64", dir);
        rows_max = rows > rows_max ? rows : rows_max;
    }
    /* every row's bytes were found in the files; the totals are checked all the same */
    if (st == MZ_OK && (mz_mul_overflow_i64(n, dim, &count) ||
                        mz_mul_overflow_i64(count, (int64_t)sizeof *w->x, &bytes) ||
                        (uint64_t)n > SIZE_MAX / sizeof *w->samples))
        st = mz_fail(err, MZ_ELIMIT, "%s: %lld samples of %lld floats do not fit in memory", dir,
                     (long long)n, (long long)dim);
    int64_t *buf = NULL;
    if (st == MZ_OK) {
        w->x = malloc(bytes ? (size_t)bytes : 1);
        w->samples = malloc((size_t)(n ? n : 1) * sizeof *w->samples);
        buf = malloc((size_t)(rows_max ? rows_max : 1) * sizeof *buf);
        if (!w->x || !w->samples || !buf)
            st = mz_fail(err, MZ_ENOMEM, "%s: out of memory for %lld samples of %lld floats", dir,
                         (long long)n, (long long)dim);
    }
    int64_t at = 0;
    for (int p = 0; p < MZ_N_PARTS && st == MZ_OK; p++) {
        int64_t rows = a[p][0].shape[0];
        st = mz_areader_read(r, a[p][0].name, w->x + at * dim, (size_t)(rows * dim) * sizeof *w->x,
                             err);
        for (int64_t k = 0; k < rows; k++) {
            w->samples[at + k].part = (mz_part)p;
            w->samples[at + k].source = -1;
        }
        if (st == MZ_OK)
            st = mz_areader_read(r, a[p][1].name, buf, (size_t)rows * sizeof *buf, err);
        for (int64_t k = 0; st == MZ_OK && k < rows; k++)
            w->samples[at + k].model_id = buf[k];
        if (st == MZ_OK)
            st = mz_areader_read(r, a[p][2].name, buf, (size_t)rows * sizeof *buf, err);
        for (int64_t k = 0; st == MZ_OK && k < rows; k++) {
            if (buf[k] < 0 || buf[k] > INT_MAX)
                st = mz_fail(err, MZ_EFORMAT,
                             "%s: %s[%lld] = %lld is not an epoch (expected 0 .. %d)",
                             mz_areader_origin(r, a[p][2].name, o, sizeof o), a[p][2].name,
                             (long long)k, (long long)buf[k], INT_MAX);
            else
                w->samples[at + k].epoch = (int)buf[k];
        }
        at += rows;
    }
    free(buf);
    if (st == MZ_OK) {
        w->n = n;
        w->dim = dim;
    }
    mz_areader_close(r);
    return st;
}

mz_status mz_dataset_read(mz_wset *w, const char *dir, mz_error *err)
{
    memset(w, 0, sizeof *w);
    char path[MZ_PATH_MAX], index_path[MZ_PATH_MAX];
    json_t *man = NULL;
    mz_status st = check_dir_length(dir, err);
    if (st == MZ_OK)
        st = mz_path_join(path, sizeof path, dir, "dataset.json", err);
    if (st == MZ_OK)
        st = mz_dataset_json_load(path, MZ_DATASET_JSON_MAX, &man, err);
    if (st != MZ_OK)
        return st;
    const char *fmt = json_string_value(json_object_get(man, "format"));
    json_t *fmts = json_object_get(man, "formats"), *mdim = json_object_get(man, "dim");
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
    if (!fmt || strcmp(fmt, "mzoo-dataset-1") != 0)
        st = mz_fail(err, MZ_EFORMAT, "%s: key 'format': expected \"mzoo-dataset-1\"", path);
    else if (!use)
        st = mz_fail(err, MZ_EFORMAT, "%s: key 'formats': no npz, npy or safetensors files listed",
                     path);
    else if (mdim && !json_is_integer(mdim))
        st = mz_fail(err, MZ_EFORMAT, "%s: key 'dim': not an integer", path);
    json_int_t want_dim = json_integer_value(mdim);
    json_decref(man);
    if (st == MZ_OK)
        st = mz_path_join(index_path, sizeof index_path, dir, "index_dict.json", err);
    if (st == MZ_OK)
        st = mz_vec_layout_read_json(&w->layout, index_path, err);
    if (st == MZ_OK && mdim && want_dim != w->layout.dim)
        st = mz_fail(err, MZ_EFORMAT, "%s: key 'dim' is %lld, but %s describes %lld floats", path,
                     (long long)want_dim, index_path, (long long)w->layout.dim);
    if (st == MZ_OK)
        st = read_arrays(w, dir, use, index_path, err);
    if (st == MZ_OK)
        st = mz_path_join(path, sizeof path, dir, "properties.json", err);
    if (st == MZ_OK)
        st = read_props(w, path, err);
    if (st != MZ_OK)
        mz_wset_release(w);
    return st;
}
