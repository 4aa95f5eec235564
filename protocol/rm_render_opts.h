/*  rm_render_opts: the render settings a job may ask for (engine, device,
    output format, resolution, timeout), one list and one set of rules for
    meshctl, which offers them, and the node, which accepts them. */
#ifndef RM_RENDER_OPTS_H
#define RM_RENDER_OPTS_H

#include "rm_error.h"
#include "rm_msg.h"

#define RM_RENDER_MAX_PERCENT 1000
#define RM_RENDER_MIN_RES 4
#define RM_RENDER_MAX_RES 65536
#define RM_RENDER_MAX_TASK_TIMEOUT (7 * 86400) /* seconds */

/*  NULL-terminated, in Blender's spelling.  "" (the file's own setting) is
    valid in a job spec but not listed. */
extern const char *const rm_render_opts_engines[];
extern const char *const rm_render_opts_devices[];
/*  Still-image formats only: a movie cannot be split between nodes. */
extern const char *const rm_render_opts_formats[];

/*  Checks a spec's engine, device, format, resolution percentage,
    resolution and task timeout (0 and "" keep the file's own); RM_EINVAL
    names the first bad one. */
int rm_render_opts_check(const rm_job_spec_t *spec, rm_err_t *err);

#endif
