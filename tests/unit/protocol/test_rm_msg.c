/*  Tests of the message layer: every message type round-trips with
    non-trivial and maximum-size values, and malformed input is refused
    with a message that names the problem. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "rm_frames.h"
#include "rm_job_order.h"
#include "rm_msg.h"
#include "rm_test.h"

/* ---- helpers ---- */

static char *rep(char c, size_t n)
{
    char *s = malloc(n + 1);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

static void hash_fill(rm_hash_t *h, int seed)
{
    for (int i = 0; i < 32; i++)
        h->b[i] = (uint8_t)(seed * 31 + i);
}

static rm_bin_t bin_of(size_t n, int seed)
{
    rm_bin_t b = {NULL, n};
    if (n) {
        b.data = malloc(n);
        for (size_t i = 0; i < n; i++)
            b.data[i] = (uint8_t)(i * 13 + (size_t)seed);
    }
    return b;
}

static uint8_t *find(uint8_t *hay, size_t n, const void *needle, size_t k)
{
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(hay + i, needle, k) == 0)
            return hay + i;
    return NULL;
}

static void *dup_bytes(const void *p, size_t n)
{
    uint8_t *d = malloc(n ? n : 1);
    if (n)
        memcpy(d, p, n);
    return d;
}

static void fill_spec(rm_job_spec_t *s, bool big)
{
    s->job_id = strdup("0123456789abcdef");
    s->name = big ? rep('n', RM_MAX_NAME) : strdup("shot 010");
    s->blend = strdup("scenes/shot010.blend");
    hash_fill(&s->manifest, 1);
    s->frames.count = 4;
    s->frames.items = calloc(4, sizeof *s->frames.items);
    s->frames.items[0] = (rm_frame_range_t){1, 250, 1};
    s->frames.items[1] = (rm_frame_range_t){0, 0, 1};
    s->frames.items[2] = (rm_frame_range_t){300, 400, 5};
    s->frames.items[3] = (rm_frame_range_t){RM_FRAME_MAX, RM_FRAME_MAX, 0x1234};
    s->scene = strdup("");
    s->camera = strdup("CamB");
    s->samples = 16;
    s->percent = 50;
    s->res_x = 1920;
    s->res_y = 1080;
    s->engine = strdup("CYCLES");
    s->device = strdup("OPTIX");
    s->format = strdup("PNG");
    s->chunk = 3;
    s->priority = -5;
    s->allow_scripts = true;
    s->task_timeout = 600;
    s->submitter = NULL; /* encodes as "" */
    s->submitted_at = 1700000000123;
}

static void fill_summary(rm_job_summary_t *j, int seed)
{
    char id[17];
    snprintf(id, sizeof id, "%016x", seed);
    j->job_id = strdup(id);
    j->name = strdup("a job");
    j->state = strdup(seed % 2 ? "done" : "failed");
    j->priority = INT64_MIN + seed;
    j->frames_total = RM_MAX_FRAMES;
    j->frames_done = 99;
    j->frames_failed = 1;
    j->frames_rendering = 0;
    j->submitted_at = -1;
    j->started_at = 1700000000000;
    j->finished_at = INT64_MAX;
    j->submitter = strdup("alice@studio");
    j->error = strdup(seed % 2 ? "" : "Blender crashed: segfault");
    j->version = (uint64_t)seed * 1000;
}

static void fill_frame(rm_frame_info_t *f, uint64_t frame)
{
    char file[32];
    snprintf(file, sizeof file, "frame_%04u.png", (unsigned)frame);
    f->frame = frame;
    f->state = strdup("done");
    f->node = strdup("gpu-box-1");
    f->attempts = 2;
    f->render_ms = 12345;
    f->progress = 100;
    hash_fill(&f->output, (int)frame);
    f->size = 1u << 20;
    f->file = strdup(file);
    f->error = strdup(frame % 2 ? "" : "out of memory");
}

static void fill_node(rm_node_info_t *n, int i)
{
    n->name = strdup(i ? "spot-7" : "artist-box");
    n->state = strdup(i ? "suspect" : "alive");
    n->address = strdup("tcp://10.0.0.5:7700");
    n->role = strdup(i ? "node" : "stable");
    n->slots = 4;
    n->slots_busy = (uint64_t)i;
    n->rendering = strdup(i ? "0123456789abcdef:12 0123456789abcdef:13" : "");
    n->ms_per_frame = 0;
    n->blender_ok = i == 0;
    n->blender = strdup(i ? "blender not found in PATH" : "3.4.1");
}

static void fill_status(rm_status_reply_t *s)
{
    s->node = strdup("node-a");
    s->version = strdup("0.1.0");
    s->proto = RM_PROTO_VERSION;
    s->uptime_s = 86400;
    s->coordinator = strdup("");
    s->epoch = 17;
    s->jobs_queued = 1;
    s->jobs_active = 2;
    s->jobs_done = 3;
    s->jobs_failed = 4;
    s->slots = 16;
    s->slots_busy = 15;
    s->blender_ok = true;
    s->blender = strdup("3.4.1");
}

static void fill_jobs(rm_jobs_reply_t *j, uint32_t n)
{
    j->jobs.count = n;
    j->jobs.items = calloc(n, sizeof *j->jobs.items);
    for (uint32_t i = 0; i < n; i++)
        fill_summary(&j->jobs.items[i], (int)i);
}

static void fill_job_reply(rm_job_reply_t *r, bool big)
{
    uint32_t n = big ? 1000 : 3;
    fill_summary(&r->summary, 7);
    fill_spec(&r->spec, big);
    r->frames.count = n;
    r->frames.items = calloc(n, sizeof *r->frames.items);
    for (uint32_t i = 0; i < n; i++)
        fill_frame(&r->frames.items[i], i + 1);
}

static void fill_need(rm_need_t *n, uint32_t count)
{
    n->hashes.count = count;
    n->hashes.items = calloc(count ? count : 1, sizeof(rm_hash_t));
    for (uint32_t i = 0; i < count; i++)
        hash_fill(&n->hashes.items[i], (int)i);
}

static void fill_nodes(rm_nodes_reply_t *n)
{
    n->nodes.count = 2;
    n->nodes.items = calloc(2, sizeof *n->nodes.items);
    fill_node(&n->nodes.items[0], 0);
    fill_node(&n->nodes.items[1], 1);
}

/*  Fills m->u for type t; big: maximum-size values.  Returns false for a
    type this test does not know (a new type needs a case here). */
static bool fill_a(rm_msg_type_t t, rm_msg_t *m, bool big)
{
    switch (t) {
    case RM_MSG_ERROR:
        m->u.error.code = RM_ENOTFOUND;
        m->u.error.message = big ? rep('e', RM_MAX_TEXT) : strdup("job 42 not found");
        return true;
    case RM_MSG_OK:
        m->u.ok.message = strdup("");
        return true;
    case RM_MSG_HELLO:
        m->u.hello.proto = RM_PROTO_VERSION;
        m->u.hello.credential = bin_of(big ? 4096 : 150, 3);
        return true;
    case RM_MSG_WELCOME:
        m->u.welcome.proto = RM_PROTO_VERSION;
        m->u.welcome.credential = bin_of(big ? 4096 : 150, 4);
        m->u.welcome.node = big ? rep('w', RM_MAX_NAME) : strdup("node-a");
        return true;
    case RM_MSG_SUBMIT:
        fill_spec(&m->u.submit, big);
        return true;
    case RM_MSG_NEED:
        fill_need(&m->u.need, big ? RM_MAX_NEED : 3);
        return true;
    case RM_MSG_ACCEPTED:
        m->u.accepted.job_id = rep('a', 64);
        m->u.accepted.frames_total = RM_MAX_FRAMES;
        return true;
    default:
        return false;
    }
}

static bool fill_b(rm_msg_type_t t, rm_msg_t *m, bool big)
{
    switch (t) {
    case RM_MSG_CHUNK_PUT:
    case RM_MSG_CHUNK_DATA:
        hash_fill(&m->u.chunk.hash, 9);
        m->u.chunk.data = bin_of(big ? RM_MAX_CHUNK_SIZE : (t == RM_MSG_CHUNK_PUT ? 100 : 0), 5);
        return true;
    case RM_MSG_CHUNK_OK:
    case RM_MSG_CHUNK_GET:
    case RM_MSG_CHUNK_MAP:
        hash_fill(&m->u.chunk_ref.hash, (int)t);
        return true;
    case RM_MSG_STATUS:
    case RM_MSG_JOBS:
    case RM_MSG_NODES:
        return true;
    case RM_MSG_STATUS_REPLY:
        fill_status(&m->u.status_reply);
        return true;
    case RM_MSG_JOBS_REPLY:
        fill_jobs(&m->u.jobs_reply, big ? 20000 : 3);
        return true;
    case RM_MSG_JOB_INFO:
        m->u.job_ref.job_id = strdup("fedcba9876543210");
        return true;
    case RM_MSG_CANCEL:
        m->u.cancel.job_id = strdup("fedcba9876543210");
        m->u.cancel.order = bin_of(big ? RM_JOB_ORDER_MAX : 330, 8);
        return true;
    default:
        return false;
    }
}

/*  Node-to-node messages of the mesh (issue 3). */
static bool fill_d(rm_msg_type_t t, rm_msg_t *m, bool big)
{
    uint32_t n = big ? 1000 : 2;
    switch (t) {
    case RM_MSG_JOB_DIGEST:
        m->u.job_digest.jobs.items = calloc(n, sizeof(rm_digest_entry_t));
        for (uint32_t i = 0; i < n; i++) {
            m->u.job_digest.jobs.items[i].job_id = strdup("0123456789abcdef");
            hash_fill(&m->u.job_digest.jobs.items[i].digest, (int)i);
        }
        m->u.job_digest.jobs.count = n;
        m->u.job_digest.reply = true;
        return true;
    case RM_MSG_WORK_REQ:
        m->u.work_req.epoch = 7;
        m->u.work_req.free = 2;
        m->u.work_req.ready.items = calloc(n, sizeof(char *));
        for (uint32_t i = 0; i < n; i++)
            m->u.work_req.ready.items[i] = strdup("00000000000000aa");
        m->u.work_req.ready.count = n;
        m->u.work_req.running.items = calloc(1, sizeof(rm_task_t));
        m->u.work_req.running.items[0].job_id = strdup("00000000000000aa");
        m->u.work_req.running.items[0].frames.items = calloc(3, sizeof(uint64_t));
        m->u.work_req.running.items[0].frames.items[2] = 12;
        m->u.work_req.running.items[0].frames.count = 3;
        m->u.work_req.running.count = 1;
        return true;
    case RM_MSG_ASSIGN:
        m->u.assign.epoch = 9;
        m->u.assign.coordinator = strdup("n1");
        m->u.assign.tasks.items = calloc(n, sizeof(rm_task_t));
        for (uint32_t i = 0; i < n; i++) {
            rm_task_t *task = &m->u.assign.tasks.items[i];
            task->job_id = strdup("00000000000000aa");
            task->frames.items = calloc(RM_MAX_TASK_FRAMES, sizeof(uint64_t));
            task->frames.count = big ? RM_MAX_TASK_FRAMES : 1;
            task->frames.items[0] = i;
            if (big) { /* frames reopened: their generations (sparse) */
                task->gens.items = calloc(RM_MAX_TASK_FRAMES, sizeof(uint64_t));
                task->gens.count = RM_MAX_TASK_FRAMES;
                for (uint32_t k = 0; k < RM_MAX_TASK_FRAMES; k++)
                    task->gens.items[k] = k + 1;
            }
        }
        m->u.assign.tasks.count = n;
        return true;
    case RM_MSG_REPLICATE:
        hash_fill(&m->u.replicate.hash, 5);
        m->u.replicate.job_id = strdup("0123456789abcdef");
        m->u.replicate.frame = 17;
        hash_fill(&m->u.replicate.log, 6);
        return true;
    case RM_MSG_DRAIN:
        m->u.drain.node = strdup("worker-3");
        m->u.drain.hand_back = big;
        m->u.drain.asked_by = strdup("ann");
        return true;
    case RM_MSG_REVOKE:
        m->u.revoke.revocations.count = big ? RM_MAX_REVOKE : 2;
        m->u.revoke.revocations.items = calloc(m->u.revoke.revocations.count, sizeof(rm_bin_t));
        for (uint32_t i = 0; i < m->u.revoke.revocations.count; i++)
            m->u.revoke.revocations.items[i] = bin_of(big ? 200 : 90, (uint8_t)i);
        return true;
    case RM_MSG_PRIORITY:
        m->u.priority.job_id = rep('a', big ? 64 : 16);
        m->u.priority.priority = big ? -1000000 : 7;
        m->u.priority.order = bin_of(big ? RM_JOB_ORDER_MAX : 340, 9);
        return true;
    case RM_MSG_JOB_REMOVE:
        m->u.job_remove.removals.count = big ? RM_MAX_REMOVE : 1;
        m->u.job_remove.removals.items = calloc(m->u.job_remove.removals.count, sizeof(rm_bin_t));
        for (uint32_t i = 0; i < m->u.job_remove.removals.count; i++)
            m->u.job_remove.removals.items[i] = bin_of(big ? 400 : 300, (uint8_t)i);
        return true;
    case RM_MSG_IMPORT:
        m->u.import.blend = big ? rep('k', RM_MAX_PATH) : strdup("s3://bucket/sh010/scene.blend");
        m->u.import.attach.count = big ? RM_MAX_ATTACH : 1;
        m->u.import.attach.items = calloc(m->u.import.attach.count, sizeof(char *));
        for (uint32_t i = 0; i < m->u.import.attach.count; i++)
            m->u.import.attach.items[i] = big ? rep('t', RM_MAX_PATH) : strdup("s3://bucket/tex/");
        return true;
    case RM_MSG_IMPORT_REPLY:
        m->u.import_reply.state = strdup("done");
        memset(m->u.import_reply.manifest.b, 0x33, sizeof m->u.import_reply.manifest.b);
        m->u.import_reply.blend = big ? rep('b', RM_MAX_PATH) : strdup("scene.blend");
        m->u.import_reply.root = strdup("s3://bucket/sh010/");
        m->u.import_reply.files = 3;
        m->u.import_reply.bytes = big ? UINT64_MAX : 1000;
        m->u.import_reply.bytes_done = 1000;
        m->u.import_reply.error = big ? rep('e', RM_MAX_TEXT) : strdup("");
        return true;
    case RM_MSG_HAVE:
        m->u.have.outputs.count = big ? RM_MAX_HAVE : 2;
        m->u.have.outputs.items = calloc(m->u.have.outputs.count, sizeof(rm_hash_t));
        for (uint32_t i = 0; i < m->u.have.outputs.count; i++)
            hash_fill(&m->u.have.outputs.items[i], (uint8_t)i);
        return true;
    case RM_MSG_HAVE_REPLY:
        m->u.have_reply.held = bin_of(big ? (RM_MAX_HAVE + 7) / 8 : 1, 7);
        return true;
    case RM_MSG_CHUNKS_HELD:
        m->u.chunks_held.hashes.count = big ? RM_MAX_NEED : 3;
        m->u.chunks_held.hashes.items = calloc(m->u.chunks_held.hashes.count, sizeof(rm_hash_t));
        for (uint32_t i = 0; i < m->u.chunks_held.hashes.count; i++)
            hash_fill(&m->u.chunks_held.hashes.items[i], (uint8_t)(i + 3));
        return true;
    case RM_MSG_CHUNKS_HELD_REPLY:
        m->u.chunks_held_reply.held = bin_of(big ? (RM_MAX_NEED + 7) / 8 : 1, 3);
        return true;
    case RM_MSG_CHUNK_MAP_REPLY:
        m->u.chunk_map_reply.held = bin_of(big ? (RM_MAX_MAP_CHUNKS + 7) / 8 : 3, 5);
        m->u.chunk_map_reply.coming = bin_of(big ? (RM_MAX_MAP_CHUNKS + 7) / 8 : 2, 6);
        return true;
    default:
        return false;
    }
}

static bool fill_c(rm_msg_type_t t, rm_msg_t *m, bool big)
{
    switch (t) {
    case RM_MSG_JOB_REPLY:
        fill_job_reply(&m->u.job_reply, big);
        return true;
    case RM_MSG_NODES_REPLY:
        fill_nodes(&m->u.nodes_reply);
        return true;
    case RM_MSG_LOGS:
        m->u.logs.job_id = strdup("0123456789abcdef");
        m->u.logs.frame = big ? RM_FRAME_MAX : 12;
        m->u.logs.has_frame = true;
        return true;
    case RM_MSG_LOGS_REPLY:
        m->u.logs_reply.text = bin_of(big ? RM_MAX_LOG : 300, 6);
        m->u.logs_reply.truncated = big;
        return true;
    case RM_MSG_WATCH:
        m->u.watch.job_id = strdup("0123456789abcdef");
        m->u.watch.version = 42;
        m->u.watch.timeout_ms = big ? 60000 : 1500;
        return true;
    case RM_MSG_WATCH_REPLY:
        fill_summary(&m->u.watch_reply, 3);
        return true;
    case RM_MSG_GOSSIP:
        m->u.gossip.payload = bin_of(big ? RM_MAX_GOSSIP : 40, 0x42);
        return true;
    case RM_MSG_JOB_SYNC:
        m->u.job_sync.record = bin_of(big ? RM_MAX_MSG_SIZE - 128 : 70, 0x17);
        m->u.job_sync.want_held = true;
        return true;
    case RM_MSG_JOB_HELD:
        m->u.job_held.job_id = strdup("0123456789abcdef");
        return true;
    case RM_MSG_JOB_DELTA:
        m->u.job_delta.job_id = strdup("0123456789abcdef");
        m->u.job_delta.frames = bin_of(big ? RM_MAX_MSG_SIZE - 256 : 30, 0x18);
        return true;
    default:
        return fill_d(t, m, big);
        return false;
    }
}

static bool fill(rm_msg_type_t t, rm_msg_t *m, bool big)
{
    memset(m, 0, sizeof *m);
    m->type = t;
    return fill_a(t, m, big) || fill_b(t, m, big) || fill_c(t, m, big);
}

static int decode(const uint8_t *data, size_t size, rm_msg_t *m, rm_err_t *err)
{
    /* An exact-size copy, so ASan catches any read past the end. */
    uint8_t *copy = dup_bytes(data, size);
    int rc = rm_msg_decode(copy, size, m, err);
    free(copy);
    return rc;
}

/*  Expects data to be refused with `want` in the message. */
static void expect_refused(const uint8_t *data, size_t size, const char *want, int line)
{
    rm_msg_t m;
    rm_err_t err = {0};
    int rc = decode(data, size, &m, &err);
    CHECK_MSG(rc == -1, "line %d: decoded, want '%s'", line, want);
    CHECK_MSG(rc == 0 || err.code == RM_EPROTO, "line %d: code %d (%s)", line, err.code, err.msg);
    CHECK_MSG(rc == 0 || strstr(err.msg, want), "line %d: got '%s', want '%s'", line, err.msg,
              want);
    rm_msg_free(&m);
}
#define REFUSED(data, size, want) expect_refused(data, size, want, __LINE__)

/*  A msgpack writer for hand-made messages. */
typedef struct {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} mp_t;

static void mp_env(mp_t *m, uint64_t version, uint64_t type, uint32_t n)
{
    msgpack_sbuffer_init(&m->sb);
    msgpack_packer_init(&m->pk, &m->sb, msgpack_sbuffer_write);
    msgpack_pack_array(&m->pk, n);
    msgpack_pack_uint64(&m->pk, version);
    if (n > 1)
        msgpack_pack_uint64(&m->pk, type);
    if (n > 2)
        msgpack_pack_uint64(&m->pk, 77);
}

static void mp_raw(mp_t *m, const void *p, size_t n)
{
    msgpack_sbuffer_write(&m->sb, p, n);
}

static void mp_str(mp_t *m, const char *s)
{
    msgpack_pack_str_with_body(&m->pk, s, strlen(s));
}

#define MP_REFUSED(m, want) REFUSED((const uint8_t *)(m)->sb.data, (m)->sb.size, want)

/* ---- round trips ---- */

/*  Every strict prefix of a message must be refused. */
static void check_prefixes(const uint8_t *buf, size_t len, const char *name)
{
    for (size_t n = 0; n < len; n++) {
        rm_msg_t m;
        rm_err_t err;
        if (decode(buf, n, &m, &err) == 0) {
            CHECK_MSG(0, "%s: prefix of %zu/%zu bytes decoded", name, n, len);
            rm_msg_free(&m);
            return;
        }
        rm_msg_free(&m);
    }
}

static void round_trip(rm_msg_type_t t, bool big)
{
    rm_msg_t in, out;
    uint8_t *buf, *buf2;
    size_t len, len2;
    rm_err_t err;
    const char *name = rm_msg_name(t);
    CHECK_MSG(fill(t, &in, big), "type %d has no test values", (int)t);
    CHECK_MSG(rm_msg_encode(t, 1000 + t, &in.u, &buf, &len, &err) == 0, "%s: %s", name, err.msg);
    CHECK_MSG(len <= RM_MAX_MSG_SIZE, "%s: %zu bytes", name, len);
    CHECK_MSG(decode(buf, len, &out, &err) == 0, "%s: %s", name, err.msg);
    CHECK(out.type == t && out.req == 1000u + t && out.version == RM_PROTO_VERSION);
    /* Same bytes again: nothing was lost or changed on the way. */
    CHECK(rm_msg_encode(t, out.req, &out.u, &buf2, &len2, &err) == 0);
    CHECK_MSG(len2 == len && memcmp(buf, buf2, len) == 0, "%s: re-encoding differs", name);
    /* A deep copy encodes the same too. */
    rm_msg_t copy = {.type = t};
    CHECK(rm_codec_copy(rm_msg_desc(t), &copy.u, &out.u, &err) == 0);
    free(buf2);
    CHECK(rm_msg_encode(t, out.req, &copy.u, &buf2, &len2, &err) == 0);
    CHECK_MSG(len2 == len && memcmp(buf, buf2, len) == 0, "%s: copy differs", name);
    if (!big)
        check_prefixes(buf, len, name);
    rm_msg_free(&copy);
    rm_msg_free(&out);
    rm_msg_free(&in);
    free(buf);
    free(buf2);
}

static void test_every_type(void)
{
    for (int t = 1; t < RM_MSG_TYPE_COUNT; t++) {
        CHECK_MSG(rm_msg_name((rm_msg_type_t)t) && rm_msg_desc((rm_msg_type_t)t), "type %d", t);
        round_trip((rm_msg_type_t)t, false);
        round_trip((rm_msg_type_t)t, true);
    }
    CHECK(rm_msg_name(0) == NULL && rm_msg_desc(0) == NULL);
    CHECK(rm_msg_name(RM_MSG_TYPE_COUNT) == NULL && rm_msg_desc(RM_MSG_TYPE_COUNT) == NULL);
    CHECK(strcmp(rm_msg_name(RM_MSG_CHUNK_PUT), "CHUNK_PUT") == 0);
}

static void test_values(void)
{
    rm_msg_t in, out;
    uint8_t *buf;
    size_t len;
    rm_err_t err;
    fill(RM_MSG_JOB_REPLY, &in, false);
    CHECK(rm_msg_encode(RM_MSG_JOB_REPLY, 5, &in.u, &buf, &len, &err) == 0);
    CHECK(rm_msg_decode(buf, len, &out, &err) == 0);
    rm_job_reply_t *r = &out.u.job_reply;
    CHECK(r->summary.priority == INT64_MIN + 7 && r->summary.finished_at == INT64_MAX);
    CHECK(r->summary.version == 7000 && strcmp(r->summary.error, "") == 0);
    CHECK(r->spec.frames.count == 4 && r->spec.frames.items[2].step == 5);
    CHECK(r->spec.frames.items[3].first == RM_FRAME_MAX);
    CHECK(r->spec.submitter && r->spec.submitter[0] == '\0' && r->spec.scene[0] == '\0');
    CHECK(r->spec.allow_scripts && r->spec.priority == -5);
    CHECK(memcmp(&r->spec.manifest, &in.u.job_reply.spec.manifest, 32) == 0);
    CHECK(r->frames.count == 3 && strcmp(r->frames.items[1].file, "frame_0002.png") == 0);
    CHECK(r->frames.items[2].output.b[0] == in.u.job_reply.frames.items[2].output.b[0]);
    rm_msg_free(&out);
    rm_msg_free(&in);
    CHECK(out.type == 0 && out.u.job_reply.frames.items == NULL);
    free(buf);
}

static void test_null_body(void)
{
    uint8_t *buf;
    size_t len;
    rm_msg_t m;
    rm_err_t err;
    CHECK(rm_msg_encode(RM_MSG_STATUS, 3, NULL, &buf, &len, &err) == 0);
    CHECK(len == 5 && memcmp(buf, "\x94\x02\x0c\x03\x90", 5) == 0);
    free(buf);
    CHECK(rm_msg_encode(RM_MSG_SUBMIT, 3, NULL, &buf, &len, &err) == 0);
    CHECK(rm_msg_decode(buf, len, &m, &err) == 0);
    CHECK(m.u.submit.job_id && m.u.submit.job_id[0] == '\0' && m.u.submit.frames.count == 0);
    rm_msg_free(&m);
    free(buf);
    CHECK(rm_msg_encode(0, 3, NULL, &buf, &len, &err) == -1 && buf == NULL);
    CHECK(rm_msg_encode(RM_MSG_TYPE_COUNT, 3, NULL, &buf, &len, &err) == -1);
    CHECK(strstr(err.msg, "unknown message type"));
}

static void test_encode_error(void)
{
    uint8_t *buf;
    size_t len;
    rm_msg_t m;
    rm_err_t err;
    char *huge = rep('x', RM_MAX_TEXT + 10);
    CHECK(rm_msg_encode_error(9, RM_EAUTH, huge, &buf, &len, &err) == 0);
    CHECK(rm_msg_decode(buf, len, &m, &err) == 0);
    CHECK(m.type == RM_MSG_ERROR && m.req == 9 && m.u.error.code == RM_EAUTH);
    CHECK(strlen(m.u.error.message) == RM_MAX_TEXT);
    rm_msg_free(&m);
    free(buf);
    free(huge);
    CHECK(rm_msg_encode_error(1, RM_EIO, NULL, &buf, &len, &err) == 0);
    CHECK(rm_msg_decode(buf, len, &m, &err) == 0 && strcmp(m.u.error.message, "") == 0);
    rm_msg_free(&m);
    free(buf);
}

/*  Values beyond a limit are never sent. */
static void test_encode_limits(void)
{
    rm_msg_t m;
    uint8_t *buf = NULL;
    size_t len = 0;
    rm_err_t err;
    fill(RM_MSG_NEED, &m, false);
    rm_msg_free(&m);
    fill_need(&m.u.need, RM_MAX_NEED + 1);
    m.type = RM_MSG_NEED;
    CHECK(rm_msg_encode(RM_MSG_NEED, 1, &m.u, &buf, &len, &err) == -1 && buf == NULL);
    CHECK_MSG(err.code == RM_EINVAL && strstr(err.msg, "NEED: need.hashes: 4097 items, max 4096"),
              "%s", err.msg);
    rm_msg_free(&m);

    fill(RM_MSG_SUBMIT, &m, false);
    m.u.submit.frames.items[3].step = RM_FRAME_MAX + 1;
    CHECK(rm_msg_encode(RM_MSG_SUBMIT, 1, &m.u, &buf, &len, &err) == -1);
    CHECK_MSG(strstr(err.msg, "SUBMIT: job_spec.frames[3].step: 1048575 is above the maximum"),
              "%s", err.msg);
    m.u.submit.frames.items[3].step = 1;
    free(m.u.submit.name);
    m.u.submit.name = rep('n', RM_MAX_NAME + 1);
    CHECK(rm_msg_encode(RM_MSG_SUBMIT, 1, &m.u, &buf, &len, &err) == -1);
    CHECK_MSG(strstr(err.msg, "job_spec.name: str of 257 bytes, max 256"), "%s", err.msg);
    rm_msg_free(&m);

    fill(RM_MSG_CHUNK_PUT, &m, true);
    free(m.u.chunk.data.data);
    m.u.chunk.data = bin_of(RM_MAX_CHUNK_SIZE + 1, 0);
    CHECK(rm_msg_encode(RM_MSG_CHUNK_PUT, 1, &m.u, &buf, &len, &err) == -1);
    CHECK_MSG(strstr(err.msg, "chunk.data: bin of 1048577 bytes, max 1048576"), "%s", err.msg);
    rm_msg_free(&m);

    fill(RM_MSG_JOBS_REPLY, &m, false);
    rm_msg_free(&m);
    fill_jobs(&m.u.jobs_reply, 100001);
    m.type = RM_MSG_JOBS_REPLY;
    CHECK(rm_msg_encode(RM_MSG_JOBS_REPLY, 1, &m.u, &buf, &len, &err) == -1);
    CHECK_MSG(strstr(err.msg, "jobs_reply.jobs: 100001 items, max 100000"), "%s", err.msg);
    /* 100000 jobs fit the list; the message must then fit RM_MAX_MSG_SIZE
       or be refused by the encoder, never sent too large. */
    m.u.jobs_reply.jobs.count = 100000;
    if (rm_msg_encode(RM_MSG_JOBS_REPLY, 1, &m.u, &buf, &len, &err) == 0) {
        CHECK(len <= RM_MAX_MSG_SIZE);
        free(buf);
        buf = NULL;
    } else {
        CHECK_MSG(buf == NULL && strstr(err.msg, "JOBS_REPLY: message of"), "%s", err.msg);
    }
    m.u.jobs_reply.jobs.count = 100001;
    rm_msg_free(&m);
}

/* ---- malformed input ---- */

static void test_envelope(void)
{
    mp_t m;
    REFUSED(NULL, 0, "envelope: truncated");
    REFUSED((const uint8_t *)"\xa1x", 2, "envelope: expected array, got str");
    REFUSED((const uint8_t *)"\x90", 1, "envelope: empty array");
    REFUSED((const uint8_t *)"\x91\xa1x", 3, "envelope version: expected int, got str");
    mp_env(&m, 1, RM_MSG_STATUS, 4); /* BLAKE2b names: refused, not misread */
    msgpack_pack_array(&m.pk, 0);
    MP_REFUSED(&m, "protocol version 1 not supported (this node speaks version 2)");
    msgpack_sbuffer_destroy(&m.sb);
    mp_env(&m, 7, 0, 1); /* another version's envelope may have another shape */
    MP_REFUSED(&m, "protocol version 7 not supported");
    msgpack_sbuffer_destroy(&m.sb);
    mp_env(&m, RM_PROTO_VERSION, RM_MSG_STATUS, 3);
    MP_REFUSED(&m, "envelope: 3 elements, expected 4");
    msgpack_sbuffer_destroy(&m.sb);
    const uint64_t bad_types[] = {0, RM_MSG_TYPE_COUNT, 99, UINT64_MAX};
    for (int i = 0; i < 4; i++) {
        char want[64];
        mp_env(&m, RM_PROTO_VERSION, bad_types[i], 4);
        msgpack_pack_array(&m.pk, 0);
        snprintf(want, sizeof want, "unknown message type %llu", (unsigned long long)bad_types[i]);
        MP_REFUSED(&m, want);
        msgpack_sbuffer_destroy(&m.sb);
    }
    mp_env(&m, RM_PROTO_VERSION, RM_MSG_STATUS, 4);
    msgpack_pack_map(&m.pk, 0);
    MP_REFUSED(&m, "STATUS: empty: expected array, got map");
    msgpack_sbuffer_destroy(&m.sb);
}

static void test_trailing(void)
{
    mp_t m;
    mp_env(&m, RM_PROTO_VERSION, RM_MSG_STATUS, 4);
    msgpack_pack_array(&m.pk, 0);
    msgpack_pack_nil(&m.pk);
    MP_REFUSED(&m, "STATUS: 1 stray byte(s) after the message");
    msgpack_sbuffer_destroy(&m.sb);
    /* A later revision's extra envelope element is skipped... */
    rm_msg_t msg;
    rm_err_t err;
    mp_env(&m, RM_PROTO_VERSION, RM_MSG_STATUS, 5);
    msgpack_pack_array(&m.pk, 0);
    mp_str(&m, "trace-id");
    CHECK_MSG(decode((const uint8_t *)m.sb.data, m.sb.size, &msg, &err) == 0, "%s", err.msg);
    CHECK(msg.type == RM_MSG_STATUS && msg.req == 77);
    rm_msg_free(&msg);
    msgpack_sbuffer_destroy(&m.sb);
    /* ...but bounded like everything else. */
    mp_env(&m, RM_PROTO_VERSION, RM_MSG_STATUS, 5);
    msgpack_pack_array(&m.pk, 0);
    mp_raw(&m, "\xdb\x7f\xff\xff\xff", 5);
    MP_REFUSED(&m, "STATUS: envelope[4]: str of 2147483647 bytes but only 0 bytes left");
    msgpack_sbuffer_destroy(&m.sb);
}

static void test_huge_lengths(void)
{
    mp_t m;
    mp_env(&m, RM_PROTO_VERSION, RM_MSG_SUBMIT, 4);
    mp_raw(&m, "\xdd\x07\xff\xff\xff", 5);
    MP_REFUSED(&m, "SUBMIT: job_spec: array of 134217727 items but only 0 bytes left");
    msgpack_sbuffer_destroy(&m.sb);
    mp_env(&m, RM_PROTO_VERSION, RM_MSG_NEED, 4);
    msgpack_pack_array(&m.pk, 1);
    mp_raw(&m, "\xdd\x07\xff\xff\xff", 5);
    MP_REFUSED(&m, "NEED: need.hashes: 134217727 items, max 4096");
    msgpack_sbuffer_destroy(&m.sb);
    /* Fewer bytes than the declared elements need at the least. */
    mp_env(&m, RM_PROTO_VERSION, RM_MSG_NEED, 4);
    msgpack_pack_array(&m.pk, 1);
    msgpack_pack_array(&m.pk, 100);
    for (int i = 0; i < 100; i++)
        msgpack_pack_nil(&m.pk);
    MP_REFUSED(&m, "NEED: need.hashes: 100 items of at least 34 bytes but only 100 bytes left");
    msgpack_sbuffer_destroy(&m.sb);
    mp_env(&m, RM_PROTO_VERSION, RM_MSG_LOGS_REPLY, 4);
    msgpack_pack_array(&m.pk, 2);
    mp_raw(&m, "\xc6\xff\xff\xff\xff", 5);
    msgpack_pack_true(&m.pk);
    MP_REFUSED(&m, "LOGS_REPLY: logs_reply.text: bin of 4294967295 bytes, max 4194304");
    msgpack_sbuffer_destroy(&m.sb);
    mp_env(&m, RM_PROTO_VERSION, RM_MSG_CHUNK_PUT, 4);
    msgpack_pack_array(&m.pk, 2);
    msgpack_pack_bin_with_body(&m.pk, "0123456789abcdef0123456789abcdef", 32);
    mp_raw(&m, "\xc6\x00\x10\x00\x00", 5);
    MP_REFUSED(&m, "CHUNK_PUT: chunk.data: bin of 1048576 bytes but only 0 bytes left");
    msgpack_sbuffer_destroy(&m.sb);
    mp_env(&m, RM_PROTO_VERSION, RM_MSG_JOB_REPLY, 4);
    msgpack_pack_array(&m.pk, 3);
    mp_raw(&m, "\xdd\x07\xff\xff\xff", 5);
    MP_REFUSED(&m, "JOB_REPLY: job_reply.summary: array of 134217727 items but only 0 bytes left");
    msgpack_sbuffer_destroy(&m.sb);
    /* Anything larger than a socket accepts is refused unread. */
    uint8_t *big = calloc(RM_MAX_MSG_SIZE + 1, 1);
    char want_big[96];
    snprintf(want_big, sizeof want_big, "message of %d bytes, max %d", RM_MAX_MSG_SIZE + 1,
             RM_MAX_MSG_SIZE);
    REFUSED(big, RM_MAX_MSG_SIZE + 1, want_big);
    free(big);
}

static void test_field_errors(void)
{
    mp_t m;
    mp_env(&m, RM_PROTO_VERSION, RM_MSG_NEED, 4);
    msgpack_pack_array(&m.pk, 1);
    msgpack_pack_array(&m.pk, RM_MAX_NEED + 1);
    for (int i = 0; i < RM_MAX_NEED + 1; i++)
        msgpack_pack_bin_with_body(&m.pk, "0123456789abcdef0123456789abcdef", 32);
    MP_REFUSED(&m, "NEED: need.hashes: 4097 items, max 4096");
    msgpack_sbuffer_destroy(&m.sb);

    mp_env(&m, RM_PROTO_VERSION, RM_MSG_ACCEPTED, 4);
    msgpack_pack_array(&m.pk, 2);
    mp_str(&m, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdefX");
    msgpack_pack_uint64(&m.pk, 1);
    MP_REFUSED(&m, "ACCEPTED: accepted.job_id: str of 65 bytes, max 64");
    msgpack_sbuffer_destroy(&m.sb);

    mp_env(&m, RM_PROTO_VERSION, RM_MSG_ACCEPTED, 4);
    msgpack_pack_array(&m.pk, 2);
    mp_str(&m, "x");
    msgpack_pack_uint64(&m.pk, RM_MAX_FRAMES + 1);
    MP_REFUSED(&m, "ACCEPTED: accepted.frames_total: 100001 is above the maximum 100000");
    msgpack_sbuffer_destroy(&m.sb);

    mp_env(&m, RM_PROTO_VERSION, RM_MSG_ACCEPTED, 4);
    msgpack_pack_array(&m.pk, 1);
    mp_str(&m, "x");
    MP_REFUSED(&m, "ACCEPTED: accepted: 1 fields, expected at least 2");
    msgpack_sbuffer_destroy(&m.sb);

    mp_env(&m, RM_PROTO_VERSION, RM_MSG_ACCEPTED, 4);
    msgpack_pack_array(&m.pk, 2);
    mp_str(&m, "x");
    mp_str(&m, "10");
    MP_REFUSED(&m, "ACCEPTED: accepted.frames_total: expected int, got str");
    msgpack_sbuffer_destroy(&m.sb);

    mp_env(&m, RM_PROTO_VERSION, RM_MSG_ERROR, 4);
    msgpack_pack_array(&m.pk, 2);
    msgpack_pack_int64(&m.pk, -2);
    mp_str(&m, "x");
    MP_REFUSED(&m, "ERROR: error.code: expected an unsigned int, got -2");
    msgpack_sbuffer_destroy(&m.sb);

    mp_env(&m, RM_PROTO_VERSION, RM_MSG_ERROR, 4);
    msgpack_pack_array(&m.pk, 2);
    msgpack_pack_uint64(&m.pk, 1);
    msgpack_pack_str_with_body(&m.pk, "bad\0news", 8);
    MP_REFUSED(&m, "ERROR: error.message: NUL byte inside a string");
    msgpack_sbuffer_destroy(&m.sb);

    mp_env(&m, RM_PROTO_VERSION, RM_MSG_CHUNK_GET, 4);
    msgpack_pack_array(&m.pk, 1);
    msgpack_pack_bin_with_body(&m.pk, "0123456789abcdef0123456789abcde", 31);
    MP_REFUSED(&m, "CHUNK_GET: chunk_ref.hash: expected 32 bytes, got 31");
    msgpack_sbuffer_destroy(&m.sb);

    mp_env(&m, RM_PROTO_VERSION, RM_MSG_LOGS, 4);
    msgpack_pack_array(&m.pk, 3);
    mp_str(&m, "j");
    msgpack_pack_uint64(&m.pk, 1);
    msgpack_pack_uint64(&m.pk, 1);
    MP_REFUSED(&m, "LOGS: logs.has_frame: expected bool, got int");
    msgpack_sbuffer_destroy(&m.sb);

    mp_env(&m, RM_PROTO_VERSION, RM_MSG_WATCH, 4);
    msgpack_pack_array(&m.pk, 3);
    mp_str(&m, "j");
    msgpack_pack_uint64(&m.pk, 1);
    msgpack_pack_uint64(&m.pk, 60001);
    MP_REFUSED(&m, "WATCH: watch.timeout_ms: 60001 is above the maximum 60000");
    msgpack_sbuffer_destroy(&m.sb);
}

/*  A value deep inside a nested list names its whole path. */
static void test_error_path(void)
{
    rm_msg_t in;
    uint8_t *buf;
    size_t len;
    rm_err_t err;
    fill(RM_MSG_SUBMIT, &in, false); /* frames[3].step is 0x1234: cd 12 34 */
    CHECK(rm_msg_encode(RM_MSG_SUBMIT, 1, &in.u, &buf, &len, &err) == 0);
    rm_msg_free(&in);
    uint8_t *at = find(buf, len, "\xcd\x12\x34", 3);
    CHECK(at != NULL);
    if (at) {
        /* Replace it by a 5-byte u32 16777215: same element count, new value. */
        size_t off = (size_t)(at - buf);
        uint8_t *patched = malloc(len + 2);
        memcpy(patched, buf, off);
        memcpy(patched + off, "\xce\x00\xff\xff\xff", 5);
        memcpy(patched + off + 5, at + 3, len - off - 3);
        REFUSED(patched, len + 2,
                "SUBMIT: job_spec.frames[3].step: 16777215 is above the maximum 1048574");
        patched[off] = 0xa0; /* now a str: "expected int" */
        REFUSED(patched, len + 2, "SUBMIT: job_spec.frames[3].step: expected int, got str");
        free(patched);
    }
    free(buf);
}

static void test_newer_peer(void)
{
    mp_t m;
    rm_msg_t msg;
    rm_err_t err;
    mp_env(&m, RM_PROTO_VERSION, RM_MSG_ACCEPTED, 4);
    msgpack_pack_array(&m.pk, 6);
    mp_str(&m, "0123456789abcdef");
    msgpack_pack_uint64(&m.pk, 250);
    mp_str(&m, "a field from the future");
    msgpack_pack_map(&m.pk, 1);
    mp_str(&m, "k");
    msgpack_pack_array(&m.pk, 2);
    msgpack_pack_double(&m.pk, 0.5);
    msgpack_pack_ext_with_body(&m.pk, "abc", 3, 7);
    msgpack_pack_bin_with_body(&m.pk, "\0\0", 2);
    msgpack_pack_int64(&m.pk, -1);
    CHECK_MSG(decode((const uint8_t *)m.sb.data, m.sb.size, &msg, &err) == 0, "%s", err.msg);
    CHECK(msg.type == RM_MSG_ACCEPTED && msg.u.accepted.frames_total == 250);
    CHECK(strcmp(msg.u.accepted.job_id, "0123456789abcdef") == 0);
    rm_msg_free(&msg);
    msgpack_sbuffer_destroy(&m.sb);

    /* A newer job_summary, nested in a list, with an 18th field of its own. */
    rm_job_summary_t sum;
    uint8_t *buf = NULL;
    size_t len = 0;
    memset(&sum, 0, sizeof sum);
    fill_summary(&sum, 5);
    CHECK(rm_codec_encode(&rm_job_summary_desc, &sum, &buf, &len, &err) == 0);
    rm_codec_free(&rm_job_summary_desc, &sum);
    CHECK(buf[0] == 0xdc && buf[1] == 0 && buf[2] == 17); /* array 17 */
    mp_env(&m, RM_PROTO_VERSION, RM_MSG_JOBS_REPLY, 4);
    mp_raw(&m, "\x91\x92", 2);     /* [jobs: [summary, summary]] */
    mp_raw(&m, "\xdc\x00\x12", 3); /* array 18 */
    mp_raw(&m, buf + 3, len - 3);
    msgpack_pack_array(&m.pk, 2);
    msgpack_pack_uint64(&m.pk, 1);
    msgpack_pack_array(&m.pk, 0);
    mp_raw(&m, "\xdc\x00\x12", 3);
    mp_raw(&m, buf + 3, len - 3);
    msgpack_pack_nil(&m.pk);
    free(buf);
    CHECK_MSG(decode((const uint8_t *)m.sb.data, m.sb.size, &msg, &err) == 0, "%s", err.msg);
    CHECK(msg.u.jobs_reply.jobs.count == 2);
    CHECK(msg.u.jobs_reply.jobs.count == 2 && msg.u.jobs_reply.jobs.items[1].version == 5000);
    rm_msg_free(&msg);
    msgpack_sbuffer_destroy(&m.sb);
}

/*  A REPLICATE from a node that predates the frame's log: no `log`. */
static void test_replicate_without_log(void)
{
    mp_t m;
    rm_msg_t msg;
    rm_err_t err;
    uint8_t hash[32];
    memset(hash, 5, sizeof hash);
    mp_env(&m, RM_PROTO_VERSION, RM_MSG_REPLICATE, 4);
    msgpack_pack_array(&m.pk, 3);
    msgpack_pack_bin_with_body(&m.pk, hash, 32);
    mp_str(&m, "0123456789abcdef");
    msgpack_pack_uint64(&m.pk, 17);
    CHECK_MSG(decode((const uint8_t *)m.sb.data, m.sb.size, &msg, &err) == 0, "%s", err.msg);
    static const uint8_t zero[32];
    CHECK(msg.type == RM_MSG_REPLICATE && msg.u.replicate.frame == 17 &&
          memcmp(msg.u.replicate.hash.b, hash, 32) == 0 &&
          memcmp(msg.u.replicate.log.b, zero, 32) == 0);
    rm_msg_free(&msg);
    msgpack_sbuffer_destroy(&m.sb);
}

/*  Nesting deeper than the cap, inside elements a decoder skips. */
static void test_depth(void)
{
    mp_t m;
    for (int extra = RM_CODEC_MAX_DEPTH - 1; extra <= RM_CODEC_MAX_DEPTH; extra++) {
        rm_msg_t msg;
        rm_err_t err;
        mp_env(&m, RM_PROTO_VERSION, RM_MSG_CHUNK_OK, 4);
        msgpack_pack_array(&m.pk, 2);
        msgpack_pack_bin_with_body(&m.pk, "0123456789abcdef0123456789abcdef", 32);
        /* body is level 1; `extra` more levels below its trailing element */
        for (int i = 0; i < extra; i++)
            msgpack_pack_array(&m.pk, 1);
        msgpack_pack_nil(&m.pk);
        int rc = decode((const uint8_t *)m.sb.data, m.sb.size, &msg, &err);
        if (extra < RM_CODEC_MAX_DEPTH) {
            CHECK_MSG(rc == 0, "depth %d: %s", extra + 1, err.msg);
        } else {
            CHECK(rc == -1 && err.code == RM_EPROTO);
            CHECK_MSG(strstr(err.msg, "CHUNK_OK: chunk_ref[1]: nested deeper than 16 levels"), "%s",
                      err.msg);
        }
        rm_msg_free(&msg);
        msgpack_sbuffer_destroy(&m.sb);
    }
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    RM_RUN(test_every_type);
    RM_RUN(test_values);
    RM_RUN(test_null_body);
    RM_RUN(test_encode_error);
    RM_RUN(test_encode_limits);
    RM_RUN(test_envelope);
    RM_RUN(test_trailing);
    RM_RUN(test_huge_lengths);
    RM_RUN(test_field_errors);
    RM_RUN(test_error_path);
    RM_RUN(test_newer_peer);
    RM_RUN(test_replicate_without_log);
    RM_RUN(test_depth);
    RM_TEST_DONE();
}
