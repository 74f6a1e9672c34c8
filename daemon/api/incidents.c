/* Operator actions on incidents: acknowledge (escalation stops there once it
 * exists) and resolve by hand (for sources with auto_resolve = false, or an
 * incident a person closes). Both are stored, on the timeline and in the
 * audit trail; resolving runs the playbooks' on_resolve steps. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "core/clock.h"
#include "engine/engine.h"
#include "serve/daemon.h"
#include "store/sqlq.h"

struct transition {
    struct ird_api *api;
    struct ird_http_request *req;
    bool resolve;
    char actor[160];
    int update_index;
};

/* The incident's current state, or NULL when there is none (buf holds it). */
static const char *incident_state(sqlite3 *db, const char *id, char *buf, size_t len)
{
    sqlite3_stmt *st;
    const char *state = NULL;
    if (sqlite3_prepare_v2(db, "SELECT state FROM incidents WHERE id = ?1", -1, &st, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) {
            snprintf(buf, len, "%s", (const char *)sqlite3_column_text(st, 0));
            state = buf;
        }
        sqlite3_finalize(st);
    }
    return state;
}

static cJSON *first_alert(sqlite3 *db, const char *id)
{
    sqlite3_stmt *st;
    cJSON *alert = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT alert FROM alerts WHERE incident_id = ?1 ORDER BY id LIMIT 1",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            alert = cJSON_Parse((const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
    }
    return alert;
}

static void transitioned(int status, const struct ird_sqlq *q, void *data)
{
    struct transition *t = data;
    struct ird_http_request *req = t->req;
    sqlite3 *db = ird_store_reader(t->api->daemon->store);
    if (status) {
        ird_http_respond_error(req, 503, "store unavailable", "nothing was changed; try again",
                               NULL);
        free(t);
        return;
    }
    char buf[32];
    const char *state = incident_state(db, req->params[0], buf, sizeof(buf));
    if (ird_sqlq_changes(q, t->update_index) == 0) {
        char detail[160];
        snprintf(detail, sizeof(detail), "incident %s is already %s", req->params[0],
                 state ? state : "gone");
        ird_http_respond_error(req, 409, "conflict", detail, NULL);
        free(t);
        return;
    }
    if (t->resolve) {
        /* The playbooks that ran for it get their on_resolve steps. */
        cJSON *alert = first_alert(db, req->params[0]);
        ird_engine_on_incident(IRD_INTAKE_INCIDENT_RESOLVED, req->params[0], alert,
                               t->api->daemon->engine);
        cJSON_Delete(alert);
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "incident", req->params[0]);
    cJSON_AddStringToObject(o, "state", state ? state : "");
    cJSON_AddStringToObject(o, "by", t->actor);
    ird_api_respond_json(req, 200, o);
    free(t);
}

static void transition(struct ird_http_request *req, void *data, bool resolve)
{
    struct ird_api *a = data;
    const char *actor = NULL;
    if (ird_api_authorize(a, req, IRD_ROLE_RESPONDER, &actor, NULL))
        return;
    char buf[32];
    if (!incident_state(ird_store_reader(a->daemon->store), req->params[0], buf, sizeof(buf))) {
        ird_http_respond_error(req, 404, "not found", "no incident with that id", NULL);
        return;
    }
    struct transition *t = calloc(1, sizeof(*t));
    struct ird_sqlq *q = t ? ird_sqlq_new() : NULL;
    if (!q) {
        free(t);
        ird_http_respond_error(req, 503, "service unavailable", "out of memory", NULL);
        return;
    }
    t->api = a;
    t->req = req;
    t->resolve = resolve;
    snprintf(t->actor, sizeof(t->actor), "api:%s", actor);
    int64_t now = ird_clock_now_ms();
    const char *id = req->params[0];
    const char *kind = resolve ? "incident.resolved" : "incident.acknowledged";
    if (resolve)
        t->update_index = ird_sqlq_add(
            q,
            "UPDATE incidents SET state = 'resolved', resolved_at = ?2, resolved_by = ?3, "
            "updated_at = ?2 WHERE id = ?1 AND state != 'resolved'",
            "sis", id, now, t->actor);
    else
        t->update_index = ird_sqlq_add(
            q,
            "UPDATE incidents SET state = 'acknowledged', acknowledged_at = ?2, "
            "acknowledged_by = ?3, updated_at = ?2 WHERE id = ?1 AND state = 'triggered'",
            "sis", id, now, t->actor);
    cJSON *detail = cJSON_CreateObject();
    cJSON_AddStringToObject(detail, "by", t->actor);
    /* Only when the update took: the row's state says so. */
    ird_sqlq_add(q,
                 "INSERT INTO timeline(incident_id, at, kind, detail) SELECT ?1, ?2, ?3, ?4 "
                 "WHERE changes() > 0",
                 "sisj", id, now, kind, detail);
    ird_sqlq_audit_if(q, t->update_index, now, t->actor, kind, id, detail);
    cJSON_Delete(detail);
    if (ird_sqlq_submit(a->daemon->store, q, transitioned, t)) {
        free(t);
        ird_http_respond_error(req, 503, "service unavailable", "ird is shutting down", NULL);
    }
}

void ird_api_handle_ack(struct ird_http_request *req, void *data)
{
    transition(req, data, false);
}

void ird_api_handle_resolve(struct ird_http_request *req, void *data)
{
    transition(req, data, true);
}
