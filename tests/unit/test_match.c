/* engine/match: which alerts start a playbook, as a playbook author writes the
 * `match` group; the load-time messages for mistakes, and the explanations
 * `ird exercise` prints when an alert did not match. */
#include "check.h"
#include "engine/match.h"

#include <stdlib.h>
#include <unistd.h>

static cJSON *alert(const char *source, const char *status, const char *severity, const char *title,
                    const char *ns, const char *labels_json)
{
    cJSON *a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "source", source);
    cJSON_AddStringToObject(a, "id", "a1");
    cJSON_AddStringToObject(a, "status", status);
    cJSON_AddStringToObject(a, "severity", severity);
    cJSON_AddStringToObject(a, "title", title);
    cJSON_AddStringToObject(a, "namespace", ns);
    cJSON_AddStringToObject(a, "pod", "web-1");
    cJSON_AddItemToObject(a, "labels", cJSON_Parse(labels_json ? labels_json : "{}"));
    cJSON_AddItemToObject(a, "annotations", cJSON_CreateObject());
    return a;
}

/* Parse "match = {...};" text; NULL with err on failure. */
static struct ird_match *load(const char *conf, struct ird_err *err)
{
    config_t cfg;
    config_init(&cfg);
    struct ird_match *m = NULL;
    if (config_read_string(&cfg, conf) != CONFIG_TRUE) {
        ird_err_set(err, -EINVAL, "libconfig: %s at line %d", config_error_text(&cfg),
                    config_error_line(&cfg));
    } else if (ird_match_parse(config_lookup(&cfg, "match"), &m, err) < 0) {
        m = NULL;
    }
    config_destroy(&cfg); /* the matcher must not keep pointers into the config */
    return m;
}

static const char *load_error(const char *conf)
{
    static struct ird_err err;
    err.msg[0] = '\0';
    struct ird_match *m = load(conf, &err);
    if (m) {
        ird_match_free(m);
        return "";
    }
    return err.msg;
}

static const char *why(const struct ird_match *m, const cJSON *a)
{
    static char buf[1024];
    ird_match_explain(m, a, buf, sizeof(buf));
    return buf;
}

/* The playbook from DESIGN.md. */
static void test_design_example(void)
{
    struct ird_err err = {{0}};
    struct ird_match *m =
        load("match = {\n"
             "  source   = [ \"falco\", \"alertmanager\" ];\n"
             "  any      = ( { rule = \"Detect crypto miners using the Stratum protocol\"; },\n"
             "               { labels = { alertname = \"CryptoMiningDetected\"; }; } );\n"
             "  severity = \">= warning\";\n"
             "};\n",
             &err);
    CHECK(m != NULL);
    if (!m) {
        fprintf(stderr, "  %s\n", err.msg);
        return;
    }
    cJSON *falco = alert("falco", "firing", "critical",
                         "Detect crypto miners using the Stratum protocol", "prod", NULL);
    cJSON *am = alert("alertmanager", "firing", "warning", "CryptoMiningDetected", "prod",
                      "{\"alertname\": \"CryptoMiningDetected\"}");
    cJSON *low = alert("falco", "firing", "info", "Detect crypto miners using the Stratum protocol",
                       "prod", NULL);
    cJSON *other = alert("alertmanager", "firing", "critical", "KubePodCrashLooping", "prod",
                         "{\"alertname\": \"KubePodCrashLooping\"}");
    cJSON *splunk = alert("splunk", "firing", "critical",
                          "Detect crypto miners using the Stratum protocol", "prod", NULL);
    cJSON *resolved = alert("falco", "resolved", "critical",
                            "Detect crypto miners using the Stratum protocol", "prod", NULL);
    CHECK(ird_match_alert(m, falco));
    CHECK(ird_match_alert(m, am));
    CHECK(!ird_match_alert(m, low));
    CHECK(!ird_match_alert(m, other));
    CHECK(!ird_match_alert(m, splunk));
    CHECK(!ird_match_alert(m, resolved));

    char buf[512];
    CHECK(ird_match_explain(m, falco, buf, sizeof(buf)));
    CHECK_STR(buf, "matched");
    CHECK(!ird_match_explain(m, low, buf, sizeof(buf)));
    CHECK_STR(buf, "severity \"info\" is not >= warning");
    CHECK_STR(why(m, splunk),
              "source \"splunk\" does not match source [\"falco\", \"alertmanager\"]");
    CHECK_STR(why(m, resolved), "status \"resolved\" is not firing");
    CHECK_STR(why(m, other),
              "none of any matched: any[0]: title \"KubePodCrashLooping\" does not match rule "
              "\"Detect crypto miners using the Stratum p\"...; any[1]: label \"alertname\" = "
              "\"KubePodCrashLooping\" does not match \"CryptoMiningDetected\"");
    /* A short buffer is truncated, not overrun. */
    char tiny[10];
    CHECK(!ird_match_explain(m, other, tiny, sizeof(tiny)));
    CHECK_STR(tiny, "none of a");
    cJSON_Delete(falco);
    cJSON_Delete(am);
    cJSON_Delete(low);
    cJSON_Delete(other);
    cJSON_Delete(splunk);
    cJSON_Delete(resolved);
    ird_match_free(m);
}

static void test_empty_and_status(void)
{
    struct ird_err err = {{0}};
    cJSON *firing = alert("falco", "firing", "info", "x", "prod", NULL);
    cJSON *resolved = alert("falco", "resolved", "info", "x", "prod", NULL);

    struct ird_match *m = load("match = {};", &err);
    CHECK(m && ird_match_alert(m, firing));
    CHECK(m && !ird_match_alert(m, resolved));
    ird_match_free(m);

    CHECK_INT(ird_match_parse(NULL, &m, &err), 0);
    CHECK(ird_match_alert(m, firing));
    CHECK(!ird_match_alert(m, resolved));
    ird_match_free(m);

    m = load("match = { status = \"resolved\"; };", &err);
    CHECK(m && !ird_match_alert(m, firing));
    CHECK(m && ird_match_alert(m, resolved));
    ird_match_free(m);

    m = load("match = { status = \"any\"; };", &err);
    CHECK(m && ird_match_alert(m, firing));
    CHECK(m && ird_match_alert(m, resolved));
    ird_match_free(m);
    cJSON_Delete(firing);
    cJSON_Delete(resolved);
    ird_match_free(NULL);
}

static void test_severity(void)
{
    static const char *const sev[] = {"info", "warning", "error", "critical", "bogus", ""};
    struct {
        const char *expr;
        const char *want; /* one char per entry of sev: 1 matches, 0 not */
    } cases[] = {
        {"critical", "000100"}, {">= warning", "011100"}, {"> warning", "001100"},
        {"< error", "110000"},  {"<= error", "111000"},   {"== info", "100000"},
        {"!= info", "011100"},  {">=warning", "011100"},  {"  >=   error  ", "001100"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char conf[128];
        snprintf(conf, sizeof(conf), "match = { severity = \"%s\"; };", cases[i].expr);
        struct ird_err err = {{0}};
        struct ird_match *m = load(conf, &err);
        CHECK(m != NULL);
        if (!m)
            continue;
        char got[7] = {0};
        for (size_t s = 0; s < 6; s++) {
            cJSON *a = alert("am", "firing", sev[s], "t", "ns", NULL);
            got[s] = ird_match_alert(m, a) ? '1' : '0';
            cJSON_Delete(a);
        }
        CHECK_STR(got, cases[i].want);
        ird_match_free(m);
    }
    CHECK_STR(load_error("match = {\n  severity = \">= warnin\";\n};"),
              "line 2: match.severity: \">= warnin\" is not a severity (critical, error, warning, "
              "info)");
    CHECK_STR(
        load_error("match = { severity = \"high\"; };"),
        "line 1: match.severity: \"high\" is not a severity (critical, error, warning, info)");
    CHECK_STR(load_error("match = { severity = \"=> warning\"; };"),
              "line 1: match.severity: \"=> warning\" is not a severity (critical, error, warning, "
              "info)");
    CHECK_STR(load_error("match = { severity = \"< info\"; };"),
              "line 1: match.severity: \"< info\" matches no severity");
    CHECK_STR(load_error("match = { severity = 3; };"),
              "line 1: match.severity: must be a string such as \"critical\" or \">= warning\"");
}

static void test_labels(void)
{
    struct ird_err err = {{0}};
    struct ird_match *m = load("match = { labels = { alertname = \"KubePodCrashLooping\";\n"
                               "                     team = \"~sec|secops\";\n"
                               "                     env = \"~prod-.*\"; }; };",
                               &err);
    CHECK(m != NULL);
    if (!m)
        return;
    cJSON *a = alert("am", "firing", "warning", "t", "ns",
                     "{\"alertname\": \"KubePodCrashLooping\", \"team\": \"secops\","
                     " \"env\": \"prod-eu\"}");
    CHECK(ird_match_alert(m, a));
    cJSON *labels = cJSON_GetObjectItem(a, "labels");
    /* The regex is anchored: "it-sec" does not match "sec|secops". */
    cJSON_ReplaceItemInObject(labels, "team", cJSON_CreateString("it-sec"));
    CHECK(!ird_match_alert(m, a));
    CHECK_STR(why(m, a), "label \"team\" = \"it-sec\" does not match \"~sec|secops\"");
    cJSON_ReplaceItemInObject(labels, "team", cJSON_CreateString("sec"));
    CHECK(ird_match_alert(m, a));
    cJSON_DeleteItemFromObject(labels, "env");
    CHECK(!ird_match_alert(m, a));
    CHECK_STR(why(m, a), "label \"env\" is not set (wanted \"~prod-.*\")");
    /* Equality is exact, case and all. */
    cJSON_AddStringToObject(labels, "env", "prod-eu");
    cJSON_ReplaceItemInObject(labels, "alertname", cJSON_CreateString("kubepodcrashlooping"));
    CHECK(!ird_match_alert(m, a));
    ird_match_free(m);
    cJSON_Delete(a);

    /* Keys libconfig cannot spell, as a list of pairs; "~~" for a literal '~'. */
    m = load("match = { labels = ( (\"app.kubernetes.io/name\", \"web\"),\n"
             "                     (\"tilde\", \"~~x\") ); };",
             &err);
    CHECK(m != NULL);
    a = alert("am", "firing", "warning", "t", "ns",
              "{\"app.kubernetes.io/name\": \"web\", \"tilde\": \"~x\"}");
    CHECK(m && ird_match_alert(m, a));
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(a, "labels"), "tilde", cJSON_CreateString("x"));
    CHECK(m && !ird_match_alert(m, a));
    ird_match_free(m);
    cJSON_Delete(a);

    /* A label value that looks like a pattern is compared as text. */
    m = load("match = { labels = { team = \"sec\"; }; };", &err);
    a = alert("am", "firing", "warning", "t", "ns", "{\"team\": \"~.*\"}");
    CHECK(m && !ird_match_alert(m, a));
    ird_match_free(m);
    cJSON_Delete(a);

    CHECK_STR(load_error("match = { labels = { team = \"~(\"; }; };"),
              "line 1: match.labels.team: invalid regular expression \"~(\": Unmatched ( or \\(");
    CHECK_STR(load_error("match = { labels = { team = 1; }; };"),
              "line 1: match.labels.team: must be a string");
    CHECK_STR(load_error("match = { labels = ( (\"a\") ); };"),
              "line 1: match.labels[0]: must be a pair of strings: (\"key\", \"value\")");
    CHECK_STR(load_error("match = { labels = \"team=sec\"; };"),
              "line 1: match.labels: must be a group (labels = { key = \"value\"; }) or a list of "
              "pairs (labels = ( (\"key\", \"value\") ))");
}

static void test_rule_and_title(void)
{
    struct ird_err err = {{0}};
    struct ird_match *m = load("match = { title = \"~.*[Mm]iner.*\"; };", &err);
    cJSON *a = alert("falco", "firing", "critical", "Detect crypto miners", "ns", NULL);
    cJSON *b = alert("falco", "firing", "critical", "Terminal shell in container", "ns", NULL);
    CHECK(m && ird_match_alert(m, a));
    CHECK(m && !ird_match_alert(m, b));
    CHECK_STR(why(m, b), "title \"Terminal shell in container\" does not match title "
                         "\"~.*[Mm]iner.*\"");
    ird_match_free(m);

    m = load("match = { rule = [ \"Terminal shell in container\", \"Detect crypto miners\" ]; };",
             &err);
    CHECK(m && ird_match_alert(m, a));
    CHECK(m && ird_match_alert(m, b));
    ird_match_free(m);

    /* rule is exact: a prefix is not enough. */
    m = load("match = { rule = \"Detect crypto\"; };", &err);
    CHECK(m && !ird_match_alert(m, a));
    ird_match_free(m);
    cJSON_Delete(a);
    cJSON_Delete(b);

    CHECK_STR(load_error("match = { rule = \"\"; };"), "line 1: match.rule: must not be empty");
    CHECK_STR(load_error("match = { rule = ( \"a\", 2 ); };"),
              "line 1: match.rule[1]: must be a string");
    CHECK_STR(load_error("match = { source = []; };"),
              "line 1: match.source: must not be an empty list");
    CHECK_STR(load_error("match = { source = { a = 1; }; };"),
              "line 1: match.source: must be a string or a list of strings");
}

static void test_namespaces(void)
{
    struct ird_err err = {{0}};
    const char *nss[] = {"prod", "prod-eu", "prod-canary", "kube-system", "staging", ""};
    struct {
        const char *conf;
        const char *want;
    } cases[] = {
        {"namespace = \"prod\";", "100000"},
        {"namespace = \"prod*\";", "111000"},
        {"namespace = [ \"prod-*\", \"staging\" ];", "011010"},
        {"namespace = { include = [ \"prod*\" ]; exclude = [ \"*-canary\" ]; };", "110000"},
        {"namespace = { exclude = [ \"kube-*\" ]; };", "111011"},
        {"namespace = { include = \"prod-[a-z][a-z]\"; };", "010000"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char conf[256];
        snprintf(conf, sizeof(conf), "match = { %s };", cases[i].conf);
        struct ird_match *m = load(conf, &err);
        CHECK(m != NULL);
        if (!m) {
            fprintf(stderr, "  %s\n", err.msg);
            continue;
        }
        char got[7] = {0};
        for (size_t n = 0; n < 6; n++) {
            cJSON *a = alert("am", "firing", "warning", "t", nss[n], NULL);
            got[n] = ird_match_alert(m, a) ? '1' : '0';
            cJSON_Delete(a);
        }
        CHECK_STR(got, cases[i].want);
        ird_match_free(m);
    }
    struct ird_match *m = load(
        "match = { namespace = { include = [ \"prod*\" ]; exclude = [ \"*-canary\" ]; }; };", &err);
    cJSON *canary = alert("am", "firing", "warning", "t", "prod-canary", NULL);
    cJSON *kube = alert("am", "firing", "warning", "t", "kube-system", NULL);
    CHECK_STR(why(m, canary), "namespace \"prod-canary\" is excluded by \"*-canary\"");
    CHECK_STR(why(m, kube), "namespace \"kube-system\" does not match \"prod*\"");
    ird_match_free(m);
    cJSON_Delete(canary);
    cJSON_Delete(kube);

    CHECK_STR(load_error("match = { namespace = { include = [ \"a\" ]; exlude = [ \"b\" ]; }; };"),
              "line 1: match.namespace.exlude: unknown key (expected include, exclude)");
    CHECK_STR(load_error("match = { namespace = { }; };"),
              "line 1: match.namespace: must name include or exclude");
}

static void test_nesting(void)
{
    struct ird_err err = {{0}};
    struct ird_match *m =
        load("match = {\n"
             "  all = ( { source = \"falco\"; },\n"
             "          { any = ( { severity = \"critical\"; },\n"
             "                    { all = ( { severity = \"error\"; },\n"
             "                              { namespace = \"prod*\"; } ); } ); } );\n"
             "};\n",
             &err);
    CHECK(m != NULL);
    if (!m) {
        fprintf(stderr, "  %s\n", err.msg);
        return;
    }
    struct {
        const char *source, *severity, *ns;
        bool want;
    } cases[] = {
        {"falco", "critical", "dev", true},    {"falco", "error", "prod-eu", true},
        {"falco", "error", "dev", false},      {"falco", "warning", "prod", false},
        {"splunk", "critical", "prod", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cJSON *a = alert(cases[i].source, "firing", cases[i].severity, "t", cases[i].ns, NULL);
        CHECK_INT(ird_match_alert(m, a), cases[i].want);
        cJSON_Delete(a);
    }
    cJSON *a = alert("falco", "firing", "error", "t", "dev", NULL);
    CHECK_STR(why(m, a), "all[1]: none of any matched: any[0]: severity \"error\" is not "
                         "critical; any[1]: all[1]: namespace \"dev\" does not match \"prod*\"");
    cJSON_Delete(a);
    a = alert("splunk", "firing", "error", "t", "dev", NULL);
    CHECK_STR(why(m, a), "all[0]: source \"splunk\" does not match source \"falco\"");
    cJSON_Delete(a);
    ird_match_free(m);

    CHECK_STR(load_error("match = { any = (); };"), "line 1: match.any: must not be an empty list");
    CHECK_STR(load_error("match = { any = { source = \"x\"; }; };"),
              "line 1: match.any: must be a list of groups: any = ( { ... }, { ... } )");
    CHECK_STR(load_error("match = { all = ( \"x\" ); };"),
              "line 1: match.all[0]: must be a group { ... }");
    CHECK_STR(load_error("match = {\n any = ( { source = \"a\"; },\n"
                         "         { sevrity = \"critical\"; } );\n};"),
              "line 3: match.any[1].sevrity: unknown key (expected source, labels, rule, title, "
              "severity, status, namespace, any, all)");
    CHECK_STR(load_error("match = { any = ( { status = \"any\"; } ); };"),
              "line 1: match.any[0].status: status can only be set at the top of match");
}

static void test_errors_and_files(void)
{
    CHECK_STR(load_error("match = {\n  source = \"falco\";\n  sevrity = \"critical\";\n};"),
              "line 3: match.sevrity: unknown key (expected source, labels, rule, title, "
              "severity, status, namespace, any, all)");
    CHECK_STR(load_error("match = {\n  status = \"open\";\n};"),
              "line 2: match.status: \"open\" is not a status (firing, resolved, any)");
    CHECK_STR(load_error("match = \"everything\";"), "line 1: match: must be a group { ... }");

    /* Read from a file, messages name it (file:line: key: message). */
    char path[] = "/tmp/ird-test-match-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    const char conf[] = "name = \"x\";\nmatch = {\n  source = \"falco\";\n"
                        "  severity = \">= warnin\";\n};\n";
    CHECK_INT(write(fd, conf, sizeof(conf) - 1), sizeof(conf) - 1);
    close(fd);
    config_t cfg;
    config_init(&cfg);
    CHECK_INT(config_read_file(&cfg, path), CONFIG_TRUE);
    struct ird_match *m = NULL;
    struct ird_err err = {{0}};
    CHECK_INT(ird_match_parse(config_lookup(&cfg, "match"), &m, &err), -EINVAL);
    CHECK(m == NULL);
    char want[512];
    snprintf(want, sizeof(want),
             "%s:4: match.severity: \">= warnin\" is not a severity (critical, error, warning, "
             "info)",
             path);
    CHECK_STR(err.msg, want);
    config_destroy(&cfg);
    unlink(path);
}

int main(void)
{
    test_design_example();
    test_empty_and_status();
    test_severity();
    test_labels();
    test_rule_and_title();
    test_namespaces();
    test_nesting();
    test_errors_and_files();
    return ird_check_summary("test_match");
}
