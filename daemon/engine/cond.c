/* Step conditions: a recursive-descent parser producing a small tree, and
 * its evaluator. Operands are templates (template.c), so variables resolve
 * exactly as in action parameters; their values are only ever compared. */
#include "engine/cond.h"

#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/k8s_names.h"

/* Bounds on what one condition may expand or nest. */
#define COND_MAX_EXPANSION (64 * 1024)
#define COND_MAX_DEPTH     64

enum cmp_class { CMP_TEXT, CMP_REGEX, CMP_NUMBER };

/* A comparison: its class, and which signs of compare(a, b) make it true
 * (bit 0: a < b, bit 1: a == b, bit 2: a > b); for regexes bit 1 is "matches". */
struct cmp_op {
    const char *text;
    enum cmp_class cls;
    unsigned accept;
};

#define LT_BIT 1u
#define EQ_BIT 2u
#define GT_BIT 4u

/* Two-character operators first so that "<=" is not read as "<". */
static const struct cmp_op cmp_ops[] = {
    {"==", CMP_TEXT, EQ_BIT},
    {"!=", CMP_TEXT, LT_BIT | GT_BIT},
    {"=~", CMP_REGEX, EQ_BIT},
    {"!~", CMP_REGEX, LT_BIT | GT_BIT},
    {"<=", CMP_NUMBER, LT_BIT | EQ_BIT},
    {">=", CMP_NUMBER, GT_BIT | EQ_BIT},
    {"<", CMP_NUMBER, LT_BIT},
    {">", CMP_NUMBER, GT_BIT},
};

enum operand_kind { OPD_TEMPLATE, OPD_NUMBER, OPD_BOOL };

struct operand {
    enum operand_kind kind;
    struct ird_template *t; /* OPD_TEMPLATE */
    char *text;             /* OPD_NUMBER: as written */
    double num;
    bool b;
};

enum node_kind { NODE_OR, NODE_AND, NODE_NOT, NODE_CMP, NODE_TRUTH };

struct node {
    enum node_kind kind;
    unsigned column;
    struct node *l, *r; /* OR, AND (both), NOT (l) */
    const struct cmp_op *op;
    struct operand a, b; /* CMP (both), TRUTH (a) */
    regex_t re;
    bool has_re;
};

struct ird_cond {
    char *text;
    struct node *root;
};

struct parser {
    const char *s;
    size_t i;
    int depth;
    int operators; /* && and ||: each adds a level to the tree the evaluator recurses on */
    struct ird_err *err;
};

#define COND_MAX_OPERATORS 256

static void operand_clear(struct operand *o)
{
    ird_template_free(o->t);
    free(o->text);
}

static void node_free(struct node *n)
{
    if (!n)
        return;
    node_free(n->l);
    node_free(n->r);
    operand_clear(&n->a);
    operand_clear(&n->b);
    if (n->has_re)
        regfree(&n->re);
    free(n);
}

void ird_cond_free(struct ird_cond *c)
{
    if (!c)
        return;
    node_free(c->root);
    free(c->text);
    free(c);
}

const char *ird_cond_text(const struct ird_cond *c)
{
    return c->text;
}

static unsigned col(const struct parser *p)
{
    return (unsigned)p->i + 1;
}

static void skip_ws(struct parser *p)
{
    while (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' || p->s[p->i] == '\r')
        p->i++;
}

static bool is_word_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* Quote what follows the cursor (a few bytes) for an error message. */
static const char *next_text(const struct parser *p, char *out, size_t outlen)
{
    char piece[13];
    size_t n = strnlen(p->s + p->i, sizeof(piece) - 1);
    memcpy(piece, p->s + p->i, n);
    piece[n] = '\0';
    return ird_k8s_quote(piece, out, outlen);
}

static struct node *new_node(struct parser *p, enum node_kind kind, unsigned column)
{
    struct node *n = calloc(1, sizeof(*n));
    if (!n)
        ird_err_set(p->err, -ENOMEM, "out of memory");
    else {
        n->kind = kind;
        n->column = column;
    }
    return n;
}

/* A quoted string: unescape, then parse the content as a template. */
static int parse_string(struct parser *p, struct operand *o)
{
    char quote = p->s[p->i];
    unsigned start = col(p);
    struct ird_buf b = IRD_BUF_INIT;
    p->i++;
    for (;;) {
        char c = p->s[p->i];
        if (c == '\0') {
            ird_buf_free(&b);
            return ird_err_set(p->err, -EINVAL, "unterminated string at column %u", start);
        }
        if (c == quote)
            break;
        if (c == '\\' &&
            (p->s[p->i + 1] == '"' || p->s[p->i + 1] == '\'' || p->s[p->i + 1] == '\\'))
            c = p->s[++p->i];
        if (ird_buf_append(&b, &c, 1) < 0) {
            ird_buf_free(&b);
            return ird_err_set(p->err, -ENOMEM, "out of memory");
        }
        p->i++;
    }
    p->i++;
    o->kind = OPD_TEMPLATE;
    o->t = ird_template_parse(b.data ? b.data : "", p->err);
    ird_buf_free(&b);
    if (!o->t) {
        ird_err_prefix(p->err, "in the string at column %u: ", start);
        return -EINVAL;
    }
    return 0;
}

static int parse_number(struct parser *p, struct operand *o)
{
    size_t start = p->i;
    if (p->s[p->i] == '-')
        p->i++;
    while (p->s[p->i] >= '0' && p->s[p->i] <= '9')
        p->i++;
    if (p->s[p->i] == '.') {
        p->i++;
        if (!(p->s[p->i] >= '0' && p->s[p->i] <= '9'))
            return ird_err_set(p->err, -EINVAL, "expected a digit at column %u", col(p));
        while (p->s[p->i] >= '0' && p->s[p->i] <= '9')
            p->i++;
    }
    if (is_word_char(p->s[p->i]))
        return ird_err_set(p->err, -EINVAL, "malformed number at column %u", (unsigned)start + 1);
    o->kind = OPD_NUMBER;
    o->text = malloc(p->i - start + 1);
    if (!o->text)
        return ird_err_set(p->err, -ENOMEM, "out of memory");
    memcpy(o->text, p->s + start, p->i - start);
    o->text[p->i - start] = '\0';
    o->num = strtod(o->text, NULL);
    return 0;
}

static int parse_operand(struct parser *p, struct operand *o)
{
    skip_ws(p);
    const char *s = p->s + p->i;
    char q[IRD_K8S_QUOTE_MAX];
    if (s[0] == '$' && s[1] == '{') {
        size_t len = 0;
        o->kind = OPD_TEMPLATE;
        o->t = ird_template_parse_var(s, col(p), &len, p->err);
        if (!o->t)
            return -EINVAL;
        p->i += len;
        return 0;
    }
    if (s[0] == '"' || s[0] == '\'')
        return parse_string(p, o);
    if ((s[0] >= '0' && s[0] <= '9') || (s[0] == '-' && s[1] >= '0' && s[1] <= '9'))
        return parse_number(p, o);
    if (is_word_char(s[0])) {
        size_t n = 0;
        while (is_word_char(s[n]))
            n++;
        if ((n == 4 && memcmp(s, "true", 4) == 0) || (n == 5 && memcmp(s, "false", 5) == 0)) {
            o->kind = OPD_BOOL;
            o->b = n == 4;
            p->i += n;
            return 0;
        }
        char word[41];
        snprintf(word, sizeof(word), "%.*s", (int)(n < 40 ? n : 40), s);
        return ird_err_set(p->err, -EINVAL,
                           "unexpected word %s at column %u (quote strings, use ${...} for "
                           "variables)",
                           ird_k8s_quote(word, q, sizeof(q)), col(p));
    }
    if (s[0] == '\0')
        return ird_err_set(p->err, -EINVAL, "expected a value at column %u, found the end", col(p));
    return ird_err_set(p->err, -EINVAL, "expected a value at column %u, found %s", col(p),
                       next_text(p, q, sizeof(q)));
}

static const struct cmp_op *peek_cmp(const struct parser *p)
{
    const char *s = p->s + p->i;
    for (size_t k = 0; k < sizeof(cmp_ops) / sizeof(cmp_ops[0]); k++)
        if (strncmp(s, cmp_ops[k].text, strlen(cmp_ops[k].text)) == 0)
            return &cmp_ops[k];
    return NULL;
}

static int compile_regex(struct parser *p, struct node *n, unsigned rcol)
{
    const char *pattern = n->b.kind == OPD_TEMPLATE ? ird_template_literal(n->b.t) : NULL;
    if (!pattern)
        return ird_err_set(p->err, -EINVAL,
                           "the right side of %s at column %u must be a literal string (a "
                           "regular expression)",
                           n->op->text, n->column);
    int rc = regcomp(&n->re, pattern, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        char why[128], q[IRD_K8S_QUOTE_MAX];
        regerror(rc, &n->re, why, sizeof(why));
        return ird_err_set(p->err, -EINVAL, "invalid regular expression %s at column %u: %s",
                           ird_k8s_quote(pattern, q, sizeof(q)), rcol, why);
    }
    n->has_re = true;
    return 0;
}

static struct node *parse_or(struct parser *p);

static struct node *parse_primary(struct parser *p)
{
    skip_ws(p);
    unsigned c0 = col(p);
    if (p->s[p->i] == '(') {
        p->i++;
        struct node *inner = parse_or(p);
        if (!inner)
            return NULL;
        skip_ws(p);
        if (p->s[p->i] != ')') {
            node_free(inner);
            ird_err_set(p->err, -EINVAL, "missing ')' for the '(' at column %u", c0);
            return NULL;
        }
        p->i++;
        return inner;
    }
    struct node *n = new_node(p, NODE_TRUTH, c0);
    if (!n)
        return NULL;
    if (parse_operand(p, &n->a) < 0)
        goto fail;
    skip_ws(p);
    const struct cmp_op *op = peek_cmp(p);
    if (!op)
        return n;
    n->kind = NODE_CMP;
    n->op = op;
    n->column = col(p);
    p->i += strlen(op->text);
    skip_ws(p);
    unsigned rcol = col(p);
    if (parse_operand(p, &n->b) < 0)
        goto fail;
    if (op->cls == CMP_REGEX && compile_regex(p, n, rcol) < 0)
        goto fail;
    return n;
fail:
    node_free(n);
    return NULL;
}

static struct node *parse_not(struct parser *p)
{
    skip_ws(p);
    if (p->s[p->i] == '!' && p->s[p->i + 1] != '=' && p->s[p->i + 1] != '~') {
        unsigned c0 = col(p);
        if (++p->depth > COND_MAX_DEPTH) {
            ird_err_set(p->err, -EINVAL, "condition nested too deeply at column %u", c0);
            return NULL;
        }
        p->i++;
        struct node *n = new_node(p, NODE_NOT, c0);
        if (!n)
            return NULL;
        n->l = parse_not(p);
        p->depth--;
        if (!n->l) {
            node_free(n);
            return NULL;
        }
        return n;
    }
    return parse_primary(p);
}

/* One level of a left-associative binary operator ("&&" or "||"). */
static struct node *parse_binary(struct parser *p, const char *optext, enum node_kind kind,
                                 struct node *(*sub)(struct parser *))
{
    struct node *l = sub(p);
    while (l) {
        skip_ws(p);
        if (strncmp(p->s + p->i, optext, 2) != 0)
            break;
        if (++p->operators > COND_MAX_OPERATORS) {
            ird_err_set(p->err, -EINVAL, "more than %d && and || operators at column %u",
                        COND_MAX_OPERATORS, col(p));
            node_free(l);
            return NULL;
        }
        struct node *n = new_node(p, kind, col(p));
        if (!n) {
            node_free(l);
            return NULL;
        }
        p->i += 2;
        n->l = l;
        n->r = sub(p);
        if (!n->r) {
            node_free(n);
            return NULL;
        }
        l = n;
    }
    return l;
}

static struct node *parse_and(struct parser *p)
{
    return parse_binary(p, "&&", NODE_AND, parse_not);
}

static struct node *parse_or(struct parser *p)
{
    if (++p->depth > COND_MAX_DEPTH) {
        ird_err_set(p->err, -EINVAL, "condition nested too deeply at column %u", col(p));
        return NULL;
    }
    struct node *n = parse_binary(p, "||", NODE_OR, parse_and);
    p->depth--;
    return n;
}

struct ird_cond *ird_cond_parse(const char *text, struct ird_err *err)
{
    struct parser p = {.s = text ? text : "", .err = err};
    skip_ws(&p);
    if (p.s[p.i] == '\0') {
        ird_err_set(err, -EINVAL, "empty condition");
        return NULL;
    }
    struct node *root = parse_or(&p);
    if (!root)
        return NULL;
    skip_ws(&p);
    if (p.s[p.i] != '\0') {
        char q[IRD_K8S_QUOTE_MAX];
        ird_err_set(err, -EINVAL, "unexpected %s at column %u (expected &&, || or the end)",
                    next_text(&p, q, sizeof(q)), col(&p));
        node_free(root);
        return NULL;
    }
    struct ird_cond *c = calloc(1, sizeof(*c));
    if (c)
        c->text = strdup(p.s);
    if (!c || !c->text) {
        free(c);
        node_free(root);
        ird_err_set(err, -ENOMEM, "out of memory");
        return NULL;
    }
    c->root = root;
    return c;
}

/* An evaluated operand: its JSON value (owned) and its text form. */
struct value {
    cJSON *json;
    char *text;       /* NULL for lists and objects */
    const char *what; /* for messages: the variable's path or the literal */
};

static void value_clear(struct value *v)
{
    cJSON_Delete(v->json);
    free(v->text);
    v->json = NULL; /* cleared twice on some error paths */
    v->text = NULL;
}

static char *number_text(double d)
{
    char tmp[40];
    if (d == trunc(d) && fabs(d) < 9007199254740992.0)
        snprintf(tmp, sizeof(tmp), "%lld", (long long)d);
    else
        snprintf(tmp, sizeof(tmp), "%.17g", d);
    return strdup(tmp);
}

static int eval_operand(const struct operand *o, const cJSON *ctx, struct value *v,
                        struct ird_err *err)
{
    memset(v, 0, sizeof(*v));
    if (o->kind == OPD_NUMBER) {
        v->json = cJSON_CreateNumber(o->num);
        v->text = strdup(o->text);
        v->what = o->text;
    } else if (o->kind == OPD_BOOL) {
        v->json = cJSON_CreateBool(o->b);
        v->text = strdup(o->b ? "true" : "false");
        v->what = v->text;
    } else {
        int rc = ird_template_expand_json(o->t, ctx, COND_MAX_EXPANSION, &v->json, err);
        if (rc < 0)
            return rc;
        v->what = ird_template_is_single_var(o->t) ? ird_template_ref_at(o->t, 0)->path
                                                   : ird_template_text(o->t);
        if (cJSON_IsString(v->json))
            v->text = strdup(v->json->valuestring);
        else if (cJSON_IsNumber(v->json))
            v->text = number_text(v->json->valuedouble);
        else if (cJSON_IsBool(v->json))
            v->text = strdup(cJSON_IsTrue(v->json) ? "true" : "false");
        else
            return 0;
    }
    if (!v->json || !v->text) {
        value_clear(v);
        return ird_err_set(err, -ENOMEM, "out of memory");
    }
    return 0;
}

static bool truthy(const struct value *v)
{
    if (!v->text)
        return cJSON_GetArraySize(v->json) > 0;
    if (cJSON_IsFalse(v->json))
        return false;
    if (cJSON_IsNumber(v->json))
        return v->json->valuedouble != 0;
    return v->text[0] != '\0' && strcmp(v->text, "false") != 0 && strcmp(v->text, "0") != 0;
}

/* Strict decimal: [-+]?digits[.digits][(e|E)[-+]?digits], nothing around it. */
static bool parse_decimal(const char *s, double *ret)
{
    const char *p = s;
    if (*p == '-' || *p == '+')
        p++;
    const char *d = p;
    while (*p >= '0' && *p <= '9')
        p++;
    bool digits = p > d;
    if (*p == '.') {
        const char *f = ++p;
        while (*p >= '0' && *p <= '9')
            p++;
        digits = digits || p > f;
    }
    if (!digits)
        return false;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '-' || *p == '+')
            p++;
        const char *e = p;
        while (*p >= '0' && *p <= '9')
            p++;
        if (p == e)
            return false;
    }
    if (*p != '\0')
        return false;
    double v = strtod(s, NULL);
    if (!isfinite(v))
        return false;
    *ret = v;
    return true;
}

static int compare(const struct node *n, const struct value *a, const struct value *b, bool *ret,
                   struct ird_err *err)
{
    char q[IRD_K8S_QUOTE_MAX];
    const struct value *bad = !a->text ? a : (!b->text ? b : NULL);
    if (bad)
        return ird_err_set(err, -EINVAL, "comparison at column %u: %s is %s; it cannot be compared",
                           n->column, bad->what, cJSON_IsArray(bad->json) ? "a list" : "an object");
    unsigned sign;
    if (n->op->cls == CMP_REGEX) {
        sign = regexec(&n->re, a->text, 0, NULL, 0) == 0 ? EQ_BIT : LT_BIT;
    } else if (n->op->cls == CMP_TEXT) {
        int c = strcmp(a->text, b->text);
        sign = c < 0 ? LT_BIT : (c == 0 ? EQ_BIT : GT_BIT);
    } else {
        double x, y;
        if (!parse_decimal(a->text, &x))
            return ird_err_set(err, -EINVAL, "comparison at column %u: %s is not a number",
                               n->column, ird_k8s_quote(a->text, q, sizeof(q)));
        if (!parse_decimal(b->text, &y))
            return ird_err_set(err, -EINVAL, "comparison at column %u: %s is not a number",
                               n->column, ird_k8s_quote(b->text, q, sizeof(q)));
        sign = x < y ? LT_BIT : (x == y ? EQ_BIT : GT_BIT);
    }
    *ret = (n->op->accept & sign) != 0;
    return 0;
}

static int eval_node(const struct node *n, const cJSON *ctx, bool *ret, struct ird_err *err)
{
    int rc;
    bool l;
    if (n->kind == NODE_OR || n->kind == NODE_AND) {
        rc = eval_node(n->l, ctx, &l, err);
        if (rc < 0)
            return rc;
        if (l == (n->kind == NODE_OR)) {
            *ret = l;
            return 0;
        }
        return eval_node(n->r, ctx, ret, err);
    }
    if (n->kind == NODE_NOT) {
        rc = eval_node(n->l, ctx, &l, err);
        if (rc == 0)
            *ret = !l;
        return rc;
    }
    struct value a, b;
    rc = eval_operand(&n->a, ctx, &a, err);
    if (rc < 0)
        return rc;
    if (n->kind == NODE_TRUTH) {
        *ret = truthy(&a);
        value_clear(&a);
        return 0;
    }
    if (n->op->cls == CMP_REGEX) {
        memset(&b, 0, sizeof(b));
        b.text = strdup("");
        rc = b.text ? 0 : ird_err_set(err, -ENOMEM, "out of memory");
    } else {
        rc = eval_operand(&n->b, ctx, &b, err);
    }
    if (rc < 0) {
        value_clear(&a);
        return rc;
    }
    rc = compare(n, &a, &b, ret, err);
    value_clear(&a);
    value_clear(&b);
    return rc;
}

int ird_cond_eval(const struct ird_cond *c, const cJSON *ctx, bool *ret, struct ird_err *err)
{
    bool v = false;
    int rc = eval_node(c->root, ctx, &v, err);
    if (rc == 0)
        *ret = v;
    return rc;
}

typedef int (*ref_cb)(const struct ird_template_ref *ref, void *userdata);

static int foreach_operand(const struct operand *o, ref_cb cb, void *userdata)
{
    if (o->kind != OPD_TEMPLATE || !o->t)
        return 0;
    for (size_t i = 0; i < ird_template_ref_count(o->t); i++) {
        int rc = cb(ird_template_ref_at(o->t, i), userdata);
        if (rc)
            return rc;
    }
    return 0;
}

static int foreach_node(const struct node *n, ref_cb cb, void *userdata)
{
    if (!n)
        return 0;
    int rc = foreach_node(n->l, cb, userdata);
    if (!rc)
        rc = foreach_node(n->r, cb, userdata);
    if (!rc)
        rc = foreach_operand(&n->a, cb, userdata);
    if (!rc)
        rc = foreach_operand(&n->b, cb, userdata);
    return rc;
}

int ird_cond_foreach_ref(const struct ird_cond *c, ref_cb cb, void *userdata)
{
    return foreach_node(c->root, cb, userdata);
}
