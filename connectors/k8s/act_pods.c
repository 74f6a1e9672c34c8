/* Pod actions of the k8s connector: k8s.isolate_pod and k8s.release_pod (the
 * quarantine label plus a deny-all NetworkPolicy per incident), k8s.delete_pod
 * and k8s.evict_pod. Each is a chain of k8s_send() steps (k8s.h). */
#include <stdlib.h>
#include <string.h>

#include "k8s/k8s.h"

/* ---- k8s.isolate_pod ------------------------------------------------------------------ */

struct isolate {
    const char *ns, *pod, *incident; /* borrowed from the call's params */
    const char **cidrs;
    struct ird_k8s_quarantine q;
    char policy[IRD_K8S_NAME_MAX + 1];
    unsigned conflicts;
};

static void isolate_free(void *p)
{
    struct isolate *st = p;
    if (st)
        free(st->cidrs);
    free(st);
}

static void iso_create(struct k8s_op *op);

static void iso_on_replace(struct k8s_op *op, const struct k8s_resp *r);

static void iso_on_existing(struct k8s_op *op, const struct k8s_resp *r)
{
    struct isolate *st = op->state;
    struct ird_k8s_request req = {0};
    struct ird_err err = {{0}};
    if (r->code == 404 && st->conflicts++ < IRD_K8S_CONFLICT_RETRIES) {
        iso_create(op); /* deleted between our create and our read */
        return;
    }
    if (!k8s_ok(r)) {
        k8s_fail_resp(op, r, "get networkpolicy");
        return;
    }
    if (ird_k8s_netpol_is_wanted(&st->q, r->json)) {
        cJSON_AddBoolToObject(op->result, "existing", true);
        k8s_finish_ok(op);
        return;
    }
    int rc = ird_k8s_netpol_replace(&st->q, r->json, &req, &err);
    k8s_send_built(op, rc, &req, &err, true, iso_on_replace);
}

static void iso_reget(struct k8s_op *op)
{
    struct isolate *st = op->state;
    struct ird_k8s_request req = {0};
    struct ird_err err = {{0}};
    int rc = ird_k8s_netpol_get(st->ns, st->policy, &req, &err);
    k8s_send_built(op, rc, &req, &err, false, iso_on_existing);
}

static void iso_on_replace(struct k8s_op *op, const struct k8s_resp *r)
{
    struct isolate *st = op->state;
    if (k8s_ok(r)) {
        cJSON_AddBoolToObject(op->result, "replaced", true);
        k8s_finish_ok(op);
    } else if ((r->verdict == IRD_K8S_CONFLICT || r->code == 404) &&
               st->conflicts++ < IRD_K8S_CONFLICT_RETRIES) {
        iso_reget(op);
    } else {
        k8s_fail_resp(op, r, "replace networkpolicy");
    }
}

static void iso_on_create(struct k8s_op *op, const struct k8s_resp *r)
{
    if (k8s_ok(r))
        k8s_finish_ok(op);
    else if (r->verdict == IRD_K8S_ALREADY_EXISTS)
        iso_reget(op);
    else
        k8s_fail_resp(op, r, "create networkpolicy");
}

static void iso_create(struct k8s_op *op)
{
    struct isolate *st = op->state;
    struct ird_k8s_request req = {0};
    struct ird_err err = {{0}};
    int rc = ird_k8s_netpol_create(&st->q, &req, &err);
    k8s_send_built(op, rc, &req, &err, true, iso_on_create);
}

static void iso_on_label(struct k8s_op *op, const struct k8s_resp *r)
{
    struct isolate *st = op->state;
    if (k8s_pod_answer_ok(op, r, st->ns, st->pod, "label pod"))
        iso_create(op);
}

static void iso_on_pod(struct k8s_op *op, const struct k8s_resp *r)
{
    struct isolate *st = op->state;
    if (!k8s_pod_answer_ok(op, r, st->ns, st->pod, "get pod"))
        return;
    const cJSON *labels = k8s_labels(r->json);
    if (k8s_guard(op, "Pod", st->ns, st->pod, labels) < 0)
        return;
    const char *cur = ird_k8s_req_str(labels, IRD_K8S_QUARANTINE_LABEL);
    if (cur && strcmp(cur, st->incident) == 0) {
        iso_create(op); /* labelled by an earlier attempt */
        return;
    }
    struct ird_k8s_request req = {0};
    struct ird_err err = {{0}};
    int rc = ird_k8s_pod_quarantine_label(st->ns, st->pod, st->incident, true, &req, &err);
    k8s_send_built(op, rc, &req, &err, true, iso_on_label);
}

int ird_k8s_act_isolate_pod(struct ird_action_call *call)
{
    struct k8s_op *op = k8s_op_with_state(call, sizeof(struct isolate), isolate_free);
    if (!op)
        return -ENOMEM;
    struct isolate *st = op->state;
    st->ns = k8s_namespace(op);
    st->pod = k8s_param_str(op, "pod");
    st->incident = k8s_incident(op);
    if (!st->pod) {
        k8s_fail(op, "parameter pod is required");
        return 0;
    }
    const cJSON *list = k8s_param(op, "allow_egress_cidrs");
    size_t n = cJSON_IsArray(list) ? (size_t)cJSON_GetArraySize(list) : 0;
    if (n) {
        st->cidrs = calloc(n, sizeof(*st->cidrs));
        if (!st->cidrs) {
            k8s_fail(op, "out of memory");
            return 0;
        }
        const cJSON *it;
        size_t i = 0;
        cJSON_ArrayForEach(it, list)
            if (cJSON_IsString(it))
                st->cidrs[i++] = it->valuestring;
        n = i;
    }
    st->q = (struct ird_k8s_quarantine){
        .ns = st->ns,
        .incident = st->incident,
        .allow_dns = k8s_param_bool(op, "allow_dns", false),
        .egress_cidrs = st->cidrs,
        .n_egress_cidrs = n,
    };
    struct ird_err err = {{0}};
    int rc = ird_k8s_quarantine_policy_name(st->incident, st->policy, sizeof(st->policy));
    cJSON *want = rc < 0 ? NULL : ird_k8s_quarantine_policy(&st->q, &rc, &err);
    if (!want) {
        k8s_fail(op, "quarantine of %s/%s: %s", st->ns, st->pod,
                 err.msg[0] ? err.msg : ird_strerror(rc));
        return 0;
    }
    cJSON_Delete(want);
    cJSON *label = cJSON_AddObjectToObject(op->result, "label");
    cJSON_AddStringToObject(op->result, "policy", st->policy);
    cJSON_AddStringToObject(op->result, "namespace", st->ns);
    cJSON_AddStringToObject(op->result, "pod", st->pod);
    cJSON_AddStringToObject(label, IRD_K8S_QUARANTINE_LABEL, st->incident);
    struct ird_k8s_request req = {0};
    rc = ird_k8s_pod_get(st->ns, st->pod, &req, &err);
    k8s_send_built(op, rc, &req, &err, false, iso_on_pod);
    return 0;
}

/* ---- k8s.release_pod ------------------------------------------------------------------ */

struct release {
    const char *ns, *incident;
    char policy[IRD_K8S_NAME_MAX + 1];
    cJSON *pods; /* items of the list: pods still labelled for the incident */
    int next;
    cJSON *released; /* in op->result */
};

static void release_free(void *p)
{
    struct release *st = p;
    if (st)
        cJSON_Delete(st->pods);
    free(st);
}

static void rel_next(struct k8s_op *op);

static void rel_on_unlabel(struct k8s_op *op, const struct k8s_resp *r)
{
    if (!k8s_ok(r) && r->code != 404) {
        k8s_fail_resp(op, r, "remove quarantine label");
        return;
    }
    rel_next(op);
}

static void rel_next(struct k8s_op *op)
{
    struct release *st = op->state;
    while (st->next < cJSON_GetArraySize(st->pods)) {
        const cJSON *pod = cJSON_GetArrayItem(st->pods, st->next++);
        const char *name =
            ird_k8s_req_str(cJSON_GetObjectItemCaseSensitive(pod, "metadata"), "name");
        if (!name)
            continue;
        if (k8s_guard(op, "Pod", st->ns, name, k8s_labels(pod)) < 0)
            return;
        struct ird_k8s_request req = {0};
        struct ird_err err = {{0}};
        int rc = ird_k8s_pod_quarantine_label(st->ns, name, st->incident, false, &req, &err);
        if (rc < 0) {
            k8s_fail_err(op, rc, &err);
            return;
        }
        cJSON_AddItemToArray(st->released, cJSON_CreateString(name));
        k8s_send(op, &req, true, rel_on_unlabel);
        return;
    }
    k8s_finish_ok(op);
}

static void rel_on_list(struct k8s_op *op, const struct k8s_resp *r)
{
    struct release *st = op->state;
    if (!k8s_ok(r)) {
        k8s_fail_resp(op, r, "list quarantined pods");
        return;
    }
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(r->json, "items");
    st->pods = cJSON_IsArray(items) ? cJSON_Duplicate(items, 1) : cJSON_CreateArray();
    if (!st->pods) {
        k8s_fail(op, "out of memory");
        return;
    }
    rel_next(op);
}

static void rel_list(struct k8s_op *op)
{
    struct release *st = op->state;
    struct ird_buf sel = IRD_BUF_INIT;
    struct ird_k8s_request req = {0};
    struct ird_err err = {{0}};
    int rc = ird_buf_printf(&sel, "%s=%s", IRD_K8S_QUARANTINE_LABEL, st->incident);
    if (rc == 0)
        rc = ird_k8s_pod_list(st->ns, sel.data, &req, &err);
    ird_buf_free(&sel);
    k8s_send_built(op, rc, &req, &err, false, rel_on_list);
}

static void rel_on_delete(struct k8s_op *op, const struct k8s_resp *r)
{
    if (r->code == 404) {
        cJSON_AddBoolToObject(op->result, "policy_deleted", false);
    } else if (k8s_ok(r)) {
        cJSON_AddBoolToObject(op->result, "policy_deleted", true);
    } else {
        k8s_fail_resp(op, r, "delete networkpolicy");
        return;
    }
    rel_list(op);
}

int ird_k8s_act_release_pod(struct ird_action_call *call)
{
    struct k8s_op *op = k8s_op_with_state(call, sizeof(struct release), release_free);
    if (!op)
        return -ENOMEM;
    struct release *st = op->state;
    st->ns = k8s_namespace(op);
    st->incident = k8s_incident(op);
    if (!ird_k8s_label_value_valid(st->incident) ||
        ird_k8s_quarantine_policy_name(st->incident, st->policy, sizeof(st->policy)) < 0) {
        k8s_fail(op, "incident id \"%s\" cannot be a label value", st->incident);
        return 0;
    }
    cJSON_AddStringToObject(op->result, "policy", st->policy);
    cJSON_AddStringToObject(op->result, "namespace", st->ns);
    st->released = cJSON_AddArrayToObject(op->result, "released");
    if (!st->released) {
        k8s_fail(op, "out of memory");
        return 0;
    }
    if (k8s_guard(op, "NetworkPolicy", st->ns, st->policy, NULL) < 0)
        return 0;
    struct ird_k8s_request req = {0};
    struct ird_err err = {{0}};
    int rc = ird_k8s_netpol_delete(st->ns, st->policy, &req, &err);
    k8s_send_built(op, rc, &req, &err, true, rel_on_delete);
    return 0;
}

/* ---- k8s.delete_pod and k8s.evict_pod ------------------------------------------------- */

struct podop {
    const char *ns, *pod;
    int64_t grace;
    bool evict;
};

static void pod_on_gone(struct k8s_op *op, const struct k8s_resp *r)
{
    struct podop *st = op->state;
    const char *what = st->evict ? "evict pod" : "delete pod";
    if (r->code == 404) {
        cJSON_AddBoolToObject(op->result, "already_gone", true);
        k8s_finish_ok(op);
    } else if (k8s_ok(r)) {
        k8s_finish_ok(op);
    } else if (st->evict && r->code == 429) {
        char line[512];
        ird_k8s_status_format(&r->st, line, sizeof(line));
        k8s_retry(op, r->retry_after_ms > 0 ? r->retry_after_ms : 5000, "%s %s/%s: %s", what,
                  st->ns, st->pod, line);
    } else {
        k8s_fail_resp(op, r, what);
    }
}

static void pod_on_get(struct k8s_op *op, const struct k8s_resp *r)
{
    struct podop *st = op->state;
    if (r->code == 404) {
        cJSON_AddBoolToObject(op->result, "already_gone", true);
        k8s_finish_ok(op);
        return;
    }
    if (!k8s_ok(r)) {
        k8s_fail_resp(op, r, "get pod");
        return;
    }
    if (k8s_guard(op, "Pod", st->ns, st->pod, k8s_labels(r->json)) < 0)
        return;
    struct ird_k8s_request req = {0};
    struct ird_err err = {{0}};
    int rc = st->evict ? ird_k8s_pod_evict(st->ns, st->pod, st->grace, &req, &err)
                       : ird_k8s_pod_delete(st->ns, st->pod, st->grace, &req, &err);
    k8s_send_built(op, rc, &req, &err, true, pod_on_gone);
}

static int podop_start(struct ird_action_call *call, bool evict)
{
    struct k8s_op *op = k8s_op_with_state(call, sizeof(struct podop), free);
    if (!op)
        return -ENOMEM;
    struct podop *st = op->state;
    st->ns = k8s_namespace(op);
    st->pod = k8s_param_str(op, "pod");
    st->grace = k8s_param_int(op, "grace_period_seconds", -1);
    st->evict = evict;
    if (!st->pod) {
        k8s_fail(op, "parameter pod is required");
        return 0;
    }
    cJSON_AddStringToObject(op->result, "namespace", st->ns);
    cJSON_AddStringToObject(op->result, "pod", st->pod);
    cJSON_AddStringToObject(op->result, evict ? "evicted" : "deleted", st->pod);
    struct ird_k8s_request req = {0};
    struct ird_err err = {{0}};
    int rc = ird_k8s_pod_get(st->ns, st->pod, &req, &err);
    k8s_send_built(op, rc, &req, &err, false, pod_on_get);
    return 0;
}

int ird_k8s_act_delete_pod(struct ird_action_call *call)
{
    return podop_start(call, false);
}

int ird_k8s_act_evict_pod(struct ird_action_call *call)
{
    return podop_start(call, true);
}
