/*  rm_caps: capabilities against requirements (see rm_caps.h). */
#include "rm_caps.h"

#include <stdio.h>
#include <string.h>

static bool word_ok(const char *w)
{
    size_t n = strlen(w);
    if (n == 0 || n > RM_CAP_MAX)
        return false;
    for (const char *p = w; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || strchr("._-", *p)))
            return false;
    return true;
}

int rm_caps_check_requires(const rm_job_spec_t *spec, rm_err_t *err)
{
    for (uint32_t i = 0; i < spec->requires.count; i++) {
        const char *w = spec->requires.items[i] ? spec->requires.items[i] : "";
        if (!word_ok(w))
            return rm_err_set(err, RM_EINVAL,
                              "required capability '%.40s' is not 1-%d characters of a-z 0-9 . _ -",
                              w, RM_CAP_MAX);
        if (i > 0 && strcmp(spec->requires.items[i - 1], w) >= 0)
            return rm_err_set(err, RM_EINVAL, "required capabilities are not sorted and distinct");
    }
    return 0;
}

static bool has_word(const char *caps, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = caps ? caps : ""; *p;) {
        p += strspn(p, " ");
        size_t len = strcspn(p, " ");
        if (len == n && strncmp(p, word, n) == 0)
            return true;
        p += len;
    }
    return false;
}

bool rm_caps_satisfy(const char *caps, const rm_job_spec_t *spec, const char **missing)
{
    for (uint32_t i = 0; i < spec->requires.count; i++)
        if (!has_word(caps, spec->requires.items[i])) {
            if (missing)
            *missing = spec->requires.items[i];
            return false;
        }
    return true;
}

void rm_caps_waiting(const rm_job_spec_t *spec, const rm_node_info_t *nodes, size_t count,
                     char *why, size_t size)
{
    why[0] = '\0';
    if (spec->requires.count == 0)
        return;
    size_t renderers = 0;
    const char *lacking = NULL;
    for (size_t i = 0; i < count; i++) {
        const rm_node_info_t *n = &nodes[i];
        if (!n->blender_ok || !n->state || strcmp(n->state, "alive") != 0)
            continue;
        renderers++;
        const char *missing = NULL;
        if (rm_caps_satisfy(n->caps, spec, &missing))
            return;
        lacking = lacking ? lacking : missing;
    }
    if (renderers == 0)
        return; /* nothing renders at all: not this job's own reason */
    if (lacking && strcmp(lacking, "denoise") == 0)
        snprintf(why, size,
                 "waiting: the scene denoises and none of the %zu node(s) that render has "
                 "OpenImageDenoise (add such a node, or resubmit with --no-denoise)",
                 renderers);
    else
        snprintf(why, size, "waiting: none of the %zu node(s) that render can %s", renderers,
                 lacking ? lacking : "?");
}
