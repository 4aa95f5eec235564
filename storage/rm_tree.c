/*  rm_tree: lexical project paths and the files below a root (see rm_tree.h). */
#include "rm_tree.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*  --- Lexical paths --------------------------------------------------------- */

/*  The working folder as the user's shell names it: $PWD keeps the
    symlinks the user went through, and Blender takes it the same way. */
static char *working_dir(void)
{
    const char *pwd = getenv("PWD");
    struct stat a, b;
    if (pwd && pwd[0] == '/' && stat(pwd, &a) == 0 && stat(".", &b) == 0 && a.st_dev == b.st_dev &&
        a.st_ino == b.st_ino)
        return strdup(pwd);
    return getcwd(NULL, 0);
}

/*  Normalises an absolute path in place. */
static void normalise(char *path)
{
    char *out = path; /* path[0] == '/' */
    const char *p = path;
    size_t len = 0; /* of the result, without a trailing '/' */
    while (*p) {
        while (*p == '/')
            p++;
        size_t n = strcspn(p, "/");
        if (n == 0)
            break;
        if (n == 1 && p[0] == '.') {
            /* nothing */
        } else if (n == 2 && p[0] == '.' && p[1] == '.') {
            while (len > 0 && out[len - 1] != '/')
                len--; /* drop the last component ("/.." is "/") */
            if (len > 0)
                len--;
        } else {
            out[len] = '/';
            memmove(out + len + 1, p, n);
            len += n + 1;
        }
        p += n;
    }
    if (len == 0)
        len = 1; /* the root */
    out[0] = '/';
    out[len] = '\0';
}

char *rm_path_absolute(const char *path)
{
    char *cwd = NULL, *abs;
    if (path[0] != '/' && !(cwd = working_dir()))
        return NULL;
    size_t cl = cwd ? strlen(cwd) : 0, pl = strlen(path);
    abs = malloc(cl + pl + 3);
    if (abs) {
        memcpy(abs, cwd ? cwd : "", cl);
        abs[cl] = '/';
        memcpy(abs + cl + 1, path, pl + 1);
        normalise(abs); /* an absolute path: "/" + "/a" is "//a", normalised "/a" */
    }
    free(cwd);
    return abs;
}

const char *rm_path_below(const char *root, const char *path)
{
    if (strcmp(root, "/") == 0)
        return path[0] == '/' ? path + 1 : NULL;
    size_t n = strlen(root);
    if (strncmp(path, root, n) != 0)
        return NULL;
    if (path[n] == '\0')
        return path + n;
    return path[n] == '/' ? path + n + 1 : NULL;
}

void rm_path_common(char *dir, const char *path)
{
    while (!rm_path_below(dir, path)) {
        char *slash = strrchr(dir, '/');
        if (slash == dir) { /* every absolute path is below "/" */
            dir[1] = '\0';
            return;
        }
        *slash = '\0';
    }
}

/*  --- Collecting files ------------------------------------------------------ */

/*  Folders being walked, innermost first, to stop symlink loops. */
typedef struct dir_stack {
    dev_t dev;
    ino_t ino;
    const struct dir_stack *up;
} dir_stack_t;

int rm_tree_init(rm_tree_t *tree, const char *root, size_t max, rm_err_t *err)
{
    memset(tree, 0, sizeof *tree);
    tree->max = max;
    if (!(tree->root = rm_path_absolute(root)))
        return rm_err_set(err, RM_ENOMEM, "cannot make %s absolute: %s", root, strerror(errno));
    return 0;
}

void rm_tree_free(rm_tree_t *tree)
{
    for (size_t i = 0; i < tree->count; i++) {
        free(tree->items[i].abs);
        free(tree->items[i].rel);
    }
    free(tree->items);
    free(tree->root);
    memset(tree, 0, sizeof *tree);
}

static int add_entry(rm_tree_t *t, const char *abs, rm_err_t *err)
{
    if (t->count >= t->max)
        return rm_err_set(err, RM_EINVAL, "project has more than %zu files (at %s)", t->max, abs);
    if (t->count == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 64;
        rm_tree_entry_t *items = realloc(t->items, ncap * sizeof *items);
        if (!items)
            return rm_err_set(err, RM_ENOMEM, "out of memory listing %s", abs);
        t->items = items;
        t->cap = ncap;
    }
    rm_tree_entry_t *e = &t->items[t->count];
    e->abs = strdup(abs);
    e->rel = strdup(rm_path_below(t->root, abs));
    if (!e->abs || !e->rel) {
        free(e->abs);
        free(e->rel);
        return rm_err_set(err, RM_ENOMEM, "out of memory listing %s", abs);
    }
    t->count++;
    return 0;
}

static char *join_path(const char *dir, const char *name)
{
    size_t dl = strcmp(dir, "/") == 0 ? 0 : strlen(dir);
    size_t nl = strlen(name);
    char *path = malloc(dl + nl + 2);
    if (path) {
        memcpy(path, dir, dl);
        path[dl] = '/';
        memcpy(path + dl + 1, name, nl + 1);
    }
    return path;
}

static int walk_dir(rm_tree_t *t, const char *abs, const struct stat *st, const dir_stack_t *up,
                    rm_err_t *err);

/*  One file or folder at the lexical path abs; stat follows symlinks, so
    a linked folder is walked under its own name. */
static int walk_entry(rm_tree_t *t, const char *abs, const dir_stack_t *up, bool named,
                      rm_err_t *err)
{
    struct stat st;
    if (stat(abs, &st) != 0) {
        struct stat lst;
        if (lstat(abs, &lst) == 0 && S_ISLNK(lst.st_mode))
            return rm_err_set(err, RM_ENOTFOUND, "symlink %s is broken: %s", abs, strerror(errno));
        return rm_err_set(err, rm_err_from_errno(errno), "cannot read %s: %s", abs,
                          strerror(errno));
    }
    if (S_ISREG(st.st_mode))
        return add_entry(t, abs, err);
    if (S_ISDIR(st.st_mode))
        return walk_dir(t, abs, &st, up, err);
    if (named)
        return rm_err_set(err, RM_EINVAL, "%s is not a file or folder", abs);
    return 0; /* sockets, fifos, devices inside a folder: not project data */
}

static int walk_dir(rm_tree_t *t, const char *abs, const struct stat *st, const dir_stack_t *up,
                    rm_err_t *err)
{
    for (const dir_stack_t *d = up; d; d = d->up)
        if (d->dev == st->st_dev && d->ino == st->st_ino)
            return rm_err_set(err, RM_EINVAL, "symlink loop at %s", abs);
    dir_stack_t here = {st->st_dev, st->st_ino, up};
    DIR *dir = opendir(abs);
    if (!dir)
        return rm_err_set(err, rm_err_from_errno(errno), "cannot open folder %s: %s", abs,
                          strerror(errno));
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(dir)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char *child = join_path(abs, de->d_name);
        if (!child)
            rc = rm_err_set(err, RM_ENOMEM, "out of memory listing %s", abs);
        else if (strlen(child) >= PATH_MAX)
            rc = rm_err_set(err, RM_EINVAL, "path too long: %s", child);
        else
            rc = walk_entry(t, child, &here, false, err);
        free(child);
    }
    closedir(dir);
    return rc;
}

int rm_tree_add(rm_tree_t *tree, const char *path, rm_err_t *err)
{
    char *abs = rm_path_absolute(path);
    if (!abs)
        return rm_err_set(err, RM_ENOMEM, "cannot make %s absolute: %s", path, strerror(errno));
    int rc;
    const char *rel = rm_path_below(tree->root, abs);
    if (!rel || !*rel)
        rc = rm_err_set(err, RM_EINVAL, "%s is outside the project root %s (give --root)", abs,
                        tree->root);
    else
        rc = walk_entry(tree, abs, NULL, true, err);
    free(abs);
    return rc;
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const rm_tree_entry_t *)a)->rel, ((const rm_tree_entry_t *)b)->rel);
}

void rm_tree_sort(rm_tree_t *t)
{
    if (t->count == 0)
        return;
    qsort(t->items, t->count, sizeof *t->items, entry_cmp);
    size_t out = 1;
    for (size_t i = 1; i < t->count; i++) {
        if (strcmp(t->items[i].rel, t->items[out - 1].rel) == 0) {
            free(t->items[i].abs);
            free(t->items[i].rel);
        } else {
            t->items[out++] = t->items[i];
        }
    }
    t->count = out;
}
