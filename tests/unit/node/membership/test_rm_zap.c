/*  rm_zap: the ZAP handler's refusal-log limiter (the handler itself is
    exercised over real sockets by test_rm_node). */
#include "rm_test.h"
#include "rm_zap.h"

int main(void)
{
    rm_refusals_t r = {.window_start = zclock_mono()};
    unsigned logged = 0;
    for (int i = 0; i < 100; i++)
        logged += rm_refusal_log_ok(&r);
    CHECK(logged == RM_REFUSAL_LOGS && r.dropped == 100 - RM_REFUSAL_LOGS);
    /* A new window logs again (and reports what it dropped). */
    r.window_start -= RM_REFUSAL_WINDOW_MS;
    CHECK(rm_refusal_log_ok(&r) && r.dropped == 0 && r.logged == 1);
    RM_TEST_DONE();
}
