/* HTTP/1.1 server on libuv with llhttp: keep-alive, pipelining answered in
 * order, Content-Length and chunked bodies, Expect: 100-continue, and limits on
 * everything a client controls (header bytes and count, URL, body, read time,
 * idle time, open connections).
 *
 * Glossary: a *server* is one listener ("webhooks", "api"); a *connection*
 * handles one request at a time: bytes of later (pipelined) requests wait in
 * its input buffer until the current response is written, which keeps answers
 * in order. A *request* is handed to the dispatch callback once complete;
 * the handler must call ird_http_respond() exactly once, now or later. */
#ifndef IRD_NET_HTTP_SERVER_H
#define IRD_NET_HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/buf.h"
#include "core/err.h"
#include "net/http_types.h"

struct ird_http_limits {
    size_t header_bytes;      /* all header names and values: 431 */
    size_t header_count;      /* 431 */
    size_t url_bytes;         /* 414 */
    size_t body_bytes;        /* 413 */
    uint64_t read_timeout_ms; /* from a request's first byte to its last: 408 */
    uint64_t idle_timeout_ms; /* keep-alive connection without a request */
    unsigned max_connections; /* more get 503 and are closed */
};

#define IRD_HTTP_MAX_PARAMS 4

struct ird_http_server;
struct ird_http_conn;

/* One request. Owned by its connection; valid until ird_http_respond(). */
struct ird_http_request {
    const char *method; /* "GET", "POST", ... (static) */
    char *target;       /* the request target as sent */
    char *path;         /* target up to '?' */
    const char *query;  /* after '?', or "" */
    struct ird_http_header *headers;
    size_t nheaders;
    struct ird_buf body;
    const char *listener; /* the server's name */
    /* Filled by the router for the handler. */
    const char *route; /* route name for metrics, "unmatched" if none */
    char *params[IRD_HTTP_MAX_PARAMS];
    size_t nparams;
    uint64_t start_ns; /* uv_hrtime() when the first byte arrived */
    struct ird_http_conn *conn;
    void *user; /* free for the handler */
};

/* Called for each complete request, and for requests the server refuses
 * itself is never called (the server answers 4xx on its own). */
typedef void (*ird_http_dispatch_cb)(struct ird_http_request *req, void *data);
/* Called after each response is queued, for access logs and metrics. */
typedef void (*ird_http_observe_cb)(const struct ird_http_request *req, int status, size_t bytes,
                                    uint64_t duration_ns, void *data);

struct ird_http_server *ird_http_server_new(uv_loop_t *loop, const char *name,
                                            const struct ird_http_limits *limits,
                                            ird_http_dispatch_cb dispatch,
                                            ird_http_observe_cb observe, void *data);
/* Parse "host:port", "[v6]:port" or "localhost:port" into ret; 0 or -EINVAL. */
int ird_http_parse_hostport(const char *hostport, struct sockaddr_storage *ret);
/* Bind and listen on "host:port" ("[::1]:0" for IPv6; port 0 picks one). */
int ird_http_server_listen(struct ird_http_server *s, const char *hostport, struct ird_err *err);
/* The bound address as "host:port" (valid after listen). */
const char *ird_http_server_address(const struct ird_http_server *s);
/* Replace the limits (a config reload); connections pick them up at their next request. */
void ird_http_server_set_limits(struct ird_http_server *s, const struct ird_http_limits *limits);
unsigned ird_http_server_connections(const struct ird_http_server *s);
/* Stop accepting, close idle connections, let requests in flight finish; close_cb
 * runs once every connection and the listener are closed. force_close() ends
 * whatever is still open (after the caller's drain deadline). Then free. */
void ird_http_server_shutdown(struct ird_http_server *s, void (*close_cb)(void *), void *data);
void ird_http_server_force_close(struct ird_http_server *s);
void ird_http_server_free(struct ird_http_server *s);

/* Answer req: status, content type (may be NULL for no body), extra header
 * lines ("Name: value", NULL-terminated, may be NULL), body. Frees req. */
void ird_http_respond(struct ird_http_request *req, int status, const char *content_type,
                      const char *const *extra_headers, const char *body, size_t len);
/* {"error": error, "detail": detail} with the given status. */
void ird_http_respond_error(struct ird_http_request *req, int status, const char *error,
                            const char *detail, const char *const *extra_headers);
const char *ird_http_status_text(int status);

#endif
