/* mzoo formats: the files mzoo exchanges arrays in, readable without mzoo (numpy, safetensors,
 * PyTorch): .npy, .npz (a zip of .npy members, zip64 when large), safetensors, and the zip
 * container itself (also the container of PyTorch's .pt checkpoints). Uses only core.
 *
 * Byte order: little-endian data only (the only byte order mzoo builds for).
 *
 * Input is untrusted. Every size read from a file is checked before anything is allocated or
 * read: dimensions are non-negative and at most MZ_ARRAY_DIM_MAX, products of dimensions and byte
 * counts are overflow-checked, an array's bytes must lie inside its file (or zip member), zip
 * entries are CRC-32 verified, and every reader that allocates takes a cap (MZ_ELIMIT above it).
 * Messages name the file (and member or tensor), the field or byte offset, and what was expected.
 *
 * Ownership: handles (mz_asink, mz_areader, mz_zip) are made by *_open and freed by *_close
 * (mz_asink also by mz_asink_abort); pointers they return stay valid until then. Buffers returned
 * through `void **data` are malloc'd and belong to the caller (free()). *_close(NULL) is a no-op.
 * A handle is used by one thread at a time.
 */
#ifndef MZOO_FORMATS_H
#define MZOO_FORMATS_H

#include <stddef.h>
#include <stdint.h>

#include "mzoo/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- element types ---- */
/* Append-only. */
typedef enum mz_dtype {
    MZ_DT_F32 = 0,
    MZ_DT_I64 = 1,
    MZ_DT_F64 = 2,
    MZ_DT_F16 = 3,
    MZ_DT_BF16 = 4,
    MZ_DT_I32 = 5,
    MZ_DT_I16 = 6,
    MZ_DT_I8 = 7,
    MZ_DT_U8 = 8,
    MZ_DT_BOOL = 9,
    MZ_DT_COUNT
} mz_dtype;

typedef struct mz_dtype_info {
    const char *name;        /* numpy's name: "float32", "int64", "bfloat16", "bool" */
    const char *npy;         /* .npy descr ("<f4", "|u1"); NULL when numpy has none (bfloat16) */
    const char *safetensors; /* "F32", "I64", "BF16", "BOOL" */
    size_t size;             /* bytes per element */
} mz_dtype_info;

/* Static description of t; NULL for a value outside the enum. */
const mz_dtype_info *mz_dtype_get(mz_dtype t);
/* Bytes per element; 0 for a value outside the enum. */
size_t mz_dtype_size(mz_dtype t);
/* numpy's name of t, or "?". */
const char *mz_dtype_name(mz_dtype t);
/* The dtype of a .npy descr (len bytes, without quotes) or of a safetensors dtype string.
 * Return 1 and set *out when known, else 0. */
int mz_dtype_from_npy(const char *descr, size_t len, mz_dtype *out);
int mz_dtype_from_safetensors(const char *s, mz_dtype *out);

/* ---- array descriptors ---- */
#define MZ_ARRAY_MAX_DIMS 8
#define MZ_ARRAY_NAME_MAX 64                /* bytes of a name, NUL included */
#define MZ_ARRAY_DIM_MAX ((int64_t)1 << 48) /* the largest dimension a reader accepts */

typedef struct mz_array_desc {
    char name[MZ_ARRAY_NAME_MAX]; /* "x_train"; .npy files and npz members add ".npy" */
    mz_dtype dtype;
    int ndim;                         /* 0 .. MZ_ARRAY_MAX_DIMS */
    int64_t shape[MZ_ARRAY_MAX_DIMS]; /* C order (row-major) */
} mz_array_desc;

/* Elements (1 for 0-d) and bytes of an array; -1 when the descriptor is invalid: unknown dtype,
 * ndim out of range, a dimension negative or above MZ_ARRAY_DIM_MAX, or a count or byte total
 * beyond int64. */
int64_t mz_array_count(const mz_array_desc *a);
int64_t mz_array_bytes(const mz_array_desc *a);
/* The shape as numpy prints it, "(3, 5)", "(3,)", "()"; cut at cap. Returns buf. */
char *mz_array_shape_str(const mz_array_desc *a, char *buf, size_t cap);

/* ---- .npy ---- */
/* Longest .npy header the parser accepts (numpy itself writes a few hundred bytes). */
#define MZ_NPY_HEADER_MAX 65536
/* Writes the .npy v1.0 header of a C-order array (numpy's dict syntax, padded with spaces and
 * '\n' so the data starts at a multiple of 64) into buf[cap]. Returns its length, or 0 if cap is
 * too small, the descriptor is invalid or numpy has no descr for the dtype. */
size_t mz_npy_header(char *buf, size_t cap, const mz_array_desc *a);
/* Parses a .npy header (versions 1.0, 2.0, 3.0) from the first n bytes of a file or member
 * (n >= 10). Fills dtype, ndim and shape of *a (its name is left alone) and *data_offset, the
 * header's length. Checks the shape against MZ_ARRAY_DIM_MAX and overflow, but not against the
 * bytes that follow: the caller knows the file's size. `origin` names the file in messages. */
mz_status mz_npy_parse(const unsigned char *buf, size_t n, mz_array_desc *a, size_t *data_offset,
                       const char *origin, mz_error *err);
/* Reads a whole .npy file (at most max_bytes of data, else MZ_ELIMIT) into *data (malloc'd) and
 * fills *desc (its name is the file's base name without ".npy", when it fits). */
mz_status mz_npy_load(const char *path, uint64_t max_bytes, mz_array_desc *desc, void **data,
                      mz_error *err);

/* ---- array containers: writing ---- */
typedef enum mz_afmt {
    MZ_AFMT_NPZ = 1,         /* one zip file of stored "<name>.npy" members */
    MZ_AFMT_NPY = 2,         /* a directory of "<name>.npy" files */
    MZ_AFMT_SAFETENSORS = 4, /* one safetensors file */
} mz_afmt;

/* A sink receives the arrays declared at open, in that order: for each, begin(i), then write()
 * any number of times with exactly the declared bytes in total, then end(). Files are
 * reproducible: equal input gives byte-identical files (fixed zip timestamps, no padding
 * randomness). npz members are stored (not compressed), zip64 when a member or offset needs it. */
typedef struct mz_asink mz_asink;
/* `path`: the file to create (NPZ, SAFETENSORS) or the existing directory to write into (NPY).
 * `arrays[n]` are copied. Names must be non-empty, fit MZ_ARRAY_NAME_MAX, and (NPY) contain no
 * '/'. meta_kv holds n_meta (key, value) string pairs, the safetensors "__metadata__" (ignored by
 * the other formats; may be NULL when n_meta is 0). */
mz_status mz_asink_open(mz_asink **out, mz_afmt fmt, const char *path, const mz_array_desc *arrays,
                        int n, const char *const *meta_kv, int n_meta, mz_error *err);
mz_status mz_asink_begin(mz_asink *s, int i, mz_error *err);
mz_status mz_asink_write(mz_asink *s, const void *data, size_t bytes, mz_error *err);
mz_status mz_asink_end(mz_asink *s, mz_error *err);
/* Finishes the file(s) and frees s, also on error (then what it wrote is removed). */
mz_status mz_asink_close(mz_asink *s, mz_error *err);
/* Frees s and removes what it wrote. */
void mz_asink_abort(mz_asink *s);

/* ---- array containers: reading ---- */
/* Reads arrays by name from a .npy directory, an .npz or a safetensors file. */
typedef struct mz_areader mz_areader;
/* `path`: the directory (NPY; its "<name>.npy" files are opened when asked for), the .npz file
 * (its zip directory is read and checked) or the safetensors file (its header is read and
 * checked; at most 100 MiB, the format's own limit). */
mz_status mz_areader_open(mz_areader **out, mz_afmt fmt, const char *path, mz_error *err);
void mz_areader_close(mz_areader *r);
/* The arrays present: .npy files of the directory (sorted), .npy members of the npz (zip order),
 * tensors of the safetensors header (header order). Names live until close. */
int mz_areader_count(const mz_areader *r);
const char *mz_areader_name(const mz_areader *r, int i);
/* "__metadata__" string value of a safetensors file; NULL when absent or another format. */
const char *mz_areader_meta(const mz_areader *r, const char *key);
/* Array `name`: dtype and shape into *desc (name copied), after checking its header against the
 * bytes actually present. MZ_ENOTFOUND when absent, MZ_EFORMAT when malformed, MZ_EINVAL for a
 * name of MZ_ARRAY_NAME_MAX bytes or more. Reads no array data. */
mz_status mz_areader_find(mz_areader *r, const char *name, mz_array_desc *desc, mz_error *err);
/* Reads array `name` into buf, which has exactly mz_array_bytes(desc) bytes (else MZ_EINVAL).
 * npz members are CRC-32 verified. */
mz_status mz_areader_read(mz_areader *r, const char *name, void *buf, size_t bytes, mz_error *err);
/* find + read into a malloc'd *data (at most max_bytes, else MZ_ELIMIT). */
mz_status mz_areader_load(mz_areader *r, const char *name, uint64_t max_bytes, mz_array_desc *desc,
                          void **data, mz_error *err);
/* Where array `name` comes from, for messages: "DIR/x.npy", "F.npz: member x.npy",
 * "F.safetensors: tensor x" (cut at cap). Returns buf. */
char *mz_areader_origin(const mz_areader *r, const char *name, char *buf, size_t cap);

/* ---- zip ---- */
#define MZ_ZIP_MAX_ENTRIES (1 << 20)         /* entries a zip may list */
#define MZ_ZIP_MAX_CDIR ((uint64_t)64 << 20) /* bytes of its central directory */

typedef struct mz_zip_entry {
    const char *name;       /* NUL-terminated (names holding a NUL byte are refused) */
    uint64_t size;          /* uncompressed bytes */
    uint64_t csize;         /* compressed bytes (= size when stored) */
    uint64_t header_offset; /* of the local header in the file */
    uint32_t crc32;
    unsigned method; /* 0 stored, 8 deflated: the ones mz_zip reads; others are only listed */
    unsigned flags;  /* general purpose bits; bit 0 (encrypted) entries are not read */
} mz_zip_entry;

typedef struct mz_zip mz_zip;
/* Opens a zip file (zip64 included; one disk) and reads its central directory, checking every
 * entry's sizes and offsets against the file. */
mz_status mz_zip_open(mz_zip **out, const char *path, mz_error *err);
/* The same over size bytes in memory (an archive member already read), which the caller keeps
 * until mz_zip_close; `origin` names them in messages ("a.tar: member x/checkpoints"). */
mz_status mz_zip_open_mem(mz_zip **out, const char *origin, const void *data, size_t size,
                          mz_error *err);
void mz_zip_close(mz_zip *z);
const char *mz_zip_path(const mz_zip *z);
int64_t mz_zip_count(const mz_zip *z);
const mz_zip_entry *mz_zip_entry_at(const mz_zip *z, int64_t i);    /* NULL when out of range */
const mz_zip_entry *mz_zip_find(const mz_zip *z, const char *name); /* first match, or NULL */
/* Bytes [skip, skip + n) of the uncompressed entry into buf. The whole entry is read (or
 * inflated) to verify its size and CRC-32; the bytes outside the range are discarded. */
mz_status mz_zip_extract(mz_zip *z, const mz_zip_entry *e, uint64_t skip, void *buf, size_t n,
                         mz_error *err);
/* The whole entry into a malloc'd *data (*size bytes, plus a NUL after them); MZ_ELIMIT when it
 * is larger than max_bytes. CRC-32 verified. */
mz_status mz_zip_read(mz_zip *z, const mz_zip_entry *e, uint64_t max_bytes, void **data,
                      size_t *size, mz_error *err);
/* The first n bytes of the entry (n <= size), not verified: for looking at headers. */
mz_status mz_zip_peek(mz_zip *z, const mz_zip_entry *e, void *buf, size_t n, mz_error *err);
/* Offset in the file of a stored entry's first byte (after checking its local header), for
 * reading parts of large members directly. MZ_EUNSUPPORTED for a compressed entry. */
mz_status mz_zip_data_offset(mz_zip *z, const mz_zip_entry *e, uint64_t *offset, mz_error *err);

/* (mz_crc32, the checksum of zip entries, is in core.h.) */

/* ---- files ---- */
/* Reads a whole regular file of at most max_bytes (else MZ_ELIMIT, before reading) into a
 * malloc'd *data, with a NUL after its *size bytes (so text can be parsed in place). */
mz_status mz_read_file(const char *path, uint64_t max_bytes, void **data, size_t *size,
                       mz_error *err);

/* ---- gzip ----
 * A strict streaming gzip reader (RFC 1952). zlib's gzread is lenient where mzoo must not be: it
 * ignores anything after the first member that does not look like gzip, and its errors carry no
 * file offset. This one checks every member's CRC-32 and length, reads concatenated members as
 * one stream (as gzip -d and Python's gzip do), refuses anything after the last member that is
 * not another member (trailing garbage, zero padding), and names the file, the compressed byte
 * offset and the member in every error. */
typedef struct mz_gz mz_gz;
/* Opens path (borrowed: it must outlive the reader). allow_plain = 0 refuses a file without the
 * gzip magic 1f 8b; with allow_plain = 1 such a file is passed through unchanged. A missing file
 * is MZ_ENOTFOUND. *out is NULL on failure. */
mz_status mz_gz_open(mz_gz **out, const char *path, int allow_plain, mz_error *err);
/* Reads up to n bytes into buf and sets *got; *got < n only at the end of the data, once the end
 * (the last member's trailer, and that nothing follows it) has been verified. After a failure
 * every read returns the first failure's status. */
mz_status mz_gz_read(mz_gz *g, void *buf, size_t n, size_t *got, mz_error *err);
/* 1 if the file is not gzip (passed through). */
int mz_gz_plain(const mz_gz *g);
/* File offset of the next compressed (or plain) byte the reader will look at. */
uint64_t mz_gz_offset(const mz_gz *g);
void mz_gz_close(mz_gz *g); /* NULL is a no-op */

/* ---- archives ----
 * Streams through a tar (plain or gzip'd, through mz_gz) or zip archive once. For each regular
 * file member, want(ctx, name) decides whether to read it; wanted members are read whole into
 * memory (at most max_member bytes, MZ_ELIMIT beyond) and passed to take(), whose buffer is only
 * valid during the call. Either callback may stop the scan: want returning -1 stops it
 * (successfully), take returning a non-zero status aborts it with that status. The whole archive
 * is read to its end, so a gzip'd archive's trailer (CRC and length) is always verified; zip
 * entries' CRC-32 are verified as they are read. Only tar and zip are accepted (no other
 * libarchive formats or filters). Needs libarchive (MZ_EUNSUPPORTED otherwise). */
typedef int (*mz_archive_want_fn)(void *ctx, const char *name);
typedef mz_status (*mz_archive_take_fn)(void *ctx, const char *name, const uint8_t *data,
                                        size_t size, mz_error *err);
mz_status mz_archive_scan(const char *path, mz_archive_want_fn want, mz_archive_take_fn take,
                          void *ctx, size_t max_member, mz_error *err);

/* For messages: `name` itself if it is shorter than MZ_NAME_LABEL bytes, else its start, its
 * length and its end in buf (names from files can be arbitrarily long). */
#define MZ_NAME_LABEL 192
const char *mz_name_label(const char *name, char buf[MZ_NAME_LABEL]);

/* ---- PyTorch checkpoints (.pt) ----
 * The zip format torch.save has written since torch 1.6: "<stem>/data.pkl" (a pickle of the
 * object), "<stem>/data/<key>" (one entry per storage, raw elements), "<stem>/version" and, from
 * torch 2.1, "<stem>/byteorder" ("little" or "big"). Only state_dicts are read: a dict or
 * collections.OrderedDict from string keys to tensors.
 *
 * The pickle is never executed. A small interpreter knows the opcodes a state_dict uses (protocol
 * 2, and the framing, memo and string opcodes of protocols 3 to 5) and builds plain values; the
 * only globals it accepts are collections.OrderedDict, torch._utils._rebuild_tensor_v2,
 * torch._utils._rebuild_parameter and torch.<Type>Storage (Float, Double, Half, BFloat16, Long,
 * Int, Short, Char, Byte, Bool). Any other global, any other opcode, a persistent id that is not
 * ('storage', <type>, key, location, numel), a storage entry of the wrong size, and a tensor whose
 * offset, shape or strides reach outside its storage are errors naming the file, the offset in
 * data.pkl, the opcode and the key. Sizes are capped by mz_pt_limits. The legacy format (torch
 * before 1.6, or _use_new_zipfile_serialization=False) and TorchScript archives are refused with
 * a message saying so. */
typedef struct mz_pt_limits {
    uint64_t max_pickle_bytes;  /* data.pkl (default 64 MiB) */
    uint64_t max_storage_bytes; /* one storage (default 16 GiB) */
    int64_t max_objects;        /* values the pickle builds, memo slots included (default 2^22) */
    int max_depth;              /* MARKs open at once (default 64) */
    int max_tensors;            /* entries of the state_dict (default 65536) */
    int max_string;             /* bytes of one string (default 1 MiB) */
} mz_pt_limits;
void mz_pt_limits_default(mz_pt_limits *l);

typedef struct mz_pt_tensor {
    const char *name; /* the state_dict key: valid UTF-8 without NUL bytes */
    mz_dtype dtype;
    int ndim;
    int64_t shape[MZ_ARRAY_MAX_DIMS];
    int64_t stride[MZ_ARRAY_MAX_DIMS]; /* in elements */
    int64_t offset;                    /* storage offset, in elements */
    int64_t count;                     /* elements: product of the shape (1 for a 0-d tensor) */
    const char *storage;               /* storage key: the archive entry data/<key> */
    int64_t storage_numel;             /* elements of the whole storage */
    const char *location;              /* where it was saved from: "cpu", "cuda:0" */
    int requires_grad;
} mz_pt_tensor;

typedef struct mz_pt mz_pt;
/* Opens a .pt file: reads and checks the zip directory, version, byte order and data.pkl, and
 * that every storage the tensors use is present with exactly its size. Reads no tensor data.
 * lim may be NULL (defaults). */
mz_status mz_pt_open(mz_pt **out, const char *path, const mz_pt_limits *lim, mz_error *err);
/* The same over a .pt held in memory (size bytes, kept by the caller until mz_pt_close). */
mz_status mz_pt_open_mem(mz_pt **out, const char *origin, const void *data, size_t size,
                         const mz_pt_limits *lim, mz_error *err);
/* Interprets a data.pkl on its own (size bytes): the tensors' descriptions, without storages
 * (mz_pt_read then fails with MZ_EINVAL). `origin` names it in messages. */
mz_status mz_pt_parse_pickle(mz_pt **out, const char *origin, const void *pkl, size_t size,
                             const mz_pt_limits *lim, mz_error *err);
void mz_pt_close(mz_pt *p);
/* Entries of the state_dict, in its order; names and storage keys live until mz_pt_close. */
int mz_pt_count(const mz_pt *p);
const mz_pt_tensor *mz_pt_tensor_at(const mz_pt *p, int i); /* NULL when out of range */
int mz_pt_find(const mz_pt *p, const char *name);           /* index, or -1 */
/* 1 when the file's storages are big-endian (its byteorder entry says "big"); mz_pt_read
 * returns native little-endian elements either way. */
int mz_pt_big_endian(const mz_pt *p);
/* Tensor i's elements, C order (row-major) whatever its strides, as its own dtype, into buf,
 * which has exactly count * dtype size bytes (else MZ_EINVAL). The storage entry is read whole
 * and CRC-32 checked (the last one read is kept for the next tensor). */
mz_status mz_pt_read(mz_pt *p, int i, void *buf, size_t bytes, mz_error *err);
/* The same converted to float32 into out[n] (n = count): float16 and bfloat16 exactly, float64
 * rounded to nearest, integers and bool when the float holds them exactly (else MZ_EFORMAT).
 * *rounded (may be NULL) counts the float64 values that changed. */
mz_status mz_pt_read_f32(mz_pt *p, int i, float *out, int64_t n, int64_t *rounded, mz_error *err);

/* A tensor to write: count * dtype size bytes of contiguous little-endian data in C order. */
typedef struct mz_pt_wtensor {
    const char *name;
    mz_dtype dtype;
    int ndim;
    int64_t shape[MZ_ARRAY_MAX_DIMS];
    const void *data;
} mz_pt_wtensor;
/* Writes a state_dict (an OrderedDict of the tensors, in order) as torch.save does: a zip of
 * stored entries with every entry's data at a multiple of 64 bytes, the archive named after the
 * file ("checkpoints" for .../checkpoints, "model" for model.pt), a protocol-2 pickle that names
 * only collections.OrderedDict, torch._utils._rebuild_tensor_v2 and torch.<Type>Storage (so
 * torch.load(f, weights_only=True) reads it), version 3 and byteorder "little". Reproducible:
 * equal tensors give equal bytes. At most 4 GiB in all (MZ_ELIMIT); a failed write leaves no
 * file. */
mz_status mz_pt_write(const char *path, const mz_pt_wtensor *t, int n, mz_error *err);

/* ---- JSON text (jansson) ---- */
struct json_t;
/* json_dumps with every real in its shortest form that reads back to the same double (0.7, not
 * jansson's 0.69999999999999996), kept a real ("3.0", not "3"). flags: jansson's, but for the
 * precision. Returns text to free(), or NULL (out of memory, or a value jansson cannot dump). */
char *mz_json_dumps(const struct json_t *root, size_t flags);
/* mz_json_dumps written to path with a final newline; 0, or -1 with errno set. */
int mz_json_dump_file(const struct json_t *root, const char *path, size_t flags);

#ifdef __cplusplus
}
#endif
#endif
