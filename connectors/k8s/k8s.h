/* The Kubernetes connector (type "k8s"): its instances (one cluster each, from
 * `connectors = { k8s = { <name> = { ... }; }; };`), the action table, and the
 * small request pipeline every action shares (token, URL, TLS, send, Status
 * reading, 401 re-auth, RETRY/FAIL answers, guards, dry-run planning).
 *
 * Glossary
 *   instance   struct ird_k8s_instance: credentials + one HTTP client + the
 *              settings below. Built by ird_k8s_instance_new().
 *   op         struct k8s_op: one action call in flight. Actions are chains
 *              of callbacks: each k8s_send() names the function that reads
 *              the answer. An op ends with exactly one k8s_finish*(), which
 *              answers the engine from a timer on the loop (never inside
 *              start), then frees the op.
 *   planned    a mutating request recorded with ird_call_plan(): in dry-run
 *              instead of being sent (and also sent with ?dryRun=All when the
 *              instance has server_dry_run), outside dry-run as the audit of
 *              the real call.
 *
 * Instance settings (all optional, but one of kubeconfig / in_cluster):
 *   kubeconfig      string: colon-separated kubeconfig files
 *   context         string: kubeconfig context (default: current-context)
 *   in_cluster      bool: the pod's service account
 *   server_dry_run  bool (false): in dry-run, also send mutations with
 *                   ?dryRun=All and put the server's verdicts in the result
 *   timeout         duration ("10s"): per HTTP request
 *   namespace       string: default namespace (else the credentials')
 *   evidence_dir    string ("./state/evidence"): where k8s.capture_logs
 *                   writes; the daemon should pass <state_dir>/evidence
 * An instance built with cfg NULL is "unconfigured": every call that needs the
 * API fails with "connectors.k8s.<name> is not configured: set kubeconfig or
 * in_cluster"; in dry-run, mutations are still planned (their reads fail).
 *
 * Files: k8s.c (instances, table, pipeline), act_pods.c (isolate, release,
 * delete, evict), act_secrets.c (rotate), act_evidence.c (capture_logs),
 * act_objects.c (label, annotate, cordon, scale, rollout restart, event).
 * To add an action: a row in the table in k8s.c, a start function in the
 * act_<family>.c it belongs to, declared below. */
#ifndef IRD_CONNECTORS_K8S_K8S_H
#define IRD_CONNECTORS_K8S_K8S_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <libconfig.h>
#include <uv.h>

#include "connector.h"
#include "core/err.h"
#include "k8s/credentials.h"
#include "k8s/requests.h"
#include "k8s/status.h"
#include "net/http_client.h"

extern const struct ird_connector_ops ird_connector_k8s;

#define IRD_K8S_TIMEOUT_MS_DEFAULT 10000
/* 409 Conflict on an update: re-GET and re-apply at most this many times. */
#define IRD_K8S_CONFLICT_RETRIES 5

struct ird_k8s_instance {
    char *name;
    uv_loop_t *loop;
    struct ird_k8s_credentials *creds; /* NULL: unconfigured */
    struct ird_http_client *http;      /* NULL: unconfigured */
    bool server_dry_run;
    int64_t timeout_ms;
    char *namespace_; /* NULL: the credentials' namespace */
    char *evidence_dir;
    char hostname[128]; /* reportingInstance of k8s.event */
    /* Reachability, for /readyz (probe.c). */
    int64_t unreachable_after_ms;
    int64_t probe_interval_ms;
    int64_t unreachable_since_ms; /* 0 while reachable */
    char last_error[200];
    struct k8s_probe *probe;
};

#define IRD_K8S_UNREACHABLE_AFTER_MS_DEFAULT 60000
#define IRD_K8S_PROBE_INTERVAL_MS_DEFAULT    10000

/* TLS settings for the HTTP client from the credentials (pointers into cr). */
void k8s_tls(const struct ird_k8s_credentials *cr, struct ird_http_tls *out);

struct k8s_probe;
/* Probe the API server (GET /version) every probe_interval; stop frees it. */
void k8s_probe_start(struct ird_k8s_instance *in);
void k8s_probe_stop(struct ird_k8s_instance *in);
/* Note an answer (reachable) or a failure to get one. */
void k8s_reachability(struct ird_k8s_instance *in, bool reachable, const char *error);
/* The connector's health hook: -EHOSTUNREACH with a reason once the API
 * server has been unreachable for longer than unreachable_after. */
int k8s_health(void *instance, int64_t now_ms, struct ird_err *err);

/* Build an instance from its config group (the connector's instance_new).
 * cfg NULL gives an unconfigured instance (see top). Returns 0 and
 * *ret (a struct ird_k8s_instance) or a negative errno with
 * "file:line: connectors.k8s.<name>.<key>: message" in err; *ret untouched.
 * A credentials warning (insecure TLS and the like) is logged here once. */
int ird_k8s_instance_new(uv_loop_t *loop, const char *name, const config_setting_t *cfg,
                         const char *state_dir, void **ret, struct ird_err *err);

/* instance_free: closes the HTTP client (asynchronous: its handles close on
 * later loop turns, so the caller must keep running the loop until it has no
 * more handles before uv_loop_close) and frees the rest at once. No call may
 * be in flight. NULL is a no-op. */
void ird_k8s_instance_free(void *inst);

/* The same, with a callback once every handle is closed: cb(data) runs from
 * the loop (never inside this function). NULL inst calls nothing. */
void ird_k8s_instance_close(void *inst, void (*cb)(void *data), void *data);

/* ---- the pipeline (k8s.c), for act_*.c only ------------------------------------------- */

struct k8s_op;

/* An answer from the API, valid during the step function only. */
struct k8s_resp {
    long code;        /* HTTP status; 0 for a planned, unsent mutation */
    bool planned;     /* dry-run: recorded, not sent */
    const char *body; /* raw bytes (not NUL-terminated when len is 0) */
    size_t body_len;
    const cJSON *json;        /* body parsed as JSON, or NULL */
    struct ird_k8s_status st; /* filled for non-2xx answers */
    enum ird_k8s_verdict verdict;
    int64_t retry_after_ms; /* -1 when none */
};

typedef void (*k8s_step_fn)(struct k8s_op *op, const struct k8s_resp *resp);

struct k8s_op {
    struct ird_action_call *call;
    struct ird_k8s_instance *inst;
    cJSON *result; /* handed to the engine with the answer */
    void *state;   /* the action's */
    void (*state_free)(void *state);
    size_t max_response; /* 0: the client's default */
    /* pipeline internals */
    struct ird_k8s_request req;
    bool req_mutates;
    k8s_step_fn next;
    struct ird_http_call *http;
    bool token_wait;
    bool work_wait; /* uv_queue_work in flight (act_evidence.c) */
    bool cancelled;
    bool finished;
    unsigned auth_retries;
    cJSON *verdicts; /* server dry-run answers */
    uv_timer_t timer;
    enum ird_action_status status;
    char *error;
    int64_t retry_after_ms;
};

/* A new op for call with an empty result object, or NULL (out of memory). */
struct k8s_op *k8s_op_new(struct ird_action_call *call);
/* The same, with a zeroed action state of size bytes (op->state), freed with
 * state_free; NULL when out of memory. */
struct k8s_op *k8s_op_with_state(struct ird_action_call *call, size_t size,
                                 void (*state_free)(void *state));
/* Free an op that was never started (its timer not yet on the loop). */
void k8s_op_discard(struct k8s_op *op);

/* Send req (taken: freed when the op moves on) and call next with the HTTP
 * answer, whatever its status (next decides; k8s_fail_resp() maps it).
 * mutates: record it with ird_call_plan(); in dry-run do not send it (next
 * sees planned=true) unless the instance has server_dry_run (then it is sent
 * with ?dryRun=All and the verdict lands in result.server_dry_run). Handled
 * here, never reaching next: a 401 (token invalidated, sent once more), a
 * connection error or timeout (RETRY), cancel (FAIL "cancelled"), and any
 * failure to send (FAIL). */
void k8s_send(struct k8s_op *op, struct ird_k8s_request *req, bool mutates, k8s_step_fn next);
/* k8s_send() the request a builder made, given the builder's return value rc;
 * when rc < 0, FAIL with the builder's error instead (k8s_fail_err()). */
void k8s_send_built(struct k8s_op *op, int rc, struct ird_k8s_request *req,
                    const struct ird_err *err, bool mutates, k8s_step_fn next);

/* Finish the op: OK with op->result, or FAIL / RETRY with a message (printf
 * format). The engine hears it on a later loop turn. Only the first finish
 * counts. */
void k8s_finish_ok(struct k8s_op *op);
void k8s_fail(struct k8s_op *op, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void k8s_retry(struct k8s_op *op, int64_t retry_after_ms, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Finish from a non-2xx answer: RETRY for the retry verdict (429, 5xx) with
 * its Retry-After, FAIL otherwise; the message is "<what>: <API's line>". */
void k8s_fail_resp(struct k8s_op *op, const struct k8s_resp *resp, const char *what);
/* Whether an answer about pod ns/name is 2xx (or planned); otherwise the op
 * is finished: FAIL "pod <ns>/<name> not found" on 404, else k8s_fail_resp(). */
bool k8s_pod_answer_ok(struct k8s_op *op, const struct k8s_resp *resp, const char *ns,
                       const char *name, const char *what);
/* FAIL with a builder's error (err's text, or strerror of rc). */
void k8s_fail_err(struct k8s_op *op, int rc, const struct ird_err *err);

/* Ask the engine's guard about a mutation. 0 to go on; otherwise the op is
 * finished with FAIL and the guard's reason, and -EPERM is returned. */
int k8s_guard(struct k8s_op *op, const char *kind, const char *ns, const char *name,
              const cJSON *labels);

/* Whether a response is 2xx or a planned mutation. */
bool k8s_ok(const struct k8s_resp *resp);

/* Parameters as the engine typed them. */
const cJSON *k8s_param(const struct k8s_op *op, const char *name);
const char *k8s_param_str(const struct k8s_op *op, const char *name);
bool k8s_param_bool(const struct k8s_op *op, const char *name, bool def);
int64_t k8s_param_int(const struct k8s_op *op, const char *name, int64_t def);
/* The namespace parameter, else the instance's, else the credentials', else "default". */
const char *k8s_namespace(const struct k8s_op *op);
/* The incident id, or the run id for a manual run without incident. */
const char *k8s_incident(const struct k8s_op *op);
/* metadata.labels of an object (may be NULL). */
const cJSON *k8s_labels(const cJSON *obj);

/* ---- action start functions (act_*.c) --------------------------------------------------- */

int ird_k8s_act_isolate_pod(struct ird_action_call *call);
int ird_k8s_act_release_pod(struct ird_action_call *call);
int ird_k8s_act_delete_pod(struct ird_action_call *call);
int ird_k8s_act_evict_pod(struct ird_action_call *call);
int ird_k8s_act_rotate_secrets(struct ird_action_call *call);
int ird_k8s_act_capture_logs(struct ird_action_call *call);
int ird_k8s_act_label(struct ird_action_call *call);
int ird_k8s_act_annotate(struct ird_action_call *call);
int ird_k8s_act_cordon_node(struct ird_action_call *call);
int ird_k8s_act_uncordon_node(struct ird_action_call *call);
int ird_k8s_act_scale(struct ird_action_call *call);
int ird_k8s_act_rollout_restart(struct ird_action_call *call);
int ird_k8s_act_event(struct ird_action_call *call);
void ird_k8s_act_cancel(struct ird_action_call *call);

#endif
