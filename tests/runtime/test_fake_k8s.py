"""The fake Kubernetes API server behaves like a real one for the calls ird makes.

Talks to tests/fakes/k8s/fake_k8s.py over HTTPS with urllib and the fake's own CA, the way ird's runtime tests will.
"""

import http.client
import json
import os
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "fakes", "k8s"))

import fake_k8s  # noqa: E402

NS = "prod"
PODS = f"/api/v1/namespaces/{NS}/pods"
SECRETS = f"/api/v1/namespaces/{NS}/secrets"
NETPOLS = f"/apis/networking.k8s.io/v1/namespaces/{NS}/networkpolicies"
EVENTS_V1 = f"/apis/events.k8s.io/v1/namespaces/{NS}/events"


def pod(name, labels=None, containers=("app",), node="node-1", phase="Running"):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": NS, "labels": labels or {"app": "web"}},
            "spec": {"nodeName": node, "containers": [{"name": c, "image": "nginx:1.27"} for c in containers]},
            "status": {"phase": phase}}


SEED = {
    "objects": [
        pod("web-1", {"app": "web", "tier": "front"}),
        pod("web-2", {"app": "web", "tier": "back"}, node="node-2"),
        pod("multi", {"app": "db"}, containers=("db", "sidecar")),
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db-credentials", "namespace": NS},
         "type": "Opaque", "data": {"password": "aHVudGVyMg=="}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "frozen", "namespace": NS},
         "immutable": True, "data": {"k": "dg=="}},
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"}, "spec": {}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": NS},
         "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                  "template": {"metadata": {"labels": {"app": "web"}},
                               "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}},
         "status": {"replicas": 3}},
        {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "web-1.17f0", "namespace": NS},
         "involvedObject": {"kind": "Pod", "name": "web-1", "namespace": NS, "uid": "uid-web-1"},
         "reason": "BackOff", "message": "Back-off restarting failed container", "type": "Warning"},
        {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "web-2.17f1", "namespace": NS},
         "involvedObject": {"kind": "Pod", "name": "web-2", "namespace": NS, "uid": "uid-web-2"},
         "reason": "Pulled", "message": "pulled", "type": "Normal"},
    ],
    "logs": [
        {"namespace": NS, "pod": "web-1", "container": "app", "current": ["one", "two", "three"],
         "previous": ["crashed: segfault"]},
        {"namespace": NS, "pod": "multi", "container": "db", "current": "db ready\n"},
    ],
}

NETPOL = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
          "metadata": {"name": "ird-quarantine-inc-1", "labels": {"app.kubernetes.io/managed-by": "ird"}},
          "spec": {"podSelector": {"matchLabels": {"ird.io/quarantine": "inc-1"}}, "policyTypes": ["Ingress", "Egress"]}}


class FakeK8sTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.fake = fake_k8s.FakeK8s(tls=True, tokens=["tok-1"], client_ca=True).start()
        cls.ctx = ssl.create_default_context(cafile=cls.fake.ca)

    @classmethod
    def tearDownClass(cls):
        cls.fake.stop()

    def setUp(self):
        self.fake.reset()
        self.fake.set_tokens(["tok-1"])
        self.fake.seed(SEED)

    def call(self, method, path, body=None, content_type="application/json", token="tok-1", raw=None):
        """(status, parsed body or text, headers) of one request."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        headers = {"Content-Type": content_type} if data is not None else {}
        if token:
            headers["Authorization"] = "Bearer " + token
        req = urllib.request.Request(self.fake.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=5) as resp:
                status, payload, hdrs = resp.status, resp.read().decode(), resp.headers
        except urllib.error.HTTPError as e:
            status, payload, hdrs = e.code, e.read().decode(), e.headers
        if (hdrs.get("Content-Type") or "").startswith("application/json"):
            payload = json.loads(payload)
        return status, payload, hdrs

    # create, update, conflicts
    def test_create_returns_201_then_409_already_exists(self):
        status, obj, _ = self.call("POST", NETPOLS, NETPOL)
        self.assertEqual(status, 201)
        self.assertEqual(obj["metadata"]["namespace"], NS)
        self.assertTrue(obj["metadata"]["uid"] and obj["metadata"]["resourceVersion"].isdigit())
        self.assertEqual(obj["metadata"]["generation"], 1)
        status, err, _ = self.call("POST", NETPOLS, NETPOL)
        self.assertEqual((status, err["reason"]), (409, "AlreadyExists"))
        self.assertEqual(err["message"], 'networkpolicies.networking.k8s.io "ird-quarantine-inc-1" already exists')
        self.assertEqual(err["details"], {"name": "ird-quarantine-inc-1", "group": "networking.k8s.io",
                                          "kind": "networkpolicies"})

    def test_put_with_stale_resource_version_is_409_conflict(self):
        _, secret, _ = self.call("GET", SECRETS + "/db-credentials")
        stale = json.loads(json.dumps(secret))
        secret["data"]["password"] = "bmV3LXZhbHVl"
        status, updated, _ = self.call("PUT", SECRETS + "/db-credentials", secret)
        self.assertEqual(status, 200)
        self.assertNotEqual(updated["metadata"]["resourceVersion"], stale["metadata"]["resourceVersion"])
        stale["data"]["password"] = "b3RoZXI="
        status, err, _ = self.call("PUT", SECRETS + "/db-credentials", stale)
        self.assertEqual((status, err["reason"]), (409, "Conflict"))
        self.assertEqual(err["message"], 'Operation cannot be fulfilled on secrets "db-credentials": the object has '
                         "been modified; please apply your changes to the latest version and try again")
        self.assertEqual(self.fake.get_object("secrets", NS, "db-credentials")["data"]["password"], "bmV3LXZhbHVl")

    def test_put_does_not_create(self):
        status, err, _ = self.call("PUT", NETPOLS + "/missing", dict(NETPOL, metadata={"name": "missing"}))
        self.assertEqual((status, err["reason"]), (404, "NotFound"))
        self.assertEqual(self.fake.objects("networkpolicies"), [])

    def test_injected_conflict_then_put_succeeds(self):
        self.fake.inject_conflict(SECRETS + "/db-credentials")
        _, secret, _ = self.call("GET", SECRETS + "/db-credentials")
        self.assertEqual(self.call("PUT", SECRETS + "/db-credentials", secret)[0], 409)
        self.assertEqual(self.call("PUT", SECRETS + "/db-credentials", secret)[0], 200)

    # patches
    def test_merge_patch_sets_and_removes_labels(self):
        patch = {"metadata": {"labels": {"ird.io/quarantine": "inc-1", "tier": None}}}
        status, obj, _ = self.call("PATCH", PODS + "/web-1", patch, "application/merge-patch+json")
        self.assertEqual(status, 200)
        self.assertEqual(obj["metadata"]["labels"], {"app": "web", "ird.io/quarantine": "inc-1"})
        self.assertEqual(self.fake.get_object("pods", NS, "web-1")["metadata"]["labels"], obj["metadata"]["labels"])

    def test_strategic_merge_patch_cordons_node(self):
        status, node, _ = self.call("PATCH", "/api/v1/nodes/node-1", {"spec": {"unschedulable": True}},
                                    "application/strategic-merge-patch+json")
        self.assertEqual((status, node["spec"]["unschedulable"]), (200, True))

    def test_json_patch_applies_and_failed_test_is_422(self):
        ops = [{"op": "test", "path": "/metadata/labels/app", "value": "web"},
               {"op": "add", "path": "/metadata/labels/ird.io~1quarantine", "value": "inc-1"},
               {"op": "remove", "path": "/metadata/labels/tier"}]
        status, obj, _ = self.call("PATCH", PODS + "/web-1", ops, "application/json-patch+json")
        self.assertEqual(status, 200)
        self.assertEqual(obj["metadata"]["labels"], {"app": "web", "ird.io/quarantine": "inc-1"})
        status, err, _ = self.call("PATCH", PODS + "/web-1", [{"op": "test", "path": "/metadata/labels/app",
                                                               "value": "db"}], "application/json-patch+json")
        self.assertEqual((status, err["reason"]), (422, "Invalid"))
        self.assertIn("testing value /metadata/labels/app failed", err["details"]["causes"][0]["message"])
        status, err, _ = self.call("PATCH", PODS + "/web-1", [{"op": "replace", "path": "/metadata/labels/nope",
                                                               "value": "x"}], "application/json-patch+json")
        self.assertEqual(status, 422)

    def test_unknown_patch_type_is_415(self):
        status, err, _ = self.call("PATCH", PODS + "/web-1", {"metadata": {}}, "application/json")
        self.assertEqual((status, err["reason"]), (415, "UnsupportedMediaType"))

    def test_patch_with_resource_version_is_conditional(self):
        patch = {"metadata": {"resourceVersion": "1", "labels": {"x": "y"}}}
        status, err, _ = self.call("PATCH", PODS + "/web-1", patch, "application/merge-patch+json")
        self.assertEqual((status, err["reason"]), (409, "Conflict"))

    # validation
    def test_strict_validation_rejects_unknown_fields(self):
        bad = json.loads(json.dumps(NETPOL))
        bad["spec"]["podSelectr"] = {}
        status, err, _ = self.call("POST", NETPOLS, bad)
        self.assertEqual((status, err["reason"]), (400, "BadRequest"))
        self.assertIn('strict decoding error: unknown field "spec.podSelectr"', err["message"])
        status, err, _ = self.call("PATCH", PODS + "/web-1", {"spec": {"nodeNam": "x"}}, "application/merge-patch+json")
        self.assertEqual((status, err["reason"]), (422, "Invalid"))
        self.assertIn('unknown field "spec.nodeNam"', err["message"])
        status, obj, headers = self.call("POST", NETPOLS + "?fieldValidation=Warn", bad)
        self.assertEqual(status, 201)
        self.assertNotIn("podSelectr", obj["spec"])
        self.assertIn('unknown field \\"spec.podSelectr\\"', headers["Warning"])

    def test_wrong_json_type_is_400(self):
        body = {"metadata": {"name": "s"}, "data": {"k": 5}}
        self.assertEqual(self.call("POST", SECRETS, body)[0], 400)

    def test_invalid_names_and_labels_are_422(self):
        bad = json.loads(json.dumps(NETPOL))
        bad["metadata"] = {"name": "Quarantine_1", "labels": {"bad key!": "v"}}
        bad["spec"]["policyTypes"] = ["Ingress", "Sideways"]
        status, err, _ = self.call("POST", NETPOLS, bad)
        self.assertEqual((status, err["reason"]), (422, "Invalid"))
        self.assertTrue(err["message"].startswith('NetworkPolicy.networking.k8s.io "Quarantine_1" is invalid: '))
        fields = {c["field"]: c["reason"] for c in err["details"]["causes"]}
        self.assertEqual(fields, {"metadata.name": "FieldValueInvalid", "metadata.labels": "FieldValueInvalid",
                                  "spec.policyTypes[1]": "FieldValueNotSupported"})

    def test_namespace_in_body_must_match_url(self):
        body = dict(NETPOL, metadata={"name": "x", "namespace": "other"})
        status, err, _ = self.call("POST", NETPOLS, body)
        self.assertEqual(status, 400)
        self.assertIn("does not match the namespace sent on the request", err["message"])

    def test_secret_rules(self):
        status, _, _ = self.call("POST", SECRETS, {"metadata": {"name": "s"}, "data": {"k": "not base64!"}})
        self.assertEqual(status, 400)
        status, created, _ = self.call("POST", SECRETS, {"metadata": {"name": "s2"}, "stringData": {"k": "v"}})
        self.assertEqual((status, created["data"], created["type"]), (201, {"k": "dg=="}, "Opaque"))
        status, err, _ = self.call("PATCH", SECRETS + "/frozen", {"data": {"k": "dzI="}}, "application/merge-patch+json")
        self.assertEqual((status, err["details"]["causes"][0]["field"]), (422, "data"))

    def test_dry_run_validates_but_persists_nothing(self):
        before = self.fake.get_object("pods", NS, "web-1")
        status, obj, _ = self.call("POST", NETPOLS + "?dryRun=All", NETPOL)
        self.assertEqual((status, obj["metadata"]["name"]), (201, "ird-quarantine-inc-1"))
        self.assertEqual(self.fake.objects("networkpolicies"), [])
        status, obj, _ = self.call("PATCH", PODS + "/web-1?dryRun=All", {"metadata": {"labels": {"q": "1"}}},
                                   "application/merge-patch+json")
        self.assertEqual((status, obj["metadata"]["labels"]["q"]), (200, "1"))
        self.assertEqual(self.call("DELETE", PODS + "/web-1?dryRun=All")[0], 200)
        self.assertEqual(self.fake.get_object("pods", NS, "web-1"), before)
        status, err, _ = self.call("POST", NETPOLS + "?dryRun=Bogus", NETPOL)
        self.assertEqual(status, 422)
        self.assertIn('dryRun: Unsupported value', err["message"])
        bad = dict(NETPOL, metadata={"name": "BAD"})
        self.assertEqual(self.call("POST", NETPOLS + "?dryRun=All", bad)[0], 422)

    def test_events_k8s_io_create_rules(self):
        event = {"apiVersion": "events.k8s.io/v1", "kind": "Event",
                 "metadata": {"name": "web-1.180a1b2c3d4e5f60", "namespace": NS},
                 "eventTime": "2026-01-02T03:04:05.000000Z", "reportingController": "ird.io/ird",
                 "reportingInstance": "ird-0", "action": "Isolate", "reason": "Quarantined", "type": "Normal",
                 "note": "pod isolated by incident inc-1",
                 "regarding": {"kind": "Pod", "name": "web-1", "namespace": NS, "uid": "uid-web-1"}}
        status, obj, _ = self.call("POST", EVENTS_V1, event)
        self.assertEqual((status, obj["note"], obj["regarding"]["name"]), (201, event["note"], "web-1"))
        _, core, _ = self.call("GET", f"/api/v1/namespaces/{NS}/events/web-1.180a1b2c3d4e5f60")
        self.assertEqual((core["message"], core["involvedObject"]["uid"]), (event["note"], "uid-web-1"))
        bad = dict(event, metadata={"name": "bad", "namespace": NS}, type="Info", reportingController="",
                   deprecatedCount=3, action="x" * 129)
        status, err, _ = self.call("POST", EVENTS_V1, bad)
        self.assertEqual((status, err["reason"]), (422, "Invalid"))
        fields = sorted(c["field"] for c in err["details"]["causes"])
        self.assertEqual(fields, ["action", "count", "reportingController", "reportingController", "type"])
        no_time = {k: v for k, v in event.items() if k != "eventTime"}
        no_time["metadata"] = {"name": "no-time", "namespace": NS}
        status, err, _ = self.call("POST", EVENTS_V1, no_time)
        self.assertEqual((status, err["details"]["causes"][0]["field"]), (422, "eventTime"))

    # reads
    def test_label_and_field_selectors(self):
        def names(query):
            status, lst, _ = self.call("GET", PODS + "?" + query)
            self.assertEqual(status, 200)
            return [i["metadata"]["name"] for i in lst["items"]]

        self.assertEqual(names("labelSelector=app%3Dweb"), ["web-1", "web-2"])
        self.assertEqual(names("labelSelector=app%3D%3Dweb,tier!%3Dfront"), ["web-2"])
        self.assertEqual(names("labelSelector=app+in+(db,web),tier+notin+(back)"), ["multi", "web-1"])
        self.assertEqual(names("labelSelector=tier"), ["web-1", "web-2"])
        self.assertEqual(names("labelSelector=!tier"), ["multi"])
        self.assertEqual(names("fieldSelector=spec.nodeName%3Dnode-2"), ["web-2"])
        self.assertEqual(names("fieldSelector=metadata.name!%3Dweb-1,metadata.namespace%3Dprod"), ["multi", "web-2"])
        status, events, _ = self.call("GET", f"/api/v1/namespaces/{NS}/events?fieldSelector=involvedObject.uid%3Duid-web-1")
        self.assertEqual([e["reason"] for e in events["items"]], ["BackOff"])
        self.assertEqual(self.call("GET", PODS + "?fieldSelector=spec.bogus%3Dx")[0], 400)
        self.assertEqual(self.call("GET", PODS + "?labelSelector=a%3D%3D%3Db")[0], 400)

    def test_list_pagination(self):
        _, first, _ = self.call("GET", PODS + "?limit=2")
        self.assertEqual((len(first["items"]), first["metadata"]["remainingItemCount"]), (2, 1))
        _, rest, _ = self.call("GET", PODS + "?limit=2&continue=" + first["metadata"]["continue"])
        self.assertEqual([i["metadata"]["name"] for i in rest["items"]], ["web-2"])

    def test_pod_logs(self):
        status, text, _ = self.call("GET", PODS + "/web-1/log?tailLines=2")
        self.assertEqual((status, text), (200, "two\nthree\n"))
        self.assertEqual(self.call("GET", PODS + "/web-1/log?previous=true")[1], "crashed: segfault\n")
        self.assertEqual(self.call("GET", PODS + "/web-1/log?limitBytes=5")[1], "one\nt")
        stamped = self.call("GET", PODS + "/web-1/log?timestamps=true&tailLines=1")[1]
        self.assertRegex(stamped, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z three\n$")
        self.assertEqual(self.call("GET", PODS + "/multi/log?container=db")[1], "db ready\n")
        status, err, _ = self.call("GET", PODS + "/multi/log")
        self.assertEqual((status, err["message"]),
                         (400, "a container name must be specified for pod multi, choose one of: [db sidecar]"))
        status, err, _ = self.call("GET", PODS + "/multi/log?container=db&previous=true")
        self.assertEqual((status, err["message"]), (400, 'previous terminated container "db" in pod "multi" not found'))
        self.assertEqual(self.call("GET", PODS + "/web-1/log?tailLines=-1")[0], 422)

    def test_scale_subresource(self):
        path = f"/apis/apps/v1/namespaces/{NS}/deployments/web/scale"
        status, scale, _ = self.call("GET", path)
        self.assertEqual((status, scale["kind"], scale["spec"]["replicas"], scale["status"]["selector"]),
                         (200, "Scale", 3, "app=web"))
        status, scale, _ = self.call("PATCH", path, {"spec": {"replicas": 0}}, "application/merge-patch+json")
        self.assertEqual((status, scale["spec"]["replicas"]), (200, 0))
        deployment = self.fake.get_object("deployments", NS, "web")
        self.assertEqual((deployment["spec"]["replicas"], deployment["metadata"]["generation"]), (0, 2))
        self.assertEqual(self.call("PATCH", path, {"spec": {"replicas": -1}}, "application/merge-patch+json")[0], 422)

    # delete and evict
    def test_delete_pod_returns_pod_and_others_a_status(self):
        status, obj, _ = self.call("DELETE", PODS + "/web-1?gracePeriodSeconds=10")
        self.assertEqual((status, obj["kind"], obj["metadata"]["deletionGracePeriodSeconds"]), (200, "Pod", 10))
        self.assertEqual(self.call("GET", PODS + "/web-1")[0], 404)
        self.call("POST", NETPOLS, NETPOL)
        status, obj, _ = self.call("DELETE", NETPOLS + "/ird-quarantine-inc-1", {"kind": "DeleteOptions",
                                                                                 "apiVersion": "v1"})
        self.assertEqual((status, obj["kind"], obj["status"]), (200, "Status", "Success"))
        self.assertEqual(self.call("DELETE", NETPOLS + "/ird-quarantine-inc-1")[0], 404)

    def test_eviction_201_and_pdb_429(self):
        eviction = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "web-1", "namespace": NS}}
        self.fake.protect_pod(NS, "web-2", "web-pdb")
        status, err, headers = self.call("POST", PODS + "/web-2/eviction", dict(eviction, metadata={"name": "web-2"}))
        self.assertEqual((status, err["reason"], err["details"]["causes"][0]["reason"]),
                         (429, "TooManyRequests", "DisruptionBudget"))
        self.assertIn("The disruption budget web-pdb needs", err["details"]["causes"][0]["message"])
        self.assertIsNone(headers.get("Retry-After"))
        self.assertIsNotNone(self.fake.get_object("pods", NS, "web-2"))
        # web-1 has app=web too, so the PDB covers it: move it out from under the budget first.
        self.call("PATCH", PODS + "/web-1", {"metadata": {"labels": {"app": "solo"}}}, "application/merge-patch+json")
        status, body, _ = self.call("POST", PODS + "/web-1/eviction", eviction)
        self.assertEqual((status, body["status"], body["code"]), (201, "Success", 201))
        self.assertIsNone(self.fake.get_object("pods", NS, "web-1"))
        status, err, _ = self.call("POST", PODS + "/multi/eviction", eviction)
        self.assertEqual(status, 400)

    # faults, auth, recording
    def test_fault_429_text_with_retry_after_then_success(self):
        self.fake.add_fault(path=r"/pods/web-1$", method="GET", status=429, body="text", retry_after=2, times=2)
        for _ in range(2):
            status, text, headers = self.call("GET", PODS + "/web-1")
            self.assertEqual((status, text, headers["Retry-After"]),
                             (429, "Too many requests, please try again later.\n", "2"))
            self.assertTrue(headers["Content-Type"].startswith("text/plain"))
        self.assertEqual(self.call("GET", PODS + "/web-1")[0], 200)

    def test_fault_503_status_and_delay_over_http_control(self):
        faults = [{"path": "/nodes/", "status": 503, "retry_after": 1}, {"path": "/nodes/", "delay_ms": 200}]
        req = urllib.request.Request(self.fake.url + "/_fake/faults", data=json.dumps(faults).encode(), method="POST")
        urllib.request.urlopen(req, context=self.ctx).read()
        status, err, headers = self.call("GET", "/api/v1/nodes/node-1")
        self.assertEqual((status, err["reason"], headers["Retry-After"]), (503, "ServiceUnavailable", "1"))
        start = time.monotonic()
        self.assertEqual(self.call("GET", "/api/v1/nodes/node-1")[0], 200)
        self.assertGreaterEqual(time.monotonic() - start, 0.2)

    def test_dropped_connection(self):
        self.fake.add_fault(path="/secrets", drop=True)
        with self.assertRaises((urllib.error.URLError, http.client.HTTPException, ConnectionError)):
            self.call("GET", SECRETS)
        self.assertEqual(self.call("GET", SECRETS)[0], 200)
        self.assertEqual(self.fake.requests()[-2]["fault"], "drop")

    def test_auth_401_and_token_rotation(self):
        status, err, _ = self.call("GET", PODS, token="wrong")
        self.assertEqual((status, err["message"], err["reason"]), (401, "Unauthorized", "Unauthorized"))
        self.assertEqual(self.call("GET", PODS, token=None)[0], 401)
        self.fake.set_tokens(["tok-2"])
        self.assertEqual(self.call("GET", PODS)[0], 401)
        self.assertEqual(self.call("GET", PODS, token="tok-2")[0], 200)

    def test_client_certificate_auth(self):
        cert, key = self.fake.client_cert("ird-daemon", ["ird:operators"])
        ctx = ssl.create_default_context(cafile=self.fake.ca)
        ctx.load_cert_chain(cert, key)
        with urllib.request.urlopen(self.fake.url + PODS, context=ctx, timeout=5) as resp:
            self.assertEqual(resp.status, 200)
        self.assertEqual(self.fake.requests()[-1]["user"], "ird-daemon")

    def test_keep_alive_reuses_one_connection(self):
        conn = http.client.HTTPSConnection("127.0.0.1", self.fake.port, context=self.ctx, timeout=5)
        try:
            sockets = []
            for _ in range(3):
                conn.request("GET", PODS + "/web-1", headers={"Authorization": "Bearer tok-1"})
                resp = conn.getresponse()
                self.assertEqual(resp.status, 200)
                resp.read()
                self.assertFalse(resp.will_close)
                sockets.append(conn.sock)
            self.assertTrue(all(s is sockets[0] for s in sockets))
        finally:
            conn.close()

    def test_requests_are_recorded_without_token_values(self):
        self.call("PATCH", PODS + "/web-1?fieldManager=ird", {"metadata": {"labels": {"a": "b"}}},
                  "application/merge-patch+json")
        with urllib.request.urlopen(self.fake.url + "/_fake/requests?clear=1", context=self.ctx) as resp:
            recorded = json.loads(resp.read())
        entry = recorded[-1]
        self.assertEqual((entry["method"], entry["path"], entry["query"], entry["status"]),
                         ("PATCH", PODS + "/web-1", {"fieldManager": "ird"}, 200))
        self.assertEqual(entry["headers"]["content-type"], "application/merge-patch+json")
        self.assertEqual(entry["headers"]["authorization"], "Bearer <redacted>")
        self.assertEqual(entry["body"], {"metadata": {"labels": {"a": "b"}}})
        self.assertNotIn("tok-1", json.dumps(recorded))
        self.assertEqual(self.fake.requests(), [])
        with urllib.request.urlopen(self.fake.url + f"/_fake/objects?kind=pods&namespace={NS}", context=self.ctx) as r:
            self.assertEqual(len(json.loads(r.read())), 3)

    def test_unknown_path_is_404_status(self):
        status, err, _ = self.call("GET", "/apis/apps/v1/namespaces/prod/cronjobs")
        self.assertEqual((status, err["kind"], err["reason"]), (404, "Status", "NotFound"))
        status, err, _ = self.call("GET", PODS + "/nope")
        self.assertEqual(err["message"], 'pods "nope" not found')


class FakeK8sCommandLineTest(unittest.TestCase):
    def test_script_prints_its_address_and_serves_tls(self):
        script = os.path.join(HERE, "..", "fakes", "k8s", "fake_k8s.py")
        with tempfile.TemporaryDirectory() as state:
            proc = subprocess.Popen([sys.executable, script, "--port", "0", "--state-dir", state, "--tls",
                                     "--token", "cli-token"], stdout=subprocess.PIPE, text=True)
            try:
                info = json.loads(proc.stdout.readline())
                with open(os.path.join(state, "fake.json"), encoding="utf-8") as f:
                    self.assertEqual(json.load(f), info)
                self.assertTrue(info["url"].startswith("https://127.0.0.1:"))
                ctx = ssl.create_default_context(cafile=info["ca"])
                req = urllib.request.Request(info["url"] + "/version", headers={"Authorization": "Bearer cli-token"})
                with urllib.request.urlopen(req, context=ctx, timeout=5) as resp:
                    self.assertEqual(json.loads(resp.read())["major"], "1")
            finally:
                proc.terminate()
                self.assertEqual(proc.wait(5), 0)
                proc.stdout.close()


if __name__ == "__main__":
    unittest.main()
