/* intake/decode: the source config group -> decoder, and request bodies in each
 * wire format -> normalized alerts. Shared rules (severity, status, times,
 * sizes, fallback id) live here once; each format is one decode_<type>(). */
#include "intake/decode.h"
#include "core/cfgerr.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "core/clock.h"
#include "core/text.h"
#include "intake/jsoncheck.h"

#define DEFAULT_MAX_ALERTS 1000
#define MAX_PAIRS          128 /* labels, and annotations, per alert */
#define LABEL_KEY_CAP      256
#define LABEL_VALUE_CAP    1024
#define ANNOTATION_CAP     16384
#define PATH_MAX_SEGS      16
#define PATH_TEXT_MAX      256

enum field {
    F_ID,
    F_STATUS,
    F_SEVERITY,
    F_TITLE,
    F_NAMESPACE,
    F_POD,
    F_CONTAINER,
    F_NODE,
    F_STARTS_AT,
    F_ENDS_AT,
    F_N
};

/* name: the alert key and the `map`/`defaults`/`fields` key; cap: longest
 * value accepted (0: normalized, no cap); def/fld: allowed in defaults/fields;
 * splunk: the default `fields` name in Splunk's result row. */
static const struct field_row {
    const char *name;
    size_t cap;
    bool def, fld;
    const char *splunk;
} fields[F_N] = {
    [F_ID] = {"id", 512, false, false, NULL},
    [F_STATUS] = {"status", 0, true, false, NULL},
    [F_SEVERITY] = {"severity", 0, true, true, "severity"},
    [F_TITLE] = {"title", 1024, true, true, "title"},
    [F_NAMESPACE] = {"namespace", 253, true, true, "namespace"},
    [F_POD] = {"pod", 253, true, true, "pod"},
    [F_CONTAINER] = {"container", 253, true, true, "container"},
    [F_NODE] = {"node", 253, true, true, "node"},
    [F_STARTS_AT] = {"starts_at", 0, false, false, NULL},
    [F_ENDS_AT] = {"ends_at", 0, false, false, NULL},
};

static const char *const severities[] = {"critical", "error", "warning", "info", NULL};

static const struct synonym {
    const char *word, *severity;
} synonyms[] = {
    {"critical", "critical"}, {"crit", "critical"},
    {"page", "critical"},     {"emergency", "critical"},
    {"emerg", "critical"},    {"alert", "critical"},
    {"fatal", "critical"},    {"disaster", "critical"},
    {"p1", "critical"},       {"sev0", "critical"},
    {"error", "error"},       {"err", "error"},
    {"high", "error"},        {"major", "error"},
    {"p2", "error"},          {"sev1", "error"},
    {"warning", "warning"},   {"warn", "warning"},
    {"medium", "warning"},    {"minor", "warning"},
    {"p3", "warning"},        {"sev2", "warning"},
    {"info", "info"},         {"informational", "info"},
    {"information", "info"},  {"notice", "info"},
    {"low", "info"},          {"debug", "info"},
    {"none", "info"},         {"ok", "info"},
    {"p4", "info"},           {"p5", "info"},
    {"sev3", "info"},         {"sev4", "info"},
};

static const char *const resolved_words[] = {"resolved", "ok",      "closed", "recovered",
                                             "inactive", "cleared", "normal", NULL};

/* A compiled path (see decode.h). Segments point into text. */
struct path {
    char text[2 * PATH_TEXT_MAX];
    char source[PATH_TEXT_MAX];
    size_t n;
    struct {
        const char *key;
        bool bracket;
    } seg[PATH_MAX_SEGS];
};

struct sevmap_row {
    char *from;
    const char *to;
};

struct dctx;
typedef int (*decode_fn)(struct dctx *c, const cJSON *root, struct ird_err *err);

struct type_row {
    const char *name;
    decode_fn decode;
    bool takes_map, takes_fields;
};

struct ird_decoder {
    const struct type_row *type;
    char *defaults[F_N];
    struct sevmap_row *sevmap;
    size_t nsevmap;
    struct path *map[F_N];
    struct path *map_labels, *map_annotations, *items;
    char *fields[F_N]; /* splunk result field names */
};

/* One request being decoded. */
struct dctx {
    const struct ird_decoder *d;
    const char *source;
    cJSON *out;
    size_t max_alerts;
    long truncated;
    char prefix[64]; /* input path of the element being decoded: "alerts[3]" */
    const struct ird_http_header *headers;
    size_t nheaders;
    cJSON *tree;            /* the parsed body */
    const cJSON *container; /* the array of the body whose elements are being decoded */
    /* Each output alert's raw element and the array it is in (NULL: the body
     * itself), moved into the alert once decoding is done. */
    struct pending_raw {
        const cJSON *raw, *container;
    } * raws;
    size_t nraws, capraws;
};

/* One alert being built. Values are borrowed from the parsed body or point
 * into own[]/heap. */
struct alert {
    const char *v[F_N];
    char own[F_N][48];
    char *heap;
    cJSON *labels, *annotations;
    const cJSON *raw;
};

/* ---------- messages ---------- */

static int vfail(struct dctx *c, struct ird_err *err, int code, const char *inpath, const char *fmt,
                 va_list ap) __attribute__((format(printf, 5, 0)));
static int vfail(struct dctx *c, struct ird_err *err, int code, const char *inpath, const char *fmt,
                 va_list ap)
{
    char msg[384];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    const char *pre = c->prefix;
    const char *dot = (*pre && inpath && *inpath && inpath[0] != '[') ? "." : "";
    if (!*pre && (!inpath || !*inpath))
        pre = "body";
    return ird_err_set(err, code, "%s%s%s: %s", pre, dot, inpath ? inpath : "", msg);
}

/* "<prefix>.<inpath>: <msg>" into err; returns -EINVAL. */
static int fail(struct dctx *c, struct ird_err *err, const char *inpath, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(struct dctx *c, struct ird_err *err, const char *inpath, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vfail(c, err, -EINVAL, inpath, fmt, ap);
    va_end(ap);
    return rc;
}

static int too_many(size_t n, size_t max, struct ird_err *err)
{
    return ird_err_set(err, -EMSGSIZE, "%zu alerts; at most %zu per request", n, max);
}

/* ---------- config ---------- */

static int path_compile(const char *text, struct path *p, struct ird_err *err,
                        const config_setting_t *s)
{
    size_t len = strlen(text);
    if (len == 0 || len >= PATH_TEXT_MAX)
        return ird_cfg_fail(err, s, NULL, "a path must have 1 to %d characters", PATH_TEXT_MAX - 1);
    memcpy(p->source, text, len + 1);
    p->n = 0;
    size_t o = 0; /* each segment is copied into p->text with its own NUL */
    const char *q = text;
    while (*q) {
        if (p->n == PATH_MAX_SEGS)
            return ird_cfg_fail(err, s, NULL, "path \"%s\" has more than %d parts", text,
                                PATH_MAX_SEGS);
        const char *key, *end;
        bool bracket = *q == '[';
        if (bracket) {
            key = q + 1;
            end = strchr(key, ']');
            if (!end || end == key)
                return ird_cfg_fail(err, s, NULL,
                                    "path \"%s\": \"[\" needs a key and a closing \"]\"", text);
            q = end + 1;
            if (*q && *q != '.' && *q != '[')
                return ird_cfg_fail(err, s, NULL,
                                    "path \"%s\": expected \".\" or \"[\" after \"]\"", text);
        } else {
            key = q;
            end = q + strcspn(q, ".[");
            if (end == key)
                return ird_cfg_fail(err, s, NULL, "path \"%s\" has an empty part", text);
            q = end;
        }
        if (*q == '.') {
            q++;
            if (!*q || *q == '.')
                return ird_cfg_fail(err, s, NULL, "path \"%s\" has an empty part", text);
        }
        size_t klen = (size_t)(end - key);
        memcpy(p->text + o, key, klen);
        p->text[o + klen] = '\0';
        p->seg[p->n].key = p->text + o;
        p->seg[p->n++].bracket = bracket;
        o += klen + 1;
    }
    return 0;
}

/* ---------- reading the body ---------- */

/* Follow segs from node; plain segments also match dotted keys, the most
 * nested reading first. */
static const cJSON *path_walk(const cJSON *node, const struct path *p, size_t i)
{
    if (i == p->n)
        return node;
    if (!node)
        return NULL;
    const char *key = p->seg[i].key;
    if (cJSON_IsArray(node)) {
        if (!ird_all_digits(key) || strlen(key) > 9)
            return NULL;
        return path_walk(cJSON_GetArrayItem(node, (int)strtol(key, NULL, 10)), p, i + 1);
    }
    if (!cJSON_IsObject(node))
        return NULL;
    if (p->seg[i].bracket)
        return path_walk(cJSON_GetObjectItemCaseSensitive(node, key), p, i + 1);
    char joined[2 * PATH_TEXT_MAX];
    size_t o = 0;
    for (size_t k = i; k < p->n && !p->seg[k].bracket; k++) {
        size_t klen = strlen(p->seg[k].key);
        if (o + klen + 2 > sizeof(joined))
            break;
        if (k > i)
            joined[o++] = '.';
        memcpy(joined + o, p->seg[k].key, klen);
        o += klen;
        joined[o] = '\0';
        const cJSON *r = path_walk(cJSON_GetObjectItemCaseSensitive(node, joined), p, k + 1);
        if (r)
            return r;
    }
    return NULL;
}

/* Look a constant path up (built-in formats). */
static const cJSON *get(const cJSON *node, const char *path)
{
    struct path p;
    if (path_compile(path, &p, NULL, NULL))
        return NULL;
    return path_walk(node, &p, 0);
}

enum take_flags {
    TAKE_STRICT = 0,
    TAKE_LENIENT = 1, /* a non-scalar is ignored rather than a 400 */
    TAKE_FIRST = 2,   /* an array gives its first element (Splunk multivalue) */
};

/* The text of scalar v: 1 with *ret set (numbers into tmp), 0 for absent,
 * null or "", -EINVAL for objects/arrays unless lenient (then 0). */
static int scalar_text(struct dctx *c, const cJSON *v, const char *inpath, int flags, char *tmp,
                       size_t tmplen, const char **ret, struct ird_err *err)
{
    if (v && cJSON_IsArray(v) && (flags & TAKE_FIRST))
        v = cJSON_GetArrayItem(v, 0);
    if (!v || cJSON_IsNull(v))
        return 0;
    if (cJSON_IsString(v)) {
        *ret = v->valuestring;
        return **ret ? 1 : 0;
    }
    if (cJSON_IsBool(v)) {
        *ret = cJSON_IsTrue(v) ? "true" : "false";
        return 1;
    }
    if (cJSON_IsNumber(v)) {
        double x = v->valuedouble;
        if (x == floor(x) && fabs(x) <= 9007199254740992.0)
            snprintf(tmp, tmplen, "%lld", (long long)x);
        else
            snprintf(tmp, tmplen, "%.17g", x);
        *ret = tmp;
        return 1;
    }
    if (flags & TAKE_LENIENT)
        return 0;
    return fail(c, err, inpath, "expected a string");
}

/* Set field f of a from v found at inpath. Returns 1 set, 0 nothing there,
 * negative errno. */
static int take_value(struct dctx *c, struct alert *a, enum field f, const cJSON *v,
                      const char *inpath, int flags, struct ird_err *err)
{
    const char *s = NULL;
    int rc = scalar_text(c, v, inpath, flags, a->own[f], sizeof(a->own[f]), &s, err);
    if (rc <= 0)
        return rc;
    if (fields[f].cap && strlen(s) > fields[f].cap)
        return fail(c, err, inpath, "longer than %zu bytes", fields[f].cap);
    a->v[f] = s;
    return 1;
}

/* The first of paths (NULL-terminated) that gives field f a value. */
static int take(struct dctx *c, struct alert *a, enum field f, const cJSON *node,
                const char *const *paths, int flags, struct ird_err *err)
{
    for (; *paths; paths++) {
        int rc = take_value(c, a, f, get(node, *paths), *paths, flags, err);
        if (rc)
            return rc < 0 ? rc : 0;
    }
    return 0;
}

#define PATHS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* A field and the paths that may hold it, first match wins (NULL-terminated). */
struct take_row {
    enum field f;
    const char *paths[4];
};

/* Add key=value to labels (annotations when !label). */
static int add_pair(struct dctx *c, struct alert *a, bool label, const char *key, const char *value,
                    const char *inpath, struct ird_err *err)
{
    cJSON *obj = label ? a->labels : a->annotations;
    size_t cap = label ? LABEL_VALUE_CAP : ANNOTATION_CAP;
    if (strlen(key) > LABEL_KEY_CAP)
        return fail(c, err, inpath, "key longer than %d bytes", LABEL_KEY_CAP);
    if (strlen(value) > cap)
        return fail(c, err, inpath, "longer than %zu bytes", cap);
    cJSON *item = cJSON_CreateString(value);
    if (!item)
        return -ENOMEM;
    if (cJSON_GetObjectItemCaseSensitive(obj, key)) {
        cJSON_ReplaceItemInObjectCaseSensitive(obj, key, item);
        return 0;
    }
    if (cJSON_GetArraySize(obj) >= MAX_PAIRS) {
        cJSON_Delete(item);
        return fail(c, err, inpath, "more than %d %s", MAX_PAIRS, label ? "labels" : "annotations");
    }
    if (!cJSON_AddItemToObject(obj, key, item)) {
        cJSON_Delete(item);
        return -ENOMEM;
    }
    return 0;
}

/* Add the scalar at path under node as key (absent: nothing). */
static int pair_from(struct dctx *c, struct alert *a, bool label, const char *key,
                     const cJSON *node, const char *path, struct ird_err *err)
{
    char tmp[48];
    const char *s = NULL;
    int rc = scalar_text(c, get(node, path), path, TAKE_LENIENT, tmp, sizeof(tmp), &s, err);
    if (rc <= 0)
        return rc;
    return add_pair(c, a, label, key, s, path, err);
}

/* Copy an object of strings found at inpath. strict: anything else is a 400;
 * otherwise unusable members are skipped. */
static int copy_pairs(struct dctx *c, struct alert *a, bool label, const cJSON *obj,
                      const char *inpath, bool strict, struct ird_err *err)
{
    if (!obj || cJSON_IsNull(obj))
        return 0;
    if (!cJSON_IsObject(obj))
        return strict ? fail(c, err, inpath, "expected an object") : 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, obj) {
        char where[PATH_TEXT_MAX + 64];
        snprintf(where, sizeof(where), "%s%s%s", inpath, *inpath ? "." : "", m->string);
        char tmp[48];
        const char *s = NULL;
        int rc = scalar_text(c, m, where, strict ? TAKE_STRICT : TAKE_LENIENT, tmp, sizeof(tmp), &s,
                             err);
        if (rc < 0)
            return rc;
        if (rc == 0) {
            if (!strict || !cJSON_IsString(m))
                continue;
            s = ""; /* an empty label value is still a label */
        }
        if (!strict && (strlen(m->string) > LABEL_KEY_CAP || strlen(s) > LABEL_VALUE_CAP ||
                        cJSON_GetArraySize(label ? a->labels : a->annotations) >= MAX_PAIRS))
            continue;
        rc = add_pair(c, a, label, m->string, s, where, err);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---------- finishing an alert ---------- */

static bool in_list(const char *const *list, const char *s)
{
    for (; *list; list++)
        if (strcasecmp(*list, s) == 0)
            return true;
    return false;
}

static const char *severity_of(const struct ird_decoder *d, const char *v)
{
    if (v && *v) {
        for (size_t i = 0; i < d->nsevmap; i++)
            if (strcasecmp(d->sevmap[i].from, v) == 0)
                return d->sevmap[i].to;
        for (size_t i = 0; i < sizeof(synonyms) / sizeof(synonyms[0]); i++)
            if (strcasecmp(synonyms[i].word, v) == 0)
                return synonyms[i].severity;
    }
    return d->defaults[F_SEVERITY] ? d->defaults[F_SEVERITY] : "warning";
}

static void normalize_time(struct alert *a, enum field f)
{
    int64_t ms;
    if (!a->v[f] || ird_clock_parse(a->v[f], &ms) != 0 || ms < 0) {
        a->v[f] = "";
        return;
    }
    ird_clock_format(ms, a->own[f], sizeof(a->own[f]));
    a->v[f] = a->own[f];
}

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* The fallback dedup key (decode.h, "id"). */
static int fallback_id(const char *source, struct alert *a)
{
    static const enum field stable[] = {F_TITLE, F_NAMESPACE, F_POD, F_CONTAINER, F_NODE};
    const char *keys[MAX_PAIRS];
    size_t nkeys = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, a->labels)
        if (nkeys < MAX_PAIRS)
            keys[nkeys++] = m->string;
    qsort(keys, nkeys, sizeof(keys[0]), cmp_str);

    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char digest[32];
    unsigned int dlen = 0;
    int ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    ok = ok && EVP_DigestUpdate(md, source, strlen(source) + 1);
    for (size_t i = 0; ok && i < sizeof(stable) / sizeof(stable[0]); i++)
        ok = EVP_DigestUpdate(md, a->v[stable[i]], strlen(a->v[stable[i]]) + 1);
    for (size_t i = 0; ok && i < nkeys; i++) {
        const char *val = cJSON_GetObjectItemCaseSensitive(a->labels, keys[i])->valuestring;
        ok = EVP_DigestUpdate(md, keys[i], strlen(keys[i]) + 1) &&
             EVP_DigestUpdate(md, val, strlen(val) + 1);
    }
    ok = ok && EVP_DigestFinal_ex(md, digest, &dlen) && dlen == sizeof(digest);
    EVP_MD_CTX_free(md);
    if (!ok)
        return -ENOMEM;
    free(a->heap);
    a->heap = malloc(2 * sizeof(digest) + 1);
    if (!a->heap)
        return -ENOMEM;
    for (size_t i = 0; i < sizeof(digest); i++)
        snprintf(a->heap + 2 * i, 3, "%02x", digest[i]);
    a->v[F_ID] = a->heap;
    return 0;
}

static int alert_begin(struct alert *a, const cJSON *raw)
{
    memset(a, 0, sizeof(*a));
    a->raw = raw;
    a->labels = cJSON_CreateObject();
    a->annotations = cJSON_CreateObject();
    return a->labels && a->annotations ? 0 : -ENOMEM;
}

static void alert_drop(struct alert *a)
{
    cJSON_Delete(a->labels);
    cJSON_Delete(a->annotations);
    free(a->heap);
    a->labels = a->annotations = NULL;
    a->heap = NULL;
}

/* Apply the shared rules, build the normalized object, append it to c->out.
 * Always releases a's resources. */

static int alert_finish(struct dctx *c, struct alert *a)
{
    const struct ird_decoder *d = c->d;
    int rc = 0;
    for (int f = 0; f < F_N; f++)
        if ((!a->v[f] || !*a->v[f]) && d->defaults[f])
            a->v[f] = d->defaults[f];
    a->v[F_SEVERITY] = severity_of(d, a->v[F_SEVERITY]);
    a->v[F_STATUS] =
        a->v[F_STATUS] && in_list(resolved_words, a->v[F_STATUS]) ? "resolved" : "firing";
    normalize_time(a, F_STARTS_AT);
    normalize_time(a, F_ENDS_AT);
    for (int f = 0; f < F_N; f++)
        if (!a->v[f])
            a->v[f] = "";
    if (!*a->v[F_ID])
        rc = fallback_id(c->source, a);

    cJSON *o = rc ? NULL : cJSON_CreateObject();
    bool ok = o && cJSON_AddStringToObject(o, "source", c->source);
    for (int f = 0; ok && f < F_N; f++) {
        if (f == F_STARTS_AT) {
            ok = cJSON_AddItemToObject(o, "labels", a->labels);
            if (ok)
                a->labels = NULL;
            ok = ok && cJSON_AddItemToObject(o, "annotations", a->annotations);
            if (ok)
                a->annotations = NULL;
        }
        ok = ok && cJSON_AddStringToObject(o, fields[f].name, a->v[f]);
    }
    /* A raw element of the parsed body joins the alert after decoding (see
     * attach_raws); one the decoder built is copied now, before it goes. */
    /* The decoders say where a raw element lives: the body itself, or an
     * element of the array they iterate (c->container). */
    bool in_body = a->raw && (a->raw == c->tree || c->container);
    if (ok && !in_body) {
        cJSON *raw = cJSON_Duplicate(a->raw, 1);
        ok = raw && cJSON_AddItemToObject(o, "raw", raw);
        if (!ok)
            cJSON_Delete(raw);
    }
    if (ok && c->nraws == c->capraws) {
        size_t cap = c->capraws ? c->capraws * 2 : 8;
        struct pending_raw *v = realloc(c->raws, cap * sizeof(*v));
        ok = v != NULL;
        if (ok) {
            c->raws = v;
            c->capraws = cap;
        }
    }
    if (ok)
        c->raws[c->nraws] =
            (struct pending_raw){in_body ? a->raw : NULL, a->raw == c->tree ? NULL : c->container};
    ok = ok && cJSON_AddItemToArray(c->out, o);
    if (ok)
        c->nraws++;
    if (!ok) {
        cJSON_Delete(o);
        if (!rc)
            rc = -ENOMEM;
    }
    alert_drop(a);
    return rc;
}

/* ---------- the formats ---------- */

static void set_prefix(struct dctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_prefix(struct dctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->prefix, sizeof(c->prefix), fmt, ap);
    va_end(ap);
}

static int need_object(struct dctx *c, const cJSON *v, const char *inpath, struct ird_err *err)
{
    return cJSON_IsObject(v) ? 0 : fail(c, err, inpath, "expected an object");
}

#define TRY(x)                                                                                     \
    do {                                                                                           \
        int try_rc_ = (x);                                                                         \
        if (try_rc_ < 0)                                                                           \
            goto out;                                                                              \
    } while (0)

/* Each decode_<type> below leaves rc set and jumps to out on failure. */

static int am_alert(struct dctx *c, const cJSON *el, struct ird_err *err)
{
    struct alert a;
    int rc = alert_begin(&a, el);
    if (rc)
        goto out;
    if ((rc = need_object(c, el, "", err)))
        goto out;
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(el, "status");
    const char *st = cJSON_GetStringValue(status);
    if (!st || (strcmp(st, "firing") != 0 && strcmp(st, "resolved") != 0)) {
        rc = fail(c, err, "status", "expected \"firing\" or \"resolved\"");
        goto out;
    }
    a.v[F_STATUS] = st;
    const cJSON *labels = cJSON_GetObjectItemCaseSensitive(el, "labels");
    if ((rc = need_object(c, labels, "labels", err)) ||
        (rc = copy_pairs(c, &a, true, labels, "labels", true, err)) ||
        (rc = copy_pairs(c, &a, false, cJSON_GetObjectItemCaseSensitive(el, "annotations"),
                         "annotations", true, err)))
        goto out;
    static const struct take_row rows[] = {
        {F_ID, {"fingerprint"}},
        {F_SEVERITY, {"labels.severity"}},
        {F_TITLE, {"annotations.summary", "labels.alertname"}},
        {F_NAMESPACE, {"labels.namespace"}},
        {F_POD, {"labels.pod"}},
        {F_CONTAINER, {"labels.container"}},
        {F_NODE, {"labels.node"}},
        {F_STARTS_AT, {"startsAt"}},
        {F_ENDS_AT, {"endsAt"}},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        if ((rc = take(c, &a, rows[i].f, el, rows[i].paths, TAKE_STRICT, err)))
            goto out;
    return alert_finish(c, &a);
out:
    alert_drop(&a);
    return rc;
}

static int decode_alertmanager(struct dctx *c, const cJSON *root, struct ird_err *err)
{
    int rc = need_object(c, root, "", err);
    if (rc)
        return rc;
    const cJSON *version = cJSON_GetObjectItemCaseSensitive(root, "version");
    if (version && !(cJSON_IsString(version) && strcmp(version->valuestring, "4") == 0))
        return fail(c, err, "version", "expected \"4\"");
    const cJSON *alerts = cJSON_GetObjectItemCaseSensitive(root, "alerts");
    if (!cJSON_IsArray(alerts))
        return fail(c, err, "alerts", "expected an array");
    size_t n = (size_t)cJSON_GetArraySize(alerts);
    if (n > c->max_alerts)
        return too_many(n, c->max_alerts, err);
    const cJSON *tr = cJSON_GetObjectItemCaseSensitive(root, "truncatedAlerts");
    if (cJSON_IsNumber(tr) && tr->valuedouble > 0)
        c->truncated = tr->valuedouble < 2147483647.0 ? (long)tr->valuedouble : 2147483647L;
    size_t i = 0;
    const cJSON *el;
    c->container = alerts;
    cJSON_ArrayForEach(el, alerts) {
        set_prefix(c, "alerts[%zu]", i++);
        if ((rc = am_alert(c, el, err)))
            return rc;
    }
    return 0;
}

static int decode_falco(struct dctx *c, const cJSON *root, struct ird_err *err)
{
    struct alert a;
    int rc = alert_begin(&a, root);
    if (rc || (rc = need_object(c, root, "", err)))
        goto out;
    if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(root, "rule"))) {
        rc = fail(c, err, "rule", "expected a string");
        goto out;
    }
    const cJSON *of = cJSON_GetObjectItemCaseSensitive(root, "output_fields");
    if (of && !cJSON_IsNull(of) && (rc = need_object(c, of, "output_fields", err)))
        goto out;
    static const struct {
        enum field f;
        const char *path;
    } rows[] = {
        {F_ID, "uuid"},
        {F_SEVERITY, "priority"},
        {F_TITLE, "rule"},
        {F_NAMESPACE, "output_fields[k8s.ns.name]"},
        {F_POD, "output_fields[k8s.pod.name]"},
        {F_CONTAINER, "output_fields[container.name]"},
        {F_NODE, "hostname"},
        {F_STARTS_AT, "time"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        if ((rc = take(c, &a, rows[i].f, root, PATHS(rows[i].path), TAKE_STRICT, err)))
            goto out;
    TRY(rc = pair_from(c, &a, true, "rule", root, "rule", err));
    TRY(rc = pair_from(c, &a, true, "priority", root, "priority", err));
    TRY(rc = pair_from(c, &a, true, "source", root, "source", err));
    TRY(rc = pair_from(c, &a, false, "output", root, "output", err));
    const cJSON *tags = cJSON_GetObjectItemCaseSensitive(root, "tags");
    if (tags && !cJSON_IsNull(tags)) {
        if (!cJSON_IsArray(tags)) {
            rc = fail(c, err, "tags", "expected an array of strings");
            goto out;
        }
        char joined[LABEL_VALUE_CAP + 1];
        size_t o = 0;
        const cJSON *t;
        cJSON_ArrayForEach(t, tags) {
            if (!cJSON_IsString(t)) {
                rc = fail(c, err, "tags", "expected an array of strings");
                goto out;
            }
            size_t tl = strlen(t->valuestring);
            if (o + tl + 1 > LABEL_VALUE_CAP) {
                rc = fail(c, err, "tags", "longer than %d bytes joined", LABEL_VALUE_CAP);
                goto out;
            }
            if (o)
                joined[o++] = ',';
            memcpy(joined + o, t->valuestring, tl);
            o += tl;
        }
        joined[o] = '\0';
        TRY(rc = add_pair(c, &a, true, "tags", joined, "tags", err));
    }
    return alert_finish(c, &a);
out:
    alert_drop(&a);
    return rc;
}

static int decode_splunk(struct dctx *c, const cJSON *root, struct ird_err *err)
{
    struct alert a;
    int rc = alert_begin(&a, root);
    if (rc || (rc = need_object(c, root, "", err)))
        goto out;
    const cJSON *result = cJSON_GetObjectItemCaseSensitive(root, "result");
    if (result && !cJSON_IsNull(result) && (rc = need_object(c, result, "result", err)))
        goto out;
    TRY(rc = take(c, &a, F_ID, root, PATHS("sid"), TAKE_STRICT, err));
    TRY(rc = take(c, &a, F_TITLE, root, PATHS("search_name"), TAKE_STRICT, err));
    for (int f = 0; f < F_N; f++) {
        if (!fields[f].fld || (a.v[f] && *a.v[f]))
            continue;
        const char *name = c->d->fields[f] ? c->d->fields[f] : fields[f].splunk;
        char where[PATH_TEXT_MAX + 16];
        snprintf(where, sizeof(where), "result.%s", name);
        TRY(rc = take_value(c, &a, (enum field)f, cJSON_GetObjectItemCaseSensitive(result, name),
                            where, TAKE_FIRST, err));
    }
    if (cJSON_IsObject(result)) {
        /* Splunk rows carry many internal fields (_raw, _time...): labels take
         * the others that fit, raw keeps everything. */
        const cJSON *m;
        cJSON_ArrayForEach(m, result) {
            char tmp[48];
            const char *s = NULL;
            if (m->string[0] == '_' ||
                scalar_text(c, m, "", TAKE_LENIENT, tmp, sizeof(tmp), &s, err) <= 0 ||
                strlen(m->string) > LABEL_KEY_CAP || strlen(s) > LABEL_VALUE_CAP ||
                cJSON_GetArraySize(a.labels) >= MAX_PAIRS)
                continue;
            TRY(rc = add_pair(c, &a, true, m->string, s, "result", err));
        }
    }
    static const char *const notes[] = {"app", "owner", "sid", "results_link"};
    for (size_t i = 0; i < sizeof(notes) / sizeof(notes[0]); i++)
        TRY(rc = pair_from(c, &a, false, notes[i], root, notes[i], err));
    return alert_finish(c, &a);
out:
    alert_drop(&a);
    return rc;
}

static int elastic_alert(struct dctx *c, const cJSON *root, const cJSON *el, struct ird_err *err)
{
    struct alert a;
    int rc = alert_begin(&a, el);
    if (rc)
        goto out;
    static const struct take_row rows[] = {
        {F_ID, {"kibana.alert.uuid"}},
        {F_TITLE, {"kibana.alert.rule.name"}},
        {F_SEVERITY, {"kibana.alert.severity", "kibana.alert.rule.severity"}},
        {F_STATUS, {"kibana.alert.status"}},
        {F_NAMESPACE, {"kubernetes.namespace", "orchestrator.namespace"}},
        {F_POD, {"kubernetes.pod.name", "orchestrator.resource.name"}},
        {F_CONTAINER, {"kubernetes.container.name"}},
        {F_NODE, {"kubernetes.node.name", "host.name"}},
        {F_STARTS_AT, {"kibana.alert.start", "@timestamp"}},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        TRY(rc = take(c, &a, rows[i].f, el, rows[i].paths, TAKE_STRICT, err));
    TRY(rc = pair_from(c, &a, false, "reason", el, "kibana.alert.reason", err));
    /* Rule-level values, named from the top of the body in messages. */
    char saved[sizeof(c->prefix)];
    memcpy(saved, c->prefix, sizeof(saved));
    c->prefix[0] = '\0';
    if (!a.v[F_TITLE])
        rc = take(c, &a, F_TITLE, root, PATHS("rule.name"), TAKE_STRICT, err);
    if (rc >= 0 && !a.v[F_SEVERITY])
        rc = take(c, &a, F_SEVERITY, root, PATHS("rule.severity"), TAKE_STRICT, err);
    if (rc >= 0 && a.v[F_TITLE])
        rc = add_pair(c, &a, true, "rule", a.v[F_TITLE], "rule.name", err);
    if (rc >= 0)
        rc = pair_from(c, &a, true, "rule_id", root, "rule.id", err);
    if (rc >= 0)
        rc = pair_from(c, &a, false, "results_link", root, "results_link", err);
    if (rc >= 0)
        rc = pair_from(c, &a, false, "rule_url", root, "rule.url", err);
    memcpy(c->prefix, saved, sizeof(saved));
    if (rc < 0)
        goto out;
    return alert_finish(c, &a);
out:
    alert_drop(&a);
    return rc;
}

static int decode_elastic(struct dctx *c, const cJSON *root, struct ird_err *err)
{
    int rc = need_object(c, root, "", err);
    if (rc)
        return rc;
    const cJSON *rule = cJSON_GetObjectItemCaseSensitive(root, "rule");
    if (rule && !cJSON_IsNull(rule) && (rc = need_object(c, rule, "rule", err)))
        return rc;
    const cJSON *alerts = cJSON_GetObjectItemCaseSensitive(root, "alerts");
    if (!cJSON_IsArray(alerts))
        return fail(c, err, "alerts", "expected an array");
    size_t n = 0, i = 0;
    const cJSON *el;
    cJSON_ArrayForEach(el, alerts) {
        set_prefix(c, "alerts[%zu]", i++);
        if ((rc = need_object(c, el, "", err)))
            return rc;
        if (el->child)
            n++;
    }
    if (n > c->max_alerts)
        return too_many(n, c->max_alerts, err);
    /* The rule-level values every alert reads, looked up once: a body with
     * many top-level members must not cost that many lookups per alert. */
    cJSON *top = cJSON_CreateObject();
    static const char *const top_keys[] = {"rule",          "results_link", "rule.name",
                                           "rule.severity", "rule.id",      "rule.url"};
    for (size_t k = 0; top && k < sizeof(top_keys) / sizeof(top_keys[0]); k++) {
        cJSON *item = cJSON_GetObjectItemCaseSensitive(root, top_keys[k]);
        if (item && !cJSON_AddItemReferenceToObject(top, top_keys[k], item)) {
            cJSON_Delete(top);
            top = NULL;
        }
    }
    if (!top)
        return -ENOMEM;
    i = 0;
    c->container = alerts;
    cJSON_ArrayForEach(el, alerts) {
        set_prefix(c, "alerts[%zu]", i++);
        if (el->child && (rc = elastic_alert(c, top, el, err)))
            break;
    }
    cJSON_Delete(top); /* references only */
    return rc;
}

static const char *wazuh_severity(double level)
{
    if (level <= 4)
        return "info";
    if (level <= 7)
        return "warning";
    if (level <= 11)
        return "error";
    return "critical";
}

static int decode_wazuh(struct dctx *c, const cJSON *root, struct ird_err *err)
{
    struct alert a;
    int rc = alert_begin(&a, root);
    if (rc || (rc = need_object(c, root, "", err)))
        goto out;
    const cJSON *rule = cJSON_GetObjectItemCaseSensitive(root, "rule");
    TRY(rc = need_object(c, rule, "rule", err));
    const cJSON *level = cJSON_GetObjectItemCaseSensitive(rule, "level");
    if (cJSON_IsNumber(level)) {
        a.v[F_SEVERITY] = wazuh_severity(level->valuedouble);
    } else if (cJSON_IsString(level) && ird_all_digits(level->valuestring) &&
               strlen(level->valuestring) < 6) {
        a.v[F_SEVERITY] = wazuh_severity(strtod(level->valuestring, NULL));
    } else if (level && !cJSON_IsNull(level)) {
        rc = fail(c, err, "rule.level", "expected a number");
        goto out;
    }
    TRY(rc = take(c, &a, F_ID, root, PATHS("id"), TAKE_STRICT, err));
    TRY(rc = take(c, &a, F_TITLE, root, PATHS("rule.description"), TAKE_STRICT, err));
    TRY(rc = take(c, &a, F_NODE, root, PATHS("agent.name"), TAKE_STRICT, err));
    TRY(rc = take(c, &a, F_STARTS_AT, root, PATHS("timestamp"), TAKE_STRICT, err));
    TRY(rc = take(c, &a, F_NAMESPACE, root,
                  PATHS("data.kubernetes.namespace_name", "data.kubernetes.namespace",
                        "data.k8s.namespace"),
                  TAKE_LENIENT, err));
    TRY(rc = take(c, &a, F_POD, root,
                  PATHS("data.kubernetes.pod_name", "data.kubernetes.pod", "data.k8s.pod"),
                  TAKE_LENIENT, err));
    TRY(rc =
            take(c, &a, F_CONTAINER, root,
                 PATHS("data.kubernetes.container_name", "data.k8s.container"), TAKE_LENIENT, err));
    static const struct {
        bool label;
        const char *key, *path;
    } pairs[] = {
        {true, "rule_id", "rule.id"},      {true, "rule_level", "rule.level"},
        {true, "agent_id", "agent.id"},    {true, "agent_name", "agent.name"},
        {true, "decoder", "decoder.name"}, {false, "full_log", "full_log"},
        {false, "location", "location"},
    };
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++)
        TRY(rc = pair_from(c, &a, pairs[i].label, pairs[i].key, root, pairs[i].path, err));
    const cJSON *groups = cJSON_GetObjectItemCaseSensitive(rule, "groups");
    if (cJSON_IsArray(groups)) {
        char joined[LABEL_VALUE_CAP + 1];
        size_t o = 0;
        const cJSON *g;
        cJSON_ArrayForEach(g, groups) {
            if (!cJSON_IsString(g))
                continue;
            size_t gl = strlen(g->valuestring);
            if (o + gl + 1 > LABEL_VALUE_CAP)
                break;
            if (o)
                joined[o++] = ',';
            memcpy(joined + o, g->valuestring, gl);
            o += gl;
        }
        joined[o] = '\0';
        if (o)
            TRY(rc = add_pair(c, &a, true, "rule_groups", joined, "rule.groups", err));
    }
    return alert_finish(c, &a);
out:
    alert_drop(&a);
    return rc;
}

static const char *const ce_core[] = {
    "specversion",     "id",         "source", "type",        "subject", "time",
    "datacontenttype", "dataschema", "data",   "data_base64", NULL};

/* A required CloudEvents attribute: its string or a 400 naming it. */
static int ce_required(struct dctx *c, const cJSON *ev, const char *name, bool binary,
                       const char **ret, struct ird_err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(ev, name);
    if (!v || cJSON_IsNull(v)) {
        if (binary) {
            char header[32];
            snprintf(header, sizeof(header), "ce-%s", name);
            return fail(c, err, header, "required header missing");
        }
        return fail(c, err, name, "required attribute missing");
    }
    if (!cJSON_IsString(v) || !*v->valuestring)
        return fail(c, err, name, "expected a non-empty string");
    *ret = v->valuestring;
    return 0;
}

static int ce_event(struct dctx *c, const cJSON *ev, bool binary, struct ird_err *err)
{
    struct alert a;
    const char *spec = NULL, *id = NULL, *src = NULL, *type = NULL;
    int rc = alert_begin(&a, ev);
    if (rc || (rc = need_object(c, ev, "", err)))
        goto out;
    if ((rc = ce_required(c, ev, "specversion", binary, &spec, err)))
        goto out;
    if (strcmp(spec, "1.0") != 0) {
        rc = fail(c, err, "specversion", "expected \"1.0\"");
        goto out;
    }
    if ((rc = ce_required(c, ev, "id", binary, &id, err)) ||
        (rc = ce_required(c, ev, "source", binary, &src, err)) ||
        (rc = ce_required(c, ev, "type", binary, &type, err)))
        goto out;
    size_t n = strlen(src) + 1 + strlen(id);
    if (n > fields[F_ID].cap) {
        rc = fail(c, err, "id", "source and id together longer than %zu bytes", fields[F_ID].cap);
        goto out;
    }
    a.heap = malloc(n + 1);
    if (!a.heap) {
        rc = -ENOMEM;
        goto out;
    }
    snprintf(a.heap, n + 1, "%s/%s", src, id);
    a.v[F_ID] = a.heap;
    TRY(rc = take(c, &a, F_TITLE, ev, PATHS("subject"), TAKE_STRICT, err));
    if (!a.v[F_TITLE])
        TRY(rc = take(c, &a, F_TITLE, ev, PATHS("data.title"), TAKE_LENIENT, err));
    if (!a.v[F_TITLE])
        TRY(rc = take(c, &a, F_TITLE, ev, PATHS("type"), TAKE_STRICT, err));
    static const struct {
        enum field f;
        const char *path;
    } rows[] = {
        {F_SEVERITY, "severity"},      {F_NAMESPACE, "k8snamespace"}, {F_POD, "k8spod"},
        {F_CONTAINER, "k8scontainer"}, {F_NODE, "k8snode"},           {F_STATUS, "status"},
        {F_STARTS_AT, "time"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        TRY(rc = take(c, &a, rows[i].f, ev, PATHS(rows[i].path), TAKE_STRICT, err));
    TRY(rc = add_pair(c, &a, true, "type", type, "type", err));
    TRY(rc = add_pair(c, &a, true, "source", src, "source", err));
    TRY(rc = pair_from(c, &a, true, "subject", ev, "subject", err));
    const cJSON *m;
    cJSON_ArrayForEach(m, ev) {
        char tmp[48];
        const char *s = NULL;
        if (in_list(ce_core, m->string) ||
            scalar_text(c, m, "", TAKE_LENIENT, tmp, sizeof(tmp), &s, err) <= 0)
            continue;
        TRY(rc = add_pair(c, &a, true, m->string, s, m->string, err));
    }
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(ev, "data");
    TRY(rc = copy_pairs(c, &a, false, cJSON_GetObjectItemCaseSensitive(data, "annotations"),
                        "data.annotations", false, err));
    return alert_finish(c, &a);
out:
    alert_drop(&a);
    return rc;
}

static int decode_cloudevents(struct dctx *c, const cJSON *root, struct ird_err *err)
{
    if (!cJSON_IsArray(root))
        return ce_event(c, root, false, err);
    size_t n = (size_t)cJSON_GetArraySize(root), i = 0;
    if (n > c->max_alerts)
        return too_many(n, c->max_alerts, err);
    const cJSON *ev;
    c->container = root;
    cJSON_ArrayForEach(ev, root) {
        set_prefix(c, "[%zu]", i++);
        int rc = ce_event(c, ev, false, err);
        if (rc)
            return rc;
    }
    return 0;
}

static int hexdigit(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Percent-decode a binary-mode header value into a new string; NULL when the
 * escapes or the UTF-8 they spell are bad (or out of memory: *oom). */
static char *percent_decode(const char *s, bool *oom)
{
    size_t len = strlen(s), o = 0;
    char *out = malloc(len + 1);
    if (!out) {
        *oom = true;
        return NULL;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '%') {
            out[o++] = s[i];
            continue;
        }
        int hi = i + 2 < len ? hexdigit(s[i + 1]) : -1;
        int lo = hi >= 0 ? hexdigit(s[i + 2]) : -1;
        if (lo < 0) {
            free(out);
            return NULL;
        }
        out[o++] = (char)(hi * 16 + lo);
        i += 2;
    }
    out[o] = '\0';
    if (memchr(out, '\0', o) || ird_jsoncheck_utf8(out, o, NULL)) {
        free(out);
        return NULL;
    }
    return out;
}

/* Binary mode: rebuild the structured event from the ce-* headers and data. */
static int decode_ce_binary(struct dctx *c, const cJSON *data, const char *content_type,
                            struct ird_err *err)
{
    cJSON *ev = cJSON_CreateObject();
    int rc = ev ? 0 : -ENOMEM;
    for (size_t i = 0; rc == 0 && i < c->nheaders; i++) {
        const char *name = c->headers[i].name;
        if (strncasecmp(name, "ce-", 3) != 0)
            continue;
        char attr[24];
        size_t alen = strlen(name + 3), k;
        if (alen == 0 || alen > 20)
            continue;
        for (k = 0; k < alen; k++) {
            char ch = name[3 + k];
            attr[k] = ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
            if (!((attr[k] >= 'a' && attr[k] <= 'z') || (attr[k] >= '0' && attr[k] <= '9')))
                break;
        }
        if (k < alen)
            continue; /* not a CloudEvents attribute name */
        attr[alen] = '\0';
        if (cJSON_GetObjectItemCaseSensitive(ev, attr))
            continue;
        bool oom = false;
        char *value = percent_decode(c->headers[i].value, &oom);
        if (!value) {
            rc = oom ? -ENOMEM : fail(c, err, name, "invalid percent-encoding");
            break;
        }
        if (!cJSON_AddStringToObject(ev, attr, value))
            rc = -ENOMEM;
        free(value);
    }
    if (rc == 0 && content_type && *content_type &&
        !cJSON_AddStringToObject(ev, "datacontenttype", content_type))
        rc = -ENOMEM;
    if (rc == 0 && data) {
        cJSON *copy = cJSON_Duplicate(data, 1);
        if (!copy || !cJSON_AddItemToObject(ev, "data", copy)) {
            cJSON_Delete(copy);
            rc = -ENOMEM;
        }
    }
    if (rc == 0)
        rc = ce_event(c, ev, true, err);
    cJSON_Delete(ev);
    return rc;
}

static int json_alert(struct dctx *c, const cJSON *el, struct ird_err *err)
{
    const struct ird_decoder *d = c->d;
    struct alert a;
    int rc = alert_begin(&a, el);
    if (rc || (rc = need_object(c, el, "", err)))
        goto out;
    for (int f = 0; f < F_N; f++)
        if (d->map[f])
            TRY(rc = take_value(c, &a, (enum field)f, path_walk(el, d->map[f], 0),
                                d->map[f]->source, TAKE_STRICT, err));
    if (d->map_labels)
        TRY(rc = copy_pairs(c, &a, true, path_walk(el, d->map_labels, 0), d->map_labels->source,
                            true, err));
    if (d->map_annotations)
        TRY(rc = copy_pairs(c, &a, false, path_walk(el, d->map_annotations, 0),
                            d->map_annotations->source, true, err));
    return alert_finish(c, &a);
out:
    alert_drop(&a);
    return rc;
}

static int decode_json(struct dctx *c, const cJSON *root, struct ird_err *err)
{
    const struct ird_decoder *d = c->d;
    const cJSON *list = root;
    const char *base = "";
    if (d->items) {
        base = d->items->source;
        list = path_walk(root, d->items, 0);
        if (!cJSON_IsArray(list))
            return fail(c, err, base, "expected an array");
    } else if (cJSON_IsObject(root)) {
        return json_alert(c, root, err);
    } else if (!cJSON_IsArray(root)) {
        return fail(c, err, "", "expected an object or an array of objects");
    }
    size_t n = (size_t)cJSON_GetArraySize(list), i = 0;
    if (n > c->max_alerts)
        return too_many(n, c->max_alerts, err);
    const cJSON *el;
    c->container = list;
    cJSON_ArrayForEach(el, list) {
        set_prefix(c, "%s[%zu]", base, i++);
        int rc = json_alert(c, el, err);
        if (rc)
            return rc;
    }
    return 0;
}

static const struct type_row types[] = {
    {"alertmanager", decode_alertmanager, false, false},
    {"falco", decode_falco, false, false},
    {"splunk", decode_splunk, false, true},
    {"elastic", decode_elastic, false, false},
    {"wazuh", decode_wazuh, false, false},
    {"cloudevents", decode_cloudevents, false, false},
    {"json", decode_json, true, false},
};

/* ---------- building a decoder ---------- */

static int field_by_name(const char *name)
{
    for (int f = 0; f < F_N; f++)
        if (strcmp(fields[f].name, name) == 0)
            return f;
    return -1;
}

static int cfg_string(const config_setting_t *s, const char **ret, struct ird_err *err)
{
    if (config_setting_type(s) != CONFIG_TYPE_STRING)
        return ird_cfg_fail(err, s, NULL, "expected a string");
    *ret = config_setting_get_string(s);
    return 0;
}

static int cfg_group(const config_setting_t *s, struct ird_err *err)
{
    if (!config_setting_is_group(s))
        return ird_cfg_fail(err, s, NULL, "expected a group { key = \"value\"; ... }");
    return 0;
}

static int dup_into(char **slot, const char *v)
{
    free(*slot);
    *slot = strdup(v);
    return *slot ? 0 : -ENOMEM;
}

static int new_path(const config_setting_t *s, struct path **ret, struct ird_err *err)
{
    const char *v = NULL;
    int rc = cfg_string(s, &v, err);
    if (rc)
        return rc;
    struct path *p = malloc(sizeof(*p));
    if (!p)
        return -ENOMEM;
    rc = path_compile(v, p, err, s);
    if (rc) {
        free(p);
        return rc;
    }
    free(*ret);
    *ret = p;
    return 0;
}

static int parse_map(struct ird_decoder *d, const config_setting_t *g, struct ird_err *err)
{
    int rc = cfg_group(g, err);
    for (int i = 0; rc == 0 && i < config_setting_length(g); i++) {
        const config_setting_t *m = config_setting_get_elem(g, (unsigned)i);
        const char *name = config_setting_name(m);
        int f = field_by_name(name);
        if (f >= 0)
            rc = new_path(m, &d->map[f], err);
        else if (strcmp(name, "labels") == 0)
            rc = new_path(m, &d->map_labels, err);
        else if (strcmp(name, "annotations") == 0)
            rc = new_path(m, &d->map_annotations, err);
        else
            rc = ird_cfg_fail(err, m, NULL,
                              "unknown key; expected id, status, severity, title, namespace, pod, "
                              "container, node, labels, annotations, starts_at or ends_at");
    }
    return rc;
}

static int parse_defaults(struct ird_decoder *d, const config_setting_t *g, struct ird_err *err)
{
    static const char *const statuses[] = {"firing", "resolved", NULL};
    int rc = cfg_group(g, err);
    for (int i = 0; rc == 0 && i < config_setting_length(g); i++) {
        const config_setting_t *m = config_setting_get_elem(g, (unsigned)i);
        int f = field_by_name(config_setting_name(m));
        const char *v = NULL;
        if (f < 0 || !fields[f].def)
            rc = ird_cfg_fail(err, m, NULL,
                              "unknown key; expected severity, status, title, namespace, pod, "
                              "container or node");
        else if ((rc = cfg_string(m, &v, err)))
            break;
        else if (f == F_SEVERITY && !in_list(severities, v))
            rc = ird_cfg_fail(err, m, NULL, "expected one of critical, error, warning, info");
        else if (f == F_STATUS && !in_list(statuses, v))
            rc = ird_cfg_fail(err, m, NULL, "expected \"firing\" or \"resolved\"");
        else if (fields[f].cap && strlen(v) > fields[f].cap)
            rc = ird_cfg_fail(err, m, NULL, "longer than %zu bytes", fields[f].cap);
        else
            rc = dup_into(&d->defaults[f], v);
        if (rc == 0 && f == F_SEVERITY)
            for (int k = 0; severities[k]; k++)
                if (strcasecmp(severities[k], v) == 0)
                    rc = dup_into(&d->defaults[f], severities[k]);
    }
    return rc;
}

static int parse_sevmap(struct ird_decoder *d, const config_setting_t *g, struct ird_err *err)
{
    int rc = cfg_group(g, err);
    if (rc)
        return rc;
    size_t n = (size_t)config_setting_length(g);
    d->sevmap = calloc(n ? n : 1, sizeof(*d->sevmap));
    if (!d->sevmap)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const config_setting_t *m = config_setting_get_elem(g, (unsigned)i);
        const char *v = NULL;
        if ((rc = cfg_string(m, &v, err)))
            return rc;
        const char *to = NULL;
        for (int k = 0; severities[k]; k++)
            if (strcasecmp(severities[k], v) == 0)
                to = severities[k];
        if (!to)
            return ird_cfg_fail(err, m, NULL, "expected one of critical, error, warning, info");
        d->sevmap[i].from = strdup(config_setting_name(m));
        if (!d->sevmap[i].from)
            return -ENOMEM;
        d->sevmap[i].to = to;
        d->nsevmap = i + 1;
    }
    return 0;
}

static int parse_fields(struct ird_decoder *d, const config_setting_t *g, struct ird_err *err)
{
    int rc = cfg_group(g, err);
    for (int i = 0; rc == 0 && i < config_setting_length(g); i++) {
        const config_setting_t *m = config_setting_get_elem(g, (unsigned)i);
        int f = field_by_name(config_setting_name(m));
        const char *v = NULL;
        if (f < 0 || !fields[f].fld)
            rc = ird_cfg_fail(err, m, NULL,
                              "unknown key; expected severity, title, namespace, pod, container or "
                              "node");
        else if ((rc = cfg_string(m, &v, err)) == 0)
            rc = *v ? dup_into(&d->fields[f], v)
                    : ird_cfg_fail(err, m, NULL, "expected a field name");
    }
    return rc;
}

static bool is_common(const char *const *common, const char *name)
{
    for (; common && *common; common++)
        if (strcmp(*common, name) == 0)
            return true;
    return false;
}

int ird_decoder_new(const config_setting_t *source, const char *const *common_keys,
                    struct ird_decoder **ret, struct ird_err *err)
{
    if (!source)
        return ird_err_set(err, -EINVAL, "no source group given");
    if (!config_setting_is_group(source))
        return ird_cfg_fail(err, source, NULL, "expected a group { type = \"...\"; ... }");
    const config_setting_t *t = config_setting_get_member(source, "type");
    if (!t)
        return ird_cfg_fail(err, source, NULL,
                            "type is required: alertmanager, falco, splunk, elastic, wazuh, "
                            "cloudevents or json");
    const char *tname = NULL;
    int rc = cfg_string(t, &tname, err);
    if (rc)
        return rc;
    const struct type_row *row = NULL;
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (strcmp(types[i].name, tname) == 0)
            row = &types[i];
    if (!row)
        return ird_cfg_fail(
            err, t, NULL,
            "unknown type \"%.64s\"; expected alertmanager, falco, splunk, elastic, "
            "wazuh, cloudevents or json",
            tname);
    struct ird_decoder *d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    d->type = row;
    for (int i = 0; rc == 0 && i < config_setting_length(source); i++) {
        const config_setting_t *m = config_setting_get_elem(source, (unsigned)i);
        const char *name = config_setting_name(m);
        if (strcmp(name, "type") == 0 || strcmp(name, "auth") == 0 || is_common(common_keys, name))
            continue;
        if (strcmp(name, "defaults") == 0)
            rc = parse_defaults(d, m, err);
        else if (strcmp(name, "severity_map") == 0)
            rc = d->sevmap ? ird_cfg_fail(err, m, NULL, "given twice") : parse_sevmap(d, m, err);
        else if (strcmp(name, "map") == 0 && row->takes_map)
            rc = parse_map(d, m, err);
        else if (strcmp(name, "items") == 0 && row->takes_map)
            rc = new_path(m, &d->items, err);
        else if (strcmp(name, "fields") == 0 && row->takes_fields)
            rc = parse_fields(d, m, err);
        else if (strcmp(name, "map") == 0 || strcmp(name, "items") == 0)
            rc = ird_cfg_fail(err, m, NULL, "unknown key (only type \"json\" takes %s)", name);
        else if (strcmp(name, "fields") == 0)
            rc = ird_cfg_fail(err, m, NULL, "unknown key (only type \"splunk\" takes fields)");
        else
            rc = ird_cfg_fail(err, m, NULL, "unknown key");
    }
    if (rc) {
        ird_decoder_free(d);
        return rc;
    }
    *ret = d;
    return 0;
}

void ird_decoder_free(struct ird_decoder *d)
{
    if (!d)
        return;
    for (int f = 0; f < F_N; f++) {
        free(d->defaults[f]);
        free(d->map[f]);
        free(d->fields[f]);
    }
    for (size_t i = 0; i < d->nsevmap; i++)
        free(d->sevmap[i].from);
    free(d->sevmap);
    free(d->map_labels);
    free(d->map_annotations);
    free(d->items);
    free(d);
}

const char *ird_decoder_type(const struct ird_decoder *d)
{
    return d->type->name;
}

/* ---------- decoding a request ---------- */

static int check_content_type(const char *ct, struct ird_err *err)
{
    if (!ct)
        return 0;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    size_t n = strcspn(ct, ";");
    while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    if (n == 0)
        return 0;
    static const char *const exact[] = {"application/json", "text/json", "text/plain"};
    for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
        if (n == strlen(exact[i]) && strncasecmp(ct, exact[i], n) == 0)
            return 0;
    if (n > 17 && strncasecmp(ct, "application/", 12) == 0 &&
        strncasecmp(ct + n - 5, "+json", 5) == 0)
        return 0;
    return ird_err_set(err, -ENOTSUP, "content type %.*s is not accepted; send application/json",
                       (int)(n > 100 ? 100 : n), ct);
}

static bool blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!strchr(" \t\r\n", s[i]) || s[i] == '\0')
            return false;
    return true;
}

/* Give every alert its raw element. An element of the parsed body is moved
 * out of it rather than copied (the body's tree is freed right after); one
 * that is not there (built by the decoder, or already moved) is copied. */
static int attach_raws(struct dctx *c, cJSON **tree)
{
    size_t i = 0;
    cJSON *alert;
    cJSON_ArrayForEach(alert, c->out) {
        const struct pending_raw *p = i < c->nraws ? &c->raws[i] : NULL;
        i++;
        cJSON *raw = NULL;
        if (!p || !p->raw) {
            continue; /* copied already */
        } else if (p->raw == *tree) {
            raw = *tree;
            *tree = NULL;
        } else {
            raw = cJSON_DetachItemViaPointer((cJSON *)p->container, (cJSON *)p->raw);
        }
        if (!raw || !cJSON_AddItemToObject(alert, "raw", raw)) {
            cJSON_Delete(raw);
            return -ENOMEM;
        }
    }
    return 0;
}

int ird_decode(const struct ird_decoder *d, const char *source_name, const char *content_type,
               const struct ird_http_header *headers, size_t nheaders, const char *body, size_t len,
               const struct ird_decode_limits *limits, cJSON **ret_alerts, long *ret_truncated,
               struct ird_err *err)
{
    int rc = check_content_type(content_type, err);
    if (rc)
        return rc;
    struct ird_decode_limits lim = limits ? *limits : (struct ird_decode_limits){0, 0, 0};
    struct dctx c = {
        .d = d,
        .source = source_name ? source_name : "",
        .max_alerts = lim.max_alerts ? lim.max_alerts : DEFAULT_MAX_ALERTS,
        .headers = headers,
        .nheaders = nheaders,
    };
    bool binary = d->type->decode == decode_cloudevents &&
                  ird_http_header_get(headers, nheaders, "ce-specversion");
    cJSON *root = NULL;
    if (!(binary && blank(body, len))) {
        rc = ird_jsoncheck_parse(body, len, lim.max_depth, lim.max_string, &root, err);
        if (rc)
            return rc;
    }
    c.tree = root;
    c.out = cJSON_CreateArray();
    if (!c.out)
        rc = -ENOMEM;
    else if (binary)
        rc = decode_ce_binary(&c, root, content_type, err);
    else
        rc = d->type->decode(&c, root, err);
    if (!rc)
        rc = attach_raws(&c, &root);
    cJSON_Delete(root);
    free(c.raws);
    if (rc) {
        cJSON_Delete(c.out);
        return rc;
    }
    *ret_alerts = c.out;
    if (ret_truncated)
        *ret_truncated = c.truncated;
    return 0;
}
