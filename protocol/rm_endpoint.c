/*  rm_endpoint: tcp://HOST:PORT (see rm_endpoint.h). */
#include "rm_endpoint.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rm_endpoint_parse(const char *text, rm_endpoint_use_t use, rm_endpoint_t *ep, rm_err_t *err)
{
    static const char prefix[] = "tcp://";
    memset(ep, 0, sizeof *ep);
    if (strncmp(text, prefix, sizeof prefix - 1) != 0)
        goto bad;
    const char *h = text + sizeof prefix - 1;
    /* The last colon: an IPv6 host has its own, inside the brackets. */
    const char *colon = strrchr(h, ':');
    if (!colon)
        goto bad;
    size_t hlen = (size_t)(colon - h);
    if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
        h++;
        hlen -= 2;
        ep->ipv6 = true;
    } else if (memchr(h, '[', hlen) || memchr(h, ']', hlen) || memchr(h, ':', hlen))
        goto bad; /* an IPv6 address without brackets is ambiguous */
    if (hlen == 0 || hlen >= sizeof ep->host || memchr(h, '/', hlen))
        goto bad;
    if (use == RM_ENDPOINT_CONNECT && memchr(h, '*', hlen))
        goto bad;
    char *end = NULL;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || errno != 0 || p < 1 || p > 65534)
        goto bad;
    memcpy(ep->host, h, hlen);
    ep->host[hlen] = '\0';
    ep->port = (int)p;
    return 0;
bad:
    memset(ep, 0, sizeof *ep);
    return rm_err_set(err, RM_EINVAL,
                      "'%s' is not a node address: expected tcp://HOST:PORT (an IPv6 HOST in "
                      "[brackets]; PORT at most 65534: the node's door listens on PORT+1)",
                      text);
}

void rm_endpoint_format(const rm_endpoint_t *ep, int port, char *buf, size_t size)
{
    snprintf(buf, size, ep->ipv6 ? "tcp://[%s]:%d" : "tcp://%s:%d", ep->host, port);
}

bool rm_endpoint_is_wildcard(const rm_endpoint_t *ep)
{
    return strcmp(ep->host, "*") == 0 || strcmp(ep->host, "0.0.0.0") == 0 ||
           strcmp(ep->host, "::") == 0;
}
