/*  rm_packs: chunks appended to pack files (see rm_packs.h). */
#define _GNU_SOURCE /* pwritev, sync_file_range */
#include "rm_packs.h"

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
#include <sys/uio.h>
#include <unistd.h>

#include "rm_fs.h"
#include "rm_msg.h"

#define MAGIC "RMP1"
#define DEAD "RMPX" /* a record found rotten: skipped at open */
#define NAME_LEN 21 /* 16 hex + ".pack" */
#define NO_PACK UINT32_MAX
#define FLUSH_BYTES ((uint64_t)4 << 20)

typedef struct {
    rm_hash_t hash;
    uint32_t pack; /* slot in packs */
    uint32_t len;
    uint64_t offset; /* of the record's header */
    int64_t used_at; /* unix s */
    bool used;       /* the table slot holds an entry */
} entry_t;

typedef struct {
    char name[NAME_LEN + 1];
    uint64_t size;       /* bytes of records in the file */
    uint64_t live_bytes; /* of records the index points to */
    uint64_t live;
    uint64_t flushed;   /* bytes whose write-back has been started */
    int64_t touched_at; /* unix s of the last utimensat */
    bool dirty;         /* appended to since the last rm_packs_sync */
    bool in_use;
} pack_t;

struct _rm_packs_t {
    char *dir;
    pthread_mutex_t lock;
    pthread_mutex_t sync_lock; /* one rm_packs_sync at a time (see there) */
    uint8_t key[crypto_shorthash_KEYBYTES];
    entry_t *table; /* open addressing, linear probing; cap a power of two */
    size_t cap, count;
    pack_t *packs;
    uint32_t npacks, packs_cap;
    uint32_t cur; /* the pack appended to, NO_PACK: none open */
    int cur_fd;
};

/*  --- Index ---------------------------------------------------------------- */

/*  A keyed hash of the chunk's hash: a submitter who grinds chunks whose
    SHA-256 share leading bytes cannot pile them up in one probe chain. */
static size_t slot_of(const uint8_t key[crypto_shorthash_KEYBYTES], const rm_hash_t *hash,
                      size_t cap)
{
    uint8_t out[crypto_shorthash_BYTES];
    uint64_t h;
    crypto_shorthash(out, hash->b, sizeof hash->b, key);
    memcpy(&h, out, sizeof h);
    return (size_t)h & (cap - 1);
}

static size_t home(const rm_packs_t *self, const rm_hash_t *hash)
{
    return slot_of(self->key, hash, self->cap);
}

static entry_t *lookup(rm_packs_t *self, const rm_hash_t *hash)
{
    for (size_t i = home(self, hash);; i = (i + 1) & (self->cap - 1)) {
        entry_t *e = &self->table[i];
        if (!e->used)
            return NULL;
        if (memcmp(e->hash.b, hash->b, sizeof hash->b) == 0)
            return e;
    }
}

static void place(const rm_packs_t *self, entry_t *table, size_t cap, const entry_t *e)
{
    size_t i = slot_of(self->key, &e->hash, cap);
    while (table[i].used)
        i = (i + 1) & (cap - 1);
    table[i] = *e;
}

static int grow(rm_packs_t *self)
{
    size_t cap = self->cap * 2;
    entry_t *table = calloc(cap, sizeof *table);
    if (!table)
        return -1;
    for (size_t i = 0; i < self->cap; i++)
        if (self->table[i].used)
            place(self, table, cap, &self->table[i]);
    free(self->table);
    self->table = table;
    self->cap = cap;
    return 0;
}

static int insert(rm_packs_t *self, const entry_t *e)
{
    if ((self->count + 1) * 4 > self->cap * 3 && grow(self) != 0)
        return -1;
    place(self, self->table, self->cap, e);
    self->count++;
    pack_t *p = &self->packs[e->pack];
    p->live++;
    p->live_bytes += RM_PACKS_HEADER + e->len;
    return 0;
}

/*  Removes e from the index (backward-shift deletion keeps every probe
    chain whole). */
static void drop(rm_packs_t *self, entry_t *e)
{
    pack_t *p = &self->packs[e->pack];
    p->live--;
    p->live_bytes -= RM_PACKS_HEADER + e->len;
    size_t mask = self->cap - 1, i = (size_t)(e - self->table), j = i;
    self->table[i].used = false;
    for (;;) {
        j = (j + 1) & mask;
        if (!self->table[j].used)
            break;
        size_t k = home(self, &self->table[j].hash);
        /* j's entry moves into the hole unless its home lies in (i, j]. */
        bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (!stays) {
            self->table[i] = self->table[j];
            self->table[j].used = false;
            i = j;
        }
    }
    self->count--;
}

/*  --- Packs ------------------------------------------------------------------ */

static void pack_path(const rm_packs_t *self, const char *name, char *out, size_t size)
{
    snprintf(out, size, "%s/%s", self->dir, name);
}

static uint32_t pack_slot(rm_packs_t *self, const char *name)
{
    uint32_t slot = 0;
    while (slot < self->npacks && self->packs[slot].in_use)
        slot++;
    if (slot == self->npacks) {
        if (self->npacks == self->packs_cap) {
            uint32_t cap = self->packs_cap ? self->packs_cap * 2 : 16;
            pack_t *grown = realloc(self->packs, cap * sizeof *grown);
            if (!grown)
                return NO_PACK;
            self->packs = grown;
            self->packs_cap = cap;
        }
        self->npacks++;
    }
    memset(&self->packs[slot], 0, sizeof self->packs[slot]);
    snprintf(self->packs[slot].name, sizeof self->packs[slot].name, "%s", name);
    self->packs[slot].in_use = true;
    return slot;
}

static void close_current(rm_packs_t *self)
{
    if (self->cur_fd >= 0)
        close(self->cur_fd);
    self->cur_fd = -1;
    self->cur = NO_PACK;
}

/*  A pack to append to: the current one while it has room, else a new
    one.  Called with the lock held. */
static int ensure_current(rm_packs_t *self, rm_err_t *err)
{
    if (self->cur != NO_PACK && self->packs[self->cur].size < RM_PACKS_MAX_BYTES)
        return 0;
    close_current(self);
    for (int attempt = 0; attempt < 16; attempt++) {
        uint8_t rnd[8];
        char name[NAME_LEN + 1], path[PATH_MAX + 32];
        randombytes_buf(rnd, sizeof rnd);
        sodium_bin2hex(name, 17, rnd, sizeof rnd);
        strcat(name, ".pack");
        pack_path(self, name, path, sizeof path);
        int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0 && errno == EEXIST)
            continue;
        if (fd < 0)
            return rm_err_set(err, rm_err_from_errno(errno), "cannot create pack %s: %s", path,
                              strerror(errno));
        uint32_t slot = pack_slot(self, name);
        if (slot == NO_PACK) {
            close(fd);
            unlink(path);
            return rm_err_set(err, RM_ENOMEM, "out of memory");
        }
        self->cur = slot;
        self->cur_fd = fd;
        return 0;
    }
    return rm_err_set(err, RM_EIO, "cannot name a new pack in %s", self->dir);
}

static void encode_header(uint8_t *hdr, const rm_hash_t *hash, size_t len)
{
    memcpy(hdr, MAGIC, 4);
    for (int i = 0; i < 4; i++)
        hdr[4 + i] = (uint8_t)(len >> (8 * i));
    memcpy(hdr + 8, hash->b, 32);
}

/*  Length in a header, or -1 if it is not one; *dead: a record marked
    rotten, to be skipped. */
static int64_t decode_header(const uint8_t *hdr, rm_hash_t *hash, bool *dead)
{
    *dead = memcmp(hdr, DEAD, 4) == 0;
    if (memcmp(hdr, MAGIC, 4) != 0 && !*dead)
        return -1;
    uint32_t len = 0;
    for (int i = 0; i < 4; i++)
        len |= (uint32_t)hdr[4 + i] << (8 * i);
    if (len > RM_MAX_CHUNK_SIZE)
        return -1;
    memcpy(hash->b, hdr + 8, 32);
    return len;
}

static int pread_all(int fd, void *buf, size_t len, uint64_t off)
{
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = pread(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0)
            errno = EIO; /* shorter than its records say */
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

/*  Writes one record at the end of the current pack: *slot and *off say
    where.  Lock held. */
static int write_record(rm_packs_t *self, const rm_hash_t *hash, const void *data, size_t len,
                        uint32_t *slot, uint64_t *off, rm_err_t *err)
{
    if (ensure_current(self, err) != 0)
        return -1;
    pack_t *p = &self->packs[self->cur];
    uint8_t hdr[RM_PACKS_HEADER];
    encode_header(hdr, hash, len);
    uint64_t want = sizeof hdr + len, done = 0;
    int saved = 0;
    while (done < want) {
        struct iovec part[2];
        int n_iov = 0;
        if (done < sizeof hdr)
            part[n_iov++] = (struct iovec){hdr + done, sizeof hdr - (size_t)done};
        size_t skip = done < sizeof hdr ? 0 : (size_t)(done - sizeof hdr);
        part[n_iov++] = (struct iovec){(uint8_t *)data + skip, len - skip};
        ssize_t n = pwritev(self->cur_fd, part, n_iov, (off_t)(p->size + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            saved = n < 0 ? errno : EIO;
            break;
        }
        done += (uint64_t)n;
    }
    if (done < want) {
        char hex[65];
        rm_hash_hex(hash, hex);
        rm_code_t code = rm_err_from_errno(saved);
        rm_err_set(
            err, code == RM_ENOSPC ? RM_ENOSPC : RM_EIO, "chunk %s: %s writing pack %s/%s: %s", hex,
            code == RM_ENOSPC ? "disk full" : "cannot write", self->dir, p->name, strerror(saved));
        /* Cut what was written; if that fails too, append elsewhere. */
        if (ftruncate(self->cur_fd, (off_t)p->size) != 0)
            close_current(self);
        return -1;
    }
    *slot = self->cur;
    *off = p->size;
    p->size += want;
    p->dirty = true;
    /* Start writing back what is appended, without waiting: the store's
       sync that makes a submission durable then finds little left to do. */
    if (p->size - p->flushed >= FLUSH_BYTES) {
        (void)sync_file_range(self->cur_fd, (off_t)p->flushed, (off_t)(p->size - p->flushed),
                              SYNC_FILE_RANGE_WRITE);
        p->flushed = p->size;
    }
    return 0;
}

/*  Appends one record to the current pack and indexes it.  Lock held. */
static int append(rm_packs_t *self, const rm_hash_t *hash, const void *data, size_t len,
                  rm_err_t *err)
{
    entry_t e = {.hash = *hash, .len = (uint32_t)len, .used_at = (int64_t)time(NULL), .used = true};
    if (write_record(self, hash, data, len, &e.pack, &e.offset, err) != 0)
        return -1;
    if (insert(self, &e) != 0)
        return rm_err_set(err, RM_ENOMEM, "out of memory indexing packs");
    return 0;
}

/*  --- Open: read every pack's records ------------------------------------- */

/*  Reads a pack's records into the index: a dead one, or when verifying
    one that does not hash right, is skipped; the pack is cut at the first
    that is not whole (a torn tail); a read error leaves it as it is. */
static int scan_pack(rm_packs_t *self, const char *name, time_t verify_since, uint64_t *damaged,
                     rm_err_t *err)
{
    char path[PATH_MAX + 32];
    pack_path(self, name, path, sizeof path);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        int saved = errno;
        if (fd >= 0)
            close(fd);
        return rm_err_set(err, rm_err_from_errno(saved), "cannot open pack %s: %s", path,
                          strerror(saved));
    }
    uint32_t slot = pack_slot(self, name);
    if (slot == NO_PACK) {
        close(fd);
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    }
    bool verify = verify_since >= 0 && st.st_mtime >= verify_since;
    uint64_t size = (uint64_t)st.st_size, off = 0;
    uint8_t *buf = verify ? malloc(RM_PACKS_HEADER + RM_MAX_CHUNK_SIZE) : NULL;
    if (verify && !buf) {
        close(fd);
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    }
    uint8_t hdr[RM_PACKS_HEADER];
    int rc = 0;
    bool readable = true; /* stopped by a read error: nothing is cut */
    while (off < size) {
        rm_hash_t hash;
        int64_t len = -1;
        bool dead = false;
        if (off + RM_PACKS_HEADER <= size) {
            if (pread_all(fd, hdr, sizeof hdr, off) != 0) {
                readable = false;
                break;
            }
            len = decode_header(hdr, &hash, &dead);
        }
        if (len < 0 || off + RM_PACKS_HEADER + (uint64_t)len > size)
            break; /* not a whole record: what a crash left half written */
        bool good = !dead;
        if (good && verify) {
            rm_hash_t actual;
            if (pread_all(fd, buf, (size_t)len, off + RM_PACKS_HEADER) != 0) {
                readable = false;
                break;
            }
            rm_hash(buf, (size_t)len, &actual);
            good = memcmp(actual.b, hash.b, sizeof hash.b) == 0;
            *damaged += !good; /* its data never reached the disk: skipped */
        }
        /* A second copy (a crash while a sweep copied it) is garbage. */
        entry_t e = {.hash = hash,
                     .pack = slot,
                     .len = (uint32_t)len,
                     .offset = off,
                     .used_at = (int64_t)st.st_mtime,
                     .used = true};
        if (good && !lookup(self, &hash) && insert(self, &e) != 0) {
            rc = rm_err_set(err, RM_ENOMEM, "out of memory indexing pack %s", path);
            break;
        }
        off += RM_PACKS_HEADER + (uint64_t)len;
    }
    free(buf);
    if (rc == 0 && readable && off < size) {
        /* What a crash left half written: cut (the rest cannot be told
           apart from garbage), counted as one record. */
        (*damaged)++;
        if (ftruncate(fd, (off_t)off) != 0)
            rc = rm_err_set(err, rm_err_from_errno(errno), "cannot cut pack %s at %llu: %s", path,
                            (unsigned long long)off, strerror(errno));
    }
    if (!readable)
        off = size; /* kept as it is; a sweep copies out what was read */
    close(fd);
    self->packs[slot].size = off;
    if (rc == 0 && off == 0) { /* nothing whole in it */
        self->packs[slot].in_use = false;
        unlink(path);
    }
    return rc;
}

static bool is_pack_name(const char *name)
{
    return strlen(name) == NAME_LEN && strspn(name, "0123456789abcdef") == 16 &&
           strcmp(name + 16, ".pack") == 0;
}

rm_packs_t *rm_packs_new(const char *root, time_t verify_since, uint64_t *damaged, rm_err_t *err)
{
    rm_packs_t *self = sodium_init() >= 0 ? calloc(1, sizeof *self) : NULL; /* pack names */
    size_t n = strlen(root) + sizeof "/packs";
    *damaged = 0;
    if (!self || !(self->dir = malloc(n)) || !(self->table = calloc(1024, sizeof *self->table))) {
        if (self) {
            free(self->dir);
            free(self);
        }
        rm_err_set(err, RM_ENOMEM, "out of memory");
        return NULL;
    }
    snprintf(self->dir, n, "%s/packs", root);
    self->cap = 1024;
    self->cur = NO_PACK;
    self->cur_fd = -1;
    pthread_mutex_init(&self->lock, NULL);
    pthread_mutex_init(&self->sync_lock, NULL);
    randombytes_buf(self->key, sizeof self->key);
    if (rm_fs_mkdir_p(self->dir, 0700, 0700, err) != 0) {
        rm_packs_destroy(&self);
        return NULL;
    }
    DIR *dir = opendir(self->dir);
    if (!dir) {
        rm_err_set(err, rm_err_from_errno(errno), "cannot open %s: %s", self->dir, strerror(errno));
        rm_packs_destroy(&self);
        return NULL;
    }
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(dir)) != NULL)
        if (is_pack_name(de->d_name))
            rc = scan_pack(self, de->d_name, verify_since, damaged, err);
    closedir(dir);
    if (rc != 0)
        rm_packs_destroy(&self);
    return self;
}

void rm_packs_destroy(rm_packs_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rm_packs_t *self = *self_p;
    close_current(self);
    pthread_mutex_destroy(&self->lock);
    pthread_mutex_destroy(&self->sync_lock);
    free(self->table);
    free(self->packs);
    free(self->dir);
    free(self);
    *self_p = NULL;
}

/*  --- Chunks ----------------------------------------------------------------- */

bool rm_packs_has(rm_packs_t *self, const rm_hash_t *hash)
{
    pthread_mutex_lock(&self->lock);
    bool has = lookup(self, hash) != NULL;
    pthread_mutex_unlock(&self->lock);
    return has;
}

int64_t rm_packs_size(rm_packs_t *self, const rm_hash_t *hash)
{
    pthread_mutex_lock(&self->lock);
    entry_t *e = lookup(self, hash);
    int64_t len = e ? (int64_t)e->len : -1;
    pthread_mutex_unlock(&self->lock);
    return len;
}

int rm_packs_put(rm_packs_t *self, const rm_hash_t *hash, const void *data, size_t len,
                 rm_err_t *err)
{
    if (len > RM_MAX_CHUNK_SIZE)
        return rm_err_set(err, RM_EINVAL, "chunk of %zu bytes, max %d", len, RM_MAX_CHUNK_SIZE);
    pthread_mutex_lock(&self->lock);
    entry_t *e = lookup(self, hash);
    int rc = 0;
    if (e)
        e->used_at = (int64_t)time(NULL);
    else
        rc = append(self, hash, data, len, err);
    pthread_mutex_unlock(&self->lock);
    return rc;
}

/*  Where a chunk's record is, copied out under the lock. */
typedef struct {
    char name[NAME_LEN + 1];
    uint32_t pack;
    uint64_t offset;
    uint32_t len;
} place_t;

static bool find(rm_packs_t *self, const rm_hash_t *hash, place_t *at)
{
    pthread_mutex_lock(&self->lock);
    entry_t *e = lookup(self, hash);
    if (e) {
        memcpy(at->name, self->packs[e->pack].name, sizeof at->name);
        at->pack = e->pack;
        at->offset = e->offset;
        at->len = e->len;
    }
    pthread_mutex_unlock(&self->lock);
    return e != NULL;
}

/*  Drops hash if its record is still the one at `at` (a sweep may have
    moved it meanwhile), and marks the record dead on disk (best effort):
    a rotten chunk must not come back at the next open, where the node
    would say it holds it. */
static void drop_at(rm_packs_t *self, const rm_hash_t *hash, const place_t *at)
{
    pthread_mutex_lock(&self->lock);
    entry_t *e = lookup(self, hash);
    bool dropped = e && e->pack == at->pack && e->offset == at->offset;
    if (dropped)
        drop(self, e);
    pthread_mutex_unlock(&self->lock);
    char path[PATH_MAX + 32];
    pack_path(self, at->name, path, sizeof path);
    int fd = dropped ? open(path, O_WRONLY | O_CLOEXEC) : -1;
    if (fd >= 0) {
        (void)!pwrite(fd, DEAD, 4, (off_t)at->offset);
        close(fd);
    }
}

/*  Reads the record at `at` into buf (RM_PACKS_HEADER + len bytes) and
    checks it: 0; 1: it is not the chunk (rotted); -1: cannot read, errno
    set (ENOENT: the pack was removed by a sweep). */
static int read_record(rm_packs_t *self, const rm_hash_t *hash, const place_t *at, uint8_t *buf)
{
    char path[PATH_MAX + 32];
    pack_path(self, at->name, path, sizeof path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = pread_all(fd, buf, RM_PACKS_HEADER + at->len, at->offset);
    int saved = errno;
    close(fd);
    errno = saved;
    if (rc != 0)
        return -1;
    rm_hash_t named, actual;
    bool dead;
    if (decode_header(buf, &named, &dead) != (int64_t)at->len || dead ||
        memcmp(named.b, hash->b, sizeof named.b) != 0)
        return 1;
    rm_hash(buf + RM_PACKS_HEADER, at->len, &actual);
    return memcmp(actual.b, hash->b, sizeof actual.b) != 0;
}

int rm_packs_get(rm_packs_t *self, const rm_hash_t *hash, uint8_t **data, size_t *len,
                 rm_err_t *err)
{
    char hex[65];
    rm_hash_hex(hash, hex);
    for (int attempt = 0;; attempt++) {
        place_t at;
        if (!find(self, hash, &at))
            return rm_err_set(err, RM_ENOTFOUND, "chunk %s not in packs %s", hex, self->dir);
        uint8_t *buf = malloc(RM_PACKS_HEADER + at.len);
        if (!buf)
            return rm_err_set(err, RM_ENOMEM, "chunk %s: out of memory", hex);
        int rc = read_record(self, hash, &at, buf);
        if (rc < 0 && errno == ENOENT && attempt == 0) {
            free(buf); /* moved by a sweep: look again */
            continue;
        }
        if (rc != 0) {
            int saved = errno;
            free(buf);
            if (rc < 0)
                return rm_err_set(err, RM_EIO, "chunk %s: cannot read pack %s/%s: %s", hex,
                                  self->dir, at.name, strerror(saved));
            /* Worse than useless: it would be served to peers.  Dropped,
               it is fetched again; the next sweep removes its bytes. */
            drop_at(self, hash, &at);
            return rm_err_set(err, RM_EIO,
                              "chunk %s is corrupt (content does not match its hash): dropped "
                              "from pack %s/%s",
                              hex, self->dir, at.name);
        }
        memmove(buf, buf + RM_PACKS_HEADER, at.len);
        *data = buf;
        *len = at.len;
        return 0;
    }
}

bool rm_packs_touch(rm_packs_t *self, const rm_hash_t *hash)
{
    char path[PATH_MAX + 32];
    pthread_mutex_lock(&self->lock);
    entry_t *e = lookup(self, hash);
    bool found = e != NULL, stamp = false;
    if (e) {
        /* A new job touches each chunk it reuses: its pack's time once a
           second is enough (an open takes it for every record in it). */
        int64_t now = (int64_t)time(NULL);
        pack_t *p = &self->packs[e->pack];
        e->used_at = now;
        stamp = p->touched_at != now;
        p->touched_at = now;
        pack_path(self, p->name, path, sizeof path);
    }
    pthread_mutex_unlock(&self->lock);
    if (stamp)
        (void)utimensat(AT_FDCWD, path, NULL, 0);
    return found;
}

static bool pack_holds(const char *path, const rm_hash_t *hash)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0)
            close(fd);
        return false;
    }
    uint8_t hdr[RM_PACKS_HEADER];
    uint64_t off = 0, size = (uint64_t)st.st_size;
    bool found = false;
    while (!found && off + RM_PACKS_HEADER <= size && pread_all(fd, hdr, sizeof hdr, off) == 0) {
        rm_hash_t h;
        bool dead;
        int64_t len = decode_header(hdr, &h, &dead);
        if (len < 0 || off + RM_PACKS_HEADER + (uint64_t)len > size)
            break;
        found = !dead && memcmp(h.b, hash->b, sizeof h.b) == 0;
        off += RM_PACKS_HEADER + (uint64_t)len;
    }
    close(fd);
    return found;
}

bool rm_packs_peek(const char *root, const rm_hash_t *hash)
{
    char dirpath[PATH_MAX], path[PATH_MAX + 32];
    snprintf(dirpath, sizeof dirpath, "%s/packs", root);
    DIR *dir = opendir(dirpath);
    bool found = false;
    struct dirent *de;
    while (dir && !found && (de = readdir(dir)) != NULL) {
        if (!is_pack_name(de->d_name))
            continue;
        snprintf(path, sizeof path, "%s/%.*s", dirpath, NAME_LEN, de->d_name);
        found = pack_holds(path, hash);
    }
    if (dir)
        closedir(dir);
    return found;
}

/*  Syncs are one at a time: a sync that finds a pack no longer dirty
    because another is fsyncing it must not return before that fsync has:
    its caller is about to say that what it wrote is durable. */
int rm_packs_sync(rm_packs_t *self, rm_err_t *err)
{
    pthread_mutex_lock(&self->sync_lock);
    pthread_mutex_lock(&self->lock);
    uint32_t n = self->npacks;
    bool *to_sync = calloc(n ? n : 1, sizeof *to_sync);
    char(*names)[NAME_LEN + 1] = calloc(n ? n : 1, sizeof *names);
    for (uint32_t i = 0; to_sync && names && i < n; i++)
        if (self->packs[i].in_use && self->packs[i].dirty) {
            to_sync[i] = true;
            memcpy(names[i], self->packs[i].name, sizeof names[i]);
            self->packs[i].dirty = false;
        }
    pthread_mutex_unlock(&self->lock);
    int rc = 0;
    uint32_t i = 0;
    if (!to_sync || !names) {
        rc = rm_err_set(err, RM_ENOMEM, "out of memory");
        n = 0;
    }
    for (; rc == 0 && i < n; i++) {
        if (!to_sync[i])
            continue;
        char path[PATH_MAX + 32];
        pack_path(self, names[i], path, sizeof path);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT)
            continue; /* emptied and removed by a sweep meanwhile */
        if (fd < 0 || fsync(fd) != 0) {
            rc = rm_err_set(err, rm_err_from_errno(errno), "cannot sync pack %s: %s", path,
                            strerror(errno));
            break;
        }
        close(fd);
    }
    if (rc != 0 && to_sync && names) {
        /* This pack and those after it: the next sync tries again. */
        pthread_mutex_lock(&self->lock);
        for (; i < n; i++)
            if (to_sync[i] && self->packs[i].in_use && strcmp(self->packs[i].name, names[i]) == 0)
                self->packs[i].dirty = true;
        pthread_mutex_unlock(&self->lock);
    }
    free(to_sync);
    free(names);
    /* New packs' names. */
    if (rc == 0)
        rc = rm_fs_fsync_dir(self->dir, err);
    pthread_mutex_unlock(&self->sync_lock);
    return rc;
}

void rm_packs_usage(rm_packs_t *self, uint64_t *bytes, uint64_t *chunks)
{
    pthread_mutex_lock(&self->lock);
    uint64_t b = 0;
    for (uint32_t i = 0; i < self->npacks; i++)
        if (self->packs[i].in_use)
            b += self->packs[i].size;
    *bytes = b;
    *chunks = self->count;
    pthread_mutex_unlock(&self->lock);
}

/*  --- Sweep ------------------------------------------------------------------ */

typedef struct {
    rm_hash_t hash;
    uint32_t pack;
    uint64_t offset;
} moved_t;

static int cmp_moved(const void *a, const void *b)
{
    const moved_t *x = a, *y = b;
    if (x->pack != y->pack)
        return x->pack < y->pack ? -1 : 1;
    return (x->offset > y->offset) - (x->offset < y->offset);
}

enum { CLEAN, EMPTIED, REWRITTEN };

/*  Drops what keep refuses; lists the kept records of packs that hold
    dropped bytes (*moves, sorted by pack and offset) and marks each pack
    in *dirty (npacks of CLEAN, EMPTIED: nothing kept, REWRITTEN: records
    to copy).  Lock held. */
static int judge(rm_packs_t *self, rm_packs_keep_fn *keep, void *arg, rm_packs_sweep_stats_t *stats,
                 moved_t **moves, size_t *nmoves, uint8_t **dirty)
{
    size_t ndrop = 0;
    rm_hash_t *dropped = malloc((self->count ? self->count : 1) * sizeof *dropped);
    *dirty = calloc(self->npacks ? self->npacks : 1, sizeof **dirty);
    if (!dropped || !*dirty) {
        free(dropped);
        return -1;
    }
    for (size_t i = 0; i < self->cap; i++) {
        entry_t *e = &self->table[i];
        if (!e->used)
            continue;
        if (keep(arg, &e->hash, e->used_at)) {
            stats->kept++;
            stats->bytes_kept += e->len;
        } else {
            dropped[ndrop++] = e->hash;
            stats->deleted++;
            stats->bytes_freed += e->len;
        }
    }
    for (size_t i = 0; i < ndrop; i++)
        drop(self, lookup(self, &dropped[i]));
    free(dropped);
    size_t n = 0;
    for (uint32_t p = 0; p < self->npacks; p++) {
        pack_t *pk = &self->packs[p];
        (*dirty)[p] = !pk->in_use || pk->size == pk->live_bytes ? CLEAN
                      : pk->live                                ? REWRITTEN
                                                                : EMPTIED;
        n += (*dirty)[p] == REWRITTEN ? pk->live : 0;
    }
    *moves = malloc((n ? n : 1) * sizeof **moves);
    if (!*moves)
        return -1;
    *nmoves = 0;
    for (size_t i = 0; i < self->cap; i++) {
        entry_t *e = &self->table[i];
        if (e->used && (*dirty)[e->pack] == REWRITTEN)
            (*moves)[(*nmoves)++] = (moved_t){e->hash, e->pack, e->offset};
    }
    qsort(*moves, *nmoves, sizeof **moves, cmp_moved);
    /* Appends go elsewhere while a pack is rewritten. */
    if (self->cur != NO_PACK && (*dirty)[self->cur])
        close_current(self);
    return 0;
}

/*  Copies one kept record of a pack being rewritten into the current
    pack, unless it moved or went meanwhile.  A record that no longer
    hashes right is dropped instead. */
static int move_record(rm_packs_t *self, const moved_t *m, uint8_t *buf, rm_err_t *err)
{
    place_t at;
    if (!find(self, &m->hash, &at) || at.pack != m->pack || at.offset != m->offset)
        return 0;
    int rc = read_record(self, &m->hash, &at, buf);
    if (rc > 0) {
        drop_at(self, &m->hash, &at);
        return 0;
    }
    if (rc < 0)
        return rm_err_set(err, RM_EIO, "cannot read pack %s/%s: %s", self->dir, at.name,
                          strerror(errno));
    pthread_mutex_lock(&self->lock);
    entry_t *e = lookup(self, &m->hash);
    rc = 0;
    uint32_t slot;
    uint64_t off;
    if (e && e->pack == m->pack && e->offset == m->offset &&
        (rc = write_record(self, &m->hash, buf + RM_PACKS_HEADER, at.len, &slot, &off, err)) == 0) {
        /* Repointed only once written: a failed copy loses nothing. */
        uint64_t bytes = RM_PACKS_HEADER + (uint64_t)e->len;
        self->packs[e->pack].live--;
        self->packs[e->pack].live_bytes -= bytes;
        self->packs[slot].live++;
        self->packs[slot].live_bytes += bytes;
        e->pack = slot;
        e->offset = off;
    }
    pthread_mutex_unlock(&self->lock);
    return rc;
}

/*  Removes pack p once nothing in the index points into it. */
static bool remove_pack(rm_packs_t *self, uint32_t p)
{
    char path[PATH_MAX + 32];
    pthread_mutex_lock(&self->lock);
    pack_t *pk = &self->packs[p];
    bool empty = pk->in_use && pk->live == 0;
    if (empty) {
        pack_path(self, pk->name, path, sizeof path);
        pk->in_use = false;
        if (self->cur == p)
            close_current(self);
    }
    pthread_mutex_unlock(&self->lock);
    return empty && unlink(path) == 0;
}

int rm_packs_sweep(rm_packs_t *self, rm_packs_keep_fn *keep, rm_packs_stop_fn *stop, void *arg,
                   rm_packs_sweep_stats_t *stats, rm_err_t *err)
{
    moved_t *moves = NULL;
    uint8_t *dirty = NULL;
    size_t nmoves = 0;
    pthread_mutex_lock(&self->lock);
    uint32_t npacks = self->npacks;
    int rc = judge(self, keep, arg, stats, &moves, &nmoves, &dirty);
    pthread_mutex_unlock(&self->lock);
    if (rc != 0) {
        free(moves);
        free(dirty);
        return rm_err_set(err, RM_ENOMEM, "out of memory sweeping packs");
    }
    /* Packs left with nothing kept go first: they need no copy, so a full
       disk that stops the copies below still frees them. */
    bool removed = false;
    for (uint32_t p = 0; p < npacks; p++)
        if (dirty[p] == EMPTIED && remove_pack(self, p)) {
            stats->packs_removed++;
            removed = true;
        }
    /* Then one pack at a time: its kept records copied, synced wherever
       they went (the copies may fill more than one pack), the pack removed. */
    uint8_t *buf = nmoves ? malloc(RM_PACKS_HEADER + RM_MAX_CHUNK_SIZE) : NULL;
    if (nmoves && !buf)
        rc = rm_err_set(err, RM_ENOMEM, "out of memory sweeping packs");
    for (size_t i = 0; rc == 0 && i < nmoves && !(stop && stop(arg));) {
        uint32_t p = moves[i].pack;
        for (; rc == 0 && i < nmoves && moves[i].pack == p; i++)
            rc = move_record(self, &moves[i], buf, err);
        if (rc == 0)
            rc = rm_packs_sync(self, err);
        if (rc == 0 && remove_pack(self, p)) {
            stats->packs_rewritten++;
            removed = true;
        }
    }
    free(buf);
    if (removed) { /* the names gone, durably: what was dropped stays dropped */
        rm_err_t ignored;
        rm_fs_fsync_dir(self->dir, &ignored);
    }
    free(moves);
    free(dirty);
    return rc;
}
