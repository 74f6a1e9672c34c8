"""SIGHUP reloads playbooks with the config: a new good playbook appears; a
broken one is refused with its file:line, and the running set stays."""

import os
import signal
import unittest

from irdtest import Ird, IrdTestCase

GOOD = """name = "%s";
match = { title = "x"; };
steps = ( { name = "one"; action = "test.succeed"; } );
"""


class ReloadPlaybooksTest(IrdTestCase):
    def names(self, ird):
        status, body = ird.api_get("/v1/playbooks")
        self.assertEqual(status, 200)
        return sorted(p["name"] for p in body["playbooks"])

    def test_good_then_broken_playbook(self):
        ird = Ird()
        try:
            pbdir = os.path.join(ird.state, "playbooks")
            with open(os.path.join(pbdir, "a.conf"), "w") as f:
                f.write(GOOD % "first")
            ird.start()
            self.assertEqual(self.names(ird), ["first"])

            with open(os.path.join(pbdir, "b.conf"), "w") as f:
                f.write(GOOD % "second")
            start = len(ird.drain_logs())
            ird.signal(signal.SIGHUP)
            ird.wait_log(lambda l: l.get("msg") == "config reloaded", start=start)
            self.assertEqual(self.names(ird), ["first", "second"])

            broken = os.path.join(pbdir, "c.conf")
            with open(broken, "w") as f:
                f.write('name = "third";\nsteps = ( { name = "one"; action = "test.nope"; } );\n')
            start = len(ird.drain_logs())
            ird.signal(signal.SIGHUP)
            line = ird.wait_log(lambda l: l.get("msg", "").startswith("reload failed"), start=start)
            self.assertIn(broken + ":2: steps[0].action: unknown action \"test.nope\"",
                          line["problem"])
            self.assertEqual(self.names(ird), ["first", "second"])
            self.assertCleanExit(ird, ird.stop())
        finally:
            ird.kill()
            ird.tmp.cleanup()


if __name__ == "__main__":
    unittest.main()
