#include "rm_hash.h"

#include "rm_test.h"

static void test_hash_is_blake2b_256(void)
{
    rm_hash_t h;
    char hex[65];
    rm_hash("abc", 3, &h);
    rm_hash_hex(&h, hex);
    /* BLAKE2b-256("abc"), the reference value */
    CHECK(strcmp(hex, "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319") == 0);
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
    CHECK(rm_hash_parse("bddd", &back) == -1);
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
    RM_RUN(test_hash_is_blake2b_256);
    RM_RUN(test_hex_round_trips);
    RM_RUN(test_parse_refuses_bad_hex);
    RM_RUN(test_zero);
    RM_TEST_DONE();
}
