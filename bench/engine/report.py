#!/usr/bin/python3
"""bench/engine/report.py: the engine figures, read from ird's own store
(ird.db, opened read-only; ird may still be running: WAL readers are fine).

  throughput DB N     wait for nothing: print the run and step rates and the
                      alert-stored -> first-step latencies of the runs in DB,
                      failing unless N runs succeeded with 3 steps each.
  running DB N        print how many runs have step 0 in state running.
  resumed DB N SINCE  rates of the runs that finished after SINCE (ms), for
                      runs resumed at a restart.

Every timestamp is ird's (milliseconds, ird_clock_now_ms): alerts.first_seen
is set when the intake accepts the alert, runs.created_at when the engine
creates the run, steps.started_at when the engine decides to issue the step
(just before it stores the step as running and then calls the action),
steps.finished_at and runs.finished_at when the answer is handled."""

import sqlite3
import sys


def connect(path):
    return sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=30)


def pct(v, p):
    return v[min(len(v) - 1, int(p * len(v)))] if v else float("nan")


def fail(msg):
    print("bench: FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def rates(db, n, since):
    runs = db.execute("SELECT COUNT(*), MIN(created_at), MIN(finished_at), MAX(finished_at) FROM runs "
                      "WHERE state = 'succeeded' AND finished_at >= ?1", (since,)).fetchone()
    steps = db.execute("SELECT COUNT(*), MIN(started_at), MAX(finished_at) FROM steps "
                       "WHERE state = 'succeeded' AND finished_at >= ?1", (since,)).fetchone()
    other = db.execute("SELECT state, COUNT(*) FROM runs WHERE state != 'succeeded' GROUP BY state").fetchall()
    if runs[0] != n or steps[0] != 3 * n:
        fail("expected %d succeeded runs and %d steps, the store has %d runs and %d steps (others: %s)"
             % (n, 3 * n, runs[0], steps[0], other))
    return runs, steps


def throughput(path, n):
    db = connect(path)
    first_alert, last_alert, alerts = db.execute(
        "SELECT MIN(first_seen), MAX(first_seen), COUNT(*) FROM alerts").fetchone()
    runs, steps = rates(db, n, 0)
    run_span = (runs[3] - first_alert) / 1000.0
    step_span = (steps[2] - steps[1]) / 1000.0
    intake_span = max(last_alert - first_alert, 1) / 1000.0
    # alert stored -> step 0 issued, and -> run created, per run.
    lat = db.execute(
        "SELECT s.started_at - a.first_seen, r.created_at - a.first_seen, r.finished_at - a.first_seen "
        "FROM runs r JOIN steps s ON s.run_id = r.id AND s.idx = 0 "
        "JOIN alerts a ON a.incident_id = r.incident_id").fetchall()
    first = sorted(x[0] for x in lat)
    created = sorted(x[1] for x in lat)
    whole = sorted(x[2] for x in lat)
    tail = (runs[3] - last_alert) / 1000.0
    print("   store: %d alerts over %.2f s (%.0f alerts/s stored), %d runs succeeded, %d steps"
          % (alerts, intake_span, alerts / intake_span, runs[0], steps[0]))
    print("   engine kept up with intake: the last run finished %.3f s after the last alert was stored" % tail)
    print("result runs=%d run_seconds=%.3f runs_per_s=%.0f steps=%d step_seconds=%.3f steps_per_s=%.0f "
          "first_step_p50_ms=%d first_step_p99_ms=%d first_step_max_ms=%d created_p99_ms=%d "
          "run_done_p50_ms=%d run_done_p99_ms=%d intake_alerts_per_s=%.0f"
          % (runs[0], run_span, runs[0] / run_span, steps[0], step_span, steps[0] / step_span,
             pct(first, 0.5), pct(first, 0.99), first[-1], pct(created, 0.99),
             pct(whole, 0.5), pct(whole, 0.99), alerts / intake_span))


def resumed(path, n, since):
    db = connect(path)
    runs, steps = rates(db, n, since)
    span = (runs[3] - since) / 1000.0
    print("result runs=%d run_seconds=%.3f runs_per_s=%.0f steps=%d steps_per_s=%.0f first_done_ms=%d"
          % (runs[0], span, runs[0] / span, steps[0], steps[0] / span, runs[2] - since))


def running(path):
    db = connect(path)
    print(db.execute("SELECT COUNT(*) FROM steps WHERE idx = 0 AND state = 'running'").fetchone()[0])


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "throughput" and len(sys.argv) == 4:
        throughput(sys.argv[2], int(sys.argv[3]))
    elif cmd == "running" and len(sys.argv) == 3:
        running(sys.argv[2])
    elif cmd == "resumed" and len(sys.argv) == 5:
        resumed(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
