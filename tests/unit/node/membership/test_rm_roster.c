/*  rm_roster: the CURVE keys a node admits, each vouched for by a credential
    the mesh key signed; kept across restarts in a file whose entries are
    verified again at load (a fake clock: every call takes `now`). */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rm_cred.h"
#include "rm_roster.h"
#include "rm_test.h"

#define NOW 1700000000
#define DAY 86400

static char root[] = "/tmp/rm-test-roster.XXXXXX";
static uint8_t mesh_pk[32], mesh_sk[64];
static uint8_t other_pk[32], other_sk[64];

/*  A signed credential for a fresh CURVE key: *signed_cred (free its data)
    and the verified *cred (free with rm_codec_free), valid [issued, expires). */
static void make_cred(const uint8_t sk[64], const uint8_t pk[32], const char *name, int64_t expires,
                      rm_cred_t *cred, rm_bin_t *signed_cred)
{
    uint8_t curve_sk[32];
    rm_cred_t c = {.version = 1, .issued = NOW - DAY, .expires = expires};
    c.role = (char *)RM_ROLE_NODE;
    c.name = (char *)name;
    crypto_box_keypair(c.curve_pk.b, curve_sk);
    memcpy(c.mesh_pk.b, pk, 32);
    rm_err_t err = {0};
    CHECK_MSG(rm_cred_sign(&c, sk, signed_cred, &err) == 0, "%s", err.msg);
    /* What the door does: verify (at a time the credential is valid). */
    CHECK_MSG(rm_cred_verify(signed_cred->data, signed_cred->len, pk, NOW, cred, &err) == 0, "%s",
              err.msg);
}

static void add(rm_roster_t *r, const rm_cred_t *cred, const rm_bin_t *signed_cred)
{
    rm_err_t err = {0};
    CHECK_MSG(rm_roster_add(r, cred, signed_cred->data, signed_cred->len, &err) == 0, "%s",
              err.msg);
}

static const char *path_of(const char *name)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", root, name);
    return path;
}

static void test_admits_an_added_key_until_it_expires(void)
{
    rm_roster_t *r = rm_roster_new();
    rm_cred_t cred;
    rm_bin_t blob;
    make_cred(mesh_sk, mesh_pk, "n1", NOW + DAY, &cred, &blob);
    add(r, &cred, &blob);
    const rm_cred_t *found = rm_roster_find(r, cred.curve_pk.b, NOW);
    CHECK(found != NULL);
    CHECK(found && strcmp(found->name, "n1") == 0 && strcmp(found->role, RM_ROLE_NODE) == 0);
    CHECK(rm_roster_find(r, cred.curve_pk.b, NOW + DAY - 1) != NULL);
    /* At the expiry second and after: not admitted, though still listed. */
    CHECK(rm_roster_find(r, cred.curve_pk.b, NOW + DAY) == NULL);
    CHECK(rm_roster_find(r, cred.curve_pk.b, NOW + 2 * DAY) == NULL);
    CHECK(rm_roster_size(r) == 1);
    rm_codec_free(&rm_cred_desc, &cred);
    free(blob.data);
    rm_roster_destroy(&r);
    CHECK(r == NULL);
}

static void test_unknown_key_is_not_admitted(void)
{
    rm_roster_t *r = rm_roster_new();
    rm_cred_t cred;
    rm_bin_t blob;
    make_cred(mesh_sk, mesh_pk, "n1", NOW + DAY, &cred, &blob);
    add(r, &cred, &blob);
    uint8_t stranger[32];
    memcpy(stranger, cred.curve_pk.b, 32);
    stranger[31] ^= 1;
    CHECK(rm_roster_find(r, stranger, NOW) == NULL);
    rm_codec_free(&rm_cred_desc, &cred);
    free(blob.data);
    rm_roster_destroy(&r);
}

/*  The roster copies what it is given: the caller may free its credential. */
static void test_keeps_its_own_copy(void)
{
    rm_roster_t *r = rm_roster_new();
    rm_cred_t cred;
    rm_bin_t blob;
    make_cred(mesh_sk, mesh_pk, "copied", NOW + DAY, &cred, &blob);
    add(r, &cred, &blob);
    uint8_t key[32];
    memcpy(key, cred.curve_pk.b, 32);
    rm_codec_free(&rm_cred_desc, &cred);
    memset(blob.data, 0, blob.len);
    free(blob.data);
    const rm_cred_t *found = rm_roster_find(r, key, NOW);
    CHECK(found && strcmp(found->name, "copied") == 0);
    rm_roster_destroy(&r);
}

/*  A peer that knocks again with a renewed credential refreshes its entry:
    one entry, the new expiry. */
static void test_readding_a_key_refreshes_its_entry(void)
{
    rm_roster_t *r = rm_roster_new();
    rm_cred_t old_cred, new_cred;
    rm_bin_t old_blob, new_blob;
    make_cred(mesh_sk, mesh_pk, "n1", NOW + DAY, &old_cred, &old_blob);
    add(r, &old_cred, &old_blob);
    /* The same CURVE key, re-signed for longer. */
    rm_cred_t renewed = old_cred;
    renewed.expires = NOW + 30 * DAY;
    rm_err_t err = {0};
    CHECK(rm_cred_sign(&renewed, mesh_sk, &new_blob, &err) == 0);
    CHECK(rm_cred_verify(new_blob.data, new_blob.len, mesh_pk, NOW, &new_cred, &err) == 0);
    add(r, &new_cred, &new_blob);
    CHECK(rm_roster_size(r) == 1);
    CHECK(rm_roster_find(r, old_cred.curve_pk.b, NOW + 10 * DAY) != NULL);
    /* And the renewal is what gets saved. */
    CHECK(rm_roster_save(r, path_of("renewed.roster"), &err) == 0);
    rm_roster_t *back = rm_roster_new();
    CHECK(rm_roster_load(back, path_of("renewed.roster"), mesh_pk, NOW + 10 * DAY, &err) == 0);
    CHECK(rm_roster_find(back, old_cred.curve_pk.b, NOW + 10 * DAY) != NULL);
    rm_roster_destroy(&back);
    rm_codec_free(&rm_cred_desc, &old_cred);
    rm_codec_free(&rm_cred_desc, &new_cred);
    free(old_blob.data);
    free(new_blob.data);
    rm_roster_destroy(&r);
}

/*  A restarted node admits the peers it admitted before, without a door
    knock: every entry comes back with its name, role and expiry. */
static void test_save_and_load_round_trip(void)
{
    enum { N = 20 }; /* past the first growth of the table */
    rm_roster_t *r = rm_roster_new();
    rm_cred_t creds[N];
    rm_bin_t blobs[N];
    for (int i = 0; i < N; i++) {
        char name[32];
        snprintf(name, sizeof name, "node-%02d", i);
        make_cred(mesh_sk, mesh_pk, name, NOW + (i + 1) * DAY, &creds[i], &blobs[i]);
        add(r, &creds[i], &blobs[i]);
    }
    CHECK(rm_roster_size(r) == N);
    rm_err_t err = {0};
    const char *path = path_of("round.roster");
    CHECK_MSG(rm_roster_save(r, path, &err) == 0, "%s", err.msg);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 077) == 0); /* 0600: it lists who gets in */

    rm_roster_t *back = rm_roster_new();
    CHECK_MSG(rm_roster_load(back, path, mesh_pk, NOW, &err) == 0, "%s", err.msg);
    CHECK(rm_roster_size(back) == N);
    for (int i = 0; i < N; i++) {
        const rm_cred_t *f = rm_roster_find(back, creds[i].curve_pk.b, NOW);
        CHECK_MSG(f != NULL, "entry %d missing", i);
        if (f) {
            CHECK(strcmp(f->name, creds[i].name) == 0);
            CHECK(f->expires == creds[i].expires && f->issued == creds[i].issued);
        }
    }
    for (int i = 0; i < N; i++) {
        rm_codec_free(&rm_cred_desc, &creds[i]);
        free(blobs[i].data);
    }
    rm_roster_destroy(&back);
    rm_roster_destroy(&r);
}

/*  Entries that expired while the node was down are dropped at load. */
static void test_load_drops_expired_entries(void)
{
    rm_roster_t *r = rm_roster_new();
    rm_cred_t short_cred, long_cred;
    rm_bin_t short_blob, long_blob;
    make_cred(mesh_sk, mesh_pk, "short", NOW + DAY, &short_cred, &short_blob);
    make_cred(mesh_sk, mesh_pk, "long", NOW + 10 * DAY, &long_cred, &long_blob);
    add(r, &short_cred, &short_blob);
    add(r, &long_cred, &long_blob);
    rm_err_t err = {0};
    const char *path = path_of("expiry.roster");
    CHECK(rm_roster_save(r, path, &err) == 0);
    rm_roster_t *back = rm_roster_new();
    CHECK_MSG(rm_roster_load(back, path, mesh_pk, NOW + 2 * DAY, &err) == 0, "%s", err.msg);
    CHECK(rm_roster_size(back) == 1);
    CHECK(rm_roster_find(back, long_cred.curve_pk.b, NOW + 2 * DAY) != NULL);
    CHECK(rm_roster_find(back, short_cred.curve_pk.b, NOW + 2 * DAY) == NULL);
    rm_roster_destroy(&back);
    rm_codec_free(&rm_cred_desc, &short_cred);
    rm_codec_free(&rm_cred_desc, &long_cred);
    free(short_blob.data);
    free(long_blob.data);
    rm_roster_destroy(&r);
}

/*  A roster whose credentials another mesh key signed admits nobody here
    (a node's home copied between meshes, or a planted file). */
static void test_load_refuses_credentials_of_another_mesh(void)
{
    rm_roster_t *r = rm_roster_new();
    rm_cred_t ours, theirs;
    rm_bin_t our_blob, their_blob;
    make_cred(mesh_sk, mesh_pk, "ours", NOW + DAY, &ours, &our_blob);
    make_cred(other_sk, other_pk, "theirs", NOW + DAY, &theirs, &their_blob);
    add(r, &ours, &our_blob);
    add(r, &theirs, &their_blob);
    rm_err_t err = {0};
    const char *path = path_of("mixed.roster");
    CHECK(rm_roster_save(r, path, &err) == 0);
    rm_roster_t *back = rm_roster_new();
    CHECK_MSG(rm_roster_load(back, path, mesh_pk, NOW, &err) == 0, "%s", err.msg);
    CHECK(rm_roster_size(back) == 1);
    CHECK(rm_roster_find(back, ours.curve_pk.b, NOW) != NULL);
    CHECK(rm_roster_find(back, theirs.curve_pk.b, NOW) == NULL);
    rm_roster_destroy(&back);
    /* Loaded with the other mesh's key, it is the other way round. */
    back = rm_roster_new();
    CHECK(rm_roster_load(back, path, other_pk, NOW, &err) == 0);
    CHECK(rm_roster_size(back) == 1 && rm_roster_find(back, theirs.curve_pk.b, NOW) != NULL);
    rm_roster_destroy(&back);
    rm_codec_free(&rm_cred_desc, &ours);
    rm_codec_free(&rm_cred_desc, &theirs);
    free(our_blob.data);
    free(their_blob.data);
    rm_roster_destroy(&r);
}

/*  A credential edited in the file (a longer expiry, say) fails its
    signature and is dropped. */
static void test_load_drops_a_tampered_credential(void)
{
    rm_roster_t *r = rm_roster_new();
    rm_cred_t cred;
    rm_bin_t blob;
    make_cred(mesh_sk, mesh_pk, "victim", NOW + DAY, &cred, &blob);
    /* Flip the last byte of the signed body's name in the stored copy. */
    uint8_t *hit = NULL;
    for (size_t i = 0; i + 6 <= blob.len; i++)
        if (memcmp(blob.data + i, "victim", 6) == 0)
            hit = blob.data + i;
    CHECK(hit != NULL);
    if (hit)
        hit[5] = 'n';
    rm_err_t err = {0};
    CHECK(rm_roster_add(r, &cred, blob.data, blob.len, &err) == 0);
    CHECK(rm_roster_save(r, path_of("tampered.roster"), &err) == 0);
    rm_roster_t *back = rm_roster_new();
    CHECK(rm_roster_load(back, path_of("tampered.roster"), mesh_pk, NOW, &err) == 0);
    CHECK(rm_roster_size(back) == 0);
    CHECK(rm_roster_find(back, cred.curve_pk.b, NOW) == NULL);
    rm_roster_destroy(&back);
    rm_codec_free(&rm_cred_desc, &cred);
    free(blob.data);
    rm_roster_destroy(&r);
}

static void test_missing_file_is_an_empty_roster(void)
{
    rm_roster_t *r = rm_roster_new();
    rm_err_t err = {0};
    CHECK_MSG(rm_roster_load(r, path_of("never-saved.roster"), mesh_pk, NOW, &err) == 0, "%s",
              err.msg);
    CHECK(rm_roster_size(r) == 0);
    rm_roster_destroy(&r);
}

static void test_damaged_file_is_an_error_naming_it(void)
{
    const char *path = path_of("damaged.roster");
    rm_err_t err = {0};
    CHECK(rm_secret_write(path, "not msgpack at all", 18, &err) == 0);
    rm_roster_t *r = rm_roster_new();
    CHECK(rm_roster_load(r, path, mesh_pk, NOW, &err) != 0);
    CHECK_MSG(strstr(err.msg, path) != NULL && strstr(err.msg, "damaged") != NULL, "%s", err.msg);
    CHECK(rm_roster_size(r) == 0);
    rm_roster_destroy(&r);
}

/*  Anyone who can write the roster can add themselves: one that others can
    read or write is refused, like a token file. */
static void test_world_readable_file_is_refused(void)
{
    rm_roster_t *r = rm_roster_new();
    rm_cred_t cred;
    rm_bin_t blob;
    make_cred(mesh_sk, mesh_pk, "n1", NOW + DAY, &cred, &blob);
    add(r, &cred, &blob);
    rm_err_t err = {0};
    const char *path = path_of("open.roster");
    CHECK(rm_roster_save(r, path, &err) == 0);
    CHECK(chmod(path, 0644) == 0);
    rm_roster_t *back = rm_roster_new();
    CHECK(rm_roster_load(back, path, mesh_pk, NOW, &err) != 0);
    CHECK(rm_roster_size(back) == 0);
    rm_roster_destroy(&back);
    rm_codec_free(&rm_cred_desc, &cred);
    free(blob.data);
    rm_roster_destroy(&r);
}

static bool named_n2(void *arg, const rm_cred_t *cred)
{
    (void)arg;
    return strcmp(cred->name, "n2") == 0;
}

static void test_drop_removes_what_it_is_told(void)
{
    rm_roster_t *r = rm_roster_new();
    rm_cred_t c[3];
    rm_bin_t b[3];
    const char *names[] = {"n1", "n2", "n3"};
    for (int i = 0; i < 3; i++) {
        make_cred(mesh_sk, mesh_pk, names[i], NOW + DAY, &c[i], &b[i]);
        add(r, &c[i], &b[i]);
    }
    CHECK(rm_roster_drop(r, named_n2, NULL) == 1);
    CHECK(rm_roster_size(r) == 2);
    CHECK(rm_roster_find(r, c[1].curve_pk.b, NOW) == NULL);
    CHECK(rm_roster_find(r, c[0].curve_pk.b, NOW) && rm_roster_find(r, c[2].curve_pk.b, NOW));
    CHECK(rm_roster_drop(r, named_n2, NULL) == 0);
    for (int i = 0; i < 3; i++) {
        rm_codec_free(&rm_cred_desc, &c[i]);
        free(b[i].data);
    }
    rm_roster_destroy(&r);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    CHECK(sodium_init() >= 0);
    CHECK(mkdtemp(root) != NULL);
    crypto_sign_keypair(mesh_pk, mesh_sk);
    crypto_sign_keypair(other_pk, other_sk);
    RM_RUN(test_admits_an_added_key_until_it_expires);
    RM_RUN(test_unknown_key_is_not_admitted);
    RM_RUN(test_keeps_its_own_copy);
    RM_RUN(test_readding_a_key_refreshes_its_entry);
    RM_RUN(test_save_and_load_round_trip);
    RM_RUN(test_load_drops_expired_entries);
    RM_RUN(test_load_refuses_credentials_of_another_mesh);
    RM_RUN(test_load_drops_a_tampered_credential);
    RM_RUN(test_missing_file_is_an_empty_roster);
    RM_RUN(test_damaged_file_is_an_error_naming_it);
    RM_RUN(test_world_readable_file_is_refused);
    RM_RUN(test_drop_removes_what_it_is_told);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    CHECK(system(cmd) == 0);
    RM_TEST_DONE();
}
