/* intake/jsoncheck: lexical checks and the large-integer rewrite ahead of cJSON,
 * and byte offsets for every way a body can fail to be JSON. */
#include "intake/jsoncheck.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* 2^53: the largest magnitude up to which every integer is exact in a double. */
static const char max_exact[] = "9007199254740992";

/* Length of the well-formed UTF-8 sequence at s[i], or 0 if it is not one. */
static size_t utf8_seq(const unsigned char *s, size_t len, size_t i)
{
    unsigned char c = s[i];
    if (c < 0x80)
        return 1;
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        else if (c == 0xED)
            hi = 0x9F; /* U+D800..U+DFFF */
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        else if (c == 0xF4)
            hi = 0x8F; /* beyond U+10FFFF */
    } else {
        return 0; /* continuation byte, C0/C1 overlong lead, F5..FF */
    }
    if (len - i < n)
        return 0;
    if (s[i + 1] < lo || s[i + 1] > hi)
        return 0;
    for (size_t k = 2; k < n; k++)
        if (s[i + k] < 0x80 || s[i + k] > 0xBF)
            return 0;
    return n;
}

int ird_jsoncheck_utf8(const char *s, size_t len, size_t *ret_offset)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        size_t n = utf8_seq(u, len, i);
        if (n == 0) {
            if (ret_offset)
                *ret_offset = i;
            return -EINVAL;
        }
        i += n;
    }
    return 0;
}

static int hex4(const unsigned char *s, size_t len, size_t i, unsigned *ret)
{
    if (len - i < 4)
        return -EINVAL;
    unsigned v = 0;
    for (size_t k = 0; k < 4; k++) {
        unsigned char c = s[i + k];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -EINVAL;
        v = v * 16 + d;
    }
    *ret = v;
    return 0;
}

/* The escape starting with the backslash at s[i]: its length, or a negative
 * errno with the reason in err. */
static long check_escape(const unsigned char *s, size_t len, size_t i, struct ird_err *err)
{
    if (i + 1 >= len)
        return ird_err_set(err, -EINVAL, "invalid escape at byte %zu", i);
    if (strchr("\"\\/bfnrt", s[i + 1]) && s[i + 1] != '\0')
        return 2;
    if (s[i + 1] != 'u')
        return ird_err_set(err, -EINVAL, "invalid escape at byte %zu", i);
    unsigned cp;
    if (hex4(s, len, i + 2, &cp))
        return ird_err_set(err, -EINVAL, "invalid escape at byte %zu", i);
    if (cp >= 0xDC00 && cp <= 0xDFFF)
        return ird_err_set(err, -EINVAL, "unpaired surrogate at byte %zu", i);
    if (cp < 0xD800 || cp > 0xDBFF)
        return 6;
    unsigned low;
    if (len - i < 12 || s[i + 6] != '\\' || s[i + 7] != 'u' || hex4(s, len, i + 8, &low) ||
        low < 0xDC00 || low > 0xDFFF)
        return ird_err_set(err, -EINVAL, "unpaired surrogate at byte %zu", i);
    return 12;
}

/* Does the integer token t[0, n) (optional '-', then digits) exceed 2^53? */
static bool integer_too_big(const char *t, size_t n)
{
    if (n && t[0] == '-') {
        t++;
        n--;
    }
    size_t m = sizeof(max_exact) - 1;
    if (n != m)
        return n > m;
    return memcmp(t, max_exact, m) > 0;
}

struct scan {
    const unsigned char *in;
    size_t len;
    char *out;
    size_t olen;
    size_t *rewrites; /* body offsets of rewritten integers, ascending */
    size_t nrewrites, caprewrites;
};

static int note_rewrite(struct scan *sc, size_t at)
{
    if (sc->nrewrites == sc->caprewrites) {
        size_t cap = sc->caprewrites ? sc->caprewrites * 2 : 8;
        size_t *r = realloc(sc->rewrites, cap * sizeof(*r));
        if (!r)
            return -ENOMEM;
        sc->rewrites = r;
        sc->caprewrites = cap;
    }
    sc->rewrites[sc->nrewrites++] = at;
    return 0;
}

/* Copy input to the output; a no-op in the first, validating pass (no out). */
static void emit(struct scan *sc, size_t from, size_t n)
{
    if (sc->out)
        memcpy(sc->out + sc->olen, sc->in + from, n);
    sc->olen += n;
}

/* Map an offset in the rewritten text back to the body. */
static size_t body_offset(const struct scan *sc, size_t pos)
{
    size_t added = 0;
    for (size_t k = 0; k < sc->nrewrites; k++) {
        if (sc->rewrites[k] + added >= pos)
            break;
        added += 2;
    }
    size_t off = pos > added ? pos - added : 0;
    return off > sc->len ? sc->len : off;
}

static int scan_string(struct scan *sc, size_t *i, size_t max_string, struct ird_err *err)
{
    size_t start = *i, j = start + 1;
    for (;;) {
        if (j >= sc->len)
            return ird_err_set(err, -EINVAL, "malformed JSON at byte %zu", start);
        unsigned char b = sc->in[j];
        if (b >= 0x20 && b < 0x80 && b != '"' && b != '\\') {
            /* Plain ASCII, the common case: no decoding needed. */
            if (++j - start - 1 > max_string)
                return ird_err_set(err, -EINVAL, "string longer than %zu bytes at byte %zu",
                                   max_string, start);
            continue;
        }
        if (b == '"')
            break;
        if (b == '\\') {
            long n = check_escape(sc->in, sc->len, j, err);
            if (n < 0)
                return (int)n;
            j += (size_t)n;
        } else if (b < 0x20) {
            return ird_err_set(err, -EINVAL, "control character in string at byte %zu", j);
        } else {
            size_t n = utf8_seq(sc->in, sc->len, j);
            if (n == 0)
                return ird_err_set(err, -EINVAL, "invalid UTF-8 at byte %zu", j);
            j += n;
        }
        if (j - start - 1 > max_string)
            return ird_err_set(err, -EINVAL, "string longer than %zu bytes at byte %zu", max_string,
                               start);
    }
    emit(sc, start, j + 1 - start);
    *i = j + 1;
    return 0;
}

/* JSON's integer grammar, exactly: -?(0|[1-9][0-9]*). */
static bool json_integer(const unsigned char *t, size_t n)
{
    size_t k = 0;
    if (k < n && t[k] == '-')
        k++;
    if (k == n || t[k] < '0' || t[k] > '9' || (t[k] == '0' && k + 1 < n))
        return false;
    for (; k < n; k++)
        if (t[k] < '0' || t[k] > '9')
            return false;
    return true;
}

/* A number token. Only a well-formed integer in value position is rewritten
 * (a number where an object key belongs, or a malformed one, stays as it is
 * for cJSON to refuse). */
static int scan_number(struct scan *sc, size_t *i, bool key_position)
{
    size_t start = *i, j = start;
    bool integer = !key_position;
    if (sc->in[j] == '-')
        j++;
    while (j < sc->len && strchr("0123456789.eE+-", sc->in[j]) && sc->in[j] != '\0') {
        if (sc->in[j] == '.' || sc->in[j] == 'e' || sc->in[j] == 'E')
            integer = false;
        j++;
    }
    size_t n = j - start;
    if (integer && json_integer(sc->in + start, n) &&
        integer_too_big((const char *)sc->in + start, n)) {
        int rc = note_rewrite(sc, start);
        if (rc)
            return rc;
        if (sc->out)
            sc->out[sc->olen] = '"';
        sc->olen++;
        emit(sc, start, n);
        if (sc->out)
            sc->out[sc->olen] = '"';
        sc->olen++;
    } else {
        emit(sc, start, n);
    }
    *i = j;
    return 0;
}

static int scan_body(struct scan *sc, int max_depth, size_t max_string, struct ird_err *err)
{
    int depth = 0;
    size_t i = 0;
    /* Enough to know whether a token stands where an object key belongs. */
    unsigned char open[1024]; /* '{' or '[' per level; json_depth is at most 1000 */
    unsigned char prev = 0;   /* the last significant byte */
    while (i < sc->len) {
        unsigned char c = sc->in[i];
        int rc = 0;
        if (c == '"') {
            rc = scan_string(sc, &i, max_string, err);
            prev = '"';
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            bool key = depth > 0 && open[depth - 1] == '{' && (prev == '{' || prev == ',');
            rc = scan_number(sc, &i, key);
            prev = '0';
        } else if (c == '[' || c == '{') {
            if (++depth > max_depth || depth > (int)sizeof(open))
                return ird_err_set(err, -EINVAL, "nesting deeper than %d at byte %zu", max_depth,
                                   i);
            open[depth - 1] = c;
            prev = c;
            emit(sc, i++, 1);
        } else if (c == ']' || c == '}') {
            if (depth > 0)
                depth--;
            prev = c;
            emit(sc, i++, 1);
        } else if (c >= 0x80) {
            if (utf8_seq(sc->in, sc->len, i) == 0)
                return ird_err_set(err, -EINVAL, "invalid UTF-8 at byte %zu", i);
            return ird_err_set(err, -EINVAL, "malformed JSON at byte %zu", i);
        } else if (c < 0x20 && c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            return ird_err_set(err, -EINVAL, "malformed JSON at byte %zu", i);
        } else {
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
                prev = c;
            emit(sc, i++, 1);
        }
        if (rc)
            return rc;
    }
    if (sc->out)
        sc->out[sc->olen] = '\0';
    return 0;
}

int ird_jsoncheck_parse(const char *body, size_t len, int max_depth, size_t max_string, cJSON **ret,
                        struct ird_err *err)
{
    if (max_depth <= 0)
        max_depth = IRD_JSONCHECK_DEFAULT_DEPTH;
    if (max_string == 0)
        max_string = IRD_JSONCHECK_DEFAULT_STRING;
    if (!body)
        len = 0;
    /* First pass: validate, and find integers to rewrite. Only when there
     * are some is a rewritten copy made (second pass); else cJSON reads the
     * body as it is. */
    struct scan sc = {(const unsigned char *)body, len, NULL, 0, NULL, 0, 0};
    int rc = scan_body(&sc, max_depth, max_string, err);
    const char *text = body;
    size_t tlen = len;
    if (rc == 0 && sc.nrewrites > 0) {
        /* Each rewrite adds two quotes. */
        sc.out = malloc(len + 2 * sc.nrewrites + 1);
        if (!sc.out) {
            free(sc.rewrites);
            return ird_err_set(err, -ENOMEM, "out of memory");
        }
        sc.olen = 0;
        sc.nrewrites = 0;
        rc = scan_body(&sc, max_depth, max_string, err);
        text = sc.out;
        tlen = sc.olen;
    }
    if (rc == 0) {
        const char *end = NULL;
        cJSON *root = cJSON_ParseWithLengthOpts(text, tlen, &end, 0);
        size_t pos = end ? (size_t)(end - text) : 0;
        if (root) {
            while (pos < tlen && strchr(" \t\r\n", text[pos]))
                pos++;
            if (pos < tlen) {
                cJSON_Delete(root);
                root = NULL;
            }
        }
        if (root)
            *ret = root;
        else
            rc = ird_err_set(err, -EINVAL, "malformed JSON at byte %zu", body_offset(&sc, pos));
    }
    free(sc.out);
    free(sc.rewrites);
    return rc;
}
