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

/*  The root and the chunks its manifest lists, appended (unsorted). */
static int add_tree(rm_store_t *store, const rm_hash_t *root, hashes_t *out, rm_gc_stats_t *stats)
{
    rm_manifest_t m = {0};
    if (push(out, root) != 0)
        return -1;
    if (!rm_store_has(store, root)) {
        stats->roots_missing++;
        return 0;
    }
    rm_err_t ignored;
    /* A root that is not a manifest (damaged): its own chunk is kept. */
    if (rm_manifest_load(store, root, &m, &ignored) != 0)
        return 0;
    int rc = 0;
    for (uint32_t f = 0; rc == 0 && f < m.files.count; f++)
        for (uint32_t c = 0; rc == 0 && c < m.files.items[f].chunks.count; c++)
            rc = push(out, &m.files.items[f].chunks.items[c]);
    rm_manifest_free(&m);
    return rc;
}

static void sort_unique(hashes_t *h)
{
    if (h->count < 2)
        return;
    qsort(h->items, h->count, sizeof *h->items, rm_hash_cmp);
    size_t out = 1;
    for (size_t i = 1; i < h->count; i++)
        if (rm_hash_cmp(&h->items[out - 1], &h->items[i]) != 0)
            h->items[out++] = h->items[i];
    h->count = out;
}

static bool holds(const hashes_t *h, const rm_hash_t *x)
{
    return h->count > 0 && bsearch(x, h->items, h->count, sizeof *x, rm_hash_cmp) != NULL;
}

/*  Bytes on disk of the chunks of `set` (sorted) that `keep` lacks. */
static uint64_t bytes_beyond(rm_store_t *store, const hashes_t *set, const hashes_t *keep)
{
    uint64_t n = 0;
    for (size_t i = 0; i < set->count; i++) {
        int64_t size =
            holds(keep, &set->items[i]) ? -1 : rm_store_chunk_size(store, &set->items[i]);
        n += size > 0 ? (uint64_t)size : 0;
    }
    return n;
}

/*  Adds tree's chunks (sorted, distinct) to keep (sorted, distinct) in one
    pass.  -1: out of memory. */
static int merge_into(hashes_t *keep, const hashes_t *tree)
{
    size_t n = keep->count + tree->count;
    rm_hash_t *out = malloc((n ? n : 1) * sizeof *out);
    if (!out)
        return -1;
    size_t i = 0, j = 0, k = 0;
    while (i < keep->count || j < tree->count) {
        int c = i == keep->count   ? 1
                : j == tree->count ? -1
                                   : rm_hash_cmp(&keep->items[i], &tree->items[j]);
        out[k++] = c <= 0 ? keep->items[i++] : tree->items[j++];
        if (c == 0)
            j++;
    }
    free(keep->items);
    keep->items = out;
    keep->count = k;
    keep->cap = n ? n : 1;
    return 0;
}

/*  keep: every root's tree, then the evictable roots' that fit under the
    cap (all of them without a cap); drop: the chunks of the evicted ones.
    Both sorted. */
static int mark(rm_store_t *store, const rm_gc_plan_t *plan, hashes_t *keep, hashes_t *drop,
                rm_gc_stats_t *stats, rm_err_t *err)
{
    for (size_t i = 0; i < plan->nroots; i++)
        if (add_tree(store, &plan->roots[i], keep, stats) != 0)
            return rm_err_set(err, RM_ENOMEM, "out of memory");
    if (!plan->cap_bytes) { /* every evictable root is kept: one sort */
        for (size_t i = 0; i < plan->nevictable; i++)
            if (add_tree(store, &plan->evictable[i], keep, stats) != 0)
                return rm_err_set(err, RM_ENOMEM, "out of memory");
        sort_unique(keep);
        return 0;
    }
    sort_unique(keep);
    hashes_t none = {0};
    uint64_t used = bytes_beyond(store, keep, &none);
    bool full = false;
    for (size_t i = 0; i < plan->nevictable; i++) {
        hashes_t tree = {0};
        int rc = add_tree(store, &plan->evictable[i], &tree, stats);
        sort_unique(&tree);
        uint64_t more = rc == 0 ? bytes_beyond(store, &tree, keep) : 0;
        full = full || used + more > plan->cap_bytes;
        bool any_new = false; /* chunks no kept root holds: only then is it evicted */
        for (size_t k = 0; rc == 0 && k < tree.count; k++) {
            if (holds(keep, &tree.items[k]))
                continue;
            any_new = true;
            if (full)
                rc = push(drop, &tree.items[k]);
        }
        if (rc == 0 && !full)
            rc = merge_into(keep, &tree);
        free(tree.items);
        if (rc != 0)
            return rm_err_set(err, RM_ENOMEM, "out of memory");
        if (full && any_new)
            stats->evicted++;
        else if (!full)
            used += more;
    }
    sort_unique(drop);
    return 0;
}

static int sweep_dir(const char *dirpath, const hashes_t *keep, const hashes_t *drop,
                     const rm_gc_plan_t *plan, rm_gc_stats_t *stats)
{
    DIR *dir = opendir(dirpath);
    if (!dir)
        return 0; /* removed meanwhile */
    struct dirent *de;
    uint64_t seen = 0;
    while ((de = readdir(dir)) != NULL) {
        rm_hash_t h;
        if (plan->stop && (++seen & 1023) == 0 && plan->stop(plan->stop_arg)) {
            closedir(dir);
            return 1;
        }
        if (rm_hash_parse(de->d_name, &h) != 0)
            continue;
        char path[PATH_MAX + 80];
        struct stat st;
        if (snprintf(path, sizeof path, "%s/%s", dirpath, de->d_name) >= (int)sizeof path ||
            lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        /* An evicted project's chunk is kept if something wrote or
           touched it since the collection began (a new job on it). */
        int64_t since = holds(drop, &h) ? plan->started_at : plan->older_than;
        if (holds(keep, &h) || st.st_mtime >= since) {
            stats->kept++;
            stats->bytes_kept += (uint64_t)st.st_size;
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

typedef struct {
    const hashes_t *keep, *drop;
    const rm_gc_plan_t *plan;
} verdict_t;

/*  The rule of sweep_dir, for a chunk in a pack. */
static bool keep_packed(void *arg, const rm_hash_t *hash, int64_t used_at)
{
    const verdict_t *v = arg;
    int64_t since = holds(v->drop, hash) ? v->plan->started_at : v->plan->older_than;
    return holds(v->keep, hash) || used_at >= since;
}

static bool stop_packed(void *arg)
{
    const verdict_t *v = arg;
    return v->plan->stop && v->plan->stop(v->plan->stop_arg);
}

int rm_gc_collect(rm_store_t *store, const rm_gc_plan_t *plan, rm_gc_stats_t *stats, rm_err_t *err)
{
    hashes_t keep = {0}, drop = {0};
    memset(stats, 0, sizeof *stats);
    if (mark(store, plan, &keep, &drop, stats, err) != 0) {
        free(keep.items);
        free(drop.items);
        return -1;
    }
    const char *root = rm_store_root(store);
    DIR *dir = opendir(root);
    if (!dir) {
        free(keep.items);
        free(drop.items);
        return rm_err_set(err, rm_err_from_errno(errno), "cannot open store %s: %s", root,
                          strerror(errno));
    }
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        if (strlen(de->d_name) != 2 || strspn(de->d_name, "0123456789abcdef") != 2)
            continue;
        char path[PATH_MAX + 8];
        snprintf(path, sizeof path, "%s/%s", root, de->d_name);
        if (sweep_dir(path, &keep, &drop, plan, stats) != 0 ||
            (plan->stop && plan->stop(plan->stop_arg)))
            break;
    }
    closedir(dir);
    int rc = 0;
    if (!plan->stop || !plan->stop(plan->stop_arg)) {
        verdict_t v = {&keep, &drop, plan};
        rm_packs_sweep_stats_t ps = {0};
        rc = rm_store_sweep_packs(store, keep_packed, stop_packed, &v, &ps, err);
        stats->kept += ps.kept;
        stats->deleted += ps.deleted;
        stats->bytes_freed += ps.bytes_freed;
        stats->bytes_kept += ps.bytes_kept;
    }
    free(keep.items);
    free(drop.items);
    return rc;
}
