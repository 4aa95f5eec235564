/*  rm_attack: what a thief holding one stolen credential might send a
    node, for the trust tests (tests/e2e/test_stolen_node.sh).  It knocks at
    the node's door with the token given, as any client or node does, then
    sends one forged message and prints how the node answered:
    "answered TYPE[: TEXT]", or "no answer".

      rm_attack TOKEN ADDR invent-job JOB_ID        JOB_SYNC of a job nobody
                                                    submitted (scripts on)
      rm_attack TOKEN ADDR scripts-on JOB_ID NEW_ID JOB_SYNC of a real job's
                                                    spec, scripts turned on
      rm_attack TOKEN ADDR assign JOB_ID FRAME COORD EPOCH
                                                    ASSIGN naming COORD
      rm_attack TOKEN ADDR replace-frame JOB_ID FRAME
                                                    JOB_DELTA: the done frame
                                                    again under its node's
                                                    name, with a smaller
                                                    output hash (the merge's
                                                    old winner), signed with
                                                    the thief's key
      rm_attack TOKEN ADDR order JOB_ID cancel|priority unsigned|own-key
                                                    JOB_SYNC of a real job's
                                                    record cancelled, or its
                                                    priority set to 999999,
                                                    without an order or with
                                                    one signed by the thief
      rm_attack TOKEN ADDR chunk-flood N            N CHUNK_GETs of random
                                                    hashes, all at once;
                                                    prints how many were
                                                    answered within 1 s

    Exit 0 when it sent the message, 2 on a usage or connection error. */
#include <czmq.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_client.h"
#include "rm_cred.h"
#include "rm_job_order.h"
#include "rm_job_record.h"
#include "rm_msg.h"

static int usage(void)
{
    fprintf(stderr, "usage: rm_attack TOKEN ADDR invent-job JOB_ID\n"
                    "       rm_attack TOKEN ADDR scripts-on JOB_ID NEW_ID\n"
                    "       rm_attack TOKEN ADDR assign JOB_ID FRAME COORD EPOCH\n"
                    "       rm_attack TOKEN ADDR replace-frame JOB_ID FRAME\n"
                    "       rm_attack TOKEN ADDR order JOB_ID cancel|priority unsigned|own-key\n"
                    "       rm_attack TOKEN ADDR chunk-flood N\n");
    return 2;
}

/*  Sends a job's whole record, asking to be told once it is held. */
static int send_sync(rm_client_t *client, const rm_job_record_t *rec, uint64_t *req, rm_err_t *err)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    if (rm_job_record_encode(rec, &buf, &len, err) != 0)
        return -1;
    rm_job_sync_t sync = {.record = {.data = buf, .len = len}, .want_held = true};
    int rc = rm_client_send(client, RM_MSG_JOB_SYNC, &sync, req, err);
    free(buf);
    return rc;
}

/*  A new record of spec, sent whole. */
static int send_record(rm_client_t *client, const rm_job_spec_t *spec, uint64_t *req, rm_err_t *err)
{
    rm_job_record_t rec;
    if (rm_job_record_init(&rec, spec, err) != 0)
        return -1;
    int rc = send_sync(client, &rec, req, err);
    rm_job_record_free(&rec);
    return rc;
}

static int invent_job(rm_client_t *client, const char *job_id, uint64_t *req, rm_err_t *err)
{
    rm_frame_range_t range = {1, 1, 1};
    rm_job_spec_t spec = {
        .job_id = (char *)job_id,
        .name = "invented",
        .blend = "x.blend",
        .frames = {.items = &range, .count = 1},
        .chunk = 1,
        .allow_scripts = true,
        .submitter = "admin",
        .submitter_role = "admin",
        .submitted_at = zclock_time(),
    };
    memset(spec.manifest.b, 0x42, sizeof spec.manifest.b);
    return send_record(client, &spec, req, err);
}

/*  A real job's spec, signed by its submitter, with --allow-scripts turned
    on and a new id: the signature no longer holds. */
static int scripts_on(rm_client_t *client, const char *job_id, const char *new_id, uint64_t *req,
                      rm_err_t *err)
{
    rm_job_ref_t ref = {(char *)job_id};
    rm_msg_t reply;
    if (rm_client_call(client, RM_MSG_JOB_INFO, &ref, RM_MSG_JOB_REPLY, 0, &reply, err) != 0)
        return -1;
    rm_job_spec_t *spec = &reply.u.job_reply.spec;
    free(spec->job_id);
    spec->job_id = strdup(new_id);
    spec->allow_scripts = true;
    int rc = spec->job_id ? send_record(client, spec, req, err) : -1;
    rm_msg_free(&reply);
    return rc;
}

static int assign(rm_client_t *client, char **argv, uint64_t *req, rm_err_t *err)
{
    uint64_t frame = strtoull(argv[1], NULL, 10);
    rm_task_t task = {.job_id = argv[0], .frames = {.items = &frame, .count = 1}};
    rm_assign_t body = {.epoch = strtoull(argv[3], NULL, 10),
                        .coordinator = argv[2],
                        .tasks = {.items = &task, .count = 1}};
    return rm_client_send(client, RM_MSG_ASSIGN, &body, req, err);
}

/*  The frame's done record as JOB_INFO shows it, with output hash zero:
    the node named keeps its name, the signatures are the thief's. */
static int replace_frame(rm_client_t *client, const rm_token_t *token, const char *job_id,
                         uint64_t frame, uint64_t *req, rm_err_t *err)
{
    rm_job_ref_t ref = {(char *)job_id};
    rm_msg_t reply;
    if (rm_client_call(client, RM_MSG_JOB_INFO, &ref, RM_MSG_JOB_REPLY, 0, &reply, err) != 0)
        return -1;
    const rm_frame_info_t *info = NULL;
    for (uint32_t i = 0; i < reply.u.job_reply.frames.count; i++)
        if (reply.u.job_reply.frames.items[i].frame == frame)
            info = &reply.u.job_reply.frames.items[i];
    if (!info || strcmp(info->state, "done") != 0) {
        rm_msg_free(&reply);
        return rm_err_set(err, RM_EINVAL, "frame %llu of job %s is not done",
                          (unsigned long long)frame, job_id);
    }
    uint8_t sig[64];
    randombytes_buf(sig, sizeof sig);
    rm_frame_rec_t rec = {.frame = frame,
                          .state = RM_FRAME_DONE,
                          .node = info->node,
                          .size = info->size,
                          .file = info->file,
                          .render_ms = info->render_ms,
                          .log = info->log,
                          .grant_by = info->node,
                          .grant_sig = {sig, sizeof sig},
                          .done_sig = {sig, sizeof sig}};
    /* The thief holds no key of the node it names: any 64 bytes; its own
       credential goes with the delta as a signer. */
    rm_bin_t signer = token->credential;
    rm_job_record_delta_t delta = {.frames = {&rec, 1}, .signers = {&signer, 1}};
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = rm_job_record_encode_delta(&delta, &buf, &len, err);
    if (rc == 0) {
        rm_job_delta_t body = {.job_id = (char *)job_id, .frames = {buf, len}};
        rc = rm_client_send(client, RM_MSG_JOB_DELTA, &body, req, err);
    }
    free(buf);
    rm_msg_free(&reply);
    return rc;
}

/*  A real job's record as the thief would have every node take it:
    cancelled, or at priority 999999 from now on, with no order or one the
    thief signed itself (a node may not manage jobs). */
static int order_job(rm_client_t *client, const rm_token_t *token, char **argv, uint64_t *req,
                     rm_err_t *err)
{
    bool cancel = strcmp(argv[1], "cancel") == 0, own_key = strcmp(argv[2], "own-key") == 0;
    rm_job_ref_t ref = {argv[0]};
    rm_msg_t reply;
    if (rm_client_call(client, RM_MSG_JOB_INFO, &ref, RM_MSG_JOB_REPLY, 0, &reply, err) != 0)
        return -1;
    rm_job_record_t rec;
    int rc = rm_job_record_init(&rec, &reply.u.job_reply.spec, err);
    rm_msg_free(&reply);
    if (rc != 0)
        return -1;
    int64_t now = zclock_time();
    rm_bin_t *order = cancel ? &rec.cancel_order : &rec.priority_order;
    rec.canceled = cancel;
    if (!cancel) {
        rec.priority = 999999;
        rec.priority_at = now;
    }
    if (own_key)
        rc = rm_job_order_sign(cancel ? RM_JOB_ORDER_CANCEL : RM_JOB_ORDER_PRIORITY, argv[0], now,
                               rec.priority, token, order, err);
    if (rc == 0)
        rc = send_sync(client, &rec, req, err);
    rm_job_record_free(&rec);
    return rc;
}

/*  Asks for n chunks nobody has: the node fetches each from the members
    before it answers, holding a waiting entry meanwhile. */
static int chunk_flood(rm_client_t *client, long n, rm_err_t *err)
{
    for (long i = 0; i < n; i++) {
        rm_chunk_ref_t ref;
        uint64_t req;
        randombytes_buf(ref.hash.b, sizeof ref.hash.b);
        if (rm_client_send(client, RM_MSG_CHUNK_GET, &ref, &req, err) != 0)
            return -1;
    }
    long answered = 0;
    int64_t end = zclock_mono() + 1000;
    while (zclock_mono() < end) {
        rm_msg_t msg;
        if (rm_client_recv(client, &msg, (int)(end - zclock_mono()), err) != 0)
            break;
        answered++;
        rm_msg_free(&msg);
    }
    printf("%ld of %ld answered within 1 s\n", answered, n);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 5)
        return usage();
    const char *what = argv[3];
    rm_token_t token;
    rm_err_t err = {0};
    zsys_init();
    if (rm_token_load(argv[1], &token, &err) != 0) {
        fprintf(stderr, "rm_attack: %s\n", err.msg);
        return 2;
    }
    rm_client_t *client = rm_client_new(argv[2], &token, 5000, &err);
    if (!client) {
        rm_token_free(&token);
        fprintf(stderr, "rm_attack: %s\n", err.msg);
        return 2;
    }
    uint64_t req = 0;
    int rc = -1;
    if (strcmp(what, "invent-job") == 0 && argc == 5)
        rc = invent_job(client, argv[4], &req, &err);
    else if (strcmp(what, "scripts-on") == 0 && argc == 6)
        rc = scripts_on(client, argv[4], argv[5], &req, &err);
    else if (strcmp(what, "assign") == 0 && argc == 8)
        rc = assign(client, argv + 4, &req, &err);
    else if (strcmp(what, "replace-frame") == 0 && argc == 6)
        rc = replace_frame(client, &token, argv[4], strtoull(argv[5], NULL, 10), &req, &err);
    else if (strcmp(what, "order") == 0 && argc == 7)
        rc = order_job(client, &token, argv + 4, &req, &err);
    else if (strcmp(what, "chunk-flood") == 0 && argc == 5) {
        rc = chunk_flood(client, strtol(argv[4], NULL, 10), &err);
        rm_client_destroy(&client);
        rm_token_free(&token);
        if (rc != 0)
            fprintf(stderr, "rm_attack: %s\n", err.msg);
        return rc == 0 ? 0 : 2;
    } else {
        rm_client_destroy(&client);
        rm_token_free(&token);
        return usage();
    }
    rm_token_free(&token);
    if (rc != 0) {
        fprintf(stderr, "rm_attack: %s\n", err.msg);
        rm_client_destroy(&client);
        return 2;
    }
    /* The answer carries our request id; anything else (gossip) is not it. */
    int64_t end = zclock_mono() + 5000;
    const char *said = "no answer";
    char line[600];
    while (zclock_mono() < end) {
        rm_msg_t msg;
        if (rm_client_recv(client, &msg, (int)(end - zclock_mono()), &err) != 0)
            break;
        if (msg.req == req) {
            if (msg.type == RM_MSG_ERROR)
                snprintf(line, sizeof line, "answered ERROR %s: %s",
                         rm_code_name((rm_code_t)msg.u.error.code), msg.u.error.message);
            else
                snprintf(line, sizeof line, "answered %s", rm_msg_name(msg.type));
            said = line;
            rm_msg_free(&msg);
            break;
        }
        rm_msg_free(&msg);
    }
    printf("%s\n", said);
    rm_client_destroy(&client);
    return 0;
}
