/*  rm_fetch: a job's rendered files into a folder (see rm_fetch.h). */
#include "rm_fetch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_cli.h"
#include "rm_fetch_file.h"
#include "rm_manifest.h"

/* Files parked between passes (waiting for the mesh) hold a descriptor
   once written to and their out-of-order chunks in memory: past these, a
   file waits for the node in place instead. */
#define PARK_MAX_FILES 32
#define PARK_MAX_BYTES (64u << 20)
#define SLOW_NOTE_MS 10000 /* a frame still being fetched by the node: said once */

/*  --- The fetch's state -------------------------------------------------------- */

typedef enum {
    FR_MANIFEST, /* its manifest is to be asked for (at `due`) */
    FR_FILES,    /* manifest in hand: its files are being fetched */
    FR_LOST,     /* no node holds its output: waiting for it to be rendered again */
    FR_DONE,     /* every file of it is in DIR */
    FR_SKIPPED,  /* lost on the mesh, but in S3 */
} fr_state_t;

typedef enum { FILE_WANTED, FILE_BEGUN, FILE_DONE, FILE_SKIP } file_state_t;

typedef struct {
    uint64_t frame;
    rm_hash_t output; /* the output being fetched; zero: none now */
    char *file;       /* its main file */
    char *stored;     /* s3://... when it is in S3 */
    fr_state_t state;
    int64_t due, again_since;
    bool planned, said_lost, said_slow, again;
    rm_manifest_t manifest;
    rm_fetch_file_t *files; /* one per file of the manifest */
    file_state_t *fstate;
    rm_fetch_there_t *there; /* what was in DIR at the plan */
    int64_t *fdue;
    uint32_t left; /* files not yet FILE_DONE or FILE_SKIP */
} wframe_t;

typedef struct {
    rm_client_t *client;
    const char *job_id, *dir;
    bool overwrite;
    rm_fetch_stats_t *st;
    wframe_t *fr;
    size_t n;
    char **ours; /* paths this run wrote: an output replaced since may rewrite them */
    size_t nours, cap_ours;
    bool first_plan_made, dir_made;
    char job_state[32];
    int64_t next_info;
    int64_t park_fds, park_bytes; /* what files parked between passes hold */
} fetch_t;

/*  Counts (sign 1) or uncounts (-1) what a file parked between passes holds. */
static void park(fetch_t *fx, const rm_fetch_file_t *f, int sign)
{
    fx->park_fds += sign * (f->fd >= 0);
    fx->park_bytes += sign * (int64_t)f->held;
}

static void frame_reset(fetch_t *fx, wframe_t *w)
{
    for (uint32_t i = 0; w->files && i < w->manifest.files.count; i++) {
        if (w->fstate[i] != FILE_BEGUN)
            continue;
        park(fx, &w->files[i], -1);
        rm_fetch_file_abandon(&w->files[i]);
    }
    free(w->files);
    free(w->fstate);
    free(w->there);
    free(w->fdue);
    w->files = NULL;
    w->fstate = NULL;
    w->there = NULL;
    w->fdue = NULL;
    rm_manifest_free(&w->manifest);
    memset(&w->manifest, 0, sizeof w->manifest);
    w->planned = false;
    w->left = 0;
}

static void fetch_free(fetch_t *fx)
{
    for (size_t i = 0; fx->fr && i < fx->n; i++) {
        frame_reset(fx, &fx->fr[i]);
        free(fx->fr[i].file);
        free(fx->fr[i].stored);
    }
    free(fx->fr);
    for (size_t i = 0; i < fx->nours; i++)
        free(fx->ours[i]);
    free(fx->ours);
}

/*  Takes the frame's current output and S3 copy from a JOB_INFO. */
static int frame_take(wframe_t *w, const rm_frame_info_t *f, rm_err_t *err)
{
    char *file = strdup(f->file ? f->file : ""), *stored = strdup(f->stored ? f->stored : "");
    if (!file || !stored) {
        free(file);
        free(stored);
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    }
    free(w->file);
    free(w->stored);
    w->file = file;
    w->stored = stored;
    w->output = rm_fetch_has_output(f) ? f->output : (rm_hash_t){0};
    return 0;
}

/*  No node holds the frame's output: said once; a frame in S3 is skipped. */
static void frame_lost(fetch_t *fx, wframe_t *w, const char *why)
{
    frame_reset(fx, w);
    if (w->stored && *w->stored) {
        w->state = FR_SKIPPED;
        fx->st->stored_only++;
        rm_cli_error("frame %llu is in S3 at %s; no node holds a copy (not fetched)",
                     (unsigned long long)w->frame, w->stored);
        return;
    }
    w->state = FR_LOST;
    if (!w->said_lost)
        rm_cli_error("frame %llu: no node holds its output now (%s); waiting for it to be "
                     "rendered again",
                     (unsigned long long)w->frame, why && *why ? why : "lost");
    w->said_lost = true;
}

static int start(fetch_t *fx, const rm_job_reply_t *job, rm_err_t *err)
{
    fx->fr = calloc(job->frames.count ? job->frames.count : 1, sizeof *fx->fr);
    if (!fx->fr)
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < job->frames.count; i++) {
        const rm_frame_info_t *f = &job->frames.items[i];
        if (!rm_fetch_has_output(f)) {
            fx->st->not_done++;
            continue;
        }
        if (!rm_fetch_name_ok(f->file))
            return rm_fetch_unsafe_name(f, err);
        wframe_t *w = &fx->fr[fx->n++];
        w->frame = f->frame;
        w->state = FR_MANIFEST;
        if (frame_take(w, f, err) != 0)
            return -1;
    }
    fx->st->frames_done = (uint32_t)fx->n;
    snprintf(fx->job_state, sizeof fx->job_state, "%s",
             job->summary.state ? job->summary.state : "");
    return 0;
}

/*  --- Asking for manifests ------------------------------------------------------ */

static int ask_manifests(fetch_t *fx, rm_err_t *err)
{
    int64_t now = rm_cli_mono_ms();
    size_t ng = 0;
    for (size_t i = 0; i < fx->n; i++)
        ng += fx->fr[i].state == FR_MANIFEST && fx->fr[i].due <= now;
    if (ng == 0)
        return 0;
    rm_fetch_mget_t *g = calloc(ng, sizeof *g);
    size_t *at = calloc(ng, sizeof *at);
    int rc = g && at ? 0 : rm_err_set(err, RM_ENOMEM, "out of memory");
    for (size_t i = 0, k = 0; rc == 0 && i < fx->n; i++) {
        wframe_t *w = &fx->fr[i];
        if (w->state == FR_MANIFEST && w->due <= now) {
            at[k] = i;
            g[k++] = (rm_fetch_mget_t){.frame = w->frame, .output = w->output, .file = w->file};
        }
    }
    if (rc == 0)
        rc = rm_fetch_get_manifests(fx->client, g, ng, err);
    now = rm_cli_mono_ms();
    for (size_t k = 0; rc == 0 && k < ng; k++) {
        wframe_t *w = &fx->fr[at[k]];
        if (g[k].got == RM_FETCH_GOT) {
            w->manifest = g[k].manifest;
            w->state = FR_FILES;
            w->again_since = 0;
        } else if (g[k].got == RM_FETCH_GONE) {
            frame_lost(fx, w, g[k].why);
        } else {
            w->due = now + RM_FETCH_AGAIN_MS;
            if (!w->again_since)
                w->again_since = now;
        }
    }
    free(g);
    free(at);
    return rc;
}

/*  --- The plan: what to write, what is there, what is in the way ------------------ */

typedef struct {
    const rm_manifest_file_t *mf;
    wframe_t *w;
    uint32_t k; /* the file's index in w's manifest */
} plan_t;

static int cmp_plan(const void *a, const void *b)
{
    const plan_t *x = a, *y = b;
    int c = strcmp(x->mf->path, y->mf->path);
    if (c != 0)
        return c;
    if (x->w->planned != y->w->planned) /* a file planned before owns its path */
        return x->w->planned ? -1 : 1;
    return x->w->frame < y->w->frame ? -1 : x->w->frame > y->w->frame;
}

static bool ours(const fetch_t *fx, const char *path)
{
    for (size_t i = 0; i < fx->nours; i++)
        if (strcmp(fx->ours[i], path) == 0)
            return true;
    return false;
}

static int remember_ours(fetch_t *fx, const char *path, rm_err_t *err)
{
    if (fx->nours == fx->cap_ours) {
        size_t cap = fx->cap_ours ? fx->cap_ours * 2 : 64;
        char **more = realloc(fx->ours, cap * sizeof *more);
        if (!more)
            return rm_err_set(err, RM_ENOMEM, "out of memory");
        fx->ours = more;
        fx->cap_ours = cap;
    }
    if (!(fx->ours[fx->nours] = strdup(path)))
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    fx->nours++;
    return 0;
}

/*  Names the first conflicts and refuses, before anything of them is written. */
static int refuse_conflicts(const fetch_t *fx, const plan_t *plan, const rm_fetch_there_t *there,
                            size_t n, size_t conflicts, rm_err_t *err)
{
    char names[300] = "", what[96] = "";
    size_t shown = 0;
    for (size_t i = 0; i < n && shown < 3; i++) {
        if (there[i] != RM_FETCH_DIFFERS)
            continue;
        size_t used = strlen(names);
        snprintf(names + used, sizeof names - used, "%s%s", shown++ ? ", " : "", plan[i].mf->path);
        if (fx->first_plan_made) /* a frame rendered again since the fetch began */
            snprintf(what, sizeof what, " (frame %llu, rendered again)",
                     (unsigned long long)plan[i].w->frame);
    }
    return rm_err_set(err, RM_EINVAL,
                      "%zu file%s in %s differ%s from job %s's%s (%s%s); nothing %s written: "
                      "fetch into another folder, use --job-dir (%s/%s), or --overwrite",
                      conflicts, conflicts == 1 ? "" : "s", fx->dir, conflicts == 1 ? "s" : "",
                      fx->job_id, what, names, conflicts > shown ? ", ..." : "",
                      fx->first_plan_made ? "of it was" : "was", fx->dir, fx->job_id);
}

static int frame_alloc_files(wframe_t *w, rm_err_t *err)
{
    size_t n = w->manifest.files.count ? w->manifest.files.count : 1;
    w->files = calloc(n, sizeof *w->files);
    w->fstate = calloc(n, sizeof *w->fstate);
    w->there = calloc(n, sizeof *w->there);
    w->fdue = calloc(n, sizeof *w->fdue);
    if (!w->files || !w->fstate || !w->there || !w->fdue)
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    return 0;
}

/*  One list of every file of every manifest in hand, checked against dir
    for the frames not planned yet.  Two frames that wrote the same path (a
    File Output node without a frame number) with different contents cannot
    both be kept: refused; with the same contents, the first keeps it. */
static int check_plan(fetch_t *fx, plan_t *plan, rm_fetch_there_t *there, size_t n, rm_err_t *err)
{
    size_t conflicts = 0;
    qsort(plan, n, sizeof *plan, cmp_plan);
    for (size_t i = 0; i < n; i++) {
        plan_t *p = &plan[i];
        there[i] = RM_FETCH_NEW;
        if (i > 0 && strcmp(plan[i - 1].mf->path, p->mf->path) == 0) {
            if (!rm_fetch_same_content(plan[i - 1].mf, p->mf))
                return rm_err_set(err, RM_EINVAL, "frames %llu and %llu both wrote %s, differently",
                                  (unsigned long long)plan[i - 1].w->frame,
                                  (unsigned long long)p->w->frame, p->mf->path);
            if (!p->w->planned)
                p->w->fstate[p->k] = FILE_SKIP;
            continue;
        }
        if (p->w->planned)
            continue;
        if (rm_fetch_classify(fx->dir, p->mf, &there[i], err) != 0)
            return -1;
        if (there[i] == RM_FETCH_DIFFERS && ours(fx, p->mf->path))
            there[i] = RM_FETCH_NEW; /* written by this run from an output replaced since */
        conflicts += there[i] == RM_FETCH_DIFFERS;
    }
    if (conflicts && !fx->overwrite)
        return refuse_conflicts(fx, plan, there, n, conflicts, err);
    return 0;
}

static int plan_frames(fetch_t *fx, rm_err_t *err)
{
    size_t n = 0, fresh = 0;
    for (size_t i = 0; i < fx->n; i++) {
        wframe_t *w = &fx->fr[i];
        if (w->state == FR_MANIFEST && !fx->first_plan_made)
            return 0; /* the first plan waits for every manifest it can have */
        if (w->state == FR_FILES || w->state == FR_DONE)
            n += w->manifest.files.count;
        fresh += w->state == FR_FILES && !w->planned;
    }
    if (fresh == 0)
        return 0;
    plan_t *plan = calloc(n ? n : 1, sizeof *plan);
    rm_fetch_there_t *there = calloc(n ? n : 1, sizeof *there);
    int rc = plan && there ? 0 : rm_err_set(err, RM_ENOMEM, "out of memory");
    size_t k = 0;
    for (size_t i = 0; rc == 0 && i < fx->n; i++) {
        wframe_t *w = &fx->fr[i];
        if (w->state != FR_FILES && w->state != FR_DONE)
            continue;
        if (!w->planned)
            rc = frame_alloc_files(w, err);
        for (uint32_t j = 0; rc == 0 && j < w->manifest.files.count; j++)
            plan[k++] = (plan_t){&w->manifest.files.items[j], w, j};
    }
    if (rc == 0)
        rc = check_plan(fx, plan, there, n, err);
    if (rc == 0 && !fx->dir_made)
        rc = rm_cli_mkdirs(fx->dir, 0777, err);
    fx->dir_made = fx->dir_made || rc == 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        plan_t *p = &plan[i];
        if (p->w->planned || p->w->fstate[p->k] == FILE_SKIP)
            continue;
        p->w->there[p->k] = there[i];
        if (there[i] == RM_FETCH_PRESENT)
            p->w->fstate[p->k] = FILE_DONE;
    }
    for (size_t i = 0; rc == 0 && i < fx->n; i++) {
        wframe_t *w = &fx->fr[i];
        if (w->state != FR_FILES || w->planned)
            continue;
        w->planned = true;
        for (uint32_t j = 0; j < w->manifest.files.count; j++)
            w->left += w->fstate[j] == FILE_WANTED;
        if (w->left == 0)
            w->state = FR_DONE;
    }
    fx->first_plan_made = fx->first_plan_made || rc == 0;
    free(plan);
    free(there);
    return rc;
}

/*  --- Fetching files -------------------------------------------------------------- */

static int file_done(fetch_t *fx, wframe_t *w, uint32_t j, rm_err_t *err)
{
    rm_fetch_file_t *f = &w->files[j];
    if (rm_fetch_file_commit(f, err) != 0)
        return -1;
    rm_fetch_file_abandon(f); /* frees what it held; the file is in place */
    w->fstate[j] = FILE_DONE;
    fx->st->fetched++;
    fx->st->bytes += f->mf->size;
    fx->st->replaced += w->there[j] == RM_FETCH_DIFFERS;
    if (--w->left == 0)
        w->state = FR_DONE;
    return 0;
}

/*  One pass over file j of w; a file the node is still fetching waits for
    the next round, or here when too many wait already. */
static int fetch_one(fetch_t *fx, wframe_t *w, uint32_t j, rm_err_t *err)
{
    rm_fetch_file_t *f = &w->files[j];
    rm_fetch_pass_t got = RM_FETCH_AGAIN;
    if (w->fstate[j] == FILE_WANTED) {
        if (rm_fetch_file_begin(f, fx->dir, &w->manifest.files.items[j], err) != 0)
            return -1;
        w->fstate[j] = FILE_BEGUN;
    } else {
        park(fx, f, -1); /* in a pass now */
    }
    for (;;) {
        if (rm_fetch_file_pass(fx->client, f, &got, err) != 0)
            return -1;
        if (got != RM_FETCH_AGAIN || (fx->park_fds + (f->fd >= 0) <= PARK_MAX_FILES &&
                                      fx->park_bytes + (int64_t)f->held <= PARK_MAX_BYTES))
            break;
        rm_fetch_sleep_ms(RM_FETCH_AGAIN_MS);
    }
    if (got == RM_FETCH_COMPLETE)
        return file_done(fx, w, j, err);
    if (got == RM_FETCH_LOST) {
        char why[256];
        snprintf(why, sizeof why, "%s", f->lost_why);
        rm_fetch_file_abandon(f);
        w->fstate[j] = FILE_WANTED; /* not parked: frame_lost drops the others */
        frame_lost(fx, w, why);
        return 0;
    }
    park(fx, f, 1);
    w->fdue[j] = rm_cli_mono_ms() + RM_FETCH_AGAIN_MS;
    return 0;
}

static int fetch_files(fetch_t *fx, rm_err_t *err)
{
    for (size_t i = 0; i < fx->n; i++) {
        wframe_t *w = &fx->fr[i];
        for (uint32_t j = 0; w->state == FR_FILES && w->planned && j < w->manifest.files.count;
             j++) {
            bool waiting = w->fstate[j] == FILE_WANTED || w->fstate[j] == FILE_BEGUN;
            if (waiting && w->fdue[j] <= rm_cli_mono_ms() && fetch_one(fx, w, j, err) != 0)
                return -1;
        }
    }
    return 0;
}

/*  --- Following the job -------------------------------------------------------- */

static const rm_frame_info_t *find_frame(const rm_job_reply_t *job, uint64_t frame, size_t *hint)
{
    if (*hint < job->frames.count && job->frames.items[*hint].frame == frame)
        return &job->frames.items[(*hint)++];
    for (size_t i = 0; i < job->frames.count; i++)
        if (job->frames.items[i].frame == frame) {
            *hint = i + 1;
            return &job->frames.items[i];
        }
    return NULL;
}

/*  A frame whose output is no longer the one being fetched: what was had
    of it is dropped (no file of a replaced output is written); a new one
    is fetched. */
static int follow_frame(fetch_t *fx, wframe_t *w, const rm_frame_info_t *f, rm_err_t *err)
{
    rm_hash_t was = w->output;
    if (frame_take(w, f, err) != 0)
        return -1;
    bool same = memcmp(&was, &w->output, sizeof was) == 0;
    if (w->state == FR_LOST && !rm_hash_is_zero(&w->output)) {
        if (!same) { /* rendered again: said once; the same one may be back too */
            rm_cli_error("frame %llu: rendered again; fetching it", (unsigned long long)w->frame);
            w->again = true;
        }
        w->state = FR_MANIFEST;
        w->due = 0;
    } else if ((w->state == FR_MANIFEST || w->state == FR_FILES) && !same) {
        for (uint32_t j = 0; w->planned && j < w->manifest.files.count; j++)
            if (w->fstate[j] == FILE_DONE && w->there[j] != RM_FETCH_PRESENT &&
                remember_ours(fx, w->manifest.files.items[j].path, err) != 0)
                return -1;
        frame_reset(fx, w);
        w->again = w->again || !rm_hash_is_zero(&w->output);
        w->state = FR_MANIFEST;
        w->due = 0;
        if (rm_hash_is_zero(&w->output)) /* being rendered again: its output was lost */
            frame_lost(fx, w, f->error && *f->error ? f->error : "its output was lost");
    }
    return 0;
}

static int refresh(fetch_t *fx, rm_err_t *err)
{
    rm_job_ref_t ref = {(char *)fx->job_id};
    rm_msg_t reply;
    rm_err_t e = {0};
    if (rm_client_call(fx->client, RM_MSG_JOB_INFO, &ref, RM_MSG_JOB_REPLY, 0, &reply, &e) != 0) {
        if (!rm_client_refused(fx->client) || e.code != RM_ENOTFOUND)
            return rm_err_set(err, e.code, "%s", e.msg); /* stopped answering, or refused */
        snprintf(fx->job_state, sizeof fx->job_state, "removed");
        return 0; /* it matters only for lost frames (check_over) */
    }
    const rm_job_reply_t *job = &reply.u.job_reply;
    snprintf(fx->job_state, sizeof fx->job_state, "%s",
             job->summary.state ? job->summary.state : "");
    size_t hint = 0;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < fx->n; i++) {
        wframe_t *w = &fx->fr[i];
        const rm_frame_info_t *f = find_frame(job, w->frame, &hint);
        if (w->state == FR_DONE || w->state == FR_SKIPPED || !f)
            continue;
        if (rm_fetch_has_output(f) && !rm_fetch_name_ok(f->file))
            rc = rm_fetch_unsafe_name(f, err);
        else
            rc = follow_frame(fx, w, f, err);
    }
    rm_msg_free(&reply);
    return rc;
}

/*  A lost frame of a job that will not render it again fails the fetch,
    once what could be had is in DIR. */
static int check_over(const fetch_t *fx, rm_err_t *err)
{
    const char *state = fx->job_state;
    if (strcmp(state, "canceled") != 0 && strcmp(state, "failed") != 0 &&
        strcmp(state, "removed") != 0)
        return 0;
    for (size_t i = 0; i < fx->n; i++)
        if (fx->fr[i].state == FR_MANIFEST || fx->fr[i].state == FR_FILES)
            return 0;
    for (size_t i = 0; i < fx->n; i++)
        if (fx->fr[i].state == FR_LOST)
            return rm_err_set(err, RM_ECANCELED,
                              "frame %llu of job %s: no node holds its output any more, and the "
                              "job was %s, so it will not be rendered again",
                              (unsigned long long)fx->fr[i].frame, fx->job_id, state);
    return 0;
}

/*  Says once of a frame the node has been fetching from the mesh a while. */
static void note_slow(fetch_t *fx, int64_t now)
{
    for (size_t i = 0; i < fx->n; i++) {
        wframe_t *w = &fx->fr[i];
        if (w->state != FR_MANIFEST || !w->again_since || w->said_slow ||
            now - w->again_since < SLOW_NOTE_MS)
            continue;
        w->said_slow = true;
        rm_cli_error("frame %llu: node %s is still fetching its output from the mesh; waiting",
                     (unsigned long long)w->frame, rm_client_node(fx->client));
    }
}

/*  When something is next due, or 0 when every frame is done or skipped. */
static int64_t next_due(const fetch_t *fx)
{
    int64_t due = INT64_MAX;
    bool left = false;
    for (size_t i = 0; i < fx->n; i++) {
        const wframe_t *w = &fx->fr[i];
        left = left || (w->state != FR_DONE && w->state != FR_SKIPPED);
        if (w->state == FR_MANIFEST && w->due < due)
            due = w->due;
        for (uint32_t j = 0; w->state == FR_FILES && w->planned && j < w->manifest.files.count; j++)
            if ((w->fstate[j] == FILE_WANTED || w->fstate[j] == FILE_BEGUN) && w->fdue[j] < due)
                due = w->fdue[j];
    }
    return left ? (due < fx->next_info ? due : fx->next_info) : 0;
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
    if (job->redacted) {
        rm_err_set(err, RM_EDENIED,
                   "job %s is %.64s's: on this mesh artists fetch only their own jobs' frames "
                   "(artists_private in meshd.conf)",
                   job_id, job->summary.submitter ? job->summary.submitter : "");
        rm_msg_free(&reply);
        return -1;
    }
    snprintf(st->out_url, sizeof st->out_url, "%s", job->spec.out_url ? job->spec.out_url : "");
    for (uint32_t i = 0; i < job->frames.count; i++)
        st->stored += job->frames.items[i].stored && job->frames.items[i].stored[0];
    fetch_t fx = {.client = client, .job_id = job_id, .dir = dir, .overwrite = overwrite, .st = st};
    fx.next_info = rm_cli_mono_ms() + RM_FETCH_POLL_MS;
    int rc = start(&fx, job, err);
    rm_msg_free(&reply);
    /* rounds: what is due is asked for; between them, a sleep, and every
       RM_FETCH_POLL_MS the job again (lost frames, replaced outputs) */
    while (rc == 0) {
        rc = ask_manifests(&fx, err);
        if (rc == 0)
            rc = plan_frames(&fx, err);
        if (rc == 0)
            rc = fetch_files(&fx, err);
        if (rc == 0)
            rc = check_over(&fx, err);
        int64_t due = rc == 0 ? next_due(&fx) : 0;
        if (due == 0)
            break;
        int64_t now = rm_cli_mono_ms();
        note_slow(&fx, now);
        rm_fetch_sleep_ms(due - now > 50 ? due - now : 50); /* never a busy loop */
        if (rm_cli_mono_ms() >= fx.next_info) {
            rc = refresh(&fx, err);
            fx.next_info = rm_cli_mono_ms() + RM_FETCH_POLL_MS;
        }
    }
    for (size_t i = 0; i < fx.n; i++) { /* what the frames' final outputs are */
        const wframe_t *w = &fx.fr[i];
        st->again += w->state == FR_DONE && w->again;
        for (uint32_t j = 0; w->state == FR_DONE && j < w->manifest.files.count; j++) {
            st->files += w->fstate[j] == FILE_DONE;
            st->present += w->fstate[j] == FILE_DONE && w->there[j] == RM_FETCH_PRESENT;
        }
    }
    fetch_free(&fx);
    return rc;
}
