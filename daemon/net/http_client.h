/* The outbound HTTP client: every call ird makes to the network (Kubernetes API,
 * Slack, PagerDuty, webhooks...) goes through here. It owns one libcurl multi
 * handle driven by the libuv loop and never blocks that loop.
 *
 * Glossary
 *   client   one per loop; owns the CURLM, its connection cache (connections are
 *            reused, HTTP/2 multiplexed over TLS when the server offers it), one
 *            uv_timer_t for curl's timer and one uv_poll_t per socket curl uses.
 *   call     one request in flight; owns copies of the request body and headers
 *            and the response it is collecting. It ends with exactly one callback.
 *
 * Behaviour fixed for every call: no redirects are followed, only http and https,
 * no signals, User-Agent "ird/<IRD_VERSION>" (a caller's User-Agent header wins),
 * no "Expect: 100-continue", and no default form Content-Type on bodies (the
 * caller says what it sends). Proxies from the environment (https_proxy,
 * no_proxy...) are honoured as curl does.
 *
 * tls->server_name (kubeconfig tls-server-name) is done by rewriting the URL's
 * host to server_name, so SNI, certificate verification and the Host header all
 * use it, and telling curl (CURLOPT_CONNECT_TO) to connect to the original
 * host and port instead. The Host header therefore carries server_name. */
#ifndef IRD_NET_HTTP_CLIENT_H
#define IRD_NET_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/buf.h"
#include "net/http_types.h"

#define IRD_HTTP_CONNECT_TIMEOUT_MS_DEFAULT 5000L
#define IRD_HTTP_TIMEOUT_MS_DEFAULT         30000L
#define IRD_HTTP_MAX_RESPONSE_DEFAULT       ((size_t)8 * 1024 * 1024)
/* Per host: beyond this, requests queue inside curl until a connection frees. */
#define IRD_HTTP_MAX_HOST_CONNECTIONS 8
/* Limits on what a server may send back in headers (more fails with -EMSGSIZE). */
#define IRD_HTTP_MAX_RESPONSE_HEADERS      100
#define IRD_HTTP_MAX_RESPONSE_HEADER_BYTES (64 * 1024)

struct ird_http_client;
struct ird_http_call;

/* Call once from main before any client exists (wraps curl_global_init), and
 * ird_http_client_global_cleanup() once at exit. 0 or -EIO. */
int ird_http_client_global_init(void);
void ird_http_client_global_cleanup(void);

/* A client on loop, or NULL when out of memory or curl cannot be set up. The
 * loop must outlive the client: free it only after close_cb has run. */
struct ird_http_client *ird_http_client_new(uv_loop_t *loop);

/* Cancel everything in flight and tear down. Each call's callback runs once with
 * -ECANCELED on a later loop turn (never inside this function); then curl's
 * connections and every libuv handle are closed, and close_cb(data) (may be
 * NULL) runs once they all are. After close_cb the client is freed and the
 * caller may close the loop. From the moment of this call, send returns
 * -ESHUTDOWN. Calling it again, or on NULL, does nothing. */
void ird_http_client_close(struct ird_http_client *c, void (*close_cb)(void *data), void *data);

/* TLS settings, all optional. PEM bytes, never file names (kubeconfig *-data
 * arrives as bytes); the bytes are copied, so they need only live during send. */
struct ird_http_tls {
    const char *ca_pem; /* trust only these CAs; when absent, the system CAs */
    size_t ca_len;
    const char *cert_pem; /* client certificate */
    size_t cert_len;
    const char *key_pem; /* its private key */
    size_t key_len;
    const char *server_name;  /* verify against (and send SNI for) this DNS name; see top */
    int insecure_skip_verify; /* no peer or host verification at all */
};

struct ird_http_request {
    const char *method;         /* "GET", "POST", "PUT", "PATCH", "DELETE" */
    const char *url;            /* http:// or https://; caller percent-encodes its parts */
    const char *const *headers; /* "Name: value", NULL-terminated; may be NULL; no CR/LF */
    const char *body;           /* copied; may be NULL when body_len is 0 */
    size_t body_len;
    const struct ird_http_tls *tls; /* may be NULL */
    long connect_timeout_ms;        /* 0 = IRD_HTTP_CONNECT_TIMEOUT_MS_DEFAULT */
    long timeout_ms;                /* whole call; 0 = IRD_HTTP_TIMEOUT_MS_DEFAULT */
    size_t max_response_bytes;      /* 0 = IRD_HTTP_MAX_RESPONSE_DEFAULT; more fails the
                                       call with -EMSGSIZE and drops the connection */
};

/* What came back. Owned by the call and valid only during the callback: copy
 * what you keep. */
struct ird_http_response {
    long status;         /* HTTP status of the final response, 0 if none arrived */
    struct ird_buf body; /* bytes received (what arrived so far when the call failed) */
    const struct ird_http_header *headers; /* final response's headers, in order */
    size_t n_headers;
    int64_t retry_after_ms;   /* Retry-After as delay-seconds or HTTP-date, in ms from
                                 now (0 if the date is past); -1 when absent or invalid */
    const char *content_type; /* Content-Type value, NULL when absent */
    int http_version;         /* 1, 2 or 3; 0 if no response */
};

/* First response header called name (case-insensitive), or NULL. */
const char *ird_http_response_header(const struct ird_http_response *resp, const char *name);

/* status: 0 when a response arrived (whatever its HTTP status), or
 *   -ETIMEDOUT      connect or total timeout
 *   -ECONNREFUSED   nobody listening (or another connect errno from the OS)
 *   -ECONNRESET     connection closed or reset before a complete answer
 *   -EMSGSIZE       response body or headers over the limits
 *   -ECANCELED      ird_http_call_cancel() or ird_http_client_close()
 *   -EPROTO         TLS handshake or verification failure, or a broken HTTP answer
 *   -EHOSTUNREACH   name did not resolve; -ENOMEM; -EIO anything else.
 * resp is never NULL. curl_error is a readable reason (NULL on success). */
typedef void (*ird_http_done_cb)(int status, const struct ird_http_response *resp,
                                 const char *curl_error, void *data);

/* Start req. Returns 0 and later calls cb exactly once (never from inside this
 * function); or returns -EINVAL (bad method, URL not http(s), header with CR/LF
 * or without ':', body_len without body, bad server_name), -ESHUTDOWN (client
 * closing) or -ENOMEM and never calls cb. Everything req points to is copied.
 * *ret_call (optional, untouched on failure) is valid until cb returns. */
int ird_http_client_send(struct ird_http_client *c, const struct ird_http_request *req,
                         ird_http_done_cb cb, void *data, struct ird_http_call **ret_call);

/* Stop call now (its connection is dropped if mid-transfer); its callback runs
 * with -ECANCELED on a later loop turn, not inside this function. Cancelling a
 * call already cancelled, or from inside its own callback, does nothing; once
 * its callback has returned the call is freed and must not be passed here.
 * NULL is a no-op. */
void ird_http_call_cancel(struct ird_http_call *call);

#endif
