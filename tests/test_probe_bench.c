/* The benchmark driver on a synthetic in-memory weight dataset whose properties are known
 * functions of the weights: ridge recovers a linear property from s(W) and W, the classifiers
 * separate a categorical property, constant / absent / all-NaN properties are skipped with a
 * reason, NaN targets are dropped per part, results are identical across runs, and the JSON
 * output carries every row. Also: several ridge targets solved together equal one at a time. */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "mzoo/probe.h"

#define N 240
#define D 30 /* two layers: w 12 + b 3, w 12 + b 3 */

static mz_prop_column numeric(const char *name)
{
    mz_prop_column c;
    memset(&c, 0, sizeof c);
    snprintf(c.name, sizeof c.name, "%s", name);
    c.v = malloc(N * sizeof *c.v);
    return c;
}

static void make_set(mz_wset *w)
{
    memset(w, 0, sizeof *w);
    w->n = N;
    w->dim = D;
    w->x = malloc(N * D * sizeof *w->x);
    w->samples = malloc(N * sizeof *w->samples);
    mz_vec_layout *L = &w->layout;
    L->n_layers = 2;
    L->with_bias = 1;
    L->dim = D;
    for (int l = 0; l < 2; l++) {
        snprintf(L->layers[l].name, sizeof L->layers[l].name, "fc%d", l + 1);
        snprintf(L->layers[l].type, sizeof L->layers[l].type, "fc");
        L->layers[l].idx_start = 15 * l;
        L->layers[l].idx_length = 15;
        L->layers[l].n_weights = 12;
        L->layers[l].n_bias = 3;
    }
    mz_rng_stream s = mz_rng_make(5, MZ_RNG_USER, 0, 0, 0);
    mz_rng_normal(&s, w->x, N * D);
    w->n_props = 6;
    w->props = calloc(6, sizeof *w->props);
    w->props[0] = numeric("test_acc");   /* linear in the layer-1 weight mean */
    w->props[1] = numeric("lr");         /* constant */
    w->props[2] = numeric("val_acc");    /* all NaN */
    w->props[3] = numeric("epoch");      /* linear in x[0], some NaN */
    w->props[4] = numeric("activation"); /* categorical by the sign of the layer-2 bias mean */
    w->props[4].kind = MZ_PROP_CATEGORICAL;
    w->props[4].n_levels = 3;
    w->props[4].levels = malloc(3 * sizeof(char *));
    w->props[4].levels[0] = mz_strdup("relu");
    w->props[4].levels[1] = mz_strdup("tanh");
    w->props[4].levels[2] = mz_strdup("unused");
    w->props[5] = numeric("init"); /* categorical, one level */
    w->props[5].kind = MZ_PROP_CATEGORICAL;
    w->props[5].n_levels = 1;
    w->props[5].levels = malloc(sizeof(char *));
    w->props[5].levels[0] = mz_strdup("uniform");
    for (int i = 0; i < N; i++) {
        const float *x = w->x + i * D;
        w->samples[i].model_id = i / 2;
        w->samples[i].epoch = i % 2;
        w->samples[i].part = i < 160 ? MZ_PART_TRAIN : i < 200 ? MZ_PART_VAL : MZ_PART_TEST;
        w->samples[i].source = -1;
        double m1 = 0, b2 = 0;
        for (int j = 0; j < 12; j++)
            m1 += x[j] / 12.0;
        for (int j = 27; j < 30; j++)
            b2 += x[j] / 3.0;
        w->props[0].v[i] = 0.5 + 0.2 * m1;
        w->props[1].v[i] = 3e-4;
        w->props[2].v[i] = NAN;
        w->props[3].v[i] = i % 7 == 0 ? NAN : 2.0 * x[0] - 1.0;
        w->props[4].v[i] = b2 > 0 ? 1 : 0;
        w->props[5].v[i] = 0;
    }
}

static const mz_bench_row *find_row(const mz_bench_result *r, const char *prop, mz_probe_model m,
                                    mz_probe_features f)
{
    for (int i = 0; i < r->n_rows; i++)
        if (!strcmp(r->rows[i].property, prop) && r->rows[i].model == m && r->rows[i].features == f)
            return &r->rows[i];
    return NULL;
}

static const char *skip_reason(const mz_bench_result *r, const char *prop)
{
    for (int i = 0; i < r->n_skipped; i++)
        if (!strcmp(r->skipped[i].property, prop))
            return r->skipped[i].reason;
    return NULL;
}

static void test_driver(void)
{
    mz_wset w;
    make_set(&w);
    mz_bench_options o;
    mz_bench_options_default(&o);
    o.xgb.max_rounds = 60; /* keep the test fast */
    const char *props[] = {"test_acc", "lr", "val_acc", "epoch", "activation", "init", "missing"};
    o.properties = props;
    o.n_properties = 7;
    mz_bench_result r, r2;
    mz_error err = {0};
    /* a property named that the data lacks is an error naming it and listing what there is */
    CHECK(mz_bench_run(&w, &o, &r, &err) == MZ_EINVAL);
    CHECK_MSG(strstr(err.msg, "unknown property 'missing'") &&
                  strstr(err.msg, "(expected test_acc, lr, val_acc, epoch, activation, init)"),
              "%s", err.msg);
    o.n_properties = 6;
    CHECK_OK(mz_bench_run(&w, &o, &r, &err), &err);
    CHECK_EQ_INT(r.n_samples[0], 160);
    CHECK_EQ_INT(r.n_samples[1], 40);
    CHECK_EQ_INT(r.n_samples[2], 40);
    CHECK_EQ_INT(r.dim_w, D);
    CHECK_EQ_INT(r.dim_stats, 28);
    /* skipped with reasons */
    CHECK(skip_reason(&r, "lr") && strstr(skip_reason(&r, "lr"), "constant"));
    CHECK(skip_reason(&r, "val_acc") && !strcmp(skip_reason(&r, "val_acc"), "no values"));
    CHECK(skip_reason(&r, "init") && strstr(skip_reason(&r, "init"), "uniform"));
    CHECK(!find_row(&r, "lr", MZ_PROBE_RIDGE, MZ_FEAT_W));
    /* test_acc is exactly linear in s(W)'s first feature and in W */
    for (int f = 0; f < 2; f++) {
        const mz_bench_row *row = find_row(&r, "test_acc", MZ_PROBE_RIDGE, (mz_probe_features)f);
        CHECK(row != NULL);
        if (!row)
            continue;
        CHECK_MSG(row->score[2] > 0.99, "ridge on %s: test R^2 %g",
                  mz_probe_features_name((mz_probe_features)f), row->score[2]);
        CHECK(row->tau[2] > 0.9);
        CHECK(row->lambda > 0);
        CHECK_EQ_INT(row->n[0], 160);
    }
    /* epoch (NaN for i % 7 == 0) uses only samples with values */
    const mz_bench_row *ep = find_row(&r, "epoch", MZ_PROBE_RIDGE, MZ_FEAT_W);
    CHECK(ep != NULL);
    if (ep) {
        int64_t want[3] = {0, 0, 0};
        for (int i = 0; i < N; i++)
            want[w.samples[i].part] += i % 7 != 0;
        for (int p = 0; p < 3; p++)
            CHECK_EQ_INT(ep->n[p], want[p]);
        CHECK_MSG(ep->score[2] > 0.99, "epoch test R^2 %g", ep->score[2]);
    }
    /* categorical: the classifier and trees on s(W) separate the classes well */
    const mz_bench_row *lin = find_row(&r, "activation", MZ_PROBE_LINEAR, MZ_FEAT_STATS);
    CHECK(lin != NULL);
    if (lin) {
        CHECK_EQ_INT(lin->n_classes, 2);
        CHECK(isnan(lin->tau[2]));
        CHECK_MSG(lin->score[0] >= 0.5 && lin->score[0] <= 1.0, "linear train accuracy %g",
                  lin->score[0]);
    }
    if (mz_xgb_available()) {
        const mz_bench_row *xg = find_row(&r, "activation", MZ_PROBE_XGB, MZ_FEAT_STATS);
        CHECK(xg != NULL);
        if (xg)
            CHECK_MSG(xg->score[2] >= 0.85, "xgboost test accuracy %g", xg->score[2]);
        const mz_bench_row *xr = find_row(&r, "test_acc", MZ_PROBE_XGB, MZ_FEAT_STATS);
        CHECK(xr != NULL && xr->score[2] > 0.8 && xr->best_iteration >= 0);
    }
    /* deterministic */
    CHECK_OK(mz_bench_run(&w, &o, &r2, &err), &err);
    CHECK_EQ_INT(r.n_rows, r2.n_rows);
    for (int i = 0; i < r.n_rows && i < r2.n_rows; i++)
        CHECK(!memcmp(r.rows[i].score, r2.rows[i].score, sizeof r.rows[i].score) &&
              !memcmp(r.rows[i].tau, r2.rows[i].tau, sizeof r.rows[i].tau));
    /* JSON */
    char path[] = "/tmp/mz_test_bench_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    CHECK_OK(mz_bench_write_json(&r, "synthetic", path, &err), &err);
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    CHECK(j != NULL);
    if (j) {
        CHECK((int)json_array_size(json_object_get(j, "results")) == r.n_rows);
        CHECK((int)json_array_size(json_object_get(j, "skipped")) == r.n_skipped);
        json_t *first = json_array_get(json_object_get(j, "results"), 0);
        CHECK(json_is_number(json_object_get(json_object_get(first, "test"), "r2")) ||
              json_is_number(json_object_get(json_object_get(first, "test"), "accuracy")));
        CHECK(!strcmp(json_string_value(json_object_get(j, "format")), "mzoo-bench-1"));
        json_decref(j);
    }
    remove(path);
    /* the table mentions skipped properties */
    FILE *t = tmpfile();
    mz_bench_print_table(&r, t);
    if (getenv("MZ_TEST_VERBOSE"))
        mz_bench_print_table(&r, stdout);
    rewind(t);
    char buf[8192];
    size_t nr = fread(buf, 1, sizeof buf - 1, t);
    buf[nr] = 0;
    fclose(t);
    CHECK(strstr(buf, "lr: skipped, constant") != NULL);
    CHECK(strstr(buf, "test_acc") != NULL && strstr(buf, "lambda=") != NULL);
    mz_bench_result_release(&r);
    mz_bench_result_release(&r2);
    mz_wset_release(&w);
}

/* The default properties skip, with a reason, those the data lacks (an imported zoo has no
 * val_acc, a set no ggap): only a property the user names must exist. */
static void test_default_properties(void)
{
    mz_wset w;
    make_set(&w);
    mz_bench_options o;
    mz_bench_options_default(&o);
    o.models[MZ_PROBE_LINEAR] = o.models[MZ_PROBE_XGB] = 0;
    mz_bench_result r;
    mz_error err = {0};
    CHECK_OK(mz_bench_run(&w, &o, &r, &err), &err);
    CHECK(skip_reason(&r, "ggap") && !strcmp(skip_reason(&r, "ggap"), "not in the data"));
    CHECK(find_row(&r, "test_acc", MZ_PROBE_RIDGE, MZ_FEAT_W) != NULL);
    mz_bench_result_release(&r);
    mz_wset_release(&w);
}

static void test_multi_targets(void)
{
    enum { n = 50, d = 8, nt = 3 };
    double X[n * d], Y[nt * n];
    mz_rng_stream s = mz_rng_make(9, MZ_RNG_USER, 1, 0, 0);
    for (int i = 0; i < n * d; i++)
        X[i] = mz_u64_to_unit_double(mz_rng_u32(&s, 2 * i), mz_rng_u32(&s, 2 * i + 1)) - 0.5;
    for (int t = 0; t < nt; t++)
        for (int i = 0; i < n; i++)
            Y[t * n + i] = X[i * d + t] * (t + 1) + 0.1 * X[i * d + 7];
    const double lam[2] = {1, 1e-3};
    double all[nt * 2 * (d + 1)], one[2 * (d + 1)];
    mz_error err = {0};
    for (int backend = MZ_LINALG_REFERENCE; backend <= MZ_LINALG_LAPACK; backend++) {
        if (backend == MZ_LINALG_LAPACK && !mz_linalg_have_lapack())
            continue;
        CHECK_OK(mz_ridge_path_multi(X, n, d, Y, nt, lam, 2, (mz_linalg)backend, 1, all, &err),
                 &err);
        for (int t = 0; t < nt; t++) {
            CHECK_OK(mz_ridge_path(X, n, d, Y + t * n, lam, 2, (mz_linalg)backend, 1, one, &err),
                     &err);
            double worst = 0;
            for (int k = 0; k < 2 * (d + 1); k++)
                worst = fmax(worst, fabs(one[k] - all[t * 2 * (d + 1) + k]));
            CHECK_MSG(worst < 1e-12, "target %d backend %d: %g", t, backend, worst);
        }
    }
}

int main(void)
{
    test_multi_targets();
    test_driver();
    test_default_properties();
    return check_summary("test_probe_bench");
}
