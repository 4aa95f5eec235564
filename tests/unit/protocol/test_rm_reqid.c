#include "rm_reqid.h"

#include "rm_test.h"

static void test_ids_name_their_owner(void)
{
    for (int owner = RM_REQ_NONE + 1; owner < RM_REQ_OWNER_COUNT; owner++) {
        rm_reqid_t ids;
        rm_reqid_init(&ids, (rm_req_owner_t)owner);
        for (int i = 0; i < 1000; i++) {
            uint64_t req = rm_reqid_next(&ids);
            CHECK(req != 0 && rm_reqid_owner(req) == (rm_req_owner_t)owner);
        }
    }
}

static void test_ids_do_not_repeat(void)
{
    rm_reqid_t ids;
    rm_reqid_init(&ids, RM_REQ_WORK);
    uint64_t prev = rm_reqid_next(&ids);
    for (int i = 0; i < 10000; i++) {
        uint64_t req = rm_reqid_next(&ids);
        CHECK(req == prev + 1);
        prev = req;
    }
}

static void test_sequence_wraps_inside_its_owner(void)
{
    rm_reqid_t ids = {.last = (uint64_t)RM_REQ_XFER << 56 | (((uint64_t)1 << 56) - 1)};
    uint64_t req = rm_reqid_next(&ids);
    CHECK(rm_reqid_owner(req) == RM_REQ_XFER && (req & (((uint64_t)1 << 56) - 1)) == 1);
}

static void test_two_starts_differ(void)
{
    rm_reqid_t a, b;
    rm_reqid_init(&a, RM_REQ_LOGS);
    rm_reqid_init(&b, RM_REQ_LOGS);
    CHECK(rm_reqid_next(&a) != rm_reqid_next(&b)); /* 1 in 4 billion to fail */
}

static void test_foreign_ids_have_no_owner(void)
{
    CHECK(rm_reqid_owner(0) == RM_REQ_NONE);
    CHECK(rm_reqid_owner(1) == RM_REQ_NONE); /* what clients use */
    CHECK(rm_reqid_owner(12345678) == RM_REQ_NONE);
    CHECK(rm_reqid_owner((uint64_t)RM_REQ_OWNER_COUNT << 56) == RM_REQ_NONE);
    CHECK(rm_reqid_owner(UINT64_MAX) == RM_REQ_NONE);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    RM_RUN(test_ids_name_their_owner);
    RM_RUN(test_ids_do_not_repeat);
    RM_RUN(test_sequence_wraps_inside_its_owner);
    RM_RUN(test_two_starts_differ);
    RM_RUN(test_foreign_ids_have_no_owner);
    RM_TEST_DONE();
}
