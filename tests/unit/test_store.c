/* store: migrations, group commit (one transaction per loop turn), done only
 * after commit, per-job rollback, failure, close flushes the queue. */
#include "check.h"
#include "api/metrics.h"
#include "store/store.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

struct job {
    int id;
    int fail;   /* apply returns this */
    int status; /* done's status */
    int done;
};

static int apply_insert(sqlite3 *db, void *data)
{
    struct job *j = data;
    char sql[128];
    snprintf(sql, sizeof(sql), "INSERT INTO t(v) VALUES (%d);", j->id);
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return -EIO;
    return j->fail;
}

static void on_done(int status, void *data)
{
    struct job *j = data;
    j->status = status;
    j->done++;
}

static int count_rows(sqlite3 *db)
{
    sqlite3_stmt *st;
    int n = -1;
    if (sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM t", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return n;
}

static int closed;
static void on_closed(void *data)
{
    (void)data;
    closed = 1;
}

static int create_table(sqlite3 *db, void *data)
{
    (void)data;
    return sqlite3_exec(db, "CREATE TABLE IF NOT EXISTS t(v INTEGER)", NULL, NULL, NULL) ? -EIO : 0;
}

int main(void)
{
    char dir[] = "/tmp/ird-store-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char state[300];
    snprintf(state, sizeof(state), "%s/state", dir);
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct ird_err err = {{0}};

    struct ird_store *s = ird_store_open(&loop, state, &err);
    CHECK(s != NULL);
    /* Schema migrated to the current version. */
    sqlite3_stmt *st;
    CHECK(sqlite3_prepare_v2(ird_store_reader(s), "PRAGMA user_version", -1, &st, NULL) ==
          SQLITE_OK);
    CHECK(sqlite3_step(st) == SQLITE_ROW);
    CHECK_INT(sqlite3_column_int(st, 0), ird_store_schema_version());
    sqlite3_finalize(st);
    CHECK(sqlite3_prepare_v2(ird_store_reader(s), "PRAGMA journal_mode", -1, &st, NULL) ==
          SQLITE_OK);
    CHECK(sqlite3_step(st) == SQLITE_ROW);
    CHECK_STR((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);

    struct job setup = {0};
    CHECK_INT(ird_store_submit(s, create_table, on_done, &setup), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_INT(setup.done, 1);

    /* Ten jobs in one turn: all done once, after commit, none before the loop runs. */
    struct job jobs[10] = {{0}};
    for (int i = 0; i < 10; i++) {
        jobs[i].id = i;
        CHECK_INT(ird_store_submit(s, apply_insert, on_done, &jobs[i]), 0);
    }
    jobs[4].fail = -EINVAL; /* rolls back its own insert only */
    CHECK_INT(ird_store_pending(s), 10);
    CHECK_INT(jobs[0].done, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    for (int i = 0; i < 10; i++)
        CHECK_INT(jobs[i].done, 1);
    CHECK_INT(jobs[0].status, 0);
    CHECK_INT(jobs[4].status, -EINVAL);
    CHECK_INT(count_rows(ird_store_reader(s)), 9);
    CHECK_INT(ird_store_pending(s), 0);
    /* Group commit: the setup job, then the ten in a single transaction. */
    CHECK_INT(ird_metrics_get("ird_store_batch_jobs", ""), 2);

    /* A failing commit fails every job of the batch and stores nothing. */
    ird_store_inject_failure(s, 1);
    struct job f1 = {.id = 100}, f2 = {.id = 101};
    ird_store_submit(s, apply_insert, on_done, &f1);
    ird_store_submit(s, apply_insert, on_done, &f2);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_INT(f1.status, -EIO);
    CHECK_INT(f2.status, -EIO);
    CHECK_INT(count_rows(ird_store_reader(s)), 9);
    ird_store_inject_failure(s, 0);

    /* Close flushes what is queued, then refuses new work. */
    struct job last = {.id = 200};
    ird_store_submit(s, apply_insert, on_done, &last);
    ird_store_close(s, on_closed, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_INT(last.done, 1);
    CHECK_INT(last.status, 0);
    CHECK_INT(closed, 1);
    CHECK_INT(uv_loop_close(&loop), 0);

    /* Reopen: the data is there (durable), migrations are not re-run. */
    uv_loop_init(&loop);
    s = ird_store_open(&loop, state, &err);
    CHECK(s != NULL);
    CHECK_INT(count_rows(ird_store_reader(s)), 10);
    closed = 0;
    ird_store_close(s, on_closed, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_INT(closed, 1);

    /* A state_dir that cannot be created is a clear error. */
    char bad[320];
    snprintf(bad, sizeof(bad), "%s/state/ird.db/x", dir);
    CHECK(ird_store_open(&loop, bad, &err) == NULL);
    CHECK(strstr(err.msg, "cannot create") != NULL);
    /* A file that is not a database. */
    char junkdir[320], junk[340];
    snprintf(junkdir, sizeof(junkdir), "%s/junk", dir);
    mkdir(junkdir, 0700);
    snprintf(junk, sizeof(junk), "%s/ird.db", junkdir);
    FILE *fp = fopen(junk, "w");
    fputs("this is not sqlite, it is a text file long enough to have a header...........", fp);
    fclose(fp);
    CHECK(ird_store_open(&loop, junkdir, &err) == NULL);
    CHECK(strstr(err.msg, "not a database") != NULL);
    CHECK_INT(uv_loop_close(&loop), 0);

    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    CHECK_INT(system(cmd), 0);
    ird_metrics_reset();
    return ird_check_summary("test_store");
}
