#include "rm_rate.h"

void rm_rate_init(rm_rate_t *rate, uint64_t bytes_per_s, int64_t now_ms)
{
    rate->bytes_per_s = bytes_per_s;
    rate->burst = (int64_t)(bytes_per_s / 4);
    rate->tokens = rate->burst;
    rate->at = now_ms;
}

bool rm_rate_limited(const rm_rate_t *rate)
{
    return rate->bytes_per_s > 0;
}

static void refill(rm_rate_t *rate, int64_t now_ms)
{
    if (now_ms <= rate->at)
        return;
    /* In whole milliseconds' worth, so that no fraction is lost. */
    int64_t add = (int64_t)((uint64_t)(now_ms - rate->at) * rate->bytes_per_s / 1000);
    if (add == 0)
        return;
    rate->tokens = rate->tokens + add > rate->burst ? rate->burst : rate->tokens + add;
    rate->at = now_ms;
}

int64_t rm_rate_wait(rm_rate_t *rate, int64_t now_ms)
{
    if (!rm_rate_limited(rate))
        return 0;
    refill(rate, now_ms);
    if (rate->tokens >= 0)
        return 0;
    /* Rounded up: asked again then, it is back to zero. */
    return (int64_t)(((uint64_t)-rate->tokens * 1000 + rate->bytes_per_s - 1) / rate->bytes_per_s);
}

void rm_rate_take(rm_rate_t *rate, uint64_t bytes, int64_t now_ms)
{
    if (!rm_rate_limited(rate))
        return;
    refill(rate, now_ms);
    rate->tokens -= (int64_t)bytes;
}

void rm_rate_refund(rm_rate_t *rate, uint64_t bytes)
{
    if (!rm_rate_limited(rate))
        return;
    rate->tokens =
        rate->tokens + (int64_t)bytes > rate->burst ? rate->burst : rate->tokens + (int64_t)bytes;
}
