/*  The world test_rm_xfer fetches in: stores in temporary folders as the
    nodes, an in-test network that carries CHUNK_GET to them and their
    answers back (down, corrupt or answering for another chunk when told),
    a fake clock, and the project they hold. */
#ifndef XFER_NET_H
#define XFER_NET_H

#include "rm_manifest.h"
#include "rm_test.h"
#include "rm_xfer.h"

#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_NODES 8

typedef enum { NODE_OK, NODE_DOWN, NODE_CORRUPT, NODE_OTHER } node_mode_t;

typedef struct {
    const char *addr;
    rm_store_t *store;
    node_mode_t mode;
    int requests;
    int maps;        /* CHUNK_MAPs answered */
    rm_xfer_t *xfer; /* answers its CHUNK_MAPs (its own fetches unused) */
} node_t;

typedef struct {
    size_t node;
    uint64_t req;
    rm_hash_t hash;
    bool map;    /* a CHUNK_MAP, not a CHUNK_GET */
    bool closed; /* answered, or past the deadline rm_xfer gave it */
    bool armed;
    int64_t deadline;
    int64_t sent_at;
} request_t;

/*  The network: every request ever sent, delivered in order. */
typedef struct {
    node_t nodes[MAX_NODES];
    size_t nnodes;
    request_t *reqs;
    size_t nreqs, next;
    size_t open, max_open; /* requests rm_xfer still waits for */
    rm_xfer_t *xfer;
    int64_t now;
} net_t;

typedef struct {
    int calls;
    int status;
    char error[RM_ERR_MSG_MAX];
} done_t;

typedef struct {
    char base[64];
    char proj[128];
    const char *files[6];
    rm_store_t *origin; /* everything, built with rm_manifest */
    rm_manifest_t m;
    rm_hash_t mhash;
    rm_hash_t *chunks; /* distinct chunks of the project */
    uint32_t nchunks;
    uint64_t bytes; /* of those chunks and the manifest */
} project_t;

static void fill_random(uint8_t *buf, size_t len, uint64_t seed)
{
    for (size_t i = 0; i < len; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        buf[i] = (uint8_t)(seed >> 56);
    }
}

static void pathf(char *out, size_t size, const char *dir, const char *rel)
{
    CHECK(snprintf(out, size, "%s/%s", dir, rel) < (int)size);
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *data = malloc(n > 0 ? (size_t)n : 1);
    *len = fread(data, 1, (size_t)n, f);
    fclose(f);
    return data;
}

static rm_store_t *new_store(const project_t *p, const char *name)
{
    char dir[256];
    rm_err_t err;
    pathf(dir, sizeof dir, p->base, name);
    rm_store_t *store = rm_store_new(dir, &err);
    CHECK_MSG(store, "%s", err.msg);
    return store;
}

static void copy_chunk(rm_store_t *from, rm_store_t *to, const rm_hash_t *h)
{
    uint8_t *data = NULL;
    size_t len = 0;
    rm_err_t err;
    CHECK(rm_store_get(from, h, &data, &len, &err) == 0);
    CHECK(rm_store_put(to, h, data, len, &err) == 0);
    free(data);
}

/*  --- The project ---------------------------------------------------------- */

static void make_project(project_t *p)
{
    static const struct {
        const char *rel;
        size_t size;
    } files[] = {{"scene.blend", 400 * 1000}, {"tex/a.png", 900 * 1000},
                 {"tex/b.exr", 600 * 1000},   {"tex/c.png", 300 * 1000},
                 {"lib/l.blend", 500 * 1000}, {"tex/copy_of_a.png", 900 * 1000}};
    char path[512];
    pathf(p->proj, sizeof p->proj, p->base, "proj");
    const char *dirs[] = {"proj", "proj/tex", "proj/lib"};
    for (size_t i = 0; i < 3; i++) {
        pathf(path, sizeof path, p->base, dirs[i]);
        CHECK(mkdir(path, 0700) == 0);
    }
    for (size_t i = 0; i < 6; i++) {
        uint8_t *data = malloc(files[i].size);
        fill_random(data, files[i].size, i == 5 ? 2 : i + 1); /* the copy repeats a.png */
        pathf(path, sizeof path, p->proj, files[i].rel);
        FILE *f = fopen(path, "wb");
        CHECK(f && fwrite(data, 1, files[i].size, f) == files[i].size);
        if (f)
            fclose(f);
        free(data);
        p->files[i] = files[i].rel;
    }
    char blend[512], tex[512], lib[512];
    pathf(blend, sizeof blend, p->proj, "scene.blend");
    pathf(tex, sizeof tex, p->proj, "tex");
    pathf(lib, sizeof lib, p->proj, "lib");
    const char *paths[] = {blend, tex, lib};
    rm_err_t err;
    p->origin = new_store(p, "origin");
    CHECK(rm_manifest_build(p->proj, paths, 3, p->origin, NULL, NULL, &p->m, &err) == 0);
    CHECK(rm_manifest_store(&p->m, p->origin, NULL, NULL, &p->mhash, &err) == 0);
    /* The distinct chunks: what a store without any of them lacks. */
    rm_store_t *empty = new_store(p, "empty");
    CHECK(rm_manifest_missing(&p->m, empty, &p->chunks, &p->nchunks, UINT32_MAX, &err) == 0);
    rm_store_destroy(&empty);
    uint8_t *data = NULL;
    size_t len = 0;
    CHECK(rm_store_get(p->origin, &p->mhash, &data, &len, &err) == 0);
    p->bytes = len;
    free(data);
    for (uint32_t i = 0; i < p->nchunks; i++) {
        CHECK(rm_store_get(p->origin, &p->chunks[i], &data, &len, &err) == 0);
        p->bytes += len;
        free(data);
    }
    printf("project: %u files, %u distinct chunks, %llu bytes\n", p->m.files.count, p->nchunks,
           (unsigned long long)p->bytes);
    CHECK(p->nchunks > RM_XFER_WINDOW); /* so requests queue */
}

/*  Every file of the project, materialized from `store`, is byte-identical
    to the original. */
static void check_materialized(const project_t *p, rm_store_t *store, const char *name)
{
    char out[256], a[512], b[512];
    rm_err_t err;
    pathf(out, sizeof out, p->base, name);
    CHECK_MSG(rm_manifest_materialize(&p->m, store, out, &err) == 0, "%s", err.msg);
    for (size_t i = 0; i < 6; i++) {
        size_t la = 0, lb = 0;
        pathf(a, sizeof a, p->proj, p->files[i]);
        pathf(b, sizeof b, out, p->files[i]);
        uint8_t *da = read_file(a, &la), *db = read_file(b, &lb);
        CHECK_MSG(da && db && la == lb && memcmp(da, db, la) == 0, "%s differs", b);
        free(da);
        free(db);
    }
}

/*  --- The network ----------------------------------------------------------- */

static int no_send(void *arg, const char *addr, const uint8_t *data, size_t len)
{
    (void)arg, (void)addr, (void)data, (void)len;
    return -1;
}

static size_t add_node(net_t *net, const char *addr, rm_store_t *store, node_mode_t mode)
{
    rm_err_t err;
    rm_xfer_t *xfer = rm_xfer_new(store, no_send, NULL, &err);
    CHECK_MSG(xfer, "%s", err.msg);
    net->nodes[net->nnodes] = (node_t){addr, store, mode, 0, 0, xfer};
    return net->nnodes++;
}

static int fake_send(void *arg, const char *addr, const uint8_t *data, size_t len)
{
    net_t *net = arg;
    rm_msg_t msg;
    rm_err_t err;
    int rc = rm_msg_decode(data, len, &msg, &err);
    CHECK_MSG(rc == 0 && (msg.type == RM_MSG_CHUNK_GET || msg.type == RM_MSG_CHUNK_MAP), "%s",
              err.msg);
    bool map = rc == 0 && msg.type == RM_MSG_CHUNK_MAP;
    size_t n = 0;
    while (n < net->nnodes && strcmp(net->nodes[n].addr, addr) != 0)
        n++;
    if (rc != 0 || n == net->nnodes) {
        rm_msg_free(&msg);
        return -1; /* no such node: unreachable */
    }
    request_t *grown = realloc(net->reqs, (net->nreqs + 1) * sizeof *grown);
    CHECK(grown != NULL);
    net->reqs = grown;
    net->reqs[net->nreqs++] =
        (request_t){n, msg.req, msg.u.chunk_ref.hash, map, map, false, 0, net->now};
    rm_msg_free(&msg);
    if (map)
        return 0; /* answered in net_pump; not in rm_xfer's window */
    net->nodes[n].requests++;
    net->open++;
    if (net->open > net->max_open)
        net->max_open = net->open;
    CHECK_MSG(net->open <= RM_XFER_WINDOW, "%zu requests open", net->open);
    return 0;
}

/*  The node answers request i from its store; the reply goes through the
    codec to rm_xfer. */
static void answer(net_t *net, size_t i)
{
    request_t r = net->reqs[i];
    node_t *node = &net->nodes[r.node];
    uint8_t *data = NULL, *buf = NULL;
    size_t len = 0, blen = 0;
    rm_err_t err;
    if (rm_store_get(node->store, &r.hash, &data, &len, &err) != 0) {
        CHECK(rm_msg_encode_error(r.req, RM_ENOTFOUND, err.msg, &buf, &blen, &err) == 0);
    } else {
        rm_chunk_t c = {r.hash, {data, len}};
        if (node->mode == NODE_CORRUPT && len > 0)
            data[len / 2] ^= 1;
        if (node->mode == NODE_OTHER)
            c.hash.b[0] ^= 1;
        CHECK(rm_msg_encode(RM_MSG_CHUNK_DATA, r.req, &c, &buf, &blen, &err) == 0);
    }
    rm_msg_t msg;
    CHECK(rm_msg_decode(buf, blen, &msg, &err) == 0);
    net->reqs[i].closed = true;
    net->open--;
    for (size_t k = 0; k < net->nreqs; k++) /* the node is alive: timeouts restart */
        if (net->reqs[k].node == r.node && !net->reqs[k].closed)
            net->reqs[k].armed = false;
    CHECK_MSG(rm_xfer_on_message(net->xfer, node->addr, &msg), "reply to %s ignored", node->addr);
    rm_msg_free(&msg);
    free(buf);
    free(data);
}

/*  The node answers CHUNK_MAP request i (honestly, whatever its mode). */
static void answer_map(net_t *net, size_t i)
{
    request_t r = net->reqs[i];
    node_t *node = &net->nodes[r.node];
    rm_chunk_map_reply_t reply = {{0}, {0}};
    rm_err_t err;
    uint8_t *buf = NULL;
    size_t blen = 0;
    if (rm_xfer_chunk_map(node->xfer, &r.hash, &reply, &err) == 0)
        CHECK(rm_msg_encode(RM_MSG_CHUNK_MAP_REPLY, r.req, &reply, &buf, &blen, &err) == 0);
    else
        CHECK(rm_msg_encode_error(r.req, err.code, err.msg, &buf, &blen, &err) == 0);
    rm_codec_free(rm_msg_desc(RM_MSG_CHUNK_MAP_REPLY), &reply);
    rm_msg_t msg;
    CHECK(rm_msg_decode(buf, blen, &msg, &err) == 0);
    node->maps++;
    rm_xfer_on_message(net->xfer, node->addr, &msg); /* false if it expired meanwhile */
    rm_msg_free(&msg);
    free(buf);
}

/*  Delivers every request sent so far (and those sent meanwhile). */
static void net_pump(net_t *net)
{
    while (net->next < net->nreqs) {
        size_t i = net->next++;
        if (net->nodes[net->reqs[i].node].mode == NODE_DOWN)
            continue;
        if (net->reqs[i].map)
            answer_map(net, i);
        else
            answer(net, i);
    }
}

/*  Ticks rm_xfer at `now`, keeping our count of open requests in step:
    rm_xfer expires requests whose deadline passed, then starts the
    timeout of those sent, or whose node answered another, since the last
    tick (and during this one). */
static void net_tick(net_t *net, int64_t now)
{
    net->now = now;
    for (size_t i = 0; i < net->nreqs; i++)
        if (!net->reqs[i].closed && net->reqs[i].armed && net->reqs[i].deadline <= now) {
            net->reqs[i].closed = true;
            net->open--;
        }
    rm_xfer_tick(net->xfer, now);
    for (size_t i = 0; i < net->nreqs; i++)
        if (!net->reqs[i].closed && !net->reqs[i].armed) {
            net->reqs[i].armed = true;
            net->reqs[i].deadline = now + RM_XFER_TIMEOUT_MS;
        }
}

/*  Runs network and clock until no fetch is left. */
static void run(net_t *net)
{
    for (int round = 0; round < 100 && rm_xfer_active(net->xfer) > 0; round++) {
        net_pump(net);
        int64_t wait = rm_xfer_wakeup(net->xfer, net->now);
        if (wait == RM_XFER_IDLE)
            break;
        CHECK(wait >= 0 && wait <= RM_XFER_TIMEOUT_MS);
        net_tick(net, net->now + wait);
    }
    CHECK(rm_xfer_active(net->xfer) == 0);
}

static void net_start(net_t *net, rm_store_t *dest)
{
    memset(net, 0, sizeof *net);
    rm_err_t err;
    net->now = 1000;
    net->xfer = rm_xfer_new(dest, fake_send, net, &err);
    CHECK_MSG(net->xfer, "%s", err.msg);
}

static void net_stop(net_t *net)
{
    for (size_t i = 0; i < net->nnodes; i++)
        rm_xfer_destroy(&net->nodes[i].xfer);
    rm_xfer_destroy(&net->xfer);
    CHECK(net->xfer == NULL);
    free(net->reqs);
}

static void on_done(void *arg, const rm_hash_t *hash, int status, const char *error)
{
    done_t *d = arg;
    (void)hash;
    d->calls++;
    d->status = status;
    snprintf(d->error, sizeof d->error, "%s", error ? error : "(null)");
}

static int fetch(net_t *net, const rm_hash_t *h, bool tree, const char *const *src, size_t n,
                 done_t *d)
{
    rm_err_t err;
    int rc = rm_xfer_fetch(net->xfer, h, tree, src, n, on_done, d, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    return rc;
}

#endif
