/* Workload and node requests: list, "does it use this Secret", rollout restart
 * (as kubectl does it), scale through the scale subresource, cordon. Pure. */
#include "k8s/requests.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#define RESTARTED_AT "kubectl.kubernetes.io/restartedAt"

static int check_workload_kind(const struct ird_k8s_kind *kind, struct ird_err *err)
{
    if (!kind || !kind->workload)
        return ird_err_set(err, -EINVAL,
                           "%s is not a workload kind (deployments, statefulsets, "
                           "daemonsets)",
                           kind ? kind->plural : "(none)");
    return 0;
}

int ird_k8s_workload_list(const struct ird_k8s_kind *kind, const char *ns,
                          struct ird_k8s_request *ret, struct ird_err *err)
{
    int rc = check_workload_kind(kind, err);
    if (rc)
        return rc;
    struct ird_buf b = IRD_BUF_INIT;
    rc = ird_k8s_req_object_path(&b, kind, ns, NULL, err);
    if (rc) {
        ird_buf_free(&b);
        return rc;
    }
    return ird_k8s_req_finish(ret, "GET", &b, NULL, NULL, "list", kind->group, kind->plural, err);
}

bool ird_k8s_workload_uses_secret(const cJSON *workload, const char *name)
{
    if (!name || !*name)
        return false;
    const cJSON *spec = cJSON_GetObjectItemCaseSensitive(workload, "spec");
    const cJSON *tmpl = cJSON_GetObjectItemCaseSensitive(spec, "template");
    cJSON *names = ird_k8s_req_podspec_secret_names(cJSON_GetObjectItemCaseSensitive(tmpl, "spec"));
    bool uses = false;
    const cJSON *it;
    cJSON_ArrayForEach(it, names) {
        if (!strcmp(it->valuestring, name))
            uses = true;
    }
    cJSON_Delete(names);
    return uses;
}

int ird_k8s_workload_restart(const struct ird_k8s_kind *kind, const cJSON *workload, int64_t now_ms,
                             struct ird_k8s_request *ret, struct ird_err *err)
{
    int rc = check_workload_kind(kind, err);
    if (rc)
        return rc;
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(workload, "metadata");
    const char *ns = ird_k8s_req_str(meta, "namespace");
    const char *name = ird_k8s_req_str(meta, "name");
    if (!ns || !name)
        return ird_err_set(err, -EINVAL, "%s object without metadata.namespace and name",
                           kind->plural);
    const cJSON *spec = cJSON_GetObjectItemCaseSensitive(workload, "spec");
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(spec, "paused")))
        return ird_err_set(err, -EINVAL, "%s %s/%s is paused; resume it before restarting",
                           kind->plural, ns, name);
    struct ird_buf b = IRD_BUF_INIT;
    rc = ird_k8s_req_object_path(&b, kind, ns, name, err);
    if (!rc)
        rc = ird_k8s_req_query(&b, "fieldManager", "ird");
    if (rc) {
        ird_buf_free(&b);
        return rc;
    }
    char when[32];
    ird_k8s_req_time_seconds(now_ms, when, sizeof(when));
    cJSON *body = cJSON_CreateObject();
    cJSON *s = cJSON_AddObjectToObject(body, "spec");
    cJSON *t = cJSON_AddObjectToObject(s, "template");
    cJSON *m = cJSON_AddObjectToObject(t, "metadata");
    cJSON *a = cJSON_AddObjectToObject(m, "annotations");
    if (!a || !cJSON_AddStringToObject(a, RESTARTED_AT, when)) {
        cJSON_Delete(body);
        ird_buf_free(&b);
        return -ENOMEM;
    }
    return ird_k8s_req_finish(ret, "PATCH", &b, "application/strategic-merge-patch+json", body,
                              "patch", kind->group, kind->plural, err);
}

int ird_k8s_workload_scale(const struct ird_k8s_kind *kind, const char *ns, const char *name,
                           int64_t replicas, struct ird_k8s_request *ret, struct ird_err *err)
{
    if (!kind || !kind->scalable)
        return ird_err_set(err, -EINVAL, "%s cannot be scaled (deployments, statefulsets)",
                           kind ? kind->plural : "(none)");
    if (replicas < 0 || replicas > INT32_MAX)
        return ird_err_set(err, -EINVAL, "replicas must be 0-%d", INT32_MAX);
    struct ird_buf b = IRD_BUF_INIT;
    int rc = ird_k8s_req_object_path(&b, kind, ns, name, err);
    if (!rc)
        rc = ird_k8s_req_segment(&b, "scale", "subresource", err);
    if (rc) {
        ird_buf_free(&b);
        return rc;
    }
    cJSON *body = cJSON_CreateObject();
    cJSON *spec = cJSON_AddObjectToObject(body, "spec");
    if (!spec || !cJSON_AddNumberToObject(spec, "replicas", (double)replicas)) {
        cJSON_Delete(body);
        ird_buf_free(&b);
        return -ENOMEM;
    }
    char resource[64];
    size_t len = strlen(kind->plural);
    memcpy(resource, kind->plural, len);
    memcpy(resource + len, "/scale", sizeof("/scale"));
    return ird_k8s_req_finish(ret, "PATCH", &b, "application/merge-patch+json", body, "patch",
                              kind->group, resource, err);
}

int ird_k8s_node_cordon(const char *name, bool cordon, struct ird_k8s_request *ret,
                        struct ird_err *err)
{
    struct ird_buf b = IRD_BUF_INIT;
    int rc = ird_k8s_req_object_path(&b, ird_k8s_kind_find("nodes"), NULL, name, err);
    if (rc) {
        ird_buf_free(&b);
        return rc;
    }
    cJSON *body = cJSON_CreateObject();
    cJSON *spec = cJSON_AddObjectToObject(body, "spec");
    cJSON *v = spec ? (cordon ? cJSON_AddTrueToObject(spec, "unschedulable")
                              : cJSON_AddNullToObject(spec, "unschedulable"))
                    : NULL;
    if (!v) {
        cJSON_Delete(body);
        ird_buf_free(&b);
        return -ENOMEM;
    }
    return ird_k8s_req_finish(ret, "PATCH", &b, "application/merge-patch+json", body, "patch", "",
                              "nodes", err);
}
