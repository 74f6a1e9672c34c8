"""/readyz follows the Kubernetes API server: ready while it answers, not
ready once it has been unreachable for longer than unreachable_after (unless
ird is in dry-run, where nothing is mutated), and ready again when it is back."""

import json
import os
import sys
import tempfile
import time
import unittest

from irdtest import Ird, IrdTestCase
from test_k8s_actions import TOKEN, write_kubeconfig

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "fakes", "k8s"))
import fake_k8s  # noqa: E402


def wait_ready(ird, want, timeout=10):
    deadline = time.time() + timeout
    while True:
        status, _, body = ird.request("GET", "/readyz")
        if (status == 200) == want or time.time() > deadline:
            return status, json.loads(body)
        time.sleep(0.05)


class ReadyzTest(IrdTestCase):
    def run_with(self, dry_run):
        fake = fake_k8s.FakeK8s(tls=True, tokens=[TOKEN]).start()
        tmp = tempfile.mkdtemp(prefix="ird-readyz-")
        kubeconfig = os.path.join(tmp, "kubeconfig")
        write_kubeconfig(kubeconfig, fake)
        extra = """
dry_run = %s;
connectors = { k8s = { default = { kubeconfig = "%s"; unreachable_after = "300ms";
                                   probe_interval = "100ms"; timeout = "1s"; }; }; };
""" % ("true" if dry_run else "false", kubeconfig)
        ird = Ird(extra).start()
        try:
            self.assertEqual(wait_ready(ird, True)[0], 200)
            # The API server stops answering: every connection is dropped.
            fake.add_fault(path=".*", drop=True, times=100000)
            status, body = wait_ready(ird, False, timeout=3)
            return ird, fake, status, body
        except BaseException:
            ird.kill()
            raise

    def test_unreachable_api_server_fails_readyz_then_recovers(self):
        ird, fake, status, body = self.run_with(dry_run=False)
        try:
            self.assertEqual(status, 503)
            self.assertEqual(body["error"], "not ready")
            self.assertRegex(body["detail"],
                             r"^k8s\.default: the API server has been unreachable for \d+s \(.+\)$")
            # Liveness is another matter: the daemon itself is fine.
            self.assertEqual(ird.request("GET", "/healthz")[0], 200)
            fake.clear_faults()
            self.assertEqual(wait_ready(ird, True)[0], 200)
            self.assertCleanExit(ird, ird.stop())
        finally:
            ird.kill()
            ird.tmp.cleanup()
            fake.stop()

    def test_dry_run_stays_ready(self):
        ird, fake, status, body = self.run_with(dry_run=True)
        try:
            time.sleep(0.5)  # well past unreachable_after
            self.assertEqual(ird.request("GET", "/readyz")[0], 200)
            self.assertCleanExit(ird, ird.stop())
        finally:
            ird.kill()
            ird.tmp.cleanup()
            fake.stop()


if __name__ == "__main__":
    unittest.main()
