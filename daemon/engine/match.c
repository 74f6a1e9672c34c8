/* The playbook matcher: a table of match keys, each parsed from libconfig into
 * clauses once, then tested (and explained) against normalized alerts. Alert
 * values are only compared, never compiled into patterns. */
#include "engine/match.h"
#include "core/cfgerr.h"

#include <fnmatch.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/k8s_names.h"

#define PATH_MAX_LEN 200

/* A value test: exact text, or an anchored POSIX ERE when written "~...". */
struct pattern {
    char *text; /* as written, for messages */
    bool is_re;
    regex_t re;
};

struct pattern_list {
    struct pattern *v;
    size_t n;
};

enum clause_kind {
    CL_SOURCE,
    CL_LABEL,
    CL_TITLE,
    CL_SEVERITY,
    CL_STATUS,
    CL_NAMESPACE,
    CL_ANY,
    CL_ALL
};

struct clause {
    enum clause_kind kind;
    const char *key;          /* the config key, for messages ("rule", "title") */
    char *label;              /* CL_LABEL */
    struct pattern_list pats; /* SOURCE (exact), LABEL (one), TITLE, NAMESPACE include */
    struct pattern_list excl; /* NAMESPACE exclude */
    bool include_all;         /* NAMESPACE without include */
    int level;                /* SEVERITY */
    unsigned accept;          /* SEVERITY: sign bits, as in cond.c */
    char *sev_text;           /* SEVERITY, as written */
    const char *status;       /* STATUS: "firing", "resolved" or NULL for any */
    struct ird_match **subs;  /* ANY, ALL */
    size_t nsubs;
};

struct ird_match {
    struct clause *v;
    size_t n;
};

#define LT_BIT 1u
#define EQ_BIT 2u
#define GT_BIT 4u

static const char *const severities[] = {"info", "warning", "error", "critical"};
#define SEVERITIES_EXPECTED "critical, error, warning, info"

/* Two-character operators first. */
static const struct {
    const char *text;
    unsigned accept;
} sev_ops[] = {
    {">=", GT_BIT | EQ_BIT}, {"<=", LT_BIT | EQ_BIT}, {"==", EQ_BIT},
    {"!=", LT_BIT | GT_BIT}, {">", GT_BIT},           {"<", LT_BIT},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Parsing context: where we are, for messages. */
struct pctx {
    const char *path; /* "match.any[0]" */
    bool top;
    struct ird_err *err;
};

static void patterns_clear(struct pattern_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].text);
        if (l->v[i].is_re)
            regfree(&l->v[i].re);
    }
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static void clause_clear(struct clause *c)
{
    free(c->label);
    patterns_clear(&c->pats);
    patterns_clear(&c->excl);
    free(c->sev_text);
    for (size_t i = 0; i < c->nsubs; i++)
        ird_match_free(c->subs[i]);
    free(c->subs);
}

void ird_match_free(struct ird_match *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++)
        clause_clear(&m->v[i]);
    free(m->v);
    free(m);
}

static int nomem(struct ird_err *err)
{
    return ird_err_set(err, -ENOMEM, "out of memory");
}

static int pattern_add(struct pattern_list *l, const char *text, bool allow_re,
                       const config_setting_t *s, const char *path, struct ird_err *err)
{
    struct pattern *v = realloc(l->v, (l->n + 1) * sizeof(*v));
    if (!v)
        return nomem(err);
    l->v = v;
    struct pattern *p = &v[l->n];
    memset(p, 0, sizeof(*p));
    p->text = strdup(text);
    if (!p->text)
        return nomem(err);
    if (allow_re && text[0] == '~') {
        struct ird_buf b = IRD_BUF_INIT;
        if (ird_buf_printf(&b, "^(%s)$", text + 1) < 0) {
            free(p->text);
            return nomem(err);
        }
        int rc = regcomp(&p->re, b.data, REG_EXTENDED | REG_NOSUB);
        ird_buf_free(&b);
        if (rc != 0) {
            char why[128], q[IRD_K8S_QUOTE_MAX];
            regerror(rc, &p->re, why, sizeof(why));
            free(p->text);
            return ird_cfg_fail(err, s, path, "invalid regular expression %s: %s",
                                ird_k8s_quote(text, q, sizeof(q)), why);
        }
        p->is_re = true;
    }
    l->n++;
    return 0;
}

static bool pattern_match(const struct pattern *p, const char *value)
{
    if (p->is_re)
        return regexec(&p->re, value, 0, NULL, 0) == 0;
    return strcmp(p->text, value) == 0;
}

/* A string, or an array/list of strings, into patterns. */
static int strings_into(const config_setting_t *s, const char *path, bool allow_re,
                        struct pattern_list *out, struct ird_err *err)
{
    if (config_setting_type(s) == CONFIG_TYPE_STRING) {
        const char *v = config_setting_get_string(s);
        if (!*v)
            return ird_cfg_fail(err, s, path, "must not be empty");
        return pattern_add(out, v, allow_re, s, path, err);
    }
    if (config_setting_type(s) != CONFIG_TYPE_ARRAY && config_setting_type(s) != CONFIG_TYPE_LIST)
        return ird_cfg_fail(err, s, path, "must be a string or a list of strings");
    int n = config_setting_length(s);
    if (n == 0)
        return ird_cfg_fail(err, s, path, "must not be an empty list");
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        char epath[PATH_MAX_LEN];
        snprintf(epath, sizeof(epath), "%s[%d]", path, i);
        if (config_setting_type(e) != CONFIG_TYPE_STRING)
            return ird_cfg_fail(err, e, epath, "must be a string");
        const char *v = config_setting_get_string(e);
        if (!*v)
            return ird_cfg_fail(err, e, epath, "must not be empty");
        int rc = pattern_add(out, v, allow_re, e, epath, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static struct clause *clause_new(struct ird_match *m, enum clause_kind kind, const char *key,
                                 struct ird_err *err)
{
    struct clause *v = realloc(m->v, (m->n + 1) * sizeof(*v));
    if (!v) {
        nomem(err);
        return NULL;
    }
    m->v = v;
    struct clause *c = &v[m->n++];
    memset(c, 0, sizeof(*c));
    c->kind = kind;
    c->key = key;
    return c;
}

static int parse_source(const struct pctx *px, const config_setting_t *s, const char *path,
                        struct ird_match *m)
{
    struct clause *c = clause_new(m, CL_SOURCE, "source", px->err);
    return c ? strings_into(s, path, false, &c->pats, px->err) : -ENOMEM;
}

/* rule and title both test the title; key is kept for messages. */
static int title_clause(const struct pctx *px, const config_setting_t *s, const char *path,
                        const char *key, struct ird_match *m)
{
    struct clause *c = clause_new(m, CL_TITLE, key, px->err);
    return c ? strings_into(s, path, true, &c->pats, px->err) : -ENOMEM;
}

static int parse_rule(const struct pctx *px, const config_setting_t *s, const char *path,
                      struct ird_match *m)
{
    return title_clause(px, s, path, "rule", m);
}

static int parse_title(const struct pctx *px, const config_setting_t *s, const char *path,
                       struct ird_match *m)
{
    return title_clause(px, s, path, "title", m);
}

static int add_label(const struct pctx *px, const config_setting_t *s, const char *path,
                     const char *key, const char *value, struct ird_match *m)
{
    if (!*key)
        return ird_cfg_fail(px->err, s, path, "label key must not be empty");
    struct clause *c = clause_new(m, CL_LABEL, "labels", px->err);
    if (!c)
        return -ENOMEM;
    c->label = strdup(key);
    if (!c->label)
        return nomem(px->err);
    return pattern_add(&c->pats, value, true, s, path, px->err);
}

static int parse_labels(const struct pctx *px, const config_setting_t *s, const char *path,
                        struct ird_match *m)
{
    int type = config_setting_type(s);
    if (type != CONFIG_TYPE_GROUP && type != CONFIG_TYPE_LIST)
        return ird_cfg_fail(px->err, s, path,
                            "must be a group (labels = { key = \"value\"; }) or a list of pairs "
                            "(labels = ( (\"key\", \"value\") ))");
    int n = config_setting_length(s);
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        char epath[PATH_MAX_LEN];
        int rc;
        if (type == CONFIG_TYPE_GROUP) {
            snprintf(epath, sizeof(epath), "%s.%s", path, config_setting_name(e));
            if (config_setting_type(e) != CONFIG_TYPE_STRING)
                return ird_cfg_fail(px->err, e, epath, "must be a string");
            rc = add_label(px, e, epath, config_setting_name(e), config_setting_get_string(e), m);
        } else {
            snprintf(epath, sizeof(epath), "%s[%d]", path, i);
            int et = config_setting_type(e);
            const config_setting_t *k = config_setting_get_elem(e, 0);
            const config_setting_t *v = config_setting_get_elem(e, 1);
            if ((et != CONFIG_TYPE_LIST && et != CONFIG_TYPE_ARRAY) ||
                config_setting_length(e) != 2 || config_setting_type(k) != CONFIG_TYPE_STRING ||
                config_setting_type(v) != CONFIG_TYPE_STRING)
                return ird_cfg_fail(px->err, e, epath,
                                    "must be a pair of strings: (\"key\", \"value\")");
            rc = add_label(px, e, epath, config_setting_get_string(k), config_setting_get_string(v),
                           m);
        }
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int severity_level(const char *name)
{
    for (size_t i = 0; i < COUNT(severities); i++)
        if (strcmp(severities[i], name) == 0)
            return (int)i;
    return -1;
}

static int parse_severity(const struct pctx *px, const config_setting_t *s, const char *path,
                          struct ird_match *m)
{
    if (config_setting_type(s) != CONFIG_TYPE_STRING)
        return ird_cfg_fail(px->err, s, path,
                            "must be a string such as \"critical\" or \">= warning\"");
    const char *text = config_setting_get_string(s);
    const char *p = text;
    unsigned accept = EQ_BIT;
    while (*p == ' ')
        p++;
    for (size_t i = 0; i < COUNT(sev_ops); i++) {
        size_t n = strlen(sev_ops[i].text);
        if (strncmp(p, sev_ops[i].text, n) == 0) {
            accept = sev_ops[i].accept;
            p += n;
            break;
        }
    }
    while (*p == ' ')
        p++;
    char name[16];
    size_t n = strcspn(p, " ");
    const char *rest = p + n;
    while (*rest == ' ')
        rest++;
    int level = -1;
    if (n < sizeof(name) && !*rest) {
        memcpy(name, p, n);
        name[n] = '\0';
        level = severity_level(name);
    }
    char q[IRD_K8S_QUOTE_MAX];
    if (level < 0)
        return ird_cfg_fail(px->err, s, path, "%s is not a severity (" SEVERITIES_EXPECTED ")",
                            ird_k8s_quote(text, q, sizeof(q)));
    if ((accept == LT_BIT && level == 0) ||
        (accept == GT_BIT && level == (int)COUNT(severities) - 1))
        return ird_cfg_fail(px->err, s, path, "%s matches no severity",
                            ird_k8s_quote(text, q, sizeof(q)));
    struct clause *c = clause_new(m, CL_SEVERITY, "severity", px->err);
    if (!c)
        return -ENOMEM;
    c->level = level;
    c->accept = accept;
    c->sev_text = strdup(text);
    return c->sev_text ? 0 : nomem(px->err);
}

static int parse_status(const struct pctx *px, const config_setting_t *s, const char *path,
                        struct ird_match *m)
{
    static const char *const statuses[] = {"firing", "resolved", "any"};
    if (!px->top)
        return ird_cfg_fail(px->err, s, path, "status can only be set at the top of match");
    const char *v =
        config_setting_type(s) == CONFIG_TYPE_STRING ? config_setting_get_string(s) : NULL;
    size_t i = 0;
    while (v && i < COUNT(statuses) && strcmp(v, statuses[i]) != 0)
        i++;
    if (!v || i == COUNT(statuses)) {
        char q[IRD_K8S_QUOTE_MAX];
        return ird_cfg_fail(px->err, s, path, "%s is not a status (firing, resolved, any)",
                            v ? ird_k8s_quote(v, q, sizeof(q)) : "the value");
    }
    struct clause *c = clause_new(m, CL_STATUS, "status", px->err);
    if (!c)
        return -ENOMEM;
    c->status = i < 2 ? statuses[i] : NULL;
    return 0;
}

static int parse_namespace(const struct pctx *px, const config_setting_t *s, const char *path,
                           struct ird_match *m)
{
    struct clause *c = clause_new(m, CL_NAMESPACE, "namespace", px->err);
    if (!c)
        return -ENOMEM;
    if (config_setting_type(s) != CONFIG_TYPE_GROUP)
        return strings_into(s, path, false, &c->pats, px->err);
    c->include_all = true;
    int n = config_setting_length(s);
    if (n == 0)
        return ird_cfg_fail(px->err, s, path, "must name include or exclude");
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        const char *name = config_setting_name(e);
        char epath[PATH_MAX_LEN];
        snprintf(epath, sizeof(epath), "%s.%s", path, name);
        int rc;
        if (strcmp(name, "include") == 0) {
            c->include_all = false;
            rc = strings_into(e, epath, false, &c->pats, px->err);
        } else if (strcmp(name, "exclude") == 0) {
            rc = strings_into(e, epath, false, &c->excl, px->err);
        } else {
            rc = ird_cfg_fail(px->err, e, epath, "unknown key (expected include, exclude)");
        }
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int parse_group(const struct pctx *px, const config_setting_t *s, struct ird_match **ret);

static int parse_nested(const struct pctx *px, const config_setting_t *s, const char *path,
                        struct ird_match *m)
{
    const char *key = strcmp(config_setting_name(s), "any") == 0 ? "any" : "all";
    if (config_setting_type(s) != CONFIG_TYPE_LIST)
        return ird_cfg_fail(px->err, s, path, "must be a list of groups: %s = ( { ... }, { ... } )",
                            key);
    int n = config_setting_length(s);
    if (n == 0)
        return ird_cfg_fail(px->err, s, path, "must not be an empty list");
    struct clause *c = clause_new(m, strcmp(key, "any") == 0 ? CL_ANY : CL_ALL, key, px->err);
    if (!c)
        return -ENOMEM;
    c->subs = calloc((size_t)n, sizeof(*c->subs));
    if (!c->subs)
        return nomem(px->err);
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        char epath[PATH_MAX_LEN];
        snprintf(epath, sizeof(epath), "%s[%d]", path, i);
        if (config_setting_type(e) != CONFIG_TYPE_GROUP)
            return ird_cfg_fail(px->err, e, epath, "must be a group { ... }");
        struct pctx sub = {.path = epath, .top = false, .err = px->err};
        int rc = parse_group(&sub, e, &c->subs[c->nsubs]);
        if (rc < 0)
            return rc;
        c->nsubs++;
    }
    return 0;
}

static const struct {
    const char *name;
    int (*parse)(const struct pctx *px, const config_setting_t *s, const char *path,
                 struct ird_match *m);
} keys[] = {
    {"source", parse_source},       {"labels", parse_labels},     {"rule", parse_rule},
    {"title", parse_title},         {"severity", parse_severity}, {"status", parse_status},
    {"namespace", parse_namespace}, {"any", parse_nested},        {"all", parse_nested},
};
#define KEYS_EXPECTED "source, labels, rule, title, severity, status, namespace, any, all"

static int parse_group(const struct pctx *px, const config_setting_t *s, struct ird_match **ret)
{
    struct ird_match *m = calloc(1, sizeof(*m));
    if (!m)
        return nomem(px->err);
    int n = s ? config_setting_length(s) : 0;
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        const char *name = config_setting_name(e);
        char epath[PATH_MAX_LEN];
        snprintf(epath, sizeof(epath), "%s.%s", px->path, name);
        size_t k = 0;
        while (k < COUNT(keys) && strcmp(keys[k].name, name) != 0)
            k++;
        if (k == COUNT(keys))
            rc = ird_cfg_fail(px->err, e, epath, "unknown key (expected " KEYS_EXPECTED ")");
        else
            rc = keys[k].parse(px, e, epath, m);
    }
    if (rc == 0 && px->top) {
        /* The default status: firing. */
        bool has_status = false;
        for (size_t i = 0; i < m->n; i++)
            has_status = has_status || m->v[i].kind == CL_STATUS;
        struct clause *c = has_status ? NULL : clause_new(m, CL_STATUS, "status", px->err);
        if (c)
            c->status = "firing";
        else if (!has_status)
            rc = -ENOMEM;
    }
    if (rc < 0) {
        ird_match_free(m);
        return rc;
    }
    *ret = m;
    return 0;
}

int ird_match_parse(const config_setting_t *setting, struct ird_match **ret, struct ird_err *err)
{
    const char *name =
        setting && config_setting_name(setting) ? config_setting_name(setting) : "match";
    if (setting && config_setting_type(setting) != CONFIG_TYPE_GROUP)
        return ird_cfg_fail(err, setting, name, "must be a group { ... }");
    struct pctx px = {.path = name, .top = true, .err = err};
    return parse_group(&px, setting, ret);
}

/* Matching and explaining share one walk: out is NULL when only the verdict
 * is wanted. */
static const char *field(const cJSON *alert, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(alert, name);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static void list_patterns(struct ird_buf *out, const struct pattern_list *l)
{
    char q[IRD_K8S_QUOTE_MAX];
    if (l->n == 1) {
        ird_buf_puts(out, ird_k8s_quote(l->v[0].text, q, sizeof(q)));
        return;
    }
    ird_buf_puts(out, "[");
    for (size_t i = 0; i < l->n; i++)
        ird_buf_printf(out, "%s%s", i ? ", " : "", ird_k8s_quote(l->v[i].text, q, sizeof(q)));
    ird_buf_puts(out, "]");
}

static const struct pattern *any_pattern(const struct pattern_list *l, const char *value, bool glob)
{
    for (size_t i = 0; i < l->n; i++) {
        bool hit = glob ? fnmatch(l->v[i].text, value, 0) == 0 : pattern_match(&l->v[i], value);
        if (hit)
            return &l->v[i];
    }
    return NULL;
}

static bool match_walk(const struct ird_match *m, const cJSON *alert, struct ird_buf *out);

static bool walk_text(const struct clause *c, const cJSON *alert, struct ird_buf *out)
{
    char q[IRD_K8S_QUOTE_MAX];
    const char *fname = c->kind == CL_SOURCE ? "source" : "title";
    const char *v = field(alert, fname);
    if (any_pattern(&c->pats, v, false))
        return true;
    if (out) {
        ird_buf_printf(out, "%s %s does not match %s ", fname, ird_k8s_quote(v, q, sizeof(q)),
                       c->key);
        list_patterns(out, &c->pats);
    }
    return false;
}

static bool walk_label(const struct clause *c, const cJSON *alert, struct ird_buf *out)
{
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(alert, "labels"), c->label);
    if (cJSON_IsString(l) && pattern_match(&c->pats.v[0], l->valuestring))
        return true;
    if (out) {
        char q[IRD_K8S_QUOTE_MAX], kq[IRD_K8S_QUOTE_MAX];
        ird_k8s_quote(c->label, kq, sizeof(kq));
        if (cJSON_IsString(l))
            ird_buf_printf(out, "label %s = %s does not match ", kq,
                           ird_k8s_quote(l->valuestring, q, sizeof(q)));
        else
            ird_buf_printf(out, "label %s is not set (wanted ", kq);
        list_patterns(out, &c->pats);
        if (!cJSON_IsString(l))
            ird_buf_puts(out, ")");
    }
    return false;
}

static bool walk_severity(const struct clause *c, const cJSON *alert, struct ird_buf *out)
{
    char q[IRD_K8S_QUOTE_MAX];
    const char *v = field(alert, "severity");
    int level = severity_level(v);
    unsigned sign = level < c->level ? LT_BIT : (level == c->level ? EQ_BIT : GT_BIT);
    if (level >= 0 && (c->accept & sign))
        return true;
    if (out)
        ird_buf_printf(out, "severity %s is not %s", ird_k8s_quote(v, q, sizeof(q)), c->sev_text);
    return false;
}

static bool walk_status(const struct clause *c, const cJSON *alert, struct ird_buf *out)
{
    char q[IRD_K8S_QUOTE_MAX];
    const char *v = field(alert, "status");
    if (!c->status || strcmp(v, c->status) == 0)
        return true;
    if (out)
        ird_buf_printf(out, "status %s is not %s", ird_k8s_quote(v, q, sizeof(q)), c->status);
    return false;
}

static bool walk_namespace(const struct clause *c, const cJSON *alert, struct ird_buf *out)
{
    char q[IRD_K8S_QUOTE_MAX], pq[IRD_K8S_QUOTE_MAX];
    const char *v = field(alert, "namespace");
    const struct pattern *ex = any_pattern(&c->excl, v, true);
    if (ex) {
        if (out)
            ird_buf_printf(out, "namespace %s is excluded by %s", ird_k8s_quote(v, q, sizeof(q)),
                           ird_k8s_quote(ex->text, pq, sizeof(pq)));
        return false;
    }
    if (c->include_all || any_pattern(&c->pats, v, true))
        return true;
    if (out) {
        ird_buf_printf(out, "namespace %s does not match ", ird_k8s_quote(v, q, sizeof(q)));
        list_patterns(out, &c->pats);
    }
    return false;
}

static bool walk_any(const struct clause *c, const cJSON *alert, struct ird_buf *out)
{
    for (size_t i = 0; i < c->nsubs; i++)
        if (match_walk(c->subs[i], alert, NULL))
            return true;
    if (out) {
        ird_buf_puts(out, "none of any matched: ");
        for (size_t i = 0; i < c->nsubs; i++) {
            ird_buf_printf(out, "%sany[%zu]: ", i ? "; " : "", i);
            match_walk(c->subs[i], alert, out);
        }
    }
    return false;
}

static bool walk_all(const struct clause *c, const cJSON *alert, struct ird_buf *out)
{
    for (size_t i = 0; i < c->nsubs; i++) {
        if (!match_walk(c->subs[i], alert, NULL)) {
            if (out) {
                ird_buf_printf(out, "all[%zu]: ", i);
                match_walk(c->subs[i], alert, out);
            }
            return false;
        }
    }
    return true;
}

/* How each kind of clause tests an alert; out != NULL also says why not. */
static bool (*const walkers[])(const struct clause *c, const cJSON *alert, struct ird_buf *out) = {
    [CL_SOURCE] = walk_text,       [CL_LABEL] = walk_label,   [CL_TITLE] = walk_text,
    [CL_SEVERITY] = walk_severity, [CL_STATUS] = walk_status, [CL_NAMESPACE] = walk_namespace,
    [CL_ANY] = walk_any,           [CL_ALL] = walk_all,
};

static bool match_walk(const struct ird_match *m, const cJSON *alert, struct ird_buf *out)
{
    for (size_t i = 0; i < m->n; i++)
        if (!walkers[m->v[i].kind](&m->v[i], alert, out))
            return false;
    return true;
}

bool ird_match_alert(const struct ird_match *m, const cJSON *alert)
{
    return match_walk(m, alert, NULL);
}

bool ird_match_explain(const struct ird_match *m, const cJSON *alert, char *buf, size_t len)
{
    struct ird_buf out = IRD_BUF_INIT;
    bool ok = match_walk(m, alert, &out);
    if (len > 0) {
        const char *text = ok ? "matched" : (out.data ? out.data : "did not match");
        snprintf(buf, len, "%s", text);
    }
    ird_buf_free(&out);
    return ok;
}
