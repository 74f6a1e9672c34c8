/* intake/auth: who may post to a source. Built from the source's `auth`
 * setting; checks one request's headers, query and raw body. Pure apart from
 * reading *_file secrets (and the environment) once, when built.
 *
 * Config (in a source group):
 *   auth = "none";                     accept unauthenticated alerts (must be said)
 *   auth = { type = "bearer"; tokens = [ "t1", "t2" ]; };   Authorization: Bearer <t>
 *   auth = { type = "query-token"; param = "token"; tokens = [ ... ]; };
 *                                      ?token=<t> for senders that cannot set headers
 *   auth = { type = "basic"; username = "am"; password = "..."; };
 *   auth = { type = "basic"; users = ( { username = "a"; password_file = "/run/pw"; }, ... ); };
 *   auth = { type = "hmac"; secret = "..."; header = "X-Hub-Signature-256"; prefix = "sha256="; };
 *                                      hex HMAC-SHA256 of the raw body (GitHub style)
 *   auth = { type = "standard-webhooks"; secret = "whsec_<base64>"; tolerance = "5m";
 *            replay_cache = 4096; };   webhook-id/-timestamp/-signature, v1 signatures
 *
 * Secrets: every secret key takes exactly one form: inline (a string or a list
 * of strings: tokens, token, secret, secrets, password), <key>_file (one secret
 * a line; blank lines and lines starting with '#' ignored; surrounding
 * whitespace trimmed) or <key>_env (an environment variable, read the same way
 * as a file). Several values are accepted at once, for rotation. Tokens and
 * passwords are kept only as SHA-256 digests; HMAC keys are wiped on free.
 * No message ever contains a secret.
 *
 * 401 vs 403: a request is FORBIDDEN when its credential is not accepted by
 * this source but is accepted by another one the caller introduced with
 * ird_auth_add_foreign() (a sender using the right token on the wrong source);
 * otherwise a failed check is UNAUTHORIZED. This applies to bearer,
 * query-token (one family) and basic (another); signatures are always 401. */
#ifndef IRD_INTAKE_AUTH_H
#define IRD_INTAKE_AUTH_H

#include <libconfig.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "net/http_types.h"

struct ird_auth;

enum ird_auth_result {
    IRD_AUTH_OK,
    IRD_AUTH_UNAUTHORIZED, /* 401 */
    IRD_AUTH_FORBIDDEN,    /* 403 */
};

/* Build from the `auth` member of a source group (source is the group, so a
 * missing auth can be reported with its place). Returns 0 and *ret (free with
 * ird_auth_free); -EINVAL with err naming file:line and the key, e.g.
 * "etc/ird.conf:9: sources.falco.auth: give one of tokens, tokens_file, tokens_env",
 * "etc/ird.conf:3: sources.lab: auth is required; write auth = \"none\" to accept
 * unauthenticated alerts" ("line N: ..." for a config read from a string);
 * -ENOMEM. */
int ird_auth_new(const config_setting_t *source, struct ird_auth **ret, struct ird_err *err);

/* NULL is a no-op. */
void ird_auth_free(struct ird_auth *a);

/* Remember the credentials other accepts (as digests) so that presenting one
 * of them to a is answered 403 rather than 401. other may be freed afterwards;
 * a == other and unrelated schemes are ignored. Returns 0 or -ENOMEM. */
int ird_auth_add_foreign(struct ird_auth *a, const struct ird_auth *other);

/* Check one request. headers/n as received; query is the raw query string
 * without '?', or NULL; body is the raw body. now_ms is the clock for the
 * Standard Webhooks window; an accepted webhook-id is remembered (bounded by
 * replay_cache, entries dropped after twice the tolerance) and refused with 401
 * when seen again. *ret_scheme (may be NULL) gets the scheme name ("none",
 * "bearer", "basic", "hmac", "standard-webhooks", "query-token"), static. */
enum ird_auth_result ird_auth_check(struct ird_auth *a, const struct ird_http_header *headers,
                                    size_t n, const char *query, const char *body, size_t len,
                                    int64_t now_ms, const char **ret_scheme);

/* Why the last check failed, for the caller's log ("no Authorization header",
 * "signature does not match", "timestamp outside the tolerance window",
 * "replayed webhook-id", ...); static text without secrets. "" after success. */
const char *ird_auth_reason(const struct ird_auth *a);

/* Carry the webhook-ids from seen (replay protection) into to, when both
 * are Standard Webhooks: a reload must not reopen the replay window. */
void ird_auth_inherit(struct ird_auth *to, const struct ird_auth *from);

/* Standard Webhooks: forget the webhook-id of this request, for a request
 * that passed the check but was then not stored (503, 400): the sender will
 * retry with the same id and must not be refused as a replay. */
void ird_auth_forget(struct ird_auth *a, const struct ird_http_header *headers, size_t n);

#endif
