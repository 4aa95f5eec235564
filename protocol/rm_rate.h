/*  rm_rate: a token bucket, for the upload and download limits of a node
    (meshd.conf upload_limit_mb, download_limit_mb): bytes are taken as they
    go, the bucket may go below zero (a chunk is never split), and whoever
    sends waits until it is back to zero.  It reads no clock: the caller
    passes monotonic milliseconds, so tests drive it with a fake one. */
#ifndef RM_RATE_H
#define RM_RATE_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    uint64_t bytes_per_s; /* 0: no limit */
    int64_t tokens;       /* bytes that may go now; negative: owed */
    int64_t burst;        /* the most it saves up: a quarter second */
    int64_t at;           /* when tokens was last brought up to date */
} rm_rate_t;

/*  A bucket of bytes_per_s (0: unlimited), full at now_ms. */
void rm_rate_init(rm_rate_t *rate, uint64_t bytes_per_s, int64_t now_ms);

/*  True if the bucket limits anything. */
bool rm_rate_limited(const rm_rate_t *rate);

/*  Milliseconds until something may go (0: now). */
int64_t rm_rate_wait(rm_rate_t *rate, int64_t now_ms);

/*  Counts `bytes` gone at now_ms. */
void rm_rate_take(rm_rate_t *rate, uint64_t bytes, int64_t now_ms);

/*  Gives back `bytes` taken on a guess that turned out too high. */
void rm_rate_refund(rm_rate_t *rate, uint64_t bytes);

#endif
