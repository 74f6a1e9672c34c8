"""The guards' memory survives a restart: what an incident already touched
counts against its limit after the daemon comes back."""

import json
import os
import signal
import time
import unittest

from irdtest import ADMIN_TOKEN, Ird, IrdTestCase

CONFIG = """
dry_run = false;
guards = { max_targets_per_incident = 1; };
sources = { lab = { type = "json"; auth = "none"; map = { id = "id"; title = "t"; }; }; };
"""

PLAYBOOK = """name = "touch";
mode = "manual";
params = ( { name = "pod"; required = true; } );
steps = ( { name = "mutate"; action = "test.succeed";
            with = { mutates = true; namespace = "apps"; pod = "${param.pod}"; }; } );
"""


class GuardRestartTest(IrdTestCase):
    def trigger(self, ird, pod, incident):
        status, _, out = ird.request("POST", "/v1/playbooks/touch/runs",
                                     body={"params": {"pod": pod}, "incident": incident},
                                     headers={"Authorization": "Bearer " + ADMIN_TOKEN},
                                     listener="api")
        self.assertEqual(status, 201, out)
        run = json.loads(out)["run"]
        deadline = time.time() + 10
        while True:
            got = ird.api_get("/v1/runs/" + run)[1]
            if got["state"] not in ("running",) or time.time() > deadline:
                return got
            time.sleep(0.05)

    def test_targets_touched_before_a_restart_still_count(self):
        ird = Ird(CONFIG)
        with open(os.path.join(ird.state, "playbooks", "touch.conf"), "w") as f:
            f.write(PLAYBOOK)
        try:
            ird.start()
            status, _, out = ird.request("POST", "/v1/alerts/lab", body={"id": "g1", "t": "x"})
            inc = json.loads(out)["incidents"][0]
            self.assertEqual(self.trigger(ird, "a", inc)["state"], "succeeded")
            # the same target again is no new target
            self.assertEqual(self.trigger(ird, "a", inc)["state"], "succeeded")
            self.assertCleanExit(ird, ird.stop())

            ird.proc = None
            ird.start()
            run = self.trigger(ird, "b", inc)
            self.assertEqual(run["state"], "blocked", run)
            self.assertEqual(run["steps"][0]["error"],
                             "guard max_targets_per_incident: incident %s has already touched "
                             "1 targets (limit 1)" % inc)
            # a SIGHUP builds new guards: they remember too
            start = len(ird.drain_logs())
            ird.signal(signal.SIGHUP)
            ird.wait_log(lambda l: l.get("msg") == "config reloaded", start=start)
            self.assertEqual(self.trigger(ird, "c", inc)["state"], "blocked")
            self.assertCleanExit(ird, ird.stop())
        finally:
            ird.kill()
            ird.tmp.cleanup()


if __name__ == "__main__":
    unittest.main()
