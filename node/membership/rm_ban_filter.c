#include "rm_ban_filter.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define HEAD 4    /* version test and the jump to the IPv6 list */
#define V4_COST 2 /* jeq, ret 0 */
#define V6_COST 9 /* 4 × (ld, jeq), ret 0 */
#define TAILS 3   /* ld of the IPv4 source, and each list's "pass" */

typedef struct {
    bool v6;
    uint32_t word[4]; /* host order, as BPF_LD|BPF_ABS loads them */
} addr_t;

static bool parse(const char *text, addr_t *a)
{
    struct in_addr v4;
    struct in6_addr v6;
    memset(a, 0, sizeof *a);
    if (inet_pton(AF_INET, text, &v4) == 1) {
        a->word[0] = ntohl(v4.s_addr);
        return true;
    }
    if (inet_pton(AF_INET6, text, &v6) != 1)
        return false;
    if (IN6_IS_ADDR_V4MAPPED(&v6)) { /* what a dual-stack socket reports for IPv4 */
        uint32_t w;
        memcpy(&w, v6.s6_addr + 12, 4);
        a->word[0] = ntohl(w);
        return true;
    }
    a->v6 = true;
    for (int i = 0; i < 4; i++) {
        uint32_t w;
        memcpy(&w, v6.s6_addr + 4 * i, 4);
        a->word[i] = ntohl(w);
    }
    return true;
}

size_t rm_ban_filter_build(const char *const *addrs, size_t n, struct sock_filter *prog,
                           size_t *included)
{
    addr_t *parsed = calloc(n ? n : 1, sizeof *parsed);
    bool *take = calloc(n ? n : 1, sizeof *take);
    size_t n4 = 0, n6 = 0, room = RM_BAN_FILTER_MAX - HEAD - TAILS;
    for (size_t i = 0; parsed && take && i < n; i++) {
        if (!parse(addrs[i], &parsed[i]))
            continue;
        size_t cost = parsed[i].v6 ? V6_COST : V4_COST;
        if (cost > room)
            continue;
        room -= cost;
        take[i] = true;
        parsed[i].v6 ? n6++ : n4++;
    }
    size_t len = 0;
    /* The network header's first byte: IP version in its high nibble. */
    prog[len++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_B | BPF_ABS, SKF_NET_OFF);
    prog[len++] = (struct sock_filter)BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 4);
    prog[len++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 6, 0, 1);
    /* IPv6: over the IPv4 list (ld, its entries, its pass). */
    prog[len++] = (struct sock_filter)BPF_STMT(BPF_JMP | BPF_JA, (uint32_t)(2 + V4_COST * n4));
    prog[len++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_NET_OFF + 12);
    for (size_t i = 0; i < n; i++) {
        if (!take[i] || parsed[i].v6)
            continue;
        prog[len++] =
            (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, parsed[i].word[0], 0, 1);
        prog[len++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0);
    }
    prog[len++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0xffffffffu);
    for (size_t i = 0; i < n; i++) {
        if (!take[i] || !parsed[i].v6)
            continue;
        for (uint32_t w = 0; w < 4; w++) {
            /* On a mismatch, over the rest of this address and its drop. */
            uint8_t skip = (uint8_t)(2 * (3 - w) + 1);
            prog[len++] =
                (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_NET_OFF + 8 + 4 * w);
            prog[len++] =
                (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, parsed[i].word[w], 0, skip);
        }
        prog[len++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0);
    }
    prog[len++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0xffffffffu);
    if (included)
        *included = n4 + n6;
    free(parsed);
    free(take);
    return len;
}

int rm_ban_filter_attach(int fd, const char *const *addrs, size_t n, size_t *included,
                         rm_err_t *err)
{
    if (included)
        *included = 0;
    if (n == 0) {
        int unused = 0; /* the kernel wants an int, and ignores it */
        if (setsockopt(fd, SOL_SOCKET, SO_DETACH_FILTER, &unused, sizeof unused) != 0 &&
            errno != ENOENT)
            return rm_err_set(err, RM_EIO, "cannot take the ban filter off: %s", strerror(errno));
        return 0;
    }
    struct sock_filter *prog = calloc(RM_BAN_FILTER_MAX, sizeof *prog);
    if (!prog)
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    struct sock_fprog fprog = {.len = (unsigned short)rm_ban_filter_build(addrs, n, prog, included),
                               .filter = prog};
    int rc = setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof fprog);
    int saved = errno;
    free(prog);
    if (rc != 0)
        return rm_err_set(err, RM_EIO, "cannot attach the ban filter: %s", strerror(saved));
    return 0;
}

bool rm_ban_filter_is_listener(int fd, uint16_t port)
{
    int listening = 0, type = 0;
    socklen_t len = sizeof listening, tlen = sizeof type;
    struct sockaddr_storage local;
    socklen_t llen = sizeof local;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening ||
        getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) != 0 || type != SOCK_STREAM ||
        getsockname(fd, (struct sockaddr *)&local, &llen) != 0)
        return false;
    if (local.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&local)->sin_port) == port;
    if (local.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&local)->sin6_port) == port;
    return false;
}

int rm_ban_filter_listener(uint16_t port)
{
    DIR *dir = opendir("/proc/self/fd");
    if (!dir)
        return -1;
    int found = -1;
    struct dirent *entry;
    while (found < 0 && (entry = readdir(dir)) != NULL) {
        char *end;
        long fd = strtol(entry->d_name, &end, 10);
        if (*end == '\0' && end != entry->d_name && fd != dirfd(dir) &&
            rm_ban_filter_is_listener((int)fd, port))
            found = (int)fd;
    }
    closedir(dir);
    return found;
}
