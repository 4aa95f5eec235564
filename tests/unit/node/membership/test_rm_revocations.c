/*  Tests of the node's set of revocations: one per name (the latest),
    digests equal for equal sets, kept across a save and a load. */
#include "rm_revocations.h"
#include "rm_test.h"

#include <sodium.h>
#include <stdlib.h>
#include <unistd.h>

static uint8_t mesh_pk[32], mesh_sk[64], other_pk[32], other_sk[64];

static rm_bin_t revocation(const char *name, int64_t at, const uint8_t *sk)
{
    rm_bin_t blob = {0};
    rm_err_t err;
    CHECK(rm_revocation_sign(name, at, sk, &blob, &err) == 0);
    return blob;
}

static int add(rm_revocations_t *set, const char *name, int64_t at)
{
    rm_bin_t blob = revocation(name, at, mesh_sk);
    int rc = rm_revocations_add(set, blob.data, blob.len, NULL, NULL);
    free(blob.data);
    return rc;
}

static void test_one_per_name(void)
{
    rm_revocations_t *set = rm_revocations_new(mesh_pk);
    rm_cred_t bob = {.name = "bob", .issued = 150};
    CHECK(rm_revocations_covering(set, &bob) == NULL);
    CHECK(add(set, "bob", 100) == 1);
    CHECK(rm_revocations_covering(set, &bob) == NULL); /* issued after */
    CHECK(add(set, "bob", 100) == 0);                  /* known */
    CHECK(add(set, "bob", 50) == 0);                   /* older: changes nothing */
    CHECK(add(set, "bob", 200) == 1);
    CHECK(rm_revocations_covering(set, &bob) != NULL);
    CHECK(rm_revocations_count(set) == 1);
    rm_bin_t foreign = revocation("n1", 1, other_sk);
    rm_err_t err;
    CHECK(rm_revocations_add(set, foreign.data, foreign.len, NULL, &err) == -1);
    CHECK(err.code == RM_EAUTH && rm_revocations_count(set) == 1);
    free(foreign.data);
    rm_revocations_destroy(&set);
}

static void test_digest_and_file(const char *dir)
{
    rm_revocations_t *a = rm_revocations_new(mesh_pk), *b = rm_revocations_new(mesh_pk);
    rm_hash_t da, db;
    rm_revocations_digest(a, &da);
    CHECK(rm_hash_is_zero(&da));
    CHECK(add(a, "n3", 10) == 1 && add(a, "bob", 20) == 1);
    CHECK(add(b, "bob", 20) == 1);
    rm_revocations_digest(a, &da);
    rm_revocations_digest(b, &db);
    CHECK(memcmp(da.b, db.b, 32) != 0);
    CHECK(add(b, "n3", 10) == 1); /* another order, the same set */
    rm_revocations_digest(b, &db);
    CHECK(memcmp(da.b, db.b, 32) == 0);
    uint32_t n = 0;
    rm_bin_t *blobs = rm_revocations_blobs(a, &n);
    CHECK(blobs && n == 2);
    rm_revocation_t first;
    CHECK(rm_revocation_verify(blobs[0].data, blobs[0].len, mesh_pk, &first, NULL) == 0);
    CHECK(strcmp(first.name, "bob") == 0); /* name order */
    rm_codec_free(&rm_revocation_desc, &first);
    free(blobs);

    char path[512];
    rm_err_t err;
    snprintf(path, sizeof path, "%s/revocations", dir);
    rm_revocations_t *c = rm_revocations_new(mesh_pk);
    CHECK(rm_revocations_load(c, path, &err) == 0 && rm_revocations_count(c) == 0); /* none yet */
    CHECK(rm_revocations_save(a, path, &err) == 0);
    CHECK(rm_revocations_load(c, path, &err) == 0 && rm_revocations_count(c) == 2);
    rm_hash_t dc;
    rm_revocations_digest(c, &dc);
    CHECK(memcmp(da.b, dc.b, 32) == 0);
    /* Another mesh's node reads none of them. */
    rm_revocations_t *d = rm_revocations_new(other_pk);
    CHECK(rm_revocations_load(d, path, &err) == 0 && rm_revocations_count(d) == 0);
    rm_revocations_destroy(&a);
    rm_revocations_destroy(&b);
    rm_revocations_destroy(&c);
    rm_revocations_destroy(&d);
    unlink(path);
}

int main(void)
{
    CHECK(sodium_init() >= 0);
    crypto_sign_keypair(mesh_pk, mesh_sk);
    crypto_sign_keypair(other_pk, other_sk);
    char dir[] = "/tmp/rm-test-revocations.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    RM_RUN(test_one_per_name);
    test_digest_and_file(dir);
    rmdir(dir);
    RM_TEST_DONE();
}
