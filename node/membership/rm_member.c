#include "rm_member.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_log.h"
#include "rm_peers.h"
#include "rm_rights.h"
#include "rm_signed.h"
#include "rm_swim.h"

#define RID_PREFIX "rid:"
#define META_MIN_INTERVAL_MS 1000

static const rm_field_t meta_fields[] = {
    RM_FIELD(rm_member_meta_t, role, RM_F_STR, 16, "node | stable"),
    RM_FIELD(rm_member_meta_t, slots, RM_F_U64, 1024, "render slots"),
    RM_FIELD(rm_member_meta_t, slots_busy, RM_F_U64, 1024, "slots rendering now"),
    RM_FIELD(rm_member_meta_t, ms_per_frame, RM_F_U64, 0, "measured render time"),
    RM_FIELD(rm_member_meta_t, blender_ok, RM_F_BOOL, 0, "Blender works here"),
    RM_FIELD(rm_member_meta_t, blender, RM_F_STR, 96, "Blender version, or why not"),
    RM_FIELD(rm_member_meta_t, rendering, RM_F_STR, 200, "job:frame being rendered"),
    RM_FIELD(rm_member_meta_t, draining, RM_F_BOOL, 0, "finishing its work, then leaving"),
    RM_FIELD(rm_member_meta_t, epoch, RM_F_U64, RM_EPOCH_MAX, "highest coordinator epoch seen"),
    RM_FIELD(rm_member_meta_t, acting, RM_F_BOOL, 0, "coordinates in that epoch"),
    RM_FIELD(rm_member_meta_t, caps, RM_F_STR, RM_MAX_NAME, "what its Blender can do"),
    RM_FIELD(rm_member_meta_t, revoked, RM_F_B32, 0, "digest of the revocations it holds"),
    RM_FIELD(rm_member_meta_t, store_known, RM_F_BOOL, 0, "its chunk store has been measured"),
    RM_FIELD(rm_member_meta_t, store_bytes, RM_F_U64, 0, "bytes in its chunk store"),
    RM_FIELD(rm_member_meta_t, store_cap, RM_F_U64, 0, "its store's size cap in bytes; 0: none"),
};
static const rm_struct_desc_t meta_desc = RM_DESC_OPT(rm_member_meta_t, "member_meta", meta_fields,
                                                      5, "what a node gossips about itself");

typedef struct {
    rm_swim_member_t m;
    rm_member_meta_t meta;
    bool has_meta;
} decoded_t;

struct _rm_member_t {
    rm_swim_t *swim;
    rm_peers_t *peers;
    zsock_t *mesh;
    char name[RM_MAX_NAME + 1];
    uint8_t *meta; /* last gossiped */
    size_t meta_len;
    int64_t meta_at;
    uint64_t meta_epoch;
    bool meta_acting;
    bool meta_draining;
    bool leaving;
    decoded_t *decoded;           /* decode_members' answer */
    rm_election_member_t *view;   /* rm_member_view's answer */
    rm_member_peer_t *peers_view; /* rm_member_peers' answer */
    size_t cap;                   /* of all three */
    rm_member_recv_fn *recv_fn;
    void *recv_arg;
    /* Names of members whose credential, as their messages proved it, is a
       worker's: not candidates, their claims not followed (rm_election). */
    zhashx_t *workers;
    bool worker; /* this node's own credential is a worker's */
};

static void on_peer_message(void *arg, const char *addr, const rm_cred_t *peer, const uint8_t *data,
                            size_t len);

rm_member_t *rm_member_new(const rm_config_t *config, const rm_token_t *identity, const char *name,
                           const char *addr, zsock_t *mesh, rm_loop_t *loop, rm_err_t *err)
{
    rm_member_t *self = calloc(1, sizeof *self);
    if (!self) {
        rm_err_set(err, RM_ENOMEM, "out of memory");
        return NULL;
    }
    rm_swim_config_t cfg;
    rm_swim_config_default(&cfg);
    cfg.no_inbound = config->no_inbound;
    snprintf(self->name, sizeof self->name, "%s", name);
    self->mesh = mesh;
    uint64_t seed;
    randombytes_buf(&seed, sizeof seed);
    self->swim = rm_swim_new(&cfg, name, addr, seed, zclock_mono(), err);
    self->peers = self->swim ? rm_peers_new(identity, loop, on_peer_message, self, err) : NULL;
    self->workers = self->peers ? zhashx_new() : NULL;
    rm_cred_t own;
    if (rm_signed_peek(&rm_cred_desc, identity->credential.data, identity->credential.len, &own,
                       NULL) == 0) {
        self->worker = !rm_role_has(own.role, RM_RIGHT_COORDINATE);
        rm_codec_free(&rm_cred_desc, &own);
    }
    if (!self->workers) {
        rm_member_destroy(&self);
        return NULL;
    }
    return self;
}

void rm_member_destroy(rm_member_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rm_member_t *self = *self_p;
    rm_peers_destroy(&self->peers);
    rm_swim_destroy(&self->swim);
    zhashx_destroy(&self->workers);
    for (size_t i = 0; i < self->cap; i++)
        rm_codec_free(&meta_desc, &self->decoded[i].meta);
    free(self->decoded);
    free(self->view);
    free(self->peers_view);
    free(self->meta);
    free(self);
    *self_p = NULL;
}

int rm_member_join(rm_member_t *self, const char *seed_addr, rm_err_t *err)
{
    if (rm_swim_join(self->swim, zclock_mono(), seed_addr, err) != 0)
        return -1;
    rm_member_tick(self);
    return 0;
}

/*  The member name a SWIM message claims to come from: [version, kind, from, ...]. */
static bool claimed_from(const uint8_t *data, size_t len, char *out, size_t size)
{
    rm_reader_t r;
    uint32_t count = 0, flen = 0;
    uint64_t version = 0, kind = 0;
    const char *from = NULL;
    rm_reader_init(&r, data, len);
    if (rm_read_array(&r, 64, &count, NULL) != 0 || count < 3 ||
        rm_read_u64(&r, &version, NULL) != 0 || rm_read_u64(&r, &kind, NULL) != 0 ||
        rm_read_str_ref(&r, RM_SWIM_MAX_NAME, &from, &flen, NULL) != 0 || flen >= size)
        return false;
    memcpy(out, from, flen);
    out[flen] = '\0';
    return true;
}

static bool find_member(rm_member_t *self, const char *name, rm_swim_member_t *out);

static void receive(rm_member_t *self, const char *from_addr, const rm_cred_t *who,
                    const uint8_t *data, size_t len)
{
    char from[RM_SWIM_MAX_NAME + 1];
    rm_err_t err;
    if (!claimed_from(data, len, from, sizeof from) || strcmp(from, who->name) != 0) {
        rm_log_warning("membership: refused a message from '%s' claiming to be someone else",
                       who->name);
        return;
    }
    if (rm_role_has(who->role, RM_RIGHT_COORDINATE))
        zhashx_delete(self->workers, who->name);
    else
        zhashx_update(self->workers, who->name, self); /* any non-NULL item */
    if (rm_swim_receive(self->swim, zclock_mono(), from_addr, data, len, &err) != 0)
        rm_log_warning("membership: bad message from '%s': %s", who->name, err.msg);
    /* An alive member that talks to us hears us too (else our probes
       would fail and it would be suspect): our link to it is fine even if
       nothing comes back on it. */
    rm_swim_member_t m;
    if (find_member(self, who->name, &m) && m.state == RM_SWIM_ALIVE && !m.no_inbound)
        rm_peers_heard(self->peers, m.addr);
    rm_member_tick(self);
}

void rm_member_gossip_in(rm_member_t *self, zframe_t *peer, const rm_cred_t *who,
                         const rm_gossip_t *gossip)
{
    if (!rm_role_has(who->role, RM_RIGHT_MESH)) {
        rm_log_warning("membership: refused GOSSIP from %s '%s'", who->role, who->name);
        return;
    }
    /* ZeroMQ's own routing ids are 5 bytes; the engine takes addresses of
       at most RM_SWIM_MAX_ADDR. */
    if (zframe_size(peer) > 64)
        return;
    char addr[sizeof RID_PREFIX + 2 * 64];
    rm_member_rid_addr(peer, addr, sizeof addr);
    receive(self, addr, who, gossip->payload.data, gossip->payload.len);
}

void rm_member_rid_addr(zframe_t *routing_id, char *out, size_t size)
{
    size_t n = zframe_size(routing_id);
    size_t used = (size_t)snprintf(out, size, "%s", RID_PREFIX);
    if (used >= size)
        return;
    if (n > (size - used - 1) / 2)
        n = (size - used - 1) / 2; /* as many whole bytes as fit */
    sodium_bin2hex(out + used, size - used, zframe_data(routing_id), n);
}

static void on_peer_message(void *arg, const char *addr, const rm_cred_t *peer, const uint8_t *data,
                            size_t len)
{
    rm_member_t *self = arg;
    rm_msg_t msg;
    rm_err_t err;
    if (rm_msg_decode(data, len, &msg, &err) != 0)
        rm_log_warning("malformed message from %s: %s", peer->name, err.msg);
    else if (msg.type == RM_MSG_GOSSIP)
        receive(self, addr, peer, msg.u.gossip.payload.data, msg.u.gossip.payload.len);
    else if (self->recv_fn && rm_role_has(peer->role, RM_RIGHT_MESH))
        self->recv_fn(self->recv_arg, addr, peer, &msg);
    rm_msg_free(&msg);
}

void rm_member_on_message(rm_member_t *self, rm_member_recv_fn *fn, void *arg)
{
    self->recv_fn = fn;
    self->recv_arg = arg;
}

/*  Answers over the ROUTER connection the message came in on. */
static void send_rid(rm_member_t *self, const char *rid_hex, const uint8_t *buf, size_t len)
{
    uint8_t rid[256];
    size_t n = 0, hex_len = strlen(rid_hex);
    const char *end = NULL;
    if (sodium_hex2bin(rid, sizeof rid, rid_hex, hex_len, NULL, &n, &end) != 0 || n == 0 ||
        end != rid_hex + hex_len)
        return;
    zmsg_t *msg = zmsg_new();
    zmsg_addmem(msg, rid, n);
    zmsg_addmem(msg, buf, len);
    zmsg_send(&msg, self->mesh); /* a peer gone away loses it: gossip tolerates that */
    zmsg_destroy(&msg);
}

void rm_member_send_msg(rm_member_t *self, const char *addr, rm_msg_type_t type, uint64_t req,
                        const void *body)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    rm_err_t err;
    if (rm_msg_encode(type, req, body, &buf, &len, &err) != 0)
        rm_log_warning("cannot encode %s: %s", rm_msg_name(type), err.msg);
    else
        rm_member_send(self, addr, buf, len, NULL);
    free(buf);
}

void rm_member_send_error(rm_member_t *self, const char *addr, uint64_t req, rm_code_t code,
                          const char *text)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    if (rm_msg_encode_error(req, code, text, &buf, &len, NULL) == 0)
        rm_member_send(self, addr, buf, len, NULL);
    free(buf);
}

int rm_member_send(rm_member_t *self, const char *addr, const uint8_t *buf, size_t len,
                   rm_err_t *err)
{
    if (strncmp(addr, RID_PREFIX, sizeof RID_PREFIX - 1) == 0) {
        send_rid(self, addr + sizeof RID_PREFIX - 1, buf, len);
        return 0;
    }
    return rm_peers_send(self->peers, addr, buf, len, err);
}

size_t rm_member_broadcast(rm_member_t *self, const uint8_t *buf, size_t len)
{
    size_t count = 0, sent = 0;
    const rm_member_peer_t *peers = rm_member_peers(self, &count);
    for (size_t i = 0; peers && i < count; i++)
        if (peers[i].alive && peers[i].addr[0] &&
            rm_member_send(self, peers[i].addr, buf, len, NULL) == 0)
            sent++;
    return sent;
}

static void send_output(rm_member_t *self, const rm_swim_output_t *out)
{
    rm_gossip_t body = {.payload = {.data = out->data, .len = out->len}};
    uint8_t *buf = NULL;
    size_t len = 0;
    if (rm_msg_encode(RM_MSG_GOSSIP, 0, &body, &buf, &len, NULL) != 0)
        return;
    if (strncmp(out->addr, RID_PREFIX, sizeof RID_PREFIX - 1) == 0)
        send_rid(self, out->addr + sizeof RID_PREFIX - 1, buf, len);
    else if (strncmp(out->addr, "tcp://", 6) == 0)
        rm_peers_send(self->peers, out->addr, buf, len, NULL);
    free(buf);
}

static void log_event(rm_member_t *self, const rm_swim_event_t *ev)
{
    static const char *const what[] = {"",     "alive",   "suspected", "dead",
                                       "left", "updated", "forgotten"};
    if (ev->kind == RM_SWIM_EV_UPDATED)
        return;
    const char *kind = (unsigned)ev->kind < sizeof what / sizeof what[0] ? what[ev->kind] : "?";
    /* The wall-clock ms lets benchmarks line up events across nodes. */
    rm_log_info("membership: %s is %s (%s) at %lld", ev->name, kind,
                ev->no_inbound ? "no inbound" : ev->addr, (long long)zclock_time());
    if ((ev->kind == RM_SWIM_EV_DEAD || ev->kind == RM_SWIM_EV_LEFT ||
         ev->kind == RM_SWIM_EV_REAPED) &&
        !ev->no_inbound)
        rm_peers_close(self->peers, ev->addr);
}

void rm_member_tick(rm_member_t *self)
{
    int64_t now = zclock_mono();
    if (now >= rm_swim_next_deadline(self->swim))
        rm_swim_tick(self->swim, now);
    rm_swim_output_t out;
    while (rm_swim_next_output(self->swim, &out) == 1) {
        send_output(self, &out);
        rm_swim_output_free(&out);
    }
    rm_swim_event_t ev;
    while (rm_swim_next_event(self->swim, &ev) == 1) {
        log_event(self, &ev);
        rm_swim_event_free(&ev);
    }
    rm_peers_tick(self->peers, now);
}

int64_t rm_member_wakeup(rm_member_t *self)
{
    int64_t at = rm_swim_next_deadline(self->swim) - zclock_mono();
    if (at > 1000)
        at = 1000; /* rm_peers_tick wants a call every second */
    return at < 0 ? 0 : at;
}

void rm_member_set_link_check(rm_member_t *self, rm_peers_check_fn *check, void *arg)
{
    rm_peers_set_check(self->peers, check, arg);
}

void rm_member_recheck_links(rm_member_t *self)
{
    rm_peers_recheck(self->peers);
}

void rm_member_set_meta(rm_member_t *self, const rm_member_meta_t *meta)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    if (rm_codec_encode(&meta_desc, meta, &buf, &len, NULL) != 0)
        return;
    int64_t now = zclock_mono();
    bool same = self->meta && len == self->meta_len && memcmp(buf, self->meta, len) == 0;
    bool urgent = meta->epoch != self->meta_epoch || meta->acting != self->meta_acting ||
                  meta->draining != self->meta_draining;
    /* Every change raises this node's incarnation: at most one a second,
       except a change of coordinator, which must spread at once, and
       draining, so that no member picks a leaving node for a copy. */
    if (same || (self->meta && !urgent && now - self->meta_at < META_MIN_INTERVAL_MS) ||
        rm_swim_set_meta(self->swim, now, buf, len, NULL) != 0) {
        free(buf);
        return;
    }
    free(self->meta);
    self->meta = buf;
    self->meta_len = len;
    self->meta_at = now;
    self->meta_epoch = meta->epoch;
    self->meta_acting = meta->acting;
    self->meta_draining = meta->draining;
}

void rm_member_leave(rm_member_t *self)
{
    self->leaving = true;
    rm_swim_leave(self->swim, zclock_mono());
    rm_member_tick(self);
}

bool rm_member_left(rm_member_t *self)
{
    return self->leaving && rm_swim_pending_broadcasts(self->swim) == 0;
}

size_t rm_member_alive(rm_member_t *self)
{
    return rm_swim_count(self->swim, RM_SWIM_MASK(RM_SWIM_ALIVE));
}

/*  True if the member's credential is known to be a worker's. */
static bool is_worker(rm_member_t *self, const char *name)
{
    return strcmp(name, self->name) == 0 ? self->worker
                                         : zhashx_lookup(self->workers, name) != NULL;
}

static int fill_info(rm_member_t *self, const rm_swim_member_t *m, rm_node_info_t *info,
                     rm_err_t *err)
{
    rm_member_meta_t meta = {0};
    size_t used = 0;
    bool has_meta = m->meta_len > 0 &&
                    rm_codec_decode(&meta_desc, &meta, m->meta, m->meta_len, &used, NULL) == 0;
    info->name = strdup(m->name);
    info->state = strdup(has_meta && meta.draining && m->state == RM_SWIM_ALIVE
                             ? "draining"
                             : rm_swim_state_name(m->state));
    info->address = strdup(m->no_inbound ? "(no inbound)" : m->addr);
    info->role = strdup(is_worker(self, m->name) ? RM_ROLE_WORKER : has_meta ? meta.role : "");
    /* What a member last gossiped stays in the view after it stops: one
       that is not alive (suspect counts as gone, as for the scheduler,
       which gives its frames back) renders nothing, whatever it said. */
    bool alive = m->state == RM_SWIM_ALIVE;
    info->rendering = strdup(has_meta && alive ? meta.rendering : "");
    info->blender = strdup(has_meta ? meta.blender : "");
    info->caps = strdup(has_meta && meta.caps ? meta.caps : "");
    info->slots = meta.slots;
    info->slots_busy = alive ? meta.slots_busy : 0;
    info->ms_per_frame = meta.ms_per_frame;
    info->blender_ok = meta.blender_ok;
    info->store_known = meta.store_known;
    info->store_bytes = meta.store_bytes;
    info->store_cap = meta.store_cap;
    rm_codec_free(&meta_desc, &meta);
    if (!info->name || !info->state || !info->address || !info->role || !info->rendering ||
        !info->blender || !info->caps)
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    return 0;
}

int rm_member_list(rm_member_t *self, rm_nodes_reply_t *reply, rm_err_t *err)
{
    size_t n = rm_swim_member_total(self->swim);
    memset(reply, 0, sizeof *reply);
    reply->nodes.items = calloc(n ? n : 1, sizeof(rm_node_info_t));
    if (!reply->nodes.items)
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        rm_swim_member_t m;
        if (rm_swim_member_at(self->swim, i, &m) != 0)
            continue;
        reply->nodes.count++;
        if (fill_info(self, &m, &reply->nodes.items[reply->nodes.count - 1], err) != 0) {
            rm_codec_free(rm_msg_desc(RM_MSG_NODES_REPLY), reply);
            return -1;
        }
    }
    return 0;
}

/*  Every member with its metadata decoded, into self->decoded (grown with
    the two views built from it); the count, or 0 when out of memory. */
static size_t decode_members(rm_member_t *self)
{
    size_t n = rm_swim_member_total(self->swim), count = 0;
    if (n > self->cap) {
        decoded_t *dec = realloc(self->decoded, n * sizeof *dec);
        if (dec) {
            memset(dec + self->cap, 0, (n - self->cap) * sizeof *dec);
            self->decoded = dec;
        }
        rm_election_member_t *view = dec ? realloc(self->view, n * sizeof *view) : NULL;
        if (view)
            self->view = view;
        rm_member_peer_t *peers = view ? realloc(self->peers_view, n * sizeof *peers) : NULL;
        if (!peers)
            return 0;
        self->peers_view = peers;
        self->cap = n;
    }
    for (size_t i = 0; i < n; i++) {
        decoded_t *d = &self->decoded[count];
        rm_codec_free(&meta_desc, &d->meta);
        if (rm_swim_member_at(self->swim, i, &d->m) != 0)
            continue;
        size_t used = 0;
        d->has_meta = d->m.meta_len > 0 && rm_codec_decode(&meta_desc, &d->meta, d->m.meta,
                                                           d->m.meta_len, &used, NULL) == 0;
        count++;
    }
    return count;
}

const rm_election_member_t *rm_member_view(rm_member_t *self, size_t *count)
{
    *count = decode_members(self);
    for (size_t i = 0; i < *count; i++) {
        const decoded_t *d = &self->decoded[i];
        self->view[i] = (rm_election_member_t){
            .name = d->m.name,
            .alive = d->m.state == RM_SWIM_ALIVE,
            .stable = d->has_meta && strcmp(d->meta.role, "stable") == 0,
            .no_inbound = d->m.no_inbound,
            .draining = d->has_meta && d->meta.draining,
            .epoch = d->has_meta ? d->meta.epoch : 0,
            .acting = d->has_meta && d->meta.acting,
            .worker = is_worker(self, d->m.name),
        };
    }
    return *count ? self->view : NULL;
}

const rm_member_peer_t *rm_member_peers(rm_member_t *self, size_t *count)
{
    size_t n = decode_members(self);
    *count = 0;
    for (size_t i = 1; i < n; i++) { /* 0 is this node */
        const decoded_t *d = &self->decoded[i];
        self->peers_view[(*count)++] = (rm_member_peer_t){
            .name = d->m.name,
            .addr = d->m.no_inbound ? "" : d->m.addr,
            .alive = d->m.state == RM_SWIM_ALIVE,
            .has_meta = d->has_meta,
            .meta = &d->meta,
        };
    }
    return n ? self->peers_view : NULL;
}

static bool find_member(rm_member_t *self, const char *name, rm_swim_member_t *out)
{
    size_t n = rm_swim_member_total(self->swim);
    for (size_t i = 0; i < n; i++)
        if (rm_swim_member_at(self->swim, i, out) == 0 && strcmp(out->name, name) == 0)
            return true;
    return false;
}

const char *rm_member_addr_of(rm_member_t *self, const char *name)
{
    rm_swim_member_t m;
    if (!find_member(self, name, &m) || m.state != RM_SWIM_ALIVE || m.no_inbound ||
        strncmp(m.addr, "tcp://", 6) != 0)
        return NULL;
    return m.addr;
}

const char *rm_member_state_of(rm_member_t *self, const char *name)
{
    rm_swim_member_t m;
    return find_member(self, name, &m) ? rm_swim_state_name(m.state) : NULL;
}
