#include "rm_error.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int rm_err_set(rm_err_t *err, rm_code_t code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int rm_err_prefix(rm_err_t *err, const char *fmt, ...)
{
    if (err) {
        char prefix[RM_ERR_MSG_MAX];
        char old[RM_ERR_MSG_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(prefix, sizeof prefix, fmt, ap);
        va_end(ap);
        memcpy(old, err->msg, sizeof old);
        /* Copied by hand: gcc -Wformat-truncation rejects snprintf("%s%s"). */
        size_t n = strnlen(prefix, sizeof prefix - 1);
        size_t m = strnlen(old, sizeof err->msg - 1 - n);
        memcpy(err->msg, prefix, n);
        memcpy(err->msg + n, old, m);
        err->msg[n + m] = '\0';
    }
    return -1;
}

rm_code_t rm_err_from_errno(int errnum)
{
    switch (errnum) {
    case ENOSPC:
#ifdef EDQUOT
    case EDQUOT:
#endif
        return RM_ENOSPC;
    case ENOENT:
        return RM_ENOTFOUND;
    case ENOMEM:
        return RM_ENOMEM;
    case EINVAL:
        return RM_EINVAL;
    default:
        return RM_EIO;
    }
}

const char *rm_code_name(rm_code_t code)
{
    static const char *const names[] = {
        "OK",       "EINVAL",   "EPROTO",   "EAUTH",     "ENOTFOUND", "EIO",    "ENOSPC",  "ENOMEM",
        "ETIMEOUT", "EBLENDER", "EUNREACH", "ECANCELED", "ESTALE",    "EAGAIN", "EDENIED",
    };
    if ((unsigned)code < sizeof names / sizeof names[0])
        return names[code];
    return "EUNKNOWN";
}

void rm_err_clear(rm_err_t *err)
{
    if (err) {
        err->code = RM_OK;
        err->msg[0] = '\0';
    }
}
