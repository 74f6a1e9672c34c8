/* engine/playbook: what `ird check` tells a playbook author (every problem of
 * a broken directory, exactly, file:line first), what a good directory loads
 * into (run order, modes, steps), and how a step's `with` becomes the typed
 * parameters an action receives, hostile alert values included. */
#include "check.h"
#include "engine/playbook.h"
#include "test/test.h"

#include <stdlib.h>
#include <unistd.h>

static const char *const policies[] = {"security"};
static const struct ird_playbook_instance instances[] = {{"test", "lab"}};
static const struct ird_playbook_context context = {policies, 1, instances, 1};

/* Load dir (relative to the fixtures) and return the diags text ("" for none). */
static int load(const char *dir, const struct ird_playbook_context *ctx,
                struct ird_playbook_set **ret, struct ird_buf *text)
{
    struct ird_diags d = {IRD_BUF_INIT, 0};
    int rc = ird_playbooks_load(dir, ctx, ret, &d);
    ird_buf_reset(text);
    ird_buf_puts(text, d.text.data ? d.text.data : "");
    ird_diags_free(&d);
    return rc;
}

static const char expected_broken[] =
    "playbooks/broken/a-everything.conf:2: descripton: unknown key (known: name, description, "
    "mode, params, match, target, escalation, approval_timeout, on_approval_timeout, cooldown, "
    "stop, priority, dry_run, guards, steps, on_resolve)\n"
    "playbooks/broken/a-everything.conf:3: mode: \"automatic\" is not one of auto | approve | "
    "manual\n"
    "playbooks/broken/a-everything.conf:4: match.severity: \">= warnin\" is not a severity "
    "(critical, error, warning, info)\n"
    "playbooks/broken/a-everything.conf:5: target.pod: unknown root 'alrt' in ${alrt.pod} at "
    "column 1 (expected alert, incident, target, steps, param)\n"
    "playbooks/broken/a-everything.conf:6: escalation: no escalation policy \"secrity\" is defined "
    "in the configuration (known: security)\n"
    "playbooks/broken/a-everything.conf:7: cooldown: \"10x\" is not a duration (e.g. \"500ms\", "
    "\"30s\", \"5m\", \"2h\")\n"
    "playbooks/broken/a-everything.conf:8: priority: expected an integer, found a string\n"
    "playbooks/broken/a-everything.conf:10: steps[0].action: unknown action \"test.succed\" (known "
    "actions of test: test.succeed, test.fail, test.flaky, test.sleep)\n"
    "playbooks/broken/a-everything.conf:11: steps[1].with.mesage: unknown parameter of "
    "test.succeed (known: mutates, namespace, pod, message, tags, labels, token)\n"
    "playbooks/broken/a-everything.conf:11: steps[1].with.mutates: expected true or false, got "
    "\"yes\"\n"
    "playbooks/broken/a-everything.conf:12: steps[2].name: \"Bad Name\" is not a valid step name "
    "(lower case letters, digits, '-' and '_', at most 63 characters)\n"
    "playbooks/broken/a-everything.conf:12: steps[2].with: required parameter ms of test.sleep is "
    "missing\n"
    "playbooks/broken/a-everything.conf:13: steps[3].name: a step named second is already defined\n"
    "playbooks/broken/a-everything.conf:13: steps[3].timeout: must be longer than 0\n"
    "playbooks/broken/a-everything.conf:13: steps[3].retries: 50 is out of range (0..20)\n"
    "playbooks/broken/a-everything.conf:13: steps[3].on_failure: \"ignore\" is not one of abort | "
    "continue | escalate\n"
    "playbooks/broken/a-everything.conf:15: steps[4].with.message: ${steps.later.result.calls}: "
    "later is not an earlier step\n"
    "playbooks/broken/a-everything.conf:15: steps[4].with.message: ${param.x}: parameters exist "
    "only in manual playbooks (mode = \"manual\")\n"
    "playbooks/broken/a-everything.conf:15: steps[4].with.message: ${target.node}: the target has "
    "no key node (keys: namespace, pod)\n"
    "playbooks/broken/a-everything.conf:16: steps[4].when: expected a value at column 31, found "
    "the end\n"
    "playbooks/broken/a-everything.conf:17: steps[5].colour: unknown key (known: name, action, "
    "instance, with, timeout, retries, on_failure, when)\n"
    "playbooks/broken/a-everything.conf:17: steps[5].instance: no instance \"nope\" of connector "
    "test is configured (known: test.lab)\n"
    "playbooks/broken/a-everything.conf:17: steps[5].with.failures: expected an integer, found a "
    "decimal number\n"
    "playbooks/broken/a-everything.conf:18: steps[6].with.ms: expected an integer, got \"abc\"\n"
    "playbooks/broken/a-everything.conf:19: steps[7].with.ms: expected an integer, found a "
    "boolean\n"
    "playbooks/broken/a-everything.conf:19: steps[7].with.namespace: namespace \"Kube_System\" is "
    "not a valid Kubernetes name: must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character\n"
    "playbooks/broken/a-everything.conf:20: steps[8].action: unknown action \"slack.post\" (known "
    "connectors: test, k8s)\n"
    "playbooks/broken/a-everything.conf:21: steps[9]: name is required\n"
    "playbooks/broken/a-everything.conf:22: steps[10]: action is required\n"
    "playbooks/broken/b-manual.conf:3: match: a manual playbook is started only by a trigger; "
    "remove match or change mode\n"
    "playbooks/broken/b-manual.conf:4: params[1].name: parameter pod is declared twice\n"
    "playbooks/broken/b-manual.conf:4: params[2].nam: unknown key (known: name, required, "
    "description, default)\n"
    "playbooks/broken/b-manual.conf:4: params[2]: name is required\n"
    "playbooks/broken/b-manual.conf:4: params[3].name: \"Pod-Name\" is not a valid parameter name "
    "(lower case letters, digits and '_', at most 63 characters)\n"
    "playbooks/broken/b-manual.conf:5: target.ns: ${param.namespace}: no parameter namespace is "
    "declared (declared: pod)\n"
    "playbooks/broken/b-manual.conf:5: target.self: ${target.pod}: a target value cannot refer to "
    "the target\n"
    "playbooks/broken/b-manual.conf:5: target.s: ${steps.a.result.x}: the target is expanded "
    "before any step runs\n"
    "playbooks/broken/b-manual.conf:6: approval_timeout: only used with mode = \"approve\"\n"
    "playbooks/broken/b-manual.conf:7: guards.max_pods: unknown key (known: max_targets)\n"
    "playbooks/broken/b-manual.conf:7: guards.max_targets: 0 is out of range (1..2147483647)\n"
    "playbooks/broken/b-manual.conf:8: steps[0].with.pod: pod name \"../x\" is not a valid "
    "Kubernetes name: must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character\n"
    "playbooks/broken/b-manual.conf:9: on_resolve[0].with.message: "
    "${steps[\"on_resolve[1]\"].result.x}: on_resolve[1] is not an earlier step\n"
    "playbooks/broken/b-manual.conf:10: on_resolve[1].action: unknown action \"nope.thing\" (known "
    "connectors: test, k8s)\n"
    "playbooks/broken/b-manual.conf:11: on_resolve[2].name: a step named a is already defined\n"
    "playbooks/broken/d-dup.conf:2: name: playbook fine is already defined in "
    "playbooks/broken/c-fine.conf\n"
    "playbooks/broken/e-syntax.conf:2: syntax error\n"
    "playbooks/broken/f-nothing.conf: name: required key is missing\n"
    "playbooks/broken/f-nothing.conf:2: steps: at least one step is required\n"
    "playbooks/broken/g-shapes.conf:1: name: expected a string, found an integer\n"
    "playbooks/broken/g-shapes.conf:2: target: expected a group { key = \"template\"; ... }, found "
    "a string\n"
    "playbooks/broken/g-shapes.conf:3: params: expected a list of groups ( { name = \"...\"; }, "
    "... ), found a group\n"
    "playbooks/broken/g-shapes.conf:4: steps: expected a list of steps ( { name = ...; action = "
    "...; }, ... ), found a group\n"
    "playbooks/broken/g-shapes.conf:5: on_resolve[0]: expected a group { name = ...; action = ...; "
    "}, found a string\n"
    "playbooks/broken/g-shapes.conf:6: stop: expected true or false, found a string\n"
    "playbooks/broken/g-shapes.conf:7: dry_run: expected true or false, found an integer\n"
    "playbooks/broken/g-shapes.conf:8: guards: expected a group { max_targets = N; }, found an "
    "integer\n";

static void test_broken(void)
{
    struct ird_buf text = IRD_BUF_INIT;
    struct ird_playbook_set *set = (struct ird_playbook_set *)&text; /* must stay untouched */
    int rc = load("playbooks/broken", &context, &set, &text);
    CHECK_INT(rc, -EINVAL);
    CHECK(set == (struct ird_playbook_set *)&text);
    CHECK_STR(text.data, expected_broken);
    ird_buf_free(&text);
}

static void test_good(void)
{
    struct ird_buf text = IRD_BUF_INIT;
    struct ird_playbook_set *set = NULL;
    CHECK_INT(load("playbooks/good", &context, &set, &text), 0);
    CHECK_STR(text.data ? text.data : "", "");
    CHECK_INT(ird_playbook_set_count(set), 3);
    /* run order: priority 10 first, then file names */
    CHECK_STR(ird_playbook_set_at(set, 0)->name, "approve-critical");
    CHECK_STR(ird_playbook_set_at(set, 1)->name, "contain-test-pod");
    CHECK_STR(ird_playbook_set_at(set, 2)->name, "manual-drill");
    CHECK(ird_playbook_set_at(set, 3) == NULL);
    CHECK(ird_playbook_find(set, "nope") == NULL);
    for (size_t i = 0; i < 3; i++)
        CHECK(!ird_playbook_reads_alert(ird_playbook_set_at(set, i), "raw"));
    /* contain-test-pod's target reads ${alert.namespace} and ${alert.pod} */
    CHECK(ird_playbook_reads_alert(ird_playbook_set_at(set, 1), "pod"));
    CHECK(!ird_playbook_reads_alert(ird_playbook_set_at(set, 1), "node"));

    const struct ird_playbook *ap = ird_playbook_find(set, "approve-critical");
    CHECK(ap && ap->mode == IRD_PLAYBOOK_APPROVE);
    if (ap) {
        CHECK_STR(ap->file, "playbooks/good/approve-critical.conf");
        CHECK_STR(ap->escalation, "security");
        CHECK_INT(ap->approval_timeout_ms, 5 * 60 * 1000);
        CHECK(ap->on_approval_timeout == IRD_APPROVAL_TIMEOUT_ABORT);
        CHECK_INT(ap->priority, 10);
        CHECK(ap->stop && ap->dry_run);
        CHECK_INT(ap->guard_max_targets, 2);
        CHECK_INT(ap->nsteps, 3);
        CHECK_STR(ap->steps[0].instance, "default");
        CHECK(ap->steps[1].on_failure == IRD_ON_FAILURE_ESCALATE);
        CHECK(ap->steps[2].when != NULL);
        CHECK_INT(ap->non_resolve, 0);
    }
    const struct ird_playbook *ct = ird_playbook_find(set, "contain-test-pod");
    CHECK(ct && ct->mode == IRD_PLAYBOOK_AUTO);
    if (ct) {
        CHECK(ct->escalation == NULL);
        CHECK_INT(ct->cooldown_ms, 10 * 60 * 1000);
        CHECK_INT(ct->guard_max_targets, -1);
        CHECK(!ct->stop && !ct->dry_run);
        CHECK_INT(ct->ntarget, 2);
        CHECK_INT(ct->nsteps, 3);
        CHECK_STR(ct->steps[0].name, "quarantine");
        CHECK_STR(ct->steps[0].action, "test.succeed");
        CHECK(ct->steps[0].type == &ird_connector_test);
        CHECK_INT(ct->steps[0].timeout_ms, 30000); /* default */
        CHECK_INT(ct->steps[0].retries, 0);
        CHECK(ct->steps[0].on_failure == IRD_ON_FAILURE_ABORT);
        CHECK(ct->steps[0].when == NULL);
        CHECK_INT(ct->steps[1].timeout_ms, 5000);
        CHECK_INT(ct->steps[1].retries, 3);
        CHECK(ct->steps[2].on_failure == IRD_ON_FAILURE_CONTINUE);
        CHECK_INT(ct->non_resolve, 1);
        CHECK_STR(ct->on_resolve[0].name, "on_resolve[0]");
        CHECK(ird_playbook_step_find(ct, "on_resolve[0]") == &ct->on_resolve[0]);
        CHECK(ird_playbook_step_find(ct, "evidence") == &ct->steps[1]);
        CHECK(ird_playbook_step_find(ct, "nope") == NULL);
    }
    const struct ird_playbook *md = ird_playbook_find(set, "manual-drill");
    CHECK(md && md->mode == IRD_PLAYBOOK_MANUAL);
    if (md) {
        CHECK_INT(md->nparams, 2);
        CHECK_STR(md->params[0].name, "pod");
        CHECK(md->params[0].required);
        CHECK_STR(md->params[0].description, "the pod to drill on");
        CHECK(md->params[0].default_value == NULL);
        CHECK_STR(md->params[1].default_value, "default");
        CHECK(!md->params[1].required);
    }

    /* matching: which playbooks an alert starts */
    cJSON *alert =
        cJSON_Parse("{\"source\":\"test\",\"status\":\"firing\",\"severity\":\"warning\","
                    "\"title\":\"x\",\"namespace\":\"prod\",\"pod\":\"web-1\","
                    "\"labels\":{\"alertname\":\"TestContainment\",\"team\":\"secops\"}}");
    CHECK(ird_playbook_matches(ct, alert));
    CHECK(!ird_playbook_matches(ap, alert)); /* not critical */
    CHECK(!ird_playbook_matches(md, alert)); /* manual: only by trigger */
    cJSON_ReplaceItemInObject(alert, "severity", cJSON_CreateString("critical"));
    CHECK(ird_playbook_matches(ap, alert));
    CHECK(!ird_playbook_matches(md, alert));
    cJSON_ReplaceItemInObject(alert, "source", cJSON_CreateString("falco"));
    CHECK(!ird_playbook_matches(ct, alert));
    cJSON_Delete(alert);

    /* trigger parameters of the manual playbook */
    cJSON *given = cJSON_Parse("{\"pod\":\"web-2\"}"), *p = NULL;
    struct ird_err err = {{0}};
    CHECK_INT(ird_playbook_trigger_params(md, given, &p, &err), 0);
    char *s = p ? cJSON_PrintUnformatted(p) : NULL;
    CHECK_STR(s, "{\"pod\":\"web-2\",\"namespace\":\"default\"}");
    free(s);
    cJSON_Delete(p);
    p = NULL;
    cJSON_Delete(given);
    CHECK_INT(ird_playbook_trigger_params(md, NULL, &p, &err), -EINVAL);
    CHECK_STR(err.msg, "parameter pod is required by playbook manual-drill");
    CHECK(p == NULL);
    given = cJSON_Parse("{\"pod\":\"a\",\"podd\":\"b\"}");
    CHECK_INT(ird_playbook_trigger_params(md, given, &p, &err), -EINVAL);
    CHECK_STR(err.msg, "playbook manual-drill has no parameter \"podd\"");
    cJSON_Delete(given);

    /* a manual step's params come from the trigger through the target */
    cJSON *ctx = cJSON_Parse("{\"param\":{\"pod\":\"web-2\",\"namespace\":\"default\"}}");
    cJSON *target = NULL;
    CHECK_INT(ird_playbook_target_expand(md, ctx, &target, &err), 0);
    cJSON_AddItemToObject(ctx, "target", target);
    CHECK_INT(ird_playbook_step_params(&md->steps[1], ctx, &p, NULL, &err), 0);
    s = p ? cJSON_PrintUnformatted(p) : NULL;
    CHECK_STR(s, "{\"mutates\":true,\"namespace\":\"default\",\"pod\":\"web-2\",\"message\":"
                 "\"web-2\"}");
    CHECK(ird_playbook_step_mutates(&md->steps[1], p));
    CHECK(!ird_playbook_step_mutates(&md->steps[0], NULL)); /* default false */
    free(s);
    cJSON_Delete(p);
    cJSON_Delete(ctx);
    ird_playbook_set_free(set);
    ird_buf_free(&text);
}

static void test_dirs(void)
{
    struct ird_buf text = IRD_BUF_INIT;
    struct ird_playbook_set *set = NULL;
    CHECK_INT(load("playbooks/nope", &context, &set, &text), -EINVAL);
    CHECK(set == NULL);
    CHECK_STR(text.data, "playbooks/nope: cannot read the playbook directory: "
                         "no such file or directory\n");

    char tmpl[] = "/tmp/ird-playbooks-XXXXXX";
    CHECK(mkdtemp(tmpl) != NULL);
    CHECK_INT(load(tmpl, &context, &set, &text), 0);
    CHECK(set != NULL);
    CHECK_INT(ird_playbook_set_count(set), 0);
    ird_playbook_set_free(set);
    rmdir(tmpl);
    ird_playbook_set_free(NULL);

    /* without a context no escalation policy exists */
    set = NULL;
    CHECK_INT(load("playbooks/good", NULL, &set, &text), -EINVAL);
    CHECK_STR(text.data, "playbooks/good/approve-critical.conf:8: escalation: no escalation "
                         "policy \"security\" is defined in the configuration (known: none)\n");
    CHECK(set == NULL);
    ird_buf_free(&text);
}

/* The run's template context for the expand fixture. */
static cJSON *context_for(const char *alert_json)
{
    cJSON *ctx = cJSON_CreateObject();
    cJSON_AddItemToObject(ctx, "alert", cJSON_Parse(alert_json));
    cJSON_AddItemToObject(ctx, "incident", cJSON_Parse("{\"id\":\"inc-1\"}"));
    cJSON_AddItemToObject(ctx, "steps", cJSON_Parse("{\"typed\":{\"result\":{\"calls\":3}}}"));
    return ctx;
}

/* Expand step `name` of pb for alert; returns the params JSON or the error. */
static const char *expand(const struct ird_playbook *pb, const char *name, const char *alert_json,
                          char **redacted)
{
    static char out[2048];
    cJSON *ctx = context_for(alert_json), *target = NULL, *p = NULL, *r = NULL;
    struct ird_err err = {{0}};
    if (ird_playbook_target_expand(pb, ctx, &target, &err) < 0) {
        cJSON_Delete(ctx);
        snprintf(out, sizeof(out), "error: %s", err.msg);
        return out;
    }
    cJSON_AddItemToObject(ctx, "target", target);
    int rc = ird_playbook_step_params(ird_playbook_step_find(pb, name), ctx, &p,
                                      redacted ? &r : NULL, &err);
    if (rc < 0) {
        CHECK(p == NULL && r == NULL);
        snprintf(out, sizeof(out), "error: %s", err.msg);
    } else {
        char *s = cJSON_PrintUnformatted(p);
        snprintf(out, sizeof(out), "%s", s ? s : "");
        free(s);
        if (redacted)
            *redacted = cJSON_PrintUnformatted(r);
    }
    cJSON_Delete(p);
    cJSON_Delete(r);
    cJSON_Delete(ctx);
    return out;
}

static void test_expand(void)
{
    struct ird_buf text = IRD_BUF_INIT;
    struct ird_playbook_set *set = NULL;
    CHECK_INT(load("playbooks/expand", &context, &set, &text), 0);
    CHECK_STR(text.data ? text.data : "", "");
    const struct ird_playbook *pb = ird_playbook_find(set, "expand");
    CHECK(pb != NULL);
    if (!pb) {
        ird_buf_free(&text);
        return;
    }
    /* expand.conf reads ${alert.raw.list}: runs keep the raw alert; the good
     * playbooks read none, so their runs leave it in the incident. */
    CHECK(ird_playbook_reads_alert(pb, "raw"));
    CHECK(!ird_playbook_reads_alert(pb, "annotations"));
    char *red = NULL;
    /* strings become typed values; namespace/pod come from the target; an alert
     * value that looks like a template stays text */
    CHECK_STR(
        expand(pb, "typed",
               "{\"namespace\":\"prod\",\"pod\":\"web-1\",\"title\":\"${alert.labels.secret}\","
               "\"labels\":{\"ms\":\"250\",\"extra\":\"2s\",\"mutates\":\"true\","
               "\"team\":\"sec\",\"secret\":\"x\"}}",
               &red),
        "{\"mutates\":true,\"namespace\":\"prod\",\"pod\":\"web-1\",\"message\":\"${alert."
        "labels.secret}\",\"tags\":[\"a\",\"sec\"],\"labels\":{\"team\":\"sec\"},\"token\":"
        "\"s3cr3t-inc-1\",\"ms\":250,\"extra\":2000}");
    /* the copy for storage hides the secret */
    CHECK_STR(red, "{\"mutates\":true,\"namespace\":\"prod\",\"pod\":\"web-1\",\"message\":\"${"
                   "alert.labels.secret}\",\"tags\":[\"a\",\"sec\"],\"labels\":{\"team\":\"sec\"},"
                   "\"token\":\"[redacted]\",\"ms\":250,\"extra\":2000}");
    free(red);
    /* defaults: extra from the template default, mutates false */
    CHECK_STR(expand(pb, "typed",
                     "{\"namespace\":\"prod\",\"pod\":\"web-1\",\"title\":\"t\","
                     "\"labels\":{\"ms\":\"5\",\"team\":\"sec\"}}",
                     NULL),
              "{\"mutates\":false,\"namespace\":\"prod\",\"pod\":\"web-1\",\"message\":\"t\","
              "\"tags\":[\"a\",\"sec\"],\"labels\":{\"team\":\"sec\"},\"token\":\"s3cr3t-inc-1\","
              "\"ms\":5,\"extra\":1000}");
    /* hostile values: the step fails naming the parameter and the rule */
    CHECK_STR(expand(pb, "typed",
                     "{\"namespace\":\"prod\",\"pod\":\"../x\",\"title\":\"t\","
                     "\"labels\":{\"ms\":\"5\",\"team\":\"sec\"}}",
                     NULL),
              "error: parameter pod: pod name \"../x\" is not a valid Kubernetes name: must "
              "consist of lower case alphanumeric characters, '-' or '.', and must start and end "
              "with an alphanumeric character");
    CHECK_STR(expand(pb, "typed",
                     "{\"namespace\":\"kube system\",\"pod\":\"web-1\",\"title\":\"t\","
                     "\"labels\":{\"ms\":\"5\",\"team\":\"sec\"}}",
                     NULL),
              "error: parameter namespace: namespace \"kube system\" is not a valid Kubernetes "
              "name: must consist of lower case alphanumeric characters or '-', and must start "
              "and end with an alphanumeric character");
    CHECK_STR(expand(pb, "typed",
                     "{\"namespace\":\"prod\",\"pod\":\"web-1\",\"title\":\"t\","
                     "\"labels\":{\"ms\":\"5; rm -rf /\",\"team\":\"sec\"}}",
                     NULL),
              "error: parameter ms: expected an integer, got \"5; rm -rf /\"");
    CHECK_STR(expand(pb, "typed",
                     "{\"namespace\":\"prod\",\"pod\":\"web-1\",\"title\":\"t\","
                     "\"labels\":{\"ms\":\"5\",\"mutates\":\"yes\",\"team\":\"sec\"}}",
                     NULL),
              "error: parameter mutates: expected true or false, got \"yes\"");
    CHECK_STR(expand(pb, "typed",
                     "{\"namespace\":\"prod\",\"pod\":\"web-1\",\"title\":\"t\","
                     "\"labels\":{\"ms\":\"5\",\"extra\":\"soon\",\"team\":\"sec\"}}",
                     NULL),
              "error: parameter extra: expected a duration such as \"500ms\", \"30s\", \"5m\", "
              "got \"soon\"");
    /* a missing value is never silently empty */
    CHECK_STR(expand(pb, "typed",
                     "{\"namespace\":\"prod\",\"pod\":\"web-1\",\"title\":\"t\","
                     "\"labels\":{\"ms\":\"5\"}}",
                     NULL),
              "error: parameter tags: [1]: variable alert.labels.team is not set");
    CHECK_STR(expand(pb, "typed", "{\"namespace\":\"prod\",\"title\":\"t\",\"labels\":{}}", NULL),
              "error: target.pod: variable alert.pod is not set");
    /* typed values from a single variable keep their type */
    CHECK_STR(expand(pb, "after",
                     "{\"namespace\":\"prod\",\"pod\":\"web-1\",\"raw\":{\"list\":[\"x\",\"y\"]}}",
                     NULL),
              "{\"mutates\":false,\"namespace\":\"prod\",\"pod\":\"web-1\",\"tags\":[\"x\",\"y\"],"
              "\"failures\":3}");
    CHECK_STR(expand(pb, "after",
                     "{\"namespace\":\"prod\",\"pod\":\"web-1\",\"raw\":{\"list\":{\"a\":1}}}",
                     NULL),
              "error: parameter tags: expected a list of strings, got an object");
    CHECK_STR(expand(pb, "after",
                     "{\"namespace\":\"prod\",\"pod\":\"web-1\",\"raw\":{\"list\":\"one\"}}", NULL),
              "{\"mutates\":false,\"namespace\":\"prod\",\"pod\":\"web-1\",\"tags\":[\"one\"],"
              "\"failures\":3}");
    ird_playbook_set_free(set);
    ird_buf_free(&text);
}

int main(void)
{
    const char *fixtures = getenv("IRD_FIXTURES");
    if (!fixtures || chdir(fixtures) != 0) {
        fprintf(stderr, "IRD_FIXTURES must name tests/fixtures\n");
        return 1;
    }
    test_broken();
    test_good();
    test_dirs();
    test_expand();
    return ird_check_summary("test_playbook");
}
