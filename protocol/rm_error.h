/*  rm_error: the one error type of rendermesh.
    Every fallible call returns 0 on success or -1 on failure and, when the
    caller passed an rm_err_t, fills it with a code and a message written for
    the person reading the log ("chunk 3fa2..: disk full writing /x/y"). */
#ifndef RM_ERROR_H
#define RM_ERROR_H

#include <stdarg.h>

typedef enum {
    RM_OK = 0,
    RM_EINVAL,    /* bad argument or bad input from a user */
    RM_EPROTO,    /* malformed or unexpected message from the network */
    RM_EAUTH,     /* credential missing, forged, expired or from another mesh */
    RM_ENOTFOUND, /* named thing does not exist (file, job, chunk, scene) */
    RM_EIO,       /* I/O error other than a full disk */
    RM_ENOSPC,    /* disk full */
    RM_ENOMEM,    /* allocation failed */
    RM_ETIMEOUT,  /* peer or process did not answer in time */
    RM_EBLENDER,  /* Blender missing, crashed or refused the scene */
    RM_EUNREACH,  /* cannot reach a node */
    RM_ECANCELED, /* the job was cancelled */
    RM_ESTALE,    /* an assignment from an older coordinator epoch */
    RM_EAGAIN,    /* not possible yet (no second node holds the job): try again */
    RM_EDENIED,   /* the sender's role lacks the right (an artist draining a node) */
} rm_code_t;
#define RM_CODE_LAST RM_EDENIED

#define RM_ERR_MSG_MAX 512

typedef struct {
    rm_code_t code;
    char msg[RM_ERR_MSG_MAX];
} rm_err_t;

/*  Sets *err (if not NULL) and returns -1, so callers can write
    `return rm_err_set (err, RM_EIO, "cannot open %s: %s", path, strerror (errno));` */
int rm_err_set(rm_err_t *err, rm_code_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*  Prefixes the message already in *err with more context ("storing job x: ").
    Returns -1. */
int rm_err_prefix(rm_err_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*  Maps errno to a code (ENOSPC/EDQUOT -> RM_ENOSPC, ENOENT -> RM_ENOTFOUND,
    ENOMEM -> RM_ENOMEM, else RM_EIO). */
rm_code_t rm_err_from_errno(int errnum);

/*  Short stable name of a code ("ENOSPC"), for logs and the wire. */
const char *rm_code_name(rm_code_t code);

/*  Clears *err to RM_OK and an empty message. */
void rm_err_clear(rm_err_t *err);

#endif
