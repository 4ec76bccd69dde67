/* ResNet-18 zoos: the per-model training path behind mz_train_run (train.h).
 *
 * ResNet-18 does not fit the population engine's lanes (11M parameters, BatchNorm, 1 GB of
 * activations per model at batch 256), so every worker thread trains one model at a time with
 * mzoo/resnet.h, each BLAS call single-threaded. Models in parallel rather than one model on
 * threaded BLAS: with ~1000 models per zoo there is always enough independent work, the
 * non-GEMM parts (im2col, BatchNorm, ReLU, col2im) run in parallel too, and a model's results do
 * not depend on the number of threads (OpenBLAS's Haswell kernel rounds differently with 1 and 2
 * threads; docs/PERFORMANCE.md, "ResNet-18", has the measurements).
 *
 * The protocol and the zoo file are the population engine's (train.h, store.h):
 *   epoch 0: eval-mode loss/accuracy of the initial model on train, val and test;
 *   epoch e >= 1: the train split in the order Philox(seed, SHUFFLE, e), batches of batch_size
 *     (the last one smaller), each image augmented by a pure function of (seed, e, position in
 *     the epoch) (mz_train_resnet_augmentation), forward in training mode (BatchNorm batch
 *     statistics, running statistics updated), NLL of log_softmax, backward, OneCycle (when the
 *     spec asks for it) then the optimizer; train metrics are the running averages of the
 *     training-mode batches; then eval-mode val and test, never augmented;
 *   the commit of an epoch: weights = the whole state vector (parameters, running statistics and
 *     counters: mz_resnet.tensors), resume state = the optimizer state of the trainable tensors
 *     and the update counter.
 * Commits go through one mutex (the store handle is used by one thread at a time); so do the
 * progress callbacks. A model whose loss or weights become NaN/Inf is marked diverged.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mzoo/data.h"
#include "mzoo/nn.h"
#include "mzoo/optim.h"
#include "mzoo/resnet.h"
#include "mzoo/store.h"
#include "mzoo/train.h"
#include "train/train_resnet-impl.h"
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

typedef struct rrun {
    const mz_spec *spec;
    const mz_dataset *ds;
    const mz_train_opts *opts;
    mz_resnet net;
    int aug;
    mz_store *store;
    int64_t *queue; /* models to train, id order */
    int64_t n_queue, next;
    int *start; /* [n_models]: first epoch to produce */
    pthread_mutex_t mu;
    volatile int failed;
    mz_error err;
    mz_train_progress prog;
    double t0;
    int64_t samples;
    int commits;
} rrun;

typedef struct rworker {
    rrun *r;
    mz_resnet_ws *ws;
    float *state, *grads, *opt, *x, *logits, *dlogits;
    int32_t *y;
    uint32_t *perm;
    uint8_t *img, *tmp;
} rworker;

static int stop_requested(const rrun *r)
{
    return r->failed || (r->opts->stop && *r->opts->stop);
}

/* Records the first error and makes everyone stop. Call with r->mu held. */
static void fail_locked(rrun *r, const mz_error *e)
{
    if (!r->failed) {
        r->err = *e;
        r->failed = 1;
    }
}

static void report_locked(rrun *r, int final)
{
    mz_train_report(r->opts, &r->prog, r->t0, r->samples, final);
}

/* Commits one epoch record, or (weights NULL) a status change. */
static void commit(rrun *r, const mz_epoch_record *rec)
{
    mz_error e = {0};
    pthread_mutex_lock(&r->mu);
    if (!r->failed) {
        mz_status st = rec->weights ? mz_store_commit(r->store, rec, 1, &e)
                                    : mz_store_set_status(r->store, rec->model_id, rec->status,
                                                          rec->message, &e);
        if (st != MZ_OK) {
            fail_locked(r, &e);
        } else {
            mz_train_progress *p = &r->prog;
            if (rec->weights) {
                p->epochs_done++;
                p->last_epoch = rec->epoch;
                p->last_test_acc = rec->test_acc;
            }
            if (rec->status == MZ_MODEL_DONE || rec->status == MZ_MODEL_DIVERGED) {
                p->models_done++;
                if (rec->status == MZ_MODEL_DIVERGED) {
                    p->models_diverged++;
                    p->epochs_total -=
                        r->spec->epochs - (rec->weights ? rec->epoch : rec->epoch - 1);
                }
            }
            r->commits++;
            if (r->opts->kill_after_commits && r->commits >= r->opts->kill_after_commits)
                _exit(137); /* crash simulation for the resume tests */
            report_locked(r, 0);
        }
    }
    pthread_mutex_unlock(&r->mu);
}

static void mark_diverged(rrun *r, int64_t id, int epoch, const char *msg)
{
    mz_epoch_record rec;
    memset(&rec, 0, sizeof rec);
    rec.model_id = id;
    rec.epoch = epoch;
    rec.status = MZ_MODEL_DIVERGED;
    rec.message = msg;
    commit(r, &rec);
}

/* Images idx[0..nb-1] of split s (or first..first+nb-1 when idx is NULL) into w->x [nb][c][h][w]
 * and their labels into w->y; augmented with (seed, epoch, pos0 + b) when aug is set. */
static void gather(rworker *w, const mz_split *s, const uint32_t *idx, int64_t first, int nb,
                   int aug, uint64_t seed, int epoch, int64_t pos0)
{
    const mz_dataset *ds = w->r->ds;
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

/* Eval-mode mean per-sample loss (accumulated in double) and accuracy on a split; NaN if empty. */
static void eval_split(rworker *w, const mz_split *s, double *loss, double *acc)
{
    const rrun *r = w->r;
    int B = r->spec->batch_size, K = r->net.n_classes;
    *loss = *acc = NAN;
    if (s->n == 0)
        return;
    double ls = 0;
    int64_t hits = 0;
    for (int64_t first = 0; first < s->n; first += B) {
        int nb = (int)(s->n - first < B ? s->n - first : B);
        gather(w, s, NULL, first, nb, AUG_NONE, 0, 0, 0);
        mz_resnet_forward(&r->net, w->ws, w->state, w->x, nb, 0, w->logits);
        for (int b = 0; b < nb; b++) {
            int c = 0;
            ls += mz_ref_loss(w->logits + (int64_t)b * K, w->y + b, 1, K, NULL, &c);
            hits += c;
        }
    }
    *loss = ls / (double)s->n;
    *acc = (double)hits / (double)s->n;
}

static int all_finite(const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return 0;
    return 1;
}

static void train_model(rworker *w, int64_t id)
{
    rrun *r = w->r;
    const mz_spec *spec = r->spec;
    const mz_model_spec *m = &spec->models[id];
    const mz_resnet *net = &r->net;
    const mz_split *tr = &r->ds->train;
    int B = spec->batch_size, K = net->n_classes;
    int64_t N = tr->n, steps = (N + B - 1) / B;
    int64_t n_opt = mz_optim_state_floats(m->optimizer, net->n_trainable), t = 0;
    int start = r->start[id];
    mz_error e = {0};
    if (start == 0) {
        mz_resnet_init_params(net, m->init, m->seed, w->state);
        memset(w->opt, 0, sizeof(float) * (size_t)n_opt);
    } else {
        int ep = -1;
        pthread_mutex_lock(&r->mu);
        mz_status st =
            mz_store_load_resume(r->store, id, &ep, w->state, net->n_state, w->opt, n_opt, &t, &e);
        if (st == MZ_OK && ep != start - 1)
            mz_fail(&e, MZ_EFORMAT,
                    "model %lld: resume state is for epoch %d but epoch %d is the last committed",
                    (long long)id, ep, start - 1);
        if (e.code != MZ_OK)
            fail_locked(r, &e);
        pthread_mutex_unlock(&r->mu);
        if (e.code != MZ_OK)
            return;
    }
    mz_optim_cfg oc;
    mz_optim_cfg_from_model(&oc, m);
    char msg[160];

    for (int epoch = start; epoch <= spec->epochs && !stop_requested(r); epoch++) {
        double tr_loss, tr_acc, va_loss, va_acc, te_loss, te_acc;
        if (epoch == 0) {
            eval_split(w, tr, &tr_loss, &tr_acc);
        } else {
            mz_rng_stream s = mz_rng_make((uint64_t)m->seed, MZ_RNG_SHUFFLE, (uint32_t)epoch, 0, 0);
            mz_rng_permutation(&s, w->perm, (uint32_t)N);
            double lsum = 0;
            int64_t hits = 0;
            for (int64_t step = 0; step < steps; step++) {
                if (stop_requested(r))
                    return; /* the unfinished epoch is not committed */
                int nb = (int)(N - step * B < B ? N - step * B : B);
                gather(w, tr, w->perm + step * B, 0, nb, r->aug, (uint64_t)m->seed, epoch,
                       step * B);
                if (spec->scheduler == MZ_SCHED_ONECYCLE) {
                    double lr, mom;
                    mz_onecycle(m->lr, steps * spec->epochs, t, &lr, &mom);
                    oc.lr = lr;
                    if (oc.type == MZ_OPT_SGD)
                        oc.momentum = mom;
                    else
                        oc.beta1 = mom;
                }
                mz_resnet_forward(net, w->ws, w->state, w->x, nb, 1, w->logits);
                int correct = 0;
                float loss = mz_ref_loss(w->logits, w->y, nb, K, w->dlogits, &correct);
                if (!isfinite(loss)) {
                    snprintf(msg, sizeof msg, "training loss is %s at epoch %d, step %lld",
                             isnan(loss) ? "NaN" : "Inf", epoch, (long long)step);
                    mark_diverged(r, id, epoch, msg);
                    return;
                }
                mz_resnet_backward(net, w->ws, w->state, w->dlogits, w->grads);
                t++;
                mz_resnet_optim_step(net, &oc, w->state, w->grads, w->opt, t);
                lsum += (double)loss * nb;
                hits += correct;
            }
            pthread_mutex_lock(&r->mu);
            r->samples += N;
            pthread_mutex_unlock(&r->mu);
            tr_loss = lsum / (double)N;
            tr_acc = (double)hits / (double)N;
        }
        if (!all_finite(w->state, net->n_state)) {
            snprintf(msg, sizeof msg, "weights became NaN/Inf in epoch %d", epoch);
            mark_diverged(r, id, epoch, msg);
            return;
        }
        eval_split(w, &r->ds->val, &va_loss, &va_acc);
        eval_split(w, &r->ds->test, &te_loss, &te_acc);
        mz_epoch_record rec;
        memset(&rec, 0, sizeof rec);
        rec.model_id = id;
        rec.epoch = epoch;
        rec.train_loss = tr_loss;
        rec.train_acc = tr_acc;
        rec.val_loss = va_loss;
        rec.val_acc = va_acc;
        rec.test_loss = te_loss;
        rec.test_acc = te_acc;
        rec.weights = w->state;
        rec.n_weights = net->n_state;
        rec.opt_state = w->opt;
        rec.n_opt = n_opt;
        rec.opt_step = t;
        rec.status = epoch == spec->epochs ? MZ_MODEL_DONE : MZ_MODEL_RUNNING;
        commit(r, &rec);
    }
}

static void *worker_main(void *arg)
{
    rworker *w = arg;
    rrun *r = w->r;
    for (;;) {
        pthread_mutex_lock(&r->mu);
        int64_t k = r->next < r->n_queue && !stop_requested(r) ? r->next++ : -1;
        pthread_mutex_unlock(&r->mu);
        if (k < 0)
            break;
        train_model(w, r->queue[k]);
    }
    return NULL;
}

static void worker_release(rworker *w)
{
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
}

static mz_status worker_init(rworker *w, rrun *r, mz_error *err)
{
    const mz_resnet *net = &r->net;
    int B = r->spec->batch_size, K = net->n_classes;
    int64_t chw = (int64_t)net->in_c * net->in_h * net->in_w;
    memset(w, 0, sizeof *w);
    w->r = r;
    mz_status st = mz_resnet_ws_new(&w->ws, net, B, err);
    if (st != MZ_OK)
        return st;
    w->state = malloc(sizeof(float) * (size_t)net->n_state);
    w->grads = malloc(sizeof(float) * (size_t)net->n_state);
    w->opt = malloc(sizeof(float) * (size_t)mz_optim_state_floats(MZ_OPT_ADAM, net->n_trainable));
    w->x = malloc(sizeof(float) * (size_t)(chw * B));
    w->logits = malloc(sizeof(float) * (size_t)B * K);
    w->dlogits = malloc(sizeof(float) * (size_t)B * K);
    w->y = malloc(sizeof(int32_t) * (size_t)B);
    w->perm = malloc(sizeof(uint32_t) * (size_t)(r->ds->train.n > 0 ? r->ds->train.n : 1));
    w->img = malloc((size_t)chw);
    w->tmp = malloc((size_t)chw);
    if (!w->state || !w->grads || !w->opt || !w->x || !w->logits || !w->dlogits || !w->y ||
        !w->perm || !w->img || !w->tmp)
        return mz_fail(err, MZ_ENOMEM, "resnet18: out of memory for a worker");
    return MZ_OK;
}

static int online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* Workers that fit in 3/4 of the physical memory (each holds a whole workspace). */
static int workers_for_memory(const rrun *r, int want)
{
#ifdef _SC_PHYS_PAGES
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages > 0 && page > 0) {
        double per = (double)mz_resnet_ws_bytes(&r->net, r->spec->batch_size) +
                     4.0 * (double)r->net.n_state * sizeof(float);
        double fit = 0.75 * (double)pages * (double)page / per;
        if (fit < want)
            want = fit < 1 ? 1 : (int)fit;
    }
#endif
    return want;
}

mz_status mz_train_resnet_run_ds(const mz_spec *spec, const mz_dataset *ds, const char *zoo_path,
                                 const mz_train_opts *opts, mz_error *err)
{
    rrun R;
    memset(&R, 0, sizeof R);
    R.spec = spec;
    R.ds = ds;
    R.opts = opts;
    R.t0 = mz_now();
    R.aug = mz_train_resnet_augmentation(spec->dataset);
    mz_status st = mz_resnet_init(&R.net, ds->c, ds->h, ds->w, ds->n_classes, err);
    if (st != MZ_OK) {
        mz_error_prefix(err, "resnet18 with dataset %s", spec->dataset);
        return st;
    }
    if (ds->train.n < 1 || ds->train.n > UINT32_MAX)
        return mz_fail(err, MZ_EINVAL, "resnet18: %lld training images", (long long)ds->train.n);

    int64_t n = spec->n_models;
    const char **variant_of = malloc(sizeof(char *) * (size_t)(n > 0 ? n : 1));
    mz_model_progress *prog = calloc((size_t)(n > 0 ? n : 1), sizeof *prog);
    R.start = calloc((size_t)(n > 0 ? n : 1), sizeof *R.start);
    R.queue = calloc((size_t)(n > 0 ? n : 1), sizeof *R.queue);
    if (!variant_of || !prog || !R.start || !R.queue) {
        free(variant_of), free(prog), free(R.start), free(R.queue);
        return mz_fail(err, MZ_ENOMEM, "out of memory");
    }
    for (int64_t i = 0; i < n; i++)
        variant_of[i] = R.net.variant;
    mz_layout layout;
    memset(&layout, 0, sizeof layout);
    snprintf(layout.variant, sizeof layout.variant, "%s", R.net.variant);
    layout.n_tensors = R.net.n_tensors;
    layout.tensors = R.net.tensors;
    layout.n_params = R.net.n_state;

    st = mz_store_open(&R.store, zoo_path, MZ_STORE_WRITE, err);
    if (st == MZ_OK)
        st = mz_store_attach(R.store, spec, variant_of, &layout, 1, err);
    free(variant_of);
    if (st == MZ_OK)
        st = mz_store_progress(R.store, prog, n, err);
    for (int64_t i = 0; i < n && st == MZ_OK; i++) {
        R.start[i] = mz_train_start_epoch(&prog[i], spec->epochs, &R.prog);
        if (R.start[i] >= 0)
            R.queue[R.n_queue++] = i;
    }
    free(prog);
    R.prog.models_total = n;
    R.prog.models_done = R.prog.models_skipped;

    if (st == MZ_OK && R.n_queue > 0) {
        int threads = opts->threads > 0 ? opts->threads : online_cpus();
        int workers = threads < R.n_queue ? threads : (int)R.n_queue;
        workers = workers_for_memory(&R, workers);
        mz_blas_set_threads(1);
        pthread_mutex_init(&R.mu, NULL);
        rworker *ws = calloc((size_t)workers, sizeof *ws);
        pthread_t *tids = calloc((size_t)workers, sizeof *tids);
        int made = 0;
        if (!ws || !tids)
            st = mz_fail(err, MZ_ENOMEM, "out of memory");
        for (; st == MZ_OK && made < workers; made++)
            st = worker_init(&ws[made], &R, err);
        if (st == MZ_OK) {
            for (int t = 0; t < workers; t++)
                pthread_create(&tids[t], NULL, worker_main, &ws[t]);
            for (int t = 0; t < workers; t++)
                pthread_join(tids[t], NULL);
            if (R.failed) {
                st = R.err.code ? R.err.code : MZ_ESTORE;
                if (err) {
                    *err = R.err;
                    mz_error_prefix(err, "%s", zoo_path);
                }
            } else if (opts->stop && *opts->stop) {
                st = mz_fail(
                    err, MZ_EINTERRUPTED,
                    "interrupted; committed epochs are kept, run the same command again to resume");
            }
        }
        for (int t = 0; t < made; t++)
            worker_release(&ws[t]);
        free(ws);
        free(tids);
        pthread_mutex_destroy(&R.mu);
    }
    if (st == MZ_OK) {
        R.prog.elapsed = mz_now() - R.t0;
        report_locked(&R, 1);
    }
    mz_store_close(R.store);
    free(R.start);
    free(R.queue);
    return st;
}

mz_status mz_train_resnet_run(const mz_spec *spec, const char *zoo_path, const mz_train_opts *opts,
                              mz_error *err)
{
    mz_dataset ds;
    mz_status st = mz_dataset_load(&ds, spec->dataset, spec->data_dir[0] ? spec->data_dir : NULL,
                                   spec->variant[0] ? spec->variant : NULL, err);
    if (st != MZ_OK)
        return st;
    if (spec->train_subset > 0)
        st = mz_dataset_subset_train(&ds, spec->train_subset, err);
    if (st == MZ_OK)
        st = mz_train_resnet_run_ds(spec, &ds, zoo_path, opts, err);
    mz_dataset_release(&ds);
    return st;
}
