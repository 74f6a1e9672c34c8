#!/usr/bin/python3
"""bench/containment/containment.py: the seed and the report of bench/containment.

  seed N FILE         N pods prod/miner-<i> (one container, one mounted Opaque
                      Secret miner-<i>-creds, a few log lines), as a seed for
                      tests/fakes/k8s/fake_k8s.py.
  report DB REQUESTS PHASE:FIRST:COUNT...
                      latencies per phase, from ird's store (DB, read-only)
                      and the fake's request log (REQUESTS: the JSON of
                      GET /_fake/requests). Alert i of the load is pod
                      miner-<i>; a phase is the alerts FIRST..FIRST+COUNT-1.

Segments, every one from a timestamp ird or the fake wrote (ms):
  np_post    alerts.first_seen -> the fake receives POST .../networkpolicies
             for the incident (the fake's time.time() on arrival)
  isolate    alerts.first_seen -> steps.started_at of the isolate_pod step
  intake     alerts.first_seen -> runs.created_at
  engine     the engine's own gaps: created -> first step started, plus
             previous step finished -> isolate step started
  connector  time inside actions before the POST: the first step's
             started_at -> finished_at, plus isolate started -> POST arrival
             (ird's HTTP client and the fake's answers)"""

import json
import sqlite3
import sys


def seed(n, path):
    objects, logs = [], []
    for i in range(n):
        name = "miner-%d" % i
        objects.append({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name + "-creds", "namespace": "prod"},
            "type": "Opaque", "data": {"password": "aHVudGVyMg=="},
        })
        objects.append({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "prod", "labels": {"app": "miner", "idx": str(i)}},
            "spec": {
                "volumes": [{"name": "creds", "secret": {"secretName": name + "-creds"}}],
                "containers": [{"name": "app", "image": "app:1",
                                "volumeMounts": [{"name": "creds", "mountPath": "/creds"}]}],
            },
            "status": {"phase": "Running", "containerStatuses": [
                {"name": "app", "ready": True, "restartCount": 0, "image": "app:1", "imageID": ""}]},
        })
        logs.append({"namespace": "prod", "pod": name, "container": "app",
                     "current": ["starting", "connecting to stratum+tcp://pool.example:3333", "hashrate 1.2 kH/s"]})
    with open(path, "w") as f:
        json.dump({"objects": objects, "logs": logs}, f)


def pct(v, p):
    return v[min(len(v) - 1, int(p * len(v)))] if v else float("nan")


def report(db_path, requests_path, phases):
    db = sqlite3.connect("file:%s?mode=ro" % db_path, uri=True)
    with open(requests_path) as f:
        reqs = json.load(f)
    if isinstance(reqs, dict):
        reqs = reqs.get("requests", [])
    np_post = {}
    for r in reqs:
        if r["method"] == "POST" and r["path"].endswith("/networkpolicies") and isinstance(r.get("body"), dict):
            inc = r["body"].get("metadata", {}).get("labels", {}).get("ird.io/incident")
            if inc and r.get("status") in (200, 201, 409):
                np_post.setdefault(inc, r["time"] * 1000.0)
    rows = db.execute(
        "SELECT i.pod, i.id, a.first_seen, r.created_at, r.state, "
        "  (SELECT started_at FROM steps WHERE run_id = r.id AND action = 'k8s.isolate_pod'), "
        "  (SELECT idx FROM steps WHERE run_id = r.id AND action = 'k8s.isolate_pod'), r.id "
        "FROM incidents i JOIN alerts a ON a.incident_id = i.id "
        "LEFT JOIN runs r ON r.incident_id = i.id AND r.phase = 'main'").fetchall()
    steps = {}
    for run_id, idx, started, finished in db.execute(
            "SELECT run_id, idx, started_at, finished_at FROM steps"):
        steps[(run_id, idx)] = (started, finished)
    by_pod = {}
    for pod, inc, seen, created, state, iso_started, iso_idx, run_id in rows:
        if not pod.startswith("miner-"):
            continue
        by_pod[int(pod[6:])] = (inc, seen, created, state, iso_started, iso_idx, run_id)
    bad = 0
    for name, first, count in phases:
        seg = {k: [] for k in ("np_post", "isolate", "intake", "engine", "connector")}
        missing = []
        for i in range(first, first + count):
            row = by_pod.get(i)
            if not row or row[4] is None or row[0] not in np_post:
                missing.append(i)
                continue
            inc, seen, created, state, iso_started, iso_idx, run_id = row
            post = np_post[inc]
            first_step = steps.get((run_id, 0), (None, None))
            prev = steps.get((run_id, iso_idx - 1), (None, None)) if iso_idx else (created, created)
            seg["np_post"].append(post - seen)
            seg["isolate"].append(iso_started - seen)
            seg["intake"].append(created - seen)
            engine = (first_step[0] - created) + (iso_started - prev[1]) if iso_idx else first_step[0] - created
            seg["engine"].append(engine)
            conn = (post - iso_started) + ((first_step[1] - first_step[0]) if iso_idx else 0)
            seg["connector"].append(conn)
        for k in seg:
            seg[k].sort()
        n = len(seg["np_post"])
        if missing:
            bad += len(missing)
            print("   %s: %d of %d alerts have no NetworkPolicy POST in the fake's log or no isolate step "
                  "(first: miner-%s)" % (name, len(missing), count, missing[:5]))
        print("result phase=%s alerts=%d measured=%d %s" % (name, count, n, " ".join(
            "%s_p50_ms=%.1f %s_p99_ms=%.1f" % (k, pct(v, 0.5), k, pct(v, 0.99)) for k, v in seg.items())))
    states = db.execute("SELECT state, COUNT(*) FROM runs GROUP BY state").fetchall()
    print("   runs by state: %s" % ", ".join("%s %d" % s for s in states))
    return 1 if bad else 0


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "seed":
        seed(int(sys.argv[2]), sys.argv[3])
        return 0
    if len(sys.argv) >= 5 and sys.argv[1] == "report":
        phases = []
        for p in sys.argv[4:]:
            name, first, count = p.split(":")
            phases.append((name, int(first), int(count)))
        return report(sys.argv[2], sys.argv[3], phases)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
