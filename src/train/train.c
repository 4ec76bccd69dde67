/* Zoo generation: work queue of model groups, worker threads driving populations, one writer. */
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
#include "mzoo/pop.h"
#include "mzoo/store.h"
#include "mzoo/train.h"
#include "train/train_resnet-impl.h"
#include "core/banned.h"

#define MAX_VARIANTS 8

/* A unit of work: up to MZ_LANES models that share layout variant, activation and progress. */
typedef struct unit {
    int variant;
    mz_activation act;
    int start_epoch; /* first epoch to produce (0 = the initial evaluation) */
    int n;
    int64_t model[MZ_LANES];
} unit;

/* What a worker hands the writer: one epoch of one group, or status changes. */
typedef struct commit_item {
    int n;
    mz_epoch_record rec[MZ_LANES];
    char msg[MZ_LANES][160];
    float *buf; /* weights and optimizer states of the records, owned */
    struct commit_item *next;
} commit_item;

typedef struct run {
    const mz_spec *spec;
    const mz_dataset *ds;
    const mz_pop_backend *backend;
    mz_arch arch[MAX_VARIANTS];
    int n_variants;
    int *variant_of; /* [n_models] */
    mz_store *store;
    const mz_train_opts *opts;

    /* resume state of models that stopped mid-training: weights + optimizer + step */
    float **resume_buf;  /* [n_models], NULL for models starting fresh */
    int64_t *resume_step;

    /* work queue */
    unit *units;
    int n_units, next_unit;

    /* writer queue (bounded) */
    pthread_mutex_t mu;
    pthread_cond_t cv_items, cv_space;
    commit_item *head, *tail;
    int queued, queue_cap, workers_left;

    /* shared state */
    volatile int failed; /* set on a store error: everyone stops */
    mz_error err;
    mz_train_progress prog;
    double t0;
    int64_t samples_trained;
    int commits;
} run;

static int stop_requested(run *r)
{
    return r->failed || (r->opts->stop && *r->opts->stop);
}

/* ---- writer ---- */

static void push_item(run *r, commit_item *it)
{
    pthread_mutex_lock(&r->mu);
    while (r->queued >= r->queue_cap && !r->failed)
        pthread_cond_wait(&r->cv_space, &r->mu);
    it->next = NULL;
    if (r->tail)
        r->tail->next = it;
    else
        r->head = it;
    r->tail = it;
    r->queued++;
    pthread_cond_signal(&r->cv_items);
    pthread_mutex_unlock(&r->mu);
}

static void free_item(commit_item *it)
{
    if (it) {
        free(it->buf);
        free(it);
    }
}

void mz_train_report(const mz_train_opts *opts, mz_train_progress *p, double t0, int64_t samples,
                     int final)
{
    p->elapsed = mz_now() - t0;
    p->samples_per_sec = p->elapsed > 0 ? (double)samples / p->elapsed : 0;
    int64_t left = p->epochs_total - p->epochs_done;
    p->eta = p->epochs_done > 0 ? p->elapsed * (double)left / (double)p->epochs_done : -1;
    p->final = final;
    if (opts->progress)
        opts->progress(opts->progress_ctx, p);
}

int mz_train_start_epoch(const mz_model_progress *p, int epochs, mz_train_progress *prog)
{
    if (p->status == MZ_MODEL_DONE || p->status == MZ_MODEL_DIVERGED || p->status == MZ_MODEL_FAILED) {
        prog->models_skipped++;
        return -1;
    }
    int start = p->epochs_done + 1;
    if (start > epochs) /* every epoch committed: nothing left to train */
        return -1;
    prog->epochs_total += epochs - start + 1;
    return start;
}

static void report_progress(run *r, int final)
{
    mz_train_report(r->opts, &r->prog, r->t0, r->samples_trained, final);
}

static void *writer_main(void *arg)
{
    run *r = arg;
    for (;;) {
        pthread_mutex_lock(&r->mu);
        while (!r->head && r->workers_left > 0)
            pthread_cond_wait(&r->cv_items, &r->mu);
        commit_item *it = r->head;
        if (!it) {
            pthread_mutex_unlock(&r->mu);
            break;
        }
        r->head = it->next;
        if (!r->head)
            r->tail = NULL;
        r->queued--;
        pthread_cond_broadcast(&r->cv_space);
        pthread_mutex_unlock(&r->mu);

        if (!r->failed) {
            mz_error e = {0};
            mz_status st = MZ_OK;
            int n_epoch_recs = 0;
            for (int i = 0; i < it->n; i++)
                n_epoch_recs += it->rec[i].weights != NULL;
            if (n_epoch_recs == it->n) {
                st = mz_store_commit(r->store, it->rec, it->n, &e);
            } else {
                /* status-only items (a model diverged before finishing its epoch) */
                for (int i = 0; i < it->n && st == MZ_OK; i++)
                    st = mz_store_set_status(r->store, it->rec[i].model_id, it->rec[i].status,
                                             it->rec[i].message, &e);
            }
            if (st != MZ_OK) {
                pthread_mutex_lock(&r->mu);
                r->err = e;
                r->failed = 1;
                pthread_cond_broadcast(&r->cv_space);
                pthread_mutex_unlock(&r->mu);
            } else {
                double acc = 0;
                int nacc = 0;
                for (int i = 0; i < it->n; i++) {
                    const mz_epoch_record *rc = &it->rec[i];
                    if (rc->weights) {
                        r->prog.epochs_done++;
                        r->prog.last_epoch = rc->epoch;
                        if (!isnan(rc->test_acc))
                            acc += rc->test_acc, nacc++;
                    }
                    if (rc->status == MZ_MODEL_DONE || rc->status == MZ_MODEL_DIVERGED ||
                        rc->status == MZ_MODEL_FAILED) {
                        r->prog.models_done++;
                        if (rc->status == MZ_MODEL_DIVERGED) {
                            r->prog.models_diverged++;
                            /* a diverged model's remaining epochs will never come */
                            r->prog.epochs_total -= r->spec->epochs - (rc->weights ? rc->epoch : rc->epoch - 1);
                        }
                    }
                }
                if (nacc)
                    r->prog.last_test_acc = acc / nacc;
                r->commits++;
                if (r->opts->kill_after_commits && r->commits >= r->opts->kill_after_commits)
                    _exit(137); /* crash simulation for the resume tests */
                report_progress(r, 0);
            }
        }
        free_item(it);
    }
    return NULL;
}

/* ---- workers ---- */

static int claim_unit(run *r)
{
    pthread_mutex_lock(&r->mu);
    int u = r->next_unit < r->n_units && !stop_requested(r) ? r->next_unit++ : -1;
    pthread_mutex_unlock(&r->mu);
    return u;
}

static int all_finite(const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return 0;
    return 1;
}

typedef struct lane_acc {
    double loss_sum;
    int64_t correct;
} lane_acc;

/* Evaluates the active lanes on a split; loss = mean per-sample loss, acc = fraction. */
static void eval_split(mz_pop *pop, const mz_split *s, double *loss, double *acc)
{
    double ls[MZ_LANES] = {0};
    int64_t hits[MZ_LANES] = {0};
    for (int l = 0; l < MZ_LANES; l++)
        loss[l] = acc[l] = NAN;
    if (s->n == 0)
        return;
    mz_pop_eval(pop, s->x, s->y, s->n, ls, hits);
    for (int l = 0; l < MZ_LANES; l++) {
        loss[l] = ls[l] / (double)s->n;
        acc[l] = (double)hits[l] / (double)s->n;
    }
}

typedef struct worker {
    run *r;
    uint32_t *perm;  /* [MZ_LANES][n_train] */
    uint32_t *idx;   /* [MZ_LANES][batch] */
} worker;

static commit_item *new_item(int n, int64_t floats_per_lane)
{
    commit_item *it = calloc(1, sizeof *it);
    if (!it)
        return NULL;
    it->buf = malloc(sizeof(float) * (size_t)(floats_per_lane * n));
    if (!it->buf) {
        free(it);
        return NULL;
    }
    it->n = n;
    return it;
}

static void fail_oom(run *r, const char *what)
{
    pthread_mutex_lock(&r->mu);
    if (!r->failed) {
        mz_fail(&r->err, MZ_ENOMEM, "out of memory (%s)", what);
        r->failed = 1;
    }
    pthread_cond_broadcast(&r->cv_space);
    pthread_mutex_unlock(&r->mu);
}

static void run_unit(worker *w, const unit *u)
{
    run *r = w->r;
    const mz_spec *spec = r->spec;
    const mz_dataset *ds = r->ds;
    const mz_arch *a = &r->arch[u->variant];
    int64_t np = a->n_params, nopt = 2 * np; /* record room for either optimizer */
    int B = spec->batch_size;
    mz_pop pop;
    mz_error e = {0};
    if (mz_pop_init(&pop, r->backend, a, u->act, B, &ds->lut[0][0], &e) != MZ_OK) {
        fail_oom(r, "population");
        return;
    }
    int diverged[MZ_LANES] = {0};
    float *tmp = malloc(sizeof(float) * (size_t)(np + nopt));
    if (!tmp) {
        mz_pop_release(&pop);
        fail_oom(r, "model state");
        return;
    }
    for (int l = 0; l < u->n; l++) {
        const mz_model_spec *m = &spec->models[u->model[l]];
        mz_lane_cfg lc = {0};
        lc.active = 1;
        mz_optim_cfg_from_model(&lc.opt, m);
        lc.dropout = (float)m->dropout;
        lc.seed = m->seed;
        if (u->start_epoch == 0) {
            mz_arch_init_params(a, m->init, m->seed, tmp);
            mz_pop_set_lane(&pop, l, &lc, tmp, NULL);
        } else {
            const float *rb = r->resume_buf[u->model[l]];
            lc.t = r->resume_step[u->model[l]];
            mz_pop_set_lane(&pop, l, &lc, rb, rb + np);
        }
    }
    const mz_split *tr = &ds->train;
    int64_t N = tr->n;
    int steps = (int)((N + B - 1) / B);

    for (int epoch = u->start_epoch; epoch <= spec->epochs && !stop_requested(r); epoch++) {
        double tr_loss[MZ_LANES], tr_acc[MZ_LANES];
        int live = 0;
        for (int l = 0; l < u->n; l++)
            live += !diverged[l];
        if (!live)
            break;
        if (epoch == 0) {
            eval_split(&pop, tr, tr_loss, tr_acc);
        } else {
            double lsum[MZ_LANES] = {0};
            int64_t hits[MZ_LANES] = {0};
            for (int l = 0; l < u->n; l++) {
                mz_rng_stream s = mz_rng_make((uint64_t)spec->models[u->model[l]].seed, MZ_RNG_SHUFFLE,
                                              (uint32_t)epoch, 0, 0);
                mz_rng_permutation(&s, w->perm + (int64_t)l * N, (uint32_t)N);
            }
            int interrupted = 0;
            for (int step = 0; step < steps; step++) {
                if ((step & 63) == 0 && stop_requested(r)) {
                    interrupted = 1;
                    break;
                }
                int nb = (int)(N - (int64_t)step * B < B ? N - (int64_t)step * B : B);
                for (int l = 0; l < u->n; l++)
                    memcpy(w->idx + l * nb, w->perm + (int64_t)l * N + (int64_t)step * B,
                           sizeof(uint32_t) * (size_t)nb);
                if (spec->scheduler == MZ_SCHED_ONECYCLE)
                    for (int l = 0; l < u->n; l++) {
                        mz_optim_cfg *oc = &pop.lane[l].opt;
                        double lr, mom;
                        mz_onecycle(spec->models[u->model[l]].lr, (int64_t)steps * spec->epochs,
                                    pop.lane[l].t, &lr, &mom);
                        oc->lr = lr;
                        if (oc->type == MZ_OPT_SGD)
                            oc->momentum = mom;
                        else
                            oc->beta1 = mom;
                    }
                float loss[MZ_LANES];
                int correct[MZ_LANES];
                mz_pop_train_step(&pop, tr->x, tr->y, w->idx, nb, epoch, step, loss, correct);
                for (int l = 0; l < u->n; l++) {
                    if (diverged[l])
                        continue;
                    if (!isfinite(loss[l])) {
                        diverged[l] = 1;
                        pop.lane[l].active = 0;
                        commit_item *it = new_item(1, 1);
                        if (!it) {
                            fail_oom(r, "commit");
                            break;
                        }
                        mz_epoch_record *rc = &it->rec[0];
                        rc->model_id = u->model[l];
                        rc->epoch = epoch;
                        rc->status = MZ_MODEL_DIVERGED;
                        snprintf(it->msg[0], sizeof it->msg[0],
                                 "training loss is %s at epoch %d, step %d", isnan(loss[l]) ? "NaN" : "Inf",
                                 epoch, step);
                        rc->message = it->msg[0];
                        push_item(r, it);
                        continue;
                    }
                    lsum[l] += (double)loss[l] * nb;
                    hits[l] += correct[l];
                }
            }
            if (interrupted)
                break;
            pthread_mutex_lock(&r->mu);
            r->samples_trained += N * live;
            pthread_mutex_unlock(&r->mu);
            for (int l = 0; l < MZ_LANES; l++) {
                tr_loss[l] = lsum[l] / (double)N;
                tr_acc[l] = (double)hits[l] / (double)N;
            }
        }
        double va_loss[MZ_LANES], va_acc[MZ_LANES], te_loss[MZ_LANES], te_acc[MZ_LANES];
        eval_split(&pop, &ds->val, va_loss, va_acc);
        eval_split(&pop, &ds->test, te_loss, te_acc);

        int n_live = 0;
        for (int l = 0; l < u->n; l++)
            n_live += !diverged[l];
        if (!n_live)
            break;
        commit_item *it = new_item(n_live, np + nopt);
        if (!it) {
            fail_oom(r, "commit");
            break;
        }
        int k = 0;
        for (int l = 0; l < u->n; l++) {
            if (diverged[l])
                continue;
            const mz_model_spec *m = &spec->models[u->model[l]];
            float *wb = it->buf + (int64_t)k * (np + nopt);
            mz_pop_get_lane(&pop, l, wb, wb + np);
            mz_epoch_record *rc = &it->rec[k];
            rc->model_id = m->id;
            rc->epoch = epoch;
            rc->train_loss = tr_loss[l];
            rc->train_acc = tr_acc[l];
            rc->val_loss = va_loss[l];
            rc->val_acc = va_acc[l];
            rc->test_loss = te_loss[l];
            rc->test_acc = te_acc[l];
            rc->weights = wb;
            rc->n_weights = np;
            rc->opt_state = wb + np;
            rc->n_opt = mz_optim_state_floats(m->optimizer, np);
            rc->opt_step = pop.lane[l].t;
            rc->status = epoch == spec->epochs ? MZ_MODEL_DONE : MZ_MODEL_RUNNING;
            if (!all_finite(wb, np)) {
                /* finite loss but non-finite weights: keep the epoch's metrics out of the zoo */
                diverged[l] = 1;
                pop.lane[l].active = 0;
                rc->weights = NULL;
                rc->status = MZ_MODEL_DIVERGED;
                snprintf(it->msg[k], sizeof it->msg[k], "weights became NaN/Inf in epoch %d", epoch);
                rc->message = it->msg[k];
            }
            k++;
        }
        /* Split the item if some records turned status-only: epoch rows and statuses commit apart. */
        int n_status = 0;
        for (int i = 0; i < k; i++)
            n_status += it->rec[i].weights == NULL;
        if (n_status && n_status < k) {
            commit_item *st = new_item(n_status, 1);
            if (!st) {
                free_item(it);
                fail_oom(r, "commit");
                break;
            }
            int a_i = 0, s_i = 0;
            for (int i = 0; i < k; i++) {
                if (it->rec[i].weights == NULL) {
                    st->rec[s_i] = it->rec[i];
                    memcpy(st->msg[s_i], it->msg[i], sizeof st->msg[s_i]);
                    st->rec[s_i].message = st->msg[s_i];
                    s_i++;
                } else {
                    it->rec[a_i] = it->rec[i];
                    memcpy(it->msg[a_i], it->msg[i], sizeof it->msg[a_i]);
                    it->rec[a_i].message = NULL;
                    a_i++;
                }
            }
            it->n = a_i;
            push_item(r, it);
            push_item(r, st);
        } else {
            push_item(r, it);
        }
    }
    free(tmp);
    mz_pop_release(&pop);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    run *r = w->r;
    int u;
    while ((u = claim_unit(r)) >= 0)
        run_unit(w, &r->units[u]);
    pthread_mutex_lock(&r->mu);
    r->workers_left--;
    pthread_cond_broadcast(&r->cv_items);
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/* ---- setup ---- */

/* Sort key of an unfinished model: groups share variant, activation and start epoch. */
typedef struct model_key {
    int variant, act, start;
    int64_t id;
} model_key;

static int cmp_keys(const void *pa, const void *pb)
{
    const model_key *a = pa, *b = pb;
    if (a->variant != b->variant)
        return a->variant - b->variant;
    if (a->act != b->act)
        return a->act - b->act;
    if (a->start != b->start)
        return a->start - b->start;
    return a->id < b->id ? -1 : a->id > b->id;
}

static int online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static void run_release(run *r)
{
    if (r->resume_buf) {
        for (int64_t i = 0; i < r->spec->n_models; i++)
            free(r->resume_buf[i]);
        free(r->resume_buf);
    }
    free(r->resume_step);
    free(r->variant_of);
    free(r->units);
}

mz_status mz_train_run(const mz_spec *spec, const char *zoo_path, const mz_train_opts *opts,
                       mz_error *err)
{
    if (!strcmp(spec->architecture, "resnet18")) { /* one model per thread: train_resnet.c */
        if (opts->backend || opts->max_group > 0)
            return mz_fail(err, MZ_EINVAL,
                           "--backend and --group choose how CNN-s/CNN-l models share a population; "
                           "resnet18 trains one model per thread and takes neither");
        return mz_train_resnet_run(spec, zoo_path, opts, err);
    }
    run R;
    memset(&R, 0, sizeof R);
    R.spec = spec;
    R.opts = opts;
    R.t0 = mz_now();
    R.backend = opts->backend ? mz_pop_backend_by_name(opts->backend) : mz_pop_backend_default();
    if (!R.backend)
        return mz_fail(err, MZ_EINVAL, "unknown backend '%s' (expected ref or simd)", opts->backend);

    /* dataset first: a missing dataset must not create an empty zoo file */
    mz_dataset ds;
    mz_status st = mz_dataset_load(&ds, spec->dataset, spec->data_dir[0] ? spec->data_dir : NULL,
                                   spec->variant[0] ? spec->variant : NULL, err);
    if (st != MZ_OK)
        return st;
    if (spec->train_subset > 0) {
        if ((st = mz_dataset_subset_train(&ds, spec->train_subset, err)) != MZ_OK) {
            mz_dataset_release(&ds);
            return st;
        }
    }
    R.ds = &ds;

    int64_t n = spec->n_models;
    R.variant_of = calloc((size_t)n, sizeof(int));
    const char **variant_names = calloc((size_t)n, sizeof(char *));
    mz_layout layouts[MAX_VARIANTS];
    if (!R.variant_of || !variant_names) {
        free(variant_names);
        mz_dataset_release(&ds);
        run_release(&R);
        return mz_fail(err, MZ_ENOMEM, "out of memory");
    }
    for (int64_t i = 0; i < n && st == MZ_OK; i++) {
        mz_arch a;
        st = mz_arch_init(&a, spec->architecture, ds.c, ds.h, ds.w, spec->models[i].dropout, err);
        if (st != MZ_OK) {
            mz_error_prefix(err, "%s with dataset %s", spec->architecture, spec->dataset);
            break;
        }
        int v;
        for (v = 0; v < R.n_variants; v++)
            if (!strcmp(R.arch[v].variant, a.variant))
                break;
        if (v == R.n_variants) {
            R.arch[R.n_variants++] = a;
            layouts[v].n_tensors = a.n_tensors;
            layouts[v].n_params = a.n_params;
            snprintf(layouts[v].variant, sizeof layouts[v].variant, "%s", a.variant);
        }
        R.variant_of[i] = v;
        variant_names[i] = R.arch[v].variant;
    }
    for (int v = 0; v < R.n_variants; v++)
        layouts[v].tensors = R.arch[v].tensors;

    if (st == MZ_OK)
        st = mz_store_open(&R.store, zoo_path, MZ_STORE_WRITE, err);
    if (st == MZ_OK)
        st = mz_store_attach(R.store, spec, variant_names, layouts, R.n_variants, err);
    free(variant_names);

    /* progress and resume state */
    mz_model_progress *prog = NULL;
    int *start = NULL;
    if (st == MZ_OK) {
        prog = calloc((size_t)n, sizeof *prog);
        start = calloc((size_t)n, sizeof *start);
        R.resume_buf = calloc((size_t)n, sizeof(float *));
        R.resume_step = calloc((size_t)n, sizeof(int64_t));
        if (!prog || !start || !R.resume_buf || !R.resume_step)
            st = mz_fail(err, MZ_ENOMEM, "out of memory");
    }
    if (st == MZ_OK)
        st = mz_store_progress(R.store, prog, n, err);
    int64_t todo = 0;
    for (int64_t i = 0; i < n && st == MZ_OK; i++) {
        start[i] = mz_train_start_epoch(&prog[i], spec->epochs, &R.prog);
        if (start[i] < 0)
            continue;
        todo++;
        if (start[i] > 0) {
            const mz_arch *a = &R.arch[R.variant_of[i]];
            int64_t np = a->n_params, nopt = mz_optim_state_floats(spec->models[i].optimizer, np);
            R.resume_buf[i] = malloc(sizeof(float) * (size_t)(np + nopt));
            if (!R.resume_buf[i]) {
                st = mz_fail(err, MZ_ENOMEM, "out of memory");
                break;
            }
            int ep = 0;
            st = mz_store_load_resume(R.store, i, &ep, R.resume_buf[i], np, R.resume_buf[i] + np, nopt,
                                      &R.resume_step[i], err);
            if (st == MZ_OK && ep != start[i] - 1)
                st = mz_fail(err, MZ_EFORMAT, "%s: model %lld: resume state is for epoch %d but epoch %d "
                             "is the last committed", zoo_path, (long long)i, ep, start[i] - 1);
        }
    }
    R.prog.models_total = n;
    R.prog.models_done = R.prog.models_skipped;

    /* group unfinished models: same variant, activation and start epoch, in id order */
    int threads = opts->threads > 0 ? opts->threads : online_cpus();
    if (st == MZ_OK && todo > 0) {
        model_key *ids = malloc(sizeof(model_key) * (size_t)todo);
        R.units = calloc((size_t)todo, sizeof(unit));
        if (!ids || !R.units) {
            free(ids);
            st = mz_fail(err, MZ_ENOMEM, "out of memory");
        } else {
            int64_t k = 0;
            for (int64_t i = 0; i < n; i++)
                if (start[i] >= 0)
                    ids[k++] = (model_key){R.variant_of[i], (int)spec->models[i].activation, start[i], i};
            qsort(ids, (size_t)todo, sizeof(model_key), cmp_keys);
            int gmax = opts->max_group > 0 && opts->max_group <= MZ_LANES ? opts->max_group : MZ_LANES;
            if (opts->max_group <= 0 && todo < (int64_t)gmax * threads) /* keep every thread busy */
                gmax = (int)((todo + threads - 1) / threads);
            if (gmax < 1)
                gmax = 1;
            for (int64_t i = 0; i < todo; i++) {
                int64_t id = ids[i].id;
                unit *u = R.n_units ? &R.units[R.n_units - 1] : NULL;
                if (!u || u->n == gmax || u->variant != R.variant_of[id] ||
                    u->act != spec->models[id].activation || u->start_epoch != start[id]) {
                    u = &R.units[R.n_units++];
                    u->variant = R.variant_of[id];
                    u->act = spec->models[id].activation;
                    u->start_epoch = start[id];
                }
                u->model[u->n++] = id;
            }
            free(ids);
        }
    }
    free(prog);
    free(start);

    if (st == MZ_OK && R.n_units > 0) {
        if (threads > R.n_units)
            threads = R.n_units;
        pthread_mutex_init(&R.mu, NULL);
        pthread_cond_init(&R.cv_items, NULL);
        pthread_cond_init(&R.cv_space, NULL);
        R.queue_cap = 2 * threads + 2;
        R.workers_left = threads;
        worker *ws = calloc((size_t)threads, sizeof *ws);
        pthread_t *tids = calloc((size_t)threads, sizeof *tids);
        pthread_t wtid;
        int ok = ws && tids;
        for (int t = 0; ok && t < threads; t++) {
            ws[t].r = &R;
            ws[t].perm = malloc(sizeof(uint32_t) * (size_t)(MZ_LANES * ds.train.n));
            ws[t].idx = malloc(sizeof(uint32_t) * (size_t)(MZ_LANES * spec->batch_size));
            ok = ws[t].perm && ws[t].idx;
        }
        if (!ok) {
            st = mz_fail(err, MZ_ENOMEM, "out of memory");
        } else {
            pthread_create(&wtid, NULL, writer_main, &R);
            for (int t = 0; t < threads; t++)
                pthread_create(&tids[t], NULL, worker_main, &ws[t]);
            for (int t = 0; t < threads; t++)
                pthread_join(tids[t], NULL);
            pthread_join(wtid, NULL);
            if (R.failed) {
                *err = R.err;
                st = R.err.code ? R.err.code : MZ_ESTORE;
            } else if (opts->stop && *opts->stop) {
                st = mz_fail(err, MZ_EINTERRUPTED, "interrupted; committed epochs are kept, run the "
                             "same command again to resume");
            }
        }
        for (int t = 0; ws && t < threads; t++) {
            free(ws[t].perm);
            free(ws[t].idx);
        }
        free(ws);
        free(tids);
        pthread_mutex_destroy(&R.mu);
        pthread_cond_destroy(&R.cv_items);
        pthread_cond_destroy(&R.cv_space);
    }
    if (st == MZ_OK)
        report_progress(&R, 1);
    mz_store_close(R.store);
    mz_dataset_release(&ds);
    run_release(&R);
    return st;
}
