/*  rm_ban_filter: banned addresses dropped by the kernel, before accept.

    A flood that libzmq accepts, even to cut at once, fills the listening
    socket's accept queue: the kernel then drops every new connection's
    SYN, the real client's too, and it waits for its TCP retransmits (1 s,
    3 s, 7 s).  A classic BPF socket filter on the listening socket (Linux
    runs it on each segment before the listen handling, and it needs no
    privilege) drops the banned addresses' SYNs instead: their connect
    retries slowly, and the queue stays free for everyone else.

    The program is a list, 2 instructions per IPv4 address and 9 per IPv6
    address, within the kernel's 4096: an address that does not fit is
    left to the caller to cut after accept.  IPv4-mapped IPv6 addresses
    (from a dual-stack socket) are matched as IPv4. */
#ifndef RM_BAN_FILTER_H
#define RM_BAN_FILTER_H

#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rm_error.h"

#define RM_BAN_FILTER_MAX 4096 /* BPF_MAXINSNS */

/*  Writes into prog (room for RM_BAN_FILTER_MAX) a program that drops
    packets from addrs (text, as inet_ntop writes them) and passes the
    rest; returns its length.  *included: how many of addrs it drops (in
    order; one that does not parse is skipped and not counted). */
size_t rm_ban_filter_build(const char *const *addrs, size_t n, struct sock_filter *prog,
                           size_t *included);

/*  Builds the program for addrs and attaches it to fd, replacing the one
    before; with n == 0 the filter is taken off.  *included as above. */
int rm_ban_filter_attach(int fd, const char *const *addrs, size_t n, size_t *included,
                         rm_err_t *err);

/*  This process's listening TCP socket on port, or -1: libzmq does not
    tell its listener's descriptor to a monitor started after the bind. */
int rm_ban_filter_listener(uint16_t port);

/*  True when fd still is a listening TCP socket on port. */
bool rm_ban_filter_is_listener(int fd, uint16_t port);

#endif
