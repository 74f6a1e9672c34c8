/* The table of connector types and the lookups over it (by type, by
 * "<type>.<verb>", by parameter), plus ird_call_plan(), which every connector
 * uses to record the calls it makes or, in dry-run, would make. */
#include "connector.h"

#include <string.h>

#include "k8s/k8s.h"
#include "test/test.h"

const struct ird_connector_ops *const ird_connectors[] = {
    &ird_connector_test,
    &ird_connector_k8s,
};
const size_t ird_nconnectors = sizeof(ird_connectors) / sizeof(ird_connectors[0]);

const struct ird_connector_ops *ird_connector_find(const char *type)
{
    if (!type)
        return NULL;
    for (size_t i = 0; i < ird_nconnectors; i++)
        if (strcmp(ird_connectors[i]->name, type) == 0)
            return ird_connectors[i];
    return NULL;
}

/* "k8s.isolate_pod": the type is everything before the first '.', the verb
 * everything after it. */
const struct ird_action_spec *ird_action_find(const char *qualified,
                                              const struct ird_connector_ops **ret_type)
{
    if (!qualified)
        return NULL;
    const char *dot = strchr(qualified, '.');
    if (!dot || dot == qualified || !dot[1])
        return NULL;
    size_t tlen = (size_t)(dot - qualified);
    for (size_t i = 0; i < ird_nconnectors; i++) {
        const struct ird_connector_ops *t = ird_connectors[i];
        if (strlen(t->name) != tlen || strncmp(t->name, qualified, tlen) != 0)
            continue;
        for (size_t a = 0; a < t->nactions; a++) {
            if (strcmp(t->actions[a].name, dot + 1) == 0) {
                if (ret_type)
                    *ret_type = t;
                return &t->actions[a];
            }
        }
        return NULL;
    }
    return NULL;
}

const struct ird_param_spec *ird_action_param(const struct ird_action_spec *a, const char *name)
{
    if (!a || !name)
        return NULL;
    for (size_t i = 0; i < a->nparams; i++)
        if (strcmp(a->params[i].name, name) == 0)
            return &a->params[i];
    return NULL;
}

/* Appends {"method":..,"path":..,"body":..} (body null when NULL) to
 * call->planned, creating the array when it is NULL. Out of memory drops the
 * record: the interface returns nothing, and a half-built record is never
 * appended. */
void ird_call_plan(struct ird_action_call *call, const char *method, const char *path,
                   const cJSON *body)
{
    if (!call)
        return;
    cJSON *rec = cJSON_CreateObject();
    cJSON *b = body ? cJSON_Duplicate(body, 1) : cJSON_CreateNull();
    if (!rec || !b || !cJSON_AddStringToObject(rec, "method", method ? method : "") ||
        !cJSON_AddStringToObject(rec, "path", path ? path : "")) {
        cJSON_Delete(rec);
        cJSON_Delete(b);
        return;
    }
    cJSON_AddItemToObject(rec, "body", b);
    if (!call->planned) {
        call->planned = cJSON_CreateArray();
        if (!call->planned) {
            cJSON_Delete(rec);
            return;
        }
    }
    cJSON_AddItemToArray(call->planned, rec);
}
