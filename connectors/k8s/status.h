/* Reader for Kubernetes API error responses: a metav1 Status body (or the
 * plain text some filters answer with, e.g. priority-and-fairness 429s) becomes
 * a struct with code, reason, message, causes and retry hint; one readable
 * line carrying the API's own message; and the verdict the connector's retry
 * policy acts on. Pure.
 *
 * Glossary:
 *   Status   {"kind":"Status","status":"Failure","code":403,"reason":"Forbidden",
 *            "message":"...","details":{name,group,kind,causes[],retryAfterSeconds}}
 *   verdict  RETRY (429, 500, 502, 503, 504), CONFLICT (409 except AlreadyExists:
 *            re-GET and reapply), ALREADY_EXISTS (409 AlreadyExists: check the
 *            existing object), FAIL (everything else that is not 2xx), OK (2xx). */
#ifndef IRD_CONNECTORS_K8S_STATUS_H
#define IRD_CONNECTORS_K8S_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

enum ird_k8s_verdict {
    IRD_K8S_OK,
    IRD_K8S_RETRY,
    IRD_K8S_CONFLICT,
    IRD_K8S_ALREADY_EXISTS,
    IRD_K8S_FAIL,
};

/* "ok", "retry", "conflict", "already_exists", "fail"; "unknown" otherwise. */
const char *ird_k8s_verdict_name(enum ird_k8s_verdict v);

struct ird_k8s_cause {
    char *reason;  /* "FieldValueRequired", "DisruptionBudget"...; NULL when absent */
    char *message; /* NULL when absent */
    char *field;   /* "spec.replicas"; NULL when absent */
};

#define IRD_K8S_STATUS_MAX_CAUSES     16
#define IRD_K8S_STATUS_MAX_TEXT       512   /* bytes kept of a plain-text body */
#define IRD_K8S_STATUS_MAX_RETRY_SECS 86400 /* longer hints are clamped */

struct ird_k8s_status {
    int http_code;  /* the HTTP status of the response */
    int code;       /* Status.code, or http_code when the body has none */
    bool is_status; /* the body was a Status object */
    char *status;   /* "Success" / "Failure"; NULL when absent */
    char *reason;   /* "Forbidden", "NotFound", "AlreadyExists", "Conflict"...; NULL when absent */
    char *message;  /* the API's message; for plain text its first line, trimmed; NULL if none */
    char *name;     /* details.name */
    char *group;    /* details.group */
    char *kind;     /* details.kind (the resource plural for NotFound/AlreadyExists) */
    struct ird_k8s_cause *causes; /* details.causes, at most IRD_K8S_STATUS_MAX_CAUSES */
    size_t n_causes;
    int64_t retry_after_seconds; /* larger of details.retryAfterSeconds and the Retry-After
                                    header (delta-seconds); 0 when neither */
};

/* Read a response: http_code, the body (len bytes, need not be NUL-terminated;
 * NULL/0 for none) and the Retry-After header value (NULL when absent). A body
 * that is not a Status object is read as text. Fills *ret (free with
 * ird_k8s_status_free); 0, or -ENOMEM with *ret left empty. */
int ird_k8s_status_parse(int http_code, const char *body, size_t len, const char *retry_after,
                         struct ird_k8s_status *ret);

/* Free what s owns and clear it; NULL is a no-op. */
void ird_k8s_status_free(struct ird_k8s_status *s);

/* One line for a person, with the API's message kept as is:
 *   403 Forbidden: pods "web-1" is forbidden: User "system:serviceaccount:ird:ird"
 *   cannot patch resource "pods" in API group "" in the namespace "prod"
 * followed by " (reason: message; ...)" for causes whose message is not already
 * part of the main message. Control characters become spaces. Writes at most
 * outlen bytes (always NUL-terminated when outlen > 0); returns out. */
char *ird_k8s_status_format(const struct ird_k8s_status *s, char *out, size_t outlen);

/* What the connector should do with this response. */
enum ird_k8s_verdict ird_k8s_status_classify(const struct ird_k8s_status *s);

/* Put the formatted line into err and return a negative errno for the code:
 * 400 -EINVAL, 401 -EACCES, 403 -EPERM, 404 -ENOENT, 409 AlreadyExists -EEXIST,
 * other 409 -ESTALE, 413 -E2BIG, 415 -EPROTO, 422 -EINVAL, 429 -EAGAIN,
 * 503 -EAGAIN, 504 -ETIMEDOUT, other codes -EIO. 0 for a 2xx. */
int ird_k8s_status_to_err(const struct ird_k8s_status *s, struct ird_err *err);

#endif
