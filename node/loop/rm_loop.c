#include "rm_loop.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct {
    void *sock;
    rm_loop_reader_fn *fn;
    void *arg;
    rm_loop_t *loop;
} reader_t;

struct _rm_loop_t {
    zloop_t *zloop;
    /* The wake-up timer only kicks this pipe; the turn runs in the kick's
       reader.  zloop calls the readers of one poll after its timers with
       the reader table of that poll: a reader ended by a turn run from a
       timer (a peer link closed) could still be called, its argument
       freed.  From a reader, an ended reader makes zloop poll again. */
    zsock_t *kick_in, *kick_out;
    zlistx_t *readers; /* reader_t, owned */
    rm_loop_turn_fn *turn;
    void *turn_arg;
    int wake_id;    /* the wake-up timer; -1: none armed */
    bool stopping;  /* rm_loop_stop: zloop_start returns after this event */
    bool once;      /* rm_loop_run_once: return after a reader's event */
    bool handled;   /* a reader's event was handled in this run */
    bool timed_out; /* this run's deadline passed */
    int end_id;     /* the timer that ends a run past its deadline; -1: none */
};

static void destroy_reader(void **item)
{
    free(*item);
    *item = NULL;
}

static int on_kick(zloop_t *zloop, zsock_t *sock, void *arg);

rm_loop_t *rm_loop_new(void)
{
    rm_loop_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->zloop = zloop_new();
    self->readers = zlistx_new();
    /* A name never used before: an inproc name is freed some time after
       its socket is closed. */
    static _Atomic unsigned long loops;
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "inproc://rm-loop-kick-%lu", ++loops);
    self->kick_in = zsock_new(ZMQ_PAIR);
    self->kick_out = zsock_new(ZMQ_PAIR);
    if (!self->zloop || !self->readers || !self->kick_in || !self->kick_out ||
        zsock_bind(self->kick_in, "%s", endpoint) != 0 ||
        zsock_connect(self->kick_out, "%s", endpoint) != 0 ||
        zloop_reader(self->zloop, self->kick_in, on_kick, self) != 0) {
        rm_loop_destroy(&self);
        return NULL;
    }
    zloop_reader_set_tolerant(self->zloop, self->kick_in);
    zlistx_set_destructor(self->readers, destroy_reader);
    /* The node stops when its owner says so: meshd's main thread turns
       SIGTERM into a drain, so czmq's interrupt flag must not end us. */
    zloop_set_nonstop(self->zloop, true);
    self->wake_id = -1;
    self->end_id = -1;
    return self;
}

void rm_loop_destroy(rm_loop_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rm_loop_t *self = *self_p;
    zloop_destroy(&self->zloop);
    zlistx_destroy(&self->readers);
    zsock_destroy(&self->kick_in);
    zsock_destroy(&self->kick_out);
    free(self);
    *self_p = NULL;
}

static reader_t *find_reader(rm_loop_t *self, void *sock)
{
    for (reader_t *r = zlistx_first(self->readers); r; r = zlistx_next(self->readers))
        if (r->sock == sock)
            return r;
    return NULL;
}

static void arm_wake(rm_loop_t *self, int64_t ms);

/*  After any event: the owner's turn, then the next wake-up.  -1 ends
    zloop_start. */
static int after_event(rm_loop_t *self)
{
    if (self->turn && !self->stopping)
        arm_wake(self, self->turn(self->turn_arg));
    return self->stopping || self->timed_out || (self->once && self->handled) ? -1 : 0;
}

static int on_wake(zloop_t *zloop, int timer_id, void *arg)
{
    (void)zloop;
    (void)timer_id;
    rm_loop_t *self = arg;
    self->wake_id = -1; /* a one-shot timer: zloop drops it after this */
    zmq_send(zsock_resolve(self->kick_out), "", 0, ZMQ_DONTWAIT);
    return 0;
}

/*  The wake-up, read as a reader: the turn. */
static int on_kick(zloop_t *zloop, zsock_t *sock, void *arg)
{
    (void)zloop;
    char byte;
    while (zmq_recv(zsock_resolve(sock), &byte, sizeof byte, ZMQ_DONTWAIT) >= 0)
        ;
    return after_event(arg);
}

/*  czmq 4.2.1 never resets zloop's "terminated" after a first
    zloop_start, so from the second run on zloop_timer_end removes a timer
    at once, even inside handlers: a timer is never ended while zloop walks
    its timers (only readers' handlers, which run after the walk, arm the
    wake-up again). */
static void arm_wake(rm_loop_t *self, int64_t ms)
{
    if (self->wake_id >= 0)
        zloop_timer_end(self->zloop, self->wake_id);
    self->wake_id = -1;
    if (ms >= 0)
        self->wake_id = zloop_timer(self->zloop, (size_t)ms, 1, on_wake, self);
}

static int on_readable(zloop_t *zloop, zsock_t *sock, void *arg)
{
    (void)zloop;
    reader_t *r = arg;
    rm_loop_t *self = r->loop;
    r->fn(r->arg, sock); /* may end this reader: r is not used after */
    self->handled = true;
    return after_event(self);
}

int rm_loop_reader(rm_loop_t *self, void *sock, rm_loop_reader_fn *fn, void *arg)
{
    /* Known already: registered again, so that zloop rebuilds its poll set
       (a new socket may have the address of one destroyed unannounced). */
    rm_loop_reader_end(self, sock);
    reader_t *r = calloc(1, sizeof *r);
    if (!r)
        return -1;
    *r = (reader_t){.sock = sock, .fn = fn, .arg = arg, .loop = self};
    if (zloop_reader(self->zloop, sock, on_readable, r) != 0) {
        free(r);
        return -1;
    }
    /* Like zpoller: an error on one socket does not take it off the loop. */
    zloop_reader_set_tolerant(self->zloop, sock);
    if (!zlistx_add_end(self->readers, r)) {
        zloop_reader_end(self->zloop, sock);
        free(r);
        return -1;
    }
    return 0;
}

void rm_loop_reader_end(rm_loop_t *self, void *sock)
{
    reader_t *r = self && sock ? find_reader(self, sock) : NULL;
    if (!r)
        return;
    zloop_reader_end(self->zloop, sock);
    void *handle = zlistx_find(self->readers, r);
    if (handle)
        zlistx_delete(self->readers, handle);
}

void rm_loop_set_turn(rm_loop_t *self, rm_loop_turn_fn *fn, void *arg)
{
    self->turn = fn;
    self->turn_arg = arg;
}

static int on_run_end(zloop_t *zloop, int timer_id, void *arg)
{
    (void)zloop;
    (void)timer_id;
    ((rm_loop_t *)arg)->end_id = -1; /* a one-shot timer: zloop drops it after this */
    return -1;
}

/*  zloop runs the due timers of a poll before the readers that poll found
    ready, and a timer's -1 skips them: so the deadline ends the run only
    at the next round, and what was ready is read first (a 0 ms run reads
    what is ready however late the poll returns on a loaded machine). */
static int on_deadline(zloop_t *zloop, int timer_id, void *arg)
{
    (void)timer_id;
    rm_loop_t *self = arg;
    self->timed_out = true;
    self->end_id = zloop_timer(zloop, 1, 1, on_run_end, self);
    return self->end_id < 0 ? -1 : 0;
}

static void run(rm_loop_t *self, int64_t ms, bool once)
{
    self->stopping = false;
    self->once = once;
    self->handled = false;
    self->timed_out = false;
    if (self->turn)
        arm_wake(self, self->turn(self->turn_arg));
    if (self->stopping)
        return;
    self->end_id = -1;
    int deadline =
        ms >= 0 ? zloop_timer(self->zloop, ms > 0 ? (size_t)ms : 1, 1, on_deadline, self) : -1;
    /* zloop_start also returns when zmq_poll fails: a signal delivered to
       this thread (EINTR) goes on; the context ending (ETERM) ends the run. */
    while (zloop_start(self->zloop) == 0 && zmq_errno() == EINTR && !self->stopping &&
           !self->timed_out && !(self->once && self->handled))
        ;
    /* zloop_start has returned: timers can be ended at once. */
    if (deadline >= 0 && !self->timed_out)
        zloop_timer_end(self->zloop, deadline);
    if (self->end_id >= 0)
        zloop_timer_end(self->zloop, self->end_id);
    self->end_id = -1;
    self->once = false;
}

void rm_loop_run(rm_loop_t *self, int64_t ms)
{
    run(self, ms, false);
}

bool rm_loop_run_once(rm_loop_t *self, int64_t ms)
{
    run(self, ms, true);
    return self->handled;
}

void rm_loop_stop(rm_loop_t *self)
{
    self->stopping = true;
}
