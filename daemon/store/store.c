/* SQLite store: open and migrate, group commit on a worker thread, a read
 * connection for the loop. Commits end in an fsync (milliseconds on real
 * disks), so they run off the loop; reads are indexed lookups and stay on it. */
#include "store/store.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/metrics.h"

/* Each entry moves the schema from version i to i+1. Never edit a shipped
 * entry: add one. */
static const char *const migrations[] = {
    /* 1: alerts and incidents (intake), their timeline. */
    "CREATE TABLE incidents ("
    "  id TEXT PRIMARY KEY,"
    "  key TEXT NOT NULL," /* source + dedup key of the alert group */
    "  source TEXT NOT NULL,"
    "  state TEXT NOT NULL CHECK (state IN ('triggered','acknowledged','resolved')),"
    "  severity TEXT NOT NULL,"
    "  title TEXT NOT NULL,"
    "  namespace TEXT NOT NULL,"
    "  pod TEXT NOT NULL,"
    "  opened_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  acknowledged_at INTEGER, acknowledged_by TEXT,"
    "  resolved_at INTEGER, resolved_by TEXT,"
    "  alert_count INTEGER NOT NULL DEFAULT 0,"
    "  hold_resolve INTEGER NOT NULL DEFAULT 0"
    ");"
    "CREATE UNIQUE INDEX incidents_open_key ON incidents(key) WHERE state != 'resolved';"
    "CREATE INDEX incidents_opened ON incidents(opened_at DESC, id DESC);"
    "CREATE TABLE alerts ("
    "  id INTEGER PRIMARY KEY,"
    "  incident_id TEXT NOT NULL REFERENCES incidents(id),"
    "  source TEXT NOT NULL,"
    "  dedup_key TEXT NOT NULL,"
    "  status TEXT NOT NULL,"
    "  severity TEXT NOT NULL,"
    "  first_seen INTEGER NOT NULL,"
    "  last_seen INTEGER NOT NULL,"
    "  received INTEGER NOT NULL DEFAULT 1,"
    "  alert TEXT NOT NULL," /* the normalized alert as JSON, raw included */
    "  UNIQUE (incident_id, source, dedup_key)"
    ");"
    "CREATE INDEX alerts_incident ON alerts(incident_id);"
    "CREATE TABLE timeline ("
    "  id INTEGER PRIMARY KEY,"
    "  incident_id TEXT NOT NULL REFERENCES incidents(id),"
    "  at INTEGER NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  detail TEXT NOT NULL"
    ");"
    "CREATE INDEX timeline_incident ON timeline(incident_id, id);",
    /* 2: playbook runs and their steps, the audit trail, durable timers. */
    "CREATE TABLE runs ("
    "  id TEXT PRIMARY KEY,"
    "  playbook TEXT NOT NULL,"
    "  incident_id TEXT REFERENCES incidents(id)," /* NULL: a manual run without incident */
    "  phase TEXT NOT NULL DEFAULT 'main' CHECK (phase IN ('main','resolve')),"
    "  mode TEXT NOT NULL CHECK (mode IN ('auto','approve','manual')),"
    "  state TEXT NOT NULL,"
    "  dry_run INTEGER NOT NULL,"
    "  context TEXT NOT NULL," /* the template context: alert, incident, target, param */
    "  next_step INTEGER NOT NULL DEFAULT 0,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  finished_at INTEGER,"
    "  triggered_by TEXT NOT NULL,"
    "  error TEXT"
    ");"
    /* One automatic run per incident, playbook and phase; runs by hand are free. */
    "CREATE UNIQUE INDEX runs_once ON runs(incident_id, playbook, phase) "
    "WHERE incident_id IS NOT NULL AND triggered_by IN ('alert', 'incident.resolved');"
    "CREATE INDEX runs_incident ON runs(incident_id);"
    "CREATE INDEX runs_created ON runs(created_at DESC);"
    "CREATE INDEX incidents_key ON incidents(key);" /* rowid is implied */
    "CREATE INDEX runs_unfinished ON runs(state) WHERE finished_at IS NULL;"
    "CREATE TABLE steps ("
    "  run_id TEXT NOT NULL REFERENCES runs(id),"
    "  idx INTEGER NOT NULL,"
    "  name TEXT NOT NULL,"
    "  action TEXT NOT NULL,"
    "  state TEXT NOT NULL,"
    "  params TEXT," /* expanded, secrets redacted */
    "  result TEXT,"
    "  planned TEXT," /* calls made or (dry-run) planned */
    "  error TEXT,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  started_at INTEGER,"
    "  finished_at INTEGER,"
    "  approved_by TEXT,"
    "  forced_by TEXT,"
    "  PRIMARY KEY (run_id, idx)"
    ");"
    "CREATE TABLE audit ("
    "  seq INTEGER PRIMARY KEY,"
    "  at INTEGER NOT NULL,"
    "  actor TEXT NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  subject TEXT NOT NULL,"
    "  detail TEXT NOT NULL,"
    "  prev_hash TEXT NOT NULL,"
    "  hash TEXT NOT NULL"
    ");"
    "CREATE TABLE timers ("
    "  id INTEGER PRIMARY KEY,"
    "  kind TEXT NOT NULL,"
    "  subject TEXT NOT NULL,"
    "  due_at INTEGER NOT NULL,"
    "  data TEXT NOT NULL DEFAULT '{}',"
    "  UNIQUE (kind, subject)"
    ");"
    "CREATE INDEX timers_due ON timers(due_at);",
    /* 3: what the guards let through, so their limits survive a restart. */
    "CREATE TABLE guard_targets ("
    "  id INTEGER PRIMARY KEY,"
    "  incident TEXT NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  namespace TEXT NOT NULL,"
    "  name TEXT NOT NULL,"
    "  at INTEGER NOT NULL"
    ");"
    "CREATE INDEX guard_targets_at ON guard_targets(at);",
};
#define NMIGRATIONS (int)(sizeof(migrations) / sizeof(migrations[0]))

int ird_store_schema_version(void)
{
    return NMIGRATIONS;
}

/* ---- statement cache (writer connections only) ------------------------------ */

#define STMT_SLOTS 128

static struct {
    sqlite3 *db;
    const char *sql;
    sqlite3_stmt *stmt;
} stmt_cache[STMT_SLOTS];

sqlite3_stmt *ird_store_stmt(sqlite3 *db, const char *sql)
{
    size_t h = (((uintptr_t)sql >> 3) ^ ((uintptr_t)db >> 4)) % STMT_SLOTS;
    for (size_t i = 0; i < STMT_SLOTS; i++) {
        size_t k = (h + i) % STMT_SLOTS;
        if (stmt_cache[k].db == db && stmt_cache[k].sql == sql) {
            sqlite3_reset(stmt_cache[k].stmt);
            sqlite3_clear_bindings(stmt_cache[k].stmt);
            return stmt_cache[k].stmt;
        }
        if (!stmt_cache[k].db) {
            sqlite3_stmt *st = NULL;
            if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK)
                return NULL;
            stmt_cache[k].db = db;
            stmt_cache[k].sql = sql;
            stmt_cache[k].stmt = st;
            return st;
        }
    }
    /* Full (more distinct statements than slots): callers still work, slower. */
    sqlite3_stmt *st = NULL;
    return sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK ? st : NULL;
}

void ird_store_stmt_forget(sqlite3 *db)
{
    for (size_t k = 0; k < STMT_SLOTS; k++)
        if (stmt_cache[k].db == db) {
            sqlite3_finalize(stmt_cache[k].stmt);
            stmt_cache[k].db = NULL;
            stmt_cache[k].sql = NULL;
            stmt_cache[k].stmt = NULL;
        }
}

struct job {
    ird_store_apply_fn apply;
    ird_store_done_fn done;
    void *data;
    int status;
    struct job *next;
};

struct ird_store {
    uv_loop_t *loop;
    sqlite3 *writer;
    sqlite3 *reader;
    uv_idle_t idle; /* starts a batch on the next loop turn */
    uv_work_t work;
    struct job *queued, *queued_last;
    struct job *batch; /* being committed by the worker */
    size_t nqueued, nbatch;
    bool busy; /* a batch is on the worker */
    bool closing;
    int fail_commits;
    int64_t batch_start_ns;
    void (*close_cb)(void *);
    void *close_data;
};

static int exec_sql(sqlite3 *db, const char *sql, struct ird_err *err)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        ird_err_set(err, -EIO, "%s", msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return -EIO;
    }
    return 0;
}

static int open_db(const char *path, sqlite3 **ret, struct ird_err *err)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(
        path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        ird_err_set(err, -EIO, "cannot open %s: %s", path,
                    db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return -EIO;
    }
    sqlite3_busy_timeout(db, 5000);
    sqlite3_extended_result_codes(db, 1);
    if (exec_sql(db, "PRAGMA foreign_keys=ON;", err)) {
        sqlite3_close(db);
        return -EIO;
    }
    *ret = db;
    return 0;
}

static int migrate(sqlite3 *db, const char *path, struct ird_err *err)
{
    sqlite3_stmt *st;
    int version = 0;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version;", -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            version = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    if (version > NMIGRATIONS)
        return ird_err_set(err, -EPROTO,
                           "%s has schema version %d, newer than this ird (%d): upgrade ird", path,
                           version, NMIGRATIONS);
    for (int v = version; v < NMIGRATIONS; v++) {
        char pragma[64];
        snprintf(pragma, sizeof(pragma), "PRAGMA user_version=%d;", v + 1);
        if (exec_sql(db, "BEGIN IMMEDIATE;", err) || exec_sql(db, migrations[v], err) ||
            exec_sql(db, pragma, err) || exec_sql(db, "COMMIT;", err)) {
            sqlite3_exec(db, "ROLLBACK;", NULL, NULL, NULL);
            ird_err_prefix(err, "%s: migration to schema %d failed: ", path, v + 1);
            return -EIO;
        }
    }
    return 0;
}

struct ird_store *ird_store_open(uv_loop_t *loop, const char *state_dir, struct ird_err *err)
{
    /* Memory statistics take a global mutex on every allocation; ird does
     * not read them. Only possible before SQLite initializes. */
    static bool configured;
    if (!configured) {
        sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
        configured = true;
    }
    if (mkdir(state_dir, 0750) != 0 && errno != EEXIST) {
        ird_err_set(err, -errno, "state_dir %s: cannot create: %s", state_dir, strerror(errno));
        return NULL;
    }
    if (access(state_dir, W_OK | X_OK) != 0) {
        ird_err_set(err, -errno, "state_dir %s is not writable: %s", state_dir, strerror(errno));
        return NULL;
    }
    char path[4096];
    if ((size_t)snprintf(path, sizeof(path), "%s/ird.db", state_dir) >= sizeof(path)) {
        ird_err_set(err, -ENAMETOOLONG, "state_dir %s: path too long", state_dir);
        return NULL;
    }
    struct ird_store *s = calloc(1, sizeof(*s));
    if (!s) {
        ird_err_set(err, -ENOMEM, "out of memory");
        return NULL;
    }
    s->loop = loop;
    if (open_db(path, &s->writer, err))
        goto fail;
    /* WAL: readers do not block the writer; FULL: a commit is on disk when
     * COMMIT returns, which is what a 202 promises. */
    if (exec_sql(s->writer, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", err)) {
        ird_err_prefix(err, "%s: ", path);
        goto fail;
    }
    if (migrate(s->writer, path, err))
        goto fail;
    if (open_db(path, &s->reader, err))
        goto fail;
    /* The reader serves the loop: in WAL mode it waits for nobody, and should
     * it ever have to, a short wait beats stalling every connection. */
    sqlite3_busy_timeout(s->reader, 200);
    uv_idle_init(loop, &s->idle);
    s->idle.data = s;
    ird_metrics_define(
        "ird_store_commit_seconds", IRD_METRIC_HISTOGRAM,
        "Time to commit one batch of store writes (group commit).",
        (const double[]){0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1}, 10);
    ird_metrics_define("ird_store_batch_jobs", IRD_METRIC_HISTOGRAM,
                       "Jobs committed together in one transaction.",
                       (const double[]){1, 2, 4, 8, 16, 32, 64, 128, 256, 1024}, 10);
    return s;
fail:
    sqlite3_close(s->writer);
    sqlite3_close(s->reader);
    free(s);
    return NULL;
}

/* ---- group commit ----------------------------------------------------------- */

/* Run one cached statement that returns no rows; 0 or -EIO. */
static int exec_cached(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = ird_store_stmt(db, sql);
    if (!st)
        return -EIO;
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -EIO;
}

static void run_batch(uv_work_t *w)
{
    struct ird_store *s = w->data;
    sqlite3 *db = s->writer;
    int rc = s->fail_commits ? -EIO : 0;
    if (!rc)
        rc = exec_cached(db, "BEGIN IMMEDIATE");
    if (!rc) {
        for (struct job *j = s->batch; j; j = j->next) {
            exec_cached(db, "SAVEPOINT job");
            j->status = j->apply ? j->apply(db, j->data) : 0;
            if (j->status)
                exec_cached(db, "ROLLBACK TO job");
            exec_cached(db, "RELEASE job");
        }
        if (exec_cached(db, "COMMIT")) {
            exec_cached(db, "ROLLBACK");
            rc = -EIO;
        }
    }
    if (rc)
        for (struct job *j = s->batch; j; j = j->next)
            j->status = rc;
}

static void start_batch(struct ird_store *s);

static void after_batch(uv_work_t *w, int status)
{
    struct ird_store *s = w->data;
    struct job *done = s->batch;
    double secs = (double)(uv_hrtime() - (uint64_t)s->batch_start_ns) / 1e9;
    ird_metrics_observe("ird_store_commit_seconds", "", secs);
    ird_metrics_observe("ird_store_batch_jobs", "", (double)s->nbatch);
    s->batch = NULL;
    s->nbatch = 0;
    s->busy = false;
    struct job *next;
    for (struct job *j = done; j; j = next) {
        next = j->next;
        if (j->done)
            j->done(status ? status : j->status, j->data);
        free(j);
    }
    if (s->queued)
        start_batch(s);
    else if (s->closing)
        ird_store_close(s, s->close_cb, s->close_data);
}

static void start_batch(struct ird_store *s)
{
    if (s->busy || !s->queued)
        return;
    s->batch = s->queued;
    s->nbatch = s->nqueued;
    s->queued = s->queued_last = NULL;
    s->nqueued = 0;
    s->busy = true;
    s->batch_start_ns = (int64_t)uv_hrtime();
    s->work.data = s;
    if (uv_queue_work(s->loop, &s->work, run_batch, after_batch) != 0) {
        /* Cannot happen with valid arguments; fail the jobs rather than hang. */
        for (struct job *j = s->batch; j; j = j->next)
            j->status = -EIO;
        after_batch(&s->work, -EIO);
    }
}

static void on_idle(uv_idle_t *h)
{
    struct ird_store *s = h->data;
    uv_idle_stop(h);
    start_batch(s);
}

int ird_store_submit(struct ird_store *s, ird_store_apply_fn apply, ird_store_done_fn done,
                     void *data)
{
    if (s->closing)
        return -ESHUTDOWN;
    struct job *j = calloc(1, sizeof(*j));
    if (!j)
        return -ENOMEM;
    j->apply = apply;
    j->done = done;
    j->data = data;
    if (s->queued_last)
        s->queued_last->next = j;
    else
        s->queued = j;
    s->queued_last = j;
    s->nqueued++;
    /* The batch starts on the next loop turn, so everything submitted in
     * this turn's callbacks shares one transaction. */
    if (!s->busy && !uv_is_active((uv_handle_t *)&s->idle))
        uv_idle_start(&s->idle, on_idle);
    return 0;
}

sqlite3 *ird_store_reader(struct ird_store *s)
{
    return s->reader;
}

size_t ird_store_pending(const struct ird_store *s)
{
    return s->nqueued + s->nbatch;
}

void ird_store_inject_failure(struct ird_store *s, int fail)
{
    s->fail_commits = fail;
}

static void on_idle_closed(uv_handle_t *h)
{
    struct ird_store *s = h->data;
    void (*cb)(void *) = s->close_cb;
    void *data = s->close_data;
    sqlite3_close(s->reader);
    /* Fold the WAL back into the database so a copied ird.db is complete. */
    ird_store_stmt_forget(s->writer);
    sqlite3_exec(s->writer, "PRAGMA wal_checkpoint(TRUNCATE);", NULL, NULL, NULL);
    sqlite3_close(s->writer);
    free(s);
    if (cb)
        cb(data);
}

void ird_store_close(struct ird_store *s, void (*close_cb)(void *), void *data)
{
    s->closing = true;
    s->close_cb = close_cb;
    s->close_data = data;
    if (s->busy)
        return; /* after_batch comes back here */
    if (s->queued) {
        uv_idle_stop(&s->idle);
        start_batch(s);
        return;
    }
    if (!uv_is_closing((uv_handle_t *)&s->idle))
        uv_close((uv_handle_t *)&s->idle, on_idle_closed);
}
