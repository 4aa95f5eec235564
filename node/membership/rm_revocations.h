/*  rm_revocations: the revocations this node knows, verified, one per
    name (the latest), kept in HOME/revocations across restarts.

    Every node holds the same set once gossip has settled: a new one is
    passed to every member at once (REVOKE), and members whose digest
    (gossiped in their metadata) differs get the whole set (rm_node_revoke).
    Lookups are by name (a hash table): the links check every credential
    they carry against this set. */
#ifndef RM_REVOCATIONS_H
#define RM_REVOCATIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "rm_revoke.h"

#define RM_MAX_REVOCATIONS 4096

typedef struct _rm_revocations_t rm_revocations_t;

rm_revocations_t *rm_revocations_new(const uint8_t mesh_pk[32]);
void rm_revocations_destroy(rm_revocations_t **self_p);

/*  A missing file is an empty set; entries that no longer verify are
    skipped. */
int rm_revocations_load(rm_revocations_t *self, const char *path, rm_err_t *err);
int rm_revocations_save(rm_revocations_t *self, const char *path, rm_err_t *err);

/*  Verifies and keeps a signed revocation: 1 when it is new (or later than
    the one held for its name; *added then points to it, valid until the
    next change), 0 when nothing changed, -1 when it does not verify or the
    set is full. */
int rm_revocations_add(rm_revocations_t *self, const uint8_t *data, size_t len,
                       const rm_revocation_t **added, rm_err_t *err);

/*  The revocation that covers this credential, or NULL. */
const rm_revocation_t *rm_revocations_covering(rm_revocations_t *self, const rm_cred_t *cred);

size_t rm_revocations_count(rm_revocations_t *self);
/*  Every signed revocation, in name order, for REVOKE messages: a
    malloc'd array of borrowed blobs (free the array only; valid until the
    next change), NULL when out of memory. */
rm_bin_t *rm_revocations_blobs(rm_revocations_t *self, uint32_t *count);

/*  A hash of the whole set (all zero when empty): equal digests, equal sets. */
void rm_revocations_digest(rm_revocations_t *self, rm_hash_t *out);

#endif
