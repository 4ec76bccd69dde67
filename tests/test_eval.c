/* mz_evaluator (include/mzoo/eval.h): a checkpoint evaluated on its zoo's dataset gives the loss
 * and accuracy the zoo recorded for it. Small zoos are trained on synthetic datasets (CNN-s with
 * and without dropout modules, CNN-l, ResNet-18 on 8x8 images) and every epoch's val and test
 * metrics (and epoch 0's train metrics) are recomputed with both population backends. A twin zoo
 * written by hand (log_sigma2 chosen so that about half the weights have log alpha >= 3) is
 * evaluated as its pruned network, checked against the plain network with those weights zeroed.
 * Per-image predictions (mz_evaluator_predict) count to the recorded test accuracy, do not depend
 * on the backend or on the checkpoints sharing the population, and are torch's for a CNN-s and a
 * twin's pruned network (tests/data/golden/predict, tools/make_eval_golden.py).
 * Errors: a missing model or epoch, a wrong weight count, a split the dataset lacks, a file that
 * is not a zoo. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mzoo/eval.h"
#include "mzoo/nn.h"
#include "mzoo/pop.h"
#include "mzoo/resnet.h"
#include "mzoo/spec.h"
#include "mzoo/store.h"
#include "mzoo/train.h"
#include "check.h"
#include "golden.h"

static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return *s >> 33;
}

/* Images whose class shifts the mean brightness of each channel: learnable in an epoch. */
static void make_split(mz_split *s, int64_t n, int c, int hw, int ncls, uint64_t seed)
{
    s->n = n;
    s->x = malloc((size_t)(n * c * hw * hw) + 1);
    s->y = malloc(sizeof(int32_t) * (size_t)n + 1);
    for (int64_t i = 0; i < n; i++) {
        int k = (int)(lcg(&seed) % (uint64_t)ncls);
        s->y[i] = k;
        for (int ch = 0; ch < c; ch++) {
            int base = 30 + (k * 37 + ch * 71) % 190;
            for (int p = 0; p < hw * hw; p++)
                s->x[(i * c + ch) * hw * hw + p] = (uint8_t)(base + (int)(lcg(&seed) % 41) - 20);
        }
    }
}

static void make_dataset(mz_dataset *ds, int c, int hw, int with_val)
{
    memset(ds, 0, sizeof *ds);
    snprintf(ds->name, sizeof ds->name, "synthetic");
    ds->c = c, ds->h = hw, ds->w = hw, ds->n_classes = 10;
    const float mean[3] = {0.5f, 0.5f, 0.5f}, std[3] = {0.25f, 0.25f, 0.25f};
    mz_dataset_set_normalize(ds, mean, std);
    make_split(&ds->train, 60, c, hw, 10, 11);
    if (with_val)
        make_split(&ds->val, 20, c, hw, 10, 12);
    make_split(&ds->test, 30, c, hw, 10, 13);
}

static void temp_path(char *path, size_t cap, const char *tag)
{
    const char *t = getenv("TMPDIR");
    snprintf(path, cap, "%s/mz_test_eval_%s_XXXXXX", t && *t ? t : "/tmp", tag);
    int fd = mkstemp(path);
    close(fd);
    unlink(path);
}

typedef struct metrics_row {
    double v[6]; /* train_loss, train_acc, val_loss, val_acc, test_loss, test_acc */
    int n;
} metrics_row;

static int get_row(void *ctx, int ncol, const char *const *val, const char *const *names)
{
    metrics_row *r = ctx;
    (void)names;
    for (int i = 0; i < ncol && i < 6; i++)
        r->v[i] = val[i] ? strtod(val[i], NULL) : NAN;
    r->n++;
    return 0;
}

static metrics_row metrics(mz_store *st, int64_t id, int epoch)
{
    char sql[200];
    metrics_row r = {{0}, 0};
    snprintf(sql, sizeof sql,
             "SELECT train_loss, train_acc, val_loss, val_acc, test_loss, test_acc FROM epochs "
             "WHERE model_id = %lld AND epoch = %d",
             (long long)id, epoch);
    mz_store_query(st, sql, get_row, &r, NULL);
    return r;
}

/* Each image's predicted class (mz_evaluator_predict) of checkpoints ids[n], eps[n] on the test
 * split: the fraction equal to the label is the recorded test accuracy (the classes are the
 * argmax the accuracy counts), a checkpoint predicted alone gives the classes it gives among
 * others, and every backend gives the same classes (prev: another backend's, or NULL). Returns
 * the classes (the caller frees them). */
static int32_t *check_predictions(const char *tag, const char *be, mz_evaluator *ev, mz_store *st,
                                  const mz_dataset *ds, int64_t n, const int64_t *ids,
                                  const int *eps, int32_t *prev)
{
    mz_error err = {0};
    int64_t images = -1;
    CHECK_OK(mz_evaluator_images(ev, MZ_PART_TEST, &images, &err), &err);
    CHECK_EQ_INT(images, ds->test.n);
    int32_t *cls = malloc(sizeof(int32_t) * (size_t)(n * images));
    int32_t one[4096];
    mz_eval_result *res = malloc(sizeof(mz_eval_result) * (size_t)n);
    CHECK_OK(mz_evaluator_predict(ev, n, ids, eps, MZ_PART_TEST, cls, res, &err), &err);
    int64_t same = 0;
    for (int64_t k = 0; k < n; k++) {
        int64_t hits = 0;
        for (int64_t j = 0; j < images; j++) {
            CHECK(cls[k * images + j] >= 0 && cls[k * images + j] < 10);
            hits += cls[k * images + j] == ds->test.y[j];
        }
        metrics_row r = metrics(st, ids[k], eps[k]);
        CHECK_MSG(fabs((double)hits / (double)images - r.v[5]) <= 1e-14 &&
                      res[k].acc == (double)hits / (double)images,
                  "%s (%s) model %lld epoch %d: %lld of %lld predictions right, recorded test "
                  "accuracy %.17g, evaluated %.17g",
                  tag, be, (long long)ids[k], eps[k], (long long)hits, (long long)images, r.v[5],
                  res[k].acc);
        if (k % 5 == 0 && images <= 4096) { /* alone in its population */
            CHECK_OK(mz_evaluator_predict(ev, 1, &ids[k], &eps[k], MZ_PART_TEST, one, NULL, &err),
                     &err);
            CHECK(!memcmp(one, cls + k * images, sizeof(int32_t) * (size_t)images));
        }
        same +=
            !prev || !memcmp(prev + k * images, cls + k * images, sizeof(int32_t) * (size_t)images);
    }
    CHECK_MSG(same == n, "%s: %lld of %lld checkpoints predict as with the other backend", tag,
              (long long)same, (long long)n);
    printf("%s (%s backend): %lld checkpoints x %lld images predicted, as their accuracy says\n",
           tag, be, (long long)n, (long long)images);
    free(res);
    if (prev) {
        free(cls);
        return prev;
    }
    return cls;
}

/* Trains spec_json on ds into a temporary zoo and checks every recorded metric against the
 * evaluator, with each backend in `backends` (NULL-terminated). */
static void check_zoo(const char *tag, const char *spec_json, const mz_dataset *ds,
                      const char *const *backends, char *keep, size_t keep_cap)
{
    mz_error err = {0};
    mz_spec spec;
    CHECK_OK(mz_spec_parse(&spec, spec_json, tag, &err), &err);
    char zoo[256];
    temp_path(zoo, sizeof zoo, tag);
    mz_train_opts opts = {0};
    opts.threads = 2;
    mz_status s = mz_train_run_ds(&spec, ds, zoo, &opts, &err);
    CHECK_OK(s, &err);
    if (s != MZ_OK) {
        mz_spec_release(&spec);
        return;
    }
    mz_store *st = NULL;
    CHECK_OK(mz_store_open(&st, zoo, MZ_STORE_READ, &err), &err);
    int32_t *first_classes = NULL; /* the first backend's predictions */
    for (const char *const *be = backends; *be; be++) {
        mz_eval_options o;
        mz_eval_options_default(&o);
        o.dataset = ds;
        o.backend = strcmp(*be, "default") ? *be : NULL;
        mz_evaluator *ev = NULL;
        CHECK_OK(mz_evaluator_open(&ev, zoo, &o, &err), &err);
        if (!ev)
            break;
        int checked = 0;
        for (int64_t id = 0; id < spec.n_models; id++)
            for (int e = 0; e <= spec.epochs; e++) {
                metrics_row r = metrics(st, id, e);
                CHECK_EQ_INT(r.n, 1);
                for (int part = 0; part < 3; part++) {
                    if (part == MZ_PART_TRAIN && e > 0)
                        continue; /* running averages of training-mode batches */
                    mz_eval_result res;
                    s = mz_evaluator_checkpoint(ev, id, e, (mz_part)part, &res, &err);
                    CHECK_OK(s, &err);
                    CHECK_EQ_INT(res.n, part == 0   ? ds->train.n
                                        : part == 1 ? ds->val.n
                                                    : ds->test.n);
                    double loss = r.v[2 * part], acc = r.v[2 * part + 1];
                    /* the store hands the recorded doubles back as text of 15 digits */
                    CHECK_MSG(fabs(res.loss - loss) <= 1e-14 * fabs(loss) &&
                                  fabs(res.acc - acc) <= 1e-14,
                              "%s (%s) model %lld epoch %d %s: evaluated loss %.17g acc %.17g, "
                              "recorded %.17g %.17g",
                              tag, *be, (long long)id, e, mz_part_name((mz_part)part), res.loss,
                              res.acc, loss, acc);
                    CHECK(isnan(res.sparsity));
                    checked++;
                }
            }
        printf("%s (%s backend): %d evaluations equal the recorded metrics\n", tag, *be, checked);
        /* all checkpoints at once, three times over (full populations, mixed groups, leftovers)
         * give the one-by-one results */
        int64_t n = 3 * spec.n_models * (spec.epochs + 1), k = 0;
        int64_t *ids = malloc(sizeof(int64_t) * (size_t)n);
        int *eps = malloc(sizeof(int) * (size_t)n);
        mz_eval_result *many = malloc(sizeof(mz_eval_result) * (size_t)n);
        for (int rep = 0; rep < 3; rep++)
            for (int e = 0; e <= spec.epochs; e++)
                for (int64_t id = 0; id < spec.n_models; id++, k++)
                    ids[k] = id, eps[k] = e;
        CHECK_OK(mz_evaluator_checkpoints(ev, n, ids, eps, MZ_PART_TEST, many, &err), &err);
        for (k = 0; k < n / 3; k++) { /* the first repetition; the others equal it */
            mz_eval_result one;
            CHECK_OK(mz_evaluator_checkpoint(ev, ids[k], eps[k], MZ_PART_TEST, &one, &err), &err);
            int64_t k2 = k + 2 * n / 3;
            CHECK_MSG(one.loss == many[k].loss && one.acc == many[k].acc && one.n == many[k].n &&
                          one.loss == many[k2].loss && one.acc == many[k2].acc,
                      "%s: checkpoint %lld of a batch differs from its own evaluation", tag,
                      (long long)k);
        }
        first_classes = check_predictions(tag, *be, ev, st, ds, n / 3, ids, eps, first_classes);
        ids[n / 2] = 99; /* a missing model stops the batch, naming it */
        CHECK_EQ_INT(mz_evaluator_checkpoints(ev, n, ids, eps, MZ_PART_TEST, many, &err),
                     MZ_ENOTFOUND);
        CHECK_MSG(strstr(err.msg, "model 99 epoch") != NULL, "%s", err.msg);
        free(ids);
        free(eps);
        free(many);
        mz_evaluator_close(ev);
    }
    free(first_classes);
    mz_store_close(st);
    mz_spec_release(&spec);
    if (keep)
        snprintf(keep, keep_cap, "%s", zoo);
    else
        unlink(zoo);
}

/* A twin zoo by hand: the ARD layout of model `id` of the CNN-s zoo, log_sigma2 set so that
 * about half the weights of every layer are pruned. Checks the evaluator's pruned network
 * against the plain zoo evaluated with those weights zeroed. */
static void check_twin(const char *plain_zoo, const mz_dataset *ds)
{
    mz_error err = {0};
    mz_arch plain;
    CHECK_OK(mz_arch_init(&plain, "cnn-s", 1, 28, 28, 0.0, &err), &err);
    float *w = malloc(sizeof(float) * (size_t)plain.n_params);
    float *expect = malloc(sizeof(float) * (size_t)plain.n_params);
    float *ard = malloc(sizeof(float) * (size_t)(2 * plain.n_params));
    mz_store *st = NULL;
    CHECK_OK(mz_store_open(&st, plain_zoo, MZ_STORE_READ, &err), &err);
    CHECK_OK(mz_store_read_weights(st, 0, 1, w, plain.n_params, &err), &err);
    mz_store_close(st);

    /* the twin's layout: per layer weight, bias, log_sigma2, log_sigma2_bias */
    mz_tensor_desc t[4 * MZ_MAX_TENSORS];
    int nt = 0;
    int64_t off = 0, pruned = 0, n_weights = 0;
    for (int i = 0; i + 1 < plain.n_tensors; i += 2) {
        const mz_tensor_desc *wt = &plain.tensors[i], *bt = &plain.tensors[i + 1];
        const mz_tensor_desc *src[4] = {wt, bt, wt, bt};
        const char *suffix[4] = {"weight", "bias", "log_sigma2", "log_sigma2_bias"};
        char prefix[MZ_TENSOR_NAME_MAX - 16];
        snprintf(prefix, sizeof prefix, "%.*s", (int)(strlen(wt->name) - 7), wt->name);
        int conv = wt->ndim == 4;
        for (int k = 0; k < 4; k++) {
            t[nt] = *src[k];
            snprintf(t[nt].name, sizeof t[nt].name, "%s.%s", prefix, suffix[k]);
            t[nt].offset = off;
            for (int64_t j = 0; j < src[k]->count; j++) {
                float theta = w[src[k]->offset + j];
                if (k < 2) {
                    ard[off + j] = theta;
                    continue;
                }
                /* log alpha = log_sigma2 - 2 log|theta| = 3 +- 0.25 */
                float la = (j % 2) ? 3.25f : 2.75f;
                ard[off + j] = la + 2.0f * mz_logf(fabsf(theta) + 1e-15f);
                int drop = j % 2 && (k == 2 || conv);
                expect[src[k]->offset + j] = drop ? 0.0f : theta;
                if (k == 2) {
                    n_weights++;
                    pruned += drop;
                }
            }
            off += src[k]->count;
            nt++;
        }
    }
    CHECK_EQ_INT(off, 2 * plain.n_params);

    char zoo[256];
    temp_path(zoo, sizeof zoo, "twin");
    mz_store *tw = NULL;
    CHECK_OK(mz_store_open(&tw, zoo, MZ_STORE_WRITE, &err), &err);
    mz_layout lay = {"cnn-s/c1/nodropout/ard", nt, t, off};
    mz_model_row m = {0};
    m.id = 0;
    m.variant = lay.variant;
    m.activation = "tanh"; /* the CNN-s zoo's model 0 */
    m.lr = m.weight_decay = m.dropout = m.momentum = NAN;
    m.nesterov = -1;
    m.source_id = 0;
    m.source_epoch = 1;
    static const char *const meta[][2] = {{"dataset", "fashion-mnist"}, {"batch_size", "10"}};
    mz_zoo_desc z = {"twin", "{\"test\":\"twin\"}", 2, meta, 1, &m, 1, &lay, NULL};
    CHECK_OK(mz_store_attach(tw, &z, &err), &err);
    mz_epoch_record rec;
    memset(&rec, 0, sizeof rec);
    rec.model_id = 0;
    rec.epoch = 0;
    rec.train_loss = rec.train_acc = rec.val_loss = rec.val_acc = rec.test_loss = rec.test_acc =
        NAN;
    rec.sparsity = (double)pruned / (double)n_weights;
    rec.weights = ard;
    rec.n_weights = off;
    rec.status = MZ_MODEL_DONE;
    CHECK_OK(mz_store_commit(tw, &rec, 1, &err), &err);
    mz_store_close(tw);

    /* the pruning on its own */
    float *got = malloc(sizeof(float) * (size_t)plain.n_params);
    int64_t np = -1, nw = -1;
    CHECK_OK(mz_ard_prune(t, nt, ard, plain.tensors, plain.n_tensors, got, &np, &nw, &err), &err);
    CHECK_EQ_INT(np, pruned);
    CHECK_EQ_INT(nw, n_weights);
    CHECK(!memcmp(got, expect, sizeof(float) * (size_t)plain.n_params));

    mz_eval_options o;
    mz_eval_options_default(&o);
    o.dataset = ds;
    mz_evaluator *et = NULL, *ep = NULL;
    CHECK_OK(mz_evaluator_open(&et, zoo, &o, &err), &err);
    CHECK_OK(mz_evaluator_open(&ep, plain_zoo, &o, &err), &err);
    if (et && ep)
        for (int part = 0; part < 3; part++) {
            mz_eval_result a, b;
            CHECK_OK(mz_evaluator_checkpoint(et, 0, 0, (mz_part)part, &a, &err), &err);
            CHECK_OK(mz_evaluator_weights(ep, 0, expect, plain.n_params, (mz_part)part, &b, &err),
                     &err);
            CHECK_MSG(a.loss == b.loss && a.acc == b.acc && a.n == b.n,
                      "twin %s: %.17g %.17g, pruned plain network %.17g %.17g",
                      mz_part_name((mz_part)part), a.loss, a.acc, b.loss, b.acc);
            CHECK_NEAR(a.sparsity, (double)pruned / (double)n_weights, 0);
            CHECK(isnan(b.sparsity));
        }
    printf("twin: %lld of %lld weights pruned; evaluated as the pruned plain network\n",
           (long long)pruned, (long long)n_weights);
    mz_evaluator_close(et);
    mz_evaluator_close(ep);
    unlink(zoo);
    free(w);
    free(expect);
    free(ard);
    free(got);
}

/* ---- predictions against PyTorch (tools/make_eval_golden.py) ---- */

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* A CNN-s and a variational-dropout twin with the golden's parameters (the twin's linear
 * log_sigma2_bias NaN, as the reference leaves it uninitialised) predict the golden's images as
 * torch does: every image whose two largest torch logits are apart by more than 1e-4 gets
 * torch's class, with each backend, alone and side by side. */
static void check_predict_golden(const char *const *backends)
{
    mz_error err = {0};
    golden g;
    const char *dir = getenv("MZ_TEST_DATA");
    if (!dir || !golden_load(&g, dir, "predict")) {
        CHECK_MSG(0, "cannot load golden files (MZ_TEST_DATA=%s)", dir ? dir : "unset");
        return;
    }
    int64_t n = json_integer_value(json_object_get(g.root, "n_images"));
    uint64_t seed = (uint64_t)json_integer_value(json_object_get(g.root, "image_seed"));
    mz_dataset ds;
    memset(&ds, 0, sizeof ds);
    snprintf(ds.name, sizeof ds.name, "golden");
    ds.c = 1, ds.h = 28, ds.w = 28, ds.n_classes = 10;
    const float mean[1] = {(float)json_real_value(json_object_get(g.root, "mean"))},
                std[1] = {(float)json_real_value(json_object_get(g.root, "std"))};
    mz_dataset_set_normalize(&ds, mean, std);
    ds.test.n = n;
    ds.test.x = malloc((size_t)(n * 28 * 28));
    ds.test.y = malloc(sizeof(int32_t) * (size_t)n);
    for (int64_t k = 0; k < n; k++) {
        ds.test.y[k] = (int32_t)(k % 10);
        for (int64_t i = 0; i < 28 * 28; i++) {
            int64_t at = k * 28 * 28 + i;
            ds.test.x[at] =
                i < 28 * (4 + k % 25)
                    ? (uint8_t)(mix64(seed * 0x9E3779B97F4A7C15ULL + (uint64_t)at) >> 56)
                    : 0;
        }
    }
    mz_arch plain, twin;
    CHECK_OK(mz_arch_init(&plain, "cnn-s", 1, 28, 28, 0.0, &err), &err);
    CHECK_OK(mz_arch_init_ard(&twin, &plain, &err), &err);
    const float *pw = golden_array(&g, "cnn-s/params", (long)plain.n_params);
    const float *tw = golden_array(&g, "twin/params", (long)twin.n_params);
    const float *logits[2] = {golden_array(&g, "cnn-s/logits", (long)n * 10),
                              golden_array(&g, "twin/logits", (long)n * 10)};
    const float *want[2] = {golden_array(&g, "cnn-s/classes", (long)n),
                            golden_array(&g, "twin/classes", (long)n)};
    if (!pw || !tw || !logits[0] || !logits[1] || !want[0] || !want[1]) {
        CHECK_MSG(0, "golden predict: arrays missing");
        return;
    }
    int nan_bias = 0; /* the twin's unused linear log_sigma2_bias is NaN, as stored */
    for (int i = 0; i < twin.n_layers; i++)
        if (twin.layers[i].kind == MZ_LAYER_LINEAR)
            nan_bias += isnan(tw[twin.layers[i].sb_off]);
    CHECK_EQ_INT(nan_bias, 2);

    char zoo[256];
    temp_path(zoo, sizeof zoo, "predict");
    mz_store *st = NULL;
    CHECK_OK(mz_store_open(&st, zoo, MZ_STORE_WRITE, &err), &err);
    mz_layout lay[2] = {{"", plain.n_tensors, plain.tensors, plain.n_params},
                        {"", twin.n_tensors, twin.tensors, twin.n_params}};
    snprintf(lay[0].variant, sizeof lay[0].variant, "%s", plain.variant);
    snprintf(lay[1].variant, sizeof lay[1].variant, "%s", twin.variant);
    mz_model_row m[2];
    memset(m, 0, sizeof m);
    for (int k = 0; k < 2; k++) {
        m[k].id = k;
        m[k].variant = lay[k].variant;
        m[k].activation = "tanh";
        m[k].lr = m[k].weight_decay = m[k].dropout = m[k].momentum = NAN;
        m[k].nesterov = -1;
        m[k].source_id = m[k].source_epoch = -1;
    }
    static const char *const meta[][2] = {{"dataset", "fashion-mnist"}, {"batch_size", "10"}};
    mz_zoo_desc z = {"imported", "{\"test\":\"predict\"}", 2, meta, 2, m, 2, lay, NULL};
    CHECK_OK(mz_store_attach(st, &z, &err), &err);
    mz_epoch_record rec[2];
    memset(rec, 0, sizeof rec);
    for (int k = 0; k < 2; k++) {
        rec[k].model_id = k;
        rec[k].train_loss = rec[k].train_acc = rec[k].val_loss = rec[k].val_acc = NAN;
        rec[k].test_loss = rec[k].test_acc = rec[k].sparsity = NAN;
        rec[k].weights = k ? tw : pw;
        rec[k].n_weights = lay[k].n_params;
        rec[k].status = MZ_MODEL_DONE;
    }
    CHECK_OK(mz_store_commit(st, rec, 2, &err), &err);
    mz_store_close(st);

    int64_t ids[3] = {0, 1, 0};
    int eps[3] = {0, 0, 0};
    int32_t *cls = malloc(sizeof(int32_t) * (size_t)(3 * n));
    for (const char *const *be = backends; *be; be++) {
        mz_eval_options o;
        mz_eval_options_default(&o);
        o.dataset = &ds;
        o.backend = strcmp(*be, "default") ? *be : NULL;
        mz_evaluator *ev = NULL;
        CHECK_OK(mz_evaluator_open(&ev, zoo, &o, &err), &err);
        if (!ev)
            break;
        mz_eval_result res[3];
        CHECK_OK(mz_evaluator_predict(ev, 3, ids, eps, MZ_PART_TEST, cls, res, &err), &err);
        for (int k = 0; k < 2; k++) {
            int64_t same = 0, ties = 0, hits = 0;
            for (int64_t j = 0; j < n; j++) {
                const float *zl = logits[k] + j * 10;
                float a = -INFINITY, b = -INFINITY; /* the two largest */
                for (int c = 0; c < 10; c++)
                    if (zl[c] > a)
                        b = a, a = zl[c];
                    else if (zl[c] > b)
                        b = zl[c];
                int32_t c = cls[k * n + j];
                hits += c == ds.test.y[j];
                if (a - b <= 1e-4f)
                    ties++;
                else
                    same += c == (int32_t)want[k][j];
            }
            CHECK_MSG(same + ties == n && ties <= 2,
                      "%s (%s): %lld of %lld images predicted as torch does (%lld near-ties)",
                      k ? "twin" : "cnn-s", *be, (long long)same, (long long)n, (long long)ties);
            CHECK(res[k].acc == (double)hits / (double)n);
            printf("%s (%s backend): %lld of %lld images as torch predicts them (%lld near-ties "
                   "left out)\n",
                   k ? "twin, pruned" : "cnn-s", *be, (long long)same, (long long)n,
                   (long long)ties);
        }
        CHECK(!memcmp(cls, cls + 2 * n, sizeof(int32_t) * (size_t)n)); /* model 0 twice */
        CHECK(isnan(res[0].sparsity) && res[1].sparsity > 0.2 && res[1].sparsity < 0.8);
        int32_t *alone = malloc(sizeof(int32_t) * (size_t)n);
        CHECK_OK(mz_evaluator_predict(ev, 1, &ids[1], &eps[1], MZ_PART_TEST, alone, NULL, &err),
                 &err);
        CHECK(!memcmp(alone, cls + n, sizeof(int32_t) * (size_t)n));
        free(alone);
        mz_evaluator_close(ev);
    }
    free(cls);
    unlink(zoo);
    mz_dataset_release(&ds);
    json_decref(g.root);
    free(g.blob);
}

static void check_errors(const char *zoo, const mz_dataset *ds)
{
    mz_error err = {0};
    mz_dataset noval;
    make_dataset(&noval, 1, 28, 0);
    mz_eval_options o;
    mz_eval_options_default(&o);
    o.dataset = &noval;
    mz_evaluator *ev = NULL;
    mz_eval_result r;
    CHECK_OK(mz_evaluator_open(&ev, zoo, &o, &err), &err);
    CHECK_EQ_INT(mz_evaluator_checkpoint(ev, 99, 0, MZ_PART_TEST, &r, &err), MZ_ENOTFOUND);
    CHECK_MSG(strstr(err.msg, "no model 99") != NULL, "%s", err.msg);
    CHECK_EQ_INT(mz_evaluator_checkpoint(ev, 0, 7, MZ_PART_TEST, &r, &err), MZ_ENOTFOUND);
    CHECK_MSG(strstr(err.msg, "no epoch 7 of model 0") != NULL, "%s", err.msg);
    CHECK_EQ_INT(mz_evaluator_checkpoint(ev, 0, 0, MZ_PART_VAL, &r, &err), MZ_EINVAL);
    CHECK_MSG(strstr(err.msg, "has no val split") != NULL, "%s", err.msg);
    CHECK_EQ_INT(mz_evaluator_checkpoint(ev, 0, 0, (mz_part)5, &r, &err), MZ_EINVAL);
    float w[10] = {0};
    CHECK_EQ_INT(mz_evaluator_weights(ev, 0, w, 10, MZ_PART_TEST, &r, &err), MZ_EINVAL);
    CHECK_MSG(strstr(err.msg, "10 weights given") != NULL, "%s", err.msg);
    CHECK(isnan(r.loss) && r.n == 0);
    mz_evaluator_close(ev);

    /* the first images of a split only */
    mz_eval_result all, few;
    o.dataset = ds;
    CHECK_OK(mz_evaluator_open(&ev, zoo, &o, &err), &err);
    CHECK_OK(mz_evaluator_checkpoint(ev, 0, 1, MZ_PART_TEST, &all, &err), &err);
    mz_evaluator_close(ev);
    o.max_images = 7;
    CHECK_OK(mz_evaluator_open(&ev, zoo, &o, &err), &err);
    CHECK_OK(mz_evaluator_checkpoint(ev, 0, 1, MZ_PART_TEST, &few, &err), &err);
    CHECK_EQ_INT(few.n, 7);
    CHECK_EQ_INT(all.n, ds->test.n);
    CHECK(few.loss != all.loss);
    mz_evaluator_close(ev);
    o.max_images = -1;
    CHECK_EQ_INT(mz_evaluator_open(&ev, zoo, &o, &err), MZ_EINVAL);
    o.max_images = 0;
    mz_dataset_release(&noval);

    /* a dataset of another image shape: the layout matches no architecture */
    mz_dataset big;
    make_dataset(&big, 3, 32, 1);
    o.dataset = &big;
    CHECK_OK(mz_evaluator_open(&ev, zoo, &o, &err), &err);
    CHECK_EQ_INT(mz_evaluator_checkpoint(ev, 0, 0, MZ_PART_TEST, &r, &err), MZ_EUNSUPPORTED);
    CHECK_MSG(strstr(err.msg, "none of the architectures") != NULL, "%s", err.msg);
    mz_evaluator_close(ev);
    mz_dataset_release(&big);

    /* not a zoo */
    char path[256];
    temp_path(path, sizeof path, "notzoo");
    FILE *f = fopen(path, "w");
    fputs("not a zoo\n", f);
    fclose(f);
    ev = (mz_evaluator *)1;
    CHECK_EQ_INT(mz_evaluator_open(&ev, path, NULL, &err), MZ_EFORMAT);
    CHECK(ev == NULL);
    unlink(path);
    CHECK_EQ_INT(mz_evaluator_open(&ev, "/nonexistent/zoo.db", NULL, &err), MZ_ENOTFOUND);
    mz_evaluator_close(NULL);
}

int main(void)
{
    const char *both[] = {"ref", "simd", NULL}, *one[] = {"default", NULL};
    const char *const *backends = mz_pop_backend_simd() ? both : (const char *const *)one;
    mz_dataset s28, s32, s8;
    make_dataset(&s28, 1, 28, 1);
    make_dataset(&s32, 3, 32, 1);
    make_dataset(&s8, 3, 8, 1);
    char cnns_zoo[256];
    check_zoo("cnn-s",
              "{\"dataset\": \"fashion-mnist\", \"architecture\": \"cnn-s\", \"epochs\": 2, "
              "\"batch_size\": 10, \"grid\": {\"activation\": [\"tanh\", \"relu\"], \"init\": "
              "\"kaiming_uniform\", \"lr\": 0.003, \"dropout\": [0, 0.5], \"seed\": 1}}",
              &s28, backends, cnns_zoo, sizeof cnns_zoo);
    check_zoo("cnn-l",
              "{\"dataset\": \"cifar10\", \"variant\": \"32px\", \"architecture\": \"cnn-l\", "
              "\"epochs\": 1, \"batch_size\": 10, \"grid\": {\"activation\": \"gelu\", \"init\": "
              "\"kaiming_uniform\", \"lr\": 0.003, \"seed\": [1, 2]}}",
              &s32, backends, NULL, 0);
    const char *def[] = {"default", NULL};
    check_zoo("resnet18",
              "{\"dataset\": \"cifar10\", \"variant\": \"resnet\", \"architecture\": "
              "\"resnet18\", \"epochs\": 1, \"batch_size\": 16, \"grid\": {\"activation\": "
              "\"relu\", \"init\": \"kaiming_uniform\", \"optimizer\": \"sgd\", \"lr\": 0.01, "
              "\"momentum\": 0.9, \"seed\": 1}}",
              &s8, def, NULL, 0);
    check_twin(cnns_zoo, &s28);
    check_predict_golden(backends);
    check_errors(cnns_zoo, &s28);
    unlink(cnns_zoo);
    mz_dataset_release(&s28);
    mz_dataset_release(&s32);
    mz_dataset_release(&s8);
    return check_summary("test_eval");
}
