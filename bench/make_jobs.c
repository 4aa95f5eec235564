/*  make_jobs: a node's home filled with many jobs, for bench_jobs.sh.

      make_jobs HOME FINISHED QUEUED

    Writes HOME/chunks with a one-file project (a fake scene.blend) and one
    rendered frame, and HOME/jobs with FINISHED one-frame jobs whose frame
    is done (its output that frame) and QUEUED one-frame jobs waiting.
    Copy the home made once to every node: their records are then equal
    (so are their digests: no node has anything to send another at start).
    The records carry no signatures: they are never merged. */
#define _XOPEN_SOURCE 700
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rm_jobs.h"
#include "rm_manifest.h"
#include "rm_store.h"

static void die(const char *what, const rm_err_t *err)
{
    fprintf(stderr, "make_jobs: %s: %s\n", what, err ? err->msg : "");
    exit(2);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0)
        die(path, NULL);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: make_jobs HOME FINISHED QUEUED\n");
        return 2;
    }
    const char *home = argv[1];
    if (strlen(home) > 3000) {
        fprintf(stderr, "make_jobs: HOME is too long\n");
        return 2;
    }
    long finished = atol(argv[2]), queued = atol(argv[3]);
    char path[4200], src[4000];
    rm_err_t err;
    mkdir(home, 0700);
    snprintf(path, sizeof path, "%s/chunks", home);
    rm_store_t *store = rm_store_new(path, &err);
    if (!store)
        die("store", &err);
    snprintf(src, sizeof src, "%s/src", home);
    mkdir(src, 0700);
    snprintf(path, sizeof path, "%s/scene.blend", src);
    write_file(path, "BLENDER-v304RENDERHEAD-not-a-real-scene");
    snprintf(path, sizeof path, "%s/frame_0001.png", src);
    write_file(path, "a rendered frame");
    snprintf(path, sizeof path, "%s/scene.blend", src);
    const char *paths[] = {path};
    rm_manifest_t manifest = {0};
    rm_hash_t project, output;
    uint64_t size = 0;
    if (rm_manifest_build(src, paths, 1, store, NULL, NULL, &manifest, &err) != 0 ||
        rm_manifest_store(&manifest, store, NULL, NULL, &project, &err) != 0)
        die("project", &err);
    rm_manifest_free(&manifest);
    snprintf(path, sizeof path, "%s/frame_0001.png", src);
    if (rm_manifest_store_file(store, path, "frame_0001.png", &output, &size, &err) != 0)
        die("output", &err);
    snprintf(path, sizeof path, "%s/jobs", home);
    rm_jobs_t *jobs = rm_jobs_new(path, &err);
    if (!jobs)
        die("jobs", &err);
    rm_frame_range_t range = {1, 1, 1};
    for (long i = 0; i < finished + queued; i++) {
        char id[17], name[32];
        snprintf(id, sizeof id, "%016lx", 0xb000000000000000ul + (unsigned long)i);
        snprintf(name, sizeof name, "bench %ld", i);
        rm_job_spec_t spec = {.job_id = id,
                              .name = name,
                              .blend = "scene.blend",
                              .manifest = project,
                              .frames = {&range, 1},
                              .scene = "",
                              .camera = "",
                              .engine = "",
                              .device = "",
                              .format = "",
                              .chunk = 1,
                              .submitter = "bench",
                              .submitter_role = "admin",
                              .submitted_at = 1700000000000 + i,
                              .source_root = ""};
        rm_job_t *job = NULL;
        bool created = false;
        if (rm_jobs_create(jobs, &spec, &job, &created, &err) != 0)
            die(id, &err);
        if (i >= finished)
            continue;
        rm_frame_output_t out = {
            .output = output, .size = size, .file = "frame_0001.png", .render_ms = 100};
        if (rm_job_frame_done(job, 1, &out, "n1", NULL, &err) != 0)
            die(id, &err);
    }
    printf("%ld finished and %ld queued jobs in %s\n", finished, queued, home);
    rm_jobs_destroy(&jobs);
    rm_store_destroy(&store);
    return 0;
}
