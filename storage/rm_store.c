/*  rm_store: content-addressed chunk store on disk (see rm_store.h).

    Durability: a chunk is written to ROOT/tmp/<random>, fsync'd, renamed to
    ROOT/ab/<hash> and the directory fsync'd, so after a crash a chunk name
    either holds the whole chunk or does not exist.  Leftovers in tmp/ are
    only ever partial chunks and are removed at open.

    Chunks written without waiting (rm_store_put_unsynced) are appended to
    packs (rm_packs.h) with no fsync: before the first, ROOT/unsynced is
    made (and synced), and rm_store_sync removes it after fsyncing the
    packs appended to, once no such write is under way.  A crash in
    between may leave records over data that never reached the disk; so at
    open, if ROOT/unsynced is there, every pack (and chunk file, from
    before packs) written since it was made is read back, cut at or rid of
    what does not hash right, and the file system synced. */
#define _GNU_SOURCE /* syncfs */
#include "rm_store.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rm_fs.h"
#include "rm_packs.h"

struct _rm_store_t {
    char *root;
    char *tmpdir;
    rm_packs_t *packs; /* where chunks written without waiting go */
    /* Bytes of the chunks this process wrote (threads share the store):
       with a measured size, the store's size now (rm_store_bytes_added). */
    _Atomic uint64_t bytes_added;
    /* Writes that did not wait for the disk (threads share the store). */
    pthread_mutex_t lock;
    bool unsynced;            /* ROOT/unsynced is there */
    uint64_t writes_started;  /* unsynced writes begun, ever */
    uint32_t writing;         /* unsynced writes under way */
    uint64_t removed_at_open; /* unsynced chunks a crash left damaged */
};

#define UNSYNCED_MARK "unsynced"

static time_t unsynced_since(rm_store_t *self);
static int recover_unsynced(rm_store_t *self, time_t since, rm_err_t *err);

/*  ROOT/ab/<64 hex> is the longest path we build. */
#define RM_STORE_PATH_MAX (PATH_MAX + 80)

/*  --- Small file helpers ------------------------------------------------- */

/*  Removes every entry of ROOT/tmp: only our own partial writes live there. */
static int clean_tmp(const char *tmpdir, rm_err_t *err)
{
    DIR *dir = opendir(tmpdir);
    if (!dir)
        return rm_err_set(err, rm_err_from_errno(errno), "cannot open %s: %s", tmpdir,
                          strerror(errno));
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char path[RM_STORE_PATH_MAX];
        if (snprintf(path, sizeof path, "%s/%s", tmpdir, de->d_name) >= (int)sizeof path ||
            (unlink(path) != 0 && errno != ENOENT)) {
            rc = rm_err_set(err, rm_err_from_errno(errno), "cannot remove leftover %s: %s", path,
                            strerror(errno));
            break;
        }
    }
    closedir(dir);
    return rc;
}

/*  --- Open and close ------------------------------------------------------ */

static bool is_hex_name(const char *name, size_t want);

/*  ROOT/FORMAT names the hash chunks are named by. */
#define FORMAT_FILE "FORMAT"
#define FORMAT_NOW "sha256\n"

/*  True if ROOT holds a chunk folder (ROOT/ab/). */
static bool holds_chunks(const rm_store_t *self)
{
    DIR *dir = opendir(self->root);
    struct dirent *de;
    bool any = false;
    while (dir && !any && (de = readdir(dir)) != NULL)
        any = is_hex_name(de->d_name, 2);
    if (dir)
        closedir(dir);
    return any;
}

/*  A store is read only by the hash that named its chunks: a store without
    ROOT/FORMAT that holds chunks was written by a meshd of protocol 1
    (BLAKE2b names) and is refused by name, never misread as corrupt. */
static int check_format(rm_store_t *self, rm_err_t *err)
{
    char path[RM_STORE_PATH_MAX], text[32] = "";
    snprintf(path, sizeof path, "%s/" FORMAT_FILE, self->root);
    FILE *f = fopen(path, "r");
    if (f) {
        size_t n = fread(text, 1, sizeof text - 1, f);
        fclose(f);
        text[n] = '\0';
        if (strcmp(text, FORMAT_NOW) == 0)
            return 0;
        text[strcspn(text, "\n")] = '\0';
        return rm_err_set(err, RM_EINVAL,
                          "its chunks are named by '%s' (%s); this meshd names them by sha256",
                          text, path);
    }
    if (errno != ENOENT)
        return rm_err_set(err, rm_err_from_errno(errno), "cannot read %s: %s", path,
                          strerror(errno));
    if (holds_chunks(self))
        return rm_err_set(err, RM_EINVAL,
                          "it holds chunks named by BLAKE2b, written by a meshd of protocol 1; "
                          "this meshd names them by SHA-256 (protocol 2): start it with a new "
                          "home, after fetching what you need with the meshd and meshctl that "
                          "wrote this one");
    return rm_fs_write_atomic(path, FORMAT_NOW, strlen(FORMAT_NOW), 0600, err);
}

rm_store_t *rm_store_new(const char *root, rm_err_t *err)
{
    if (!root || !*root) {
        rm_err_set(err, RM_EINVAL, "store root is empty");
        return NULL;
    }
    if (strlen(root) >= PATH_MAX) {
        rm_err_set(err, RM_EINVAL, "store root %.64s... is too long", root);
        return NULL;
    }
    /* randombytes (temporary names) wants libsodium initialised; idempotent. */
    if (sodium_init() < 0) {
        rm_err_set(err, RM_EIO, "cannot initialise libsodium");
        return NULL;
    }
    rm_store_t *self = calloc(1, sizeof *self);
    if (!self) {
        rm_err_set(err, RM_ENOMEM, "out of memory opening store %s", root);
        return NULL;
    }
    size_t n = strlen(root) + sizeof "/tmp";
    self->root = strdup(root);
    self->tmpdir = malloc(n);
    if (!self->root || !self->tmpdir) {
        rm_err_set(err, RM_ENOMEM, "out of memory opening store %s", root);
        goto fail;
    }
    snprintf(self->tmpdir, n, "%s/tmp", root);
    pthread_mutex_init(&self->lock, NULL);
    if (rm_fs_mkdir_p(self->tmpdir, 0700, 0700, err) != 0 || check_format(self, err) != 0 ||
        clean_tmp(self->tmpdir, err) != 0) {
        rm_err_prefix(err, "opening store %s: ", root);
        goto fail;
    }
    time_t since = unsynced_since(self);
    uint64_t damaged = 0;
    if (!(self->packs = rm_packs_new(root, since, &damaged, err)) ||
        recover_unsynced(self, since, err) != 0) {
        rm_err_prefix(err, "opening store %s: ", root);
        goto fail;
    }
    self->removed_at_open += damaged;
    return self;
fail:
    rm_store_destroy(&self);
    return NULL;
}

void rm_store_destroy(rm_store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rm_store_t *self = *self_p;
    rm_packs_destroy(&self->packs);
    if (self->tmpdir) /* initialised with it */
        pthread_mutex_destroy(&self->lock);
    free(self->root);
    free(self->tmpdir);
    free(self);
    *self_p = NULL;
}

const char *rm_store_root(rm_store_t *self)
{
    return self->root;
}

/*  --- Chunks ----------------------------------------------------------------- */

static void chunk_path(const rm_store_t *self, const rm_hash_t *hash, char *out, size_t size)
{
    char hex[65];
    rm_hash_hex(hash, hex);
    snprintf(out, size, "%s/%.2s/%s", self->root, hex, hex);
}

bool rm_store_has(rm_store_t *self, const rm_hash_t *hash)
{
    char path[RM_STORE_PATH_MAX];
    struct stat st;
    if (rm_packs_has(self->packs, hash))
        return true;
    chunk_path(self, hash, path, sizeof path);
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

bool rm_store_peek(const char *root, const rm_hash_t *hash)
{
    char hex[65], path[RM_STORE_PATH_MAX];
    struct stat st;
    rm_hash_hex(hash, hex);
    snprintf(path, sizeof path, "%s/%.2s/%s", root, hex, hex);
    return (stat(path, &st) == 0 && S_ISREG(st.st_mode)) || rm_packs_peek(root, hash);
}

/*  Creates ROOT/tmp/<random> exclusively, so two writers of the same chunk
    (two threads, two processes) never share a temporary file. */
static int open_store_temp(rm_store_t *self, char *path, size_t size, rm_err_t *err)
{
    for (int attempt = 0; attempt < 16; attempt++) {
        uint8_t rnd[8];
        char hex[17];
        randombytes_buf(rnd, sizeof rnd);
        sodium_bin2hex(hex, sizeof hex, rnd, sizeof rnd);
        snprintf(path, size, "%s/%s", self->tmpdir, hex);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0)
            return fd;
        if (errno != EEXIST)
            return rm_err_set(err, rm_err_from_errno(errno), "cannot create %s: %s", path,
                              strerror(errno));
    }
    return rm_err_set(err, RM_EIO, "cannot create a temporary file in %s", self->tmpdir);
}

/*  Makes ROOT/ab (first use of that prefix) and syncs ROOT so the new
    directory survives a crash along with the chunk renamed into it. */
static int ensure_prefix_dir(rm_store_t *self, const char *dir, rm_err_t *err)
{
    if (mkdir(dir, 0700) == 0)
        return rm_fs_fsync_dir(self->root, err);
    if (errno == EEXIST)
        return 0;
    return rm_err_set(err, rm_err_from_errno(errno), "cannot create directory %s: %s", dir,
                      strerror(errno));
}

/*  Error for a failed write/fsync/close/rename of a chunk: a full disk gets
    RM_ENOSPC so the caller can tell it from a broken disk. */
static int chunk_write_error(const char *hex, const char *what, const char *path, int errnum,
                             rm_err_t *err)
{
    rm_code_t code = rm_err_from_errno(errnum);
    if (code == RM_ENOSPC)
        return rm_err_set(err, RM_ENOSPC, "chunk %s: disk full %s %s: %s", hex, what, path,
                          strerror(errnum));
    return rm_err_set(err, code == RM_ENOTFOUND ? RM_EIO : code, "chunk %s: cannot %s %s: %s", hex,
                      what, path, strerror(errnum));
}

static int write_chunk_file(rm_store_t *self, const char *hex, const void *data, size_t len,
                            const char *final, bool sync, rm_err_t *err)
{
    char tmp[RM_STORE_PATH_MAX];
    int fd = open_store_temp(self, tmp, sizeof tmp, err);
    if (fd < 0)
        return rm_err_prefix(err, "chunk %s: ", hex);
    const char *what = "writing";
    int rc = rm_fs_write_all(fd, data, len);
    if (rc == 0 && sync) {
        what = "syncing";
        rc = fsync(fd);
    }
    int saved = errno;
    if (close(fd) != 0 && rc == 0) {
        what = "closing";
        rc = -1;
        saved = errno;
    }
    if (rc == 0 && rename(tmp, final) != 0) {
        what = "renaming";
        rc = -1;
        saved = errno;
    }
    if (rc != 0) {
        unlink(tmp);
        return chunk_write_error(hex, what, tmp, saved, err);
    }
    return 0;
}

/*  Makes ROOT/unsynced, durably, before the first write that does not
    wait for the disk.  Called with the lock held. */
static int mark_unsynced(rm_store_t *self, rm_err_t *err)
{
    if (self->unsynced)
        return 0;
    char path[RM_STORE_PATH_MAX];
    snprintf(path, sizeof path, "%s/" UNSYNCED_MARK, self->root);
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return rm_err_set(err, rm_err_from_errno(errno), "cannot create %s: %s", path,
                          strerror(errno));
    /* Its time says since when chunks may not be on disk. */
    int rc = futimens(fd, NULL) == 0 && fsync(fd) == 0 ? 0 : -1;
    int saved = errno;
    close(fd);
    if (rc != 0)
        return rm_err_set(err, rm_err_from_errno(saved), "cannot write %s: %s", path,
                          strerror(saved));
    if (rm_fs_fsync_dir(self->root, err) != 0)
        return -1;
    self->unsynced = true;
    return 0;
}

/*  A write that does not wait for the disk begins: the unsynced mark is
    made first, and the write counted until end_unsynced (rm_store_sync
    removes the mark only when none was under way). */
static int begin_unsynced(rm_store_t *self, rm_err_t *err)
{
    pthread_mutex_lock(&self->lock);
    int rc = mark_unsynced(self, err);
    if (rc == 0) {
        self->writes_started++;
        self->writing++;
    }
    pthread_mutex_unlock(&self->lock);
    return rc;
}

static void end_unsynced(rm_store_t *self)
{
    pthread_mutex_lock(&self->lock);
    self->writing--;
    pthread_mutex_unlock(&self->lock);
}

/*  Writes a chunk whose hash the caller has just computed itself; `sync`:
    durable when this returns, else once rm_store_sync has run. */
static int put_verified(rm_store_t *self, const rm_hash_t *hash, const char *hex, const void *data,
                        size_t len, bool sync, rm_err_t *err)
{
    if (rm_store_has(self, hash)) {
        rm_store_touch(self, hash); /* in use again: the collector's grace starts anew */
        /* It may be one written without waiting: durable now, as asked. */
        return sync ? rm_store_sync(self, err) : 0;
    }
    if (!sync) {
        if (begin_unsynced(self, err) != 0)
            return rm_err_prefix(err, "chunk %s: ", hex);
        int rc = rm_packs_put(self->packs, hash, data, len, err);
        end_unsynced(self);
        if (rc == 0)
            self->bytes_added += RM_PACKS_HEADER + len;
        return rc;
    }
    char dir[RM_STORE_PATH_MAX];
    char final[RM_STORE_PATH_MAX];
    snprintf(dir, sizeof dir, "%s/%.2s", self->root, hex);
    chunk_path(self, hash, final, sizeof final);
    if (ensure_prefix_dir(self, dir, err) != 0)
        return rm_err_prefix(err, "chunk %s: ", hex);
    if (write_chunk_file(self, hex, data, len, final, true, err) != 0)
        return -1;
    self->bytes_added += len;
    if (rm_fs_fsync_dir(dir, err) != 0)
        return rm_err_prefix(err, "chunk %s: ", hex);
    return 0;
}

/*  Makes what was written without waiting durable: the packs appended to
    (only they: a syncfs would also wait for every other file on the file
    system, such as the project a submitter just wrote beside the node),
    or, after a crash (`whole_fs`), whatever an open cut or removed. */
static int sync_unsynced(rm_store_t *self, bool whole_fs, rm_err_t *err)
{
    pthread_mutex_lock(&self->lock);
    bool unsynced = self->unsynced;
    uint64_t started = self->writes_started;
    bool busy = self->writing > 0; /* it may end after the packs are looked at */
    pthread_mutex_unlock(&self->lock);
    if (!unsynced)
        return 0;
    if (!whole_fs && rm_packs_sync(self->packs, err) != 0)
        return rm_err_prefix(err, "cannot sync the store %s: ", self->root);
    int fd = whole_fs ? open(self->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (whole_fs && (fd < 0 || syncfs(fd) != 0)) {
        int saved = errno;
        if (fd >= 0)
            close(fd);
        return rm_err_set(err, rm_err_from_errno(saved), "cannot sync the store %s: %s", self->root,
                          strerror(saved));
    }
    if (fd >= 0)
        close(fd);
    pthread_mutex_lock(&self->lock);
    /* A write begun meanwhile may not be on disk: the mark stays for it. */
    if (!busy && self->writes_started == started && self->writing == 0) {
        char path[RM_STORE_PATH_MAX];
        snprintf(path, sizeof path, "%s/" UNSYNCED_MARK, self->root);
        unlink(path); /* lost in a crash: the next open checks for nothing */
        self->unsynced = false;
    }
    pthread_mutex_unlock(&self->lock);
    return 0;
}

int rm_store_sweep_packs(rm_store_t *self, rm_packs_keep_fn *keep, rm_packs_stop_fn *stop,
                         void *arg, rm_packs_sweep_stats_t *stats, rm_err_t *err)
{
    /* Records copied out of a pack are synced before it goes; a crash
       before that sync must find them checked at the next open, as any
       write that did not wait. */
    if (begin_unsynced(self, err) != 0)
        return -1;
    int rc = rm_packs_sweep(self->packs, keep, stop, arg, stats, err);
    end_unsynced(self);
    return rc;
}

int rm_store_sync(rm_store_t *self, rm_err_t *err)
{
    return sync_unsynced(self, false, err);
}

uint64_t rm_store_removed_at_open(const rm_store_t *self)
{
    return self->removed_at_open;
}

uint64_t rm_store_bytes_added(rm_store_t *self)
{
    return self->bytes_added;
}

int64_t rm_store_chunk_size(rm_store_t *self, const rm_hash_t *hash)
{
    char path[RM_STORE_PATH_MAX];
    struct stat st;
    int64_t packed = rm_packs_size(self->packs, hash);
    if (packed >= 0)
        return packed;
    chunk_path(self, hash, path, sizeof path);
    return lstat(path, &st) == 0 && S_ISREG(st.st_mode) ? (int64_t)st.st_size : -1;
}

/*  Checks that data is a chunk that hashes to `hash`, then writes it. */
static int put_checked(rm_store_t *self, const rm_hash_t *hash, const void *data, size_t len,
                       bool sync, rm_err_t *err)
{
    char hex[65];
    rm_hash_hex(hash, hex);
    if (len > RM_MAX_CHUNK_SIZE)
        return rm_err_set(err, RM_EINVAL, "chunk %s: %zu bytes, max %d", hex, len,
                          RM_MAX_CHUNK_SIZE);
    if (!data && len > 0)
        return rm_err_set(err, RM_EINVAL, "chunk %s: no data", hex);

    rm_hash_t actual;
    rm_hash(data, len, &actual);
    if (memcmp(actual.b, hash->b, sizeof actual.b) != 0) {
        char got[65];
        rm_hash_hex(&actual, got);
        return rm_err_set(err, RM_EPROTO, "chunk %s: data hashes to %s", hex, got);
    }
    return put_verified(self, hash, hex, data, len, sync, err);
}

int rm_store_put(rm_store_t *self, const rm_hash_t *hash, const void *data, size_t len,
                 rm_err_t *err)
{
    return put_checked(self, hash, data, len, true, err);
}

int rm_store_put_unsynced(rm_store_t *self, const rm_hash_t *hash, const void *data, size_t len,
                          rm_err_t *err)
{
    return put_checked(self, hash, data, len, false, err);
}

int rm_store_put_data(rm_store_t *self, const void *data, size_t len, rm_hash_t *hash,
                      rm_err_t *err)
{
    if (len > RM_MAX_CHUNK_SIZE)
        return rm_err_set(err, RM_EINVAL, "chunk of %zu bytes, max %d", len, RM_MAX_CHUNK_SIZE);
    if (!data && len > 0)
        return rm_err_set(err, RM_EINVAL, "chunk of %zu bytes: no data", len);
    rm_hash_t h;
    char hex[65];
    rm_hash(data, len, &h);
    rm_hash_hex(&h, hex);
    if (put_verified(self, &h, hex, data, len, true, err) != 0)
        return -1;
    *hash = h;
    return 0;
}

static int read_all(int fd, uint8_t *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = read(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0)
            errno = EIO; /* the file shrank under us */
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/*  A chunk whose bytes no longer match its name is worse than useless: it
    would be served to peers.  Remove it so the next NEED fetches it again. */
static int corrupt_chunk(const char *path, const char *hex, const char *why, rm_err_t *err)
{
    int removed = unlink(path) == 0;
    return rm_err_set(err, RM_EIO, "chunk %s is corrupt (%s): %s %s", hex, why,
                      removed ? "removed" : "could not remove", path);
}

static int read_chunk_fd(int fd, const char *path, const char *hex, uint8_t **data, size_t *len,
                         rm_err_t *err)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return rm_err_set(err, RM_EIO, "chunk %s: cannot stat %s: %s", hex, path, strerror(errno));
    if (!S_ISREG(st.st_mode) || st.st_size > RM_MAX_CHUNK_SIZE)
        return corrupt_chunk(path, hex, "not a regular file of at most 1 MiB", err);
    size_t size = (size_t)st.st_size;
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return rm_err_set(err, RM_ENOMEM, "chunk %s: out of memory", hex);
    if (read_all(fd, buf, size) != 0) {
        int saved = errno;
        free(buf);
        return rm_err_set(err, RM_EIO, "chunk %s: cannot read %s: %s", hex, path, strerror(saved));
    }
    *data = buf;
    *len = size;
    return 0;
}

int rm_store_get(rm_store_t *self, const rm_hash_t *hash, uint8_t **data, size_t *len,
                 rm_err_t *err)
{
    char hex[65];
    char path[RM_STORE_PATH_MAX];
    rm_hash_hex(hash, hex);
    chunk_path(self, hash, path, sizeof path);

    rm_err_t packed = {0};
    int rc = rm_packs_get(self->packs, hash, data, len, &packed);
    if (rc == 0)
        return 0;
    if (packed.code != RM_ENOTFOUND) /* err may be NULL: callers that only ask */
        return rm_err_set(err, packed.code, "%s", packed.msg);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return rm_err_set(err, RM_ENOTFOUND, "chunk %s not in store %s", hex, self->root);
    if (fd < 0)
        return rm_err_set(err, RM_EIO, "chunk %s: cannot open %s: %s", hex, path, strerror(errno));
    uint8_t *buf = NULL;
    size_t size = 0;
    rc = read_chunk_fd(fd, path, hex, &buf, &size, err);
    close(fd);
    if (rc != 0)
        return -1;

    rm_hash_t actual;
    rm_hash(buf, size, &actual);
    if (memcmp(actual.b, hash->b, sizeof actual.b) != 0) {
        free(buf);
        return corrupt_chunk(path, hex, "content does not match its hash", err);
    }
    *data = buf;
    *len = size;
    return 0;
}

void rm_store_touch(rm_store_t *self, const rm_hash_t *hash)
{
    char path[RM_STORE_PATH_MAX];
    if (rm_packs_touch(self->packs, hash))
        return;
    chunk_path(self, hash, path, sizeof path);
    (void)utimensat(AT_FDCWD, path, NULL, 0);
}

/*  --- Usage ------------------------------------------------------------------ */

static bool is_hex_name(const char *name, size_t want)
{
    return strlen(name) == want && strspn(name, "0123456789abcdefABCDEF") == want;
}

static int usage_prefix_dir(const char *dirpath, uint64_t *bytes, uint64_t *chunks, rm_err_t *err)
{
    DIR *dir = opendir(dirpath);
    if (!dir)
        return rm_err_set(err, rm_err_from_errno(errno), "cannot open %s: %s", dirpath,
                          strerror(errno));
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        if (!is_hex_name(de->d_name, 64))
            continue;
        char path[RM_STORE_PATH_MAX];
        struct stat st;
        if (snprintf(path, sizeof path, "%s/%s", dirpath, de->d_name) >= (int)sizeof path ||
            stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue; /* removed meanwhile, or not ours */
        *bytes += (uint64_t)st.st_size;
        *chunks += 1;
    }
    closedir(dir);
    return 0;
}

int rm_store_usage(rm_store_t *self, uint64_t *bytes, uint64_t *chunks, rm_err_t *err)
{
    DIR *dir = opendir(self->root);
    if (!dir)
        return rm_err_set(err, rm_err_from_errno(errno), "cannot open store %s: %s", self->root,
                          strerror(errno));
    uint64_t b = 0, c = 0;
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(dir)) != NULL) {
        if (!is_hex_name(de->d_name, 2))
            continue;
        char path[RM_STORE_PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", self->root, de->d_name);
        rc = usage_prefix_dir(path, &b, &c, err);
    }
    closedir(dir);
    if (rc != 0)
        return -1;
    uint64_t pb, pc;
    rm_packs_usage(self->packs, &pb, &pc);
    *bytes = b + pb;
    *chunks = c + pc;
    return 0;
}

/*  Reads back every chunk of ROOT/ab written since `since` (seconds):
    rm_store_get removes one that does not hash right.  The count of those
    removed goes to *removed. */
static int check_prefix_dir(rm_store_t *self, const char *dirpath, time_t since, uint64_t *removed)
{
    DIR *dir = opendir(dirpath);
    if (!dir)
        return 0;
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        char path[RM_STORE_PATH_MAX];
        struct stat st;
        rm_hash_t hash;
        if (!is_hex_name(de->d_name, 64) ||
            snprintf(path, sizeof path, "%s/%s", dirpath, de->d_name) >= (int)sizeof path ||
            lstat(path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_mtime < since ||
            rm_hash_parse(de->d_name, &hash) != 0)
            continue;
        uint8_t *data = NULL;
        size_t len = 0;
        rm_err_t e;
        if (rm_store_get(self, &hash, &data, &len, &e) != 0 && e.code == RM_EIO)
            (*removed)++;
        free(data);
    }
    closedir(dir);
    return 0;
}

/*  Since when writes may not have reached the disk (the unsynced mark's
    time), or -1: every write was synced. */
static time_t unsynced_since(rm_store_t *self)
{
    char mark[RM_STORE_PATH_MAX];
    struct stat st;
    snprintf(mark, sizeof mark, "%s/" UNSYNCED_MARK, self->root);
    return stat(mark, &st) == 0 ? st.st_mtime - 2 /* coarse clocks */ : -1;
}

static int recover_unsynced(rm_store_t *self, time_t since, rm_err_t *err)
{
    if (since < 0)
        return 0;
    uint64_t removed = 0;
    DIR *dir = opendir(self->root);
    if (!dir)
        return rm_err_set(err, rm_err_from_errno(errno), "cannot open %s: %s", self->root,
                          strerror(errno));
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        char path[RM_STORE_PATH_MAX];
        if (is_hex_name(de->d_name, 2) &&
            snprintf(path, sizeof path, "%s/%s", self->root, de->d_name) < (int)sizeof path)
            check_prefix_dir(self, path, since, &removed);
    }
    closedir(dir);
    self->removed_at_open += removed;
    self->unsynced = true; /* removing the mark waits for the sync */
    self->writes_started = 0;
    return sync_unsynced(self, true, err);
}
