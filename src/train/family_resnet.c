/* ResNet-18 zoos: one model per unit, trained on one worker thread with mzoo/resnet.h.
 *
 * ResNet-18 does not fit the population engine's lanes (11M parameters, BatchNorm, 1 GB of
 * activations per model at batch 256), so every worker trains one model at a time, each BLAS call
 * single-threaded. Models in parallel rather than one model on threaded BLAS: with ~1000 models
 * per zoo there is always enough independent work, the non-GEMM parts (im2col, BatchNorm, ReLU,
 * col2im) run in parallel too, and a model's results do not depend on the number of threads
 * (OpenBLAS's Haswell kernel rounds differently with 1 and 2 threads; docs/PERFORMANCE.md,
 * "ResNet-18", has the measurements).
 *
 * The protocol is the population engine's (train.h):
 *   epoch 0: eval-mode loss/accuracy of the initial model on train, val and test;
 *   epoch e >= 1: the train split in the order Philox(seed, SHUFFLE, e), batches of batch_size
 *     (the last one smaller), each image augmented by a pure function of (seed, e, position in
 *     the epoch) (mz_train_resnet_augmentation), forward in training mode (BatchNorm batch
 *     statistics, running statistics updated), NLL of log_softmax, backward, OneCycle (when the
 *     spec asks for it) then the optimizer; train metrics are the running averages of the
 *     training-mode batches; then eval-mode val and test, never augmented;
 *   the record of an epoch: weights = the whole state vector (parameters, running statistics and
 *     counters: mz_resnet.tensors), resume state = the optimizer state of the trainable tensors
 *     and the update counter.
 * A model whose loss or weights become NaN/Inf is marked diverged. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mzoo/nn.h"
#include "mzoo/optim.h"
#include "mzoo/resnet.h"
#include "train/train-impl.h"
#include "core/banned.h"

#define AUG_NONE 0
#define AUG_CROP_FLIP 1   /* RandomCrop(h, padding=4) + RandomHorizontalFlip */
#define AUG_FLIP_ROTATE 2 /* RandomHorizontalFlip + RandomRotation(20) */

int mz_train_resnet_augmentation(const char *dataset)
{
    if (!strcmp(dataset, "cifar10") || !strcmp(dataset, "cifar100"))
        return AUG_CROP_FLIP;
    if (!strcmp(dataset, "tiny-imagenet"))
        return AUG_FLIP_ROTATE;
    return AUG_NONE;
}

typedef struct resnet_family {
    mz_resnet net;
    mz_layout layout;
    int aug;
} resnet_family;

/* Workers that fit in 3/4 of the physical memory (each holds a whole workspace). */
static int workers_for_memory(const mz_resnet *net, int batch, int want)
{
#ifdef _SC_PHYS_PAGES
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages > 0 && page > 0) {
        double per = (double)mz_resnet_ws_bytes(net, batch) + 4.0 * (double)net->n_state * 4.0;
        double fit = 0.75 * (double)pages * (double)page / per;
        if (fit < want)
            want = fit < 1 ? 1 : (int)fit;
    }
#endif
    return want;
}

static mz_status resnet_check(const mz_spec *spec, const mz_train_opts *opts, mz_error *err)
{
    (void)spec;
    if (opts->backend || opts->max_group > 0)
        return mz_fail(err, MZ_EINVAL,
                       "--backend and --group choose how CNN-s/CNN-l models share a population; "
                       "resnet18 trains one model per thread and takes neither");
    return MZ_OK;
}

static mz_status resnet_prepare(mz_run *r, mz_error *err)
{
    const mz_spec *spec = r->spec;
    const mz_dataset *ds = r->ds;
    if (ds->train.n < 1 || ds->train.n > UINT32_MAX)
        return mz_fail(err, MZ_EINVAL, "resnet18: %lld training images", (long long)ds->train.n);
    resnet_family *f = calloc(1, sizeof *f);
    const char **names = calloc((size_t)(spec->n_models ? spec->n_models : 1), sizeof *names);
    if (!f || !names) {
        free(f);
        free(names);
        return mz_fail(err, MZ_ENOMEM, "out of memory");
    }
    r->fs = f;
    mz_status s = mz_resnet_init(&f->net, ds->c, ds->h, ds->w, ds->n_classes, err);
    if (s != MZ_OK) {
        free(names);
        mz_error_prefix(err, "resnet18 with dataset %s", spec->dataset);
        return s;
    }
    f->aug = mz_train_resnet_augmentation(spec->dataset);
    snprintf(f->layout.variant, sizeof f->layout.variant, "%s", f->net.variant);
    f->layout.n_tensors = f->net.n_tensors;
    f->layout.tensors = f->net.tensors;
    f->layout.n_params = f->net.n_state;
    for (int64_t i = 0; i < spec->n_models; i++)
        names[i] = f->net.variant;
    s = mz_train_grid_desc(r, names, &f->layout, 1, err);
    free(names);
    r->threads = workers_for_memory(&f->net, spec->batch_size, r->threads);
    mz_blas_set_threads(1);
    return s;
}

static void resnet_release(mz_run *r)
{
    mz_train_grid_desc_release(r);
    free(r->fs);
    r->fs = NULL;
}

static mz_status resnet_plan(mz_run *r, const int *start, mz_unit **units, int *n_units,
                             mz_error *err)
{
    int64_t n = r->spec->n_models, k = 0;
    mz_unit *u = calloc((size_t)(n ? n : 1), sizeof *u);
    if (!u)
        return mz_fail(err, MZ_ENOMEM, "out of memory");
    for (int64_t i = 0; i < n; i++)
        if (start[i] >= 0) {
            u[k].start_epoch = start[i];
            u[k].n = 1;
            u[k].model[0] = i;
            k++;
        }
    *units = u;
    *n_units = (int)k;
    return MZ_OK;
}

typedef struct resnet_worker {
    mz_resnet_ws *ws;
    float *state, *grads, *opt, *x, *logits, *dlogits;
    int32_t *y;
    uint32_t *perm;
    uint8_t *img, *tmp;
} resnet_worker;

static void resnet_worker_free(void *vw)
{
    resnet_worker *w = vw;
    if (!w)
        return;
    mz_resnet_ws_free(w->ws);
    free(w->state);
    free(w->grads);
    free(w->opt);
    free(w->x);
    free(w->logits);
    free(w->dlogits);
    free(w->y);
    free(w->perm);
    free(w->img);
    free(w->tmp);
    free(w);
}

static mz_status resnet_worker_new(mz_run *r, void **out, mz_error *err)
{
    const resnet_family *f = r->fs;
    const mz_resnet *net = &f->net;
    int B = r->spec->batch_size, K = net->n_classes;
    int64_t chw = (int64_t)net->in_c * net->in_h * net->in_w;
    resnet_worker *w = calloc(1, sizeof *w);
    if (!w)
        return mz_fail(err, MZ_ENOMEM, "resnet18: out of memory for a worker");
    mz_status s = mz_resnet_ws_new(&w->ws, net, B, err);
    if (s != MZ_OK) {
        resnet_worker_free(w);
        return s;
    }
    w->state = malloc(sizeof(float) * (size_t)net->n_state);
    w->grads = malloc(sizeof(float) * (size_t)net->n_state);
    w->opt = malloc(sizeof(float) * (size_t)mz_optim_state_floats(MZ_OPT_ADAM, net->n_trainable));
    w->x = malloc(sizeof(float) * (size_t)(chw * B));
    w->logits = malloc(sizeof(float) * (size_t)B * K);
    w->dlogits = malloc(sizeof(float) * (size_t)B * K);
    w->y = malloc(sizeof(int32_t) * (size_t)B);
    w->perm = malloc(sizeof(uint32_t) * (size_t)r->ds->train.n);
    w->img = malloc((size_t)chw);
    w->tmp = malloc((size_t)chw);
    if (!w->state || !w->grads || !w->opt || !w->x || !w->logits || !w->dlogits || !w->y ||
        !w->perm || !w->img || !w->tmp) {
        resnet_worker_free(w);
        return mz_fail(err, MZ_ENOMEM, "resnet18: out of memory for a worker");
    }
    *out = w;
    return MZ_OK;
}

/* Images idx[0..nb-1] of split s (or first..first+nb-1 when idx is NULL) into w->x [nb][c][h][w]
 * and their labels into w->y; augmented with (seed, epoch, pos0 + b) when aug is set. */
static void gather(resnet_worker *w, const mz_dataset *ds, const mz_split *s, const uint32_t *idx,
                   int64_t first, int nb, int aug, uint64_t seed, int epoch, int64_t pos0)
{
    int c = ds->c, h = ds->h, wd = ds->w;
    int64_t hw = (int64_t)h * wd, chw = c * hw;
    for (int b = 0; b < nb; b++) {
        int64_t i = idx ? (int64_t)idx[b] : first + b;
        const uint8_t *src = s->x + i * chw;
        w->y[b] = s->y[i];
        if (aug == AUG_CROP_FLIP) {
            mz_aug_crop_flip(src, c, h, wd, 4, seed, (uint32_t)epoch, (uint32_t)(pos0 + b), w->img);
            src = w->img;
        } else if (aug == AUG_FLIP_ROTATE) {
            mz_aug_flip_rotate(src, c, h, wd, 20.0f, seed, (uint32_t)epoch, (uint32_t)(pos0 + b),
                               w->tmp, w->img);
            src = w->img;
        }
        float *dst = w->x + b * chw;
        for (int ch = 0; ch < c; ch++) {
            const float *lut = ds->lut[ch];
            for (int64_t p = 0; p < hw; p++)
                dst[ch * hw + p] = lut[src[ch * hw + p]];
        }
    }
}

/* Eval-mode mean per-sample loss (accumulated in double) and accuracy on a split; NaN if empty.
 * Returns 0 when the run is stopping (the result is then meaningless). */
static int eval_split(mz_run *r, resnet_worker *w, const mz_split *s, double *loss, double *acc,
                      mz_sink *sink)
{
    const resnet_family *f = r->fs;
    int B = r->spec->batch_size, K = f->net.n_classes;
    *loss = *acc = NAN;
    if (s->n == 0)
        return 1;
    double ls = 0;
    int64_t hits = 0;
    for (int64_t first = 0; first < s->n; first += B) {
        if (sink->stopping(sink))
            return 0;
        int nb = (int)(s->n - first < B ? s->n - first : B);
        gather(w, r->ds, s, NULL, first, nb, AUG_NONE, 0, 0, 0);
        mz_resnet_forward(&f->net, w->ws, w->state, w->x, nb, 0, w->logits);
        for (int b = 0; b < nb; b++) {
            int c = 0;
            ls += mz_ref_loss(w->logits + (int64_t)b * K, w->y + b, 1, K, NULL, &c);
            hits += c;
        }
    }
    *loss = ls / (double)s->n;
    *acc = (double)hits / (double)s->n;
    return 1;
}

/* Puts a batch that marks model id diverged at epoch, with message msg. */
static void put_diverged(mz_sink *sink, int64_t id, int epoch, const char *msg)
{
    mz_batch *b = mz_batch_new(0, 0);
    if (!b) {
        mz_error e;
        mz_fail(&e, MZ_ENOMEM, "out of memory (commit)");
        sink->fail(sink, &e);
        return;
    }
    mz_batch_status(b, id, epoch, MZ_MODEL_DIVERGED, "%s", msg);
    sink->put(sink, b);
}

/* One training epoch; returns 1 when done, 0 when interrupted or diverged (already reported). */
static int train_epoch(mz_run *r, resnet_worker *w, const mz_model_spec *m, mz_optim_cfg *oc,
                       int epoch, int64_t *t, double *tr_loss, double *tr_acc, mz_sink *sink)
{
    const resnet_family *f = r->fs;
    const mz_spec *spec = r->spec;
    const mz_split *tr = &r->ds->train;
    int B = spec->batch_size, K = f->net.n_classes;
    int64_t N = tr->n, steps = (N + B - 1) / B;
    mz_rng_stream s = mz_rng_make((uint64_t)m->seed, MZ_RNG_SHUFFLE, (uint32_t)epoch, 0, 0);
    mz_rng_permutation(&s, w->perm, (uint32_t)N);
    double lsum = 0;
    int64_t hits = 0;
    for (int64_t step = 0; step < steps; step++) {
        if (sink->stopping(sink))
            return 0; /* the unfinished epoch is not committed */
        int nb = (int)(N - step * B < B ? N - step * B : B);
        gather(w, r->ds, tr, w->perm + step * B, 0, nb, f->aug, (uint64_t)m->seed, epoch, step * B);
        if (spec->scheduler == MZ_SCHED_ONECYCLE) {
            double lr, mom;
            mz_onecycle(m->lr, steps * spec->epochs, *t, &lr, &mom);
            oc->lr = lr;
            if (oc->type == MZ_OPT_SGD)
                oc->momentum = mom;
            else
                oc->beta1 = mom;
        }
        mz_resnet_forward(&f->net, w->ws, w->state, w->x, nb, 1, w->logits);
        int correct = 0;
        float loss = mz_ref_loss(w->logits, w->y, nb, K, w->dlogits, &correct);
        if (!isfinite(loss)) {
            char msg[128];
            snprintf(msg, sizeof msg, "training loss is %s at epoch %d, step %lld",
                     isnan(loss) ? "NaN" : "Inf", epoch, (long long)step);
            put_diverged(sink, m->id, epoch, msg);
            return 0;
        }
        mz_resnet_backward(&f->net, w->ws, w->state, w->dlogits, w->grads);
        (*t)++;
        mz_resnet_optim_step(&f->net, oc, w->state, w->grads, w->opt, *t);
        lsum += (double)loss * nb;
        hits += correct;
    }
    *tr_loss = lsum / (double)N;
    *tr_acc = (double)hits / (double)N;
    return 1;
}

static void resnet_run_unit(mz_run *r, void *vw, const mz_unit *u, mz_sink *sink)
{
    resnet_worker *w = vw;
    const resnet_family *f = r->fs;
    const mz_resnet *net = &f->net;
    const mz_model_spec *m = &r->spec->models[u->model[0]];
    int64_t n_opt = mz_optim_state_floats(m->optimizer, net->n_trainable), t = 0;
    mz_error e = {0};
    if (u->start_epoch == 0) {
        mz_resnet_init_params(net, m->init, m->seed, w->state);
        memset(w->opt, 0, sizeof(float) * (size_t)n_opt);
    } else {
        int ep = -1;
        mz_status s = r->load_resume(r, m->id, &ep, w->state, net->n_state, w->opt, n_opt, &t, &e);
        if (s == MZ_OK && ep != u->start_epoch - 1)
            s = mz_fail(&e, MZ_EFORMAT,
                        "model %lld: resume state is for epoch %d but epoch %d is the last "
                        "committed",
                        (long long)m->id, ep, u->start_epoch - 1);
        if (s != MZ_OK) {
            sink->fail(sink, &e);
            return;
        }
    }
    mz_optim_cfg oc;
    mz_optim_cfg_from_model(&oc, m);
    for (int epoch = u->start_epoch; epoch <= r->last_epoch && !sink->stopping(sink); epoch++) {
        double tr_loss, tr_acc, va_loss, va_acc, te_loss, te_acc;
        if (epoch == 0) {
            if (!eval_split(r, w, &r->ds->train, &tr_loss, &tr_acc, sink))
                return;
        } else if (!train_epoch(r, w, m, &oc, epoch, &t, &tr_loss, &tr_acc, sink)) {
            return;
        }
        if (!mz_all_finite(w->state, net->n_state)) {
            char msg[64];
            snprintf(msg, sizeof msg, "weights became NaN/Inf in epoch %d", epoch);
            put_diverged(sink, m->id, epoch, msg);
            return;
        }
        if (!eval_split(r, w, &r->ds->val, &va_loss, &va_acc, sink) ||
            !eval_split(r, w, &r->ds->test, &te_loss, &te_acc, sink))
            return;
        mz_batch *b = mz_batch_new(1, net->n_state + n_opt);
        if (!b) {
            mz_fail(&e, MZ_ENOMEM, "resnet18: out of memory (commit)");
            sink->fail(sink, &e);
            return;
        }
        memcpy(b->buf, w->state, sizeof(float) * (size_t)net->n_state);
        memcpy(b->buf + net->n_state, w->opt, sizeof(float) * (size_t)n_opt);
        mz_epoch_record *rc = &b->rec[0];
        rc->model_id = m->id;
        rc->epoch = epoch;
        rc->train_loss = tr_loss;
        rc->train_acc = tr_acc;
        rc->val_loss = va_loss;
        rc->val_acc = va_acc;
        rc->test_loss = te_loss;
        rc->test_acc = te_acc;
        rc->sparsity = NAN;
        rc->weights = b->buf;
        rc->n_weights = net->n_state;
        rc->opt_state = b->buf + net->n_state;
        rc->n_opt = n_opt;
        rc->opt_step = t;
        rc->status = epoch == r->last_epoch ? MZ_MODEL_DONE : MZ_MODEL_RUNNING;
        b->samples = epoch > 0 ? r->ds->train.n : 0;
        sink->put(sink, b);
    }
}

static void resnet_resume_sizes(mz_run *r, int64_t model_id, int64_t *n_weights, int64_t *n_opt)
{
    const resnet_family *f = r->fs;
    *n_weights = f->net.n_state;
    *n_opt = mz_optim_state_floats(r->spec->models[model_id].optimizer, f->net.n_trainable);
}

const mz_family mz_family_resnet = {
    "resnet18",      resnet_check,       resnet_prepare, resnet_plan,         resnet_worker_new,
    resnet_run_unit, resnet_worker_free, resnet_release, resnet_resume_sizes,
};
