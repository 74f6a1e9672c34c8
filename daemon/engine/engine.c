/* Runs: creation on match or trigger, the step state machine (when, params,
 * guards, approvals, the call, timeout, retries with backoff, on_failure),
 * persistence of every transition, resume after a restart, approve/cancel. */
#include "engine/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/metrics.h"
#include "core/clock.h"
#include "core/log.h"
#include "store/sqlq.h"

enum run_state { RUN_RUNNING, RUN_WAITING, RUN_BLOCKED, RUN_SUCCEEDED, RUN_FAILED, RUN_CANCELLED };
static const char *const run_state_names[] = {"running",   "waiting_approval", "blocked",
                                              "succeeded", "failed",           "cancelled"};

/* A playbook set shared by the runs that started under it. */
struct set_ref {
    struct ird_playbook_set *set;
    int refs;
};

struct instance {
    const struct ird_connector_ops *type;
    char *name;
    void *handle;
};

struct run {
    struct ird_engine *e;
    struct run *prev_run, *next_run;
    char *id;
    struct set_ref *set;
    const struct ird_playbook *pb;
    const struct ird_step *steps;
    size_t nsteps;
    char *incident_id; /* NULL for a manual run without incident */
    bool resolve_phase;
    bool dry_run;
    char *triggered_by;
    cJSON *ctx; /* alert, incident, target, param, steps */
    size_t next;
    enum run_state state;
    /* The current step. */
    struct ird_action_call call;
    bool call_active;
    bool timed_out;
    unsigned attempt;
    cJSON *params, *redacted;
    char *approved_by, *forced_by;
    int64_t step_started_ms;
    uint64_t call_started_ns;
    uv_timer_t timer; /* timeout, backoff, approval timeout */
    bool timer_closed;
    bool cancel_requested;
    int writes;         /* store jobs for this run still in flight */
    bool releasing;     /* to be freed once no write or call is in flight */
    char *guard_reason; /* a guard refused the current call */
};

struct ird_engine {
    uv_loop_t *loop;
    struct ird_store *store;
    struct set_ref *set;
    struct ird_guards *guards;
    struct ird_engine_opts opts;
    struct instance *instances;
    size_t ninstances;
    struct run *runs;
    size_t nruns;
    int64_t next_run_seq;
    uint64_t rng;
    bool closing;
    void (*close_cb)(void *);
    void *close_data;
};

static void run_next(struct run *r);
static void instances_free(struct ird_engine *e);
static void step_park(struct run *r, enum run_state state, const char *why, bool announce);
static void run_finish(struct run *r, enum run_state state, const char *error);
static void step_dispatch(struct run *r);

/* ---- small helpers ---------------------------------------------------------------- */

static void set_unref(struct set_ref *s)
{
    if (s && --s->refs == 0) {
        ird_playbook_set_free(s->set);
        free(s);
    }
}

static uint64_t next_random(struct ird_engine *e)
{
    /* xorshift64*: backoff jitter needs spread, not secrecy. */
    e->rng ^= e->rng >> 12;
    e->rng ^= e->rng << 25;
    e->rng ^= e->rng >> 27;
    return e->rng * 2685821657736338717ULL;
}

/* Capped full jitter: uniform in [0, min(cap, base * 2^(attempt-1))]. */
static int64_t backoff_ms(struct ird_engine *e, unsigned attempt)
{
    int64_t ceiling = e->opts.retry_base_ms;
    for (unsigned i = 1; i < attempt && ceiling < e->opts.retry_cap_ms; i++)
        ceiling *= 2;
    if (ceiling > e->opts.retry_cap_ms)
        ceiling = e->opts.retry_cap_ms;
    return ceiling > 0 ? (int64_t)(next_random(e) % (uint64_t)(ceiling + 1)) : 0;
}

/* "300ms", "45s", "15m": a duration as a person wrote it. */
static void format_duration(int64_t ms, char *out, size_t len)
{
    if (ms % 60000 == 0 && ms >= 60000)
        snprintf(out, len, "%lldm", (long long)(ms / 60000));
    else if (ms % 1000 == 0 && ms >= 1000)
        snprintf(out, len, "%llds", (long long)(ms / 1000));
    else
        snprintf(out, len, "%lldms", (long long)ms);
}

static void labels_for(char *out, size_t len, const char *key, const char *v, const char *key2,
                       const char *v2)
{
    snprintf(out, len, "%s=\"%s\",%s=\"%s\"", key, v, key2, v2);
}

static void count_run(const struct run *r, const char *outcome)
{
    char labels[300];
    labels_for(labels, sizeof(labels), "playbook", r->pb->name, "outcome", outcome);
    ird_metrics_add("ird_runs_total", labels, 1);
}

static const struct ird_step *cur_step(const struct run *r)
{
    return r->next < r->nsteps ? &r->steps[r->next] : NULL;
}

static const char *phase_name(const struct run *r)
{
    return r->resolve_phase ? "resolve" : "main";
}

static void timeline(struct ird_sqlq *q, const struct run *r, int64_t now, const char *kind,
                     cJSON *detail /* consumed */)
{
    if (r->incident_id)
        ird_sqlq_add(q,
                     "INSERT INTO timeline(incident_id, at, kind, detail) VALUES (?1, ?2, ?3, ?4)",
                     "sisj", r->incident_id, now, kind, detail);
    cJSON_Delete(detail);
}

static cJSON *brief(const struct run *r)
{
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "run", r->id);
    cJSON_AddStringToObject(d, "playbook", r->pb->name);
    cJSON_AddStringToObject(d, "phase", phase_name(r));
    cJSON_AddBoolToObject(d, "dry_run", r->dry_run);
    return d;
}

static void run_free(struct run *r)
{
    struct ird_engine *e = r->e;
    if (r->prev_run)
        r->prev_run->next_run = r->next_run;
    else if (e->runs == r)
        e->runs = r->next_run;
    if (r->next_run)
        r->next_run->prev_run = r->prev_run;
    e->nruns--;
    set_unref(r->set);
    cJSON_Delete(r->ctx);
    cJSON_Delete(r->params);
    cJSON_Delete(r->redacted);
    cJSON_Delete(r->call.planned);
    free(r->id);
    free(r->incident_id);
    free(r->triggered_by);
    free(r->approved_by);
    free(r->forced_by);
    free(r->guard_reason);
    free(r);
    if (e->closing && e->nruns == 0) {
        /* No call in flight: instances may close (their handles finish
         * closing on the loop, which is still running). */
        instances_free(e);
        if (e->close_cb) {
            void (*cb)(void *) = e->close_cb;
            e->close_cb = NULL;
            cb(e->close_data);
        }
    }
}

static void on_run_timer_closed(uv_handle_t *h)
{
    run_free(h->data);
}

/* Forget the run in memory (its store rows say where it is). A write or a
 * call still in flight holds it: the last of them to come back frees it. */
static void run_release(struct run *r)
{
    r->releasing = true;
    uv_timer_stop(&r->timer);
    if (r->writes > 0 || r->call_active)
        return;
    if (!uv_is_closing((uv_handle_t *)&r->timer))
        uv_close((uv_handle_t *)&r->timer, on_run_timer_closed);
}

static struct run *run_new(struct ird_engine *e, const struct ird_playbook *pb, bool resolve)
{
    struct run *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->e = e;
    r->set = e->set;
    e->set->refs++;
    r->pb = pb;
    r->resolve_phase = resolve;
    r->steps = resolve ? pb->on_resolve : pb->steps;
    r->nsteps = resolve ? pb->non_resolve : pb->nsteps;
    uv_timer_init(e->loop, &r->timer);
    r->timer.data = r;
    r->next_run = e->runs;
    if (e->runs)
        e->runs->prev_run = r;
    e->runs = r;
    e->nruns++;
    return r;
}

static struct run *run_find(struct ird_engine *e, const char *id)
{
    for (struct run *r = e->runs; r; r = r->next_run)
        if (r->id && !r->releasing && strcmp(r->id, id) == 0)
            return r;
    return NULL;
}

/* ---- persistence -------------------------------------------------------------------- */

static void persisted(int status, const struct ird_sqlq *q, void *data);

/* Submit q for r; when committed, continue with then(r). */
struct persist_ctx {
    struct run *r;
    void (*then)(struct run *r);
};

static void persist(struct run *r, struct ird_sqlq *q, void (*then)(struct run *r))
{
    struct persist_ctx *p = malloc(sizeof(*p));
    if (!p) {
        ird_sqlq_free(q);
        run_release(r);
        return;
    }
    p->r = r;
    p->then = then;
    r->writes++;
    if (ird_sqlq_submit(r->e->store, q, persisted, p)) {
        /* Only while closing: the run stays as the store has it. */
        free(p);
        r->writes--;
        run_release(r);
    }
}

static void persisted(int status, const struct ird_sqlq *q, void *data)
{
    (void)q;
    struct persist_ctx *p = data;
    struct run *r = p->r;
    void (*then)(struct run *) = p->then;
    free(p);
    r->writes--;
    if (r->releasing) {
        run_release(r);
        return;
    }
    if (status) {
        /* The store failed: stop here; the rows say where the run was, and the
         * next start resumes it. */
        ird_log(IRD_LOG_ERROR, "cannot store run progress; the run resumes at the next start",
                IRD_LS("run", r->id), IRD_LS("reason", ird_strerror(status)));
        run_release(r);
        return;
    }
    if (r->e->closing && then != NULL) {
        run_release(r);
        return;
    }
    if (then)
        then(r);
    else
        run_release(r);
}

static void log_store_failure(int status, const struct ird_sqlq *q, void *data)
{
    (void)q;
    (void)data;
    if (status)
        ird_log(IRD_LOG_ERROR, "cannot store a step's start",
                IRD_LS("reason", ird_strerror(status)));
}

static void add_step_row(struct ird_sqlq *q, struct run *r, const char *state, const char *error,
                         const cJSON *result, int64_t now, bool finished)
{
    const struct ird_step *s = cur_step(r);
    ird_sqlq_add(
        q,
        "INSERT INTO steps(run_id, idx, name, action, state, params, result, planned, error, "
        "attempts, started_at, finished_at, approved_by, forced_by) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, NULLIF(?11, 0), NULLIF(?12, 0), "
        "?13, ?14) "
        "ON CONFLICT(run_id, idx) DO UPDATE SET state = excluded.state, "
        "params = COALESCE(excluded.params, steps.params), result = excluded.result, "
        "planned = COALESCE(excluded.planned, steps.planned), error = excluded.error, "
        "attempts = excluded.attempts, "
        "started_at = COALESCE(steps.started_at, excluded.started_at), "
        "finished_at = excluded.finished_at, "
        "approved_by = COALESCE(excluded.approved_by, steps.approved_by), "
        "forced_by = COALESCE(excluded.forced_by, steps.forced_by)",
        "sisssjjjsiiiss", r->id, (int64_t)r->next, s->name, s->action, state, r->redacted, result,
        r->call.planned, error, (int64_t)r->attempt, r->step_started_ms,
        finished ? now : (int64_t)0, r->approved_by, r->forced_by);
}

static void add_run_row(struct ird_sqlq *q, struct run *r, int64_t now, const char *error)
{
    bool done = r->state == RUN_SUCCEEDED || r->state == RUN_FAILED || r->state == RUN_CANCELLED;
    ird_sqlq_add(q,
                 "UPDATE runs SET state = ?2, next_step = ?3, updated_at = ?4, "
                 "finished_at = CASE WHEN ?5 THEN ?4 ELSE NULL END, error = COALESCE(?6, error) "
                 "WHERE id = ?1",
                 "ssiiis", r->id, run_state_names[r->state], (int64_t)r->next, now,
                 (int64_t)(done ? 1 : 0), error);
}

/* ---- creating runs ------------------------------------------------------------------ */

struct create_ctx {
    struct run *r;
    int insert_index;
    ird_engine_done_cb done;
    void *data;
    char *early_error; /* the run was stored as failed at once */
};

static void created(int status, const struct ird_sqlq *q, void *data)
{
    struct create_ctx *c = data;
    struct run *r = c->r;
    r->writes--;
    bool stored = status == 0 && ird_sqlq_changes(q, c->insert_index) > 0;
    if (c->done)
        c->done(status ? status : stored ? 0 : -EEXIST, r->id, c->early_error, c->data);
    if (stored && !c->early_error) {
        count_run(r, "started");
        ird_log(IRD_LOG_INFO, "run started", IRD_LS("run", r->id), IRD_LS("playbook", r->pb->name),
                IRD_LS("incident", r->incident_id ? r->incident_id : ""),
                IRD_LS("dry_run", r->dry_run ? "true" : "false"));
        free(c->early_error);
        free(c);
        if (!r->e->closing && !r->releasing) {
            run_next(r);
            return;
        }
        run_release(r);
        return;
    }
    if (stored && c->early_error)
        count_run(r, "failed");
    free(c->early_error);
    free(c);
    run_release(r); /* already had a run for this incident, or failed early */
}

/* Create and start a run. ctx is taken. error != NULL stores it as failed. */
static int run_create(struct ird_engine *e, const struct ird_playbook *pb, bool resolve,
                      const char *incident_id, cJSON *ctx, bool dry_run, const char *actor,
                      ird_engine_done_cb done, void *data)
{
    struct run *r = run_new(e, pb, resolve);
    if (!r) {
        cJSON_Delete(ctx);
        return -ENOMEM;
    }
    char id[32];
    snprintf(id, sizeof(id), "run-%lld", (long long)++e->next_run_seq);
    r->id = strdup(id);
    r->incident_id = incident_id ? strdup(incident_id) : NULL;
    r->dry_run = dry_run || pb->dry_run || e->opts.dry_run;
    r->triggered_by = strdup(actor);
    r->ctx = ctx;
    cJSON_AddItemToObject(ctx, "steps", cJSON_CreateObject());
    struct create_ctx *c = calloc(1, sizeof(*c));
    if (!c || !r->id || !r->triggered_by) {
        free(c);
        run_release(r);
        return -ENOMEM;
    }
    c->r = r;
    c->done = done;
    c->data = data;
    /* The target is expanded once, at creation; a missing variable fails the run. */
    struct ird_err err = {{0}};
    cJSON *target = NULL;
    if (ird_playbook_target_expand(pb, ctx, &target, &err) == 0)
        cJSON_AddItemToObject(ctx, "target", target);
    else
        c->early_error = strdup(err.msg[0] ? err.msg : "cannot expand the target");
    if (!c->early_error && (int64_t)e->nruns > e->opts.max_runs) {
        char msg[96];
        snprintf(msg, sizeof(msg), "too many runs in flight (limit %lld)",
                 (long long)e->opts.max_runs);
        c->early_error = strdup(msg);
    }
    r->state = c->early_error ? RUN_FAILED : RUN_RUNNING;
    int64_t now = ird_clock_now_ms();
    const char *mode = pb->mode == IRD_PLAYBOOK_AUTO      ? "auto"
                       : pb->mode == IRD_PLAYBOOK_APPROVE ? "approve"
                                                          : "manual";
    struct ird_sqlq *q = ird_sqlq_new();
    c->insert_index =
        ird_sqlq_add(q,
                     "INSERT OR IGNORE INTO runs(id, playbook, incident_id, phase, mode, state, "
                     "dry_run, context, "
                     "created_at, updated_at, finished_at, triggered_by, error) "
                     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, NULLIF(?10, 0), ?11, ?12)",
                     "ssssssijiiss", r->id, pb->name, r->incident_id, phase_name(r), mode,
                     run_state_names[r->state], (int64_t)(r->dry_run ? 1 : 0), ctx, now,
                     c->early_error ? now : (int64_t)0, r->triggered_by, c->early_error);
    /* Timeline and audit rows only when the insert took (one run per incident). */
    cJSON *d = brief(r);
    if (c->early_error)
        cJSON_AddStringToObject(d, "error", c->early_error);
    ird_sqlq_add(q,
                 "INSERT INTO timeline(incident_id, at, kind, detail) "
                 "SELECT ?1, ?2, ?3, ?4 WHERE ?1 IS NOT NULL AND changes() > 0 "
                 "AND EXISTS (SELECT 1 FROM runs WHERE id = ?5)", /* the insert took */
                 "sisjs", r->incident_id, now, c->early_error ? "run.failed" : "run.started", d,
                 r->id);
    ird_sqlq_audit(q, now, actor, "run.started", r->id, d);
    cJSON_Delete(d);
    r->writes++;
    int rc = ird_sqlq_submit(e->store, q, created, c);
    if (rc) {
        r->writes--;
        free(c->early_error);
        free(c);
        run_release(r);
    }
    return rc;
}

/* The template context of a run. It keeps only the alert fields the
 * playbook's templates and conditions read: a run in flight then costs a few
 * hundred bytes of alert instead of kilobytes (the raw JSON is most of an
 * alert), and the whole alert stays in the incident either way. */
static cJSON *incident_ctx(const struct ird_playbook *pb, const char *incident_id,
                           const cJSON *alert)
{
    cJSON *ctx = cJSON_CreateObject();
    cJSON *copy = cJSON_CreateObject();
    const cJSON *field;
    cJSON_ArrayForEach(field, alert) {
        if (field->string && ird_playbook_reads_alert(pb, field->string))
            cJSON_AddItemToObject(copy, field->string, cJSON_Duplicate(field, 1));
    }
    cJSON_AddItemToObject(ctx, "alert", copy);
    cJSON *inc = cJSON_AddObjectToObject(ctx, "incident");
    cJSON_AddStringToObject(inc, "id", incident_id ? incident_id : "");
    cJSON_AddObjectToObject(ctx, "param");
    return ctx;
}

/* Was this playbook run on the same target within its cooldown? */
static bool in_cooldown(struct ird_engine *e, const struct ird_playbook *pb, const cJSON *ctx)
{
    if (pb->cooldown_ms <= 0)
        return false;
    cJSON *target = NULL;
    if (ird_playbook_target_expand(pb, ctx, &target, NULL) != 0)
        return false;
    char *text = cJSON_PrintUnformatted(target);
    cJSON_Delete(target);
    sqlite3_stmt *st;
    bool hit = false;
    if (text && sqlite3_prepare_v2(ird_store_reader(e->store),
                                   "SELECT 1 FROM runs WHERE playbook = ?1 AND phase = 'main' AND "
                                   "created_at > ?2 AND json_extract(context, '$.target') = ?3 "
                                   "LIMIT 1",
                                   -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, pb->name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, ird_clock_now_ms() - pb->cooldown_ms);
        /* json_extract returns the target as JSON text for an object. */
        sqlite3_bind_text(st, 3, text, -1, SQLITE_STATIC);
        hit = sqlite3_step(st) == SQLITE_ROW;
        sqlite3_finalize(st);
    }
    cJSON_free(text);
    return hit;
}

void ird_engine_on_incident(enum ird_intake_event event, const char *incident_id,
                            const cJSON *alert, void *engine)
{
    struct ird_engine *e = engine;
    if (e->closing || !e->set)
        return;
    const struct ird_playbook_set *set = e->set->set;
    if (event == IRD_INTAKE_INCIDENT_RESOLVED) {
        if (e->guards)
            ird_guards_forget_incident(e->guards, incident_id);
        /* on_resolve steps of every playbook that ran for the incident. */
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(
                ird_store_reader(e->store),
                "SELECT playbook FROM runs WHERE incident_id = ?1 AND phase = 'main'", -1, &st,
                NULL) != SQLITE_OK)
            return;
        sqlite3_bind_text(st, 1, incident_id, -1, SQLITE_STATIC);
        while (sqlite3_step(st) == SQLITE_ROW) {
            const struct ird_playbook *pb =
                ird_playbook_find(set, (const char *)sqlite3_column_text(st, 0));
            if (pb && pb->non_resolve > 0)
                run_create(e, pb, true, incident_id, incident_ctx(pb, incident_id, alert), false,
                           "incident.resolved", NULL, NULL);
        }
        sqlite3_finalize(st);
        return;
    }
    /* A resolved alert is matched too: playbooks that say status =
     * "resolved" (or "any") are for it; the rest do not match it. */
    for (size_t i = 0; i < ird_playbook_set_count(set); i++) {
        const struct ird_playbook *pb = ird_playbook_set_at(set, i);
        if (pb->mode == IRD_PLAYBOOK_MANUAL || !ird_playbook_matches(pb, alert))
            continue;
        cJSON *ctx = incident_ctx(pb, incident_id, alert);
        if (in_cooldown(e, pb, ctx)) {
            ird_log(IRD_LOG_INFO, "playbook in cooldown for this target",
                    IRD_LS("playbook", pb->name), IRD_LS("incident", incident_id));
            cJSON_Delete(ctx);
        } else {
            run_create(e, pb, false, incident_id, ctx, false, "alert", NULL, NULL);
        }
        if (pb->stop)
            break;
    }
}

/* ---- the step state machine ----------------------------------------------------------- */

static void step_reset(struct run *r)
{
    cJSON_Delete(r->params);
    cJSON_Delete(r->redacted);
    cJSON_Delete(r->call.planned);
    r->params = r->redacted = r->call.planned = NULL;
    free(r->approved_by);
    free(r->forced_by);
    r->approved_by = r->forced_by = NULL;
    r->attempt = 0;
    r->step_started_ms = 0;
}

static void advance(struct run *r)
{
    step_reset(r);
    r->next++;
    run_next(r);
}

static void escalate(struct run *r, struct ird_sqlq *q, int64_t now, const char *why)
{
    cJSON *d = brief(r);
    cJSON_AddStringToObject(d, "step", cur_step(r) ? cur_step(r)->name : "");
    cJSON_AddStringToObject(d, "reason", why);
    if (r->pb->escalation)
        cJSON_AddStringToObject(d, "policy", r->pb->escalation);
    timeline(q, r, now, "escalation.requested", d);
    ird_metrics_add("ird_escalations_requested_total", "", 1);
}

/* A step failed for good: apply on_failure. */
/* End the run with state: its row, timeline entry, audit record, metric and
 * log line go into q with the rest of the turn's writes, then q is persisted. */
static void run_finish_in(struct run *r, struct ird_sqlq *q, int64_t now, enum run_state state,
                          const char *error)
{
    r->state = state;
    add_run_row(q, r, now, error);
    cJSON *d = brief(r);
    cJSON_AddStringToObject(d, "state", run_state_names[state]);
    if (error)
        cJSON_AddStringToObject(d, "error", error);
    ird_sqlq_audit(q, now, "engine", "run.finished", r->id, d);
    timeline(q, r, now, "run.finished", d);
    count_run(r, run_state_names[state]);
    ird_log(IRD_LOG_INFO, "run finished", IRD_LS("run", r->id), IRD_LS("playbook", r->pb->name),
            IRD_LS("state", run_state_names[state]));
    persist(r, q, NULL);
}

static void run_finish(struct run *r, enum run_state state, const char *error)
{
    run_finish_in(r, ird_sqlq_new(), ird_clock_now_ms(), state, error);
}

static void step_failed(struct run *r, const char *state, const char *error, const cJSON *result)
{
    const struct ird_step *s = cur_step(r);
    int64_t now = ird_clock_now_ms();
    struct ird_sqlq *q = ird_sqlq_new();
    add_step_row(q, r, state, error, result, now, true);
    cJSON *d = brief(r);
    cJSON_AddStringToObject(d, "step", s->name);
    cJSON_AddStringToObject(d, "error", error);
    ird_sqlq_audit(q, now, "engine", "step.finished", r->id, d);
    cJSON_Delete(d);
    char labels[300];
    labels_for(labels, sizeof(labels), "action", s->action, "outcome", state);
    ird_metrics_add("ird_actions_total", labels, 1);
    ird_log(IRD_LOG_WARN, "step failed", IRD_LS("run", r->id), IRD_LS("step", s->name),
            IRD_LS("action", s->action), IRD_LS("error", error));
    if (s->on_failure == IRD_ON_FAILURE_CONTINUE) {
        r->next++;
        add_run_row(q, r, now, NULL);
        r->next--;
        persist(r, q, advance);
        return;
    }
    if (s->on_failure == IRD_ON_FAILURE_ESCALATE)
        escalate(r, q, now, error);
    char msg[600];
    snprintf(msg, sizeof(msg), "step %s: %s", s->name, error);
    run_finish_in(r, q, now, RUN_FAILED, msg);
}

static void on_call_done(struct ird_action_call *call, enum ird_action_status status, cJSON *result,
                         const char *error, int64_t retry_after_ms);

static void on_backoff(uv_timer_t *t)
{
    struct run *r = t->data;
    if (r->cancel_requested) {
        run_next(r); /* finishes it as cancelled */
        return;
    }
    step_dispatch(r);
}

static void on_step_timeout(uv_timer_t *t)
{
    struct run *r = t->data;
    if (!r->call_active)
        return;
    r->timed_out = true;
    if (r->call.action->cancel)
        r->call.action->cancel(&r->call);
}

static int engine_guard(struct ird_action_call *call, const struct ird_guard_target *target,
                        struct ird_err *err)
{
    struct run *r = call->engine_data;
    if (r->forced_by || !r->e->guards)
        return 0;
    const char *guard = NULL;
    int rc = ird_guards_check(
        r->e->guards, r->incident_id ? r->incident_id : r->id, target, ird_clock_now_ms(),
        r->pb->guard_max_targets > 0 ? (int)r->pb->guard_max_targets : 0, &guard, err);
    if (rc == -EPERM) {
        /* The connector fails the call; the engine parks the run as blocked. */
        free(r->guard_reason);
        r->guard_reason = strdup(err && err->msg[0] ? err->msg : "blocked by a guard");
    } else if (rc == 0 && !call->dry_run) {
        /* Stored, so the limits count it after a restart too (a dry run
         * touches nothing, so it uses up nothing across restarts). */
        struct ird_sqlq *q = ird_sqlq_new();
        if (q) {
            ird_sqlq_add(q,
                         "INSERT INTO guard_targets(incident, kind, namespace, name, at) "
                         "VALUES (?1, ?2, ?3, ?4, ?5)",
                         "ssssi", r->incident_id ? r->incident_id : r->id, target->kind,
                         target->namespace_ ? target->namespace_ : "", target->name,
                         ird_clock_now_ms());
            /* Rows older than the longest guard window are of no more use. */
            ird_sqlq_add(q, "DELETE FROM guard_targets WHERE at <= ?1", "i",
                         ird_clock_now_ms() - 3600 * 1000);
            ird_sqlq_submit(r->e->store, q, log_store_failure, NULL);
        }
    }
    return rc;
}

static void instance_for(struct ird_engine *e, const struct ird_step *s, void **ret)
{
    *ret = NULL;
    for (size_t i = 0; i < e->ninstances; i++)
        if (e->instances[i].type == s->type && strcmp(e->instances[i].name, s->instance) == 0)
            *ret = e->instances[i].handle;
}

static void step_dispatch(struct run *r)
{
    const struct ird_step *s = cur_step(r);
    r->attempt++;
    /* The step keeps the calls of its last attempt. */
    cJSON_Delete(r->call.planned);
    memset(&r->call, 0, sizeof(r->call));
    r->call.action = s->spec;
    instance_for(r->e, s, &r->call.instance);
    r->call.loop = r->e->loop;
    r->call.params = r->params;
    r->call.incident_id = r->incident_id ? r->incident_id : "";
    r->call.run_id = r->id;
    r->call.step_name = s->name;
    r->call.dry_run = r->dry_run;
    r->call.attempt = r->attempt;
    r->call.guard = engine_guard;
    r->call.done = on_call_done;
    r->call.engine_data = r;
    r->timed_out = false;
    r->call_active = true;
    r->call_started_ns = uv_hrtime();
    uv_timer_start(&r->timer, on_step_timeout, (uint64_t)s->timeout_ms, 0);
    int rc = s->spec->start(&r->call);
    if (rc < 0) {
        r->call_active = false;
        uv_timer_stop(&r->timer);
        char msg[160];
        snprintf(msg, sizeof(msg), "%s could not start: %s", s->action, ird_strerror(rc));
        step_failed(r, "failed", msg, NULL);
    }
}

static void on_call_done(struct ird_action_call *call, enum ird_action_status status, cJSON *result,
                         const char *error, int64_t retry_after_ms)
{
    struct run *r = call->engine_data;
    const struct ird_step *s = cur_step(r);
    r->call_active = false;
    uv_timer_stop(&r->timer);
    char labels[300];
    labels_for(labels, sizeof(labels), "action", s->action, "dry_run",
               r->dry_run ? "true" : "false");
    ird_metrics_observe("ird_action_duration_seconds", labels,
                        (double)(uv_hrtime() - r->call_started_ns) / 1e9);
    if (r->timed_out) {
        status = IRD_ACTION_RETRY;
        error = "timed out";
    }
    if (r->e->closing || r->releasing) {
        /* Shutting down: the step stays "running" in the store and is issued
         * again at the next start. */
        cJSON_Delete(result);
        run_release(r);
        return;
    }
    if (status == IRD_ACTION_OK) {
        int64_t now = ird_clock_now_ms();
        cJSON *steps = cJSON_GetObjectItemCaseSensitive(r->ctx, "steps");
        cJSON *entry = cJSON_CreateObject();
        cJSON_AddItemToObject(entry, "result", result ? result : cJSON_CreateObject());
        cJSON_DeleteItemFromObjectCaseSensitive(steps, s->name);
        cJSON_AddItemToObject(steps, s->name, entry);
        const cJSON *res = cJSON_GetObjectItemCaseSensitive(entry, "result");
        struct ird_sqlq *q = ird_sqlq_new();
        add_step_row(q, r, "succeeded", NULL, res, now, true);
        r->next++;
        add_run_row(q, r, now, NULL);
        r->next--;
        cJSON *d = brief(r);
        cJSON_AddStringToObject(d, "step", s->name);
        cJSON_AddStringToObject(d, "action", s->action);
        if (r->call.planned)
            cJSON_AddItemToObject(d, "planned", cJSON_Duplicate(r->call.planned, 1));
        ird_sqlq_audit(q, now, "engine", r->dry_run ? "call.planned" : "step.finished", r->id, d);
        cJSON_Delete(d);
        labels_for(labels, sizeof(labels), "action", s->action, "outcome", "succeeded");
        ird_metrics_add("ird_actions_total", labels, 1);
        persist(r, q, advance);
        return;
    }
    if (r->guard_reason) {
        char *why = r->guard_reason;
        r->guard_reason = NULL;
        cJSON_Delete(result);
        step_park(r, RUN_BLOCKED, why, true);
        free(why);
        return;
    }
    char msg[512];
    snprintf(msg, sizeof(msg), "%s", error ? error : "failed");
    if (r->timed_out)
        snprintf(msg, sizeof(msg), "timed out after %lldms", (long long)s->timeout_ms);
    if (status == IRD_ACTION_RETRY && (int)r->attempt <= s->retries) {
        int64_t delay = backoff_ms(r->e, r->attempt);
        if (retry_after_ms > delay)
            delay = retry_after_ms;
        /* A server's Retry-After is honoured up to engine.retry_cap: it must
         * not park a run for as long as the server likes. */
        if (delay > r->e->opts.retry_cap_ms)
            delay = r->e->opts.retry_cap_ms;
        labels_for(labels, sizeof(labels), "action", s->action, "outcome", "retried");
        ird_metrics_add("ird_actions_total", labels, 1);
        ird_log(IRD_LOG_INFO, "step will be retried", IRD_LS("run", r->id), IRD_LS("step", s->name),
                IRD_LI("attempt", r->attempt), IRD_LI("delay_ms", delay), IRD_LS("error", msg));
        cJSON_Delete(result);
        uv_timer_start(&r->timer, on_backoff, (uint64_t)delay, 0);
        return;
    }
    if (status == IRD_ACTION_RETRY && s->retries > 0) {
        char more[600];
        snprintf(more, sizeof(more), "%s (after %u attempts)", msg, r->attempt);
        step_failed(r, "failed", more, result);
    } else {
        step_failed(r, "failed", msg, result);
    }
    cJSON_Delete(result);
}

static void on_approval_timeout(uv_timer_t *t)
{
    struct run *r = t->data;
    if (r->state != RUN_WAITING)
        return;
    const struct ird_step *s = cur_step(r);
    int64_t now = ird_clock_now_ms();
    struct ird_sqlq *q = ird_sqlq_new();
    char msg[200], within[32];
    format_duration(r->pb->approval_timeout_ms, within, sizeof(within));
    snprintf(msg, sizeof(msg), "no approval within %s", within);
    add_step_row(q, r, "failed", msg, NULL, now, true);
    if (r->pb->on_approval_timeout == IRD_APPROVAL_TIMEOUT_ESCALATE)
        escalate(r, q, now, msg);
    char full[300];
    snprintf(full, sizeof(full), "step %s: %s", s->name, msg);
    run_finish_in(r, q, now, RUN_FAILED, full);
}

/* Stored as waiting: the run stays in memory for approve, cancel or its
 * approval timeout. */
static void stay_parked(struct run *r)
{
    (void)r;
}

/* Park the run on its current step: waiting for approval, or blocked. */
static void step_park(struct run *r, enum run_state state, const char *why, bool announce)
{
    const struct ird_step *s = cur_step(r);
    int64_t now = ird_clock_now_ms();
    r->state = state;
    if (!r->step_started_ms)
        r->step_started_ms = now;
    if (!announce) { /* resumed: the rows already say so */
        if (state == RUN_WAITING && r->pb->approval_timeout_ms > 0) {
            int64_t left = r->step_started_ms + r->pb->approval_timeout_ms - now;
            uv_timer_start(&r->timer, on_approval_timeout, (uint64_t)(left > 0 ? left : 0), 0);
        }
        return;
    }
    struct ird_sqlq *q = ird_sqlq_new();
    add_step_row(q, r, state == RUN_WAITING ? "waiting_approval" : "blocked", why, NULL, now,
                 false);
    add_run_row(q, r, now, NULL);
    cJSON *d = brief(r);
    cJSON_AddStringToObject(d, "step", s->name);
    cJSON_AddStringToObject(d, "action", s->action);
    if (why)
        cJSON_AddStringToObject(d, "reason", why);
    if (state == RUN_BLOCKED) {
        ird_sqlq_audit(q, now, "engine", "step.blocked", r->id, d);
        escalate(r, q, now, why);
        ird_log(IRD_LOG_WARN, "step blocked by a guard", IRD_LS("run", r->id),
                IRD_LS("step", s->name), IRD_LS("reason", why));
        ird_metrics_add("ird_guard_blocks_total", "", 1);
    }
    timeline(q, r, now, state == RUN_WAITING ? "step.waiting_approval" : "step.blocked", d);
    persist(r, q, stay_parked);
    if (state == RUN_WAITING && r->pb->approval_timeout_ms > 0)
        uv_timer_start(&r->timer, on_approval_timeout, (uint64_t)r->pb->approval_timeout_ms, 0);
}

/* Decide what to do with the next step. */
static void run_next(struct run *r)
{
    struct ird_engine *e = r->e;
    if (r->cancel_requested) {
        run_finish(r, RUN_CANCELLED, "cancelled");
        return;
    }
    const struct ird_step *s = cur_step(r);
    if (!s) {
        run_finish(r, RUN_SUCCEEDED, NULL);
        return;
    }
    r->state = RUN_RUNNING;
    struct ird_err err = {{0}};
    int64_t now = ird_clock_now_ms();
    if (s->when) {
        bool yes = false;
        if (ird_cond_eval(s->when, r->ctx, &yes, &err)) {
            step_failed(r, "failed", err.msg, NULL);
            return;
        }
        if (!yes) {
            struct ird_sqlq *q = ird_sqlq_new();
            add_step_row(q, r, "skipped", NULL, NULL, now, true);
            r->next++;
            add_run_row(q, r, now, NULL);
            r->next--;
            persist(r, q, advance);
            return;
        }
    }
    if (!r->params) {
        if (ird_playbook_step_params(s, r->ctx, &r->params, &r->redacted, &err)) {
            /* A bad value (a hostile name from an alert) never reaches a connector. */
            step_failed(r, "failed", err.msg, NULL);
            return;
        }
    }
    bool mutates = ird_playbook_step_mutates(s, r->params);
    if (mutates && !r->forced_by && e->guards) {
        const cJSON *ns = cJSON_GetObjectItemCaseSensitive(r->params, "namespace");
        if (!cJSON_IsString(ns))
            ns = cJSON_GetObjectItemCaseSensitive(
                cJSON_GetObjectItemCaseSensitive(r->ctx, "target"), "namespace");
        const char *guard = NULL;
        if (cJSON_IsString(ns) &&
            ird_guards_check_namespace(e->guards, ns->valuestring, &guard, &err) != 0) {
            step_park(r, RUN_BLOCKED, err.msg, true);
            return;
        }
    }
    if (mutates && r->pb->mode == IRD_PLAYBOOK_APPROVE && !r->approved_by && !r->forced_by) {
        step_park(r, RUN_WAITING, "approval required", true);
        return;
    }
    if (!r->step_started_ms)
        r->step_started_ms = now;
    /* The "running" row goes to the store and the call goes out at once:
     * waiting for that commit would add an fsync to every step. A crash
     * before it lands loses only the attempt count; the step is issued
     * again either way, since runs.next_step still points at it. */
    struct ird_sqlq *q = ird_sqlq_new();
    r->attempt++;
    add_step_row(q, r, "running", NULL, NULL, now, false);
    r->attempt--;
    add_run_row(q, r, now, NULL);
    ird_sqlq_submit(e->store, q, log_store_failure, NULL);
    step_dispatch(r);
}

/* ---- approvals and cancel ------------------------------------------------------------- */

/* A run not in memory: unknown (-ENOENT), or finished (-EALREADY). */
static int not_in_flight(struct ird_engine *e, const char *run_id, const char *what,
                         struct ird_err *err)
{
    sqlite3_stmt *st;
    int rc = ird_err_set(err, -ENOENT, "no run %s", run_id);
    if (sqlite3_prepare_v2(ird_store_reader(e->store), "SELECT state FROM runs WHERE id = ?1", -1,
                           &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, run_id, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            rc = ird_err_set(err, -EALREADY, "run %s is %s, %s", run_id,
                             (const char *)sqlite3_column_text(st, 0), what);
        sqlite3_finalize(st);
    }
    return rc;
}

int ird_engine_approve(struct ird_engine *e, const char *run_id, const char *step, bool force,
                       const char *actor, struct ird_err *err)
{
    struct run *r = run_find(e, run_id);
    if (!r)
        return not_in_flight(e, run_id, "not waiting for approval", err);
    if (r->state != RUN_WAITING && r->state != RUN_BLOCKED)
        return ird_err_set(err, -EALREADY, "run %s is %s, not waiting for approval", run_id,
                           run_state_names[r->state]);
    const struct ird_step *s = cur_step(r);
    if (step && strcmp(step, s->name) != 0)
        return ird_err_set(err, -EINVAL, "run %s waits on step %s, not %s", run_id, s->name, step);
    if (r->state == RUN_BLOCKED && !force)
        return ird_err_set(
            err, -EPERM,
            "step %s was blocked by a guard; only an admin can override it, with force", s->name);
    uv_timer_stop(&r->timer);
    free(r->approved_by);
    r->approved_by = strdup(actor);
    if (force) {
        free(r->forced_by);
        r->forced_by = strdup(actor);
    }
    int64_t now = ird_clock_now_ms();
    struct ird_sqlq *q = ird_sqlq_new();
    cJSON *d = brief(r);
    cJSON_AddStringToObject(d, "step", s->name);
    cJSON_AddBoolToObject(d, "force", force);
    ird_sqlq_audit(q, now, actor, force ? "override.forced" : "approval.granted", r->id, d);
    timeline(q, r, now, force ? "override.forced" : "approval.granted", d);
    r->state = RUN_RUNNING;
    persist(r, q, run_next);
    return 0;
}

int ird_engine_cancel(struct ird_engine *e, const char *run_id, const char *actor,
                      struct ird_err *err)
{
    struct run *r = run_find(e, run_id);
    if (!r)
        return not_in_flight(e, run_id, "not in flight", err);
    if (r->state != RUN_RUNNING && r->state != RUN_WAITING && r->state != RUN_BLOCKED)
        return ird_err_set(err, -EALREADY, "run %s is already %s", run_id,
                           run_state_names[r->state]);
    int64_t now = ird_clock_now_ms();
    struct ird_sqlq *q = ird_sqlq_new();
    ird_sqlq_audit(q, now, actor, "run.cancel", r->id, NULL);
    ird_sqlq_submit(e->store, q, NULL, NULL);
    if (r->state == RUN_WAITING || r->state == RUN_BLOCKED) {
        uv_timer_stop(&r->timer);
        if (cur_step(r)) {
            struct ird_sqlq *sq = ird_sqlq_new();
            add_step_row(sq, r, "cancelled", "cancelled", NULL, now, true);
            ird_sqlq_submit(e->store, sq, NULL, NULL);
        }
        run_finish(r, RUN_CANCELLED, "cancelled");
        return 0;
    }
    if (!r->call_active && r->writes == 0) {
        /* Waiting out a retry's backoff: stop now. */
        uv_timer_stop(&r->timer);
        if (cur_step(r)) {
            struct ird_sqlq *sq = ird_sqlq_new();
            add_step_row(sq, r, "cancelled", "cancelled", NULL, now, true);
            ird_sqlq_submit(e->store, sq, NULL, NULL);
        }
        run_finish(r, RUN_CANCELLED, "cancelled");
        return 0;
    }
    /* In a step, or storing one: the run stops before its next step. */
    r->cancel_requested = true;
    return 0;
}

/* ---- manual triggers --------------------------------------------------------------------- */

int ird_engine_trigger(struct ird_engine *e, const char *playbook, const cJSON *params,
                       const char *incident_id, bool dry_run, const char *actor,
                       ird_engine_done_cb done, void *data, struct ird_err *err)
{
    if (e->closing)
        return ird_err_set(err, -ESHUTDOWN, "ird is shutting down");
    const struct ird_playbook *pb = e->set ? ird_playbook_find(e->set->set, playbook) : NULL;
    if (!pb)
        return ird_err_set(err, -ENOENT, "no playbook named %s", playbook);
    cJSON *p = NULL;
    if (ird_playbook_trigger_params(pb, params, &p, err))
        return -EINVAL;
    cJSON *alert = NULL;
    if (incident_id) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(
                ird_store_reader(e->store),
                "SELECT alert FROM alerts WHERE incident_id = ?1 ORDER BY id LIMIT 1", -1, &st,
                NULL) == SQLITE_OK) {
            sqlite3_bind_text(st, 1, incident_id, -1, SQLITE_STATIC);
            if (sqlite3_step(st) == SQLITE_ROW)
                alert = cJSON_Parse((const char *)sqlite3_column_text(st, 0));
            sqlite3_finalize(st);
        }
        if (!alert) {
            cJSON_Delete(p);
            return ird_err_set(err, -ENOENT, "no incident %s", incident_id);
        }
    }
    cJSON *ctx = incident_ctx(pb, incident_id, alert);
    cJSON_Delete(alert);
    cJSON_ReplaceItemInObjectCaseSensitive(ctx, "param", p);
    /* A run by hand is not bound by one-run-per-incident (the store's unique
     * index covers automatic runs only): on-call may run a playbook again. */
    return run_create(e, pb, false, incident_id, ctx, dry_run, actor, done, data) == 0
               ? 0
               : ird_err_set(err, -EIO, "cannot store the run");
}

/* ---- resume ------------------------------------------------------------------------------ */

static enum run_state state_parse(const char *s)
{
    for (int i = 0; i <= RUN_CANCELLED; i++)
        if (strcmp(s, run_state_names[i]) == 0)
            return (enum run_state)i;
    return RUN_RUNNING;
}

int ird_engine_resume(struct ird_engine *e, struct ird_err *err)
{
    sqlite3 *db = ird_store_reader(e->store);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT COALESCE(MAX(CAST(substr(id, 5) AS INTEGER)), 0) FROM runs",
                           -1, &st, NULL) != SQLITE_OK)
        return ird_err_set(err, -EIO, "cannot read runs: %s", sqlite3_errmsg(db));
    if (sqlite3_step(st) == SQLITE_ROW)
        e->next_run_seq = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(
            db,
            "SELECT id, playbook, incident_id, phase, state, dry_run, context, "
            "next_step, triggered_by FROM runs WHERE finished_at IS NULL ORDER BY rowid",
            -1, &st, NULL) != SQLITE_OK)
        return ird_err_set(err, -EIO, "cannot read runs: %s", sqlite3_errmsg(db));
    int resumed = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        const char *name = (const char *)sqlite3_column_text(st, 1);
        const struct ird_playbook *pb = e->set ? ird_playbook_find(e->set->set, name) : NULL;
        bool resolve = strcmp((const char *)sqlite3_column_text(st, 3), "resolve") == 0;
        struct run *r = pb ? run_new(e, pb, resolve) : NULL;
        if (!r) {
            /* The playbook is gone: close the run with a reason. */
            struct ird_sqlq *q = ird_sqlq_new();
            ird_sqlq_add(
                q, "UPDATE runs SET state = 'failed', finished_at = ?2, error = ?3 WHERE id = ?1",
                "sis", id, ird_clock_now_ms(), "the playbook is no longer loaded");
            ird_sqlq_submit(e->store, q, NULL, NULL);
            continue;
        }
        r->id = strdup(id);
        if (sqlite3_column_type(st, 2) != SQLITE_NULL)
            r->incident_id = strdup((const char *)sqlite3_column_text(st, 2));
        r->state = state_parse((const char *)sqlite3_column_text(st, 4));
        r->dry_run = sqlite3_column_int(st, 5) != 0;
        r->ctx = cJSON_Parse((const char *)sqlite3_column_text(st, 6));
        if (!r->ctx)
            r->ctx = cJSON_CreateObject();
        cJSON_DeleteItemFromObjectCaseSensitive(r->ctx, "steps");
        cJSON *steps = cJSON_AddObjectToObject(r->ctx, "steps");
        r->next = (size_t)sqlite3_column_int64(st, 7);
        r->triggered_by = strdup((const char *)sqlite3_column_text(st, 8));
        /* Results of the finished steps, and where the current one stands. */
        sqlite3_stmt *ss;
        const char *cur_state = NULL;
        char *cur_state_copy = NULL;
        if (sqlite3_prepare_v2(
                db,
                "SELECT idx, name, state, result, attempts, started_at, approved_by, "
                "forced_by FROM steps WHERE run_id = ?1 ORDER BY idx",
                -1, &ss, NULL) == SQLITE_OK) {
            sqlite3_bind_text(ss, 1, id, -1, SQLITE_STATIC);
            while (sqlite3_step(ss) == SQLITE_ROW) {
                size_t idx = (size_t)sqlite3_column_int64(ss, 0);
                const char *sname = (const char *)sqlite3_column_text(ss, 1);
                if (idx < r->next && sqlite3_column_type(ss, 3) != SQLITE_NULL) {
                    cJSON *entry = cJSON_CreateObject();
                    cJSON *res = cJSON_Parse((const char *)sqlite3_column_text(ss, 3));
                    cJSON_AddItemToObject(entry, "result", res ? res : cJSON_CreateObject());
                    cJSON_AddItemToObject(steps, sname, entry);
                } else if (idx == r->next) {
                    /* The playbook may have changed since: a row about another
                     * step says nothing about this one (nor approves it). */
                    if (!cur_step(r) || strcmp(cur_step(r)->name, sname) != 0)
                        continue;
                    free(cur_state_copy);
                    cur_state_copy = strdup((const char *)sqlite3_column_text(ss, 2));
                    r->attempt = (unsigned)sqlite3_column_int(ss, 4);
                    r->step_started_ms = sqlite3_column_int64(ss, 5);
                    if (sqlite3_column_type(ss, 6) != SQLITE_NULL)
                        r->approved_by = strdup((const char *)sqlite3_column_text(ss, 6));
                    if (sqlite3_column_type(ss, 7) != SQLITE_NULL)
                        r->forced_by = strdup((const char *)sqlite3_column_text(ss, 7));
                }
            }
            sqlite3_finalize(ss);
        }
        cur_state = cur_state_copy;
        const struct ird_step *s = cur_step(r);
        if (s && cur_state && (r->state == RUN_WAITING || r->state == RUN_BLOCKED)) {
            /* Still waiting for a human. */
            struct ird_err perr = {{0}};
            ird_playbook_step_params(s, r->ctx, &r->params, &r->redacted, &perr);
            step_park(r, r->state, NULL, false);
        } else {
            /* A step that was running is issued again: actions are idempotent. */
            r->state = RUN_RUNNING;
            ird_log(IRD_LOG_INFO, "run resumed", IRD_LS("run", r->id), IRD_LS("playbook", pb->name),
                    IRD_LI("step", r->next));
            run_next(r);
        }
        free(cur_state_copy);
        resumed++;
    }
    sqlite3_finalize(st);
    if (resumed)
        ird_log(IRD_LOG_INFO, "unfinished runs resumed", IRD_LI("runs", resumed));
    return 0;
}

/* ---- set-up and teardown ----------------------------------------------------------------- */

static double gauge_runs(void *data)
{
    return (double)((struct ird_engine *)data)->nruns;
}

struct ird_engine *ird_engine_new(uv_loop_t *loop, struct ird_store *store)
{
    struct ird_engine *e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    e->loop = loop;
    e->store = store;
    e->rng = uv_hrtime() | 1;
    e->opts.retry_base_ms = 1000;
    e->opts.retry_cap_ms = 30000;
    e->opts.max_runs = 10000;
    static const double buckets[] = {0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30};
    ird_metrics_define(
        "ird_runs_total", IRD_METRIC_COUNTER,
        "Playbook runs by playbook and outcome (started, succeeded, failed, cancelled).", NULL, 0);
    ird_metrics_define("ird_actions_total", IRD_METRIC_COUNTER,
                       "Action calls by action and outcome (succeeded, failed, retried).", NULL, 0);
    ird_metrics_define("ird_action_duration_seconds", IRD_METRIC_HISTOGRAM,
                       "Time from an action call to its answer.", buckets, 10);
    ird_metrics_define(
        "ird_escalations_requested_total", IRD_METRIC_COUNTER,
        "Steps that asked for escalation (on_failure, guard blocks, approval timeouts).", NULL, 0);
    ird_metrics_define("ird_guard_blocks_total", IRD_METRIC_COUNTER, "Steps a guard blocked.", NULL,
                       0);
    ird_metrics_define_gauge_fn("ird_runs_in_flight", "Runs in memory: running or waiting.",
                                gauge_runs, e);
    return e;
}

/* ---- connector instances ------------------------------------------------------------ */

/* Call fn for every instance c defines: each group under connectors.<type>,
 * and "default" of every type (with no config unless the file has one). */
static int each_instance(const struct ird_config *c,
                         int (*fn)(const struct ird_connector_ops *t, const char *name,
                                   const config_setting_t *cfg, void *data),
                         void *data, struct ird_diags *diags)
{
    const config_setting_t *all = config_lookup(&c->doc, "connectors");
    int bad = 0;
    for (int i = 0; all && i < config_setting_length(all); i++) {
        const config_setting_t *group = config_setting_get_elem(all, (unsigned)i);
        const char *type = config_setting_name(group);
        if (!ird_connector_find(type)) {
            struct ird_buf known = IRD_BUF_INIT;
            for (size_t k = 0; k < ird_nconnectors; k++)
                ird_buf_printf(&known, "%s%s", k ? ", " : "", ird_connectors[k]->name);
            ird_diag_at(diags, group, "connectors.%s: unknown connector type (known: %s)", type,
                        known.data ? known.data : "");
            ird_buf_free(&known);
            bad = 1;
        } else if (!config_setting_is_group(group)) {
            ird_diag_at(diags, group,
                        "connectors.%s: expected a group of instances { name = { ... }; }", type);
            bad = 1;
        }
    }
    if (bad)
        return -EINVAL;
    for (size_t k = 0; k < ird_nconnectors; k++) {
        const struct ird_connector_ops *t = ird_connectors[k];
        char path[64];
        snprintf(path, sizeof(path), "connectors.%s", t->name);
        const config_setting_t *group = config_lookup(&c->doc, path);
        bool has_default = group && config_setting_get_member(group, "default");
        if (!has_default && fn(t, "default", NULL, data))
            bad = 1;
        for (int i = 0; group && i < config_setting_length(group); i++) {
            const config_setting_t *inst = config_setting_get_elem(group, (unsigned)i);
            if (fn(t, config_setting_name(inst), inst, data))
                bad = 1;
        }
    }
    return bad ? -EINVAL : 0;
}

struct build_ctx {
    struct ird_engine *e;
    const char *state_dir;
    struct ird_err *err;
};

static int build_instance(const struct ird_connector_ops *t, const char *name,
                          const config_setting_t *cfg, void *data)
{
    struct build_ctx *b = data;
    struct ird_engine *e = b->e;
    void *h = NULL;
    if (t->instance_new && t->instance_new(e->loop, name, cfg, b->state_dir, &h, b->err) != 0)
        return -EINVAL;
    struct instance *v = realloc(e->instances, (e->ninstances + 1) * sizeof(*v));
    if (!v) {
        if (t->instance_free)
            t->instance_free(h);
        return -ENOMEM;
    }
    e->instances = v;
    v[e->ninstances].type = t;
    v[e->ninstances].name = strdup(name);
    v[e->ninstances].handle = h;
    e->ninstances++;
    return 0;
}

int ird_engine_connect(struct ird_engine *e, const struct ird_config *c, struct ird_err *err)
{
    struct ird_diags diags = {IRD_BUF_INIT, 0};
    struct build_ctx b = {e, c->state_dir, err};
    int rc = each_instance(c, build_instance, &b, &diags);
    if (diags.count)
        ird_err_set(err, -EINVAL, "%s", diags.text.data);
    ird_diags_free(&diags);
    return rc;
}

struct check_ctx {
    uv_loop_t *loop;
    const char *state_dir;
    struct ird_diags *diags;
};

static int check_instance(const struct ird_connector_ops *t, const char *name,
                          const config_setting_t *cfg, void *data)
{
    struct check_ctx *k = data;
    void *h = NULL;
    struct ird_err err = {{0}};
    if (t->instance_new && t->instance_new(k->loop, name, cfg, k->state_dir, &h, &err) != 0) {
        ird_diag_add(k->diags, NULL, 0, "%s", err.msg);
        return -EINVAL;
    }
    if (t->instance_free)
        t->instance_free(h);
    return 0;
}

void ird_connectors_check(const struct ird_config *c, struct ird_diags *diags)
{
    uv_loop_t loop;
    if (uv_loop_init(&loop) != 0)
        return;
    struct check_ctx k = {&loop, c->state_dir, diags};
    each_instance(c, check_instance, &k, diags);
    uv_run(&loop, UV_RUN_DEFAULT); /* let instances finish closing */
    uv_loop_close(&loop);
}

struct names_ctx {
    struct ird_playbook_instance *out;
    size_t max, n;
};

static int add_name(const struct ird_connector_ops *t, const char *name,
                    const config_setting_t *cfg, void *data)
{
    (void)cfg;
    struct names_ctx *n = data;
    if (n->n < n->max)
        n->out[n->n++] = (struct ird_playbook_instance){t->name, name};
    return 0;
}

size_t ird_connectors_names(const struct ird_config *c, struct ird_playbook_instance *out,
                            size_t max)
{
    struct names_ctx n = {out, max, 0};
    each_instance(c, add_name, &n, NULL);
    return n.n;
}

static void instances_free(struct ird_engine *e)
{
    for (size_t i = 0; i < e->ninstances; i++) {
        if (e->instances[i].type->instance_free)
            e->instances[i].type->instance_free(e->instances[i].handle);
        free(e->instances[i].name);
    }
    free(e->instances);
    e->instances = NULL;
    e->ninstances = 0;
}

/* Give the guards back what they let through in the last hour (the longest
 * window a guard looks at). */
static void guards_reseed(struct ird_engine *e)
{
    int64_t since = ird_clock_now_ms() - 3600 * 1000;
    sqlite3_stmt *st;
    if (e->guards && sqlite3_prepare_v2(ird_store_reader(e->store),
                                        "SELECT incident, kind, namespace, name, at FROM "
                                        "guard_targets WHERE at > ?1 ORDER BY at",
                                        -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, since);
        while (sqlite3_step(st) == SQLITE_ROW) {
            struct ird_guard_target t = {(const char *)sqlite3_column_text(st, 1),
                                         (const char *)sqlite3_column_text(st, 2),
                                         (const char *)sqlite3_column_text(st, 3), NULL};
            ird_guards_remember(e->guards, (const char *)sqlite3_column_text(st, 0), &t,
                                sqlite3_column_int64(st, 4));
        }
        sqlite3_finalize(st);
    }
}

int ird_engine_configure(struct ird_engine *e, struct ird_playbook_set *set,
                         struct ird_guards *guards, const struct ird_engine_opts *opts)
{
    struct set_ref *ref = calloc(1, sizeof(*ref));
    if (!ref)
        return -ENOMEM;
    ref->set = set;
    ref->refs = 1;
    set_unref(e->set);
    e->set = ref;
    ird_guards_free(e->guards);
    e->guards = guards;
    e->opts = *opts;
    guards_reseed(e); /* new guards start from what the store remembers */
    return 0;
}

size_t ird_engine_runs_in_flight(const struct ird_engine *e)
{
    return e->nruns;
}

int ird_engine_health(const struct ird_engine *e, struct ird_err *err)
{
    int64_t now = ird_clock_now_ms();
    for (size_t i = 0; i < e->ninstances; i++) {
        const struct instance *in = &e->instances[i];
        if (in->type->health) {
            int rc = in->type->health(in->handle, now, err);
            if (rc)
                return rc;
        }
    }
    return 0;
}

const struct ird_playbook_set *ird_engine_playbooks(const struct ird_engine *e)
{
    return e->set ? e->set->set : NULL;
}

void ird_engine_close(struct ird_engine *e, void (*close_cb)(void *), void *data)
{
    e->closing = true;
    e->close_cb = close_cb;
    e->close_data = data;
    struct run *next;
    for (struct run *r = e->runs; r; r = next) {
        next = r->next_run;
        if (r->call_active) {
            /* Ask the action to stop; its answer releases the run. */
            if (r->call.action->cancel)
                r->call.action->cancel(&r->call);
        } else {
            run_release(r); /* at once, or when its writes are back */
        }
    }
    if (e->nruns == 0) {
        instances_free(e);
        if (e->close_cb) {
            e->close_cb = NULL;
            close_cb(data);
        }
    }
}

void ird_engine_free(struct ird_engine *e)
{
    if (!e)
        return;
    instances_free(e);
    set_unref(e->set);
    ird_guards_free(e->guards);
    free(e);
}
