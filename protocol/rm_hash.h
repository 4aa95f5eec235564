/*  rm_hash: the content hash that names chunks, manifests and outputs on
    the wire and on disk: BLAKE2b-256 (libsodium crypto_generichash, 32-byte
    output, no key), with its hex form. */
#ifndef RM_HASH_H
#define RM_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint8_t b[32];
} rm_hash_t;

/*  BLAKE2b-256 of data. */
void rm_hash(const void *data, size_t len, rm_hash_t *out);
/*  65-byte buffer: 64 lowercase hex chars + NUL. */
void rm_hash_hex(const rm_hash_t *hash, char out[65]);
int rm_hash_parse(const char *hex, rm_hash_t *out); /* 0 or -1 */
bool rm_hash_is_zero(const rm_hash_t *hash);
/*  Orders two rm_hash_t (qsort/bsearch comparator, memcmp order). */
int rm_hash_cmp(const void *a, const void *b);

#endif
