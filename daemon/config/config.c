/* The configuration table, the loader that follows it, secrets from
 * *_file / *_env, and the Markdown reference generated from the table. */
#include "config/config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "core/clock.h"

#define OFF(field) offsetof(struct ird_config, field)
#define NOFF       ((size_t)-1)

/* Every key ird.conf accepts. Groups listed here are validated by their
 * module (intake for sources, api for api, ...). Keep etc/ird.conf and the
 * README in step: a test compares them with this table. */
const struct ird_conf_key ird_conf_keys[] = {
    {"listen.webhooks", IRD_CONF_ADDR, "127.0.0.1:9410",
     "Where alert senders post (`POST /v1/alerts/<source>`); health and metrics too. IPv6 as "
     "`[::1]:9410`.",
     NULL, 0, 0, OFF(listen_webhooks)},
    {"listen.api", IRD_CONF_ADDR, "127.0.0.1:9411",
     "The operator API (incidents, runs, playbooks, audit); keep it on loopback or a private "
     "network.",
     NULL, 0, 0, OFF(listen_api)},
    {"state_dir", IRD_CONF_STRING, "./state",
     "Directory for `ird.db` (SQLite, WAL) and `evidence/`; created if missing.", NULL, 0, 0,
     OFF(state_dir)},
    {"playbooks_dir", IRD_CONF_STRING, "./playbooks",
     "Directory of playbook files (`*.conf`). Relative paths are relative to the working "
     "directory.",
     NULL, 0, 0, OFF(playbooks_dir)},
    {"dry_run", IRD_CONF_BOOL, "true",
     "Record the calls mutating actions would make instead of making them. Off only when you mean "
     "it.",
     NULL, 0, 0, OFF(dry_run)},
    {"log.level", IRD_CONF_ENUM, "info", "Least severe level logged.", "debug|info|warn|error", 0,
     0, OFF(log_level)},
    {"log.format", IRD_CONF_ENUM, "text",
     "`text` (logfmt) or `json` (one object a line), on stderr.", "text|json", 0, 0,
     OFF(log_format)},
    {"limits.header_bytes", IRD_CONF_INT, "16384",
     "Most bytes of request header names and values (431 past it).", NULL, 256, 1048576,
     OFF(http.header_bytes)},
    {"limits.header_count", IRD_CONF_INT, "100", "Most request headers (431 past it).", NULL, 4,
     10000, OFF(http.header_count)},
    {"limits.url_bytes", IRD_CONF_INT, "4096", "Longest request target (414 past it).", NULL, 64,
     1048576, OFF(http.url_bytes)},
    {"limits.body_bytes", IRD_CONF_INT, "1048576",
     "Largest request body, Content-Length or chunked (413 past it, refused before it is read).",
     NULL, 1, 1073741824, OFF(http.body_bytes)},
    {"limits.read_timeout", IRD_CONF_DURATION, "10s",
     "Time from a request's first byte to its last (408 past it): slow clients are cut off.", NULL,
     10, 3600000, OFF(http.read_timeout_ms)},
    {"limits.idle_timeout", IRD_CONF_DURATION, "60s",
     "How long an idle keep-alive connection stays open.", NULL, 10, 86400000,
     OFF(http.idle_timeout_ms)},
    {"limits.max_connections", IRD_CONF_INT, "1024",
     "Open connections per listener; more are answered 503 and closed.", NULL, 1, 1000000,
     OFF(http.max_connections)},
    {"limits.json_depth", IRD_CONF_INT, "32", "Deepest JSON nesting accepted in an alert body.",
     NULL, 2, 1000, OFF(json_depth)},
    {"limits.string_bytes", IRD_CONF_INT, "65536", "Longest JSON string accepted in an alert body.",
     NULL, 64, 16777216, OFF(string_bytes)},
    {"limits.alerts_per_request", IRD_CONF_INT, "1000", "Most alerts in one request (413 past it).",
     NULL, 1, 1000000, OFF(alerts_per_request)},
    {"intake.queue_size", IRD_CONF_INT, "10000",
     "Alerts accepted but not yet committed; past it senders get 503 with Retry-After.", NULL, 1,
     10000000, OFF(intake_queue)},
    {"shutdown_timeout", IRD_CONF_DURATION, "10s",
     "On SIGTERM, how long requests in flight may take before connections are closed.", NULL, 0,
     600000, OFF(shutdown_timeout_ms)},
    {"engine.retry_base", IRD_CONF_DURATION, "1s",
     "Backoff before a step's first retry: a random wait up to this, doubling with each attempt.",
     NULL, 0, 3600000, OFF(retry_base_ms)},
    {"engine.retry_cap", IRD_CONF_DURATION, "30s",
     "The longest wait between two attempts of a step, a server's Retry-After included.", NULL, 0,
     86400000, OFF(retry_cap_ms)},
    {"engine.max_runs", IRD_CONF_INT, "10000",
     "Playbook runs in flight at once; past it new runs fail at once with a reason.", NULL, 1,
     10000000, OFF(max_runs)},
    {"guards", IRD_CONF_GROUP, NULL,
     "What automation may touch: protected namespaces and label, rate and blast-radius limits. See "
     "[Guards](docs/playbooks.md#guards).",
     NULL, 0, 0, NOFF},
    {"connectors", IRD_CONF_GROUP, NULL,
     "Connector instances: `connectors = { k8s = { default = { kubeconfig = ...; }; }; };`. See "
     "[docs/kubernetes.md](docs/kubernetes.md).",
     NULL, 0, 0, NOFF},
    {"sources", IRD_CONF_GROUP, NULL,
     "Alert senders, one group each: `type`, `auth`, and the type's own keys. See "
     "[Sources](#sources).",
     NULL, 0, 0, NOFF},
    {"api", IRD_CONF_GROUP, NULL,
     "Operator API tokens and roles: `api = { tokens = ( { name; role; token | token_file | "
     "token_env } ); }`.",
     NULL, 0, 0, NOFF},
};
const size_t ird_conf_nkeys = sizeof(ird_conf_keys) / sizeof(ird_conf_keys[0]);

/* ---- diagnostics ---------------------------------------------------------- */

static void diag_vadd(struct ird_diags *d, const char *file, int line, const char *fmt, va_list ap)
{
    if (!d)
        return;
    if (file && line > 0)
        ird_buf_printf(&d->text, "%s:%d: ", file, line);
    else if (file)
        ird_buf_printf(&d->text, "%s: ", file);
    ird_buf_vprintf(&d->text, fmt, ap);
    ird_buf_puts(&d->text, "\n");
    d->count++;
}

void ird_diag_add(struct ird_diags *d, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_vadd(d, file, line, fmt, ap);
    va_end(ap);
}

void ird_diag_at(struct ird_diags *d, const config_setting_t *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_vadd(d, s ? config_setting_source_file(s) : NULL,
              s ? (int)config_setting_source_line(s) : 0, fmt, ap);
    va_end(ap);
}

void ird_diags_free(struct ird_diags *d)
{
    ird_buf_free(&d->text);
    d->count = 0;
}

/* ---- values --------------------------------------------------------------- */

static int choice_ok(const char *choices, const char *v)
{
    size_t n = strlen(v);
    for (const char *p = choices; p && *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, v, n) == 0)
            return 1;
        p = bar ? bar + 1 : p + len;
    }
    return 0;
}

/* Store text (from the file or a default) into the field for key k. */
static int store_value(struct ird_config *c, const struct ird_conf_key *k, const char *text,
                       int64_t num, int is_text, struct ird_err *err)
{
    char *base = (char *)c + k->offset;
    switch (k->type) {
    case IRD_CONF_STRING:
    case IRD_CONF_ADDR:
    case IRD_CONF_ENUM: {
        if (k->type == IRD_CONF_ADDR) {
            struct sockaddr_storage ss;
            if (ird_http_parse_hostport(text, &ss))
                return ird_err_set(
                    err, -EINVAL,
                    "\"%s\" is not host:port (an IP address or localhost; IPv6 as [::1]:9410)",
                    text);
        }
        if (k->type == IRD_CONF_ENUM && !choice_ok(k->choices, text))
            return ird_err_set(err, -EINVAL, "\"%s\" is not one of %s", text, k->choices);
        if (k->type == IRD_CONF_STRING && !*text)
            return ird_err_set(err, -EINVAL, "must not be empty");
        char *copy = strdup(text);
        if (!copy)
            return -ENOMEM;
        free(*(char **)base);
        *(char **)base = copy;
        return 0;
    }
    case IRD_CONF_BOOL:
        *(bool *)base = is_text ? strcmp(text, "true") == 0 : num != 0;
        return 0;
    case IRD_CONF_INT:
    case IRD_CONF_DURATION: {
        int64_t v = num;
        if (is_text) {
            if (k->type == IRD_CONF_DURATION) {
                if (ird_duration_parse(text, &v))
                    return ird_err_set(err, -EINVAL,
                                       "\"%s\" is not a duration (like \"500ms\", \"10s\", \"5m\")",
                                       text);
            } else {
                char *end;
                v = strtoll(text, &end, 10);
                if (*end)
                    return ird_err_set(err, -EINVAL, "\"%s\" is not an integer", text);
            }
        }
        if (v < k->min || v > k->max) {
            if (k->type == IRD_CONF_DURATION)
                return ird_err_set(err, -ERANGE, "must be between %lldms and %lldms",
                                   (long long)k->min, (long long)k->max);
            return ird_err_set(err, -ERANGE, "%lld is out of range (%lld to %lld)", (long long)v,
                               (long long)k->min, (long long)k->max);
        }
        /* http limits are size_t / uint64_t / unsigned; the rest int64_t. */
        if (k->offset == OFF(http.header_bytes) || k->offset == OFF(http.header_count) ||
            k->offset == OFF(http.url_bytes) || k->offset == OFF(http.body_bytes))
            *(size_t *)base = (size_t)v;
        else if (k->offset == OFF(http.read_timeout_ms) || k->offset == OFF(http.idle_timeout_ms))
            *(uint64_t *)base = (uint64_t)v;
        else if (k->offset == OFF(http.max_connections))
            *(unsigned *)base = (unsigned)v;
        else
            *(int64_t *)base = v;
        return 0;
    }
    case IRD_CONF_GROUP:
        return 0;
    }
    return -EINVAL;
}

static const struct ird_conf_key *key_find(const char *path)
{
    for (size_t i = 0; i < ird_conf_nkeys; i++)
        if (strcmp(ird_conf_keys[i].path, path) == 0)
            return &ird_conf_keys[i];
    return NULL;
}

/* Is path a prefix group of some table key ("limits" for "limits.body_bytes")? */
static int is_parent(const char *path)
{
    size_t n = strlen(path);
    for (size_t i = 0; i < ird_conf_nkeys; i++)
        if (strncmp(ird_conf_keys[i].path, path, n) == 0 && ird_conf_keys[i].path[n] == '.')
            return 1;
    return 0;
}

static const char *type_word(enum ird_conf_type t)
{
    switch (t) {
    case IRD_CONF_BOOL:
        return "true or false";
    case IRD_CONF_INT:
        return "an integer";
    case IRD_CONF_GROUP:
        return "a group { ... }";
    default:
        return "a string";
    }
}

static void load_setting(struct ird_config *c, const config_setting_t *s, const char *prefix,
                         struct ird_diags *diags)
{
    char path[256];
    const char *name = config_setting_name(s);
    snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "", name ? name : "?");
    const struct ird_conf_key *k = key_find(path);
    int t = config_setting_type(s);
    if (!k) {
        if (is_parent(path)) {
            if (t != CONFIG_TYPE_GROUP) {
                ird_diag_at(diags, s, "%s: expected a group { ... }", path);
                return;
            }
            for (int i = 0; i < config_setting_length(s); i++)
                load_setting(c, config_setting_get_elem(s, (unsigned)i), path, diags);
            return;
        }
        ird_diag_at(diags, s, "%s: unknown key", path);
        return;
    }
    struct ird_err err = {{0}};
    int rc = 0;
    switch (k->type) {
    case IRD_CONF_GROUP:
        /* "api" and "sources" belong to their modules; a wrong type is ours to say. */
        if (t != CONFIG_TYPE_GROUP)
            rc = ird_err_set(&err, -EINVAL, "expected %s", type_word(k->type));
        break;
    case IRD_CONF_BOOL:
        if (t != CONFIG_TYPE_BOOL)
            rc = ird_err_set(&err, -EINVAL, "expected true or false");
        else
            rc = store_value(c, k, NULL, config_setting_get_bool(s), 0, &err);
        break;
    case IRD_CONF_INT:
        if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64)
            rc = store_value(c, k, NULL, (int64_t)config_setting_get_int64(s), 0, &err);
        else
            rc = ird_err_set(&err, -EINVAL, "expected an integer");
        break;
    case IRD_CONF_DURATION:
        if (t == CONFIG_TYPE_STRING)
            rc = store_value(c, k, config_setting_get_string(s), 0, 1, &err);
        else
            rc = ird_err_set(&err, -EINVAL, "expected a duration string like \"10s\"");
        break;
    default:
        if (t == CONFIG_TYPE_STRING)
            rc = store_value(c, k, config_setting_get_string(s), 0, 1, &err);
        else
            rc = ird_err_set(&err, -EINVAL, "expected a string");
        break;
    }
    if (rc)
        ird_diag_at(diags, s, "%s: %s", path, err.msg);
}

struct ird_config *ird_config_load(const char *path, struct ird_diags *diags)
{
    struct ird_config *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    config_init(&c->doc);
    for (size_t i = 0; i < ird_conf_nkeys; i++) {
        const struct ird_conf_key *k = &ird_conf_keys[i];
        if (k->default_value && store_value(c, k, k->default_value, 0, 1, NULL)) {
            ird_config_free(c);
            return NULL;
        }
    }
    if (!path)
        return c;
    c->path = strdup(path);
    if (!c->path) {
        ird_config_free(c);
        return NULL;
    }
    /* Includes resolve next to the file. */
    char *dir = strdup(path);
    if (dir) {
        char *slash = strrchr(dir, '/');
        if (slash) {
            *slash = '\0';
            config_set_include_dir(&c->doc, dir);
        }
        free(dir);
    }
    if (!config_read_file(&c->doc, path)) {
        if (config_error_type(&c->doc) == CONFIG_ERR_FILE_IO)
            ird_diag_add(diags, path, 0, "cannot read: %s", strerror(errno ? errno : ENOENT));
        else
            ird_diag_add(diags, config_error_file(&c->doc) ? config_error_file(&c->doc) : path,
                         config_error_line(&c->doc), "%s", config_error_text(&c->doc));
        ird_config_free(c);
        return NULL;
    }
    const config_setting_t *root = config_root_setting(&c->doc);
    for (int i = 0; i < config_setting_length(root); i++)
        load_setting(c, config_setting_get_elem(root, (unsigned)i), "", diags);
    return c;
}

void ird_config_free(struct ird_config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < ird_conf_nkeys; i++) {
        const struct ird_conf_key *k = &ird_conf_keys[i];
        if (k->type == IRD_CONF_STRING || k->type == IRD_CONF_ADDR || k->type == IRD_CONF_ENUM)
            free(*(char **)((char *)c + k->offset));
    }
    free(c->path);
    config_destroy(&c->doc);
    free(c);
}

/* ---- secrets -------------------------------------------------------------- */

#define SECRET_FILE_MAX (64 * 1024)

static int read_secret_file(const char *path, char **ret, struct ird_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ird_err_set(err, -errno, "cannot read %s: %s", path, strerror(errno));
    struct ird_buf b = IRD_BUF_INIT;
    char chunk[4096];
    ssize_t n;
    int rc = 0;
    while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = ird_err_set(err, -errno, "cannot read %s: %s", path, strerror(errno));
            break;
        }
        if (b.len + (size_t)n > SECRET_FILE_MAX) {
            rc = ird_err_set(err, -EFBIG, "%s is larger than %d bytes", path, SECRET_FILE_MAX);
            break;
        }
        if (ird_buf_append(&b, chunk, (size_t)n)) {
            rc = -ENOMEM;
            break;
        }
    }
    close(fd);
    OPENSSL_cleanse(chunk, sizeof(chunk));
    if (rc) {
        if (b.data)
            OPENSSL_cleanse(b.data, b.cap);
        ird_buf_free(&b);
        return rc;
    }
    while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r'))
        b.data[--b.len] = '\0';
    *ret = ird_buf_steal(&b);
    return 0;
}

int ird_config_secret(const config_setting_t *group, const char *key, char **ret,
                      struct ird_err *err)
{
    char fkey[128], ekey[128];
    snprintf(fkey, sizeof(fkey), "%s_file", key);
    snprintf(ekey, sizeof(ekey), "%s_env", key);
    const config_setting_t *inl = config_setting_get_member(group, key);
    const config_setting_t *file = config_setting_get_member(group, fkey);
    const config_setting_t *env = config_setting_get_member(group, ekey);
    int given = !!inl + !!file + !!env;
    if (given == 0)
        return -ENOENT;
    if (given > 1)
        return ird_err_set(err, -EINVAL, "give only one of %s, %s, %s", key, fkey, ekey);
    const config_setting_t *s = inl ? inl : file ? file : env;
    const char *v = config_setting_get_string(s);
    if (!v)
        return ird_err_set(err, -EINVAL, "%s: expected a string", config_setting_name(s));
    if (inl) {
        *ret = strdup(v);
        return *ret ? 0 : -ENOMEM;
    }
    if (file)
        return read_secret_file(v, ret, err);
    const char *e = getenv(v);
    if (!e || !*e)
        return ird_err_set(err, -ENOENT, "%s: environment variable %s is not set", ekey, v);
    *ret = strdup(e);
    return *ret ? 0 : -ENOMEM;
}

void ird_secret_free(char *secret)
{
    if (secret) {
        OPENSSL_cleanse(secret, strlen(secret));
        free(secret);
    }
}

/* ---- reference ------------------------------------------------------------ */

static const char *type_name(const struct ird_conf_key *k)
{
    switch (k->type) {
    case IRD_CONF_STRING:
        return "string";
    case IRD_CONF_ADDR:
        return "host:port";
    case IRD_CONF_BOOL:
        return "bool";
    case IRD_CONF_INT:
        return "integer";
    case IRD_CONF_DURATION:
        return "duration";
    case IRD_CONF_ENUM:
        return "enum";
    case IRD_CONF_GROUP:
        return "group";
    }
    return "";
}

void ird_config_reference(struct ird_buf *out)
{
    ird_buf_puts(out, "| key | type | default | description |\n|---|---|---|---|\n");
    for (size_t i = 0; i < ird_conf_nkeys; i++) {
        const struct ird_conf_key *k = &ird_conf_keys[i];
        const char *def = k->default_value;
        int quote = def && (k->type == IRD_CONF_STRING || k->type == IRD_CONF_ADDR ||
                            k->type == IRD_CONF_ENUM || k->type == IRD_CONF_DURATION);
        ird_buf_printf(out, "| `%s` | %s", k->path, type_name(k));
        if (k->choices) {
            ird_buf_puts(out, " (");
            for (const char *p = k->choices; *p; p++)
                ird_buf_puts(out, *p == '|' ? ", " : (char[]){*p, 0});
            ird_buf_puts(out, ")");
        }
        ird_buf_printf(out, " | %s%s%s | %s |\n", def ? (quote ? "`\"" : "`") : "", def ? def : "—",
                       def ? (quote ? "\"`" : "`") : "", k->description);
    }
}
