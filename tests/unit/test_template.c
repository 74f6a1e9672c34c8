/* engine/template: what a playbook author writes in `with`, `target` and
 * notification texts, what it expands to, and the messages for mistakes. */
#include "check.h"
#include "engine/template.h"

#include <stdlib.h>

static const char ctx_json[] =
    "{\"alert\": {\"source\": \"falco\", \"id\": \"a1\", \"status\": \"firing\","
    "  \"severity\": \"critical\", \"title\": \"Detect crypto miners\", \"namespace\": \"prod\","
    "  \"pod\": \"web-1\", \"container\": \"app\", \"node\": \"\","
    "  \"labels\": {\"team\": \"sec\", \"app.kubernetes.io/name\": \"web\", \"empty\": \"\"},"
    "  \"annotations\": {\"runbook\": \"https://wiki/x\"},"
    "  \"raw\": {\"output_fields\": {\"k8s.ns.name\": \"prod\", \"proc.cmdline\": \"xmrig -o x\"},"
    "           \"alerts\": [{\"labels\": {\"x\": \"first\"}}, {\"labels\": {\"x\": \"second\"}}],"
    "           \"count\": 3, \"ratio\": 0.25, \"big\": 1e20, \"flag\": true, \"nothing\": null}},"
    " \"incident\": {\"id\": \"inc-42\", \"severity\": \"critical\", \"state\": \"triggered\"},"
    " \"target\": {\"namespace\": \"prod\", \"pod\": \"web-1\"},"
    " \"steps\": {\"evidence\": {\"result\": {\"files\": [\"a.log\", \"b.log\"], \"bytes\": 5000,"
    "                                        \"meta\": {\"k\": \"v\"}}}},"
    " \"param\": {\"reason\": \"drill\", \"replicas\": 0}}";

static cJSON *ctx;

/* Expand text; returns the string (static, "" on failure) and sets *rc. */
static const char *expand(const char *text, int *rc, struct ird_err *err)
{
    static char out[4096];
    out[0] = '\0';
    struct ird_template *t = ird_template_parse(text, err);
    if (!t) {
        *rc = -1000;
        return out;
    }
    char *s = NULL;
    *rc = ird_template_expand(t, ctx, 1 << 16, &s, err);
    if (*rc == 0) {
        snprintf(out, sizeof(out), "%s", s);
        free(s);
    } else {
        CHECK(s == NULL);
    }
    ird_template_free(t);
    return out;
}

static const char *ok(const char *text)
{
    struct ird_err err = {{0}};
    int rc;
    const char *s = expand(text, &rc, &err);
    if (rc != 0)
        fprintf(stderr, "  expanding %s: %s\n", text, err.msg);
    return s;
}

/* The parse error for text, or "" when it parsed. */
static const char *parse_error(const char *text)
{
    static struct ird_err err;
    err.msg[0] = '\0';
    struct ird_template *t = ird_template_parse(text, &err);
    if (t) {
        ird_template_free(t);
        return "";
    }
    return err.msg;
}

/* The expansion error for text (which must parse), and its code. */
static const char *expand_error(const char *text, int *rc)
{
    static struct ird_err err;
    err.msg[0] = '\0';
    expand(text, rc, &err);
    return err.msg;
}

static void test_fields(void)
{
    CHECK_STR(ok("Quarantined ${alert.pod} in ${alert.namespace} - ${incident.id}"),
              "Quarantined web-1 in prod - inc-42");
    CHECK_STR(ok("${alert.labels.team}/${alert.annotations.runbook}"), "sec/https://wiki/x");
    CHECK_STR(ok("${alert.labels[\"app.kubernetes.io/name\"]}"), "web");
    CHECK_STR(ok("${target.namespace}:${param.reason}"), "prod:drill");
    CHECK_STR(ok("no variables at all"), "no variables at all");
    CHECK_STR(ok(""), "");
    /* An empty string is a value; it does not fail. */
    CHECK_STR(ok("[${alert.node}]"), "[]");
}

static void test_raw_paths(void)
{
    CHECK_STR(ok("${alert.raw.output_fields[\"k8s.ns.name\"]}"), "prod");
    CHECK_STR(ok("${alert.raw.output_fields[\"proc.cmdline\"]}"), "xmrig -o x");
    CHECK_STR(ok("${alert.raw.alerts.0.labels.x} ${alert.raw.alerts.1.labels.x}"), "first second");
    CHECK_STR(ok("${alert.raw.alerts[1].labels.x}"), "second");
    int rc;
    CHECK_STR(expand_error("${alert.raw.alerts.2.labels.x}", &rc),
              "variable alert.raw.alerts.2.labels.x is not set");
    CHECK_INT(rc, -ENOENT);
    /* The message names a bracketed key the way it was written. */
    CHECK_STR(expand_error("${alert.raw.output_fields[\"k8s.pod.name\"]}", &rc),
              "variable alert.raw.output_fields[\"k8s.pod.name\"] is not set");
    CHECK_STR(expand_error("${alert.raw.nothing}", &rc), "variable alert.raw.nothing is not set");
    CHECK_INT(rc, -ENOENT);
}

static void test_values(void)
{
    CHECK_STR(ok("n=${alert.raw.count} r=${alert.raw.ratio} f=${alert.raw.flag}"),
              "n=3 r=0.25 f=true");
    CHECK_STR(ok("${alert.raw.big}"), "1e+20");
    CHECK_STR(ok("${param.replicas}"), "0");
    /* A list alone expands to its JSON; inside a longer text it is an error. */
    CHECK_STR(ok("${steps.evidence.result.files}"), "[\"a.log\",\"b.log\"]");
    int rc;
    CHECK_STR(expand_error("files: ${steps.evidence.result.files}", &rc),
              "variable steps.evidence.result.files is a list; it can only be used alone");
    CHECK_INT(rc, -EINVAL);
    CHECK_STR(expand_error("meta: ${steps.evidence.result.meta}", &rc),
              "variable steps.evidence.result.meta is an object; it can only be used alone");
}

static void test_defaults_and_dollars(void)
{
    CHECK_STR(ok("${alert.labels.owner:-nobody}"), "nobody");
    CHECK_STR(ok("${alert.labels.empty:-fallback}"), "fallback");
    CHECK_STR(ok("${alert.labels.team:-fallback}"), "sec");
    CHECK_STR(ok("${alert.raw.nothing:-null is unset}"), "null is unset");
    CHECK_STR(ok("${alert.labels.owner:-}"), "");
    CHECK_STR(ok("${alert.labels.owner:-a b/c.d}"), "a b/c.d");
    CHECK_STR(ok("costs $$5 and $HOME and $(x) and $"), "costs $5 and $HOME and $(x) and $");
    CHECK_STR(ok("$${alert.pod}"), "${alert.pod}");
    int rc;
    CHECK_STR(expand_error("team ${alert.labels.owner}", &rc),
              "variable alert.labels.owner is not set");
    CHECK_INT(rc, -ENOENT);
    CHECK_STR(expand_error("${incident.url}", &rc), "variable incident.url is not set");
    CHECK_STR(expand_error("${steps.later.result.x}", &rc),
              "variable steps.later.result.x is not set");
}

/* Values from alerts are data: never expanded again, never a command. */
static void test_hostile_values(void)
{
    cJSON *alert = cJSON_GetObjectItem(ctx, "alert");
    cJSON_ReplaceItemInObject(alert, "pod", cJSON_CreateString("${alert.labels.team}"));
    cJSON_ReplaceItemInObject(alert, "container", cJSON_CreateString("$(rm -rf /)"));
    cJSON_ReplaceItemInObject(alert, "node", cJSON_CreateString("a\nInjected: header"));
    CHECK_STR(ok("pod=${alert.pod}"), "pod=${alert.labels.team}");
    CHECK_STR(ok("${alert.container}"), "$(rm -rf /)");
    CHECK_STR(ok("${alert.node}"), "a\nInjected: header");
    CHECK_STR(ok("${alert.labels.owner:-$(id)}"), "$(id)");
    cJSON_ReplaceItemInObject(alert, "pod", cJSON_CreateString("web-1"));
    cJSON_ReplaceItemInObject(alert, "container", cJSON_CreateString("app"));
    cJSON_ReplaceItemInObject(alert, "node", cJSON_CreateString(""));
}

static void test_parse_errors(void)
{
    CHECK_STR(parse_error("Hello ${alert.pod"), "unterminated ${ at column 7");
    CHECK_STR(parse_error("${alrt.pod}"),
              "unknown root 'alrt' in ${alrt.pod} at column 1 (expected alert, incident, target, "
              "steps, param)");
    CHECK_STR(parse_error("x ${alert.podd}"),
              "unknown alert field 'podd' in ${alert.podd} at column 3 (expected source, id, "
              "status, severity, title, namespace, pod, container, node, labels, annotations, "
              "starts_at, ends_at, raw)");
    CHECK_STR(parse_error("${alert}"),
              "incomplete variable ${alert} at column 1: name a field, e.g. ${alert.pod}");
    CHECK_STR(parse_error("${steps.evidence.files}"),
              "${steps.evidence.files} at column 1: a step's values are read as "
              "${steps.<name>.result.<key>}");
    CHECK_STR(parse_error("${}"), "empty ${} at column 1");
    CHECK_STR(parse_error("ab${alert.pod }"), "unexpected character \" \" at column 14");
    CHECK_STR(parse_error("${alert..pod}"), "expected a name at column 9, found \".\"");
    CHECK_STR(parse_error("${alert.raw[k]}"),
              "expected a quoted key or an index after '[' at column 12");
    CHECK_STR(parse_error("${alert.raw[\"k\"x}"), "expected ']' at column 16");
    CHECK_STR(parse_error("${alert.raw[\"k}"), "unterminated ${ at column 1");
    CHECK_STR(parse_error("${alert.pod:-${target.pod}}"),
              "a ${ inside the default of the variable at column 1 is not supported");
    CHECK_STR(parse_error("ok ${alert.pod:-x"), "unterminated ${ at column 4");
}

static void test_refs(void)
{
    struct ird_err err = {{0}};
    struct ird_template *t = ird_template_parse(
        "${steps.evidence.result.files} ${param.reason:-none} ${alert.raw.o[\"a.b\"]}", &err);
    CHECK(t != NULL);
    if (!t)
        return;
    CHECK_INT(ird_template_ref_count(t), 3);
    const struct ird_template_ref *r = ird_template_ref_at(t, 0);
    CHECK_STR(r->root, "steps");
    CHECK_INT(r->nsegs, 3);
    CHECK_STR(r->segs[0], "evidence");
    CHECK_STR(r->segs[1], "result");
    CHECK_STR(r->path, "steps.evidence.result.files");
    CHECK(r->def == NULL);
    CHECK_INT(r->column, 1);
    r = ird_template_ref_at(t, 1);
    CHECK_STR(r->root, "param");
    CHECK_STR(r->def, "none");
    CHECK_INT(r->column, 32);
    r = ird_template_ref_at(t, 2);
    CHECK_STR(r->segs[2], "a.b");
    CHECK_STR(r->path, "alert.raw.o[\"a.b\"]");
    CHECK(ird_template_ref_at(t, 3) == NULL);
    CHECK(ird_template_literal(t) == NULL);
    CHECK(!ird_template_is_single_var(t));
    ird_template_free(t);

    t = ird_template_parse("price $$3", &err);
    CHECK_STR(ird_template_literal(t), "price $3");
    CHECK_STR(ird_template_text(t), "price $$3");
    CHECK_INT(ird_template_ref_count(t), 0);
    ird_template_free(t);
    ird_template_free(NULL);

    /* Embedded parsing, as the condition language does it. */
    size_t len = 0;
    t = ird_template_parse_var("${alert.pod} == \"x\"", 5, &len, &err);
    CHECK(t != NULL);
    CHECK_INT(len, 12);
    CHECK(t && ird_template_is_single_var(t));
    CHECK_INT(t ? ird_template_ref_at(t, 0)->column : 0, 5);
    ird_template_free(t);
    CHECK(ird_template_parse_var("${alrt.x} == 1", 10, &len, &err) == NULL);
    CHECK_STR(err.msg, "unknown root 'alrt' in ${alrt.x} at column 10 (expected alert, incident, "
                       "target, steps, param)");
}

static void test_typed(void)
{
    struct ird_err err = {{0}};
    struct {
        const char *text;
        int type;
        const char *json;
    } cases[] = {
        {"${steps.evidence.result.files}", cJSON_Array, "[\"a.log\",\"b.log\"]"},
        {"${steps.evidence.result.bytes}", cJSON_Number, "5000"},
        {"${alert.raw.flag}", cJSON_True, "true"},
        {"${steps.evidence.result.meta}", cJSON_Object, "{\"k\":\"v\"}"},
        {"${param.replicas}", cJSON_Number, "0"},
        {"${alert.pod}", cJSON_String, "\"web-1\""},
        {"${param.missing:-7}", cJSON_String, "\"7\""},
        {"n=${steps.evidence.result.bytes}", cJSON_String, "\"n=5000\""},
        {" ${alert.raw.flag}", cJSON_String, "\" true\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ird_template *t = ird_template_parse(cases[i].text, &err);
        cJSON *v = NULL;
        CHECK(t != NULL);
        if (!t)
            continue;
        CHECK_INT(ird_template_expand_json(t, ctx, 4096, &v, &err), 0);
        CHECK(v && (v->type & 0xff) == cases[i].type);
        char *printed = v ? cJSON_PrintUnformatted(v) : NULL;
        CHECK_STR(printed, cases[i].json);
        free(printed);
        cJSON_Delete(v);
        ird_template_free(t);
    }
    /* The copy is deep: the context can go away. */
    struct ird_template *t = ird_template_parse("${steps.evidence.result.files}", &err);
    cJSON *v = NULL;
    cJSON *copy = cJSON_Duplicate(ctx, 1);
    CHECK_INT(ird_template_expand_json(t, copy, 4096, &v, &err), 0);
    cJSON_Delete(copy);
    CHECK_STR(cJSON_GetArrayItem(v, 1) ? cJSON_GetArrayItem(v, 1)->valuestring : NULL, "b.log");
    cJSON_Delete(v);
    v = NULL;
    CHECK_INT(ird_template_expand_json(t, ctx, 10, &v, &err), -E2BIG);
    CHECK(v == NULL);
    CHECK_STR(err.msg, "expansion is longer than 10 bytes");
    ird_template_free(t);
    t = ird_template_parse("${param.nope}", &err);
    CHECK_INT(ird_template_expand_json(t, ctx, 4096, &v, &err), -ENOENT);
    CHECK_STR(err.msg, "variable param.nope is not set");
    ird_template_free(t);
}

static void test_max_len(void)
{
    struct ird_err err = {{0}};
    struct ird_template *t = ird_template_parse("${alert.pod}-${alert.pod}", &err);
    char *s = NULL;
    CHECK_INT(ird_template_expand(t, ctx, 11, &s, &err), 0);
    CHECK_STR(s, "web-1-web-1");
    free(s);
    s = NULL;
    CHECK_INT(ird_template_expand(t, ctx, 10, &s, &err), -E2BIG);
    CHECK_STR(err.msg, "expansion is longer than 10 bytes");
    CHECK(s == NULL);
    ird_template_free(t);

    /* A huge alert value is stopped by the limit, not copied in full. */
    char *huge = malloc(100001);
    memset(huge, 'x', 100000);
    huge[100000] = '\0';
    cJSON_AddStringToObject(cJSON_GetObjectItem(ctx, "target"), "huge", huge);
    free(huge);
    t = ird_template_parse("${target.huge}", &err);
    CHECK_INT(ird_template_expand(t, ctx, 4096, &s, &err), -E2BIG);
    ird_template_free(t);
}

int main(void)
{
    ctx = cJSON_Parse(ctx_json);
    CHECK(ctx != NULL);
    if (!ctx)
        return ird_check_summary("test_template");
    test_fields();
    test_raw_paths();
    test_values();
    test_defaults_and_dollars();
    test_hostile_values();
    test_parse_errors();
    test_refs();
    test_typed();
    test_max_len();
    cJSON_Delete(ctx);
    return ird_check_summary("test_template");
}
