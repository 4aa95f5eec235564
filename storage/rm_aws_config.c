/*  The shared files are INI (rm_ini, libinih), with one
    nesting AWS adds: a key with an empty value ("s3 =") followed by
    indented "key = value" lines, which inih hands over as continuation
    lines of that key. */
#include "rm_aws_config.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_cred.h"
#include "rm_ini.h"

#define SECRET_FILE_MAX 1024

/*  What one profile of one file says. */
typedef struct {
    const char *want; /* the section to read: "bob" or "profile bob" (config) */
    const char *alt;  /* "" or "default" for the config file's [default] */
    bool found;
    char access_key_id[128];
    char secret_access_key[256];
    char session_token[4096];
    char region[64];
    char endpoint[512];
    char s3_endpoint[512];
    char addressing_style[16];
    char max_attempts[16];
} profile_t;

static void copy(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src ? src : "");
}

static bool set(const char *s)
{
    return s && *s;
}

/*  "key = value" of a nested line, trimmed. */
static bool split_nested(const char *line, char *key, size_t ksize, char *value, size_t vsize)
{
    const char *eq = strchr(line, '=');
    if (!eq)
        return false;
    size_t klen = (size_t)(eq - line);
    while (klen > 0 && (line[klen - 1] == ' ' || line[klen - 1] == '\t'))
        klen--;
    const char *v = eq + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    snprintf(key, ksize, "%.*s", (int)klen, line);
    copy(value, vsize, v);
    size_t vlen = strlen(value);
    while (vlen > 0 && (value[vlen - 1] == ' ' || value[vlen - 1] == '\t'))
        value[--vlen] = '\0';
    return true;
}

static int on_profile_entry(void *arg, const char *section, const char *name, const char *value)
{
    profile_t *p = arg;
    if (strcmp(section, p->want) != 0 && !(set(p->alt) && strcmp(section, p->alt) == 0))
        return 1;
    p->found = true;
    if (strcmp(name, "aws_access_key_id") == 0)
        copy(p->access_key_id, sizeof p->access_key_id, value);
    else if (strcmp(name, "aws_secret_access_key") == 0)
        copy(p->secret_access_key, sizeof p->secret_access_key, value);
    else if (strcmp(name, "aws_session_token") == 0)
        copy(p->session_token, sizeof p->session_token, value);
    else if (strcmp(name, "region") == 0)
        copy(p->region, sizeof p->region, value);
    else if (strcmp(name, "endpoint_url") == 0)
        copy(p->endpoint, sizeof p->endpoint, value);
    else if (strcmp(name, "max_attempts") == 0)
        copy(p->max_attempts, sizeof p->max_attempts, value);
    else if (strcmp(name, "s3") == 0 && set(value)) {
        char key[64], v[512];
        if (split_nested(value, key, sizeof key, v, sizeof v)) {
            if (strcmp(key, "endpoint_url") == 0)
                copy(p->s3_endpoint, sizeof p->s3_endpoint, v);
            else if (strcmp(key, "addressing_style") == 0)
                copy(p->addressing_style, sizeof p->addressing_style, v);
        }
    }
    return 1;
}

/*  Reads the profile from path; a missing file reads as nothing. */
static int read_profile(const char *path, profile_t *p, rm_err_t *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    int line = rm_ini_parse_file(f, true, on_profile_entry, p);
    fclose(f);
    if (line != 0)
        return rm_err_set(err, RM_EINVAL, "%s: cannot parse line %d", path, line);
    return 0;
}

static const char *env(rm_aws_getenv_fn fn, void *arg, const char *name)
{
    const char *v = fn ? fn(arg, name) : NULL;
    return v && *v ? v : NULL;
}

static const char *first(const char *a, const char *b, const char *c)
{
    return set(a) ? a : set(b) ? b : set(c) ? c : "";
}

/*  The shared files' paths: the environment's, else under home. */
static void shared_paths(rm_aws_getenv_fn fn, void *arg, const char *home, char *creds,
                         size_t csize, char *config, size_t fsize)
{
    const char *c = env(fn, arg, "AWS_SHARED_CREDENTIALS_FILE");
    const char *f = env(fn, arg, "AWS_CONFIG_FILE");
    snprintf(creds, csize, "%s", c ? c : "");
    snprintf(config, fsize, "%s", f ? f : "");
    if (!c && home)
        snprintf(creds, csize, "%s/.aws/credentials", home);
    if (!f && home)
        snprintf(config, fsize, "%s/.aws/config", home);
}

static int read_secret_file(const char *path, char *out, size_t size, rm_err_t *err)
{
    uint8_t *data = NULL;
    size_t len = 0;
    if (rm_secret_read(path, &data, &len, SECRET_FILE_MAX, err) != 0)
        return rm_err_prefix(err, "s3_secret_access_key_file: ");
    while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r' || data[len - 1] == ' '))
        len--;
    int rc = 0;
    if (len == 0 || len >= size)
        rc = rm_err_set(err, RM_EINVAL, "s3_secret_access_key_file %s: %s", path,
                        len == 0 ? "empty" : "too long for a secret access key");
    else
        snprintf(out, size, "%.*s", (int)len, (const char *)data);
    sodium_memzero(data, len);
    free(data);
    return rc;
}

/*  Where the settings are read from: the environment, the shared files. */
typedef struct {
    rm_aws_getenv_fn getenv_fn;
    void *env_arg;
    char creds_path[1024], config_path[1024];
    char config_section[160]; /* "profile NAME" */
    profile_t from_creds, from_config;
} sources_t;

/*  The profile named by meshd.conf or AWS_PROFILE (else "default") from
    both shared files; naming one that neither holds is an error. */
static int read_profiles(const rm_aws_overrides_t *o, const char *home, sources_t *src,
                         rm_aws_settings_t *out, rm_err_t *err)
{
    const char *named =
        set(o->profile) ? o->profile : env(src->getenv_fn, src->env_arg, "AWS_PROFILE");
    copy(out->profile, sizeof out->profile, named ? named : "default");
    shared_paths(src->getenv_fn, src->env_arg, home, src->creds_path, sizeof src->creds_path,
                 src->config_path, sizeof src->config_path);
    src->from_creds = (profile_t){.want = out->profile, .alt = ""};
    snprintf(src->config_section, sizeof src->config_section, "profile %s", out->profile);
    /* The config file names profiles "[profile x]", but "[default]" as is. */
    src->from_config = (profile_t){.want = src->config_section,
                                   .alt = strcmp(out->profile, "default") == 0 ? "default" : ""};
    if ((set(src->creds_path) && read_profile(src->creds_path, &src->from_creds, err) != 0) ||
        (set(src->config_path) && read_profile(src->config_path, &src->from_config, err) != 0))
        return -1;
    if (named && !src->from_creds.found && !src->from_config.found)
        return rm_err_set(err, RM_EINVAL,
                          "the AWS profile '%s' is found in neither %s nor %s (AWS_PROFILE or "
                          "s3_profile in meshd.conf)",
                          out->profile,
                          set(src->creds_path) ? src->creds_path : "(no credentials file)",
                          set(src->config_path) ? src->config_path : "(no config file)");
    return 0;
}

/*  Where S3 is and how to talk to it: region, endpoint, addressing style,
    attempts, the metadata service. */
static int resolve_service(const rm_aws_overrides_t *o, const sources_t *src,
                           rm_aws_settings_t *out, rm_err_t *err)
{
    rm_aws_getenv_fn getenv_fn = src->getenv_fn;
    void *env_arg = src->env_arg;
    const profile_t *cfg = &src->from_config;
    copy(out->region, sizeof out->region,
         first(o->region, env(getenv_fn, env_arg, "AWS_REGION"),
               first(env(getenv_fn, env_arg, "AWS_DEFAULT_REGION"), cfg->region, NULL)));
    copy(
        out->endpoint, sizeof out->endpoint,
        first(o->endpoint, env(getenv_fn, env_arg, "AWS_ENDPOINT_URL_S3"),
              first(env(getenv_fn, env_arg, "AWS_ENDPOINT_URL"), cfg->s3_endpoint, cfg->endpoint)));
    const char *style = first(o->addressing_style, cfg->addressing_style, NULL);
    if (set(style) && strcmp(style, "path") != 0 && strcmp(style, "virtual") != 0 &&
        strcmp(style, "auto") != 0)
        return rm_err_set(err, RM_EINVAL,
                          "addressing style '%s' is not path, virtual or auto (s3 "
                          "addressing_style of profile %s, or s3_addressing_style in meshd.conf)",
                          style, out->profile);
    /* auto: virtual-hosted on AWS, path-style on other endpoints (MinIO,
       Ceph and moto rarely have wildcard DNS for buckets). */
    out->path_style =
        strcmp(style, "path") == 0 || (strcmp(style, "virtual") != 0 && set(out->endpoint));
    const char *attempts =
        first(env(getenv_fn, env_arg, "AWS_MAX_ATTEMPTS"), cfg->max_attempts, "3");
    char *end;
    long n = strtol(attempts, &end, 10);
    if (*end != '\0' || n < 1 || n > 20)
        return rm_err_set(err, RM_EINVAL,
                          "max attempts '%s' is not a number from 1 to 20 (AWS_MAX_ATTEMPTS, or "
                          "max_attempts of profile %s)",
                          attempts, out->profile);
    out->max_attempts = (int)n;
    copy(out->imds, sizeof out->imds,
         first(env(getenv_fn, env_arg, "AWS_EC2_METADATA_SERVICE_ENDPOINT"), RM_AWS_IMDS_DEFAULT,
               NULL));
    return 0;
}

/*  The credential chain, first found wins: meshd.conf's key id and secret
    file, the environment, the profile's keys; none: the instance role
    (source stays RM_AWS_CREDS_NONE, rm_aws_imds fetches them). */
static int resolve_credentials(const rm_aws_overrides_t *o, const sources_t *src,
                               rm_aws_settings_t *out, rm_err_t *err)
{
    const char *env_id = env(src->getenv_fn, src->env_arg, "AWS_ACCESS_KEY_ID");
    const char *env_secret = env(src->getenv_fn, src->env_arg, "AWS_SECRET_ACCESS_KEY");
    if (set(o->access_key_id)) {
        if (!set(o->secret_access_key_file))
            return rm_err_set(err, RM_EINVAL,
                              "s3_access_key_id is set in meshd.conf without "
                              "s3_secret_access_key_file");
        copy(out->access_key_id, sizeof out->access_key_id, o->access_key_id);
        if (read_secret_file(o->secret_access_key_file, out->secret_access_key,
                             sizeof out->secret_access_key, err) != 0)
            return -1;
        out->source = RM_AWS_CREDS_CONFIG;
        copy(out->source_file, sizeof out->source_file, o->secret_access_key_file);
        return 0;
    }
    if (env_id || env_secret) {
        if (!env_id || !env_secret)
            return rm_err_set(err, RM_EINVAL, "%s is set in the environment without %s",
                              env_id ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
                              env_id ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
        copy(out->access_key_id, sizeof out->access_key_id, env_id);
        copy(out->secret_access_key, sizeof out->secret_access_key, env_secret);
        copy(out->session_token, sizeof out->session_token,
             env(src->getenv_fn, src->env_arg, "AWS_SESSION_TOKEN"));
        out->source = RM_AWS_CREDS_ENV;
        return 0;
    }
    const profile_t *p = set(src->from_creds.access_key_id)    ? &src->from_creds
                         : set(src->from_config.access_key_id) ? &src->from_config
                                                               : NULL;
    if (!p)
        return 0;
    const char *file = p == &src->from_creds ? src->creds_path : src->config_path;
    if (!set(p->secret_access_key))
        return rm_err_set(err, RM_EINVAL,
                          "profile %s in %s has aws_access_key_id but no aws_secret_access_key",
                          out->profile, file);
    copy(out->access_key_id, sizeof out->access_key_id, p->access_key_id);
    copy(out->secret_access_key, sizeof out->secret_access_key, p->secret_access_key);
    copy(out->session_token, sizeof out->session_token, p->session_token);
    out->source = RM_AWS_CREDS_PROFILE;
    copy(out->source_file, sizeof out->source_file, file);
    return 0;
}

int rm_aws_resolve(const rm_aws_overrides_t *overrides, rm_aws_getenv_fn getenv_fn, void *env_arg,
                   const char *home, rm_aws_settings_t *out, rm_err_t *err)
{
    static const rm_aws_overrides_t none;
    const rm_aws_overrides_t *o = overrides ? overrides : &none;
    memset(out, 0, sizeof *out);
    sources_t *src = calloc(1, sizeof *src);
    if (!src)
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    src->getenv_fn = getenv_fn;
    src->env_arg = env_arg;
    int rc = read_profiles(o, home, src, out, err);
    if (rc == 0)
        rc = resolve_service(o, src, out, err);
    if (rc == 0)
        rc = resolve_credentials(o, src, out, err);
    sodium_memzero(src, sizeof *src); /* the profiles' secrets */
    free(src);
    if (rc != 0)
        rm_aws_settings_clear(out);
    return rc;
}

void rm_aws_describe(const rm_aws_settings_t *s, char *out, size_t size)
{
    char from[1400];
    switch (s->source) {
    case RM_AWS_CREDS_CONFIG:
        snprintf(from, sizeof from, "credentials from meshd.conf (key id %s, secret in %s)",
                 s->access_key_id, s->source_file);
        break;
    case RM_AWS_CREDS_ENV:
        snprintf(from, sizeof from, "credentials from the environment (key id %s)",
                 s->access_key_id);
        break;
    case RM_AWS_CREDS_PROFILE:
        snprintf(from, sizeof from, "credentials of profile %s from %s (key id %s)", s->profile,
                 s->source_file, s->access_key_id);
        break;
    case RM_AWS_CREDS_INSTANCE:
        snprintf(from, sizeof from, "credentials of the instance role (key id %s)",
                 s->access_key_id);
        break;
    default:
        snprintf(from, sizeof from, "credentials from the instance role at %s", s->imds);
    }
    snprintf(out, size, "%s, region %s, endpoint %s (%s)", from,
             set(s->region) ? s->region : "(not set)", set(s->endpoint) ? s->endpoint : "AWS",
             s->path_style ? "path-style" : "virtual-hosted");
}

void rm_aws_settings_clear(rm_aws_settings_t *s)
{
    sodium_memzero(s->secret_access_key, sizeof s->secret_access_key);
    sodium_memzero(s->session_token, sizeof s->session_token);
}
