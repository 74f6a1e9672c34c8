"""Durability as a sender relies on it: every alert answered 202 is in the
store after ird is killed with SIGKILL in the middle of a stream of posts, and
the restarted daemon serves it, on an intact database."""

import http.client
import json
import os
import sqlite3
import threading
import time
import unittest

from irdtest import Ird, IrdTestCase, list_incidents

CONFIG = """
sources = { am = { type = "alertmanager"; auth = { type = "bearer"; tokens = [ "crash-token-0123456789" ]; }; }; };
"""
AUTH = {"Authorization": "Bearer crash-token-0123456789", "Content-Type": "application/json"}
THREADS = 4
MAX_PER_THREAD = 3000  # a bound on the loop; the kill comes long before


def alert(fp):
    return {"status": "firing",
            "labels": {"alertname": "CrashTest", "severity": "warning", "namespace": "crash",
                       "pod": fp},
            "annotations": {"summary": "crash test " + fp}, "startsAt": "2026-12-01T07:35:53Z",
            "fingerprint": fp}


class Sender(threading.Thread):
    """Posts alerts with fingerprints of its own on one keep-alive connection
    until the daemon goes away; remembers every one answered 202."""

    def __init__(self, ird, n):
        super().__init__(daemon=True)
        self.ird, self.n = ird, n
        self.acked = {}      # fingerprint -> incident id from the 202
        self.unanswered = 0  # requests the kill cut off
        self.errors = []

    def run(self):
        c = self.ird.conn(timeout=10)
        try:
            for i in range(MAX_PER_THREAD):
                # Every third request carries two alerts.
                fps = ["t%d-%d-%d" % (self.n, i, k) for k in range(2 if i % 3 == 0 else 1)]
                body = json.dumps({"version": "4", "status": "firing",
                                   "alerts": [alert(fp) for fp in fps]})
                try:
                    c.request("POST", "/v1/alerts/am", body=body, headers=AUTH)
                    r = c.getresponse()
                    data = r.read()
                except (OSError, http.client.HTTPException):
                    self.unanswered += 1
                    return
                if r.status != 202:
                    self.errors.append((r.status, data))
                    return
                out = json.loads(data)
                if out["accepted"] != len(fps) or len(out["incidents"]) != len(fps):
                    self.errors.append(("unexpected answer", data))
                    return
                for fp, inc in zip(fps, out["incidents"]):
                    self.acked[fp] = inc
        finally:
            c.close()


class CrashTest(IrdTestCase):
    def test_kill_9_mid_stream_loses_no_acknowledged_alert(self):
        first = Ird(CONFIG).start()
        second = None
        try:
            senders = [Sender(first, n) for n in range(THREADS)]
            for s in senders:
                s.start()
            time.sleep(1.5)
            first.proc.kill()  # SIGKILL: no drain, no final commit
            first.proc.wait()
            for s in senders:
                s.join(15)
                self.assertFalse(s.is_alive(), "a sender hung after the kill")
            for s in senders:
                self.assertEqual(s.errors, [])
            acked = {}
            for s in senders:
                acked.update(s.acked)
            self.assertGreater(len(acked), 20, "too few alerts got through before the kill")
            self.assertGreater(sum(s.unanswered for s in senders), 0,
                               "the kill did not land mid-stream")
            db = os.path.join(first.state, "ird.db")

            # The restarted daemon, on the same state_dir, serves every one.
            second = Ird(CONFIG, state=first.state).start()
            listed = {i["id"]: i for i in list_incidents(second, "source=am")}
            missing = [fp for fp, inc in acked.items() if inc not in listed]
            self.assertEqual(missing, [], "202-answered alerts missing after the restart")
            for fp, inc in list(acked.items())[:: max(1, len(acked) // 25)]:
                status, full = second.api_get("/v1/incidents/" + inc)
                self.assertEqual(status, 200)
                self.assertEqual(full["alerts"][0]["dedup_key"], fp)
                self.assertEqual(full["pod"], fp)
            # It goes on taking alerts, with fresh incident ids.
            status, _, out = second.request("POST", "/v1/alerts/am", headers=AUTH,
                                            body={"version": "4", "alerts": [alert("after-restart")]})
            self.assertEqual(status, 202, out)
            new_id = json.loads(out)["incidents"][0]
            self.assertNotIn(new_id, set(acked.values()))
            # An alert from before the crash, sent again, is a repeat of its incident.
            fp, inc = next(iter(acked.items()))
            status, _, out = second.request("POST", "/v1/alerts/am", headers=AUTH,
                                            body={"version": "4", "alerts": [alert(fp)]})
            self.assertEqual(status, 202, out)
            self.assertEqual(json.loads(out), {"accepted": 0, "duplicates": 1, "incidents": [inc]})
            self.assertCleanExit(second, second.stop())

            # And the file itself: intact, every acknowledged alert once.
            conn = sqlite3.connect(db)
            try:
                self.assertEqual(conn.execute("PRAGMA integrity_check").fetchall(), [("ok",)])
                rows = dict(conn.execute("SELECT dedup_key, incident_id FROM alerts WHERE source = 'am'"))
                dupes = conn.execute("SELECT COUNT(*) FROM (SELECT dedup_key FROM alerts "
                                     "GROUP BY dedup_key HAVING COUNT(*) > 1)").fetchone()[0]
            finally:
                conn.close()
            self.assertEqual({fp: rows.get(fp) for fp in acked}, acked)
            self.assertEqual(dupes, 0)
        finally:
            first.kill()
            if second:
                second.kill()
                second.tmp.cleanup()
            first.tmp.cleanup()


if __name__ == "__main__":
    unittest.main()
