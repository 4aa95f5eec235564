/*  rm_logs: cutting a frame's log out of its task log, reading task logs,
    and reading a log back from the chunk store (real files, a real store). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rm_logs.h"
#include "rm_manifest.h"
#include "rm_msg.h"
#include "rm_test.h"

static char root[] = "/tmp/rm-test-logs.XXXXXX";

static void append(const char *path, const char *text)
{
    FILE *f = fopen(path, "a");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = calloc(1, 1 << 16);
    size_t n = fread(buf, 1, (1 << 16) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void test_frame_path(void)
{
    char buf[64];
    CHECK(rm_logs_frame_path("/j/logs/frames_0001-0004.log", 3, buf, sizeof buf) == 0 &&
          strcmp(buf, "/j/logs/frame_0003.log") == 0);
    CHECK(rm_logs_frame_path("frames_1.log", 12345, buf, sizeof buf) == 0 &&
          strcmp(buf, "./frame_12345.log") == 0);
    CHECK(rm_logs_frame_path("/a/very/long/folder/name/frames_1.log", 1, buf, 16) == -1);
}

/*  Each frame gets what the task log gained since the previous frame. */
static void test_cut(void)
{
    char task[300], f1[300], f2[300];
    snprintf(task, sizeof task, "%s/frames_0001-0002.log", root);
    snprintf(f1, sizeof f1, "%s/frame_0001.log", root);
    snprintf(f2, sizeof f2, "%s/frame_0002.log", root);
    append(task, "an earlier task's lines\n");
    uint64_t from = 24; /* the task began here */
    append(task, "Read blend\nFra:1 Sample 1/2\nSaved: 'frame_0001.png'\n");
    rm_err_t err;
    CHECK_MSG(rm_logs_cut(task, &from, f1, &err) == 0, "%s", err.msg);
    append(task, "Fra:2 Sample 1/2\nSaved: 'frame_0002.png'\n");
    CHECK_MSG(rm_logs_cut(task, &from, f2, &err) == 0, "%s", err.msg);
    char *a = slurp(f1), *b = slurp(f2);
    CHECK(a && strcmp(a, "Read blend\nFra:1 Sample 1/2\nSaved: 'frame_0001.png'\n") == 0);
    CHECK(b && strcmp(b, "Fra:2 Sample 1/2\nSaved: 'frame_0002.png'\n") == 0);
    free(a);
    free(b);
    /* Nothing new: an empty log.  A log that shrank is copied whole. */
    CHECK(rm_logs_cut(task, &from, f2, &err) == 0 && (b = slurp(f2)) && b[0] == '\0');
    free(b);
    from = 1u << 30;
    CHECK(rm_logs_cut(task, &from, f2, &err) == 0 && (b = slurp(f2)) &&
          strncmp(b, "an earlier", 10) == 0);
    free(b);
    char missing[300];
    snprintf(missing, sizeof missing, "%s/nope.log", root);
    CHECK(rm_logs_cut(missing, &from, f2, &err) == -1 && err.code == RM_ENOTFOUND);
}

static void test_task_logs(void)
{
    char dir[300], path[400];
    snprintf(dir, sizeof dir, "%s/job", root);
    snprintf(path, sizeof path, "mkdir -p %s/logs", dir);
    CHECK(system(path) == 0);
    snprintf(path, sizeof path, "%s/logs/frames_0001-0003.log", dir);
    append(path, "task one\n");
    snprintf(path, sizeof path, "%s/logs/frames_0007.log", dir);
    append(path, "task seven\n");
    snprintf(path, sizeof path, "%s/logs/frame_0002.log", dir); /* a frame's own: not a task log */
    append(path, "frame two\n");
    uint8_t *buf = NULL;
    size_t len = 0;
    bool truncated = false;
    CHECK(rm_logs_append_task_logs(dir, 2, &buf, &len, &truncated));
    CHECK(len == 9 && memcmp(buf, "task one\n", 9) == 0 && !truncated);
    CHECK(rm_logs_append_task_logs(dir, 7, &buf, &len, &truncated));
    CHECK(len == 20 && memcmp(buf + 9, "task seven\n", 11) == 0);
    CHECK(!rm_logs_append_task_logs(dir, 4, &buf, &len, &truncated) && len == 20);
    free(buf);
}

/*  A log stored as a one-file manifest reads back; only its tail if it is
    longer than a LOGS reply holds; a missing one is ENOTFOUND. */
static void test_stored(void)
{
    char dir[300], path[300];
    snprintf(dir, sizeof dir, "%s/chunks", root);
    rm_err_t err;
    rm_store_t *store = rm_store_new(dir, &err);
    CHECK_MSG(store != NULL, "%s", err.msg);
    if (!store)
        return;
    snprintf(path, sizeof path, "%s/stored_0001.log", root);
    append(path, "Fra:1\nSaved: 'frame_0001.png'\n");
    rm_hash_t hash;
    uint64_t size = 0;
    CHECK(rm_manifest_store_file(store, path, "frame_0001.log", &hash, &size, &err) == 0);
    uint8_t *text = NULL;
    size_t len = 0;
    bool truncated = true;
    CHECK_MSG(rm_logs_read_stored(store, &hash, &text, &len, &truncated, &err) == 0, "%s", err.msg);
    CHECK_MSG(len == size && !truncated && memcmp(text, "Fra:1\nSaved", 11) == 0,
              "len %zu size %llu truncated %d", len, (unsigned long long)size, truncated);
    free(text);

    /* 5 MiB of numbered lines: the last 4 MiB come back, ending as the file. */
    snprintf(path, sizeof path, "%s/stored_0002.log", root);
    FILE *f = fopen(path, "w");
    for (int i = 0; f && i < 5 * 1024 * 1024 / 16; i++)
        fprintf(f, "line %010d\n", i);
    if (f)
        fclose(f);
    CHECK(rm_manifest_store_file(store, path, "frame_0002.log", &hash, &size, &err) == 0);
    CHECK(rm_logs_read_stored(store, &hash, &text, &len, &truncated, &err) == 0);
    CHECK(len == RM_MAX_LOG && truncated);
    CHECK(text && memcmp(text + len - 16, "line 0000327679\n", 16) == 0);
    CHECK(text && memcmp(text, "line 0000065536\n", 16) == 0);
    free(text);

    rm_hash_t none;
    memset(none.b, 0x42, 32);
    CHECK(rm_logs_read_stored(store, &none, &text, &len, &truncated, &err) == -1 &&
          err.code == RM_ENOTFOUND && !text && len == 0);
    rm_store_destroy(&store);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    CHECK(mkdtemp(root) != NULL);
    RM_RUN(test_frame_path);
    RM_RUN(test_cut);
    RM_RUN(test_task_logs);
    RM_RUN(test_stored);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    CHECK(system(cmd) == 0);
    RM_TEST_DONE();
}
