/*  libFuzzer target: the driver's JSON-line events (rm_driver_event_parse).
    Whatever it accepts has an "event" string; whatever it refuses leaves
    the event cleared. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rm_driver_event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *line = malloc(size + 1);
    if (!line)
        return 0;
    memcpy(line, data, size);
    line[size] = '\0';
    rm_driver_event_t ev;
    if (rm_driver_event_parse(line, &ev)) {
        if (!ev.event)
            abort();
        rm_driver_event_clear(&ev);
    } else if (ev.event || ev.file || ev.reason || ev.scope || ev.dir || ev.files || ev.warning ||
               ev.has_frame) {
        abort();
    }
    free(line);
    return 0;
}
