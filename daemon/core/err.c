/* Error reasons and error-code text. */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

int ird_err_set(struct ird_err *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
    }
    return code;
}

void ird_err_prefix(struct ird_err *err, const char *fmt, ...)
{
    if (!err)
        return;
    char prefix[256];
    char old[sizeof(err->msg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof(old));
    size_t n = strlen(prefix);
    if (n >= sizeof(err->msg))
        n = sizeof(err->msg) - 1;
    memcpy(err->msg, prefix, n);
    size_t rest = strnlen(old, sizeof(old) - 1);
    if (rest > sizeof(err->msg) - 1 - n)
        rest = sizeof(err->msg) - 1 - n;
    memcpy(err->msg + n, old, rest);
    err->msg[n + rest] = '\0';
}

const char *ird_strerror(int code)
{
    if (code == 0)
        return "success";
    return uv_strerror(code);
}
