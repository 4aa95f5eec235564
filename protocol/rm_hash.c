/*  rm_hash: SHA-256 content hashes (see rm_hash.h). */
#include "rm_hash.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <sodium.h>
#include <string.h>

/*  Fetched once (OpenSSL 3 looks an algorithm up on every implicit use),
    and one digest context per thread, made on its first hash and freed
    when the thread ends, rather than one allocated per chunk. */
static EVP_MD *sha256;
static pthread_key_t ctx_key;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void free_ctx(void *ctx)
{
    EVP_MD_CTX_free(ctx);
}

static void fetch_sha256(void)
{
    sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (sha256 && pthread_key_create(&ctx_key, free_ctx) != 0) {
        EVP_MD_free(sha256); /* no thread key left: libsodium's SHA-256 instead */
        sha256 = NULL;
    }
}

void rm_hash(const void *data, size_t len, rm_hash_t *out)
{
    pthread_once(&sha256_once, fetch_sha256);
    EVP_MD_CTX *ctx = sha256 ? pthread_getspecific(ctx_key) : NULL;
    if (sha256 && !ctx && (ctx = EVP_MD_CTX_new()) != NULL &&
        pthread_setspecific(ctx_key, ctx) != 0) {
        EVP_MD_CTX_free(ctx);
        ctx = NULL;
    }
    unsigned int n = 0;
    if (sha256 && ctx && EVP_DigestInit_ex(ctx, sha256, NULL) == 1 &&
        EVP_DigestUpdate(ctx, data, len) == 1 && EVP_DigestFinal_ex(ctx, out->b, &n) == 1 &&
        n == sizeof out->b)
        return;
    /* libcrypto without SHA-256 or without memory for a context: the same
       hash from libsodium, in software, which cannot fail. */
    crypto_hash_sha256(out->b, data, len);
}

void rm_hash_hex(const rm_hash_t *hash, char out[65])
{
    sodium_bin2hex(out, 65, hash->b, sizeof hash->b);
}

int rm_hash_parse(const char *hex, rm_hash_t *out)
{
    rm_hash_t h;
    size_t n = 0;
    const char *end = NULL;
    if (!hex || strlen(hex) != 64 ||
        sodium_hex2bin(h.b, sizeof h.b, hex, 64, NULL, &n, &end) != 0 || n != sizeof h.b ||
        end != hex + 64)
        return -1;
    *out = h;
    return 0;
}

bool rm_hash_is_zero(const rm_hash_t *hash)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < sizeof hash->b; i++)
        acc |= hash->b[i];
    return acc == 0;
}

int rm_hash_cmp(const void *a, const void *b)
{
    return memcmp(a, b, sizeof(rm_hash_t));
}
