/* Statement queues: copy values in on the loop, bind and step them on the
 * writer thread. */
#include "store/sqlq.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "store/audit.h"

enum val_kind { VAL_NULL, VAL_TEXT, VAL_INT };

struct val {
    enum val_kind kind;
    char *text;
    int64_t i;
};

struct stmt {
    const char *sql; /* static text */
    struct val *vals;
    size_t nvals;
    int changes;
    /* An audit record instead of a statement. */
    int is_audit;
    int only_if_changed; /* the statement whose changes gate this record, +1; 0 none */
    int64_t at;
    char *actor, *kind, *subject;
    cJSON *detail;
};

struct ird_sqlq {
    struct stmt *v;
    size_t n, cap;
    void (*done)(int, const struct ird_sqlq *, void *);
    void *data;
};

struct ird_sqlq *ird_sqlq_new(void)
{
    return calloc(1, sizeof(struct ird_sqlq));
}

static struct stmt *push(struct ird_sqlq *q)
{
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 8;
        struct stmt *v = realloc(q->v, cap * sizeof(*v));
        if (!v)
            return NULL;
        q->v = v;
        q->cap = cap;
    }
    struct stmt *s = &q->v[q->n];
    memset(s, 0, sizeof(*s));
    return s;
}

int ird_sqlq_add(struct ird_sqlq *q, const char *sql, const char *fmt, ...)
{
    struct stmt *s = push(q);
    if (!s)
        return -ENOMEM;
    size_t n = strlen(fmt);
    s->sql = sql;
    s->vals = calloc(n ? n : 1, sizeof(struct val));
    if (!s->vals)
        return -ENOMEM;
    s->nvals = n;
    va_list ap;
    va_start(ap, fmt);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        struct val *v = &s->vals[i];
        if (fmt[i] == 'i') {
            v->kind = VAL_INT;
            v->i = va_arg(ap, int64_t);
        } else if (fmt[i] == 's') {
            const char *t = va_arg(ap, const char *);
            if (t && !(v->text = strdup(t)))
                rc = -ENOMEM;
            v->kind = t ? VAL_TEXT : VAL_NULL;
        } else if (fmt[i] == 'j') {
            const cJSON *j = va_arg(ap, const cJSON *);
            if (j && !(v->text = cJSON_PrintUnformatted(j)))
                rc = -ENOMEM;
            v->kind = j ? VAL_TEXT : VAL_NULL;
        } else {
            rc = -EINVAL;
        }
    }
    va_end(ap);
    q->n++;
    return rc ? rc : (int)(q->n - 1);
}

int ird_sqlq_audit(struct ird_sqlq *q, int64_t at_ms, const char *actor, const char *kind,
                   const char *subject, const cJSON *detail)
{
    struct stmt *s = push(q);
    if (!s)
        return -ENOMEM;
    s->is_audit = 1;
    s->at = at_ms;
    s->actor = strdup(actor ? actor : "");
    s->kind = strdup(kind);
    s->subject = strdup(subject ? subject : "");
    s->detail = detail ? cJSON_Duplicate(detail, 1) : cJSON_CreateObject();
    q->n++;
    return s->actor && s->kind && s->subject && s->detail ? 0 : -ENOMEM;
}

int ird_sqlq_audit_if(struct ird_sqlq *q, int statement, int64_t at_ms, const char *actor,
                      const char *kind, const char *subject, const cJSON *detail)
{
    int rc = ird_sqlq_audit(q, at_ms, actor, kind, subject, detail);
    if (rc == 0)
        q->v[q->n - 1].only_if_changed = statement + 1;
    return rc;
}

int ird_sqlq_changes(const struct ird_sqlq *q, int i)
{
    return i >= 0 && (size_t)i < q->n ? q->v[i].changes : 0;
}

void ird_sqlq_free(struct ird_sqlq *q)
{
    if (!q)
        return;
    for (size_t i = 0; i < q->n; i++) {
        for (size_t k = 0; k < q->v[i].nvals; k++)
            cJSON_free(q->v[i].vals[k].text);
        free(q->v[i].vals);
        free(q->v[i].actor);
        free(q->v[i].kind);
        free(q->v[i].subject);
        cJSON_Delete(q->v[i].detail);
    }
    free(q->v);
    free(q);
}

static int apply(sqlite3 *db, void *data)
{
    struct ird_sqlq *q = data;
    for (size_t i = 0; i < q->n; i++) {
        struct stmt *s = &q->v[i];
        if (s->is_audit) {
            if (s->only_if_changed && q->v[s->only_if_changed - 1].changes == 0)
                continue;
            if (ird_audit_append(db, s->at, s->actor, s->kind, s->subject, s->detail))
                return -EIO;
            continue;
        }
        sqlite3_stmt *st = ird_store_stmt(db, s->sql);
        if (!st)
            return -EIO;
        for (size_t k = 0; k < s->nvals; k++) {
            const struct val *v = &s->vals[k];
            int idx = (int)k + 1;
            if (v->kind == VAL_INT)
                sqlite3_bind_int64(st, idx, v->i);
            else if (v->kind == VAL_TEXT)
                sqlite3_bind_text(st, idx, v->text, -1, SQLITE_STATIC);
            else
                sqlite3_bind_null(st, idx);
        }
        int rc = sqlite3_step(st);
        s->changes = sqlite3_changes(db);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE && rc != SQLITE_ROW)
            return -EIO;
    }
    return 0;
}

static void on_done(int status, void *data)
{
    struct ird_sqlq *q = data;
    if (q->done)
        q->done(status, q, q->data);
    ird_sqlq_free(q);
}

int ird_sqlq_submit(struct ird_store *s, struct ird_sqlq *q,
                    void (*done)(int status, const struct ird_sqlq *q, void *data), void *data)
{
    q->done = done;
    q->data = data;
    int rc = ird_store_submit(s, apply, on_done, q);
    if (rc)
        ird_sqlq_free(q);
    return rc;
}
