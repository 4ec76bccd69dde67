/* mzoo loader: a zoo file as a weight-space dataset, without loading the zoo.
 *
 * A sample is one (model, epoch): the selected layers' weights (and biases) of that checkpoint,
 * concatenated in layer order, each tensor flattened row-major, as the reference's
 * vectorize_checkpoint. Layers are matched across layout variants BY POSITION (conv1, conv2, ...,
 * fc1, fc2), not by module index, so a hyperparameter zoo that mixes dropout = 0 (CNN-s module
 * indices 0/3/6/9/11) and dropout > 0 (0/4/8/11/14) vectorises to one layout; the layout map
 * records both names.
 *
 * Models are split into train/val/test (no model in two parts) by a Philox permutation of the
 * ids of the models that keep at least one sample after filtering, with the reference's
 * arithmetic: n_train = floor(f0 n), n_val = floor(f1 n), n_test = the rest.
 *
 * Sample order everywhere (streaming, files, in-memory sets): train, then val, then test; within
 * a part by model id, then epoch.
 */
#ifndef MZOO_LOADER_H
#define MZOO_LOADER_H

#include "mzoo/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mz_part {
    MZ_PART_TRAIN = 0,
    MZ_PART_VAL = 1,
    MZ_PART_TEST = 2,
    MZ_N_PARTS = 3
} mz_part;
const char *mz_part_name(mz_part p); /* "train", "val", "test" */

/* ---- the layout map ---- */
#define MZ_VEC_MAX_LAYERS 32

typedef struct mz_vec_layer {
    char name[16];             /* positional name: conv1, conv2, ..., fc1, fc2 */
    char type[8];              /* "conv2d" or "fc", as index_dict.json */
    int module_index;          /* module index in the first source (index_dict "layer"[i][0]) */
    int64_t idx_start;         /* first float of this layer in the sample vector */
    int64_t idx_length;        /* n_weights + n_bias */
    int64_t n_weights, n_bias; /* n_bias = 0 without biases */
    int64_t kernel_no;         /* output channels or units */
    int64_t kernel_size;       /* conv: kh*kw; fc: in_features / channels_in */
    int64_t
        channels_in; /* conv: input channels; fc: the previous layer's kernel_no (or in_features) */
    int ndim;
    int64_t shape[MZ_MAX_DIMS]; /* weight shape */
} mz_vec_layer;

/* Where one layout variant of the zoo keeps the selected tensors. */
typedef struct mz_vec_source {
    char variant[64];
    int64_t n_params; /* floats in this variant's weights blob */
    int module_index[MZ_VEC_MAX_LAYERS];
    char weight_key[MZ_VEC_MAX_LAYERS][MZ_TENSOR_NAME_MAX];
    char bias_key[MZ_VEC_MAX_LAYERS][MZ_TENSOR_NAME_MAX];
    int64_t w_off[MZ_VEC_MAX_LAYERS], b_off[MZ_VEC_MAX_LAYERS];
    /* variational-dropout twins: offsets of each layer's log_sigma2 and log_sigma2_bias, -1 when
     * the variant has none */
    int64_t s_off[MZ_VEC_MAX_LAYERS], sb_off[MZ_VEC_MAX_LAYERS];
} mz_vec_source;

typedef struct mz_vec_layout {
    int n_layers;
    mz_vec_layer layers[MZ_VEC_MAX_LAYERS];
    int with_bias;
    int64_t dim;            /* floats per sample */
    int prune;              /* twins' checkpoints: zero the pruned weights (log alpha >= 3) and
                               conv biases as the pruned network does (mz_vec_extract) */
    int n_sources;          /* 0 when read back from a dataset directory */
    mz_vec_source *sources; /* owned */
} mz_vec_layout;

/* Builds the map from the tensors of each variant (tensors[v][0..n_tensors[v]-1], state_dict
 * order). Each 4-D or 2-D tensor named "<prefix>.weight" starts a layer; a following
 * "<prefix>.bias" is its bias. Every variant must give the same sequence of layer kinds and shapes
 * (else MZ_EMISMATCH naming the variants and the layer). `layers`: NULL or "all", or a
 * comma-separated list of positional names ("conv1,fc2"), kept in network order. */
mz_status mz_vec_layout_build(mz_vec_layout *L, int n_variants, const char *const *variants,
                              const mz_tensor_desc *const *tensors, const int *n_tensors,
                              const char *layers, int with_bias, mz_error *err);
void mz_vec_layout_release(mz_vec_layout *L);
/* Copies the selected tensors of a checkpoint of source `source` (params[n_params]) into out[dim];
 * with L->prune, the weights a variational-dropout twin prunes (and its pruned conv biases) are
 * written as 0. */
void mz_vec_extract(const mz_vec_layout *L, int source, const float *params, float *out);
/* index_dict.json (the reference's fields plus "name", "module_index" per variant, "keys"). */
mz_status mz_vec_layout_write_json(const mz_vec_layout *L, const char *path, mz_error *err);
mz_status mz_vec_layout_read_json(mz_vec_layout *L, const char *path, mz_error *err);

/* ---- properties ---- */
typedef enum mz_prop_kind { MZ_PROP_NUMERIC = 0, MZ_PROP_CATEGORICAL = 1 } mz_prop_kind;
typedef struct mz_prop_column {
    char name[64];
    mz_prop_kind kind;
    double *v;    /* [n samples]; numeric value, or level index for categorical; NaN = missing */
    int n_levels; /* categorical: levels sorted by strcmp */
    char **levels;
} mz_prop_column;
void mz_prop_columns_free(mz_prop_column *cols, int n);

typedef struct mz_sample_info {
    int64_t model_id;
    int epoch;
    mz_part part;
    int source; /* index into the layout's sources, -1 when read from a dataset directory */
} mz_sample_info;

/* ---- selection ---- */
typedef struct mz_loader_options {
    const char *epochs; /* NULL/"all", "last" (each model's last committed epoch), or a list
                           of epochs and ranges "0,5,10-20" */
    const char *layers; /* NULL/"all" or "conv1,conv2,fc2" */
    int with_bias;      /* default 1 */
    int drop_nonfinite; /* default 1: drop samples with NaN/Inf in a selected tensor */
    double max_abs;     /* drop samples with any selected |w| > max_abs; default INFINITY (off) */
    const char
        *where; /* SQL expression over the columns of the models and epochs tables, or NULL */
    double fractions[3]; /* default 0.7, 0.15, 0.15; must sum to 1 (within 1e-9) */
    uint64_t seed;       /* split seed, default 42 (Philox(seed, MZ_RNG_SPLIT)) */
    int dense;           /* twin zoos: the dense parameters instead of the pruned network's
                            weights (default 0) */
    int64_t max_models;  /* keep the first N models of the permutation (0: all), as max_samples */
} mz_loader_options;
void mz_loader_options_default(mz_loader_options *o);

/* Counts of what the selection did (filters remove exactly what they say). */
typedef struct mz_loader_counts {
    int64_t models_in_zoo;
    int64_t candidates;        /* (model, epoch) rows with the selected epochs */
    int64_t dropped_where;     /* removed by the SQL expression */
    int64_t dropped_nonfinite; /* removed for NaN/Inf (checked first) */
    int64_t dropped_max_abs;   /* removed for |w| > max_abs */
    int64_t dropped_max_models;
    int64_t samples; /* kept */
    int64_t models[MZ_N_PARTS];
    int64_t part_samples[MZ_N_PARTS];
} mz_loader_counts;

/* The split by model on its own: part[i] in {0, 1, 2} (train, val, test) for model i of n (the
 * models in id order), or -1 when left out by max_models (> 0). Philox(seed, MZ_RNG_SPLIT)
 * permutation; the first floor(f0 m) permuted models train, the next floor(f1 m) val, the rest
 * test, m = min(n, max_models). */
mz_status mz_split_by_model(int64_t n, const double fractions[3], uint64_t seed, int64_t max_models,
                            int8_t *part, mz_error *err);

typedef struct mz_loader mz_loader;

/* Opens a zoo file read-only and makes the selection: reads the metadata of every candidate
 * sample, applies the filters (the weight filters stream each candidate's weights once, holding one
 * checkpoint in memory), splits the surviving models. Memory is O(samples), not O(zoo). */
mz_status mz_loader_open(mz_loader **out, const char *zoo_path, const mz_loader_options *opt,
                         mz_error *err);
void mz_loader_close(mz_loader *L);

const mz_vec_layout *mz_loader_layout(const mz_loader *L);
const mz_loader_counts *mz_loader_get_counts(const mz_loader *L);
int64_t mz_loader_n_samples(const mz_loader *L);
const mz_sample_info *mz_loader_samples(const mz_loader *L); /* [n_samples], in sample order */
/* Property columns aligned with the samples: test_acc, val_acc, train_acc, ggap, test_loss,
 * val_loss, train_loss, epoch, then the zoo's hyperparameters (activation, init, optimizer:
 * categorical; lr, weight_decay, dropout, momentum, ...: numeric; seed). */
const mz_prop_column *mz_loader_props(const mz_loader *L, int *n_cols);

/* Streaming: the next sample's vector (valid until the next call) and info; *x = NULL at the end.
 */
mz_status mz_loader_next(mz_loader *L, const float **x, const mz_sample_info **info, mz_error *err);
void mz_loader_rewind(mz_loader *L);
/* Random access: sample i into x[dim]. */
mz_status mz_loader_read(mz_loader *L, int64_t i, float *x, mz_error *err);

/* ---- in-memory weight datasets (for the benchmark) ---- */
typedef struct mz_wset {
    int64_t n, dim;
    float *x;                /* [n][dim] */
    mz_sample_info *samples; /* [n] */
    mz_vec_layout layout;
    int n_props;
    mz_prop_column *props;
} mz_wset;
void mz_wset_release(mz_wset *w);
/* Every selected sample in memory (n * dim floats; MZ_ELIMIT above max_bytes if max_bytes > 0). */
mz_status mz_loader_load_all(mz_loader *L, mz_wset *out, int64_t max_bytes, mz_error *err);

/* ---- dataset files ---- */
enum {
    MZ_FMT_NPZ = 1, /* dataset.npz: x_train, x_val, x_test (float32) + model_id_*, epoch_* */
    MZ_FMT_NPY = 2, /* x_train.npy, ... one .npy per array */
    MZ_FMT_SAFETENSORS = 4, /* dataset.safetensors with the same tensor names */
};
/* Writes the dataset directory `dir`: the arrays in the chosen formats, properties.csv,
 * properties.json, index_dict.json and dataset.json (the manifest). Streams the samples; memory
 * O(dim). `zoo_name` is recorded in the manifest. The files are written into a new directory
 * beside `dir` ("<dir>.partial-*") that is renamed to `dir` once complete, so `dir` holds one
 * whole export: it may be missing, empty, or an earlier export (which is replaced, every file of
 * it); a directory holding any other file is refused (MZ_EINVAL) and left as it is. */
mz_status mz_dataset_write(mz_loader *L, const char *dir, unsigned formats, const char *zoo_name,
                           mz_error *err);
/* Reads a dataset directory written by mz_dataset_write back into memory. */
mz_status mz_dataset_read(mz_wset *out, const char *dir, mz_error *err);

#ifdef __cplusplus
}
#endif
#endif
