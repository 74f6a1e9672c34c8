"""The operator API and its CLI as an on-call engineer uses them: tokens and
roles, listing incidents newest first with filters and cursors, one incident
with its alerts and timeline, and `ird incidents` / `ird incident`."""

import json
import unittest

from irdtest import (ADMIN_TOKEN, VIEWER_TOKEN, Ird, IrdTestCase, free_port, list_incidents,
                     run_ird, stop_shared)

CONFIG = """
sources = {
  am = { type = "alertmanager"; auth = "none"; };
  falco = { type = "falco"; auth = "none"; };
};
"""


def am_alert(fp, status="firing", severity="critical", namespace="shop", pod="web-1",
             alertname="PodCompromised"):
    return {"status": status,
            "labels": {"alertname": alertname, "severity": severity, "namespace": namespace,
                       "pod": pod},
            "annotations": {"summary": "%s on %s/%s" % (alertname, namespace, pod)},
            "startsAt": "2026-12-01T07:35:53Z", "endsAt": "0001-01-01T00:00:00Z",
            "fingerprint": fp}


def falco_event(rule, pod, priority="Warning", namespace="batch"):
    return {"output": "%s (pod=%s)" % (rule, pod), "priority": priority, "rule": rule,
            "time": "2026-12-01T07:35:53.5Z", "source": "syscall", "tags": ["t"],
            "hostname": "node-1",
            "output_fields": {"k8s.ns.name": namespace, "k8s.pod.name": pod,
                              "container.name": "c"}}


class ApiTest(IrdTestCase):
    """One daemon holding a known set of incidents, read many ways."""

    @classmethod
    def setUpClass(cls):
        cls.ird = Ird(CONFIG).start()
        cls.url = "http://" + cls.ird.api
        # Seven incidents, opened one request at a time so that their order is known:
        # id -> (source, state, severity, namespace)
        cls.created = []
        plan = [("am", am_alert("p1", severity="critical", namespace="shop")),
                ("am", am_alert("p2", severity="warning", namespace="shop")),
                ("falco", falco_event("Terminal shell in container", "etl-1")),
                ("am", am_alert("p3", severity="critical", namespace="payments")),
                ("falco", falco_event("Write below etc", "etl-2", priority="Critical")),
                ("am", am_alert("p4", severity="info", namespace="shop")),
                ("am", am_alert("p5", severity="error", namespace="payments"))]
        for source, body in plan:
            if source == "am":
                body = {"version": "4", "status": "firing", "alerts": [body]}
            status, _, out = cls.ird.request("POST", "/v1/alerts/" + source, body=body)
            assert status == 202, out
            cls.created.append(json.loads(out)["incidents"][0])
        # p2 resolves.
        body = {"version": "4", "status": "resolved",
                "alerts": [am_alert("p2", status="resolved", severity="warning")]}
        status, _, out = cls.ird.request("POST", "/v1/alerts/am", body=body)
        assert status == 202, out

    @classmethod
    def tearDownClass(cls):
        stop_shared(cls.ird)

    def ids(self, query, token=ADMIN_TOKEN):
        status, page = self.ird.api_get("/v1/incidents?" + query, token=token)
        self.assertEqual(status, 200, page)
        return [i["id"] for i in page["incidents"]]

    # -- tokens and roles -----------------------------------------------------
    def test_no_token_401_with_www_authenticate(self):
        status, headers, body = self.ird.request("GET", "/v1/incidents", listener="api")
        self.assertEqual(status, 401)
        self.assertEqual(headers["www-authenticate"], 'Bearer realm="ird"')
        self.assertEqual(json.loads(body)["error"], "unauthorized")
        status, headers, _ = self.ird.request("GET", "/v1/incidents/" + self.created[0],
                                              listener="api")
        self.assertEqual(status, 401)
        self.assertIn("www-authenticate", headers)

    def test_wrong_token_401(self):
        for auth in ("Bearer not-a-token-at-all", "Bearer " + ADMIN_TOKEN + "x",
                     "Basic " + ADMIN_TOKEN, "Bearer "):
            status, headers, body = self.ird.request("GET", "/v1/incidents", listener="api",
                                                     headers={"Authorization": auth})
            self.assertEqual(status, 401, auth)
            self.assertEqual(json.loads(body)["detail"],
                             "send Authorization: Bearer <token> with a token from api.tokens")

    def test_viewer_reads_lists_and_incidents(self):
        self.assertEqual(len(self.ids("limit=500", token=VIEWER_TOKEN)), 7)
        status, inc = self.ird.api_get("/v1/incidents/" + self.created[0], token=VIEWER_TOKEN)
        self.assertEqual(status, 200)
        self.assertEqual(inc["id"], self.created[0])

    def test_operator_api_is_not_on_the_webhooks_listener(self):
        status, _, _ = self.ird.request("GET", "/v1/incidents",
                                        headers={"Authorization": "Bearer " + ADMIN_TOKEN})
        self.assertEqual(status, 404)

    # -- listing --------------------------------------------------------------
    def test_newest_first(self):
        self.assertEqual(self.ids(""), list(reversed(self.created)))

    def test_pagination_follows_cursors(self):
        seen, pages, cursor = [], [], None
        while True:
            q = "/v1/incidents?limit=3" + ("&cursor=" + cursor if cursor else "")
            status, page = self.ird.api_get(q)
            self.assertEqual(status, 200, page)
            pages.append(len(page["incidents"]))
            seen.extend(i["id"] for i in page["incidents"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
            self.assertIsInstance(cursor, str)
            self.assertLess(len(pages), 10, "the cursor chain does not end")
        self.assertEqual(pages, [3, 3, 1])
        self.assertEqual(seen, list(reversed(self.created)))
        # Exactly one page: no cursor.
        status, page = self.ird.api_get("/v1/incidents?limit=7")
        self.assertEqual((len(page["incidents"]), page["next_cursor"]), (7, None))

    def test_filters(self):
        c = self.created
        self.assertEqual(self.ids("state=resolved"), [c[1]])
        self.assertEqual(self.ids("state=triggered"), [c[6], c[5], c[4], c[3], c[2], c[0]])
        self.assertEqual(self.ids("state=open"), [c[6], c[5], c[4], c[3], c[2], c[0]])
        self.assertEqual(self.ids("state=acknowledged"), [])
        self.assertEqual(self.ids("source=falco"), [c[4], c[2]])
        self.assertEqual(self.ids("namespace=payments"), [c[6], c[3]])
        self.assertEqual(self.ids("severity=critical"), [c[4], c[3], c[0]])
        self.assertEqual(self.ids("source=am&namespace=shop&state=open"), [c[5], c[0]])
        self.assertEqual(self.ids("source=nosuch"), [])
        # Filters and cursors together.
        status, page = self.ird.api_get("/v1/incidents?source=am&limit=2")
        self.assertEqual([i["id"] for i in page["incidents"]], [c[6], c[5]])
        status, page = self.ird.api_get("/v1/incidents?source=am&limit=2&cursor=" +
                                        page["next_cursor"])
        self.assertEqual([i["id"] for i in page["incidents"]], [c[3], c[1]])

    def test_list_fields(self):
        status, page = self.ird.api_get("/v1/incidents?limit=500")
        by_id = {i["id"]: i for i in page["incidents"]}
        first = by_id[self.created[0]]
        self.assertEqual({k: first[k] for k in ("state", "severity", "source", "namespace", "pod",
                                                "title", "alert_count", "resolved_at")},
                         {"state": "triggered", "severity": "critical", "source": "am",
                          "namespace": "shop", "pod": "web-1",
                          "title": "PodCompromised on shop/web-1", "alert_count": 1,
                          "resolved_at": None})
        self.assertRegex(first["opened_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        falco = by_id[self.created[4]]
        self.assertEqual((falco["severity"], falco["namespace"], falco["pod"]),
                         ("critical", "batch", "etl-2"))
        resolved = by_id[self.created[1]]
        self.assertEqual((resolved["state"], resolved["resolved_by"]), ("resolved", "am"))
        self.assertIsNotNone(resolved["resolved_at"])

    def test_bad_filter_values_400(self):
        cases = {"state=closed": "state must be triggered, acknowledged, resolved or open",
                 "severity=high": "severity must be critical, error, warning or info",
                 "limit=0": "limit must be 1 to 500",
                 "limit=501": "limit must be 1 to 500",
                 "limit=ten": "limit must be 1 to 500",
                 "cursor=abc": "cursor must be a next_cursor value from a previous page",
                 "cursor=-5": "cursor must be a next_cursor value from a previous page"}
        for query, detail in cases.items():
            status, body = self.ird.api_get("/v1/incidents?" + query)
            self.assertEqual((status, body), (400, {"error": "bad request", "detail": detail}),
                             query)

    # -- one incident ---------------------------------------------------------
    def test_one_incident_with_alerts_and_timeline(self):
        status, inc = self.ird.api_get("/v1/incidents/" + self.created[1])
        self.assertEqual(status, 200)
        self.assertEqual((inc["id"], inc["state"], inc["severity"]),
                         (self.created[1], "resolved", "warning"))
        self.assertEqual(len(inc["alerts"]), 1)
        a = inc["alerts"][0]
        self.assertEqual((a["dedup_key"], a["status"], a["received"]), ("p2", "resolved", 2))
        self.assertEqual(a["alert"]["labels"]["alertname"], "PodCompromised")
        self.assertEqual(a["alert"]["raw"]["fingerprint"], "p2")
        self.assertEqual([e["kind"] for e in inc["timeline"]],
                         ["incident.opened", "alert.firing", "alert.resolved", "incident.resolved"])
        for e in inc["timeline"]:
            self.assertRegex(e["at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

    def test_unknown_incident_404(self):
        for path in ("/v1/incidents/inc-19700101-999", "/v1/incidents/%27%20OR%201=1--"):
            status, body = self.ird.api_get(path)
            self.assertEqual((status, body), (404, {"error": "not found",
                                                    "detail": "no incident with that id"}))

    # -- the CLI --------------------------------------------------------------
    def cli(self, *args, env=None):
        return run_ird(*args, env=env)

    def test_cli_incidents_table(self):
        code, out, err = self.cli("incidents", "--url", self.url, "--token", VIEWER_TOKEN)
        self.assertEqual((code, err), (0, ""))
        lines = out.splitlines()
        self.assertEqual(lines[0].split(), ["ID", "STATE", "SEVERITY", "SOURCE", "NAMESPACE/POD",
                                            "TITLE"])
        rows = [l.split(None, 5) for l in lines[1:]]
        self.assertEqual([r[0] for r in rows], list(reversed(self.created)))
        by_id = {r[0]: r for r in rows}
        self.assertEqual(by_id[self.created[0]][1:],
                         ["triggered", "critical", "am", "shop/web-1", "PodCompromised on shop/web-1"])
        self.assertEqual(by_id[self.created[1]][1], "resolved")
        self.assertEqual(by_id[self.created[4]][1:5], ["triggered", "critical", "falco", "batch/etl-2"])

    def test_cli_incidents_filters_and_env(self):
        env = {"IRD_URL": self.url, "IRD_TOKEN": ADMIN_TOKEN}
        code, out, err = self.cli("incidents", "--source", "falco", "--state", "open", env=env)
        self.assertEqual(code, 0, err)
        self.assertEqual([l.split()[0] for l in out.splitlines()[1:]],
                         [self.created[4], self.created[2]])
        code, out, _ = self.cli("incidents", "--namespace", "payments", "--severity", "error",
                                "-o", "json", env=env)
        self.assertEqual(code, 0)
        self.assertEqual([i["id"] for i in json.loads(out)["incidents"]], [self.created[6]])

    def test_cli_incidents_json_is_the_api_answer(self):
        code, out, err = self.cli("incidents", "-o", "json", "--url", self.url, "--token", ADMIN_TOKEN)
        self.assertEqual((code, err), (0, ""))
        status, page = self.ird.api_get("/v1/incidents")
        self.assertEqual(json.loads(out), page)

    def test_cli_incidents_limit_says_there_is_more(self):
        code, out, _ = self.cli("incidents", "--limit", "2", "--url", self.url, "--token", ADMIN_TOKEN)
        self.assertEqual(code, 0)
        lines = out.splitlines()
        self.assertEqual([l.split()[0] for l in lines[1:3]], [self.created[6], self.created[5]])
        self.assertTrue(lines[3].startswith("(more incidents:"), out)

    def test_cli_incident_table_and_json(self):
        inc_id = self.created[1]
        code, out, err = self.cli("incident", "--url", self.url, "--token", ADMIN_TOKEN, inc_id)
        self.assertEqual((code, err), (0, ""))
        fields = dict(l.split(None, 1) for l in out.splitlines()[:8])
        self.assertEqual({k: fields[k] for k in ("incident", "state", "severity", "source", "target",
                                                 "title")},
                         {"incident": inc_id, "state": "resolved", "severity": "warning",
                          "source": "am", "target": "shop/web-1",
                          "title": "PodCompromised on shop/web-1"})
        alerts = out.split("\nalerts:\n")[1].split("\ntimeline:\n")
        self.assertEqual(alerts[0].split()[:4], ["resolved", "warning", "received", "2"])
        self.assertTrue(alerts[0].rstrip().endswith("p2"))
        self.assertEqual([l.split()[1] for l in alerts[1].splitlines()],
                         ["incident.opened", "alert.firing", "alert.resolved", "incident.resolved"])
        code, out, _ = self.cli("incident", "-o", "json", "--url", self.url, "--token", ADMIN_TOKEN,
                                inc_id)
        self.assertEqual(code, 0)
        self.assertEqual(json.loads(out), self.ird.api_get("/v1/incidents/" + inc_id)[1])

    def test_cli_incident_id_first_as_the_usage_shows(self):
        # usage: ird incident ID [-o table|json] [--url URL] [--token TOKEN]
        code, out, err = self.cli("incident", self.created[0], "-o", "json", "--url", self.url,
                                  "--token", ADMIN_TOKEN)
        self.assertEqual(code, 0, err)
        self.assertEqual(json.loads(out)["id"], self.created[0])

    def test_cli_url_with_a_trailing_slash(self):
        # A URL pasted with its trailing slash names the same daemon.
        code, out, err = self.cli("incidents", "-o", "json", "--url", self.url + "/", "--token",
                                  ADMIN_TOKEN)
        self.assertEqual(code, 0, err)
        self.assertEqual(len(json.loads(out)["incidents"]), 7)

    def test_cli_unknown_incident_exit_1(self):
        code, out, err = self.cli("incident", "--url", self.url, "--token", ADMIN_TOKEN, "inc-nope")
        self.assertEqual((code, out), (1, ""))
        self.assertEqual(err, "ird: 404 not found: no incident with that id\n")

    def test_cli_wrong_or_missing_token_exit_1(self):
        for extra in (["--token", "wrong-token"], []):
            code, out, err = self.cli("incidents", "--url", self.url, *extra,
                                      env={"IRD_TOKEN": ""})
            self.assertEqual((code, out), (1, ""), extra)
            self.assertIn("ird: 401 unauthorized", err)
            self.assertIn("pass a token from api.tokens with --token or IRD_TOKEN", err)
            self.assertNotIn("wrong-token", err)

    def test_cli_daemon_not_reachable_exit_1(self):
        url = "http://127.0.0.1:%d" % free_port()
        for args in (["incidents"], ["incident", "inc-1"]):
            code, out, err = self.cli(args[0], "--url", url, "--token", ADMIN_TOKEN, *args[1:])
            self.assertEqual((code, out), (1, ""))
            self.assertIn("ird: cannot reach the daemon at " + url, err)
            self.assertIn("point --url / IRD_URL at its api listener", err)

    def test_cli_bad_options_exit_2(self):
        cases = [(["incidents", "--bogus"], "ird: unknown option --bogus"),
                 (["incidents", "-o", "yaml"], "ird: -o takes table or json, not 'yaml'"),
                 (["incidents", "stray"], "ird: unexpected argument 'stray'"),
                 (["incident"], "ird: give exactly one incident ID"),
                 (["incident", "a", "b"], "ird: give exactly one incident ID")]
        for args, first in cases:
            code, out, err = self.cli(*args, env={"IRD_URL": self.url})
            self.assertEqual((code, out), (2, ""), args)
            self.assertEqual(err.splitlines()[0], first, args)
            self.assertIn("usage: ird " + args[0], err)

    def test_cli_help_exit_0(self):
        code, out, err = self.cli("incidents", "--help")
        self.assertEqual((code, err), (0, ""))
        self.assertTrue(out.startswith("usage: ird incidents"))


class PaginationWhileIncidentsArriveTest(IrdTestCase):
    def test_new_incidents_do_not_shift_the_pages(self):
        with Ird(CONFIG) as ird:
            def post(fp):
                status, _, out = ird.request("POST", "/v1/alerts/am",
                                             body={"version": "4", "alerts": [am_alert(fp)]})
                self.assertEqual(status, 202, out)
                return json.loads(out)["incidents"][0]
            old = [post("old%d" % i) for i in range(5)]
            status, page = ird.api_get("/v1/incidents?limit=2")
            seen = [i["id"] for i in page["incidents"]]
            cursor = page["next_cursor"]
            new = [post("new%d" % i) for i in range(3)]
            while cursor:
                status, page = ird.api_get("/v1/incidents?limit=2&cursor=" + cursor)
                self.assertEqual(status, 200)
                seen.extend(i["id"] for i in page["incidents"])
                cursor = page["next_cursor"]
            # The walk that began before the new ones: the old five, once each.
            self.assertEqual(seen, list(reversed(old)))
            # A fresh walk starts with the newest.
            self.assertEqual([i["id"] for i in list_incidents(ird)], list(reversed(old + new)))
            self.assertCleanExit(ird, ird.stop())


if __name__ == "__main__":
    unittest.main()
