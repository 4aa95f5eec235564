/*  Tests for rm_scan's record parser and rm_deps: the default root is the
    common ancestor of the .blend and what it uses, a file outside --root is
    refused by name, missing files are listed with their users and refused
    unless allowed, --attach is taken along, caches may be missing. */
#include "rm_deps.h"
#include "rm_scan.h"
#include "rm_test.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char base[] = "/tmp/rm_deps_test.XXXXXX";

static void touch(const char *rel)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", base, rel);
    FILE *f = fopen(p, "w");
    CHECK_MSG(f != NULL, "cannot create %s", p);
    if (f)
        fclose(f);
}

static void test_parse(void)
{
    static const char text[] = "blend\t/s/shots/a b.blend\n"
                               "range\t1\t250\t2\n"
                               "denoise\t1\n"
                               "dep\timage\tImage 'x\\ty'\t/s/tex/back\\\\slash\\nnl.png\t1\t1\t0\n"
                               "dep\tcache\tObject 'Smoke'\t/s/cache\t0\t0\t0\n";
    rm_scan_t sc;
    rm_err_t err;
    CHECK_MSG(rm_scan_parse(text, sizeof text - 1, &sc, &err) == 0, "%s", err.msg);
    CHECK(sc.blend && strcmp(sc.blend, "/s/shots/a b.blend") == 0);
    CHECK(sc.has_range && sc.first == 1 && sc.last == 250 && sc.step == 2 && sc.denoise);
    CHECK(sc.ndeps == 2);
    if (sc.ndeps == 2) {
        CHECK(strcmp(sc.deps[0].user, "Image 'x\ty'") == 0);
        CHECK_MSG(strcmp(sc.deps[0].path, "/s/tex/back\\slash\nnl.png") == 0, "%s",
                  sc.deps[0].path);
        CHECK(sc.deps[0].exists && sc.deps[0].required);
        CHECK(!sc.deps[1].exists && !sc.deps[1].required);
    }
    rm_scan_free(&sc);

    static const char noscene[] = "blend\t/a.blend\nnoscene\tScene\tAlt\n";
    CHECK(rm_scan_parse(noscene, sizeof noscene - 1, &sc, &err) == 0);
    CHECK(!sc.has_range && sc.scenes && strcmp(sc.scenes, "Scene, Alt") == 0);
    rm_scan_free(&sc);

    static const char bad[] = "blend\t/a.blend\nsomething\tnew\n";
    CHECK(rm_scan_parse(bad, sizeof bad - 1, &sc, &err) == -1 && err.code == RM_EPROTO);
}

/*  A scan of base/shots/sh010/sh010.blend as the script would write it. */
static void scan_of(rm_scan_t *sc, bool wood_there)
{
    char text[2048];
    snprintf(text, sizeof text,
             "blend\t%1$s/shots/sh010/sh010.blend\nrange\t1\t2\t1\ndenoise\t0\n"
             "dep\tlibrary\tLibrary 'props.blend'\t%1$s/assets/props.blend\t1\t1\t0\n"
             "dep\timage\tImage 'wood.png'\t%1$s/assets/tex/wood.png\t%2$d\t1\t0\n"
             "dep\timage\tImage 'ground.png'\t%1$s/shots/sh010/maps/ground.png\t1\t1\t1\n"
             "dep\tcache\tObject 'Smoke'\t%1$s/shots/sh010/blendcache_sh010\t0\t0\t0\n",
             base, wood_there ? 1 : 0);
    rm_err_t err;
    CHECK_MSG(rm_scan_parse(text, strlen(text), sc, &err) == 0, "%s", err.msg);
}

static bool has_path(const rm_deps_t *d, const char *rel)
{
    char want[256];
    snprintf(want, sizeof want, "%s/%s", base, rel);
    for (size_t i = 0; i < d->npaths; i++)
        if (strcmp(d->paths[i], want) == 0)
            return true;
    return false;
}

static void test_plan(void)
{
    char blend[256], root[256], attach[256], shots[256];
    snprintf(blend, sizeof blend, "%s/shots/sh010/sh010.blend", base);
    snprintf(attach, sizeof attach, "%s/shots/sh010/extra.txt", base);
    snprintf(shots, sizeof shots, "%s/shots", base);
    const char *att[] = {attach};
    rm_scan_t sc;
    rm_deps_t d;
    rm_err_t err;

    /* default root: the common ancestor, here base */
    scan_of(&sc, true);
    rm_deps_in_t in = {blend, NULL, att, 1, false, &sc, NULL};
    CHECK_MSG(rm_deps_plan(&in, &d, &err) == 0, "%s", err.msg);
    CHECK_MSG(d.root && strcmp(d.root, base) == 0, "root %s", d.root);
    CHECK(d.npaths == 5 && d.missing == 0);
    CHECK(has_path(&d, "shots/sh010/sh010.blend") && has_path(&d, "assets/props.blend") &&
          has_path(&d, "assets/tex/wood.png") && has_path(&d, "shots/sh010/maps/ground.png") &&
          has_path(&d, "shots/sh010/extra.txt"));
    rm_deps_free(&d);

    /* --root too deep: the first file outside it is named, with the root */
    in.root = shots;
    CHECK(rm_deps_plan(&in, &d, &err) == -1 && err.code == RM_EINVAL);
    CHECK_MSG(strstr(err.msg, "assets/props.blend") && strstr(err.msg, shots), "%s", err.msg);
    /* --root above: fine, the paths are below it */
    snprintf(root, sizeof root, "%s/..", base);
    in.root = root;
    CHECK_MSG(rm_deps_plan(&in, &d, &err) == 0, "%s", err.msg);
    CHECK(d.root && strchr(base + 1, '/') && strncmp(d.root, base, strlen(d.root)) == 0);
    rm_deps_free(&d);
    rm_scan_free(&sc);

    /* a missing texture: listed with its user, refused; allowed: left out */
    scan_of(&sc, false);
    char *listing = NULL;
    size_t listing_len = 0;
    FILE *report = open_memstream(&listing, &listing_len);
    rm_deps_in_t in2 = {blend, NULL, NULL, 0, false, &sc, report};
    CHECK(rm_deps_plan(&in2, &d, &err) == -1 && err.code == RM_EINVAL);
    CHECK_MSG(strstr(err.msg, "1 file is missing") && strstr(err.msg, "--allow-missing"), "%s",
              err.msg);
    fflush(report);
    CHECK_MSG(strstr(listing, "assets/tex/wood.png") && strstr(listing, "Image 'wood.png'") &&
                  !strstr(listing, "blendcache"),
              "%s", listing);
    in2.allow_missing = true;
    CHECK_MSG(rm_deps_plan(&in2, &d, &err) == 0, "%s", err.msg);
    CHECK(d.missing == 1 && d.npaths == 3 && !has_path(&d, "assets/tex/wood.png"));
    rm_deps_free(&d);
    fclose(report);
    free(listing);
    rm_scan_free(&sc);

    /* --no-scan: the .blend's folder, the .blend and --attach */
    rm_deps_in_t in3 = {blend, NULL, att, 1, false, NULL, NULL};
    CHECK_MSG(rm_deps_plan(&in3, &d, &err) == 0, "%s", err.msg);
    snprintf(root, sizeof root, "%s/shots/sh010", base);
    CHECK(d.root && strcmp(d.root, root) == 0 && d.npaths == 2);
    rm_deps_free(&d);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    CHECK(mkdtemp(base) != NULL);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "mkdir -p %s/shots/sh010/maps %s/assets/tex", base, base);
    CHECK(system(cmd) == 0);
    touch("shots/sh010/sh010.blend");
    touch("shots/sh010/extra.txt");
    touch("assets/props.blend");
    touch("assets/tex/wood.png");
    touch("shots/sh010/maps/ground.png");
    RM_RUN(test_parse);
    RM_RUN(test_plan);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    CHECK(system(cmd) == 0);
    RM_TEST_DONE();
}
