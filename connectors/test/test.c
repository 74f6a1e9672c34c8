/* The test connector (connectors/test): actions test.succeed, test.fail,
 * test.flaky and test.sleep, answered on the loop from a uv_timer, with
 * process-wide call counters that tests read back.
 *
 * Parameters, every action:
 *   mutates   bool, default false. The action specs all declare mutates =
 *             false; this parameter says whether this call is to be treated as
 *             a mutation. The engine learns it through
 *             ird_playbook_step_mutates() (engine/playbook.h), whose rule is
 *             general: an action that declares a bool parameter named
 *             "mutates" mutates when that parameter is true. A mutating call
 *             asks call->guard first (a refusal fails the call with the
 *             guard's reason) and, in dry-run, records the plan
 *             POST /test/<verb> with the parameters as body and succeeds at
 *             once, without its behaviour (no failure, no flake, no sleep).
 *   namespace, pod   optional; what the guard is shown (kind "Pod"; without a
 *             pod, kind "Test" named after the verb). Declared so playbooks
 *             can show ${target.namespace}/${target.pod} defaulting.
 *   message   optional text: echoed as "message" in the result; for test.fail
 *             it is the error (default "test failure").
 *   tags, labels  optional list of strings / group of strings, echoed in the
 *             result; token optional secret text, never echoed. They exist so
 *             playbooks and tests can exercise every parameter type and the
 *             redaction of secret parameters.
 * test.flaky: failures (int, default 1): answers RETRY that many times, then
 *             OK. Attempts are counted per (run_id, step_name) in this process,
 *             so a step the engine re-issues keeps counting where it was; the
 *             count is lost when the process exits.
 * test.sleep: ms (int, required, >= 0) plus extra (duration, default 0s):
 *             answers OK after ms + extra milliseconds.
 * Every answer, cancel included, comes from a uv_timer on call->loop, never
 * from inside start() or cancel(). cancel() turns a pending call into FAIL
 * "cancelled" on the next loop turn. The result is
 * {"action": verb, "calls": N, "dry_run": bool[, "planned": true]
 *  [, "message": ...][, "attempt": k for flaky][, "cancelled": true]}, N being
 * the process-wide count for that action including this call. */
#include "test/test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- parameters ----------------------------------------------------------------------- */

/* clang-format off */
#define COMMON_PARAMS                                                                              \
    {"mutates", IRD_PARAM_BOOL, false, "false", "treat this call as a mutation"},                  \
    {"namespace", IRD_PARAM_NAMESPACE, false, NULL, "namespace shown to the guards"},              \
    {"pod", IRD_PARAM_K8S_NAME, false, NULL, "pod shown to the guards"},                           \
    {"message", IRD_PARAM_STRING, false, NULL, "text echoed in the result"},                       \
    {"tags", IRD_PARAM_STRING_LIST, false, NULL, "strings echoed in the result"},                  \
    {"labels", IRD_PARAM_OBJECT, false, NULL, "a group of strings echoed in the result"},          \
    {"token", IRD_PARAM_STRING, false, NULL, "a secret: never echoed, redacted in storage"}
/* clang-format on */

static const struct ird_param_spec succeed_params[] = {COMMON_PARAMS};
static const struct ird_param_spec fail_params[] = {COMMON_PARAMS};
static const struct ird_param_spec flaky_params[] = {
    COMMON_PARAMS,
    {"failures", IRD_PARAM_INT, false, "1", "how many attempts answer RETRY before OK"},
};
static const struct ird_param_spec sleep_params[] = {
    COMMON_PARAMS,
    {"ms", IRD_PARAM_INT, true, NULL, "milliseconds before answering OK"},
    {"extra", IRD_PARAM_DURATION, false, "0s", "a duration added to ms"},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static int test_start(struct ird_action_call *call);
static void test_cancel(struct ird_action_call *call);

enum test_verb { VERB_SUCCEED, VERB_FAIL, VERB_FLAKY, VERB_SLEEP, VERB_COUNT };

static const struct ird_action_spec test_actions[VERB_COUNT] = {
    [VERB_SUCCEED] = {"succeed", "answer OK", false, succeed_params, COUNT(succeed_params),
                      test_start, test_cancel},
    [VERB_FAIL] = {"fail", "answer FAIL with message", false, fail_params, COUNT(fail_params),
                   test_start, test_cancel},
    [VERB_FLAKY] = {"flaky", "answer RETRY `failures` times per run and step, then OK", false,
                    flaky_params, COUNT(flaky_params), test_start, test_cancel},
    [VERB_SLEEP] = {"sleep", "answer OK after `ms` milliseconds", false, sleep_params,
                    COUNT(sleep_params), test_start, test_cancel},
};

/* ---- process-wide state --------------------------------------------------------------- */

static unsigned verb_calls[VERB_COUNT];

/* Flaky attempts by "<run_id>\x1f<step_name>"; bounded, oldest forgotten first. */
#define FLAKY_KEYS_MAX 1024
struct flaky_entry {
    char *key;
    unsigned seen;
};
static struct flaky_entry flaky_keys[FLAKY_KEYS_MAX];
static size_t flaky_nkeys;

static struct flaky_entry *flaky_entry(const char *run_id, const char *step)
{
    size_t rl = strlen(run_id), sl = strlen(step);
    for (size_t i = 0; i < flaky_nkeys; i++) {
        const char *k = flaky_keys[i].key;
        if (strncmp(k, run_id, rl) == 0 && k[rl] == '\x1f' && strcmp(k + rl + 1, step) == 0)
            return &flaky_keys[i];
    }
    char *key = malloc(rl + sl + 2);
    if (!key)
        return NULL;
    memcpy(key, run_id, rl);
    key[rl] = '\x1f';
    memcpy(key + rl + 1, step, sl + 1);
    if (flaky_nkeys == FLAKY_KEYS_MAX) {
        free(flaky_keys[0].key);
        memmove(&flaky_keys[0], &flaky_keys[1], (FLAKY_KEYS_MAX - 1) * sizeof(flaky_keys[0]));
        flaky_nkeys--;
    }
    flaky_keys[flaky_nkeys] = (struct flaky_entry){key, 0};
    return &flaky_keys[flaky_nkeys++];
}

unsigned ird_test_connector_calls(const char *action)
{
    if (!action)
        return 0;
    if (strncmp(action, "test.", 5) == 0)
        action += 5;
    for (size_t i = 0; i < VERB_COUNT; i++)
        if (strcmp(test_actions[i].name, action) == 0)
            return verb_calls[i];
    return 0;
}

void ird_test_connector_reset(void)
{
    memset(verb_calls, 0, sizeof(verb_calls));
    for (size_t i = 0; i < flaky_nkeys; i++)
        free(flaky_keys[i].key);
    flaky_nkeys = 0;
}

/* ---- one call ------------------------------------------------------------------------- */

/* A pending answer. The timer is embedded, so the struct is freed in the
 * timer's close callback, after the call may already be gone. */
struct test_call {
    uv_timer_t timer;
    struct ird_action_call *call;
    enum ird_action_status status;
    cJSON *result;
    char *error;
    bool fired;
};

static const cJSON *param(const struct ird_action_call *call, const char *name)
{
    return cJSON_GetObjectItemCaseSensitive(call->params, name);
}

static bool param_bool(const struct ird_action_call *call, const char *name)
{
    return cJSON_IsTrue(param(call, name));
}

static long long param_int(const struct ird_action_call *call, const char *name, long long def)
{
    const cJSON *v = param(call, name);
    return cJSON_IsNumber(v) ? (long long)v->valuedouble : def;
}

static const char *param_str(const struct ird_action_call *call, const char *name)
{
    const cJSON *v = param(call, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Copy a parameter into the result when it is set; false when out of memory. */
static bool echo(cJSON *result, const struct ird_action_call *call, const char *name)
{
    const cJSON *v = param(call, name);
    if (!v)
        return true;
    cJSON *d = cJSON_Duplicate(v, 1);
    return d && cJSON_AddItemToObject(result, name, d);
}

static void on_closed(uv_handle_t *h)
{
    free(h->data);
}

static void on_timer(uv_timer_t *t)
{
    struct test_call *tc = t->data;
    struct ird_action_call *call = tc->call;
    cJSON *result = tc->result;
    char *error = tc->error;
    enum ird_action_status status = tc->status;
    tc->fired = true;
    tc->result = NULL;
    tc->error = NULL;
    call->connector_data = NULL;
    uv_close((uv_handle_t *)&tc->timer, on_closed);
    call->done(call, status, result, status == IRD_ACTION_OK ? NULL : (error ? error : "failed"),
               -1);
    free(error);
}

static int set_error(struct test_call *tc, enum ird_action_status status, const char *msg)
{
    char *e = strdup(msg);
    if (!e)
        return -ENOMEM;
    free(tc->error);
    tc->error = e;
    tc->status = status;
    return 0;
}

/* Fill tc's answer for the call and return the delay in ms, or a negative errno. */
static long long decide(struct test_call *tc, enum test_verb verb)
{
    struct ird_action_call *call = tc->call;
    bool mutates = param_bool(call, "mutates");
    const char *msg = param_str(call, "message");
    long long delay = 0;
    int rc = 0;

    if (mutates && call->guard) {
        const char *pod = param_str(call, "pod");
        const char *ns = param_str(call, "namespace");
        struct ird_guard_target target = {
            .kind = pod ? "Pod" : "Test",
            .namespace_ = ns ? ns : "",
            .name = pod ? pod : test_actions[verb].name,
            .labels = NULL,
        };
        struct ird_err gerr = {{0}};
        if (call->guard(call, &target, &gerr) < 0)
            return set_error(tc, IRD_ACTION_FAIL, gerr.msg[0] ? gerr.msg : "refused by a guard");
    }
    if (mutates && call->dry_run) {
        char path[32];
        snprintf(path, sizeof(path), "/test/%s", test_actions[verb].name);
        ird_call_plan(call, "POST", path, call->params);
        cJSON_AddBoolToObject(tc->result, "planned", true);
        return 0;
    }
    switch (verb) {
    case VERB_FAIL:
        rc = set_error(tc, IRD_ACTION_FAIL, msg ? msg : "test failure");
        break;
    case VERB_FLAKY: {
        struct flaky_entry *e =
            flaky_entry(call->run_id ? call->run_id : "", call->step_name ? call->step_name : "");
        if (!e)
            return -ENOMEM;
        long long failures = param_int(call, "failures", 1);
        e->seen++;
        cJSON_AddNumberToObject(tc->result, "attempt", e->seen);
        if ((long long)e->seen <= failures) {
            char text[96];
            snprintf(text, sizeof(text), "flaky: failure %u of %lld", e->seen, failures);
            rc = set_error(tc, IRD_ACTION_RETRY, text);
        }
        break;
    }
    case VERB_SLEEP:
        delay = param_int(call, "ms", -1);
        if (delay < 0 || param_int(call, "extra", 0) < 0)
            return -EINVAL;
        delay += param_int(call, "extra", 0);
        break;
    default:
        break;
    }
    return rc < 0 ? rc : delay;
}

static int test_start(struct ird_action_call *call)
{
    if (!call || !call->action || !call->loop || !call->done || call->action < test_actions ||
        call->action >= test_actions + VERB_COUNT)
        return -EINVAL;
    enum test_verb verb = (enum test_verb)(call->action - test_actions);
    struct test_call *tc = calloc(1, sizeof(*tc));
    if (!tc)
        return -ENOMEM;
    tc->call = call;
    tc->status = IRD_ACTION_OK;
    tc->result = cJSON_CreateObject();
    verb_calls[verb]++;
    const char *msg = param_str(call, "message");
    if (!tc->result || !cJSON_AddStringToObject(tc->result, "action", test_actions[verb].name) ||
        !cJSON_AddNumberToObject(tc->result, "calls", verb_calls[verb]) ||
        !cJSON_AddBoolToObject(tc->result, "dry_run", call->dry_run) ||
        (msg && !cJSON_AddStringToObject(tc->result, "message", msg)) ||
        !echo(tc->result, call, "tags") || !echo(tc->result, call, "labels")) {
        verb_calls[verb]--;
        cJSON_Delete(tc->result);
        free(tc);
        return -ENOMEM;
    }
    long long delay = decide(tc, verb);
    int rc = delay < 0 ? (int)delay : uv_timer_init(call->loop, &tc->timer);
    if (rc < 0) {
        verb_calls[verb]--;
        cJSON_Delete(tc->result);
        free(tc->error);
        free(tc);
        return rc;
    }
    tc->timer.data = tc;
    rc = uv_timer_start(&tc->timer, on_timer, (uint64_t)delay, 0);
    if (rc < 0) {
        verb_calls[verb]--;
        cJSON_Delete(tc->result);
        tc->result = NULL;
        free(tc->error);
        tc->error = NULL;
        uv_close((uv_handle_t *)&tc->timer, on_closed);
        return rc;
    }
    call->connector_data = tc;
    return 0;
}

static void test_cancel(struct ird_action_call *call)
{
    struct test_call *tc = call ? call->connector_data : NULL;
    if (!tc || tc->fired)
        return;
    uv_timer_stop(&tc->timer);
    if (set_error(tc, IRD_ACTION_FAIL, "cancelled") < 0) {
        free(tc->error);
        tc->error = NULL; /* on_timer falls back to "failed" */
        tc->status = IRD_ACTION_FAIL;
    }
    cJSON_AddBoolToObject(tc->result, "cancelled", true);
    uv_timer_start(&tc->timer, on_timer, 0, 0);
}

/* ---- instances ------------------------------------------------------------------------ */

/* The test connector takes no settings: a NULL or empty group. The instance
 * is a copy of its name (freed by instance_free). */
static int test_instance_new(uv_loop_t *loop, const char *name, const config_setting_t *cfg,
                             const char *state_dir, void **ret_instance, struct ird_err *err)
{
    (void)loop;
    (void)state_dir;
    if (cfg && (config_setting_type(cfg) != CONFIG_TYPE_GROUP || config_setting_length(cfg) > 0)) {
        const char *file = config_setting_source_file(cfg);
        return ird_err_set(err, -EINVAL,
                           "%s:%u: connectors.test.%s: the test connector takes no "
                           "settings",
                           file ? file : "<config>", config_setting_source_line(cfg),
                           name ? name : "?");
    }
    char *inst = strdup(name ? name : "default");
    if (!inst)
        return ird_err_set(err, -ENOMEM, "out of memory");
    *ret_instance = inst;
    return 0;
}

static void test_instance_free(void *instance)
{
    free(instance);
}

const struct ird_connector_ops ird_connector_test = {
    .name = "test",
    .description = "actions that succeed, fail, flake or sleep, for tests and exercises",
    .instance_new = test_instance_new,
    .instance_free = test_instance_free,
    .actions = test_actions,
    .nactions = VERB_COUNT,
};
