/* k8s credentials: kubeconfig loading and merging, in-cluster service account,
 * token file re-reading, and exec credential plugins run on a real uv loop. */
#include "check.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"
#include "k8s/credentials.h"

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *fixtures;
static char state_dir[64];

static const char *fx(const char *rel)
{
    static char paths[4][512];
    static int next;
    char *p = paths[next++ % 4];
    snprintf(p, sizeof(paths[0]), "%s/kubeconfig/%s", fixtures, rel);
    return p;
}

static char *slurp(const char *path)
{
    struct ird_buf b = IRD_BUF_INIT;
    if (ird_k8s_file_read(path, 1 << 20, &b) != 0) {
        ird_buf_free(&b);
        return NULL;
    }
    return ird_buf_steal(&b);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return;
    }
    fputs(text, f);
    fclose(f);
}

static struct ird_k8s_credentials *load(const char *paths, const char *context, struct ird_err *err)
{
    struct ird_k8s_kubeconfig_opts o = {.paths = paths, .context = context};
    struct ird_k8s_credentials *c = NULL;
    err->msg[0] = '\0';
    int rc = ird_k8s_kubeconfig_load(&o, &c, err);
    if (rc) {
        CHECK(c == NULL);
        return NULL;
    }
    return c;
}

static const char *token_now(struct ird_k8s_credentials *c, int64_t now)
{
    const char *t = "unset";
    struct ird_err err;
    int rc = ird_k8s_token_get(c, NULL, now, NULL, NULL, &t, &err);
    CHECK_INT(rc, 0);
    return rc == 0 ? t : "error";
}

static int contains(const char *hay, const char *needle)
{
    return hay && strstr(hay, needle) != NULL;
}

/* ---- kubeconfig ---- */

static void test_current_context_token_and_ca_file(void)
{
    struct ird_err err;
    struct ird_k8s_credentials *c = load(fx("config.yaml"), NULL, &err);
    CHECK(c != NULL);
    if (!c) {
        fprintf(stderr, "  %s\n", err.msg);
        return;
    }
    CHECK_STR(c->server, "https://dev.example.test:6443"); /* trailing slash gone */
    CHECK_STR(c->namespace_, "team-a");
    CHECK_STR(c->tls_server_name, "kube.dev.internal");
    CHECK_INT(c->insecure_skip_verify, 0);
    CHECK_INT(c->token_kind, IRD_K8S_TOKEN_STATIC);
    CHECK_STR(token_now(c, 1000), "dev-token-123");
    char *ca = slurp(fx("certs/ca.crt"));
    CHECK(ca && c->ca_pem.len == strlen(ca) && memcmp(c->ca_pem.data, ca, c->ca_pem.len) == 0);
    free(ca);
    CHECK_INT(c->cert_pem.len, 0);
    CHECK(c->warning == NULL);
    CHECK(contains(c->origin, "context \"dev\""));
    ird_k8s_credentials_free(c);
    ird_k8s_credentials_free(NULL);
}

static void test_explicit_context_with_data_fields(void)
{
    struct ird_err err;
    struct ird_k8s_credentials *c = load(fx("config.yaml"), "prod", &err);
    CHECK(c != NULL);
    if (!c) {
        fprintf(stderr, "  %s\n", err.msg);
        return;
    }
    CHECK_STR(c->server, "https://10.0.0.1:443");
    CHECK_STR(c->namespace_, "default");
    CHECK(c->tls_server_name == NULL);
    CHECK_INT(c->token_kind, IRD_K8S_TOKEN_NONE);
    CHECK(token_now(c, 1000) == NULL);
    char *ca = slurp(fx("certs/ca.crt"));
    char *crt = slurp(fx("certs/client.crt"));
    char *key = slurp(fx("certs/client.key"));
    CHECK(ca && c->ca_pem.len == strlen(ca) && memcmp(c->ca_pem.data, ca, c->ca_pem.len) == 0);
    CHECK(crt && c->cert_pem.len == strlen(crt) &&
          memcmp(c->cert_pem.data, crt, c->cert_pem.len) == 0);
    /* client-key-data is line-wrapped in the fixture */
    CHECK(key && c->key_pem.len == strlen(key) &&
          memcmp(c->key_pem.data, key, c->key_pem.len) == 0);
    ird_k8s_credentials_free(c);

    /* the same material from files, relative to the kubeconfig */
    c = load(fx("config.yaml"), "certfile", &err);
    CHECK(c != NULL);
    if (c) {
        CHECK(crt && c->cert_pem.len == strlen(crt));
        CHECK(key && c->key_pem.len == strlen(key) &&
              memcmp(c->key_pem.data, key, c->key_pem.len) == 0);
    }
    ird_k8s_credentials_free(c);
    free(ca);
    free(crt);
    free(key);
}

static void test_token_file_relative_and_insecure(void)
{
    struct ird_err err;
    struct ird_k8s_credentials *c = load(fx("config.yaml"), "file", &err);
    CHECK(c != NULL);
    if (c) {
        CHECK_INT(c->token_kind, IRD_K8S_TOKEN_FILE);
        CHECK_STR(token_now(c, 5000), "file-token-abc"); /* trimmed */
    }
    ird_k8s_credentials_free(c);

    c = load(fx("config.yaml"), "insecure", &err);
    CHECK(c != NULL);
    if (c) {
        CHECK_INT(c->insecure_skip_verify, 1);
        CHECK(contains(c->warning, "insecure-skip-tls-verify"));
        CHECK_INT(c->token_kind, IRD_K8S_TOKEN_NONE);
        CHECK_INT(c->ca_pem.len, 0);
    }
    ird_k8s_credentials_free(c);
}

static void test_merged_kubeconfig(void)
{
    struct ird_err err;
    char list[1200];
    snprintf(list, sizeof(list), "%s:%s/kubeconfig/does-not-exist.yaml:%s", fx("merge-a.yaml"),
             fixtures, fx("other/merge-b.yaml"));
    /* current-context from the first file, cluster and user from the second,
     * the user's tokenFile relative to the second file's directory */
    struct ird_k8s_credentials *c = load(list, NULL, &err);
    CHECK(c != NULL);
    if (!c) {
        fprintf(stderr, "  %s\n", err.msg);
        return;
    }
    CHECK_STR(c->server, "https://b-only.example.test:8443");
    CHECK_STR(c->namespace_, "from-a");
    CHECK_STR(token_now(c, 1), "b-token-xyz");
    ird_k8s_credentials_free(c);

    /* the first file to define a name wins: context shared-ctx and cluster shared */
    c = load(list, "shared-ctx", &err);
    CHECK(c != NULL);
    if (c)
        CHECK_STR(c->server, "https://a.example.test");
    ird_k8s_credentials_free(c);
    c = load(list, "b-ctx", &err);
    CHECK(c != NULL);
    if (c)
        CHECK_STR(c->server, "https://a.example.test");
    ird_k8s_credentials_free(c);

    /* the same through $KUBECONFIG */
    setenv("KUBECONFIG", list, 1);
    struct ird_k8s_credentials *e = NULL;
    CHECK_INT(ird_k8s_kubeconfig_load(NULL, &e, &err), 0);
    if (e)
        CHECK_STR(e->server, "https://b-only.example.test:8443");
    ird_k8s_credentials_free(e);
    unsetenv("KUBECONFIG");
}

static void test_kubeconfig_errors(void)
{
    struct ird_err err;
    const char *cfg = fx("config.yaml");
    char want[900];

    CHECK(load(cfg, "prod-typo", &err) == NULL);
    snprintf(want, sizeof(want), "kubeconfig %s: context \"prod-typo\" not found", cfg);
    CHECK_STR(err.msg, want);

    CHECK(load(cfg, "missing-cluster", &err) == NULL);
    snprintf(want, sizeof(want),
             "kubeconfig %s: context \"missing-cluster\": cluster \"nope-cluster\" not found", cfg);
    CHECK_STR(err.msg, want);

    CHECK(load(cfg, "missing-user", &err) == NULL);
    snprintf(want, sizeof(want),
             "kubeconfig %s: context \"missing-user\": user \"ghost\" not found", cfg);
    CHECK_STR(err.msg, want);

    CHECK(load(cfg, "bad-b64", &err) == NULL);
    snprintf(want, sizeof(want),
             "kubeconfig %s: user \"badb64-user\": client-key-data is not valid base64", cfg);
    CHECK_STR(err.msg, want);
    CHECK(!contains(err.msg, "LS0tLS1")); /* no key material in the message */

    CHECK(load(cfg, "half-cert", &err) == NULL);
    CHECK(contains(err.msg, "user \"halfcert-user\": has a client certificate but no client key"));

    CHECK(load(cfg, "no-server", &err) == NULL);
    snprintf(want, sizeof(want), "kubeconfig %s: cluster \"noserver-cluster\": server is not set",
             cfg);
    CHECK_STR(err.msg, want);

    struct ird_k8s_kubeconfig_opts o = {.paths = fx("nothing-here.yaml")};
    struct ird_k8s_credentials *c = NULL;
    CHECK_INT(ird_k8s_kubeconfig_load(&o, &c, &err), -ENOENT);
    CHECK(contains(err.msg, "nothing-here.yaml: no such file"));

    CHECK(load(fx("alias.yaml"), "c", &err) == NULL);
    CHECK(contains(err.msg, "alias.yaml: line 8: YAML aliases are not supported"));

    CHECK(load(fx("broken.yaml"), NULL, &err) == NULL);
    CHECK(contains(err.msg, "broken.yaml: line "));

    /* no current-context anywhere */
    CHECK(load(fx("exec.yaml"), NULL, &err) == NULL);
    CHECK(contains(err.msg, "no current-context is set"));

    CHECK(load(fx("exec.yaml"), "interactive", &err) == NULL);
    CHECK(contains(err.msg, "user \"interactive\": exec.interactiveMode is Always"));
}

static void test_kubeconfig_size_limit(void)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/huge.yaml", state_dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    fputs("clusters:\n", f);
    for (int i = 0; i < 40000; i++)
        fprintf(f, "- name: c%d\n  cluster: {server: https://x}\n", i);
    fclose(f);
    struct ird_err err;
    CHECK(load(path, "c1", &err) == NULL);
    CHECK(contains(err.msg, "larger than 1048576 bytes"));
    unlink(path);
}

static const char *home_getenv(const char *name, void *data)
{
    return strcmp(name, "HOME") == 0 ? data : NULL;
}

static void test_default_path_from_home(void)
{
    char kube[128], cfg[160];
    snprintf(kube, sizeof(kube), "%s/.kube", state_dir);
    snprintf(cfg, sizeof(cfg), "%s/config", kube);
    CHECK_INT(mkdir(kube, 0700), 0);
    write_file(cfg, "current-context: h\n"
                    "contexts: [{name: h, context: {cluster: hc}}]\n"
                    "clusters: [{name: hc, cluster: {server: 'https://home.test'}}]\n");
    /* an injected environment with HOME only: no KUBECONFIG */
    struct ird_k8s_env env = {home_getenv, state_dir, NULL};
    struct ird_k8s_kubeconfig_opts o = {.env = &env};
    struct ird_k8s_credentials *c = NULL;
    struct ird_err err;
    CHECK_INT(ird_k8s_kubeconfig_load(&o, &c, &err), 0);
    if (c)
        CHECK_STR(c->server, "https://home.test");
    ird_k8s_credentials_free(c);
    unlink(cfg);
    rmdir(kube);
}

/* ---- in-cluster ---- */

struct fake_env {
    const char *host, *port, *pod_ns;
};

static const char *fake_getenv(const char *name, void *data)
{
    const struct fake_env *e = data;
    if (strcmp(name, "KUBERNETES_SERVICE_HOST") == 0)
        return e->host;
    if (strcmp(name, "KUBERNETES_SERVICE_PORT") == 0)
        return e->port;
    if (strcmp(name, "POD_NAMESPACE") == 0)
        return e->pod_ns;
    return NULL;
}

static void test_incluster(void)
{
    struct fake_env fe = {"10.96.0.1", "443", NULL};
    struct ird_k8s_env env = {fake_getenv, &fe, fx("serviceaccount")};
    struct ird_k8s_credentials *c = NULL;
    struct ird_err err;
    CHECK_INT(ird_k8s_incluster_load(&env, &c, &err), 0);
    if (c) {
        CHECK_STR(c->server, "https://10.96.0.1:443");
        CHECK_STR(c->namespace_, "ird-system");
        CHECK_INT(c->token_kind, IRD_K8S_TOKEN_FILE);
        CHECK_STR(token_now(c, 1), "token-from-serviceaccount");
        CHECK(c->ca_pem.len > 0 && contains(c->ca_pem.data, "BEGIN CERTIFICATE"));
        CHECK(c->warning == NULL);
    }
    ird_k8s_credentials_free(c);

    /* IPv6 gets brackets; POD_NAMESPACE wins over the file */
    fe = (struct fake_env){"fd00:10:96::1", "6443", "override-ns"};
    c = NULL;
    CHECK_INT(ird_k8s_incluster_load(&env, &c, &err), 0);
    if (c) {
        CHECK_STR(c->server, "https://[fd00:10:96::1]:6443");
        CHECK_STR(c->namespace_, "override-ns");
    }
    ird_k8s_credentials_free(c);

    /* not in a cluster */
    fe = (struct fake_env){NULL, "443", NULL};
    c = NULL;
    CHECK_INT(ird_k8s_incluster_load(&env, &c, &err), -ENOENT);
    CHECK(c == NULL);
    CHECK(contains(err.msg, "KUBERNETES_SERVICE_HOST"));

    /* a missing CA is a warning, a missing token an error; no namespace file: default */
    fe = (struct fake_env){"10.0.0.1", "443", NULL};
    char tok[128];
    snprintf(tok, sizeof(tok), "%s/token", state_dir);
    struct ird_k8s_env env2 = {fake_getenv, &fe, state_dir};
    CHECK(ird_k8s_incluster_load(&env2, &c, &err) < 0);
    CHECK(contains(err.msg, "in-cluster: token file"));
    write_file(tok, "sa-token\n");
    c = NULL;
    CHECK_INT(ird_k8s_incluster_load(&env2, &c, &err), 0);
    if (c) {
        CHECK(contains(c->warning, "ca.crt unreadable"));
        CHECK_INT(c->ca_pem.len, 0);
        CHECK_STR(c->namespace_, "default");
    }
    ird_k8s_credentials_free(c);
    unlink(tok);
}

/* ---- token file re-reading ---- */

static void test_token_file_reread(void)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/rotating-token", state_dir);
    write_file(path, "first\n");
    struct ird_k8s_credentials *c = ird_k8s_credentials_new();
    struct ird_err err;
    CHECK(c != NULL);
    if (!c)
        return;
    CHECK_INT(ird_k8s_token_use_file(c, path, &err), 0);
    int64_t t0 = 1700000000000;
    CHECK_STR(token_now(c, t0), "first");

    write_file(path, "second\n");
    CHECK_STR(token_now(c, t0 + 30000), "first"); /* cached for a minute */
    CHECK_STR(token_now(c, t0 + 60000), "second");

    write_file(path, "  \n"); /* empty re-read keeps the old token */
    CHECK_STR(token_now(c, t0 + 130000), "second");
    unlink(path); /* unreadable re-read too */
    CHECK_STR(token_now(c, t0 + 200000), "second");

    write_file(path, "third");
    CHECK_STR(token_now(c, t0 + 200001), "third"); /* failed re-reads retry at once */
    write_file(path, "fourth");
    CHECK_STR(token_now(c, t0 + 200002), "third");
    ird_k8s_token_invalidate(c); /* after a 401 */
    CHECK_STR(token_now(c, t0 + 200003), "fourth");

    write_file(path, "bad\r\ninjected: header"); /* control characters: refused */
    ird_k8s_token_invalidate(c);
    CHECK_STR(token_now(c, t0 + 200004), "fourth");
    ird_k8s_credentials_free(c);
    unlink(path);
}

/* ---- exec plugins ---- */

struct result {
    int calls;
    int status;
    char token[256];
    char err[512];
};

static void on_token(int status, const char *token, const struct ird_err *err, void *data)
{
    struct result *r = data;
    r->calls++;
    r->status = status;
    snprintf(r->token, sizeof(r->token), "%s", token ? token : "(null)");
    snprintf(r->err, sizeof(r->err), "%s", err ? err->msg : "");
}

static int plugin_runs(void)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/count", state_dir);
    char *s = slurp(path);
    int n = s ? (int)strtol(s, NULL, 10) : 0;
    free(s);
    return n;
}

static void reset_plugin_state(void)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/count", state_dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/exec-info.json", state_dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/sleep.pid", state_dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/fds", state_dir);
    unlink(path);
}

/* Ask for a token; when it is pending, run the loop until the answer came. */
static int get_token(struct ird_k8s_credentials *c, uv_loop_t *loop, int64_t now, struct result *r)
{
    memset(r, 0, sizeof(*r));
    const char *tok = NULL;
    struct ird_err err = {{0}};
    int rc = ird_k8s_token_get(c, loop, now, on_token, r, &tok, &err);
    if (rc == 0) {
        snprintf(r->token, sizeof(r->token), "%s", tok ? tok : "(null)");
        return 0;
    }
    if (rc < 0) {
        snprintf(r->err, sizeof(r->err), "%s", err.msg);
        return rc;
    }
    uv_run(loop, UV_RUN_DEFAULT);
    CHECK_INT(r->calls, 1);
    return rc;
}

static struct ird_k8s_credentials *load_exec(const char *context)
{
    struct ird_err err;
    struct ird_k8s_credentials *c = load(fx("exec.yaml"), context, &err);
    CHECK(c != NULL);
    if (!c)
        fprintf(stderr, "  %s: %s\n", context, err.msg);
    else
        CHECK_INT(c->token_kind, IRD_K8S_TOKEN_EXEC);
    reset_plugin_state();
    return c;
}

static void test_exec_token_cached_until_expiry(uv_loop_t *loop)
{
    struct ird_k8s_credentials *c = load_exec("token");
    if (!c)
        return;
    int64_t now, expiry;
    CHECK_INT(ird_clock_parse("2029-12-31T23:00:00Z", &now), 0);
    CHECK_INT(ird_clock_parse("2030-01-01T00:00:00Z", &expiry), 0);
    struct result r;

    /* first use runs the plugin, with the listed env and KUBERNETES_EXEC_INFO;
     * a descriptor of ours that is not close-on-exec (as libcurl's sockets
     * are not) does not reach it */
    int opened = open("/dev/null", O_RDONLY);
    int leaky = dup2(opened, 77); /* a number the shell running the plugin does not use */
    close(opened);
    CHECK_INT(leaky, 77);
    CHECK_INT(get_token(c, loop, now, &r), IRD_K8S_TOKEN_PENDING);
    CHECK_INT(r.status, 0);
    CHECK_STR(r.token, "exec-token-1-hello");
    CHECK_INT(plugin_runs(), 1);
    char fds_path[128], fdname[16];
    snprintf(fds_path, sizeof(fds_path), "%s/fds", state_dir);
    snprintf(fdname, sizeof(fdname), "\n%d\n", leaky);
    char *fds = slurp(fds_path);
    CHECK(fds != NULL);
    if (fds) {
        struct ird_buf lines = IRD_BUF_INIT; /* "\n0\n1\n2\n...\n" */
        ird_buf_printf(&lines, "\n%s", fds);
        CHECK(strstr(lines.data, fdname) == NULL);
        CHECK(strstr(lines.data, "\n1\n") != NULL); /* stdout is there */
        ird_buf_free(&lines);
    }
    free(fds);
    close(leaky);

    char info_path[128];
    snprintf(info_path, sizeof(info_path), "%s/exec-info.json", state_dir);
    char *info = slurp(info_path);
    cJSON *j = info ? cJSON_Parse(info) : NULL;
    CHECK(j != NULL);
    if (j) {
        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "kind")), "ExecCredential");
        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "apiVersion")),
                  "client.authentication.k8s.io/v1");
        cJSON *spec = cJSON_GetObjectItem(j, "spec");
        CHECK(cJSON_IsFalse(cJSON_GetObjectItem(spec, "interactive")));
        cJSON *cl = cJSON_GetObjectItem(spec, "cluster");
        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cl, "server")),
                  "https://exec.example.test:6443");
        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cl, "tls-server-name")),
                  "exec.internal");
        const char *ca =
            cJSON_GetStringValue(cJSON_GetObjectItem(cl, "certificate-authority-data"));
        CHECK(ca && strncmp(ca, "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t", 36) == 0);
    }
    cJSON_Delete(j);
    free(info);

    /* cached: answered at once, no new run */
    CHECK_INT(get_token(c, loop, now + 60000, &r), 0);
    CHECK_STR(r.token, "exec-token-1-hello");
    CHECK_INT(plugin_runs(), 1);

    /* within the margin before expiry: re-run */
    CHECK_INT(get_token(c, loop, expiry - 5000, &r), IRD_K8S_TOKEN_PENDING);
    CHECK_STR(r.token, "exec-token-2-hello");
    CHECK_INT(plugin_runs(), 2);

    /* invalidate (a 401) re-runs even though the credential has not expired */
    ird_k8s_token_invalidate(c);
    CHECK_INT(get_token(c, loop, now, &r), IRD_K8S_TOKEN_PENDING);
    CHECK_STR(r.token, "exec-token-3-hello");
    CHECK_INT(plugin_runs(), 3);
    ird_k8s_credentials_free(c);
}

static void test_exec_concurrent_waiters_share_one_run(uv_loop_t *loop)
{
    struct ird_k8s_credentials *c = load_exec("noexpiry");
    if (!c)
        return;
    struct result a = {0}, b = {0};
    const char *tok = NULL;
    struct ird_err err;
    CHECK_INT(ird_k8s_token_get(c, loop, 1000, on_token, &a, &tok, &err), IRD_K8S_TOKEN_PENDING);
    CHECK_INT(ird_k8s_token_get(c, loop, 1001, on_token, &b, &tok, &err), IRD_K8S_TOKEN_PENDING);
    uv_run(loop, UV_RUN_DEFAULT);
    CHECK_INT(a.calls, 1);
    CHECK_INT(b.calls, 1);
    CHECK_STR(a.token, "plain-token-1");
    CHECK_STR(b.token, "plain-token-1");
    CHECK_INT(plugin_runs(), 1);
    /* no expirationTimestamp: cached until invalidated */
    struct result r;
    CHECK_INT(get_token(c, loop, INT64_C(4000000000000), &r), 0);
    CHECK_STR(r.token, "plain-token-1");
    ird_k8s_credentials_free(c);
}

static void test_exec_client_certificate(uv_loop_t *loop)
{
    struct ird_k8s_credentials *c = load_exec("cert");
    if (!c)
        return;
    unsigned gen = c->tls_generation;
    struct result r;
    CHECK_INT(get_token(c, loop, 1000, &r), IRD_K8S_TOKEN_PENDING);
    CHECK_INT(r.status, 0);
    CHECK_STR(r.token, "(null)"); /* a certificate, no bearer token */
    CHECK(c->tls_generation == gen + 1);
    CHECK(contains(c->cert_pem.data, "-----BEGIN CERTIFICATE-----\nMIIBexec1\n"));
    CHECK(contains(c->key_pem.data, "-----BEGIN PRIVATE KEY-----"));
    ird_k8s_credentials_free(c);
}

static void test_exec_failures(uv_loop_t *loop)
{
    struct result r;
    struct ird_k8s_credentials *c = load_exec("fail");
    if (c) {
        CHECK_INT(get_token(c, loop, 1000, &r), IRD_K8S_TOKEN_PENDING);
        CHECK(r.status < 0);
        CHECK(contains(r.err, "exec plugin \""));
        CHECK(contains(r.err, "plugin.sh\" exited with status 1"));
        /* a failure is not cached: the next request tries again */
        CHECK_INT(get_token(c, loop, 2000, &r), IRD_K8S_TOKEN_PENDING);
        CHECK_INT(plugin_runs(), 2);
    }
    ird_k8s_credentials_free(c);

    c = load_exec("garbage");
    if (c) {
        CHECK_INT(get_token(c, loop, 1000, &r), IRD_K8S_TOKEN_PENDING);
        CHECK_INT(r.status, -EINVAL);
        CHECK(contains(r.err, "not an ExecCredential JSON object"));
        CHECK(!contains(r.err, "secret-should-not-leak"));
    }
    ird_k8s_credentials_free(c);

    c = load_exec("wrongversion");
    if (c) {
        CHECK_INT(get_token(c, loop, 1000, &r), IRD_K8S_TOKEN_PENDING);
        CHECK_INT(r.status, -EINVAL);
        CHECK(contains(r.err, "returned apiVersion \"client.authentication.k8s.io/v1beta1\""));
    }
    ird_k8s_credentials_free(c);

    c = load_exec("missing");
    if (c) {
        CHECK_INT(get_token(c, loop, 1000, &r), UV_ENOENT);
        CHECK(contains(r.err, "no-such-plugin\" could not be started"));
        CHECK_INT(r.calls, 0);
        uv_run(loop, UV_RUN_DEFAULT);
        CHECK_INT(r.calls, 0); /* a call that fails never calls back */
    }
    ird_k8s_credentials_free(c);
}

/* Whether a process is gone (or a zombie nobody reaped yet), polling up to 2 s. */
static int process_gone(long pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    for (int i = 0; i < 200; i++) {
        char *stat = slurp(path);
        const char *paren = stat ? strrchr(stat, ')') : NULL;
        int gone = !stat || (paren && paren[1] == ' ' && paren[2] == 'Z');
        free(stat);
        if (gone)
            return 1;
        usleep(10000);
    }
    return 0;
}

static void test_exec_timeout_kills_plugin(uv_loop_t *loop)
{
    struct ird_k8s_credentials *c = load_exec("hang");
    if (!c)
        return;
    c->exec_timeout_ms = 300;
    struct result r;
    int64_t start = ird_clock_now_ms();
    CHECK_INT(get_token(c, loop, 1000, &r), IRD_K8S_TOKEN_PENDING);
    int64_t took = ird_clock_now_ms() - start;
    CHECK_INT(r.status, -ETIMEDOUT);
    CHECK(contains(r.err, "plugin.sh\" timed out after 300 ms"));
    CHECK(took >= 250 && took < 5000);
    /* the shell's background child, which held stdout open, died too */
    char pid_path[128];
    snprintf(pid_path, sizeof(pid_path), "%s/sleep.pid", state_dir);
    char *pid = slurp(pid_path);
    CHECK(pid != NULL);
    if (pid)
        CHECK(process_gone(strtol(pid, NULL, 10)));
    free(pid);
    unlink(pid_path);
    ird_k8s_credentials_free(c);
}

static void test_exec_free_while_running(uv_loop_t *loop)
{
    struct ird_k8s_credentials *c = load_exec("hang");
    if (!c)
        return;
    struct result r = {0};
    const char *tok = NULL;
    struct ird_err err;
    CHECK_INT(ird_k8s_token_get(c, loop, 1000, on_token, &r, &tok, &err), IRD_K8S_TOKEN_PENDING);
    uv_run(loop, UV_RUN_NOWAIT);
    int64_t start = ird_clock_now_ms();
    ird_k8s_credentials_free(c);
    CHECK_INT(r.calls, 1);
    CHECK_INT(r.status, -ECANCELED);
    uv_run(loop, UV_RUN_DEFAULT); /* the killed plugin's handles close */
    CHECK(ird_clock_now_ms() - start < 5000);
}

int main(void)
{
    fixtures = getenv("IRD_FIXTURES");
    if (!fixtures) {
        fprintf(stderr, "IRD_FIXTURES is not set\n");
        return 2;
    }
    snprintf(state_dir, sizeof(state_dir), "/tmp/ird-creds-XXXXXX");
    if (!mkdtemp(state_dir)) {
        perror("mkdtemp");
        return 2;
    }
    setenv("IRD_PLUGIN_STATE", state_dir, 1);

    test_current_context_token_and_ca_file();
    test_explicit_context_with_data_fields();
    test_token_file_relative_and_insecure();
    test_merged_kubeconfig();
    test_kubeconfig_errors();
    test_kubeconfig_size_limit();
    test_default_path_from_home();
    test_incluster();
    test_token_file_reread();

    uv_loop_t loop;
    CHECK_INT(uv_loop_init(&loop), 0);
    test_exec_token_cached_until_expiry(&loop);
    test_exec_concurrent_waiters_share_one_run(&loop);
    test_exec_client_certificate(&loop);
    test_exec_failures(&loop);
    test_exec_timeout_kills_plugin(&loop);
    test_exec_free_while_running(&loop);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_INT(uv_loop_close(&loop), 0);

    reset_plugin_state();
    rmdir(state_dir);
    return ird_check_summary("test_k8s_credentials");
}
