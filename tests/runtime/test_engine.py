"""The run engine as an operator sees it through the API and the CLI: alerts
start playbooks (templates, `when`, one run per incident, cooldown, priority
and stop), steps retry and time out, approve mode waits for a human, manual
triggers take parameters, runs are cancelled, survive a kill -9, are stopped by
guards until an admin forces them, run dry, and leave an intact audit trail.

Every daemon here uses the test connector only (tests/fixtures/playbooks/engine)."""

import json
import signal
import os
import shutil
import textwrap
import time
import unittest

from irdtest import ADMIN_TOKEN, FIXTURES, VIEWER_TOKEN, Ird, IrdTestCase, run_ird, stop_shared

RESPONDER_TOKEN = "responder-token-0123456789abcdef"
PLAYBOOKS = os.path.join(FIXTURES, "playbooks", "engine")
FINAL = ("succeeded", "failed", "cancelled")

CONFIG = """
listen = {{ webhooks = "127.0.0.1:0"; api = "127.0.0.1:0"; }};
state_dir = "{state}";
playbooks_dir = "{state}/playbooks";
log = {{ level = "debug"; format = "json"; }};
shutdown_timeout = "5s";
{dry_run}
api = {{ tokens = (
  {{ name = "admin"; role = "admin"; token = "{admin}"; }},
  {{ name = "responder"; role = "responder"; token = "{responder}"; }},
  {{ name = "viewer"; role = "viewer"; token = "{viewer}"; }}
); }};
engine = {{ retry_base = "10ms"; retry_cap = "50ms"; }};
sources = {{ test = {{ type = "json"; auth = "none";
  map = {{ id = "id"; title = "title"; namespace = "ns"; pod = "pod"; severity = "sev";
          status = "status"; }}; }}; }};
"""


class EngineIrd(Ird):
    """A daemon with admin, responder and viewer tokens, the `test` source and
    fast retries, running the playbooks of one fixture directory. dry_run None
    leaves the daemon's default (dry-run on)."""

    def __init__(self, playbooks, extra="", dry_run=False, state=None):
        self.dry_run = dry_run
        super().__init__(extra, state=state)
        if state is None:
            shutil.copytree(os.path.join(PLAYBOOKS, playbooks),
                            os.path.join(self.state, "playbooks"), dirs_exist_ok=True)
        self.seq = 0

    def write_config(self, extra):
        dry = "" if self.dry_run is None else "dry_run = %s;" % ("true" if self.dry_run else "false")
        text = CONFIG.format(state=self.state, admin=ADMIN_TOKEN, responder=RESPONDER_TOKEN,
                             viewer=VIEWER_TOKEN, dry_run=dry)
        with open(self.config, "w") as f:
            f.write(text + textwrap.dedent(extra))

    @property
    def url(self):
        return "http://" + self.api

    # -- alerts ---------------------------------------------------------------
    def alert(self, title, id=None, ns="apps", pod="web-1", sev="warning", status="firing"):
        """Post one alert to the test source; the incident id."""
        if id is None:
            self.seq += 1
            id = "%s-%d-%d" % (title, self.seq, int(time.time() * 1000))
        body = {"id": id, "title": title, "ns": ns, "pod": pod, "sev": sev, "status": status}
        status_, _, out = self.request("POST", "/v1/alerts/test", body=body)
        if status_ != 202:
            raise AssertionError("alert not accepted: %s %s" % (status_, out))
        return json.loads(out)["incidents"][0]

    def sync(self):
        """Wait until every alert posted before has been seen by the engine:
        post an alert the `sync` playbook matches and wait for its run."""
        inc = self.alert("sync")
        self.wait_runs(inc, 1)

    # -- runs -----------------------------------------------------------------
    def runs(self, query="", token=ADMIN_TOKEN):
        status, page = self.api_get("/v1/runs" + ("?" + query if query else ""), token=token)
        if status != 200:
            raise AssertionError("GET /v1/runs?%s: %s %s" % (query, status, page))
        return page["runs"]

    def run(self, run_id, token=ADMIN_TOKEN):
        status, run = self.api_get("/v1/runs/" + run_id, token=token)
        if status != 200:
            raise AssertionError("GET /v1/runs/%s: %s %s" % (run_id, status, run))
        return run

    def wait_run(self, run_id, pred=lambda r: r["state"] in FINAL, timeout=10, what="finished"):
        deadline = time.time() + timeout
        while True:
            run = self.run(run_id)
            if pred(run):
                return run
            if time.time() > deadline:
                raise AssertionError("run %s not %s within %ss: %s" % (
                    run_id, what, timeout, json.dumps(run, indent=1)))
            self.drain_logs(0.02)

    def wait_state(self, run_id, state, timeout=10):
        return self.wait_run(run_id, lambda r: r["state"] == state, timeout, state)

    def wait_runs(self, incident, n, timeout=10):
        """The runs for an incident once there are n of them (oldest first)."""
        deadline = time.time() + timeout
        while True:
            runs = self.runs("incident=" + incident)
            if len(runs) >= n:
                return list(reversed(runs))
            if time.time() > deadline:
                raise AssertionError("%d runs for %s, wanted %d" % (len(runs), incident, n))
            self.drain_logs(0.02)

    def trigger(self, playbook, params=None, token=RESPONDER_TOKEN, **extra):
        """POST /v1/playbooks/<name>/runs: (status, answer)."""
        body = {"params": params or {}}
        body.update(extra)
        status, _, out = self.request("POST", "/v1/playbooks/%s/runs" % playbook, body=body,
                                      headers={"Authorization": "Bearer " + token},
                                      listener="api")
        return status, json.loads(out) if out else None

    def started(self, playbook, params=None, **extra):
        status, out = self.trigger(playbook, params, **extra)
        if status != 201 or out.get("status") != "started":
            raise AssertionError("trigger %s: %s %s" % (playbook, status, out))
        return out["run"]

    def cli(self, *args, token=ADMIN_TOKEN):
        """Run a client command against this daemon: (exit code, stdout, stderr)."""
        args = list(args) + ["--url", self.url]
        if token is not None:
            args += ["--token", token]
        return run_ird(*args, env={"IRD_URL": "", "IRD_TOKEN": ""})

    def audit(self):
        code, out, err = self.cli("audit", "-o", "json")
        if code != 0:
            raise AssertionError("ird audit: %s %s" % (code, err))
        return json.loads(out)["records"]


def steps_of(run):
    return {s["name"]: s for s in run["steps"]}


class EngineTestCase(IrdTestCase):
    """One daemon for the class, stopped cleanly (no sanitizer report) at the end."""

    PLAYBOOKS = None
    DRY_RUN = False
    EXTRA = ""

    @classmethod
    def setUpClass(cls):
        cls.ird = EngineIrd(cls.PLAYBOOKS, cls.EXTRA, dry_run=cls.DRY_RUN).start()

    @classmethod
    def tearDownClass(cls):
        stop_shared(cls.ird)


# ------------------------------------------------------------------------------
class AutoModeTest(EngineTestCase):
    """Alerts start the playbooks they match, in priority order."""

    PLAYBOOKS = "auto"

    def test_alert_runs_the_playbook_with_templates_and_when(self):
        inc = self.ird.alert("chain", pod="miner-7")
        (summary,) = self.ird.wait_runs(inc, 1)
        self.assertEqual(summary["playbook"], "chain")
        run = self.ird.wait_run(summary["id"])
        self.assertEqual(run["state"], "succeeded", run)
        self.assertEqual(run["target"], {"namespace": "apps", "pod": "miner-7"})
        self.assertFalse(run["dry_run"])
        s = steps_of(run)
        self.assertEqual([x["name"] for x in run["steps"]], ["first", "second", "never", "maybe"])
        self.assertEqual(s["first"]["result"]["message"], "hello miner-7")
        self.assertEqual(s["second"]["params"]["message"], "first said: hello miner-7")
        self.assertEqual(s["second"]["result"]["message"], "first said: hello miner-7")
        self.assertEqual(s["never"]["state"], "skipped")
        self.assertIsNone(s["never"]["result"])
        self.assertEqual(s["maybe"]["state"], "succeeded")
        self.assertEqual(s["maybe"]["result"]["message"], "ran after succeed")
        for name in ("first", "second", "maybe"):
            self.assertEqual(s[name]["attempts"], 1)
            self.assertIsNotNone(s[name]["finished_at"])

    def test_one_run_per_incident_and_playbook(self):
        inc = self.ird.alert("chain", id="once-1", pod="web-2")
        (first,) = self.ird.wait_runs(inc, 1)
        self.ird.wait_run(first["id"])
        # The same alert again, then the incident's alert firing with a new severity.
        self.assertEqual(self.ird.alert("chain", id="once-1", pod="web-2"), inc)
        self.assertEqual(self.ird.alert("chain", id="once-1", pod="web-2", sev="critical"), inc)
        self.ird.sync()
        runs = self.ird.runs("incident=" + inc)
        self.assertEqual([r["id"] for r in runs], [first["id"]])

    def test_cooldown_on_the_same_target(self):
        a = self.ird.alert("cool", ns="shop", pod="cart-1")
        (run_a,) = self.ird.wait_runs(a, 1)
        self.assertEqual(run_a["playbook"], "cooldown")
        # A new incident on the same pod within 10 minutes: no run.
        b = self.ird.alert("cool", ns="shop", pod="cart-1")
        self.assertNotEqual(a, b)
        # Another pod is another target.
        c = self.ird.alert("cool", ns="shop", pod="cart-2")
        (run_c,) = self.ird.wait_runs(c, 1)
        self.assertEqual(run_c["playbook"], "cooldown")
        self.ird.sync()
        self.assertEqual(self.ird.runs("incident=" + b), [])

    def test_stop_keeps_lower_priority_playbooks_from_running(self):
        inc = self.ird.alert("stop")
        (run,) = self.ird.wait_runs(inc, 1)
        self.assertEqual(run["playbook"], "stopper")
        self.ird.sync()
        self.assertEqual([r["playbook"] for r in self.ird.runs("incident=" + inc)], ["stopper"])
        self.assertEqual(self.ird.runs("playbook=skipped-by-stop"), [])

    def test_runs_start_in_priority_order(self):
        inc = self.ird.alert("order")
        runs = self.ird.wait_runs(inc, 2)
        # Oldest first: the priority-5 playbook, then the priority-1 one,
        # although their files sort the other way round.
        self.assertEqual([r["playbook"] for r in runs], ["order-high", "order-low"])
        number = lambda r: int(r["id"].rsplit("-", 1)[1])
        self.assertLess(number(runs[0]), number(runs[1]))

    def test_cli_runs_and_run(self):
        inc = self.ird.alert("chain", pod="cli-1")
        (summary,) = self.ird.wait_runs(inc, 1)
        self.ird.wait_run(summary["id"])
        code, out, err = self.ird.cli("runs", "--incident", inc, token=VIEWER_TOKEN)
        self.assertEqual(code, 0, err)
        lines = out.splitlines()
        self.assertIn("RUN", lines[0])
        self.assertEqual(len(lines), 2, out)
        self.assertIn(summary["id"], lines[1])
        self.assertIn("succeeded", lines[1])
        self.assertIn("chain", lines[1])
        code, out, err = self.ird.cli("runs", "--playbook", "chain", "--limit", "1", "-o", "json")
        self.assertEqual(code, 0, err)
        page = json.loads(out)
        self.assertEqual(len(page["runs"]), 1)
        self.assertEqual(page["runs"][0]["playbook"], "chain")
        code, out, err = self.ird.cli("run", summary["id"])
        self.assertEqual(code, 0, err)
        self.assertNotIn("DRY-RUN", out)
        rows = {l.split()[1]: l.split() for l in out.splitlines()
                if l[:1].isdigit() and len(l.split()) >= 5}
        self.assertEqual(set(rows), {"first", "second", "never", "maybe"})
        self.assertEqual(rows["first"][2:5], ["test.succeed", "succeeded", "1"])
        self.assertEqual(rows["never"][3], "skipped")
        code, out, err = self.ird.cli("run", summary["id"], "-o", "json")
        self.assertEqual(code, 0, err)
        self.assertEqual(json.loads(out), self.ird.run(summary["id"]))

    def test_cli_unknown_run_and_bad_options(self):
        code, out, err = self.ird.cli("run", "run-999999")
        self.assertEqual(code, 1)
        self.assertIn("404", err)
        self.assertIn("no run with that id", err)
        for args in (["runs", "--limit", "0"], ["runs", "--bogus"], ["run"], ["run", "a", "b"],
                     ["runs", "-o", "yaml"], ["approve"], ["cancel"], ["trigger"],
                     ["trigger", "x", "-p", "novalue"], ["trigger", "x", "-p", "k=1", "-p", "k=2"]):
            code, out, err = self.ird.cli(*args)
            self.assertEqual(code, 2, (args, out, err))
            self.assertIn("usage: ird", err)
        for cmd in ("runs", "run", "trigger", "approve", "cancel"):
            code, out, err = run_ird(cmd, "--help")
            self.assertEqual(code, 0)
            self.assertTrue(out.startswith("usage: ird " + cmd), out)
            self.assertIn("--token", out)

    def test_roles(self):
        status, _, body = self.ird.request("GET", "/v1/runs", listener="api")
        self.assertEqual(status, 401, body)
        status, _, body = self.ird.request("GET", "/v1/playbooks", listener="api")
        self.assertEqual(status, 401, body)
        code, out, err = self.ird.cli("runs", token=None)
        self.assertEqual(code, 1)
        self.assertIn("401", err)
        self.assertTrue(self.ird.runs(token=VIEWER_TOKEN))
        status, page = self.ird.api_get("/v1/playbooks", token=VIEWER_TOKEN)
        self.assertEqual(status, 200, page)
        names = [p["name"] for p in page["playbooks"]]
        self.assertIn("chain", names)
        # Run order: priority descending.
        self.assertLess(names.index("stopper"), names.index("skipped-by-stop"))
        self.assertLess(names.index("order-high"), names.index("order-low"))
        inc = self.ird.alert("chain", pod="roles-1")
        (run,) = self.ird.wait_runs(inc, 1)
        before = len(self.ird.runs("playbook=sync&limit=500"))
        status, out = self.ird.trigger("sync", token=VIEWER_TOKEN)
        self.assertEqual(status, 403, out)
        for args in (["trigger", "sync"], ["approve", run["id"]], ["cancel", run["id"]]):
            code, _, err = self.ird.cli(*args, token=VIEWER_TOKEN)
            self.assertEqual(code, 1, args)
            self.assertIn("403", err)
        self.assertEqual(len(self.ird.runs("playbook=sync&limit=500")), before)


# ------------------------------------------------------------------------------
class ResolvedMatchTest(EngineTestCase):
    PLAYBOOKS = "auto"

    def test_status_resolved_matches_only_the_resolution(self):
        inc = self.ird.alert("resolution", id="r-1")
        self.ird.sync()
        self.assertEqual(self.ird.runs("incident=" + inc), [])
        self.assertEqual(self.ird.alert("resolution", id="r-1", status="resolved"), inc)
        run = self.ird.wait_run(self.ird.wait_runs(inc, 1)[0]["id"])
        self.assertEqual(run["playbook"], "on-resolved")
        self.assertEqual(run["state"], "succeeded")
        self.assertEqual(steps_of(run)["note"]["result"]["message"], "resolved r-1")


class RawAlertTest(EngineTestCase):
    PLAYBOOKS = "auto"

    def test_a_playbook_reading_the_raw_alert_gets_it(self):
        inc = self.ird.alert("rawtest", ns="shop")
        run = self.ird.wait_run(self.ird.wait_runs(inc, 1)[0]["id"])
        self.assertEqual(run["state"], "succeeded", run)
        self.assertEqual(steps_of(run)["echo"]["result"]["message"], "raw ns shop")


class StepsTest(EngineTestCase):
    """Retries, timeouts, on_failure, manual triggers, cancel, per-run dry-run."""

    PLAYBOOKS = "manual"

    def test_flaky_step_succeeds_on_the_third_attempt(self):
        run = self.ird.wait_run(self.ird.started("retry-ok"))
        self.assertEqual(run["state"], "succeeded", run)
        step = steps_of(run)["flaky"]
        self.assertEqual(step["state"], "succeeded")
        self.assertEqual(step["attempts"], 3)
        self.assertEqual(step["result"]["attempt"], 3)

    def test_flaky_step_fails_when_retries_run_out(self):
        run = self.ird.wait_run(self.ird.started("retry-exhausted"))
        self.assertEqual(run["state"], "failed", run)
        step = steps_of(run)["flaky"]
        self.assertEqual(step["state"], "failed")
        self.assertEqual(step["attempts"], 2)
        self.assertIn("(after 2 attempts)", step["error"])
        self.assertIn("flaky: failure 2 of 2", step["error"])
        self.assertIn("flaky", run["error"])

    def test_timeout(self):
        t0 = time.time()
        run = self.ird.wait_run(self.ird.started("timeout"))
        self.assertLess(time.time() - t0, 1.8, "the step was not cut off at 200ms")
        self.assertEqual(run["state"], "failed", run)
        s = steps_of(run)
        self.assertIn("timed out after 200ms", s["slow"]["error"])
        self.assertNotIn("after", s)  # abort: the next step never started

    def test_on_failure_continue(self):
        run = self.ird.wait_run(self.ird.started("continue"))
        self.assertEqual(run["state"], "succeeded", run)
        s = steps_of(run)
        self.assertEqual(s["broken"]["state"], "failed")
        self.assertEqual(s["broken"]["error"], "expected breakage")
        self.assertEqual(s["after"]["state"], "succeeded")

    def test_on_failure_abort(self):
        run = self.ird.wait_run(self.ird.started("abort"))
        self.assertEqual(run["state"], "failed", run)
        self.assertIn("fatal breakage", run["error"])
        s = steps_of(run)
        self.assertEqual(s["broken"]["state"], "failed")
        self.assertTrue("after" not in s or s["after"]["result"] is None, s.get("after"))

    def test_manual_playbooks_are_not_started_by_alerts(self):
        inc = self.ird.alert("params", pod="web-9")
        self.ird.sync()
        self.assertEqual(self.ird.runs("incident=" + inc), [])
        self.assertEqual(self.ird.runs("playbook=params&incident=" + inc), [])

    def test_trigger_with_params(self):
        code, out, err = self.ird.cli("trigger", "params", "-p", "pod=db-0", "-p",
                                      "reason=chaos day", token=RESPONDER_TOKEN)
        self.assertEqual(code, 0, err)
        run_id = out.strip()
        self.assertRegex(run_id, r"^run-\d+$")
        run = self.ird.wait_run(run_id)
        self.assertEqual(run["state"], "succeeded", run)
        self.assertEqual(run["params"], {"pod": "db-0", "reason": "chaos day"})
        self.assertEqual(run["triggered_by"], "api:responder")
        self.assertEqual(steps_of(run)["say"]["result"]["message"], "chaos day on db-0")
        # The default applies; -o json is the API's answer.
        code, out, err = self.ird.cli("trigger", "params", "--param", "pod=db-1", "-o", "json",
                                      token=RESPONDER_TOKEN)
        self.assertEqual(code, 0, err)
        answer = json.loads(out)
        self.assertEqual(answer["status"], "started")
        run = self.ird.wait_run(answer["run"])
        self.assertEqual(steps_of(run)["say"]["result"]["message"], "drill on db-1")

    def test_parameter_values_stay_data(self):
        hostile = 'x", "injected": "1'
        code, out, err = self.ird.cli("trigger", "params", "-p", "pod=db-2", "-p",
                                      "reason=" + hostile, token=RESPONDER_TOKEN)
        self.assertEqual(code, 0, err)
        run = self.ird.wait_run(out.strip())
        self.assertEqual(run["params"], {"pod": "db-2", "reason": hostile})

    def test_trigger_missing_required_param(self):
        before = len(self.ird.runs("playbook=params&limit=500"))
        code, out, err = self.ird.cli("trigger", "params", token=RESPONDER_TOKEN)
        self.assertEqual(code, 1, out)
        self.assertIn("422", err)
        self.assertIn("pod", err)
        self.assertEqual(out, "")
        status, answer = self.ird.trigger("params", {})
        self.assertEqual(status, 422)
        self.assertIn("pod", answer["detail"])
        self.assertEqual(len(self.ird.runs("playbook=params&limit=500")), before)

    def test_trigger_unknown_playbook(self):
        code, out, err = self.ird.cli("trigger", "no-such-playbook", token=RESPONDER_TOKEN)
        self.assertEqual(code, 1)
        self.assertIn("404", err)
        self.assertIn("no playbook named no-such-playbook", err)
        status, answer = self.ird.trigger("no-such-playbook")
        self.assertEqual(status, 404, answer)

    def test_triggering_twice_gives_two_runs(self):
        a = self.ird.started("params", {"pod": "twice"})
        b = self.ird.started("params", {"pod": "twice"})
        self.assertNotEqual(a, b)
        for run_id in (a, b):
            self.assertEqual(self.ird.wait_run(run_id)["state"], "succeeded")

    def test_cancel_a_sleeping_run(self):
        run_id = self.ird.started("cancel")
        self.ird.wait_run(run_id, lambda r: steps_of(r).get("nap", {}).get("state") == "running",
                          what="sleeping")
        code, out, err = self.ird.cli("cancel", run_id, token=RESPONDER_TOKEN)
        self.assertEqual(code, 0, err)
        self.assertIn(run_id, out)
        run = self.ird.wait_run(run_id, timeout=5)
        self.assertEqual(run["state"], "cancelled", run)
        s = steps_of(run)
        self.assertEqual(s["nap"]["state"], "succeeded")  # the step in flight finished
        self.assertTrue("later" not in s or s["later"]["result"] is None, s.get("later"))
        # Too late to cancel again.
        code, out, err = self.ird.cli("cancel", run_id, token=RESPONDER_TOKEN)
        self.assertEqual(code, 1)
        self.assertRegex(err, r"\b4\d\d\b")
        self.assertIn(run_id, err)

    def test_playbook_dry_run_in_a_live_daemon(self):
        run = self.ird.wait_run(self.ird.started("dry-playbook"))
        self.assertEqual(run["state"], "succeeded", run)
        self.assertTrue(run["dry_run"])
        step = steps_of(run)["change"]
        self.assertEqual([(p["method"], p["path"]) for p in step["planned"]],
                         [("POST", "/test/succeed")])
        self.assertTrue(step["result"]["planned"])

    def test_trigger_dry_run(self):
        live = self.ird.wait_run(self.ird.started("mutate"))
        self.assertFalse(live["dry_run"])
        step = steps_of(live)["change"]
        self.assertIsNone(step["planned"])
        self.assertNotIn("planned", step["result"])
        self.assertFalse(step["result"]["dry_run"])
        code, out, err = self.ird.cli("trigger", "mutate", "--dry-run", token=RESPONDER_TOKEN)
        self.assertEqual(code, 0, err)
        dry = self.ird.wait_run(out.strip())
        self.assertTrue(dry["dry_run"])
        step = steps_of(dry)["change"]
        self.assertEqual([(p["method"], p["path"]) for p in step["planned"]],
                         [("POST", "/test/succeed")])
        self.assertTrue(step["result"]["planned"])
        listed = {r["id"]: r for r in self.ird.runs("playbook=mutate&limit=500")}
        self.assertTrue(listed[dry["id"]]["dry_run"])
        self.assertFalse(listed[live["id"]]["dry_run"])
        code, out, err = self.ird.cli("run", dry["id"])
        self.assertEqual(code, 0, err)
        self.assertIn("DRY-RUN", out)
        self.assertIn("POST /test/succeed", out)

    def test_audit_trail_of_a_run(self):
        run_id = self.ird.started("continue")
        self.ird.wait_run(run_id)
        records = [r for r in self.ird.audit() if r["subject"] == run_id]
        kinds = [r["kind"] for r in records]
        self.assertEqual(kinds[0], "run.started", kinds)
        self.assertEqual(kinds[-1], "run.finished", kinds)
        self.assertEqual(kinds.count("step.finished"), 2, kinds)
        self.assertEqual(records[0]["actor"], "api:responder")
        code, out, err = run_ird("audit", "verify", "-c", self.ird.config)
        self.assertEqual(code, 0, out + err)
        self.assertIn("audit trail intact", out)


# ------------------------------------------------------------------------------
class ApproveTest(EngineTestCase):
    """approve mode: the mutating step waits for a responder."""

    PLAYBOOKS = "approve"

    def waiting(self):
        inc = self.ird.alert("approve", pod="suspect-1")
        (summary,) = self.ird.wait_runs(inc, 1)
        return self.ird.wait_state(summary["id"], "waiting_approval")

    def test_mutating_step_waits_then_approve_finishes_the_run(self):
        run = self.waiting()
        s = steps_of(run)
        self.assertEqual(s["announce"]["state"], "succeeded")
        self.assertEqual(s["isolate"]["state"], "waiting_approval")
        self.assertIsNone(s["isolate"]["result"])  # not called
        self.assertEqual(s["isolate"]["attempts"], 0)
        self.assertNotIn("report", s)
        # Still waiting a moment later.
        time.sleep(0.2)
        self.assertEqual(self.ird.run(run["id"])["state"], "waiting_approval")
        code, out, err = self.ird.cli("approve", run["id"], token=RESPONDER_TOKEN)
        self.assertEqual(code, 0, err)
        self.assertIn("approved", out)
        run = self.ird.wait_run(run["id"])
        self.assertEqual(run["state"], "succeeded", run)
        s = steps_of(run)
        self.assertEqual(s["isolate"]["state"], "succeeded")
        self.assertEqual(s["isolate"]["approved_by"], "api:responder")
        self.assertIsNone(s["isolate"]["forced_by"])
        self.assertEqual(s["report"]["result"]["message"], "isolated")
        # Nothing to approve any more.
        code, out, err = self.ird.cli("approve", run["id"], token=RESPONDER_TOKEN)
        self.assertEqual(code, 1)
        self.assertRegex(err, r"\b4\d\d\b")
        self.assertIn(run["id"], err)

    def test_viewer_cannot_approve(self):
        run = self.waiting()
        code, out, err = self.ird.cli("approve", run["id"], token=VIEWER_TOKEN)
        self.assertEqual(code, 1)
        self.assertIn("403", err)
        self.assertEqual(self.ird.run(run["id"])["state"], "waiting_approval")
        self.assertEqual(self.ird.cli("cancel", run["id"], token=RESPONDER_TOKEN)[0], 0)

    def test_approve_the_wrong_step(self):
        run = self.waiting()
        code, out, err = self.ird.cli("approve", run["id"], "report", token=RESPONDER_TOKEN)
        self.assertEqual(code, 1)
        self.assertRegex(err, r"\b4\d\d\b")
        self.assertIn("waits on step isolate, not report", err)
        self.assertEqual(self.ird.run(run["id"])["state"], "waiting_approval")
        # Naming the right step works.
        code, out, err = self.ird.cli("approve", run["id"], "isolate", token=RESPONDER_TOKEN)
        self.assertEqual(code, 0, err)
        self.assertEqual(self.ird.wait_run(run["id"])["state"], "succeeded")

    def test_cancel_a_waiting_run(self):
        run = self.waiting()
        code, out, err = self.ird.cli("cancel", run["id"], token=RESPONDER_TOKEN)
        self.assertEqual(code, 0, err)
        run = self.ird.wait_run(run["id"])
        self.assertEqual(run["state"], "cancelled")
        s = steps_of(run)
        self.assertIsNone(s["isolate"]["result"])
        self.assertNotIn("report", s)

    def test_approval_timeout_aborts(self):
        inc = self.ird.alert("approve-timeout")
        (summary,) = self.ird.wait_runs(inc, 1)
        run = self.ird.wait_run(summary["id"], timeout=5)
        self.assertEqual(run["state"], "failed", run)
        self.assertIn("no approval within", run["error"])
        step = steps_of(run)["isolate"]
        self.assertEqual(step["state"], "failed")
        self.assertIsNone(step["result"])
        # The message names the timeout the playbook set (300ms), not "0s".
        self.assertNotIn("within 0s", run["error"])


# ------------------------------------------------------------------------------
class GuardsTest(EngineTestCase):
    """Protected namespaces and blast radius: blocked, then forced by an admin."""

    PLAYBOOKS = "guards"

    def test_protected_namespace_blocks_until_an_admin_forces(self):
        inc = self.ird.alert("protected", ns="kube-system", pod="coredns-1")
        (summary,) = self.ird.wait_runs(inc, 1)
        run = self.ird.wait_state(summary["id"], "blocked")
        step = steps_of(run)["isolate"]
        self.assertEqual(step["state"], "blocked")
        self.assertTrue(step["error"].startswith("guard protected_namespace: "), step["error"])
        self.assertIn("kube-system", step["error"])
        self.assertIsNone(step["result"])
        # A responder can neither approve it nor force it.
        code, out, err = self.ird.cli("approve", run["id"], token=RESPONDER_TOKEN)
        self.assertEqual(code, 1)
        self.assertRegex(err, r"\b4\d\d\b")
        self.assertIn("only an admin can override", err)
        code, out, err = self.ird.cli("approve", run["id"], "--force", token=RESPONDER_TOKEN)
        self.assertEqual(code, 1)
        self.assertIn("403", err)
        self.assertIn("needs the admin role", err)
        self.assertEqual(self.ird.run(run["id"])["state"], "blocked")
        # An admin can.
        code, out, err = self.ird.cli("approve", run["id"], "--force", token=ADMIN_TOKEN)
        self.assertEqual(code, 0, err)
        run = self.ird.wait_run(run["id"])
        self.assertEqual(run["state"], "succeeded", run)
        step = steps_of(run)["isolate"]
        self.assertEqual(step["state"], "succeeded")
        self.assertEqual(step["forced_by"], "api:admin")
        self.assertIsNotNone(step["result"])
        forced = [r for r in self.ird.audit()
                  if r["kind"] == "override.forced" and r["subject"] == run["id"]]
        self.assertEqual(len(forced), 1)
        self.assertEqual(forced[0]["actor"], "api:admin")
        self.assertEqual(forced[0]["detail"]["step"], "isolate")

    def test_unprotected_namespace_runs(self):
        inc = self.ird.alert("protected", ns="apps", pod="web-3")
        (summary,) = self.ird.wait_runs(inc, 1)
        run = self.ird.wait_run(summary["id"])
        self.assertEqual(run["state"], "succeeded", run)

    def test_max_targets_per_incident(self):
        inc = self.ird.alert("spread")
        (summary,) = self.ird.wait_runs(inc, 1)
        run = self.ird.wait_run(summary["id"], lambda r: r["state"] != "running", what="stopped")
        s = steps_of(run)
        self.assertEqual(s["first"]["state"], "succeeded")
        self.assertEqual(s["again"]["state"], "succeeded")  # the same pod counts once
        self.assertIn("guard max_targets_per_incident", s["second"]["error"] or "", s["second"])
        # A refused step is blocked (engine.h: "blocked (a guard refused a
        # step: waits for an admin's forced approval or a cancel)").
        self.assertEqual(s["second"]["state"], "blocked", s["second"])
        self.assertEqual(run["state"], "blocked", run)


class RateGuardTest(EngineTestCase):
    PLAYBOOKS = "rate"
    EXTRA = "guards = { max_mutations_per_minute = 2; };\n"

    def test_third_mutation_in_a_minute_is_refused(self):
        run = self.ird.wait_run(self.ird.started("rate"),
                                lambda r: r["state"] != "running", what="stopped")
        s = steps_of(run)
        self.assertEqual(s["one"]["state"], "succeeded")
        self.assertEqual(s["two"]["state"], "succeeded")
        self.assertIn("guard max_mutations_per_minute", s["three"]["error"] or "", s["three"])
        self.assertIn("(limit 2)", s["three"]["error"])
        self.assertEqual(s["three"]["state"], "blocked", s["three"])
        self.assertEqual(run["state"], "blocked", run)


# ------------------------------------------------------------------------------
class DryRunDaemonTest(EngineTestCase):
    """A daemon with the default dry_run = true."""

    PLAYBOOKS = "dryrun"
    DRY_RUN = None

    def test_mutations_are_planned(self):
        inc = self.ird.alert("contain", pod="miner-1")
        (summary,) = self.ird.wait_runs(inc, 1)
        self.assertTrue(summary["dry_run"])
        run = self.ird.wait_run(summary["id"])
        self.assertEqual(run["state"], "succeeded", run)
        self.assertTrue(run["dry_run"])
        s = steps_of(run)
        self.assertIsNone(s["look"]["planned"])
        self.assertEqual(s["look"]["result"]["message"], "looking at miner-1")
        (plan,) = s["isolate"]["planned"]
        self.assertEqual((plan["method"], plan["path"]), ("POST", "/test/succeed"))
        self.assertEqual(plan["body"]["message"], "isolate miner-1")
        self.assertTrue(s["isolate"]["result"]["planned"])
        code, out, err = self.ird.cli("run", run["id"])
        self.assertEqual(code, 0, err)
        self.assertIn("DRY-RUN", out)
        self.assertIn("planned: POST /test/succeed", out)
        code, out, err = self.ird.cli("runs", "--incident", inc)
        self.assertEqual(code, 0, err)
        self.assertRegex(out.splitlines()[1], r"\byes\b")
        # The audit trail records the plan, and stays intact.
        kinds = [r["kind"] for r in self.ird.audit() if r["subject"] == run["id"]]
        self.assertIn("run.started", kinds)
        self.assertIn("call.planned", kinds)
        self.assertEqual(kinds[-1], "run.finished")
        code, out, err = run_ird("audit", "verify", "-c", self.ird.config)
        self.assertEqual(code, 0, out + err)
        self.assertIn("audit trail intact", out)


# ------------------------------------------------------------------------------
class ShutdownRaceTest(IrdTestCase):
    """SIGTERM while a run is being parked or approved: the daemon still exits
    cleanly (no sanitizer report) and the run waits in the store."""

    def test_sigterm_right_after_a_run_parks(self):
        for _ in range(4):
            ird = EngineIrd("approve")
            try:
                ird.start()
                inc = ird.alert("approve")
                ird.signal(signal.SIGTERM)
                self.assertCleanExit(ird, ird.wait_exit())
                ird.proc = None
                ird.start()  # the same state: the run is there, waiting
                run = ird.wait_state(ird.wait_runs(inc, 1)[0]["id"], "waiting_approval")
                self.assertEqual(steps_of(run)["isolate"]["state"], "waiting_approval")
                status, _, _ = ird.request("POST", "/v1/runs/%s/approve" % run["id"], body={},
                                           headers={"Authorization": "Bearer " + RESPONDER_TOKEN},
                                           listener="api")
                self.assertEqual(status, 202)
                ird.signal(signal.SIGTERM)  # right after the approval
                self.assertCleanExit(ird, ird.wait_exit())
            finally:
                ird.kill()
                ird.tmp.cleanup()


class RestartTest(IrdTestCase):
    """kill -9 in the middle of a run; the next start finishes it."""

    def test_run_resumes_after_kill_9(self):
        first = EngineIrd("manual").start()
        second = None
        try:
            run_id = first.started("restart")
            before = first.wait_run(
                run_id, lambda r: steps_of(r).get("long", {}).get("state") == "running",
                what="in its long step")
            first.kill()
            done_before = steps_of(before)["before"]
            self.assertEqual(done_before["state"], "succeeded")
            second = EngineIrd("manual", state=first.state).start()
            second.wait_log(lambda l: l.get("msg") == "run resumed" and l.get("run") == run_id)
            run = second.wait_run(run_id, timeout=10)
            self.assertEqual(run["state"], "succeeded", run)
            s = steps_of(run)
            # Step 1 was not repeated; step 2 was issued again; step 3 ran.
            self.assertEqual(s["before"]["attempts"], 1)
            self.assertEqual(s["before"]["started_at"], done_before["started_at"])
            self.assertEqual(s["before"]["finished_at"], done_before["finished_at"])
            self.assertEqual(s["before"]["result"], done_before["result"])
            self.assertEqual(s["long"]["attempts"], 2)
            self.assertEqual(s["long"]["state"], "succeeded")
            self.assertEqual(s["after"]["state"], "succeeded")
            # The test connector's counters start again in the new process:
            # a repeated "before" would have been the first test.succeed call.
            self.assertEqual(s["after"]["result"]["calls"], 1)
            self.assertCleanExit(second, second.stop())
        finally:
            first.kill()
            first.tmp.cleanup()
            if second:
                second.kill()
                second.tmp.cleanup()


if __name__ == "__main__":
    unittest.main()
