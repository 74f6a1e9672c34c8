/* k8s request builders and Status reader: exact paths (hostile names stay
 * encoded), exact bodies against fixtures, secret rotation with a
 * deterministic random source, secret discovery, events, RBAC coverage. */
#include "check.h"
#include "k8s/requests.h"
#include "k8s/status.h"

#include <dirent.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

/* 2026-12-01T07:35:53.250Z */
#define NOW_MS 1796110553250LL

static char *read_fixture(const char *rel, size_t *ret_len)
{
    const char *dir = getenv("IRD_FIXTURES");
    char path[1024];
    snprintf(path, sizeof(path), "%s/k8s/%s", dir ? dir : "tests/fixtures", rel);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open fixture %s\n", path);
        return NULL;
    }
    struct ird_buf b = IRD_BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        ird_buf_append(&b, chunk, n);
    fclose(f);
    if (ret_len)
        *ret_len = b.len;
    return ird_buf_steal(&b);
}

static cJSON *load_json(const char *rel)
{
    char *s = read_fixture(rel, NULL);
    cJSON *j = s ? cJSON_Parse(s) : NULL;
    if (!j)
        fprintf(stderr, "fixture %s is not JSON\n", rel);
    free(s);
    return j;
}

/* Compare a body with a fixture, printing both on mismatch. */
static int same_json(const cJSON *got, const char *fixture)
{
    cJSON *want = load_json(fixture);
    int same = want && got && cJSON_Compare(got, want, 1);
    if (!same) {
        char *g = got ? cJSON_PrintUnformatted(got) : NULL;
        char *w = want ? cJSON_PrintUnformatted(want) : NULL;
        fprintf(stderr, "body differs from %s\n  got:      %s\n  expected: %s\n", fixture,
                g ? g : "(null)", w ? w : "(null)");
        free(g);
        free(w);
    }
    cJSON_Delete(want);
    return same;
}

static int body_is(const cJSON *body, const char *json)
{
    char *s = body ? cJSON_PrintUnformatted(body) : NULL;
    int same = s && !strcmp(s, json);
    if (!same)
        fprintf(stderr, "body\n  got:      %s\n  expected: %s\n", s ? s : "(null)", json);
    free(s);
    return same;
}

/* ---- RBAC coverage: every request built in this file is recorded here ---- */

static int row_hits[64];

/* The verb the API server derives from method and path (AS requestinfo.go):
 * a GET whose last path segment is the resource plural is a list. */
static const char *derived_verb(const struct ird_k8s_request *r)
{
    static const struct {
        const char *method, *verb;
    } map[] = {{"POST", "create"}, {"PUT", "update"}, {"PATCH", "patch"}, {"DELETE", "delete"}};
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (!strcmp(r->method, map[i].method))
            return map[i].verb;
    }
    if (strcmp(r->method, "GET"))
        return "?";
    size_t end = strcspn(r->path, "?");
    size_t start = end;
    while (start > 0 && r->path[start - 1] != '/')
        start--;
    const char *res = r->resource->resource;
    if (!strchr(res, '/') && strlen(res) == end - start &&
        !strncmp(r->path + start, res, end - start))
        return "list";
    return "get";
}

/* Check that a built request points at its own row, consistent with its
 * method and path, and count the hit. */
static void record(const struct ird_k8s_request *r)
{
    CHECK(r->resource != NULL);
    if (!r->resource)
        return;
    ptrdiff_t i = r->resource - ird_k8s_resources;
    CHECK(i >= 0 && (size_t)i < ird_k8s_resources_count);
    if (i < 0 || (size_t)i >= ird_k8s_resources_count)
        return;
    row_hits[i]++;
    CHECK_STR(derived_verb(r), r->resource->verb);
    char prefix[128];
    if (*r->resource->group)
        snprintf(prefix, sizeof(prefix), "/apis/%s/v1/", r->resource->group);
    else
        snprintf(prefix, sizeof(prefix), "/api/v1/");
    CHECK(strncmp(r->path, prefix, strlen(prefix)) == 0);
    CHECK((r->body == NULL) == (r->content_type == NULL));
}

/* Build, check rc, record, compare path; frees the request. */
#define EXPECT_PATH(call, method_, path_)                                                          \
    do {                                                                                           \
        struct ird_k8s_request r_ = {0};                                                           \
        struct ird_err e_ = {{0}};                                                                 \
        int rc_ = (call);                                                                          \
        CHECK_INT(rc_, 0);                                                                         \
        if (rc_)                                                                                   \
            fprintf(stderr, "  reason: %s\n", e_.msg);                                             \
        if (!rc_) {                                                                                \
            record(&r_);                                                                           \
            CHECK_STR(r_.method, method_);                                                         \
            CHECK_STR(r_.path, path_);                                                             \
        }                                                                                          \
        ird_k8s_request_free(&r_);                                                                 \
    } while (0)

#define R (&r_)
#define E (&e_)

static void test_paths_and_encoding(void)
{
    const struct ird_k8s_kind *pods = ird_k8s_kind_find("pods");
    EXPECT_PATH(ird_k8s_pod_get("prod", "web-1", R, E), "GET",
                "/api/v1/namespaces/prod/pods/web-1");
    /* hostile values stay one encoded segment each */
    EXPECT_PATH(ird_k8s_pod_get("a b", "x/y", R, E), "GET", "/api/v1/namespaces/a%20b/pods/x%2Fy");
    EXPECT_PATH(ird_k8s_pod_get("100%", "caf\xc3\xa9", R, E), "GET",
                "/api/v1/namespaces/100%25/pods/caf%C3%A9");
    EXPECT_PATH(ird_k8s_pod_get("prod", "a?b#c&d=e", R, E), "GET",
                "/api/v1/namespaces/prod/pods/a%3Fb%23c%26d%3De");
    EXPECT_PATH(ird_k8s_pod_get("prod", "..x", R, E), "GET", "/api/v1/namespaces/prod/pods/..x");
    EXPECT_PATH(ird_k8s_object_get(ird_k8s_kind_find("Node"), NULL, "node-1", R, E), "GET",
                "/api/v1/nodes/node-1");

    struct ird_k8s_request r = {0};
    struct ird_err e = {{0}};
    CHECK_INT(ird_k8s_pod_get("prod", "..", &r, &e), -EINVAL);
    CHECK(strstr(e.msg, "cannot be used in a path") != NULL);
    CHECK_INT(ird_k8s_pod_get(".", "web-1", &r, &e), -EINVAL);
    CHECK_INT(ird_k8s_pod_get("prod", "", &r, &e), -EINVAL);
    CHECK_INT(ird_k8s_pod_get(NULL, "web-1", &r, &e), -EINVAL);
    CHECK_STR(e.msg, "namespace is empty");
    CHECK(r.path == NULL && r.body == NULL);
    /* cluster-scoped kinds take no namespace */
    CHECK_INT(ird_k8s_object_get(ird_k8s_kind_find("nodes"), "prod", "node-1", &r, &e), -EINVAL);
    CHECK_INT(ird_k8s_object_get(NULL, "prod", "x", &r, &e), -EINVAL);

    EXPECT_PATH(ird_k8s_pod_list("prod", "ird.io/quarantine=INC 1&x", R, E), "GET",
                "/api/v1/namespaces/prod/pods?labelSelector=ird.io%2Fquarantine%3DINC%201%26x");
    EXPECT_PATH(ird_k8s_pod_list("prod", NULL, R, E), "GET", "/api/v1/namespaces/prod/pods");
    EXPECT_PATH(ird_k8s_event_list_for("prod", "5b0c1d2e-1111-2222-3333-444455556666", R, E), "GET",
                "/api/v1/namespaces/prod/events?fieldSelector=involvedObject.uid%3D5b0c1d2e-1111-"
                "2222-3333-444455556666");
    /* a uid cannot add selector terms: ',' and '=' are escaped, then encoded */
    EXPECT_PATH(ird_k8s_event_list_for("prod", "a=b,reason=X", R, E), "GET",
                "/api/v1/namespaces/prod/events?fieldSelector=involvedObject.uid%3Da%5C%3Db%5C%"
                "2Creason%5C%3DX");
    CHECK_INT(ird_k8s_event_list_for("prod", "", &r, &e), -EINVAL);

    /* kinds */
    CHECK(ird_k8s_kind_find("Deployment") == ird_k8s_kind_find("deployments"));
    CHECK(ird_k8s_kind_find("deployment") == ird_k8s_kind_find("deployments"));
    CHECK(ird_k8s_kind_find("services") == NULL);
    CHECK(ird_k8s_kind_find("configmaps") == NULL);
    CHECK(pods && pods->namespaced && !ird_k8s_kind_find("nodes")->namespaced);
}

static void test_pods(void)
{
    EXPECT_PATH(ird_k8s_pod_delete("prod", "web-1", 0, R, E), "DELETE",
                "/api/v1/namespaces/prod/pods/web-1?gracePeriodSeconds=0");
    EXPECT_PATH(ird_k8s_pod_delete("prod", "web-1", 30, R, E), "DELETE",
                "/api/v1/namespaces/prod/pods/web-1?gracePeriodSeconds=30");
    EXPECT_PATH(ird_k8s_pod_delete("prod", "web-1", -1, R, E), "DELETE",
                "/api/v1/namespaces/prod/pods/web-1");

    struct ird_k8s_request r = {0};
    struct ird_err e = {{0}};
    CHECK_INT(ird_k8s_pod_evict("prod", "web-7d4b9c-abcde", 30, &r, &e), 0);
    record(&r);
    CHECK_STR(r.method, "POST");
    CHECK_STR(r.path, "/api/v1/namespaces/prod/pods/web-7d4b9c-abcde/eviction");
    CHECK_STR(r.content_type, "application/json");
    CHECK(same_json(r.body, "eviction.json"));
    ird_k8s_request_free(&r);
    CHECK_INT(ird_k8s_pod_evict("prod", "web-1", -1, &r, &e), 0);
    CHECK(body_is(r.body, "{\"apiVersion\":\"policy/v1\",\"kind\":\"Eviction\",\"metadata\":{"
                          "\"name\":\"web-1\",\"namespace\":\"prod\"}}"));
    ird_k8s_request_free(&r);

    /* logs: every option, in a fixed order */
    struct ird_k8s_log_opts o = IRD_K8S_LOG_OPTS_INIT;
    EXPECT_PATH(ird_k8s_pod_logs("prod", "web-1", &o, R, E), "GET",
                "/api/v1/namespaces/prod/pods/web-1/log");
    o.container = "side car";
    o.previous = true;
    o.timestamps = true;
    o.tail_lines = 5000;
    o.since_seconds = 3600;
    o.limit_bytes = 10485760;
    EXPECT_PATH(ird_k8s_pod_logs("prod", "web-1", &o, R, E), "GET",
                "/api/v1/namespaces/prod/pods/web-1/log?container=side%20car&previous=true&"
                "timestamps=true&tailLines=5000&sinceSeconds=3600&limitBytes=10485760");
    o = (struct ird_k8s_log_opts)IRD_K8S_LOG_OPTS_INIT;
    o.tail_lines = 0;
    EXPECT_PATH(ird_k8s_pod_logs("prod", "web-1", &o, R, E), "GET",
                "/api/v1/namespaces/prod/pods/web-1/log?tailLines=0");
    o.tail_lines = -1;
    CHECK_INT(ird_k8s_pod_logs("prod", "web-1", &o, &r, &e), -EINVAL);
    CHECK_STR(e.msg, "tailLines must be >= 0, got -1");
    o = (struct ird_k8s_log_opts)IRD_K8S_LOG_OPTS_INIT;
    o.limit_bytes = 0;
    CHECK_INT(ird_k8s_pod_logs("prod", "web-1", &o, &r, &e), -EINVAL);
    CHECK_STR(e.msg, "limitBytes must be >= 1, got 0");
    o = (struct ird_k8s_log_opts)IRD_K8S_LOG_OPTS_INIT;
    o.since_seconds = 0;
    CHECK_INT(ird_k8s_pod_logs("prod", "web-1", &o, &r, &e), -EINVAL);
    CHECK_STR(e.msg, "sinceSeconds must be >= 1, got 0");
    CHECK(r.path == NULL);
}

static void test_labels(void)
{
    const struct ird_k8s_kind *pods = ird_k8s_kind_find("pods");
    struct ird_k8s_request r = {0};
    struct ird_err e = {{0}};
    struct ird_k8s_kv kv[] = {
        {"ird.io/quarantine", "inc-42"}, {"old", NULL}, {"team", "a"}, {"team", "b"}};
    CHECK_INT(ird_k8s_label(pods, "prod", "web-1", kv, 4, &r, &e), 0);
    record(&r);
    CHECK_STR(r.method, "PATCH");
    CHECK_STR(r.path, "/api/v1/namespaces/prod/pods/web-1");
    CHECK_STR(r.content_type, "application/merge-patch+json");
    CHECK(body_is(r.body, "{\"metadata\":{\"labels\":{\"ird.io/quarantine\":\"inc-42\",\"old\":"
                          "null,\"team\":\"b\"}}}"));
    ird_k8s_request_free(&r);

    CHECK_INT(ird_k8s_pod_quarantine_label("prod", "web-1", "INC-42", true, &r, &e), 0);
    record(&r);
    CHECK(body_is(r.body, "{\"metadata\":{\"labels\":{\"ird.io/quarantine\":\"INC-42\"}}}"));
    ird_k8s_request_free(&r);
    CHECK_INT(ird_k8s_pod_quarantine_label("prod", "web-1", "INC-42", false, &r, &e), 0);
    CHECK(body_is(r.body, "{\"metadata\":{\"labels\":{\"ird.io/quarantine\":null}}}"));
    ird_k8s_request_free(&r);
    CHECK_INT(ird_k8s_pod_quarantine_label("prod", "web-1", "inc 42", true, &r, &e), -EINVAL);
    CHECK(strstr(e.msg, "cannot be a label value") != NULL);

    struct ird_k8s_kv bad_key = {"bad key", "x"};
    CHECK_INT(ird_k8s_label(pods, "prod", "web-1", &bad_key, 1, &r, &e), -EINVAL);
    CHECK_STR(e.msg, "label key \"bad key\" is not a valid qualified name");
    struct ird_k8s_kv bad_value = {"app", "-x"};
    CHECK_INT(ird_k8s_label(pods, "prod", "web-1", &bad_value, 1, &r, &e), -EINVAL);
    CHECK(strstr(e.msg, "label value \"-x\" for app is invalid") != NULL);
    CHECK_INT(ird_k8s_label(pods, "prod", "web-1", kv, 0, &r, &e), -EINVAL);
    CHECK(r.path == NULL);

    /* annotations take free text values */
    struct ird_k8s_kv note = {"ird.io/note", "contained: \"yes\" / 100%"};
    CHECK_INT(ird_k8s_annotate(ird_k8s_kind_find("Deployment"), "prod", "web", &note, 1, &r, &e),
              0);
    record(&r);
    CHECK_STR(r.path, "/apis/apps/v1/namespaces/prod/deployments/web");
    CHECK(body_is(r.body, "{\"metadata\":{\"annotations\":{\"ird.io/note\":\"contained: "
                          "\\\"yes\\\" / 100%\"}}}"));
    ird_k8s_request_free(&r);

    /* annotation keys are checked lower-cased, label keys as they are */
    struct ird_k8s_kv upper = {"Example.COM/Owner", "x"};
    CHECK_INT(ird_k8s_annotate(ird_k8s_kind_find("pods"), "prod", "web-1", &upper, 1, &r, &e), 0);
    ird_k8s_request_free(&r);
    CHECK_INT(ird_k8s_label(ird_k8s_kind_find("pods"), "prod", "web-1", &upper, 1, &r, &e),
              -EINVAL);
    struct ird_k8s_kv bad_ann = {"a b", "x"};
    CHECK_INT(ird_k8s_annotate(ird_k8s_kind_find("pods"), "prod", "web-1", &bad_ann, 1, &r, &e),
              -EINVAL);
    CHECK_STR(e.msg, "annotation key \"a b\" is not a valid qualified name");

    /* every supported kind can be read and labelled, nodes without a namespace */
    static const char *const kinds[] = {"pods",         "secrets",    "deployments",
                                        "statefulsets", "daemonsets", "networkpolicies"};
    struct ird_k8s_kv one = {"ird.io/incident", "inc-42"};
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        const struct ird_k8s_kind *k = ird_k8s_kind_find(kinds[i]);
        CHECK(k != NULL);
        CHECK_INT(ird_k8s_label(k, "prod", "obj", &one, 1, &r, &e), 0);
        record(&r);
        ird_k8s_request_free(&r);
        CHECK_INT(ird_k8s_object_get(k, "prod", "obj", &r, &e), 0);
        record(&r);
        ird_k8s_request_free(&r);
    }
    EXPECT_PATH(ird_k8s_label(ird_k8s_kind_find("nodes"), NULL, "node-1", &one, 1, R, E), "PATCH",
                "/api/v1/nodes/node-1");

    CHECK(ird_k8s_label_key_valid("app.kubernetes.io/managed-by"));
    CHECK(ird_k8s_label_key_valid("a"));
    CHECK(!ird_k8s_label_key_valid("Bad.Prefix/x"));
    CHECK(!ird_k8s_label_key_valid("/x"));
    CHECK(!ird_k8s_label_key_valid("x/"));
    CHECK(ird_k8s_label_value_valid(""));
    CHECK(ird_k8s_label_value_valid("INC-42_a.b"));
    CHECK(!ird_k8s_label_value_valid("a/b"));
    char long_value[65];
    memset(long_value, 'a', 64);
    long_value[64] = '\0';
    CHECK(!ird_k8s_label_value_valid(long_value));
    long_value[63] = '\0';
    CHECK(ird_k8s_label_value_valid(long_value));
}

static void test_dry_run(void)
{
    struct ird_k8s_request r = {0};
    CHECK_INT(ird_k8s_pod_delete("prod", "web-1", 0, &r, NULL), 0);
    CHECK_INT(ird_k8s_request_set_dry_run(&r), 0);
    CHECK_STR(r.path, "/api/v1/namespaces/prod/pods/web-1?gracePeriodSeconds=0&dryRun=All");
    CHECK_INT(ird_k8s_request_set_dry_run(&r), 0);
    CHECK_STR(r.path, "/api/v1/namespaces/prod/pods/web-1?gracePeriodSeconds=0&dryRun=All");
    ird_k8s_request_free(&r);
    CHECK_INT(ird_k8s_node_cordon("node-1", true, &r, NULL), 0);
    CHECK_INT(ird_k8s_request_set_dry_run(&r), 0);
    CHECK_STR(r.path, "/api/v1/nodes/node-1?dryRun=All");
    ird_k8s_request_free(&r);
    CHECK_INT(ird_k8s_pod_get("prod", "web-1", &r, NULL), 0);
    CHECK_INT(ird_k8s_request_set_dry_run(&r), -EINVAL);
    CHECK_STR(r.path, "/api/v1/namespaces/prod/pods/web-1");
    ird_k8s_request_free(&r);
    ird_k8s_request_free(&r); /* twice is harmless */
    ird_k8s_request_free(NULL);
    CHECK_INT(ird_k8s_request_set_dry_run(NULL), -EINVAL);
}

static void test_netpol(void)
{
    char name[IRD_K8S_NAME_MAX + 1];
    CHECK_INT(ird_k8s_quarantine_policy_name("inc-42", name, sizeof(name)), 0);
    CHECK_STR(name, "ird-quarantine-inc-42");
    CHECK_INT(ird_k8s_quarantine_policy_name("INC-42", name, sizeof(name)), 0);
    CHECK_STR(name, "ird-quarantine-inc-42-3fa6627d432c");
    CHECK_INT(ird_k8s_quarantine_policy_name("inc_1", name, sizeof(name)), 0);
    CHECK_STR(name, "ird-quarantine-inc-1-d5701cf0f424");
    CHECK_INT(ird_k8s_quarantine_policy_name("\xc3\x9c"
                                             "ber!!",
                                             name, sizeof(name)),
              0);
    CHECK_STR(name, "ird-quarantine-ber-25a27f9a4557");
    char long_id[301];
    memset(long_id, 'a', 300);
    long_id[300] = '\0';
    CHECK_INT(ird_k8s_quarantine_policy_name(long_id, name, sizeof(name)), 0);
    CHECK_STR(name, "ird-quarantine-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-9835fa6bf4e2");
    CHECK(ird_k8s_req_subdomain_valid(name, strlen(name)));
    CHECK_INT(ird_k8s_quarantine_policy_name("", name, sizeof(name)), -EINVAL);
    CHECK_INT(ird_k8s_quarantine_policy_name("inc-42", name, 10), -ENOSPC);

    struct ird_k8s_request r = {0};
    struct ird_err e = {{0}};
    struct ird_k8s_quarantine q = {.ns = "prod", .incident = "inc-42"};
    CHECK_INT(ird_k8s_netpol_create(&q, &r, &e), 0);
    record(&r);
    CHECK_STR(r.method, "POST");
    CHECK_STR(r.path, "/apis/networking.k8s.io/v1/namespaces/prod/networkpolicies");
    CHECK_STR(r.content_type, "application/json");
    CHECK(same_json(r.body, "expected-netpol-inc-42.json"));
    ird_k8s_request_free(&r);

    const char *cidrs[] = {"10.20.0.0/16", "2001:db8::/32"};
    struct ird_k8s_quarantine q2 = {.ns = "prod",
                                    .incident = "inc-42",
                                    .allow_dns = true,
                                    .egress_cidrs = cidrs,
                                    .n_egress_cidrs = 2};
    CHECK_INT(ird_k8s_netpol_create(&q2, &r, &e), 0);
    record(&r);
    CHECK(same_json(r.body, "expected-netpol-inc-42-dns-cidrs.json"));
    /* the DNS rule is the reference sample's rule */
    cJSON *sample = load_json("networkpolicy-deny-all-allow-dns.json");
    const cJSON *want_rule =
        cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(sample, "spec"), "egress"), 0);
    const cJSON *got_rule =
        cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(r.body, "spec"), "egress"), 0);
    CHECK(want_rule && got_rule && cJSON_Compare(want_rule, got_rule, 1));
    cJSON_Delete(sample);
    ird_k8s_request_free(&r);

    /* the 409 -> GET -> is it ours? path */
    cJSON *existing = load_json("netpol-existing-inc-42.json");
    CHECK(ird_k8s_netpol_is_wanted(&q, existing));
    CHECK(!ird_k8s_netpol_is_wanted(&q2, existing));
    struct ird_k8s_quarantine q_other = {.ns = "prod", .incident = "inc-43"};
    CHECK(!ird_k8s_netpol_is_wanted(&q_other, existing));
    CHECK(!ird_k8s_netpol_is_wanted(&q, NULL));

    CHECK_INT(ird_k8s_netpol_replace(&q2, existing, &r, &e), 0);
    record(&r);
    CHECK_STR(r.method, "PUT");
    CHECK_STR(r.path,
              "/apis/networking.k8s.io/v1/namespaces/prod/networkpolicies/ird-quarantine-inc-42");
    const cJSON *meta = cJSON_GetObjectItem(r.body, "metadata");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(meta, "resourceVersion")), "777");
    /* after the PUT the object is what we want */
    cJSON *after = cJSON_Duplicate(r.body, 1);
    CHECK(ird_k8s_netpol_is_wanted(&q2, after));
    cJSON_Delete(after);
    ird_k8s_request_free(&r);
    cJSON *no_rv = load_json("netpol-existing-inc-42.json");
    cJSON_DeleteItemFromObject(cJSON_GetObjectItem(no_rv, "metadata"), "resourceVersion");
    CHECK_INT(ird_k8s_netpol_replace(&q, no_rv, &r, &e), -EINVAL);
    CHECK(strstr(e.msg, "resourceVersion") != NULL);
    CHECK_INT(ird_k8s_netpol_replace(&q_other, existing, &r, &e), -EINVAL);
    cJSON_Delete(no_rv);
    cJSON_Delete(existing);

    EXPECT_PATH(ird_k8s_netpol_get("prod", "ird-quarantine-inc-42", R, E), "GET",
                "/apis/networking.k8s.io/v1/namespaces/prod/networkpolicies/ird-quarantine-inc-42");
    EXPECT_PATH(ird_k8s_netpol_delete("prod", "ird-quarantine-inc-42", R, E), "DELETE",
                "/apis/networking.k8s.io/v1/namespaces/prod/networkpolicies/ird-quarantine-inc-42");

    /* refusals */
    const char *bad[] = {"10.0.0.0/33"};
    struct ird_k8s_quarantine q3 = {
        .ns = "prod", .incident = "inc-42", .egress_cidrs = bad, .n_egress_cidrs = 1};
    CHECK_INT(ird_k8s_netpol_create(&q3, &r, &e), -EINVAL);
    CHECK_STR(e.msg, "egress CIDR \"10.0.0.0/33\": prefix length must be 0-32");
    struct ird_k8s_quarantine q4 = {.ns = "prod", .incident = "bad incident!"};
    CHECK_INT(ird_k8s_netpol_create(&q4, &r, &e), -EINVAL);
    CHECK(strstr(e.msg, "cannot be a label value") != NULL);
    CHECK(r.path == NULL);

    static const char *const good_cidrs[] = {"10.0.0.0/8",    "0.0.0.0/0", "192.168.1.1/32",
                                             "2001:db8::/32", "::/0",      "fd00::1/128"};
    for (size_t i = 0; i < sizeof(good_cidrs) / sizeof(good_cidrs[0]); i++) {
        CHECK(ird_k8s_cidr_valid(good_cidrs[i], NULL));
        if (!ird_k8s_cidr_valid(good_cidrs[i], NULL))
            fprintf(stderr, "  refused %s\n", good_cidrs[i]);
    }
    static const char *const bad_cidrs[] = {"10.0.0.0",       "10.0.0.0/33", "10.0.0/8",
                                            "2001:db8::/129", "10.0.0.0/08", "10.0.0.0/-1",
                                            "10.0.0.0/ 8",    "abc/8",       "/8",
                                            "10.0.0.0/8/9",   "10.0.0.0/",   "",
                                            "1.2.3.4 /8",     "010.0.0.0/8", "10.0.0.0/1000"};
    for (size_t i = 0; i < sizeof(bad_cidrs) / sizeof(bad_cidrs[0]); i++) {
        CHECK(!ird_k8s_cidr_valid(bad_cidrs[i], NULL));
        if (ird_k8s_cidr_valid(bad_cidrs[i], NULL))
            fprintf(stderr, "  accepted %s\n", bad_cidrs[i]);
    }
}

/* ---- secrets ---- */

struct counter_rng {
    unsigned char next;
    int calls;
};

static int counter_random(void *ctx, unsigned char *buf, size_t len)
{
    struct counter_rng *c = ctx;
    c->calls++;
    for (size_t i = 0; i < len; i++)
        buf[i] = c->next++;
    return 0;
}

static int stuck_random(void *ctx, unsigned char *buf, size_t len)
{
    (void)ctx;
    memset(buf, 0xff, len);
    return 0;
}

static int failing_random(void *ctx, unsigned char *buf, size_t len)
{
    (void)ctx;
    (void)buf;
    (void)len;
    return -ENOSYS;
}

/* Decode b64 and check it is `len` characters from alphabet; returns the text. */
static char *decode_value(const char *b64, size_t len, const char *alphabet)
{
    size_t n = strlen(b64);
    CHECK_INT(n, 4 * ((len + 2) / 3));
    unsigned char *out = calloc(1, n + 1);
    int got = EVP_DecodeBlock(out, (const unsigned char *)b64, (int)n);
    size_t pad = (n > 0 && b64[n - 1] == '=') + (n > 1 && b64[n - 2] == '=');
    CHECK(got >= 0);
    CHECK_INT((size_t)got - pad, len);
    for (size_t i = 0; i < len; i++)
        CHECK(out[i] && strchr(alphabet, out[i]) != NULL);
    return (char *)out;
}

static void test_secret_rotation(void)
{
    EXPECT_PATH(ird_k8s_secret_get("prod", "db", R, E), "GET",
                "/api/v1/namespaces/prod/secrets/db");

    cJSON *secret = load_json("secret-db.json");
    char *before = cJSON_PrintUnformatted(secret);
    struct counter_rng rng = {0, 0};
    struct ird_k8s_rotate_opts o = {.length = 20,
                                    .incident = "inc-42",
                                    .now_ms = NOW_MS,
                                    .random = counter_random,
                                    .random_ctx = &rng};
    struct ird_k8s_request r = {0};
    struct ird_err e = {{0}};
    cJSON *rotated = NULL;
    CHECK_INT(ird_k8s_secret_rotate(secret, &o, &r, &rotated, &e), 0);
    record(&r);
    CHECK_STR(r.method, "PUT");
    CHECK_STR(r.path, "/api/v1/namespaces/prod/secrets/db");
    CHECK_STR(r.content_type, "application/json");
    CHECK(body_is(rotated, "[\"password\",\"username\"]"));
    const cJSON *meta = cJSON_GetObjectItem(r.body, "metadata");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(meta, "resourceVersion")), "12345");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(meta, "uid")),
              "0f0e0d0c-1111-2222-3333-444455556666");
    CHECK(cJSON_GetObjectItem(meta, "managedFields") == NULL);
    const cJSON *ann = cJSON_GetObjectItem(meta, "annotations");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(ann, "owner")), "team-a");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(ann, "ird.io/rotated-at")),
              "2026-12-01T07:35:53Z");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(ann, "ird.io/rotated-by")), "inc-42");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(r.body, "type")), "Opaque");
    const cJSON *data = cJSON_GetObjectItem(r.body, "data");
    const char *pw = cJSON_GetStringValue(cJSON_GetObjectItem(data, "password"));
    const char *user = cJSON_GetStringValue(cJSON_GetObjectItem(data, "username"));
    CHECK(pw && strcmp(pw, "b2xkLXBhc3N3b3Jk"));
    CHECK(user && strcmp(user, "YWRtaW4="));
    if (pw && user) {
        char *p1 = decode_value(pw, 20, IRD_K8S_ROTATE_ALPHABET);
        char *p2 = decode_value(user, 20, IRD_K8S_ROTATE_ALPHABET);
        /* counter bytes 0..19 map straight onto the alphabet; the next key
         * goes on with the same random stream */
        CHECK_STR(p1, "ABCDEFGHIJKLMNOPQRST");
        CHECK_STR(p2, "UVWXYZabcdefghijklmn");
        free(p1);
        free(p2);
    }
    /* the input object is not touched */
    char *after = cJSON_PrintUnformatted(secret);
    CHECK_STR(after, before);
    free(after);

    /* what goes to logs and the audit trail */
    cJSON *red = ird_k8s_request_redacted_body(&r);
    const cJSON *rdata = cJSON_GetObjectItem(red, "data");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(rdata, "password")), "<redacted>");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(rdata, "username")), "<redacted>");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(
                  cJSON_GetObjectItem(cJSON_GetObjectItem(red, "metadata"), "annotations"),
                  "ird.io/rotated-by")),
              "inc-42");
    char *red_text = cJSON_PrintUnformatted(red);
    CHECK(red_text && !strstr(red_text, pw));
    free(red_text);
    cJSON_Delete(red);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(data, "password")), pw);
    cJSON_Delete(rotated);
    ird_k8s_request_free(&r);

    /* listed keys only; rejection sampling on a 3-letter alphabet: 255 is skipped */
    const char *keys[] = {"password", "password"};
    struct counter_rng rng2 = {253, 0};
    o.keys = keys;
    o.n_keys = 2;
    o.alphabet = "abc";
    o.length = 6;
    o.random_ctx = &rng2;
    CHECK_INT(ird_k8s_secret_rotate(secret, &o, &r, &rotated, &e), 0);
    CHECK(body_is(rotated, "[\"password\"]"));
    data = cJSON_GetObjectItem(r.body, "data");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(data, "username")), "YWRtaW4=");
    char *v = decode_value(cJSON_GetStringValue(cJSON_GetObjectItem(data, "password")), 6, "abc");
    CHECK_STR(v, "bcabca"); /* 253%3, 254%3, (255 rejected), 0%3, 1%3, 2%3, 3%3 */
    free(v);
    cJSON_Delete(rotated);
    ird_k8s_request_free(&r);

    /* refusals, each naming the secret */
    rotated = NULL;
    const char *missing[] = {"nope"};
    o.keys = missing;
    o.n_keys = 1;
    CHECK_INT(ird_k8s_secret_rotate(secret, &o, &r, &rotated, &e), -EINVAL);
    CHECK_STR(e.msg, "secret prod/db has no key \"nope\"");
    o.keys = NULL;
    o.n_keys = 0;
    o.alphabet = "aab";
    CHECK_INT(ird_k8s_secret_rotate(secret, &o, &r, &rotated, &e), -EINVAL);
    CHECK(strstr(e.msg, "repeats") != NULL);
    o.alphabet = NULL;
    o.length = 0;
    CHECK_INT(ird_k8s_secret_rotate(secret, &o, &r, &rotated, &e), -EINVAL);
    o.length = 16;
    o.random = stuck_random;
    CHECK_INT(ird_k8s_secret_rotate(secret, &o, &r, &rotated, &e), -EIO);
    o.random = failing_random;
    CHECK_INT(ird_k8s_secret_rotate(secret, &o, &r, &rotated, &e), -ENOSYS);
    o.random = counter_random;

    cJSON *immutable = cJSON_Duplicate(secret, 1);
    cJSON_AddTrueToObject(immutable, "immutable");
    CHECK_INT(ird_k8s_secret_rotate(immutable, &o, &r, &rotated, &e), -EINVAL);
    CHECK_STR(e.msg, "secret prod/db is immutable; ird cannot rotate it");
    cJSON_Delete(immutable);

    cJSON *tls = cJSON_Duplicate(secret, 1);
    cJSON_ReplaceItemInObject(tls, "type", cJSON_CreateString("kubernetes.io/tls"));
    CHECK_INT(ird_k8s_secret_rotate(tls, &o, &r, &rotated, &e), -EINVAL);
    CHECK_STR(e.msg,
              "secret prod/db has type kubernetes.io/tls, which ird is not allowed to rotate");
    const char *allowed[] = {"Opaque", "kubernetes.io/tls"};
    o.allowed_types = allowed;
    o.n_allowed_types = 2;
    CHECK_INT(ird_k8s_secret_rotate(tls, &o, &r, &rotated, &e), 0);
    cJSON_Delete(rotated);
    rotated = NULL;
    ird_k8s_request_free(&r);
    o.allowed_types = NULL;
    o.n_allowed_types = 0;
    cJSON_Delete(tls);

    cJSON *no_rv = cJSON_Duplicate(secret, 1);
    cJSON_DeleteItemFromObject(cJSON_GetObjectItem(no_rv, "metadata"), "resourceVersion");
    CHECK_INT(ird_k8s_secret_rotate(no_rv, &o, &r, &rotated, &e), -EINVAL);
    CHECK(strstr(e.msg, "resourceVersion") != NULL);
    cJSON_Delete(no_rv);

    cJSON *empty = cJSON_Duplicate(secret, 1);
    cJSON_DeleteItemFromObject(empty, "data");
    CHECK_INT(ird_k8s_secret_rotate(empty, &o, &r, &rotated, &e), -EINVAL);
    CHECK_STR(e.msg, "secret prod/db has no data keys to rotate");
    cJSON_Delete(empty);
    CHECK(r.path == NULL && rotated == NULL);

    /* redaction of a merge patch on a secret keeps removals visible */
    struct ird_k8s_request patch = {0};
    patch.method = "PATCH";
    patch.resource = ird_k8s_resource_find("patch", "", "secrets");
    patch.body = cJSON_Parse("{\"data\":{\"k\":\"c2VjcmV0\",\"gone\":null},"
                             "\"stringData\":{\"plain\":\"secret\"}}");
    cJSON *pred = ird_k8s_request_redacted_body(&patch);
    CHECK(body_is(pred, "{\"data\":{\"k\":\"<redacted>\",\"gone\":null},\"stringData\":{"
                        "\"plain\":\"<redacted>\"}}"));
    cJSON_Delete(pred);
    cJSON_Delete(patch.body);
    /* other bodies are copied as they are */
    CHECK_INT(ird_k8s_pod_evict("prod", "web-1", 5, &r, NULL), 0);
    cJSON *copy = ird_k8s_request_redacted_body(&r);
    CHECK(cJSON_Compare(copy, r.body, 1));
    cJSON_Delete(copy);
    ird_k8s_request_free(&r);

    free(before);
    cJSON_Delete(secret);
}

static void test_secret_discovery(void)
{
    cJSON *pod = load_json("pod-all-refs.json");
    cJSON *names = ird_k8s_pod_secret_names(pod);
    CHECK(body_is(names, "[\"db-creds\",\"api-token\",\"init-secret\",\"smtp\",\"app-env\","
                         "\"debug-secret\"]"));
    cJSON_Delete(names);
    cJSON *bare = cJSON_Parse("{\"spec\":{\"containers\":[{\"name\":\"c\"}]}}");
    names = ird_k8s_pod_secret_names(bare);
    CHECK(body_is(names, "[]"));
    cJSON_Delete(names);
    cJSON_Delete(bare);
    CHECK(ird_k8s_pod_secret_names(NULL) == NULL);
    cJSON_Delete(pod);

    cJSON *deploy = load_json("deployment-web.json");
    cJSON *sts = load_json("statefulset-cache.json");
    cJSON *ds = load_json("daemonset-agent.json");
    CHECK(ird_k8s_workload_uses_secret(deploy, "db"));
    CHECK(!ird_k8s_workload_uses_secret(deploy, "registry-creds")); /* imagePullSecrets */
    CHECK(!ird_k8s_workload_uses_secret(deploy, "cache-tls"));
    CHECK(ird_k8s_workload_uses_secret(sts, "cache-tls"));
    CHECK(!ird_k8s_workload_uses_secret(sts, "db"));
    CHECK(ird_k8s_workload_uses_secret(ds, "agent-env"));
    CHECK(!ird_k8s_workload_uses_secret(ds, "db")); /* only as an image pull secret */
    CHECK(!ird_k8s_workload_uses_secret(NULL, "db"));
    cJSON_Delete(deploy);
    cJSON_Delete(sts);
    cJSON_Delete(ds);
}

static void test_workloads_and_nodes(void)
{
    const struct ird_k8s_kind *deploy = ird_k8s_kind_find("deployments");
    const struct ird_k8s_kind *sts = ird_k8s_kind_find("statefulsets");
    const struct ird_k8s_kind *ds = ird_k8s_kind_find("daemonsets");
    EXPECT_PATH(ird_k8s_workload_list(deploy, "prod", R, E), "GET",
                "/apis/apps/v1/namespaces/prod/deployments");
    EXPECT_PATH(ird_k8s_workload_list(sts, "prod", R, E), "GET",
                "/apis/apps/v1/namespaces/prod/statefulsets");
    EXPECT_PATH(ird_k8s_workload_list(ds, "prod", R, E), "GET",
                "/apis/apps/v1/namespaces/prod/daemonsets");
    struct ird_k8s_request r = {0};
    struct ird_err e = {{0}};
    CHECK_INT(ird_k8s_workload_list(ird_k8s_kind_find("pods"), "prod", &r, &e), -EINVAL);

    cJSON *web = load_json("deployment-web.json");
    CHECK_INT(ird_k8s_workload_restart(deploy, web, NOW_MS, &r, &e), 0);
    record(&r);
    CHECK_STR(r.method, "PATCH");
    CHECK_STR(r.path, "/apis/apps/v1/namespaces/prod/deployments/web?fieldManager=ird");
    CHECK_STR(r.content_type, "application/strategic-merge-patch+json");
    CHECK(body_is(r.body, "{\"spec\":{\"template\":{\"metadata\":{\"annotations\":{\"kubectl."
                          "kubernetes.io/restartedAt\":\"2026-12-01T07:35:53Z\"}}}}}"));
    CHECK_INT(ird_k8s_request_set_dry_run(&r), 0);
    CHECK_STR(r.path, "/apis/apps/v1/namespaces/prod/deployments/web?fieldManager=ird&dryRun=All");
    ird_k8s_request_free(&r);
    cJSON_AddTrueToObject(cJSON_GetObjectItem(web, "spec"), "paused");
    CHECK_INT(ird_k8s_workload_restart(deploy, web, NOW_MS, &r, &e), -EINVAL);
    CHECK_STR(e.msg, "deployments prod/web is paused; resume it before restarting");
    cJSON_Delete(web);
    cJSON *cache = load_json("statefulset-cache.json");
    EXPECT_PATH(ird_k8s_workload_restart(sts, cache, NOW_MS, R, E), "PATCH",
                "/apis/apps/v1/namespaces/prod/statefulsets/cache?fieldManager=ird");
    cJSON_Delete(cache);
    cJSON *agent = load_json("daemonset-agent.json");
    EXPECT_PATH(ird_k8s_workload_restart(ds, agent, NOW_MS, R, E), "PATCH",
                "/apis/apps/v1/namespaces/prod/daemonsets/agent?fieldManager=ird");
    CHECK_INT(ird_k8s_workload_restart(ird_k8s_kind_find("pods"), agent, NOW_MS, &r, &e), -EINVAL);
    cJSON_Delete(agent);

    CHECK_INT(ird_k8s_workload_scale(deploy, "prod", "web", 0, &r, &e), 0);
    record(&r);
    CHECK_STR(r.path, "/apis/apps/v1/namespaces/prod/deployments/web/scale");
    CHECK_STR(r.resource->resource, "deployments/scale");
    CHECK_STR(r.content_type, "application/merge-patch+json");
    CHECK(body_is(r.body, "{\"spec\":{\"replicas\":0}}"));
    ird_k8s_request_free(&r);
    EXPECT_PATH(ird_k8s_workload_scale(sts, "prod", "cache", 5, R, E), "PATCH",
                "/apis/apps/v1/namespaces/prod/statefulsets/cache/scale");
    CHECK_INT(ird_k8s_workload_scale(ds, "prod", "agent", 1, &r, &e), -EINVAL);
    CHECK_INT(ird_k8s_workload_scale(deploy, "prod", "web", -1, &r, &e), -EINVAL);
    CHECK_INT(ird_k8s_workload_scale(deploy, "prod", "web", 1LL << 31, &r, &e), -EINVAL);

    CHECK_INT(ird_k8s_node_cordon("node-1", true, &r, &e), 0);
    record(&r);
    CHECK_STR(r.method, "PATCH");
    CHECK_STR(r.path, "/api/v1/nodes/node-1");
    CHECK_STR(r.content_type, "application/merge-patch+json");
    CHECK(body_is(r.body, "{\"spec\":{\"unschedulable\":true}}"));
    ird_k8s_request_free(&r);
    CHECK_INT(ird_k8s_node_cordon("node-1", false, &r, &e), 0);
    CHECK(body_is(r.body, "{\"spec\":{\"unschedulable\":null}}"));
    ird_k8s_request_free(&r);
}

static void test_events(void)
{
    struct ird_k8s_event ev = {
        .api_version = "v1",
        .kind = "Pod",
        .name = "web-1",
        .ns = "prod",
        .uid = "5b0c1d2e-1111-2222-3333-444455556666",
        .reason = "Quarantined",
        .action = "Isolate",
        .type = "Warning",
        .note = "Pod isolated by NetworkPolicy ird-quarantine-inc-42 (incident inc-42)",
        .reporting_instance = "ird-0",
        .now_ns = 1796110553123456789LL,
    };
    struct ird_k8s_request r = {0};
    struct ird_err e = {{0}};
    CHECK_INT(ird_k8s_event_create(&ev, &r, &e), 0);
    record(&r);
    CHECK_STR(r.method, "POST");
    CHECK_STR(r.path, "/apis/events.k8s.io/v1/namespaces/prod/events");
    CHECK_STR(r.content_type, "application/json");
    CHECK(same_json(r.body, "expected-event-web-1.json"));
    static const char *const must_be_unset[] = {
        "firstTimestamp", "lastTimestamp", "count", "source", "series", "deprecatedSource"};
    for (size_t i = 0; i < sizeof(must_be_unset) / sizeof(must_be_unset[0]); i++)
        CHECK(!cJSON_HasObjectItem(r.body, must_be_unset[i]));
    ird_k8s_request_free(&r);

    /* a note is cut to 1024 bytes without splitting a UTF-8 character */
    char note[1100];
    memset(note, 'a', 1023);
    memcpy(note + 1023, "\xc3\xa9tc", 4);
    note[1027] = '\0';
    ev.note = note;
    CHECK_INT(ird_k8s_event_create(&ev, &r, &e), 0);
    const char *got = cJSON_GetStringValue(cJSON_GetObjectItem(r.body, "note"));
    CHECK_INT(got ? strlen(got) : 0, 1023);
    ird_k8s_request_free(&r);
    memset(note, 'b', 1099);
    note[1099] = '\0';
    CHECK_INT(ird_k8s_event_create(&ev, &r, &e), 0);
    got = cJSON_GetStringValue(cJSON_GetObjectItem(r.body, "note"));
    CHECK_INT(got ? strlen(got) : 0, 1024);
    ird_k8s_request_free(&r);

    /* a cluster-scoped object: the event goes to "default", regarding has no namespace */
    struct ird_k8s_event node = ev;
    node.api_version = "v1";
    node.kind = "Node";
    node.name = "node-1";
    node.ns = NULL;
    node.uid = NULL;
    node.note = NULL;
    node.reason = "Cordoned";
    node.action = "Cordon";
    node.type = "Normal";
    CHECK_INT(ird_k8s_event_create(&node, &r, &e), 0);
    CHECK_STR(r.path, "/apis/events.k8s.io/v1/namespaces/default/events");
    CHECK(body_is(cJSON_GetObjectItem(r.body, "regarding"),
                  "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"name\":\"node-1\"}"));
    CHECK(!cJSON_HasObjectItem(r.body, "note"));
    CHECK_STR(
        cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(r.body, "metadata"), "name")),
        "node-1.18ed110828410715");
    ird_k8s_request_free(&r);

    /* a long regarding name is shortened so the event name stays <= 253 */
    char long_name[254];
    memset(long_name, 'x', 253);
    long_name[200] = '-';
    long_name[253] = '\0';
    node.name = long_name;
    CHECK_INT(ird_k8s_event_create(&node, &r, &e), 0);
    const char *ename =
        cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(r.body, "metadata"), "name"));
    CHECK(ename && strlen(ename) <= 253);
    CHECK(ename && ird_k8s_req_subdomain_valid(ename, strlen(ename)));
    ird_k8s_request_free(&r);
    node.name = "node-1";

    /* the API's create rules, refused before sending */
    struct ird_k8s_event bad = node;
    bad.type = "Error";
    CHECK_INT(ird_k8s_event_create(&bad, &r, &e), -EINVAL);
    CHECK_STR(e.msg, "event type must be Normal or Warning");
    bad = node;
    bad.action = NULL;
    CHECK_INT(ird_k8s_event_create(&bad, &r, &e), -EINVAL);
    CHECK_STR(e.msg, "event action is required");
    char big[200];
    memset(big, 'r', 199);
    big[199] = '\0';
    bad = node;
    bad.reason = big;
    CHECK_INT(ird_k8s_event_create(&bad, &r, &e), -EINVAL);
    CHECK_STR(e.msg, "event reason is longer than 128 characters");
    bad = node;
    bad.reporting_instance = big;
    CHECK_INT(ird_k8s_event_create(&bad, &r, &e), -EINVAL);
    CHECK(r.path == NULL);
}

/* ---- Status reader ---- */

static const struct {
    const char *file;
    enum ird_k8s_verdict verdict;
    int64_t retry_after;
} error_samples[] = {
    {"200-delete-success-networkpolicy.json", IRD_K8S_OK, 0},
    {"201-eviction-success.json", IRD_K8S_OK, 0},
    {"401-unauthorized.json", IRD_K8S_FAIL, 0},
    {"403-forbidden-rbac.json", IRD_K8S_FAIL, 0},
    {"404-notfound-networkpolicy.json", IRD_K8S_FAIL, 0},
    {"404-notfound-pod.json", IRD_K8S_FAIL, 0},
    {"409-alreadyexists-networkpolicy.json", IRD_K8S_ALREADY_EXISTS, 0},
    {"409-conflict-secret-resourceversion.json", IRD_K8S_CONFLICT, 0},
    {"422-invalid-apply-without-fieldmanager.json", IRD_K8S_FAIL, 0},
    {"429-eviction-pdb-blocked.json", IRD_K8S_RETRY, 0},
    {"429-eviction-pdb-processing-retry10.json", IRD_K8S_RETRY, 10},
    {"500-eviction-multiple-pdbs.json", IRD_K8S_RETRY, 0},
    {"500-internal-error.json", IRD_K8S_RETRY, 0},
    {"503-apiserver-shutting-down.json", IRD_K8S_RETRY, 1},
};
#define N_SAMPLES (sizeof(error_samples) / sizeof(error_samples[0]))

static void test_status_samples(void)
{
    cJSON *headers = load_json("errors/HEADERS.json");
    CHECK(headers != NULL);
    for (size_t i = 0; i < N_SAMPLES; i++) {
        char rel[128];
        snprintf(rel, sizeof(rel), "errors/%s", error_samples[i].file);
        size_t len = 0;
        char *body = read_fixture(rel, &len);
        const cJSON *h = cJSON_GetObjectItem(headers, error_samples[i].file);
        CHECK(body && h);
        if (!body || !h) {
            free(body);
            continue;
        }
        int http = cJSON_GetObjectItem(h, "http")->valueint;
        const char *ra = cJSON_GetStringValue(cJSON_GetObjectItem(h, "retry_after_header"));
        struct ird_k8s_status s;
        CHECK_INT(ird_k8s_status_parse(http, body, len, ra, &s), 0);
        CHECK(s.is_status);
        CHECK_INT(s.http_code, http);
        if (ird_k8s_status_classify(&s) != error_samples[i].verdict)
            fprintf(stderr, "  %s: verdict %s\n", error_samples[i].file,
                    ird_k8s_verdict_name(ird_k8s_status_classify(&s)));
        CHECK_INT(ird_k8s_status_classify(&s), error_samples[i].verdict);
        CHECK_INT(s.retry_after_seconds, error_samples[i].retry_after);
        /* the readable line always carries the API's own message */
        char line[1024];
        ird_k8s_status_format(&s, line, sizeof(line));
        CHECK(strchr(line, '\n') == NULL);
        if (s.message)
            CHECK(strstr(line, s.message) != NULL);
        struct ird_err e = {{0}};
        int rc = ird_k8s_status_to_err(&s, &e);
        CHECK(http < 300 ? rc == 0 : rc < 0);
        ird_k8s_status_free(&s);
        free(body);
    }
    cJSON_Delete(headers);

    /* every sample in the fixture folder is in the table above */
    const char *dir = getenv("IRD_FIXTURES");
    char path[1024];
    snprintf(path, sizeof(path), "%s/k8s/errors", dir ? dir : "tests/fixtures");
    DIR *d = opendir(path);
    CHECK(d != NULL);
    size_t seen = 0;
    for (struct dirent *de; d && (de = readdir(d));) {
        size_t n = strlen(de->d_name);
        if (n < 6 || strcmp(de->d_name + n - 5, ".json") || !strcmp(de->d_name, "HEADERS.json"))
            continue;
        bool known = false;
        for (size_t i = 0; i < N_SAMPLES; i++)
            known = known || !strcmp(error_samples[i].file, de->d_name);
        CHECK(known);
        if (!known)
            fprintf(stderr, "  sample %s has no expectation\n", de->d_name);
        seen++;
    }
    if (d)
        closedir(d);
    CHECK_INT(seen, N_SAMPLES);
}

static struct ird_k8s_status parse_sample(const char *file, int http, const char *ra)
{
    char rel[128];
    snprintf(rel, sizeof(rel), "errors/%s", file);
    size_t len = 0;
    char *body = read_fixture(rel, &len);
    struct ird_k8s_status s = {0};
    CHECK_INT(ird_k8s_status_parse(http, body, len, ra, &s), 0);
    free(body);
    return s;
}

static void test_status_details(void)
{
    char line[1024];
    struct ird_k8s_status s = parse_sample("403-forbidden-rbac.json", 403, NULL);
    CHECK_STR(ird_k8s_status_format(&s, line, sizeof(line)),
              "403 Forbidden: pods \"web-7d4b9c-abcde\" is forbidden: User "
              "\"system:serviceaccount:ir-system:ir-daemon\" cannot patch resource \"pods\" in API "
              "group \"\" in the namespace \"prod\"");
    CHECK_STR(s.reason, "Forbidden");
    CHECK_STR(s.name, "web-7d4b9c-abcde");
    CHECK_STR(s.kind, "pods");
    CHECK_INT(s.code, 403);
    struct ird_err e = {{0}};
    CHECK_INT(ird_k8s_status_to_err(&s, &e), -EPERM);
    CHECK_STR(e.msg, line);
    ird_k8s_status_free(&s);
    ird_k8s_status_free(&s);

    s = parse_sample("404-notfound-networkpolicy.json", 404, NULL);
    CHECK_STR(
        ird_k8s_status_format(&s, line, sizeof(line)),
        "404 Not Found: networkpolicies.networking.k8s.io \"quarantine-web-7d4b9c-abcde\" not "
        "found");
    CHECK_STR(s.group, "networking.k8s.io");
    CHECK_STR(s.kind, "networkpolicies");
    CHECK_INT(ird_k8s_status_to_err(&s, NULL), -ENOENT);
    ird_k8s_status_free(&s);

    s = parse_sample("409-alreadyexists-networkpolicy.json", 409, NULL);
    CHECK_STR(s.reason, "AlreadyExists");
    CHECK_INT(ird_k8s_status_to_err(&s, NULL), -EEXIST);
    ird_k8s_status_free(&s);

    s = parse_sample("422-invalid-apply-without-fieldmanager.json", 422, NULL);
    CHECK_INT(s.n_causes, 1);
    if (s.n_causes == 1) {
        CHECK_STR(s.causes[0].reason, "FieldValueRequired");
        CHECK_STR(s.causes[0].field, "fieldManager");
        CHECK_STR(s.causes[0].message, "Required value: is required for apply patch");
    }
    /* the cause is already in the message: not repeated */
    CHECK_STR(ird_k8s_status_format(&s, line, sizeof(line)),
              "422 Unprocessable Entity: PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: "
              "Required value: is required for apply patch");
    ird_k8s_status_free(&s);

    s = parse_sample("429-eviction-pdb-blocked.json", 429, NULL);
    CHECK_STR(ird_k8s_status_format(&s, line, sizeof(line)),
              "429 Too Many Requests: Cannot evict pod as it would violate the pod's disruption "
              "budget. (DisruptionBudget: The disruption budget web-pdb needs 2 healthy pods and "
              "has 2 currently)");
    CHECK_INT(s.retry_after_seconds, 0);
    CHECK_INT(ird_k8s_status_to_err(&s, NULL), -EAGAIN);
    ird_k8s_status_free(&s);

    s = parse_sample("500-eviction-multiple-pdbs.json", 500, NULL);
    CHECK(s.reason == NULL);
    CHECK_STR(ird_k8s_status_format(&s, line, sizeof(line)),
              "500 Internal Server Error: This pod has more than one PodDisruptionBudget, which "
              "the eviction subresource does not support.");
    ird_k8s_status_free(&s);

    /* priority-and-fairness / max-in-flight: plain text, Retry-After header */
    const char *apf = "Too many requests, please try again later.\n";
    CHECK_INT(ird_k8s_status_parse(429, apf, strlen(apf), "1", &s), 0);
    CHECK(!s.is_status);
    CHECK_STR(s.message, "Too many requests, please try again later.");
    CHECK_INT(s.retry_after_seconds, 1);
    CHECK_INT(ird_k8s_status_classify(&s), IRD_K8S_RETRY);
    CHECK_STR(ird_k8s_status_format(&s, line, sizeof(line)),
              "429 Too Many Requests: Too many requests, please try again later.");
    ird_k8s_status_free(&s);

    /* shutdown 429: plain text, Retry-After: 5; no body at all is fine too */
    CHECK_INT(ird_k8s_status_parse(429, NULL, 0, " 5 ", &s), 0);
    CHECK_INT(s.retry_after_seconds, 5);
    CHECK_STR(ird_k8s_status_format(&s, line, sizeof(line)), "429 Too Many Requests");
    ird_k8s_status_free(&s);

    /* a proxy's HTML page stays one bounded line; a date Retry-After is ignored */
    const char *html = "<html>\r\n<body>bad gateway</body>\n</html>";
    CHECK_INT(ird_k8s_status_parse(502, html, strlen(html), "Wed, 21 Oct 2026 07:28:00 GMT", &s),
              0);
    CHECK_STR(s.message, "<html>");
    CHECK_INT(s.retry_after_seconds, 0);
    CHECK_INT(ird_k8s_status_classify(&s), IRD_K8S_RETRY);
    ird_k8s_status_free(&s);
    const char *timeout = "{\"kind\":\"Status\",\"message\":\"Timeout: x\\ny\"}";
    CHECK_INT(ird_k8s_status_parse(504, timeout, strlen(timeout), "99999999999", &s), 0);
    CHECK_INT(s.retry_after_seconds, IRD_K8S_STATUS_MAX_RETRY_SECS);
    CHECK_STR(ird_k8s_status_format(&s, line, sizeof(line)), "504 Gateway Timeout: Timeout: x y");
    CHECK_INT(ird_k8s_status_classify(&s), IRD_K8S_RETRY);
    ird_k8s_status_free(&s);

    /* truncation keeps the line NUL-terminated */
    s = parse_sample("403-forbidden-rbac.json", 403, NULL);
    char small[16];
    CHECK_STR(ird_k8s_status_format(&s, small, sizeof(small)), "403 Forbidden: ");
    ird_k8s_status_free(&s);

    struct ird_k8s_status other = {.http_code = 400};
    CHECK_INT(ird_k8s_status_classify(&other), IRD_K8S_FAIL);
    other.http_code = 501;
    CHECK_INT(ird_k8s_status_classify(&other), IRD_K8S_FAIL);
    other.http_code = 409; /* no reason: treat as a conflict to re-read */
    CHECK_INT(ird_k8s_status_classify(&other), IRD_K8S_CONFLICT);
    CHECK_INT(ird_k8s_status_classify(NULL), IRD_K8S_FAIL);
    CHECK_STR(ird_k8s_verdict_name(IRD_K8S_ALREADY_EXISTS), "already_exists");
}

static void test_rbac_table(void)
{
    /* rows are unique */
    for (size_t i = 0; i < ird_k8s_resources_count; i++) {
        for (size_t j = i + 1; j < ird_k8s_resources_count; j++) {
            const struct ird_k8s_resource *a = &ird_k8s_resources[i], *b = &ird_k8s_resources[j];
            bool dup = !strcmp(a->verb, b->verb) && !strcmp(a->group, b->group) &&
                       !strcmp(a->resource, b->resource);
            CHECK(!dup);
        }
    }
    /* and every row is produced by some builder exercised above */
    CHECK(ird_k8s_resources_count <= sizeof(row_hits) / sizeof(row_hits[0]));
    for (size_t i = 0; i < ird_k8s_resources_count; i++) {
        if (!row_hits[i])
            fprintf(stderr, "  RBAC row %s %s/%s is not produced by any builder\n",
                    ird_k8s_resources[i].verb, ird_k8s_resources[i].group,
                    ird_k8s_resources[i].resource);
        CHECK(row_hits[i] > 0);
    }
    CHECK(ird_k8s_resource_find("create", "", "pods/eviction") != NULL);
    CHECK(ird_k8s_resource_find("deletecollection", "", "pods") == NULL);
    CHECK(ird_k8s_resource_find("get", "", "configmaps") == NULL);
}

/* kubectl apply keeps the whole Secret, values included, in an annotation:
 * a rotation does not write it back, and a planned call never shows it. */
static void test_secret_last_applied(void)
{
    cJSON *secret = load_json("secret-db.json");
    cJSON *meta = cJSON_GetObjectItem(secret, "metadata");
    cJSON *ann = cJSON_GetObjectItem(meta, "annotations");
    cJSON_AddStringToObject(ann, "kubectl.kubernetes.io/last-applied-configuration",
                            "{\"data\":{\"password\":\"b2xkLXBhc3N3b3Jk\"}}");
    struct counter_rng rng = {0, 0};
    struct ird_k8s_rotate_opts o = {.length = 20,
                                    .incident = "inc-42",
                                    .now_ms = NOW_MS,
                                    .random = counter_random,
                                    .random_ctx = &rng};
    struct ird_k8s_request r = {0};
    struct ird_err e = {{0}};
    cJSON *rotated = NULL;
    CHECK_INT(ird_k8s_secret_rotate(secret, &o, &r, &rotated, &e), 0);
    const cJSON *bann = cJSON_GetObjectItem(cJSON_GetObjectItem(r.body, "metadata"), "annotations");
    CHECK(cJSON_GetObjectItem(bann, "kubectl.kubernetes.io/last-applied-configuration") == NULL);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(bann, "owner")), "team-a");
    ird_k8s_request_free(&r);
    cJSON_Delete(rotated);

    /* Any Secret body shown as a planned call: data and that annotation hidden. */
    struct ird_k8s_request plain = {.method = "PUT", .body = cJSON_Duplicate(secret, 1)};
    cJSON *red = ird_k8s_request_redacted_body(&plain);
    char *text = cJSON_PrintUnformatted(red);
    CHECK(text && strstr(text, "b2xkLXBhc3N3b3Jk") == NULL);
    CHECK(text && strstr(text, "\"kubectl.kubernetes.io/last-applied-configuration\":"
                               "\"<redacted>\"") != NULL);
    cJSON_free(text);
    cJSON_Delete(red);
    cJSON_Delete(plain.body);
    cJSON_Delete(secret);
}

int main(void)
{
    test_paths_and_encoding();
    test_secret_last_applied();
    test_pods();
    test_labels();
    test_dry_run();
    test_netpol();
    test_secret_rotation();
    test_secret_discovery();
    test_workloads_and_nodes();
    test_events();
    test_status_samples();
    test_status_details();
    test_rbac_table(); /* last: counts the rows the tests above produced */
    return ird_check_summary("test_k8s_requests");
}
