/*  rm_project: a submitted project, located chunk by chunk on disk
    (see rm_project.h). */
#include "rm_project.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rm_chunker.h"
#include "rm_manifest.h"
#include "rm_store.h"
#include "rm_tree.h"

typedef struct {
    char *path;        /* where it is on this machine */
    uint64_t size;     /* as in the manifest */
    uint32_t nchunks;  /* as in the manifest */
    uint64_t *offsets; /* nchunks + 1 chunk boundaries, NULL until needed */
} pfile_t;

typedef struct {
    rm_hash_t hash;
    uint32_t file;
    uint32_t chunk;
} pindex_t;

struct _rm_project_t {
    rm_manifest_t manifest;
    char *blend_rel;
    rm_hash_t mhash;
    uint8_t *mchunk; /* the manifest chunk itself */
    size_t mchunk_len;
    pfile_t *files;
    uint32_t nfiles;
    pindex_t *index; /* sorted by hash, one entry per distinct chunk */
    size_t nindex;
    uint64_t bytes_total;
    rm_chunk_sink_fn sink; /* the caller's, while building */
    void *sink_arg;
};

int rm_chunk_file(const char *path, rm_chunker_fn *fn, void *arg, rm_err_t *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return rm_err_set(err, rm_err_from_errno(errno), "cannot open %s: %s", path,
                          strerror(errno));
    uint8_t *buf = malloc(RM_CHUNKER_BUF);
    int rc = buf ? rm_chunker_stream(fd, path, buf, fn, arg, err)
                 : rm_err_set(err, RM_ENOMEM, "out of memory reading %s", path);
    free(buf);
    close(fd);
    return rc;
}

/*  --- Building -------------------------------------------------------------- */

/*  Counts each new chunk's bytes and hands it on to the caller's sink. */
static int count_sink(void *arg, const rm_hash_t *hash, const uint8_t *data, size_t len,
                      rm_err_t *err)
{
    rm_project_t *self = arg;
    self->bytes_total += len;
    return self->sink ? self->sink(self->sink_arg, hash, data, len, err) : 0;
}

static int keep_sink(void *arg, const rm_hash_t *hash, const uint8_t *data, size_t len,
                     rm_err_t *err)
{
    rm_project_t *self = arg;
    if (self->sink && self->sink(self->sink_arg, hash, data, len, err) != 0)
        return -1;
    free(self->mchunk);
    self->mchunk = malloc(len ? len : 1);
    if (!self->mchunk)
        return rm_err_set(err, RM_ENOMEM, "out of memory keeping the manifest");
    memcpy(self->mchunk, data, len);
    self->mchunk_len = len;
    return 0;
}

static int cmp_index(const void *a, const void *b)
{
    const pindex_t *x = a, *y = b;
    int c = memcmp(x->hash.b, y->hash.b, sizeof x->hash.b);
    if (c != 0)
        return c;
    if (x->file != y->file)
        return x->file < y->file ? -1 : 1;
    return x->chunk < y->chunk ? -1 : x->chunk > y->chunk;
}

static int build_index(rm_project_t *self, rm_err_t *err)
{
    size_t n = 0;
    for (uint32_t f = 0; f < self->manifest.files.count; f++)
        n += self->manifest.files.items[f].chunks.count;
    self->index = malloc((n ? n : 1) * sizeof *self->index);
    if (!self->index)
        return rm_err_set(err, RM_ENOMEM, "out of memory indexing %zu chunks", n);
    size_t k = 0;
    for (uint32_t f = 0; f < self->manifest.files.count; f++) {
        const rm_manifest_file_t *mf = &self->manifest.files.items[f];
        for (uint32_t c = 0; c < mf->chunks.count; c++)
            self->index[k++] = (pindex_t){mf->chunks.items[c], f, c};
    }
    qsort(self->index, n, sizeof *self->index, cmp_index);
    size_t out = 0;
    for (size_t i = 0; i < n; i++)
        if (out == 0 ||
            memcmp(&self->index[out - 1].hash, &self->index[i].hash, sizeof(rm_hash_t)) != 0)
            self->index[out++] = self->index[i];
    self->nindex = out;
    return 0;
}

/*  Where each file is read again: root and its path in the manifest, the
    lexical path rm_manifest_build read it from. */
static int locate_files(rm_project_t *self, const char *root, rm_err_t *err)
{
    int rc = 0;
    self->nfiles = self->manifest.files.count;
    self->files = calloc(self->nfiles ? self->nfiles : 1, sizeof *self->files);
    if (!self->files)
        rc = rm_err_set(err, RM_ENOMEM, "out of memory");
    for (uint32_t f = 0; rc == 0 && f < self->nfiles; f++) {
        const rm_manifest_file_t *mf = &self->manifest.files.items[f];
        size_t len = strlen(root) + strlen(mf->path) + 2;
        pfile_t *pf = &self->files[f];
        if (!(pf->path = malloc(len))) {
            rc = rm_err_set(err, RM_ENOMEM, "out of memory");
            break;
        }
        snprintf(pf->path, len, "%s/%s", strcmp(root, "/") == 0 ? "" : root, mf->path);
        pf->size = mf->size;
        pf->nchunks = mf->chunks.count;
    }
    return rc;
}

/*  The .blend's path inside the manifest. */
static int blend_rel(rm_project_t *self, const char *root, const char *blend, rm_err_t *err)
{
    char *abs = rm_path_absolute(blend);
    const char *rel = abs ? rm_path_below(root, abs) : NULL;
    int rc = 0;
    if (!abs)
        rc = rm_err_set(err, RM_ENOMEM, "out of memory");
    else if (!rel || !*rel)
        rc = rm_err_set(err, RM_EINVAL, "%s is outside the project root %s", blend, root);
    else if (!(self->blend_rel = strdup(rel)))
        rc = rm_err_set(err, RM_ENOMEM, "out of memory");
    free(abs);
    return rc;
}

rm_project_t *rm_project_new(const char *root, const char *blend, const char *const *paths,
                             size_t npaths, rm_chunk_sink_fn sink, void *sink_arg, rm_err_t *err)
{
    rm_project_t *self = calloc(1, sizeof *self);
    char *abs_root = rm_path_absolute(root);
    if (!self || !abs_root) {
        rm_err_set(err, RM_ENOMEM, "out of memory");
        free(abs_root);
        rm_project_destroy(&self);
        return NULL;
    }
    self->sink = sink;
    self->sink_arg = sink_arg;
    if (blend_rel(self, abs_root, blend, err) != 0 ||
        rm_manifest_build(abs_root, paths, npaths, NULL, count_sink, self, &self->manifest, err) !=
            0 ||
        rm_manifest_store(&self->manifest, NULL, keep_sink, self, &self->mhash, err) != 0 ||
        build_index(self, err) != 0 || locate_files(self, abs_root, err) != 0) {
        free(abs_root);
        rm_project_destroy(&self);
        return NULL;
    }
    free(abs_root);
    if (!self->mchunk) {
        rm_err_set(err, RM_EIO, "the manifest of %s was not produced", blend);
        rm_project_destroy(&self);
        return NULL;
    }
    self->bytes_total += self->mchunk_len;
    return self;
}

void rm_project_destroy(rm_project_t **self_p)
{
    if (self_p && *self_p) {
        rm_project_t *self = *self_p;
        for (uint32_t f = 0; self->files && f < self->nfiles; f++) {
            free(self->files[f].path);
            free(self->files[f].offsets);
        }
        free(self->files);
        free(self->index);
        free(self->mchunk);
        free(self->blend_rel);
        rm_manifest_free(&self->manifest);
        free(self);
        *self_p = NULL;
    }
}

const rm_hash_t *rm_project_manifest_hash(const rm_project_t *self)
{
    return &self->mhash;
}

const char *rm_project_blend_rel(const rm_project_t *self)
{
    return self->blend_rel;
}

uint32_t rm_project_chunks_total(const rm_project_t *self)
{
    return (uint32_t)self->nindex + 1;
}

uint64_t rm_project_bytes_total(const rm_project_t *self)
{
    return self->bytes_total;
}

uint32_t rm_project_files(const rm_project_t *self)
{
    return self->nfiles;
}

/*  --- Locating a chunk ----------------------------------------------------- */

typedef struct {
    pfile_t *file;
    uint32_t n;
} scan_t;

static int changed(const pfile_t *f, rm_err_t *err)
{
    return rm_err_set(err, RM_EINVAL,
                      "%s changed since the manifest was built; submit again once it is saved",
                      f->path);
}

static int record_offset(void *arg, uint64_t offset, const uint8_t *data, size_t len, rm_err_t *err)
{
    scan_t *s = arg;
    (void)data;
    if (s->n >= s->file->nchunks)
        return changed(s->file, err);
    s->file->offsets[s->n++] = offset;
    s->file->offsets[s->n] = offset + len;
    return 0;
}

static int scan_offsets(pfile_t *f, rm_err_t *err)
{
    f->offsets = calloc((size_t)f->nchunks + 1, sizeof *f->offsets);
    if (!f->offsets)
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    scan_t s = {f, 0};
    int rc = rm_chunk_file(f->path, record_offset, &s, err);
    if (rc == 0 && (s.n != f->nchunks || f->offsets[s.n] != f->size))
        rc = changed(f, err);
    if (rc != 0) {
        free(f->offsets);
        f->offsets = NULL;
    }
    return rc;
}

static int read_at(const pfile_t *f, uint64_t offset, uint8_t *buf, size_t len, rm_err_t *err)
{
    int fd = open(f->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return rm_err_set(err, rm_err_from_errno(errno), "cannot open %s: %s", f->path,
                          strerror(errno));
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(fd, buf + got, len - got, (off_t)(offset + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    int e = errno;
    close(fd);
    if (got < len)
        return got == 0 && e != 0
                   ? rm_err_set(err, RM_EIO, "cannot read %s: %s", f->path, strerror(e))
                   : changed(f, err);
    return 0;
}

static int copy_out(const uint8_t *src, size_t len, uint8_t **data, size_t *out_len, rm_err_t *err)
{
    *data = malloc(len ? len : 1);
    if (!*data)
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    memcpy(*data, src, len);
    *out_len = len;
    return 0;
}

/*  The index entry of `hash` (binary search on the hash alone), or NULL. */
static const pindex_t *lookup(const rm_project_t *self, const rm_hash_t *hash)
{
    size_t lo = 0, hi = self->nindex;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(self->index[mid].hash.b, hash->b, sizeof hash->b);
        if (c == 0)
            return &self->index[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/*  Reads chunk `c` of file `f` and checks that it still hashes to `hash`. */
static int read_chunk(pfile_t *f, uint32_t c, const rm_hash_t *hash, uint8_t **data, size_t *len,
                      rm_err_t *err)
{
    if (!f->offsets && scan_offsets(f, err) != 0)
        return -1;
    uint64_t off = f->offsets[c];
    size_t n = (size_t)(f->offsets[c + 1] - off);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    if (read_at(f, off, buf, n, err) != 0) {
        free(buf);
        return -1;
    }
    rm_hash_t check;
    rm_hash(buf, n, &check);
    if (memcmp(&check, hash, sizeof check) != 0) {
        free(buf);
        return changed(f, err);
    }
    *data = buf;
    *len = n;
    return 0;
}

int rm_project_chunk(rm_project_t *self, const rm_hash_t *hash, uint8_t **data, size_t *len,
                     rm_err_t *err)
{
    *data = NULL;
    *len = 0;
    if (memcmp(hash, &self->mhash, sizeof *hash) == 0)
        return copy_out(self->mchunk, self->mchunk_len, data, len, err);
    const pindex_t *e = lookup(self, hash);
    if (!e) {
        char hex[65];
        rm_hash_hex(hash, hex);
        return rm_err_set(err, RM_ENOTFOUND, "chunk %.16s is not part of this project", hex);
    }
    return read_chunk(&self->files[e->file], e->chunk, hash, data, len, err);
}
