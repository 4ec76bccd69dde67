/* mzoo core: status codes, error messages, counter-based randomness, tensor descriptors.
 *
 * Conventions used by every public header:
 *  - Functions that can fail return mz_status and take `mz_error *err` last; on failure they fill
 *    err->msg with a one-line explanation naming the file, key or offset involved. `err` may be NULL.
 *  - Tensors are float32, row-major (C order), PyTorch shapes: [out, in, kh, kw] for convolutions,
 *    [out, in] for linear layers, [N, C, H, W] for images.
 *  - `*_release(x)` frees what x owns but not x itself; `*_free(x)` frees x too. Both accept NULL.
 */
#ifndef MZOO_CORE_H
#define MZOO_CORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MZ_VERSION_STRING "0.1.0"

/* Append-only: never renumber. */
typedef enum mz_status {
    MZ_OK = 0,
    MZ_ENOMEM = 1,        /* allocation failed */
    MZ_EINVAL = 2,        /* invalid argument (programming error or bad option) */
    MZ_EIO = 3,           /* read/write error from the operating system */
    MZ_EFORMAT = 4,       /* malformed input file */
    MZ_ESPEC = 5,         /* invalid zoo spec */
    MZ_ESTORE = 6,        /* zoo store (SQLite) error */
    MZ_EBUSY = 7,         /* zoo file locked by another process */
    MZ_ENOSPC = 8,        /* disk full */
    MZ_EREADONLY = 9,     /* zoo file or directory not writable */
    MZ_EMISMATCH = 10,    /* existing zoo file was made from a different spec */
    MZ_ENOTFOUND = 11,    /* file, dataset, preset, model or key not found */
    MZ_EDIVERGED = 12,    /* a model produced NaN/Inf */
    MZ_EUNSUPPORTED = 13, /* valid request that this build cannot do */
    MZ_EINTERRUPTED = 14, /* stopped by a signal */
    MZ_ELIMIT = 15,       /* a size cap was exceeded */
} mz_status;

const char *mz_strerror(mz_status s);

#define MZ_ERROR_MSG_MAX 1024
typedef struct mz_error {
    mz_status code;
    char msg[MZ_ERROR_MSG_MAX];
} mz_error;

/* Records code and a printf-style message in err (if not NULL); returns code. The message is
 * passed through mz_escape, so text quoted from input files (names, keys, values) can never put
 * control characters or terminal escape sequences on the user's screen. */
mz_status mz_fail(mz_error *err, mz_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Prepends "prefix: " to err->msg (keeps the code). Returns err->code, or MZ_OK if err is NULL. */
mz_status mz_error_prefix(mz_error *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void mz_error_clear(mz_error *err);

/* Internal invariants (SQLite's ALWAYS/assert): a violated one is a bug in mzoo, never bad input,
 * which always gets an mz_status. Prints "mzoo: file:line: invariant failed: cond" to stderr and
 * aborts, in every build type. */
#define MZ_ASSERT(cond) ((cond) ? (void)0 : mz_assert_fail(#cond, __FILE__, __LINE__))
#if defined(__GNUC__)
__attribute__((noreturn))
#endif
void mz_assert_fail(const char *cond, const char *file, int line);

/* Copies src into dst[cap] (always NUL-terminated when cap > 0) with every byte that could
 * control a terminal made visible: \n, \r and \t as those two-character escapes, other C0
 * controls, DEL, C1 controls (U+0080..U+009F) and bytes that are not valid UTF-8 as \xNN.
 * Printable ASCII and valid UTF-8 above U+009F are kept. Output is cut at a whole character or
 * escape. Returns dst. */
char *mz_escape(char *dst, size_t cap, const char *src);

/* ---- Counter-based randomness (Philox4x32-10) ----
 * Every random number in mzoo is a pure function of (seed, purpose, a, b, c, index): there is no
 * generator state to save, so results do not depend on threads, grouping, processes or resume. */
typedef enum mz_rng_purpose {
    MZ_RNG_INIT = 1,      /* a = tensor index in state_dict order */
    MZ_RNG_SHUFFLE = 2,   /* a = epoch */
    MZ_RNG_DROPOUT = 3,   /* a = epoch, b = step, c = dropout layer ordinal */
    MZ_RNG_SEEDS = 4,     /* random seed draws from a master seed */
    MZ_RNG_AUGMENT = 5,   /* data augmentation: a = epoch, b = sample position */
    MZ_RNG_SPARSE = 6,    /* variational dropout noise */
    MZ_RNG_SPLIT = 7,     /* dataset splits by model */
    MZ_RNG_USER = 100,
} mz_rng_purpose;

/* Philox4x32-10 block: 4 random 32-bit words for counter (ctr0..ctr3) under key (k0,k1). */
void mz_philox4x32(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* The stream for (seed, purpose, a, b, c); draw i of it is mz_rng_u32(&s, i). */
typedef struct mz_rng_stream {
    uint32_t key[2];    /* low and high word of the seed */
    uint32_t ctr_hi[3]; /* counter words 1..3: (purpose << 24) ^ c, a, b; word 0 is the block index */
} mz_rng_stream;

mz_rng_stream mz_rng_make(uint64_t seed, uint32_t purpose, uint32_t a, uint32_t b, uint32_t c);
/* Four 32-bit draws for block index `block` (draw indices 4*block .. 4*block+3). */
void mz_rng_block(const mz_rng_stream *s, uint32_t block, uint32_t out[4]);
/* The i-th 32-bit draw of the stream. */
uint32_t mz_rng_u32(const mz_rng_stream *s, uint64_t i);
/* Uniform float in [0,1) with 24 random bits: (u >> 8) * 2^-24. */
static inline float mz_u32_to_unit_float(uint32_t u) { return (float)(u >> 8) * (1.0f / 16777216.0f); }
/* Uniform double in [0,1) with 53 random bits from two words. */
static inline double mz_u64_to_unit_double(uint32_t hi, uint32_t lo)
{
    return (double)((((uint64_t)hi << 32) | lo) >> 11) * (1.0 / 9007199254740992.0);
}
/* Uniform integer in [0, n) without modulo bias (Lemire); consumes draws from index *i upwards. */
uint32_t mz_rng_below(const mz_rng_stream *s, uint64_t *i, uint32_t n);
/* Fills perm[0..n-1] with a uniformly random permutation (Fisher-Yates driven by the stream). */
void mz_rng_permutation(const mz_rng_stream *s, uint32_t *perm, uint32_t n);
/* n standard normal floats, Box-Muller on pairs of 24-bit uniforms, deterministic per index. */
void mz_rng_normal(const mz_rng_stream *s, float *out, size_t n);
/* n uniform floats in [lo, hi): lo + (hi-lo)*u. */
void mz_rng_uniform(const mz_rng_stream *s, float *out, size_t n, float lo, float hi);

/* ---- MT19937 (for reproducing torch.randperm / Python random where the reference relies on it) ---- */
typedef struct mz_mt19937 {
    uint32_t mt[624];
    int mti;
} mz_mt19937;
void mz_mt19937_seed(mz_mt19937 *m, uint32_t seed);                     /* init_genrand */
void mz_mt19937_seed_array(mz_mt19937 *m, const uint32_t *key, int len); /* init_by_array */
uint32_t mz_mt19937_u32(mz_mt19937 *m);
/* torch.randperm(n) on CPU under torch.Generator().manual_seed(seed) (forward Fisher-Yates). */
mz_status mz_torch_randperm(uint32_t *perm, uint32_t n, uint64_t seed);

/* ---- Tensor descriptors: one entry of a model's layout table ---- */
#define MZ_MAX_DIMS 4
#define MZ_TENSOR_NAME_MAX 64
typedef struct mz_tensor_desc {
    char name[MZ_TENSOR_NAME_MAX]; /* PyTorch state_dict key, e.g. "module_list.3.weight" */
    int ndim;
    int64_t shape[MZ_MAX_DIMS];
    int64_t offset; /* in floats, into the flat parameter vector */
    int64_t count;  /* product of shape */
} mz_tensor_desc;

/* Formats a shape as JSON, e.g. "[8,1,5,5]" (buf of at least 96 bytes). Returns buf. */
char *mz_shape_json(const mz_tensor_desc *t, char *buf, size_t cap);

/* ---- small utilities ---- */
/* Monotonic seconds. */
double mz_now(void);
/* FNV-1a 64-bit hash of bytes (for identities, not security). */
uint64_t mz_hash64(const void *data, size_t n);
/* strdup that returns NULL on failure. */
char *mz_strdup(const char *s);
/* The shortest %g form of v that reads back as the same double (0.0003, not
 * 0.00029999999999999997); at most 17 significant digits. Returns buf. */
char *mz_format_double(char *buf, size_t cap, double v);
/* zlib's CRC-32 (the one of zip, gzip and PNG), for any length: start with crc = 0 and pass the
 * result of one call to the next to continue over more bytes. */
uint32_t mz_crc32(uint32_t crc, const void *data, size_t n);
/* Aligned allocation (64 bytes) that must be freed with mz_free_aligned. Returns NULL on failure. */
void *mz_alloc_aligned(size_t bytes);
void mz_free_aligned(void *p);


/* ---- checked arithmetic ----
 * *out = a * b (or a + b). Return 1 if the exact result does not fit (then *out is 0), else 0.
 * For sizes read from files: check every product of dimensions and every offset + length. */
int mz_mul_overflow_i64(int64_t a, int64_t b, int64_t *out);
int mz_add_overflow_i64(int64_t a, int64_t b, int64_t *out);
int mz_mul_overflow_u64(uint64_t a, uint64_t b, uint64_t *out);
int mz_add_overflow_u64(uint64_t a, uint64_t b, uint64_t *out);

/* ---- paths ---- */
/* Size of the path buffers mzoo builds file names in (Linux's PATH_MAX, NUL included). */
#define MZ_PATH_MAX 4096
/* Writes "dir/name" into buf[cap]. A path that does not fit is never truncated: MZ_ELIMIT with a
 * message giving its length and the limit (buf then holds ""). */
mz_status mz_path_join(char *buf, size_t cap, const char *dir, const char *name, mz_error *err);

#ifdef __cplusplus
}
#endif
#endif
