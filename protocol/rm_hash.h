/*  rm_hash: the content hash that names chunks, manifests and outputs on
    the wire and on disk: SHA-256 (OpenSSL's libcrypto), with its hex form.

    SHA-256 rather than BLAKE2b (protocol 1 used BLAKE2b-256): the CPUs
    farms run on hash it in hardware (x86 SHA extensions, ARMv8 SHA2), at
    1.6 GB/s per core on the development machine against BLAKE2b's 0.84
    (openssl speed), which chunking a project at 1 GB/s needs.  A store of
    BLAKE2b names is refused by name (rm_store.h), and protocol 1 peers at
    the door. */
#ifndef RM_HASH_H
#define RM_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint8_t b[32];
} rm_hash_t;

/*  SHA-256 of data. */
void rm_hash(const void *data, size_t len, rm_hash_t *out);
/*  65-byte buffer: 64 lowercase hex chars + NUL. */
void rm_hash_hex(const rm_hash_t *hash, char out[65]);
int rm_hash_parse(const char *hex, rm_hash_t *out); /* 0 or -1 */
bool rm_hash_is_zero(const rm_hash_t *hash);
/*  Orders two rm_hash_t (qsort/bsearch comparator, memcmp order). */
int rm_hash_cmp(const void *a, const void *b);

#endif
