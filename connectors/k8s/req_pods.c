/* Pod requests: get, list, quarantine label, delete, eviction, logs, and the
 * reader that finds which Secrets a pod spec uses. Pure. */
#include "k8s/requests.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const struct ird_k8s_kind *pods(void)
{
    return ird_k8s_kind_find("pods");
}

int ird_k8s_pod_get(const char *ns, const char *name, struct ird_k8s_request *ret,
                    struct ird_err *err)
{
    return ird_k8s_object_get(pods(), ns, name, ret, err);
}

int ird_k8s_pod_list(const char *ns, const char *label_selector, struct ird_k8s_request *ret,
                     struct ird_err *err)
{
    struct ird_buf b = IRD_BUF_INIT;
    int rc = ird_k8s_req_object_path(&b, pods(), ns, NULL, err);
    if (!rc && label_selector && *label_selector)
        rc = ird_k8s_req_query(&b, "labelSelector", label_selector);
    if (rc) {
        ird_buf_free(&b);
        return rc;
    }
    return ird_k8s_req_finish(ret, "GET", &b, NULL, NULL, "list", "", "pods", err);
}

int ird_k8s_pod_quarantine_label(const char *ns, const char *name, const char *incident, bool set,
                                 struct ird_k8s_request *ret, struct ird_err *err)
{
    if (!incident || !*incident || !ird_k8s_label_value_valid(incident))
        return ird_err_set(err, -EINVAL,
                           "incident id \"%s\" cannot be a label value: at most 63 characters of "
                           "[A-Za-z0-9-_.], starting and ending with a letter or digit",
                           incident ? incident : "");
    struct ird_k8s_kv kv = {IRD_K8S_QUARANTINE_LABEL, set ? incident : NULL};
    return ird_k8s_label(pods(), ns, name, &kv, 1, ret, err);
}

static int add_number_query(struct ird_buf *b, const char *key, int64_t v)
{
    char num[24];
    snprintf(num, sizeof(num), "%" PRId64, v);
    return ird_k8s_req_query(b, key, num);
}

int ird_k8s_pod_delete(const char *ns, const char *name, int64_t grace_seconds,
                       struct ird_k8s_request *ret, struct ird_err *err)
{
    struct ird_buf b = IRD_BUF_INIT;
    int rc = ird_k8s_req_object_path(&b, pods(), ns, name, err);
    if (!rc && grace_seconds >= 0)
        rc = add_number_query(&b, "gracePeriodSeconds", grace_seconds);
    if (rc) {
        ird_buf_free(&b);
        return rc;
    }
    return ird_k8s_req_finish(ret, "DELETE", &b, NULL, NULL, "delete", "", "pods", err);
}

int ird_k8s_pod_evict(const char *ns, const char *name, int64_t grace_seconds,
                      struct ird_k8s_request *ret, struct ird_err *err)
{
    struct ird_buf b = IRD_BUF_INIT;
    int rc = ird_k8s_req_object_path(&b, pods(), ns, name, err);
    if (!rc)
        rc = ird_k8s_req_segment(&b, "eviction", "subresource", err);
    if (rc) {
        ird_buf_free(&b);
        return rc;
    }
    cJSON *body = cJSON_CreateObject();
    cJSON *meta = NULL;
    bool ok = body && cJSON_AddStringToObject(body, "apiVersion", "policy/v1") &&
              cJSON_AddStringToObject(body, "kind", "Eviction") &&
              (meta = cJSON_AddObjectToObject(body, "metadata")) &&
              cJSON_AddStringToObject(meta, "name", name) &&
              cJSON_AddStringToObject(meta, "namespace", ns);
    if (ok && grace_seconds >= 0) {
        cJSON *opts = cJSON_AddObjectToObject(body, "deleteOptions");
        ok = opts && cJSON_AddNumberToObject(opts, "gracePeriodSeconds", (double)grace_seconds);
    }
    if (!ok) {
        cJSON_Delete(body);
        ird_buf_free(&b);
        return -ENOMEM;
    }
    return ird_k8s_req_finish(ret, "POST", &b, "application/json", body, "create", "",
                              "pods/eviction", err);
}

/* The API's PodLogOptions rules (KK pkg/apis/core/validation), one row each. */
static const struct {
    const char *param;
    size_t offset;
    int64_t min;
} log_limits[] = {
    {"tailLines", offsetof(struct ird_k8s_log_opts, tail_lines), 0},
    {"sinceSeconds", offsetof(struct ird_k8s_log_opts, since_seconds), 1},
    {"limitBytes", offsetof(struct ird_k8s_log_opts, limit_bytes), 1},
};

int ird_k8s_pod_logs(const char *ns, const char *name, const struct ird_k8s_log_opts *o,
                     struct ird_k8s_request *ret, struct ird_err *err)
{
    static const struct ird_k8s_log_opts defaults = IRD_K8S_LOG_OPTS_INIT;
    if (!o)
        o = &defaults;
    for (size_t i = 0; i < sizeof(log_limits) / sizeof(log_limits[0]); i++) {
        int64_t v = *(const int64_t *)(const void *)((const char *)o + log_limits[i].offset);
        if (v != IRD_K8S_UNSET && v < log_limits[i].min)
            return ird_err_set(err, -EINVAL, "%s must be >= %" PRId64 ", got %" PRId64,
                               log_limits[i].param, log_limits[i].min, v);
    }
    if (o->container && !*o->container)
        return ird_err_set(err, -EINVAL, "container name is empty");
    struct ird_buf b = IRD_BUF_INIT;
    int rc = ird_k8s_req_object_path(&b, pods(), ns, name, err);
    if (!rc)
        rc = ird_k8s_req_segment(&b, "log", "subresource", err);
    if (!rc && o->container)
        rc = ird_k8s_req_query(&b, "container", o->container);
    if (!rc && o->previous)
        rc = ird_k8s_req_query(&b, "previous", "true");
    if (!rc && o->timestamps)
        rc = ird_k8s_req_query(&b, "timestamps", "true");
    for (size_t i = 0; !rc && i < sizeof(log_limits) / sizeof(log_limits[0]); i++) {
        int64_t v = *(const int64_t *)(const void *)((const char *)o + log_limits[i].offset);
        if (v != IRD_K8S_UNSET)
            rc = add_number_query(&b, log_limits[i].param, v);
    }
    if (rc) {
        ird_buf_free(&b);
        return rc;
    }
    return ird_k8s_req_finish(ret, "GET", &b, NULL, NULL, "get", "", "pods/log", err);
}

/* ---- which Secrets a pod spec uses ---- */

static int add_unique(cJSON *names, const char *name)
{
    if (!name || !*name)
        return 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, names) {
        if (!strcmp(it->valuestring, name))
            return 0;
    }
    cJSON *s = cJSON_CreateString(name);
    if (!s)
        return -ENOMEM;
    cJSON_AddItemToArray(names, s);
    return 0;
}

static const cJSON *get(const cJSON *obj, const char *name)
{
    return cJSON_GetObjectItemCaseSensitive(obj, name);
}

/* obj[name] when it is an array, else NULL (cJSON_ArrayForEach needs one expression). */
static const cJSON *array(const cJSON *obj, const char *name)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(obj, name);
    return cJSON_IsArray(a) ? a : NULL;
}

static int container_secrets(const cJSON *containers, cJSON *names)
{
    const cJSON *c;
    int rc = 0;
    cJSON_ArrayForEach(c, (cJSON_IsArray(containers) ? containers : NULL)) {
        const cJSON *e;
        cJSON_ArrayForEach(e, array(c, "env")) {
            const cJSON *ref = get(get(e, "valueFrom"), "secretKeyRef");
            if (!rc)
                rc = add_unique(names, ird_k8s_req_str(ref, "name"));
        }
        cJSON_ArrayForEach(e, array(c, "envFrom")) {
            if (!rc)
                rc = add_unique(names, ird_k8s_req_str(get(e, "secretRef"), "name"));
        }
    }
    return rc;
}

cJSON *ird_k8s_req_podspec_secret_names(const cJSON *spec)
{
    if (!cJSON_IsObject(spec))
        return NULL;
    cJSON *names = cJSON_CreateArray();
    if (!names)
        return NULL;
    int rc = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, array(spec, "volumes")) {
        if (!rc)
            rc = add_unique(names, ird_k8s_req_str(get(v, "secret"), "secretName"));
        const cJSON *sources = get(get(v, "projected"), "sources");
        const cJSON *src;
        cJSON_ArrayForEach(src, (cJSON_IsArray(sources) ? sources : NULL)) {
            if (!rc)
                rc = add_unique(names, ird_k8s_req_str(get(src, "secret"), "name"));
        }
    }
    static const char *const lists[] = {"initContainers", "containers", "ephemeralContainers"};
    for (size_t i = 0; !rc && i < sizeof(lists) / sizeof(lists[0]); i++)
        rc = container_secrets(get(spec, lists[i]), names);
    if (rc) {
        cJSON_Delete(names);
        return NULL;
    }
    return names;
}

cJSON *ird_k8s_pod_secret_names(const cJSON *pod)
{
    return ird_k8s_req_podspec_secret_names(get(pod, "spec"));
}
