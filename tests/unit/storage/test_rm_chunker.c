/*  Tests for rm_chunker: FastCDC cut points are deterministic, bounded,
    about the configured average, stable under a small insertion, and never
    change between versions (golden cut points). */
#include <fcntl.h>
#include <sys/wait.h>

#include "rm_chunker.h"
#include "rm_store.h"
#include "rm_test.h"

#include <stdint.h>

#define DATA_LEN (8u * 1024 * 1024)
#define MAX_CHUNKS (DATA_LEN / RM_CHUNK_MIN + 2)

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void fill_random(uint8_t *buf, size_t len, uint64_t seed)
{
    for (size_t i = 0; i < len; i += 8) {
        uint64_t v = splitmix64(&seed);
        for (size_t j = 0; j < 8 && i + j < len; j++)
            buf[i + j] = (uint8_t)(v >> (8 * j));
    }
}

/*  Splits data into chunks; returns how many, lengths in lens. */
static size_t split(const uint8_t *data, size_t len, size_t *lens)
{
    size_t n = 0;
    for (size_t off = 0; off < len; n++) {
        lens[n] = rm_chunker_next(data + off, len - off);
        off += lens[n];
    }
    return n;
}

static void hash_chunks(const uint8_t *data, const size_t *lens, size_t n, rm_hash_t *out)
{
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        rm_hash(data + off, lens[i], &out[i]);
        off += lens[i];
    }
}

/*  The splitmix64(seed 42) stream of DATA_LEN bytes, made once in main,
    and room for its chunk lengths. */
static uint8_t *data;
static size_t *lens;

static void test_small_inputs(void)
{
    uint8_t buf[RM_CHUNK_MIN + 1] = {0};
    CHECK(rm_chunker_next(buf, 0) == 0);
    CHECK(rm_chunker_next(buf, 1) == 1);
    CHECK(rm_chunker_next(buf, RM_CHUNK_MIN) == RM_CHUNK_MIN);
    size_t n = rm_chunker_next(buf, RM_CHUNK_MIN + 1);
    CHECK(n > RM_CHUNK_MIN && n <= RM_CHUNK_MIN + 1);
}

/*  Every chunk but the last is within the bounds; together they are the
    input. */
static void test_chunks_are_bounded_and_cover_the_input(void)
{
    size_t n = split(data, DATA_LEN, lens);
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        total += lens[i];
        if (i + 1 < n)
            CHECK_MSG(lens[i] >= RM_CHUNK_MIN && lens[i] <= RM_CHUNK_MAX, "chunk %zu: %zu bytes", i,
                      lens[i]);
    }
    CHECK(total == DATA_LEN);
}

static void test_chunks_average_about_the_configured_size(void)
{
    size_t n = split(data, DATA_LEN, lens);
    double avg = (double)DATA_LEN / (double)n;
    printf("%zu chunks, average %.0f bytes\n", n, avg);
    CHECK_MSG(avg > 0.6 * RM_CHUNK_AVG && avg < 1.6 * RM_CHUNK_AVG, "average %.0f", avg);
}

/*  Long runs of one byte value: no content cuts, still bounded. */
static void test_a_run_of_one_byte_value_is_cut_within_the_bounds(void)
{
    uint8_t *zeros = calloc(1, 1024 * 1024);
    size_t zlen = rm_chunker_next(zeros, 1024 * 1024);
    CHECK(zlen >= RM_CHUNK_MIN && zlen <= RM_CHUNK_MAX);
    free(zeros);
}

static void test_cut_points_are_deterministic(void)
{
    size_t n = split(data, DATA_LEN, lens);
    size_t *again = malloc(MAX_CHUNKS * sizeof *again);
    CHECK(split(data, DATA_LEN, again) == n);
    CHECK(memcmp(lens, again, n * sizeof *lens) == 0);
    free(again);
}

/*  A reader that only ever sees RM_CHUNK_MAX * 2 bytes at a time (as the
    manifest builder does) must find the same cut points. */
static void test_a_reader_of_two_max_chunks_at_a_time_finds_the_same_cuts(void)
{
    size_t n = split(data, DATA_LEN, lens);
    size_t off = 0, i = 0;
    while (off < DATA_LEN) {
        size_t window = DATA_LEN - off < 2 * RM_CHUNK_MAX ? DATA_LEN - off : 2 * RM_CHUNK_MAX;
        size_t c = rm_chunker_next(data + off, window);
        CHECK(i < n && c == lens[i]);
        off += c;
        i++;
    }
    CHECK(i == n);
}

/*  Cut points of the splitmix64(seed 42) stream: part of the storage format.
    If this fails, every chunk hash of every stored project changes. */
static void test_cut_points_match_the_golden_ones(void)
{
    static const size_t golden[] = {87990, 72759, 68051, 68208, 22209, 69054, 109588, 87044};
    size_t n = split(data, DATA_LEN, lens);
    size_t k = sizeof golden / sizeof golden[0];
    CHECK(n >= k);
    for (size_t i = 0; i < k && i < n; i++)
        CHECK_MSG(lens[i] == golden[i], "chunk %zu: %zu bytes, golden %zu", i, lens[i], golden[i]);
}

static int hash_in(const rm_hash_t *h, const rm_hash_t *set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(h, &set[i], sizeof *h) == 0)
            return 1;
    return 0;
}

/*  A small insertion near the start: only the chunk(s) around it change. */
static void test_an_insertion_keeps_the_chunks_away_from_it(void)
{
    size_t ins = 100, at = 1000;
    uint8_t *edited = malloc(DATA_LEN + ins);
    memcpy(edited, data, at);
    fill_random(edited + at, ins, 7);
    memcpy(edited + at + ins, data + at, DATA_LEN - at);

    size_t *lens2 = malloc(MAX_CHUNKS * sizeof *lens2);
    size_t n1 = split(data, DATA_LEN, lens);
    size_t n2 = split(edited, DATA_LEN + ins, lens2);
    rm_hash_t *h1 = malloc(n1 * sizeof *h1);
    rm_hash_t *h2 = malloc(n2 * sizeof *h2);
    hash_chunks(data, lens, n1, h1);
    hash_chunks(edited, lens2, n2, h2);

    size_t kept = 0;
    for (size_t i = 0; i < n1; i++)
        kept += (size_t)hash_in(&h1[i], h2, n2);
    printf("insertion: %zu of %zu chunks kept\n", kept, n1);
    CHECK_MSG(kept * 100 >= n1 * 80, "only %zu of %zu chunks survived", kept, n1);
    CHECK(kept + 3 >= n1); /* in practice only the chunk(s) around the edit change */
    free(h1);
    free(h2);
    free(lens2);
    free(edited);
}

/*  rm_chunker_stream over a file: the same chunks, in order, at their
    offsets, as the whole file in memory gives (reads come in pieces of
    whatever size a pipe delivers: here a pipe fed by a child). */
typedef struct {
    size_t n;
    uint64_t next_offset;
    bool same;
} streamed_t;

static int on_streamed(void *arg, uint64_t offset, const uint8_t *chunk, size_t len, rm_err_t *err)
{
    (void)err;
    streamed_t *st = arg;
    st->same = st->same && offset == st->next_offset && len == lens[st->n] &&
               memcmp(chunk, data + offset, len) == 0;
    st->n++;
    st->next_offset += len;
    return 0;
}

static void test_a_stream_gives_the_chunks_of_the_whole_file(void)
{
    size_t n = split(data, DATA_LEN, lens);
    int fds[2];
    CHECK(pipe(fds) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        for (size_t off = 0; off < DATA_LEN;) { /* odd-sized writes */
            size_t piece = DATA_LEN - off < 77777 ? DATA_LEN - off : 77777;
            ssize_t w = write(fds[1], data + off, piece);
            if (w <= 0)
                _exit(1);
            off += (size_t)w;
        }
        _exit(0);
    }
    close(fds[1]);
    uint8_t *buf = malloc(RM_CHUNKER_BUF);
    streamed_t st = {.same = true};
    rm_err_t err = {0};
    CHECK_MSG(rm_chunker_stream(fds[0], NULL, buf, on_streamed, &st, &err) == 0, "%s", err.msg);
    CHECK_MSG(st.same && st.n == n && st.next_offset == DATA_LEN, "%zu of %zu chunks", st.n, n);
    free(buf);
    close(fds[0]);
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static int stop_at_second(void *arg, uint64_t offset, const uint8_t *chunk, size_t len,
                          rm_err_t *err)
{
    (void)offset, (void)chunk, (void)len;
    if (++*(int *)arg == 2)
        return rm_err_set(err, RM_EIO, "second chunk refused");
    return 0;
}

static void test_a_stream_stops_at_the_first_refusal_with_its_reason(void)
{
    char path[] = "/tmp/rm-test-chunker.XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0 && write(fd, data, 4 * RM_CHUNK_MAX) == 4 * RM_CHUNK_MAX);
    CHECK(lseek(fd, 0, SEEK_SET) == 0);
    uint8_t *buf = malloc(RM_CHUNKER_BUF);
    int calls = 0;
    rm_err_t err = {0};
    CHECK(rm_chunker_stream(fd, "the file", buf, stop_at_second, &calls, &err) != 0);
    CHECK(calls == 2 && strcmp(err.msg, "second chunk refused") == 0);
    /* A read that fails names the file (a directory cannot be read). */
    int dirfd = open("/tmp", O_RDONLY | O_DIRECTORY);
    calls = 0;
    CHECK(rm_chunker_stream(dirfd, "/tmp", buf, stop_at_second, &calls, &err) != 0);
    CHECK_MSG(calls == 0 && err.code == RM_EIO && strstr(err.msg, "cannot read /tmp: "), "%s",
              err.msg);
    close(dirfd);
    free(buf);
    close(fd);
    unlink(path);
}

int main(int argc, char **argv)
{
    RM_TEST_ARGS(argc, argv);
    data = malloc(DATA_LEN);
    lens = malloc(MAX_CHUNKS * sizeof *lens);
    if (!data || !lens)
        return 1;
    fill_random(data, DATA_LEN, 42);

    RM_RUN(test_small_inputs);
    RM_RUN(test_chunks_are_bounded_and_cover_the_input);
    RM_RUN(test_chunks_average_about_the_configured_size);
    RM_RUN(test_a_run_of_one_byte_value_is_cut_within_the_bounds);
    RM_RUN(test_cut_points_are_deterministic);
    RM_RUN(test_a_reader_of_two_max_chunks_at_a_time_finds_the_same_cuts);
    RM_RUN(test_cut_points_match_the_golden_ones);
    RM_RUN(test_an_insertion_keeps_the_chunks_away_from_it);
    RM_RUN(test_a_stream_gives_the_chunks_of_the_whole_file);
    RM_RUN(test_a_stream_stops_at_the_first_refusal_with_its_reason);
    free(lens);
    free(data);
    RM_TEST_DONE();
}
