/*  meshd: the rendermesh node daemon.

    meshd --home DIR [--token FILE] --listen tcp://HOST:PORT [--join ADDR]
          [--slots N] [--name NAME] [--blender PATH]

    Further settings live in DIR/meshd.conf (see rm_config.h and
    docs/operations.md).  Exit status: 0 after SIGINT/SIGTERM, 1 when the
    node cannot start, 2 on a usage error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_config.h"
#include "rm_node.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: meshd --home DIR [--token FILE] --listen tcp://HOST:PORT [--join ADDR]\n"
                 "             [--slots N] [--name NAME] [--blender PATH] [--threads N]\n"
                 "             [--task-timeout S] [--slot-idle S]\n"
                 "             [--advertise tcp://HOST:PORT] [--no-inbound]\n"
                 "settings: DIR/meshd.conf (key = value); flags win over the file\n");
}

typedef struct {
    const char *flag;
    const char *key;
} flag_t;

static const flag_t flags[] = {
    {"--listen", "listen"},
    {"--join", "join"},
    {"--slots", "slots"},
    {"--name", "name"},
    {"--blender", "blender"},
    {"--threads", "threads"},
    {"--role", "role"},
    {"--task-timeout", "task_timeout"},
    {"--slot-idle", "slot_idle_s"},
};

int main(int argc, char **argv)
{
    rm_config_t config;
    rm_err_t err;
    const char *set[sizeof flags / sizeof flags[0] + 1];
    size_t nset = 0;
    rm_config_init(&config);
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(arg, "--no-inbound") == 0) {
            config.no_inbound = true;
            if (nset < sizeof set / sizeof set[0])
                set[nset++] = "no_inbound";
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "meshd: %s needs a value\n", arg);
            usage(stderr);
            return 2;
        }
        const char *value = argv[++i];
        if (strcmp(arg, "--home") == 0) {
            snprintf(config.home, sizeof config.home, "%s", value);
            continue;
        }
        if (strcmp(arg, "--token") == 0) {
            snprintf(config.token, sizeof config.token, "%s", value);
            continue;
        }
        const flag_t *flag = NULL;
        for (size_t f = 0; f < sizeof flags / sizeof flags[0]; f++)
            if (strcmp(arg, flags[f].flag) == 0)
                flag = &flags[f];
        if (!flag) {
            fprintf(stderr, "meshd: unknown option %s\n", arg);
            usage(stderr);
            return 2;
        }
        if (rm_config_set(&config, flag->key, value, &err) != 0) {
            fprintf(stderr, "meshd: %s: %s\n", arg, err.msg);
            return 2;
        }
        if (nset < sizeof set / sizeof set[0])
            set[nset++] = flag->key;
    }
    if (!config.home[0]) {
        fprintf(stderr, "meshd: --home DIR is required\n");
        usage(stderr);
        return 2;
    }
    char conf[1100];
    snprintf(conf, sizeof conf, "%s/meshd.conf", config.home);
    if (rm_config_load(&config, conf, set, nset, &err) != 0) {
        fprintf(stderr, "meshd: %s\n", err.msg);
        return 2;
    }
    if (!config.listen[0]) {
        fprintf(stderr, "meshd: --listen tcp://HOST:PORT is required (or listen = in %s)\n", conf);
        return 2;
    }
    zsys_init();
    zsys_set_logident("meshd");
    rm_node_t *node = rm_node_new(&config, &err);
    if (!node) {
        fprintf(stderr, "meshd: cannot start: %s\n", err.msg);
        return 1;
    }
    /* czmq's signal handler sets zsys_interrupted on SIGINT and SIGTERM. */
    zpoller_t *poller = zpoller_new(rm_node_actor(node), NULL);
    int status = 0;
    bool handing_back = false;
    for (;;) {
        if (zsys_interrupted && !handing_back) {
            /* SIGTERM (a spot notice, systemd): frames go back to the mesh
               at once, outputs in hand are stored and copied, then the node
               leaves; a second signal is not waited for. */
            handing_back = true;
            zpoller_set_nonstop(poller, true);
            zstr_send(rm_node_actor(node), "HAND_BACK");
        }
        void *which = zpoller_wait(poller, 1000);
        if (which) {
            char *said = zstr_recv(which);
            /* The node ends on its own only after draining (meshctl drain,
               or the hand-back above); anything else is a failure. */
            if (!said || strcmp(said, "DRAINED") != 0) {
                fprintf(stderr, "meshd: the node stopped unexpectedly\n");
                status = 1;
            }
            zstr_free(&said);
            break;
        }
    }
    zpoller_destroy(&poller);
    rm_node_destroy(&node);
    return status;
}
