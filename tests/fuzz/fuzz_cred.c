/*  libFuzzer target: the credential, revocation and token decoders.  The
    first byte picks which: a signed credential as it arrives in
    HELLO/WELCOME (rm_cred_verify against a fixed mesh key), a signed
    revocation as it arrives in REVOKE (rm_revocation_verify), or a token
    file's text (rm_token_parse).  Nothing random may verify. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rm_cred.h"
#include "rm_revoke.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t mesh_pk[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    rm_err_t err;
    if (size < 1)
        return 0;
    if ((data[0] & 3) == 2) {
        rm_revocation_t rev;
        if (rm_revocation_verify(data + 1, size - 1, mesh_pk, &rev, &err) == 0)
            abort();
        if (err.code != RM_EAUTH && err.code != RM_ENOMEM)
            abort();
    } else if (data[0] & 1) {
        rm_cred_t cred;
        if (rm_cred_verify(data + 1, size - 1, mesh_pk, 1000, &cred, &err) == 0)
            abort(); /* nobody holds the secret of this made-up key */
        if (err.code != RM_EAUTH && err.code != RM_ENOMEM)
            abort();
    } else {
        rm_token_t token;
        if (rm_token_parse((const char *)data + 1, size - 1, &token, &err) == 0)
            rm_token_free(&token);
    }
    return 0;
}
