/*  Tests of capabilities against requirements (a scene that denoises needs
    a node whose Blender has OpenImageDenoise). */
#include <string.h>

#include "rm_caps.h"
#include "rm_test.h"

static rm_job_spec_t spec_with(char **words, uint32_t n)
{
    rm_job_spec_t s;
    memset(&s, 0, sizeof s);
    s.requires.items = words;
    s.requires.count = n;
    return s;
}

static void test_check_requires(void)
{
    rm_err_t err;
    char *good[] = {"denoise", "optix"};
    rm_job_spec_t s = spec_with(good, 2);
    CHECK(rm_caps_check_requires(&s, &err) == 0);
    s = spec_with(NULL, 0);
    CHECK(rm_caps_check_requires(&s, &err) == 0);
    char *unsorted[] = {"optix", "denoise"};
    s = spec_with(unsorted, 2);
    CHECK(rm_caps_check_requires(&s, &err) == -1 && err.code == RM_EINVAL &&
          strstr(err.msg, "sorted"));
    char *twice[] = {"denoise", "denoise"};
    s = spec_with(twice, 2);
    CHECK(rm_caps_check_requires(&s, &err) == -1);
    char *bad[][1] = {{""}, {"De-noise"}, {"a b"}, {"0123456789012345678901234567890123"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        s = spec_with(bad[i], 1);
        CHECK_MSG(rm_caps_check_requires(&s, &err) == -1 && err.code == RM_EINVAL, "accepted '%s'",
                  bad[i][0]);
    }
    char *null_word[] = {NULL};
    s = spec_with(null_word, 1);
    CHECK(rm_caps_check_requires(&s, &err) == -1);
}

static void test_satisfy(void)
{
    char *denoise[] = {"denoise"};
    rm_job_spec_t s = spec_with(denoise, 1);
    const char *missing = NULL;
    CHECK(rm_caps_satisfy("denoise", &s, NULL));
    CHECK(rm_caps_satisfy("  optix denoise ", &s, NULL));
    CHECK(!rm_caps_satisfy("denoiser", &s, &missing) && strcmp(missing, "denoise") == 0);
    CHECK(!rm_caps_satisfy("", &s, NULL) && !rm_caps_satisfy(NULL, &s, NULL));
    rm_job_spec_t none = spec_with(NULL, 0);
    CHECK(rm_caps_satisfy("", &none, NULL) && rm_caps_satisfy(NULL, &none, NULL));
}

static void test_waiting(void)
{
    char *denoise[] = {"denoise"};
    rm_job_spec_t s = spec_with(denoise, 1);
    rm_node_info_t nodes[3] = {
        {.name = "a", .state = "alive", .blender_ok = true, .caps = ""},
        {.name = "b", .state = "dead", .blender_ok = true, .caps = "denoise"},
        {.name = "c", .state = "alive", .blender_ok = false, .caps = "denoise"},
    };
    char why[300];
    rm_caps_waiting(&s, nodes, 3, why, sizeof why);
    CHECK_MSG(strstr(why, "none of the 1 node(s)") && strstr(why, "--no-denoise"), "%s", why);
    nodes[1].state = "alive";
    rm_caps_waiting(&s, nodes, 3, why, sizeof why);
    CHECK_MSG(why[0] == '\0', "%s", why);
    /* Nothing renders at all: not this job's reason to give. */
    nodes[0].blender_ok = nodes[1].blender_ok = false;
    rm_caps_waiting(&s, nodes, 3, why, sizeof why);
    CHECK(why[0] == '\0');
    char *other[] = {"optix"};
    s = spec_with(other, 1);
    nodes[0].blender_ok = true;
    rm_caps_waiting(&s, nodes, 3, why, sizeof why);
    CHECK_MSG(strstr(why, "can optix"), "%s", why);
    rm_job_spec_t none = spec_with(NULL, 0);
    rm_caps_waiting(&none, nodes, 3, why, sizeof why);
    CHECK(why[0] == '\0');
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    RM_RUN(test_check_requires);
    RM_RUN(test_satisfy);
    RM_RUN(test_waiting);
    RM_TEST_DONE();
}
