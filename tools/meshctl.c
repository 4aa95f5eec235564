/*  meshctl: the command-line client of a rendermesh mesh.

    This file is the table of commands, their options and their usage; the
    commands live in rm_cmd_*.c and the reference is docs/meshctl.md.  Exit
    codes: 0 done, 1 job failed or request refused, 2 usage error or bad
    input file, 3 cannot reach or authenticate, 4 done with frame warnings
    (--strict). */
#include <czmq.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_cmd.h"

typedef struct {
    const char *name;
    rm_cmd_fn fn;
    const rm_opt_spec_t *opts;
    size_t min_pos, max_pos;
    const char *usage;
    const char *summary;
} command_t;

/*  A command's option table, read by getopt_long (rm_args_parse). */
#define OPT(name)                                                                                  \
    {                                                                                              \
        name, RM_OPT_VALUE, false                                                                  \
    }
#define FLAG(name)                                                                                 \
    {                                                                                              \
        name, RM_OPT_FLAG, false                                                                   \
    }
#define REPEAT(name)                                                                               \
    {                                                                                              \
        name, RM_OPT_VALUE, true                                                                   \
    }
#define OPTIONAL(name)                                                                             \
    {                                                                                              \
        name, RM_OPT_OPTIONAL, false                                                               \
    }
#define END                                                                                        \
    {                                                                                              \
        NULL, RM_OPT_FLAG, false                                                                   \
    }

static const rm_opt_spec_t init_opts[] = {OPT("name"), OPT("token"), FLAG("json"), END};
static const rm_opt_spec_t invite_opts[] = {OPT("role"), OPT("name"), OPT("days"), OPT("expires"),
                                            END};
static const rm_opt_spec_t json_opts[] = {FLAG("json"), END};
/* --wait or --wait=SECONDS */
static const rm_opt_spec_t drain_opts[] = {FLAG("now"), OPTIONAL("wait"), FLAG("json"), END};
static const rm_opt_spec_t submit_opts[] = {
    OPT("frames"),      OPT("scene"),          OPT("camera"),
    OPT("samples"),     OPT("percent"),        OPT("resolution"),
    OPT("engine"),      OPT("device"),         OPT("format"),
    OPT("chunk"),       REPEAT("attach"),      OPT("priority"),
    OPT("name"),        OPT("timeout"),        FLAG("allow-scripts"),
    OPT("root"),        FLAG("allow-missing"), FLAG("no-scan"),
    FLAG("no-denoise"), FLAG("preempt"),       OPT("out"),
    FLAG("job-dir"),    FLAG("overwrite"),     FLAG("wait"),
    FLAG("strict"),     FLAG("json"),          END,
};
static const rm_opt_spec_t wait_opts[] = {FLAG("strict"), FLAG("json"), END};
static const rm_opt_spec_t fetch_opts[] = {FLAG("job-dir"), FLAG("overwrite"), FLAG("json"), END};
static const rm_opt_spec_t job_opts[] = {FLAG("files"), FLAG("json"), END};

static const command_t commands[] = {
    {"init", rm_cmd_init, init_opts, 0, 0,
     "init [--name NAME] [--mesh ADDR] [--json]\n       meshctl init --token FILE [--mesh ADDR]",
     "create a mesh identity and this machine's admin credential, or join with an invitation"},
    {"invite", rm_cmd_invite, invite_opts, 0, 0,
     "invite [--role node|artist|admin] [--name NAME] [--expires DURATION] > FILE",
     "sign a credential for a new node, artist or admin (a secret token, to a file)"},
    {"submit", rm_cmd_submit, submit_opts, 1, 1,
     "submit FILE.blend|s3://BUCKET/KEY.blend [--frames 1-250|1,5,10-20|1-100:5]\n"
     "       [--scene NAME] [--camera NAME]\n"
     "       [--samples N] [--percent N] [--resolution WxH]\n"
     "       [--engine CYCLES|BLENDER_EEVEE|BLENDER_WORKBENCH] [--device CPU|CUDA|OPTIX|HIP]\n"
     "       [--format PNG|JPEG|OPEN_EXR|OPEN_EXR_MULTILAYER|TIFF] [--chunk N] [--root DIR]\n"
     "       [--attach PATH|s3://BUCKET/KEY[/]]... [--allow-missing] [--no-scan] [--no-denoise]\n"
     "       [--priority N] [--preempt] [--name NAME] [--timeout SECONDS] [--allow-scripts]\n"
     "       [--out DIR [--job-dir] [--overwrite] | --out s3://BUCKET/PREFIX/]\n"
     "       [--wait [--strict]] [--json]",
     "send a .blend and the files it uses to the mesh as a render job (an s3:// project is "
     "read by the node; --out s3:// stores each frame there)"},
    {"status", rm_cmd_status, json_opts, 0, 0, "status [--json]", "the node's and mesh's state"},
    {"jobs", rm_cmd_jobs, json_opts, 0, 0, "jobs [--json]", "list jobs"},
    {"nodes", rm_cmd_nodes, json_opts, 0, 0, "nodes [--json]", "list the mesh's nodes"},
    {"wait", rm_cmd_wait, wait_opts, 1, 1, "wait JOB [--strict] [--json]",
     "follow a job until it ends, with progress (--strict: frame warnings fail it, exit 4)"},
    {"fetch", rm_cmd_fetch, fetch_opts, 2, 2, "fetch JOB DIR [--job-dir] [--overwrite] [--json]",
     "download every file of a job's rendered frames into DIR (--job-dir: DIR/JOB)"},
    {"job", rm_cmd_job, job_opts, 1, 1, "job JOB [--files] [--json]",
     "one job frame by frame: who rendered each, attempts, reasons, warnings, files"},
    {"cancel", rm_cmd_cancel, json_opts, 1, 1, "cancel JOB [--json]", "cancel a job"},
    {"priority", rm_cmd_priority, json_opts, 2, 2, "priority JOB N [--json]",
     "set an unfinished job's priority (yours within the nodes' artist bounds, or any as admin)"},
    {"rm", rm_cmd_rm, json_opts, 1, 1, "rm JOB [--json]",
     "remove a finished job from every node: its record, frames and logs (yours, or any as admin)"},
    {"logs", rm_cmd_logs, json_opts, 1, 2, "logs JOB [FRAME] [--json]",
     "a job's log, or one frame's Blender log"},
    /* up to 2 positionals: rm_cmd_drain refuses "--wait 60" with a hint */
    {"drain", rm_cmd_drain, drain_opts, 1, 2, "drain NODE [--now] [--wait[=SECONDS]] [--json]",
     "make a node finish its frames (--now: hand them back) and leave the mesh"},
    {"revoke", rm_cmd_revoke, json_opts, 1, 1, "revoke NAME [--json]",
     "refuse every credential of NAME issued until now, on every node (needs mesh.key)"},
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void print_meshctl_usage(FILE *out)
{
    fprintf(out, "usage: meshctl [--mesh ADDR] [--home DIR] COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(out,
            "\nglobal options (anywhere on the line):\n"
            "  --mesh ADDR  node to talk to, tcp://HOST:PORT (else MESH_ADDR, else HOME/config)\n"
            "  --home DIR   meshctl's home (else MESH_HOME, else ~/.config/rendermesh)\n"
            "environment: MESH_TIMEOUT_MS (default 5000) bounds every wait for a node\n"
            "exit codes: 0 done, 1 job failed or request refused, 2 usage error or bad input,\n"
            "            3 cannot reach or authenticate, 4 done with frame warnings (--strict)\n"
            "meshctl COMMAND --help shows a command's options; docs/meshctl.md has them all\n");
}

static void command_usage(const command_t *cmd, FILE *out)
{
    fprintf(out, "usage: meshctl %s\n%s\n", cmd->usage, cmd->summary);
}

static const command_t *find_command(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static bool asks_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    return false;
}

/*  Parses the command's options and configuration, then runs it. */
static int run(const command_t *cmd, int argc, char **argv, int cmd_index)
{
    char **sub = calloc((size_t)argc, sizeof *sub);
    int n = 0;
    rm_err_t err = {0};
    rm_cli_env_t env;
    rm_cmd_ctx_t ctx = {0};
    int rc = RM_EXIT_USAGE;
    if (!sub)
        return RM_EXIT_FAILED;
    for (int i = 1; i < argc; i++)
        if (i != cmd_index)
            sub[n++] = argv[i];
    ctx.args = rm_args_parse(n, sub, cmd->opts, &err);
    if (!ctx.args) {
        rm_cli_error("%s", err.msg);
        command_usage(cmd, stderr);
    } else if (rm_args_has(ctx.args, "help")) {
        command_usage(cmd, stdout);
        rc = RM_EXIT_OK;
    } else if (rm_args_npos(ctx.args) < cmd->min_pos || rm_args_npos(ctx.args) > cmd->max_pos) {
        rm_cli_error("wrong number of arguments for %s", cmd->name);
        command_usage(cmd, stderr);
    } else {
        rm_cli_env_from_process(&env);
        if (rm_cli_config_resolve(rm_args_get(ctx.args, "home"), rm_args_get(ctx.args, "mesh"),
                                  &env, &ctx.cfg, &err) != 0) {
            rm_cli_error("%s", err.msg);
        } else {
            ctx.json = rm_args_has(ctx.args, "json");
            rc = cmd->fn(&ctx);
        }
    }
    rm_args_destroy(&ctx.args);
    free(sub);
    return rc;
}

int main(int argc, char **argv)
{
    zsys_handler_set(NULL); /* Ctrl-C ends meshctl at once, as in any command-line tool */
    if (sodium_init() < 0) {
        rm_cli_error("cannot initialise libsodium");
        return RM_EXIT_FAILED;
    }
    int ci = rm_cli_command_index(argc, argv);
    if (ci < 0) {
        if (argc == 2 && strcmp(argv[1], "--version") == 0) {
            printf("meshctl %s (protocol %d)\n", RM_VERSION, RM_PROTO_VERSION);
            return RM_EXIT_OK;
        }
        print_meshctl_usage(asks_help(argc, argv) ? stdout : stderr);
        return asks_help(argc, argv) ? RM_EXIT_OK : RM_EXIT_USAGE;
    }
    if (strcmp(argv[ci], "help") == 0) {
        const command_t *cmd = ci + 1 < argc ? find_command(argv[ci + 1]) : NULL;
        if (cmd)
            command_usage(cmd, stdout);
        else
            print_meshctl_usage(stdout);
        return RM_EXIT_OK;
    }
    const command_t *cmd = find_command(argv[ci]);
    if (!cmd) {
        rm_cli_error("unknown command '%s'; meshctl --help lists them", argv[ci]);
        return RM_EXIT_USAGE;
    }
    return run(cmd, argc, argv, ci);
}
