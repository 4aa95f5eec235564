#include "rm_config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rm_ini.h"

void rm_config_init(rm_config_t *config)
{
    memset(config, 0, sizeof *config);
    snprintf(config->blender, sizeof config->blender, "blender");
    snprintf(config->role, sizeof config->role, "node");
    config->slots = 1;
    config->task_timeout = 3600;
    config->slot_idle_s = 10;
    config->max_attempts = 3;
    config->repair_after_s = 60;
    config->submit_wait_s = 30;
    config->max_project_gb = 50;
    config->sandbox = true;
    config->max_samples = 65536;
    config->max_resolution = 16384;
    config->artist_max_priority = 100;
    config->quota_jobs = 1000;
    config->quota_submits = 120;
    config->quota_stored_gb = 500;
    config->retain_days = 30;
    config->chunk_grace_minutes = 1440;
}

static int set_string(char *dst, size_t size, const char *key, const char *value, rm_err_t *err)
{
    if (strlen(value) >= size)
        return rm_err_set(err, RM_EINVAL, "%s: value too long (max %zu)", key, size - 1);
    snprintf(dst, size, "%s", value);
    return 0;
}

static int set_u64(uint64_t *dst, const char *key, const char *value, uint64_t min, uint64_t max,
                   rm_err_t *err)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(value, &end, 10);
    if (!*value || *end || errno || value[0] == '-' || v < min || v > max)
        return rm_err_set(err, RM_EINVAL, "%s: '%s' is not a number from %llu to %llu", key, value,
                          (unsigned long long)min, (unsigned long long)max);
    *dst = v;
    return 0;
}

static int set_bool(bool *dst, const char *key, const char *value, rm_err_t *err)
{
    if (strcmp(value, "true") != 0 && strcmp(value, "false") != 0)
        return rm_err_set(err, RM_EINVAL, "%s: '%s' is not true or false", key, value);
    *dst = strcmp(value, "true") == 0;
    return 0;
}

static int set_s3(rm_config_t *c, const char *key, const char *value, rm_err_t *err)
{
    if (strcmp(key, "s3_region") == 0)
        return set_string(c->s3_region, sizeof c->s3_region, key, value, err);
    if (strcmp(key, "s3_endpoint") == 0)
        return set_string(c->s3_endpoint, sizeof c->s3_endpoint, key, value, err);
    if (strcmp(key, "s3_profile") == 0)
        return set_string(c->s3_profile, sizeof c->s3_profile, key, value, err);
    if (strcmp(key, "s3_access_key_id") == 0)
        return set_string(c->s3_access_key_id, sizeof c->s3_access_key_id, key, value, err);
    if (strcmp(key, "s3_secret_access_key_file") == 0)
        return set_string(c->s3_secret_access_key_file, sizeof c->s3_secret_access_key_file, key,
                          value, err);
    if (strcmp(key, "s3_addressing_style") == 0) {
        if (strcmp(value, "path") != 0 && strcmp(value, "virtual") != 0 && value[0])
            return rm_err_set(err, RM_EINVAL, "s3_addressing_style must be path or virtual");
        return set_string(c->s3_addressing_style, sizeof c->s3_addressing_style, key, value, err);
    }
    if (strcmp(key, "s3_buckets") == 0)
        return set_string(c->s3_buckets, sizeof c->s3_buckets, key, value, err);
    if (strcmp(key, "s3_secret_access_key") == 0)
        return rm_err_set(err, RM_EINVAL,
                          "s3_secret_access_key: a secret is not written in meshd.conf; put it "
                          "in a 0600 file and name it with s3_secret_access_key_file");
    return rm_err_set(err, RM_EINVAL, "unknown setting '%s'", key);
}

int rm_config_set(rm_config_t *c, const char *key, const char *value, rm_err_t *err)
{
    if (strcmp(key, "name") == 0)
        return set_string(c->name, sizeof c->name, key, value, err);
    if (strcmp(key, "listen") == 0)
        return set_string(c->listen, sizeof c->listen, key, value, err);
    if (strcmp(key, "join") == 0)
        return set_string(c->join, sizeof c->join, key, value, err);
    if (strcmp(key, "blender") == 0)
        return set_string(c->blender, sizeof c->blender, key, value, err);
    if (strcmp(key, "role") == 0) {
        if (strcmp(value, "node") != 0 && strcmp(value, "stable") != 0)
            return rm_err_set(err, RM_EINVAL, "role: '%s' is not node or stable", value);
        return set_string(c->role, sizeof c->role, key, value, err);
    }
    if (strcmp(key, "slots") == 0)
        return set_u64(&c->slots, key, value, 1, 64, err);
    if (strcmp(key, "threads") == 0)
        return set_u64(&c->threads, key, value, 0, 1024, err);
    if (strcmp(key, "task_timeout") == 0)
        return set_u64(&c->task_timeout, key, value, 1, 7 * 86400, err);
    if (strcmp(key, "slot_idle_s") == 0)
        return set_u64(&c->slot_idle_s, key, value, 0, 7 * 86400, err);
    if (strcmp(key, "max_attempts") == 0)
        return set_u64(&c->max_attempts, key, value, 1, 100, err);
    if (strcmp(key, "max_project_gb") == 0)
        return set_u64(&c->max_project_gb, key, value, 1, 1u << 20, err);
    if (strcmp(key, "max_samples") == 0)
        return set_u64(&c->max_samples, key, value, 1, 1u << 24, err);
    if (strcmp(key, "max_resolution") == 0)
        return set_u64(&c->max_resolution, key, value, 4, 65536, err);
    if (strcmp(key, "artist_max_priority") == 0)
        return set_u64(&c->artist_max_priority, key, value, 0, 1000000, err);
    if (strcmp(key, "quota_jobs") == 0)
        return set_u64(&c->quota_jobs, key, value, 0, 1000000, err);
    if (strcmp(key, "quota_submits") == 0)
        return set_u64(&c->quota_submits, key, value, 0, 100000, err);
    if (strcmp(key, "quota_stored_gb") == 0)
        return set_u64(&c->quota_stored_gb, key, value, 0, 1u << 24, err);
    if (strcmp(key, "chunk_grace_minutes") == 0)
        return set_u64(&c->chunk_grace_minutes, key, value, 0, 525600, err);
    if (strcmp(key, "store_cap_mb") == 0)
        return set_u64(&c->store_cap_mb, key, value, 0, UINT64_C(1) << 30, err);
    if (strcmp(key, "repair_after_s") == 0)
        return set_u64(&c->repair_after_s, key, value, 0, 86400, err);
    if (strcmp(key, "submit_wait_s") == 0)
        return set_u64(&c->submit_wait_s, key, value, 1, 3600, err);
    if (strcmp(key, "upload_limit_mbps") == 0)
        return set_u64(&c->upload_limit_mbps, key, value, 0, 1000000, err);
    if (strcmp(key, "download_limit_mbps") == 0)
        return set_u64(&c->download_limit_mbps, key, value, 0, 1000000, err);
    if (strcmp(key, "retain_days") == 0)
        return set_u64(&c->retain_days, key, value, 0, 36500, err);
    if (strcmp(key, "allow_scripts") == 0)
        return set_bool(&c->allow_scripts, key, value, err);
    if (strcmp(key, "artists_private") == 0)
        return set_bool(&c->artists_private, key, value, err);
    if (strcmp(key, "sandbox") == 0)
        return set_bool(&c->sandbox, key, value, err);
    if (strcmp(key, "no_inbound") == 0)
        return set_bool(&c->no_inbound, key, value, err);
    if (strcmp(key, "advertise") == 0)
        return set_string(c->advertise, sizeof c->advertise, key, value, err);
    if (strncmp(key, "s3_", 3) == 0)
        return set_s3(c, key, value, err);
    return rm_err_set(err, RM_EINVAL, "unknown setting '%s'", key);
}

/*  What a parse of meshd.conf carries to each entry. */
typedef struct {
    rm_config_t *config;
    const char *const *set; /* keys the command line gave: they win */
    size_t nset;
    rm_err_t *err;
    bool failed;
} conf_parse_t;

static bool given_as_flag(const conf_parse_t *p, const char *key)
{
    for (size_t i = 0; i < p->nset; i++)
        if (strcmp(p->set[i], key) == 0)
            return true;
    return false;
}

/*  One "key = value" line: a "#" starts a comment anywhere on it, and one
    pair of double quotes around the value is taken off. */
static int on_conf_entry(void *arg, const char *section, const char *key, const char *raw)
{
    conf_parse_t *p = arg;
    p->failed = true;
    if (section[0]) {
        rm_err_set(p->err, RM_EINVAL, "meshd.conf has no sections ('[%s]')", section);
        return 0;
    }
    if (strchr(key, '#')) {
        rm_err_set(p->err, RM_EINVAL, "expected 'key = value'");
        return 0;
    }
    char value[4096];
    if (snprintf(value, sizeof value, "%s", raw) >= (int)sizeof value) {
        rm_err_set(p->err, RM_EINVAL, "the value of '%s' is too long (max %zu bytes)", key,
                   sizeof value - 1);
        return 0;
    }
    char *hash = strchr(value, '#');
    if (hash)
        *hash = '\0';
    size_t n = strlen(value);
    while (n > 0 && isspace((unsigned char)value[n - 1]))
        value[--n] = '\0';
    char *v = value;
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
        v[n - 1] = '\0';
        v++;
    }
    if (!given_as_flag(p, key) && rm_config_set(p->config, key, v, p->err) != 0)
        return 0;
    p->failed = false;
    return 1;
}

int rm_config_load(rm_config_t *config, const char *path, const char *const *set, size_t nset,
                   rm_err_t *err)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT)
            return 0;
        return rm_err_set(err, rm_err_from_errno(errno), "cannot read %s: %s", path,
                          strerror(errno));
    }
    conf_parse_t p = {.config = config, .set = set, .nset = nset, .err = err};
    int line = rm_ini_parse_file(f, false, on_conf_entry, &p);
    fclose(f);
    if (line < 0)
        return rm_err_set(err, RM_ENOMEM, "out of memory reading %s", path);
    if (line == 0)
        return 0;
    if (!p.failed) /* inih refused the line before any entry */
        rm_err_set(err, RM_EINVAL, "expected 'key = value'");
    return rm_err_prefix(err, "%s:%d: ", path, line);
}
