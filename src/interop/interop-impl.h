/* Private to src/interop: what the importers and exporters share.
 *
 *   common.c    canonical JSON, the NaN/Infinity tokens of Python's json, digests, CSV records,
 *               the layouts of the architectures a source may hold, small string helpers
 *   import.c    the import driver: models and their epochs as the first pass found them, the
 *               zoo's description, resuming, committing whole models, the report
 *   modelzoos.c the Model Zoos' Ray Tune folders (directory or archive)
 *   ctc.c       Google's Small CNN Zoo
 *   export.c    selections, pt and safetensors, the index files
 *   export_zoos.c  the modelzoos and ctc layouts
 */
#ifndef MZ_INTEROP_IMPL_H
#define MZ_INTEROP_IMPL_H

#include <stdint.h>

#include <jansson.h>

#include "mzoo/formats.h"
#include "mzoo/interop.h"
#include "mzoo/nn.h"
#include "mzoo/resnet.h"
#include "mzoo/store.h"

/* ---- strings ---- */
/* A growable string; on allocation failure `oom` is set and further appends do nothing. */
typedef struct sbuf {
    char *s;
    size_t n, cap;
    int oom;
} sbuf;
void sb_add(sbuf *b, const char *s, size_t n);
void sb_puts(sbuf *b, const char *s);
void sb_printf(sbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* The shortest decimal that reads back as v; ".0" appended when it looks like an integer (so
 * JSON keeps the type); non-finite as Python writes them: NaN, Infinity, -Infinity. */
void sb_double(sbuf *b, double v);
/* s as a JSON string literal. */
void sb_json_string(sbuf *b, const char *s);

/* ---- JSON ---- */
/* Python's json writes NaN, Infinity and -Infinity as bare tokens. Returns a copy of text[n]
 * (NUL-terminated, malloc'd) in which they are replaced by marker strings that jansson parses;
 * mz_json_number turns markers back into numbers. NULL on allocation failure. */
char *mz_json_nan_rewrite(const char *text, size_t n);
/* Parses text[n] (NaN tokens allowed); NULL with a message naming origin and line/column. */
json_t *mz_json_parse(const char *text, size_t n, const char *origin, mz_error *err);
/* 1 and *out for a JSON number (or a NaN/Infinity marker), else 0. */
int mz_json_number(const json_t *v, double *out);
/* 1 if v is a NaN/Infinity marker string. */
int mz_json_is_nonfinite(const json_t *v);
/* Canonical text of v: keys sorted bytewise, no whitespace (indent 0) or Python's
 * json.dump(indent=N, sort_keys=True) layout (indent N), reals in their shortest form, markers
 * as bare NaN/Infinity. Appended to b. */
void mz_json_write(sbuf *b, const json_t *v, int indent);
/* mz_json_write into a malloc'd string (NULL on allocation failure). */
char *mz_json_canonical(const json_t *v);

/* ---- string maps ---- */
/* Keys (copied) to values, by hashing: trial folders, modeldirs, archive members. */
typedef struct mz_strmap {
    char **keys;
    int64_t *vals;
    size_t cap, n;
} mz_strmap;
/* Sets key to val (replacing); -1 when out of memory. */
int mz_strmap_put(mz_strmap *m, const char *key, int64_t val);
/* The value of key, or -1. */
int64_t mz_strmap_get(const mz_strmap *m, const char *key);
void mz_strmap_release(mz_strmap *m);

/* ---- digests ---- */
/* FNV-1a 64 and CRC-32 side by side over a stream: identifies what an import read. */
typedef struct mz_digest {
    uint64_t fnv;
    uint32_t crc;
    uint64_t bytes;
} mz_digest;
void mz_digest_init(mz_digest *d);
void mz_digest_add(mz_digest *d, const void *data, size_t n);
/* A length-prefixed string, so that concatenations cannot collide. */
void mz_digest_str(mz_digest *d, const char *s);
void mz_digest_u64(mz_digest *d, uint64_t v);
/* "fnv1a64:0123456789abcdef-crc32:01234567" into buf (at least 48 bytes). */
void mz_digest_hex(const mz_digest *d, char *buf, size_t cap);

/* ---- CSV ---- */
/* RFC 4180 records from a (possibly gzip'd) file: fields separated by commas, quoted fields with
 * "" for a quote and any bytes inside, records ended by \n or \r\n. */
typedef struct mz_csv mz_csv;
mz_status mz_csv_open(mz_csv **out, const char *path, mz_error *err);
/* The next record: *nf fields, fields[i] NUL-terminated, valid until the next call. *nf = 0 at
 * the end. Errors name the file and line. */
mz_status mz_csv_next(mz_csv *c, char ***fields, int *nf, mz_error *err);
int64_t mz_csv_line(const mz_csv *c); /* line where the last record started */
/* Every decompressed byte read so far goes into d (may be NULL). */
void mz_csv_digest(mz_csv *c, mz_digest *d);
void mz_csv_close(mz_csv *c);

/* ---- layouts ---- */
typedef struct mz_ilayout {
    char variant[64];
    char arch[16];
    int n;
    mz_tensor_desc t[MZ_RESNET_TENSORS];
    int64_t n_params;
    /* a variational-dropout twin of CNN-s or CNN-l (variant "<plain>/ard"): its architecture,
     * and the spans of parameters its network never reads (the linear layers' log_sigma2_bias,
     * which the reference leaves uninitialised), left out of the NaN/Inf check */
    int ard;
    mz_arch ard_arch;
    int n_unused;
    mz_span unused[MZ_MAX_LAYERS];
} mz_ilayout;
/* The layout of an architecture mzoo knows: "cnn-s" (channels 1 or 3; dropout_layers when its
 * dropout > 0), "cnn-l", "resnet18" (classes), "smallcnn" (channels, layers, units, classes). */
mz_status mz_ilayout_make(mz_ilayout *L, const char *arch, int channels, int dropout_layers,
                          int classes, int layers, int units, mz_error *err);
/* The variational-dropout twin ("ARD") of a "cnn-s" or "cnn-l" layout, as mz_arch_init_ard
 * builds it: per conv/linear layer weight, bias, log_sigma2 and log_sigma2_bias. */
mz_status mz_ilayout_make_ard(mz_ilayout *L, const char *arch, int channels, int dropout_layers,
                              mz_error *err);
/* 1 if a layout read from a zoo is a twin's: variant "<plain>/ard" with log_sigma2 tensors. */
int mz_ilayout_is_ard(const mz_ilayout *L);
/* The architecture of a layout variant ("cnn-s/c1/dropout" -> "cnn-s"). */
void mz_variant_arch(const char *variant, char *arch, size_t cap);

/* ---- the import driver (import.c) ---- */

enum { M_TRAIN_LOSS, M_TRAIN_ACC, M_VAL_LOSS, M_VAL_ACC, M_TEST_LOSS, M_TEST_ACC, M_SPARSITY, M_N };

typedef struct imp_epoch {
    int epoch;
    unsigned has_metrics : 1, has_ckpt : 1, committed : 1, nonfinite_w : 1;
    double m[M_N]; /* NaN = NULL */
    char *extra;   /* further metrics, canonical JSON object, or NULL */
    int64_t src;   /* the format's locator of its checkpoint (member, file or row) */
    float *w;      /* loaded weights until committed */
} imp_epoch;

typedef struct imp_model {
    char *name; /* sort key: trial folder name, modeldir */
    int layout;
    char *activation, *init, *optimizer, *hparams;
    double lr, weight_decay, dropout, momentum;
    int nesterov, has_seed;
    int64_t seed;
    int64_t source_id; /* twins: source model and epoch (an mzoo export states them); -1 = NULL */
    int source_epoch;
    int n_ep, cap_ep;
    imp_epoch *ep;        /* sorted by epoch after the first pass */
    int failed;           /* the source says the training failed (message says why) */
    int status_override;  /* -1, or the status the source states (an mzoo export) */
    char *message;        /* the source's own message, or NULL */
    int nonfinite_metric; /* first epoch with a non-finite loss or accuracy, or -1 */
    char nonfinite_what[24];
    int nonfinite_ckpt; /* first epoch whose weights are not finite, or -1 */
    int pending;        /* checkpoints not loaded or committed yet */
    int final;          /* its final record is committed */
    int64_t bytes;      /* weights held */
} imp_model;

typedef struct importer {
    const char *source, *zoo_path;
    const mz_import_options *opt;
    mz_import_report *rep;
    mz_error *err;
    mz_interop_format format;
    int n_layouts;
    mz_ilayout *layouts;
    int64_t n_models, cap_models;
    imp_model *models;
    mz_digest digest;
    char dataset[64];
    int n_meta;
    char meta[6][2][256];
    mz_store *st;
    mz_epoch_record *batch;
    imp_epoch **batch_ep; /* the epoch each queued record comes from (NULL: status only) */
    int n_batch, cap_batch, batch_models;
    int64_t batch_bytes, held_bytes, memory_limit;
    int64_t models_final;
    const char *unit; /* progress: what prog_done and prog_total count */
    int64_t prog_done, prog_total;
    double t0;
} importer;

imp_model *imp_add_model(importer *im, const char *name, mz_error *err);
imp_epoch *imp_epoch_at(importer *im, imp_model *m, int epoch, mz_error *err);
/* Index of the layout with this variant, adding it (made by the caller) when new; -1 on error. */
int imp_layout_add(importer *im, const mz_ilayout *L, mz_error *err);
void imp_meta(importer *im, const char *key, const char *value);
/* After the first pass: sorts the models by name and their epochs, counts, attaches the zoo
 * file (recipe {"digest", "format", "importer", "models"}) and finds what a previous run
 * committed. Sets *all_done when nothing is left to do. */
mz_status imp_attach(importer *im, int *all_done);
/* Pass two: weights of model m, epoch row e (n_params floats, ownership taken: freed after the
 * commit). Commits the model when it is complete. */
mz_status imp_put_weights(importer *im, int64_t m, int e, float *w);
/* Whether epoch row e of model m still needs its weights. */
int imp_wants(const importer *im, int64_t m, int e);
/* Commits what is left (models without checkpoints, the last batch), folds the WAL. */
mz_status imp_finish(importer *im);
void imp_release(importer *im);
/* Reports progress (im->unit, prog_done, prog_total); MZ_EINTERRUPTED when the callback asks to
 * stop. */
mz_status imp_progress(importer *im, const char *phase);

/* The formats (pass one fills im; pass two feeds imp_put_weights). */
mz_status mz_modelzoos_import(importer *im);
mz_status mz_ctc_import(importer *im);
/* 1 if dir looks like a Small CNN Zoo (weights.npy and layout.csv) */
int mz_ctc_detect(const char *dir);

/* ---- export (export.c, export_zoos.c) ---- */

/* One model of an export, with its rows of the epochs table. */
typedef struct exp_epoch {
    int epoch;
    double m[M_N]; /* NaN = NULL */
    char *extra;   /* metrics JSON or NULL */
    int has_weights;
} exp_epoch;

typedef struct exp_model {
    int64_t id;
    char variant[64];
    char *activation, *init, *optimizer, *hparams, *message;
    double lr, weight_decay, dropout, momentum; /* NaN = NULL */
    int nesterov;                               /* -1 = NULL */
    int has_seed;
    int64_t seed;
    int status;
    int64_t source_id; /* twins: the source model and epoch; -1 = NULL */
    int source_epoch;
    int n_ep;
    exp_epoch *ep;
} exp_model;

typedef struct exporter {
    mz_store *st;
    const char *zoo_path, *dir;
    const mz_export_options *opt;
    mz_export_report *rep;
    mz_error *err;
    int n_layouts;
    mz_ilayout *layouts; /* the zoo's, from its layout rows (arch from the variant name) */
    char architecture[64], dataset[64];
    int epochs_meta, batch_size;
    int64_t n_models;
    double t0;
} exporter;

int exp_layout_of(const exporter *ex, const char *variant);
/* Weights of (model, epoch) into a malloc'd buffer of the layout's size. */
mz_status exp_weights(exporter *ex, const exp_model *m, int epoch, float **w);
/* A checkpoint as torch.save writes it (int64 where torch has int64: num_batches_tracked). */
mz_status exp_write_pt(exporter *ex, const mz_ilayout *L, const float *w, const char *path);
/* Models in id order; fn is called for each model with its selected epochs. */
typedef mz_status (*exp_model_fn)(exporter *ex, const exp_model *m, void *ctx);
mz_status exp_each_model(exporter *ex, exp_model_fn fn, void *ctx);
/* The model's hyperparameters as a JSON object: its hparams with the columns added under their
 * mzoo names (activation, init, ...); NULL columns are left out. */
json_t *exp_model_json(const exp_model *m);
mz_status exp_progress(exporter *ex, int64_t done);
mz_status exp_mkdir(const char *path, mz_error *err);

mz_status mz_export_modelzoos(exporter *ex);
mz_status mz_export_ctc(exporter *ex);

/* Names of the metric columns, indexed by M_*. */
extern const char *const mz_metric_columns[M_N];

#endif
