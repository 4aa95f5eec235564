/*  rm_roster: the CURVE keys this node admits, each with the verified
    credential that vouched for it.  Filled by the door (HELLO with a
    credential the mesh key signed) and read by the ZAP handler, both in the
    node actor, so no locking.  Expired entries stop admitting. */
#ifndef RM_ROSTER_H
#define RM_ROSTER_H

#include <stdbool.h>
#include <stdint.h>

#include "rm_cred.h"

typedef struct _rm_roster_t rm_roster_t;

rm_roster_t *rm_roster_new(void);
void rm_roster_destroy(rm_roster_t **self_p);

/*  Adds (or refreshes) a verified credential; the roster takes a copy. */
int rm_roster_add(rm_roster_t *self, const rm_cred_t *cred, rm_err_t *err);

/*  The credential admitted for this CURVE key at `now`, or NULL. */
const rm_cred_t *rm_roster_find(rm_roster_t *self, const uint8_t curve_pk[32], int64_t now);

size_t rm_roster_size(rm_roster_t *self);

#endif
