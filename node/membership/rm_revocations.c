#include "rm_revocations.h"

#include <czmq.h>
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rm_hash.h"
#include "rm_signed.h"

typedef struct {
    rm_revocation_t rev;
    rm_bin_t blob; /* as signed */
} entry_t;

struct _rm_revocations_t {
    uint8_t mesh_pk[32];
    zhashx_t *by_name; /* name -> entry_t */
    zlistx_t *order;   /* names, sorted: the order of the digest and of REVOKE */
    bool digest_ok;
    rm_hash_t digest;
};

typedef struct {
    uint64_t version;
    RM_LIST(rm_bin_t) revocations;
} file_t;

static const rm_field_t file_fields[] = {
    RM_FIELD(file_t, version, RM_F_U64, 0, "revocations file format, 1"),
    RM_FIELD_LIST(file_t, revocations, RM_F_BIN, RM_MAX_REVOCATIONS, "signed revocations"),
};
static const rm_struct_desc_t file_desc =
    RM_DESC(file_t, "revocations", file_fields, "the revocations a node knows");

static void entry_free(void **item)
{
    entry_t *e = *item;
    if (!e)
        return;
    rm_codec_free(&rm_revocation_desc, &e->rev);
    free(e->blob.data);
    free(e);
    *item = NULL;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(a, b);
}

rm_revocations_t *rm_revocations_new(const uint8_t mesh_pk[32])
{
    rm_revocations_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    memcpy(self->mesh_pk, mesh_pk, 32);
    self->by_name = zhashx_new();
    self->order = zlistx_new();
    if (!self->by_name || !self->order) {
        rm_revocations_destroy(&self);
        return NULL;
    }
    zhashx_set_destructor(self->by_name, entry_free);
    zlistx_set_comparator(self->order, by_name);
    return self;
}

void rm_revocations_destroy(rm_revocations_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zhashx_destroy(&(*self_p)->by_name);
    zlistx_destroy(&(*self_p)->order);
    free(*self_p);
    *self_p = NULL;
}

int rm_revocations_add(rm_revocations_t *self, const uint8_t *data, size_t len,
                       const rm_revocation_t **added, rm_err_t *err)
{
    rm_revocation_t rev;
    if (added)
        *added = NULL;
    /* The whole set comes again and again (anti-entropy): what changes
       nothing is not worth a signature check. */
    if (rm_signed_peek(&rm_revocation_desc, data, len, &rev, err) != 0)
        return -1;
    entry_t *known = zhashx_lookup(self->by_name, rev.name);
    bool stale = known && known->rev.revoked_at >= rev.revoked_at;
    rm_codec_free(&rm_revocation_desc, &rev);
    if (stale)
        return 0;
    if (rm_revocation_verify(data, len, self->mesh_pk, &rev, err) != 0)
        return -1;
    entry_t *held = zhashx_lookup(self->by_name, rev.name);
    if (held && held->rev.revoked_at >= rev.revoked_at) {
        rm_codec_free(&rm_revocation_desc, &rev);
        return 0;
    }
    if (!held && zhashx_size(self->by_name) >= RM_MAX_REVOCATIONS) {
        rm_codec_free(&rm_revocation_desc, &rev);
        return rm_err_set(err, RM_EINVAL, "this mesh already holds %d revocations",
                          RM_MAX_REVOCATIONS);
    }
    entry_t *e = calloc(1, sizeof *e);
    uint8_t *copy = malloc(len ? len : 1);
    if (!e || !copy) {
        free(e);
        free(copy);
        rm_codec_free(&rm_revocation_desc, &rev);
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    }
    memcpy(copy, data, len);
    e->rev = rev;
    e->blob = (rm_bin_t){.data = copy, .len = len};
    if (!held && !zlistx_insert(self->order, e->rev.name, true)) {
        entry_free((void **)&e);
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    }
    if (held) {
        /* The sorted list holds the name's pointer: point it at the new one. */
        void *handle = zlistx_find(self->order, held->rev.name);
        zlistx_delete(self->order, handle);
        zlistx_insert(self->order, e->rev.name, true);
    }
    zhashx_update(self->by_name, e->rev.name, e);
    self->digest_ok = false;
    if (added)
        *added = &e->rev;
    return 1;
}

const rm_revocation_t *rm_revocations_covering(rm_revocations_t *self, const rm_cred_t *cred)
{
    entry_t *e = cred->name ? zhashx_lookup(self->by_name, cred->name) : NULL;
    return e && rm_revocation_covers(&e->rev, cred) ? &e->rev : NULL;
}

size_t rm_revocations_count(rm_revocations_t *self)
{
    return zhashx_size(self->by_name);
}

rm_bin_t *rm_revocations_blobs(rm_revocations_t *self, uint32_t *count)
{
    size_t n = rm_revocations_count(self), i = 0;
    rm_bin_t *items = calloc(n ? n : 1, sizeof *items);
    *count = 0;
    if (!items)
        return NULL;
    for (const char *name = zlistx_first(self->order); name && i < n;
         name = zlistx_next(self->order)) {
        entry_t *e = zhashx_lookup(self->by_name, name);
        items[i++] = e->blob;
    }
    *count = (uint32_t)i;
    return items;
}

void rm_revocations_digest(rm_revocations_t *self, rm_hash_t *out)
{
    if (!self->digest_ok) {
        memset(&self->digest, 0, sizeof self->digest);
        crypto_generichash_state st;
        crypto_generichash_init(&st, NULL, 0, sizeof self->digest.b);
        size_t n = 0;
        for (const char *name = zlistx_first(self->order); name;
             name = zlistx_next(self->order), n++) {
            entry_t *e = zhashx_lookup(self->by_name, name);
            char at[24];
            snprintf(at, sizeof at, "%lld", (long long)e->rev.revoked_at);
            crypto_generichash_update(&st, (const uint8_t *)name, strlen(name) + 1);
            crypto_generichash_update(&st, (const uint8_t *)at, strlen(at) + 1);
        }
        if (n > 0)
            crypto_generichash_final(&st, self->digest.b, sizeof self->digest.b);
        self->digest_ok = true;
    }
    *out = self->digest;
}

int rm_revocations_save(rm_revocations_t *self, const char *path, rm_err_t *err)
{
    file_t file = {.version = 1};
    file.revocations.items = rm_revocations_blobs(self, &file.revocations.count);
    if (!file.revocations.items)
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = rm_codec_encode(&file_desc, &file, &buf, &len, err);
    free(file.revocations.items);
    if (rc == 0)
        rc = rm_secret_write(path, buf, len, err);
    free(buf);
    return rc;
}

int rm_revocations_load(rm_revocations_t *self, const char *path, rm_err_t *err)
{
    uint8_t *buf = NULL;
    size_t len = 0, used = 0;
    struct stat st;
    if (stat(path, &st) != 0 && errno == ENOENT)
        return 0;
    if (rm_secret_read(path, &buf, &len, RM_MAX_MSG_SIZE, err) != 0)
        return -1;
    file_t file = {0};
    int rc = rm_codec_decode(&file_desc, &file, buf, len, &used, err);
    free(buf);
    if (rc != 0)
        return rm_err_prefix(err, "%s is damaged: ", path);
    for (uint32_t i = 0; i < file.revocations.count; i++) {
        rm_bin_t *b = &file.revocations.items[i];
        if (rm_revocations_add(self, b->data, b->len, NULL, NULL) < 0)
            continue; /* not this mesh's: never kept, so never saved */
    }
    rm_codec_free(&file_desc, &file);
    return 0;
}
