/* audit: records appended through a real store job form a chain that
 * verifies; an edited detail, a changed prev_hash, a deleted record and a
 * re-hashed forgery are each named; the hash encoding is the documented one
 * and unambiguous; listing filters; `ird audit verify` prints and exits as a
 * user expects. */
#include "check.h"
#include "api/metrics.h"
#include "cli/cli.h"
#include "store/audit.h"
#include "store/store.h"

#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int ird_cli_audit(const struct ird_command *cmd, int argc, char **argv);

#define T0 1764574553000LL /* 2025-12-01T07:35:53Z */

static const char *const kinds[] = {"alert.received", "incident.opened", "run.started",
                                    "step.finished", "incident.resolved"};

/* ---- a store job that appends 20 records ----------------------------------------- */

struct append_job {
    int n;
    int rc;
    int done, status;
};

static int apply_append(sqlite3 *db, void *data)
{
    struct append_job *j = data;
    for (int i = 1; i <= j->n && !j->rc; i++) {
        cJSON *d = cJSON_CreateObject();
        cJSON_AddNumberToObject(d, "i", i);
        cJSON_AddStringToObject(d, "note", "pod web-1 \"quoted\", ünïcode");
        char subject[32];
        snprintf(subject, sizeof(subject), "inc-%d", (i + 1) / 2);
        j->rc = ird_audit_append(db, T0 + i * 60000LL, i % 3 ? "ird" : "alice", kinds[(i - 1) % 5],
                                 subject, d);
        cJSON_Delete(d);
    }
    return j->rc;
}

/* Appends one record, then fails: the store rolls the job back. */
static int apply_append_then_fail(sqlite3 *db, void *data)
{
    struct append_job *j = data;
    j->rc = ird_audit_append(db, T0, "ird", "config.reloaded", "ird.conf", NULL);
    return -EIO;
}

static void on_done(int status, void *data)
{
    struct append_job *j = data;
    j->status = status;
    j->done++;
}

static int closed;
static void on_closed(void *data)
{
    (void)data;
    closed = 1;
}

/* ---- helpers ---------------------------------------------------------------------- */

static int exec(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

static char *column(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    char *out = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        out = strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return out;
}

static int verify(sqlite3 *db, int64_t *checked, int64_t *bad, struct ird_err *err)
{
    err->msg[0] = '\0';
    *checked = *bad = -1;
    return ird_audit_verify(db, checked, bad, err);
}

/* Run `ird audit <args>` in-process; stdout into out. Returns the exit code. */
static int run_cli(char *out, size_t outlen, int argc, char **argv)
{
    static const struct ird_command cmd = {"audit", "audit trail", "usage: ird audit ...\n",
                                           ird_cli_audit};
    char path[] = "/tmp/ird-audit-out-XXXXXX";
    int fd = mkstemp(path);
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    dup2(fd, STDOUT_FILENO);
    int rc = ird_cli_audit(&cmd, argc, argv);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    ssize_t n = pread(fd, out, outlen - 1, 0);
    out[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(path);
    return rc;
}

static void sha256_hex(const char *text, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(text, len, md, &mdlen, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* ---- the tests -------------------------------------------------------------------- */

static void test_encoding(void)
{
    /* The documented example, hashed independently of audit.c. */
    static const char doc[] = "ird-audit-v1\n1:1,2:23,3:ird,14:alert.received,5:inc-1,2:{},"
                              "64:" IRD_AUDIT_GENESIS ",";
    char want[65], got[IRD_AUDIT_HASH_LEN];
    sha256_hex(doc, sizeof(doc) - 1, want);
    CHECK_INT(ird_audit_hash(1, 23, "ird", "alert.received", "inc-1", "{}", IRD_AUDIT_GENESIS, got),
              0);
    CHECK_STR(got, want);
    CHECK_INT(strlen(got), 64);

    /* Records whose fields, naively concatenated, read the same: seq 1 at 23
     * and seq 12 at 3 ("123"); actor "ab" kind "c" and actor "a" kind "bc";
     * subject "x{" detail "}" and subject "x" detail "{}". */
    char a[IRD_AUDIT_HASH_LEN], b[IRD_AUDIT_HASH_LEN];
    ird_audit_hash(1, 23, "ird", "k", "s", "{}", IRD_AUDIT_GENESIS, a);
    ird_audit_hash(12, 3, "ird", "k", "s", "{}", IRD_AUDIT_GENESIS, b);
    CHECK(strcmp(a, b) != 0);
    ird_audit_hash(1, 1, "ab", "c", "s", "{}", IRD_AUDIT_GENESIS, a);
    ird_audit_hash(1, 1, "a", "bc", "s", "{}", IRD_AUDIT_GENESIS, b);
    CHECK(strcmp(a, b) != 0);
    ird_audit_hash(1, 1, "ird", "k", "x{", "}", IRD_AUDIT_GENESIS, a);
    ird_audit_hash(1, 1, "ird", "k", "x", "{}", IRD_AUDIT_GENESIS, b);
    CHECK(strcmp(a, b) != 0);
    /* A length prefix inside a field cannot fake a boundary either. */
    ird_audit_hash(1, 1, "a,1:b", "k", "s", "{}", IRD_AUDIT_GENESIS, a);
    ird_audit_hash(1, 1, "a", "b", "s", "{}", IRD_AUDIT_GENESIS, b);
    CHECK(strcmp(a, b) != 0);

    CHECK(ird_audit_kind_known("incident.opened"));
    CHECK(ird_audit_kind_known("config.reloaded"));
    CHECK(!ird_audit_kind_known("incident"));
    CHECK(!ird_audit_kind_known("incident.opened "));
    CHECK(!ird_audit_kind_known(NULL));
}

static void test_chain(sqlite3 *db)
{
    struct ird_err err;
    int64_t checked, bad;
    CHECK_INT(verify(db, &checked, &bad, &err), 0);
    CHECK_INT(checked, 20);
    CHECK_INT(bad, 0);
    CHECK_STR(err.msg, "");

    /* Genesis, links, and the stored detail is the compact JSON. */
    char *p1 = column(db, "SELECT prev_hash FROM audit WHERE seq = 1");
    CHECK_STR(p1, IRD_AUDIT_GENESIS);
    free(p1);
    sqlite3_stmt *st;
    int links = 0;
    CHECK(sqlite3_prepare_v2(db,
                             "SELECT count(*) FROM audit a JOIN audit b ON b.seq = a.seq + 1 "
                             "WHERE b.prev_hash = a.hash",
                             -1, &st, NULL) == SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        links = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    CHECK_INT(links, 19);
    char *d3 = column(db, "SELECT detail FROM audit WHERE seq = 3");
    CHECK_STR(d3, "{\"i\":3,\"note\":\"pod web-1 \\\"quoted\\\", ünïcode\"}");
    free(d3);
    /* Record 3 hashes to what the documented encoding gives. */
    char *h3 = column(db, "SELECT hash FROM audit WHERE seq = 3");
    char *p3 = column(db, "SELECT prev_hash FROM audit WHERE seq = 3");
    char want[IRD_AUDIT_HASH_LEN];
    ird_audit_hash(3, T0 + 3 * 60000LL, "alice", "run.started", "inc-2",
                   "{\"i\":3,\"note\":\"pod web-1 \\\"quoted\\\", ünïcode\"}", p3, want);
    CHECK_STR(h3, want);
    free(h3);
    free(p3);
}

static void test_refusals(sqlite3 *db)
{
    CHECK_INT(ird_audit_append(db, T0, "ird", "incident.exploded", "inc-1", NULL), -EINVAL);
    CHECK_INT(ird_audit_append(db, T0, NULL, "incident.opened", "inc-1", NULL), -EINVAL);
    CHECK_INT(ird_audit_append(db, T0, "ird", "incident.opened", NULL, NULL), -EINVAL);
    char *n = column(db, "SELECT count(*) FROM audit");
    CHECK_STR(n, "20");
    free(n);
}

static void test_list(sqlite3 *db)
{
    struct ird_err err = {{0}};
    cJSON *recs = NULL;
    int64_t next = -1;
    /* First page of 5, then the rest from the cursor. */
    struct ird_audit_query q = {.after = 0, .since_ms = INT64_MIN, .kind = NULL, .limit = 5};
    CHECK_INT(ird_audit_list(db, &q, &recs, &next, &err), 0);
    CHECK_INT(cJSON_GetArraySize(recs), 5);
    CHECK_INT(next, 5);
    cJSON *r1 = cJSON_GetArrayItem(recs, 0);
    CHECK_INT(cJSON_GetObjectItem(r1, "seq")->valuedouble, 1);
    CHECK_STR(cJSON_GetObjectItem(r1, "at")->valuestring, "2025-12-01T07:36:53.000Z");
    CHECK_STR(cJSON_GetObjectItem(r1, "actor")->valuestring, "ird");
    CHECK_STR(cJSON_GetObjectItem(r1, "kind")->valuestring, "alert.received");
    CHECK_STR(cJSON_GetObjectItem(r1, "subject")->valuestring, "inc-1");
    CHECK_STR(cJSON_GetObjectItem(r1, "prev_hash")->valuestring, IRD_AUDIT_GENESIS);
    CHECK_INT(strlen(cJSON_GetObjectItem(r1, "hash")->valuestring), 64);
    cJSON *d = cJSON_GetObjectItem(r1, "detail");
    CHECK(cJSON_IsObject(d));
    CHECK_INT(cJSON_GetObjectItem(d, "i")->valuedouble, 1);
    cJSON_Delete(recs);

    q.after = 5;
    q.limit = 100;
    CHECK_INT(ird_audit_list(db, &q, &recs, &next, &err), 0);
    CHECK_INT(cJSON_GetArraySize(recs), 15);
    CHECK_INT(next, 0);
    CHECK_INT(cJSON_GetObjectItem(cJSON_GetArrayItem(recs, 0), "seq")->valuedouble, 6);
    cJSON_Delete(recs);

    /* Kind: a family with or without the dot, an exact kind, a mere prefix. */
    static const struct {
        const char *kind;
        int n;
    } by_kind[] = {{"incident", 8}, {"incident.", 8}, {"incident.opened", 4},
                   {"inc", 0},      {"run", 4},       {"alert.received.x", 0},
                   {"%", 0},        {"_ncident", 0}};
    for (size_t i = 0; i < sizeof(by_kind) / sizeof(by_kind[0]); i++) {
        struct ird_audit_query k = {0, INT64_MIN, by_kind[i].kind, 100};
        recs = NULL;
        CHECK_INT(ird_audit_list(db, &k, &recs, NULL, &err), 0);
        if (cJSON_GetArraySize(recs) != by_kind[i].n)
            fprintf(stderr, "kind %s\n", by_kind[i].kind);
        CHECK_INT(cJSON_GetArraySize(recs), by_kind[i].n);
        cJSON_Delete(recs);
    }
    /* since: records 16..20 are at or after T0 + 16 min. */
    struct ird_audit_query s = {0, T0 + 16 * 60000LL, NULL, 100};
    CHECK_INT(ird_audit_list(db, &s, &recs, &next, &err), 0);
    CHECK_INT(cJSON_GetArraySize(recs), 5);
    CHECK_INT(cJSON_GetObjectItem(cJSON_GetArrayItem(recs, 0), "seq")->valuedouble, 16);
    cJSON_Delete(recs);
    struct ird_audit_query z = {0, INT64_MIN, NULL, 0};
    CHECK_INT(ird_audit_list(db, &z, &recs, &next, &err), -EINVAL);
}

static void test_tamper(sqlite3 *db)
{
    struct ird_err err;
    int64_t checked, bad;
    char *orig = column(db, "SELECT detail FROM audit WHERE seq = 17");

    /* An edited detail. */
    CHECK_INT(exec(db, "UPDATE audit SET detail = '{\"i\":17,\"note\":\"nothing happened\"}' "
                       "WHERE seq = 17"),
              0);
    CHECK_INT(verify(db, &checked, &bad, &err), -EBADMSG);
    CHECK_INT(bad, 17);
    CHECK_INT(checked, 16);
    CHECK_STR(err.msg, "record 17: content does not match its hash (edited?)");
    /* Other columns are covered too: actor, at. */
    sqlite3_stmt *st;
    CHECK(sqlite3_prepare_v2(db, "UPDATE audit SET detail = ?1 WHERE seq = 17", -1, &st, NULL) ==
          SQLITE_OK);
    sqlite3_bind_text(st, 1, orig, -1, SQLITE_STATIC);
    CHECK(sqlite3_step(st) == SQLITE_DONE);
    sqlite3_finalize(st);
    CHECK_INT(verify(db, &checked, &bad, &err), 0);
    CHECK_INT(exec(db, "UPDATE audit SET actor = 'mallory' WHERE seq = 9"), 0);
    CHECK_INT(verify(db, &checked, &bad, &err), -EBADMSG);
    CHECK_INT(bad, 9);
    CHECK_INT(exec(db, "UPDATE audit SET actor = 'alice' WHERE seq = 9"), 0);
    CHECK_INT(exec(db, "UPDATE audit SET at = at + 1 WHERE seq = 2"), 0);
    CHECK_INT(verify(db, &checked, &bad, &err), -EBADMSG);
    CHECK_INT(bad, 2);
    CHECK_STR(err.msg, "record 2: content does not match its hash (edited?)");
    CHECK_INT(exec(db, "UPDATE audit SET at = at - 1 WHERE seq = 2"), 0);
    CHECK_INT(verify(db, &checked, &bad, &err), 0);

    /* A changed prev_hash. */
    char *prev18 = column(db, "SELECT prev_hash FROM audit WHERE seq = 18");
    CHECK_INT(exec(db, "UPDATE audit SET prev_hash = '" IRD_AUDIT_GENESIS "' WHERE seq = 18"), 0);
    CHECK_INT(verify(db, &checked, &bad, &err), -EBADMSG);
    CHECK_INT(bad, 18);
    CHECK_INT(checked, 17);
    CHECK_STR(err.msg, "record 18: prev_hash does not match record 17");
    CHECK(sqlite3_prepare_v2(db, "UPDATE audit SET prev_hash = ?1 WHERE seq = 18", -1, &st, NULL) ==
          SQLITE_OK);
    sqlite3_bind_text(st, 1, prev18, -1, SQLITE_STATIC);
    CHECK(sqlite3_step(st) == SQLITE_DONE);
    sqlite3_finalize(st);
    free(prev18);
    CHECK_INT(verify(db, &checked, &bad, &err), 0);

    /* A forger who edits record 17 and recomputes its hash is caught at 18. */
    char *hash17 = column(db, "SELECT hash FROM audit WHERE seq = 17");
    char *prev17 = column(db, "SELECT prev_hash FROM audit WHERE seq = 17");
    char *at17 = column(db, "SELECT at FROM audit WHERE seq = 17");
    char *actor17 = column(db, "SELECT actor FROM audit WHERE seq = 17");
    char *kind17 = column(db, "SELECT kind FROM audit WHERE seq = 17");
    char *subj17 = column(db, "SELECT subject FROM audit WHERE seq = 17");
    char forged[IRD_AUDIT_HASH_LEN];
    ird_audit_hash(17, strtoll(at17, NULL, 10), actor17, kind17, subj17, "{}", prev17, forged);
    CHECK(sqlite3_prepare_v2(db, "UPDATE audit SET detail = '{}', hash = ?1 WHERE seq = 17", -1,
                             &st, NULL) == SQLITE_OK);
    sqlite3_bind_text(st, 1, forged, -1, SQLITE_STATIC);
    CHECK(sqlite3_step(st) == SQLITE_DONE);
    sqlite3_finalize(st);
    CHECK_INT(verify(db, &checked, &bad, &err), -EBADMSG);
    CHECK_INT(bad, 18);
    CHECK_STR(err.msg, "record 18: prev_hash does not match record 17");
    CHECK(sqlite3_prepare_v2(db, "UPDATE audit SET detail = ?1, hash = ?2 WHERE seq = 17", -1, &st,
                             NULL) == SQLITE_OK);
    sqlite3_bind_text(st, 1, orig, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, hash17, -1, SQLITE_STATIC);
    CHECK(sqlite3_step(st) == SQLITE_DONE);
    sqlite3_finalize(st);
    CHECK_INT(verify(db, &checked, &bad, &err), 0);
    free(hash17);
    free(prev17);
    free(at17);
    free(actor17);
    free(kind17);
    free(subj17);
    free(orig);
}

static void test_cli(sqlite3 *db, const char *dbpath, const char *confpath)
{
    char out[4096];
    char *intact[] = {"audit", "verify", "--db", (char *)dbpath, NULL};
    CHECK_INT(run_cli(out, sizeof(out), 4, intact), 0);
    CHECK_STR(out, "audit trail intact: 20 records\n");
    char *by_config[] = {"audit", "verify", "-c", (char *)confpath, NULL};
    CHECK_INT(run_cli(out, sizeof(out), 4, by_config), 0);
    CHECK_STR(out, "audit trail intact: 20 records\n");
    char *both[] = {"audit", "verify", "-c", (char *)confpath, "--db", (char *)dbpath, NULL};
    CHECK_INT(run_cli(out, sizeof(out), 6, both), 2);
    char *missing[] = {"audit", "verify", "--db", "/nonexistent/ird.db", NULL};
    CHECK_INT(run_cli(out, sizeof(out), 4, missing), 1);

    /* Delete a middle record: the verify names it and exits 1. */
    CHECK_INT(exec(db, "DELETE FROM audit WHERE seq = 12"), 0);
    struct ird_err err;
    int64_t checked, bad;
    CHECK_INT(verify(db, &checked, &bad, &err), -EBADMSG);
    CHECK_INT(bad, 12);
    CHECK_INT(checked, 11);
    CHECK_STR(err.msg, "record 12 missing (deleted?)");
    CHECK_INT(run_cli(out, sizeof(out), 4, intact), 1);
    static const char broken[] = "audit trail broken: record 12 missing (deleted?)\n";
    CHECK(strncmp(out, broken, sizeof(broken) - 1) == 0);
    CHECK(strstr(out, "11 records before it verified") != NULL);
    /* The first record gone. */
    CHECK_INT(exec(db, "DELETE FROM audit WHERE seq = 1"), 0);
    CHECK_INT(verify(db, &checked, &bad, &err), -EBADMSG);
    CHECK_INT(bad, 1);
    CHECK_STR(err.msg, "record 1 missing (deleted?)");
}

int main(void)
{
    char dir[] = "/tmp/ird-audit-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char state[300], dbpath[320], confpath[320];
    snprintf(state, sizeof(state), "%s/state", dir);
    snprintf(dbpath, sizeof(dbpath), "%s/ird.db", state);
    snprintf(confpath, sizeof(confpath), "%s/ird.conf", dir);

    test_encoding();

    /* 20 records in one store job (one transaction), the way the daemon writes. */
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct ird_err err = {{0}};
    struct ird_store *s = ird_store_open(&loop, state, &err);
    CHECK(s != NULL);
    if (!s) {
        fprintf(stderr, "%s\n", err.msg);
        return ird_check_summary("test_audit");
    }
    struct append_job j = {.n = 20};
    CHECK_INT(ird_store_submit(s, apply_append, on_done, &j), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_INT(j.done, 1);
    CHECK_INT(j.status, 0);
    CHECK_INT(j.rc, 0);
    /* A job that fails after appending leaves no record behind (its savepoint). */
    struct append_job failing = {.n = 1};
    CHECK_INT(ird_store_submit(s, apply_append_then_fail, on_done, &failing), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_INT(failing.rc, 0);
    CHECK_INT(failing.status, -EIO);
    /* The reader (a WAL reader, as the API uses) sees the committed chain. */
    int64_t checked = 0, bad = 0;
    CHECK_INT(ird_audit_verify(ird_store_reader(s), &checked, &bad, &err), 0);
    CHECK_INT(checked, 20);
    ird_store_close(s, on_closed, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_INT(closed, 1);
    CHECK_INT(uv_loop_close(&loop), 0);

    FILE *fp = fopen(confpath, "w");
    CHECK(fp != NULL);
    if (fp) {
        fprintf(fp, "state_dir = \"%s\";\n", state);
        fclose(fp);
    }

    sqlite3 *db = NULL;
    CHECK(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK);
    test_chain(db);
    test_refusals(db);
    test_list(db);
    test_tamper(db);
    test_cli(db, dbpath, confpath);
    sqlite3_close(db);

    char path[400];
    static const char *const files[] = {"state/ird.db", "state/ird.db-wal", "state/ird.db-shm",
                                        "ird.conf"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
        unlink(path);
    }
    snprintf(path, sizeof(path), "%s/state", dir);
    CHECK_INT(rmdir(path), 0);
    CHECK_INT(rmdir(dir), 0);
    ird_metrics_reset();
    return ird_check_summary("test_audit");
}
