/*  rm_loop: the node's one event loop, on czmq's zloop.

    Each part of the node registers the sockets it reads (its own, and the
    actors it runs) with the function that handles them, so the table of
    who handles what is the list of rm_loop_reader calls, and no part asks
    another whether a socket is its own.  After every event (a reader's, or
    the wake-up) the loop runs its owner's turn: the node's periodic work,
    which returns how long the node may sleep before it wants to run again
    (the nearest deadline any of its parts holds).  The loop owns the one
    timer that wakes it then.

    Readers may be added and removed from inside handlers (peer links come
    and go).  A socket is any zsock_t or zactor_t. */
#ifndef RM_LOOP_H
#define RM_LOOP_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct _rm_loop_t rm_loop_t;

/*  sock is readable: read it (at least one message). */
typedef void(rm_loop_reader_fn)(void *arg, void *sock);

/*  The owner's turn after each event: milliseconds until it wants another
    (0: at once; < 0: only after the next event). */
typedef int64_t(rm_loop_turn_fn)(void *arg);

rm_loop_t *rm_loop_new(void);
void rm_loop_destroy(rm_loop_t **self_p);

/*  fn(arg, sock) whenever sock is readable.  0, or -1 out of memory.  One
    handler per socket: a second registration replaces the first. */
int rm_loop_reader(rm_loop_t *self, void *sock, rm_loop_reader_fn *fn, void *arg);
/*  Forgets sock (before it is destroyed).  Unknown sockets, and a NULL
    loop or sock, are ignored. */
void rm_loop_reader_end(rm_loop_t *self, void *sock);

/*  The turn run after every event (NULL: none). */
void rm_loop_set_turn(rm_loop_t *self, rm_loop_turn_fn *fn, void *arg);

/*  Runs events until rm_loop_stop is called, or for at most ms (< 0: no
    limit; what is ready when the time is up is still read, so a 0 ms run
    reads what is ready).  Runs the turn once first, so that its wake-up is
    set. */
void rm_loop_run(rm_loop_t *self, int64_t ms);
/*  Like rm_loop_run, but returns after the first reader's event too;
    true if one was handled. */
bool rm_loop_run_once(rm_loop_t *self, int64_t ms);
/*  From a handler or the turn: rm_loop_run returns after this event. */
void rm_loop_stop(rm_loop_t *self);

#endif
