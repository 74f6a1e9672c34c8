/* engine/guard: what automation may touch, as an operator configures it in
 * ird.conf and sees it refuse: protected namespaces and labels, the rate
 * limit over simulated time, and the blast-radius limits per incident and
 * per hour, including after a restart. */
#include "check.h"
#include "connector.h"
#include "engine/guard.h"

#include <stdlib.h>
#include <unistd.h>

#define MINUTE 60000LL
#define HOUR   3600000LL

static struct ird_guards *load(const char *conf, struct ird_err *err)
{
    config_t cfg;
    config_init(&cfg);
    struct ird_guards *g = NULL;
    if (config_read_string(&cfg, conf) != CONFIG_TRUE)
        ird_err_set(err, -EINVAL, "libconfig: %s at line %d", config_error_text(&cfg),
                    config_error_line(&cfg));
    else
        g = ird_guards_new(config_lookup(&cfg, "guards"), err);
    config_destroy(&cfg); /* the guards must not keep pointers into the config */
    return g;
}

static const char *load_error(const char *conf)
{
    static struct ird_err err;
    err.msg[0] = '\0';
    struct ird_guards *g = load(conf, &err);
    if (g) {
        ird_guards_free(g);
        return "";
    }
    return err.msg;
}

/* The outcome of one check as the operator reads it: "ok", or the reason,
 * after making sure ret_guard names the guard at the start of the reason. */
static const char *try_target(struct ird_guards *g, const char *incident, const char *kind,
                              const char *ns, const char *name, const cJSON *labels, int64_t now,
                              int pb_max)
{
    static struct ird_err err;
    err.msg[0] = '\0';
    const char *guard = "unset";
    struct ird_guard_target t = {kind, ns, name, labels};
    int rc = ird_guards_check(g, incident, &t, now, pb_max, &guard, &err);
    if (rc == 0)
        return guard == NULL ? "ok" : "ok but ret_guard set";
    if (rc != -EPERM)
        return "not EPERM";
    char prefix[80];
    snprintf(prefix, sizeof(prefix), "guard %s: ", guard ? guard : "(null)");
    if (strncmp(err.msg, prefix, strlen(prefix)) != 0)
        return "reason does not start with ret_guard";
    return err.msg;
}

static const char *try_pod(struct ird_guards *g, const char *incident, const char *ns,
                           const char *pod, int64_t now)
{
    return try_target(g, incident, "Pod", ns, pod, NULL, now, 0);
}

static void test_defaults(void)
{
    struct ird_err err = {{0}};
    struct ird_guards *g = ird_guards_new(NULL, &err);
    CHECK(g != NULL);
    struct ird_guards_settings s;
    ird_guards_get_settings(g, &s);
    CHECK_INT(s.nprotected_namespaces, 2);
    CHECK_STR(s.protected_namespaces[0], "kube-system");
    CHECK_STR(s.protected_namespaces[1], "kube-public");
    CHECK_STR(s.protected_label, "ird.io/protected");
    CHECK_INT(s.max_mutations_per_minute, 30);
    CHECK_INT(s.max_targets_per_incident, 10);
    CHECK_INT(s.max_targets_per_hour, 20);
    ird_guards_free(g);
    ird_guards_free(NULL);

    /* the documented keys are the ones the loader takes */
    CHECK_INT(ird_guards_nkeys(), 5);
    CHECK_STR(ird_guards_key(0)->name, "protected_namespaces");
    CHECK_STR(ird_guards_key(2)->name, "max_mutations_per_minute");
    CHECK_STR(ird_guards_key(2)->default_value, "30");
    CHECK_INT(ird_guards_key(4)->max, 10000);
    CHECK(ird_guards_key(5) == NULL);
    for (size_t i = 0; i < ird_guards_nkeys(); i++) {
        char conf[128];
        snprintf(conf, sizeof(conf), "guards = { %s = %s; };", ird_guards_key(i)->name,
                 ird_guards_key(i)->default_value);
        CHECK_STR(load_error(conf), "");
    }
}

static void test_protected_namespaces(void)
{
    struct ird_guards *g = ird_guards_new(NULL, NULL);
    CHECK_STR(try_pod(g, "inc-1", "kube-system", "coredns-1", 0),
              "guard protected_namespace: namespace kube-system is protected");
    CHECK_STR(try_pod(g, "inc-1", "kube-public", "x", 0),
              "guard protected_namespace: namespace kube-public is protected");
    /* the Namespace object itself (cluster-scoped) is protected too */
    CHECK_STR(try_target(g, "inc-1", "Namespace", "", "kube-system", NULL, 0, 0),
              "guard protected_namespace: namespace kube-system is protected");
    CHECK_STR(try_target(g, "inc-1", "Namespace", "", "prod", NULL, 0, 0), "ok");
    CHECK_STR(try_pod(g, "inc-1", "prod", "web-1", 0), "ok");
    /* a prefix or a look-alike is not the namespace */
    CHECK_STR(try_pod(g, "inc-1", "kube-system-apps", "web-1", 0), "ok");

    /* ird's own namespace, added by the caller */
    CHECK_STR(try_pod(g, "inc-1", "ird", "ird-0", 0), "ok");
    CHECK_INT(ird_guards_protect_namespace(g, "ird"), 0);
    CHECK_INT(ird_guards_protect_namespace(g, "ird"), 0); /* twice is fine, listed once */
    CHECK_INT(ird_guards_protect_namespace(g, "Not_A_Namespace"), -EINVAL);
    CHECK_INT(ird_guards_protect_namespace(g, ""), -EINVAL);
    CHECK_STR(try_pod(g, "inc-1", "ird", "ird-0", 0),
              "guard protected_namespace: namespace ird is protected");
    struct ird_guards_settings s;
    ird_guards_get_settings(g, &s);
    CHECK_INT(s.nprotected_namespaces, 3);
    CHECK_STR(s.protected_namespaces[2], "ird");

    /* the engine's early check, before the connector reads anything */
    struct ird_err err = {{0}};
    const char *guard = "unset";
    CHECK_INT(ird_guards_check_namespace(g, "kube-system", &guard, &err), -EPERM);
    CHECK_STR(guard, "protected_namespace");
    CHECK_STR(err.msg, "guard protected_namespace: namespace kube-system is protected");
    guard = "unset";
    CHECK_INT(ird_guards_check_namespace(g, "prod", &guard, &err), 0);
    CHECK(guard == NULL);
    CHECK_INT(ird_guards_check_namespace(g, "", NULL, &err), 0);
    CHECK_INT(ird_guards_check_namespace(g, NULL, NULL, &err), 0);

    /* refusals record nothing: only the four allowed calls were counted */
    struct ird_guards_stats st;
    ird_guards_get_stats(g, 0, &st);
    CHECK_INT(st.mutations_last_minute, 4);
    ird_guards_free(g);

    /* a configured list replaces the default one */
    struct ird_err e2 = {{0}};
    g = load("guards = { protected_namespaces = [ \"payments\" ]; };", &e2);
    CHECK(g != NULL);
    CHECK_STR(try_pod(g, "inc-1", "payments", "api-1", 0),
              "guard protected_namespace: namespace payments is protected");
    CHECK_STR(try_pod(g, "inc-1", "kube-system", "x", 0), "ok");
    ird_guards_free(g);
    g = load("guards = { protected_namespaces = [ ]; };", &e2);
    CHECK(g != NULL);
    CHECK_STR(try_pod(g, "inc-1", "kube-system", "x", 0), "ok");
    ird_guards_free(g);
}

static void test_protected_label(void)
{
    struct ird_guards *g = ird_guards_new(NULL, NULL);
    cJSON *marked = cJSON_Parse("{\"app\":\"web\",\"ird.io/protected\":\"true\"}");
    cJSON *upper = cJSON_Parse("{\"ird.io/protected\":\"TRUE\"}");
    cJSON *unmarked = cJSON_Parse("{\"app\":\"web\",\"ird.io/protected\":\"false\"}");
    cJSON *other = cJSON_Parse("{\"example.com/protected\":\"true\"}");

    CHECK_STR(try_target(g, "inc-1", "Pod", "prod", "web-1", marked, 0, 0),
              "guard protected_label: Pod prod/web-1 is labelled ird.io/protected=true");
    CHECK_STR(try_target(g, "inc-1", "Node", "", "node-1", marked, 0, 0),
              "guard protected_label: Node node-1 is labelled ird.io/protected=true");
    CHECK_STR(try_target(g, "inc-1", "Pod", "prod", "web-2", upper, 0, 0),
              "guard protected_label: Pod prod/web-2 is labelled ird.io/protected=TRUE");
    CHECK_STR(try_target(g, "inc-1", "Pod", "prod", "web-1", unmarked, 0, 0), "ok");
    CHECK_STR(try_target(g, "inc-1", "Pod", "prod", "web-3", other, 0, 0), "ok");
    CHECK_STR(try_target(g, "inc-1", "Pod", "prod", "web-4", NULL, 0, 0), "ok");

    /* a name that is not a Kubernetes name cannot forge a log line */
    const char *msg = try_target(g, "inc-1", "Pod", "prod", "web\n-5", marked, 0, 0);
    CHECK_STR(msg, "guard protected_label: Pod prod/\"web\\x0a-5\" is labelled "
                   "ird.io/protected=true");
    CHECK(strchr(msg, '\n') == NULL);
    ird_guards_free(g);

    /* another label key from the config */
    struct ird_err err = {{0}};
    g = load("guards = { protected_label = \"example.com/protected\"; };", &err);
    CHECK(g != NULL);
    CHECK_STR(try_target(g, "inc-1", "Pod", "prod", "web-3", other, 0, 0),
              "guard protected_label: Pod prod/web-3 is labelled example.com/protected=true");
    CHECK_STR(try_target(g, "inc-1", "Pod", "prod", "web-1", marked, 0, 0), "ok");
    ird_guards_free(g);
    cJSON_Delete(marked);
    cJSON_Delete(upper);
    cJSON_Delete(unmarked);
    cJSON_Delete(other);
}

static void test_rate(void)
{
    /* one Pod over and over: only the rate limit is in play */
    struct ird_err err = {{0}};
    struct ird_guards *g = load("guards = { max_targets_per_hour = 100; };", &err);
    CHECK(g != NULL);
    int allowed = 0;
    for (int i = 0; i < 30; i++)
        allowed += strcmp(try_pod(g, "inc-1", "prod", "web-1", 1000), "ok") == 0;
    CHECK_INT(allowed, 30);
    CHECK_STR(try_pod(g, "inc-1", "prod", "web-1", 1000),
              "guard max_mutations_per_minute: 30 mutating actions in the last minute (limit 30)");
    /* other incidents share the bucket */
    CHECK_STR(try_pod(g, "inc-2", "prod", "db-1", 1000),
              "guard max_mutations_per_minute: 30 mutating actions in the last minute (limit 30)");

    /* refill is continuous: one token every 2 s at 30 a minute, asked every
     * millisecond on the way, with no rounding lost */
    int early = 0;
    for (int64_t t = 1001; t < 3000; t++)
        early += strcmp(try_pod(g, "inc-1", "prod", "web-1", t), "ok") == 0;
    CHECK_INT(early, 0);
    CHECK_STR(try_pod(g, "inc-1", "prod", "web-1", 3000), "ok");
    CHECK_STR(try_pod(g, "inc-1", "prod", "web-1", 3000),
              "guard max_mutations_per_minute: 31 mutating actions in the last minute (limit 30)");
    struct ird_guards_stats st;
    ird_guards_get_stats(g, 3000, &st);
    CHECK_INT(st.mutations_last_minute, 31);
    CHECK_INT(st.tokens_available, 0);

    /* a quiet minute fills the bucket to its capacity, and no further */
    ird_guards_get_stats(g, 3000 + 10 * MINUTE, &st);
    CHECK_INT(st.tokens_available, 30);
    CHECK_INT(st.mutations_last_minute, 0);
    allowed = 0;
    for (int i = 0; i < 31; i++)
        allowed += strcmp(try_pod(g, "inc-1", "prod", "web-1", 3000 + 10 * MINUTE), "ok") == 0;
    CHECK_INT(allowed, 30);
    ird_guards_free(g);

    /* a lower rate from the config, over an hour of simulated time */
    g = load("guards = { max_mutations_per_minute = 2; };", &err);
    CHECK(g != NULL);
    allowed = 0;
    for (int64_t t = 0; t < HOUR; t += 1000)
        allowed += strcmp(try_pod(g, "", "prod", "web-1", t), "ok") == 0;
    CHECK_INT(allowed, 2 + 119); /* the full bucket, then exactly 2 a minute for 59m59s */
    ird_guards_free(g);
}

static void test_per_incident(void)
{
    struct ird_err err = {{0}};
    struct ird_guards *g = load("guards = { max_mutations_per_minute = 1000;\n"
                                "           max_targets_per_incident = 5;\n"
                                "           max_targets_per_hour = 100; };",
                                &err);
    CHECK(g != NULL);
    char pod[32];
    for (int i = 1; i <= 5; i++) {
        snprintf(pod, sizeof(pod), "web-%d", i);
        CHECK_STR(try_pod(g, "inc-1", "prod", pod, i), "ok");
    }
    CHECK_STR(try_pod(g, "inc-1", "prod", "web-6", 10),
              "guard max_targets_per_incident: incident inc-1 has already touched 5 targets "
              "(limit 5)");
    /* the same target again counts once: a retried or re-issued step goes ahead */
    CHECK_STR(try_pod(g, "inc-1", "prod", "web-3", 11), "ok");
    CHECK_STR(try_pod(g, "inc-1", "prod", "web-3", 12), "ok");
    /* a target is (kind, namespace, name): a NetworkPolicy named web-3 is another one */
    CHECK_STR(try_target(g, "inc-1", "NetworkPolicy", "prod", "web-3", NULL, 13, 0),
              "guard max_targets_per_incident: incident inc-1 has already touched 5 targets "
              "(limit 5)");
    CHECK_STR(try_pod(g, "inc-1", "staging", "web-3", 13),
              "guard max_targets_per_incident: incident inc-1 has already touched 5 targets "
              "(limit 5)");
    /* another incident has its own count */
    CHECK_STR(try_pod(g, "inc-2", "prod", "web-6", 14), "ok");

    /* a playbook may lower the limit... */
    CHECK_STR(try_target(g, "inc-3", "Pod", "prod", "a", NULL, 20, 2), "ok");
    CHECK_STR(try_target(g, "inc-3", "Pod", "prod", "b", NULL, 21, 2), "ok");
    CHECK_STR(try_target(g, "inc-3", "Pod", "prod", "c", NULL, 22, 2),
              "guard max_targets_per_incident: incident inc-3 has already touched 2 targets "
              "(limit 2)");
    CHECK_STR(try_target(g, "inc-3", "Pod", "prod", "a", NULL, 23, 2), "ok");
    /* ...but never raise it */
    for (int i = 1; i <= 5; i++) {
        snprintf(pod, sizeof(pod), "api-%d", i);
        CHECK_STR(try_target(g, "inc-4", "Pod", "prod", pod, NULL, 30, 10), "ok");
    }
    CHECK_STR(try_target(g, "inc-4", "Pod", "prod", "api-6", NULL, 31, 10),
              "guard max_targets_per_incident: incident inc-4 has already touched 5 targets "
              "(limit 5)");
    CHECK_STR(try_target(g, "inc-4", "Pod", "prod", "api-6", NULL, 31, -1),
              "guard max_targets_per_incident: incident inc-4 has already touched 5 targets "
              "(limit 5)");

    /* a manual run without incident is held to the other guards only */
    for (int i = 1; i <= 7; i++) {
        snprintf(pod, sizeof(pod), "manual-%d", i);
        CHECK_STR(try_pod(g, "", "prod", pod, 40), "ok");
    }
    CHECK_STR(try_pod(g, NULL, "prod", "manual-8", 40), "ok");
    CHECK_STR(try_pod(g, NULL, "kube-system", "manual-8", 40),
              "guard protected_namespace: namespace kube-system is protected");
    ird_guards_free(g);
}

static void test_per_hour(void)
{
    struct ird_err err = {{0}};
    struct ird_guards *g = load("guards = { max_targets_per_hour = 3; };", &err);
    CHECK(g != NULL);
    CHECK_STR(try_pod(g, "inc-1", "prod", "a", 0), "ok");
    CHECK_STR(try_pod(g, "inc-2", "prod", "b", 1000), "ok");
    CHECK_STR(try_pod(g, "inc-3", "prod", "c", 2000), "ok");
    CHECK_STR(try_pod(g, "inc-4", "prod", "d", 3000),
              "guard max_targets_per_hour: 3 distinct targets mutated in the last hour (limit 3)");
    /* a target already mutated this hour does not count again, whoever asks;
     * it is mutated again at 3000, so it stays in the window longer */
    CHECK_STR(try_pod(g, "inc-4", "prod", "a", 3000), "ok");
    struct ird_guards_stats st;
    ird_guards_get_stats(g, 3000, &st);
    CHECK_INT(st.targets_last_hour, 3);

    /* the window slides: b (mutated at 1000) leaves it at 1000 + 1h */
    CHECK_STR(try_pod(g, "inc-4", "prod", "d", HOUR + 999),
              "guard max_targets_per_hour: 3 distinct targets mutated in the last hour (limit 3)");
    CHECK_STR(try_pod(g, "inc-4", "prod", "d", HOUR + 1000), "ok");
    CHECK_STR(try_pod(g, "inc-5", "prod", "e", HOUR + 1000),
              "guard max_targets_per_hour: 3 distinct targets mutated in the last hour (limit 3)");
    CHECK_STR(try_pod(g, "inc-5", "prod", "e", HOUR + 1999),
              "guard max_targets_per_hour: 3 distinct targets mutated in the last hour (limit 3)");
    CHECK_STR(try_pod(g, "inc-5", "prod", "e", HOUR + 2000), "ok"); /* c left */
    CHECK_STR(try_pod(g, "inc-5", "prod", "f", HOUR + 2000),
              "guard max_targets_per_hour: 3 distinct targets mutated in the last hour (limit 3)");
    /* a, mutated again at 3000, leaves at 3000 + 1h */
    CHECK_STR(try_pod(g, "inc-5", "prod", "f", HOUR + 3000), "ok");

    /* memory is bounded: after a quiet hour nothing is held */
    ird_guards_get_stats(g, 3 * HOUR, &st);
    CHECK_INT(st.targets_last_hour, 0);
    CHECK_STR(try_pod(g, "inc-6", "prod", "g", 3 * HOUR), "ok");
    ird_guards_get_stats(g, 3 * HOUR, &st);
    CHECK_INT(st.targets_last_hour, 1);
    ird_guards_free(g);
}

static void test_forget_incident(void)
{
    struct ird_err err = {{0}};
    struct ird_guards *g = load("guards = { max_targets_per_incident = 2;\n"
                                "           max_targets_per_hour = 100; };",
                                &err);
    CHECK(g != NULL);
    CHECK_STR(try_pod(g, "inc-1", "prod", "a", 0), "ok");
    CHECK_STR(try_pod(g, "inc-1", "prod", "b", 0), "ok");
    CHECK_STR(try_pod(g, "inc-2", "prod", "z", 0), "ok");
    CHECK_STR(try_pod(g, "inc-1", "prod", "c", 0),
              "guard max_targets_per_incident: incident inc-1 has already touched 2 targets "
              "(limit 2)");
    struct ird_guards_stats st;
    ird_guards_get_stats(g, 0, &st);
    CHECK_INT(st.incidents_tracked, 2);

    ird_guards_forget_incident(g, "inc-1"); /* resolved */
    ird_guards_forget_incident(g, "inc-9"); /* unknown: nothing happens */
    ird_guards_forget_incident(g, NULL);
    ird_guards_forget_incident(NULL, "inc-1");
    ird_guards_get_stats(g, 0, &st);
    CHECK_INT(st.incidents_tracked, 1);
    CHECK_STR(try_pod(g, "inc-1", "prod", "c", 1), "ok");
    CHECK_STR(try_pod(g, "inc-1", "prod", "d", 1), "ok");
    CHECK_STR(try_pod(g, "inc-1", "prod", "e", 1),
              "guard max_targets_per_incident: incident inc-1 has already touched 2 targets "
              "(limit 2)");
    /* the other incident kept its memory */
    CHECK_STR(try_pod(g, "inc-2", "prod", "y", 1), "ok");
    CHECK_STR(try_pod(g, "inc-2", "prod", "x", 1),
              "guard max_targets_per_incident: incident inc-2 has already touched 2 targets "
              "(limit 2)");
    ird_guards_free(g);
}

static int remember(struct ird_guards *g, const char *incident, const char *ns, const char *pod,
                    int64_t at)
{
    struct ird_guard_target t = {"Pod", ns, pod, NULL};
    return ird_guards_remember(g, incident, &t, at);
}

static void test_remember_after_restart(void)
{
    /* the daemon restarts ten minutes after inc-1 quarantined five pods */
    struct ird_err err = {{0}};
    struct ird_guards *g = load("guards = { max_targets_per_incident = 5; };", &err);
    char pod[32];
    for (int i = 1; i <= 5; i++) {
        snprintf(pod, sizeof(pod), "web-%d", i);
        CHECK_INT(remember(g, "inc-1", "prod", pod, i * 1000), 0);
    }
    int64_t now = 10 * MINUTE;
    /* re-issuing the step for web-3 is not blocked by its own earlier attempt */
    CHECK_STR(try_pod(g, "inc-1", "prod", "web-3", now), "ok");
    CHECK_STR(try_pod(g, "inc-1", "prod", "web-6", now),
              "guard max_targets_per_incident: incident inc-1 has already touched 5 targets "
              "(limit 5)");
    struct ird_guards_stats st;
    ird_guards_get_stats(g, now, &st);
    CHECK_INT(st.targets_last_hour, 5);
    /* remembering works past the limits: they are facts */
    CHECK_INT(remember(g, "inc-1", "prod", "web-7", now), 0);
    CHECK_INT(remember(g, "inc-1", "prod", "web-7", now), 0);
    ird_guards_get_stats(g, now, &st);
    CHECK_INT(st.targets_last_hour, 6);
    CHECK_STR(try_pod(g, "inc-1", "prod", "web-7", now), "ok");
    ird_guards_free(g);

    /* the hour window and the rate bucket are re-seeded too */
    g = load("guards = { max_targets_per_hour = 3; max_targets_per_incident = 10;\n"
             "           max_mutations_per_minute = 4; };",
             &err);
    CHECK(g != NULL);
    CHECK_INT(remember(g, "inc-old", "prod", "stale", 0), 0); /* two hours before the rest */
    CHECK_INT(remember(g, "inc-1", "prod", "a", 2 * HOUR), 0);
    CHECK_INT(remember(g, "inc-2", "prod", "b", 2 * HOUR + 100), 0);
    CHECK_INT(remember(g, "inc-3", "prod", "c", 2 * HOUR + 200), 0);
    ird_guards_get_stats(g, 2 * HOUR + 200, &st);
    CHECK_INT(st.targets_last_hour, 3);
    CHECK_INT(st.mutations_last_minute, 3);
    CHECK_INT(st.tokens_available, 1);
    CHECK_STR(try_pod(g, "inc-4", "prod", "d", 2 * HOUR + 300),
              "guard max_targets_per_hour: 3 distinct targets mutated in the last hour (limit 3)");
    CHECK_STR(try_pod(g, "inc-1", "prod", "a", 2 * HOUR + 300), "ok");
    CHECK_STR(try_pod(g, "inc-1", "prod", "a", 2 * HOUR + 300),
              "guard max_mutations_per_minute: 4 mutating actions in the last minute (limit 4)");
    /* b leaves the window an hour after it was made (2h + 100 ms) */
    CHECK_STR(try_pod(g, "inc-4", "prod", "d", 3 * HOUR + 99),
              "guard max_targets_per_hour: 3 distinct targets mutated in the last hour (limit 3)");
    CHECK_STR(try_pod(g, "inc-4", "prod", "d", 3 * HOUR + 100), "ok");
    /* a remembered mutation older than the bucket's minute takes no token */
    CHECK_INT(remember(g, "inc-1", "prod", "a", 2 * HOUR), 0);
    ird_guards_get_stats(g, 3 * HOUR + 100, &st);
    CHECK_INT(st.tokens_available, 3);

    struct ird_guard_target bad = {"Pod", "prod", NULL, NULL};
    CHECK_INT(ird_guards_remember(g, "inc-1", &bad, 0), -EINVAL);
    CHECK_INT(ird_guards_remember(g, "inc-1", NULL, 0), -EINVAL);
    ird_guards_free(g);
}

static void test_bad_target(void)
{
    struct ird_guards *g = ird_guards_new(NULL, NULL);
    struct ird_err err = {{0}};
    const char *guard = "unset";
    struct ird_guard_target no_name = {"Pod", "prod", "", NULL};
    CHECK_INT(ird_guards_check(g, "inc-1", &no_name, 0, 0, &guard, &err), -EINVAL);
    CHECK(guard == NULL);
    CHECK_STR(err.msg, "guard: the target has no kind or name");
    struct ird_guard_target no_kind = {NULL, "prod", "web-1", NULL};
    CHECK_INT(ird_guards_check(g, "inc-1", &no_kind, 0, 0, NULL, &err), -EINVAL);
    CHECK_INT(ird_guards_check(g, "inc-1", NULL, 0, 0, NULL, &err), -EINVAL);
    /* a NULL namespace is cluster-scoped */
    struct ird_guard_target node = {"Node", NULL, "node-1", NULL};
    CHECK_INT(ird_guards_check(g, "inc-1", &node, 0, 0, NULL, &err), 0);
    ird_guards_free(g);
}

/* Incidents nobody resolves cannot grow the memory without end. */
static void test_incident_cap(void)
{
    struct ird_guards *g = ird_guards_new(NULL, NULL);
    char id[32];
    for (int i = 0; i <= IRD_GUARDS_MAX_INCIDENTS; i++) {
        snprintf(id, sizeof(id), "inc-%d", i);
        CHECK_INT(remember(g, id, "prod", "web-1", 1000 + i), 0);
    }
    struct ird_guards_stats st;
    ird_guards_get_stats(g, 0, &st);
    CHECK_INT(st.incidents_tracked, IRD_GUARDS_MAX_INCIDENTS);
    ird_guards_free(g);
}

static void test_config_errors(void)
{
    CHECK_STR(load_error("guards = { max_targets_per_incident = 3; };"), "");
    CHECK_STR(load_error("guards = {\n  colour = \"blue\";\n};"),
              "line 2: guards.colour: unknown key (known: protected_namespaces, "
              "protected_label, max_mutations_per_minute, max_targets_per_incident, "
              "max_targets_per_hour)");
    CHECK_STR(load_error("guards = {\n  max_targets_per_hour = 0;\n};"),
              "line 2: guards.max_targets_per_hour: must be an integer between 1 and 10000");
    CHECK_STR(load_error("guards = {\n\n  max_mutations_per_minute = \"30\";\n};"),
              "line 3: guards.max_mutations_per_minute: must be an integer between 1 and 10000");
    CHECK_STR(load_error("guards = { max_mutations_per_minute = 10001; };"),
              "line 1: guards.max_mutations_per_minute: must be an integer between 1 and 10000");
    CHECK_STR(load_error("guards = { max_targets_per_incident = 2.5; };"),
              "line 1: guards.max_targets_per_incident: must be an integer between 1 and 1000");
    CHECK_STR(load_error("guards = { max_targets_per_incident = 10000000000L; };"),
              "line 1: guards.max_targets_per_incident: must be an integer between 1 and 1000");
    CHECK_STR(load_error("guards = { protected_namespaces = \"kube-system\"; };"),
              "line 1: guards.protected_namespaces: must be a list of namespace names");
    CHECK_STR(load_error("guards = {\n protected_namespaces = [ \"ok\",\n \"Not_OK\" ];\n};"),
              "line 3: guards.protected_namespaces[1]: namespace \"Not_OK\" is not a valid "
              "Kubernetes name: must consist of lower case alphanumeric characters or '-', "
              "and must start and end with an alphanumeric character");
    CHECK_STR(load_error("guards = { protected_namespaces = ( \"ok\", 5 ); };"),
              "line 1: guards.protected_namespaces[1]: must be a string");
    CHECK_STR(load_error("guards = { protected_label = \"\"; };"),
              "line 1: guards.protected_label: must not be empty");
    CHECK_STR(load_error("guards = { protected_label = true; };"),
              "line 1: guards.protected_label: must be a string (a label key)");
    const char *bad_key = load_error("guards = { protected_label = \"bad key!\"; };");
    CHECK(strncmp(bad_key, "line 1: guards.protected_label: label key \"bad key!\"",
                  strlen("line 1: guards.protected_label: label key \"bad key!\"")) == 0);
    CHECK_STR(load_error("guards = 5;"), "line 1: guards: must be a group: guards = { ... };");

    /* from a file: the file's name and line, as `ird check` prints them */
    char path[] = "/tmp/ird-test-guard-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    const char *text =
        "# ird.conf\ndry_run = true;\nguards = {\n  max_targets_per_hour = -1;\n};\n";
    CHECK_INT(write(fd, text, strlen(text)), (long long)strlen(text));
    close(fd);
    config_t cfg;
    config_init(&cfg);
    CHECK_INT(config_read_file(&cfg, path), CONFIG_TRUE);
    struct ird_err err = {{0}};
    struct ird_guards *g = ird_guards_new(config_lookup(&cfg, "guards"), &err);
    CHECK(g == NULL);
    char want[256];
    snprintf(want, sizeof(want),
             "%s:4: guards.max_targets_per_hour: must be an integer between 1 and 10000", path);
    CHECK_STR(err.msg, want);
    config_destroy(&cfg);
    unlink(path);
}

int main(void)
{
    test_defaults();
    test_protected_namespaces();
    test_protected_label();
    test_rate();
    test_per_incident();
    test_per_hour();
    test_forget_incident();
    test_remember_after_restart();
    test_bad_target();
    test_incident_cap();
    test_config_errors();
    return ird_check_summary("test_guard");
}
