/*  rm_blender_probe: asking a Blender binary about itself, and finding the
    driver. */
#include "rm_blender_probe.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rm_subprocess.h"
#include "rm_fs.h"

#define PROBE_TIMEOUT_MS 10000

int rm_blender_probe_version(const char *blender, char *version, size_t size, rm_err_t *err)
{
    struct stat st;
    if (!blender || !*blender)
        return rm_err_set(err, RM_EINVAL, "no Blender path given");
    if (strchr(blender, '/') && stat(blender, &st) != 0)
        return rm_err_set(err, RM_EBLENDER, "blender not found at %s", blender);
    char out[8192], why[128];
    int status;
    char *argv[] = {(char *)blender, "--version", NULL};
    rm_err_t why_not;
    if (rm_subprocess_capture(argv, PROBE_TIMEOUT_MS, out, sizeof out, &status, &why_not) != 0) {
        if (why_not.code == RM_ENOTFOUND)
            return rm_err_set(err, RM_EBLENDER, "blender not found at %s", blender);
        return rm_err_set(err, RM_EBLENDER, "blender at %s failed: %s", blender, why_not.msg);
    }
    if (status == -1)
        return rm_err_set(err, RM_EBLENDER, "blender at %s failed: no answer to --version in %d s",
                          blender, PROBE_TIMEOUT_MS / 1000);
    const char *line = strncmp(out, "Blender ", 8) == 0 ? out : strstr(out, "\nBlender ");
    line = line && *line == '\n' ? line + 1 : line;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !line) {
        rm_subprocess_describe(status, "Blender", why, sizeof why);
        out[strcspn(out, "\n")] = '\0';
        return rm_err_set(err, RM_EBLENDER, "blender at %s failed: %s%s%.200s", blender,
                          WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "no version printed"
                                                                        : why,
                          *out ? ": " : "", out);
    }
    snprintf(version, size, "%.*s", (int)strcspn(line, "\r\n"), line);
    return 0;
}

/*  Cycles reports its build options itself (bpy.app.build_options has no
    OpenImageDenoise field): ask the Blender that will render. */
#define CAPS_EXPR                                                                                  \
    "import _cycles; print('RM_CAPS', 'denoise' if getattr(_cycles, "                              \
    "'with_openimagedenoise', False) else '')"

int rm_blender_probe_caps(const char *blender, char *caps, size_t size, rm_err_t *err)
{
    char out[16384];
    int status;
    caps[0] = '\0';
    char *argv[] = {(char *)blender, "-b", "--factory-startup", "--python-expr", CAPS_EXPR, NULL};
    rm_err_t why_not;
    if (rm_subprocess_capture(argv, PROBE_TIMEOUT_MS, out, sizeof out, &status, &why_not) != 0)
        return rm_err_set(err, RM_EBLENDER, "blender at %s failed: %s", blender, why_not.msg);
    const char *line = strncmp(out, "RM_CAPS", 7) == 0 ? out : strstr(out, "\nRM_CAPS");
    if (status == -1 || !line)
        return rm_err_set(err, RM_EBLENDER, "blender at %s did not say what it can do%s", blender,
                          status == -1 ? " in time" : "");
    line += line[0] == '\n' ? 8 : 7;
    line += strspn(line, " ");
    snprintf(caps, size, "%.*s", (int)strcspn(line, "\r\n"), line);
    return 0;
}

/* Set by CMake; unset in other builds. */
#ifndef RM_DRIVER_SOURCE_PATH
#define RM_DRIVER_SOURCE_PATH NULL
#endif
#ifndef RM_DRIVER_INSTALL_PATH
#define RM_DRIVER_INSTALL_PATH NULL
#endif
int rm_blender_probe_driver(char *path, size_t size, rm_err_t *err)
{
    return rm_fs_find_shared("blender_driver.py", RM_DRIVER_SOURCE_PATH, RM_DRIVER_INSTALL_PATH,
                             path, size, err);
}
