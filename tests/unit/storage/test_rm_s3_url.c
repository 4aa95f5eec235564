/*  Tests for rm_s3_url: the S3 URLs users give meshctl. */
#include "rm_s3_url.h"
#include "rm_test.h"

static void test_parses_bucket_and_key(void)
{
    rm_s3_url_t u;
    rm_err_t err;
    CHECK(rm_s3_url_parse("s3://studio-renders/shots/sh010/scene.blend", "x", &u, &err) == 0);
    CHECK(strcmp(u.bucket, "studio-renders") == 0);
    CHECK(strcmp(u.key, "shots/sh010/scene.blend") == 0);
    CHECK(!rm_s3_url_is_prefix(&u));
    CHECK(rm_s3_url_parse("s3://my.bucket/out/sh010/", "x", &u, &err) == 0);
    CHECK(strcmp(u.key, "out/sh010/") == 0 && rm_s3_url_is_prefix(&u));
    CHECK(rm_s3_url_parse("s3://bucket", "x", &u, &err) == 0);
    CHECK(u.key[0] == '\0' && rm_s3_url_is_prefix(&u));
    CHECK(rm_s3_url_parse("s3://bucket/", "x", &u, &err) == 0);
    CHECK(u.key[0] == '\0');
}

static void check_refused(const char *url, const char *want)
{
    rm_s3_url_t u;
    rm_err_t err = {0};
    CHECK_MSG(rm_s3_url_parse(url, "--out", &u, &err) != 0, "%s accepted", url);
    CHECK(err.code == RM_EINVAL);
    CHECK_MSG(strstr(err.msg, "--out") && strstr(err.msg, want), "%s: %s", url, err.msg);
}

static void test_refuses_what_s3_or_the_signer_cannot_take(void)
{
    check_refused("/tmp/out", "not an S3 URL");
    check_refused("S3://bucket/x", "not an S3 URL");
    check_refused("s3://", "not a bucket name");
    check_refused("s3://ab/x", "not a bucket name");
    check_refused("s3://Bucket/x", "not a bucket name");
    check_refused("s3://-bucket/x", "not a bucket name");
    check_refused("s3://bucket_1/x", "not a bucket name");
    check_refused("s3://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/x",
                  "at most");
    check_refused("s3://bucket/a b.png", "keys here");
    check_refused("s3://bucket/a//b", "keys here");
    check_refused("s3://bucket/a/../b", "keys here");
    check_refused("s3://bucket/./b", "keys here");
    check_refused("s3://bucket//", "keys here");
}

static void test_tells_urls_from_paths(void)
{
    CHECK(rm_s3_url_is("s3://b/k"));
    CHECK(!rm_s3_url_is("./s3://b"));
    CHECK(!rm_s3_url_is(NULL));
    CHECK(rm_s3_bucket_ok("abc") && rm_s3_bucket_ok("a.b-c9"));
    CHECK(!rm_s3_bucket_ok("ab.") && !rm_s3_bucket_ok(""));
}

static void test_bucket_lists(void)
{
    rm_s3_url_t u;
    rm_err_t err;
    CHECK(rm_s3_url_parse("s3://renders/sh010/", "x", &u, &err) == 0);
    CHECK(rm_s3_url_bucket_listed("", &u) && rm_s3_url_bucket_listed(NULL, &u));
    CHECK(rm_s3_url_bucket_listed("projects, renders", &u));
    CHECK(rm_s3_url_bucket_listed("renders", &u));
    CHECK(rm_s3_url_bucket_listed(" renders ,projects", &u));
    CHECK(!rm_s3_url_bucket_listed("projects", &u));
    CHECK(!rm_s3_url_bucket_listed("render, renders2, xrenders", &u));
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    RM_RUN(test_parses_bucket_and_key);
    RM_RUN(test_refuses_what_s3_or_the_signer_cannot_take);
    RM_RUN(test_tells_urls_from_paths);
    RM_RUN(test_bucket_lists);
    RM_TEST_DONE();
}
