/*  rm_deps: the files and the root of a project (see rm_deps.h). */
#include "rm_deps.h"

#include <stdlib.h>
#include <string.h>

#include "rm_tree.h"

void rm_deps_free(rm_deps_t *deps)
{
    for (size_t i = 0; i < deps->npaths; i++)
        free(deps->paths[i]);
    free(deps->paths);
    free(deps->root);
    memset(deps, 0, sizeof *deps);
}

static int add_path(rm_deps_t *d, const char *path, rm_err_t *err)
{
    char **paths = realloc(d->paths, (d->npaths + 1) * sizeof *paths);
    if (!paths)
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    d->paths = paths;
    if (!(paths[d->npaths] = strdup(path)))
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    d->npaths++;
    return 0;
}

/*  Lists the required files that are not there; returns how many. */
static size_t list_missing(const rm_deps_in_t *in)
{
    size_t n = 0;
    for (size_t i = 0; in->scan && i < in->scan->ndeps; i++) {
        const rm_dep_t *d = &in->scan->deps[i];
        if (d->exists || !d->required)
            continue;
        if (n++ == 0 && in->report)
            fprintf(in->report, "meshctl: %s uses files that are not on disk:\n", in->blend);
        if (in->report)
            fprintf(in->report, "  %s  (used by %s)\n", d->path, d->user);
    }
    return n;
}

/*  The root: --root, or the deepest folder holding the .blend and every
    file found. */
static int find_root(const rm_deps_in_t *in, rm_deps_t *out, rm_err_t *err)
{
    if (in->root) {
        if (!(out->root = rm_path_absolute(in->root)))
            return rm_err_set(err, RM_ENOMEM, "out of memory");
        return 0;
    }
    if (!(out->root = strdup(in->blend)))
        return rm_err_set(err, RM_ENOMEM, "out of memory");
    char *slash = strrchr(out->root, '/');
    slash[slash == out->root ? 1 : 0] = '\0'; /* the .blend's folder */
    for (size_t i = 0; in->scan && i < in->scan->ndeps; i++)
        if (in->scan->deps[i].exists)
            rm_path_common(out->root, in->scan->deps[i].path);
    return 0;
}

int rm_deps_plan(const rm_deps_in_t *in, rm_deps_t *out, rm_err_t *err)
{
    memset(out, 0, sizeof *out);
    out->missing = list_missing(in);
    if (out->missing && !in->allow_missing)
        return rm_err_set(err, RM_EINVAL,
                          "refusing to submit: %zu file%s missing (listed above); restore "
                          "%s, or pass --allow-missing to render without %s",
                          out->missing, out->missing == 1 ? " is" : "s are",
                          out->missing == 1 ? "it" : "them", out->missing == 1 ? "it" : "them");
    if (out->missing && in->report)
        fprintf(in->report, "meshctl: --allow-missing: submitting without %s\n",
                out->missing == 1 ? "it" : "them");
    if (find_root(in, out, err) != 0 || add_path(out, in->blend, err) != 0)
        goto fail;
    if (!rm_path_below(out->root, in->blend)) {
        rm_err_set(err, RM_EINVAL, "%s is outside the project root %s", in->blend, out->root);
        goto fail;
    }
    for (size_t i = 0; in->scan && i < in->scan->ndeps; i++) {
        const rm_dep_t *d = &in->scan->deps[i];
        if (!d->exists)
            continue;
        if (!rm_path_below(out->root, d->path)) {
            rm_err_set(err, RM_EINVAL,
                       "%s (%s %s) is outside the project root %s; give a --root that holds it",
                       d->path, d->kind, d->user, out->root);
            goto fail;
        }
        if (add_path(out, d->path, err) != 0)
            goto fail;
    }
    for (size_t i = 0; i < in->nattach; i++)
        if (add_path(out, in->attach[i], err) != 0)
            goto fail;
    return 0;
fail:
    rm_deps_free(out);
    return -1;
}
