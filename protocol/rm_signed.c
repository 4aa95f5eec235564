#include "rm_signed.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    rm_bin_t body; /* the encoded record */
    rm_bin_t sig;  /* Ed25519 over domain || body */
} signed_t;

static const rm_field_t signed_fields[] = {
    RM_FIELD(signed_t, body, RM_F_BIN, RM_SIGNED_MAX, "encoded record"),
    RM_FIELD(signed_t, sig, RM_F_BIN, 64, "Ed25519 signature of the domain and the body"),
};
static const rm_struct_desc_t signed_desc =
    RM_DESC(signed_t, "signed", signed_fields, "a record with its signature");

static uint8_t *sig_message(const char *domain, const rm_bin_t *body, size_t *len)
{
    size_t dlen = strlen(domain);
    *len = dlen + body->len;
    uint8_t *msg = malloc(*len ? *len : 1);
    if (msg) {
        memcpy(msg, domain, dlen);
        memcpy(msg + dlen, body->data, body->len);
    }
    return msg;
}

int rm_signed_make(const char *domain, const rm_struct_desc_t *desc, const void *record,
                   const uint8_t sk[64], rm_bin_t *out, rm_err_t *err)
{
    signed_t s = {0};
    uint8_t sig[crypto_sign_BYTES];
    size_t msg_len = 0;
    int rc = -1;
    memset(out, 0, sizeof *out);
    if (rm_codec_encode(desc, record, &s.body.data, &s.body.len, err) != 0)
        return -1;
    uint8_t *msg = sig_message(domain, &s.body, &msg_len);
    if (!msg) {
        rm_err_set(err, RM_ENOMEM, "out of memory signing a %s", desc->name);
        goto out;
    }
    crypto_sign_detached(sig, NULL, msg, msg_len, sk);
    s.sig.data = sig;
    s.sig.len = sizeof sig;
    rc = rm_codec_encode(&signed_desc, &s, &out->data, &out->len, err);
    s.sig.data = NULL;
out:
    free(msg);
    free(s.body.data);
    return rc;
}

static int open_blob(const uint8_t *data, size_t len, signed_t *s, const char *what, rm_err_t *err)
{
    size_t used = 0;
    memset(s, 0, sizeof *s);
    if (rm_codec_decode(&signed_desc, s, data, len, &used, err) != 0) {
        rm_err_prefix(err, "malformed %s: ", what);
        if (err)
            err->code = RM_EAUTH; /* the message stays: rm_err_set cannot format it into itself */
        return -1;
    }
    if (used != len || s->sig.len != crypto_sign_BYTES) {
        rm_codec_free(&signed_desc, s);
        return rm_err_set(err, RM_EAUTH, "malformed %s: bad signature length or trailing bytes",
                          what);
    }
    return 0;
}

int rm_signed_peek(const rm_struct_desc_t *desc, const uint8_t *data, size_t len, void *record,
                   rm_err_t *err)
{
    signed_t s;
    size_t used = 0;
    memset(record, 0, desc->size);
    if (open_blob(data, len, &s, desc->name, err) != 0)
        return -1;
    int rc = rm_codec_decode(desc, record, s.body.data, s.body.len, &used, err);
    if (rc != 0) {
        rm_codec_free(desc, record);
        rm_err_prefix(err, "malformed %s body: ", desc->name);
        if (err)
            err->code = RM_EAUTH;
    }
    rm_codec_free(&signed_desc, &s);
    return rc;
}

int rm_signed_check(const char *domain, const uint8_t *data, size_t len, const uint8_t pk[32],
                    rm_err_t *err)
{
    signed_t s;
    size_t msg_len = 0;
    if (open_blob(data, len, &s, "signed record", err) != 0)
        return -1;
    uint8_t *msg = sig_message(domain, &s.body, &msg_len);
    int rc = 0;
    if (!msg)
        rc = rm_err_set(err, RM_ENOMEM, "out of memory checking a signature");
    else if (crypto_sign_verify_detached(s.sig.data, msg, msg_len, pk) != 0)
        rc = rm_err_set(err, RM_EAUTH, "forged signature");
    free(msg);
    rm_codec_free(&signed_desc, &s);
    return rc;
}

/*  DOMAIN || encoding of record, malloc'd. */
static uint8_t *record_message(const char *domain, const rm_struct_desc_t *desc, const void *record,
                               size_t *len, rm_err_t *err)
{
    rm_bin_t body = {0};
    if (rm_codec_encode(desc, record, &body.data, &body.len, err) != 0)
        return NULL;
    uint8_t *msg = sig_message(domain, &body, len);
    free(body.data);
    if (!msg)
        rm_err_set(err, RM_ENOMEM, "out of memory signing a %s", desc->name);
    return msg;
}

int rm_signed_sign_detached(const char *domain, const rm_struct_desc_t *desc, const void *record,
                            const uint8_t sk[64], uint8_t sig[64], rm_err_t *err)
{
    size_t len = 0;
    uint8_t *msg = record_message(domain, desc, record, &len, err);
    if (!msg)
        return -1;
    crypto_sign_detached(sig, NULL, msg, len, sk);
    free(msg);
    return 0;
}

int rm_signed_check_detached(const char *domain, const rm_struct_desc_t *desc, const void *record,
                             const rm_bin_t *sig, const uint8_t pk[32], rm_err_t *err)
{
    if (!sig || sig->len != crypto_sign_BYTES)
        return rm_err_set(err, RM_EAUTH, "forged signature (%zu bytes)", sig ? sig->len : 0);
    size_t len = 0;
    uint8_t *msg = record_message(domain, desc, record, &len, err);
    if (!msg)
        return -1;
    int rc = crypto_sign_verify_detached(sig->data, msg, len, pk) == 0
                 ? 0
                 : rm_err_set(err, RM_EAUTH, "forged signature");
    free(msg);
    return rc;
}
