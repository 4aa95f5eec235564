#include "rm_swim_config.h"

void rm_swim_config_default(rm_swim_config_t *cfg)
{
    *cfg = (rm_swim_config_t){
        .probe_interval_ms = 1000,
        .probe_timeout_ms = 500,
        .indirect_checks = 3,
        .gossip_interval_ms = 200,
        .gossip_nodes = 3,
        .gossip_to_the_dead_ms = 30000,
        .retransmit_mult = 4,
        .suspicion_mult = 4,
        .suspicion_max_timeout_mult = 6,
        .awareness_max = 8,
        .push_pull_interval_ms = 30000,
        .reconnect_interval_ms = 30000,
        .dead_reap_ms = 24 * 3600 * 1000LL,
        .join_retry_ms = 2000,
        .packet_budget = 1400,
        .push_pull_budget = RM_SWIM_MAX_MSG,
        .nack = true,
        .no_inbound = false,
        .nat_heartbeat_ms = 1000,
        .nat_timeout_ms = 5000,
        .max_relays = 256,
        .max_broadcasts = 4096,
    };
}

int rm_swim_config_check(const rm_swim_config_t *c, rm_err_t *err)
{
    if (c->probe_interval_ms <= 0 || c->probe_timeout_ms <= 0 ||
        c->probe_timeout_ms >= c->probe_interval_ms)
        return rm_err_set(err, RM_EINVAL, "probe timeout must be > 0 and below the interval");
    if (c->gossip_interval_ms <= 0 || c->join_retry_ms <= 0 || c->nat_heartbeat_ms <= 0 ||
        c->nat_timeout_ms <= 0 || c->push_pull_interval_ms < 0 || c->reconnect_interval_ms < 0 ||
        c->dead_reap_ms < 0 || c->gossip_to_the_dead_ms < 0)
        return rm_err_set(err, RM_EINVAL, "membership intervals must be positive");
    if (c->retransmit_mult < 1 || c->suspicion_mult < 1 || c->suspicion_max_timeout_mult < 1 ||
        c->awareness_max < 1 || c->max_broadcasts < 1)
        return rm_err_set(err, RM_EINVAL, "membership multipliers must be at least 1");
    if (c->packet_budget < 512 || c->push_pull_budget < 4096)
        return rm_err_set(err, RM_EINVAL, "membership message budgets too small");
    return 0;
}
