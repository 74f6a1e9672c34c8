/* The operator API on the api listener: bearer tokens with roles
 * (viewer < responder < admin) from `api.tokens`, and the /v1 endpoints for
 * incidents. Tokens are kept only as SHA-256 digests and compared in constant
 * time. To add an endpoint, add a row to the route table in api.c. */
#ifndef IRD_API_API_H
#define IRD_API_API_H

#include <stddef.h>

#include "config/config.h"
#include "net/router.h"

struct ird_daemon;
struct ird_api;

enum ird_role { IRD_ROLE_NONE = 0, IRD_ROLE_VIEWER, IRD_ROLE_RESPONDER, IRD_ROLE_ADMIN };

struct ird_api *ird_api_new(struct ird_daemon *d);
void ird_api_free(struct ird_api *a);
/* Validate api.* of a config into diags (for `ird check` and reloads). */
void ird_api_check(const struct ird_config *c, struct ird_diags *diags);
/* Take the tokens of c; on error keeps the previous ones. */
int ird_api_configure(struct ird_api *a, const struct ird_config *c, struct ird_err *err);
/* The api routes; handlers take the struct ird_api as data. */
const struct ird_route *ird_api_routes(size_t *ret_n);
/* The role of a bearer token ("Authorization: Bearer x"), IRD_ROLE_NONE if unknown. */
enum ird_role ird_api_role(const struct ird_api *a, const char *authorization,
                           const char **ret_name);

struct ird_http_request;
struct ird_store;
/* GET /v1/audit (daemon/api/audit_api.c): answers req; the caller authorized it. */
void ird_api_handle_audit(struct ird_http_request *req, struct ird_store *store);

#endif
