#include "rm_import.h"

#include <inttypes.h>
#include <string.h>

#include <czmq.h>

#include "rm_cli.h"

static void say(FILE *to, const rm_import_reply_t *r, const char *blend)
{
    char done[32], total[32];
    rm_cli_fmt_bytes(r->bytes_done, done, sizeof done);
    rm_cli_fmt_bytes(r->bytes, total, sizeof total);
    fprintf(to, "meshctl: node reads %s from S3: %" PRIu64 " file(s), %s of %s\n", blend, r->files,
            done, total);
    fflush(to);
}

int rm_import_run(rm_client_t *client, const char *blend, const char *const *attach, size_t nattach,
                  FILE *progress, rm_import_reply_t *out, rm_err_t *err)
{
    rm_import_t body = {.blend = (char *)blend,
                        .attach = {.items = (char **)attach, .count = (uint32_t)nattach}};
    uint64_t said = UINT64_MAX;
    memset(out, 0, sizeof *out);
    while (true) {
        rm_msg_t reply;
        if (rm_client_call(client, RM_MSG_IMPORT, &body, RM_MSG_IMPORT_REPLY, 0, &reply, err) !=
            0) {
            rm_msg_free(&reply);
            return -1;
        }
        *out = reply.u.import_reply;
        memset(&reply.u.import_reply, 0, sizeof reply.u.import_reply);
        rm_msg_free(&reply);
        if (strcmp(out->state, "done") == 0) {
            if (progress && said != out->bytes_done)
                say(progress, out, blend);
            return 0;
        }
        if (strcmp(out->state, "failed") == 0)
            return rm_err_set(err, RM_EIO, "node %s could not read the project from S3: %s",
                              rm_client_node(client), out->error);
        if (progress && out->bytes > 0 && said != out->bytes_done) {
            say(progress, out, blend);
            said = out->bytes_done;
        }
        rm_codec_free(rm_msg_desc(RM_MSG_IMPORT_REPLY), out);
        zclock_sleep(RM_IMPORT_POLL_MS);
    }
}
