/*  rm_swim_members: entries in an array grown by an eighth, strings in an
    arena, names in a hash index.  The arena and the index hold no
    pointers into the table; they ask it (record_of, member_key_of). */
#include "rm_swim_members.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_swim_arena.h"
#include "rm_swim_array.h"
#include "rm_swim_names.h"

typedef rm_swim_members_entry_t entry_t;

struct _rm_swim_members_t {
    entry_t *e;
    uint32_t n, cap;
    rm_swim_arena_t *arena;
    rm_swim_names_t *names;
    int64_t epoch;
    uint32_t live, dead, left;
};

static const char *name_at(const rm_swim_members_t *self, const entry_t *m)
{
    return rm_swim_arena_at(self->arena, m->str);
}

static const char *addr_at(const rm_swim_members_t *self, const entry_t *m)
{
    return rm_swim_arena_at(self->arena, m->str + m->addr_off);
}

static const uint8_t *meta_at(const rm_swim_members_t *self, const entry_t *m)
{
    const char *a = addr_at(self, m);
    return (const uint8_t *)a + strlen(a) + 1;
}

/*  Bytes of its record in the arena. */
static size_t record_size(const rm_swim_members_t *self, const entry_t *m)
{
    return (size_t)((const char *)meta_at(self, m) - name_at(self, m)) + m->meta_len;
}

static uint32_t *record_of(void *owner, uint32_t i, size_t *size)
{
    rm_swim_members_t *self = owner;
    if (i >= self->n)
        return NULL;
    *size = record_size(self, &self->e[i]);
    return &self->e[i].str;
}

static const char *member_key_of(const void *owner, uint32_t idx)
{
    const rm_swim_members_t *self = owner;
    return name_at(self, &self->e[idx]);
}

rm_swim_members_t *rm_swim_members_new(int64_t epoch)
{
    rm_swim_members_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->epoch = epoch;
    self->arena = rm_swim_arena_new(record_of, self);
    self->names = rm_swim_names_new(member_key_of, self);
    if (!self->arena || !self->names)
        rm_swim_members_destroy(&self);
    return self;
}

void rm_swim_members_destroy(rm_swim_members_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rm_swim_members_t *self = *self_p;
    rm_swim_arena_destroy(&self->arena);
    rm_swim_names_destroy(&self->names);
    free(self->e);
    free(self);
    *self_p = NULL;
}

static void count_state(rm_swim_members_t *self, uint8_t state, int delta)
{
    if (state == RM_SWIM_ALIVE || state == RM_SWIM_SUSPECT)
        self->live += (uint32_t)delta;
    else if (state == RM_SWIM_DEAD)
        self->dead += (uint32_t)delta;
    else if (state == RM_SWIM_LEFT)
        self->left += (uint32_t)delta;
}

void rm_swim_members_set_state(rm_swim_members_t *self, uint32_t idx, uint8_t state)
{
    count_state(self, self->e[idx].state, -1);
    self->e[idx].state = state;
    count_state(self, state, +1);
}

static int32_t stamp_of(const rm_swim_members_t *self, int64_t now)
{
    int64_t d = (now - self->epoch) / 100;
    return d > INT32_MAX ? INT32_MAX : (int32_t)d;
}

void rm_swim_members_stamp(rm_swim_members_t *self, uint32_t idx, int64_t now)
{
    self->e[idx].stamp = stamp_of(self, now);
}

int64_t rm_swim_members_since(const rm_swim_members_t *self, uint32_t idx, int64_t now)
{
    return now - (self->epoch + (int64_t)self->e[idx].stamp * 100);
}

int64_t rm_swim_members_add(rm_swim_members_t *self, int64_t now, const char *name,
                            const char *addr, uint64_t inc, uint8_t state, uint8_t flags,
                            const uint8_t *meta, size_t meta_len)
{
    uint32_t off;
    uint16_t ao;
    if (rm_swim_array_grow((void **)&self->e, &self->cap, self->n + 1, sizeof *self->e) ||
        rm_swim_names_reserve(self->names, self->n + 1) ||
        rm_swim_arena_put(self->arena, name, addr, meta, meta_len, &off, &ao))
        return -1;
    uint32_t idx = self->n++;
    self->e[idx] = (entry_t){inc, off, stamp_of(self, now), ao, (uint16_t)meta_len, 0, flags};
    rm_swim_members_set_state(self, idx, state);
    rm_swim_names_set(self->names, name, idx);
    return idx;
}

void rm_swim_members_remove(rm_swim_members_t *self, uint32_t idx)
{
    uint32_t last = self->n - 1;
    rm_swim_names_remove(self->names, name_at(self, &self->e[idx]));
    count_state(self, self->e[idx].state, -1);
    rm_swim_arena_release(self->arena, record_size(self, &self->e[idx]));
    if (idx != last) {
        self->e[idx] = self->e[last];
        rm_swim_names_set(self->names, name_at(self, &self->e[idx]), idx);
    }
    self->n--;
}

uint32_t rm_swim_members_reserve(rm_swim_members_t *self, const rm_swim_wire_update_t *states,
                                 uint32_t count)
{
    uint64_t bytes = 0;
    uint32_t need = self->n;
    for (uint32_t i = 0; i < count; i++) {
        const rm_swim_wire_update_t *u = &states[i];
        if (u->state != RM_SWIM_ALIVE || rm_swim_members_find(self, u->name) >= 0)
            continue;
        need++;
        bytes += strlen(u->name) + strlen(u->addr) + 2 + u->meta.len;
    }
    rm_swim_arena_reserve(self->arena, bytes);
    if (need > self->cap) {
        entry_t *e = realloc(self->e, (size_t)need * sizeof *e);
        if (e) {
            self->e = e;
            self->cap = need;
        }
    }
    return need;
}

uint32_t rm_swim_members_count(const rm_swim_members_t *self)
{
    return self->n;
}

uint32_t rm_swim_members_live(const rm_swim_members_t *self)
{
    return self->live;
}

uint32_t rm_swim_members_dead(const rm_swim_members_t *self)
{
    return self->dead;
}

uint32_t rm_swim_members_left(const rm_swim_members_t *self)
{
    return self->left;
}

size_t rm_swim_members_count_in(const rm_swim_members_t *self, unsigned mask)
{
    size_t n = 0;
    for (uint32_t i = 0; i < self->n; i++)
        if (mask & RM_SWIM_MASK(self->e[i].state))
            n++;
    return n;
}

int64_t rm_swim_members_find(const rm_swim_members_t *self, const char *name)
{
    return rm_swim_names_find(self->names, name);
}

rm_swim_members_entry_t *rm_swim_members_at(const rm_swim_members_t *self, uint32_t idx)
{
    return &self->e[idx];
}

const char *rm_swim_members_name(const rm_swim_members_t *self, uint32_t idx)
{
    return name_at(self, &self->e[idx]);
}

const char *rm_swim_members_addr(const rm_swim_members_t *self, uint32_t idx)
{
    return addr_at(self, &self->e[idx]);
}

const uint8_t *rm_swim_members_meta(const rm_swim_members_t *self, uint32_t idx)
{
    return self->e[idx].meta_len ? meta_at(self, &self->e[idx]) : NULL;
}

/*  The arguments may point into the arena, which the put may move: they
    are copied first. */
int rm_swim_members_set_strings(rm_swim_members_t *self, uint32_t idx, const char *addr,
                                const uint8_t *meta, size_t meta_len)
{
    char name[RM_SWIM_MAX_NAME + 1], a[RM_SWIM_MAX_ADDR + 1];
    uint8_t mt[RM_SWIM_MAX_META];
    entry_t *m = &self->e[idx];
    if (meta_len > sizeof mt || strlen(addr) >= sizeof a)
        return -1;
    snprintf(name, sizeof name, "%s", name_at(self, m));
    snprintf(a, sizeof a, "%s", addr);
    if (meta_len)
        memcpy(mt, meta, meta_len);
    size_t old = record_size(self, m);
    uint32_t off;
    uint16_t ao;
    if (rm_swim_arena_put(self->arena, name, a, mt, meta_len, &off, &ao))
        return -1;
    rm_swim_arena_release(self->arena, old);
    m->str = off;
    m->addr_off = ao;
    m->meta_len = (uint16_t)meta_len;
    return 0;
}

void rm_swim_members_wire(const rm_swim_members_t *self, uint32_t idx, uint8_t state,
                          const char *from, rm_swim_wire_update_t *u)
{
    const entry_t *m = &self->e[idx];
    *u = (rm_swim_wire_update_t){(char *)name_at(self, m),
                                 (char *)addr_at(self, m),
                                 m->inc,
                                 state,
                                 (char *)from,
                                 m->flags,
                                 {m->meta_len ? (uint8_t *)meta_at(self, m) : NULL, m->meta_len}};
}

uint32_t rm_swim_members_plan_parts(const rm_swim_members_t *self, size_t budget, uint32_t *starts)
{
    if (budget > RM_SWIM_MAX_MSG)
        budget = RM_SWIM_MAX_MSG;
    budget = budget > RM_SWIM_WIRE_PART_SLACK * 2 ? budget - RM_SWIM_WIRE_PART_SLACK
                                                  : RM_SWIM_WIRE_PART_SLACK;
    uint32_t parts = 1, in_part = 0;
    size_t used = 0;
    starts[0] = 0;
    for (uint32_t i = 0; i < self->n; i++) {
        size_t e = record_size(self, &self->e[i]) + RM_SWIM_WIRE_STATE_SLACK;
        if (in_part > 0 && (used + e > budget || in_part >= RM_SWIM_MAX_PP_STATES)) {
            if (parts == RM_SWIM_MAX_PP_PARTS)
                break; /* beyond 64 MiB of state */
            starts[parts++] = i;
            used = 0;
            in_part = 0;
        }
        used += e;
        in_part++;
    }
    starts[parts] = self->n;
    return parts;
}

int rm_swim_members_event(const rm_swim_members_t *self, uint32_t idx, rm_swim_event_kind_t kind,
                          rm_swim_event_t *ev)
{
    const entry_t *m = &self->e[idx];
    size_t nl = strlen(name_at(self, m)), al = strlen(addr_at(self, m));
    bool no_inbound = (m->flags & RM_SWIM_WIRE_NO_INBOUND) != 0;
    *ev = (rm_swim_event_t){kind, NULL, NULL, m->inc, NULL, m->meta_len, no_inbound};
    /* name, addr and meta in one allocation, freed by rm_swim_event_free */
    ev->name = malloc(nl + 1 + al + 1 + m->meta_len);
    if (!ev->name)
        return -1;
    memcpy(ev->name, name_at(self, m), nl + 1 + al + 1 + m->meta_len);
    ev->addr = ev->name + nl + 1;
    if (m->meta_len)
        ev->meta = (uint8_t *)ev->addr + al + 1;
    return 0;
}

void rm_swim_members_view(const rm_swim_members_t *self, uint32_t idx, rm_swim_member_t *out)
{
    const entry_t *m = &self->e[idx];
    *out = (rm_swim_member_t){name_at(self, m),
                              addr_at(self, m),
                              (rm_swim_state_t)m->state,
                              m->inc,
                              rm_swim_members_meta(self, idx),
                              m->meta_len,
                              (m->flags & RM_SWIM_WIRE_NO_INBOUND) != 0};
}
