#include "rm_swim_suspects.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_swim.h"
#include "rm_swim_array.h"

#define MAX_CONFIRM 16 /* confirmations tracked (k is at most this) */

typedef struct {
    char *name;
    uint64_t inc;
    int64_t start, deadline, min, max;
    unsigned k, confirmations;
    char *who[MAX_CONFIRM + 1]; /* the first accuser, then each confirmer */
    unsigned nwho;
    bool ours; /* one of our own probes failed on it */
} suspicion_t;

struct _rm_swim_suspects_t {
    suspicion_t *s;
    uint32_t n, cap;
    unsigned mult, max_mult;
    int64_t probe_interval_ms;
};

/*  Natural log for x >= 1 by ln(m * 2^e) = e ln 2 + 2 atanh((m-1)/(m+1)):
    the node library does not link libm, and 1e-12 is plenty for timers. */
static double ln(double x)
{
    const double ln2 = 0.69314718055994530942;
    int e = 0;
    if (x <= 0)
        return 0;
    while (x >= 2) {
        x /= 2;
        e++;
    }
    while (x < 1) {
        x *= 2;
        e--;
    }
    double z = (x - 1) / (x + 1), z2 = z * z, term = z, sum = 0;
    for (int i = 1; i < 40; i += 2) {
        sum += term / i;
        term *= z2;
    }
    return e * ln2 + 2 * sum;
}

rm_swim_suspects_t *rm_swim_suspects_new(unsigned mult, unsigned max_mult,
                                         int64_t probe_interval_ms)
{
    rm_swim_suspects_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->mult = mult;
    self->max_mult = max_mult;
    self->probe_interval_ms = probe_interval_ms;
    return self;
}

void rm_swim_suspects_destroy(rm_swim_suspects_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rm_swim_suspects_t *self = *self_p;
    while (self->n)
        rm_swim_suspects_drop(self, self->s[0].name);
    free(self->s);
    free(self);
    *self_p = NULL;
}

static suspicion_t *suspicion_of(rm_swim_suspects_t *self, const char *name)
{
    for (uint32_t i = 0; i < self->n; i++)
        if (strcmp(self->s[i].name, name) == 0)
            return &self->s[i];
    return NULL;
}

void rm_swim_suspects_drop(rm_swim_suspects_t *self, const char *name)
{
    suspicion_t *p = suspicion_of(self, name);
    if (!p)
        return;
    free(p->name);
    for (unsigned i = 0; i < p->nwho; i++)
        free(p->who[i]);
    *p = self->s[--self->n];
}

/*  min = mult * max(1, log10(n)) * probe_interval (memberlist). */
static int64_t timeout_min(const rm_swim_suspects_t *self, uint32_t live)
{
    double scale = live > 10 ? ln((double)live) / ln(10.0) : 1.0;
    return (int64_t)((double)self->mult * scale * (double)self->probe_interval_ms);
}

void rm_swim_suspects_start(rm_swim_suspects_t *self, const char *name, uint64_t inc,
                            const char *from, bool ours, int64_t now, uint32_t live)
{
    rm_swim_suspects_drop(self, name);
    if (rm_swim_array_grow((void **)&self->s, &self->cap, self->n + 1, sizeof *self->s))
        return;
    suspicion_t p = {.name = strdup(name), .inc = inc, .start = now};
    p.k = self->mult > 2 ? self->mult - 2 : 0;
    if (p.k > MAX_CONFIRM)
        p.k = MAX_CONFIRM;
    if (live < p.k + 2)
        p.k = 0;
    p.min = timeout_min(self, live);
    p.max = (int64_t)self->max_mult * p.min;
    p.deadline = p.start + (p.k ? p.max : p.min);
    p.who[0] = strdup(from);
    p.nwho = 1;
    p.ours = ours;
    if (!p.name || !p.who[0]) {
        free(p.name);
        free(p.who[0]);
        return;
    }
    self->s[self->n++] = p;
}

bool rm_swim_suspects_confirm(rm_swim_suspects_t *self, const char *name, const char *from,
                              bool ours)
{
    suspicion_t *p = suspicion_of(self, name);
    if (!p || p->confirmations >= p->k)
        return false;
    for (unsigned i = 0; i < p->nwho; i++)
        if (strcmp(p->who[i], from) == 0)
            return false;
    char *c = strdup(from);
    if (!c)
        return false;
    p->who[p->nwho++] = c;
    p->confirmations++;
    p->ours = p->ours || ours;
    double frac = ln(p->confirmations + 1.0) / ln(p->k + 1.0);
    int64_t timeout = p->max - (int64_t)(frac * (double)(p->max - p->min));
    if (timeout < p->min)
        timeout = p->min;
    p->deadline = p->start + timeout;
    return true;
}

bool rm_swim_suspects_expired(rm_swim_suspects_t *self, int64_t now, char *name, uint64_t *inc)
{
    for (uint32_t i = 0; i < self->n; i++) {
        if (now < self->s[i].deadline)
            continue;
        snprintf(name, RM_SWIM_MAX_NAME + 1, "%s", self->s[i].name);
        *inc = self->s[i].inc;
        rm_swim_suspects_drop(self, name);
        return true;
    }
    return false;
}

int64_t rm_swim_suspects_deadline(const rm_swim_suspects_t *self)
{
    int64_t d = RM_SWIM_NO_DEADLINE;
    for (uint32_t i = 0; i < self->n; i++)
        if (self->s[i].deadline < d)
            d = self->s[i].deadline;
    return d;
}

uint32_t rm_swim_suspects_count(const rm_swim_suspects_t *self)
{
    return self->n;
}

const char *rm_swim_suspects_name(const rm_swim_suspects_t *self, uint32_t i, bool *ours)
{
    *ours = self->s[i].ours;
    return self->s[i].name;
}
