"""The audit trail as an operator sees it: an alert posted to a running daemon
shows up in `ird audit` and GET /v1/audit, `ird audit verify` says the chain is
intact while the daemon runs, and after someone edits the database behind
ird's back it names the record and exits 1."""

import json
import subprocess
import time
import unittest

from irdtest import ADMIN_TOKEN, VIEWER_TOKEN, Ird, IrdTestCase, run_ird, stop_shared

SOURCES = """
sources = { am = { type = "alertmanager"; auth = "none"; }; };
"""


def am_body(fp):
    alert = {"status": "firing",
             "labels": {"alertname": "CryptoMiningDetected", "severity": "critical",
                        "namespace": "shop", "pod": "web-1"},
             "annotations": {"summary": "miner in shop/web-1"},
             "startsAt": "2026-12-01T07:35:53Z", "endsAt": "0001-01-01T00:00:00Z",
             "generatorURL": "http://prometheus:9090/graph", "fingerprint": fp}
    return {"version": "4", "receiver": "ird", "status": "firing", "alerts": [alert],
            "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
            "externalURL": "http://am:9093", "groupKey": "{}:{}", "truncatedAlerts": 0}


class AuditTest(IrdTestCase):
    @classmethod
    def setUpClass(cls):
        cls.ird = Ird(SOURCES).start()
        cls.url = "http://" + cls.ird.api
        status, _, body = cls.ird.request("POST", "/v1/alerts/am", body=am_body("f00dfeed00000001"))
        assert status == 202, (status, body)
        cls.incident = json.loads(body)["incidents"][0]

    @classmethod
    def tearDownClass(cls):
        stop_shared(cls.ird)

    def audit(self, *args, token=ADMIN_TOKEN):
        return run_ird("audit", "--url", self.url, "--token", token, *args)

    def records(self, *args):
        """The records `ird audit -o json` lists, waiting a little for them to land."""
        deadline = time.time() + 5
        while True:
            code, out, err = self.audit("-o", "json", *args)
            self.assertEqual(code, 0, err)
            page = json.loads(out)
            if page["records"] or time.time() > deadline:
                return page
            time.sleep(0.1)

    def test_1_alert_is_in_the_trail(self):
        page = self.records()
        self.assertIsNone(page["next_after"])
        recs = page["records"]
        kinds = [r["kind"] for r in recs]
        self.assertIn("alert.received", kinds)
        self.assertIn("incident.opened", kinds)
        for r in recs:
            if r["kind"] in ("alert.received", "incident.opened"):
                self.assertEqual(r["subject"], self.incident, r)
        # A chain: seq 1, 2, ...; each prev_hash is the hash before it.
        self.assertEqual([r["seq"] for r in recs], list(range(1, len(recs) + 1)))
        self.assertEqual(recs[0]["prev_hash"], "0" * 64)
        for before, after in zip(recs, recs[1:]):
            self.assertEqual(after["prev_hash"], before["hash"])
        self.assertRegex(recs[0]["at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        # The table lists the same records.
        code, out, err = self.audit()
        self.assertEqual(code, 0, err)
        self.assertIn("alert.received", out)
        self.assertIn(self.incident, out)

    def test_2_filters(self):
        everything = self.records()["records"]
        only = self.records("--kind", "incident")["records"]
        self.assertTrue(only)
        self.assertTrue(all(r["kind"].startswith("incident.") for r in only))
        self.assertEqual(len(self.records("--since", "1h")["records"]), len(everything))
        code, out, err = self.audit("-o", "json", "--since", "2999-01-01T00:00:00Z")
        self.assertEqual((code, json.loads(out)["records"]), (0, []), err)
        # One record a page: the cursor walks through all of them.
        code, out, err = self.audit("-o", "json", "--limit", "1")
        self.assertEqual(code, 0, err)
        page = json.loads(out)
        self.assertEqual([r["seq"] for r in page["records"]], [1])
        if len(everything) > 1:
            self.assertEqual(page["next_after"], 1)
            code, out, err = self.audit("-o", "json", "--limit", "1", "--after", "1")
            self.assertEqual(json.loads(out)["records"][0]["seq"], 2)

    def test_3_api_params_and_roles(self):
        status, page = self.ird.api_get("/v1/audit?kind=alert.received&limit=1000",
                                        token=VIEWER_TOKEN)
        self.assertEqual(status, 200, page)
        self.assertTrue(page["records"])
        self.assertEqual({r["kind"] for r in page["records"]}, {"alert.received"})
        for query, word in (("limit=0", "limit"), ("limit=1001", "limit"), ("limit=x", "limit"),
                            ("since=yesterday", "since"), ("after=-1", "after"),
                            ("kind=%27%20OR%201", "kind")):
            status, body = self.ird.api_get("/v1/audit?" + query)
            self.assertEqual(status, 400, query)
            self.assertIn(word, body["detail"], query)
        status, _, _ = self.ird.request("GET", "/v1/audit", listener="api")
        self.assertEqual(status, 401)
        code, _, err = self.audit(token="not-a-token-at-all-000")
        self.assertEqual(code, 1)
        self.assertIn("401", err)

    def test_3b_reload_is_audited(self):
        import signal
        start = len(self.ird.drain_logs())
        self.ird.signal(signal.SIGHUP)
        self.ird.wait_log(lambda l: l.get("msg") == "config reloaded", start=start)
        deadline = time.time() + 5
        while True:
            recs = self.records("--kind", "config.reloaded")["records"]
            if recs or time.time() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual(len(recs), 1, recs)
        self.assertEqual(recs[0]["actor"], "signal:SIGHUP")
        self.assertEqual(recs[0]["subject"], self.ird.config)

    def test_4_verify_then_tamper(self):
        n = len(self.records()["records"])
        code, out, err = run_ird("audit", "verify", "-c", self.ird.config)
        self.assertEqual((code, out), (0, "audit trail intact: %d records\n" % n), err)
        # Someone edits the first record behind ird's back (the daemon still runs).
        db = self.ird.state + "/ird.db"
        subprocess.run(["sqlite3", db, "UPDATE audit SET detail='{\"note\":\"nothing here\"}' "
                                       "WHERE seq=1"], check=True, timeout=30)
        code, out, err = run_ird("audit", "verify", "-c", self.ird.config)
        self.assertEqual(code, 1, out + err)
        self.assertIn("record 1: content does not match its hash (edited?)", out)
        code, out, _ = run_ird("audit", "verify", "--db", db)
        self.assertEqual(code, 1)
        self.assertIn("record 1:", out)


if __name__ == "__main__":
    unittest.main()
