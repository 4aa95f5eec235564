/*  Tests for rm_manifest: building from a project tree, stable hashes,
    round trips through the codec, materializing, missing chunks, hostile
    paths, frame manifests and a full disk while materializing. */
#include "rm_chunker.h"
#include "rm_manifest.h"
#include "rm_test.h"

#include <dirent.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    char base[64];
    char proj[128];
    char store_dir[128];
} fixture_t;

static void fill_random(uint8_t *buf, size_t len, uint64_t seed)
{
    for (size_t i = 0; i < len; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        buf[i] = (uint8_t)(seed >> 56);
    }
}

static void write_file(const char *path, size_t len, uint64_t seed, mode_t mode)
{
    uint8_t *data = malloc(len ? len : 1);
    fill_random(data, len, seed);
    FILE *f = fopen(path, "wb");
    CHECK_MSG(f != NULL, "cannot create %s", path);
    if (f) {
        CHECK(fwrite(data, 1, len, f) == len);
        fclose(f);
    }
    chmod(path, mode);
    free(data);
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *data = malloc(n > 0 ? (size_t)n : 1);
    *len = fread(data, 1, (size_t)n, f);
    fclose(f);
    return data;
}

static void pathf(char *out, size_t size, const char *dir, const char *rel)
{
    CHECK(snprintf(out, size, "%s/%s", dir, rel) < (int)size);
}

static void make_tree(fixture_t *fx)
{
    char p[512];
    pathf(fx->proj, sizeof fx->proj, fx->base, "proj");
    pathf(fx->store_dir, sizeof fx->store_dir, fx->base, "store");
    const char *dirs[] = {"proj",     "proj/textures", "proj/textures/sub",
                          "proj/lib", "proj/bad",      "outside"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        pathf(p, sizeof p, fx->base, dirs[i]);
        CHECK(mkdir(p, 0700) == 0);
    }
    pathf(p, sizeof p, fx->base, "proj/scene.blend");
    write_file(p, 300 * 1000, 1, 0644);
    pathf(p, sizeof p, fx->base, "proj/textures/a.png");
    write_file(p, 3 * 1024 * 1024 + 17, 2, 0644); /* several read buffers */
    pathf(p, sizeof p, fx->base, "proj/textures/sub/b.exr");
    write_file(p, 50 * 1000, 3, 0755);
    pathf(p, sizeof p, fx->base, "proj/textures/empty.txt");
    write_file(p, 0, 4, 0644);
    pathf(p, sizeof p, fx->base, "proj/lib/linked.blend");
    write_file(p, 200 * 1000, 5, 0644);
    pathf(p, sizeof p, fx->base, "proj/unattached.txt");
    write_file(p, 10, 6, 0644);
    pathf(p, sizeof p, fx->base, "outside/other.png");
    write_file(p, 1000, 7, 0644);
    pathf(p, sizeof p, fx->base, "proj/textures/link.png"); /* symlink inside: followed */
    CHECK(symlink("a.png", p) == 0);
    pathf(p, sizeof p, fx->base, "proj/textures/fifo"); /* not a regular file: skipped */
    CHECK(mkfifo(p, 0600) == 0);
    pathf(p, sizeof p, fx->base, "proj/bad/escape.png"); /* symlink outside: refused */
    CHECK(symlink("../../outside/other.png", p) == 0);
}

static int build(const fixture_t *fx, rm_store_t *store, rm_chunk_sink_fn sink, void *arg,
                 rm_manifest_t *m, char **blend_rel, rm_err_t *err)
{
    char blend[512], tex[512], lib[512], dup[512];
    /* a ".." in the .blend's path: removed lexically */
    pathf(blend, sizeof blend, fx->proj, "textures/../scene.blend");
    pathf(tex, sizeof tex, fx->proj, "textures");
    pathf(lib, sizeof lib, fx->proj, "lib/linked.blend");
    pathf(dup, sizeof dup, fx->proj, "textures/a.png");
    const char *paths[] = {blend, tex, lib, dup};
    *blend_rel = strdup("scene.blend");
    return rm_manifest_build(fx->proj, paths, 4, store, sink, arg, m, err);
}

static void check_layout(const rm_manifest_t *m)
{
    static const struct {
        const char *path;
        uint64_t size, mode;
    } want[] = {
        {"lib/linked.blend", 200 * 1000, 0644},
        {"scene.blend", 300 * 1000, 0644},
        {"textures/a.png", 3 * 1024 * 1024 + 17, 0644},
        {"textures/empty.txt", 0, 0644},
        {"textures/link.png", 3 * 1024 * 1024 + 17, 0644},
        {"textures/sub/b.exr", 50 * 1000, 0755},
    };
    size_t n = sizeof want / sizeof want[0];
    CHECK_MSG(m->files.count == n, "%u files", m->files.count);
    for (size_t i = 0; i < n && i < m->files.count; i++) {
        const rm_manifest_file_t *f = &m->files.items[i];
        CHECK_MSG(strcmp(f->path, want[i].path) == 0, "file %zu: %s", i, f->path);
        CHECK_MSG(f->size == want[i].size, "%s: %llu bytes", f->path, (unsigned long long)f->size);
        CHECK_MSG(f->mode == want[i].mode, "%s: mode %llo", f->path, (unsigned long long)f->mode);
    }
    CHECK(m->version == 1);
}

/*  The chunks of a.png must be those of the file chunked whole in memory. */
static void check_streaming_cuts(const fixture_t *fx, const rm_manifest_t *m)
{
    char p[512];
    size_t len = 0, off = 0;
    uint32_t k = 0;
    pathf(p, sizeof p, fx->proj, "textures/a.png");
    uint8_t *data = read_file(p, &len);
    const rm_manifest_file_t *f = &m->files.items[2];
    while (data && off < len && k < f->chunks.count) {
        size_t n = rm_chunker_next(data + off, len - off);
        rm_hash_t h;
        rm_hash(data + off, n, &h);
        CHECK(memcmp(&h, &f->chunks.items[k], sizeof h) == 0);
        off += n;
        k++;
    }
    CHECK(off == len && k == f->chunks.count && k > 10);
    free(data);
}

static uint32_t count_distinct(const rm_manifest_t *m, rm_hash_t *out, uint32_t max)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < m->files.count; i++)
        for (uint32_t j = 0; j < m->files.items[i].chunks.count; j++) {
            const rm_hash_t *h = &m->files.items[i].chunks.items[j];
            uint32_t k = 0;
            while (k < n && memcmp(&out[k], h, sizeof *h) != 0)
                k++;
            if (k == n && n < max)
                out[n++] = *h;
        }
    return n;
}

/*  The project tree and the store, made once in main. */
static fixture_t fixture;
static const fixture_t *const fx = &fixture;
static rm_store_t *store;

/*  The project's manifest, built and stored once (by the first case that
    asks). */
static const rm_hash_t *project_hash(void)
{
    static rm_hash_t mhash;
    static bool stored;
    if (!stored) {
        rm_err_t err;
        rm_manifest_t m;
        char *rel = NULL;
        CHECK_MSG(build(fx, store, NULL, NULL, &m, &rel, &err) == 0, "%s", err.msg);
        CHECK_MSG(rm_manifest_store(&m, store, NULL, NULL, &mhash, &err) == 0, "%s", err.msg);
        rm_manifest_free(&m);
        free(rel);
        stored = true;
    }
    return &mhash;
}

/*  Files in path order with their sizes and modes: followed symlinks
    inside, a path named twice once, a FIFO and files no path names left
    out; ".." in the .blend's path removed lexically. */
static void test_a_build_lists_the_files_the_paths_name(void)
{
    rm_err_t err;
    rm_manifest_t m;
    char *rel = NULL;
    CHECK_MSG(build(fx, store, NULL, NULL, &m, &rel, &err) == 0, "%s", err.msg);
    CHECK(rel && strcmp(rel, "scene.blend") == 0);
    check_layout(&m);
    rm_manifest_free(&m);
    free(rel);
}

static void test_a_file_read_in_buffers_is_cut_as_if_read_whole(void)
{
    rm_err_t err;
    rm_manifest_t m;
    char *rel = NULL;
    CHECK_MSG(build(fx, store, NULL, NULL, &m, &rel, &err) == 0, "%s", err.msg);
    check_streaming_cuts(fx, &m);
    rm_manifest_free(&m);
    free(rel);
}

static void test_the_same_tree_gives_the_same_hash_and_no_new_chunks(void)
{
    rm_err_t err;
    rm_manifest_t m2;
    char *rel2 = NULL;
    const rm_hash_t *mhash = project_hash();
    uint64_t bytes, before, after;
    CHECK(rm_store_usage(store, &bytes, &before, &err) == 0);
    rm_hash_t again;
    CHECK_MSG(build(fx, store, NULL, NULL, &m2, &rel2, &err) == 0, "%s", err.msg);
    CHECK(rm_manifest_store(&m2, store, NULL, NULL, &again, &err) == 0);
    CHECK(memcmp(mhash, &again, sizeof again) == 0); /* same tree, same hash */
    CHECK(rm_store_usage(store, &bytes, &after, &err) == 0);
    CHECK_MSG(before == after, "second build added %llu chunks",
              (unsigned long long)(after - before));
    rm_manifest_free(&m2);
    free(rel2);
}

static void test_a_stored_manifest_loads_back_the_same(void)
{
    rm_err_t err;
    rm_manifest_t m;
    char *rel = NULL;
    const rm_hash_t *mhash = project_hash();
    CHECK_MSG(build(fx, store, NULL, NULL, &m, &rel, &err) == 0, "%s", err.msg);
    rm_manifest_t loaded;
    CHECK_MSG(rm_manifest_load(store, mhash, &loaded, &err) == 0, "%s", err.msg);
    check_layout(&loaded);
    for (uint32_t i = 0; i < loaded.files.count && i < m.files.count; i++) {
        CHECK(loaded.files.items[i].chunks.count == m.files.items[i].chunks.count);
        if (m.files.items[i].chunks.count) /* an empty file has no chunks, items NULL */
            CHECK(memcmp(loaded.files.items[i].chunks.items, m.files.items[i].chunks.items,
                         m.files.items[i].chunks.count * sizeof(rm_hash_t)) == 0);
    }
    rm_manifest_free(&loaded);
    rm_manifest_free(&m);
    free(rel);
}

typedef struct {
    uint32_t calls;
    rm_hash_t seen[256];
} sink_state_t;

static int count_sink(void *arg, const rm_hash_t *hash, const uint8_t *data, size_t len,
                      rm_err_t *err)
{
    sink_state_t *s = arg;
    rm_hash_t h;
    rm_hash(data, len, &h);
    if (memcmp(&h, hash, sizeof h) != 0 || s->calls >= 256)
        return rm_err_set(err, RM_EINVAL, "sink got a bad chunk");
    for (uint32_t i = 0; i < s->calls; i++)
        if (memcmp(&s->seen[i], hash, sizeof h) == 0)
            return rm_err_set(err, RM_EINVAL, "sink got a chunk twice");
    s->seen[s->calls++] = *hash;
    return 0;
}

/*  A build without a store hands each distinct chunk to the sink once. */
static void test_a_sink_gets_each_distinct_chunk_once(void)
{
    rm_err_t err;
    rm_manifest_t m;
    char *rel = NULL;
    sink_state_t *s = calloc(1, sizeof *s);
    rm_hash_t distinct[256];
    CHECK_MSG(build(fx, NULL, count_sink, s, &m, &rel, &err) == 0, "%s", err.msg);
    uint32_t n = count_distinct(&m, distinct, 256);
    CHECK_MSG(s->calls == n, "sink called %u times for %u distinct chunks", s->calls, n);
    rm_manifest_free(&m);
    free(rel);
    free(s);
}

static void test_refuses_a_path_outside_the_root(void)
{
    rm_err_t err;
    rm_manifest_t m;
    char blend[512], out[512];
    pathf(blend, sizeof blend, fx->proj, "scene.blend");
    pathf(out, sizeof out, fx->base, "outside/other.png");
    const char *a1[] = {blend, out};
    CHECK(rm_manifest_build(fx->proj, a1, 2, store, NULL, NULL, &m, &err) == -1);
    CHECK_MSG(err.code == RM_EINVAL && strstr(err.msg, out) && strstr(err.msg, fx->proj) &&
                  strstr(err.msg, "outside the project root"),
              "%s", err.msg);
    CHECK(m.files.count == 0 && m.files.items == NULL);
}

static void test_refuses_a_symlink_loop(void)
{
    rm_err_t err;
    rm_manifest_t m;
    char loop[512];
    pathf(loop, sizeof loop, fx->proj, "loop");
    CHECK(mkdir(loop, 0700) == 0);
    pathf(loop, sizeof loop, fx->proj, "loop/inner");
    CHECK(mkdir(loop, 0700) == 0);
    pathf(loop, sizeof loop, fx->proj, "loop/inner/up");
    CHECK(symlink("..", loop) == 0); /* inside the project, but an ancestor */
    pathf(loop, sizeof loop, fx->proj, "loop");
    const char *a4[] = {loop};
    CHECK(rm_manifest_build(fx->proj, a4, 1, store, NULL, NULL, &m, &err) == -1);
    CHECK_MSG(err.code == RM_EINVAL && strstr(err.msg, "symlink loop at"), "%s", err.msg);
    pathf(loop, sizeof loop, fx->proj, "loop/inner/up");
    CHECK(unlink(loop) == 0);
}

static void test_refuses_a_path_that_is_not_a_regular_file(void)
{
    rm_err_t err;
    rm_manifest_t m;
    char fifo[512];
    pathf(fifo, sizeof fifo, fx->proj, "textures/fifo");
    const char *a5[] = {fifo};
    CHECK(rm_manifest_build(fx->proj, a5, 1, store, NULL, NULL, &m, &err) == -1);
    CHECK_MSG(err.code == RM_EINVAL && strstr(err.msg, fifo), "%s", err.msg);
}

static void test_a_missing_path_is_not_found(void)
{
    rm_err_t err;
    rm_manifest_t m;
    char nope[512];
    pathf(nope, sizeof nope, fx->proj, "nope.png");
    const char *a3[] = {nope};
    CHECK(rm_manifest_build(fx->proj, a3, 1, store, NULL, NULL, &m, &err) == -1);
    CHECK_MSG(err.code == RM_ENOTFOUND && strstr(err.msg, nope), "%s", err.msg);
}

static void test_a_broken_symlink_is_not_found(void)
{
    rm_err_t err;
    rm_manifest_t m;
    char broken[512];
    pathf(broken, sizeof broken, fx->proj, "broken.png");
    CHECK(symlink("nowhere.png", broken) == 0);
    const char *a6[] = {broken};
    CHECK(rm_manifest_build(fx->proj, a6, 1, store, NULL, NULL, &m, &err) == -1);
    CHECK_MSG(err.code == RM_ENOTFOUND && strstr(err.msg, "broken"), "%s", err.msg);
    CHECK(unlink(broken) == 0);
}

/*  A studio layout: the root above the .blend's folder, a symlinked
    folder kept under its own name (contents read through it), a symlink
    to a file outside the root followed, and ".." taken lexically (after
    a symlinked folder, ".." goes back up the link's name, not its
    target's parent, as Blender does). */
static void test_a_root_above_the_blend_keeps_linked_folders_by_name(void)
{
    rm_err_t err;
    rm_manifest_t m;
    char link[512], blend[512], other[512], bad[512], lexical[512];
    pathf(link, sizeof link, fx->proj, "linked");
    CHECK(symlink("../outside", link) == 0);
    pathf(blend, sizeof blend, fx->proj, "linked/../scene.blend"); /* realpath: base/scene.blend */
    pathf(other, sizeof other, fx->proj, "linked/other.png");
    pathf(bad, sizeof bad, fx->proj, "bad");
    pathf(lexical, sizeof lexical, fx->base, "proj/./lib//../lib/linked.blend");
    const char *paths[] = {blend, other, bad, lexical};
    CHECK_MSG(rm_manifest_build(fx->base, paths, 4, store, NULL, NULL, &m, &err) == 0, "%s",
              err.msg);
    static const struct {
        const char *path;
        uint64_t size;
    } want[] = {
        {"proj/bad/escape.png", 1000},
        {"proj/lib/linked.blend", 200 * 1000},
        {"proj/linked/other.png", 1000},
        {"proj/scene.blend", 300 * 1000},
    };
    CHECK_MSG(m.files.count == 4, "%u files", m.files.count);
    for (uint32_t i = 0; i < m.files.count && i < 4; i++)
        CHECK_MSG(strcmp(m.files.items[i].path, want[i].path) == 0 &&
                      m.files.items[i].size == want[i].size,
                  "file %u: %s", i, m.files.items[i].path);
    rm_manifest_free(&m);
    CHECK(unlink(link) == 0);
}

/*  The same shot with its root at the .blend's folder: the link escapes it. */
static void test_a_linked_folder_escaping_the_root_is_refused(void)
{
    rm_err_t err;
    rm_manifest_t m;
    char link[512], blend[512], other[512];
    pathf(link, sizeof link, fx->proj, "linked");
    CHECK(symlink("../outside", link) == 0);
    pathf(blend, sizeof blend, fx->proj, "linked/../scene.blend");
    pathf(other, sizeof other, fx->proj, "linked/../../outside/other.png");
    const char *p2[] = {blend, other};
    CHECK(rm_manifest_build(fx->proj, p2, 2, store, NULL, NULL, &m, &err) == -1);
    CHECK_MSG(err.code == RM_EINVAL && strstr(err.msg, "outside/other.png"), "%s", err.msg);
    CHECK(unlink(link) == 0);
}

static void compare_tree(const fixture_t *fx, const rm_manifest_t *m, const char *out)
{
    for (uint32_t i = 0; i < m->files.count; i++) {
        char a[512], b[512];
        size_t alen = 0, blen = 0;
        pathf(a, sizeof a, fx->proj, m->files.items[i].path);
        pathf(b, sizeof b, out, m->files.items[i].path);
        uint8_t *da = read_file(a, &alen);
        uint8_t *db = read_file(b, &blen);
        CHECK_MSG(da && db && alen == blen && memcmp(da, db, alen) == 0, "%s differs",
                  m->files.items[i].path);
        struct stat st;
        CHECK(stat(b, &st) == 0 && (uint64_t)(st.st_mode & 0777) == m->files.items[i].mode);
        free(da);
        free(db);
    }
}

/*  Into a folder whose parents do not exist yet. */
static void test_materializes_the_project_byte_for_byte(void)
{
    rm_err_t err;
    rm_manifest_t m;
    char out[512];
    pathf(out, sizeof out, fx->base, "job/a/b");
    CHECK_MSG(rm_manifest_load(store, project_hash(), &m, &err) == 0, "%s", err.msg);
    CHECK_MSG(rm_manifest_materialize(&m, store, out, &err) == 0, "%s", err.msg);
    compare_tree(fx, &m, out);
    rm_manifest_free(&m);
}

/*  Again over the existing tree: rewritten, still identical. */
static void test_materializing_over_an_existing_tree_rewrites_it(void)
{
    rm_err_t err;
    rm_manifest_t m;
    char out[512];
    pathf(out, sizeof out, fx->base, "job_again");
    CHECK_MSG(rm_manifest_load(store, project_hash(), &m, &err) == 0, "%s", err.msg);
    CHECK_MSG(rm_manifest_materialize(&m, store, out, &err) == 0, "%s", err.msg);
    CHECK_MSG(rm_manifest_materialize(&m, store, out, &err) == 0, "%s", err.msg);
    compare_tree(fx, &m, out);
    rm_manifest_free(&m);
}

/*  The project's manifest and an empty store of the running case's own
    (store2), with the chunks of scene.blend (file 1) when `scene`. */
static rm_store_t *lacking_store(rm_manifest_t *m, bool scene)
{
    rm_err_t err;
    char dir2[512];
    pathf(dir2, sizeof dir2, fx->base, rm_test_case);
    rm_store_t *store2 = rm_store_new(dir2, &err);
    CHECK_MSG(store2, "%s", err.msg);
    CHECK_MSG(rm_manifest_load(store, project_hash(), m, &err) == 0, "%s", err.msg);
    const rm_manifest_file_t *f = &m->files.items[1];
    for (uint32_t j = 0; scene && store2 && j < f->chunks.count; j++) {
        uint8_t *data = NULL;
        size_t len = 0;
        CHECK(rm_store_get(store, &f->chunks.items[j], &data, &len, &err) == 0);
        CHECK(rm_store_put(store2, &f->chunks.items[j], data, len, &err) == 0);
        free(data);
    }
    return store2;
}

static void test_missing_lists_every_distinct_chunk_in_order(void)
{
    rm_err_t err;
    rm_manifest_t m;
    rm_store_t *store2 = lacking_store(&m, false);
    rm_hash_t distinct[256];
    uint32_t ndistinct = count_distinct(&m, distinct, 256);
    rm_hash_t *missing = NULL;
    uint32_t nmissing = 0;
    CHECK(rm_manifest_missing(&m, store2, &missing, &nmissing, 100000, &err) == 0);
    CHECK(nmissing == ndistinct && memcmp(missing, distinct, ndistinct * sizeof *missing) == 0);
    free(missing);
    rm_manifest_free(&m);
    rm_store_destroy(&store2);
}

/*  Given the chunks of scene.blend, they are no longer missing. */
static void test_missing_leaves_out_chunks_the_store_has(void)
{
    rm_err_t err;
    rm_manifest_t m;
    rm_store_t *store2 = lacking_store(&m, true);
    rm_hash_t distinct[256];
    uint32_t ndistinct = count_distinct(&m, distinct, 256);
    rm_hash_t *missing = NULL;
    uint32_t nmissing = 0;
    CHECK(rm_manifest_missing(&m, store2, &missing, &nmissing, 100000, &err) == 0);
    CHECK(nmissing == ndistinct - m.files.items[1].chunks.count);
    for (uint32_t i = 0; i < nmissing; i++) {
        CHECK(!rm_store_has(store2, &missing[i]));
        for (uint32_t k = 0; k < i; k++)
            CHECK(memcmp(&missing[k], &missing[i], sizeof *missing) != 0);
    }
    free(missing);
    rm_manifest_free(&m);
    rm_store_destroy(&store2);
}

/*  Appending: already listed ones are not repeated, the cap counts them. */
static void test_missing_appends_without_repeats_up_to_the_cap(void)
{
    rm_err_t err;
    rm_manifest_t m;
    rm_store_t *store2 = lacking_store(&m, true);
    rm_hash_t *missing = NULL;
    uint32_t nmissing = 0;
    CHECK(rm_manifest_missing(&m, store2, &missing, &nmissing, 100000, &err) == 0);
    uint32_t before = nmissing;
    CHECK(rm_manifest_missing(&m, store2, &missing, &nmissing, 100000, &err) == 0);
    CHECK(nmissing == before);
    free(missing);
    missing = NULL;
    nmissing = 0;
    CHECK(rm_manifest_missing(&m, store2, &missing, &nmissing, 2, &err) == 0 && nmissing == 2);
    free(missing);
    rm_manifest_free(&m);
    rm_store_destroy(&store2);
}

static void test_materializing_without_a_chunk_names_it(void)
{
    rm_err_t err;
    rm_manifest_t m;
    rm_store_t *store2 = lacking_store(&m, true);
    char out[512], hex[65];
    pathf(out, sizeof out, fx->base, "job2");
    CHECK(rm_manifest_materialize(&m, store2, out, &err) == -1);
    rm_hash_hex(&m.files.items[0].chunks.items[0], hex);
    CHECK_MSG(err.code == RM_ENOTFOUND && strstr(err.msg, hex), "%s", err.msg);
    rm_manifest_free(&m);
    rm_store_destroy(&store2);
}

/*  Encodes a one-file manifest with the given path, bypassing the builder. */
static int decode_path(const char *path, rm_err_t *err)
{
    rm_hash_t chunk = {{1}};
    rm_manifest_file_t file = {(char *)path, 0644, 1, {&chunk, 1}};
    rm_manifest_t m = {1, {&file, 1}};
    uint8_t *buf = NULL;
    size_t len = 0;
    if (rm_codec_encode(&rm_manifest_desc, &m, &buf, &len, err) != 0)
        return -2;
    rm_manifest_t out;
    int rc = rm_manifest_decode(buf, len, &out, err);
    if (rc == 0)
        rm_manifest_free(&out);
    free(buf);
    return rc;
}

static void test_refuses_hostile_paths_naming_them(void)
{
    rm_err_t err;
    const char *bad[] = {"../x", "/etc/passwd", "a//b", "a/./b", "",    "a/../../b",
                         ".",    "..",          "a/",   "/",     "x/.."};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = decode_path(bad[i], &err);
        CHECK_MSG(rc == -1 && err.code == RM_EPROTO, "'%s' accepted (rc %d)", bad[i], rc);
        char quoted[64];
        snprintf(quoted, sizeof quoted, "'%s'", bad[i]);
        CHECK_MSG(rc != -1 || strstr(err.msg, quoted), "%s", err.msg);
    }
}

static void test_accepts_odd_but_safe_paths(void)
{
    rm_err_t err;
    const char *good[] = {"a", "a\\b", "..a/b..", ".hidden/x", "textures/a b.png"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        CHECK_MSG(decode_path(good[i], &err) == 0, "'%s' refused: %s", good[i], err.msg);
}

static void test_refuses_a_path_named_twice(void)
{
    rm_err_t err;
    rm_hash_t chunk = {{1}};
    rm_manifest_file_t files[2] = {{"a", 0644, 1, {&chunk, 1}}, {"a", 0644, 1, {&chunk, 1}}};
    rm_manifest_t m = {1, {files, 2}};
    uint8_t *buf = NULL;
    size_t len = 0;
    rm_manifest_t out;
    CHECK(rm_codec_encode(&rm_manifest_desc, &m, &buf, &len, &err) == 0);
    CHECK(rm_manifest_decode(buf, len, &out, &err) == -1 && err.code == RM_EPROTO);
    free(buf);
}

/*  A manifest of another version, whole or cut in half. */
static void test_refuses_a_manifest_of_another_version(void)
{
    rm_err_t err;
    rm_hash_t chunk = {{1}};
    rm_manifest_file_t file = {"a", 0644, 1, {&chunk, 1}};
    rm_manifest_t m = {2, {&file, 1}};
    uint8_t *buf = NULL;
    size_t len = 0;
    rm_manifest_t out;
    CHECK(rm_codec_encode(&rm_manifest_desc, &m, &buf, &len, &err) == 0);
    CHECK(rm_manifest_decode(buf, len, &out, &err) == -1 && err.code == RM_EPROTO);
    CHECK(rm_manifest_decode(buf, len / 2, &out, &err) == -1);
    free(buf);
}

/*  A rendered frame: one file, one manifest, under the name given. */
static void test_a_frame_is_stored_as_a_manifest_of_one_file(void)
{
    rm_err_t err;
    char frame[512], out[512];
    pathf(frame, sizeof frame, fx->base, "frame.png");
    write_file(frame, 700 * 1000, 9, 0644);
    rm_hash_t h;
    uint64_t size = 0;
    CHECK_MSG(rm_manifest_store_file(store, frame, "frame_0001.png", &h, &size, &err) == 0, "%s",
              err.msg);
    CHECK(size == 700 * 1000);
    rm_manifest_t m;
    CHECK_MSG(rm_manifest_load(store, &h, &m, &err) == 0, "%s", err.msg);
    CHECK(m.files.count == 1 && strcmp(m.files.items[0].path, "frame_0001.png") == 0);
    pathf(out, sizeof out, fx->base, "frames");
    CHECK(rm_manifest_materialize(&m, store, out, &err) == 0);
    pathf(out, sizeof out, fx->base, "frames/frame_0001.png");
    size_t a = 0, b = 0;
    uint8_t *da = read_file(frame, &a), *db = read_file(out, &b);
    CHECK(da && db && a == b && memcmp(da, db, a) == 0);
    free(da);
    free(db);
    rm_manifest_free(&m);
}

static void test_a_frame_name_that_climbs_is_refused(void)
{
    rm_err_t err;
    char frame[512];
    pathf(frame, sizeof frame, fx->base, "frame_climbs.png");
    write_file(frame, 700 * 1000, 9, 0644);
    rm_hash_t h;
    uint64_t size = 0;
    CHECK(rm_manifest_store_file(store, frame, "../x.png", &h, &size, &err) == -1);
    CHECK(err.code == RM_EINVAL && strstr(err.msg, "../x.png"));
}

/*  A frame's files, as Blender wrote them into the running case's folder:
    frame_0007.exr, passes/normal_0007.png. */
static void frame_files(char *dir, size_t size)
{
    char path[600];
    pathf(dir, size, fx->base, rm_test_case);
    CHECK(mkdir(dir, 0700) == 0);
    pathf(path, sizeof path, dir, "passes");
    CHECK(mkdir(path, 0700) == 0);
    pathf(path, sizeof path, dir, "frame_0007.exr");
    write_file(path, 3000, 1, 0644);
    pathf(path, sizeof path, dir, "passes/normal_0007.png");
    write_file(path, 500, 2, 0644);
}

/*  Every file Blender wrote, one manifest, by name. */
static void test_the_files_of_a_frame_are_stored_as_one_manifest_by_name(void)
{
    rm_err_t err;
    char dir[512];
    frame_files(dir, sizeof dir);
    const char *names[] = {"passes/normal_0007.png", "frame_0007.exr"};
    rm_hash_t h;
    uint64_t size = 0;
    CHECK_MSG(rm_manifest_store_files(store, dir, names, 2, &h, &size, &err) == 0, "%s", err.msg);
    CHECK(size == 3500);
    rm_manifest_t m;
    CHECK_MSG(rm_manifest_load(store, &h, &m, &err) == 0, "%s", err.msg);
    CHECK(m.files.count == 2 && strcmp(m.files.items[0].path, "frame_0007.exr") == 0 &&
          strcmp(m.files.items[1].path, "passes/normal_0007.png") == 0);
    rm_manifest_free(&m);
}

/*  A link, a repeated or climbing name, a missing file, no file at all. */
static void test_frame_files_that_are_not_plain_and_present_are_refused(void)
{
    rm_err_t err;
    char dir[512], path[600];
    frame_files(dir, sizeof dir);
    pathf(path, sizeof path, dir, "link.png");
    CHECK(symlink("/etc/passwd", path) == 0);
    const char *names[] = {"passes/normal_0007.png", "frame_0007.exr"};
    rm_hash_t h;
    uint64_t size = 0;
    const char *bad[][2] = {{"frame_0007.exr", "link.png"},
                            {"frame_0007.exr", "frame_0007.exr"},
                            {"frame_0007.exr", "../x.png"},
                            {"frame_0007.exr", "gone.png"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK_MSG(rm_manifest_store_files(store, dir, bad[i], 2, &h, &size, &err) == -1,
                  "stored %s", bad[i][1]);
    CHECK(rm_manifest_store_files(store, dir, bad[0], 2, &h, &size, &err) == -1 &&
          err.code == RM_EINVAL);
    CHECK(rm_manifest_store_files(store, dir, names, 0, &h, &size, &err) == -1);
}

static int count_tmp_files(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "test -z \"$(find '%s' -name '*.rm-tmp-*')\"", dir);
    return system(cmd) == 0 ? 0 : 1;
}

/*  A full disk: ENOSPC, and no temporary file left behind. */
static void test_materializing_on_a_full_disk_is_enospc_and_leaves_no_tmp_file(void)
{
    if (geteuid() != 0) {
        printf("skipped ENOSPC (needs root)\n");
        return;
    }
    char mnt[512], cmd[700];
    pathf(mnt, sizeof mnt, fx->base, "full");
    CHECK(mkdir(mnt, 0700) == 0);
    snprintf(cmd, sizeof cmd, "mount -t tmpfs -o size=256k tmpfs '%s' 2>/dev/null", mnt);
    if (system(cmd) != 0) {
        printf("skipped ENOSPC (cannot mount tmpfs here)\n");
        return;
    }
    rm_err_t err;
    rm_manifest_t m;
    CHECK(rm_manifest_load(store, project_hash(), &m, &err) == 0);
    CHECK(rm_manifest_materialize(&m, store, mnt, &err) == -1);
    CHECK_MSG(err.code == RM_ENOSPC, "%s: %s", rm_code_name(err.code), err.msg);
    printf("materialize on a full disk: %s\n", err.msg);
    CHECK(count_tmp_files(mnt) == 0);
    rm_manifest_free(&m);
    snprintf(cmd, sizeof cmd, "umount '%s'", mnt);
    CHECK(system(cmd) == 0);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    snprintf(fixture.base, sizeof fixture.base, "/tmp/rm_manifest_test.XXXXXX");
    if (!mkdtemp(fixture.base)) {
        perror("mkdtemp");
        return 1;
    }
    make_tree(&fixture);
    rm_err_t err;
    store = rm_store_new(fixture.store_dir, &err);
    CHECK_MSG(store, "%s", err.msg);
    if (store) {
        RM_RUN(test_a_build_lists_the_files_the_paths_name);
        RM_RUN(test_a_file_read_in_buffers_is_cut_as_if_read_whole);
        RM_RUN(test_the_same_tree_gives_the_same_hash_and_no_new_chunks);
        RM_RUN(test_a_stored_manifest_loads_back_the_same);
        RM_RUN(test_a_sink_gets_each_distinct_chunk_once);
        RM_RUN(test_refuses_a_path_outside_the_root);
        RM_RUN(test_refuses_a_symlink_loop);
        RM_RUN(test_refuses_a_path_that_is_not_a_regular_file);
        RM_RUN(test_a_missing_path_is_not_found);
        RM_RUN(test_a_broken_symlink_is_not_found);
        RM_RUN(test_a_root_above_the_blend_keeps_linked_folders_by_name);
        RM_RUN(test_a_linked_folder_escaping_the_root_is_refused);
        RM_RUN(test_materializes_the_project_byte_for_byte);
        RM_RUN(test_materializing_over_an_existing_tree_rewrites_it);
        RM_RUN(test_missing_lists_every_distinct_chunk_in_order);
        RM_RUN(test_missing_leaves_out_chunks_the_store_has);
        RM_RUN(test_missing_appends_without_repeats_up_to_the_cap);
        RM_RUN(test_materializing_without_a_chunk_names_it);
        RM_RUN(test_a_frame_is_stored_as_a_manifest_of_one_file);
        RM_RUN(test_a_frame_name_that_climbs_is_refused);
        RM_RUN(test_the_files_of_a_frame_are_stored_as_one_manifest_by_name);
        RM_RUN(test_frame_files_that_are_not_plain_and_present_are_refused);
        RM_RUN(test_materializing_on_a_full_disk_is_enospc_and_leaves_no_tmp_file);
    }
    RM_RUN(test_refuses_hostile_paths_naming_them);
    RM_RUN(test_accepts_odd_but_safe_paths);
    RM_RUN(test_refuses_a_path_named_twice);
    RM_RUN(test_refuses_a_manifest_of_another_version);
    rm_store_destroy(&store);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fixture.base);
    CHECK(system(cmd) == 0);
    RM_TEST_DONE();
}
