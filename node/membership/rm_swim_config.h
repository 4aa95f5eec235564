/*  rm_swim_config: the engine's settings.  rm_swim_config_t and
    rm_swim_config_default (memberlist's LAN defaults) are part of the
    public API in rm_swim.h; this unit implements them and the check every
    configuration passes before an engine is made of it. */
#ifndef RM_SWIM_CONFIG_H
#define RM_SWIM_CONFIG_H

#include "rm_error.h"
#include "rm_swim.h"

/*  0, or -1 with err (RM_EINVAL) saying which setting is out of range:
    timers must be positive (the probe timeout below the interval),
    multipliers at least 1, message budgets big enough for one update. */
int rm_swim_config_check(const rm_swim_config_t *cfg, rm_err_t *err);

#endif
