/* The k8s connector: instance config (kubeconfig or in-cluster, one HTTP
 * client each), the table of k8s.* actions with their parameters, and the
 * request pipeline the act_*.c files share (see k8s.h). */
#include "k8s/k8s.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- parameters and the action table ------------------------------------------------- */

/* clang-format off */
static const struct ird_param_spec isolate_params[] = {
    {"namespace", IRD_PARAM_NAMESPACE, true, NULL, "namespace of the pod (default ${target.namespace})"},
    {"pod", IRD_PARAM_K8S_NAME, true, NULL, "the pod to quarantine"},
    {"allow_dns", IRD_PARAM_BOOL, false, "false", "allow DNS (UDP/TCP 53) to kube-dns in kube-system"},
    {"allow_egress_cidrs", IRD_PARAM_STRING_LIST, false, NULL, "CIDRs the pod may still reach"},
};
static const struct ird_param_spec release_params[] = {
    {"namespace", IRD_PARAM_NAMESPACE, true, NULL, "namespace of the quarantine"},
    {"pod", IRD_PARAM_K8S_NAME, false, NULL,
     "informational: every pod labelled for the incident is released"},
};
static const struct ird_param_spec rotate_params[] = {
    {"namespace", IRD_PARAM_NAMESPACE, true, NULL, "namespace of the Secrets"},
    {"pod", IRD_PARAM_K8S_NAME, false, NULL, "the pod whose Secrets mounted_by_target rotates"},
    {"secret", IRD_PARAM_K8S_NAME, false, NULL, "one Secret to rotate, by name"},
    {"mounted_by_target", IRD_PARAM_BOOL, false, "false",
     "rotate every Secret the pod uses (volumes, env, envFrom)"},
    {"keys", IRD_PARAM_STRING_LIST, false, NULL, "keys to rotate (default: every key)"},
    {"types", IRD_PARAM_STRING_LIST, false, "Opaque", "Secret types that may be rotated"},
    {"length", IRD_PARAM_INT, false, "32", "characters per new value"},
    {"alphabet", IRD_PARAM_STRING, false, IRD_K8S_ROTATE_ALPHABET, "characters new values use"},
    {"restart_workloads", IRD_PARAM_BOOL, false, "false",
     "rollout-restart the Deployments, StatefulSets and DaemonSets using a rotated Secret"},
};
static const struct ird_param_spec capture_params[] = {
    {"namespace", IRD_PARAM_NAMESPACE, true, NULL, "namespace of the pod"},
    {"pod", IRD_PARAM_K8S_NAME, true, NULL, "the pod"},
    {"tail_lines", IRD_PARAM_INT, false, NULL, "last N lines of each log"},
    {"since_seconds", IRD_PARAM_INT, false, NULL, "only lines newer than this"},
    {"limit_bytes", IRD_PARAM_INT, false, NULL, "at most this many bytes per log"},
    {"previous", IRD_PARAM_BOOL, false, "true", "also the previous instance of restarted containers"},
    {"max_bytes", IRD_PARAM_INT, false, "67108864", "cap on the bytes written for one capture"},
};
static const struct ird_param_spec label_params[] = {
    {"kind", IRD_PARAM_STRING, false, "Pod", "Pod, Secret, Deployment, StatefulSet, DaemonSet, NetworkPolicy or Node"},
    {"namespace", IRD_PARAM_NAMESPACE, false, NULL, "namespace (ignored for Node)"},
    {"name", IRD_PARAM_K8S_NAME, false, NULL, "object name (default: pod)"},
    {"pod", IRD_PARAM_K8S_NAME, false, NULL, "the pod, when name is not given"},
    {"labels", IRD_PARAM_OBJECT, true, NULL, "labels to set (an empty value removes nothing: use annotate for free text)"},
};
static const struct ird_param_spec annotate_params[] = {
    {"kind", IRD_PARAM_STRING, false, "Pod", "Pod, Secret, Deployment, StatefulSet, DaemonSet, NetworkPolicy or Node"},
    {"namespace", IRD_PARAM_NAMESPACE, false, NULL, "namespace (ignored for Node)"},
    {"name", IRD_PARAM_K8S_NAME, false, NULL, "object name (default: pod)"},
    {"pod", IRD_PARAM_K8S_NAME, false, NULL, "the pod, when name is not given"},
    {"annotations", IRD_PARAM_OBJECT, true, NULL, "annotations to set"},
};
static const struct ird_param_spec node_params[] = {
    {"node", IRD_PARAM_K8S_NAME, true, NULL, "the node, e.g. ${alert.node}"},
};
static const struct ird_param_spec scale_params[] = {
    {"kind", IRD_PARAM_STRING, false, "Deployment", "Deployment or StatefulSet"},
    {"namespace", IRD_PARAM_NAMESPACE, true, NULL, "namespace"},
    {"name", IRD_PARAM_K8S_NAME, true, NULL, "the workload"},
    {"replicas", IRD_PARAM_INT, true, NULL, "replica count (0 stops it)"},
};
static const struct ird_param_spec restart_params[] = {
    {"kind", IRD_PARAM_STRING, false, "Deployment", "Deployment, StatefulSet or DaemonSet"},
    {"namespace", IRD_PARAM_NAMESPACE, true, NULL, "namespace"},
    {"name", IRD_PARAM_K8S_NAME, true, NULL, "the workload"},
};
static const struct ird_param_spec delete_params[] = {
    {"namespace", IRD_PARAM_NAMESPACE, true, NULL, "namespace"},
    {"pod", IRD_PARAM_K8S_NAME, true, NULL, "the pod"},
    {"grace_period_seconds", IRD_PARAM_INT, false, NULL, "grace period (default: the pod's own)"},
};
static const struct ird_param_spec evict_params[] = {
    {"namespace", IRD_PARAM_NAMESPACE, true, NULL, "namespace"},
    {"pod", IRD_PARAM_K8S_NAME, true, NULL, "the pod"},
    {"grace_period_seconds", IRD_PARAM_INT, false, NULL, "grace period (default: the pod's own)"},
};
static const struct ird_param_spec event_params[] = {
    {"namespace", IRD_PARAM_NAMESPACE, true, NULL, "namespace of the object"},
    {"pod", IRD_PARAM_K8S_NAME, false, NULL, "the pod the event is about (or kind/name)"},
    {"kind", IRD_PARAM_STRING, false, NULL, "kind of the object, when not a pod"},
    {"name", IRD_PARAM_K8S_NAME, false, NULL, "name of the object, when not a pod"},
    {"reason", IRD_PARAM_STRING, false, "IrdAction", "the event's reason (CamelCase)"},
    {"note", IRD_PARAM_STRING, false, NULL, "text, at most 1024 bytes"},
    {"type", IRD_PARAM_STRING, false, "Normal", "Normal or Warning"},
    {"action", IRD_PARAM_STRING, false, "Respond", "what ird did (CamelCase)"},
};
/* clang-format on */

#define ACTION(verb, desc, mut, params, fn)                                                        \
    {                                                                                              \
        verb, desc, mut, params, COUNT(params), fn, ird_k8s_act_cancel                             \
    }

static const struct ird_action_spec k8s_actions[] = {
    ACTION("isolate_pod",
           "label the pod ird.io/quarantine=<incident> and deny its traffic with NetworkPolicy "
           "ird-quarantine-<incident>",
           true, isolate_params, ird_k8s_act_isolate_pod),
    ACTION("release_pod", "delete the quarantine NetworkPolicy and remove the label", true,
           release_params, ird_k8s_act_release_pod),
    ACTION("rotate_secrets",
           "new random values for a Secret or every Secret the pod uses; optionally restart the "
           "workloads using them",
           true, rotate_params, ird_k8s_act_rotate_secrets),
    ACTION("capture_logs",
           "save every container's logs, the pod and its Events under evidence/<incident>/ with "
           "a SHA-256 manifest",
           false, capture_params, ird_k8s_act_capture_logs),
    ACTION("label", "merge-patch labels onto an object", true, label_params, ird_k8s_act_label),
    ACTION("annotate", "merge-patch annotations onto an object", true, annotate_params,
           ird_k8s_act_annotate),
    ACTION("cordon_node", "mark a node unschedulable", true, node_params, ird_k8s_act_cordon_node),
    ACTION("uncordon_node", "mark a node schedulable again", true, node_params,
           ird_k8s_act_uncordon_node),
    ACTION("scale", "set the replicas of a Deployment or StatefulSet", true, scale_params,
           ird_k8s_act_scale),
    ACTION("rollout_restart", "restart a workload's pods the way kubectl rollout restart does",
           true, restart_params, ird_k8s_act_rollout_restart),
    ACTION("delete_pod", "delete a pod", true, delete_params, ird_k8s_act_delete_pod),
    ACTION("evict_pod", "evict a pod, honouring PodDisruptionBudgets", true, evict_params,
           ird_k8s_act_evict_pod),
    ACTION("event", "record an events.k8s.io/v1 Event on the object", true, event_params,
           ird_k8s_act_event),
};

/* ---- instances ------------------------------------------------------------------------ */

enum key_type { KEY_STRING, KEY_BOOL, KEY_DURATION };

struct key_spec {
    const char *name;
    enum key_type type;
    size_t offset; /* of a char * or bool in struct inst_cfg */
};

struct inst_cfg {
    const char *kubeconfig, *context, *timeout, *namespace_, *evidence_dir;
    const char *unreachable_after, *probe_interval;
    bool in_cluster, server_dry_run;
};

#define CFG(f) offsetof(struct inst_cfg, f)
static const struct key_spec inst_keys[] = {
    {"kubeconfig", KEY_STRING, CFG(kubeconfig)},
    {"context", KEY_STRING, CFG(context)},
    {"in_cluster", KEY_BOOL, CFG(in_cluster)},
    {"server_dry_run", KEY_BOOL, CFG(server_dry_run)},
    {"timeout", KEY_DURATION, CFG(timeout)},
    {"namespace", KEY_STRING, CFG(namespace_)},
    {"evidence_dir", KEY_STRING, CFG(evidence_dir)},
    {"unreachable_after", KEY_DURATION, CFG(unreachable_after)},
    {"probe_interval", KEY_DURATION, CFG(probe_interval)},
};

static int cfg_error(struct ird_err *err, int rc, const config_setting_t *s, const char *inst,
                     const char *key, const char *msg)
{
    const char *file = s ? config_setting_source_file(s) : NULL;
    return ird_err_set(err, rc, "%s:%u: connectors.k8s.%s%s%s: %s", file ? file : "<config>",
                       s ? config_setting_source_line(s) : 0, inst, key ? "." : "", key ? key : "",
                       msg);
}

static int cfg_read(const config_setting_t *cfg, const char *name, struct inst_cfg *out,
                    struct ird_err *err)
{
    if (config_setting_type(cfg) != CONFIG_TYPE_GROUP)
        return cfg_error(err, -EINVAL, cfg, name, NULL, "must be a group");
    int n = config_setting_length(cfg);
    for (int i = 0; i < n; i++) {
        const config_setting_t *s = config_setting_get_elem(cfg, (unsigned)i);
        const char *key = config_setting_name(s);
        const struct key_spec *k = NULL;
        for (size_t j = 0; j < COUNT(inst_keys); j++)
            if (key && strcmp(inst_keys[j].name, key) == 0)
                k = &inst_keys[j];
        if (!k)
            return cfg_error(err, -EINVAL, s, name, key,
                             "unknown key (known: kubeconfig, context, in_cluster, "
                             "server_dry_run, timeout, namespace, evidence_dir, "
                             "unreachable_after, probe_interval)");
        char *field = (char *)out + k->offset;
        if (k->type == KEY_BOOL) {
            if (config_setting_type(s) != CONFIG_TYPE_BOOL)
                return cfg_error(err, -EINVAL, s, name, key, "must be true or false");
            *(bool *)field = config_setting_get_bool(s) != 0;
            continue;
        }
        const char *v = config_setting_get_string(s);
        if (!v || !v[0])
            return cfg_error(err, -EINVAL, s, name, key, "must be a non-empty string");
        if (k->type == KEY_DURATION) {
            int64_t ms;
            if (ird_duration_parse(v, &ms) < 0 || ms <= 0)
                return cfg_error(err, -EINVAL, s, name, key,
                                 "must be a positive duration such as \"10s\"");
        }
        *(const char **)field = v;
    }
    if (out->in_cluster && out->kubeconfig)
        return cfg_error(err, -EINVAL, cfg, name, "in_cluster",
                         "set either kubeconfig or in_cluster, not both");
    if (!out->in_cluster && !out->kubeconfig)
        return cfg_error(err, -EINVAL, cfg, name, NULL, "set kubeconfig or in_cluster = true");
    if (out->in_cluster && out->context)
        return cfg_error(err, -EINVAL, cfg, name, "context", "only with kubeconfig");
    return 0;
}

static void instance_destroy(struct ird_k8s_instance *in)
{
    k8s_probe_stop(in);
    if (!in)
        return;
    ird_k8s_credentials_free(in->creds);
    free(in->name);
    free(in->namespace_);
    free(in->evidence_dir);
    free(in);
}

int ird_k8s_instance_new(uv_loop_t *loop, const char *name, const config_setting_t *cfg,
                         const char *state_dir, void **ret, struct ird_err *err)
{
    if (!loop || !ret)
        return ird_err_set(err, -EINVAL, "connectors.k8s: no loop");
    if (!name)
        name = "default";
    struct inst_cfg c = {0};
    int rc = cfg ? cfg_read(cfg, name, &c, err) : 0;
    if (rc < 0)
        return rc;
    struct ird_k8s_instance *in = calloc(1, sizeof(*in));
    if (!in)
        return ird_err_set(err, -ENOMEM, "out of memory");
    in->loop = loop;
    in->name = strdup(name);
    char evidence[4096];
    snprintf(evidence, sizeof(evidence), "%s/evidence", state_dir ? state_dir : "./state");
    in->evidence_dir = strdup(c.evidence_dir ? c.evidence_dir : evidence);
    in->namespace_ = c.namespace_ ? strdup(c.namespace_) : NULL;
    in->server_dry_run = c.server_dry_run;
    in->timeout_ms = IRD_K8S_TIMEOUT_MS_DEFAULT;
    if (c.timeout)
        ird_duration_parse(c.timeout, &in->timeout_ms);
    in->unreachable_after_ms = IRD_K8S_UNREACHABLE_AFTER_MS_DEFAULT;
    if (c.unreachable_after)
        ird_duration_parse(c.unreachable_after, &in->unreachable_after_ms);
    in->probe_interval_ms = IRD_K8S_PROBE_INTERVAL_MS_DEFAULT;
    if (c.probe_interval)
        ird_duration_parse(c.probe_interval, &in->probe_interval_ms);
    if (gethostname(in->hostname, sizeof(in->hostname) - 1) < 0 || !in->hostname[0])
        snprintf(in->hostname, sizeof(in->hostname), "ird");
    if (!in->name || !in->evidence_dir || (c.namespace_ && !in->namespace_)) {
        instance_destroy(in);
        return ird_err_set(err, -ENOMEM, "out of memory");
    }
    if (cfg) {
        struct ird_err lerr = {{0}};
        if (c.in_cluster) {
            rc = ird_k8s_incluster_load(NULL, &in->creds, &lerr);
        } else {
            struct ird_k8s_kubeconfig_opts o = {.paths = c.kubeconfig, .context = c.context};
            rc = ird_k8s_kubeconfig_load(&o, &in->creds, &lerr);
        }
        if (rc < 0) {
            const config_setting_t *at =
                config_setting_get_member(cfg, c.in_cluster ? "in_cluster" : "kubeconfig");
            cfg_error(err, rc, at ? at : cfg, name, c.in_cluster ? "in_cluster" : "kubeconfig",
                      lerr.msg[0] ? lerr.msg : ird_strerror(rc));
            instance_destroy(in);
            return rc;
        }
        if (in->creds->warning)
            ird_log(IRD_LOG_WARN, "kubernetes credentials", IRD_LS("instance", name),
                    IRD_LS("origin", in->creds->origin ? in->creds->origin : ""),
                    IRD_LS("warning", in->creds->warning));
        in->http = ird_http_client_new(loop);
        if (!in->http) {
            instance_destroy(in);
            return ird_err_set(err, -ENOMEM, "connectors.k8s.%s: cannot set up the HTTP client",
                               name);
        }
        k8s_probe_start(in);
    }
    *ret = in;
    return 0;
}

struct close_ctx {
    void (*cb)(void *);
    void *data;
    uv_idle_t idle; /* answers an instance without HTTP client on a later turn */
};

static void close_idle_closed(uv_handle_t *h)
{
    struct close_ctx *cc = h->data;
    cc->cb(cc->data);
    free(cc);
}

static void close_idle(uv_idle_t *h)
{
    uv_close((uv_handle_t *)h, close_idle_closed);
}

static void close_http_done(void *data)
{
    struct close_ctx *cc = data;
    cc->cb(cc->data);
    free(cc);
}

void ird_k8s_instance_close(void *inst, void (*cb)(void *data), void *data)
{
    struct ird_k8s_instance *in = inst;
    if (!in)
        return;
    k8s_probe_stop(in); /* before the client goes: its call is cancelled first */
    struct close_ctx *cc = cb ? calloc(1, sizeof(*cc)) : NULL;
    if (cc) {
        cc->cb = cb;
        cc->data = data;
    }
    if (in->http) {
        ird_http_client_close(in->http, cc ? close_http_done : NULL, cc);
    } else if (cc) {
        uv_idle_init(in->loop, &cc->idle);
        cc->idle.data = cc;
        uv_idle_start(&cc->idle, close_idle);
    }
    in->http = NULL;
    instance_destroy(in);
}

void ird_k8s_instance_free(void *inst)
{
    ird_k8s_instance_close(inst, NULL, NULL);
}

const struct ird_connector_ops ird_connector_k8s = {
    .name = "k8s",
    .description = "Kubernetes: quarantine, Secret rotation, evidence, workloads and nodes",
    .instance_new = ird_k8s_instance_new,
    .instance_free = ird_k8s_instance_free,
    .health = k8s_health,
    .actions = k8s_actions,
    .nactions = COUNT(k8s_actions),
};

/* ---- parameters ----------------------------------------------------------------------- */

const cJSON *k8s_param(const struct k8s_op *op, const char *name)
{
    return cJSON_GetObjectItemCaseSensitive(op->call->params, name);
}

const char *k8s_param_str(const struct k8s_op *op, const char *name)
{
    const cJSON *v = k8s_param(op, name);
    return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

bool k8s_param_bool(const struct k8s_op *op, const char *name, bool def)
{
    const cJSON *v = k8s_param(op, name);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : def;
}

int64_t k8s_param_int(const struct k8s_op *op, const char *name, int64_t def)
{
    const cJSON *v = k8s_param(op, name);
    return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : def;
}

const char *k8s_namespace(const struct k8s_op *op)
{
    const char *ns = k8s_param_str(op, "namespace");
    if (ns)
        return ns;
    if (op->inst->namespace_)
        return op->inst->namespace_;
    if (op->inst->creds && op->inst->creds->namespace_ && op->inst->creds->namespace_[0])
        return op->inst->creds->namespace_;
    return "default";
}

const char *k8s_incident(const struct k8s_op *op)
{
    const char *id = op->call->incident_id;
    if (id && id[0])
        return id;
    return op->call->run_id ? op->call->run_id : "manual";
}

const cJSON *k8s_labels(const cJSON *obj)
{
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(md, "labels");
    return cJSON_IsObject(l) ? l : NULL;
}

/* ---- op lifecycle --------------------------------------------------------------------- */

struct k8s_op *k8s_op_new(struct ird_action_call *call)
{
    struct k8s_op *op = calloc(1, sizeof(*op));
    if (!op)
        return NULL;
    op->call = call;
    op->inst = call->instance;
    op->result = cJSON_CreateObject();
    op->retry_after_ms = -1;
    if (!op->result || uv_timer_init(call->loop, &op->timer) < 0) {
        cJSON_Delete(op->result);
        free(op);
        return NULL;
    }
    op->timer.data = op;
    call->connector_data = op;
    return op;
}

static void op_closed(uv_handle_t *h)
{
    struct k8s_op *op = h->data;
    ird_k8s_request_free(&op->req);
    if (op->state_free)
        op->state_free(op->state);
    cJSON_Delete(op->result);
    cJSON_Delete(op->verdicts);
    free(op->error);
    free(op);
}

struct k8s_op *k8s_op_with_state(struct ird_action_call *call, size_t size,
                                 void (*state_free)(void *state))
{
    struct k8s_op *op = k8s_op_new(call);
    void *st = op ? calloc(1, size) : NULL;
    if (!st) {
        k8s_op_discard(op);
        return NULL;
    }
    op->state = st;
    op->state_free = state_free;
    return op;
}

void k8s_op_discard(struct k8s_op *op)
{
    if (!op)
        return;
    op->call->connector_data = NULL;
    uv_close((uv_handle_t *)&op->timer, op_closed);
}

static void op_answer(uv_timer_t *t)
{
    struct k8s_op *op = t->data;
    struct ird_action_call *call = op->call;
    cJSON *result = op->result;
    op->result = NULL;
    if (result && op->verdicts) {
        cJSON_AddItemToObject(result, "server_dry_run", op->verdicts);
        op->verdicts = NULL;
    }
    if (result && call->dry_run)
        cJSON_AddBoolToObject(result, "dry_run", true);
    call->connector_data = NULL;
    uv_close((uv_handle_t *)&op->timer, op_closed);
    call->done(call, op->status, result,
               op->status == IRD_ACTION_OK ? NULL : (op->error ? op->error : "failed"),
               op->status == IRD_ACTION_RETRY ? op->retry_after_ms : -1);
}

/* Record the answer (the first one only) and answer from the loop. */
static void op_finish(struct k8s_op *op, enum ird_action_status status, int64_t retry_after_ms,
                      char *msg /* taken */)
{
    if (op->finished) {
        free(msg);
        return;
    }
    op->finished = true;
    op->status = status;
    op->retry_after_ms = retry_after_ms;
    op->error = msg;
    uv_timer_start(&op->timer, op_answer, 0, 0);
}

static char *vformat(const char *fmt, va_list ap)
{
    struct ird_buf b = IRD_BUF_INIT;
    if (ird_buf_vprintf(&b, fmt, ap) < 0 || !b.len) {
        ird_buf_free(&b);
        return NULL;
    }
    return ird_buf_steal(&b);
}

void k8s_finish_ok(struct k8s_op *op)
{
    op_finish(op, IRD_ACTION_OK, -1, NULL);
}

void k8s_fail(struct k8s_op *op, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = vformat(fmt, ap);
    va_end(ap);
    op_finish(op, IRD_ACTION_FAIL, -1, msg);
}

void k8s_retry(struct k8s_op *op, int64_t retry_after_ms, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = vformat(fmt, ap);
    va_end(ap);
    op_finish(op, IRD_ACTION_RETRY, retry_after_ms, msg);
}

void k8s_fail_resp(struct k8s_op *op, const struct k8s_resp *resp, const char *what)
{
    char line[512];
    ird_k8s_status_format(&resp->st, line, sizeof(line));
    if (resp->verdict == IRD_K8S_RETRY)
        k8s_retry(op, resp->retry_after_ms, "%s: %s", what, line);
    else
        k8s_fail(op, "%s: %s", what, line);
}

bool k8s_pod_answer_ok(struct k8s_op *op, const struct k8s_resp *resp, const char *ns,
                       const char *name, const char *what)
{
    if (resp->code == 404)
        k8s_fail(op, "pod %s/%s not found", ns, name);
    else if (!k8s_ok(resp))
        k8s_fail_resp(op, resp, what);
    else
        return true;
    return false;
}

void k8s_fail_err(struct k8s_op *op, int rc, const struct ird_err *err)
{
    k8s_fail(op, "%s", err && err->msg[0] ? err->msg : ird_strerror(rc));
}

void k8s_send_built(struct k8s_op *op, int rc, struct ird_k8s_request *req,
                    const struct ird_err *err, bool mutates, k8s_step_fn next)
{
    if (rc < 0)
        k8s_fail_err(op, rc, err);
    else
        k8s_send(op, req, mutates, next);
}

int k8s_guard(struct k8s_op *op, const char *kind, const char *ns, const char *name,
              const cJSON *labels)
{
    struct ird_action_call *call = op->call;
    if (!call->guard)
        return 0;
    struct ird_guard_target t = {
        .kind = kind, .namespace_ = ns ? ns : "", .name = name, .labels = labels};
    struct ird_err gerr = {{0}};
    if (call->guard(call, &t, &gerr) < 0) {
        k8s_fail(op, "%s", gerr.msg[0] ? gerr.msg : "refused by a guard");
        return -EPERM;
    }
    return 0;
}

bool k8s_ok(const struct k8s_resp *resp)
{
    return resp->planned || (resp->code >= 200 && resp->code < 300);
}

void ird_k8s_act_cancel(struct ird_action_call *call)
{
    struct k8s_op *op = call ? call->connector_data : NULL;
    if (!op || op->finished || op->cancelled)
        return;
    op->cancelled = true;
    if (op->http)
        ird_http_call_cancel(op->http); /* on_http answers "cancelled" */
    /* A token from an exec plugin or file work in flight: their callbacks see
     * the flag and answer "cancelled". */
}

/* ---- sending ------------------------------------------------------------------------- */

static void transmit(struct k8s_op *op);

static void record_verdict(struct k8s_op *op, long code, const struct ird_k8s_status *st)
{
    if (!op->verdicts)
        op->verdicts = cJSON_CreateArray();
    cJSON *v = cJSON_CreateObject();
    if (!op->verdicts || !v) {
        cJSON_Delete(v);
        return;
    }
    cJSON_AddStringToObject(v, "method", op->req.method);
    cJSON_AddStringToObject(v, "path", op->req.path);
    cJSON_AddNumberToObject(v, "code", (double)code);
    if (st && st->message)
        cJSON_AddStringToObject(v, "message", st->message);
    cJSON_AddItemToArray(op->verdicts, v);
}

static void on_http(int status, const struct ird_http_response *hr, const char *curl_error,
                    void *data)
{
    struct k8s_op *op = data;
    op->http = NULL;
    if (op->cancelled) {
        k8s_fail(op, "cancelled");
        return;
    }
    if (status < 0) {
        k8s_reachability(op->inst, false,
                         curl_error && curl_error[0] ? curl_error : ird_strerror(status));
        k8s_retry(op, -1, "%s %s: %s", op->req.method, op->req.path,
                  curl_error && curl_error[0] ? curl_error : ird_strerror(status));
        return;
    }
    k8s_reachability(op->inst, hr->status < 500, "the API server answered 5xx");
    struct k8s_resp r = {.code = hr->status, .body = hr->body.data, .body_len = hr->body.len};
    r.retry_after_ms = hr->retry_after_ms;
    cJSON *json = NULL;
    if (hr->body.len > 0 && (hr->body.data[0] == '{' || hr->body.data[0] == '['))
        json = cJSON_ParseWithLength(hr->body.data, hr->body.len);
    r.json = json;
    bool ok = hr->status >= 200 && hr->status < 300;
    if (!ok) {
        if (ird_k8s_status_parse((int)hr->status, hr->body.data, hr->body.len,
                                 ird_http_response_header(hr, "Retry-After"), &r.st) < 0) {
            cJSON_Delete(json);
            k8s_retry(op, -1, "%s %s: out of memory reading the answer", op->req.method,
                      op->req.path);
            return;
        }
        r.verdict = ird_k8s_status_classify(&r.st);
        if (r.st.retry_after_seconds > 0)
            r.retry_after_ms = r.st.retry_after_seconds * 1000;
    } else {
        r.verdict = IRD_K8S_OK;
    }
    if (hr->status == 401 && op->auth_retries == 0 && op->inst->creds) {
        op->auth_retries++;
        ird_k8s_token_invalidate(op->inst->creds);
        ird_k8s_status_free(&r.st);
        cJSON_Delete(json);
        transmit(op);
        return;
    }
    op->auth_retries = 0;
    if (op->req_mutates && op->call->dry_run)
        record_verdict(op, hr->status, ok ? NULL : &r.st);
    k8s_step_fn next = op->next;
    next(op, &r);
    ird_k8s_status_free(&r.st);
    cJSON_Delete(json);
}

void k8s_tls(const struct ird_k8s_credentials *cr, struct ird_http_tls *out)
{
    *out = (struct ird_http_tls){
        .ca_pem = cr->ca_pem.len ? cr->ca_pem.data : NULL,
        .ca_len = cr->ca_pem.len,
        .cert_pem = cr->cert_pem.len ? cr->cert_pem.data : NULL,
        .cert_len = cr->cert_pem.len,
        .key_pem = cr->key_pem.len ? cr->key_pem.data : NULL,
        .key_len = cr->key_pem.len,
        .server_name = cr->tls_server_name,
        .insecure_skip_verify = cr->insecure_skip_verify,
    };
}

static void send_with_token(struct k8s_op *op, const char *token)
{
    struct ird_k8s_instance *in = op->inst;
    struct ird_k8s_credentials *cr = in->creds;
    struct ird_buf url = IRD_BUF_INIT, auth = IRD_BUF_INIT, ctype = IRD_BUF_INIT;
    char *body = NULL;
    int rc = ird_buf_puts(&url, cr->server);
    if (rc == 0)
        rc = ird_buf_puts(&url, op->req.path);
    if (rc == 0 && token && token[0])
        rc = ird_buf_printf(&auth, "Authorization: Bearer %s", token);
    if (rc == 0 && op->req.content_type)
        rc = ird_buf_printf(&ctype, "Content-Type: %s", op->req.content_type);
    if (rc == 0 && op->req.body && !(body = cJSON_PrintUnformatted(op->req.body)))
        rc = -ENOMEM;
    const char *headers[4];
    size_t nh = 0;
    headers[nh++] = "Accept: application/json, */*";
    if (auth.len)
        headers[nh++] = auth.data;
    if (ctype.len)
        headers[nh++] = ctype.data;
    headers[nh] = NULL;
    struct ird_http_tls tls;
    k8s_tls(cr, &tls);
    struct ird_http_request hreq = {
        .method = op->req.method,
        .url = url.data,
        .headers = headers,
        .body = body,
        .body_len = body ? strlen(body) : 0,
        .tls = &tls,
        .timeout_ms = (long)in->timeout_ms,
        .max_response_bytes = op->max_response,
    };
    if (rc == 0)
        rc = ird_http_client_send(in->http, &hreq, on_http, op, &op->http);
    /* The client copied everything: wipe what held the token and secret values. */
    if (body) {
        explicit_bzero(body, strlen(body));
        cJSON_free(body);
    }
    ird_k8s_buf_wipe(&auth);
    ird_buf_free(&url);
    ird_buf_free(&ctype);
    if (rc < 0)
        k8s_fail(op, "%s %s: cannot send: %s", op->req.method, op->req.path, ird_strerror(rc));
}

static void on_token(int status, const char *token, const struct ird_err *err, void *data)
{
    struct k8s_op *op = data;
    op->token_wait = false;
    if (op->cancelled) {
        k8s_fail(op, "cancelled");
        return;
    }
    if (status < 0) {
        k8s_fail(op, "kubernetes credentials (%s): %s",
                 op->inst->creds->origin ? op->inst->creds->origin : "token",
                 err && err->msg[0] ? err->msg : ird_strerror(status));
        return;
    }
    send_with_token(op, token);
}

static void transmit(struct k8s_op *op)
{
    struct ird_k8s_instance *in = op->inst;
    if (!in->creds || !in->http) {
        k8s_fail(op, "connectors.k8s.%s is not configured: set kubeconfig or in_cluster", in->name);
        return;
    }
    const char *token = NULL;
    struct ird_err err = {{0}};
    int rc = ird_k8s_token_get(in->creds, in->loop, ird_clock_now_ms(), on_token, op, &token, &err);
    if (rc == IRD_K8S_TOKEN_PENDING) {
        op->token_wait = true;
        return;
    }
    if (rc < 0) {
        k8s_fail(op, "kubernetes credentials (%s): %s",
                 in->creds->origin ? in->creds->origin : "token",
                 err.msg[0] ? err.msg : ird_strerror(rc));
        return;
    }
    send_with_token(op, token);
}

void k8s_send(struct k8s_op *op, struct ird_k8s_request *req, bool mutates, k8s_step_fn next)
{
    ird_k8s_request_free(&op->req);
    op->req = *req;
    memset(req, 0, sizeof(*req));
    op->req_mutates = mutates;
    op->next = next;
    op->auth_retries = 0;
    if (op->finished)
        return;
    if (op->cancelled) {
        k8s_fail(op, "cancelled");
        return;
    }
    if (mutates) {
        cJSON *red = ird_k8s_request_redacted_body(&op->req);
        ird_call_plan(op->call, op->req.method, op->req.path, red);
        cJSON_Delete(red);
        if (op->call->dry_run) {
            if (!op->inst->server_dry_run) {
                struct k8s_resp r = {.planned = true, .verdict = IRD_K8S_OK, .retry_after_ms = -1};
                next(op, &r);
                return;
            }
            int rc = ird_k8s_request_set_dry_run(&op->req);
            if (rc < 0) {
                k8s_fail(op, "%s %s: %s", op->req.method, op->req.path, ird_strerror(rc));
                return;
            }
        }
    }
    transmit(op);
}
