/*  rm_render_opts: render settings a job may ask for (see rm_render_opts.h). */
#include "rm_render_opts.h"

#include <stdbool.h>
#include <string.h>

const char *const rm_render_opts_engines[] = {"CYCLES", "BLENDER_EEVEE", "BLENDER_WORKBENCH", NULL};
const char *const rm_render_opts_devices[] = {"CPU", "CUDA", "OPTIX", "HIP", NULL};
const char *const rm_render_opts_formats[] = {
    "PNG",  "JPEG",     "OPEN_EXR", "OPEN_EXR_MULTILAYER", "TIFF",   "BMP",
    "IRIS", "JPEG2000", "TARGA",    "TARGA_RAW",           "CINEON", "DPX",
    "HDR",  "WEBP",     NULL};

/*  "" keeps what the .blend file says. */
static bool one_of(const char *value, const char *const *allowed)
{
    if (!value || !*value)
        return true;
    for (; *allowed; allowed++)
        if (strcmp(value, *allowed) == 0)
            return true;
    return false;
}

int rm_render_opts_check(const rm_job_spec_t *spec, rm_err_t *err)
{
    if (!one_of(spec->engine, rm_render_opts_engines))
        return rm_err_set(err, RM_EINVAL, "unknown engine '%s'", spec->engine);
    if (!one_of(spec->device, rm_render_opts_devices))
        return rm_err_set(err, RM_EINVAL, "unknown device '%s'", spec->device);
    if (!one_of(spec->format, rm_render_opts_formats))
        return rm_err_set(err, RM_EINVAL, "unknown output format '%s'", spec->format);
    if (spec->percent > RM_RENDER_MAX_PERCENT)
        return rm_err_set(err, RM_EINVAL, "resolution percentage %llu is over %d",
                          (unsigned long long)spec->percent, RM_RENDER_MAX_PERCENT);
    if (spec->res_x > RM_RENDER_MAX_RES || spec->res_y > RM_RENDER_MAX_RES)
        return rm_err_set(err, RM_EINVAL, "resolution %llux%llu is too large",
                          (unsigned long long)spec->res_x, (unsigned long long)spec->res_y);
    if (spec->task_timeout > RM_RENDER_MAX_TASK_TIMEOUT)
        return rm_err_set(err, RM_EINVAL, "task timeout of %llu s is over 7 days",
                          (unsigned long long)spec->task_timeout);
    return 0;
}
