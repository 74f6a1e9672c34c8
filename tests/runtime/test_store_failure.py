"""When the store cannot commit, a sender is told so (503 with Retry-After)
and the alert is not counted as received; once the store is back, the same
alert is accepted. Here another process holds ird.db's write lock longer than
ird's busy timeout (5 s), as a stuck backup or a hand-run sqlite3 would."""

import json
import os
import sqlite3
import time
import unittest

from irdtest import Ird, IrdTestCase

SOURCES = 'sources = { lab = { type = "json"; auth = "none"; map = { id = "id"; title = "t"; }; }; };\n'


class StoreFailureTest(IrdTestCase):
    def test_locked_store_is_503_then_recovers(self):
        with Ird(SOURCES) as ird:
            db = sqlite3.connect(os.path.join(ird.state, "ird.db"), timeout=10,
                                 isolation_level=None)
            db.execute("BEGIN EXCLUSIVE")
            try:
                t0 = time.time()
                status, headers, body = ird.request("POST", "/v1/alerts/lab",
                                                    body={"id": "a1", "t": "x"})
                self.assertEqual(status, 503)
                self.assertEqual(headers["retry-after"], "5")
                self.assertEqual(json.loads(body), {
                    "error": "store unavailable",
                    "detail": "the alerts were not stored; send them again"})
                self.assertGreater(time.time() - t0, 4)
            finally:
                db.execute("ROLLBACK")
                db.close()
            status, _, body = ird.request("POST", "/v1/alerts/lab", body={"id": "a1", "t": "x"})
            self.assertEqual(status, 202)
            self.assertEqual(json.loads(body)["accepted"], 1)
            code, page = ird.api_get("/v1/incidents")
            self.assertEqual(len(page["incidents"]), 1)
            self.assertEqual(page["incidents"][0]["alert_count"], 1)
            metrics = ird.request("GET", "/metrics")[2].decode()
            self.assertIn('ird_alerts_received_total{source="lab",outcome="rejected_store"} 1', metrics)
            self.assertCleanExit(ird, ird.stop())


if __name__ == "__main__":
    unittest.main()
