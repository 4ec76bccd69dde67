/* CNN-s / CNN-l zoos: models trained as populations (mzoo/pop.h), up to MZ_LANES per unit.
 *
 * A unit holds models that start at the same epoch and share an architecture up to dropout: the
 * two layout variants of an architecture (with and without dropout layers) train together in the
 * architecture with them (a lane whose dropout is 0 passes its activations through them
 * unchanged, as its own architecture would), and activations mix within a unit (mz_pop.h). Models
 * are ordered by architecture, activation and id before they are cut into units, so a unit holds
 * as few activations as the grid allows. Per model the protocol of train.h: epoch 0 evaluates the
 * initial weights; epoch e >= 1 shuffles the training split with Philox(seed, SHUFFLE, e), trains
 * in batches (train loss and accuracy are running averages of the training-mode batches), then
 * evaluates val and test. A model whose loss or weights become NaN/Inf is marked diverged; its lane
 * is switched off and the others go on. Grouping is a pure scheduling decision: every lane computes
 * exactly what the model alone would (nn/pop.h). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mzoo/nn.h"
#include "mzoo/optim.h"
#include "mzoo/sparse.h"
#include "train/train-impl.h"
#include "core/banned.h"

#define MAX_VARIANTS MZ_POP_MAX_VARIANTS
typedef mz_pop_family pop_family;

static mz_status pop_check(const mz_spec *spec, const mz_train_opts *opts, mz_error *err)
{
    (void)spec;
    if (opts->backend && !mz_pop_backend_by_name(opts->backend))
        return mz_fail(err, MZ_EINVAL, "unknown backend '%s' (expected ref or simd)",
                       opts->backend);
    return MZ_OK;
}

static mz_status pop_prepare(mz_run *r, mz_error *err)
{
    const mz_spec *spec = r->spec;
    const mz_train_opts *opts = r->opts;
    const mz_pop_backend *backend =
        opts->backend ? mz_pop_backend_by_name(opts->backend) : mz_pop_backend_default();
    if (!backend)
        return mz_fail(err, MZ_EINVAL, "no population backend");
    pop_family *f = calloc(1, sizeof *f);
    const char **names = calloc((size_t)(spec->n_models ? spec->n_models : 1), sizeof *names);
    if (f)
        f->variant_of = calloc((size_t)(spec->n_models ? spec->n_models : 1), sizeof(int));
    if (!f || !names || !f->variant_of) {
        if (f)
            free(f->variant_of);
        free(f);
        free(names);
        return mz_fail(err, MZ_ENOMEM, "out of memory");
    }
    r->fs = f;
    f->backend = backend;
    const mz_dataset *ds = r->ds;
    mz_status s = MZ_OK;
    for (int64_t i = 0; i < spec->n_models && s == MZ_OK; i++) {
        mz_arch a;
        s = mz_arch_init(&a, spec->architecture, ds->c, ds->h, ds->w, spec->models[i].dropout, err);
        if (s != MZ_OK) {
            mz_error_prefix(err, "%s with dataset %s", spec->architecture, spec->dataset);
            break;
        }
        int v = 0;
        while (v < f->n_variants && strcmp(f->arch[v].variant, a.variant) != 0)
            v++;
        if (v == f->n_variants) {
            if (v == MAX_VARIANTS) {
                s = mz_fail(err, MZ_ELIMIT, "more than %d layout variants", MAX_VARIANTS);
                break;
            }
            f->arch[f->n_variants++] = a;
        }
        f->variant_of[i] = v;
    }
    for (int v = 0; v < f->n_variants; v++) {
        mz_layout *l = &f->layouts[v];
        snprintf(l->variant, sizeof l->variant, "%s", f->arch[v].variant);
        l->n_tensors = f->arch[v].n_tensors;
        l->tensors = f->arch[v].tensors;
        l->n_params = f->arch[v].n_params;
    }
    for (int64_t i = 0; i < spec->n_models && s == MZ_OK; i++)
        names[i] = f->arch[f->variant_of[i]].variant;
    if (s == MZ_OK)
        s = mz_train_grid_desc(r, names, f->layouts, f->n_variants, err);
    free(names);
    return s;
}

static void pop_release(mz_run *r)
{
    pop_family *f = r->fs;
    mz_train_grid_desc_release(r);
    if (f)
        free(f->variant_of);
    free(f);
    r->fs = NULL;
}

/* Whether the models of architecture v can train in architecture w: the same layers but for
 * dropout layers that only w has (the parameters, their offsets and every other layer alike). */
static int runs_in(const mz_arch *v, const mz_arch *w)
{
    if (v->n_params != w->n_params || v->ard != w->ard)
        return 0;
    int i = 0, j = 0, w_drop = 0;
    for (;;) {
        while (i < v->n_layers && v->layers[i].kind == MZ_LAYER_DROPOUT)
            return 0; /* v has dropout itself: it is its own architecture */
        while (j < w->n_layers && w->layers[j].kind == MZ_LAYER_DROPOUT) {
            j++;
            w_drop++;
        }
        if (i == v->n_layers || j == w->n_layers)
            return i == v->n_layers && j == w->n_layers && w_drop > 0;
        const mz_layer *a = &v->layers[i++], *b = &w->layers[j++];
        if (a->kind != b->kind || a->in_size != b->in_size || a->out_size != b->out_size ||
            a->k != b->k || a->w_off != b->w_off || a->b_off != b->b_off || a->s_off != b->s_off ||
            a->sb_off != b->sb_off || a->out_c != b->out_c || a->in_c != b->in_c)
            return 0;
    }
}

/* The variant whose architecture the models of variant v train in (v itself or its dropout
 * twin). */
static int pop_variant(const pop_family *f, int v)
{
    for (int w = 0; w < f->n_variants; w++)
        if (w != v && runs_in(&f->arch[v], &f->arch[w]))
            return w;
    return v;
}

/* Sort key of an unfinished model: units share the architecture they train in and the start
 * epoch; the activation orders models within them. */
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

mz_status mz_pop_family_plan(mz_run *r, const int *start, mz_unit **units, int *n_units,
                             mz_error *err)
{
    const pop_family *f = r->fs;
    const mz_spec *spec = r->spec;
    int64_t todo = 0;
    for (int64_t i = 0; i < spec->n_models; i++)
        todo += start[i] >= 0;
    model_key *keys = malloc(sizeof *keys * (size_t)(todo ? todo : 1));
    mz_unit *u = calloc((size_t)(todo ? todo : 1), sizeof *u);
    if (!keys || !u) {
        free(keys);
        free(u);
        return mz_fail(err, MZ_ENOMEM, "out of memory");
    }
    int pop_of[MAX_VARIANTS]; /* per layout variant, not per model */
    for (int v = 0; v < f->n_variants; v++)
        pop_of[v] = pop_variant(f, v);
    int64_t k = 0;
    for (int64_t i = 0; i < spec->n_models; i++)
        if (start[i] >= 0)
            keys[k++] =
                (model_key){pop_of[f->variant_of[i]], (int)spec->models[i].activation, start[i], i};
    qsort(keys, (size_t)todo, sizeof *keys, cmp_keys);
    int max_group = r->opts->max_group;
    int gmax = max_group > 0 && max_group <= MZ_LANES ? max_group : MZ_LANES;
    int workers = r->plan_threads > 0 ? r->plan_threads : r->threads;
    if (max_group <= 0 && todo < (int64_t)gmax * workers) /* keep every worker busy */
        gmax = (int)((todo + workers - 1) / workers);
    if (gmax < 1)
        gmax = 1;
    int n = 0;
    for (int64_t i = 0; i < todo; i++) {
        const model_key *m = &keys[i];
        int key = m->variant;
        mz_unit *cur = n ? &u[n - 1] : NULL;
        if (!cur || cur->n == gmax || cur->key != key || cur->start_epoch != m->start) {
            cur = &u[n++];
            cur->key = key;
            cur->start_epoch = m->start;
        }
        cur->model[cur->n++] = m->id;
    }
    free(keys);
    *units = u;
    *n_units = n;
    return MZ_OK;
}

typedef struct pop_worker {
    uint32_t *perm; /* [MZ_LANES][n_train] */
    uint32_t *idx;  /* [MZ_LANES][batch] */
    float *init;    /* one model's parameters */
} pop_worker;

void mz_pop_family_worker_free(void *vw)
{
    pop_worker *w = vw;
    if (w) {
        free(w->perm);
        free(w->idx);
        free(w->init);
    }
    free(w);
}

mz_status mz_pop_family_worker_new(mz_run *r, void **out, mz_error *err)
{
    const pop_family *f = r->fs;
    int64_t np = 0;
    for (int v = 0; v < f->n_variants; v++)
        if (f->arch[v].n_params > np)
            np = f->arch[v].n_params;
    pop_worker *w = calloc(1, sizeof *w);
    if (w) {
        w->perm = malloc(sizeof(uint32_t) * (size_t)(MZ_LANES * (r->ds->train.n + 1)));
        w->idx = malloc(sizeof(uint32_t) * (size_t)(MZ_LANES * r->spec->batch_size));
        w->init = malloc(sizeof(float) * (size_t)(np + 1));
    }
    if (!w || !w->perm || !w->idx || !w->init) {
        mz_pop_family_worker_free(w);
        return mz_fail(err, MZ_ENOMEM, "out of memory for a worker");
    }
    *out = w;
    return MZ_OK;
}

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

/* A twin's sparsity (dropped weights / all weights of its ARD layers) and its per-layer figures
 * as the record's metrics JSON: {"sparsity": {"conv1": ..., ..., "fc2": ...}}, layers named by
 * position as the loader names them (mz_ard_sparsity_metrics, which imported twins share). */
static void twin_figures(const mz_arch *a, const float *params, double *sparsity, char *json,
                         size_t cap)
{
    mz_status st = mz_ard_sparsity_metrics(a, params, sparsity, json, cap, NULL);
    MZ_ASSERT(st == MZ_OK);
    (void)st;
}

/* A magnitude-pruned twin's sparsity (zero weights / all conv and linear weights) and per-layer
 * figures, as twin_figures. */
static void zero_figures(const mz_arch *a, const float *params, double *sparsity, char *json,
                         size_t cap)
{
    int64_t zeros = 0, total = 0;
    size_t at = (size_t)snprintf(json, cap, "{\"sparsity\":{");
    int nconv = 0, nfc = 0, first = 1;
    for (int i = 0; i < a->n_layers; i++) {
        const mz_layer *l = &a->layers[i];
        if (l->kind != MZ_LAYER_CONV && l->kind != MZ_LAYER_LINEAR)
            continue;
        int64_t z = 0, nw = l->b_off - l->w_off;
        for (int64_t k = l->w_off; k < l->b_off; k++)
            z += params[k] == 0.0f;
        char num[32];
        mz_format_double(num, sizeof num, (double)z / (double)nw);
        if (at < cap)
            at += (size_t)snprintf(json + at, cap - at, "%s\"%s%d\":%s", first ? "" : ",",
                                   l->kind == MZ_LAYER_CONV ? "conv" : "fc",
                                   l->kind == MZ_LAYER_CONV ? ++nconv : ++nfc, num);
        first = 0;
        zeros += z;
        total += nw;
    }
    if (at < cap)
        snprintf(json + at, cap - at, "}}");
    MZ_ASSERT(at + 2 < cap);
    *sparsity = (double)zeros / (double)total;
}

static void fail_with(mz_sink *sink, mz_status code, const char *what)
{
    mz_error e;
    mz_fail(&e, code, "%s", what);
    sink->fail(sink, &e);
}

/* Sets up the lanes of u: fresh models from their init, others from their resume state. */
static mz_status load_lanes(mz_run *r, pop_worker *w, const mz_unit *u, const mz_arch *a,
                            mz_pop *pop, float *scratch, mz_error *err)
{
    const mz_spec *spec = r->spec;
    int64_t np = a->n_params;
    for (int l = 0; l < u->n; l++) {
        const mz_model_spec *m = &spec->models[u->model[l]];
        mz_lane_cfg lc = {0};
        lc.active = 1;
        mz_optim_cfg_from_model(&lc.opt, m);
        lc.dropout = (float)m->dropout;
        lc.seed = m->seed;
        mz_pop_set_activation(pop, l, m->activation);
        if (u->start_epoch == 0) {
            const pop_family *f = r->fs;
            if (f->initial) {
                mz_pop_set_lane(pop, l, &lc, f->initial[m->id], NULL);
            } else { /* by the model's own architecture */
                mz_arch_init_params(&f->arch[f->variant_of[m->id]], m->init, m->seed, w->init);
                mz_pop_set_lane(pop, l, &lc, w->init, NULL);
            }
            continue;
        }
        int64_t n_opt = mz_optim_state_floats(m->optimizer, np);
        int ep = -1;
        mz_status s = r->load_resume(r, m->id, &ep, scratch, np, scratch + np, n_opt, &lc.t, err);
        if (s == MZ_OK && ep != u->start_epoch - 1)
            s = mz_fail(err, MZ_EFORMAT,
                        "model %lld: resume state is for epoch %d but epoch %d is the last "
                        "committed",
                        (long long)m->id, ep, u->start_epoch - 1);
        if (s != MZ_OK)
            return s;
        mz_pop_set_lane(pop, l, &lc, scratch, scratch + np);
    }
    return MZ_OK;
}

/* One training epoch of every live lane. Returns 0 when interrupted. */
static int train_epoch(mz_run *r, pop_worker *w, const mz_unit *u, mz_pop *pop, int epoch,
                       int *diverged, mz_batch *status, double *tr_loss, double *tr_acc,
                       mz_sink *sink)
{
    const mz_spec *spec = r->spec;
    const mz_split *tr = &r->ds->train;
    int64_t N = tr->n;
    int B = spec->batch_size;
    int steps = (int)((N + B - 1) / B);
    double lsum[MZ_LANES] = {0};
    int64_t hits[MZ_LANES] = {0};
    for (int l = 0; l < u->n; l++) {
        mz_rng_stream s = mz_rng_make((uint64_t)spec->models[u->model[l]].seed, MZ_RNG_SHUFFLE,
                                      (uint32_t)epoch, 0, 0);
        mz_rng_permutation(&s, w->perm + (int64_t)l * N, (uint32_t)N);
    }
    for (int step = 0; step < steps; step++) {
        if ((step & 63) == 0 && sink->stopping(sink))
            return 0;
        int nb = (int)(N - (int64_t)step * B < B ? N - (int64_t)step * B : B);
        for (int l = 0; l < u->n; l++)
            memcpy(w->idx + l * nb, w->perm + (int64_t)l * N + (int64_t)step * B,
                   sizeof(uint32_t) * (size_t)nb);
        if (spec->scheduler == MZ_SCHED_ONECYCLE)
            for (int l = 0; l < u->n; l++) {
                mz_optim_cfg *oc = &pop->lane[l].opt;
                double lr, mom;
                mz_onecycle(spec->models[u->model[l]].lr, (int64_t)steps * spec->epochs,
                            pop->lane[l].t, &lr, &mom);
                oc->lr = lr;
                if (oc->type == MZ_OPT_SGD)
                    oc->momentum = mom;
                else
                    oc->beta1 = mom;
            }
        float loss[MZ_LANES];
        int correct[MZ_LANES];
        mz_pop_train_step(pop, tr->x, tr->y, w->idx, nb, epoch, step, loss, correct);
        for (int l = 0; l < u->n; l++) {
            if (diverged[l])
                continue;
            if (!isfinite(loss[l])) {
                diverged[l] = 1;
                pop->lane[l].active = 0;
                mz_batch_status(status, u->model[l], epoch, MZ_MODEL_DIVERGED,
                                "training loss is %s at epoch %d, step %d",
                                isnan(loss[l]) ? "NaN" : "Inf", epoch, step);
                continue;
            }
            lsum[l] += (double)loss[l] * nb;
            hits[l] += correct[l];
        }
    }
    for (int l = 0; l < MZ_LANES; l++) {
        tr_loss[l] = lsum[l] / (double)N;
        tr_acc[l] = (double)hits[l] / (double)N;
    }
    return 1;
}

void mz_pop_family_run_unit(mz_run *r, void *vw, const mz_unit *u, mz_sink *sink)
{
    pop_worker *w = vw;
    const pop_family *f = r->fs;
    const mz_spec *spec = r->spec;
    const mz_dataset *ds = r->ds;
    MZ_ASSERT(u->key >= 0 && u->key < f->n_variants);
    const mz_arch *a = &f->arch[u->key];
    mz_activation act = spec->models[u->model[0]].activation;
    int64_t np = a->n_params, per = 3 * np; /* weights + room for either optimizer's state */
    mz_pop pop;
    mz_error e = {0};
    if (mz_pop_init(&pop, f->backend, a, act, spec->batch_size, &ds->lut[0][0], &e) != MZ_OK) {
        sink->fail(sink, &e);
        return;
    }
    float *scratch = malloc(sizeof(float) * (size_t)per);
    if (!scratch) {
        mz_pop_release(&pop);
        fail_with(sink, MZ_ENOMEM, "out of memory (model state)");
        return;
    }
    if (load_lanes(r, w, u, a, &pop, scratch, &e) != MZ_OK) {
        sink->fail(sink, &e);
        free(scratch);
        mz_pop_release(&pop);
        return;
    }
    int diverged[MZ_LANES] = {0};
    for (int epoch = u->start_epoch; epoch <= r->last_epoch && !sink->stopping(sink); epoch++) {
        if (f->twins)
            for (int l = 0; l < u->n; l++)
                pop.lane[l].kl_weight = f->kl_weight(epoch, r->last_epoch);
        mz_batch *status = mz_batch_new(0, 0), *b = NULL;
        if (!status) {
            fail_with(sink, MZ_ENOMEM, "out of memory (commit)");
            break;
        }
        double tr_loss[MZ_LANES], tr_acc[MZ_LANES];
        int live_before = 0;
        for (int l = 0; l < u->n; l++)
            live_before += !diverged[l];
        if (epoch == 0) {
            eval_split(&pop, &ds->train, tr_loss, tr_acc);
        } else if (!train_epoch(r, w, u, &pop, epoch, diverged, status, tr_loss, tr_acc, sink)) {
            mz_batch_free(status); /* interrupted: nothing of this epoch is committed */
            break;
        }
        double va_loss[MZ_LANES], va_acc[MZ_LANES], te_loss[MZ_LANES], te_acc[MZ_LANES];
        eval_split(&pop, &ds->val, va_loss, va_acc);
        eval_split(&pop, &ds->test, te_loss, te_acc);
        int live = 0;
        for (int l = 0; l < u->n; l++)
            live += !diverged[l];
        if (live && !(b = mz_batch_new(0, per * live))) {
            mz_batch_free(status);
            fail_with(sink, MZ_ENOMEM, "out of memory (commit)");
            break;
        }
        for (int l = 0; l < u->n; l++) {
            if (diverged[l])
                continue;
            const mz_model_spec *m = &spec->models[u->model[l]];
            float *wb = b->buf + (int64_t)b->n * per;
            mz_pop_get_lane(&pop, l, wb, wb + np);
            if (!mz_all_finite(wb, np)) {
                /* finite loss but non-finite weights: keep the epoch's metrics out of the zoo */
                diverged[l] = 1;
                pop.lane[l].active = 0;
                mz_batch_status(status, m->id, epoch, MZ_MODEL_DIVERGED,
                                "weights became NaN/Inf in epoch %d", epoch);
                continue;
            }
            MZ_ASSERT(b->n < MZ_LANES);
            mz_epoch_record *rc = &b->rec[b->n++];
            memset(rc, 0, sizeof *rc);
            rc->model_id = m->id;
            rc->epoch = epoch;
            rc->train_loss = tr_loss[l];
            rc->train_acc = tr_acc[l];
            rc->val_loss = va_loss[l];
            rc->val_acc = va_acc[l];
            rc->test_loss = te_loss[l];
            rc->test_acc = te_acc[l];
            rc->sparsity = NAN;
            if (f->twins == 1)
                twin_figures(a, wb, &rc->sparsity, b->extra[b->n - 1], sizeof b->extra[0]);
            else if (f->twins == 2)
                zero_figures(a, wb, &rc->sparsity, b->extra[b->n - 1], sizeof b->extra[0]);
            rc->metrics = f->twins ? b->extra[b->n - 1] : NULL;
            rc->weights = wb;
            rc->n_weights = np;
            rc->opt_state = wb + np;
            rc->n_opt = mz_optim_state_floats(m->optimizer, np);
            rc->opt_step = pop.lane[l].t;
            rc->status = epoch == r->last_epoch ? MZ_MODEL_DONE : MZ_MODEL_RUNNING;
        }
        if (epoch > 0) /* the samples of this epoch, for the rate: lanes live when it began */
            (b && b->n ? b : status)->samples = r->ds->train.n * live_before;
        /* epoch rows and status changes commit apart, epochs first */
        if (b && b->n)
            sink->put(sink, b);
        else
            mz_batch_free(b);
        if (status->n)
            sink->put(sink, status);
        else
            mz_batch_free(status);
        if (!live)
            break;
    }
    free(scratch);
    mz_pop_release(&pop);
}

void mz_pop_family_resume_sizes(mz_run *r, int64_t model_id, int64_t *n_weights, int64_t *n_opt)
{
    const pop_family *f = r->fs;
    int64_t np = f->arch[f->variant_of[model_id]].n_params;
    *n_weights = np;
    *n_opt = mz_optim_state_floats(r->spec->models[model_id].optimizer, np);
}

const mz_family mz_family_pop = {
    "pop",
    pop_check,
    pop_prepare,
    mz_pop_family_plan,
    mz_pop_family_worker_new,
    mz_pop_family_run_unit,
    mz_pop_family_worker_free,
    pop_release,
    mz_pop_family_resume_sizes,
};
