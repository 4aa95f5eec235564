/*  rm_job_proof through rm_job: assignments signed by the coordinator,
    done records by the node that rendered them, and merges that refuse
    whatever does not verify (issue 8: a node cannot replace another
    node's output or mark done a frame nobody gave it). */
#define _XOPEN_SOURCE 700
#include "job_fixtures.h"

#include <sodium.h>
#include <unistd.h>

#include "rm_job_order.h"
#include "rm_signed.h"
#include "rm_test.h"

static char root[] = "/tmp/rm-test-job-proof.XXXXXX";
static uint8_t mesh_pk[32], mesh_sk[64];
static char revoked[64]; /* a signer the checker refuses */

typedef struct {
    rm_token_t token;
    rm_cred_t cred;
    rm_job_trust_t trust;
    char dir[700];
} node_t;

static int check_signer(void *arg, const rm_bin_t *blob, rm_cred_t *out, rm_err_t *err)
{
    (void)arg;
    if (rm_cred_verify(blob->data, blob->len, mesh_pk, time(NULL), out, err) != 0)
        return -1;
    if (strcmp(out->name, revoked) != 0)
        return 0;
    rm_codec_free(&rm_cred_desc, out);
    return rm_err_set(err, RM_EAUTH, "the credentials of '%s' were revoked", revoked);
}

static void node_init(node_t *n, const char *name, const char *role)
{
    rm_err_t err;
    memset(n, 0, sizeof *n);
    CHECK_MSG(rm_token_issue(mesh_sk, role, name, 3600, &n->token, &err) == 0, "%s", err.msg);
    CHECK_MSG(rm_cred_verify(n->token.credential.data, n->token.credential.len, mesh_pk, time(NULL),
                             &n->cred, &err) == 0,
              "%s", err.msg);
    n->trust = (rm_job_trust_t){.name = n->cred.name,
                                .cred = n->token.credential,
                                .sign_sk = n->token.sign_sk.data,
                                .check_signer = check_signer};
    snprintf(n->dir, sizeof n->dir, "%s/%s", root, name);
    mkdir(n->dir, 0700);
}

static void node_free(node_t *n)
{
    rm_codec_free(&rm_token_desc, &n->token);
    rm_codec_free(&rm_cred_desc, &n->cred);
}

static rm_job_t *job_on(node_t *n, const char *id)
{
    rm_job_spec_t spec;
    rm_err_t err;
    fx_spec(&spec, id, "1-3", 0xab, 0, 1000);
    rm_job_t *job = rm_job_new(n->dir, &spec, &err);
    CHECK_MSG(job != NULL, "%s", err.msg);
    rm_codec_free(&rm_job_spec_desc, &spec);
    if (!job)
        exit(1);
    rm_job_set_trust(job, &n->trust);
    return job;
}

typedef struct {
    uint8_t *p;
    size_t n;
} bytes_t;

static bytes_t changes_of(rm_job_t *job)
{
    bytes_t d = {0};
    bool job_level;
    rm_err_t err;
    CHECK_MSG(rm_job_take_changes(job, &d.p, &d.n, &job_level, &err) == 0, "%s", err.msg);
    return d;
}

static int merge(rm_job_t *job, bytes_t d, rm_err_t *err)
{
    bool changed = false;
    return rm_job_apply_changes(job, d.p, d.n, &changed, err);
}

static rm_frame_output_t output_of(uint8_t byte)
{
    rm_frame_output_t out = {.size = 10, .file = "frame_0001.png", .render_ms = 5};
    memset(out.output.b, byte, 32);
    return out;
}

/*  Node w renders frame 1 of its copy of `job` under the grant it holds. */
static void render_done(rm_job_t *job, node_t *w, uint8_t byte)
{
    const rm_frame_rec_t *f = rm_job_frame(job, 1);
    rm_job_grant_t grant = {.stamp = f->epoch};
    rm_frame_output_t out = output_of(byte);
    rm_err_t err;
    CHECK(f->grant_sig.len == 64 && f->grant_by);
    snprintf(grant.by, sizeof grant.by, "%s", f->grant_by);
    memcpy(grant.sig, f->grant_sig.data, 64);
    CHECK_MSG(rm_job_frame_done(job, 1, &out, w->cred.name, &grant, &err) == 0, "%s", err.msg);
}

/*  A delta re-encoded after `edit` changed its first frame. */
static bytes_t tampered(bytes_t d, void (*edit)(rm_job_record_delta_t *))
{
    rm_job_record_delta_t delta = {0};
    bytes_t out = {0};
    rm_err_t err;
    CHECK_MSG(rm_job_record_decode_delta(d.p, d.n, &delta, &err) == 0, "%s", err.msg);
    edit(&delta);
    CHECK(rm_job_record_encode_delta(&delta, &out.p, &out.n, &err) == 0);
    rm_job_record_delta_free(&delta);
    return out;
}

static void smaller_output(rm_job_record_delta_t *d)
{
    memset(d->frames.items[0].output.b, 0, 32);
}

static void drop_grant(rm_job_record_delta_t *d)
{
    free(d->frames.items[0].grant_sig.data);
    d->frames.items[0].grant_sig = (rm_bin_t){0};
}

static void drop_signers(rm_job_record_delta_t *d)
{
    for (uint32_t i = 0; i < d->signers.count; i++)
        free(d->signers.items[i].data);
    d->signers.count = 0;
}

/*  Coordinator c assigns, worker w renders, observer o checks both. */
static void test_signed_frames_merge(void)
{
    node_t c, w, o;
    rm_err_t err;
    node_init(&c, "coord", "node");
    node_init(&w, "worker", "node");
    node_init(&o, "observer", "node");
    rm_job_t *jc = job_on(&c, "a1"), *jw = job_on(&w, "a1"), *jo = job_on(&o, "a1");
    free(changes_of(jw).p);
    free(changes_of(jo).p);
    free(changes_of(jc).p);
    uint64_t frame = 1;
    CHECK(rm_job_assign(jc, &frame, 1, "worker", RM_STAMP(3, 1), &err) == 0);
    bytes_t assigned = changes_of(jc);
    CHECK_MSG(merge(jw, assigned, &err) == 0, "assignment refused: %s", err.msg);
    CHECK_MSG(merge(jo, assigned, &err) == 0, "assignment refused: %s", err.msg);
    CHECK(rm_job_frame(jo, 1)->state == RM_FRAME_ASSIGNED);
    render_done(jw, &w, 0x55);
    bytes_t done = changes_of(jw);
    CHECK_MSG(merge(jo, done, &err) == 0, "done refused: %s", err.msg);
    const rm_frame_rec_t *f = rm_job_frame(jo, 1);
    CHECK(f->state == RM_FRAME_DONE && strcmp(f->node, "worker") == 0 && f->output.b[0] == 0x55);
    /* The observer's record now carries both signers: a node that never
       met them checks its whole record. */
    uint8_t *rec = NULL;
    size_t len = 0;
    CHECK(rm_job_export(jo, &rec, &len, &err) == 0);
    node_t late;
    node_init(&late, "late", "node");
    rm_jobs_t *table = rm_jobs_new(late.dir, &err);
    rm_jobs_set_trust(table, &late.trust);
    rm_job_t *adopted = NULL;
    bool changed = false;
    CHECK_MSG(rm_jobs_merge(table, rec, len, &adopted, &changed, &err) == 0, "%s", err.msg);
    CHECK(adopted && rm_job_frame(adopted, 1)->state == RM_FRAME_DONE);
    rm_jobs_destroy(&table);
    free(rec);
    /* A replacement with a smaller output hash, as the attack of issue 8
       crafts it: the worker's signature no longer holds. */
    bytes_t forged = tampered(done, smaller_output);
    uint64_t version = rm_job_version(jo);
    CHECK(merge(jo, forged, &err) == -1 && err.code == RM_EAUTH);
    CHECK_MSG(strstr(err.msg, "forged signature") && strstr(err.msg, "frame 1"), "%s", err.msg);
    CHECK(rm_job_version(jo) == version && rm_job_frame(jo, 1)->output.b[0] == 0x55);
    /* Without the grant, or without the credentials it needs: refused. */
    node_t o2;
    node_init(&o2, "observer2", "node");
    rm_job_t *jo2 = job_on(&o2, "a1");
    bytes_t no_grant = tampered(done, drop_grant);
    CHECK(merge(jo2, no_grant, &err) == -1 && err.code == RM_EAUTH &&
          strstr(err.msg, "no coordinator's signature"));
    bytes_t no_signers = tampered(done, drop_signers);
    CHECK(merge(jo2, no_signers, &err) == -1 && err.code == RM_EAUTH &&
          strstr(err.msg, "no credential of that node"));
    CHECK(rm_job_frame(jo2, 1)->state == RM_FRAME_PENDING);
    /* A revoked signer's frames are refused too. */
    snprintf(revoked, sizeof revoked, "worker");
    CHECK(merge(jo2, done, &err) == -1 && strstr(err.msg, "revoked"));
    revoked[0] = '\0';
    CHECK_MSG(merge(jo2, done, &err) == 0, "%s", err.msg);
    free(no_grant.p);
    free(no_signers.p);
    free(forged.p);
    free(done.p);
    free(assigned.p);
    rm_job_destroy(&jc);
    rm_job_destroy(&jw);
    rm_job_destroy(&jo);
    rm_job_destroy(&jo2);
    node_free(&c);
    node_free(&w);
    node_free(&o);
    node_free(&o2);
    node_free(&late);
}

/*  A worker that never merged the coordinator's record (its deltas were
    lost, it died) still sends a done record a stranger can check: the
    coordinator's credential came with the ASSIGN and goes with the frame. */
static void test_done_carries_the_coordinators_credential(void)
{
    node_t c, w, o;
    rm_err_t err;
    node_init(&c, "coord4", "node");
    node_init(&w, "worker4", "node");
    node_init(&o, "observer4", "node");
    rm_job_t *jc = job_on(&c, "d1"), *jw = job_on(&w, "d1");
    uint64_t frame = 2;
    CHECK(rm_job_assign(jc, &frame, 1, "worker4", RM_STAMP(5, 1), &err) == 0);
    const rm_frame_rec_t *f = rm_job_frame(jc, 2);
    rm_job_grant_t grant = {.stamp = f->epoch};
    snprintf(grant.by, sizeof grant.by, "%s", f->grant_by);
    memcpy(grant.sig, f->grant_sig.data, 64);
    rm_frame_output_t out = output_of(0x66);
    /* Without the credential: the stranger cannot check the grant. */
    CHECK(rm_job_frame_done(jw, 2, &out, "worker4", &grant, &err) == 0);
    bytes_t bare = changes_of(jw);
    rm_job_t *jo = job_on(&o, "d1");
    CHECK(merge(jo, bare, &err) == -1 && strstr(err.msg, "no credential of that node"));
    rm_job_destroy(&jw);
    /* With it: taken. */
    node_t w5;
    node_init(&w5, "worker5", "node");
    frame = 3;
    CHECK(rm_job_assign(jc, &frame, 1, "worker5", RM_STAMP(5, 2), &err) == 0);
    f = rm_job_frame(jc, 3);
    grant = (rm_job_grant_t){.stamp = f->epoch, .cred = c.token.credential};
    snprintf(grant.by, sizeof grant.by, "%s", f->grant_by);
    memcpy(grant.sig, f->grant_sig.data, 64);
    rm_job_t *jw5 = job_on(&w5, "d1");
    CHECK(rm_job_frame_done(jw5, 3, &out, "worker5", &grant, &err) == 0);
    bytes_t carried = changes_of(jw5);
    CHECK_MSG(merge(jo, carried, &err) == 0, "%s", err.msg);
    CHECK(rm_job_frame(jo, 3)->state == RM_FRAME_DONE);
    free(bare.p);
    free(carried.p);
    rm_job_destroy(&jc);
    rm_job_destroy(&jw5);
    rm_job_destroy(&jo);
    node_free(&c);
    node_free(&w);
    node_free(&w5);
    node_free(&o);
}

/*  A node that grants itself a frame in another's name, or an artist's
    credential as coordinator: refused. */
static void test_grants_need_their_signer(void)
{
    node_t thief, artist, o;
    rm_err_t err;
    node_init(&thief, "thief", "node");
    node_init(&artist, "carol", "artist");
    node_init(&o, "observer3", "node");
    rm_job_t *jt = job_on(&thief, "b1"), *ja = job_on(&artist, "b1"), *jo = job_on(&o, "b1");
    free(changes_of(jt).p);
    free(changes_of(ja).p);
    uint64_t frame = 1;
    /* The thief signs with its own key but names the honest coordinator. */
    CHECK(rm_job_assign(jt, &frame, 1, "thief", RM_STAMP(9, 1), &err) == 0);
    bytes_t own = changes_of(jt);
    rm_job_record_delta_t d = {0};
    CHECK(rm_job_record_decode_delta(own.p, own.n, &d, &err) == 0);
    free(d.frames.items[0].grant_by);
    d.frames.items[0].grant_by = strdup("coord");
    bytes_t renamed = {0};
    CHECK(rm_job_record_encode_delta(&d, &renamed.p, &renamed.n, &err) == 0);
    rm_job_record_delta_free(&d);
    CHECK(merge(jo, renamed, &err) == -1 && err.code == RM_EAUTH);
    /* An artist's credential grants nothing. */
    CHECK(rm_job_assign(ja, &frame, 1, "carol", RM_STAMP(9, 2), &err) == 0);
    bytes_t by_artist = changes_of(ja);
    CHECK(merge(jo, by_artist, &err) == -1 && strstr(err.msg, "is not a node"));
    CHECK(rm_job_frame(jo, 1)->state == RM_FRAME_PENDING);
    /* A worker's credential renders but grants nothing. */
    node_t wk, c;
    node_init(&wk, "spot-7", "worker");
    node_init(&c, "coord-b", "node");
    rm_job_t *jwk = job_on(&wk, "b1"), *jc = job_on(&c, "b1");
    CHECK(rm_job_assign(jwk, &frame, 1, "spot-7", RM_STAMP(9, 3), &err) == 0);
    bytes_t by_worker = changes_of(jwk);
    CHECK(merge(jo, by_worker, &err) == -1 && err.code == RM_EAUTH &&
          strstr(err.msg, "a worker's credential, which may not coordinate"));
    CHECK(rm_job_assign(jc, &frame, 1, "spot-7", RM_STAMP(9, 4), &err) == 0);
    bytes_t granted = changes_of(jc);
    CHECK_MSG(merge(jwk, granted, &err) == 0 && merge(jo, granted, &err) == 0, "%s", err.msg);
    render_done(jwk, &wk, 0x77);
    bytes_t rendered = changes_of(jwk);
    CHECK_MSG(merge(jo, rendered, &err) == 0, "a worker's done record refused: %s", err.msg);
    CHECK(rm_job_frame(jo, 1)->state == RM_FRAME_DONE &&
          strcmp(rm_job_frame(jo, 1)->node, "spot-7") == 0);
    free(by_worker.p);
    free(granted.p);
    free(rendered.p);
    rm_job_destroy(&jwk);
    rm_job_destroy(&jc);
    node_free(&wk);
    node_free(&c);
    free(own.p);
    free(renamed.p);
    free(by_artist.p);
    rm_job_destroy(&jt);
    rm_job_destroy(&ja);
    rm_job_destroy(&jo);
    node_free(&thief);
    node_free(&artist);
    node_free(&o);
}

/*  The job's record, exported by `from`, merged into the observer's table:
    0, or -1 with *err. */
static int sync_record(rm_job_t *from, rm_jobs_t *table, rm_err_t *err)
{
    uint8_t *rec = NULL;
    size_t len = 0;
    rm_job_t *held = NULL;
    bool changed = false;
    CHECK(rm_job_export(from, &rec, &len, err) == 0);
    int rc = rm_jobs_merge(table, rec, len, &held, &changed, err);
    free(rec);
    return rc;
}

static rm_bin_t order_by(const rm_token_t *who, rm_job_order_kind_t kind, const char *job_id,
                         int64_t at, int64_t priority)
{
    rm_bin_t order = {0};
    rm_err_t err;
    CHECK_MSG(rm_job_order_sign(kind, job_id, at, priority, who, &order, &err) == 0, "%s", err.msg);
    return order;
}

/*  Cancels and priorities (issue 8, point 1): only with the signed order of
    the job's submitter or an admin, checked where they are made and by
    every node that merges them. */
static void test_orders_need_their_signer(void)
{
    node_t a, o, thief, tester, eve, ann;
    rm_err_t err;
    node_init(&a, "orders-a", "node");
    node_init(&o, "orders-o", "node");
    node_init(&thief, "orders-thief", "node");
    node_init(&tester, "tester", "artist"); /* fx_spec's submitter */
    node_init(&eve, "eve", "artist");
    node_init(&ann, "ann", "admin");
    int64_t now = (int64_t)time(NULL) * 1000;
    rm_jobs_t *seen = rm_jobs_new(o.dir, &err);
    rm_jobs_set_trust(seen, &o.trust);

    /* A node's own cancel (what a removal makes) carries no order: peers
       refuse it, and with it the record that brings it. */
    rm_job_t *bare = job_on(&a, "c0");
    CHECK(rm_job_cancel(bare, NULL, &err) == 0 && rm_job_finished(bare));
    CHECK(sync_record(bare, seen, &err) == -1 && err.code == RM_EAUTH);
    CHECK_MSG(strstr(err.msg, "cancel of job c0 without the signature of who asked"), "%s",
              err.msg);
    CHECK(rm_jobs_find(seen, "c0") == NULL);

    /* Orders signed by a node, another artist, or for another job: refused
       where they are made. */
    rm_job_t *job = job_on(&a, "c1");
    rm_bin_t by_node = order_by(&thief.token, RM_JOB_ORDER_CANCEL, "c1", now, 0);
    rm_bin_t by_eve = order_by(&eve.token, RM_JOB_ORDER_CANCEL, "c1", now, 0);
    rm_bin_t other_job = order_by(&tester.token, RM_JOB_ORDER_CANCEL, "c2", now, 0);
    CHECK(rm_job_cancel(job, &by_node, &err) == -1 && err.code == RM_EDENIED &&
          strstr(err.msg, "node 'orders-thief'"));
    CHECK(rm_job_cancel(job, &by_eve, &err) == -1 && err.code == RM_EDENIED);
    CHECK(rm_job_cancel(job, &other_job, &err) == -1 && err.code == RM_EAUTH &&
          strstr(err.msg, "the order is a cancel of job c2"));
    CHECK(!rm_job_finished(job));

    /* The submitter's priority and cancel: taken, and taken by a peer. */
    rm_bin_t prio = order_by(&tester.token, RM_JOB_ORDER_PRIORITY, "c1", now, 5);
    CHECK(rm_job_set_priority(job, 7, &prio, &err) == -1 && err.code == RM_EAUTH &&
          strstr(err.msg, "the order says 5"));
    CHECK_MSG(rm_job_set_priority(job, 5, &prio, &err) == 0, "%s", err.msg);
    CHECK(rm_job_priority(job) == 5);
    CHECK(rm_job_set_priority(job, 5, &prio, &err) == -1 && err.code == RM_ESTALE);
    CHECK_MSG(sync_record(job, seen, &err) == 0, "%s", err.msg);
    CHECK(rm_job_priority(rm_jobs_find(seen, "c1")) == 5);
    rm_bin_t ahead = order_by(&ann.token, RM_JOB_ORDER_PRIORITY, "c1", now + 3600 * 1000, 9);
    CHECK(rm_job_set_priority(job, 9, &ahead, &err) == -1 && err.code == RM_EINVAL &&
          strstr(err.msg, "ahead of this node's clock"));
    rm_bin_t cancel = order_by(&tester.token, RM_JOB_ORDER_CANCEL, "c1", now, 0);
    CHECK_MSG(rm_job_cancel(job, &cancel, &err) == 0, "%s", err.msg);
    CHECK_MSG(sync_record(job, seen, &err) == 0, "%s", err.msg);
    CHECK(strcmp(rm_job_state(rm_jobs_find(seen, "c1")), "canceled") == 0);

    /* A record whose priority was changed on the way: the order no longer
       says what it says. */
    rm_job_t *job3 = job_on(&a, "c3");
    rm_bin_t prio3 = order_by(&ann.token, RM_JOB_ORDER_PRIORITY, "c3", now, 2);
    CHECK_MSG(rm_job_set_priority(job3, 2, &prio3, &err) == 0, "%s", err.msg);
    uint8_t *buf = NULL, *forged = NULL;
    size_t len = 0, flen = 0;
    rm_job_record_t rec = {0};
    CHECK(rm_job_export(job3, &buf, &len, &err) == 0);
    CHECK(rm_job_record_decode_peer(buf, len, &rec, &err) == 0);
    rec.priority = 1000;
    CHECK_MSG(rm_job_record_encode(&rec, &forged, &flen, &err) == 0, "%s", err.msg);
    rm_job_t *held = NULL;
    bool changed = false;
    CHECK(rm_jobs_merge(seen, forged, flen, &held, &changed, &err) == -1 && err.code == RM_EAUTH &&
          strstr(err.msg, "the order says 2"));
    CHECK_MSG(rm_jobs_merge(seen, buf, len, &held, &changed, &err) == 0, "%s", err.msg);
    CHECK(held && rm_job_priority(held) == 2);
    rm_job_record_free(&rec);
    free(buf);
    free(forged);

    rm_bin_t *orders[] = {&by_node, &by_eve, &other_job, &prio, &ahead, &cancel, &prio3};
    for (size_t i = 0; i < sizeof orders / sizeof orders[0]; i++)
        free(orders[i]->data);
    rm_jobs_destroy(&seen);
    rm_job_destroy(&bare);
    rm_job_destroy(&job);
    rm_job_destroy(&job3);
    node_t *nodes[] = {&a, &o, &thief, &tester, &eve, &ann};
    for (size_t i = 0; i < sizeof nodes / sizeof nodes[0]; i++)
        node_free(nodes[i]);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    CHECK(sodium_init() >= 0 && mkdtemp(root) != NULL);
    crypto_sign_keypair(mesh_pk, mesh_sk);
    RM_RUN(test_signed_frames_merge);
    RM_RUN(test_grants_need_their_signer);
    RM_RUN(test_done_carries_the_coordinators_credential);
    RM_RUN(test_orders_need_their_signer);
    fx_remove_tree(root);
    RM_TEST_DONE();
}
