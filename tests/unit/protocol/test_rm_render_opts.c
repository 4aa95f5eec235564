#include "rm_render_opts.h"

#include "rm_test.h"

static rm_job_spec_t spec(char *engine, char *device, char *format)
{
    rm_job_spec_t s;
    memset(&s, 0, sizeof s);
    s.engine = engine;
    s.device = device;
    s.format = format;
    return s;
}

static void test_empty_keeps_the_files_own(void)
{
    rm_job_spec_t s = spec("", "", "");
    CHECK(rm_render_opts_check(&s, NULL) == 0);
}

static void test_every_listed_option_is_accepted(void)
{
    for (const char *const *e = rm_render_opts_engines; *e; e++)
        for (const char *const *d = rm_render_opts_devices; *d; d++)
            for (const char *const *f = rm_render_opts_formats; *f; f++) {
                rm_job_spec_t s = spec((char *)*e, (char *)*d, (char *)*f);
                CHECK_MSG(rm_render_opts_check(&s, NULL) == 0, "%s %s %s", *e, *d, *f);
            }
}

static void test_unknown_options_are_named(void)
{
    rm_err_t err;
    rm_job_spec_t s = spec("LUXCORE", "", "");
    CHECK(rm_render_opts_check(&s, &err) == -1 && err.code == RM_EINVAL);
    CHECK(strcmp(err.msg, "unknown engine 'LUXCORE'") == 0);
    s = spec("CYCLES", "METAL", "");
    CHECK(rm_render_opts_check(&s, &err) == -1 && strcmp(err.msg, "unknown device 'METAL'") == 0);
    /* a movie cannot be split between nodes */
    s = spec("", "", "FFMPEG");
    CHECK(rm_render_opts_check(&s, &err) == -1 &&
          strcmp(err.msg, "unknown output format 'FFMPEG'") == 0);
    s = spec("", "", "png"); /* Blender's spelling only: meshctl upper-cases */
    CHECK(rm_render_opts_check(&s, &err) == -1);
}

static void test_limits(void)
{
    rm_err_t err;
    rm_job_spec_t s = spec("", "", "");
    s.percent = RM_RENDER_MAX_PERCENT;
    s.res_x = s.res_y = RM_RENDER_MAX_RES;
    s.task_timeout = RM_RENDER_MAX_TASK_TIMEOUT;
    CHECK(rm_render_opts_check(&s, &err) == 0);
    s.percent++;
    CHECK(rm_render_opts_check(&s, &err) == -1 && strstr(err.msg, "percentage 1001 is over 1000"));
    s.percent = 0;
    s.res_y++;
    CHECK(rm_render_opts_check(&s, &err) == -1 && strstr(err.msg, "too large"));
    s.res_y = 0;
    s.task_timeout++;
    CHECK(rm_render_opts_check(&s, &err) == -1 && strstr(err.msg, "over 7 days"));
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    RM_RUN(test_empty_keeps_the_files_own);
    RM_RUN(test_every_listed_option_is_accepted);
    RM_RUN(test_unknown_options_are_named);
    RM_RUN(test_limits);
    RM_TEST_DONE();
}
