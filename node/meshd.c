/*  meshd: the rendermesh node daemon.

    meshd --home DIR [--token FILE] --listen tcp://HOST:PORT [--join ADDR|s3://BUCKET/PREFIX/]
          [--slots N] [--name NAME] [--blender PATH]   (--opt=VALUE works too)

    Further settings live in DIR/meshd.conf (see rm_config.h and
    docs/operations.md).  Exit status: 0 when it should stay down (after
    SIGINT/SIGTERM, or drained by an admin), 1 when the node cannot start
    or stopped unexpectedly, 2 on a usage error, 75 (EX_TEMPFAIL) when it
    drained at a node's request only: start it again. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "rm_config.h"
#include "rm_node.h"
#include "rm_s3.h"

#define MESHD_EXIT_RESTART 75 /* sysexits.h EX_TEMPFAIL */

static void print_meshd_usage(FILE *out)
{
    fprintf(out, "usage: meshd --home DIR [--token FILE] --listen tcp://HOST:PORT\n"
                 "             [--join tcp://HOST:PORT | s3://BUCKET/PREFIX/]\n"
                 "             [--slots N] [--name NAME] [--blender PATH] [--threads N]\n"
                 "             [--task-timeout S] [--slot-idle S]\n"
                 "             [--advertise tcp://HOST:PORT] [--no-inbound]\n"
                 "settings: DIR/meshd.conf (key = value); flags win over the file\n");
}

/*  Flags that set a meshd.conf key: the long option's val is its index
    here, so one table maps flag to key. */
static const char *const flag_keys[] = {
    "listen", "join", "slots", "name", "blender", "threads", "role", "task_timeout", "slot_idle_s",
};

enum { OPT_HOME = 100, OPT_TOKEN, OPT_NO_INBOUND };

static const struct option options[] = {
    {"listen", required_argument, NULL, 0},
    {"join", required_argument, NULL, 1},
    {"slots", required_argument, NULL, 2},
    {"name", required_argument, NULL, 3},
    {"blender", required_argument, NULL, 4},
    {"threads", required_argument, NULL, 5},
    {"role", required_argument, NULL, 6},
    {"task-timeout", required_argument, NULL, 7},
    {"slot-idle", required_argument, NULL, 8},
    {"home", required_argument, NULL, OPT_HOME},
    {"token", required_argument, NULL, OPT_TOKEN},
    {"no-inbound", no_argument, NULL, OPT_NO_INBOUND},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/*  Notes that key came from the command line (once, however often given). */
static void mark_set(const char **set, size_t *nset, const char *key)
{
    for (size_t i = 0; i < *nset; i++)
        if (strcmp(set[i], key) == 0)
            return;
    set[(*nset)++] = key;
}

/*  Whether the option word ("--name" or "--name=value") spells `name` in
    full: getopt_long also takes unique abbreviations, which would let a
    later option silently change what an old script's word means. */
static bool spelled_out(const char *word, const char *name)
{
    size_t len = strcspn(word + 2, "=");
    return strncmp(word, "--", 2) == 0 && len == strlen(name) && strncmp(word + 2, name, len) == 0;
}

/*  Fills config from the command line; set[] gets the keys given there, so
    meshd.conf does not override them.  0, or the exit status to end with:
    -1 for --help (exit 0), 2 for a usage error. */
static int parse_args(int argc, char **argv, rm_config_t *config, const char **set, size_t *nset)
{
    rm_err_t err;
    opterr = 0; /* our own messages, as before getopt_long */
    int opt;
    int at = optind, index = -1;
    /* "+": no reordering of argv (meshd takes no operands), so argv[at] is
       the word getopt_long just read. */
    while ((opt = getopt_long(argc, argv, "+:h", options, &index)) != -1) {
        const char *arg = argv[optind - 1], *word = argv[at];
        at = optind;
        if (opt == 'h') {
            print_meshd_usage(stdout);
            return -1;
        }
        if (opt == ':' || opt == '?') {
            fprintf(stderr, opt == ':' ? "meshd: %s needs a value\n" : "meshd: unknown option %s\n",
                    arg);
            print_meshd_usage(stderr);
            return 2;
        }
        bool abbreviated = index >= 0 && !spelled_out(word, options[index].name);
        index = -1; /* getopt_long sets it for long options only */
        if (abbreviated) {
            fprintf(stderr, "meshd: unknown option %.*s (options are spelled in full)\n",
                    (int)strcspn(word, "="), word);
            print_meshd_usage(stderr);
            return 2;
        }
        if (opt == OPT_HOME) {
            snprintf(config->home, sizeof config->home, "%s", optarg);
        } else if (opt == OPT_TOKEN) {
            snprintf(config->token, sizeof config->token, "%s", optarg);
        } else if (opt == OPT_NO_INBOUND) {
            config->no_inbound = true;
            mark_set(set, nset, "no_inbound");
        } else {
            const char *key = flag_keys[opt];
            if (rm_config_set(config, key, optarg, &err) != 0) {
                fprintf(stderr, "meshd: --%s: %s\n", options[opt].name, err.msg);
                return 2;
            }
            mark_set(set, nset, key);
        }
    }
    if (optind < argc) {
        fprintf(stderr, "meshd: unexpected argument %s\n", argv[optind]);
        print_meshd_usage(stderr);
        return 2;
    }
    return 0;
}

int main(int argc, char **argv)
{
    rm_config_t config;
    rm_err_t err;
    const char *set[sizeof flag_keys / sizeof flag_keys[0] + 1];
    size_t nset = 0;
    rm_config_init(&config);
    int rc = parse_args(argc, argv, &config, set, &nset);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    if (!config.home[0]) {
        fprintf(stderr, "meshd: --home DIR is required\n");
        print_meshd_usage(stderr);
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
    /* Every peer and client is a descriptor: take all the system allows
       (the door watch keeps any one address from taking many). */
    struct rlimit files;
    if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
        files.rlim_cur = files.rlim_max;
        setrlimit(RLIMIT_NOFILE, &files);
    }
    zsys_init();
    /* Two libzmq I/O threads, before any socket: the door (which anyone
       with mesh.pub can flood) gets one, the main socket the other (see
       rm_node_start, bind_sockets). */
    zsys_set_io_threads(RM_NODE_IO_THREADS);
    zsys_set_logident("meshd");
    /* libcurl (and the TLS library under it) is set up once, here, in the
       main thread, as libcurl asks: the node's S3 threads only use it.  Done
       in another thread, TLS state was tied to that thread and torn down
       wrongly at exit. */
    rm_s3_global_init();
    rm_node_t *node = rm_node_new(&config, &err);
    if (!node) {
        fprintf(stderr, "meshd: cannot start: %s\n", err.msg);
        rm_s3_global_cleanup();
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
               or the hand-back above); anything else is a failure.  Exit 0
               tells a supervisor to leave it down (an admin's drain, or a
               signal); a drain at a node's word alone exits
               MESHD_EXIT_RESTART, which systemd's Restart=on-failure
               restarts: a stolen node credential cannot keep nodes down. */
            if (said && strcmp(said, "DRAINED RESTART") == 0) {
                fprintf(stderr,
                        "meshd: drained at a node's request, not an admin's: exit %d "
                        "so that a supervisor starts it again\n",
                        MESHD_EXIT_RESTART);
                status = MESHD_EXIT_RESTART;
            } else if (!said || strcmp(said, "DRAINED") != 0) {
                fprintf(stderr, "meshd: the node stopped unexpectedly\n");
                status = 1;
            }
            zstr_free(&said);
            break;
        }
    }
    zpoller_destroy(&poller);
    rm_node_destroy(&node);
    rm_s3_global_cleanup();
    return status;
}
