/* Header and query-string lookups. */
#include "net/http_types.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#include "core/text.h"

const char *ird_http_header_get(const struct ird_http_header *headers, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(headers[i].name, name) == 0)
            return headers[i].value;
    return NULL;
}

/* Percent-decode [s, s+len) into out; '+' is a space (form encoding). */
static int decode_component(const char *s, size_t len, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= len)
                return -EINVAL;
            int hi = ird_hex_value(s[i + 1]), lo = ird_hex_value(s[i + 2]);
            if (hi < 0 || lo < 0)
                return -EINVAL;
            c = (char)(hi * 16 + lo);
            i += 2;
        } else if (c == '+') {
            c = ' ';
        }
        if (o + 1 >= outlen)
            return -ENOSPC;
        out[o++] = c;
    }
    out[o] = '\0';
    return (int)o;
}

int ird_http_query_get(const char *query, const char *name, char *out, size_t outlen)
{
    if (!query || outlen == 0)
        return -ENOENT;
    size_t nlen = strlen(name);
    const char *p = query;
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t seglen = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', seglen);
        size_t keylen = eq ? (size_t)(eq - p) : seglen;
        if (keylen == nlen && memcmp(p, name, nlen) == 0) {
            const char *v = eq ? eq + 1 : p + seglen;
            size_t vlen = eq ? seglen - keylen - 1 : 0;
            return decode_component(v, vlen, out, outlen);
        }
        if (!amp)
            break;
        p = amp + 1;
    }
    return -ENOENT;
}
