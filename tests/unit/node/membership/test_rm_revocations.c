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

static char dir[] = "/tmp/rm-test-revocations.XXXXXX";

/*  bob's credential issued at 150: a revocation at 100 does not cover it,
    a later one at 200 does. */
static void test_covers_only_credentials_issued_before_it(void)
{
    rm_revocations_t *set = rm_revocations_new(mesh_pk);
    rm_cred_t bob = {.name = "bob", .issued = 150};
    CHECK(rm_revocations_covering(set, &bob) == NULL);
    CHECK(add(set, "bob", 100) == 1);
    CHECK(rm_revocations_covering(set, &bob) == NULL); /* issued after */
    CHECK(add(set, "bob", 200) == 1);
    CHECK(rm_revocations_covering(set, &bob) != NULL);
    rm_revocations_destroy(&set);
}

static void test_keeps_one_revocation_per_name_the_latest(void)
{
    rm_revocations_t *set = rm_revocations_new(mesh_pk);
    CHECK(add(set, "bob", 100) == 1);
    CHECK(add(set, "bob", 100) == 0); /* known */
    CHECK(add(set, "bob", 50) == 0);  /* older: changes nothing */
    CHECK(add(set, "bob", 200) == 1);
    CHECK(rm_revocations_count(set) == 1);
    rm_revocations_destroy(&set);
}

static void test_refuses_a_revocation_signed_by_another_mesh(void)
{
    rm_revocations_t *set = rm_revocations_new(mesh_pk);
    CHECK(add(set, "bob", 200) == 1);
    rm_bin_t foreign = revocation("n1", 1, other_sk);
    rm_err_t err;
    CHECK(rm_revocations_add(set, foreign.data, foreign.len, NULL, &err) == -1);
    CHECK(err.code == RM_EAUTH && rm_revocations_count(set) == 1);
    free(foreign.data);
    rm_revocations_destroy(&set);
}

/*  a: n3 at 10 and bob at 20. */
static rm_revocations_t *set_a(void)
{
    rm_revocations_t *a = rm_revocations_new(mesh_pk);
    CHECK(add(a, "n3", 10) == 1 && add(a, "bob", 20) == 1);
    return a;
}

static void test_an_empty_set_has_a_zero_digest(void)
{
    rm_revocations_t *a = rm_revocations_new(mesh_pk);
    rm_hash_t da;
    rm_revocations_digest(a, &da);
    CHECK(rm_hash_is_zero(&da));
    rm_revocations_destroy(&a);
}

static void test_equal_sets_have_equal_digests_in_any_order(void)
{
    rm_revocations_t *a = set_a(), *b = rm_revocations_new(mesh_pk);
    rm_hash_t da, db;
    CHECK(add(b, "bob", 20) == 1);
    rm_revocations_digest(a, &da);
    rm_revocations_digest(b, &db);
    CHECK(memcmp(da.b, db.b, 32) != 0);
    CHECK(add(b, "n3", 10) == 1); /* another order, the same set */
    rm_revocations_digest(b, &db);
    CHECK(memcmp(da.b, db.b, 32) == 0);
    rm_revocations_destroy(&a);
    rm_revocations_destroy(&b);
}

static void test_blobs_come_in_name_order(void)
{
    rm_revocations_t *a = set_a();
    uint32_t n = 0;
    rm_bin_t *blobs = rm_revocations_blobs(a, &n);
    CHECK(blobs && n == 2);
    rm_revocation_t first;
    CHECK(rm_revocation_verify(blobs[0].data, blobs[0].len, mesh_pk, &first, NULL) == 0);
    CHECK(strcmp(first.name, "bob") == 0); /* name order */
    rm_codec_free(&rm_revocation_desc, &first);
    free(blobs);
    rm_revocations_destroy(&a);
}

static void test_a_saved_set_loads_back_with_its_digest(void)
{
    rm_revocations_t *a = set_a();
    char path[512];
    rm_err_t err;
    snprintf(path, sizeof path, "%s/revocations", dir);
    rm_revocations_t *c = rm_revocations_new(mesh_pk);
    CHECK(rm_revocations_load(c, path, &err) == 0 && rm_revocations_count(c) == 0); /* none yet */
    CHECK(rm_revocations_save(a, path, &err) == 0);
    CHECK(rm_revocations_load(c, path, &err) == 0 && rm_revocations_count(c) == 2);
    rm_hash_t da, dc;
    rm_revocations_digest(a, &da);
    rm_revocations_digest(c, &dc);
    CHECK(memcmp(da.b, dc.b, 32) == 0);
    rm_revocations_destroy(&a);
    rm_revocations_destroy(&c);
    unlink(path);
}

/*  Another mesh's node reads none of them. */
static void test_another_mesh_node_loads_none_of_them(void)
{
    rm_revocations_t *a = set_a();
    char path[512];
    rm_err_t err;
    snprintf(path, sizeof path, "%s/revocations", dir);
    CHECK(rm_revocations_save(a, path, &err) == 0);
    rm_revocations_t *d = rm_revocations_new(other_pk);
    CHECK(rm_revocations_load(d, path, &err) == 0 && rm_revocations_count(d) == 0);
    rm_revocations_destroy(&a);
    rm_revocations_destroy(&d);
    unlink(path);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    CHECK(sodium_init() >= 0);
    crypto_sign_keypair(mesh_pk, mesh_sk);
    crypto_sign_keypair(other_pk, other_sk);
    CHECK(mkdtemp(dir) != NULL);
    RM_RUN(test_covers_only_credentials_issued_before_it);
    RM_RUN(test_keeps_one_revocation_per_name_the_latest);
    RM_RUN(test_refuses_a_revocation_signed_by_another_mesh);
    RM_RUN(test_an_empty_set_has_a_zero_digest);
    RM_RUN(test_equal_sets_have_equal_digests_in_any_order);
    RM_RUN(test_blobs_come_in_name_order);
    RM_RUN(test_a_saved_set_loads_back_with_its_digest);
    RM_RUN(test_another_mesh_node_loads_none_of_them);
    rmdir(dir);
    RM_TEST_DONE();
}
