/* The run engine: starts playbook runs for incidents (and by hand), drives
 * each run's steps as an asynchronous state machine on the loop, and keeps
 * every transition in the store so a restarted daemon finishes what it began.
 *
 * Glossary
 *   run     one execution of a playbook's steps (phase "main") or of its
 *           on_resolve steps (phase "resolve"), for an incident or by hand.
 *   states  running, waiting_approval (approve mode: a mutating step waits
 *           for a responder), blocked (a guard refused a step: waits for an
 *           admin's forced approval or a cancel), then one of succeeded,
 *           failed, cancelled.
 *   step    states pending, running, succeeded, failed, skipped (`when` was
 *           false), waiting_approval, blocked, cancelled.
 *
 * Persistence order, which is what makes restarts safe: a run is stored
 * before its first step; a step's start is written as its action is called
 * (not waited for: a crash loses at most that row), and a step is stored as
 * finished, with runs.next_step moved on, before the next step begins. After
 * a crash, finished steps are not repeated and the step that was running is
 * issued again (actions are idempotent). Retries, backoff (capped full jitter) and timeouts are the
 * engine's; connectors only answer OK, RETRY or FAIL. */
#ifndef IRD_ENGINE_ENGINE_H
#define IRD_ENGINE_ENGINE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "config/config.h"
#include "core/err.h"
#include "engine/guard.h"
#include "engine/playbook.h"
#include "intake/intake.h"
#include "store/store.h"

struct ird_engine;

struct ird_engine_opts {
    bool dry_run;          /* the daemon's: every run is dry */
    int64_t retry_base_ms; /* first backoff ceiling */
    int64_t retry_cap_ms;  /* largest backoff */
    int64_t max_runs;      /* runs in flight; beyond, new runs fail at once */
};

struct ird_engine *ird_engine_new(uv_loop_t *loop, struct ird_store *store);
/* Take a new playbook set and guards (ownership passes to the engine; runs
 * in flight keep the set they started with). opts are copied. */
int ird_engine_configure(struct ird_engine *e, struct ird_playbook_set *set,
                         struct ird_guards *guards, const struct ird_engine_opts *opts);
/* Build the connector instances c defines (connectors.<type>.<name>, and a
 * "default" of every type). Once, at start: connectors change on restart. */
int ird_engine_connect(struct ird_engine *e, const struct ird_config *c, struct ird_err *err);
/* Validate connectors.* by building and freeing every instance (ird check). */
void ird_connectors_check(const struct ird_config *c, struct ird_diags *diags);
/* The instance names playbooks may use, for the loader; returns the count. */
size_t ird_connectors_names(const struct ird_config *c, struct ird_playbook_instance *out,
                            size_t max);
/* Pick up runs a previous process left unfinished. Call once, after
 * configure, before alerts arrive. */
int ird_engine_resume(struct ird_engine *e, struct ird_err *err);
/* The intake listener: match playbooks on new and changed incidents. */
void ird_engine_on_incident(enum ird_intake_event event, const char *incident_id,
                            const cJSON *alert, void *engine);

typedef void (*ird_engine_done_cb)(int status, const char *run_id, const char *error, void *data);

/* Run a playbook by hand. params: the trigger's parameters (object, may be
 * NULL); incident_id may be NULL; dry_run forces dry-run for this run. On 0,
 * done is called once the run is stored (status 0, its id) or failed. Errors
 * before that return -ENOENT (no such playbook or incident), -EINVAL (bad
 * parameters: reason in err), -EBUSY (too many runs). */
int ird_engine_trigger(struct ird_engine *e, const char *playbook, const cJSON *params,
                       const char *incident_id, bool dry_run, const char *actor,
                       ird_engine_done_cb done, void *data, struct ird_err *err);
/* Approve the step a run waits on (step NULL: whichever it is). force lets a
 * step a guard blocked go ahead (admins only: the caller checks the role).
 * -ENOENT no such run in memory, -EALREADY not waiting, -EINVAL wrong step. */
int ird_engine_approve(struct ird_engine *e, const char *run_id, const char *step, bool force,
                       const char *actor, struct ird_err *err);
/* Cancel a run between steps (a step in flight finishes first). */
int ird_engine_cancel(struct ird_engine *e, const char *run_id, const char *actor,
                      struct ird_err *err);
size_t ird_engine_runs_in_flight(const struct ird_engine *e);
/* 0 when every connector instance can work (the API servers it talks to
 * are reachable), else the first problem (for /readyz). */
int ird_engine_health(const struct ird_engine *e, struct ird_err *err);
/* The playbooks new runs use (NULL before configure). */
const struct ird_playbook_set *ird_engine_playbooks(const struct ird_engine *e);
/* Stop starting work; close timers. close_cb runs when the engine holds no
 * handle; runs not finished stay in the store for the next start. */
void ird_engine_close(struct ird_engine *e, void (*close_cb)(void *), void *data);
void ird_engine_free(struct ird_engine *e);

#endif
