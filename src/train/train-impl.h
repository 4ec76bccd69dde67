/* Private to src/train (and its tests): the one training driver and the model families behind it.
 *
 * The driver (driver.c) owns everything a run shares: the zoo file, the plan of units of work, the
 * worker threads, interruption, and the single writer thread that alone commits to the store and
 * reports progress. A family (CNN populations, ResNet-18, twins) is a small table of functions:
 * describe its zoo, group unfinished models into units, and train a unit on a worker, handing
 * every finished epoch to a sink. The sink is the writer's queue in a local run; a forwarder to
 * another process's writer is a second implementation of the same interface.
 *
 *   driver:  open store -> family.prepare (zoo description) -> attach -> progress -> family.plan
 *            -> workers: family.run_unit(unit) -> sink.put(batch) -> writer: commit, report
 */
#ifndef MZ_TRAIN_IMPL_H
#define MZ_TRAIN_IMPL_H

#include "mzoo/data.h"
#include "mzoo/pop.h"
#include "mzoo/spec.h"
#include "mzoo/store.h"
#include "mzoo/train.h"

/* A unit of work: up to MZ_LANES models that one worker trains together from start_epoch. */
typedef struct mz_unit {
    int key;         /* the family's grouping key (e.g. layout variant and activation) */
    int start_epoch; /* first epoch to produce (0 = the initial evaluation) */
    int n;
    int64_t model[MZ_LANES];
} mz_unit;

/* What a worker hands the writer: the records of one epoch of one unit (or status changes),
 * committed in one transaction. */
typedef struct mz_batch {
    int n;
    mz_epoch_record rec[MZ_LANES];
    char msg[MZ_LANES][160];
    char extra[MZ_LANES][256]; /* the records' metrics JSON, where a family has any */
    float *buf;                /* owned: the records' weights and optimizer states */
    int64_t samples;           /* training samples this batch accounts for (progress) */
    struct mz_batch *next;
} mz_batch;
/* A batch for n records with room for `floats` floats in buf; NULL when out of memory. */
mz_batch *mz_batch_new(int n, int64_t floats);
void mz_batch_free(mz_batch *b);
/* Adds a status-only record (a model that diverged or failed inside an epoch) to b. */
void mz_batch_status(mz_batch *b, int64_t model_id, int epoch, mz_model_status status,
                     const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

typedef struct mz_sink mz_sink;
struct mz_sink {
    /* Takes b (owned from then on); blocks while the writer is behind. */
    void (*put)(mz_sink *s, mz_batch *b);
    /* 1 once the run is stopping (interrupted or failed): a worker abandons its unfinished
     * epoch (nothing of it is committed) and returns. */
    int (*stopping)(mz_sink *s);
    /* Stops the run with an error (e.g. out of memory); the first error wins. */
    void (*fail)(mz_sink *s, const mz_error *e);
};

typedef struct mz_run mz_run;
typedef struct mz_family mz_family;

/* What the driver shares with a family. */
struct mz_run {
    const mz_spec *spec;
    const mz_dataset *ds;
    const mz_train_opts *opts;
    const mz_family *family;
    void *fs;       /* the family's state, made by prepare */
    int last_epoch; /* epochs of the recipe: a model is done after this one */
    int threads;
    int plan_threads; /* workers over all processes (threads x ranks), for sizing units */
    /* Filled by family.prepare: what the zoo file records. */
    mz_zoo_desc desc;
    mz_grid_desc grid; /* behind desc for grid families (mz_train_grid_desc) */
    /* Resume state of a model that stopped mid-training (its last committed epoch), for
     * run_unit; safe to call from any worker. */
    mz_status (*load_resume)(mz_run *r, int64_t model_id, int *epoch, float *weights,
                             int64_t n_weights, float *opt_state, int64_t n_opt, int64_t *opt_step,
                             mz_error *err);
    void *driver; /* the driver's own state */
};

struct mz_family {
    const char *name;
    /* Checks the spec and options before anything is loaded (may be NULL). */
    mz_status (*check)(const mz_spec *spec, const mz_train_opts *opts, mz_error *err);
    /* Builds the family's state and fills r->desc. */
    mz_status (*prepare)(mz_run *r, mz_error *err);
    /* Groups the models with start[i] >= 0 (the first epoch still to produce) into units. */
    mz_status (*plan)(mz_run *r, const int *start, mz_unit **units, int *n_units, mz_error *err);
    /* Per worker thread: its scratch memory. */
    mz_status (*worker_new)(mz_run *r, void **w, mz_error *err);
    /* Trains unit u from its start epoch to the last, handing one batch per epoch to sink;
     * stops early when sink->stopping(). */
    void (*run_unit)(mz_run *r, void *w, const mz_unit *u, mz_sink *sink);
    void (*worker_free)(void *w);
    void (*release)(mz_run *r);
    /* The floats of a model's checkpoint and of its optimizer state (what load_resume reads). */
    void (*resume_sizes)(mz_run *r, int64_t model_id, int64_t *n_weights, int64_t *n_opt);
};

extern const mz_family mz_family_pop; /* CNN-s / CNN-l populations (family_pop.c) */

/* The population family's state (family_pop.c), shared with the twins family (src/sparse/),
 * which trains variational-dropout twins in the same populations: ARD architectures, epoch-0
 * parameters taken from the source checkpoints, a KL weight per epoch and the sparsity of every
 * record. r->spec holds one model spec per model of the zoo (a twin's: its source model's
 * hyperparameters and seed). */
#define MZ_POP_MAX_VARIANTS 8
typedef struct mz_pop_family {
    const mz_pop_backend *backend;
    mz_arch arch[MZ_POP_MAX_VARIANTS];
    mz_layout layouts[MZ_POP_MAX_VARIANTS];
    int n_variants;
    int *variant_of; /* [n_models] */
    /* twins: 1 variational dropout (ARD architectures), 2 magnitude-pruned */
    int twins;
    float **initial; /* [n_models] epoch-0 parameters (owned by the twins family) */
    float (*kl_weight)(int epoch, int last_epoch); /* weight of the KL term during epoch */
} mz_pop_family;
mz_status mz_pop_family_plan(mz_run *r, const int *start, mz_unit **units, int *n_units,
                             mz_error *err);
mz_status mz_pop_family_worker_new(mz_run *r, void **w, mz_error *err);
void mz_pop_family_run_unit(mz_run *r, void *w, const mz_unit *u, mz_sink *sink);
void mz_pop_family_worker_free(void *w);
void mz_pop_family_resume_sizes(mz_run *r, int64_t model_id, int64_t *n_weights, int64_t *n_opt);
extern const mz_family mz_family_resnet; /* ResNet-18, one model per worker (family_resnet.c) */

/* Runs family f over r (r->spec, r->ds, r->opts set) into the zoo file at zoo_path. */
mz_status mz_drive(mz_run *r, const mz_family *f, const char *zoo_path, mz_error *err);

/* For grid families: r->desc from the spec, with variant_of[i] the layout variant of model i
 * (pointers into layouts, which the family keeps alive until release). */
mz_status mz_train_grid_desc(mz_run *r, const char *const *variant_of, const mz_layout *layouts,
                             int n_layouts, mz_error *err);
void mz_train_grid_desc_release(mz_run *r);

/* Eval-free helpers the families share. */
int mz_all_finite(const float *x, int64_t n);
int mz_online_cpus(void);

/* Augmentation applied to ResNet training images: 0 none, 1 RandomCrop(pad 4) + flip
 * (CIFAR-10/100), 2 flip + RandomRotation(20) (Tiny-ImageNet). */
int mz_train_resnet_augmentation(const char *dataset);

#endif
