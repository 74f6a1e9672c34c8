/* The guards: what automation may touch. One struct ird_guards, built from
 * the `guards` group of ird.conf, is asked before every mutating call
 * (automatic or manual) and either allows and records it, or refuses it with
 * the guard's name and a reason a person can act on. Pure: no I/O, no
 * logging, no loop; time is passed in (now_ms) so tests and the tabletop's
 * simulated clock drive it.
 *
 * Glossary
 *   target        what one call mutates: (kind, namespace, name), from the
 *                 connector (struct ird_guard_target in connectors/connector.h)
 *   mutation      one allowed mutating call; recorded by ird_guards_check()
 *   blast radius  how many distinct targets automation has mutated: per
 *                 incident, and across all incidents in a sliding hour
 *
 * The guards, in the order they are checked (the first refusal wins, and a
 * refused call records nothing):
 *   protected_namespace       the target is in a protected namespace, or is
 *                             the Namespace object of one
 *   protected_label           the target's labels carry <protected_label>=true
 *                             (the value compared without regard to case)
 *   max_targets_per_incident  the incident has already touched that many other
 *                             distinct targets (a playbook may lower the limit)
 *   max_targets_per_hour      that many other distinct targets were mutated in
 *                             the last hour, by any incident
 *   max_mutations_per_minute  token bucket over all mutating calls: capacity
 *                             = the rate, refilled continuously (exact integer
 *                             math in ms, so simulated time never drifts)
 * A target the same incident already touched never counts again against the
 * incident, and a target already mutated within the hour never counts again
 * against the hour (so re-issuing a step after a restart, once the store has
 * re-seeded the memory with ird_guards_remember(), is not blocked by its own
 * earlier attempt). Each call still takes a token.
 *
 * Memory is bounded: hour entries expire an hour after their last mutation,
 * the rate memory holds at most 2 x rate + 1 timestamps, per-incident sets go
 * with ird_guards_forget_incident() (call it when an incident is resolved) and
 * at most IRD_GUARDS_MAX_INCIDENTS incidents are remembered (past that the one
 * idle longest is forgotten). A call without an incident (incident_id NULL or
 * "") is held to every guard but max_targets_per_incident; the engine passes
 * a manual run's id instead, so such a run is limited as its own incident.
 *
 * To add a guard: a row in the key table in guard.c (its config key), a row
 * in ird_guard_names, and its test in ird_guards_check(). */
#ifndef IRD_ENGINE_GUARD_H
#define IRD_ENGINE_GUARD_H

#include <stddef.h>
#include <stdint.h>

#include <libconfig.h>

#include "core/err.h"

struct ird_guard_target; /* connectors/connector.h */
struct ird_guards;

#define IRD_GUARDS_MAX_INCIDENTS 10000

/* The guard names ret_guard points at (static strings). */
enum ird_guard_id {
    IRD_GUARD_PROTECTED_NAMESPACE,
    IRD_GUARD_PROTECTED_LABEL,
    IRD_GUARD_MAX_TARGETS_PER_INCIDENT,
    IRD_GUARD_MAX_TARGETS_PER_HOUR,
    IRD_GUARD_MAX_MUTATIONS_PER_MINUTE,
    IRD_GUARD_COUNT
};
extern const char *const ird_guard_names[IRD_GUARD_COUNT];

/* The keys of the `guards` group, for `ird check`, --help and the docs:
 * ird_guards_key(i) for i < ird_guards_nkeys(), NULL past the end. Static. */
struct ird_guards_key {
    const char *name;          /* "max_mutations_per_minute" */
    const char *type;          /* "int", "string", "list of strings" */
    const char *default_value; /* as written in ird.conf */
    const char *description;
    int64_t min, max; /* ints only; 0 otherwise */
};
size_t ird_guards_nkeys(void);
const struct ird_guards_key *ird_guards_key(size_t i);

/* Build the guards from the `guards` group (NULL: every default; a
 * protected_namespaces list replaces the default one). The setting may be
 * destroyed afterwards. Returns the guards (free with ird_guards_free()), or
 * NULL with err set: "out of memory", or the first problem, naming file,
 * line and key, e.g.
 *   etc/ird.conf:12: guards.max_targets_per_hour: must be an integer between 1 and 10000
 *   line 3: guards.colour: unknown key (known: protected_namespaces, ...)
 * ("line N: ..." when the config was read from a string). */
struct ird_guards *ird_guards_new(const config_setting_t *setting, struct ird_err *err);

/* No-op on NULL. */
void ird_guards_free(struct ird_guards *g);

/* Protect one more namespace (ird's own). Returns 0 (also when it already
 * was), -EINVAL when ns is not a valid namespace name, or -ENOMEM. */
int ird_guards_protect_namespace(struct ird_guards *g, const char *ns);

/* Check one mutation of t for incident_id (NULL or "" for none) at now_ms
 * and, when every guard allows it, record it. playbook_max_targets > 0 lowers
 * max_targets_per_incident for this call (it never raises it); 0 or less
 * means no override. t->namespace_ NULL reads as "" (cluster-scoped), t->labels
 * may be NULL (unknown). Returns
 *   0        allowed and recorded; *ret_guard = NULL
 *   -EPERM   refused; *ret_guard = the guard's name (ird_guard_names) and err
 *            says why, e.g.
 *              guard protected_namespace: namespace kube-system is protected
 *              guard protected_label: Pod prod/web-1 is labelled ird.io/protected=true
 *              guard max_targets_per_incident: incident inc-1 has already touched 5 targets (limit
 * 5) guard max_targets_per_hour: 20 distinct targets mutated in the last hour (limit 20) guard
 * max_mutations_per_minute: 30 mutating actions in the last minute (limit 30) (names that are not
 * plain Kubernetes names are shown quoted) -EINVAL  t, t->kind or t->name missing; -ENOMEM. Nothing
 * recorded, and the call must not proceed; *ret_guard = NULL. ret_guard may be NULL. */
int ird_guards_check(struct ird_guards *g, const char *incident_id,
                     const struct ird_guard_target *t, int64_t now_ms, int playbook_max_targets,
                     const char **ret_guard, struct ird_err *err);

/* Only the protected_namespace guard, for the engine before a step starts
 * (it knows the target namespace before the connector reads the object).
 * Returns 0 (ns NULL or "" is allowed), or -EPERM with *ret_guard and err as
 * ird_guards_check(). Records nothing. */
int ird_guards_check_namespace(const struct ird_guards *g, const char *ns, const char **ret_guard,
                               struct ird_err *err);

/* Re-seed the memory after a restart with a mutation the store says was
 * made at at_ms: the incident's target set (limits do not apply: it is a
 * fact), the hour window and, when at_ms is within the last minute of what
 * the guards have seen, the rate memory. Returns 0, -EINVAL (t, kind or name
 * missing) or -ENOMEM. */
int ird_guards_remember(struct ird_guards *g, const char *incident_id,
                        const struct ird_guard_target *t, int64_t at_ms);

/* Drop everything remembered for one incident (it is resolved). The hour
 * window keeps its targets. No-op for an unknown incident. */
void ird_guards_forget_incident(struct ird_guards *g, const char *incident_id);

/* Current settings. The pointers stay valid until the next
 * ird_guards_protect_namespace() or ird_guards_free(). */
struct ird_guards_settings {
    const char *const *protected_namespaces; /* config ones first, then added ones */
    size_t nprotected_namespaces;
    const char *protected_label;
    int max_mutations_per_minute;
    int max_targets_per_incident;
    int max_targets_per_hour;
};
void ird_guards_get_settings(const struct ird_guards *g, struct ird_guards_settings *ret);

/* What the guards hold at now_ms, for metrics. Does not change the memory. */
struct ird_guards_stats {
    unsigned mutations_last_minute;
    unsigned tokens_available; /* whole mutations the bucket would allow now */
    unsigned targets_last_hour;
    unsigned incidents_tracked;
};
void ird_guards_get_stats(const struct ird_guards *g, int64_t now_ms, struct ird_guards_stats *ret);

#endif
