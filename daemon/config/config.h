/* ird.conf: one declarative table of keys (path, type, default, description)
 * that the loader, `ird check` and the README's configuration reference all
 * follow. Scalar keys land in struct ird_config; groups owned by other modules
 * (sources, api, connectors, ...) stay in the parsed document for those
 * modules to read and validate.
 *
 * Problems are collected, not fatal one by one: each is "file:line: message"
 * so `ird check` can print them all. */
#ifndef IRD_CONFIG_CONFIG_H
#define IRD_CONFIG_CONFIG_H

#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "net/http_server.h"

/* Collected problems, one "file:line: message\n" per line. */
struct ird_diags {
    struct ird_buf text;
    unsigned count;
};

void ird_diag_add(struct ird_diags *d, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The same, located at a libconfig setting. */
void ird_diag_at(struct ird_diags *d, const config_setting_t *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void ird_diags_free(struct ird_diags *d);

struct ird_config {
    char *path;            /* the file it was read from */
    char *listen_webhooks; /* "host:port" */
    char *listen_api;
    char *state_dir;
    char *playbooks_dir;
    bool dry_run;
    char *log_level;
    char *log_format;
    struct ird_http_limits http;
    int64_t json_depth;
    int64_t string_bytes;
    int64_t alerts_per_request;
    int64_t intake_queue;        /* alerts accepted but not yet committed */
    int64_t shutdown_timeout_ms; /* how long requests in flight may take at exit */
    int64_t retry_base_ms;       /* engine: first backoff ceiling */
    int64_t retry_cap_ms;        /* engine: largest backoff */
    int64_t max_runs;            /* engine: runs in flight */
    config_t doc;                /* the whole parsed file, for module groups */
};

enum ird_conf_type {
    IRD_CONF_STRING,
    IRD_CONF_ADDR, /* "host:port" */
    IRD_CONF_BOOL,
    IRD_CONF_INT,
    IRD_CONF_DURATION, /* "10s", "5m", "500ms" */
    IRD_CONF_ENUM,     /* one of choices */
    IRD_CONF_GROUP,    /* owned by another module; described there */
};

struct ird_conf_key {
    const char *path;
    enum ird_conf_type type;
    const char *default_value; /* as written in ird.conf; NULL for groups */
    const char *description;
    const char *choices; /* "json|text" for enums */
    int64_t min, max;    /* ints, durations (ms) */
    size_t offset;       /* into struct ird_config */
};

extern const struct ird_conf_key ird_conf_keys[];
extern const size_t ird_conf_nkeys;

/* Load path (or the defaults alone when path is NULL). Returns the config,
 * or NULL when the file cannot be used; every problem goes into diags. A
 * config with problems in module groups is still returned: the caller runs
 * the module validators and decides. */
struct ird_config *ird_config_load(const char *path, struct ird_diags *diags);
void ird_config_free(struct ird_config *c);

/* A secret given as <key> (inline), <key>_file or <key>_env in group: exactly
 * one of them. For _file the content is trimmed of trailing newlines.
 * Returns 0 and *ret (caller frees, wipe before free), -ENOENT when none of
 * the three is present, or another error with a reason that never contains
 * the secret. */
int ird_config_secret(const config_setting_t *group, const char *key, char **ret,
                      struct ird_err *err);
/* Wipe and free a secret. */
void ird_secret_free(char *secret);

/* Print the key table as Markdown (the README's reference is this output). */
void ird_config_reference(struct ird_buf *out);

#endif
