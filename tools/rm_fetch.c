/*  rm_fetch: a job's frames into a directory (see rm_fetch.h). */
#include "rm_fetch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rm_cli.h"
#include "rm_manifest.h"
#include "rm_project.h"
#include "rm_store.h"

bool rm_fetch_name_ok(const char *name)
{
    if (!name || !*name || name[0] == '.' || strlen(name) > 255)
        return false;
    for (const char *p = name; *p; p++)
        if (*p == '/' || *p == '\\' || (unsigned char)*p < 0x20)
            return false;
    return true;
}

static int hash_mismatch(const rm_hash_t *want, rm_err_t *err)
{
    char hex[65];
    rm_hash_hex(want, hex);
    return rm_err_set(err, RM_EPROTO, "node sent chunk %.16s with data that does not match it",
                      hex);
}

/*  Checks a CHUNK_DATA reply against the hash asked for. */
static int check_chunk(const rm_msg_t *reply, const rm_hash_t *want, rm_err_t *err)
{
    rm_hash_t got;
    if (reply->type != RM_MSG_CHUNK_DATA)
        return rm_err_set(err, RM_EPROTO, "node answered CHUNK_GET with %s",
                          rm_msg_name(reply->type) ? rm_msg_name(reply->type) : "?");
    rm_hash(reply->u.chunk.data.data, reply->u.chunk.data.len, &got);
    if (memcmp(&got, want, sizeof got) != 0 || memcmp(&reply->u.chunk.hash, want, sizeof got) != 0)
        return hash_mismatch(want, err);
    return 0;
}

static int get_chunk(rm_client_t *client, const rm_hash_t *hash, uint64_t *req, rm_err_t *err)
{
    rm_chunk_ref_t ref = {*hash};
    return rm_client_send(client, RM_MSG_CHUNK_GET, &ref, req, err);
}

/*  --- Phase 1: every done frame's one-file manifest ------------------------ */

typedef struct {
    const rm_frame_info_t *frame; /* in the job reply */
    rm_manifest_t manifest;       /* decoded output manifest */
} out_t;

typedef struct {
    out_t *outs;
    size_t n;
} outs_t;

static int send_manifest_get(void *arg, rm_client_t *client, size_t i, uint64_t *req, rm_err_t *err)
{
    outs_t *o = arg;
    return get_chunk(client, &o->outs[i].frame->output, req, err);
}

static int got_manifest(void *arg, size_t i, rm_msg_t *reply, rm_err_t *err)
{
    out_t *out = &((outs_t *)arg)->outs[i];
    if (check_chunk(reply, &out->frame->output, err) != 0)
        return -1;
    if (rm_manifest_decode(reply->u.chunk.data.data, reply->u.chunk.data.len, &out->manifest,
                           err) != 0)
        return rm_err_prefix(err, "output of frame %llu: ", (unsigned long long)out->frame->frame);
    if (out->manifest.files.count != 1)
        return rm_err_set(err, RM_EPROTO, "output of frame %llu holds %u files, expected 1",
                          (unsigned long long)out->frame->frame, out->manifest.files.count);
    return 0;
}

/*  --- Phase 2: one file's chunks, in order ---------------------------------- */

typedef struct {
    const rm_manifest_file_t *mf;
    int fd;
    const char *path;  /* the temporary file */
    uint8_t **pending; /* chunks that arrived before their turn */
    size_t *pending_len;
    uint32_t next_write; /* index of the next chunk to write */
    uint64_t written;
} file_get_t;

static int send_file_get(void *arg, rm_client_t *client, size_t i, uint64_t *req, rm_err_t *err)
{
    file_get_t *g = arg;
    return get_chunk(client, &g->mf->chunks.items[i], req, err);
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

static int got_file_chunk(void *arg, size_t i, rm_msg_t *reply, rm_err_t *err)
{
    file_get_t *g = arg;
    if (check_chunk(reply, &g->mf->chunks.items[i], err) != 0)
        return -1;
    g->pending[i] = reply->u.chunk.data.data; /* take it over */
    g->pending_len[i] = reply->u.chunk.data.len;
    reply->u.chunk.data.data = NULL;
    reply->u.chunk.data.len = 0;
    while (g->next_write < g->mf->chunks.count && g->pending[g->next_write]) {
        uint32_t k = g->next_write++;
        int rc = write_all(g->fd, g->pending[k], g->pending_len[k], g->path, err);
        g->written += g->pending_len[k];
        free(g->pending[k]);
        g->pending[k] = NULL;
        if (rc != 0)
            return -1;
    }
    return 0;
}

static int download(rm_client_t *client, const rm_manifest_file_t *mf, int fd, const char *tmp,
                    rm_err_t *err)
{
    size_t n = mf->chunks.count;
    file_get_t g = {
        mf, fd, tmp, calloc(n ? n : 1, sizeof(uint8_t *)), calloc(n ? n : 1, sizeof(size_t)), 0, 0};
    int rc = -1;
    if (!g.pending || !g.pending_len)
        rm_err_set(err, RM_ENOMEM, "out of memory");
    else
        rc = rm_client_pipeline(client, n, RM_FETCH_WINDOW, send_file_get, got_file_chunk, &g, err);
    if (rc == 0 && g.written != mf->size)
        rc = rm_err_set(err, RM_EPROTO, "%s: got %llu bytes, the manifest says %llu", mf->path,
                        (unsigned long long)g.written, (unsigned long long)mf->size);
    for (size_t i = 0; g.pending && i < n; i++)
        free(g.pending[i]);
    free(g.pending);
    free(g.pending_len);
    return rc;
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
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != mf->size)
        return false;
    verify_t v = {mf, 0};
    return rm_chunk_file(path, verify_chunk, &v, NULL) == 0 && v.k == mf->chunks.count;
}

static int fetch_file(rm_client_t *client, const char *dir, const out_t *out, rm_fetch_stats_t *st,
                      rm_err_t *err)
{
    const rm_manifest_file_t *mf = &out->manifest.files.items[0];
    char path[2048], tmp[2100];
    snprintf(path, sizeof path, "%s/%s", dir, out->frame->file);
    if (already_there(path, mf)) {
        st->present++;
        return 0;
    }
    snprintf(tmp, sizeof tmp, "%s/.%s.part%ld", dir, out->frame->file, (long)getpid());
    mode_t mode = (mode_t)(mf->mode & 0777) ? (mode_t)(mf->mode & 0777) : 0644;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return rm_err_set(err, rm_err_from_errno(errno), "cannot create %s: %s", tmp,
                          strerror(errno));
    int rc = download(client, mf, fd, tmp, err);
    if (close(fd) != 0 && rc == 0)
        rc = rm_err_set(err, rm_err_from_errno(errno), "cannot write %s: %s", tmp, strerror(errno));
    if (rc == 0 && rename(tmp, path) != 0)
        rc = rm_err_set(err, rm_err_from_errno(errno), "cannot rename %s to %s: %s", tmp, path,
                        strerror(errno));
    if (rc != 0) {
        unlink(tmp);
        return -1;
    }
    st->fetched++;
    st->bytes += mf->size;
    return 0;
}

/*  --- The job ------------------------------------------------------------------ */

static int collect_outputs(const rm_job_reply_t *job, outs_t *o, rm_fetch_stats_t *st,
                           rm_err_t *err)
{
    o->outs = calloc(job->frames.count ? job->frames.count : 1, sizeof *o->outs);
    if (!o->outs)
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < job->frames.count; i++) {
        const rm_frame_info_t *f = &job->frames.items[i];
        if (strcmp(f->state ? f->state : "", "done") != 0 || rm_hash_is_zero(&f->output)) {
            st->not_done++;
            continue;
        }
        if (!rm_fetch_name_ok(f->file))
            return rm_err_set(err, RM_EPROTO, "frame %llu has an unsafe file name '%s'",
                              (unsigned long long)f->frame, f->file ? f->file : "");
        o->outs[o->n++].frame = f;
    }
    st->frames_done = (uint32_t)o->n;
    return 0;
}

static int fetch_all(rm_client_t *client, const rm_job_reply_t *job, const char *dir,
                     rm_fetch_stats_t *st, rm_err_t *err)
{
    outs_t o = {0};
    int rc = collect_outputs(job, &o, st, err);
    if (rc == 0 && o.n > 0)
        rc = rm_cli_mkdirs(dir, 0777, err);
    if (rc == 0)
        rc = rm_client_pipeline(client, o.n, RM_FETCH_WINDOW, send_manifest_get, got_manifest, &o,
                                err);
    for (size_t i = 0; rc == 0 && i < o.n; i++)
        rc = fetch_file(client, dir, &o.outs[i], st, err);
    for (size_t i = 0; o.outs && i < o.n; i++)
        rm_manifest_free(&o.outs[i].manifest);
    free(o.outs);
    return rc;
}

int rm_fetch_job(rm_client_t *client, const char *job_id, const char *dir, rm_fetch_stats_t *st,
                 rm_err_t *err)
{
    rm_job_ref_t ref = {(char *)job_id};
    rm_msg_t reply;
    memset(st, 0, sizeof *st);
    if (rm_client_call(client, RM_MSG_JOB_INFO, &ref, RM_MSG_JOB_REPLY, 0, &reply, err) != 0)
        return -1;
    int rc = fetch_all(client, &reply.u.job_reply, dir, st, err);
    rm_msg_free(&reply);
    return rc;
}
