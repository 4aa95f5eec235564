/*  rm_msg: the descriptor tables of every wire struct and message, and the
    envelope [version, type, req, body].  Field docs are one line each: they
    become docs/protocol.md through rmproto-doc. */
#include "rm_msg.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "rm_frames.h"
#include "rm_job_order.h"
#include "rm_signed.h"

#define MAX_CREDENTIAL 4096
#define MAX_JOB_ID 64
#define MAX_LISTED 100000    /* jobs and nodes in one reply */
#define MAX_SAMPLES 16777216 /* Cycles' maximum */
#define MAX_PERCENT 32767    /* Blender's resolution_percentage maximum */
#define MAX_RES 65536        /* Blender's resolution maximum */
#define MAX_WATCH_MS 60000   /* longest long poll */

/* ------------------------------------------------------------------ */
/* Nested structs                                                      */
/* ------------------------------------------------------------------ */

static const rm_field_t frame_range_fields[] = {
    RM_FIELD(rm_frame_range_t, first, RM_F_U64, RM_FRAME_MAX, "first frame"),
    RM_FIELD(rm_frame_range_t, last, RM_F_U64, RM_FRAME_MAX, "last frame, inclusive, >= first"),
    RM_FIELD(rm_frame_range_t, step, RM_F_U64, RM_FRAME_MAX, "render every step-th frame, >= 1"),
};
const rm_struct_desc_t rm_frame_range_desc =
    RM_DESC(rm_frame_range_t, "frame_range", frame_range_fields,
            "Frames first, first+step, ... up to last. \"1-100:5\" in text form.");

static const rm_field_t job_spec_fields[] = {
    RM_FIELD(rm_job_spec_t, job_id, RM_F_STR, MAX_JOB_ID,
             "16 lowercase hex chars chosen by the submitter; makes SUBMIT idempotent"),
    RM_FIELD(rm_job_spec_t, name, RM_F_STR, RM_MAX_NAME,
             "human name, defaults to the .blend's file name"),
    RM_FIELD(rm_job_spec_t, blend, RM_F_STR, RM_MAX_PATH, "path of the .blend inside the manifest"),
    RM_FIELD(rm_job_spec_t, manifest, RM_F_B32, 0, "hash of the project manifest chunk"),
    RM_FIELD_LIST_OF(rm_job_spec_t, frames, rm_frame_range_desc, RM_MAX_FRAMES,
                     "frames to render; at most 100000 frames in total"),
    RM_FIELD(rm_job_spec_t, scene, RM_F_STR, RM_MAX_NAME,
             "scene name; empty: the file's active scene"),
    RM_FIELD(rm_job_spec_t, camera, RM_F_STR, RM_MAX_NAME,
             "camera object; empty: the scene's camera"),
    RM_FIELD(rm_job_spec_t, samples, RM_F_U64, MAX_SAMPLES, "render samples; 0: as in the file"),
    RM_FIELD(rm_job_spec_t, percent, RM_F_U64, MAX_PERCENT,
             "resolution percentage; 0: as in the file"),
    RM_FIELD(rm_job_spec_t, res_x, RM_F_U64, MAX_RES, "width in pixels; 0: as in the file"),
    RM_FIELD(rm_job_spec_t, res_y, RM_F_U64, MAX_RES, "height in pixels; 0: as in the file"),
    RM_FIELD(rm_job_spec_t, engine, RM_F_STR, RM_MAX_NAME,
             "empty (as in the file), CYCLES, BLENDER_EEVEE or BLENDER_WORKBENCH"),
    RM_FIELD(rm_job_spec_t, device, RM_F_STR, RM_MAX_NAME, "empty (CPU), CPU, CUDA, OPTIX or HIP"),
    RM_FIELD(rm_job_spec_t, format, RM_F_STR, RM_MAX_NAME,
             "empty (as in the file), PNG, JPEG, OPEN_EXR, OPEN_EXR_MULTILAYER or TIFF"),
    RM_FIELD(rm_job_spec_t, chunk, RM_F_U64, RM_MAX_TASK_FRAMES, "frames per task, >= 1"),
    RM_FIELD(rm_job_spec_t, priority, RM_F_I64, 0, "higher runs first"),
    RM_FIELD(rm_job_spec_t, allow_scripts, RM_F_BOOL, 0, "run the .blend's embedded Python"),
    RM_FIELD(rm_job_spec_t, task_timeout, RM_F_U64, 0, "seconds per frame; 0: the node's default"),
    RM_FIELD(rm_job_spec_t, submitter, RM_F_STR, RM_MAX_NAME,
             "set by the node from the credential; ignored from clients"),
    RM_FIELD(rm_job_spec_t, submitted_at, RM_F_I64, 0, "unix ms, set by the node"),
    RM_FIELD(rm_job_spec_t, no_denoise, RM_F_BOOL, 0,
             "render without denoising even where the file asks for it (explicit override)"),
    RM_FIELD(rm_job_spec_t, preempt, RM_F_BOOL, 0,
             "stop running frames of lower priority (requeued without an attempt)"),
    RM_FIELD_LIST(rm_job_spec_t, requires, RM_F_STR, RM_MAX_REQUIRES,
                  "capabilities a node must advertise to render it (e.g. denoise); sorted"),
    RM_FIELD(rm_job_spec_t, source_root, RM_F_STR, RM_MAX_PATH,
             "absolute folder on the submitting machine that the project was taken from; "
             "paths the .blend stores as absolute below it are read from the project"),
    RM_FIELD(rm_job_spec_t, submitter_role, RM_F_STR, RM_MAX_NAME,
             "the submitter's role (admin or artist), set by the node from the credential; "
             "ignored from clients"),
    RM_FIELD(rm_job_spec_t, client_sig, RM_F_BIN, 64,
             "the submitter's Ed25519 signature (credential sign_pk) of the domain "
             "\"rendermesh-job-spec-v1\" and this spec encoded with submitter, submitted_at, "
             "submitter_role, client_sig and client_cred empty"),
    RM_FIELD(rm_job_spec_t, client_cred, RM_F_BIN, 4096,
             "the submitter's signed credential, added by the node that took the SUBMIT; "
             "ignored from clients"),
    RM_FIELD(rm_job_spec_t, out_url, RM_F_STR, RM_MAX_PATH,
             "s3://BUCKET/PREFIX/ under which each frame's files are written (create-only) "
             "before it counts done; empty: frames are kept in the mesh"),
};
/* The last eight fields may be absent: jobs recorded before they existed.
   out_url is left out when empty, so a job signed before it existed is
   encoded, and its signature checked, as it was. */
const rm_struct_desc_t rm_job_spec_desc =
    RM_DESC_SPARSE(rm_job_spec_t, "job_spec", job_spec_fields, 8, 1, "A render job as submitted.");

static const rm_field_t job_summary_fields[] = {
    RM_FIELD(rm_job_summary_t, job_id, RM_F_STR, MAX_JOB_ID, "the job's id"),
    RM_FIELD(rm_job_summary_t, name, RM_F_STR, RM_MAX_NAME, "human name"),
    RM_FIELD(rm_job_summary_t, state, RM_F_STR, RM_MAX_NAME,
             "queued, rendering, done, failed or canceled"),
    RM_FIELD(rm_job_summary_t, priority, RM_F_I64, 0, "higher runs first"),
    RM_FIELD(rm_job_summary_t, frames_total, RM_F_U64, RM_MAX_FRAMES, "frames in the job"),
    RM_FIELD(rm_job_summary_t, frames_done, RM_F_U64, RM_MAX_FRAMES, "frames rendered and stored"),
    RM_FIELD(rm_job_summary_t, frames_failed, RM_F_U64, RM_MAX_FRAMES,
             "frames that failed for good"),
    RM_FIELD(rm_job_summary_t, frames_rendering, RM_F_U64, RM_MAX_FRAMES,
             "frames being rendered now"),
    RM_FIELD(rm_job_summary_t, submitted_at, RM_F_I64, 0, "unix ms"),
    RM_FIELD(rm_job_summary_t, started_at, RM_F_I64, 0, "unix ms; 0: not started"),
    RM_FIELD(rm_job_summary_t, finished_at, RM_F_I64, 0, "unix ms; 0: not finished"),
    RM_FIELD(rm_job_summary_t, submitter, RM_F_STR, RM_MAX_NAME, "who submitted it"),
    RM_FIELD(rm_job_summary_t, error, RM_F_STR, RM_MAX_TEXT, "why the job failed; empty otherwise"),
    RM_FIELD(rm_job_summary_t, version, RM_F_U64, 0, "grows with every change of the job's state"),
    RM_FIELD(rm_job_summary_t, waiting, RM_F_STR, RM_MAX_TEXT,
             "why no node can start it now (none has what it requires); empty otherwise"),
    RM_FIELD(rm_job_summary_t, allow_scripts, RM_F_BOOL, 0,
             "the job runs the .blend's own Python (submitted with --allow-scripts)"),
    RM_FIELD(rm_job_summary_t, submitter_role, RM_F_STR, RM_MAX_NAME,
             "the submitter's role: admin or artist; empty for jobs from before roles"),
};
const rm_struct_desc_t rm_job_summary_desc =
    RM_DESC_OPT(rm_job_summary_t, "job_summary", job_summary_fields, 3, "One job at a glance.");

static const rm_field_t frame_info_fields[] = {
    RM_FIELD(rm_frame_info_t, frame, RM_F_U64, RM_FRAME_MAX, "frame number"),
    RM_FIELD(rm_frame_info_t, state, RM_F_STR, RM_MAX_NAME, "pending, assigned, done or failed"),
    RM_FIELD(rm_frame_info_t, node, RM_F_STR, RM_MAX_NAME, "node that renders or rendered it"),
    RM_FIELD(rm_frame_info_t, attempts, RM_F_U64, 0, "render attempts so far"),
    RM_FIELD(rm_frame_info_t, render_ms, RM_F_U64, 0, "render time of the last attempt"),
    RM_FIELD(rm_frame_info_t, progress, RM_F_U64, 100, "percent done, while assigned"),
    RM_FIELD(rm_frame_info_t, output, RM_F_B32, 0,
             "manifest chunk of the output file; all zero until done"),
    RM_FIELD(rm_frame_info_t, size, RM_F_U64, 0, "output file size in bytes"),
    RM_FIELD(rm_frame_info_t, file, RM_F_STR, RM_MAX_PATH, "output file name, e.g. frame_0001.png"),
    RM_FIELD(rm_frame_info_t, error, RM_F_STR, RM_MAX_TEXT, "last failure reason; empty if none"),
    RM_FIELD(rm_frame_info_t, warning, RM_F_STR, RM_MAX_TEXT,
             "what Blender reported while rendering it (missing files); empty if none"),
    RM_FIELD(rm_frame_info_t, log, RM_F_B32, 0,
             "manifest chunk of the Blender log of its last render; all zero: none"),
    RM_FIELD(rm_frame_info_t, stored, RM_F_STR, RM_MAX_PATH * 2,
             "where the done frame's main image is stored outside the mesh (s3://BUCKET/KEY); "
             "empty: in the mesh only"),
};
const rm_struct_desc_t rm_frame_info_desc =
    RM_DESC_OPT(rm_frame_info_t, "frame_info", frame_info_fields, 3, "One frame of a job.");

static const rm_field_t node_info_fields[] = {
    RM_FIELD(rm_node_info_t, name, RM_F_STR, RM_MAX_NAME, "node name"),
    RM_FIELD(rm_node_info_t, state, RM_F_STR, RM_MAX_NAME, "alive, suspect, dead or draining"),
    RM_FIELD(rm_node_info_t, address, RM_F_STR, RM_MAX_NAME, "endpoint, e.g. tcp://10.0.0.5:7700"),
    RM_FIELD(rm_node_info_t, role, RM_F_STR, RM_MAX_NAME,
             "node (may vanish, e.g. spot), stable, or worker (never coordinates)"),
    RM_FIELD(rm_node_info_t, slots, RM_F_U64, 0, "render slots (CPU slots and one per GPU)"),
    RM_FIELD(rm_node_info_t, slots_busy, RM_F_U64, 0, "slots rendering now"),
    RM_FIELD(rm_node_info_t, rendering, RM_F_STR, RM_MAX_TEXT,
             "\"JOB:FRAME ...\" being rendered now"),
    RM_FIELD(rm_node_info_t, ms_per_frame, RM_F_U64, 0, "measured render time; 0: unknown"),
    RM_FIELD(rm_node_info_t, blender_ok, RM_F_BOOL, 0, "the node can render"),
    RM_FIELD(rm_node_info_t, blender, RM_F_STR, RM_MAX_TEXT,
             "Blender version, or why rendering is disabled"),
    RM_FIELD(rm_node_info_t, caps, RM_F_STR, RM_MAX_NAME,
             "what its Blender can do, space-separated (denoise: OpenImageDenoise)"),
    RM_FIELD(rm_node_info_t, store_known, RM_F_BOOL, 0, "its chunk store has been measured"),
    RM_FIELD(rm_node_info_t, store_bytes, RM_F_U64, 0, "bytes in its chunk store"),
    RM_FIELD(rm_node_info_t, store_cap, RM_F_U64, 0, "its store's size cap in bytes; 0: none"),
};
static const rm_struct_desc_t node_info_desc =
    RM_DESC_OPT(rm_node_info_t, "node_info", node_info_fields, 4, "One member of the mesh.");

/* ------------------------------------------------------------------ */
/* Message bodies: one descriptor per message type, whose doc describes */
/* the message (CHUNK_PUT and CHUNK_DATA share their fields).           */
/* ------------------------------------------------------------------ */

#define EMPTY_DESC(var, d)                                                                         \
    static const rm_struct_desc_t var = {"empty", sizeof(rm_empty_t), NULL, 0, d, 0, 0}

static const rm_field_t error_fields[] = {
    RM_FIELD(rm_error_msg_t, code, RM_F_U64, 0, "error code, see the table of codes above"),
    RM_FIELD(rm_error_msg_t, message, RM_F_STR, RM_MAX_TEXT, "what went wrong, for people"),
};
static const rm_struct_desc_t error_desc =
    RM_DESC(rm_error_msg_t, "error", error_fields,
            "Any -> any: the request with this req failed; sent instead of its normal reply.");

static const rm_field_t ok_fields[] = {
    RM_FIELD(rm_ok_t, message, RM_F_STR, RM_MAX_TEXT, "optional note for people; may be empty"),
};
static const rm_struct_desc_t ok_desc = RM_DESC(
    rm_ok_t, "ok", ok_fields, "Node -> client: the request is done and has nothing to return.");

static const rm_field_t hello_fields[] = {
    RM_FIELD(rm_hello_t, proto, RM_F_U64, 0, "sender's protocol version"),
    RM_FIELD(rm_hello_t, credential, RM_F_BIN, MAX_CREDENTIAL,
             "sender's credential, signed by the mesh key"),
};
static const rm_struct_desc_t hello_desc =
    RM_DESC(rm_hello_t, "hello", hello_fields,
            "Client or node -> door: here is my signed credential. The only message the door "
            "takes; answered by WELCOME if the credential is valid and vouches for the key of "
            "this CURVE connection, else not at all.");

static const rm_field_t welcome_fields[] = {
    RM_FIELD(rm_welcome_t, proto, RM_F_U64, 0, "the node's protocol version"),
    RM_FIELD(rm_welcome_t, credential, RM_F_BIN, MAX_CREDENTIAL,
             "the node's own signed credential"),
    RM_FIELD(rm_welcome_t, node, RM_F_STR, RM_MAX_NAME, "the node's name"),
};
static const rm_struct_desc_t welcome_desc =
    RM_DESC(rm_welcome_t, "welcome", welcome_fields,
            "Door -> client or node: credential accepted; the main socket now lets the sender in.");

static const rm_struct_desc_t submit_desc =
    RM_DESC(rm_job_spec_t, "job_spec", job_spec_fields,
            "Client -> node: create this job (idempotent by job_id). Answered by NEED while "
            "chunks are missing, then ACCEPTED, or ERROR.");

static const rm_field_t need_fields[] = {
    RM_FIELD_LIST(rm_need_t, hashes, RM_F_B32, RM_MAX_NEED, "chunks the node lacks"),
};
static const rm_struct_desc_t need_desc =
    RM_DESC(rm_need_t, "need", need_fields,
            "Node -> client: send these chunks with CHUNK_PUT, then SUBMIT again.");

static const rm_field_t accepted_fields[] = {
    RM_FIELD(rm_accepted_t, job_id, RM_F_STR, MAX_JOB_ID, "the job's id"),
    RM_FIELD(rm_accepted_t, frames_total, RM_F_U64, RM_MAX_FRAMES, "frames to render"),
};
static const rm_struct_desc_t accepted_desc =
    RM_DESC(rm_accepted_t, "accepted", accepted_fields,
            "Node -> client: the job is stored durably and will be rendered.");

static const rm_field_t chunk_fields[] = {
    RM_FIELD(rm_chunk_t, hash, RM_F_B32, 0, "SHA-256 of data"),
    RM_FIELD(rm_chunk_t, data, RM_F_BIN, RM_MAX_CHUNK_SIZE, "the chunk's bytes"),
};
static const rm_struct_desc_t chunk_put_desc =
    RM_DESC(rm_chunk_t, "chunk", chunk_fields,
            "Client -> node: one content-addressed chunk. The node checks the hash; answered "
            "by CHUNK_OK or ERROR.");
static const rm_struct_desc_t chunk_data_desc =
    RM_DESC(rm_chunk_t, "chunk", chunk_fields,
            "Node -> client: the chunk asked for by CHUNK_GET. Check its hash.");

static const rm_field_t chunk_ref_fields[] = {
    RM_FIELD(rm_chunk_ref_t, hash, RM_F_B32, 0, "SHA-256 of the chunk"),
};
static const rm_struct_desc_t chunk_ok_desc =
    RM_DESC(rm_chunk_ref_t, "chunk_ref", chunk_ref_fields,
            "Node -> client: the chunk was verified and stored.");
static const rm_struct_desc_t chunk_get_desc =
    RM_DESC(rm_chunk_ref_t, "chunk_ref", chunk_ref_fields,
            "Client -> node: send me this chunk. Answered by CHUNK_DATA, or ERROR (ENOTFOUND).");

EMPTY_DESC(status_desc, "Client -> node: node and mesh status. Answered by STATUS_REPLY.");

static const rm_field_t status_reply_fields[] = {
    RM_FIELD(rm_status_reply_t, node, RM_F_STR, RM_MAX_NAME, "node name"),
    RM_FIELD(rm_status_reply_t, version, RM_F_STR, RM_MAX_NAME, "meshd version"),
    RM_FIELD(rm_status_reply_t, proto, RM_F_U64, 0, "protocol version"),
    RM_FIELD(rm_status_reply_t, uptime_s, RM_F_I64, 0, "seconds since meshd started"),
    RM_FIELD(rm_status_reply_t, coordinator, RM_F_STR, RM_MAX_NAME,
             "current coordinator; empty: none known"),
    RM_FIELD(rm_status_reply_t, epoch, RM_F_U64, 0, "coordinator epoch"),
    RM_FIELD(rm_status_reply_t, jobs_queued, RM_F_U64, 0, "jobs waiting"),
    RM_FIELD(rm_status_reply_t, jobs_active, RM_F_U64, 0, "jobs rendering"),
    RM_FIELD(rm_status_reply_t, jobs_done, RM_F_U64, 0, "jobs finished"),
    RM_FIELD(rm_status_reply_t, jobs_failed, RM_F_U64, 0, "jobs failed"),
    RM_FIELD(rm_status_reply_t, slots, RM_F_U64, 0, "this node's render slots"),
    RM_FIELD(rm_status_reply_t, slots_busy, RM_F_U64, 0, "slots rendering now"),
    RM_FIELD(rm_status_reply_t, blender_ok, RM_F_BOOL, 0, "this node can render"),
    RM_FIELD(rm_status_reply_t, blender, RM_F_STR, RM_MAX_TEXT,
             "Blender version, or why rendering is disabled"),
};
static const rm_struct_desc_t status_reply_desc =
    RM_DESC(rm_status_reply_t, "status_reply", status_reply_fields,
            "Node -> client: the node's status and what it knows of the mesh.");

EMPTY_DESC(jobs_desc, "Client -> node: list the jobs. Answered by JOBS_REPLY.");

static const rm_field_t jobs_reply_fields[] = {
    RM_FIELD_LIST_OF(rm_jobs_reply_t, jobs, rm_job_summary_desc, MAX_LISTED, "the jobs"),
};
static const rm_struct_desc_t jobs_reply_desc =
    RM_DESC(rm_jobs_reply_t, "jobs_reply", jobs_reply_fields, "Node -> client: the jobs.");

static const rm_field_t job_ref_fields[] = {
    RM_FIELD(rm_job_ref_t, job_id, RM_F_STR, MAX_JOB_ID, "the job's id"),
};
static const rm_struct_desc_t job_info_desc =
    RM_DESC(rm_job_ref_t, "job_ref", job_ref_fields,
            "Client -> node: one job with its frames. Answered by JOB_REPLY, or ERROR "
            "(ENOTFOUND).");

static const rm_field_t job_reply_fields[] = {
    RM_FIELD_STRUCT(rm_job_reply_t, summary, rm_job_summary_desc, "the job at a glance"),
    RM_FIELD_STRUCT(rm_job_reply_t, spec, rm_job_spec_desc, "the job as submitted"),
    RM_FIELD_LIST_OF(rm_job_reply_t, frames, rm_frame_info_desc, RM_MAX_FRAMES,
                     "every frame, in frame order"),
    RM_FIELD(rm_job_reply_t, redacted, RM_F_BOOL, 0,
             "true: another's job shown to an artist where the node keeps artists' data private "
             "(artists_private): no manifest, output, log or S3 place in it"),
};
static const rm_struct_desc_t job_reply_desc = RM_DESC_OPT(
    rm_job_reply_t, "job_reply", job_reply_fields, 1, "Node -> client: one job with its frames.");

EMPTY_DESC(nodes_desc, "Client -> node: list the mesh's members. Answered by NODES_REPLY.");

static const rm_field_t nodes_reply_fields[] = {
    RM_FIELD_LIST_OF(rm_nodes_reply_t, nodes, node_info_desc, MAX_LISTED, "the members"),
};
static const rm_struct_desc_t nodes_reply_desc =
    RM_DESC(rm_nodes_reply_t, "nodes_reply", nodes_reply_fields,
            "Node -> client: the mesh's members as this node sees them.");

static const rm_field_t cancel_fields[] = {
    RM_FIELD(rm_cancel_t, job_id, RM_F_STR, MAX_JOB_ID, "the job's id"),
    RM_FIELD(rm_cancel_t, order, RM_F_BIN, RM_JOB_ORDER_MAX,
             "the cancel signed by who asked: [body, sig], the body [version, kind 1, job_id, at, "
             "0, credential]"),
};
static const rm_struct_desc_t cancel_desc =
    RM_DESC_OPT(rm_cancel_t, "cancel", cancel_fields, 1,
                "Client -> node: cancel a job (its submitter or an admin). Every node that merges "
                "the cancel checks the order. Answered by OK, or ERROR (ENOTFOUND, EDENIED, EAUTH: "
                "no order, or one that does not verify).");

static const rm_field_t priority_fields[] = {
    RM_FIELD(rm_priority_t, job_id, RM_F_STR, MAX_JOB_ID, "the job's id"),
    RM_FIELD(rm_priority_t, priority, RM_F_I64, 0, "its new priority (higher runs first)"),
    RM_FIELD(rm_priority_t, order, RM_F_BIN, RM_JOB_ORDER_MAX,
             "the priority signed by who asked: [body, sig], the body [version, kind 2, job_id, "
             "at, priority, credential]"),
};
static const rm_struct_desc_t priority_desc = RM_DESC_OPT(
    rm_priority_t, "priority", priority_fields, 1,
    "Client -> node: set an unfinished job's priority (an admin any job, within "
    "+-1000000; an artist their own, within the node's artist_max_priority). It spreads "
    "like a cancel and acts at once (queued frames of lower jobs are taken back). "
    "Answered by OK, or ERROR (ENOTFOUND, EDENIED, EINVAL, EAUTH).");

static const rm_field_t logs_fields[] = {
    RM_FIELD(rm_logs_t, job_id, RM_F_STR, MAX_JOB_ID, "the job's id"),
    RM_FIELD(rm_logs_t, frame, RM_F_U64, RM_FRAME_MAX, "frame whose Blender log is wanted"),
    RM_FIELD(rm_logs_t, has_frame, RM_F_BOOL, 0, "false: the job's own log (frame is 0)"),
};
static const rm_struct_desc_t logs_desc =
    RM_DESC(rm_logs_t, "logs", logs_fields,
            "Client -> node: the job's log, or one frame's Blender log. Answered by LOGS_REPLY.");

static const rm_field_t logs_reply_fields[] = {
    RM_FIELD(rm_logs_reply_t, text, RM_F_BIN, RM_MAX_LOG, "log text (bytes, not checked as UTF-8)"),
    RM_FIELD(rm_logs_reply_t, truncated, RM_F_BOOL, 0, "only the tail was sent"),
};
static const rm_struct_desc_t logs_reply_desc =
    RM_DESC(rm_logs_reply_t, "logs_reply", logs_reply_fields, "Node -> client: the log.");

static const rm_field_t watch_fields[] = {
    RM_FIELD(rm_watch_t, job_id, RM_F_STR, MAX_JOB_ID, "the job's id"),
    RM_FIELD(rm_watch_t, version, RM_F_U64, 0, "reply at once if the job's version differs"),
    RM_FIELD(rm_watch_t, timeout_ms, RM_F_U64, MAX_WATCH_MS,
             "else reply when it changes or after this long"),
};
static const rm_struct_desc_t watch_desc =
    RM_DESC(rm_watch_t, "watch", watch_fields,
            "Client -> node: long poll on a job. Answered by WATCH_REPLY when the job's version "
            "is not `version`, or after timeout_ms; or ERROR (ENOTFOUND).");

static const rm_struct_desc_t watch_reply_desc =
    RM_DESC(rm_job_summary_t, "job_summary", job_summary_fields,
            "Node -> client: the job's summary, with its current version (also sent on "
            "timeout).");

static const rm_field_t gossip_fields[] = {
    RM_FIELD(rm_gossip_t, payload, RM_F_BIN, RM_MAX_GOSSIP,
             "one membership message (docs/membership.md)"),
};
static const rm_struct_desc_t gossip_desc =
    RM_DESC(rm_gossip_t, "gossip", gossip_fields,
            "Node -> node: membership (SWIM with Lifeguard). Only peers whose credential has "
            "role node may send it; replies go back over the same connection.");

static const rm_field_t job_sync_fields[] = {
    RM_FIELD(rm_job_sync_t, record, RM_F_BIN, RM_MAX_MSG_SIZE - 64,
             "the job's whole record (docs/architecture.md, \"Job state\")"),
    RM_FIELD(rm_job_sync_t, want_held, RM_F_BOOL, 0,
             "answer JOB_HELD once the job and its project are durable here"),
};
static const rm_struct_desc_t job_sync_desc =
    RM_DESC(rm_job_sync_t, "job_sync", job_sync_fields,
            "Node -> node: merge this job record into yours (the merge is commutative, so "
            "copies meet in any order).");

static const rm_struct_desc_t job_held_desc =
    RM_DESC(rm_job_ref_t, "job_ref", job_ref_fields,
            "Node -> node: the job of a JOB_SYNC with want_held is on disk here, with every "
            "chunk of its project. A submission is acknowledged after one.");

static const rm_field_t job_delta_fields[] = {
    RM_FIELD(rm_job_delta_t, job_id, RM_F_STR, MAX_JOB_ID, "the job's id"),
    RM_FIELD(rm_job_delta_t, frames, RM_F_BIN, RM_MAX_MSG_SIZE - 128,
             "msgpack array of changed frame records"),
};
static const rm_struct_desc_t job_delta_desc =
    RM_DESC(rm_job_delta_t, "job_delta", job_delta_fields,
            "Node -> node: frame records that changed here, to merge. A node that lacks the "
            "job answers with its JOB_DIGEST.");

static const rm_field_t digest_entry_fields[] = {
    RM_FIELD(rm_digest_entry_t, job_id, RM_F_STR, MAX_JOB_ID, "the job's id"),
    RM_FIELD(rm_digest_entry_t, digest, RM_F_B32, 0, "BLAKE2b of the job's exported record"),
};
static const rm_struct_desc_t digest_entry_desc =
    RM_DESC(rm_digest_entry_t, "digest_entry", digest_entry_fields, "One job's record hash.");

static const rm_field_t job_digest_fields[] = {
    RM_FIELD_LIST_OF(rm_job_digest_t, jobs, digest_entry_desc, RM_MAX_DIGEST,
                     "every job the sender holds"),
    RM_FIELD(rm_job_digest_t, reply, RM_F_BOOL, 0, "answer with your own JOB_DIGEST too"),
    RM_FIELD(rm_job_digest_t, summary, RM_F_B32, 0,
             "XOR over every job the sender holds of BLAKE2b(job_id || digest); zero: none"),
};
static const rm_struct_desc_t job_digest_desc =
    RM_DESC_OPT(rm_job_digest_t, "job_digest", job_digest_fields, 1,
                "Node -> node: anti-entropy. The receiver sends JOB_SYNC for every job whose "
                "record differs from or is missing in the digest. A digest with a summary and "
                "no jobs only asks whether the two nodes differ: a receiver whose own summary "
                "differs answers with its whole digest (reply set).");

static const rm_field_t task_fields[] = {
    RM_FIELD(rm_task_t, job_id, RM_F_STR, MAX_JOB_ID, "the job's id"),
    RM_FIELD_LIST(rm_task_t, frames, RM_F_U64, RM_MAX_TASK_FRAMES, "frames, in order"),
    RM_FIELD(rm_task_t, stamp, RM_F_U64, 0, "ASSIGN: the assignment's stamp (epoch << 32 | seq)"),
    RM_FIELD(rm_task_t, grants, RM_F_BIN, 64 * RM_MAX_TASK_FRAMES,
             "ASSIGN: the coordinator's Ed25519 signature of each frame's grant, 64 bytes per "
             "frame"),
    RM_FIELD_LIST(rm_task_t, gens, RM_F_U64, RM_MAX_TASK_FRAMES,
                  "ASSIGN: each frame's generation (how often its output was lost), in order; "
                  "absent while all are 0"),
};
/* stamp, grants and gens were appended: reports and older coordinators
   lack them; gens is written only when a frame was reopened. */
const rm_struct_desc_t rm_task_desc =
    RM_DESC_SPARSE(rm_task_t, "task", task_fields, 3, 1, "Frames of one job for one render slot.");

static const rm_field_t work_req_fields[] = {
    RM_FIELD(rm_work_req_t, epoch, RM_F_U64, 0, "highest coordinator epoch the worker has seen"),
    RM_FIELD(rm_work_req_t, free, RM_F_U64, 1024, "slots free now"),
    RM_FIELD_LIST(rm_work_req_t, ready, RM_F_STR, RM_MAX_READY,
                  "unfinished jobs whose project the worker holds"),
    RM_FIELD_LIST_OF(rm_work_req_t, running, rm_task_desc, 1024, "what its slots render now"),
};
static const rm_struct_desc_t work_req_desc =
    RM_DESC(rm_work_req_t, "work_req", work_req_fields,
            "Worker -> coordinator, when a slot is free and every 2 s: give me frames; here is "
            "what I render. Answered by ASSIGN (possibly with no tasks).");

static const rm_field_t assign_fields[] = {
    RM_FIELD(rm_assign_t, epoch, RM_F_U64, 0, "the coordinator's epoch number"),
    RM_FIELD(rm_assign_t, coordinator, RM_F_STR, RM_MAX_NAME, "its name (the epoch's tie-break)"),
    RM_FIELD_LIST_OF(rm_assign_t, tasks, rm_task_desc, RM_MAX_ASSIGN_TASKS, "one per free slot"),
    RM_FIELD(rm_assign_t, coordinator_cred, RM_F_BIN, RM_SIGNED_MAX,
             "the coordinator's signed credential (checks its grants where it is unknown)"),
};
static const rm_struct_desc_t assign_desc = RM_DESC_OPT(
    rm_assign_t, "assign", assign_fields, 1,
    "Coordinator -> worker: render these. A worker that has seen a higher epoch refuses "
    "it with ERROR (ESTALE).");

static const rm_field_t replicate_fields[] = {
    RM_FIELD(rm_replicate_t, hash, RM_F_B32, 0, "manifest of a rendered frame's files"),
    RM_FIELD(rm_replicate_t, job_id, RM_F_STR, MAX_JOB_ID, "the job it belongs to"),
    RM_FIELD(rm_replicate_t, frame, RM_F_U64, RM_FRAME_MAX, "its frame"),
    RM_FIELD(rm_replicate_t, log, RM_F_B32, 0,
             "one-file manifest of the frame's Blender log, kept too; all zero: none"),
};
static const rm_struct_desc_t replicate_desc =
    RM_DESC_OPT(rm_replicate_t, "replicate", replicate_fields, 1,
                "Worker -> node: fetch this output (and its log) from me (CHUNK_GET) and keep "
                "it. Answered by OK once both are stored, or ERROR; the worker records the frame "
                "done only after OK. A leaving node sends it too, for every finished output it "
                "holds, before it leaves (hand-over). A draining node answers ERROR EAGAIN: ask "
                "another member.");

static const rm_field_t drain_fields[] = {
    RM_FIELD(rm_drain_t, node, RM_F_STR, RM_MAX_NAME, "node to drain; empty: the one asked"),
    RM_FIELD(rm_drain_t, hand_back, RM_F_BOOL, 0,
             "give its frames back at once instead of finishing them"),
    RM_FIELD(rm_drain_t, asked_by, RM_F_STR, RM_MAX_NAME,
             "set by the node that carries an admin's drain to the node named: that admin"),
};
static const rm_struct_desc_t drain_desc =
    RM_DESC_OPT(rm_drain_t, "drain", drain_fields, 1,
                "Admin -> node: the node takes no new frames, finishes (or hands back) the ones "
                "it has, then leaves the mesh and exits with status 0 (stay down). Answered by "
                "OK. Needs the admin role; a node carries it to the node named.");

static const rm_field_t revoke_fields[] = {
    RM_FIELD_LIST(rm_revoke_msg_t, revocations, RM_F_BIN, RM_MAX_REVOKE,
                  "signed revocations: [body, sig], the body [version, name, mesh_pk, "
                  "revoked_at] signed by the mesh key"),
};
static const rm_struct_desc_t revoke_desc =
    RM_DESC(rm_revoke_msg_t, "revoke", revoke_fields,
            "Admin -> node, node -> node: credentials named in these revocations and issued at "
            "or before their time are refused from now on. The node keeps them, passes new ones "
            "to every member, and answers OK (from an admin: needs the admin role).");

static const rm_field_t job_remove_fields[] = {
    RM_FIELD_LIST(rm_job_remove_t, removals, RM_F_BIN, RM_MAX_REMOVE,
                  "signed removals: [body, sig], the body [version, job_id, removed_at, "
                  "credential] signed by the credential's signing key"),
};
static const rm_struct_desc_t job_remove_desc =
    RM_DESC(rm_job_remove_t, "job_remove", job_remove_fields,
            "Client -> node: remove these finished jobs (an admin any job, an artist their own): "
            "their records, outputs and logs are deleted on every node; answered by OK. Node -> "
            "node: removals to apply and keep (a node that offers a removed job gets its "
            "removal back).");

static const rm_field_t import_fields[] = {
    RM_FIELD(rm_import_t, blend, RM_F_STR, RM_MAX_PATH, "s3://BUCKET/KEY of the .blend"),
    RM_FIELD_LIST(rm_import_t, attach, RM_F_STR, RM_MAX_ATTACH,
                  "more of the project: s3://BUCKET/KEY (one object) or s3://BUCKET/PREFIX/ "
                  "(every object under it), in the .blend's bucket"),
};
static const rm_struct_desc_t import_desc =
    RM_DESC(rm_import_t, "import", import_fields,
            "Client -> node: read this project from S3 into the node's store (the node's own "
            "S3 settings; nothing passes through the client), paths relative to the deepest "
            "prefix holding all of it. Answered at once by IMPORT_REPLY; asked again (the same "
            "body) it answers how far the import is, then its manifest, which a SUBMIT names. "
            "Needs the submit right.");

static const rm_field_t import_reply_fields[] = {
    RM_FIELD(rm_import_reply_t, state, RM_F_STR, RM_MAX_NAME, "running, done or failed"),
    RM_FIELD(rm_import_reply_t, manifest, RM_F_B32, 0, "the project's manifest chunk, once done"),
    RM_FIELD(rm_import_reply_t, blend, RM_F_STR, RM_MAX_PATH, "path of the .blend in it"),
    RM_FIELD(rm_import_reply_t, root, RM_F_STR, RM_MAX_PATH,
             "s3://BUCKET/PREFIX/ the manifest's paths are relative to"),
    RM_FIELD(rm_import_reply_t, files, RM_F_U64, 0, "objects in the project"),
    RM_FIELD(rm_import_reply_t, bytes, RM_F_U64, 0, "their bytes (once listed)"),
    RM_FIELD(rm_import_reply_t, bytes_done, RM_F_U64, 0, "bytes read so far"),
    RM_FIELD(rm_import_reply_t, error, RM_F_STR, RM_MAX_TEXT, "why it failed; empty otherwise"),
};
static const rm_struct_desc_t import_reply_desc = RM_DESC(
    rm_import_reply_t, "import_reply", import_reply_fields, "Node -> client: how an IMPORT goes.");

static const rm_field_t have_fields[] = {
    RM_FIELD_LIST(rm_have_t, outputs, RM_F_B32, RM_MAX_HAVE, "manifests of done frames' outputs"),
};
static const rm_struct_desc_t have_desc =
    RM_DESC(rm_have_t, "have", have_fields,
            "Node -> node: which of these outputs do you hold whole? Asked of every live "
            "member when the nodes known to hold a done frame's output are gone; answered by "
            "HAVE_REPLY.");

static const rm_field_t have_reply_fields[] = {
    RM_FIELD(rm_have_reply_t, held, RM_F_BIN, (RM_MAX_HAVE + 7) / 8,
             "bit i (byte i/8, bit i%8): outputs[i] held, its manifest and every chunk"),
};
static const rm_struct_desc_t have_reply_desc =
    RM_DESC(rm_have_reply_t, "have_reply", have_reply_fields, "Node -> node: answers HAVE.");

static const rm_field_t chunk_map_fields[] = {
    RM_FIELD(rm_chunk_ref_t, hash, RM_F_B32, 0, "the project's manifest chunk"),
};
static const rm_struct_desc_t chunk_map_desc =
    RM_DESC(rm_chunk_ref_t, "chunk_map", chunk_map_fields,
            "Node -> node: which chunks of this manifest do you hold? Asked of the other "
            "sources about twice a second while a project is fetched, so chunks are asked "
            "of peers that hold them, the rarest first; answered by CHUNK_MAP_REPLY.");

static const rm_field_t chunk_map_reply_fields[] = {
    RM_FIELD(rm_chunk_map_reply_t, held, RM_F_BIN, (RM_MAX_MAP_CHUNKS + 7) / 8,
             "bit i (byte i/8, bit i%8): the i-th distinct chunk the manifest lists (in listing "
             "order, a repeat counted where it first appears) is held; missing bits are clear"),
    RM_FIELD(rm_chunk_map_reply_t, coming, RM_F_BIN, (RM_MAX_MAP_CHUNKS + 7) / 8,
             "same order: chunks asked of a peer and awaited (soon held)"),
};
static const rm_struct_desc_t chunk_map_reply_desc =
    RM_DESC(rm_chunk_map_reply_t, "chunk_map_reply", chunk_map_reply_fields,
            "Node -> node: answers CHUNK_MAP (ERROR ENOTFOUND when the manifest is not "
            "there: which chunks it lists is unknown).");

static const rm_field_t chunks_held_fields[] = {
    RM_FIELD_LIST(rm_need_t, hashes, RM_F_B32, RM_MAX_NEED, "chunks asked about"),
};
static const rm_struct_desc_t chunks_held_desc =
    RM_DESC(rm_need_t, "chunks_held", chunks_held_fields,
            "Client -> node: which of these chunks do you hold? Asked while a project is still "
            "being chunked, so that what the node lacks is sent (CHUNK_PUT) before SUBMIT "
            "names the project, and what it holds is not sent again; answered by "
            "CHUNKS_HELD_REPLY. Needs the submit right.");

static const rm_field_t chunks_held_reply_fields[] = {
    RM_FIELD(rm_have_reply_t, held, RM_F_BIN, (RM_MAX_NEED + 7) / 8,
             "bit i (byte i/8, bit i%8): hashes[i] is held; missing bits are clear"),
};
static const rm_struct_desc_t chunks_held_reply_desc =
    RM_DESC(rm_have_reply_t, "chunks_held_reply", chunks_held_reply_fields,
            "Node -> client: answers CHUNKS_HELD.");

typedef struct {
    const char *name;
    const rm_struct_desc_t *desc;
} msg_entry_t;

static const msg_entry_t messages[RM_MSG_TYPE_COUNT] = {
    [RM_MSG_ERROR] = {"ERROR", &error_desc},
    [RM_MSG_OK] = {"OK", &ok_desc},
    [RM_MSG_HELLO] = {"HELLO", &hello_desc},
    [RM_MSG_WELCOME] = {"WELCOME", &welcome_desc},
    [RM_MSG_SUBMIT] = {"SUBMIT", &submit_desc},
    [RM_MSG_NEED] = {"NEED", &need_desc},
    [RM_MSG_ACCEPTED] = {"ACCEPTED", &accepted_desc},
    [RM_MSG_CHUNK_PUT] = {"CHUNK_PUT", &chunk_put_desc},
    [RM_MSG_CHUNK_OK] = {"CHUNK_OK", &chunk_ok_desc},
    [RM_MSG_CHUNK_GET] = {"CHUNK_GET", &chunk_get_desc},
    [RM_MSG_CHUNK_DATA] = {"CHUNK_DATA", &chunk_data_desc},
    [RM_MSG_STATUS] = {"STATUS", &status_desc},
    [RM_MSG_STATUS_REPLY] = {"STATUS_REPLY", &status_reply_desc},
    [RM_MSG_JOBS] = {"JOBS", &jobs_desc},
    [RM_MSG_JOBS_REPLY] = {"JOBS_REPLY", &jobs_reply_desc},
    [RM_MSG_JOB_INFO] = {"JOB_INFO", &job_info_desc},
    [RM_MSG_JOB_REPLY] = {"JOB_REPLY", &job_reply_desc},
    [RM_MSG_NODES] = {"NODES", &nodes_desc},
    [RM_MSG_NODES_REPLY] = {"NODES_REPLY", &nodes_reply_desc},
    [RM_MSG_CANCEL] = {"CANCEL", &cancel_desc},
    [RM_MSG_LOGS] = {"LOGS", &logs_desc},
    [RM_MSG_LOGS_REPLY] = {"LOGS_REPLY", &logs_reply_desc},
    [RM_MSG_WATCH] = {"WATCH", &watch_desc},
    [RM_MSG_WATCH_REPLY] = {"WATCH_REPLY", &watch_reply_desc},
    [RM_MSG_GOSSIP] = {"GOSSIP", &gossip_desc},
    [RM_MSG_JOB_SYNC] = {"JOB_SYNC", &job_sync_desc},
    [RM_MSG_JOB_HELD] = {"JOB_HELD", &job_held_desc},
    [RM_MSG_JOB_DELTA] = {"JOB_DELTA", &job_delta_desc},
    [RM_MSG_JOB_DIGEST] = {"JOB_DIGEST", &job_digest_desc},
    [RM_MSG_WORK_REQ] = {"WORK_REQ", &work_req_desc},
    [RM_MSG_ASSIGN] = {"ASSIGN", &assign_desc},
    [RM_MSG_REPLICATE] = {"REPLICATE", &replicate_desc},
    [RM_MSG_DRAIN] = {"DRAIN", &drain_desc},
    [RM_MSG_REVOKE] = {"REVOKE", &revoke_desc},
    [RM_MSG_JOB_REMOVE] = {"JOB_REMOVE", &job_remove_desc},
    [RM_MSG_PRIORITY] = {"PRIORITY", &priority_desc},
    [RM_MSG_IMPORT] = {"IMPORT", &import_desc},
    [RM_MSG_IMPORT_REPLY] = {"IMPORT_REPLY", &import_reply_desc},
    [RM_MSG_HAVE] = {"HAVE", &have_desc},
    [RM_MSG_HAVE_REPLY] = {"HAVE_REPLY", &have_reply_desc},
    [RM_MSG_CHUNK_MAP] = {"CHUNK_MAP", &chunk_map_desc},
    [RM_MSG_CHUNK_MAP_REPLY] = {"CHUNK_MAP_REPLY", &chunk_map_reply_desc},
    [RM_MSG_CHUNKS_HELD] = {"CHUNKS_HELD", &chunks_held_desc},
    [RM_MSG_CHUNKS_HELD_REPLY] = {"CHUNKS_HELD_REPLY", &chunks_held_reply_desc},
};

/* ------------------------------------------------------------------ */
/* Envelope                                                            */
/* ------------------------------------------------------------------ */

const rm_struct_desc_t *rm_msg_desc(rm_msg_type_t type)
{
    if ((unsigned)type >= RM_MSG_TYPE_COUNT)
        return NULL;
    return messages[type].desc;
}

const char *rm_msg_name(rm_msg_type_t type)
{
    if ((unsigned)type >= RM_MSG_TYPE_COUNT)
        return NULL;
    return messages[type].name;
}

static int pack_header(msgpack_sbuffer *sb, rm_msg_type_t type, uint64_t req)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    if (msgpack_pack_array(&pk, 4) || msgpack_pack_uint64(&pk, RM_PROTO_VERSION) ||
        msgpack_pack_uint64(&pk, (uint64_t)type) || msgpack_pack_uint64(&pk, req))
        return -1;
    return 0;
}

int rm_msg_encode(rm_msg_type_t type, uint64_t req, const void *body, uint8_t **buf, size_t *len,
                  rm_err_t *err)
{
    const rm_struct_desc_t *desc = rm_msg_desc(type);
    msgpack_sbuffer sb;
    /* A NULL body encodes as the zeroed struct: all "", 0, false. */
    rm_msg_t zero;
    *buf = NULL;
    *len = 0;
    if (!desc)
        return rm_err_set(err, RM_EINVAL, "unknown message type %d", (int)type);
    if (!body) {
        memset(&zero, 0, sizeof zero);
        body = &zero.u;
    }
    msgpack_sbuffer_init(&sb);
    if (pack_header(&sb, type, req)) {
        msgpack_sbuffer_destroy(&sb);
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    }
    uint8_t *b = (uint8_t *)sb.data;
    size_t n = sb.size;
    if (rm_codec_encode(desc, body, &b, &n, err)) {
        free(b);
        return rm_err_prefix(err, "%s: ", messages[type].name);
    }
    /* A bigger message would be dropped silently by the peer's ZMQ_MAXMSGSIZE. */
    if (n > RM_MAX_MSG_SIZE) {
        free(b);
        return rm_err_set(err, RM_EINVAL, "%s: message of %zu bytes, max %d", messages[type].name,
                          n, RM_MAX_MSG_SIZE);
    }
    *buf = b;
    *len = n;
    return 0;
}

int rm_msg_encode_error(uint64_t req, rm_code_t code, const char *message, uint8_t **buf,
                        size_t *len, rm_err_t *err)
{
    /* An over-long reason is cut rather than turned into a second failure. */
    char *cut = strndup(message ? message : "", RM_MAX_TEXT);
    if (!cut) {
        *buf = NULL;
        *len = 0;
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    }
    rm_error_msg_t e = {(uint64_t)code, cut};
    int rc = rm_msg_encode(RM_MSG_ERROR, req, &e, buf, len, err);
    free(cut);
    return rc;
}

/*  Reads [version, type, req, ... and leaves the reader at the body. */
static int read_header(rm_reader_t *r, rm_msg_t *msg, uint32_t *count, rm_err_t *err)
{
    uint64_t version, type;
    if (rm_read_array(r, 0, count, err))
        return rm_err_prefix(err, "envelope: ");
    if (*count < 1)
        return rm_err_set(err, RM_EPROTO, "envelope: empty array");
    /* The version comes first so that any other version is named as such,
       whatever the rest of its envelope looks like. */
    if (rm_read_u64(r, &version, err))
        return rm_err_prefix(err, "envelope version: ");
    if (version != RM_PROTO_VERSION)
        return rm_err_set(err, RM_EPROTO,
                          "protocol version %" PRIu64
                          " not supported (this node speaks version %d)",
                          version, RM_PROTO_VERSION);
    if (*count < 4)
        return rm_err_set(err, RM_EPROTO, "envelope: %" PRIu32 " elements, expected 4", *count);
    if (rm_read_u64(r, &type, err))
        return rm_err_prefix(err, "envelope type: ");
    if (type == 0 || type >= RM_MSG_TYPE_COUNT)
        return rm_err_set(err, RM_EPROTO, "unknown message type %" PRIu64, type);
    if (rm_read_u64(r, &msg->req, err))
        return rm_err_prefix(err, "envelope req: ");
    msg->version = version;
    msg->type = (rm_msg_type_t)type;
    return 0;
}

/*  After the body: envelope elements a later revision may append, then
    nothing. */
static int read_tail(rm_reader_t *r, uint32_t count, rm_err_t *err)
{
    r->depth = 1; /* inside the envelope array */
    for (uint32_t i = 4; i < count; i++)
        if (rm_read_skip(r, err))
            return rm_err_prefix(err, "envelope[%" PRIu32 "]: ", i);
    if (r->p != r->end)
        return rm_err_set(err, RM_EPROTO, "%zu stray byte(s) after the message",
                          (size_t)(r->end - r->p));
    return 0;
}

int rm_msg_decode(const uint8_t *data, size_t size, rm_msg_t *msg, rm_err_t *err)
{
    rm_reader_t r;
    uint32_t count;
    size_t used;
    memset(msg, 0, sizeof *msg);
    if (size > RM_MAX_MSG_SIZE)
        return rm_err_set(err, RM_EPROTO, "message of %zu bytes, max %d", size, RM_MAX_MSG_SIZE);
    rm_reader_init(&r, data, size);
    if (read_header(&r, msg, &count, err)) {
        rm_msg_free(msg);
        return -1;
    }
    const msg_entry_t *m = &messages[msg->type];
    int rc = rm_codec_decode(m->desc, &msg->u, r.p, (size_t)(r.end - r.p), &used, err);
    if (rc == 0) {
        r.p += used;
        rc = read_tail(&r, count, err);
    }
    if (rc) {
        rm_msg_free(msg);
        return rm_err_prefix(err, "%s: ", m->name);
    }
    return 0;
}

void rm_msg_free(rm_msg_t *msg)
{
    if (!msg)
        return;
    const rm_struct_desc_t *desc = rm_msg_desc(msg->type);
    if (desc)
        rm_codec_free(desc, &msg->u);
    memset(msg, 0, sizeof *msg);
}
