#include "rm_log.h"
#include "rm_zap.h"

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

zsock_t *rm_zap_bind(rm_err_t *err)
{
    zsock_t *zap = zsock_new(ZMQ_REP);
    if (!zap) {
        rm_err_set(err, RM_EIO, "cannot create the ZAP socket");
        return NULL;
    }
    if (zsock_bind(zap, "%s", RM_ZAP_ENDPOINT) != 0) {
        zsock_destroy(&zap);
        rm_err_set(err, RM_EIO, "cannot bind %s: another ZAP handler runs in this process",
                   RM_ZAP_ENDPOINT);
        return NULL;
    }
    return zap;
}

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

void rm_zap_handle(zsock_t *zap, rm_roster_t *roster, rm_refusals_t *refusals)
{
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
        if (rm_refusal_log_ok(refusals))
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
        const rm_cred_t *cred = rm_roster_find(roster, zframe_data(key), (int64_t)time(NULL));
        if (cred) {
            reply(zap, rid, "200", "OK", z85);
            goto out;
        }
        if (rm_refusal_log_ok(refusals))
            rm_log_warning("refused connection from %s: CURVE key %s presented no valid credential "
                           "of this mesh",
                           address ? address : "?", z85);
        reply(zap, rid, "400", "no credential", "");
        goto out;
    }
    if (rm_refusal_log_ok(refusals))
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
