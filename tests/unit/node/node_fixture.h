/*  What the tests of node modules that need a mesh share: a mesh (its
    signing key), nodes started in this process (rm_node_new, each with its
    own home under one temp folder and its own ports), a member run by the
    test itself (rm_member, no inbound connections, as test_rm_member.c),
    and a one-file project whose chunks are put in a node's store before it
    starts.  Include it after rm_test.h. */
#ifndef NODE_FIXTURE_H
#define NODE_FIXTURE_H

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>

#include "rm_manifest.h"
#include "rm_member.h"
#include "rm_node.h"
#include "rm_spec_sig.h"
#include "rm_store.h"

#define NF_UNUSED __attribute__((unused))

typedef struct {
    char dir[64]; /* every node's home is below it */
    uint8_t pk[32];
    uint8_t sk[64];
} nf_mesh_t;

NF_UNUSED static bool nf_mesh_init(nf_mesh_t *mesh, const char *tag)
{
    memset(mesh, 0, sizeof *mesh);
    if (sodium_init() < 0)
        return false;
    snprintf(mesh->dir, sizeof mesh->dir, "/tmp/rm-test-%s.XXXXXX", tag);
    if (!mkdtemp(mesh->dir))
        return false;
    crypto_sign_keypair(mesh->pk, mesh->sk);
    return true;
}

NF_UNUSED static void nf_mesh_remove(nf_mesh_t *mesh)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", mesh->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", mesh->dir);
}

/*  Makes `spec` what a node takes from a submitter: signed by an artist
    credential of this mesh ("fixture-artist"), which goes with it
    (rm_spec_sig.h).  Sign after the last change to the spec. */
NF_UNUSED static bool nf_sign_spec(const nf_mesh_t *mesh, rm_job_spec_t *spec)
{
    rm_token_t token;
    rm_err_t err;
    if (rm_token_issue(mesh->sk, RM_ROLE_ARTIST, "fixture-artist", 86400, &token, &err) != 0)
        return false;
    free(spec->submitter);
    free(spec->submitter_role);
    free(spec->client_cred.data);
    spec->submitter = strdup("fixture-artist");
    spec->submitter_role = strdup(RM_ROLE_ARTIST);
    spec->client_cred = token.credential;
    token.credential = (rm_bin_t){0};
    bool ok = spec->submitter && spec->submitter_role &&
              rm_spec_sign(spec, token.sign_sk.data, &err) == 0 &&
              rm_spec_verify(spec, mesh->pk, &err) == 0;
    if (!ok)
        fprintf(stderr, "nf_sign_spec: %s\n", err.msg);
    rm_token_free(&token);
    return ok;
}

/*  tools/fake_blender.py of this source tree. */
NF_UNUSED static void nf_fake_blender(char *buf, size_t size)
{
    const char *src = getenv("RM_SOURCE_DIR");
    if (src) {
        snprintf(buf, size, "%s/tools/fake_blender.py", src);
        return;
    }
    snprintf(buf, size, "%s", __FILE__); /* SRC/tests/unit/node/node_fixture.h */
    char *cut = strstr(buf, "/tests/unit/");
    if (cut)
        snprintf(cut, size - (size_t)(cut - buf), "/tools/fake_blender.py");
}

/*  The project of every test job: scene.blend (Blender's magic, so the
    fake renders it), stored in the chunk store at `store_root`; its
    manifest's hash in *hash.  A node's store is HOME/chunks. */
NF_UNUSED static bool nf_put_project(const char *store_root, const char *scratch, rm_hash_t *hash)
{
    rm_err_t err;
    rm_store_t *store = rm_store_new(store_root, &err);
    if (!store) {
        fprintf(stderr, "store %s: %s\n", store_root, err.msg);
        return false;
    }
    char root[512], path[600];
    snprintf(root, sizeof root, "%s/project-src", scratch);
    mkdir(root, 0700);
    snprintf(path, sizeof path, "%s/scene.blend", root);
    FILE *f = fopen(path, "wb");
    if (f) {
        fputs("BLENDER-v300 fake scene", f);
        fclose(f);
    }
    const char *names[] = {path};
    rm_manifest_t manifest = {0};
    bool ok = rm_manifest_build(root, names, 1, store, NULL, NULL, &manifest, &err) == 0 &&
              rm_manifest_store(&manifest, store, NULL, NULL, hash, &err) == 0;
    if (!ok)
        fprintf(stderr, "project: %s\n", err.msg);
    rm_manifest_free(&manifest);
    rm_store_destroy(&store);
    return ok;
}

/*  A node token for `name`, issued by the mesh. */
NF_UNUSED static bool nf_token(const nf_mesh_t *mesh, const char *name, rm_token_t *token)
{
    rm_err_t err;
    if (rm_token_issue(mesh->sk, RM_ROLE_NODE, name, 86400, token, &err) != 0) {
        fprintf(stderr, "token: %s\n", err.msg);
        return false;
    }
    return true;
}

/*  The config of node `name`: home MESH/name (made, with the token saved
    in it), listening on 127.0.0.1:port (port+1 its door), Blender
    `blender`.  The caller may change it before nf_node_start. */
NF_UNUSED static bool nf_node_config(const nf_mesh_t *mesh, const char *name, int port,
                                     const char *blender, rm_config_t *config)
{
    rm_config_init(config);
    snprintf(config->home, sizeof config->home, "%s/%s", mesh->dir, name);
    mkdir(config->home, 0700);
    snprintf(config->name, sizeof config->name, "%s", name);
    snprintf(config->token, sizeof config->token, "%s/%s/node.token", mesh->dir, name);
    snprintf(config->listen, sizeof config->listen, "tcp://127.0.0.1:%d", port);
    snprintf(config->blender, sizeof config->blender, "%s", blender);
    rm_token_t token;
    rm_err_t err;
    if (!nf_token(mesh, name, &token))
        return false;
    int rc = rm_token_save(config->token, &token, &err);
    rm_token_free(&token);
    if (rc != 0)
        fprintf(stderr, "token: %s\n", err.msg);
    return rc == 0;
}

NF_UNUSED static rm_node_t *nf_node_start(const rm_config_t *config)
{
    rm_err_t err;
    rm_node_t *node = rm_node_new(config, &err);
    if (!node)
        fprintf(stderr, "node %s: %s\n", config->name, err.msg);
    return node;
}

/*  Node `config` in a child process, for a second node (libzmq allows one
    ZAP handler per process): call it before this process starts czmq
    (zsys_init).  The child logs to MESH/NAME.log (its home's parent) and
    runs until nf_node_stop or its parent's end.  The child's pid, or -1. */
NF_UNUSED static pid_t nf_node_fork(const rm_config_t *config)
{
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    char path[1100];
    snprintf(path, sizeof path, "%s.log", config->home);
    FILE *log = fopen(path, "w");
    zsys_init();
    if (log)
        zsys_set_logstream(log);
    rm_node_t *node = nf_node_start(config);
    /* Idles until told to stop (SIGTERM sets zsys_interrupted). */
    while (node && !zsys_interrupted && getppid() == parent)
        zclock_sleep(50);
    rm_node_destroy(&node);
    if (log)
        fflush(log);
    _exit(0);
}

/*  Stops a node started by nf_node_fork: 0 once it exited by itself. */
NF_UNUSED static int nf_node_stop(pid_t pid)
{
    int status = 0;
    if (pid <= 0 || kill(pid, SIGTERM) != 0 || waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? 0 : -1;
}

/*  A member run by the test, named `name` (no inbound connections: it only
    connects out, "nat:NAME" as rm_node names it), its links read on loop.
    *token must outlive it. */
NF_UNUSED static rm_member_t *nf_member_new(const nf_mesh_t *mesh, const char *name,
                                            rm_token_t *token, rm_loop_t *loop)
{
    if (!nf_token(mesh, name, token))
        return NULL;
    rm_config_t mine;
    rm_config_init(&mine);
    mine.no_inbound = true;
    char addr[300];
    snprintf(addr, sizeof addr, "nat:%s", name);
    rm_err_t err;
    rm_member_t *member = rm_member_new(&mine, token, name, addr, NULL, loop, &err);
    if (!member)
        fprintf(stderr, "member %s: %s\n", name, err.msg);
    return member;
}

/*  True once `member` sees `name` alive. */
NF_UNUSED static bool nf_sees_alive(rm_member_t *member, const char *name)
{
    const char *state = rm_member_state_of(member, name);
    return state && strcmp(state, "alive") == 0;
}

#endif
