/*  rm_chunker: FastCDC content-defined chunking (Xia et al., 2016, with
    normalized chunking), so an edit in a large .blend or texture changes
    only the chunks around it and re-submits send only those.
    Sizes: min 16 KiB, average 64 KiB, max 256 KiB (<= RM_MAX_CHUNK_SIZE).
    The gear table is fixed: the same bytes always give the same chunks, on
    every node and every version. */
#ifndef RM_CHUNKER_H
#define RM_CHUNKER_H

#include <stddef.h>
#include <stdint.h>

#include "rm_error.h"

#define RM_CHUNK_MIN (16 * 1024)
#define RM_CHUNK_AVG (64 * 1024)
#define RM_CHUNK_MAX (256 * 1024)

/*  Length of the next chunk at the start of data[0..len): a cut point
    found by FastCDC, or len if len <= RM_CHUNK_MIN, never more than
    RM_CHUNK_MAX.  Pure function. */
size_t rm_chunker_next(const uint8_t *data, size_t len);

/*  The buffer rm_chunker_stream reads into: two chunks' worth. */
#define RM_CHUNKER_BUF (2 * RM_CHUNK_MAX)

/*  One chunk of a stream: its offset and bytes (valid during the call
    only).  0 to go on; -1 (err set) stops the stream. */
typedef int(rm_chunker_fn)(void *arg, uint64_t offset, const uint8_t *data, size_t len,
                           rm_err_t *err);

/*  Streams fd, from where it is to its end, through the chunker, reading
    into buf (RM_CHUNKER_BUF bytes, the caller's): fn for each chunk in
    order.  A cut is made only while buf holds RM_CHUNK_MAX bytes or the
    file has ended, so the cut points are those of the whole file in
    memory.  0, or -1 with err: a read error ("cannot read NAME: why",
    RM_EIO; "read error: why" when name is NULL), or what the failing fn
    said. */
int rm_chunker_stream(int fd, const char *name, uint8_t *buf, rm_chunker_fn *fn, void *arg,
                      rm_err_t *err);

#endif
