/* intake/auth: per-source webhook authentication (bearer, basic, query token,
 * HMAC over the body, Standard Webhooks with a replay cache), its config and
 * its secrets. */
#include "intake/auth.h"
#include "core/cfgerr.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "core/clock.h"
#include "core/text.h"

#define DIGEST_LEN           32
#define MAX_KEYS             8 /* HMAC secrets accepted at once, for rotation */
#define MAX_SECRET_FILE      65536
#define MAX_PRESENTED        1024 /* longest token, password or signature header read */
#define DEFAULT_TOLERANCE_MS (5 * 60 * 1000)
#define DEFAULT_REPLAY_CACHE 4096

enum kind { K_NONE, K_BEARER, K_QUERY, K_BASIC, K_HMAC, K_SW };

/* Credential families for 403: a token is a token on bearer and query alike. */
static const int family[] = {
    [K_NONE] = 0, [K_BEARER] = 1, [K_QUERY] = 1, [K_BASIC] = 2, [K_HMAC] = 0, [K_SW] = 0};

/* One request, as the checks see it. */
struct request {
    const struct ird_http_header *headers;
    size_t n;
    const char *query, *body;
    size_t len;
    int64_t now_ms;
};

struct digest {
    unsigned char d[DIGEST_LEN];
};

struct key {
    unsigned char *bytes;
    size_t len;
};

struct seen {
    unsigned char id[DIGEST_LEN];
    int64_t expires_ms;
    bool live;
};

struct kind_row;

struct ird_auth {
    enum kind kind;
    const char *scheme;
    const struct kind_row *row;
    struct digest *creds, *foreign;
    size_t ncreds, nforeign;
    struct key *keys;
    size_t nkeys;
    char header[128], prefix[32], param[64];
    int64_t tolerance_ms;
    struct seen *ring; /* oldest at head; insertion order is expiry order */
    size_t ringcap, head, count;
    const char *reason;
};

/* ---------- config helpers ---------- */

static int sha256(const void *parts[], const size_t lens[], size_t n, struct digest *out)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned int dlen = 0;
    int ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    for (size_t i = 0; ok && i < n; i++)
        ok = EVP_DigestUpdate(md, parts[i], lens[i]);
    ok = ok && EVP_DigestFinal_ex(md, out->d, &dlen) && dlen == DIGEST_LEN;
    EVP_MD_CTX_free(md);
    return ok ? 0 : -ENOMEM;
}

static int hmac_sha256(const struct key *k, const void *parts[], const size_t lens[], size_t n,
                       unsigned char out[DIGEST_LEN])
{
    char digest_name[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
        OSSL_PARAM_construct_end(),
    };
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    size_t outl = 0;
    int ok = ctx && EVP_MAC_init(ctx, k->bytes, k->len, params);
    for (size_t i = 0; ok && i < n; i++)
        ok = EVP_MAC_update(ctx, parts[i], lens[i]);
    ok = ok && EVP_MAC_final(ctx, out, &outl, DIGEST_LEN) && outl == DIGEST_LEN;
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    return ok ? 0 : -ENOMEM;
}

static int b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Standard base64 (padding optional) into out; the length, or -1. */
static long b64_decode(const char *in, size_t len, unsigned char *out, size_t outcap)
{
    while (len && in[len - 1] == '=')
        len--;
    if (len % 4 == 1)
        return -1;
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64val((unsigned char)in[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o == outcap)
                return -1;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    return (long)o;
}

/* ---------- secrets ---------- */

/* Receives each secret value; value is not NUL-terminated. */
typedef int (*secret_fn)(struct ird_auth *a, const config_setting_t *where, const char *value,
                         size_t len, const void *ctx, struct ird_err *err);

/* One secret a line; blank lines and '#' comments skipped. */
static int secret_lines(struct ird_auth *a, const config_setting_t *where, const char *text,
                        secret_fn add, const void *ctx, int *count, struct ird_err *err)
{
    const char *p = text;
    while (*p) {
        size_t n = strcspn(p, "\n");
        const char *s = p, *e = p + n;
        while (s < e && strchr(" \t\r", *s))
            s++;
        while (e > s && strchr(" \t\r", e[-1]))
            e--;
        if (e > s && *s != '#') {
            int rc = add(a, where, s, (size_t)(e - s), ctx, err);
            if (rc)
                return rc;
            (*count)++;
        }
        p += n;
        if (*p)
            p++;
    }
    return 0;
}

static int read_secret_file(const char *path, char **ret, struct ird_err *err,
                            const config_setting_t *where)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return ird_cfg_fail(err, where, NULL, "cannot read %s: %s", path, strerror(errno));
    char *buf = malloc(MAX_SECRET_FILE + 1);
    if (!buf) {
        fclose(f);
        return -ENOMEM;
    }
    size_t n = fread(buf, 1, MAX_SECRET_FILE + 1, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || n > MAX_SECRET_FILE) {
        OPENSSL_clear_free(buf, MAX_SECRET_FILE + 1);
        return ird_cfg_fail(err, where, NULL, "%s: %s", path,
                            bad ? "read error" : "larger than 64 KiB");
    }
    buf[n] = '\0';
    *ret = buf;
    return 0;
}

/* Load the secret `base` of group g in exactly one of its forms: base (a
 * string or list of strings; alias is another accepted inline name),
 * base_file, base_env. */
static int load_secret(struct ird_auth *a, const config_setting_t *g, const char *base,
                       const char *alias, secret_fn add, const void *ctx, struct ird_err *err)
{
    char file_key[32], env_key[32];
    snprintf(file_key, sizeof(file_key), "%s_file", base);
    snprintf(env_key, sizeof(env_key), "%s_env", base);
    const config_setting_t *inl = config_setting_get_member(g, base);
    const config_setting_t *al = alias ? config_setting_get_member(g, alias) : NULL;
    const config_setting_t *file = config_setting_get_member(g, file_key);
    const config_setting_t *env = config_setting_get_member(g, env_key);
    int present = !!inl + !!al + !!file + !!env;
    if (present != 1)
        return ird_cfg_fail(err, g, NULL, "give %s of %s, %s, %s", present ? "only one" : "one",
                            base, file_key, env_key);
    if (al)
        inl = al;
    int count = 0, rc = 0;
    if (inl) {
        int t = config_setting_type(inl);
        if (t == CONFIG_TYPE_STRING) {
            const char *v = config_setting_get_string(inl);
            if (!*v)
                return ird_cfg_fail(err, inl, NULL, "empty secret");
            rc = add(a, inl, v, strlen(v), ctx, err);
            count = 1;
        } else if (t == CONFIG_TYPE_ARRAY || t == CONFIG_TYPE_LIST) {
            for (int i = 0; rc == 0 && i < config_setting_length(inl); i++) {
                const config_setting_t *e = config_setting_get_elem(inl, (unsigned)i);
                if (config_setting_type(e) != CONFIG_TYPE_STRING)
                    return ird_cfg_fail(err, e, NULL, "expected a string");
                const char *v = config_setting_get_string(e);
                if (!*v)
                    return ird_cfg_fail(err, e, NULL, "empty secret");
                rc = add(a, e, v, strlen(v), ctx, err);
                count++;
            }
        } else {
            return ird_cfg_fail(err, inl, NULL, "expected a string or a list of strings");
        }
    } else {
        const config_setting_t *s = file ? file : env;
        if (config_setting_type(s) != CONFIG_TYPE_STRING)
            return ird_cfg_fail(err, s, NULL, "expected a string");
        const char *name = config_setting_get_string(s);
        if (file) {
            char *text = NULL;
            if ((rc = read_secret_file(name, &text, err, s)))
                return rc;
            rc = secret_lines(a, s, text, add, ctx, &count, err);
            OPENSSL_clear_free(text, strlen(text));
        } else {
            const char *text = getenv(name);
            if (!text)
                return ird_cfg_fail(err, s, NULL, "environment variable %s is not set", name);
            rc = secret_lines(a, s, text, add, ctx, &count, err);
        }
        if (rc == 0 && count == 0)
            return ird_cfg_fail(err, s, NULL, "%s holds no %s", name, base);
    }
    return rc;
}

static int push_digest(struct digest **arr, size_t *n, const struct digest *d)
{
    struct digest *grown = realloc(*arr, (*n + 1) * sizeof(**arr));
    if (!grown)
        return -ENOMEM;
    grown[*n] = *d;
    *arr = grown;
    (*n)++;
    return 0;
}

static int add_token(struct ird_auth *a, const config_setting_t *where, const char *v, size_t len,
                     const void *ctx, struct ird_err *err)
{
    (void)where;
    (void)ctx;
    (void)err;
    struct digest d;
    const void *parts[] = {v};
    size_t lens[] = {len};
    int rc = sha256(parts, lens, 1, &d);
    return rc ? rc : push_digest(&a->creds, &a->ncreds, &d);
}

/* ctx: the username. The digest covers "user:password", as Basic sends it. */
static int add_password(struct ird_auth *a, const config_setting_t *where, const char *v,
                        size_t len, const void *ctx, struct ird_err *err)
{
    (void)where;
    (void)err;
    const char *user = ctx;
    struct digest d;
    const void *parts[] = {user, ":", v};
    size_t lens[] = {strlen(user), 1, len};
    int rc = sha256(parts, lens, 3, &d);
    return rc ? rc : push_digest(&a->creds, &a->ncreds, &d);
}

/* ctx non-NULL: a Standard Webhooks secret, "whsec_" + base64. */
static int add_key(struct ird_auth *a, const config_setting_t *where, const char *v, size_t len,
                   const void *ctx, struct ird_err *err)
{
    if (a->nkeys == MAX_KEYS)
        return ird_cfg_fail(err, where, NULL, "at most %d secrets at once", MAX_KEYS);
    struct key k = {malloc(len ? len : 1), 0};
    if (!k.bytes)
        return -ENOMEM;
    if (ctx) {
        if (len > 6 && memcmp(v, "whsec_", 6) == 0) {
            v += 6;
            len -= 6;
        }
        long n = b64_decode(v, len, k.bytes, len);
        if (n <= 0) {
            OPENSSL_clear_free(k.bytes, len ? len : 1);
            return ird_cfg_fail(err, where, NULL, "a secret must be \"whsec_\" followed by base64");
        }
        k.len = (size_t)n;
    } else {
        memcpy(k.bytes, v, len);
        k.len = len;
    }
    struct key *grown = realloc(a->keys, (a->nkeys + 1) * sizeof(*grown));
    if (!grown) {
        OPENSSL_clear_free(k.bytes, k.len);
        return -ENOMEM;
    }
    grown[a->nkeys++] = k;
    a->keys = grown;
    return 0;
}

static int basic_user(struct ird_auth *a, const config_setting_t *g, struct ird_err *err)
{
    const config_setting_t *u = config_setting_get_member(g, "username");
    if (!u || config_setting_type(u) != CONFIG_TYPE_STRING || !*config_setting_get_string(u))
        return ird_cfg_fail(err, u ? u : g, NULL, "username is required (a non-empty string)");
    const char *user = config_setting_get_string(u);
    if (strchr(user, ':'))
        return ird_cfg_fail(err, u, NULL, "a username cannot contain \":\"");
    return load_secret(a, g, "password", NULL, add_password, user, err);
}

static int copy_string(const config_setting_t *g, const char *key, char *out, size_t outlen,
                       struct ird_err *err)
{
    const config_setting_t *s = config_setting_get_member(g, key);
    if (!s)
        return 0;
    if (config_setting_type(s) != CONFIG_TYPE_STRING)
        return ird_cfg_fail(err, s, NULL, "expected a string");
    const char *v = config_setting_get_string(s);
    if (strlen(v) >= outlen)
        return ird_cfg_fail(err, s, NULL, "longer than %zu bytes", outlen - 1);
    memcpy(out, v, strlen(v) + 1);
    return 0;
}

static int parse_tokens(struct ird_auth *a, const config_setting_t *g, struct ird_err *err)
{
    return load_secret(a, g, "tokens", "token", add_token, NULL, err);
}

static int parse_query(struct ird_auth *a, const config_setting_t *g, struct ird_err *err)
{
    memcpy(a->param, "token", sizeof("token"));
    int rc = copy_string(g, "param", a->param, sizeof(a->param), err);
    if (rc)
        return rc;
    if (!a->param[0])
        return ird_cfg_fail(err, config_setting_get_member(g, "param"), NULL, "expected a name");
    return parse_tokens(a, g, err);
}

static int parse_basic(struct ird_auth *a, const config_setting_t *g, struct ird_err *err)
{
    const config_setting_t *users = config_setting_get_member(g, "users");
    if (!users)
        return basic_user(a, g, err);
    if (config_setting_get_member(g, "username"))
        return ird_cfg_fail(err, g, NULL, "give either username or users, not both");
    if (!config_setting_is_list(users) || config_setting_length(users) == 0)
        return ird_cfg_fail(err, users, NULL,
                            "expected a list of { username = ...; password = ...; }");
    int rc = 0;
    for (int i = 0; rc == 0 && i < config_setting_length(users); i++) {
        const config_setting_t *u = config_setting_get_elem(users, (unsigned)i);
        if (!config_setting_is_group(u))
            return ird_cfg_fail(err, u, NULL, "expected { username = ...; password = ...; }");
        for (int k = 0; k < config_setting_length(u); k++) {
            const char *name = config_setting_name(config_setting_get_elem(u, (unsigned)k));
            if (strcmp(name, "username") && strcmp(name, "password") &&
                strcmp(name, "password_file") && strcmp(name, "password_env"))
                return ird_cfg_fail(err, config_setting_get_elem(u, (unsigned)k), NULL,
                                    "unknown key");
        }
        rc = basic_user(a, u, err);
    }
    return rc;
}

static int parse_hmac(struct ird_auth *a, const config_setting_t *g, struct ird_err *err)
{
    memcpy(a->header, "X-Hub-Signature-256", sizeof("X-Hub-Signature-256"));
    memcpy(a->prefix, "sha256=", sizeof("sha256="));
    int rc;
    if ((rc = copy_string(g, "header", a->header, sizeof(a->header), err)) ||
        (rc = copy_string(g, "prefix", a->prefix, sizeof(a->prefix), err)))
        return rc;
    if (!a->header[0])
        return ird_cfg_fail(err, config_setting_get_member(g, "header"), NULL,
                            "expected a header name");
    return load_secret(a, g, "secret", "secrets", add_key, NULL, err);
}

static int parse_sw(struct ird_auth *a, const config_setting_t *g, struct ird_err *err)
{
    a->tolerance_ms = DEFAULT_TOLERANCE_MS;
    const config_setting_t *tol = config_setting_get_member(g, "tolerance");
    if (tol && (config_setting_type(tol) != CONFIG_TYPE_STRING ||
                ird_duration_parse(config_setting_get_string(tol), &a->tolerance_ms) ||
                a->tolerance_ms <= 0))
        return ird_cfg_fail(err, tol, NULL, "expected a duration such as \"5m\"");
    long long cache = DEFAULT_REPLAY_CACHE;
    const config_setting_t *rcs = config_setting_get_member(g, "replay_cache");
    if (rcs) {
        int t = config_setting_type(rcs);
        if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64)
            return ird_cfg_fail(err, rcs, NULL, "expected a number of ids");
        cache = t == CONFIG_TYPE_INT ? config_setting_get_int(rcs) : config_setting_get_int64(rcs);
        if (cache < 16 || cache > 1000000)
            return ird_cfg_fail(err, rcs, NULL, "expected 16 to 1000000");
    }
    a->ringcap = (size_t)cache;
    a->ring = calloc(a->ringcap, sizeof(*a->ring));
    if (!a->ring)
        return -ENOMEM;
    return load_secret(a, g, "secret", "secrets", add_key, "whsec", err);
}

typedef int (*parse_fn)(struct ird_auth *a, const config_setting_t *g, struct ird_err *err);
typedef enum ird_auth_result (*check_fn)(struct ird_auth *a, const struct request *rq);
static enum ird_auth_result check_none(struct ird_auth *a, const struct request *rq);
static enum ird_auth_result check_bearer(struct ird_auth *a, const struct request *rq);
static enum ird_auth_result check_basic(struct ird_auth *a, const struct request *rq);
static enum ird_auth_result check_query(struct ird_auth *a, const struct request *rq);
static enum ird_auth_result check_hmac_rq(struct ird_auth *a, const struct request *rq);
static enum ird_auth_result check_sw_rq(struct ird_auth *a, const struct request *rq);

/* The schemes: config keys each takes, how it is built, how a request is checked. */
static const struct kind_row {
    const char *name;
    enum kind kind;
    const char *keys[8];
    parse_fn parse;
    check_fn check;
} kinds[] = {
    {"bearer",
     K_BEARER,
     {"type", "tokens", "token", "tokens_file", "tokens_env"},
     parse_tokens,
     check_bearer},
    {"query-token",
     K_QUERY,
     {"type", "tokens", "token", "tokens_file", "tokens_env", "param"},
     parse_query,
     check_query},
    {"basic",
     K_BASIC,
     {"type", "username", "password", "password_file", "password_env", "users"},
     parse_basic,
     check_basic},
    {"hmac",
     K_HMAC,
     {"type", "secret", "secrets", "secret_file", "secret_env", "header", "prefix"},
     parse_hmac,
     check_hmac_rq},
    {"standard-webhooks",
     K_SW,
     {"type", "secret", "secrets", "secret_file", "secret_env", "tolerance", "replay_cache"},
     parse_sw,
     check_sw_rq},
};

static const struct kind_row none_row = {"none", K_NONE, {"type"}, NULL, check_none};

static int parse_group(struct ird_auth *a, const config_setting_t *g, struct ird_err *err)
{
    const config_setting_t *t = config_setting_get_member(g, "type");
    if (!t || config_setting_type(t) != CONFIG_TYPE_STRING)
        return ird_cfg_fail(
            err, t ? t : g, NULL,
            "type is required: bearer, basic, hmac, standard-webhooks or query-token");
    const char *tname = config_setting_get_string(t);
    const struct kind_row *row = NULL;
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (strcmp(kinds[i].name, tname) == 0)
            row = &kinds[i];
    if (!row)
        return ird_cfg_fail(
            err, t, NULL,
            "unknown type \"%.64s\"; expected bearer, basic, hmac, standard-webhooks "
            "or query-token",
            tname);
    for (int i = 0; i < config_setting_length(g); i++) {
        const config_setting_t *m = config_setting_get_elem(g, (unsigned)i);
        const char *name = config_setting_name(m);
        bool known = false;
        for (size_t k = 0; k < sizeof(row->keys) / sizeof(row->keys[0]) && row->keys[k]; k++)
            known = known || strcmp(row->keys[k], name) == 0;
        if (!known)
            return ird_cfg_fail(err, m, NULL, "unknown key for type \"%s\"", row->name);
    }
    a->kind = row->kind;
    a->scheme = row->name;
    a->row = row;
    return row->parse(a, g, err);
}

int ird_auth_new(const config_setting_t *source, struct ird_auth **ret, struct ird_err *err)
{
    if (!source)
        return ird_err_set(err, -EINVAL, "no source group given");
    const config_setting_t *s = config_setting_get_member(source, "auth");
    if (!s)
        return ird_cfg_fail(err, source, NULL,
                            "auth is required; write auth = \"none\" to accept unauthenticated "
                            "alerts");
    struct ird_auth *a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    a->reason = "";
    int rc = 0;
    if (config_setting_type(s) == CONFIG_TYPE_STRING &&
        strcmp(config_setting_get_string(s), "none") == 0) {
        a->kind = K_NONE;
        a->scheme = "none";
        a->row = &none_row;
    } else if (config_setting_is_group(s)) {
        rc = parse_group(a, s, err);
    } else {
        rc =
            ird_cfg_fail(err, s, NULL,
                         "expected \"none\" or a group such as { type = \"bearer\"; tokens = [ ... "
                         "]; }");
    }
    if (rc) {
        ird_auth_free(a);
        return rc;
    }
    *ret = a;
    return 0;
}

void ird_auth_free(struct ird_auth *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->nkeys; i++)
        OPENSSL_clear_free(a->keys[i].bytes, a->keys[i].len);
    free(a->keys);
    free(a->creds);
    free(a->foreign);
    free(a->ring);
    free(a);
}

int ird_auth_add_foreign(struct ird_auth *a, const struct ird_auth *other)
{
    if (!a || !other || a == other || !family[a->kind] || family[a->kind] != family[other->kind])
        return 0;
    for (size_t i = 0; i < other->ncreds; i++) {
        int rc = push_digest(&a->foreign, &a->nforeign, &other->creds[i]);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---------- checking ---------- */

/* Constant time over every entry: does d equal one of set[0, n)? */
static bool digest_in(const struct digest *set, size_t n, const struct digest *d)
{
    int hit = 0;
    for (size_t i = 0; i < n; i++)
        hit |= CRYPTO_memcmp(set[i].d, d->d, DIGEST_LEN) == 0;
    return hit;
}

static enum ird_auth_result match_credential(struct ird_auth *a, const char *v, size_t len)
{
    struct digest d;
    const void *parts[] = {v};
    size_t lens[] = {len};
    if (sha256(parts, lens, 1, &d)) {
        a->reason = "out of memory";
        return IRD_AUTH_UNAUTHORIZED;
    }
    if (digest_in(a->creds, a->ncreds, &d))
        return IRD_AUTH_OK;
    if (digest_in(a->foreign, a->nforeign, &d)) {
        a->reason = "credential belongs to another source";
        return IRD_AUTH_FORBIDDEN;
    }
    a->reason = a->kind == K_BASIC ? "wrong username or password" : "unknown token";
    return IRD_AUTH_UNAUTHORIZED;
}

/* The credential after "<scheme> " in Authorization, or NULL. */
static const char *authorization(struct ird_auth *a, const struct ird_http_header *h, size_t n,
                                 const char *scheme)
{
    const char *v = ird_http_header_get(h, n, "Authorization");
    if (!v) {
        a->reason = "no Authorization header";
        return NULL;
    }
    size_t sl = strlen(scheme);
    if (strncasecmp(v, scheme, sl) != 0 || (v[sl] != ' ' && v[sl] != '\t')) {
        a->reason = "Authorization header has another scheme";
        return NULL;
    }
    v += sl;
    while (*v == ' ' || *v == '\t')
        v++;
    if (!*v || strlen(v) > MAX_PRESENTED) {
        a->reason = "Authorization header has no usable credential";
        return NULL;
    }
    return v;
}

static enum ird_auth_result check_hmac(struct ird_auth *a, const struct ird_http_header *h,
                                       size_t n, const char *body, size_t len)
{
    const char *v = ird_http_header_get(h, n, a->header);
    if (!v) {
        a->reason = "no signature header";
        return IRD_AUTH_UNAUTHORIZED;
    }
    size_t pl = strlen(a->prefix);
    if (strncasecmp(v, a->prefix, pl) != 0) {
        a->reason = "signature lacks its prefix";
        return IRD_AUTH_UNAUTHORIZED;
    }
    v += pl;
    unsigned char given[DIGEST_LEN];
    /* Only a signature of exactly the right length is ever compared. */
    if (strlen(v) != 2 * DIGEST_LEN) {
        a->reason = "signature has the wrong length";
        return IRD_AUTH_UNAUTHORIZED;
    }
    for (size_t i = 0; i < DIGEST_LEN; i++) {
        int hi = ird_hex_value(v[2 * i]), lo = ird_hex_value(v[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            a->reason = "signature is not hex";
            return IRD_AUTH_UNAUTHORIZED;
        }
        given[i] = (unsigned char)(hi * 16 + lo);
    }
    const void *parts[] = {body ? body : ""};
    size_t lens[] = {body ? len : 0};
    int hit = 0;
    for (size_t k = 0; k < a->nkeys; k++) {
        unsigned char want[DIGEST_LEN];
        if (hmac_sha256(&a->keys[k], parts, lens, 1, want) == 0)
            hit |= CRYPTO_memcmp(want, given, DIGEST_LEN) == 0;
    }
    if (hit)
        return IRD_AUTH_OK;
    a->reason = "signature does not match";
    return IRD_AUTH_UNAUTHORIZED;
}

static void ring_purge(struct ird_auth *a, int64_t now_ms)
{
    while (a->count && (!a->ring[a->head].live || a->ring[a->head].expires_ms <= now_ms)) {
        a->head = (a->head + 1) % a->ringcap;
        a->count--;
    }
}

static struct seen *ring_find(struct ird_auth *a, const struct digest *id)
{
    for (size_t i = 0; i < a->count; i++) {
        struct seen *s = &a->ring[(a->head + i) % a->ringcap];
        if (s->live && memcmp(s->id, id->d, DIGEST_LEN) == 0)
            return s;
    }
    return NULL;
}

static void ring_add(struct ird_auth *a, const struct digest *id, int64_t expires_ms)
{
    if (a->count == a->ringcap) { /* full of live ids: the oldest goes */
        a->head = (a->head + 1) % a->ringcap;
        a->count--;
    }
    struct seen *s = &a->ring[(a->head + a->count) % a->ringcap];
    memcpy(s->id, id->d, DIGEST_LEN);
    s->expires_ms = expires_ms;
    s->live = true;
    a->count++;
}

void ird_auth_inherit(struct ird_auth *to, const struct ird_auth *from)
{
    if (!to || !from || to->kind != from->kind || !to->ringcap)
        return;
    for (size_t i = 0; i < from->count; i++) {
        const struct seen *s = &from->ring[(from->head + i) % from->ringcap];
        if (s->live) {
            struct digest d;
            memcpy(d.d, s->id, DIGEST_LEN);
            ring_add(to, &d, s->expires_ms);
        }
    }
}

static int id_digest(const char *id, struct digest *out)
{
    const void *parts[] = {id};
    size_t lens[] = {strlen(id)};
    return sha256(parts, lens, 1, out);
}

static enum ird_auth_result check_sw(struct ird_auth *a, const struct ird_http_header *h, size_t n,
                                     const char *body, size_t len, int64_t now_ms)
{
    const char *id = ird_http_header_get(h, n, "webhook-id");
    const char *ts = ird_http_header_get(h, n, "webhook-timestamp");
    const char *sig = ird_http_header_get(h, n, "webhook-signature");
    if (!id || !ts || !sig || !*id) {
        a->reason = "webhook-id, webhook-timestamp and webhook-signature are required";
        return IRD_AUTH_UNAUTHORIZED;
    }
    size_t tl = strlen(ts);
    long long secs = 0;
    bool digits = tl > 0 && tl <= 12;
    for (size_t i = 0; digits && i < tl; i++) {
        digits = ts[i] >= '0' && ts[i] <= '9';
        secs = secs * 10 + (ts[i] - '0');
    }
    if (!digits) {
        a->reason = "webhook-timestamp is not a number of seconds";
        return IRD_AUTH_UNAUTHORIZED;
    }
    long long skew = secs * 1000 - now_ms;
    if (skew > a->tolerance_ms || -skew > a->tolerance_ms) {
        a->reason = "timestamp outside the tolerance window";
        return IRD_AUTH_UNAUTHORIZED;
    }
    unsigned char want[MAX_KEYS][DIGEST_LEN];
    size_t nwant = a->nkeys;
    const void *parts[] = {id, ".", ts, ".", body ? body : ""};
    size_t lens[] = {strlen(id), 1, tl, 1, body ? len : 0};
    for (size_t k = 0; k < nwant; k++)
        if (hmac_sha256(&a->keys[k], parts, lens, 5, want[k]))
            memset(want[k], 0, DIGEST_LEN);
    int hit = 0;
    const char *p = sig;
    while (*p) {
        while (*p == ' ')
            p++;
        size_t tokl = strcspn(p, " ");
        if (tokl > 3 && tokl < 200 && memcmp(p, "v1,", 3) == 0) {
            unsigned char given[64];
            long gl = b64_decode(p + 3, tokl - 3, given, sizeof(given));
            if (gl == DIGEST_LEN)
                for (size_t k = 0; k < nwant; k++)
                    hit |= CRYPTO_memcmp(want[k], given, DIGEST_LEN) == 0;
        }
        p += tokl;
    }
    if (!hit) {
        a->reason = "signature does not match";
        return IRD_AUTH_UNAUTHORIZED;
    }
    struct digest d;
    if (id_digest(id, &d)) {
        a->reason = "out of memory";
        return IRD_AUTH_UNAUTHORIZED;
    }
    ring_purge(a, now_ms);
    if (ring_find(a, &d)) {
        a->reason = "replayed webhook-id";
        return IRD_AUTH_UNAUTHORIZED;
    }
    ring_add(a, &d, now_ms + 2 * a->tolerance_ms);
    return IRD_AUTH_OK;
}

static enum ird_auth_result check_none(struct ird_auth *a, const struct request *rq)
{
    (void)a;
    (void)rq;
    return IRD_AUTH_OK;
}

static enum ird_auth_result check_bearer(struct ird_auth *a, const struct request *rq)
{
    const char *t = authorization(a, rq->headers, rq->n, "Bearer");
    return t ? match_credential(a, t, strlen(t)) : IRD_AUTH_UNAUTHORIZED;
}

static enum ird_auth_result check_basic(struct ird_auth *a, const struct request *rq)
{
    const char *t = authorization(a, rq->headers, rq->n, "Basic");
    if (!t)
        return IRD_AUTH_UNAUTHORIZED;
    unsigned char dec[MAX_PRESENTED];
    enum ird_auth_result r = IRD_AUTH_UNAUTHORIZED;
    long dl = b64_decode(t, strlen(t), dec, sizeof(dec));
    if (dl <= 0 || !memchr(dec, ':', (size_t)dl))
        a->reason = "Basic credentials are not base64 of user:password";
    else
        r = match_credential(a, (const char *)dec, (size_t)dl);
    OPENSSL_cleanse(dec, sizeof(dec));
    return r;
}

static enum ird_auth_result check_query(struct ird_auth *a, const struct request *rq)
{
    char tok[MAX_PRESENTED + 1];
    enum ird_auth_result r = IRD_AUTH_UNAUTHORIZED;
    int tl = ird_http_query_get(rq->query, a->param, tok, sizeof(tok));
    if (tl <= 0)
        a->reason = "no usable token in the query string";
    else
        r = match_credential(a, tok, (size_t)tl);
    OPENSSL_cleanse(tok, sizeof(tok));
    return r;
}

static enum ird_auth_result check_hmac_rq(struct ird_auth *a, const struct request *rq)
{
    return check_hmac(a, rq->headers, rq->n, rq->body, rq->len);
}

static enum ird_auth_result check_sw_rq(struct ird_auth *a, const struct request *rq)
{
    return check_sw(a, rq->headers, rq->n, rq->body, rq->len, rq->now_ms);
}

enum ird_auth_result ird_auth_check(struct ird_auth *a, const struct ird_http_header *headers,
                                    size_t n, const char *query, const char *body, size_t len,
                                    int64_t now_ms, const char **ret_scheme)
{
    if (ret_scheme)
        *ret_scheme = a->scheme;
    a->reason = "";
    const struct request rq = {headers, n, query, body, len, now_ms};
    enum ird_auth_result r = a->row->check(a, &rq);
    if (r == IRD_AUTH_OK)
        a->reason = "";
    return r;
}

const char *ird_auth_reason(const struct ird_auth *a)
{
    return a->reason;
}

void ird_auth_forget(struct ird_auth *a, const struct ird_http_header *headers, size_t n)
{
    const char *id = ird_http_header_get(headers, n, "webhook-id");
    struct digest d;
    if (!a || a->kind != K_SW || !id || id_digest(id, &d))
        return;
    struct seen *s = ring_find(a, &d);
    if (s)
        s->live = false;
}
