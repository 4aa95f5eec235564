#include "rm_log.h"
#include "rm_zap.h"

#include "rm_cred.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

bool rm_refusal_log_ok(rm_refusals_t *refusals)
{
    int64_t now = zclock_mono();
    if (now - refusals->window_start >= RM_REFUSAL_WINDOW_MS) {
        if (refusals->dropped)
            rm_log_warning("%u more refused connections or messages were not logged",
                           refusals->dropped);
        refusals->window_start = now;
        refusals->logged = 0;
        refusals->dropped = 0;
    }
    if (refusals->logged < RM_REFUSAL_LOGS) {
        refusals->logged++;
        return true;
    }
    refusals->dropped++;
    return false;
}

/* ZAP requests answered per turn before the pipe is looked at again. */
#define BATCH 256

struct _rm_zap_t {
    zactor_t *actor;
    zsock_t *zap_sock; /* the actor's; closed here once it has ended */
};

typedef struct {
    zsock_t *zap;
    zhashx_t *keys; /* Z85 key -> expiry (unix seconds, as intptr_t) */
    rm_refusals_t refusals;
} zap_state_t;

static void reply(zsock_t *zap, const char *request_id, const char *status, const char *text,
                  const char *user_id)
{
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, "1.0");
    zmsg_addstr(msg, request_id);
    zmsg_addstr(msg, status);
    zmsg_addstr(msg, text);
    zmsg_addstr(msg, user_id);
    zmsg_addmem(msg, NULL, 0); /* no metadata */
    zmsg_send(&msg, zap);
}

static bool admitted(zap_state_t *st, const char *z85)
{
    intptr_t expires = (intptr_t)zhashx_lookup(st->keys, z85);
    return expires > (intptr_t)time(NULL);
}

/*  Reads one ZAP request and answers it.  Refusals are logged with the
    peer's address and key. */
static void handle_request(zap_state_t *st)
{
    zsock_t *zap = st->zap;
    zmsg_t *req = zmsg_recv(zap);
    if (!req)
        return;
    char *version = zmsg_popstr(req);
    char *request_id = zmsg_popstr(req);
    char *domain = zmsg_popstr(req);
    char *address = zmsg_popstr(req);
    char *identity = zmsg_popstr(req);
    char *mechanism = zmsg_popstr(req);
    zframe_t *key = zmsg_pop(req);
    const char *rid = request_id ? request_id : "";

    if (!version || strcmp(version, "1.0") != 0 || !mechanism) {
        reply(zap, rid, "500", "bad ZAP request", "");
        goto out;
    }
    if (strcmp(mechanism, "CURVE") != 0 || !key || zframe_size(key) != 32) {
        if (rm_refusal_log_ok(&st->refusals))
            rm_log_warning("refused %s connection from %s: only CURVE is accepted", mechanism,
                           address ? address : "?");
        reply(zap, rid, "400", "CURVE required", "");
        goto out;
    }
    char z85[41];
    rm_key_z85(zframe_data(key), z85);
    if (domain && strcmp(domain, RM_ZAP_DOMAIN_DOOR) == 0) {
        reply(zap, rid, "200", "OK", z85);
        goto out;
    }
    if (domain && strcmp(domain, RM_ZAP_DOMAIN_MESH) == 0) {
        if (admitted(st, z85)) {
            reply(zap, rid, "200", "OK", z85);
            goto out;
        }
        if (rm_refusal_log_ok(&st->refusals))
            rm_log_warning("refused connection from %s: CURVE key %s presented no valid credential "
                           "of this mesh",
                           address ? address : "?", z85);
        reply(zap, rid, "400", "no credential", "");
        goto out;
    }
    if (rm_refusal_log_ok(&st->refusals))
        rm_log_warning("refused connection from %s to unknown ZAP domain '%s'",
                       address ? address : "?", domain ? domain : "");
    reply(zap, rid, "400", "unknown domain", "");
out:
    zstr_free(&version);
    zstr_free(&request_id);
    zstr_free(&domain);
    zstr_free(&address);
    zstr_free(&identity);
    zstr_free(&mechanism);
    zframe_destroy(&key);
    zmsg_destroy(&req);
}

/*  One command from the node: ADMIT key expiry, FORGET key, COUNT, $TERM.
    False on $TERM. */
static bool handle_command(zap_state_t *st, zsock_t *pipe)
{
    zmsg_t *msg = zmsg_recv(pipe);
    if (!msg)
        return false;
    char *cmd = zmsg_popstr(msg);
    zframe_t *key = zmsg_pop(msg);
    zframe_t *expires = zmsg_pop(msg);
    bool go_on = cmd && strcmp(cmd, "$TERM") != 0;
    char z85[41] = "";
    if (key && zframe_size(key) == 32)
        rm_key_z85(zframe_data(key), z85);
    if (go_on && strcmp(cmd, "ADMIT") == 0 && z85[0] && expires &&
        zframe_size(expires) == sizeof(int64_t)) {
        int64_t until;
        memcpy(&until, zframe_data(expires), sizeof until);
        zhashx_update(st->keys, z85, (void *)(intptr_t)until);
    } else if (go_on && strcmp(cmd, "FORGET") == 0 && z85[0]) {
        zhashx_delete(st->keys, z85);
    } else if (go_on && strcmp(cmd, "COUNT") == 0) {
        size_t n = 0;
        intptr_t now = (intptr_t)time(NULL);
        for (void *until = zhashx_first(st->keys); until; until = zhashx_next(st->keys))
            n += (intptr_t)until > now;
        zsock_send(pipe, "8", (uint64_t)n);
    }
    zstr_free(&cmd);
    zframe_destroy(&key);
    zframe_destroy(&expires);
    zmsg_destroy(&msg);
    return go_on;
}

static void zap_actor(zsock_t *pipe, void *arg)
{
    zap_state_t st = {.zap = arg, .keys = zhashx_new()};
    zsock_signal(pipe, 0);
    bool running = st.keys != NULL;
    while (running) {
        zmq_pollitem_t items[] = {{zsock_resolve(pipe), 0, ZMQ_POLLIN, 0},
                                  {zsock_resolve(st.zap), 0, ZMQ_POLLIN, 0}};
        if (zmq_poll(items, 2, -1) < 0) {
            if (zmq_errno() == EINTR)
                continue; /* signals are meshd's: only $TERM ends this actor */
            break;
        }
        /* Commands first: an admission is sent before the WELCOME that lets
           its peer ask, so it is here before the peer's request. */
        while (running && (zsock_events(pipe) & ZMQ_POLLIN))
            running = handle_command(&st, pipe);
        for (int i = 0; running && i < BATCH && (zsock_events(st.zap) & ZMQ_POLLIN); i++)
            handle_request(&st);
    }
    zhashx_destroy(&st.keys);
}

rm_zap_t *rm_zap_new(rm_err_t *err)
{
    rm_zap_t *self = calloc(1, sizeof *self);
    zsock_t *zap = self ? zsock_new(ZMQ_REP) : NULL;
    if (!zap) {
        free(self);
        rm_err_set(err, RM_EIO, "cannot create the ZAP socket");
        return NULL;
    }
    if (zsock_bind(zap, "%s", RM_ZAP_ENDPOINT) != 0) {
        zsock_destroy(&zap);
        free(self);
        rm_err_set(err, RM_EIO, "cannot bind %s: another ZAP handler runs in this process",
                   RM_ZAP_ENDPOINT);
        return NULL;
    }
    /* The socket moves to the actor's thread (zactor_new is the barrier
       czmq asks for) and is only used there; it is closed here after the
       actor ended. */
    zsock_set_linger(zap, 0);
    if (!(self->actor = zactor_new(zap_actor, zap))) {
        zsock_destroy(&zap);
        free(self);
        rm_err_set(err, RM_EIO, "cannot start the ZAP handler");
        return NULL;
    }
    self->zap_sock = zap;
    return self;
}

void rm_zap_destroy(rm_zap_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rm_zap_t *self = *self_p;
    zactor_destroy(&self->actor);
    zsock_destroy(&self->zap_sock);
    free(self);
    *self_p = NULL;
}

void rm_zap_admit(rm_zap_t *self, const uint8_t key[32], int64_t expires)
{
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, "ADMIT");
    zmsg_addmem(msg, key, 32);
    zmsg_addmem(msg, &expires, sizeof expires);
    zmsg_send(&msg, self->actor);
}

void rm_zap_forget(rm_zap_t *self, const uint8_t key[32])
{
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, "FORGET");
    zmsg_addmem(msg, key, 32);
    zmsg_send(&msg, self->actor);
}

size_t rm_zap_admitted(rm_zap_t *self)
{
    uint64_t n = 0;
    zstr_send(self->actor, "COUNT");
    zsock_recv(self->actor, "8", &n);
    return (size_t)n;
}
