#include "rm_ini.h"

#include <ini.h>
#include <pthread.h>

/*  Debian's libinih takes its options as process-wide variables: a parse
    sets them under this lock, so two callers wanting other options (the
    node's config and an S3 thread's AWS files) never see each other's. */
static pthread_mutex_t options_lock = PTHREAD_MUTEX_INITIALIZER;

#define LONGEST_LINE (1 << 20)

int rm_ini_parse_file(FILE *f, bool continuation_lines, rm_ini_entry_fn *entry, void *arg)
{
    pthread_mutex_lock(&options_lock);
    ini_use_stack = false;
    ini_allow_realloc = true;
    ini_initial_alloc = 256;
    ini_max_line = LONGEST_LINE;
    ini_allow_inline_comments = false;
    ini_stop_on_first_error = true;
    ini_allow_multiline = continuation_lines;
    ini_allow_no_value = false;
    int rc = ini_parse_file(f, entry, arg);
    pthread_mutex_unlock(&options_lock);
    return rc == -2 ? -1 : rc;
}
