/* engine/guard: the `guards` group of ird.conf and the memory behind the rate
 * and blast-radius limits (token bucket, per-incident target sets, the sliding
 * hour). Pure: callers pass the time in and log the refusals themselves. */
#include "engine/guard.h"
#include "core/cfgerr.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "connector.h"
#include "core/k8s_names.h"

#define MINUTE_MS 60000
#define HOUR_MS   3600000
/* The bucket counts in 1/MINUTE_MS of a token, so that refilling `rate`
 * tokens a minute adds exactly `rate` units a millisecond: no fractions. */
#define TOKEN_UNITS ((int64_t)MINUTE_MS)

const char *const ird_guard_names[IRD_GUARD_COUNT] = {
    [IRD_GUARD_PROTECTED_NAMESPACE] = "protected_namespace",
    [IRD_GUARD_PROTECTED_LABEL] = "protected_label",
    [IRD_GUARD_MAX_TARGETS_PER_INCIDENT] = "max_targets_per_incident",
    [IRD_GUARD_MAX_TARGETS_PER_HOUR] = "max_targets_per_hour",
    [IRD_GUARD_MAX_MUTATIONS_PER_MINUTE] = "max_mutations_per_minute",
};

/* A target as one buffer "kind\0namespace\0name\0": compared with memcmp
 * over len, so no separator inside a part can make two targets collide. */
struct target_key {
    char *data;
    size_t len;
};

struct incident {
    char *id;
    struct target_key *targets;
    size_t ntargets, cap;
    int64_t last_ms; /* latest mutation, for choosing whom to forget */
};

struct hour_entry {
    struct target_key key;
    int64_t at_ms; /* latest mutation of this target */
};

struct ird_guards {
    char **namespaces;
    size_t nnamespaces;
    char *label;
    int rate, per_incident, per_hour;

    /* token bucket */
    bool bucket_started;
    int64_t bucket_ms;
    int64_t level; /* in TOKEN_UNITS per token; at most rate * TOKEN_UNITS */
    /* timestamps of the latest mutations, for the message: a ring of
     * 2 * rate + 1, more than a minute of a full bucket can hold */
    int64_t *ring;
    size_t ring_cap, ring_next, ring_n;

    struct incident **incidents;
    size_t nincidents, incidents_cap;

    struct hour_entry *hour;
    size_t nhour, hour_cap;
    bool seen_any;
    int64_t seen_ms; /* the latest time the guards were told about */
};

/* ---- config ---------------------------------------------------------------- */

struct key_row {
    struct ird_guards_key pub;
    int (*parse)(struct ird_guards *g, const struct key_row *k, const config_setting_t *s,
                 struct ird_err *err);
    size_t offset; /* of the int field, for parse_int */
};

static int parse_namespaces(struct ird_guards *g, const struct key_row *k,
                            const config_setting_t *s, struct ird_err *err);
static int parse_label(struct ird_guards *g, const struct key_row *k, const config_setting_t *s,
                       struct ird_err *err);
static int parse_int(struct ird_guards *g, const struct key_row *k, const config_setting_t *s,
                     struct ird_err *err);

#define OFF(f) offsetof(struct ird_guards, f)

static const struct key_row key_rows[] = {
    {{"protected_namespaces", "list of strings", "[ \"kube-system\", \"kube-public\" ]",
      "Namespaces automation never mutates (nor their Namespace objects); ird's own namespace "
      "is always added.",
      0, 0},
     parse_namespaces,
     0},
    {{"protected_label", "string", "\"ird.io/protected\"",
      "Objects carrying this label with the value \"true\" are never mutated.", 0, 0},
     parse_label,
     0},
    {{"max_mutations_per_minute", "int", "30",
      "Mutating actions a minute over all incidents: a token bucket of this capacity, refilled "
      "continuously.",
      1, 10000},
     parse_int,
     OFF(rate)},
    {{"max_targets_per_incident", "int", "10",
      "Distinct objects (kind, namespace, name) one incident may mutate; a playbook may lower "
      "it.",
      1, 1000},
     parse_int,
     OFF(per_incident)},
    {{"max_targets_per_hour", "int", "20",
      "Distinct objects mutated across all incidents in a sliding hour.", 1, 10000},
     parse_int,
     OFF(per_hour)},
};
#define NKEYS (sizeof(key_rows) / sizeof(key_rows[0]))

static const char *const default_namespaces[] = {"kube-system", "kube-public"};
#define DEFAULT_LABEL "ird.io/protected"

size_t ird_guards_nkeys(void)
{
    return NKEYS;
}

const struct ird_guards_key *ird_guards_key(size_t i)
{
    return i < NKEYS ? &key_rows[i].pub : NULL;
}

static int nomem(struct ird_err *err)
{
    return ird_err_set(err, -ENOMEM, "out of memory");
}

static void namespaces_clear(struct ird_guards *g)
{
    for (size_t i = 0; i < g->nnamespaces; i++)
        free(g->namespaces[i]);
    free(g->namespaces);
    g->namespaces = NULL;
    g->nnamespaces = 0;
}

static bool namespace_protected(const struct ird_guards *g, const char *ns)
{
    for (size_t i = 0; i < g->nnamespaces; i++)
        if (strcmp(g->namespaces[i], ns) == 0)
            return true;
    return false;
}

/* Add a checked name; duplicates are dropped. */
static int namespace_add(struct ird_guards *g, const char *ns)
{
    if (namespace_protected(g, ns))
        return 0;
    char *copy = strdup(ns);
    char **v = copy ? realloc(g->namespaces, (g->nnamespaces + 1) * sizeof(*v)) : NULL;
    if (!v) {
        free(copy);
        return -ENOMEM;
    }
    g->namespaces = v;
    g->namespaces[g->nnamespaces++] = copy;
    return 0;
}

static int parse_namespaces(struct ird_guards *g, const struct key_row *k,
                            const config_setting_t *s, struct ird_err *err)
{
    char path[64];
    snprintf(path, sizeof(path), "guards.%s", k->pub.name);
    int type = config_setting_type(s);
    if (type != CONFIG_TYPE_ARRAY && type != CONFIG_TYPE_LIST)
        return ird_cfg_fail(err, s, path, "must be a list of namespace names");
    namespaces_clear(g); /* the list replaces the default */
    int n = config_setting_length(s);
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        char epath[80];
        snprintf(epath, sizeof(epath), "%s[%d]", path, i);
        if (config_setting_type(e) != CONFIG_TYPE_STRING)
            return ird_cfg_fail(err, e, epath, "must be a string");
        const char *ns = config_setting_get_string(e);
        struct ird_err why = {{0}};
        if (ird_k8s_check_name(IRD_K8S_NAMESPACE, ns, &why) < 0)
            return ird_cfg_fail(err, e, epath, "%s", why.msg);
        if (namespace_add(g, ns) < 0)
            return nomem(err);
    }
    return 0;
}

static int parse_label(struct ird_guards *g, const struct key_row *k, const config_setting_t *s,
                       struct ird_err *err)
{
    char path[64];
    snprintf(path, sizeof(path), "guards.%s", k->pub.name);
    if (config_setting_type(s) != CONFIG_TYPE_STRING)
        return ird_cfg_fail(err, s, path, "must be a string (a label key)");
    const char *v = config_setting_get_string(s);
    struct ird_err why = {{0}};
    if (!*v)
        return ird_cfg_fail(err, s, path, "must not be empty");
    if (ird_k8s_check_name(IRD_K8S_LABEL_KEY, v, &why) < 0)
        return ird_cfg_fail(err, s, path, "%s", why.msg);
    char *copy = strdup(v);
    if (!copy)
        return nomem(err);
    free(g->label);
    g->label = copy;
    return 0;
}

static int parse_int(struct ird_guards *g, const struct key_row *k, const config_setting_t *s,
                     struct ird_err *err)
{
    char path[64];
    snprintf(path, sizeof(path), "guards.%s", k->pub.name);
    int type = config_setting_type(s);
    long long v = 0;
    if (type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64)
        v = config_setting_get_int64(s);
    if ((type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64) || v < k->pub.min || v > k->pub.max)
        return ird_cfg_fail(err, s, path, "must be an integer between %lld and %lld",
                            (long long)k->pub.min, (long long)k->pub.max);
    int *field = (int *)((char *)g + k->offset);
    *field = (int)v;
    return 0;
}

static int configure(struct ird_guards *g, const config_setting_t *setting, struct ird_err *err)
{
    if (!config_setting_is_group(setting))
        return ird_cfg_fail(err, setting, "guards", "must be a group: guards = { ... };");
    int n = config_setting_length(setting);
    for (int i = 0; i < n; i++) {
        const config_setting_t *s = config_setting_get_elem(setting, (unsigned)i);
        const char *name = config_setting_name(s);
        const struct key_row *k = NULL;
        for (size_t j = 0; j < NKEYS && !k; j++)
            if (name && strcmp(key_rows[j].pub.name, name) == 0)
                k = &key_rows[j];
        if (!k) {
            char path[300];
            snprintf(path, sizeof(path), "guards.%s", name ? name : "?");
            return ird_cfg_fail(err, s, path,
                                "unknown key (known: protected_namespaces, "
                                "protected_label, max_mutations_per_minute, "
                                "max_targets_per_incident, max_targets_per_hour)");
        }
        int rc = k->parse(g, k, s, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

struct ird_guards *ird_guards_new(const config_setting_t *setting, struct ird_err *err)
{
    struct ird_guards *g = calloc(1, sizeof(*g));
    if (!g) {
        nomem(err);
        return NULL;
    }
    g->rate = 30;
    g->per_incident = 10;
    g->per_hour = 20;
    g->label = strdup(DEFAULT_LABEL);
    int rc = g->label ? 0 : -ENOMEM;
    for (size_t i = 0; rc == 0 && i < sizeof(default_namespaces) / sizeof(default_namespaces[0]);
         i++)
        rc = namespace_add(g, default_namespaces[i]);
    if (rc < 0)
        nomem(err);
    else if (setting)
        rc = configure(g, setting, err);
    if (rc == 0) {
        g->ring_cap = 2 * (size_t)g->rate + 1;
        g->ring = calloc(g->ring_cap, sizeof(*g->ring));
        if (!g->ring)
            rc = nomem(err);
    }
    if (rc < 0) {
        ird_guards_free(g);
        return NULL;
    }
    return g;
}

static void incident_free(struct incident *inc)
{
    if (!inc)
        return;
    for (size_t i = 0; i < inc->ntargets; i++)
        free(inc->targets[i].data);
    free(inc->targets);
    free(inc->id);
    free(inc);
}

void ird_guards_free(struct ird_guards *g)
{
    if (!g)
        return;
    namespaces_clear(g);
    free(g->label);
    free(g->ring);
    for (size_t i = 0; i < g->nincidents; i++)
        incident_free(g->incidents[i]);
    free(g->incidents);
    for (size_t i = 0; i < g->nhour; i++)
        free(g->hour[i].key.data);
    free(g->hour);
    free(g);
}

int ird_guards_protect_namespace(struct ird_guards *g, const char *ns)
{
    if (!g || ird_k8s_check_name(IRD_K8S_NAMESPACE, ns, NULL) < 0)
        return -EINVAL;
    return namespace_add(g, ns);
}

void ird_guards_get_settings(const struct ird_guards *g, struct ird_guards_settings *ret)
{
    ret->protected_namespaces = (const char *const *)g->namespaces;
    ret->nprotected_namespaces = g->nnamespaces;
    ret->protected_label = g->label;
    ret->max_mutations_per_minute = g->rate;
    ret->max_targets_per_incident = g->per_incident;
    ret->max_targets_per_hour = g->per_hour;
}

/* ---- messages -------------------------------------------------------------- */

/* Names go into messages and logs as they are when they look like Kubernetes
 * names (so the usual message reads naturally), quoted and escaped otherwise. */
static const char *shown(const char *v, char *buf, size_t len)
{
    size_t n = 0;
    for (const char *p = v; *p; p++, n++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '.' || c == '_' || c == ':' || c == '/';
        if (!ok)
            return ird_k8s_quote(v, buf, len);
    }
    if (n == 0 || n > IRD_K8S_SUBDOMAIN_MAX)
        return ird_k8s_quote(v, buf, len);
    return v;
}

static int refuse(enum ird_guard_id id, const char **ret_guard, struct ird_err *err,
                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int refuse(enum ird_guard_id id, const char **ret_guard, struct ird_err *err,
                  const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (ret_guard)
        *ret_guard = ird_guard_names[id];
    return ird_err_set(err, -EPERM, "guard %s: %s", ird_guard_names[id], msg);
}

static int refuse_namespace(const char *ns, const char **ret_guard, struct ird_err *err)
{
    char q[IRD_K8S_QUOTE_MAX];
    return refuse(IRD_GUARD_PROTECTED_NAMESPACE, ret_guard, err, "namespace %s is protected",
                  shown(ns, q, sizeof(q)));
}

int ird_guards_check_namespace(const struct ird_guards *g, const char *ns, const char **ret_guard,
                               struct ird_err *err)
{
    if (ret_guard)
        *ret_guard = NULL;
    if (g && ns && *ns && namespace_protected(g, ns))
        return refuse_namespace(ns, ret_guard, err);
    return 0;
}

/* protected_namespace, then protected_label: the guards that do not depend
 * on what was done before. */
static int check_protected(const struct ird_guards *g, const struct ird_guard_target *t,
                           const char *ns, const char **ret_guard, struct ird_err *err)
{
    if (*ns && namespace_protected(g, ns))
        return refuse_namespace(ns, ret_guard, err);
    if (strcmp(t->kind, "Namespace") == 0 && namespace_protected(g, t->name))
        return refuse_namespace(t->name, ret_guard, err);

    const cJSON *v =
        cJSON_IsObject(t->labels) ? cJSON_GetObjectItemCaseSensitive(t->labels, g->label) : NULL;
    bool marked = cJSON_IsTrue(v) || (cJSON_IsString(v) && strcasecmp(v->valuestring, "true") == 0);
    if (!marked)
        return 0;
    char qk[IRD_K8S_QUOTE_MAX], qn[IRD_K8S_QUOTE_MAX], qs[IRD_K8S_QUOTE_MAX], qv[IRD_K8S_QUOTE_MAX];
    const char *value = cJSON_IsString(v) ? shown(v->valuestring, qv, sizeof(qv)) : "true";
    return refuse(IRD_GUARD_PROTECTED_LABEL, ret_guard, err, "%s %s%s%s is labelled %s=%s",
                  shown(t->kind, qk, sizeof(qk)), *ns ? shown(ns, qs, sizeof(qs)) : "",
                  *ns ? "/" : "", shown(t->name, qn, sizeof(qn)), g->label, value);
}

/* ---- memory ---------------------------------------------------------------- */

static int key_make(const struct ird_guard_target *t, const char *ns, struct target_key *ret)
{
    size_t lk = strlen(t->kind) + 1, ln = strlen(ns) + 1, lm = strlen(t->name) + 1;
    char *d = malloc(lk + ln + lm);
    if (!d)
        return -ENOMEM;
    memcpy(d, t->kind, lk);
    memcpy(d + lk, ns, ln);
    memcpy(d + lk + ln, t->name, lm);
    ret->data = d;
    ret->len = lk + ln + lm;
    return 0;
}

static bool key_eq(const struct target_key *a, const struct target_key *b)
{
    return a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

static void note_time(struct ird_guards *g, int64_t ms)
{
    if (!g->seen_any || ms > g->seen_ms)
        g->seen_ms = ms;
    g->seen_any = true;
}

static size_t incident_index(const struct ird_guards *g, const char *id)
{
    for (size_t i = 0; i < g->nincidents; i++)
        if (strcmp(g->incidents[i]->id, id) == 0)
            return i;
    return SIZE_MAX;
}

static struct incident *incident_find(const struct ird_guards *g, const char *id)
{
    size_t i = incident_index(g, id);
    return i == SIZE_MAX ? NULL : g->incidents[i];
}

static void incident_remove_at(struct ird_guards *g, size_t i)
{
    incident_free(g->incidents[i]);
    g->incidents[i] = g->incidents[--g->nincidents];
}

/* Find or create; past IRD_GUARDS_MAX_INCIDENTS the one idle longest goes. */
static struct incident *incident_get(struct ird_guards *g, const char *id, int64_t now_ms)
{
    struct incident *inc = incident_find(g, id);
    if (inc)
        return inc;
    if (g->nincidents >= IRD_GUARDS_MAX_INCIDENTS) {
        size_t oldest = 0;
        for (size_t i = 1; i < g->nincidents; i++)
            if (g->incidents[i]->last_ms < g->incidents[oldest]->last_ms)
                oldest = i;
        incident_remove_at(g, oldest);
    }
    if (g->nincidents == g->incidents_cap) {
        size_t cap = g->incidents_cap ? 2 * g->incidents_cap : 8;
        struct incident **v = realloc(g->incidents, cap * sizeof(*v));
        if (!v)
            return NULL;
        g->incidents = v;
        g->incidents_cap = cap;
    }
    inc = calloc(1, sizeof(*inc));
    if (!inc || !(inc->id = strdup(id))) {
        free(inc);
        return NULL;
    }
    inc->last_ms = now_ms;
    g->incidents[g->nincidents++] = inc;
    return inc;
}

static bool incident_has(const struct incident *inc, const struct target_key *k)
{
    for (size_t i = 0; inc && i < inc->ntargets; i++)
        if (key_eq(&inc->targets[i], k))
            return true;
    return false;
}

static int incident_reserve(struct incident *inc)
{
    if (inc->ntargets < inc->cap)
        return 0;
    size_t cap = inc->cap ? 2 * inc->cap : 4;
    struct target_key *v = realloc(inc->targets, cap * sizeof(*v));
    if (!v)
        return -ENOMEM;
    inc->targets = v;
    inc->cap = cap;
    return 0;
}

static bool in_hour(int64_t at_ms, int64_t now_ms)
{
    return now_ms - at_ms < HOUR_MS;
}

static void hour_expire(struct ird_guards *g, int64_t now_ms)
{
    for (size_t i = 0; i < g->nhour;) {
        if (in_hour(g->hour[i].at_ms, now_ms)) {
            i++;
            continue;
        }
        free(g->hour[i].key.data);
        g->hour[i] = g->hour[--g->nhour];
    }
}

static size_t hour_index(const struct ird_guards *g, const struct target_key *k)
{
    for (size_t i = 0; i < g->nhour; i++)
        if (key_eq(&g->hour[i].key, k))
            return i;
    return SIZE_MAX;
}

static int hour_reserve(struct ird_guards *g)
{
    if (g->nhour < g->hour_cap)
        return 0;
    size_t cap = g->hour_cap ? 2 * g->hour_cap : 8;
    struct hour_entry *v = realloc(g->hour, cap * sizeof(*v));
    if (!v)
        return -ENOMEM;
    g->hour = v;
    g->hour_cap = cap;
    return 0;
}

/* Refill up to now. A clock that went back restarts the refill from there
 * rather than stalling the bucket until it catches up. */
static void bucket_advance(struct ird_guards *g, int64_t now_ms)
{
    int64_t full = (int64_t)g->rate * TOKEN_UNITS;
    if (!g->bucket_started) {
        g->bucket_started = true;
        g->bucket_ms = now_ms;
        g->level = full;
        return;
    }
    if (now_ms > g->bucket_ms) {
        int64_t dt = now_ms - g->bucket_ms;
        if (dt > MINUTE_MS) /* a minute refills an empty bucket: no overflow past it */
            dt = MINUTE_MS;
        g->level += dt * g->rate;
        if (g->level > full)
            g->level = full;
    }
    g->bucket_ms = now_ms;
}

static void bucket_take(struct ird_guards *g, int64_t at_ms)
{
    g->level = g->level > TOKEN_UNITS ? g->level - TOKEN_UNITS : 0;
    g->ring[g->ring_next] = at_ms;
    g->ring_next = (g->ring_next + 1) % g->ring_cap;
    if (g->ring_n < g->ring_cap)
        g->ring_n++;
}

static unsigned ring_count(const struct ird_guards *g, int64_t now_ms)
{
    unsigned n = 0;
    for (size_t i = 0; i < g->ring_n; i++) {
        int64_t d = now_ms - g->ring[i];
        if (d >= 0 && d < MINUTE_MS)
            n++;
    }
    return n;
}

/* ---- the check ------------------------------------------------------------- */

static bool target_ok(const struct ird_guard_target *t)
{
    return t && t->kind && *t->kind && t->name && *t->name;
}

int ird_guards_check(struct ird_guards *g, const char *incident_id,
                     const struct ird_guard_target *t, int64_t now_ms, int playbook_max_targets,
                     const char **ret_guard, struct ird_err *err)
{
    if (ret_guard)
        *ret_guard = NULL;
    if (!g || !target_ok(t))
        return ird_err_set(err, -EINVAL, "guard: the target has no kind or name");
    const char *ns = t->namespace_ ? t->namespace_ : "";
    int rc = check_protected(g, t, ns, ret_guard, err);
    if (rc < 0)
        return rc;

    note_time(g, now_ms);
    hour_expire(g, now_ms);
    bucket_advance(g, now_ms);

    struct target_key key;
    if (key_make(t, ns, &key) < 0)
        return nomem(err);
    bool has_incident = incident_id && *incident_id;
    struct incident *inc = has_incident ? incident_find(g, incident_id) : NULL;
    bool known_to_incident = incident_has(inc, &key);
    size_t hi = hour_index(g, &key);
    char q[IRD_K8S_QUOTE_MAX];

    if (has_incident && !known_to_incident) {
        int limit = g->per_incident;
        if (playbook_max_targets > 0 && playbook_max_targets < limit)
            limit = playbook_max_targets;
        size_t n = inc ? inc->ntargets : 0;
        if (n >= (size_t)limit) {
            free(key.data);
            return refuse(IRD_GUARD_MAX_TARGETS_PER_INCIDENT, ret_guard, err,
                          "incident %s has already touched %zu targets (limit %d)",
                          shown(incident_id, q, sizeof(q)), n, limit);
        }
    }
    if (hi == SIZE_MAX && g->nhour >= (size_t)g->per_hour) {
        free(key.data);
        return refuse(IRD_GUARD_MAX_TARGETS_PER_HOUR, ret_guard, err,
                      "%zu distinct targets mutated in the last hour (limit %d)", g->nhour,
                      g->per_hour);
    }
    if (g->level < TOKEN_UNITS) {
        free(key.data);
        return refuse(IRD_GUARD_MAX_MUTATIONS_PER_MINUTE, ret_guard, err,
                      "%u mutating actions in the last minute (limit %d)", ring_count(g, now_ms),
                      g->rate);
    }

    /* Allowed: take every allocation first, so that a failure records nothing. */
    struct target_key hour_key = {NULL, 0};
    if (has_incident && !(inc = incident_get(g, incident_id, now_ms)))
        rc = -ENOMEM;
    if (rc == 0 && has_incident && !known_to_incident && incident_reserve(inc) < 0)
        rc = -ENOMEM;
    if (rc == 0 && hi == SIZE_MAX) {
        hour_key.data = malloc(key.len);
        if (!hour_key.data || hour_reserve(g) < 0)
            rc = -ENOMEM;
        else
            memcpy(hour_key.data, key.data, key.len);
        hour_key.len = key.len;
    }
    if (rc < 0) {
        free(hour_key.data);
        free(key.data);
        return nomem(err);
    }

    if (has_incident) {
        if (!known_to_incident) {
            inc->targets[inc->ntargets++] = key;
            key.data = NULL;
        }
        if (now_ms > inc->last_ms)
            inc->last_ms = now_ms;
    }
    free(key.data);
    if (hi == SIZE_MAX)
        g->hour[g->nhour++] = (struct hour_entry){hour_key, now_ms};
    else if (now_ms > g->hour[hi].at_ms)
        g->hour[hi].at_ms = now_ms;
    bucket_take(g, now_ms);
    return 0;
}

int ird_guards_remember(struct ird_guards *g, const char *incident_id,
                        const struct ird_guard_target *t, int64_t at_ms)
{
    if (!g || !target_ok(t))
        return -EINVAL;
    const char *ns = t->namespace_ ? t->namespace_ : "";
    struct target_key key;
    if (key_make(t, ns, &key) < 0)
        return -ENOMEM;
    note_time(g, at_ms);

    if (incident_id && *incident_id) {
        struct incident *inc = incident_get(g, incident_id, at_ms);
        if (!inc || (!incident_has(inc, &key) && incident_reserve(inc) < 0)) {
            free(key.data);
            return -ENOMEM;
        }
        if (at_ms > inc->last_ms)
            inc->last_ms = at_ms;
        if (!incident_has(inc, &key)) {
            struct target_key copy = {malloc(key.len), key.len};
            if (!copy.data) {
                free(key.data);
                return -ENOMEM;
            }
            memcpy(copy.data, key.data, key.len);
            inc->targets[inc->ntargets++] = copy;
        }
    }

    size_t hi = hour_index(g, &key);
    if (hi != SIZE_MAX) {
        if (at_ms > g->hour[hi].at_ms)
            g->hour[hi].at_ms = at_ms;
        free(key.data);
    } else if (!in_hour(at_ms, g->seen_ms)) {
        free(key.data);
    } else if (hour_reserve(g) < 0) {
        free(key.data);
        return -ENOMEM;
    } else {
        g->hour[g->nhour++] = (struct hour_entry){key, at_ms};
    }
    hour_expire(g, g->seen_ms);

    /* The rate memory: a mutation within the last minute of the bucket's
     * clock still holds its token. Older ones were refilled long ago. */
    if (!g->bucket_started || at_ms >= g->bucket_ms) {
        bucket_advance(g, at_ms);
        bucket_take(g, at_ms);
    } else if (g->bucket_ms - at_ms < MINUTE_MS) {
        bucket_take(g, at_ms);
    }
    return 0;
}

void ird_guards_forget_incident(struct ird_guards *g, const char *incident_id)
{
    if (!g || !incident_id)
        return;
    size_t i = incident_index(g, incident_id);
    if (i != SIZE_MAX)
        incident_remove_at(g, i);
}

void ird_guards_get_stats(const struct ird_guards *g, int64_t now_ms, struct ird_guards_stats *ret)
{
    memset(ret, 0, sizeof(*ret));
    ret->mutations_last_minute = ring_count(g, now_ms);
    int64_t full = (int64_t)g->rate * TOKEN_UNITS, level = full;
    if (g->bucket_started) {
        level = g->level;
        if (now_ms > g->bucket_ms) {
            int64_t dt = now_ms - g->bucket_ms;
            level += (dt > MINUTE_MS ? MINUTE_MS : dt) * g->rate;
        }
        if (level > full)
            level = full;
    }
    ret->tokens_available = (unsigned)(level / TOKEN_UNITS);
    for (size_t i = 0; i < g->nhour; i++)
        if (in_hour(g->hour[i].at_ms, now_ms))
            ret->targets_last_hour++;
    ret->incidents_tracked = (unsigned)g->nincidents;
}
