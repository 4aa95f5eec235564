#include "rm_gc.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rm_manifest.h"

typedef struct {
    rm_hash_t *items;
    size_t count, cap;
} hashes_t;

static int push(hashes_t *h, const rm_hash_t *x)
{
    if (h->count == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 1024;
        rm_hash_t *grown = realloc(h->items, cap * sizeof *grown);
        if (!grown)
            return -1;
        h->items = grown;
        h->cap = cap;
    }
    h->items[h->count++] = *x;
    return 0;
}

/*  Every root and the chunks its manifest lists, sorted. */
static int mark(rm_store_t *store, const rm_hash_t *roots, size_t nroots, hashes_t *keep,
                rm_gc_stats_t *stats, rm_err_t *err)
{
    for (size_t i = 0; i < nroots; i++) {
        rm_manifest_t m = {0};
        if (push(keep, &roots[i]) != 0)
            return rm_err_set(err, RM_ENOMEM, "out of memory");
        if (!rm_store_has(store, &roots[i])) {
            stats->roots_missing++;
            continue;
        }
        rm_err_t ignored;
        /* A root that is not a manifest (damaged): its own chunk is kept. */
        if (rm_manifest_load(store, &roots[i], &m, &ignored) != 0)
            continue;
        int rc = 0;
        for (uint32_t f = 0; rc == 0 && f < m.files.count; f++)
            for (uint32_t c = 0; rc == 0 && c < m.files.items[f].chunks.count; c++)
                rc = push(keep, &m.files.items[f].chunks.items[c]);
        rm_manifest_free(&m);
        if (rc != 0)
            return rm_err_set(err, RM_ENOMEM, "out of memory");
    }
    if (keep->count > 1)
        qsort(keep->items, keep->count, sizeof *keep->items, rm_hash_cmp);
    return 0;
}

static int sweep_dir(const char *dirpath, const hashes_t *keep, int64_t older_than,
                     rm_gc_stop_fn *stop, void *stop_arg, rm_gc_stats_t *stats)
{
    DIR *dir = opendir(dirpath);
    if (!dir)
        return 0; /* removed meanwhile */
    struct dirent *de;
    uint64_t seen = 0;
    while ((de = readdir(dir)) != NULL) {
        rm_hash_t h;
        if (stop && (++seen & 1023) == 0 && stop(stop_arg)) {
            closedir(dir);
            return 1;
        }
        if (rm_hash_parse(de->d_name, &h) != 0)
            continue;
        if (keep->count > 0 && bsearch(&h, keep->items, keep->count, sizeof h, rm_hash_cmp)) {
            stats->kept++;
            continue;
        }
        char path[PATH_MAX + 80];
        struct stat st;
        if (snprintf(path, sizeof path, "%s/%s", dirpath, de->d_name) >= (int)sizeof path ||
            lstat(path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_mtime >= older_than) {
            stats->kept++;
            continue;
        }
        if (unlink(path) == 0) {
            stats->deleted++;
            stats->bytes_freed += (uint64_t)st.st_size;
        }
    }
    closedir(dir);
    return 0;
}

int rm_gc_collect(rm_store_t *store, const rm_hash_t *roots, size_t nroots, int64_t older_than,
                  rm_gc_stop_fn *stop, void *stop_arg, rm_gc_stats_t *stats, rm_err_t *err)
{
    hashes_t keep = {0};
    memset(stats, 0, sizeof *stats);
    if (mark(store, roots, nroots, &keep, stats, err) != 0) {
        free(keep.items);
        return -1;
    }
    const char *root = rm_store_root(store);
    DIR *dir = opendir(root);
    if (!dir) {
        free(keep.items);
        return rm_err_set(err, rm_err_from_errno(errno), "cannot open store %s: %s", root,
                          strerror(errno));
    }
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        if (strlen(de->d_name) != 2 || strspn(de->d_name, "0123456789abcdef") != 2)
            continue;
        char path[PATH_MAX + 8];
        snprintf(path, sizeof path, "%s/%s", root, de->d_name);
        if (sweep_dir(path, &keep, older_than, stop, stop_arg, stats) != 0 ||
            (stop && stop(stop_arg)))
            break;
    }
    closedir(dir);
    free(keep.items);
    return 0;
}
