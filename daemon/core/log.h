/* Structured logging on stderr: one line per event, JSON or logfmt.
 * Only the daemon's top layers log (see STYLE.md: pure modules never do).
 * Values are escaped by the writer, so attacker-controlled text cannot forge
 * fields or lines. Never pass a secret as a field. */
#ifndef IRD_CORE_LOG_H
#define IRD_CORE_LOG_H

#include <stddef.h>
#include <stdint.h>

enum ird_log_level { IRD_LOG_DEBUG, IRD_LOG_INFO, IRD_LOG_WARN, IRD_LOG_ERROR };
enum ird_log_format { IRD_LOG_TEXT, IRD_LOG_JSON };

enum ird_log_kind { IRD_LOG_FIELD_STR, IRD_LOG_FIELD_INT, IRD_LOG_FIELD_DBL };

struct ird_log_field {
    const char *key;
    enum ird_log_kind kind;
    const char *s;
    int64_t i;
    double d;
};

#define IRD_LS(k, v) ((struct ird_log_field){.key = (k), .kind = IRD_LOG_FIELD_STR, .s = (v)})
#define IRD_LI(k, v)                                                                               \
    ((struct ird_log_field){.key = (k), .kind = IRD_LOG_FIELD_INT, .i = (int64_t)(v)})
#define IRD_LD(k, v)                                                                               \
    ((struct ird_log_field){.key = (k), .kind = IRD_LOG_FIELD_DBL, .d = (double)(v)})

void ird_log_setup(enum ird_log_level level, enum ird_log_format format);
int ird_log_enabled(enum ird_log_level level);
void ird_log_fields(enum ird_log_level level, const char *msg, const struct ird_log_field *fields,
                    size_t n);
/* Parse "debug|info|warn|error" / "json|text"; return 0 or -EINVAL. */
int ird_log_level_parse(const char *s, enum ird_log_level *ret);
int ird_log_format_parse(const char *s, enum ird_log_format *ret);

/* ird_log(IRD_LOG_INFO, "listening", IRD_LS("addr", a), IRD_LI("port", p)); */
#define ird_log(level, msg, ...)                                                                   \
    ird_log_fields((level), (msg), (const struct ird_log_field[]){__VA_ARGS__},                    \
                   sizeof((const struct ird_log_field[]){__VA_ARGS__}) /                           \
                       sizeof(struct ird_log_field))
#define ird_log0(level, msg) ird_log_fields((level), (msg), NULL, 0)

#endif
