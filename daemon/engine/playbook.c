/* The playbook loader (every <dir>/<name>.conf into a validated set, every problem
 * reported as "file:line: path: message") and the run-time helpers over a
 * loaded playbook: matching, target expansion, `with` expansion into typed
 * action parameters. Pure apart from reading the directory; never logs. */
#include "engine/playbook.h"

#include <dirent.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/k8s_names.h"

#define COUNT(a)                    (sizeof(a) / sizeof((a)[0]))
#define NAME_MAX_LEN                63
#define PATH_LEN                    160
#define REDACTED                    "[redacted]"
#define DEFAULT_TIMEOUT_MS          30000
#define DEFAULT_APPROVAL_TIMEOUT_MS (15 * 60 * 1000)
#define RETRIES_MAX                 20

/* snprintf into a bounded buffer where cutting is intended (paths and names
 * shown in messages), without -Wformat-truncation noise at every call. */
static void fmt_into(char *out, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fmt_into(char *out, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, len, fmt, ap);
    va_end(ap);
}

/* ---- the set -------------------------------------------------------------------------- */

struct ird_playbook_set {
    struct ird_playbook **v; /* run order */
    size_t n;
};

enum arg_kind { ARG_LITERAL, ARG_TEMPLATE, ARG_LIST, ARG_GROUP };

struct arg_item {
    char *key; /* ARG_GROUP member name; NULL in lists */
    struct ird_template *t;
};

struct step_arg {
    const struct ird_param_spec *spec;
    enum arg_kind kind;
    cJSON *literal;         /* ARG_LITERAL: a number or bool */
    struct ird_template *t; /* ARG_TEMPLATE */
    struct arg_item *items; /* ARG_LIST, ARG_GROUP */
    size_t nitems;
};

struct ird_step_args {
    struct step_arg *v;
    size_t n;
};

static void args_free(struct ird_step_args *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n; i++) {
        struct step_arg *g = &a->v[i];
        cJSON_Delete(g->literal);
        ird_template_free(g->t);
        for (size_t j = 0; j < g->nitems; j++) {
            free(g->items[j].key);
            ird_template_free(g->items[j].t);
        }
        free(g->items);
    }
    free(a->v);
    free(a);
}

static void step_clear(struct ird_step *s)
{
    free(s->name);
    free(s->action);
    free(s->instance);
    args_free(s->with);
    ird_cond_free(s->when);
}

static void playbook_free(struct ird_playbook *pb)
{
    if (!pb)
        return;
    free(pb->name);
    free(pb->description);
    free(pb->file);
    ird_match_free(pb->match);
    for (size_t i = 0; i < pb->ntarget; i++) {
        free(pb->target[i].key);
        ird_template_free(pb->target[i].value);
    }
    free(pb->target);
    free(pb->escalation);
    for (size_t i = 0; i < pb->nparams; i++) {
        free(pb->params[i].name);
        free(pb->params[i].description);
        free(pb->params[i].default_value);
    }
    free(pb->params);
    for (size_t i = 0; i < pb->nsteps; i++)
        step_clear(&pb->steps[i]);
    free(pb->steps);
    for (size_t i = 0; i < pb->non_resolve; i++)
        step_clear(&pb->on_resolve[i]);
    free(pb->on_resolve);
    free(pb);
}

void ird_playbook_set_free(struct ird_playbook_set *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        playbook_free(s->v[i]);
    free(s->v);
    free(s);
}

size_t ird_playbook_set_count(const struct ird_playbook_set *s)
{
    return s ? s->n : 0;
}

const struct ird_playbook *ird_playbook_set_at(const struct ird_playbook_set *s, size_t i)
{
    return s && i < s->n ? s->v[i] : NULL;
}

const struct ird_playbook *ird_playbook_find(const struct ird_playbook_set *s, const char *name)
{
    for (size_t i = 0; s && name && i < s->n; i++)
        if (strcmp(s->v[i]->name, name) == 0)
            return s->v[i];
    return NULL;
}

const struct ird_step *ird_playbook_step_find(const struct ird_playbook *pb, const char *name)
{
    for (size_t i = 0; pb && name && i < pb->nsteps; i++)
        if (strcmp(pb->steps[i].name, name) == 0)
            return &pb->steps[i];
    for (size_t i = 0; pb && name && i < pb->non_resolve; i++)
        if (strcmp(pb->on_resolve[i].name, name) == 0)
            return &pb->on_resolve[i];
    return NULL;
}

static bool ref_reads(const struct ird_template_ref *r, const char *field)
{
    return strcmp(r->root, "alert") == 0 && r->nsegs > 0 && strcmp(r->segs[0], field) == 0;
}

static bool template_reads(const struct ird_template *t, const char *field)
{
    for (size_t i = 0; t && i < ird_template_ref_count(t); i++)
        if (ref_reads(ird_template_ref_at(t, i), field))
            return true;
    return false;
}

static int cond_ref_reads(const struct ird_template_ref *r, void *field)
{
    return ref_reads(r, field);
}

static bool steps_read(const struct ird_step *steps, size_t n, const char *field)
{
    for (size_t i = 0; i < n; i++) {
        const struct ird_step *st = &steps[i];
        if (st->when && ird_cond_foreach_ref(st->when, cond_ref_reads, (void *)field))
            return true;
        for (size_t k = 0; st->with && k < st->with->n; k++) {
            const struct step_arg *g = &st->with->v[k];
            if (template_reads(g->t, field))
                return true;
            for (size_t j = 0; j < g->nitems; j++)
                if (template_reads(g->items[j].t, field))
                    return true;
        }
    }
    return false;
}

bool ird_playbook_reads_alert(const struct ird_playbook *pb, const char *field)
{
    for (size_t i = 0; i < pb->ntarget; i++)
        if (template_reads(pb->target[i].value, field))
            return true;
    return steps_read(pb->steps, pb->nsteps, field) ||
           steps_read(pb->on_resolve, pb->non_resolve, field);
}

bool ird_playbook_matches(const struct ird_playbook *pb, const cJSON *alert)
{
    if (!pb || pb->mode == IRD_PLAYBOOK_MANUAL)
        return false;
    return ird_match_alert(pb->match, alert);
}

/* ---- value conversion (load time for literal text, run time for expansions) ----------- */

static const char *const secret_suffixes[] = {
    "token", "password", "secret", "api_key", "routing_key", "hmac_key", "webhook_url",
};

bool ird_playbook_param_is_secret(const struct ird_param_spec *spec)
{
    if (!spec || spec->type != IRD_PARAM_STRING)
        return false;
    size_t n = strlen(spec->name);
    for (size_t i = 0; i < COUNT(secret_suffixes); i++) {
        size_t k = strlen(secret_suffixes[i]);
        if (n >= k && strcmp(spec->name + n - k, secret_suffixes[i]) == 0)
            return true;
    }
    return false;
}

/* Which Kubernetes naming rule a K8S_NAME parameter follows, by its name. */
static const struct {
    const char *param;
    enum ird_k8s_name_kind kind;
} name_kinds[] = {
    {"pod", IRD_K8S_POD_NAME},
    {"node", IRD_K8S_NODE_NAME},
    {"secret", IRD_K8S_SECRET_NAME},
    {"container", IRD_K8S_CONTAINER_NAME},
};

static enum ird_k8s_name_kind name_kind(const struct ird_param_spec *spec)
{
    if (spec->type == IRD_PARAM_NAMESPACE)
        return IRD_K8S_NAMESPACE;
    for (size_t i = 0; i < COUNT(name_kinds); i++)
        if (strcmp(name_kinds[i].param, spec->name) == 0)
            return name_kinds[i].kind;
    return IRD_K8S_OBJECT_NAME;
}

static const char *const type_expect[] = {
    [IRD_PARAM_STRING] = "a string",
    [IRD_PARAM_INT] = "an integer",
    [IRD_PARAM_BOOL] = "true or false",
    [IRD_PARAM_DURATION] = "a duration such as \"30s\"",
    [IRD_PARAM_STRING_LIST] = "a list of strings",
    [IRD_PARAM_NAMESPACE] = "a namespace name",
    [IRD_PARAM_K8S_NAME] = "a Kubernetes name",
    [IRD_PARAM_OBJECT] = "a group of strings",
};

static const char *expect_word(enum ird_param_type t)
{
    return (size_t)t < COUNT(type_expect) && type_expect[t] ? type_expect[t] : "a value";
}

static int parse_int_text(const char *s, long long *ret)
{
    if (!s || !*s)
        return -EINVAL;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || !end || *end || end == s)
        return -EINVAL;
    *ret = v;
    return 0;
}

/* The text of a scalar JSON value (integral numbers as integers), into buf. */
static const char *scalar_text(const cJSON *v, char *buf, size_t len)
{
    if (cJSON_IsString(v))
        return v->valuestring;
    if (cJSON_IsBool(v))
        return cJSON_IsTrue(v) ? "true" : "false";
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (d == (double)(long long)d)
            fmt_into(buf, len, "%lld", (long long)d);
        else
            fmt_into(buf, len, "%.17g", d);
        return buf;
    }
    return NULL;
}

static const char *json_kind(const cJSON *v)
{
    if (cJSON_IsArray(v))
        return "a list";
    if (cJSON_IsObject(v))
        return "an object";
    if (cJSON_IsNull(v))
        return "null";
    return "a value";
}

/* Convert v (a string from a template or a default, or a typed value from a
 * single-variable template) to spec's type. Returns 0 and *ret (new), or
 * -EINVAL with a reason naming the value. */
static int convert(const struct ird_param_spec *spec, const cJSON *v, cJSON **ret,
                   struct ird_err *err)
{
    char num[64], q[IRD_K8S_QUOTE_MAX];
    const char *text = scalar_text(v, num, sizeof(num));
    cJSON *out = NULL;
    switch (spec->type) {
    case IRD_PARAM_STRING:
    case IRD_PARAM_NAMESPACE:
    case IRD_PARAM_K8S_NAME:
        if (!text)
            return ird_err_set(err, -EINVAL, "expected %s, got %s", expect_word(spec->type),
                               json_kind(v));
        if (spec->type != IRD_PARAM_STRING) {
            int rc = ird_k8s_check_name(name_kind(spec), text, err);
            if (rc < 0)
                return rc;
        }
        out = cJSON_CreateString(text);
        break;
    case IRD_PARAM_INT: {
        long long n;
        if (!text || cJSON_IsBool(v) || parse_int_text(text, &n) < 0)
            return ird_err_set(err, -EINVAL, "expected an integer, got %s",
                               text ? ird_k8s_quote(text, q, sizeof(q)) : json_kind(v));
        out = cJSON_CreateNumber((double)n);
        break;
    }
    case IRD_PARAM_BOOL:
        if (text && strcmp(text, "true") == 0)
            out = cJSON_CreateTrue();
        else if (text && strcmp(text, "false") == 0)
            out = cJSON_CreateFalse();
        else
            return ird_err_set(err, -EINVAL, "expected true or false, got %s",
                               text ? ird_k8s_quote(text, q, sizeof(q)) : json_kind(v));
        break;
    case IRD_PARAM_DURATION: {
        int64_t ms;
        if (!text || cJSON_IsBool(v) || ird_duration_parse(text, &ms) < 0)
            return ird_err_set(err, -EINVAL,
                               "expected a duration such as \"500ms\", \"30s\", \"5m\", got %s",
                               text ? ird_k8s_quote(text, q, sizeof(q)) : json_kind(v));
        out = cJSON_CreateNumber((double)ms);
        break;
    }
    case IRD_PARAM_STRING_LIST:
        if (cJSON_IsArray(v)) {
            const cJSON *e;
            cJSON_ArrayForEach(e, v)
                if (!cJSON_IsString(e))
                    return ird_err_set(err, -EINVAL,
                                       "expected a list of strings, got a list with %s",
                                       json_kind(e));
            out = cJSON_Duplicate(v, 1);
        } else if (text) {
            out = cJSON_CreateArray();
            if (out && *text)
                cJSON_AddItemToArray(out, cJSON_CreateString(text));
        } else {
            return ird_err_set(err, -EINVAL, "expected a list of strings, got %s", json_kind(v));
        }
        break;
    case IRD_PARAM_OBJECT:
        if (!cJSON_IsObject(v))
            return ird_err_set(err, -EINVAL, "expected a group of strings, got %s",
                               text ? "a string" : json_kind(v));
        {
            const cJSON *e;
            cJSON_ArrayForEach(e, v)
                if (!cJSON_IsString(e))
                    return ird_err_set(err, -EINVAL,
                                       "expected a group of strings, %s is not a string",
                                       ird_k8s_quote(e->string, q, sizeof(q)));
        }
        out = cJSON_Duplicate(v, 1);
        break;
    default:
        return ird_err_set(err, -EINVAL, "unsupported parameter type");
    }
    if (!out)
        return ird_err_set(err, -ENOMEM, "out of memory");
    *ret = out;
    return 0;
}

/* ---- the loader's bookkeeping ---------------------------------------------------------- */

struct loader {
    struct ird_diags *diags;
    const struct ird_playbook_context *ctx;
    const char *file;
    struct ird_playbook *pb;
    unsigned errors; /* problems in the current file */
    bool nomem;
    int name_line; /* of the playbook's name, for duplicate reports */
};

static void diag(struct loader *ld, const config_setting_t *s, const char *path, const char *fmt,
                 ...) __attribute__((format(printf, 4, 5)));

/* Report at the nearest setting that has a line (list elements may not). */
static void diag(struct loader *ld, const config_setting_t *s, const char *path, const char *fmt,
                 ...)
{
    char msg[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    const config_setting_t *at = s;
    while (at && config_setting_source_line(at) == 0)
        at = config_setting_parent(at);
    int line = at ? (int)config_setting_source_line(at) : 0;
    if (path && *path)
        ird_diag_add(ld->diags, ld->file, line, "%s: %s", path, msg);
    else
        ird_diag_add(ld->diags, ld->file, line, "%s", msg);
    ld->errors++;
}

static int line_of(const config_setting_t *s)
{
    while (s && config_setting_source_line(s) == 0)
        s = config_setting_parent(s);
    return s ? (int)config_setting_source_line(s) : 0;
}

static char *xstrdup(struct loader *ld, const char *s)
{
    char *d = strdup(s ? s : "");
    if (!d)
        ld->nomem = true;
    return d;
}

static const char *setting_kind(const config_setting_t *s)
{
    static const struct {
        int type;
        const char *word;
    } kinds[] = {
        {CONFIG_TYPE_INT, "an integer"},
        {CONFIG_TYPE_INT64, "an integer"},
        {CONFIG_TYPE_FLOAT, "a decimal number"},
        {CONFIG_TYPE_STRING, "a string"},
        {CONFIG_TYPE_BOOL, "a boolean"},
        {CONFIG_TYPE_ARRAY, "a list"},
        {CONFIG_TYPE_LIST, "a list"},
        {CONFIG_TYPE_GROUP, "a group"},
    };
    int t = config_setting_type(s);
    for (size_t i = 0; i < COUNT(kinds); i++)
        if (kinds[i].type == t)
            return kinds[i].word;
    return "a value";
}

static bool is_list(const config_setting_t *s)
{
    int t = config_setting_type(s);
    return t == CONFIG_TYPE_LIST || t == CONFIG_TYPE_ARRAY;
}

static bool is_int(const config_setting_t *s)
{
    int t = config_setting_type(s);
    return t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64;
}

static int get_string(struct loader *ld, const config_setting_t *s, const char *path,
                      const char **ret)
{
    if (config_setting_type(s) != CONFIG_TYPE_STRING) {
        diag(ld, s, path, "expected a string, found %s", setting_kind(s));
        return -EINVAL;
    }
    *ret = config_setting_get_string(s);
    return 0;
}

static int get_bool(struct loader *ld, const config_setting_t *s, const char *path, bool *ret)
{
    if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
        diag(ld, s, path, "expected true or false, found %s", setting_kind(s));
        return -EINVAL;
    }
    *ret = config_setting_get_bool(s) != 0;
    return 0;
}

static int get_int(struct loader *ld, const config_setting_t *s, const char *path, long long min,
                   long long max, long long *ret)
{
    if (!is_int(s)) {
        diag(ld, s, path, "expected an integer, found %s", setting_kind(s));
        return -EINVAL;
    }
    long long v = config_setting_get_int64(s);
    if (v < min || v > max) {
        diag(ld, s, path, "%lld is out of range (%lld..%lld)", v, min, max);
        return -EINVAL;
    }
    *ret = v;
    return 0;
}

static int get_duration(struct loader *ld, const config_setting_t *s, const char *path,
                        int64_t *ret)
{
    const char *text;
    if (get_string(ld, s, path, &text) < 0)
        return -EINVAL;
    if (ird_duration_parse(text, ret) < 0 || *ret < 0) {
        char q[IRD_K8S_QUOTE_MAX];
        diag(ld, s, path, "%s is not a duration (e.g. \"500ms\", \"30s\", \"5m\", \"2h\")",
             ird_k8s_quote(text, q, sizeof(q)));
        return -EINVAL;
    }
    return 0;
}

/* One of choices (a NULL-terminated list); the index in *ret. */
static int get_choice(struct loader *ld, const config_setting_t *s, const char *path,
                      const char *const *choices, int *ret)
{
    const char *text;
    if (get_string(ld, s, path, &text) < 0)
        return -EINVAL;
    for (int i = 0; choices[i]; i++) {
        if (strcmp(choices[i], text) == 0) {
            *ret = i;
            return 0;
        }
    }
    struct ird_buf b = IRD_BUF_INIT;
    for (int i = 0; choices[i]; i++)
        ird_buf_printf(&b, "%s%s", i ? " | " : "", choices[i]);
    char q[IRD_K8S_QUOTE_MAX];
    diag(ld, s, path, "%s is not one of %s", ird_k8s_quote(text, q, sizeof(q)),
         b.data ? b.data : "");
    ird_buf_free(&b);
    return -EINVAL;
}

/* [a-z0-9] plus extra characters, 1..63 bytes. */
static bool name_ok(const char *s, const char *extra)
{
    size_t n = strlen(s);
    if (n == 0 || n > NAME_MAX_LEN)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr(extra, c)))
            return false;
    }
    return true;
}

/* Keys a group may hold; reports the others. */
static void check_keys(struct loader *ld, const config_setting_t *group, const char *path,
                       const char *const *known, size_t nknown)
{
    int n = config_setting_length(group);
    for (int i = 0; i < n; i++) {
        const config_setting_t *m = config_setting_get_elem(group, (unsigned)i);
        const char *name = config_setting_name(m);
        size_t k = 0;
        while (k < nknown && strcmp(known[k], name ? name : "") != 0)
            k++;
        if (k < nknown)
            continue;
        struct ird_buf b = IRD_BUF_INIT;
        for (size_t j = 0; j < nknown; j++)
            ird_buf_printf(&b, "%s%s", j ? ", " : "", known[j]);
        char p[PATH_LEN];
        fmt_into(p, sizeof(p), "%s%s%s", path, *path ? "." : "", name ? name : "?");
        diag(ld, m, p, "unknown key (known: %s)", b.data ? b.data : "");
        ird_buf_free(&b);
    }
}

/* ---- variable checks ------------------------------------------------------------------- */

/* Where a template sits, for the checks of the variables it may use. */
struct scope {
    struct loader *ld;
    const config_setting_t *at;
    const char *path;
    bool in_target;
    const struct ird_step *earlier; /* steps before this one in its list */
    size_t nearlier;
    const struct ird_step *main; /* for on_resolve: all main steps */
    size_t nmain;
};

static bool earlier_step(const struct scope *sc, const char *name)
{
    for (size_t i = 0; i < sc->nearlier; i++)
        if (strcmp(sc->earlier[i].name, name) == 0)
            return true;
    for (size_t i = 0; i < sc->nmain; i++)
        if (strcmp(sc->main[i].name, name) == 0)
            return true;
    return false;
}

static int check_ref(const struct ird_template_ref *ref, void *userdata)
{
    const struct scope *sc = userdata;
    struct loader *ld = sc->ld;
    const struct ird_playbook *pb = ld->pb;
    const char *root = ref->root, *first = ref->segs[0];
    struct ird_buf known = IRD_BUF_INIT;
    if (strcmp(root, "steps") == 0) {
        if (sc->in_target)
            diag(ld, sc->at, sc->path, "${%s}: the target is expanded before any step runs",
                 ref->path);
        else if (!earlier_step(sc, first))
            diag(ld, sc->at, sc->path, "${%s}: %s is not an earlier step", ref->path, first);
    } else if (strcmp(root, "target") == 0) {
        size_t i = 0;
        while (i < pb->ntarget && strcmp(pb->target[i].key, first) != 0)
            i++;
        if (sc->in_target) {
            diag(ld, sc->at, sc->path, "${%s}: a target value cannot refer to the target",
                 ref->path);
        } else if (i == pb->ntarget) {
            for (size_t j = 0; j < pb->ntarget; j++)
                ird_buf_printf(&known, "%s%s", j ? ", " : "", pb->target[j].key);
            diag(ld, sc->at, sc->path, "${%s}: the target has no key %s (keys: %s)", ref->path,
                 first, known.data ? known.data : "none");
        }
    } else if (strcmp(root, "param") == 0) {
        size_t i = 0;
        while (i < pb->nparams && strcmp(pb->params[i].name, first) != 0)
            i++;
        if (pb->mode != IRD_PLAYBOOK_MANUAL) {
            diag(ld, sc->at, sc->path,
                 "${%s}: parameters exist only in manual playbooks (mode = \"manual\")", ref->path);
        } else if (i == pb->nparams) {
            for (size_t j = 0; j < pb->nparams; j++)
                ird_buf_printf(&known, "%s%s", j ? ", " : "", pb->params[j].name);
            diag(ld, sc->at, sc->path, "${%s}: no parameter %s is declared (declared: %s)",
                 ref->path, first, known.data ? known.data : "none");
        }
    }
    ird_buf_free(&known);
    return 0;
}

/* Parse text as a template at sc's place; NULL after reporting. */
static struct ird_template *parse_template(const struct scope *sc, const char *text)
{
    struct ird_err err = {{0}};
    struct ird_template *t = ird_template_parse(text, &err);
    if (!t) {
        diag(sc->ld, sc->at, sc->path, "%s", err.msg);
        return NULL;
    }
    for (size_t i = 0; i < ird_template_ref_count(t); i++)
        check_ref(ird_template_ref_at(t, i), (void *)sc);
    return t;
}

/* ---- top-level keys -------------------------------------------------------------------- */

static void load_target(struct loader *ld, const config_setting_t *s)
{
    struct ird_playbook *pb = ld->pb;
    if (config_setting_type(s) != CONFIG_TYPE_GROUP) {
        diag(ld, s, "target", "expected a group { key = \"template\"; ... }, found %s",
             setting_kind(s));
        return;
    }
    int n = config_setting_length(s);
    pb->target = calloc((size_t)n + 1, sizeof(*pb->target));
    if (!pb->target) {
        ld->nomem = true;
        return;
    }
    /* Keys first, so ${target.k} checks in steps see every key even when a
     * value is broken. */
    for (int i = 0; i < n; i++) {
        const config_setting_t *m = config_setting_get_elem(s, (unsigned)i);
        pb->target[pb->ntarget].key = xstrdup(ld, config_setting_name(m));
        pb->ntarget++;
    }
    for (int i = 0; i < n; i++) {
        const config_setting_t *m = config_setting_get_elem(s, (unsigned)i);
        char path[PATH_LEN];
        fmt_into(path, sizeof(path), "target.%s", config_setting_name(m));
        const char *text;
        if (get_string(ld, m, path, &text) < 0)
            continue;
        struct scope sc = {.ld = ld, .at = m, .path = path, .in_target = true};
        pb->target[i].value = parse_template(&sc, text);
    }
}

static void load_params(struct loader *ld, const config_setting_t *s)
{
    static const char *const keys[] = {"name", "required", "description", "default"};
    struct ird_playbook *pb = ld->pb;
    if (config_setting_type(s) != CONFIG_TYPE_LIST) {
        diag(ld, s, "params", "expected a list of groups ( { name = \"...\"; }, ... ), found %s",
             setting_kind(s));
        return;
    }
    if (pb->mode != IRD_PLAYBOOK_MANUAL) {
        diag(ld, s, "params", "only manual playbooks (mode = \"manual\") take parameters");
        return;
    }
    int n = config_setting_length(s);
    pb->params = calloc((size_t)n + 1, sizeof(*pb->params));
    if (!pb->params) {
        ld->nomem = true;
        return;
    }
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        char path[PATH_LEN], sub[PATH_LEN];
        fmt_into(path, sizeof(path), "params[%d]", i);
        if (config_setting_type(e) != CONFIG_TYPE_GROUP) {
            diag(ld, e, path, "expected a group { name = \"...\"; }, found %s", setting_kind(e));
            continue;
        }
        check_keys(ld, e, path, keys, COUNT(keys));
        const config_setting_t *m;
        const char *name = NULL, *text;
        fmt_into(sub, sizeof(sub), "%s.name", path);
        m = config_setting_get_member(e, "name");
        if (!m) {
            diag(ld, e, path, "name is required");
            continue;
        }
        if (get_string(ld, m, sub, &name) < 0)
            continue;
        if (!name_ok(name, "_")) {
            char q[IRD_K8S_QUOTE_MAX];
            diag(ld, m, sub,
                 "%s is not a valid parameter name (lower case letters, digits and '_', at most "
                 "63 characters)",
                 ird_k8s_quote(name, q, sizeof(q)));
            continue;
        }
        bool dup = false;
        for (size_t j = 0; j < pb->nparams; j++)
            dup = dup || strcmp(pb->params[j].name, name) == 0;
        if (dup) {
            diag(ld, m, sub, "parameter %s is declared twice", name);
            continue;
        }
        struct ird_playbook_param *p = &pb->params[pb->nparams++];
        p->name = xstrdup(ld, name);
        fmt_into(sub, sizeof(sub), "%s.required", path);
        if ((m = config_setting_get_member(e, "required")))
            get_bool(ld, m, sub, &p->required);
        fmt_into(sub, sizeof(sub), "%s.description", path);
        text = "";
        if ((m = config_setting_get_member(e, "description")))
            get_string(ld, m, sub, &text);
        p->description = xstrdup(ld, text);
        fmt_into(sub, sizeof(sub), "%s.default", path);
        if ((m = config_setting_get_member(e, "default")) && get_string(ld, m, sub, &text) == 0)
            p->default_value = xstrdup(ld, text);
    }
}

static void load_guards(struct loader *ld, const config_setting_t *s)
{
    static const char *const keys[] = {"max_targets"};
    if (config_setting_type(s) != CONFIG_TYPE_GROUP) {
        diag(ld, s, "guards", "expected a group { max_targets = N; }, found %s", setting_kind(s));
        return;
    }
    check_keys(ld, s, "guards", keys, COUNT(keys));
    const config_setting_t *m = config_setting_get_member(s, "max_targets");
    long long v;
    if (m && get_int(ld, m, "guards.max_targets", 1, INT_MAX, &v) == 0)
        ld->pb->guard_max_targets = v;
}

/* ---- steps ------------------------------------------------------------------------------ */

static void known_params(const struct ird_action_spec *a, struct ird_buf *b)
{
    for (size_t i = 0; i < a->nparams; i++)
        ird_buf_printf(b, "%s%s", i ? ", " : "", a->params[i].name);
}

static void known_actions(const struct ird_connector_ops *type, struct ird_buf *b)
{
    if (type) {
        ird_buf_printf(b, "known actions of %s: ", type->name);
        for (size_t i = 0; i < type->nactions; i++)
            ird_buf_printf(b, "%s%s.%s", i ? ", " : "", type->name, type->actions[i].name);
        return;
    }
    ird_buf_puts(b, "known connectors: ");
    for (size_t i = 0; i < ird_nconnectors; i++)
        ird_buf_printf(b, "%s%s", i ? ", " : "", ird_connectors[i]->name);
}

static struct step_arg *args_add(struct loader *ld, struct ird_step_args *a,
                                 const struct ird_param_spec *spec)
{
    struct step_arg *v = realloc(a->v, (a->n + 1) * sizeof(*v));
    if (!v) {
        ld->nomem = true;
        return NULL;
    }
    a->v = v;
    memset(&v[a->n], 0, sizeof(v[a->n]));
    v[a->n].spec = spec;
    return &v[a->n++];
}

/* Check literal template text against the spec at load time. */
static void check_literal(const struct scope *sc, const struct ird_param_spec *spec,
                          const struct ird_template *t)
{
    const char *lit = ird_template_literal(t);
    if (!lit)
        return;
    cJSON *s = cJSON_CreateString(lit), *out = NULL;
    struct ird_err err = {{0}};
    if (!s) {
        sc->ld->nomem = true;
        return;
    }
    if (convert(spec, s, &out, &err) < 0)
        diag(sc->ld, sc->at, sc->path, "%s", err.msg);
    cJSON_Delete(out);
    cJSON_Delete(s);
}

/* One `with` member into a step_arg. */
static void load_arg(const struct scope *sc, const struct ird_action_spec *action,
                     const char *qualified, const config_setting_t *m, struct ird_step_args *args)
{
    struct loader *ld = sc->ld;
    const char *key = config_setting_name(m);
    const struct ird_param_spec *spec = ird_action_param(action, key);
    if (!spec) {
        struct ird_buf b = IRD_BUF_INIT;
        known_params(action, &b);
        diag(ld, m, sc->path, "unknown parameter of %s (known: %s)", qualified,
             b.data ? b.data : "none");
        ird_buf_free(&b);
        return;
    }
    int t = config_setting_type(m);
    enum ird_param_type pt = spec->type;
    if (t == CONFIG_TYPE_STRING && pt != IRD_PARAM_OBJECT) {
        struct ird_template *tp = parse_template(sc, config_setting_get_string(m));
        if (!tp)
            return;
        check_literal(sc, spec, tp);
        struct step_arg *g = args_add(ld, args, spec);
        if (!g) {
            ird_template_free(tp);
            return;
        }
        g->kind = ARG_TEMPLATE;
        g->t = tp;
        return;
    }
    if (t == CONFIG_TYPE_STRING && pt == IRD_PARAM_OBJECT) {
        struct ird_template *tp = parse_template(sc, config_setting_get_string(m));
        if (!tp)
            return;
        if (!ird_template_is_single_var(tp)) {
            diag(ld, m, sc->path,
                 "expected a group of strings { key = \"value\"; } or a single ${...}");
            ird_template_free(tp);
            return;
        }
        struct step_arg *g = args_add(ld, args, spec);
        if (!g) {
            ird_template_free(tp);
            return;
        }
        g->kind = ARG_TEMPLATE;
        g->t = tp;
        return;
    }
    if ((is_int(m) && pt == IRD_PARAM_INT) || (t == CONFIG_TYPE_BOOL && pt == IRD_PARAM_BOOL)) {
        struct step_arg *g = args_add(ld, args, spec);
        if (!g)
            return;
        g->kind = ARG_LITERAL;
        g->literal = pt == IRD_PARAM_INT ? cJSON_CreateNumber((double)config_setting_get_int64(m))
                                         : cJSON_CreateBool(config_setting_get_bool(m));
        if (!g->literal)
            ld->nomem = true;
        return;
    }
    bool list_ok = is_list(m) && pt == IRD_PARAM_STRING_LIST;
    bool group_ok = t == CONFIG_TYPE_GROUP && pt == IRD_PARAM_OBJECT;
    if (!list_ok && !group_ok) {
        diag(ld, m, sc->path, "expected %s, found %s", expect_word(pt), setting_kind(m));
        return;
    }
    int n = config_setting_length(m);
    struct arg_item *items = calloc((size_t)n + 1, sizeof(*items));
    if (!items) {
        ld->nomem = true;
        return;
    }
    size_t nitems = 0;
    bool bad = false;
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(m, (unsigned)i);
        char path[PATH_LEN];
        if (list_ok)
            fmt_into(path, sizeof(path), "%s[%d]", sc->path, i);
        else
            fmt_into(path, sizeof(path), "%s.%s", sc->path, config_setting_name(e));
        if (config_setting_type(e) != CONFIG_TYPE_STRING) {
            diag(ld, e, path, "expected a string, found %s", setting_kind(e));
            bad = true;
            continue;
        }
        struct scope esc = *sc;
        esc.at = e;
        esc.path = path;
        struct ird_template *tp = parse_template(&esc, config_setting_get_string(e));
        if (!tp) {
            bad = true;
            continue;
        }
        items[nitems].t = tp;
        items[nitems].key = group_ok ? xstrdup(ld, config_setting_name(e)) : NULL;
        nitems++;
    }
    struct step_arg *g = bad ? NULL : args_add(ld, args, spec);
    if (!g) {
        for (size_t i = 0; i < nitems; i++) {
            free(items[i].key);
            ird_template_free(items[i].t);
        }
        free(items);
        return;
    }
    g->kind = list_ok ? ARG_LIST : ARG_GROUP;
    g->items = items;
    g->nitems = nitems;
}

static bool target_has(const struct ird_playbook *pb, const char *key)
{
    for (size_t i = 0; i < pb->ntarget; i++)
        if (strcmp(pb->target[i].key, key) == 0)
            return true;
    return false;
}

static const char *const target_defaulted[] = {"namespace", "pod"};

/* The `with` group of step (whose action is known). */
static void load_with(struct loader *ld, const struct scope *step_sc, struct ird_step *step,
                      const config_setting_t *with, const config_setting_t *at)
{
    const struct ird_action_spec *a = step->spec;
    struct ird_step_args *args = calloc(1, sizeof(*args));
    if (!args) {
        ld->nomem = true;
        return;
    }
    step->with = args;
    char wpath[PATH_LEN];
    fmt_into(wpath, sizeof(wpath), "%s.with", step_sc->path);
    if (with && config_setting_type(with) != CONFIG_TYPE_GROUP) {
        diag(ld, with, wpath, "expected a group { parameter = value; ... }, found %s",
             setting_kind(with));
        return;
    }
    int n = with ? config_setting_length(with) : 0;
    for (int i = 0; i < n; i++) {
        const config_setting_t *m = config_setting_get_elem(with, (unsigned)i);
        char path[PATH_LEN];
        fmt_into(path, sizeof(path), "%s.%s", wpath, config_setting_name(m));
        struct scope sc = *step_sc;
        sc.at = m;
        sc.path = path;
        load_arg(&sc, a, step->action, m, args);
    }
    for (size_t i = 0; i < a->nparams; i++) {
        const struct ird_param_spec *p = &a->params[i];
        if (with && config_setting_get_member(with, p->name))
            continue;
        bool from_target = false;
        for (size_t k = 0; k < COUNT(target_defaulted); k++)
            from_target = from_target || (strcmp(p->name, target_defaulted[k]) == 0 &&
                                          target_has(ld->pb, p->name));
        if (from_target) {
            char text[32];
            fmt_into(text, sizeof(text), "${target.%s}", p->name);
            struct ird_err err = {{0}};
            struct ird_template *tp = ird_template_parse(text, &err);
            struct step_arg *g = tp ? args_add(ld, args, p) : NULL;
            if (!g) {
                ird_template_free(tp);
                ld->nomem = true;
                continue;
            }
            g->kind = ARG_TEMPLATE;
            g->t = tp;
            continue;
        }
        if (p->required && !p->default_value) {
            bool is_target_key = false;
            for (size_t k = 0; k < COUNT(target_defaulted); k++)
                is_target_key = is_target_key || strcmp(p->name, target_defaulted[k]) == 0;
            diag(ld, with ? with : at, wpath, "required parameter %s of %s is missing%s", p->name,
                 step->action, is_target_key ? " (and the target has no such key)" : "");
        }
    }
}

static const char *const on_failure_names[] = {"abort", "continue", "escalate", NULL};

static const char *const step_keys[] = {"name",    "action",  "instance",   "with",
                                        "timeout", "retries", "on_failure", "when"};

/* steps or on_resolve. */
static void load_steps(struct loader *ld, const config_setting_t *s, const char *list,
                       bool names_optional)
{
    struct ird_playbook *pb = ld->pb;
    if (config_setting_type(s) != CONFIG_TYPE_LIST) {
        diag(ld, s, list,
             "expected a list of steps ( { name = ...; action = ...; }, ... ), "
             "found %s",
             setting_kind(s));
        return;
    }
    int n = config_setting_length(s);
    if (n == 0 && !names_optional) {
        diag(ld, s, list, "at least one step is required");
        return;
    }
    struct ird_step *steps = calloc((size_t)n + 1, sizeof(*steps));
    if (!steps) {
        ld->nomem = true;
        return;
    }
    size_t *count = names_optional ? &pb->non_resolve : &pb->nsteps;
    if (names_optional)
        pb->on_resolve = steps;
    else
        pb->steps = steps;
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        char path[PATH_LEN], sub[PATH_LEN];
        fmt_into(path, sizeof(path), "%s[%d]", list, i);
        if (config_setting_type(e) != CONFIG_TYPE_GROUP) {
            diag(ld, e, path, "expected a group { name = ...; action = ...; }, found %s",
                 setting_kind(e));
            continue;
        }
        check_keys(ld, e, path, step_keys, COUNT(step_keys));
        struct ird_step *st = &steps[*count];
        memset(st, 0, sizeof(*st));
        st->line = line_of(e);
        st->timeout_ms = DEFAULT_TIMEOUT_MS;

        const config_setting_t *m = config_setting_get_member(e, "name");
        const char *name = NULL;
        fmt_into(sub, sizeof(sub), "%s.name", path);
        if (m) {
            char q[IRD_K8S_QUOTE_MAX];
            if (get_string(ld, m, sub, &name) < 0) {
            } else if (!name_ok(name, "_-")) {
                diag(ld, m, sub,
                     "%s is not a valid step name (lower case letters, digits, '-' and '_', at "
                     "most 63 characters)",
                     ird_k8s_quote(name, q, sizeof(q)));
            } else if (ird_playbook_step_find(pb, name)) {
                diag(ld, m, sub, "a step named %s is already defined", name);
            }
        } else if (!names_optional) {
            diag(ld, e, path, "name is required");
        }
        char auto_name[32];
        if (!name) {
            fmt_into(auto_name, sizeof(auto_name), "%s[%d]", list, i);
            name = auto_name;
        }

        m = config_setting_get_member(e, "action");
        fmt_into(sub, sizeof(sub), "%s.action", path);
        const char *action = NULL;
        if (!m) {
            diag(ld, e, path, "action is required");
        } else if (get_string(ld, m, sub, &action) == 0) {
            st->spec = ird_action_find(action, &st->type);
            if (!st->spec) {
                const char *dot = strchr(action, '.');
                const struct ird_connector_ops *type = NULL;
                if (dot) {
                    char tname[64];
                    fmt_into(tname, sizeof(tname), "%.*s", (int)(dot - action), action);
                    type = ird_connector_find(tname);
                }
                struct ird_buf b = IRD_BUF_INIT;
                known_actions(type, &b);
                char q[IRD_K8S_QUOTE_MAX];
                diag(ld, m, sub, "unknown action %s (%s)", ird_k8s_quote(action, q, sizeof(q)),
                     b.data ? b.data : "");
                ird_buf_free(&b);
            }
        }

        const char *instance = "default";
        m = config_setting_get_member(e, "instance");
        fmt_into(sub, sizeof(sub), "%s.instance", path);
        if (m && get_string(ld, m, sub, &instance) < 0) {
        } else if (m && st->type && strcmp(instance, "default") != 0) {
            const struct ird_playbook_context *c = ld->ctx;
            size_t k = 0, nk = c ? c->ninstances : 0;
            while (k < nk && !(strcmp(c->instances[k].type, st->type->name) == 0 &&
                               strcmp(c->instances[k].name, instance) == 0))
                k++;
            if (k == nk) {
                struct ird_buf b = IRD_BUF_INIT;
                for (size_t j = 0; j < nk; j++)
                    if (strcmp(c->instances[j].type, st->type->name) == 0)
                        ird_buf_printf(&b, "%s%s.%s", b.len ? ", " : "", c->instances[j].type,
                                       c->instances[j].name);
                char q[IRD_K8S_QUOTE_MAX];
                diag(ld, m, sub, "no instance %s of connector %s is configured (known: %s)",
                     ird_k8s_quote(instance, q, sizeof(q)), st->type->name,
                     b.len ? b.data : "default");
                ird_buf_free(&b);
            }
        }

        long long v;
        m = config_setting_get_member(e, "timeout");
        fmt_into(sub, sizeof(sub), "%s.timeout", path);
        if (m && get_duration(ld, m, sub, &st->timeout_ms) == 0 && st->timeout_ms == 0) {
            diag(ld, m, sub, "must be longer than 0");
        }
        m = config_setting_get_member(e, "retries");
        fmt_into(sub, sizeof(sub), "%s.retries", path);
        if (m && get_int(ld, m, sub, 0, RETRIES_MAX, &v) == 0)
            st->retries = (int)v;
        m = config_setting_get_member(e, "on_failure");
        fmt_into(sub, sizeof(sub), "%s.on_failure", path);
        int choice;
        if (m && get_choice(ld, m, sub, on_failure_names, &choice) == 0)
            st->on_failure = (enum ird_on_failure)choice;

        struct scope sc = {
            .ld = ld,
            .at = e,
            .path = path,
            .earlier = steps,
            .nearlier = *count,
            .main = names_optional ? pb->steps : NULL,
            .nmain = names_optional ? pb->nsteps : 0,
        };
        st->name = xstrdup(ld, name);
        st->action = xstrdup(ld, action);
        st->instance = xstrdup(ld, instance);
        if (st->spec && st->action)
            load_with(ld, &sc, st, config_setting_get_member(e, "with"), e);
        m = config_setting_get_member(e, "when");
        fmt_into(sub, sizeof(sub), "%s.when", path);
        const char *when;
        if (m && get_string(ld, m, sub, &when) == 0) {
            struct ird_err err = {{0}};
            st->when = ird_cond_parse(when, &err);
            if (!st->when) {
                diag(ld, m, sub, "%s", err.msg);
            } else {
                struct scope wsc = sc;
                wsc.at = m;
                wsc.path = sub;
                ird_cond_foreach_ref(st->when, check_ref, &wsc);
            }
        }
        /* Kept even when broken, so later references to it do not add noise;
         * the file is rejected through ld->errors anyway. */
        (*count)++;
    }
}

/* ---- one file -------------------------------------------------------------------------- */

static const char *const mode_names[] = {"auto", "approve", "manual", NULL};
static const char *const approval_names[] = {"escalate", "abort", NULL};

static void key_name(struct loader *ld, const config_setting_t *s)
{
    const char *name;
    if (get_string(ld, s, "name", &name) < 0)
        return;
    if (!name_ok(name, "_-")) {
        char q[IRD_K8S_QUOTE_MAX];
        diag(ld, s, "name",
             "%s is not a valid playbook name (lower case letters, digits, '-' and '_', at most 63 "
             "characters)",
             ird_k8s_quote(name, q, sizeof(q)));
        return;
    }
    free(ld->pb->name);
    ld->pb->name = xstrdup(ld, name);
    ld->name_line = line_of(s);
}

static void key_description(struct loader *ld, const config_setting_t *s)
{
    const char *text;
    if (get_string(ld, s, "description", &text) == 0) {
        free(ld->pb->description);
        ld->pb->description = xstrdup(ld, text);
    }
}

static void key_mode(struct loader *ld, const config_setting_t *s)
{
    int c;
    if (get_choice(ld, s, "mode", mode_names, &c) == 0)
        ld->pb->mode = (enum ird_playbook_mode)c;
}

static void key_match(struct loader *ld, const config_setting_t *s)
{
    if (ld->pb->mode == IRD_PLAYBOOK_MANUAL) {
        diag(ld, s, "match",
             "a manual playbook is started only by a trigger; remove match or change mode");
        return;
    }
    struct ird_err err = {{0}};
    if (ird_match_parse(s, &ld->pb->match, &err) < 0) {
        /* The matcher already says "file:line: match.x: ..." */
        ird_diag_add(ld->diags, NULL, 0, "%s", err.msg);
        ld->errors++;
    }
}

static void key_escalation(struct loader *ld, const config_setting_t *s)
{
    const char *name;
    if (get_string(ld, s, "escalation", &name) < 0)
        return;
    const struct ird_playbook_context *c = ld->ctx;
    size_t n = c ? c->npolicies : 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(c->policies[i], name) == 0) {
            ld->pb->escalation = xstrdup(ld, name);
            return;
        }
    }
    struct ird_buf b = IRD_BUF_INIT;
    for (size_t i = 0; i < n; i++)
        ird_buf_printf(&b, "%s%s", i ? ", " : "", c->policies[i]);
    char q[IRD_K8S_QUOTE_MAX];
    diag(ld, s, "escalation", "no escalation policy %s is defined in the configuration (known: %s)",
         ird_k8s_quote(name, q, sizeof(q)), n ? b.data : "none");
    ird_buf_free(&b);
}

static bool approve_only(struct loader *ld, const config_setting_t *s, const char *key)
{
    if (ld->pb->mode == IRD_PLAYBOOK_APPROVE)
        return true;
    diag(ld, s, key, "only used with mode = \"approve\"");
    return false;
}

static void key_approval_timeout(struct loader *ld, const config_setting_t *s)
{
    int64_t ms;
    if (approve_only(ld, s, "approval_timeout") &&
        get_duration(ld, s, "approval_timeout", &ms) == 0) {
        if (ms == 0)
            diag(ld, s, "approval_timeout", "must be longer than 0");
        ld->pb->approval_timeout_ms = ms;
    }
}

static void key_on_approval_timeout(struct loader *ld, const config_setting_t *s)
{
    int c;
    if (approve_only(ld, s, "on_approval_timeout") &&
        get_choice(ld, s, "on_approval_timeout", approval_names, &c) == 0)
        ld->pb->on_approval_timeout = (enum ird_on_approval_timeout)c;
}

static void key_cooldown(struct loader *ld, const config_setting_t *s)
{
    get_duration(ld, s, "cooldown", &ld->pb->cooldown_ms);
}

static void key_stop(struct loader *ld, const config_setting_t *s)
{
    get_bool(ld, s, "stop", &ld->pb->stop);
}

static void key_priority(struct loader *ld, const config_setting_t *s)
{
    long long v;
    if (get_int(ld, s, "priority", -1000000, 1000000, &v) == 0)
        ld->pb->priority = (int)v;
}

static void key_dry_run(struct loader *ld, const config_setting_t *s)
{
    get_bool(ld, s, "dry_run", &ld->pb->dry_run);
}

static void key_steps(struct loader *ld, const config_setting_t *s)
{
    load_steps(ld, s, "steps", false);
}

static void key_on_resolve(struct loader *ld, const config_setting_t *s)
{
    load_steps(ld, s, "on_resolve", true);
}

/* The top-level keys, in the order they are processed: mode before the keys
 * that depend on it, params and target before the steps that refer to them. */
static const struct {
    const char *key;
    void (*load)(struct loader *ld, const config_setting_t *s);
    bool required;
} top_keys[] = {
    {"name", key_name, true},
    {"description", key_description, false},
    {"mode", key_mode, false},
    {"params", load_params, false},
    {"match", key_match, false},
    {"target", load_target, false},
    {"escalation", key_escalation, false},
    {"approval_timeout", key_approval_timeout, false},
    {"on_approval_timeout", key_on_approval_timeout, false},
    {"cooldown", key_cooldown, false},
    {"stop", key_stop, false},
    {"priority", key_priority, false},
    {"dry_run", key_dry_run, false},
    {"guards", load_guards, false},
    {"steps", key_steps, true},
    {"on_resolve", key_on_resolve, false},
};

struct diag_line {
    const char *text;
    size_t len;
    long line;
    size_t seq;
};

static int cmp_diag_line(const void *a, const void *b)
{
    const struct diag_line *x = a, *y = b;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Append the messages of one file (every one starting "path:") to out in
 * line order, keeping the order of messages on the same line. */
static void diags_sorted(struct ird_diags *out, const struct ird_diags *in, const char *path)
{
    if (!in->text.data)
        return;
    size_t plen = strlen(path), n = 0;
    for (size_t i = 0; i < in->text.len; i++)
        n += in->text.data[i] == '\n';
    struct diag_line *v = calloc(n + 1, sizeof(*v));
    if (!v) {
        ird_diag_add(out, NULL, 0, "%.*s", (int)in->text.len - 1, in->text.data);
        return;
    }
    size_t k = 0;
    for (const char *p = in->text.data; k < n && *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        v[k] = (struct diag_line){p, len, 0, k};
        if (len > plen + 1 && strncmp(p, path, plen) == 0 && p[plen] == ':')
            v[k].line = strtol(p + plen + 1, NULL, 10);
        k++;
        p += len + (nl ? 1 : 0);
    }
    qsort(v, k, sizeof(*v), cmp_diag_line);
    for (size_t i = 0; i < k; i++)
        ird_diag_add(out, NULL, 0, "%.*s", (int)v[i].len, v[i].text);
    free(v);
}

static struct ird_playbook *load_file_unsorted(struct loader *ld, const char *path);

/* Load one file; NULL when it has problems (all reported, in line order). */
static struct ird_playbook *load_file(struct loader *ld, const char *path)
{
    struct ird_diags *outer = ld->diags;
    struct ird_diags mine = {IRD_BUF_INIT, 0};
    ld->diags = &mine;
    struct ird_playbook *pb = load_file_unsorted(ld, path);
    ld->diags = outer;
    if (outer)
        diags_sorted(outer, &mine, path);
    ird_diags_free(&mine);
    return pb;
}

static struct ird_playbook *load_file_unsorted(struct loader *ld, const char *path)
{
    config_t cfg;
    config_init(&cfg);
    ld->file = path;
    ld->errors = 0;
    ld->name_line = 0;
    if (config_read_file(&cfg, path) != CONFIG_TRUE) {
        const char *efile = config_error_file(&cfg);
        ird_diag_add(ld->diags, efile ? efile : path, config_error_line(&cfg), "%s",
                     config_error_text(&cfg));
        config_destroy(&cfg);
        return NULL;
    }
    struct ird_playbook *pb = calloc(1, sizeof(*pb));
    if (!pb) {
        ld->nomem = true;
        config_destroy(&cfg);
        return NULL;
    }
    ld->pb = pb;
    pb->file = xstrdup(ld, path);
    pb->description = xstrdup(ld, "");
    pb->approval_timeout_ms = DEFAULT_APPROVAL_TIMEOUT_MS;
    pb->guard_max_targets = -1;
    const config_setting_t *root = config_root_setting(&cfg);
    const char *known[COUNT(top_keys)];
    for (size_t i = 0; i < COUNT(top_keys); i++)
        known[i] = top_keys[i].key;
    check_keys(ld, root, "", known, COUNT(known));
    for (size_t i = 0; i < COUNT(top_keys); i++) {
        const config_setting_t *s = config_setting_get_member(root, top_keys[i].key);
        if (s)
            top_keys[i].load(ld, s);
        else if (top_keys[i].required)
            ird_diag_add(ld->diags, path, 0, "%s: required key is missing", top_keys[i].key),
                ld->errors++;
    }
    ld->pb = NULL;
    config_destroy(&cfg);
    if (ld->errors || ld->nomem || !pb->name) {
        playbook_free(pb);
        return NULL;
    }
    return pb;
}

/* ---- the directory --------------------------------------------------------------------- */

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Run order: priority descending, then file name (stable by construction:
 * ties keep the file-name order they were loaded in). */
static int cmp_run_order(const void *a, const void *b)
{
    const struct ird_playbook *x = *(struct ird_playbook *const *)a;
    const struct ird_playbook *y = *(struct ird_playbook *const *)b;
    if (x->priority != y->priority)
        return x->priority > y->priority ? -1 : 1;
    return strcmp(x->file, y->file);
}

static bool conf_name(const char *name)
{
    size_t n = strlen(name);
    return name[0] != '.' && n > 5 && strcmp(name + n - 5, ".conf") == 0;
}

int ird_playbooks_load(const char *dir, const struct ird_playbook_context *ctx,
                       struct ird_playbook_set **ret, struct ird_diags *diags)
{
    DIR *d = dir ? opendir(dir) : NULL;
    if (!d) {
        ird_diag_add(diags, dir ? dir : "(null)", 0, "cannot read the playbook directory: %s",
                     ird_strerror(-errno));
        return -EINVAL;
    }
    char **names = NULL;
    size_t nnames = 0;
    bool nomem = false;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!conf_name(de->d_name))
            continue;
        char **v = realloc(names, (nnames + 1) * sizeof(*v));
        char *nm = strdup(de->d_name);
        if (!v || !nm) {
            free(nm);
            if (v)
                names = v;
            nomem = true;
            break;
        }
        names = v;
        names[nnames++] = nm;
    }
    closedir(d);
    if (nnames)
        qsort(names, nnames, sizeof(*names), cmp_names);

    struct ird_playbook_set *set = calloc(1, sizeof(*set));
    if (set && nnames)
        set->v = calloc(nnames, sizeof(*set->v));
    if (!set || (nnames && !set->v))
        nomem = true;
    struct loader ld = {.diags = diags, .ctx = ctx};
    unsigned problems = 0;
    size_t dlen = strlen(dir);
    bool slash = dlen > 0 && dir[dlen - 1] == '/';
    for (size_t i = 0; i < nnames && !nomem; i++) {
        struct ird_buf path = IRD_BUF_INIT;
        if (ird_buf_printf(&path, "%s%s%s", dir, slash ? "" : "/", names[i]) < 0) {
            nomem = true;
            break;
        }
        struct stat st;
        if (stat(path.data, &st) != 0 || !S_ISREG(st.st_mode)) {
            ird_buf_free(&path);
            continue;
        }
        unsigned before = diags ? diags->count : 0;
        struct ird_playbook *pb = load_file(&ld, path.data);
        ird_buf_free(&path);
        if (ld.nomem) {
            playbook_free(pb);
            nomem = true;
            break;
        }
        if (!pb) {
            problems += (diags ? diags->count - before : 0) + 1;
            continue;
        }
        const struct ird_playbook *dup = ird_playbook_find(set, pb->name);
        if (dup) {
            ird_diag_add(diags, pb->file, ld.name_line,
                         "name: playbook %s is already defined in %s", pb->name, dup->file);
            problems++;
            playbook_free(pb);
            continue;
        }
        set->v[set->n++] = pb;
    }
    for (size_t i = 0; i < nnames; i++)
        free(names[i]);
    free(names);
    if (nomem || problems) {
        if (nomem)
            ird_diag_add(diags, dir, 0, "out of memory while loading playbooks");
        ird_playbook_set_free(set);
        return nomem ? -ENOMEM : -EINVAL;
    }
    if (set->n > 1)
        qsort(set->v, set->n, sizeof(*set->v), cmp_run_order);
    *ret = set;
    return 0;
}

/* ---- run time -------------------------------------------------------------------------- */

int ird_playbook_target_expand(const struct ird_playbook *pb, const cJSON *ctx, cJSON **ret,
                               struct ird_err *err)
{
    cJSON *out = cJSON_CreateObject();
    if (!out)
        return ird_err_set(err, -ENOMEM, "out of memory");
    for (size_t i = 0; pb && i < pb->ntarget; i++) {
        char *text = NULL;
        int rc = ird_template_expand(pb->target[i].value, ctx, IRD_PLAYBOOK_VALUE_MAX, &text, err);
        if (rc < 0) {
            ird_err_prefix(err, "target.%s: ", pb->target[i].key);
            cJSON_Delete(out);
            return rc;
        }
        cJSON *v = cJSON_CreateString(text);
        free(text);
        if (!v) {
            cJSON_Delete(out);
            return ird_err_set(err, -ENOMEM, "out of memory");
        }
        cJSON_AddItemToObject(out, pb->target[i].key, v);
    }
    *ret = out;
    return 0;
}

int ird_playbook_trigger_params(const struct ird_playbook *pb, const cJSON *given, cJSON **ret,
                                struct ird_err *err)
{
    if (given && !cJSON_IsObject(given))
        return ird_err_set(err, -EINVAL, "parameters must be an object");
    const cJSON *g;
    cJSON_ArrayForEach(g, given) {
        size_t i = 0;
        while (i < pb->nparams && strcmp(pb->params[i].name, g->string) != 0)
            i++;
        if (i == pb->nparams) {
            char q[IRD_K8S_QUOTE_MAX];
            return ird_err_set(err, -EINVAL, "playbook %s has no parameter %s", pb->name,
                               ird_k8s_quote(g->string, q, sizeof(q)));
        }
    }
    cJSON *out = cJSON_CreateObject();
    if (!out)
        return ird_err_set(err, -ENOMEM, "out of memory");
    for (size_t i = 0; i < pb->nparams; i++) {
        const struct ird_playbook_param *p = &pb->params[i];
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(given, p->name);
        char num[64];
        const char *text = v ? scalar_text(v, num, sizeof(num)) : p->default_value;
        if (v && !text) {
            cJSON_Delete(out);
            return ird_err_set(err, -EINVAL, "parameter %s: expected a string, got %s", p->name,
                               json_kind(v));
        }
        if (!text) {
            if (!p->required)
                continue;
            cJSON_Delete(out);
            return ird_err_set(err, -EINVAL, "parameter %s is required by playbook %s", p->name,
                               pb->name);
        }
        if (!cJSON_AddStringToObject(out, p->name, text)) {
            cJSON_Delete(out);
            return ird_err_set(err, -ENOMEM, "out of memory");
        }
    }
    *ret = out;
    return 0;
}

/* The raw (unconverted) value of one argument. */
static int arg_expand(const struct step_arg *g, const cJSON *ctx, cJSON **ret, struct ird_err *err)
{
    enum ird_param_type t = g->spec->type;
    char *text = NULL;
    int rc;
    switch (g->kind) {
    case ARG_LITERAL:
        *ret = cJSON_Duplicate(g->literal, 1);
        return *ret ? 0 : ird_err_set(err, -ENOMEM, "out of memory");
    case ARG_TEMPLATE:
        if (t == IRD_PARAM_STRING || t == IRD_PARAM_NAMESPACE || t == IRD_PARAM_K8S_NAME) {
            rc = ird_template_expand(g->t, ctx, IRD_PLAYBOOK_VALUE_MAX, &text, err);
            if (rc < 0)
                return rc;
            *ret = cJSON_CreateString(text);
            free(text);
            return *ret ? 0 : ird_err_set(err, -ENOMEM, "out of memory");
        }
        return ird_template_expand_json(g->t, ctx, IRD_PLAYBOOK_VALUE_MAX, ret, err);
    case ARG_LIST:
    case ARG_GROUP: {
        cJSON *out = g->kind == ARG_LIST ? cJSON_CreateArray() : cJSON_CreateObject();
        if (!out)
            return ird_err_set(err, -ENOMEM, "out of memory");
        for (size_t i = 0; i < g->nitems; i++) {
            rc = ird_template_expand(g->items[i].t, ctx, IRD_PLAYBOOK_VALUE_MAX, &text, err);
            if (rc < 0) {
                if (g->items[i].key)
                    ird_err_prefix(err, "%s: ", g->items[i].key);
                else
                    ird_err_prefix(err, "[%zu]: ", i);
                cJSON_Delete(out);
                return rc;
            }
            cJSON *v = cJSON_CreateString(text);
            free(text);
            if (!v) {
                cJSON_Delete(out);
                return ird_err_set(err, -ENOMEM, "out of memory");
            }
            if (g->items[i].key)
                cJSON_AddItemToObject(out, g->items[i].key, v);
            else
                cJSON_AddItemToArray(out, v);
        }
        *ret = out;
        return 0;
    }
    }
    return ird_err_set(err, -EINVAL, "bad argument");
}

/* A spec's default text as a value of its type. */
static int default_value(const struct ird_param_spec *p, cJSON **ret, struct ird_err *err)
{
    cJSON *s = cJSON_CreateString(p->default_value);
    if (!s)
        return ird_err_set(err, -ENOMEM, "out of memory");
    int rc = convert(p, s, ret, err);
    cJSON_Delete(s);
    return rc;
}

int ird_playbook_step_params(const struct ird_step *step, const cJSON *ctx, cJSON **ret_params,
                             cJSON **ret_redacted, struct ird_err *err)
{
    if (!step || !step->spec)
        return ird_err_set(err, -EINVAL, "step has no action");
    const struct ird_action_spec *a = step->spec;
    cJSON *out = cJSON_CreateObject();
    if (!out)
        return ird_err_set(err, -ENOMEM, "out of memory");
    size_t nargs = step->with ? step->with->n : 0;
    int rc = 0;
    for (size_t i = 0; i < a->nparams && rc == 0; i++) {
        const struct ird_param_spec *p = &a->params[i];
        const struct step_arg *g = NULL;
        for (size_t k = 0; k < nargs && !g; k++)
            if (step->with->v[k].spec == p)
                g = &step->with->v[k];
        cJSON *value = NULL;
        if (g) {
            cJSON *raw = NULL;
            rc = arg_expand(g, ctx, &raw, err);
            if (rc == 0) {
                rc = convert(p, raw, &value, err);
                cJSON_Delete(raw);
            }
        } else if (p->default_value) {
            rc = default_value(p, &value, err);
        } else if (p->required) {
            rc = ird_err_set(err, -EINVAL, "required parameter is missing");
        } else {
            continue;
        }
        if (rc < 0) {
            ird_err_prefix(err, "parameter %s: ", p->name);
            break;
        }
        cJSON_AddItemToObject(out, p->name, value);
    }
    cJSON *red = NULL;
    if (rc == 0 && ret_redacted) {
        red = cJSON_Duplicate(out, 1);
        for (size_t i = 0; red && i < a->nparams; i++)
            if (ird_playbook_param_is_secret(&a->params[i]) &&
                cJSON_GetObjectItemCaseSensitive(red, a->params[i].name))
                cJSON_ReplaceItemInObjectCaseSensitive(red, a->params[i].name,
                                                       cJSON_CreateString(REDACTED));
        if (!red)
            rc = ird_err_set(err, -ENOMEM, "out of memory");
    }
    if (rc < 0) {
        cJSON_Delete(out);
        cJSON_Delete(red);
        return rc;
    }
    *ret_params = out;
    if (ret_redacted)
        *ret_redacted = red;
    return 0;
}

bool ird_playbook_step_mutates(const struct ird_step *step, const cJSON *params)
{
    if (!step || !step->spec)
        return false;
    if (step->spec->mutates)
        return true;
    const struct ird_param_spec *p = ird_action_param(step->spec, "mutates");
    if (!p || p->type != IRD_PARAM_BOOL)
        return false;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, "mutates");
    if (cJSON_IsBool(v))
        return cJSON_IsTrue(v);
    return p->default_value && strcmp(p->default_value, "true") == 0;
}
