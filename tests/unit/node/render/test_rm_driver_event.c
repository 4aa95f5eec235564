/*  Tests of the driver's JSON-line reader. */
#include "rm_driver_event.h"
#include "rm_test.h"

#include <czmq.h>

static void test_events(void)
{
    rm_driver_event_t ev;
    CHECK(rm_driver_event_parse("{\"event\": \"ready\", \"pid\": 4242}", &ev));
    CHECK(streq(ev.event, "ready") && ev.pid == 4242 && !ev.has_frame && !ev.file);
    rm_driver_event_clear(&ev);
    CHECK(!ev.event && ev.pid == 0);

    CHECK(
        rm_driver_event_parse(" { \"event\":\"done\" , \"frame\":12,\"file\":\"/o/frame_0012.png\","
                              "\"render_ms\":250.7 }\n",
                              &ev));
    CHECK(streq(ev.event, "done") && ev.has_frame && ev.frame == 12 && ev.render_ms == 250);
    CHECK(streq(ev.file, "/o/frame_0012.png"));
    rm_driver_event_clear(&ev);

    /* Unknown keys and values of any type are skipped. */
    CHECK(
        rm_driver_event_parse("{\"x\":[1,{\"y\":\"}\"},[]],\"event\":\"fatal\",\"n\":null,"
                              "\"reason\":\"no scene\",\"scope\":\"node\",\"t\":true,\"f\":-1.5e3}",
                              &ev));
    CHECK(streq(ev.event, "fatal") && streq(ev.reason, "no scene") && streq(ev.scope, "node"));
    rm_driver_event_clear(&ev);

    /* A key given twice keeps the last; a negative frame is still a frame. */
    CHECK(rm_driver_event_parse("{\"event\":\"a\",\"event\":\"failed\",\"frame\":-3}", &ev));
    CHECK(streq(ev.event, "failed") && ev.has_frame && ev.frame == -3);
    rm_driver_event_clear(&ev);

    /* null is absent, as Python's None. */
    CHECK(rm_driver_event_parse("{\"event\":\"done\",\"frame\":null,\"warning\":null}", &ev));
    CHECK(!ev.has_frame && ev.frame == 0 && !ev.warning);
    rm_driver_event_clear(&ev);
}

/*  A known key with a value of another type refuses the whole line: the
    driver is broken, and a half-read event would be acted on. */
static void test_wrong_types(void)
{
    const char *bad[] = {
        "{\"event\":\"done\",\"frame\":\"7\"}",   "{\"event\":\"done\",\"frame\":true}",
        "{\"event\":\"done\",\"render_ms\":[1]}", "{\"event\":\"ready\",\"pid\":{}}",
        "{\"event\":\"done\",\"file\":7}",        "{\"event\":\"failed\",\"reason\":[\"x\"]}",
        "{\"event\":\"done\",\"frame\":1e300}",   "{\"event\":null}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        rm_driver_event_t ev;
        CHECK_MSG(!rm_driver_event_parse(bad[i], &ev), "accepted %s", bad[i]);
        CHECK(!ev.event && !ev.file && !ev.reason && !ev.has_frame);
    }
}

static void test_escapes(void)
{
    rm_driver_event_t ev;
    CHECK(rm_driver_event_parse("{\"event\":\"failed\",\"reason\":\"a\\\"b\\\\c\\/d\\n\\t"
                                "\\u00e9\\u20ac\\ud83d\\ude00\\udc00\"}",
                                &ev));
    CHECK_MSG(ev.reason && streq(ev.reason, "a\"b\\c/d\n\t\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
                                            "\xef\xbf\xbd"),
              "%s", ev.reason ? ev.reason : "(null)");
    rm_driver_event_clear(&ev);

    /* A lone surrogate (Python's escape for a byte that is not UTF-8) is
       U+FFFD; an escaped backslash before "udc00" is text. */
    CHECK(
        rm_driver_event_parse("{\"event\":\"done\",\"files\":\"a\\udcff.png\",\"dir\":\"\\ud800\","
                              "\"file\":\"\\\\udc00\"}",
                              &ev));
    CHECK_MSG(ev.files && streq(ev.files, "a\xef\xbf\xbd.png"), "%s", ev.files);
    CHECK_MSG(ev.dir && streq(ev.dir, "\xef\xbf\xbd"), "%s", ev.dir);
    CHECK_MSG(ev.file && streq(ev.file, "\\udc00"), "%s", ev.file);
    rm_driver_event_clear(&ev);
}

static void test_malformed(void)
{
    const char *bad[] = {
        "",
        "[]",
        "\"event\"",
        "{}",
        "{\"frame\":1}",
        "{\"event\":1}",
        "{\"event\":\"done\"",
        "{\"event\" \"done\"}",
        "{\"event\":\"done\" \"frame\":1}",
        "{\"event\":\"do\nne\"}",
        "{\"event\":\"\\x\"}",
        "{\"event\":\"\\u00zz\"}",
        "{\"event\":\"done\",\"frame\":99999999999999999999}",
        "{\"event\":\"done\",\"x\":[1,2}",
        "{\"event\":\"done\",\"x\":}",
        "{event:\"done\"}",
        "{\"event\":\"done\"} {}",
        "{\"event\":\"\\u0000\"}",
        "{\"event\":\"\xff\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        rm_driver_event_t ev;
        CHECK_MSG(!rm_driver_event_parse(bad[i], &ev), "accepted %s", bad[i]);
        CHECK(!ev.event && !ev.file && !ev.reason && !ev.scope);
    }
}

/*  A line over the limit is refused before it is parsed; one at it reads. */
static void test_line_limit(void)
{
    const char *head = "{\"event\":\"done\",\"reason\":\"";
    size_t fill = RM_DRIVER_EVENT_LINE_MAX - strlen(head) - 2;
    char *line = malloc(RM_DRIVER_EVENT_LINE_MAX + 2);
    CHECK(line != NULL);
    if (!line)
        return;
    strcpy(line, head);
    memset(line + strlen(head), 'x', fill);
    strcpy(line + strlen(head) + fill, "\"}");
    CHECK(strlen(line) == RM_DRIVER_EVENT_LINE_MAX);
    rm_driver_event_t ev;
    CHECK(rm_driver_event_parse(line, &ev) && ev.reason && strlen(ev.reason) == fill);
    rm_driver_event_clear(&ev);
    memmove(line + 1, line, RM_DRIVER_EVENT_LINE_MAX + 1);
    line[0] = ' ';
    CHECK(!rm_driver_event_parse(line, &ev) && !ev.event);
    free(line);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    RM_RUN(test_events);
    RM_RUN(test_wrong_types);
    RM_RUN(test_escapes);
    RM_RUN(test_malformed);
    RM_RUN(test_line_limit);
    RM_TEST_DONE();
}
