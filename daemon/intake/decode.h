/* intake/decode: one decoder per configured source, turning a request body in
 * that source's wire format into normalized alerts. Pure: no I/O, no logging.
 *
 * Glossary
 *   decoder     built once from a source's libconfig group; immutable after.
 *   alert       a cJSON object with exactly these keys, all present:
 *                 source, id, status, severity, title, namespace, pod,
 *                 container, node  (strings, "" when unknown; id never "")
 *                 labels, annotations  (objects of strings)
 *                 starts_at, ends_at   (RFC 3339 UTC with milliseconds, as
 *                                       ird_clock_format writes it, or "")
 *                 raw                  (deep copy of the JSON element the
 *                                       alert came from)
 *   path        a way into a JSON document, used in `map` and in messages:
 *               segments joined by '.', "alerts.0.name"; a segment of digits
 *               indexes an array; "[...]" names one key literally, dots and
 *               all: "output_fields[k8s.ns.name]". Plain dotted segments also
 *               match keys that contain dots ("kibana.alert.uuid" finds
 *               {"kibana":{"alert":{"uuid":..}}}, {"kibana.alert.uuid":..} and
 *               {"kibana.alert":{"uuid":..}}; the most nested match wins).
 *
 * Normalization rules shared by every type
 *   status    "firing" unless the format says resolved. A status value of
 *             resolved, ok, closed, recovered, inactive, cleared or normal
 *             (any case) means "resolved"; anything else "firing".
 *   severity  the sender's value goes through the source's `severity_map`
 *             first (exact key, any case), then the type's own table, then the
 *             synonym table below (any case); anything unknown or missing
 *             becomes `defaults.severity` (default "warning").
 *               critical: critical crit page emergency emerg alert fatal
 *                         disaster p1 sev0
 *               error:    error err high major p2 sev1
 *               warning:  warning warn medium minor p3 sev2
 *               info:     info informational information notice low debug
 *                         none ok p4 p5 sev3 sev4
 *   times     starts_at/ends_at are parsed as RFC 3339 (offsets "+0000" too)
 *             and re-rendered in UTC; an unparsable time, or one before 1970
 *             (Alertmanager's "0001-01-01T00:00:00Z"), becomes "". raw keeps
 *             the original text.
 *   values    a number becomes its decimal text, true/false their names, null
 *             is "unknown" (""); an object or array where a string is expected
 *             is a 400 naming the path.
 *   id        when the sender gives no id: the hex SHA-256 of the source
 *             name, title, namespace, pod, container and node, then every
 *             label as key and value in key order, each of these followed
 *             by one NUL byte. Status, severity, times and annotations are
 *             left out, so the resolution of an alert gets the id its firing
 *             had.
 *   sizes     a value longer than its cap is a 400 ("alerts[0].annotations.
 *             summary: longer than 1024 bytes") rather than cut, because a
 *             truncated pod or namespace would point automation at another
 *             object: id 512, title 1024, namespace/pod/container/node 253,
 *             label keys 256, label values 1024, annotation values 16384,
 *             128 labels and 128 annotations per alert.
 *   content   accepted content types (parameters such as charset ignored):
 *             none at all, application/json, text/json, text/plain (senders
 *             that mislabel JSON), and any application/...+json (so
 *             application/cloudevents+json too). Anything else is -ENOTSUP.
 *
 * Types (the `type` key of the source group)
 *   alertmanager  webhook version "4" (a missing version is accepted, any
 *                 other value is a 400). One alert per alerts[] element;
 *                 truncatedAlerts is returned. id = fingerprint (else the
 *                 hash); status = the alert's status ("firing"/"resolved",
 *                 required); severity = labels.severity; title =
 *                 annotations.summary || labels.alertname; namespace, pod,
 *                 container, node = the labels of those names; labels and
 *                 annotations as sent; starts_at = startsAt, ends_at = endsAt.
 *   falco         Falco's http_output body, or falcosidekick's (it adds uuid).
 *                 id = uuid || the hash (so repeats of a rule on one pod group
 *                 into one incident); priority Emergency/Alert/Critical ->
 *                 critical, Error -> error, Warning -> warning,
 *                 Notice/Informational/Debug -> info; title = rule (required);
 *                 namespace/pod/container = output_fields k8s.ns.name,
 *                 k8s.pod.name, container.name; node = hostname; starts_at =
 *                 time. labels: rule, priority, source (Falco's event source)
 *                 and tags (the tags joined with ","); annotations: output.
 *   splunk        the webhook alert action body. id = sid || the hash; title =
 *                 search_name || result.<title field>; severity, namespace,
 *                 pod, container, node, title come from the fields of
 *                 `result` named by the optional group
 *                 fields = { severity = "urgency"; namespace = "k8s_namespace"; ... };
 *                 (default field names: severity, namespace, pod, container,
 *                 node, title)
 *                 (a list value uses its first element). labels: every string
 *                 or number field of result except Splunk's own "_" fields,
 *                 skipping any beyond the size caps (raw keeps them all);
 *                 annotations: app, owner, sid,
 *                 results_link.
 *   elastic       the body rendered by IRD_ELASTIC_TEMPLATE below (also in
 *                 tests/fixtures/intake/elastic-kibana-template.mustache).
 *                 One alert per non-empty alerts[] element ({} ends the list
 *                 so the template needs no comma logic). Each element may be
 *                 flattened ("kibana.alert.uuid": ..) or nested. id =
 *                 kibana.alert.uuid; title = kibana.alert.rule.name ||
 *                 rule.name; severity = kibana.alert.severity ||
 *                 kibana.alert.rule.severity || rule.severity with low/medium/
 *                 high/critical -> info/warning/error/critical; status
 *                 resolved when kibana.alert.status is "recovered"; namespace
 *                 = kubernetes.namespace || orchestrator.namespace; pod =
 *                 kubernetes.pod.name || orchestrator.resource.name; container
 *                 = kubernetes.container.name; node = kubernetes.node.name ||
 *                 host.name; starts_at = kibana.alert.start || @timestamp.
 *                 labels: rule (the rule name), rule_id; annotations: reason
 *                 (kibana.alert.reason), results_link, rule_url.
 *   wazuh         one raw Wazuh JSON alert. id = id || the hash; title =
 *                 rule.description (rule must be an object); severity from
 *                 rule.level: <=4 info, 5-7 warning, 8-11 error, >=12 critical;
 *                 node = agent.name; namespace = data.kubernetes.namespace_name
 *                 || data.kubernetes.namespace || data.k8s.namespace; pod =
 *                 data.kubernetes.pod_name || data.kubernetes.pod ||
 *                 data.k8s.pod; container = data.kubernetes.container_name ||
 *                 data.k8s.container (non-string values there are ignored);
 *                 starts_at = timestamp. labels: rule_id, rule_level,
 *                 rule_groups (joined with ","), agent_id, agent_name,
 *                 decoder; annotations: full_log, location.
 *   cloudevents   structured (one event object), batch (an array of them) or
 *                 binary mode (ce-specversion header present; attributes in
 *                 ce-* headers, percent-decoded; the body, which must be JSON
 *                 or empty, is data). Required:
 *                 specversion "1.0", id, source, type; a missing one is a 400
 *                 naming it. id = source + "/" + id; title = subject ||
 *                 data.title || type; severity = extension severity;
 *                 namespace/pod/container/node = extensions k8snamespace,
 *                 k8spod, k8scontainer, k8snode; status = extension status;
 *                 starts_at = time. labels: type, source, subject and every
 *                 other string extension; annotations: data.annotations when
 *                 it is an object of strings. In binary mode raw is the
 *                 structured form of the event ({"specversion":..,"data":..}).
 *   json          any JSON object (one alert) or array of objects, or the
 *                 array at the path `items`. The group
 *                 map = { id = "event.id"; title = "rule.name"; ... };
 *                 maps paths to id, status, severity, title, namespace, pod,
 *                 container, node, labels, annotations (objects of strings),
 *                 starts_at, ends_at. Unmapped or absent fields take
 *                 `defaults` (severity, status, title, namespace, pod,
 *                 container, node) or "".
 *
 * To add a wire format: write a decode_<type>() in decode.c and add a row to
 * its type table. */
#ifndef IRD_INTAKE_DECODE_H
#define IRD_INTAKE_DECODE_H

#include <cjson/cJSON.h>
#include <libconfig.h>
#include <stddef.h>

#include "core/err.h"
#include "net/http_types.h"

/* The Kibana webhook connector body ird documents for the elastic type. */
#define IRD_ELASTIC_TEMPLATE                                                                       \
    "{\n"                                                                                          \
    "  \"rule\": {\n"                                                                              \
    "    \"id\": \"{{rule.id}}\",\n"                                                               \
    "    \"name\": \"{{rule.name}}\",\n"                                                           \
    "    \"severity\": \"{{context.rule.severity}}\",\n"                                           \
    "    \"url\": \"{{rule.url}}\"\n"                                                              \
    "  },\n"                                                                                       \
    "  \"results_link\": \"{{context.results_link}}\",\n"                                          \
    "  \"date\": \"{{date}}\",\n"                                                                  \
    "  \"alerts\": [\n"                                                                            \
    "    {{#context.alerts}}\n"                                                                    \
    "    {\n"                                                                                      \
    "      \"kibana.alert.uuid\": \"{{kibana.alert.uuid}}\",\n"                                    \
    "      \"kibana.alert.rule.name\": \"{{kibana.alert.rule.name}}\",\n"                          \
    "      \"kibana.alert.severity\": \"{{kibana.alert.severity}}\",\n"                            \
    "      \"kibana.alert.status\": \"{{kibana.alert.status}}\",\n"                                \
    "      \"kibana.alert.reason\": \"{{kibana.alert.reason}}\",\n"                                \
    "      \"kibana.alert.start\": \"{{kibana.alert.start}}\",\n"                                  \
    "      \"@timestamp\": \"{{@timestamp}}\",\n"                                                  \
    "      \"kubernetes.namespace\": \"{{kubernetes.namespace}}\",\n"                              \
    "      \"kubernetes.pod.name\": \"{{kubernetes.pod.name}}\",\n"                                \
    "      \"kubernetes.container.name\": \"{{kubernetes.container.name}}\",\n"                    \
    "      \"kubernetes.node.name\": \"{{kubernetes.node.name}}\",\n"                              \
    "      \"orchestrator.namespace\": \"{{orchestrator.namespace}}\",\n"                          \
    "      \"orchestrator.resource.name\": \"{{orchestrator.resource.name}}\",\n"                  \
    "      \"host.name\": \"{{host.name}}\"\n"                                                     \
    "    },\n"                                                                                     \
    "    {{/context.alerts}}\n"                                                                    \
    "    {}\n"                                                                                     \
    "  ]\n"                                                                                        \
    "}\n"

struct ird_decoder;

/* Limits on what one request may contain; a zero field takes its default
 * (depth 32, strings 65536 bytes, 1000 alerts). */
struct ird_decode_limits {
    int max_depth;
    size_t max_string;
    size_t max_alerts;
};

/* Build a decoder from a source's config group, e.g. sources.siem =
 *   { type = "json"; auth = ...; map = { id = "event.id"; title = "rule.name"; };
 *     defaults = { severity = "warning"; }; severity_map = { high = "critical"; }; };
 * Keys: type (required), defaults and severity_map (every type), map and items
 * (json), fields (splunk). `auth` is skipped (intake/auth owns it), and so is
 * every key in common_keys (a NULL-terminated list the caller owns; may be
 * NULL). Any other key is an error.
 * Returns 0 and *ret (free with ird_decoder_free); -EINVAL with err naming
 * file:line and the key: "etc/ird.conf:14: sources.siem.map.titel: unknown key"
 * ("line 14: ..." when the config was read from a string); -ENOMEM. */
int ird_decoder_new(const config_setting_t *source, const char *const *common_keys,
                    struct ird_decoder **ret, struct ird_err *err);

/* NULL is a no-op. */
void ird_decoder_free(struct ird_decoder *d);

/* The type name ("alertmanager", "falco", ...), owned by the decoder. */
const char *ird_decoder_type(const struct ird_decoder *d);

/* Decode one request body into a new cJSON array of alerts in *ret_alerts
 * (caller frees with cJSON_Delete). source_name goes into every alert's
 * `source` and the fallback id. content_type may be NULL (accepted as JSON);
 * headers are read only by cloudevents binary mode; limits may be NULL.
 * *ret_truncated gets Alertmanager's truncatedAlerts (0 otherwise); it may be
 * NULL. Returns 0; -EINVAL for a body that is not acceptable (400) with err
 * such as "alerts[3].labels: expected an object"; -EMSGSIZE with "1200 alerts;
 * at most 1000 per request" (413); -ENOTSUP with "content type text/html is not
 * accepted; send application/json" (415); -ENOMEM. Outputs are untouched on
 * failure. */
int ird_decode(const struct ird_decoder *d, const char *source_name, const char *content_type,
               const struct ird_http_header *headers, size_t nheaders, const char *body, size_t len,
               const struct ird_decode_limits *limits, cJSON **ret_alerts, long *ret_truncated,
               struct ird_err *err);

#endif
