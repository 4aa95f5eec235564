/*  bench_s3_speed: the data plane's own costs, without a mesh.

      bench_s3_speed chunk [MiB]                  FastCDC + SHA-256 (rm_hash) of MiB random
                                                  bytes, and + BLAKE2b for comparison
      bench_s3_speed put BUCKET N MIB [PREFIX]    N objects of MIB each, create-only
                                                  PUTs (frames), as rm_uploads sends them

    Prints throughput and the CPU time this process used (user + system),
    so the cost per MB of S3 writes is measured apart from the server's.
    S3 settings as rm_aws_config finds them (the environment, ~/.aws). */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "rm_chunker.h"
#include "rm_hash.h"
#include "rm_s3.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int bench_chunk(size_t mib)
{
    size_t len = mib << 20;
    uint8_t *data = malloc(len);
    if (!data)
        return 1;
    randombytes_buf(data, len);
    /* The first pass over freshly filled memory runs at half speed or less
       on this VM, whatever it does (page mapping after first touch): it is
       timed and shown apart, then three passes give the steady rate. */
    rm_hash_t h;
    for (int pass = 0; pass < 4; pass++) {
        double t0 = now_s(), c0 = cpu_s();
        size_t chunks = 0;
        for (size_t at = 0; at < len; chunks++) {
            size_t n = rm_chunker_next(data + at, len - at);
            rm_hash(data + at, n, &h);
            at += n;
        }
        double t = now_s() - t0, c = cpu_s() - c0;
        printf("chunk+hash%s: %zu MiB in %.3f s (%zu chunks): %.2f GB/s, %.2f GB/s per CPU "
               "second\n",
               pass == 0 ? " (first pass, fresh memory)" : "", mib, t, chunks,
               (double)len / t / 1e9, (double)len / c / 1e9);
    }
    double c0;
    /* Each half on its own: where the time goes. */
    c0 = cpu_s();
    for (size_t at = 0; at < len;)
        at += rm_chunker_next(data + at, len - at);
    double chunk_c = cpu_s() - c0;
    c0 = cpu_s();
    for (size_t at = 0; at < len; at += RM_CHUNK_AVG)
        rm_hash(data + at, len - at < RM_CHUNK_AVG ? len - at : RM_CHUNK_AVG, &h);
    double hash_c = cpu_s() - c0;
    printf("  of which chunking %.2f GB/s, SHA-256 %.2f GB/s (per CPU second)\n",
           (double)len / chunk_c / 1e9, (double)len / hash_c / 1e9);
    /* The address protocol 1 used, for comparison: BLAKE2b-256 (libsodium). */
    uint8_t md[32];
    c0 = cpu_s();
    for (size_t at = 0; at < len;) {
        size_t n = rm_chunker_next(data + at, len - at);
        crypto_generichash(md, sizeof md, data + at, n, NULL, 0);
        at += n;
    }
    double b2_c = cpu_s() - c0;
    printf("chunk+BLAKE2b (protocol 1's address, for comparison): %.2f GB/s per CPU second\n",
           (double)len / b2_c / 1e9);
    free(data);
    return 0;
}

static const char *real_env(void *arg, const char *name)
{
    (void)arg;
    return getenv(name);
}

static int bench_put(const char *bucket, int count, size_t mib, const char *prefix)
{
    rm_aws_settings_t settings;
    rm_err_t err;
    if (rm_aws_resolve(NULL, real_env, NULL, getenv("HOME"), &settings, &err) != 0) {
        fprintf(stderr, "bench_s3_speed: %s\n", err.msg);
        return 1;
    }
    rm_s3_t *s3 = rm_s3_new(&settings, &err);
    rm_aws_settings_clear(&settings);
    size_t len = mib << 20;
    uint8_t *data = malloc(len);
    if (!s3 || !data) {
        fprintf(stderr, "bench_s3_speed: %s\n", s3 ? "out of memory" : err.msg);
        return 1;
    }
    randombytes_buf(data, len);
    double t0 = now_s(), c0 = cpu_s();
    for (int i = 0; i < count; i++) {
        char key[256];
        rm_s3_object_t obj;
        snprintf(key, sizeof key, "%sframe_%04d.exr", prefix, i + 1);
        data[0] = (uint8_t)i; /* another object each time */
        if (rm_s3_put(s3, bucket, key, data, len, true, &obj, &err) != 0) {
            fprintf(stderr, "bench_s3_speed: %s\n", err.msg);
            return 1;
        }
    }
    double t = now_s() - t0, c = cpu_s() - c0;
    double mb = (double)len * count / 1e6;
    printf("put: %d x %zu MiB in %.2f s: %.1f MB/s; this process %.2f CPU s (%.1f ms per MB)\n",
           count, mib, t, mb / t, c, c * 1000 / mb);
    free(data);
    rm_s3_destroy(&s3);
    return 0;
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0)
        return 1;
    if (argc >= 2 && strcmp(argv[1], "chunk") == 0)
        return bench_chunk(argc > 2 ? (size_t)atoi(argv[2]) : 1024);
    if (argc >= 5 && strcmp(argv[1], "put") == 0)
        return bench_put(argv[2], atoi(argv[3]), (size_t)atoi(argv[4]), argc > 5 ? argv[5] : "");
    fprintf(stderr, "usage: bench_s3_speed chunk [MiB] | put BUCKET N MIB [PREFIX]\n");
    return 2;
}
