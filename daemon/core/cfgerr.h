/* Errors located in a libconfig document: "file:line: path: message", the
 * way every module reports a problem in ird.conf or a playbook. */
#ifndef IRD_CORE_CFGERR_H
#define IRD_CORE_CFGERR_H

#include <libconfig.h>
#include <stdarg.h>
#include <stddef.h>

#include "core/err.h"

/* The dotted path of s ("sources.siem.map.title", "steps[2].with"); returns
 * its length, or a negative value when it does not fit. */
int ird_cfg_path(const config_setting_t *s, char *out, size_t outlen);

/* Set err to "file:line: path: message" (-EINVAL), at the nearest setting
 * that has a line (list elements may have none), or "line N: ..." for a
 * document read from a string. path NULL: s's own path. */
int ird_cfg_fail(struct ird_err *err, const config_setting_t *s, const char *path, const char *fmt,
                 ...) __attribute__((format(printf, 4, 5)));
int ird_cfg_vfail(struct ird_err *err, const config_setting_t *s, const char *path, const char *fmt,
                  va_list ap);

#endif
