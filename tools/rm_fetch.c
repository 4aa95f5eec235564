/*  rm_fetch: a job's rendered files into a folder (see rm_fetch.h). */
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

/*  --- Phase 1: every done frame's output manifest ----------------------------- */

typedef struct {
    rm_fetch_out_t *outs;
    size_t n;
} outs_t;

static int send_manifest_get(void *arg, rm_client_t *client, size_t i, uint64_t *req, rm_err_t *err)
{
    outs_t *o = arg;
    return get_chunk(client, &o->outs[i].frame->output, req, err);
}

static int got_manifest(void *arg, size_t i, rm_msg_t *reply, rm_err_t *err)
{
    rm_fetch_out_t *out = &((outs_t *)arg)->outs[i];
    unsigned long long frame = (unsigned long long)out->frame->frame;
    if (check_chunk(reply, &out->frame->output, err) != 0)
        return -1;
    if (rm_manifest_decode(reply->u.chunk.data.data, reply->u.chunk.data.len, &out->manifest,
                           err) != 0)
        return rm_err_prefix(err, "output of frame %llu: ", frame);
    const rm_manifest_t *m = &out->manifest;
    bool main_listed = false;
    for (uint32_t k = 0; k < m->files.count; k++) {
        if (!rm_fetch_name_ok(m->files.items[k].path))
            return rm_err_set(err, RM_EPROTO, "output of frame %llu has an unsafe path '%s'", frame,
                              m->files.items[k].path);
        main_listed = main_listed || strcmp(m->files.items[k].path, out->frame->file) == 0;
    }
    if (!main_listed)
        return rm_err_set(err, RM_EPROTO, "output of frame %llu does not hold its file '%s'", frame,
                          out->frame->file);
    return 0;
}

void rm_fetch_outs_free(rm_fetch_out_t *outs, size_t n)
{
    for (size_t i = 0; outs && i < n; i++)
        rm_manifest_free(&outs[i].manifest);
    free(outs);
}

int rm_fetch_manifests(rm_client_t *client, const rm_job_reply_t *job, rm_fetch_out_t **outs,
                       size_t *n, uint32_t *not_done, rm_err_t *err)
{
    outs_t o = {calloc(job->frames.count ? job->frames.count : 1, sizeof *o.outs), 0};
    *outs = NULL;
    *n = 0;
    *not_done = 0;
    if (!o.outs)
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < job->frames.count; i++) {
        const rm_frame_info_t *f = &job->frames.items[i];
        if (strcmp(f->state ? f->state : "", "done") != 0 || rm_hash_is_zero(&f->output)) {
            (*not_done)++;
            continue;
        }
        if (!rm_fetch_name_ok(f->file)) {
            rm_fetch_outs_free(o.outs, o.n);
            return rm_err_set(err, RM_EPROTO, "frame %llu has an unsafe file name '%s'",
                              (unsigned long long)f->frame, f->file ? f->file : "");
        }
        o.outs[o.n++].frame = f;
    }
    if (rm_client_pipeline(client, o.n, RM_FETCH_WINDOW, send_manifest_get, got_manifest, &o,
                           err) != 0) {
        rm_fetch_outs_free(o.outs, o.n);
        return -1;
    }
    *outs = o.outs;
    *n = o.n;
    return 0;
}

/*  --- One file's chunks, in order ---------------------------------- */

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
    if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != mf->size)
        return false;
    verify_t v = {mf, 0};
    return rm_chunk_file(path, verify_chunk, &v, NULL) == 0 && v.k == mf->chunks.count;
}

/*  --- The plan: what to write, what is there, what is in the way ----------- */

typedef enum { PLAN_NEW, PLAN_PRESENT, PLAN_DIFFERS, PLAN_SAME_AS_PREVIOUS } plan_state_t;

typedef struct {
    const rm_manifest_file_t *mf;
    const rm_frame_info_t *frame;
    plan_state_t state;
} plan_t;

static int cmp_plan(const void *a, const void *b)
{
    const plan_t *x = a, *y = b;
    int c = strcmp(x->mf->path, y->mf->path);
    if (c != 0)
        return c;
    return x->frame->frame < y->frame->frame ? -1 : x->frame->frame > y->frame->frame;
}

static bool same_content(const rm_manifest_file_t *a, const rm_manifest_file_t *b)
{
    return a->size == b->size && a->chunks.count == b->chunks.count &&
           (a->chunks.count == 0 ||
            memcmp(a->chunks.items, b->chunks.items, a->chunks.count * sizeof(rm_hash_t)) == 0);
}

/*  Checks the folders on the way to dir/rel: each that exists must be a
    real folder, not a symlink nor a file. */
static int check_way(const char *dir, const char *rel, rm_err_t *err)
{
    char path[4096];
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

static int classify(const char *dir, plan_t *p, rm_err_t *err)
{
    char path[4096];
    struct stat st;
    if (strlen(dir) + strlen(p->mf->path) + 64 > sizeof path) /* room for the temporary name */
        return rm_err_set(err, RM_EINVAL, "path too long: %s/%s", dir, p->mf->path);
    if (check_way(dir, p->mf->path, err) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/%s", dir, p->mf->path);
    if (lstat(path, &st) != 0)
        p->state = PLAN_NEW;
    else if (S_ISLNK(st.st_mode))
        return rm_err_set(err, RM_EINVAL, "%s is a symlink; refusing to write through it", path);
    else if (!S_ISREG(st.st_mode))
        return rm_err_set(err, RM_EINVAL, "%s is in the way: it is not a file", path);
    else
        p->state = already_there(path, p->mf) ? PLAN_PRESENT : PLAN_DIFFERS;
    return 0;
}

/*  Names the first conflicts and refuses, before anything is written. */
static int refuse_conflicts(const char *dir, const char *job_id, const plan_t *plan, size_t n,
                            size_t conflicts, rm_err_t *err)
{
    char names[300] = "";
    size_t shown = 0;
    for (size_t i = 0; i < n && shown < 3; i++) {
        if (plan[i].state != PLAN_DIFFERS)
            continue;
        size_t used = strlen(names);
        snprintf(names + used, sizeof names - used, "%s%s", shown++ ? ", " : "", plan[i].mf->path);
    }
    return rm_err_set(err, RM_EINVAL,
                      "%zu file%s in %s differ%s from job %s's (%s%s); nothing was written: "
                      "fetch into another folder, use --job-dir (%s/%s), or --overwrite",
                      conflicts, conflicts == 1 ? "" : "s", dir, conflicts == 1 ? "s" : "", job_id,
                      names, conflicts > shown ? ", ..." : "", dir, job_id);
}

/*  One list of every file of every output, checked against dir.  Two
    frames that wrote the same path (a File Output node without a frame
    number) with different contents cannot both be kept: refused. */
static int make_plan(const rm_fetch_out_t *outs, size_t nouts, const char *dir, const char *job_id,
                     bool overwrite, plan_t **plan_out, size_t *n_out, rm_err_t *err)
{
    size_t n = 0;
    for (size_t i = 0; i < nouts; i++)
        n += outs[i].manifest.files.count;
    plan_t *plan = calloc(n ? n : 1, sizeof *plan);
    if (!plan)
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    size_t k = 0, conflicts = 0;
    for (size_t i = 0; i < nouts; i++)
        for (uint32_t j = 0; j < outs[i].manifest.files.count; j++)
            plan[k++] = (plan_t){&outs[i].manifest.files.items[j], outs[i].frame, PLAN_NEW};
    qsort(plan, n, sizeof *plan, cmp_plan);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (i > 0 && strcmp(plan[i - 1].mf->path, plan[i].mf->path) == 0) {
            if (!same_content(plan[i - 1].mf, plan[i].mf))
                rc = rm_err_set(err, RM_EINVAL, "frames %llu and %llu both wrote %s, differently",
                                (unsigned long long)plan[i - 1].frame->frame,
                                (unsigned long long)plan[i].frame->frame, plan[i].mf->path);
            plan[i].state = PLAN_SAME_AS_PREVIOUS;
            continue;
        }
        rc = classify(dir, &plan[i], err);
        conflicts += rc == 0 && plan[i].state == PLAN_DIFFERS;
    }
    if (rc == 0 && conflicts && !overwrite)
        rc = refuse_conflicts(dir, job_id, plan, n, conflicts, err);
    if (rc != 0) {
        free(plan);
        return -1;
    }
    *plan_out = plan;
    *n_out = n;
    return 0;
}

/*  --- Writing ---------------------------------------------------------------- */

/*  Creates the folders on the way to dir/rel, none of them a symlink. */
static int make_way(const char *dir, const char *rel, rm_err_t *err)
{
    char path[4096];
    for (const char *slash = strchr(rel, '/'); slash; slash = strchr(slash + 1, '/')) {
        snprintf(path, sizeof path, "%s/%.*s", dir, (int)(slash - rel), rel);
        if (mkdir(path, 0777) != 0 && errno != EEXIST)
            return rm_err_set(err, rm_err_from_errno(errno), "cannot create folder %s: %s", path,
                              strerror(errno));
    }
    return check_way(dir, rel, err); /* again: nothing changed since the plan */
}

static int fetch_file(rm_client_t *client, const char *dir, const rm_manifest_file_t *mf,
                      rm_fetch_stats_t *st, rm_err_t *err)
{
    char path[4096], tmp[4200];
    if (make_way(dir, mf->path, err) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/%s", dir, mf->path);
    const char *slash = strrchr(mf->path, '/');
    const char *base = slash ? slash + 1 : mf->path;
    snprintf(tmp, sizeof tmp, "%s/%.*s.%s.part%ld", dir, slash ? (int)(slash - mf->path + 1) : 0,
             mf->path, base, (long)getpid());
    mode_t mode = (mode_t)(mf->mode & 0777) ? (mode_t)(mf->mode & 0777) : 0644;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0)
        return rm_err_set(err, rm_err_from_errno(errno), "cannot create %s: %s", tmp,
                          strerror(errno));
    int rc = download(client, mf, fd, tmp, err);
    if (close(fd) != 0 && rc == 0)
        rc = rm_err_set(err, rm_err_from_errno(errno), "cannot write %s: %s", tmp, strerror(errno));
    if (rc == 0 && rename(tmp, path) != 0) /* rename replaces, never follows, a link */
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

static int fetch_all(rm_client_t *client, const rm_job_reply_t *job, const char *dir,
                     bool overwrite, rm_fetch_stats_t *st, rm_err_t *err)
{
    rm_fetch_out_t *outs = NULL;
    size_t nouts = 0, n = 0;
    plan_t *plan = NULL;
    int rc = rm_fetch_manifests(client, job, &outs, &nouts, &st->not_done, err);
    st->frames_done = (uint32_t)nouts;
    if (rc == 0 && nouts > 0)
        rc = rm_cli_mkdirs(dir, 0777, err);
    if (rc == 0)
        rc = make_plan(outs, nouts, dir, job->summary.job_id, overwrite, &plan, &n, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (plan[i].state == PLAN_SAME_AS_PREVIOUS)
            continue;
        st->files++;
        if (plan[i].state == PLAN_PRESENT) {
            st->present++;
            continue;
        }
        st->replaced += plan[i].state == PLAN_DIFFERS;
        rc = fetch_file(client, dir, plan[i].mf, st, err);
    }
    free(plan);
    rm_fetch_outs_free(outs, nouts);
    return rc;
}

int rm_fetch_job(rm_client_t *client, const char *job_id, const char *dir, bool overwrite,
                 rm_fetch_stats_t *st, rm_err_t *err)
{
    rm_job_ref_t ref = {(char *)job_id};
    rm_msg_t reply;
    memset(st, 0, sizeof *st);
    if (rm_client_call(client, RM_MSG_JOB_INFO, &ref, RM_MSG_JOB_REPLY, 0, &reply, err) != 0)
        return -1;
    const rm_job_reply_t *job = &reply.u.job_reply;
    int rc = fetch_all(client, job, dir, overwrite, st, err);
    snprintf(st->out_url, sizeof st->out_url, "%s", job->spec.out_url ? job->spec.out_url : "");
    for (uint32_t i = 0; i < job->frames.count; i++)
        st->stored += job->frames.items[i].stored && job->frames.items[i].stored[0];
    rm_msg_free(&reply);
    return rc;
}
