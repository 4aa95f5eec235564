/*  Tests of credentials and tokens: roles, lifetimes, the signing key a
    token carries for its credential, and tokens from before it. */
#include "rm_cred.h"
#include "rm_signed.h"
#include "rm_test.h"

#include <sodium.h>
#include <stdlib.h>
#include <time.h>

static uint8_t mesh_pk[32], mesh_sk[64];

static void test_issue_format_parse(void)
{
    rm_token_t token, back;
    rm_err_t err;
    CHECK(rm_token_issue(mesh_sk, RM_ROLE_ARTIST, "bob", 90 * 60, &token, &err) == 0);
    char *text = NULL;
    CHECK(rm_token_format(&token, &text, &err) == 0);
    CHECK_MSG(rm_token_parse(text, strlen(text), &back, &err) == 0, "%s", err.msg);
    CHECK(back.sign_sk.len == 64 && memcmp(back.sign_sk.data, token.sign_sk.data, 64) == 0);
    rm_cred_t cred;
    int64_t now = (int64_t)time(NULL);
    CHECK(rm_cred_verify(back.credential.data, back.credential.len, mesh_pk, now, &cred, &err) ==
          0);
    uint8_t pk[32];
    crypto_sign_ed25519_sk_to_pk(pk, back.sign_sk.data);
    CHECK(memcmp(pk, cred.sign_pk.b, 32) == 0);
    CHECK(strcmp(cred.role, "artist") == 0 && cred.expires - cred.issued == 90 * 60);
    rm_codec_free(&rm_cred_desc, &cred);
    /* 90 minutes later it is refused. */
    CHECK(rm_cred_verify(back.credential.data, back.credential.len, mesh_pk, now + 90 * 60 + 1,
                         &cred, &err) == -1);
    CHECK_MSG(strstr(err.msg, "expired") != NULL, "%s", err.msg);
    free(text);

    /* A signing key that is not the credential's: the token is damaged. */
    back.sign_sk.data[0] ^= 1;
    CHECK(rm_token_format(&back, &text, &err) == 0);
    rm_token_t bad;
    CHECK(rm_token_parse(text, strlen(text), &bad, &err) == -1);
    CHECK_MSG(strstr(err.msg, "signing key does not match") != NULL, "%s", err.msg);
    free(text);

    /* A token from before signing keys (none in it) still works. */
    free(back.sign_sk.data);
    back.sign_sk = (rm_bin_t){0};
    CHECK(rm_token_format(&back, &text, &err) == 0);
    CHECK_MSG(rm_token_parse(text, strlen(text), &bad, &err) == 0, "%s", err.msg);
    CHECK(bad.sign_sk.len == 0);
    rm_token_free(&bad);
    free(text);
    rm_token_free(&back);
    rm_token_free(&token);
}

/*  A credential from before signing keys (no sign_pk on the wire) verifies,
    with a zero key; an unknown role does not. */
static void test_older_credentials_and_roles(void)
{
    typedef struct {
        uint64_t version;
        char *role, *name;
        rm_hash_t curve_pk, mesh_pk;
        int64_t issued, expires;
    } old_cred_t;
    static const rm_field_t old_fields[] = {
        RM_FIELD(old_cred_t, version, RM_F_U64, 0, ""),
        RM_FIELD(old_cred_t, role, RM_F_STR, 16, ""),
        RM_FIELD(old_cred_t, name, RM_F_STR, RM_MAX_NAME, ""),
        RM_FIELD(old_cred_t, curve_pk, RM_F_B32, 0, ""),
        RM_FIELD(old_cred_t, mesh_pk, RM_F_B32, 0, ""),
        RM_FIELD(old_cred_t, issued, RM_F_I64, 0, ""),
        RM_FIELD(old_cred_t, expires, RM_F_I64, 0, ""),
    };
    static const rm_struct_desc_t old_desc = RM_DESC(old_cred_t, "credential", old_fields, "");
    int64_t now = (int64_t)time(NULL);
    const char *roles[] = {"client", "admin", "artist", "node", "root"};
    for (int i = 0; i < 5; i++) {
        old_cred_t old = {.version = 1,
                          .role = (char *)roles[i],
                          .name = "ann",
                          .issued = now,
                          .expires = now + 60};
        memcpy(old.mesh_pk.b, mesh_pk, 32);
        rm_bin_t blob;
        rm_err_t err;
        CHECK(rm_signed_make("rendermesh-credential-v1", &old_desc, &old, mesh_sk, &blob, &err) ==
              0);
        rm_cred_t cred;
        int rc = rm_cred_verify(blob.data, blob.len, mesh_pk, now, &cred, &err);
        if (i < 4) {
            CHECK_MSG(rc == 0, "%s: %s", roles[i], err.msg);
            if (rc == 0) {
                CHECK(rm_hash_is_zero(&cred.sign_pk));
                rm_codec_free(&rm_cred_desc, &cred);
            }
        } else {
            CHECK(rc == -1 && strstr(err.msg, "unknown role 'root'"));
        }
        free(blob.data);
    }
}

int main(void)
{
    CHECK(sodium_init() >= 0);
    crypto_sign_keypair(mesh_pk, mesh_sk);
    RM_RUN(test_issue_format_parse);
    RM_RUN(test_older_credentials_and_roles);
    RM_TEST_DONE();
}
