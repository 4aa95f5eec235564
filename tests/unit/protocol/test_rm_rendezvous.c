/*  S3 rendezvous entries: what a fresh node believes of what it reads in
    the bucket.  Only a node of this mesh, signing its own fresh entry with
    a usable address, passes. */
#include "rm_rendezvous.h"
#include "rm_signed.h"
#include "rm_test.h"

#include <sodium.h>
#include <stdlib.h>
#include <time.h>

static uint8_t mesh_pk[32], mesh_sk[64], other_pk[32], other_sk[64];

static rm_token_t token_for(const uint8_t sk[64], const char *role, const char *name)
{
    rm_token_t t;
    rm_err_t err;
    CHECK_MSG(rm_token_issue(sk, role, name, 3600, &t, &err) == 0, "%s", err.msg);
    return t;
}

static void expect_refused(const rm_bin_t *blob, int64_t now_s, const char *want)
{
    rm_rendezvous_t e;
    rm_cred_t c;
    rm_err_t err = {0};
    CHECK(rm_rendezvous_verify(blob->data, blob->len, mesh_pk, now_s, &e, &c, &err) != 0);
    CHECK(err.code == RM_EAUTH || err.code == RM_EINVAL);
    CHECK_MSG(strstr(err.msg, want) != NULL, "want '%s' in: %s", want, err.msg);
}

static void test_a_node_entry_passes(void)
{
    rm_token_t n1 = token_for(mesh_sk, "node", "n1");
    int64_t now = (int64_t)time(NULL);
    rm_bin_t blob;
    rm_err_t err;
    CHECK(rm_rendezvous_sign(&n1, "tcp://10.0.0.5:7700", now * 1000, &blob, &err) == 0);
    rm_rendezvous_t e;
    rm_cred_t c;
    CHECK_MSG(rm_rendezvous_verify(blob.data, blob.len, mesh_pk, now, &e, &c, &err) == 0, "%s",
              err.msg);
    CHECK(strcmp(c.name, "n1") == 0 && strcmp(e.address, "tcp://10.0.0.5:7700") == 0);
    rm_codec_free(&rm_rendezvous_desc, &e);
    rm_codec_free(&rm_cred_desc, &c);
    /* Stale: a node that stopped refreshing its entry. */
    expect_refused(&blob, now + RM_RENDEZVOUS_FRESH_S + 5, "stopped refreshing");
    /* Any byte changed: not what n1 signed (or not an entry at all). */
    for (size_t i = 0; i < blob.len; i += 7) {
        blob.data[i] ^= 0x20;
        rm_rendezvous_t x;
        rm_cred_t y;
        CHECK(rm_rendezvous_verify(blob.data, blob.len, mesh_pk, now, &x, &y, &err) != 0);
        blob.data[i] ^= 0x20;
    }
    free(blob.data);
    rm_token_free(&n1);
}

static void test_others_are_refused(void)
{
    int64_t now = (int64_t)time(NULL);
    rm_err_t err;
    rm_bin_t blob;
    rm_token_t stranger = token_for(other_sk, "node", "n9");
    CHECK(rm_rendezvous_sign(&stranger, "tcp://10.0.0.9:7700", now * 1000, &blob, &err) == 0);
    expect_refused(&blob, now, "another mesh");
    free(blob.data);
    rm_token_t bob = token_for(mesh_sk, "artist", "bob");
    CHECK(rm_rendezvous_sign(&bob, "tcp://10.0.0.6:7700", now * 1000, &blob, &err) == 0);
    expect_refused(&blob, now, "is no node");
    free(blob.data);
    rm_token_t n2 = token_for(mesh_sk, "node", "n2");
    CHECK(rm_rendezvous_sign(&n2, "http://10.0.0.7", now * 1000, &blob, &err) == 0);
    expect_refused(&blob, now, "entry of 'n2'");
    free(blob.data);
    rm_bin_t junk = {(uint8_t *)"not an entry", 12};
    expect_refused(&junk, now, "malformed");
    rm_token_free(&stranger);
    rm_token_free(&bob);
    rm_token_free(&n2);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    CHECK(sodium_init() >= 0);
    crypto_sign_keypair(mesh_pk, mesh_sk);
    crypto_sign_keypair(other_pk, other_sk);
    RM_RUN(test_a_node_entry_passes);
    RM_RUN(test_others_are_refused);
    RM_TEST_DONE();
}
