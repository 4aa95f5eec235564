/*  rm_aws_config: settings found where AWS's SDKs and CLI find them, in
    their order; clear errors for what is wrong; no secret in the words. */
#include <sys/stat.h>

#include "rm_aws_config.h"
#include "rm_test.h"

static char home[] = "/tmp/rm-test-aws.XXXXXX";

/*  An environment: NAME=VALUE strings, NULL-terminated. */
static const char *table_env(void *arg, const char *name)
{
    size_t n = strlen(name);
    for (const char *const *e = arg; *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

static void write_file(const char *name, const char *text, mode_t mode)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", home, name);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    chmod(path, mode);
}

static void remove_files(void)
{
    char path[512];
    const char *names[] = {".aws/credentials", ".aws/config", "secret", "other-creds"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        snprintf(path, sizeof path, "%s/%s", home, names[i]);
        unlink(path);
    }
}

static void test_environment(void)
{
    remove_files();
    const char *env[] = {"AWS_ACCESS_KEY_ID=AKIAENV",
                         "AWS_SECRET_ACCESS_KEY=envsecret",
                         "AWS_SESSION_TOKEN=envtoken",
                         "AWS_DEFAULT_REGION=us-west-2",
                         "AWS_REGION=eu-west-1",
                         "AWS_ENDPOINT_URL=http://general:1",
                         "AWS_ENDPOINT_URL_S3=http://127.0.0.1:9000",
                         NULL};
    rm_aws_settings_t s;
    rm_err_t err = {0};
    CHECK_MSG(rm_aws_resolve(NULL, table_env, env, home, &s, &err) == 0, "%s", err.msg);
    CHECK(s.source == RM_AWS_CREDS_ENV && strcmp(s.access_key_id, "AKIAENV") == 0 &&
          strcmp(s.secret_access_key, "envsecret") == 0 &&
          strcmp(s.session_token, "envtoken") == 0);
    CHECK(strcmp(s.region, "eu-west-1") == 0);               /* AWS_REGION first */
    CHECK(strcmp(s.endpoint, "http://127.0.0.1:9000") == 0); /* the S3 one first */
    CHECK(s.path_style);                                     /* a custom endpoint */
    CHECK(strcmp(s.imds, RM_AWS_IMDS_DEFAULT) == 0 && strcmp(s.profile, "default") == 0);
    CHECK(s.max_attempts == 3);
    char words[2000];
    rm_aws_describe(&s, words, sizeof words);
    CHECK_MSG(strstr(words, "credentials from the environment (key id AKIAENV)") &&
                  strstr(words, "region eu-west-1") && !strstr(words, "envsecret") &&
                  !strstr(words, "envtoken"),
              "%s", words);
    rm_aws_settings_clear(&s);
    CHECK(s.secret_access_key[0] == '\0' && s.session_token[0] == '\0');

    const char *half[] = {"AWS_ACCESS_KEY_ID=AKIAENV", NULL};
    CHECK(rm_aws_resolve(NULL, table_env, half, home, &s, &err) == -1 && err.code == RM_EINVAL &&
          strstr(err.msg, "AWS_ACCESS_KEY_ID is set in the environment without "
                          "AWS_SECRET_ACCESS_KEY"));
}

static void test_profiles_from_shared_files(void)
{
    remove_files();
    write_file(".aws/credentials",
               "[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = defsecret\n"
               "[bob]\naws_access_key_id=AKIABOB\naws_secret_access_key=bobsecret\n"
               "aws_session_token = bobtoken\n",
               0600);
    write_file(".aws/config",
               "# comments are fine\n[default]\nregion = us-east-2\n"
               "[profile bob]\nregion = ap-south-1\nendpoint_url = http://general:2\n"
               "max_attempts = 5\n"
               "s3 =\n  endpoint_url = http://minio:9000\n  addressing_style = virtual\n"
               "[profile carol]\nregion = eu-north-1\naws_access_key_id = AKIACAROL\n"
               "aws_secret_access_key = carolsecret\n",
               0600);
    rm_aws_settings_t s;
    rm_err_t err = {0};
    const char *plain[] = {NULL};
    CHECK_MSG(rm_aws_resolve(NULL, table_env, plain, home, &s, &err) == 0, "%s", err.msg);
    CHECK(s.source == RM_AWS_CREDS_PROFILE && strcmp(s.access_key_id, "AKIADEFAULT") == 0 &&
          strcmp(s.region, "us-east-2") == 0 && s.endpoint[0] == '\0' && !s.path_style);
    CHECK(strstr(s.source_file, ".aws/credentials") != NULL);

    const char *bob[] = {"AWS_PROFILE=bob", NULL};
    CHECK_MSG(rm_aws_resolve(NULL, table_env, bob, home, &s, &err) == 0, "%s", err.msg);
    CHECK(strcmp(s.access_key_id, "AKIABOB") == 0 && strcmp(s.session_token, "bobtoken") == 0);
    CHECK(strcmp(s.region, "ap-south-1") == 0);
    CHECK_MSG(strcmp(s.endpoint, "http://minio:9000") == 0, "%s", s.endpoint); /* s3's own */
    CHECK(!s.path_style); /* addressing_style = virtual */
    CHECK(s.max_attempts == 5);

    /* Keys in the config file (no credentials file entry). */
    const char *carol[] = {"AWS_PROFILE=carol", NULL};
    CHECK_MSG(rm_aws_resolve(NULL, table_env, carol, home, &s, &err) == 0, "%s", err.msg);
    CHECK(strcmp(s.access_key_id, "AKIACAROL") == 0 && strcmp(s.region, "eu-north-1") == 0 &&
          strstr(s.source_file, ".aws/config"));

    /* The environment's keys win over the profile's; meshd.conf over both. */
    const char *mixed[] = {"AWS_PROFILE=bob", "AWS_ACCESS_KEY_ID=AKIAENV",
                           "AWS_SECRET_ACCESS_KEY=envsecret", NULL};
    CHECK(rm_aws_resolve(NULL, table_env, mixed, home, &s, &err) == 0 &&
          strcmp(s.access_key_id, "AKIAENV") == 0 && strcmp(s.region, "ap-south-1") == 0);
    write_file("secret", "confsecret\n", 0600);
    char secret_path[512];
    snprintf(secret_path, sizeof secret_path, "%s/secret", home);
    rm_aws_overrides_t conf = {.region = "sa-east-1",
                               .endpoint = "http://conf:3",
                               .access_key_id = "AKIACONF",
                               .secret_access_key_file = secret_path,
                               .addressing_style = "path"};
    CHECK_MSG(rm_aws_resolve(&conf, table_env, mixed, home, &s, &err) == 0, "%s", err.msg);
    CHECK(s.source == RM_AWS_CREDS_CONFIG && strcmp(s.access_key_id, "AKIACONF") == 0 &&
          strcmp(s.secret_access_key, "confsecret") == 0 && strcmp(s.region, "sa-east-1") == 0 &&
          strcmp(s.endpoint, "http://conf:3") == 0 && s.path_style);

    /* Other file locations, as the SDKs read them. */
    write_file("other-creds", "[default]\naws_access_key_id=AKIAOTHER\naws_secret_access_key=x\n",
               0600);
    char other[600];
    snprintf(other, sizeof other, "AWS_SHARED_CREDENTIALS_FILE=%s/other-creds", home);
    const char *moved[] = {other, NULL};
    CHECK(rm_aws_resolve(NULL, table_env, moved, home, &s, &err) == 0 &&
          strcmp(s.access_key_id, "AKIAOTHER") == 0);
}

static void test_errors_name_the_setting(void)
{
    remove_files();
    rm_aws_settings_t s;
    rm_err_t err = {0};
    const char *nobody[] = {"AWS_PROFILE=nobody", NULL};
    CHECK(rm_aws_resolve(NULL, table_env, nobody, home, &s, &err) == -1 &&
          strstr(err.msg, "the AWS profile 'nobody' is found in neither") &&
          strstr(err.msg, ".aws/credentials"));
    write_file("secret", "confsecret\n", 0644);
    char secret_path[512];
    snprintf(secret_path, sizeof secret_path, "%s/secret", home);
    rm_aws_overrides_t conf = {.access_key_id = "AKIACONF", .secret_access_key_file = secret_path};
    const char *plain[] = {NULL};
    CHECK(rm_aws_resolve(&conf, table_env, plain, home, &s, &err) == -1 &&
          strstr(err.msg, "s3_secret_access_key_file") && strstr(err.msg, "chmod 600"));
    rm_aws_overrides_t no_secret = {.access_key_id = "AKIACONF"};
    CHECK(rm_aws_resolve(&no_secret, table_env, plain, home, &s, &err) == -1 &&
          strstr(err.msg, "without s3_secret_access_key_file"));
    const char *attempts[] = {"AWS_MAX_ATTEMPTS=0", NULL};
    CHECK(rm_aws_resolve(NULL, table_env, attempts, home, &s, &err) == -1 &&
          strstr(err.msg, "max attempts '0' is not a number from 1 to 20"));
    rm_aws_overrides_t style = {.addressing_style = "sideways"};
    CHECK(rm_aws_resolve(&style, table_env, plain, home, &s, &err) == -1 &&
          strstr(err.msg, "addressing style 'sideways'"));
    write_file(".aws/credentials", "[default]\naws_access_key_id = AKIAHALF\n", 0600);
    CHECK(rm_aws_resolve(NULL, table_env, plain, home, &s, &err) == -1 &&
          strstr(err.msg, "has aws_access_key_id but no aws_secret_access_key"));
    write_file(".aws/credentials", "[default\nbroken\n", 0600);
    CHECK(rm_aws_resolve(NULL, table_env, plain, home, &s, &err) == -1 &&
          strstr(err.msg, "cannot parse line 1"));
}

/*  Nothing gives keys: the instance role is to be asked, at the metadata
    address the environment may move. */
static void test_instance_role_when_nothing_else(void)
{
    remove_files();
    rm_aws_settings_t s;
    rm_err_t err = {0};
    const char *env[] = {"AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:1338", NULL};
    CHECK_MSG(rm_aws_resolve(NULL, table_env, env, NULL, &s, &err) == 0, "%s", err.msg);
    CHECK(s.source == RM_AWS_CREDS_NONE && s.access_key_id[0] == '\0' &&
          strcmp(s.imds, "http://127.0.0.1:1338") == 0 && s.region[0] == '\0');
    char words[2000];
    rm_aws_describe(&s, words, sizeof words);
    CHECK_MSG(strstr(words, "instance role at http://127.0.0.1:1338") &&
                  strstr(words, "region (not set)"),
              "%s", words);
}

/*  Session tokens from STS/SSO run to ~1,000 bytes or more: read whole,
    and a value with " ; " in it is kept whole too, as AWS's CLI does. */
static void test_a_long_session_token_is_read_whole(void)
{
    remove_files();
    char token[1501];
    for (size_t i = 0; i < sizeof token - 1; i++)
        token[i] = (char)('A' + i % 26);
    token[sizeof token - 1] = '\0';
    char text[2048];
    snprintf(text, sizeof text,
             "[default]\naws_access_key_id = AKIALONG\naws_secret_access_key = a;b ; c\n"
             "aws_session_token = %s\n",
             token);
    write_file(".aws/credentials", text, 0600);
    rm_aws_settings_t s;
    rm_err_t err = {0};
    const char *plain[] = {NULL};
    CHECK_MSG(rm_aws_resolve(NULL, table_env, plain, home, &s, &err) == 0, "%s", err.msg);
    CHECK_MSG(strcmp(s.session_token, token) == 0, "token of %zu bytes", strlen(s.session_token));
    CHECK_MSG(strcmp(s.secret_access_key, "a;b ; c") == 0, "'%s'", s.secret_access_key);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    CHECK(mkdtemp(home) != NULL);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/.aws", home);
    CHECK(mkdir(dir, 0700) == 0);
    RM_RUN(test_environment);
    RM_RUN(test_profiles_from_shared_files);
    RM_RUN(test_errors_name_the_setting);
    RM_RUN(test_instance_role_when_nothing_else);
    RM_RUN(test_a_long_session_token_is_read_whole);
    remove_files();
    rmdir(dir);
    rmdir(home);
    RM_TEST_DONE();
}
