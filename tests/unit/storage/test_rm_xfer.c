/*  Tests for rm_xfer, with stores in temporary folders as the nodes, an
    in-test network that carries CHUNK_GET to them and their answers back,
    and a fake clock: a project fetched from three nodes of which one is
    down, bad data, chunks nobody has, shared fetches, stray and late
    replies, the window, a full disk (as root), and the fetched project
    materializing byte for byte. */
#include "storage/xfer_net.h"

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
        CHECK(net.reqs[i].node != 2 || net.reqs[i].map || net.reqs[i].sent_at == start);
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
    /* corrupt, then another (other, sending the wrong chunk, or good) */
    CHECK(net.nodes[0].requests == 1 && net.nodes[1].requests <= 1 && net.nodes[2].requests == 1);
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

/*  A holds no chunks[0] and down is silent: not found (a client fetch then
    waits for a re-render rather than failing), the silent one counted. */
static void test_lacking_and_silent_sources_mean_not_found(void)
{
    begin_failures();
    const char *src[] = {"tcp://down:1", "tcp://a:1"};
    done_t d = fetch_run(&p->chunks[0], false, src, 2);
    CHECK_MSG(d.calls == 1 && d.status == RM_ENOTFOUND &&
                  strstr(d.error, "no source has it (asked 2; 1 did not answer"),
              "%d: %s", d.status, d.error);
    printf("lacking and silent: %s\n", d.error);
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

/*  A download limit spreads the fetch over bytes / rate (less the quarter
    second the limit saves up before it starts); without one it takes no
    time on this clock. */
static void test_a_download_limit_paces_the_fetch(void)
{
    begin();
    add_node(&net, "tcp://a:7000", p->origin, NODE_OK);
    const char *src[] = {"tcp://a:7000"};
    uint64_t rate = p->bytes / 2; /* two seconds of it */
    rm_xfer_set_download_limit(net.xfer, rate);
    net_tick(&net, net.now);
    done_t d = {0};
    int64_t start = net.now;
    fetch(&net, &p->mhash, true, src, 1, &d);
    for (int round = 0; round < 100000 && rm_xfer_active(net.xfer) > 0; round++) {
        net_pump(&net);
        int64_t wait = rm_xfer_wakeup(net.xfer, net.now);
        if (wait == RM_XFER_IDLE)
            break;
        net_tick(&net, net.now + (wait > 0 ? wait : 1));
    }
    CHECK_MSG(d.calls == 1 && d.status == 0, "%d calls, status %d: %s", d.calls, d.status, d.error);
    /* The last chunk is counted when it arrives: nothing waits after it. */
    int64_t ms = net.now - start,
            least = (int64_t)((p->bytes - rate / 4 - 256 * 1024) * 1000 / rate);
    CHECK_MSG(ms >= least && ms <= 2500, "%lld ms for %llu bytes at %llu B/s", (long long)ms,
              (unsigned long long)p->bytes, (unsigned long long)rate);
    CHECK(net.max_open < RM_XFER_WINDOW); /* the window did not burst past the limit */
    printf("download limit: %llu bytes at %llu B/s in %lld ms, %zu open at most\n",
           (unsigned long long)p->bytes, (unsigned long long)rate, (long long)ms, net.max_open);
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
        RM_RUN(test_lacking_and_silent_sources_mean_not_found);
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
        RM_RUN(test_a_download_limit_paces_the_fetch);
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
