/* intake: every wire format decoded from fixtures into normalized alerts, and
 * every way a body or a source config is refused, with the exact message. */
#include "check.h"
#include "intake/decode.h"
#include "intake/jsoncheck.h"

#include <errno.h>
#include <libconfig.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *fixture(const char *name, size_t *len)
{
    const char *dir = getenv("IRD_FIXTURES");
    char path[512];
    snprintf(path, sizeof(path), "%s/intake/%s", dir ? dir : "tests/fixtures", name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n)
        exit(2);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* A decoder from a one-source config text: "sources = { <name> = {...}; };" */
static struct ird_decoder *decoder(const char *conf_text, const char *name)
{
    config_t cfg;
    config_init(&cfg);
    if (!config_read_string(&cfg, conf_text)) {
        fprintf(stderr, "bad test config: %s at line %d\n", config_error_text(&cfg),
                config_error_line(&cfg));
        exit(2);
    }
    char path[128];
    snprintf(path, sizeof(path), "sources.%s", name);
    struct ird_decoder *d = NULL;
    struct ird_err err = {""};
    int rc = ird_decoder_new(config_lookup(&cfg, path), NULL, &d, &err);
    if (rc) {
        fprintf(stderr, "decoder %s: %s\n", name, err.msg);
        exit(2);
    }
    config_destroy(&cfg);
    return d;
}

static struct ird_decoder *simple(const char *type)
{
    char text[256];
    snprintf(text, sizeof(text), "sources = { s = { type = \"%s\"; auth = \"none\"; }; };", type);
    return decoder(text, "s");
}

static cJSON *decode_ok(struct ird_decoder *d, const char *ct, const char *body, size_t len,
                        int nexpect)
{
    cJSON *alerts = NULL;
    struct ird_err err = {""};
    int rc = ird_decode(d, "src", ct, NULL, 0, body, len, NULL, &alerts, NULL, &err);
    CHECK_INT(rc, 0);
    if (rc) {
        fprintf(stderr, "  decode: %s\n", err.msg);
        return cJSON_CreateArray();
    }
    CHECK_INT(cJSON_GetArraySize(alerts), nexpect);
    return alerts;
}

static cJSON *decode_fixture(struct ird_decoder *d, const char *name, int nexpect)
{
    size_t len;
    char *body = fixture(name, &len);
    cJSON *alerts = decode_ok(d, "application/json", body, len, nexpect);
    free(body);
    return alerts;
}

/* Expect a refusal with this code and exactly this message. */
static void decode_fails(struct ird_decoder *d, const char *ct, const char *body,
                         const struct ird_decode_limits *lim, int code, const char *msg)
{
    cJSON *alerts = NULL;
    struct ird_err err = {""};
    CHECK_INT(ird_decode(d, "src", ct, NULL, 0, body, strlen(body), lim, &alerts, NULL, &err),
              code);
    CHECK(alerts == NULL);
    CHECK_STR(err.msg, msg);
}

static const char *S(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : "(not a string)";
}

static const char *S2(const cJSON *o, const char *obj, const char *key)
{
    return S(cJSON_GetObjectItemCaseSensitive(o, obj), key);
}

static bool is_hex64(const char *s)
{
    if (strlen(s) != 64)
        return false;
    for (; *s; s++)
        if (!strchr("0123456789abcdef", *s))
            return false;
    return true;
}

static void test_alertmanager(void)
{
    struct ird_decoder *d = simple("alertmanager");
    CHECK_STR(ird_decoder_type(d), "alertmanager");
    size_t len;
    char *body = fixture("alertmanager-v4.json", &len);
    cJSON *alerts = NULL;
    long truncated = -1;
    struct ird_err err = {""};
    CHECK_INT(ird_decode(d, "am", "application/json", NULL, 0, body, len, NULL, &alerts, &truncated,
                         &err),
              0);
    CHECK_INT(truncated, 2);
    CHECK_INT(cJSON_GetArraySize(alerts), 2);
    const cJSON *a = cJSON_GetArrayItem(alerts, 0);
    /* exactly the documented keys, in order */
    static const char *const keys[] = {
        "source",    "id",   "status", "severity",    "title",     "namespace", "pod",
        "container", "node", "labels", "annotations", "starts_at", "ends_at",   "raw"};
    int k = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, a) {
        CHECK(k < 14 && strcmp(m->string, keys[k]) == 0);
        k++;
    }
    CHECK_INT(k, 14);
    CHECK_STR(S(a, "source"), "am");
    CHECK_STR(S(a, "id"), "a1b2c3d4e5f60718");
    CHECK_STR(S(a, "status"), "firing");
    CHECK_STR(S(a, "severity"), "critical");
    CHECK_STR(S(a, "title"), "Crypto miner in shop/web & friends");
    CHECK_STR(S(a, "namespace"), "shop");
    CHECK_STR(S(a, "pod"), "web-7d4b9c");
    CHECK_STR(S(a, "container"), "miner");
    CHECK_STR(S(a, "node"), "node-1");
    CHECK_STR(S(a, "starts_at"), "2026-12-01T07:35:53.250Z");
    CHECK_STR(S(a, "ends_at"), ""); /* Go zero time: still open */
    CHECK_STR(S2(a, "labels", "alertname"), "CryptoMiningDetected");
    CHECK_STR(S2(a, "annotations", "description"), "CPU > 90% & outbound to stratum+tcp");
    CHECK_STR(S2(a, "raw", "generatorURL"), "http://prometheus:9090/graph?g0.expr=x&g0.tab=1");
    CHECK_STR(S2(a, "raw", "endsAt"), "0001-01-01T00:00:00Z");
    const cJSON *b = cJSON_GetArrayItem(alerts, 1);
    CHECK_STR(S(b, "id"), "0f1e2d3c4b5a6978");
    CHECK_STR(S(b, "status"), "resolved");
    CHECK_STR(S(b, "severity"), "warning");
    CHECK_STR(S(b, "title"), "KubePodCrashLooping"); /* no summary: the alertname */
    CHECK_STR(S(b, "container"), "");
    CHECK_STR(S(b, "ends_at"), "2026-12-01T07:30:00.000Z");
    CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(b, "annotations")), 0);
    cJSON_Delete(alerts);

    /* more alerts than the limit: 413 */
    struct ird_decode_limits one = {0, 0, 1};
    alerts = NULL;
    CHECK_INT(ird_decode(d, "am", NULL, NULL, 0, body, len, &one, &alerts, NULL, &err), -EMSGSIZE);
    CHECK_STR(err.msg, "2 alerts; at most 1 per request");
    CHECK(alerts == NULL);
    free(body);

    /* shapes, named by their path in the input */
    decode_fails(d, NULL, "{\"version\":\"4\",\"alerts\":{}}", NULL, -EINVAL,
                 "alerts: expected an array");
    decode_fails(d, NULL, "{\"version\":\"3\",\"alerts\":[]}", NULL, -EINVAL,
                 "version: expected \"4\"");
    decode_fails(d, NULL,
                 "{\"version\":\"4\",\"alerts\":[{\"status\":\"firing\",\"labels\":{}},"
                 "{\"status\":\"firing\",\"labels\":[]}]}",
                 NULL, -EINVAL, "alerts[1].labels: expected an object");
    decode_fails(d, NULL, "{\"alerts\":[{\"status\":\"pending\",\"labels\":{}}]}", NULL, -EINVAL,
                 "alerts[0].status: expected \"firing\" or \"resolved\"");
    decode_fails(d, NULL, "{\"alerts\":[{\"status\":\"firing\",\"labels\":{\"a\":{}}}]}", NULL,
                 -EINVAL, "alerts[0].labels.a: expected a string");
    decode_fails(d, NULL, "[]", NULL, -EINVAL, "body: expected an object");
    /* a summary over 1024 bytes is refused, not cut */
    char big[1200];
    int n = snprintf(big, sizeof(big),
                     "{\"alerts\":[{\"status\":\"firing\",\"labels\":{},\"annotations\":"
                     "{\"summary\":\"");
    memset(big + n, 'x', 1025);
    snprintf(big + n + 1025, sizeof(big) - (size_t)n - 1025, "\"}}]}");
    decode_fails(d, NULL, big, NULL, -EINVAL,
                 "alerts[0].annotations.summary: longer than 1024 bytes");
    /* exactly 1024 is fine */
    memmove(big + n + 1024, big + n + 1025, strlen(big + n + 1025) + 1);
    cJSON_Delete(decode_ok(d, NULL, big, strlen(big), 1));
    ird_decoder_free(d);
}

/* The fallback id as decode.h documents it, computed independently. */
static void expected_hash(const char *const *parts, size_t n, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    for (size_t i = 0; i < n; i++)
        EVP_DigestUpdate(ctx, parts[i], strlen(parts[i]) + 1);
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void test_falco(void)
{
    struct ird_decoder *d = simple("falco");
    cJSON *alerts = decode_fixture(d, "falco-http-output.json", 1);
    const cJSON *a = cJSON_GetArrayItem(alerts, 0);
    CHECK_STR(S(a, "severity"), "critical");
    CHECK_STR(S(a, "title"), "Detect crypto miners using the Stratum protocol");
    CHECK_STR(S(a, "namespace"), "shop");
    CHECK_STR(S(a, "pod"), "web-7d4b9c");
    CHECK_STR(S(a, "container"), "miner");
    CHECK_STR(S(a, "node"), "node-2");
    CHECK_STR(S(a, "status"), "firing");
    CHECK_STR(S(a, "starts_at"), "2026-12-01T07:35:53.123Z");
    CHECK_STR(S2(a, "labels", "tags"), "T1496,container,mitre_impact");
    CHECK_STR(S2(a, "labels", "source"), "syscall");
    CHECK(strstr(S2(a, "annotations", "output"), "xmrig") != NULL);
    /* no uuid: the documented hash */
    const char *parts[] = {"src",      "Detect crypto miners using the Stratum protocol",
                           "shop",     "web-7d4b9c",
                           "miner",    "node-2",
                           "priority", "Critical",
                           "rule",     "Detect crypto miners using the Stratum protocol",
                           "source",   "syscall",
                           "tags",     "T1496,container,mitre_impact"};
    char want[65];
    expected_hash(parts, sizeof(parts) / sizeof(parts[0]), want);
    CHECK(is_hex64(S(a, "id")));
    CHECK_STR(S(a, "id"), want);
    /* nanoseconds beyond 2^53 keep every digit; null and small numbers stay */
    const cJSON *of = cJSON_GetObjectItem(cJSON_GetObjectItem(a, "raw"), "output_fields");
    CHECK_STR(S(of, "evt.time"), "1796110553123456789");
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(of, "container.image.repository")));
    CHECK(cJSON_IsNumber(cJSON_GetObjectItem(of, "fd.sport")));
    CHECK_INT(cJSON_GetObjectItem(of, "user.loginuid")->valuedouble, -1);
    cJSON_Delete(alerts);

    /* the same rule on another pod is another incident */
    const char *b1 = "{\"rule\":\"R\",\"priority\":\"Warning\",\"output_fields\":{\"k8s.pod.name\":"
                     "\"p1\",\"k8s.ns.name\":null}}";
    const char *b2 = "{\"rule\":\"R\",\"priority\":\"Warning\",\"output_fields\":{\"k8s.pod.name\":"
                     "\"p2\"}}";
    cJSON *x = decode_ok(d, NULL, b1, strlen(b1), 1), *y = decode_ok(d, NULL, b2, strlen(b2), 1);
    cJSON *x2 = decode_ok(d, NULL, b1, strlen(b1), 1);
    CHECK(strcmp(S(cJSON_GetArrayItem(x, 0), "id"), S(cJSON_GetArrayItem(y, 0), "id")) != 0);
    CHECK_STR(S(cJSON_GetArrayItem(x, 0), "id"), S(cJSON_GetArrayItem(x2, 0), "id"));
    CHECK_STR(S(cJSON_GetArrayItem(x, 0), "namespace"), ""); /* null: unknown */
    CHECK_STR(S(cJSON_GetArrayItem(x, 0), "severity"), "warning");
    cJSON_Delete(x);
    cJSON_Delete(y);
    cJSON_Delete(x2);

    /* falcosidekick: uuid is the id */
    alerts = decode_fixture(d, "falcosidekick.json", 1);
    a = cJSON_GetArrayItem(alerts, 0);
    CHECK_STR(S(a, "id"), "3b9f7c1e-1d2a-4c8b-9e6f-0a1b2c3d4e5f");
    CHECK_STR(S(a, "severity"), "info"); /* Notice */
    CHECK_STR(S(a, "pod"), "api-1");
    CHECK_STR(S(a, "container"), "api");
    CHECK_STR(S(a, "node"), "node-3");
    CHECK_STR(S(a, "starts_at"), "2026-12-01T07:35:53.500Z");
    cJSON_Delete(alerts);

    static const struct {
        const char *priority, *severity;
    } prio[] = {{"Emergency", "critical"}, {"Alert", "critical"},  {"Critical", "critical"},
                {"Error", "error"},        {"Warning", "warning"}, {"Notice", "info"},
                {"Informational", "info"}, {"Debug", "info"}};
    for (size_t i = 0; i < sizeof(prio) / sizeof(prio[0]); i++) {
        char body[128];
        snprintf(body, sizeof(body), "{\"rule\":\"r\",\"priority\":\"%s\"}", prio[i].priority);
        cJSON *r = decode_ok(d, NULL, body, strlen(body), 1);
        CHECK_STR(S(cJSON_GetArrayItem(r, 0), "severity"), prio[i].severity);
        cJSON_Delete(r);
    }
    decode_fails(d, NULL, "{\"priority\":\"Error\"}", NULL, -EINVAL, "rule: expected a string");
    decode_fails(d, NULL, "{\"rule\":\"r\",\"output_fields\":[]}", NULL, -EINVAL,
                 "output_fields: expected an object");
    decode_fails(d, NULL, "{\"rule\":\"r\",\"tags\":[1]}", NULL, -EINVAL,
                 "tags: expected an array of strings");
    ird_decoder_free(d);
}

static void test_splunk(void)
{
    struct ird_decoder *d = decoder("sources = { sp = { type = \"splunk\"; auth = \"none\";\n"
                                    "  fields = { severity = \"urgency\"; namespace = "
                                    "\"k8s_namespace\"; node = \"host\"; }; }; };",
                                    "sp");
    cJSON *alerts = decode_fixture(d, "splunk.json", 1);
    const cJSON *a = cJSON_GetArrayItem(alerts, 0);
    CHECK_STR(S(a, "id"), "scheduler__admin__search__RMD5e461b39d_at_1796110500_42");
    CHECK_STR(S(a, "title"), "Brute force against ledger"); /* search_name is null */
    CHECK_STR(S(a, "severity"), "error");                   /* urgency high */
    CHECK_STR(S(a, "namespace"), "payments");
    CHECK_STR(S(a, "pod"), "ledger-0");
    CHECK_STR(S(a, "container"), "app"); /* multivalue: the first */
    CHECK_STR(S(a, "node"), "node-4");
    CHECK_STR(S2(a, "labels", "count"), "17");
    CHECK(cJSON_GetObjectItem(cJSON_GetObjectItem(a, "labels"), "_raw") == NULL);
    CHECK_STR(S2(a, "annotations", "app"), "search");
    CHECK(strstr(S2(a, "annotations", "results_link"), "https://splunk.example") != NULL);
    cJSON_Delete(alerts);
    const char *named = "{\"sid\":\"s1\",\"search_name\":\"Failed logins\",\"result\":{"
                        "\"severity\":\"medium\",\"pod\":\"x\"}}";
    alerts = decode_ok(d, NULL, named, strlen(named), 1);
    CHECK_STR(S(cJSON_GetArrayItem(alerts, 0), "title"), "Failed logins");
    /* the configured field replaces the default name: "severity" is not read */
    CHECK_STR(S(cJSON_GetArrayItem(alerts, 0), "severity"), "warning");
    cJSON_Delete(alerts);
    decode_fails(d, NULL, "{\"sid\":\"s\",\"result\":\"x\"}", NULL, -EINVAL,
                 "result: expected an object");
    ird_decoder_free(d);
}

static void test_elastic(void)
{
    /* the published template is the one in the header */
    size_t len;
    char *tpl = fixture("elastic-kibana-template.mustache", &len);
    CHECK_STR(tpl, IRD_ELASTIC_TEMPLATE);
    free(tpl);

    struct ird_decoder *d = simple("elastic");
    cJSON *alerts = decode_fixture(d, "elastic.json", 2);
    const cJSON *a = cJSON_GetArrayItem(alerts, 0);
    CHECK_STR(S(a, "id"), "c0ffee00-0000-4000-8000-000000000001");
    CHECK_STR(S(a, "title"), "Kubernetes Pod Created With HostNetwork");
    CHECK_STR(S(a, "severity"), "critical");
    CHECK_STR(S(a, "status"), "firing");
    CHECK_STR(S(a, "namespace"), "shop");
    CHECK_STR(S(a, "pod"), "web-7d4b9c");
    CHECK_STR(S(a, "container"), "web");
    CHECK_STR(S(a, "node"), "node-8");
    CHECK_STR(S(a, "starts_at"), "2026-12-01T07:35:53.000Z");
    CHECK_STR(S2(a, "annotations", "reason"), "pod \"web\" created with hostNetwork");
    CHECK_STR(S2(a, "annotations", "results_link"),
              "https://kibana.example/app/security/alerts?x=1&y=2");
    CHECK_STR(S2(a, "labels", "rule_id"), "5b3f-rule");
    const cJSON *b = cJSON_GetArrayItem(alerts, 1);
    CHECK_STR(S(b, "status"), "resolved"); /* recovered */
    CHECK_STR(S(b, "severity"), "error");  /* rule severity high */
    CHECK_STR(S(b, "namespace"), "batch"); /* orchestrator.namespace */
    CHECK_STR(S(b, "pod"), "etl-42");      /* orchestrator.resource.name */
    CHECK_STR(S(b, "node"), "node-9");     /* host.name */
    CHECK_STR(S(b, "starts_at"), "2026-12-01T07:40:00.000Z");
    cJSON_Delete(alerts);

    /* nested alert documents work as well as flattened keys */
    const char *nested = "{\"alerts\":[{\"kibana\":{\"alert\":{\"uuid\":\"u-9\",\"rule\":{\"name\":"
                         "\"R\"},\"severity\":\"low\"}},\"kubernetes\":{\"pod\":{\"name\":\"p\"}}},"
                         "{\"kibana.alert\":{\"uuid\":\"u-10\",\"severity\":\"medium\"}},{}]}";
    alerts = decode_ok(d, NULL, nested, strlen(nested), 2);
    CHECK_STR(S(cJSON_GetArrayItem(alerts, 0), "id"), "u-9");
    CHECK_STR(S(cJSON_GetArrayItem(alerts, 0), "severity"), "info");
    CHECK_STR(S(cJSON_GetArrayItem(alerts, 0), "pod"), "p");
    CHECK_STR(S(cJSON_GetArrayItem(alerts, 1), "id"), "u-10");
    CHECK_STR(S(cJSON_GetArrayItem(alerts, 1), "severity"), "warning");
    cJSON_Delete(alerts);
    decode_fails(d, NULL, "{\"alerts\":[{},3]}", NULL, -EINVAL, "alerts[1]: expected an object");
    decode_fails(d, NULL, "{\"rule\":{}}", NULL, -EINVAL, "alerts: expected an array");
    ird_decoder_free(d);
}

static void test_wazuh(void)
{
    struct ird_decoder *d = simple("wazuh");
    cJSON *alerts = decode_fixture(d, "wazuh.json", 1);
    const cJSON *a = cJSON_GetArrayItem(alerts, 0);
    CHECK_STR(S(a, "id"), "1796110553.884422");
    CHECK_STR(S(a, "severity"), "critical");
    CHECK_STR(S(a, "title"), "Container escape attempt: nsenter");
    CHECK_STR(S(a, "node"), "node-5");
    CHECK_STR(S(a, "namespace"), "batch");
    CHECK_STR(S(a, "pod"), "etl-42");
    CHECK_STR(S(a, "container"), "worker");
    CHECK_STR(S(a, "starts_at"), "2026-12-01T07:35:53.123Z");
    CHECK_STR(S2(a, "labels", "rule_groups"), "kubernetes,container_escape");
    CHECK_STR(S2(a, "labels", "rule_level"), "12");
    CHECK_STR(S2(a, "annotations", "full_log"), "nsenter -t 1 -m -u -i -n sh");
    cJSON_Delete(alerts);
    static const struct {
        int level;
        const char *severity;
    } levels[] = {{0, "info"},  {4, "info"},   {5, "warning"},   {7, "warning"},
                  {8, "error"}, {11, "error"}, {12, "critical"}, {15, "critical"}};
    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
        char body[128];
        snprintf(body, sizeof(body), "{\"id\":\"1.%zu\",\"rule\":{\"level\":%d}}", i,
                 levels[i].level);
        cJSON *r = decode_ok(d, NULL, body, strlen(body), 1);
        CHECK_STR(S(cJSON_GetArrayItem(r, 0), "severity"), levels[i].severity);
        cJSON_Delete(r);
    }
    decode_fails(d, NULL, "{\"id\":\"1\"}", NULL, -EINVAL, "rule: expected an object");
    decode_fails(d, NULL, "{\"rule\":{\"level\":\"high\"}}", NULL, -EINVAL,
                 "rule.level: expected a number");
    ird_decoder_free(d);
}

static void test_cloudevents(void)
{
    struct ird_decoder *d = simple("cloudevents");
    size_t len;
    char *body = fixture("cloudevents-structured.json", &len);
    cJSON *alerts = decode_ok(d, "application/cloudevents+json; charset=UTF-8", body, len, 1);
    free(body);
    const cJSON *a = cJSON_GetArrayItem(alerts, 0);
    CHECK_STR(S(a, "id"), "//scanner.example/clusters/prod/evt-0001");
    CHECK_STR(S(a, "title"), "Critical CVE in running image");
    CHECK_STR(S(a, "severity"), "critical");
    CHECK_STR(S(a, "namespace"), "shop");
    CHECK_STR(S(a, "pod"), "web-7d4b9c");
    CHECK_STR(S(a, "starts_at"), "2026-12-01T07:35:53.000Z");
    CHECK_STR(S2(a, "labels", "team"), "secops");
    CHECK_STR(S2(a, "labels", "type"), "io.example.vuln.found");
    CHECK_STR(S2(a, "annotations", "runbook"), "https://runbooks.example/cve");
    cJSON_Delete(alerts);

    body = fixture("cloudevents-batch.json", &len);
    alerts = decode_ok(d, "application/cloudevents-batch+json", body, len, 2);
    free(body);
    const cJSON *b = cJSON_GetArrayItem(alerts, 1);
    CHECK_STR(S(b, "id"), "//scanner.example/clusters/prod/evt-0002");
    CHECK_STR(S(b, "status"), "resolved");
    CHECK_STR(S(b, "severity"), "info");
    CHECK_STR(S(b, "title"), "CVE fixed"); /* no subject: data.title */
    cJSON_Delete(alerts);

    /* binary mode: attributes in ce-* headers, percent-decoded */
    body = fixture("cloudevents-binary-data.json", &len);
    struct ird_http_header h[] = {
        {"Ce-Specversion", "1.0"},
        {"ce-id", "b-1"},
        {"ce-source", "/admission/prod"},
        {"ce-type", "io.example.policy.denied"},
        {"ce-subject", "Privileged%20pod%20%C3%A9t%C3%A9"},
        {"ce-k8snamespace", "shop"},
        {"ce-severity", "error"},
        {"Content-Type", "application/json"},
    };
    struct ird_err err = {""};
    alerts = NULL;
    CHECK_INT(ird_decode(d, "ce", "application/json", h, 8, body, len, NULL, &alerts, NULL, &err),
              0);
    CHECK_INT(cJSON_GetArraySize(alerts), 1);
    a = cJSON_GetArrayItem(alerts, 0);
    CHECK_STR(S(a, "id"), "/admission/prod/b-1");
    CHECK_STR(S(a, "title"), "Privileged pod \xc3\xa9t\xc3\xa9");
    CHECK_STR(S(a, "severity"), "error");
    CHECK_STR(S(a, "namespace"), "shop");
    CHECK_STR(S2(a, "raw", "specversion"), "1.0");
    CHECK_STR(S2(cJSON_GetObjectItem(a, "raw"), "data", "title"), "Policy violation");
    cJSON_Delete(alerts);
    /* binary mode, a required header missing */
    struct ird_http_header h2[] = {{"ce-specversion", "1.0"}, {"ce-id", "x"}, {"ce-type", "t"}};
    alerts = NULL;
    CHECK_INT(ird_decode(d, "ce", NULL, h2, 3, body, len, NULL, &alerts, NULL, &err), -EINVAL);
    CHECK_STR(err.msg, "ce-source: required header missing");
    free(body);
    struct ird_http_header h3[] = {
        {"ce-specversion", "1.0"}, {"ce-id", "x%zz"}, {"ce-type", "t"}, {"ce-source", "s"}};
    CHECK_INT(ird_decode(d, "ce", NULL, h3, 4, "", 0, NULL, &alerts, NULL, &err), -EINVAL);
    CHECK_STR(err.msg, "ce-id: invalid percent-encoding");

    decode_fails(d, NULL, "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"s\"}", NULL, -EINVAL,
                 "type: required attribute missing");
    decode_fails(d, NULL,
                 "[{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"s\",\"type\":\"t\"},"
                 "{\"specversion\":\"1.0\",\"source\":\"s\",\"type\":\"t\"}]",
                 NULL, -EINVAL, "[1].id: required attribute missing");
    decode_fails(d, NULL, "{\"specversion\":\"0.3\",\"id\":\"1\",\"source\":\"s\",\"type\":\"t\"}",
                 NULL, -EINVAL, "specversion: expected \"1.0\"");
    ird_decoder_free(d);
}

static void test_json_mapping(void)
{
    struct ird_decoder *d = decoder(
        "sources = { siem = { type = \"json\"; auth = \"none\";\n"
        "  map = { id = \"event.id\"; title = \"alerts.0.name\"; severity = \"rule.severity\";\n"
        "          namespace = \"k8s.ns\"; pod = \"k8s.pod\";\n"
        "          container = \"output_fields[k8s.container.name]\"; node = \"alerts[1].host\";\n"
        "          status = \"state\"; labels = \"tags\"; starts_at = \"created\"; };\n"
        "  defaults = { severity = \"info\"; };\n"
        "  severity_map = { high = \"critical\"; }; }; };",
        "siem");
    cJSON *alerts = decode_fixture(d, "json-custom.json", 1);
    const cJSON *a = cJSON_GetArrayItem(alerts, 0);
    CHECK_STR(S(a, "id"), "EV-77");
    CHECK_STR(S(a, "title"), "first hit");
    CHECK_STR(S(a, "severity"), "critical"); /* severity_map before the synonyms */
    CHECK_STR(S(a, "namespace"), "shop");
    CHECK_STR(S(a, "pod"), "web-7d4b9c");
    CHECK_STR(S(a, "container"), "web");
    CHECK_STR(S(a, "node"), "node-7");
    CHECK_STR(S(a, "status"), "resolved"); /* "closed" */
    CHECK_STR(S(a, "starts_at"), "2026-12-01T07:35:53.000Z");
    CHECK_STR(S2(a, "labels", "team"), "secops");
    CHECK_STR(S2(cJSON_GetObjectItem(a, "raw"), "event", "kind"), "detection");
    cJSON_Delete(alerts);
    decode_fails(d, NULL, "{\"k8s\":{\"ns\":[\"a\"]}}", NULL, -EINVAL, "k8s.ns: expected a string");
    decode_fails(d, NULL, "[{\"tags\":{}}, 7]", NULL, -EINVAL, "[1]: expected an object");
    decode_fails(d, NULL, "{\"tags\":\"x\"}", NULL, -EINVAL, "tags: expected an object");
    decode_fails(d, NULL, "\"just a string\"", NULL, -EINVAL,
                 "body: expected an object or an array of objects");
    ird_decoder_free(d);

    d = decoder("sources = { l = { type = \"json\"; auth = \"none\";\n"
                "  map = { title = \"title\"; severity = \"sev\"; };\n"
                "  defaults = { severity = \"info\"; namespace = \"default-ns\"; }; }; };",
                "l");
    alerts = decode_fixture(d, "json-list.json", 2);
    CHECK_STR(S(cJSON_GetArrayItem(alerts, 0), "severity"), "critical"); /* P1 */
    CHECK_STR(S(cJSON_GetArrayItem(alerts, 1), "severity"), "info");     /* unknown: default */
    CHECK_STR(S(cJSON_GetArrayItem(alerts, 1), "namespace"), "default-ns");
    CHECK(is_hex64(S(cJSON_GetArrayItem(alerts, 0), "id")));
    CHECK(strcmp(S(cJSON_GetArrayItem(alerts, 0), "id"), S(cJSON_GetArrayItem(alerts, 1), "id")));
    cJSON_Delete(alerts);
    ird_decoder_free(d);

    d = decoder("sources = { i = { type = \"json\"; auth = \"none\"; items = \"alerts\";\n"
                "  map = { title = \"name\"; node = \"host\"; }; }; };",
                "i");
    alerts = decode_fixture(d, "json-custom.json", 2);
    CHECK_STR(S(cJSON_GetArrayItem(alerts, 1), "title"), "second hit");
    CHECK_STR(S(cJSON_GetArrayItem(alerts, 1), "node"), "node-7");
    cJSON_Delete(alerts);
    decode_fails(d, NULL, "{\"alerts\":[{\"name\":{}}]}", NULL, -EINVAL,
                 "alerts[0].name: expected a string");
    decode_fails(d, NULL, "{\"alerts\":3}", NULL, -EINVAL, "alerts: expected an array");
    ird_decoder_free(d);
}

static void test_body_checks(void)
{
    struct ird_decoder *d = simple("json");
    decode_fails(d, NULL, "hello", NULL, -EINVAL, "malformed JSON at byte 0");
    decode_fails(d, NULL, "{\"a\": 1,}", NULL, -EINVAL, "malformed JSON at byte 8");
    decode_fails(d, NULL, "{\"a\": 1} x", NULL, -EINVAL, "malformed JSON at byte 9");
    decode_fails(d, NULL, "", NULL, -EINVAL, "malformed JSON at byte 0");
    decode_fails(d, NULL, "{\"title\":\"caf\xc3\x28\"}", NULL, -EINVAL, "invalid UTF-8 at byte 13");
    decode_fails(d, NULL, "{\"t\":\"\xc0\xaf\"}", NULL, -EINVAL, "invalid UTF-8 at byte 6");
    decode_fails(d, NULL, "{\"t\":\"\xed\xa0\x80\"}", NULL, -EINVAL, "invalid UTF-8 at byte 6");
    decode_fails(d, NULL, "{\"t\":\"\xf4\x90\x80\x80\"}", NULL, -EINVAL, "invalid UTF-8 at byte 6");
    decode_fails(d, NULL, "{\"t\":\"a\x01\"}", NULL, -EINVAL,
                 "control character in string at byte 7");
    decode_fails(d, NULL, "{\"t\":\"\\uD83D\"}", NULL, -EINVAL, "unpaired surrogate at byte 6");
    decode_fails(d, NULL, "{\"t\":\"\\uDE00x\"}", NULL, -EINVAL, "unpaired surrogate at byte 6");
    decode_fails(d, NULL, "{\"t\":\"\\q\"}", NULL, -EINVAL, "invalid escape at byte 6");
    char deep[80];
    memset(deep, '[', 33);
    memset(deep + 33, ']', 33);
    deep[66] = '\0';
    decode_fails(d, NULL, deep, NULL, -EINVAL, "nesting deeper than 32 at byte 32");
    deep[0] = ' ';
    deep[65] = ' '; /* 32 levels are fine for the parser (the shape check refuses arrays) */
    decode_fails(d, NULL, deep, NULL, -EINVAL, "[0]: expected an object");
    struct ird_decode_limits small = {4, 8, 0};
    decode_fails(d, NULL, "{\"a\":\"123456789\"}", &small, -EINVAL,
                 "string longer than 8 bytes at byte 5");
    decode_fails(d, NULL, "{\"a\":[[[[1]]]]}", &small, -EINVAL, "nesting deeper than 4 at byte 8");
    decode_fails(d, "text/html", "{}", NULL, -ENOTSUP,
                 "content type text/html is not accepted; send application/json");
    decode_fails(d, "application/x-www-form-urlencoded", "{}", NULL, -ENOTSUP,
                 "content type application/x-www-form-urlencoded is not accepted; send "
                 "application/json");
    cJSON_Delete(decode_ok(d, "application/json; charset=utf-8", "{}", 2, 1));
    cJSON_Delete(decode_ok(d, "text/plain", "{}", 2, 1));
    cJSON_Delete(decode_ok(d, "Application/Vnd.Example+JSON", "{}", 2, 1));
    ird_decoder_free(d);

    /* escapes survive: surrogate pairs, \u0026, raw UTF-8; big integers keep digits */
    cJSON *root = NULL;
    struct ird_err err = {""};
    const char *text = "{\"e\":\"\\uD83D\\uDE00 \\u0026 \xc3\xa9\",\"n\":-9007199254740993,"
                       "\"m\":9007199254740992,\"f\":12345678901234567890.5}";
    CHECK_INT(ird_jsoncheck_parse(text, strlen(text), 0, 0, &root, &err), 0);
    CHECK_STR(S(root, "e"), "\xf0\x9f\x98\x80 & \xc3\xa9");
    CHECK_STR(S(root, "n"), "-9007199254740993");
    CHECK(cJSON_IsNumber(cJSON_GetObjectItem(root, "m"))); /* 2^53 itself is exact */
    CHECK(cJSON_IsNumber(cJSON_GetObjectItem(root, "f"))); /* not an integer */
    cJSON_Delete(root);
    /* an error after a rewritten integer still points into the body as sent */
    text = "[18446744073709551616, }";
    CHECK_INT(ird_jsoncheck_parse(text, strlen(text), 0, 0, &root, &err), -EINVAL);
    CHECK_STR(err.msg, "malformed JSON at byte 23");
}

static void test_config_errors(void)
{
    const char *dir = getenv("IRD_FIXTURES");
    char path[512];
    snprintf(path, sizeof(path), "%s/intake/sources.conf", dir ? dir : "tests/fixtures");
    config_t cfg;
    config_init(&cfg);
    CHECK(config_read_file(&cfg, path));
    static const char *const common[] = {"path", NULL};
    static const struct {
        const char *source;
        int line;
        const char *msg;
    } cases[] = {
        {"siem", 9,
         "sources.siem.map.titel: unknown key; expected id, status, severity, title, "
         "namespace, pod, container, node, labels, annotations, starts_at or ends_at"},
        {"badtype", 12,
         "sources.badtype.type: unknown type \"nagios\"; expected alertmanager, "
         "falco, splunk, elastic, wazuh, cloudevents or json"},
        {"badsev", 14,
         "sources.badsev.defaults.severity: expected one of critical, error, "
         "warning, info"},
        {"falcomap", 15, "sources.falcomap.map: unknown key (only type \"json\" takes map)"},
        {"badpath", 16,
         "sources.badpath.map.title: path \"a[b\": \"[\" needs a key and a "
         "closing \"]\""},
        {"stray", 17, "sources.stray.colour: unknown key"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char name[64], want[600];
        snprintf(name, sizeof(name), "sources.%s", cases[i].source);
        snprintf(want, sizeof(want), "%s:%d: %s", path, cases[i].line, cases[i].msg);
        struct ird_decoder *d = NULL;
        struct ird_err err = {""};
        CHECK_INT(ird_decoder_new(config_lookup(&cfg, name), common, &d, &err), -EINVAL);
        CHECK(d == NULL);
        CHECK_STR(err.msg, want);
    }
    /* the common key "path" is the caller's, auth is auth.c's */
    struct ird_decoder *d = NULL;
    struct ird_err err = {""};
    CHECK_INT(ird_decoder_new(config_lookup(&cfg, "sources.am"), common, &d, &err), 0);
    ird_decoder_free(d);
    d = NULL;
    CHECK_INT(ird_decoder_new(config_lookup(&cfg, "sources.am"), NULL, &d, &err), -EINVAL);
    CHECK(strstr(err.msg, "sources.am.path: unknown key") != NULL);
    ird_decoder_free(NULL);
    config_destroy(&cfg);
}

/* Integers beyond 2^53 become strings only where a JSON value may stand. */
static void test_big_integer_rewrite_only_for_values(void)
{
    cJSON *root = NULL;
    struct ird_err err = {{0}};
    const char *ok = "{\"a\":12345678901234567890}";
    CHECK_INT(ird_jsoncheck_parse(ok, strlen(ok), 0, 0, &root, &err), 0);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(root, "a")), "12345678901234567890");
    cJSON_Delete(root);
    static const char *const bad[] = {
        "{12345678901234567890:1}",        /* a number as a key */
        "{\"id\":99999999999999999999-1}", /* not a number at all */
        "[99999999999999999999e]",         /* nor this */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        root = NULL;
        CHECK_INT(ird_jsoncheck_parse(bad[i], strlen(bad[i]), 0, 0, &root, &err), -EINVAL);
        CHECK(root == NULL);
        CHECK(strncmp(err.msg, "malformed JSON at byte ", 23) == 0);
    }
}

int main(void)
{
    test_big_integer_rewrite_only_for_values();
    test_alertmanager();
    test_falco();
    test_splunk();
    test_elastic();
    test_wazuh();
    test_cloudevents();
    test_json_mapping();
    test_body_checks();
    test_config_errors();
    return ird_check_summary("test_decode");
}
