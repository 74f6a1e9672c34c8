/* The core of the k8s request builders: the RBAC table, the kind table, path
 * and query encoding, dry run, redaction, label rules and the generic
 * get/label/annotate builders. Pure. */
#include "k8s/requests.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Every row a builder here produces. Verbs follow the API server's mapping:
 * POST create, GET get (list on a collection), PUT update, PATCH patch, DELETE
 * delete. Keep rows unique; test_k8s_requests checks both directions. */
const struct ird_k8s_resource ird_k8s_resources[] = {
    {"get", "", "pods"},
    {"list", "", "pods"},
    {"patch", "", "pods"},
    {"delete", "", "pods"},
    {"get", "", "pods/log"},
    {"create", "", "pods/eviction"},
    {"get", "", "secrets"},
    {"update", "", "secrets"},
    {"patch", "", "secrets"},
    {"get", "", "nodes"},
    {"patch", "", "nodes"},
    {"list", "", "events"},
    {"create", "events.k8s.io", "events"},
    {"get", "networking.k8s.io", "networkpolicies"},
    {"create", "networking.k8s.io", "networkpolicies"},
    {"update", "networking.k8s.io", "networkpolicies"},
    {"patch", "networking.k8s.io", "networkpolicies"},
    {"delete", "networking.k8s.io", "networkpolicies"},
    {"get", "apps", "deployments"},
    {"list", "apps", "deployments"},
    {"patch", "apps", "deployments"},
    {"patch", "apps", "deployments/scale"},
    {"get", "apps", "statefulsets"},
    {"list", "apps", "statefulsets"},
    {"patch", "apps", "statefulsets"},
    {"patch", "apps", "statefulsets/scale"},
    {"get", "apps", "daemonsets"},
    {"list", "apps", "daemonsets"},
    {"patch", "apps", "daemonsets"},
};
const size_t ird_k8s_resources_count = sizeof(ird_k8s_resources) / sizeof(ird_k8s_resources[0]);

const struct ird_k8s_resource *ird_k8s_resource_find(const char *verb, const char *group,
                                                     const char *resource)
{
    if (!verb || !group || !resource)
        return NULL;
    for (size_t i = 0; i < ird_k8s_resources_count; i++) {
        const struct ird_k8s_resource *r = &ird_k8s_resources[i];
        if (!strcmp(r->verb, verb) && !strcmp(r->group, group) && !strcmp(r->resource, resource))
            return r;
    }
    return NULL;
}

static const struct ird_k8s_kind kinds[] = {
    {"Pod", "pods", "", "/api/v1", "v1", true, false, false},
    {"Secret", "secrets", "", "/api/v1", "v1", true, false, false},
    {"Node", "nodes", "", "/api/v1", "v1", false, false, false},
    {"Deployment", "deployments", "apps", "/apis/apps/v1", "apps/v1", true, true, true},
    {"StatefulSet", "statefulsets", "apps", "/apis/apps/v1", "apps/v1", true, true, true},
    {"DaemonSet", "daemonsets", "apps", "/apis/apps/v1", "apps/v1", true, true, false},
    {"NetworkPolicy", "networkpolicies", "networking.k8s.io", "/apis/networking.k8s.io/v1",
     "networking.k8s.io/v1", true, false, false},
};

const struct ird_k8s_kind *ird_k8s_kind_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (!strcasecmp(kinds[i].kind, name) || !strcmp(kinds[i].plural, name))
            return &kinds[i];
    }
    return NULL;
}

/* ---- encoding ---- */

static bool unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

static int percent_encode(struct ird_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        int rc;
        if (unreserved(*p)) {
            rc = ird_buf_append(b, p, 1);
        } else {
            char esc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            rc = ird_buf_append(b, esc, 3);
        }
        if (rc)
            return rc;
    }
    return 0;
}

int ird_k8s_req_segment(struct ird_buf *b, const char *seg, const char *what, struct ird_err *err)
{
    if (!seg || !*seg)
        return ird_err_set(err, -EINVAL, "%s is empty", what);
    if (!strcmp(seg, ".") || !strcmp(seg, ".."))
        return ird_err_set(err, -EINVAL, "%s \"%s\" cannot be used in a path", what, seg);
    int rc = ird_buf_append(b, "/", 1);
    return rc ? rc : percent_encode(b, seg);
}

int ird_k8s_req_query(struct ird_buf *b, const char *key, const char *value)
{
    bool first = !b->data || !memchr(b->data, '?', b->len);
    int rc = ird_buf_append(b, first ? "?" : "&", 1);
    if (!rc)
        rc = percent_encode(b, key);
    if (!rc)
        rc = ird_buf_append(b, "=", 1);
    if (!rc)
        rc = percent_encode(b, value);
    return rc;
}

int ird_k8s_req_object_path(struct ird_buf *b, const struct ird_k8s_kind *kind, const char *ns,
                            const char *name, struct ird_err *err)
{
    if (!kind)
        return ird_err_set(err, -EINVAL, "unsupported kind");
    int rc = ird_buf_puts(b, kind->prefix);
    if (rc)
        return rc;
    if (kind->namespaced) {
        rc = ird_buf_puts(b, "/namespaces");
        if (!rc)
            rc = ird_k8s_req_segment(b, ns, "namespace", err);
    } else if (ns && *ns) {
        return ird_err_set(err, -EINVAL, "%s are cluster-scoped: no namespace", kind->plural);
    }
    if (!rc)
        rc = ird_k8s_req_segment(b, kind->plural, "resource", err);
    if (!rc && name)
        rc = ird_k8s_req_segment(b, name, "name", err);
    return rc;
}

int ird_k8s_req_finish(struct ird_k8s_request *ret, const char *method, struct ird_buf *path,
                       const char *content_type, cJSON *body, const char *verb, const char *group,
                       const char *resource, struct ird_err *err)
{
    const struct ird_k8s_resource *row = ird_k8s_resource_find(verb, group, resource);
    if (!row) {
        ird_buf_free(path);
        cJSON_Delete(body);
        return ird_err_set(err, -ENOTSUP, "no RBAC row for %s %s/%s", verb, group, resource);
    }
    if (!path->data) {
        cJSON_Delete(body);
        return ird_err_set(err, -EINVAL, "empty path");
    }
    ret->method = method;
    ret->path = ird_buf_steal(path);
    ret->content_type = body ? content_type : NULL;
    ret->body = body;
    ret->resource = row;
    return 0;
}

const char *ird_k8s_req_str(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

void ird_k8s_req_time_seconds(int64_t ms, char *out, size_t outlen)
{
    time_t secs = (time_t)(ms / 1000);
    if (ms % 1000 < 0)
        secs -= 1;
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- one request ---- */

void ird_k8s_request_free(struct ird_k8s_request *r)
{
    if (!r)
        return;
    free(r->path);
    cJSON_Delete(r->body);
    memset(r, 0, sizeof(*r));
}

int ird_k8s_request_set_dry_run(struct ird_k8s_request *r)
{
    if (!r || !r->path || !r->method || !strcmp(r->method, "GET"))
        return -EINVAL;
    const char *q = strchr(r->path, '?');
    if (q) {
        /* already marked? look for the exact parameter among the query's */
        for (const char *p = q; p; p = strchr(p + 1, '&')) {
            if (!strncmp(p + 1, "dryRun=All", 10) && (p[11] == '\0' || p[11] == '&'))
                return 0;
        }
    }
    struct ird_buf b = IRD_BUF_INIT;
    int rc = ird_buf_puts(&b, r->path);
    if (!rc)
        rc = ird_k8s_req_query(&b, "dryRun", "All");
    if (rc) {
        ird_buf_free(&b);
        return rc;
    }
    free(r->path);
    r->path = ird_buf_steal(&b);
    return 0;
}

static int redact_map(cJSON *map)
{
    if (!cJSON_IsObject(map))
        return 0;
    cJSON *next;
    for (cJSON *v = map->child; v; v = next) {
        next = v->next;
        if (cJSON_IsNull(v))
            continue;
        cJSON *red = cJSON_CreateString("<redacted>");
        if (!red)
            return -ENOMEM;
        /* ReplaceItemViaPointer keeps no key: hand the old item's key over */
        red->string = v->string;
        red->type |= v->type & cJSON_StringIsConst;
        v->string = NULL;
        cJSON_ReplaceItemViaPointer(map, v, red);
    }
    return 0;
}

cJSON *ird_k8s_request_redacted_body(const struct ird_k8s_request *r)
{
    if (!r || !r->body)
        return NULL;
    cJSON *copy = cJSON_Duplicate(r->body, 1);
    if (!copy)
        return NULL;
    const char *kind = ird_k8s_req_str(copy, "kind");
    bool secret =
        (kind && !strcmp(kind, "Secret")) || (r->resource && !strcmp(r->resource->group, "") &&
                                              !strncmp(r->resource->resource, "secrets", 7));
    if (secret && (redact_map(cJSON_GetObjectItemCaseSensitive(copy, "data")) ||
                   redact_map(cJSON_GetObjectItemCaseSensitive(copy, "stringData")))) {
        cJSON_Delete(copy);
        return NULL;
    }
    if (secret) {
        /* kubectl apply keeps a copy of the whole Secret, values included. */
        cJSON *ann = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(copy, "metadata"), "annotations");
        const char *last = "kubectl.kubernetes.io/last-applied-configuration";
        if (cJSON_GetObjectItemCaseSensitive(ann, last) &&
            !cJSON_ReplaceItemInObjectCaseSensitive(ann, last, cJSON_CreateString("<redacted>"))) {
            cJSON_Delete(copy);
            return NULL;
        }
    }
    return copy;
}

/* ---- label rules (apimachinery util/validation) ---- */

static bool name_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* [A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?, length 1..63 */
static bool qualified_part_valid(const char *s, size_t len)
{
    if (len == 0 || len > 63 || !name_char((unsigned char)s[0]) ||
        !name_char((unsigned char)s[len - 1]))
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!name_char(c) && c != '-' && c != '_' && c != '.')
            return false;
    }
    return true;
}

/* DNS-1123 subdomain: <= 253, labels of [a-z0-9]([-a-z0-9]*[a-z0-9])? joined by '.' */
bool ird_k8s_req_subdomain_valid(const char *s, size_t len)
{
    if (len == 0 || len > 253)
        return false;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != '.') {
            unsigned char c = (unsigned char)s[i];
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
                return false;
            continue;
        }
        if (i == start || s[start] == '-' || s[i - 1] == '-')
            return false;
        start = i + 1;
    }
    return true;
}

bool ird_k8s_label_key_valid(const char *key)
{
    if (!key)
        return false;
    const char *slash = strchr(key, '/');
    if (!slash)
        return qualified_part_valid(key, strlen(key));
    return ird_k8s_req_subdomain_valid(key, (size_t)(slash - key)) &&
           qualified_part_valid(slash + 1, strlen(slash + 1));
}

bool ird_k8s_label_value_valid(const char *value)
{
    if (!value)
        return false;
    size_t len = strlen(value);
    return len == 0 || qualified_part_valid(value, len);
}

/* ---- generic get / label / annotate ---- */

int ird_k8s_object_get(const struct ird_k8s_kind *kind, const char *ns, const char *name,
                       struct ird_k8s_request *ret, struct ird_err *err)
{
    struct ird_buf b = IRD_BUF_INIT;
    int rc = ird_k8s_req_object_path(&b, kind, ns, name, err);
    if (rc) {
        ird_buf_free(&b);
        return rc;
    }
    return ird_k8s_req_finish(ret, "GET", &b, NULL, NULL, "get", kind->group, kind->plural, err);
}

/* The API checks annotation keys lower-cased (ValidateAnnotations). */
static bool annotation_key_valid(const char *key)
{
    char lower[IRD_K8S_NAME_MAX + 1 + 63 + 1];
    size_t len = key ? strlen(key) : 0;
    if (!key || len >= sizeof(lower))
        return false;
    for (size_t i = 0; i <= len; i++)
        lower[i] = (key[i] >= 'A' && key[i] <= 'Z') ? (char)(key[i] - 'A' + 'a') : key[i];
    return ird_k8s_label_key_valid(lower);
}

static int metadata_patch(const struct ird_k8s_kind *kind, const char *ns, const char *name,
                          const char *field, const struct ird_k8s_kv *kv, size_t n,
                          struct ird_k8s_request *ret, struct ird_err *err)
{
    bool labels = !strcmp(field, "labels");
    if (!kv || n == 0)
        return ird_err_set(err, -EINVAL, "no %s to change", field);
    for (size_t i = 0; i < n; i++) {
        if (!(labels ? ird_k8s_label_key_valid(kv[i].key) : annotation_key_valid(kv[i].key)))
            return ird_err_set(err, -EINVAL, "%s key \"%s\" is not a valid qualified name",
                               labels ? "label" : "annotation", kv[i].key ? kv[i].key : "");
        if (labels && kv[i].value && !ird_k8s_label_value_valid(kv[i].value))
            return ird_err_set(err, -EINVAL,
                               "label value \"%s\" for %s is invalid: at most 63 characters of "
                               "[A-Za-z0-9-_.], starting and ending with a letter or digit",
                               kv[i].value, kv[i].key);
    }
    struct ird_buf b = IRD_BUF_INIT;
    int rc = ird_k8s_req_object_path(&b, kind, ns, name, err);
    if (rc) {
        ird_buf_free(&b);
        return rc;
    }
    cJSON *body = cJSON_CreateObject();
    cJSON *meta = cJSON_AddObjectToObject(body, "metadata");
    cJSON *map = cJSON_AddObjectToObject(meta, field);
    for (size_t i = 0; map && i < n; i++) {
        cJSON *v = kv[i].value ? cJSON_CreateString(kv[i].value) : cJSON_CreateNull();
        if (!v) {
            map = NULL;
            break;
        }
        cJSON_DeleteItemFromObjectCaseSensitive(map, kv[i].key);
        cJSON_AddItemToObject(map, kv[i].key, v);
    }
    if (!map) {
        cJSON_Delete(body);
        ird_buf_free(&b);
        return -ENOMEM;
    }
    return ird_k8s_req_finish(ret, "PATCH", &b, "application/merge-patch+json", body, "patch",
                              kind->group, kind->plural, err);
}

int ird_k8s_label(const struct ird_k8s_kind *kind, const char *ns, const char *name,
                  const struct ird_k8s_kv *kv, size_t n, struct ird_k8s_request *ret,
                  struct ird_err *err)
{
    return metadata_patch(kind, ns, name, "labels", kv, n, ret, err);
}

int ird_k8s_annotate(const struct ird_k8s_kind *kind, const char *ns, const char *name,
                     const struct ird_k8s_kv *kv, size_t n, struct ird_k8s_request *ret,
                     struct ird_err *err)
{
    return metadata_patch(kind, ns, name, "annotations", kv, n, ret, err);
}
