/* Located config errors. */
#include "core/cfgerr.h"

#include <stdio.h>

int ird_cfg_path(const config_setting_t *s, char *out, size_t outlen)
{
    if (!s || config_setting_is_root(s)) {
        out[0] = '\0';
        return 0;
    }
    int n = ird_cfg_path(config_setting_parent(s), out, outlen);
    if (n < 0 || (size_t)n >= outlen)
        return n;
    const char *name = config_setting_name(s);
    int m;
    if (name)
        m = snprintf(out + n, outlen - (size_t)n, "%s%s", n ? "." : "", name);
    else
        m = snprintf(out + n, outlen - (size_t)n, "[%d]", config_setting_index(s));
    return m < 0 ? m : n + m;
}

int ird_cfg_vfail(struct ird_err *err, const config_setting_t *s, const char *path, const char *fmt,
                  va_list ap)
{
    char msg[700], own[256];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (!s)
        return ird_err_set(err, -EINVAL, "%s", msg);
    if (!path) {
        ird_cfg_path(s, own, sizeof(own));
        path = own;
    }
    const config_setting_t *at = s;
    while (at && config_setting_source_line(at) == 0)
        at = config_setting_parent(at);
    unsigned line = at ? config_setting_source_line(at) : 0;
    const char *file = at ? config_setting_source_file(at) : NULL;
    if (file)
        return ird_err_set(err, -EINVAL, "%s:%u: %s: %s", file, line, path, msg);
    return ird_err_set(err, -EINVAL, "line %u: %s: %s", line, path, msg);
}

int ird_cfg_fail(struct ird_err *err, const config_setting_t *s, const char *path, const char *fmt,
                 ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = ird_cfg_vfail(err, s, path, fmt, ap);
    va_end(ap);
    return rc;
}
