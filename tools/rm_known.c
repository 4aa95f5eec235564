#include "rm_known.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rm_door.h"
#include "rm_fs.h"

void rm_known_path(const char *dir, const char *addr, char *out, size_t size)
{
    char name[256];
    size_t n = 0;
    for (const char *c = addr; *c && n + 1 < sizeof name; c++) {
        bool plain = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                     (*c >= '0' && *c <= '9') || *c == '.' || *c == '-';
        name[n++] = plain ? *c : '_';
    }
    name[n] = '\0';
    snprintf(out, size, "%s/%s", dir, name);
}

/*  The file's bytes (at most RM_KNOWN_MAX_BYTES). */
static int read_entry(const char *path, uint8_t **data, size_t *len, rm_err_t *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return rm_err_set(err, errno == ENOENT ? RM_ENOTFOUND : RM_EIO, "cannot open %s: %s", path,
                          strerror(errno));
    struct stat st;
    int rc = -1;
    if (fstat(fd, &st) != 0 || st.st_size <= 0 || st.st_size > RM_KNOWN_MAX_BYTES) {
        rm_err_set(err, RM_EPROTO, "%s: not a remembered WELCOME (size)", path);
    } else if (!(*data = malloc((size_t)st.st_size))) {
        rm_err_set(err, RM_ENOMEM, "out of memory");
    } else if (read(fd, *data, (size_t)st.st_size) != st.st_size) {
        rm_err_set(err, RM_EIO, "cannot read %s", path);
        free(*data);
        *data = NULL;
    } else {
        *len = (size_t)st.st_size;
        rc = 0;
    }
    close(fd);
    return rc;
}

int rm_known_find(const char *dir, const char *addr, const uint8_t mesh_pk[32], int64_t now,
                  uint8_t node_pk[32], char **node, rm_err_t *err)
{
    char path[1400];
    rm_known_path(dir, addr, path, sizeof path);
    uint8_t *data = NULL;
    size_t len = 0;
    *node = NULL;
    if (read_entry(path, &data, &len, err) != 0)
        return -1;
    rm_msg_t msg;
    int rc = rm_msg_decode(data, len, &msg, err);
    free(data);
    if (rc == 0 && msg.type != RM_MSG_WELCOME)
        rc = rm_err_set(err, RM_EPROTO, "%s: not a remembered WELCOME", path);
    rm_cred_t cred;
    memset(&cred, 0, sizeof cred);
    char who[300];
    snprintf(who, sizeof who, "the node remembered for %s", addr);
    if (rc == 0)
        rc = rm_door_welcome_verify(&msg.u.welcome, mesh_pk, now, who, &cred, err);
    if (rc == 0) {
        memcpy(node_pk, cred.curve_pk.b, 32);
        if (!(*node = strdup(cred.name)))
            rc = rm_err_set(err, RM_ENOMEM, "out of memory");
        rm_codec_free(&rm_cred_desc, &cred);
    }
    rm_msg_free(&msg);
    return rc;
}

int rm_known_save(const char *dir, const char *addr, const rm_welcome_t *welcome, rm_err_t *err)
{
    if (rm_fs_mkdir_p(dir, 0700, 0700, err) != 0)
        return -1;
    uint8_t *buf = NULL;
    size_t len = 0;
    if (rm_msg_encode(RM_MSG_WELCOME, 0, welcome, &buf, &len, err) != 0)
        return -1;
    char path[1400];
    rm_known_path(dir, addr, path, sizeof path);
    int rc = rm_fs_write_atomic(path, buf, len, 0600, err);
    free(buf);
    return rc;
}

void rm_known_forget(const char *dir, const char *addr)
{
    char path[1400];
    rm_known_path(dir, addr, path, sizeof path);
    unlink(path);
}
