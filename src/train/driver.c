/* The training driver: one store, one plan, worker threads, one writer thread.
 *
 * Threads: the caller's thread prepares and plans, then waits; `threads` workers claim units from
 * the plan and train them (the family's run_unit), handing each finished epoch to the writer's
 * queue (a bounded FIFO: workers wait while it is full); the writer thread alone commits to the
 * store, one transaction per batch, and alone reports progress. Resume state is read by workers
 * through a second, read-only connection, under a mutex.
 *
 * Stopping: the stop flag (a signal) or the first failure make every worker abandon its
 * unfinished epoch; what is queued is still committed (a failure stops commits too), so an
 * interrupted run keeps every complete epoch. Flags shared between threads are read and written
 * with __atomic builtins; everything else shared is under the mutex. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "train/dist-impl.h"
#include "train/train-impl.h"
#include "core/banned.h"

typedef struct driver {
    mz_run *r;
    mz_store *store;  /* the writer's */
    mz_store *reader; /* resume state, for workers (under mu) */
    mz_unit *units;
    int n_units, next_unit;

    mz_sink sink;
    pthread_mutex_t mu;
    pthread_cond_t cv_items, cv_space;
    mz_batch *head, *tail;
    int queued, queue_cap, workers_left;

    int failed; /* __atomic: a failure stops the run */
    mz_error err;
    mz_train_progress prog;
    double t0;
    int64_t samples;
} driver;

/* ---- batches ---- */

mz_batch *mz_batch_new(int n, int64_t floats)
{
    mz_batch *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->buf = malloc(sizeof(float) * (size_t)(floats > 0 ? floats : 1));
    if (!b->buf) {
        free(b);
        return NULL;
    }
    b->n = n;
    return b;
}

void mz_batch_free(mz_batch *b)
{
    if (b) {
        free(b->buf);
        free(b);
    }
}

void mz_batch_status(mz_batch *b, int64_t model_id, int epoch, mz_model_status status,
                     const char *fmt, ...)
{
    MZ_ASSERT(b->n >= 0 && b->n < MZ_LANES);
    int k = b->n++;
    mz_epoch_record *rc = &b->rec[k];
    memset(rc, 0, sizeof *rc);
    rc->model_id = model_id;
    rc->epoch = epoch;
    rc->status_only = 1;
    rc->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->msg[k], sizeof b->msg[k], fmt, ap);
    va_end(ap);
    rc->message = b->msg[k];
}

int mz_all_finite(const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return 0;
    return 1;
}

int mz_online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* ---- the sink: the writer's queue ---- */

static int is_failed(driver *d)
{
    return __atomic_load_n(&d->failed, __ATOMIC_ACQUIRE);
}

static int sink_stopping(mz_sink *s)
{
    driver *d = (driver *)((char *)s - offsetof(driver, sink));
    const volatile int *stop = d->r->opts->stop;
    return is_failed(d) || (stop && __atomic_load_n(stop, __ATOMIC_RELAXED));
}

/* Records the first error and wakes everyone. Call with d->mu held. */
static void fail_locked(driver *d, const mz_error *e)
{
    if (!is_failed(d)) {
        d->err = *e;
        __atomic_store_n(&d->failed, 1, __ATOMIC_RELEASE);
    }
    pthread_cond_broadcast(&d->cv_space);
    pthread_cond_broadcast(&d->cv_items);
}

static void sink_fail(mz_sink *s, const mz_error *e)
{
    driver *d = (driver *)((char *)s - offsetof(driver, sink));
    pthread_mutex_lock(&d->mu);
    fail_locked(d, e);
    pthread_mutex_unlock(&d->mu);
}

static void sink_put(mz_sink *s, mz_batch *b)
{
    driver *d = (driver *)((char *)s - offsetof(driver, sink));
    pthread_mutex_lock(&d->mu);
    while (d->queued >= d->queue_cap && !is_failed(d))
        pthread_cond_wait(&d->cv_space, &d->mu);
    b->next = NULL;
    if (d->tail)
        d->tail->next = b;
    else
        d->head = b;
    d->tail = b;
    d->queued++;
    pthread_cond_signal(&d->cv_items);
    pthread_mutex_unlock(&d->mu);
}

/* ---- the writer ---- */

static void report(driver *d, int final)
{
    mz_train_progress *p = &d->prog;
    p->elapsed = mz_now() - d->t0;
    p->samples_per_sec = p->elapsed > 0 ? (double)d->samples / p->elapsed : 0;
    int64_t left = p->epochs_total - p->epochs_done;
    p->eta = p->epochs_done > 0 ? p->elapsed * (double)left / (double)p->epochs_done : -1;
    p->final = final;
    if (d->r->opts->progress)
        d->r->opts->progress(d->r->opts->progress_ctx, p);
}

/* Progress bookkeeping of a committed batch. */
static void account(driver *d, const mz_batch *b)
{
    mz_train_progress *p = &d->prog;
    double acc = 0;
    int nacc = 0;
    for (int i = 0; i < b->n; i++) {
        const mz_epoch_record *rc = &b->rec[i];
        if (!rc->status_only) {
            p->epochs_done++;
            p->last_epoch = rc->epoch;
            if (!isnan(rc->test_acc))
                acc += rc->test_acc, nacc++;
        }
        if (mz_model_status_final(rc->status)) {
            p->models_done++;
            if (rc->status != MZ_MODEL_DONE) {
                if (rc->status == MZ_MODEL_DIVERGED)
                    p->models_diverged++;
                else
                    p->models_failed++;
                /* the epochs this model will never produce */
                p->epochs_total -= d->r->last_epoch - (rc->status_only ? rc->epoch - 1 : rc->epoch);
            }
        }
    }
    if (nacc)
        p->last_test_acc = acc / nacc;
    p->commits++;
    d->samples += b->samples;
}

static void *writer_main(void *arg)
{
    driver *d = arg;
    for (;;) {
        pthread_mutex_lock(&d->mu);
        while (!d->head && d->workers_left > 0)
            pthread_cond_wait(&d->cv_items, &d->mu);
        mz_batch *b = d->head;
        if (!b) {
            pthread_mutex_unlock(&d->mu);
            break;
        }
        d->head = b->next;
        if (!d->head)
            d->tail = NULL;
        d->queued--;
        pthread_cond_broadcast(&d->cv_space);
        pthread_mutex_unlock(&d->mu);

        if (!is_failed(d)) {
            mz_error e = {0};
            if (mz_store_commit(d->store, b->rec, b->n, &e) != MZ_OK) {
                pthread_mutex_lock(&d->mu);
                fail_locked(d, &e);
                pthread_mutex_unlock(&d->mu);
            } else {
                account(d, b);
                report(d, 0);
            }
        }
        mz_batch_free(b);
    }
    return NULL;
}

/* ---- workers ---- */

static mz_status load_resume(mz_run *r, int64_t model_id, int *epoch, float *weights,
                             int64_t n_weights, float *opt_state, int64_t n_opt, int64_t *opt_step,
                             mz_error *err)
{
    driver *d = r->driver;
    pthread_mutex_lock(&d->mu);
    mz_status s = mz_store_load_resume(d->reader, model_id, epoch, weights, n_weights, opt_state,
                                       n_opt, opt_step, err);
    pthread_mutex_unlock(&d->mu);
    return s;
}

typedef struct worker {
    driver *d;
    void *ws;
} worker;

/* The next unit of the plan (-1: none left, or the run is stopping); for local workers and the
 * server that hands units to other processes. */
static int claim_unit(void *ctx)
{
    driver *d = ctx;
    pthread_mutex_lock(&d->mu);
    int u = d->next_unit < d->n_units && !sink_stopping(&d->sink) ? d->next_unit++ : -1;
    pthread_mutex_unlock(&d->mu);
    return u;
}

static void worker_done(driver *d)
{
    pthread_mutex_lock(&d->mu);
    d->workers_left--;
    pthread_cond_broadcast(&d->cv_items);
    pthread_mutex_unlock(&d->mu);
}

/* Rank 0 of several processes: the other ranks' units and batches, as one more worker. */
static void *server_main(void *arg)
{
    driver *d = arg;
    mz_dist_root root = {d->r, d->units, claim_unit, d, &d->sink};
    mz_dist_serve(d->r->opts->dist, &root);
    worker_done(d);
    return NULL;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    driver *d = w->d;
    for (;;) {
        int u = claim_unit(d);
        if (u < 0)
            break;
        MZ_ASSERT(d->units[u].n >= 1 && d->units[u].n <= MZ_LANES);
        d->r->family->run_unit(d->r, w->ws, &d->units[u], &d->sink);
    }
    worker_done(d);
    return NULL;
}

/* Starts the writer, the workers (and, on rank 0 of several processes, the server) and waits for
 * them. */
static mz_status run_threads(driver *d, mz_error *err)
{
    mz_run *r = d->r;
    int serve = mz_dist_active(r->opts->dist);
    int threads = r->threads < d->n_units ? r->threads : d->n_units;
    worker *ws = calloc((size_t)threads, sizeof *ws);
    pthread_t *tids = calloc((size_t)threads, sizeof *tids);
    mz_status s = ws && tids ? MZ_OK : mz_fail(err, MZ_ENOMEM, "out of memory");
    int made = 0;
    while (s == MZ_OK && made < threads) {
        ws[made].d = d;
        if ((s = r->family->worker_new(r, &ws[made].ws, err)) == MZ_OK)
            made++;
    }
    if (s == MZ_OK) {
        d->queue_cap = 2 * threads + 2;
        d->workers_left = threads + serve;
        pthread_t wtid, stid;
        int started = 0, server = 0;
        if (pthread_create(&wtid, NULL, writer_main, d) != 0) {
            s = mz_fail(err, MZ_ENOMEM, "cannot start the writer thread");
        } else {
            if (serve && pthread_create(&stid, NULL, server_main, d) == 0)
                server = 1;
            else if (serve) /* no thread for it: serve the other ranks first, here */
                server_main(d);
            for (; started < threads; started++)
                if (pthread_create(&tids[started], NULL, worker_main, &ws[started]) != 0)
                    break;
            if (started < threads) {
                /* run with the threads that started; none at all: stop */
                pthread_mutex_lock(&d->mu);
                d->workers_left -= threads - started;
                if (started == 0) {
                    mz_error e;
                    mz_fail(&e, MZ_ENOMEM, "cannot start a worker thread");
                    fail_locked(d, &e);
                }
                pthread_cond_broadcast(&d->cv_items);
                pthread_mutex_unlock(&d->mu);
            }
            for (int t = 0; t < started; t++)
                pthread_join(tids[t], NULL);
            if (server)
                pthread_join(stid, NULL);
            pthread_join(wtid, NULL);
        }
    }
    for (int t = 0; t < made; t++)
        r->family->worker_free(ws[t].ws);
    free(ws);
    free(tids);
    return s;
}

/* ---- the run ---- */

/* The first epoch still to produce for each model (-1: none), and the totals for progress. */
static mz_status plan_starts(driver *d, int *start, int64_t *todo, mz_error *err)
{
    mz_run *r = d->r;
    int64_t n = r->desc.n_models;
    mz_model_progress *p = calloc((size_t)(n ? n : 1), sizeof *p);
    if (!p)
        return mz_fail(err, MZ_ENOMEM, "out of memory");
    mz_status s = mz_store_progress(d->store, p, n, err);
    *todo = 0;
    int shards = r->opts->shards;
    int64_t mine = 0;
    for (int64_t i = 0; i < n && s == MZ_OK; i++) {
        start[i] = -1;
        if (shards > 0 && i % shards != r->opts->shard)
            continue; /* another shard's model */
        mine++;
        if (mz_model_status_final(p[i].status)) {
            d->prog.models_skipped++;
            continue;
        }
        int64_t first = (int64_t)p[i].epochs_done + 1;
        if (first > r->last_epoch) /* every epoch committed: nothing left to train */
            continue;
        start[i] = (int)first;
        d->prog.epochs_total += r->last_epoch - first + 1;
        (*todo)++;
    }
    free(p);
    d->prog.models_total = mine;
    d->prog.models_done = d->prog.models_skipped;
    return s;
}

static int same_number(double a, double b)
{
    return a == b || (isnan(a) && isnan(b));
}

static int same_model(const mz_model_row *a, const mz_model_row *b)
{
    return a->activation && b->activation && !strcmp(a->activation, b->activation) && a->init &&
           b->init && !strcmp(a->init, b->init) && a->optimizer && b->optimizer &&
           !strcmp(a->optimizer, b->optimizer) && same_number(a->lr, b->lr) &&
           same_number(a->weight_decay, b->weight_decay) && same_number(a->dropout, b->dropout) &&
           same_number(a->momentum, b->momentum) && a->nesterov == b->nesterov && a->has_seed &&
           b->has_seed && a->seed == b->seed;
}

/* A grid zoo whose spec only adds hyperparameter values or seeds: every model of the file is a
 * model of the new grid (same hyperparameters and seed, so the same training); the file is
 * renumbered and grown to the new grid, and only the new models are trained. MZ_OK when grown;
 * MZ_EMISMATCH (err untouched) when the spec is not such a superset. */
static mz_status try_grow(driver *d, mz_error *err)
{
    const mz_zoo_desc *z = &d->r->desc;
    char *have = NULL;
    if (strcmp(z->kind, "grid") != 0 || mz_store_recipe(d->store, &have, NULL) != MZ_OK)
        return MZ_EMISMATCH;
    int same = mz_recipe_same_settings(have, z->recipe);
    free(have);
    if (!same)
        return MZ_EMISMATCH;
    mz_model_row *rows = NULL;
    int64_t n = 0;
    if (mz_store_read_models(d->store, &rows, NULL, &n, NULL) != MZ_OK)
        return MZ_EMISMATCH;
    int64_t *new_id = malloc(sizeof *new_id * (size_t)(n ? n : 1));
    unsigned char *taken = calloc((size_t)(z->n_models ? z->n_models : 1), 1);
    mz_status s = new_id && taken && n <= z->n_models ? MZ_OK : MZ_EMISMATCH;
    for (int64_t i = 0; i < n && s == MZ_OK; i++) {
        new_id[i] = -1;
        for (int64_t j = 0; j < z->n_models && new_id[i] < 0; j++)
            if (!taken[j] && same_model(&rows[i], &z->models[j]) &&
                !strcmp(rows[i].variant, z->models[j].variant))
                new_id[i] = j;
        if (new_id[i] < 0)
            s = MZ_EMISMATCH; /* the spec drops or changes a model the file holds */
        else
            taken[new_id[i]] = 1;
    }
    if (s == MZ_OK)
        s = mz_store_grow(d->store, z, new_id, n, err);
    free(rows);
    free(new_id);
    free(taken);
    return s;
}

/* A recipe mismatch says which key differs. */
static mz_status explain_mismatch(driver *d, mz_status s, mz_error *err)
{
    char *have = NULL;
    if (s != MZ_EMISMATCH || mz_store_recipe(d->store, &have, NULL) != MZ_OK)
        return s;
    const char *want = d->r->desc.recipe ? d->r->desc.recipe : "{}";
    if (strcmp(have, want) != 0) {
        char diff[600];
        int grid = !strcmp(d->r->desc.kind, "grid");
        mz_recipe_diff(have, want, grid ? "the spec" : "this run's settings", diff, sizeof diff);
        mz_fail(err, MZ_EMISMATCH,
                "%s: holds a zoo made from a different %s: %s; not touching it (use another "
                "output file, or the %s the file was made with: `mzoo info %s` shows its "
                "recipe)",
                mz_store_path(d->store), grid ? "spec" : "source or settings", diff,
                grid ? "spec" : "source and settings", mz_store_path(d->store));
    }
    free(have);
    return s;
}

/* Rank 0 when the run cannot go ahead after the handshake: the other ranks still ask for units,
 * and get none. */
static void serve_nothing(driver *d)
{
    mz_dist_root root = {d->r, NULL, claim_unit, d, &d->sink};
    d->n_units = 0;
    pthread_mutex_init(&d->mu, NULL);
    mz_dist_serve(d->r->opts->dist, &root);
    pthread_mutex_destroy(&d->mu);
}

mz_status mz_drive(mz_run *r, const mz_family *f, const char *zoo_path, mz_error *err)
{
    driver D;
    memset(&D, 0, sizeof D);
    D.r = r;
    D.t0 = mz_now();
    D.sink.put = sink_put;
    D.sink.stopping = sink_stopping;
    D.sink.fail = sink_fail;
    r->family = f;
    r->driver = &D;
    r->load_resume = load_resume;
    if (r->threads <= 0)
        r->threads = r->opts->threads > 0 ? r->opts->threads : mz_online_cpus();
    if (r->last_epoch <= 0)
        r->last_epoch = r->spec->epochs;
    mz_dist *dist = mz_dist_active(r->opts->dist) ? r->opts->dist : NULL;

    mz_error pe = {0};
    mz_status s = f->prepare(r, &pe);
    char shard[48] = "";
    if (r->opts->shards > 0) {
        if (r->opts->shard < 0 || r->opts->shard >= r->opts->shards)
            s = mz_fail(&pe, MZ_EINVAL, "shard %d/%d: expected 0 <= K < N", r->opts->shard,
                        r->opts->shards);
        snprintf(shard, sizeof shard, "%d/%d", r->opts->shard, r->opts->shards);
        r->desc.shard = shard;
    }
    if (dist)
        s = mz_dist_handshake(dist, r, s, &pe, err);
    else if (s != MZ_OK && err)
        *err = pe;
    if (s != MZ_OK) {
        f->release(r);
        return s;
    }
    r->plan_threads = r->threads * (dist ? mz_dist_size(dist) : 1);
    if (dist && mz_dist_rank(dist) != 0) { /* another rank: train what rank 0 hands out */
        mz_dist_work(dist, r);
        f->release(r);
        return mz_dist_agree(dist, MZ_OK, err);
    }

    int *start = NULL;
    int64_t todo = 0;
    s = mz_store_open(&D.store, zoo_path, MZ_STORE_WRITE, err);
    if (s == MZ_OK) {
        s = mz_store_attach(D.store, &r->desc, err);
        if (s == MZ_EMISMATCH) {
            mz_status g = try_grow(&D, err);
            if (g == MZ_OK)
                s = mz_store_attach(D.store, &r->desc, err);
            else if (g != MZ_EMISMATCH)
                s = g; /* it could grow, and failed doing it */
        }
        s = explain_mismatch(&D, s, err);
    }
    if (s == MZ_OK) {
        start = malloc(sizeof(int) * (size_t)(r->desc.n_models ? r->desc.n_models : 1));
        s = start ? plan_starts(&D, start, &todo, err) : mz_fail(err, MZ_ENOMEM, "out of memory");
    }
    if (s == MZ_OK && todo > 0)
        s = f->plan(r, start, &D.units, &D.n_units, err);
    free(start);
    if (s == MZ_OK && D.n_units > 0) {
        s = mz_store_open(&D.reader, zoo_path, MZ_STORE_READ, err);
        if (s == MZ_OK) {
            pthread_mutex_init(&D.mu, NULL);
            pthread_cond_init(&D.cv_items, NULL);
            pthread_cond_init(&D.cv_space, NULL);
            s = run_threads(&D, err);
            pthread_mutex_destroy(&D.mu);
            pthread_cond_destroy(&D.cv_items);
            pthread_cond_destroy(&D.cv_space);
        }
        if (s == MZ_OK && is_failed(&D)) {
            if (err)
                *err = D.err;
            s = D.err.code ? D.err.code : MZ_ESTORE;
        } else if (s == MZ_OK && r->opts->stop &&
                   __atomic_load_n(r->opts->stop, __ATOMIC_RELAXED)) {
            s = mz_fail(err, MZ_EINTERRUPTED,
                        "interrupted; committed epochs are kept, run the same command again to "
                        "resume");
        }
    } else if (dist) {
        serve_nothing(&D);
    }
    mz_store_close(D.reader);
    mz_error fe = {0};
    if (D.store && mz_store_fold(D.store, &fe) != MZ_OK && s == MZ_OK) {
        if (err)
            *err = fe;
        s = fe.code;
    }
    if (s == MZ_OK)
        report(&D, 1);
    mz_store_close(D.store);
    free(D.units);
    f->release(r);
    return dist ? mz_dist_agree(dist, s, err) : s;
}

/* ---- grid zoos ---- */

/* The memory behind a grid zoo's description. */
typedef struct grid_mem {
    mz_model_row *rows;
    char epochs[16], batch[16];
    const char *meta[5][2];
} grid_mem;

mz_status mz_grid_desc_make(mz_grid_desc *out, const mz_spec *spec, const char *const *variant_of,
                            const mz_layout *layouts, int n_layouts, mz_error *err)
{
    memset(out, 0, sizeof *out);
    grid_mem *g = calloc(1, sizeof *g);
    if (g)
        g->rows = calloc((size_t)(spec->n_models ? spec->n_models : 1), sizeof *g->rows);
    if (!g || !g->rows) {
        free(g);
        return mz_fail(err, MZ_ENOMEM, "out of memory");
    }
    for (int64_t i = 0; i < spec->n_models; i++) {
        const mz_model_spec *m = &spec->models[i];
        mz_model_row *w = &g->rows[i];
        w->id = m->id;
        w->variant = variant_of[i];
        w->activation = mz_activation_name(m->activation);
        w->init = mz_init_name(m->init);
        w->optimizer = mz_optimizer_name(m->optimizer);
        w->lr = m->lr;
        w->weight_decay = m->weight_decay;
        w->dropout = m->dropout;
        w->momentum = m->momentum;
        w->nesterov = m->nesterov != 0;
        w->has_seed = 1;
        w->seed = m->seed;
        w->source_id = -1;
        w->source_epoch = -1;
    }
    snprintf(g->epochs, sizeof g->epochs, "%d", spec->epochs);
    snprintf(g->batch, sizeof g->batch, "%d", spec->batch_size);
    const char *kv[5][2] = {{"dataset", spec->dataset},
                            {"variant", spec->variant},
                            {"architecture", spec->architecture},
                            {"epochs", g->epochs},
                            {"batch_size", g->batch}};
    memcpy(g->meta, kv, sizeof kv);
    mz_zoo_desc *z = &out->desc;
    z->kind = "grid";
    z->recipe = spec->recipe ? spec->recipe : "{}";
    z->n_meta = 5;
    z->meta = (const char *const(*)[2])g->meta;
    z->n_models = spec->n_models;
    z->models = g->rows;
    z->n_layouts = n_layouts;
    z->layouts = layouts;
    out->mem = g;
    return MZ_OK;
}

void mz_grid_desc_release(mz_grid_desc *d)
{
    grid_mem *g = d->mem;
    if (g) {
        free(g->rows);
        free(g);
    }
    memset(d, 0, sizeof *d);
}

mz_status mz_train_grid_desc(mz_run *r, const char *const *variant_of, const mz_layout *layouts,
                             int n_layouts, mz_error *err)
{
    mz_status s = mz_grid_desc_make(&r->grid, r->spec, variant_of, layouts, n_layouts, err);
    if (s == MZ_OK)
        r->desc = r->grid.desc;
    return s;
}

void mz_train_grid_desc_release(mz_run *r)
{
    mz_grid_desc_release(&r->grid);
    memset(&r->desc, 0, sizeof r->desc);
}

/* ---- entry points ---- */

static const mz_family *grid_family(const mz_spec *spec)
{
    return !strcmp(spec->architecture, "resnet18") ? &mz_family_resnet : &mz_family_pop;
}

mz_status mz_train_run_ds(const mz_spec *spec, const mz_dataset *ds, const char *zoo_path,
                          const mz_train_opts *opts, mz_error *err)
{
    mz_run r;
    memset(&r, 0, sizeof r);
    r.spec = spec;
    r.ds = ds;
    r.opts = opts;
    const mz_family *f = grid_family(spec);
    mz_status s = f->check ? f->check(spec, opts, err) : MZ_OK;
    return s == MZ_OK ? mz_drive(&r, f, zoo_path, err) : s;
}

mz_status mz_train_run(const mz_spec *spec, const char *zoo_path, const mz_train_opts *opts,
                       mz_error *err)
{
    const mz_family *f = grid_family(spec);
    mz_status s = f->check ? f->check(spec, opts, err) : MZ_OK;
    /* the dataset first: a missing dataset must not create an empty zoo file */
    mz_dataset ds;
    memset(&ds, 0, sizeof ds);
    int loaded = 0;
    if (s == MZ_OK) {
        s = mz_dataset_load(&ds, spec->dataset, spec->data_dir[0] ? spec->data_dir : NULL,
                            spec->variant[0] ? spec->variant : NULL, err);
        loaded = s == MZ_OK;
    }
    if (s == MZ_OK && spec->train_subset > 0)
        s = mz_dataset_subset_train(&ds, spec->train_subset, err);
    /* under MPI, a rank that cannot read its data stops every rank before anything is written */
    s = mz_dist_check(opts->dist, s, err);
    if (s == MZ_OK)
        s = mz_train_run_ds(spec, &ds, zoo_path, opts, err);
    if (loaded)
        mz_dataset_release(&ds);
    return s;
}
