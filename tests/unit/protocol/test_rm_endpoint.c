#include "rm_endpoint.h"

#include "rm_test.h"

static void test_parses_ipv4_and_names(void)
{
    rm_endpoint_t ep;
    rm_err_t err;
    CHECK(rm_endpoint_parse("tcp://127.0.0.1:7600", RM_ENDPOINT_CONNECT, &ep, &err) == 0);
    CHECK(strcmp(ep.host, "127.0.0.1") == 0 && ep.port == 7600 && !ep.ipv6);
    CHECK(rm_endpoint_parse("tcp://render-01.lan:1", RM_ENDPOINT_CONNECT, &ep, &err) == 0);
    CHECK(strcmp(ep.host, "render-01.lan") == 0 && ep.port == 1);
}

static void test_parses_ipv6_in_brackets(void)
{
    rm_endpoint_t ep;
    rm_err_t err;
    char buf[64];
    CHECK(rm_endpoint_parse("tcp://[::1]:7600", RM_ENDPOINT_CONNECT, &ep, &err) == 0);
    CHECK(strcmp(ep.host, "::1") == 0 && ep.port == 7600 && ep.ipv6);
    rm_endpoint_format(&ep, ep.port + 1, buf, sizeof buf);
    CHECK(strcmp(buf, "tcp://[::1]:7601") == 0);
    CHECK(rm_endpoint_parse("tcp://[::]:7600", RM_ENDPOINT_BIND, &ep, &err) == 0);
    CHECK(rm_endpoint_is_wildcard(&ep));
    /* without brackets the port cannot be told from the address */
    CHECK(rm_endpoint_parse("tcp://::1:7600", RM_ENDPOINT_CONNECT, &ep, &err) == -1);
    CHECK(rm_endpoint_parse("tcp://[::1:7600", RM_ENDPOINT_CONNECT, &ep, &err) == -1);
}

static void test_formats_ipv4_without_brackets(void)
{
    rm_endpoint_t ep;
    rm_err_t err;
    char buf[64];
    CHECK(rm_endpoint_parse("tcp://10.0.0.7:9000", RM_ENDPOINT_CONNECT, &ep, &err) == 0);
    rm_endpoint_format(&ep, ep.port, buf, sizeof buf);
    CHECK(strcmp(buf, "tcp://10.0.0.7:9000") == 0);
}

static void test_wildcard_binds_but_does_not_connect(void)
{
    rm_endpoint_t ep;
    rm_err_t err;
    CHECK(rm_endpoint_parse("tcp://*:7600", RM_ENDPOINT_BIND, &ep, &err) == 0);
    CHECK(rm_endpoint_is_wildcard(&ep));
    CHECK(rm_endpoint_parse("tcp://0.0.0.0:7600", RM_ENDPOINT_BIND, &ep, &err) == 0);
    CHECK(rm_endpoint_is_wildcard(&ep));
    CHECK(rm_endpoint_parse("tcp://*:1", RM_ENDPOINT_CONNECT, &ep, &err) == -1);
    CHECK(rm_endpoint_parse("tcp://h:1", RM_ENDPOINT_BIND, &ep, &err) == 0);
    CHECK(!rm_endpoint_is_wildcard(&ep));
}

static void test_refuses_bad_addresses(void)
{
    const char *bad[] = {"tcp://h:65535", "tcp://h:0",    "tcp://h:",    "tcp://h:-1",
                         "tcp://h:1x",    "tcp://:1",     "tcp://[]:1",  "udp://h:1",
                         "h:1",           "tcp://nohost", "tcp://a/b:1", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rm_endpoint_t ep;
        rm_err_t err;
        CHECK_MSG(rm_endpoint_parse(bad[i], RM_ENDPOINT_BIND, &ep, &err) == -1, "%s", bad[i]);
        CHECK_MSG(err.code == RM_EINVAL && strstr(err.msg, "tcp://HOST:PORT"), "%s", bad[i]);
    }
    char long_host[400];
    memset(long_host, 'a', sizeof long_host);
    memcpy(long_host, "tcp://", 6);
    snprintf(long_host + 390, 10, ":1");
    rm_endpoint_t ep;
    CHECK(rm_endpoint_parse(long_host, RM_ENDPOINT_CONNECT, &ep, NULL) == -1);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    RM_RUN(test_parses_ipv4_and_names);
    RM_RUN(test_parses_ipv6_in_brackets);
    RM_RUN(test_formats_ipv4_without_brackets);
    RM_RUN(test_wildcard_binds_but_does_not_connect);
    RM_RUN(test_refuses_bad_addresses);
    RM_TEST_DONE();
}
