/* Errors: every fallible function returns 0 or a negative errno (libuv style),
 * so libuv's codes and ours pass through unchanged. A reason meant for a person
 * travels in a caller-owned struct ird_err, never in a global. */
#ifndef IRD_CORE_ERR_H
#define IRD_CORE_ERR_H

#include <errno.h>
#include <stddef.h>

struct ird_err {
    char msg[512];
};

/* Format a reason into err (truncating); err may be NULL. Returns code so that
 * `return ird_err_set(err, -EINVAL, "...")` reads naturally. */
int ird_err_set(struct ird_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefix the reason already in err with more context ("alerts[3]: " + msg). */
void ird_err_prefix(struct ird_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Text for a negative errno or libuv error code. */
const char *ird_strerror(int code);

#endif
