/* Step conditions (`when = "..."`): a tiny expression language parsed once
 * when a playbook loads and evaluated against a run's template context (see
 * template.h). Pure: no I/O, no logging.
 *
 * Grammar, loosest binding first:
 *   expr    := and ( "||" and )*
 *   and     := not ( "&&" not )*
 *   not     := "!" not | "(" expr ")" | operand [ cmp operand ]
 *   cmp     := "==" | "!=" | "=~" | "!~" | "<" | "<=" | ">" | ">="
 *   operand := ${...}            a template variable (typed), ${x:-default} allowed
 *            | "text" | 'text'   a string, may contain ${...}; \" \' \\ escape
 *            | 123 | -1.5        a number
 *            | true | false
 * So `! a == b` is `!(a == b)`, and comparisons do not chain.
 *
 * Semantics
 *   == !=     compare the operands' text: numbers print as integers when integral,
 *             booleans as true/false ("3" == 3 is true, "3.0" == 3 is false)
 *   =~ !~     POSIX extended regex, unanchored (use ^ and $); the right side must be a
 *             literal string, compiled at parse time — values from alerts never
 *             become patterns
 *   < <= > >= numeric; an operand whose text is not a decimal number is an
 *             evaluation error
 *   bare operand  true when it is non-empty and not false/"false"/0/"0" (an empty
 *             list or object is false)
 *   A variable that is not set is an evaluation error (the engine fails the step),
 *   also in a bare operand; test for presence with a default: `${alert.labels.team:-}`.
 *   Values from the context are data: they are never parsed as expressions. */
#ifndef IRD_ENGINE_COND_H
#define IRD_ENGINE_COND_H

#include <stdbool.h>

#include <cjson/cJSON.h>

#include "core/err.h"
#include "engine/template.h"

struct ird_cond;

/* Parse text. Returns a new condition (caller frees with ird_cond_free()) or
 * NULL with a reason naming the column in err, e.g.
 *   expected a value at column 24, found the end
 *   invalid regular expression "(" at column 8: <regerror text> */
struct ird_cond *ird_cond_parse(const char *text, struct ird_err *err);

/* No-op on NULL. */
void ird_cond_free(struct ird_cond *c);

/* Evaluate against ctx. Returns 0 with the outcome in *ret, or a negative
 * errno with a reason: -ENOENT for a variable that is not set ("variable
 * alert.labels.team is not set"), -EINVAL for a non-numeric operand of < <= >
 * >= or a list/object compared as text. *ret is untouched on failure. */
int ird_cond_eval(const struct ird_cond *c, const cJSON *ctx, bool *ret, struct ird_err *err);

/* Call cb for every variable the condition references, in order; stops at and
 * returns the first non-zero cb result, else 0. For load-time checks. */
int ird_cond_foreach_ref(const struct ird_cond *c,
                         int (*cb)(const struct ird_template_ref *ref, void *userdata),
                         void *userdata);

/* The text the condition was parsed from. */
const char *ird_cond_text(const struct ird_cond *c);

#endif
