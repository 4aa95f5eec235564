/*  rm_push: sends a project's chunks to the node while the project is
    still being chunked (issue 9: submitting ran at half the target because
    the whole project was chunked and hashed first, the node idle, then
    read and hashed again to be sent).

    It is the sink of rm_project_new: each new chunk is kept in memory,
    asked about in batches (CHUNKS_HELD: what the node holds is not sent
    again, so a resubmission sends only what changed), and what the node
    lacks goes out as CHUNK_PUT, a window of them in flight, while the next
    chunks are made.  Memory is bounded: past `max_buffered` bytes kept
    (RM_PUSH_MAX_BUFFERED for meshctl) the sink waits for answers.  The SUBMIT that follows then
   finds every chunk there.  A node that does not take CHUNKS_HELD (older) turns it off: the chunks
   are then sent when the SUBMIT's NEED asks, as before. */
#ifndef RM_PUSH_H
#define RM_PUSH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rm_client.h"
#include "rm_error.h"
#include "rm_hash.h"

#define RM_PUSH_BATCH 256                       /* chunks per CHUNKS_HELD */
#define RM_PUSH_WINDOW 32                       /* CHUNK_PUTs in flight */
#define RM_PUSH_MAX_BUFFERED ((size_t)64 << 20) /* bytes kept waiting, by default */

typedef struct _rm_push_t rm_push_t;

rm_push_t *rm_push_new(rm_client_t *client, size_t max_buffered, rm_err_t *err);
void rm_push_destroy(rm_push_t **self_p);

/*  An rm_chunk_sink_fn (arg: the rm_push_t): a new chunk of the project,
    copied.  Fails only if the node refused a chunk or stopped answering. */
int rm_push_sink(void *arg, const rm_hash_t *hash, const uint8_t *data, size_t len, rm_err_t *err);

/*  Asks about and sends what is left, and waits for every answer. */
int rm_push_finish(rm_push_t *self, rm_err_t *err);

/*  Chunks and bytes sent, chunks the node already held. */
uint64_t rm_push_chunks_sent(const rm_push_t *self);
uint64_t rm_push_bytes_sent(const rm_push_t *self);
uint64_t rm_push_chunks_held(const rm_push_t *self);
/*  The most bytes of chunks it kept at once. */
size_t rm_push_peak_buffered(const rm_push_t *self);
/*  False once the node refused CHUNKS_HELD (an older node). */
bool rm_push_streaming(const rm_push_t *self);

#endif
