/*  rm_swim_config: memberlist's LAN defaults, and the check that refuses
    settings the engine cannot run with. */
#include "rm_swim_config.h"
#include "rm_test.h"

static void test_defaults_are_memberlist_lan(void)
{
    rm_swim_config_t c;
    rm_err_t err;
    rm_swim_config_default(&c);
    CHECK(c.probe_interval_ms == 1000 && c.probe_timeout_ms == 500 && c.indirect_checks == 3);
    CHECK(c.gossip_interval_ms == 200 && c.gossip_nodes == 3);
    CHECK(c.retransmit_mult == 4 && c.suspicion_mult == 4 && c.suspicion_max_timeout_mult == 6);
    CHECK(c.awareness_max == 8 && c.push_pull_interval_ms == 30000);
    CHECK(c.dead_reap_ms == 24 * 3600 * 1000LL && c.packet_budget == 1400);
    CHECK(c.push_pull_budget == RM_SWIM_MAX_MSG && c.nack && !c.no_inbound);
    CHECK(c.max_relays == 256 && c.max_broadcasts == 4096);
    CHECK_MSG(rm_swim_config_check(&c, &err) == 0, "%s", err.msg);
}

/*  Each bad setting alone is refused with RM_EINVAL. */
static void test_bad_settings_refused(void)
{
    rm_swim_config_t base, c;
    rm_err_t err;
    rm_swim_config_default(&base);
#define REFUSED(field, value)                                                                      \
    do {                                                                                           \
        c = base;                                                                                  \
        c.field = value;                                                                           \
        err.code = RM_OK;                                                                          \
        CHECK_MSG(rm_swim_config_check(&c, &err) == -1 && err.code == RM_EINVAL,                   \
                  "%s = %s accepted", #field, #value);                                             \
    } while (0)
    REFUSED(probe_interval_ms, 0);
    REFUSED(probe_timeout_ms, 0);
    REFUSED(probe_timeout_ms, 1000); /* not below the interval */
    REFUSED(gossip_interval_ms, 0);
    REFUSED(join_retry_ms, -1);
    REFUSED(nat_heartbeat_ms, 0);
    REFUSED(nat_timeout_ms, 0);
    REFUSED(push_pull_interval_ms, -1);
    REFUSED(reconnect_interval_ms, -1);
    REFUSED(dead_reap_ms, -1);
    REFUSED(gossip_to_the_dead_ms, -1);
    REFUSED(retransmit_mult, 0);
    REFUSED(suspicion_mult, 0);
    REFUSED(suspicion_max_timeout_mult, 0);
    REFUSED(awareness_max, 0);
    REFUSED(max_broadcasts, 0);
    REFUSED(packet_budget, 511);
    REFUSED(push_pull_budget, 4095);
#undef REFUSED
}

/*  Zero disables the periodic push-pull and the reconnects. */
static void test_zero_intervals_allowed(void)
{
    rm_swim_config_t c;
    rm_err_t err;
    rm_swim_config_default(&c);
    c.push_pull_interval_ms = 0;
    c.reconnect_interval_ms = 0;
    c.dead_reap_ms = 0;
    CHECK_MSG(rm_swim_config_check(&c, &err) == 0, "%s", err.msg);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    RM_RUN(test_defaults_are_memberlist_lan);
    RM_RUN(test_bad_settings_refused);
    RM_RUN(test_zero_intervals_allowed);
    RM_TEST_DONE();
}
