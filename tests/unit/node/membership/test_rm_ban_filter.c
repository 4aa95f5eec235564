/*  rm_ban_filter: the program's shape, and the kernel really dropping a
    banned address's connections (real listening sockets on loopback, the
    client bound to 127.0.0.x as its source). */
#include <errno.h>
#include <poll.h>

#include "rm_ban_filter.h"
#include "rm_test.h"

/*  A listening socket on family's loopback; its port in *port. */
static int listener(int family, uint16_t *port)
{
    int fd = socket(family, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_storage a = {0};
    socklen_t len;
    if (family == AF_INET) {
        struct sockaddr_in *v4 = (struct sockaddr_in *)&a;
        v4->sin_family = AF_INET;
        v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof *v4;
    } else {
        struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&a;
        v6->sin6_family = AF_INET6;
        v6->sin6_addr = in6addr_loopback;
        len = sizeof *v6;
    }
    if (bind(fd, (struct sockaddr *)&a, len) != 0 || listen(fd, 16) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&a)->sin_port
                                    : ((struct sockaddr_in6 *)&a)->sin6_port);
    return fd;
}

/*  True when a connection from source (text) to the loopback port is
    established within 500 ms: a dropped SYN leaves it in progress. */
static bool connects_from(const char *source, uint16_t port)
{
    int family = strchr(source, ':') ? AF_INET6 : AF_INET;
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return false;
    struct sockaddr_storage from = {0}, to = {0};
    socklen_t len;
    if (family == AF_INET) {
        struct sockaddr_in *f = (struct sockaddr_in *)&from, *t = (struct sockaddr_in *)&to;
        f->sin_family = t->sin_family = AF_INET;
        inet_pton(AF_INET, source, &f->sin_addr);
        t->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        t->sin_port = htons(port);
        len = sizeof *f;
    } else {
        struct sockaddr_in6 *f = (struct sockaddr_in6 *)&from, *t = (struct sockaddr_in6 *)&to;
        f->sin6_family = t->sin6_family = AF_INET6;
        inet_pton(AF_INET6, source, &f->sin6_addr);
        t->sin6_addr = in6addr_loopback;
        t->sin6_port = htons(port);
        len = sizeof *f;
    }
    bool ok = false;
    if (bind(fd, (struct sockaddr *)&from, len) == 0 &&
        (connect(fd, (struct sockaddr *)&to, len) == 0 || errno == EINPROGRESS)) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int soerr = -1;
        socklen_t slen = sizeof soerr;
        ok = poll(&p, 1, 500) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &slen) == 0 &&
             soerr == 0;
    }
    close(fd);
    return ok;
}

/*  Accepts what is queued, so the backlog never decides a result. */
static void drain(int lfd)
{
    int fd;
    while ((fd = accept(lfd, NULL, NULL)) >= 0)
        close(fd);
}

static void test_program_fits_the_kernel_limit(void)
{
    static struct sock_filter prog[RM_BAN_FILTER_MAX];
    enum { N = 3000 };
    static char text[N][32];
    const char *addrs[N];
    for (int i = 0; i < N; i++) {
        snprintf(text[i], sizeof text[i], "10.%d.%d.1", i / 256, i % 256);
        addrs[i] = text[i];
    }
    size_t included = 0;
    size_t len = rm_ban_filter_build(addrs, N, prog, &included);
    CHECK(len <= RM_BAN_FILTER_MAX);
    CHECK_MSG(included == (RM_BAN_FILTER_MAX - 7) / 2, "%zu", included);
    CHECK(len == 7 + 2 * included);
    const char *mixed[] = {"not an address", "192.0.2.7", "2001:db8::1", "::ffff:192.0.2.8"};
    len = rm_ban_filter_build(mixed, 4, prog, &included);
    CHECK(included == 3);        /* the unparsable one is skipped */
    CHECK(len == 7 + 2 * 2 + 9); /* the mapped one is an IPv4 entry */
    len = rm_ban_filter_build(NULL, 0, prog, &included);
    CHECK(included == 0 && len == 7);
}

static void test_banned_ipv4_cannot_connect(void)
{
    uint16_t port = 0;
    int lfd = listener(AF_INET, &port);
    CHECK(lfd >= 0);
    fcntl(lfd, F_SETFL, O_NONBLOCK);
    CHECK(rm_ban_filter_listener(port) == lfd);
    CHECK(rm_ban_filter_is_listener(lfd, port));
    CHECK(!rm_ban_filter_is_listener(lfd, (uint16_t)(port + 1)));
    CHECK(connects_from("127.0.0.2", port));
    drain(lfd);

    const char *banned[] = {"127.0.0.5", "::ffff:127.0.0.2", "2001:db8::2"};
    rm_err_t err = {0};
    size_t included = 0;
    CHECK(rm_ban_filter_attach(lfd, banned, 3, &included, &err) == 0);
    CHECK(included == 3);
    CHECK(!connects_from("127.0.0.2", port)); /* its SYN dropped */
    CHECK(!connects_from("127.0.0.5", port));
    CHECK(connects_from("127.0.0.3", port)); /* everyone else as before */
    drain(lfd);

    CHECK(rm_ban_filter_attach(lfd, NULL, 0, &included, &err) == 0); /* unbanned */
    CHECK(connects_from("127.0.0.2", port));
    CHECK(rm_ban_filter_attach(lfd, NULL, 0, &included, &err) == 0); /* none to take off */
    drain(lfd);
    close(lfd);
    CHECK(rm_ban_filter_attach(lfd, banned, 3, &included, &err) == -1 && err.code == RM_EIO);
    CHECK(strstr(err.msg, "cannot attach the ban filter") != NULL);
}

static void test_banned_ipv6_cannot_connect(void)
{
    uint16_t port = 0;
    int lfd = listener(AF_INET6, &port);
    if (lfd < 0) {
        printf("skipped: no IPv6 loopback here\n");
        return;
    }
    fcntl(lfd, F_SETFL, O_NONBLOCK);
    const char *other[] = {"::2", "127.0.0.1"};
    rm_err_t err = {0};
    CHECK(rm_ban_filter_attach(lfd, other, 2, NULL, &err) == 0);
    CHECK(connects_from("::1", port));
    drain(lfd);
    const char *banned[] = {"::2", "::1"};
    CHECK(rm_ban_filter_attach(lfd, banned, 2, NULL, &err) == 0);
    CHECK(!connects_from("::1", port));
    close(lfd);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    RM_RUN(test_program_fits_the_kernel_limit);
    RM_RUN(test_banned_ipv4_cannot_connect);
    RM_RUN(test_banned_ipv6_cannot_connect);
    RM_TEST_DONE();
}
