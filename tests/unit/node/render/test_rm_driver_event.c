/*  Tests of the driver's JSON-line reader and the JSON string writer. */
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

    /* A string where a number belongs is skipped, not read. */
    CHECK(rm_driver_event_parse("{\"event\":\"done\",\"frame\":\"7\"}", &ev));
    CHECK(!ev.has_frame && ev.frame == 0);
    rm_driver_event_clear(&ev);
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
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        rm_driver_event_t ev;
        CHECK_MSG(!rm_driver_event_parse(bad[i], &ev), "accepted %s", bad[i]);
        CHECK(!ev.event && !ev.file && !ev.reason && !ev.scope);
    }
}

/*  Written strings read back unchanged. */
static void test_round_trip(void)
{
    const char *values[] = {"", "plain", "quote \" backslash \\ slash /", "ctl \x01\x1f\t\r\n end",
                            "utf-8 \xc3\xa9\xe2\x82\xac"};
    for (size_t i = 0; i < sizeof values / sizeof *values; i++) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        fputs("{\"event\":", f);
        rm_driver_json_str(f, values[i]);
        fputs(",\"reason\":", f);
        rm_driver_json_str(f, NULL);
        fputc('}', f);
        fclose(f);
        rm_driver_event_t ev;
        CHECK_MSG(rm_driver_event_parse(buf, &ev), "cannot read back %s", buf);
        CHECK_MSG(ev.event && streq(ev.event, values[i]), "%s", buf);
        CHECK(ev.reason && streq(ev.reason, ""));
        CHECK(!strchr(buf, '\n') && !strchr(buf, '\x01'));
        rm_driver_event_clear(&ev);
        free(buf);
    }
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    RM_RUN(test_events);
    RM_RUN(test_escapes);
    RM_RUN(test_malformed);
    RM_RUN(test_round_trip);
    RM_TEST_DONE();
}
