#include "rm_s3_import.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rm_fs.h"
#include "rm_manifest.h"
#include "rm_s3_url.h"

typedef struct {
    char *key;
    uint64_t size;
    char etag[128];
} object_t;

typedef struct {
    object_t *items;
    size_t count, cap;
    const char *folder; /* listing: keys below folder + "/" only */
    size_t folder_len;
    const char *url; /* the attachment, for errors */
    rm_err_t *err;
    bool failed; /* a listed key was refused: the listing stopped short */
} objects_t;

static int add_object(objects_t *o, const char *key, uint64_t size, const char *etag)
{
    if (o->count >= RM_MANIFEST_MAX_FILES)
        return rm_err_set(o->err, RM_EINVAL, "the project has more than %d files",
                          RM_MANIFEST_MAX_FILES);
    if (o->count == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 16;
        object_t *grown = realloc(o->items, cap * sizeof *grown);
        if (!grown)
            return rm_err_set(o->err, RM_ENOMEM, "out of memory");
        o->items = grown;
        o->cap = cap;
    }
    object_t *obj = &o->items[o->count];
    if (!(obj->key = strdup(key)))
        return rm_err_set(o->err, RM_ENOMEM, "out of memory");
    obj->size = size;
    snprintf(obj->etag, sizeof obj->etag, "%s", etag ? etag : "");
    o->count++;
    return 0;
}

static void free_objects(objects_t *o)
{
    for (size_t i = 0; i < o->count; i++)
        free(o->items[i].key);
    free(o->items);
}

static int on_listed(void *arg, const char *key, uint64_t size, const char *etag)
{
    objects_t *o = arg;
    size_t n = strlen(key);
    if (o->folder_len > 0 && (n <= o->folder_len || strncmp(key, o->folder, o->folder_len) != 0 ||
                              key[o->folder_len] != '/'))
        return 0; /* a sibling that shares the prefix: tex2/ for tex */
    if (key[n - 1] == '/')
        return 0; /* a console's folder marker, not a file */
    int rc = rm_s3_url_key_ok(key)
                 ? add_object(o, key, size, etag)
                 : rm_err_set(o->err, RM_EINVAL,
                              "%s: object %s has a key this mesh cannot read (A-Z a-z 0-9 . _ ~ "
                              "- and '/' between names)",
                              o->url, key);
    o->failed |= rc != 0;
    return rc;
}

/*  One attachment: the object itself, else every object below KEY/. */
static int add_attachment(rm_s3_t *s3, const char *bucket, const char *url, objects_t *o,
                          rm_err_t *err)
{
    rm_s3_url_t u;
    if (rm_s3_url_parse(url, "--attach", &u, err) != 0)
        return -1;
    if (strcmp(u.bucket, bucket) != 0)
        return rm_err_set(err, RM_EINVAL,
                          "--attach %s: a project is read from one bucket, and the .blend is in "
                          "s3://%s",
                          url, bucket);
    size_t n = strlen(u.key);
    if (n > 0 && u.key[n - 1] != '/') {
        rm_s3_object_t head;
        int rc = rm_s3_head(s3, bucket, u.key, &head, err);
        if (rc == 0)
            return add_object(o, u.key, head.size, head.etag);
        if (err->code != RM_ENOTFOUND)
            return -1;
    } else if (n > 0) {
        u.key[--n] = '\0';
    }
    /* Listed without the '/' so that s3://b/tex and s3://b/tex/ name the
       same folder (on_listed keeps only keys below it). */
    size_t before = o->count;
    o->folder = u.key;
    o->folder_len = n;
    o->url = url;
    o->err = err;
    if (rm_s3_list(s3, bucket, u.key, 0, on_listed, o, err) != 0 || o->failed)
        return -1;
    if (o->count == before)
        return rm_err_set(err, RM_ENOTFOUND, "--attach %s: no such object, and no object below it",
                          url);
    return 0;
}

static int by_key(const void *a, const void *b)
{
    return strcmp(((const object_t *)a)->key, ((const object_t *)b)->key);
}

/*  Sorted, each key once (an attachment may repeat the .blend). */
static void dedupe(objects_t *o)
{
    qsort(o->items, o->count, sizeof *o->items, by_key);
    size_t kept = 0;
    for (size_t i = 0; i < o->count; i++) {
        if (kept > 0 && strcmp(o->items[kept - 1].key, o->items[i].key) == 0) {
            free(o->items[i].key);
            continue;
        }
        o->items[kept++] = o->items[i];
    }
    o->count = kept;
}

/*  The deepest prefix (ending with '/', or "") that every key is below. */
static void common_root(const objects_t *o, const char *blend_key, char *root, size_t size)
{
    snprintf(root, size, "%s", blend_key);
    char *slash = strrchr(root, '/');
    *(slash ? slash + 1 : root) = '\0';
    for (size_t i = 0; i < o->count; i++) {
        while (root[0] && strncmp(o->items[i].key, root, strlen(root)) != 0) {
            root[strlen(root) - 1] = '\0'; /* the trailing '/' */
            slash = strrchr(root, '/');
            *(slash ? slash + 1 : root) = '\0';
        }
    }
}

typedef struct {
    rm_s3_import_progress_fn progress;
    rm_s3_import_stop_fn stop;
    void *arg;
    uint64_t files, bytes, done;
} progress_t;

static int fetch_object(rm_s3_t *s3, const char *bucket, const object_t *obj, const char *path,
                        progress_t *p, rm_err_t *err)
{
    char dir[RM_MAX_PATH * 2 + 8];
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = '\0';
    if (rm_fs_mkdir_p(dir, 0700, 0700, err) != 0)
        return -1;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return rm_err_set(err, rm_err_from_errno(errno), "cannot create %s: %s", path,
                          strerror(errno));
    int rc = 0;
    for (uint64_t off = 0; rc == 0 && off < obj->size;) {
        uint64_t want = obj->size - off < RM_S3_IMPORT_RANGE ? obj->size - off : RM_S3_IMPORT_RANGE;
        uint8_t *data = NULL;
        size_t len = 0;
        if (p->stop && p->stop(p->arg))
            rc = rm_err_set(err, RM_ECANCELED, "import stopped");
        else if (rm_s3_get(s3, bucket, obj->key, off, want, &data, &len, err) != 0)
            rc = -1;
        else if (len != want)
            rc = rm_err_set(err, RM_EIO, "s3://%s/%s changed while it was read (%zu bytes at %llu)",
                            bucket, obj->key, len, (unsigned long long)off);
        else if (rm_fs_write_all(fd, data, len) != 0)
            rc = rm_err_set(err, rm_err_from_errno(errno), "cannot write %s: %s", path,
                            strerror(errno));
        free(data);
        off += want;
        p->done += want;
        if (rc == 0 && p->progress)
            p->progress(p->arg, p->files, p->bytes, p->done);
    }
    close(fd);
    if (rc != 0 || !obj->etag[0])
        return rc;
    /* The object must still be the one listed, or the file could hold part
       of another version (or two versions, read in several ranges). */
    rm_s3_object_t head;
    if (rm_s3_head(s3, bucket, obj->key, &head, err) != 0)
        return -1;
    if (strcmp(head.etag, obj->etag) != 0 || head.size != obj->size)
        return rm_err_set(err, RM_EIO, "s3://%s/%s was replaced while it was read: import again",
                          bucket, obj->key);
    return 0;
}

static int check_blend(const char *path, const char *url, rm_err_t *err)
{
    uint8_t head[8] = {0};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, head, sizeof head) : -1;
    if (fd >= 0)
        close(fd);
    if (n < 0 || !rm_fs_blend_magic(head, (size_t)n))
        return rm_err_set(err, RM_EINVAL, "%s is not a .blend file", url);
    return 0;
}

/*  The cache of objects read before: CACHE/<hex> (hex of SHA-256 of
    bucket, key, ETag and size) holds the hash of the object's one-file
    manifest.  An object whose entry is there and whose chunks the store
    still has is not read again. */
static void cache_path(const char *cache, const char *bucket, const object_t *obj, char *out,
                       size_t size)
{
    char id[RM_S3_BUCKET_MAX + RM_MAX_PATH + 200], hex[65];
    int n = snprintf(id, sizeof id, "%s%c%s%c%s%c%llu", bucket, 0, obj->key, 0, obj->etag, 0,
                     (unsigned long long)obj->size);
    rm_hash_t h;
    rm_hash(id, n > 0 && (size_t)n < sizeof id ? (size_t)n : sizeof id, &h);
    rm_hash_hex(&h, hex);
    snprintf(out, size, "%s/%s", cache, hex);
}

/*  The object's file entry from the cache into *file (path not set); -1
    when it is not there, or its chunks are not all in the store. */
static int cached_file(rm_store_t *store, const char *cache, const char *bucket,
                       const object_t *obj, rm_manifest_file_t *file)
{
    char path[RM_MAX_PATH + 80];
    rm_hash_t hash;
    if (!cache || !obj->etag[0])
        return -1;
    cache_path(cache, bucket, obj, path, sizeof path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, hash.b, sizeof hash.b) : -1;
    if (fd >= 0)
        close(fd);
    rm_manifest_t m = {0};
    rm_err_t err;
    if (n != (ssize_t)sizeof hash.b || rm_manifest_load(store, &hash, &m, &err) != 0)
        return -1;
    int rc = m.files.count == 1 && m.files.items[0].size == obj->size ? 0 : -1;
    for (uint32_t i = 0; rc == 0 && i < m.files.items[0].chunks.count; i++)
        if (!rm_store_has(store, &m.files.items[0].chunks.items[i]))
            rc = -1;
    if (rc == 0) {
        *file = m.files.items[0];
        file->path = NULL;
        m.files.items[0].chunks.items = NULL; /* moved to *file */
        m.files.items[0].chunks.count = 0;
    }
    rm_manifest_free(&m);
    return rc;
}

uint64_t rm_s3_import_prune(const char *cache, rm_store_t *store)
{
    DIR *dir = opendir(cache);
    uint64_t removed = 0;
    struct dirent *de;
    while (dir && (de = readdir(dir)) != NULL) {
        rm_hash_t name, hash;
        char path[RM_MAX_PATH + 80];
        if (rm_hash_parse(de->d_name, &name) != 0 ||
            snprintf(path, sizeof path, "%s/%s", cache, de->d_name) >= (int)sizeof path)
            continue; /* not an entry (a temporary file of one being written) */
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t n = fd >= 0 ? read(fd, hash.b, sizeof hash.b) : -1;
        if (fd >= 0)
            close(fd);
        if (fd >= 0 && (n != (ssize_t)sizeof hash.b || !rm_store_has(store, &hash)) &&
            unlink(path) == 0)
            removed++;
    }
    if (dir)
        closedir(dir);
    return removed;
}

/*  The staged file chunked into the store as its file entry, remembered
    in the cache (best effort: a cache that cannot be written only costs a
    read next time). */
static int store_file(rm_store_t *store, const char *cache, const char *bucket, const object_t *obj,
                      const char *staged, rm_manifest_file_t *file, rm_err_t *err)
{
    rm_hash_t hash;
    uint64_t size;
    rm_manifest_t m = {0};
    if (rm_manifest_store_file(store, staged, "f", &hash, &size, err) != 0 ||
        rm_manifest_load(store, &hash, &m, err) != 0)
        return -1;
    *file = m.files.items[0];
    file->path = NULL;
    m.files.items[0].chunks.items = NULL; /* moved to *file */
    m.files.items[0].chunks.count = 0;
    rm_manifest_free(&m);
    if (cache && obj->etag[0]) {
        char path[RM_MAX_PATH + 80];
        rm_err_t ignored;
        cache_path(cache, bucket, obj, path, sizeof path);
        if (rm_fs_mkdir_p(cache, 0700, 0700, &ignored) == 0)
            rm_fs_write_atomic(path, hash.b, sizeof hash.b, 0600, &ignored);
    }
    unlink(staged); /* its bytes are in the store now */
    return 0;
}

static int import_objects(rm_s3_t *s3, rm_store_t *store, const char *staging, const char *cache,
                          const char *bucket, const objects_t *o, const char *blend_key,
                          const char *root, progress_t *p, rm_s3_import_result_t *out,
                          rm_err_t *err)
{
    size_t rootlen = strlen(root);
    /* Keys sorted, less a common prefix: paths sorted as a manifest's are. */
    rm_manifest_t manifest = {.version = 1};
    manifest.files.items = calloc(o->count ? o->count : 1, sizeof *manifest.files.items);
    if (!manifest.files.items)
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    manifest.files.count = (uint32_t)o->count;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < o->count; i++) {
        const object_t *obj = &o->items[i];
        rm_manifest_file_t *file = &manifest.files.items[i];
        const char *rel = obj->key + rootlen;
        if (cached_file(store, cache, bucket, obj, file) == 0) {
            out->reused++;
            p->done += obj->size;
            if (p->progress)
                p->progress(p->arg, p->files, p->bytes, p->done);
        } else {
            char staged[RM_MAX_PATH * 2 + 8];
            snprintf(staged, sizeof staged, "%s/%s", staging, rel);
            rc = fetch_object(s3, bucket, obj, staged, p, err);
            if (rc == 0 && strcmp(obj->key, blend_key) == 0) {
                char url[RM_MAX_PATH * 2];
                snprintf(url, sizeof url, "s3://%s/%s", bucket, blend_key);
                rc = check_blend(staged, url, err);
            }
            if (rc == 0)
                rc = store_file(store, cache, bucket, obj, staged, file, err);
        }
        if (rc == 0 && !(file->path = strdup(rel)))
            rc = rm_err_set(err, RM_ENOMEM, "out of memory");
    }
    if (rc == 0)
        rc = rm_manifest_store(&manifest, store, NULL, NULL, &out->manifest, err);
    rm_manifest_free(&manifest);
    return rc;
}

int rm_s3_import(rm_s3_t *s3, rm_store_t *store, const char *staging, const char *cache,
                 uint64_t max_bytes, const char *blend_url, const char *const *attach,
                 size_t nattach, rm_s3_import_progress_fn progress, rm_s3_import_stop_fn stop,
                 void *arg, rm_s3_import_result_t *out, rm_err_t *err)
{
    memset(out, 0, sizeof *out);
    rm_s3_url_t blend;
    if (rm_s3_url_parse(blend_url, "the .blend", &blend, err) != 0)
        return -1;
    if (rm_s3_url_is_prefix(&blend))
        return rm_err_set(err, RM_EINVAL, "%s names a prefix, not a .blend file", blend_url);
    objects_t o = {.err = err};
    rm_s3_object_t head;
    int rc = rm_s3_head(s3, blend.bucket, blend.key, &head, err);
    if (rc == 0)
        rc = add_object(&o, blend.key, head.size, head.etag);
    for (size_t i = 0; rc == 0 && i < nattach; i++)
        rc = add_attachment(s3, blend.bucket, attach[i], &o, err);
    progress_t p = {.progress = progress, .stop = stop, .arg = arg};
    char root[RM_MAX_PATH + 1] = "";
    if (rc == 0) {
        dedupe(&o);
        common_root(&o, blend.key, root, sizeof root);
        for (size_t i = 0; i < o.count; i++)
            p.bytes += o.items[i].size;
        p.files = o.count;
        if (max_bytes && p.bytes > max_bytes)
            rc = rm_err_set(err, RM_EINVAL,
                            "%s: the project is %llu MiB, more than this node takes (%llu MiB: "
                            "max_project_gb)",
                            blend_url, (unsigned long long)(p.bytes >> 20),
                            (unsigned long long)(max_bytes >> 20));
    }
    if (rc == 0) {
        if (progress)
            progress(arg, p.files, p.bytes, 0);
        rc = rm_fs_remove_tree(staging, err); /* what a crash left */
    }
    if (rc == 0)
        rc = rm_fs_mkdir_p(staging, 0700, 0700, err);
    if (rc == 0)
        rc = import_objects(s3, store, staging, cache, blend.bucket, &o, blend.key, root, &p, out,
                            err);
    rm_err_t ignored;
    if (rm_fs_remove_tree(staging, &ignored) != 0 && rc == 0)
        rc = rm_err_set(err, ignored.code, "%s", ignored.msg);
    if (rc == 0 && strlen(blend.bucket) + strlen(root) + 6 > sizeof out->root)
        rc = rm_err_set(err, RM_EINVAL, "%s: the project's prefix is too long", blend_url);
    if (rc == 0) {
        snprintf(out->root, sizeof out->root, "s3://%s/%s", blend.bucket, root);
        snprintf(out->blend, sizeof out->blend, "%s", blend.key + strlen(root));
        out->files = p.files;
        out->bytes = p.bytes;
    }
    free_objects(&o);
    return rc;
}
