/*  libFuzzer target: the decoders of job records (rm_job_record): the
    node's own files (snapshot, journal entries), which a damaged disk can
    corrupt, and what peers send (JOB_SYNC records, JOB_DELTA frames).  The
    first byte picks which. */
#include <stdint.h>

#include "rm_job_record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rm_err_t err;
    if (size < 1)
        return 0;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    switch (data[0] & 3) {
    case 0: {
        rm_job_record_t rec = {0};
        const rm_job_record_format_t *fmt;
        if (rm_job_record_decode_snapshot(p, n, &rec, &fmt, &err) == 0)
            rm_job_record_free(&rec);
        break;
    }
    case 1: {
        rm_job_record_entry_t entry = {0};
        if (rm_job_record_decode_entry(NULL, p, n, &entry, &err) == 0)
            rm_job_record_entry_free(&entry);
        break;
    }
    case 2: {
        rm_job_record_t rec = {0};
        if (rm_job_record_decode_peer(p, n, &rec, &err) == 0)
            rm_job_record_free(&rec);
        break;
    }
    default: {
        rm_job_record_delta_t delta = {0};
        if (rm_job_record_decode_delta(p, n, &delta, &err) == 0)
            rm_job_record_delta_free(&delta);
        break;
    }
    }
    return 0;
}
