/*  rm_door: the door handshake's messages and checks (see rm_door.h). */
#include "rm_door.h"

#include <inttypes.h>
#include <string.h>

#include "rm_rights.h"

rm_hello_t rm_door_hello(const rm_token_t *identity)
{
    return (rm_hello_t){.proto = RM_PROTO_VERSION, .credential = identity->credential};
}

rm_welcome_t rm_door_welcome(const rm_token_t *identity, const char *node)
{
    /* The codec takes a non-const name; it only reads it when encoding. */
    return (rm_welcome_t){
        .proto = RM_PROTO_VERSION, .credential = identity->credential, .node = (char *)node};
}

/*  The envelope already refuses another version; the body's own field is
    checked too so that a peer that agrees on the envelope but not on the
    handshake is named, not half admitted. */
static int check_version(uint64_t proto, const char *who, rm_err_t *err)
{
    if (proto != RM_PROTO_VERSION)
        return rm_err_set(err, RM_EPROTO,
                          "%s speaks protocol version %" PRIu64 ", we speak version %d", who, proto,
                          RM_PROTO_VERSION);
    return 0;
}

static int refuse_cred(rm_cred_t *cred)
{
    rm_codec_free(&rm_cred_desc, cred);
    memset(cred, 0, sizeof *cred);
    return -1;
}

int rm_door_hello_verify(const rm_hello_t *hello, const uint8_t mesh_pk[32],
                         const uint8_t curve_pk[32], int64_t now, const char *who, rm_cred_t *cred,
                         rm_err_t *err)
{
    rm_err_t e = {0};
    memset(cred, 0, sizeof *cred);
    if (check_version(hello->proto, who, err) != 0)
        return -1;
    if (rm_cred_verify(hello->credential.data, hello->credential.len, mesh_pk, now, cred, &e) !=
        0) {
        rm_err_set(err, e.code, "%s: %s", who, e.msg);
        return refuse_cred(cred);
    }
    /* Else a peer could present someone else's (public) credential. */
    if (memcmp(cred->curve_pk.b, curve_pk, 32) != 0) {
        rm_err_set(err, RM_EAUTH, "%s: credential of '%s' belongs to another CURVE key", who,
                   cred->name);
        return refuse_cred(cred);
    }
    return 0;
}

int rm_door_welcome_verify(const rm_welcome_t *welcome, const uint8_t mesh_pk[32], int64_t now,
                           const char *who, rm_cred_t *cred, rm_err_t *err)
{
    rm_err_t e = {0};
    memset(cred, 0, sizeof *cred);
    if (check_version(welcome->proto, who, err) != 0)
        return -1;
    if (rm_cred_verify(welcome->credential.data, welcome->credential.len, mesh_pk, now, cred, &e) !=
        0) {
        rm_err_set(err, e.code == RM_ENOMEM ? RM_ENOMEM : RM_EAUTH,
                   "%s is not a node of this mesh: %s", who, e.msg);
        return refuse_cred(cred);
    }
    /* Only a node may answer at a door: a client's credential would let
       its holder pose as a node to the newcomer. */
    if (!rm_role_has(cred->role, RM_RIGHT_MESH)) {
        rm_err_set(err, RM_EAUTH, "%s is not a node: its credential ('%s') has role '%s'", who,
                   cred->name, cred->role);
        return refuse_cred(cred);
    }
    return 0;
}
