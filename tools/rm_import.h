/*  rm_import: the client's side of IMPORT.  meshctl submit s3://... asks
    the node to read the project from S3 itself (nothing passes through
    the client), then asks again every RM_IMPORT_POLL_MS, saying how far it
    is, until the node answers with the project's manifest, which the
    SUBMIT then names (the node holds every chunk: it sends no NEED). */
#ifndef RM_IMPORT_H
#define RM_IMPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "rm_client.h"
#include "rm_msg.h"

#define RM_IMPORT_POLL_MS 500

/*  Runs the import of blend (+ attach) on the node until it ends; *out
    (free with rm_codec_free(rm_msg_desc(RM_MSG_IMPORT_REPLY), out)) holds
    the manifest, the .blend's path in it and the root.  progress: where
    to say how far it is (NULL: nowhere).  A failed import is RM_EIO with
    the node's reason. */
int rm_import_run(rm_client_t *client, const char *blend, const char *const *attach, size_t nattach,
                  FILE *progress, rm_import_reply_t *out, rm_err_t *err);

#endif
