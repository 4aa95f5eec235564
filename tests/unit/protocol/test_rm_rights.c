/*  Tests of what each role may ask of a node. */
#include "rm_rights.h"
#include "rm_test.h"

static void test_roles(void)
{
    CHECK(rm_role_known("admin") && rm_role_known("artist") && rm_role_known("node"));
    CHECK(rm_role_known("client")); /* credentials from before roles */
    CHECK(!rm_role_known("root") && !rm_role_known("") && !rm_role_known(NULL));
    CHECK(strcmp(rm_role_effective("client"), "admin") == 0);
    CHECK(strcmp(rm_role_effective("artist"), "artist") == 0);
}

static void test_rights(void)
{
    for (int r = 0; r < RM_RIGHT_COUNT; r++)
        CHECK(rm_role_has("admin", (rm_right_t)r) ==
              (r != RM_RIGHT_MESH && r != RM_RIGHT_COORDINATE));
    CHECK(rm_role_has("client", RM_RIGHT_DRAIN) && rm_role_has("client", RM_RIGHT_REVOKE));
    CHECK(rm_role_has("artist", RM_RIGHT_VIEW) && rm_role_has("artist", RM_RIGHT_SUBMIT) &&
          rm_role_has("artist", RM_RIGHT_OWN_JOBS));
    CHECK(!rm_role_has("artist", RM_RIGHT_ANY_JOB) && !rm_role_has("artist", RM_RIGHT_DRAIN) &&
          !rm_role_has("artist", RM_RIGHT_REVOKE) && !rm_role_has("artist", RM_RIGHT_MESH));
    /* A node cannot submit or manage jobs: a stolen node credential does
       not make jobs. */
    CHECK(rm_role_has("node", RM_RIGHT_MESH) && rm_role_has("node", RM_RIGHT_VIEW));
    CHECK(!rm_role_has("node", RM_RIGHT_SUBMIT) && !rm_role_has("node", RM_RIGHT_ANY_JOB) &&
          !rm_role_has("node", RM_RIGHT_DRAIN));
    /* A worker is a node that never coordinates; people never do. */
    CHECK(rm_role_known("worker") && rm_role_has("worker", RM_RIGHT_MESH) &&
          !rm_role_has("worker", RM_RIGHT_COORDINATE) && !rm_role_has("worker", RM_RIGHT_SUBMIT));
    CHECK(rm_role_has("node", RM_RIGHT_COORDINATE) && !rm_role_has("admin", RM_RIGHT_COORDINATE));
    CHECK(!rm_role_has("mallory", RM_RIGHT_VIEW) && !rm_role_has(NULL, RM_RIGHT_VIEW));
    CHECK(!rm_role_has("admin", RM_RIGHT_COUNT));
}

static void test_refusal_names_the_missing_right(void)
{
    rm_cred_t bob = {.role = "artist", .name = "bob"};
    rm_cred_t ann = {.role = "admin", .name = "ann"};
    rm_err_t err;
    CHECK(rm_rights_require(&ann, RM_RIGHT_DRAIN, &err) == 0);
    CHECK(rm_rights_require(&bob, RM_RIGHT_DRAIN, &err) == -1 && err.code == RM_EDENIED);
    CHECK_MSG(strcmp(err.msg, "artist 'bob' may not drain nodes: that needs the admin role") == 0,
              "%s", err.msg);
    rm_cred_t n1 = {.role = "node", .name = "n1"};
    CHECK(rm_rights_require(&n1, RM_RIGHT_SUBMIT, &err) == -1);
    CHECK_MSG(
        strcmp(err.msg, "node 'n1' may not submit jobs: that needs the admin or artist role") == 0,
        "%s", err.msg);
}

int main(void)
{
    RM_RUN(test_roles);
    RM_RUN(test_rights);
    RM_RUN(test_refusal_names_the_missing_right);
    RM_TEST_DONE();
}
