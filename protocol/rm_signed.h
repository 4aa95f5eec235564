/*  rm_signed: a record and its Ed25519 signature, as one blob.

    The blob is a msgpack array [body, sig]: body is the record encoded with
    its descriptor, sig signs DOMAIN || body.  The domain names what the
    record is ("rendermesh-credential-v1"), so a signature over one kind of
    record never passes for another.  Credentials and revocations are signed
    by the mesh key; later records (job specs, done frames) by their
    authors' keys. */
#ifndef RM_SIGNED_H
#define RM_SIGNED_H

#include <stdint.h>

#include "rm_codec.h"

#define RM_SIGNED_MAX 4096 /* largest body a signed blob may carry */

/*  Encodes `record` with `desc` and signs it with the 64-byte Ed25519
    secret key; *out is malloc'd. */
int rm_signed_make(const char *domain, const rm_struct_desc_t *desc, const void *record,
                   const uint8_t sk[64], rm_bin_t *out, rm_err_t *err);

/*  Decodes a signed blob into `record` (free with rm_codec_free (desc,
    record)) without checking the signature: for reading who claims to have
    signed it.  RM_EAUTH "malformed ..." on a bad blob. */
int rm_signed_peek(const rm_struct_desc_t *desc, const uint8_t *data, size_t len, void *record,
                   rm_err_t *err);

/*  Checks the blob's signature against pk for `domain`: 0, or RM_EAUTH
    "forged signature". */
int rm_signed_check(const char *domain, const uint8_t *data, size_t len, const uint8_t pk[32],
                    rm_err_t *err);

/*  Detached form, for records that carry their signature in a field of
    their own (a frame's grant and done signatures): sig signs DOMAIN ||
    the encoding of `record` with `desc`. */
int rm_signed_sign_detached(const char *domain, const rm_struct_desc_t *desc, const void *record,
                            const uint8_t sk[64], uint8_t sig[64], rm_err_t *err);
/*  0, or RM_EAUTH "forged signature" (also for a signature not 64 bytes). */
int rm_signed_check_detached(const char *domain, const rm_struct_desc_t *desc, const void *record,
                             const rm_bin_t *sig, const uint8_t pk[32], rm_err_t *err);

#endif
