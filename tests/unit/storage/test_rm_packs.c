/*  Tests for rm_packs: records round trip and come back after an open,
    a torn tail or rotted bytes are cut or dropped, the sweep removes what
    is not kept from disk for good, packs roll over, a full disk leaves the
    pack as it was (a tiny tmpfs, when running as root). */
#include "rm_packs.h"
#include "rm_test.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char base[] = "/tmp/rm_packs_test.XXXXXX";
static char root[512]; /* the running case's store root */

static void fill_random(uint8_t *buf, size_t len, uint64_t seed)
{
    for (size_t i = 0; i < len; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        buf[i] = (uint8_t)(seed >> 56);
    }
}

static rm_packs_t *open_packs(uint64_t *damaged, time_t verify_since)
{
    rm_err_t err;
    uint64_t ignored;
    rm_packs_t *p = rm_packs_new(root, verify_since, damaged ? damaged : &ignored, &err);
    CHECK_MSG(p, "%s", err.msg);
    return p;
}

static rm_packs_t *new_case(void)
{
    snprintf(root, sizeof root, "%s/%s", base, rm_test_case);
    return open_packs(NULL, -1);
}

/*  Puts `n` chunks of `len` random bytes (seeds seed..), hashes in h. */
static void put_chunks(rm_packs_t *p, rm_hash_t *h, int n, size_t len, uint64_t seed)
{
    uint8_t *data = malloc(len);
    for (int i = 0; data && i < n; i++) {
        rm_err_t err;
        fill_random(data, len, seed + (uint64_t)i);
        rm_hash(data, len, &h[i]);
        CHECK_MSG(rm_packs_put(p, &h[i], data, len, &err) == 0, "%s", err.msg);
    }
    free(data);
}

static bool reads_back(rm_packs_t *p, const rm_hash_t *h, size_t len, uint64_t seed)
{
    uint8_t *got = NULL, *want = malloc(len ? len : 1);
    size_t got_len = 0;
    rm_err_t err;
    fill_random(want, len, seed);
    bool ok = rm_packs_get(p, h, &got, &got_len, &err) == 0 && got_len == len &&
              memcmp(got, want, len) == 0;
    free(got);
    free(want);
    return ok;
}

/*  The pack files of the running case: count, and the first one's path. */
static int pack_files(char *first, size_t size)
{
    char dirpath[600];
    snprintf(dirpath, sizeof dirpath, "%.500s/packs", root);
    DIR *dir = opendir(dirpath);
    int n = 0;
    struct dirent *de;
    while (dir && (de = readdir(dir)) != NULL)
        if (de->d_name[0] != '.' && n++ == 0 && first)
            snprintf(first, size, "%.600s/%.100s", dirpath, de->d_name);
    if (dir)
        closedir(dir);
    return n;
}

static void test_chunks_come_back_and_survive_an_open(void)
{
    rm_packs_t *p = new_case();
    if (!p)
        return;
    rm_hash_t h[20];
    put_chunks(p, h, 20, 5000, 100);
    put_chunks(p, h, 1, 5000, 100); /* the same again: touched, not written twice */
    uint64_t bytes, chunks;
    rm_packs_usage(p, &bytes, &chunks);
    CHECK(chunks == 20 && bytes == 20 * (RM_PACKS_HEADER + 5000));
    CHECK(rm_packs_size(p, &h[3]) == 5000 && reads_back(p, &h[3], 5000, 103));
    rm_packs_destroy(&p);
    CHECK(p == NULL && pack_files(NULL, 0) == 1);
    CHECK(rm_packs_peek(root, &h[7]));
    if (!(p = open_packs(NULL, -1)))
        return;
    for (int i = 0; i < 20; i++)
        CHECK(rm_packs_has(p, &h[i]) && reads_back(p, &h[i], 5000, 100 + (uint64_t)i));
    rm_hash_t other;
    rm_hash("other", 5, &other);
    rm_err_t err;
    uint8_t *data = NULL;
    size_t len;
    CHECK(!rm_packs_has(p, &other) && !rm_packs_peek(root, &other));
    CHECK(rm_packs_get(p, &other, &data, &len, &err) == -1 && err.code == RM_ENOTFOUND);
    rm_packs_destroy(&p);
}

/*  A crash mid-append leaves half a record: cut at open, the rest kept. */
static void test_a_torn_tail_is_cut_at_open(void)
{
    rm_packs_t *p = new_case();
    if (!p)
        return;
    rm_hash_t h[3];
    put_chunks(p, h, 3, 1000, 200);
    rm_packs_destroy(&p);
    char path[800];
    CHECK(pack_files(path, sizeof path) == 1);
    CHECK(truncate(path, 3 * RM_PACKS_HEADER + 2500) == 0);
    uint64_t damaged = 0;
    if (!(p = open_packs(&damaged, -1)))
        return;
    CHECK(damaged == 1 && rm_packs_has(p, &h[0]) && rm_packs_has(p, &h[1]) &&
          !rm_packs_has(p, &h[2]));
    struct stat st;
    CHECK(stat(path, &st) == 0 && st.st_size == 2 * (RM_PACKS_HEADER + 1000));
    /* Appends go on after what is whole. */
    put_chunks(p, h + 2, 1, 1000, 202);
    rm_packs_destroy(&p);
    if (!(p = open_packs(&damaged, -1)))
        return;
    CHECK(damaged == 0 && reads_back(p, &h[2], 1000, 202));
    rm_packs_destroy(&p);
}

/*  Data that never reached the disk (zeros) is found when verifying: that
    record is skipped, the whole ones after it kept. */
static void test_unsynced_damage_is_skipped_when_verifying(void)
{
    rm_packs_t *p = new_case();
    if (!p)
        return;
    rm_hash_t h[3];
    put_chunks(p, h, 3, 1000, 300);
    rm_packs_destroy(&p);
    char path[800];
    CHECK(pack_files(path, sizeof path) == 1);
    int fd = open(path, O_WRONLY);
    uint8_t zeros[1000] = {0};
    CHECK(fd >= 0 && pwrite(fd, zeros, sizeof zeros, 2 * RM_PACKS_HEADER + 1000) == 1000);
    close(fd);
    uint64_t damaged = 0;
    if (!(p = open_packs(&damaged, 0))) /* everything since 1970 is checked */
        return;
    CHECK(damaged == 1 && rm_packs_has(p, &h[0]) && !rm_packs_has(p, &h[1]) &&
          reads_back(p, &h[2], 1000, 302));
    rm_packs_destroy(&p);
    if (!(p = open_packs(&damaged, -1))) /* not verifying: the header looks whole */
        return;
    CHECK(damaged == 0 && rm_packs_has(p, &h[1]));
    rm_packs_destroy(&p);
}

/*  Rotted bytes: refused and dropped at read, gone from disk after a sweep. */
static bool keep_all(void *arg, const rm_hash_t *hash, int64_t used_at)
{
    (void)arg, (void)hash, (void)used_at;
    return true;
}

static void test_rotted_bytes_are_dropped_and_swept(void)
{
    rm_packs_t *p = new_case();
    if (!p)
        return;
    rm_hash_t h[2];
    put_chunks(p, h, 2, 3000, 400);
    char path[800];
    CHECK(pack_files(path, sizeof path) == 1);
    int fd = open(path, O_WRONLY);
    CHECK(fd >= 0 && pwrite(fd, "X", 1, RM_PACKS_HEADER + 10) == 1);
    close(fd);
    rm_err_t err;
    uint8_t *data = NULL;
    size_t len;
    CHECK(rm_packs_get(p, &h[0], &data, &len, &err) == -1 && err.code == RM_EIO);
    CHECK(strstr(err.msg, "corrupt") != NULL && !rm_packs_has(p, &h[0]));
    /* Marked dead on disk: an open before any sweep does not take it back. */
    rm_packs_destroy(&p);
    if (!(p = open_packs(NULL, -1)))
        return;
    CHECK(!rm_packs_has(p, &h[0]) && !rm_packs_peek(root, &h[0]) && rm_packs_has(p, &h[1]));
    rm_packs_sweep_stats_t st = {0};
    CHECK_MSG(rm_packs_sweep(p, keep_all, NULL, NULL, &st, &err) == 0, "%s", err.msg);
    CHECK(st.kept == 1 && st.packs_rewritten == 1 && reads_back(p, &h[1], 3000, 401));
    rm_packs_destroy(&p);
    if (!(p = open_packs(NULL, -1)))
        return;
    CHECK(!rm_packs_has(p, &h[0]) && reads_back(p, &h[1], 3000, 401));
    rm_packs_destroy(&p);
}

/*  Keeps the chunks whose first byte is even. */
static bool keep_even(void *arg, const rm_hash_t *hash, int64_t used_at)
{
    (void)arg, (void)used_at;
    return (hash->b[0] & 1) == 0;
}

static bool keep_none(void *arg, const rm_hash_t *hash, int64_t used_at)
{
    (void)arg, (void)hash, (void)used_at;
    return false;
}

static void test_what_a_sweep_drops_never_comes_back(void)
{
    rm_packs_t *p = new_case();
    if (!p)
        return;
    enum { N = 40 };
    rm_hash_t h[N];
    put_chunks(p, h, N, 2000, 500);
    int even = 0;
    for (int i = 0; i < N; i++)
        even += (h[i].b[0] & 1) == 0;
    rm_packs_sweep_stats_t st = {0};
    rm_err_t err;
    CHECK_MSG(rm_packs_sweep(p, keep_even, NULL, NULL, &st, &err) == 0, "%s", err.msg);
    CHECK(st.kept == (uint64_t)even && st.deleted == (uint64_t)(N - even));
    CHECK(st.bytes_freed == (uint64_t)(N - even) * 2000 && st.packs_rewritten == 1);
    for (int i = 0; i < N; i++)
        CHECK(rm_packs_has(p, &h[i]) == ((h[i].b[0] & 1) == 0));
    /* Read where they were moved to, and after an open. */
    for (int i = 0; i < N; i++)
        if ((h[i].b[0] & 1) == 0)
            CHECK(reads_back(p, &h[i], 2000, 500 + (uint64_t)i));
    rm_packs_destroy(&p);
    uint64_t damaged = 0;
    if (!(p = open_packs(&damaged, -1)))
        return;
    uint64_t bytes, chunks;
    rm_packs_usage(p, &bytes, &chunks);
    CHECK(damaged == 0 && chunks == (uint64_t)even &&
          bytes == (uint64_t)even * (RM_PACKS_HEADER + 2000));
    for (int i = 0; i < N; i++)
        CHECK(rm_packs_has(p, &h[i]) == ((h[i].b[0] & 1) == 0));
    memset(&st, 0, sizeof st);
    CHECK(rm_packs_sweep(p, keep_none, NULL, NULL, &st, &err) == 0 && st.packs_removed == 1);
    CHECK(pack_files(NULL, 0) == 0);
    /* A new chunk after the sweep emptied the current pack goes to a new one. */
    put_chunks(p, h, 1, 2000, 500);
    CHECK(pack_files(NULL, 0) == 1 && reads_back(p, &h[0], 2000, 500));
    rm_packs_destroy(&p);
}

static bool stop_now(void *arg)
{
    (void)arg;
    return true;
}

/*  Asked to stop (the node leaving): chunks are dropped, no pack copied;
    the next sweep copies. */
static void test_a_stopped_sweep_copies_nothing_yet(void)
{
    rm_packs_t *p = new_case();
    if (!p)
        return;
    rm_hash_t h[10];
    put_chunks(p, h, 10, 1500, 800);
    rm_packs_sweep_stats_t st = {0};
    rm_err_t err;
    CHECK(rm_packs_sweep(p, keep_even, stop_now, NULL, &st, &err) == 0);
    CHECK(st.packs_rewritten == 0 && st.deleted + st.kept == 10);
    for (int i = 0; i < 10; i++)
        if ((h[i].b[0] & 1) == 0)
            CHECK(reads_back(p, &h[i], 1500, 800 + (uint64_t)i));
    memset(&st, 0, sizeof st);
    CHECK(rm_packs_sweep(p, keep_even, NULL, NULL, &st, &err) == 0);
    CHECK(st.deleted == 0 && (st.packs_rewritten == 1 || st.kept == 0));
    rm_packs_destroy(&p);
}

static void test_packs_roll_over_at_their_size(void)
{
    rm_packs_t *p = new_case();
    if (!p)
        return;
    size_t len = 1024 * 1024;
    int n = (int)(RM_PACKS_MAX_BYTES / len) + 2;
    rm_hash_t *h = calloc((size_t)n, sizeof *h);
    put_chunks(p, h, n, len, 600);
    CHECK(pack_files(NULL, 0) == 2);
    CHECK(reads_back(p, &h[n - 1], len, 600 + (uint64_t)n - 1) && reads_back(p, &h[0], len, 600));
    free(h);
    rm_packs_destroy(&p);
}

/*  A full disk: ENOSPC, the pack cut back, what was stored readable. */
static void test_a_full_disk_leaves_the_pack_whole(void)
{
    if (geteuid() != 0) {
        printf("skipped ENOSPC (needs root)\n");
        return;
    }
    char mnt[400], cmd[800];
    snprintf(mnt, sizeof mnt, "%s/full", base);
    CHECK(mkdir(mnt, 0700) == 0);
    snprintf(cmd, sizeof cmd, "mount -t tmpfs -o size=256k tmpfs '%s' 2>/dev/null", mnt);
    if (system(cmd) != 0) {
        printf("skipped ENOSPC (cannot mount tmpfs here)\n");
        return;
    }
    snprintf(root, sizeof root, "%s", mnt);
    rm_packs_t *p = open_packs(NULL, -1);
    uint8_t data[50000];
    rm_hash_t h[10];
    int stored = 0;
    rm_err_t err = {0};
    for (int i = 0; p && i < 10; i++) {
        fill_random(data, sizeof data, 700 + (uint64_t)i);
        rm_hash(data, sizeof data, &h[i]);
        if (rm_packs_put(p, &h[i], data, sizeof data, &err) != 0)
            break;
        stored++;
    }
    CHECK_MSG(stored < 10 && err.code == RM_ENOSPC, "%d stored, %s", stored, err.msg);
    char path[800];
    struct stat st;
    CHECK(pack_files(path, sizeof path) == 1 && stat(path, &st) == 0 &&
          st.st_size == stored * (RM_PACKS_HEADER + (off_t)sizeof data));
    for (int i = 0; p && i < stored; i++)
        CHECK(reads_back(p, &h[i], sizeof data, 700 + (uint64_t)i));
    rm_packs_destroy(&p);
    snprintf(cmd, sizeof cmd, "umount '%s'", mnt);
    CHECK(system(cmd) == 0);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    if (!mkdtemp(base)) {
        perror("mkdtemp");
        return 1;
    }
    RM_RUN(test_chunks_come_back_and_survive_an_open);
    RM_RUN(test_a_torn_tail_is_cut_at_open);
    RM_RUN(test_unsynced_damage_is_skipped_when_verifying);
    RM_RUN(test_rotted_bytes_are_dropped_and_swept);
    RM_RUN(test_what_a_sweep_drops_never_comes_back);
    RM_RUN(test_a_stopped_sweep_copies_nothing_yet);
    RM_RUN(test_packs_roll_over_at_their_size);
    RM_RUN(test_a_full_disk_leaves_the_pack_whole);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    CHECK(system(cmd) == 0);
    RM_TEST_DONE();
}
