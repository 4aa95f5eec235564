/*  swim_sim: N rm_swim engines in one process on a simulated network.

    A priority queue of timed items (message deliveries and engine timers)
    drives the engines; an engine is touched only when a message reaches it
    or its own deadline (rm_swim_next_deadline) comes, so 10000 engines run
    on one core.  Latency is uniform in [--lat-min, --lat-max] ms, each
    message is lost with probability --loss %.

    Measured, each from its own start time, over the live nodes:
      1. a crash: time until each node holds the victim suspect (or dead),
         and dead;
      2. a metadata update of one node: time until each node has it;
      3. a join through one seed: time until each node knows the newcomer.
    For each: the time by which 50 %, 99 %, 99.99 % and 100 % of the nodes
    know.  memberlist's model (Serf's convergence simulator) gives 99.99 %
    at 1000 nodes in about 2.2 s for gossip convergence.

    Start-up is not simulated message by message (that would be N joins
    and N^2 gossip): node 0 exchanges state with every node, then its full
    state is handed to all of them, exactly as a push-pull answer would be.
    Then --warmup ms of normal operation before the first measurement.

    Usage: swim_sim [--nodes N] [--loss P] [--seed S] [--lat-min MS]
                    [--lat-max MS] [--warmup MS] [--push-pull MS] [--limit MS]
                    [--suspicion-mult K]
    Defaults: 1000 nodes, no loss, 1-5 ms, seed 1, 10 s warm-up, memberlist
    LAN settings (push-pull 30 s, suspicion multiplier 4), 120 s limit per
    phase. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "rm_swim.h"

typedef struct {
    int64_t t;
    uint64_t seq;
    uint32_t to, from;
    uint8_t *data; /* NULL: a timer of engine `to` */
    size_t len;
} item_t;

typedef struct {
    item_t *a;
    size_t n, cap;
} heap_t;

typedef struct {
    int nodes;
    double loss;
    uint64_t seed;
    int lat_min, lat_max;
    int64_t warmup, push_pull, limit;
    unsigned suspicion_mult;
} opts_t;

/*  What we wait for: the first time each node logs an event about `name`. */
typedef struct {
    const char *name;
    bool crash; /* crash phase: suspect-or-dead in t_a, dead in t_b */
    uint64_t min_inc;
    int64_t start;
    int64_t *t_a, *t_b;
    int count_a, count_b;
    uint64_t false_suspect, false_dead; /* crash phase: about live nodes */
} watch_t;

typedef struct {
    opts_t o;
    int n; /* engines, the late joiner included */
    rm_swim_t **e;
    int64_t *sched;
    bool *down;
    heap_t heap;
    uint64_t seq, rng;
    int64_t now;
    watch_t w;
    uint64_t msgs, bytes, lost, events;
    uint64_t kind_msgs[8], kind_bytes[8]; /* by SWIM message kind */
} sim_t;

/* ------------------------------------------------------------------ */

static uint64_t rnd(sim_t *s)
{
    uint64_t z = (s->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static bool before(const item_t *a, const item_t *b)
{
    return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static void heap_push(heap_t *h, item_t it)
{
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 1024;
        h->a = realloc(h->a, h->cap * sizeof *h->a);
        if (!h->a) {
            fprintf(stderr, "swim_sim: out of memory\n");
            exit(1);
        }
    }
    size_t i = h->n++;
    while (i > 0 && before(&it, &h->a[(i - 1) / 2])) {
        h->a[i] = h->a[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->a[i] = it;
}

static item_t heap_pop(heap_t *h)
{
    item_t top = h->a[0], last = h->a[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && before(&h->a[c + 1], &h->a[c]))
            c++;
        if (!before(&h->a[c], &last))
            break;
        h->a[i] = h->a[c];
        i = c;
    }
    if (h->n)
        h->a[i] = last;
    return top;
}

static void name_of(int i, char *buf, size_t n)
{
    snprintf(buf, n, "node%d", i);
}

static void addr_of(int i, char *buf, size_t n)
{
    snprintf(buf, n, "sim:%d", i);
}

static int parse_addr(const char *addr, int n)
{
    char *end;
    if (strncmp(addr, "sim:", 4) != 0)
        return -1;
    long v = strtol(addr + 4, &end, 10);
    return *end || end == addr + 4 || v < 0 || v >= n ? -1 : (int)v;
}

/* ------------------------------------------------------------------ */

static void watch_event(sim_t *s, int i, const rm_swim_event_t *ev)
{
    watch_t *w = &s->w;
    if (!w->name || s->now < w->start)
        return;
    if (strcmp(ev->name, w->name) != 0) {
        /* Only the victim is down: any other suspicion is a false one. */
        w->false_suspect += w->crash && ev->kind == RM_SWIM_EV_SUSPECT;
        w->false_dead += w->crash && ev->kind == RM_SWIM_EV_DEAD;
        return;
    }
    bool a, b = false;
    if (w->crash) {
        a = ev->kind == RM_SWIM_EV_SUSPECT || ev->kind == RM_SWIM_EV_DEAD;
        b = ev->kind == RM_SWIM_EV_DEAD;
    } else {
        a = (ev->kind == RM_SWIM_EV_ALIVE || ev->kind == RM_SWIM_EV_UPDATED) &&
            ev->incarnation >= w->min_inc;
    }
    if (a && w->t_a[i] < 0) {
        w->t_a[i] = s->now;
        w->count_a++;
    }
    if (b && w->t_b[i] < 0) {
        w->t_b[i] = s->now;
        w->count_b++;
    }
}

/*  Moves engine i's outbox onto the simulated wire and reads its events. */
static void flush(sim_t *s, int i)
{
    rm_swim_output_t out;
    rm_swim_event_t ev;
    while (rm_swim_next_output(s->e[i], &out)) {
        int to = parse_addr(out.addr, s->n);
        /* [1, kind, ...]: the kind is the third byte while it is a fixint. */
        unsigned kind = out.len > 2 && out.data[2] < 8 ? out.data[2] : 0;
        s->msgs++;
        s->bytes += out.len;
        s->kind_msgs[kind]++;
        s->kind_bytes[kind] += out.len;
        if (to < 0 || (s->o.loss > 0 && (double)(rnd(s) % 1000000) < s->o.loss * 10000)) {
            s->lost++;
            rm_swim_output_free(&out);
            continue;
        }
        int64_t lat =
            s->o.lat_min + (int64_t)(rnd(s) % (uint64_t)(s->o.lat_max - s->o.lat_min + 1));
        heap_push(&s->heap,
                  (item_t){s->now + lat, s->seq++, (uint32_t)to, (uint32_t)i, out.data, out.len});
        out.data = NULL;
        rm_swim_output_free(&out);
    }
    while (rm_swim_next_event(s->e[i], &ev)) {
        s->events++;
        watch_event(s, i, &ev);
        rm_swim_event_free(&ev);
    }
}

/*  Keeps one heap entry at the engine's earliest deadline; entries that a
    later reschedule made stale are skipped when they come up. */
static void resched(sim_t *s, int i)
{
    int64_t d = rm_swim_next_deadline(s->e[i]);
    if (d < s->now)
        d = s->now;
    if (d < s->sched[i]) {
        s->sched[i] = d;
        heap_push(&s->heap, (item_t){d, s->seq++, (uint32_t)i, 0, NULL, 0});
    }
}

static void step(sim_t *s)
{
    item_t it = heap_pop(&s->heap);
    s->now = it.t;
    int i = (int)it.to;
    if (it.data) {
        if (!s->down[i] && s->e[i]) {
            char from[32];
            addr_of((int)it.from, from, sizeof from);
            rm_swim_receive(s->e[i], s->now, from, it.data, it.len, NULL);
            flush(s, i);
            resched(s, i);
        }
        free(it.data);
        return;
    }
    if (s->down[i] || !s->e[i] || it.t != s->sched[i])
        return;
    s->sched[i] = INT64_MAX;
    rm_swim_tick(s->e[i], s->now);
    flush(s, i);
    resched(s, i);
}

static void run_until(sim_t *s, int64_t until, const int *count, int target)
{
    while (s->heap.n && s->heap.a[0].t <= until && (!count || *count < target))
        step(s);
    if (!count || *count < target)
        s->now = until;
}

/* ------------------------------------------------------------------ */

static rm_swim_t *make(sim_t *s, int i)
{
    rm_swim_config_t cfg;
    rm_err_t err;
    char name[32], addr[32];
    rm_swim_config_default(&cfg);
    cfg.push_pull_interval_ms = s->o.push_pull;
    cfg.suspicion_mult = s->o.suspicion_mult;
    name_of(i, name, sizeof name);
    addr_of(i, addr, sizeof addr);
    rm_swim_t *e = rm_swim_new(&cfg, name, addr, s->o.seed * 1000003 + (uint64_t)i, s->now, &err);
    if (!e) {
        fprintf(stderr, "swim_sim: %s\n", err.msg);
        exit(1);
    }
    return e;
}

static void discard(rm_swim_t *e)
{
    rm_swim_output_t out;
    rm_swim_event_t ev;
    while (rm_swim_next_output(e, &out))
        rm_swim_output_free(&out);
    while (rm_swim_next_event(e, &ev))
        rm_swim_event_free(&ev);
}

/*  Hands engine `from`'s outbox straight to engine `to` (no latency). */
static void hand_over(sim_t *s, int from, int to)
{
    rm_swim_output_t out;
    char addr[32];
    addr_of(from, addr, sizeof addr);
    while (rm_swim_next_output(s->e[from], &out)) {
        rm_swim_receive(s->e[to], s->now, addr, out.data, out.len, NULL);
        rm_swim_output_free(&out);
    }
}

typedef struct {
    sim_t *s;
    const rm_swim_output_t *part;
    int from, to;
} feed_t;

static void *feed_range(void *arg)
{
    const feed_t *f = arg;
    for (int i = f->from; i < f->to; i++) {
        rm_swim_receive(f->s->e[i], 0, "sim:0", f->part->data, f->part->len, NULL);
        discard(f->s->e[i]);
    }
    return NULL;
}

/*  Node 0 learns everyone by a push-pull with each; node 1 then asks node
    0 for its state (a join), and node 0's answer is given to all. */
static void bootstrap(sim_t *s, int n)
{
    char addr[32];
    rm_swim_output_t out;
    /* All of node 0's join requests first: each carries node 0 alone. */
    for (int i = 1; i < n; i++) {
        addr_of(i, addr, sizeof addr);
        rm_swim_join(s->e[0], 0, addr, NULL);
    }
    addr_of(0, addr, sizeof addr);
    while (rm_swim_next_output(s->e[0], &out)) {
        int to = parse_addr(out.addr, n);
        rm_swim_receive(s->e[to], 0, addr, out.data, out.len, NULL);
        rm_swim_output_free(&out);
        hand_over(s, to, 0);
    }
    rm_swim_join(s->e[1], 0, addr, NULL);
    hand_over(s, 1, 0);
    rm_swim_output_t part;
    while (rm_swim_next_output(s->e[0], &part)) {
        /* N^2 member entries to decode: the engines are independent, so
           two threads share them (one engine is only ever used by one). */
        feed_t half[2] = {{s, &part, 1, n / 2}, {s, &part, n / 2, n}};
        pthread_t th;
        bool threaded = pthread_create(&th, NULL, feed_range, &half[1]) == 0;
        feed_range(&half[0]);
        if (threaded)
            pthread_join(th, NULL);
        else
            feed_range(&half[1]);
        rm_swim_output_free(&part);
    }
    discard(s->e[0]);
    for (int i = 0; i < n; i++)
        resched(s, i);
}

/* ------------------------------------------------------------------ */

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/*  Prints the 50 / 99 / 99.99 / 100 % times over the `expect` nodes that
    should know (a node that never learnt counts as infinitely late). */
static void row(const char *what, const int64_t *t, int n, int skip1, int skip2, int64_t start)
{
    static const double q[] = {0.50, 0.99, 0.9999, 1.0};
    int64_t *v = malloc((size_t)n * sizeof *v);
    int m = 0;
    for (int i = 0; i < n; i++)
        if (i != skip1 && i != skip2)
            v[m++] = t[i] < 0 ? INT64_MAX : t[i] - start;
    qsort(v, (size_t)m, sizeof *v, cmp64);
    printf("%-34s", what);
    for (int k = 0; k < 4; k++) {
        int idx = (int)((double)m * q[k] + 0.999999) - 1;
        if (idx < 0)
            idx = 0;
        if (v[idx] == INT64_MAX)
            printf(" %9s", "never");
        else
            printf(" %8.3fs", (double)v[idx] / 1000.0);
    }
    printf("\n");
    free(v);
}

static void watch(sim_t *s, const char *name, bool crash, uint64_t min_inc)
{
    for (int i = 0; i < s->n; i++)
        s->w.t_a[i] = s->w.t_b[i] = -1;
    s->w = (watch_t){name, crash, min_inc, s->now, s->w.t_a, s->w.t_b, 0, 0, 0, 0};
}

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int usage(void)
{
    fprintf(stderr, "usage: swim_sim [--nodes N] [--loss PERCENT] [--seed S] [--lat-min MS] "
                    "[--lat-max MS] [--warmup MS] [--push-pull MS] [--limit MS] "
                    "[--suspicion-mult K]\n");
    return 2;
}

static int parse(int argc, char **argv, opts_t *o)
{
    *o = (opts_t){1000, 0.0, 1, 1, 5, 10000, 30000, 120000, 4};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            return -1;
        i++;
        if (!strcmp(a, "--nodes"))
            o->nodes = atoi(v);
        else if (!strcmp(a, "--loss"))
            o->loss = atof(v);
        else if (!strcmp(a, "--seed"))
            o->seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--lat-min"))
            o->lat_min = atoi(v);
        else if (!strcmp(a, "--lat-max"))
            o->lat_max = atoi(v);
        else if (!strcmp(a, "--warmup"))
            o->warmup = atoll(v);
        else if (!strcmp(a, "--push-pull"))
            o->push_pull = atoll(v);
        else if (!strcmp(a, "--limit"))
            o->limit = atoll(v);
        else if (!strcmp(a, "--suspicion-mult"))
            o->suspicion_mult = (unsigned)atoi(v);
        else
            return -1;
    }
    if (o->nodes < 3 || o->loss < 0 || o->loss >= 100 || o->lat_min < 0 ||
        o->lat_max < o->lat_min || o->warmup < 0 || o->push_pull < 0 || o->limit <= 0 ||
        o->suspicion_mult < 1)
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    sim_t s = {0};
    if (parse(argc, argv, &s.o))
        return usage();
    int n = s.o.nodes;
    s.n = n + 1; /* the late joiner */
    s.rng = s.o.seed;
    s.e = calloc((size_t)s.n, sizeof *s.e);
    s.sched = malloc((size_t)s.n * sizeof *s.sched);
    s.down = calloc((size_t)s.n, sizeof *s.down);
    s.w.t_a = malloc((size_t)s.n * sizeof(int64_t));
    s.w.t_b = malloc((size_t)s.n * sizeof(int64_t));
    for (int i = 0; i < s.n; i++)
        s.sched[i] = INT64_MAX;
    double t_start = wall();
    for (int i = 0; i < n; i++)
        s.e[i] = make(&s, i);
    bootstrap(&s, n);
    double t_boot = wall();
    fprintf(stderr, "swim_sim: %d engines bootstrapped in %.1f s\n", n, t_boot - t_start);
    run_until(&s, s.o.warmup, NULL, 0);
    uint64_t msgs0 = s.msgs, bytes0 = s.bytes, kmsgs0[8], kbytes0[8];
    memcpy(kmsgs0, s.kind_msgs, sizeof kmsgs0);
    memcpy(kbytes0, s.kind_bytes, sizeof kbytes0);
    int64_t steady0 = s.now;
    double t_warm = wall();

    /* 1. Crash. */
    int victim = 1 + (int)(rnd(&s) % (uint64_t)(n - 1));
    char vname[32];
    name_of(victim, vname, sizeof vname);
    watch(&s, vname, true, 0);
    s.down[victim] = true;
    int64_t t_crash = s.now;
    run_until(&s, t_crash + s.o.limit, &s.w.count_b, n - 1);
    fprintf(stderr, "swim_sim: crash phase done (%.1f s)\n", wall() - t_start);
    int64_t *susp = malloc((size_t)s.n * sizeof *susp), *dead = malloc((size_t)s.n * sizeof *dead);
    memcpy(susp, s.w.t_a, (size_t)s.n * sizeof *susp);
    memcpy(dead, s.w.t_b, (size_t)s.n * sizeof *dead);
    uint64_t msgs1 = s.msgs, bytes1 = s.bytes, kmsgs[8], kbytes[8];
    memcpy(kmsgs, s.kind_msgs, sizeof kmsgs);
    memcpy(kbytes, s.kind_bytes, sizeof kbytes);
    int64_t steady1 = s.now;
    uint64_t false_suspect = s.w.false_suspect, false_dead = s.w.false_dead;

    /* 2. Metadata update of a random live node. */
    run_until(&s, s.now + 2000, NULL, 0);
    int mnode = (victim + 1 + (int)(rnd(&s) % (uint64_t)(n - 2))) % n;
    char mname[32];
    name_of(mnode, mname, sizeof mname);
    const char *meta = "role=node;slots=4;gpu=1;speed=1.0;draining=0";
    rm_swim_member_t me;
    rm_swim_set_meta(s.e[mnode], s.now, (const uint8_t *)meta, strlen(meta), NULL);
    rm_swim_find(s.e[mnode], mname, &me);
    watch(&s, mname, false, me.incarnation);
    int64_t t_meta = s.now;
    flush(&s, mnode);
    resched(&s, mnode);
    run_until(&s, t_meta + s.o.limit, &s.w.count_a, n - 2);
    int64_t *metat = malloc((size_t)s.n * sizeof *metat);
    memcpy(metat, s.w.t_a, (size_t)s.n * sizeof *metat);

    /* 3. A new node joins through a random live seed. */
    run_until(&s, s.now + 2000, NULL, 0);
    int seed = (victim + 1 + (int)(rnd(&s) % (uint64_t)(n - 2))) % n;
    char jname[32], saddr[32];
    name_of(n, jname, sizeof jname);
    addr_of(seed, saddr, sizeof saddr);
    s.e[n] = make(&s, n);
    watch(&s, jname, false, 0);
    int64_t t_join = s.now;
    rm_swim_join(s.e[n], s.now, saddr, NULL);
    flush(&s, n);
    resched(&s, n);
    run_until(&s, t_join + s.o.limit, &s.w.count_a, n - 1);
    int64_t *joint = malloc((size_t)s.n * sizeof *joint);
    memcpy(joint, s.w.t_a, (size_t)s.n * sizeof *joint);
    size_t joiner_knows = rm_swim_count(s.e[n], RM_SWIM_ALL);
    double t_end = wall();

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("swim_sim: %d nodes, loss %.1f %%, latency %d-%d ms, seed %" PRIu64
           ", memberlist LAN defaults (push-pull %" PRId64 " ms, suspicion mult %u)\n",
           n, s.o.loss, s.o.lat_min, s.o.lat_max, s.o.seed, s.o.push_pull, s.o.suspicion_mult);
    printf("%-34s %9s %9s %9s %9s\n", "time until known by", "50 %", "99 %", "99.99 %", "100 %");
    row("crash -> suspect (or dead)", susp, n, victim, n, t_crash);
    row("crash -> dead", dead, n, victim, n, t_crash);
    row("metadata update", metat, n, victim, mnode, t_meta);
    row("join", joint, n, victim, -1, t_join);
    printf("false alarms during the crash phase (%.1f s): %" PRIu64 " suspect and %" PRIu64
           " dead events about live nodes\n",
           (double)(steady1 - t_crash) / 1000.0, false_suspect, false_dead);
    printf("joiner knows %zu members (of %d, the victim included)\n", joiner_knows, n + 1);
    double secs = (double)(steady1 - steady0) / 1000.0;
    printf("traffic during the crash phase: %.1f msgs/node/s, %.0f bytes/node/s\n",
           (double)(msgs1 - msgs0) / n / secs, (double)(bytes1 - bytes0) / n / secs);
    static const char *const names[8] = {"?",        "PING",   "ACK",       "NACK",
                                         "PING_REQ", "GOSSIP", "PUSH_PULL", "?"};
    printf("  by kind (msgs/node/s, bytes/node/s):");
    for (int k = 1; k <= 6; k++)
        printf(" %s %.2f %.0f%s", names[k], (double)(kmsgs[k] - kmsgs0[k]) / n / secs,
               (double)(kbytes[k] - kbytes0[k]) / n / secs, k < 6 ? ";" : "\n");
    printf("total: %" PRIu64 " messages, %" PRIu64 " lost, %" PRIu64 " events; simulated %.1f s\n",
           s.msgs, s.lost, s.events, (double)s.now / 1000.0);
    printf("wall: bootstrap %.1f s, warm-up %.1f s, measurement %.1f s; peak RSS %.0f MiB\n",
           t_boot - t_start, t_warm - t_boot, t_end - t_warm, (double)ru.ru_maxrss / 1024.0);

    for (size_t k = 0; k < s.heap.n; k++)
        free(s.heap.a[k].data);
    free(s.heap.a);
    for (int i = 0; i < s.n; i++)
        rm_swim_destroy(&s.e[i]);
    free(s.e);
    free(s.sched);
    free(s.down);
    free(s.w.t_a);
    free(s.w.t_b);
    free(susp);
    free(dead);
    free(metat);
    free(joint);
    return 0;
}
