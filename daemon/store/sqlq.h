/* A queue of SQL statements with their values, built on the loop thread and
 * executed in order inside one store job on the writer thread. The values
 * are copied in, so the loop may change its own state freely while the job
 * waits for its commit: the way the engine persists runs and steps.
 *
 * Values are given by a format string, one letter each: 's' a string (NULL
 * binds SQL NULL), 'i' an int64_t, 'j' a cJSON printed compactly (NULL binds
 * SQL NULL). Nothing is ever spliced into SQL text. */
#ifndef IRD_STORE_SQLQ_H
#define IRD_STORE_SQLQ_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

struct ird_sqlq;

struct ird_sqlq *ird_sqlq_new(void);
/* Append one statement; returns its index, or -ENOMEM. */
int ird_sqlq_add(struct ird_sqlq *q, const char *sql, const char *fmt, ...);
/* Append an audit record (store/audit.h) after the statements so far. */
int ird_sqlq_audit(struct ird_sqlq *q, int64_t at_ms, const char *actor, const char *kind,
                   const char *subject, const cJSON *detail);
/* The same, written only when statement (an index ird_sqlq_add returned)
 * changed rows: a refused change leaves no record, in the same transaction. */
int ird_sqlq_audit_if(struct ird_sqlq *q, int statement, int64_t at_ms, const char *actor,
                      const char *kind, const char *subject, const cJSON *detail);
/* Rows changed by statement i once the job ran (for INSERT OR IGNORE). */
int ird_sqlq_changes(const struct ird_sqlq *q, int i);
/* Run q as one store job; done(status, q, data) runs on the loop after the
 * commit, then q is freed. On an error return q is freed and done is not called. */
int ird_sqlq_submit(struct ird_store *s, struct ird_sqlq *q,
                    void (*done)(int status, const struct ird_sqlq *q, void *data), void *data);
void ird_sqlq_free(struct ird_sqlq *q);

#endif
