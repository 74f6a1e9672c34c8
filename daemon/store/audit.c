/* The audit trail: appending a hash-chained record inside the caller's
 * transaction, verifying the chain, and listing records for the API. The
 * encoding that is hashed is documented in audit.h and must never change for
 * existing records: a new encoding would need a new version prefix. */
#include "store/audit.h"
#include "store/store.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"

static const char *const kinds[] = {
    "alert.received",    "incident.opened", "incident.changed", "incident.acknowledged",
    "incident.resolved", "run.started",     "run.finished",     "step.started",
    "step.finished",     "step.blocked",    "call.made",        "call.planned",
    "approval.granted",  "override.forced", "config.reloaded",
};

int ird_audit_kind_known(const char *kind)
{
    if (!kind)
        return 0;
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (strcmp(kind, kinds[i]) == 0)
            return 1;
    return 0;
}

/* One netstring: "<len>:<bytes>," */
static int put_field(EVP_MD_CTX *ctx, const char *bytes, size_t len)
{
    char head[32];
    int n = snprintf(head, sizeof(head), "%zu:", len);
    return EVP_DigestUpdate(ctx, head, (size_t)n) && EVP_DigestUpdate(ctx, bytes, len) &&
           EVP_DigestUpdate(ctx, ",", 1);
}

static int put_int(EVP_MD_CTX *ctx, int64_t v)
{
    char text[24];
    int n = snprintf(text, sizeof(text), "%" PRId64, v);
    return put_field(ctx, text, (size_t)n);
}

static int put_str(EVP_MD_CTX *ctx, const char *s)
{
    return put_field(ctx, s, strlen(s));
}

int ird_audit_hash(int64_t seq, int64_t at_ms, const char *actor, const char *kind,
                   const char *subject, const char *detail_json, const char *prev_hash,
                   char out[IRD_AUDIT_HASH_LEN])
{
    static const char prefix[] = "ird-audit-v1\n";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        return -ENOMEM;
    int ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
             EVP_DigestUpdate(ctx, prefix, sizeof(prefix) - 1) && put_int(ctx, seq) &&
             put_int(ctx, at_ms) && put_str(ctx, actor) && put_str(ctx, kind) &&
             put_str(ctx, subject) && put_str(ctx, detail_json) && put_str(ctx, prev_hash) &&
             EVP_DigestFinal_ex(ctx, md, &mdlen) && mdlen == 32;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return -ENOMEM;
    static const char hex[] = "0123456789abcdef";
    for (unsigned int i = 0; i < mdlen; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[2 * mdlen] = '\0';
    return 0;
}

/* The last record's seq and hash, or 0 and the genesis hash for none. */
static int last_record(sqlite3 *db, int64_t *ret_seq, char hash[IRD_AUDIT_HASH_LEN])
{
    /* Appends run in store jobs: statements come from the writer's cache. */
    sqlite3_stmt *st = ird_store_stmt(db, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1");
    if (!st)
        return -EIO;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *h = (const char *)sqlite3_column_text(st, 1);
        *ret_seq = sqlite3_column_int64(st, 0);
        snprintf(hash, IRD_AUDIT_HASH_LEN, "%s", h ? h : "");
    } else if (rc == SQLITE_DONE) {
        *ret_seq = 0;
        memcpy(hash, IRD_AUDIT_GENESIS, IRD_AUDIT_HASH_LEN);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -EIO;
}

int ird_audit_append(sqlite3 *db, int64_t at_ms, const char *actor, const char *kind,
                     const char *subject, const cJSON *detail)
{
    if (!db || !actor || !subject || !ird_audit_kind_known(kind))
        return -EINVAL;
    char *text = detail ? cJSON_PrintUnformatted(detail) : NULL;
    if (detail && !text)
        return -ENOMEM;
    const char *detail_json = text ? text : "{}";
    int64_t seq;
    char prev[IRD_AUDIT_HASH_LEN], hash[IRD_AUDIT_HASH_LEN];
    int rc = last_record(db, &seq, prev);
    if (!rc)
        rc = ird_audit_hash(seq + 1, at_ms, actor, kind, subject, detail_json, prev, hash);
    sqlite3_stmt *st = NULL;
    if (!rc &&
        !(st = ird_store_stmt(db, "INSERT INTO audit(seq, at, actor, kind, subject, detail, "
                                  "prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")))
        rc = -EIO;
    if (!rc) {
        sqlite3_bind_int64(st, 1, seq + 1);
        sqlite3_bind_int64(st, 2, at_ms);
        sqlite3_bind_text(st, 3, actor, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, kind, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, subject, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, detail_json, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 7, prev, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 8, hash, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = -EIO;
    }
    sqlite3_reset(st);
    cJSON_free(text);
    return rc;
}

static const char *col_text(sqlite3_stmt *st, int col)
{
    const unsigned char *v = sqlite3_column_text(st, col);
    return v ? (const char *)v : "";
}

int ird_audit_verify(sqlite3 *db, int64_t *ret_checked, int64_t *ret_first_bad_seq,
                     struct ird_err *err)
{
    int64_t checked = 0, bad = 0;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "SELECT seq, at, actor, kind, subject, detail, prev_hash, hash "
                           "FROM audit ORDER BY seq",
                           -1, &st, NULL) != SQLITE_OK)
        return ird_err_set(err, -EIO, "cannot read the audit table: %s", sqlite3_errmsg(db));
    int64_t expect = 1;
    char prev[IRD_AUDIT_HASH_LEN];
    memcpy(prev, IRD_AUDIT_GENESIS, IRD_AUDIT_HASH_LEN);
    int rc, ret = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64(st, 0);
        const char *prev_hash = col_text(st, 6), *hash = col_text(st, 7);
        char want[IRD_AUDIT_HASH_LEN];
        if (seq != expect) {
            /* ORDER BY seq: a larger seq means records were removed, a
             * smaller one (0 or negative) that one was slipped in first. */
            bad = seq > expect ? expect : seq;
            ret = seq > expect
                      ? ird_err_set(err, -EBADMSG, "record %" PRId64 " missing (deleted?)", expect)
                      : ird_err_set(err, -EBADMSG,
                                    "record %" PRId64 ": not a valid seq (inserted?)", seq);
            break;
        }
        if (strcmp(prev_hash, prev) != 0) {
            bad = seq;
            ret = seq == 1
                      ? ird_err_set(err, -EBADMSG,
                                    "record 1: prev_hash is not the genesis value (edited?)")
                      : ird_err_set(err, -EBADMSG,
                                    "record %" PRId64 ": prev_hash does not match record %" PRId64,
                                    seq, seq - 1);
            break;
        }
        if (ird_audit_hash(seq, sqlite3_column_int64(st, 1), col_text(st, 2), col_text(st, 3),
                           col_text(st, 4), col_text(st, 5), prev_hash, want)) {
            ret = ird_err_set(err, -ENOMEM, "out of memory");
            break;
        }
        if (strcmp(want, hash) != 0) {
            bad = seq;
            ret = ird_err_set(err, -EBADMSG,
                              "record %" PRId64 ": content does not match its hash (edited?)", seq);
            break;
        }
        memcpy(prev, want, sizeof(prev));
        checked++;
        expect++;
    }
    if (!ret && rc != SQLITE_DONE)
        ret = ird_err_set(err, -EIO, "cannot read the audit table: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    if (ret_checked)
        *ret_checked = checked;
    if (ret_first_bad_seq)
        *ret_first_bad_seq = bad;
    return ret;
}

static cJSON *record_json(sqlite3_stmt *st)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    char when[40];
    ird_clock_format(sqlite3_column_int64(st, 1), when, sizeof(when));
    const char *detail = col_text(st, 5);
    cJSON *parsed = cJSON_Parse(detail);
    int ok = cJSON_AddNumberToObject(o, "seq", (double)sqlite3_column_int64(st, 0)) &&
             cJSON_AddStringToObject(o, "at", when) &&
             cJSON_AddStringToObject(o, "actor", col_text(st, 2)) &&
             cJSON_AddStringToObject(o, "kind", col_text(st, 3)) &&
             cJSON_AddStringToObject(o, "subject", col_text(st, 4));
    if (ok) {
        cJSON *d = parsed ? parsed : cJSON_CreateString(detail);
        parsed = NULL;
        ok = d && cJSON_AddItemToObject(o, "detail", d);
        if (d && !ok)
            cJSON_Delete(d);
    }
    ok = ok && cJSON_AddStringToObject(o, "prev_hash", col_text(st, 6)) &&
         cJSON_AddStringToObject(o, "hash", col_text(st, 7));
    cJSON_Delete(parsed);
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

int ird_audit_list(sqlite3 *db, const struct ird_audit_query *q, cJSON **ret_records,
                   int64_t *ret_next_after, struct ird_err *err)
{
    if (q->limit < 1)
        return ird_err_set(err, -EINVAL, "limit must be at least 1");
    /* Constant SQL; every filter is a bound parameter. A kind matches itself
     * and the kinds under it ("incident" or "incident." → "incident.*"). */
    static const char sql[] =
        "SELECT seq, at, actor, kind, subject, detail, prev_hash, hash FROM audit "
        "WHERE seq > ?1 AND at >= ?2 AND (?3 IS NULL OR kind = ?3 "
        "OR substr(kind, 1, length(?3) + 1) = ?3 || '.' "
        "OR (substr(?3, -1) = '.' AND substr(kind, 1, length(?3)) = ?3)) "
        "ORDER BY seq LIMIT ?4";
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return ird_err_set(err, -EIO, "cannot read the audit table: %s", sqlite3_errmsg(db));
    sqlite3_bind_int64(st, 1, q->after);
    sqlite3_bind_int64(st, 2, q->since_ms);
    if (q->kind)
        sqlite3_bind_text(st, 3, q->kind, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, (int64_t)q->limit + 1);
    cJSON *list = cJSON_CreateArray();
    int64_t n = 0, last = 0, next = 0;
    int rc = SQLITE_DONE, ret = list ? 0 : -ENOMEM;
    while (!ret && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == q->limit) {
            next = last;
            break;
        }
        cJSON *o = record_json(st);
        if (!o || !cJSON_AddItemToArray(list, o)) {
            cJSON_Delete(o);
            ret = ird_err_set(err, -ENOMEM, "out of memory");
            break;
        }
        last = sqlite3_column_int64(st, 0);
        n++;
    }
    if (!ret && rc != SQLITE_ROW && rc != SQLITE_DONE)
        ret = ird_err_set(err, -EIO, "cannot read the audit table: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    if (ret) {
        cJSON_Delete(list);
        return ret;
    }
    *ret_records = list;
    if (ret_next_after)
        *ret_next_after = next;
    return 0;
}
