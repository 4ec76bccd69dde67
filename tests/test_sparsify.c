/* Sparsified twins through the driver (mz_sparsify_run) against an independent re-computation
 * with the ARD reference kernels: a source zoo of two CNN-s models (tanh + Adam without dropout
 * layers; relu + SGD with dropout 0.5, so the shifted module indices) on 105 Fashion-MNIST
 * images, one epoch; then variational-dropout twins for two epochs.
 *
 *  - twin epoch 0 = the source's epoch-1 checkpoint with log_sigma2 = -10
 * (mz_ard_params_from_plain);
 *  - twin epochs 1 and 2 recomputed by hand (the source model's shuffle stream, batch size and
 *    optimizer with fresh state, the noisy forward with Philox noise, CE + w KL with the schedule
 *    w = 0.01 (e - 1) / E) equal the stored weights bit for bit, and the stored train loss,
 *    sparsity and test metrics (the pruned network, test loss with the KL term);
 *  - the twin zoo records its source (models.source_id/source_epoch, meta kind, recipe) and the
 *    source zoo is left byte for byte as it was;
 *  - running again is a no-op; other settings are refused without touching the twin file;
 *  - magnitude pruning prunes exactly the target count, globally and per layer;
 *  - errors: an epoch the source does not have, a non-zoo source. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "mzoo/data.h"
#include "mzoo/nn.h"
#include "mzoo/optim.h"
#include "mzoo/sparse.h"
#include "mzoo/spec.h"
#include "mzoo/store.h"
#include "mzoo/train.h"
#include "nn/nn-impl.h"

static const char spec_json[] =
    "{\"dataset\": \"fashion-mnist\", \"architecture\": \"cnn-s\", \"epochs\": 1, \"batch_size\": "
    "10,"
    " \"train_subset\": 105, \"grid\": {\"activation\": [\"tanh\", \"relu\"],"
    " \"init\": \"kaiming_uniform\", \"optimizer\": [\"adam\", \"sgd\"], \"lr\": 0.01,"
    " \"momentum\": 0.9, \"dropout\": [0, 0.5], \"seed\": 3}}";

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)len + 1);
    *n = fread(b, 1, (size_t)len, f);
    fclose(f);
    return b;
}

typedef struct row2 {
    double v[4];
    int n;
} row2;

static int get_row(void *ctx, int ncol, const char *const *val, const char *const *names)
{
    (void)names;
    row2 *r = ctx;
    for (int i = 0; i < ncol && i < 4; i++)
        r->v[i] = val[i] ? strtod(val[i], NULL) : NAN;
    r->n++;
    return 0;
}

static row2 query(mz_store *st, const char *sql)
{
    row2 r = {{NAN, NAN, NAN, NAN}, 0};
    mz_error err = {0};
    CHECK_OK(mz_store_query(st, sql, get_row, &r, &err), &err);
    return r;
}

/* One model's twin, epochs 1..E by hand, checked against the zoo. */
static void check_twin(const mz_dataset *ds, mz_store *tw, const mz_model_spec *ms, int64_t id,
                       const float *source_w, const mz_arch *plain, int E)
{
    mz_error err = {0};
    mz_arch a;
    CHECK_OK(mz_arch_init_ard(&a, plain, &err), &err);
    int64_t np = a.n_params;
    int B = 10;
    float *p = calloc((size_t)np, 4), *g = calloc((size_t)np, 4), *w = calloc((size_t)np, 4);
    float *opt = calloc((size_t)(2 * np), 4);
    float *ws = calloc((size_t)mz_ard_workspace_floats(&a, B), 4);
    float *x = calloc((size_t)784 * B, 4), logits[100], dlogits[100];
    int32_t y[10];
    mz_ard_params_from_plain(&a, plain, source_w, p);
    CHECK_OK(mz_store_read_weights(tw, id, 0, w, np, &err), &err);
    CHECK_MSG(!memcmp(p, w, sizeof(float) * (size_t)np), "twin %lld: epoch 0 is not its source",
              (long long)id);
    mz_optim_cfg oc;
    mz_optim_cfg_from_model(&oc, ms);
    int64_t N = ds->train.n, t = 0;
    uint32_t *perm = malloc(sizeof(uint32_t) * (size_t)N);
    for (int e = 1; e <= E; e++) {
        float kw = mz_ard_kl_weight(e, E);
        mz_rng_stream s = mz_rng_make((uint64_t)ms->seed, MZ_RNG_SHUFFLE, (uint32_t)e, 0, 0);
        mz_rng_permutation(&s, perm, (uint32_t)N);
        double loss_sum = 0;
        for (int step = 0; step * B < N; step++) {
            int nb = (int)(N - step * B < B ? N - step * B : B);
            for (int b = 0; b < nb; b++) {
                uint32_t i = perm[step * B + b];
                mz_image_to_float(ds->train.x + (int64_t)i * 784, 1, 784, &ds->lut[0][0],
                                  x + b * 784);
                y[b] = ds->train.y[i];
            }
            mz_ard_cfg cfg = {{ms->activation, (float)ms->dropout, 1, ms->seed, e, step}, kw, NULL};
            mz_ard_forward(&a, &cfg, p, x, nb, ws, logits);
            int c = 0;
            float ce = mz_ref_loss(logits, y, nb, 10, dlogits, &c);
            float loss = ce + kw * mz_ard_kl(&a, p);
            loss_sum += (double)loss * nb;
            mz_ard_backward(&a, &cfg, p, nb, dlogits, ws, g);
            mz_ard_optim_step(&a, &oc, p, g, opt, ++t);
        }
        CHECK_OK(mz_store_read_weights(tw, id, e, w, np, &err), &err);
        int same = !memcmp(p, w, sizeof(float) * (size_t)np);
        CHECK_MSG(same, "twin %lld: epoch-%d weights differ from the reference computation",
                  (long long)id, e);
        char sql[256];
        snprintf(sql, sizeof sql,
                 "SELECT train_loss, sparsity, test_loss, test_acc FROM epochs WHERE model_id = "
                 "%lld AND epoch = %d",
                 (long long)id, e);
        row2 r = query(tw, sql);
        CHECK_EQ_INT(r.n, 1);
        CHECK_NEAR(r.v[0], loss_sum / (double)N, 1e-12 * fabs(loss_sum / (double)N));
        CHECK_NEAR(r.v[1], (double)mz_ard_dropped(&a, p) / (double)a.n_ard_weights, 1e-15);
        if (e < E)
            continue;
        /* test metrics: the pruned network, the loss with the KL term */
        double test_loss = 0;
        int64_t hits = 0;
        mz_ard_cfg ev = {{ms->activation, (float)ms->dropout, 0, ms->seed, 0, 0}, kw, NULL};
        for (int64_t i = 0; i < ds->test.n; i++) {
            mz_image_to_float(ds->test.x + i * 784, 1, 784, &ds->lut[0][0], x);
            mz_ard_forward(&a, &ev, p, x, 1, ws, logits);
            int c = 0;
            test_loss += mz_ref_loss(logits, &ds->test.y[i], 1, 10, NULL, &c);
            hits += c;
        }
        test_loss += (double)ds->test.n * (double)(kw * mz_ard_kl(&a, p));
        CHECK_NEAR(r.v[2], test_loss / (double)ds->test.n, 1e-9 * fabs(test_loss / ds->test.n));
        CHECK_NEAR(r.v[3], (double)hits / (double)ds->test.n, 1e-12);
    }
    free(p), free(g), free(w), free(opt), free(ws), free(x), free(perm);
}

int main(void)
{
    mz_error err = {0};
    mz_spec spec;
    CHECK_OK(mz_spec_parse(&spec, spec_json, "test spec", &err), &err);
    char dir[] = "/tmp/mz_test_sparsify_XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char src[256], tw[256], mag[256], cmd[600];
    snprintf(src, sizeof src, "%s/src.db", dir);
    snprintf(tw, sizeof tw, "%s/twins.db", dir);
    snprintf(mag, sizeof mag, "%s/magnitude.db", dir);
    mz_train_opts topts = {0};
    topts.threads = 2;
    CHECK_OK(mz_train_run(&spec, src, &topts, &err), &err);
    size_t n_src = 0;
    char *src_bytes = slurp(src, &n_src);

    mz_sparsify_opts o;
    mz_sparsify_opts_default(&o);
    o.epochs = 2;
    o.where = "m.dropout = 0 OR m.optimizer = 'sgd'"; /* models 0, 1 (tanh adam/sgd) and 3 */
    o.train.threads = 2;
    CHECK_OK(mz_sparsify_run(src, tw, &o, &err), &err);

    mz_dataset ds;
    CHECK_OK(mz_dataset_load(&ds, "fashion-mnist", NULL, NULL, &err), &err);
    CHECK_OK(mz_dataset_subset_train(&ds, 105, &err), &err);
    mz_store *ss = NULL, *ts = NULL;
    CHECK_OK(mz_store_open(&ss, src, MZ_STORE_READ, &err), &err);
    CHECK_OK(mz_store_open(&ts, tw, MZ_STORE_READ, &err), &err);
    char kind[32] = "";
    CHECK_OK(mz_store_meta(ts, "kind", kind, sizeof kind, &err), &err);
    CHECK(!strcmp(kind, "twin"));
    /* the selection: source models 0 (tanh, adam, no dropout), 1 (tanh, sgd, dropout 0), 3 */
    int64_t want_src[] = {0, 1, 2, 3, 4, 5, 6, 7}, n_tw = 0;
    mz_model_row *rows = NULL;
    CHECK_OK(mz_store_read_models(ts, &rows, NULL, &n_tw, &err), &err);
    int64_t k = 0;
    for (int64_t i = 0; i < spec.n_models; i++) {
        const mz_model_spec *m = &spec.models[i];
        if (!(m->dropout == 0 || m->optimizer == MZ_OPT_SGD))
            continue;
        want_src[k++] = i;
    }
    CHECK_EQ_INT(n_tw, k);
    for (int64_t i = 0; rows && i < n_tw && i < k; i++) {
        CHECK_EQ_INT(rows[i].source_id, want_src[i]);
        CHECK_EQ_INT(rows[i].source_epoch, 1);
        const mz_model_spec *m = &spec.models[want_src[i]];
        mz_arch plain;
        CHECK_OK(mz_arch_init(&plain, "cnn-s", 1, 28, 28, m->dropout, &err), &err);
        CHECK(strstr(rows[i].variant, "/ard") != NULL);
        CHECK(rows[i].seed == m->seed && rows[i].lr == m->lr);
        float *sw = malloc(sizeof(float) * (size_t)plain.n_params);
        CHECK_OK(mz_store_read_weights(ss, want_src[i], 1, sw, plain.n_params, &err), &err);
        check_twin(&ds, ts, m, i, sw, &plain, 2);
        free(sw);
    }
    free(rows);
    mz_store_close(ts);
    mz_store_close(ss);
    size_t n_after = 0;
    char *after = slurp(src, &n_after);
    CHECK_MSG(after && n_after == n_src && !memcmp(after, src_bytes, n_src),
              "the source zoo changed");
    free(after);

    /* again: nothing to do; other settings: refused, the twin file untouched */
    size_t n_tw0 = 0;
    char *tw_bytes = slurp(tw, &n_tw0);
    CHECK_OK(mz_sparsify_run(src, tw, &o, &err), &err);
    mz_sparsify_opts o2 = o;
    o2.epochs = 3;
    CHECK_EQ_INT(mz_sparsify_run(src, tw, &o2, &err), MZ_EMISMATCH);
    o2 = o;
    o2.where = NULL;
    CHECK_EQ_INT(mz_sparsify_run(src, tw, &o2, &err), MZ_EMISMATCH);
    CHECK_MSG(strstr(err.msg, "source or settings") && strstr(err.msg, "this run's settings"), "%s",
              err.msg);
    size_t n_tw1 = 0;
    char *tw_after = slurp(tw, &n_tw1);
    CHECK(tw_after && n_tw1 == n_tw0 && !memcmp(tw_after, tw_bytes, n_tw0));
    free(tw_after);
    free(tw_bytes);

    /* errors */
    o2 = o;
    o2.from_epoch = 5;
    CHECK_EQ_INT(mz_sparsify_run(src, mag, &o2, &err), MZ_ENOTFOUND);
    CHECK(access(mag, F_OK) != 0);
    CHECK_EQ_INT(mz_sparsify_run(tw, mag, &o, &err), MZ_EUNSUPPORTED); /* twins of twins */
    CHECK_EQ_INT(mz_sparsify_run("/nonexistent/zoo.db", mag, &o, &err), MZ_ENOTFOUND);

    /* magnitude pruning: exactly round(target * n) weights at zero, globally or per layer */
    for (int per_layer = 0; per_layer < 2; per_layer++) {
        unlink(mag);
        mz_sparsify_opts m;
        mz_sparsify_opts_default(&m);
        m.method = MZ_SPARSE_MAGNITUDE;
        m.epochs = 0;
        m.n_targets = 2;
        m.targets[0] = 0.5;
        m.targets[1] = 0.9;
        m.per_layer = per_layer;
        CHECK_OK(mz_sparsify_run(src, mag, &m, &err), &err);
        CHECK_OK(mz_store_open(&ts, mag, MZ_STORE_READ, &err), &err);
        mz_arch plain;
        CHECK_OK(mz_arch_init(&plain, "cnn-s", 1, 28, 28, 0, &err), &err);
        float *w = malloc(sizeof(float) * (size_t)plain.n_params);
        for (int64_t twin = 0; twin < 2 * spec.n_models; twin++) {
            CHECK_OK(mz_store_read_weights(ts, twin, 0, w, plain.n_params, &err), &err);
            double target = m.targets[twin % 2];
            int64_t zeros = 0, n = 0;
            int layer_ok = 1;
            for (int i = 0; i < plain.n_layers; i++) {
                const mz_layer *l = &plain.layers[i];
                if (l->kind != MZ_LAYER_CONV && l->kind != MZ_LAYER_LINEAR)
                    continue;
                int64_t z = 0, nl = l->b_off - l->w_off;
                for (int64_t j = l->w_off; j < l->b_off; j++)
                    z += w[j] == 0.0f;
                if (per_layer)
                    layer_ok &= z == (int64_t)floor(target * (double)nl + 0.5);
                zeros += z;
                n += nl;
            }
            if (!per_layer)
                CHECK_EQ_INT(zeros, (int64_t)floor(target * (double)n + 0.5));
            CHECK(layer_ok);
            char sql[128];
            snprintf(sql, sizeof sql, "SELECT sparsity FROM epochs WHERE model_id = %lld",
                     (long long)twin);
            row2 r = query(ts, sql);
            CHECK_NEAR(r.v[0], (double)zeros / (double)n, 1e-15);
        }
        free(w);
        mz_store_close(ts);
    }

    mz_dataset_release(&ds);
    mz_spec_release(&spec);
    free(src_bytes);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return check_summary("test_sparsify");
}
