/* The state of the strict gzip reader (formats.h, mz_gz). Private to src/formats.
 *
 * zlib's gzread is lenient where we must not be: it ignores anything after the first member that
 * does not look like gzip, and its errors carry no file offset. This reader:
 *  - checks every member's CRC-32 and length (zlib does, on reaching the member's end);
 *  - reads concatenated members as one stream (RFC 1952 allows them; gzip -d and Python's gzip
 *    read them the same way);
 *  - refuses anything after the last member that is not another member (trailing garbage, and
 *    also zero padding, which some tools tolerate), naming the byte offset where it starts;
 *  - names the file, the compressed byte offset and the member in every error.
 * A file that does not start with the gzip magic (1f 8b) is passed through unchanged when the
 * caller allows it ("plain"). */
#ifndef MZ_FORMATS_GUNZIP_IMPL_H
#define MZ_FORMATS_GUNZIP_IMPL_H

#include <stdint.h>
#include <stdio.h>
#include <zlib.h>

#include "mzoo/formats.h"

struct mz_gz {
    FILE *f;
    const char *path; /* for messages; not owned, must outlive the reader */
    uint64_t file_size;
    int plain;        /* no gzip magic: the bytes are passed through */
    int ended;        /* the end of the data was reached and verified */
    mz_status failed; /* a read failed: later reads return this status too */
    z_stream z;
    int z_live;
    uint8_t *in; /* input buffer; z.next_in/avail_in point into it */
    size_t in_cap;
    uint64_t in_off;       /* file offset of in[0] */
    uint64_t member_start; /* file offset of the current member's first byte */
    int64_t members;       /* members started so far */
    uint64_t out;          /* bytes delivered so far */
};

#endif
