/* The connector interface: how the engine calls the outside world.
 *
 * Glossary
 *   connector type   a struct ird_connector_ops (k8s, slack, test...): a name,
 *                    the keys its instances take, and a table of actions.
 *   instance         one configured endpoint of a type, from
 *                    `connectors = { <type> = { <name> = { ... }; }; };`,
 *                    addressed as "<type>.<name>" (k8s.default, slack.secops).
 *   action           "<type>.<verb>" (k8s.isolate_pod): a row with its
 *                    parameter table, whether it mutates, and a start function.
 *   call             one attempt of one action for one step. The engine owns
 *                    retries, backoff and timeouts: a connector answers OK,
 *                    RETRY (with an optional delay) or FAIL, exactly once.
 *
 * Contract of start(): returns 0 and later calls call->done exactly once (on
 * the loop, possibly before start returns is NOT allowed: use the loop), or
 * returns a negative errno and never calls done. cancel() asks a call in
 * flight to stop: the connector still calls done (with FAIL or its result).
 * In dry-run (call->dry_run) a mutating action performs its reads, and
 * records the calls it would make with ird_call_plan() instead of making them.
 * Before any mutation a connector calls call->guard (when set) with what it
 * is about to touch; a refusal fails the call with the guard's reason.
 *
 * To add a connector: write connectors/<name>/<name>.c with one
 * `const struct ird_connector_ops ird_connector_<name>`, and add it to the
 * table in connectors/registry.c. To add an action: a row in its actions
 * table plus a start function; `ird check` and the docs read the same table. */
#ifndef IRD_CONNECTORS_CONNECTOR_H
#define IRD_CONNECTORS_CONNECTOR_H

#include <cjson/cJSON.h>
#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/err.h"

enum ird_param_type {
    IRD_PARAM_STRING,
    IRD_PARAM_INT,
    IRD_PARAM_BOOL,
    IRD_PARAM_DURATION, /* "30s"; delivered to the action as milliseconds (int) */
    IRD_PARAM_STRING_LIST,
    IRD_PARAM_NAMESPACE, /* a string checked as a Kubernetes namespace name */
    IRD_PARAM_K8S_NAME,  /* a string checked as a Kubernetes object name */
    IRD_PARAM_OBJECT,    /* a group of string values (labels, annotations) */
};

struct ird_param_spec {
    const char *name;
    enum ird_param_type type;
    bool required;
    const char *default_value; /* as text; NULL for none */
    const char *description;
};

enum ird_action_status { IRD_ACTION_OK, IRD_ACTION_RETRY, IRD_ACTION_FAIL };

struct ird_action_call;

typedef void (*ird_action_done_cb)(struct ird_action_call *call, enum ird_action_status status,
                                   cJSON *result /* owned by the callee; may be NULL */,
                                   const char *error /* readable, no secrets; NULL on OK */,
                                   int64_t retry_after_ms /* RETRY: wait at least this; -1 none */);

/* What a connector is about to mutate, for the guards. */
struct ird_guard_target {
    const char *kind;       /* "Pod", "NetworkPolicy", "Node", ... */
    const char *namespace_; /* "" for cluster-scoped */
    const char *name;
    const cJSON *labels; /* the object's current labels, when known */
};

/* Returns 0 to allow, or -EPERM with the reason in err. */
typedef int (*ird_guard_fn)(struct ird_action_call *call, const struct ird_guard_target *target,
                            struct ird_err *err);

struct ird_action_spec;

/* One action invocation. Owned by the engine; valid until done returns. */
struct ird_action_call {
    const struct ird_action_spec *action;
    void *instance; /* the connector instance */
    uv_loop_t *loop;
    cJSON *params;           /* expanded, type-checked parameters (engine-owned) */
    const char *incident_id; /* "" for a manual run without incident */
    const char *run_id;
    const char *step_name;
    bool dry_run;
    unsigned attempt;   /* 1 for the first */
    cJSON *planned;     /* array: ird_call_plan() appends here */
    ird_guard_fn guard; /* may be NULL */
    ird_action_done_cb done;
    void *engine_data;    /* the engine's, untouched by connectors */
    void *connector_data; /* the connector's, for the call's duration */
};

struct ird_action_spec {
    const char *name; /* verb: "isolate_pod" */
    const char *description;
    bool mutates;
    const struct ird_param_spec *params;
    size_t nparams;
    int (*start)(struct ird_action_call *call);
    void (*cancel)(struct ird_action_call *call); /* may be NULL */
};

struct ird_connector_ops {
    const char *name; /* "k8s" */
    const char *description;
    /* Build an instance from its config group (NULL when the config has
     * none). state_dir is the daemon's (evidence and other files live under
     * it). Errors name file:line. */
    int (*instance_new)(uv_loop_t *loop, const char *name, const config_setting_t *cfg,
                        const char *state_dir, void **ret_instance, struct ird_err *err);
    /* Free an instance with no call in flight. Closing may finish on later
     * loop turns: keep the loop running until it has no handles. May be NULL. */
    void (*instance_free)(void *instance);
    const struct ird_action_spec *actions;
    size_t nactions;
    /* Whether the instance can do its job now (for /readyz): 0, or a negative
     * errno with the reason. May be NULL (always healthy). */
    int (*health)(void *instance, int64_t now_ms, struct ird_err *err);
};

/* The table of connector types (connectors/registry.c). */
extern const struct ird_connector_ops *const ird_connectors[];
extern const size_t ird_nconnectors;

const struct ird_connector_ops *ird_connector_find(const char *type);
/* "k8s.isolate_pod" -> its type and action, or NULL. */
const struct ird_action_spec *ird_action_find(const char *qualified,
                                              const struct ird_connector_ops **ret_type);
const struct ird_param_spec *ird_action_param(const struct ird_action_spec *a, const char *name);

/* Record a planned call (dry-run, or the audit of a real one): method, path
 * and a body the caller already redacted (may be NULL). */
void ird_call_plan(struct ird_action_call *call, const char *method, const char *path,
                   const cJSON *body);

#endif
