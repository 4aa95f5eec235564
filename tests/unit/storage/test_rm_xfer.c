/*  Tests for rm_xfer, with stores in temporary folders as the nodes, an
    in-test network that carries CHUNK_GET to them and their answers back,
    and a fake clock: a project fetched from three nodes of which one is
    down, bad data, chunks nobody has, shared fetches, stray and late
    replies, the window, a full disk (as root), and the fetched project
    materializing byte for byte. */
#include "rm_manifest.h"
#include "rm_test.h"
#include "rm_xfer.h"

#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_NODES 8

typedef enum { NODE_OK, NODE_DOWN, NODE_CORRUPT, NODE_OTHER } node_mode_t;

typedef struct {
    const char *addr;
    rm_store_t *store;
    node_mode_t mode;
    int requests;
} node_t;

typedef struct {
    size_t node;
    uint64_t req;
    rm_hash_t hash;
    bool closed; /* answered, or past the deadline rm_xfer gave it */
    bool armed;
    int64_t deadline;
    int64_t sent_at;
} request_t;

/*  The network: every request ever sent, delivered in order. */
typedef struct {
    node_t nodes[MAX_NODES];
    size_t nnodes;
    request_t *reqs;
    size_t nreqs, next;
    size_t open, max_open; /* requests rm_xfer still waits for */
    rm_xfer_t *xfer;
    int64_t now;
} net_t;

typedef struct {
    int calls;
    int status;
    char error[RM_ERR_MSG_MAX];
} done_t;

typedef struct {
    char base[64];
    char proj[128];
    const char *files[6];
    rm_store_t *origin; /* everything, built with rm_manifest */
    rm_manifest_t m;
    rm_hash_t mhash;
    rm_hash_t *chunks; /* distinct chunks of the project */
    uint32_t nchunks;
    uint64_t bytes; /* of those chunks and the manifest */
} project_t;

static void fill_random(uint8_t *buf, size_t len, uint64_t seed)
{
    for (size_t i = 0; i < len; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        buf[i] = (uint8_t)(seed >> 56);
    }
}

static void pathf(char *out, size_t size, const char *dir, const char *rel)
{
    CHECK(snprintf(out, size, "%s/%s", dir, rel) < (int)size);
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *data = malloc(n > 0 ? (size_t)n : 1);
    *len = fread(data, 1, (size_t)n, f);
    fclose(f);
    return data;
}

static rm_store_t *new_store(const project_t *p, const char *name)
{
    char dir[256];
    rm_err_t err;
    pathf(dir, sizeof dir, p->base, name);
    rm_store_t *store = rm_store_new(dir, &err);
    CHECK_MSG(store, "%s", err.msg);
    return store;
}

static void copy_chunk(rm_store_t *from, rm_store_t *to, const rm_hash_t *h)
{
    uint8_t *data = NULL;
    size_t len = 0;
    rm_err_t err;
    CHECK(rm_store_get(from, h, &data, &len, &err) == 0);
    CHECK(rm_store_put(to, h, data, len, &err) == 0);
    free(data);
}

/*  --- The project ---------------------------------------------------------- */

static void make_project(project_t *p)
{
    static const struct {
        const char *rel;
        size_t size;
    } files[] = {{"scene.blend", 400 * 1000}, {"tex/a.png", 900 * 1000},
                 {"tex/b.exr", 600 * 1000},   {"tex/c.png", 300 * 1000},
                 {"lib/l.blend", 500 * 1000}, {"tex/copy_of_a.png", 900 * 1000}};
    char path[512];
    pathf(p->proj, sizeof p->proj, p->base, "proj");
    const char *dirs[] = {"proj", "proj/tex", "proj/lib"};
    for (size_t i = 0; i < 3; i++) {
        pathf(path, sizeof path, p->base, dirs[i]);
        CHECK(mkdir(path, 0700) == 0);
    }
    for (size_t i = 0; i < 6; i++) {
        uint8_t *data = malloc(files[i].size);
        fill_random(data, files[i].size, i == 5 ? 2 : i + 1); /* the copy repeats a.png */
        pathf(path, sizeof path, p->proj, files[i].rel);
        FILE *f = fopen(path, "wb");
        CHECK(f && fwrite(data, 1, files[i].size, f) == files[i].size);
        if (f)
            fclose(f);
        free(data);
        p->files[i] = files[i].rel;
    }
    char blend[512], tex[512], lib[512];
    pathf(blend, sizeof blend, p->proj, "scene.blend");
    pathf(tex, sizeof tex, p->proj, "tex");
    pathf(lib, sizeof lib, p->proj, "lib");
    const char *paths[] = {blend, tex, lib};
    rm_err_t err;
    p->origin = new_store(p, "origin");
    CHECK(rm_manifest_build(p->proj, paths, 3, p->origin, NULL, NULL, &p->m, &err) == 0);
    CHECK(rm_manifest_store(&p->m, p->origin, NULL, NULL, &p->mhash, &err) == 0);
    /* The distinct chunks: what a store without any of them lacks. */
    rm_store_t *empty = new_store(p, "empty");
    CHECK(rm_manifest_missing(&p->m, empty, &p->chunks, &p->nchunks, UINT32_MAX, &err) == 0);
    rm_store_destroy(&empty);
    uint8_t *data = NULL;
    size_t len = 0;
    CHECK(rm_store_get(p->origin, &p->mhash, &data, &len, &err) == 0);
    p->bytes = len;
    free(data);
    for (uint32_t i = 0; i < p->nchunks; i++) {
        CHECK(rm_store_get(p->origin, &p->chunks[i], &data, &len, &err) == 0);
        p->bytes += len;
        free(data);
    }
    printf("project: %u files, %u distinct chunks, %llu bytes\n", p->m.files.count, p->nchunks,
           (unsigned long long)p->bytes);
    CHECK(p->nchunks > RM_XFER_WINDOW); /* so requests queue */
}

/*  Every file of the project, materialized from `store`, is byte-identical
    to the original. */
static void check_materialized(const project_t *p, rm_store_t *store, const char *name)
{
    char out[256], a[512], b[512];
    rm_err_t err;
    pathf(out, sizeof out, p->base, name);
    CHECK_MSG(rm_manifest_materialize(&p->m, store, out, &err) == 0, "%s", err.msg);
    for (size_t i = 0; i < 6; i++) {
        size_t la = 0, lb = 0;
        pathf(a, sizeof a, p->proj, p->files[i]);
        pathf(b, sizeof b, out, p->files[i]);
        uint8_t *da = read_file(a, &la), *db = read_file(b, &lb);
        CHECK_MSG(da && db && la == lb && memcmp(da, db, la) == 0, "%s differs", b);
        free(da);
        free(db);
    }
}

/*  --- The network ----------------------------------------------------------- */

static size_t add_node(net_t *net, const char *addr, rm_store_t *store, node_mode_t mode)
{
    net->nodes[net->nnodes] = (node_t){addr, store, mode, 0};
    return net->nnodes++;
}

static int fake_send(void *arg, const char *addr, const uint8_t *data, size_t len)
{
    net_t *net = arg;
    rm_msg_t msg;
    rm_err_t err;
    int rc = rm_msg_decode(data, len, &msg, &err);
    CHECK_MSG(rc == 0 && msg.type == RM_MSG_CHUNK_GET, "%s", err.msg);
    size_t n = 0;
    while (n < net->nnodes && strcmp(net->nodes[n].addr, addr) != 0)
        n++;
    if (rc != 0 || n == net->nnodes) {
        rm_msg_free(&msg);
        return -1; /* no such node: unreachable */
    }
    request_t *grown = realloc(net->reqs, (net->nreqs + 1) * sizeof *grown);
    CHECK(grown != NULL);
    net->reqs = grown;
    net->reqs[net->nreqs++] =
        (request_t){n, msg.req, msg.u.chunk_ref.hash, false, false, 0, net->now};
    net->nodes[n].requests++;
    net->open++;
    if (net->open > net->max_open)
        net->max_open = net->open;
    CHECK_MSG(net->open <= RM_XFER_WINDOW, "%zu requests open", net->open);
    rm_msg_free(&msg);
    return 0;
}

/*  The node answers request i from its store; the reply goes through the
    codec to rm_xfer. */
static void answer(net_t *net, size_t i)
{
    request_t r = net->reqs[i];
    node_t *node = &net->nodes[r.node];
    uint8_t *data = NULL, *buf = NULL;
    size_t len = 0, blen = 0;
    rm_err_t err;
    if (rm_store_get(node->store, &r.hash, &data, &len, &err) != 0) {
        CHECK(rm_msg_encode_error(r.req, RM_ENOTFOUND, err.msg, &buf, &blen, &err) == 0);
    } else {
        rm_chunk_t c = {r.hash, {data, len}};
        if (node->mode == NODE_CORRUPT && len > 0)
            data[len / 2] ^= 1;
        if (node->mode == NODE_OTHER)
            c.hash.b[0] ^= 1;
        CHECK(rm_msg_encode(RM_MSG_CHUNK_DATA, r.req, &c, &buf, &blen, &err) == 0);
    }
    rm_msg_t msg;
    CHECK(rm_msg_decode(buf, blen, &msg, &err) == 0);
    net->reqs[i].closed = true;
    net->open--;
    for (size_t k = 0; k < net->nreqs; k++) /* the node is alive: timeouts restart */
        if (net->reqs[k].node == r.node && !net->reqs[k].closed)
            net->reqs[k].armed = false;
    CHECK_MSG(rm_xfer_on_message(net->xfer, node->addr, &msg), "reply to %s ignored", node->addr);
    rm_msg_free(&msg);
    free(buf);
    free(data);
}

/*  Delivers every request sent so far (and those sent meanwhile). */
static void net_pump(net_t *net)
{
    while (net->next < net->nreqs) {
        size_t i = net->next++;
        if (net->nodes[net->reqs[i].node].mode != NODE_DOWN)
            answer(net, i);
    }
}

/*  Ticks rm_xfer at `now`, keeping our count of open requests in step:
    rm_xfer expires requests whose deadline passed, then starts the
    timeout of those sent, or whose node answered another, since the last
    tick (and during this one). */
static void net_tick(net_t *net, int64_t now)
{
    net->now = now;
    for (size_t i = 0; i < net->nreqs; i++)
        if (!net->reqs[i].closed && net->reqs[i].armed && net->reqs[i].deadline <= now) {
            net->reqs[i].closed = true;
            net->open--;
        }
    rm_xfer_tick(net->xfer, now);
    for (size_t i = 0; i < net->nreqs; i++)
        if (!net->reqs[i].closed && !net->reqs[i].armed) {
            net->reqs[i].armed = true;
            net->reqs[i].deadline = now + RM_XFER_TIMEOUT_MS;
        }
}

/*  Runs network and clock until no fetch is left. */
static void run(net_t *net)
{
    for (int round = 0; round < 100 && rm_xfer_active(net->xfer) > 0; round++) {
        net_pump(net);
        int64_t wait = rm_xfer_wakeup(net->xfer, net->now);
        if (wait == RM_XFER_IDLE)
            break;
        CHECK(wait >= 0 && wait <= RM_XFER_TIMEOUT_MS);
        net_tick(net, net->now + wait);
    }
    CHECK(rm_xfer_active(net->xfer) == 0);
}

static void net_start(net_t *net, rm_store_t *dest)
{
    memset(net, 0, sizeof *net);
    rm_err_t err;
    net->now = 1000;
    net->xfer = rm_xfer_new(dest, fake_send, net, &err);
    CHECK_MSG(net->xfer, "%s", err.msg);
}

static void net_stop(net_t *net)
{
    rm_xfer_destroy(&net->xfer);
    CHECK(net->xfer == NULL);
    free(net->reqs);
}

static void on_done(void *arg, const rm_hash_t *hash, int status, const char *error)
{
    done_t *d = arg;
    (void)hash;
    d->calls++;
    d->status = status;
    snprintf(d->error, sizeof d->error, "%s", error ? error : "(null)");
}

static int fetch(net_t *net, const rm_hash_t *h, bool tree, const char *const *src, size_t n,
                 done_t *d)
{
    rm_err_t err;
    int rc = rm_xfer_fetch(net->xfer, h, tree, src, n, on_done, d, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    return rc;
}

/*  --- Tests ---------------------------------------------------------------- */

/*  The project, made once in main; each case fetches into a store named
    after it. */
static project_t project;
static const project_t *const p = &project;

/*  The running case's network and the store it fetches into. */
static net_t net;
static rm_store_t *dest;

static void begin(void)
{
    dest = new_store(p, rm_test_case);
    net_start(&net, dest);
}

static void end(void)
{
    net_stop(&net);
    rm_store_destroy(&dest);
}

/*  Fetches, then runs network and clock until no fetch is left. */
static done_t fetch_run(const rm_hash_t *h, bool tree, const char *const *src, size_t n)
{
    done_t d = {0};
    fetch(&net, h, tree, src, n, &d);
    run(&net);
    return d;
}

/*  Origin has everything and answers; down has everything and is silent. */
static const char *origin_src[] = {"tcp://origin:1"}, *down_src[] = {"tcp://down:1"};

static void begin_origin_down(void)
{
    begin();
    add_node(&net, "tcp://origin:1", p->origin, NODE_OK);
    add_node(&net, "tcp://down:1", p->origin, NODE_DOWN);
}

/*  Sources made once: A holds the manifest and two chunks in three, B the
    other third and one of A's; partial all but chunks[0]. */
static rm_store_t *store_a, *store_b, *partial;

static void make_sources(void)
{
    store_a = new_store(p, "a");
    store_b = new_store(p, "b");
    partial = new_store(p, "partial");
    copy_chunk(p->origin, store_a, &p->mhash);
    copy_chunk(p->origin, partial, &p->mhash);
    for (uint32_t i = 0; i < p->nchunks; i++) {
        if (i % 3 != 1)
            copy_chunk(p->origin, store_a, &p->chunks[i]);
        if (i % 3 != 0)
            copy_chunk(p->origin, store_b, &p->chunks[i]);
        if (i != 0)
            copy_chunk(p->origin, partial, &p->chunks[i]);
    }
}

/*  The project from A and B, which hold a part each, and C, which is down. */
static void test_fetches_a_project_from_the_sources_that_answer(void)
{
    begin();
    add_node(&net, "tcp://a:7000", store_a, NODE_OK);
    add_node(&net, "tcp://b:7000", store_b, NODE_OK);
    add_node(&net, "tcp://c:7000", p->origin, NODE_DOWN);
    const char *src[] = {"tcp://a:7000", "tcp://b:7000", "tcp://c:7000"};
    done_t d = {0};
    int64_t start = net.now;
    fetch(&net, &p->mhash, true, src, 3, &d);
    CHECK(d.calls == 0 && rm_xfer_active(net.xfer) == 1);
    CHECK(net.nreqs == 1);                         /* the manifest first */
    CHECK(rm_xfer_wakeup(net.xfer, net.now) == 0); /* its timeout starts at the next tick */
    net_tick(&net, net.now);
    CHECK(rm_xfer_wakeup(net.xfer, net.now) == RM_XFER_TIMEOUT_MS);
    run(&net);
    CHECK_MSG(d.calls == 1 && d.status == 0, "%d calls, status %d: %s", d.calls, d.status, d.error);
    CHECK(net.max_open == RM_XFER_WINDOW);
    CHECK(net.now - start >= RM_XFER_TIMEOUT_MS); /* C's requests timed out */
    for (size_t i = 0; i < 3; i++)
        CHECK_MSG(net.nodes[i].requests > 0, "%s got no request", net.nodes[i].addr);
    for (size_t i = 0; i < net.nreqs; i++) /* once timed out, c is not asked again */
        CHECK(net.reqs[i].node != 2 || net.reqs[i].sent_at == start);
    printf("tree fetch: %zu requests (a %d, b %d, c %d), %lld ms\n", net.nreqs,
           net.nodes[0].requests, net.nodes[1].requests, net.nodes[2].requests,
           (long long)(net.now - start));
    uint64_t bytes = 0, chunks = 0;
    rm_xfer_stats(net.xfer, &bytes, &chunks);
    CHECK_MSG(chunks == p->nchunks + 1 && bytes == p->bytes, "%llu chunks, %llu bytes",
              (unsigned long long)chunks, (unsigned long long)bytes);
    CHECK(rm_xfer_wakeup(net.xfer, net.now) == RM_XFER_IDLE);
    check_materialized(p, dest, "out1");
    end();
}

/*  A source with corrupted data, one that sends another chunk, a good one. */
static const char *bad_src[] = {"tcp://corrupt:1", "tcp://other:1", "tcp://good:1"};

static void begin_bad_data(void)
{
    begin();
    add_node(&net, bad_src[0], p->origin, NODE_CORRUPT);
    add_node(&net, bad_src[1], p->origin, NODE_OTHER);
    add_node(&net, bad_src[2], p->origin, NODE_OK);
}

static void test_bad_data_is_dropped_and_the_next_source_asked(void)
{
    begin_bad_data();
    done_t d1 = fetch_run(&p->chunks[0], false, bad_src, 3);
    CHECK_MSG(d1.calls == 1 && d1.status == 0, "%s", d1.error);
    CHECK(net.nodes[0].requests == 1 && net.nodes[1].requests == 1 && net.nodes[2].requests == 1);
    uint8_t *data = NULL;
    size_t len = 0;
    rm_err_t err;
    CHECK(rm_store_get(dest, &p->chunks[0], &data, &len, &err) == 0);
    free(data);
    end();
}

static void test_only_bad_data_fails_the_fetch_and_stores_nothing(void)
{
    begin_bad_data();
    done_t d2 = fetch_run(&p->chunks[1], false, bad_src, 2); /* only the bad ones */
    char hex[65];
    rm_hash_hex(&p->chunks[1], hex);
    CHECK_MSG(d2.calls == 1 && d2.status == RM_EPROTO && strstr(d2.error, hex) &&
                  strstr(d2.error, "asked 2"),
              "%d: %s", d2.status, d2.error);
    printf("bad data: %s\n", d2.error);
    CHECK(!rm_store_has(dest, &p->chunks[1]));
    end();
}

/*  A and B have all but chunks[0], origin has everything, down is silent. */
static const char *fail_src[] = {"tcp://a:1", "tcp://b:1", "tcp://origin:1"};

static void begin_failures(void)
{
    begin();
    add_node(&net, "tcp://a:1", partial, NODE_OK);
    add_node(&net, "tcp://b:1", partial, NODE_OK);
    add_node(&net, "tcp://origin:1", p->origin, NODE_OK);
    add_node(&net, "tcp://down:1", p->origin, NODE_DOWN);
}

static void end_failures(void)
{
    CHECK(rm_xfer_wakeup(net.xfer, net.now) == RM_XFER_IDLE);
    end();
}

static void test_a_chunk_nobody_has_is_not_found(void)
{
    begin_failures();
    char hex[65];
    rm_hash_t nobody;
    fill_random(nobody.b, sizeof nobody.b, 99);
    rm_hash_hex(&nobody, hex);
    done_t d1 = fetch_run(&nobody, false, fail_src, 3);
    CHECK_MSG(d1.calls == 1 && d1.status == RM_ENOTFOUND && strstr(d1.error, hex) &&
                  strstr(d1.error, "no source has it (asked 3)"),
              "%d: %s", d1.status, d1.error);
    printf("nobody has it: %s\n", d1.error);
    end_failures();
}

static void test_a_project_with_a_chunk_nobody_has_fails_naming_it(void)
{
    begin_failures();
    char hex[65];
    done_t d2 = fetch_run(&p->mhash, true, fail_src, 2); /* a and b lack chunks[0] */
    rm_hash_hex(&p->chunks[0], hex);
    CHECK_MSG(d2.calls == 1 && d2.status == RM_ENOTFOUND && strstr(d2.error, hex) &&
                  strstr(d2.error, "fetching manifest"),
              "%d: %s", d2.status, d2.error);
    printf("project with a lost chunk: %s\n", d2.error);
    end_failures();
}

static void test_a_silent_source_times_out_on_time(void)
{
    begin_failures();
    done_t d3 = {0};
    fetch(&net, &p->chunks[0], false, down_src, 1, &d3);
    CHECK(rm_xfer_wakeup(net.xfer, net.now) == 0);
    net_tick(&net, net.now);
    net_tick(&net, net.now + RM_XFER_TIMEOUT_MS - 1);
    CHECK(d3.calls == 0 && rm_xfer_wakeup(net.xfer, net.now) == 1);
    net_tick(&net, net.now + 1);
    CHECK_MSG(d3.calls == 1 && d3.status == RM_ETIMEOUT && strstr(d3.error, "tcp://down:1"),
              "%d: %s", d3.status, d3.error);
    printf("silent source: %s\n", d3.error);
    end_failures();
}

static void test_a_chunk_that_is_not_a_manifest_fails_a_project_fetch(void)
{
    begin_failures();
    rm_hash_t junk;
    uint8_t bytes[1000];
    fill_random(bytes, sizeof bytes, 7);
    rm_err_t err;
    CHECK(rm_store_put_data(partial, bytes, sizeof bytes, &junk, &err) == 0);
    done_t d4 = fetch_run(&junk, true, fail_src, 1);
    CHECK_MSG(d4.calls == 1 && d4.status != 0 && strstr(d4.error, "manifest"), "%d: %s", d4.status,
              d4.error);
    printf("not a manifest: %s\n", d4.error);
    end_failures();
}

/*  Two fetches of the project (one source each) and one of a chunk in it,
    at once: both project callbacks run, no chunk comes twice. */
static void test_fetches_of_one_project_share_its_chunks(void)
{
    begin();
    add_node(&net, "tcp://a:7000", store_a, NODE_OK);
    add_node(&net, "tcp://b:7000", store_b, NODE_OK);
    add_node(&net, "tcp://origin:1", p->origin, NODE_OK);
    const char *sa[] = {"tcp://a:7000"}, *sb[] = {"tcp://b:7000"};
    done_t d1 = {0}, d2 = {0}, d3 = {0};
    fetch(&net, &p->chunks[1], false, origin_src, 1, &d3);
    fetch(&net, &p->mhash, true, sa, 1, &d1);
    fetch(&net, &p->mhash, true, sb, 1, &d2); /* joins, adds b */
    CHECK(rm_xfer_active(net.xfer) == 2);
    run(&net);
    CHECK_MSG(d1.calls == 1 && d1.status == 0, "%s", d1.error);
    CHECK_MSG(d2.calls == 1 && d2.status == 0, "%s", d2.error);
    CHECK_MSG(d3.calls == 1 && d3.status == 0, "%s", d3.error);
    uint64_t chunks = 0;
    rm_xfer_stats(net.xfer, NULL, &chunks);
    CHECK_MSG(chunks == p->nchunks + 1, "%llu chunks received", (unsigned long long)chunks);
    CHECK(net.nodes[1].requests > 0); /* b's chunks came from b */
    check_materialized(p, dest, "out4");
    end();
}

/*  A CHUNK_DATA reply carrying hash from the origin's store. */
static rm_msg_t chunk_reply(uint64_t req, const rm_hash_t *hash, uint8_t **data)
{
    size_t len = 0;
    rm_err_t err;
    *data = NULL;
    CHECK(rm_store_get(p->origin, hash, data, &len, &err) == 0);
    rm_msg_t msg = {.version = RM_PROTO_VERSION, .type = RM_MSG_CHUNK_DATA, .req = req};
    msg.u.chunk = (rm_chunk_t){*hash, {*data, len}};
    return msg;
}

/*  Replies from the wrong address, with unknown req ids, of other types,
    or twice are not ours. */
static void test_stray_replies_are_not_taken(void)
{
    begin_origin_down();
    done_t d = {0};
    fetch(&net, &p->chunks[2], false, origin_src, 1, &d);
    CHECK(net.nreqs == 1);
    uint64_t req = net.reqs[0].req;
    uint8_t *data;
    rm_msg_t msg = chunk_reply(req, &p->chunks[2], &data);
    CHECK(!rm_xfer_on_message(net.xfer, "tcp://evil:1", &msg));
    msg.req = req + 1;
    CHECK(!rm_xfer_on_message(net.xfer, "tcp://origin:1", &msg));
    msg.req = req;
    msg.type = RM_MSG_CHUNK_OK;
    CHECK(!rm_xfer_on_message(net.xfer, "tcp://origin:1", &msg));
    rm_msg_t error = {.version = RM_PROTO_VERSION, .type = RM_MSG_ERROR, .req = req + 7};
    error.u.error = (rm_error_msg_t){RM_ENOTFOUND, "no"};
    CHECK(!rm_xfer_on_message(net.xfer, "tcp://origin:1", &error));
    CHECK(!rm_xfer_on_message(net.xfer, "tcp://origin:1", NULL));
    CHECK(d.calls == 0);
    msg.type = RM_MSG_CHUNK_DATA;
    CHECK(rm_xfer_on_message(net.xfer, "tcp://origin:1", &msg));
    CHECK(d.calls == 1 && d.status == 0);
    CHECK(!rm_xfer_on_message(net.xfer, "tcp://origin:1", &msg)); /* duplicate */
    free(data);
    end();
}

/*  Late: down answers after its request timed out and origin was asked. */
static void test_a_reply_after_its_timeout_is_not_taken(void)
{
    begin_origin_down();
    const char *both[] = {"tcp://down:1", "tcp://origin:1"};
    done_t d2 = {0};
    fetch(&net, &p->chunks[3], false, both, 2, &d2);
    CHECK(net.nreqs == 1 && net.reqs[0].node == 1);
    uint64_t late = net.reqs[0].req;
    net.next = 1;
    net_tick(&net, net.now);
    net_tick(&net, net.now + RM_XFER_TIMEOUT_MS);
    CHECK(net.nreqs == 2 && net.reqs[1].node == 0);
    uint8_t *data;
    rm_msg_t msg = chunk_reply(late, &p->chunks[3], &data);
    CHECK(!rm_xfer_on_message(net.xfer, "tcp://down:1", &msg));
    CHECK(d2.calls == 0);
    run(&net);
    CHECK_MSG(d2.calls == 1 && d2.status == 0, "%s", d2.error);
    uint64_t chunks = 0;
    rm_xfer_stats(net.xfer, NULL, &chunks);
    CHECK(chunks == 1);
    free(data);
    end();
}

/*  Everything already here: the callback runs before rm_xfer_fetch returns
    and nothing is sent. */
static void test_what_is_here_already_completes_at_once_unsent(void)
{
    net_start(&net, p->origin);
    done_t d1 = {0}, d2 = {0};
    const char *src[] = {"tcp://nowhere:1"};
    fetch(&net, &p->mhash, true, src, 1, &d1);
    CHECK_MSG(d1.calls == 1 && d1.status == 0 && d1.error[0] == '\0', "%s", d1.error);
    fetch(&net, &p->chunks[0], false, NULL, 0, &d2);
    CHECK(d2.calls == 1 && d2.status == 0);
    CHECK(net.nreqs == 0 && rm_xfer_active(net.xfer) == 0);
    CHECK(rm_xfer_wakeup(net.xfer, net.now) == RM_XFER_IDLE);
    net_stop(&net);
}

/*  nowhere is not on the network. */
static const char *reach_src[] = {"tcp://nowhere:1", "tcp://origin:1"};

static void test_an_unreachable_source_is_skipped(void)
{
    begin_origin_down();
    done_t d1 = fetch_run(&p->chunks[4], false, reach_src, 2);
    CHECK_MSG(d1.calls == 1 && d1.status == 0, "%s", d1.error);
    end();
}

static void test_with_no_source_reachable_the_fetch_fails_at_once(void)
{
    begin_origin_down();
    done_t d2 = {0};
    fetch(&net, &p->chunks[5], false, reach_src, 1, &d2);
    CHECK_MSG(d2.calls == 1 && d2.status == RM_EUNREACH, "%d: %s", d2.status, d2.error);
    end();
}

static void test_bad_arguments_fail_without_a_callback(void)
{
    begin_origin_down();
    done_t d3 = {0};
    rm_err_t err;
    CHECK(rm_xfer_fetch(net.xfer, &p->chunks[5], false, NULL, 1, on_done, &d3, &err) == -1);
    CHECK(err.code == RM_EINVAL);
    const char *empty[] = {""};
    CHECK(rm_xfer_fetch(net.xfer, &p->chunks[5], false, empty, 1, on_done, &d3, &err) == -1);
    CHECK(d3.calls == 0);
    end();
}

static void test_destroy_drops_pending_fetches_silently(void)
{
    begin_origin_down();
    done_t d3 = {0};
    fetch(&net, &p->mhash, true, down_src, 1, &d3);
    CHECK(rm_xfer_active(net.xfer) == 1);
    end(); /* no callback */
    CHECK(d3.calls == 0);
}

/*  A callback that starts the next fetch. */
typedef struct {
    const rm_hash_t *next;
    const char *src;
    done_t last;
    int calls;
} chain_t;

static void on_chain(void *arg, const rm_hash_t *hash, int status, const char *error)
{
    chain_t *c = arg;
    (void)hash;
    (void)error;
    c->calls++;
    CHECK(status == 0);
    if (c->next) {
        const rm_hash_t *next = c->next;
        c->next = NULL;
        rm_err_t err;
        CHECK(rm_xfer_fetch(net.xfer, next, false, &c->src, 1, on_done, &c->last, &err) == 0);
    }
}

static void test_a_callback_may_start_another_fetch(void)
{
    begin();
    add_node(&net, "tcp://origin:1", p->origin, NODE_OK);
    chain_t c = {&p->chunks[7], "tcp://origin:1", {0}, 0};
    rm_err_t err;
    CHECK(rm_xfer_fetch(net.xfer, &p->chunks[6], false, &c.src, 1, on_chain, &c, &err) == 0);
    run(&net);
    CHECK(c.calls == 1 && c.last.calls == 1 && c.last.status == 0);
    CHECK(rm_store_has(dest, &p->chunks[7]));
    end();
}

/*  A single source that answers one request every 3/5 of the timeout: the
    last of a window waits far longer than the timeout, but the source never
    falls silent, so nothing times out. */
static void test_a_slow_source_that_keeps_answering_does_not_time_out(void)
{
    begin();
    add_node(&net, "tcp://slow:1", p->origin, NODE_OK);
    const char *src[] = {"tcp://slow:1"};
    done_t d = {0};
    fetch(&net, &p->mhash, true, src, 1, &d);
    for (int step = 0; step < 200 && rm_xfer_active(net.xfer) > 0; step++) {
        net_tick(&net, net.now + RM_XFER_TIMEOUT_MS * 3 / 5);
        if (net.next < net.nreqs)
            answer(&net, net.next++);
    }
    CHECK_MSG(d.calls == 1 && d.status == 0, "%d: %s", d.status, d.error);
    CHECK_MSG(net.nreqs == p->nchunks + 1, "%zu requests", net.nreqs);
    CHECK(net.max_open == RM_XFER_WINDOW);
    printf("slow source: %zu requests, %lld ms\n", net.nreqs, (long long)net.now);
    end();
}

/*  The first source is dead: once the manifest's request to it timed out,
    it is asked last, so the project costs one timeout, not one per chunk. */
static void test_a_dead_first_source_costs_one_timeout(void)
{
    begin();
    add_node(&net, "tcp://down:1", p->origin, NODE_DOWN);
    add_node(&net, "tcp://origin:1", p->origin, NODE_OK);
    const char *src[] = {"tcp://down:1", "tcp://origin:1"};
    int64_t start = net.now;
    done_t d = fetch_run(&p->mhash, true, src, 2);
    CHECK_MSG(d.calls == 1 && d.status == 0, "%d: %s", d.status, d.error);
    CHECK_MSG(net.nodes[0].requests == 1, "down asked %d times", net.nodes[0].requests);
    CHECK(net.now - start == RM_XFER_TIMEOUT_MS);
    end();
}

/*  Chunks that reach the store by another way while queued or in flight
    are not asked for (again), even when their source went silent. */
static void test_chunks_that_arrive_meanwhile_are_not_asked_for(void)
{
    dest = new_store(p, rm_test_case);
    copy_chunk(p->origin, dest, &p->mhash);
    net_start(&net, dest);
    add_node(&net, "tcp://down:1", p->origin, NODE_DOWN);
    done_t d = {0};
    fetch(&net, &p->mhash, true, down_src, 1, &d);
    CHECK(net.nreqs == RM_XFER_WINDOW); /* the rest is queued */
    for (uint32_t i = 0; i < p->nchunks; i++)
        copy_chunk(p->origin, dest, &p->chunks[i]);
    run(&net);
    CHECK_MSG(d.calls == 1 && d.status == 0, "%d: %s", d.status, d.error);
    CHECK(net.nreqs == RM_XFER_WINDOW);
    end();
}

/*  A full disk ends the fetch with RM_ENOSPC (a tiny tmpfs, as root). */
static void test_a_full_disk_ends_the_fetch_with_enospc(void)
{
    if (geteuid() != 0) {
        printf("skipped ENOSPC (needs root)\n");
        return;
    }
    char mnt[256], cmd[600];
    pathf(mnt, sizeof mnt, p->base, "full");
    CHECK(mkdir(mnt, 0700) == 0);
    snprintf(cmd, sizeof cmd, "mount -t tmpfs -o size=256k tmpfs '%s' 2>/dev/null", mnt);
    if (system(cmd) != 0) {
        printf("skipped ENOSPC (cannot mount tmpfs here)\n");
        return;
    }
    rm_err_t err;
    dest = rm_store_new(mnt, &err);
    CHECK_MSG(dest, "%s", err.msg);
    if (dest) {
        net_start(&net, dest);
        add_node(&net, "tcp://origin:1", p->origin, NODE_OK);
        done_t d = fetch_run(&p->mhash, true, origin_src, 1);
        CHECK_MSG(d.calls == 1 && d.status == RM_ENOSPC, "%d: %s", d.status, d.error);
        printf("full disk: %s\n", d.error);
        end();
    }
    snprintf(cmd, sizeof cmd, "umount '%s'", mnt);
    CHECK(system(cmd) == 0);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    snprintf(project.base, sizeof project.base, "/tmp/rm_xfer_test.XXXXXX");
    if (!mkdtemp(project.base)) {
        perror("mkdtemp");
        return 1;
    }
    make_project(&project);
    if (project.origin) {
        make_sources();
        RM_RUN(test_fetches_a_project_from_the_sources_that_answer);
        RM_RUN(test_bad_data_is_dropped_and_the_next_source_asked);
        RM_RUN(test_only_bad_data_fails_the_fetch_and_stores_nothing);
        RM_RUN(test_a_chunk_nobody_has_is_not_found);
        RM_RUN(test_a_project_with_a_chunk_nobody_has_fails_naming_it);
        RM_RUN(test_a_silent_source_times_out_on_time);
        RM_RUN(test_a_chunk_that_is_not_a_manifest_fails_a_project_fetch);
        RM_RUN(test_fetches_of_one_project_share_its_chunks);
        RM_RUN(test_stray_replies_are_not_taken);
        RM_RUN(test_a_reply_after_its_timeout_is_not_taken);
        RM_RUN(test_what_is_here_already_completes_at_once_unsent);
        RM_RUN(test_an_unreachable_source_is_skipped);
        RM_RUN(test_with_no_source_reachable_the_fetch_fails_at_once);
        RM_RUN(test_bad_arguments_fail_without_a_callback);
        RM_RUN(test_destroy_drops_pending_fetches_silently);
        RM_RUN(test_a_callback_may_start_another_fetch);
        RM_RUN(test_a_slow_source_that_keeps_answering_does_not_time_out);
        RM_RUN(test_a_dead_first_source_costs_one_timeout);
        RM_RUN(test_chunks_that_arrive_meanwhile_are_not_asked_for);
        RM_RUN(test_a_full_disk_ends_the_fetch_with_enospc);
    }
    rm_store_destroy(&store_a);
    rm_store_destroy(&store_b);
    rm_store_destroy(&partial);
    rm_manifest_free(&project.m);
    free(project.chunks);
    rm_store_destroy(&project.origin);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", project.base);
    CHECK(system(cmd) == 0);
    RM_TEST_DONE();
}
