#include "rm_roster.h"

#include <stdlib.h>
#include <string.h>

struct _rm_roster_t {
    rm_cred_t *entries;
    size_t count;
    size_t cap;
};

rm_roster_t *rm_roster_new(void)
{
    return calloc(1, sizeof(rm_roster_t));
}

void rm_roster_destroy(rm_roster_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rm_roster_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++)
        rm_codec_free(&rm_cred_desc, &self->entries[i]);
    free(self->entries);
    free(self);
    *self_p = NULL;
}

static rm_cred_t *find_slot(rm_roster_t *self, const uint8_t curve_pk[32])
{
    for (size_t i = 0; i < self->count; i++)
        if (memcmp(self->entries[i].curve_pk.b, curve_pk, 32) == 0)
            return &self->entries[i];
    return NULL;
}

int rm_roster_add(rm_roster_t *self, const rm_cred_t *cred, rm_err_t *err)
{
    rm_cred_t copy = {0};
    if (rm_codec_copy(&rm_cred_desc, &copy, cred, err) != 0)
        return -1;
    rm_cred_t *slot = find_slot(self, cred->curve_pk.b);
    if (slot) {
        rm_codec_free(&rm_cred_desc, slot);
        *slot = copy;
        return 0;
    }
    if (self->count == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 16;
        rm_cred_t *grown = realloc(self->entries, cap * sizeof *grown);
        if (!grown) {
            rm_codec_free(&rm_cred_desc, &copy);
            return rm_err_set(err, RM_ENOMEM, "out of memory growing the roster");
        }
        self->entries = grown;
        self->cap = cap;
    }
    self->entries[self->count++] = copy;
    return 0;
}

const rm_cred_t *rm_roster_find(rm_roster_t *self, const uint8_t curve_pk[32], int64_t now)
{
    rm_cred_t *slot = find_slot(self, curve_pk);
    if (!slot || slot->expires <= now)
        return NULL;
    return slot;
}

size_t rm_roster_size(rm_roster_t *self)
{
    return self->count;
}
