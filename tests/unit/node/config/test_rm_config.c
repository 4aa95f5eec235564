/*  rm_config: a node's settings from meshd.conf and command-line flags
    (flags win), values checked and refused with the key that was wrong. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rm_config.h"
#include "rm_test.h"

static char root[] = "/tmp/rm-test-config.XXXXXX";

/*  Writes `text` to ROOT/name and returns its path (static buffer). */
static const char *conf_file(const char *name, const char *text)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", root, name);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    return path;
}

static void test_defaults_are_documented_values(void)
{
    rm_config_t c;
    rm_config_init(&c);
    CHECK(c.slots == 1);
    CHECK(c.task_timeout == 3600);
    CHECK(c.slot_idle_s == 10);
    CHECK(c.max_attempts == 3);
    CHECK(c.max_project_gb == 50);
    CHECK(strcmp(c.blender, "blender") == 0);
    CHECK(strcmp(c.role, "node") == 0);
    CHECK(!c.allow_scripts && !c.no_inbound && !c.artists_private);
    CHECK(c.repair_after_s == 60 && c.upload_limit_mbps == 0 && c.download_limit_mbps == 0);
    CHECK(c.submit_wait_s == 30);
}

static void test_file_sets_keys_with_comments_and_quotes(void)
{
    const char *path = conf_file("full.conf", "# a node\n"
                                              "\n"
                                              "name = farm-07   # trailing comment\n"
                                              "  listen=tcp://10.0.0.7:7700\n"
                                              "blender = \"/opt/blender 4.2/blender\"\n"
                                              "slots = 4\n"
                                              "threads = 16\n"
                                              "task_timeout = 600\n"
                                              "slot_idle_s = 0\n"
                                              "max_attempts = 5\n"
                                              "role = stable\n"
                                              "allow_scripts = true\n"
                                              "no_inbound = true\n"
                                              "artists_private = true\n"
                                              "advertise = tcp://farm-07.lan:7700\n"
                                              "repair_after_s = 5\n"
                                              "submit_wait_s = 3\n"
                                              "upload_limit_mbps = 100\n"
                                              "download_limit_mbps = 1000\n");
    rm_config_t c;
    rm_config_init(&c);
    rm_err_t err = {0};
    CHECK_MSG(rm_config_load(&c, path, NULL, 0, &err) == 0, "%s", err.msg);
    CHECK(strcmp(c.name, "farm-07") == 0);
    CHECK(strcmp(c.listen, "tcp://10.0.0.7:7700") == 0);
    CHECK_MSG(strcmp(c.blender, "/opt/blender 4.2/blender") == 0, "blender = '%s'", c.blender);
    CHECK(c.slots == 4 && c.threads == 16 && c.task_timeout == 600);
    CHECK(c.slot_idle_s == 0 && c.max_attempts == 5);
    CHECK(strcmp(c.role, "stable") == 0);
    CHECK(c.allow_scripts && c.no_inbound && c.artists_private);
    CHECK(strcmp(c.advertise, "tcp://farm-07.lan:7700") == 0);
    CHECK(c.repair_after_s == 5 && c.upload_limit_mbps == 100 && c.download_limit_mbps == 1000);
    CHECK(c.submit_wait_s == 3);
}

/*  meshd: flags are applied first, then the file is loaded with the flag
    names in `set`, which it must not override. */
static void test_flags_beat_the_file(void)
{
    const char *path = conf_file("flags.conf", "slots = 8\nname = from-file\nthreads = 2\n");
    rm_config_t c;
    rm_config_init(&c);
    rm_err_t err = {0};
    CHECK(rm_config_set(&c, "slots", "2", &err) == 0);
    CHECK(rm_config_set(&c, "name", "from-flag", &err) == 0);
    const char *set[] = {"slots", "name"};
    CHECK_MSG(rm_config_load(&c, path, set, 2, &err) == 0, "%s", err.msg);
    CHECK_MSG(c.slots == 2, "slots = %llu", (unsigned long long)c.slots);
    CHECK_MSG(strcmp(c.name, "from-flag") == 0, "name = '%s'", c.name);
    CHECK(c.threads == 2); /* not given as a flag: the file's value */
}

/*  A flag also beats a bad value in the file: that line is not looked at. */
static void test_flag_given_skips_the_files_bad_value(void)
{
    const char *path = conf_file("skipbad.conf", "slots = lots\n");
    rm_config_t c;
    rm_config_init(&c);
    rm_err_t err = {0};
    CHECK(rm_config_set(&c, "slots", "3", &err) == 0);
    const char *set[] = {"slots"};
    CHECK_MSG(rm_config_load(&c, path, set, 1, &err) == 0, "%s", err.msg);
    CHECK(c.slots == 3);
}

static void test_missing_file_keeps_defaults(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/no-such.conf", root);
    rm_config_t c;
    rm_config_init(&c);
    rm_err_t err = {0};
    CHECK_MSG(rm_config_load(&c, path, NULL, 0, &err) == 0, "%s", err.msg);
    CHECK(c.slots == 1 && c.task_timeout == 3600);
}

/*  A bad value in meshd.conf stops the node, naming the file, line and key,
    and leaves the setting as it was. */
static void test_bad_value_in_file_names_line_and_key(void)
{
    const char *path = conf_file("bad.conf", "name = x\n# ok so far\nslots = many\n");
    rm_config_t c;
    rm_config_init(&c);
    rm_err_t err = {0};
    CHECK(rm_config_load(&c, path, NULL, 0, &err) != 0);
    CHECK(err.code == RM_EINVAL);
    char where[600];
    snprintf(where, sizeof where, "%s:3:", path);
    CHECK_MSG(strstr(err.msg, where) != NULL, "%s", err.msg);
    CHECK_MSG(strstr(err.msg, "slots") != NULL && strstr(err.msg, "many") != NULL, "%s", err.msg);
    CHECK(c.slots == 1);
}

static void test_unknown_key_in_file_is_refused(void)
{
    const char *path = conf_file("unknown.conf", "slot = 4\n");
    rm_config_t c;
    rm_config_init(&c);
    rm_err_t err = {0};
    CHECK(rm_config_load(&c, path, NULL, 0, &err) != 0);
    CHECK_MSG(strstr(err.msg, "unknown setting 'slot'") != NULL, "%s", err.msg);
    CHECK_MSG(strstr(err.msg, ":1:") != NULL, "%s", err.msg);
}

static void test_line_without_equals_is_refused(void)
{
    const char *path = conf_file("noeq.conf", "slots = 2\nslots 4\n");
    rm_config_t c;
    rm_config_init(&c);
    rm_err_t err = {0};
    CHECK(rm_config_load(&c, path, NULL, 0, &err) != 0);
    CHECK_MSG(strstr(err.msg, ":2:") != NULL && strstr(err.msg, "key = value") != NULL, "%s",
              err.msg);
}

/*  Each number has a range; outside it, or not a number at all, is refused
    with the key named, and the old value kept. */
static void test_numbers_out_of_range_are_refused(void)
{
    static const struct {
        const char *key, *value;
    } bad[] = {
        {"slots", "0"},          {"slots", "65"},
        {"slots", "-1"},         {"slots", ""},
        {"slots", "4x"},         {"threads", "1025"},
        {"task_timeout", "0"},   {"task_timeout", "604801"},
        {"max_attempts", "0"},   {"max_attempts", "101"},
        {"max_project_gb", "0"}, {"slots", "99999999999999999999999"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rm_config_t c;
        rm_config_init(&c);
        rm_config_t before = c;
        rm_err_t err = {0};
        int rc = rm_config_set(&c, bad[i].key, bad[i].value, &err);
        CHECK_MSG(rc != 0, "%s = '%s' accepted", bad[i].key, bad[i].value);
        CHECK_MSG(err.code == RM_EINVAL && strncmp(err.msg, bad[i].key, strlen(bad[i].key)) == 0,
                  "%s = '%s': %s", bad[i].key, bad[i].value, err.msg);
        CHECK_MSG(memcmp(&c, &before, sizeof c) == 0, "%s = '%s' changed the config", bad[i].key,
                  bad[i].value);
    }
}

static void test_numbers_at_range_ends_are_accepted(void)
{
    rm_config_t c;
    rm_config_init(&c);
    rm_err_t err = {0};
    CHECK(rm_config_set(&c, "slots", "64", &err) == 0 && c.slots == 64);
    CHECK(rm_config_set(&c, "slots", "1", &err) == 0 && c.slots == 1);
    CHECK(rm_config_set(&c, "threads", "0", &err) == 0 && c.threads == 0);
    CHECK(rm_config_set(&c, "task_timeout", "604800", &err) == 0 && c.task_timeout == 604800);
    CHECK(rm_config_set(&c, "slot_idle_s", "0", &err) == 0 && c.slot_idle_s == 0);
    CHECK(rm_config_set(&c, "max_attempts", "100", &err) == 0 && c.max_attempts == 100);
}

static void test_bools_and_role_take_only_their_words(void)
{
    rm_config_t c;
    rm_config_init(&c);
    rm_err_t err = {0};
    CHECK(rm_config_set(&c, "allow_scripts", "yes", &err) != 0);
    CHECK_MSG(strstr(err.msg, "allow_scripts") != NULL, "%s", err.msg);
    CHECK(!c.allow_scripts);
    CHECK(rm_config_set(&c, "no_inbound", "1", &err) != 0);
    CHECK(!c.no_inbound);
    CHECK(rm_config_set(&c, "allow_scripts", "true", &err) == 0 && c.allow_scripts);
    CHECK(rm_config_set(&c, "allow_scripts", "false", &err) == 0 && !c.allow_scripts);
    CHECK(rm_config_set(&c, "role", "boss", &err) != 0);
    CHECK_MSG(strstr(err.msg, "role") != NULL && strstr(err.msg, "boss") != NULL, "%s", err.msg);
    CHECK(strcmp(c.role, "node") == 0);
}

static void test_too_long_string_is_refused(void)
{
    rm_config_t c;
    rm_config_init(&c);
    char longname[300];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    rm_err_t err = {0};
    CHECK(rm_config_set(&c, "name", longname, &err) != 0);
    CHECK_MSG(strstr(err.msg, "name") != NULL && strstr(err.msg, "too long") != NULL, "%s",
              err.msg);
    CHECK(c.name[0] == '\0');
}

static void test_sections_are_refused_with_the_line(void)
{
    const char *path = conf_file("section.conf", "name = a\n[s3]\nregion = x\n");
    rm_config_t c;
    rm_config_init(&c);
    rm_err_t err = {0};
    CHECK(rm_config_load(&c, path, NULL, 0, &err) != 0);
    CHECK_MSG(strstr(err.msg, "section.conf:3: ") && strstr(err.msg, "no sections"), "%s", err.msg);
}

/*  Lines are not cut at any small length (a bucket list, a long path). */
static void test_long_values_are_read_whole(void)
{
    char buckets[1200] = "", text[1400];
    for (int i = 0; i < 60; i++)
        snprintf(buckets + strlen(buckets), sizeof buckets - strlen(buckets), "%sbucket-%04d",
                 i ? "," : "", i);
    snprintf(text, sizeof text, "s3_buckets = %s # all of them\nname = after\n", buckets);
    const char *path = conf_file("long.conf", text);
    rm_config_t c;
    rm_config_init(&c);
    rm_err_t err = {0};
    CHECK_MSG(rm_config_load(&c, path, NULL, 0, &err) == 0, "%s", err.msg);
    CHECK_MSG(strcmp(c.s3_buckets, buckets) == 0, "%.40s", c.s3_buckets);
    CHECK(strcmp(c.name, "after") == 0);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    CHECK(mkdtemp(root) != NULL);
    RM_RUN(test_defaults_are_documented_values);
    RM_RUN(test_file_sets_keys_with_comments_and_quotes);
    RM_RUN(test_flags_beat_the_file);
    RM_RUN(test_flag_given_skips_the_files_bad_value);
    RM_RUN(test_missing_file_keeps_defaults);
    RM_RUN(test_bad_value_in_file_names_line_and_key);
    RM_RUN(test_unknown_key_in_file_is_refused);
    RM_RUN(test_line_without_equals_is_refused);
    RM_RUN(test_numbers_out_of_range_are_refused);
    RM_RUN(test_numbers_at_range_ends_are_accepted);
    RM_RUN(test_bools_and_role_take_only_their_words);
    RM_RUN(test_too_long_string_is_refused);
    RM_RUN(test_sections_are_refused_with_the_line);
    RM_RUN(test_long_values_are_read_whole);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    CHECK(system(cmd) == 0);
    RM_TEST_DONE();
}
