/* Playbook templates: text with ${...} variables, parsed once when a playbook
 * loads and expanded against a run's context. Pure: no I/O, no logging.
 *
 * Syntax
 *   ${alert.<field>}                 a field of the normalized alert (source, id, status,
 *                                    severity, title, namespace, pod, container, node,
 *                                    labels, annotations, starts_at, ends_at, raw)
 *   ${alert.labels.<k>}, ${alert.annotations.<k>}
 *   ${alert.raw.<dotted.path>}       into the original JSON; array indices are segments
 *                                    (raw.alerts.0.labels.x)
 *   ${a.b["k8s.ns.name"]}            bracket form for keys with dots or other characters
 *                                    ("\"" and "\\" escape inside); [0] indexes too
 *   ${incident.<k>}, ${target.<k>}, ${steps.<name>.result[.<k>...]}, ${param.<k>}
 *   ${x:-default}                    default used when x is missing, JSON null OR the
 *                                    empty string (bash's ":-"); the default is literal
 *                                    text up to the first '}' (no nested ${ })
 *   $$                               a literal '$'; '$' followed by anything but '{' or
 *                                    '$' is literal
 * Plain segments are made of [A-Za-z0-9_/-]; anything else needs the bracket form.
 *
 * Values: a missing variable (absent or JSON null) without a default is an error
 * naming it; an empty string is a value and expands to "" (a default replaces it).
 * Numbers print as integers when integral, booleans as true/false. An object or
 * array may only be used alone (then it expands to compact JSON, or keeps its
 * type with ird_template_expand_json). Expanded values are never re-read as
 * templates: an alert value "${alert.labels.secret}" or "$(id)" stays that text.
 *
 * The context is one cJSON object built by the engine:
 *   {"alert": {...}, "incident": {...}, "target": {...},
 *    "steps": {"<name>": {"result": {...}}}, "param": {...}}
 * This module only reads it. */
#ifndef IRD_ENGINE_TEMPLATE_H
#define IRD_ENGINE_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "core/err.h"

struct ird_template;

/* One variable a template references, for load-time checks (a ${steps.x...}
 * must name an earlier step, ${param.k} only in manual playbooks, ...).
 * Owned by the template; valid until ird_template_free(). */
struct ird_template_ref {
    const char *path;        /* display form: "alert.labels.team", "alert.raw.a[\"k.x\"]" */
    const char *root;        /* "alert", "incident", "target", "steps" or "param" */
    const char *const *segs; /* the segments after the root, unescaped */
    size_t nsegs;            /* >= 1 (>= 2 for steps: name, "result", ...) */
    const char *def;         /* the default after ":-", or NULL when there is none */
    unsigned column;         /* 1-based column of the '$' in the parsed text */
};

/* Parse text (NUL-terminated). Returns a new template the caller frees with
 * ird_template_free(), or NULL with a reason naming the column in err:
 *   unterminated ${ at column 7
 *   unknown root 'alrt' in ${alrt.pod} at column 1 (expected alert, incident, target,
 *   steps, param)
 * NULL with "out of memory" when allocation fails. */
struct ird_template *ird_template_parse(const char *text, struct ird_err *err);

/* Parse exactly one ${...} at the start of text (which must begin with "${"),
 * for languages that embed variables (conditions). *ret_len receives the bytes
 * consumed. first_column is the column of text[0] in the enclosing text, so
 * errors point at the right place. Same result and errors as ird_template_parse(). */
struct ird_template *ird_template_parse_var(const char *text, unsigned first_column,
                                            size_t *ret_len, struct ird_err *err);

/* No-op on NULL. */
void ird_template_free(struct ird_template *t);

/* The source text the template was parsed from. */
const char *ird_template_text(const struct ird_template *t);

/* The template's text when it contains no variable (after $$ → $), else NULL. */
const char *ird_template_literal(const struct ird_template *t);

/* True when the template is exactly one ${...} and nothing else. */
bool ird_template_is_single_var(const struct ird_template *t);

/* Variables in order of appearance (a variable used twice appears twice). */
size_t ird_template_ref_count(const struct ird_template *t);
const struct ird_template_ref *ird_template_ref_at(const struct ird_template *t, size_t i);

/* Expand into a new NUL-terminated string in *ret (caller frees with free()).
 * Returns 0; -ENOENT when a variable is not set ("variable alert.labels.team is
 * not set"); -EINVAL for an object or array inside a longer text ("variable
 * steps.a.result.files is a list; it can only be used alone"); -E2BIG when the
 * output would exceed max_len bytes (not counting the NUL); -ENOMEM.
 * *ret is untouched on failure. */
int ird_template_expand(const struct ird_template *t, const cJSON *ctx, size_t max_len, char **ret,
                        struct ird_err *err);

/* Like ird_template_expand(), but when the template is exactly one ${...} the
 * result is a deep copy of the value with its JSON type (list, number, bool,
 * object), so typed action parameters keep their types; a default yields a
 * string. Otherwise a cJSON string of the expansion. The caller owns *ret
 * (cJSON_Delete). max_len bounds strings and the compact JSON of objects/lists. */
int ird_template_expand_json(const struct ird_template *t, const cJSON *ctx, size_t max_len,
                             cJSON **ret, struct ird_err *err);

#endif
