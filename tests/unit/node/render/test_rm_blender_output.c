/*  Tests of what the slot reads in Blender's output: times, progress from
    Cycles and EEVEE lines, why a .blend could not be read, and the checks
    on a frame's reported file. */
#include "rm_blender_output.h"
#include "rm_test.h"

#include <czmq.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_clock(void)
{
    CHECK(rm_blender_output_clock("00:01.20") == 1200);
    CHECK(rm_blender_output_clock("01:02:03.45 | rest") == 3723450);
    CHECK(rm_blender_output_clock("1.20") == -1); /* seconds alone: not Blender's */
    CHECK(rm_blender_output_clock("00:01") == -1);
    CHECK(rm_blender_output_clock("00:01.2") == -1);
    CHECK(rm_blender_output_clock("12345:00.00") == -1);
    CHECK(rm_blender_output_clock("x") == -1);
}

static void test_cycles_and_eevee_samples(void)
{
    rm_blender_output_progress_t p = {0};
    rm_blender_output_scan(&p, "Fra:1 Mem:12M | Scene, ViewLayer | Sample 8/16", 0);
    CHECK(p.percent == 49);
    rm_blender_output_scan(&p, "Fra:1 | Sample 4/16", 0); /* never goes back */
    CHECK(p.percent == 49);
    rm_blender_output_scan(&p, "Fra:1 | Sample 16/16", 0);
    CHECK(p.percent == 99);
    p = (rm_blender_output_progress_t){0};
    rm_blender_output_scan(&p, "Fra:1 | Rendering 26 / 64 samples", 0);
    CHECK(p.percent == 40);
    /* Malformed counts say nothing. */
    p = (rm_blender_output_progress_t){0};
    rm_blender_output_scan(&p, "| Sample 17/16", 0);
    rm_blender_output_scan(&p, "| Sample 3/0", 0);
    rm_blender_output_scan(&p, "| Rendering 3/4 samples", 0);
    CHECK(p.percent == 0 && rm_blender_output_percent(&p, 5000) == 0);
}

/*  Between sample lines the time estimate carries progress on. */
static void test_time_estimate(void)
{
    rm_blender_output_progress_t p = {0};
    rm_blender_output_scan(&p, "Fra:1 | Time:00:01.00 | Remaining:00:03.00 | Sample 1/16", 1000);
    CHECK(p.eta_at == 1000 && p.eta_elapsed == 1000 && p.eta_total == 4000);
    CHECK(p.percent == 6);
    CHECK(rm_blender_output_percent(&p, 1000) == 24);
    CHECK(rm_blender_output_percent(&p, 2000) == 49);
    CHECK(rm_blender_output_percent(&p, 60000) == 99);
    CHECK(rm_blender_output_percent(&p, 2000) == 99); /* kept */
    p = (rm_blender_output_progress_t){0};
    rm_blender_output_scan(&p, "| Time:00:00.00 | Remaining:00:00.00", 1000);
    CHECK(p.eta_total == 0);
}

static void test_read_errors(void)
{
    const char *blend = "/p/a b.blend";
    char *r = rm_blender_output_read_error(
        "Cannot read file '/p/a b.blend': No such file or directory", blend);
    CHECK_MSG(r && streq(r, "No such file or directory"), "%s", r);
    free(r);
    r = rm_blender_output_read_error("File format is not supported in file '/p/a b.blend'", blend);
    CHECK_MSG(r && streq(r, "File format is not supported"), "%s", r);
    free(r);
    r = rm_blender_output_read_error("Failed to read blend file '/p/a b.blend': Missing DNA block",
                                     blend);
    CHECK_MSG(r && streq(r, "Missing DNA block"), "%s", r);
    free(r);
    CHECK(rm_blender_output_read_error("Cannot read file '/p/other.blend': gone", blend) == NULL);
    CHECK(rm_blender_output_read_error("Python: Traceback", blend) == NULL);
}

static void put_output_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void test_frame_output_check(void)
{
    char out[] = "/tmp/rm_blender_output_XXXXXX";
    CHECK(mkdtemp(out) != NULL);
    char dir[64], file[96], empty[96], outside[96], why[256];
    snprintf(dir, sizeof dir, "%s/1", out);
    snprintf(file, sizeof file, "%s/frame_0001.png", dir);
    snprintf(empty, sizeof empty, "%s/empty.png", dir);
    snprintf(outside, sizeof outside, "%s/top.png", out);
    CHECK(mkdir(dir, 0755) == 0);
    put_output_file(file, "png");
    put_output_file(empty, "");
    put_output_file(outside, "png");

    rm_blender_output_check(file, file, dir, out, why, sizeof why);
    CHECK_MSG(why[0] == '\0', "%s", why);
    rm_blender_output_check(file, file, out, out, why, sizeof why); /* the folder may be out_dir */
    CHECK_MSG(why[0] == '\0', "%s", why);
    rm_blender_output_check("f.png", NULL, dir, out, why, sizeof why);
    CHECK_MSG(streq(why, "Blender wrote no output file f.png"), "%s", why);
    rm_blender_output_check(NULL, NULL, NULL, out, why, sizeof why);
    CHECK_MSG(streq(why, "Blender wrote no output file "), "%s", why);
    rm_blender_output_check(empty, empty, dir, out, why, sizeof why);
    CHECK(strstr(why, "no output file"));
    rm_blender_output_check(outside, outside, dir, dir, why, sizeof why);
    CHECK_MSG(strstr(why, "Blender wrote") && strstr(why, ", outside"), "%s", why);
    rm_blender_output_check(file, file, "/tmp", out, why, sizeof why);
    CHECK_MSG(strstr(why, "Blender wrote") && strstr(why, ", outside"), "%s", why);
    rm_blender_output_check(outside, outside, dir, out, why, sizeof why);
    CHECK_MSG(strstr(why, "outside the frame's folder"), "%s", why);

    unlink(file);
    unlink(empty);
    unlink(outside);
    rmdir(dir);
    rmdir(out);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    RM_RUN(test_clock);
    RM_RUN(test_cycles_and_eevee_samples);
    RM_RUN(test_time_estimate);
    RM_RUN(test_read_errors);
    RM_RUN(test_frame_output_check);
    RM_TEST_DONE();
}
