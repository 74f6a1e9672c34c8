/* GET /v1/audit: the audit trail for operators, oldest first, filtered by
 * time, kind and a seq cursor. The route row and the authorization (viewer)
 * live in api.c; this file owns the parameters and the answer. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "net/http_server.h"
#include "store/audit.h"
#include "store/store.h"

#define DEFAULT_LIMIT 100
#define MAX_LIMIT     1000

/* Called by api.c for GET /v1/audit once the request is authorized (viewer);
 * api/api.h carries the same declaration for it. Answers req exactly once: 200
 * {"records":[...], "next_after": seq|null}, 400 for a bad parameter, 500 when
 * the store cannot be read. The caller has authorized the request. */
void ird_api_handle_audit(struct ird_http_request *req, struct ird_store *store);

/* One query parameter into buf: 1 present, 0 absent, -1 answered 400. */
static int param(struct ird_http_request *req, const char *name, char *buf, size_t len)
{
    int rc = ird_http_query_get(req->query, name, buf, len);
    if (rc == -ENOENT)
        return 0;
    if (rc >= 0)
        return 1;
    char detail[96];
    snprintf(detail, sizeof(detail), "query parameter %s is malformed or too long", name);
    ird_http_respond_error(req, 400, "bad request", detail, NULL);
    return -1;
}

static int parse_int(const char *s, int64_t min, int64_t max, int64_t *ret)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return -EINVAL;
    *ret = v;
    return 0;
}

/* A kind or a kind prefix: lowercase letters, digits, '.', '_'. */
static int kind_ok(const char *s)
{
    if (!*s)
        return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '_'))
            return 0;
    return 1;
}

static void bad_request(struct ird_http_request *req, const char *detail)
{
    ird_http_respond_error(req, 400, "bad request", detail, NULL);
}

void ird_api_handle_audit(struct ird_http_request *req, struct ird_store *store)
{
    char since[64], after[32], kind[65], limit[16];
    int has_since, has_after, has_kind, has_limit;
    if ((has_since = param(req, "since", since, sizeof(since))) < 0 ||
        (has_after = param(req, "after", after, sizeof(after))) < 0 ||
        (has_kind = param(req, "kind", kind, sizeof(kind))) < 0 ||
        (has_limit = param(req, "limit", limit, sizeof(limit))) < 0)
        return;
    struct ird_audit_query q = {.after = 0, .since_ms = INT64_MIN, .limit = DEFAULT_LIMIT};
    if (has_since) {
        int64_t ms;
        if (ird_clock_parse(since, &ms) == 0) {
            q.since_ms = ms;
        } else if (ird_duration_parse(since, &ms) == 0) {
            q.since_ms = ird_clock_now_ms() - ms;
        } else {
            bad_request(req, "since must be an RFC 3339 time (2026-12-01T07:00:00Z) or a "
                             "duration back from now (30m, 1h, 7d)");
            return;
        }
    }
    if (has_after && parse_int(after, 0, INT64_MAX, &q.after)) {
        bad_request(req, "after must be a seq number: the next_after of a previous page");
        return;
    }
    if (has_kind) {
        if (!kind_ok(kind)) {
            bad_request(req, "kind must be a kind (incident.opened) or a family (incident)");
            return;
        }
        q.kind = kind;
    }
    if (has_limit) {
        int64_t n;
        if (parse_int(limit, 1, MAX_LIMIT, &n)) {
            bad_request(req, "limit must be 1 to 1000");
            return;
        }
        q.limit = (int)n;
    }
    struct ird_err err = {{0}};
    cJSON *records = NULL;
    int64_t next = 0;
    if (ird_audit_list(ird_store_reader(store), &q, &records, &next, &err)) {
        ird_http_respond_error(req, 500, "internal error", err.msg, NULL);
        return;
    }
    cJSON *out = cJSON_CreateObject();
    if (!out || !cJSON_AddItemToObject(out, "records", records)) {
        cJSON_Delete(out);
        cJSON_Delete(records);
        ird_http_respond_error(req, 500, "internal error", "out of memory", NULL);
        return;
    }
    if (next ? !cJSON_AddNumberToObject(out, "next_after", (double)next)
             : !cJSON_AddNullToObject(out, "next_after")) {
        cJSON_Delete(out);
        ird_http_respond_error(req, 500, "internal error", "out of memory", NULL);
        return;
    }
    char *text = cJSON_PrintUnformatted(out);
    cJSON_Delete(out);
    if (!text) {
        ird_http_respond_error(req, 500, "internal error", "out of memory", NULL);
        return;
    }
    ird_http_respond(req, 200, "application/json", NULL, text, strlen(text));
    cJSON_free(text);
}
