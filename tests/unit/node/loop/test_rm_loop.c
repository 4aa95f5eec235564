/*  rm_loop: readers called with their own argument, the turn after every
    event and the wake-up it asks for, bounded runs, and readers that come
    and go from inside handlers. */
#include <czmq.h>

#include "rm_loop.h"
#include "rm_test.h"

/*  A PAIR of inproc sockets: what is sent on `out` is read on `in`. */
typedef struct {
    zsock_t *in, *out;
    int reads;
    char last[32];
} pipe_t;

static void pipe_open(pipe_t *p, const char *name)
{
    memset(p, 0, sizeof *p);
    char ep[64];
    snprintf(ep, sizeof ep, "inproc://rm-loop-%s", name);
    p->in = zsock_new(ZMQ_PAIR);
    CHECK(p->in && zsock_bind(p->in, "%s", ep) == 0);
    p->out = zsock_new(ZMQ_PAIR);
    CHECK(p->out && zsock_connect(p->out, "%s", ep) == 0);
}

static void pipe_close(pipe_t *p)
{
    zsock_destroy(&p->in);
    zsock_destroy(&p->out);
}

static void on_read(void *arg, void *sock)
{
    pipe_t *p = arg;
    char *s = zstr_recv(sock);
    CHECK(sock == p->in);
    snprintf(p->last, sizeof p->last, "%s", s ? s : "");
    zstr_free(&s);
    p->reads++;
}

static void test_each_reader_gets_its_own_argument(void)
{
    rm_loop_t *loop = rm_loop_new();
    pipe_t a, b;
    pipe_open(&a, "a");
    pipe_open(&b, "b");
    CHECK(rm_loop_reader(loop, a.in, on_read, &a) == 0);
    CHECK(rm_loop_reader(loop, b.in, on_read, &b) == 0);
    zstr_send(b.out, "to b");
    CHECK(rm_loop_run_once(loop, 2000));
    CHECK(a.reads == 0 && b.reads == 1 && strcmp(b.last, "to b") == 0);
    zstr_send(a.out, "to a");
    CHECK(rm_loop_run_once(loop, 2000));
    CHECK(a.reads == 1 && strcmp(a.last, "to a") == 0 && b.reads == 1);
    rm_loop_destroy(&loop);
    pipe_close(&a);
    pipe_close(&b);
}

static void test_a_run_with_nothing_to_read_ends_after_its_time(void)
{
    rm_loop_t *loop = rm_loop_new();
    int64_t start = zclock_mono();
    CHECK(!rm_loop_run_once(loop, 100));
    int64_t took = zclock_mono() - start;
    CHECK_MSG(took >= 90 && took < 1000, "took %lld ms", (long long)took);
    rm_loop_destroy(&loop);
}

/*  A run of 0 ms still reads what is ready (zloop runs due timers first). */
static void test_a_zero_wait_still_reads_what_is_ready(void)
{
    rm_loop_t *loop = rm_loop_new();
    pipe_t a;
    pipe_open(&a, "zero");
    CHECK(rm_loop_reader(loop, a.in, on_read, &a) == 0);
    zstr_send(a.out, "ready");
    zclock_sleep(50); /* delivered before the run */
    CHECK(rm_loop_run_once(loop, 0) && a.reads == 1);
    /* Registering a known socket again is allowed (and rebuilds the poll set). */
    CHECK(rm_loop_reader(loop, a.in, on_read, &a) == 0);
    zstr_send(a.out, "again");
    CHECK(rm_loop_run_once(loop, 2000) && a.reads == 1 + 1);
    rm_loop_destroy(&loop);
    pipe_close(&a);
}

typedef struct {
    int turns;
    int stop_after;
    int64_t wake_ms;
    rm_loop_t *loop;
} turn_t;

static int64_t count_turns(void *arg)
{
    turn_t *t = arg;
    t->turns++;
    if (t->stop_after && t->turns >= t->stop_after)
        rm_loop_stop(t->loop);
    return t->wake_ms;
}

/*  The turn runs once at the start and after every event, and the delay
    it returns wakes the loop for another. */
static void test_the_turn_runs_after_each_event_and_wakes_the_loop(void)
{
    rm_loop_t *loop = rm_loop_new();
    pipe_t a;
    pipe_open(&a, "turn");
    CHECK(rm_loop_reader(loop, a.in, on_read, &a) == 0);
    turn_t t = {.wake_ms = -1, .loop = loop};
    rm_loop_set_turn(loop, count_turns, &t);
    zstr_send(a.out, "one");
    CHECK(rm_loop_run_once(loop, 2000));
    CHECK_MSG(t.turns == 2, "%d turns", t.turns); /* the start, the read */

    /* Nothing to read: the turn's own wake-up every 20 ms, until it stops
       the loop at its 6th; a run bounded at 5 s returns long before. */
    t = (turn_t){.wake_ms = 20, .stop_after = 6, .loop = loop};
    int64_t start = zclock_mono();
    rm_loop_run(loop, 5000);
    int64_t took = zclock_mono() - start;
    CHECK_MSG(t.turns == 6, "%d turns", t.turns);
    CHECK_MSG(took >= 90 && took < 2000, "took %lld ms", (long long)took);
    rm_loop_destroy(&loop);
    pipe_close(&a);
}

typedef struct {
    rm_loop_t *loop;
    pipe_t *self;
    pipe_t *other; /* registered by the first read */
} swap_t;

static void on_read_then_swap(void *arg, void *sock)
{
    swap_t *s = arg;
    on_read(s->self, sock);
    rm_loop_reader_end(s->loop, sock); /* its own reader, inside its handler */
    CHECK(rm_loop_reader(s->loop, s->other->in, on_read, s->other) == 0);
}

static void test_readers_come_and_go_inside_handlers(void)
{
    rm_loop_t *loop = rm_loop_new();
    pipe_t a, b;
    pipe_open(&a, "swap-a");
    pipe_open(&b, "swap-b");
    swap_t s = {.loop = loop, .self = &a, .other = &b};
    CHECK(rm_loop_reader(loop, a.in, on_read_then_swap, &s) == 0);
    zstr_send(a.out, "first");
    CHECK(rm_loop_run_once(loop, 2000));
    CHECK(a.reads == 1);
    /* a is no longer read; b now is. */
    zstr_send(a.out, "ignored");
    zstr_send(b.out, "second");
    CHECK(rm_loop_run_once(loop, 2000));
    CHECK(b.reads == 1 && strcmp(b.last, "second") == 0);
    CHECK(!rm_loop_run_once(loop, 100));
    CHECK(a.reads == 1);
    rm_loop_reader_end(loop, b.in);
    rm_loop_reader_end(loop, b.in); /* twice, and unknown: ignored */
    rm_loop_reader_end(NULL, b.in);
    rm_loop_destroy(&loop);
    pipe_close(&a);
    pipe_close(&b);
}

/*  czmq's interrupt flag (set by its handler on SIGINT/SIGTERM) does not
    end the loop: stopping is the owner's decision. */
static void test_an_interrupt_does_not_end_the_loop(void)
{
    rm_loop_t *loop = rm_loop_new();
    turn_t t = {.wake_ms = 10, .stop_after = 5, .loop = loop};
    rm_loop_set_turn(loop, count_turns, &t);
    zsys_interrupted = 1;
    rm_loop_run(loop, 3000);
    zsys_interrupted = 0;
    CHECK_MSG(t.turns == 5, "%d turns", t.turns);
    rm_loop_destroy(&loop);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    RM_RUN(test_each_reader_gets_its_own_argument);
    RM_RUN(test_a_run_with_nothing_to_read_ends_after_its_time);
    RM_RUN(test_the_turn_runs_after_each_event_and_wakes_the_loop);
    RM_RUN(test_readers_come_and_go_inside_handlers);
    RM_RUN(test_an_interrupt_does_not_end_the_loop);
    RM_RUN(test_a_zero_wait_still_reads_what_is_ready);
    RM_TEST_DONE();
}
