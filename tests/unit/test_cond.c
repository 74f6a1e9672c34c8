/* engine/cond: a step's `when` as a playbook author writes it, against the
 * run context; outcomes, evaluation failures and parse errors with columns. */
#include "check.h"
#include "core/buf.h"
#include "engine/cond.h"

#include <stdlib.h>

static const char ctx_json[] =
    "{\"alert\": {\"source\": \"falco\", \"status\": \"firing\", \"severity\": \"critical\","
    "  \"title\": \"Detect crypto miners\", \"namespace\": \"prod-eu\", \"pod\": \"web-1\","
    "  \"node\": \"\","
    "  \"labels\": {\"env\": \"dev\", \"replicas\": \"3\", \"off\": \"false\", \"zero\": \"0\","
    "              \"inject\": \"\\\" || true || \\\"\", \"word\": \"abc\"},"
    "  \"annotations\": {},"
    "  \"raw\": {\"priority\": 7, \"ratio\": 0.5, \"flag\": true, \"no\": false, \"list\": [1],"
    "           \"none\": [], \"obj\": {\"a\": 1}}},"
    " \"incident\": {\"id\": \"inc-1\"},"
    " \"steps\": {\"quarantine\": {\"result\": {\"ok\": true, \"pods\": 2}}},"
    " \"param\": {}}";

static cJSON *ctx;

/* 1 true, 0 false, negative: the eval or parse error (err filled). */
static int eval(const char *text, struct ird_err *err)
{
    struct ird_cond *c = ird_cond_parse(text, err);
    if (!c)
        return -1000;
    bool v = false;
    int rc = ird_cond_eval(c, ctx, &v, err);
    ird_cond_free(c);
    return rc < 0 ? rc : (v ? 1 : 0);
}

static int is(const char *text)
{
    struct ird_err err = {{0}};
    int rc = eval(text, &err);
    if (rc < 0)
        fprintf(stderr, "  %s: %s\n", text, err.msg);
    return rc;
}

static const char *parse_error(const char *text)
{
    static struct ird_err err;
    err.msg[0] = '\0';
    struct ird_cond *c = ird_cond_parse(text, &err);
    if (c) {
        ird_cond_free(c);
        return "";
    }
    return err.msg;
}

static const char *eval_error(const char *text, int *rc)
{
    static struct ird_err err;
    err.msg[0] = '\0';
    *rc = eval(text, &err);
    return err.msg;
}

static void test_brief_example(void)
{
    const char *when = "${alert.severity} == \"critical\" && ${alert.labels.env:-prod} != \"dev\"";
    CHECK_INT(is(when), 0); /* env is dev */
    cJSON *labels = cJSON_GetObjectItem(cJSON_GetObjectItem(ctx, "alert"), "labels");
    cJSON_DeleteItemFromObject(labels, "env");
    CHECK_INT(is(when), 1); /* env missing: the default prod */
    cJSON_AddStringToObject(labels, "env", "dev");
}

static void test_comparisons(void)
{
    CHECK_INT(is("${alert.source} == 'falco'"), 1);
    CHECK_INT(is("${alert.source} != 'falco'"), 0);
    CHECK_INT(is("'prod-eu' == \"${alert.namespace}\""), 1);
    CHECK_INT(is("\"${alert.pod}@${alert.namespace}\" == 'web-1@prod-eu'"), 1);
    /* Text comparison: numbers print as integers. */
    CHECK_INT(is("${alert.labels.replicas} == 3"), 1);
    CHECK_INT(is("${alert.raw.priority} == \"7\""), 1);
    CHECK_INT(is("${alert.labels.replicas} == 3.0"), 0);
    CHECK_INT(is("${alert.raw.flag} == true"), 1);
    CHECK_INT(is("${steps.quarantine.result.ok} == true"), 1);
    /* Numeric comparisons. */
    CHECK_INT(is("${alert.labels.replicas} > 2"), 1);
    CHECK_INT(is("${alert.labels.replicas} >= 3"), 1);
    CHECK_INT(is("${alert.labels.replicas} < 3"), 0);
    CHECK_INT(is("${alert.labels.replicas} <= 3"), 1);
    CHECK_INT(is("${alert.raw.ratio} < 0.75"), 1);
    CHECK_INT(is("${alert.raw.priority} > -1"), 1);
    CHECK_INT(is("10 > 9"), 1); /* numeric, not text order */
    CHECK_INT(is("${steps.quarantine.result.pods} >= 2"), 1);
}

static void test_regex(void)
{
    CHECK_INT(is("${alert.namespace} =~ '^prod-'"), 1);
    CHECK_INT(is("${alert.namespace} =~ 'eu'"), 1); /* unanchored */
    CHECK_INT(is("${alert.namespace} =~ '^eu'"), 0);
    CHECK_INT(is("${alert.namespace} !~ '^(staging|dev)'"), 1);
    CHECK_INT(is("${alert.title} =~ '[Mm]iners?$'"), 1);
    CHECK_STR(parse_error("${alert.pod} =~ '('"),
              "invalid regular expression \"(\" at column 17: Unmatched ( or \\(");
    CHECK_STR(parse_error("${alert.pod} =~ ${alert.labels.env}"),
              "the right side of =~ at column 14 must be a literal string (a regular expression)");
    CHECK_STR(parse_error("${alert.pod} !~ \"^${alert.node}\""),
              "the right side of !~ at column 14 must be a literal string (a regular expression)");
}

static void test_logic(void)
{
    CHECK_INT(is("true && false"), 0);
    CHECK_INT(is("true || false"), 1);
    CHECK_INT(is("!false"), 1);
    CHECK_INT(is("!(true && false) && true"), 1);
    CHECK_INT(is("false && true || true"), 1); /* && binds tighter */
    CHECK_INT(is("false && (true || true)"), 0);
    CHECK_INT(is("! ${alert.source} == 'splunk'"), 1);
    /* Short-circuit: the missing variable on the right is never read. */
    CHECK_INT(is("true || ${alert.labels.missing} == 'x'"), 1);
    CHECK_INT(is("false && ${alert.labels.missing} == 'x'"), 0);
}

static void test_truthiness(void)
{
    CHECK_INT(is("${alert.pod}"), 1);
    CHECK_INT(is("${alert.node}"), 0);
    CHECK_INT(is("${alert.labels.off}"), 0);
    CHECK_INT(is("${alert.labels.zero}"), 0);
    CHECK_INT(is("${alert.raw.no}"), 0);
    CHECK_INT(is("${alert.raw.flag}"), 1);
    CHECK_INT(is("${alert.raw.priority}"), 1);
    CHECK_INT(is("${alert.raw.list}"), 1);
    CHECK_INT(is("${alert.raw.none}"), 0);
    CHECK_INT(is("${alert.labels.team:-}"), 0);
    CHECK_INT(is("!${alert.labels.team:-}"), 1);
    CHECK_INT(is("0"), 0);
    CHECK_INT(is("''"), 0);
    CHECK_INT(is("'x'"), 1);
}

static void test_eval_errors(void)
{
    int rc;
    CHECK_STR(eval_error("${alert.labels.team} == 'sec'", &rc),
              "variable alert.labels.team is not set");
    CHECK_INT(rc, -ENOENT);
    CHECK_STR(eval_error("${alert.labels.team}", &rc), "variable alert.labels.team is not set");
    CHECK_INT(rc, -ENOENT);
    CHECK_STR(eval_error("${alert.labels.word} > 2", &rc),
              "comparison at column 22: \"abc\" is not a number");
    CHECK_INT(rc, -EINVAL);
    CHECK_STR(eval_error("${alert.pod} < 'web-2'", &rc),
              "comparison at column 14: \"web-1\" is not a number");
    CHECK_STR(eval_error("${alert.raw.list} == '[1]'", &rc),
              "comparison at column 19: alert.raw.list is a list; it cannot be compared");
    CHECK_STR(eval_error("${alert.raw.obj} != 1", &rc),
              "comparison at column 18: alert.raw.obj is an object; it cannot be compared");
    CHECK_STR(eval_error("${steps.rotate.result.ok}", &rc),
              "variable steps.rotate.result.ok is not set");
}

/* Alert values are compared, never parsed: a label holding condition syntax
 * or template syntax stays one string. */
static void test_hostile_values(void)
{
    CHECK_INT(is("${alert.labels.inject} == 'x'"), 0);
    CHECK_INT(is("${alert.labels.inject} == '\" || true || \"'"), 1);
    cJSON *alert = cJSON_GetObjectItem(ctx, "alert");
    cJSON_ReplaceItemInObject(alert, "pod", cJSON_CreateString("${alert.source}"));
    CHECK_INT(is("${alert.pod} == 'falco'"), 0);
    CHECK_INT(is("${alert.pod} == '$${alert.source}'"), 1);
    cJSON_ReplaceItemInObject(alert, "pod", cJSON_CreateString("$(id) && true"));
    CHECK_INT(is("${alert.pod} =~ '^\\$\\(id\\)'"), 1);
    cJSON_ReplaceItemInObject(alert, "pod", cJSON_CreateString("web-1"));
}

static void test_parse_errors(void)
{
    /* a number or a boolean is no regular expression (and no crash) */
    CHECK_STR(parse_error("${alert.title} =~ 5"),
              "the right side of =~ at column 16 must be a literal string (a regular "
              "expression)");
    CHECK_STR(parse_error("${alert.title} !~ true"),
              "the right side of !~ at column 16 must be a literal string (a regular "
              "expression)");
    /* a chain long enough to exhaust the evaluator's stack is refused */
    struct ird_buf chain = IRD_BUF_INIT;
    for (int i = 0; i < 300; i++)
        ird_buf_puts(&chain, "true && ");
    ird_buf_puts(&chain, "true");
    CHECK(strncmp(parse_error(chain.data), "more than 256 && and || operators at column ", 44) ==
          0);
    ird_buf_free(&chain);
    CHECK_STR(parse_error(""), "empty condition");
    CHECK_STR(parse_error("   "), "empty condition");
    CHECK_STR(parse_error("${alert.severity} == "), "expected a value at column 22, found the end");
    CHECK_STR(
        parse_error("${alert.severity} == critical"),
        "unexpected word \"critical\" at column 22 (quote strings, use ${...} for variables)");
    CHECK_STR(parse_error("${alert.pod} == 'x"), "unterminated string at column 17");
    CHECK_STR(parse_error("(true && false"), "missing ')' for the '(' at column 1");
    CHECK_STR(parse_error("1 == 1 == 1"),
              "unexpected \"== 1\" at column 8 (expected &&, || or the end)");
    CHECK_STR(parse_error("true & false"),
              "unexpected \"& false\" at column 6 (expected &&, || or the end)");
    CHECK_STR(parse_error("${alrt.x} == 1"),
              "unknown root 'alrt' in ${alrt.x} at column 1 (expected alert, incident, target, "
              "steps, param)");
    CHECK_STR(parse_error("true && ${alert.pod"), "unterminated ${ at column 9");
    CHECK_STR(parse_error("'a' == \"${alert.nope}\""),
              "in the string at column 8: unknown alert field 'nope' in ${alert.nope} at column 1 "
              "(expected source, id, status, severity, title, namespace, pod, container, node, "
              "labels, annotations, starts_at, ends_at, raw)");
    CHECK_STR(parse_error("== 1"), "expected a value at column 1, found \"== 1\"");
    CHECK_STR(parse_error("1.x > 0"), "expected a digit at column 3");
    CHECK_STR(parse_error("12abc > 0"), "malformed number at column 1");
    char deep[300];
    memset(deep, '(', 200);
    memcpy(deep + 200, "true", 5);
    CHECK_STR(parse_error(deep), "condition nested too deeply at column 65");
}

static int collect(const struct ird_template_ref *ref, void *userdata)
{
    char *out = userdata;
    size_t n = strlen(out);
    snprintf(out + n, 256 - n, "%s;", ref->path);
    return 0;
}

static int stop_at_steps(const struct ird_template_ref *ref, void *userdata)
{
    (void)userdata;
    return strcmp(ref->root, "steps") == 0 ? 7 : 0;
}

static void test_refs(void)
{
    struct ird_err err = {{0}};
    struct ird_cond *c = ird_cond_parse(
        "${alert.pod} == \"${target.pod}\" || !(${steps.quarantine.result.ok} && ${param.x:-1})",
        &err);
    CHECK(c != NULL);
    if (!c)
        return;
    char seen[256] = "";
    CHECK_INT(ird_cond_foreach_ref(c, collect, seen), 0);
    CHECK_STR(seen, "alert.pod;target.pod;steps.quarantine.result.ok;param.x;");
    CHECK_INT(ird_cond_foreach_ref(c, stop_at_steps, NULL), 7);
    CHECK_STR(ird_cond_text(c),
              "${alert.pod} == \"${target.pod}\" || !(${steps.quarantine.result.ok} && "
              "${param.x:-1})");
    /* ret is untouched on failure. */
    struct ird_cond *bad = ird_cond_parse("${param.nothing}", &err);
    bool v = true;
    CHECK_INT(ird_cond_eval(bad, ctx, &v, &err), -ENOENT);
    CHECK(v == true);
    ird_cond_free(bad);
    ird_cond_free(c);
    ird_cond_free(NULL);
}

int main(void)
{
    ctx = cJSON_Parse(ctx_json);
    CHECK(ctx != NULL);
    if (!ctx)
        return ird_check_summary("test_cond");
    test_brief_example();
    test_comparisons();
    test_regex();
    test_logic();
    test_truthiness();
    test_eval_errors();
    test_hostile_values();
    test_parse_errors();
    test_refs();
    cJSON_Delete(ctx);
    return ird_check_summary("test_cond");
}
