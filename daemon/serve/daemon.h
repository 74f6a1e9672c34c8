/* The daemon: one libuv loop that owns the config, the store, both HTTP
 * listeners and the signal handlers. Start-up errors are fatal; a failed
 * reload keeps the old config; an error in one request fails only that
 * request. Teardown runs in reverse order of setup and ends with
 * uv_loop_close() == 0. */
#ifndef IRD_SERVE_DAEMON_H
#define IRD_SERVE_DAEMON_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "config/config.h"
#include "net/http_server.h"
#include "store/store.h"

struct ird_intake;
struct ird_api;
struct ird_engine;
struct ird_playbook_set;
struct ird_guards;

/* Everything one configuration file yields, validated together. */
struct ird_loaded {
    struct ird_config *config;
    struct ird_playbook_set *playbooks;
    struct ird_guards *guards;
};

/* Load a config with its playbooks and guards; 0, or -EINVAL with every
 * problem in diags (ird check prints them, a reload logs them). */
int ird_daemon_load(const char *config_path, struct ird_loaded *ret, struct ird_diags *diags);
void ird_loaded_free(struct ird_loaded *l);

struct ird_daemon {
    uv_loop_t *loop;
    char *config_path;  /* NULL: built-in defaults */
    bool force_dry_run; /* --dry-run */
    struct ird_config *config;
    struct ird_store *store;
    struct ird_http_server *webhooks;
    struct ird_http_server *api_server;
    struct ird_intake *intake;
    struct ird_api *api;
    struct ird_engine *engine;
    uv_signal_t sigterm, sigint, sighup;
    uv_timer_t drain_timer;
    bool stopping;
    int servers_open;
    int64_t started_ms;
};

/* Run `ird serve`; returns the process exit code. */
int ird_daemon_run(const char *config_path, bool force_dry_run);
/* Whether the daemon is ready (config loaded, store open); reason when not. */
bool ird_daemon_ready(const struct ird_daemon *d, const char **ret_reason);
/* Effective dry-run (config or --dry-run). */
bool ird_daemon_dry_run(const struct ird_daemon *d);

#endif
