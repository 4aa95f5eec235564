/*  Signed cancels and priorities (rm_job_order): what a node checks before
    it takes one. */
#include "rm_job_order.h"
#include "rm_test.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint8_t mesh_pk[32], mesh_sk[64];

typedef struct {
    rm_token_t token;
    rm_cred_t cred;
} who_t;

static who_t who_new(const char *role, const char *name, int64_t lifetime_s)
{
    who_t w;
    rm_err_t err;
    CHECK_MSG(rm_token_issue(mesh_sk, role, name, lifetime_s, &w.token, &err) == 0, "%s", err.msg);
    CHECK_MSG(rm_cred_verify(w.token.credential.data, w.token.credential.len, mesh_pk, time(NULL),
                             &w.cred, &err) == 0,
              "%s", err.msg);
    return w;
}

static void who_free(who_t *w)
{
    rm_token_free(&w->token);
    rm_codec_free(&rm_cred_desc, &w->cred);
}

/*  Signs, peeks and checks one order; returns check's result. */
static int signed_check(const who_t *signer, const rm_cred_t *as, rm_job_order_kind_t kind,
                        int64_t at, const char *submitter, rm_err_t *err)
{
    rm_bin_t blob;
    rm_job_order_t o;
    CHECK(rm_job_order_sign(kind, "ab12", at, 42, &signer->token, &blob, err) == 0);
    CHECK(rm_job_order_peek(&blob, &o, err) == 0);
    CHECK(o.kind == (uint64_t)kind && strcmp(o.job_id, "ab12") == 0 && o.at == at &&
          o.priority == (kind == RM_JOB_ORDER_PRIORITY ? 42 : 0));
    int rc = rm_job_order_check(&blob, &o, as, submitter, err);
    rm_codec_free(&rm_job_order_desc, &o);
    free(blob.data);
    return rc;
}

static void test_who_may_order(void)
{
    who_t bob = who_new("artist", "bob", 3600), ann = who_new("admin", "ann", 3600),
          n1 = who_new("node", "n1", 3600);
    int64_t now = (int64_t)time(NULL) * 1000;
    rm_err_t err;
    CHECK_MSG(signed_check(&bob, &bob.cred, RM_JOB_ORDER_CANCEL, now, "bob", &err) == 0, "%s",
              err.msg);
    CHECK(signed_check(&bob, &bob.cred, RM_JOB_ORDER_PRIORITY, now, "carol", &err) == -1 &&
          err.code == RM_EDENIED && strstr(err.msg, "priority of job ab12 by artist 'bob'"));
    CHECK(signed_check(&ann, &ann.cred, RM_JOB_ORDER_PRIORITY, now, "carol", &err) == 0);
    CHECK(signed_check(&n1, &n1.cred, RM_JOB_ORDER_CANCEL, now, "n1", &err) == -1 &&
          err.code == RM_EDENIED);
    /* Signed by one key, presented as another's credential: forged. */
    CHECK(signed_check(&bob, &ann.cred, RM_JOB_ORDER_CANCEL, now, "bob", &err) == -1 &&
          err.code == RM_EAUTH && strstr(err.msg, "forged signature"));
    /* At a time the credential was not valid. */
    CHECK(signed_check(&bob, &bob.cred, RM_JOB_ORDER_CANCEL, now + 7200 * 1000, "bob", &err) ==
              -1 &&
          strstr(err.msg, "its credential was not valid"));
    CHECK(signed_check(&bob, &bob.cred, RM_JOB_ORDER_CANCEL, now - 3600 * 1000, "bob", &err) == -1);
    who_free(&bob);
    who_free(&ann);
    who_free(&n1);
}

/*  Any byte changed, a token without a signing key, garbage. */
static void test_tampered(void)
{
    who_t bob = who_new("artist", "bob", 3600);
    int64_t now = (int64_t)time(NULL) * 1000;
    rm_bin_t blob;
    rm_job_order_t o;
    rm_err_t err;
    CHECK(rm_job_order_sign(RM_JOB_ORDER_CANCEL, "ab12", now, 0, &bob.token, &blob, &err) == 0);
    for (size_t i = 0; i < blob.len; i++) {
        blob.data[i] ^= 0x04;
        if (rm_job_order_peek(&blob, &o, &err) == 0) {
            CHECK_MSG(rm_job_order_check(&blob, &o, &bob.cred, "bob", &err) == -1,
                      "byte %zu changed, still taken", i);
            rm_codec_free(&rm_job_order_desc, &o);
        }
        blob.data[i] ^= 0x04;
    }
    free(blob.data);
    uint8_t junk[] = {0x92, 0x01, 0x02};
    rm_bin_t bad = {junk, sizeof junk};
    CHECK(rm_job_order_peek(&bad, &o, &err) == -1 && err.code == RM_EAUTH);
    free(bob.token.sign_sk.data);
    bob.token.sign_sk = (rm_bin_t){0};
    CHECK(rm_job_order_sign(RM_JOB_ORDER_CANCEL, "ab12", now, 0, &bob.token, &blob, &err) == -1 &&
          strstr(err.msg, "predates signed requests"));
    who_free(&bob);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    CHECK(sodium_init() >= 0);
    crypto_sign_keypair(mesh_pk, mesh_sk);
    RM_RUN(test_who_may_order);
    RM_RUN(test_tampered);
    RM_TEST_DONE();
}
