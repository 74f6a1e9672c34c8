/* Route matching over a static table. */
#include "net/router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Match path against pattern; on success store copies of the parameters. */
static int match_path(const char *pattern, const char *path, struct ird_http_request *req,
                      int store)
{
    const char *p = pattern, *s = path;
    size_t np = 0;
    while (*p && *s) {
        if (*p != '/' || *s != '/')
            return 0;
        p++;
        s++;
        const char *pend = strchr(p, '/');
        const char *send = strchr(s, '/');
        size_t plen = pend ? (size_t)(pend - p) : strlen(p);
        size_t slen = send ? (size_t)(send - s) : strlen(s);
        if (*p == ':') {
            if (slen == 0 || np >= IRD_HTTP_MAX_PARAMS)
                return 0;
            if (store) {
                req->params[np] = strndup(s, slen);
                if (!req->params[np])
                    return 0;
            }
            np++;
        } else if (plen != slen || memcmp(p, s, plen) != 0) {
            return 0;
        }
        p += plen;
        s += slen;
    }
    if (*p || *s)
        return 0;
    if (store)
        req->nparams = np;
    return 1;
}

const struct ird_route *ird_router_match(const struct ird_route *routes, size_t n,
                                         unsigned listener, struct ird_http_request *req,
                                         int *ret_status, char *allow, size_t allowlen)
{
    size_t used = 0;
    if (allowlen)
        allow[0] = '\0';
    int path_known = 0;
    /* HEAD is served by the GET route. */
    const char *method = strcmp(req->method, "HEAD") == 0 ? "GET" : req->method;
    for (size_t i = 0; i < n; i++) {
        const struct ird_route *r = &routes[i];
        if (!(r->listeners & listener) || !match_path(r->pattern, req->path, req, 0))
            continue;
        if (strcmp(r->method, method) == 0) {
            if (!match_path(r->pattern, req->path, req, 1)) {
                *ret_status = 503;
                return NULL;
            }
            req->route = r->name;
            return r;
        }
        path_known = 1;
        if (!strstr(allow, r->method)) {
            int w = snprintf(allow + used, allowlen - used, "%s%s", used ? ", " : "", r->method);
            if (w > 0 && (size_t)w < allowlen - used)
                used += (size_t)w;
        }
    }
    req->route = "unmatched";
    *ret_status = path_known ? 405 : 404;
    return NULL;
}
