/*  Tests of job specs signed by their submitter and checked by any node. */
#include "rm_spec_sig.h"
#include "rm_cred.h"
#include "rm_test.h"

#include <sodium.h>
#include <stdlib.h>
#include <time.h>

static uint8_t mesh_pk[32], mesh_sk[64], other_pk[32], other_sk[64];

/*  A spec as a node stores it: signed by `token`, with the node's fields. */
static void make(rm_job_spec_t *spec, const rm_token_t *token, const char *name, const char *role)
{
    memset(spec, 0, sizeof *spec);
    spec->job_id = strdup("0123456789abcdef");
    spec->name = strdup("shot");
    spec->blend = strdup("shot.blend");
    spec->chunk = 1;
    spec->frames.items = calloc(1, sizeof(rm_frame_range_t));
    spec->frames.items[0] = (rm_frame_range_t){1, 10, 1};
    spec->frames.count = 1;
    rm_err_t err;
    CHECK(rm_spec_sign(spec, token->sign_sk.data, &err) == 0);
    spec->submitter = strdup(name);
    spec->submitter_role = strdup(role);
    spec->submitted_at = (int64_t)time(NULL) * 1000;
    spec->client_cred.data = malloc(token->credential.len);
    memcpy(spec->client_cred.data, token->credential.data, token->credential.len);
    spec->client_cred.len = token->credential.len;
}

static void test_signed_spec_verifies_and_tampering_does_not(void)
{
    rm_token_t bob, n1, eve;
    rm_err_t err;
    CHECK(rm_token_issue(mesh_sk, RM_ROLE_ARTIST, "bob", 3600, &bob, &err) == 0);
    CHECK(rm_token_issue(mesh_sk, RM_ROLE_NODE, "n1", 3600, &n1, &err) == 0);
    CHECK(rm_token_issue(other_sk, RM_ROLE_ARTIST, "bob", 3600, &eve, &err) == 0);
    rm_job_spec_t spec;
    make(&spec, &bob, "bob", "artist");
    CHECK_MSG(rm_spec_verify(&spec, mesh_pk, &err) == 0, "%s", err.msg);

    spec.allow_scripts = true; /* turned on by a node on the way */
    CHECK(rm_spec_verify(&spec, mesh_pk, &err) == -1 && err.code == RM_EAUTH);
    CHECK_MSG(strstr(err.msg, "signature does not match"), "%s", err.msg);
    spec.allow_scripts = false;
    spec.submitted_at += 5000; /* what the node sets is not signed */
    CHECK(rm_spec_verify(&spec, mesh_pk, &err) == 0);

    free(spec.submitter);
    spec.submitter = strdup("alice"); /* another submitter */
    CHECK(rm_spec_verify(&spec, mesh_pk, &err) == -1);
    CHECK_MSG(strstr(err.msg, "is not the credential's"), "%s", err.msg);
    rm_codec_free(&rm_job_spec_desc, &spec);

    /* A node's credential may not submit; another mesh's is not ours. */
    make(&spec, &n1, "n1", "node");
    CHECK(rm_spec_verify(&spec, mesh_pk, &err) == -1);
    CHECK_MSG(strstr(err.msg, "may not submit jobs"), "%s", err.msg);
    rm_codec_free(&rm_job_spec_desc, &spec);
    make(&spec, &eve, "bob", "artist");
    CHECK(rm_spec_verify(&spec, mesh_pk, &err) == -1);
    CHECK_MSG(strstr(err.msg, "another mesh"), "%s", err.msg);
    rm_codec_free(&rm_job_spec_desc, &spec);

    /* Unsigned, or without the credential. */
    make(&spec, &bob, "bob", "artist");
    free(spec.client_sig.data);
    spec.client_sig = (rm_bin_t){0};
    CHECK(rm_spec_verify(&spec, mesh_pk, &err) == -1);
    CHECK_MSG(strstr(err.msg, "not signed by its submitter"), "%s", err.msg);
    free(spec.client_cred.data);
    spec.client_cred = (rm_bin_t){0};
    CHECK(rm_spec_verify(&spec, mesh_pk, &err) == -1);
    CHECK_MSG(strstr(err.msg, "carries no submitter credential"), "%s", err.msg);
    rm_codec_free(&rm_job_spec_desc, &spec);
    rm_token_free(&bob);
    rm_token_free(&n1);
    rm_token_free(&eve);
}

/*  A spec survives the wire: encoded and decoded, it still verifies. */
static void test_round_trip(void)
{
    rm_token_t bob;
    rm_err_t err;
    CHECK(rm_token_issue(mesh_sk, RM_ROLE_ARTIST, "bob", 3600, &bob, &err) == 0);
    rm_job_spec_t spec, back;
    make(&spec, &bob, "bob", "artist");
    uint8_t *buf = NULL;
    size_t len = 0, used = 0;
    CHECK(rm_codec_encode(&rm_job_spec_desc, &spec, &buf, &len, &err) == 0);
    memset(&back, 0, sizeof back);
    CHECK(rm_codec_decode(&rm_job_spec_desc, &back, buf, len, &used, &err) == 0);
    CHECK_MSG(rm_spec_verify(&back, mesh_pk, &err) == 0, "%s", err.msg);
    free(buf);
    rm_codec_free(&rm_job_spec_desc, &spec);
    rm_codec_free(&rm_job_spec_desc, &back);
    rm_token_free(&bob);
}

int main(void)
{
    CHECK(sodium_init() >= 0);
    crypto_sign_keypair(mesh_pk, mesh_sk);
    crypto_sign_keypair(other_pk, other_sk);
    RM_RUN(test_signed_spec_verifies_and_tampering_does_not);
    RM_RUN(test_round_trip);
    RM_TEST_DONE();
}
