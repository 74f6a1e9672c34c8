"""Alert intake as a sender and an operator see it: every source type posted
end to end and read back through the API, dedup and resolution, refusals of
bad input with nothing stored, authentication for every scheme, the intake
metrics, overload, and `ird check` on good and broken configurations."""

import base64
import hashlib
import hmac
import json
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
import unittest

from irdtest import (FIXTURES, IRD, SOURCE_DIR, Ird, IrdTestCase, list_incidents,
                     metric_value, read_response, run_ird, stop_shared)

INTAKE = os.path.join(FIXTURES, "intake")


def fixture(name):
    with open(os.path.join(INTAKE, name), "rb") as f:
        return f.read()


def am_alert(fp, status="firing", alertname="PodCompromised", severity="critical",
             namespace="shop", pod="web-1", summary=None):
    """One Alertmanager webhook v4 alert element."""
    return {"status": status,
            "labels": {"alertname": alertname, "severity": severity, "namespace": namespace,
                       "pod": pod},
            "annotations": {"summary": summary or "%s in %s/%s" % (alertname, namespace, pod)},
            "startsAt": "2026-12-01T07:35:53Z",
            "endsAt": "2026-12-01T08:00:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph", "fingerprint": fp}


def am_body(*alerts):
    """A whole Alertmanager webhook v4 message."""
    return {"version": "4", "receiver": "ird", "status": alerts[0]["status"],
            "alerts": list(alerts), "groupLabels": {}, "commonLabels": {},
            "commonAnnotations": {}, "externalURL": "http://am:9093", "groupKey": "{}:{}",
            "truncatedAlerts": 0}


class Poster:
    """Mixin: post to a source of cls.ird and read incidents back."""

    def post(self, source, body, ctype="application/json", headers=None, query=""):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        h = {"Content-Type": ctype} if ctype else {}
        h.update(headers or {})
        status, hdrs, data = self.ird.request("POST", "/v1/alerts/" + source + query, body=body,
                                              headers=h)
        try:
            parsed = json.loads(data) if data else None
        except ValueError:
            parsed = data
        return status, hdrs, parsed

    def accepted(self, source, body, **kw):
        """Post and insist on 202; the answer's JSON."""
        status, _, out = self.post(source, body, **kw)
        self.assertEqual(status, 202, out)
        return out

    def incident(self, inc_id):
        status, inc = self.ird.api_get("/v1/incidents/" + inc_id)
        self.assertEqual(status, 200, inc)
        return inc

    def assertFields(self, obj, **want):
        self.assertEqual({k: obj.get(k) for k in want}, want)


# --------------------------------------------------------------------------------
SOURCES = """
sources = {
  am = { type = "alertmanager"; auth = { type = "bearer"; tokens = [ "am-token-0123456789" ]; }; };
  falco = { type = "falco"; auth = "none"; };
  splunk = { type = "splunk"; auth = "none";
             fields = { severity = "urgency"; namespace = "k8s_namespace"; pod = "pod";
                        container = "container"; node = "host"; title = "title"; }; };
  elastic = { type = "elastic"; auth = "none"; };
  wazuh = { type = "wazuh"; auth = "none"; };
  ce = { type = "cloudevents"; auth = "none"; };
  cebatch = { type = "cloudevents"; auth = "none"; };
  cebin = { type = "cloudevents"; auth = "none"; };
  custom = { type = "json"; auth = "none";
             map = { id = "event.id"; title = "rule.name"; severity = "rule.severity";
                     namespace = "k8s.ns"; pod = "k8s.pod"; status = "state"; labels = "tags";
                     container = "output_fields[k8s.container.name]"; node = "alerts.0.host";
                     starts_at = "created"; }; };
  list = { type = "json"; auth = "none"; map = { title = "title"; severity = "sev"; };
           defaults = { severity = "info"; namespace = "default"; }; };
};
"""


class SourceTypesTest(IrdTestCase, Poster):
    """Each wire format, from its real-looking body to the stored incident."""

    @classmethod
    def setUpClass(cls):
        cls.ird = Ird(SOURCES).start()

    @classmethod
    def tearDownClass(cls):
        stop_shared(cls.ird)

    def test_alertmanager_webhook_v4(self):
        body = fixture("alertmanager-v4.json")
        before = metric_value(self.ird, "ird_alerts_truncated_total", 'source="am"')
        out = self.accepted("am", body, headers={"Authorization": "Bearer am-token-0123456789"})
        self.assertEqual((out["accepted"], out["duplicates"], len(out["incidents"])), (2, 0, 2))
        miner = self.incident(out["incidents"][0])
        self.assertFields(miner, state="triggered", severity="critical", source="am",
                          title="Crypto miner in shop/web & friends", namespace="shop",
                          pod="web-7d4b9c", alert_count=1)
        self.assertEqual(len(miner["alerts"]), 1)
        stored = miner["alerts"][0]
        self.assertFields(stored, source="am", dedup_key="a1b2c3d4e5f60718", status="firing",
                          severity="critical", received=1)
        alert = stored["alert"]
        self.assertFields(alert, id="a1b2c3d4e5f60718", status="firing", container="miner",
                          node="node-1", starts_at="2026-12-01T07:35:53.250Z", ends_at="")
        self.assertEqual(alert["labels"]["alertname"], "CryptoMiningDetected")
        self.assertEqual(alert["annotations"]["description"], "CPU > 90% & outbound to stratum+tcp")
        self.assertEqual(alert["raw"], json.loads(body)["alerts"][0])
        # The second element arrived resolved: kept, as a resolved incident.
        crash = self.incident(out["incidents"][1])
        self.assertFields(crash, state="resolved", severity="warning", title="KubePodCrashLooping",
                          namespace="shop", pod="cart-5f6d", resolved_by="am")
        self.assertEqual(crash["alerts"][0]["alert"]["ends_at"], "2026-12-01T07:30:00.000Z")
        # truncatedAlerts: 2 alerts Alertmanager left out are counted.
        self.assertEqual(metric_value(self.ird, "ird_alerts_truncated_total", 'source="am"'),
                         before + 2)

    def test_falco_http_output(self):
        body = fixture("falco-http-output.json")
        out = self.accepted("falco", body)
        inc = self.incident(out["incidents"][0])
        self.assertFields(inc, state="triggered", severity="critical", source="falco",
                          title="Detect crypto miners using the Stratum protocol",
                          namespace="shop", pod="web-7d4b9c")
        alert = inc["alerts"][0]["alert"]
        # No uuid in plain http_output: the id is the documented hash.
        self.assertRegex(alert["id"], r"^[0-9a-f]{64}$")
        self.assertFields(alert, container="miner", node="node-2",
                          starts_at="2026-12-01T07:35:53.123Z")
        self.assertEqual(alert["labels"], {"rule": "Detect crypto miners using the Stratum protocol",
                                           "priority": "Critical", "source": "syscall",
                                           "tags": "T1496,container,mitre_impact"})
        self.assertTrue(alert["annotations"]["output"].startswith("07:35:53.123456789: Critical"))
        # Falco's nanosecond evt.time survives with every digit.
        self.assertEqual(alert["raw"]["output_fields"]["evt.time"], "1796110553123456789")
        self.assertEqual(alert["raw"]["rule"], "Detect crypto miners using the Stratum protocol")

    def test_falco_repeat_on_same_pod_is_one_incident(self):
        body = json.loads(fixture("falco-http-output.json"))
        body["output_fields"]["k8s.pod.name"] = "repeat-pod"
        first = self.accepted("falco", body)
        body["time"] = "2026-12-01T07:40:00Z"
        body["output"] = "a later hit of the same rule"
        again = self.accepted("falco", body)
        self.assertEqual(again["incidents"], first["incidents"])
        self.assertEqual(again["duplicates"], 1)
        self.assertEqual(self.incident(first["incidents"][0])["alerts"][0]["received"], 2)

    def test_falcosidekick(self):
        out = self.accepted("falco", fixture("falcosidekick.json"))
        inc = self.incident(out["incidents"][0])
        self.assertFields(inc, severity="info", title="Unexpected outbound connection destination",
                          namespace="shop", pod="api-1")
        alert = inc["alerts"][0]["alert"]
        self.assertFields(alert, id="3b9f7c1e-1d2a-4c8b-9e6f-0a1b2c3d4e5f", container="api",
                          node="node-3")
        self.assertEqual(inc["alerts"][0]["dedup_key"], "3b9f7c1e-1d2a-4c8b-9e6f-0a1b2c3d4e5f")
        self.assertEqual(alert["labels"]["tags"], "network")
        self.assertEqual(alert["raw"]["output_fields"]["fd.rip"], "203.0.113.9")

    def test_splunk_webhook(self):
        body = fixture("splunk.json")
        out = self.accepted("splunk", body)
        inc = self.incident(out["incidents"][0])
        self.assertFields(inc, severity="error", title="Brute force against ledger",
                          namespace="payments", pod="ledger-0")
        alert = inc["alerts"][0]["alert"]
        sid = "scheduler__admin__search__RMD5e461b39d_at_1796110500_42"
        # container is a list in the result: its first element.
        self.assertFields(alert, id=sid, container="app", node="node-4")
        self.assertEqual(alert["labels"]["count"], "17")
        self.assertEqual(alert["annotations"]["sid"], sid)
        self.assertEqual(alert["annotations"]["app"], "search")
        self.assertEqual(alert["raw"], json.loads(body))

    def test_elastic_kibana_template(self):
        out = self.accepted("elastic", fixture("elastic.json"))
        self.assertEqual((out["accepted"], len(out["incidents"])), (2, 2))
        active = self.incident(out["incidents"][0])
        self.assertFields(active, state="triggered", severity="critical",
                          title="Kubernetes Pod Created With HostNetwork", namespace="shop",
                          pod="web-7d4b9c")
        alert = active["alerts"][0]["alert"]
        self.assertFields(alert, id="c0ffee00-0000-4000-8000-000000000001", container="web",
                          node="node-8", starts_at="2026-12-01T07:35:53.000Z")
        self.assertEqual(alert["annotations"]["reason"], 'pod "web" created with hostNetwork')
        self.assertEqual(alert["labels"], {"rule": "Kubernetes Pod Created With HostNetwork",
                                           "rule_id": "5b3f-rule"})
        # "recovered" resolves; empty kubernetes.* fall back to orchestrator.* and host.name;
        # an empty severity falls back to the rule's ("high" -> error).
        recovered = self.incident(out["incidents"][1])
        self.assertFields(recovered, state="resolved", severity="error", namespace="batch",
                          pod="etl-42")
        self.assertEqual(recovered["alerts"][0]["alert"]["node"], "node-9")

    def test_wazuh(self):
        body = fixture("wazuh.json")
        out = self.accepted("wazuh", body)
        inc = self.incident(out["incidents"][0])
        self.assertFields(inc, severity="critical", title="Container escape attempt: nsenter",
                          namespace="batch", pod="etl-42")
        alert = inc["alerts"][0]["alert"]
        self.assertFields(alert, id="1796110553.884422", container="worker", node="node-5",
                          starts_at="2026-12-01T07:35:53.123Z")
        self.assertEqual(alert["labels"]["rule_groups"], "kubernetes,container_escape")
        self.assertEqual(alert["labels"]["rule_level"], "12")
        self.assertEqual(alert["annotations"]["full_log"], "nsenter -t 1 -m -u -i -n sh")
        self.assertEqual(alert["raw"], json.loads(body))

    def test_cloudevents_structured(self):
        body = fixture("cloudevents-structured.json")
        out = self.accepted("ce", body, ctype="application/cloudevents+json; charset=utf-8")
        inc = self.incident(out["incidents"][0])
        self.assertFields(inc, severity="critical", title="Critical CVE in running image",
                          namespace="shop", pod="web-7d4b9c")
        alert = inc["alerts"][0]["alert"]
        self.assertFields(alert, id="//scanner.example/clusters/prod/evt-0001",
                          starts_at="2026-12-01T07:35:53.000Z")
        self.assertEqual(alert["labels"]["team"], "secops")
        self.assertEqual(alert["labels"]["type"], "io.example.vuln.found")
        self.assertEqual(alert["annotations"], {"runbook": "https://runbooks.example/cve"})
        self.assertEqual(alert["raw"], json.loads(body))

    def test_cloudevents_batch(self):
        out = self.accepted("cebatch", fixture("cloudevents-batch.json"),
                            ctype="application/cloudevents-batch+json")
        self.assertEqual((out["accepted"], len(out["incidents"])), (2, 2))
        first, second = (self.incident(i) for i in out["incidents"])
        self.assertFields(first, state="triggered", severity="critical", namespace="shop",
                          pod="web-7d4b9c")
        # The second event: status extension "resolved", severity "low" -> info,
        # no subject so the title is data.title.
        self.assertFields(second, state="resolved", severity="info", title="CVE fixed",
                          namespace="shop", pod="")
        self.assertEqual(second["alerts"][0]["alert"]["id"],
                         "//scanner.example/clusters/prod/evt-0002")

    def test_cloudevents_binary(self):
        data = fixture("cloudevents-binary-data.json")
        headers = {"ce-specversion": "1.0", "ce-id": "bin-1", "ce-source": "//policy/engine",
                   "ce-type": "io.example.policy.violation", "ce-k8snamespace": "shop",
                   "ce-k8spod": "web%2D7d4b9c", "ce-severity": "high",
                   "ce-time": "2026-12-01T07:35:53Z"}
        out = self.accepted("cebin", data, headers=headers)
        inc = self.incident(out["incidents"][0])
        # Attributes are percent-decoded; title falls back to data.title.
        self.assertFields(inc, severity="error", title="Policy violation", namespace="shop",
                          pod="web-7d4b9c")
        alert = inc["alerts"][0]["alert"]
        self.assertEqual(alert["id"], "//policy/engine/bin-1")
        # raw is the structured form of the event, data included.
        self.assertEqual(alert["raw"]["specversion"], "1.0")
        self.assertEqual(alert["raw"]["type"], "io.example.policy.violation")
        self.assertEqual(alert["raw"]["data"], json.loads(data))
        # A binary event without its required ce-type is refused, naming it.
        del headers["ce-type"]
        headers["ce-id"] = "bin-2"
        status, _, err = self.post("cebin", data, headers=headers)
        self.assertEqual(status, 400)
        self.assertIn("ce-type", err["detail"])

    def test_json_with_a_map(self):
        body = fixture("json-custom.json")
        out = self.accepted("custom", body)
        inc = self.incident(out["incidents"][0])
        # state "closed" means resolved; "high" is error.
        self.assertFields(inc, state="resolved", severity="error", title="Reverse shell",
                          namespace="shop", pod="web-7d4b9c")
        alert = inc["alerts"][0]["alert"]
        self.assertFields(alert, id="EV-77", container="web", node="node-6",
                          starts_at="2026-12-01T07:35:53.000Z")
        self.assertEqual(alert["labels"], {"team": "secops", "env": "prod"})
        self.assertEqual(alert["raw"], json.loads(body))

    def test_json_array_and_defaults(self):
        out = self.accepted("list", fixture("json-list.json"))
        self.assertEqual(len(out["incidents"]), 2)
        a, b = (self.incident(i) for i in out["incidents"])
        self.assertFields(a, title="a", severity="critical", namespace="default")
        # "weird" is no severity: the source's default.
        self.assertFields(b, title="b", severity="info", namespace="default")
        # No id in the body: the hash, different for the two alerts.
        ids = {a["alerts"][0]["dedup_key"], b["alerts"][0]["dedup_key"]}
        self.assertEqual(len(ids), 2)


# --------------------------------------------------------------------------------
DEDUP = """
sources = {
  am = { type = "alertmanager"; auth = "none"; };
  hold = { type = "alertmanager"; auth = "none"; auto_resolve = false; };
};
"""


class DedupTest(IrdTestCase, Poster):
    """The same alert again, its resolution, and its return."""

    @classmethod
    def setUpClass(cls):
        cls.ird = Ird(DEDUP).start()

    @classmethod
    def tearDownClass(cls):
        stop_shared(cls.ird)

    def test_repeat_resolve_and_fire_again(self):
        firing = am_body(am_alert("dd01"))
        first = self.accepted("am", firing)
        self.assertEqual((first["accepted"], first["duplicates"]), (1, 0))
        again = self.accepted("am", firing)
        self.assertEqual((again["accepted"], again["duplicates"]), (0, 1))
        self.assertEqual(again["incidents"], first["incidents"])
        inc_id = first["incidents"][0]
        inc = self.incident(inc_id)
        self.assertEqual(inc["state"], "triggered")
        self.assertEqual(len(inc["alerts"]), 1)
        self.assertEqual(inc["alerts"][0]["received"], 2)
        self.assertEqual([e["kind"] for e in inc["timeline"]], ["incident.opened", "alert.firing"])
        self.assertEqual(len([i for i in list_incidents(self.ird, "source=am")
                              if i["id"] == inc_id]), 1)

        done = self.accepted("am", am_body(am_alert("dd01", status="resolved")))
        self.assertEqual((done["accepted"], done["duplicates"], done["incidents"]), (1, 0, [inc_id]))
        inc = self.incident(inc_id)
        self.assertEqual(inc["state"], "resolved")
        self.assertEqual(inc["resolved_by"], "am")
        self.assertIsNotNone(inc["resolved_at"])
        self.assertEqual(inc["alerts"][0]["status"], "resolved")
        kinds = [e["kind"] for e in inc["timeline"]]
        self.assertEqual(kinds, ["incident.opened", "alert.firing", "alert.resolved",
                                 "incident.resolved"])
        # Alertmanager repeats the resolution: still one resolved incident.
        self.assertEqual(self.accepted("am", am_body(am_alert("dd01", status="resolved")))
                         ["duplicates"], 1)

        back = self.accepted("am", firing)
        self.assertEqual(back["accepted"], 1)
        self.assertNotEqual(back["incidents"], [inc_id])
        new = self.incident(back["incidents"][0])
        self.assertEqual(new["state"], "triggered")
        self.assertEqual(new["alerts"][0]["received"], 1)
        self.assertEqual(self.incident(inc_id)["state"], "resolved")
        self.assertEqual([i["id"] for i in list_incidents(self.ird, "source=am&state=open")
                          if i["id"] in (inc_id, new["id"])], [new["id"]])

    def test_severity_rises_with_a_repeat(self):
        out = self.accepted("am", am_body(am_alert("dd02", severity="warning")))
        inc_id = out["incidents"][0]
        self.assertEqual(self.incident(inc_id)["severity"], "warning")
        self.accepted("am", am_body(am_alert("dd02", severity="critical")))
        self.assertEqual(self.incident(inc_id)["severity"], "critical")

    def test_auto_resolve_false_keeps_the_incident_open(self):
        out = self.accepted("hold", am_body(am_alert("hold01")))
        inc_id = out["incidents"][0]
        self.accepted("hold", am_body(am_alert("hold01", status="resolved")))
        inc = self.incident(inc_id)
        self.assertEqual(inc["state"], "triggered")
        self.assertIsNone(inc["resolved_at"])
        self.assertEqual(inc["alerts"][0]["status"], "resolved")
        kinds = [e["kind"] for e in inc["timeline"]]
        self.assertIn("alert.resolved", kinds)
        self.assertNotIn("incident.resolved", kinds)
        self.assertIn(inc_id, [i["id"] for i in list_incidents(self.ird, "state=open")])

    def test_the_same_new_alert_from_many_senders_at_once(self):
        body = json.dumps(am_body(am_alert("race01"))).encode()
        results = []

        def send():
            results.append(self.post("am", body))
        threads = [threading.Thread(target=send) for _ in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        self.assertEqual([r[0] for r in results], [202] * 12)
        self.assertEqual(sum(r[2]["accepted"] for r in results), 1)
        self.assertEqual(sum(r[2]["duplicates"] for r in results), 11)
        self.assertEqual(len({r[2]["incidents"][0] for r in results}), 1)
        inc = self.incident(results[0][2]["incidents"][0])
        self.assertEqual(inc["alerts"][0]["received"], 12)

    def test_empty_message_202_nothing_stored(self):
        before = len(list_incidents(self.ird))
        out = self.accepted("am", dict(am_body(am_alert("x")), alerts=[]))
        self.assertEqual(out, {"accepted": 0, "duplicates": 0, "incidents": []})
        self.assertEqual(len(list_incidents(self.ird)), before)

    def test_content_types_senders_use(self):
        body = json.dumps(am_body(am_alert("ctype01"))).encode()
        for ctype in ("application/json; charset=utf-8", None, "text/plain", "text/json",
                      "application/vnd.example+json"):
            status, _, out = self.post("am", body, ctype=ctype)
            self.assertEqual(status, 202, (ctype, out))

    def test_one_request_many_alerts(self):
        out = self.accepted("am", am_body(am_alert("m1"), am_alert("m2"), am_alert("m1")))
        # The same fingerprint twice in one message: one incident for it.
        self.assertEqual(len(out["incidents"]), 2)
        self.assertEqual((out["accepted"], out["duplicates"]), (2, 1))


# --------------------------------------------------------------------------------
BAD = """
sources = {
  am = { type = "alertmanager"; auth = "none"; };
  j = { type = "json"; auth = "none"; map = { title = "t"; }; };
};
limits = { alerts_per_request = 3; json_depth = 8; string_bytes = 4096; body_bytes = 16384; };
"""


class BadInputTest(IrdTestCase, Poster):
    """What a sender gets for a body ird cannot take, and that nothing is kept."""

    @classmethod
    def setUpClass(cls):
        cls.ird = Ird(BAD).start()

    @classmethod
    def tearDownClass(cls):
        stop_shared(cls.ird)

    def refused_on_one_connection(self, source, body, ctype, status, detail):
        """Post on a keep-alive connection: the refusal, nothing stored, and the
        same connection then takes a good alert."""
        before = len(list_incidents(self.ird))
        s = self.ird.raw()
        try:
            head = "POST /v1/alerts/%s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n" % (
                source, len(body))
            if ctype:
                head += "Content-Type: %s\r\n" % ctype
            s.sendall(head.encode() + b"\r\n" + body)
            got, headers, data, rest = read_response(s)
            self.assertEqual(got, status, data)
            self.assertEqual(headers["content-type"], "application/json")
            err = json.loads(data)
            self.assertEqual(err["detail"], detail)
            self.assertIn("error", err)
            self.assertEqual(len(list_incidents(self.ird)), before, "something was stored")
            good = json.dumps(am_body(am_alert("after-%d" % time.monotonic_ns()))).encode()
            s.sendall(b"POST /v1/alerts/am HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                      b"\r\nContent-Length: %d\r\n\r\n" % len(good) + good)
            got, _, data, _ = read_response(s, pending=rest)
            self.assertEqual(got, 202, data)
        finally:
            s.close()
        self.assertEqual(self.ird.request("GET", "/healthz")[0], 200)
        return err

    def test_not_json(self):
        err = self.refused_on_one_connection("am", b"this is not json", "application/json", 400,
                                             "malformed JSON at byte 0")
        self.assertEqual(err["error"], "invalid alert")
        self.refused_on_one_connection("am", b'{"version":"4","alerts":[', "application/json", 400,
                                       "malformed JSON at byte 24")

    def test_wrong_content_type_415(self):
        body = json.dumps(am_body(am_alert("ct1"))).encode()
        err = self.refused_on_one_connection(
            "am", body, "text/html", 415,
            "content type text/html is not accepted; send application/json")
        self.assertEqual(err["error"], "unsupported media type")
        self.refused_on_one_connection(
            "am", body, "application/x-www-form-urlencoded", 415,
            "content type application/x-www-form-urlencoded is not accepted; send application/json")

    def test_wrong_shape_names_the_path(self):
        good = am_alert("shape1")
        bad = dict(am_alert("shape2"), labels=["not", "an", "object"])
        self.refused_on_one_connection("am", json.dumps(am_body(good, bad)).encode(),
                                       "application/json", 400,
                                       "alerts[1].labels: expected an object")
        self.refused_on_one_connection(
            "am", json.dumps(am_body(dict(good, status="pending"))).encode(), "application/json",
            400, 'alerts[0].status: expected "firing" or "resolved"')
        self.refused_on_one_connection("am", json.dumps(dict(am_body(good), alerts={})).encode(),
                                       "application/json", 400, "alerts: expected an array")
        self.refused_on_one_connection("am", json.dumps(dict(am_body(good), version="3")).encode(),
                                       "application/json", 400, 'version: expected "4"')
        self.refused_on_one_connection("j", json.dumps({"t": {"nested": 1}}).encode(),
                                       "application/json", 400, "t: expected a string")
        self.refused_on_one_connection("j", b'"just a string"', "application/json", 400,
                                       "body: expected an object or an array of objects")

    def test_too_deep(self):
        body = b'{"version":"4","alerts":[],"x":' + b"[" * 8 + b"]" * 8 + b"}"
        self.refused_on_one_connection("am", body, "application/json", 400,
                                       "nesting deeper than 8 at byte 38")

    def test_too_many_alerts_413(self):
        body = json.dumps(am_body(*[am_alert("many%d" % i) for i in range(4)])).encode()
        err = self.refused_on_one_connection("am", body, "application/json", 413,
                                             "4 alerts; at most 3 per request")
        self.assertEqual(err["error"], "too many alerts")

    def test_over_long_values(self):
        long_pod = am_alert("long1", pod="p" * 254)
        self.refused_on_one_connection("am", json.dumps(am_body(long_pod)).encode(),
                                       "application/json", 400,
                                       "alerts[0].labels.pod: longer than 253 bytes")
        long_title = am_alert("long2", summary="s" * 1025)
        self.refused_on_one_connection("am", json.dumps(am_body(long_title)).encode(),
                                       "application/json", 400,
                                       "alerts[0].annotations.summary: longer than 1024 bytes")
        # Past limits.string_bytes, whatever the field: refused at the JSON gate.
        huge = am_alert("long3")
        huge["annotations"]["description"] = "d" * 5000
        body = json.dumps(am_body(huge)).encode()
        offset = body.index(b'"' + b"d" * 10)
        self.refused_on_one_connection("am", body, "application/json", 400,
                                       "string longer than 4096 bytes at byte %d" % offset)

    def test_invalid_utf8(self):
        body = json.dumps(am_body(am_alert("utf8"))).encode().replace(b"PodCompromised",
                                                                      b"Pod\xc3\x28Compromised", 1)
        offset = body.index(b"\xc3\x28")
        self.refused_on_one_connection("am", body, "application/json", 400,
                                       "invalid UTF-8 at byte %d" % offset)

    def test_body_over_limit_413(self):
        big = am_alert("big")
        big["annotations"] = {"a%d" % i: "v" * 1000 for i in range(17)}
        body = json.dumps(am_body(big)).encode()
        self.assertGreater(len(body), 16384)
        before = len(list_incidents(self.ird))
        status, headers, err = self.post("am", body)
        self.assertEqual(status, 413)
        self.assertEqual(err, {"error": "body too large",
                               "detail": "the request body is larger than the limit"})
        self.assertEqual(len(list_incidents(self.ird)), before)
        self.assertEqual(self.ird.request("GET", "/healthz")[0], 200)

    def test_unknown_source_404(self):
        status, _, err = self.post("nosuch", am_body(am_alert("x")))
        self.assertEqual(status, 404)
        self.assertEqual(err["detail"], "no source with that name is configured")

    def test_refusals_are_logged_with_the_reason(self):
        start = len(self.ird.drain_logs())
        self.post("am", b"[[[")
        line = self.ird.wait_log(lambda l: l.get("msg") == "alert refused: invalid", start=start)
        self.assertEqual((line["source"], line["status"]), ("am", 400))
        self.assertTrue(line["reason"].startswith("malformed JSON at byte"), line)


# --------------------------------------------------------------------------------
SW_KEY = b"0123456789abcdef0123456789abcdef"
SW_SECRET = "whsec_" + base64.b64encode(SW_KEY).decode()
HMAC_KEY = "hmac-secret-for-tests"


def auth_config():
    tokens = os.path.join(INTAKE, "tokens.txt")
    return """
sources = {
  bearer = { type = "alertmanager";
             auth = { type = "bearer"; tokens = [ "bearer-old-0123456789", "bearer-new-0123456789" ]; }; };
  filetok = { type = "alertmanager"; auth = { type = "bearer"; tokens_file = "%s"; }; };
  other = { type = "alertmanager"; auth = { type = "bearer"; tokens = [ "other-token-0123456789" ]; }; };
  basic = { type = "alertmanager"; auth = { type = "basic"; username = "am"; password = "pa:ss-word"; }; };
  team = { type = "alertmanager";
           auth = { type = "basic"; users = ( { username = "alice"; password = "alice-pw"; },
                                              { username = "bob"; password = "bob-pw"; } ); }; };
  hmac = { type = "alertmanager"; auth = { type = "hmac"; secret = "%s"; }; };
  sw = { type = "alertmanager"; auth = { type = "standard-webhooks"; secret = "%s"; tolerance = "5m"; }; };
  query = { type = "alertmanager"; auth = { type = "query-token"; tokens = [ "query-token-0123456789", "q+t/=&0123456789" ]; }; };
  open = { type = "alertmanager"; auth = "none"; };
};
""" % (tokens, HMAC_KEY, SW_SECRET)


def sw_headers(msg_id, body, ts=None, key=SW_KEY):
    ts = str(int(time.time()) if ts is None else ts)
    mac = hmac.new(key, msg_id.encode() + b"." + ts.encode() + b"." + body, hashlib.sha256)
    return {"webhook-id": msg_id, "webhook-timestamp": ts,
            "webhook-signature": "v1," + base64.b64encode(mac.digest()).decode()}


class AuthTest(IrdTestCase, Poster):
    """Every authentication scheme over HTTP, and what a refused sender hears."""

    @classmethod
    def setUpClass(cls):
        cls.ird = Ird(auth_config()).start()
        cls.n = 0

    @classmethod
    def tearDownClass(cls):
        stop_shared(cls.ird)

    def body(self):
        type(self).n += 1
        return json.dumps(am_body(am_alert("auth-%d-%d" % (os.getpid(), self.n)))).encode()

    def assertRefused(self, status, source, body, headers=None, query="", reason=None):
        before = len(list_incidents(self.ird))
        start = len(self.ird.drain_logs())
        got, hdrs, err = self.post(source, body, headers=headers, query=query)
        self.assertEqual(got, status, err)
        if status == 401:
            self.assertEqual(err, {"error": "unauthorized",
                                   "detail": "missing or invalid credentials for this source"})
        else:
            self.assertEqual(err, {"error": "forbidden",
                                   "detail": "this credential is not allowed to post to this source"})
        self.assertEqual(len(list_incidents(self.ird)), before, "a refused alert was stored")
        if reason:
            line = self.ird.wait_log(lambda l: l.get("msg") == "alert refused: authentication failed"
                                     and l.get("source") == source, start=start)
            self.assertEqual(line["reason"], reason)
            self.assertEqual(line["status"], status)

    def test_bearer_good_bad_missing_and_rotation(self):
        for tok in ("bearer-old-0123456789", "bearer-new-0123456789"):
            self.accepted("bearer", self.body(), headers={"Authorization": "Bearer " + tok})
        self.assertRefused(401, "bearer", self.body(), {"Authorization": "Bearer wrong-token"},
                           reason="unknown token")
        self.assertRefused(401, "bearer", self.body(), reason="no Authorization header")
        self.assertRefused(401, "bearer", self.body(), {"Authorization": "Token bearer-old-0123456789"},
                           reason="Authorization header has another scheme")

    def test_tokens_file_with_comments(self):
        for tok in ("file-token-1", "file-token-2"):
            self.accepted("filetok", self.body(), headers={"Authorization": "Bearer " + tok})
        # A commented-out line is not a token.
        self.assertRefused(401, "filetok", self.body(), {"Authorization": "Bearer file-token-3"})

    def test_right_token_wrong_source_403(self):
        self.assertRefused(403, "bearer", self.body(),
                           {"Authorization": "Bearer other-token-0123456789"},
                           reason="credential belongs to another source")
        # Bearer and query tokens are one family.
        self.assertRefused(403, "query", self.body(), query="?token=bearer-new-0123456789")

    def test_basic(self):
        good = base64.b64encode(b"am:pa:ss-word").decode()
        self.accepted("basic", self.body(), headers={"Authorization": "Basic " + good})
        wrong = base64.b64encode(b"am:nope").decode()
        self.assertRefused(401, "basic", self.body(), {"Authorization": "Basic " + wrong},
                           reason="wrong username or password")
        self.assertRefused(401, "basic", self.body(), {"Authorization": "Basic !!!"})
        self.assertRefused(401, "basic", self.body())

    def test_basic_users_and_the_wrong_source(self):
        def basic(creds):
            return {"Authorization": "Basic " + base64.b64encode(creds.encode()).decode()}
        self.accepted("team", self.body(), headers=basic("alice:alice-pw"))
        self.accepted("team", self.body(), headers=basic("bob:bob-pw"))
        self.assertRefused(401, "team", self.body(), basic("alice:bob-pw"),
                           reason="wrong username or password")
        # Valid for "basic", presented to "team" (and the other way round).
        self.assertRefused(403, "team", self.body(), basic("am:pa:ss-word"),
                           reason="credential belongs to another source")
        self.assertRefused(403, "basic", self.body(), basic("bob:bob-pw"))

    def test_hmac_over_the_raw_body(self):
        body = self.body()
        sig = "sha256=" + hmac.new(HMAC_KEY.encode(), body, hashlib.sha256).hexdigest()
        self.accepted("hmac", body, headers={"X-Hub-Signature-256": sig})
        # The same bytes re-serialized differently are a different body.
        other = json.dumps(json.loads(self.body()), indent=1).encode()
        self.assertRefused(401, "hmac", other, {"X-Hub-Signature-256": sig},
                           reason="signature does not match")
        self.assertRefused(401, "hmac", body, {"X-Hub-Signature-256": sig[7:]},
                           reason="signature lacks its prefix")
        self.assertRefused(401, "hmac", body, reason="no signature header")

    def test_hmac_over_a_chunked_body(self):
        body = self.body()
        sig = "sha256=" + hmac.new(HMAC_KEY.encode(), body, hashlib.sha256).hexdigest()
        half = len(body) // 2
        s = self.ird.raw()
        try:
            s.sendall(b"POST /v1/alerts/hmac HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                      b"Content-Type: application/json\r\nX-Hub-Signature-256: " + sig.encode() +
                      b"\r\n\r\n" + b"%x\r\n" % half + body[:half] + b"\r\n" +
                      b"%x\r\n" % (len(body) - half) + body[half:] + b"\r\n0\r\n\r\n")
            status, _, data, _ = read_response(s)
            self.assertEqual(status, 202, data)
            self.assertEqual(json.loads(data)["accepted"], 1)
        finally:
            s.close()

    def test_standard_webhooks(self):
        body = self.body()
        h = sw_headers("msg-good-1", body)
        self.accepted("sw", body, headers=h)
        # The same message id again is a replay, even correctly signed.
        self.assertRefused(401, "sw", body, h, reason="replayed webhook-id")
        stale = self.body()
        self.assertRefused(401, "sw", stale, sw_headers("msg-stale", stale, ts=int(time.time()) - 600),
                           reason="timestamp outside the tolerance window")
        future = self.body()
        self.assertRefused(401, "sw", future, sw_headers("msg-future", future, ts=int(time.time()) + 600),
                           reason="timestamp outside the tolerance window")
        forged = self.body()
        self.assertRefused(401, "sw", forged, sw_headers("msg-forged", forged, key=b"k" * 32),
                           reason="signature does not match")
        # A signature over a different body.
        a, b = self.body(), self.body()
        self.assertRefused(401, "sw", b, sw_headers("msg-swap", a), reason="signature does not match")
        self.assertRefused(401, "sw", body, {"webhook-id": "x"},
                           reason="webhook-id, webhook-timestamp and webhook-signature are required")

    def test_standard_webhooks_retry_after_a_refusal_is_not_a_replay(self):
        bad = b'{"version":"4","alerts":"nope"}'
        h = sw_headers("msg-retry", bad)
        self.assertEqual(self.post("sw", bad, headers=h)[0], 400)
        # The sender sends the same message again: the same answer, not 401.
        self.assertEqual(self.post("sw", bad, headers=h)[0], 400)

    def test_query_token(self):
        start = len(self.ird.drain_logs())
        self.accepted("query", self.body(), query="?token=query-token-0123456789")
        # Percent-encoded, and not the first parameter.
        self.accepted("query", self.body(), query="?via=am&token=q%2Bt%2F%3D%260123456789")
        self.assertRefused(401, "query", self.body(), query="?token=wrong",
                           reason="unknown token")
        self.assertRefused(401, "query", self.body(), reason="no usable token in the query string")
        # The token never reaches the logs.
        self.assertNotIn("query-token-0123456789", json.dumps(self.ird.drain_logs()[start:]))

    def test_none_accepts_anyone(self):
        self.accepted("open", self.body())
        self.accepted("open", self.body(), headers={"Authorization": "Bearer whatever"})

    def test_secrets_stay_out_of_logs(self):
        text = json.dumps(self.ird.drain_logs())
        for secret in ("bearer-old-0123456789", "pa:ss-word", HMAC_KEY, SW_SECRET, "file-token-1"):
            self.assertNotIn(secret, text)


# --------------------------------------------------------------------------------
class MetricsTest(IrdTestCase, Poster):
    @classmethod
    def setUpClass(cls):
        cls.ird = Ird("""
sources = {
  m = { type = "alertmanager"; auth = { type = "bearer"; tokens = [ "metrics-token-0123456789" ]; }; };
};
""").start()

    @classmethod
    def tearDownClass(cls):
        stop_shared(cls.ird)

    def value(self, outcome):
        return metric_value(self.ird, "ird_alerts_received_total",
                            'source="m",outcome="%s"' % outcome)

    def test_counters_move_by_outcome(self):
        auth = {"Authorization": "Bearer metrics-token-0123456789"}
        outcomes = ("accepted", "duplicate", "rejected_auth", "rejected_invalid")
        before = {o: self.value(o) for o in outcomes}
        open_before = metric_value(self.ird, "ird_incidents_open")
        self.accepted("m", am_body(am_alert("met1"), am_alert("met2")), headers=auth)
        self.accepted("m", am_body(am_alert("met1")), headers=auth)
        self.assertEqual(self.post("m", am_body(am_alert("met3")))[0], 401)
        self.assertEqual(self.post("m", b"{", headers=auth)[0], 400)
        after = {o: self.value(o) for o in outcomes}
        self.assertEqual({o: after[o] - before[o] for o in outcomes},
                         {"accepted": 2, "duplicate": 1, "rejected_auth": 1, "rejected_invalid": 1})
        self.assertEqual(metric_value(self.ird, "ird_incidents_open"), open_before + 2)
        self.assertEqual(metric_value(self.ird, "ird_intake_queue_depth"), 0)
        # Every committed request went through the commit histogram.
        self.assertGreaterEqual(metric_value(self.ird, "ird_store_commit_seconds_count"), 2)
        self.accepted("m", am_body(am_alert("met1", status="resolved")), headers=auth)
        self.assertEqual(metric_value(self.ird, "ird_incidents_open"), open_before + 1)


class OverloadTest(IrdTestCase, Poster):
    def test_more_alerts_than_the_queue_holds_503(self):
        with Ird("""
sources = { am = { type = "alertmanager"; auth = "none"; }; };
intake = { queue_size = 2; };
""") as ird:
            self.ird = ird
            before = metric_value(ird, "ird_alerts_received_total",
                                  'source="am",outcome="rejected_overload"')
            status, headers, err = self.post("am", am_body(*[am_alert("ov%d" % i) for i in range(3)]))
            self.assertEqual(status, 503)
            self.assertEqual(headers["retry-after"], "1")
            self.assertEqual(err, {"error": "overloaded",
                                   "detail": "the intake queue is full; send again shortly"})
            self.assertEqual(list_incidents(ird), [])
            self.assertEqual(metric_value(ird, "ird_alerts_received_total",
                                          'source="am",outcome="rejected_overload"'), before + 3)
            # What fits is taken.
            out = self.accepted("am", am_body(am_alert("ov0"), am_alert("ov1")))
            self.assertEqual(out["accepted"], 2)
            self.assertEqual(len(list_incidents(ird)), 2)
            self.assertCleanExit(ird, ird.stop())


    def test_signed_retry_after_503_is_not_a_replay(self):
        with Ird("""
sources = { sw = { type = "alertmanager"; auth = { type = "standard-webhooks"; secret = "%s"; }; }; };
intake = { queue_size = 1; };
""" % SW_SECRET) as ird:
            self.ird = ird
            body = json.dumps(am_body(am_alert("sw-ov1"), am_alert("sw-ov2"))).encode()
            h = sw_headers("msg-overload", body)
            # Not stored, so the sender's retry with the same webhook-id is judged
            # again on its merits: 503 again, not 401.
            self.assertEqual(self.post("sw", body, headers=h)[0], 503)
            self.assertEqual(self.post("sw", body, headers=h)[0], 503)
            self.assertCleanExit(ird, ird.stop())


class ReloadTest(IrdTestCase, Poster):
    def test_replayed_webhook_id_refused_after_a_reload(self):
        with Ird("""
sources = { sw = { type = "alertmanager"; auth = { type = "standard-webhooks"; secret = "%s"; }; }; };
""" % SW_SECRET) as ird:
            self.ird = ird
            body = json.dumps(am_body(am_alert("sw-reload"))).encode()
            h = sw_headers("msg-reload", body)
            self.accepted("sw", body, headers=h)
            self.assertEqual(self.post("sw", body, headers=h)[0], 401)
            # SIGHUP with the same config: the message seen a moment ago is still a replay.
            start = len(ird.drain_logs())
            ird.signal(signal.SIGHUP)
            ird.wait_log(lambda l: l.get("msg") == "config reloaded", start=start)
            status, _, out = self.post("sw", body, headers=h)
            self.assertEqual(status, 401, "a replayed webhook-id was accepted after a reload: %s"
                             % (out,))
            self.assertCleanExit(ird, ird.stop())


# --------------------------------------------------------------------------------
class CheckTest(unittest.TestCase):
    """`ird check` as CI runs it: exact file:line: message lines, exit codes."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="ird-check-")
        self.addCleanup(self.tmp.cleanup)

    def write(self, name, text):
        path = os.path.join(self.tmp.name, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def check(self, text):
        # Every config names an (empty) playbook directory, appended last so
        # that the line numbers of the text stay as written.
        if "playbooks_dir" not in text:
            os.makedirs(os.path.join(self.tmp.name, "playbooks"), exist_ok=True)
            text += '\nplaybooks_dir = "%s/playbooks";\n' % self.tmp.name
        path = self.write("ird.conf", text)
        code, out, err = run_ird("check", "-c", path)
        return code, out, err, path

    def test_good_config_exit_0(self):
        code, out, err, path = self.check("""
state_dir = "/tmp/ird-never-created";
sources = {
  am = { type = "alertmanager"; auth = { type = "bearer"; tokens = [ "t-0123456789abcdef" ]; }; };
  falco = { type = "falco"; auth = "none"; };
};
api = { tokens = ( { name = "admin"; role = "admin"; token = "admin-0123456789abcdef"; } ); };
""")
        self.assertEqual((code, out, err), (0, path + ": ok (0 playbooks)\n", ""))

    def test_each_mistake_with_its_line(self):
        code, out, err, p = self.check("""listen = { webhooks = "127.0.0.1:0"; api = "nowhere"; };
state_dir = 5;
bogus = 1;
shutdown_timeout = "soon";
limits = { body_bytes = "big"; json_depth = 1; };
log = { level = "loud"; };
sources = {
  lab = { type = "json"; };
  nag = { type = "nagios"; auth = "none"; };
  b = { type = "falco"; auth = { type = "bearer"; }; };
  c = { type = "alertmanager"; auth = { type = "magic"; }; };
};
""")
        self.assertEqual(code, 1)
        self.assertEqual(out.splitlines(), [
            p + ':1: listen.api: "nowhere" is not host:port (an IP address or localhost; IPv6 as [::1]:9410)',
            p + ":2: state_dir: expected a string",
            p + ":3: bogus: unknown key",
            p + ':4: shutdown_timeout: "soon" is not a duration (like "500ms", "10s", "5m")',
            p + ":5: limits.body_bytes: expected an integer",
            p + ":5: limits.json_depth: 1 is out of range (2 to 1000)",
            p + ':6: log.level: "loud" is not one of debug|info|warn|error',
            p + ':8: sources.lab: auth is required; write auth = "none" to accept unauthenticated alerts',
            p + ':9: sources.nag.type: unknown type "nagios"; expected alertmanager, falco, splunk, '
                'elastic, wazuh, cloudevents or json',
            p + ":10: sources.b.auth: give one of tokens, tokens_file, tokens_env",
            p + ':11: sources.c.auth.type: unknown type "magic"; expected bearer, basic, hmac, '
                'standard-webhooks or query-token',
        ])
        self.assertEqual(err, "ird check: 11 problems\n")

    def test_a_source_without_auth(self):
        code, out, err, p = self.check('sources = {\n  lab = { type = "json"; };\n};\n')
        self.assertEqual(code, 1)
        self.assertEqual(out, p + ':2: sources.lab: auth is required; write auth = "none" to '
                              'accept unauthenticated alerts\n')
        self.assertEqual(err, "ird check: 1 problem\n")
        # The shared fixture says the same, with its own file and line.
        fx = os.path.join(INTAKE, "auth.conf")
        code, out, _ = run_ird("check", "-c", fx)
        self.assertEqual(code, 1)
        self.assertIn(fx + ':3: sources.lab: auth is required; write auth = "none" to accept '
                           'unauthenticated alerts\n', out)
        self.assertIn(fx + ":6: sources.falco.auth: give one of tokens, tokens_file, tokens_env\n", out)

    def test_unknown_key_inside_a_source_and_a_group(self):
        code, out, _, p = self.check("""sources = {
  siem = { type = "json"; auth = "none";
           map = { titel = "rule.name"; }; };
  w = { type = "wazuh"; auth = "none"; colour = "blue"; };
};
limits = { bodybytes = 1; };
""")
        self.assertEqual(code, 1)
        lines = out.splitlines()
        self.assertIn(p + ":3: sources.siem.map.titel: unknown key; expected id, status, severity, "
                      "title, namespace, pod, container, node, labels, annotations, starts_at or "
                      "ends_at", lines)
        self.assertIn(p + ":4: sources.w.colour: unknown key", lines)
        self.assertIn(p + ":6: limits.bodybytes: unknown key", lines)

    def test_wrong_type_for_a_known_group(self):
        # limits and listen are keys ird knows: a scalar there is the wrong type,
        # not an unknown key.
        code, out, _, p = self.check('limits = 5;\nlisten = "127.0.0.1:9410";\n')
        self.assertEqual(code, 1)
        self.assertEqual(out.splitlines(), [p + ":1: limits: expected a group { ... }",
                                            p + ":2: listen: expected a group { ... }"])

    def test_secret_values_never_printed(self):
        code, out, err, _ = self.check("""sources = {
  a = { type = "falco"; auth = { type = "bearer"; tokens = [ "super-secret-value-123" ]; colour = 1; }; };
};
api = { tokens = ( { name = "x"; role = "king"; token = "another-secret-value-456"; } ); };
""")
        self.assertEqual(code, 1)
        self.assertNotIn("super-secret-value-123", out + err)
        self.assertNotIn("another-secret-value-456", out + err)

    def test_syntax_error_and_missing_file(self):
        code, out, _, p = self.check('# a comment\nstate_dir = ;\nlog = { level = "info"; };\n')
        self.assertEqual((code, out), (1, p + ":2: syntax error\n"))
        missing = os.path.join(self.tmp.name, "nope.conf")
        code, out, _ = run_ird("check", "-c", missing)
        self.assertEqual((code, out), (1, missing + ": cannot read: No such file or directory\n"))

    def test_shipped_config_is_valid(self):
        # etc/ird.conf as `make run` uses it: from a directory where the token
        # files it names exist.
        os.makedirs(os.path.join(self.tmp.name, "state", "tokens"))
        for name in ("alertmanager", "admin"):
            with open(os.path.join(self.tmp.name, "state", "tokens", name), "w") as f:
                f.write("%s-token-0123456789abcdef\n" % name)
        os.symlink(os.path.join(SOURCE_DIR, "playbooks"), os.path.join(self.tmp.name, "playbooks"))
        conf = os.path.join(SOURCE_DIR, "etc", "ird.conf")
        p = subprocess.run([IRD, "check", "-c", conf], cwd=self.tmp.name, capture_output=True,
                           text=True, timeout=60)
        self.assertEqual((p.returncode, p.stderr), (0, ""), p.stdout)
        self.assertRegex(p.stdout, "^" + re.escape(conf) + r": ok \(\d+ playbooks?\)\n$")

    def test_bad_option_exit_2(self):
        code, out, err = run_ird("check", "--frobnicate")
        self.assertEqual(code, 2)
        self.assertIn("unknown option --frobnicate", err)
        self.assertIn("usage: ird check", err)

    def test_reference_keys_are_in_etc_ird_conf_with_their_defaults(self):
        code, ref, _ = run_ird("check", "--reference")
        self.assertEqual(code, 0)
        rows = re.findall(r"^\| `([a-z_.]+)` \| ([^|]+) \| ([^|]+) \|", ref, re.M)
        self.assertGreater(len(rows), 15)
        conf = parse_libconfig_scalars(os.path.join(SOURCE_DIR, "etc", "ird.conf"))
        missing, wrong = [], []
        for key, typ, default in rows:
            if typ.strip() == "group":
                continue
            want = default.strip().strip("`")
            if key not in conf:
                missing.append(key)
            elif conf[key] != want:
                wrong.append("%s: etc/ird.conf has %s, the table %s" % (key, conf[key], want))
        self.assertEqual(missing, [], "keys of `ird check --reference` missing from etc/ird.conf")
        self.assertEqual(wrong, [])


def parse_libconfig_scalars(path):
    """{dotted.key: value text} for `key = value;` lines in a libconfig file
    whose groups open with `name = {` and close with `};` (etc/ird.conf's style)."""
    out, stack = {}, []
    with open(path) as f:
        for line in f:
            line = re.sub(r"#.*$", "", line).strip()
            if not line:
                continue
            m = re.match(r"^([A-Za-z_][A-Za-z0-9_-]*)\s*[=:]\s*\{$", line)
            if m:
                stack.append(m.group(1))
                continue
            if re.match(r"^\}\s*;?$", line):
                if stack:
                    stack.pop()
                continue
            m = re.match(r'^([A-Za-z_][A-Za-z0-9_-]*)\s*[=:]\s*("[^"]*"|[^;]+);$', line)
            if m:
                out[".".join(stack + [m.group(1)])] = m.group(2).strip()
    return out


if __name__ == "__main__":
    unittest.main()
