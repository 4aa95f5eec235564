/*  Tests of the slot pipe protocol without Blender: RENDER built and
    decoded back, events sent and decoded back, malformed input rejected. */
#include "rm_slot_msg.h"
#include "rm_test.h"

/*  The RENDER validation moved here from test_rm_blender.c. */
static void test_render_validation(void)
{
    rm_err_t err;
    const uint64_t frames[] = {1};
    rm_render_task_t task = {.job_id = "j",
                             .blend = "rel.blend",
                             .out_dir = "/o",
                             .log_path = "/l",
                             .frames = frames,
                             .frame_count = 1};
    CHECK(rm_slot_render(NULL, &task, &err) == -1 && err.code == RM_EINVAL);
    task.blend = "/x.blend";
    task.frame_count = 0;
    CHECK(rm_slot_render(NULL, &task, &err) == -1 && err.code == RM_EINVAL);
    task.frame_count = 1;
    const uint64_t too_far[] = {RM_BLENDER_MAX_FRAME + 1};
    task.frames = too_far;
    CHECK(rm_slot_render_msg(&task, &err) == NULL && err.code == RM_EINVAL);
    task.frames = frames;
    task.job_id = "";
    CHECK(rm_slot_render_msg(&task, &err) == NULL && err.code == RM_EINVAL);
}

static void test_render_round_trip(void)
{
    rm_err_t err;
    const uint64_t frames[] = {1, 7, RM_BLENDER_MAX_FRAME};
    rm_render_task_t task = {.job_id = "job-1",
                             .blend = "/p/scene.blend",
                             .project_dir = "/p",
                             .out_dir = "/o",
                             .log_path = "/l/task.log",
                             .settings = {.scene = "Main",
                                          .engine = "CYCLES",
                                          .samples = 16,
                                          .percent = 50,
                                          .res_x = 640,
                                          .res_y = 480,
                                          .gpu = 2,
                                          .no_denoise = true,
                                          .source_root = "/studio"},
                             .allow_scripts = true,
                             .frame_timeout_s = 30,
                             .frames = frames,
                             .frame_count = 3};
    zmsg_t *msg = rm_slot_render_msg(&task, &err);
    CHECK(msg && zmsg_size(msg) == 21);
    if (!msg)
        return;
    char *cmd = zmsg_popstr(msg);
    CHECK(cmd && streq(cmd, "RENDER"));
    free(cmd);
    char *job = NULL;
    rm_slot_task_t *t = rm_slot_task_decode(msg, &job);
    zmsg_destroy(&msg);
    CHECK(job && streq(job, "job-1"));
    free(job);
    CHECK(t != NULL);
    if (!t)
        return;
    CHECK(streq(t->job_id, "job-1") && streq(t->blend, "/p/scene.blend"));
    CHECK(streq(t->project_dir, "/p") && streq(t->out_dir, "/o"));
    CHECK(streq(t->log_path, "/l/task.log") && streq(t->scene, "Main"));
    CHECK(streq(t->camera, "") && streq(t->engine, "CYCLES") && streq(t->format, ""));
    CHECK(streq(t->source_root, "/studio"));
    CHECK(t->samples == 16 && t->percent == 50 && t->res_x == 640 && t->res_y == 480);
    CHECK(t->gpu == 2 && t->allow_scripts == 1 && t->frame_timeout_s == 30 && t->no_denoise == 1);
    CHECK(t->frame_count == 3 && t->frames[0] == 1 && t->frames[1] == 7 &&
          t->frames[2] == RM_BLENDER_MAX_FRAME);
    CHECK(!t->key && !t->real_out);
    rm_slot_task_destroy(&t);
    CHECK(t == NULL);

    char *list = rm_slot_frame_list(frames, 2);
    CHECK(list && streq(list, "1,7"));
    free(list);
}

/*  A RENDER (command popped) with frame i replaced by value, or cut short
    to `count` frames. */
static zmsg_t *render_with(int i, const char *value, size_t count)
{
    const char *f[20] = {"j", "/b.blend", "/p", "/o", "/l", "",  "",  "",  "",  "",
                         "",  "0",        "0",  "0",  "0",  "0", "0", "0", "0", "1,2"};
    zmsg_t *msg = zmsg_new();
    for (size_t k = 0; k < count; k++)
        zmsg_addstr(msg, (int)k == i ? value : f[k]);
    return msg;
}

static void test_render_malformed(void)
{
    struct {
        int index;
        const char *value;
    } bad[] = {
        {1, "rel.blend"}, {3, ""},         {0, ""},     {11, "x"}, {11, "-1"},
        {16, "2"},        {17, "1e3"},     {18, "2"},   {19, ""},  {19, "1,,2"},
        {19, "1,"},       {19, "1048575"}, {19, "1;2"}, {19, "a"}, {14, "9999999999999999999999"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        zmsg_t *msg = render_with(bad[i].index, bad[i].value, 20);
        char *job = NULL;
        rm_slot_task_t *t = rm_slot_task_decode(msg, &job);
        CHECK_MSG(t == NULL, "accepted frame %d = \"%s\"", bad[i].index, bad[i].value);
        CHECK(job != NULL);
        rm_slot_task_destroy(&t);
        free(job);
        zmsg_destroy(&msg);
    }
    /* Too few or too many frames; the job id still comes back. */
    size_t counts[] = {0, 1, 19};
    for (size_t i = 0; i < 3; i++) {
        zmsg_t *msg = render_with(-1, NULL, counts[i]);
        char *job = NULL;
        CHECK(rm_slot_task_decode(msg, &job) == NULL);
        CHECK(job && streq(job, counts[i] ? "j" : ""));
        free(job);
        zmsg_destroy(&msg);
    }
    zmsg_t *msg = render_with(-1, NULL, 20);
    zmsg_addstr(msg, "extra");
    char *job = NULL;
    CHECK(rm_slot_task_decode(msg, &job) == NULL);
    free(job);
    zmsg_destroy(&msg);
    msg = render_with(-1, NULL, 20);
    rm_slot_task_t *t = rm_slot_task_decode(msg, &job);
    CHECK(t && t->frame_count == 2);
    rm_slot_task_destroy(&t);
    free(job);
    zmsg_destroy(&msg);
}

/*  Every sender's message decodes back to what was sent. */
static void test_events_round_trip(void)
{
    zsock_t *tx = zsock_new_pair("@inproc://test_rm_slot_msg");
    zsock_t *rx = zsock_new_pair(">inproc://test_rm_slot_msg");
    CHECK(tx && rx);
    if (!tx || !rx)
        return;
    rm_err_t err;
    rm_slot_event_t ev;
    CHECK(rm_slot_send_progress(tx, "j", 5, 42) == 0);
    CHECK(rm_slot_event_decode(&(zmsg_t *){zmsg_recv(rx)}, &ev, &err) == 0);
    CHECK(ev.type == RM_SLOT_PROGRESS && streq(ev.job_id, "j") && ev.frame == 5 &&
          ev.percent == 42);
    rm_slot_event_clear(&ev);

    rm_slot_send_frame_done(tx, "j", 12,
                            &(rm_slot_output_t){.file = "/o/12/frame_0012.png",
                                                .dir = "/o/12",
                                                .files = "frame_0012.png\npasses/n_0012.png",
                                                .warning = "missing files: t.png",
                                                .render_ms = 250,
                                                .pid = 4242,
                                                .log = "/l/frame_0012.log"});
    CHECK(rm_slot_event_decode(&(zmsg_t *){zmsg_recv(rx)}, &ev, &err) == 0);
    CHECK(ev.type == RM_SLOT_FRAME_DONE && ev.frame == 12 && ev.render_ms == 250 &&
          ev.pid == 4242 && streq(ev.file, "/o/12/frame_0012.png") && streq(ev.dir, "/o/12") &&
          streq(ev.files, "frame_0012.png\npasses/n_0012.png") &&
          streq(ev.warning, "missing files: t.png") && streq(ev.log, "/l/frame_0012.log"));
    rm_slot_event_clear(&ev);

    /* A negative time reads 0; no files or warning read "". */
    rm_slot_send_frame_done(tx, "j", 1,
                            &(rm_slot_output_t){.file = "/o/f.png", .dir = "/o", .render_ms = -5});
    CHECK(rm_slot_event_decode(&(zmsg_t *){zmsg_recv(rx)}, &ev, &err) == 0 && ev.render_ms == 0 &&
          streq(ev.log, "") && streq(ev.warning, ""));
    rm_slot_event_clear(&ev);

    rm_slot_send_frame_failed(tx, "j", 3, "timed out after 2 s");
    CHECK(rm_slot_event_decode(&(zmsg_t *){zmsg_recv(rx)}, &ev, &err) == 0);
    CHECK(ev.type == RM_SLOT_FRAME_FAILED && ev.frame == 3 &&
          streq(ev.reason, "timed out after 2 s"));
    rm_slot_event_clear(&ev);

    for (int oneshot = 0; oneshot < 2; oneshot++) {
        rm_slot_send_task_done(tx, "j", oneshot);
        CHECK(rm_slot_event_decode(&(zmsg_t *){zmsg_recv(rx)}, &ev, &err) == 0);
        CHECK(ev.type == RM_SLOT_TASK_DONE && ev.oneshot == oneshot);
        rm_slot_event_clear(&ev);
    }
    for (int fatal = 0; fatal < 2; fatal++) {
        rm_slot_send_task_failed(tx, "j", "no such scene", fatal);
        CHECK(rm_slot_event_decode(&(zmsg_t *){zmsg_recv(rx)}, &ev, &err) == 0);
        CHECK(ev.type == RM_SLOT_TASK_FAILED && ev.fatal == fatal &&
              streq(ev.reason, "no such scene"));
        rm_slot_event_clear(&ev);
    }
    rm_slot_send_task_canceled(tx, "j");
    CHECK(rm_slot_event_decode(&(zmsg_t *){zmsg_recv(rx)}, &ev, &err) == 0);
    CHECK(ev.type == RM_SLOT_TASK_CANCELED && streq(ev.job_id, "j"));
    CHECK(streq(rm_slot_event_name(ev.type), "TASK_CANCELED"));
    rm_slot_event_clear(&ev);
    CHECK(streq(rm_slot_event_name(0), "?") && streq(rm_slot_event_name(99), "?"));
    zsock_destroy(&rx);
    zsock_destroy(&tx);
}

/*  Event decoding, moved here from test_rm_blender.c, plus more bad input. */
static void test_events_malformed(void)
{
    rm_err_t err;
    rm_slot_event_t ev;
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, "FRAME_DONE");
    zmsg_addstr(msg, "j");
    zmsg_addstr(msg, "12");
    zmsg_addstr(msg, "/o/frame_0012.png");
    zmsg_addstr(msg, "250");
    zmsg_addstr(msg, "4242");
    zmsg_addstr(msg, "/o");
    zmsg_addstr(msg, "frame_0012.png");
    zmsg_addstr(msg, "");
    zmsg_addstr(msg, "/l/frame_0012.log");
    CHECK(rm_slot_event_decode(&msg, &ev, &err) == 0 && !msg);
    CHECK(ev.type == RM_SLOT_FRAME_DONE && ev.frame == 12 && ev.render_ms == 250 && ev.pid == 4242);
    CHECK(streq(ev.file, "/o/frame_0012.png") && streq(ev.job_id, "j") &&
          streq(ev.log, "/l/frame_0012.log"));
    rm_slot_event_clear(&ev);

    const char *bad[][4] = {{"PROGRESS", "j", "1", "101"},  {"PROGRESS", "j", "-1", "5"},
                            {"PROGRESS", "j", "1x", "5"},   {"TASK_FAILED", "j", "why", "yes"},
                            {"FRAME_FAILED", "j", "", "x"}, {"NOPE", "j", "1", "2"},
                            {"progress", "j", "1", "2"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        msg = zmsg_new();
        for (int j = 0; j < 4; j++)
            zmsg_addstr(msg, bad[i][j]);
        CHECK_MSG(rm_slot_event_decode(&msg, &ev, &err) == -1 && err.code == RM_EPROTO,
                  "accepted %s %s %s", bad[i][0], bad[i][2], bad[i][3]);
        CHECK(!msg && ev.type == 0 && !ev.job_id);
    }
    const char *done[][10] = {{"FRAME_DONE", "j", "1", "/f", "5", "2147483648", "/", "f", "", ""},
                              {"FRAME_DONE", "j", "1", "/f", "x", "1", "/", "f", "", ""},
                              {"FRAME_DONE", "j", "1", "/f", "5", "1", "/", "f", "", NULL}};
    for (size_t i = 0; i < 3; i++) {
        msg = zmsg_new();
        for (int j = 0; j < 10 && done[i][j]; j++)
            zmsg_addstr(msg, done[i][j]);
        CHECK(rm_slot_event_decode(&msg, &ev, &err) == -1 && !ev.file);
    }
    msg = zmsg_new();
    zmsg_addstr(msg, "TASK_DONE");
    CHECK(rm_slot_event_decode(&msg, &ev, &err) == -1);
    msg = zmsg_new();
    zmsg_addstr(msg, "TASK_DONE");
    zmsg_addstr(msg, "j");
    zmsg_addstr(msg, "maybe");
    CHECK(rm_slot_event_decode(&msg, &ev, &err) == -1);
    msg = zmsg_new();
    CHECK(rm_slot_event_decode(&msg, &ev, &err) == -1 && err.code == RM_EPROTO);
    msg = NULL;
    CHECK(rm_slot_event_decode(&msg, &ev, &err) == -1);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    zsys_init();
    RM_RUN(test_render_validation);
    RM_RUN(test_render_round_trip);
    RM_RUN(test_render_malformed);
    RM_RUN(test_events_round_trip);
    RM_RUN(test_events_malformed);
    RM_TEST_DONE();
}
