/*  Tests for meshctl fetch against outputs that are missing on the mesh:
    a fake node (a door and a main ROUTER, CURVE, backed by the real chunk
    store) answers CHUNK_GET for chosen hashes with ERROR RM_EAGAIN (it is
    fetching them from the mesh), RM_ENOTFOUND (no live member holds them)
    or nothing (an older node), and JOB_INFO from a script of stages, one
    more per request, as the mesh renders a lost frame again. */
#include "rm_cli.h"
#include "rm_client.h"
#include "rm_fetch.h"
#include "rm_manifest.h"
#include "rm_store.h"
#include "rm_test.h"

#include <czmq.h>
#include <dirent.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#define JOB "00000000000000bb"

/*  --- A scripted fake node ------------------------------------------------------------ */

typedef struct {
    rm_hash_t hash;
    int again;   /* answer RM_EAGAIN this many times, then the data */
    bool lost;   /* answer RM_ENOTFOUND */
    bool silent; /* answer nothing, as nodes before RM_EAGAIN did */
} rule_t;

typedef struct {
    const char *state;
    rm_frame_info_t frames[3];
    uint32_t count;
} stage_t;

typedef struct {
    int port;
    uint8_t mesh_pk[32];
    rm_token_t node;
    rm_store_t *store;
    rule_t rules[4];
    int nrules;
    stage_t stages[4]; /* JOB_INFO number i answers stages[min(i, nstages - 1)] */
    int nstages;
    int infos;      /* JOB_INFOs answered */
    int chunk_gets; /* CHUNK_GETs received */
} fake_t;

static void fake_send(zsock_t *sock, zframe_t *peer, rm_msg_type_t type, uint64_t req,
                      const void *body)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    rm_err_t err;
    if (rm_msg_encode(type, req, body, &buf, &len, &err) != 0) {
        fprintf(stderr, "fake node: %s\n", err.msg);
        zframe_destroy(&peer);
        return;
    }
    zmsg_t *out = zmsg_new();
    zmsg_append(out, &peer);
    zmsg_addmem(out, buf, len);
    zmsg_send(&out, sock);
    free(buf);
}

static void fake_error(zsock_t *sock, zframe_t *peer, uint64_t req, rm_code_t code, const char *m)
{
    rm_error_msg_t e = {code, (char *)m};
    fake_send(sock, peer, RM_MSG_ERROR, req, &e);
}

static void fake_chunk_get(fake_t *fk, zsock_t *sock, zframe_t *peer, rm_msg_t *msg)
{
    rm_err_t err;
    char hex[65], text[200];
    rm_hash_hex(&msg->u.chunk_ref.hash, hex);
    fk->chunk_gets++;
    for (int i = 0; i < fk->nrules; i++) {
        rule_t *r = &fk->rules[i];
        if (memcmp(&r->hash, &msg->u.chunk_ref.hash, sizeof r->hash) != 0)
            continue;
        if (r->silent) {
            zframe_destroy(&peer);
            return;
        }
        if (r->lost) {
            snprintf(text, sizeof text, "chunk %.8s..: no live member holds it", hex);
            fake_error(sock, peer, msg->req, RM_ENOTFOUND, text);
            return;
        }
        if (r->again > 0) {
            r->again--;
            snprintf(text, sizeof text,
                     "chunk %.8s..: not on node n1; fetching it from the mesh, ask again", hex);
            fake_error(sock, peer, msg->req, RM_EAGAIN, text);
            return;
        }
    }
    rm_chunk_t c = {msg->u.chunk_ref.hash, {NULL, 0}};
    if (rm_store_get(fk->store, &c.hash, &c.data.data, &c.data.len, &err) != 0) {
        fake_error(sock, peer, msg->req, err.code, err.msg);
        return;
    }
    fake_send(sock, peer, RM_MSG_CHUNK_DATA, msg->req, &c);
    free(c.data.data);
}

static void fake_job_info(fake_t *fk, zsock_t *sock, zframe_t *peer, rm_msg_t *msg)
{
    int i = fk->infos < fk->nstages ? fk->infos : fk->nstages - 1;
    fk->infos++;
    stage_t *st = &fk->stages[i];
    rm_job_reply_t r = {.summary = {.job_id = JOB,
                                    .name = "scene.blend",
                                    .state = (char *)st->state,
                                    .frames_total = st->count,
                                    .version = (uint64_t)i + 1,
                                    .error = ""}};
    r.frames.items = st->frames;
    r.frames.count = st->count;
    fake_send(sock, peer, RM_MSG_JOB_REPLY, msg->req, &r);
}

static void fake_main(fake_t *fk, zsock_t *sock)
{
    zmsg_t *in = zmsg_recv(sock);
    zframe_t *peer = zmsg_pop(in);
    zframe_t *body = zmsg_pop(in);
    rm_msg_t msg;
    rm_err_t err;
    if (rm_msg_decode(zframe_data(body), zframe_size(body), &msg, &err) != 0) {
        fprintf(stderr, "fake node: %s\n", err.msg);
        zframe_destroy(&peer);
    } else {
        if (msg.type == RM_MSG_CHUNK_GET)
            fake_chunk_get(fk, sock, peer, &msg);
        else if (msg.type == RM_MSG_JOB_INFO)
            fake_job_info(fk, sock, peer, &msg);
        else
            fake_error(sock, peer, msg.req, RM_EINVAL, "not in this fake");
        rm_msg_free(&msg);
    }
    zframe_destroy(&body);
    zmsg_destroy(&in);
}

static void fake_door(fake_t *fk, zsock_t *door)
{
    zmsg_t *in = zmsg_recv(door);
    zframe_t *peer = zmsg_pop(in);
    zframe_t *body = zmsg_pop(in);
    rm_msg_t msg;
    rm_err_t err;
    if (rm_msg_decode(zframe_data(body), zframe_size(body), &msg, &err) == 0) {
        if (msg.type == RM_MSG_HELLO) {
            rm_welcome_t w = {RM_PROTO_VERSION, fk->node.credential, "fake"};
            fake_send(door, peer, RM_MSG_WELCOME, msg.req, &w);
            peer = NULL;
        }
        rm_msg_free(&msg);
    }
    zframe_destroy(&peer);
    zframe_destroy(&body);
    zmsg_destroy(&in);
}

static zsock_t *fake_router(const uint8_t pk[32], const uint8_t sk[32])
{
    zsock_t *s = zsock_new(ZMQ_ROUTER);
    zsock_set_linger(s, 0);
    zsock_set_curve_server(s, 1);
    zsock_set_curve_publickey_bin(s, pk);
    zsock_set_curve_secretkey_bin(s, sk);
    zsock_set_maxmsgsize(s, RM_MAX_MSG_SIZE);
    return s;
}

/*  Main socket on PORT, door on PORT+1, as a node binds them. */
static bool fake_bind(fake_t *fk, zsock_t *door, zsock_t *main_sock)
{
    for (int tries = 0; tries < 20; tries++) {
        int port = rm_test_ports(2);
        if (port <= 0)
            continue;
        if (zsock_bind(main_sock, "tcp://127.0.0.1:%d", port) == port) {
            if (zsock_bind(door, "tcp://127.0.0.1:%d", port + 1) == port + 1) {
                fk->port = port;
                return true;
            }
            zsock_unbind(main_sock, "tcp://127.0.0.1:%d", port);
        }
    }
    return false;
}

static void fake_actor(zsock_t *pipe, void *arg)
{
    fake_t *fk = arg;
    uint8_t door_pk[32], door_sk[32];
    rm_door_keypair(fk->mesh_pk, door_pk, door_sk);
    zsock_t *door = fake_router(door_pk, door_sk);
    zsock_t *main_sock = fake_router(fk->node.curve_pk.b, fk->node.curve_sk.b);
    bool ok = fake_bind(fk, door, main_sock);
    zsock_signal(pipe, ok ? 0 : 1);
    zpoller_t *poller = zpoller_new(pipe, door, main_sock, NULL);
    while (ok) {
        void *which = zpoller_wait(poller, -1);
        if (which == door)
            fake_door(fk, door);
        else if (which == main_sock)
            fake_main(fk, main_sock);
        else
            break; /* $TERM or interrupted */
    }
    zpoller_destroy(&poller);
    zsock_destroy(&door);
    zsock_destroy(&main_sock);
}

/*  --- The world of one test ------------------------------------------------------------ */

static char tmp[] = "/tmp/test_rm_fetch_wait.XXXXXX";
static uint8_t mesh_pk[32], mesh_sk[64];
static rm_token_t client_token, node_token;

typedef struct {
    fake_t fk;
    zactor_t *actor;
    rm_store_t *store;
    rm_client_t *client;
    char dir[600];   /* where the fetch writes */
    rm_hash_t out1;  /* frame 1's output, always there */
    rm_hash_t out2;  /* frame 2's output when the fetch begins */
    rm_hash_t out2b; /* frame 2's output once rendered again */
    uint8_t body1[300000], body2[300000], body2b[300000];
} world_t;

static void fill_random(uint8_t *buf, size_t len, uint64_t seed)
{
    for (size_t i = 0; i < len; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        buf[i] = (uint8_t)(seed >> 56);
    }
}

/*  Stores a rendered frame (one file, several chunks) as the node would. */
static void store_output(world_t *w, const char *name, uint8_t *body, uint64_t seed, rm_hash_t *out)
{
    char path[700];
    rm_err_t err;
    uint64_t size = 0;
    fill_random(body, sizeof w->body1, seed);
    snprintf(path, sizeof path, "%s/render-%llu", tmp, (unsigned long long)seed);
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(body, 1, sizeof w->body1, f) == sizeof w->body1);
    if (f)
        fclose(f);
    CHECK_MSG(rm_manifest_store_file(w->store, path, name, out, &size, &err) == 0, "%s", err.msg);
}

/*  The first chunk of the file of output `out`. */
static rm_hash_t first_chunk(world_t *w, const rm_hash_t *out)
{
    rm_manifest_t m;
    rm_err_t err;
    rm_hash_t h = {0};
    if (rm_manifest_load(w->store, out, &m, &err) == 0) {
        CHECK(m.files.count == 1 && m.files.items[0].chunks.count > 1);
        if (m.files.count == 1 && m.files.items[0].chunks.count > 0)
            h = m.files.items[0].chunks.items[0];
        rm_manifest_free(&m);
    }
    return h;
}

static rm_frame_info_t frame_done(uint64_t n, const char *file, rm_hash_t out)
{
    return (rm_frame_info_t){.frame = n,
                             .state = "done",
                             .node = "n2",
                             .output = out,
                             .file = (char *)file,
                             .error = "",
                             .warning = "",
                             .stored = ""};
}

static rm_frame_info_t frame_pending(uint64_t n)
{
    return (rm_frame_info_t){.frame = n,
                             .state = "pending",
                             .node = "",
                             .file = "",
                             .error = "output lost: n2 and n3 left the mesh",
                             .warning = "",
                             .stored = ""};
}

/*  Stage i of JOB_INFO: frame 1 done, frame 2 as given. */
static void stage(world_t *w, int i, const char *state, rm_frame_info_t frame2)
{
    stage_t *s = &w->fk.stages[i];
    s->state = state;
    s->frames[0] = frame_done(1, "frame_0001.png", w->out1);
    s->frames[1] = frame2;
    s->count = 2;
    if (i + 1 > w->fk.nstages)
        w->fk.nstages = i + 1;
}

static void rule(world_t *w, rm_hash_t hash, int again, bool lost, bool silent)
{
    w->fk.rules[w->fk.nrules++] = (rule_t){hash, again, lost, silent};
}

/*  Starts the fake and connects; the stages and rules are set after,
    before the first request (ZeroMQ's queues order the two threads). */
static bool world_open(world_t *w, const char *name, int timeout_ms)
{
    rm_err_t err;
    char store_dir[700], addr[64];
    memset(w, 0, sizeof *w);
    snprintf(store_dir, sizeof store_dir, "%s/%s-store", tmp, name);
    snprintf(w->dir, sizeof w->dir, "%s/%s-frames", tmp, name);
    w->store = rm_store_new(store_dir, &err);
    CHECK_MSG(w->store != NULL, "%s", err.msg);
    if (!w->store)
        return false;
    store_output(w, "frame_0001.png", w->body1, 1, &w->out1);
    store_output(w, "frame_0002.png", w->body2, 2, &w->out2);
    store_output(w, "frame_0002.png", w->body2b, 3, &w->out2b);
    w->fk.store = w->store;
    memcpy(w->fk.mesh_pk, mesh_pk, 32);
    w->fk.node = node_token;
    w->actor = zactor_new(fake_actor, &w->fk);
    CHECK(w->actor != NULL);
    snprintf(addr, sizeof addr, "tcp://127.0.0.1:%d", w->fk.port);
    w->client = rm_client_new(addr, &client_token, timeout_ms, &err);
    CHECK_MSG(w->client != NULL, "%s", err.msg);
    return w->client != NULL;
}

static void world_close(world_t *w)
{
    rm_client_destroy(&w->client);
    zactor_destroy(&w->actor);
    rm_store_destroy(&w->store);
}

/*  True when dir/name holds exactly body (300000 bytes). */
static bool holds(const char *dir, const char *name, const uint8_t *body)
{
    char path[800];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    static uint8_t buf[300001];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    return n == 300000 && memcmp(buf, body, n) == 0;
}

/*  Entries in dir, hidden ones too: no temporary file is left behind. */
static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    if (d)
        closedir(d);
    return n;
}

/*  --- Cases -------------------------------------------------------------------------- */

static void test_fetch_asks_again_after_eagain(void)
{
    world_t *w = calloc(1, sizeof *w);
    rm_fetch_stats_t st;
    rm_err_t err = {0};
    if (!w || !world_open(w, "again", 2000)) {
        free(w);
        return;
    }
    stage(w, 0, "done", frame_done(2, "frame_0002.png", w->out2));
    rule(w, w->out1, 1, false, false);                  /* frame 1's manifest: once */
    rule(w, first_chunk(w, &w->out2), 2, false, false); /* a chunk of frame 2: twice */
    int64_t t0 = rm_cli_mono_ms();
    CHECK_MSG(rm_fetch_job(w->client, JOB, w->dir, false, &st, &err) == 0, "%s", err.msg);
    int64_t took = rm_cli_mono_ms() - t0;
    CHECK_MSG(st.frames_done == 2 && st.fetched == 2 && st.files == 2 && st.again == 0 &&
                  st.stored_only == 0 && st.bytes == 600000,
              "%u %u %u", st.frames_done, st.fetched, st.files);
    CHECK(holds(w->dir, "frame_0001.png", w->body1) && holds(w->dir, "frame_0002.png", w->body2));
    CHECK(count_files(w->dir) == 2);
    CHECK_MSG(took >= 1800 && took < 6000, "took %lld ms", (long long)took); /* ~1 s a retry */
    CHECK(!rm_client_refused(w->client));
    world_close(w);
    free(w);
}

static void test_fetch_waits_for_a_lost_frame_rendered_again(void)
{
    world_t *w = calloc(1, sizeof *w);
    rm_fetch_stats_t st;
    rm_err_t err = {0};
    if (!w || !world_open(w, "lost", 2000)) {
        free(w);
        return;
    }
    /* frame 2's file is gone from the mesh (its manifest is not); the
       mesh notices, renders it again, and it is done with a new output */
    stage(w, 0, "done", frame_done(2, "frame_0002.png", w->out2));
    stage(w, 1, "rendering", frame_pending(2));
    stage(w, 2, "done", frame_done(2, "frame_0002.png", w->out2b));
    rule(w, first_chunk(w, &w->out2), 0, true, false);
    CHECK_MSG(rm_fetch_job(w->client, JOB, w->dir, false, &st, &err) == 0, "%s", err.msg);
    CHECK_MSG(st.frames_done == 2 && st.fetched == 2 && st.files == 2 && st.again == 1,
              "%u %u %u %u", st.frames_done, st.fetched, st.files, st.again);
    CHECK(w->fk.infos == 3); /* the start, then every 2 s until it is done again */
    CHECK(holds(w->dir, "frame_0001.png", w->body1));
    CHECK(holds(w->dir, "frame_0002.png", w->body2b)); /* the new output */
    CHECK(count_files(w->dir) == 2);                   /* no temporary file left */
    /* fetched again: both are there and verify */
    w->fk.infos = 2;
    CHECK(rm_fetch_job(w->client, JOB, w->dir, false, &st, &err) == 0);
    CHECK(st.present == 2 && st.fetched == 0);
    world_close(w);
    free(w);
}

static void test_fetch_fails_for_a_lost_frame_of_a_canceled_job(void)
{
    world_t *w = calloc(1, sizeof *w);
    rm_fetch_stats_t st;
    rm_err_t err = {0};
    if (!w || !world_open(w, "canceled", 2000)) {
        free(w);
        return;
    }
    /* frame 2's manifest is lost, and the job is canceled before it is
       rendered again: it never will be */
    stage(w, 0, "rendering", frame_done(2, "frame_0002.png", w->out2));
    stage(w, 1, "canceled", frame_pending(2));
    rule(w, w->out2, 0, true, false);
    int64_t t0 = rm_cli_mono_ms();
    CHECK(rm_fetch_job(w->client, JOB, w->dir, false, &st, &err) == -1);
    CHECK_MSG(err.code == RM_ECANCELED && strstr(err.msg, "frame 2 ") &&
                  strstr(err.msg, "canceled") && strstr(err.msg, JOB),
              "%d %s", err.code, err.msg);
    CHECK(rm_cli_mono_ms() - t0 < 5000);
    CHECK(holds(w->dir, "frame_0001.png", w->body1)); /* what could be had, was */
    /* canceled when the fetch begins, frame 2 still listed done: fails at once */
    w->fk.stages[1].frames[1] = frame_done(2, "frame_0002.png", w->out2);
    w->fk.infos = 1;
    t0 = rm_cli_mono_ms();
    CHECK(rm_fetch_job(w->client, JOB, w->dir, false, &st, &err) == -1 && err.code == RM_ECANCELED);
    CHECK_MSG(strstr(err.msg, "frame 2 of job " JOB) && strstr(err.msg, "was canceled"), "%s",
              err.msg);
    CHECK(rm_cli_mono_ms() - t0 < 1500);
    world_close(w);
    free(w);
}

static void test_fetch_skips_a_lost_frame_that_is_in_s3(void)
{
    world_t *w = calloc(1, sizeof *w);
    rm_fetch_stats_t st;
    rm_err_t err = {0};
    if (!w || !world_open(w, "s3", 2000)) {
        free(w);
        return;
    }
    rm_frame_info_t f2 = frame_done(2, "frame_0002.png", w->out2);
    f2.stored = "s3://renders/sh010/frame_0002.png";
    stage(w, 0, "done", f2);
    rule(w, w->out2, 0, true, false);
    CHECK_MSG(rm_fetch_job(w->client, JOB, w->dir, false, &st, &err) == 0, "%s", err.msg);
    CHECK(st.frames_done == 2 && st.fetched == 1 && st.stored_only == 1 && st.stored == 1);
    CHECK(holds(w->dir, "frame_0001.png", w->body1) && count_files(w->dir) == 1);
    CHECK(w->fk.infos == 1); /* not waited for */
    world_close(w);
    free(w);
}

static void test_fetch_never_writes_a_replaced_output(void)
{
    world_t *w = calloc(1, sizeof *w);
    rm_fetch_stats_t st;
    rm_err_t err = {0};
    if (!w || !world_open(w, "replaced", 2000)) {
        free(w);
        return;
    }
    /* the node is still fetching frame 2's file when the frame's output
       is replaced by another: the new one is fetched, the old never written */
    stage(w, 0, "done", frame_done(2, "frame_0002.png", w->out2));
    stage(w, 1, "done", frame_done(2, "frame_0002.png", w->out2b));
    rule(w, first_chunk(w, &w->out2), 1000, false, false);
    CHECK_MSG(rm_fetch_job(w->client, JOB, w->dir, false, &st, &err) == 0, "%s", err.msg);
    CHECK(st.fetched == 2 && st.again == 1 && st.replaced == 0);
    CHECK(holds(w->dir, "frame_0002.png", w->body2b));
    CHECK(count_files(w->dir) == 2);
    world_close(w);
    free(w);
}

static void test_fetch_refuses_a_rendered_again_frame_that_differs_from_dir(void)
{
    world_t *w = calloc(1, sizeof *w);
    rm_fetch_stats_t st;
    rm_err_t err = {0};
    char path[800];
    if (!w || !world_open(w, "differs", 2000)) {
        free(w);
        return;
    }
    /* frame 2 was fetched before its output was lost; rendered again, it
       differs from the file in DIR: a conflict, as any other */
    CHECK(mkdir(w->dir, 0700) == 0);
    snprintf(path, sizeof path, "%s/frame_0002.png", w->dir);
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(w->body2, 1, sizeof w->body2, f) == sizeof w->body2);
    if (f)
        fclose(f);
    stage(w, 0, "done", frame_done(2, "frame_0002.png", w->out2));
    stage(w, 1, "done", frame_done(2, "frame_0002.png", w->out2b));
    rule(w, w->out2, 0, true, false);
    CHECK(rm_fetch_job(w->client, JOB, w->dir, false, &st, &err) == -1);
    CHECK_MSG(err.code == RM_EINVAL && strstr(err.msg, "frame_0002.png") &&
                  strstr(err.msg, "frame 2, rendered again") &&
                  strstr(err.msg, "nothing of it was written") && strstr(err.msg, "--overwrite"),
              "%s", err.msg);
    CHECK(holds(w->dir, "frame_0002.png", w->body2) && holds(w->dir, "frame_0001.png", w->body1));
    w->fk.infos = 0;
    CHECK_MSG(rm_fetch_job(w->client, JOB, w->dir, true, &st, &err) == 0, "%s", err.msg);
    CHECK(st.replaced == 1 && st.present == 1 && st.again == 1);
    CHECK(holds(w->dir, "frame_0002.png", w->body2b) && count_files(w->dir) == 2);
    world_close(w);
    free(w);
}

static void test_fetch_fails_when_an_old_node_stays_silent(void)
{
    world_t *w = calloc(1, sizeof *w);
    rm_fetch_stats_t st;
    rm_err_t err = {0};
    if (!w || !world_open(w, "silent", 500)) {
        free(w);
        return;
    }
    stage(w, 0, "done", frame_done(2, "frame_0002.png", w->out2));
    rule(w, w->out2, 0, false, true);
    CHECK(rm_fetch_job(w->client, JOB, w->dir, false, &st, &err) == -1);
    CHECK_MSG(err.code == RM_ETIMEOUT && strstr(err.msg, "stopped answering"), "%s", err.msg);
    world_close(w);
    free(w);
}

static void test_job_files_note_unreachable_frames(void)
{
    world_t *w = calloc(1, sizeof *w);
    rm_err_t err = {0};
    if (!w || !world_open(w, "job", 2000)) {
        free(w);
        return;
    }
    rm_frame_info_t frames[3] = {frame_done(1, "frame_0001.png", w->out1),
                                 frame_done(2, "frame_0002.png", w->out2), frame_pending(3)};
    rm_job_reply_t job = {.summary = {.job_id = JOB, .state = "done"}};
    job.frames.items = frames;
    job.frames.count = 3;
    rule(w, w->out1, 1, false, false); /* asked again once: then it is there */
    rule(w, w->out2, 0, true, false);
    rm_fetch_out_t *outs = NULL;
    size_t n = 0;
    uint32_t not_done = 0;
    CHECK_MSG(rm_fetch_manifests(w->client, &job, &outs, &n, &not_done, &err) == 0, "%s", err.msg);
    CHECK(n == 2 && not_done == 1);
    if (n == 2) {
        CHECK(outs[0].frame == &frames[0] && !outs[0].error && outs[0].manifest.files.count == 1);
        CHECK(outs[1].frame == &frames[1] && outs[1].error && outs[1].manifest.files.count == 0);
        CHECK_MSG(outs[1].error && strstr(outs[1].error, "no node holds it"), "%s",
                  outs[1].error ? outs[1].error : "");
    }
    rm_fetch_outs_free(outs, n);
    /* still being fetched after the second ask: a note too */
    w->fk.rules[0].again = 5;
    w->fk.rules[1].lost = false;
    CHECK(rm_fetch_manifests(w->client, &job, &outs, &n, &not_done, &err) == 0 && n == 2);
    CHECK(n == 2 && outs[0].error && strstr(outs[0].error, "still fetching") && !outs[1].error);
    rm_fetch_outs_free(outs, n);
    world_close(w);
    free(w);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    zsys_handler_set(NULL);
    CHECK(sodium_init() >= 0);
    CHECK(mkdtemp(tmp) != NULL);
    rm_err_t err;
    crypto_sign_keypair(mesh_pk, mesh_sk);
    CHECK(rm_token_issue(mesh_sk, RM_ROLE_CLIENT, "ann@box", 86400, &client_token, &err) == 0);
    CHECK(rm_token_issue(mesh_sk, RM_ROLE_NODE, "n1", 86400, &node_token, &err) == 0);

    RM_RUN(test_fetch_asks_again_after_eagain);
    RM_RUN(test_fetch_waits_for_a_lost_frame_rendered_again);
    RM_RUN(test_fetch_fails_for_a_lost_frame_of_a_canceled_job);
    RM_RUN(test_fetch_skips_a_lost_frame_that_is_in_s3);
    RM_RUN(test_fetch_never_writes_a_replaced_output);
    RM_RUN(test_fetch_refuses_a_rendered_again_frame_that_differs_from_dir);
    RM_RUN(test_fetch_fails_when_an_old_node_stays_silent);
    RM_RUN(test_job_files_note_unreachable_frames);

    rm_token_free(&client_token);
    rm_token_free(&node_token);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    CHECK(system(cmd) == 0);
    RM_TEST_DONE();
}
