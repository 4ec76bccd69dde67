/* Google's Small CNN Zoo ("Predicting Neural Network Accuracy from Weights"): one directory per
 * dataset with
 *   weights.npy      [rows, D] float32 or float64: one flattened checkpoint per row
 *   metrics.csv.gz   (or metrics.csv) one line per row, same order: config.* columns, modeldir,
 *                    step, test_accuracy, test_loss, train_accuracy, train_loss
 *   layout.csv       varname, start_idx, end_idx, shape: where each TensorFlow variable lies in
 *                    a row (bias before kernel, kernels HWIO, dense kernels (in, out))
 * Each modeldir is a model, each step a checkpoint (its epoch number in the zoo is the step).
 * The network (conv 3x3 stride 2 without padding, L times, global average pooling, dense) is
 * mzoo's "smallcnn", whose layout is PyTorch's: conv<i>.weight [out, in, 3, 3], conv<i>.bias,
 * fc.weight [K, units], fc.bias.
 *
 * The rows are streamed (the real files hold 270,000 rows of 4,970 floats): the first pass reads
 * layout.csv, the metrics and the weights' header; the second reads the rows in file order and
 * commits each model once all its rows are in (or part of it, in step order, when its rows are
 * spread so far apart that more than the memory limit would be held). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "interop/interop-impl.h"
#include "core/banned.h"

#define MAX_LAYOUT_ROWS 64
#define MAX_ROW_FLOATS ((int64_t)250000000) /* the largest weights blob a zoo file holds */

/* One layout.csv row. */
typedef struct var {
    char name[128];
    int64_t start, end;
    int ndim;
    int64_t shape[4];
} var;

/* Where each tensor of the PyTorch layout comes from in a row. */
typedef struct part {
    int64_t src;  /* first float in the row */
    int kind;     /* 0 copy (bias), 1 conv kernel HWIO -> OIHW, 2 dense (in, out) -> (out, in) */
    int64_t d[4]; /* the source shape */
} part;

typedef struct ctcctx {
    importer *im;
    char dir[MZ_PATH_MAX], weights[MZ_PATH_MAX], metrics[MZ_PATH_MAX], layout_path[MZ_PATH_MAX];
    var vars[MAX_LAYOUT_ROWS];
    int n_vars;
    part parts[2 * 16];
    int64_t row_floats;
    mz_array_desc npy;
    size_t npy_offset;
    int64_t rows;
    int64_t *row_model; /* [rows]: the model of each row (before sorting), -1 for a replaced row */
    int *row_ep;        /* after attach: the epoch index */
    /* per model (index of im->models): its config values, to check that rows agree */
    char ***config;
    int n_config;
    char **config_names;
} ctcctx;

int mz_ctc_detect(const char *dir)
{
    char p[MZ_PATH_MAX];
    struct stat sb;
    return mz_path_join(p, sizeof p, dir, "weights.npy", NULL) == MZ_OK && stat(p, &sb) == 0 &&
           mz_path_join(p, sizeof p, dir, "layout.csv", NULL) == MZ_OK && stat(p, &sb) == 0;
}

/* "(3, 3, 1, 16)", "(16,)", "[16]" */
static int parse_shape(const char *s, int64_t *shape, int *ndim)
{
    *ndim = 0;
    while (*s == ' ' || *s == '"')
        s++;
    if (*s != '(' && *s != '[')
        return -1;
    s++;
    for (;;) {
        while (*s == ' ')
            s++;
        if (*s == ')' || *s == ']')
            return 0;
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (end == s || errno || v < 0 || v > ((long long)1 << 40) || *ndim == 4)
            return -1;
        shape[(*ndim)++] = v;
        s = end;
        while (*s == ' ')
            s++;
        if (*s == ',')
            s++;
    }
}

static int parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || errno || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* ---- layout.csv ---- */

static mz_status read_layout(ctcctx *c)
{
    importer *im = c->im;
    mz_error *err = im->err;
    mz_csv *csv = NULL;
    mz_status st = mz_csv_open(&csv, c->layout_path, err);
    if (st)
        return st;
    mz_digest d;
    mz_digest_init(&d);
    mz_csv_digest(csv, &d);
    char **f;
    int nf, col[4] = {-1, -1, -1, -1};
    static const char *const names[4] = {"varname", "start_idx", "end_idx", "shape"};
    if (!(st = mz_csv_next(csv, &f, &nf, err)))
        for (int i = 0; i < nf; i++)
            for (int k = 0; k < 4; k++)
                if (!strcmp(f[i], names[k]))
                    col[k] = i;
    if (!st && (col[0] < 0 || col[1] < 0 || col[2] < 0 || col[3] < 0))
        st = mz_fail(err, MZ_EFORMAT,
                     "%s: the header does not name varname, start_idx, end_idx and shape",
                     c->layout_path);
    while (!st && !(st = mz_csv_next(csv, &f, &nf, err)) && nf) {
        int64_t line = mz_csv_line(csv);
        if (c->n_vars == MAX_LAYOUT_ROWS) {
            st = mz_fail(err, MZ_ELIMIT, "%s: more than %d variables", c->layout_path,
                         MAX_LAYOUT_ROWS);
            break;
        }
        var *v = &c->vars[c->n_vars];
        int maxc = col[0] > col[1] ? col[0] : col[1];
        maxc = maxc > col[2] ? maxc : col[2];
        maxc = maxc > col[3] ? maxc : col[3];
        if (nf <= maxc || strlen(f[col[0]]) >= sizeof v->name ||
            parse_i64(f[col[1]], 0, (int64_t)1 << 40, &v->start) ||
            parse_i64(f[col[2]], 0, (int64_t)1 << 40, &v->end) ||
            parse_shape(f[col[3]], v->shape, &v->ndim)) {
            st = mz_fail(err, MZ_EFORMAT,
                         "%s: line %lld: expected a variable name, two indices and a shape such "
                         "as (3, 3, 1, 16)",
                         c->layout_path, (long long)line);
            break;
        }
        snprintf(v->name, sizeof v->name, "%s", f[col[0]]);
        int64_t count = 1;
        for (int k = 0; k < v->ndim; k++)
            if (mz_mul_overflow_i64(count, v->shape[k], &count))
                count = -1;
        int64_t expect = c->n_vars ? c->vars[c->n_vars - 1].end : 0;
        if (v->start != expect || v->end - v->start != count) {
            st = mz_fail(err, MZ_EFORMAT,
                         "%s: line %lld: %s covers [%lld, %lld), but it should start at %lld and "
                         "hold its shape's %lld values",
                         c->layout_path, (long long)line, v->name, (long long)v->start,
                         (long long)v->end, (long long)expect, (long long)count);
            break;
        }
        c->n_vars++;
    }
    mz_csv_close(csv);
    mz_digest_u64(&im->digest, d.fnv);
    mz_digest_u64(&im->digest, d.crc);
    if (!st && c->n_vars == 0)
        st = mz_fail(err, MZ_EFORMAT, "%s: no variables", c->layout_path);
    if (st)
        return st;
    c->row_floats = c->vars[c->n_vars - 1].end;

    /* pairs of <scope>/bias:0 and <scope>/kernel:0, in either order; convolutions then one
     * dense layer */
    if (c->n_vars % 2)
        return mz_fail(err, MZ_EFORMAT, "%s: %d variables, not pairs of a kernel and a bias",
                       c->layout_path, c->n_vars);
    int layers = 0, units = 0, channels = 0, classes = 0, cin = 0;
    for (int i = 0; i < c->n_vars; i += 2) {
        const var *a = &c->vars[i], *b = &c->vars[i + 1];
        const var *k = strstr(a->name, "kernel") ? a : b, *bias = k == a ? b : a;
        const char *ka = strrchr(a->name, '/'), *kb = strrchr(b->name, '/');
        int same_scope = ka && kb && ka - a->name == kb - b->name &&
                         !strncmp(a->name, b->name, (size_t)(ka - a->name));
        if (!same_scope || !strstr(k->name, "/kernel") || !strstr(bias->name, "/bias") ||
            bias->ndim != 1)
            return mz_fail(err, MZ_EFORMAT,
                           "%s: %s and %s are not a kernel and a bias of one layer", c->layout_path,
                           a->name, b->name);
        int last = i + 2 == c->n_vars;
        if (!last && k->ndim == 4 && k->shape[0] == 3 && k->shape[1] == 3 &&
            (layers == 0 || k->shape[2] == cin) && (layers == 0 || k->shape[3] == units) &&
            bias->shape[0] == k->shape[3]) {
            if (layers == 0)
                channels = (int)k->shape[2];
            units = (int)k->shape[3];
            cin = units;
            layers++;
            /* PyTorch order: weight, then bias */
            c->parts[2 * (layers - 1)] =
                (part){k->start, 1, {k->shape[0], k->shape[1], k->shape[2], k->shape[3]}};
            c->parts[2 * (layers - 1) + 1] = (part){bias->start, 0, {bias->shape[0]}};
        } else if (last && layers > 0 && k->ndim == 2 && k->shape[0] == cin &&
                   bias->shape[0] == k->shape[1]) {
            classes = (int)k->shape[1];
            c->parts[2 * layers] = (part){k->start, 2, {k->shape[0], k->shape[1]}};
            c->parts[2 * layers + 1] = (part){bias->start, 0, {bias->shape[0]}};
        } else {
            return mz_fail(err, MZ_EUNSUPPORTED,
                           "%s: %s does not continue the Small CNN Zoo's network (3x3 "
                           "convolutions of equal width, then one dense layer)",
                           c->layout_path, k->name);
        }
    }
    if (!classes || layers > 15)
        return mz_fail(err, MZ_EUNSUPPORTED, "%s: not the Small CNN Zoo's network", c->layout_path);
    mz_ilayout L;
    if ((st = mz_ilayout_make(&L, "smallcnn", channels, 0, classes, layers, units, err)))
        return mz_error_prefix(err, "%s", c->layout_path);
    if (L.n_params > MAX_ROW_FLOATS)
        return mz_fail(err, MZ_ELIMIT,
                       "%s: rows of %lld values, more than a checkpoint of a zoo may hold (%lld)",
                       c->layout_path, (long long)L.n_params, (long long)MAX_ROW_FLOATS);
    if (L.n_params != c->row_floats)
        return mz_fail(err, MZ_EFORMAT, "%s: %lld values per row, the network has %lld",
                       c->layout_path, (long long)c->row_floats, (long long)L.n_params);
    return imp_layout_add(im, &L, err) < 0 ? MZ_ENOMEM : MZ_OK;
}

/* ---- weights.npy: the header, and a digest of samples of the data ---- */

static mz_status read_npy_header(ctcctx *c)
{
    mz_error *err = c->im->err;
    FILE *f = fopen(c->weights, "rb");
    if (!f)
        return mz_fail(err, errno == ENOENT ? MZ_ENOTFOUND : MZ_EIO, "%s: cannot open (%s)",
                       c->weights, strerror(errno));
    unsigned char *h = malloc(MZ_NPY_HEADER_MAX + 16);
    size_t n = h ? fread(h, 1, MZ_NPY_HEADER_MAX + 16, f) : 0;
    mz_status st = h ? mz_npy_parse(h, n, &c->npy, &c->npy_offset, c->weights, err)
                     : mz_fail(err, MZ_ENOMEM, "out of memory");
    if (!st && (c->npy.ndim != 2 || (c->npy.dtype != MZ_DT_F32 && c->npy.dtype != MZ_DT_F64)))
        st = mz_fail(err, MZ_EFORMAT,
                     "%s: a %d-dimensional array of %s (expected rows x values of float32 or "
                     "float64)",
                     c->weights, c->npy.ndim, mz_dtype_name(c->npy.dtype));
    if (!st && c->npy.shape[1] != c->row_floats)
        st = mz_fail(err, MZ_EFORMAT, "%s: rows of %lld values, layout.csv describes %lld",
                     c->weights, (long long)c->npy.shape[1], (long long)c->row_floats);
    struct stat sb;
    int64_t bytes = mz_array_bytes(&c->npy);
    if (!st && (fstat(fileno(f), &sb) != 0 || bytes < 0 ||
                (uint64_t)sb.st_size != c->npy_offset + (uint64_t)bytes))
        st = mz_fail(err, MZ_EFORMAT,
                     "%s: %lld bytes, but its header announces %lld rows of %lld values after "
                     "%zu header bytes (truncated?)",
                     c->weights, (long long)sb.st_size, (long long)c->npy.shape[0],
                     (long long)c->npy.shape[1], c->npy_offset);
    importer *im = c->im;
    if (!st) {
        /* the header, the size, and 16 blocks of 64 KiB spread over the data (first and last
         * included): reading all of it twice would double the import's time */
        mz_digest_add(&im->digest, h, c->npy_offset);
        mz_digest_u64(&im->digest, (uint64_t)sb.st_size);
        uint64_t span = (uint64_t)bytes, blk = 1 << 16;
        for (int i = 0; i < 16 && span; i++) {
            uint64_t at = span > blk ? (span - blk) / 15 * (uint64_t)i : 0;
            size_t k = (size_t)(span < blk ? span : blk);
            if (fseeko(f, (off_t)(c->npy_offset + at), SEEK_SET) != 0 || fread(h, 1, k, f) != k) {
                st = mz_fail(err, MZ_EIO, "%s: read failed", c->weights);
                break;
            }
            mz_digest_add(&im->digest, h, k);
        }
    }
    free(h);
    fclose(f);
    if (!st)
        c->rows = c->npy.shape[0];
    return st;
}

/* ---- metrics ---- */

static int is_missing(const char *s)
{
    return !*s;
}

/* A CSV value as JSON: True/False as booleans, numbers as numbers, the rest as strings. */
static json_t *csv_value(const char *s)
{
    if (!*s)
        return json_null();
    if (!strcmp(s, "True"))
        return json_true();
    if (!strcmp(s, "False"))
        return json_false();
    char *end;
    errno = 0;
    long long i = strtoll(s, &end, 10);
    if (!*end && !errno && end != s)
        return json_integer(i);
    double d = strtod(s, &end);
    if (!*end && end != s && isfinite(d) && strspn(s, "0123456789+-.eE") == strlen(s))
        return json_real(d);
    return json_string(s);
}

enum {
    C_MODELDIR,
    C_STEP,
    C_TEST_ACC,
    C_TEST_LOSS,
    C_TRAIN_ACC,
    C_TRAIN_LOSS,
    C_STATUS,
    C_MESSAGE,
    C_N
};

static mz_status read_metrics(ctcctx *c)
{
    importer *im = c->im;
    mz_error *err = im->err;
    mz_csv *csv = NULL;
    mz_status st = mz_csv_open(&csv, c->metrics, err);
    if (st)
        return st;
    mz_digest d;
    mz_digest_init(&d);
    mz_csv_digest(csv, &d);
    char **f;
    int nf = 0, hn = 0, col[C_N];
    static const char *const names[C_N] = {"modeldir",    "step",           "test_accuracy",
                                           "test_loss",   "train_accuracy", "train_loss",
                                           "mzoo.status", "mzoo.message"};
    for (int k = 0; k < C_N; k++)
        col[k] = -1;
    char **header = NULL;
    int *is_config = NULL;
    if (!(st = mz_csv_next(csv, &f, &nf, err))) {
        hn = nf;
        header = calloc((size_t)(nf ? nf : 1), sizeof *header);
        is_config = calloc((size_t)(nf ? nf : 1), sizeof *is_config);
        c->config_names = calloc((size_t)(nf ? nf : 1), sizeof *c->config_names);
        if (!header || !is_config || !c->config_names)
            st = mz_fail(err, MZ_ENOMEM, "out of memory");
        for (int i = 0; !st && i < nf; i++) {
            if (!(header[i] = mz_strdup(f[i])))
                st = mz_fail(err, MZ_ENOMEM, "out of memory");
            for (int k = 0; k < C_N; k++)
                if (!strcmp(f[i], names[k]))
                    col[k] = i;
            if (!strncmp(f[i], "config.", 7)) {
                is_config[i] = 1 + c->n_config;
                c->config_names[c->n_config++] = header[i];
            }
        }
        if (!st && (col[C_MODELDIR] < 0 || col[C_STEP] < 0))
            st = mz_fail(err, MZ_EFORMAT, "%s: the header has no modeldir or step column",
                         c->metrics);
    }
    c->row_model = malloc((size_t)(c->rows ? c->rows : 1) * sizeof *c->row_model);
    if (!st && !c->row_model)
        st = mz_fail(err, MZ_ENOMEM, "out of memory for %lld rows", (long long)c->rows);
    mz_strmap dirs = {0};
    int64_t r = 0;
    static const int metric_of[C_N] = {-1,          -1,           M_TEST_ACC, M_TEST_LOSS,
                                       M_TRAIN_ACC, M_TRAIN_LOSS, -1,         -1};
    while (!st && !(st = mz_csv_next(csv, &f, &nf, err)) && nf) {
        int64_t line = mz_csv_line(csv);
        if (nf != hn) {
            st = mz_fail(err, MZ_EFORMAT, "%s: line %lld has %d fields, the header %d", c->metrics,
                         (long long)line, nf, hn);
            break;
        }
        if (r >= c->rows) {
            st = mz_fail(err, MZ_EFORMAT,
                         "%s: more lines than the %lld rows of %s (each line describes one "
                         "row)",
                         c->metrics, (long long)c->rows, c->weights);
            break;
        }
        int64_t step;
        const char *dir = f[col[C_MODELDIR]];
        if (!*dir || parse_i64(f[col[C_STEP]], 0, 1000000, &step)) {
            st = mz_fail(err, MZ_EFORMAT,
                         "%s: line %lld: modeldir is empty or step '%s' is not "
                         "0 .. 1000000",
                         c->metrics, (long long)line, f[col[C_STEP]]);
            break;
        }
        int64_t mi = mz_strmap_get(&dirs, dir);
        if (mi < 0) {
            mi = im->n_models;
            char ***nc = realloc(c->config, (size_t)(mi + 1) * sizeof *nc);
            if (!nc || !imp_add_model(im, dir, err) || mz_strmap_put(&dirs, dir, mi)) {
                st = mz_fail(err, MZ_ENOMEM, "out of memory");
                break;
            }
            c->config = nc;
            c->config[mi] = calloc((size_t)(c->n_config ? c->n_config : 1), sizeof **nc);
            for (int i = 0; i < nf && c->config[mi]; i++)
                if (is_config[i] && !(c->config[mi][is_config[i] - 1] = mz_strdup(f[i])))
                    st = mz_fail(err, MZ_ENOMEM, "out of memory");
            if (!c->config[mi])
                st = mz_fail(err, MZ_ENOMEM, "out of memory");
        } else {
            for (int i = 0; i < nf && !st; i++)
                if (is_config[i] && strcmp(c->config[mi][is_config[i] - 1], f[i]) != 0)
                    st = mz_fail(err, MZ_EFORMAT,
                                 "%s: line %lld: %s is '%s' for modeldir %s, an earlier line "
                                 "says '%s'",
                                 c->metrics, (long long)line, header[i], f[i], dir,
                                 c->config[mi][is_config[i] - 1]);
        }
        if (st)
            break;
        imp_model *m = &im->models[mi];
        imp_epoch *e = imp_epoch_at(im, m, (int)step, err);
        if (!e) {
            st = MZ_ENOMEM;
            break;
        }
        if (e->has_ckpt) { /* the same checkpoint again: the later row counts */
            im->rep->duplicates++;
            c->row_model[e->src] = -1;
            for (int k = 0; k < M_N; k++)
                e->m[k] = NAN;
            free(e->extra);
            e->extra = NULL;
            e->has_metrics = 0;
        }
        e->has_ckpt = 1;
        e->src = r;
        c->row_model[r] = mi;
        json_t *extra = NULL;
        for (int i = 0; i < nf; i++) {
            int k = -1;
            for (int q = 0; q < C_N && k < 0; q++)
                if (col[q] == i)
                    k = q;
            if (k >= 0 && metric_of[k] >= 0) {
                if (is_missing(f[i]))
                    continue;
                char *end;
                double x = strtod(f[i], &end);
                if (end == f[i] || *end) {
                    st = mz_fail(err, MZ_EFORMAT, "%s: line %lld: %s is '%s', not a number",
                                 c->metrics, (long long)line, header[i], f[i]);
                    break;
                }
                e->has_metrics = 1;
                if (!isfinite(x)) {
                    im->rep->nonfinite_metrics++;
                    if (m->nonfinite_metric < 0 || step < m->nonfinite_metric) {
                        m->nonfinite_metric = (int)step;
                        snprintf(m->nonfinite_what, sizeof m->nonfinite_what, "%s", header[i]);
                    }
                    continue;
                }
                e->m[metric_of[k]] = x;
            } else if (k == C_STATUS && *f[i]) {
                static const char *const sn[] = {"done", "diverged", "failed"};
                static const int sc[] = {MZ_MODEL_DONE, MZ_MODEL_DIVERGED, MZ_MODEL_FAILED};
                m->status_override = -2;
                for (int q = 0; q < 3; q++)
                    if (!strcmp(f[i], sn[q]))
                        m->status_override = sc[q];
                if (m->status_override == -2)
                    st = mz_fail(err, MZ_EFORMAT, "%s: line %lld: mzoo.status is '%s'", c->metrics,
                                 (long long)line, f[i]);
            } else if (k == C_MESSAGE && *f[i]) {
                free(m->message);
                if (!(m->message = mz_strdup(f[i])))
                    st = mz_fail(err, MZ_ENOMEM, "out of memory");
            } else if (k < 0 && !is_config[i] && *header[i] && !is_missing(f[i])) {
                /* another column: a further metric of this checkpoint */
                if (!extra)
                    extra = json_object();
                json_object_set_new(extra, header[i], csv_value(f[i]));
            }
        }
        if (extra && !st && !(e->extra = mz_json_canonical(extra)))
            st = mz_fail(err, MZ_ENOMEM, "out of memory");
        json_decref(extra);
        r++;
    }
    mz_strmap_release(&dirs);
    mz_csv_close(csv);
    mz_digest_u64(&im->digest, d.fnv);
    mz_digest_u64(&im->digest, d.crc);
    mz_digest_u64(&im->digest, d.bytes);
    if (!st && r != c->rows)
        st = mz_fail(err, MZ_EFORMAT, "%s: %lld lines, but %s holds %lld rows", c->metrics,
                     (long long)r, c->weights, (long long)c->rows);
    free(is_config);
    /* header strings are owned by config_names (the config ones) or freed here */
    for (int i = 0; header && i < hn; i++) {
        int kept = 0;
        for (int k = 0; k < c->n_config; k++)
            kept |= c->config_names[k] == header[i];
        if (!kept)
            free(header[i]);
    }
    free(header);
    return st;
}

/* Each model's hyperparameters from its config.* values; how its training ended. */
static mz_status finish_models(ctcctx *c)
{
    importer *im = c->im;
    mz_error *err = im->err;
    /* the number of checkpoints most models have: a model with fewer stopped early */
    int64_t *hist = calloc(1025, sizeof *hist);
    if (!hist)
        return mz_fail(err, MZ_ENOMEM, "out of memory");
    for (int64_t i = 0; i < im->n_models; i++)
        hist[im->models[i].n_ep < 1024 ? im->models[i].n_ep : 1024]++;
    int mode = 0;
    for (int k = 1; k <= 1024; k++)
        if (hist[k] > hist[mode])
            mode = k;
    free(hist);
    char dataset[64] = "";
    int one_dataset = 1;
    for (int64_t i = 0; i < im->n_models; i++) {
        imp_model *m = &im->models[i];
        m->layout = 0;
        json_t *h = json_object();
        if (!h || json_object_set_new(h, "modeldir", json_string(m->name)))
            return mz_fail(err, MZ_ENOMEM, "out of memory");
        for (int k = 0; k < c->n_config; k++) {
            const char *name = c->config_names[k], *v = c->config[i][k];
            json_t *jv = csv_value(v);
            int taken = 0;
            if (!strcmp(name, "config.activation") && json_is_string(jv))
                taken = (m->activation = mz_strdup(v)) != NULL;
            else if (!strcmp(name, "config.optimizer") && json_is_string(jv))
                taken = (m->optimizer = mz_strdup(v)) != NULL;
            else if (!strcmp(name, "config.learning_rate") && json_is_number(jv))
                m->lr = json_number_value(jv), taken = 1;
            else if (!strcmp(name, "config.dropout") && json_is_number(jv))
                m->dropout = json_number_value(jv), taken = 1;
            else if (!strcmp(name, "config.random_seed") && json_is_integer(jv))
                m->seed = json_integer_value(jv), m->has_seed = 1, taken = 1;
            if (!strcmp(name, "config.dataset")) {
                if (!dataset[0])
                    snprintf(dataset, sizeof dataset, "%s", v);
                else if (strcmp(dataset, v) != 0)
                    one_dataset = 0;
            }
            if (taken)
                json_decref(jv);
            else
                json_object_set_new(h, name, jv);
        }
        m->hparams = mz_json_canonical(h);
        json_decref(h);
        if (!m->hparams)
            return mz_fail(err, MZ_ENOMEM, "out of memory");
        if (m->status_override < 0 && m->n_ep < mode) {
            m->failed = 1;
            char msg[160];
            snprintf(msg, sizeof msg,
                     "%d of the %d checkpoints most models have: the training stopped early",
                     m->n_ep, mode);
            if (!(m->message = mz_strdup(msg)))
                return mz_fail(err, MZ_ENOMEM, "out of memory");
        }
    }
    if (dataset[0] && one_dataset)
        imp_meta(im, "dataset", dataset);
    imp_meta(im, "epoch_unit", "step"); /* epochs.epoch holds each checkpoint's training step */
    return MZ_OK;
}

/* ---- the second pass: the rows ---- */

static void convert(const ctcctx *c, const mz_ilayout *L, const float *row, float *w)
{
    for (int t = 0; t < L->n; t++) {
        const part *p = &c->parts[t];
        float *dst = w + L->t[t].offset;
        const float *src = row + p->src;
        if (p->kind == 0) {
            memcpy(dst, src, (size_t)L->t[t].count * sizeof *dst);
        } else if (p->kind == 1) { /* [kh][kw][in][out] -> [out][in][kh][kw] */
            int64_t kh = p->d[0], kw = p->d[1], ci = p->d[2], co = p->d[3];
            for (int64_t o = 0; o < co; o++)
                for (int64_t i = 0; i < ci; i++)
                    for (int64_t y = 0; y < kh; y++)
                        for (int64_t x = 0; x < kw; x++)
                            dst[((o * ci + i) * kh + y) * kw + x] =
                                src[((y * kw + x) * ci + i) * co + o];
        } else { /* [in][out] -> [out][in] */
            int64_t ni = p->d[0], no = p->d[1];
            for (int64_t o = 0; o < no; o++)
                for (int64_t i = 0; i < ni; i++)
                    dst[o * ni + i] = src[i * no + o];
        }
    }
}

static mz_status read_rows(ctcctx *c)
{
    importer *im = c->im;
    mz_error *err = im->err;
    const mz_ilayout *L = &im->layouts[0];
    size_t es = mz_dtype_size(c->npy.dtype), rb = (size_t)c->row_floats * es;
    FILE *f = fopen(c->weights, "rb");
    if (!f)
        return mz_fail(err, MZ_EIO, "%s: cannot open (%s)", c->weights, strerror(errno));
    unsigned char *raw = malloc(rb);
    float *row = malloc((size_t)c->row_floats * sizeof *row);
    mz_status st = raw && row ? MZ_OK : mz_fail(err, MZ_ENOMEM, "out of memory");
    if (!st && fseeko(f, (off_t)c->npy_offset, SEEK_SET) != 0)
        st = mz_fail(err, MZ_EIO, "%s: seek failed", c->weights);
    for (int64_t r = 0; !st && r < c->rows; r++) {
        int64_t mi = c->row_model[r];
        int want = mi >= 0 && imp_wants(im, mi, c->row_ep[r]);
        if (!want) {
            if (fseeko(f, (off_t)rb, SEEK_CUR) != 0)
                st = mz_fail(err, MZ_EIO, "%s: seek failed", c->weights);
            continue;
        }
        if (fseeko(f, (off_t)(c->npy_offset + (uint64_t)r * rb), SEEK_SET) != 0 ||
            fread(raw, 1, rb, f) != rb) {
            st = mz_fail(err, MZ_EIO, "%s: row %lld: read failed", c->weights, (long long)r);
            break;
        }
        if (c->npy.dtype == MZ_DT_F32) {
            memcpy(row, raw, rb);
        } else {
            for (int64_t k = 0; k < c->row_floats; k++) {
                double d;
                memcpy(&d, raw + (size_t)k * 8, 8);
                row[k] = (float)d;
                im->rep->rounded += (double)row[k] != d && d == d;
            }
        }
        float *w = malloc((size_t)L->n_params * sizeof *w);
        if (!w) {
            st = mz_fail(err, MZ_ENOMEM, "out of memory");
            break;
        }
        convert(c, L, row, w);
        im->prog_done = r + 1;
        st = imp_put_weights(im, mi, c->row_ep[r], w);
        if (!st && (r + 1) % 4096 == 0)
            st = imp_progress(im, "importing");
    }
    free(raw);
    free(row);
    fclose(f);
    return st;
}

mz_status mz_ctc_import(importer *im)
{
    mz_error *err = im->err;
    ctcctx *c = calloc(1, sizeof *c);
    if (!c)
        return mz_fail(err, MZ_ENOMEM, "out of memory");
    c->im = im;
    snprintf(c->dir, sizeof c->dir, "%s", im->source);
    mz_status st = mz_path_join(c->weights, sizeof c->weights, c->dir, "weights.npy", err);
    if (!st)
        st = mz_path_join(c->layout_path, sizeof c->layout_path, c->dir, "layout.csv", err);
    char gz[MZ_PATH_MAX], plain[MZ_PATH_MAX];
    struct stat sb;
    if (!st)
        st = mz_path_join(gz, sizeof gz, c->dir, "metrics.csv.gz", err);
    if (!st)
        st = mz_path_join(plain, sizeof plain, c->dir, "metrics.csv", err);
    if (!st) {
        int has_gz = stat(gz, &sb) == 0, has_plain = stat(plain, &sb) == 0;
        if (has_gz && has_plain)
            st = mz_fail(err, MZ_EFORMAT, "%s: both metrics.csv.gz and metrics.csv (which one?)",
                         c->dir);
        else if (!has_gz && !has_plain)
            st = mz_fail(err, MZ_ENOTFOUND, "%s: no metrics.csv.gz or metrics.csv", c->dir);
        else
            snprintf(c->metrics, sizeof c->metrics, "%s", has_gz ? gz : plain);
    }
    if (!st)
        st = read_layout(c);
    if (!st)
        st = read_npy_header(c);
    if (!st)
        st = read_metrics(c);
    if (!st)
        st = finish_models(c);
    int done = 0;
    if (!st)
        st = imp_attach(im, &done);
    if (!st && !(c->row_ep = malloc((size_t)(c->rows ? c->rows : 1) * sizeof *c->row_ep)))
        st = mz_fail(err, MZ_ENOMEM, "out of memory");
    if (!st) {
        /* the rows' models are in id order now: each row's model and epoch index */
        for (int64_t r = 0; r < c->rows; r++)
            c->row_model[r] = -1;
        for (int64_t mi = 0; mi < im->n_models; mi++)
            for (int e = 0; e < im->models[mi].n_ep; e++) {
                int64_t r = im->models[mi].ep[e].src;
                c->row_model[r] = mi;
                c->row_ep[r] = e;
            }
    }
    im->unit = "rows";
    im->prog_total = c->rows;
    if (!st && !done)
        st = read_rows(c);
    if (!st)
        st = imp_finish(im);
    for (int64_t i = 0; c->config && i < im->n_models; i++) {
        for (int k = 0; c->config[i] && k < c->n_config; k++)
            free(c->config[i][k]);
        free(c->config[i]);
    }
    free(c->config);
    for (int k = 0; k < c->n_config; k++)
        free(c->config_names[k]);
    free(c->config_names);
    free(c->row_model);
    free(c->row_ep);
    free(c);
    return st;
}
