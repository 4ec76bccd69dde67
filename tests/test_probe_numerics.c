/* Probe numerics against golden values from tools/make_probe_fixtures.py (numpy, scipy, sklearn):
 * percentiles and tensor statistics, ridge solutions (numpy's solve of the same normal equations
 * and sklearn's Ridge) and the lambda selection, R^2, Kendall's tau-b with ties, the linear softmax
 * classifier on a separable problem, and XGBoost on a nonlinear function. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mzoo/probe.h"

static json_t *load_fixture(const char *name)
{
    const char *dir = getenv("MZ_TEST_DATA");
    char path[1024];
    snprintf(path, sizeof path, "%s/probe/%s", dir ? dir : "tests/data", name);
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j) {
        fprintf(stderr, "cannot read fixture %s: %s (line %d)\n", path, je.text, je.line);
        exit(1);
    }
    return j;
}

/* JSON number array (null -> NaN) into a new double array. */
static double *darray(json_t *a, size_t *n)
{
    size_t len = json_array_size(a);
    double *v = malloc((len ? len : 1) * sizeof *v);
    for (size_t i = 0; i < len; i++) {
        json_t *e = json_array_get(a, i);
        v[i] = json_is_number(e) ? json_number_value(e) : NAN;
    }
    if (n)
        *n = len;
    return v;
}

static double num(json_t *o, const char *k)
{
    json_t *e = json_object_get(o, k);
    return json_is_number(e) ? json_number_value(e) : NAN;
}

/* |a - b| <= tol * max(1, |b|) */
static int close_rel(double a, double b, double tol)
{
    return fabs(a - b) <= tol * fmax(1.0, fabs(b));
}

static void test_stats(void)
{
    json_t *j = load_fixture("stats.json");
    json_t *cases = json_object_get(j, "tensors");
    for (size_t c = 0; c < json_array_size(cases); c++) {
        json_t *o = json_array_get(cases, c);
        size_t n;
        double *x = darray(json_object_get(o, "x"), &n);
        double *pq = darray(json_object_get(o, "percentiles"), NULL);
        float *xf = malloc(n * sizeof *xf);
        double *scratch = malloc(n * sizeof *scratch), out[MZ_STATS_PER_TENSOR];
        for (size_t i = 0; i < n; i++)
            xf[i] = (float)x[i];
        mz_tensor_stats(xf, (int64_t)n, scratch, out);
        CHECK_MSG(close_rel(out[0], num(o, "mean"), 1e-14), "case %zu mean %.17g vs %.17g", c,
                  out[0], num(o, "mean"));
        CHECK_MSG(close_rel(out[1], num(o, "var"), 1e-13), "case %zu var %.17g vs %.17g", c, out[1],
                  num(o, "var"));
        for (int k = 0; k < 5; k++)
            CHECK_MSG(close_rel(out[2 + k], pq[k], 1e-15),
                      "case %zu percentile %d: %.17g vs numpy %.17g", c, k, out[2 + k], pq[k]);
        free(x);
        free(pq);
        free(xf);
        free(scratch);
    }
    size_t n, nq;
    double *a = darray(json_object_get(j, "sorted"), &n);
    double *q = darray(json_object_get(j, "q"), &nq);
    double *v = darray(json_object_get(j, "values"), NULL);
    for (size_t k = 0; k < nq; k++) {
        double got = mz_percentile_sorted(a, (int64_t)n, q[k]);
        CHECK_MSG(close_rel(got, v[k], 1e-15), "q=%g: %.17g vs numpy %.17g", q[k], got, v[k]);
    }
    CHECK(isnan(mz_percentile_sorted(a, 0, 50)));
    free(a);
    free(q);
    free(v);
    json_decref(j);

    /* s(W) feature layout on a hand-made two-layer map */
    mz_vec_layout L;
    memset(&L, 0, sizeof L);
    L.n_layers = 2;
    L.with_bias = 1;
    snprintf(L.layers[0].name, sizeof L.layers[0].name, "conv1");
    L.layers[0].idx_start = 0;
    L.layers[0].n_weights = 4;
    L.layers[0].n_bias = 2;
    snprintf(L.layers[1].name, sizeof L.layers[1].name, "fc1");
    L.layers[1].idx_start = 6;
    L.layers[1].n_weights = 3;
    L.layers[1].n_bias = 1;
    L.dim = 10;
    float x[10] = {1, 2, 3, 4, /* b */ 5, 7, /* fc1 */ -1, 0, 1, /* b */ 9};
    double scratch[10], f[28];
    CHECK_EQ_INT(mz_stats_dim(&L), 28);
    mz_stats_features(&L, x, scratch, f);
    CHECK_NEAR(f[0], 2.5, 1e-15);  /* conv1.w.mean */
    CHECK_NEAR(f[1], 1.25, 1e-15); /* conv1.w.var */
    CHECK_NEAR(f[4], 2.5, 1e-15);  /* conv1.w.p50 */
    CHECK_NEAR(f[7], 6.0, 1e-15);  /* conv1.b.mean */
    CHECK_NEAR(f[14], 0.0, 1e-15); /* fc1.w.mean */
    CHECK_NEAR(f[21], 9.0, 1e-15); /* fc1.b.mean */
    CHECK_NEAR(f[22], 0.0, 1e-15); /* fc1.b.var */
    char name[64];
    mz_stats_feature_name(&L, 13, name, sizeof name);
    CHECK(!strcmp(name, "conv1.b.p99"));
    mz_stats_feature_name(&L, 16, name, sizeof name);
    CHECK(!strcmp(name, "fc1.w.p1"));
}

static void test_ridge(void)
{
    json_t *j = load_fixture("ridge.json");
    json_t *cases = json_object_get(j, "cases");
    for (size_t c = 0; c < json_array_size(cases); c++) {
        json_t *o = json_array_get(cases, c);
        const char *name = json_string_value(json_object_get(o, "name"));
        int64_t d = (int64_t)num(o, "d"), ntr = (int64_t)num(o, "n_train"),
                nva = (int64_t)num(o, "n_val"), nte = (int64_t)num(o, "n_test");
        double *X = darray(json_object_get(o, "x"), NULL),
               *y = darray(json_object_get(o, "y"), NULL);
        json_t *coefs = json_object_get(o, "coefs"), *skc = json_object_get(o, "sklearn_coefs");
        double *path = malloc((size_t)(MZ_RIDGE_N_LAMBDAS * (d + 1)) * sizeof *path);
        for (int backend = MZ_LINALG_REFERENCE; backend <= MZ_LINALG_LAPACK; backend++) {
            if (backend == MZ_LINALG_LAPACK && !mz_linalg_have_lapack())
                continue;
            mz_error err = {0};
            CHECK_OK(mz_ridge_path(X, ntr, d, y, mz_ridge_lambdas, MZ_RIDGE_N_LAMBDAS,
                                   (mz_linalg)backend, 1, path, &err),
                     &err);
            double worst = 0, worst_sk = 0;
            for (int k = 0; k < MZ_RIDGE_N_LAMBDAS; k++) {
                double *ref = darray(json_array_get(coefs, (size_t)k), NULL);
                double *sk = darray(json_array_get(skc, (size_t)k), NULL);
                for (int64_t i = 0; i <= d; i++) {
                    double e = fabs(path[k * (d + 1) + i] - ref[i]) / fmax(1.0, fabs(ref[i]));
                    double es = fabs(path[k * (d + 1) + i] - sk[i]) / fmax(1.0, fabs(sk[i]));
                    worst = fmax(worst, e);
                    worst_sk = fmax(worst_sk, es);
                }
                free(ref);
                free(sk);
            }
            /* Small, well-conditioned systems: agreement to rounding (the dual case at lambda 1e-5
             * is conditioned ~1e6, hence the looser bound). */
            double tol = !strcmp(name, "dual") ? 1e-8 : 1e-11;
            CHECK_MSG(worst <= tol,
                      "%s backend %d: worst relative coefficient error vs numpy.solve %g", name,
                      backend, worst);
            CHECK_MSG(worst_sk <= tol, "%s backend %d: worst relative error vs sklearn Ridge %g",
                      name, backend, worst_sk);
        }
        /* Selection by validation R^2 and the R^2 of every split at the chosen lambda. */
        double *coef = malloc((size_t)(d + 1) * sizeof *coef),
               *pred = malloc((size_t)(ntr + nva + nte) * sizeof *pred);
        int best = -1;
        mz_error err = {0};
        CHECK_OK(mz_ridge_select(X, ntr, y, X + ntr * d, nva, y + ntr, d, MZ_LINALG_AUTO, 1, coef,
                                 &best, &err),
                 &err);
        CHECK_MSG(best == (int)num(o, "best"), "%s: chose lambda index %d, reference %d", name,
                  best, (int)num(o, "best"));
        double *r2ref = darray(json_object_get(o, "best_r2"), NULL);
        const int64_t off[3] = {0, ntr, ntr + nva}, cnt[3] = {ntr, nva, nte};
        for (int p = 0; p < 3; p++) {
            if (cnt[p] == 0)
                continue;
            mz_ridge_predict(X + off[p] * d, cnt[p], d, coef, pred);
            double r2 = mz_r2(y + off[p], pred, cnt[p]);
            CHECK_MSG(close_rel(r2, r2ref[p], 1e-9), "%s part %d: R^2 %.12g vs %.12g", name, p, r2,
                      r2ref[p]);
        }
        free(r2ref);
        free(coef);
        free(pred);
        free(path);
        free(X);
        free(y);
    }
    json_decref(j);

    /* errors */
    mz_error err = {0};
    double X1[2] = {1, 2}, y1[2] = {1, 2}, out[2], bad = 0;
    CHECK(mz_ridge_path(X1, 2, 1, y1, &bad, 1, MZ_LINALG_AUTO, 1, out, &err) == MZ_EINVAL);
    CHECK(strstr(err.msg, "lambda") != NULL);
    /* R^2 of a constant target is undefined */
    double yc[3] = {1, 1, 1}, yh[3] = {1, 2, 3};
    CHECK(isnan(mz_r2(yc, yh, 3)));
    CHECK_NEAR(mz_r2(yh, yh, 3), 1.0, 0);
}

static void test_ridge_large_agreement(void)
{
    /* The LAPACK and reference paths agree on a bigger, rank-deficient problem in both forms. */
    if (!mz_linalg_have_lapack())
        return;
    const int64_t n = 120, ds[2] = {60, 300};
    for (int t = 0; t < 2; t++) {
        int64_t d = ds[t];
        double *X = malloc((size_t)(n * d) * sizeof *X), *y = malloc((size_t)n * sizeof *y);
        mz_rng_stream s = mz_rng_make(7, MZ_RNG_USER, (uint32_t)t, 0, 0);
        for (int64_t i = 0; i < n * d; i++)
            X[i] = mz_u64_to_unit_double(mz_rng_u32(&s, 2 * i), mz_rng_u32(&s, 2 * i + 1)) - 0.5;
        for (int64_t i = 0; i < n; i++)
            y[i] = X[i * d] - 2 * X[i * d + 1] + 0.1 * X[i * d + 2] * X[i * d + 3];
        double *a = malloc((size_t)(3 * (d + 1)) * sizeof *a),
               *b = malloc((size_t)(3 * (d + 1)) * sizeof *b);
        const double lam[3] = {1e3, 1, 1e-5};
        mz_error err = {0};
        CHECK_OK(mz_ridge_path(X, n, d, y, lam, 3, MZ_LINALG_REFERENCE, 1, a, &err), &err);
        CHECK_OK(mz_ridge_path(X, n, d, y, lam, 3, MZ_LINALG_LAPACK, 1, b, &err), &err);
        double worst = 0;
        for (int64_t i = 0; i < 3 * (d + 1); i++)
            worst = fmax(worst, fabs(a[i] - b[i]) / fmax(1.0, fabs(a[i])));
        CHECK_MSG(worst < 1e-7, "d=%lld: reference vs LAPACK worst relative difference %g",
                  (long long)d, worst);
        free(X);
        free(y);
        free(a);
        free(b);
    }
}

static void test_kendall(void)
{
    json_t *j = load_fixture("kendall.json");
    json_t *cases = json_object_get(j, "cases");
    for (size_t c = 0; c < json_array_size(cases); c++) {
        json_t *o = json_array_get(cases, c);
        size_t n;
        double *x = darray(json_object_get(o, "x"), &n), *y = darray(json_object_get(o, "y"), NULL);
        double ref = num(o, "tau"), tau;
        mz_error err = {0};
        CHECK_OK(mz_kendall_tau_b(x, y, (int64_t)n, &tau, &err), &err);
        if (isnan(ref))
            CHECK_MSG(isnan(tau), "case %zu: tau %.17g, scipy nan", c, tau);
        else
            CHECK_MSG(fabs(tau - ref) <= 1e-15, "case %zu (n=%zu): tau %.17g, scipy %.17g", c, n,
                      tau, ref);
        /* symmetric in its arguments */
        double tau2;
        CHECK_OK(mz_kendall_tau_b(y, x, (int64_t)n, &tau2, &err), &err);
        CHECK(isnan(ref) ? isnan(tau2) : fabs(tau2 - ref) <= 1e-15);
        free(x);
        free(y);
    }
    json_decref(j);
}

static void test_classifier(void)
{
    json_t *j = load_fixture("classifier.json");
    size_t n;
    double *X = darray(json_object_get(j, "x"), NULL);
    double *yd = darray(json_object_get(j, "y"), &n);
    int64_t d = (int64_t)num(j, "d"), ntr = (int64_t)num(j, "n_train");
    int k = (int)num(j, "k");
    int32_t *y = malloc(n * sizeof *y), *pred = malloc(n * sizeof *pred),
            *pred2 = malloc(n * sizeof *pred2);
    for (size_t i = 0; i < n; i++)
        y[i] = (int32_t)yd[i];
    mz_softmax_cfg cfg;
    mz_softmax_cfg_default(&cfg);
    CHECK_EQ_INT(cfg.epochs, 50);
    CHECK_EQ_INT(cfg.batch, 10);
    CHECK_NEAR(cfg.lr, 1e-4, 0);
    CHECK_NEAR(cfg.wd, 1e-6, 0);
    mz_softmax m, m2;
    mz_error err = {0};
    CHECK_OK(mz_softmax_fit(&m, X, ntr, d, y, k, &cfg, &err), &err);
    mz_softmax_predict(&m, X, (int64_t)n, pred);
    double acc_tr = mz_accuracy(y, pred, ntr),
           acc_te = mz_accuracy(y + ntr, pred + ntr, (int64_t)n - ntr);
    CHECK_MSG(acc_tr == 1.0, "train accuracy %g", acc_tr);
    CHECK_MSG(acc_te == 1.0, "test accuracy %g", acc_te);
    /* deterministic: a second fit gives identical parameters */
    CHECK_OK(mz_softmax_fit(&m2, X, ntr, d, y, k, &cfg, &err), &err);
    CHECK(!memcmp(m.w, m2.w, (size_t)(k * d) * sizeof *m.w) &&
          !memcmp(m.b, m2.b, (size_t)k * sizeof *m.b));
    /* a different seed gives a different model */
    mz_softmax m3;
    cfg.seed = 43;
    CHECK_OK(mz_softmax_fit(&m3, X, ntr, d, y, k, &cfg, &err), &err);
    CHECK(memcmp(m.w, m3.w, (size_t)(k * d) * sizeof *m.w) != 0);
    /* bad labels are refused */
    mz_softmax_release(&m3);
    y[3] = k;
    CHECK(mz_softmax_fit(&m3, X, ntr, d, y, k, &cfg, &err) == MZ_EINVAL);
    mz_softmax_release(&m);
    mz_softmax_release(&m2);
    mz_softmax_release(&m3);
    free(X);
    free(yd);
    free(y);
    free(pred);
    free(pred2);
    json_decref(j);
}

static void test_xgb(void)
{
    if (!mz_xgb_available()) {
        mz_xgb *m;
        mz_error err = {0};
        float x = 0, yv = 0;
        CHECK(mz_xgb_fit(&m, &x, 1, &yv, NULL, 0, NULL, 1, 0, NULL, &err) == MZ_EUNSUPPORTED);
        return;
    }
    json_t *j = load_fixture("nonlinear.json");
    size_t n;
    double *Xd = darray(json_object_get(j, "x"), NULL), *yd = darray(json_object_get(j, "y"), &n);
    int64_t d = (int64_t)num(j, "d"), ntr = (int64_t)num(j, "n_train"),
            nva = (int64_t)num(j, "n_val"), nte = (int64_t)num(j, "n_test");
    float *X = malloc(n * (size_t)d * sizeof *X), *y = malloc(n * sizeof *y);
    for (size_t i = 0; i < n * (size_t)d; i++)
        X[i] = (float)Xd[i];
    for (size_t i = 0; i < n; i++)
        y[i] = (float)yd[i];
    mz_xgb_cfg cfg;
    mz_xgb_cfg_default(&cfg);
    mz_xgb *m = NULL, *m2 = NULL;
    mz_error err = {0};
    CHECK_OK(mz_xgb_fit(&m, X, ntr, y, X + ntr * d, nva, y + ntr, d, 0, &cfg, &err), &err);
    double *p = malloc(n * sizeof *p), *p2 = malloc(n * sizeof *p2);
    CHECK_OK(mz_xgb_predict(m, X, (int64_t)n, p, &err), &err);
    double r2_xgb = mz_r2(yd + ntr + nva, p + ntr + nva, nte);
    /* ridge on the same data (the fixture also holds numpy's value) */
    double *coef = malloc((size_t)(d + 1) * sizeof *coef), *pr = malloc(n * sizeof *pr);
    CHECK_OK(mz_ridge_select(Xd, ntr, yd, Xd + ntr * d, nva, yd + ntr, d, MZ_LINALG_AUTO, 1, coef,
                             NULL, &err),
             &err);
    mz_ridge_predict(Xd + (ntr + nva) * d, nte, d, coef, pr);
    double r2_ridge = mz_r2(yd + ntr + nva, pr, nte);
    CHECK_NEAR(r2_ridge, num(j, "ridge_test_r2"), 1e-6);
    printf("nonlinear test R^2: xgboost %.4f (best round %d), ridge %.4f\n", r2_xgb,
           mz_xgb_best_iteration(m), r2_ridge);
    CHECK_MSG(r2_xgb > 0.9, "xgboost test R^2 %g", r2_xgb);
    CHECK_MSG(r2_xgb > r2_ridge + 0.5, "xgboost %g not far better than ridge %g", r2_xgb, r2_ridge);
    /* deterministic: an identical second run, also with two threads */
    cfg.nthread = 2;
    CHECK_OK(mz_xgb_fit(&m2, X, ntr, y, X + ntr * d, nva, y + ntr, d, 0, &cfg, &err), &err);
    CHECK_OK(mz_xgb_predict(m2, X, (int64_t)n, p2, &err), &err);
    CHECK(!memcmp(p, p2, n * sizeof *p));
    CHECK_EQ_INT(mz_xgb_best_iteration(m), mz_xgb_best_iteration(m2));
    mz_xgb_free(m2);
    mz_xgb_free(m);

    /* classification: the sign pattern of (x0, x1), 4 classes (XOR-like, not linearly separable) */
    float *yc = malloc(n * sizeof *yc);
    for (size_t i = 0; i < n; i++)
        yc[i] = (float)((X[i * d] > 0) * 2 + (X[i * d + 1] > 0));
    CHECK_OK(mz_xgb_fit(&m, X, ntr, yc, X + ntr * d, nva, yc + ntr, d, 4, &cfg, &err), &err);
    CHECK_OK(mz_xgb_predict(m, X + (ntr + nva) * d, nte, p, &err), &err);
    int64_t hit = 0;
    for (int64_t i = 0; i < nte; i++)
        hit += p[i] == yc[ntr + nva + i];
    CHECK_MSG((double)hit / (double)nte > 0.95, "xgboost classification accuracy %g",
              (double)hit / (double)nte);
    mz_xgb_free(m);
    free(yc);
    free(coef);
    free(pr);
    free(p);
    free(p2);
    free(X);
    free(y);
    free(Xd);
    free(yd);
    json_decref(j);
}

int main(void)
{
    test_stats();
    test_ridge();
    test_ridge_large_agreement();
    test_kendall();
    test_classifier();
    test_xgb();
    return check_summary("test_probe_numerics");
}
