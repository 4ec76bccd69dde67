/* The loader and the dataset/bench commands on small zoo files written through the store API with
 * synthetic weights: a CNN-s hyperparameter zoo mixing dropout 0 and 0.5 (two layout variants with
 * different module indices), one checkpoint with a NaN, one with a large weight, one model that
 * stopped early. Checks vectorisation against the known synthetic values, that each filter removes
 * exactly what it says, the split (deterministic, disjoint by model), streaming, the dataset
 * directory round trip, and the CLI (exit codes, messages, files numpy can load). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "mzoo/loader.h"
#include "mzoo/nn.h"
#include "mzoo/probe.h"
#include "mzoo/spec.h"
#include "mzoo/store.h"
#include "mzoo/train.h"

#define N_MODELS 12
#define N_EPOCHS 4
#define NAN_MODEL 5
#define NAN_EPOCH 2
#define BIG_MODEL 7
#define BIG_EPOCH 3
#define SHORT_MODEL 9 /* only epochs 0 and 1 */

static char tmpdir[] = "/tmp/mz_test_loader_zoo_XXXXXX";
static char zoo_path[256];

/* Model m: activation tanh/relu (m / 6), dropout 0 / 0.5 ((m / 3) % 2), seed m % 3 + 1. */
static int model_dropout(int m)
{
    return (m / 3) % 2;
}

/* The synthetic value of parameter j of model m at epoch e. */
static float wval(int m, int e, int64_t j)
{
    return (float)(0.01 * (m + 1) * sin(0.1 * (double)j + m) + 0.001 * e);
}

static double test_acc_of(int m, int e)
{
    return 0.1 + 0.05 * e + 0.01 * m;
}

static void make_zoo(void)
{
    mz_error err = {0};
    mz_arch arch[2];
    CHECK_OK(mz_arch_init(&arch[0], "cnn-s", 1, 28, 28, 0, &err), &err);
    CHECK_OK(mz_arch_init(&arch[1], "cnn-s", 1, 28, 28, 0.5, &err), &err);
    mz_layout layouts[2];
    for (int v = 0; v < 2; v++) {
        memset(&layouts[v], 0, sizeof layouts[v]);
        snprintf(layouts[v].variant, sizeof layouts[v].variant, "%s", arch[v].variant);
        layouts[v].n_tensors = arch[v].n_tensors;
        layouts[v].tensors = arch[v].tensors;
        layouts[v].n_params = arch[v].n_params;
    }
    mz_spec spec;
    memset(&spec, 0, sizeof spec);
    snprintf(spec.dataset, sizeof spec.dataset, "mnist");
    snprintf(spec.architecture, sizeof spec.architecture, "cnn-s");
    spec.epochs = N_EPOCHS - 1;
    spec.batch_size = 10;
    spec.recipe = mz_strdup("{\"test\":\"loader zoo\"}");
    spec.n_models = N_MODELS;
    spec.models = calloc(N_MODELS, sizeof *spec.models);
    const char *variant_of[N_MODELS];
    for (int m = 0; m < N_MODELS; m++) {
        mz_model_spec *s = &spec.models[m];
        s->id = m;
        s->activation = m / 6 ? MZ_ACT_RELU : MZ_ACT_TANH;
        s->init = MZ_INIT_UNIFORM;
        s->optimizer = MZ_OPT_ADAM;
        s->lr = 3e-4;
        s->dropout = model_dropout(m) ? 0.5 : 0;
        s->seed = m % 3 + 1;
        variant_of[m] = arch[model_dropout(m)].variant;
    }
    mz_store *st = NULL;
    CHECK_OK(mz_store_open(&st, zoo_path, MZ_STORE_WRITE, &err), &err);
    mz_grid_desc gd;
    CHECK_OK(mz_grid_desc_make(&gd, &spec, variant_of, layouts, 2, &err), &err);
    CHECK_OK(mz_store_attach(st, &gd.desc, &err), &err);
    int64_t np = arch[0].n_params;
    float *w = malloc((size_t)np * sizeof *w);
    for (int m = 0; m < N_MODELS; m++) {
        int last = m == SHORT_MODEL ? 1 : N_EPOCHS - 1;
        for (int e = 0; e <= last; e++) {
            for (int64_t j = 0; j < np; j++)
                w[j] = wval(m, e, j);
            if (m == NAN_MODEL && e == NAN_EPOCH)
                w[300] = NAN; /* conv2 weight */
            if (m == BIG_MODEL && e == BIG_EPOCH)
                w[2254 - 5] = 10.0f; /* an fc1 bias (layout offset 2234..2253) */
            mz_epoch_record r;
            memset(&r, 0, sizeof r);
            r.model_id = m;
            r.epoch = e;
            r.train_loss = 2.0 - 0.1 * e;
            r.train_acc = test_acc_of(m, e) + 0.02;
            r.val_loss = NAN;
            r.val_acc = NAN;
            r.test_loss = 2.1 - 0.1 * e;
            r.test_acc = test_acc_of(m, e);
            r.weights = w;
            r.n_weights = np;
            r.status = e == last ? (m == SHORT_MODEL ? MZ_MODEL_DIVERGED : MZ_MODEL_DONE)
                                 : MZ_MODEL_RUNNING;
            CHECK_OK(mz_store_commit(st, &r, 1, &err), &err);
        }
    }
    mz_store_close(st);
    mz_grid_desc_release(&gd);
    free(w);
    free(spec.models);
    free(spec.recipe);
}

static mz_loader *open_loader(const mz_loader_options *o)
{
    mz_loader *L = NULL;
    mz_error err = {0};
    CHECK_OK(mz_loader_open(&L, zoo_path, o, &err), &err);
    return L;
}

static void test_default_selection(void)
{
    mz_loader_options o;
    mz_loader_options_default(&o);
    mz_loader *L = open_loader(&o);
    if (!L)
        return;
    const mz_loader_counts *c = mz_loader_get_counts(L);
    const int all = N_MODELS * N_EPOCHS - 2;
    CHECK_EQ_INT(c->models_in_zoo, N_MODELS);
    CHECK_EQ_INT(c->candidates, all);
    CHECK_EQ_INT(c->dropped_where, 0);
    CHECK_EQ_INT(c->dropped_nonfinite, 1);
    CHECK_EQ_INT(c->dropped_max_abs, 0);
    CHECK_EQ_INT(c->samples, all - 1);
    CHECK_EQ_INT(mz_loader_n_samples(L), all - 1);
    /* 12 models: int(0.7*12) = 8 train, int(0.15*12) = 1 val, 3 test */
    CHECK_EQ_INT(c->models[0], 8);
    CHECK_EQ_INT(c->models[1], 1);
    CHECK_EQ_INT(c->models[2], 3);
    const mz_vec_layout *lay = mz_loader_layout(L);
    CHECK_EQ_INT(lay->dim, 2464);
    CHECK_EQ_INT(lay->n_sources, 2);
    CHECK(!strcmp(lay->sources[0].variant, "cnn-s/c1/nodropout")); /* model 0's variant first */
    CHECK_EQ_INT(lay->layers[1].module_index, 3);
    CHECK_EQ_INT(lay->sources[1].module_index[1], 4);
    /* disjoint by model, part-major order, (model, epoch) order within a part */
    const mz_sample_info *s = mz_loader_samples(L);
    int part_of[N_MODELS];
    for (int m = 0; m < N_MODELS; m++)
        part_of[m] = -1;
    int64_t n = mz_loader_n_samples(L);
    for (int64_t i = 0; i < n; i++) {
        CHECK(s[i].model_id >= 0 && s[i].model_id < N_MODELS);
        if (part_of[s[i].model_id] < 0)
            part_of[s[i].model_id] = s[i].part;
        CHECK_MSG(part_of[s[i].model_id] == (int)s[i].part, "model %lld in two parts",
                  (long long)s[i].model_id);
        if (i > 0) {
            CHECK(s[i].part >= s[i - 1].part);
            if (s[i].part == s[i - 1].part)
                CHECK(s[i].model_id > s[i - 1].model_id ||
                      (s[i].model_id == s[i - 1].model_id && s[i].epoch > s[i - 1].epoch));
        }
        CHECK(!(s[i].model_id == NAN_MODEL && s[i].epoch == NAN_EPOCH));
        CHECK_EQ_INT(s[i].source, model_dropout((int)s[i].model_id));
    }
    /* the split agrees with mz_split_by_model on the 12 surviving models */
    int8_t part[N_MODELS];
    mz_error err = {0};
    CHECK_OK(mz_split_by_model(N_MODELS, o.fractions, o.seed, 0, part, &err), &err);
    for (int m = 0; m < N_MODELS; m++)
        CHECK_EQ_INT(part_of[m], part[m]);
    /* properties: aligned with samples */
    int ncol = 0;
    const mz_prop_column *pc = mz_loader_props(L, &ncol);
    const mz_prop_column *ta = NULL, *gg = NULL, *act = NULL, *dr = NULL, *ep = NULL, *va = NULL;
    for (int k = 0; k < ncol; k++) {
        if (!strcmp(pc[k].name, "test_acc"))
            ta = &pc[k];
        if (!strcmp(pc[k].name, "ggap"))
            gg = &pc[k];
        if (!strcmp(pc[k].name, "activation"))
            act = &pc[k];
        if (!strcmp(pc[k].name, "dropout"))
            dr = &pc[k];
        if (!strcmp(pc[k].name, "epoch"))
            ep = &pc[k];
        if (!strcmp(pc[k].name, "val_acc"))
            va = &pc[k];
    }
    CHECK(ta && gg && act && dr && ep && va);
    CHECK(!strcmp(pc[0].name, "test_acc"));
    if (ta && gg && act && dr && ep && va) {
        CHECK(act->kind == MZ_PROP_CATEGORICAL && act->n_levels == 2);
        CHECK(!strcmp(act->levels[0], "relu") && !strcmp(act->levels[1], "tanh"));
        for (int64_t i = 0; i < n; i++) {
            int m = (int)s[i].model_id, e = s[i].epoch;
            CHECK_NEAR(ta->v[i], test_acc_of(m, e), 1e-12);
            CHECK_NEAR(gg->v[i], 0.02, 1e-9);
            CHECK_NEAR(dr->v[i], model_dropout(m) ? 0.5 : 0, 0);
            CHECK_NEAR(ep->v[i], e, 0);
            CHECK(isnan(va->v[i]));
            CHECK_EQ_INT((int)act->v[i], m / 6 ? 0 : 1);
        }
    }
    /* streaming: every sample, with the synthetic values (both variants share the state_dict
     * order, so sample element j is parameter j) */
    const float *x;
    const mz_sample_info *info;
    int64_t count = 0;
    int bad = 0;
    while (mz_loader_next(L, &x, &info, &err) == MZ_OK && x) {
        for (int64_t j = 0; j < 2464; j++) {
            float want = wval((int)info->model_id, info->epoch, j);
            if (info->model_id == BIG_MODEL && info->epoch == BIG_EPOCH && j == 2249)
                want = 10.0f;
            bad += x[j] != want;
        }
        count++;
    }
    CHECK_EQ_INT(count, n);
    CHECK_EQ_INT(bad, 0);
    mz_loader_rewind(L);
    CHECK_OK(mz_loader_next(L, &x, &info, &err), &err);
    CHECK(x != NULL && info == &s[0]);
    /* load_all equals streaming */
    mz_wset w;
    CHECK_OK(mz_loader_load_all(L, &w, 0, &err), &err);
    CHECK_EQ_INT(w.n, n);
    float *one = malloc(2464 * sizeof *one);
    CHECK_OK(mz_loader_read(L, n - 1, one, &err), &err);
    CHECK(!memcmp(one, w.x + (n - 1) * 2464, 2464 * sizeof *one));
    free(one);
    mz_wset_release(&w);
    CHECK(mz_loader_load_all(L, &w, 1000, &err) == MZ_ELIMIT); /* the memory cap */
    mz_wset_release(&w);
    /* deterministic: a second open gives the same samples */
    mz_loader *L2 = open_loader(&o);
    if (L2) {
        CHECK_EQ_INT(mz_loader_n_samples(L2), n);
        const mz_sample_info *s2 = mz_loader_samples(L2);
        int same = 1;
        for (int64_t i = 0; i < n; i++)
            same &= s2[i].model_id == s[i].model_id && s2[i].epoch == s[i].epoch &&
                    s2[i].part == s[i].part && s2[i].source == s[i].source;
        CHECK(same);
        mz_loader_close(L2);
    }
    mz_loader_close(L);
}

static void test_filters(void)
{
    mz_loader_options o;
    mz_loader_options_default(&o);
    const int all = N_MODELS * N_EPOCHS - 2;
    /* max_abs: the one checkpoint with |w| = 10 goes, and only it; the NaN one counts as non-finite
     */
    o.max_abs = 5;
    mz_loader *L = open_loader(&o);
    if (L) {
        const mz_loader_counts *c = mz_loader_get_counts(L);
        CHECK_EQ_INT(c->dropped_nonfinite, 1);
        CHECK_EQ_INT(c->dropped_max_abs, 1);
        CHECK_EQ_INT(c->samples, all - 2);
        const mz_sample_info *s = mz_loader_samples(L);
        for (int64_t i = 0; i < c->samples; i++)
            CHECK(!(s[i].model_id == BIG_MODEL && s[i].epoch == BIG_EPOCH));
        mz_loader_close(L);
    }
    /* the large value is a bias: without biases it is not selected, so nothing is dropped for it */
    o.with_bias = 0;
    L = open_loader(&o);
    if (L) {
        CHECK_EQ_INT(mz_loader_get_counts(L)->dropped_max_abs, 0);
        CHECK_EQ_INT(mz_loader_layout(L)->dim, 2464 - 48);
        mz_loader_close(L);
    }
    o.with_bias = 1;
    o.max_abs = INFINITY;
    /* keep non-finite */
    o.drop_nonfinite = 0;
    L = open_loader(&o);
    if (L) {
        CHECK_EQ_INT(mz_loader_get_counts(L)->samples, all);
        mz_loader_close(L);
    }
    o.drop_nonfinite = 1;
    /* the NaN is in conv2: selecting other layers keeps that checkpoint */
    o.layers = "conv1,fc1,fc2";
    L = open_loader(&o);
    if (L) {
        CHECK_EQ_INT(mz_loader_get_counts(L)->dropped_nonfinite, 0);
        CHECK_EQ_INT(mz_loader_layout(L)->dim, 208 + 740 + 210);
        mz_loader_close(L);
    }
    o.layers = NULL;
    /* --where: exactly the complement is dropped */
    o.where = "dropout > 0 AND activation = 'relu'";
    L = open_loader(&o);
    if (L) {
        const mz_loader_counts *c = mz_loader_get_counts(L);
        /* models 9, 10, 11 (relu, dropout 0.5); 9 has 2 epochs */
        CHECK_EQ_INT(c->samples, 4 + 4 + 2);
        CHECK_EQ_INT(c->dropped_where, all - 10);
        CHECK_EQ_INT(c->dropped_nonfinite, 0); /* the NaN model is excluded first */
        const mz_sample_info *s = mz_loader_samples(L);
        for (int64_t i = 0; i < c->samples; i++)
            CHECK(s[i].model_id >= 9);
        CHECK_EQ_INT(mz_loader_layout(L)->n_sources, 2); /* every variant of the zoo is described */
        mz_loader_close(L);
    }
    o.where = "test_acc > 0.2 AND e.epoch >= 2 AND m.id % 2 = 0";
    L = open_loader(&o);
    if (L) {
        int64_t want = 0;
        for (int m = 0; m < N_MODELS; m += 2)
            for (int e = 2; e < N_EPOCHS; e++)
                want += !(m == SHORT_MODEL) && test_acc_of(m, e) > 0.2 &&
                        !(m == NAN_MODEL && e == NAN_EPOCH);
        CHECK_EQ_INT(mz_loader_get_counts(L)->samples, want);
        mz_loader_close(L);
    }
    /* read-only, single expression */
    static const char *const bad[] = {"1; DROP TABLE models", "1) THEN 1 ELSE 0 END, (SELECT 1",
                                      "no_such_column > 1", "load_extension('x')", ""};
    for (int k = 0; k < 4; k++) {
        o.where = bad[k];
        mz_loader *B = NULL;
        mz_error err = {0};
        CHECK_MSG(mz_loader_open(&B, zoo_path, &o, &err) == MZ_EINVAL, "--where %s accepted",
                  bad[k]);
        CHECK(strstr(err.msg, "--where") != NULL);
        mz_loader_close(B);
    }
    o.where = "(SELECT COUNT(*) FROM models) = 12"; /* subqueries read fine */
    L = open_loader(&o);
    if (L) {
        CHECK_EQ_INT(mz_loader_get_counts(L)->samples, all - 1);
        mz_loader_close(L);
    }
    o.where = NULL;
    /* epochs */
    o.epochs = "1,3";
    L = open_loader(&o);
    if (L) {
        CHECK_EQ_INT(mz_loader_get_counts(L)->candidates, 2 * N_MODELS - 1);
        mz_loader_close(L);
    }
    o.epochs = "last";
    L = open_loader(&o);
    if (L) {
        const mz_sample_info *s = mz_loader_samples(L);
        CHECK_EQ_INT(mz_loader_n_samples(L), N_MODELS);
        for (int64_t i = 0; i < N_MODELS; i++)
            CHECK_EQ_INT(s[i].epoch, s[i].model_id == SHORT_MODEL ? 1 : N_EPOCHS - 1);
        mz_loader_close(L);
    }
    o.epochs = NULL;
    /* max_models and a two-part split */
    o.max_models = 5;
    o.fractions[0] = 0.6;
    o.fractions[1] = 0;
    o.fractions[2] = 0.4;
    L = open_loader(&o);
    if (L) {
        const mz_loader_counts *c = mz_loader_get_counts(L);
        CHECK_EQ_INT(c->models[0], 3);
        CHECK_EQ_INT(c->models[1], 0);
        CHECK_EQ_INT(c->models[2], 2);
        CHECK_EQ_INT(c->samples + c->dropped_max_models, all - 1);
        mz_loader_close(L);
    }
    /* errors name the file */
    mz_loader *B = NULL;
    mz_error err = {0};
    mz_loader_options_default(&o);
    CHECK(mz_loader_open(&B, "/nonexistent/zoo.db", &o, &err) == MZ_ENOTFOUND);
    o.layers = "conv9";
    CHECK(mz_loader_open(&B, zoo_path, &o, &err) == MZ_EINVAL);
    CHECK(strstr(err.msg, zoo_path) != NULL && strstr(err.msg, "conv9") != NULL);
}

static void test_dataset_dir(void)
{
    mz_loader_options o;
    mz_loader_options_default(&o);
    mz_loader *L = open_loader(&o);
    if (!L)
        return;
    char dir[300];
    snprintf(dir, sizeof dir, "%s/ds", tmpdir);
    mz_error err = {0};
    CHECK_OK(mz_dataset_write(L, dir, MZ_FMT_NPZ | MZ_FMT_NPY | MZ_FMT_SAFETENSORS, "zoo.db", &err),
             &err);
    mz_wset a, b;
    CHECK_OK(mz_loader_load_all(L, &a, 0, &err), &err);
    CHECK_OK(mz_dataset_read(&b, dir, &err), &err);
    CHECK_EQ_INT(a.n, b.n);
    CHECK_EQ_INT(a.dim, b.dim);
    if (a.n == b.n && a.dim == b.dim) {
        CHECK(!memcmp(a.x, b.x, (size_t)(a.n * a.dim) * sizeof *a.x));
        for (int64_t i = 0; i < a.n; i++)
            CHECK(a.samples[i].model_id == b.samples[i].model_id &&
                  a.samples[i].epoch == b.samples[i].epoch &&
                  a.samples[i].part == b.samples[i].part);
        CHECK_EQ_INT(a.n_props, b.n_props);
        for (int k = 0; k < a.n_props && k < b.n_props; k++) {
            CHECK(!strcmp(a.props[k].name, b.props[k].name) && a.props[k].kind == b.props[k].kind);
            int same = 1;
            for (int64_t i = 0; i < a.n; i++)
                same &= (isnan(a.props[k].v[i]) && isnan(b.props[k].v[i])) ||
                        a.props[k].v[i] == b.props[k].v[i];
            CHECK_MSG(same, "property %s differs after the round trip", a.props[k].name);
        }
        CHECK_EQ_INT(b.layout.n_layers, 5);
        CHECK_EQ_INT(b.layout.layers[3].idx_start, 1514);
    }
    mz_wset_release(&a);
    mz_wset_release(&b);
    /* properties.csv: header + one line per sample */
    char path[400], line[4096];
    snprintf(path, sizeof path, "%s/properties.csv", dir);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    int lines = 0;
    while (f && fgets(line, sizeof line, f))
        lines++;
    if (f)
        fclose(f);
    CHECK_EQ_INT(lines, mz_loader_n_samples(L) + 1);
    mz_loader_close(L);
    /* the benchmark runs on the directory (a quick configuration) */
    mz_wset w;
    CHECK_OK(mz_dataset_read(&w, dir, &err), &err);
    mz_bench_options bo;
    mz_bench_options_default(&bo);
    bo.xgb.max_rounds = 10;
    bo.softmax.epochs = 2;
    mz_bench_result r;
    CHECK_OK(mz_bench_run(&w, &bo, &r, &err), &err);
    int has_ta = 0, skipped_lr = 0;
    for (int i = 0; i < r.n_rows; i++)
        has_ta |= !strcmp(r.rows[i].property, "test_acc");
    for (int i = 0; i < r.n_skipped; i++)
        skipped_lr |= !strcmp(r.skipped[i].property, "lr");
    CHECK(has_ta && skipped_lr);
    mz_bench_result_release(&r);
    /* a property named that the data lacks is an error listing those there are */
    const char *typo[] = {"test_acc", "accuracy"};
    bo.properties = typo;
    bo.n_properties = 2;
    CHECK(mz_bench_run(&w, &bo, &r, &err) == MZ_EINVAL);
    CHECK_MSG(strstr(err.msg, "'accuracy'") && strstr(err.msg, "test_acc, val_acc"), "%s", err.msg);
    CHECK(mz_bench_check_properties(w.props, w.n_props, &bo, &err) == MZ_EINVAL);
    bo.n_properties = 1;
    CHECK_OK(mz_bench_check_properties(w.props, w.n_props, &bo, &err), &err);
    mz_wset_release(&w);
}

/* 1 if path exists. */
static int exists(const char *dir, const char *name)
{
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

/* Entries of tmpdir whose names start with prefix. */
static int count_prefixed(const char *prefix)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "ls -a '%s' | grep -c '^%s' > '%s/count.txt'", tmpdir, prefix,
             tmpdir);
    if (system(cmd) < 0)
        return -1;
    snprintf(cmd, sizeof cmd, "%s/count.txt", tmpdir);
    FILE *f = fopen(cmd, "r");
    int n = -1;
    if (f && fscanf(f, "%d", &n) != 1)
        n = -1;
    if (f)
        fclose(f);
    return n;
}

/* A second export over the first replaces it whole (no file of the first stays); a directory
 * holding a file an export does not write is refused and left as it is; an empty directory is
 * used; nothing is left beside the directory; an epoch the zoo lacks is an error. */
static void test_dataset_rewrite(void)
{
    mz_loader_options o;
    mz_loader_options_default(&o);
    mz_loader *L = open_loader(&o);
    if (!L)
        return;
    char dir[300], stray[400];
    snprintf(dir, sizeof dir, "%s/re", tmpdir);
    mz_error err = {0};
    CHECK_OK(mz_dataset_write(L, dir, MZ_FMT_NPZ | MZ_FMT_NPY, "zoo.db", &err), &err);
    CHECK(exists(dir, "x_train.npy") && exists(dir, "dataset.npz"));
    CHECK_EQ_INT(count_prefixed("re"), 1); /* the check below can see names */
    CHECK_OK(mz_dataset_write(L, dir, MZ_FMT_SAFETENSORS, "zoo.db", &err), &err);
    CHECK_MSG(!exists(dir, "x_train.npy") && !exists(dir, "dataset.npz") &&
                  exists(dir, "dataset.safetensors") && exists(dir, "dataset.json"),
              "a second export into %s left the first's files", dir);
    CHECK_EQ_INT(count_prefixed("re\\."), 0); /* no re.partial-* or re.old-* */
    snprintf(stray, sizeof stray, "%s/notes.txt", dir);
    FILE *f = fopen(stray, "w");
    if (f)
        fclose(f);
    CHECK(mz_dataset_write(L, dir, MZ_FMT_NPZ, "zoo.db", &err) == MZ_EINVAL);
    CHECK_MSG(strstr(err.msg, "notes.txt") != NULL, "%s", err.msg);
    CHECK(exists(dir, "notes.txt") && exists(dir, "dataset.safetensors") &&
          !exists(dir, "dataset.npz"));
    CHECK_EQ_INT(count_prefixed("re\\."), 0);
    snprintf(dir, sizeof dir, "%s/empty", tmpdir);
    CHECK(mkdir(dir, 0777) == 0);
    CHECK_OK(mz_dataset_write(L, dir, MZ_FMT_NPZ, "zoo.db", &err), &err);
    CHECK(exists(dir, "dataset.npz"));
    mz_loader_close(L);
    o.epochs = "1,40-41";
    CHECK(mz_loader_open(&L, zoo_path, &o, &err) == MZ_EINVAL);
    CHECK_MSG(strstr(err.msg, "epochs 40-41 are in no model") != NULL, "%s", err.msg);
}

/* Runs a shell command; returns its exit status. */
static int run(const char *cmd)
{
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void test_cli(void)
{
    const char *bin = getenv("MZ_BIN");
    if (!bin || access(bin, X_OK) != 0) {
        printf("MZ_BIN not set: CLI checks skipped\n");
        return;
    }
    char cmd[4096], out[300], err_file[300];
    snprintf(out, sizeof out, "%s/cli", tmpdir);
    snprintf(err_file, sizeof err_file, "%s/stderr.txt", tmpdir);
    snprintf(cmd, sizeof cmd,
             "'%s' dataset '%s' -o '%s' --format npz,safetensors --epochs 1-3 --max-abs 5 -q", bin,
             zoo_path, out);
    CHECK_EQ_INT(run(cmd), 0);
    snprintf(cmd, sizeof cmd,
             "test -s '%s/dataset.npz' && test -s '%s/dataset.safetensors' && test -s "
             "'%s/index_dict.json'",
             out, out, out);
    CHECK_EQ_INT(run(cmd), 0);
    /* usage errors exit 2 with "mzoo: " on stderr; failures exit 1 */
    snprintf(cmd, sizeof cmd, "'%s' dataset '%s' 2>'%s' >/dev/null", bin, zoo_path, err_file);
    CHECK_EQ_INT(run(cmd), 2);
    snprintf(cmd, sizeof cmd, "grep -q '^mzoo: dataset: missing -o DIR' '%s'", err_file);
    CHECK_EQ_INT(run(cmd), 0);
    snprintf(cmd, sizeof cmd, "'%s' dataset '%s' -o '%s/x' --where '1; DROP TABLE models' 2>'%s'",
             bin, zoo_path, tmpdir, err_file);
    CHECK_EQ_INT(run(cmd), 2);
    snprintf(cmd, sizeof cmd, "grep -q '^mzoo: --where' '%s'", err_file);
    CHECK_EQ_INT(run(cmd), 0);
    snprintf(cmd, sizeof cmd, "'%s' dataset '%s' -o '%s/x' --split 0.5,0.6 2>/dev/null", bin,
             zoo_path, tmpdir);
    CHECK_EQ_INT(run(cmd), 2);
    snprintf(cmd, sizeof cmd, "'%s' dataset '%s/missing.db' -o '%s/x' 2>/dev/null", bin, tmpdir,
             tmpdir);
    CHECK_EQ_INT(run(cmd), 1);
    snprintf(cmd, sizeof cmd, "'%s' dataset '%s' -o '%s/x' --where 'test_acc > 5' 2>/dev/null", bin,
             zoo_path, tmpdir);
    CHECK_EQ_INT(run(cmd), 1); /* nothing left */
    snprintf(cmd, sizeof cmd, "'%s' dataset --help | grep -q -- '--where'", bin);
    CHECK_EQ_INT(run(cmd), 0);
    snprintf(cmd, sizeof cmd, "'%s' bench --help | grep -q -- '--properties'", bin);
    CHECK_EQ_INT(run(cmd), 0);
    /* bench on the zoo and on the dataset directory */
    snprintf(cmd, sizeof cmd,
             "'%s' bench '%s' -q --xgb-rounds 10 --properties test_acc,epoch,activation,lr --json "
             "'%s/b.json' >'%s/b.txt'",
             bin, zoo_path, tmpdir, tmpdir);
    CHECK_EQ_INT(run(cmd), 0);
    snprintf(cmd, sizeof cmd,
             "grep -q 'lr: skipped, constant' '%s/b.txt' && grep -q '\"mzoo-bench-1\"' '%s/b.json'",
             tmpdir, tmpdir);
    CHECK_EQ_INT(run(cmd), 0);
    snprintf(cmd, sizeof cmd, "'%s' bench '%s' -q --models ridge --features stats > /dev/null", bin,
             out);
    CHECK_EQ_INT(run(cmd), 0);
    snprintf(cmd, sizeof cmd, "'%s' bench '%s' -q --epochs 1 2>/dev/null", bin, out);
    CHECK_EQ_INT(run(cmd), 2); /* selection options do not apply to a dataset directory */
    snprintf(cmd, sizeof cmd, "'%s' bench '%s' --models svm 2>/dev/null", bin, out);
    CHECK_EQ_INT(run(cmd), 2);
    /* numpy loads what we wrote (when Debian's python3 with numpy is there) */
    if (run("/usr/bin/python3 -c 'import numpy' 2>/dev/null") == 0) {
        snprintf(
            cmd, sizeof cmd,
            "cd '%s' && /usr/bin/python3 -c \"\nimport json, struct, numpy as np\nd = "
            "np.load('dataset.npz')\n"
            "m = json.load(open('dataset.json'))\nn = m['counts']['part_samples']\n"
            "assert d['x_train'].shape == (n['train'], 2464) and d['x_train'].dtype == np.float32\n"
            "assert d['model_id_test'].shape == (n['test'],)\n"
            "assert set(d['model_id_train']).isdisjoint(d['model_id_test'])\n"
            "b = open('dataset.safetensors', 'rb').read(); k = struct.unpack('<Q', b[:8])[0]\n"
            "h = json.loads(b[8:8 + k]); o = h['x_train']['data_offsets']\n"
            "x = np.frombuffer(b[8 + k + o[0]:8 + k + o[1]], "
            "dtype='<f4').reshape(h['x_train']['shape'])\n"
            "assert (x == d['x_train']).all()\n"
            "p = json.load(open('properties.json'))\n"
            "assert len(p['train']['test_acc']) == n['train']\n"
            "i = json.load(open('index_dict.json'))\n"
            "assert i['idx_start'] == [0, 208, 1414, 1514, 2254] and i['kernel_size'] == [25, 25, "
            "4, 9, 1]\n"
            "assert i['module_index']['cnn-s/c1/dropout'] == [0, 4, 8, 11, 14]\n\"",
            out);
        CHECK_EQ_INT(run(cmd), 0);
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s/x' '%s/b.json' '%s/b.txt' '%s'", out, tmpdir, tmpdir,
             tmpdir, err_file);
    run(cmd);
}

/* The absmax the store keeps per checkpoint (10 for the big one, +Inf for the NaN one); then the
 * filters again with it unknown (NULL, as in rows of older files), reading every blob. */
static void test_absmax_column(void)
{
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(zoo_path, &db) == SQLITE_OK);
    sqlite3_stmt *q = NULL;
    CHECK(sqlite3_prepare_v2(db,
                             "SELECT model_id, epoch, weights_absmax FROM epochs WHERE "
                             "weights_absmax > 5 ORDER BY 1, 2",
                             -1, &q, NULL) == SQLITE_OK);
    int n = 0;
    while (q && sqlite3_step(q) == SQLITE_ROW) {
        int m = sqlite3_column_int(q, 0), e = sqlite3_column_int(q, 1);
        double a = sqlite3_column_double(q, 2);
        CHECK((m == NAN_MODEL && e == NAN_EPOCH && isinf(a)) ||
              (m == BIG_MODEL && e == BIG_EPOCH && a == 10.0));
        n++;
    }
    sqlite3_finalize(q);
    CHECK_EQ_INT(n, 2);
    CHECK(sqlite3_exec(db, "UPDATE epochs SET weights_absmax = NULL", NULL, NULL, NULL) ==
          SQLITE_OK);
    sqlite3_close(db);
    test_filters();
}

int main(void)
{
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(zoo_path, sizeof zoo_path, "%s/zoo.db", tmpdir);
    make_zoo();
    test_default_selection();
    test_filters();
    test_dataset_dir();
    test_dataset_rewrite();
    test_cli();
    test_absmax_column();
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    run(cmd);
    return check_summary("test_loader_zoo");
}
