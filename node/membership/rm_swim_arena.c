#include "rm_swim_arena.h"

#include <stdlib.h>
#include <string.h>

struct _rm_swim_arena_t {
    char *buf;
    uint32_t len, cap, garbage;
    rm_swim_arena_record_fn *records;
    void *owner;
};

rm_swim_arena_t *rm_swim_arena_new(rm_swim_arena_record_fn *records, void *owner)
{
    rm_swim_arena_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->records = records;
    self->owner = owner;
    return self;
}

void rm_swim_arena_destroy(rm_swim_arena_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->buf);
    free(*self_p);
    *self_p = NULL;
}

/*  Copies the live records into a new buffer of exactly their size.  Out
    of memory: stays as it is (the put goes on in the old buffer). */
static void shrink_to_live(rm_swim_arena_t *self)
{
    size_t live = self->len - self->garbage;
    char *a = malloc(live ? live : 1);
    if (!a)
        return;
    uint32_t pos = 0, *off;
    size_t size;
    for (uint32_t i = 0; (off = self->records(self->owner, i, &size)) != NULL; i++) {
        memcpy(a + pos, self->buf + *off, size);
        *off = pos;
        pos += (uint32_t)size;
    }
    free(self->buf);
    self->buf = a;
    self->len = self->cap = pos;
    self->garbage = 0;
}

/*  Room for `need` more bytes; may compact or move the buffer. */
static int ensure(rm_swim_arena_t *self, size_t need)
{
    if (self->garbage > 4096 && self->garbage > self->len / 2)
        shrink_to_live(self);
    if ((uint64_t)self->len + need > UINT32_MAX)
        return -1;
    if (self->len + need <= self->cap)
        return 0;
    uint64_t cap = self->cap ? self->cap : 256;
    while (cap < self->len + need)
        cap += cap / 8 + 256;
    if (cap > UINT32_MAX)
        cap = UINT32_MAX;
    char *a = realloc(self->buf, (size_t)cap);
    if (!a)
        return -1;
    self->buf = a;
    self->cap = (uint32_t)cap;
    return 0;
}

int rm_swim_arena_put(rm_swim_arena_t *self, const char *name, const char *addr,
                      const uint8_t *meta, size_t meta_len, uint32_t *off, uint16_t *addr_off)
{
    size_t nl = strlen(name), al = strlen(addr);
    if (ensure(self, nl + 1 + al + 1 + meta_len))
        return -1;
    char *p = self->buf + self->len;
    memcpy(p, name, nl + 1);
    memcpy(p + nl + 1, addr, al + 1);
    if (meta_len)
        memcpy(p + nl + 1 + al + 1, meta, meta_len);
    *off = self->len;
    *addr_off = (uint16_t)(nl + 1);
    self->len += (uint32_t)(nl + 1 + al + 1 + meta_len);
    return 0;
}

const char *rm_swim_arena_at(const rm_swim_arena_t *self, uint32_t off)
{
    return self->buf + off;
}

void rm_swim_arena_release(rm_swim_arena_t *self, size_t size)
{
    self->garbage += (uint32_t)size;
}

void rm_swim_arena_reserve(rm_swim_arena_t *self, size_t bytes)
{
    uint64_t want = (uint64_t)self->len + bytes;
    if (want <= self->cap || want > UINT32_MAX)
        return;
    char *a = realloc(self->buf, (size_t)want);
    if (a) {
        self->buf = a;
        self->cap = (uint32_t)want;
    }
}
