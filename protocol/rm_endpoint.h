/*  rm_endpoint: a node's address, tcp://HOST:PORT, parsed once for the
    node (listen, advertise, peer addresses) and for meshctl (--mesh).

    HOST is a name, an IPv4 address or an IPv6 address in brackets
    (tcp://[::1]:7600).  PORT is the main socket; the door listens on
    PORT+1, so PORT is at most 65534. */
#ifndef RM_ENDPOINT_H
#define RM_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>

#include "rm_error.h"

typedef enum {
    RM_ENDPOINT_BIND,    /* HOST may be "*", every interface */
    RM_ENDPOINT_CONNECT, /* HOST must name one machine */
} rm_endpoint_use_t;

typedef struct {
    char host[256]; /* without the brackets */
    int port;       /* the main socket; the door is port + 1 */
    bool ipv6;      /* HOST was given in brackets: set ZMQ_IPV6 on the socket */
} rm_endpoint_t;

/*  Parses `text`; RM_EINVAL with a message naming it and the expected form. */
int rm_endpoint_parse(const char *text, rm_endpoint_use_t use, rm_endpoint_t *ep, rm_err_t *err);

/*  "tcp://HOST:PORT" for `port` (ep->port or ep->port + 1), HOST in
    brackets when it is IPv6, as ZeroMQ wants it. */
void rm_endpoint_format(const rm_endpoint_t *ep, int port, char *buf, size_t size);

/*  True for a HOST that names every interface ("*", 0.0.0.0, ::): fine to
    bind, not an address others can reach. */
bool rm_endpoint_is_wildcard(const rm_endpoint_t *ep);

#endif
