"""The shipped playbook library (playbooks/*.conf), as a user meets it: `ird
check` accepts the directory as it ships, a daemon started on it lists every
playbook, and the playbooks do what their comments promise against a (fake,
TLS, bearer-token) Kubernetes API when real Falco and Alertmanager bodies
arrive, when a responder approves, and when on-call triggers the manual ones
with the CLI."""

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from irdtest import ADMIN_TOKEN, FIXTURES, SOURCE_DIR, Ird, IrdTestCase, run_ird, stop_shared

sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "fakes", "k8s"))
import fake_k8s  # noqa: E402

SHIPPED = os.path.join(SOURCE_DIR, "playbooks")
SEED = os.path.join(FIXTURES, "k8s-seed", "seed.json")
TOKEN = "k8s-shipped-token-0123456789"
MUTATING = ("POST", "PUT", "PATCH", "DELETE")

# What the library promises: every playbook and its mode.
EXPECTED = {
    "contain-cryptominer": "auto",
    "contain-leaked-credentials": "approve",
    "quarantine-exfiltration": "approve",
    "quarantine-pod": "manual",
    "release-pod": "manual",
    "capture-evidence": "manual",
    "cordon-node": "manual",
    "uncordon-node": "manual",
}


def shipped_files():
    return sorted(glob.glob(os.path.join(SHIPPED, "*.conf")))


def shipped_names():
    names = []
    for path in shipped_files():
        with open(path) as f:
            m = re.search(r'^name\s*=\s*"([^"]+)"\s*;', f.read(), re.M)
        names.append(m.group(1) if m else None)
    return names


def falco(rule, namespace, pod, priority="Critical", container="app"):
    """A Falco http_output body, as Falco 0.3x sends it."""
    return {"hostname": "node-2", "priority": priority, "rule": rule, "source": "syscall",
            "output": "07:35:53.123456789: %s %s (ns=%s pod=%s)" % (priority, rule, namespace, pod),
            "output_fields": {"container.name": container, "k8s.ns.name": namespace,
                              "k8s.pod.name": pod, "proc.cmdline": "xmrig -o stratum+tcp://pool:3333"},
            "tags": ["T1496", "container", "mitre_impact"], "time": "2026-12-01T07:35:53.123456789Z"}


def alertmanager(alertname, namespace, pod, status="firing", severity="critical"):
    """An Alertmanager webhook (version 4) body with one alert."""
    return {"version": "4", "status": status, "receiver": "ird", "groupKey": "{}:{}",
            "truncatedAlerts": 0, "alerts": [{
                "status": status,
                "labels": {"alertname": alertname, "severity": severity, "namespace": namespace,
                           "pod": pod},
                "annotations": {"summary": "%s on %s/%s" % (alertname, namespace, pod)},
                "startsAt": "2026-12-01T07:35:53Z",
                "endsAt": "2026-12-01T08:00:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
                "fingerprint": "%s-%s-%s" % (alertname, namespace, pod)}]}


class LibraryTest(IrdTestCase):
    def test_check_accepts_the_shipped_directory(self):
        files = shipped_files()
        self.assertEqual(len(files), len(EXPECTED), files)
        with tempfile.TemporaryDirectory(prefix="ird-shipped-") as tmp:
            conf = os.path.join(tmp, "ird.conf")
            with open(conf, "w") as f:
                f.write('playbooks_dir = "%s";\nstate_dir = "%s";\n' % (SHIPPED, os.path.join(tmp, "state")))
            code, out, err = run_ird("check", "-c", conf)
        self.assertEqual(code, 0, out + err)
        self.assertIn("ok (%d playbooks)" % len(EXPECTED), out)

    def test_every_file_says_what_it_does_and_is_named_after_its_playbook(self):
        for path, name in zip(shipped_files(), shipped_names()):
            with open(path) as f:
                lines = f.read().splitlines()
            head = [l for l in lines[:3] if l.startswith("#")]
            self.assertEqual(len(head), 3, "%s does not open with a comment" % path)
            self.assertEqual(os.path.basename(path), "%s.conf" % name)
        self.assertEqual(sorted(shipped_names()), sorted(EXPECTED))

    def test_a_daemon_on_the_library_lists_every_playbook(self):
        ird = Ird()
        for path in shipped_files():
            shutil.copy(path, os.path.join(ird.state, "playbooks"))
        with ird:
            status, out = ird.api_get("/v1/playbooks")
            self.assertEqual(status, 200, out)
            listed = {p["name"]: p for p in out["playbooks"]}
            self.assertEqual(sorted(listed), sorted(shipped_names()))
            self.assertEqual({n: p["mode"] for n, p in listed.items()}, EXPECTED)
            # Run order: the miner playbook has the highest priority.
            self.assertEqual(out["playbooks"][0]["name"], "contain-cryptominer")
            required = {n: sorted(q["name"] for q in p["params"] if q["required"])
                        for n, p in listed.items() if p["mode"] == "manual"}
            self.assertEqual(required, {
                "quarantine-pod": ["namespace", "pod"], "release-pod": ["namespace"],
                "capture-evidence": ["namespace", "pod"], "cordon-node": ["node"],
                "uncordon-node": ["node"]})
            code = ird.stop()
        self.assertCleanExit(ird, code)


class ActionReferenceTest(IrdTestCase):
    """docs/playbooks.md documents every action and every parameter the loader knows."""

    def check_messages(self, files):
        with tempfile.TemporaryDirectory(prefix="ird-actions-") as tmp:
            pdir = os.path.join(tmp, "playbooks")
            os.makedirs(pdir)
            for i, (action, with_) in enumerate(files):
                with open(os.path.join(pdir, "p%02d.conf" % i), "w") as f:
                    f.write('name = "p%02d"; mode = "manual";\n'
                            'steps = ( { name = "s"; action = "%s"; with = { %s }; } );\n'
                            % (i, action, with_))
            conf = os.path.join(tmp, "ird.conf")
            with open(conf, "w") as f:
                f.write('playbooks_dir = "%s";\nstate_dir = "%s";\n' % (pdir, os.path.join(tmp, "state")))
            code, out, err = run_ird("check", "-c", conf)
        self.assertEqual(code, 1, out + err)
        return out

    def test_every_action_and_parameter_is_in_the_reference(self):
        out = self.check_messages([("k8s.no_such_verb", ""), ("test.no_such_verb", "")])
        actions = []
        for conn in ("k8s", "test"):
            m = re.search(r"known actions of %s: ([^)]*)\)" % conn, out)
            self.assertIsNotNone(m, out)
            actions += m.group(1).split(", ")
        self.assertIn("k8s.isolate_pod", actions)
        out = self.check_messages([(a, "zz_not_a_parameter = 1;") for a in actions])
        with open(os.path.join(SOURCE_DIR, "docs", "playbooks.md"), encoding="utf-8") as f:
            doc = f.read()
        sections = re.split(r"^### ", doc, flags=re.M)
        for action in actions:
            m = re.search(r"unknown parameter of %s \(known: ([^)]*)\)" % re.escape(action), out)
            self.assertIsNotNone(m, "%s: %s" % (action, out))
            params = m.group(1).split(", ")
            section = [t for t in sections if action in t.splitlines()[0]]
            self.assertEqual(len(section), 1, "no ### heading for %s in docs/playbooks.md" % action)
            for p in params:
                self.assertIn("`%s`" % p, section[0],
                              "parameter %s of %s is not in docs/playbooks.md" % (p, action))


class ClusterTest(IrdTestCase):
    """The library against a fake API server, mutations for real (dry_run = false)."""

    @classmethod
    def setUpClass(cls):
        cls.fake = fake_k8s.FakeK8s(tls=True, tokens=[TOKEN], seed=SEED).start()
        cls.fake.seed([{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-7"},
                        "spec": {}}])
        cls.tmp = tempfile.mkdtemp(prefix="ird-shipped-k8s-")
        kubeconfig = os.path.join(cls.tmp, "kubeconfig")
        with open(kubeconfig, "w") as f:
            f.write("apiVersion: v1\nkind: Config\n"
                    "clusters: [{name: fake, cluster: {server: \"%s\", certificate-authority: \"%s\"}}]\n"
                    "users: [{name: ird, user: {token: \"%s\"}}]\n"
                    "contexts: [{name: fake, context: {cluster: fake, user: ird, namespace: prod}}]\n"
                    "current-context: fake\n" % (cls.fake.url, cls.fake.ca, TOKEN))
        cls.evidence = os.path.join(cls.tmp, "evidence")
        # The miner playbook touches 6 objects for web-1 (pod, Event, 2 Secrets,
        # 2 workloads): the limit its comment tells users to raise.
        cls.ird = Ird("""
dry_run = false;
sources = { falco = { type = "falco"; auth = "none"; };
            alertmanager = { type = "alertmanager"; auth = "none"; }; };
connectors = { k8s = { default = { kubeconfig = "%s"; evidence_dir = "%s"; timeout = "5s"; }; }; };
guards = { max_targets_per_incident = 10; };
""" % (kubeconfig, cls.evidence))
        for path in shipped_files():
            shutil.copy(path, os.path.join(cls.ird.state, "playbooks"))
        cls.ird.start()

    @classmethod
    def tearDownClass(cls):
        try:
            stop_shared(cls.ird)
        finally:
            cls.fake.stop()
            shutil.rmtree(cls.tmp, ignore_errors=True)

    # -- helpers -----------------------------------------------------------------------
    def post(self, source, body):
        status, _, out = self.ird.request("POST", "/v1/alerts/" + source, body=body)
        self.assertEqual(status, 202, out)
        return json.loads(out)["incidents"][0]

    def get_run(self, run_id):
        status, out = self.ird.api_get("/v1/runs/" + run_id)
        self.assertEqual(status, 200, out)
        return out

    def wait_run(self, run_id, states, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            r = self.get_run(run_id)
            if r["state"] in states:
                return r
            time.sleep(0.1)
        self.fail("run %s not %s in %ss: %s" % (run_id, states, timeout, json.dumps(r)[:3000]))

    def wait_step(self, run_id, step, state, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            r = self.get_run(run_id)
            if any(s["name"] == step and s["state"] == state for s in r["steps"]):
                return r
            time.sleep(0.1)
        self.fail("step %s of %s not %s in %ss: %s" % (step, run_id, state, timeout,
                                                       json.dumps(r)[:3000]))

    def runs_of(self, incident, count=1, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            status, out = self.ird.api_get("/v1/runs?incident=" + incident)
            self.assertEqual(status, 200, out)
            if len(out["runs"]) >= count:
                return list(reversed(out["runs"]))  # oldest first
            time.sleep(0.1)
        self.fail("no %d runs for %s in %ss" % (count, incident, timeout))

    def approve(self, run_id, step):
        status, _, out = self.ird.request("POST", "/v1/runs/%s/approve" % run_id, body={"step": step},
                                          headers={"Authorization": "Bearer " + ADMIN_TOKEN},
                                          listener="api")
        self.assertEqual(status, 202, out)

    def cli(self, *args):
        return run_ird(*args, "--url", "http://" + self.ird.api, "--token", ADMIN_TOKEN)

    def trigger(self, *args):
        code, out, err = self.cli("trigger", *args)
        self.assertEqual(code, 0, out + err)
        return out.strip()

    @staticmethod
    def step(run, name):
        return next(s for s in run["steps"] if s["name"] == name)

    def events_about(self, namespace, name, reason):
        return [e for e in self.fake.objects("events", namespace)
                if e.get("involvedObject", e.get("regarding", {})).get("name") == name
                and e.get("reason") == reason]

    def pod_label(self, pod):
        obj = self.fake.get_object("pods", "prod", pod)
        return obj["metadata"].get("labels", {}).get("ird.io/quarantine")

    # -- automatic: contain-cryptominer ------------------------------------------------
    def test_falco_miner_alert_contains_the_pod(self):
        old = self.fake.get_object("secrets", "prod", "db-creds")["data"]["password"]
        inc = self.post("falco", falco("Detect crypto miners using the Stratum protocol", "prod", "web-1"))
        run, = self.runs_of(inc)
        self.assertEqual(run["playbook"], "contain-cryptominer")
        run = self.wait_run(run["id"], ("succeeded", "failed", "blocked"))
        self.assertEqual(run["state"], "succeeded", json.dumps(run)[:4000])
        self.assertEqual([s["name"] for s in run["steps"]], ["quarantine", "evidence", "record", "rotate"])

        # Evidence on disk, listed with its manifest.
        ev = self.step(run, "evidence")["result"]
        self.assertTrue(ev["dir"].startswith(os.path.join(self.evidence, inc)), ev["dir"])
        check = subprocess.run(["sha256sum", "-c", "MANIFEST.sha256"], cwd=ev["dir"],
                               capture_output=True, text=True)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        # Quarantine without DNS: deny-all, no egress rule at all.
        np = self.fake.get_object("networkpolicies", "prod", "ird-quarantine-" + inc)
        self.assertIsNotNone(np, self.fake.objects("networkpolicies", "prod"))
        self.assertEqual(np["spec"]["policyTypes"], ["Ingress", "Egress"])
        self.assertNotIn("egress", np["spec"])
        self.assertEqual(self.pod_label("web-1"), inc)
        # The Event on the pod names the incident.
        ev = self.events_about("prod", "web-1", "IrdQuarantined")
        self.assertEqual(len(ev), 1, self.fake.objects("events", "prod"))
        self.assertIn(inc, json.dumps(ev[0]))
        self.assertEqual(ev[0]["type"], "Warning")
        # Every Secret the pod uses rotated for the incident, their users restarted.
        for name in ("db-creds", "api-keys"):
            ann = self.fake.get_object("secrets", "prod", name)["metadata"]["annotations"]
            self.assertEqual(ann["ird.io/rotated-by"], inc)
        self.assertNotEqual(self.fake.get_object("secrets", "prod", "db-creds")["data"]["password"], old)
        restarted = sorted(w["name"] for w in self.step(run, "rotate")["result"]["restarted"])
        self.assertEqual(restarted, ["cache", "web"])

    def test_alertmanager_miner_alert_is_released_when_it_resolves(self):
        inc = self.post("alertmanager", alertmanager("CryptoMiningDetected", "prod", "web-2"))
        run, = self.runs_of(inc)
        run = self.wait_run(run["id"], ("succeeded", "failed", "blocked"))
        self.assertEqual(run["state"], "succeeded", json.dumps(run)[:4000])
        self.assertEqual(self.pod_label("web-2"), inc)
        self.assertIsNotNone(self.fake.get_object("networkpolicies", "prod", "ird-quarantine-" + inc))

        self.post("alertmanager", alertmanager("CryptoMiningDetected", "prod", "web-2", status="resolved"))
        main, resolve = self.runs_of(inc, count=2)
        self.assertEqual((main["phase"], resolve["phase"]), ("main", "resolve"))
        resolve = self.wait_run(resolve["id"], ("succeeded", "failed", "blocked"))
        self.assertEqual(resolve["state"], "succeeded", json.dumps(resolve)[:4000])
        self.assertIsNone(self.fake.get_object("networkpolicies", "prod", "ird-quarantine-" + inc))
        self.assertIsNone(self.pod_label("web-2"))
        self.assertEqual(self.step(resolve, "release")["result"]["released"], ["web-2"])

    def test_below_warning_no_miner_playbook_runs(self):
        inc = self.post("alertmanager", alertmanager("CryptoMiningDetected", "prod", "web-5",
                                                     severity="info"))
        time.sleep(0.5)
        status, out = self.ird.api_get("/v1/runs?incident=" + inc)
        self.assertEqual((status, out["runs"]), (200, []))

    # -- approve: quarantine-exfiltration ----------------------------------------------
    def test_exfiltration_waits_for_a_responder_then_isolates_and_evicts(self):
        # Falco's own priority for this rule is Notice (severity info): it must still match.
        body = falco("Unexpected outbound connection destination", "prod", "web-3", priority="Notice")
        inc = self.post("falco", body)
        run, = self.runs_of(inc)
        self.assertEqual(run["playbook"], "quarantine-exfiltration")
        run = self.wait_run(run["id"], ("waiting_approval",))
        self.assertEqual(self.step(run, "evidence")["state"], "succeeded")
        self.assertEqual(self.step(run, "isolate")["state"], "waiting_approval")
        touched = [r for r in self.fake.requests() if r["method"] in MUTATING and "web-3" in r["path"]]
        self.assertEqual(touched, [])
        self.assertIsNone(self.pod_label("web-3"))

        self.approve(run["id"], "isolate")
        self.wait_step(run["id"], "evict", "waiting_approval")
        self.assertEqual(self.pod_label("web-3"), inc)
        self.assertIsNotNone(self.fake.get_object("pods", "prod", "web-3"))

        self.approve(run["id"], "evict")
        run = self.wait_run(run["id"], ("succeeded", "failed", "blocked"))
        self.assertEqual(run["state"], "succeeded", json.dumps(run)[:4000])
        self.assertIsNone(self.fake.get_object("pods", "prod", "web-3"))
        self.assertEqual([s["approved_by"] for s in run["steps"]], [None, "api:admin", "api:admin"])

    # -- approve: contain-leaked-credentials -------------------------------------------
    def test_leaked_credentials_rotate_only_once_approved(self):
        old = self.fake.get_object("secrets", "prod", "sec-5")["data"]["token"]
        inc = self.post("falco", falco("Find AWS Credentials", "prod", "web-5", priority="Warning"))
        run, = self.runs_of(inc)
        self.assertEqual(run["playbook"], "contain-leaked-credentials")
        run = self.wait_run(run["id"], ("waiting_approval",))
        self.assertEqual(self.step(run, "evidence")["state"], "succeeded")
        self.assertEqual(self.step(run, "rotate")["state"], "waiting_approval")
        self.assertEqual(self.fake.get_object("secrets", "prod", "sec-5")["data"]["token"], old)

        code, out, err = self.cli("approve", run["id"], "rotate")
        self.assertEqual(code, 0, out + err)
        run = self.wait_run(run["id"], ("succeeded", "failed", "blocked"))
        self.assertEqual(run["state"], "succeeded", json.dumps(run)[:4000])
        self.assertNotEqual(self.fake.get_object("secrets", "prod", "sec-5")["data"]["token"], old)
        self.assertEqual(self.step(run, "rotate")["result"]["secrets"], [{"name": "sec-5", "keys": ["token"]}])

    # -- manual: on-call with the CLI --------------------------------------------------
    def test_on_call_quarantines_and_releases_a_pod_by_hand(self):
        inc = self.post("alertmanager", alertmanager("PodLooksOdd", "prod", "web-4", severity="warning"))
        run_id = self.trigger("quarantine-pod", "-p", "namespace=prod", "-p", "pod=web-4",
                              "--incident", inc)
        run = self.wait_run(run_id, ("succeeded", "failed", "blocked"))
        self.assertEqual(run["state"], "succeeded", json.dumps(run)[:4000])
        self.assertEqual(run["params"], {"namespace": "prod", "pod": "web-4", "allow_dns": "false"})
        self.assertEqual(self.pod_label("web-4"), inc)
        self.assertEqual(len(self.events_about("prod", "web-4", "IrdQuarantined")), 1)

        run_id = self.trigger("release-pod", "-p", "namespace=prod", "-p", "pod=web-4", "--incident", inc)
        run = self.wait_run(run_id, ("succeeded", "failed", "blocked"))
        self.assertEqual(run["state"], "succeeded", json.dumps(run)[:4000])
        self.assertIsNone(self.pod_label("web-4"))
        self.assertIsNone(self.fake.get_object("networkpolicies", "prod", "ird-quarantine-" + inc))
        self.assertEqual(len(self.events_about("prod", "web-4", "IrdReleased")), 1)

        # Without a pod, release-pod skips its Event step instead of failing.
        run_id = self.trigger("release-pod", "-p", "namespace=prod", "--incident", inc)
        run = self.wait_run(run_id, ("succeeded", "failed", "blocked"))
        self.assertEqual(run["state"], "succeeded", json.dumps(run)[:4000])
        self.assertEqual(self.step(run, "record")["state"], "skipped")

    def test_capture_evidence_checks_its_parameters_before_any_call(self):
        run_id = self.trigger("capture-evidence", "-p", "namespace=prod", "-p", "pod=web-1",
                              "-p", "tail_lines=50")
        run = self.wait_run(run_id, ("succeeded", "failed"))
        self.assertEqual(run["state"], "succeeded", json.dumps(run)[:4000])
        self.assertTrue(self.step(run, "capture")["result"]["dir"].startswith(
            os.path.join(self.evidence, run_id)))

        self.fake.requests(clear=True)
        for params, word in ((("pod=web-1", "tail_lines=many"), "tail_lines"),
                             (("pod=../x",), "pod")):
            args = ["capture-evidence", "-p", "namespace=prod"]
            for p in params:
                args += ["-p", p]
            run = self.wait_run(self.trigger(*args), ("succeeded", "failed"))
            self.assertEqual(run["state"], "failed", json.dumps(run)[:2000])
            self.assertIn("parameter " + word, self.step(run, "capture")["error"])
        self.assertEqual(self.fake.requests(), [])

        code, out, err = self.cli("trigger", "capture-evidence", "-p", "namespace=prod")
        self.assertEqual(code, 1, out + err)
        self.assertIn("pod", err)

    def test_on_call_cordons_and_uncordons_a_node(self):
        run = self.wait_run(self.trigger("cordon-node", "-p", "node=node-7", "-p", "reason=falco: rootkit"),
                            ("succeeded", "failed", "blocked"))
        self.assertEqual(run["state"], "succeeded", json.dumps(run)[:4000])
        self.assertIs(self.fake.get_object("nodes", "", "node-7")["spec"].get("unschedulable"), True)
        ev = self.events_about("default", "node-7", "IrdCordoned")
        self.assertEqual(len(ev), 1, self.fake.objects("events", "default"))
        self.assertIn("falco: rootkit", json.dumps(ev[0]))

        run = self.wait_run(self.trigger("uncordon-node", "-p", "node=node-7"),
                            ("succeeded", "failed", "blocked"))
        self.assertEqual(run["state"], "succeeded", json.dumps(run)[:4000])
        self.assertFalse(self.fake.get_object("nodes", "", "node-7")["spec"].get("unschedulable", False))
        self.assertEqual(len(self.events_about("default", "node-7", "IrdUncordoned")), 1)


if __name__ == "__main__":
    import unittest
    unittest.main()
