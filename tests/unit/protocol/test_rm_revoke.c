/*  Tests of signed revocations and the signed-record format under them. */
#include "rm_revoke.h"
#include "rm_signed.h"
#include "rm_test.h"

#include <sodium.h>
#include <stdlib.h>

static uint8_t mesh_pk[32], mesh_sk[64], other_pk[32], other_sk[64];

static void test_sign_and_verify(void)
{
    rm_bin_t blob;
    rm_revocation_t rev;
    rm_err_t err;
    CHECK(rm_revocation_sign("bob", 1700000000, mesh_sk, &blob, &err) == 0);
    CHECK_MSG(rm_revocation_verify(blob.data, blob.len, mesh_pk, &rev, &err) == 0, "%s", err.msg);
    CHECK(strcmp(rev.name, "bob") == 0 && rev.revoked_at == 1700000000 && rev.version == 1);
    rm_cred_t before = {.name = "bob", .issued = 1699999999};
    rm_cred_t same_second = {.name = "bob", .issued = 1700000000};
    rm_cred_t after = {.name = "bob", .issued = 1700000001};
    rm_cred_t other = {.name = "bobby", .issued = 1};
    CHECK(rm_revocation_covers(&rev, &before) && rm_revocation_covers(&rev, &same_second));
    CHECK(!rm_revocation_covers(&rev, &after) && !rm_revocation_covers(&rev, &other));
    rm_codec_free(&rm_revocation_desc, &rev);

    /* Another mesh's key; a flipped byte anywhere. */
    CHECK(rm_revocation_verify(blob.data, blob.len, other_pk, &rev, &err) == -1);
    CHECK(err.code == RM_EAUTH && strstr(err.msg, "another mesh"));
    for (size_t i = 0; i < blob.len; i++) {
        blob.data[i] ^= 0x01;
        CHECK(rm_revocation_verify(blob.data, blob.len, mesh_pk, &rev, &err) == -1);
        CHECK(err.code == RM_EAUTH);
        blob.data[i] ^= 0x01;
    }
    CHECK(rm_revocation_verify(blob.data, blob.len - 1, mesh_pk, &rev, &err) == -1);
    free(blob.data);

    /* Signed by another key but claiming this mesh: forged. */
    rm_revocation_t forged = {.version = 1, .name = "n1", .revoked_at = 5};
    memcpy(forged.mesh_pk.b, mesh_pk, 32);
    CHECK(rm_signed_make("rendermesh-revocation-v1", &rm_revocation_desc, &forged, other_sk, &blob,
                         &err) == 0);
    CHECK(rm_revocation_verify(blob.data, blob.len, mesh_pk, &rev, &err) == -1);
    CHECK_MSG(strstr(err.msg, "forged signature") != NULL, "%s", err.msg);
    free(blob.data);
}

/*  A credential's signature does not pass for a revocation's: the domain
    is part of what is signed. */
static void test_domains_do_not_mix(void)
{
    rm_revocation_t rev = {.version = 1, .name = "n1", .revoked_at = 5};
    memcpy(rev.mesh_pk.b, mesh_pk, 32);
    rm_bin_t blob;
    rm_err_t err;
    CHECK(rm_signed_make("rendermesh-credential-v1", &rm_revocation_desc, &rev, mesh_sk, &blob,
                         &err) == 0);
    CHECK(rm_signed_check("rendermesh-credential-v1", blob.data, blob.len, mesh_pk, &err) == 0);
    rm_revocation_t out;
    CHECK(rm_revocation_verify(blob.data, blob.len, mesh_pk, &out, &err) == -1);
    free(blob.data);
}

int main(void)
{
    CHECK(sodium_init() >= 0);
    crypto_sign_keypair(mesh_pk, mesh_sk);
    crypto_sign_keypair(other_pk, other_sk);
    RM_RUN(test_sign_and_verify);
    RM_RUN(test_domains_do_not_mix);
    RM_TEST_DONE();
}
