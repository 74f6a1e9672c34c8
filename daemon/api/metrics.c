/* The metrics registry and its text rendering. Families are few and known at
 * start-up; series are found by a hash of family + labels. */
#include "api/metrics.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct family;

struct series {
    const struct family *family;
    char *labels;
    double value;        /* counter, gauge; histogram sum */
    uint64_t count;      /* histogram */
    uint64_t *buckets;   /* histogram: cumulative counts per bound */
    struct series *next; /* in the family's list, in creation order */
    struct series *hnext;
};

struct family {
    char *name;
    char *help;
    enum ird_metric_type type;
    double *bounds;
    size_t nbounds;
    double (*read)(void *);
    void *read_data;
    struct series *first, *last;
    struct family *next;
};

#define NBINS 1024
static struct family *families, *families_last;
static struct series *bins[NBINS];

static uint64_t hash2(const char *a, const char *b)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (const char *p = a; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    h = (h ^ 0xff) * 1099511628211ULL;
    for (const char *p = b; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return h;
}

static struct family *family_find(const char *name)
{
    for (struct family *f = families; f; f = f->next)
        if (strcmp(f->name, name) == 0)
            return f;
    return NULL;
}

static struct family *family_add(const char *name, enum ird_metric_type type, const char *help)
{
    struct family *f = family_find(name);
    if (f)
        return NULL;
    f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    f->name = strdup(name);
    f->help = strdup(help);
    f->type = type;
    if (families_last)
        families_last->next = f;
    else
        families = f;
    families_last = f;
    return f;
}

void ird_metrics_define(const char *name, enum ird_metric_type type, const char *help,
                        const double *buckets, size_t nbuckets)
{
    struct family *f = family_add(name, type, help);
    if (!f || type != IRD_METRIC_HISTOGRAM)
        return;
    f->bounds = malloc(nbuckets * sizeof(double));
    if (f->bounds) {
        memcpy(f->bounds, buckets, nbuckets * sizeof(double));
        f->nbounds = nbuckets;
    }
}

void ird_metrics_define_gauge_fn(const char *name, const char *help, double (*read)(void *),
                                 void *data)
{
    struct family *f = family_add(name, IRD_METRIC_GAUGE, help);
    if (f) {
        f->read = read;
        f->read_data = data;
    }
}

static struct series *series_get(struct family *f, const char *labels)
{
    uint64_t h = hash2(f->name, labels) % NBINS;
    for (struct series *s = bins[h]; s; s = s->hnext)
        if (s->family == f && strcmp(s->labels, labels) == 0)
            return s;
    struct series *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->family = f;
    s->labels = strdup(labels);
    if (f->type == IRD_METRIC_HISTOGRAM)
        s->buckets = calloc(f->nbounds ? f->nbounds : 1, sizeof(uint64_t));
    if (!s->labels || (f->type == IRD_METRIC_HISTOGRAM && !s->buckets)) {
        free(s->labels);
        free(s->buckets);
        free(s);
        return NULL;
    }
    s->hnext = bins[h];
    bins[h] = s;
    if (f->last)
        f->last->next = s;
    else
        f->first = s;
    f->last = s;
    return s;
}

void ird_metrics_add(const char *name, const char *labels, double v)
{
    struct family *f = family_find(name);
    struct series *s = f ? series_get(f, labels ? labels : "") : NULL;
    if (s)
        s->value += v;
}

void ird_metrics_set(const char *name, const char *labels, double v)
{
    struct family *f = family_find(name);
    struct series *s = f ? series_get(f, labels ? labels : "") : NULL;
    if (s)
        s->value = v;
}

void ird_metrics_observe(const char *name, const char *labels, double v)
{
    struct family *f = family_find(name);
    if (!f || f->type != IRD_METRIC_HISTOGRAM)
        return;
    struct series *s = series_get(f, labels ? labels : "");
    if (!s)
        return;
    s->count++;
    s->value += v;
    for (size_t i = 0; i < f->nbounds; i++)
        if (v <= f->bounds[i])
            s->buckets[i]++;
}

double ird_metrics_get(const char *name, const char *labels)
{
    struct family *f = family_find(name);
    if (!f)
        return 0;
    if (f->read)
        return f->read(f->read_data);
    for (struct series *s = f->first; s; s = s->next)
        if (strcmp(s->labels, labels ? labels : "") == 0)
            return f->type == IRD_METRIC_HISTOGRAM ? (double)s->count : s->value;
    return 0;
}

static void put_number(struct ird_buf *out, double v)
{
    if (isinf(v))
        ird_buf_puts(out, v > 0 ? "+Inf" : "-Inf");
    else if (v == floor(v) && fabs(v) < 1e15)
        ird_buf_printf(out, "%.0f", v);
    else
        ird_buf_printf(out, "%.9g", v);
}

static void put_sample(struct ird_buf *out, const char *name, const char *suffix,
                       const char *labels, const char *extra, double v)
{
    ird_buf_printf(out, "%s%s", name, suffix);
    int has = labels && *labels, hasx = extra && *extra;
    if (has || hasx)
        ird_buf_printf(out, "{%s%s%s}", has ? labels : "", has && hasx ? "," : "",
                       hasx ? extra : "");
    ird_buf_puts(out, " ");
    put_number(out, v);
    ird_buf_puts(out, "\n");
}

static const char *const type_names[] = {"counter", "gauge", "histogram"};

void ird_metrics_render(struct ird_buf *out)
{
    for (struct family *f = families; f; f = f->next) {
        ird_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name,
                       type_names[f->type]);
        if (f->read) {
            put_sample(out, f->name, "", "", NULL, f->read(f->read_data));
            continue;
        }
        for (struct series *s = f->first; s; s = s->next) {
            if (f->type != IRD_METRIC_HISTOGRAM) {
                put_sample(out, f->name, "", s->labels, NULL, s->value);
                continue;
            }
            char le[64];
            for (size_t i = 0; i < f->nbounds; i++) {
                struct ird_buf b = IRD_BUF_INIT;
                put_number(&b, f->bounds[i]);
                snprintf(le, sizeof(le), "le=\"%s\"", b.data ? b.data : "0");
                ird_buf_free(&b);
                put_sample(out, f->name, "_bucket", s->labels, le, (double)s->buckets[i]);
            }
            put_sample(out, f->name, "_bucket", s->labels, "le=\"+Inf\"", (double)s->count);
            put_sample(out, f->name, "_sum", s->labels, NULL, s->value);
            put_sample(out, f->name, "_count", s->labels, NULL, (double)s->count);
        }
    }
}

void ird_metrics_reset(void)
{
    struct family *fn;
    for (struct family *f = families; f; f = fn) {
        fn = f->next;
        struct series *sn;
        for (struct series *s = f->first; s; s = sn) {
            sn = s->next;
            free(s->labels);
            free(s->buckets);
            free(s);
        }
        free(f->name);
        free(f->help);
        free(f->bounds);
        free(f);
    }
    families = families_last = NULL;
    memset(bins, 0, sizeof(bins));
}
