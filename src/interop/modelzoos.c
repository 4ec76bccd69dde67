/* The Model Zoos' raw zoos: Ray Tune 1.8 experiment folders, as a directory or read in place
 * from the .zip / .tar(.gz) they are downloaded as.
 *
 * A trial is a folder holding params.json; its result.json has one JSON object per line (bare
 * NaN and Infinity allowed) keyed by training_iteration; checkpoint_<e> or checkpoint_<e:06d>
 * holds `checkpoints`, the torch.save'd state_dict after e epochs (the `optimizer` file beside it
 * is not read). error.txt marks a trial Ray saw fail; mzoo_status.json (written by mzoo's own
 * export) states a model's status and message.
 *
 * First pass: every trial's files and every checkpoint's zip directory and pickle, checked
 * against the layout its params.json implies. Second pass: the storages, read and committed. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "interop/interop-impl.h"
#include "core/banned.h"

#define MAX_PARAMS ((uint64_t)16 << 20)
#define MAX_RESULT ((uint64_t)1 << 30)
#define MAX_SMALL ((uint64_t)1 << 20)
#define MAX_MEMBER ((size_t)1 << 30) /* an archive member read whole: a checkpoint */
/* one storage of a checkpoint (ResNet-18's largest holds 9 MB) */
#define MAX_STORAGE ((uint64_t)1 << 30)
#define MAX_DEPTH 4

enum { F_PARAMS, F_RESULT, F_ERROR, F_STATUS, F_N };
static const char *const file_names[F_N] = {"params.json", "result.json", "error.txt",
                                            "mzoo_status.json"};

/* A tensor of a checkpoint as the pickle describes it. */
typedef struct tdesc {
    char *name;
    mz_dtype dtype;
    int ndim;
    int64_t shape[MZ_ARRAY_MAX_DIMS];
} tdesc;

typedef struct ckpt {
    char *loc; /* the file (directory source) or archive member */
    int64_t trial;
    int epoch;
    uint64_t sig;  /* names, dtypes and shapes of its tensors */
    uint64_t zsum; /* names, sizes and CRC-32 of its zip entries */
    int64_t model;
    int ep; /* after attach: where its weights go */
} ckpt;

typedef struct trial {
    char *dir;
    json_t *params;
    mz_digest files[F_N];
    int seen[F_N];
    int any_done, last_iteration;
    char *error_line;
    int64_t first_ckpt; /* the checkpoint whose tensors were kept, -1 */
    int n_desc;
    tdesc *desc;
} trial;

typedef struct mzctx {
    importer *im;
    int archive;
    trial *trials;
    int64_t n_trials, cap_trials;
    mz_strmap trial_of; /* folder -> trial */
    ckpt *ckpts;
    int64_t n_ckpts, cap_ckpts;
    mz_strmap ckpt_of; /* location -> checkpoint */
    mz_status st;      /* first error of a scan callback */
    int64_t read;      /* checkpoints read in this pass */
} mzctx;

/* ---- names ---- */

/* "a/b/trial/checkpoint_000010/checkpoints" -> folder "a/b/trial", epoch 10. Returns 1 for a
 * checkpoint, 0 for another file of a trial folder, -1 for anything else; kind gets F_*. */
static int classify(const char *name, char *dir, size_t cap, int *kind, int *epoch)
{
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    size_t dl = (size_t)(base - name);
    if (dl && name[dl - 1] == '/')
        dl--;
    for (int k = 0; k < F_N; k++)
        if (!strcmp(base, file_names[k])) {
            if (dl >= cap)
                return -1;
            memcpy(dir, name, dl);
            dir[dl] = 0;
            *kind = k;
            return 0;
        }
    if (strcmp(base, "checkpoints") != 0 || dl == 0)
        return -1;
    /* the parent folder: checkpoint_<digits> */
    size_t ps = dl;
    while (ps > 0 && name[ps - 1] != '/')
        ps--;
    const char *parent = name + ps;
    size_t pl = dl - ps;
    if (pl < 12 || pl > 11 + 9 || memcmp(parent, "checkpoint_", 11) != 0)
        return -1;
    long e = 0;
    for (size_t i = 11; i < pl; i++) {
        if (parent[i] < '0' || parent[i] > '9')
            return -1;
        e = e * 10 + (parent[i] - '0');
    }
    size_t tl = ps ? ps - 1 : 0;
    if (tl >= cap)
        return -1;
    memcpy(dir, name, tl);
    dir[tl] = 0;
    *epoch = (int)e;
    return 1;
}

static const char *base_name(const char *path)
{
    const char *b = strrchr(path, '/');
    return b ? b + 1 : path;
}

static int64_t trial_for(mzctx *c, const char *dir)
{
    int64_t t = mz_strmap_get(&c->trial_of, dir);
    if (t >= 0)
        return t;
    mz_error *err = c->im->err;
    if (c->n_trials == c->cap_trials) {
        int64_t cap = c->cap_trials ? 2 * c->cap_trials : 64;
        trial *n = realloc(c->trials, (size_t)cap * sizeof *n);
        if (!n) {
            c->st = mz_fail(err, MZ_ENOMEM, "out of memory");
            return -1;
        }
        c->trials = n;
        c->cap_trials = cap;
    }
    trial *tr = &c->trials[c->n_trials];
    memset(tr, 0, sizeof *tr);
    tr->first_ckpt = -1;
    tr->last_iteration = -1;
    for (int k = 0; k < F_N; k++)
        mz_digest_init(&tr->files[k]);
    const char *name = *dir ? base_name(dir) : "trial";
    if (!(tr->dir = mz_strdup(dir)) || !imp_add_model(c->im, name, err) ||
        mz_strmap_put(&c->trial_of, dir, c->n_trials)) {
        free(tr->dir);
        c->st = err && err->code ? err->code : mz_fail(err, MZ_ENOMEM, "out of memory");
        return -1;
    }
    return c->n_trials++;
}

/* ---- result.json ---- */

/* Keys Ray adds to every result: bookkeeping, not metrics. */
static int ray_key(const char *k)
{
    static const char *const keys[] = {"done",
                                       "timesteps_total",
                                       "episodes_total",
                                       "training_iteration",
                                       "experiment_id",
                                       "date",
                                       "timestamp",
                                       "time_this_iter_s",
                                       "time_total_s",
                                       "pid",
                                       "hostname",
                                       "node_ip",
                                       "config",
                                       "time_since_restore",
                                       "timesteps_since_restore",
                                       "iterations_since_restore",
                                       "trial_id",
                                       "experiment_tag",
                                       "warmup_time",
                                       "should_checkpoint",
                                       "checkpoint_dir_name",
                                       "episode_reward_max",
                                       "episode_reward_min",
                                       "episode_reward_mean",
                                       "episode_len_mean",
                                       "episodes_this_iter",
                                       "perf",
                                       NULL};
    for (int i = 0; keys[i]; i++)
        if (!strcmp(keys[i], k))
            return 1;
    return 0;
}

static int metric_key(const char *k)
{
    static const char *const keys[M_N] = {"train_loss", "train_acc", "val_loss",      "val_acc",
                                          "test_loss",  "test_acc",  "sparsity_ratio"};
    for (int i = 0; i < M_N; i++)
        if (!strcmp(keys[i], k))
            return i;
    return -1;
}

static mz_status parse_line(mzctx *c, int64_t t, const char *line, size_t n, const char *origin)
{
    importer *im = c->im;
    mz_error *err = im->err;
    json_t *o = mz_json_parse(line, n, origin, err);
    if (!o)
        return err ? err->code : MZ_EFORMAT;
    mz_status st = MZ_OK;
    json_t *it = json_object_get(o, "training_iteration");
    if (!json_is_object(o))
        st = mz_fail(err, MZ_EFORMAT, "%s: not a JSON object", origin);
    else if (!json_is_integer(it) || json_integer_value(it) < 0 || json_integer_value(it) > 1000000)
        st = mz_fail(err, MZ_EFORMAT, "%s: training_iteration is %s (expected 0 .. 1000000)",
                     origin, it ? "out of range or not an integer" : "missing");
    if (st) {
        json_decref(o);
        return st;
    }
    int epoch = (int)json_integer_value(it);
    imp_model *m = &im->models[t];
    imp_epoch *e = imp_epoch_at(im, m, epoch, err);
    if (!e) {
        json_decref(o);
        return MZ_ENOMEM;
    }
    if (e->has_metrics) { /* a restored trial reports an iteration again: the later one counts */
        im->rep->duplicates++;
        for (int k = 0; k < M_N; k++)
            e->m[k] = NAN;
        free(e->extra);
        e->extra = NULL;
    }
    e->has_metrics = 1;
    trial *tr = &c->trials[t];
    if (json_is_true(json_object_get(o, "done")))
        tr->any_done = 1;
    if (epoch > tr->last_iteration)
        tr->last_iteration = epoch;
    json_t *extra = json_object();
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v)
    {
        int k = metric_key(key);
        if (k < 0) {
            if (!ray_key(key))
                json_object_set(extra, key, v);
            continue;
        }
        double x;
        if (!mz_json_number(v, &x)) {
            if (!json_is_null(v))
                json_object_set(extra, key, v); /* not a number: kept as it is */
            continue;
        }
        if (epoch == 0 && (k == M_TRAIN_LOSS || k == M_TRAIN_ACC) && x == -999) {
            im->rep->placeholders++; /* the reference's "not evaluated" at epoch 0 */
            continue;
        }
        if (!isfinite(x)) {
            im->rep->nonfinite_metrics++;
            if (k != M_SPARSITY && (m->nonfinite_metric < 0 || epoch < m->nonfinite_metric)) {
                m->nonfinite_metric = epoch;
                snprintf(m->nonfinite_what, sizeof m->nonfinite_what, "%s", key);
            }
            continue;
        }
        e->m[k] = x;
    }
    if (extra && json_object_size(extra) && !(e->extra = mz_json_canonical(extra)))
        st = mz_fail(err, MZ_ENOMEM, "out of memory");
    json_decref(extra);
    json_decref(o);
    return st;
}

static mz_status take_result(mzctx *c, int64_t t, const char *where, const char *text, size_t n)
{
    size_t at = 0;
    int64_t line = 0;
    char origin[1024];
    while (at < n) {
        line++;
        const char *nl = memchr(text + at, '\n', n - at);
        size_t len = nl ? (size_t)(nl - (text + at)) : n - at;
        size_t k = 0;
        while (k < len && strchr(" \t\r", text[at + k]))
            k++;
        if (k < len) {
            snprintf(origin, sizeof origin, "%s: line %lld", where, (long long)line);
            mz_status st = parse_line(c, t, text + at, len, origin);
            if (st)
                return st;
        }
        at += len + 1;
    }
    return MZ_OK;
}

/* ---- checkpoints ---- */

static uint64_t desc_sig(const tdesc *d, int n)
{
    mz_digest g;
    mz_digest_init(&g);
    for (int i = 0; i < n; i++) {
        mz_digest_str(&g, d[i].name);
        mz_digest_u64(&g, (uint64_t)d[i].dtype);
        mz_digest_u64(&g, (uint64_t)d[i].ndim);
        for (int k = 0; k < d[i].ndim; k++)
            mz_digest_u64(&g, (uint64_t)d[i].shape[k]);
    }
    return g.fnv;
}

static uint64_t pt_sig(const mz_pt *p)
{
    mz_digest g;
    mz_digest_init(&g);
    for (int i = 0; i < mz_pt_count(p); i++) {
        const mz_pt_tensor *t = mz_pt_tensor_at(p, i);
        mz_digest_str(&g, t->name);
        mz_digest_u64(&g, (uint64_t)t->dtype);
        mz_digest_u64(&g, (uint64_t)t->ndim);
        for (int k = 0; k < t->ndim; k++)
            mz_digest_u64(&g, (uint64_t)t->shape[k]);
    }
    return g.fnv;
}

static uint64_t zip_sum(const mz_zip *z)
{
    mz_digest g;
    mz_digest_init(&g);
    for (int64_t i = 0; i < mz_zip_count(z); i++) {
        const mz_zip_entry *e = mz_zip_entry_at(z, i);
        mz_digest_str(&g, e->name);
        mz_digest_u64(&g, e->size);
        mz_digest_u64(&g, e->crc32);
    }
    return g.fnv;
}

/* Opens a checkpoint (file, or bytes of an archive member) and its zip directory's sum. */
static mz_status open_ckpt(mzctx *c, const char *loc, const uint8_t *data, size_t size, mz_pt **pt,
                           uint64_t *zsum)
{
    mz_error *err = c->im->err;
    char origin[1200];
    snprintf(origin, sizeof origin, "%s%s%s", c->archive ? c->im->source : "",
             c->archive ? ": member " : "", loc);
    mz_zip *z = NULL;
    mz_pt_limits lim;
    mz_pt_limits_default(&lim);
    lim.max_storage_bytes = MAX_STORAGE;
    mz_status st =
        data ? mz_pt_open_mem(pt, origin, data, size, &lim, err) : mz_pt_open(pt, loc, &lim, err);
    if (!st)
        st = data ? mz_zip_open_mem(&z, origin, data, size, err) : mz_zip_open(&z, loc, err);
    if (!st)
        *zsum = zip_sum(z);
    mz_zip_close(z);
    if (st) {
        mz_pt_close(*pt);
        *pt = NULL;
    }
    return st;
}

static mz_status take_ckpt(mzctx *c, int64_t t, int epoch, const char *loc, const uint8_t *data,
                           size_t size)
{
    importer *im = c->im;
    mz_error *err = im->err;
    if (mz_strmap_get(&c->ckpt_of, loc) >= 0)
        return MZ_OK; /* an archive that lists a member twice: the first is read */
    mz_pt *pt = NULL;
    uint64_t zsum = 0;
    mz_status st = open_ckpt(c, loc, data, size, &pt, &zsum);
    if (st)
        return st;
    trial *tr = &c->trials[t];
    imp_model *m = &im->models[t];
    imp_epoch *e = imp_epoch_at(im, m, epoch, err);
    if (!e) {
        mz_pt_close(pt);
        return MZ_ENOMEM;
    }
    if (e->has_ckpt) {
        mz_pt_close(pt);
        return mz_fail(err, MZ_EFORMAT, "%s: two checkpoint folders for epoch %d (%s and %s)",
                       tr->dir, epoch, c->ckpts[e->src].loc, loc);
    }
    if (c->n_ckpts == c->cap_ckpts) {
        int64_t cap = c->cap_ckpts ? 2 * c->cap_ckpts : 256;
        ckpt *n = realloc(c->ckpts, (size_t)cap * sizeof *n);
        if (!n) {
            mz_pt_close(pt);
            return mz_fail(err, MZ_ENOMEM, "out of memory");
        }
        c->ckpts = n;
        c->cap_ckpts = cap;
    }
    ckpt *k = &c->ckpts[c->n_ckpts];
    memset(k, 0, sizeof *k);
    k->trial = t;
    k->epoch = epoch;
    k->sig = pt_sig(pt);
    k->zsum = zsum;
    if (!(k->loc = mz_strdup(loc)) || mz_strmap_put(&c->ckpt_of, loc, c->n_ckpts)) {
        mz_pt_close(pt);
        return mz_fail(err, MZ_ENOMEM, "out of memory");
    }
    if (tr->first_ckpt < 0) { /* keep its tensors' descriptions to check them in detail */
        int n = mz_pt_count(pt);
        tr->desc = calloc((size_t)(n ? n : 1), sizeof *tr->desc);
        for (int i = 0; tr->desc && i < n; i++) {
            const mz_pt_tensor *x = mz_pt_tensor_at(pt, i);
            tr->desc[i].name = mz_strdup(x->name);
            tr->desc[i].dtype = x->dtype;
            tr->desc[i].ndim = x->ndim;
            memcpy(tr->desc[i].shape, x->shape, sizeof x->shape);
            if (!tr->desc[i].name)
                st = mz_fail(err, MZ_ENOMEM, "out of memory");
        }
        if (!tr->desc)
            st = mz_fail(err, MZ_ENOMEM, "out of memory");
        tr->n_desc = n;
        tr->first_ckpt = c->n_ckpts;
    }
    mz_pt_close(pt);
    e->has_ckpt = 1;
    e->src = c->n_ckpts++;
    c->read++;
    im->prog_done = c->read;
    if (!st && c->read % 256 == 0)
        st = imp_progress(im, "reading");
    return st;
}

static mz_status take_file(mzctx *c, int64_t t, int kind, const char *where, const char *data,
                           size_t n)
{
    trial *tr = &c->trials[t];
    mz_error *err = c->im->err;
    if (tr->seen[kind])
        return MZ_OK;
    tr->seen[kind] = 1;
    mz_digest_add(&tr->files[kind], data, n);
    switch (kind) {
    case F_PARAMS:
        tr->params = mz_json_parse(data, n, where, err);
        if (!tr->params)
            return err ? err->code : MZ_EFORMAT;
        if (!json_is_object(tr->params))
            return mz_fail(err, MZ_EFORMAT, "%s: not a JSON object", where);
        return MZ_OK;
    case F_RESULT:
        return take_result(c, t, where, data, n);
    case F_ERROR: {
        size_t k = 0;
        while (k < n && (data[k] == '\n' || data[k] == '\r' || data[k] == ' '))
            k++;
        size_t len = k;
        while (len < n && data[len] != '\n' && len - k < 300)
            len++;
        char line[320];
        snprintf(line, sizeof line, "%.*s", (int)(len - k), data + k);
        sbuf b = {0};
        sb_printf(&b, "Ray reported an error (error.txt: %s)", line[0] ? line : "empty");
        tr->error_line = b.s;
        return b.oom ? mz_fail(err, MZ_ENOMEM, "out of memory") : MZ_OK;
    }
    default: { /* F_STATUS */
        json_t *o = mz_json_parse(data, n, where, err);
        if (!o)
            return err ? err->code : MZ_EFORMAT;
        const char *s = json_string_value(json_object_get(o, "status"));
        const char *msg = json_string_value(json_object_get(o, "message"));
        imp_model *m = &c->im->models[t];
        int status = -1;
        static const char *const names[] = {"done", "diverged", "failed"};
        static const int codes[] = {MZ_MODEL_DONE, MZ_MODEL_DIVERGED, MZ_MODEL_FAILED};
        for (int i = 0; s && i < 3; i++)
            if (!strcmp(s, names[i]))
                status = codes[i];
        mz_status st = MZ_OK;
        if (status < 0)
            st = mz_fail(err, MZ_EFORMAT, "%s: status is %s (expected done, diverged or failed)",
                         where, s ? s : "missing");
        m->status_override = status;
        free(m->message);
        m->message = msg && *msg ? mz_strdup(msg) : NULL;
        json_decref(o);
        return st;
    }
    }
}

/* ---- the directory source ---- */

static mz_status read_small(const char *path, uint64_t cap, char **data, size_t *n, int *exists,
                            mz_error *err)
{
    *data = NULL;
    *n = 0;
    *exists = 0;
    struct stat sb;
    if (stat(path, &sb) != 0)
        return MZ_OK;
    *exists = 1;
    void *d;
    mz_status st = mz_read_file(path, cap, &d, n, err);
    *data = d;
    return st;
}

static mz_status scan_trial_dir(mzctx *c, const char *dir)
{
    mz_error *err = c->im->err;
    int64_t t = trial_for(c, dir);
    if (t < 0)
        return c->st;
    char path[MZ_PATH_MAX];
    mz_status st = MZ_OK;
    static const uint64_t caps[F_N] = {MAX_PARAMS, MAX_RESULT, MAX_SMALL, MAX_SMALL};
    for (int k = 0; k < F_N && !st; k++) {
        if ((st = mz_path_join(path, sizeof path, dir, file_names[k], err)))
            break;
        char *data;
        size_t n;
        int exists;
        st = read_small(path, caps[k], &data, &n, &exists, err);
        if (!st && exists)
            st = take_file(c, t, k, path, data, n);
        free(data);
    }
    DIR *d = st ? NULL : opendir(dir);
    if (!st && !d)
        return mz_fail(err, MZ_EIO, "%s: cannot list (%s)", dir, strerror(errno));
    struct dirent *de;
    while (!st && d && (de = readdir(d))) {
        if (strncmp(de->d_name, "checkpoint_", 11) != 0)
            continue;
        char rel[300];
        snprintf(rel, sizeof rel, "x/%.200s/checkpoints", de->d_name);
        char tdir[8];
        int kind, epoch;
        if (classify(rel, tdir, sizeof tdir, &kind, &epoch) != 1)
            continue;
        char cdir[MZ_PATH_MAX];
        struct stat sb;
        if ((st = mz_path_join(cdir, sizeof cdir, dir, de->d_name, err)) ||
            (st = mz_path_join(path, sizeof path, cdir, "checkpoints", err)))
            break;
        if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
            continue; /* a checkpoint folder without its state_dict: a missing checkpoint */
        st = take_ckpt(c, t, epoch, path, NULL, 0);
    }
    if (d)
        closedir(d);
    return st;
}

static mz_status walk(mzctx *c, const char *dir, int depth)
{
    mz_error *err = c->im->err;
    char path[MZ_PATH_MAX];
    mz_status st = mz_path_join(path, sizeof path, dir, "params.json", err);
    struct stat sb;
    if (!st && stat(path, &sb) == 0)
        return scan_trial_dir(c, dir);
    if (st || depth >= MAX_DEPTH)
        return st;
    DIR *d = opendir(dir);
    if (!d)
        return mz_fail(err, MZ_EIO, "%s: cannot list (%s)", dir, strerror(errno));
    struct dirent *de;
    while (!st && (de = readdir(d))) {
        if (de->d_name[0] == '.' || !strncmp(de->d_name, "checkpoint_", 11))
            continue;
        if ((st = mz_path_join(path, sizeof path, dir, de->d_name, err)))
            break;
        if (lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) /* symbolic links are not followed */
            st = walk(c, path, depth + 1);
    }
    closedir(d);
    return st;
}

/* ---- the archive source ---- */

static int want_pass1(void *vctx, const char *name)
{
    mzctx *c = vctx;
    char dir[2048];
    int kind, epoch;
    if (c->st)
        return -1;
    return classify(name, dir, sizeof dir, &kind, &epoch) >= 0;
}

static mz_status take_pass1(void *vctx, const char *name, const uint8_t *data, size_t size,
                            mz_error *err)
{
    mzctx *c = vctx;
    char dir[2048];
    int kind = 0, epoch = 0;
    int r = classify(name, dir, sizeof dir, &kind, &epoch);
    int64_t t = trial_for(c, dir);
    if (t < 0)
        return c->st;
    char where[2300];
    snprintf(where, sizeof where, "%s: member %s", c->im->source, name);
    mz_status st = r == 1 ? take_ckpt(c, t, epoch, name, data, size)
                          : take_file(c, t, kind, where, (const char *)data, size);
    (void)err;
    return st;
}

/* ---- after the first pass: each trial's model ---- */

static int cmp_epoch(const void *a, const void *b)
{
    int x = ((const imp_epoch *)a)->epoch, y = ((const imp_epoch *)b)->epoch;
    return (x > y) - (x < y);
}

static const char *str_param(json_t *p, const char *key)
{
    return json_string_value(json_object_get(p, key));
}

static int int_param(json_t *p, const char *key, int64_t *out)
{
    json_t *v = json_object_get(p, key);
    if (!json_is_integer(v))
        return 0;
    *out = json_integer_value(v);
    return 1;
}

static void shape_text(char *buf, size_t cap, int ndim, const int64_t *shape)
{
    size_t at = (size_t)snprintf(buf, cap, "[");
    for (int d = 0; d < ndim && at < cap; d++)
        at += (size_t)snprintf(buf + at, cap - at, "%s%lld", d ? "," : "", (long long)shape[d]);
    if (at < cap)
        snprintf(buf + at, cap - at, "]");
}

/* 1 if "module_list.3.weight" and "module_list.4.weight" differ in their module index only. */
static int same_but_index(const char *a, const char *b)
{
    const char *pre = "module_list.";
    size_t n = strlen(pre);
    if (strncmp(a, pre, n) != 0 || strncmp(b, pre, n) != 0)
        return 0;
    a += n;
    b += n;
    if (*a < '0' || *a > '9' || *b < '0' || *b > '9')
        return 0;
    while (*a >= '0' && *a <= '9')
        a++;
    while (*b >= '0' && *b <= '9')
        b++;
    return !strcmp(a, b);
}

/* The first checkpoint's tensors against the layout, in order. */
static mz_status check_desc(mzctx *c, const trial *tr, const mz_ilayout *L, double dropout)
{
    mz_error *err = c->im->err;
    const char *where = c->ckpts[tr->first_ckpt].loc;
    if (tr->n_desc != L->n)
        return mz_fail(err, MZ_EMISMATCH,
                       "%s: %d tensors, but a %s (%s) has %d; params.json's model::type and the "
                       "state_dict do not agree",
                       where, tr->n_desc, L->arch, L->variant, L->n);
    for (int i = 0; i < L->n; i++) {
        const tdesc *d = &tr->desc[i];
        const mz_tensor_desc *t = &L->t[i];
        int same = d->ndim == t->ndim;
        for (int k = 0; same && k < t->ndim; k++)
            same = d->shape[k] == t->shape[k];
        char have[96], want[96];
        shape_text(have, sizeof have, d->ndim, d->shape);
        shape_text(want, sizeof want, t->ndim, t->shape);
        if (!same)
            return mz_fail(err, MZ_EMISMATCH,
                           "%s: tensor %d (%s) has shape %s, but params.json describes a %s "
                           "whose tensor %d (%s) is %s",
                           where, i, d->name, have, L->variant, i, t->name, want);
        if (strcmp(d->name, t->name) != 0) {
            if (!strcmp(L->arch, "cnn-s") && same_but_index(d->name, t->name))
                return mz_fail(err, MZ_EMISMATCH,
                               "%s: tensor %d is %s, but with model::dropout = %g the CNN-s "
                               "keeps that layer at %s (dropout > 0 inserts dropout modules "
                               "and shifts the module indices); params.json and the "
                               "checkpoint do not agree",
                               where, i, d->name, dropout, t->name);
            return mz_fail(err, MZ_EMISMATCH, "%s: tensor %d is %s, expected %s (%s)", where, i,
                           d->name, t->name, L->variant);
        }
        int is_float = d->dtype == MZ_DT_F32 || d->dtype == MZ_DT_F64 || d->dtype == MZ_DT_F16 ||
                       d->dtype == MZ_DT_BF16;
        if (!is_float && !(d->ndim == 0 && (d->dtype == MZ_DT_I64 || d->dtype == MZ_DT_I32)))
            return mz_fail(err, MZ_EUNSUPPORTED, "%s: tensor %s is %s (expected floats)", where,
                           d->name, mz_dtype_name(d->dtype));
    }
    return MZ_OK;
}

/* model::type -> the layout; hyperparameters -> columns and hparams. */
static mz_status finish_trial(mzctx *c, int64_t t)
{
    importer *im = c->im;
    mz_error *err = im->err;
    trial *tr = &c->trials[t];
    imp_model *m = &im->models[t];
    const char *dir = *tr->dir ? tr->dir : im->source;
    if (!tr->params)
        return mz_fail(err, MZ_EFORMAT,
                       "%s: a trial folder without params.json (its architecture is unknown)", dir);
    json_t *p = tr->params;
    const char *type = str_param(p, "model::type");
    const char *arch = NULL;
    if (type && (!strcmp(type, "CNN") || !strcmp(type, "CNN_ARD")))
        arch = "cnn-s";
    else if (type && (!strcmp(type, "CNN3") || !strcmp(type, "CNN3_ARD")))
        arch = "cnn-l";
    else if (type && !strcmp(type, "Resnet18"))
        arch = "resnet18";
    else
        return mz_fail(err, MZ_EUNSUPPORTED,
                       "%s: params.json: model::type is %s (expected CNN, CNN3, Resnet18, or the "
                       "sparsified twins CNN_ARD and CNN3_ARD)",
                       dir, type ? type : "missing");
    /* the sparsified twins (the reference's train_{mnist,svhn}_sparse_vd.py) */
    int ard = strstr(type, "_ARD") != NULL;
    int64_t channels = 0, classes = 10;
    if (!int_param(p, "model::i_dim", &channels)) {
        if (tr->n_desc > 0 && tr->desc[0].ndim == 4)
            channels = tr->desc[0].shape[1];
        else
            return mz_fail(err, MZ_EFORMAT,
                           "%s: params.json has no model::i_dim and no checkpoint tells the "
                           "input channels",
                           dir);
    }
    if (!strcmp(arch, "resnet18") && !int_param(p, "model::o_dim", &classes) && tr->n_desc > 0)
        classes = tr->desc[tr->n_desc - 1].shape[0];
    double dropout = 0;
    json_t *dv = json_object_get(p, "model::dropout");
    if (dv && !mz_json_number(dv, &dropout))
        return mz_fail(err, MZ_EFORMAT, "%s: params.json: model::dropout is not a number", dir);
    if (channels < 1 || channels > 3 || classes < 1 || classes > 100000 || !(dropout >= 0))
        return mz_fail(err, MZ_EFORMAT,
                       "%s: params.json: model::i_dim %lld, model::o_dim %lld, model::dropout "
                       "%g: out of range",
                       dir, (long long)channels, (long long)classes, dropout);
    mz_ilayout L;
    mz_status st =
        ard ? mz_ilayout_make_ard(&L, arch, (int)channels, dropout > 0, err)
            : mz_ilayout_make(&L, arch, (int)channels, dropout > 0, (int)classes, 0, 0, err);
    if (st)
        return mz_error_prefix(err, "%s", dir);
    if (tr->first_ckpt >= 0 && (st = check_desc(c, tr, &L, dropout)))
        return st;
    uint64_t sig = tr->first_ckpt >= 0 ? desc_sig(tr->desc, tr->n_desc) : 0;
    for (int e = 0; e < m->n_ep; e++)
        if (m->ep[e].has_ckpt && c->ckpts[m->ep[e].src].sig != sig)
            return mz_fail(err, MZ_EMISMATCH,
                           "%s: its tensors (names, dtypes or shapes) differ from those of %s",
                           c->ckpts[m->ep[e].src].loc, c->ckpts[tr->first_ckpt].loc);
    if ((m->layout = imp_layout_add(im, &L, err)) < 0)
        return MZ_ENOMEM;

    /* the hyperparameters with a column of their own; everything else stays in hparams */
    json_t *rest = json_deep_copy(p);
    if (!rest)
        return mz_fail(err, MZ_ENOMEM, "out of memory");
    static const struct {
        const char *key;
        int col; /* 0 activation, 1 init, 2 optimizer (strings); 3 lr, 4 weight_decay,
                    5 dropout, 6 momentum (numbers); 7 nesterov (bool); 8 seed (integer);
                    9 source_id, 10 source_epoch (twins mzoo made: integers) */
    } map[] = {{"model::nlin", 0},     {"model::init_type", 1},   {"optim::optimizer", 2},
               {"optim::lr", 3},       {"optim::wd", 4},          {"model::dropout", 5},
               {"optim::momentum", 6}, {"optim::nesterov", 7},    {"seed", 8},
               {"mzoo::source_id", 9}, {"mzoo::source_epoch", 10}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        json_t *v = json_object_get(rest, map[i].key);
        double x;
        int taken = 0;
        if (!v)
            continue;
        if (map[i].col <= 2 && json_is_string(v)) {
            char **dst = map[i].col == 0   ? &m->activation
                         : map[i].col == 1 ? &m->init
                                           : &m->optimizer;
            taken = (*dst = mz_strdup(json_string_value(v))) != NULL;
        } else if (map[i].col >= 3 && map[i].col <= 6 && mz_json_number(v, &x) && isfinite(x)) {
            double *dst = map[i].col == 3   ? &m->lr
                          : map[i].col == 4 ? &m->weight_decay
                          : map[i].col == 5 ? &m->dropout
                                            : &m->momentum;
            *dst = x;
            taken = 1;
        } else if (map[i].col == 7 && json_is_boolean(v)) {
            m->nesterov = json_is_true(v);
            taken = 1;
        } else if (map[i].col == 8 && json_is_integer(v)) {
            m->seed = json_integer_value(v);
            m->has_seed = taken = 1;
        } else if (map[i].col == 9 && json_is_integer(v) && json_integer_value(v) >= 0) {
            m->source_id = json_integer_value(v);
            taken = 1;
        } else if (map[i].col == 10 && json_is_integer(v) && json_integer_value(v) >= 0 &&
                   json_integer_value(v) <= 1000000) {
            m->source_epoch = (int)json_integer_value(v);
            taken = 1;
        }
        if (taken)
            json_object_del(rest, map[i].key);
    }
    m->hparams = json_object_size(rest) ? mz_json_canonical(rest) : NULL;
    int oom = json_object_size(rest) && !m->hparams;
    json_decref(rest);
    if (oom)
        return mz_fail(err, MZ_ENOMEM, "out of memory");

    /* how the trial ended (an mzoo export states it in mzoo_status.json) */
    if (m->status_override >= 0) {
        /* as stated */
    } else if (tr->error_line) {
        m->failed = 1;
        free(m->message);
        m->message = tr->error_line;
        tr->error_line = NULL;
    } else if (!tr->any_done) {
        m->failed = 1;
        sbuf b = {0};
        if (tr->last_iteration < 0 && !m->n_ep)
            sb_puts(&b, "the trial reported no result (no result.json lines, no checkpoint)");
        else if (tr->last_iteration < 0)
            sb_puts(&b, "the trial reported no result (checkpoints without result.json lines)");
        else
            sb_printf(&b,
                      "the trial stopped after epoch %d without finishing (no result with "
                      "done = true, no error.txt)",
                      tr->last_iteration);
        free(m->message);
        m->message = b.s;
    }
    return MZ_OK;
}

/* ---- the dataset ---- */

/* The dataset a trial trained on, from its dataset::dump as the reference's generators write it
 * (data/<DS>/dataset[_28px|_32px].pt): mzoo's name and variant for it, or 0 if not recognised.
 * ResNet-18 zoos use their own preprocessing (variant "resnet"). */
static int dataset_of_dump(const char *dump, const char *arch, char *name, size_t cap,
                           char *variant, size_t vcap)
{
    static const struct {
        const char *dir, *name;
    } dirs[] = {{"MNIST", "mnist"},
                {"F_MNIST", "fashion-mnist"},
                {"FMNIST", "fashion-mnist"},
                {"SVHN", "svhn"},
                {"USPS", "usps"},
                {"CIFAR10", "cifar10"},
                {"CIFAR100", "cifar100"},
                {"STL", "stl10"},
                {"STL10", "stl10"}};
    const char *file = dump ? strrchr(dump, '/') : NULL;
    if (!file || file == dump)
        return 0;
    const char *dir = file - 1;
    while (dir > dump && dir[-1] != '/')
        dir--;
    size_t dl = (size_t)(file - dir);
    file++;
    const char *found = NULL;
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0] && !found; i++)
        if (strlen(dirs[i].dir) == dl && !strncmp(dir, dirs[i].dir, dl))
            found = dirs[i].name;
    const char *v = !strcmp(file, "dataset.pt")        ? ""
                    : !strcmp(file, "dataset_28px.pt") ? "28px"
                    : !strcmp(file, "dataset_32px.pt") ? "32px"
                                                       : NULL;
    if (!found || !v)
        return 0;
    if (!strcmp(arch, "resnet18")) {
        if (strcmp(found, "cifar10") && strcmp(found, "cifar100"))
            return 0;
        v = "resnet";
    }
    snprintf(name, cap, "%s", found);
    snprintf(variant, vcap, "%s", v);
    return 1;
}

/* meta dataset and variant when every trial names the same one */
static void zoo_dataset(mzctx *c)
{
    importer *im = c->im;
    char name[32] = "", variant[16] = "";
    for (int64_t t = 0; t < c->n_trials; t++) {
        char n[32], v[16];
        const mz_ilayout *L = &im->layouts[im->models[t].layout];
        if (!dataset_of_dump(str_param(c->trials[t].params, "dataset::dump"), L->arch, n, sizeof n,
                             v, sizeof v))
            return;
        if (t && (strcmp(n, name) || strcmp(v, variant)))
            return;
        snprintf(name, sizeof name, "%s", n);
        snprintf(variant, sizeof variant, "%s", v);
    }
    if (!name[0])
        return;
    imp_meta(im, "dataset", name);
    if (variant[0])
        imp_meta(im, "variant", variant);
}

/* ---- the second pass ---- */

static mz_status read_weights(mzctx *c, const ckpt *k, const uint8_t *data, size_t size)
{
    importer *im = c->im;
    mz_error *err = im->err;
    imp_model *m = &im->models[k->model];
    const mz_ilayout *L = &im->layouts[m->layout];
    mz_pt *pt = NULL;
    uint64_t zsum = 0;
    mz_status st = open_ckpt(c, k->loc, data, size, &pt, &zsum);
    if (st)
        return st;
    if (zsum != k->zsum || pt_sig(pt) != k->sig) {
        mz_pt_close(pt);
        return mz_fail(err, MZ_EFORMAT,
                       "%s: changed since it was first read in this import (read it again)",
                       k->loc);
    }
    float *w = malloc((size_t)L->n_params * sizeof *w);
    if (!w) {
        mz_pt_close(pt);
        return mz_fail(err, MZ_ENOMEM, "out of memory for %lld weights", (long long)L->n_params);
    }
    for (int i = 0; !st && i < L->n; i++)
        st = mz_pt_read_f32(pt, i, w + L->t[i].offset, L->t[i].count, &im->rep->rounded, err);
    mz_pt_close(pt);
    if (st) {
        free(w);
        return st;
    }
    im->prog_done = ++c->read;
    return imp_put_weights(im, k->model, k->ep, w);
}

static int want_pass2(void *vctx, const char *name)
{
    mzctx *c = vctx;
    if (c->st)
        return -1;
    int64_t k = mz_strmap_get(&c->ckpt_of, name);
    return k >= 0 && imp_wants(c->im, c->ckpts[k].model, c->ckpts[k].ep);
}

static mz_status take_pass2(void *vctx, const char *name, const uint8_t *data, size_t size,
                            mz_error *err)
{
    (void)err;
    mzctx *c = vctx;
    int64_t k = mz_strmap_get(&c->ckpt_of, name);
    return c->st = read_weights(c, &c->ckpts[k], data, size);
}

static void release(mzctx *c)
{
    for (int64_t t = 0; t < c->n_trials; t++) {
        trial *tr = &c->trials[t];
        free(tr->dir);
        json_decref(tr->params);
        free(tr->error_line);
        for (int i = 0; tr->desc && i < tr->n_desc; i++)
            free(tr->desc[i].name);
        free(tr->desc);
    }
    free(c->trials);
    for (int64_t k = 0; k < c->n_ckpts; k++)
        free(c->ckpts[k].loc);
    free(c->ckpts);
    mz_strmap_release(&c->trial_of);
    mz_strmap_release(&c->ckpt_of);
}

mz_status mz_modelzoos_import(importer *im)
{
    mz_error *err = im->err;
    mzctx c;
    memset(&c, 0, sizeof c);
    c.im = im;
    struct stat sb;
    c.archive = stat(im->source, &sb) == 0 && !S_ISDIR(sb.st_mode);
    im->unit = "checkpoints";
    mz_status st;
    if (c.archive) {
        st = mz_archive_scan(im->source, want_pass1, take_pass1, &c, MAX_MEMBER, err);
        if (!st && c.st)
            st = c.st;
    } else {
        st = walk(&c, im->source, 0);
    }
    if (!st && c.n_trials == 0)
        st = mz_fail(err, MZ_EFORMAT,
                     "%s: no trial folders (folders holding params.json) found; a Model Zoos "
                     "raw zoo is a Ray Tune experiment folder",
                     im->source);
    for (int64_t t = 0; !st && t < c.n_trials; t++)
        st = finish_trial(&c, t);
    if (!st)
        zoo_dataset(&c);
    if (st) {
        release(&c);
        return st;
    }
    /* the digest: every trial (sorted by folder name) with its files and checkpoints */
    int64_t *order = malloc((size_t)c.n_trials * sizeof *order);
    for (int64_t t = 0; order && t < c.n_trials; t++)
        order[t] = t;
    for (int64_t i = 1; order && i < c.n_trials; i++) /* insertion sort by model name */
        for (int64_t j = i;
             j > 0 && strcmp(im->models[order[j - 1]].name, im->models[order[j]].name) > 0; j--) {
            int64_t x = order[j];
            order[j] = order[j - 1];
            order[j - 1] = x;
        }
    if (!order) {
        release(&c);
        return mz_fail(err, MZ_ENOMEM, "out of memory");
    }
    for (int64_t i = 0; i < c.n_trials; i++) {
        int64_t t = order[i];
        imp_model *m = &im->models[t];
        mz_digest_str(&im->digest, m->name);
        for (int k = 0; k < F_N; k++) {
            mz_digest_u64(&im->digest, c.trials[t].files[k].fnv);
            mz_digest_u64(&im->digest, c.trials[t].files[k].crc);
            mz_digest_u64(&im->digest, c.trials[t].files[k].bytes);
        }
        if (m->n_ep > 1) /* a trial without epochs has no array: qsort(NULL, 0) is undefined */
            qsort(m->ep, (size_t)m->n_ep, sizeof *m->ep, cmp_epoch);
        for (int x = 0; x < m->n_ep; x++)
            if (m->ep[x].has_ckpt) {
                const ckpt *k = &c.ckpts[m->ep[x].src];
                mz_digest_u64(&im->digest, (uint64_t)m->ep[x].epoch);
                mz_digest_u64(&im->digest, k->zsum);
                mz_digest_u64(&im->digest, k->sig);
            }
    }
    free(order);

    int done = 0;
    st = imp_attach(im, &done);
    /* where each checkpoint's weights go, now that the models are in id order */
    for (int64_t mi = 0; !st && mi < im->n_models; mi++)
        for (int e = 0; e < im->models[mi].n_ep; e++)
            if (im->models[mi].ep[e].has_ckpt) {
                ckpt *k = &c.ckpts[im->models[mi].ep[e].src];
                k->model = mi;
                k->ep = e;
            }
    c.read = 0;
    im->prog_done = 0;
    im->prog_total = im->rep->checkpoints;
    if (!st && !done) {
        if (c.archive) {
            st = mz_archive_scan(im->source, want_pass2, take_pass2, &c, MAX_MEMBER, err);
            if (!st && c.st)
                st = c.st;
        } else {
            for (int64_t mi = 0; !st && mi < im->n_models; mi++)
                for (int e = 0; !st && e < im->models[mi].n_ep; e++)
                    if (imp_wants(im, mi, e))
                        st = read_weights(&c, &c.ckpts[im->models[mi].ep[e].src], NULL, 0);
        }
    }
    if (!st)
        st = imp_finish(im);
    release(&c);
    return st;
}
