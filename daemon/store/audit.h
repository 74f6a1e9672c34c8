/* The audit trail: an append-only, hash-chained log of what ird and its
 * operators did, in the `audit` table of the state store. Pure SQLite on a
 * connection the caller owns: no loop, no logging.
 *
 * Glossary:
 *   record     one row: seq (1, 2, 3, ... without gaps), at (ms since the
 *              epoch), actor, kind, subject, detail (JSON text), prev_hash, hash
 *   actor      who did it: "ird" for the daemon itself, a source name for an
 *              alert sender, an api.tokens name for an operator (never a token)
 *   subject    what it is about: an incident id, a run id, "run/step", ...
 *   chain      each record's prev_hash is the previous record's hash; the
 *              first record's prev_hash is 64 '0' characters (IRD_AUDIT_GENESIS)
 *
 * The hash of a record is the lowercase hex SHA-256 of this encoding (v1):
 *
 *   "ird-audit-v1\n" N(seq) N(at) N(actor) N(kind) N(subject) N(detail) N(prev_hash)
 *
 * where N(x) is a netstring: the byte length of x in decimal ASCII, ':', the
 * bytes of x, ','. seq and at are written in decimal ASCII (a leading '-' if
 * negative, no leading zeros); detail is the exact text stored in the detail
 * column, which ird_audit_append() produces with cJSON_PrintUnformatted().
 * Because every field carries its length, no two different records share an
 * encoding. Example, seq 1, at 23, actor "ird", kind "alert.received",
 * subject "inc-1", detail {}, genesis prev_hash:
 *   ird-audit-v1\n1:1,2:23,3:ird,14:alert.received,5:inc-1,2:{},64:000...000,
 *
 * The kinds (the vocabulary; ird_audit_append() refuses any other):
 *   alert.received        an alert was stored (subject: incident id)
 *   incident.opened       a new incident (subject: incident id)
 *   incident.changed      severity, title or alert count changed
 *   incident.acknowledged an operator or a pager acknowledged
 *   incident.resolved     resolved by the source or an operator
 *   run.started           a playbook run began (subject: run id)
 *   run.finished          it ended (detail: state, error)
 *   step.started          a step began (subject: "run/step")
 *   step.finished         it ended (detail: state, result summary)
 *   step.blocked          a guard stopped it (detail: which guard, why)
 *   call.made             a mutating call was sent (method, path, status)
 *   call.planned          a mutating call was recorded in dry-run
 *   approval.granted      an operator approved a step
 *   override.forced       an admin overrode a guard
 *   config.reloaded       the configuration was reloaded
 * To add a kind, add a row to the table in audit.c and a line here.
 *
 * Secrets: detail, actor and subject are stored and served as they are. Never
 * put a token, a password, a webhook URL, a Secret's value or anything else
 * secret in them: redacting is the caller's duty, not this module's. */
#ifndef IRD_STORE_AUDIT_H
#define IRD_STORE_AUDIT_H

#include <cjson/cJSON.h>
#include <sqlite3.h>
#include <stdint.h>

#include "core/err.h"

#define IRD_AUDIT_GENESIS "0000000000000000000000000000000000000000000000000000000000000000"
/* A hex SHA-256 and its NUL. */
#define IRD_AUDIT_HASH_LEN 65

/* 1 when kind is one of the vocabulary above, else 0. */
int ird_audit_kind_known(const char *kind);

/* Write the hash of one record (the encoding above) as 64 lowercase hex
 * characters and a NUL into out. Returns 0, or -ENOMEM. detail_json is the
 * detail column's text, byte for byte. */
int ird_audit_hash(int64_t seq, int64_t at_ms, const char *actor, const char *kind,
                   const char *subject, const char *detail_json, const char *prev_hash,
                   char out[IRD_AUDIT_HASH_LEN]);

/* Append a record after the last one: seq = last seq + 1 (1 for the first),
 * prev_hash = the last record's hash (IRD_AUDIT_GENESIS for the first).
 * Runs inside the caller's transaction (a store job's apply function): it
 * neither begins nor commits. detail may be NULL (stored as {}); it is
 * printed compact and not kept. The caller guarantees that nothing secret is
 * in actor, subject or detail. Returns 0; -EINVAL for a NULL actor or subject
 * or a kind not in the vocabulary; -ENOMEM; -EIO when SQLite fails. */
int ird_audit_append(sqlite3 *db, int64_t at_ms, const char *actor, const char *kind,
                     const char *subject, const cJSON *detail);

/* Walk the whole trail in seq order and check the chain. Returns 0 when it
 * is intact: *ret_checked is the number of records, *ret_first_bad_seq 0.
 * Returns -EBADMSG at the first broken record, with *ret_first_bad_seq its seq
 * (the missing seq for a gap), *ret_checked the records before it that were
 * good, and err one of:
 *   "record 12 missing (deleted?)"
 *   "record 18: prev_hash does not match record 17"
 *   "record 17: content does not match its hash (edited?)"
 * (a record whose link is broken is reported as such even if its own hash is
 * also off). Returns -EIO when the table cannot be read (err says why).
 * Either out pointer may be NULL. Deleting the newest records cannot be seen
 * from the chain alone; compare the count with an earlier verify. */
int ird_audit_verify(sqlite3 *db, int64_t *ret_checked, int64_t *ret_first_bad_seq,
                     struct ird_err *err);

/* What to list. */
struct ird_audit_query {
    int64_t after;    /* only seq > after (0: from the first record) */
    int64_t since_ms; /* only at >= since_ms (INT64_MIN: no bound) */
    const char *kind; /* NULL: every kind; else the kind itself, or every kind
                         under it: "incident" and "incident." both match
                         "incident.opened", "incident.resolved", ... */
    int limit;        /* at most this many records (1 or more) */
};

/* Records matching q in seq order, as a new cJSON array (the caller deletes
 * it) into *ret_records, each {seq, at (RFC 3339), actor, kind, subject,
 * detail (parsed JSON; the raw text as a string if it does not parse),
 * prev_hash, hash}. *ret_next_after is the seq of the last record returned
 * when more records match (pass it as the next query's after), else 0.
 * Returns 0, -EINVAL for a limit < 1, -ENOMEM, or -EIO (err says why). */
int ird_audit_list(sqlite3 *db, const struct ird_audit_query *q, cJSON **ret_records,
                   int64_t *ret_next_after, struct ird_err *err);

#endif
