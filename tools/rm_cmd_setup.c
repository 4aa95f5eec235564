/*  meshctl init and meshctl invite: the mesh identity and credentials.

    `init` makes this machine the holder of a new mesh key (mesh.key, 0600,
    never leaves it) and gives it an admin credential; `init --token FILE`
    sets up a client from an invitation instead.  `invite` signs a new
    credential and writes the token (a secret: its CURVE secret key) to
    stdout, which must be redirected to a file or a pipe.  `revoke` signs a
    revocation of a name and hands it to a node, which passes it on. */
#include "rm_cmd.h"

#include <errno.h>
#include <pwd.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rm_fs.h"
#include "rm_json.h"
#include "rm_revoke.h"
#include "rm_rights.h"

#define CLIENT_LIFETIME_S (365 * 86400LL)
#define YEAR_S (365 * 86400LL)

static void home_path(const rm_cmd_ctx_t *ctx, const char *name, char *out, size_t size)
{
    snprintf(out, size, "%s/%s", ctx->cfg.home, name);
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static int check_name(const char *what, const char *name, rm_err_t *err)
{
    if (!*name || strlen(name) >= RM_MAX_NAME)
        return rm_err_set(err, RM_EINVAL, "%s must have 1 to %d characters", what, RM_MAX_NAME - 1);
    for (const char *p = name; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return rm_err_set(err, RM_EINVAL, "%s may not contain control characters", what);
    return 0;
}

static void default_client_name(char *out, size_t size)
{
    struct passwd *pw = getpwuid(getuid());
    const char *user = pw ? pw->pw_name : getenv("USER");
    char host[256] = "localhost";
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    snprintf(out, size, "%s@%s", user ? user : "user", host);
}

/*  Reports what init did. */
static void print_init(const rm_cmd_ctx_t *ctx, const char *client_name, const uint8_t mesh_pk[32],
                       bool created_mesh, bool wrote_config)
{
    char z85[41], token[1100], key[1100];
    rm_key_z85(mesh_pk, z85);
    home_path(ctx, "client.token", token, sizeof token);
    home_path(ctx, "mesh.key", key, sizeof key);
    if (ctx->json) {
        rm_json_t *j = rm_json_new(stdout);
        rm_json_object(j, NULL);
        rm_json_str(j, "home", ctx->cfg.home);
        rm_json_str(j, "mesh_public_key", z85);
        if (created_mesh)
            rm_json_str(j, "mesh_key", key);
        else
            rm_json_null(j, "mesh_key");
        rm_json_str(j, "client", client_name);
        rm_json_str(j, "token", token);
        if (wrote_config)
            rm_json_str(j, "mesh", ctx->cfg.mesh);
        else
            rm_json_null(j, "mesh");
        rm_json_destroy(&j);
        return;
    }
    if (created_mesh)
        printf("created a new mesh, public key %s\n"
               "  %s signs every credential of this mesh: keep it safe, keep it here\n",
               z85, key);
    else
        printf("joined mesh %s\n", z85);
    printf("credential '%s' saved in %s\n", client_name, token);
    if (wrote_config)
        printf("node address %s saved in %s/config\n", ctx->cfg.mesh, ctx->cfg.home);
    if (created_mesh)
        printf("next: meshctl invite --role node > node.token, then on a node:\n"
               "  meshd --home /var/lib/meshd --token node.token --listen tcp://0.0.0.0:7700\n");
}

static int init_mesh(const rm_cmd_ctx_t *ctx, const char *name, uint8_t mesh_pk[32])
{
    char token_path[1100], key_path[1100], pub_path[1100];
    uint8_t mesh_sk[64];
    rm_token_t token;
    rm_err_t err = {0};
    home_path(ctx, "client.token", token_path, sizeof token_path);
    home_path(ctx, "mesh.key", key_path, sizeof key_path);
    home_path(ctx, "mesh.pub", pub_path, sizeof pub_path);
    if (exists(key_path) || exists(token_path)) {
        rm_cli_error("%s already holds a mesh identity or a client credential; use another "
                     "--home, or remove it first",
                     ctx->cfg.home);
        return RM_EXIT_USAGE;
    }
    if (rm_mesh_key_create(ctx->cfg.home, mesh_pk, mesh_sk, &err) != 0)
        return rm_cmd_fail(&err, NULL);
    int rc = rm_token_issue(mesh_sk, RM_ROLE_ADMIN, name, CLIENT_LIFETIME_S, &token, &err);
    sodium_memzero(mesh_sk, sizeof mesh_sk);
    if (rc == 0) {
        rc = rm_token_save(token_path, &token, &err);
        rm_token_free(&token);
    }
    if (rc != 0) {
        unlink(key_path); /* no half-made identity: init can be run again */
        unlink(pub_path);
        return rm_cmd_fail(&err, NULL);
    }
    return RM_EXIT_OK;
}

/*  Checks an invitation: a valid credential for a person (admin, artist,
    or client from before roles), of its own mesh. */
static int check_invitation(const char *file, const rm_token_t *token, char **name)
{
    rm_cred_t cred;
    rm_err_t err = {0};
    if (rm_cred_verify(token->credential.data, token->credential.len, token->mesh_pk.b,
                       (int64_t)time(NULL), &cred, &err) != 0) {
        rm_cli_error("%s: %s", file, err.msg);
        return RM_EXIT_USAGE;
    }
    int rc = RM_EXIT_OK;
    if (rm_role_has(cred.role, RM_RIGHT_MESH)) {
        rm_cli_error("%s is a node token (for meshd --token); a person needs an invitation made "
                     "with: meshctl invite --role artist (or admin) > client.token",
                     file);
        rc = RM_EXIT_USAGE;
    } else if (!(*name = strdup(cred.name))) {
        rc = RM_EXIT_FAILED;
    }
    rm_codec_free(&rm_cred_desc, &cred);
    return rc;
}

static int init_from_token(const rm_cmd_ctx_t *ctx, const char *file, uint8_t mesh_pk[32],
                           char **name)
{
    char token_path[1100];
    rm_token_t token;
    rm_err_t err = {0};
    home_path(ctx, "client.token", token_path, sizeof token_path);
    if (exists(token_path)) {
        rm_cli_error("%s already exists; remove it first to replace this client's credential",
                     token_path);
        return RM_EXIT_USAGE;
    }
    if (rm_token_load(file, &token, &err) != 0) {
        rm_cli_error("%s", err.msg);
        return RM_EXIT_USAGE;
    }
    int rc = check_invitation(file, &token, name);
    if (rc == RM_EXIT_OK && rm_token_save(token_path, &token, &err) != 0)
        rc = rm_cmd_fail(&err, NULL);
    memcpy(mesh_pk, token.mesh_pk.b, 32);
    rm_token_free(&token);
    return rc;
}

int rm_cmd_init(rm_cmd_ctx_t *ctx)
{
    const char *token_file = rm_args_get(ctx->args, "token");
    const char *name = rm_args_get(ctx->args, "name");
    const char *mesh = rm_args_get(ctx->args, "mesh");
    char defname[600];
    rm_endpoint_t ep;
    uint8_t mesh_pk[32];
    rm_err_t err = {0};
    if (token_file && name) {
        rm_cli_error("--name does not go with --token: the invitation already names this client");
        return RM_EXIT_USAGE;
    }
    if (!name)
        default_client_name(defname, sizeof defname);
    if ((!token_file && check_name("--name", name ? name : defname, &err) != 0) ||
        (mesh && rm_endpoint_parse(mesh, RM_ENDPOINT_CONNECT, &ep, &err) != 0) ||
        rm_cli_mkdir_home(ctx->cfg.home, &err) != 0)
        return rm_cmd_fail(&err, NULL);
    char *invited = NULL;
    int rc = token_file ? init_from_token(ctx, token_file, mesh_pk, &invited)
                        : init_mesh(ctx, name ? name : defname, mesh_pk);
    if (rc == RM_EXIT_OK && mesh && rm_cli_config_write(ctx->cfg.home, mesh, &err) != 0)
        rc = rm_cmd_fail(&err, NULL);
    if (rc == RM_EXIT_OK)
        print_init(ctx,
                   invited ? invited
                   : name  ? name
                           : defname,
                   mesh_pk, !token_file, mesh != NULL);
    free(invited);
    return rc;
}

/*  --- invite ------------------------------------------------------------- */

/*  Writes the token text to stdout: a terminal is refused, a regular
    file is made 0600 before the secret goes in. */
static int emit_token(const char *text)
{
    struct stat st;
    if (isatty(STDOUT_FILENO)) {
        rm_cli_error("refusing to print a secret token on a terminal; redirect it: "
                     "meshctl invite > node.token");
        return RM_EXIT_USAGE;
    }
    if (fstat(STDOUT_FILENO, &st) == 0 && S_ISREG(st.st_mode) && fchmod(STDOUT_FILENO, 0600) != 0) {
        rm_cli_error("cannot make the token file private (chmod 600): %s", strerror(errno));
        return RM_EXIT_FAILED;
    }
    if (rm_fs_write_all(STDOUT_FILENO, text, strlen(text)) != 0) {
        rm_cli_error("cannot write the token: %s", strerror(errno));
        return RM_EXIT_FAILED;
    }
    return RM_EXIT_OK;
}

static int invite_args(const rm_cmd_ctx_t *ctx, const char **role, int64_t *lifetime_s, char *name,
                       size_t size, rm_err_t *err)
{
    static const char *const roles[] = {RM_ROLE_NODE, RM_ROLE_WORKER, RM_ROLE_ARTIST, RM_ROLE_ADMIN,
                                        NULL};
    const char *r = rm_args_get(ctx->args, "role");
    const char *d = rm_args_get(ctx->args, "days");
    const char *e = rm_args_get(ctx->args, "expires");
    const char *n = rm_args_get(ctx->args, "name");
    uint64_t days = 0;
    *role = RM_ROLE_NODE;
    *lifetime_s = YEAR_S;
    if (r && strcmp(r, RM_ROLE_CLIENT) == 0)
        return rm_err_set(err, RM_EINVAL,
                          "--role client is gone: people are --role artist (submit, manage "
                          "their own jobs) or --role admin (everything)");
    if (d && e)
        return rm_err_set(err, RM_EINVAL, "--days and --expires say the same thing: give one");
    if ((r && rm_cli_parse_choice("--role", r, roles, role, err) != 0) ||
        (d && rm_cli_parse_u64("--days", d, 1, 3650, &days, err) != 0) ||
        (e && rm_cli_parse_duration("--expires", e, 60, 10 * YEAR_S, lifetime_s, err) != 0) ||
        (n && check_name("--name", n, err) != 0))
        return -1;
    if (d)
        *lifetime_s = (int64_t)days * 86400;
    uint8_t rnd[3];
    randombytes_buf(rnd, sizeof rnd);
    if (n)
        snprintf(name, size, "%s", n);
    else
        snprintf(name, size, "%s-%02x%02x%02x", *role, rnd[0], rnd[1], rnd[2]);
    return 0;
}

int rm_cmd_invite(rm_cmd_ctx_t *ctx)
{
    const char *role = NULL;
    int64_t lifetime_s = 0;
    char name[RM_MAX_NAME], date[32];
    uint8_t mesh_pk[32], mesh_sk[64];
    rm_token_t token;
    rm_err_t err = {0};
    if (invite_args(ctx, &role, &lifetime_s, name, sizeof name, &err) != 0)
        return rm_cmd_fail(&err, NULL);
    if (isatty(STDOUT_FILENO))
        return emit_token(""); /* refuses before touching the key */
    if (rm_mesh_key_load(ctx->cfg.home, mesh_pk, mesh_sk, &err) != 0) {
        rm_cli_error("%s\n  invitations are signed with the mesh key, on the machine that ran "
                     "meshctl init (see --home)",
                     err.msg);
        return RM_EXIT_NOREACH;
    }
    int rc = rm_token_issue(mesh_sk, role, name, lifetime_s, &token, &err);
    sodium_memzero(mesh_sk, sizeof mesh_sk);
    if (rc != 0)
        return rm_cmd_fail(&err, NULL);
    char *text = NULL;
    rc = rm_token_format(&token, &text, &err) == 0 ? emit_token(text) : rm_cmd_fail(&err, NULL);
    if (text) {
        sodium_memzero(text, strlen(text));
        free(text);
    }
    rm_token_free(&token);
    /* Lifetimes may be minutes: the time of day matters. */
    time_t until = time(NULL) + (time_t)lifetime_s;
    struct tm tm;
    if (!gmtime_r(&until, &tm) || strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", &tm) == 0)
        snprintf(date, sizeof date, "?");
    if (rc == RM_EXIT_OK)
        fprintf(stderr, "meshctl: issued a %s credential for '%s', valid until %s\n", role, name,
                date);
    return rc;
}

/*  --- revoke ------------------------------------------------------------- */

int rm_cmd_revoke(rm_cmd_ctx_t *ctx)
{
    const char *name = rm_args_pos(ctx->args, 0);
    uint8_t mesh_pk[32], mesh_sk[64];
    rm_bin_t signed_rev = {0};
    rm_err_t err = {0};
    if (check_name("NAME", name, &err) != 0) {
        rm_cli_error("%s", err.msg);
        return RM_EXIT_USAGE;
    }
    if (rm_mesh_key_load(ctx->cfg.home, mesh_pk, mesh_sk, &err) != 0) {
        rm_cli_error("%s\n  revocations are signed with the mesh key, on the machine that ran "
                     "meshctl init (see --home)",
                     err.msg);
        return RM_EXIT_NOREACH;
    }
    int64_t now = (int64_t)time(NULL);
    int rc = rm_revocation_sign(name, now, mesh_sk, &signed_rev, &err);
    sodium_memzero(mesh_sk, sizeof mesh_sk);
    if (rc != 0)
        return rm_cmd_fail(&err, NULL);
    rm_revoke_msg_t body = {.revocations = {.items = &signed_rev, .count = 1}};
    rm_client_t *client = NULL;
    rm_msg_t reply;
    rc = rm_cmd_connect(ctx, &client);
    if (rc == RM_EXIT_OK &&
        rm_client_call(client, RM_MSG_REVOKE, &body, RM_MSG_OK, 0, &reply, &err) != 0)
        rc = rm_cmd_fail(&err, client);
    rm_client_destroy(&client);
    free(signed_rev.data);
    if (rc != RM_EXIT_OK)
        return rc;
    char at[40];
    time_t t = (time_t)now;
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(at, sizeof at, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
        snprintf(at, sizeof at, "?");
    if (ctx->json) {
        rm_json_t *j = rm_json_new(stdout);
        rm_json_object(j, NULL);
        rm_json_str(j, "revoked", name);
        rm_json_i64(j, "revoked_at", now);
        rm_json_str(j, "message", reply.u.ok.message ? reply.u.ok.message : "");
        rm_json_destroy(&j);
    } else {
        printf("revoked '%s': every credential of that name issued up to %s is refused;\n"
               "  %s\n",
               name, at, reply.u.ok.message ? rm_cli_clean(reply.u.ok.message) : "");
    }
    rm_msg_free(&reply);
    return RM_EXIT_OK;
}
