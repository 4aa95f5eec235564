#include "rm_log.h"
#include "rm_ban_filter.h"
#include "rm_door_watch.h"

#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define WATCH_EVENTS                                                                               \
    (ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_CLOSED |                              \
     ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |                  \
     ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
#define ADDR_MAX 64
#define BAN_MS 60000
/* Connections held past the session, per address and BAN_MS, before the
   address is banned: one half-open connection (a laptop whose Wi-Fi
   dropped, a partition) is only cut; a holder of many is turned away. */
#define HOLD_STRIKES 4
/* A flood must not flood the node actor's pipe: refusal lines per window. */
#define LINE_WINDOW_MS 10000
#define LINES_PER_WINDOW 100
#define FLOOD_OVER 1000 /* connections gone since the peak: memory is given back */
/* libzmq frees a closed connection's buffers in its I/O threads after the
   monitor reported it gone, seconds later when they are busy: given back
   again every TRIM_AGAIN_MS for TRIM_FOR_MS after a flood. */
#define TRIM_AGAIN_MS 5000
#define TRIM_FOR_MS 30000

/*  A connection not yet gone, at the index of its fd. */
typedef struct {
    bool open;
    bool cut;      /* by us: its failed handshake is ours, not worth a line */
    int64_t since; /* accepted at (mono ms) */
    uint16_t port; /* the peer's, so that a reused number is not mistaken */
    char addr[ADDR_MAX];
} conn_t;

/*  One watched socket, as the actor sees it. */
typedef struct {
    char endpoint[80]; /* the monitor's inproc endpoint */
    char what[8];      /* "door", "main" */
    char bound[256];   /* the socket's own tcp endpoint, from its ACCEPTED events */
    zsock_t *pair;
    conn_t *conns; /* indexed by fd, grown as fds are seen */
    size_t nconns;
    zhashx_t *per_addr; /* address -> connections open from it (as a pointer-sized count) */
    int64_t session_ms; /* a connection is closed this long after it was accepted; 0: never */
    size_t addr_cap;    /* connections open from one address */
    size_t open;        /* connections open now */
    zhashx_t *banned;   /* address -> until when (mono ms) its new connections are cut */
    zhashx_t *strikes;  /* address -> its connections cut for holding the door, this window */
    int64_t strikes_since;
    size_t turned_away;  /* connections cut at once since the last sweep */
    int64_t lines_since; /* refusal lines sent to the node: a window of LINE_WINDOW_MS */
    size_t lines;
    size_t unsent; /* refusals not sent in that window (said in the next sweep) */
    int failed;    /* a failed handshake waiting for its DISCONNECTED: event, 0 = none */
    uint32_t failed_value;
    bool bans_changed;  /* the kernel's filter is to be rebuilt at the next sweep */
    int listener;       /* libzmq's listening fd, once found; -1 before */
    bool filter_broken; /* the kernel refused the filter: cuts after accept only */
} watched_t;

typedef struct {
    watched_t sock[2];
    size_t n;
} watch_args_t;

struct _rm_door_watch_t {
    zsock_t *socks[2];
    size_t n;
    watch_args_t *args; /* the actor's, freed after it */
    zactor_t *actor;
};

void rm_door_watch_reason(int event, uint32_t value, char *out, size_t size)
{
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) {
        snprintf(out, size, "closed during the handshake%s%s", value ? ": " : "",
                 value ? strerror((int)value) : "");
        return;
    }
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
        snprintf(out, size, "authentication refused, status %u", value);
        return;
    }
    switch (value) {
    case ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC:
        snprintf(out, size,
                 "its CURVE HELLO does not open with this socket's key: a client of "
                 "another mesh, or one that knows another key");
        return;
    case ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH:
        snprintf(out, size, "not CURVE");
        return;
    default:
        snprintf(out, size, "protocol error 0x%08x", value);
    }
}

/*  The peer of fd, if fd is a TCP connection on the port of the watched
    endpoint ("tcp://HOST:PORT"): a number reused since is not misread. */
static bool peer_address(int fd, const char *endpoint, char *out, size_t size, uint16_t *peer_port)
{
    struct sockaddr_storage local, peer;
    socklen_t llen = sizeof local, plen = sizeof peer;
    if (getsockname(fd, (struct sockaddr *)&local, &llen) != 0 ||
        getpeername(fd, (struct sockaddr *)&peer, &plen) != 0)
        return false;
    const char *colon = strrchr(endpoint, ':');
    int port = colon ? atoi(colon + 1) : -1;
    char ip[INET6_ADDRSTRLEN];
    if (local.ss_family == AF_INET && peer.ss_family == AF_INET) {
        if (ntohs(((struct sockaddr_in *)&local)->sin_port) != port)
            return false;
        inet_ntop(AF_INET, &((struct sockaddr_in *)&peer)->sin_addr, ip, sizeof ip);
        *peer_port = ntohs(((struct sockaddr_in *)&peer)->sin_port);
    } else if (local.ss_family == AF_INET6 && peer.ss_family == AF_INET6) {
        if (ntohs(((struct sockaddr_in6 *)&local)->sin6_port) != port)
            return false;
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&peer)->sin6_addr, ip, sizeof ip);
        *peer_port = ntohs(((struct sockaddr_in6 *)&peer)->sin6_port);
    } else {
        return false;
    }
    snprintf(out, size, "%s", ip);
    return true;
}

/*  True when one more refusal line may go to the node now. */
static bool line_ok(watched_t *w)
{
    int64_t now = zclock_mono();
    if (now - w->lines_since >= LINE_WINDOW_MS) {
        w->lines_since = now;
        w->lines = 0;
    }
    if (w->lines < LINES_PER_WINDOW) {
        w->lines++;
        return true;
    }
    w->unsent++;
    return false;
}

static conn_t *find_conn(watched_t *w, int fd)
{
    return fd >= 0 && (size_t)fd < w->nconns && w->conns[fd].open ? &w->conns[fd] : NULL;
}

static size_t addr_count(watched_t *w, const char *addr)
{
    return (size_t)(uintptr_t)zhashx_lookup(w->per_addr, addr);
}

static void addr_add(watched_t *w, const char *addr, int delta)
{
    size_t n = addr_count(w, addr) + (size_t)delta;
    if (n == 0)
        zhashx_delete(w->per_addr, addr);
    else
        zhashx_update(w->per_addr, addr, (void *)(uintptr_t)n);
}

/*  Ends a connection libzmq holds: shutdown (not close: the fd stays
    libzmq's), so its I/O thread sees the end and closes it.  Only if the fd
    still is the connection we saw accepted. */
static void cut(watched_t *w, int fd)
{
    conn_t *c = find_conn(w, fd);
    char addr[ADDR_MAX];
    uint16_t port = 0;
    if (c && peer_address(fd, w->bound, addr, sizeof addr, &port) && port == c->port &&
        strcmp(addr, c->addr) == 0) {
        shutdown(fd, SHUT_RDWR);
        c->cut = true;
    }
}

/*  An address that held the door, or opened too many connections, is
    banned for BAN_MS: from the next sweep the kernel drops its SYNs
    (refilter), and until then, or past what the filter holds, its
    connections are cut as they are accepted, before any CURVE handshake.
    Holding the door costs the holder, not the node. */
static void ban(watched_t *w, const char *addr, int64_t now)
{
    if (!w->session_ms || strcmp(addr, "an unknown address") == 0)
        return;
    if (!zhashx_lookup(w->banned, addr))
        w->bans_changed = true;
    zhashx_update(w->banned, addr, (void *)(intptr_t)(now + BAN_MS));
}

static bool is_banned(watched_t *w, const char *addr, int64_t now)
{
    intptr_t until = (intptr_t)zhashx_lookup(w->banned, addr);
    if (until && until <= now) {
        zhashx_delete(w->banned, addr);
        w->bans_changed = true;
    }
    return until > now;
}

/*  The port of the watched socket's own endpoint (from its ACCEPTED
    events), 0 before one was seen. */
static uint16_t bound_port(const watched_t *w)
{
    const char *colon = strrchr(w->bound, ':');
    return colon ? (uint16_t)atoi(colon + 1) : 0;
}

/*  Bans that ended are dropped; if the set changed, the kernel's filter on
    the listening socket is rebuilt, so that banned addresses' SYNs never
    reach the accept queue (see rm_ban_filter). */
static void refilter(watched_t *w, zsock_t *pipe, int64_t now)
{
    zlistx_t *ended = zlistx_new();
    for (void *until = zhashx_first(w->banned); ended && until; until = zhashx_next(w->banned))
        if ((intptr_t)until <= now)
            zlistx_add_end(ended, (void *)zhashx_cursor(w->banned));
    for (void *addr = ended ? zlistx_first(ended) : NULL; addr; addr = zlistx_next(ended)) {
        zhashx_delete(w->banned, addr);
        w->bans_changed = true;
    }
    zlistx_destroy(&ended);
    uint16_t port = bound_port(w);
    if (!w->bans_changed || w->filter_broken || !port)
        return;
    if (w->listener < 0 || !rm_ban_filter_is_listener(w->listener, port))
        w->listener = rm_ban_filter_listener(port);
    if (w->listener < 0)
        return; /* tried again at the next change */
    w->bans_changed = false;
    size_t n = zhashx_size(w->banned), included = 0;
    const char **addrs = calloc(n ? n : 1, sizeof *addrs);
    if (!addrs)
        return;
    size_t i = 0;
    for (void *until = zhashx_first(w->banned); until && i < n; until = zhashx_next(w->banned))
        addrs[i++] = zhashx_cursor(w->banned);
    rm_err_t err = {0};
    if (rm_ban_filter_attach(w->listener, addrs, i, &included, &err) != 0) {
        w->filter_broken = true;
        zstr_sendf(pipe, "%s: %s; banned addresses are cut after accept instead", w->what, err.msg);
    } else if (included < i) {
        zstr_sendf(pipe, "%s: %zu banned address(es) dropped by the kernel, %zu cut after accept",
                   w->what, included, i - included);
    }
    free(addrs);
}

static void on_accepted(watched_t *w, zsock_t *pipe, int fd, const char *endpoint, int64_t now)
{
    if (fd < 0)
        return;
    if ((size_t)fd >= w->nconns) {
        size_t n = (size_t)fd * 2 + 64;
        conn_t *grown = realloc(w->conns, n * sizeof *grown);
        if (!grown)
            return;
        memset(grown + w->nconns, 0, (n - w->nconns) * sizeof *grown);
        w->conns = grown;
        w->nconns = n;
    }
    snprintf(w->bound, sizeof w->bound, "%s", endpoint);
    conn_t *c = &w->conns[fd];
    if (c->open) { /* a number reused: the old one is gone */
        addr_add(w, c->addr, -1);
        w->open--;
    }
    memset(c, 0, sizeof *c);
    c->open = true;
    c->since = now;
    if (!peer_address(fd, endpoint, c->addr, sizeof c->addr, &c->port))
        snprintf(c->addr, sizeof c->addr, "an unknown address");
    addr_add(w, c->addr, +1);
    w->open++;
    if (is_banned(w, c->addr, now)) {
        w->turned_away++;
        cut(w, fd);
    } else if (w->addr_cap && addr_count(w, c->addr) > w->addr_cap) {
        if (line_ok(w))
            zstr_sendf(pipe, "%s: refused %s: %zu connections open from it (at most %zu)", w->what,
                       c->addr, addr_count(w, c->addr) - 1, w->addr_cap);
        cut(w, fd);
        ban(w, c->addr, now);
    }
}

/*  A connection ended: if its handshake failed, the node hears of it. */
static void on_gone(watched_t *w, zsock_t *pipe, int fd)
{
    conn_t *c = find_conn(w, fd);
    if (w->failed && w->failed != ZMQ_EVENT_HANDSHAKE_FAILED_AUTH && !(c && c->cut) && line_ok(w)) {
        char why[200];
        rm_door_watch_reason(w->failed, w->failed_value, why, sizeof why);
        zstr_sendf(pipe, "%s: refused %s: handshake failed (%s)", w->what,
                   c ? c->addr : "an unknown address", why);
    }
    w->failed = 0;
    if (c) {
        addr_add(w, c->addr, -1);
        c->open = false;
        w->open--;
    }
}

/*  Door sessions are one HELLO and its WELCOME: a connection still open
    after session_ms is someone holding the door, and is cut. */
static void sweep(watched_t *w, zsock_t *pipe, int64_t now)
{
    if (now - w->strikes_since >= BAN_MS) {
        zhashx_purge(w->strikes);
        w->strikes_since = now;
    }
    size_t cut_n = 0;
    const char *example = NULL;
    for (size_t fd = 0; w->session_ms && fd < w->nconns; fd++) {
        conn_t *c = &w->conns[fd];
        if (!c->open || now - c->since < w->session_ms)
            continue;
        cut(w, (int)fd);
        size_t strikes = (size_t)(uintptr_t)zhashx_lookup(w->strikes, c->addr) + 1;
        zhashx_update(w->strikes, c->addr, (void *)(uintptr_t)strikes);
        if (strikes >= HOLD_STRIKES)
            ban(w, c->addr, now);
        c->since = now; /* cut again only if it outlives another session */
        cut_n++;
        example = c->addr;
    }
    /* Bans take effect before the lines that tell of them go out. */
    refilter(w, pipe, now);
    if (cut_n > 0)
        zstr_sendf(pipe, "%s: closed %zu connection(s) open longer than %lld s (one from %s)",
                   w->what, cut_n, (long long)(w->session_ms / 1000), example);
    if (w->turned_away > 0)
        zstr_sendf(pipe, "%s: turned away %zu connection(s) from addresses that held the door",
                   w->what, w->turned_away);
    w->turned_away = 0;
    if (w->unsent > 0 && now - w->lines_since >= LINE_WINDOW_MS) {
        zstr_sendf(pipe, "%s: %zu more refused connection(s) not reported", w->what, w->unsent);
        w->unsent = 0;
    }
}

/*  One monitor event: frame 1 is a 16-bit event and a 32-bit value (native
    byte order), frame 2 the socket's endpoint (libzmq 4.3, stable events). */
static void on_event(watched_t *w, zsock_t *pipe, int64_t now)
{
    zmsg_t *msg = zmsg_recv(w->pair);
    if (!msg)
        return;
    zframe_t *head = zmsg_first(msg);
    zframe_t *where = zmsg_next(msg);
    if (head && zframe_size(head) == 6) {
        uint16_t event;
        uint32_t value;
        memcpy(&event, zframe_data(head), 2);
        memcpy(&value, zframe_data(head) + 2, 4);
        char endpoint[256] = "";
        if (where)
            snprintf(endpoint, sizeof endpoint, "%.*s", (int)zframe_size(where),
                     (const char *)zframe_data(where));
        if (event == ZMQ_EVENT_ACCEPTED)
            on_accepted(w, pipe, (int)value, endpoint, now);
        else if (event == ZMQ_EVENT_DISCONNECTED || event == ZMQ_EVENT_CLOSED)
            on_gone(w, pipe, (int)value);
        else if (event & (ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                          ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)) {
            w->failed = event;
            w->failed_value = value;
        }
    }
    zmsg_destroy(&msg);
}

/*  After a flood: the table of connections, grown to the highest fd the
    flood reached, shrinks back to the connections still open. */
static void shrink(watched_t *w)
{
    size_t high = 0;
    for (size_t fd = 0; fd < w->nconns; fd++)
        if (w->conns[fd].open)
            high = fd + 1;
    size_t n = high * 2 + 64;
    if (n >= w->nconns)
        return;
    conn_t *smaller = realloc(w->conns, n * sizeof *smaller);
    if (smaller) {
        w->conns = smaller;
        w->nconns = n;
    }
}

/*  Gives back what a flood left: the tables, then glibc's free memory. */
static void release_flood_memory(watch_args_t *args)
{
    for (size_t i = 0; i < args->n; i++)
        shrink(&args->sock[i]);
    malloc_trim(0);
}

static void watch_actor(zsock_t *pipe, void *arg)
{
    watch_args_t *args = arg;
    zpoller_t *poller = zpoller_new(pipe, NULL);
    bool ok = poller != NULL;
    for (size_t i = 0; i < args->n && ok; i++) {
        watched_t *w = &args->sock[i];
        w->per_addr = zhashx_new();
        w->listener = -1;
        w->banned = zhashx_new();
        w->strikes = zhashx_new();
        w->pair = zsock_new(ZMQ_PAIR);
        ok = w->per_addr && w->banned && w->strikes && w->pair &&
             zsock_connect(w->pair, "%s", w->endpoint) == 0 && zpoller_add(poller, w->pair) == 0;
    }
    /* Signals are meshd's: only $TERM (zactor_destroy) ends this actor,
       else destroying it would wait for an end signal already sent. */
    if (poller)
        zpoller_set_nonstop(poller, true);
    /* A node too busy to read its refusal lines loses some (they are
       rate-limited log lines) rather than stop this actor reading the
       monitors, which would stop libzmq's I/O thread (see destroy). */
    zsock_set_sndtimeo(pipe, 0);
    zsock_signal(pipe, ok ? 0 : 1);
    int64_t next_sweep = zclock_mono() + 1000;
    size_t peak = 0; /* connections open at most since memory was last given back */
    int64_t trim_again = 0, trim_until = 0;
    while (ok) {
        void *which = zpoller_wait(poller, 1000);
        if (!which && zpoller_terminated(poller))
            break; /* the context ends */
        int64_t now = zclock_mono();
        if (now >= next_sweep) {
            next_sweep = now + 1000;
            size_t open = 0;
            for (size_t i = 0; i < args->n; i++) {
                sweep(&args->sock[i], pipe, now);
                open += args->sock[i].open;
            }
            /* A flood is over: what libzmq freed goes back to the system
               (glibc keeps freed memory in its arenas otherwise). */
            if (open > peak)
                peak = open;
            else if (peak - open >= FLOOD_OVER) {
                release_flood_memory(args);
                peak = open;
                trim_again = now + TRIM_AGAIN_MS;
                trim_until = now + TRIM_FOR_MS;
            } else if (trim_again && now >= trim_again) {
                release_flood_memory(args); /* what the I/O threads freed since */
                trim_again = now < trim_until ? now + TRIM_AGAIN_MS : 0;
            }
        }
        if (which == pipe) {
            char *cmd = zstr_recv(pipe);
            bool term = !cmd || strcmp(cmd, "$TERM") == 0;
            zstr_free(&cmd);
            if (term)
                break;
        }
        for (size_t i = 0; i < args->n; i++)
            if (which == args->sock[i].pair)
                on_event(&args->sock[i], pipe, now);
    }
    for (size_t i = 0; i < args->n; i++) {
        zsock_destroy(&args->sock[i].pair);
        zhashx_destroy(&args->sock[i].per_addr);
        zhashx_destroy(&args->sock[i].banned);
        zhashx_destroy(&args->sock[i].strikes);
        free(args->sock[i].conns);
    }
    zpoller_destroy(&poller);
}

rm_door_watch_t *rm_door_watch_new(zsock_t *door, zsock_t *main_sock, rm_err_t *err)
{
    return rm_door_watch_new_limits(door, main_sock, RM_DOOR_SESSION_MS, RM_DOOR_PER_ADDRESS,
                                    RM_MAIN_PER_ADDRESS, err);
}

rm_door_watch_t *rm_door_watch_new_limits(zsock_t *door, zsock_t *main_sock, int64_t session_ms,
                                          size_t door_cap, size_t main_cap, rm_err_t *err)
{
    rm_door_watch_t *self = calloc(1, sizeof *self);
    watch_args_t *args = calloc(1, sizeof *args);
    if (!self || !args) {
        free(self);
        free(args);
        rm_err_set(err, RM_ENOMEM, "out of memory");
        return NULL;
    }
    self->args = args;
    zsock_t *socks[2] = {door, main_sock};
    const char *names[2] = {"door", "main"};
    for (size_t i = 0; i < 2; i++) {
        if (!socks[i])
            continue;
        watched_t *w = &args->sock[args->n];
        /* Unique in the process: a socket may get a destroyed one's address. */
        static _Atomic unsigned serial;
        snprintf(w->endpoint, sizeof w->endpoint, "inproc://rm-door-watch-%p-%u", (void *)socks[i],
                 serial++);
        snprintf(w->what, sizeof w->what, "%s", names[i]);
        w->session_ms = i == 0 ? session_ms : 0;
        w->addr_cap = i == 0 ? door_cap : main_cap;
        if (zmq_socket_monitor(zsock_resolve(socks[i]), w->endpoint, WATCH_EVENTS) != 0) {
            rm_err_set(err, RM_EIO, "cannot monitor the %s socket: %s", names[i],
                       zmq_strerror(zmq_errno()));
            rm_door_watch_destroy(&self);
            return NULL;
        }
        self->socks[self->n++] = socks[i];
        args->n++;
    }
    self->actor = zactor_new(watch_actor, args);
    if (!self->actor) {
        rm_err_set(err, RM_EIO, "cannot start the socket monitor");
        rm_door_watch_destroy(&self);
        return NULL;
    }
    return self;
}

void rm_door_watch_destroy(rm_door_watch_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rm_door_watch_t *self = *self_p;
    /* Monitors first: libzmq's I/O thread sends each event with a blocking
       send while holding the monitor's lock, so an event for a reader that
       is gone would block it for good, and zmq_socket_monitor (which takes
       that lock) with it. */
    for (size_t i = 0; i < self->n; i++)
        zmq_socket_monitor(zsock_resolve(self->socks[i]), NULL, 0);
    zactor_destroy(&self->actor);
    for (size_t i = 0; i < self->args->n; i++) {
        watched_t *w = &self->args->sock[i];
        if (w->listener >= 0 && rm_ban_filter_is_listener(w->listener, bound_port(w)))
            rm_ban_filter_attach(w->listener, NULL, 0, NULL, NULL);
    }
    free(self->args);
    free(self);
    *self_p = NULL;
}

zactor_t *rm_door_watch_actor(rm_door_watch_t *self)
{
    return self->actor;
}

void rm_door_watch_handle(rm_door_watch_t *self, rm_refusals_t *refusals)
{
    char *line = zstr_recv(self->actor);
    if (line && rm_refusal_log_ok(refusals))
        rm_log_warning("%s", line);
    zstr_free(&line);
}
