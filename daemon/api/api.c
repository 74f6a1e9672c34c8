/* Operator API: token roles, and the incident endpoints (list with filters
 * and cursor pagination, one incident with its alerts and timeline). */
#include "api/api.h"
#include "api/internal.h"

#include <cjson/cJSON.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/clock.h"
#include "serve/daemon.h"

struct api_token {
    char *name;
    enum ird_role role;
    unsigned char digest[SHA256_DIGEST_LENGTH];
};

static const char *const role_names[] = {"none", "viewer", "responder", "admin"};

static void handle_incidents(struct ird_http_request *req, void *data);
static void handle_incident(struct ird_http_request *req, void *data);
static void handle_audit(struct ird_http_request *req, void *data);

static const struct ird_route api_routes[] = {
    {"GET", "/v1/incidents", "incidents", IRD_ON_API, handle_incidents},
    {"GET", "/v1/incidents/:id", "incident", IRD_ON_API, handle_incident},
    {"POST", "/v1/incidents/:id/ack", "incident_ack", IRD_ON_API, ird_api_handle_ack},
    {"POST", "/v1/incidents/:id/resolve", "incident_resolve", IRD_ON_API, ird_api_handle_resolve},
    {"GET", "/v1/audit", "audit", IRD_ON_API, handle_audit},
    {"GET", "/v1/runs", "runs", IRD_ON_API, ird_api_handle_runs},
    {"GET", "/v1/runs/:id", "run", IRD_ON_API, ird_api_handle_run},
    {"POST", "/v1/runs/:id/approve", "run_approve", IRD_ON_API, ird_api_handle_approve},
    {"POST", "/v1/runs/:id/cancel", "run_cancel", IRD_ON_API, ird_api_handle_cancel},
    {"GET", "/v1/playbooks", "playbooks", IRD_ON_API, ird_api_handle_playbooks},
    {"POST", "/v1/playbooks/:name/runs", "trigger", IRD_ON_API, ird_api_handle_trigger},
};

const struct ird_route *ird_api_routes(size_t *ret_n)
{
    *ret_n = sizeof(api_routes) / sizeof(api_routes[0]);
    return api_routes;
}

struct ird_api *ird_api_new(struct ird_daemon *d)
{
    struct ird_api *a = calloc(1, sizeof(*a));
    if (a)
        a->daemon = d;
    return a;
}

static void tokens_free(struct api_token *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(t[i].name);
        OPENSSL_cleanse(t[i].digest, sizeof(t[i].digest));
    }
    free(t);
}

void ird_api_free(struct ird_api *a)
{
    if (!a)
        return;
    tokens_free(a->tokens, a->ntokens);
    free(a);
}

static enum ird_role role_parse(const char *s)
{
    for (int r = IRD_ROLE_VIEWER; r <= IRD_ROLE_ADMIN; r++)
        if (strcmp(s, role_names[r]) == 0)
            return (enum ird_role)r;
    return IRD_ROLE_NONE;
}

/* Parse api.tokens into a new array; problems go to diags (when given) and
 * make the result NULL. */
static int tokens_parse(const struct ird_config *c, struct ird_diags *diags, struct api_token **ret,
                        size_t *ret_n)
{
    *ret = NULL;
    *ret_n = 0;
    const config_setting_t *api = config_lookup(&c->doc, "api");
    if (!api)
        return 0;
    int bad = 0;
    for (int i = 0; i < config_setting_length(api); i++) {
        const config_setting_t *s = config_setting_get_elem(api, (unsigned)i);
        if (strcmp(config_setting_name(s), "tokens") != 0) {
            ird_diag_at(diags, s, "api.%s: unknown key", config_setting_name(s));
            bad = 1;
        }
    }
    const config_setting_t *list = config_setting_get_member(api, "tokens");
    if (!list)
        return bad ? -EINVAL : 0;
    if (!config_setting_is_list(list) && !config_setting_is_array(list)) {
        ird_diag_at(
            diags, list,
            "api.tokens: expected a list ( { name = ...; role = ...; token_file = ...; } )");
        return -EINVAL;
    }
    size_t n = (size_t)config_setting_length(list);
    struct api_token *t = calloc(n ? n : 1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(list, (unsigned)i);
        const char *name = NULL, *role = NULL;
        if (!config_setting_is_group(e)) {
            ird_diag_at(diags, e, "api.tokens[%zu]: expected a group { name; role; token }", i);
            bad = 1;
            continue;
        }
        for (int k = 0; k < config_setting_length(e); k++) {
            const char *key = config_setting_name(config_setting_get_elem(e, (unsigned)k));
            if (strcmp(key, "name") && strcmp(key, "role") && strcmp(key, "token") &&
                strcmp(key, "token_file") && strcmp(key, "token_env")) {
                ird_diag_at(diags, config_setting_get_elem(e, (unsigned)k),
                            "api.tokens[%zu].%s: unknown key", i, key);
                bad = 1;
            }
        }
        if (!config_setting_lookup_string(e, "name", &name) || !*name) {
            ird_diag_at(diags, e, "api.tokens[%zu]: name is required", i);
            bad = 1;
            continue;
        }
        for (size_t j = 0; j < i; j++)
            if (t[j].name && strcmp(t[j].name, name) == 0) {
                ird_diag_at(diags, e, "api.tokens[%zu]: the name \"%s\" is used twice", i, name);
                bad = 1;
            }
        if (!config_setting_lookup_string(e, "role", &role) || role_parse(role) == IRD_ROLE_NONE) {
            ird_diag_at(diags, e, "api.tokens[%zu] (%s): role must be viewer, responder or admin",
                        i, name);
            bad = 1;
            continue;
        }
        char *secret = NULL;
        struct ird_err err = {{0}};
        int rc = ird_config_secret(e, "token", &secret, &err);
        if (rc == -ENOENT && !err.msg[0])
            ird_err_set(&err, rc, "give one of token, token_file, token_env");
        if (rc || !secret || strlen(secret) < 16) {
            ird_diag_at(diags, e, "api.tokens[%zu] (%s): %s", i, name,
                        rc ? err.msg : "a token must be at least 16 characters");
            ird_secret_free(secret);
            bad = 1;
            continue;
        }
        t[i].name = strdup(name);
        t[i].role = role_parse(role);
        SHA256((const unsigned char *)secret, strlen(secret), t[i].digest);
        ird_secret_free(secret);
    }
    if (bad) {
        tokens_free(t, n);
        return -EINVAL;
    }
    *ret = t;
    *ret_n = n;
    return 0;
}

void ird_api_check(const struct ird_config *c, struct ird_diags *diags)
{
    struct api_token *t;
    size_t n;
    if (tokens_parse(c, diags, &t, &n) == 0)
        tokens_free(t, n);
}

int ird_api_configure(struct ird_api *a, const struct ird_config *c, struct ird_err *err)
{
    struct api_token *t;
    size_t n;
    struct ird_diags diags = {IRD_BUF_INIT, 0};
    int rc = tokens_parse(c, &diags, &t, &n);
    if (rc) {
        ird_err_set(err, rc, "%s", diags.text.data ? diags.text.data : "api.tokens: invalid");
        ird_diags_free(&diags);
        return rc;
    }
    ird_diags_free(&diags);
    tokens_free(a->tokens, a->ntokens);
    a->tokens = t;
    a->ntokens = n;
    return 0;
}

enum ird_role ird_api_role(const struct ird_api *a, const char *authorization,
                           const char **ret_name)
{
    if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
        return IRD_ROLE_NONE;
    const char *tok = authorization + 7;
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)tok, strlen(tok), digest);
    enum ird_role role = IRD_ROLE_NONE;
    /* Compare against every token, so timing does not tell which matched. */
    for (size_t i = 0; i < a->ntokens; i++) {
        if (CRYPTO_memcmp(digest, a->tokens[i].digest, sizeof(digest)) == 0) {
            role = a->tokens[i].role;
            if (ret_name)
                *ret_name = a->tokens[i].name;
        }
    }
    return role;
}

int ird_api_authorize(struct ird_api *a, struct ird_http_request *req, enum ird_role need,
                      const char **ret_actor, enum ird_role *ret_role)
{
    const char *auth = ird_http_header_get(req->headers, req->nheaders, "Authorization");
    const char *name = NULL;
    enum ird_role role = ird_api_role(a, auth, &name);
    if (role == IRD_ROLE_NONE) {
        static const char *const hdr[] = {"WWW-Authenticate: Bearer realm=\"ird\"", NULL};
        ird_http_respond_error(req, 401, "unauthorized",
                               "send Authorization: Bearer <token> with a token from api.tokens",
                               hdr);
        return -1;
    }
    if (role < need) {
        char detail[128];
        snprintf(detail, sizeof(detail), "this needs the %s role; the token has %s",
                 role_names[need], role_names[role]);
        ird_http_respond_error(req, 403, "forbidden", detail, NULL);
        return -1;
    }
    if (ret_actor)
        *ret_actor = name;
    if (ret_role)
        *ret_role = role;
    return 0;
}

static int authorize(struct ird_api *a, struct ird_http_request *req, enum ird_role need)
{
    return ird_api_authorize(a, req, need, NULL, NULL);
}

void ird_api_respond_json(struct ird_http_request *req, int status, cJSON *body)
{
    char *text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    if (!text) {
        ird_http_respond_error(req, 500, "internal error", "out of memory", NULL);
        return;
    }
    ird_http_respond(req, status, "application/json", NULL, text, strlen(text));
    cJSON_free(text);
}

sqlite3_stmt *ird_api_row_by_id(struct ird_http_request *req, sqlite3 *db, const char *sql,
                                const char *what)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        ird_http_respond_error(req, 500, "internal error", sqlite3_errmsg(db), NULL);
        return NULL;
    }
    sqlite3_bind_text(st, 1, req->params[0], -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        char detail[64];
        snprintf(detail, sizeof(detail), "no %s with that id", what);
        ird_http_respond_error(req, 404, "not found", detail, NULL);
        return NULL;
    }
    return st;
}

void ird_api_add_time(cJSON *o, const char *key, sqlite3_stmt *st, int col)
{
    if (sqlite3_column_type(st, col) == SQLITE_NULL) {
        cJSON_AddNullToObject(o, key);
        return;
    }
    char when[40];
    ird_clock_format(sqlite3_column_int64(st, col), when, sizeof(when));
    cJSON_AddStringToObject(o, key, when);
}

void ird_api_add_text(cJSON *o, const char *key, sqlite3_stmt *st, int col)
{
    const unsigned char *v = sqlite3_column_text(st, col);
    if (v)
        cJSON_AddStringToObject(o, key, (const char *)v);
    else
        cJSON_AddNullToObject(o, key);
}

#define INCIDENT_COLUMNS                                                                           \
    "rowid, id, state, severity, title, source, namespace, pod, opened_at, updated_at, "           \
    "acknowledged_at, acknowledged_by, resolved_at, resolved_by, alert_count"

static cJSON *incident_row(sqlite3_stmt *st)
{
    cJSON *o = cJSON_CreateObject();
    ird_api_add_text(o, "id", st, 1);
    ird_api_add_text(o, "state", st, 2);
    ird_api_add_text(o, "severity", st, 3);
    ird_api_add_text(o, "title", st, 4);
    ird_api_add_text(o, "source", st, 5);
    ird_api_add_text(o, "namespace", st, 6);
    ird_api_add_text(o, "pod", st, 7);
    ird_api_add_time(o, "opened_at", st, 8);
    ird_api_add_time(o, "updated_at", st, 9);
    ird_api_add_time(o, "acknowledged_at", st, 10);
    ird_api_add_text(o, "acknowledged_by", st, 11);
    ird_api_add_time(o, "resolved_at", st, 12);
    ird_api_add_text(o, "resolved_by", st, 13);
    cJSON_AddNumberToObject(o, "alert_count", (double)sqlite3_column_int64(st, 14));
    return o;
}

/* A query parameter into buf, or NULL when absent; 400 answered when bad. */
const char *ird_api_query(struct ird_http_request *req, const char *name, char *buf, size_t len,
                          int *bad)
{
    int rc = ird_http_query_get(req->query, name, buf, len);
    if (rc == -ENOENT)
        return NULL;
    if (rc < 0) {
        char detail[96];
        snprintf(detail, sizeof(detail), "query parameter %s is malformed or too long", name);
        ird_http_respond_error(req, 400, "bad request", detail, NULL);
        *bad = 1;
        return NULL;
    }
    return buf;
}

static const char *const states[] = {"triggered", "acknowledged", "resolved", "open"};
static const char *const severities[] = {"critical", "error", "warning", "info"};

static int one_of(const char *v, const char *const *set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v, set[i]) == 0)
            return 1;
    return 0;
}

int ird_api_page(struct ird_http_request *req, const char *limit_text, const char *cursor_text,
                 long *ret_limit, long long *ret_cursor)
{
    char *end;
    *ret_limit = limit_text ? strtol(limit_text, &end, 10) : 50;
    if (limit_text && (*end || *ret_limit < 1 || *ret_limit > 500)) {
        ird_http_respond_error(req, 400, "bad request", "limit must be 1 to 500", NULL);
        return -1;
    }
    *ret_cursor = cursor_text ? strtoll(cursor_text, &end, 10) : 0;
    if (cursor_text && (*end || *ret_cursor < 1)) {
        ird_http_respond_error(req, 400, "bad request",
                               "cursor must be a next_cursor value from a previous page", NULL);
        return -1;
    }
    return 0;
}

void ird_api_add_cursor(cJSON *page, int more, long long last_rowid)
{
    if (!more) {
        cJSON_AddNullToObject(page, "next_cursor");
        return;
    }
    char next[32];
    snprintf(next, sizeof(next), "%lld", last_rowid);
    cJSON_AddStringToObject(page, "next_cursor", next);
}

static void handle_incidents(struct ird_http_request *req, void *data)
{
    struct ird_api *a = data;
    if (authorize(a, req, IRD_ROLE_VIEWER))
        return;
    char state[32], source[256], ns[256], sev[32], cur[32], lim[16];
    int bad = 0;
    const char *q_state = ird_api_query(req, "state", state, sizeof(state), &bad);
    const char *q_source = bad ? NULL : ird_api_query(req, "source", source, sizeof(source), &bad);
    const char *q_ns = bad ? NULL : ird_api_query(req, "namespace", ns, sizeof(ns), &bad);
    const char *q_sev = bad ? NULL : ird_api_query(req, "severity", sev, sizeof(sev), &bad);
    const char *q_cur = bad ? NULL : ird_api_query(req, "cursor", cur, sizeof(cur), &bad);
    const char *q_lim = bad ? NULL : ird_api_query(req, "limit", lim, sizeof(lim), &bad);
    if (bad)
        return;
    if (q_state && !one_of(q_state, states, 4)) {
        ird_http_respond_error(req, 400, "bad request",
                               "state must be triggered, acknowledged, resolved or open", NULL);
        return;
    }
    if (q_sev && !one_of(q_sev, severities, 4)) {
        ird_http_respond_error(req, 400, "bad request",
                               "severity must be critical, error, warning or info", NULL);
        return;
    }
    long limit;
    long long cursor;
    if (ird_api_page(req, q_lim, q_cur, &limit, &cursor))
        return;
    /* Constant SQL; every filter is a bound parameter. */
    static const char sql[] = "SELECT " INCIDENT_COLUMNS " FROM incidents WHERE "
                              "(?1 IS NULL OR (?1 = 'open' AND state != 'resolved') OR state = ?1) "
                              "AND (?2 IS NULL OR source = ?2) AND (?3 IS NULL OR namespace = ?3) "
                              "AND (?4 IS NULL OR severity = ?4) AND (?5 = 0 OR rowid < ?5) "
                              "ORDER BY rowid DESC LIMIT ?6";
    sqlite3 *db = ird_store_reader(a->daemon->store);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        ird_http_respond_error(req, 500, "internal error", sqlite3_errmsg(db), NULL);
        return;
    }
    const char *binds[] = {q_state, q_source, q_ns, q_sev};
    for (int i = 0; i < 4; i++)
        if (binds[i])
            sqlite3_bind_text(st, i + 1, binds[i], -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 5, cursor);
    sqlite3_bind_int64(st, 6, limit + 1);
    cJSON *out = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(out, "incidents");
    long n = 0;
    long long last = 0;
    int more = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == limit) {
            more = 1;
            break;
        }
        cJSON_AddItemToArray(list, incident_row(st));
        last = sqlite3_column_int64(st, 0);
        n++;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        cJSON_Delete(out);
        ird_http_respond_error(req, 500, "internal error", sqlite3_errstr(rc), NULL);
        return;
    }
    ird_api_add_cursor(out, more, last);
    ird_api_respond_json(req, 200, out);
}

static void handle_incident(struct ird_http_request *req, void *data)
{
    struct ird_api *a = data;
    if (authorize(a, req, IRD_ROLE_VIEWER))
        return;
    sqlite3 *db = ird_store_reader(a->daemon->store);
    sqlite3_stmt *st = ird_api_row_by_id(
        req, db, "SELECT " INCIDENT_COLUMNS " FROM incidents WHERE id = ?1", "incident");
    if (!st)
        return;
    cJSON *inc = incident_row(st);
    sqlite3_finalize(st);

    cJSON *alerts = cJSON_AddArrayToObject(inc, "alerts");
    if (sqlite3_prepare_v2(db,
                           "SELECT source, dedup_key, status, severity, first_seen, last_seen, "
                           "received, alert FROM alerts WHERE incident_id = ?1 ORDER BY id",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, req->params[0], -1, SQLITE_TRANSIENT);
        while (sqlite3_step(st) == SQLITE_ROW) {
            cJSON *o = cJSON_CreateObject();
            ird_api_add_text(o, "source", st, 0);
            ird_api_add_text(o, "dedup_key", st, 1);
            ird_api_add_text(o, "status", st, 2);
            ird_api_add_text(o, "severity", st, 3);
            ird_api_add_time(o, "first_seen", st, 4);
            ird_api_add_time(o, "last_seen", st, 5);
            cJSON_AddNumberToObject(o, "received", (double)sqlite3_column_int64(st, 6));
            const char *json = (const char *)sqlite3_column_text(st, 7);
            cJSON *alert = json ? cJSON_Parse(json) : NULL;
            cJSON_AddItemToObject(o, "alert", alert ? alert : cJSON_CreateNull());
            cJSON_AddItemToArray(alerts, o);
        }
        sqlite3_finalize(st);
    }
    cJSON *timeline = cJSON_AddArrayToObject(inc, "timeline");
    if (sqlite3_prepare_v2(
            db, "SELECT at, kind, detail FROM timeline WHERE incident_id = ?1 ORDER BY id", -1, &st,
            NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, req->params[0], -1, SQLITE_TRANSIENT);
        while (sqlite3_step(st) == SQLITE_ROW) {
            cJSON *o = cJSON_CreateObject();
            ird_api_add_time(o, "at", st, 0);
            ird_api_add_text(o, "kind", st, 1);
            const char *json = (const char *)sqlite3_column_text(st, 2);
            cJSON *detail = json ? cJSON_Parse(json) : NULL;
            cJSON_AddItemToObject(o, "detail", detail ? detail : cJSON_CreateObject());
            cJSON_AddItemToArray(timeline, o);
        }
        sqlite3_finalize(st);
    }
    ird_api_respond_json(req, 200, inc);
}

static void handle_audit(struct ird_http_request *req, void *data)
{
    struct ird_api *a = data;
    if (authorize(a, req, IRD_ROLE_VIEWER))
        return;
    ird_api_handle_audit(req, a->daemon->store);
}
