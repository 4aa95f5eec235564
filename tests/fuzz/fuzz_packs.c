/*  libFuzzer target: rm_packs opening a pack file of arbitrary bytes (a
    damaged disk, a crash mid-append).  The open never crashes; with
    verification on, every chunk it indexed reads back (its hash checked)
    before and after a sweep that keeps everything copies the pack. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rm_packs.h"

static char root[64];

typedef struct {
    rm_hash_t items[4096];
    size_t count;
} seen_t;

static bool keep_all(void *arg, const rm_hash_t *hash, int64_t used_at)
{
    seen_t *s = arg;
    (void)used_at;
    if (s->count < sizeof s->items / sizeof s->items[0])
        s->items[s->count++] = *hash;
    return true;
}

static void clear_packs(void)
{
    char dir[128], path[400];
    snprintf(dir, sizeof dir, "%s/packs", root);
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL)
        if (de->d_name[0] != '.') {
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            unlink(path);
        }
    if (d)
        closedir(d);
}

static void remove_root(void)
{
    char dir[128];
    clear_packs();
    snprintf(dir, sizeof dir, "%s/packs", root);
    rmdir(dir);
    rmdir(root);
}

static void read_all(rm_packs_t *p, const seen_t *s, bool must)
{
    for (size_t i = 0; i < s->count; i++) {
        uint8_t *data = NULL;
        size_t len = 0;
        rm_err_t err;
        int rc = rm_packs_get(p, &s->items[i], &data, &len, &err);
        if (rc != 0 && must && err.code != RM_ENOTFOUND) {
            fprintf(stderr, "fuzz_packs: a verified chunk does not read back: %s\n", err.msg);
            abort();
        }
        free(data);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!root[0]) {
        snprintf(root, sizeof root, "/tmp/fuzz_packs.%d", (int)getpid());
        mkdir(root, 0700);
        atexit(remove_root);
    }
    char dir[128], path[200];
    snprintf(dir, sizeof dir, "%s/packs", root);
    mkdir(dir, 0700);
    clear_packs();
    snprintf(path, sizeof path, "%s/0123456789abcdef.pack", dir);
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    bool verify = (size & 1) != 0; /* both ways, whatever the bytes */
    uint64_t damaged = 0;
    rm_err_t err;
    rm_packs_t *p = rm_packs_new(root, verify ? 0 : -1, &damaged, &err);
    if (!p)
        return 0;
    seen_t *s = calloc(1, sizeof *s);
    rm_packs_sweep_stats_t st = {0};
    /* The sweep lists what is indexed (keep_all) and copies nothing: no
       record was dropped, unless the open skipped or cut some. */
    if (s && rm_packs_sweep(p, keep_all, NULL, s, &st, &err) == 0)
        read_all(p, s, verify);
    free(s);
    rm_packs_destroy(&p);
    return 0;
}
