/* Event requests: list the core Events about an object (evidence), and create
 * an events.k8s.io/v1 Event about an object ird acted on (audit in the
 * cluster), following the API's strict create validation. Pure. */
#include "k8s/requests.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define EVENTS_PREFIX "/apis/events.k8s.io/v1"

int ird_k8s_event_list_for(const char *ns, const char *uid, struct ird_k8s_request *ret,
                           struct ird_err *err)
{
    if (!uid || !*uid)
        return ird_err_set(err, -EINVAL, "object uid is empty");
    /* field selector value escaping (apimachinery fields.EscapeValue), then the query encoding */
    struct ird_buf sel = IRD_BUF_INIT;
    int rc = ird_buf_puts(&sel, "involvedObject.uid=");
    for (const char *p = uid; !rc && *p; p++) {
        if (*p == '\\' || *p == ',' || *p == '=')
            rc = ird_buf_append(&sel, "\\", 1);
        if (!rc)
            rc = ird_buf_append(&sel, p, 1);
    }
    struct ird_buf b = IRD_BUF_INIT;
    if (!rc)
        rc = ird_buf_puts(&b, "/api/v1/namespaces");
    if (!rc)
        rc = ird_k8s_req_segment(&b, ns, "namespace", err);
    if (!rc)
        rc = ird_buf_puts(&b, "/events");
    if (!rc)
        rc = ird_k8s_req_query(&b, "fieldSelector", sel.data);
    ird_buf_free(&sel);
    if (rc) {
        ird_buf_free(&b);
        return rc;
    }
    return ird_k8s_req_finish(ret, "GET", &b, NULL, NULL, "list", "", "events", err);
}

static int check_field(const char *what, const char *v, size_t max, struct ird_err *err)
{
    if (!v || !*v)
        return ird_err_set(err, -EINVAL, "event %s is required", what);
    if (strlen(v) > max)
        return ird_err_set(err, -EINVAL, "event %s is longer than %zu characters", what, max);
    return 0;
}

/* MicroTime: RFC 3339 UTC with exactly six fraction digits. */
static void micro_time(int64_t ns, char *out, size_t outlen)
{
    int64_t secs = ns / 1000000000, rem = ns % 1000000000;
    if (rem < 0) {
        rem += 1000000000;
        secs -= 1;
    }
    time_t t = (time_t)secs;
    struct tm tm;
    gmtime_r(&t, &tm);
    char base[24];
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, outlen, "%s.%06" PRId64 "Z", base, rem / 1000);
}

/* Longest prefix of s (<= max bytes) that does not split a UTF-8 sequence. */
static size_t utf8_cut(const char *s, size_t max)
{
    size_t len = strlen(s);
    if (len <= max)
        return len;
    size_t cut = max;
    while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
        cut--;
    return cut;
}

static int event_name(const struct ird_k8s_event *e, char *out, size_t outlen)
{
    char hex[20];
    snprintf(hex, sizeof(hex), "%" PRIx64, (uint64_t)e->now_ns);
    size_t hlen = strlen(hex), nlen = strlen(e->name);
    if (nlen + 1 + hlen > IRD_K8S_NAME_MAX) {
        nlen = IRD_K8S_NAME_MAX - 1 - hlen;
        /* a cut name must still end a DNS label */
        while (nlen > 0 && (e->name[nlen - 1] == '-' || e->name[nlen - 1] == '.'))
            nlen--;
    }
    if (nlen + 1 + hlen + 1 > outlen)
        return -ENOSPC;
    memcpy(out, e->name, nlen);
    out[nlen] = '.';
    memcpy(out + nlen + 1, hex, hlen + 1);
    return 0;
}

int ird_k8s_event_create(const struct ird_k8s_event *e, struct ird_k8s_request *ret,
                         struct ird_err *err)
{
    if (!e)
        return ird_err_set(err, -EINVAL, "no event");
    int rc = 0;
    const struct {
        const char *what, *value;
        size_t max;
    } required[] = {
        {"regarding.apiVersion", e->api_version, IRD_K8S_NAME_MAX},
        {"regarding.kind", e->kind, IRD_K8S_NAME_MAX},
        {"regarding.name", e->name, IRD_K8S_NAME_MAX},
        {"reason", e->reason, IRD_K8S_EVENT_FIELD_MAX},
        {"action", e->action, IRD_K8S_EVENT_FIELD_MAX},
        {"reportingInstance", e->reporting_instance, IRD_K8S_EVENT_FIELD_MAX},
    };
    for (size_t i = 0; !rc && i < sizeof(required) / sizeof(required[0]); i++)
        rc = check_field(required[i].what, required[i].value, required[i].max, err);
    if (rc)
        return rc;
    if (!e->type || (strcmp(e->type, "Normal") && strcmp(e->type, "Warning")))
        return ird_err_set(err, -EINVAL, "event type must be Normal or Warning");
    if (e->now_ns <= 0)
        return ird_err_set(err, -EINVAL, "event time is missing");
    const char *ns = e->ns && *e->ns ? e->ns : "default";
    char name[IRD_K8S_NAME_MAX + 1], when[40];
    if (event_name(e, name, sizeof(name)))
        return ird_err_set(err, -EINVAL, "event name too long");
    micro_time(e->now_ns, when, sizeof(when));

    struct ird_buf b = IRD_BUF_INIT;
    rc = ird_buf_puts(&b, EVENTS_PREFIX "/namespaces");
    if (!rc)
        rc = ird_k8s_req_segment(&b, ns, "namespace", err);
    if (!rc)
        rc = ird_buf_puts(&b, "/events");
    if (rc) {
        ird_buf_free(&b);
        return rc;
    }
    cJSON *body = cJSON_CreateObject();
    cJSON *meta = NULL, *reg = NULL;
    bool ok = body && cJSON_AddStringToObject(body, "apiVersion", "events.k8s.io/v1") &&
              cJSON_AddStringToObject(body, "kind", "Event") &&
              (meta = cJSON_AddObjectToObject(body, "metadata")) &&
              cJSON_AddStringToObject(meta, "name", name) &&
              cJSON_AddStringToObject(meta, "namespace", ns) &&
              cJSON_AddStringToObject(body, "eventTime", when) &&
              cJSON_AddStringToObject(body, "reportingController", IRD_K8S_EVENT_CONTROLLER) &&
              cJSON_AddStringToObject(body, "reportingInstance", e->reporting_instance) &&
              cJSON_AddStringToObject(body, "action", e->action) &&
              cJSON_AddStringToObject(body, "reason", e->reason) &&
              (reg = cJSON_AddObjectToObject(body, "regarding")) &&
              cJSON_AddStringToObject(reg, "apiVersion", e->api_version) &&
              cJSON_AddStringToObject(reg, "kind", e->kind) &&
              cJSON_AddStringToObject(reg, "name", e->name) &&
              (!e->ns || !*e->ns || cJSON_AddStringToObject(reg, "namespace", e->ns)) &&
              (!e->uid || !*e->uid || cJSON_AddStringToObject(reg, "uid", e->uid)) &&
              cJSON_AddStringToObject(body, "type", e->type);
    if (ok && e->note && *e->note) {
        char note[IRD_K8S_EVENT_NOTE_MAX + 1];
        size_t n = utf8_cut(e->note, IRD_K8S_EVENT_NOTE_MAX);
        memcpy(note, e->note, n);
        note[n] = '\0';
        ok = cJSON_AddStringToObject(body, "note", note) != NULL;
    }
    if (!ok) {
        cJSON_Delete(body);
        ird_buf_free(&b);
        return -ENOMEM;
    }
    return ird_k8s_req_finish(ret, "POST", &b, "application/json", body, "create", "events.k8s.io",
                              "events", err);
}
