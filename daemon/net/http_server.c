/* HTTP/1.1 server: accepts connections, parses requests with llhttp under the
 * configured limits, hands complete requests to the dispatcher one at a time
 * per connection, writes responses in order and enforces timeouts. */
#include "net/http_server.h"

#include <cjson/cJSON.h>
#include <llhttp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Connection states; the timer means something different in each. */
enum conn_state {
    CONN_IDLE,     /* keep-alive, waiting for a request: idle timeout */
    CONN_READING,  /* a request has begun: read timeout */
    CONN_HANDLING, /* dispatched, waiting for ird_http_respond(): no timeout here */
    CONN_WRITING,  /* response being written */
    CONN_LINGER,   /* error answered, write side shut; discarding input before close */
    CONN_CLOSING,  /* uv_close issued */
};

struct ird_http_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    struct ird_http_server *server;
    struct ird_http_conn *prev, *next;
    llhttp_t parser;
    enum conn_state state;
    int pending_closes; /* handles still to close before free */
    bool in_handler;    /* request handed out and not answered yet */
    bool close_after;   /* answer with Connection: close */
    bool reading;       /* uv_read_start active */
    int error_status;   /* set by a callback that refuses the request */
    const char *error_detail;
    struct ird_buf in; /* received bytes; those before in_off are parsed */
    size_t in_off;
    bool peer_closed; /* the client half-closed: answer what it sent, then close */
    struct ird_buf url;
    struct ird_buf field; /* header name being received */
    struct ird_buf value; /* header value being received */
    size_t header_bytes;
    struct ird_http_request req;
    size_t headers_cap;
};

struct ird_http_server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    bool listening;
    bool listener_inited;
    bool shutting_down;
    char *name;
    char address[80];
    struct ird_http_limits limits;
    ird_http_dispatch_cb dispatch;
    ird_http_observe_cb observe;
    void *data;
    struct ird_http_conn *conns;
    unsigned nconns;
    void (*close_cb)(void *);
    void *close_data;
    bool listener_closed;
};

static llhttp_settings_t parser_settings;

static const struct {
    int code;
    const char *text;
} status_texts[] = {
    {100, "Continue"},
    {200, "OK"},
    {201, "Created"},
    {202, "Accepted"},
    {204, "No Content"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {408, "Request Timeout"},
    {409, "Conflict"},
    {411, "Length Required"},
    {413, "Content Too Large"},
    {414, "URI Too Long"},
    {415, "Unsupported Media Type"},
    {417, "Expectation Failed"},
    {422, "Unprocessable Content"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {503, "Service Unavailable"},
};

const char *ird_http_status_text(int status)
{
    for (size_t i = 0; i < sizeof(status_texts) / sizeof(status_texts[0]); i++)
        if (status_texts[i].code == status)
            return status_texts[i].text;
    return "Unknown";
}

static void conn_process(struct ird_http_conn *c);
static void conn_close(struct ird_http_conn *c);
static void refused_path(struct ird_http_conn *c);
static void start_reading(struct ird_http_conn *c);

/* ---- request assembly --------------------------------------------------- */

static void request_clear(struct ird_http_conn *c)
{
    struct ird_http_request *r = &c->req;
    for (size_t i = 0; i < r->nheaders; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    r->nheaders = 0;
    free(r->target);
    free(r->path);
    r->target = r->path = NULL;
    r->query = "";
    r->method = NULL;
    for (size_t i = 0; i < r->nparams; i++)
        free(r->params[i]);
    r->nparams = 0;
    /* The body buffer is kept for the connection's next request (a large
     * allocation per request is what malloc handles worst), unless big. */
    if (r->body.cap > 65536)
        ird_buf_free(&r->body);
    else
        ird_buf_reset(&r->body);
    r->route = NULL;
    r->user = NULL;
    ird_buf_reset(&c->url);
    ird_buf_reset(&c->field);
    ird_buf_reset(&c->value);
    c->header_bytes = 0;
}

static struct ird_http_conn *conn_of(llhttp_t *p)
{
    return p->data;
}

static int refuse(struct ird_http_conn *c, int status, const char *detail)
{
    c->error_status = status;
    c->error_detail = detail;
    return -1;
}

static int on_message_begin(llhttp_t *p)
{
    struct ird_http_conn *c = conn_of(p);
    request_clear(c);
    c->req.start_ns = uv_hrtime();
    c->state = CONN_READING;
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
    struct ird_http_conn *c = conn_of(p);
    if (c->url.len + len > c->server->limits.url_bytes)
        return refuse(c, 414, "the request target is longer than the limit");
    return ird_buf_append(&c->url, at, len) ? refuse(c, 503, "out of memory") : 0;
}

static int count_header_bytes(struct ird_http_conn *c, size_t len)
{
    c->header_bytes += len;
    if (c->header_bytes > c->server->limits.header_bytes)
        return refuse(c, 431, "the request headers are larger than the limit");
    return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    struct ird_http_conn *c = conn_of(p);
    if (count_header_bytes(c, len))
        return -1;
    return ird_buf_append(&c->field, at, len) ? refuse(c, 503, "out of memory") : 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    struct ird_http_conn *c = conn_of(p);
    if (count_header_bytes(c, len))
        return -1;
    return ird_buf_append(&c->value, at, len) ? refuse(c, 503, "out of memory") : 0;
}

static char *trimmed_copy(const char *s, size_t len)
{
    while (len && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    char *out = malloc(len + 1);
    if (out) {
        memcpy(out, s, len);
        out[len] = '\0';
    }
    return out;
}

static int on_header_value_complete(llhttp_t *p)
{
    struct ird_http_conn *c = conn_of(p);
    struct ird_http_request *r = &c->req;
    if (r->nheaders >= c->server->limits.header_count)
        return refuse(c, 431, "the request has more headers than the limit");
    if (r->nheaders == c->headers_cap) {
        size_t cap = c->headers_cap ? c->headers_cap * 2 : 16;
        struct ird_http_header *h = realloc(r->headers, cap * sizeof(*h));
        if (!h)
            return refuse(c, 503, "out of memory");
        r->headers = h;
        c->headers_cap = cap;
    }
    char *name = trimmed_copy(c->field.data ? c->field.data : "", c->field.len);
    char *value = trimmed_copy(c->value.data ? c->value.data : "", c->value.len);
    if (!name || !value) {
        free(name);
        free(value);
        return refuse(c, 503, "out of memory");
    }
    r->headers[r->nheaders].name = name;
    r->headers[r->nheaders].value = value;
    r->nheaders++;
    ird_buf_reset(&c->field);
    ird_buf_reset(&c->value);
    return 0;
}

static void write_raw(struct ird_http_conn *c, const char *data, size_t len);

static int on_headers_complete(llhttp_t *p)
{
    struct ird_http_conn *c = conn_of(p);
    struct ird_http_request *r = &c->req;
    const struct ird_http_limits *lim = &c->server->limits;
    r->method = llhttp_method_name((llhttp_method_t)p->method);
    r->target = ird_buf_steal(&c->url);
    const char *q = strchr(r->target, '?');
    size_t plen = q ? (size_t)(q - r->target) : strlen(r->target);
    r->path = malloc(plen + 1);
    if (!r->path)
        return refuse(c, 503, "out of memory");
    memcpy(r->path, r->target, plen);
    r->path[plen] = '\0';
    r->query = q ? q + 1 : "";
    if (p->method == HTTP_CONNECT)
        return refuse(c, 400, "CONNECT is not supported");
    /* ird never switches protocols: an Upgrade header is ignored, so the
     * connection goes on as HTTP/1.1 (llhttp would otherwise stop parsing). */
    p->upgrade = 0;
    if ((p->flags & F_CONTENT_LENGTH) && p->content_length > lim->body_bytes)
        return refuse(c, 413, "the request body is larger than the limit");
    /* The size is known and allowed: one allocation for the whole body. */
    if ((p->flags & F_CONTENT_LENGTH) && p->content_length > 0 &&
        ird_buf_reserve(&r->body, (size_t)p->content_length))
        return refuse(c, 503, "out of memory");
    const char *expect = ird_http_header_get(r->headers, r->nheaders, "Expect");
    if (expect) {
        if (strcasecmp(expect, "100-continue") != 0)
            return refuse(c, 417, "only Expect: 100-continue is supported");
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        write_raw(c, cont, sizeof(cont) - 1);
    }
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    struct ird_http_conn *c = conn_of(p);
    if (c->req.body.len + len > c->server->limits.body_bytes)
        return refuse(c, 413, "the request body is larger than the limit");
    return ird_buf_append(&c->req.body, at, len) ? refuse(c, 503, "out of memory") : 0;
}

static int on_message_complete(llhttp_t *p)
{
    (void)p;
    /* Stop here: the next pipelined request is parsed after this one's answer. */
    return HPE_PAUSED;
}

static void init_settings(void)
{
    static bool done;
    if (done)
        return;
    llhttp_settings_init(&parser_settings);
    parser_settings.on_message_begin = on_message_begin;
    parser_settings.on_url = on_url;
    parser_settings.on_header_field = on_header_field;
    parser_settings.on_header_value = on_header_value;
    parser_settings.on_header_value_complete = on_header_value_complete;
    parser_settings.on_headers_complete = on_headers_complete;
    parser_settings.on_body = on_body;
    parser_settings.on_message_complete = on_message_complete;
    done = true;
}

/* ---- connection lifecycle ------------------------------------------------ */

static void conn_free(struct ird_http_conn *c)
{
    struct ird_http_server *s = c->server;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->nconns--;
    request_clear(c);
    ird_buf_free(&c->req.body);
    free(c->req.headers);
    ird_buf_free(&c->in);
    ird_buf_free(&c->url);
    ird_buf_free(&c->field);
    ird_buf_free(&c->value);
    free(c);
    if (s->shutting_down && s->nconns == 0 && s->listener_closed && s->close_cb) {
        void (*cb)(void *) = s->close_cb;
        s->close_cb = NULL;
        cb(s->close_data);
    }
}

static void on_handle_closed(uv_handle_t *h)
{
    struct ird_http_conn *c = h->data;
    if (--c->pending_closes == 0 && !c->in_handler)
        conn_free(c);
}

static void conn_close(struct ird_http_conn *c)
{
    if (c->state == CONN_CLOSING)
        return;
    c->state = CONN_CLOSING;
    c->pending_closes = 2;
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
}

static void on_timeout(uv_timer_t *t)
{
    struct ird_http_conn *c = t->data;
    if (c->state == CONN_READING) {
        /* A slow client: answer 408 and close. */
        c->error_status = 408;
        c->error_detail = "the request was not received within the read timeout";
        c->state = CONN_HANDLING;
        c->in_handler = true;
        c->req.listener = c->server->name;
        if (!c->req.method)
            c->req.method = "";
        if (!c->req.path)
            refused_path(c);
        c->req.route = "unmatched";
        c->close_after = true;
        ird_http_respond_error(&c->req, 408, "request timeout", c->error_detail, NULL);
    } else {
        conn_close(c);
    }
}

static void timer_for_state(struct ird_http_conn *c)
{
    const struct ird_http_limits *lim = &c->server->limits;
    if (c->state == CONN_IDLE)
        uv_timer_start(&c->timer, on_timeout, lim->idle_timeout_ms, 0);
    else if (c->state == CONN_READING)
        uv_timer_start(&c->timer, on_timeout, lim->read_timeout_ms, 0);
    else if (c->state == CONN_LINGER)
        uv_timer_start(&c->timer, on_timeout, 1000, 0);
    else if (c->state == CONN_WRITING)
        uv_timer_start(&c->timer, on_timeout, lim->read_timeout_ms, 0);
    else
        uv_timer_stop(&c->timer);
}

/* The most a connection buffers ahead of what it has answered. */
static size_t input_cap(const struct ird_http_conn *c)
{
    const struct ird_http_limits *lim = &c->server->limits;
    return lim->header_bytes + lim->body_bytes + lim->url_bytes;
}

/* The path of a request refused before its headers were complete, for the
 * access log: the target up to '?' (a query string may carry a token). */
static void refused_path(struct ird_http_conn *c)
{
    size_t n = c->url.len;
    const char *q = c->url.data ? memchr(c->url.data, '?', n) : NULL;
    if (q)
        n = (size_t)(q - c->url.data);
    c->req.path = strndup(c->url.data ? c->url.data : "", n);
    c->req.query = "";
    ird_buf_reset(&c->url);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    static char slab[65536]; /* one loop thread: the bytes are copied out at once */
    buf->base = slab;
    buf->len = sizeof(slab);
}

static void start_reading(struct ird_http_conn *c);

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct ird_http_conn *c = stream->data;
    if (nread == UV_EOF && c->state != CONN_LINGER) {
        /* A half-close: the client sent all it will. What it sent is still
         * answered (a request in the handler, pipelined ones buffered); a
         * request cut short can never complete. */
        uv_read_stop(stream);
        c->reading = false;
        c->peer_closed = true;
        if (c->state == CONN_READING || (c->state == CONN_IDLE && c->in.len == c->in_off))
            conn_close(c);
        else
            conn_process(c);
        return;
    }
    if (nread < 0) {
        /* An error: a request being handled still gets its callback; the
         * connection is freed after the handler answers. */
        conn_close(c);
        return;
    }
    if (nread == 0)
        return;
    if (c->state == CONN_LINGER)
        return;          /* discard */
    if (c->in_off > 0) { /* drop what was parsed, once per read */
        ird_buf_consume(&c->in, c->in_off);
        c->in_off = 0;
    }
    if (ird_buf_append(&c->in, buf->base, (size_t)nread)) {
        conn_close(c);
        return;
    }
    /* Back-pressure: never buffer more than one request's worth ahead of
     * what has been answered, whatever the state. */
    if (c->in.len > input_cap(c)) {
        uv_read_stop(stream);
        c->reading = false;
    }
    conn_process(c);
}

static void start_reading(struct ird_http_conn *c)
{
    if (!c->reading && c->state != CONN_CLOSING) {
        if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
            c->reading = true;
    }
}

struct write_req {
    uv_write_t req;
    struct ird_http_conn *conn;
    bool ends_response; /* the connection moves on when this write completes */
    char *data;         /* owned */
};

static void on_shutdown(uv_shutdown_t *req, int status)
{
    (void)status;
    free(req);
}

static void after_response(struct ird_http_conn *c)
{
    if (c->state == CONN_CLOSING)
        return;
    if (c->peer_closed && !c->close_after && !c->server->shutting_down) {
        /* Answer the next buffered request, or close when there is none. */
        if (c->in.len == c->in_off) {
            conn_close(c);
            return;
        }
        c->state = CONN_IDLE;
        llhttp_resume(&c->parser);
        conn_process(c);
        return;
    }
    if (c->close_after || c->server->shutting_down) {
        if (c->error_status) {
            /* Lingering close: the client may still be sending the body we
             * refused; closing now would reset the connection and lose our
             * answer. Shut our side and discard input for a moment. */
            uv_shutdown_t *sd = malloc(sizeof(*sd));
            if (sd && uv_shutdown(sd, (uv_stream_t *)&c->tcp, on_shutdown) == 0) {
                c->state = CONN_LINGER;
                ird_buf_reset(&c->in);
                c->in_off = 0;
                start_reading(c);
                timer_for_state(c);
                return;
            }
            free(sd);
        }
        conn_close(c);
        return;
    }
    c->state = CONN_IDLE;
    llhttp_resume(&c->parser);
    timer_for_state(c);
    start_reading(c);
    conn_process(c); /* a pipelined request may already be buffered */
}

static void on_write(uv_write_t *req, int status)
{
    struct write_req *w = (struct write_req *)req;
    struct ird_http_conn *c = w->conn;
    bool ends = w->ends_response;
    free(w->data);
    free(w);
    if (status < 0) {
        conn_close(c);
        return;
    }
    if (ends && c->state == CONN_WRITING)
        after_response(c);
}

/* Write data (taken: freed once written) on c. */
static void write_owned(struct ird_http_conn *c, char *data, size_t len, bool ends_response)
{
    struct write_req *w = c->state == CONN_CLOSING ? NULL : malloc(sizeof(*w));
    if (!w) {
        free(data);
        if (c->state != CONN_CLOSING)
            conn_close(c);
        return;
    }
    w->conn = c;
    w->ends_response = ends_response;
    w->data = data;
    uv_buf_t b = uv_buf_init(data, (unsigned)len);
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write) < 0) {
        free(data);
        free(w);
        conn_close(c);
    }
}

static void write_raw(struct ird_http_conn *c, const char *data, size_t len)
{
    char *copy = malloc(len);
    if (!copy) {
        conn_close(c);
        return;
    }
    memcpy(copy, data, len);
    write_owned(c, copy, len, false);
}

/* The short "error" word of a request the server refuses by itself. */
static const char *refusal_error(int status)
{
    static const struct {
        int status;
        const char *error;
    } words[] = {
        {408, "request timeout"},    {413, "body too large"},    {414, "uri too long"},
        {417, "expectation failed"}, {431, "headers too large"}, {503, "service unavailable"},
    };
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (words[i].status == status)
            return words[i].error;
    return "bad request";
}

/* Parse what is buffered; dispatch at most one complete request. */
static void conn_process(struct ird_http_conn *c)
{
    if (c->state == CONN_HANDLING || c->state == CONN_WRITING || c->state == CONN_CLOSING ||
        c->state == CONN_LINGER || c->in.len == c->in_off)
        return;
    if (c->state == CONN_IDLE && c->server->shutting_down) {
        conn_close(c);
        return;
    }
    enum conn_state before = c->state;
    const char *from = c->in.data + c->in_off;
    llhttp_errno_t e = llhttp_execute(&c->parser, from, c->in.len - c->in_off);
    if (c->state == CONN_READING && before != CONN_READING)
        timer_for_state(c); /* a request began: the read timeout runs */
    if (e == HPE_OK) {
        ird_buf_reset(&c->in);
        c->in_off = 0;
        if (!c->peer_closed)
            start_reading(c);
        return;
    }
    if (c->state == CONN_CLOSING)
        return; /* a callback had to close it (out of memory) */
    if (e == HPE_PAUSED) {
        c->in_off += (size_t)(llhttp_get_error_pos(&c->parser) - from);
        c->close_after = !llhttp_should_keep_alive(&c->parser);
        c->state = CONN_HANDLING;
        c->in_handler = true;
        timer_for_state(c);
        c->req.listener = c->server->name;
        c->req.conn = c;
        c->server->dispatch(&c->req, c->server->data);
        return;
    }
    /* A refused or malformed request: answer it and close the connection. */
    int status = c->error_status ? c->error_status : 400;
    const char *detail = c->error_status ? c->error_detail : llhttp_get_error_reason(&c->parser);
    if (!c->error_status)
        c->error_status = 400;
    c->state = CONN_HANDLING;
    c->in_handler = true;
    c->close_after = true;
    c->req.listener = c->server->name;
    c->req.conn = c;
    if (!c->req.method)
        c->req.method = ""; /* refused before its headers were complete */
    if (!c->req.path)
        refused_path(c);
    c->req.route = "unmatched";
    ird_http_respond_error(&c->req, status, refusal_error(status),
                           detail ? detail : "malformed request", NULL);
}

/* ---- responses ----------------------------------------------------------- */

void ird_http_respond(struct ird_http_request *req, int status, const char *content_type,
                      const char *const *extra_headers, const char *body, size_t len)
{
    struct ird_http_conn *c = req->conn;
    struct ird_http_server *s = c->server;
    bool head = req->method && strcmp(req->method, "HEAD") == 0;
    if (s->shutting_down)
        c->close_after = true;
    struct ird_buf out = IRD_BUF_INIT;
    ird_buf_reserve(&out, 192 + len);
    ird_buf_printf(&out, "HTTP/1.1 %d %s\r\n", status, ird_http_status_text(status));
    if (content_type) {
        ird_buf_puts(&out, "Content-Type: ");
        ird_buf_puts(&out, content_type);
        ird_buf_puts(&out, "\r\n");
    }
    ird_buf_printf(&out, "Content-Length: %zu\r\n", len);
    if (c->close_after)
        ird_buf_puts(&out, "Connection: close\r\n");
    for (const char *const *h = extra_headers; h && *h; h++) {
        ird_buf_puts(&out, *h);
        ird_buf_puts(&out, "\r\n");
    }
    ird_buf_puts(&out, "\r\n");
    if (!head && len)
        ird_buf_append(&out, body, len);

    if (s->observe)
        s->observe(req, status, len, uv_hrtime() - req->start_ns, s->data);

    c->in_handler = false;
    if (c->state == CONN_CLOSING) {
        /* The client went away while we worked; the handles are closed or
         * closing, and the connection is freed once they are. */
        ird_buf_free(&out);
        request_clear(c);
        if (c->pending_closes == 0)
            conn_free(c);
        return;
    }
    c->state = CONN_WRITING;
    timer_for_state(c); /* a client that never reads must not hold on forever */
    request_clear(c);
    if (out.data) {
        size_t n = out.len;
        write_owned(c, ird_buf_steal(&out), n, true);
    } else {
        conn_close(c);
    }
}

void ird_http_respond_error(struct ird_http_request *req, int status, const char *error,
                            const char *detail, const char *const *extra_headers)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", error);
    cJSON_AddStringToObject(o, "detail", detail ? detail : "");
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!text) {
        ird_http_respond(req, status, NULL, extra_headers, NULL, 0);
        return;
    }
    size_t len = strlen(text);
    /* A trailing newline makes curl output readable; JSON parsers ignore it. */
    char *withnl = malloc(len + 2);
    if (withnl) {
        memcpy(withnl, text, len);
        withnl[len] = '\n';
        withnl[len + 1] = '\0';
        ird_http_respond(req, status, "application/json", extra_headers, withnl, len + 1);
        free(withnl);
    } else {
        ird_http_respond(req, status, "application/json", extra_headers, text, len);
    }
    cJSON_free(text);
}

/* ---- accepting ----------------------------------------------------------- */

static void refuse_overload(struct ird_http_server *s, uv_stream_t *listener)
{
    /* Accept so the client learns why, then close: 503 with Retry-After. */
    static const char body[] =
        "{\"error\":\"service unavailable\",\"detail\":\"too many open connections\"}\n";
    static char msg[256];
    static int msglen;
    if (!msglen)
        msglen = snprintf(msg, sizeof(msg),
                          "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                          "Retry-After: 1\r\nConnection: close\r\nContent-Length: %zu\r\n\r\n%s",
                          sizeof(body) - 1, body);
    uv_tcp_t *t = malloc(sizeof(*t));
    if (!t)
        return;
    uv_tcp_init(s->loop, t);
    if (uv_accept(listener, (uv_stream_t *)t) == 0) {
        uv_buf_t b = uv_buf_init(msg, (unsigned)msglen);
        uv_try_write((uv_stream_t *)t, &b, 1);
    }
    uv_close((uv_handle_t *)t, (uv_close_cb)free);
}

static void on_connection(uv_stream_t *listener, int status)
{
    struct ird_http_server *s = listener->data;
    if (status < 0 || s->shutting_down)
        return;
    if (s->nconns >= s->limits.max_connections) {
        refuse_overload(s, listener);
        return;
    }
    struct ird_http_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return;
    c->server = s;
    uv_tcp_init(s->loop, &c->tcp);
    uv_timer_init(s->loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    c->req.query = "";
    c->req.conn = c;
    llhttp_init(&c->parser, HTTP_REQUEST, &parser_settings);
    c->parser.data = c;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    c->state = CONN_IDLE;
    timer_for_state(c);
    start_reading(c);
}

struct ird_http_server *ird_http_server_new(uv_loop_t *loop, const char *name,
                                            const struct ird_http_limits *limits,
                                            ird_http_dispatch_cb dispatch,
                                            ird_http_observe_cb observe, void *data)
{
    init_settings();
    struct ird_http_server *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->name = strdup(name);
    if (!s->name) {
        free(s);
        return NULL;
    }
    s->loop = loop;
    s->limits = *limits;
    s->dispatch = dispatch;
    s->observe = observe;
    s->data = data;
    s->listener_closed = true;
    return s;
}

/* Split "host:port" or "[v6]:port". */
static int split_hostport(const char *hp, char *host, size_t hostlen, int *port)
{
    const char *colon;
    if (hp[0] == '[') {
        const char *end = strchr(hp, ']');
        if (!end || end[1] != ':')
            return -EINVAL;
        size_t n = (size_t)(end - hp - 1);
        if (n >= hostlen)
            return -EINVAL;
        memcpy(host, hp + 1, n);
        host[n] = '\0';
        colon = end + 1;
    } else {
        colon = strrchr(hp, ':');
        if (!colon || strchr(hp, ':') != colon)
            return -EINVAL;
        size_t n = (size_t)(colon - hp);
        if (n == 0 || n >= hostlen)
            return -EINVAL;
        memcpy(host, hp, n);
        host[n] = '\0';
    }
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || end == colon + 1 || p < 0 || p > 65535)
        return -EINVAL;
    *port = (int)p;
    return 0;
}

int ird_http_parse_hostport(const char *hp, struct sockaddr_storage *ret)
{
    char host[64];
    int port;
    if (split_hostport(hp, host, sizeof(host), &port))
        return -EINVAL;
    memset(ret, 0, sizeof(*ret));
    if (strcmp(host, "localhost") == 0)
        return uv_ip4_addr("127.0.0.1", port, (struct sockaddr_in *)ret);
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)ret) == 0)
        return 0;
    if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)ret) == 0)
        return 0;
    return -EINVAL;
}

int ird_http_server_listen(struct ird_http_server *s, const char *hostport, struct ird_err *err)
{
    struct sockaddr_storage addr;
    if (ird_http_parse_hostport(hostport, &addr))
        return ird_err_set(err, -EINVAL, "listen.%s: \"%s\" is not host:port (IPv6 as [::1]:8080)",
                           s->name, hostport);
    int rc = uv_tcp_init(s->loop, &s->listener);
    if (rc)
        return ird_err_set(err, rc, "listen.%s: %s", s->name, uv_strerror(rc));
    s->listener.data = s;
    s->listener_closed = false;
    s->listener_inited = true;
    rc = uv_tcp_bind(&s->listener, (const struct sockaddr *)&addr, 0);
    if (!rc)
        rc = uv_listen((uv_stream_t *)&s->listener, 511, on_connection);
    if (rc) {
        ird_err_set(err, rc, "listen.%s: cannot listen on %s: %s", s->name, hostport,
                    uv_strerror(rc));
        return rc;
    }
    s->listening = true;
    struct sockaddr_storage bound;
    int blen = sizeof(bound);
    uv_tcp_getsockname(&s->listener, (struct sockaddr *)&bound, &blen);
    char ip[64] = "";
    if (bound.ss_family == AF_INET6) {
        uv_ip6_name((struct sockaddr_in6 *)&bound, ip, sizeof(ip));
        snprintf(s->address, sizeof(s->address), "[%s]:%d", ip,
                 ntohs(((struct sockaddr_in6 *)&bound)->sin6_port));
    } else {
        uv_ip4_name((struct sockaddr_in *)&bound, ip, sizeof(ip));
        snprintf(s->address, sizeof(s->address), "%s:%d", ip,
                 ntohs(((struct sockaddr_in *)&bound)->sin_port));
    }
    return 0;
}

const char *ird_http_server_address(const struct ird_http_server *s)
{
    return s->address;
}

void ird_http_server_set_limits(struct ird_http_server *s, const struct ird_http_limits *limits)
{
    s->limits = *limits;
}

unsigned ird_http_server_connections(const struct ird_http_server *s)
{
    return s->nconns;
}

static void on_listener_closed(uv_handle_t *h)
{
    struct ird_http_server *s = h->data;
    s->listener_closed = true;
    if (s->nconns == 0 && s->close_cb) {
        void (*cb)(void *) = s->close_cb;
        s->close_cb = NULL;
        cb(s->close_data);
    }
}

void ird_http_server_shutdown(struct ird_http_server *s, void (*close_cb)(void *), void *data)
{
    s->shutting_down = true;
    s->close_cb = close_cb;
    s->close_data = data;
    struct ird_http_conn *next;
    for (struct ird_http_conn *c = s->conns; c; c = next) {
        next = c->next;
        /* Idle keep-alives end now; a request already begun is read (within
         * the read timeout), handled and answered with Connection: close. */
        if (c->state == CONN_IDLE || c->state == CONN_LINGER)
            conn_close(c);
    }
    if (s->listener_inited && !uv_is_closing((uv_handle_t *)&s->listener)) {
        s->listening = false;
        uv_close((uv_handle_t *)&s->listener, on_listener_closed);
    } else if (s->nconns == 0 && s->close_cb) {
        s->close_cb = NULL;
        close_cb(data);
    }
}

void ird_http_server_force_close(struct ird_http_server *s)
{
    struct ird_http_conn *next;
    for (struct ird_http_conn *c = s->conns; c; c = next) {
        next = c->next;
        conn_close(c);
    }
}

void ird_http_server_free(struct ird_http_server *s)
{
    if (!s)
        return;
    free(s->name);
    free(s);
}
