/* config: defaults from the table, file:line diagnostics for unknown keys,
 * wrong types and bad values, secrets from inline / _file / _env. */
#include "check.h"
#include "config/config.h"

#include <stdlib.h>
#include <unistd.h>

static char path[] = "/tmp/ird-config-XXXXXX";

static struct ird_config *load_text(const char *text, struct ird_diags *d)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return ird_config_load(path, d);
}

static void test_defaults(void)
{
    struct ird_diags d = {IRD_BUF_INIT, 0};
    struct ird_config *c = ird_config_load(NULL, &d);
    CHECK(c != NULL);
    CHECK_INT(d.count, 0);
    CHECK_STR(c->listen_webhooks, "127.0.0.1:9410");
    CHECK_STR(c->listen_api, "127.0.0.1:9411");
    CHECK_STR(c->state_dir, "./state");
    CHECK(c->dry_run);
    CHECK_INT(c->http.body_bytes, 1048576);
    CHECK_INT(c->http.read_timeout_ms, 10000);
    CHECK_INT(c->http.max_connections, 1024);
    CHECK_INT(c->shutdown_timeout_ms, 10000);
    ird_config_free(c);
    ird_diags_free(&d);
}

static void test_values(void)
{
    struct ird_diags d = {IRD_BUF_INIT, 0};
    struct ird_config *c = load_text("listen = { api = \"[::1]:0\"; };\n"
                                     "dry_run = false;\n"
                                     "limits = { body_bytes = 2048; read_timeout = \"1500ms\"; };\n"
                                     "log = { format = \"json\"; };\n",
                                     &d);
    CHECK(c != NULL);
    CHECK_INT(d.count, 0);
    CHECK_STR(c->listen_api, "[::1]:0");
    CHECK(!c->dry_run);
    CHECK_INT(c->http.body_bytes, 2048);
    CHECK_INT(c->http.read_timeout_ms, 1500);
    CHECK_STR(c->log_format, "json");
    ird_config_free(c);
    ird_diags_free(&d);
}

static void test_problems(void)
{
    struct ird_diags d = {IRD_BUF_INIT, 0};
    struct ird_config *c = load_text("listen = { webhooks = \"0.0.0.0\"; };\n"       /* 1 */
                                     "dry_run = \"yes\";\n"                          /* 2 */
                                     "limits = { read_timeout = \"10 sec\";\n"       /* 3 */
                                     "           body_bytes = 0; };\n"               /* 4 */
                                     "log = { level = \"loud\"; colour = true; };\n" /* 5 */
                                     "bogus = 1;\n"                                  /* 6 */
                                     "sources = 3;\n",                               /* 7 */
                                     &d);
    CHECK(c != NULL);
    char expect[2048];
    snprintf(expect, sizeof(expect),
             "%1$s:1: listen.webhooks: \"0.0.0.0\" is not host:port (an IP address or localhost; "
             "IPv6 as [::1]:9410)\n"
             "%1$s:2: dry_run: expected true or false\n"
             "%1$s:3: limits.read_timeout: \"10 sec\" is not a duration (like \"500ms\", \"10s\", "
             "\"5m\")\n"
             "%1$s:4: limits.body_bytes: 0 is out of range (1 to 1073741824)\n"
             "%1$s:5: log.level: \"loud\" is not one of debug|info|warn|error\n"
             "%1$s:5: log.colour: unknown key\n"
             "%1$s:6: bogus: unknown key\n"
             "%1$s:7: sources: expected a group { ... }\n",
             path);
    CHECK_STR(d.text.data, expect);
    CHECK_INT(d.count, 8);
    ird_config_free(c);
    ird_diags_free(&d);

    /* A syntax error names its line and stops there. */
    c = load_text("dry_run = true;\nlimits = { body_bytes = ; };\n", &d);
    CHECK(c == NULL);
    char want[512];
    snprintf(want, sizeof(want), "%s:2: syntax error\n", path);
    CHECK_STR(d.text.data, want);
    ird_diags_free(&d);

    c = ird_config_load("/nonexistent/ird.conf", &d);
    CHECK(c == NULL);
    CHECK_STR(d.text.data, "/nonexistent/ird.conf: cannot read: No such file or directory\n");
    ird_diags_free(&d);
}

static void test_secrets(void)
{
    char secret_path[] = "/tmp/ird-secret-XXXXXX";
    int fd = mkstemp(secret_path);
    CHECK(write(fd, "s3cret-from-file\n", 17) == 17);
    close(fd);
    setenv("IRD_TEST_SECRET", "s3cret-from-env", 1);
    char text[512];
    snprintf(text, sizeof(text),
             "a = { token = \"inline\"; };\n"
             "b = { token_file = \"%s\"; };\n"
             "c = { token_env = \"IRD_TEST_SECRET\"; };\n"
             "d = { token = \"x\"; token_env = \"IRD_TEST_SECRET\"; };\n"
             "e = { token_env = \"IRD_TEST_UNSET\"; };\n"
             "f = { other = 1; };\n"
             "g = { token_file = \"/nonexistent\"; };\n",
             secret_path);
    config_t cfg;
    config_init(&cfg);
    CHECK(config_read_string(&cfg, text) == CONFIG_TRUE);
    struct ird_err err = {{0}};
    char *v = NULL;
    CHECK_INT(ird_config_secret(config_lookup(&cfg, "a"), "token", &v, &err), 0);
    CHECK_STR(v, "inline");
    ird_secret_free(v);
    CHECK_INT(ird_config_secret(config_lookup(&cfg, "b"), "token", &v, &err), 0);
    CHECK_STR(v, "s3cret-from-file");
    ird_secret_free(v);
    CHECK_INT(ird_config_secret(config_lookup(&cfg, "c"), "token", &v, &err), 0);
    CHECK_STR(v, "s3cret-from-env");
    ird_secret_free(v);
    CHECK_INT(ird_config_secret(config_lookup(&cfg, "d"), "token", &v, &err), -EINVAL);
    CHECK_STR(err.msg, "give only one of token, token_file, token_env");
    CHECK_INT(ird_config_secret(config_lookup(&cfg, "e"), "token", &v, &err), -ENOENT);
    CHECK_STR(err.msg, "token_env: environment variable IRD_TEST_UNSET is not set");
    CHECK_INT(ird_config_secret(config_lookup(&cfg, "f"), "token", &v, &err), -ENOENT);
    CHECK(ird_config_secret(config_lookup(&cfg, "g"), "token", &v, &err) < 0);
    CHECK_STR(err.msg, "cannot read /nonexistent: No such file or directory");
    /* No message ever carries the secret. */
    CHECK(strstr(err.msg, "s3cret") == NULL);
    config_destroy(&cfg);
    unlink(secret_path);
}

static void test_reference(void)
{
    struct ird_buf out = IRD_BUF_INIT;
    ird_config_reference(&out);
    CHECK(strstr(out.data, "| `limits.body_bytes` | integer | `1048576` |") != NULL);
    CHECK(strstr(out.data, "| `log.format` | enum (text, json) | `\"text\"` |") != NULL);
    /* One row per key, plus the two header lines. */
    int lines = 0;
    for (const char *p = out.data; *p; p++)
        lines += *p == '\n';
    CHECK_INT(lines, (int)ird_conf_nkeys + 2);
    ird_buf_free(&out);
}

int main(void)
{
    int fd = mkstemp(path);
    close(fd);
    test_defaults();
    test_values();
    test_problems();
    test_secrets();
    test_reference();
    unlink(path);
    return ird_check_summary("test_config");
}
