/*  Dispatch throughput: assignments per second from the coordinator's
    scheduler to workers over CURVE (docs/benchmarks.md, issue 3 target:
    >= 10,000/s).

    One process, two sides, as in a node: the coordinator thread owns a
    ZAP handler (rm_zap, bound first) and a CURVE ROUTER, a job table
    (rm_jobs, on disk) and the scheduler (rm_sched); it answers each
    WORK_REQ with rm_sched_request's ASSIGN, assignments journalled as in
    meshd.  The main thread plays WORKERS workers, each a CURVE DEALER with
    its own node credential, each keeping DEPTH requests in flight, each
    request asking for FREE frames (chunk 1).  Counted: frames assigned in
    the measuring window.  Not included: replication of the assignments to
    other nodes (JOB_DELTA, one message per batch and peer) and rendering.

    Usage: bench_dispatch [WORKERS=8] [FREE=1] [DEPTH=4] [SECONDS=2] */
#include <czmq.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_cred.h"
#include "rm_jobs.h"
#include "rm_roster.h"
#include "rm_sched.h"
#include "rm_zap.h"

#define MAX_WORKERS 64
#define JOB_ID "00000000000d15ba"

typedef struct {
    const char *dir;
    rm_token_t server;
    rm_roster_t *roster;
    rm_token_t *workers;
    int nworkers;
    int port;
} setup_t;

static void die(const char *what, const rm_err_t *err)
{
    fprintf(stderr, "bench_dispatch: %s: %s\n", what, err ? err->msg : "");
    exit(1);
}

static rm_jobs_t *make_job(const char *dir)
{
    rm_err_t err;
    char root[600];
    snprintf(root, sizeof root, "%s/jobs", dir);
    rm_jobs_t *jobs = rm_jobs_new(root, &err);
    if (!jobs)
        die("jobs", &err);
    rm_frame_range_t range = {1, RM_MAX_FRAMES, 1};
    rm_job_spec_t spec = {.job_id = JOB_ID,
                          .name = "dispatch",
                          .blend = "scene.blend",
                          .frames = {&range, 1},
                          .scene = "",
                          .camera = "",
                          .engine = "",
                          .device = "",
                          .format = "PNG",
                          .chunk = 1,
                          .submitter = "bench",
                          .submitted_at = 1};
    rm_job_t *job;
    bool created;
    if (rm_jobs_create(jobs, &spec, &job, &created, &err) != 0)
        die("job", &err);
    return jobs;
}

static void admit(void *zap, const rm_cred_t *cred)
{
    rm_zap_admit(zap, cred->curve_pk.b, cred->expires);
}

static void coordinator(zsock_t *pipe, void *args)
{
    setup_t *s = args;
    rm_err_t err;
    rm_zap_t *zap = rm_zap_new(&err);
    if (!zap)
        die("zap", &err);
    rm_roster_each(s->roster, admit, zap);
    zsock_t *router = zsock_new(ZMQ_ROUTER);
    zsock_set_zap_domain(router, RM_ZAP_DOMAIN_MESH);
    zsock_set_curve_server(router, 1);
    zsock_set_curve_publickey_bin(router, s->server.curve_pk.b);
    zsock_set_curve_secretkey_bin(router, s->server.curve_sk.b);
    zsock_set_maxmsgsize(router, RM_MAX_MSG_SIZE);
    zsock_set_sndhwm(router, 100000);
    zsock_set_rcvhwm(router, 100000);
    s->port = zsock_bind(router, "tcp://127.0.0.1:*");
    if (s->port < 0)
        die("bind", NULL);
    rm_jobs_t *jobs = make_job(s->dir);
    rm_sched_t *sched = rm_sched_new(jobs, 3, &err);
    rm_sched_worker_t workers[MAX_WORKERS];
    char names[MAX_WORKERS][32];
    for (int i = 0; i < s->nworkers; i++) {
        snprintf(names[i], sizeof names[i], "w%d", i);
        workers[i] = (rm_sched_worker_t){
            .name = names[i], .alive = true, .can_render = true, .slots = 64, .ms_per_frame = 100};
    }
    rm_sched_set_workers(sched, workers, (size_t)s->nworkers, &err);
    rm_sched_set_acting(sched, true, 1, "coord", zclock_mono());
    zsock_signal(pipe, 0);
    zpoller_t *poller = zpoller_new(pipe, router, NULL);
    int64_t ticked = zclock_mono();
    for (;;) {
        void *which = zpoller_wait(poller, 250);
        if (which == pipe)
            break;
        if (which == router) {
            zmsg_t *in = zmsg_recv(router);
            zframe_t *peer = zmsg_pop(in);
            zframe_t *payload = zmsg_pop(in);
            rm_msg_t msg;
            memset(&msg, 0, sizeof msg);
            const char *user = zframe_meta(payload, "User-Id");
            uint8_t key[32];
            const rm_cred_t *who = NULL;
            if (user && strlen(user) == 40 && zmq_z85_decode(key, user))
                who = rm_roster_find(s->roster, key, (int64_t)time(NULL));
            if (who && rm_msg_decode(zframe_data(payload), zframe_size(payload), &msg, &err) == 0 &&
                msg.type == RM_MSG_WORK_REQ) {
                rm_assign_t assign;
                int64_t now = zclock_mono();
                if (rm_sched_request(sched, who->name, &msg.u.work_req, now, &assign, &err) == 0) {
                    uint8_t *buf = NULL;
                    size_t len = 0;
                    if (rm_msg_encode(RM_MSG_ASSIGN, msg.req, &assign, &buf, &len, &err) == 0) {
                        zmsg_t *out = zmsg_new();
                        zmsg_append(out, &peer);
                        zmsg_addmem(out, buf, len);
                        zmsg_send(&out, router);
                    }
                    free(buf);
                }
                rm_codec_free(rm_msg_desc(RM_MSG_ASSIGN), &assign);
                if (now - ticked >= 250) { /* as meshd does */
                    rm_sched_tick(sched, now);
                    ticked = now;
                }
            }
            rm_msg_free(&msg);
            zframe_destroy(&peer);
            zframe_destroy(&payload);
            zmsg_destroy(&in);
        }
    }
    zpoller_destroy(&poller);
    fprintf(stderr, "coordinator: %llu frames assigned in all, %zu in flight\n",
            (unsigned long long)rm_sched_assigned(sched), rm_sched_in_flight(sched));
    rm_sched_destroy(&sched);
    rm_jobs_destroy(&jobs);
    zsock_destroy(&router);
    rm_zap_destroy(&zap);
}

static int send_request(zsock_t *dealer, uint64_t req, uint64_t free_slots)
{
    char *ready[1] = {JOB_ID};
    rm_work_req_t body = {.epoch = 1, .free = free_slots, .ready = {ready, 1}};
    uint8_t *buf = NULL;
    size_t len = 0;
    if (rm_msg_encode(RM_MSG_WORK_REQ, req, &body, &buf, &len, NULL) != 0)
        return -1;
    int rc = zsock_send(dealer, "b", buf, len);
    free(buf);
    return rc;
}

int main(int argc, char **argv)
{
    int nworkers = argc > 1 ? atoi(argv[1]) : 8;
    uint64_t free_slots = argc > 2 ? (uint64_t)atoll(argv[2]) : 1;
    int depth = argc > 3 ? atoi(argv[3]) : 4;
    double seconds = argc > 4 ? atof(argv[4]) : 2;
    if (nworkers < 1 || nworkers > MAX_WORKERS || free_slots < 1 || depth < 1 || seconds <= 0) {
        fprintf(stderr, "usage: bench_dispatch [WORKERS 1-%d] [FREE] [DEPTH] [SECONDS]\n",
                MAX_WORKERS);
        return 2;
    }
    zsys_init();
    zsys_set_logstream(NULL);
    if (sodium_init() < 0)
        die("sodium", NULL);
    char dir[] = "/tmp/rm-bench-dispatch.XXXXXX";
    if (!mkdtemp(dir))
        die("mkdtemp", NULL);
    rm_err_t err;
    uint8_t mesh_pk[32], mesh_sk[64];
    crypto_sign_keypair(mesh_pk, mesh_sk);
    setup_t s = {.dir = dir, .nworkers = nworkers, .roster = rm_roster_new()};
    s.workers = calloc((size_t)nworkers, sizeof *s.workers);
    if (rm_token_issue(mesh_sk, RM_ROLE_NODE, "coord", 1 * 86400, &s.server, &err) != 0)
        die("token", &err);
    for (int i = 0; i < nworkers; i++) {
        char name[32];
        rm_cred_t cred = {0};
        snprintf(name, sizeof name, "w%d", i);
        if (rm_token_issue(mesh_sk, RM_ROLE_NODE, name, 1 * 86400, &s.workers[i], &err) != 0 ||
            rm_cred_verify(s.workers[i].credential.data, s.workers[i].credential.len, mesh_pk,
                           (int64_t)time(NULL), &cred, &err) != 0 ||
            rm_roster_add(s.roster, &cred, s.workers[i].credential.data,
                          s.workers[i].credential.len, &err) != 0)
            die("credential", &err);
        rm_codec_free(&rm_cred_desc, &cred);
    }
    zactor_t *coord = zactor_new(coordinator, &s);

    zsock_t *dealers[MAX_WORKERS];
    zpoller_t *poller = zpoller_new(NULL);
    for (int i = 0; i < nworkers; i++) {
        dealers[i] = zsock_new(ZMQ_DEALER);
        zsock_set_curve_serverkey_bin(dealers[i], s.server.curve_pk.b);
        zsock_set_curve_publickey_bin(dealers[i], s.workers[i].curve_pk.b);
        zsock_set_curve_secretkey_bin(dealers[i], s.workers[i].curve_sk.b);
        zsock_set_maxmsgsize(dealers[i], RM_MAX_MSG_SIZE);
        zsock_connect(dealers[i], "tcp://127.0.0.1:%d", s.port);
        zpoller_add(poller, dealers[i]);
    }
    uint64_t req = 0, frames = 0, replies = 0, counted = 0;
    for (int i = 0; i < nworkers; i++)
        for (int d = 0; d < depth; d++)
            send_request(dealers[i], ++req, free_slots);
    /* Warm-up (CURVE handshakes) before the window opens. */
    int64_t start = 0, end = 0, warm = zclock_mono() + 300;
    for (;;) {
        zsock_t *which = zpoller_wait(poller, 1000);
        int64_t now = zclock_mono();
        if (!start && now >= warm) {
            start = now;
            end = start + (int64_t)(seconds * 1000);
            counted = frames;
        }
        if (start && now >= end)
            break;
        if (!which) {
            fprintf(stderr, "bench_dispatch: no answer for 1 s\n");
            return 1;
        }
        zframe_t *frame = zframe_recv(which);
        rm_msg_t msg;
        if (frame && rm_msg_decode(zframe_data(frame), zframe_size(frame), &msg, &err) == 0 &&
            msg.type == RM_MSG_ASSIGN) {
            for (uint32_t t = 0; t < msg.u.assign.tasks.count; t++)
                frames += msg.u.assign.tasks.items[t].frames.count;
            replies++;
        }
        rm_msg_free(&msg);
        zframe_destroy(&frame);
        send_request(which, ++req, free_slots);
    }
    double took = (double)(zclock_mono() - start) / 1000.0;
    uint64_t measured = frames - counted;
    printf("workers %d, free %llu per request, %d in flight each: %llu assignments in %.2f s = "
           "%.0f assignments/s (%llu ASSIGNs)\n",
           nworkers, (unsigned long long)free_slots, depth, (unsigned long long)measured, took,
           (double)measured / took, (unsigned long long)replies);
    for (int i = 0; i < nworkers; i++)
        zsock_destroy(&dealers[i]);
    zpoller_destroy(&poller);
    zactor_destroy(&coord);
    for (int i = 0; i < nworkers; i++)
        rm_token_free(&s.workers[i]);
    free(s.workers);
    rm_token_free(&s.server);
    rm_roster_destroy(&s.roster);
    char cmd[100];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : 1;
}
