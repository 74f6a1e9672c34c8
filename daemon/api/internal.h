/* Shared by the operator API's handler files (api.c, runs.c, audit_api.c):
 * the api object, authorization, and JSON/SQLite helpers. Not for other modules. */
#ifndef IRD_API_INTERNAL_H
#define IRD_API_INTERNAL_H

#include <cjson/cJSON.h>
#include <sqlite3.h>
#include <stddef.h>

#include "api/api.h"
#include "net/http_server.h"

struct api_token;

struct ird_api {
    struct ird_daemon *daemon;
    struct api_token *tokens;
    size_t ntokens;
};

/* 401/403 answered (and -1 returned) unless the request carries a token of
 * at least `need`; the token's name (the actor in the audit trail) and role. */
int ird_api_authorize(struct ird_api *a, struct ird_http_request *req, enum ird_role need,
                      const char **ret_actor, enum ird_role *ret_role);
/* Answer body (consumed) as JSON. */
void ird_api_respond_json(struct ird_http_request *req, int status, cJSON *body);
/* Run sql (one ?1 parameter) with the path's id and step to its row: the
 * statement to read and finalize, or NULL once 500 or 404 ("no <what> with
 * that id") was answered. */
sqlite3_stmt *ird_api_row_by_id(struct ird_http_request *req, sqlite3 *db, const char *sql,
                                const char *what);
/* A query parameter into buf, or NULL when absent; a 400 is answered and
 * *bad set when it is malformed. */
const char *ird_api_query(struct ird_http_request *req, const char *name, char *buf, size_t len,
                          int *bad);
/* Pagination of a listing: limit (1..500, default 50) and cursor (the
 * rowid to continue below, 0 for the first page) from their query text; a
 * 400 is answered and -1 returned when one is bad. */
int ird_api_page(struct ird_http_request *req, const char *limit_text, const char *cursor_text,
                 long *ret_limit, long long *ret_cursor);
/* "next_cursor": the last rowid of this page when there is more, else null. */
void ird_api_add_cursor(cJSON *page, int more, long long last_rowid);
/* Column col as an RFC 3339 time (ms since epoch in the store) or text; NULL stays null. */
void ird_api_add_time(cJSON *o, const char *key, sqlite3_stmt *st, int col);
void ird_api_add_text(cJSON *o, const char *key, sqlite3_stmt *st, int col);

void ird_api_handle_ack(struct ird_http_request *req, void *data);
void ird_api_handle_resolve(struct ird_http_request *req, void *data);
void ird_api_handle_runs(struct ird_http_request *req, void *data);
void ird_api_handle_run(struct ird_http_request *req, void *data);
void ird_api_handle_approve(struct ird_http_request *req, void *data);
void ird_api_handle_cancel(struct ird_http_request *req, void *data);
void ird_api_handle_playbooks(struct ird_http_request *req, void *data);
void ird_api_handle_trigger(struct ird_http_request *req, void *data);

#endif
