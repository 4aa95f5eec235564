#include "rm_roster.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define ROSTER_MAX 100000

struct _rm_roster_t {
    rm_cred_t *entries;
    rm_bin_t *signed_creds; /* parallel to entries */
    size_t count;
    size_t cap;
};

typedef struct {
    uint64_t version;
    RM_LIST(rm_bin_t) credentials;
} roster_file_t;

static const rm_field_t roster_fields[] = {
    RM_FIELD(roster_file_t, version, RM_F_U64, 0, "roster format, 1"),
    RM_FIELD_LIST(roster_file_t, credentials, RM_F_BIN, ROSTER_MAX, "signed credentials"),
};
static const rm_struct_desc_t roster_desc =
    RM_DESC(roster_file_t, "roster", roster_fields, "the credentials a node admits");

rm_roster_t *rm_roster_new(void)
{
    return calloc(1, sizeof(rm_roster_t));
}

void rm_roster_destroy(rm_roster_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rm_roster_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++) {
        rm_codec_free(&rm_cred_desc, &self->entries[i]);
        free(self->signed_creds[i].data);
    }
    free(self->entries);
    free(self->signed_creds);
    free(self);
    *self_p = NULL;
}

static rm_cred_t *find_entry(rm_roster_t *self, const uint8_t curve_pk[32])
{
    for (size_t i = 0; i < self->count; i++)
        if (memcmp(self->entries[i].curve_pk.b, curve_pk, 32) == 0)
            return &self->entries[i];
    return NULL;
}

int rm_roster_add(rm_roster_t *self, const rm_cred_t *cred, const uint8_t *signed_cred, size_t len,
                  rm_err_t *err)
{
    rm_cred_t copy = {0};
    rm_bin_t blob = {.data = malloc(len ? len : 1), .len = len};
    if (!blob.data || rm_codec_copy(&rm_cred_desc, &copy, cred, err) != 0) {
        free(blob.data);
        return rm_err_set(err, RM_ENOMEM, "out of memory adding to the roster");
    }
    memcpy(blob.data, signed_cred, len);
    rm_cred_t *entry = find_entry(self, cred->curve_pk.b);
    if (entry) {
        size_t i = (size_t)(entry - self->entries);
        rm_codec_free(&rm_cred_desc, entry);
        free(self->signed_creds[i].data);
        *entry = copy;
        self->signed_creds[i] = blob;
        return 0;
    }
    if (self->count == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 16;
        rm_cred_t *grown = realloc(self->entries, cap * sizeof *grown);
        if (grown)
            self->entries = grown;
        rm_bin_t *grown_blobs =
            grown ? realloc(self->signed_creds, cap * sizeof *grown_blobs) : NULL;
        if (!grown || !grown_blobs) {
            rm_codec_free(&rm_cred_desc, &copy);
            free(blob.data);
            return rm_err_set(err, RM_ENOMEM, "out of memory growing the roster");
        }
        self->signed_creds = grown_blobs;
        self->cap = cap;
    }
    self->entries[self->count] = copy;
    self->signed_creds[self->count] = blob;
    self->count++;
    return 0;
}

int rm_roster_save(rm_roster_t *self, const char *path, rm_err_t *err)
{
    roster_file_t file = {
        .version = 1, .credentials = {.items = self->signed_creds, .count = (uint32_t)self->count}};
    uint8_t *buf = NULL;
    size_t len = 0;
    if (rm_codec_encode(&roster_desc, &file, &buf, &len, err) != 0)
        return -1;
    int rc = rm_secret_write(path, buf, len, err);
    free(buf);
    return rc;
}

int rm_roster_load(rm_roster_t *self, const char *path, const uint8_t mesh_pk[32], int64_t now,
                   rm_err_t *err)
{
    uint8_t *buf = NULL;
    size_t len = 0, used = 0;
    struct stat st;
    if (stat(path, &st) != 0 && errno == ENOENT)
        return 0;
    if (rm_secret_read(path, &buf, &len, RM_MAX_MSG_SIZE, err) != 0)
        return -1;
    roster_file_t file = {0};
    int rc = rm_codec_decode(&roster_desc, &file, buf, len, &used, err);
    free(buf);
    if (rc != 0)
        return rm_err_prefix(err, "%s is damaged: ", path);
    for (uint32_t i = 0; i < file.credentials.count; i++) {
        rm_bin_t *b = &file.credentials.items[i];
        rm_cred_t cred;
        if (rm_cred_verify(b->data, b->len, mesh_pk, now, &cred, NULL) != 0)
            continue; /* expired since it was saved */
        rc = rm_roster_add(self, &cred, b->data, b->len, err);
        rm_codec_free(&rm_cred_desc, &cred);
        if (rc != 0)
            break;
    }
    rm_codec_free(&roster_desc, &file);
    return rc;
}

const rm_cred_t *rm_roster_find(rm_roster_t *self, const uint8_t curve_pk[32], int64_t now)
{
    rm_cred_t *entry = find_entry(self, curve_pk);
    if (!entry || entry->expires <= now)
        return NULL;
    return entry;
}

size_t rm_roster_drop(rm_roster_t *self, bool (*drop)(void *arg, const rm_cred_t *cred), void *arg)
{
    size_t kept = 0, dropped = 0;
    for (size_t i = 0; i < self->count; i++) {
        if (drop(arg, &self->entries[i])) {
            rm_codec_free(&rm_cred_desc, &self->entries[i]);
            free(self->signed_creds[i].data);
            dropped++;
            continue;
        }
        self->entries[kept] = self->entries[i];
        self->signed_creds[kept] = self->signed_creds[i];
        kept++;
    }
    self->count = kept;
    return dropped;
}

const rm_bin_t *rm_roster_signed(rm_roster_t *self, const uint8_t curve_pk[32])
{
    rm_cred_t *entry = find_entry(self, curve_pk);
    return entry ? &self->signed_creds[entry - self->entries] : NULL;
}

size_t rm_roster_size(rm_roster_t *self)
{
    return self->count;
}

void rm_roster_each(rm_roster_t *self, void (*fn)(void *arg, const rm_cred_t *cred), void *arg)
{
    for (size_t i = 0; i < self->count; i++)
        fn(arg, &self->entries[i]);
}
