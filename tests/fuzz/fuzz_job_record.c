/*  libFuzzer target: the decoders of the node's own job files (snapshot and
    journal entries), which a damaged disk can corrupt.  The first byte picks
    which. */
#include <stdint.h>

#include "rm_jobs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rm_err_t err;
    if (size < 1)
        return 0;
    rm_jobs_check_record(data + 1, size - 1, data[0] & 1, &err);
    return 0;
}
