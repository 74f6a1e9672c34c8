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

Segments, every one from a timestamp ird or the fake wrote (ms); the fake
stamps a request when its handler starts (time.time()):
  np_post  alerts.first_seen -> the fake receives POST .../networkpolicies
           for the incident: the whole latency; np_post = ird + calls
  isolate  alerts.first_seen -> steps.started_at of the isolate_pod step
  intake   alerts.first_seen -> runs.created_at
  ird      ird's own share, from ird's stamps only: intake, then for every
           step up to isolate_pod the gap from the previous step's end (or
           the run's creation) to the step's start (store commits, engine)
  calls    the rest, np_post - ird: every step from its start to its end,
           and isolate_pod to the POST. Mostly the fake's answers and ird's
           HTTP client, but also each step's "running" commit before its
           call and the connector's own work (evidence files included). It
           cannot be split further: the fake stamps a request when its
           handler starts, which under overload is long after ird sent it."""

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
        t = r["time"] * 1000.0
        if r["method"] == "POST" and r["path"].endswith("/networkpolicies") and isinstance(r.get("body"), dict):
            inc = r["body"].get("metadata", {}).get("labels", {}).get("ird.io/incident")
            if inc and r.get("status") in (200, 201, 409):
                np_post.setdefault(inc, t)
    steps = {}
    for run_id, idx, action, started, finished in db.execute(
            "SELECT run_id, idx, action, started_at, finished_at FROM steps"):
        steps.setdefault(run_id, {})[idx] = (action, started, finished)
    by_pod = {}
    for pod, inc, seen, created, run_id in db.execute(
            "SELECT i.pod, i.id, a.first_seen, r.created_at, r.id FROM incidents i "
            "JOIN alerts a ON a.incident_id = i.id "
            "LEFT JOIN runs r ON r.incident_id = i.id AND r.phase = 'main'"):
        if pod.startswith("miner-"):
            by_pod[int(pod[6:])] = (pod, inc, seen, created, steps.get(run_id, {}))

    for name, first, count in phases:
        seg = {k: [] for k in ("np_post", "isolate", "intake", "ird", "calls")}
        missing = []
        for i in range(first, first + count):
            row = by_pod.get(i)
            if not row or row[3] is None or row[1] not in np_post:
                missing.append(i)
                continue
            pod, inc, seen, created, st = row
            iso = [k for k, v in st.items() if v[0] == "k8s.isolate_pod"]
            if not iso:
                missing.append(i)
                continue
            post = np_post[inc]
            # ird's own stamps: the intake, then the gap before each step up to
            # isolate_pod (the previous step's end, or the run's creation, to
            # the step's start). The rest of np_post is spent from a step's
            # start to its end (for isolate_pod: to the POST).
            ird = created - seen
            prev_end = created
            ok = True
            for k in range(iso[0] + 1):
                _, started, finished = st[k]
                if started is None or prev_end is None:
                    ok = False
                    break
                ird += started - prev_end
                prev_end = finished
            if not ok:
                missing.append(i)
                continue
            calls = (post - seen) - ird
            seg["np_post"].append(post - seen)
            seg["isolate"].append(st[iso[0]][1] - seen)
            seg["intake"].append(created - seen)
            seg["ird"].append(ird)
            seg["calls"].append(calls)
        for k in seg:
            seg[k].sort()
        n = len(seg["np_post"])
        if missing:
            print("   WARNING: %s: %d of %d alerts were not quarantined (no NetworkPolicy POST in the fake's "
                  "log or no isolate step), e.g. miner-%s; they are left out of the figures"
                  % (name, len(missing), count, missing[:5]))
        print("result phase=%s alerts=%d measured=%d not_contained=%d %s" % (name, count, n, len(missing), " ".join(
            "%s_p50_ms=%.1f %s_p99_ms=%.1f" % (k, pct(v, 0.5), k, pct(v, 0.99)) for k, v in seg.items())))
    states = db.execute("SELECT state, COUNT(*) FROM runs GROUP BY state").fetchall()
    print("   runs by state: %s" % ", ".join("%s %d" % s for s in states))
    errors = db.execute("SELECT error, COUNT(*) FROM steps WHERE state = 'failed' GROUP BY error "
                        "ORDER BY 2 DESC LIMIT 3").fetchall()
    for error, n in errors:
        print("   failed steps: %d x %s" % (n, (error or "")[:160]))
    return 0


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
