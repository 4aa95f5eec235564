/*  rm_hash: BLAKE2b-256 content hashes (see rm_hash.h). */
#include "rm_hash.h"

#include <sodium.h>
#include <string.h>

void rm_hash(const void *data, size_t len, rm_hash_t *out)
{
    crypto_generichash(out->b, sizeof out->b, data, len, NULL, 0);
}

void rm_hash_hex(const rm_hash_t *hash, char out[65])
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof hash->b; i++) {
        out[2 * i] = digits[hash->b[i] >> 4];
        out[2 * i + 1] = digits[hash->b[i] & 15];
    }
    out[64] = '\0';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int rm_hash_parse(const char *hex, rm_hash_t *out)
{
    if (!hex || strlen(hex) != 64)
        return -1;
    rm_hash_t h;
    for (size_t i = 0; i < 32; i++) {
        int hi = hex_value(hex[2 * i]);
        int lo = hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        h.b[i] = (uint8_t)(hi << 4 | lo);
    }
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
