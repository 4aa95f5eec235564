/*  rm_aws_config: where an S3 client's settings come from, found the way
    AWS's own SDKs and CLI find them, so that a studio changes nothing.

    Each setting is taken from the first of these that sets it:
      1. meshd.conf (rm_aws_overrides_t: s3_region, s3_endpoint, ...), the
         explicit configuration of this program, as a client's own
         configuration wins in the SDKs;
      2. the environment: AWS_REGION (then AWS_DEFAULT_REGION),
         AWS_ENDPOINT_URL_S3 (then AWS_ENDPOINT_URL), AWS_ACCESS_KEY_ID with
         AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), AWS_PROFILE;
      3. the shared files of profile AWS_PROFILE (else "default"):
         credentials from AWS_SHARED_CREDENTIALS_FILE (~/.aws/credentials),
         then from AWS_CONFIG_FILE (~/.aws/config, section "[profile NAME]",
         or "[default]"), which also gives region, endpoint_url and the
         nested "s3 =" settings endpoint_url and addressing_style, and
         max_attempts (AWS_MAX_ATTEMPTS before it);
      4. credentials only: the instance role, through IMDSv2 (rm_aws_imds,
         at AWS_EC2_METADATA_SERVICE_ENDPOINT or http://169.254.169.254),
         when none of the above gives keys.
    A profile named but found in neither file is an error naming the
    files, as the CLI's "The config profile (x) could not be found".

    Secrets stay in this struct: rm_aws_describe says where they came from
    without them, for logs. */
#ifndef RM_AWS_CONFIG_H
#define RM_AWS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "rm_error.h"

#define RM_AWS_IMDS_DEFAULT "http://169.254.169.254"

/*  Settings meshd.conf gives (NULL or "": not set). */
typedef struct {
    const char *region;
    const char *endpoint;
    const char *profile;
    const char *access_key_id;
    const char *secret_access_key_file; /* a 0600 file holding the secret, never the secret */
    const char *addressing_style;       /* "path" | "virtual" */
} rm_aws_overrides_t;

/*  The environment to read (getenv in meshd; a table in tests). */
typedef const char *(*rm_aws_getenv_fn)(void *arg, const char *name);

typedef enum {
    RM_AWS_CREDS_NONE,     /* none found: ask the instance role (rm_aws_imds) */
    RM_AWS_CREDS_CONFIG,   /* meshd.conf */
    RM_AWS_CREDS_ENV,      /* the environment */
    RM_AWS_CREDS_PROFILE,  /* the shared credentials or config file */
    RM_AWS_CREDS_INSTANCE, /* the instance role (filled in by rm_aws_imds) */
} rm_aws_creds_source_t;

typedef struct {
    char region[64];    /* "" when nothing sets it (the caller says which setting to use) */
    char endpoint[512]; /* "" = AWS: https://s3.REGION.amazonaws.com */
    bool path_style;    /* path-style addressing (default: with a custom endpoint) */
    char profile[128];  /* the profile read ("default" when none was named) */
    char imds[256];     /* the instance metadata service's address */
    int max_attempts;   /* AWS_MAX_ATTEMPTS, profile max_attempts; default 3 (standard mode) */
    char access_key_id[128];
    char secret_access_key[256];
    char session_token[4096];
    rm_aws_creds_source_t source;
    char source_file[1024]; /* the file the credentials came from */
} rm_aws_settings_t;

/*  Resolves every setting as above.  home: the user's home (for ~/.aws),
    NULL for none.  Errors: RM_EINVAL for a profile that is not found, a
    key id without its secret, an unreadable secret file or a bad
    addressing style, each named. */
int rm_aws_resolve(const rm_aws_overrides_t *overrides, rm_aws_getenv_fn getenv_fn, void *env_arg,
                   const char *home, rm_aws_settings_t *out, rm_err_t *err);

/*  "credentials from the environment, region eu-west-1, endpoint
    http://127.0.0.1:9000 (path-style)": no secret in it. */
void rm_aws_describe(const rm_aws_settings_t *settings, char *out, size_t size);

/*  Wipes the secrets. */
void rm_aws_settings_clear(rm_aws_settings_t *settings);

#endif
