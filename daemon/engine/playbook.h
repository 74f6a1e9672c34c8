/* Playbooks: the loader that reads every playbooks/<name>.conf into a set,
 * validates it completely (the messages `ird check` prints), and the helpers
 * the engine uses on a loaded playbook: matching an alert, expanding the
 * target, expanding a step's `with` into typed action parameters.
 *
 * Glossary
 *   set        every playbook of a directory, kept in run order.
 *   run order  priority descending, then file name ascending (files are read
 *              in file-name order, strcmp). For one alert the engine walks the
 *              set in this order; a matching playbook with `stop = true` ends
 *              the walk (later playbooks are not started for that alert).
 *   step       one action call: name, action, instance, `with`, timeout
 *              (default 30s), retries (0..20, default 0), on_failure
 *              (abort | continue | escalate, default abort), when.
 *   on_resolve steps run when the incident resolves; their names may be
 *              omitted and then read "on_resolve[<i>]". Step names are unique
 *              across steps and on_resolve together.
 *
 * The file, key by key (unknown keys anywhere are errors):
 *   name        required; [a-z0-9_-], at most 63 characters; unique in the set
 *   description text
 *   match       see engine/match.h; not allowed in manual playbooks (they are
 *               only started by a trigger, so ird_playbook_matches() is false)
 *   target      { key = "template"; ... }; read by ${target.<key>}
 *   mode        "auto" (default) | "approve" | "manual"
 *   escalation  the name of a policy the caller lists in the context
 *   approval_timeout ("15m" default), on_approval_timeout ("escalate" default |
 *               "abort"): only with mode = "approve"
 *   cooldown    duration, default 0: the engine does not start the playbook
 *               automatically on the same target (the expanded target) within it
 *   stop        bool, default false (see run order)
 *   priority    int, default 0
 *   dry_run     bool, default false
 *   params      manual playbooks only: ( { name = "pod"; required = true;
 *               description = "..."; default = "..."; }, ... ); names
 *               [a-z0-9_], unique
 *   guards      { max_targets = N; } (N >= 1): overrides of ird.conf's guards
 *   steps       required, at least one; on_resolve optional
 *
 * Step `with`: every key must be a parameter of the action; required
 * parameters must be given unless the spec has a default, except that an
 * action declaring `namespace` or `pod` gets ${target.namespace} /
 * ${target.pod} when the step does not set them and the target has that key.
 * Values: a string is a template; an int or bool literal is allowed for INT
 * and BOOL parameters, a list of strings for STRING_LIST (each a template), a
 * group of strings for OBJECT. Literal text (a template without variables) is
 * converted and checked at load time, so `tail_lines = "many"` or
 * `pod = "../x"` is a load error. Variables must be able to exist:
 * ${steps.X...} only for an earlier step X, ${param.k} only in a manual
 * playbook declaring k, ${target.k} only for a key of the target (and never
 * inside the target itself).
 *
 * Messages are "file:line: <path>: <message>" with file as dir/<name>.conf,
 * e.g. "playbooks/x.conf:12: steps[2].with.tail_line: unknown parameter of
 * k8s.capture_logs (known: tail_lines, previous)". */
#ifndef IRD_ENGINE_PLAYBOOK_H
#define IRD_ENGINE_PLAYBOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "config/config.h"
#include "connector.h"
#include "core/err.h"
#include "engine/cond.h"
#include "engine/match.h"
#include "engine/template.h"

/* Longest expansion of one parameter value, in bytes. */
#define IRD_PLAYBOOK_VALUE_MAX 65536

enum ird_playbook_mode { IRD_PLAYBOOK_AUTO, IRD_PLAYBOOK_APPROVE, IRD_PLAYBOOK_MANUAL };
enum ird_on_failure { IRD_ON_FAILURE_ABORT, IRD_ON_FAILURE_CONTINUE, IRD_ON_FAILURE_ESCALATE };
enum ird_on_approval_timeout { IRD_APPROVAL_TIMEOUT_ESCALATE, IRD_APPROVAL_TIMEOUT_ABORT };

/* A parameter a manual playbook declares. */
struct ird_playbook_param {
    char *name;
    bool required;
    char *description;   /* "" when not given */
    char *default_value; /* NULL when not given */
};

struct ird_playbook_target {
    char *key;
    struct ird_template *value;
};

/* A step's parsed `with`: opaque, expanded by ird_playbook_step_params(). */
struct ird_step_args;

struct ird_step {
    char *name;   /* given, or "on_resolve[<i>]" */
    char *action; /* qualified: "test.succeed" */
    const struct ird_connector_ops *type;
    const struct ird_action_spec *spec;
    char *instance; /* "default" when not given */
    struct ird_step_args *with;
    int64_t timeout_ms;
    int retries;
    enum ird_on_failure on_failure;
    struct ird_cond *when; /* NULL when absent */
    int line;              /* of the step's group in the file */
};

struct ird_playbook {
    char *name;
    char *description; /* "" when not given */
    char *file;        /* dir/<name>.conf as shown in messages */
    struct ird_match *match;
    struct ird_playbook_target *target;
    size_t ntarget;
    enum ird_playbook_mode mode;
    char *escalation; /* NULL when none */
    int64_t approval_timeout_ms;
    enum ird_on_approval_timeout on_approval_timeout;
    int64_t cooldown_ms;
    bool stop;
    int priority;
    bool dry_run;
    struct ird_playbook_param *params;
    size_t nparams;
    int64_t guard_max_targets; /* -1 when not overridden */
    struct ird_step *steps;
    size_t nsteps;
    struct ird_step *on_resolve;
    size_t non_resolve;
};

/* A configured connector instance, "<type>.<name>". */
struct ird_playbook_instance {
    const char *type;
    const char *name;
};

/* What the loader checks names against; the caller keeps it alive during
 * ird_playbooks_load() only. NULL means both lists are empty. A step's
 * instance must be listed for the action's type, or be "default" (always
 * accepted: connectors without settings, such as test, need no entry). */
struct ird_playbook_context {
    const char *const *policies; /* escalation policy names */
    size_t npolicies;
    const struct ird_playbook_instance *instances;
    size_t ninstances;
};

struct ird_playbook_set;

/* Load every regular file *.conf in dir (hidden files skipped), in file-name
 * order, collecting every problem into diags. Returns 0 and *ret (free with
 * ird_playbook_set_free()) when there is none; otherwise -EINVAL (-ENOMEM when
 * memory ran out) and *ret untouched. A missing or unreadable directory is an
 * error (one diag); an empty directory gives an empty set. */
int ird_playbooks_load(const char *dir, const struct ird_playbook_context *ctx,
                       struct ird_playbook_set **ret, struct ird_diags *diags);

/* No-op on NULL. Frees every playbook of the set. */
void ird_playbook_set_free(struct ird_playbook_set *s);

/* Iteration in run order: i from 0 to count-1. */
size_t ird_playbook_set_count(const struct ird_playbook_set *s);
const struct ird_playbook *ird_playbook_set_at(const struct ird_playbook_set *s, size_t i);

/* By name, or NULL. The playbook is owned by the set. */
const struct ird_playbook *ird_playbook_find(const struct ird_playbook_set *s, const char *name);

/* A step of pb (steps, then on_resolve) by name, or NULL. */
const struct ird_step *ird_playbook_step_find(const struct ird_playbook *pb, const char *name);

/* Whether alert starts pb: ird_match_alert() on its match group; always false
 * for a manual playbook. */
bool ird_playbook_matches(const struct ird_playbook *pb, const cJSON *alert);

/* Does any template or condition of the playbook read ${alert.<field>...}
 * (field: "raw", "labels", "pod", ...)? A run keeps only the alert fields its
 * playbook reads; the whole alert stays in the incident. */
bool ird_playbook_reads_alert(const struct ird_playbook *pb, const char *field);

/* Expand pb's target against ctx (see template.h; "target" itself is not
 * read) into a new object of strings in *ret (caller frees). Returns 0, or a
 * negative errno with "target.<key>: <reason>" in err; *ret untouched. */
int ird_playbook_target_expand(const struct ird_playbook *pb, const cJSON *ctx, cJSON **ret,
                               struct ird_err *err);

/* Check the parameters of a manual trigger (an object of strings, numbers or
 * bools; NULL for none) against pb's declared params: unknown names and
 * missing required ones are errors, defaults are applied, values become
 * strings. Returns 0 and a new object in *ret (caller frees), or -EINVAL with
 * a reason in err; *ret untouched. */
int ird_playbook_trigger_params(const struct ird_playbook *pb, const cJSON *given, cJSON **ret,
                                struct ird_err *err);

/* Expand step's `with` against the run's template context into the action's
 * parameters: every given value expanded, spec defaults applied, then each
 * value converted to its spec type (INT and DURATION become numbers, the
 * latter in ms; BOOL true/false; STRING_LIST a list of strings — a single
 * string becomes a one-element list; OBJECT an object of strings) and names
 * checked with ird_k8s_check_name() (NAMESPACE as a namespace; K8S_NAME by the
 * parameter's name: pod, node, secret, container, else object name).
 * On success returns 0, *ret_params is the new object (caller frees) and, when
 * ret_redacted is not NULL, *ret_redacted a copy for storage and audit in
 * which secret parameters read "[redacted]". Secret parameters, since a
 * param spec cannot say so: STRING parameters whose name is, or ends in,
 * token, password, secret, api_key, routing_key, hmac_key or webhook_url.
 * On failure a negative errno with "parameter <name>: <reason>" in err (the
 * reason names the variable that is not set, or the rule a value broke, with
 * the value safely quoted); nothing is returned, no partial object. */
int ird_playbook_step_params(const struct ird_step *step, const cJSON *ctx, cJSON **ret_params,
                             cJSON **ret_redacted, struct ird_err *err);

/* Whether a call of step with these (expanded) params mutates: the action
 * spec's mutates flag, or — for an action that declares a BOOL parameter named
 * "mutates" (the test connector does) — that parameter's value (its default
 * when params is NULL or lacks it). The engine uses it for approvals, guards
 * and dry-run. */
bool ird_playbook_step_mutates(const struct ird_step *step, const cJSON *params);

/* Whether a parameter spec is treated as secret (see ird_playbook_step_params). */
bool ird_playbook_param_is_secret(const struct ird_param_spec *spec);

#endif
