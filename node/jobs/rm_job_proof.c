#include "rm_job_proof.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_job_order.h"
#include "rm_rights.h"
#include "rm_signed.h"

/*  Domains keep a grant's signature from passing for a done record's, or
    for any other record a key signs. */
#define GRANT_DOMAIN "rendermesh-frame-grant-v1"
#define DONE_DOMAIN "rendermesh-frame-done-v1"

typedef struct {
    char *job_id;
    uint64_t frame;
    char *node;
    uint64_t stamp;
    char *by;
    uint64_t gen; /* appended: the frame's generation; not written while 0 */
} grant_body_t;

static const rm_field_t grant_fields[] = {
    RM_FIELD(grant_body_t, job_id, RM_F_STR, RM_MAX_NAME, "job"),
    RM_FIELD(grant_body_t, frame, RM_F_U64, 0, "frame"),
    RM_FIELD(grant_body_t, node, RM_F_STR, RM_MAX_NAME, "assigned to"),
    RM_FIELD(grant_body_t, stamp, RM_F_U64, 0, "RM_STAMP of the assignment"),
    RM_FIELD(grant_body_t, by, RM_F_STR, RM_MAX_NAME, "coordinator"),
    RM_FIELD(grant_body_t, gen, RM_F_U64, 0, "the frame's generation"),
};
/* gen only once non-zero, so grants of frames never reopened sign the
   bytes they always did. */
static const rm_struct_desc_t grant_desc =
    RM_DESC_SPARSE(grant_body_t, "frame_grant", grant_fields, 1, 1, "what a grant signs");

typedef struct {
    grant_body_t grant;
    rm_hash_t output;
    uint64_t size;
    char *file;
    uint64_t render_ms;
    char *warning;
    rm_hash_t log;
} done_body_t;

static const rm_field_t done_fields[] = {
    RM_FIELD_STRUCT(done_body_t, grant, grant_desc, "the grant it rendered under"),
    RM_FIELD(done_body_t, output, RM_F_B32, 0, "manifest of its files"),
    RM_FIELD(done_body_t, size, RM_F_U64, 0, "their bytes"),
    RM_FIELD(done_body_t, file, RM_F_STR, RM_MAX_PATH, "main image"),
    RM_FIELD(done_body_t, render_ms, RM_F_U64, 0, "render time"),
    RM_FIELD(done_body_t, warning, RM_F_STR, RM_MAX_TEXT, "what Blender reported"),
    RM_FIELD(done_body_t, log, RM_F_B32, 0, "manifest of its log"),
};
static const rm_struct_desc_t done_desc =
    RM_DESC(done_body_t, "frame_done", done_fields, "what a done record signs");

/*  Shallow views of the record: only encoded. */
static grant_body_t grant_of(const char *job_id, const rm_frame_rec_t *rec)
{
    return (grant_body_t){.job_id = (char *)job_id,
                          .frame = rec->frame,
                          .node = rec->node,
                          .stamp = rec->epoch,
                          .by = rec->grant_by,
                          .gen = rec->gen};
}

static done_body_t done_of(const char *job_id, const rm_frame_rec_t *rec)
{
    return (done_body_t){.grant = grant_of(job_id, rec),
                         .output = rec->output,
                         .size = rec->size,
                         .file = rec->file,
                         .render_ms = rec->render_ms,
                         .warning = rec->warning,
                         .log = rec->log};
}

static int set_sig(rm_bin_t *field, const uint8_t sig[64], rm_err_t *err)
{
    uint8_t *copy = malloc(64);
    if (!copy)
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    memcpy(copy, sig, 64);
    free(field->data);
    *field = (rm_bin_t){.data = copy, .len = 64};
    return 0;
}

int rm_job_proof_sign_grant(const char *job_id, rm_frame_rec_t *rec, const rm_job_trust_t *trust,
                            rm_err_t *err)
{
    uint8_t sig[64];
    char *by = strdup(trust->name);
    if (!by)
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    free(rec->grant_by);
    rec->grant_by = by;
    grant_body_t body = grant_of(job_id, rec);
    if (rm_signed_sign_detached(GRANT_DOMAIN, &grant_desc, &body, trust->sign_sk, sig, err) != 0)
        return -1;
    return set_sig(&rec->grant_sig, sig, err);
}

int rm_job_proof_sign_done(const char *job_id, rm_frame_rec_t *rec, const rm_job_trust_t *trust,
                           rm_err_t *err)
{
    uint8_t sig[64];
    done_body_t body = done_of(job_id, rec);
    if (rm_signed_sign_detached(DONE_DOMAIN, &done_desc, &body, trust->sign_sk, sig, err) != 0)
        return -1;
    return set_sig(&rec->done_sig, sig, err);
}

typedef enum { KEY_UNCHECKED, KEY_GOOD, KEY_BAD } key_state_t;

typedef struct {
    const rm_bin_t *cred;
    char name[RM_MAX_NAME + 1];
    key_state_t state;
    bool coordinates; /* its role may coordinate (grant frames) */
    uint8_t pk[32];
    char why[RM_ERR_MSG_MAX];
} signer_key_t;

struct _rm_job_keys_t {
    const rm_job_trust_t *trust;
    signer_key_t *keys;
    size_t count, cap;
};

rm_job_keys_t *rm_job_keys_new(const rm_job_trust_t *trust)
{
    rm_job_keys_t *self = calloc(1, sizeof *self);
    if (self)
        self->trust = trust;
    return self;
}

void rm_job_keys_destroy(rm_job_keys_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->keys);
    free(*self_p);
    *self_p = NULL;
}

void rm_job_proof_signer_name(const rm_bin_t *cred, char *name, size_t size)
{
    rm_cred_t c;
    name[0] = '\0';
    if (rm_signed_peek(&rm_cred_desc, cred->data, cred->len, &c, NULL) != 0)
        return;
    snprintf(name, size, "%s", c.name ? c.name : "");
    rm_codec_free(&rm_cred_desc, &c);
}

int rm_job_keys_add(rm_job_keys_t *self, const rm_bin_t *cred, rm_err_t *err)
{
    if (self->count == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 8;
        signer_key_t *grown = realloc(self->keys, cap * sizeof *grown);
        if (!grown)
            return rm_err_set(err, RM_ENOMEM, "out of memory");
        self->keys = grown;
        self->cap = cap;
    }
    signer_key_t *k = &self->keys[self->count++];
    memset(k, 0, sizeof *k);
    k->cred = cred;
    rm_job_proof_signer_name(cred, k->name, sizeof k->name);
    return 0;
}

/*  A signer's credential, checked once: the mesh's, a node's, with a key. */
static void check_key(rm_job_keys_t *self, signer_key_t *k)
{
    rm_cred_t c;
    rm_err_t err = {0};
    k->state = KEY_BAD;
    if (self->trust->check_signer(self->trust->arg, k->cred, &c, &err) != 0) {
        snprintf(k->why, sizeof k->why, "%s", err.msg);
        return;
    }
    if (!rm_role_has(c.role, RM_RIGHT_MESH))
        snprintf(k->why, sizeof k->why, "'%s' is not a node (role %s)", k->name,
                 c.role ? c.role : "?");
    else if (rm_hash_is_zero(&c.sign_pk))
        snprintf(k->why, sizeof k->why, "the credential of '%s' has no signing key", k->name);
    else {
        memcpy(k->pk, c.sign_pk.b, sizeof k->pk);
        k->coordinates = rm_role_has(c.role, RM_RIGHT_COORDINATE);
        k->state = KEY_GOOD;
    }
    rm_codec_free(&rm_cred_desc, &c);
}

/*  0 if one of the checked keys of `name` verifies the signature; a grant
    only by a credential whose role may coordinate (a worker's grants do
    not count). */
static int check_by(rm_job_keys_t *self, const char *name, const char *domain,
                    const rm_struct_desc_t *desc, const void *body, const rm_bin_t *sig,
                    const char *what, rm_err_t *err)
{
    bool grant = strcmp(domain, GRANT_DOMAIN) == 0;
    const char *why = NULL;
    for (size_t i = 0; i < self->count; i++) {
        signer_key_t *k = &self->keys[i];
        if (strcmp(k->name, name) != 0)
            continue;
        if (k->state == KEY_UNCHECKED)
            check_key(self, k);
        if (k->state == KEY_BAD) {
            why = k->why;
            continue;
        }
        if (grant && !k->coordinates) {
            why = "a worker's credential, which may not coordinate";
            continue;
        }
        if (rm_signed_check_detached(domain, desc, body, sig, k->pk, NULL) == 0)
            return 0;
        why = "forged signature";
    }
    return rm_err_set(err, RM_EAUTH, "%s by '%s': %s", what, name,
                      why ? why : "no credential of that node comes with the job");
}

int rm_job_proof_check(rm_job_keys_t *keys, const char *job_id, const rm_frame_rec_t *rec,
                       rm_err_t *err)
{
    if (rec->state != RM_FRAME_ASSIGNED && rec->state != RM_FRAME_DONE)
        return 0;
    const char *by = rec->grant_by ? rec->grant_by : "";
    const char *node = rec->node ? rec->node : "";
    int rc = -1;
    if (!by[0] || !node[0] || rec->grant_sig.len != 64)
        rm_err_set(err, RM_EAUTH, "no coordinator's signature of the assignment");
    else if (rec->state == RM_FRAME_DONE &&
             (rec->done_sig.len != 64 || (rec->error && rec->error[0])))
        rm_err_set(err, RM_EAUTH, "done record not signed by the node that rendered it");
    else {
        grant_body_t grant = grant_of(job_id, rec);
        done_body_t done = done_of(job_id, rec);
        if (check_by(keys, by, GRANT_DOMAIN, &grant_desc, &grant, &rec->grant_sig, "assignment",
                     err) == 0 &&
            (rec->state != RM_FRAME_DONE || check_by(keys, node, DONE_DOMAIN, &done_desc, &done,
                                                     &rec->done_sig, "done record", err) == 0))
            rc = 0;
    }
    if (rc != 0)
        rm_err_prefix(err, "job %s frame %llu (%s, %s): ", job_id, (unsigned long long)rec->frame,
                      rec->state == RM_FRAME_DONE ? "done" : "assigned", node[0] ? node : "?");
    return rc;
}

/*  The order's own fields against the record's: 0 or RM_EAUTH. */
static int order_matches(const rm_job_order_t *o, const rm_job_spec_t *spec, uint64_t kind,
                         int64_t at, int64_t value, rm_err_t *err)
{
    const char *what = rm_job_order_kind_name(kind);
    if (o->kind != kind || strcmp(o->job_id, spec->job_id) != 0)
        return rm_err_set(err, RM_EAUTH, "%s of job %s: the order is a %s of job %s", what,
                          spec->job_id, rm_job_order_kind_name(o->kind), o->job_id);
    if (kind == RM_JOB_ORDER_PRIORITY && (o->at != at || o->priority != value))
        return rm_err_set(
            err, RM_EAUTH,
            "priority of job %s: the order says %lld at %lld, the record %lld at %lld",
            spec->job_id, (long long)o->priority, (long long)o->at, (long long)value,
            (long long)at);
    return 0;
}

int rm_job_proof_check_order(const rm_job_trust_t *trust, const rm_job_spec_t *spec, uint64_t kind,
                             const rm_bin_t *order, int64_t at, int64_t value, int64_t now_ms,
                             rm_err_t *err)
{
    if (!trust || !trust->check_signer)
        return 0;
    const char *what = rm_job_order_kind_name(kind);
    if (order->len == 0)
        return rm_err_set(err, RM_EAUTH, "%s of job %s without the signature of who asked", what,
                          spec->job_id);
    rm_job_order_t o;
    rm_cred_t cred = {0};
    if (rm_job_order_peek(order, &o, err) != 0)
        return rm_err_prefix(err, "%s of job %s: ", what, spec->job_id);
    int rc = order_matches(&o, spec, kind, at, value, err);
    if (rc == 0 && o.at > now_ms + RM_JOB_ORDER_SKEW_MS)
        rc = rm_err_set(
            err, RM_EINVAL, "%s of job %s: signed %lld s ahead of this node's clock (at most %d s)",
            what, spec->job_id, (long long)((o.at - now_ms) / 1000), RM_JOB_ORDER_SKEW_MS / 1000);
    if (rc == 0 && (rc = trust->check_signer(trust->arg, &o.cred, &cred, err)) != 0)
        rm_err_prefix(err, "%s of job %s: ", what, spec->job_id);
    if (rc == 0)
        rc = rm_job_order_check(order, &o, &cred, spec->submitter, err);
    rm_codec_free(&rm_cred_desc, &cred);
    rm_codec_free(&rm_job_order_desc, &o);
    return rc;
}
