/*  rm_frames: frame range lists as users write them ("1-250", "1,5,10-20",
    "1-100:5") and as jobs carry them (rm_frame_range_t). */
#ifndef RM_FRAMES_H
#define RM_FRAMES_H

#include <stddef.h>
#include <stdint.h>

#include "rm_msg.h"

#define RM_FRAME_MAX 1048574 /* Blender's MAXFRAME */

/*  Parses `text` into a malloc'd array of ranges.  Refuses, with a message
    naming the offending part: empty text or parts, reversed ranges ("20-10"),
    step 0, negative or > RM_FRAME_MAX frames, non-digits, more than
    RM_MAX_FRAMES frames in total.  Frame 0 is allowed. */
int rm_frames_parse(const char *text, rm_frame_range_t **ranges, uint32_t *count, rm_err_t *err);

/*  Checks ranges that came over the wire by the same rules. */
int rm_frames_validate(const rm_frame_range_t *ranges, uint32_t count, rm_err_t *err);

/*  Expands ranges into a sorted array of distinct frame numbers (malloc'd). */
int rm_frames_expand(const rm_frame_range_t *ranges, uint32_t count, uint64_t **frames,
                     uint32_t *nframes, rm_err_t *err);

/*  Formats ranges back as text ("1-250", "1,5,10-20") into buf. */
void rm_frames_format(const rm_frame_range_t *ranges, uint32_t count, char *buf, size_t size);

#endif
