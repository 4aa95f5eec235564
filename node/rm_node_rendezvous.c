#include "rm_node_rendezvous.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rm_log.h"
#include "rm_rendezvous.h"
#include "rm_s3.h"
#include "rm_s3_url.h"

#define LOOK_ALONE_MS 5000
#define LOOK_EVERY_MS 60000
#define MAX_ENTRIES 256      /* read per look */
#define ENTRY_MAX (16 << 10) /* bytes of one entry read */

typedef struct {
    rm_aws_settings_t settings;
    char bucket[RM_S3_BUCKET_MAX + 1];
    char prefix[RM_S3_KEY_MAX + 1]; /* ends with '/' */
} args_t;

typedef struct {
    zmsg_t *seen;
    size_t count;
    const char *prefix;
} listing_t;

static int on_listed_entry(void *arg, const char *key, uint64_t size, const char *etag)
{
    (void)etag;
    listing_t *l = arg;
    /* Listed without the prefix's '/' (as imports do): keep what is below. */
    if (strncmp(key, l->prefix, strlen(l->prefix)) != 0 || size > ENTRY_MAX)
        return 0;
    zmsg_addstr(l->seen, key);
    return ++l->count >= MAX_ENTRIES;
}

static void look_for_nodes(zsock_t *pipe, rm_s3_t *s3, const args_t *a)
{
    char list_prefix[RM_S3_KEY_MAX + 1];
    snprintf(list_prefix, sizeof list_prefix, "%s", a->prefix);
    list_prefix[strlen(list_prefix) - 1] = '\0';
    listing_t l = {zmsg_new(), 0, a->prefix};
    rm_err_t err = {0};
    if (rm_s3_list(s3, a->bucket, list_prefix, 0, on_listed_entry, &l, &err) != 0) {
        zmsg_destroy(&l.seen);
        zstr_sendx(pipe, "ERROR", err.msg, NULL);
        return;
    }
    zmsg_t *out = zmsg_new();
    zmsg_addstr(out, "SEEN");
    char *key;
    while ((key = zmsg_popstr(l.seen))) {
        uint8_t *data = NULL;
        size_t len = 0;
        if (rm_s3_get(s3, a->bucket, key, 0, ENTRY_MAX, &data, &len, &err) == 0) {
            zmsg_addstr(out, key);
            zmsg_addmem(out, data, len);
        }
        free(data);
        zstr_free(&key);
    }
    zmsg_destroy(&l.seen);
    zmsg_send(&out, pipe);
}

static void rendezvous_actor(zsock_t *pipe, void *arg)
{
    args_t *a = arg;
    rm_err_t err = {0};
    rm_s3_t *s3 = rm_s3_new(&a->settings, &err);
    zsock_signal(pipe, 0);
    while (true) {
        zmsg_t *msg = zmsg_recv(pipe);
        if (!msg)
            break;
        char *cmd = zmsg_popstr(msg), *key = zmsg_popstr(msg);
        bool term = !cmd || strcmp(cmd, "$TERM") == 0;
        zframe_t *body = zmsg_pop(msg);
        rm_s3_object_t obj;
        int rc = 0;
        if (term)
            ;
        else if (!s3)
            zstr_sendx(pipe, "ERROR", err.msg, NULL);
        else if (strcmp(cmd, "LOOK") == 0)
            look_for_nodes(pipe, s3, a);
        else if (strcmp(cmd, "PUT") == 0 && key && body)
            rc = rm_s3_put(s3, a->bucket, key, zframe_data(body), zframe_size(body), false, &obj,
                           &err);
        else if (strcmp(cmd, "DELETE") == 0 && key)
            rc = rm_s3_delete(s3, a->bucket, key, &err);
        if (rc != 0)
            zstr_sendx(pipe, "ERROR", err.msg, NULL);
        zstr_free(&cmd);
        zstr_free(&key);
        zframe_destroy(&body);
        zmsg_destroy(&msg);
        if (term)
            break;
    }
    rm_s3_destroy(&s3);
    rm_aws_settings_clear(&a->settings);
    free(a);
}

static void entry_key(const rm_node_ctx_t *self, char *out, size_t size)
{
    snprintf(out, size, "%s%s", self->rendezvous_prefix, self->config.name);
}

static void on_rendezvous_readable(void *arg, void *sock);

int rm_node_rendezvous_start(rm_node_ctx_t *self, rm_err_t *err)
{
    if (!rm_s3_url_is(self->config.join))
        return 0;
    rm_s3_url_t url;
    if (rm_s3_url_parse(self->config.join, "--join", &url, err) != 0)
        return -1;
    if (!rm_s3_url_is_prefix(&url) || !url.key[0])
        return rm_err_set(err, RM_EINVAL,
                          "--join %s: a rendezvous is a prefix of a bucket, s3://BUCKET/PREFIX/",
                          self->config.join);
    if (!self->s3_ok)
        return rm_err_set(err, RM_EINVAL, "--join %s: this node has no S3 settings: %s",
                          self->config.join, self->s3_why);
    args_t *a = calloc(1, sizeof *a);
    if (!a)
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    a->settings = self->s3;
    snprintf(a->bucket, sizeof a->bucket, "%s", url.bucket);
    snprintf(a->prefix, sizeof a->prefix, "%s", url.key);
    snprintf(self->rendezvous_prefix, sizeof self->rendezvous_prefix, "%s", url.key);
    if (!(self->rendezvous = zactor_new(rendezvous_actor, a))) {
        rm_aws_settings_clear(&a->settings);
        free(a);
        return rm_err_set(err, RM_ENOMEM, "cannot start the rendezvous");
    }
    if (rm_loop_reader(self->loop, self->rendezvous, on_rendezvous_readable, self) != 0)
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    if (!(self->rendezvous_ignored = zhashx_new()))
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    self->rendezvous_put_at = self->rendezvous_look_at = 0; /* at the first turn */
    rm_log_info("rendezvous in %s: this node's entry is %s%s", self->config.join,
                self->rendezvous_prefix, self->config.name);
    return 0;
}

void rm_node_rendezvous_stop(rm_node_ctx_t *self)
{
    zhashx_destroy(&self->rendezvous_ignored);
    if (!self->rendezvous)
        return;
    /* A node that stops says so; one that dies leaves a stale entry,
       which others ignore once it is RM_RENDEZVOUS_FRESH_S old. */
    char key[RM_S3_KEY_MAX + RM_MAX_NAME + 2];
    entry_key(self, key, sizeof key);
    zstr_sendx(self->rendezvous, "DELETE", key, NULL);
    rm_loop_reader_end(self->loop, self->rendezvous);
    zactor_destroy(&self->rendezvous);
}

void rm_node_rendezvous_tick(rm_node_ctx_t *self, int64_t now)
{
    if (!self->rendezvous)
        return;
    if (now >= self->rendezvous_put_at) {
        self->rendezvous_put_at = now + RM_RENDEZVOUS_REFRESH_S * 1000;
        rm_bin_t blob = {0};
        rm_err_t err;
        char key[RM_S3_KEY_MAX + RM_MAX_NAME + 2];
        entry_key(self, key, sizeof key);
        if (rm_rendezvous_sign(&self->token, self->advertise, (int64_t)time(NULL) * 1000, &blob,
                               &err) != 0) {
            rm_log_warning("rendezvous: %s", err.msg);
        } else {
            zmsg_t *msg = zmsg_new();
            zmsg_addstr(msg, "PUT");
            zmsg_addstr(msg, key);
            zmsg_addmem(msg, blob.data, blob.len);
            zmsg_send(&msg, self->rendezvous);
        }
        free(blob.data);
    }
    if (now >= self->rendezvous_look_at) {
        bool alone = rm_member_alive(self->member) <= 1;
        self->rendezvous_look_at = now + (alone ? LOOK_ALONE_MS : LOOK_EVERY_MS);
        zstr_send(self->rendezvous, "LOOK");
    }
}

/*  True if a member of that name is alive in our view. */
static bool is_member(rm_node_ctx_t *self, const char *name)
{
    size_t count = 0;
    const rm_member_peer_t *peers = rm_member_peers(self->member, &count);
    for (size_t i = 0; peers && i < count; i++)
        if (peers[i].alive && strcmp(peers[i].name, name) == 0)
            return true;
    return false;
}

static void seen(rm_node_ctx_t *self, zmsg_t *msg)
{
    char *key;
    size_t joined = 0;
    while ((key = zmsg_popstr(msg))) {
        zframe_t *blob = zmsg_pop(msg);
        rm_rendezvous_t entry;
        rm_cred_t cred;
        rm_err_t err;
        if (!blob) {
            zstr_free(&key);
            break;
        }
        if (rm_rendezvous_verify(zframe_data(blob), zframe_size(blob), self->token.mesh_pk.b,
                                 (int64_t)time(NULL), &entry, &cred, &err) != 0) {
            if (!zhashx_lookup(self->rendezvous_ignored, key)) {
                zhashx_insert(self->rendezvous_ignored, key, (void *)1);
                rm_log_notice("rendezvous: ignored the entry %s in %s: %s", key, self->config.join,
                              err.msg);
            }
        } else {
            if (strcmp(cred.name, self->config.name) != 0 && !is_member(self, cred.name) &&
                rm_member_join(self->member, entry.address, &err) == 0)
                joined++;
            rm_codec_free(&rm_rendezvous_desc, &entry);
            rm_codec_free(&rm_cred_desc, &cred);
        }
        zframe_destroy(&blob);
        zstr_free(&key);
    }
    if (joined)
        rm_log_info("rendezvous: asked %zu node(s) found in %s to let this node in", joined,
                    self->config.join);
}

/*  An answer of the rendezvous thread. */
static void on_rendezvous_readable(void *arg, void *sock)
{
    (void)sock;
    rm_node_ctx_t *self = arg;
    zmsg_t *msg = zmsg_recv(self->rendezvous);
    char *what = msg ? zmsg_popstr(msg) : NULL;
    if (what && strcmp(what, "SEEN") == 0) {
        seen(self, msg);
    } else if (what && strcmp(what, "ERROR") == 0) {
        char *text = zmsg_popstr(msg);
        rm_log_warning("rendezvous in %s: %s", self->config.join, text ? text : "?");
        zstr_free(&text);
    }
    zstr_free(&what);
    zmsg_destroy(&msg);
}
