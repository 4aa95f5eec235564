/*  rm_uploads without an S3 server: what it does when S3 cannot be
    reached (the upload waits and is tried again, later each time), with a
    file S3 cannot take here (failed at once, named), and with an upload
    dropped (no more tries).  What reaches S3 is tested against moto in
    tests/e2e/test_s3_jobs.sh. */
#include <czmq.h>
#include <stdlib.h>
#include <string.h>

#include "rm_fs.h"
#include "rm_manifest.h"
#include "rm_test.h"
#include "rm_uploads.h"

static char dir[] = "/tmp/rm_uploads_test.XXXXXX";

static rm_store_t *store;

/*  A one-file output manifest named `name`. */
static rm_hash_t output(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/frame.png", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    fputs("not really a png", f);
    fclose(f);
    rm_hash_t hash;
    uint64_t size;
    rm_err_t err;
    CHECK_MSG(rm_manifest_store_file(store, path, name, &hash, &size, &err) == 0, "%s", err.msg);
    return hash;
}

static bool next_event(rm_uploads_t *up, int timeout_ms, rm_upload_event_t *ev)
{
    zpoller_t *poller = zpoller_new(rm_uploads_actor(up), NULL);
    bool got = zpoller_wait(poller, timeout_ms) != NULL && rm_uploads_recv(up, ev) == 0;
    zpoller_destroy(&poller);
    return got;
}

/*  Nothing listens on the endpoint: every try is a connection error. */
static rm_aws_settings_t unreachable(void)
{
    rm_aws_settings_t s;
    memset(&s, 0, sizeof s);
    snprintf(s.region, sizeof s.region, "us-east-1");
    int port = rm_test_ports(1); /* held, never bound: connections are refused */
    CHECK(port > 0);
    snprintf(s.endpoint, sizeof s.endpoint, "http://127.0.0.1:%d", port);
    s.path_style = true;
    s.max_attempts = 1;
    snprintf(s.access_key_id, sizeof s.access_key_id, "AKIDEXAMPLE");
    snprintf(s.secret_access_key, sizeof s.secret_access_key, "secret");
    s.source = RM_AWS_CREDS_ENV;
    return s;
}

static void test_waits_while_s3_cannot_be_reached(void)
{
    rm_aws_settings_t s = unreachable();
    rm_err_t err;
    char tmp[128];
    snprintf(tmp, sizeof tmp, "%s/tmp", dir);
    rm_uploads_t *up = rm_uploads_new(&s, store, tmp, 20, &err);
    CHECK(up != NULL);
    rm_hash_t out = output("frame_0001.png");
    CHECK(rm_uploads_add(up, 7, "renders", "sh010/", &out, &err) == 0);
    rm_upload_event_t ev;
    for (int i = 0; i < 3; i++) {
        CHECK(next_event(up, 5000, &ev));
        CHECK(ev.id == 7 && ev.state == RM_UPLOAD_WAITING && ev.code == RM_EUNREACH);
        CHECK_MSG(strstr(ev.text, "s3://renders/sh010/frame_0001.png") != NULL, "%s", ev.text);
    }
    /* Dropped: no more tries, so no more events. */
    rm_uploads_drop(up, 7);
    while (next_event(up, 300, &ev))
        CHECK(ev.id == 7 && ev.state == RM_UPLOAD_WAITING); /* one already on its way */
    CHECK(!next_event(up, 500, &ev));
    rm_uploads_destroy(&up);
    CHECK(up == NULL);
}

static void test_fails_a_name_s3_cannot_take(void)
{
    rm_aws_settings_t s = unreachable();
    rm_err_t err;
    rm_uploads_t *up = rm_uploads_new(&s, store, dir, 20, &err);
    CHECK(up != NULL);
    rm_hash_t out = output("passes/my pass_0001.exr");
    CHECK(rm_uploads_add(up, 9, "renders", "sh010/", &out, &err) == 0);
    rm_upload_event_t ev;
    CHECK(next_event(up, 5000, &ev));
    CHECK(ev.id == 9 && ev.state == RM_UPLOAD_FAILED && ev.code == RM_EINVAL);
    CHECK_MSG(strstr(ev.text, "passes/my pass_0001.exr") != NULL, "%s", ev.text);
    rm_uploads_destroy(&up);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    CHECK(mkdtemp(dir) != NULL);
    char path[128];
    snprintf(path, sizeof path, "%s/chunks", dir);
    rm_err_t err;
    store = rm_store_new(path, &err);
    CHECK(store != NULL);
    RM_RUN(test_waits_while_s3_cannot_be_reached);
    RM_RUN(test_fails_a_name_s3_cannot_take);
    rm_store_destroy(&store);
    rm_fs_remove_tree(dir, &err);
    RM_TEST_DONE();
}
