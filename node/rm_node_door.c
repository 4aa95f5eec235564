#include "rm_node_door.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rm_log.h"
#include "rm_door.h"
#include "rm_node_revoke.h"

int rm_node_door_key(zframe_t *frame, uint8_t key[32])
{
    const char *user = zframe_meta(frame, "User-Id");
    if (!user || strlen(user) != 40 || !zmq_z85_decode(key, user))
        return -1;
    return 0;
}

void rm_node_door_handle(rm_node_ctx_t *self)
{
    zmsg_t *in = zmsg_recv(self->door);
    if (!in)
        return;
    zframe_t *peer = zmsg_pop(in);
    zframe_t *payload = zmsg_pop(in);
    const char *address = payload ? zframe_meta(payload, "Peer-Address") : NULL;
    uint8_t key[32];
    rm_msg_t msg;
    rm_cred_t cred = {0};
    rm_err_t err;
    memset(&msg, 0, sizeof msg);
    if (!peer || !payload || zmsg_size(in) != 0 || rm_node_door_key(payload, key) != 0) {
        if (rm_refusal_log_ok(&self->refusals))
            rm_log_warning("door: refused a malformed message from %s", address ? address : "?");
        goto out;
    }
    if (rm_msg_decode(zframe_data(payload), zframe_size(payload), &msg, &err) != 0) {
        if (rm_refusal_log_ok(&self->refusals))
            rm_log_warning("door: refused a malformed message from %s: %s", address ? address : "?",
                           err.msg);
        goto out;
    }
    if (msg.type != RM_MSG_HELLO) {
        if (rm_refusal_log_ok(&self->refusals))
            rm_log_warning("door: refused %s from %s: only HELLO is accepted here",
                           rm_msg_name(msg.type), address ? address : "?");
        goto out;
    }
    char z85[41], who[400];
    rm_key_z85(key, z85);
    snprintf(who, sizeof who, "%s (key %s)", address ? address : "?", z85);
    if (rm_door_hello_verify(&msg.u.hello, self->token.mesh_pk.b, key, (int64_t)time(NULL), who,
                             &cred, &err) != 0) {
        if (rm_refusal_log_ok(&self->refusals))
            rm_log_warning("door: refused %s", err.msg);
        goto out;
    }
    const rm_revocation_t *rev = rm_node_revoked(self, &cred);
    if (rev) {
        /* The holder proved the key a mesh credential vouched for: tell it
           why, so a person sees "revoked", not a node that never answers. */
        char text[RM_MAX_NAME + 96];
        snprintf(text, sizeof text, "the credentials of '%s' were revoked by the mesh's admin",
                 cred.name);
        rm_node_reply_error(self->door, peer, msg.req, RM_EAUTH, text);
        if (rm_refusal_log_ok(&self->refusals))
            rm_log_warning("door: refused %s '%s' from %s: its credentials were revoked", cred.role,
                           cred.name, who);
        goto out;
    }
    bool known = rm_roster_find(self->roster, key, (int64_t)time(NULL)) != NULL;
    if (rm_roster_add(self->roster, &cred, msg.u.hello.credential.data, msg.u.hello.credential.len,
                      &err) != 0) {
        rm_log_error("door: %s", err.msg);
        goto out;
    }
    rm_zap_admit(self->zap, key, cred.expires); /* before the WELCOME that lets it use main */
    char roster_path[1100];
    if (!known && rm_node_home_path(self, "roster", roster_path, sizeof roster_path, &err) == 0 &&
        rm_roster_save(self->roster, roster_path, &err) != 0)
        rm_log_warning("cannot save the roster: %s", err.msg); /* peers knock again */
    rm_log_info("door: admitted %s '%s' from %s", cred.role, cred.name, address ? address : "?");
    rm_welcome_t welcome = rm_door_welcome(&self->token, self->config.name);
    rm_node_reply(self->door, peer, RM_MSG_WELCOME, msg.req, &welcome);
out:
    rm_codec_free(&rm_cred_desc, &cred);
    rm_msg_free(&msg);
    zframe_destroy(&peer);
    zframe_destroy(&payload);
    zmsg_destroy(&in);
}
