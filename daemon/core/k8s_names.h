/* Kubernetes naming rules: checks for the values ird puts into API paths,
 * label selectors and object metadata (namespaces, object names, label keys
 * and values), and safe quoting of untrusted values for messages. Pure.
 *
 * Glossary (from the API's validation package, apimachinery util/validation):
 *   DNS-1123 label      <= 63 chars, [a-z0-9]([-a-z0-9]*[a-z0-9])?
 *   DNS-1123 subdomain  <= 253 chars, DNS-1123 labels joined by '.'
 *   qualified name      [prefix/]name: prefix a DNS-1123 subdomain, name
 *                       <= 63 chars of [A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?
 *   label value         empty, or <= 63 chars with the qualified-name charset
 *
 * To add a kind, add an enum value and a row to the table in k8s_names.c. */
#ifndef IRD_CORE_K8S_NAMES_H
#define IRD_CORE_K8S_NAMES_H

#include <stddef.h>

#include "core/err.h"

enum ird_k8s_name_kind {
    IRD_K8S_NAMESPACE,      /* DNS-1123 label */
    IRD_K8S_OBJECT_NAME,    /* DNS-1123 subdomain (any object) */
    IRD_K8S_POD_NAME,       /* DNS-1123 subdomain */
    IRD_K8S_SECRET_NAME,    /* DNS-1123 subdomain */
    IRD_K8S_NODE_NAME,      /* DNS-1123 subdomain */
    IRD_K8S_LABEL_NAME,     /* DNS-1123 label (e.g. container names, ports) */
    IRD_K8S_CONTAINER_NAME, /* DNS-1123 label */
    IRD_K8S_LABEL_KEY,      /* qualified name */
    IRD_K8S_LABEL_VALUE,    /* label value */
    IRD_K8S_ANNOTATION_KEY, /* qualified name, checked lower-cased as the API does */
    IRD_K8S_NAME_KIND_COUNT
};

/* Longest DNS-1123 label / label value / qualified-name part, and subdomain. */
#define IRD_K8S_LABEL_MAX     63
#define IRD_K8S_SUBDOMAIN_MAX 253

/* Check value (NUL-terminated; NULL is treated as empty) against the rule for
 * kind. Returns 0, or -EINVAL with a reason in err that names the value
 * safely quoted, e.g.
 *   pod name "../x" is not a valid Kubernetes name: must consist of lower case
 *   alphanumeric characters, '-' or '.', and must start and end with an
 *   alphanumeric character
 * An unknown kind is -EINVAL too. */
int ird_k8s_check_name(enum ird_k8s_name_kind kind, const char *value, struct ird_err *err);

/* Human name of a kind ("pod name", "label key"), or "name" for an unknown kind. */
const char *ird_k8s_kind_name(enum ird_k8s_name_kind kind);

/* The whole rule for a kind in one sentence, for documentation and
 * `ird check` ("a DNS-1123 label: at most 63 characters, must consist of ...");
 * "" for an unknown kind. Static storage. */
const char *ird_k8s_kind_rule(enum ird_k8s_name_kind kind);

/* Write value into out (size outlen >= 8) as a double-quoted string that is safe
 * to show in logs and messages: '"' and '\' are backslash-escaped, control and
 * non-ASCII bytes become \xNN (so nothing can forge a new log line), and values
 * longer than 40 bytes are cut with "..." after the closing quote. Always
 * NUL-terminates; returns out. NULL prints as "". */
char *ird_k8s_quote(const char *value, char *out, size_t outlen);

/* Size of an out buffer that always holds ird_k8s_quote()'s full result. */
#define IRD_K8S_QUOTE_MAX (2 + 40 * 4 + 3 + 1)

#endif
