/* The playbook matcher: a playbook's `match` group, parsed once when the
 * playbook loads, decides which normalized alerts start it. Pure: no I/O, no
 * logging.
 *
 * Keys (every key present must match: AND; unknown keys are errors):
 *   source    = "falco";  or  [ "falco", "alertmanager" ];    the alert's source name
 *   labels    = { alertname = "CryptoMiningDetected"; team = "~sec|secops"; };
 *               or, for keys libconfig cannot spell (dots, slashes):
 *               ( ( "app.kubernetes.io/name", "nginx" ), ( "team", "~sec.*" ) );
 *               an absent label never matches
 *   rule      = "Detect crypto miners using the Stratum protocol";  (or a list)
 *   title     = "~.*[Mm]iner.*";                                    (or a list)
 *               rule and title both test the alert's title (Falco's rule name becomes
 *               the title); a list matches when any element does
 *   severity  = "critical" (exact) or a comparison "<op> <severity>" with op one of
 *               >= > <= < == !=, ordered info < warning < error < critical
 *   status    = "firing" | "resolved" | "any"; only at the top level; default firing
 *   namespace = "prod-*";  or  [ "prod-*", "payments" ];
 *               or { include = [ "prod-*" ]; exclude = [ "prod-canary" ]; };
 *               shell globs (fnmatch); exclude wins; include absent means all
 *   any = ( { ... }, { ... } );   at least one group matches
 *   all = ( { ... }, { ... } );   every group matches
 *               the groups take the same keys (but status), nesting freely
 * Values of labels, rule and title: plain text matches exactly; a value that
 * starts with '~' is a POSIX extended regex on the rest, anchored at both ends
 * ("~sec.*" matches "secops", not "it-sec"). For a literal value that starts
 * with '~' write "~~..." ('~' is not special in a regex).
 * An empty (or absent) match group matches every firing alert.
 *
 * Alerts are cJSON objects with string members source, status, severity,
 * title, namespace and an object of strings labels; missing members read as "". */
#ifndef IRD_ENGINE_MATCH_H
#define IRD_ENGINE_MATCH_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>
#include <libconfig.h>

#include "core/err.h"

struct ird_match;

/* Parse the match group setting (NULL means absent: match every firing
 * alert). On success *ret owns a new matcher (free with ird_match_free()) and
 * 0 is returned; the setting may be destroyed afterwards. On failure -EINVAL
 * (or -ENOMEM) with err naming file, line and key, e.g.
 *   playbooks/x.conf:4: match.severity: ">= warnin" is not a severity (critical,
 *   error, warning, info)
 * ("line 4: ..." when the config was read from a string); *ret is untouched. */
int ird_match_parse(const config_setting_t *setting, struct ird_match **ret, struct ird_err *err);

/* No-op on NULL. */
void ird_match_free(struct ird_match *m);

/* Whether the alert matches. */
bool ird_match_alert(const struct ird_match *m, const cJSON *alert);

/* Like ird_match_alert(), and writes into buf (size len, always NUL-terminated
 * when len > 0, truncated if needed) "matched", or why not: the first clause
 * that failed, with the alert's values safely quoted, e.g.
 *   severity "info" is not >= warning
 *   none of any matched: any[0]: title "x" does not match rule "Detect..."; any[1]: ... */
bool ird_match_explain(const struct ird_match *m, const cJSON *alert, char *buf, size_t len);

#endif
