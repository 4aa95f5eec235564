#include "rm_logs.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <czmq.h>

#include "rm_manifest.h"
#include "rm_msg.h"
#include "rm_reqid.h"
#include "rm_rights.h"

int rm_logs_frame_path(const char *task_log, uint64_t frame, char *buf, size_t size)
{
    const char *slash = strrchr(task_log, '/');
    int dir = slash ? (int)(slash - task_log) : 1;
    int n = snprintf(buf, size, "%.*s/frame_%04" PRIu64 ".log", dir, slash ? task_log : ".", frame);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

int rm_logs_cut(const char *task_log, uint64_t *from, const char *dest, rm_err_t *err)
{
    FILE *in = fopen(task_log, "rb");
    if (!in)
        return rm_err_set(err, rm_err_from_errno(errno), "cannot read %s: %s", task_log,
                          strerror(errno));
    struct stat st;
    uint64_t end = fstat(fileno(in), &st) == 0 ? (uint64_t)st.st_size : 0;
    uint64_t start = *from <= end ? *from : 0;
    if (end - start > RM_MAX_LOG)
        start = end - RM_MAX_LOG;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", dest);
    FILE *out = fopen(tmp, "wb");
    int rc = 0;
    if (!out || fseeko(in, (off_t)start, SEEK_SET) != 0) {
        rc = rm_err_set(err, rm_err_from_errno(errno), "cannot write %s: %s", tmp, strerror(errno));
    } else {
        char buf[65536];
        uint64_t left = end - start;
        while (left > 0 && rc == 0) {
            size_t n = fread(buf, 1, left < sizeof buf ? (size_t)left : sizeof buf, in);
            if (n == 0 || fwrite(buf, 1, n, out) != n)
                rc = rm_err_set(err, RM_EIO, "cannot copy %s to %s", task_log, tmp);
            left -= n;
        }
    }
    if (out && fclose(out) != 0 && rc == 0)
        rc = rm_err_set(err, rm_err_from_errno(errno), "cannot write %s: %s", tmp, strerror(errno));
    fclose(in);
    if (rc == 0 && rename(tmp, dest) != 0)
        rc =
            rm_err_set(err, rm_err_from_errno(errno), "cannot rename %s: %s", tmp, strerror(errno));
    if (rc != 0) {
        remove(tmp);
        return -1;
    }
    *from = end;
    return 0;
}

int rm_logs_append_file(const char *path, uint8_t **buf, size_t *len, bool *truncated)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    struct stat st;
    size_t size = fstat(fileno(f), &st) == 0 && st.st_size > 0 ? (size_t)st.st_size : 0;
    size_t room = *len < RM_MAX_LOG ? RM_MAX_LOG - *len : 0;
    size_t want = size;
    if (want > room) {
        *truncated = true;
        want = room;
    }
    uint8_t *grown = realloc(*buf, *len + want + 1);
    if (!grown || fseeko(f, (off_t)(size - want), SEEK_SET) != 0) {
        if (grown)
            *buf = grown;
        fclose(f);
        return -1;
    }
    *buf = grown;
    *len += fread(*buf + *len, 1, want, f);
    fclose(f);
    return 0;
}

/*  Task logs are named frames_FIRST.log or frames_FIRST-LAST.log. */
static bool log_covers(const char *name, uint64_t frame)
{
    unsigned long long first = 0, last = 0;
    char tail[8];
    if (sscanf(name, "frames_%llu-%llu%7s", &first, &last, tail) == 3 && strcmp(tail, ".log") == 0)
        return first <= frame && frame <= last;
    if (sscanf(name, "frames_%llu%7s", &first, tail) == 2 && strcmp(tail, ".log") == 0)
        return first == frame;
    return false;
}

bool rm_logs_append_task_logs(const char *job_dir, uint64_t frame, uint8_t **buf, size_t *len,
                              bool *truncated)
{
    char dir[4200];
    bool found = false;
    snprintf(dir, sizeof dir, "%s/logs", job_dir);
    zdir_t *logs = zdir_new(dir, "-");
    zlist_t *files = logs ? zdir_list(logs) : NULL;
    for (zfile_t *f = files ? zlist_first(files) : NULL; f; f = zlist_next(files)) {
        const char *name = strrchr(zfile_filename(f, NULL), '/');
        if (name && log_covers(name + 1, frame) &&
            rm_logs_append_file(zfile_filename(f, NULL), buf, len, truncated) == 0)
            found = true;
    }
    zlist_destroy(&files);
    zdir_destroy(&logs);
    return found;
}

int rm_logs_read_stored(rm_store_t *store, const rm_hash_t *log, uint8_t **buf, size_t *len,
                        bool *truncated, rm_err_t *err)
{
    rm_manifest_t m = {0};
    *buf = NULL;
    *len = 0;
    *truncated = false;
    if (rm_manifest_load(store, log, &m, err) != 0)
        return -1;
    if (m.files.count != 1) {
        rm_manifest_free(&m);
        return rm_err_set(err, RM_EPROTO, "a frame's log manifest lists %u files, not 1",
                          m.files.count);
    }
    /* Only the chunks holding the last RM_MAX_LOG bytes are read. */
    const rm_manifest_file_t *f = &m.files.items[0];
    uint32_t first = f->chunks.count;
    size_t sizes = 0;
    int rc = 0;
    uint8_t **parts = calloc(f->chunks.count ? f->chunks.count : 1, sizeof *parts);
    size_t *lens = calloc(f->chunks.count ? f->chunks.count : 1, sizeof *lens);
    if (!parts || !lens)
        rc = rm_err_set(err, RM_ENOMEM, "out of memory");
    while (rc == 0 && first > 0 && sizes < RM_MAX_LOG) {
        first--;
        if (rm_store_get(store, &f->chunks.items[first], &parts[first], &lens[first], err) != 0)
            rc = -1;
        else
            sizes += lens[first];
    }
    size_t skip = sizes > RM_MAX_LOG ? sizes - RM_MAX_LOG : 0;
    if (rc == 0 && !(*buf = malloc(sizes - skip + 1)))
        rc = rm_err_set(err, RM_ENOMEM, "out of memory");
    for (uint32_t i = first; rc == 0 && i < f->chunks.count; i++) {
        size_t cut = skip < lens[i] ? skip : lens[i];
        memcpy(*buf + *len, parts[i] + cut, lens[i] - cut);
        *len += lens[i] - cut;
        skip -= cut;
    }
    *truncated = rc == 0 && (first > 0 || sizes > RM_MAX_LOG);
    for (uint32_t i = 0; parts && i < f->chunks.count; i++)
        free(parts[i]);
    free(parts);
    free(lens);
    rm_manifest_free(&m);
    if (rc != 0) {
        free(*buf);
        *buf = NULL;
        *len = 0;
    }
    return rc;
}

/* ------------------------------------------------------------------------ */
/*  The server                                                               */

#define MAX_PENDING 1024

/*  A LOGS answered later: a log fetched from the members, or forwarded. */
typedef struct {
    zframe_t *peer;
    uint64_t req;
    rm_hash_t hash;             /* fetched: the log's manifest */
    uint64_t forward_req;       /* forwarded: our request's id; 0 if fetched */
    int64_t deadline;           /* forwarded: when to give up */
    char node[RM_MAX_NAME + 1]; /* forwarded: to whom */
} pending_t;

struct _rm_logs_server_t {
    char name[RM_MAX_NAME + 1];
    zsock_t *mesh;
    rm_store_t *store;
    rm_member_t *member;
    rm_jobsync_t *jobsync;
    rm_xfer_t *xfer;
    pending_t *pending;
    size_t npending;
    rm_reqid_t ids; /* of LOGS forwarded to other nodes */
};

rm_logs_server_t *rm_logs_server_new(const char *node_name, zsock_t *mesh, rm_store_t *store,
                                     rm_member_t *member, rm_jobsync_t *jobsync, rm_xfer_t *xfer,
                                     rm_err_t *err)
{
    rm_logs_server_t *self = calloc(1, sizeof *self);
    if (!self || !(self->pending = calloc(MAX_PENDING, sizeof *self->pending))) {
        free(self);
        rm_err_set(err, RM_ENOMEM, "out of memory");
        return NULL;
    }
    snprintf(self->name, sizeof self->name, "%s", node_name);
    self->mesh = mesh;
    self->store = store;
    self->member = member;
    self->jobsync = jobsync;
    self->xfer = xfer;
    /* Ids of our forwards, apart from rm_jobsync's (1 << 40), rm_work's
       (2 << 40) and rm_xfer's (1 << 62): answers are told apart by id. */
    rm_reqid_init(&self->ids, RM_REQ_LOGS);
    return self;
}

void rm_logs_server_destroy(rm_logs_server_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rm_logs_server_t *self = *self_p;
    for (size_t i = 0; i < self->npending; i++)
        zframe_destroy(&self->pending[i].peer);
    free(self->pending);
    free(self);
    *self_p = NULL;
}

static void send_to_peer(rm_logs_server_t *self, zframe_t *peer, rm_msg_type_t type, uint64_t req,
                         const void *body)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    rm_err_t err;
    if (rm_msg_encode(type, req, body, &buf, &len, &err) != 0 &&
        rm_msg_encode_error(req, err.code, err.msg, &buf, &len, NULL) != 0)
        return;
    zmsg_t *msg = zmsg_new();
    zmsg_append(msg, &(zframe_t *){zframe_dup(peer)});
    zmsg_addmem(msg, buf, len);
    free(buf);
    zmsg_send(&msg, self->mesh); /* a client that went away loses its answer */
    zmsg_destroy(&msg);
}

static void send_error(rm_logs_server_t *self, zframe_t *peer, uint64_t req, rm_code_t code,
                       const char *text)
{
    rm_error_msg_t body = {.code = code, .message = (char *)text};
    send_to_peer(self, peer, RM_MSG_ERROR, req, &body);
}

static void send_text(rm_logs_server_t *self, zframe_t *peer, uint64_t req, uint8_t *text,
                      size_t len, bool truncated)
{
    rm_logs_reply_t reply = {.text = {text, len}, .truncated = truncated};
    send_to_peer(self, peer, RM_MSG_LOGS_REPLY, req, &reply);
}

static pending_t *add_pending(rm_logs_server_t *self, zframe_t *peer, uint64_t req)
{
    if (self->npending == MAX_PENDING)
        return NULL;
    pending_t *p = &self->pending[self->npending++];
    memset(p, 0, sizeof *p);
    p->peer = zframe_dup(peer);
    p->req = req;
    return p;
}

static void drop_pending(rm_logs_server_t *self, size_t i)
{
    zframe_destroy(&self->pending[i].peer);
    self->pending[i] = self->pending[--self->npending];
}

static void on_log_fetched(void *arg, const rm_hash_t *hash, int status, const char *error)
{
    rm_logs_server_t *self = arg;
    for (size_t i = 0; i < self->npending;) {
        pending_t *p = &self->pending[i];
        if (p->forward_req || memcmp(p->hash.b, hash->b, 32) != 0) {
            i++;
            continue;
        }
        uint8_t *text = NULL;
        size_t len = 0;
        bool truncated = false;
        rm_err_t err;
        if (status != 0)
            send_error(self, p->peer, p->req, (rm_code_t)status, error);
        else if (rm_logs_read_stored(self->store, hash, &text, &len, &truncated, &err) != 0)
            send_error(self, p->peer, p->req, err.code, err.msg);
        else
            send_text(self, p->peer, p->req, text, len, truncated);
        free(text);
        drop_pending(self, i);
    }
}

/*  A rendered frame's log, stored like its output: from this node's store,
    or fetched from the members first (it is on two nodes at least). */
static void serve_stored(rm_logs_server_t *self, zframe_t *peer, const rm_cred_t *who, uint64_t req,
                         const rm_frame_rec_t *rec)
{
    uint8_t *text = NULL;
    size_t len = 0;
    bool truncated = false;
    rm_err_t err;
    if (rm_logs_read_stored(self->store, &rec->log, &text, &len, &truncated, &err) == 0) {
        send_text(self, peer, req, text, len, truncated);
        free(text);
        return;
    }
    const char *sources[16];
    size_t n = rm_jobsync_sources(self->jobsync, rec->node, sources, 16);
    pending_t *p = NULL;
    if (err.code == RM_ENOTFOUND && n > 0 && !rm_role_has(who->role, RM_RIGHT_MESH) &&
        (p = add_pending(self, peer, req))) {
        p->hash = rec->log;
        if (rm_xfer_fetch(self->xfer, &p->hash, true, sources, n, on_log_fetched, self, &err) == 0)
            return; /* answered by on_log_fetched, maybe already */
        drop_pending(self, self->npending - 1);
    }
    send_error(self, peer, req, err.code, err.msg);
}

/*  A frame without a stored log (failed, or not rendered yet): its log is
    in the task logs of the node that tried it last, which is asked. */
static void forward(rm_logs_server_t *self, zframe_t *peer, const rm_cred_t *who, uint64_t req,
                    rm_job_t *job, const rm_frame_rec_t *rec)
{
    char text[RM_MAX_NAME + 200];
    const char *node = rec->node && rec->node[0] ? rec->node : NULL;
    for (uint32_t i = 0; !node && i < rec->failed_on.count; i++)
        node = rec->failed_on.items[i];
    if (!node || strcmp(node, self->name) == 0 || rm_role_has(who->role, RM_RIGHT_MESH)) {
        snprintf(text, sizeof text, "no log for frame %llu of job %s on %s (not rendered yet?)",
                 (unsigned long long)rec->frame, rm_job_id(job), self->name);
        send_error(self, peer, req, RM_ENOTFOUND, text);
        return;
    }
    const char *addr = rm_member_addr_of(self->member, node);
    if (!addr) {
        const char *state = rm_member_state_of(self->member, node);
        snprintf(text, sizeof text, "the log of frame %llu is on %s, which is %s",
                 (unsigned long long)rec->frame, node,
                 !state                        ? "gone (no longer a member)"
                 : strcmp(state, "alive") == 0 ? "unreachable from here"
                                               : "gone");
        send_error(self, peer, req, RM_EUNREACH, text);
        return;
    }
    pending_t *p = add_pending(self, peer, req);
    if (!p) {
        send_error(self, peer, req, RM_EAGAIN, "this node is busy: ask again");
        return;
    }
    p->forward_req = rm_reqid_next(&self->ids);
    p->deadline = zclock_mono() + RM_LOGS_FORWARD_MS;
    snprintf(p->node, sizeof p->node, "%s", node);
    uint8_t *buf = NULL;
    size_t len = 0;
    rm_err_t err;
    rm_logs_t ask = {.job_id = (char *)rm_job_id(job), .frame = rec->frame, .has_frame = true};
    if (rm_msg_encode(RM_MSG_LOGS, p->forward_req, &ask, &buf, &len, &err) != 0 ||
        rm_member_send(self->member, addr, buf, len, &err) != 0) {
        send_error(self, peer, req, err.code, err.msg);
        drop_pending(self, self->npending - 1);
    }
    free(buf);
}

void rm_logs_server_request(rm_logs_server_t *self, zframe_t *peer, const rm_cred_t *who,
                            uint64_t req, rm_job_t *job, const rm_logs_t *q)
{
    uint8_t *text = NULL;
    size_t len = 0;
    bool truncated = false;
    if (!q->has_frame) { /* the job's own log, as this node saw it */
        char path[4400];
        snprintf(path, sizeof path, "%s/job.log", rm_job_dir(job));
        rm_logs_append_file(path, &text, &len, &truncated);
        send_text(self, peer, req, text, len, truncated);
        free(text);
        return;
    }
    static const rm_hash_t none;
    const rm_frame_rec_t *rec = rm_job_frame(job, q->frame);
    if (!rec) {
        char msg[200];
        snprintf(msg, sizeof msg, "job %s has no frame %llu", rm_job_id(job),
                 (unsigned long long)q->frame);
        send_error(self, peer, req, RM_ENOTFOUND, msg);
    } else if (rec->state == RM_FRAME_DONE && memcmp(rec->log.b, none.b, 32) != 0) {
        serve_stored(self, peer, who, req, rec);
    } else if (rm_logs_append_task_logs(rm_job_dir(job), q->frame, &text, &len, &truncated)) {
        send_text(self, peer, req, text, len, truncated);
    } else {
        forward(self, peer, who, req, job, rec);
    }
    free(text);
}

bool rm_logs_server_on_message(rm_logs_server_t *self, const rm_msg_t *msg)
{
    if (msg->type != RM_MSG_LOGS_REPLY && msg->type != RM_MSG_ERROR)
        return false;
    for (size_t i = 0; i < self->npending; i++) {
        pending_t *p = &self->pending[i];
        if (!p->forward_req || p->forward_req != msg->req)
            continue;
        send_to_peer(self, p->peer, msg->type, p->req, &msg->u);
        drop_pending(self, i);
        return true;
    }
    return false;
}

void rm_logs_server_tick(rm_logs_server_t *self, int64_t now)
{
    for (size_t i = 0; i < self->npending;) {
        pending_t *p = &self->pending[i];
        if (!p->forward_req || now < p->deadline) {
            i++;
            continue;
        }
        char text[RM_MAX_NAME + 100];
        snprintf(text, sizeof text, "the log is on %s, which did not answer in %d s", p->node,
                 RM_LOGS_FORWARD_MS / 1000);
        send_error(self, p->peer, p->req, RM_ETIMEOUT, text);
        drop_pending(self, i);
    }
}
