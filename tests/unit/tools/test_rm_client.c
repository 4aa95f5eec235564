/*  Tests for meshctl's library (tools/): the option parser, configuration
    precedence, value checks, submit options, JSON output, progress text,
    the client against a port nobody listens on and against a fake node (a
    door and a main ROUTER, CURVE, backed by the real chunk store), the
    whole submit conversation, fetch, and chunk location by re-chunking. */
#include "rm_cli.h"
#include "rm_client.h"
#include "rm_cmd.h"
#include "rm_fetch.h"
#include "rm_json.h"
#include "rm_manifest.h"
#include "rm_project.h"
#include "rm_store.h"
#include "rm_submit.h"
#include "rm_test.h"
#include "rm_wait.h"

#include "tools/fake_node.h"

#include <czmq.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

/*  --- Helpers ------------------------------------------------------------- */

static void fill_random(uint8_t *buf, size_t len, uint64_t seed)
{
    for (size_t i = 0; i < len; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        buf[i] = (uint8_t)(seed >> 56);
    }
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        CHECK(fwrite(data, 1, len, f) == len);
        fclose(f);
    }
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    *len = 0;
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
    if (buf)
        *len = fread(buf, 1, (size_t)n, f);
    fclose(f);
    return buf;
}

static void remove_tree(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

static rm_args_t *parse(int argc, char **argv, const rm_opt_spec_t *specs, rm_err_t *err)
{
    return rm_args_parse(argc, argv, specs, err);
}

/*  --- Options -------------------------------------------------------------- */

static const rm_opt_spec_t submit_specs[] = {
    {"frames", true, false},      {"scene", true, false},          {"camera", true, false},
    {"samples", true, false},     {"percent", true, false},        {"resolution", true, false},
    {"engine", true, false},      {"device", true, false},         {"format", true, false},
    {"chunk", true, false},       {"attach", true, true},          {"priority", true, false},
    {"name", true, false},        {"timeout", true, false},        {"allow-scripts", false, false},
    {"out", true, false},         {"wait", false, false},          {"json", false, false},
    {"root", true, false},        {"allow-missing", false, false}, {"no-scan", false, false},
    {"no-denoise", false, false}, {"preempt", false, false},       {NULL, false, false},
};

static void test_args(void)
{
    rm_err_t err;
    char *a1[] = {"scene.blend", "--frames", "1-10",   "--attach=tex", "--mesh", "tcp://h:1",
                  "--attach",    "lib",      "--wait", "--",           "--odd"};
    rm_args_t *args = parse(11, a1, submit_specs, &err);
    CHECK(args != NULL);
    if (args) {
        CHECK(rm_args_npos(args) == 2);
        CHECK(strcmp(rm_args_pos(args, 0), "scene.blend") == 0);
        CHECK(strcmp(rm_args_pos(args, 1), "--odd") == 0);
        CHECK(strcmp(rm_args_get(args, "frames"), "1-10") == 0);
        CHECK(strcmp(rm_args_get(args, "mesh"), "tcp://h:1") == 0);
        CHECK(rm_args_count(args, "attach") == 2);
        CHECK(strcmp(rm_args_nth(args, "attach", 0), "tex") == 0);
        CHECK(strcmp(rm_args_nth(args, "attach", 1), "lib") == 0);
        CHECK(rm_args_has(args, "wait") && strcmp(rm_args_get(args, "wait"), "") == 0);
        CHECK(!rm_args_has(args, "json"));
        CHECK(rm_args_get(args, "scene") == NULL);
        rm_args_destroy(&args);
        CHECK(args == NULL);
    }
    char *bad1[] = {"--bogus"};
    CHECK(parse(1, bad1, submit_specs, &err) == NULL && err.code == RM_EINVAL);
    CHECK(strstr(err.msg, "--bogus") != NULL);
    char *bad2[] = {"x", "--frames"};
    CHECK(parse(2, bad2, submit_specs, &err) == NULL && strstr(err.msg, "needs a value"));
    char *bad3[] = {"--wait=yes"};
    CHECK(parse(1, bad3, submit_specs, &err) == NULL && strstr(err.msg, "takes no value"));
    char *bad4[] = {"--frames", "1", "--frames", "2"};
    CHECK(parse(4, bad4, submit_specs, &err) == NULL && strstr(err.msg, "more than once"));
    char *bad5[] = {"-x"};
    CHECK(parse(1, bad5, submit_specs, &err) == NULL);
    char *help[] = {"-h"};
    args = parse(1, help, NULL, &err);
    CHECK(args && rm_args_has(args, "help"));
    rm_args_destroy(&args);
    /* a negative number is a value, not an option */
    char *neg[] = {"--priority", "-5"};
    args = parse(2, neg, submit_specs, &err);
    CHECK(args && strcmp(rm_args_get(args, "priority"), "-5") == 0);
    rm_args_destroy(&args);

    char *c1[] = {"meshctl", "--home", "/h", "--mesh=tcp://x:1", "status", "--json"};
    CHECK(rm_cli_command_index(6, c1) == 4);
    char *c2[] = {"meshctl", "--json"};
    CHECK(rm_cli_command_index(2, c2) == -1);
    char *c3[] = {"meshctl", "submit", "a.blend"};
    CHECK(rm_cli_command_index(3, c3) == 1);
}

/*  Options of every kind: a value, a flag, one whose value is optional, a
    repeatable one. */
static const rm_opt_spec_t mixed_specs[] = {
    {"frames", RM_OPT_VALUE, false},      {"json", RM_OPT_FLAG, false},
    {"wait", RM_OPT_OPTIONAL, false},     {"attach", RM_OPT_VALUE, true},
    {"frames-from", RM_OPT_VALUE, false}, {NULL, RM_OPT_FLAG, false},
};

static void test_args_options_after_positionals(void)
{
    rm_err_t err;
    char *a[] = {"JOB", "DIR", "--json", "--frames", "3", "--home", "/h"};
    rm_args_t *args = parse(7, a, mixed_specs, &err);
    CHECK_MSG(args != NULL, "%s", err.msg);
    if (args) {
        CHECK(rm_args_npos(args) == 2);
        CHECK(strcmp(rm_args_pos(args, 0), "JOB") == 0 && strcmp(rm_args_pos(args, 1), "DIR") == 0);
        CHECK(rm_args_has(args, "json") && strcmp(rm_args_get(args, "frames"), "3") == 0);
        CHECK(strcmp(rm_args_get(args, "home"), "/h") == 0);
        CHECK(rm_args_pos(args, 2) == NULL);
    }
    rm_args_destroy(&args);
    /* positionals between options keep their order; argv is not reordered */
    char *b[] = {"--json", "one", "--frames=1", "two", "--wait", "three"};
    args = parse(6, b, mixed_specs, &err);
    CHECK(args && rm_args_npos(args) == 3);
    if (args) {
        CHECK(strcmp(rm_args_pos(args, 0), "one") == 0 && strcmp(rm_args_pos(args, 1), "two") == 0);
        CHECK(strcmp(rm_args_pos(args, 2), "three") == 0);
    }
    CHECK(strcmp(b[0], "--json") == 0 && strcmp(b[1], "one") == 0 && strcmp(b[5], "three") == 0);
    rm_args_destroy(&args);
}

static void test_args_eq_and_space_forms(void)
{
    rm_err_t err;
    char *a[] = {"--frames=1-10", "--mesh", "tcp://h:1", "--home=", "--wait=60", "x"};
    rm_args_t *args = parse(6, a, mixed_specs, &err);
    CHECK_MSG(args != NULL, "%s", err.msg);
    if (args) {
        CHECK(strcmp(rm_args_get(args, "frames"), "1-10") == 0);
        CHECK(strcmp(rm_args_get(args, "mesh"), "tcp://h:1") == 0);
        CHECK(strcmp(rm_args_get(args, "home"), "") == 0);
        CHECK(strcmp(rm_args_get(args, "wait"), "60") == 0);
        CHECK(rm_args_npos(args) == 1);
    }
    rm_args_destroy(&args);
    /* a value may look like an option; an optional value never is the next word */
    char *b[] = {"--frames", "--json", "--wait", "60"};
    args = parse(4, b, mixed_specs, &err);
    CHECK(args && strcmp(rm_args_get(args, "frames"), "--json") == 0);
    CHECK(args && !rm_args_has(args, "json") && strcmp(rm_args_get(args, "wait"), "") == 0);
    CHECK(args && rm_args_npos(args) == 1 && strcmp(rm_args_pos(args, 0), "60") == 0);
    rm_args_destroy(&args);
    /* "-" is a positional (stdin), "-h" is --help */
    char *c[] = {"-", "-h"};
    args = parse(2, c, mixed_specs, &err);
    CHECK(args && rm_args_npos(args) == 1 && strcmp(rm_args_pos(args, 0), "-") == 0);
    CHECK(args && rm_args_has(args, "help"));
    rm_args_destroy(&args);
}

static void test_args_repeated_attach_in_order(void)
{
    rm_err_t err;
    char *a[] = {"--attach", "c", "s.blend", "--attach=a", "--json", "--attach", "b"};
    rm_args_t *args = parse(7, a, mixed_specs, &err);
    CHECK_MSG(args != NULL, "%s", err.msg);
    if (args) {
        CHECK(rm_args_count(args, "attach") == 3);
        CHECK(strcmp(rm_args_nth(args, "attach", 0), "c") == 0);
        CHECK(strcmp(rm_args_nth(args, "attach", 1), "a") == 0);
        CHECK(strcmp(rm_args_nth(args, "attach", 2), "b") == 0);
        CHECK(rm_args_nth(args, "attach", 3) == NULL);
        CHECK(strcmp(rm_args_get(args, "attach"), "b") == 0); /* the last */
        CHECK(rm_args_npos(args) == 1 && strcmp(rm_args_pos(args, 0), "s.blend") == 0);
    }
    rm_args_destroy(&args);
    char *b[] = {"--wait", "--wait=5"}; /* not repeatable */
    CHECK(parse(2, b, mixed_specs, &err) == NULL);
    CHECK_MSG(strcmp(err.msg, "option --wait given more than once") == 0, "%s", err.msg);
}

static void test_args_unknown_option_refused_with_its_name(void)
{
    struct {
        char *arg, *want;
    } cases[] = {
        {"--bogus", "unknown option '--bogus'"}, {"--bogus=1", "unknown option '--bogus'"},
        {"--fram", "unknown option '--fram'"}, /* getopt_long would take an abbreviation */
        {"--fr=1", "unknown option '--fr'"},     {"--js", "unknown option '--js'"},
        {"-x", "unknown option '-x'"},           {"-5", "unknown option '-5'"},
        {"-hx", "unknown option '-hx'"},         {"--=1", "unknown option '--=1'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rm_err_t err = {0};
        char *a[] = {"pos", cases[i].arg, "value"};
        CHECK(parse(3, a, mixed_specs, &err) == NULL && err.code == RM_EINVAL);
        CHECK_MSG(strcmp(err.msg, cases[i].want) == 0, "%s: %s", cases[i].arg, err.msg);
    }
    rm_err_t err = {0};
    char *b[] = {"--json=yes"};
    CHECK(parse(1, b, mixed_specs, &err) == NULL);
    CHECK_MSG(strcmp(err.msg, "option --json takes no value") == 0, "%s", err.msg);
    char *c[] = {"--frames", "1", "--frames=2"};
    CHECK(parse(3, c, mixed_specs, &err) == NULL);
    CHECK_MSG(strcmp(err.msg, "option --frames given more than once") == 0, "%s", err.msg);
    /* -h is --help only alone */
    char *e[] = {"-h", "-hx"};
    CHECK(parse(2, e, mixed_specs, &err) == NULL && strcmp(err.msg, "unknown option '-hx'") == 0);
    char *f[] = {"--help", "-h=1"};
    CHECK(parse(2, f, mixed_specs, &err) == NULL && strcmp(err.msg, "unknown option '-h=1'") == 0);
    /* another command's option is unknown here */
    char *d[] = {"--json"};
    CHECK(parse(1, d, NULL, &err) == NULL && strcmp(err.msg, "unknown option '--json'") == 0);
}

static void test_args_missing_value_refused(void)
{
    rm_err_t err = {0};
    char *a[] = {"pos", "--frames"};
    CHECK(parse(2, a, mixed_specs, &err) == NULL && err.code == RM_EINVAL);
    CHECK_MSG(strcmp(err.msg, "option --frames needs a value") == 0, "%s", err.msg);
    char *b[] = {"--json", "--mesh"};
    CHECK(parse(2, b, mixed_specs, &err) == NULL);
    CHECK_MSG(strcmp(err.msg, "option --mesh needs a value") == 0, "%s", err.msg);
    char *c[] = {"--attach", "a", "--attach"};
    CHECK(parse(3, c, mixed_specs, &err) == NULL);
    CHECK_MSG(strcmp(err.msg, "option --attach needs a value") == 0, "%s", err.msg);
    /* an optional value may be missing */
    char *d[] = {"--wait"};
    rm_args_t *args = parse(1, d, mixed_specs, &err);
    CHECK(args && strcmp(rm_args_get(args, "wait"), "") == 0);
    rm_args_destroy(&args);
}

static void test_args_double_dash_ends_options(void)
{
    rm_err_t err;
    char *a[] = {"--json", "a", "--", "--frames", "-h", "--", "b"};
    rm_args_t *args = parse(7, a, mixed_specs, &err);
    CHECK_MSG(args != NULL, "%s", err.msg);
    if (args) {
        CHECK(rm_args_has(args, "json") && !rm_args_has(args, "frames"));
        CHECK(!rm_args_has(args, "help") && rm_args_npos(args) == 5);
        CHECK(strcmp(rm_args_pos(args, 0), "a") == 0);
        CHECK(strcmp(rm_args_pos(args, 1), "--frames") == 0);
        CHECK(strcmp(rm_args_pos(args, 2), "-h") == 0);
        CHECK(strcmp(rm_args_pos(args, 3), "--") == 0);
        CHECK(strcmp(rm_args_pos(args, 4), "b") == 0);
    }
    rm_args_destroy(&args);
    char *b[] = {"--"};
    args = parse(1, b, mixed_specs, &err);
    CHECK(args && rm_args_npos(args) == 0);
    rm_args_destroy(&args);
    args = parse(0, b, mixed_specs, &err);
    CHECK(args && rm_args_npos(args) == 0);
    rm_args_destroy(&args);
}

static void test_command_index_skips_global_values(void)
{
    char *a[] = {"meshctl", "--mesh", "status", "jobs"};
    CHECK(rm_cli_command_index(4, a) == 3); /* "status" is --mesh's value */
    char *b[] = {"meshctl", "--json", "-x", "--home=/h", "nodes"};
    CHECK(rm_cli_command_index(5, b) == 4);
    char *c[] = {"meshctl", "--mes", "x", "status"}; /* no abbreviation takes a value */
    CHECK(rm_cli_command_index(4, c) == 2);
    char *d[] = {"meshctl", "--", "--json"};
    CHECK(rm_cli_command_index(3, d) == 2);
    char *e[] = {"meshctl", "--home", "/h", "--"};
    CHECK(rm_cli_command_index(4, e) == -1);
    char *f[] = {"meshctl", "--mesh"};
    CHECK(rm_cli_command_index(2, f) == -1);
    char *g[] = {"meshctl", "-", "x"};
    CHECK(rm_cli_command_index(3, g) == 1);
}

/*  --- Configuration ---------------------------------------------------------- */

static void test_config(const char *tmp)
{
    rm_cli_config_t cfg;
    rm_err_t err;
    char home[600], path[700];
    snprintf(home, sizeof home, "%s/home", tmp);
    CHECK(rm_cli_mkdir_home(home, &err) == 0);
    struct stat st;
    CHECK(stat(home, &st) == 0 && (st.st_mode & 0777) == 0700);
    CHECK(rm_cli_config_write(home, "tcp://from-config:7600", &err) == 0);

    rm_cli_env_t env = {.user_home = "/users/ann"};
    CHECK(rm_cli_config_resolve(NULL, NULL, &env, &cfg, &err) == 0);
    CHECK(strcmp(cfg.home, "/users/ann/.config/rendermesh") == 0);
    CHECK(cfg.mesh[0] == '\0');
    CHECK(cfg.timeout_ms == 5000);

    env.mesh_home = home; /* MESH_HOME beats HOME, and its config gives the address */
    CHECK(rm_cli_config_resolve(NULL, NULL, &env, &cfg, &err) == 0);
    CHECK(strcmp(cfg.home, home) == 0);
    CHECK(strcmp(cfg.mesh, "tcp://from-config:7600") == 0);
    snprintf(path, sizeof path, "%s/config", home);
    CHECK(strcmp(cfg.mesh_from, path) == 0);

    env.mesh_addr = "tcp://from-env:1"; /* MESH_ADDR beats the config file */
    env.timeout_ms = "250";
    CHECK(rm_cli_config_resolve(NULL, NULL, &env, &cfg, &err) == 0);
    CHECK(strcmp(cfg.mesh, "tcp://from-env:1") == 0);
    CHECK(strcmp(cfg.mesh_from, "MESH_ADDR") == 0);
    CHECK(cfg.timeout_ms == 250);

    /* flags beat everything */
    CHECK(rm_cli_config_resolve("/flag/home", "tcp://flag:2", &env, &cfg, &err) == 0);
    CHECK(strcmp(cfg.home, "/flag/home") == 0);
    CHECK(strcmp(cfg.mesh, "tcp://flag:2") == 0);
    CHECK(strcmp(cfg.mesh_from, "--mesh") == 0);

    env.timeout_ms = "soon";
    CHECK(rm_cli_config_resolve(NULL, NULL, &env, &cfg, &err) == -1);
    CHECK(err.code == RM_EINVAL && strstr(err.msg, "MESH_TIMEOUT_MS"));

    rm_cli_env_t env2 = {.mesh_home = home};
    write_file(path, "# comment\n\nfuture = yes\n  mesh =  tcp://spaced:9 \n", 49);
    CHECK(rm_cli_config_resolve(NULL, NULL, &env2, &cfg, &err) == 0);
    CHECK(strcmp(cfg.mesh, "tcp://spaced:9") == 0);
    write_file(path, "mesh tcp://x:1\n", 15);
    CHECK(rm_cli_config_resolve(NULL, NULL, &env2, &cfg, &err) == -1);
    CHECK(err.code == RM_EINVAL && strstr(err.msg, ":1: expected"));
}

/*  --- Values --------------------------------------------------------------------- */

static void test_values(void)
{
    rm_err_t err;
    uint64_t u, w, h;
    int64_t i;
    const char *choice;
    static const char *const engines[] = {"CYCLES", "BLENDER_EEVEE", NULL};
    CHECK(rm_cli_parse_u64("--samples", "128", 1, 1000, &u, &err) == 0 && u == 128);
    CHECK(rm_cli_parse_u64("--samples", "0", 1, 1000, &u, &err) == -1);
    CHECK(strstr(err.msg, "--samples: '0' is not a number between 1 and 1000") != NULL);
    CHECK(rm_cli_parse_u64("--samples", "12a", 1, 1000, &u, &err) == -1);
    CHECK(rm_cli_parse_u64("--samples", "", 1, 1000, &u, &err) == -1);
    CHECK(rm_cli_parse_u64("--samples", "-1", 0, 1000, &u, &err) == -1);
    CHECK(rm_cli_parse_u64("x", "99999999999999999999999", 0, UINT64_MAX, &u, &err) == -1);
    int64_t secs = 0;
    CHECK(rm_cli_parse_duration("--expires", "90m", 60, 86400, &secs, &err) == 0 && secs == 5400);
    CHECK(rm_cli_parse_duration("--expires", "2y", 60, 10 * 31536000LL, &secs, &err) == 0 &&
          secs == 2 * 31536000LL);
    CHECK(rm_cli_parse_duration("--expires", "1w", 60, 31536000, &secs, &err) == 0 &&
          secs == 604800);
    CHECK(rm_cli_parse_duration("--expires", "30s", 60, 86400, &secs, &err) == -1);
    CHECK(strstr(err.msg, "--expires: '30s'") != NULL);
    CHECK(rm_cli_parse_duration("--expires", "11y", 60, 10 * 31536000LL, &secs, &err) == -1);
    CHECK(rm_cli_parse_duration("--expires", "10", 60, 86400, &secs, &err) == -1);
    CHECK(rm_cli_parse_duration("--expires", "h", 60, 86400, &secs, &err) == -1);
    CHECK(rm_cli_parse_duration("--expires", "-5d", 60, 86400 * 10, &secs, &err) == -1);
    CHECK(rm_cli_parse_duration("--expires", "0d", 0, 86400, &secs, &err) == -1);
    CHECK(rm_cli_parse_duration("--expires", "99999999999999999999d", 60, INT64_MAX, &secs, &err) ==
          -1);
    CHECK(rm_cli_parse_i64("--priority", "-5", -10, 10, &i, &err) == 0 && i == -5);
    CHECK(rm_cli_parse_i64("--priority", "+7", -10, 10, &i, &err) == 0 && i == 7);
    CHECK(rm_cli_parse_i64("--priority", "11", -10, 10, &i, &err) == -1);
    CHECK(rm_cli_parse_i64("--priority", "-", -10, 10, &i, &err) == -1);
    CHECK(rm_cli_parse_choice("--engine", "cycles", engines, &choice, &err) == 0);
    CHECK(strcmp(choice, "CYCLES") == 0);
    CHECK(rm_cli_parse_choice("--engine", "luxcore", engines, &choice, &err) == -1);
    CHECK(strstr(err.msg, "not one of CYCLES, BLENDER_EEVEE") != NULL);
    CHECK(rm_cli_parse_resolution("1920x1080", &w, &h, &err) == 0 && w == 1920 && h == 1080);
    CHECK(rm_cli_parse_resolution("1920", &w, &h, &err) == -1);
    CHECK(rm_cli_parse_resolution("2x2", &w, &h, &err) == -1);
    CHECK(rm_cli_parse_resolution("x100", &w, &h, &err) == -1);
    CHECK(rm_cli_check_job_id("3fa2c1d0e9b84a71", &err) == 0);
    CHECK(rm_cli_check_job_id("3FA2C1D0E9B84A71", &err) == -1);
    CHECK(rm_cli_check_job_id("3fa2c1d0e9b84a7", &err) == -1);
    CHECK(rm_cli_check_job_id("../../etc/passwd", &err) == -1);
}

static void test_exit_and_text(void)
{
    rm_err_t e = {.code = RM_EINVAL};
    CHECK(rm_cli_exit_code(&e, false) == RM_EXIT_USAGE);
    CHECK(rm_cli_exit_code(&e, true) == RM_EXIT_FAILED);
    e.code = RM_EUNREACH;
    CHECK(rm_cli_exit_code(&e, false) == RM_EXIT_NOREACH);
    e.code = RM_ETIMEOUT;
    CHECK(rm_cli_exit_code(&e, false) == RM_EXIT_NOREACH);
    e.code = RM_EAUTH;
    CHECK(rm_cli_exit_code(&e, false) == RM_EXIT_NOREACH);
    e.code = RM_ENOSPC;
    CHECK(rm_cli_exit_code(&e, false) == RM_EXIT_FAILED);

    char buf[64];
    rm_cli_fmt_bytes(812, buf, sizeof buf);
    CHECK(strcmp(buf, "812 B") == 0);
    rm_cli_fmt_bytes(1234567, buf, sizeof buf);
    CHECK(strcmp(buf, "1.2 MB") == 0);
    rm_cli_fmt_bytes(999999, buf, sizeof buf);
    CHECK(strcmp(buf, "1.0 MB") == 0);
    rm_cli_fmt_clock(4, buf, sizeof buf);
    CHECK(strcmp(buf, "0:04") == 0);
    rm_cli_fmt_clock(3723, buf, sizeof buf);
    CHECK(strcmp(buf, "1:02:03") == 0);
    rm_cli_fmt_age(45, buf, sizeof buf);
    CHECK(strcmp(buf, "45s") == 0);
    rm_cli_fmt_age(3 * 86400, buf, sizeof buf);
    CHECK(strcmp(buf, "3d") == 0);
    char dirty[] = "evil\033[2Jname\n";
    CHECK(strcmp(rm_cli_clean(dirty), "evil?[2Jname?") == 0);

    rm_wait_fmt_bar(12, 24, 3.1, 4, buf, sizeof buf);
    CHECK(strcmp(buf, "[##########..........]  12/24 frames  3.1 fr/s  ETA 0:04") == 0);
    rm_wait_fmt_bar(0, 24, -1, 0, buf, sizeof buf);
    CHECK(strcmp(buf, "[....................]  0/24 frames  -- fr/s  ETA --:--") == 0);
    rm_wait_fmt_line(12, 0, 24, 3.1, 4, buf, sizeof buf);
    CHECK(strcmp(buf, "12/24 frames done, 0 failed, 3.1 frames/s, ETA 4 s") == 0);
    rm_wait_fmt_line(0, 1, 24, -1, 0, buf, sizeof buf);
    CHECK(strcmp(buf, "0/24 frames done, 1 failed") == 0);
    CHECK(rm_wait_is_final("done") && rm_wait_is_final("canceled") && !rm_wait_is_final("queued"));
}

static void test_fetch_names(void)
{
    CHECK(rm_fetch_name_ok("frame_0001.png"));
    CHECK(!rm_fetch_name_ok("../x.png") && rm_fetch_name_ok("passes/normal_0001.exr"));
    CHECK(!rm_fetch_name_ok("/etc/x") && !rm_fetch_name_ok("a//b") && !rm_fetch_name_ok("a/"));
    CHECK(!rm_fetch_name_ok("a/../b") && !rm_fetch_name_ok("a/./b") && !rm_fetch_name_ok("a\\b"));
    CHECK(!rm_fetch_name_ok(".hidden") && !rm_fetch_name_ok("") && !rm_fetch_name_ok(NULL));
    CHECK(!rm_fetch_name_ok("a\nb"));
}

/*  --- JSON ------------------------------------------------------------------------ */

static void test_json(const char *tmp)
{
    char path[600];
    snprintf(path, sizeof path, "%s/out.json", tmp);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    rm_json_t *j = rm_json_new(f);
    rm_json_object(j, NULL);
    rm_json_str(j, "s", "a\"b\\c\nd\te\x01");
    rm_json_strn(j, "bad", (const uint8_t *)"x\xff\xc3\xa9y\xe2\x82", 7);
    rm_json_u64(j, "u", 9223372036854775807ULL);
    rm_json_u64(j, "big", 18446744073709551615ULL); /* above json_int_t: a real */
    rm_json_i64(j, "i", -3);
    rm_json_bool(j, "b", true);
    rm_json_null(j, "n");
    rm_json_array(j, "a");
    rm_json_u64(j, NULL, 1);
    rm_json_object(j, NULL);
    rm_json_str(j, "k", NULL);
    rm_json_end(j);
    rm_json_end(j);
    rm_json_double(j, "d", 1.0 / 0.0);
    rm_json_destroy(&j); /* closes the object */
    fclose(f);
    size_t len;
    char *text = (char *)read_file(path, &len);
    const char *want =
        "{\"s\":\"a\\\"b\\\\c\\nd\\te\\u0001\",\"bad\":"
        "\"x\xef\xbf\xbd\xc3\xa9y\xef\xbf\xbd\xef\xbf\xbd\","
        "\"u\":9223372036854775807,\"big\":1.8446744073709552e19,\"i\":-3,\"b\":true,\"n\":null,"
        "\"a\":[1,{\"k\":\"\"}],\"d\":null}\n";
    CHECK(text && len == strlen(want) && memcmp(text, want, len) == 0);
    if (text && (len != strlen(want) || memcmp(text, want, len) != 0))
        fprintf(stderr, "got:  %.*s\nwant: %s", (int)len, text, want);
    free(text);
}

/*  --- Submit options ------------------------------------------------------------------ */

static rm_args_t *submit_args(char **argv, int argc)
{
    rm_err_t err;
    rm_args_t *args = rm_args_parse(argc, argv, submit_specs, &err);
    CHECK_MSG(args != NULL, "%s", err.msg);
    return args;
}

static void test_submit_parse(const char *tmp)
{
    char blend[600], gz[600], junk[600], tex[600];
    rm_submit_req_t req;
    rm_err_t err;
    snprintf(blend, sizeof blend, "%s/scene.blend", tmp);
    snprintf(gz, sizeof gz, "%s/packed.blend", tmp);
    snprintf(junk, sizeof junk, "%s/notes.blend", tmp);
    snprintf(tex, sizeof tex, "%s/tex.png", tmp);
    write_file(blend, "BLENDER-v304RENDH", 17);
    write_file(gz, "\x1f\x8b\x08\x00", 4);
    write_file(junk, "hello", 5);
    write_file(tex, "png", 3);

    char *a1[] = {blend,
                  "--frames",
                  "1-100:5",
                  "--engine",
                  "cycles",
                  "--resolution",
                  "640x360",
                  "--attach",
                  tex,
                  "--out",
                  "frames",
                  "--priority",
                  "-3",
                  "--allow-scripts",
                  "--no-scan",
                  "--preempt",
                  "--no-denoise",
                  "--format",
                  "open_exr_multilayer"};
    rm_args_t *args = submit_args(a1, 19);
    CHECK(args && rm_submit_req_parse(args, &req, &err) == 0);
    CHECK(req.spec.frames.count == 1 && req.spec.frames.items[0].first == 1 &&
          req.spec.frames.items[0].last == 100 && req.spec.frames.items[0].step == 5);
    CHECK(strcmp(req.spec.engine, "CYCLES") == 0 && strcmp(req.spec.device, "") == 0);
    CHECK(strcmp(req.spec.format, "OPEN_EXR_MULTILAYER") == 0 && req.spec.chunk == 1);
    CHECK(req.spec.preempt && req.spec.no_denoise && req.spec.requires.count == 0);
    CHECK(req.deps.npaths == 2 && req.deps.root && strcmp(req.deps.root, tmp) == 0);
    CHECK(req.spec.res_x == 640 && req.spec.res_y == 360 && req.spec.priority == -3);
    CHECK(strcmp(req.spec.name, "scene.blend") == 0);
    CHECK(req.spec.allow_scripts && req.wait && strcmp(req.out, "frames") == 0);
    CHECK(req.nattach == 1 && strcmp(req.attach[0], tex) == 0);
    rm_submit_req_free(&req);
    rm_args_destroy(&args);

    char *a2[] = {gz, "--frames", "7", "--no-scan"}; /* defaults: no wait, the file's settings */
    args = submit_args(a2, 4);
    CHECK(args && rm_submit_req_parse(args, &req, &err) == 0);
    CHECK(req.spec.frames.count == 1 && !req.wait && !req.out && req.spec.samples == 0);
    CHECK(strcmp(req.spec.format, "") == 0 && !req.spec.preempt && !req.spec.no_denoise);
    rm_submit_req_free(&req);
    rm_args_destroy(&args);

    /* The local Blender reads the scene's range and what the file uses;
       without one the error says how to do without (--no-scan, which
       needs --frames). */
    char *a3[] = {gz};
    setenv("MESH_BLENDER", "/nonexistent/blender", 1);
    args = submit_args(a3, 1);
    CHECK(args && rm_submit_req_parse(args, &req, &err) == -1);
    CHECK_MSG(strstr(err.msg, "no Blender here") && strstr(err.msg, "--no-scan"), "%s", err.msg);
    rm_submit_req_free(&req);
    rm_args_destroy(&args);
    unsetenv("MESH_BLENDER");
    char *a4[] = {gz, "--no-scan"};
    args = submit_args(a4, 2);
    CHECK(args && rm_submit_req_parse(args, &req, &err) == -1);
    CHECK_MSG(strstr(err.msg, "--no-scan needs --frames"), "%s", err.msg);
    rm_submit_req_free(&req);
    rm_args_destroy(&args);

    struct {
        char *opt, *value, *want;
    } bad[] = {
        {"--frames", "20-10", "--frames: "},
        {"--frames", "1-x", "--frames: "},
        {"--samples", "0", "--samples"},
        {"--device", "TPU", "not one of CPU"},
        {"--format", "GIF", "--format"},
        {"--chunk", "0", "--chunk"},
        {"--attach", "/nonexistent/tex", "--attach /nonexistent/tex"},
        {"--resolution", "1x1", "--resolution"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *a[] = {blend, bad[i].opt, bad[i].value};
        args = submit_args(a, 3);
        CHECK(args && rm_submit_req_parse(args, &req, &err) == -1);
        CHECK_MSG(err.code == RM_EINVAL && strstr(err.msg, bad[i].want), "%s %s: %s", bad[i].opt,
                  bad[i].value, err.msg);
        rm_submit_req_free(&req);
        rm_args_destroy(&args);
    }
    CHECK(rm_submit_check_blend(junk, &err) == -1);
    CHECK(strstr(err.msg, "is not a .blend file") != NULL);
    CHECK(rm_submit_check_blend(tmp, &err) == -1);
    CHECK(rm_submit_check_blend("/nonexistent.blend", &err) == -1 && err.code == RM_EINVAL);

    char id[17], id2[17];
    rm_submit_new_id(id);
    rm_submit_new_id(id2);
    CHECK(rm_cli_check_job_id(id, &err) == 0 && strcmp(id, id2) != 0);
}

/*  --- Chunk location by re-chunking ----------------------------------------------------- */

#define BIG_SIZE (3 * 1024 * 1024 + 12345)

/*  A project: scene.blend, tex/big.bin (> 1 MiB), tex/small.txt, tex/empty,
    lib/dup.bin (the same bytes as the .blend: shared chunks). */
static void make_project(const char *root)
{
    char p[700];
    uint8_t *big = malloc(BIG_SIZE);
    uint8_t *blend = malloc(300000);
    fill_random(big, BIG_SIZE, 42);
    fill_random(blend, 300000, 7);
    memcpy(blend, "BLENDER", 7);
    snprintf(p, sizeof p, "mkdir -p '%s/tex' '%s/lib'", root, root);
    CHECK(system(p) == 0);
    snprintf(p, sizeof p, "%s/scene.blend", root);
    write_file(p, blend, 300000);
    snprintf(p, sizeof p, "%s/lib/dup.bin", root);
    write_file(p, blend, 300000);
    snprintf(p, sizeof p, "%s/tex/big.bin", root);
    write_file(p, big, BIG_SIZE);
    snprintf(p, sizeof p, "%s/tex/small.txt", root);
    write_file(p, "a small file", 12);
    snprintf(p, sizeof p, "%s/tex/empty", root);
    write_file(p, "", 0);
    free(big);
    free(blend);
}

/*  Every chunk of every file comes back from rm_project_chunk with the
    bytes at its place in the file. */
static void check_all_chunks(rm_project_t *project, const rm_manifest_t *m, const char *root)
{
    rm_err_t err;
    for (uint32_t f = 0; f < m->files.count; f++) {
        char path[800];
        size_t flen = 0, off = 0;
        snprintf(path, sizeof path, "%s/%s", root, m->files.items[f].path);
        uint8_t *whole = read_file(path, &flen);
        for (uint32_t c = 0; whole && c < m->files.items[f].chunks.count; c++) {
            uint8_t *data = NULL;
            size_t len = 0;
            rm_hash_t h;
            CHECK_MSG(rm_project_chunk(project, &m->files.items[f].chunks.items[c], &data, &len,
                                       &err) == 0,
                      "%s chunk %u: %s", m->files.items[f].path, c, err.msg);
            rm_hash(data, len, &h);
            CHECK(memcmp(&h, &m->files.items[f].chunks.items[c], sizeof h) == 0);
            CHECK(off + len <= flen && memcmp(whole + off, data, len) == 0);
            off += len;
            free(data);
        }
        CHECK_MSG(off == flen, "%s: chunks cover %zu of %zu bytes", path, off, flen);
        free(whole);
    }
}

static const rm_manifest_file_t *find_file(const rm_manifest_t *m, const char *path)
{
    for (uint32_t f = 0; f < m->files.count; f++)
        if (strcmp(m->files.items[f].path, path) == 0)
            return &m->files.items[f];
    return NULL;
}

/*  scene.blend with tex/ and lib/dup.bin attached, built twice: by
    rm_manifest_build for reference and as an rm_project. */
typedef struct {
    char root[600], blend[700], big[700], tex[700], lib[700];
    const char *attach[3]; /* the .blend and its files */
    rm_manifest_t m;
    char *rel;
    rm_project_t *p;
} project_fixture_t;

static bool project_open(project_fixture_t *fx, const char *tmp, const char *name)
{
    rm_err_t err;
    snprintf(fx->root, sizeof fx->root, "%s/%s", tmp, name);
    make_project(fx->root);
    snprintf(fx->blend, sizeof fx->blend, "%s/scene.blend", fx->root);
    snprintf(fx->big, sizeof fx->big, "%s/tex/big.bin", fx->root);
    snprintf(fx->tex, sizeof fx->tex, "%s/tex", fx->root);
    snprintf(fx->lib, sizeof fx->lib, "%s/lib/dup.bin", fx->root);
    fx->attach[0] = fx->blend;
    fx->attach[1] = fx->tex;
    fx->attach[2] = fx->lib;
    fx->rel = NULL;
    CHECK(rm_manifest_build(fx->root, fx->attach, 3, NULL, NULL, NULL, &fx->m, &err) == 0);
    fx->p = rm_project_new(fx->root, fx->blend, fx->attach, 3, NULL, NULL, &err);
    CHECK_MSG(fx->p != NULL, "%s", err.msg);
    return fx->p != NULL;
}

static void project_close(project_fixture_t *fx)
{
    rm_project_destroy(&fx->p);
    CHECK(fx->p == NULL);
    rm_manifest_free(&fx->m);
    free(fx->rel);
}

static void test_project(const char *tmp)
{
    project_fixture_t fx;
    rm_err_t err;
    if (project_open(&fx, tmp, "project")) {
        CHECK(strcmp(rm_project_blend_rel(fx.p), "scene.blend") == 0);
        CHECK(rm_project_files(fx.p) == 5);
        const rm_manifest_file_t *big = find_file(&fx.m, "tex/big.bin");
        CHECK(big && big->chunks.count > 4); /* really cut into several chunks */
        check_all_chunks(fx.p, &fx.m, fx.root);

        /* the manifest chunk itself is kept in memory */
        uint8_t *data = NULL;
        size_t len = 0;
        rm_manifest_t back;
        CHECK(rm_project_chunk(fx.p, rm_project_manifest_hash(fx.p), &data, &len, &err) == 0);
        CHECK(data && rm_manifest_decode(data, len, &back, &err) == 0 && back.files.count == 5);
        rm_manifest_free(&back);
        free(data);

        rm_hash_t nowhere;
        rm_hash("nowhere", 7, &nowhere);
        CHECK(rm_project_chunk(fx.p, &nowhere, &data, &len, &err) == -1);
        CHECK(err.code == RM_ENOTFOUND);
    }
    project_close(&fx);
}

static void test_project_edits(const char *tmp)
{
    project_fixture_t fx;
    rm_err_t err;
    uint8_t *data = NULL;
    size_t len = 0;
    if (!project_open(&fx, tmp, "project-edits")) {
        project_close(&fx);
        return;
    }
    /* an edit after the offsets were computed (same size, one byte in the
       middle of the big file) is caught on re-hash */
    const rm_manifest_file_t *big = find_file(&fx.m, "tex/big.bin");
    CHECK(big && rm_project_chunk(fx.p, &big->chunks.items[0], &data, &len, &err) == 0);
    free(data);
    FILE *f = fopen(fx.big, "r+b");
    CHECK(f != NULL);
    if (f) {
        fseek(f, BIG_SIZE / 2, SEEK_SET);
        fputc(0x55 ^ fgetc(f), f);
        fclose(f);
    }
    bool caught = false;
    for (uint32_t c = 0; big && !caught && c < big->chunks.count; c++) {
        caught = rm_project_chunk(fx.p, &big->chunks.items[c], &data, &len, &err) != 0;
        if (!caught)
            free(data);
    }
    CHECK_MSG(caught && err.code == RM_EINVAL && strstr(err.msg, "changed since"),
              "an edited file was not detected: %s", err.msg);
    rm_project_destroy(&fx.p);

    /* edited before the first NEED: the lazily computed offsets disagree */
    fx.p = rm_project_new(fx.root, fx.blend, fx.attach, 3, NULL, NULL, &err);
    CHECK(fx.p != NULL && truncate(fx.big, BIG_SIZE - 100000) == 0);
    CHECK(fx.p && big && rm_project_chunk(fx.p, &big->chunks.items[0], &data, &len, &err) == -1);
    CHECK(strstr(err.msg, "changed since") != NULL);
    project_close(&fx);
}

/*  --- Client tests ---------------------------------------------------------------------------- */

static void test_unreachable(const keys_t *k)
{
    /* a port nobody listens on: bind, note it, close */
    zsock_t *probe = zsock_new(ZMQ_ROUTER);
    int port = zsock_bind(probe, "tcp://127.0.0.1:*");
    zsock_destroy(&probe);
    CHECK(port > 1);
    char addr[64];
    snprintf(addr, sizeof addr, "tcp://127.0.0.1:%d", port - 1); /* the door is PORT+1 */
    rm_err_t err;
    int64_t t0 = rm_cli_mono_ms();
    rm_client_t *c = rm_client_new(addr, &k->client, 300, &err);
    int64_t took = rm_cli_mono_ms() - t0;
    CHECK(c == NULL && err.code == RM_EUNREACH);
    CHECK_MSG(took >= 280 && took < 1500, "took %lld ms", (long long)took);
    CHECK(strstr(err.msg, "no answer from the node at") && strstr(err.msg, "within 0.3 s"));
    CHECK(strstr(err.msg, "is meshd running there") != NULL);
    CHECK(rm_client_new("tcp://nohost", &k->client, 300, &err) == NULL && err.code == RM_EINVAL);
}

static void test_door(const keys_t *k)
{
    fake_mode_t modes[] = {FAKE_CLIENT_ROLE, FAKE_OTHER_MESH, FAKE_SILENT};
    rm_code_t want[] = {RM_EAUTH, RM_EAUTH, RM_EUNREACH};
    const char *text[] = {"is not a node", "is not a node of this mesh", "no answer"};
    for (size_t i = 0; i < 3; i++) {
        fake_t fk;
        char addr[64];
        rm_err_t err;
        zactor_t *actor = fake_start(&fk, k, modes[i], NULL);
        fake_addr(&fk, addr, sizeof addr);
        rm_client_t *c = rm_client_new(addr, &k->client, 400, &err);
        CHECK_MSG(c == NULL && err.code == want[i] && strstr(err.msg, text[i]), "mode %zu: %s", i,
                  c ? "connected" : err.msg);
        rm_client_destroy(&c);
        zactor_destroy(&actor);
    }
}

static void test_requests(const keys_t *k)
{
    fake_t fk;
    char addr[64];
    rm_err_t err;
    rm_msg_t reply;
    zactor_t *actor = fake_start(&fk, k, FAKE_NODE, NULL);
    fake_addr(&fk, addr, sizeof addr);
    rm_client_t *c = rm_client_new(addr, &k->client, 2000, &err);
    CHECK_MSG(c != NULL, "%s", err.msg);
    if (c) {
        CHECK(strcmp(rm_client_node(c), "node-a") == 0); /* from the signed credential */
        CHECK(rm_client_call(c, RM_MSG_STATUS, NULL, RM_MSG_STATUS_REPLY, 0, &reply, &err) == 0);
        CHECK(reply.type == RM_MSG_STATUS_REPLY && strcmp(reply.u.status_reply.node, "fake") == 0);
        rm_msg_free(&reply);
        CHECK(!rm_client_refused(c));
        rm_cancel_t ref = {"0123456789abcdef", {0}};
        CHECK(rm_client_call(c, RM_MSG_CANCEL, &ref, RM_MSG_OK, 0, &reply, &err) == -1);
        CHECK(rm_client_refused(c) && err.code == RM_ENOTFOUND);
        CHECK(strcmp(err.msg, "no such job") == 0);
        CHECK(rm_cli_exit_code(&err, rm_client_refused(c)) == RM_EXIT_FAILED);
        CHECK(rm_client_call(c, RM_MSG_STATUS, NULL, RM_MSG_JOBS_REPLY, 0, &reply, &err) == -1);
        CHECK(err.code == RM_EPROTO && !rm_client_refused(c));
    }
    rm_client_destroy(&c);
    CHECK(c == NULL);
    /* another client of the same mesh connects too */
    c = rm_client_new(addr, &k->client2, 2000, &err);
    CHECK(c != NULL);
    rm_client_destroy(&c);
    zactor_destroy(&actor);
}

/*  The fake node's settings (puts_refused, submits_dropped) are written
    here before the request that reads them is sent: the message passes
    through ZeroMQ's queues, which order the two threads. */
static void test_submit(rm_client_t *c, fake_t *fk, rm_store_t *store, const char *tmp)
{
    char root[600], blend[700], attach[700];
    rm_err_t err;
    snprintf(root, sizeof root, "%s/project2", tmp);
    make_project(root);
    snprintf(blend, sizeof blend, "%s/scene.blend", root);
    snprintf(attach, sizeof attach, "%s/tex", root);
    const char *att[] = {blend, attach};
    rm_project_t *p = rm_project_new(root, blend, att, 2, NULL, NULL, &err);
    CHECK(p != NULL);
    if (!p)
        return;
    rm_job_spec_t spec = {.job_id = "00000000000000aa",
                          .name = "t",
                          .blend = "scene.blend",
                          .manifest = *rm_project_manifest_hash(p),
                          .format = "PNG",
                          .chunk = 1};
    rm_submit_stats_t st;
    fk->puts_refused = 1; /* the first CHUNK_PUT: disk full */
    CHECK(rm_submit_run(c, p, &spec, &st, &err) == -1);
    CHECK(rm_client_refused(c) && err.code == RM_ENOSPC && strstr(err.msg, "disk full"));
    fk->submits_dropped = 1; /* the first SUBMIT's reply is lost: it is sent again */
    CHECK_MSG(rm_submit_run(c, p, &spec, &st, &err) == 0, "%s", err.msg);
    CHECK(st.frames_total == 24 && st.rounds > 2); /* the fake NEEDs 3 chunks at a time */
    CHECK(st.chunks_total == rm_project_chunks_total(p) && st.chunks_sent > 0);
    CHECK(st.bytes_sent > 0 && st.bytes_sent <= rm_project_bytes_total(p));
    rm_manifest_t m;
    rm_hash_t *missing = NULL;
    uint32_t nmissing = 0;
    CHECK(rm_manifest_load(store, rm_project_manifest_hash(p), &m, &err) == 0);
    CHECK(rm_manifest_missing(&m, store, &missing, &nmissing, 100, &err) == 0 && nmissing == 0);
    free(missing);
    rm_manifest_free(&m);
    /* everything is there now: submitting again sends nothing */
    CHECK(rm_submit_run(c, p, &spec, &st, &err) == 0 && st.chunks_sent == 0);
    rm_project_destroy(&p);

    rm_job_summary_t final;
    CHECK(rm_wait_job(c, "00000000000000aa", true, &final, &err) == 0);
    CHECK(final.state && strcmp(final.state, "done") == 0 && final.version == 7);
    rm_codec_free(&rm_job_summary_desc, &final);
}

/*  Frame 1 is one file, frame 3 several (a pass in a subfolder). */
static void test_fetch(rm_client_t *c, const uint8_t *png, size_t png_len, const char *tmp)
{
    char out[600], got[700], pass[700], link[700];
    rm_err_t err;
    rm_fetch_stats_t fs;
    const char *job = "00000000000000aa";
    snprintf(out, sizeof out, "%s/frames", tmp);
    snprintf(got, sizeof got, "%s/frame_0001.png", out);
    snprintf(pass, sizeof pass, "%s/passes/normal_0003.exr", out);
    CHECK_MSG(rm_fetch_job(c, job, out, false, &fs, &err) == 0, "%s", err.msg);
    CHECK_MSG(fs.frames_done == 2 && fs.files == 3 && fs.fetched == 3 && fs.present == 0 &&
                  fs.not_done == 1 && fs.bytes == png_len + 2 * 1000,
              "%u %u %u %u", fs.frames_done, fs.files, fs.fetched, fs.present);
    size_t len = 0;
    uint8_t *data = read_file(got, &len);
    CHECK(data && len == png_len && memcmp(data, png, len) == 0);
    free(data);
    data = read_file(pass, &len);
    CHECK(data && len == 1000 && data[0] == 'n');
    free(data);
    /* again: idempotent */
    CHECK(rm_fetch_job(c, job, out, false, &fs, &err) == 0);
    CHECK(fs.fetched == 0 && fs.present == 3);

    /* a different file in the way: refused before anything is written, named */
    FILE *f = fopen(got, "r+b");
    if (f) {
        fputc('X', f);
        fclose(f);
    }
    CHECK(unlink(pass) == 0);
    CHECK(rm_fetch_job(c, job, out, false, &fs, &err) == -1 && err.code == RM_EINVAL);
    CHECK_MSG(strstr(err.msg, "frame_0001.png") && strstr(err.msg, job) &&
                  strstr(err.msg, "--overwrite") && strstr(err.msg, "--job-dir"),
              "%s", err.msg);
    CHECK(access(pass, F_OK) != 0); /* nothing written */
    CHECK(rm_fetch_job(c, job, out, true, &fs, &err) == 0);
    CHECK(fs.fetched == 2 && fs.replaced == 1 && fs.present == 1);
    data = read_file(got, &len);
    CHECK(data && len == png_len && memcmp(data, png, len) == 0);
    free(data);

    /* a symlink in the way is never written through, even with overwrite */
    snprintf(link, sizeof link, "%s/passes", out);
    char cmd[1600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && ln -s /tmp '%s'", link, link);
    CHECK(system(cmd) == 0);
    CHECK(rm_fetch_job(c, job, out, true, &fs, &err) == -1);
    CHECK_MSG(strstr(err.msg, "passes") && strstr(err.msg, "symlink"), "%s", err.msg);
    CHECK(unlink(link) == 0);
    CHECK(unlink(got) == 0 && symlink("/tmp/nonexistent-target", got) == 0);
    CHECK(rm_fetch_job(c, job, out, true, &fs, &err) == -1);
    CHECK_MSG(strstr(err.msg, "frame_0001.png") && strstr(err.msg, "symlink"), "%s", err.msg);

    /* wait --strict: frame 3 has a warning */
    rm_job_summary_t done = {.job_id = (char *)job, .state = "done"};
    CHECK(rm_cmd_strict(c, job, &done, true) == RM_EXIT_WARNINGS);
    done.state = "failed"; /* a failed job keeps its own exit code */
    CHECK(rm_cmd_strict(c, job, &done, true) == RM_EXIT_OK);
}

static void test_conversation(const keys_t *k, const char *tmp)
{
    char store_dir[600], frame[600], addr[64];
    rm_err_t err;
    fake_t fk;
    snprintf(store_dir, sizeof store_dir, "%s/node-store", tmp);
    snprintf(frame, sizeof frame, "%s/rendered.png", tmp);
    rm_store_t *store = rm_store_new(store_dir, &err);
    uint8_t *png = malloc(700000);
    fill_random(png, 700000, 99);
    write_file(frame, png, 700000);
    zactor_t *actor = fake_start(&fk, k, FAKE_NODE, store);
    uint64_t size = 0;
    CHECK(store && rm_manifest_store_file(store, frame, "frame_0001.png", &fk.frame_output, &size,
                                          &err) == 0);
    /* frame 3: a multilayer image and a pass of a File Output node */
    char multi[600], exr[700], normal[700];
    snprintf(multi, sizeof multi, "%s/out3", tmp);
    snprintf(exr, sizeof exr, "%s/frame_0003.exr", multi);
    snprintf(normal, sizeof normal, "%s/passes/normal_0003.exr", multi);
    CHECK(mkdir(multi, 0700) == 0);
    static uint8_t e[1000], n[1000];
    memset(e, 'e', sizeof e);
    memset(n, 'n', sizeof n);
    write_file(exr, e, sizeof e);
    snprintf(normal, sizeof normal, "%s/passes", multi);
    CHECK(mkdir(normal, 0700) == 0);
    snprintf(normal, sizeof normal, "%s/passes/normal_0003.exr", multi);
    write_file(normal, n, sizeof n);
    const char *files3[] = {exr, normal};
    rm_manifest_t m3;
    CHECK(rm_manifest_build(multi, files3, 2, store, NULL, NULL, &m3, &err) == 0 &&
          rm_manifest_store(&m3, store, NULL, NULL, &fk.multi_output, &err) == 0);
    rm_manifest_free(&m3);
    fake_addr(&fk, addr, sizeof addr);
    rm_client_t *c = rm_client_new(addr, &k->client, 2000, &err);
    CHECK_MSG(c != NULL, "%s", err.msg);
    if (c && store) {
        test_submit(c, &fk, store, tmp);
        test_fetch(c, png, 700000, tmp);
    }
    rm_client_destroy(&c);
    zactor_destroy(&actor);
    rm_store_destroy(&store);
    free(png);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    zsys_handler_set(NULL);
    CHECK(sodium_init() >= 0);
    char tmp[] = "/tmp/test_rm_client.XXXXXX";
    CHECK(mkdtemp(tmp) != NULL);
    keys_t keys;
    make_keys(&keys);

    RM_RUN(test_args);
    RM_RUN(test_args_options_after_positionals);
    RM_RUN(test_args_eq_and_space_forms);
    RM_RUN(test_args_repeated_attach_in_order);
    RM_RUN(test_args_unknown_option_refused_with_its_name);
    RM_RUN(test_args_missing_value_refused);
    RM_RUN(test_args_double_dash_ends_options);
    RM_RUN(test_command_index_skips_global_values);
    test_config(tmp);
    RM_RUN(test_values);
    RM_RUN(test_exit_and_text);
    RM_RUN(test_fetch_names);
    test_json(tmp);
    test_submit_parse(tmp);
    test_project(tmp);
    test_project_edits(tmp);
    test_unreachable(&keys);
    test_door(&keys);
    test_requests(&keys);
    test_conversation(&keys, tmp);

    free_keys(&keys);
    remove_tree(tmp);
    RM_TEST_DONE();
}
