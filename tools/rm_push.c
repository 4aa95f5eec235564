/*  rm_push: a project's chunks sent while it is chunked (see rm_push.h). */
#include "rm_push.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    rm_hash_t hash;
    uint8_t *data;
    size_t len;
    uint64_t req; /* the CHUNK_PUT's, while in flight */
} chunk_t;

/*  Chunks asked about in one CHUNKS_HELD (req 0: not asked yet). */
typedef struct {
    chunk_t *items;
    size_t count;
    uint64_t req;
} batch_t;

struct _rm_push_t {
    rm_client_t *client;
    batch_t filling;
    batch_t *asked; /* awaiting their CHUNKS_HELD_REPLY, oldest first */
    size_t nasked, asked_cap;
    chunk_t *ready; /* the node lacks them: to send */
    size_t nready, ready_cap;
    chunk_t flying[RM_PUSH_WINDOW];
    size_t nflying;
    size_t batch;    /* chunks asked about at once: 16 at first, doubling to RM_PUSH_BATCH */
    size_t buffered; /* bytes of chunks kept */
    size_t max_buffered, peak;
    bool streaming;
    uint64_t sent, bytes_sent, held;
};

rm_push_t *rm_push_new(rm_client_t *client, size_t max_buffered, rm_err_t *err)
{
    rm_push_t *self = calloc(1, sizeof *self);
    if (!self || !(self->filling.items = calloc(RM_PUSH_BATCH, sizeof(chunk_t)))) {
        free(self);
        rm_err_set(err, RM_ENOMEM, "out of memory");
        return NULL;
    }
    self->client = client;
    self->max_buffered = max_buffered;
    self->batch = 16; /* the node starts storing after ~1 MB, not after the first 256 chunks */
    self->streaming = true;
    return self;
}

static void free_chunks(chunk_t *items, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(items[i].data);
}

/*  Lets go of every chunk not yet sent: the SUBMIT's NEED asks for them. */
static void drop_unsent(rm_push_t *self)
{
    free_chunks(self->filling.items, self->filling.count);
    self->filling.count = 0;
    for (size_t b = 0; b < self->nasked; b++) {
        free_chunks(self->asked[b].items, self->asked[b].count);
        free(self->asked[b].items);
    }
    self->nasked = 0;
    free_chunks(self->ready, self->nready);
    self->nready = 0;
}

void rm_push_destroy(rm_push_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rm_push_t *self = *self_p;
    drop_unsent(self);
    free_chunks(self->flying, self->nflying);
    free(self->filling.items);
    free(self->asked);
    free(self->ready);
    free(self);
    *self_p = NULL;
}

/*  Sends CHUNKS_HELD for the batch being filled; a new one is started. */
static int ask(rm_push_t *self, rm_err_t *err)
{
    batch_t *b = &self->filling;
    rm_need_t body = {0};
    body.hashes.count = (uint32_t)b->count;
    body.hashes.items = malloc(b->count * sizeof(rm_hash_t));
    chunk_t *next = calloc(RM_PUSH_BATCH, sizeof *next);
    if (self->nasked == self->asked_cap) {
        size_t cap = self->asked_cap ? self->asked_cap * 2 : 8;
        batch_t *grown = realloc(self->asked, cap * sizeof *grown);
        if (grown) {
            self->asked = grown;
            self->asked_cap = cap;
        }
    }
    if (!body.hashes.items || !next || self->nasked == self->asked_cap) {
        free(body.hashes.items);
        free(next);
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < b->count; i++)
        body.hashes.items[i] = b->items[i].hash;
    int rc = rm_client_send(self->client, RM_MSG_CHUNKS_HELD, &body, &b->req, err);
    free(body.hashes.items);
    if (rc != 0) {
        free(next);
        return -1;
    }
    self->asked[self->nasked++] = *b;
    *b = (batch_t){.items = next};
    return 0;
}

static int send_ready(rm_push_t *self, rm_err_t *err)
{
    while (self->nflying < RM_PUSH_WINDOW && self->nready > 0) {
        chunk_t c = self->ready[--self->nready];
        rm_chunk_t body = {.hash = c.hash, .data = {.data = c.data, .len = c.len}};
        if (rm_client_send(self->client, RM_MSG_CHUNK_PUT, &body, &c.req, err) != 0) {
            free(c.data);
            return -1;
        }
        self->flying[self->nflying++] = c;
    }
    return 0;
}

static int keep_lacking(rm_push_t *self, chunk_t *c, rm_err_t *err)
{
    if (self->nready == self->ready_cap) {
        size_t cap = self->ready_cap ? self->ready_cap * 2 : 256;
        chunk_t *grown = realloc(self->ready, cap * sizeof *grown);
        if (!grown)
            return rm_err_set(err, RM_ENOMEM, "out of memory");
        self->ready = grown;
        self->ready_cap = cap;
    }
    self->ready[self->nready++] = *c;
    c->data = NULL;
    return 0;
}

/*  The node's answer about batch `b` (an index in asked). */
static int on_held(rm_push_t *self, size_t b, rm_msg_t *msg, rm_err_t *err)
{
    batch_t batch = self->asked[b];
    memmove(&self->asked[b], &self->asked[b + 1], (self->nasked - b - 1) * sizeof *self->asked);
    self->nasked--;
    int rc = 0;
    if (msg->type == RM_MSG_ERROR && msg->u.error.code == RM_EPROTO) {
        self->streaming = false; /* an older node: its NEED will ask */
        free_chunks(batch.items, batch.count);
        free(batch.items);
        drop_unsent(self);
        self->buffered = 0;
        for (size_t f = 0; f < self->nflying; f++)
            self->buffered += self->flying[f].len;
        return 0;
    }
    if (msg->type == RM_MSG_ERROR)
        rc = rm_err_set(err,
                        msg->u.error.code > RM_OK && msg->u.error.code <= RM_CODE_LAST
                            ? (rm_code_t)msg->u.error.code
                            : RM_EIO,
                        "node %s refused CHUNKS_HELD: %s", rm_client_node(self->client),
                        msg->u.error.message ? msg->u.error.message : "no reason given");
    else if (msg->type != RM_MSG_CHUNKS_HELD_REPLY)
        rc = rm_err_set(err, RM_EPROTO, "node %s answered CHUNKS_HELD with %s",
                        rm_client_node(self->client), rm_msg_name(msg->type));
    const rm_bin_t *bits =
        msg->type == RM_MSG_CHUNKS_HELD_REPLY ? &msg->u.chunks_held_reply.held : NULL;
    for (size_t i = 0; i < batch.count; i++) {
        chunk_t *c = &batch.items[i];
        bool held = bits && i / 8 < bits->len && (bits->data[i / 8] >> (i % 8)) & 1;
        if (rc == 0 && !held) {
            rc = keep_lacking(self, c, err);
            continue;
        }
        self->held += held;
        self->buffered -= c->len;
        free(c->data);
        c->data = NULL;
    }
    free_chunks(batch.items, batch.count); /* what keep_lacking did not take */
    free(batch.items);
    return rc;
}

static int on_put(rm_push_t *self, size_t f, rm_msg_t *msg, rm_err_t *err)
{
    chunk_t c = self->flying[f];
    self->flying[f] = self->flying[--self->nflying];
    self->buffered -= c.len;
    free(c.data);
    if (msg->type == RM_MSG_ERROR)
        return rm_err_set(err,
                          msg->u.error.code > RM_OK && msg->u.error.code <= RM_CODE_LAST
                              ? (rm_code_t)msg->u.error.code
                              : RM_EIO,
                          "node %s refused a chunk: %s", rm_client_node(self->client),
                          msg->u.error.message ? msg->u.error.message : "no reason given");
    if (msg->type != RM_MSG_CHUNK_OK || memcmp(&msg->u.chunk_ref.hash, &c.hash, sizeof c.hash))
        return rm_err_set(err, RM_EPROTO, "node %s did not acknowledge the chunk it was sent",
                          rm_client_node(self->client));
    self->sent++;
    self->bytes_sent += c.len;
    return 0;
}

static int on_answer(rm_push_t *self, rm_msg_t *msg, rm_err_t *err)
{
    for (size_t b = 0; b < self->nasked; b++)
        if (self->asked[b].req == msg->req)
            return on_held(self, b, msg, err);
    for (size_t f = 0; f < self->nflying; f++)
        if (self->flying[f].req == msg->req)
            return on_put(self, f, msg, err);
    return 0; /* an answer to an earlier conversation */
}

/*  Sends what it can, then takes the answers that came; `wait`: waits for
    one (up to the client's timeout). */
static int pump(rm_push_t *self, bool wait, rm_err_t *err)
{
    if (send_ready(self, err) != 0)
        return -1;
    for (;;) {
        rm_msg_t msg;
        rm_err_t e = {0};
        int rc = rm_client_recv(self->client, &msg, wait ? rm_client_timeout(self->client) : 0, &e);
        if (rc != 0) {
            rm_msg_free(&msg);
            if (e.code == RM_ETIMEOUT && !wait)
                return 0;
            if (e.code == RM_ETIMEOUT)
                return rm_err_set(err, RM_ETIMEOUT,
                                  "node %s stopped answering while chunks "
                                  "were sent",
                                  rm_client_node(self->client));
            return rm_err_set(err, e.code, "%s", e.msg);
        }
        rc = on_answer(self, &msg, err);
        rm_msg_free(&msg);
        if (rc != 0 || send_ready(self, err) != 0)
            return -1;
        if (wait)
            return 0;
    }
}

int rm_push_sink(void *arg, const rm_hash_t *hash, const uint8_t *data, size_t len, rm_err_t *err)
{
    rm_push_t *self = arg;
    if (!self->streaming)
        return 0;
    chunk_t *c = &self->filling.items[self->filling.count];
    if (!(c->data = malloc(len ? len : 1)))
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    memcpy(c->data, data, len);
    c->hash = *hash;
    c->len = len;
    self->filling.count++;
    self->buffered += len;
    if (self->buffered > self->peak)
        self->peak = self->buffered;
    if (self->filling.count == self->batch) {
        if (ask(self, err) != 0)
            return -1;
        self->batch = self->batch * 2 < RM_PUSH_BATCH ? self->batch * 2 : RM_PUSH_BATCH;
    }
    if (pump(self, false, err) != 0)
        return -1;
    /* Over the bound: what is kept can only shrink by the answers, so
       the batch being filled is asked about now rather than when full. */
    if (self->streaming && self->buffered > self->max_buffered && self->filling.count > 0 &&
        ask(self, err) != 0)
        return -1;
    while (self->streaming && self->buffered > self->max_buffered)
        if (pump(self, true, err) != 0)
            return -1;
    return 0;
}

int rm_push_finish(rm_push_t *self, rm_err_t *err)
{
    if (self->streaming && self->filling.count > 0 && ask(self, err) != 0)
        return -1;
    while (self->nasked > 0 || self->nready > 0 || self->nflying > 0)
        if (pump(self, true, err) != 0)
            return -1;
    return 0;
}

uint64_t rm_push_chunks_sent(const rm_push_t *self)
{
    return self->sent;
}

uint64_t rm_push_bytes_sent(const rm_push_t *self)
{
    return self->bytes_sent;
}

uint64_t rm_push_chunks_held(const rm_push_t *self)
{
    return self->held;
}

size_t rm_push_peak_buffered(const rm_push_t *self)
{
    return self->peak;
}

bool rm_push_streaming(const rm_push_t *self)
{
    return self->streaming;
}
