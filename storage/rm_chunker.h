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

#define RM_CHUNK_MIN (16 * 1024)
#define RM_CHUNK_AVG (64 * 1024)
#define RM_CHUNK_MAX (256 * 1024)

/*  Length of the next chunk at the start of data[0..len): a cut point
    found by FastCDC, or len if len <= RM_CHUNK_MIN, never more than
    RM_CHUNK_MAX.  Pure function. */
size_t rm_chunker_next(const uint8_t *data, size_t len);

#endif
