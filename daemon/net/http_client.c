/* Outbound HTTP: libcurl's multi socket interface driven by libuv. Owns the
 * CURLM, one uv_poll_t per socket curl asks us to watch, the uv_timer_t curl's
 * timer runs on, and every call from send until its one callback has returned.
 */
#include "net/http_client.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"

/* One socket curl wants watched. Freed only in its uv_close callback; while it
 * is closing, curl no longer knows it (curl_multi_assign(NULL) was done). */
struct http_sock {
    uv_poll_t poll;
    struct ird_http_client *client;
    curl_socket_t fd;
    int events; /* what we last asked libuv for */
    int closing;
    struct http_sock *prev, *next;
};

struct ird_http_call {
    struct ird_http_client *client;
    CURL *easy;
    struct curl_slist *headers;
    struct curl_slist *connect_to;
    char *body;
    size_t body_len;
    size_t max_bytes;
    struct ird_buf resp_body;
    struct ird_http_header *resp_headers;
    size_t n_resp_headers;
    size_t resp_header_bytes;
    int local_err; /* our own reason for aborting (-EMSGSIZE, -ENOMEM), else 0 */
    char local_msg[128];
    int cancelled; /* cancelled, or its callback is running: cancel does nothing */
    ird_http_done_cb cb;
    void *data;
    struct ird_http_call *prev, *next;
    char errbuf[CURL_ERROR_SIZE];
};

struct call_list {
    struct ird_http_call *head, *tail;
};

struct ird_http_client {
    uv_loop_t *loop;
    CURLM *multi;               /* NULL once teardown has started */
    uv_timer_t timer;           /* curl's timer */
    uv_timer_t defer;           /* delivers cancellations (and finishes close) on a later turn */
    struct call_list active;    /* in curl */
    struct call_list cancelled; /* out of curl, callback not yet run */
    struct http_sock *socks;    /* every poll handle not yet through its close callback */
    int open_handles;           /* libuv handles not yet through their close callback */
    int closing;                /* close requested: send refused */
    int finishing;              /* curl cleaned up, handles closing */
    void (*close_cb)(void *data);
    void *close_data;
};

struct http_method {
    const char *name;
    int always_body; /* send a (possibly empty) body with Content-Length */
};

static const struct http_method http_methods[] = {
    {"GET", 0}, {"DELETE", 0}, {"POST", 1}, {"PUT", 1}, {"PATCH", 1},
};

/* How a failed transfer reads to a caller. os_first: prefer the OS errno curl
 * saw (ECONNREFUSED, ENETUNREACH, ECONNRESET...) when there is one. */
struct curl_errno {
    CURLcode code;
    int err;
    int os_first;
};

static const struct curl_errno curl_errnos[] = {
    {CURLE_OPERATION_TIMEDOUT, ETIMEDOUT, 0},
    {CURLE_COULDNT_CONNECT, ECONNREFUSED, 1},
    {CURLE_COULDNT_RESOLVE_HOST, EHOSTUNREACH, 0},
    {CURLE_COULDNT_RESOLVE_PROXY, EHOSTUNREACH, 0},
    {CURLE_GOT_NOTHING, ECONNRESET, 0},
    {CURLE_PARTIAL_FILE, ECONNRESET, 0},
    /* No OS errno on a receive/send error means TLS failed (e.g. a rejected
     * client certificate is reported as an alert on the first read). */
    {CURLE_RECV_ERROR, EPROTO, 1},
    {CURLE_SEND_ERROR, EPROTO, 1},
    {CURLE_FILESIZE_EXCEEDED, EMSGSIZE, 0},
    {CURLE_OUT_OF_MEMORY, ENOMEM, 0},
    {CURLE_SSL_CONNECT_ERROR, EPROTO, 0},
    {CURLE_PEER_FAILED_VERIFICATION, EPROTO, 0},
    {CURLE_SSL_CERTPROBLEM, EPROTO, 0},
    {CURLE_SSL_CIPHER, EPROTO, 0},
    {CURLE_SSL_CACERT_BADFILE, EPROTO, 0},
    {CURLE_SSL_ISSUER_ERROR, EPROTO, 0},
    {CURLE_SSL_PINNEDPUBKEYNOTMATCH, EPROTO, 0},
    {CURLE_SSL_INVALIDCERTSTATUS, EPROTO, 0},
    {CURLE_SSL_CRL_BADFILE, EPROTO, 0},
    {CURLE_SSL_ENGINE_INITFAILED, EPROTO, 0},
    {CURLE_USE_SSL_FAILED, EPROTO, 0},
    {CURLE_HTTP2, EPROTO, 0},
    {CURLE_HTTP2_STREAM, EPROTO, 0},
    {CURLE_HTTP3, EPROTO, 0},
    {CURLE_WEIRD_SERVER_REPLY, EPROTO, 0},
    {CURLE_BAD_CONTENT_ENCODING, EPROTO, 0},
    {CURLE_UNSUPPORTED_PROTOCOL, EINVAL, 0},
    {CURLE_URL_MALFORMAT, EINVAL, 0},
    {CURLE_ABORTED_BY_CALLBACK, ECANCELED, 0},
};

/* Options every call gets. */
struct fixed_opt {
    CURLoption opt;
    long value;
};

static const struct fixed_opt fixed_opts[] = {
    {CURLOPT_NOSIGNAL, 1L},
    {CURLOPT_FOLLOWLOCATION, 0L},
    {CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS},
    {CURLOPT_TCP_KEEPALIVE, 1L},
    {CURLOPT_TCP_NODELAY, 1L},
};

struct http_version_map {
    long curl;
    int version;
};

static const struct http_version_map http_versions[] = {
    {CURL_HTTP_VERSION_1_0, 1},
    {CURL_HTTP_VERSION_1_1, 1},
    {CURL_HTTP_VERSION_2_0, 2},
    {CURL_HTTP_VERSION_3, 3},
};

static void on_handle_closed(uv_handle_t *h);

/* --- lists ------------------------------------------------------------- */

static void list_push(struct call_list *l, struct ird_http_call *call)
{
    call->next = NULL;
    call->prev = l->tail;
    if (l->tail)
        l->tail->next = call;
    else
        l->head = call;
    l->tail = call;
}

static void list_remove(struct call_list *l, struct ird_http_call *call)
{
    if (call->prev)
        call->prev->next = call->next;
    else
        l->head = call->next;
    if (call->next)
        call->next->prev = call->prev;
    else
        l->tail = call->prev;
    call->prev = call->next = NULL;
}

/* --- sockets ----------------------------------------------------------- */

static struct http_sock *sock_find(struct ird_http_client *c, curl_socket_t fd)
{
    for (struct http_sock *s = c->socks; s; s = s->next)
        if (!s->closing && s->fd == fd)
            return s;
    return NULL;
}

/* Stop watching s and close its handle; safe to call twice. The fd itself is
 * curl's: it is closed by curl (through on_close_socket), never here. */
static void sock_close(struct http_sock *s)
{
    if (s->closing)
        return;
    s->closing = 1;
    uv_poll_stop(&s->poll);
    uv_close((uv_handle_t *)&s->poll, on_handle_closed);
}

static struct http_sock *sock_open(struct ird_http_client *c, curl_socket_t fd)
{
    struct http_sock *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    int rc = uv_poll_init_socket(c->loop, &s->poll, fd);
    if (rc == UV_EEXIST) {
        /* A handle for an earlier socket that had this fd number is still
         * registered (curl closed it without telling us): retire it first. */
        struct http_sock *stale = sock_find(c, fd);
        if (stale)
            sock_close(stale);
        rc = uv_poll_init_socket(c->loop, &s->poll, fd);
    }
    if (rc < 0) {
        free(s);
        return NULL;
    }
    s->poll.data = s;
    s->client = c;
    s->fd = fd;
    s->next = c->socks;
    if (c->socks)
        c->socks->prev = s;
    c->socks = s;
    c->open_handles++;
    return s;
}

/* --- completion -------------------------------------------------------- */

static void headers_reset(struct ird_http_call *call)
{
    for (size_t i = 0; i < call->n_resp_headers; i++) {
        free(call->resp_headers[i].name);
        free(call->resp_headers[i].value);
    }
    free(call->resp_headers);
    call->resp_headers = NULL;
    call->n_resp_headers = 0;
    call->resp_header_bytes = 0;
}

static void call_free(struct ird_http_call *call)
{
    if (!call)
        return;
    if (call->easy)
        curl_easy_cleanup(call->easy);
    /* The copies held a bearer token and maybe new Secret values: wipe them. */
    for (struct curl_slist *h = call->headers; h; h = h->next)
        explicit_bzero(h->data, strlen(h->data));
    curl_slist_free_all(call->headers);
    curl_slist_free_all(call->connect_to);
    if (call->body)
        explicit_bzero(call->body, call->body_len);
    free(call->body);
    ird_buf_free(&call->resp_body);
    headers_reset(call);
    free(call);
}

/* Retry-After (RFC 9110 10.2.3): delay-seconds or an HTTP-date, as ms from now.
 */
static int64_t parse_retry_after(const char *v)
{
    if (!v)
        return -1;
    if (*v >= '0' && *v <= '9') {
        int64_t secs = 0;
        for (; *v >= '0' && *v <= '9'; v++)
            if (secs < 1000000000000LL) /* cap instead of overflowing */
                secs = secs * 10 + (*v - '0');
        return *v == '\0' ? secs * 1000 : -1;
    }
    time_t t = curl_getdate(v, NULL);
    if (t == (time_t)-1)
        return -1;
    int64_t delta = (int64_t)t * 1000 - ird_clock_now_ms();
    return delta < 0 ? 0 : delta;
}

static int map_http_version(long v)
{
    for (size_t i = 0; i < sizeof(http_versions) / sizeof(http_versions[0]); i++)
        if (http_versions[i].curl == v)
            return http_versions[i].version;
    return 0;
}

static int map_curl_code(struct ird_http_call *call, CURLcode res)
{
    if (res == CURLE_OK)
        return 0;
    if (res == CURLE_WRITE_ERROR)
        return call->local_err ? call->local_err : -EIO;
    for (size_t i = 0; i < sizeof(curl_errnos) / sizeof(curl_errnos[0]); i++) {
        if (curl_errnos[i].code != res)
            continue;
        if (curl_errnos[i].os_first) {
            long os = 0;
            if (curl_easy_getinfo(call->easy, CURLINFO_OS_ERRNO, &os) == CURLE_OK && os > 0)
                return -(int)os;
        }
        return -curl_errnos[i].err;
    }
    return -EIO;
}

/* Run the callback with what the call collected, then free the call. */
static void call_deliver(struct ird_http_call *call, int status, const char *why)
{
    struct ird_http_response resp = {0};
    long code = 0, version = 0;
    curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_getinfo(call->easy, CURLINFO_HTTP_VERSION, &version);
    resp.status = code;
    resp.http_version = code ? map_http_version(version) : 0;
    resp.body = call->resp_body;
    resp.headers = call->resp_headers;
    resp.n_headers = call->n_resp_headers;
    resp.content_type = ird_http_response_header(&resp, "Content-Type");
    resp.retry_after_ms = parse_retry_after(ird_http_response_header(&resp, "Retry-After"));
    call->cancelled = 1; /* a cancel from inside its own callback is a no-op */
    call->cb(status, &resp, why, call->data);
    call_free(call);
}

static void call_finish(struct ird_http_call *call, CURLcode res)
{
    struct ird_http_client *c = call->client;
    list_remove(&c->active, call);
    curl_multi_remove_handle(c->multi, call->easy);
    int status = map_curl_code(call, res);
    const char *why = NULL;
    if (status) {
        if (call->local_err)
            why = call->local_msg;
        else if (call->errbuf[0])
            why = call->errbuf;
        else
            why = curl_easy_strerror(res);
    }
    call_deliver(call, status, why);
}

/* Hand every finished transfer to its callback. Callbacks may send, cancel or
 * close; none of that frees the multi handle (teardown runs in on_defer). */
static void drain(struct ird_http_client *c)
{
    CURLMsg *msg;
    int left;
    while (c->multi && (msg = curl_multi_info_read(c->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *easy = msg->easy_handle;
        CURLcode res = msg->data.result; /* msg is invalid once the handle is removed */
        char *priv = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
        if (priv)
            call_finish((struct ird_http_call *)(void *)priv, res);
    }
}

/* --- libuv side -------------------------------------------------------- */

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct http_sock *s = h->data;
    struct ird_http_client *c = s->client;
    int flags = 0, running = 0;
    if (status < 0) {
        /* libuv stopped the handle; let curl find the error by trying. */
        flags = CURL_CSELECT_ERR | CURL_CSELECT_IN | CURL_CSELECT_OUT;
    } else {
        if (events & UV_READABLE)
            flags |= CURL_CSELECT_IN;
        if (events & UV_WRITABLE)
            flags |= CURL_CSELECT_OUT;
    }
    if (!c->multi)
        return;
    curl_multi_socket_action(c->multi, s->fd, flags, &running);
    /* s stays allocated until its close callback, so this is safe to read. */
    if (status < 0 && !s->closing && s->events)
        uv_poll_start(&s->poll, s->events, on_poll);
    drain(c);
}

static void on_timer(uv_timer_t *t)
{
    struct ird_http_client *c = t->data;
    int running = 0;
    if (!c->multi)
        return;
    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    drain(c);
}

static void on_handle_closed(uv_handle_t *h)
{
    struct ird_http_client *c;
    if (h->type == UV_POLL) {
        struct http_sock *s = h->data;
        c = s->client;
        if (s->prev)
            s->prev->next = s->next;
        else
            c->socks = s->next;
        if (s->next)
            s->next->prev = s->prev;
        free(s);
    } else {
        c = h->data;
    }
    c->open_handles--;
    if (c->finishing && c->open_handles == 0) {
        void (*cb)(void *) = c->close_cb;
        void *data = c->close_data;
        free(c);
        if (cb)
            cb(data);
    }
}

/* Second half of close: every callback has run, so curl can go, then libuv. */
static void client_finish(struct ird_http_client *c)
{
    c->finishing = 1;
    CURLM *m = c->multi;
    c->multi = NULL;
    curl_multi_cleanup(m); /* closes cached connections via on_close_socket */
    for (struct http_sock *s = c->socks; s; s = s->next)
        sock_close(s);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->defer, on_handle_closed);
}

static void on_defer(uv_timer_t *t)
{
    struct ird_http_client *c = t->data;
    struct ird_http_call *call;
    while ((call = c->cancelled.head)) {
        list_remove(&c->cancelled, call);
        call_deliver(call, -ECANCELED, "cancelled");
    }
    if (c->closing && !c->finishing)
        client_finish(c);
}

/* --- curl side --------------------------------------------------------- */

static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    struct ird_http_client *c = userp;
    struct http_sock *s = socketp;
    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        if (s)
            sock_close(s);
        if (c->multi)
            curl_multi_assign(c->multi, fd, NULL);
        return 0;
    }
    if (!c->multi)
        return 0;
    if (!s) {
        s = sock_open(c, fd);
        if (!s)
            return -1; /* curl fails the transfers rather than hanging them */
        curl_multi_assign(c->multi, fd, s);
    }
    int events = 0;
    if (what & CURL_POLL_IN)
        events |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        events |= UV_WRITABLE;
    s->events = events;
    if (!events) {
        uv_poll_stop(&s->poll);
        return 0;
    }
    return uv_poll_start(&s->poll, events, on_poll) < 0 ? -1 : 0;
}

/* curl's timer: -1 deletes it; 0 means "soon", which we also run from the loop
 * rather than calling curl back from inside its own callback. */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    struct ird_http_client *c = userp;
    (void)multi;
    if (c->finishing)
        return 0;
    if (timeout_ms < 0)
        uv_timer_stop(&c->timer);
    else
        uv_timer_start(&c->timer, on_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

/* Every socket curl closes passes here; a poll handle still registered for
 * that fd (REMOVE normally came first) is retired before the number can be
 * reused by the next socket. */
static int on_close_socket(void *clientp, curl_socket_t fd)
{
    struct ird_http_client *c = clientp;
    struct http_sock *s = sock_find(c, fd);
    if (s) {
        sock_close(s);
        if (c->multi)
            curl_multi_assign(c->multi, fd, NULL);
    }
    return close(fd);
}

static size_t on_body(char *ptr, size_t size, size_t n, void *userdata)
{
    struct ird_http_call *call = userdata;
    size_t len = size * n;
    if (len > call->max_bytes - call->resp_body.len) {
        call->local_err = -EMSGSIZE;
        snprintf(call->local_msg, sizeof(call->local_msg), "response body over %zu bytes",
                 call->max_bytes);
        return 0;
    }
    if (ird_buf_append(&call->resp_body, ptr, len) < 0) {
        call->local_err = -ENOMEM;
        snprintf(call->local_msg, sizeof(call->local_msg), "out of memory");
        return 0;
    }
    return len;
}

static char *dup_trimmed(const char *p, size_t len)
{
    while (len && (*p == ' ' || *p == '\t')) {
        p++;
        len--;
    }
    while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
        len--;
    char *s = malloc(len + 1);
    if (s) {
        memcpy(s, p, len);
        s[len] = '\0';
    }
    return s;
}

/* Keeps the headers of the last response only: a status line (1xx interim
 * responses, or a retry) starts the list afresh. */
static size_t on_header(char *ptr, size_t size, size_t n, void *userdata)
{
    struct ird_http_call *call = userdata;
    size_t len = size * n, line = len;
    if (len >= 5 && memcmp(ptr, "HTTP/", 5) == 0) {
        headers_reset(call);
        return len;
    }
    while (line && (ptr[line - 1] == '\r' || ptr[line - 1] == '\n'))
        line--;
    const char *colon = line ? memchr(ptr, ':', line) : NULL;
    if (!colon || ptr[0] == ' ' || ptr[0] == '\t') /* blank, obsolete folding */
        return len;
    if (call->n_resp_headers >= IRD_HTTP_MAX_RESPONSE_HEADERS ||
        line > IRD_HTTP_MAX_RESPONSE_HEADER_BYTES - call->resp_header_bytes) {
        call->local_err = -EMSGSIZE;
        snprintf(call->local_msg, sizeof(call->local_msg),
                 "response headers over %d headers or %d bytes", IRD_HTTP_MAX_RESPONSE_HEADERS,
                 IRD_HTTP_MAX_RESPONSE_HEADER_BYTES);
        return 0;
    }
    struct ird_http_header *grown =
        realloc(call->resp_headers, (call->n_resp_headers + 1) * sizeof(*grown));
    if (!grown)
        goto nomem;
    call->resp_headers = grown;
    char *name = dup_trimmed(ptr, (size_t)(colon - ptr));
    char *value = dup_trimmed(colon + 1, line - (size_t)(colon - ptr) - 1);
    if (!name || !value) {
        free(name);
        free(value);
        goto nomem;
    }
    grown[call->n_resp_headers].name = name;
    grown[call->n_resp_headers].value = value;
    call->n_resp_headers++;
    call->resp_header_bytes += line;
    return len;
nomem:
    call->local_err = -ENOMEM;
    snprintf(call->local_msg, sizeof(call->local_msg), "out of memory");
    return 0;
}

/* --- building a call --------------------------------------------------- */

static const struct http_method *method_find(const char *name)
{
    for (size_t i = 0; i < sizeof(http_methods) / sizeof(http_methods[0]); i++)
        if (strcmp(http_methods[i].name, name) == 0)
            return &http_methods[i];
    return NULL;
}

/* A DNS name: letters, digits, '-' and '.', not starting with '-' or '.'. */
static int valid_server_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 253 || s[0] == '-' || s[0] == '.')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '.'))
            return 0;
    }
    return 1;
}

/* Check the URL is http(s) and, for tls->server_name, point it at that name and
 * have curl connect to the original host:port instead. */
static int setup_url(struct ird_http_call *call, const struct ird_http_request *req)
{
    const char *server_name = req->tls ? req->tls->server_name : NULL;
    char *scheme = NULL, *host = NULL, *port = NULL, *url = NULL;
    struct ird_buf entry = IRD_BUF_INIT;
    int rc = -EINVAL;
    CURLU *u = curl_url();
    if (!u)
        return -ENOMEM;
    if (curl_url_set(u, CURLUPART_URL, req->url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK)
        goto out;
    if (strcasecmp(scheme, "https") == 0) {
        /* Over TLS, ALPN tells at once whether HTTP/2 streams can share a
         * connection, so waiting for that is cheap. Over plain HTTP it is only
         * known once an answer arrives, and one slow call would hold back the
         * rest: no waiting there. */
        curl_easy_setopt(call->easy, CURLOPT_PIPEWAIT, 1L);
    } else if (strcasecmp(scheme, "http") != 0) {
        goto out;
    }
    if (!server_name) {
        rc = curl_easy_setopt(call->easy, CURLOPT_URL, req->url) == CURLE_OK ? 0 : -ENOMEM;
        goto out;
    }
    if (!valid_server_name(server_name))
        goto out;
    if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK ||
        curl_url_set(u, CURLUPART_HOST, server_name, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_URL, &url, 0) != CURLUE_OK)
        goto out;
    rc = ird_buf_printf(&entry, "%s:%s:%s:%s", server_name, port, host, port);
    if (rc == 0) {
        struct curl_slist *l = curl_slist_append(NULL, entry.data);
        rc = l ? 0 : -ENOMEM;
        call->connect_to = l;
    }
    if (rc == 0 &&
        (curl_easy_setopt(call->easy, CURLOPT_CONNECT_TO, call->connect_to) != CURLE_OK ||
         curl_easy_setopt(call->easy, CURLOPT_URL, url) != CURLE_OK))
        rc = -ENOMEM;
out:
    ird_buf_free(&entry);
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(url);
    curl_url_cleanup(u);
    return rc;
}

static int set_blob(CURL *easy, CURLoption opt, const char *pem, size_t len)
{
    struct curl_blob blob = {(void *)(uintptr_t)pem, len, CURL_BLOB_COPY};
    return curl_easy_setopt(easy, opt, &blob) == CURLE_OK ? 0 : -EINVAL;
}

static int setup_tls(struct ird_http_call *call, const struct ird_http_tls *tls)
{
    CURL *easy = call->easy;
    int rc = 0;
    if (tls->ca_pem && tls->ca_len) {
        rc = set_blob(easy, CURLOPT_CAINFO_BLOB, tls->ca_pem, tls->ca_len);
        /* Only the given CAs: drop the built-in CA directory too. */
        if (rc == 0)
            curl_easy_setopt(easy, CURLOPT_CAPATH, (char *)NULL);
    }
    if (rc == 0 && tls->cert_pem && tls->cert_len)
        rc = set_blob(easy, CURLOPT_SSLCERT_BLOB, tls->cert_pem, tls->cert_len);
    if (rc == 0 && tls->key_pem && tls->key_len)
        rc = set_blob(easy, CURLOPT_SSLKEY_BLOB, tls->key_pem, tls->key_len);
    if (rc == 0 && tls->insecure_skip_verify) {
        curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    return rc;
}

static int has_header(const char *const *headers, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; headers && headers[i]; i++)
        if (strncasecmp(headers[i], name, n) == 0 && headers[i][n] == ':')
            return 1;
    return 0;
}

static int setup_headers(struct ird_http_call *call, const struct ird_http_request *req,
                         int with_body)
{
    struct curl_slist *l = curl_slist_append(NULL, "Expect:");
    if (!l)
        return -ENOMEM;
    call->headers = l;
    /* curl would label a body application/x-www-form-urlencoded; say nothing
     * instead. */
    if (with_body && !has_header(req->headers, "Content-Type")) {
        if (!(l = curl_slist_append(call->headers, "Content-Type:")))
            return -ENOMEM;
        call->headers = l;
    }
    for (size_t i = 0; req->headers && req->headers[i]; i++) {
        if (strpbrk(req->headers[i], "\r\n") || !strchr(req->headers[i], ':'))
            return -EINVAL;
        if (!(l = curl_slist_append(call->headers, req->headers[i])))
            return -ENOMEM;
        call->headers = l;
    }
    return curl_easy_setopt(call->easy, CURLOPT_HTTPHEADER, call->headers) == CURLE_OK ? 0
                                                                                       : -ENOMEM;
}

static int setup_call(struct ird_http_call *call, const struct ird_http_request *req,
                      const struct http_method *m)
{
    CURL *easy = call->easy;
    int with_body = m->always_body || req->body_len > 0;
    int rc = setup_url(call, req);
    if (rc == 0)
        rc = setup_headers(call, req, with_body);
    if (rc == 0 && req->tls)
        rc = setup_tls(call, req->tls);
    if (rc)
        return rc;
    for (size_t i = 0; i < sizeof(fixed_opts) / sizeof(fixed_opts[0]); i++)
        curl_easy_setopt(easy, fixed_opts[i].opt, fixed_opts[i].value);
    if (curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
        curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") != CURLE_OK ||
        curl_easy_setopt(easy, CURLOPT_USERAGENT, "ird/" IRD_VERSION) != CURLE_OK)
        return -ENOMEM;
    curl_easy_setopt(easy, CURLOPT_PRIVATE, (void *)call);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, call->errbuf);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                     req->connect_timeout_ms > 0 ? req->connect_timeout_ms
                                                 : IRD_HTTP_CONNECT_TIMEOUT_MS_DEFAULT);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS,
                     req->timeout_ms > 0 ? req->timeout_ms : IRD_HTTP_TIMEOUT_MS_DEFAULT);
    call->max_bytes =
        req->max_response_bytes ? req->max_response_bytes : IRD_HTTP_MAX_RESPONSE_DEFAULT;
    curl_easy_setopt(easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)call->max_bytes);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, (void *)call);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, (void *)call);
    curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
    curl_easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, (void *)call->client);
    if (with_body) {
        call->body = malloc(req->body_len ? req->body_len : 1);
        if (!call->body)
            return -ENOMEM;
        if (req->body_len)
            memcpy(call->body, req->body, req->body_len);
        call->body_len = req->body_len;
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, call->body);
    }
    if (strcmp(m->name, "GET") != 0 && strcmp(m->name, "POST") != 0)
        curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, m->name);
    else if (with_body && strcmp(m->name, "GET") == 0)
        curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, "GET");
    return 0;
}

/* --- public ------------------------------------------------------------ */

int ird_http_client_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -EIO;
}

void ird_http_client_global_cleanup(void)
{
    curl_global_cleanup();
}

struct ird_http_client *ird_http_client_new(uv_loop_t *loop)
{
    if (!loop)
        return NULL;
    struct ird_http_client *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->loop = loop;
    c->multi = curl_multi_init();
    if (!c->multi) {
        free(c);
        return NULL;
    }
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, (void *)c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, (void *)c);
    curl_multi_setopt(c->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)IRD_HTTP_MAX_HOST_CONNECTIONS);
    uv_timer_init(loop, &c->timer);
    uv_timer_init(loop, &c->defer);
    c->timer.data = c;
    c->defer.data = c;
    c->open_handles = 2;
    return c;
}

void ird_http_client_close(struct ird_http_client *c, void (*close_cb)(void *data), void *data)
{
    if (!c || c->closing)
        return;
    c->closing = 1;
    c->close_cb = close_cb;
    c->close_data = data;
    while (c->active.head)
        ird_http_call_cancel(c->active.head);
    uv_timer_start(&c->defer, on_defer, 0, 0);
}

const char *ird_http_response_header(const struct ird_http_response *resp, const char *name)
{
    if (!resp || !name)
        return NULL;
    return ird_http_header_get(resp->headers, resp->n_headers, name);
}

int ird_http_client_send(struct ird_http_client *c, const struct ird_http_request *req,
                         ird_http_done_cb cb, void *data, struct ird_http_call **ret_call)
{
    if (!c || !req || !req->method || !req->url || !cb)
        return -EINVAL;
    if (c->closing)
        return -ESHUTDOWN;
    const struct http_method *m = method_find(req->method);
    if (!m || (req->body_len && !req->body))
        return -EINVAL;
    struct ird_http_call *call = calloc(1, sizeof(*call));
    if (!call)
        return -ENOMEM;
    call->client = c;
    call->cb = cb;
    call->data = data;
    call->easy = curl_easy_init();
    int rc = call->easy ? setup_call(call, req, m) : -ENOMEM;
    if (rc == 0 && curl_multi_add_handle(c->multi, call->easy) != CURLM_OK)
        rc = -ENOMEM;
    if (rc) {
        call_free(call);
        return rc;
    }
    list_push(&c->active, call);
    if (ret_call)
        *ret_call = call;
    return 0;
}

void ird_http_call_cancel(struct ird_http_call *call)
{
    if (!call || call->cancelled)
        return;
    struct ird_http_client *c = call->client;
    call->cancelled = 1;
    list_remove(&c->active, call);
    if (c->multi)
        curl_multi_remove_handle(c->multi, call->easy);
    list_push(&c->cancelled, call);
    uv_timer_start(&c->defer, on_defer, 0, 0);
}
