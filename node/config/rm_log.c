/*  rm_log: escaped log lines through zsys. */
#include "rm_log.h"

#include <czmq.h>
#include <stdarg.h>

#include "rm_text.h"

#define LINE_MAX_BYTES 4096 /* longer lines are cut: a log line is not a channel */

typedef void(log_fn)(const char *format, ...);

static void emit(log_fn *fn, const char *fmt, va_list ap)
{
    char raw[LINE_MAX_BYTES], safe[LINE_MAX_BYTES];
    vsnprintf(raw, sizeof raw, fmt, ap);
    fn("%s", rm_text_escape(raw, false, safe, sizeof safe));
}

#define RM_LOG_LEVEL(name, zsys_fn)                                                                \
    void name(const char *fmt, ...)                                                                \
    {                                                                                              \
        va_list ap;                                                                                \
        va_start(ap, fmt);                                                                         \
        emit(zsys_fn, fmt, ap);                                                                    \
        va_end(ap);                                                                                \
    }

RM_LOG_LEVEL(rm_log_debug, zsys_debug)
RM_LOG_LEVEL(rm_log_info, zsys_info)
RM_LOG_LEVEL(rm_log_notice, zsys_notice)
RM_LOG_LEVEL(rm_log_warning, zsys_warning)
RM_LOG_LEVEL(rm_log_error, zsys_error)
