/*  rm_manifest: project and frame manifests (see rm_manifest.h).

    The wire form comes from the descriptor table below through rm_codec, so
    the encoder, decoder, free function and docs agree by construction.
    Everything that decides where a file lands on disk (paths) is checked
    here, after decoding, because the codec knows only sizes and types. */
#include "rm_manifest.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rm_chunker.h"
#include "rm_fs.h"
#include "rm_tree.h"

#define RM_MANIFEST_VERSION 1

static const rm_field_t rm_manifest_file_fields[] = {
    RM_FIELD(rm_manifest_file_t, path, RM_F_STR, RM_MAX_PATH,
             "relative '/'-separated path; no absolute, '..', '.' or empty components"),
    RM_FIELD(rm_manifest_file_t, mode, RM_F_U64, 07777, "permission bits (0644, 0755)"),
    RM_FIELD(rm_manifest_file_t, size, RM_F_U64, 0, "file size in bytes"),
    RM_FIELD_LIST(rm_manifest_file_t, chunks, RM_F_B32, RM_MANIFEST_MAX_CHUNKS_PER_FILE,
                  "SHA-256 hashes of the file's chunks, in order"),
};

static const rm_struct_desc_t rm_manifest_file_desc =
    RM_DESC(rm_manifest_file_t, "manifest_file", rm_manifest_file_fields,
            "one file of a manifest and the chunks that make it");

static const rm_field_t rm_manifest_fields[] = {
    RM_FIELD(rm_manifest_t, version, RM_F_U64, 0, "manifest format, 1"),
    RM_FIELD_LIST_OF(rm_manifest_t, files, rm_manifest_file_desc, RM_MANIFEST_MAX_FILES,
                     "files sorted by path, each path once"),
};

const rm_struct_desc_t rm_manifest_desc =
    RM_DESC(rm_manifest_t, "manifest", rm_manifest_fields,
            "a project's (or a rendered frame's) files, stored itself as a chunk");

/*  --- Set of hashes (distinct chunks for sinks and missing lists) ---------- */

typedef struct {
    rm_hash_t *buckets;
    bool *used;
    size_t cap; /* power of two */
    size_t count;
} hash_set_t;

static void hash_set_free(hash_set_t *set)
{
    free(set->buckets);
    free(set->used);
    memset(set, 0, sizeof *set);
}

static size_t hash_bucket(const hash_set_t *set, const rm_hash_t *h)
{
    uint64_t k;
    memcpy(&k, h->b, sizeof k); /* hashes are uniform: any 8 bytes will do */
    size_t i = (size_t)k & (set->cap - 1);
    while (set->used[i] && memcmp(&set->buckets[i], h, sizeof *h) != 0)
        i = (i + 1) & (set->cap - 1);
    return i;
}

static int hash_set_grow(hash_set_t *set)
{
    hash_set_t bigger = {0};
    bigger.cap = set->cap ? set->cap * 2 : 64;
    bigger.buckets = malloc(bigger.cap * sizeof *bigger.buckets);
    bigger.used = calloc(bigger.cap, sizeof *bigger.used);
    if (!bigger.buckets || !bigger.used) {
        hash_set_free(&bigger);
        return -1;
    }
    for (size_t i = 0; i < set->cap; i++) {
        if (!set->used[i])
            continue;
        size_t j = hash_bucket(&bigger, &set->buckets[i]);
        bigger.buckets[j] = set->buckets[i];
        bigger.used[j] = true;
        bigger.count++;
    }
    hash_set_free(set);
    *set = bigger;
    return 0;
}

/*  1 if h was added, 0 if it was there already, -1 out of memory. */
static int hash_set_add(hash_set_t *set, const rm_hash_t *h)
{
    if ((set->count + 1) * 2 > set->cap && hash_set_grow(set) != 0)
        return -1;
    size_t i = hash_bucket(set, h);
    if (set->used[i])
        return 0;
    set->buckets[i] = *h;
    set->used[i] = true;
    set->count++;
    return 1;
}

/*  --- Path rules ------------------------------------------------------------- */

/*  NULL if path is a safe relative path, else why not.  Backslashes and any
    other byte are ordinary characters here: only '/' separates. */
static const char *path_problem(const char *path)
{
    if (!path || !*path)
        return "empty path";
    if (path[0] == '/')
        return "absolute path";
    for (const char *p = path; *p;) {
        size_t n = strcspn(p, "/");
        if (n == 0)
            return "empty component";
        if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return "'.' or '..' component";
        p += n;
        if (*p == '/' && *++p == '\0')
            return "empty component";
    }
    return NULL;
}

/*  code: RM_EPROTO for a manifest from the network, RM_EINVAL for a caller's. */
static int check_path(const char *path, rm_code_t code, rm_err_t *err)
{
    const char *why = path_problem(path);
    if (why)
        return rm_err_set(err, code, "manifest: refused path '%s': %s", path ? path : "", why);
    return 0;
}

/*  Checks what the codec cannot: version, safe paths, strictly sorted
    (hence distinct) paths, sizes the chunk list can hold. */
static int validate(const rm_manifest_t *m, rm_err_t *err)
{
    if (m->version != RM_MANIFEST_VERSION)
        return rm_err_set(err, RM_EPROTO, "manifest: version %llu, expected %d",
                          (unsigned long long)m->version, RM_MANIFEST_VERSION);
    for (uint32_t i = 0; i < m->files.count; i++) {
        const rm_manifest_file_t *f = &m->files.items[i];
        if (check_path(f->path, RM_EPROTO, err) != 0)
            return -1;
        if (i > 0 && strcmp(m->files.items[i - 1].path, f->path) >= 0)
            return rm_err_set(err, RM_EPROTO, "manifest: path '%s' is out of order or repeated",
                              f->path);
        if (f->size > (uint64_t)f->chunks.count * RM_MAX_CHUNK_SIZE)
            return rm_err_set(err, RM_EPROTO, "manifest: '%s' has %llu bytes in %u chunks", f->path,
                              (unsigned long long)f->size, f->chunks.count);
    }
    return 0;
}

/*  --- Encode, store, decode, load ------------------------------------------- */

int rm_manifest_store(const rm_manifest_t *manifest, rm_store_t *store, rm_chunk_sink_fn sink,
                      void *sink_arg, rm_hash_t *hash, rm_err_t *err)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = -1;
    if (rm_codec_encode(&rm_manifest_desc, manifest, &buf, &len, err) != 0) {
        rm_err_prefix(err, "encoding manifest: ");
        goto out;
    }
    if (len > RM_MAX_CHUNK_SIZE) {
        rm_err_set(err, RM_EINVAL, "manifest of %u files is %zu bytes, max %d",
                   manifest->files.count, len, RM_MAX_CHUNK_SIZE);
        goto out;
    }
    rm_hash_t h;
    rm_hash(buf, len, &h);
    if (store && rm_store_put(store, &h, buf, len, err) != 0)
        goto out;
    if (sink && sink(sink_arg, &h, buf, len, err) != 0)
        goto out;
    *hash = h;
    rc = 0;
out:
    free(buf);
    return rc;
}

int rm_manifest_decode(const uint8_t *data, size_t len, rm_manifest_t *manifest, rm_err_t *err)
{
    memset(manifest, 0, sizeof *manifest);
    size_t used = 0;
    if (rm_codec_decode(&rm_manifest_desc, manifest, data, len, &used, err) != 0)
        return -1;
    if (used != len) {
        rm_manifest_free(manifest);
        return rm_err_set(err, RM_EPROTO, "manifest: %zu trailing bytes", len - used);
    }
    if (validate(manifest, err) != 0) {
        rm_manifest_free(manifest);
        return -1;
    }
    return 0;
}

int rm_manifest_load(rm_store_t *store, const rm_hash_t *hash, rm_manifest_t *manifest,
                     rm_err_t *err)
{
    memset(manifest, 0, sizeof *manifest);
    uint8_t *data = NULL;
    size_t len = 0;
    if (rm_store_get(store, hash, &data, &len, err) != 0)
        return -1;
    int rc = rm_manifest_decode(data, len, manifest, err);
    free(data);
    if (rc != 0) {
        char hex[65];
        rm_hash_hex(hash, hex);
        rm_err_prefix(err, "loading manifest %s: ", hex);
    }
    return rc;
}

void rm_manifest_free(rm_manifest_t *manifest)
{
    if (manifest)
        rm_codec_free(&rm_manifest_desc, manifest);
}

/*  --- Chunking files ---------------------------------------------------------- */

/*  Where new chunks go while building. */
typedef struct {
    rm_store_t *store;
    rm_chunk_sink_fn sink;
    void *sink_arg;
    hash_set_t sunk; /* chunks already handed to the sink */
    uint8_t *buf;    /* 2 * RM_CHUNK_MAX bytes of file being chunked */
} emitter_t;

static int emit_chunk(emitter_t *em, const uint8_t *data, size_t len, rm_hash_t *hash,
                      rm_err_t *err)
{
    if (em->store) {
        if (rm_store_put_data(em->store, data, len, hash, err) != 0)
            return -1;
    } else {
        rm_hash(data, len, hash);
    }
    if (!em->sink)
        return 0;
    int added = hash_set_add(&em->sunk, hash);
    if (added < 0)
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    return added ? em->sink(em->sink_arg, hash, data, len, err) : 0;
}

static int append_chunk(rm_manifest_file_t *file, uint32_t *cap, const rm_hash_t *h, rm_err_t *err)
{
    if (file->chunks.count >= RM_MANIFEST_MAX_CHUNKS_PER_FILE)
        return rm_err_set(err, RM_EINVAL, "more than %u chunks", RM_MANIFEST_MAX_CHUNKS_PER_FILE);
    if (file->chunks.count == *cap) {
        uint32_t ncap = *cap ? *cap * 2 : 16;
        rm_hash_t *items = realloc(file->chunks.items, ncap * sizeof *items);
        if (!items)
            return rm_err_set(err, RM_ENOMEM, "out of memory");
        file->chunks.items = items;
        *cap = ncap;
    }
    file->chunks.items[file->chunks.count++] = *h;
    return 0;
}

typedef struct {
    emitter_t *em;
    rm_manifest_file_t *file;
    uint32_t cap;
} file_chunks_t;

static int on_file_chunk(void *arg, uint64_t offset, const uint8_t *data, size_t len, rm_err_t *err)
{
    (void)offset;
    file_chunks_t *fc = arg;
    rm_hash_t h;
    if (emit_chunk(fc->em, data, len, &h, err) != 0 ||
        append_chunk(fc->file, &fc->cap, &h, err) != 0)
        return -1;
    fc->file->size += len;
    return 0;
}

static int chunk_fd(int fd, emitter_t *em, rm_manifest_file_t *file, rm_err_t *err)
{
    file_chunks_t fc = {.em = em, .file = file};
    return rm_chunker_stream(fd, NULL, em->buf, on_file_chunk, &fc, err);
}

/*  Fills file (path already set) from the file at abs. */
static int chunk_file(const char *abs, int flags, emitter_t *em, rm_manifest_file_t *file,
                      rm_err_t *err)
{
    int fd = open(abs, O_RDONLY | O_CLOEXEC | flags);
    if (fd < 0)
        return rm_err_set(err, rm_err_from_errno(errno), "cannot open %s: %s", abs,
                          strerror(errno));
    struct stat st;
    int rc = -1;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rm_err_set(err, RM_EINVAL, "%s is not a regular file", abs);
        goto out;
    }
    file->mode = (uint64_t)(st.st_mode & 0777);
    if (chunk_fd(fd, em, file, err) != 0) {
        rm_err_prefix(err, "chunking %s: ", abs);
        goto out;
    }
    rc = 0;
out:
    close(fd);
    return rc;
}

/*  --- Build -------------------------------------------------------------------- */

static int emit_files(const rm_tree_t *t, emitter_t *em, rm_manifest_t *m, rm_err_t *err)
{
    m->files.items = calloc(t->count ? t->count : 1, sizeof *m->files.items);
    if (!m->files.items)
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    for (size_t i = 0; i < t->count; i++) {
        rm_manifest_file_t *f = &m->files.items[i];
        if (check_path(t->items[i].rel, RM_EINVAL, err) != 0)
            return -1;
        if (strlen(t->items[i].rel) > RM_MAX_PATH)
            return rm_err_set(err, RM_EINVAL, "path too long for a manifest: %s", t->items[i].rel);
        m->files.count++;
        f->path = strdup(t->items[i].rel);
        if (!f->path)
            return rm_err_set(err, RM_ENOMEM, "out of memory");
        if (chunk_file(t->items[i].abs, 0, em, f, err) != 0)
            return -1;
    }
    return 0;
}

int rm_manifest_build(const char *root, const char *const *paths, size_t npaths, rm_store_t *store,
                      rm_chunk_sink_fn sink, void *sink_arg, rm_manifest_t *manifest, rm_err_t *err)
{
    memset(manifest, 0, sizeof *manifest);
    rm_tree_t t;
    emitter_t em = {store, sink, sink_arg, {0}, NULL};
    int rc = -1;
    if (rm_tree_init(&t, root, RM_MANIFEST_MAX_FILES, err) != 0)
        goto out;
    for (size_t i = 0; i < npaths; i++)
        if (rm_tree_add(&t, paths[i], err) != 0)
            goto out;
    rm_tree_sort(&t);
    em.buf = malloc(RM_CHUNKER_BUF);
    if (!em.buf) {
        rm_err_set(err, RM_ENOMEM, "out of memory");
        goto out;
    }
    manifest->version = RM_MANIFEST_VERSION;
    if (emit_files(&t, &em, manifest, err) != 0)
        goto out;
    rc = 0;
out:
    if (rc != 0)
        rm_manifest_free(manifest);
    free(em.buf);
    hash_set_free(&em.sunk);
    rm_tree_free(&t);
    return rc;
}

/*  --- Missing chunks ------------------------------------------------------------ */

int rm_manifest_missing(const rm_manifest_t *manifest, rm_store_t *store, rm_hash_t **missing,
                        uint32_t *nmissing, uint32_t max, rm_err_t *err)
{
    hash_set_t seen = {0};
    uint32_t cap = *nmissing;
    int rc = -1;
    for (uint32_t i = 0; i < *nmissing; i++)
        if (hash_set_add(&seen, &(*missing)[i]) < 0)
            goto nomem;
    for (uint32_t i = 0; i < manifest->files.count && *nmissing < max; i++) {
        const rm_manifest_file_t *f = &manifest->files.items[i];
        for (uint32_t j = 0; j < f->chunks.count && *nmissing < max; j++) {
            const rm_hash_t *h = &f->chunks.items[j];
            int added = hash_set_add(&seen, h);
            if (added < 0)
                goto nomem;
            if (!added || rm_store_has(store, h))
                continue;
            if (*nmissing == cap) {
                uint32_t ncap = cap < 16 ? 16 : (cap > max / 2 ? max : cap * 2);
                rm_hash_t *items = realloc(*missing, (size_t)ncap * sizeof *items);
                if (!items)
                    goto nomem;
                *missing = items;
                cap = ncap;
            }
            (*missing)[(*nmissing)++] = *h;
        }
    }
    rc = 0;
    goto out;
nomem:
    rm_err_set(err, RM_ENOMEM, "out of memory listing missing chunks");
out:
    hash_set_free(&seen);
    return rc;
}

int rm_manifest_chunks(const rm_manifest_t *manifest, rm_hash_t **chunks, uint32_t *nchunks,
                       rm_err_t *err)
{
    hash_set_t seen = {0};
    uint64_t total = 0;
    for (uint32_t i = 0; i < manifest->files.count; i++)
        total += manifest->files.items[i].chunks.count;
    /* Sized for every listing, repeats included: a manifest is one chunk,
       so this is small. */
    rm_hash_t *list = malloc((total ? total : 1) * sizeof *list);
    uint32_t n = 0;
    if (!list || total > UINT32_MAX)
        goto nomem;
    for (uint32_t i = 0; i < manifest->files.count; i++) {
        const rm_manifest_file_t *f = &manifest->files.items[i];
        for (uint32_t j = 0; j < f->chunks.count; j++) {
            int added = hash_set_add(&seen, &f->chunks.items[j]);
            if (added < 0)
                goto nomem;
            if (added)
                list[n++] = f->chunks.items[j];
        }
    }
    hash_set_free(&seen);
    *chunks = list;
    *nchunks = n;
    return 0;
nomem:
    hash_set_free(&seen);
    free(list);
    return rm_err_set(err, RM_ENOMEM, "out of memory listing a manifest's chunks");
}

/*  --- Materialize ----------------------------------------------------------------- */

static int make_dir(const char *path, rm_err_t *err)
{
    if (mkdir(path, 0700) == 0 || errno == EEXIST)
        return 0;
    return rm_err_set(err, rm_err_from_errno(errno), "cannot create folder %s: %s", path,
                      strerror(errno));
}

/*  Creates the folders of `full` below `base` (base itself exists).  A
    component that exists must be a real folder, not a symlink, so nothing
    written here can land outside the job's folder. */
static int make_parents(char *full, size_t base_len, rm_err_t *err)
{
    for (char *p = full + base_len + 1; (p = strchr(p, '/')) != NULL; p++) {
        *p = '\0';
        struct stat st;
        int rc = make_dir(full, err);
        if (rc == 0 && (lstat(full, &st) != 0 || !S_ISDIR(st.st_mode)))
            rc = rm_err_set(err, RM_EINVAL, "%s exists and is not a folder", full);
        *p = '/';
        if (rc != 0)
            return -1;
    }
    return 0;
}

/*  Writes the file's chunks to fd, checking the total against its size. */
static int write_chunks(int fd, const rm_manifest_file_t *f, rm_store_t *store, const char *tmp,
                        rm_err_t *err)
{
    uint64_t written = 0;
    for (uint32_t j = 0; j < f->chunks.count; j++) {
        uint8_t *data = NULL;
        size_t len = 0;
        if (rm_store_get(store, &f->chunks.items[j], &data, &len, err) != 0)
            return -1;
        written += len;
        int rc = written > f->size ? 1 : rm_fs_write_all(fd, data, len);
        int saved = errno;
        free(data);
        if (rc > 0)
            break;
        if (rc < 0 && rm_err_from_errno(saved) == RM_ENOSPC)
            return rm_err_set(err, RM_ENOSPC, "disk full writing %s: %s", tmp, strerror(saved));
        if (rc < 0)
            return rm_err_set(err, RM_EIO, "cannot write %s: %s", tmp, strerror(saved));
    }
    if (written != f->size)
        return rm_err_set(err, RM_EPROTO, "chunks hold %s bytes, manifest says %llu",
                          written > f->size ? "more" : "fewer", (unsigned long long)f->size);
    return 0;
}

static int open_tmp_beside(const char *full, char *tmp, size_t size, rm_err_t *err)
{
    uint8_t rnd[8];
    char hex[17];
    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(hex, sizeof hex, rnd, sizeof rnd);
    if (snprintf(tmp, size, "%s.rm-tmp-%s", full, hex) >= (int)size)
        return rm_err_set(err, RM_EINVAL, "path too long: %s", full);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return rm_err_set(err, rm_err_from_errno(errno), "cannot create %s: %s", tmp,
                          strerror(errno));
    return fd;
}

/*  Writes one file to a temporary name beside it, then renames it. */
static int materialize_file(const rm_manifest_file_t *f, rm_store_t *store, char *full,
                            size_t base_len, rm_err_t *err)
{
    char tmp[PATH_MAX + 32];
    if (make_parents(full, base_len, err) != 0)
        return -1;
    int fd = open_tmp_beside(full, tmp, sizeof tmp, err);
    if (fd < 0)
        return -1;
    int rc = write_chunks(fd, f, store, tmp, err);
    if (rc == 0 && fchmod(fd, (mode_t)((f->mode & 0755) | 0600)) != 0)
        rc = rm_err_set(err, RM_EIO, "cannot chmod %s: %s", tmp, strerror(errno));
    /* no fsync: a materialized tree is a cache, rebuilt from the store */
    if (close(fd) != 0 && rc == 0)
        rc =
            rm_err_set(err, rm_err_from_errno(errno), "error closing %s: %s", tmp, strerror(errno));
    if (rc == 0 && rename(tmp, full) != 0)
        rc = rm_err_set(err, rm_err_from_errno(errno), "cannot rename %s to %s: %s", tmp, full,
                        strerror(errno));
    if (rc != 0)
        unlink(tmp);
    return rc;
}

/*  Checks every chunk is there before writing anything, so a job that lacks
    a chunk fails at once and names it, instead of after writing gigabytes. */
static int check_chunks(const rm_manifest_t *manifest, rm_store_t *store, rm_err_t *err)
{
    for (uint32_t i = 0; i < manifest->files.count; i++) {
        const rm_manifest_file_t *f = &manifest->files.items[i];
        for (uint32_t j = 0; j < f->chunks.count; j++) {
            if (rm_store_has(store, &f->chunks.items[j]))
                continue;
            char hex[65];
            rm_hash_hex(&f->chunks.items[j], hex);
            return rm_err_set(err, RM_ENOTFOUND, "chunk %s of %s is missing from store %s", hex,
                              f->path, rm_store_root(store));
        }
    }
    return 0;
}

int rm_manifest_materialize(const rm_manifest_t *manifest, rm_store_t *store, const char *dir,
                            rm_err_t *err)
{
    if (check_chunks(manifest, store, err) != 0 || rm_fs_mkdir_p(dir, 0700, 0700, err) != 0)
        return -1;
    size_t base_len = strlen(dir);
    char full[PATH_MAX];
    for (uint32_t i = 0; i < manifest->files.count; i++) {
        const rm_manifest_file_t *f = &manifest->files.items[i];
        if (check_path(f->path, RM_EPROTO, err) != 0) /* also if not from the decoder */
            return -1;
        if (snprintf(full, sizeof full, "%s/%s", dir, f->path) >= (int)sizeof full)
            return rm_err_set(err, RM_EINVAL, "path too long: %s/%s", dir, f->path);
        if (materialize_file(f, store, full, base_len, err) != 0)
            return rm_err_prefix(err, "materializing %s: ", f->path);
    }
    return 0;
}

/*  --- One rendered frame ---------------------------------------------------------- */

int rm_manifest_store_file(rm_store_t *store, const char *path, const char *name, rm_hash_t *hash,
                           uint64_t *size, rm_err_t *err)
{
    rm_manifest_file_t file = {0};
    rm_manifest_t m = {RM_MANIFEST_VERSION, {&file, 1}};
    emitter_t em = {store, NULL, NULL, {0}, malloc(RM_CHUNKER_BUF)};
    int rc = -1;
    if (check_path(name, RM_EINVAL, err) != 0)
        goto out;
    if (!em.buf || !(file.path = strdup(name))) {
        rm_err_set(err, RM_ENOMEM, "out of memory storing %s", path);
        goto out;
    }
    if (chunk_file(path, 0, &em, &file, err) != 0 ||
        rm_manifest_store(&m, store, NULL, NULL, hash, err) != 0)
        goto out;
    *size = file.size;
    rc = 0;
out:
    free(file.path);
    free(file.chunks.items);
    free(em.buf);
    return rc;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int rm_manifest_store_files(rm_store_t *store, const char *dir, const char *const *names, size_t n,
                            rm_hash_t *hash, uint64_t *size, rm_err_t *err)
{
    if (n == 0 || n > RM_MANIFEST_MAX_FILES)
        return rm_err_set(err, RM_EINVAL, "%zu files to store from %s, not 1-%d", n, dir,
                          RM_MANIFEST_MAX_FILES);
    const char **sorted = malloc(n * sizeof *sorted);
    rm_manifest_file_t *files = calloc(n, sizeof *files);
    rm_manifest_t m = {RM_MANIFEST_VERSION, {files, (uint32_t)n}};
    emitter_t em = {store, NULL, NULL, {0}, malloc(RM_CHUNKER_BUF)};
    int rc = -1;
    if (!sorted || !files || !em.buf) {
        rm_err_set(err, RM_ENOMEM, "out of memory storing %s", dir);
        goto out;
    }
    memcpy(sorted, names, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, name_cmp);
    *size = 0;
    for (size_t i = 0; i < n; i++) {
        if (check_path(sorted[i], RM_EINVAL, err) != 0)
            goto out;
        if (i > 0 && strcmp(sorted[i - 1], sorted[i]) == 0) {
            rm_err_set(err, RM_EINVAL, "%s is listed twice", sorted[i]);
            goto out;
        }
        if (!(files[i].path = strdup(sorted[i]))) {
            rm_err_set(err, RM_ENOMEM, "out of memory storing %s", dir);
            goto out;
        }
        size_t len = strlen(dir) + strlen(sorted[i]) + 2;
        char *abs = malloc(len);
        if (abs)
            snprintf(abs, len, "%s/%s", dir, sorted[i]);
        /* What a render wrote, not what a link points at (O_NOFOLLOW
           below closes the race). */
        struct stat lst;
        if (abs && lstat(abs, &lst) == 0 && !S_ISREG(lst.st_mode)) {
            rm_err_set(err, RM_EINVAL, "%s is not a regular file", sorted[i]);
            free(abs);
            goto out;
        }
        int crc = abs ? chunk_file(abs, O_NOFOLLOW, &em, &files[i], err)
                      : rm_err_set(err, RM_ENOMEM, "out of memory storing %s", dir);
        free(abs);
        if (crc != 0)
            goto out;
        *size += files[i].size;
    }
    rc = rm_manifest_store(&m, store, NULL, NULL, hash, err);
out:
    for (size_t i = 0; files && i < n; i++) {
        free(files[i].path);
        free(files[i].chunks.items);
    }
    free(files);
    free(sorted);
    free(em.buf);
    return rc;
}
