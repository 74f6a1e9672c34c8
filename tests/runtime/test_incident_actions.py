"""On-call actions on incidents: acknowledge, and resolve by hand (the way to
close an incident whose source waits for a human), each recorded on the
timeline and in the audit trail; resolving runs on_resolve steps."""

import json
import os
import time
import unittest

from irdtest import ADMIN_TOKEN, VIEWER_TOKEN, Ird, IrdTestCase, run_ird

CONFIG = """
dry_run = false;
sources = { held = { type = "json"; auth = "none"; auto_resolve = false;
                     map = { id = "id"; title = "t"; status = "s"; namespace = "ns"; pod = "pod"; }; }; };
"""

PLAYBOOK = """name = "held-release";
match = { title = "held"; };
target = { namespace = "${alert.namespace}"; pod = "${alert.pod}"; };
steps = ( { name = "contain"; action = "test.succeed"; } );
on_resolve = ( { name = "release"; action = "test.succeed"; with = { message = "released ${target.pod}"; }; } );
"""


class IncidentActionsTest(IrdTestCase):
    def cli(self, ird, *args, token=ADMIN_TOKEN):
        return run_ird(*args, "--url", "http://" + ird.api, "--token", token)

    def runs(self, ird, inc):
        return ird.api_get("/v1/runs?incident=" + inc)[1]["runs"]

    def wait(self, pred, what):
        deadline = time.time() + 10
        while not pred():
            if time.time() > deadline:
                self.fail("not within 10 s: " + what)
            time.sleep(0.05)

    def test_ack_then_resolve_by_hand(self):
        ird = Ird(CONFIG)
        with open(os.path.join(ird.state, "playbooks", "held.conf"), "w") as f:
            f.write(PLAYBOOK)
        with ird:
            body = {"id": "h1", "t": "held", "ns": "shop", "pod": "web-1"}
            status, _, out = ird.request("POST", "/v1/alerts/held", body=body)
            self.assertEqual(status, 202)
            inc = json.loads(out)["incidents"][0]
            self.wait(lambda: [r for r in self.runs(ird, inc) if r["state"] == "succeeded"],
                      "the contain run")

            code, _, err = self.cli(ird, "ack", inc, token=VIEWER_TOKEN)
            self.assertEqual(code, 1)
            self.assertIn("403 forbidden: this needs the responder role", err)
            code, out, err = self.cli(ird, "ack", inc)
            self.assertEqual((code, out), (0, "%s: acknowledged by api:admin\n" % inc), err)
            code, _, err = self.cli(ird, "ack", inc)
            self.assertEqual(code, 1)
            self.assertIn("409 conflict: incident %s is already acknowledged" % inc, err)

            # The source waits for a human: its alert resolving does not close it.
            body["s"] = "resolved"
            self.assertEqual(ird.request("POST", "/v1/alerts/held", body=body)[0], 202)
            self.assertEqual(ird.api_get("/v1/incidents/" + inc)[1]["state"], "acknowledged")

            code, out, err = self.cli(ird, "resolve", inc)
            self.assertEqual((code, out), (0, "%s: resolved by api:admin\n" % inc), err)
            _, got = ird.api_get("/v1/incidents/" + inc)
            self.assertEqual(got["state"], "resolved")
            self.assertEqual(got["resolved_by"], "api:admin")
            self.assertEqual(got["acknowledged_by"], "api:admin")
            kinds = [e["kind"] for e in got["timeline"]]
            self.assertIn("incident.acknowledged", kinds)
            self.assertIn("incident.resolved", kinds)
            # on_resolve ran for the playbook that acted on it.
            self.wait(lambda: [r for r in self.runs(ird, inc)
                               if r["phase"] == "resolve" and r["state"] == "succeeded"],
                      "the on_resolve run")
            code, _, err = self.cli(ird, "resolve", inc)
            self.assertEqual(code, 1)
            self.assertIn("409 conflict: incident %s is already resolved" % inc, err)
            code, _, err = self.cli(ird, "resolve", "inc-nope")
            self.assertEqual(code, 1)
            self.assertIn("404 not found", err)

            def audited():
                code, out, _ = self.cli(ird, "audit", "-o", "json")
                recs = json.loads(out)["records"] if code == 0 else []
                return {(r["kind"], r["actor"]) for r in recs if r["subject"] == inc}
            self.wait(lambda: {("incident.acknowledged", "api:admin"),
                               ("incident.resolved", "api:admin")} <= audited(), "the audit records")
            # A refused change leaves no audit record.
            self.assertEqual(sum(1 for k, _ in audited() if k == "incident.acknowledged"), 1)
            self.assertCleanExit(ird, ird.stop())


if __name__ == "__main__":
    unittest.main()
