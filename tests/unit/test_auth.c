/* intake: webhook authentication, every scheme accepted and refused as a
 * sender would meet it, and the config mistakes an operator would make. */
#include "check.h"
#include "intake/auth.h"

#include <errno.h>
#include <libconfig.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static config_t cfg;

/* Build from "sources = { s = { ... }; };" text; returns NULL and fills err on
 * failure. The config stays loaded until the next call. */
static struct ird_auth *build(const char *conf_text, struct ird_err *err)
{
    config_destroy(&cfg);
    config_init(&cfg);
    if (!config_read_string(&cfg, conf_text)) {
        fprintf(stderr, "bad test config: %s at line %d\n", config_error_text(&cfg),
                config_error_line(&cfg));
        exit(2);
    }
    struct ird_auth *a = NULL;
    if (ird_auth_new(config_lookup(&cfg, "sources.s"), &a, err))
        return NULL;
    return a;
}

static struct ird_auth *must(const char *conf_text)
{
    struct ird_err err = {""};
    struct ird_auth *a = build(conf_text, &err);
    if (!a) {
        fprintf(stderr, "auth config refused: %s\n", err.msg);
        exit(2);
    }
    return a;
}

static const char *refused(const char *conf_text)
{
    static struct ird_err err;
    memset(&err, 0, sizeof(err));
    struct ird_auth *a = build(conf_text, &err);
    CHECK(a == NULL);
    ird_auth_free(a);
    return err.msg;
}

static enum ird_auth_result with_header(struct ird_auth *a, const char *name, const char *value)
{
    struct ird_http_header h[] = {{(char *)"Content-Type", (char *)"application/json"},
                                  {(char *)name, (char *)value}};
    return ird_auth_check(a, h, name ? 2 : 1, NULL, "{}", 2, 0, NULL);
}

static void test_none_and_missing(void)
{
    struct ird_auth *a = must("sources = { s = { type = \"json\"; auth = \"none\"; }; };");
    const char *scheme = NULL;
    CHECK_INT(ird_auth_check(a, NULL, 0, NULL, "", 0, 0, &scheme), IRD_AUTH_OK);
    CHECK_STR(scheme, "none");
    ird_auth_free(a);
    CHECK_STR(refused("sources = {\n s = { type = \"json\"; }; };"),
              "line 2: sources.s: auth is required; write auth = \"none\" to accept "
              "unauthenticated alerts");
    CHECK_STR(refused("sources = { s = { auth = \"open\"; }; };"),
              "line 1: sources.s.auth: expected \"none\" or a group such as { type = "
              "\"bearer\"; tokens = [ ... ]; }");
    CHECK_STR(refused("sources = { s = { auth = { type = \"bearer\"; tokens = [\"a\"];\n"
                      " tokenz = \"b\"; }; }; };"),
              "line 2: sources.s.auth.tokenz: unknown key for type \"bearer\"");
    CHECK_STR(refused("sources = { s = { auth = { type = \"oauth\"; }; }; };"),
              "line 1: sources.s.auth.type: unknown type \"oauth\"; expected bearer, basic, "
              "hmac, standard-webhooks or query-token");
    ird_auth_free(NULL);
}

static void test_config_file_lines(void)
{
    const char *dir = getenv("IRD_FIXTURES");
    char path[512], want[700];
    snprintf(path, sizeof(path), "%s/intake/auth.conf", dir ? dir : "tests/fixtures");
    config_t c;
    config_init(&c);
    CHECK(config_read_file(&c, path));
    struct ird_auth *a = NULL;
    struct ird_err err = {""};
    CHECK_INT(ird_auth_new(config_lookup(&c, "sources.lab"), &a, &err), -EINVAL);
    snprintf(want, sizeof(want),
             "%s:3: sources.lab: auth is required; write auth = \"none\" to accept "
             "unauthenticated alerts",
             path);
    CHECK_STR(err.msg, want);
    CHECK_INT(ird_auth_new(config_lookup(&c, "sources.falco"), &a, &err), -EINVAL);
    snprintf(want, sizeof(want),
             "%s:6: sources.falco.auth: give one of tokens, tokens_file, "
             "tokens_env",
             path);
    CHECK_STR(err.msg, want);
    CHECK(a == NULL);
    config_destroy(&c);
}

static void test_bearer(void)
{
    struct ird_auth *a = must("sources = { s = { auth = { type = \"bearer\";\n"
                              "  tokens = [ \"old-token\", \"new-token\" ]; }; }; };");
    const char *scheme = NULL;
    struct ird_http_header h[] = {{(char *)"authorization", (char *)"Bearer new-token"}};
    CHECK_INT(ird_auth_check(a, h, 1, NULL, "", 0, 0, &scheme), IRD_AUTH_OK);
    CHECK_STR(scheme, "bearer");
    CHECK_STR(ird_auth_reason(a), "");
    CHECK_INT(with_header(a, "Authorization", "Bearer old-token"), IRD_AUTH_OK);
    CHECK_INT(with_header(a, "Authorization", "bearer  old-token"), IRD_AUTH_OK);
    CHECK_INT(with_header(a, "Authorization", "Bearer old-token2"), IRD_AUTH_UNAUTHORIZED);
    CHECK_STR(ird_auth_reason(a), "unknown token");
    CHECK_INT(with_header(a, "Authorization", "Bearer old-toke"), IRD_AUTH_UNAUTHORIZED);
    CHECK_INT(with_header(a, "Authorization", "Bearer "), IRD_AUTH_UNAUTHORIZED);
    CHECK_INT(with_header(a, "Authorization", "Basic b2xkLXRva2Vu"), IRD_AUTH_UNAUTHORIZED);
    CHECK_INT(with_header(a, NULL, NULL), IRD_AUTH_UNAUTHORIZED);
    CHECK_STR(ird_auth_reason(a), "no Authorization header");
    /* a token in the query does not count for a bearer source */
    CHECK_INT(ird_auth_check(a, NULL, 0, "token=new-token", "", 0, 0, NULL), IRD_AUTH_UNAUTHORIZED);

    /* a token that belongs to another source: 403 */
    config_t other_cfg;
    config_init(&other_cfg);
    CHECK(config_read_string(&other_cfg, "s = { auth = { type = \"query-token\"; "
                                         "token = \"falco-token\"; }; };"));
    struct ird_auth *other = NULL;
    struct ird_err err = {""};
    CHECK_INT(ird_auth_new(config_lookup(&other_cfg, "s"), &other, &err), 0);
    CHECK_INT(ird_auth_add_foreign(a, other), 0);
    CHECK_INT(ird_auth_add_foreign(a, a), 0);
    ird_auth_free(other);
    config_destroy(&other_cfg);
    CHECK_INT(with_header(a, "Authorization", "Bearer falco-token"), IRD_AUTH_FORBIDDEN);
    CHECK_STR(ird_auth_reason(a), "credential belongs to another source");
    CHECK_INT(with_header(a, "Authorization", "Bearer nobody"), IRD_AUTH_UNAUTHORIZED);
    ird_auth_free(a);

    CHECK_STR(refused("sources = { s = { auth = { type = \"bearer\"; tokens = [\"a\"];\n"
                      " tokens_env = \"X\"; }; }; };"),
              "line 1: sources.s.auth: give only one of tokens, tokens_file, tokens_env");
    CHECK_STR(refused("sources = { s = { auth = { type = \"bearer\"; tokens = [\"\"]; }; }; };"),
              "line 1: sources.s.auth.tokens[0]: empty secret");
}

static void test_secret_sources(void)
{
    const char *dir = getenv("IRD_FIXTURES");
    char text[700];
    snprintf(text, sizeof(text),
             "sources = { s = { auth = { type = \"bearer\"; tokens_file = \"%s/intake/tokens.txt\";"
             " }; }; };",
             dir ? dir : "tests/fixtures");
    struct ird_auth *a = must(text);
    CHECK_INT(with_header(a, "Authorization", "Bearer file-token-1"), IRD_AUTH_OK);
    CHECK_INT(with_header(a, "Authorization", "Bearer file-token-2"), IRD_AUTH_OK);
    CHECK_INT(with_header(a, "Authorization", "Bearer file-token-3"), IRD_AUTH_UNAUTHORIZED);
    CHECK_INT(with_header(a, "Authorization", "Bearer # file-token-3"), IRD_AUTH_UNAUTHORIZED);
    ird_auth_free(a);

    const char *msg = refused("sources = { s = { auth = { type = \"bearer\"; tokens_file = "
                              "\"/nonexistent/ird-tokens\"; }; }; };");
    CHECK_STR(msg, "line 1: sources.s.auth.tokens_file: cannot read /nonexistent/ird-tokens: No "
                   "such file or directory");

    setenv("IRD_TEST_TOKEN", "env-secret-token\n", 1);
    a = must("sources = { s = { auth = { type = \"query-token\"; param = \"key\";\n"
             " tokens_env = \"IRD_TEST_TOKEN\"; }; }; };");
    const char *scheme = NULL;
    CHECK_INT(ird_auth_check(a, NULL, 0, "a=1&key=env-secret-token", "", 0, 0, &scheme),
              IRD_AUTH_OK);
    CHECK_STR(scheme, "query-token");
    CHECK_INT(ird_auth_check(a, NULL, 0, "token=env-secret-token", "", 0, 0, NULL),
              IRD_AUTH_UNAUTHORIZED);
    CHECK_INT(ird_auth_check(a, NULL, 0, "key=env-secret-toke", "", 0, 0, NULL),
              IRD_AUTH_UNAUTHORIZED);
    CHECK_INT(ird_auth_check(a, NULL, 0, NULL, "", 0, 0, NULL), IRD_AUTH_UNAUTHORIZED);
    ird_auth_free(a);
    unsetenv("IRD_TEST_TOKEN_UNSET");
    CHECK_STR(refused("sources = { s = { auth = { type = \"bearer\"; tokens_env = "
                      "\"IRD_TEST_TOKEN_UNSET\"; }; }; };"),
              "line 1: sources.s.auth.tokens_env: environment variable IRD_TEST_TOKEN_UNSET is "
              "not set");

    /* default param "token", percent-decoded */
    a = must("sources = { s = { auth = { type = \"query-token\"; token = \"a b&c\"; }; }; };");
    CHECK_INT(ird_auth_check(a, NULL, 0, "token=a%20b%26c", "", 0, 0, NULL), IRD_AUTH_OK);
    ird_auth_free(a);
}

static void test_basic(void)
{
    struct ird_auth *a = must("sources = { s = { auth = { type = \"basic\"; users = (\n"
                              "  { username = \"alertmanager\"; password = \"pw-one\"; },\n"
                              "  { username = \"ops\"; password = \"pw:two\"; } ); }; }; };");
    const char *scheme = NULL;
    /* base64("alertmanager:pw-one"), base64("ops:pw:two") */
    struct ird_http_header h[] = {
        {(char *)"Authorization", (char *)"Basic YWxlcnRtYW5hZ2VyOnB3LW9uZQ=="}};
    CHECK_INT(ird_auth_check(a, h, 1, NULL, "", 0, 0, &scheme), IRD_AUTH_OK);
    CHECK_STR(scheme, "basic");
    CHECK_INT(with_header(a, "Authorization", "Basic b3BzOnB3OnR3bw=="), IRD_AUTH_OK);
    /* alertmanager:pw-two (wrong password), ops:pw-one (other user's password) */
    CHECK_INT(with_header(a, "Authorization", "Basic YWxlcnRtYW5hZ2VyOnB3LXR3bw=="),
              IRD_AUTH_UNAUTHORIZED);
    CHECK_STR(ird_auth_reason(a), "wrong username or password");
    CHECK_INT(with_header(a, "Authorization", "Basic b3BzOnB3LW9uZQ=="), IRD_AUTH_UNAUTHORIZED);
    CHECK_INT(with_header(a, "Authorization", "Basic !!!"), IRD_AUTH_UNAUTHORIZED);
    CHECK_INT(with_header(a, "Authorization", "Bearer pw-one"), IRD_AUTH_UNAUTHORIZED);
    ird_auth_free(a);
    CHECK_STR(refused("sources = { s = { auth = { type = \"basic\"; username = \"u\"; }; }; };"),
              "line 1: sources.s.auth: give one of password, password_file, password_env");
}

static void test_hmac(void)
{
    /* GitHub's documented example: secret, body and signature */
    struct ird_auth *a = must("sources = { s = { auth = { type = \"hmac\";\n"
                              "  secrets = [ \"It's a Secret to Everybody\" ]; }; }; };");
    const char *body = "Hello, World!";
    const char *good = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    struct ird_http_header h[] = {{(char *)"x-hub-signature-256", (char *)good}};
    const char *scheme = NULL;
    CHECK_INT(ird_auth_check(a, h, 1, NULL, body, strlen(body), 0, &scheme), IRD_AUTH_OK);
    CHECK_STR(scheme, "hmac");
    /* the same signature over a different body */
    CHECK_INT(ird_auth_check(a, h, 1, NULL, "Hello, World?", 13, 0, NULL), IRD_AUTH_UNAUTHORIZED);
    CHECK_STR(ird_auth_reason(a), "signature does not match");
    /* wrong length: never compared */
    h[0].value = (char *)"sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e";
    CHECK_INT(ird_auth_check(a, h, 1, NULL, body, strlen(body), 0, NULL), IRD_AUTH_UNAUTHORIZED);
    CHECK_STR(ird_auth_reason(a), "signature has the wrong length");
    h[0].value = (char *)"757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    CHECK_INT(ird_auth_check(a, h, 1, NULL, body, strlen(body), 0, NULL), IRD_AUTH_UNAUTHORIZED);
    CHECK_INT(ird_auth_check(a, NULL, 0, NULL, body, strlen(body), 0, NULL), IRD_AUTH_UNAUTHORIZED);
    CHECK_STR(ird_auth_reason(a), "no signature header");
    ird_auth_free(a);

    /* configurable header, no prefix */
    a = must(
        "sources = { s = { auth = { type = \"hmac\"; header = \"X-Signature\"; prefix = \"\";\n"
        "  secret = \"It's a Secret to Everybody\"; }; }; };");
    CHECK_INT(with_header(a, "X-Signature",
                          "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"),
              IRD_AUTH_UNAUTHORIZED); /* with_header's body is "{}" */
    struct ird_http_header h2[] = {
        {(char *)"X-Signature",
         (char *)"757107EA0EB2509FC211221CCE984B8A37570B6D7586C22C46F4379C8B043E17"}};
    CHECK_INT(ird_auth_check(a, h2, 1, NULL, body, strlen(body), 0, NULL), IRD_AUTH_OK);
    ird_auth_free(a);
}

/* A v1 signature computed independently of auth.c. */
static void sw_sign(const unsigned char *key, size_t keylen, const char *id, const char *ts,
                    const char *body, char *out, size_t outlen)
{
    char msg[512];
    snprintf(msg, sizeof(msg), "%s.%s.%s", id, ts, body);
    unsigned char mac[32];
    unsigned int maclen = 0;
    HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg, strlen(msg), mac, &maclen);
    char b64[64];
    EVP_EncodeBlock((unsigned char *)b64, mac, (int)maclen);
    snprintf(out, outlen, "v1,%s", b64);
}

static void test_standard_webhooks(void)
{
    /* the Standard Webhooks specification's example */
    struct ird_auth *a = must("sources = { s = { auth = { type = \"standard-webhooks\";\n"
                              "  secret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"; }; }; };");
    const char *body = "{\"test\": 2432232314}";
    int64_t now = 1614265330LL * 1000;
    struct ird_http_header h[] = {
        {(char *)"webhook-id", (char *)"msg_p5jXN8AQM9LWM0D4loKWxJek"},
        {(char *)"webhook-timestamp", (char *)"1614265330"},
        {(char *)"webhook-signature", (char *)"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="},
    };
    const char *scheme = NULL;
    CHECK_INT(ird_auth_check(a, h, 3, NULL, body, strlen(body), now + 1000, &scheme), IRD_AUTH_OK);
    CHECK_STR(scheme, "standard-webhooks");
    /* the same delivery again: a replay */
    CHECK_INT(ird_auth_check(a, h, 3, NULL, body, strlen(body), now + 2000, NULL),
              IRD_AUTH_UNAUTHORIZED);
    CHECK_STR(ird_auth_reason(a), "replayed webhook-id");
    /* the caller did not store it: the sender's retry goes through once */
    ird_auth_forget(a, h, 3);
    CHECK_INT(ird_auth_check(a, h, 3, NULL, body, strlen(body), now + 3000, NULL), IRD_AUTH_OK);
    CHECK_INT(ird_auth_check(a, h, 3, NULL, body, strlen(body), now + 4000, NULL),
              IRD_AUTH_UNAUTHORIZED);
    /* stale and future timestamps */
    CHECK_INT(ird_auth_check(a, h, 3, NULL, body, strlen(body), now + 301 * 1000, NULL),
              IRD_AUTH_UNAUTHORIZED);
    CHECK_STR(ird_auth_reason(a), "timestamp outside the tolerance window");
    CHECK_INT(ird_auth_check(a, h, 3, NULL, body, strlen(body), now - 301 * 1000, NULL),
              IRD_AUTH_UNAUTHORIZED);

    /* a new delivery: signature over another body, then a list with one good */
    unsigned char key[64];
    int keylen =
        EVP_DecodeBlock(key, (const unsigned char *)"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 32);
    CHECK_INT(keylen, 24);
    char good[128], list[300];
    sw_sign(key, 24, "msg_2", "1614265400", "{\"n\":2}", good, sizeof(good));
    struct ird_http_header h2[] = {
        {(char *)"Webhook-Id", (char *)"msg_2"},
        {(char *)"Webhook-Timestamp", (char *)"1614265400"},
        {(char *)"Webhook-Signature", good},
    };
    CHECK_INT(ird_auth_check(a, h2, 3, NULL, "{\"n\":3}", 7, now + 70000, NULL),
              IRD_AUTH_UNAUTHORIZED);
    CHECK_STR(ird_auth_reason(a), "signature does not match");
    snprintf(list, sizeof(list), "v1,AAAA v1a,ed25519sig %s", good);
    h2[2].value = list;
    CHECK_INT(ird_auth_check(a, h2, 3, NULL, "{\"n\":2}", 7, now + 70000, NULL), IRD_AUTH_OK);
    /* wrong-length signature */
    h2[0].value = (char *)"msg_3";
    h2[2].value = (char *)"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1O==";
    CHECK_INT(ird_auth_check(a, h2, 3, NULL, "{\"n\":2}", 7, now + 70000, NULL),
              IRD_AUTH_UNAUTHORIZED);
    /* missing headers */
    CHECK_INT(ird_auth_check(a, h2, 2, NULL, "{\"n\":2}", 7, now + 70000, NULL),
              IRD_AUTH_UNAUTHORIZED);
    CHECK_STR(ird_auth_reason(a),
              "webhook-id, webhook-timestamp and webhook-signature are required");
    /* the seen id expires after twice the window: a fresh signed delivery reusing it passes */
    char later[128];
    sw_sign(key, 24, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614266000", body, later, sizeof(later));
    struct ird_http_header h3[] = {
        {(char *)"webhook-id", (char *)"msg_p5jXN8AQM9LWM0D4loKWxJek"},
        {(char *)"webhook-timestamp", (char *)"1614266000"},
        {(char *)"webhook-signature", later},
    };
    CHECK_INT(ird_auth_check(a, h3, 3, NULL, body, strlen(body), 1614266000LL * 1000, NULL),
              IRD_AUTH_OK);
    ird_auth_free(a);

    /* a bad secret is named without being shown */
    const char *msg = refused("sources = { s = { auth = { type = \"standard-webhooks\";\n"
                              "  secret = \"whsec_!!notbase64!!\"; }; }; };");
    CHECK_STR(msg, "line 2: sources.s.auth.secret: a secret must be \"whsec_\" followed by base64");
    CHECK(strstr(msg, "notbase64") == NULL);
}

int main(void)
{
    config_init(&cfg);
    test_none_and_missing();
    test_config_file_lines();
    test_bearer();
    test_secret_sources();
    test_basic();
    test_hmac();
    test_standard_webhooks();
    config_destroy(&cfg);
    return ird_check_summary("test_auth");
}
