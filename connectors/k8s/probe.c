/* Is the API server reachable? Every request's outcome says so, and a probe
 * (GET /version) asks every probe_interval so that an idle daemon knows too.
 * /readyz fails once the server has been unreachable for unreachable_after. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "k8s/k8s.h"

struct k8s_probe {
    struct ird_k8s_instance *in; /* NULL once the instance is gone */
    uv_timer_t timer;
    struct ird_http_call *call; /* in flight, or NULL */
    bool timer_closed;
};

static void probe_free_if_done(struct k8s_probe *p)
{
    if (!p->in && p->timer_closed && !p->call)
        free(p);
}

void k8s_reachability(struct ird_k8s_instance *in, bool reachable, const char *error)
{
    if (!in)
        return;
    if (reachable) {
        in->unreachable_since_ms = 0;
        in->last_error[0] = '\0';
        return;
    }
    if (!in->unreachable_since_ms)
        in->unreachable_since_ms = ird_clock_now_ms();
    snprintf(in->last_error, sizeof(in->last_error), "%s", error ? error : "no answer");
}

static void on_probe(int status, const struct ird_http_response *resp, const char *curl_error,
                     void *data)
{
    struct k8s_probe *p = data;
    p->call = NULL;
    if (p->in && status != -ECANCELED) {
        if (status < 0)
            k8s_reachability(p->in, false,
                             curl_error && *curl_error ? curl_error : ird_strerror(status));
        else
            k8s_reachability(p->in, resp->status < 500, "the API server answered 5xx");
    }
    probe_free_if_done(p);
}

static void ignore_token(int status, const char *token, const struct ird_err *err, void *data)
{
    /* An exec plugin ran for the probe; its token is cached for the next round. */
    (void)status;
    (void)token;
    (void)err;
    (void)data;
}

static void on_tick(uv_timer_t *t)
{
    struct k8s_probe *p = t->data;
    struct ird_k8s_instance *in = p->in;
    if (!in || p->call || !in->http || !in->creds)
        return;
    const char *token = NULL;
    struct ird_err err = {{0}};
    int rc = ird_k8s_token_get(in->creds, in->loop, ird_clock_now_ms(), ignore_token, NULL, &token,
                               &err);
    if (rc != 0)
        return; /* pending (exec plugin) or failing: real calls report it */
    char url[1024], auth[4200];
    snprintf(url, sizeof(url), "%s/version", in->creds->server);
    const char *headers[3] = {"Accept: application/json", NULL, NULL};
    if (token && *token) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        headers[1] = auth;
    }
    struct ird_http_tls tls;
    k8s_tls(in->creds, &tls);
    struct ird_http_request req = {
        .method = "GET",
        .url = url,
        .headers = headers,
        .tls = &tls,
        .timeout_ms = (long)in->timeout_ms,
        .max_response_bytes = 65536,
    };
    if (ird_http_client_send(in->http, &req, on_probe, p, &p->call) < 0)
        p->call = NULL;
    explicit_bzero(auth, sizeof(auth));
}

void k8s_probe_start(struct ird_k8s_instance *in)
{
    struct k8s_probe *p = calloc(1, sizeof(*p));
    if (!p)
        return;
    p->in = in;
    uv_timer_init(in->loop, &p->timer);
    p->timer.data = p;
    /* The probe alone must not keep the loop (or a shutdown) waiting. */
    uv_unref((uv_handle_t *)&p->timer);
    uv_timer_start(&p->timer, on_tick, 0, (uint64_t)in->probe_interval_ms);
    in->probe = p;
}

static void on_timer_closed(uv_handle_t *h)
{
    struct k8s_probe *p = h->data;
    p->timer_closed = true;
    probe_free_if_done(p);
}

void k8s_probe_stop(struct ird_k8s_instance *in)
{
    struct k8s_probe *p = in->probe;
    if (!p)
        return;
    in->probe = NULL;
    p->in = NULL;
    if (p->call)
        ird_http_call_cancel(p->call); /* answers -ECANCELED later */
    uv_close((uv_handle_t *)&p->timer, on_timer_closed);
}

int k8s_health(void *instance, int64_t now_ms, struct ird_err *err)
{
    struct ird_k8s_instance *in = instance;
    if (!in || !in->creds || !in->unreachable_since_ms)
        return 0;
    int64_t down = now_ms - in->unreachable_since_ms;
    if (down <= in->unreachable_after_ms)
        return 0;
    return ird_err_set(err, -EHOSTUNREACH,
                       "k8s.%s: the API server has been unreachable for %llds (%s)", in->name,
                       (long long)(down / 1000), in->last_error);
}
