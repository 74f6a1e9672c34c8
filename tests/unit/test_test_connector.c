/* connectors/test and the registry: the test actions answer on a real libuv
 * loop (never inside start), count their calls, flake per run and step, sleep
 * and stop when cancelled, ask the guard and, in dry-run, plan instead of
 * doing; the registry finds connectors, actions and parameters by name. */
#include "check.h"
#include "connector.h"
#include "test/test.h"

#include <stdlib.h>

/* What one call's done reported. */
struct outcome {
    int ndone;
    enum ird_action_status status;
    char *result;
    char error[256];
    uint64_t at_ms;
};

static void on_done(struct ird_action_call *call, enum ird_action_status status, cJSON *result,
                    const char *error, int64_t retry_after_ms)
{
    struct outcome *o = call->engine_data;
    (void)retry_after_ms;
    o->ndone++;
    o->status = status;
    free(o->result);
    o->result = result ? cJSON_PrintUnformatted(result) : NULL;
    cJSON_Delete(result);
    snprintf(o->error, sizeof(o->error), "%s", error ? error : "");
    o->at_ms = uv_now(call->loop);
}

struct fixture {
    uv_loop_t loop;
    struct ird_action_call call;
    struct outcome out;
};

static void setup(struct fixture *f, const char *action, const char *params_json)
{
    memset(f, 0, sizeof(*f));
    uv_loop_init(&f->loop);
    const struct ird_connector_ops *type = NULL;
    f->call.action = ird_action_find(action, &type);
    f->call.loop = &f->loop;
    f->call.params = cJSON_Parse(params_json);
    f->call.incident_id = "inc-1";
    f->call.run_id = "run-1";
    f->call.step_name = "step";
    f->call.attempt = 1;
    f->call.done = on_done;
    f->call.engine_data = &f->out;
}

/* Start the call and run the loop until it is answered; returns start's code. */
static int run(struct fixture *f)
{
    f->out.ndone = 0;
    int rc = f->call.action->start(&f->call);
    CHECK_INT(f->out.ndone, 0); /* never synchronously */
    if (rc == 0)
        uv_run(&f->loop, UV_RUN_DEFAULT);
    return rc;
}

static void teardown(struct fixture *f)
{
    uv_run(&f->loop, UV_RUN_DEFAULT);
    CHECK_INT(uv_loop_close(&f->loop), 0); /* every handle closed */
    cJSON_Delete(f->call.params);
    cJSON_Delete(f->call.planned);
    free(f->out.result);
}

static void test_registry(void)
{
    CHECK(ird_nconnectors >= 1);
    CHECK(ird_connector_find("test") == &ird_connector_test);
    CHECK(ird_connector_find("nope") == NULL);
    CHECK(ird_connector_find(NULL) == NULL);
    const struct ird_connector_ops *type = NULL;
    const struct ird_action_spec *a = ird_action_find("test.succeed", &type);
    CHECK(a && type == &ird_connector_test);
    CHECK_STR(a ? a->name : NULL, "succeed");
    CHECK(ird_action_find("test.nope", NULL) == NULL);
    CHECK(ird_action_find("nope.succeed", NULL) == NULL);
    CHECK(ird_action_find("test", NULL) == NULL);
    CHECK(ird_action_find("test.", NULL) == NULL);
    CHECK(ird_action_find(".succeed", NULL) == NULL);
    CHECK(ird_action_find("tes.succeed", NULL) == NULL);
    const struct ird_param_spec *p = ird_action_param(ird_action_find("test.sleep", NULL), "ms");
    CHECK(p && p->type == IRD_PARAM_INT && p->required);
    CHECK(ird_action_param(a, "nope") == NULL);
    /* the specs are static and declare no mutation: the `mutates` parameter says */
    for (size_t i = 0; i < ird_connector_test.nactions; i++) {
        CHECK(!ird_connector_test.actions[i].mutates);
        CHECK(ird_action_param(&ird_connector_test.actions[i], "mutates") != NULL);
    }

    struct ird_action_call call;
    memset(&call, 0, sizeof(call));
    ird_call_plan(&call, "DELETE", "/x", NULL);
    cJSON *body = cJSON_Parse("{\"k\":1}");
    ird_call_plan(&call, "POST", "/y", body);
    cJSON_Delete(body);
    char *s = cJSON_PrintUnformatted(call.planned);
    CHECK_STR(s, "[{\"method\":\"DELETE\",\"path\":\"/x\",\"body\":null},"
                 "{\"method\":\"POST\",\"path\":\"/y\",\"body\":{\"k\":1}}]");
    free(s);
    cJSON_Delete(call.planned);
}

static void test_instances(void)
{
    void *inst = NULL;
    struct ird_err err = {{0}};
    CHECK_INT(ird_connector_test.instance_new(NULL, "default", NULL, NULL, &inst, &err), 0);
    CHECK(inst != NULL);
    ird_connector_test.instance_free(inst);

    config_t cfg;
    config_init(&cfg);
    CHECK(config_read_string(&cfg, "lab = {};\nbad = {\n  url = \"x\";\n};\n") == CONFIG_TRUE);
    inst = NULL;
    CHECK_INT(
        ird_connector_test.instance_new(NULL, "lab", config_lookup(&cfg, "lab"), NULL, &inst, &err),
        0);
    ird_connector_test.instance_free(inst);
    inst = NULL;
    CHECK_INT(
        ird_connector_test.instance_new(NULL, "bad", config_lookup(&cfg, "bad"), NULL, &inst, &err),
        -EINVAL);
    CHECK(inst == NULL);
    CHECK_STR(err.msg, "<config>:2: connectors.test.bad: the test connector takes no settings");
    config_destroy(&cfg);
}

static void test_succeed_and_fail(void)
{
    ird_test_connector_reset();
    struct fixture f;
    setup(&f, "test.succeed", "{\"message\":\"hi\",\"tags\":[\"a\"],\"token\":\"t0p\"}");
    CHECK_INT(run(&f), 0);
    CHECK_INT(f.out.ndone, 1);
    CHECK(f.out.status == IRD_ACTION_OK);
    CHECK_STR(f.out.result,
              "{\"action\":\"succeed\",\"calls\":1,\"dry_run\":false,\"message\":\"hi\","
              "\"tags\":[\"a\"]}"); /* the token is never echoed */
    CHECK_STR(f.out.error, "");
    CHECK_INT(run(&f), 0);
    CHECK_STR(f.out.result, "{\"action\":\"succeed\",\"calls\":2,\"dry_run\":false,\"message\":"
                            "\"hi\",\"tags\":[\"a\"]}");
    CHECK(f.call.planned == NULL); /* not a mutation: nothing planned */
    teardown(&f);
    CHECK_INT(ird_test_connector_calls("succeed"), 2);
    CHECK_INT(ird_test_connector_calls("test.succeed"), 2);
    CHECK_INT(ird_test_connector_calls("fail"), 0);
    CHECK_INT(ird_test_connector_calls("nope"), 0);

    setup(&f, "test.fail", "{}");
    CHECK_INT(run(&f), 0);
    CHECK(f.out.status == IRD_ACTION_FAIL);
    CHECK_STR(f.out.error, "test failure");
    CHECK_STR(f.out.result, "{\"action\":\"fail\",\"calls\":1,\"dry_run\":false}");
    teardown(&f);
    setup(&f, "test.fail", "{\"message\":\"boom\"}");
    CHECK_INT(run(&f), 0);
    CHECK(f.out.status == IRD_ACTION_FAIL);
    CHECK_STR(f.out.error, "boom");
    teardown(&f);
    CHECK_INT(ird_test_connector_calls("fail"), 2);
    ird_test_connector_reset();
    CHECK_INT(ird_test_connector_calls("succeed"), 0);
}

static void test_flaky(void)
{
    ird_test_connector_reset();
    struct fixture f;
    setup(&f, "test.flaky", "{\"failures\":2}");
    CHECK_INT(run(&f), 0);
    CHECK(f.out.status == IRD_ACTION_RETRY);
    CHECK_STR(f.out.error, "flaky: failure 1 of 2");
    f.call.attempt = 2;
    CHECK_INT(run(&f), 0);
    CHECK(f.out.status == IRD_ACTION_RETRY);
    CHECK_STR(f.out.error, "flaky: failure 2 of 2");
    /* another step of the same run counts on its own */
    f.call.step_name = "other";
    CHECK_INT(run(&f), 0);
    CHECK(f.out.status == IRD_ACTION_RETRY);
    CHECK_STR(f.out.error, "flaky: failure 1 of 2");
    /* the first step, re-issued, carries on where it was */
    f.call.step_name = "step";
    f.call.attempt = 1;
    CHECK_INT(run(&f), 0);
    CHECK(f.out.status == IRD_ACTION_OK);
    CHECK_STR(f.out.result, "{\"action\":\"flaky\",\"calls\":4,\"dry_run\":false,\"attempt\":3}");
    CHECK_INT(run(&f), 0);
    CHECK(f.out.status == IRD_ACTION_OK);
    teardown(&f);
    CHECK_INT(ird_test_connector_calls("flaky"), 5);
    ird_test_connector_reset();
}

static void cancel_cb(uv_timer_t *t)
{
    struct fixture *f = t->data;
    f->call.action->cancel(&f->call);
    CHECK_INT(f->out.ndone, 0); /* done comes from the loop, not from cancel */
    uv_close((uv_handle_t *)t, NULL);
}

static void test_sleep(void)
{
    struct fixture f;
    setup(&f, "test.sleep", "{\"ms\":40}");
    uint64_t t0 = uv_now(&f.loop);
    CHECK_INT(run(&f), 0);
    CHECK(f.out.status == IRD_ACTION_OK);
    CHECK(f.out.at_ms - t0 >= 40);
    teardown(&f);

    /* cancel stops the timer and fails the call at once */
    setup(&f, "test.sleep", "{\"ms\":60000}");
    uv_timer_t canceller;
    uv_timer_init(&f.loop, &canceller);
    canceller.data = &f;
    uv_timer_start(&canceller, cancel_cb, 10, 0);
    t0 = uv_now(&f.loop);
    CHECK_INT(run(&f), 0);
    CHECK_INT(f.out.ndone, 1);
    CHECK(f.out.status == IRD_ACTION_FAIL);
    CHECK_STR(f.out.error, "cancelled");
    CHECK(f.out.at_ms - t0 < 5000);
    CHECK(f.out.result && strstr(f.out.result, "\"cancelled\":true") != NULL);
    teardown(&f);

    /* without ms the call is refused and done is never called */
    unsigned before = ird_test_connector_calls("sleep");
    setup(&f, "test.sleep", "{}");
    CHECK_INT(run(&f), -EINVAL);
    CHECK_INT(f.out.ndone, 0);
    CHECK_INT(ird_test_connector_calls("sleep"), before);
    teardown(&f);
}

static void test_dry_run(void)
{
    ird_test_connector_reset();
    struct fixture f;
    /* a mutating call in dry-run records its plan and succeeds without failing */
    setup(&f, "test.fail", "{\"mutates\":true,\"namespace\":\"prod\",\"pod\":\"web-1\"}");
    f.call.dry_run = true;
    CHECK_INT(run(&f), 0);
    CHECK(f.out.status == IRD_ACTION_OK);
    CHECK_STR(f.out.result, "{\"action\":\"fail\",\"calls\":1,\"dry_run\":true,\"planned\":true}");
    char *s = cJSON_PrintUnformatted(f.call.planned);
    CHECK_STR(s, "[{\"method\":\"POST\",\"path\":\"/test/fail\",\"body\":{\"mutates\":true,"
                 "\"namespace\":\"prod\",\"pod\":\"web-1\"}}]");
    free(s);
    teardown(&f);
    /* a read (mutates false) behaves the same in dry-run and plans nothing */
    setup(&f, "test.fail", "{\"mutates\":false}");
    f.call.dry_run = true;
    CHECK_INT(run(&f), 0);
    CHECK(f.out.status == IRD_ACTION_FAIL);
    CHECK(f.call.planned == NULL);
    teardown(&f);
    /* a mutating sleep in dry-run does not wait */
    setup(&f, "test.sleep", "{\"mutates\":true,\"ms\":60000}");
    f.call.dry_run = true;
    uint64_t t0 = uv_now(&f.loop);
    CHECK_INT(run(&f), 0);
    CHECK(f.out.status == IRD_ACTION_OK);
    CHECK(f.out.at_ms - t0 < 5000);
    teardown(&f);
}

static char seen[128];

static int refuse(struct ird_action_call *call, const struct ird_guard_target *t,
                  struct ird_err *err)
{
    (void)call;
    snprintf(seen, sizeof(seen), "%s %s/%s", t->kind, t->namespace_, t->name);
    if (strcmp(t->namespace_, "kube-system") == 0)
        return ird_err_set(err, -EPERM, "namespace kube-system is protected");
    return 0;
}

static void test_guard(void)
{
    struct fixture f;
    setup(&f, "test.succeed", "{\"mutates\":true,\"namespace\":\"kube-system\",\"pod\":\"dns\"}");
    f.call.guard = refuse;
    CHECK_INT(run(&f), 0);
    CHECK(f.out.status == IRD_ACTION_FAIL);
    CHECK_STR(f.out.error, "namespace kube-system is protected");
    CHECK_STR(seen, "Pod kube-system/dns");
    /* refused in dry-run too, and nothing planned */
    f.call.dry_run = true;
    CHECK_INT(run(&f), 0);
    CHECK(f.out.status == IRD_ACTION_FAIL);
    CHECK(f.call.planned == NULL);
    teardown(&f);

    setup(&f, "test.succeed", "{\"mutates\":true}");
    f.call.guard = refuse;
    CHECK_INT(run(&f), 0);
    CHECK(f.out.status == IRD_ACTION_OK);
    CHECK_STR(seen, "Test /succeed");
    teardown(&f);

    /* a read never asks the guard */
    seen[0] = '\0';
    setup(&f, "test.succeed", "{\"namespace\":\"kube-system\",\"pod\":\"dns\"}");
    f.call.guard = refuse;
    CHECK_INT(run(&f), 0);
    CHECK(f.out.status == IRD_ACTION_OK);
    CHECK_STR(seen, "");
    teardown(&f);
}

int main(void)
{
    test_registry();
    test_instances();
    test_succeed_and_fail();
    test_flaky();
    test_sleep();
    test_dry_run();
    test_guard();
    ird_test_connector_reset();
    return ird_check_summary("test_test_connector");
}
