/* Kubernetes naming rules (DNS-1123 labels and subdomains, qualified names,
 * label values) as one table of kinds, and safe quoting of untrusted values
 * for the messages that report them. */
#include "core/k8s_names.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Rule texts, worded after apimachinery's validation messages. */
#define RULE_LABEL                                                                                 \
    "must consist of lower case alphanumeric characters or '-', and must start and end with an "   \
    "alphanumeric character"
#define RULE_SUBDOMAIN                                                                             \
    "must consist of lower case alphanumeric characters, '-' or '.', and must start and end with " \
    "an alphanumeric character"
#define RULE_NAME_PART                                                                             \
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "    \
    "alphanumeric character"

#define RULE_LABEL_VALUE                                                                           \
    "must be empty or consist of alphanumeric characters, '-', '_' or '.', and must start and "    \
    "end with an alphanumeric character"

/* A checker returns 0 or writes a reason into why. */
typedef int (*check_fn)(const char *value, size_t len, char *why, size_t whylen);

static bool is_lower_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(unsigned char c)
{
    return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static int too_long(const char *what, size_t max, size_t len, char *why, size_t whylen)
{
    snprintf(why, whylen, "%smust be no more than %zu characters (got %zu)", what, max, len);
    return -EINVAL;
}

static int reason(const char *what, const char *rule, char *why, size_t whylen)
{
    snprintf(why, whylen, "%s%s", what, rule);
    return -EINVAL;
}

/* One DNS-1123 label in s[0..len), without the length limit. */
static bool label_chars_ok(const char *s, size_t len)
{
    if (len == 0 || !is_lower_alnum((unsigned char)s[0]) ||
        !is_lower_alnum((unsigned char)s[len - 1]))
        return false;
    for (size_t i = 0; i < len; i++)
        if (!is_lower_alnum((unsigned char)s[i]) && s[i] != '-')
            return false;
    return true;
}

static int check_label(const char *s, size_t len, char *why, size_t whylen)
{
    if (len == 0)
        return reason("", "must not be empty", why, whylen);
    if (len > IRD_K8S_LABEL_MAX)
        return too_long("", IRD_K8S_LABEL_MAX, len, why, whylen);
    if (!label_chars_ok(s, len))
        return reason("", RULE_LABEL, why, whylen);
    return 0;
}

static int subdomain(const char *what, const char *s, size_t len, char *why, size_t whylen)
{
    if (len == 0)
        return reason(what, "must not be empty", why, whylen);
    if (len > IRD_K8S_SUBDOMAIN_MAX)
        return too_long(what, IRD_K8S_SUBDOMAIN_MAX, len, why, whylen);
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '.') {
            if (!label_chars_ok(s + start, i - start))
                return reason(what, RULE_SUBDOMAIN, why, whylen);
            start = i + 1;
        }
    }
    return 0;
}

static int check_subdomain(const char *s, size_t len, char *why, size_t whylen)
{
    return subdomain("", s, len, why, whylen);
}

/* The name part of a qualified name, or a non-empty label value. */
static bool name_part_chars_ok(const char *s, size_t len)
{
    if (len == 0 || !is_alnum((unsigned char)s[0]) || !is_alnum((unsigned char)s[len - 1]))
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!is_alnum(c) && c != '-' && c != '_' && c != '.')
            return false;
    }
    return true;
}

static int qualified(const char *s, size_t len, char *why, size_t whylen)
{
    const char *slash = memchr(s, '/', len);
    const char *name = s;
    size_t nlen = len;
    if (slash) {
        if (memchr(slash + 1, '/', len - (size_t)(slash - s) - 1))
            return reason("",
                          "must be a name with an optional prefix and '/' (e.g. "
                          "'example.com/my-name'), with at most one '/'",
                          why, whylen);
        int rc = subdomain("the prefix before '/' ", s, (size_t)(slash - s), why, whylen);
        if (rc < 0)
            return rc;
        name = slash + 1;
        nlen = len - (size_t)(name - s);
    }
    if (nlen == 0)
        return reason(slash ? "the name part " : "", "must not be empty", why, whylen);
    if (nlen > IRD_K8S_LABEL_MAX)
        return too_long(slash ? "the name part " : "", IRD_K8S_LABEL_MAX, nlen, why, whylen);
    if (!name_part_chars_ok(name, nlen))
        return reason(slash ? "the name part " : "", RULE_NAME_PART, why, whylen);
    return 0;
}

static int check_label_key(const char *s, size_t len, char *why, size_t whylen)
{
    return qualified(s, len, why, whylen);
}

/* The API validates annotation keys lower-cased (ValidateAnnotations). */
static int check_annotation_key(const char *s, size_t len, char *why, size_t whylen)
{
    char lower[IRD_K8S_SUBDOMAIN_MAX + 1 + IRD_K8S_LABEL_MAX + 1];
    if (len >= sizeof(lower))
        return too_long("", sizeof(lower) - 1, len, why, whylen);
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        lower[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    lower[len] = '\0';
    return qualified(lower, len, why, whylen);
}

static int check_label_value(const char *s, size_t len, char *why, size_t whylen)
{
    if (len == 0)
        return 0;
    if (len > IRD_K8S_LABEL_MAX)
        return too_long("", IRD_K8S_LABEL_MAX, len, why, whylen);
    if (!name_part_chars_ok(s, len))
        return reason("", RULE_LABEL_VALUE, why, whylen);
    return 0;
}

#define SUMMARY_LABEL     "a DNS-1123 label: at most 63 characters, " RULE_LABEL
#define SUMMARY_SUBDOMAIN "a DNS-1123 subdomain: at most 253 characters, " RULE_SUBDOMAIN
#define SUMMARY_QUALIFIED                                                                          \
    "an optional DNS-1123 subdomain prefix and '/', then a name of at most 63 characters "         \
    "that " RULE_NAME_PART
#define SUMMARY_VALUE "at most 63 characters; " RULE_LABEL_VALUE

static const struct {
    const char *human; /* what the value is to the user */
    const char *noun;  /* "is not a valid Kubernetes <noun>" */
    const char *rule;  /* the whole rule, for documentation and `ird check` */
    check_fn check;
} kinds[IRD_K8S_NAME_KIND_COUNT] = {
    [IRD_K8S_NAMESPACE] = {"namespace", "name", SUMMARY_LABEL, check_label},
    [IRD_K8S_OBJECT_NAME] = {"object name", "name", SUMMARY_SUBDOMAIN, check_subdomain},
    [IRD_K8S_POD_NAME] = {"pod name", "name", SUMMARY_SUBDOMAIN, check_subdomain},
    [IRD_K8S_SECRET_NAME] = {"secret name", "name", SUMMARY_SUBDOMAIN, check_subdomain},
    [IRD_K8S_NODE_NAME] = {"node name", "name", SUMMARY_SUBDOMAIN, check_subdomain},
    [IRD_K8S_LABEL_NAME] = {"name", "name", SUMMARY_LABEL, check_label},
    [IRD_K8S_CONTAINER_NAME] = {"container name", "name", SUMMARY_LABEL, check_label},
    [IRD_K8S_LABEL_KEY] = {"label key", "label key", SUMMARY_QUALIFIED, check_label_key},
    [IRD_K8S_LABEL_VALUE] = {"label value", "label value", SUMMARY_VALUE, check_label_value},
    [IRD_K8S_ANNOTATION_KEY] = {"annotation key", "annotation key", SUMMARY_QUALIFIED,
                                check_annotation_key},
};

const char *ird_k8s_kind_rule(enum ird_k8s_name_kind kind)
{
    if ((unsigned)kind >= IRD_K8S_NAME_KIND_COUNT)
        return "";
    return kinds[kind].rule;
}

const char *ird_k8s_kind_name(enum ird_k8s_name_kind kind)
{
    if ((unsigned)kind >= IRD_K8S_NAME_KIND_COUNT)
        return "name";
    return kinds[kind].human;
}

int ird_k8s_check_name(enum ird_k8s_name_kind kind, const char *value, struct ird_err *err)
{
    if ((unsigned)kind >= IRD_K8S_NAME_KIND_COUNT)
        return ird_err_set(err, -EINVAL, "unknown kind of Kubernetes name %d", (int)kind);
    if (!value)
        value = "";
    char why[256];
    int rc = kinds[kind].check(value, strlen(value), why, sizeof(why));
    if (rc == 0)
        return 0;
    char q[IRD_K8S_QUOTE_MAX];
    return ird_err_set(err, rc, "%s %s is not a valid Kubernetes %s: %s", kinds[kind].human,
                       ird_k8s_quote(value, q, sizeof(q)), kinds[kind].noun, why);
}

char *ird_k8s_quote(const char *value, char *out, size_t outlen)
{
    static const char hex[] = "0123456789abcdef";
    const size_t shown = 40;
    if (!value)
        value = "";
    size_t o = 0;
    /* Reserve room for the closing quote, "..." and the NUL. */
    size_t limit = outlen > 5 ? outlen - 5 : 0;
    if (outlen == 0)
        return out;
    if (o < limit)
        out[o++] = '"';
    size_t i = 0;
    for (; value[i] && i < shown; i++) {
        unsigned char c = (unsigned char)value[i];
        char tmp[4];
        size_t n = 0;
        if (c == '"' || c == '\\') {
            tmp[n++] = '\\';
            tmp[n++] = (char)c;
        } else if (c < 0x20 || c >= 0x7f) {
            tmp[n++] = '\\';
            tmp[n++] = 'x';
            tmp[n++] = hex[c >> 4];
            tmp[n++] = hex[c & 15];
        } else {
            tmp[n++] = (char)c;
        }
        if (o + n > limit)
            break;
        memcpy(out + o, tmp, n);
        o += n;
    }
    bool cut = value[i] != '\0';
    if (outlen - o > 1)
        out[o++] = '"';
    if (cut && outlen - o > 3) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o < outlen ? o : outlen - 1] = '\0';
    return out;
}
