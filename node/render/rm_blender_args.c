/*  rm_blender_args: Blender's command line, the driver's settings and
    render command, and the key of a loaded Blender. */
#include "rm_blender_args.h"

#include <czmq.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARGS_MAX 32 /* more than the longest command line, with its NULL */

struct _rm_blender_args_t {
    char *argv[ARGS_MAX];
    int argc;
    bool failed; /* out of memory, or more than ARGS_MAX - 1 arguments */
    size_t end;
};

/*  Adds a copy of value; a NULL value (a failed allocation upstream) fails
    the whole line. */
static void args_add(rm_blender_args_t *self, const char *value)
{
    char *copy = value ? strdup(value) : NULL;
    if (!copy || self->argc >= ARGS_MAX - 1) {
        free(copy);
        self->failed = true;
        return;
    }
    self->argv[self->argc++] = copy;
}

/*  -t N, when the slot limits Blender's threads. */
static void args_add_threads(rm_blender_args_t *self, int threads)
{
    if (threads > 0) {
        char n[16];
        snprintf(n, sizeof n, "%d", threads);
        args_add(self, "-t");
        args_add(self, n);
    }
}

/*  --frames for the one-shot batch from first, or --serve. */
static void args_add_mode(rm_blender_args_t *self, const rm_slot_task_t *t, bool oneshot,
                          size_t first)
{
    if (!oneshot) {
        args_add(self, "--serve");
        self->end = first;
        return;
    }
    size_t end = first + RM_BLENDER_ARGS_ONESHOT_MAX;
    self->end = end < t->frame_count ? end : t->frame_count;
    char *list = rm_slot_frame_list(t->frames + first, self->end - first);
    args_add(self, "--frames");
    args_add(self, list);
    free(list);
}

rm_blender_args_t *rm_blender_args_new(const char *blender, const char *driver, int threads,
                                       const rm_slot_task_t *t, bool oneshot, size_t first)
{
    rm_blender_args_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    args_add(self, blender);
    args_add(self, "-b");
    args_add(self, "--factory-startup");
    args_add_threads(self, threads);
    args_add(self, t->allow_scripts ? "--enable-autoexec" : "--disable-autoexec");
    args_add(self, t->blend);
    /* A driver bug must not look like a clean exit. */
    args_add(self, "--python-exit-code");
    args_add(self, "2");
    args_add(self, "--python");
    args_add(self, driver);
    args_add(self, "--");
    char fd[16];
    snprintf(fd, sizeof fd, "%d", RM_BLENDER_ARGS_RESULT_FD);
    args_add(self, "--result-fd");
    args_add(self, fd);
    args_add(self, "--blend");
    args_add(self, t->blend);
    char *json = rm_blender_args_settings(t, true);
    args_add(self, "--settings");
    args_add(self, json);
    free(json);
    args_add_mode(self, t, oneshot, first);
    if (self->failed)
        rm_blender_args_destroy(&self);
    return self;
}

void rm_blender_args_destroy(rm_blender_args_t **self_p)
{
    rm_blender_args_t *self = *self_p;
    if (!self)
        return;
    for (int i = 0; i < self->argc; i++)
        free(self->argv[i]);
    free(self);
    *self_p = NULL;
}

char **rm_blender_args_argv(const rm_blender_args_t *self)
{
    return (char **)self->argv;
}

size_t rm_blender_args_end(const rm_blender_args_t *self)
{
    return self->end;
}

/*  Sets o[key] to s (NULL = ""); false if s is not UTF-8 or out of memory. */
static bool set_text(json_t *o, const char *key, const char *s)
{
    return json_object_set_new(o, key, json_string(s ? s : "")) == 0;
}

static bool set_number(json_t *o, const char *key, json_int_t n)
{
    return json_object_set_new(o, key, json_integer(n)) == 0;
}

/*  o, compact on one line, and freed; NULL if o is. */
static char *dumped(json_t *o)
{
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return text;
}

char *rm_blender_args_settings(const rm_slot_task_t *t, bool with_out_dir)
{
    json_t *o = json_object();
    const char *keys[] = {"scene", "camera", "engine", "device", "format", "source_root"};
    const char *vals[] = {t->scene, t->camera, t->engine, t->device, t->format, t->source_root};
    bool ok = o != NULL;
    for (size_t i = 0; ok && i < sizeof keys / sizeof *keys; i++)
        ok = set_text(o, keys[i], vals[i]);
    /* json_int_t is long long: the counts fit unless absurd, and then the
       driver refuses them as it would any bad setting. */
    ok = ok && set_number(o, "samples", (json_int_t)t->samples) &&
         set_number(o, "percent", (json_int_t)t->percent) &&
         set_number(o, "res_x", (json_int_t)t->res_x) &&
         set_number(o, "res_y", (json_int_t)t->res_y) &&
         set_number(o, "gpu_index", (json_int_t)t->gpu - 1) &&
         json_object_set_new(o, "no_denoise", json_boolean(t->no_denoise)) == 0 &&
         (!with_out_dir || set_text(o, "out_dir", t->out_dir));
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return dumped(o);
}

char *rm_blender_args_render(uint64_t frame, const char *out_dir)
{
    json_t *o = json_object();
    if (!o || json_object_set_new(o, "cmd", json_string("render")) != 0 ||
        !set_number(o, "frame", (json_int_t)frame) || !set_text(o, "out_dir", out_dir)) {
        json_decref(o);
        return NULL;
    }
    char *text = dumped(o);
    char *line = text ? zsys_sprintf("%s\n", text) : NULL;
    free(text);
    return line;
}

char *rm_blender_args_key(const rm_slot_task_t *t, const struct stat *st)
{
    char *settings = rm_blender_args_settings(t, false);
    char *key = NULL;
    if (settings)
        key = zsys_sprintf("%s\n%s\n%ju:%ju:%jd.%09ld:%jd\n%s\n%" PRIu64 "\n%s", t->job_id,
                           t->blend, (uintmax_t)st->st_dev, (uintmax_t)st->st_ino,
                           (intmax_t)st->st_mtim.tv_sec, (long)st->st_mtim.tv_nsec,
                           (intmax_t)st->st_size, t->project_dir, t->allow_scripts, settings);
    free(settings);
    return key;
}
