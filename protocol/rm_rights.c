#include "rm_rights.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    const char *name;
    bool rights[RM_RIGHT_COUNT];
} role_t;

static const role_t roles[] = {
    {RM_ROLE_ADMIN,
     {[RM_RIGHT_VIEW] = true,
      [RM_RIGHT_SUBMIT] = true,
      [RM_RIGHT_OWN_JOBS] = true,
      [RM_RIGHT_ANY_JOB] = true,
      [RM_RIGHT_DRAIN] = true,
      [RM_RIGHT_REVOKE] = true}},
    {RM_ROLE_ARTIST,
     {[RM_RIGHT_VIEW] = true, [RM_RIGHT_SUBMIT] = true, [RM_RIGHT_OWN_JOBS] = true}},
    {RM_ROLE_NODE, {[RM_RIGHT_VIEW] = true, [RM_RIGHT_MESH] = true, [RM_RIGHT_COORDINATE] = true}},
    {RM_ROLE_WORKER, {[RM_RIGHT_VIEW] = true, [RM_RIGHT_MESH] = true}},
};

static const char *const descriptions[RM_RIGHT_COUNT] = {
    [RM_RIGHT_VIEW] = "see the mesh and its jobs",
    [RM_RIGHT_SUBMIT] = "submit jobs",
    [RM_RIGHT_OWN_JOBS] = "manage their own jobs",
    [RM_RIGHT_ANY_JOB] = "manage other people's jobs",
    [RM_RIGHT_DRAIN] = "drain nodes",
    [RM_RIGHT_REVOKE] = "revoke credentials",
    [RM_RIGHT_MESH] = "speak the node-to-node protocol",
    [RM_RIGHT_COORDINATE] = "coordinate the mesh",
};

static const role_t *find_role(const char *role)
{
    const char *name = rm_role_effective(role);
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
        if (strcmp(roles[i].name, name) == 0)
            return &roles[i];
    return NULL;
}

bool rm_role_known(const char *role)
{
    return role && find_role(role) != NULL;
}

const char *rm_role_effective(const char *role)
{
    return strcmp(role, RM_ROLE_CLIENT) == 0 ? RM_ROLE_ADMIN : role;
}

bool rm_role_has(const char *role, rm_right_t right)
{
    const role_t *r = role ? find_role(role) : NULL;
    return r && right < RM_RIGHT_COUNT && r->rights[right];
}

const char *rm_right_describe(rm_right_t right)
{
    return right < RM_RIGHT_COUNT ? descriptions[right] : "do that";
}

int rm_rights_require(const rm_cred_t *who, rm_right_t right, rm_err_t *err)
{
    if (rm_role_has(who->role, right))
        return 0;
    char holders[64] = "";
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
        if (!roles[i].rights[right])
            continue;
        size_t used = strlen(holders);
        snprintf(holders + used, sizeof holders - used, "%s%s", used ? " or " : "", roles[i].name);
    }
    return rm_err_set(err, RM_EDENIED, "%s '%s' may not %s: that needs the %s role", who->role,
                      who->name, rm_right_describe(right), holders[0] ? holders : "(no)");
}

bool rm_rights_manage(const rm_cred_t *who, const char *submitter)
{
    if (rm_role_has(who->role, RM_RIGHT_ANY_JOB))
        return true;
    return rm_role_has(who->role, RM_RIGHT_OWN_JOBS) && submitter &&
           strcmp(submitter, who->name) == 0;
}
