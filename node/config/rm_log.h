/*  rm_log: meshd's log lines.

    Every line goes through rm_text_escape whole, so that whatever a
    format's arguments hold (a job name, a peer's message, a path from a
    .blend) it stays one line of printable characters: a name with a
    newline cannot forge a line, an escape sequence cannot drive the
    terminal of whoever reads the log.  Use these instead of zsys_info and
    its siblings everywhere in meshd; they write through zsys, so the
    process's log settings (ident, syslog) hold. */
#ifndef RM_LOG_H
#define RM_LOG_H

#define RM_LOG_FORMAT __attribute__((format(printf, 1, 2)))

void rm_log_debug(const char *fmt, ...) RM_LOG_FORMAT;
void rm_log_info(const char *fmt, ...) RM_LOG_FORMAT;
void rm_log_notice(const char *fmt, ...) RM_LOG_FORMAT;
void rm_log_warning(const char *fmt, ...) RM_LOG_FORMAT;
void rm_log_error(const char *fmt, ...) RM_LOG_FORMAT;

#endif
