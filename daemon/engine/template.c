/* Templates: the parser for ${...} text (once, at playbook load) and the
 * expander that walks the run context (per step). Values found in the context
 * are copied out as data and never parsed again. */
#include "engine/template.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/k8s_names.h"
#include "core/text.h"

/* One piece of a template: literal text, or a variable (index into refs). */
struct part {
    char *lit; /* NULL for a variable */
    size_t lit_len;
    size_t ref;
};

struct ird_template {
    char *text;
    char *literal; /* the whole text when there is no variable */
    struct part *parts;
    size_t nparts;
    struct ird_template_ref *refs;
    size_t nrefs;
};

/* The roots a variable may start with, and an example for a bare root. */
static const struct {
    const char *name;
    const char *example;
} roots[] = {
    {"alert", "${alert.pod}"},         {"incident", "${incident.id}"},
    {"target", "${target.namespace}"}, {"steps", "${steps.<name>.result.<key>}"},
    {"param", "${param.<key>}"},
};

static const char *const alert_fields[] = {
    "source",    "id",   "status", "severity",    "title",     "namespace", "pod",
    "container", "node", "labels", "annotations", "starts_at", "ends_at",   "raw",
};

#define ROOTS_EXPECTED "alert, incident, target, steps, param"
#define FIELDS_EXPECTED                                                                            \
    "source, id, status, severity, title, namespace, pod, container, node, labels, annotations, "  \
    "starts_at, ends_at, raw"
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void ref_clear(struct ird_template_ref *r)
{
    free((char *)r->path);
    if (r->segs) {
        /* segs[-1] is the root: one allocation holds all segment pointers. */
        const char *const *all = r->segs - 1;
        for (size_t i = 0; i <= r->nsegs; i++)
            free((char *)all[i]);
        free((void *)all);
    }
    free((char *)r->def);
}

void ird_template_free(struct ird_template *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nparts; i++)
        free(t->parts[i].lit);
    for (size_t i = 0; i < t->nrefs; i++)
        ref_clear(&t->refs[i]);
    free(t->parts);
    free(t->refs);
    free(t->text);
    free(t->literal);
    free(t);
}

static bool is_seg_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '/';
}

static int oom(struct ird_err *err)
{
    return ird_err_set(err, -ENOMEM, "out of memory");
}

/* Segments of the variable being parsed. */
struct segs {
    char **v;
    size_t n, cap;
};

static int segs_push(struct segs *s, char *seg)
{
    if (!seg)
        return -ENOMEM;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4;
        char **v = realloc(s->v, cap * sizeof(*v));
        if (!v) {
            free(seg);
            return -ENOMEM;
        }
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = seg;
    return 0;
}

static void segs_free(struct segs *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
}

static char *dup_n(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

/* The display form of a path: plain segments joined with '.', others in
 * brackets with a JSON-style quoted key. */
static int path_format(struct ird_buf *b, char *const *v, size_t n)
{
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        bool plain = *v[i] != '\0';
        for (const char *p = v[i]; *p && plain; p++)
            plain = is_seg_char(*p);
        if (plain) {
            if (i > 0)
                rc = ird_buf_puts(b, ".");
            if (rc == 0)
                rc = ird_buf_puts(b, v[i]);
            continue;
        }
        rc = ird_buf_puts(b, "[\"");
        for (const char *p = v[i]; *p && rc == 0; p++) {
            if (*p == '"' || *p == '\\')
                rc = ird_buf_append(b, "\\", 1);
            if (rc == 0)
                rc = ird_buf_append(b, p, 1);
        }
        if (rc == 0)
            rc = ird_buf_puts(b, "\"]");
    }
    return rc;
}

/* Read a bracket segment at text[*q] == '['. */
static int parse_bracket(const char *text, size_t *q, unsigned col0, unsigned dollar_col,
                         struct segs *s, struct ird_err *err)
{
    size_t i = *q + 1;
    struct ird_buf key = IRD_BUF_INIT;
    if (text[i] == '"') {
        i++;
        for (;;) {
            char c = text[i];
            if (c == '\0') {
                ird_buf_free(&key);
                return ird_err_set(err, -EINVAL, "unterminated ${ at column %u", dollar_col);
            }
            if (c == '"')
                break;
            if (c == '\\' && (text[i + 1] == '"' || text[i + 1] == '\\'))
                c = text[++i];
            if (ird_buf_append(&key, &c, 1) < 0) {
                ird_buf_free(&key);
                return oom(err);
            }
            i++;
        }
        i++;
    } else if (text[i] >= '0' && text[i] <= '9') {
        size_t start = i;
        while (text[i] >= '0' && text[i] <= '9')
            i++;
        if (ird_buf_append(&key, text + start, i - start) < 0)
            return oom(err);
    } else {
        return ird_err_set(err, -EINVAL, "expected a quoted key or an index after '[' at column %u",
                           col0 + (unsigned)*q);
    }
    if (text[i] != ']') {
        ird_buf_free(&key);
        if (text[i] == '\0')
            return ird_err_set(err, -EINVAL, "unterminated ${ at column %u", dollar_col);
        return ird_err_set(err, -EINVAL, "expected ']' at column %u", col0 + (unsigned)i);
    }
    char *seg = key.data ? ird_buf_steal(&key) : dup_n("", 0);
    if (segs_push(s, seg) < 0)
        return oom(err);
    *q = i + 1;
    return 0;
}

/* Check the root and the shape the root requires. */
static int check_shape(const struct segs *s, const char *shown, unsigned col, struct ird_err *err)
{
    size_t r = 0;
    while (r < COUNT(roots) && strcmp(roots[r].name, s->v[0]) != 0)
        r++;
    if (r == COUNT(roots))
        return ird_err_set(err, -EINVAL,
                           "unknown root '%.40s' in %.100s at column %u (expected " ROOTS_EXPECTED
                           ")",
                           s->v[0], shown, col);
    if (s->n < 2)
        return ird_err_set(err, -EINVAL,
                           "incomplete variable %.100s at column %u: name a field, e.g. %s", shown,
                           col, roots[r].example);
    if (strcmp(s->v[0], "alert") == 0) {
        size_t f = 0;
        while (f < COUNT(alert_fields) && strcmp(alert_fields[f], s->v[1]) != 0)
            f++;
        if (f == COUNT(alert_fields))
            return ird_err_set(
                err, -EINVAL,
                "unknown alert field '%.40s' in %.100s at column %u (expected " FIELDS_EXPECTED ")",
                s->v[1], shown, col);
    }
    if (strcmp(s->v[0], "steps") == 0 && (s->n < 3 || strcmp(s->v[2], "result") != 0))
        return ird_err_set(err, -EINVAL,
                           "%.100s at column %u: a step's values are read as "
                           "${steps.<name>.result.<key>}",
                           shown, col);
    return 0;
}

/* Parse the variable whose '$' is at text[p]; on success fills ref and sets
 * *ret_end to the index after its '}'. */
static int parse_var(const char *text, size_t p, unsigned col0, struct ird_template_ref *ref,
                     size_t *ret_end, struct ird_err *err)
{
    unsigned col = col0 + (unsigned)p;
    size_t q = p + 2;
    struct segs s = {0};
    char *def = NULL;
    bool expect_seg = true;
    int rc = 0;

    for (;;) {
        char c = text[q];
        if (c == '\0') {
            rc = ird_err_set(err, -EINVAL, "unterminated ${ at column %u", col);
            goto fail;
        }
        if (expect_seg) {
            if (c == '}' && s.n == 0) {
                rc = ird_err_set(err, -EINVAL, "empty ${} at column %u", col);
                goto fail;
            }
            if (!is_seg_char(c)) {
                char one[2] = {c, '\0'}, q1[IRD_K8S_QUOTE_MAX];
                rc = ird_err_set(err, -EINVAL, "expected a name at column %u, found %s",
                                 col0 + (unsigned)q, ird_k8s_quote(one, q1, sizeof(q1)));
                goto fail;
            }
            size_t start = q;
            while (is_seg_char(text[q]))
                q++;
            if (segs_push(&s, dup_n(text + start, q - start)) < 0) {
                rc = oom(err);
                goto fail;
            }
            expect_seg = false;
        } else if (c == '.') {
            q++;
            expect_seg = true;
        } else if (c == '[') {
            rc = parse_bracket(text, &q, col0, col, &s, err);
            if (rc < 0)
                goto fail;
        } else if (c == '}') {
            q++;
            break;
        } else if (c == ':' && text[q + 1] == '-') {
            size_t start = q + 2, e = start;
            while (text[e] && text[e] != '}') {
                if (text[e] == '$' && text[e + 1] == '{') {
                    rc = ird_err_set(err, -EINVAL,
                                     "a ${ inside the default of the variable at column %u is not "
                                     "supported",
                                     col);
                    goto fail;
                }
                e++;
            }
            if (!text[e]) {
                rc = ird_err_set(err, -EINVAL, "unterminated ${ at column %u", col);
                goto fail;
            }
            def = dup_n(text + start, e - start);
            if (!def) {
                rc = oom(err);
                goto fail;
            }
            q = e + 1;
            break;
        } else {
            char one[2] = {c, '\0'}, q1[IRD_K8S_QUOTE_MAX];
            rc = ird_err_set(err, -EINVAL, "unexpected character %s at column %u",
                             ird_k8s_quote(one, q1, sizeof(q1)), col0 + (unsigned)q);
            goto fail;
        }
    }

    struct ird_buf path = IRD_BUF_INIT;
    if (path_format(&path, s.v, s.n) < 0) {
        ird_buf_free(&path);
        rc = oom(err);
        goto fail;
    }
    char shown[160];
    snprintf(shown, sizeof(shown), "${%s%s%s}", path.data, def ? ":-" : "", def ? def : "");
    rc = check_shape(&s, shown, col, err);
    if (rc < 0) {
        ird_buf_free(&path);
        goto fail;
    }
    ref->path = ird_buf_steal(&path);
    ref->root = s.v[0];
    ref->segs = (const char *const *)s.v + 1;
    ref->nsegs = s.n - 1;
    ref->def = def;
    ref->column = col;
    *ret_end = q;
    return 0;
fail:
    segs_free(&s);
    free(def);
    return rc;
}

static int add_part(struct ird_template *t, size_t *cap, struct part p)
{
    if (t->nparts == *cap) {
        size_t n = *cap ? *cap * 2 : 4;
        struct part *v = realloc(t->parts, n * sizeof(*v));
        if (!v)
            return -ENOMEM;
        t->parts = v;
        *cap = n;
    }
    t->parts[t->nparts++] = p;
    return 0;
}

static int add_ref(struct ird_template *t, size_t *cap, const struct ird_template_ref *r)
{
    if (t->nrefs == *cap) {
        size_t n = *cap ? *cap * 2 : 2;
        struct ird_template_ref *v = realloc(t->refs, n * sizeof(*v));
        if (!v)
            return -ENOMEM;
        t->refs = v;
        *cap = n;
    }
    t->refs[t->nrefs++] = *r;
    return 0;
}

static int flush_lit(struct ird_template *t, size_t *pcap, struct ird_buf *lit)
{
    if (lit->len == 0)
        return 0;
    struct part p = {.lit_len = lit->len};
    p.lit = ird_buf_steal(lit);
    if (add_part(t, pcap, p) < 0) {
        free(p.lit);
        return -ENOMEM;
    }
    return 0;
}

/* The parser behind both entry points: single stops after one variable. */
static struct ird_template *parse(const char *text, unsigned col0, bool single, size_t *ret_len,
                                  struct ird_err *err)
{
    struct ird_template *t = calloc(1, sizeof(*t));
    struct ird_buf lit = IRD_BUF_INIT;
    size_t pcap = 0, rcap = 0, i = 0;
    if (!t)
        goto nomem;
    if (single && (text[0] != '$' || text[1] != '{')) {
        ird_err_set(err, -EINVAL, "expected ${ at column %u", col0);
        goto fail;
    }
    while (text[i]) {
        if (text[i] == '$' && text[i + 1] == '$') {
            if (ird_buf_append(&lit, "$", 1) < 0)
                goto nomem;
            i += 2;
        } else if (text[i] == '$' && text[i + 1] == '{') {
            struct ird_template_ref r = {0};
            size_t end = i;
            if (parse_var(text, i, col0, &r, &end, err) < 0)
                goto fail;
            if (add_ref(t, &rcap, &r) < 0) {
                ref_clear(&r);
                goto nomem;
            }
            if (flush_lit(t, &pcap, &lit) < 0 ||
                add_part(t, &pcap, (struct part){.ref = t->nrefs - 1}) < 0)
                goto nomem;
            i = end;
            if (single)
                break;
        } else {
            if (ird_buf_append(&lit, text + i, 1) < 0)
                goto nomem;
            i++;
        }
    }
    if (t->nrefs == 0) {
        t->literal = lit.data ? dup_n(lit.data, lit.len) : dup_n("", 0);
        if (!t->literal)
            goto nomem;
    }
    if (flush_lit(t, &pcap, &lit) < 0)
        goto nomem;
    t->text = dup_n(text, i);
    if (!t->text)
        goto nomem;
    if (ret_len)
        *ret_len = i;
    return t;
nomem:
    oom(err);
fail:
    ird_buf_free(&lit);
    ird_template_free(t);
    return NULL;
}

struct ird_template *ird_template_parse(const char *text, struct ird_err *err)
{
    return parse(text ? text : "", 1, false, NULL, err);
}

struct ird_template *ird_template_parse_var(const char *text, unsigned first_column,
                                            size_t *ret_len, struct ird_err *err)
{
    return parse(text, first_column, true, ret_len, err);
}

const char *ird_template_text(const struct ird_template *t)
{
    return t->text;
}

const char *ird_template_literal(const struct ird_template *t)
{
    return t->literal;
}

bool ird_template_is_single_var(const struct ird_template *t)
{
    return t->nparts == 1 && t->parts[0].lit == NULL;
}

size_t ird_template_ref_count(const struct ird_template *t)
{
    return t->nrefs;
}

const struct ird_template_ref *ird_template_ref_at(const struct ird_template *t, size_t i)
{
    return i < t->nrefs ? &t->refs[i] : NULL;
}

/* Walk ctx along the reference; NULL when absent or JSON null. */
static const cJSON *lookup(const cJSON *ctx, const struct ird_template_ref *r)
{
    const cJSON *node = cJSON_GetObjectItemCaseSensitive(ctx, r->root);
    for (size_t i = 0; node && i < r->nsegs; i++) {
        const char *seg = r->segs[i];
        if (cJSON_IsObject(node)) {
            node = cJSON_GetObjectItemCaseSensitive(node, seg);
        } else if (cJSON_IsArray(node) && ird_all_digits(seg) && strlen(seg) < 10) {
            node = cJSON_GetArrayItem(node, (int)strtol(seg, NULL, 10));
        } else {
            node = NULL;
        }
    }
    if (cJSON_IsNull(node) || cJSON_IsInvalid(node))
        return NULL;
    return node;
}

/* What to substitute for a reference: *ret_node is the value, or NULL with
 * *ret_def set when the default applies. */
static int resolve(const cJSON *ctx, const struct ird_template_ref *r, const cJSON **ret_node,
                   const char **ret_def, struct ird_err *err)
{
    const cJSON *node = lookup(ctx, r);
    *ret_node = NULL;
    *ret_def = NULL;
    if (r->def && (!node || (cJSON_IsString(node) && node->valuestring[0] == '\0'))) {
        *ret_def = r->def;
        return 0;
    }
    if (!node)
        return ird_err_set(err, -ENOENT, "variable %s is not set", r->path);
    *ret_node = node;
    return 0;
}

static int format_number(double d, char *out, size_t outlen)
{
    if (isfinite(d) && d == trunc(d) && fabs(d) < 9007199254740992.0)
        return snprintf(out, outlen, "%lld", (long long)d);
    if (!isfinite(d))
        return snprintf(out, outlen, "%s", isnan(d) ? "nan" : (d > 0 ? "inf" : "-inf"));
    int n = snprintf(out, outlen, "%.15g", d);
    if (strtod(out, NULL) != d)
        n = snprintf(out, outlen, "%.17g", d);
    return n;
}

static int append_value(struct ird_buf *b, const cJSON *node, const struct ird_template_ref *r,
                        bool alone, struct ird_err *err)
{
    char num[40];
    int rc = 0;
    if (cJSON_IsString(node)) {
        rc = ird_buf_puts(b, node->valuestring);
    } else if (cJSON_IsNumber(node)) {
        format_number(node->valuedouble, num, sizeof(num));
        rc = ird_buf_puts(b, num);
    } else if (cJSON_IsBool(node)) {
        rc = ird_buf_puts(b, cJSON_IsTrue(node) ? "true" : "false");
    } else if (!alone) {
        return ird_err_set(err, -EINVAL, "variable %s is %s; it can only be used alone", r->path,
                           cJSON_IsArray(node) ? "a list" : "an object");
    } else {
        char *json = cJSON_PrintUnformatted(node);
        if (!json)
            return oom(err);
        rc = ird_buf_puts(b, json);
        free(json);
    }
    return rc < 0 ? oom(err) : 0;
}

static int too_big(size_t max_len, struct ird_err *err)
{
    return ird_err_set(err, -E2BIG, "expansion is longer than %zu bytes", max_len);
}

int ird_template_expand(const struct ird_template *t, const cJSON *ctx, size_t max_len, char **ret,
                        struct ird_err *err)
{
    struct ird_buf b = IRD_BUF_INIT;
    bool alone = ird_template_is_single_var(t);
    int rc = 0;
    for (size_t i = 0; i < t->nparts && rc == 0; i++) {
        const struct part *p = &t->parts[i];
        if (p->lit) {
            rc = ird_buf_append(&b, p->lit, p->lit_len) < 0 ? oom(err) : 0;
        } else {
            const struct ird_template_ref *r = &t->refs[p->ref];
            const cJSON *node;
            const char *def;
            rc = resolve(ctx, r, &node, &def, err);
            if (rc == 0 && def)
                rc = ird_buf_puts(&b, def) < 0 ? oom(err) : 0;
            else if (rc == 0)
                rc = append_value(&b, node, r, alone, err);
        }
        if (rc == 0 && b.len > max_len)
            rc = too_big(max_len, err);
    }
    if (rc < 0) {
        ird_buf_free(&b);
        return rc;
    }
    char *s = b.data ? ird_buf_steal(&b) : dup_n("", 0);
    if (!s)
        return oom(err);
    *ret = s;
    return 0;
}

int ird_template_expand_json(const struct ird_template *t, const cJSON *ctx, size_t max_len,
                             cJSON **ret, struct ird_err *err)
{
    cJSON *out = NULL;
    if (ird_template_is_single_var(t)) {
        const struct ird_template_ref *r = &t->refs[t->parts[0].ref];
        const cJSON *node;
        const char *def;
        int rc = resolve(ctx, r, &node, &def, err);
        if (rc < 0)
            return rc;
        if (def) {
            if (strlen(def) > max_len)
                return too_big(max_len, err);
            out = cJSON_CreateString(def);
        } else if (cJSON_IsString(node)) {
            if (strlen(node->valuestring) > max_len)
                return too_big(max_len, err);
            out = cJSON_Duplicate(node, true);
        } else if (cJSON_IsArray(node) || cJSON_IsObject(node)) {
            char *json = cJSON_PrintUnformatted(node);
            if (!json)
                return oom(err);
            size_t n = strlen(json);
            free(json);
            if (n > max_len)
                return too_big(max_len, err);
            out = cJSON_Duplicate(node, true);
        } else {
            out = cJSON_Duplicate(node, true);
        }
    } else {
        char *s = NULL;
        int rc = ird_template_expand(t, ctx, max_len, &s, err);
        if (rc < 0)
            return rc;
        out = cJSON_CreateString(s);
        free(s);
    }
    if (!out)
        return oom(err);
    *ret = out;
    return 0;
}
