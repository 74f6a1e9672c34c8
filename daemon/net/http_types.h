/* Plain HTTP data shared by the server, the client and pure modules that only
 * read requests (decoders, authentication). No I/O here. */
#ifndef IRD_NET_HTTP_TYPES_H
#define IRD_NET_HTTP_TYPES_H

#include <stddef.h>

/* One header as received: name as sent (compare case-insensitively), value
 * with surrounding whitespace trimmed. Both NUL-terminated. */
struct ird_http_header {
    char *name;
    char *value;
};

/* First header called name (case-insensitive), or NULL. */
const char *ird_http_header_get(const struct ird_http_header *headers, size_t n, const char *name);

/* Value of query parameter name in a raw query string ("a=1&b=x%20y", no '?'),
 * percent-decoded into out (size outlen). Returns the decoded length, -ENOENT
 * when absent, -ENOSPC when it does not fit, -EINVAL for bad %-escapes. */
int ird_http_query_get(const char *query, const char *name, char *out, size_t outlen);

#endif
