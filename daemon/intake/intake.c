/* Sources from the config, the alert webhook handler, and the store job that
 * files alerts into incidents (new, repeated, resolved). */
#include "intake/intake.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/metrics.h"
#include "core/clock.h"
#include "core/log.h"
#include "intake/auth.h"
#include "intake/decode.h"
#include "store/audit.h"

/* Keys every source group may have besides the decoder's own. */
static const char *const common_keys[] = {"auth", "auto_resolve", NULL};

struct source {
    char *name;
    struct ird_decoder *decoder; /* NULL for type "discard" */
    struct ird_auth *auth;
    bool auto_resolve; /* resolve the incident when all its alerts are */
};

struct source_set {
    struct source *v;
    size_t n;
};

struct ird_intake {
    uv_loop_t *loop;
    struct ird_store *store;
    struct source_set sources;
    struct ird_decode_limits limits;
    size_t queue_max;
    size_t queued_alerts; /* accepted, waiting for their commit */
    bool stopped;
    ird_intake_listener listener;
    void *listener_data;
};

/* One request's alerts on their way into the store. */
struct intake_job {
    struct ird_intake *intake;
    struct ird_http_request *req;
    char *source;
    bool auto_resolve;
    cJSON *alerts;
    size_t nalerts;
    int64_t now_ms;
    /* Results, written by the worker. */
    int accepted, duplicates;
    cJSON *incidents; /* ids, unique, in order */
    cJSON *events;    /* [{kind, incident, alert}] for the listener, in order */
};

static const char *const severity_order[] = {"info", "warning", "error", "critical"};

static int severity_rank(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, severity_order[i]) == 0)
            return i;
    return 0;
}

/* ---- sources ------------------------------------------------------------------ */

static void sources_free(struct source_set *set)
{
    for (size_t i = 0; i < set->n; i++) {
        free(set->v[i].name);
        ird_decoder_free(set->v[i].decoder);
        ird_auth_free(set->v[i].auth);
    }
    free(set->v);
    set->v = NULL;
    set->n = 0;
}

/* Build every source of c; problems to diags. Returns 0 when all are good. */
static int sources_build(const struct ird_config *c, struct source_set *ret,
                         struct ird_diags *diags)
{
    ret->v = NULL;
    ret->n = 0;
    const config_setting_t *group = config_lookup(&c->doc, "sources");
    if (!group)
        return 0;
    size_t n = (size_t)config_setting_length(group);
    struct source *v = calloc(n ? n : 1, sizeof(*v));
    if (!v)
        return -ENOMEM;
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
        const char *name = config_setting_name(s);
        struct ird_err err = {{0}};
        v[i].name = strdup(name);
        if (!config_setting_is_group(s)) {
            ird_diag_at(diags, s, "sources.%s: expected a group { type = ...; auth = ...; }", name);
            bad = 1;
            continue;
        }
        int ar = 1;
        const config_setting_t *ars = config_setting_get_member(s, "auto_resolve");
        if (ars && config_setting_type(ars) != CONFIG_TYPE_BOOL) {
            ird_diag_at(diags, ars, "sources.%s.auto_resolve: expected true or false", name);
            bad = 1;
        } else if (ars) {
            ar = config_setting_get_bool(ars);
        }
        v[i].auto_resolve = ar;
        const char *type = NULL;
        if (config_setting_lookup_string(s, "type", &type) && strcmp(type, "discard") == 0) {
            for (int k = 0; k < config_setting_length(s); k++) {
                const char *key = config_setting_name(config_setting_get_elem(s, (unsigned)k));
                if (strcmp(key, "type") && strcmp(key, "auth")) {
                    ird_diag_at(diags, config_setting_get_elem(s, (unsigned)k),
                                "sources.%s.%s: unknown key", name, key);
                    bad = 1;
                }
            }
        } else if (ird_decoder_new(s, common_keys, &v[i].decoder, &err)) {
            ird_diag_add(diags, NULL, 0, "%s", err.msg);
            bad = 1;
        }
        err.msg[0] = '\0';
        if (ird_auth_new(s, &v[i].auth, &err)) {
            ird_diag_add(diags, NULL, 0, "%s", err.msg);
            bad = 1;
        }
    }
    /* The right credential on the wrong source is 403, not 401. */
    for (size_t i = 0; i < n && !bad; i++)
        for (size_t k = 0; k < n; k++)
            if (k != i && ird_auth_add_foreign(v[i].auth, v[k].auth))
                bad = 1;
    struct source_set set = {v, n};
    if (bad) {
        sources_free(&set);
        return -EINVAL;
    }
    *ret = set;
    return 0;
}

void ird_intake_check(const struct ird_config *c, struct ird_diags *diags)
{
    struct source_set set;
    if (sources_build(c, &set, diags) == 0)
        sources_free(&set);
}

static double gauge_queue(void *data)
{
    return (double)((struct ird_intake *)data)->queued_alerts;
}

static double gauge_open(void *data)
{
    struct ird_intake *in = data;
    sqlite3_stmt *st;
    double n = 0;
    if (sqlite3_prepare_v2(ird_store_reader(in->store),
                           "SELECT COUNT(*) FROM incidents WHERE state != 'resolved'", -1, &st,
                           NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            n = (double)sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    return n;
}

struct ird_intake *ird_intake_new(uv_loop_t *loop, struct ird_store *store)
{
    struct ird_intake *in = calloc(1, sizeof(*in));
    if (!in)
        return NULL;
    in->loop = loop;
    in->store = store;
    ird_metrics_define("ird_alerts_received_total", IRD_METRIC_COUNTER,
                       "Alerts received, by source and outcome (accepted, duplicate, "
                       "rejected_auth, rejected_invalid, rejected_overload, rejected_store).",
                       NULL, 0);
    ird_metrics_define("ird_alerts_truncated_total", IRD_METRIC_COUNTER,
                       "Alerts Alertmanager left out of its messages (truncatedAlerts).", NULL, 0);
    ird_metrics_define_gauge_fn("ird_intake_queue_depth",
                                "Alerts accepted and waiting for their commit.", gauge_queue, in);
    ird_metrics_define_gauge_fn("ird_incidents_open", "Incidents not resolved.", gauge_open, in);
    return in;
}

static const struct source *source_find(const struct ird_intake *in, const char *name)
{
    for (size_t i = 0; i < in->sources.n; i++)
        if (strcmp(in->sources.v[i].name, name) == 0)
            return &in->sources.v[i];
    return NULL;
}

int ird_intake_configure(struct ird_intake *in, const struct ird_config *c, struct ird_err *err)
{
    struct ird_diags diags = {IRD_BUF_INIT, 0};
    struct source_set set;
    int rc = sources_build(c, &set, &diags);
    if (rc) {
        ird_err_set(err, rc, "%s", diags.text.data ? diags.text.data : "sources: invalid");
        ird_diags_free(&diags);
        return rc;
    }
    ird_diags_free(&diags);
    for (size_t i = 0; i < set.n; i++) {
        const struct source *old = source_find(in, set.v[i].name);
        if (old)
            ird_auth_inherit(set.v[i].auth, old->auth);
    }
    sources_free(&in->sources);
    in->sources = set;
    in->limits.max_depth = (int)c->json_depth;
    in->limits.max_string = (size_t)c->string_bytes;
    in->limits.max_alerts = (size_t)c->alerts_per_request;
    in->queue_max = (size_t)c->intake_queue;
    return 0;
}

void ird_intake_set_listener(struct ird_intake *in, ird_intake_listener fn, void *data)
{
    in->listener = fn;
    in->listener_data = data;
}

void ird_intake_stop(struct ird_intake *in)
{
    if (in)
        in->stopped = true;
}

void ird_intake_free(struct ird_intake *in)
{
    if (!in)
        return;
    sources_free(&in->sources);
    free(in);
}

/* ---- the store job (worker thread) -------------------------------------------- */

static const char *jstr(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) && v->valuestring ? v->valuestring : "";
}

static int step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -EIO;
}

/* Statements come from the store's cache: compiled once per connection. */
static sqlite3_stmt *prep(sqlite3 *db, const char *sql)
{
    return ird_store_stmt(db, sql);
}

static int timeline_add(sqlite3 *db, const char *incident, int64_t at, const char *kind,
                        cJSON *detail /* consumed */)
{
    char *text = cJSON_PrintUnformatted(detail);
    cJSON_Delete(detail);
    sqlite3_stmt *st =
        prep(db, "INSERT INTO timeline(incident_id, at, kind, detail) VALUES (?1, ?2, ?3, ?4)");
    if (!st || !text) {
        sqlite3_reset(st);
        cJSON_free(text);
        return -EIO;
    }
    sqlite3_bind_text(st, 1, incident, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, at);
    sqlite3_bind_text(st, 3, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, text, -1, SQLITE_TRANSIENT);
    cJSON_free(text);
    return step_done(st);
}

static cJSON *alert_brief(const cJSON *alert)
{
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "source", jstr(alert, "source"));
    cJSON_AddStringToObject(d, "id", jstr(alert, "id"));
    cJSON_AddStringToObject(d, "status", jstr(alert, "status"));
    cJSON_AddStringToObject(d, "severity", jstr(alert, "severity"));
    cJSON_AddStringToObject(d, "title", jstr(alert, "title"));
    return d;
}

/* The open incident for key, or the newest one when none is open. */
static int find_incident(sqlite3 *db, const char *key, char *id, size_t idlen, char *state,
                         size_t statelen)
{
    sqlite3_stmt *st = prep(db, "SELECT id, state FROM incidents WHERE key = ?1 "
                                "ORDER BY (state != 'resolved') DESC, rowid DESC LIMIT 1");
    if (!st)
        return -EIO;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        snprintf(id, idlen, "%s", (const char *)sqlite3_column_text(st, 0));
        snprintf(state, statelen, "%s", (const char *)sqlite3_column_text(st, 1));
        rc = 0;
    } else {
        rc = rc == SQLITE_DONE ? -ENOENT : -EIO;
    }
    sqlite3_reset(st);
    return rc;
}

static int open_incident(sqlite3 *db, struct intake_job *j, const char *key, const cJSON *alert,
                         char *id, size_t idlen)
{
    sqlite3_stmt *st = prep(db, "SELECT COALESCE(MAX(rowid), 0) + 1 FROM incidents");
    if (!st || sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_reset(st);
        return -EIO;
    }
    sqlite3_int64 seq = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    /* inc-<UTC date>-<sequence>: readable, and a valid part of a Kubernetes
     * name, since playbooks name objects after incidents. */
    time_t secs = (time_t)(j->now_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    snprintf(id, idlen, "inc-%04d%02d%02d-%lld", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             (long long)seq);
    bool resolved = strcmp(jstr(alert, "status"), "resolved") == 0;
    st =
        prep(db, "INSERT INTO incidents(rowid, id, key, source, state, severity, title, namespace, "
                 "pod, opened_at, updated_at, resolved_at, resolved_by, hold_resolve) "
                 "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, ?11, ?12, ?13)");
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, seq);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, j->source, -1, SQLITE_STATIC);
    /* A resolution whose firing ird never saw is kept, as a resolved incident. */
    sqlite3_bind_text(st, 5, resolved ? "resolved" : "triggered", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, jstr(alert, "severity"), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, jstr(alert, "title"), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, jstr(alert, "namespace"), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 9, jstr(alert, "pod"), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 10, j->now_ms);
    if (resolved) {
        sqlite3_bind_int64(st, 11, j->now_ms);
        sqlite3_bind_text(st, 12, j->source, -1, SQLITE_STATIC);
    }
    sqlite3_bind_int(st, 13, j->auto_resolve ? 0 : 1);
    if (step_done(st))
        return -EIO;
    return timeline_add(db, id, j->now_ms, "incident.opened", alert_brief(alert));
}

/* Insert or update the alert row; *ret_changed says whether it is news
 * (new alert, or a status change) rather than a repeat. */
static int upsert_alert(sqlite3 *db, struct intake_job *j, const char *incident, const cJSON *alert,
                        bool *ret_changed)
{
    char *json = NULL;
    const char *dedup = jstr(alert, "id");
    const char *status = jstr(alert, "status");
    sqlite3_stmt *st = prep(db, "SELECT id, status FROM alerts WHERE incident_id = ?1 AND "
                                "source = ?2 AND dedup_key = ?3");
    int rc = -EIO;
    if (!st)
        goto out;
    sqlite3_bind_text(st, 1, incident, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, j->source, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, dedup, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        sqlite3_int64 rowid = sqlite3_column_int64(st, 0);
        *ret_changed = strcmp((const char *)sqlite3_column_text(st, 1), status) != 0;
        sqlite3_reset(st);
        if (!*ret_changed) {
            /* A repeat (senders resend on every interval): count it; the
             * stored alert stays the one of its last status change. */
            st = prep(db, "UPDATE alerts SET severity = ?2, last_seen = ?3, "
                          "received = received + 1 WHERE id = ?1");
            if (!st)
                goto out;
            sqlite3_bind_int64(st, 1, rowid);
            sqlite3_bind_text(st, 2, jstr(alert, "severity"), -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 3, j->now_ms);
            rc = step_done(st);
            goto out;
        }
        st = prep(db, "UPDATE alerts SET status = ?2, severity = ?3, last_seen = ?4, "
                      "received = received + 1, alert = ?5 WHERE id = ?1");
        if (!st)
            goto out;
        sqlite3_bind_int64(st, 1, rowid);
    } else if (step == SQLITE_DONE) {
        *ret_changed = true;
        sqlite3_reset(st);
        st = prep(db, "INSERT INTO alerts(incident_id, source, dedup_key, status, severity, "
                      "first_seen, last_seen, alert) VALUES (?1, ?6, ?7, ?2, ?3, ?4, ?4, ?5)");
        if (!st)
            goto out;
        sqlite3_bind_text(st, 1, incident, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, j->source, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 7, dedup, -1, SQLITE_STATIC);
    } else {
        sqlite3_reset(st);
        goto out;
    }
    json = cJSON_PrintUnformatted(alert);
    if (!json) {
        rc = -ENOMEM;
        goto out;
    }
    sqlite3_bind_text(st, 2, status, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, jstr(alert, "severity"), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, j->now_ms);
    sqlite3_bind_text(st, 5, json, -1, SQLITE_STATIC);
    rc = step_done(st);
out:
    cJSON_free(json);
    return rc;
}

/* Bring the incident's counters, severity and state in line with its alerts. */
static int update_incident(sqlite3 *db, struct intake_job *j, const char *incident,
                           const cJSON *alert, bool changed, bool *ret_resolved)
{
    *ret_resolved = false;
    sqlite3_stmt *st = prep(
        db, "UPDATE incidents SET updated_at = ?2, "
            "alert_count = (SELECT COUNT(*) FROM alerts WHERE incident_id = ?1), "
            "severity = CASE WHEN ?4 > (CASE severity WHEN 'critical' THEN 3 WHEN 'error' THEN 2 "
            "WHEN 'warning' THEN 1 ELSE 0 END) THEN ?3 ELSE severity END WHERE id = ?1");
    if (!st)
        return -EIO;
    sqlite3_bind_text(st, 1, incident, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, j->now_ms);
    sqlite3_bind_text(st, 3, jstr(alert, "severity"), -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, severity_rank(jstr(alert, "severity")));
    if (step_done(st))
        return -EIO;
    if (!changed)
        return 0;
    bool resolved = strcmp(jstr(alert, "status"), "resolved") == 0;
    if (timeline_add(db, incident, j->now_ms, resolved ? "alert.resolved" : "alert.firing",
                     alert_brief(alert)))
        return -EIO;
    if (!resolved)
        return 0;
    /* The last firing alert resolved: the incident resolves, unless its
     * source waits for a human. */
    st = prep(db, "UPDATE incidents SET state = 'resolved', resolved_at = ?2, resolved_by = ?3 "
                  "WHERE id = ?1 AND state != 'resolved' AND hold_resolve = 0 AND NOT EXISTS "
                  "(SELECT 1 FROM alerts WHERE incident_id = ?1 AND status = 'firing')");
    if (!st)
        return -EIO;
    sqlite3_bind_text(st, 1, incident, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, j->now_ms);
    sqlite3_bind_text(st, 3, j->source, -1, SQLITE_STATIC);
    if (step_done(st))
        return -EIO;
    if (sqlite3_changes(db) > 0) {
        *ret_resolved = true;
        return timeline_add(db, incident, j->now_ms, "incident.resolved",
                            cJSON_CreateString("all alerts resolved"));
    }
    return 0;
}

static void note_incident(struct intake_job *j, const char *id)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, j->incidents)
        if (strcmp(e->valuestring, id) == 0)
            return;
    cJSON_AddItemToArray(j->incidents, cJSON_CreateString(id));
}

static void add_event(struct intake_job *j, enum ird_intake_event kind, const char *incident,
                      int alert_index)
{
    cJSON *e = cJSON_CreateObject();
    cJSON_AddNumberToObject(e, "kind", kind);
    cJSON_AddStringToObject(e, "incident", incident);
    cJSON_AddNumberToObject(e, "alert", alert_index);
    cJSON_AddItemToArray(j->events, e);
}

static int apply_alerts(sqlite3 *db, void *data)
{
    struct intake_job *j = data;
    j->accepted = j->duplicates = 0;
    cJSON_Delete(j->incidents);
    cJSON_Delete(j->events);
    j->incidents = cJSON_CreateArray();
    j->events = cJSON_CreateArray();
    int index = -1;
    const cJSON *alert;
    cJSON_ArrayForEach(alert, j->alerts) {
        index++;
        char key[1024], id[64], state[32];
        bool opened = false;
        snprintf(key, sizeof(key), "%s:%s", j->source, jstr(alert, "id"));
        int rc = find_incident(db, key, id, sizeof(id), state, sizeof(state));
        bool firing = strcmp(jstr(alert, "status"), "firing") == 0;
        /* A new firing after the incident was resolved opens a new incident. */
        if (rc == -ENOENT || (rc == 0 && firing && strcmp(state, "resolved") == 0)) {
            rc = open_incident(db, j, key, alert, id, sizeof(id));
            opened = firing;
        }
        if (rc)
            return rc;
        bool changed = false, resolved = false;
        if (upsert_alert(db, j, id, alert, &changed) ||
            update_incident(db, j, id, alert, changed, &resolved))
            return -EIO;
        if (changed) {
            /* The audit trail records news, not the repeats senders send on
             * every interval (those only bump the alert's counter). */
            cJSON *d = alert_brief(alert);
            int arc = ird_audit_append(db, j->now_ms, j->source, "alert.received", id, d);
            if (!arc && opened)
                arc = ird_audit_append(db, j->now_ms, j->source, "incident.opened", id, d);
            if (!arc && resolved)
                arc = ird_audit_append(db, j->now_ms, j->source, "incident.resolved", id, d);
            cJSON_Delete(d);
            if (arc)
                return -EIO;
            j->accepted++;
            add_event(j,
                      opened   ? IRD_INTAKE_OPENED
                      : firing ? IRD_INTAKE_FIRING
                               : IRD_INTAKE_RESOLVED,
                      id, index);
            if (resolved)
                add_event(j, IRD_INTAKE_INCIDENT_RESOLVED, id, index);
        } else {
            j->duplicates++;
        }
        note_incident(j, id);
    }
    return 0;
}

/* ---- the handler (loop thread) ------------------------------------------------ */

static void count(const char *source, const char *outcome, double n)
{
    char labels[320];
    snprintf(labels, sizeof(labels), "source=\"%s\",outcome=\"%s\"", source, outcome);
    ird_metrics_add("ird_alerts_received_total", labels, n);
}

static void job_free(struct intake_job *j)
{
    cJSON_Delete(j->alerts);
    cJSON_Delete(j->incidents);
    cJSON_Delete(j->events);
    free(j->source);
    free(j);
}

static void alerts_committed(int status, void *data)
{
    struct intake_job *j = data;
    struct ird_intake *in = j->intake;
    in->queued_alerts -= j->nalerts;
    if (status) {
        const struct source *src = source_find(in, j->source);
        if (src)
            ird_auth_forget(src->auth, j->req->headers, j->req->nheaders);
        count(j->source, "rejected_store", (double)j->nalerts);
        ird_log(IRD_LOG_ERROR, "cannot store alerts", IRD_LS("source", j->source),
                IRD_LS("reason", ird_strerror(status)));
        static const char *const hdr[] = {"Retry-After: 5", NULL};
        ird_http_respond_error(j->req, 503, "store unavailable",
                               "the alerts were not stored; send them again", hdr);
        job_free(j);
        return;
    }
    if (j->accepted)
        count(j->source, "accepted", j->accepted);
    if (j->duplicates)
        count(j->source, "duplicate", j->duplicates);
    /* The engine hears of new and changed incidents once they are durable. */
    const cJSON *e;
    cJSON_ArrayForEach(e, j->events) {
        if (!in->listener)
            break;
        const cJSON *alert =
            cJSON_GetArrayItem(j->alerts, cJSON_GetObjectItemCaseSensitive(e, "alert")->valueint);
        in->listener((enum ird_intake_event)cJSON_GetObjectItemCaseSensitive(e, "kind")->valueint,
                     cJSON_GetObjectItemCaseSensitive(e, "incident")->valuestring, alert,
                     in->listener_data);
    }
    cJSON *out = cJSON_CreateObject();
    cJSON_AddNumberToObject(out, "accepted", j->accepted);
    cJSON_AddNumberToObject(out, "duplicates", j->duplicates);
    cJSON_AddItemToObject(out, "incidents", j->incidents);
    j->incidents = NULL;
    char *text = cJSON_PrintUnformatted(out);
    cJSON_Delete(out);
    if (text) {
        ird_http_respond(j->req, 202, "application/json", NULL, text, strlen(text));
        cJSON_free(text);
    } else {
        ird_http_respond_error(j->req, 500, "internal error", "out of memory", NULL);
    }
    job_free(j);
}

static void reject_overload(struct ird_http_request *req, const char *source, size_t n,
                            const char *detail)
{
    count(source, "rejected_overload", n ? (double)n : 1);
    static const char *const hdr[] = {"Retry-After: 1", NULL};
    ird_http_respond_error(req, 503, "overloaded", detail, hdr);
}

void ird_intake_handle(struct ird_intake *in, struct ird_http_request *req)
{
    const struct source *src = source_find(in, req->params[0]);
    if (!src) {
        ird_http_respond_error(req, 404, "not found", "no source with that name is configured",
                               NULL);
        return;
    }
    const char *scheme = NULL;
    enum ird_auth_result ar = ird_auth_check(src->auth, req->headers, req->nheaders, req->query,
                                             req->body.data ? req->body.data : "", req->body.len,
                                             ird_clock_now_ms(), &scheme);
    if (ar != IRD_AUTH_OK) {
        count(src->name, "rejected_auth", 1);
        ird_log(IRD_LOG_WARN, "alert refused: authentication failed", IRD_LS("source", src->name),
                IRD_LS("scheme", scheme ? scheme : ""),
                IRD_LS("reason", ird_auth_reason(src->auth)),
                IRD_LI("status", ar == IRD_AUTH_FORBIDDEN ? 403 : 401));
        if (ar == IRD_AUTH_FORBIDDEN)
            ird_http_respond_error(req, 403, "forbidden",
                                   "this credential is not allowed to post to this source", NULL);
        else
            ird_http_respond_error(req, 401, "unauthorized",
                                   "missing or invalid credentials for this source", NULL);
        return;
    }
    if (!src->decoder) { /* type "discard": authenticated and read, then dropped */
        ird_http_respond(req, 204, NULL, NULL, NULL, 0);
        return;
    }
    if (in->stopped || in->queued_alerts >= in->queue_max) {
        ird_auth_forget(src->auth, req->headers, req->nheaders);
        reject_overload(req, src->name, 0,
                        in->stopped ? "ird is shutting down; send again shortly"
                                    : "the intake queue is full; send again shortly");
        return;
    }
    cJSON *alerts = NULL;
    long truncated = 0;
    struct ird_err err = {{0}};
    const char *ctype = ird_http_header_get(req->headers, req->nheaders, "Content-Type");
    int rc = ird_decode(src->decoder, src->name, ctype, req->headers, req->nheaders,
                        req->body.data ? req->body.data : "", req->body.len, &in->limits, &alerts,
                        &truncated, &err);
    if (rc) {
        /* Not stored: a signed sender may retry with the same webhook-id. */
        ird_auth_forget(src->auth, req->headers, req->nheaders);
        count(src->name, "rejected_invalid", 1);
        int status = rc == -EMSGSIZE ? 413 : rc == -ENOTSUP ? 415 : rc == -ENOMEM ? 503 : 400;
        const char *word = status == 413   ? "too many alerts"
                           : status == 415 ? "unsupported media type"
                           : status == 503 ? "service unavailable"
                                           : "invalid alert";
        ird_log(IRD_LOG_WARN, "alert refused: invalid", IRD_LS("source", src->name),
                IRD_LI("status", status), IRD_LS("reason", err.msg));
        ird_http_respond_error(req, status, word, err.msg, NULL);
        return;
    }
    if (truncated > 0) {
        char labels[300];
        snprintf(labels, sizeof(labels), "source=\"%s\"", src->name);
        ird_metrics_add("ird_alerts_truncated_total", labels, (double)truncated);
    }
    size_t n = (size_t)cJSON_GetArraySize(alerts);
    if (n == 0) {
        cJSON_Delete(alerts);
        ird_http_respond(req, 202, "application/json", NULL,
                         "{\"accepted\":0,\"duplicates\":0,\"incidents\":[]}", 44);
        return;
    }
    if (in->queued_alerts + n > in->queue_max) {
        cJSON_Delete(alerts);
        ird_auth_forget(src->auth, req->headers, req->nheaders);
        reject_overload(req, src->name, n, "the intake queue is full; send again shortly");
        return;
    }
    struct intake_job *j = calloc(1, sizeof(*j));
    if (!j || !(j->source = strdup(src->name))) {
        free(j);
        cJSON_Delete(alerts);
        ird_http_respond_error(req, 503, "service unavailable", "out of memory", NULL);
        return;
    }
    j->intake = in;
    j->req = req;
    j->alerts = alerts;
    j->nalerts = n;
    j->auto_resolve = src->auto_resolve;
    j->now_ms = ird_clock_now_ms();
    rc = ird_store_submit(in->store, apply_alerts, alerts_committed, j);
    if (rc) {
        job_free(j);
        reject_overload(req, src->name, n, "ird is shutting down; send again shortly");
        return;
    }
    in->queued_alerts += n;
}
