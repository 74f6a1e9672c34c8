/* Kubernetes API error responses: Status parsing, the one-line description and
 * the retry verdict. Pure. */
#include "k8s/status.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    int code;
    const char *phrase;
    int err; /* for ird_k8s_status_to_err */
} codes[] = {
    {400, "Bad Request", -EINVAL},
    {401, "Unauthorized", -EACCES},
    {403, "Forbidden", -EPERM},
    {404, "Not Found", -ENOENT},
    {405, "Method Not Allowed", -EINVAL},
    {406, "Not Acceptable", -EINVAL},
    {409, "Conflict", -ESTALE},
    {410, "Gone", -ENOENT},
    {413, "Request Entity Too Large", -E2BIG},
    {415, "Unsupported Media Type", -EPROTO},
    {422, "Unprocessable Entity", -EINVAL},
    {429, "Too Many Requests", -EAGAIN},
    {500, "Internal Server Error", -EIO},
    {501, "Not Implemented", -EIO},
    {502, "Bad Gateway", -EIO},
    {503, "Service Unavailable", -EAGAIN},
    {504, "Gateway Timeout", -ETIMEDOUT},
};

static const char *const verdict_names[] = {
    [IRD_K8S_OK] = "ok",
    [IRD_K8S_RETRY] = "retry",
    [IRD_K8S_CONFLICT] = "conflict",
    [IRD_K8S_ALREADY_EXISTS] = "already_exists",
    [IRD_K8S_FAIL] = "fail",
};

/* HTTP codes the API server answers for transient trouble (CONV "HTTP Status codes"). */
static const int retry_codes[] = {429, 500, 502, 503, 504};

const char *ird_k8s_verdict_name(enum ird_k8s_verdict v)
{
    if ((unsigned)v < sizeof(verdict_names) / sizeof(verdict_names[0]))
        return verdict_names[v];
    return "unknown";
}

static char *dup_str(const cJSON *obj, const char *name, bool *oom)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!cJSON_IsString(v))
        return NULL;
    char *s = strdup(v->valuestring);
    if (!s)
        *oom = true;
    return s;
}

/* Delta-seconds (RFC 9110 Retry-After); 0 for anything else. */
static int64_t parse_retry_after(const char *s)
{
    if (!s)
        return 0;
    while (*s == ' ' || *s == '\t')
        s++;
    int64_t v = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v < IRD_K8S_STATUS_MAX_RETRY_SECS)
            v = v * 10 + (*p - '0');
    }
    while (*p == ' ' || *p == '\t')
        p++;
    if (p == s || *p)
        return 0;
    return v > IRD_K8S_STATUS_MAX_RETRY_SECS ? IRD_K8S_STATUS_MAX_RETRY_SECS : v;
}

static int read_status(const cJSON *j, struct ird_k8s_status *s)
{
    bool oom = false;
    s->is_status = true;
    s->status = dup_str(j, "status", &oom);
    s->reason = dup_str(j, "reason", &oom);
    s->message = dup_str(j, "message", &oom);
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(j, "code");
    if (cJSON_IsNumber(code) && code->valuedouble >= 100 && code->valuedouble < 1000)
        s->code = code->valueint;
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "details");
    s->name = dup_str(d, "name", &oom);
    s->group = dup_str(d, "group", &oom);
    s->kind = dup_str(d, "kind", &oom);
    const cJSON *ra = cJSON_GetObjectItemCaseSensitive(d, "retryAfterSeconds");
    if (cJSON_IsNumber(ra) && ra->valuedouble > 0) {
        int64_t v = ra->valuedouble > IRD_K8S_STATUS_MAX_RETRY_SECS ? IRD_K8S_STATUS_MAX_RETRY_SECS
                                                                    : (int64_t)ra->valuedouble;
        if (v > s->retry_after_seconds)
            s->retry_after_seconds = v;
    }
    const cJSON *causes = cJSON_GetObjectItemCaseSensitive(d, "causes");
    int n = cJSON_IsArray(causes) ? cJSON_GetArraySize(causes) : 0;
    if (n > IRD_K8S_STATUS_MAX_CAUSES)
        n = IRD_K8S_STATUS_MAX_CAUSES;
    if (n > 0) {
        s->causes = calloc((size_t)n, sizeof(*s->causes));
        if (!s->causes)
            return -ENOMEM;
        const cJSON *c;
        cJSON_ArrayForEach(c, causes) {
            if (s->n_causes == (size_t)n)
                break;
            struct ird_k8s_cause *dst = &s->causes[s->n_causes++];
            dst->reason = dup_str(c, "reason", &oom);
            dst->message = dup_str(c, "message", &oom);
            dst->field = dup_str(c, "field", &oom);
        }
    }
    return oom ? -ENOMEM : 0;
}

/* First line of a text body, trimmed and bounded. */
static int read_text(const char *body, size_t len, struct ird_k8s_status *s)
{
    size_t start = 0;
    while (start < len && (body[start] == ' ' || body[start] == '\t' || body[start] == '\r' ||
                           body[start] == '\n'))
        start++;
    size_t end = start;
    while (end < len && body[end] != '\n' && body[end] != '\r' && body[end] != '\0')
        end++;
    while (end > start && (body[end - 1] == ' ' || body[end - 1] == '\t'))
        end--;
    if (end - start > IRD_K8S_STATUS_MAX_TEXT)
        end = start + IRD_K8S_STATUS_MAX_TEXT;
    if (end == start)
        return 0;
    s->message = strndup(body + start, end - start);
    return s->message ? 0 : -ENOMEM;
}

int ird_k8s_status_parse(int http_code, const char *body, size_t len, const char *retry_after,
                         struct ird_k8s_status *ret)
{
    struct ird_k8s_status s = {0};
    s.http_code = http_code;
    s.code = http_code;
    s.retry_after_seconds = parse_retry_after(retry_after);
    int rc = 0;
    if (body && len) {
        cJSON *j = cJSON_ParseWithLength(body, len);
        const cJSON *kind = cJSON_GetObjectItemCaseSensitive(j, "kind");
        if (cJSON_IsObject(j) && cJSON_IsString(kind) && !strcmp(kind->valuestring, "Status"))
            rc = read_status(j, &s);
        else
            rc = read_text(body, len, &s);
        cJSON_Delete(j);
    }
    if (rc) {
        ird_k8s_status_free(&s);
        memset(ret, 0, sizeof(*ret));
        return rc;
    }
    *ret = s;
    return 0;
}

void ird_k8s_status_free(struct ird_k8s_status *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_causes; i++) {
        free(s->causes[i].reason);
        free(s->causes[i].message);
        free(s->causes[i].field);
    }
    free(s->causes);
    free(s->status);
    free(s->reason);
    free(s->message);
    free(s->name);
    free(s->group);
    free(s->kind);
    memset(s, 0, sizeof(*s));
}

static const char *phrase(int code)
{
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        if (codes[i].code == code)
            return codes[i].phrase;
    }
    return NULL;
}

/* Appends to out like a bounded strcat, turning control bytes into spaces. */
struct line {
    char *out;
    size_t len, cap;
};

static void put(struct line *l, const char *s)
{
    for (; s && *s && l->len + 1 < l->cap; s++) {
        unsigned char c = (unsigned char)*s;
        l->out[l->len++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
    }
    l->out[l->len] = '\0';
}

char *ird_k8s_status_format(const struct ird_k8s_status *s, char *out, size_t outlen)
{
    if (!out || outlen == 0)
        return out;
    struct line l = {out, 0, outlen};
    out[0] = '\0';
    if (!s)
        return out;
    char num[16];
    snprintf(num, sizeof(num), "%d", s->http_code);
    put(&l, num);
    const char *ph = phrase(s->http_code);
    put(&l, " ");
    put(&l, ph ? ph : (s->reason ? s->reason : "HTTP error"));
    if (s->message && *s->message) {
        put(&l, ": ");
        put(&l, s->message);
    } else if (ph && s->reason && *s->reason && strcmp(ph, s->reason)) {
        put(&l, ": ");
        put(&l, s->reason);
    }
    bool open = false;
    for (size_t i = 0; i < s->n_causes; i++) {
        const struct ird_k8s_cause *c = &s->causes[i];
        if (!c->message || !*c->message || (s->message && strstr(s->message, c->message)))
            continue;
        put(&l, open ? "; " : " (");
        open = true;
        if (c->reason && *c->reason) {
            put(&l, c->reason);
            put(&l, ": ");
        }
        if (c->field && *c->field) {
            put(&l, c->field);
            put(&l, ": ");
        }
        put(&l, c->message);
    }
    if (open)
        put(&l, ")");
    return out;
}

enum ird_k8s_verdict ird_k8s_status_classify(const struct ird_k8s_status *s)
{
    if (!s)
        return IRD_K8S_FAIL;
    int code = s->http_code;
    if (code >= 200 && code < 300)
        return IRD_K8S_OK;
    for (size_t i = 0; i < sizeof(retry_codes) / sizeof(retry_codes[0]); i++) {
        if (code == retry_codes[i])
            return IRD_K8S_RETRY;
    }
    if (code == 409)
        return s->reason && !strcmp(s->reason, "AlreadyExists") ? IRD_K8S_ALREADY_EXISTS
                                                                : IRD_K8S_CONFLICT;
    return IRD_K8S_FAIL;
}

int ird_k8s_status_to_err(const struct ird_k8s_status *s, struct ird_err *err)
{
    if (!s)
        return ird_err_set(err, -EINVAL, "no response");
    if (s->http_code >= 200 && s->http_code < 300)
        return 0;
    int code = -EIO;
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        if (codes[i].code == s->http_code)
            code = codes[i].err;
    }
    if (s->http_code == 409 && s->reason && !strcmp(s->reason, "AlreadyExists"))
        code = -EEXIST;
    if (err)
        ird_k8s_status_format(s, err->msg, sizeof(err->msg));
    return code;
}
