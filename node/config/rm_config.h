/*  rm_config: a node's settings, from the command line and DIR/meshd.conf.

    meshd.conf holds `key = value` lines ('#' starts a comment); a flag on
    the command line wins over the file.  Keys (docs/operations.md):
      name          node name (default: the token's name)
      listen        main endpoint, tcp://HOST:PORT; the door is PORT+1
      join          address of a member to join (later issues)
      slots         render slots (default 1)
      threads       Cycles threads per slot (0 = Blender's default)
      blender       Blender executable (default: blender on PATH)
      task_timeout  seconds a frame may take before it is killed (default 3600)
      slot_idle_s   seconds an idle slot keeps its Blender (and the scene in
                    memory) before quitting it (default 10; 0 = quit at once)
      max_attempts  failed attempts before a frame fails the job (default 3)
      role          node | stable (coordinator preference, later issues)
      allow_scripts accept jobs that run the .blend's embedded Python
                    (default false: that Python runs as the node's user)
      max_project_gb largest project this node unpacks (default 50)
      advertise     the address other nodes reach this one at (default: listen,
                    unless it binds a wildcard host)
      no_inbound    true on a node others cannot connect to (NAT): it talks
                    through its own outbound connections only
      max_samples, max_resolution, artist_max_priority
                    bounds on what a job may ask (rm_quota.h)
      artists_private
                    true: an artist sees others' jobs without the hashes of
                    their projects, frames and logs, so cannot fetch them
      quota_jobs, quota_submits, quota_stored_gb
                    unfinished jobs per submitter in the mesh, submissions
                    per submitter per minute to this node, GiB of projects
                    per submitter held here (0: no limit)
      retain_days   days a finished job is kept before every node deletes it
                    (default 30; 0 = forever)
      chunk_grace_minutes
                    minutes a chunk no job refers to is kept (uploads on their
                    way, copies before their record; default 1440)
      store_cap_mb  the chunk store's size cap in MiB (0, the default: none);
                    over it finished jobs' projects are evicted, LRU
      upload_limit_mbps, download_limit_mbps
                    this node's chunk traffic in megabits per second (0, the
                    default: none): to share a link, or to emulate one
      repair_after_s
                    seconds a node must be dead or gone before the coordinator
                    renders again the frames whose outputs only it held
                    (default 60: a network cut shorter than that re-renders
                    nothing)
      submit_wait_s seconds a submission waits for a second node to hold it
                    while no chunk moves from this node to the others
                    (default 30; as long as they keep fetching, it waits on,
                    an hour at most)
      sandbox       run each Blender in a bubblewrap sandbox (default true;
                    false lets a .blend read and write what the node's user
                    can, and is the only way to render where bwrap cannot
                    run)
      s3_region, s3_endpoint, s3_profile, s3_access_key_id,
      s3_secret_access_key_file, s3_addressing_style
                    S3 settings that win over the environment and ~/.aws
                    (rm_aws_config.h); the secret only as a path to a 0600
                    file
      s3_buckets    the buckets jobs may read projects from and write frames
                    to, comma-separated (default: any the credentials reach) */
#ifndef RM_CONFIG_H
#define RM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rm_error.h"

typedef struct {
    char home[1024];
    char token[1024]; /* token file given with --token ("" = use HOME/identity.token) */
    char name[256];
    char listen[256];
    char join[256];
    char blender[1024];
    char role[32];
    uint64_t slots;
    uint64_t threads;
    uint64_t task_timeout;
    uint64_t slot_idle_s;
    uint64_t max_attempts;
    bool allow_scripts;
    uint64_t max_project_gb;
    char advertise[256];
    bool no_inbound;
    bool sandbox;
    uint64_t max_samples;         /* highest --samples a job may ask (default 65536) */
    uint64_t max_resolution;      /* widest side of --resolution (default 16384) */
    uint64_t artist_max_priority; /* artists' priorities within ± this (default 100) */
    bool artists_private;         /* artists see others' jobs without their data's hashes */
    uint64_t quota_jobs;          /* unfinished jobs per submitter (default 1000) */
    uint64_t quota_submits;       /* submissions per submitter per minute (default 120) */
    uint64_t quota_stored_gb;     /* GiB of distinct projects per submitter (default 500) */
    uint64_t retain_days;         /* finished jobs kept this long (default 30; 0: forever) */
    uint64_t chunk_grace_minutes; /* unreferenced chunks kept this long (default 1440) */
    uint64_t store_cap_mb;        /* the chunk store's size cap (0: none); finished jobs'
                                     projects are evicted, least recently used first */
    uint64_t repair_after_s;      /* a renderer gone this long: its lost outputs are rendered
                                     again (default 60) */
    uint64_t submit_wait_s;       /* a submission waits this long for a second node while
                                     nothing moves (default 30) */
    uint64_t upload_limit_mbps;   /* chunks sent, megabits per second (0: no limit) */
    uint64_t download_limit_mbps; /* chunks fetched, megabits per second (0: no limit) */
    char s3_region[64];
    char s3_endpoint[512];
    char s3_profile[128];
    char s3_access_key_id[128];
    char s3_secret_access_key_file[1024];
    char s3_addressing_style[16];
    char s3_buckets[1024]; /* buckets S3 projects and outputs may use, comma-separated; "": any */
} rm_config_t;

/*  Defaults. */
void rm_config_init(rm_config_t *config);

/*  Reads HOME/meshd.conf if it exists, without overriding keys already in
    `set` (flags given on the command line).  Unknown keys and bad values are
    errors naming the line. */
int rm_config_load(rm_config_t *config, const char *path, const char *const *set, size_t nset,
                   rm_err_t *err);

/*  Sets one key from text (used by the file parser and by flags). */
int rm_config_set(rm_config_t *config, const char *key, const char *value, rm_err_t *err);

#endif
