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

/* JSON string escaping; also used for logfmt values that need quoting. */
static void put_escaped(struct ird_buf *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            ird_buf_puts(b, "\\\"");
            break;
        case '\\':
            ird_buf_puts(b, "\\\\");
            break;
        case '\n':
            ird_buf_puts(b, "\\n");
            break;
        case '\r':
            ird_buf_puts(b, "\\r");
            break;
        case '\t':
            ird_buf_puts(b, "\\t");
            break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                ird_buf_printf(b, "\\u%04x", *p);
            else
                ird_buf_append(b, p, 1);
        }
    }
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

static void put_value(struct ird_buf *b, const struct ird_log_field *f)
{
    switch (f->kind) {
    case IRD_LOG_FIELD_INT:
        ird_buf_printf(b, "%lld", (long long)f->i);
        return;
    case IRD_LOG_FIELD_DBL:
        ird_buf_printf(b, "%.6g", f->d);
        return;
    case IRD_LOG_FIELD_STR: {
        const char *s = f->s ? f->s : "";
        if (log_format == IRD_LOG_JSON || needs_quotes(s)) {
            ird_buf_puts(b, "\"");
            put_escaped(b, s);
            ird_buf_puts(b, "\"");
        } else {
            ird_buf_puts(b, s);
        }
        return;
    }
    }
}

void ird_log_fields(enum ird_log_level level, const char *msg, const struct ird_log_field *fields,
                    size_t n)
{
    if (level < min_level)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[64];
    snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);

    struct ird_buf b = IRD_BUF_INIT;
    struct ird_log_field m = IRD_LS("msg", msg);
    if (log_format == IRD_LOG_JSON) {
        ird_buf_printf(&b, "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":", when, level_names[level]);
        put_value(&b, &m);
        for (size_t i = 0; i < n; i++) {
            ird_buf_puts(&b, ",\"");
            put_escaped(&b, fields[i].key);
            ird_buf_puts(&b, "\":");
            put_value(&b, &fields[i]);
        }
        ird_buf_puts(&b, "}\n");
    } else {
        ird_buf_printf(&b, "time=%s level=%s msg=", when, level_names[level]);
        put_value(&b, &m);
        for (size_t i = 0; i < n; i++) {
            ird_buf_printf(&b, " %s=", fields[i].key);
            put_value(&b, &fields[i]);
        }
        ird_buf_puts(&b, "\n");
    }
    if (b.data) {
        /* One write(2) per line keeps lines whole when stderr is shared. */
        ssize_t off = 0;
        while ((size_t)off < b.len) {
            ssize_t w = write(STDERR_FILENO, b.data + off, b.len - (size_t)off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                break;
            off += w;
        }
    }
    ird_buf_free(&b);
}
