/* Operator API for playbooks and runs: list and show runs with their steps,
 * approve or cancel, list playbooks, trigger a playbook by hand. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "engine/engine.h"
#include "serve/daemon.h"

#define RUN_COLUMNS                                                                                \
    "rowid, id, playbook, incident_id, phase, mode, state, dry_run, created_at, updated_at, "      \
    "finished_at, triggered_by, error"

static cJSON *run_row(sqlite3_stmt *st)
{
    cJSON *o = cJSON_CreateObject();
    ird_api_add_text(o, "id", st, 1);
    ird_api_add_text(o, "playbook", st, 2);
    ird_api_add_text(o, "incident", st, 3);
    ird_api_add_text(o, "phase", st, 4);
    ird_api_add_text(o, "mode", st, 5);
    ird_api_add_text(o, "state", st, 6);
    cJSON_AddBoolToObject(o, "dry_run", sqlite3_column_int(st, 7) != 0);
    ird_api_add_time(o, "created_at", st, 8);
    ird_api_add_time(o, "updated_at", st, 9);
    ird_api_add_time(o, "finished_at", st, 10);
    ird_api_add_text(o, "triggered_by", st, 11);
    ird_api_add_text(o, "error", st, 12);
    return o;
}

static void add_json(cJSON *o, const char *key, sqlite3_stmt *st, int col)
{
    const char *text = (const char *)sqlite3_column_text(st, col);
    cJSON *v = text ? cJSON_Parse(text) : NULL;
    cJSON_AddItemToObject(o, key, v ? v : cJSON_CreateNull());
}

static struct ird_store *store_of(void *data)
{
    return ((struct ird_api *)data)->daemon->store;
}

static struct ird_engine *engine_of(void *data)
{
    return ((struct ird_api *)data)->daemon->engine;
}

static const char *const run_states[] = {"running",   "waiting_approval", "blocked",
                                         "succeeded", "failed",           "cancelled"};

void ird_api_handle_runs(struct ird_http_request *req, void *data)
{
    if (ird_api_authorize(data, req, IRD_ROLE_VIEWER, NULL, NULL))
        return;
    char state[32], playbook[256], incident[64], cur[32], lim[16];
    int bad = 0;
    const char *q_state = ird_api_query(req, "state", state, sizeof(state), &bad);
    const char *q_pb =
        bad ? NULL : ird_api_query(req, "playbook", playbook, sizeof(playbook), &bad);
    const char *q_inc =
        bad ? NULL : ird_api_query(req, "incident", incident, sizeof(incident), &bad);
    const char *q_cur = bad ? NULL : ird_api_query(req, "cursor", cur, sizeof(cur), &bad);
    const char *q_lim = bad ? NULL : ird_api_query(req, "limit", lim, sizeof(lim), &bad);
    if (bad)
        return;
    if (q_state) {
        int ok = 0;
        for (size_t i = 0; i < sizeof(run_states) / sizeof(run_states[0]); i++)
            ok |= strcmp(q_state, run_states[i]) == 0;
        if (!ok) {
            ird_http_respond_error(req, 400, "bad request",
                                   "state must be running, waiting_approval, blocked, succeeded, "
                                   "failed or cancelled",
                                   NULL);
            return;
        }
    }
    long limit;
    long long cursor;
    if (ird_api_page(req, q_lim, q_cur, &limit, &cursor))
        return;
    sqlite3 *db = ird_store_reader(store_of(data));
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "SELECT " RUN_COLUMNS " FROM runs WHERE (?1 IS NULL OR state = ?1) AND "
                           "(?2 IS NULL OR playbook = ?2) AND (?3 IS NULL OR incident_id = ?3) AND "
                           "(?4 = 0 OR rowid < ?4) ORDER BY rowid DESC LIMIT ?5",
                           -1, &st, NULL) != SQLITE_OK) {
        ird_http_respond_error(req, 500, "internal error", sqlite3_errmsg(db), NULL);
        return;
    }
    if (q_state)
        sqlite3_bind_text(st, 1, q_state, -1, SQLITE_TRANSIENT);
    if (q_pb)
        sqlite3_bind_text(st, 2, q_pb, -1, SQLITE_TRANSIENT);
    if (q_inc)
        sqlite3_bind_text(st, 3, q_inc, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 4, cursor);
    sqlite3_bind_int64(st, 5, limit + 1);
    cJSON *out = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(out, "runs");
    long n = 0;
    long long last = 0;
    int more = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n == limit) {
            more = 1;
            break;
        }
        cJSON_AddItemToArray(list, run_row(st));
        last = sqlite3_column_int64(st, 0);
        n++;
    }
    sqlite3_finalize(st);
    ird_api_add_cursor(out, more, last);
    ird_api_respond_json(req, 200, out);
}

void ird_api_handle_run(struct ird_http_request *req, void *data)
{
    if (ird_api_authorize(data, req, IRD_ROLE_VIEWER, NULL, NULL))
        return;
    sqlite3 *db = ird_store_reader(store_of(data));
    sqlite3_stmt *st = ird_api_row_by_id(
        req, db, "SELECT " RUN_COLUMNS ", context FROM runs WHERE id = ?1", "run");
    if (!st)
        return;
    cJSON *run = run_row(st);
    /* The target and parameters the run acts on (the alert stays in the incident). */
    cJSON *ctx = cJSON_Parse((const char *)sqlite3_column_text(st, 13));
    sqlite3_finalize(st);
    cJSON *target = cJSON_DetachItemFromObjectCaseSensitive(ctx, "target");
    cJSON *param = cJSON_DetachItemFromObjectCaseSensitive(ctx, "param");
    cJSON_Delete(ctx);
    cJSON_AddItemToObject(run, "target", target ? target : cJSON_CreateObject());
    cJSON_AddItemToObject(run, "params", param ? param : cJSON_CreateObject());
    cJSON *steps = cJSON_AddArrayToObject(run, "steps");
    if (sqlite3_prepare_v2(db,
                           "SELECT idx, name, action, state, params, result, planned, error, "
                           "attempts, started_at, finished_at, approved_by, forced_by FROM steps "
                           "WHERE run_id = ?1 ORDER BY idx",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, req->params[0], -1, SQLITE_TRANSIENT);
        while (sqlite3_step(st) == SQLITE_ROW) {
            cJSON *s = cJSON_CreateObject();
            cJSON_AddNumberToObject(s, "index", sqlite3_column_int(st, 0));
            ird_api_add_text(s, "name", st, 1);
            ird_api_add_text(s, "action", st, 2);
            ird_api_add_text(s, "state", st, 3);
            add_json(s, "params", st, 4);
            add_json(s, "result", st, 5);
            add_json(s, "planned", st, 6);
            ird_api_add_text(s, "error", st, 7);
            cJSON_AddNumberToObject(s, "attempts", sqlite3_column_int(st, 8));
            ird_api_add_time(s, "started_at", st, 9);
            ird_api_add_time(s, "finished_at", st, 10);
            ird_api_add_text(s, "approved_by", st, 11);
            ird_api_add_text(s, "forced_by", st, 12);
            cJSON_AddItemToArray(steps, s);
        }
        sqlite3_finalize(st);
    }
    ird_api_respond_json(req, 200, run);
}

/* The request body as a JSON object ({} when empty); NULL after a 400. */
static cJSON *body_object(struct ird_http_request *req)
{
    if (req->body.len == 0)
        return cJSON_CreateObject();
    cJSON *o = cJSON_ParseWithLength(req->body.data, req->body.len);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        ird_http_respond_error(req, 400, "bad request", "the body must be a JSON object", NULL);
        return NULL;
    }
    return o;
}

static int errno_status(int rc)
{
    switch (rc) {
    case -ENOENT:
        return 404;
    case -EALREADY:
        return 409;
    case -EPERM:
        return 403;
    case -EBUSY:
    case -ESHUTDOWN:
        return 503;
    default:
        return 422;
    }
}

static void respond_ok(struct ird_http_request *req, int status, const char *run_id,
                       const char *what)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "run", run_id);
    cJSON_AddStringToObject(o, "status", what);
    ird_api_respond_json(req, status, o);
}

void ird_api_handle_approve(struct ird_http_request *req, void *data)
{
    const char *actor = NULL;
    enum ird_role role = IRD_ROLE_NONE;
    if (ird_api_authorize(data, req, IRD_ROLE_RESPONDER, &actor, &role))
        return;
    cJSON *body = body_object(req);
    if (!body)
        return;
    const cJSON *step = cJSON_GetObjectItemCaseSensitive(body, "step");
    const cJSON *force = cJSON_GetObjectItemCaseSensitive(body, "force");
    if ((step && !cJSON_IsString(step)) || (force && !cJSON_IsBool(force))) {
        cJSON_Delete(body);
        ird_http_respond_error(req, 400, "bad request",
                               "step must be a string and force true or false", NULL);
        return;
    }
    bool forced = cJSON_IsTrue(force);
    if (forced && role < IRD_ROLE_ADMIN) {
        cJSON_Delete(body);
        ird_http_respond_error(req, 403, "forbidden",
                               "overriding a guard with force needs the admin role", NULL);
        return;
    }
    char who[160];
    snprintf(who, sizeof(who), "api:%s", actor);
    struct ird_err err = {{0}};
    int rc = ird_engine_approve(engine_of(data), req->params[0], step ? step->valuestring : NULL,
                                forced, who, &err);
    cJSON_Delete(body);
    if (rc) {
        ird_http_respond_error(req, errno_status(rc), "cannot approve", err.msg, NULL);
        return;
    }
    respond_ok(req, 202, req->params[0], forced ? "forced" : "approved");
}

void ird_api_handle_cancel(struct ird_http_request *req, void *data)
{
    const char *actor = NULL;
    if (ird_api_authorize(data, req, IRD_ROLE_RESPONDER, &actor, NULL))
        return;
    char who[160];
    snprintf(who, sizeof(who), "api:%s", actor);
    struct ird_err err = {{0}};
    int rc = ird_engine_cancel(engine_of(data), req->params[0], who, &err);
    if (rc) {
        ird_http_respond_error(req, errno_status(rc), "cannot cancel", err.msg, NULL);
        return;
    }
    respond_ok(req, 202, req->params[0], "cancelling");
}

static const char *mode_name(enum ird_playbook_mode m)
{
    return m == IRD_PLAYBOOK_AUTO ? "auto" : m == IRD_PLAYBOOK_APPROVE ? "approve" : "manual";
}

void ird_api_handle_playbooks(struct ird_http_request *req, void *data)
{
    if (ird_api_authorize(data, req, IRD_ROLE_VIEWER, NULL, NULL))
        return;
    const struct ird_playbook_set *set = ird_engine_playbooks(engine_of(data));
    cJSON *out = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(out, "playbooks");
    for (size_t i = 0; set && i < ird_playbook_set_count(set); i++) {
        const struct ird_playbook *pb = ird_playbook_set_at(set, i);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", pb->name);
        cJSON_AddStringToObject(o, "description", pb->description);
        cJSON_AddStringToObject(o, "mode", mode_name(pb->mode));
        cJSON_AddStringToObject(o, "file", pb->file);
        cJSON_AddBoolToObject(o, "dry_run", pb->dry_run);
        cJSON_AddNumberToObject(o, "priority", pb->priority);
        cJSON *steps = cJSON_AddArrayToObject(o, "steps");
        for (size_t k = 0; k < pb->nsteps; k++) {
            cJSON *s = cJSON_CreateObject();
            cJSON_AddStringToObject(s, "name", pb->steps[k].name);
            cJSON_AddStringToObject(s, "action", pb->steps[k].action);
            cJSON_AddItemToArray(steps, s);
        }
        cJSON *params = cJSON_AddArrayToObject(o, "params");
        for (size_t k = 0; k < pb->nparams; k++) {
            cJSON *p = cJSON_CreateObject();
            cJSON_AddStringToObject(p, "name", pb->params[k].name);
            cJSON_AddBoolToObject(p, "required", pb->params[k].required);
            cJSON_AddStringToObject(p, "description", pb->params[k].description);
            cJSON_AddItemToArray(params, p);
        }
        cJSON_AddItemToArray(list, o);
    }
    ird_api_respond_json(req, 200, out);
}

static void triggered(int status, const char *run_id, const char *error, void *data)
{
    struct ird_http_request *req = data;
    if (status) {
        ird_http_respond_error(req, 503, "store unavailable", "the run was not stored; try again",
                               NULL);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "run", run_id);
    cJSON_AddStringToObject(o, "status", error ? "failed" : "started");
    if (error)
        cJSON_AddStringToObject(o, "error", error);
    ird_api_respond_json(req, 201, o);
}

void ird_api_handle_trigger(struct ird_http_request *req, void *data)
{
    const char *actor = NULL;
    if (ird_api_authorize(data, req, IRD_ROLE_RESPONDER, &actor, NULL))
        return;
    cJSON *body = body_object(req);
    if (!body)
        return;
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(body, "params");
    const cJSON *incident = cJSON_GetObjectItemCaseSensitive(body, "incident");
    const cJSON *dry = cJSON_GetObjectItemCaseSensitive(body, "dry_run");
    if ((params && !cJSON_IsObject(params)) || (incident && !cJSON_IsString(incident)) ||
        (dry && !cJSON_IsBool(dry))) {
        cJSON_Delete(body);
        ird_http_respond_error(req, 400, "bad request",
                               "params must be an object, incident a string, dry_run true or false",
                               NULL);
        return;
    }
    char who[160];
    snprintf(who, sizeof(who), "api:%s", actor);
    struct ird_err err = {{0}};
    int rc = ird_engine_trigger(engine_of(data), req->params[0], params,
                                incident ? incident->valuestring : NULL, cJSON_IsTrue(dry), who,
                                triggered, req, &err);
    cJSON_Delete(body);
    if (rc)
        ird_http_respond_error(req, errno_status(rc), "cannot trigger", err.msg, NULL);
}
