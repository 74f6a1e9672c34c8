/* A growable byte buffer. The buffer owns data; ird_buf_free() releases it and
 * leaves an empty buffer. data is always NUL-terminated when len > 0 so it can
 * be used as a C string for text content. */
#ifndef IRD_CORE_BUF_H
#define IRD_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct ird_buf {
    char *data;
    size_t len;
    size_t cap;
};

#define IRD_BUF_INIT                                                                               \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

int ird_buf_reserve(struct ird_buf *b, size_t extra);
int ird_buf_append(struct ird_buf *b, const void *data, size_t len);
int ird_buf_puts(struct ird_buf *b, const char *s);
int ird_buf_printf(struct ird_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int ird_buf_vprintf(struct ird_buf *b, const char *fmt, va_list ap);
/* Drop the first n bytes, keeping the rest. */
void ird_buf_consume(struct ird_buf *b, size_t n);
void ird_buf_reset(struct ird_buf *b);
void ird_buf_free(struct ird_buf *b);
/* Hand the bytes to the caller (who frees them); the buffer is left empty. */
char *ird_buf_steal(struct ird_buf *b);

#endif
