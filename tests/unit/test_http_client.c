/* http_client: the curl-on-libuv client against a scripted HTTP/1.1 server that
 * runs on the same loop (127.0.0.1, ephemeral port), and against `openssl
 * s_server` with a throwaway CA generated at test time for TLS. */
#define _GNU_SOURCE /* memmem, strcasestr */
#include "check.h"
#include "core/buf.h"
#include "core/clock.h"
#include "net/http_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

extern char **environ;

/* ---- the scripted server ----------------------------------------------- */

struct srv_conn {
    uv_tcp_t tcp;
    struct srv *srv;
    struct ird_buf in;
    int closing;
    struct srv_conn *prev, *next;
};

struct srv {
    uv_tcp_t tcp;
    int port;
    int accepted; /* connections ever accepted */
    int open;     /* connections open now */
    int max_open; /* most open at once */
    int requests; /* complete requests read */
    struct srv_conn *conns;
};

struct srv_write {
    uv_write_t req;
    char *data;
};

static void on_srv_written(uv_write_t *req, int status)
{
    struct srv_write *w = (struct srv_write *)req;
    (void)status;
    free(w->data);
    free(w);
}

static void srv_send(struct srv_conn *conn, const char *data, size_t len)
{
    if (conn->closing)
        return;
    struct srv_write *w = malloc(sizeof(*w));
    w->data = malloc(len);
    memcpy(w->data, data, len);
    uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
    if (uv_write(&w->req, (uv_stream_t *)&conn->tcp, &b, 1, on_srv_written) < 0) {
        free(w->data);
        free(w);
    }
}

static void on_conn_closed(uv_handle_t *h)
{
    struct srv_conn *conn = h->data;
    struct srv *srv = conn->srv;
    if (conn->prev)
        conn->prev->next = conn->next;
    else
        srv->conns = conn->next;
    if (conn->next)
        conn->next->prev = conn->prev;
    srv->open--;
    ird_buf_free(&conn->in);
    free(conn);
}

static void srv_conn_close(struct srv_conn *conn)
{
    if (conn->closing)
        return;
    conn->closing = 1;
    uv_close((uv_handle_t *)&conn->tcp, on_conn_closed);
}

static void respond(struct srv_conn *conn, const char *status, const char *extra, const char *body,
                    size_t body_len)
{
    struct ird_buf b = IRD_BUF_INIT;
    ird_buf_printf(&b, "HTTP/1.1 %s\r\nContent-Length: %zu\r\nX-Served-By: ird-test\r\n%s\r\n",
                   status, body_len, extra);
    ird_buf_append(&b, body, body_len);
    srv_send(conn, b.data, b.len);
    ird_buf_free(&b);
}

static void h_ok(struct srv_conn *conn, const char *req, size_t len)
{
    (void)req;
    (void)len;
    respond(conn, "200 OK", "Content-Type: application/json\r\n", "{\"ok\":true}", 11);
}

static void h_chunked(struct srv_conn *conn, const char *req, size_t len)
{
    static const char r[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                            "Content-Type: text/plain\r\n\r\n"
                            "7\r\nhello, \r\n8\r\nchunked \r\n5\r\nworld\r\n0\r\n\r\n";
    (void)req;
    (void)len;
    srv_send(conn, r, sizeof(r) - 1);
}

static void h_429(struct srv_conn *conn, const char *req, size_t len)
{
    (void)req;
    (void)len;
    respond(conn, "429 Too Many Requests", "Retry-After: 2\r\n", "", 0);
}

static void h_429_date(struct srv_conn *conn, const char *req, size_t len)
{
    char date[64], hdr[96];
    time_t t = time(NULL) + 120;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    snprintf(hdr, sizeof(hdr), "Retry-After: %s\r\n", date);
    (void)req;
    (void)len;
    respond(conn, "429 Too Many Requests", hdr, "", 0);
}

static void h_503(struct srv_conn *conn, const char *req, size_t len)
{
    (void)req;
    (void)len;
    respond(conn, "503 Service Unavailable", "Content-Type: text/plain\r\n", "down", 4);
}

static void h_slow(struct srv_conn *conn, const char *req, size_t len)
{
    (void)conn; /* never answers */
    (void)req;
    (void)len;
}

static void h_close(struct srv_conn *conn, const char *req, size_t len)
{
    (void)req;
    (void)len;
    srv_conn_close(conn);
}

static void h_big(struct srv_conn *conn, const char *req, size_t len)
{
    char body[5000];
    memset(body, 'x', sizeof(body));
    (void)req;
    (void)len;
    respond(conn, "200 OK", "", body, sizeof(body));
}

static void h_big_chunked(struct srv_conn *conn, const char *req, size_t len)
{
    struct ird_buf b = IRD_BUF_INIT;
    char chunk[1000];
    memset(chunk, 'y', sizeof(chunk));
    ird_buf_puts(&b, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 5; i++) {
        ird_buf_puts(&b, "3e8\r\n");
        ird_buf_append(&b, chunk, sizeof(chunk));
        ird_buf_puts(&b, "\r\n");
    }
    ird_buf_puts(&b, "0\r\n\r\n");
    (void)req;
    (void)len;
    srv_send(conn, b.data, b.len);
    ird_buf_free(&b);
}

static void h_many_headers(struct srv_conn *conn, const char *req, size_t len)
{
    struct ird_buf extra = IRD_BUF_INIT;
    for (int i = 0; i < IRD_HTTP_MAX_RESPONSE_HEADERS + 50; i++)
        ird_buf_printf(&extra, "X-Header-%d: value\r\n", i);
    (void)req;
    (void)len;
    respond(conn, "200 OK", extra.data, "", 0);
    ird_buf_free(&extra);
}

/* The whole request (line, headers, body) comes back as the body. */
static void h_echo(struct srv_conn *conn, const char *req, size_t len)
{
    respond(conn, "200 OK", "Content-Type: text/plain\r\n", req, len);
}

struct route {
    const char *path;
    void (*handle)(struct srv_conn *conn, const char *req, size_t len);
};

static const struct route routes[] = {
    {"/ok", h_ok},
    {"/chunked", h_chunked},
    {"/429", h_429},
    {"/429-date", h_429_date},
    {"/503", h_503},
    {"/slow", h_slow},
    {"/close", h_close},
    {"/big", h_big},
    {"/big-chunked", h_big_chunked},
    {"/many-headers", h_many_headers},
    {"/echo", h_echo},
};

static size_t content_length(const char *hdr, size_t hdr_len)
{
    static const char name[] = "\r\ncontent-length:";
    for (size_t i = 0; i + sizeof(name) - 1 < hdr_len; i++)
        if (strncasecmp(hdr + i, name, sizeof(name) - 1) == 0)
            return strtoul(hdr + i + sizeof(name) - 1, NULL, 10);
    return 0;
}

static void srv_process(struct srv_conn *conn)
{
    while (!conn->closing && conn->in.len) {
        const char *data = conn->in.data;
        const char *end = memmem(data, conn->in.len, "\r\n\r\n", 4);
        if (!end)
            return;
        size_t hdr_len = (size_t)(end - data) + 4;
        size_t req_len = hdr_len + content_length(data, hdr_len);
        if (conn->in.len < req_len)
            return;
        conn->srv->requests++;
        char path[64] = "";
        const char *sp = memchr(data, ' ', hdr_len);
        const char *sp2 = sp ? memchr(sp + 1, ' ', hdr_len - (size_t)(sp + 1 - data)) : NULL;
        if (sp2 && (size_t)(sp2 - sp - 1) < sizeof(path)) {
            memcpy(path, sp + 1, (size_t)(sp2 - sp - 1));
            path[sp2 - sp - 1] = '\0';
        }
        const struct route *r = NULL;
        for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
            if (strcmp(routes[i].path, path) == 0)
                r = &routes[i];
        if (r)
            r->handle(conn, data, req_len);
        else
            respond(conn, "404 Not Found", "", "", 0);
        ird_buf_consume(&conn->in, req_len);
    }
}

static void srv_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    buf->base = malloc(suggested);
    buf->len = suggested;
}

static void on_srv_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct srv_conn *conn = stream->data;
    if (nread > 0)
        ird_buf_append(&conn->in, buf->base, (size_t)nread);
    free(buf->base);
    if (nread < 0)
        srv_conn_close(conn);
    else
        srv_process(conn);
}

static void on_srv_connection(uv_stream_t *listener, int status)
{
    struct srv *srv = listener->data;
    if (status < 0)
        return;
    struct srv_conn *conn = calloc(1, sizeof(*conn));
    conn->srv = srv;
    uv_tcp_init(listener->loop, &conn->tcp);
    conn->tcp.data = conn;
    conn->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = conn;
    srv->conns = conn;
    srv->open++;
    if (uv_accept(listener, (uv_stream_t *)&conn->tcp) < 0) {
        srv_conn_close(conn);
        return;
    }
    srv->accepted++;
    if (srv->open > srv->max_open)
        srv->max_open = srv->open;
    uv_read_start((uv_stream_t *)&conn->tcp, srv_alloc, on_srv_read);
}

static int tcp_port(uv_tcp_t *tcp)
{
    struct sockaddr_storage ss;
    int n = sizeof(ss);
    uv_tcp_getsockname(tcp, (struct sockaddr *)&ss, &n);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static int srv_start(struct srv *srv, uv_loop_t *loop)
{
    struct sockaddr_in addr;
    memset(srv, 0, sizeof(*srv));
    uv_ip4_addr("127.0.0.1", 0, &addr);
    uv_tcp_init(loop, &srv->tcp);
    srv->tcp.data = srv;
    int rc = uv_tcp_bind(&srv->tcp, (const struct sockaddr *)&addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&srv->tcp, 128, on_srv_connection);
    srv->port = tcp_port(&srv->tcp);
    return rc;
}

static void srv_stop(struct srv *srv)
{
    uv_close((uv_handle_t *)&srv->tcp, NULL);
    for (struct srv_conn *c = srv->conns; c; c = c->next)
        srv_conn_close(c);
}

/* ---- fixture: a loop, the server, a client ------------------------------ */

struct fx {
    uv_loop_t loop;
    struct srv srv;
    struct ird_http_client *client;
    uv_timer_t guard; /* wakes uv_run(UV_RUN_ONCE) so RUN_UNTIL can check its deadline */
    int closed;
};

static void on_guard(uv_timer_t *t)
{
    (void)t;
}

static void fx_init(struct fx *f)
{
    memset(f, 0, sizeof(*f));
    uv_loop_init(&f->loop);
    CHECK_INT(srv_start(&f->srv, &f->loop), 0);
    f->client = ird_http_client_new(&f->loop);
    CHECK(f->client != NULL);
    uv_timer_init(&f->loop, &f->guard);
    uv_timer_start(&f->guard, on_guard, 20, 20);
}

#define RUN_UNTIL(f, cond, ms)                                                                     \
    do {                                                                                           \
        uint64_t deadline_ = uv_now(&(f)->loop) + (ms);                                            \
        while (!(cond) && uv_now(&(f)->loop) < deadline_)                                          \
            uv_run(&(f)->loop, UV_RUN_ONCE);                                                       \
    } while (0)

static void on_client_closed(void *data)
{
    struct fx *f = data;
    f->closed++;
}

/* Tear everything down; the loop must close cleanly (no handle left behind). */
static void fx_done(struct fx *f)
{
    ird_http_client_close(f->client, on_client_closed, f);
    RUN_UNTIL(f, f->closed, 5000);
    CHECK_INT(f->closed, 1);
    srv_stop(&f->srv);
    uv_close((uv_handle_t *)&f->guard, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    CHECK_INT(uv_loop_close(&f->loop), 0);
}

struct result {
    int calls;
    int status;
    long http;
    int version;
    int64_t retry_after;
    struct ird_buf body;
    char content_type[64];
    char served_by[64];
    char why[256];
    int *counter; /* optional: bumped on every callback */
};

static void on_done(int status, const struct ird_http_response *resp, const char *why, void *data)
{
    struct result *r = data;
    r->calls++;
    r->status = status;
    r->http = resp->status;
    r->version = resp->http_version;
    r->retry_after = resp->retry_after_ms;
    ird_buf_reset(&r->body);
    ird_buf_append(&r->body, resp->body.data, resp->body.len);
    snprintf(r->content_type, sizeof(r->content_type), "%s",
             resp->content_type ? resp->content_type : "");
    const char *sb = ird_http_response_header(resp, "x-served-by");
    snprintf(r->served_by, sizeof(r->served_by), "%s", sb ? sb : "");
    snprintf(r->why, sizeof(r->why), "%s", why ? why : "");
    if (r->counter)
        (*r->counter)++;
}

static void url_for(char *out, size_t n, const char *scheme, int port, const char *path)
{
    snprintf(out, n, "%s://127.0.0.1:%d%s", scheme, port, path);
}

/* GET path on the scripted server; max_bytes/timeout 0 = defaults. */
static int fx_get(struct fx *f, const char *path, struct result *r, long timeout_ms,
                  size_t max_bytes, struct ird_http_call **ret_call)
{
    char url[128];
    url_for(url, sizeof(url), "http", f->srv.port, path);
    struct ird_http_request req = {
        .method = "GET", .url = url, .timeout_ms = timeout_ms, .max_response_bytes = max_bytes};
    return ird_http_client_send(f->client, &req, on_done, r, ret_call);
}

/* ---- plain HTTP ---------------------------------------------------------- */

static void test_ok_and_chunked(void)
{
    struct fx f;
    struct result a = {0}, b = {0};
    fx_init(&f);
    CHECK_INT(fx_get(&f, "/ok", &a, 0, 0, NULL), 0);
    CHECK_INT(fx_get(&f, "/chunked", &b, 0, 0, NULL), 0);
    CHECK_INT(a.calls, 0); /* never from inside send */
    RUN_UNTIL(&f, a.calls && b.calls, 5000);
    CHECK_INT(a.calls, 1);
    CHECK_INT(a.status, 0);
    CHECK_INT(a.http, 200);
    CHECK_INT(a.version, 1);
    CHECK_STR(a.body.data, "{\"ok\":true}");
    CHECK_STR(a.content_type, "application/json");
    CHECK_STR(a.served_by, "ird-test");
    CHECK_INT(a.retry_after, -1);
    CHECK_INT(b.calls, 1);
    CHECK_INT(b.status, 0);
    CHECK_INT(b.http, 200);
    CHECK_STR(b.body.data, "hello, chunked world");
    CHECK_STR(b.content_type, "text/plain");
    fx_done(&f);
    ird_buf_free(&a.body);
    ird_buf_free(&b.body);
}

static void test_status_codes(void)
{
    struct fx f;
    struct result r429 = {0}, rdate = {0}, r503 = {0}, r404 = {0};
    fx_init(&f);
    CHECK_INT(fx_get(&f, "/429", &r429, 0, 0, NULL), 0);
    CHECK_INT(fx_get(&f, "/429-date", &rdate, 0, 0, NULL), 0);
    CHECK_INT(fx_get(&f, "/503", &r503, 0, 0, NULL), 0);
    CHECK_INT(fx_get(&f, "/nowhere", &r404, 0, 0, NULL), 0);
    RUN_UNTIL(&f, r429.calls && rdate.calls && r503.calls && r404.calls, 5000);
    /* An HTTP error status is a response, not a transport failure. */
    CHECK_INT(r429.status, 0);
    CHECK_INT(r429.http, 429);
    CHECK_INT(r429.retry_after, 2000);
    CHECK_INT(rdate.http, 429);
    CHECK(rdate.retry_after > 110000 && rdate.retry_after <= 121000);
    CHECK_INT(r503.status, 0);
    CHECK_INT(r503.http, 503);
    CHECK_STR(r503.body.data, "down");
    CHECK_INT(r503.retry_after, -1);
    CHECK_INT(r404.http, 404);
    fx_done(&f);
    ird_buf_free(&r429.body);
    ird_buf_free(&rdate.body);
    ird_buf_free(&r503.body);
    ird_buf_free(&r404.body);
}

static void test_timeout(void)
{
    struct fx f;
    struct result r = {0};
    fx_init(&f);
    uint64_t start = uv_now(&f.loop);
    CHECK_INT(fx_get(&f, "/slow", &r, 300, 0, NULL), 0);
    RUN_UNTIL(&f, r.calls, 5000);
    uint64_t took = uv_now(&f.loop) - start;
    CHECK_INT(r.calls, 1);
    CHECK_INT(r.status, -ETIMEDOUT);
    CHECK_INT(r.http, 0);
    CHECK(r.why[0] != '\0');
    CHECK(took >= 250 && took < 3000);
    fx_done(&f);
    ird_buf_free(&r.body);
}

static void test_closed_without_answer(void)
{
    struct fx f;
    struct result r = {0};
    fx_init(&f);
    CHECK_INT(fx_get(&f, "/close", &r, 0, 0, NULL), 0);
    RUN_UNTIL(&f, r.calls, 5000);
    CHECK_INT(r.calls, 1);
    CHECK_INT(r.status, -ECONNRESET);
    CHECK_INT(r.http, 0);
    fx_done(&f);
    ird_buf_free(&r.body);
}

static void test_limits(void)
{
    struct fx f;
    struct result big = {0}, chunked = {0}, headers = {0}, after = {0};
    fx_init(&f);
    /* Content-Length over the limit. */
    CHECK_INT(fx_get(&f, "/big", &big, 0, 1000, NULL), 0);
    RUN_UNTIL(&f, big.calls, 5000);
    CHECK_INT(big.status, -EMSGSIZE);
    CHECK(big.body.len <= 1000);
    /* Chunked, so the size is only known while reading. */
    CHECK_INT(fx_get(&f, "/big-chunked", &chunked, 0, 1000, NULL), 0);
    RUN_UNTIL(&f, chunked.calls, 5000);
    CHECK_INT(chunked.status, -EMSGSIZE);
    CHECK(chunked.body.len <= 1000);
    CHECK(strstr(chunked.why, "1000") != NULL);
    /* Too many response headers. */
    CHECK_INT(fx_get(&f, "/many-headers", &headers, 0, 0, NULL), 0);
    RUN_UNTIL(&f, headers.calls, 5000);
    CHECK_INT(headers.status, -EMSGSIZE);
    /* Each oversized answer dropped its connection: the next call needs a new
     * one. */
    int before = f.srv.accepted;
    CHECK_INT(fx_get(&f, "/ok", &after, 0, 0, NULL), 0);
    RUN_UNTIL(&f, after.calls, 5000);
    CHECK_INT(after.http, 200);
    CHECK_INT(f.srv.accepted, before + 1);
    CHECK_INT(f.srv.accepted, 4);
    fx_done(&f);
    ird_buf_free(&big.body);
    ird_buf_free(&chunked.body);
    ird_buf_free(&headers.body);
    ird_buf_free(&after.body);
}

static void test_refused(void)
{
    struct fx f;
    struct result r = {0};
    fx_init(&f);
    /* A port that was just free: bind, read it, close. */
    uv_tcp_t tmp;
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", 0, &addr);
    uv_tcp_init(&f.loop, &tmp);
    uv_tcp_bind(&tmp, (const struct sockaddr *)&addr, 0);
    int port = tcp_port(&tmp);
    uv_close((uv_handle_t *)&tmp, NULL);
    uv_run(&f.loop, UV_RUN_NOWAIT);
    char url[128];
    url_for(url, sizeof(url), "http", port, "/");
    struct ird_http_request req = {.method = "GET", .url = url};
    CHECK_INT(ird_http_client_send(f.client, &req, on_done, &r, NULL), 0);
    CHECK_INT(r.calls, 0);
    RUN_UNTIL(&f, r.calls, 5000);
    CHECK_INT(r.calls, 1);
    CHECK_INT(r.status, -ECONNREFUSED);
    CHECK(r.why[0] != '\0');
    fx_done(&f);
    ird_buf_free(&r.body);
}

static void test_cancel(void)
{
    struct fx f;
    struct result r = {0}, other = {0};
    struct ird_http_call *call = NULL;
    fx_init(&f);
    CHECK_INT(fx_get(&f, "/slow", &r, 0, 0, &call), 0);
    CHECK(call != NULL);
    RUN_UNTIL(&f, f.srv.requests == 1, 5000);
    CHECK_INT(f.srv.open, 1);
    ird_http_call_cancel(call);
    CHECK_INT(r.calls, 0);      /* documented: on a later loop turn */
    ird_http_call_cancel(call); /* twice is harmless */
    RUN_UNTIL(&f, r.calls, 5000);
    CHECK_INT(r.calls, 1);
    CHECK_INT(r.status, -ECANCELED);
    /* The in-flight connection was dropped, and the client still works. */
    RUN_UNTIL(&f, f.srv.open == 0, 5000);
    CHECK_INT(f.srv.open, 0);
    CHECK_INT(fx_get(&f, "/ok", &other, 0, 0, NULL), 0);
    RUN_UNTIL(&f, other.calls, 5000);
    CHECK_INT(other.http, 200);
    CHECK_INT(r.calls, 1);
    fx_done(&f);
    ird_buf_free(&r.body);
    ird_buf_free(&other.body);
}

struct chain {
    struct fx *f;
    struct result r;
    int done, statuses_ok;
};

static void on_chain(int status, const struct ird_http_response *resp, const char *why, void *data)
{
    struct chain *ch = data;
    (void)why;
    if (status == 0 && resp->status == 200 && strcmp(resp->body.data, "{\"ok\":true}") == 0)
        ch->statuses_ok++;
    if (++ch->done < 5) {
        char url[128];
        url_for(url, sizeof(url), "http", ch->f->srv.port, "/ok");
        struct ird_http_request req = {.method = "GET", .url = url};
        CHECK_INT(ird_http_client_send(ch->f->client, &req, on_chain, ch, NULL), 0);
    }
}

static void test_keepalive(void)
{
    struct fx f;
    struct chain ch = {.f = &f};
    fx_init(&f);
    char url[128];
    url_for(url, sizeof(url), "http", f.srv.port, "/ok");
    struct ird_http_request req = {.method = "GET", .url = url};
    /* Each request is sent from the previous one's callback. */
    CHECK_INT(ird_http_client_send(f.client, &req, on_chain, &ch, NULL), 0);
    RUN_UNTIL(&f, ch.done == 5, 5000);
    CHECK_INT(ch.done, 5);
    CHECK_INT(ch.statuses_ok, 5);
    CHECK_INT(f.srv.requests, 5);
    CHECK_INT(f.srv.accepted, 1);
    fx_done(&f);
}

static void test_concurrent(void)
{
    enum { N = 50 };
    struct fx f;
    static struct result rs[N];
    int finished = 0, good = 0;
    fx_init(&f);
    memset(rs, 0, sizeof(rs));
    for (int i = 0; i < N; i++) {
        rs[i].counter = &finished;
        CHECK_INT(fx_get(&f, i % 2 ? "/ok" : "/chunked", &rs[i], 0, 0, NULL), 0);
    }
    RUN_UNTIL(&f, finished == N, 10000);
    CHECK_INT(finished, N);
    for (int i = 0; i < N; i++) {
        if (rs[i].calls == 1 && rs[i].status == 0 && rs[i].http == 200 &&
            strcmp(rs[i].body.data, i % 2 ? "{\"ok\":true}" : "hello, chunked world") == 0)
            good++;
        ird_buf_free(&rs[i].body);
    }
    CHECK_INT(good, N);
    CHECK_INT(f.srv.requests, N);
    CHECK(f.srv.max_open <= IRD_HTTP_MAX_HOST_CONNECTIONS);
    CHECK(f.srv.accepted <= IRD_HTTP_MAX_HOST_CONNECTIONS);
    fx_done(&f);
}

struct close_order {
    int cancelled;
    int cancelled_at_close; /* how many callbacks had run when close_cb ran */
    int closed;
};

static void on_close_order_done(int status, const struct ird_http_response *resp, const char *why,
                                void *data)
{
    struct close_order *o = data;
    (void)resp;
    (void)why;
    if (status == -ECANCELED)
        o->cancelled++;
}

static void on_close_order_closed(void *data)
{
    struct close_order *o = data;
    o->closed++;
    o->cancelled_at_close = o->cancelled;
}

static void test_close_in_flight(void)
{
    struct fx f;
    struct close_order o = {0};
    fx_init(&f);
    char url[128];
    url_for(url, sizeof(url), "http", f.srv.port, "/slow");
    struct ird_http_request req = {.method = "GET", .url = url};
    for (int i = 0; i < 5; i++)
        CHECK_INT(ird_http_client_send(f.client, &req, on_close_order_done, &o, NULL), 0);
    RUN_UNTIL(&f, f.srv.requests == 5, 5000);
    CHECK_INT(f.srv.requests, 5);
    ird_http_client_close(f.client, on_close_order_closed, &o);
    CHECK_INT(o.cancelled, 0);
    CHECK_INT(ird_http_client_send(f.client, &req, on_close_order_done, &o, NULL), -ESHUTDOWN);
    RUN_UNTIL(&f, o.closed, 5000);
    CHECK_INT(o.closed, 1);
    CHECK_INT(o.cancelled, 5);
    CHECK_INT(o.cancelled_at_close, 5);
    /* The client's connections are gone once it is closed. */
    RUN_UNTIL(&f, f.srv.open == 0, 5000);
    CHECK_INT(f.srv.open, 0);
    srv_stop(&f.srv);
    uv_close((uv_handle_t *)&f.guard, NULL);
    uv_run(&f.loop, UV_RUN_DEFAULT);
    CHECK_INT(uv_loop_close(&f.loop), 0);
}

struct reentry {
    struct fx *f;
    struct ird_http_call *self;
    struct result slow;
    int status;
    int calls;
};

/* From inside a callback: cancel itself (a no-op), then close the whole client. */
static void on_reentry(int status, const struct ird_http_response *resp, const char *why,
                       void *data)
{
    struct reentry *re = data;
    (void)resp;
    (void)why;
    re->calls++;
    re->status = status;
    ird_http_call_cancel(re->self);
    ird_http_client_close(re->f->client, on_client_closed, re->f);
}

static void test_close_from_callback(void)
{
    struct fx f;
    struct reentry re = {.f = &f};
    fx_init(&f);
    CHECK_INT(fx_get(&f, "/slow", &re.slow, 0, 0, NULL), 0);
    RUN_UNTIL(&f, f.srv.requests == 1, 5000);
    char url[128];
    url_for(url, sizeof(url), "http", f.srv.port, "/ok");
    struct ird_http_request req = {.method = "GET", .url = url};
    CHECK_INT(ird_http_client_send(f.client, &req, on_reentry, &re, &re.self), 0);
    RUN_UNTIL(&f, f.closed, 5000);
    CHECK_INT(re.calls, 1);
    CHECK_INT(re.status, 0);
    CHECK_INT(re.slow.calls, 1);
    CHECK_INT(re.slow.status, -ECANCELED);
    CHECK_INT(f.closed, 1);
    srv_stop(&f.srv);
    uv_close((uv_handle_t *)&f.guard, NULL);
    uv_run(&f.loop, UV_RUN_DEFAULT);
    CHECK_INT(uv_loop_close(&f.loop), 0);
    ird_buf_free(&re.slow.body);
}

static void test_methods_and_body(void)
{
    struct fx f;
    struct result post = {0}, put = {0}, patch = {0}, del = {0};
    fx_init(&f);
    char url[128];
    url_for(url, sizeof(url), "http", f.srv.port, "/echo");
    /* 2 KiB: past the size at which older curl sent Expect: 100-continue. */
    char *body = malloc(2048);
    memset(body, 'b', 2048);
    memcpy(body, "{\"a\":", 5);
    const char *hdrs[] = {"Content-Type: application/json", "X-Trace: abc", NULL};
    struct ird_http_request req = {
        .method = "POST", .url = url, .headers = hdrs, .body = body, .body_len = 2048};
    CHECK_INT(ird_http_client_send(f.client, &req, on_done, &post, NULL), 0);
    memset(body, 'Z', 2048); /* the call holds its own copy */
    free(body);
    struct ird_http_request r2 = {.method = "PUT", .url = url, .body = "put-body", .body_len = 8};
    CHECK_INT(ird_http_client_send(f.client, &r2, on_done, &put, NULL), 0);
    struct ird_http_request r3 = {.method = "PATCH", .url = url};
    CHECK_INT(ird_http_client_send(f.client, &r3, on_done, &patch, NULL), 0);
    struct ird_http_request r4 = {.method = "DELETE", .url = url};
    CHECK_INT(ird_http_client_send(f.client, &r4, on_done, &del, NULL), 0);
    RUN_UNTIL(&f, post.calls && put.calls && patch.calls && del.calls, 5000);

    const char *p = post.body.data ? post.body.data : "";
    CHECK(strncmp(p, "POST /echo HTTP/1.1\r\n", 21) == 0);
    CHECK(strstr(p, "\r\nUser-Agent: ird/" IRD_VERSION "\r\n") != NULL);
    CHECK(strstr(p, "\r\nX-Trace: abc\r\n") != NULL);
    CHECK(strstr(p, "\r\nContent-Type: application/json\r\n") != NULL);
    CHECK(strstr(p, "\r\nContent-Length: 2048\r\n") != NULL);
    CHECK(strcasestr(p, "\r\nExpect:") == NULL);
    CHECK(post.body.len > 2048 && p[post.body.len - 2048] == '{' && p[post.body.len - 1] == 'b' &&
          strchr(p, 'Z') == NULL);

    const char *q = put.body.data ? put.body.data : "";
    CHECK(strncmp(q, "PUT /echo HTTP/1.1\r\n", 20) == 0);
    CHECK(put.body.len > 8 && strcmp(q + put.body.len - 8, "put-body") == 0);
    /* No body type was given, so none is claimed. */
    CHECK(strcasestr(q, "\r\nContent-Type:") == NULL);
    CHECK(patch.body.data && strncmp(patch.body.data, "PATCH /echo HTTP/1.1\r\n", 22) == 0);
    CHECK(patch.body.data && strstr(patch.body.data, "\r\nContent-Length: 0\r\n") != NULL);
    CHECK(del.body.data && strncmp(del.body.data, "DELETE /echo HTTP/1.1\r\n", 23) == 0);
    fx_done(&f);
    ird_buf_free(&post.body);
    ird_buf_free(&put.body);
    ird_buf_free(&patch.body);
    ird_buf_free(&del.body);
}

static void test_invalid_requests(void)
{
    struct fx f;
    struct result r = {0};
    struct ird_http_call *call = (struct ird_http_call *)&r; /* must stay untouched */
    fx_init(&f);
    char url[128];
    url_for(url, sizeof(url), "http", f.srv.port, "/ok");
    struct ird_http_request trace = {.method = "TRACE", .url = url};
    CHECK_INT(ird_http_client_send(f.client, &trace, on_done, &r, &call), -EINVAL);
    struct ird_http_request ftp = {.method = "GET", .url = "ftp://127.0.0.1/x"};
    CHECK_INT(ird_http_client_send(f.client, &ftp, on_done, &r, &call), -EINVAL);
    struct ird_http_request file = {.method = "GET", .url = "file:///etc/passwd"};
    CHECK_INT(ird_http_client_send(f.client, &file, on_done, &r, &call), -EINVAL);
    struct ird_http_request junk = {.method = "GET", .url = "not a url"};
    CHECK_INT(ird_http_client_send(f.client, &junk, on_done, &r, &call), -EINVAL);
    const char *evil[] = {"X-A: 1\r\nX-Injected: 2", NULL};
    struct ird_http_request inj = {.method = "GET", .url = url, .headers = evil};
    CHECK_INT(ird_http_client_send(f.client, &inj, on_done, &r, &call), -EINVAL);
    struct ird_http_tls bad_name = {.server_name = "evil.test:1:attacker"};
    struct ird_http_request sn = {.method = "GET", .url = url, .tls = &bad_name};
    CHECK_INT(ird_http_client_send(f.client, &sn, on_done, &r, &call), -EINVAL);
    struct ird_http_request nobody = {.method = "POST", .url = url, .body_len = 3};
    CHECK_INT(ird_http_client_send(f.client, &nobody, on_done, &r, &call), -EINVAL);
    CHECK(call == (struct ird_http_call *)&r);
    RUN_UNTIL(&f, 0, 100);
    CHECK_INT(r.calls, 0); /* a failed send never calls back */
    CHECK_INT(f.srv.accepted, 0);
    fx_done(&f);
}

/* ---- TLS against openssl s_server ---------------------------------------- */

struct tls_env {
    char dir[64];
    struct ird_buf ca, other_ca, cert, key;
    pid_t server, mtls_server;
    int port, mtls_port;
    int ready;
};

static void tls_path(const struct tls_env *t, const char *name, char *out, size_t n)
{
    snprintf(out, n, "%s/%s", t->dir, name);
}

/* Run argv (no shell), output to out_path (or /dev/null); returns the pid. */
static pid_t spawn(char *const argv[], const char *out_path)
{
    posix_spawn_file_actions_t fa;
    pid_t pid = -1;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out_path ? out_path : "/dev/null",
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ) != 0)
        pid = -1;
    posix_spawn_file_actions_destroy(&fa);
    return pid;
}

static int run(char *const argv[])
{
    int st = 0;
    pid_t pid = spawn(argv, NULL);
    if (pid < 0 || waitpid(pid, &st, 0) < 0)
        return -1;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static int slurp(const char *path, struct ird_buf *out)
{
    char chunk[4096];
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    ssize_t n;
    while ((n = read(fd, chunk, sizeof(chunk))) > 0)
        ird_buf_append(out, chunk, (size_t)n);
    close(fd);
    return out->len ? 0 : -1;
}

static int make_ca(struct tls_env *t, const char *name)
{
    char key[128], pem[128], subj[64];
    snprintf(key, sizeof(key), "%s/%s.key", t->dir, name);
    snprintf(pem, sizeof(pem), "%s/%s.pem", t->dir, name);
    snprintf(subj, sizeof(subj), "/CN=%s", name);
    char *argv[] = {
        "openssl", "req",     "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes",  "-keyout", key,     "-out",    pem,  "-days",    "2",
        "-subj",   subj,      NULL};
    return run(argv);
}

/* Start s_server with extra args; waits for its "ACCEPT 127.0.0.1:PORT" line.
 */
static pid_t start_s_server(struct tls_env *t, const char *log_name, char *const *extra,
                            int *ret_port)
{
    char cert[128], key[128], log[128];
    tls_path(t, "srv.pem", cert, sizeof(cert));
    tls_path(t, "srv.key", key, sizeof(key));
    tls_path(t, log_name, log, sizeof(log));
    char *argv[24] = {"openssl", "s_server", "-www", "-accept", "127.0.0.1:0",
                      "-cert",   cert,       "-key", key};
    int n = 9;
    for (int i = 0; extra && extra[i] && n < 23; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    pid_t pid = spawn(argv, log);
    if (pid < 0)
        return -1;
    for (int tries = 0; tries < 500; tries++) { /* up to 10 s */
        struct ird_buf out = IRD_BUF_INIT;
        slurp(log, &out);
        const char *a = out.data ? strstr(out.data, "ACCEPT 127.0.0.1:") : NULL;
        int port = a ? (int)strtol(a + 17, NULL, 10) : 0;
        ird_buf_free(&out);
        if (port > 0) {
            *ret_port = port;
            return pid;
        }
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    return -1;
}

static const char *tls_files[] = {"ca.key",  "ca.pem",  "other.key", "other.pem", "srv.key",
                                  "srv.csr", "srv.pem", "ext.cnf",   "s1.log",    "s2.log"};

static int tls_setup(struct tls_env *t)
{
    memset(t, 0, sizeof(*t));
    t->server = t->mtls_server = -1;
    snprintf(t->dir, sizeof(t->dir), "/tmp/ird-test-tls-XXXXXX");
    if (!mkdtemp(t->dir))
        return -1;
    char srv_key[128], csr[128], srv_pem[128], ca_pem[128], ca_key[128], ext[128], path[128];
    tls_path(t, "srv.key", srv_key, sizeof(srv_key));
    tls_path(t, "srv.csr", csr, sizeof(csr));
    tls_path(t, "srv.pem", srv_pem, sizeof(srv_pem));
    tls_path(t, "ca.pem", ca_pem, sizeof(ca_pem));
    tls_path(t, "ca.key", ca_key, sizeof(ca_key));
    tls_path(t, "ext.cnf", ext, sizeof(ext));
    if (make_ca(t, "ca") || make_ca(t, "other"))
        return -1;
    char *req[] = {"openssl",
                   "req",
                   "-newkey",
                   "ec",
                   "-pkeyopt",
                   "ec_paramgen_curve:prime256v1",
                   "-nodes",
                   "-keyout",
                   srv_key,
                   "-out",
                   csr,
                   "-subj",
                   "/CN=ird-peer.test",
                   NULL};
    if (run(req))
        return -1;
    static const char ext_text[] = "subjectAltName=DNS:ird-peer.test,IP:127.0.0.1\n";
    int fd = open(ext, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, ext_text, sizeof(ext_text) - 1) != (ssize_t)sizeof(ext_text) - 1) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    char *sign[] = {"openssl", "x509",   "-req",  "-in",         csr, "-CA",
                    ca_pem,    "-CAkey", ca_key,  "-set_serial", "2", "-days",
                    "2",       "-out",   srv_pem, "-extfile",    ext, NULL};
    if (run(sign))
        return -1;
    tls_path(t, "other.pem", path, sizeof(path));
    if (slurp(ca_pem, &t->ca) || slurp(path, &t->other_ca) || slurp(srv_pem, &t->cert) ||
        slurp(srv_key, &t->key))
        return -1;
    t->server = start_s_server(t, "s1.log", NULL, &t->port);
    char *mtls[] = {"-Verify", "1", "-CAfile", ca_pem, NULL};
    t->mtls_server = start_s_server(t, "s2.log", mtls, &t->mtls_port);
    if (t->server < 0 || t->mtls_server < 0)
        return -1;
    t->ready = 1;
    return 0;
}

static void tls_teardown(struct tls_env *t)
{
    if (t->server > 0) {
        kill(t->server, SIGTERM);
        waitpid(t->server, NULL, 0);
    }
    if (t->mtls_server > 0) {
        kill(t->mtls_server, SIGTERM);
        waitpid(t->mtls_server, NULL, 0);
    }
    char path[128];
    for (size_t i = 0; i < sizeof(tls_files) / sizeof(tls_files[0]); i++) {
        tls_path(t, tls_files[i], path, sizeof(path));
        unlink(path);
    }
    rmdir(t->dir);
    ird_buf_free(&t->ca);
    ird_buf_free(&t->other_ca);
    ird_buf_free(&t->cert);
    ird_buf_free(&t->key);
}

/* One HTTPS GET of / on port with tls; waits for its callback. */
static void tls_get(struct fx *f, int port, const struct ird_http_tls *tls, struct result *r)
{
    char url[128];
    url_for(url, sizeof(url), "https", port, "/");
    struct ird_http_request req = {.method = "GET", .url = url, .tls = tls};
    CHECK_INT(ird_http_client_send(f->client, &req, on_done, r, NULL), 0);
    RUN_UNTIL(f, r->calls, 10000);
    CHECK_INT(r->calls, 1);
}

static void test_tls(struct tls_env *t)
{
    struct fx f;
    struct result ok = {0}, named = {0}, misnamed = {0}, other = {0}, system = {0}, insecure = {0},
                  mtls = {0}, no_cert = {0};
    CHECK(t->ready);
    if (!t->ready)
        return;
    fx_init(&f);

    struct ird_http_tls with_ca = {.ca_pem = t->ca.data, .ca_len = t->ca.len};
    tls_get(&f, t->port, &with_ca, &ok);
    CHECK_INT(ok.status, 0);
    CHECK_INT(ok.http, 200);
    CHECK_INT(ok.version, 1);
    CHECK(ok.body.data && strstr(ok.body.data, "s_server") != NULL);

    /* tls-server-name: connect to 127.0.0.1, verify the certificate as
     * ird-peer.test. */
    struct ird_http_tls by_name = {
        .ca_pem = t->ca.data, .ca_len = t->ca.len, .server_name = "ird-peer.test"};
    tls_get(&f, t->port, &by_name, &named);
    CHECK_INT(named.status, 0);
    CHECK_INT(named.http, 200);
    struct ird_http_tls wrong_name = {
        .ca_pem = t->ca.data, .ca_len = t->ca.len, .server_name = "someone-else.test"};
    tls_get(&f, t->port, &wrong_name, &misnamed);
    CHECK_INT(misnamed.status, -EPROTO);

    struct ird_http_tls with_other = {.ca_pem = t->other_ca.data, .ca_len = t->other_ca.len};
    tls_get(&f, t->port, &with_other, &other);
    CHECK_INT(other.status, -EPROTO);
    CHECK_INT(other.http, 0);
    CHECK(other.why[0] != '\0');

    /* No CA given: the system CAs, which do not know our throwaway CA. */
    tls_get(&f, t->port, NULL, &system);
    CHECK_INT(system.status, -EPROTO);

    struct ird_http_tls skip = {.insecure_skip_verify = 1};
    tls_get(&f, t->port, &skip, &insecure);
    CHECK_INT(insecure.status, 0);
    CHECK_INT(insecure.http, 200);

    /* A server that wants a client certificate. */
    struct ird_http_tls client_cert = {.ca_pem = t->ca.data,
                                       .ca_len = t->ca.len,
                                       .cert_pem = t->cert.data,
                                       .cert_len = t->cert.len,
                                       .key_pem = t->key.data,
                                       .key_len = t->key.len};
    tls_get(&f, t->mtls_port, &client_cert, &mtls);
    CHECK_INT(mtls.status, 0);
    CHECK_INT(mtls.http, 200);
    tls_get(&f, t->mtls_port, &with_ca, &no_cert);
    CHECK_INT(no_cert.status, -EPROTO);

    fx_done(&f);
    struct result *all[] = {&ok, &named, &misnamed, &other, &system, &insecure, &mtls, &no_cert};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        ird_buf_free(&all[i]->body);
}

/* ---- HTTP/2 against nghttpd (Debian nghttp2-server) ----------------------- */

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static int wait_listening(int port)
{
    for (int tries = 0; tries < 250; tries++) { /* up to 5 s */
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
        if (fd >= 0)
            close(fd);
        if (ok)
            return 0;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return -1;
}

/* The client negotiates HTTP/2 over TLS (ALPN) when the server offers it,
 * as the Kubernetes API server does. */
static void test_http2(struct tls_env *t)
{
    CHECK(t->ready);
    if (!t->ready)
        return;
    char key[128], cert[128], portarg[16];
    tls_path(t, "srv.key", key, sizeof(key));
    tls_path(t, "srv.pem", cert, sizeof(cert));
    int port = free_port();
    snprintf(portarg, sizeof(portarg), "%d", port);
    char *argv[] = {"nghttpd", "-a", "127.0.0.1", "-d", t->dir, portarg, key, cert, NULL};
    pid_t pid = spawn(argv, NULL);
    CHECK(pid > 0);
    CHECK_INT(wait_listening(port), 0);
    struct fx f;
    fx_init(&f);
    struct result r = {0};
    char url[128];
    url_for(url, sizeof(url), "https", port, "/ca.pem");
    struct ird_http_tls tls = {.ca_pem = t->ca.data, .ca_len = t->ca.len};
    struct ird_http_request req = {.method = "GET", .url = url, .tls = &tls};
    CHECK_INT(ird_http_client_send(f.client, &req, on_done, &r, NULL), 0);
    RUN_UNTIL(&f, r.calls, 10000);
    CHECK_INT(r.status, 0);
    CHECK_INT(r.http, 200);
    CHECK_INT(r.version, 2);
    CHECK(r.body.len == t->ca.len && memcmp(r.body.data, t->ca.data, t->ca.len) == 0);
    fx_done(&f);
    ird_buf_free(&r.body);
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
}

int main(void)
{
    /* The tests talk to loopback only; a proxy from the environment would get in
     * the way. */
    static const char *proxies[] = {"http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy",
                                    "ALL_PROXY"};
    for (size_t i = 0; i < sizeof(proxies) / sizeof(proxies[0]); i++)
        unsetenv(proxies[i]);
    signal(SIGPIPE, SIG_IGN);
    CHECK_INT(ird_http_client_global_init(), 0);

    test_ok_and_chunked();
    test_status_codes();
    test_timeout();
    test_closed_without_answer();
    test_limits();
    test_refused();
    test_cancel();
    test_keepalive();
    test_concurrent();
    test_close_in_flight();
    test_close_from_callback();
    test_methods_and_body();
    test_invalid_requests();

    struct tls_env t;
    if (tls_setup(&t) != 0)
        fprintf(stderr, "TLS setup failed (openssl CLI or s_server)\n");
    test_tls(&t);
    test_http2(&t);
    tls_teardown(&t);

    ird_http_client_global_cleanup();
    return ird_check_summary("http_client");
}
