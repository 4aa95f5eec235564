/*  meshctl drain: ask a node to leave the mesh, finishing its frames first
    (or, with --now, handing them back at once, as SIGTERM does), and with
    --wait follow the membership until the node has left. */
#include "rm_cmd.h"
#include "rm_known.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define DRAIN_WAIT_DEFAULT_S 120
#define DRAIN_WAIT_MAX_S 604800
#define DRAIN_POLL_MS 500

typedef struct {
    const char *node;      /* the node being drained */
    bool present;          /* listed by the node asked */
    char state[32];        /* its state there, when present */
    char alt[RM_MAX_PATH]; /* another alive member's address, "" if none */
} sighting_t;

static int check_node(const char *node)
{
    if (!*node || strlen(node) >= RM_MAX_NAME) {
        rm_cli_error("NODE must have 1 to %d characters", RM_MAX_NAME - 1);
        return RM_EXIT_USAGE;
    }
    for (const char *p = node; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            rm_cli_error("NODE may not contain control characters");
            return RM_EXIT_USAGE;
        }
    return RM_EXIT_OK;
}

/*  --wait or --wait=SECONDS; *secs 0 without --wait.  Exit code. */
static int wait_arg(const rm_cmd_ctx_t *ctx, uint64_t *secs)
{
    const char *v = rm_args_get(ctx->args, "wait");
    rm_err_t err = {0};
    *secs = 0;
    if (!v)
        return RM_EXIT_OK;
    if (!*v) {
        *secs = DRAIN_WAIT_DEFAULT_S;
        return RM_EXIT_OK;
    }
    if (rm_cli_parse_u64("--wait", v, 1, DRAIN_WAIT_MAX_S, secs, &err) != 0) {
        rm_cli_error("%s", err.msg);
        return RM_EXIT_USAGE;
    }
    return RM_EXIT_OK;
}

static bool gone(const char *state)
{
    return strcmp(state, "left") == 0 || strcmp(state, "dead") == 0;
}

/*  Asks `client` for the member list and fills *s.  0, or -1 with err. */
static int read_members(rm_client_t *client, sighting_t *s, rm_err_t *err)
{
    rm_msg_t reply;
    if (rm_client_call(client, RM_MSG_NODES, NULL, RM_MSG_NODES_REPLY, 0, &reply, err) != 0) {
        rm_msg_free(&reply);
        return -1;
    }
    const rm_nodes_reply_t *r = &reply.u.nodes_reply;
    s->present = false;
    s->alt[0] = '\0';
    for (uint32_t i = 0; i < r->nodes.count; i++) {
        const rm_node_info_t *n = &r->nodes.items[i];
        if (!n->name || !n->state)
            continue;
        if (strcmp(n->name, s->node) == 0) {
            s->present = true;
            snprintf(s->state, sizeof s->state, "%s", n->state);
            rm_cli_clean(s->state);
        } else if (!s->alt[0] && strcmp(n->state, "alive") == 0 && n->address &&
                   strncmp(n->address, "tcp://", 6) == 0 && strlen(n->address) < sizeof s->alt) {
            snprintf(s->alt, sizeof s->alt, "%s", n->address);
        }
    }
    rm_msg_free(&reply);
    return 0;
}

static void pause_ms(int ms)
{
    nanosleep(&(struct timespec){ms / 1000, (long)(ms % 1000) * 1000000L}, NULL);
}

/*  Follows the membership until the node is left, dead or no longer
    listed.  When the node asked is the one drained, it is asked until it
    stops answering (its meshd has exited); the wait then goes on at another
    member it listed, until that one sees it left, or ends there when it
    listed none.  Exit code; *how says how it ended. */
static int wait_gone(const rm_cmd_ctx_t *ctx, rm_client_t **client, const char *node, uint64_t secs,
                     char *how, size_t how_size)
{
    sighting_t s = {.node = node, .state = "draining"};
    rm_err_t err = {0};
    int64_t deadline = rm_cli_mono_ms() + (int64_t)secs * 1000;
    bool have_err = false, asked_target = false;
    for (;;) {
        /* The drained node calls itself left as soon as it starts leaving,
           before the others know: only they can tell that it is gone. */
        asked_target = strcmp(rm_client_node(*client), node) == 0;
        if (read_members(*client, &s, &err) == 0) {
            have_err = false;
            if (!asked_target && (!s.present || gone(s.state))) {
                snprintf(how, how_size, "%s", s.present ? s.state : "gone");
                return RM_EXIT_OK;
            }
        } else if (asked_target) {
            /* The drained node itself stopped answering: it has gone. */
            if (!s.alt[0]) {
                snprintf(how, how_size, "gone");
                return RM_EXIT_OK;
            }
            rm_token_t token;
            int rc = rm_cmd_load_token(ctx, &token);
            if (rc != RM_EXIT_OK)
                return rc;
            char known[1100];
            snprintf(known, sizeof known, "%s/%s", ctx->cfg.home, RM_KNOWN_DIR);
            rm_client_t *other =
                rm_client_new_known(s.alt, &token, ctx->cfg.timeout_ms, known, &err);
            rm_token_free(&token);
            if (!other) {
                snprintf(how, how_size, "gone");
                return RM_EXIT_OK;
            }
            rm_client_destroy(client);
            *client = other;
            continue;
        } else {
            have_err = true; /* a busy node: ask again until the deadline */
        }
        if (rm_cli_mono_ms() >= deadline)
            break;
        pause_ms(DRAIN_POLL_MS);
    }
    if (asked_target)
        rm_cli_error("node %s still answers %" PRIu64 " s after the drain (it says it is %s); see "
                     "meshctl nodes",
                     node, secs, s.state);
    else if (have_err)
        rm_cli_error("node %s has not been seen leaving within %" PRIu64 " s; the last question "
                     "to %s failed: %s",
                     node, secs, rm_client_node(*client), err.msg);
    else
        rm_cli_error("node %s has not left within %" PRIu64 " s (it is %s%s); see meshctl nodes",
                     node, secs, s.state,
                     strcmp(s.state, "draining") == 0 ? ": still finishing its frames" : "");
    return RM_EXIT_FAILED;
}

int rm_cmd_drain(rm_cmd_ctx_t *ctx)
{
    const char *node = rm_args_pos(ctx->args, 0);
    bool now = rm_args_has(ctx->args, "now");
    uint64_t secs = 0;
    rm_client_t *client = NULL;
    rm_err_t err = {0};
    rm_msg_t reply;
    char how[32] = "";
    const char *extra = rm_args_pos(ctx->args, 1);
    int rc = node ? check_node(node) : RM_EXIT_USAGE;
    if (!node)
        rm_cli_error("missing NODE argument: meshctl drain NODE");
    if (rc == RM_EXIT_OK && extra) {
        if (rm_args_has(ctx->args, "wait"))
            rm_cli_error("--wait takes its value after '=': --wait=%s", extra);
        else
            rm_cli_error("one NODE at a time: meshctl drain NODE");
        rc = RM_EXIT_USAGE;
    }
    if (rc == RM_EXIT_OK)
        rc = wait_arg(ctx, &secs);
    if (rc == RM_EXIT_OK)
        rc = rm_cmd_connect(ctx, &client);
    if (rc != RM_EXIT_OK)
        return rc;
    rm_drain_t req = {.node = (char *)node, .hand_back = now};
    if (rm_client_call(client, RM_MSG_DRAIN, &req, RM_MSG_OK, 0, &reply, &err) != 0) {
        rc = rm_cmd_fail(&err, client);
        rm_msg_free(&reply);
        rm_client_destroy(&client);
        return rc;
    }
    char *msg = reply.u.ok.message ? rm_cli_clean(reply.u.ok.message) : "";
    if (!ctx->json) {
        if (*msg)
            printf("%s\n", msg);
        else if (now)
            printf("node %s hands its frames back and leaves\n", node);
        else
            printf("node %s is draining: it finishes its frames, then leaves\n", node);
        fflush(stdout);
    }
    int64_t started = rm_cli_mono_ms();
    if (secs > 0)
        rc = wait_gone(ctx, &client, node, secs, how, sizeof how);
    int64_t waited = rm_cli_mono_ms() - started;
    if (rc == RM_EXIT_OK && ctx->json) {
        rm_json_t *j = rm_json_new(stdout);
        rm_json_object(j, NULL);
        rm_json_str(j, "node", node);
        rm_json_bool(j, "now", now);
        rm_json_str(j, "message", msg);
        if (secs > 0) {
            rm_json_str(j, "state", how);
            rm_json_u64(j, "waited_ms", (uint64_t)waited);
        } else {
            rm_json_null(j, "state");
        }
        rm_json_destroy(&j);
    } else if (rc == RM_EXIT_OK && secs > 0) {
        char took[32];
        rm_cli_fmt_clock((uint64_t)(waited / 1000), took, sizeof took);
        if (strcmp(how, "dead") == 0)
            printf("node %s is dead: it stopped answering before it said it left (%s)\n", node,
                   took);
        else
            printf("node %s has left the mesh (%s)\n", node, took);
    }
    rm_msg_free(&reply);
    rm_client_destroy(&client);
    return rc;
}
