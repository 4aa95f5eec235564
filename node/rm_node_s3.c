#include "rm_node_s3.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_fs.h"
#include "rm_log.h"
#include "rm_manifest.h"
#include "rm_s3.h"
#include "rm_s3_import.h"
#include "rm_s3_url.h"

#define PROGRESS_EVERY_MS 250

/*  The importer's thread: one import at a time, sent by the node, so that
    anything else on the pipe while one runs is the node stopping. */
typedef struct {
    rm_aws_settings_t settings;
    rm_store_t *store;
    char staging[1100]; /* HOME/imports */
    char cache[1100];   /* HOME/imports-cache: objects read before (rm_s3_import.h) */
    uint64_t max_bytes; /* max_project_gb */
} importer_args_t;

typedef struct {
    zsock_t *pipe;
    uint64_t id;
    int64_t sent_at;
} import_run_t;

static void on_progress(void *arg, uint64_t files, uint64_t bytes, uint64_t done)
{
    import_run_t *run = arg;
    int64_t now = zclock_mono();
    if (done != 0 && done != bytes && now - run->sent_at < PROGRESS_EVERY_MS)
        return;
    run->sent_at = now;
    char id[24], f[24], b[24], d[24];
    snprintf(id, sizeof id, "%llu", (unsigned long long)run->id);
    snprintf(f, sizeof f, "%llu", (unsigned long long)files);
    snprintf(b, sizeof b, "%llu", (unsigned long long)bytes);
    snprintf(d, sizeof d, "%llu", (unsigned long long)done);
    zstr_sendx(run->pipe, "PROGRESS", id, f, b, d, NULL);
}

static bool importer_asked_to_stop(void *arg)
{
    import_run_t *run = arg;
    return (zsock_events(run->pipe) & ZMQ_POLLIN) != 0;
}

static void run_import(zsock_t *pipe, importer_args_t *args, rm_s3_t **s3, zmsg_t *msg)
{
    char *id = zmsg_popstr(msg), *blend = zmsg_popstr(msg);
    const char *attach[RM_MAX_ATTACH];
    size_t nattach = 0;
    char *item;
    while (nattach < RM_MAX_ATTACH && (item = zmsg_popstr(msg)))
        attach[nattach++] = item;
    import_run_t run = {.pipe = pipe, .id = id ? strtoull(id, NULL, 10) : 0};
    rm_err_t err = {0};
    rm_s3_import_result_t res;
    char staging[1200];
    snprintf(staging, sizeof staging, "%s/%llu", args->staging, (unsigned long long)run.id);
    int rc = blend ? 0 : rm_err_set(&err, RM_EINVAL, "no .blend");
    if (rc == 0 && !*s3 && !(*s3 = rm_s3_new(&args->settings, &err)))
        rc = -1;
    if (rc == 0)
        rc = rm_s3_import(*s3, args->store, staging, args->cache, args->max_bytes, blend, attach,
                          nattach, on_progress, importer_asked_to_stop, &run, &res, &err);
    /* Events are text frames (the manifest's hash as hex), read with
       zmsg_popstr on the node's side. */
    char files[24], bytes[24], reused[24], hex[65];
    snprintf(files, sizeof files, "%llu", rc == 0 ? (unsigned long long)res.files : 0ULL);
    snprintf(bytes, sizeof bytes, "%llu", rc == 0 ? (unsigned long long)res.bytes : 0ULL);
    snprintf(reused, sizeof reused, "%llu", rc == 0 ? (unsigned long long)res.reused : 0ULL);
    if (rc == 0) {
        rm_hash_hex(&res.manifest, hex);
        zstr_sendx(pipe, "DONE", id, hex, res.root, res.blend, files, bytes, reused, NULL);
    } else {
        zstr_sendx(pipe, "FAILED", id, err.msg, NULL);
    }
    zstr_free(&id);
    zstr_free(&blend);
    for (size_t i = 0; i < nattach; i++)
        free((char *)attach[i]);
}

static void importer_actor(zsock_t *pipe, void *arg)
{
    importer_args_t *args = arg;
    rm_s3_t *s3 = NULL;
    zsock_signal(pipe, 0);
    while (true) {
        zmsg_t *msg = zmsg_recv(pipe);
        if (!msg)
            break;
        char *cmd = zmsg_popstr(msg);
        bool term = !cmd || strcmp(cmd, "$TERM") == 0;
        if (!term && strcmp(cmd, "IMPORT") == 0)
            run_import(pipe, args, &s3, msg);
        zstr_free(&cmd);
        zmsg_destroy(&msg);
        if (term)
            break;
    }
    rm_s3_destroy(&s3);
    rm_aws_settings_clear(&args->settings);
    free(args);
}

static void clear_import(rm_node_import_t *im);

static const char *real_env(void *arg, const char *name)
{
    (void)arg;
    return getenv(name);
}

static void resolve(rm_node_ctx_t *self)
{
    const rm_config_t *c = &self->config;
    rm_aws_overrides_t o = {.region = c->s3_region,
                            .endpoint = c->s3_endpoint,
                            .profile = c->s3_profile,
                            .access_key_id = c->s3_access_key_id,
                            .secret_access_key_file = c->s3_secret_access_key_file,
                            .addressing_style = c->s3_addressing_style};
    rm_err_t err = {0};
    if (rm_aws_resolve(&o, real_env, NULL, getenv("HOME"), &self->s3, &err) != 0) {
        snprintf(self->s3_why, sizeof self->s3_why, "%s", err.msg);
        rm_log_warning("no S3 on this node: %s", self->s3_why);
        return;
    }
    self->s3_ok = true;
    char text[1024];
    rm_aws_describe(&self->s3, text, sizeof text);
    rm_log_info("S3: %s", text);
}

static void on_importer_readable(void *arg, void *sock);
static void on_uploads_readable(void *arg, void *sock);

int rm_node_s3_start(rm_node_ctx_t *self, rm_err_t *err)
{
    resolve(self);
    if (!self->s3_ok)
        return 0;
    char tmp[1100];
    if (rm_node_home_path(self, "tmp", tmp, sizeof tmp, err) != 0 ||
        !(self->uploads = rm_uploads_new(&self->s3, self->store, tmp, 1000, err)))
        return -1;
    importer_args_t *args = calloc(1, sizeof *args);
    if (!args)
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    args->settings = self->s3;
    args->store = self->store;
    args->max_bytes = self->config.max_project_gb << 30;
    rm_err_t left;
    if (rm_node_home_path(self, "imports", args->staging, sizeof args->staging, err) != 0 ||
        rm_node_home_path(self, "imports-cache", args->cache, sizeof args->cache, err) != 0) {
        rm_aws_settings_clear(&args->settings);
        free(args);
        return -1;
    }
    if (rm_fs_remove_tree(args->staging, &left) != 0) /* what a crash left */
        rm_log_warning("cannot empty %s: %s", args->staging, left.msg);
    if (!(self->importer = zactor_new(importer_actor, args))) {
        rm_aws_settings_clear(&args->settings);
        free(args);
        return rm_err_set(err, RM_ENOMEM, "cannot start the S3 importer");
    }
    if (rm_loop_reader(self->loop, self->importer, on_importer_readable, self) != 0 ||
        rm_loop_reader(self->loop, rm_uploads_actor(self->uploads), on_uploads_readable, self) != 0)
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    return 0;
}

void rm_node_s3_stop(rm_node_ctx_t *self)
{
    rm_loop_reader_end(self->loop, self->importer);
    zactor_destroy(&self->importer);
    if (self->uploads)
        rm_loop_reader_end(self->loop, rm_uploads_actor(self->uploads));
    rm_uploads_destroy(&self->uploads);
    for (size_t i = 0; i < RM_NODE_MAX_IMPORTS; i++)
        clear_import(&self->imports[i]);
    rm_aws_settings_clear(&self->s3);
}

/* ---------------------------------------------------------------- imports */

static rm_node_import_t *find_import(rm_node_ctx_t *self, uint64_t id)
{
    for (size_t i = 0; i < RM_NODE_MAX_IMPORTS; i++)
        if (self->imports[i].id == id && id != 0)
            return &self->imports[i];
    return NULL;
}

static void replace_str(char **field, const char *value)
{
    free(*field);
    *field = strdup(value ? value : "");
}

/*  What the request asks, as one hash: the same request finds its import. */
static void import_key(const rm_import_t *m, rm_hash_t *key)
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof key->b);
    crypto_generichash_update(&st, (const uint8_t *)m->blend, strlen(m->blend) + 1);
    for (uint32_t i = 0; i < m->attach.count; i++)
        crypto_generichash_update(&st, (const uint8_t *)m->attach.items[i],
                                  strlen(m->attach.items[i]) + 1);
    crypto_generichash_final(&st, key->b, sizeof key->b);
}

/*  Sends the oldest import not started yet, if none runs. */
static void start_next(rm_node_ctx_t *self)
{
    rm_node_import_t *next = NULL;
    for (size_t i = 0; i < RM_NODE_MAX_IMPORTS; i++) {
        rm_node_import_t *im = &self->imports[i];
        if (im->id && im->sent && !im->ended)
            return; /* one at a time */
        if (im->id && !im->ended && (!next || im->id < next->id))
            next = im;
    }
    if (!next)
        return;
    char id[24];
    snprintf(id, sizeof id, "%llu", (unsigned long long)next->id);
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, "IMPORT");
    zmsg_addstr(msg, id);
    zmsg_addstr(msg, next->request.blend);
    for (uint32_t i = 0; i < next->request.attach.count; i++)
        zmsg_addstr(msg, next->request.attach.items[i]);
    next->sent = true;
    if (zmsg_send(&msg, self->importer) != 0) {
        zmsg_destroy(&msg);
        next->ended = true;
        replace_str(&next->reply.state, "failed");
        replace_str(&next->reply.error, "cannot reach the importer");
    }
}

static void clear_import(rm_node_import_t *im)
{
    rm_codec_free(rm_msg_desc(RM_MSG_IMPORT), &im->request);
    rm_codec_free(rm_msg_desc(RM_MSG_IMPORT_REPLY), &im->reply);
    memset(im, 0, sizeof *im);
}

/*  A free entry: an unused one, else the least recently asked of those
    ended; NULL when every entry is a running import. */
static rm_node_import_t *free_entry(rm_node_ctx_t *self)
{
    rm_node_import_t *best = NULL;
    for (size_t i = 0; i < RM_NODE_MAX_IMPORTS; i++) {
        rm_node_import_t *im = &self->imports[i];
        if (!im->id)
            return im;
        if (im->ended && (!best || im->touched < best->touched))
            best = im;
    }
    if (best)
        clear_import(best);
    return best;
}

int rm_node_s3_bucket_allowed(const rm_node_ctx_t *self, const char *url, const char *what,
                              rm_err_t *err)
{
    rm_s3_url_t u;
    if (rm_s3_url_parse(url, what, &u, err) != 0)
        return -1;
    if (rm_s3_url_bucket_listed(self->config.s3_buckets, &u))
        return 0;
    return rm_err_set(err, RM_EDENIED,
                      "%s %s: this node reads and writes only the buckets in its s3_buckets (%s)",
                      what, url, self->config.s3_buckets);
}

static int check_request(const rm_node_ctx_t *self, const rm_import_t *m, rm_err_t *err)
{
    if (rm_node_s3_bucket_allowed(self, m->blend, "the .blend", err) != 0)
        return -1;
    for (uint32_t i = 0; i < m->attach.count; i++)
        if (rm_node_s3_bucket_allowed(self, m->attach.items[i], "--attach", err) != 0)
            return -1;
    return 0;
}

void rm_node_s3_import(rm_node_ctx_t *self, zframe_t *peer, const rm_cred_t *who,
                       const rm_msg_t *msg)
{
    const rm_import_t *m = &msg->u.import;
    rm_err_t err = {0};
    if (check_request(self, m, &err) != 0) {
        rm_node_reply_error(self->mesh, peer, msg->req, err.code, err.msg);
        return;
    }
    if (!self->s3_ok) {
        rm_node_reply_error(self->mesh, peer, msg->req, RM_EINVAL, self->s3_why);
        return;
    }
    rm_hash_t key;
    import_key(m, &key);
    int64_t now = zclock_mono();
    rm_node_import_t *im = NULL;
    for (size_t i = 0; i < RM_NODE_MAX_IMPORTS && !im; i++)
        if (self->imports[i].id && memcmp(self->imports[i].key.b, key.b, sizeof key.b) == 0)
            im = &self->imports[i];
    /* An import whose manifest the store no longer has is made again. */
    if (im && im->ended && strcmp(im->reply.state, "done") == 0 &&
        !rm_store_has(self->store, &im->reply.manifest))
        clear_import(im), im = NULL;
    if (!im) {
        if (!(im = free_entry(self))) {
            rm_node_reply_error(self->mesh, peer, msg->req, RM_EAGAIN,
                                "this node is busy importing other projects: ask again later");
            return;
        }
        im->key = key;
        im->id = ++self->import_ids;
        snprintf(im->who, sizeof im->who, "%s", who->name);
        replace_str(&im->reply.state, "running");
        if (rm_codec_copy(rm_msg_desc(RM_MSG_IMPORT), &im->request, m, &err) != 0) {
            clear_import(im);
            rm_node_reply_error(self->mesh, peer, msg->req, err.code, err.msg);
            return;
        }
        rm_log_info("importing %s (%u attachment(s)) from S3 for '%s'", m->blend, m->attach.count,
                    who->name);
        start_next(self);
    }
    im->touched = now;
    rm_node_reply(self->mesh, peer, RM_MSG_IMPORT_REPLY, msg->req, &im->reply);
    /* A failure is said once; the next ask (a new submission, maybe after
       the settings were fixed) starts again. */
    if (im->ended && strcmp(im->reply.state, "failed") == 0)
        clear_import(im);
}

/*  Every top-level entry of the manifest but the .blend, as URLs below
    root: a file's object, a folder's prefix (each once). */
static int refill_request(const rm_job_spec_t *spec, const rm_manifest_t *m, rm_import_t *req,
                          rm_err_t *err)
{
    const char *root = spec->source_root;
    size_t rl = strlen(root);
    char url[RM_MAX_PATH + 2];
    if (snprintf(url, sizeof url, "%s%s", root, spec->blend) >= (int)sizeof url ||
        !(req->blend = strdup(url)))
        return rm_err_set(err, RM_EINVAL, "the .blend's URL is too long");
    for (uint32_t i = 0; i < m->files.count; i++) {
        const char *path = m->files.items[i].path, *slash = strchr(path, '/');
        if (strcmp(path, spec->blend) == 0)
            continue;
        size_t len = slash ? (size_t)(slash - path) + 1 : strlen(path);
        if (rl + len >= sizeof url)
            return rm_err_set(err, RM_EINVAL, "the URL of %s is too long", path);
        snprintf(url, sizeof url, "%s%.*s", root, (int)len, path);
        bool seen = false;
        for (uint32_t k = 0; k < req->attach.count && !seen; k++)
            seen = strcmp(req->attach.items[k], url) == 0;
        if (seen)
            continue;
        if (req->attach.count == RM_MAX_ATTACH)
            return rm_err_set(err, RM_EINVAL,
                              "the project has more than %d top-level files and folders",
                              RM_MAX_ATTACH);
        char **grown = realloc(req->attach.items, (req->attach.count + 1) * sizeof *grown);
        if (!grown || !(grown[req->attach.count] = strdup(url))) {
            if (grown)
                req->attach.items = grown;
            return rm_err_set(err, RM_ENOMEM, "out of memory");
        }
        req->attach.items = grown;
        req->attach.count++;
    }
    return 0;
}

#define REFILL_AGAIN_MS 60000

void rm_node_s3_refill(rm_node_ctx_t *self, rm_job_t *job)
{
    const rm_job_spec_t *spec = rm_job_spec(job);
    /* A node without S3 settings said so at start; the others may read it. */
    if (!self->s3_ok || !spec->source_root || !rm_s3_url_is(spec->source_root))
        return;
    int64_t now = zclock_mono();
    rm_node_import_t *im = NULL;
    for (size_t i = 0; i < RM_NODE_MAX_IMPORTS && !im; i++)
        if (strcmp(self->imports[i].job_id, rm_job_id(job)) == 0)
            im = &self->imports[i];
    if (im && (!im->ended || now - im->touched < REFILL_AGAIN_MS))
        return;
    if (im)
        clear_import(im);
    if (!(im = free_entry(self)))
        return; /* every entry a running import: the next try finds room */
    /* The entry is the job's from here, failed or not: a failure is not
       tried (nor logged) again for a minute. */
    im->id = ++self->import_ids;
    im->touched = now;
    im->expected = spec->manifest;
    snprintf(im->job_id, sizeof im->job_id, "%s", rm_job_id(job));
    snprintf(im->who, sizeof im->who, "%s", self->config.name);
    rm_err_t err = {0};
    rm_manifest_t m;
    char hex[65];
    rm_hash_hex(&spec->manifest, hex);
    /* The manifest says which objects, and it is the mesh's alone. */
    int rc = rm_store_has(self->store, &spec->manifest)
                 ? rm_manifest_load(self->store, &spec->manifest, &m, &err)
                 : rm_err_set(&err, RM_ENOTFOUND,
                              "its manifest %.16s (the list of its files) is on no member; submit "
                              "the project again",
                              hex);
    if (rc == 0) {
        rc = refill_request(spec, &m, &im->request, &err);
        rm_manifest_free(&m);
    }
    if (rc == 0)
        rc = check_request(self, &im->request, &err);
    if (rc != 0) {
        im->ended = true;
        replace_str(&im->reply.state, "failed");
        replace_str(&im->reply.error, err.msg);
        rm_log_warning("job %s: cannot read its project from %s again: %s", rm_job_id(job),
                       spec->source_root, err.msg);
        return;
    }
    const rm_import_t req = im->request;
    replace_str(&im->reply.state, "running");
    rm_log_notice("job %s: no member holds all of its project: reading it from %s again (%u "
                  "attachment(s))",
                  rm_job_id(job), spec->source_root, req.attach.count);
    start_next(self);
}

static void import_event(rm_node_ctx_t *self)
{
    zmsg_t *msg = zmsg_recv(self->importer);
    char *what = msg ? zmsg_popstr(msg) : NULL;
    char *id = msg ? zmsg_popstr(msg) : NULL;
    rm_node_import_t *im = id ? find_import(self, strtoull(id, NULL, 10)) : NULL;
    if (im && what && strcmp(what, "PROGRESS") == 0) {
        char *f = zmsg_popstr(msg), *b = zmsg_popstr(msg), *d = zmsg_popstr(msg);
        im->reply.files = f ? strtoull(f, NULL, 10) : 0;
        im->reply.bytes = b ? strtoull(b, NULL, 10) : 0;
        im->reply.bytes_done = d ? strtoull(d, NULL, 10) : 0;
        zstr_free(&f), zstr_free(&b), zstr_free(&d);
    } else if (im && what && strcmp(what, "DONE") == 0) {
        char *hash = zmsg_popstr(msg), *root = zmsg_popstr(msg), *blend = zmsg_popstr(msg);
        char *f = zmsg_popstr(msg), *b = zmsg_popstr(msg), *r = zmsg_popstr(msg);
        if (!hash || rm_hash_parse(hash, &im->reply.manifest) != 0)
            memset(&im->reply.manifest, 0, sizeof im->reply.manifest);
        replace_str(&im->reply.root, root);
        replace_str(&im->reply.blend, blend);
        im->reply.files = f ? strtoull(f, NULL, 10) : 0;
        im->reply.bytes = im->reply.bytes_done = b ? strtoull(b, NULL, 10) : 0;
        replace_str(&im->reply.state, "done");
        im->ended = true;
        rm_log_info("imported %s: %llu file(s), %llu bytes; %s of them known already (not read "
                    "again)",
                    im->request.blend, (unsigned long long)im->reply.files,
                    (unsigned long long)im->reply.bytes, r ? r : "0");
        if (im->job_id[0] && memcmp(im->expected.b, im->reply.manifest.b, 32) != 0)
            rm_log_warning("job %s: its project in S3 changed since it was submitted (read "
                           "again, it is not the project the job names): it cannot be rendered "
                           "as submitted unless a member still holds it",
                           im->job_id);
        zstr_free(&hash);
        zstr_free(&root), zstr_free(&blend), zstr_free(&f), zstr_free(&b), zstr_free(&r);
    } else if (im && what && strcmp(what, "FAILED") == 0) {
        char *text = zmsg_popstr(msg);
        replace_str(&im->reply.state, "failed");
        replace_str(&im->reply.error, text);
        im->ended = true;
        rm_log_warning("import of %s failed: %s", im->request.blend, text ? text : "?");
        zstr_free(&text);
    }
    zstr_free(&what);
    zstr_free(&id);
    zmsg_destroy(&msg);
    start_next(self);
}

static void on_importer_readable(void *arg, void *sock)
{
    (void)sock;
    import_event(arg);
}

static void on_uploads_readable(void *arg, void *sock)
{
    (void)sock;
    rm_node_ctx_t *self = arg;
    rm_work_upload_event(self->work);
}
