/*  rm_swim_sync: the membership engine's push-pull, one of its three files
    (see rm_swim_private.h): full state exchanges at join, on a timer, with
    dead members and with strangers.  Internal to the engine. */
#ifndef RM_SWIM_SYNC_H
#define RM_SWIM_SYNC_H

#include <stdbool.h>
#include <stdint.h>

#include "rm_swim.h"
#include "rm_swim_wire.h"

/*  Sends our whole state to `to`, in parts; `join`: we are joining;
    `reply`: answer with yours. */
void rm_swim_sync_send(rm_swim_t *s, const char *to, int64_t to_idx, bool join, bool reply);

/*  Due timers: the periodic push-pull, reconnect, join retry. */
void rm_swim_sync_tick(rm_swim_t *s);

/*  The earliest of those timers. */
int64_t rm_swim_sync_deadline(const rm_swim_t *s);

void rm_swim_sync_on_push_pull(rm_swim_t *s, const char *from, const char *from_addr,
                               const rm_swim_wire_push_pull_t *pp);

/*  A PING from `from` that we do not know, or hold dead: exchange state. */
void rm_swim_sync_stranger(rm_swim_t *s, const char *from, const char *from_addr);

#endif
