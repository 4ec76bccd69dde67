/* Helpers shared by the fuzz targets whose parser reads a file (or a directory) rather than
 * memory: each input is written into a private directory, made once per process under $TMPDIR
 * (or /tmp) and removed at exit. Header-only, so each target stays one translation unit plus the
 * replay driver. */
#ifndef MZOO_FUZZ_UTIL_H
#define MZOO_FUZZ_UTIL_H

/* (built with _XOPEN_SOURCE=700 for mkdtemp and nftw: CMakeLists.txt) */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mzoo/formats.h"

static char fuzz_dir_[512];

static int fuzz_rm_(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void fuzz_cleanup_(void)
{
    if (fuzz_dir_[0])
        nftw(fuzz_dir_, fuzz_rm_, 8, FTW_DEPTH | FTW_PHYS);
}

/* The private directory (created on first use; abort() when it cannot be: not an input's fault). */
static inline const char *fuzz_dir(void)
{
    if (!fuzz_dir_[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(fuzz_dir_, sizeof fuzz_dir_, "%s/mzoo_fuzz_XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(fuzz_dir_))
            abort();
        atexit(fuzz_cleanup_);
    }
    return fuzz_dir_;
}

/* Writes data into fuzz_dir()/name (replacing it) and returns the path (static buffer). */
static inline const char *fuzz_write(const char *name, const uint8_t *data, size_t size)
{
    static char path[640];
    snprintf(path, sizeof path, "%s/%s", fuzz_dir(), name);
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0)
        abort();
    return path;
}

/* Every failure must come with a message; MZOO_FUZZ_VERBOSE=1 prints each (to see what a corpus
 * exercises: a seed that fails early explores little). */
#define FUZZ_CHECK_MSG(st, err)                                                                    \
    do {                                                                                           \
        if ((st) != MZ_OK && !(err).msg[0])                                                        \
            abort();                                                                               \
        if (getenv("MZOO_FUZZ_VERBOSE"))                                                           \
            fprintf(stderr, "  %s:%d: %s\n", __FILE__, __LINE__, (st) ? (err).msg : "ok");         \
    } while (0)

/* Every array the reader lists: its header checked against the file, then its data (capped: the
 * fuzzer's memory, not the format's limit). */
static inline void fuzz_read_arrays(mz_areader *r)
{
    for (int i = 0; i < mz_areader_count(r); i++) {
        const char *name = mz_areader_name(r, i);
        mz_array_desc d;
        void *buf = NULL;
        mz_error err = {0};
        char where[256];
        mz_areader_origin(r, name, where, sizeof where);
        mz_status st = mz_areader_load(r, name, 1 << 24, &d, &buf, &err);
        FUZZ_CHECK_MSG(st, err);
        free(buf);
    }
}

#endif
