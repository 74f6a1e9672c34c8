#!/usr/bin/python3
"""bench/engine/alerts.py: the alert load of bench/engine and bench/containment.

Posts Alertmanager v4 webhooks (one or many alerts per request, each alert a
new fingerprint, so each opens its own incident) to one ird source, over
keep-alive HTTP/1.1 connections, and fails loudly on any answer but 202.

  burst:  COUNT alerts in requests of BATCH alerts, CONNECTIONS requests in
          flight, as fast as ird answers (closed loop).
  rate:   one alert per request, RATE requests a second for SECONDS, on a
          fixed schedule (open loop: a late answer does not delay the next
          send, up to CONNECTIONS in flight).

Prints one `load key=value ...` line. Stdlib only."""

import argparse
import http.client
import json
import queue
import sys
import threading
import time
import urllib.parse


def alert(prefix, i, alertname, namespace, pod):
    return {
        "status": "firing",
        "labels": {"alertname": alertname, "severity": "critical", "namespace": namespace,
                   "pod": pod % i if "%" in pod else pod, "bench_seq": str(i)},
        "annotations": {"summary": "%s on %s" % (alertname, pod % i if "%" in pod else pod)},
        "startsAt": "2026-12-01T07:35:53Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.example/graph",
        "fingerprint": "%s-%08d" % (prefix, i),
    }


def body(prefix, first, count, args):
    return json.dumps({
        "version": "4", "status": "firing", "receiver": "ird", "groupKey": "{}:{bench}",
        "truncatedAlerts": 0, "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
        "externalURL": "http://alertmanager.example",
        "alerts": [alert(prefix, i, args.alertname, args.namespace, args.pod)
                   for i in range(first, first + count)],
    }).encode()


class Poster:
    """One keep-alive connection; post() raises on anything but 202."""

    def __init__(self, url):
        u = urllib.parse.urlsplit(url)
        self.host, self.port, self.path = u.hostname, u.port, u.path
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)

    def post(self, data):
        self.conn.request("POST", self.path, body=data,
                          headers={"Content-Type": "application/json"})
        resp = self.conn.getresponse()
        resp_body = resp.read()
        if resp.status != 202:
            raise RuntimeError("ird answered %d: %s" % (resp.status, resp_body[:300]))


def run_workers(args, jobs, on_sent):
    errors = []

    def worker():
        p = Poster(args.url)
        while True:
            job = jobs.get()
            if job is None:
                return
            due, data, n = job
            if due:
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            t0 = time.monotonic()
            try:
                p.post(data)
            except Exception as e:  # reported once, stops the run
                errors.append(str(e))
                return
            on_sent(t0, time.monotonic(), n, due)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(args.connections)]
    for t in threads:
        t.start()
    return threads, errors


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["burst", "rate"])
    ap.add_argument("--url", required=True)
    ap.add_argument("--prefix", required=True, help="fingerprint prefix (distinct per run)")
    ap.add_argument("--alertname", default="BenchEngine")
    ap.add_argument("--namespace", default="bench")
    ap.add_argument("--pod", default="pod-%d", help="pod name, %%d is the alert's number")
    ap.add_argument("--first", type=int, default=0, help="number of the first alert")
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--rate", type=float, default=20.0)
    ap.add_argument("--seconds", type=float, default=10.0)
    args = ap.parse_args()

    lock = threading.Lock()
    stats = {"requests": 0, "alerts": 0, "lat": [], "lag": []}

    def on_sent(t0, t1, n, due):
        with lock:
            stats["requests"] += 1
            stats["alerts"] += n
            stats["lat"].append(t1 - t0)
            if due:
                stats["lag"].append(t0 - due)

    jobs = queue.Queue()
    start_wall = time.time()
    start = time.monotonic()
    if args.mode == "burst":
        threads, errors = run_workers(args, jobs, on_sent)
        i = args.first
        end = args.first + args.count
        while i < end:
            n = min(args.batch, end - i)
            jobs.put((0, body(args.prefix, i, n, args), n))
            i += n
    else:
        total = int(round(args.rate * args.seconds))
        # Bodies are built before the clock starts, so building them is not load lag.
        bodies = [body(args.prefix, args.first + k, 1, args) for k in range(total)]
        threads, errors = run_workers(args, jobs, on_sent)
        start_wall = time.time()
        start = time.monotonic()
        for k in range(total):
            jobs.put((start + k / args.rate, bodies[k], 1))
    for _ in threads:
        jobs.put(None)
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    if errors:
        print("load: FAIL: %s" % errors[0], file=sys.stderr)
        return 1
    lat = sorted(stats["lat"])
    lag = sorted(stats["lag"]) or [0.0]

    def pct(v, p):
        return v[min(len(v) - 1, int(p * len(v)))] * 1000 if v else 0.0

    print("load mode=%s alerts=%d requests=%d seconds=%.3f alerts_per_s=%.0f start=%.3f "
          "http_p50_ms=%.2f http_p99_ms=%.2f send_lag_p99_ms=%.2f"
          % (args.mode, stats["alerts"], stats["requests"], elapsed, stats["alerts"] / elapsed,
             start_wall, pct(lat, 0.5), pct(lat, 0.99), pct(lag, 0.99)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
