/*  rm_cred: the mesh identity, signed credentials and join tokens.

    The mesh key is an Ed25519 key pair kept by `meshctl` (never on nodes).
    A credential binds a CURVE public key to a role (rm_rights.h: "admin",
    "artist", "node", or "client" from before roles), a name and an expiry, signed by the mesh key.
   A node admits a peer only when the peer proves (by the CURVE handshake) that it holds the secret
   of a key that the mesh key signed: see docs/architecture.md, "Trust".

    A join token is a secret file: the holder's CURVE key pair, its signed
    credential and the mesh's public key.  It is written as text:
        RENDERMESH-TOKEN 1
        <base64 of the msgpack token>
    and must be mode 0600. */
#ifndef RM_CRED_H
#define RM_CRED_H

#include <stdbool.h>
#include <stdint.h>

#include "rm_codec.h"
#include "rm_msg.h"

#define RM_ROLE_NODE "node"
#define RM_ROLE_WORKER "worker" /* a meshd that renders but never coordinates */
#define RM_ROLE_ADMIN "admin"
#define RM_ROLE_ARTIST "artist"
#define RM_ROLE_CLIENT "client" /* before roles; read as admin */

typedef struct {
    uint64_t version;   /* 1 */
    char *role;         /* "admin" | "artist" | "node" | "client" */
    char *name;         /* who: a node or user name */
    rm_hash_t curve_pk; /* the CURVE public key it vouches for */
    rm_hash_t mesh_pk;  /* Ed25519 public key of the mesh that signed it */
    int64_t issued;     /* unix seconds */
    int64_t expires;    /* unix seconds */
    rm_hash_t sign_pk;  /* Ed25519 key its holder signs records with (jobs it submits);
                           zero in credentials from before signed records */
} rm_cred_t;

typedef struct {
    uint64_t version; /* 1 */
    rm_hash_t mesh_pk;
    rm_hash_t curve_pk;
    rm_hash_t curve_sk;
    rm_bin_t credential; /* signed credential of curve_pk */
    rm_bin_t sign_sk;    /* 64-byte Ed25519 secret of the credential's sign_pk; empty in
                            tokens from before signed records */
} rm_token_t;

extern const rm_struct_desc_t rm_cred_desc;
extern const rm_struct_desc_t rm_token_desc;

/*  Signs `cred` with the mesh secret key (64-byte Ed25519 secret); *out is
    the signed credential (malloc'd rm_bin_t data). */
int rm_cred_sign(const rm_cred_t *cred, const uint8_t mesh_sk[64], rm_bin_t *out, rm_err_t *err);

/*  Verifies a signed credential against mesh_pk at time `now`: well formed,
    signature valid, issued by this mesh (RM_EAUTH "credential of 'x' is
    signed by another mesh"), not expired, role known.  Fills *cred (free
    with rm_codec_free (&rm_cred_desc, cred)). */
int rm_cred_verify(const uint8_t *data, size_t len, const uint8_t mesh_pk[32], int64_t now,
                   rm_cred_t *cred, rm_err_t *err);

/*  Creates a fresh CURVE key pair and a credential for it, signed by the mesh
    key, valid for `lifetime_s` seconds; fills *token. */
int rm_token_issue(const uint8_t mesh_sk[64], const char *role, const char *name,
                   int64_t lifetime_s, rm_token_t *token, rm_err_t *err);

/*  Text form of a token (malloc'd, NUL-terminated) and back. */
int rm_token_format(const rm_token_t *token, char **text, rm_err_t *err);
int rm_token_parse(const char *text, size_t len, rm_token_t *token, rm_err_t *err);

/*  Reads and parses a token file, refusing one that others may read
    (RM_EAUTH "token file X has mode 0644; run: chmod 600 X"). */
int rm_token_load(const char *path, rm_token_t *token, rm_err_t *err);
/*  Writes a token file with mode 0600 (atomic: temp file + rename). */
int rm_token_save(const char *path, const rm_token_t *token, rm_err_t *err);
void rm_token_free(rm_token_t *token);

/*  Mesh key files: a new key pair (RM_EINVAL if `dir`/mesh.key exists), and
    loading them back.  mesh.key is 0600, mesh.pub is public. */
int rm_mesh_key_create(const char *dir, uint8_t mesh_pk[32], uint8_t mesh_sk[64], rm_err_t *err);
int rm_mesh_key_load(const char *dir, uint8_t mesh_pk[32], uint8_t mesh_sk[64], rm_err_t *err);

/*  The door's CURVE key pair, derived from the mesh public key so any holder
    of a credential can reach any node's door without knowing the node's own
    key.  The door only exchanges signed public material, so this key gives
    no confidentiality and needs none. */
void rm_door_keypair(const uint8_t mesh_pk[32], uint8_t door_pk[32], uint8_t door_sk[32]);

/*  Secret files: written 0600 with rm_fs_write_atomic, read back only if no
    group/other permission bit is set. */
int rm_secret_write(const char *path, const void *data, size_t len, rm_err_t *err);
int rm_secret_read(const char *path, uint8_t **data, size_t *len, size_t max, rm_err_t *err);

/*  Z85 text of a 32-byte key (41 bytes with NUL) for logs and the ZAP user id. */
void rm_key_z85(const uint8_t key[32], char out[41]);

#endif
