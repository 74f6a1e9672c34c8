/* Structured log writer: JSON lines or logfmt on stderr, one write per line. */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"

static enum ird_log_level min_level = IRD_LOG_INFO;
static enum ird_log_format log_format = IRD_LOG_TEXT;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void ird_log_setup(enum ird_log_level level, enum ird_log_format format)
{
    min_level = level;
    log_format = format;
}

int ird_log_enabled(enum ird_log_level level)
{
    return level >= min_level;
}

int ird_log_level_parse(const char *s, enum ird_log_level *ret)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *ret = (enum ird_log_level)i;
            return 0;
        }
    }
    return -EINVAL;
}

int ird_log_format_parse(const char *s, enum ird_log_format *ret)
{
    if (strcmp(s, "json") == 0)
        *ret = IRD_LOG_JSON;
    else if (strcmp(s, "text") == 0)
        *ret = IRD_LOG_TEXT;
    else
        return -EINVAL;
    return 0;
}

/* JSON string escaping; also used for logfmt values that need quoting.
 * Runs of plain bytes are appended in one piece. */
static void put_escaped(struct ird_buf *b, const char *s)
{
    const unsigned char *p = (const unsigned char *)s, *run = p;
    for (; *p; p++) {
        unsigned char c = *p;
        if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f)
            continue;
        ird_buf_append(b, run, (size_t)(p - run));
        run = p + 1;
        switch (c) {
        case '"':
            ird_buf_append(b, "\\\"", 2);
            break;
        case '\\':
            ird_buf_append(b, "\\\\", 2);
            break;
        case '\n':
            ird_buf_append(b, "\\n", 2);
            break;
        case '\r':
            ird_buf_append(b, "\\r", 2);
            break;
        case '\t':
            ird_buf_append(b, "\\t", 2);
            break;
        default: {
            static const char hex[] = "0123456789abcdef";
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            ird_buf_append(b, u, sizeof(u));
        }
        }
    }
    ird_buf_append(b, run, (size_t)(p - run));
}

static int needs_quotes(const char *s)
{
    if (!*s)
        return 1;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p == 0x7f)
            return 1;
    return 0;
}

/* Decimal digits without printf: one log line per request makes this hot. */
static void put_int(struct ird_buf *b, int64_t v)
{
    char tmp[24];
    size_t i = sizeof(tmp);
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        tmp[--i] = '-';
    ird_buf_append(b, tmp + i, sizeof(tmp) - i);
}

static void put_value(struct ird_buf *b, const struct ird_log_field *f)
{
    switch (f->kind) {
    case IRD_LOG_FIELD_INT:
        put_int(b, f->i);
        return;
    case IRD_LOG_FIELD_DBL:
        ird_buf_printf(b, "%.6g", f->d);
        return;
    case IRD_LOG_FIELD_STR: {
        const char *s = f->s ? f->s : "";
        if (log_format == IRD_LOG_JSON || needs_quotes(s)) {
            ird_buf_append(b, "\"", 1);
            put_escaped(b, s);
            ird_buf_append(b, "\"", 1);
        } else {
            ird_buf_puts(b, s);
        }
        return;
    }
    }
}

/* "2026-12-01T07:35:53.123Z": the part up to the seconds changes once a
 * second, so it is formatted once a second. */
static void put_time(struct ird_buf *b)
{
    static time_t cached_sec = -1;
    static char cached[64];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != cached_sec) {
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        snprintf(cached, sizeof(cached), "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        cached_sec = ts.tv_sec;
    }
    int ms = (int)(ts.tv_nsec / 1000000);
    char frac[6] = {'.', (char)('0' + ms / 100), (char)('0' + ms / 10 % 10), (char)('0' + ms % 10),
                    'Z'};
    ird_buf_puts(b, cached);
    ird_buf_append(b, frac, 5);
}

void ird_log_fields(enum ird_log_level level, const char *msg, const struct ird_log_field *fields,
                    size_t n)
{
    if (level < min_level)
        return;
    /* Logging happens on the loop thread only: one buffer, reused. */
    static struct ird_buf b;
    ird_buf_reset(&b);
    struct ird_log_field m = IRD_LS("msg", msg);
    if (log_format == IRD_LOG_JSON) {
        ird_buf_puts(&b, "{\"time\":\"");
        put_time(&b);
        ird_buf_puts(&b, "\",\"level\":\"");
        ird_buf_puts(&b, level_names[level]);
        ird_buf_puts(&b, "\",\"msg\":");
        put_value(&b, &m);
        for (size_t i = 0; i < n; i++) {
            ird_buf_puts(&b, ",\"");
            put_escaped(&b, fields[i].key);
            ird_buf_puts(&b, "\":");
            put_value(&b, &fields[i]);
        }
        ird_buf_puts(&b, "}\n");
    } else {
        ird_buf_puts(&b, "time=");
        put_time(&b);
        ird_buf_puts(&b, " level=");
        ird_buf_puts(&b, level_names[level]);
        ird_buf_puts(&b, " msg=");
        put_value(&b, &m);
        for (size_t i = 0; i < n; i++) {
            ird_buf_puts(&b, " ");
            ird_buf_puts(&b, fields[i].key);
            ird_buf_puts(&b, "=");
            put_value(&b, &fields[i]);
        }
        ird_buf_puts(&b, "\n");
    }
    if (b.data) {
        /* One write(2) per line keeps lines whole when stderr is shared. */
        size_t off = 0;
        while (off < b.len) {
            ssize_t w = write(STDERR_FILENO, b.data + off, b.len - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                break;
            off += (size_t)w;
        }
    }
    /* Do not let one huge line keep a huge buffer. */
    if (b.cap > 65536)
        ird_buf_free(&b);
}
