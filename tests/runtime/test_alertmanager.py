"""The real Prometheus Alertmanager (Debian's prometheus-alertmanager) in front
of ird: alerts posted to Alertmanager reach ird through its webhook receiver
with a bearer token, become incidents, and resolve when Alertmanager sends the
resolution; a 503 from ird is retried by Alertmanager until it is stored."""

import datetime
import json
import os
import shutil
import signal
import subprocess
import tempfile
import textwrap
import time
import unittest
import urllib.request

from irdtest import Ird, IrdTestCase, free_port, list_incidents, metric_value

ALERTMANAGER = "/usr/bin/prometheus-alertmanager"
TOKEN = "am-webhook-token-0123456789"
DEADLINE = 30


def rfc3339(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class Alertmanager:
    """One Alertmanager process on 127.0.0.1, clustering off, its webhook
    receiver pointed at url."""

    def __init__(self, url, group_by):
        self.tmp = tempfile.TemporaryDirectory(prefix="ird-am-")
        self.port = free_port()
        self.config = os.path.join(self.tmp.name, "alertmanager.yml")
        with open(self.config, "w") as f:
            f.write(textwrap.dedent("""\
                route:
                  receiver: ird
                  group_by: %s
                  group_wait: 1s
                  group_interval: 1s
                  repeat_interval: 1h
                receivers:
                  - name: ird
                    webhook_configs:
                      - url: "%s"
                        send_resolved: true
                        http_config:
                          authorization:
                            type: Bearer
                            credentials: "%s"
                """ % (json.dumps(group_by), url, TOKEN)))
        self.log = open(os.path.join(self.tmp.name, "alertmanager.log"), "w+")
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [ALERTMANAGER, "--config.file=" + self.config,
             "--storage.path=" + os.path.join(self.tmp.name, "data"),
             "--web.listen-address=127.0.0.1:%d" % self.port, "--cluster.listen-address=",
             "--log.level=debug"],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("alertmanager exited %s:\n%s" % (self.proc.returncode,
                                                                      self.logs()))
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/-/ready" % self.port,
                                            timeout=1) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        raise AssertionError("alertmanager not ready:\n" + self.logs())

    def post_alerts(self, alerts):
        req = urllib.request.Request("http://127.0.0.1:%d/api/v2/alerts" % self.port,
                                     data=json.dumps(alerts).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=5) as r:
            assert r.status == 200, r.status

    def logs(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()[-4000:]

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        self.tmp.cleanup()


def am_alert(name, pod, ends=None, severity="critical", namespace="shop"):
    a = {"labels": {"alertname": name, "severity": severity, "namespace": namespace, "pod": pod},
         "annotations": {"summary": "%s on %s/%s" % (name, namespace, pod)},
         "startsAt": rfc3339(time.time() - 60)}
    if ends is not None:
        a["endsAt"] = rfc3339(ends)
    return a


def wait_for(what, fn, deadline=DEADLINE):
    """Poll fn until it returns something true; that value."""
    end = time.time() + deadline
    while time.time() < end:
        v = fn()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError("timed out waiting for " + what)


@unittest.skipUnless(os.access(ALERTMANAGER, os.X_OK) and shutil.which(ALERTMANAGER),
                     "Alertmanager is not installed: apt-get install prometheus-alertmanager "
                     "(needs %s)" % ALERTMANAGER)
class AlertmanagerTest(IrdTestCase):
    def pair(self, group_by, extra=""):
        ird = Ird("""
sources = { am = { type = "alertmanager"; auth = { type = "bearer"; tokens = [ "%s" ]; }; }; };
""" % TOKEN + extra).start()
        self.addCleanup(ird.tmp.cleanup)
        self.addCleanup(ird.kill)
        am = Alertmanager("http://%s/v1/alerts/am" % ird.webhooks, group_by).start()
        self.addCleanup(am.stop)
        return ird, am

    def find(self, ird, pod, state=None):
        def look():
            for inc in list_incidents(ird, "source=am"):
                if inc["pod"] == pod and (state is None or inc["state"] == state):
                    return inc
            return None
        return look

    def test_fire_then_resolve_through_alertmanager(self):
        ird, am = self.pair(["alertname", "namespace", "pod"])
        am.post_alerts([am_alert("CryptoMiningDetected", "miner-1"),
                        am_alert("KubePodCrashLooping", "cart-1", severity="warning")])
        inc = wait_for("the incident from Alertmanager", self.find(ird, "miner-1"))
        self.assertEqual({k: inc[k] for k in ("state", "severity", "title", "namespace", "source")},
                         {"state": "triggered", "severity": "critical",
                          "title": "CryptoMiningDetected on shop/miner-1", "namespace": "shop",
                          "source": "am"})
        other = wait_for("the second incident", self.find(ird, "cart-1"))
        self.assertEqual(other["severity"], "warning")
        self.assertNotEqual(other["id"], inc["id"])
        status, full = ird.api_get("/v1/incidents/" + inc["id"])
        alert = full["alerts"][0]
        # Alertmanager's own fingerprint is the dedup key, and raw is its element.
        self.assertRegex(alert["dedup_key"], r"^[0-9a-f]{16}$")
        self.assertEqual(alert["alert"]["raw"]["fingerprint"], alert["dedup_key"])
        self.assertEqual(alert["alert"]["labels"]["alertname"], "CryptoMiningDetected")
        self.assertEqual(metric_value(ird, "ird_alerts_received_total",
                                      'source="am",outcome="rejected_auth"'), 0)

        # Resolve: the same alert with endsAt in the past.
        am.post_alerts([am_alert("CryptoMiningDetected", "miner-1", ends=time.time() - 1)])
        done = wait_for("the incident to resolve", self.find(ird, "miner-1", "resolved"))
        self.assertEqual(done["id"], inc["id"])
        status, full = ird.api_get("/v1/incidents/" + inc["id"])
        kinds = [e["kind"] for e in full["timeline"]]
        self.assertEqual(kinds[-2:], ["alert.resolved", "incident.resolved"])
        self.assertEqual(full["alerts"][0]["status"], "resolved")
        # The other one is still open.
        self.assertIn(other["id"], [i["id"] for i in list_incidents(ird, "state=open")])
        ird_code = ird.stop()
        self.assertCleanExit(ird, ird_code)

    def test_503_is_retried_until_stored(self):
        # Two alerts in one group, and room in the queue for one: every delivery
        # gets 503 until the queue is made larger.
        ird, am = self.pair(["namespace"], extra='intake = { queue_size = 1; };\n')
        am.post_alerts([am_alert("A", "retry-1", namespace="retry"),
                        am_alert("B", "retry-2", namespace="retry")])
        wait_for("a 503 to Alertmanager", lambda: metric_value(
            ird, "ird_alerts_received_total", 'source="am",outcome="rejected_overload"') >= 2)
        # Alertmanager may have flushed the group once while it held only the
        # first alert (that one fits); the group of two never does.
        self.assertLess(len(list_incidents(ird)), 2)
        ird.write_config("""
sources = { am = { type = "alertmanager"; auth = { type = "bearer"; tokens = [ "%s" ]; }; }; };
intake = { queue_size = 100; };
""" % TOKEN)
        start = len(ird.drain_logs())
        ird.signal(signal.SIGHUP)
        ird.wait_log(lambda l: l.get("msg") == "config reloaded", start=start)
        wait_for("Alertmanager's retry to be stored",
                 lambda: self.find(ird, "retry-1")() and self.find(ird, "retry-2")())
        self.assertCleanExit(ird, ird.stop())


if __name__ == "__main__":
    unittest.main()
