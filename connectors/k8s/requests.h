/* Kubernetes request builders and object readers for the k8s connector: each
 * builder turns validated parameters into one HTTP request (method, encoded
 * path, content type, JSON body) pointing at its row of the RBAC table. Pure:
 * no I/O, no logging, no clock (callers pass the time), no randomness (callers
 * pass a random-bytes callback).
 *
 * Glossary:
 *   request   struct ird_k8s_request: what the HTTP client sends. The path is
 *             "/api/v1/..." or "/apis/<group>/<version>/..." with every name
 *             segment and query value percent-encoded (RFC 3986 unreserved
 *             characters kept, everything else %XX), never spliced raw.
 *   resource  struct ird_k8s_resource: the RBAC triple (verb, apiGroup,
 *             resource[/subresource]) a request needs. ird_k8s_resources[] lists
 *             every triple any builder can produce, so ird's ClusterRole can be
 *             derived from (and checked against) this table.
 *   kind      struct ird_k8s_kind: a supported object kind (path prefix,
 *             plural, namespaced or not) for the generic get/label/annotate.
 *
 * Conventions: builders return 0 and fill *ret, or a negative errno with a
 * reason in err (NULL allowed) and leave *ret untouched. Names given to
 * builders are expected to be validated against the API naming rules by the
 * caller; builders still percent-encode them and refuse empty, "." and ".."
 * segments (which an HTTP client would collapse) with -EINVAL.
 *
 * To add a builder: write it in the req_<family>.c it belongs to, point it at
 * its row with ird_k8s_resource_find(), and add the row to ird_k8s_resources[]
 * in requests.c if it is new (tests fail for a builder without a row). */
#ifndef IRD_CONNECTORS_K8S_REQUESTS_H
#define IRD_CONNECTORS_K8S_REQUESTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "core/buf.h"
#include "core/err.h"

/* ---- RBAC table ------------------------------------------------------------------------ */

struct ird_k8s_resource {
    const char *verb;     /* create, get, list, update, patch, delete */
    const char *group;    /* "" for the core group */
    const char *resource; /* plural, or "plural/subresource" */
};

/* Every (verb, group, resource) any builder here can produce; rows are unique. */
extern const struct ird_k8s_resource ird_k8s_resources[];
extern const size_t ird_k8s_resources_count;

/* The row for (verb, group, resource), or NULL when no builder produces it. */
const struct ird_k8s_resource *ird_k8s_resource_find(const char *verb, const char *group,
                                                     const char *resource);

/* ---- one request ----------------------------------------------------------------------- */

struct ird_k8s_request {
    const char *method;                      /* static: "GET", "POST", "PUT", "PATCH", "DELETE" */
    char *path;                              /* owned; encoded path and query, no scheme or host */
    const char *content_type;                /* static; NULL when there is no body */
    cJSON *body;                             /* owned; NULL when there is no body */
    const struct ird_k8s_resource *resource; /* row of ird_k8s_resources[] */
};

/* Free path and body and clear *r. The struct itself is the caller's (usually
 * on the stack or inside a step). NULL and an already freed request are no-ops. */
void ird_k8s_request_free(struct ird_k8s_request *r);

/* Mark a mutating request (POST/PUT/PATCH/DELETE) as server-side dry run by
 * adding dryRun=All to its query (the only value the API accepts). Calling it
 * twice is harmless. -EINVAL for a GET (the API has no dry run for reads),
 * -ENOMEM. */
int ird_k8s_request_set_dry_run(struct ird_k8s_request *r);

/* A new copy of r's body that is safe to log, store and audit: in a Secret
 * body (or any body sent to the secrets resource) every value of `data` and
 * `stringData` becomes "<redacted>" (a null, meaning "remove this key" in a
 * merge patch, stays null). Caller frees with cJSON_Delete. NULL when r has no
 * body or on allocation failure. */
cJSON *ird_k8s_request_redacted_body(const struct ird_k8s_request *r);

/* ---- kinds for generic get / label / annotate ------------------------------------------ */

struct ird_k8s_kind {
    const char *kind;        /* "Deployment" */
    const char *plural;      /* "deployments": also the RBAC resource */
    const char *group;       /* "apps"; "" for core */
    const char *prefix;      /* "/apis/apps/v1" or "/api/v1" */
    const char *api_version; /* "apps/v1" */
    bool namespaced;
    bool workload; /* a pod template under spec.template: rollout restart works */
    bool scalable; /* has a /scale subresource ird patches */
};

/* Look a kind up by its Kind ("Deployment"), lower-case kind ("deployment") or
 * plural ("deployments"). Supported: pods, secrets, deployments, statefulsets,
 * daemonsets, networkpolicies (namespaced) and nodes (cluster-scoped). NULL for
 * anything else. */
const struct ird_k8s_kind *ird_k8s_kind_find(const char *name);

/* One label or annotation change: value NULL removes the key (JSON null in
 * the merge patch). */
struct ird_k8s_kv {
    const char *key;
    const char *value;
};

/* Label keys are qualified names ([prefix/]name, prefix a DNS-1123 subdomain,
 * name <= 63 of [A-Za-z0-9][-A-Za-z0-9_.]*[A-Za-z0-9]); label values are empty
 * or <= 63 of that charset. Annotation keys follow the label-key rule checked
 * lower-cased, as the API does (ird_k8s_annotate). */
bool ird_k8s_label_key_valid(const char *key);
bool ird_k8s_label_value_valid(const char *value);

/* GET one object. ns must be set for namespaced kinds and NULL or "" for
 * cluster-scoped ones. */
int ird_k8s_object_get(const struct ird_k8s_kind *kind, const char *ns, const char *name,
                       struct ird_k8s_request *ret, struct ird_err *err);

/* Merge-patch labels: PATCH <object>, application/merge-patch+json,
 * {"metadata":{"labels":{k:v|null,...}}}. n >= 1 changes; keys and values are
 * checked (-EINVAL naming the bad one); a repeated key keeps its last value. */
int ird_k8s_label(const struct ird_k8s_kind *kind, const char *ns, const char *name,
                  const struct ird_k8s_kv *kv, size_t n, struct ird_k8s_request *ret,
                  struct ird_err *err);
/* The same for annotations (values are free text). */
int ird_k8s_annotate(const struct ird_k8s_kind *kind, const char *ns, const char *name,
                     const struct ird_k8s_kv *kv, size_t n, struct ird_k8s_request *ret,
                     struct ird_err *err);

/* ---- pods (req_pods.c) ------------------------------------------------------------------ */

/* The label isolate_pod puts on the pod and the quarantine policy selects. */
#define IRD_K8S_QUARANTINE_LABEL "ird.io/quarantine"

int ird_k8s_pod_get(const char *ns, const char *name, struct ird_k8s_request *ret,
                    struct ird_err *err);
/* GET the pods of ns matching label_selector (NULL for all), e.g. the pods
 * still labelled for an incident: "ird.io/quarantine=INC-1". */
int ird_k8s_pod_list(const char *ns, const char *label_selector, struct ird_k8s_request *ret,
                     struct ird_err *err);
/* Set (set=true) or remove the quarantine label, value incident (which must be
 * a valid label value; -EINVAL otherwise). */
int ird_k8s_pod_quarantine_label(const char *ns, const char *name, const char *incident, bool set,
                                 struct ird_k8s_request *ret, struct ird_err *err);
/* DELETE the pod; grace_seconds < 0 leaves the pod's own grace period, else
 * ?gracePeriodSeconds=N (0 = immediately). The API answers 200 with the Pod. */
int ird_k8s_pod_delete(const char *ns, const char *name, int64_t grace_seconds,
                       struct ird_k8s_request *ret, struct ird_err *err);
/* POST .../pods/<name>/eviction with a policy/v1 Eviction; grace_seconds >= 0
 * adds deleteOptions.gracePeriodSeconds. */
int ird_k8s_pod_evict(const char *ns, const char *name, int64_t grace_seconds,
                      struct ird_k8s_request *ret, struct ird_err *err);

/* Pod log options. Start from IRD_K8S_LOG_OPTS_INIT: numeric fields equal to
 * IRD_K8S_UNSET are left out of the query. */
#define IRD_K8S_UNSET INT64_MIN
struct ird_k8s_log_opts {
    const char *container; /* NULL: the pod's only container */
    bool previous;         /* the previous (crashed) instance */
    bool timestamps;       /* prefix each line with its RFC 3339 time */
    int64_t tail_lines;    /* >= 0 */
    int64_t since_seconds; /* >= 1 */
    int64_t limit_bytes;   /* >= 1 */
};
#define IRD_K8S_LOG_OPTS_INIT                                                                      \
    {                                                                                              \
        NULL, false, false, IRD_K8S_UNSET, IRD_K8S_UNSET, IRD_K8S_UNSET                            \
    }

/* GET .../pods/<name>/log?container=&previous=true&timestamps=true&tailLines=
 * &sinceSeconds=&limitBytes= (only the options set). Out-of-range values are
 * refused here with the API's own rule ("tailLines must be >= 0, got -1")
 * instead of a 422 from the server. */
int ird_k8s_pod_logs(const char *ns, const char *name, const struct ird_k8s_log_opts *o,
                     struct ird_k8s_request *ret, struct ird_err *err);

/* The Secrets a pod uses, by name: volumes[].secret.secretName,
 * volumes[].projected.sources[].secret.name, and for containers,
 * initContainers and ephemeralContainers env[].valueFrom.secretKeyRef.name and
 * envFrom[].secretRef.name. Not imagePullSecrets, not service-account token
 * projections. Deduplicated, in a stable order: volumes first, then
 * initContainers, containers, ephemeralContainers. Returns a new cJSON
 * array of strings (empty when none; caller frees), NULL on allocation failure
 * or when pod has no spec object. */
cJSON *ird_k8s_pod_secret_names(const cJSON *pod);

/* ---- NetworkPolicy quarantine (req_netpol.c) -------------------------------------------- */

/* Quarantine policy name for an incident: "ird-quarantine-<incident>" when that
 * is a valid DNS-1123 subdomain. Otherwise (upper case, other characters, too
 * long) a deterministic safe name: "ird-quarantine-" + the incident lower-cased
 * with every run of characters outside [a-z0-9] turned into one '-', trimmed of
 * '-' and cut to 40 characters, + "-" + the first 12 hex digits of the
 * SHA-256 of the incident id as given ("INC-42" -> "ird-quarantine-inc-42-<12
 * hex>"). The hash keeps ids that differ only in case or punctuation apart.
 * Writes into out (outlen >= IRD_K8S_NAME_MAX + 1); 0, -EINVAL for an empty
 * incident, -ENOSPC when out is too small. */
#define IRD_K8S_NAME_MAX 253
int ird_k8s_quarantine_policy_name(const char *incident, char *out, size_t outlen);

struct ird_k8s_quarantine {
    const char *ns;
    const char *incident;            /* must be a valid label value */
    bool allow_dns;                  /* UDP+TCP 53 to kube-dns in kube-system */
    const char *const *egress_cidrs; /* IPv4 or IPv6 CIDRs allowed out; may be NULL */
    size_t n_egress_cidrs;           /* at most 64 */
};

/* The NetworkPolicy ird wants for q: name from ird_k8s_quarantine_policy_name,
 * labels app.kubernetes.io/managed-by=ird and ird.io/incident=<incident>,
 * podSelector.matchLabels {ird.io/quarantine: <incident>}, policyTypes
 * [Ingress, Egress], no ingress rules, egress rules only for allow_dns and the
 * CIDRs (one rule with one ipBlock peer per CIDR). New object (caller frees),
 * or NULL with -EINVAL/-ENOMEM in *ret_rc and a reason in err (a bad CIDR is
 * named: "egress CIDR \"10.0.0.0/33\": prefix length must be 0-32"). */
cJSON *ird_k8s_quarantine_policy(const struct ird_k8s_quarantine *q, int *ret_rc,
                                 struct ird_err *err);

/* POST .../networkpolicies with the policy above. */
int ird_k8s_netpol_create(const struct ird_k8s_quarantine *q, struct ird_k8s_request *ret,
                          struct ird_err *err);
int ird_k8s_netpol_get(const char *ns, const char *name, struct ird_k8s_request *ret,
                       struct ird_err *err);
/* PUT .../networkpolicies/<name>: the wanted policy, with
 * metadata.resourceVersion copied from existing (as GET returned it); -EINVAL
 * when existing has none. Labels and annotations others added are replaced. */
int ird_k8s_netpol_replace(const struct ird_k8s_quarantine *q, const cJSON *existing,
                           struct ird_k8s_request *ret, struct ird_err *err);
int ird_k8s_netpol_delete(const char *ns, const char *name, struct ird_k8s_request *ret,
                          struct ird_err *err);
/* Whether an existing policy (the GET after a 409 AlreadyExists) has exactly the
 * spec q wants, so the create can count as done. Empty ingress/egress lists
 * count as absent; anything else must match. False when q is invalid. */
bool ird_k8s_netpol_is_wanted(const struct ird_k8s_quarantine *q, const cJSON *existing);

/* True for "a.b.c.d/n" (n 0-32) and IPv6 "x::y/n" (n 0-128) as inet_pton reads them. */
bool ird_k8s_cidr_valid(const char *cidr, struct ird_err *err);

/* ---- Secrets (req_secrets.c) -------------------------------------------------------------- */

int ird_k8s_secret_get(const char *ns, const char *name, struct ird_k8s_request *ret,
                       struct ird_err *err);

/* Fill buf with len random bytes; 0 or a negative errno. */
typedef int (*ird_k8s_random_fn)(void *ctx, unsigned char *buf, size_t len);

#define IRD_K8S_ROTATE_ALPHABET "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
#define IRD_K8S_ROTATE_MAX_LEN  4096

struct ird_k8s_rotate_opts {
    const char *const *keys; /* keys to rotate; NULL = every key in data */
    size_t n_keys;
    size_t length;                    /* characters per new value, 1..IRD_K8S_ROTATE_MAX_LEN */
    const char *alphabet;             /* NULL = IRD_K8S_ROTATE_ALPHABET; 2..94 distinct
                                         printable non-space ASCII characters */
    const char *const *allowed_types; /* NULL = only "Opaque" */
    size_t n_allowed_types;
    const char *incident;     /* written to ird.io/rotated-by */
    int64_t now_ms;           /* written to ird.io/rotated-at (RFC 3339, UTC) */
    ird_k8s_random_fn random; /* getrandom in the daemon */
    void *random_ctx;
};

/* Rotation of a Secret as GET returned it: PUT .../secrets/<name> with the
 * whole object (metadata.resourceVersion kept, so a concurrent change is a 409
 * Conflict; managedFields and any stringData dropped), each rotated key's value
 * replaced by base64 of `length` characters drawn uniformly from the alphabet
 * (rejection sampling over random bytes), and annotations ird.io/rotated-at
 * and ird.io/rotated-by set. Refuses, with -EINVAL and a reason naming the
 * secret: immutable Secrets ("secret prod/db is immutable; ird cannot rotate
 * it"), types not allowed, listed keys that are not in data, a Secret without
 * resourceVersion or keys. *ret_rotated receives a new cJSON array of the
 * rotated key names (never values; caller frees). Errors from random pass
 * through. The request body holds the new values: log only
 * ird_k8s_request_redacted_body(). */
int ird_k8s_secret_rotate(const cJSON *secret, const struct ird_k8s_rotate_opts *o,
                          struct ird_k8s_request *ret, cJSON **ret_rotated, struct ird_err *err);

/* ---- workloads and nodes (req_workloads.c) -------------------------------------------------- */

/* GET the collection of a workload kind (deployments, statefulsets, daemonsets) in ns. */
int ird_k8s_workload_list(const struct ird_k8s_kind *kind, const char *ns,
                          struct ird_k8s_request *ret, struct ird_err *err);
/* Whether the workload's spec.template.spec uses Secret name the way
 * ird_k8s_pod_secret_names() counts. */
bool ird_k8s_workload_uses_secret(const cJSON *workload, const char *name);
/* Rollout restart as kubectl does it: PATCH <workload>?fieldManager=ird,
 * application/strategic-merge-patch+json,
 * {"spec":{"template":{"metadata":{"annotations":{
 *     "kubectl.kubernetes.io/restartedAt":"<now, RFC 3339 seconds, UTC>"}}}}}.
 * workload is the object as GET or a list returned it (namespace and name read
 * from its metadata). A paused Deployment is refused with -EINVAL ("deployment
 * prod/web is paused; resume it before restarting"). Two restarts in the same
 * second produce the same patch, which changes nothing. */
int ird_k8s_workload_restart(const struct ird_k8s_kind *kind, const cJSON *workload, int64_t now_ms,
                             struct ird_k8s_request *ret, struct ird_err *err);
/* PATCH <workload>/scale, merge-patch {"spec":{"replicas":N}}, for kinds with a
 * scale subresource (deployments, statefulsets); 0 <= replicas <= INT32_MAX. */
int ird_k8s_workload_scale(const struct ird_k8s_kind *kind, const char *ns, const char *name,
                           int64_t replicas, struct ird_k8s_request *ret, struct ird_err *err);

/* Cordon (merge-patch {"spec":{"unschedulable":true}}) or uncordon
 * ({"spec":{"unschedulable":null}}, which removes the field) a node. */
int ird_k8s_node_cordon(const char *name, bool cordon, struct ird_k8s_request *ret,
                        struct ird_err *err);

/* ---- events (req_events.c) ---------------------------------------------------------------- */

/* GET /api/v1/namespaces/<ns>/events?fieldSelector=involvedObject.uid%3D<uid>
 * (the uid escaped for field selectors, then percent-encoded). */
int ird_k8s_event_list_for(const char *ns, const char *uid, struct ird_k8s_request *ret,
                           struct ird_err *err);

#define IRD_K8S_EVENT_CONTROLLER "ird.io/ird"
#define IRD_K8S_EVENT_NOTE_MAX   1024
#define IRD_K8S_EVENT_FIELD_MAX  128

struct ird_k8s_event {
    /* regarding: the object the event is about */
    const char *api_version; /* "v1" */
    const char *kind;        /* "Pod" */
    const char *name;
    const char *ns;     /* NULL or "" for cluster-scoped objects: the event goes to "default" */
    const char *uid;    /* optional */
    const char *reason; /* required, <= 128 */
    const char *action; /* required, <= 128 */
    const char *type;   /* "Normal" or "Warning" */
    const char *note;   /* optional; cut to 1024 bytes at a UTF-8 boundary */
    const char *reporting_instance; /* required, <= 128 (e.g. the hostname) */
    int64_t now_ns;                 /* Unix time in nanoseconds */
};

/* POST /apis/events.k8s.io/v1/namespaces/<ns>/events with an events.k8s.io/v1
 * Event named "<regarding name>.<hex now_ns>" (the name part shortened if the
 * whole would pass 253 characters), eventTime now_ns as MicroTime
 * ("2026-12-01T07:35:53.123456Z"), reportingController "ird.io/ird", and none of
 * firstTimestamp, lastTimestamp, count, source (the API refuses them). */
int ird_k8s_event_create(const struct ird_k8s_event *e, struct ird_k8s_request *ret,
                         struct ird_err *err);

/* ---- shared by requests.c and req_*.c; not for callers ------------------------------------- */

/* Append "/" + the percent-encoded segment; -EINVAL for NULL, "", ".", "..". */
int ird_k8s_req_segment(struct ird_buf *b, const char *seg, const char *what, struct ird_err *err);
/* Append "?key=" or "&key=" + the percent-encoded value. */
int ird_k8s_req_query(struct ird_buf *b, const char *key, const char *value);
/* Append the object path of kind/ns/name (name NULL: the collection). */
int ird_k8s_req_object_path(struct ird_buf *b, const struct ird_k8s_kind *kind, const char *ns,
                            const char *name, struct ird_err *err);
/* Fill ret from the parts; takes the path buffer and body (freed on failure).
 * -ENOTSUP when (verb, group, resource) has no row in the table. */
int ird_k8s_req_finish(struct ird_k8s_request *ret, const char *method, struct ird_buf *path,
                       const char *content_type, cJSON *body, const char *verb, const char *group,
                       const char *resource, struct ird_err *err);
/* ird_k8s_pod_secret_names() for a pod spec (also a workload's template spec). */
cJSON *ird_k8s_req_podspec_secret_names(const cJSON *spec);
/* Whether s[0..len) is a DNS-1123 subdomain (<= 253, dot-separated labels of
 * [a-z0-9]([-a-z0-9]*[a-z0-9])?). */
bool ird_k8s_req_subdomain_valid(const char *s, size_t len);
/* The string member name of obj, or NULL. */
const char *ird_k8s_req_str(const cJSON *obj, const char *name);
/* Format ms since the epoch as RFC 3339 UTC with seconds ("2026-12-01T07:35:53Z")
 * into out (>= 21 bytes). */
void ird_k8s_req_time_seconds(int64_t ms, char *out, size_t outlen);

#endif
