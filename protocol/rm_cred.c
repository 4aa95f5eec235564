#include "rm_cred.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "rm_fs.h"
#include "rm_rights.h"
#include "rm_signed.h"

#define TOKEN_HEADER "RENDERMESH-TOKEN 1\n"
#define SIG_DOMAIN "rendermesh-credential-v1"
#define MAX_TOKEN_FILE 16384

static const rm_field_t cred_fields[] = {
    RM_FIELD(rm_cred_t, version, RM_F_U64, 0, "credential format, 1"),
    RM_FIELD(rm_cred_t, role, RM_F_STR, 16, "admin, artist, node (or client: admin)"),
    RM_FIELD(rm_cred_t, name, RM_F_STR, RM_MAX_NAME, "node or user name"),
    RM_FIELD(rm_cred_t, curve_pk, RM_F_B32, 0, "CURVE public key vouched for"),
    RM_FIELD(rm_cred_t, mesh_pk, RM_F_B32, 0, "Ed25519 public key of the signing mesh"),
    RM_FIELD(rm_cred_t, issued, RM_F_I64, 0, "unix seconds"),
    RM_FIELD(rm_cred_t, expires, RM_F_I64, 0, "unix seconds"),
    RM_FIELD(rm_cred_t, sign_pk, RM_F_B32, 0,
             "Ed25519 key its holder signs records with (the jobs it submits)"),
};
/* sign_pk may be absent: credentials issued before signed records. */
const rm_struct_desc_t rm_cred_desc =
    RM_DESC_OPT(rm_cred_t, "credential", cred_fields, 1, "what the mesh key vouches for");

static const rm_field_t token_fields[] = {
    RM_FIELD(rm_token_t, version, RM_F_U64, 0, "token format, 1"),
    RM_FIELD(rm_token_t, mesh_pk, RM_F_B32, 0, "mesh public key"),
    RM_FIELD(rm_token_t, curve_pk, RM_F_B32, 0, "holder's CURVE public key"),
    RM_FIELD(rm_token_t, curve_sk, RM_F_B32, 0, "holder's CURVE secret key"),
    RM_FIELD(rm_token_t, credential, RM_F_BIN, 4096, "signed credential of curve_pk"),
    RM_FIELD(rm_token_t, sign_sk, RM_F_BIN, 64, "Ed25519 secret of the credential's sign_pk"),
};
const rm_struct_desc_t rm_token_desc =
    RM_DESC_OPT(rm_token_t, "token", token_fields, 1, "a join token (secret)");

int rm_cred_sign(const rm_cred_t *cred, const uint8_t mesh_sk[64], rm_bin_t *out, rm_err_t *err)
{
    return rm_signed_make(SIG_DOMAIN, &rm_cred_desc, cred, mesh_sk, out, err);
}

int rm_cred_verify(const uint8_t *data, size_t len, const uint8_t mesh_pk[32], int64_t now,
                   rm_cred_t *cred, rm_err_t *err)
{
    if (rm_signed_peek(&rm_cred_desc, data, len, cred, err) != 0)
        return -1;
    /* Until the signature holds, every field is the sender's say-so: keep
       them out of messages that end up in logs. */
    if (memcmp(cred->mesh_pk.b, mesh_pk, 32) != 0) {
        rm_err_set(err, RM_EAUTH, "credential is signed by another mesh");
        goto fail;
    }
    if (rm_signed_check(SIG_DOMAIN, data, len, mesh_pk, err) != 0) {
        rm_err_prefix(err, "credential has a ");
        goto fail;
    }
    if (!rm_role_known(cred->role)) {
        rm_err_set(err, RM_EAUTH, "credential of '%s' has unknown role '%s'", cred->name,
                   cred->role);
        goto fail;
    }
    if (cred->expires <= now) {
        rm_err_set(err, RM_EAUTH, "credential of '%s' expired %lld s ago", cred->name,
                   (long long)(now - cred->expires));
        goto fail;
    }
    return 0;
fail:
    rm_codec_free(&rm_cred_desc, cred);
    return -1;
}

int rm_token_issue(const uint8_t mesh_sk[64], const char *role, const char *name,
                   int64_t lifetime_s, rm_token_t *token, rm_err_t *err)
{
    rm_cred_t cred = {0};
    memset(token, 0, sizeof *token);
    token->version = 1;
    crypto_sign_ed25519_sk_to_pk(token->mesh_pk.b, mesh_sk);
    crypto_box_keypair(token->curve_pk.b, token->curve_sk.b);
    if (!(token->sign_sk.data = malloc(crypto_sign_SECRETKEYBYTES)))
        return rm_err_set(err, RM_ENOMEM, "out of memory issuing a token");
    token->sign_sk.len = crypto_sign_SECRETKEYBYTES;

    cred.version = 1;
    cred.role = (char *)role;
    cred.name = (char *)name;
    cred.curve_pk = token->curve_pk;
    cred.mesh_pk = token->mesh_pk;
    cred.issued = (int64_t)time(NULL);
    cred.expires = cred.issued + lifetime_s;
    crypto_sign_keypair(cred.sign_pk.b, token->sign_sk.data);
    if (rm_cred_sign(&cred, mesh_sk, &token->credential, err) != 0) {
        rm_token_free(token);
        return -1;
    }
    return 0;
}

int rm_token_format(const rm_token_t *token, char **text, rm_err_t *err)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    *text = NULL;
    if (rm_codec_encode(&rm_token_desc, token, &buf, &len, err) != 0)
        return -1;
    size_t b64_len = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
    size_t total = sizeof TOKEN_HEADER - 1 + b64_len + 1;
    char *out = malloc(total);
    if (!out) {
        sodium_memzero(buf, len);
        free(buf);
        return rm_err_set(err, RM_ENOMEM, "out of memory formatting a token");
    }
    memcpy(out, TOKEN_HEADER, sizeof TOKEN_HEADER - 1);
    sodium_bin2base64(out + sizeof TOKEN_HEADER - 1, b64_len, buf, len,
                      sodium_base64_VARIANT_ORIGINAL);
    strcat(out, "\n");
    sodium_memzero(buf, len);
    free(buf);
    *text = out;
    return 0;
}

int rm_token_parse(const char *text, size_t len, rm_token_t *token, rm_err_t *err)
{
    memset(token, 0, sizeof *token);
    size_t hlen = sizeof TOKEN_HEADER - 1;
    if (len < hlen || memcmp(text, TOKEN_HEADER, hlen) != 0)
        return rm_err_set(err, RM_EINVAL,
                          "not a rendermesh token (expected a first line 'RENDERMESH-TOKEN 1')");
    const char *b64 = text + hlen;
    size_t b64_len = len - hlen;
    while (b64_len > 0 &&
           (b64[b64_len - 1] == '\n' || b64[b64_len - 1] == '\r' || b64[b64_len - 1] == ' '))
        b64_len--;
    size_t cap = b64_len / 4 * 3 + 3;
    uint8_t *bin = malloc(cap ? cap : 1);
    size_t bin_len = 0;
    if (!bin)
        return rm_err_set(err, RM_ENOMEM, "out of memory parsing a token");
    if (sodium_base642bin(bin, cap, b64, b64_len, NULL, &bin_len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0) {
        free(bin);
        return rm_err_set(err, RM_EINVAL, "token is damaged (bad base64)");
    }
    size_t used = 0;
    int rc = rm_codec_decode(&rm_token_desc, token, bin, bin_len, &used, err);
    sodium_memzero(bin, bin_len);
    free(bin);
    if (rc != 0)
        return rm_err_prefix(err, "token is damaged: ");
    if (token->version != 1) {
        rm_token_free(token);
        return rm_err_set(err, RM_EINVAL, "token version %llu is not supported",
                          (unsigned long long)token->version);
    }
    uint8_t check[32];
    if (crypto_scalarmult_base(check, token->curve_sk.b) != 0 ||
        memcmp(check, token->curve_pk.b, 32) != 0) {
        rm_token_free(token);
        return rm_err_set(err, RM_EINVAL, "token is damaged (key pair does not match)");
    }
    if (token->sign_sk.len != 0) {
        rm_cred_t cred;
        bool ok = token->sign_sk.len == crypto_sign_SECRETKEYBYTES &&
                  rm_signed_peek(&rm_cred_desc, token->credential.data, token->credential.len,
                                 &cred, NULL) == 0;
        if (ok) {
            /* From the seed: the secret's second half is only a copy of
               the public key. */
            uint8_t seed[crypto_sign_SEEDBYTES], sk[crypto_sign_SECRETKEYBYTES];
            crypto_sign_ed25519_sk_to_seed(seed, token->sign_sk.data);
            crypto_sign_seed_keypair(check, sk, seed);
            ok = memcmp(check, cred.sign_pk.b, 32) == 0 &&
                 memcmp(sk, token->sign_sk.data, sizeof sk) == 0;
            sodium_memzero(seed, sizeof seed);
            sodium_memzero(sk, sizeof sk);
            rm_codec_free(&rm_cred_desc, &cred);
        }
        if (!ok) {
            rm_token_free(token);
            return rm_err_set(err, RM_EINVAL, "token is damaged (signing key does not match)");
        }
    }
    return 0;
}

int rm_token_load(const char *path, rm_token_t *token, rm_err_t *err)
{
    uint8_t *data = NULL;
    size_t len = 0;
    memset(token, 0, sizeof *token);
    if (rm_secret_read(path, &data, &len, MAX_TOKEN_FILE, err) != 0)
        return -1;
    int rc = rm_token_parse((const char *)data, len, token, err);
    sodium_memzero(data, len);
    free(data);
    if (rc != 0)
        return rm_err_prefix(err, "%s: ", path);
    return 0;
}

int rm_token_save(const char *path, const rm_token_t *token, rm_err_t *err)
{
    char *text = NULL;
    if (rm_token_format(token, &text, err) != 0)
        return -1;
    int rc = rm_secret_write(path, text, strlen(text), err);
    sodium_memzero(text, strlen(text));
    free(text);
    return rc;
}

void rm_token_free(rm_token_t *token)
{
    sodium_memzero(token->curve_sk.b, sizeof token->curve_sk.b);
    if (token->sign_sk.data)
        sodium_memzero(token->sign_sk.data, token->sign_sk.len);
    rm_codec_free(&rm_token_desc, token);
}

static int path_join(char *out, size_t size, const char *dir, const char *name, rm_err_t *err)
{
    if ((size_t)snprintf(out, size, "%s/%s", dir, name) >= size)
        return rm_err_set(err, RM_EINVAL, "path too long: %s/%s", dir, name);
    return 0;
}

int rm_mesh_key_create(const char *dir, uint8_t mesh_pk[32], uint8_t mesh_sk[64], rm_err_t *err)
{
    char path[4096];
    struct stat st;
    if (path_join(path, sizeof path, dir, "mesh.key", err) != 0)
        return -1;
    if (stat(path, &st) == 0)
        return rm_err_set(err, RM_EINVAL,
                          "%s already exists: this machine already holds a mesh identity", path);
    crypto_sign_keypair(mesh_pk, mesh_sk);
    if (rm_secret_write(path, mesh_sk, 64, err) != 0)
        return -1;
    char pub[4096];
    if (path_join(pub, sizeof pub, dir, "mesh.pub", err) != 0)
        return -1;
    char z85[41];
    rm_key_z85(mesh_pk, z85);
    FILE *f = fopen(pub, "w");
    if (!f || fprintf(f, "%s\n", z85) < 0 || fclose(f) != 0)
        return rm_err_set(err, rm_err_from_errno(errno), "cannot write %s: %s", pub,
                          strerror(errno));
    return 0;
}

int rm_mesh_key_load(const char *dir, uint8_t mesh_pk[32], uint8_t mesh_sk[64], rm_err_t *err)
{
    char path[4096];
    uint8_t *data = NULL;
    size_t len = 0;
    if (path_join(path, sizeof path, dir, "mesh.key", err) != 0)
        return -1;
    if (rm_secret_read(path, &data, &len, 64, err) != 0)
        return -1;
    if (len != 64) {
        sodium_memzero(data, len);
        free(data);
        return rm_err_set(err, RM_EINVAL, "%s is damaged (%zu bytes, expected 64)", path, len);
    }
    memcpy(mesh_sk, data, 64);
    sodium_memzero(data, len);
    free(data);
    crypto_sign_ed25519_sk_to_pk(mesh_pk, mesh_sk);
    return 0;
}

void rm_door_keypair(const uint8_t mesh_pk[32], uint8_t door_pk[32], uint8_t door_sk[32])
{
    static const char label[] = "rendermesh door key v1";
    uint8_t seed[crypto_box_SEEDBYTES];
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof seed);
    crypto_generichash_update(&st, (const uint8_t *)label, sizeof label - 1);
    crypto_generichash_update(&st, mesh_pk, 32);
    crypto_generichash_final(&st, seed, sizeof seed);
    crypto_box_seed_keypair(door_pk, door_sk, seed);
}

int rm_secret_write(const char *path, const void *data, size_t len, rm_err_t *err)
{
    return rm_fs_write_atomic(path, data, len, 0600, err);
}

int rm_secret_read(const char *path, uint8_t **data, size_t *len, size_t max, rm_err_t *err)
{
    struct stat st;
    *data = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return rm_err_set(err, rm_err_from_errno(errno), "cannot open %s: %s", path,
                          strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return rm_err_set(err, RM_EINVAL, "%s is not a regular file", path);
    }
    if (st.st_mode & 077) {
        close(fd);
        return rm_err_set(err, RM_EAUTH,
                          "secret file %s has mode %04o, readable by others; run: chmod 600 %s",
                          path, (unsigned)(st.st_mode & 07777), path);
    }
    if ((size_t)st.st_size > max) {
        close(fd);
        return rm_err_set(err, RM_EINVAL, "%s is too large (%lld bytes, max %zu)", path,
                          (long long)st.st_size, max);
    }
    uint8_t *buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        close(fd);
        return rm_err_set(err, RM_ENOMEM, "out of memory reading %s", path);
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    *data = buf;
    *len = got;
    return 0;
}

void rm_key_z85(const uint8_t key[32], char out[41])
{
    zmq_z85_encode(out, key, 32);
}
