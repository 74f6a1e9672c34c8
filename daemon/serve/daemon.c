/* `ird serve`: set-up, the route table, request dispatch with access logs and
 * metrics, health and metrics endpoints, SIGHUP reload, SIGTERM drain. */
#include "serve/daemon.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/metrics.h"
#include "core/clock.h"
#include "core/log.h"
#include "engine/engine.h"
#include "engine/guard.h"
#include "engine/playbook.h"
#include "intake/intake.h"
#include "net/router.h"
#include "store/sqlq.h"

static void handle_healthz(struct ird_http_request *req, void *data);
static void handle_readyz(struct ird_http_request *req, void *data);
static void handle_metrics(struct ird_http_request *req, void *data);
static void handle_alerts(struct ird_http_request *req, void *data);

/* Every endpoint ird serves, on which listener. Operator API routes come from
 * api/api.c's own table (ird_api_routes). */
static const struct ird_route base_routes[] = {
    {"GET", "/healthz", "healthz", IRD_ON_BOTH, handle_healthz},
    {"GET", "/readyz", "readyz", IRD_ON_BOTH, handle_readyz},
    {"GET", "/metrics", "metrics", IRD_ON_BOTH, handle_metrics},
    {"POST", "/v1/alerts/:source", "alerts", IRD_ON_WEBHOOKS, handle_alerts},
};

static const double duration_buckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                          0.025,  0.05,    0.1,    0.25,  1,      5};

bool ird_daemon_dry_run(const struct ird_daemon *d)
{
    return d->force_dry_run || (d->config && d->config->dry_run);
}

bool ird_daemon_ready(const struct ird_daemon *d, const char **ret_reason)
{
    if (!d->config) {
        *ret_reason = "config not loaded";
        return false;
    }
    if (!d->store) {
        *ret_reason = "store not open";
        return false;
    }
    if (d->stopping) {
        *ret_reason = "shutting down";
        return false;
    }
    /* In dry-run nothing is mutated, so an unreachable cluster is no reason
     * to take ird out of service. */
    static struct ird_err err;
    if (!ird_daemon_dry_run(d) && d->engine && ird_engine_health(d->engine, &err)) {
        *ret_reason = err.msg;
        return false;
    }
    return true;
}

static void handle_healthz(struct ird_http_request *req, void *data)
{
    (void)data;
    static const char body[] = "{\"status\":\"ok\"}\n";
    ird_http_respond(req, 200, "application/json", NULL, body, sizeof(body) - 1);
}

static void handle_readyz(struct ird_http_request *req, void *data)
{
    struct ird_daemon *d = data;
    const char *reason = NULL;
    if (!ird_daemon_ready(d, &reason)) {
        ird_http_respond_error(req, 503, "not ready", reason, NULL);
        return;
    }
    static const char body[] = "{\"status\":\"ready\"}\n";
    ird_http_respond(req, 200, "application/json", NULL, body, sizeof(body) - 1);
}

static void handle_metrics(struct ird_http_request *req, void *data)
{
    (void)data;
    struct ird_buf out = IRD_BUF_INIT;
    ird_metrics_render(&out);
    ird_http_respond(req, 200, "text/plain; version=0.0.4; charset=utf-8", NULL,
                     out.data ? out.data : "", out.len);
    ird_buf_free(&out);
}

static void handle_alerts(struct ird_http_request *req, void *data)
{
    struct ird_daemon *d = data;
    ird_intake_handle(d->intake, req);
}

static void dispatch(struct ird_daemon *d, unsigned listener, struct ird_http_request *req)
{
    int status = 404;
    char allow[128];
    const struct ird_route *r =
        ird_router_match(base_routes, sizeof(base_routes) / sizeof(base_routes[0]), listener, req,
                         &status, allow, sizeof(allow));
    if (!r && listener == IRD_ON_API && status == 404) {
        size_t n;
        const struct ird_route *api_routes = ird_api_routes(&n);
        r = ird_router_match(api_routes, n, listener, req, &status, allow, sizeof(allow));
        if (r) {
            r->handler(req, d->api);
            return;
        }
    }
    if (r) {
        r->handler(req, d);
        return;
    }
    if (status == 405) {
        char hdr[160];
        snprintf(hdr, sizeof(hdr), "Allow: %s", allow);
        const char *const headers[] = {hdr, NULL};
        char detail[200];
        snprintf(detail, sizeof(detail), "%s is not allowed here; use %s", req->method, allow);
        ird_http_respond_error(req, 405, "method not allowed", detail, headers);
        return;
    }
    if (status == 503) {
        ird_http_respond_error(req, 503, "service unavailable", "out of memory", NULL);
        return;
    }
    ird_http_respond_error(req, 404, "not found", "no such endpoint", NULL);
}

static void dispatch_webhooks(struct ird_http_request *req, void *data)
{
    dispatch(data, IRD_ON_WEBHOOKS, req);
}

static void dispatch_api(struct ird_http_request *req, void *data)
{
    dispatch(data, IRD_ON_API, req);
}

/* One access-log line and the request metrics for every response. */
static void observe(const struct ird_http_request *req, int status, size_t bytes,
                    uint64_t duration_ns, void *data)
{
    (void)data;
    char labels[160];
    snprintf(labels, sizeof(labels), "listener=\"%s\",route=\"%s\",code=\"%d\"", req->listener,
             req->route ? req->route : "unmatched", status);
    ird_metrics_add("ird_http_requests_total", labels, 1);
    snprintf(labels, sizeof(labels), "listener=\"%s\",route=\"%s\"", req->listener,
             req->route ? req->route : "unmatched");
    ird_metrics_observe("ird_http_request_duration_seconds", labels, (double)duration_ns / 1e9);
    if (ird_log_enabled(IRD_LOG_INFO))
        /* The path only: a query string may carry a source's token. */
        ird_log(IRD_LOG_INFO, "request", IRD_LS("listener", req->listener),
                IRD_LS("method", req->method), IRD_LS("path", req->path ? req->path : ""),
                IRD_LI("status", status), IRD_LI("bytes", bytes), IRD_LI("us", duration_ns / 1000));
}

static double gauge_connections(void *data)
{
    struct ird_daemon *d = data;
    return (double)((d->webhooks ? ird_http_server_connections(d->webhooks) : 0) +
                    (d->api_server ? ird_http_server_connections(d->api_server) : 0));
}

static void define_metrics(struct ird_daemon *d)
{
    ird_metrics_define("ird_build_info", IRD_METRIC_GAUGE,
                       "ird version and the libraries it runs on.", NULL, 0);
    char labels[256];
    snprintf(labels, sizeof(labels), "version=\"%s\",libuv=\"%s\",sqlite=\"%s\"", IRD_VERSION,
             uv_version_string(), sqlite3_libversion());
    ird_metrics_set("ird_build_info", labels, 1);
    ird_metrics_define("ird_http_requests_total", IRD_METRIC_COUNTER,
                       "HTTP requests answered, by listener, route and status code.", NULL, 0);
    ird_metrics_define("ird_http_request_duration_seconds", IRD_METRIC_HISTOGRAM,
                       "Time from a request's first byte to its response.", duration_buckets,
                       sizeof(duration_buckets) / sizeof(duration_buckets[0]));
    ird_metrics_define_gauge_fn("ird_http_open_connections",
                                "Open HTTP connections, both listeners.", gauge_connections, d);
}

static void apply_logging(const struct ird_config *c)
{
    enum ird_log_level level = IRD_LOG_INFO;
    enum ird_log_format format = IRD_LOG_TEXT;
    ird_log_level_parse(c->log_level, &level);
    ird_log_format_parse(c->log_format, &format);
    ird_log_setup(level, format);
}

/* What playbooks may name: the connector instances of the config. */
static void playbook_context(const struct ird_config *c, struct ird_playbook_context *ctx,
                             struct ird_playbook_instance *inst, size_t max)
{
    ctx->policies = NULL;
    ctx->npolicies = 0;
    ctx->instances = inst;
    ctx->ninstances = ird_connectors_names(c, inst, max);
}

int ird_daemon_load(const char *config_path, struct ird_loaded *ret, struct ird_diags *diags)
{
    memset(ret, 0, sizeof(*ret));
    ret->config = ird_config_load(config_path, diags);
    if (!ret->config)
        return -EINVAL;
    ird_intake_check(ret->config, diags);
    ird_api_check(ret->config, diags);
    struct ird_err err = {{0}};
    ret->guards = ird_guards_new(config_lookup(&ret->config->doc, "guards"), &err);
    if (!ret->guards)
        ird_diag_add(diags, NULL, 0, "%s", err.msg);
    /* ird's own namespace is protected too, when ird runs in a cluster. */
    const char *own = getenv("POD_NAMESPACE");
    if (ret->guards && own && *own)
        ird_guards_protect_namespace(ret->guards, own);
    ird_connectors_check(ret->config, diags);
    struct ird_playbook_instance inst[64];
    struct ird_playbook_context ctx;
    playbook_context(ret->config, &ctx, inst, 64);
    ird_playbooks_load(ret->config->playbooks_dir, &ctx, &ret->playbooks, diags);
    if (diags->count) {
        ird_loaded_free(ret);
        return -EINVAL;
    }
    return 0;
}

void ird_loaded_free(struct ird_loaded *l)
{
    ird_config_free(l->config);
    ird_playbook_set_free(l->playbooks);
    ird_guards_free(l->guards);
    memset(l, 0, sizeof(*l));
}

static struct ird_config *load_config(const char *path, struct ird_diags *diags,
                                      struct ird_loaded *ret)
{
    return ird_daemon_load(path, ret, diags) == 0 ? ret->config : NULL;
}

static void engine_opts(const struct ird_daemon *d, const struct ird_config *c,
                        struct ird_engine_opts *o)
{
    o->dry_run = d->force_dry_run || c->dry_run;
    o->retry_base_ms = c->retry_base_ms;
    o->retry_cap_ms = c->retry_cap_ms;
    o->max_runs = c->max_runs;
}

static void log_diags(enum ird_log_level level, const char *msg, const struct ird_diags *diags)
{
    /* One line per problem, so each is greppable. */
    const char *p = diags->text.data;
    while (p && *p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        char *line = strndup(p, n);
        ird_log(level, msg, IRD_LS("problem", line ? line : ""));
        free(line);
        p = nl ? nl + 1 : p + n;
    }
}

static void reload(struct ird_daemon *d)
{
    struct ird_diags diags = {IRD_BUF_INIT, 0};
    struct ird_loaded l;
    struct ird_config *c = load_config(d->config_path, &diags, &l);
    if (!c) {
        ird_metrics_add("ird_config_reloads_total", "result=\"failed\"", 1);
        log_diags(IRD_LOG_ERROR, "reload failed; keeping the running config", &diags);
        ird_diags_free(&diags);
        return;
    }
    ird_diags_free(&diags);
    if (strcmp(c->listen_webhooks, d->config->listen_webhooks) != 0 ||
        strcmp(c->listen_api, d->config->listen_api) != 0 ||
        strcmp(c->state_dir, d->config->state_dir) != 0)
        ird_log(IRD_LOG_WARN, "listen addresses and state_dir change only on restart",
                IRD_LS("config", d->config_path));
    struct ird_err err = {{0}};
    if (ird_intake_configure(d->intake, c, &err) || ird_api_configure(d->api, c, &err)) {
        ird_metrics_add("ird_config_reloads_total", "result=\"failed\"", 1);
        ird_log(IRD_LOG_ERROR, "reload failed; keeping the running config",
                IRD_LS("reason", err.msg));
        /* Put the old settings back where the new ones were partly applied. */
        ird_intake_configure(d->intake, d->config, NULL);
        ird_api_configure(d->api, d->config, NULL);
        ird_loaded_free(&l);
        return;
    }
    struct ird_engine_opts opts;
    engine_opts(d, c, &opts);
    ird_engine_configure(d->engine, l.playbooks, l.guards, &opts); /* takes both */
    /* Keep the addresses the listeners really use. */
    free(c->listen_webhooks);
    free(c->listen_api);
    free(c->state_dir);
    c->listen_webhooks = strdup(d->config->listen_webhooks);
    c->listen_api = strdup(d->config->listen_api);
    c->state_dir = strdup(d->config->state_dir);
    ird_config_free(d->config);
    d->config = c;
    apply_logging(c);
    ird_http_server_set_limits(d->webhooks, &c->http);
    ird_http_server_set_limits(d->api_server, &c->http);
    ird_metrics_add("ird_config_reloads_total", "result=\"ok\"", 1);
    struct ird_sqlq *q = ird_sqlq_new();
    cJSON *detail = cJSON_CreateObject();
    cJSON_AddStringToObject(detail, "config", d->config_path ? d->config_path : "(defaults)");
    cJSON_AddNumberToObject(detail, "playbooks",
                            (double)ird_playbook_set_count(ird_engine_playbooks(d->engine)));
    if (q && ird_sqlq_audit(q, ird_clock_now_ms(), "signal:SIGHUP", "config.reloaded",
                            d->config_path ? d->config_path : "", detail) == 0)
        ird_sqlq_submit(d->store, q, NULL, NULL);
    else
        ird_sqlq_free(q);
    cJSON_Delete(detail);
    ird_log(IRD_LOG_INFO, "config reloaded",
            IRD_LS("config", d->config_path ? d->config_path : "(defaults)"));
}

/* Free what serving built, once the loop has closed it (NULL parts are fine). */
static void free_parts(struct ird_daemon *d)
{
    ird_http_server_free(d->webhooks);
    ird_http_server_free(d->api_server);
    ird_intake_free(d->intake);
    ird_api_free(d->api);
    ird_engine_free(d->engine);
}

static void on_close_free(uv_handle_t *h)
{
    (void)h;
}

static void on_store_closed(void *data)
{
    struct ird_daemon *d = data;
    d->store = NULL;
    uv_close((uv_handle_t *)&d->sigterm, on_close_free);
    uv_close((uv_handle_t *)&d->sigint, on_close_free);
    uv_close((uv_handle_t *)&d->sighup, on_close_free);
    uv_close((uv_handle_t *)&d->drain_timer, on_close_free);
}

static void on_engine_closed(void *data)
{
    struct ird_daemon *d = data;
    ird_store_close(d->store, on_store_closed, d);
}

static void on_server_closed(void *data)
{
    struct ird_daemon *d = data;
    if (--d->servers_open > 0)
        return;
    uv_timer_stop(&d->drain_timer);
    /* No request can add work now: let the engine put down its runs (they
     * resume at the next start), then commit what is queued and close. */
    ird_intake_stop(d->intake);
    ird_engine_close(d->engine, on_engine_closed, d);
}

static void on_drain_deadline(uv_timer_t *t)
{
    struct ird_daemon *d = t->data;
    ird_log(IRD_LOG_WARN, "shutdown deadline passed; closing connections",
            IRD_LI("timeout_ms", d->config->shutdown_timeout_ms));
    ird_http_server_force_close(d->webhooks);
    ird_http_server_force_close(d->api_server);
}

static void stop(struct ird_daemon *d, const char *why)
{
    if (d->stopping)
        return;
    d->stopping = true;
    ird_log(IRD_LOG_INFO, "stopping", IRD_LS("signal", why));
    d->servers_open = 2;
    uv_timer_start(&d->drain_timer, on_drain_deadline, (uint64_t)d->config->shutdown_timeout_ms, 0);
    ird_http_server_shutdown(d->webhooks, on_server_closed, d);
    ird_http_server_shutdown(d->api_server, on_server_closed, d);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct ird_daemon *d = h->data;
    if (signum == SIGHUP)
        reload(d);
    else
        stop(d, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

int ird_daemon_run(const char *config_path, bool force_dry_run)
{
    struct ird_daemon d = {0};
    uv_loop_t loop;
    struct ird_diags diags = {IRD_BUF_INIT, 0};
    struct ird_err err = {{0}};
    int code = 1;

    signal(SIGPIPE, SIG_IGN);
    d.config_path = config_path ? strdup(config_path) : NULL;
    d.force_dry_run = force_dry_run;
    struct ird_loaded loaded;
    d.config = load_config(config_path, &diags, &loaded);
    if (!d.config) {
        fputs(diags.text.data ? diags.text.data : "cannot load the configuration\n", stderr);
        ird_diags_free(&diags);
        free(d.config_path);
        return 1;
    }
    ird_diags_free(&diags);
    apply_logging(d.config);
    if (uv_loop_init(&loop) != 0) {
        ird_loaded_free(&loaded);
        free(d.config_path);
        return 1;
    }
    d.loop = &loop;
    d.started_ms = ird_clock_now_ms();
    define_metrics(&d);
    ird_metrics_define("ird_config_reloads_total", IRD_METRIC_COUNTER,
                       "Configuration reloads (SIGHUP) by result.", NULL, 0);

    d.store = ird_store_open(&loop, d.config->state_dir, &err);
    if (!d.store) {
        ird_log(IRD_LOG_ERROR, "cannot open the state store", IRD_LS("reason", err.msg));
        goto out_loop;
    }
    d.intake = ird_intake_new(&loop, d.store);
    d.api = ird_api_new(&d);
    d.engine = ird_engine_new(&loop, d.store);
    if (!d.intake || !d.api || !d.engine || ird_intake_configure(d.intake, d.config, &err) ||
        ird_api_configure(d.api, d.config, &err)) {
        ird_log(IRD_LOG_ERROR, "cannot start", IRD_LS("reason", err.msg));
        goto out_store;
    }
    struct ird_engine_opts opts;
    engine_opts(&d, d.config, &opts);
    ird_engine_configure(d.engine, loaded.playbooks, loaded.guards, &opts);
    loaded.playbooks = NULL; /* the engine's now */
    loaded.guards = NULL;
    ird_intake_set_listener(d.intake, ird_engine_on_incident, d.engine);
    if (ird_engine_connect(d.engine, d.config, &err)) {
        ird_log(IRD_LOG_ERROR, "cannot set up connectors", IRD_LS("reason", err.msg));
        goto out_store;
    }
    if (ird_engine_resume(d.engine, &err)) {
        ird_log(IRD_LOG_ERROR, "cannot resume runs", IRD_LS("reason", err.msg));
        goto out_store;
    }
    d.webhooks =
        ird_http_server_new(&loop, "webhooks", &d.config->http, dispatch_webhooks, observe, &d);
    d.api_server = ird_http_server_new(&loop, "api", &d.config->http, dispatch_api, observe, &d);
    if (!d.webhooks || !d.api_server ||
        ird_http_server_listen(d.webhooks, d.config->listen_webhooks, &err) ||
        ird_http_server_listen(d.api_server, d.config->listen_api, &err)) {
        ird_log(IRD_LOG_ERROR, "cannot listen", IRD_LS("reason", err.msg));
        goto out_servers;
    }
    uv_signal_init(&loop, &d.sigterm);
    uv_signal_init(&loop, &d.sigint);
    uv_signal_init(&loop, &d.sighup);
    uv_timer_init(&loop, &d.drain_timer);
    d.sigterm.data = d.sigint.data = d.sighup.data = d.drain_timer.data = &d;
    uv_signal_start(&d.sigterm, on_signal, SIGTERM);
    uv_signal_start(&d.sigint, on_signal, SIGINT);
    uv_signal_start(&d.sighup, on_signal, SIGHUP);

    ird_log(IRD_LOG_INFO, "listening", IRD_LS("webhooks", ird_http_server_address(d.webhooks)),
            IRD_LS("api", ird_http_server_address(d.api_server)),
            IRD_LS("state_dir", d.config->state_dir),
            IRD_LS("playbooks_dir", d.config->playbooks_dir),
            IRD_LS("dry_run", ird_daemon_dry_run(&d) ? "true" : "false"),
            IRD_LS("config", config_path ? config_path : "(built-in defaults)"));
    uv_run(&loop, UV_RUN_DEFAULT);

    free_parts(&d);
    int rc = uv_loop_close(&loop);
    if (rc != 0) {
        ird_log(IRD_LOG_ERROR, "event loop did not close cleanly",
                IRD_LS("reason", uv_strerror(rc)));
        code = 1;
    } else {
        ird_log0(IRD_LOG_INFO, "stopped");
        code = 0;
    }
    goto out_config;

out_servers:
    /* Start-up failed after the listeners were created: close what exists. */
    if (d.webhooks)
        ird_http_server_shutdown(d.webhooks, NULL, NULL);
    if (d.api_server)
        ird_http_server_shutdown(d.api_server, NULL, NULL);
out_store:
    if (d.intake)
        ird_intake_stop(d.intake);
    if (d.engine)
        ird_engine_close(d.engine, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    ird_store_close(d.store, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    free_parts(&d);
out_loop:
    uv_loop_close(&loop);
out_config:
    ird_playbook_set_free(loaded.playbooks);
    ird_guards_free(loaded.guards);
    ird_metrics_reset();
    ird_config_free(d.config);
    free(d.config_path);
    return code;
}
