/* The state store: SQLite in state_dir/ird.db, WAL mode, schema migrations by
 * PRAGMA user_version.
 *
 * Writes are *jobs*: an apply function that runs inside a transaction on a
 * worker thread, and a done callback that runs on the loop after the commit is
 * durable (synchronous=FULL) or failed. Jobs submitted during one loop turn go
 * into one transaction (group commit); while a batch is being committed, new
 * jobs wait for the next. Each job has its own savepoint, so one job's failure
 * rolls back only that job. Reads use a second connection on the loop thread
 * (WAL readers do not wait for the writer). */
#ifndef IRD_STORE_STORE_H
#define IRD_STORE_STORE_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/err.h"

struct ird_store;

/* Runs on the writer thread with the write connection, inside the batch
 * transaction: touch nothing but db and data. Return 0 or a negative errno. */
typedef int (*ird_store_apply_fn)(sqlite3 *db, void *data);
/* Runs on the loop once the batch is committed (status 0) or failed. */
typedef void (*ird_store_done_fn)(int status, void *data);

/* Open (creating state_dir and the database, migrating the schema). NULL
 * with a reason in err when the directory is not writable or the file is not
 * a usable database. */
struct ird_store *ird_store_open(uv_loop_t *loop, const char *state_dir, struct ird_err *err);
/* Queue a job. Returns 0 (done will be called exactly once) or -ESHUTDOWN
 * when the store is closing (done is not called). */
int ird_store_submit(struct ird_store *s, ird_store_apply_fn apply, ird_store_done_fn done,
                     void *data);
/* A prepared statement for the write connection, from a cache, for apply
 * functions (writer thread). sql must be a string literal: its address is
 * the key. The statement comes reset with its bindings cleared; use it, then
 * sqlite3_reset() it (a SELECT keeps a read open until then); never finalize
 * it. NULL when the SQL does not compile. */
sqlite3_stmt *ird_store_stmt(sqlite3 *db, const char *sql);
/* Finalize db's cached statements (before sqlite3_close of a connection that
 * is not a store's, e.g. in tests; ird_store_close does it for its own). */
void ird_store_stmt_forget(sqlite3 *db);

/* The read connection, for the loop thread only. */
sqlite3 *ird_store_reader(struct ird_store *s);
/* Jobs queued or being committed. */
size_t ird_store_pending(const struct ird_store *s);
/* Make the next commits fail (tests: "store failure → 503"). */
void ird_store_inject_failure(struct ird_store *s, int fail);
/* Commit what is queued, then close; close_cb runs when everything is flushed
 * and closed (and the loop holds no handle of the store). */
void ird_store_close(struct ird_store *s, void (*close_cb)(void *), void *data);

/* The schema version this build migrates to. */
int ird_store_schema_version(void);

#endif
