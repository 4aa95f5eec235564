/*  Signed job removals (meshctl rm): who signed, and who may remove. */
#include "rm_removal.h"
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

static void test_sign_and_verify(void)
{
    rm_token_t bob = token_for(mesh_sk, "artist", "bob");
    rm_bin_t blob;
    rm_removal_t r;
    rm_cred_t by;
    rm_err_t err;
    int64_t now = (int64_t)time(NULL) * 1000;
    CHECK(rm_removal_sign("ab12", now, &bob, &blob, &err) == 0);
    CHECK_MSG(rm_removal_verify(blob.data, blob.len, mesh_pk, &r, &by, &err) == 0, "%s", err.msg);
    CHECK(strcmp(r.job_id, "ab12") == 0 && r.removed_at == now && strcmp(by.name, "bob") == 0);
    /* Only the artist's own jobs; an admin's credential removes any. */
    CHECK(rm_removal_allows(&by, "bob") && !rm_removal_allows(&by, "carol") &&
          !rm_removal_allows(&by, NULL));
    rm_codec_free(&rm_removal_desc, &r);
    rm_codec_free(&rm_cred_desc, &by);
    rm_cred_t admin = {.role = "admin", .name = "ann"}, node = {.role = "node", .name = "n1"};
    rm_cred_t legacy = {.role = "client", .name = "old"};
    CHECK(rm_removal_allows(&admin, "carol") && rm_removal_allows(&legacy, "carol"));
    CHECK(!rm_removal_allows(&node, "n1"));
    /* Another mesh; any byte flipped. */
    CHECK(rm_removal_verify(blob.data, blob.len, other_pk, &r, &by, &err) == -1 &&
          err.code == RM_EAUTH);
    for (size_t i = 0; i < blob.len; i++) {
        blob.data[i] ^= 0x01;
        CHECK(rm_removal_verify(blob.data, blob.len, mesh_pk, &r, &by, &err) == -1);
        blob.data[i] ^= 0x01;
    }
    free(blob.data);
    rm_token_free(&bob);
}

/*  A credential of another mesh, or a token without a signing key. */
static void test_refused(void)
{
    rm_token_t stranger = token_for(other_sk, "admin", "eve");
    rm_bin_t blob;
    rm_removal_t r;
    rm_cred_t by;
    rm_err_t err;
    CHECK(rm_removal_sign("ab12", 1000, &stranger, &blob, &err) == 0);
    CHECK(rm_removal_verify(blob.data, blob.len, mesh_pk, &r, &by, &err) == -1 &&
          err.code == RM_EAUTH && strstr(err.msg, "removal of job ab12"));
    free(blob.data);
    free(stranger.sign_sk.data);
    stranger.sign_sk = (rm_bin_t){0};
    CHECK(rm_removal_sign("ab12", 1000, &stranger, &blob, &err) == -1 &&
          strstr(err.msg, "predates signed requests"));
    rm_token_free(&stranger);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    CHECK(sodium_init() >= 0);
    crypto_sign_keypair(mesh_pk, mesh_sk);
    crypto_sign_keypair(other_pk, other_sk);
    RM_RUN(test_sign_and_verify);
    RM_RUN(test_refused);
    RM_TEST_DONE();
}
