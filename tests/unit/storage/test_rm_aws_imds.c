/*  rm_aws_imds: when a role's keys are asked again, and what a missing
    metadata service says (the service itself: tests/e2e/test_s3.sh). */
#include "rm_aws_imds.h"
#include "rm_test.h"

static void test_keys_are_renewed_before_they_end(void)
{
    int64_t now = 1800000000;
    CHECK(!rm_aws_imds_stale(0, now)); /* never expires */
    CHECK(!rm_aws_imds_stale(now + 3600, now));
    CHECK(!rm_aws_imds_stale(now + RM_AWS_IMDS_REFRESH_S + 1, now));
    CHECK(rm_aws_imds_stale(now + RM_AWS_IMDS_REFRESH_S, now));
    CHECK(rm_aws_imds_stale(now - 1, now));
}

static void test_no_service_is_said(void)
{
    int port = rm_test_ports(1); /* held by us, nothing listens */
    rm_aws_settings_t s = {0};
    snprintf(s.imds, sizeof s.imds, "http://127.0.0.1:%d", port);
    int64_t expires = 0;
    rm_err_t err = {0};
    CHECK(rm_aws_imds_fetch(&s, &expires, &err) == -1 && err.code == RM_EUNREACH &&
          strstr(err.msg, "no instance metadata service at http://127.0.0.1:") &&
          strstr(err.msg, "AWS_EC2_METADATA_SERVICE_ENDPOINT"));
    CHECK(s.access_key_id[0] == '\0' && s.source == RM_AWS_CREDS_NONE);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    RM_RUN(test_keys_are_renewed_before_they_end);
    RM_RUN(test_no_service_is_said);
    RM_TEST_DONE();
}
