/*  rm_xfer as a swarm: one seed and several nodes that fetch the same
    project from each other at once, on a simulated network where each
    node's upload is a FIFO link of a fixed rate (as meshd's
    upload_limit_mbps makes it) and every message takes a fixed latency.
    Each node is a real rm_xfer with its own store, answering CHUNK_GET
    from its store and CHUNK_MAP with rm_xfer_chunk_map while it fetches.

    What is checked is what the chunk maps, rarest first and the endgame
    are for: every node ends with the whole project, the seed uploads
    little more than one copy of it, and the last node finishes close to
    the Kumar-Ross lower bound max(F/u_seed, N*F/(u_seed + sum u_i)) = F/u
    here (every upload u, downloads unlimited), where asking the seed alone
    would take N*F/u. */
#include "rm_manifest.h"
#include "rm_test.h"
#include "rm_xfer.h"

#include <stdint.h>
#include <sys/stat.h>

#define NODES 8                  /* the seed and 7 fetching */
#define PROJECT_BYTES (16 << 20) /* ~256 chunks */
#define UPLOAD 1000              /* bytes per ms (1 MB/s) on every node */
#define LATENCY_MS 2

typedef struct {
    char addr[16];
    rm_store_t *store;
    rm_xfer_t *xfer;
    bool dead;          /* answers nothing, sends nothing */
    int64_t mute_until; /* drops chunk requests until then (maps still answered) */
    int64_t up_free;    /* its upload is busy until then */
    uint64_t uploaded;  /* chunk bytes sent */
    int64_t finished;   /* when its fetch ended; -1 not yet */
    int status;
    char error[RM_ERR_MSG_MAX];
} node_t;

typedef struct {
    int64_t at;
    size_t from, to;
    uint8_t *buf;
    size_t len;
} event_t;

static char base[64];
static node_t nodes[NODES];
static event_t *events;
static size_t nevents, capevents;
static int64_t now;
static rm_hash_t manifest;
static uint64_t project_bytes; /* its chunks, the manifest included */

static void post(int64_t at, size_t from, size_t to, uint8_t *buf, size_t len)
{
    if (nevents == capevents) {
        capevents = capevents ? capevents * 2 : 256;
        events = realloc(events, capevents * sizeof *events);
        CHECK(events != NULL);
    }
    events[nevents++] = (event_t){at, from, to, buf, len};
}

static size_t node_of(const char *addr)
{
    for (size_t i = 0; i < NODES; i++)
        if (strcmp(nodes[i].addr, addr) == 0)
            return i;
    return NODES;
}

/*  rm_xfer's send: the message reaches its node after the latency.  The
    sender is found by its rm_xfer's callback argument. */
static int sim_send(void *arg, const char *addr, const uint8_t *data, size_t len)
{
    size_t from = (size_t)(uintptr_t)arg, to = node_of(addr);
    if (to == NODES || nodes[from].dead)
        return -1;
    uint8_t *copy = malloc(len);
    memcpy(copy, data, len);
    post(now + LATENCY_MS, from, to, copy, len);
    return 0;
}

/*  Node `to` answers a request: a map at once, a chunk through its upload
    link, after what it is already sending. */
static void serve(size_t to, size_t from, const rm_msg_t *msg)
{
    node_t *n = &nodes[to];
    uint8_t *buf = NULL;
    size_t len = 0;
    rm_err_t err;
    int64_t at = now + LATENCY_MS;
    if (msg->type == RM_MSG_CHUNK_MAP) {
        rm_chunk_map_reply_t reply = {{0}, {0}};
        if (rm_xfer_chunk_map(n->xfer, &msg->u.chunk_map.hash, &reply, &err) == 0)
            CHECK(rm_msg_encode(RM_MSG_CHUNK_MAP_REPLY, msg->req, &reply, &buf, &len, &err) == 0);
        else
            CHECK(rm_msg_encode_error(msg->req, err.code, err.msg, &buf, &len, &err) == 0);
        rm_codec_free(rm_msg_desc(RM_MSG_CHUNK_MAP_REPLY), &reply);
    } else if (now < n->mute_until) {
        return; /* a hiccup: its uploads stall, its maps do not */
    } else {
        rm_chunk_t c = {msg->u.chunk_ref.hash, {NULL, 0}};
        if (rm_store_get(n->store, &c.hash, &c.data.data, &c.data.len, &err) != 0) {
            CHECK(rm_msg_encode_error(msg->req, err.code, err.msg, &buf, &len, &err) == 0);
        } else {
            CHECK(rm_msg_encode(RM_MSG_CHUNK_DATA, msg->req, &c, &buf, &len, &err) == 0);
            int64_t start = n->up_free > now ? n->up_free : now;
            n->up_free = start + (int64_t)((c.data.len + UPLOAD - 1) / UPLOAD);
            n->uploaded += c.data.len;
            at = n->up_free + LATENCY_MS;
        }
        free(c.data.data);
    }
    post(at, to, from, buf, len);
}

static void deliver(event_t e)
{
    rm_msg_t msg;
    rm_err_t err;
    if (!nodes[e.to].dead) {
        CHECK(rm_msg_decode(e.buf, e.len, &msg, &err) == 0);
        if (msg.type == RM_MSG_CHUNK_GET || msg.type == RM_MSG_CHUNK_MAP)
            serve(e.to, e.from, &msg);
        else
            rm_xfer_on_message(nodes[e.to].xfer, nodes[e.from].addr, &msg);
        rm_msg_free(&msg);
    }
    free(e.buf);
}

static void on_done(void *arg, const rm_hash_t *hash, int status, const char *error)
{
    node_t *n = arg;
    (void)hash;
    n->finished = now;
    n->status = status;
    snprintf(n->error, sizeof n->error, "%s", error ? error : "");
}

/*  Runs events and ticks in time order until every live fetch ended or
    `limit` ms passed; kills node `victim` at `kill_at` (-1: none). */
static void simulate(int64_t limit, size_t victim, int64_t kill_at)
{
    for (;;) {
        int64_t next = INT64_MAX;
        bool busy = false;
        for (size_t i = 1; i < NODES; i++) {
            if (nodes[i].dead || nodes[i].finished >= 0)
                continue;
            busy = true;
            int64_t w = rm_xfer_wakeup(nodes[i].xfer, now);
            if (w != RM_XFER_IDLE && now + w < next)
                next = now + w;
        }
        for (size_t k = 0; k < nevents; k++)
            if (events[k].at < next)
                next = events[k].at;
        if (!busy || next == INT64_MAX || next > limit)
            return;
        now = next;
        if (kill_at >= 0 && now >= kill_at && !nodes[victim].dead)
            nodes[victim].dead = true;
        for (size_t k = 0; k < nevents;) {
            if (events[k].at > now) {
                k++;
                continue;
            }
            event_t e = events[k];
            events[k] = events[--nevents];
            deliver(e);
            k = 0; /* delivering may post: look again from the start */
        }
        for (size_t i = 0; i < NODES; i++)
            if (!nodes[i].dead)
                rm_xfer_tick(nodes[i].xfer, now);
    }
}

static void setup(void)
{
    char home[160];
    snprintf(home, sizeof home, "%s/%s", base, rm_test_case);
    CHECK(mkdir(home, 0700) == 0);
    now = 0;
    for (size_t i = 0; i < NODES; i++) {
        char dir[128];
        rm_err_t err;
        snprintf(nodes[i].addr, sizeof nodes[i].addr, "tcp://n%zu", i);
        snprintf(dir, sizeof dir, "%s/%s/n%zu", base, rm_test_case, i);
        nodes[i].store = rm_store_new(dir, &err);
        CHECK_MSG(nodes[i].store, "%s", err.msg);
        nodes[i].xfer = rm_xfer_new(nodes[i].store, sim_send, (void *)(uintptr_t)i, &err);
        nodes[i].dead = false;
        nodes[i].mute_until = 0;
        nodes[i].up_free = 0;
        nodes[i].uploaded = 0;
        nodes[i].finished = -1;
    }
    /* The seed builds the project: one file of random bytes. */
    char proj[128], file[160];
    snprintf(proj, sizeof proj, "%s/%s/proj", base, rm_test_case);
    CHECK(mkdir(proj, 0700) == 0);
    snprintf(file, sizeof file, "%s/shot.blend", proj);
    FILE *f = fopen(file, "wb");
    uint64_t x = 88172645463325252ULL;
    for (size_t i = 0; i < PROJECT_BYTES / 8; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        fwrite(&x, 8, 1, f);
    }
    fclose(f);
    rm_manifest_t m;
    rm_err_t err;
    const char *paths[] = {file};
    CHECK(rm_manifest_build(proj, paths, 1, nodes[0].store, NULL, NULL, &m, &err) == 0);
    CHECK(rm_manifest_store(&m, nodes[0].store, NULL, NULL, &manifest, &err) == 0);
    rm_hash_t *chunks = NULL;
    uint32_t n = 0;
    CHECK(rm_manifest_chunks(&m, &chunks, &n, &err) == 0);
    project_bytes = 0;
    for (uint32_t i = 0; i <= n; i++) {
        uint8_t *data = NULL;
        size_t len = 0;
        CHECK(rm_store_get(nodes[0].store, i < n ? &chunks[i] : &manifest, &data, &len, &err) == 0);
        project_bytes += len;
        free(data);
    }
    free(chunks);
    rm_manifest_free(&m);
}

/*  Every node but the seed fetches the project from all the others, the
    seed first. */
static void start_fetches(void)
{
    for (size_t i = 1; i < NODES; i++) {
        const char *src[NODES - 1];
        size_t n = 0;
        for (size_t j = 0; j < NODES; j++)
            if (j != i)
                src[n++] = nodes[j].addr;
        rm_err_t err;
        CHECK(rm_xfer_fetch(nodes[i].xfer, &manifest, true, src, n, on_done, &nodes[i], &err) == 0);
    }
}

static void teardown(void)
{
    for (size_t i = 0; i < NODES; i++) {
        rm_xfer_destroy(&nodes[i].xfer);
        rm_store_destroy(&nodes[i].store);
    }
    for (size_t k = 0; k < nevents; k++)
        free(events[k].buf);
    nevents = 0;
}

static void test_a_project_swarms_near_the_lower_bound(void)
{
    setup();
    start_fetches();
    double bound = (double)project_bytes / UPLOAD; /* F/u: the seed must send it all once */
    simulate((int64_t)(bound * 10), NODES, -1);
    int64_t last = 0;
    for (size_t i = 1; i < NODES; i++) {
        CHECK_MSG(nodes[i].finished >= 0 && nodes[i].status == 0, "n%zu: %d %s", i, nodes[i].status,
                  nodes[i].error);
        if (nodes[i].finished > last)
            last = nodes[i].finished;
    }
    double ratio = (double)last / bound;
    double seed_copies = (double)nodes[0].uploaded / (double)project_bytes;
    printf("swarm: %d nodes, %llu bytes at %d B/ms each: last done at %lld ms = %.2f x the "
           "bound (%.0f ms; the seed alone: %.0f ms); the seed sent %.2f copies\n",
           NODES, (unsigned long long)project_bytes, UPLOAD, (long long)last, ratio, bound,
           bound * (NODES - 1), seed_copies);
    for (size_t i = 1; i < NODES; i++)
        printf("  n%zu done at %lld ms, uploaded %.2f copies\n", i, (long long)nodes[i].finished,
               (double)nodes[i].uploaded / (double)project_bytes);
    /* 1.15-1.19 and 1.20-1.26 in ten runs (random first picks); asking
       chunks in random order without maps took 3.4 x the bound. */
    CHECK_MSG(ratio <= 1.3, "%.2f x the bound", ratio);
    CHECK_MSG(seed_copies <= 1.4, "the seed sent %.2f copies", seed_copies);
    teardown();
}

/*  A fetching node dies a third of the way in: the others finish. */
static void test_a_peer_that_dies_does_not_stop_the_swarm(void)
{
    setup();
    start_fetches();
    double bound = (double)project_bytes / UPLOAD;
    simulate((int64_t)(bound * 10), 3, (int64_t)(bound / 3));
    int64_t last = 0;
    for (size_t i = 1; i < NODES; i++) {
        if (i == 3)
            continue;
        CHECK_MSG(nodes[i].finished >= 0 && nodes[i].status == 0, "n%zu: %d %s", i, nodes[i].status,
                  nodes[i].error);
        last = nodes[i].finished > last ? nodes[i].finished : last;
    }
    printf("a peer died at %.0f ms: the last of the others done at %lld ms (%.2f x the bound)\n",
           bound / 3, (long long)last, (double)last / bound);
    CHECK_MSG(last <= bound * 2, "%lld ms", (long long)last);
    teardown();
}

/*  A peer's uploads stall for longer than a request's timeout, then come
    back: the nodes whose requests to it timed out ask it again once it
    answers their chunk maps, and its upload is used for the rest. */
static void test_a_peer_that_stalls_is_asked_again_once_it_answers(void)
{
    setup();
    start_fetches();
    double bound = (double)project_bytes / UPLOAD;
    int64_t back = (int64_t)(bound / 4) + RM_XFER_TIMEOUT_MS + 1000;
    nodes[3].mute_until = back;
    simulate(back, NODES, -1);
    uint64_t before = nodes[3].uploaded;
    simulate((int64_t)(bound * 10), NODES, -1);
    double after = (double)(nodes[3].uploaded - before) / (double)project_bytes;
    for (size_t i = 1; i < NODES; i++)
        CHECK_MSG(nodes[i].finished >= 0 && nodes[i].status == 0, "n%zu: %d %s", i, nodes[i].status,
                  nodes[i].error);
    printf("n3 stalled until %lld ms: it uploaded %.2f copies after\n", (long long)back, after);
    CHECK_MSG(after >= 0.3, "n3 uploaded %.2f copies once back", after);
    teardown();
}

/*  The seed dies before every chunk left it: the fetches end, naming a
    chunk no source could send (the dead seed's silence the last reason),
    instead of waiting for ever. */
static void test_chunks_only_a_dead_seed_had_end_the_fetches(void)
{
    setup();
    start_fetches();
    double bound = (double)project_bytes / UPLOAD;
    int64_t kill_at = (int64_t)(bound / 3);
    simulate((int64_t)(bound * 10), 0, kill_at);
    for (size_t i = 1; i < NODES; i++) {
        CHECK_MSG(nodes[i].finished >= 0 && nodes[i].status != 0 &&
                      strstr(nodes[i].error, "no source"),
                  "n%zu: %lld ms, %d %s", i, (long long)nodes[i].finished, nodes[i].status,
                  nodes[i].error);
        CHECK_MSG(nodes[i].finished - kill_at <= 4 * RM_XFER_TIMEOUT_MS, "n%zu ended at %lld ms", i,
                  (long long)nodes[i].finished);
    }
    printf("the seed died at %lld ms: n1 ended at %lld ms: %s\n", (long long)kill_at,
           (long long)nodes[1].finished, nodes[1].error);
    teardown();
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    snprintf(base, sizeof base, "/tmp/rm_swarm_test.XXXXXX");
    if (!mkdtemp(base)) {
        perror("mkdtemp");
        return 1;
    }
    RM_RUN(test_a_project_swarms_near_the_lower_bound);
    RM_RUN(test_a_peer_that_dies_does_not_stop_the_swarm);
    RM_RUN(test_a_peer_that_stalls_is_asked_again_once_it_answers);
    RM_RUN(test_chunks_only_a_dead_seed_had_end_the_fetches);
    free(events);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    CHECK(system(cmd) == 0);
    RM_TEST_DONE();
}
