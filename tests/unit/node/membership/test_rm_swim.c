/*  rm_swim: several engines on an in-memory network with simulated time.
    Every run is deterministic (fixed seeds, the engine's own PRNG, our own
    latency PRNG), so a failure replays exactly. */
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "rm_swim.h"
#include "rm_test.h"

#define MAXN 16
#define STEP_MS 1

typedef struct {
    int64_t at;
    uint64_t seq;
    int from, to;
    uint8_t *data;
    size_t len;
} msg_t;

typedef struct {
    int64_t t;
    int node, subject;
    rm_swim_event_kind_t kind;
    uint64_t inc;
} ev_t;

typedef struct {
    rm_swim_t *e[MAXN];
    int n;
    int64_t now;
    bool down[MAXN];       /* crashed: neither runs nor receives */
    bool cut[MAXN][MAXN];  /* cut[a][b]: a's messages to b are lost */
    bool nat[MAXN];        /* accepts no inbound connection */
    bool conn[MAXN][MAXN]; /* conn[a][b]: a has connected out to b */
    int nat_violations;    /* messages someone tried to open towards a NAT node */
    msg_t *q;
    size_t nq, capq;
    uint64_t seq, rng;
    ev_t *log;
    size_t nlog, caplog;
    uint64_t delivered, dropped;
} net_t;

static uint64_t rnd(net_t *net)
{
    uint64_t z = (net->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void name_of(int i, char *buf, size_t n)
{
    snprintf(buf, n, "node%d", i);
}

static void addr_of(int i, char *buf, size_t n)
{
    snprintf(buf, n, "mem://%d", i);
}

static int index_of_addr(const char *addr)
{
    int i;
    return sscanf(addr, "mem://%d", &i) == 1 ? i : -1;
}

static int index_of_name(const char *name)
{
    int i;
    return sscanf(name, "node%d", &i) == 1 ? i : -1;
}

static void base_config(rm_swim_config_t *cfg)
{
    rm_swim_config_default(cfg);
}

static rm_swim_t *make_engine(net_t *net, int i, const rm_swim_config_t *cfg)
{
    char name[32], addr[32];
    rm_err_t err;
    name_of(i, name, sizeof name);
    addr_of(i, addr, sizeof addr);
    rm_swim_t *e = rm_swim_new(cfg, name, addr, 1000 + (uint64_t)i * 7919, net->now, &err);
    CHECK_MSG(e, "%s", err.msg);
    return e;
}

static void net_init(net_t *net, int n, uint64_t seed, const rm_swim_config_t *cfg)
{
    memset(net, 0, sizeof *net);
    net->n = n;
    net->rng = seed;
    for (int i = 0; i < n; i++)
        net->e[i] = make_engine(net, i, cfg);
}

static void net_free(net_t *net)
{
    for (int i = 0; i < net->n; i++)
        rm_swim_destroy(&net->e[i]);
    for (size_t i = 0; i < net->nq; i++)
        free(net->q[i].data);
    free(net->q);
    free(net->log);
}

static void drain_events(net_t *net, int i)
{
    rm_swim_event_t ev;
    while (rm_swim_next_event(net->e[i], &ev)) {
        if (net->nlog == net->caplog) {
            net->caplog = net->caplog ? net->caplog * 2 : 256;
            net->log = realloc(net->log, net->caplog * sizeof *net->log);
        }
        net->log[net->nlog++] =
            (ev_t){net->now, i, index_of_name(ev.name), ev.kind, ev.incarnation};
        rm_swim_event_free(&ev);
    }
}

/*  Moves engine i's outbox onto the wire: 1-5 ms latency, cut links and
    crashed nodes lose messages, and a NAT node is reachable only over a
    connection it opened. */
static void drain_outputs(net_t *net, int i)
{
    rm_swim_output_t out;
    while (rm_swim_next_output(net->e[i], &out)) {
        int to = index_of_addr(out.addr);
        bool lost = to < 0 || to >= net->n || net->cut[i][to];
        if (to >= 0 && to < net->n && net->nat[to] && !net->conn[to][i]) {
            net->nat_violations++;
            lost = true;
        }
        if (to >= 0 && to < net->n && net->nat[i])
            net->conn[i][to] = true;
        if (lost) {
            net->dropped++;
            rm_swim_output_free(&out);
            continue;
        }
        if (net->nq == net->capq) {
            net->capq = net->capq ? net->capq * 2 : 256;
            net->q = realloc(net->q, net->capq * sizeof *net->q);
        }
        net->q[net->nq++] =
            (msg_t){net->now + 1 + (int64_t)(rnd(net) % 5), net->seq++, i, to, out.data, out.len};
        out.data = NULL;
        rm_swim_output_free(&out);
    }
    drain_events(net, i);
}

static void deliver_due(net_t *net)
{
    for (;;) {
        size_t best = SIZE_MAX;
        for (size_t k = 0; k < net->nq; k++)
            if (net->q[k].at <= net->now &&
                (best == SIZE_MAX || net->q[k].at < net->q[best].at ||
                 (net->q[k].at == net->q[best].at && net->q[k].seq < net->q[best].seq)))
                best = k;
        if (best == SIZE_MAX)
            return;
        msg_t m = net->q[best];
        net->q[best] = net->q[--net->nq];
        if (!net->down[m.to] && net->e[m.to]) {
            char from[32];
            rm_err_t err;
            addr_of(m.from, from, sizeof from);
            int rc = rm_swim_receive(net->e[m.to], net->now, from, m.data, m.len, &err);
            CHECK_MSG(rc == 0, "node%d: %s", m.to, err.msg);
            net->delivered++;
            drain_outputs(net, m.to);
        }
        free(m.data);
    }
}

static void run_until(net_t *net, int64_t until)
{
    while (net->now < until) {
        net->now += STEP_MS;
        deliver_due(net);
        for (int i = 0; i < net->n; i++) {
            if (net->down[i] || !net->e[i])
                continue;
            if (rm_swim_next_deadline(net->e[i]) <= net->now) {
                rm_swim_tick(net->e[i], net->now);
                drain_outputs(net, i);
            }
        }
    }
}

static void join_all(net_t *net, int seed_node)
{
    char addr[32];
    rm_err_t err;
    addr_of(seed_node, addr, sizeof addr);
    for (int i = 0; i < net->n; i++) {
        if (i == seed_node)
            continue;
        CHECK_MSG(rm_swim_join(net->e[i], net->now, addr, &err) == 0, "%s", err.msg);
        drain_outputs(net, i);
    }
}

static rm_swim_state_t state_at(net_t *net, int viewer, int subject)
{
    char name[32];
    rm_swim_member_t m;
    name_of(subject, name, sizeof name);
    if (rm_swim_find(net->e[viewer], name, &m))
        return 0;
    return m.state;
}

static bool all_see(net_t *net, int subject, rm_swim_state_t state)
{
    for (int i = 0; i < net->n; i++)
        if (i != subject && !net->down[i] && state_at(net, i, subject) != state)
            return false;
    return true;
}

static bool all_alive(net_t *net)
{
    for (int i = 0; i < net->n; i++)
        if (!net->down[i] && !all_see(net, i, RM_SWIM_ALIVE))
            return false;
    return true;
}

/*  First time `node` logged `kind` about `subject` at or after `since`;
    -1 if never.  node -1: any node. */
static int64_t first_event(net_t *net, int node, int subject, rm_swim_event_kind_t kind,
                           int64_t since)
{
    for (size_t k = 0; k < net->nlog; k++) {
        const ev_t *e = &net->log[k];
        if ((node < 0 || e->node == node) && e->subject == subject && e->kind == kind &&
            e->t >= since)
            return e->t;
    }
    return -1;
}

static int count_events(net_t *net, int subject, rm_swim_event_kind_t kind, int64_t since)
{
    int c = 0;
    for (size_t k = 0; k < net->nlog; k++)
        if (net->log[k].subject == subject && net->log[k].kind == kind && net->log[k].t >= since)
            c++;
    return c;
}

/*  Runs until every live node sees every other live node alive. */
static int64_t run_until_converged(net_t *net, int64_t limit)
{
    while (net->now < limit) {
        run_until(net, net->now + 100);
        if (all_alive(net))
            return net->now;
    }
    return -1;
}

/* ------------------------------------------------------------------ */

static void test_join(void)
{
    net_t net;
    rm_swim_config_t cfg;
    base_config(&cfg);
    net_init(&net, 8, 1, &cfg);
    join_all(&net, 0);
    int64_t t = run_until_converged(&net, 10000);
    CHECK_MSG(t >= 0, "8 nodes did not converge in 10 s");
    printf("join: 8 nodes know each other after %" PRId64 " ms\n", t);
    for (int i = 0; i < net.n; i++) {
        CHECK(rm_swim_count(net.e[i], RM_SWIM_LIVE) == 8);
        CHECK(rm_swim_member_total(net.e[i]) == 8);
        rm_swim_member_t self;
        CHECK(rm_swim_member_at(net.e[i], 0, &self) == 0);
        char name[32];
        name_of(i, name, sizeof name);
        CHECK(strcmp(self.name, name) == 0);
    }
    /* Everyone got exactly one ALIVE event per other member. */
    for (int s = 0; s < net.n; s++)
        CHECK(count_events(&net, s, RM_SWIM_EV_ALIVE, 0) == net.n - 1);
    net_free(&net);
}

/*  A state bigger than the push-pull budget travels in parts: twelve
    members with 400 bytes of meta each, parts of at most 4 KiB. */
static void test_parts(void)
{
    net_t net;
    rm_swim_config_t cfg;
    rm_err_t err;
    uint8_t meta[400];
    base_config(&cfg);
    cfg.push_pull_budget = 4096;
    net_init(&net, 12, 13, &cfg);
    for (int i = 0; i < net.n; i++) {
        memset(meta, 'a' + i, sizeof meta);
        CHECK_MSG(rm_swim_set_meta(net.e[i], 0, meta, sizeof meta, &err) == 0, "%s", err.msg);
    }
    join_all(&net, 0);
    int64_t t = run_until_converged(&net, 10000);
    CHECK_MSG(t >= 0, "12 nodes with big meta did not converge");
    for (int i = 0; i < net.n; i++)
        for (int j = 0; j < net.n; j++) {
            char name[32];
            rm_swim_member_t m;
            name_of(j, name, sizeof name);
            CHECK(rm_swim_find(net.e[i], name, &m) == 0 && m.meta_len == sizeof meta &&
                  m.meta[0] == 'a' + j && m.meta[sizeof meta - 1] == 'a' + j);
        }
    /* The seed's answers held up to twelve states (5 kB): two parts each. */
    rm_swim_stats_t st;
    rm_swim_stats(net.e[0], &st);
    CHECK(st.bytes_out > 3 * 4096);
    printf("parts: 12 members x 400-byte meta in 4 KiB push-pull parts, converged after %" PRId64
           " ms\n",
           t);
    net_free(&net);
}

/*  Crash: suspected, then dead everywhere within n * interval (a full
    probe pass) + the maximum suspicion timeout; then reaped. */
static void test_crash(void)
{
    net_t net;
    rm_swim_config_t cfg;
    base_config(&cfg);
    cfg.dead_reap_ms = 20000;
    net_init(&net, 8, 2, &cfg);
    join_all(&net, 0);
    CHECK(run_until_converged(&net, 10000) >= 0);
    run_until(&net, 15000);
    int64_t t0 = net.now;
    net.down[7] = true;
    int64_t bound = 2 * 8 * cfg.probe_interval_ms + 6 * 4 * cfg.probe_interval_ms;
    while (net.now < t0 + bound && !all_see(&net, 7, RM_SWIM_DEAD))
        run_until(&net, net.now + 10);
    CHECK_MSG(all_see(&net, 7, RM_SWIM_DEAD), "node7 not dead everywhere after %" PRId64 " ms",
              bound);
    int64_t first_suspect = first_event(&net, -1, 7, RM_SWIM_EV_SUSPECT, t0);
    int64_t last_dead = 0;
    for (int i = 0; i < 7; i++) {
        int64_t d = first_event(&net, i, 7, RM_SWIM_EV_DEAD, t0);
        CHECK_MSG(d >= 0, "node%d has no DEAD event", i);
        if (d > last_dead)
            last_dead = d;
    }
    CHECK(first_suspect >= 0 && first_suspect < last_dead);
    printf("crash: first suspicion %+" PRId64 " ms, dead everywhere %+" PRId64 " ms (bound %" PRId64
           ")\n",
           first_suspect - t0, last_dead - t0, bound);
    /* Reaped dead_reap after death, at the end of a probe pass. */
    run_until(&net, net.now + cfg.dead_reap_ms + 2 * 8 * cfg.probe_interval_ms);
    for (int i = 0; i < 7; i++) {
        CHECK(state_at(&net, i, 7) == 0);
        CHECK(rm_swim_member_total(net.e[i]) == 7);
        CHECK(first_event(&net, i, 7, RM_SWIM_EV_REAPED, t0) >= 0);
    }
    net_free(&net);
}

/*  A node declared dead restarts under its name: its old incarnation comes
    back in the join push-pull, it refutes past it, and everyone takes it
    back. */
static void test_restart(void)
{
    net_t net;
    rm_swim_config_t cfg;
    base_config(&cfg);
    net_init(&net, 6, 3, &cfg);
    join_all(&net, 0);
    CHECK(run_until_converged(&net, 10000) >= 0);
    net.down[5] = true;
    run_until(&net, net.now + 40000);
    CHECK(all_see(&net, 5, RM_SWIM_DEAD));
    rm_swim_destroy(&net.e[5]);
    for (size_t k = net.nq; k-- > 0;)
        if (net.q[k].to == 5) { /* lost with the old process */
            free(net.q[k].data);
            net.q[k] = net.q[--net.nq];
        }
    net.e[5] = make_engine(&net, 5, &cfg);
    net.down[5] = false;
    int64_t t0 = net.now;
    char seed[32];
    rm_err_t err;
    addr_of(2, seed, sizeof seed);
    CHECK(rm_swim_join(net.e[5], net.now, seed, &err) == 0);
    drain_outputs(&net, 5);
    int64_t t = run_until_converged(&net, net.now + 20000);
    CHECK_MSG(t >= 0, "restarted node not taken back");
    rm_swim_member_t me;
    CHECK(rm_swim_find(net.e[5], "node5", &me) == 0 && me.incarnation > 0);
    printf("restart: dead node back under its name after %" PRId64 " ms, incarnation %" PRIu64 "\n",
           t - t0, me.incarnation);
    net_free(&net);
}

/*  Node 3's messages are lost for 3.5 s: its ACKs vanish, others suspect
    it; the suspicion reaches it (buddy system) and it refutes before any
    timeout: never dead, incarnation raised. */
static void test_refute(void)
{
    net_t net;
    rm_swim_config_t cfg;
    base_config(&cfg);
    net_init(&net, 8, 4, &cfg);
    join_all(&net, 0);
    CHECK(run_until_converged(&net, 10000) >= 0);
    run_until(&net, 12000);
    int64_t t0 = net.now;
    for (int j = 0; j < net.n; j++)
        net.cut[3][j] = true;
    run_until(&net, t0 + 3500);
    for (int j = 0; j < net.n; j++)
        net.cut[3][j] = false;
    run_until(&net, t0 + 40000);
    CHECK_MSG(first_event(&net, -1, 3, RM_SWIM_EV_SUSPECT, t0) >= 0, "node3 never suspected");
    CHECK_MSG(count_events(&net, 3, RM_SWIM_EV_DEAD, t0) == 0, "node3 declared dead");
    CHECK(all_alive(&net));
    rm_swim_stats_t st;
    rm_swim_stats(net.e[3], &st);
    CHECK(st.refutes >= 1);
    for (int i = 0; i < net.n; i++) {
        rm_swim_member_t m;
        CHECK(rm_swim_find(net.e[i], "node3", &m) == 0 && m.incarnation >= 1);
    }
    printf("refute: node3 suspected at %+" PRId64 " ms, refuted %" PRIu64 " time(s), alive\n",
           first_event(&net, -1, 3, RM_SWIM_EV_SUSPECT, t0) - t0, st.refutes);
    net_free(&net);
}

/*  The link 2 <-> 5 is cut both ways: direct probes between them fail,
    the indirect probes through the others succeed, nobody suspects. */
static void test_indirect(void)
{
    net_t net;
    rm_swim_config_t cfg;
    base_config(&cfg);
    net_init(&net, 8, 5, &cfg);
    join_all(&net, 0);
    CHECK(run_until_converged(&net, 10000) >= 0);
    int64_t t0 = net.now;
    net.cut[2][5] = net.cut[5][2] = true;
    run_until(&net, t0 + 60000);
    CHECK(count_events(&net, 2, RM_SWIM_EV_SUSPECT, t0) == 0);
    CHECK(count_events(&net, 5, RM_SWIM_EV_SUSPECT, t0) == 0);
    CHECK(all_alive(&net));
    rm_swim_stats_t a, b;
    rm_swim_stats(net.e[2], &a);
    rm_swim_stats(net.e[5], &b);
    CHECK(a.indirect_probes >= 1 && b.indirect_probes >= 1);
    CHECK(a.probes_failed == 0 && b.probes_failed == 0);
    printf("indirect: %" PRIu64 "+%" PRIu64 " indirect probes saved the cut pair\n",
           a.indirect_probes, b.indirect_probes);
    net_free(&net);
}

static void test_leave(void)
{
    net_t net;
    rm_swim_config_t cfg;
    base_config(&cfg);
    net_init(&net, 6, 6, &cfg);
    join_all(&net, 0);
    CHECK(run_until_converged(&net, 10000) >= 0);
    int64_t t0 = net.now;
    rm_swim_leave(net.e[4], net.now);
    drain_outputs(&net, 4);
    /* The leaver keeps gossiping until its 'left' was sent enough. */
    while (rm_swim_pending_broadcasts(net.e[4]) && net.now < t0 + 5000)
        run_until(&net, net.now + 10);
    CHECK(rm_swim_pending_broadcasts(net.e[4]) == 0);
    net.down[4] = true;
    run_until(&net, t0 + 60000);
    CHECK(all_see(&net, 4, RM_SWIM_LEFT));
    CHECK(count_events(&net, 4, RM_SWIM_EV_DEAD, t0) == 0);
    CHECK(count_events(&net, 4, RM_SWIM_EV_LEFT, t0) == 5);
    int64_t last = 0;
    for (int i = 0; i < 6; i++)
        if (i != 4 && first_event(&net, i, 4, RM_SWIM_EV_LEFT, t0) > last)
            last = first_event(&net, i, 4, RM_SWIM_EV_LEFT, t0);
    printf("leave: left everywhere after %" PRId64 " ms, never dead\n", last - t0);
    net_free(&net);
}

static void test_meta(void)
{
    net_t net;
    rm_swim_config_t cfg;
    rm_err_t err;
    base_config(&cfg);
    net_init(&net, 8, 7, &cfg);
    join_all(&net, 0);
    CHECK(run_until_converged(&net, 10000) >= 0);
    int64_t t0 = net.now;
    const char *meta = "role=gpu;slots=3;speed=2.5;draining=0";
    CHECK(rm_swim_set_meta(net.e[1], net.now, (const uint8_t *)meta, strlen(meta), &err) == 0);
    drain_outputs(&net, 1);
    uint8_t big[RM_SWIM_MAX_META + 1] = {0};
    CHECK(rm_swim_set_meta(net.e[1], net.now, big, sizeof big, &err) == -1 &&
          err.code == RM_EINVAL);
    int64_t done = -1;
    while (net.now < t0 + 10000 && done < 0) {
        run_until(&net, net.now + 10);
        bool all = true;
        for (int i = 0; i < net.n && all; i++) {
            rm_swim_member_t m;
            all = rm_swim_find(net.e[i], "node1", &m) == 0 && m.meta_len == strlen(meta) &&
                  memcmp(m.meta, meta, m.meta_len) == 0;
        }
        if (all)
            done = net.now;
    }
    CHECK_MSG(done >= 0, "metadata did not reach everyone in 10 s");
    CHECK(count_events(&net, 1, RM_SWIM_EV_UPDATED, t0) == 7);
    printf("meta: update known everywhere after %" PRId64 " ms\n", done - t0);
    net_free(&net);
}

/*  Two halves that cannot talk declare each other dead; after the heal the
    reconnect push-pulls and refutations bring everyone back. */
static void test_partition(void)
{
    net_t net;
    rm_swim_config_t cfg;
    base_config(&cfg);
    net_init(&net, 8, 8, &cfg);
    join_all(&net, 0);
    CHECK(run_until_converged(&net, 10000) >= 0);
    int64_t t0 = net.now;
    for (int a = 0; a < 8; a++)
        for (int b = 0; b < 8; b++)
            net.cut[a][b] = (a < 4) != (b < 4);
    run_until(&net, t0 + 60000);
    for (int a = 0; a < 8; a++)
        for (int b = 0; b < 8; b++)
            if ((a < 4) != (b < 4))
                CHECK_MSG(state_at(&net, a, b) == RM_SWIM_DEAD, "node%d sees node%d %s", a, b,
                          rm_swim_state_name(state_at(&net, a, b)));
            else if (a != b)
                CHECK(state_at(&net, a, b) == RM_SWIM_ALIVE);
    int64_t heal = net.now;
    memset(net.cut, 0, sizeof net.cut);
    int64_t t = run_until_converged(&net, heal + 150000);
    CHECK_MSG(t >= 0, "partition did not heal in 150 s");
    printf("partition: halves dead to each other, all alive %" PRId64 " ms after the heal\n",
           t - heal);
    net_free(&net);
}

/*  Node 5 is behind NAT: nobody opens a connection to it, yet it stays
    alive for everyone; once it crashes it is declared dead. */
static void test_nat(void)
{
    net_t net;
    rm_swim_config_t cfg, nat_cfg;
    base_config(&cfg);
    nat_cfg = cfg;
    nat_cfg.no_inbound = true;
    memset(&net, 0, sizeof net);
    net.n = 6;
    net.rng = 9;
    for (int i = 0; i < 6; i++)
        net.e[i] = make_engine(&net, i, i == 5 ? &nat_cfg : &cfg);
    net.nat[5] = true;
    join_all(&net, 0);
    CHECK(run_until_converged(&net, 10000) >= 0);
    run_until(&net, 70000);
    CHECK(all_see(&net, 5, RM_SWIM_ALIVE));
    CHECK(rm_swim_count(net.e[5], RM_SWIM_LIVE) == 6);
    CHECK_MSG(net.nat_violations == 0, "%d messages opened towards the NAT node",
              net.nat_violations);
    CHECK(count_events(&net, 5, RM_SWIM_EV_DEAD, 0) == 0);
    int suspicions = count_events(&net, 5, RM_SWIM_EV_SUSPECT, 0);
    CHECK_MSG(suspicions == 0, "NAT node suspected %d times", suspicions);
    rm_swim_member_t m;
    CHECK(rm_swim_find(net.e[0], "node5", &m) == 0 && m.no_inbound);
    int64_t t0 = net.now;
    net.down[5] = true;
    int64_t bound = cfg.nat_timeout_ms + cfg.probe_interval_ms * 2 + 6 * 4 * cfg.probe_interval_ms;
    while (net.now < t0 + bound && !all_see(&net, 5, RM_SWIM_DEAD))
        run_until(&net, net.now + 10);
    CHECK(all_see(&net, 5, RM_SWIM_DEAD));
    printf("nat: no-inbound node alive 60 s with 0 inbound opens; crash -> dead everywhere "
           "%+" PRId64 " ms\n",
           net.now - t0);
    net_free(&net);
}

/*  Lifeguard LHM: a node that hears nothing (its inbound link is dead)
    sees its probes fail without NACKs and slows down. */
static void test_health(void)
{
    net_t net;
    rm_swim_config_t cfg;
    base_config(&cfg);
    net_init(&net, 6, 10, &cfg);
    join_all(&net, 0);
    CHECK(run_until_converged(&net, 10000) >= 0);
    for (int j = 0; j < net.n; j++)
        net.cut[j][2] = true;
    run_until(&net, net.now + 8000);
    rm_swim_stats_t sick, well;
    rm_swim_stats(net.e[2], &sick);
    rm_swim_stats(net.e[0], &well);
    CHECK_MSG(sick.health_score >= 3, "health score %u", sick.health_score);
    CHECK(well.health_score == 0);
    printf("health: isolated node's score %u (healthy: %u)\n", sick.health_score,
           well.health_score);
    net_free(&net);
}

/* ------------------------------------------------------------------ */
/* Malformed input                                                      */
/* ------------------------------------------------------------------ */

static void pack_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

/*  [1, kind, from, body..., updates] with a hand-written body. */
typedef void (*body_fn)(msgpack_packer *pk);

static int feed(rm_swim_t *e, const uint8_t *data, size_t len, rm_err_t *err)
{
    return rm_swim_receive(e, 1000, "mem://99", data, len, err);
}

static int feed_sb(rm_swim_t *e, msgpack_sbuffer *sb, rm_err_t *err)
{
    int rc = feed(e, (const uint8_t *)sb->data, sb->size, err);
    msgpack_sbuffer_clear(sb);
    return rc;
}

static void pack_update(msgpack_packer *pk, const char *name, const char *addr, uint64_t state)
{
    msgpack_pack_array(pk, 7);
    pack_str(pk, name);
    pack_str(pk, addr);
    msgpack_pack_uint64(pk, 1);
    msgpack_pack_uint64(pk, state);
    pack_str(pk, "");
    msgpack_pack_uint64(pk, 0);
    msgpack_pack_bin(pk, 0);
}

static void test_crafted(rm_swim_t *e)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    rm_err_t err;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);

    /* A valid GOSSIP with one alive update is accepted. */
    msgpack_pack_array(&pk, 5);
    msgpack_pack_uint64(&pk, 1);
    msgpack_pack_uint64(&pk, 5);
    pack_str(&pk, "x");
    msgpack_pack_array(&pk, 1);
    msgpack_pack_false(&pk);
    msgpack_pack_array(&pk, 1);
    pack_update(&pk, "newbie", "mem://42", 1);
    CHECK_MSG(feed_sb(e, &sb, &err) == 0, "%s", err.msg);
    rm_swim_member_t m;
    CHECK(rm_swim_find(e, "newbie", &m) == 0 && m.state == RM_SWIM_ALIVE);

    const struct {
        const char *what;
        uint64_t version, kind, state;
        const char *from, *addr;
        int extra; /* 1: 65 updates; 2: push-pull part >= parts; 3: ping without target */
    } cases[] = {
        {"version 2", 2, 5, 1, "x", "a", 0},         {"kind 0", 1, 0, 1, "x", "a", 0},
        {"kind 99", 1, 99, 1, "x", "a", 0},          {"empty from", 1, 5, 1, "", "a", 0},
        {"state 0", 1, 5, 0, "x", "a", 0},           {"state 9", 1, 5, 9, "x", "a", 0},
        {"alive without addr", 1, 5, 1, "x", "", 0}, {"65 updates", 1, 5, 1, "x", "a", 1},
        {"bad part", 1, 6, 1, "x", "a", 2},          {"ping without target", 1, 1, 1, "x", "a", 3},
        {"own name", 1, 5, 1, "self", "a", 0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        msgpack_pack_array(&pk, 5);
        msgpack_pack_uint64(&pk, cases[c].version);
        msgpack_pack_uint64(&pk, cases[c].kind);
        pack_str(&pk, cases[c].from);
        if (cases[c].extra == 2) {
            msgpack_pack_array(&pk, 5);
            msgpack_pack_false(&pk);
            msgpack_pack_false(&pk);
            msgpack_pack_uint64(&pk, 3);
            msgpack_pack_uint64(&pk, 2);
            msgpack_pack_array(&pk, 0);
        } else if (cases[c].extra == 3) {
            msgpack_pack_array(&pk, 2);
            msgpack_pack_uint64(&pk, 1);
            pack_str(&pk, "");
        } else {
            msgpack_pack_array(&pk, 1);
            msgpack_pack_false(&pk);
        }
        uint32_t nu = cases[c].extra == 1 ? 65 : 1;
        msgpack_pack_array(&pk, nu);
        for (uint32_t i = 0; i < nu; i++)
            pack_update(&pk, "someone", cases[c].addr, cases[c].state);
        err.code = RM_OK;
        int rc = feed_sb(e, &sb, &err);
        CHECK_MSG(rc == -1 && err.code == RM_EPROTO, "%s accepted", cases[c].what);
    }

    /* Declared sizes far beyond the bytes present. */
    const uint8_t huge_array[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
    const uint8_t huge_str[] = {0x95, 0x01, 0x05, 0xdb, 0xff, 0xff, 0xff, 0xf0, 'x'};
    const uint8_t huge_bin[] = {0x95, 0x01, 0x05, 0xa1, 'x',  0x91, 0xc2, 0x91, 0x97, 0xa1, 'n',
                                0xa1, 'a',  0x01, 0x01, 0xa0, 0x00, 0xc6, 0xff, 0xff, 0xff, 0xff};
    CHECK(feed(e, huge_array, sizeof huge_array, &err) == -1);
    CHECK(feed(e, huge_str, sizeof huge_str, &err) == -1);
    CHECK(feed(e, huge_bin, sizeof huge_bin, &err) == -1);
    /* Nesting bomb in an appended envelope element. */
    uint8_t bomb[1200];
    size_t nb = 0;
    const uint8_t head[] = {0x96, 0x01, 0x05, 0xa1, 'x', 0x91, 0xc2, 0x90};
    memcpy(bomb, head, sizeof head);
    nb = sizeof head;
    while (nb < sizeof bomb)
        bomb[nb++] = 0x91;
    CHECK(feed(e, bomb, nb, &err) == -1);
    /* Stray bytes after a valid message; NULL and empty input; no sender. */
    const uint8_t stray[] = {0x95, 0x01, 0x05, 0xa1, 'x', 0x91, 0xc2, 0x90, 0x00};
    CHECK(feed(e, stray, sizeof stray, &err) == -1);
    CHECK(feed(e, stray, sizeof stray - 1, &err) == 0);
    CHECK(feed(e, NULL, 0, &err) == -1);
    CHECK(rm_swim_receive(e, 1000, NULL, stray, sizeof stray - 1, &err) == -1 &&
          err.code == RM_EINVAL);
    /* Over the size limit, refused before decoding. */
    uint8_t *big = calloc(1, RM_SWIM_MAX_MSG + 1);
    CHECK(feed(e, big, RM_SWIM_MAX_MSG + 1, &err) == -1);
    free(big);
    msgpack_sbuffer_destroy(&sb);
}

/*  Real messages of every kind, captured from a running cluster. */
static size_t capture(uint8_t **msgs, size_t *lens, size_t max)
{
    net_t net;
    rm_swim_config_t cfg;
    size_t n = 0;
    uint64_t scanned = 0;
    bool seen[8] = {0};
    base_config(&cfg);
    net_init(&net, 5, 11, &cfg);
    join_all(&net, 0);
    net.cut[1][3] = true; /* forces PING_REQ, relayed ACKs and NACKs */
    net.cut[3][1] = true;
    while (net.now < 20000 && n < max) {
        run_until(&net, net.now + 1);
        net.down[4] = net.now > 3000; /* its helpers send NACKs */
        for (size_t k = 0; k < net.nq && n < max; k++) {
            const msg_t *q = &net.q[k];
            uint8_t kind = q->len > 2 ? q->data[2] : 0;
            if (q->seq < scanned || kind >= 8 || (seen[kind] && q->seq % 97))
                continue;
            seen[kind] = true;
            msgs[n] = malloc(q->len);
            memcpy(msgs[n], q->data, q->len);
            lens[n++] = q->len;
        }
        scanned = net.seq;
    }
    for (int k = 1; k <= 6; k++)
        CHECK_MSG(seen[k], "no message of kind %d captured", k);
    net_free(&net);
    return n;
}

static void test_malformed(void)
{
    rm_swim_config_t cfg;
    rm_err_t err;
    base_config(&cfg);
    rm_swim_t *e = rm_swim_new(&cfg, "self", "mem://0", 77, 0, &err);
    CHECK_MSG(e, "%s", err.msg);
    uint64_t r = 12345;
    uint8_t buf[2048];
    int accepted = 0;
    /* Random bytes. */
    for (int it = 0; it < 20000; it++) {
        size_t len = (size_t)(it % 300);
        for (size_t i = 0; i < len; i++) {
            r = r * 6364136223846793005ull + 1442695040888963407ull;
            buf[i] = (uint8_t)(r >> 56);
        }
        accepted += feed(e, buf, len, &err) == 0;
    }
    CHECK_MSG(accepted == 0, "%d random inputs accepted", accepted);
    /* Every real message, truncated at every length, and with bytes
       changed: errors or harmless, never a crash (ASan watches). */
    uint8_t *msgs[40];
    size_t lens[40];
    size_t n = capture(msgs, lens, 40);
    int truncated_ok = 0, mutated = 0;
    for (size_t k = 0; k < n; k++) {
        CHECK_MSG(feed(e, msgs[k], lens[k], &err) == 0, "captured message refused: %s", err.msg);
        for (size_t cut = 0; cut < lens[k]; cut++)
            truncated_ok += feed(e, msgs[k], cut, &err) == 0;
        for (size_t pos = 0; pos < lens[k] && pos < 600; pos++)
            for (int v = 0; v < 4; v++) {
                static const uint8_t vals[] = {0x00, 0xff, 0xdd, 0xc1};
                uint8_t *copy = malloc(lens[k]);
                memcpy(copy, msgs[k], lens[k]);
                copy[pos] = vals[v];
                mutated += feed(e, copy, lens[k], &err) == 0;
                free(copy);
            }
        free(msgs[k]);
    }
    CHECK_MSG(truncated_ok == 0, "%d truncated messages accepted", truncated_ok);
    test_crafted(e);
    rm_swim_stats_t st;
    rm_swim_stats(e, &st);
    CHECK(st.bad_in > 20000);
    /* Drain what the engine answered; it is still usable. */
    rm_swim_output_t o;
    while (rm_swim_next_output(e, &o))
        rm_swim_output_free(&o);
    rm_swim_tick(e, 5000);
    printf("malformed: %" PRIu64 " inputs refused, %d mutated ones harmless, no crash\n", st.bad_in,
           mutated);
    rm_swim_destroy(&e);
}

static void test_api(void)
{
    rm_swim_config_t cfg;
    rm_err_t err;
    base_config(&cfg);
    cfg.probe_timeout_ms = cfg.probe_interval_ms;
    CHECK(rm_swim_new(&cfg, "a", "b", 1, 0, &err) == NULL && err.code == RM_EINVAL);
    CHECK(rm_swim_new(NULL, "", "b", 1, 0, &err) == NULL && err.code == RM_EINVAL);
    rm_swim_t *e = rm_swim_new(NULL, "a", "tcp://a:1", 1, 0, &err);
    CHECK(e);
    CHECK(rm_swim_join(e, 0, "", &err) == -1);
    CHECK(rm_swim_count(e, RM_SWIM_ALL) == 1);
    CHECK(rm_swim_find(e, "nobody", &(rm_swim_member_t){0}) == -1);
    CHECK(strcmp(rm_swim_state_name(RM_SWIM_SUSPECT), "suspect") == 0);
    CHECK(rm_swim_next_deadline(e) <= 1000);
    rm_swim_destroy(&e);
    rm_swim_destroy(&e);
}

/*  Same seeds, same run: the event logs match exactly. */
static uint64_t run_digest(void)
{
    net_t net;
    rm_swim_config_t cfg;
    base_config(&cfg);
    net_init(&net, 6, 12, &cfg);
    join_all(&net, 0);
    run_until(&net, 5000);
    net.down[3] = true;
    run_until(&net, 30000);
    uint64_t h = 1469598103934665603ull;
    for (size_t k = 0; k < net.nlog; k++) {
        const ev_t *e = &net.log[k];
        uint64_t v[5] = {(uint64_t)e->t, (uint64_t)e->node, (uint64_t)e->subject, (uint64_t)e->kind,
                         e->inc};
        for (int i = 0; i < 5; i++)
            h = (h ^ v[i]) * 1099511628211ull;
    }
    net_free(&net);
    return h;
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    RM_RUN(test_api);
    RM_RUN(test_join);
    RM_RUN(test_parts);
    RM_RUN(test_crash);
    RM_RUN(test_restart);
    RM_RUN(test_refute);
    RM_RUN(test_indirect);
    RM_RUN(test_leave);
    RM_RUN(test_meta);
    RM_RUN(test_partition);
    RM_RUN(test_nat);
    RM_RUN(test_health);
    RM_RUN(test_malformed);
    CHECK(run_digest() == run_digest());
    RM_TEST_DONE();
}
