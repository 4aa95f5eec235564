/*  rm_submit: the job a user asks for, and sending it (see rm_submit.h). */
#include "rm_submit.h"

#include "rm_fs.h"
#include "rm_s3_url.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rm_frames.h"
#include "rm_render_opts.h"
#include "rm_store.h"
#include "rm_tree.h"

/*  --- Options -> job spec ------------------------------------------------ */

int rm_submit_check_blend(const char *path, rm_err_t *err)
{
    struct stat st;
    uint8_t magic[7] = {0};
    if (stat(path, &st) != 0)
        return rm_err_set(err, RM_EINVAL, "%s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return rm_err_set(err, RM_EINVAL, "%s is not a .blend file (not a regular file)", path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return rm_err_set(err, RM_EINVAL, "cannot open %s: %s", path, strerror(errno));
    ssize_t n = read(fd, magic, sizeof magic);
    close(fd);
    if (n < 0 || !rm_fs_blend_magic(magic, (size_t)n))
        return rm_err_set(err, RM_EINVAL, "%s is not a .blend file", path);
    return 0;
}

void rm_submit_new_id(char out[17])
{
    uint8_t rnd[8];
    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(out, 17, rnd, sizeof rnd);
}

/*  Copies `value` (or `dflt` when NULL) into a heap string of < max bytes. */
static int copy_option(char **field, const char *opt, const char *value, const char *dflt,
                       size_t max, rm_err_t *err)
{
    const char *v = value ? value : dflt;
    if (strlen(v) >= max)
        return rm_err_set(err, RM_EINVAL, "%s: longer than %zu characters", opt, max - 1);
    if (!(*field = strdup(v)))
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    return 0;
}

static int opt_u64(const rm_args_t *args, const char *name, uint64_t min, uint64_t max,
                   uint64_t dflt, uint64_t *out, rm_err_t *err)
{
    char opt[64];
    const char *v = rm_args_get(args, name);
    snprintf(opt, sizeof opt, "--%s", name);
    *out = dflt;
    return v ? rm_cli_parse_u64(opt, v, min, max, out, err) : 0;
}

static int opt_choice(const rm_args_t *args, const char *name, const char *const *choices,
                      const char *dflt, char **field, rm_err_t *err)
{
    char opt[64];
    const char *v = rm_args_get(args, name), *choice = dflt;
    snprintf(opt, sizeof opt, "--%s", name);
    if (v && rm_cli_parse_choice(opt, v, choices, &choice, err) != 0)
        return -1;
    return copy_option(field, opt, choice, "", 32, err);
}

/*  The frames: --frames, else the scene's own range as the local Blender
    read it, so `submit` without --frames renders what `blender -a` would. */
static int choose_frames(const rm_args_t *args, const rm_submit_req_t *req, rm_job_spec_t *spec,
                         rm_err_t *err)
{
    const char *text = rm_args_get(args, "frames");
    rm_frame_range_t *ranges = NULL;
    uint32_t count = 0;
    char scene_frames[96];
    if (!text) {
        const rm_scan_t *sc = &req->scan;
        if (!req->scanned)
            return rm_err_set(err, RM_EINVAL, "--no-scan needs --frames");
        if (!sc->has_range || sc->first < 0 || sc->last < sc->first || sc->step < 1)
            return rm_err_set(err, RM_EINVAL,
                              "no --frames given and Blender could not read the frame range of %s",
                              req->blend);
        if (sc->step > 1)
            snprintf(scene_frames, sizeof scene_frames, "%ld-%ld:%ld", sc->first, sc->last,
                     sc->step);
        else
            snprintf(scene_frames, sizeof scene_frames, "%ld-%ld", sc->first, sc->last);
        text = scene_frames;
    }
    if (rm_frames_parse(text, &ranges, &count, err) != 0)
        return rm_err_prefix(err, "--frames: ");
    spec->frames.items = ranges;
    spec->frames.count = count;
    return 0;
}

static int parse_render(const rm_args_t *args, rm_job_spec_t *s, rm_err_t *err)
{
    const char *res = rm_args_get(args, "resolution");
    const char *prio = rm_args_get(args, "priority");
    if (opt_u64(args, "samples", 1, 1 << 24, 0, &s->samples, err) != 0 ||
        opt_u64(args, "percent", 1, RM_RENDER_MAX_PERCENT, 0, &s->percent, err) != 0 ||
        opt_u64(args, "chunk", 1, RM_MAX_TASK_FRAMES, 1, &s->chunk, err) != 0 ||
        opt_u64(args, "timeout", 1, RM_RENDER_MAX_TASK_TIMEOUT, 0, &s->task_timeout, err) != 0 ||
        (res && rm_cli_parse_resolution(res, &s->res_x, &s->res_y, err) != 0) ||
        (prio && rm_cli_parse_i64("--priority", prio, -1000000, 1000000, &s->priority, err) != 0))
        return -1;
    s->allow_scripts = rm_args_has(args, "allow-scripts");
    s->preempt = rm_args_has(args, "preempt");
    s->no_denoise = rm_args_has(args, "no-denoise");
    return 0;
}

static int parse_strings(const rm_args_t *args, const char *blend, rm_job_spec_t *s, rm_err_t *err)
{
    const char *base = strrchr(blend, '/') ? strrchr(blend, '/') + 1 : blend;
    if (copy_option(&s->name, "--name", rm_args_get(args, "name"), base, RM_MAX_NAME, err) != 0 ||
        copy_option(&s->scene, "--scene", rm_args_get(args, "scene"), "", RM_MAX_NAME, err) != 0 ||
        copy_option(&s->camera, "--camera", rm_args_get(args, "camera"), "", RM_MAX_NAME, err) !=
            0 ||
        opt_choice(args, "engine", rm_render_opts_engines, "", &s->engine, err) != 0 ||
        opt_choice(args, "device", rm_render_opts_devices, "", &s->device, err) != 0 ||
        opt_choice(args, "format", rm_render_opts_formats, "", &s->format, err) != 0)
        return -1;
    return 0;
}

static int parse_attach(const rm_args_t *args, rm_submit_req_t *req, rm_err_t *err)
{
    struct stat st;
    req->nattach = rm_args_count(args, "attach");
    req->attach = calloc(req->nattach ? req->nattach : 1, sizeof *req->attach);
    if (!req->attach)
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    for (size_t i = 0; i < req->nattach; i++) {
        req->attach[i] = rm_args_nth(args, "attach", i);
        if (rm_s3_url_is(req->attach[i]) != req->s3)
            return rm_err_set(err, RM_EINVAL,
                              "--attach %s: a project is read from one place: the .blend %s is %s",
                              req->attach[i], req->blend, req->s3 ? "in S3" : "a local file");
        rm_s3_url_t url;
        if (req->s3 && rm_s3_url_parse(req->attach[i], "--attach", &url, err) != 0)
            return -1;
        if (!req->s3 && stat(req->attach[i], &st) != 0)
            return rm_err_set(err, RM_EINVAL, "--attach %s: %s", req->attach[i], strerror(errno));
    }
    return 0;
}

/*  --out DIR: wait and fetch there; --out s3://BUCKET/PREFIX/: the nodes
    store each frame there (create-only) before it counts done. */
static int parse_out(const rm_args_t *args, rm_submit_req_t *req, rm_err_t *err)
{
    const char *out = rm_args_get(args, "out");
    req->wait = rm_args_has(args, "wait");
    if (out && !*out)
        return rm_err_set(err, RM_EINVAL, "--out needs a directory or s3://BUCKET/PREFIX/");
    if (!out)
        return 0;
    if (!rm_s3_url_is(out)) {
        req->out = out;
        req->wait = true;
        return 0;
    }
    rm_s3_url_t url;
    if (rm_s3_url_parse(out, "--out", &url, err) != 0)
        return -1;
    /* A prefix is a folder: frame_0001.png goes below it, not beside. */
    bool slash = rm_s3_url_is_prefix(&url);
    size_t n = strlen(out) + 2;
    if (!(req->spec.out_url = malloc(n)))
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    snprintf(req->spec.out_url, n, "%s%s", out, slash ? "" : "/");
    if (strlen(req->spec.out_url) > RM_MAX_PATH)
        return rm_err_set(err, RM_EINVAL, "--out %s: longer than %d characters", out, RM_MAX_PATH);
    return 0;
}

/*  A project already in S3: the node reads it (rm_import), so nothing here
    can read the scene: the frames are the user's to give. */
static int parse_s3_project(const rm_args_t *args, rm_submit_req_t *req, rm_err_t *err)
{
    rm_s3_url_t url;
    if (rm_s3_url_parse(req->blend, "the .blend", &url, err) != 0)
        return -1;
    if (rm_s3_url_is_prefix(&url))
        return rm_err_set(err, RM_EINVAL, "%s names a prefix, not a .blend file", req->blend);
    if (rm_args_has(args, "root"))
        return rm_err_set(err, RM_EINVAL,
                          "--root is for local projects: an S3 project's root is the deepest "
                          "prefix holding the .blend and its attachments");
    if (!rm_args_has(args, "frames"))
        return rm_err_set(err, RM_EINVAL,
                          "%s is read by the nodes, not by the Blender here: give --frames",
                          req->blend);
    return parse_attach(args, req, err) || choose_frames(args, req, &req->spec, err) ? -1 : 0;
}

/*  Asks the local Blender what the file needs, unless --no-scan. */
static int scan(const rm_args_t *args, rm_submit_req_t *req, rm_err_t *err)
{
    const char *scene = rm_args_get(args, "scene");
    if (rm_args_has(args, "no-scan"))
        return 0;
    if (rm_scan_run(req->blend_abs, scene, &req->scan, err) != 0)
        return -1;
    req->scanned = true;
    if (scene && !req->scan.has_range)
        return rm_err_set(err, RM_EINVAL, "--scene: %s has no scene '%s' (it has: %s)", req->blend,
                          scene, req->scan.scenes ? req->scan.scenes : "none");
    return 0;
}

/*  The project: the .blend, what it uses, --attach, below the root. */
static int project_files(const rm_args_t *args, rm_submit_req_t *req, rm_err_t *err)
{
    rm_deps_in_t in = {
        req->blend_abs, rm_args_get(args, "root"),          req->attach,
        req->nattach,   rm_args_has(args, "allow-missing"), req->scanned ? &req->scan : NULL,
        stderr};
    if (in.root && !*in.root)
        return rm_err_set(err, RM_EINVAL, "--root needs a folder");
    if (rm_deps_plan(&in, &req->deps, err) != 0)
        return -1;
    /* Nodes read paths the .blend stores as absolute from the project. */
    if (!(req->spec.source_root = strdup(req->deps.root)))
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    return 0;
}

/*  Denoising is the artist's setting: a job that uses it needs nodes that
    can honour it, unless the user says --no-denoise. */
static int denoise(rm_submit_req_t *req, rm_err_t *err)
{
    rm_job_spec_t *s = &req->spec;
    if (!req->scan.denoise || s->no_denoise)
        return 0;
    if (!(s->requires.items = calloc(1, sizeof *s->requires.items)) ||
        !(s->requires.items[0] = strdup("denoise")))
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    s->requires.count = 1;
    fprintf(stderr, "meshctl: note: the scene renders with denoising, so the job requires nodes "
                    "whose Blender can denoise (--no-denoise renders without)\n");
    return 0;
}

int rm_submit_req_parse(const rm_args_t *args, rm_submit_req_t *req, rm_err_t *err)
{
    memset(req, 0, sizeof *req);
    req->blend = rm_args_pos(args, 0);
    if (!req->blend || rm_args_npos(args) != 1)
        return rm_err_set(err, RM_EINVAL, "submit takes one .blend file");
    req->s3 = rm_s3_url_is(req->blend);
    if (parse_render(args, &req->spec, err) != 0 ||
        parse_strings(args, req->blend, &req->spec, err) != 0 || parse_out(args, req, err) != 0)
        return -1;
    if (req->s3)
        return parse_s3_project(args, req, err);
    if (!(req->blend_abs = rm_path_absolute(req->blend)))
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    /* Reading the scene starts Blender: every cheaper check first. */
    bool given = rm_args_has(args, "frames");
    if (rm_submit_check_blend(req->blend, err) != 0 || parse_attach(args, req, err) != 0 ||
        (given && choose_frames(args, req, &req->spec, err) != 0) || scan(args, req, err) != 0 ||
        (!given && choose_frames(args, req, &req->spec, err) != 0) ||
        project_files(args, req, err) != 0 || denoise(req, err) != 0)
        return -1;
    return 0;
}

void rm_submit_req_free(rm_submit_req_t *req)
{
    rm_codec_free(&rm_job_spec_desc, &req->spec);
    free(req->attach);
    rm_deps_free(&req->deps);
    free(req->blend_abs);
    rm_scan_free(&req->scan);
    memset(req, 0, sizeof *req);
}

/*  --- Sending chunks -------------------------------------------------------- */

typedef struct {
    rm_project_t *project;
    const rm_hash_t *hashes;
    size_t *lens; /* bytes of each chunk sent */
    rm_submit_stats_t *stats;
} upload_t;

static int put_chunk(void *arg, rm_client_t *client, size_t i, uint64_t *req, rm_err_t *err)
{
    upload_t *u = arg;
    rm_chunk_t chunk = {.hash = u->hashes[i]};
    rm_err_t e = {0};
    if (rm_project_chunk(u->project, &u->hashes[i], &chunk.data.data, &chunk.data.len, &e) != 0) {
        if (e.code == RM_ENOTFOUND)
            return rm_err_set(err, RM_EPROTO, "node %s asked for something else: %s",
                              rm_client_node(client), e.msg);
        return rm_err_set(err, e.code, "%s", e.msg);
    }
    u->lens[i] = chunk.data.len;
    int rc = rm_client_send(client, RM_MSG_CHUNK_PUT, &chunk, req, err);
    free(chunk.data.data);
    return rc;
}

static int chunk_ok(void *arg, size_t i, rm_msg_t *reply, rm_err_t *err)
{
    upload_t *u = arg;
    if (reply->type != RM_MSG_CHUNK_OK)
        return rm_err_set(err, RM_EPROTO, "node answered CHUNK_PUT with %s",
                          rm_msg_name(reply->type) ? rm_msg_name(reply->type) : "?");
    if (memcmp(&reply->u.chunk_ref.hash, &u->hashes[i], sizeof(rm_hash_t)) != 0)
        return rm_err_set(err, RM_EPROTO, "node acknowledged another chunk than it was sent");
    u->stats->chunks_sent++;
    u->stats->bytes_sent += u->lens[i];
    return 0;
}

/*  Sends the distinct chunks of one NEED. */
static int send_chunks(rm_client_t *client, rm_project_t *project, const rm_need_t *need,
                       rm_submit_stats_t *stats, rm_err_t *err)
{
    size_t n = need->hashes.count;
    rm_hash_t *hashes = malloc((n ? n : 1) * sizeof *hashes);
    size_t *lens = calloc(n ? n : 1, sizeof *lens);
    int rc = -1;
    if (!hashes || !lens) {
        rm_err_set(err, RM_ENOMEM, "out of memory");
        goto out;
    }
    memcpy(hashes, need->hashes.items, n * sizeof *hashes);
    qsort(hashes, n, sizeof *hashes, rm_hash_cmp);
    size_t distinct = 0;
    for (size_t i = 0; i < n; i++)
        if (distinct == 0 || rm_hash_cmp(&hashes[distinct - 1], &hashes[i]) != 0)
            hashes[distinct++] = hashes[i];
    upload_t u = {project, hashes, lens, stats};
    rc = rm_client_pipeline(client, distinct, RM_SUBMIT_WINDOW, put_chunk, chunk_ok, &u, err);
out:
    free(hashes);
    free(lens);
    return rc;
}

/*  --- The conversation ------------------------------------------------------ */

/*  The node answers a STATUS: it is alive, only its answer to SUBMIT is
    not ready (a second node is still fetching the project). */
static bool node_alive(rm_client_t *client)
{
    rm_msg_t reply;
    rm_err_t e;
    if (rm_client_call(client, RM_MSG_STATUS, NULL, RM_MSG_STATUS_REPLY, 0, &reply, &e) != 0)
        return false;
    rm_msg_free(&reply);
    return true;
}

/*  SUBMIT, sent again (same job id) when no answer comes.  The node
    makes the project durable (one sync of its store) before it answers
    ACCEPTED, so a big project gets more time: 10 ms per MB (100 MB/s) on
    top of the usual timeout.  It
    answers ACCEPTED once a second node holds the job, which over slow
    links takes longer than any one wait: while the node answers STATUS,
    SUBMIT is asked again (the node itself says when its members stopped
    fetching: EAGAIN); only waits the node does not answer at all count
    against RM_SUBMIT_RETRIES. */
static int submit_once(rm_client_t *client, const rm_project_t *project, const rm_job_spec_t *spec,
                       rm_msg_t *reply, rm_err_t *err)
{
    rm_err_t e = {0};
    uint64_t extra = project ? rm_project_bytes_total(project) / 100000 : 0;
    int extra_ms = extra > 600000 ? 600000 : (int)extra;
    for (int attempt = 0; attempt <= RM_SUBMIT_RETRIES;) {
        if (rm_client_call(client, RM_MSG_SUBMIT, spec, 0, extra_ms, reply, &e) == 0)
            return 0;
        if (e.code != RM_ETIMEOUT || rm_client_refused(client))
            break;
        if (!node_alive(client))
            attempt++;
    }
    return rm_err_set(err, e.code, "%s", e.msg);
}

static bool same_need(const rm_need_t *a, const rm_hash_t *prev, uint32_t nprev)
{
    return a->hashes.count == nprev &&
           memcmp(a->hashes.items, prev, nprev * sizeof(rm_hash_t)) == 0;
}

/*  Handles one NEED; fails when the node asks for the same chunks round
    after round (it acknowledged them but does not keep them). */
static int on_need(rm_client_t *client, rm_project_t *project, const rm_need_t *need,
                   rm_hash_t **prev, uint32_t *nprev, uint32_t *repeats, rm_submit_stats_t *stats,
                   rm_err_t *err)
{
    if (!project)
        return rm_err_set(err, RM_EAGAIN,
                          "node %s no longer holds all of the project it read from S3: submit "
                          "again",
                          rm_client_node(client));
    *repeats = same_need(need, *prev, *nprev) ? *repeats + 1 : 0;
    if (*repeats >= 3 || need->hashes.count == 0)
        return rm_err_set(err, RM_EPROTO,
                          "node %s keeps asking for chunks it has acknowledged; see its log",
                          rm_client_node(client));
    free(*prev);
    *nprev = 0;
    *prev = malloc(need->hashes.count * sizeof(rm_hash_t));
    if (!*prev)
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    memcpy(*prev, need->hashes.items, need->hashes.count * sizeof(rm_hash_t));
    *nprev = need->hashes.count;
    stats->rounds++;
    return send_chunks(client, project, need, stats, err);
}

int rm_submit_run(rm_client_t *client, rm_project_t *project, const rm_job_spec_t *spec,
                  rm_submit_stats_t *stats, rm_err_t *err)
{
    rm_hash_t *prev = NULL;
    uint32_t nprev = 0, repeats = 0;
    int rc = 1;
    memset(stats, 0, sizeof *stats);
    stats->chunks_total = project ? rm_project_chunks_total(project) : 0;
    while (rc > 0) {
        rm_msg_t reply;
        if (submit_once(client, project, spec, &reply, err) != 0) {
            rc = -1;
        } else if (reply.type == RM_MSG_ACCEPTED) {
            stats->frames_total = reply.u.accepted.frames_total;
            rc = 0;
        } else if (reply.type == RM_MSG_NEED) {
            rc = on_need(client, project, &reply.u.need, &prev, &nprev, &repeats, stats, err) ? -1
                                                                                              : 1;
        } else {
            rc = rm_err_set(err, RM_EPROTO, "node answered SUBMIT with %s",
                            rm_msg_name(reply.type) ? rm_msg_name(reply.type) : "?");
        }
        if (reply.type)
            rm_msg_free(&reply);
    }
    free(prev);
    return rc;
}
