/* Routing table: (method, path pattern) -> handler. Patterns are literal
 * segments and ":name" parameters ("/v1/alerts/:source"). A path that matches
 * a pattern under another method gives 405 with Allow; no match gives 404. */
#ifndef IRD_NET_ROUTER_H
#define IRD_NET_ROUTER_H

#include <stddef.h>

#include "net/http_server.h"

enum ird_listener_mask { IRD_ON_WEBHOOKS = 1, IRD_ON_API = 2, IRD_ON_BOTH = 3 };

typedef void (*ird_route_handler)(struct ird_http_request *req, void *data);

struct ird_route {
    const char *method;
    const char *pattern;
    const char *name; /* for metrics: a fixed label, never the raw path */
    unsigned listeners;
    ird_route_handler handler;
};

/* Find the route for req on a listener; fills req->route and req->params.
 * Returns the route, or NULL with *ret_status 404 or 405 and, for 405, the
 * allowed methods in allow ("GET, POST"). */
const struct ird_route *ird_router_match(const struct ird_route *routes, size_t n,
                                         unsigned listener, struct ird_http_request *req,
                                         int *ret_status, char *allow, size_t allowlen);

#endif
