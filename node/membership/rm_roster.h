/*  rm_roster: the CURVE keys this node admits, each with the verified
    credential that vouched for it.  Filled by the door (HELLO with a
    credential the mesh key signed) in the node actor, which owns it (no
    locking) and tells the ZAP handler's copy of the keys (rm_zap) what it
    admits and forgets.  Expired entries stop admitting. */
#ifndef RM_ROSTER_H
#define RM_ROSTER_H

#include <stdbool.h>
#include <stdint.h>

#include "rm_cred.h"

typedef struct _rm_roster_t rm_roster_t;

rm_roster_t *rm_roster_new(void);
void rm_roster_destroy(rm_roster_t **self_p);

/*  Adds (or refreshes) a verified credential and the signed bytes it came
    from (kept so the roster can be saved and verified again at load); the
    roster takes copies. */
int rm_roster_add(rm_roster_t *self, const rm_cred_t *cred, const uint8_t *signed_cred, size_t len,
                  rm_err_t *err);

/*  Saves the signed credentials to path (atomically), and loads them back,
    verifying each against mesh_pk at `now`: entries that no longer verify
    (expired) are dropped.  A missing file is an empty roster.  A node keeps
    its roster across restarts, so peers need not knock at the door again. */
int rm_roster_save(rm_roster_t *self, const char *path, rm_err_t *err);
int rm_roster_load(rm_roster_t *self, const char *path, const uint8_t mesh_pk[32], int64_t now,
                   rm_err_t *err);

/*  The credential admitted for this CURVE key at `now`, or NULL. */
const rm_cred_t *rm_roster_find(rm_roster_t *self, const uint8_t curve_pk[32], int64_t now);

/*  Removes the credentials `drop` says to (revoked ones); returns how many. */
size_t rm_roster_drop(rm_roster_t *self, bool (*drop)(void *arg, const rm_cred_t *cred), void *arg);

/*  The signed credential admitted for this key (as the door received it),
    or NULL. */
const rm_bin_t *rm_roster_signed(rm_roster_t *self, const uint8_t curve_pk[32]);

size_t rm_roster_size(rm_roster_t *self);

/*  Calls fn for each credential in the roster, expired ones included. */
void rm_roster_each(rm_roster_t *self, void (*fn)(void *arg, const rm_cred_t *cred), void *arg);

#endif
