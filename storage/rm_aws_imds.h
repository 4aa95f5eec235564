/*  rm_aws_imds: an EC2 instance role's credentials through IMDSv2, as the
    SDKs get them: PUT /latest/api/token (a session token, 6 h), then
    GET /latest/meta-data/iam/security-credentials/ (the role's name) and
    .../ROLE (AccessKeyId, SecretAccessKey, Token, Expiration), each with
    the token in X-aws-ec2-metadata-token.  The address is settings->imds
    (AWS_EC2_METADATA_SERVICE_ENDPOINT, else http://169.254.169.254).  The
    credentials are temporary: rm_s3 asks again RM_AWS_IMDS_REFRESH_S
    before they expire. */
#ifndef RM_AWS_IMDS_H
#define RM_AWS_IMDS_H

#include <stdint.h>

#include "rm_aws_config.h"
#include "rm_error.h"

#define RM_AWS_IMDS_REFRESH_S 300
#define RM_AWS_IMDS_TIMEOUT_MS 2000 /* the SDKs' 1 s per try, 2 tries */

/*  Fills settings' keys, token and expiry (unix seconds) from the
    instance role; also the region, from the instance's placement, when
    settings has none.  RM_EUNREACH when no metadata service answers (not
    on EC2), RM_EAUTH when the instance has no role. */
int rm_aws_imds_fetch(rm_aws_settings_t *settings, int64_t *expires, rm_err_t *err);

/*  True when credentials that expire at `expires` should be fetched again
    at `now` (0: they never expire). */
bool rm_aws_imds_stale(int64_t expires, int64_t now);

#endif
