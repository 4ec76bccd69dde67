/* Runs over several processes with MPI (dist-impl.h, train.h). Without MPI at build time the
 * public functions say so and the driver runs locally. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef MZ_HAVE_MPI
#include <mpi.h>
#endif

#include "mzoo/formats.h"
#include "train/dist-impl.h"
#include "core/banned.h"

/* Whether the environment says an MPI launcher started several processes: Open MPI's mpirun,
 * MPICH/Hydra and Slurm's PMI/PMIx. */
int mz_dist_launched(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "MPI_LOCALNRANKS",
                                       "SLURM_NTASKS", NULL};
    for (int i = 0; vars[i]; i++) {
        const char *v = getenv(vars[i]);
        if (!v)
            continue;
        if (!strcmp(vars[i], "SLURM_NTASKS") && !getenv("PMIX_RANK") && !getenv("PMI_RANK"))
            continue; /* a Slurm allocation, but not a process started by srun */
        if (strtol(v, NULL, 10) > 1)
            return 1;
    }
    return 0;
}

#ifndef MZ_HAVE_MPI

struct mz_dist {
    int unused;
};

mz_status mz_dist_init(mz_dist **out, int *argc, char ***argv, mz_error *err)
{
    (void)argc, (void)argv;
    *out = NULL;
    return mz_fail(err, MZ_EUNSUPPORTED,
                   "this mzoo was built without MPI (install libopenmpi-dev and rebuild)");
}
int mz_dist_rank(const mz_dist *d)
{
    return (void)d, 0;
}
int mz_dist_size(const mz_dist *d)
{
    return (void)d, 1;
}
const char *mz_dist_host(const mz_dist *d)
{
    return (void)d, "";
}
void mz_dist_finalize(mz_dist *d)
{
    (void)d;
}
mz_status mz_dist_check(mz_dist *d, mz_status local, mz_error *err)
{
    (void)d, (void)err;
    return local;
}
int mz_dist_active(const mz_dist *d)
{
    return (void)d, 0;
}
mz_status mz_dist_handshake(mz_dist *d, mz_run *r, mz_status prepared, const mz_error *perr,
                            mz_error *err)
{
    (void)d, (void)r, (void)perr, (void)err;
    return prepared;
}
void mz_dist_serve(mz_dist *d, const mz_dist_root *root)
{
    (void)d, (void)root;
}
void mz_dist_work(mz_dist *d, mz_run *r)
{
    (void)d, (void)r;
}
mz_status mz_dist_agree(mz_dist *d, mz_status s, mz_error *err)
{
    (void)d, (void)err;
    return s;
}

#else

enum {
    TAG_REQUEST = 1, /* rank -> 0: a unit, please */
    TAG_UNIT,        /* 0 -> rank: a unit and its models' resume state */
    TAG_DONE,        /* 0 -> rank: no units left */
    TAG_BATCH,       /* rank -> 0: the records of one epoch */
    TAG_FAIL,        /* rank -> 0: an error that stops the run */
    TAG_FINISHED,    /* rank -> 0: this rank has nothing more to send */
    TAG_STOP,        /* 0 -> rank: the run is stopping */
};

struct mz_dist {
    int rank, size;
    char host[MPI_MAX_PROCESSOR_NAME + 1];
};

mz_status mz_dist_init(mz_dist **out, int *argc, char ***argv, mz_error *err)
{
    *out = NULL;
    mz_dist *d = calloc(1, sizeof *d);
    if (!d)
        return mz_fail(err, MZ_ENOMEM, "out of memory");
    int provided = 0;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS) {
        free(d);
        return mz_fail(err, MZ_EIO, "MPI_Init_thread failed");
    }
    if (provided < MPI_THREAD_SERIALIZED) {
        MPI_Finalize();
        free(d);
        return mz_fail(err, MZ_EUNSUPPORTED,
                       "the MPI library offers thread level %d; mzoo needs MPI_THREAD_SERIALIZED",
                       provided);
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &d->size);
    int len = 0;
    MPI_Get_processor_name(d->host, &len);
    d->host[len < 0 ? 0 : len] = 0;
    *out = d;
    return MZ_OK;
}

int mz_dist_rank(const mz_dist *d)
{
    return d ? d->rank : 0;
}
int mz_dist_size(const mz_dist *d)
{
    return d ? d->size : 1;
}
const char *mz_dist_host(const mz_dist *d)
{
    return d ? d->host : "";
}

void mz_dist_finalize(mz_dist *d)
{
    if (!d)
        return;
    MPI_Finalize();
    free(d);
}

int mz_dist_active(const mz_dist *d)
{
    return d && d->size > 1;
}

/* ---- the handshake ---- */

typedef struct hello {
    int32_t status;
    int32_t little_endian, float_size, ptr_size;
    char version[32];
    char host[96];
    uint64_t recipe_hash;
    uint32_t data_crc;
    int64_t n_train, n_val, n_test;
    char msg[600];
} hello;

static uint32_t crc_split(uint32_t crc, const mz_split *s, int64_t image_bytes)
{
    if (s->n > 0) {
        crc = mz_crc32(crc, s->x, (size_t)(s->n * image_bytes));
        crc = mz_crc32(crc, s->y, sizeof *s->y * (size_t)s->n);
    }
    return crc;
}

mz_status mz_dist_handshake(mz_dist *d, mz_run *r, mz_status prepared, const mz_error *perr,
                            mz_error *err)
{
    hello me;
    memset(&me, 0, sizeof me);
    me.status = prepared;
    uint16_t one = 1;
    me.little_endian = *(const uint8_t *)&one;
    me.float_size = (int32_t)sizeof(float);
    me.ptr_size = (int32_t)sizeof(void *);
    snprintf(me.version, sizeof me.version, "%s", MZ_VERSION_STRING);
    snprintf(me.host, sizeof me.host, "%.95s", d->host);
    if (prepared == MZ_OK) {
        const char *recipe = r->desc.recipe ? r->desc.recipe : "";
        me.recipe_hash = mz_hash64(recipe, strlen(recipe));
        const mz_dataset *ds = r->ds;
        int64_t bytes = (int64_t)ds->c * ds->h * ds->w;
        me.data_crc = crc_split(crc_split(crc_split(0, &ds->train, bytes), &ds->val, bytes),
                                &ds->test, bytes);
        me.n_train = ds->train.n;
        me.n_val = ds->val.n;
        me.n_test = ds->test.n;
    } else {
        snprintf(me.msg, sizeof me.msg, "%.599s", perr ? perr->msg : "failed");
    }
    hello *all = d->rank == 0 ? calloc((size_t)d->size, sizeof *all) : NULL;
    int oom = d->rank == 0 && !all;
    MPI_Gather(&me, (int)sizeof me, MPI_BYTE, oom ? NULL : all, (int)sizeof me, MPI_BYTE, 0,
               MPI_COMM_WORLD);
    /* rank 0 judges; the verdict (status and message) goes to every rank */
    struct {
        int32_t status;
        char msg[MZ_ERROR_MSG_MAX];
    } verdict;
    memset(&verdict, 0, sizeof verdict);
    if (d->rank == 0) {
        if (oom) {
            verdict.status = MZ_ENOMEM;
            snprintf(verdict.msg, sizeof verdict.msg, "rank 0: out of memory");
        }
        for (int k = 0; !oom && k < d->size && verdict.status == MZ_OK; k++) {
            const hello *h = &all[k];
            if (h->status != MZ_OK) {
                verdict.status = h->status;
                snprintf(verdict.msg, sizeof verdict.msg, "rank %d (%s): %s", k, h->host, h->msg);
            } else if (strcmp(h->version, all[0].version) != 0 ||
                       h->little_endian != all[0].little_endian ||
                       h->float_size != all[0].float_size || h->ptr_size != all[0].ptr_size) {
                verdict.status = MZ_EINVAL;
                snprintf(verdict.msg, sizeof verdict.msg,
                         "rank %d (%s) runs mzoo %s (%s-endian), rank 0 (%s) mzoo %s: every rank "
                         "must run the same build",
                         k, h->host, h->version, h->little_endian ? "little" : "big", all[0].host,
                         all[0].version);
            } else if (h->recipe_hash != all[0].recipe_hash) {
                verdict.status = MZ_EINVAL;
                snprintf(verdict.msg, sizeof verdict.msg,
                         "rank %d (%s) has another recipe than rank 0 (%s): every rank must run "
                         "the same command on the same files",
                         k, h->host, all[0].host);
            } else if (h->data_crc != all[0].data_crc || h->n_train != all[0].n_train ||
                       h->n_val != all[0].n_val || h->n_test != all[0].n_test) {
                verdict.status = MZ_EINVAL;
                snprintf(verdict.msg, sizeof verdict.msg,
                         "rank %d (%s) read other data than rank 0 (%s): %lld/%lld/%lld train/val/"
                         "test images, crc32 0x%08x, against %lld/%lld/%lld, 0x%08x; give every "
                         "rank the same dataset files",
                         k, h->host, all[0].host, (long long)h->n_train, (long long)h->n_val,
                         (long long)h->n_test, (unsigned)h->data_crc, (long long)all[0].n_train,
                         (long long)all[0].n_val, (long long)all[0].n_test,
                         (unsigned)all[0].data_crc);
            }
        }
    }
    free(all);
    MPI_Bcast(&verdict, (int)sizeof verdict, MPI_BYTE, 0, MPI_COMM_WORLD);
    if (verdict.status != MZ_OK)
        return mz_fail(err, (mz_status)verdict.status, "%s", verdict.msg);
    return MZ_OK;
}

mz_status mz_dist_check(mz_dist *d, mz_status local, mz_error *err)
{
    if (!mz_dist_active(d))
        return local;
    /* the lowest failing rank speaks for all */
    int mine = local != MZ_OK ? d->rank : d->size, first = d->size;
    MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (first == d->size)
        return MZ_OK;
    struct {
        int32_t status;
        char msg[MZ_ERROR_MSG_MAX];
    } v;
    memset(&v, 0, sizeof v);
    if (d->rank == first) {
        v.status = local;
        snprintf(v.msg, sizeof v.msg, "rank %d (%.200s): %.800s", d->rank, d->host,
                 err ? err->msg : "failed");
    }
    MPI_Bcast(&v, (int)sizeof v, MPI_BYTE, first, MPI_COMM_WORLD);
    return mz_fail(err, (mz_status)v.status, "%s", v.msg);
}

mz_status mz_dist_agree(mz_dist *d, mz_status s, mz_error *err)
{
    struct {
        int32_t status;
        char msg[MZ_ERROR_MSG_MAX];
    } v;
    memset(&v, 0, sizeof v);
    v.status = s;
    if (d->rank == 0 && s != MZ_OK)
        snprintf(v.msg, sizeof v.msg, "%s", err ? err->msg : "failed");
    MPI_Bcast(&v, (int)sizeof v, MPI_BYTE, 0, MPI_COMM_WORLD);
    if (d->rank != 0 && v.status != MZ_OK)
        mz_fail(err, (mz_status)v.status, "%s", v.msg);
    return (mz_status)v.status;
}

/* ---- messages ---- */

typedef struct buf {
    uint8_t *p;
    size_t n, cap;
    int oom;
} buf;

static void put(buf *b, const void *data, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n)
            cap *= 2;
        uint8_t *g = realloc(b->p, cap);
        if (!g) {
            b->oom = 1;
            return;
        }
        b->p = g;
        b->cap = cap;
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
}

typedef struct rd {
    const uint8_t *p;
    size_t n, at;
    int bad;
} rd;

static void get(rd *r, void *out, size_t n)
{
    if (r->bad || n > r->n - r->at) {
        r->bad = 1;
        memset(out, 0, n);
        return;
    }
    memcpy(out, r->p + r->at, n);
    r->at += n;
}

/* One record on the wire. */
typedef struct wire_rec {
    int64_t model_id, n_weights, n_opt, opt_step;
    int32_t epoch, status_only, status, msg_len, metrics_len;
    double m[7]; /* train_loss, train_acc, val_loss, val_acc, test_loss, test_acc, sparsity */
} wire_rec;

static void pack_batch(buf *b, const mz_batch *batch)
{
    int32_t n = batch->n;
    put(b, &n, sizeof n);
    put(b, &batch->samples, sizeof batch->samples);
    for (int i = 0; i < batch->n; i++) {
        const mz_epoch_record *r = &batch->rec[i];
        wire_rec w;
        memset(&w, 0, sizeof w);
        w.model_id = r->model_id;
        w.epoch = r->epoch;
        w.status_only = r->status_only;
        w.status = r->status;
        w.n_weights = r->weights ? r->n_weights : -1;
        w.n_opt = r->opt_state ? r->n_opt : 0;
        w.opt_step = r->opt_step;
        double m[7] = {r->train_loss, r->train_acc, r->val_loss, r->val_acc,
                       r->test_loss,  r->test_acc,  r->sparsity};
        memcpy(w.m, m, sizeof m);
        w.msg_len = r->message ? (int32_t)strlen(r->message) : -1;
        w.metrics_len = r->metrics ? (int32_t)strlen(r->metrics) : -1;
        put(b, &w, sizeof w);
        if (w.msg_len > 0)
            put(b, r->message, (size_t)w.msg_len);
        if (w.metrics_len > 0)
            put(b, r->metrics, (size_t)w.metrics_len);
        if (w.n_weights > 0)
            put(b, r->weights, sizeof(float) * (size_t)w.n_weights);
        if (w.n_opt > 0)
            put(b, r->opt_state, sizeof(float) * (size_t)w.n_opt);
    }
}

/* A batch from the wire (NULL if malformed or out of memory). */
static mz_batch *unpack_batch(const uint8_t *p, size_t n)
{
    rd r = {p, n, 0, 0};
    int32_t count = 0;
    int64_t samples = 0;
    get(&r, &count, sizeof count);
    get(&r, &samples, sizeof samples);
    if (r.bad || count < 0 || count > MZ_LANES)
        return NULL;
    mz_batch *b = mz_batch_new(0, (int64_t)(n / sizeof(float)) + 1);
    if (!b)
        return NULL;
    b->samples = samples;
    float *at = b->buf;
    for (int i = 0; i < count && !r.bad; i++) {
        wire_rec w;
        get(&r, &w, sizeof w);
        mz_epoch_record *rc = &b->rec[i];
        memset(rc, 0, sizeof *rc);
        rc->model_id = w.model_id;
        rc->epoch = w.epoch;
        rc->status_only = w.status_only;
        rc->status = (mz_model_status)w.status;
        rc->opt_step = w.opt_step;
        rc->train_loss = w.m[0], rc->train_acc = w.m[1], rc->val_loss = w.m[2];
        rc->val_acc = w.m[3], rc->test_loss = w.m[4], rc->test_acc = w.m[5];
        rc->sparsity = w.m[6];
        if (w.msg_len >= 0) {
            size_t keep =
                (size_t)w.msg_len < sizeof b->msg[i] ? (size_t)w.msg_len : sizeof b->msg[i] - 1;
            char tmp[4096];
            if ((size_t)w.msg_len > sizeof tmp) {
                r.bad = 1;
                break;
            }
            get(&r, tmp, (size_t)w.msg_len);
            memcpy(b->msg[i], tmp, keep);
            b->msg[i][keep] = 0;
            rc->message = b->msg[i];
        }
        if (w.metrics_len >= 0) {
            if ((size_t)w.metrics_len >= sizeof b->extra[i]) {
                r.bad = 1;
                break;
            }
            get(&r, b->extra[i], (size_t)w.metrics_len);
            b->extra[i][w.metrics_len] = 0;
            rc->metrics = b->extra[i];
        }
        if (w.n_weights > 0) {
            if ((size_t)w.n_weights > (n - r.at) / sizeof(float)) {
                r.bad = 1;
                break;
            }
            get(&r, at, sizeof(float) * (size_t)w.n_weights);
            rc->weights = at;
            rc->n_weights = w.n_weights;
            at += w.n_weights;
        }
        if (w.n_opt > 0) {
            if ((size_t)w.n_opt > (n - r.at) / sizeof(float)) {
                r.bad = 1;
                break;
            }
            get(&r, at, sizeof(float) * (size_t)w.n_opt);
            rc->opt_state = at;
            rc->n_opt = w.n_opt;
            at += w.n_opt;
        }
        b->n = i + 1;
    }
    if (r.bad || r.at != n || b->n != count) {
        mz_batch_free(b);
        return NULL;
    }
    return b;
}

/* A message probed for: received whole into *data (malloc'd). */
static int recv_probed(const MPI_Status *st, uint8_t **data, int *n)
{
    int count = 0;
    MPI_Get_count(st, MPI_BYTE, &count);
    *data = malloc((size_t)(count > 0 ? count : 1));
    if (!*data)
        return -1;
    MPI_Recv(*data, count, MPI_BYTE, st->MPI_SOURCE, st->MPI_TAG, MPI_COMM_WORLD,
             MPI_STATUS_IGNORE);
    *n = count;
    return 0;
}

/* Non-blocking sends in flight, with the buffers they own. */
typedef struct outbox {
    MPI_Request req[256];
    uint8_t *data[256];
    int n;
} outbox;

static void outbox_poll(outbox *o)
{
    for (int i = 0; i < o->n;) {
        int done = 0;
        MPI_Test(&o->req[i], &done, MPI_STATUS_IGNORE);
        if (done) {
            free(o->data[i]);
            o->req[i] = o->req[o->n - 1];
            o->data[i] = o->data[o->n - 1];
            o->n--;
        } else {
            i++;
        }
    }
}

/* Sends data (owned by the outbox from now on, NULL for an empty message) without blocking;
 * waits for older sends only when 256 are in flight. */
static void outbox_send(outbox *o, int to, int tag, uint8_t *data, size_t n)
{
    while (o->n == 256) {
        outbox_poll(o);
        if (o->n == 256)
            MPI_Wait(&o->req[0], MPI_STATUS_IGNORE), free(o->data[0]),
                o->req[0] = o->req[o->n - 1], o->data[0] = o->data[o->n - 1], o->n--;
    }
    MPI_Isend(data, (int)n, MPI_BYTE, to, tag, MPI_COMM_WORLD, &o->req[o->n]);
    o->data[o->n++] = data;
}

static void outbox_drain(outbox *o)
{
    while (o->n) {
        MPI_Wait(&o->req[o->n - 1], MPI_STATUS_IGNORE);
        free(o->data[o->n - 1]);
        o->n--;
    }
}

static void nap(void)
{
    struct timespec ts = {0, 200000}; /* 0.2 ms */
    nanosleep(&ts, NULL);
}

/* ---- rank 0 ---- */

/* A unit and its models' resume state on the wire. */
static int pack_unit(const mz_dist_root *root, int u, buf *b, mz_error *err)
{
    mz_run *r = root->r;
    const mz_unit *unit = &root->units[u];
    put(b, unit, sizeof *unit);
    int32_t n = unit->start_epoch > 0 ? unit->n : 0;
    put(b, &n, sizeof n);
    for (int l = 0; l < n; l++) {
        int64_t id = unit->model[l], nw = 0, nopt = 0, step = 0;
        r->family->resume_sizes(r, id, &nw, &nopt);
        float *w = malloc(sizeof(float) * (size_t)(nw + nopt + 1));
        if (!w) {
            mz_fail(err, MZ_ENOMEM, "out of memory (resume state)");
            return -1;
        }
        int32_t ep = -1;
        int e = -1;
        if (r->load_resume(r, id, &e, w, nw, w + nw, nopt, &step, err) != MZ_OK) {
            free(w);
            return -1;
        }
        ep = e;
        put(b, &id, sizeof id);
        put(b, &ep, sizeof ep);
        put(b, &step, sizeof step);
        put(b, &nw, sizeof nw);
        put(b, &nopt, sizeof nopt);
        put(b, w, sizeof(float) * (size_t)(nw + nopt));
        free(w);
    }
    if (b->oom) {
        mz_fail(err, MZ_ENOMEM, "out of memory (unit message)");
        return -1;
    }
    return 0;
}

void mz_dist_serve(mz_dist *d, const mz_dist_root *root)
{
    mz_sink *sink = root->sink;
    outbox ob = {0};
    int running = d->size - 1, stop_sent = 0;
    while (running > 0) {
        outbox_poll(&ob);
        if (!stop_sent && sink->stopping(sink)) {
            for (int k = 1; k < d->size; k++)
                outbox_send(&ob, k, TAG_STOP, NULL, 0);
            stop_sent = 1;
        }
        int flag = 0;
        MPI_Status st;
        MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st);
        if (!flag) {
            nap();
            continue;
        }
        uint8_t *data = NULL;
        int n = 0;
        if (recv_probed(&st, &data, &n) != 0) {
            mz_error e;
            mz_fail(&e, MZ_ENOMEM, "out of memory (message from rank %d)", st.MPI_SOURCE);
            sink->fail(sink, &e);
            /* the message stays unreceived: the ranks are told to stop, and MPI_Finalize
             * would wait for it, so give up on the job */
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        if (st.MPI_TAG == TAG_REQUEST) {
            int u = root->claim(root->ctx);
            buf b = {0};
            mz_error e = {0};
            if (u >= 0 && pack_unit(root, u, &b, &e) != 0) {
                sink->fail(sink, &e);
                free(b.p);
                u = -1;
            }
            if (u >= 0)
                outbox_send(&ob, st.MPI_SOURCE, TAG_UNIT, b.p, b.n);
            else
                outbox_send(&ob, st.MPI_SOURCE, TAG_DONE, NULL, 0);
        } else if (st.MPI_TAG == TAG_BATCH) {
            mz_batch *b = unpack_batch(data, (size_t)n);
            if (b) {
                sink->put(sink, b);
            } else {
                mz_error e;
                mz_fail(&e, MZ_EFORMAT, "rank %d: malformed batch of %d bytes", st.MPI_SOURCE, n);
                sink->fail(sink, &e);
            }
        } else if (st.MPI_TAG == TAG_FAIL) {
            mz_error e;
            mz_status code = MZ_ESTORE;
            if (n >= (int)sizeof(int32_t)) {
                int32_t c;
                memcpy(&c, data, sizeof c);
                code = (mz_status)c;
            }
            mz_fail(&e, code, "%.*s", n > 4 ? n - 4 : 0, (const char *)data + 4);
            sink->fail(sink, &e);
        } else if (st.MPI_TAG == TAG_FINISHED) {
            running--;
        }
        free(data);
    }
    outbox_drain(&ob);
}

/* ---- the other ranks ---- */

typedef struct remote_unit {
    mz_unit u;
    int n_resume;
    struct {
        int64_t id, step, nw, nopt;
        int epoch;
        float *data;
    } resume[MZ_LANES];
    int active; /* being trained */
    struct remote_unit *next;
} remote_unit;

typedef struct rank_run {
    mz_dist *d;
    mz_run *r;
    mz_sink sink;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    remote_unit *queue, *active; /* received, not yet claimed; being trained */
    int done, stop, failed, workers_left, busy;
    mz_batch *out_head, *out_tail;
    int out_n;
    mz_error err;
    int err_sent;
} rank_run;

static rank_run *of_sink(mz_sink *s)
{
    return (rank_run *)((char *)s - offsetof(rank_run, sink));
}

static int rank_stopping(mz_sink *s)
{
    rank_run *k = of_sink(s);
    const volatile int *stop = k->r->opts->stop;
    return __atomic_load_n(&k->stop, __ATOMIC_ACQUIRE) ||
           __atomic_load_n(&k->failed, __ATOMIC_ACQUIRE) ||
           (stop && __atomic_load_n(stop, __ATOMIC_RELAXED));
}

static void rank_put(mz_sink *s, mz_batch *b)
{
    rank_run *k = of_sink(s);
    pthread_mutex_lock(&k->mu);
    while (k->out_n >= 2 * k->r->threads + 2 && !__atomic_load_n(&k->failed, __ATOMIC_ACQUIRE))
        pthread_cond_wait(&k->cv, &k->mu);
    b->next = NULL;
    if (k->out_tail)
        k->out_tail->next = b;
    else
        k->out_head = b;
    k->out_tail = b;
    k->out_n++;
    pthread_cond_broadcast(&k->cv);
    pthread_mutex_unlock(&k->mu);
}

static void rank_fail(mz_sink *s, const mz_error *e)
{
    rank_run *k = of_sink(s);
    pthread_mutex_lock(&k->mu);
    if (!__atomic_load_n(&k->failed, __ATOMIC_ACQUIRE)) {
        k->err = *e;
        __atomic_store_n(&k->failed, 1, __ATOMIC_RELEASE);
    }
    pthread_cond_broadcast(&k->cv);
    pthread_mutex_unlock(&k->mu);
}

static mz_status rank_load_resume(mz_run *r, int64_t model_id, int *epoch, float *weights,
                                  int64_t n_weights, float *opt_state, int64_t n_opt,
                                  int64_t *opt_step, mz_error *err)
{
    rank_run *k = r->driver;
    mz_status s = MZ_ENOTFOUND;
    pthread_mutex_lock(&k->mu);
    for (remote_unit *u = k->active; u && s == MZ_ENOTFOUND; u = u->next)
        for (int i = 0; i < u->n_resume; i++)
            if (u->resume[i].id == model_id) {
                if (u->resume[i].nw != n_weights || u->resume[i].nopt != n_opt) {
                    s = mz_fail(err, MZ_EFORMAT, "model %lld: resume state of other sizes",
                                (long long)model_id);
                    break;
                }
                *epoch = u->resume[i].epoch;
                *opt_step = u->resume[i].step;
                memcpy(weights, u->resume[i].data, sizeof(float) * (size_t)n_weights);
                memcpy(opt_state, u->resume[i].data + n_weights, sizeof(float) * (size_t)n_opt);
                s = MZ_OK;
                break;
            }
    pthread_mutex_unlock(&k->mu);
    if (s == MZ_ENOTFOUND)
        mz_fail(err, s, "model %lld: no resume state came with its unit", (long long)model_id);
    return s;
}

static void free_remote(remote_unit *u)
{
    for (int i = 0; u && i < u->n_resume; i++)
        free(u->resume[i].data);
    free(u);
}

static remote_unit *unpack_unit(const uint8_t *p, size_t n)
{
    rd r = {p, n, 0, 0};
    remote_unit *u = calloc(1, sizeof *u);
    if (!u)
        return NULL;
    int32_t nr = 0;
    get(&r, &u->u, sizeof u->u);
    get(&r, &nr, sizeof nr);
    if (r.bad || nr < 0 || nr > MZ_LANES || u->u.n < 1 || u->u.n > MZ_LANES) {
        free(u);
        return NULL;
    }
    for (int i = 0; i < nr && !r.bad; i++) {
        int32_t ep = 0;
        get(&r, &u->resume[i].id, sizeof u->resume[i].id);
        get(&r, &ep, sizeof ep);
        get(&r, &u->resume[i].step, sizeof u->resume[i].step);
        get(&r, &u->resume[i].nw, sizeof u->resume[i].nw);
        get(&r, &u->resume[i].nopt, sizeof u->resume[i].nopt);
        int64_t nf = u->resume[i].nw + u->resume[i].nopt;
        if (r.bad || u->resume[i].nw < 0 || u->resume[i].nopt < 0 ||
            (uint64_t)nf > (n - r.at) / sizeof(float)) {
            r.bad = 1;
            break;
        }
        u->resume[i].epoch = ep;
        u->resume[i].data = malloc(sizeof(float) * (size_t)(nf + 1));
        if (!u->resume[i].data) {
            r.bad = 1;
            break;
        }
        get(&r, u->resume[i].data, sizeof(float) * (size_t)nf);
        u->n_resume = i + 1;
    }
    if (r.bad || r.at != n) {
        free_remote(u);
        return NULL;
    }
    return u;
}

typedef struct rank_worker {
    rank_run *k;
    void *ws;
} rank_worker;

static void *rank_worker_main(void *arg)
{
    rank_worker *w = arg;
    rank_run *k = w->k;
    for (;;) {
        pthread_mutex_lock(&k->mu);
        while (!k->queue && !k->done && !rank_stopping(&k->sink))
            pthread_cond_wait(&k->cv, &k->mu);
        remote_unit *u = rank_stopping(&k->sink) ? NULL : k->queue;
        if (u) {
            k->queue = u->next;
            u->next = k->active;
            k->active = u;
            k->busy++;
        }
        pthread_cond_broadcast(&k->cv);
        pthread_mutex_unlock(&k->mu);
        if (!u)
            break;
        k->r->family->run_unit(k->r, w->ws, &u->u, &k->sink);
        pthread_mutex_lock(&k->mu);
        for (remote_unit **p = &k->active; *p; p = &(*p)->next)
            if (*p == u) {
                *p = u->next;
                break;
            }
        k->busy--;
        pthread_cond_broadcast(&k->cv);
        pthread_mutex_unlock(&k->mu);
        free_remote(u);
    }
    pthread_mutex_lock(&k->mu);
    k->workers_left--;
    pthread_cond_broadcast(&k->cv);
    pthread_mutex_unlock(&k->mu);
    return NULL;
}

/* The rank's only MPI thread while its workers run: asks for units, receives them, sends the
 * batches and, at the end, says it has finished. */
static void rank_comm(rank_run *k)
{
    mz_dist *d = k->d;
    outbox ob = {0};
    int asked = 0;
    for (;;) {
        outbox_poll(&ob);
        pthread_mutex_lock(&k->mu);
        mz_batch *b = k->out_head;
        if (b) {
            k->out_head = b->next;
            if (!k->out_head)
                k->out_tail = NULL;
            k->out_n--;
            pthread_cond_broadcast(&k->cv);
        }
        int queued = 0;
        for (remote_unit *u = k->queue; u; u = u->next)
            queued++;
        int want =
            !k->done && !asked && !rank_stopping(&k->sink) && queued + k->busy < k->r->threads;
        int failed = __atomic_load_n(&k->failed, __ATOMIC_ACQUIRE) && !k->err_sent;
        mz_error e = k->err;
        int finished = !b && !k->out_head && k->workers_left == 0;
        if (failed)
            k->err_sent = 1;
        pthread_mutex_unlock(&k->mu);
        if (failed) {
            buf m = {0};
            int32_t code = e.code;
            char msg[MZ_ERROR_MSG_MAX + 128];
            snprintf(msg, sizeof msg, "rank %d (%.200s): %.900s", d->rank, d->host, e.msg);
            put(&m, &code, sizeof code);
            put(&m, msg, strlen(msg));
            if (!m.oom)
                outbox_send(&ob, 0, TAG_FAIL, m.p, m.n);
        }
        if (b) {
            buf m = {0};
            pack_batch(&m, b);
            mz_batch_free(b);
            if (m.oom) {
                mz_error oe;
                mz_fail(&oe, MZ_ENOMEM, "out of memory (batch message)");
                rank_fail(&k->sink, &oe);
                free(m.p);
            } else {
                outbox_send(&ob, 0, TAG_BATCH, m.p, m.n);
            }
            continue;
        }
        if (want) {
            outbox_send(&ob, 0, TAG_REQUEST, NULL, 0);
            asked = 1;
        }
        if (finished && !asked)
            break;
        int flag = 0;
        MPI_Status st;
        MPI_Iprobe(0, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st);
        if (!flag) {
            nap();
            continue;
        }
        uint8_t *data = NULL;
        int n = 0;
        if (recv_probed(&st, &data, &n) != 0)
            MPI_Abort(MPI_COMM_WORLD, 1);
        pthread_mutex_lock(&k->mu);
        if (st.MPI_TAG == TAG_UNIT) {
            asked = 0;
            remote_unit *u = unpack_unit(data, (size_t)n);
            if (u) {
                remote_unit **p = &k->queue;
                while (*p)
                    p = &(*p)->next;
                *p = u;
            } else {
                k->done = 1;
                if (!__atomic_load_n(&k->failed, __ATOMIC_ACQUIRE)) {
                    mz_fail(&k->err, MZ_EFORMAT, "malformed unit message of %d bytes", n);
                    __atomic_store_n(&k->failed, 1, __ATOMIC_RELEASE);
                }
            }
        } else if (st.MPI_TAG == TAG_DONE) {
            asked = 0;
            k->done = 1;
        } else if (st.MPI_TAG == TAG_STOP) {
            __atomic_store_n(&k->stop, 1, __ATOMIC_RELEASE);
        }
        pthread_cond_broadcast(&k->cv);
        pthread_mutex_unlock(&k->mu);
        free(data);
    }
    outbox_send(&ob, 0, TAG_FINISHED, NULL, 0);
    outbox_drain(&ob);
}

void mz_dist_work(mz_dist *d, mz_run *r)
{
    rank_run k;
    memset(&k, 0, sizeof k);
    k.d = d;
    k.r = r;
    k.sink.put = rank_put;
    k.sink.stopping = rank_stopping;
    k.sink.fail = rank_fail;
    r->driver = &k;
    r->load_resume = rank_load_resume;
    pthread_mutex_init(&k.mu, NULL);
    pthread_cond_init(&k.cv, NULL);
    int threads = r->threads > 0 ? r->threads : 1;
    rank_worker *ws = calloc((size_t)threads, sizeof *ws);
    pthread_t *tids = calloc((size_t)threads, sizeof *tids);
    int made = 0, started = 0;
    mz_error e = {0};
    if (!ws || !tids) {
        mz_fail(&e, MZ_ENOMEM, "out of memory");
        rank_fail(&k.sink, &e);
    }
    while (ws && tids && made < threads) {
        ws[made].k = &k;
        if (r->family->worker_new(r, &ws[made].ws, &e) != MZ_OK) {
            rank_fail(&k.sink, &e);
            break;
        }
        made++;
    }
    k.workers_left = 0;
    for (; started < made; started++) {
        pthread_mutex_lock(&k.mu);
        k.workers_left++;
        pthread_mutex_unlock(&k.mu);
        if (pthread_create(&tids[started], NULL, rank_worker_main, &ws[started]) != 0) {
            pthread_mutex_lock(&k.mu);
            k.workers_left--;
            pthread_mutex_unlock(&k.mu);
            break;
        }
    }
    if (started == 0 && !k.failed) {
        mz_fail(&e, MZ_ENOMEM, "cannot start a worker thread");
        rank_fail(&k.sink, &e);
    }
    rank_comm(&k);
    for (int t = 0; t < started; t++)
        pthread_join(tids[t], NULL);
    for (int t = 0; t < made; t++)
        r->family->worker_free(ws[t].ws);
    free(ws);
    free(tids);
    while (k.queue) {
        remote_unit *u = k.queue;
        k.queue = u->next;
        free_remote(u);
    }
    pthread_mutex_destroy(&k.mu);
    pthread_cond_destroy(&k.cv);
}

#endif
