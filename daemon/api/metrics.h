/* Prometheus metrics: one process-wide registry of families (counter, gauge,
 * histogram), each with series keyed by a label string such as
 * `listener="api",route="metrics",code="200"`. Label values must come from
 * fixed sets (route names, source names from the config), never raw input.
 * Rendered in the text exposition format 0.0.4 with # HELP and # TYPE. */
#ifndef IRD_API_METRICS_H
#define IRD_API_METRICS_H

#include <stddef.h>

#include "core/buf.h"

enum ird_metric_type { IRD_METRIC_COUNTER, IRD_METRIC_GAUGE, IRD_METRIC_HISTOGRAM };

/* Define a family once at start-up (again with the same name is a no-op).
 * buckets: upper bounds for a histogram, ascending; NULL otherwise. */
void ird_metrics_define(const char *name, enum ird_metric_type type, const char *help,
                        const double *buckets, size_t nbuckets);
/* A gauge read at render time (open connections, queue depth). */
void ird_metrics_define_gauge_fn(const char *name, const char *help, double (*read)(void *data),
                                 void *data);
void ird_metrics_add(const char *name, const char *labels, double v);
void ird_metrics_set(const char *name, const char *labels, double v);
void ird_metrics_observe(const char *name, const char *labels, double v);
/* Current value of a counter or gauge series (0 when absent): for tests. */
double ird_metrics_get(const char *name, const char *labels);
void ird_metrics_render(struct ird_buf *out);
/* Drop every family (tests, and the end of the process for leak checks). */
void ird_metrics_reset(void);

#endif
