/* intake/jsoncheck: the gate every request body passes before cJSON sees it.
 * It owns the lexical checks cJSON does not make (UTF-8, depth, string size),
 * the large-integer rewrite, and turning cJSON failures into byte offsets.
 *
 * Glossary: "offset" is a 0-based byte index into the body as received.
 *
 * Large integers: cJSON keeps numbers as doubles, which cannot hold integers
 * beyond 2^53 (Falco's evt.time in nanoseconds, 1796110553123456789). An
 * integer token (no fraction, no exponent) whose magnitude exceeds
 * 9007199254740992 is rewritten into a JSON string holding its exact digits
 * (with the '-' when negative). So large integers arrive in raw as strings with
 * their exact digits; smaller integers and all non-integers stay numbers. */
#ifndef IRD_INTAKE_JSONCHECK_H
#define IRD_INTAKE_JSONCHECK_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "core/err.h"

#define IRD_JSONCHECK_DEFAULT_DEPTH  32
#define IRD_JSONCHECK_DEFAULT_STRING 65536

/* Check body[0, len) and parse it. max_depth counts nested arrays/objects (the
 * top-level one is depth 1); max_string bounds every string and object key,
 * counted in bytes between the quotes as sent (escapes count as written).
 * max_depth <= 0 and max_string == 0 select the defaults above.
 * Returns 0 and a tree in *ret (caller frees with cJSON_Delete); -EINVAL with a
 * reason in err: "invalid UTF-8 at byte 17", "nesting deeper than 32 at byte 402",
 * "string longer than 65536 bytes at byte 9", "invalid escape at byte 5",
 * "unpaired surrogate at byte 5", "control character in string at byte 3",
 * "malformed JSON at byte 12"; -ENOMEM. *ret is untouched on failure. */
int ird_jsoncheck_parse(const char *body, size_t len, int max_depth, size_t max_string, cJSON **ret,
                        struct ird_err *err);

/* Validate that s[0, len) is well-formed UTF-8: no overlong forms, no encoded
 * surrogates (U+D800..U+DFFF), nothing beyond U+10FFFF. Returns 0, or -EINVAL
 * with the offset of the first bad sequence in *ret_offset (may be NULL). */
int ird_jsoncheck_utf8(const char *s, size_t len, size_t *ret_offset);

#endif
