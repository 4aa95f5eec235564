/*  rm_job_record: a job's record in memory and in bytes.  The snapshot
    (ROOT/<id>/job.state), the payload of each journal entry beside it, the
    whole record a node exports (JOB_SYNC) and the changed frames it spreads
    (JOB_DELTA) are all encoded here; rm_job_journal writes the files,
    rm_job_merge joins two records, rm_job keeps one in memory.

    Formats.  Record format 2 is the current one, on disk and on the wire.
    Format 1 had no failed_on: its snapshots and journals are still read
    (rm_job_record_decode_snapshot tells which format a journal is in) and
    the record is rewritten as format 2 when loaded; a newer format is
    refused by name.  Fields appended to a frame record (warning, log) may
    be absent in records written before them.

    Every decoder here bounds what it reads before it allocates (rm_codec)
    and checks what the rest of the code relies on: frames in ascending
    order, failed_on sorted and distinct.  Bytes from a damaged disk or a
    peer give an error, never a crash. */
#ifndef RM_JOB_RECORD_H
#define RM_JOB_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rm_msg.h"

typedef enum {
    RM_FRAME_PENDING = 0,
    RM_FRAME_ASSIGNED = 1,
    RM_FRAME_DONE = 2,
    RM_FRAME_FAILED = 3,
} rm_frame_state_t;

/*  A coordinator decision's stamp: epochs order coordinators, the
    sequence orders one coordinator's decisions. */
#define RM_STAMP(epoch, seq) (((uint64_t)(epoch) << 32) | ((uint64_t)(seq)&0xffffffffu))
#define RM_STAMP_EPOCH(stamp) ((stamp) >> 32)

/*  Nodes kept per frame in failed_on. */
#define RM_MAX_FAILED_ON 64

typedef struct {
    uint64_t frame;
    uint64_t state; /* rm_frame_state_t */
    uint64_t epoch; /* stamp of the coordinator decision: RM_STAMP(epoch, seq) */
    char *node;     /* assigned to / rendered by */
    uint64_t attempts;
    uint64_t render_ms;
    rm_hash_t output; /* one-file manifest of the output */
    uint64_t size;
    char *file;  /* output file name, frame_0001.png */
    char *error; /* last failure reason */
    /* Nodes on which the frame failed: sorted (strcmp), distinct, non-empty
       names of at most RM_MAX_NAME bytes, at most RM_MAX_FAILED_ON. */
    RM_LIST(char *) failed_on;
    /* Appended to format 2 (absent in older records): kept with the output. */
    char *warning; /* what Blender reported while rendering it (missing files) */
    rm_hash_t log; /* one-file manifest of the Blender log of its last render */
    /* Appended later still (rm_job_proof.h): the coordinator's signed
       assignment of the frame to `node` at stamp `epoch`, and, once done,
       the rendering node's signature of what it rendered. */
    char *grant_by;     /* the coordinator that assigned it; "" or NULL: unsigned */
    rm_bin_t grant_sig; /* 64 bytes, or empty */
    rm_bin_t done_sig;  /* 64 bytes, or empty */
    /* Appended last: the frame's generation.  A done frame whose output no
       live node holds any more is reopened, pending at gen + 1, which wins
       over every record of the generations before (rm_job_merge.h); left
       out of the encoding while 0, so records of frames never reopened are
       the bytes they were. */
    uint64_t gen;
} rm_frame_rec_t;

/*  Codec descriptor of a frame record (current format). */
extern const rm_struct_desc_t rm_job_record_frame_desc;

/*  The record format written now. */
#define RM_JOB_RECORD_VERSION 2
/*  Largest snapshot loaded or record merged. */
#define RM_JOB_RECORD_MAX_BYTES ((size_t)RM_MAX_MSG_SIZE * 4)

/*  A job's whole record: its snapshot, and what rm_job_export sends. */
typedef struct {
    uint64_t version; /* record format: RM_JOB_RECORD_VERSION in memory */
    rm_job_spec_t spec;
    bool canceled;
    char *error; /* why the job failed; "" if it did not */
    int64_t started_at;
    int64_t finished_at;
    RM_LIST(rm_frame_rec_t) frames; /* ascending frame numbers */
    /* Credentials (signed by the mesh key) of the nodes whose signatures its
       frames carry, sorted (rm_job_record_cmp_bin), distinct: a record can
       be checked by a node that never met them. */
    RM_LIST(rm_bin_t) signers;
    /* The priority its submitter or an admin set after submission (meshctl
       priority): the latest (priority_at, then the higher value) wins;
       priority_at 0: the spec's. */
    int64_t priority;
    int64_t priority_at; /* unix ms */
    /* Appended: the signed orders (rm_job_order.h) behind `canceled` and the
       priority, which a node that merges them checks; empty in records
       written before them and for a cancel this node made on its own (the
       removal of an unfinished job). */
    rm_bin_t cancel_order;
    rm_bin_t priority_order;
} rm_job_record_t;

/*  Signers a job record or a delta carries at most. */
#define RM_JOB_MAX_SIGNERS 4096

/*  What one journal entry changes. */
typedef enum {
    RM_JOB_RECORD_FRAME = 1, /* frame: the frame's new record */
    RM_JOB_RECORD_FAIL,      /* text: why the job failed */
    RM_JOB_RECORD_CANCEL,    /* order: the signed cancel, if any */
    RM_JOB_RECORD_START,     /* at: started_at */
    RM_JOB_RECORD_FINISH,    /* at: finished_at */
    RM_JOB_RECORD_SUBMITTED, /* at: spec.submitted_at */
    RM_JOB_RECORD_SIGNER,    /* cred: a credential joins signers */
    RM_JOB_RECORD_PRIORITY,  /* value at `at`, by `order`: the priority set after submission */
} rm_job_record_kind_t;

typedef struct {
    uint64_t kind; /* rm_job_record_kind_t */
    rm_frame_rec_t frame;
    char *text;
    int64_t at;     /* unix ms */
    rm_bin_t cred;  /* appended: a signer's credential */
    int64_t value;  /* appended: PRIORITY's priority */
    rm_bin_t order; /* appended: CANCEL's or PRIORITY's signed order */
} rm_job_record_entry_t;

/*  Entries built before any is written: journalled together, then applied. */
typedef struct {
    rm_job_record_entry_t *items;
    size_t count;
    size_t cap;
} rm_job_record_batch_t;

/*  The changed frames of one job (JOB_DELTA's payload). */
typedef struct {
    RM_LIST(rm_frame_rec_t) frames;
    RM_LIST(rm_bin_t) signers; /* appended: the credentials its frames' signatures need */
} rm_job_record_delta_t;

/*  How a snapshot and its journal are written (format 1 or 2). */
typedef struct rm_job_record_format rm_job_record_format_t;

/*  A new record for spec (copied): every frame of its ranges pending. */
int rm_job_record_init(rm_job_record_t *rec, const rm_job_spec_t *spec, rm_err_t *err);
void rm_job_record_free(rm_job_record_t *rec);

/*  Encodes rec in the current format into *buf (malloc'd) and *len. */
int rm_job_record_encode(const rm_job_record_t *rec, uint8_t **buf, size_t *len, rm_err_t *err);

/*  Decodes a snapshot of any known format into rec (zeroed), as the
    current format; *fmt is the format its journal is written in. */
int rm_job_record_decode_snapshot(const uint8_t *data, size_t len, rm_job_record_t *rec,
                                  const rm_job_record_format_t **fmt, rm_err_t *err);

/*  Decodes a record from a peer into rec (zeroed): the current format
    only, nothing after it, a valid job id.  Anything else is RM_EPROTO. */
int rm_job_record_decode_peer(const uint8_t *data, size_t len, rm_job_record_t *rec, rm_err_t *err);

/*  The job id of an encoded record, read without decoding the rest (to
    answer a record this node refuses): 0, or -1 if it is not there. */
int rm_job_record_peek_id(const uint8_t *data, size_t len, char *id, size_t size);

/*  Appends the encoding of one entry (current format) to *buf, *len. */
int rm_job_record_encode_entry(const rm_job_record_entry_t *entry, uint8_t **buf, size_t *len,
                               rm_err_t *err);

/*  Decodes one entry written in fmt (NULL: the current format) into entry
    (zeroed).  On error entry is left zeroed. */
int rm_job_record_decode_entry(const rm_job_record_format_t *fmt, const uint8_t *data, size_t len,
                               rm_job_record_entry_t *entry, rm_err_t *err);
void rm_job_record_entry_free(rm_job_record_entry_t *entry);

/*  Applies an entry to rec, taking its frame record or text (the entry
    keeps nothing to free).  A frame rec lacks is ignored. */
void rm_job_record_apply(rm_job_record_t *rec, rm_job_record_entry_t *entry);

/*  A new zeroed entry of `kind` at the end of the batch, stamped now. */
rm_job_record_entry_t *rm_job_record_batch_add(rm_job_record_batch_t *batch, uint64_t kind,
                                               rm_err_t *err);
void rm_job_record_batch_free(rm_job_record_batch_t *batch);

/*  Encodes the frames of a delta into *buf (malloc'd) and *len. */
int rm_job_record_encode_delta(const rm_job_record_delta_t *delta, uint8_t **buf, size_t *len,
                               rm_err_t *err);
/*  Decodes a delta into delta (zeroed): nothing after it (RM_EPROTO). */
int rm_job_record_decode_delta(const uint8_t *data, size_t len, rm_job_record_delta_t *delta,
                               rm_err_t *err);
void rm_job_record_delta_free(rm_job_record_delta_t *delta);

/*  The record of `frame` in rec (bisection), its position in *index (may
    be NULL); NULL if rec has no such frame. */
rm_frame_rec_t *rm_job_record_frame(const rm_job_record_t *rec, uint64_t frame, size_t *index);

/*  What the rest of the code relies on in a frame record: failed_on
    sorted, distinct, names of 1..RM_MAX_NAME bytes (the codec bounds only
    their count).  RM_EPROTO otherwise. */
int rm_job_record_check_frame(const rm_frame_rec_t *frame, rm_err_t *err);

/*  True if `node` is in the frame's failed_on. */
bool rm_job_record_failed_on(const rm_frame_rec_t *frame, const char *node);

/*  Order of signers: length, then bytes. */
int rm_job_record_cmp_bin(const rm_bin_t *a, const rm_bin_t *b);

/*  *out (empty) = a malloc'd copy of in; nothing for an empty in. */
int rm_job_record_copy_bin(rm_bin_t *out, const rm_bin_t *in, rm_err_t *err);

/*  Signers as a record or a delta must hold them: 1..RM_SIGNED_MAX bytes
    each, sorted, distinct (RM_EPROTO). */
int rm_job_record_check_signers(const rm_bin_t *signers, uint32_t count, rm_err_t *err);

/*  True if the record's signers hold cred. */
bool rm_job_record_has_signer(const rm_job_record_t *rec, const rm_bin_t *cred);

/*  A job id is 1-64 lowercase hex characters: it names a directory. */
bool rm_job_record_valid_id(const char *id);

#endif
