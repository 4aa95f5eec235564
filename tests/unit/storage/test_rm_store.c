/*  Tests for rm_store: round trips, refusals, on-disk corruption, crash
    leftovers and a full disk (a tiny tmpfs, when running as root). */
#include "rm_store.h"
#include "rm_test.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

static void fill_random(uint8_t *buf, size_t len, uint64_t seed)
{
    for (size_t i = 0; i < len; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        buf[i] = (uint8_t)(seed >> 56);
    }
}

static void remove_tree(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

static int count_entries(const char *dirpath)
{
    DIR *dir = opendir(dirpath);
    if (!dir)
        return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(dir)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            n++;
    closedir(dir);
    return n;
}

/*  The folder the tests work in; each case's store is a folder of its own. */
static char base[] = "/tmp/rm_store_test.XXXXXX";
static char root[1024]; /* the store of the running case */

/*  A new, empty store for the running case, in `root`. */
static rm_store_t *open_store(void)
{
    rm_err_t err;
    snprintf(root, sizeof root, "%s/%s", base, rm_test_case);
    rm_store_t *store = rm_store_new(root, &err);
    CHECK_MSG(store, "%s", err.msg);
    return store;
}

static void test_a_chunk_comes_back_as_it_was_put(void)
{
    rm_err_t err;
    rm_store_t *store = open_store();
    if (!store)
        return;
    uint8_t data[5000];
    fill_random(data, sizeof data, 1);
    rm_hash_t h;
    CHECK(rm_store_put_data(store, data, sizeof data, &h, &err) == 0);
    CHECK(rm_store_has(store, &h));
    uint8_t *got = NULL;
    size_t len = 0;
    CHECK(rm_store_get(store, &h, &got, &len, &err) == 0);
    CHECK(len == sizeof data && got && memcmp(got, data, len) == 0);
    free(got);
    rm_store_destroy(&store);
}

static void test_putting_a_chunk_it_has_is_a_no_op(void)
{
    rm_err_t err;
    rm_store_t *store = open_store();
    if (!store)
        return;
    uint8_t data[5000];
    fill_random(data, sizeof data, 1);
    rm_hash_t h;
    CHECK(rm_store_put_data(store, data, sizeof data, &h, &err) == 0);
    CHECK(rm_store_put(store, &h, data, sizeof data, &err) == 0); /* exists: no-op */
    uint64_t bytes = 0, chunks = 0;
    CHECK(rm_store_usage(store, &bytes, &chunks, &err) == 0);
    CHECK(bytes == sizeof data && chunks == 1);
    rm_store_destroy(&store);
}

static void test_an_empty_chunk_round_trips(void)
{
    rm_err_t err;
    rm_store_t *store = open_store();
    if (!store)
        return;
    rm_hash_t empty;
    CHECK(rm_store_put_data(store, "", 0, &empty, &err) == 0);
    uint8_t *got = NULL;
    size_t len = 0;
    CHECK(rm_store_get(store, &empty, &got, &len, &err) == 0 && len == 0);
    free(got);
    rm_store_destroy(&store);
}

static void test_usage_counts_bytes_and_chunks(void)
{
    rm_err_t err;
    rm_store_t *store = open_store();
    if (!store)
        return;
    uint8_t data[5000];
    fill_random(data, sizeof data, 1);
    rm_hash_t h, empty;
    CHECK(rm_store_put_data(store, data, sizeof data, &h, &err) == 0);
    CHECK(rm_store_put(store, &h, data, sizeof data, &err) == 0);
    CHECK(rm_store_put_data(store, "", 0, &empty, &err) == 0);
    uint64_t bytes = 0, chunks = 0;
    CHECK(rm_store_usage(store, &bytes, &chunks, &err) == 0);
    CHECK(bytes == sizeof data && chunks == 2);
    rm_store_destroy(&store);
}

static void test_names_its_root_and_destroys_to_null(void)
{
    rm_store_t *store = open_store();
    if (!store)
        return;
    CHECK(strcmp(rm_store_root(store), root) == 0);
    rm_store_destroy(&store);
    CHECK(store == NULL);
    rm_store_destroy(&store); /* NULL is fine */
}

static void test_refuses_data_that_does_not_hash_to_its_name(void)
{
    rm_err_t err;
    rm_store_t *store = open_store();
    if (!store)
        return;
    uint8_t data[100];
    fill_random(data, sizeof data, 2);
    rm_hash_t wrong;
    rm_hash("other", 5, &wrong);
    CHECK(rm_store_put(store, &wrong, data, sizeof data, &err) == -1);
    CHECK(err.code == RM_EPROTO && strstr(err.msg, "hashes to"));
    CHECK(!rm_store_has(store, &wrong));
    rm_store_destroy(&store);
}

static void test_refuses_a_chunk_over_the_size_limit(void)
{
    rm_err_t err;
    rm_store_t *store = open_store();
    if (!store)
        return;
    size_t big_len = RM_MAX_CHUNK_SIZE + 1;
    uint8_t *big = calloc(1, big_len);
    rm_hash_t big_h;
    rm_hash(big, big_len, &big_h);
    CHECK(rm_store_put(store, &big_h, big, big_len, &err) == -1 && err.code == RM_EINVAL);
    CHECK(rm_store_put_data(store, big, big_len, &big_h, &err) == -1 && err.code == RM_EINVAL);
    free(big);
    rm_store_destroy(&store);
}

static void test_a_chunk_it_lacks_is_not_found_by_name(void)
{
    rm_err_t err;
    rm_store_t *store = open_store();
    if (!store)
        return;
    rm_hash_t wrong;
    rm_hash("other", 5, &wrong);
    uint8_t *got = NULL;
    size_t len = 0;
    CHECK(rm_store_get(store, &wrong, &got, &len, &err) == -1 && err.code == RM_ENOTFOUND);
    char hex[65];
    rm_hash_hex(&wrong, hex);
    CHECK(strstr(err.msg, hex) != NULL);
    rm_store_destroy(&store);
}

static void test_refuses_an_empty_root(void)
{
    rm_err_t err;
    rm_store_t *bad = rm_store_new("", &err);
    CHECK(bad == NULL && err.code == RM_EINVAL);
}

/*  A chunk damaged on disk is refused and removed; a good copy can be
    stored again afterwards. */
static void test_a_corrupt_chunk_is_refused_removed_and_replaceable(void)
{
    rm_err_t err;
    rm_store_t *store = open_store();
    if (!store)
        return;
    uint8_t data[3000];
    fill_random(data, sizeof data, 3);
    rm_hash_t h;
    CHECK(rm_store_put_data(store, data, sizeof data, &h, &err) == 0);

    char hex[65], path[1200];
    rm_hash_hex(&h, hex);
    CHECK(snprintf(path, sizeof path, "%s/%.2s/%s", root, hex, hex) < (int)sizeof path);
    FILE *f = fopen(path, "r+b");
    CHECK(f != NULL);
    if (f) {
        fseek(f, 1234, SEEK_SET);
        fputc(data[1234] ^ 0x40, f);
        fclose(f);
    }
    uint8_t *got = NULL;
    size_t len = 0;
    CHECK(rm_store_get(store, &h, &got, &len, &err) == -1);
    CHECK(err.code == RM_EIO && strstr(err.msg, "corrupt") && strstr(err.msg, hex));
    CHECK(got == NULL);
    CHECK(access(path, F_OK) != 0 && !rm_store_has(store, &h));
    CHECK(rm_store_put(store, &h, data, sizeof data, &err) == 0);
    CHECK(rm_store_get(store, &h, &got, &len, &err) == 0 && len == sizeof data);
    free(got);
    rm_store_destroy(&store);
}

/*  A half-written chunk a crash left in tmp/ is gone when the store opens. */
static void test_opening_removes_a_crash_leftover(void)
{
    rm_store_t *store = open_store(); /* makes the store's folders */
    rm_store_destroy(&store);
    rm_err_t err;
    char tmp[1200];
    CHECK(snprintf(tmp, sizeof tmp, "%s/tmp/deadbeef", root) < (int)sizeof tmp);
    FILE *f = fopen(tmp, "wb");
    CHECK(f != NULL);
    if (f) {
        fputs("half a chunk", f);
        fclose(f);
    }
    store = rm_store_new(root, &err);
    CHECK_MSG(store, "%s", err.msg);
    CHECK(access(tmp, F_OK) != 0);
    rm_store_destroy(&store);
}

/*  ROOT/FORMAT says the chunks are named by SHA-256; a store of protocol 1
    (chunks, no FORMAT: BLAKE2b names) or another format is refused by name,
    its chunks left alone. */
static void test_a_store_of_another_hash_is_refused(void)
{
    rm_store_t *store = open_store();
    rm_err_t err;
    uint8_t data[100];
    rm_hash_t h;
    fill_random(data, sizeof data, 7);
    CHECK(store && rm_store_put_data(store, data, sizeof data, &h, &err) == 0);
    rm_store_destroy(&store);
    char format[1200], chunk[1200], hex[65];
    rm_hash_hex(&h, hex);
    snprintf(format, sizeof format, "%s/FORMAT", root);
    snprintf(chunk, sizeof chunk, "%s/%.2s/%s", root, hex, hex);
    FILE *f = fopen(format, "r");
    char text[16] = "";
    CHECK(f && fgets(text, sizeof text, f) && strcmp(text, "sha256\n") == 0);
    if (f)
        fclose(f);
    CHECK(unlink(format) == 0);
    store = rm_store_new(root, &err);
    CHECK(!store && err.code == RM_EINVAL && strstr(err.msg, "named by BLAKE2b") &&
          strstr(err.msg, "start it with a new home"));
    CHECK(access(chunk, F_OK) == 0);
    f = fopen(format, "w");
    CHECK(f && fputs("blake3\n", f) >= 0);
    if (f)
        fclose(f);
    store = rm_store_new(root, &err);
    CHECK(!store && strstr(err.msg, "named by 'blake3'"));
    rm_store_destroy(&store);
}

/*  Chunks written without waiting: there at once, the mark until a sync. */
static void test_unsynced_chunks_are_durable_after_a_sync(void)
{
    rm_err_t err;
    rm_store_t *store = open_store();
    if (!store)
        return;
    uint8_t data[4000];
    fill_random(data, sizeof data, 7);
    rm_hash_t h;
    rm_hash(data, sizeof data, &h);
    char mark[1200];
    CHECK(snprintf(mark, sizeof mark, "%s/unsynced", root) < (int)sizeof mark);
    CHECK(rm_store_sync(store, &err) == 0 && access(mark, F_OK) != 0); /* nothing to do */
    CHECK(rm_store_put_unsynced(store, &h, data, sizeof data, &err) == 0);
    CHECK(rm_store_has(store, &h) && access(mark, F_OK) == 0);
    data[0] ^= 1;
    CHECK(rm_store_put_unsynced(store, &h, data, sizeof data, &err) == -1 && err.code == RM_EPROTO);
    data[0] ^= 1;
    /* Put again, waiting for the disk: it is there, and made durable. */
    CHECK(rm_store_put(store, &h, data, sizeof data, &err) == 0 && access(mark, F_OK) != 0);
    CHECK(rm_store_put_unsynced(store, &h, data, sizeof data, &err) == 0);
    CHECK_MSG(rm_store_sync(store, &err) == 0, "%s", err.msg);
    CHECK(access(mark, F_OK) != 0);
    rm_store_destroy(&store);
    CHECK((store = rm_store_new(root, &err)) != NULL && rm_store_removed_at_open(store) == 0);
    CHECK(store && rm_store_has(store, &h));
    rm_store_destroy(&store);
}

/*  The path of the store's one pack file into path: false if not one. */
static bool pack_file(char *path, size_t size)
{
    char dirpath[600];
    snprintf(dirpath, sizeof dirpath, "%.500s/packs", root);
    DIR *dir = opendir(dirpath);
    int found = 0;
    struct dirent *de;
    while (dir && (de = readdir(dir)) != NULL)
        if (de->d_name[0] != '.' && found++ == 0)
            snprintf(path, size, "%.600s/%.100s", dirpath, de->d_name);
    if (dir)
        closedir(dir);
    return found == 1;
}

/*  A crash before the sync: chunks written since the mark are read back at
    open; one whose data never reached the disk whole is removed. */
static void test_opening_after_a_crash_removes_unsynced_damage(void)
{
    rm_err_t err;
    rm_store_t *store = open_store();
    if (!store)
        return;
    uint8_t a[3000], b[3000];
    fill_random(a, sizeof a, 8);
    fill_random(b, sizeof b, 9);
    rm_hash_t ha, hb;
    rm_hash(a, sizeof a, &ha);
    rm_hash(b, sizeof b, &hb);
    CHECK(rm_store_put_unsynced(store, &ha, a, sizeof a, &err) == 0);
    CHECK(rm_store_put_unsynced(store, &hb, b, sizeof b, &err) == 0);
    rm_store_destroy(&store); /* the crash: no sync, the mark stays */
    /* Delayed allocation lost b's data: zeros where its record's data was
       (both went to the one pack, a then b). */
    char path[1200];
    CHECK(pack_file(path, sizeof path));
    int fd = open(path, O_WRONLY);
    uint8_t zeros[sizeof b] = {0};
    CHECK(fd >= 0 &&
          pwrite(fd, zeros, sizeof zeros, 2 * RM_PACKS_HEADER + sizeof a) == (ssize_t)sizeof zeros);
    if (fd >= 0)
        close(fd);
    store = rm_store_new(root, &err);
    CHECK_MSG(store, "%s", err.msg);
    if (!store)
        return;
    CHECK(rm_store_removed_at_open(store) == 1);
    CHECK(rm_store_has(store, &ha) && !rm_store_has(store, &hb));
    CHECK(snprintf(path, sizeof path, "%s/unsynced", root) < (int)sizeof path);
    CHECK(access(path, F_OK) != 0);
    rm_store_destroy(&store);
}

/*  Fills a 256 KiB tmpfs with 100 KiB chunks until the store says ENOSPC. */
static void fill_until_full(rm_store_t *store, const char *mnt)
{
    rm_err_t err;
    size_t len = 100 * 1024;
    uint8_t *data = malloc(len);
    rm_hash_t stored[8];
    int nstored = 0, full = 0;
    for (int i = 0; i < 8 && !full; i++) {
        fill_random(data, len, 100 + (uint64_t)i);
        rm_hash_t h;
        rm_hash(data, len, &h);
        if (rm_store_put(store, &h, data, len, &err) == 0) {
            stored[nstored++] = h;
            continue;
        }
        full = 1;
        char hex[65];
        rm_hash_hex(&h, hex);
        CHECK_MSG(err.code == RM_ENOSPC, "%s: %s", rm_code_name(err.code), err.msg);
        CHECK_MSG(strstr(err.msg, hex) && strstr(err.msg, mnt), "%s", err.msg);
        CHECK(!rm_store_has(store, &h));
        printf("ENOSPC after %d chunks: %s\n", nstored, err.msg);
    }
    free(data);
    CHECK(full);
    CHECK(nstored >= 1);
    char tmpdir[1024];
    CHECK(snprintf(tmpdir, sizeof tmpdir, "%s/tmp", mnt) < (int)sizeof tmpdir);
    CHECK(count_entries(tmpdir) == 0); /* no partial chunk left behind */

    uint64_t bytes, chunks;
    CHECK(rm_store_usage(store, &bytes, &chunks, &err) == 0 && chunks == (uint64_t)nstored);
    for (int i = 0; i < nstored; i++) {
        uint8_t *got = NULL;
        size_t got_len = 0;
        CHECK(rm_store_get(store, &stored[i], &got, &got_len, &err) == 0 && got_len == len);
        free(got);
    }
}

/*  A full disk: ENOSPC, nothing half-written, what was stored readable. */
static void test_a_full_disk_is_enospc_and_leaves_the_store_whole(void)
{
    if (geteuid() != 0) {
        printf("skipped ENOSPC (needs root)\n");
        return;
    }
    char mnt[1024], cmd[1200];
    snprintf(mnt, sizeof mnt, "%s/full", base);
    CHECK(mkdir(mnt, 0700) == 0);
    snprintf(cmd, sizeof cmd, "mount -t tmpfs -o size=256k tmpfs '%s' 2>/dev/null", mnt);
    if (system(cmd) != 0) {
        printf("skipped ENOSPC (cannot mount tmpfs here)\n");
        return;
    }
    rm_err_t err;
    rm_store_t *store = rm_store_new(mnt, &err);
    CHECK_MSG(store, "%s", err.msg);
    if (store)
        fill_until_full(store, mnt);
    rm_store_destroy(&store);
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
    RM_RUN(test_a_chunk_comes_back_as_it_was_put);
    RM_RUN(test_putting_a_chunk_it_has_is_a_no_op);
    RM_RUN(test_an_empty_chunk_round_trips);
    RM_RUN(test_usage_counts_bytes_and_chunks);
    RM_RUN(test_names_its_root_and_destroys_to_null);
    RM_RUN(test_refuses_data_that_does_not_hash_to_its_name);
    RM_RUN(test_refuses_a_chunk_over_the_size_limit);
    RM_RUN(test_a_chunk_it_lacks_is_not_found_by_name);
    RM_RUN(test_refuses_an_empty_root);
    RM_RUN(test_a_corrupt_chunk_is_refused_removed_and_replaceable);
    RM_RUN(test_opening_removes_a_crash_leftover);
    RM_RUN(test_a_store_of_another_hash_is_refused);
    RM_RUN(test_unsynced_chunks_are_durable_after_a_sync);
    RM_RUN(test_opening_after_a_crash_removes_unsynced_damage);
    RM_RUN(test_a_full_disk_is_enospc_and_leaves_the_store_whole);
    remove_tree(base);
    RM_TEST_DONE();
}
