/* Object actions of the k8s connector, all one shape (GET the object, ask the
 * guard with its current labels, send one mutating request): k8s.label,
 * k8s.annotate, k8s.cordon_node, k8s.uncordon_node, k8s.scale,
 * k8s.rollout_restart and k8s.event. One row per verb in objop_verbs[]. */
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "k8s/k8s.h"

struct objop;
typedef int (*objop_build_fn)(struct k8s_op *op, const cJSON *obj, struct ird_k8s_request *req,
                              struct ird_err *err);

struct objop_verb {
    const char *name;     /* for messages: "label" */
    const char *guard_as; /* kind shown to the guard; NULL: the object's kind */
    objop_build_fn build;
};

struct objop {
    const struct objop_verb *verb;
    const struct ird_k8s_kind *kind;
    const char *ns; /* "" for cluster-scoped kinds */
    const char *name;
};

/* An OBJECT parameter as key/value pairs (borrowed strings). */
static int kv_list(const cJSON *obj, struct ird_k8s_kv **ret, size_t *ret_n)
{
    size_t n = cJSON_IsObject(obj) ? (size_t)cJSON_GetArraySize(obj) : 0;
    struct ird_k8s_kv *kv = n ? calloc(n, sizeof(*kv)) : NULL;
    if (n && !kv)
        return -ENOMEM;
    size_t i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, obj) {
        if (cJSON_IsString(it))
            kv[i++] = (struct ird_k8s_kv){it->string, it->valuestring};
    }
    *ret = kv;
    *ret_n = i;
    return 0;
}

static int build_meta(struct k8s_op *op, bool labels, struct ird_k8s_request *req,
                      struct ird_err *err)
{
    struct objop *st = op->state;
    const char *pname = labels ? "labels" : "annotations";
    struct ird_k8s_kv *kv = NULL;
    size_t n = 0;
    if (kv_list(k8s_param(op, pname), &kv, &n) < 0)
        return ird_err_set(err, -ENOMEM, "out of memory");
    if (n == 0) {
        free(kv);
        return ird_err_set(err, -EINVAL, "parameter %s: give at least one key", pname);
    }
    int rc = labels ? ird_k8s_label(st->kind, st->ns, st->name, kv, n, req, err)
                    : ird_k8s_annotate(st->kind, st->ns, st->name, kv, n, req, err);
    free(kv);
    if (rc == 0)
        cJSON_AddItemToObject(op->result, pname, cJSON_Duplicate(k8s_param(op, pname), 1));
    return rc;
}

static int build_label(struct k8s_op *op, const cJSON *obj, struct ird_k8s_request *req,
                       struct ird_err *err)
{
    (void)obj;
    return build_meta(op, true, req, err);
}

static int build_annotate(struct k8s_op *op, const cJSON *obj, struct ird_k8s_request *req,
                          struct ird_err *err)
{
    (void)obj;
    return build_meta(op, false, req, err);
}

static int build_cordon_common(struct k8s_op *op, bool cordon, struct ird_k8s_request *req,
                               struct ird_err *err)
{
    struct objop *st = op->state;
    cJSON_AddBoolToObject(op->result, "unschedulable", cordon);
    return ird_k8s_node_cordon(st->name, cordon, req, err);
}

static int build_cordon(struct k8s_op *op, const cJSON *obj, struct ird_k8s_request *req,
                        struct ird_err *err)
{
    (void)obj;
    return build_cordon_common(op, true, req, err);
}

static int build_uncordon(struct k8s_op *op, const cJSON *obj, struct ird_k8s_request *req,
                          struct ird_err *err)
{
    (void)obj;
    return build_cordon_common(op, false, req, err);
}

static int build_scale(struct k8s_op *op, const cJSON *obj, struct ird_k8s_request *req,
                       struct ird_err *err)
{
    struct objop *st = op->state;
    const cJSON *cur =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(obj, "spec"), "replicas");
    if (cJSON_IsNumber(cur))
        cJSON_AddNumberToObject(op->result, "previous_replicas", cur->valuedouble);
    int64_t n = k8s_param_int(op, "replicas", -1);
    cJSON_AddNumberToObject(op->result, "replicas", (double)n);
    return ird_k8s_workload_scale(st->kind, st->ns, st->name, n, req, err);
}

static int build_restart(struct k8s_op *op, const cJSON *obj, struct ird_k8s_request *req,
                         struct ird_err *err)
{
    struct objop *st = op->state;
    return ird_k8s_workload_restart(st->kind, obj, ird_clock_now_ms(), req, err);
}

static int build_event(struct k8s_op *op, const cJSON *obj, struct ird_k8s_request *req,
                       struct ird_err *err)
{
    struct objop *st = op->state;
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    int64_t now_ns = ird_clock_now_ms() * 1000000 + (int64_t)(uv_hrtime() % 1000000);
    struct ird_k8s_event e = {
        .api_version = st->kind->api_version,
        .kind = st->kind->kind,
        .name = st->name,
        .ns = st->ns,
        .uid = ird_k8s_req_str(md, "uid"),
        .reason = k8s_param_str(op, "reason") ? k8s_param_str(op, "reason") : "IrdAction",
        .action = k8s_param_str(op, "action") ? k8s_param_str(op, "action") : "Respond",
        .type = k8s_param_str(op, "type") ? k8s_param_str(op, "type") : "Normal",
        .note = k8s_param_str(op, "note"),
        .reporting_instance = op->inst->hostname,
        .now_ns = now_ns,
    };
    if (strcmp(e.type, "Normal") != 0 && strcmp(e.type, "Warning") != 0)
        return ird_err_set(err, -EINVAL, "parameter type: must be Normal or Warning");
    int rc = ird_k8s_event_create(&e, req, err);
    if (rc == 0) {
        const char *name =
            ird_k8s_req_str(cJSON_GetObjectItemCaseSensitive(req->body, "metadata"), "name");
        if (name)
            cJSON_AddStringToObject(op->result, "event", name);
        cJSON_AddStringToObject(op->result, "reason", e.reason);
    }
    return rc;
}

enum { V_LABEL, V_ANNOTATE, V_CORDON, V_UNCORDON, V_SCALE, V_RESTART, V_EVENT };
static const struct objop_verb objop_verbs[] = {
    [V_LABEL] = {"label", NULL, build_label},
    [V_ANNOTATE] = {"annotate", NULL, build_annotate},
    [V_CORDON] = {"cordon", NULL, build_cordon},
    [V_UNCORDON] = {"uncordon", NULL, build_uncordon},
    [V_SCALE] = {"scale", NULL, build_scale},
    [V_RESTART] = {"rollout restart", NULL, build_restart},
    [V_EVENT] = {"event", "Event", build_event},
};

static void on_done(struct k8s_op *op, const struct k8s_resp *r)
{
    struct objop *st = op->state;
    if (k8s_ok(r))
        k8s_finish_ok(op);
    else
        k8s_fail_resp(op, r, st->verb->name);
}

static void on_get(struct k8s_op *op, const struct k8s_resp *r)
{
    struct objop *st = op->state;
    if (r->code == 404) {
        k8s_fail(op, "%s %s%s%s not found", st->kind->kind, st->ns, st->ns[0] ? "/" : "", st->name);
        return;
    }
    if (!k8s_ok(r) || !r->json) {
        k8s_fail_resp(op, r, "get object");
        return;
    }
    const char *gkind = st->verb->guard_as ? st->verb->guard_as : st->kind->kind;
    if (k8s_guard(op, gkind, st->ns, st->name, k8s_labels(r->json)) < 0)
        return;
    struct ird_k8s_request req = {0};
    struct ird_err err = {{0}};
    int rc = st->verb->build(op, r->json, &req, &err);
    k8s_send_built(op, rc, &req, &err, true, on_done);
}

/* kind_param: the parameter naming the kind (NULL: fixed_kind); allowed: a
 * check on the kind found (NULL: any). */
static int objop_start(struct ird_action_call *call, int verb, const char *fixed_kind,
                       const char *name_param, bool (*allowed)(const struct ird_k8s_kind *),
                       const char *allowed_text)
{
    struct k8s_op *op = k8s_op_with_state(call, sizeof(struct objop), free);
    if (!op)
        return -ENOMEM;
    struct objop *st = op->state;
    st->verb = &objop_verbs[verb];
    const char *kname = fixed_kind;
    if (!kname)
        kname = k8s_param_str(op, "kind");
    if (!kname) /* the spec's default, for callers that did not apply it */
        kname = verb == V_SCALE || verb == V_RESTART ? "Deployment" : "Pod";
    st->kind = kname ? ird_k8s_kind_find(kname) : NULL;
    if (!st->kind || (allowed && !allowed(st->kind))) {
        k8s_fail(op, "parameter kind: \"%s\" is not one of %s", kname ? kname : "", allowed_text);
        return 0;
    }
    st->name = k8s_param_str(op, name_param);
    if (!st->name && st->kind->namespaced && strcmp(st->kind->kind, "Pod") == 0)
        st->name = k8s_param_str(op, "pod");
    if (!st->name) {
        k8s_fail(op, "parameter %s is required", name_param);
        return 0;
    }
    st->ns = st->kind->namespaced ? k8s_namespace(op) : "";
    cJSON_AddStringToObject(op->result, "kind", st->kind->kind);
    if (st->kind->namespaced)
        cJSON_AddStringToObject(op->result, "namespace", st->ns);
    cJSON_AddStringToObject(op->result, "name", st->name);
    struct ird_k8s_request req = {0};
    struct ird_err err = {{0}};
    int rc =
        ird_k8s_object_get(st->kind, st->kind->namespaced ? st->ns : NULL, st->name, &req, &err);
    k8s_send_built(op, rc, &req, &err, false, on_get);
    return 0;
}

static bool is_scalable(const struct ird_k8s_kind *k)
{
    return k->scalable;
}

static bool is_workload(const struct ird_k8s_kind *k)
{
    return k->workload;
}

#define ANY_KIND "Pod, Secret, Deployment, StatefulSet, DaemonSet, NetworkPolicy, Node"

int ird_k8s_act_label(struct ird_action_call *call)
{
    return objop_start(call, V_LABEL, NULL, "name", NULL, ANY_KIND);
}

int ird_k8s_act_annotate(struct ird_action_call *call)
{
    return objop_start(call, V_ANNOTATE, NULL, "name", NULL, ANY_KIND);
}

int ird_k8s_act_cordon_node(struct ird_action_call *call)
{
    return objop_start(call, V_CORDON, "Node", "node", NULL, "Node");
}

int ird_k8s_act_uncordon_node(struct ird_action_call *call)
{
    return objop_start(call, V_UNCORDON, "Node", "node", NULL, "Node");
}

int ird_k8s_act_scale(struct ird_action_call *call)
{
    return objop_start(call, V_SCALE, NULL, "name", is_scalable, "Deployment, StatefulSet");
}

int ird_k8s_act_rollout_restart(struct ird_action_call *call)
{
    return objop_start(call, V_RESTART, NULL, "name", is_workload,
                       "Deployment, StatefulSet, DaemonSet");
}

int ird_k8s_act_event(struct ird_action_call *call)
{
    return objop_start(call, V_EVENT, NULL, "name", NULL, ANY_KIND);
}
