/*  rm_fetch_file: one output file into DIR (see rm_fetch_file.h). */
#include "rm_fetch_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rm_project.h"
#include "rm_store.h"

bool rm_fetch_name_ok(const char *name)
{
    if (!name || !*name || strlen(name) > RM_MAX_PATH || name[strlen(name) - 1] == '/')
        return false;
    for (const char *c = name; *c;) { /* each component */
        size_t n = strcspn(c, "/");
        if (n == 0 || c[0] == '.')
            return false; /* empty, ".", "..", or hidden like our temporary files */
        for (size_t i = 0; i < n; i++)
            if (c[i] == '\\' || (unsigned char)c[i] < 0x20)
                return false;
        c += n + (c[n] == '/');
    }
    return true;
}

void rm_fetch_sleep_ms(int64_t ms)
{
    if (ms > 0)
        nanosleep(&(struct timespec){ms / 1000, (long)(ms % 1000) * 1000000L}, NULL);
}

int rm_fetch_unsafe_name(const rm_frame_info_t *f, rm_err_t *err)
{
    return rm_err_set(err, RM_EPROTO, "frame %llu has an unsafe file name '%s'",
                      (unsigned long long)f->frame, f->file ? f->file : "");
}

int rm_fetch_check_chunk(const rm_msg_t *reply, const rm_hash_t *want, rm_err_t *err)
{
    rm_hash_t got;
    char hex[65];
    if (reply->type != RM_MSG_CHUNK_DATA)
        return rm_err_set(err, RM_EPROTO, "node answered CHUNK_GET with %s",
                          rm_msg_name(reply->type) ? rm_msg_name(reply->type) : "?");
    rm_hash(reply->u.chunk.data.data, reply->u.chunk.data.len, &got);
    if (memcmp(&got, want, sizeof got) == 0 && memcmp(&reply->u.chunk.hash, want, sizeof got) == 0)
        return 0;
    rm_hash_hex(want, hex);
    return rm_err_set(err, RM_EPROTO, "node sent chunk %.16s with data that does not match it",
                      hex);
}

/*  --- The way to a destination --------------------------------------------------- */

/*  Checks the folders on the way to dir/rel: each that exists must be a
    real folder, not a symlink nor a file. */
static int check_way(const char *dir, const char *rel, rm_err_t *err)
{
    char path[RM_FETCH_PATH_MAX];
    for (const char *slash = strchr(rel, '/'); slash; slash = strchr(slash + 1, '/')) {
        struct stat st;
        snprintf(path, sizeof path, "%s/%.*s", dir, (int)(slash - rel), rel);
        if (lstat(path, &st) != 0)
            return 0; /* it and what is below it will be created */
        if (S_ISLNK(st.st_mode))
            return rm_err_set(err, RM_EINVAL, "%s is a symlink; refusing to write through it",
                              path);
        if (!S_ISDIR(st.st_mode))
            return rm_err_set(err, RM_EINVAL, "%s is in the way: a folder must go there", path);
    }
    return 0;
}

/*  Creates the folders on the way to dir/rel, none of them a symlink. */
static int make_way(const char *dir, const char *rel, rm_err_t *err)
{
    char path[RM_FETCH_PATH_MAX];
    for (const char *slash = strchr(rel, '/'); slash; slash = strchr(slash + 1, '/')) {
        snprintf(path, sizeof path, "%s/%.*s", dir, (int)(slash - rel), rel);
        if (mkdir(path, 0777) != 0 && errno != EEXIST)
            return rm_err_set(err, rm_err_from_errno(errno), "cannot create folder %s: %s", path,
                              strerror(errno));
    }
    return check_way(dir, rel, err); /* again: nothing changed since the plan */
}

/*  --- An existing file whose chunks all verify is kept ------------------------ */

typedef struct {
    const rm_manifest_file_t *mf;
    uint32_t k;
} verify_t;

static int verify_chunk(void *arg, uint64_t offset, const uint8_t *data, size_t len, rm_err_t *err)
{
    verify_t *v = arg;
    rm_hash_t h;
    (void)offset;
    if (v->k >= v->mf->chunks.count)
        return rm_err_set(err, RM_EINVAL, "longer");
    rm_hash(data, len, &h);
    if (memcmp(&h, &v->mf->chunks.items[v->k++], sizeof h) != 0)
        return rm_err_set(err, RM_EINVAL, "differs");
    return 0;
}

static bool already_there(const char *path, const rm_manifest_file_t *mf)
{
    struct stat st;
    if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != mf->size)
        return false;
    verify_t v = {mf, 0};
    return rm_chunk_file(path, verify_chunk, &v, NULL) == 0 && v.k == mf->chunks.count;
}

int rm_fetch_classify(const char *dir, const rm_manifest_file_t *mf, rm_fetch_there_t *there,
                      rm_err_t *err)
{
    char path[RM_FETCH_PATH_MAX];
    struct stat st;
    if (strlen(dir) + strlen(mf->path) + 64 > sizeof path) /* room for the temporary name */
        return rm_err_set(err, RM_EINVAL, "path too long: %s/%s", dir, mf->path);
    if (check_way(dir, mf->path, err) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/%s", dir, mf->path);
    if (lstat(path, &st) != 0)
        *there = RM_FETCH_NEW;
    else if (S_ISLNK(st.st_mode))
        return rm_err_set(err, RM_EINVAL, "%s is a symlink; refusing to write through it", path);
    else if (!S_ISREG(st.st_mode))
        return rm_err_set(err, RM_EINVAL, "%s is in the way: it is not a file", path);
    else
        *there = already_there(path, mf) ? RM_FETCH_PRESENT : RM_FETCH_DIFFERS;
    return 0;
}

bool rm_fetch_same_content(const rm_manifest_file_t *a, const rm_manifest_file_t *b)
{
    return a->size == b->size && a->chunks.count == b->chunks.count &&
           (a->chunks.count == 0 ||
            memcmp(a->chunks.items, b->chunks.items, a->chunks.count * sizeof(rm_hash_t)) == 0);
}

/*  --- One file's chunks, in order ---------------------------------------------- */

int rm_fetch_file_begin(rm_fetch_file_t *f, const char *dir, const rm_manifest_file_t *mf,
                        rm_err_t *err)
{
    size_t n = mf->chunks.count ? mf->chunks.count : 1;
    memset(f, 0, sizeof *f);
    f->mf = mf;
    f->fd = -1;
    if (strlen(dir) + strlen(mf->path) + 64 > sizeof f->path)
        return rm_err_set(err, RM_EINVAL, "path too long: %s/%s", dir, mf->path);
    if (make_way(dir, mf->path, err) != 0)
        return -1;
    snprintf(f->path, sizeof f->path, "%s/%s", dir, mf->path);
    const char *slash = strrchr(mf->path, '/');
    const char *base = slash ? slash + 1 : mf->path;
    snprintf(f->tmp, sizeof f->tmp, "%s/%.*s.%s.part%ld", dir,
             slash ? (int)(slash - mf->path + 1) : 0, mf->path, base, (long)getpid());
    f->pending = calloc(n, sizeof *f->pending);
    f->pending_len = calloc(n, sizeof *f->pending_len);
    f->ask = calloc(n, sizeof *f->ask);
    if (!f->pending || !f->pending_len || !f->ask) {
        rm_fetch_file_abandon(f);
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    }
    return 0;
}

static int write_all(int fd, const uint8_t *p, size_t len, const char *path, rm_err_t *err)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return rm_err_set(err, rm_err_from_errno(errno), "cannot write %s: %s", path,
                              strerror(errno));
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/*  The temporary file is created at the first write, so a file that waits
    for the mesh holds no descriptor. */
static int open_tmp(rm_fetch_file_t *f, rm_err_t *err)
{
    mode_t mode = (mode_t)(f->mf->mode & 0777) ? (mode_t)(f->mf->mode & 0777) : 0644;
    if (f->fd < 0 &&
        (f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode)) < 0)
        return rm_err_set(err, rm_err_from_errno(errno), "cannot create %s: %s", f->tmp,
                          strerror(errno));
    return 0;
}

/*  Writes the chunks whose turn has come. */
static int write_ready(rm_fetch_file_t *f, rm_err_t *err)
{
    while (f->next_write < f->mf->chunks.count && f->pending[f->next_write]) {
        uint32_t k = f->next_write++;
        if (open_tmp(f, err) != 0)
            return -1;
        int rc = write_all(f->fd, f->pending[k], f->pending_len[k], f->tmp, err);
        f->written += f->pending_len[k];
        f->held -= f->pending_len[k];
        free(f->pending[k]);
        f->pending[k] = NULL;
        if (rc != 0)
            return -1;
    }
    return 0;
}

static int send_file_get(void *arg, rm_client_t *client, size_t i, uint64_t *req, rm_err_t *err)
{
    rm_fetch_file_t *f = arg;
    rm_chunk_ref_t ref = {f->mf->chunks.items[f->ask[i]]};
    return rm_client_send(client, RM_MSG_CHUNK_GET, &ref, req, err);
}

static int got_file_chunk(void *arg, size_t i, rm_msg_t *reply, rm_err_t *err)
{
    rm_fetch_file_t *f = arg;
    uint32_t k = f->ask[i];
    if (reply->type == RM_MSG_ERROR) {
        const char *text = reply->u.error.message ? reply->u.error.message : "";
        if (reply->u.error.code == RM_EAGAIN) {
            f->again = true; /* the node is fetching it: asked again next pass */
            return 0;
        }
        if (reply->u.error.code == RM_ENOTFOUND) {
            f->lost = true;
            snprintf(f->lost_why, sizeof f->lost_why, "%s", text);
            return RM_CLIENT_STOP; /* the rest of the file is not worth asking for */
        }
        rm_code_t code = reply->u.error.code && reply->u.error.code <= RM_CODE_LAST
                             ? (rm_code_t)reply->u.error.code
                             : RM_EIO;
        return rm_err_set(err, code, "%s", *text ? text : "the node refused the request");
    }
    if (rm_fetch_check_chunk(reply, &f->mf->chunks.items[k], err) != 0)
        return -1;
    if (k < f->next_write || f->pending[k]) /* defensive: each chunk is asked once a pass */
        return 0;
    f->pending[k] = reply->u.chunk.data.data; /* take it over */
    f->pending_len[k] = reply->u.chunk.data.len;
    f->held += reply->u.chunk.data.len;
    reply->u.chunk.data.data = NULL;
    reply->u.chunk.data.len = 0;
    return write_ready(f, err);
}

int rm_fetch_file_pass(rm_client_t *client, rm_fetch_file_t *f, rm_fetch_pass_t *out, rm_err_t *err)
{
    size_t n = 0;
    for (uint32_t k = f->next_write; k < f->mf->chunks.count; k++)
        if (!f->pending[k])
            f->ask[n++] = k;
    f->again = f->lost = false;
    if (rm_client_pipeline_each(client, n, RM_FETCH_WINDOW, send_file_get, got_file_chunk, f,
                                err) != 0)
        return -1;
    *out = f->lost ? RM_FETCH_LOST : f->again ? RM_FETCH_AGAIN : RM_FETCH_COMPLETE;
    return 0;
}

int rm_fetch_file_commit(rm_fetch_file_t *f, rm_err_t *err)
{
    int rc = open_tmp(f, err); /* an empty file has had no write */
    if (rc == 0 && f->written != f->mf->size)
        rc = rm_err_set(err, RM_EPROTO, "%s: got %llu bytes, the manifest says %llu", f->mf->path,
                        (unsigned long long)f->written, (unsigned long long)f->mf->size);
    if (f->fd >= 0 && close(f->fd) != 0 && rc == 0)
        rc = rm_err_set(err, rm_err_from_errno(errno), "cannot write %s: %s", f->tmp,
                        strerror(errno));
    f->fd = -1;
    if (rc == 0 && rename(f->tmp, f->path) != 0) /* rename replaces, never follows, a link */
        rc = rm_err_set(err, rm_err_from_errno(errno), "cannot rename %s to %s: %s", f->tmp,
                        f->path, strerror(errno));
    if (rc == 0)
        f->tmp[0] = '\0'; /* nothing to remove */
    return rc;
}

void rm_fetch_file_abandon(rm_fetch_file_t *f)
{
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    if (f->tmp[0])
        unlink(f->tmp); /* may not exist: created at the first write */
    f->tmp[0] = '\0';
    for (size_t i = 0; f->pending && f->mf && i < f->mf->chunks.count; i++)
        free(f->pending[i]);
    free(f->pending);
    free(f->pending_len);
    free(f->ask);
    f->pending = NULL;
    f->pending_len = NULL;
    f->ask = NULL;
    f->held = 0;
}

/*  --- Output manifests ----------------------------------------------------------------- */

static int send_manifest_get(void *arg, rm_client_t *client, size_t i, uint64_t *req, rm_err_t *err)
{
    rm_chunk_ref_t ref = {((rm_fetch_mget_t *)arg)[i].output};
    return rm_client_send(client, RM_MSG_CHUNK_GET, &ref, req, err);
}

static int got_manifest(void *arg, size_t i, rm_msg_t *reply, rm_err_t *err)
{
    rm_fetch_mget_t *g = &((rm_fetch_mget_t *)arg)[i];
    unsigned long long frame = (unsigned long long)g->frame;
    if (reply->type == RM_MSG_ERROR) {
        const char *text = reply->u.error.message ? reply->u.error.message : "";
        snprintf(g->why, sizeof g->why, "%s", text);
        if (reply->u.error.code == RM_EAGAIN || reply->u.error.code == RM_ENOTFOUND) {
            g->got = reply->u.error.code == RM_EAGAIN ? RM_FETCH_WAIT : RM_FETCH_GONE;
            return 0;
        }
        rm_code_t code = reply->u.error.code && reply->u.error.code <= RM_CODE_LAST
                             ? (rm_code_t)reply->u.error.code
                             : RM_EIO;
        return rm_err_set(err, code, "output of frame %llu: %s", frame,
                          *text ? text : "the node refused the request");
    }
    if (rm_fetch_check_chunk(reply, &g->output, err) != 0)
        return -1;
    if (rm_manifest_decode(reply->u.chunk.data.data, reply->u.chunk.data.len, &g->manifest, err) !=
        0)
        return rm_err_prefix(err, "output of frame %llu: ", frame);
    g->got = RM_FETCH_GOT;
    const rm_manifest_t *m = &g->manifest;
    bool main_listed = false;
    for (uint32_t k = 0; k < m->files.count; k++) {
        if (!rm_fetch_name_ok(m->files.items[k].path))
            return rm_err_set(err, RM_EPROTO, "output of frame %llu has an unsafe path '%s'", frame,
                              m->files.items[k].path);
        main_listed = main_listed || strcmp(m->files.items[k].path, g->file) == 0;
    }
    if (!main_listed)
        return rm_err_set(err, RM_EPROTO, "output of frame %llu does not hold its file '%s'", frame,
                          g->file);
    return 0;
}

int rm_fetch_get_manifests(rm_client_t *client, rm_fetch_mget_t *g, size_t n, rm_err_t *err)
{
    for (size_t i = 0; i < n; i++)
        g[i].got = RM_FETCH_WAIT;
    if (rm_client_pipeline_each(client, n, RM_FETCH_WINDOW, send_manifest_get, got_manifest, g,
                                err) == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        rm_manifest_free(&g[i].manifest);
    return -1;
}

bool rm_fetch_has_output(const rm_frame_info_t *f)
{
    return strcmp(f->state ? f->state : "", "done") == 0 && !rm_hash_is_zero(&f->output);
}

void rm_fetch_outs_free(rm_fetch_out_t *outs, size_t n)
{
    for (size_t i = 0; outs && i < n; i++) {
        rm_manifest_free(&outs[i].manifest);
        free(outs[i].error);
    }
    free(outs);
}

int rm_fetch_manifests(rm_client_t *client, const rm_job_reply_t *job, rm_fetch_out_t **outs,
                       size_t *n, uint32_t *not_done, rm_err_t *err)
{
    size_t cap = job->frames.count ? job->frames.count : 1;
    rm_fetch_out_t *o = calloc(cap, sizeof *o);
    rm_fetch_mget_t *g = calloc(cap, sizeof *g);
    size_t *at = calloc(cap, sizeof *at); /* g[k] is for o[at[k]] */
    size_t no = 0, ng = 0;
    *outs = NULL;
    *n = 0;
    *not_done = 0;
    int rc = o && g && at ? 0 : rm_err_set(err, RM_ENOMEM, "out of memory");
    for (uint32_t i = 0; rc == 0 && i < job->frames.count; i++) {
        const rm_frame_info_t *f = &job->frames.items[i];
        if (!rm_fetch_has_output(f))
            (*not_done)++;
        else if (!rm_fetch_name_ok(f->file))
            rc = rm_fetch_unsafe_name(f, err);
        else
            o[no++].frame = f;
    }
    for (size_t k = 0; rc == 0 && k < no; k++)
        at[k] = k;
    ng = no;
    /* a manifest the node is fetching from the mesh is asked for once more */
    for (int round = 0; rc == 0 && ng > 0 && round < 2; round++) {
        if (round > 0)
            rm_fetch_sleep_ms(RM_FETCH_AGAIN_MS);
        for (size_t k = 0; k < ng; k++)
            g[k] = (rm_fetch_mget_t){.frame = o[at[k]].frame->frame,
                                     .output = o[at[k]].frame->output,
                                     .file = o[at[k]].frame->file};
        rc = rm_fetch_get_manifests(client, g, ng, err);
        size_t left = 0;
        bool had = rc == 0; /* then every manifest had goes to o, even after a failure */
        for (size_t k = 0; had && k < ng; k++) {
            rm_fetch_out_t *out = &o[at[k]];
            if (g[k].got == RM_FETCH_GOT)
                out->manifest = g[k].manifest;
            else if (g[k].got == RM_FETCH_WAIT && round == 0)
                at[left++] = at[k];
            else if (rc == 0 && !(out->error = strdup(g[k].got == RM_FETCH_GONE
                                                          ? "no node holds it now"
                                                          : "the node is still fetching it "
                                                            "from the mesh; ask again")))
                rc = rm_err_set(err, RM_ENOMEM, "out of memory");
        }
        ng = left;
    }
    free(g);
    free(at);
    if (rc != 0) {
        rm_fetch_outs_free(o, no);
        return -1;
    }
    *outs = o;
    *n = no;
    return 0;
}
