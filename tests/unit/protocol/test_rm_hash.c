#include "rm_hash.h"

#include <sodium.h>
#include <string.h>

#include "rm_test.h"

static void test_hash_is_sha256(void)
{
    rm_hash_t h;
    char hex[65];
    rm_hash("abc", 3, &h);
    rm_hash_hex(&h, hex);
    /* SHA-256("abc"), FIPS 180-2's example */
    CHECK(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
    rm_hash("", 0, &h);
    rm_hash_hex(&h, hex);
    CHECK(strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0);
}

/*  libcrypto's SHA-256 (with the CPU's extensions) and libsodium's (the
    fallback) agree, at every size a chunk may have. */
static void test_agrees_with_libsodium(void)
{
    static uint8_t data[1 << 20];
    randombytes_buf(data, sizeof data);
    size_t sizes[] = {0, 1, 55, 56, 63, 64, 65, 4095, 65536, 65537, sizeof data};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        rm_hash_t h, want;
        rm_hash(data, sizes[i], &h);
        crypto_hash_sha256(want.b, data, sizes[i]);
        CHECK_MSG(memcmp(&h, &want, sizeof h) == 0, "%zu bytes", sizes[i]);
    }
}

static void test_hex_round_trips(void)
{
    rm_hash_t h, back;
    char hex[65];
    rm_hash("abc", 3, &h);
    rm_hash_hex(&h, hex);
    CHECK(rm_hash_parse(hex, &back) == 0);
    CHECK(memcmp(&h, &back, sizeof h) == 0);
    for (char *c = hex; *c; c++)
        *c = (char)(*c >= 'a' ? *c - 32 : *c); /* upper case parses too */
    CHECK(rm_hash_parse(hex, &back) == 0 && memcmp(&h, &back, sizeof h) == 0);
}

static void test_parse_refuses_bad_hex(void)
{
    rm_hash_t h, back;
    char hex[65];
    rm_hash("abc", 3, &h);
    rm_hash_hex(&h, hex);
    back = h;
    CHECK(rm_hash_parse("ba78", &back) == -1);
    CHECK(rm_hash_parse(NULL, &back) == -1);
    hex[10] = 'g';
    CHECK(rm_hash_parse(hex, &back) == -1);
    CHECK(memcmp(&h, &back, sizeof h) == 0); /* untouched on failure */
}

static void test_zero(void)
{
    rm_hash_t h;
    rm_hash("", 0, &h);
    CHECK(!rm_hash_is_zero(&h));
    memset(&h, 0, sizeof h);
    CHECK(rm_hash_is_zero(&h));
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    RM_RUN(test_hash_is_sha256);
    RM_RUN(test_agrees_with_libsodium);
    RM_RUN(test_hex_round_trips);
    RM_RUN(test_parse_refuses_bad_hex);
    RM_RUN(test_zero);
    RM_TEST_DONE();
}
