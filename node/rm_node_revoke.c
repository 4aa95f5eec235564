#include "rm_node_revoke.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rm_log.h"
#include "rm_rights.h"

static void fmt_time(int64_t unix_s, char *out, size_t size)
{
    time_t t = (time_t)unix_s;
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(out, size, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
        snprintf(out, size, "%lld", (long long)unix_s);
}

const rm_revocation_t *rm_node_revoked(rm_node_ctx_t *self, const rm_cred_t *cred)
{
    return self->revocations ? rm_revocations_covering(self->revocations, cred) : NULL;
}

static bool roster_drop(void *arg, const rm_cred_t *cred)
{
    rm_node_ctx_t *self = arg;
    if (!rm_node_revoked(self, cred))
        return false;
    if (self->zap)
        rm_zap_forget(self->zap, cred->curve_pk.b);
    return true;
}

static bool link_ok(void *arg, const rm_cred_t *peer, int64_t now, char *why, size_t size)
{
    (void)now;
    const rm_revocation_t *rev = rm_node_revoked(arg, peer);
    if (!rev)
        return true;
    char at[40];
    fmt_time(rev->revoked_at, at, sizeof at);
    snprintf(why, size, "the credentials of '%s' were revoked at %s", rev->name, at);
    return false;
}

/*  What the set covers is refused from now on: the roster forgets it (so
    ZAP and the main socket refuse it), our links to it close. */
static void enforce_revocations(rm_node_ctx_t *self)
{
    size_t dropped = rm_roster_drop(self->roster, roster_drop, self);
    char path[1100];
    rm_err_t err;
    if (dropped > 0 && rm_node_home_path(self, "roster", path, sizeof path, &err) == 0 &&
        rm_roster_save(self->roster, path, &err) != 0)
        rm_log_warning("cannot save the roster: %s", err.msg);
    if (self->member)
        rm_member_recheck_links(self->member);
}

int rm_node_revoke_start(rm_node_ctx_t *self, rm_err_t *err)
{
    char path[1100];
    if (!(self->revocations = rm_revocations_new(self->token.mesh_pk.b)) ||
        !(self->revoke_sent = zhashx_new()))
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    zhashx_set_destructor(self->revoke_sent, (zhashx_destructor_fn *)zstr_free);
    if (rm_node_home_path(self, "revocations", path, sizeof path, err) != 0 ||
        rm_revocations_load(self->revocations, path, err) != 0)
        return -1;
    if (rm_revocations_count(self->revocations) > 0)
        rm_log_info("%zu revocation(s) on disk", rm_revocations_count(self->revocations));
    enforce_revocations(self);
    return 0;
}

void rm_node_revoke_watch_links(rm_node_ctx_t *self)
{
    rm_member_set_link_check(self->member, link_ok, self);
}

static void send_revocations(rm_node_ctx_t *self, const char *addr, const rm_revoke_msg_t *msg)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    if (rm_msg_encode(RM_MSG_REVOKE, 0, msg, &buf, &len, NULL) == 0)
        rm_member_send(self->member, addr, buf, len, NULL); /* lost: digests repair it */
    free(buf);
}

/*  New revocations go to every live member at once. */
static void flood_revocations(rm_node_ctx_t *self, const rm_revoke_msg_t *fresh)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    if (rm_msg_encode(RM_MSG_REVOKE, 0, fresh, &buf, &len, NULL) == 0)
        rm_member_broadcast(self->member, buf, len); /* lost: digests repair it */
    free(buf);
}

int rm_node_revoke_in(rm_node_ctx_t *self, const rm_cred_t *who, const rm_revoke_msg_t *msg,
                      size_t *added, rm_err_t *err)
{
    rm_revoke_msg_t fresh = {0};
    size_t bad = 0;
    rm_err_t why = {0};
    *added = 0;
    fresh.revocations.items =
        calloc(msg->revocations.count ? msg->revocations.count : 1, sizeof(rm_bin_t));
    if (!fresh.revocations.items)
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    for (uint32_t i = 0; i < msg->revocations.count; i++) {
        const rm_bin_t *b = &msg->revocations.items[i];
        const rm_revocation_t *rev = NULL;
        int rc = rm_revocations_add(self->revocations, b->data, b->len, &rev, &why);
        if (rc < 0) {
            bad++;
            continue;
        }
        if (rc == 0)
            continue;
        char at[40];
        fmt_time(rev->revoked_at, at, sizeof at);
        rm_log_notice("revoked: credentials of '%s' issued up to %s (from %s '%s')", rev->name, at,
                      rm_role_effective(who->role), who->name);
        fresh.revocations.items[fresh.revocations.count++] = *b;
    }
    if (bad > 0)
        rm_log_warning("REVOKE from %s '%s': %zu revocation(s) refused: %s", who->role, who->name,
                       bad, why.msg);
    *added = fresh.revocations.count;
    if (fresh.revocations.count > 0) {
        char path[1100];
        rm_err_t save_err;
        if (rm_node_home_path(self, "revocations", path, sizeof path, &save_err) != 0 ||
            rm_revocations_save(self->revocations, path, &save_err) != 0)
            rm_log_error("cannot save the revocations: %s", save_err.msg);
        enforce_revocations(self);
        flood_revocations(self, &fresh);
    }
    free(fresh.revocations.items);
    if (bad > 0 && *added == 0 && bad == msg->revocations.count)
        return rm_err_set(err, why.code, "%s", why.msg);
    return 0;
}

void rm_node_revoke_tick(rm_node_ctx_t *self, int64_t now)
{
    if (now < self->revoke_next || rm_revocations_count(self->revocations) == 0)
        return;
    self->revoke_next = now + 1000;
    rm_hash_t ours;
    rm_revocations_digest(self->revocations, &ours);
    size_t n = 0;
    const rm_member_peer_t *peers = rm_member_peers(self->member, &n);
    rm_revoke_msg_t all = {0};
    for (size_t i = 0; i < n; i++) {
        const rm_member_peer_t *p = &peers[i];
        if (!p->alive || !p->has_meta || memcmp(p->meta->revoked.b, ours.b, 32) == 0)
            continue;
        char *last = zhashx_lookup(self->revoke_sent, p->name);
        if (last && now - atoll(last) < RM_REVOKE_RESEND_MS)
            continue;
        if (!all.revocations.items && !(all.revocations.items = rm_revocations_blobs(
                                            self->revocations, &all.revocations.count)))
            return;
        send_revocations(self, p->addr, &all);
        char stamp[24];
        snprintf(stamp, sizeof stamp, "%lld", (long long)now);
        zhashx_update(self->revoke_sent, p->name, strdup(stamp));
    }
    free(all.revocations.items);
}
