"""A fake Kubernetes API server for ird's end-to-end tests (Python stdlib + jsonschema).

Owns the in-memory object store, the REST verbs and paths ird calls (see README.md), bearer-token and
client-certificate auth, fault injection and request recording. Run it as a script, or import FakeK8s and start()
it in a thread. Bodies are validated against the real 1.34 schemas (k8s_validate) and errors read like a real
server's (k8s_errors).
"""

import argparse
import base64
import copy
import datetime
import http.server
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import ssl
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import k8s_validate as V  # noqa: E402
from k8s_errors import (ApiError, FieldError, already_exists, bad_request, conflict, invalid,  # noqa: E402
                        method_not_allowed, not_found, not_supported, options_invalid, path_not_found,
                        resource_details, success_status, unsupported_media_type)
from k8s_patch import PatchApplyError, PatchDecodeError, json_patch, merge_patch  # noqa: E402
from k8s_pki import Pki  # noqa: E402
from k8s_select import (SelectorError, fields_match, labels_match, parse_field_selector,  # noqa: E402
                        parse_label_selector, requirements_from_object)

FIELD_VALIDATION = ("Ignore", "Strict", "Warn")


# -- the resource table ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Resource:
    plural: str
    kind: str
    group: str
    version: str
    schema: str = None          # definition in the schema file; None = read-only here (no schema to check writes)
    namespaced: bool = True
    subresources: tuple = ()
    generation: bool = False    # metadata.generation counts spec changes
    has_status: bool = False    # the main endpoint ignores status changes
    check: object = None        # semantic check(stored, old or None) -> [FieldError]
    default: object = None      # defaulting applied to every write, on the stored form
    decode: object = None       # extra decode check(obj) -> [error text] (400)
    fields: tuple = ()          # selectable fields beyond metadata.name/namespace: (selector name, stored path)
    storage: str = ""           # share another resource's store (events.k8s.io events are core events)
    renames: tuple = ()         # (external field, stored field) when the stored form differs

    @property
    def api_version(self):
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def store(self):
        return self.storage or self.plural


def _default_secret(obj):
    if obj.get("stringData"):
        data = obj.get("data") or {}
        for key, value in obj["stringData"].items():
            data[key] = base64.b64encode((value or "").encode()).decode()
        obj["data"] = data
    obj.pop("stringData", None)
    if not obj.get("type"):
        obj["type"] = "Opaque"


def _default_network_policy(obj):
    spec = obj.setdefault("spec", {})
    spec.setdefault("podSelector", {})
    if not spec.get("policyTypes"):
        spec["policyTypes"] = ["Ingress"] + (["Egress"] if spec.get("egress") else [])
    for rule in (spec.get("ingress") or []) + (spec.get("egress") or []):
        for port in rule.get("ports") or []:
            port.setdefault("protocol", "TCP")


def _default_replicas(obj):
    spec = obj.setdefault("spec", {})
    if spec.get("replicas") is None:
        spec["replicas"] = 1


POD_FIELDS = tuple((f, f) for f in ("spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.hostNetwork",
                                    "spec.serviceAccountName", "status.phase", "status.podIP",
                                    "status.nominatedNodeName"))
EVENT_FIELDS = tuple((f"involvedObject.{f}", f"involvedObject.{f}") for f in
                     ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")) + \
    (("reason", "reason"), ("reportingComponent", "reportingComponent"), ("source", "source.component"),
     ("type", "type"))
EVENTS_V1_RENAMES = (("regarding", "involvedObject"), ("note", "message"), ("reportingController", "reportingComponent"),
                     ("deprecatedSource", "source"), ("deprecatedFirstTimestamp", "firstTimestamp"),
                     ("deprecatedLastTimestamp", "lastTimestamp"), ("deprecatedCount", "count"))
_WORKLOAD = dict(generation=True, has_status=True, check=V.check_workload)

RESOURCES = (
    Resource("pods", "Pod", "", "v1", "io.k8s.api.core.v1.Pod", subresources=("status", "log", "eviction"),
             has_status=True, check=V.check_pod, fields=POD_FIELDS),
    Resource("secrets", "Secret", "", "v1", "io.k8s.api.core.v1.Secret", check=V.check_secret,
             default=_default_secret, decode=V.secret_decode_errors, fields=(("type", "type"),)),
    Resource("events", "Event", "", "v1", "io.k8s.api.core.v1.Event", check=V.check_core_event, fields=EVENT_FIELDS),
    Resource("events", "Event", "events.k8s.io", "v1", "io.k8s.api.events.v1.Event", check=V.check_events_v1_event,
             fields=EVENT_FIELDS, storage="events", renames=EVENTS_V1_RENAMES),
    Resource("nodes", "Node", "", "v1", "io.k8s.api.core.v1.Node", namespaced=False, has_status=True,
             fields=(("spec.unschedulable", "spec.unschedulable"),)),
    Resource("deployments", "Deployment", "apps", "v1", "io.k8s.api.apps.v1.Deployment", subresources=("scale",),
             default=_default_replicas, **_WORKLOAD),
    Resource("statefulsets", "StatefulSet", "apps", "v1", "io.k8s.api.apps.v1.StatefulSet", subresources=("scale",),
             default=_default_replicas, **_WORKLOAD),
    Resource("daemonsets", "DaemonSet", "apps", "v1", "io.k8s.api.apps.v1.DaemonSet", **_WORKLOAD),
    Resource("replicasets", "ReplicaSet", "apps", "v1", generation=True, has_status=True),
    Resource("networkpolicies", "NetworkPolicy", "networking.k8s.io", "v1",
             "io.k8s.api.networking.v1.NetworkPolicy", generation=True, check=V.check_network_policy,
             default=_default_network_policy),
    Resource("leases", "Lease", "coordination.k8s.io", "v1", "io.k8s.api.coordination.v1.Lease", check=V.check_lease),
    Resource("poddisruptionbudgets", "PodDisruptionBudget", "policy", "v1", generation=True, has_status=True),
)
SCALE = Resource("scale", "Scale", "autoscaling", "v1", "io.k8s.api.autoscaling.v1.Scale")
EVICTION = Resource("eviction", "Eviction", "policy", "v1", "io.k8s.api.policy.v1.Eviction")
DELETE_OPTIONS = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions"

PATH_RE = re.compile(r"/(?:api/(?P<core>v1)|apis/(?P<group>[^/]+)/(?P<version>[^/]+))"
                     r"(?:/namespaces/(?P<ns>[^/]+))?/(?P<plural>[^/]+)(?:/(?P<name>[^/]+)(?:/(?P<sub>[^/]+))?)?")

# (has name, subresource, method) -> handler method name
ROUTES = {
    (False, None, "GET"): "_list", (False, None, "POST"): "_create",
    (True, None, "GET"): "_get", (True, None, "PUT"): "_update", (True, None, "PATCH"): "_patch",
    (True, None, "DELETE"): "_delete",
    (True, "status", "GET"): "_get", (True, "status", "PUT"): "_update", (True, "status", "PATCH"): "_patch",
    (True, "scale", "GET"): "_get_scale", (True, "scale", "PUT"): "_update_scale",
    (True, "scale", "PATCH"): "_patch_scale",
    (True, "log", "GET"): "_log", (True, "eviction", "POST"): "_evict",
}
READ_HANDLERS = ("_list", "_get", "_get_scale", "_log")

PATCH_TYPES = {
    "application/json-patch+json": json_patch,
    "application/merge-patch+json": merge_patch,
    "application/strategic-merge-patch+json": merge_patch,  # maps and scalars only: lists are replaced (README)
}

FAULT_MESSAGES = {
    401: "Unauthorized",
    429: "Too many requests, please try again later.",
    500: "Internal error occurred: etcdserver: request timed out",
    503: "apiserver is shutting down",
    504: "Timeout: request did not complete within the allotted timeout",
}


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _prune_nulls(value):
    """Go's decoder treats null as unset: drop null members so they are not stored or echoed."""
    if isinstance(value, dict):
        return {k: _prune_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_prune_nulls(v) for v in value]
    return value


def _spec_part(obj):
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


def selector_string(selector):
    """A LabelSelector as the string form Scale.status.selector uses."""
    ops = {"In": "in", "NotIn": "notin"}
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for e in selector.get("matchExpressions") or []:
        op = e.get("operator")
        if op in ops:
            parts.append(f"{e['key']} {ops[op]} ({','.join(sorted(e.get('values') or []))})")
        else:
            parts.append(e["key"] if op == "Exists" else "!" + e["key"])
    return ",".join(parts)


class Request:
    """One HTTP request as the API code sees it; query maps a name to the list of its values."""

    def __init__(self, method, path, query, headers, body):
        self.method, self.path, self.query, self.headers, self.body = method, path, query, headers, body

    def q(self, name):
        values = self.query.get(name)
        return values[-1] if values else None

    def media_type(self):
        return (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()

    def int_param(self, name):
        value = self.q(name)
        if value is None:
            return None
        try:
            return int(value)
        except ValueError:
            raise bad_request(f'strconv.ParseInt: parsing "{value}": invalid syntax') from None


# -- the fake -----------------------------------------------------------------------------------------------------

class FakeK8s:
    """The fake API server. start() binds 127.0.0.1:port (0 = any) and returns self; stop() shuts it down.

    tokens: accepted bearer tokens (a random one if none). client_ca: also accept client certificates signed by
    the fake's CA (TLS only). field_validation: the default for requests without ?fieldValidation.
    persist: load DIR/objects.json at start and rewrite it after every change."""

    def __init__(self, port=0, state_dir=None, tls=False, tokens=None, client_ca=False, seed=None,
                 field_validation="Strict", persist=False):
        if field_validation not in FIELD_VALIDATION:
            raise ValueError(f"field_validation must be one of {FIELD_VALIDATION}")
        self.port, self.state_dir, self.tls, self.client_ca = port, state_dir, tls, client_ca
        self.field_validation, self.persist = field_validation, persist
        self._tokens = list(tokens or [secrets.token_urlsafe(24)])
        self._initial_seed = seed
        self._lock = threading.RLock()
        self._objects, self._logs, self._faults, self._requests = {}, {}, [], []
        self._rv = 1000
        self._resources = {(r.group, r.version, r.plural): r for r in RESOURCES}
        self._schemas = V.Schemas()
        self._conns = set()
        self._httpd = self._thread = self._tmp = self.pki = self._ssl = None
        self.info = {}

    # lifecycle
    def start(self):
        if self.state_dir is None:
            self._tmp = self.state_dir = tempfile.mkdtemp(prefix="fake-k8s-")
        os.makedirs(self.state_dir, exist_ok=True)
        if self.tls:
            self.pki = Pki(os.path.join(self.state_dir, "tls"))
            self._ssl = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._ssl.load_cert_chain(self.pki.server_cert, self.pki.server_key)
            if self.client_ca:
                self._ssl.verify_mode = ssl.CERT_OPTIONAL
                self._ssl.load_verify_locations(self.pki.ca_cert)
        if self.persist and os.path.exists(self._state_file()):
            with open(self._state_file(), encoding="utf-8") as f:
                saved = json.load(f)
            self._rv = saved["resourceVersion"]
            self._objects = {tuple(k.split("/", 2)): v for k, v in saved["objects"].items()}
        if self._initial_seed is not None:
            self.seed(self._initial_seed)
        self._httpd = _Server(("127.0.0.1", self.port), self)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-k8s", daemon=True)
        self._thread.start()
        scheme = "https" if self.tls else "http"
        self.info = {"url": f"{scheme}://127.0.0.1:{self.port}", "ca": self.pki.ca_cert if self.pki else None,
                     "token": self._tokens[0] if self._tokens else None}
        with open(os.path.join(self.state_dir, "fake.json"), "w", encoding="utf-8") as f:
            json.dump(self.info, f)
        return self

    def stop(self):
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                socket.socket.shutdown(conn, socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(5)
        self._httpd = None
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def url(self):
        return self.info["url"]

    @property
    def ca(self):
        return self.info["ca"]

    @property
    def token(self):
        return self.info["token"]

    # test API: credentials
    def set_tokens(self, tokens):
        """Replace the accepted bearer tokens (rotation)."""
        with self._lock:
            self._tokens = list(tokens)

    def client_cert(self, user, groups=()):
        """Mint a client certificate (CN=user, O=groups) signed by the fake's CA: (cert path, key path)."""
        if not self.pki:
            raise ValueError("client certificates need tls=True")
        return self.pki.client_cert(user, groups)

    # test API: objects
    def seed(self, data):
        """Load objects: a list of objects, {"objects": [...], "logs": [...]}, or the path of such a JSON file."""
        if isinstance(data, str):
            with open(data, encoding="utf-8") as f:
                data = json.load(f)
        if isinstance(data, list):
            data = {"objects": data}
        with self._lock:
            for obj in data.get("objects", []):
                self._seed_object(copy.deepcopy(obj))
            for entry in data.get("logs", []):
                self.set_logs(entry["namespace"], entry["pod"], entry["container"], entry.get("current"),
                              entry.get("previous"))

    def _seed_object(self, obj):
        res = self._resource_for(obj.get("apiVersion"), obj.get("kind"))
        if res.schema:
            unknown, decode, fields = self._schemas.check(res.schema, obj)
            problems = [f'unknown field "{u}"' for u in unknown] + decode + [str(e) for e in fields]
            if problems:
                raise ValueError(f"seed {res.kind} {obj.get('metadata', {}).get('name')!r}: {'; '.join(problems)}")
        stored = self._to_storage(res, obj)
        meta = stored.setdefault("metadata", {})
        if res.namespaced:
            meta.setdefault("namespace", "default")
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", now_rfc3339())
        if res.generation:
            meta.setdefault("generation", 1)
        if res.default:
            res.default(stored)
        self._put(res, stored)

    def _resource_for(self, api_version, kind):
        for res in RESOURCES:
            if res.api_version == api_version and res.kind == kind:
                return res
        raise ValueError(f"the fake does not store {kind} {api_version}")

    def objects(self, kind, namespace=None):
        """Stored objects of a resource (plural, e.g. "networkpolicies"), optionally of one namespace."""
        with self._lock:
            return [copy.deepcopy(o) for (store, ns, _), o in sorted(self._objects.items())
                    if store == kind and (namespace is None or ns == namespace)]

    def get_object(self, kind, namespace, name):
        with self._lock:
            obj = self._objects.get((kind, namespace or "", name))
            return copy.deepcopy(obj) if obj is not None else None

    def set_logs(self, namespace, pod, container, current=None, previous=None):
        """Logs of one container: lists of lines, each a string or {"time": RFC3339, "line": text}.
        previous=None means the container has no previous instance."""
        stamp = datetime.datetime.now(datetime.timezone.utc)

        def lines(entries):
            if entries is None:
                return None
            if isinstance(entries, str):
                entries = entries.splitlines()
            return [(parse_time(e["time"]), e["line"]) if isinstance(e, dict) else (stamp, e) for e in entries]

        with self._lock:
            self._logs[(namespace, pod, container)] = {"current": lines(current) or [], "previous": lines(previous)}

    def protect_pod(self, namespace, pod, pdb_name=None):
        """Create a PodDisruptionBudget that selects the pod's labels and allows no disruption."""
        with self._lock:
            target = self._objects.get(("pods", namespace, pod))
            if target is None or not target["metadata"].get("labels"):
                raise ValueError(f"pod {namespace}/{pod} must exist and have labels")
            labels = target["metadata"]["labels"]
            healthy = sum(1 for (s, ns, _), o in self._objects.items() if s == "pods" and ns == namespace
                          and labels_match(requirements_from_object({"matchLabels": labels}),
                                           o["metadata"].get("labels")))
            self._seed_object({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                               "metadata": {"name": pdb_name or pod + "-pdb", "namespace": namespace},
                               "spec": {"minAvailable": healthy, "selector": {"matchLabels": dict(labels)}},
                               "status": {"observedGeneration": 1, "disruptionsAllowed": 0, "currentHealthy": healthy,
                                          "desiredHealthy": healthy, "expectedPods": healthy}})

    def reset(self):
        """Forget objects, logs, faults and recorded requests (tokens stay)."""
        with self._lock:
            self._objects, self._logs, self._faults, self._requests = {}, {}, [], []
            self._save()

    # test API: faults
    def add_fault(self, path=".*", method=".*", status=None, body="status", message=None, reason=None,
                  retry_after=None, delay_ms=0, drop=False, times=1):
        """Queue a fault for requests whose method fullmatches `method` and whose path matches (re.search) `path`.
        It answers status with a Status body (body="status") or plain text (body="text"), optionally with
        Retry-After; or, with drop=True, closes the connection without answering. delay_ms waits before answering
        (alone, the request is then served normally). It fires `times` times, in queue order with other faults."""
        fault = {"path": path, "method": method, "status": status, "body": body, "message": message,
                 "reason": reason, "retry_after": retry_after, "delay_ms": int(delay_ms), "drop": bool(drop),
                 "times": int(times), "conflict": False}
        re.compile(path)
        re.compile(method)
        if body not in ("status", "text"):
            raise ValueError('body must be "status" or "text"')
        with self._lock:
            self._faults.append(fault)
        return fault

    def inject_conflict(self, path, times=1):
        """The next `times` PUTs to exactly this path answer 409 Conflict (as if someone else wrote first)."""
        fault = self.add_fault(path="^" + re.escape(path) + "$", method="PUT", status=409, times=times)
        fault["conflict"] = True
        return fault

    def faults(self):
        with self._lock:
            return copy.deepcopy(self._faults)

    def clear_faults(self):
        with self._lock:
            self._faults = []

    def _take_fault(self, req):
        with self._lock:
            for fault in self._faults:
                if re.fullmatch(fault["method"], req.method) and re.search(fault["path"], req.path):
                    fault["times"] -= 1
                    if fault["times"] <= 0:
                        self._faults.remove(fault)
                    return dict(fault)
        return None

    # test API: recording
    def requests(self, clear=False):
        """Every API request so far (not /_fake ones), oldest first."""
        with self._lock:
            out = copy.deepcopy(self._requests)
            if clear:
                self._requests = []
            return out

    # store primitives (caller holds the lock)
    def _key(self, res, ns, name):
        return (res.store, ns or "", name)

    def _put(self, res, stored):
        self._rv += 1
        stored["metadata"]["resourceVersion"] = str(self._rv)
        meta = stored["metadata"]
        self._objects[self._key(res, meta.get("namespace"), meta["name"])] = stored
        self._save()
        return stored

    def _remove(self, res, ns, name):
        self._rv += 1
        del self._objects[self._key(res, ns, name)]
        self._save()

    def _state_file(self):
        return os.path.join(self.state_dir, "objects.json")

    def _save(self):
        if not (self.persist and self.state_dir):
            return
        tmp = self._state_file() + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({"resourceVersion": self._rv, "objects": {"/".join(k): v for k, v in self._objects.items()}}, f)
        os.replace(tmp, self._state_file())

    def _to_storage(self, res, obj):
        stored = _prune_nulls(obj)
        for external, internal in res.renames:
            if external in stored:
                stored[internal] = stored.pop(external)
        if res.renames:
            stored["apiVersion"], stored["kind"] = "v1", res.kind
        stored.setdefault("apiVersion", res.api_version)
        stored.setdefault("kind", res.kind)
        stored.setdefault("metadata", {})
        return stored

    def _from_storage(self, res, stored):
        obj = copy.deepcopy(stored)
        for external, internal in res.renames:
            if internal in obj:
                obj[external] = obj.pop(internal)
        obj["apiVersion"], obj["kind"] = res.api_version, res.kind
        return obj

    def _existing(self, res, ns, name):
        obj = self._objects.get(self._key(res, ns, name))
        if obj is None:
            raise not_found(res, name)
        return obj

    # HTTP entry points (called from handler threads)
    def _serve_api(self, req, peer_user):
        """Return (code, body, headers), or None to drop the connection."""
        entry = {"method": req.method, "path": req.path, "query": {k: v[-1] for k, v in req.query.items()},
                 "headers": {k.lower(): ("Bearer <redacted>" if v.startswith("Bearer ") else "<redacted>")
                             if k.lower() == "authorization" else v for k, v in req.headers.items()},
                 "body": _recorded_body(req), "time": time.time(), "fault": None, "user": None}
        result = None
        try:
            fault = self._take_fault(req)
            if fault:
                entry["fault"] = "drop" if fault["drop"] else fault["status"] or "delay"
                time.sleep(fault["delay_ms"] / 1000.0)
                if fault["drop"]:
                    return None
                if fault["status"]:
                    result = self._fault_response(fault, req)
                    return result
            entry["user"] = peer_user or self._token_user(req)
            if entry["user"] is None:
                raise ApiError(401, "Unauthorized")
            result = self._api(req)
        except ApiError as e:
            result = (e.code, e.status, list(e.headers.items()))
        except Exception as e:  # a bug in the fake must show as a 500 answer, not a dropped connection
            error = ApiError(500, f"Internal error occurred: fake API server: {type(e).__name__}: {e}")
            result = (500, error.status, [])
        finally:
            entry["status"] = result[0] if result else None
            with self._lock:
                self._requests.append(entry)
        return result

    def _token_user(self, req):
        auth = req.headers.get("Authorization") or ""
        scheme, _, token = auth.partition(" ")
        with self._lock:
            return "bearer-token" if scheme.lower() == "bearer" and token.strip() in self._tokens else None

    def _fault_response(self, fault, req):
        code = fault["status"]
        headers = [("Retry-After", str(fault["retry_after"]))] if fault["retry_after"] is not None else []
        if fault["conflict"]:
            m = PATH_RE.fullmatch(req.path)
            res = self._resources.get((m["group"] or "", m["core"] or m["version"], m["plural"])) if m else None
            name = urllib.parse.unquote(m["name"] or "") if m else ""
            if res:
                e = conflict(res, name)
                return e.code, e.status, headers
        message = fault["message"] or FAULT_MESSAGES.get(code, f"fault injected by the test ({code})")
        if fault["body"] == "text":
            return code, message + "\n", headers + [("Content-Type", "text/plain; charset=utf-8")]
        details = {"retryAfterSeconds": fault["retry_after"]} if fault["retry_after"] else None
        e = ApiError(code, message, fault["reason"], details)
        return code, e.status, headers

    def _control(self, req):
        handler = CONTROL.get((req.method, req.path))
        if handler is None:
            return 404, {"error": f"no control endpoint {req.method} {req.path}"}, []
        try:
            payload = json.loads(req.body) if req.body else None
            return 200, handler(self, req, payload), []
        except (ValueError, KeyError, TypeError, re.error) as e:
            return 400, {"error": str(e)}, []

    # the API
    def _api(self, req):
        if req.path in DISCOVERY:
            return 200, DISCOVERY[req.path](self, req.path), []
        m = PATH_RE.fullmatch(req.path)
        if not m:
            raise path_not_found()
        res = self._resources.get((m["group"] or "", m["core"] or m["version"], m["plural"]))
        ns = urllib.parse.unquote(m["ns"]) if m["ns"] else None
        name = urllib.parse.unquote(m["name"]) if m["name"] else None
        if res is None or (ns is not None and not res.namespaced) or \
                (ns is None and res.namespaced and name is not None) or \
                (m["sub"] is not None and m["sub"] not in res.subresources):
            raise path_not_found()
        handler = ROUTES.get((name is not None, m["sub"], req.method))
        if handler is None or (res.schema is None and handler not in READ_HANDLERS) or \
                (ns is None and res.namespaced and handler != "_list"):
            raise method_not_allowed()
        if req.q("watch") in ("true", "1"):
            raise bad_request("the fake API server does not serve watch requests")
        return getattr(self, handler)(req, res, ns, name, m["sub"])

    def _options(self, req, options_kind, extra_dry_run=()):
        """Validate dryRun/fieldValidation/fieldManager; return (dry run?, field validation mode)."""
        errs = []
        dry = req.query.get("dryRun", []) + list(extra_dry_run)
        if any(v != "All" for v in dry):
            errs.append(not_supported("dryRun", dry, ["All"]))
        mode = req.q("fieldValidation")
        if mode not in (None, "") + FIELD_VALIDATION:
            errs.append(not_supported("fieldValidation", mode, ("",) + FIELD_VALIDATION))
        manager = req.q("fieldManager")
        if manager is not None and len(manager) > 128:
            errs.append(FieldError("TooLong", "fieldManager", None, "must be no more than 128 characters"))
        if errs:
            raise options_invalid(options_kind, errs)
        return bool(dry), mode or self.field_validation

    def _decode(self, req, res):
        if req.media_type() not in ("", "application/json"):
            raise unsupported_media_type(["application/json"])
        try:
            obj = json.loads(req.body or b"null")
        except ValueError as e:
            obj, error = None, str(e)
        else:
            error = "json: cannot unmarshal into Go value of type struct"
        if not isinstance(obj, dict):
            raise bad_request(f"the object provided is unrecognized (must be of type {res.kind}): couldn't get "
                              f"version/kind; json parse error: {error}")
        if obj.get("apiVersion") not in (None, res.api_version):
            raise bad_request(f"the API version in the data ({obj['apiVersion']}) does not match the expected API "
                              f"version ({res.api_version})")
        if obj.get("kind") not in (None, res.kind):
            raise bad_request(f'{obj["kind"]} in version "{res.version}" cannot be handled as a {res.kind}: '
                              f'the kind in the data ({obj["kind"]}) does not match the expected kind ({res.kind})')
        return obj

    def _schema_check(self, res, obj, mode, patched=False):
        """Schema-validate obj (external form) in place; return (FieldErrors, warning headers).
        Unknown fields fail under Strict, are dropped with a Warning under Warn, dropped silently under Ignore."""
        unknown, decode, fields = self._schemas.check(res.schema, obj)
        if res.decode and not decode:
            decode = res.decode(obj)
        warnings = []
        if unknown and mode == "Strict":
            decode.insert(0, "strict decoding error: " + ", ".join(f'unknown field "{u}"' for u in unknown))
        elif unknown:
            V.drop_fields(obj, unknown)
            if mode == "Warn":
                warnings = [("Warning", "299 - " + json.dumps(f'unknown field "{u}"')) for u in unknown]
        if decode and patched:
            raise invalid("", "", "", [FieldError("Invalid", "patch", json.dumps(obj), decode[0])])
        if decode:
            raise bad_request(f'{res.kind} in version "{res.version}" cannot be handled as a {res.kind}: {decode[0]}')
        return fields, warnings

    def _check_target(self, res, meta, ns, name=None):
        if res.namespaced and meta.get("namespace") not in (None, "", ns):
            raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
        if name is not None and meta.get("name") != name:
            raise bad_request(f"the name of the object ({meta.get('name') or ''}) does not match the name on the URL "
                              f"({name})")

    def _validate(self, res, stored, old, errs):
        if res.default:
            res.default(stored)
        errs = errs + V.object_meta_errors(stored["metadata"]) + (res.check(stored, old) if res.check else [])
        if errs:
            raise invalid(res.kind, res.group, stored["metadata"].get("name") or "", errs)

    def _respond(self, res, stored, code, warnings=()):
        return code, self._from_storage(res, stored), list(warnings)

    def _list(self, req, res, ns, name, sub):
        try:
            labels = parse_label_selector(req.q("labelSelector"), V.qualified_name_errors, V.label_value_errors)
            paths = dict((("metadata.name", "metadata.name"), ("metadata.namespace", "metadata.namespace"))
                         + res.fields)
            fields = parse_field_selector(req.q("fieldSelector"), paths)
        except SelectorError as e:
            raise bad_request(str(e)) from None
        limit, token = req.int_param("limit"), req.q("continue")
        try:
            start = json.loads(base64.urlsafe_b64decode(token)) if token else None
        except ValueError:
            raise bad_request("continue key is not valid") from None
        with self._lock:
            items = [o for (store, o_ns, o_name), o in sorted(self._objects.items())
                     if store == res.store and (ns is None or o_ns == ns)
                     and (start is None or [o_ns, o_name] > start)
                     and labels_match(labels, o["metadata"].get("labels")) and fields_match(fields, o, paths)]
            meta = {"resourceVersion": str(self._rv)}
            if limit and limit > 0 and len(items) > limit:
                last = items[limit - 1]["metadata"]
                meta["continue"] = base64.urlsafe_b64encode(
                    json.dumps([last.get("namespace", ""), last["name"]]).encode()).decode()
                meta["remainingItemCount"] = len(items) - limit
                items = items[:limit]
            out = []
            for o in items:
                item = self._from_storage(res, o)
                del item["apiVersion"], item["kind"]
                out.append(item)
        return 200, {"kind": res.kind + "List", "apiVersion": res.api_version, "metadata": meta, "items": out}, []

    def _get(self, req, res, ns, name, sub):
        with self._lock:
            return self._respond(res, self._existing(res, ns, name), 200)

    def _create(self, req, res, ns, name, sub):
        dry, mode = self._options(req, "CreateOptions")
        obj = self._decode(req, res)
        errs, warnings = self._schema_check(res, obj, mode)
        stored = self._to_storage(res, obj)
        meta = stored["metadata"]
        self._check_target(res, meta, ns)
        if meta.get("resourceVersion"):
            raise ApiError(500, "Internal error occurred: resourceVersion should not be set on objects to be created",
                           details={"causes": [{"message": "resourceVersion should not be set on objects to be created"}]})
        if res.namespaced:
            meta["namespace"] = ns
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + "".join(random.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))
        self._validate(res, stored, None, errs)
        meta.update(uid=str(uuid.uuid4()), creationTimestamp=now_rfc3339())
        if res.generation:
            meta["generation"] = 1
        with self._lock:
            if self._key(res, ns, meta["name"]) in self._objects:
                raise already_exists(res, meta["name"])
            if not dry:
                self._put(res, stored)
            return self._respond(res, stored, 201, warnings)

    def _update(self, req, res, ns, name, sub):
        dry, mode = self._options(req, "UpdateOptions")
        obj = self._decode(req, res)
        errs, warnings = self._schema_check(res, obj, mode)
        with self._lock:
            old = self._existing(res, ns, name)
            return self._commit(res, old, self._to_storage(res, obj), ns, name, sub, dry, errs, warnings)

    def _patch(self, req, res, ns, name, sub):
        dry, mode = self._options(req, "PatchOptions")
        if req.q("force") is not None:
            raise options_invalid("PatchOptions", [FieldError("Forbidden", "force", None,
                                                              "may not be specified for non-apply patch")])
        apply = PATCH_TYPES.get(req.media_type())
        if apply is None:
            raise unsupported_media_type(list(PATCH_TYPES))
        try:
            patch = json.loads(req.body or b"null")
        except ValueError as e:
            raise bad_request(f"error decoding patch: {e}") from None
        if apply is merge_patch and not isinstance(patch, dict):
            raise bad_request("error decoding patch: json: cannot unmarshal into Go value of type map[string]interface {}")
        with self._lock:
            old = self._existing(res, ns, name)
            try:
                result = apply(self._from_storage(res, old), patch)
            except PatchDecodeError as e:
                raise bad_request(str(e)) from None
            except PatchApplyError as e:
                raise ApiError(422, "the server rejected our request due to an error in our request",
                               details={"causes": [{"reason": "UnexpectedServerResponse", "message": str(e)}]}) from None
            if not isinstance(result, dict):
                raise invalid("", "", "", [FieldError("Invalid", "patch", json.dumps(result),
                                                      "json: cannot unmarshal into Go value of type struct")])
            errs, warnings = self._schema_check(res, result, mode, patched=True)
            return self._commit(res, old, self._to_storage(res, result), ns, name, sub, dry, errs, warnings)

    def _commit(self, res, old, new, ns, name, sub, dry, errs, warnings):
        """Finish an update (PUT or PATCH result) against old; caller holds the lock."""
        meta = new["metadata"]
        self._check_target(res, meta, ns, name)
        old_meta = old["metadata"]
        if meta.get("resourceVersion") and meta["resourceVersion"] != old_meta["resourceVersion"]:
            raise conflict(res, name)
        if meta.get("uid") and meta["uid"] != old_meta["uid"]:
            errs = errs + [FieldError("Invalid", "metadata.uid", meta["uid"], "field is immutable")]
        if sub == "status":
            new = dict(copy.deepcopy(old), status=new.get("status"))
            meta = new["metadata"]
        elif res.has_status:
            new["status"] = copy.deepcopy(old.get("status"))
        new = _prune_nulls(new)
        meta = new["metadata"]
        for key in ("uid", "creationTimestamp", "generation", "resourceVersion", "namespace"):
            if key in old_meta:
                meta[key] = old_meta[key]
        self._validate(res, new, old, errs)
        if res.generation and _spec_part(new) != _spec_part(old):
            meta["generation"] = old_meta.get("generation", 1) + 1
        if new != old and not dry:
            self._put(res, new)
        return self._respond(res, new, 200, warnings)

    def _delete(self, req, res, ns, name, sub):
        opts = {}
        if req.body:
            try:
                opts = json.loads(req.body)
            except ValueError as e:
                raise bad_request(f"error decoding DeleteOptions: {e}") from None
            unknown, decode, _ = self._schemas.check(DELETE_OPTIONS, opts)
            if unknown or decode or not isinstance(opts, dict):
                raise bad_request(f"DeleteOptions in version \"v1\" cannot be handled as a DeleteOptions: "
                                  f"{(decode or [f'unknown field {unknown}'])[0]}")
        dry, _ = self._options(req, "DeleteOptions", opts.get("dryRun") or ())
        grace = req.int_param("gracePeriodSeconds")
        grace = opts.get("gracePeriodSeconds") if grace is None else grace
        policy = req.q("propagationPolicy") or opts.get("propagationPolicy")
        if policy not in (None, "Foreground", "Background", "Orphan"):
            raise options_invalid("DeleteOptions", [not_supported("propagationPolicy", policy,
                                                                  ["Foreground", "Background", "Orphan", "nil"])])
        with self._lock:
            old = self._existing(res, ns, name)
            self._check_preconditions(res, name, old, opts.get("preconditions") or {})
            if not dry:
                self._remove(res, ns, name)
            if res.plural != "pods":
                return 200, success_status(details={**resource_details(res, name), "uid": old["metadata"]["uid"]}), []
            pod = self._from_storage(res, old)
            grace = (old.get("spec") or {}).get("terminationGracePeriodSeconds", 30) if grace is None else grace
            if grace > 0:
                deadline = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=grace)
                pod["metadata"].update(deletionTimestamp=deadline.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                       deletionGracePeriodSeconds=grace)
            return 200, pod, []

    def _check_preconditions(self, res, name, obj, preconditions):
        for key, label in (("uid", "UID"), ("resourceVersion", "ResourceVersion")):
            want, have = preconditions.get(key), obj["metadata"].get(key)
            if want and want != have:
                raise conflict(res, name, f"Precondition failed: {label} in precondition: {want}, {label} in object "
                                          f"meta: {have}")

    def _scale_of(self, workload):
        meta = workload["metadata"]
        return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                             if k in meta},
                "spec": {"replicas": workload["spec"].get("replicas", 0)},
                "status": {"replicas": (workload.get("status") or {}).get("replicas", 0),
                           "selector": selector_string(workload["spec"].get("selector") or {})}}

    def _get_scale(self, req, res, ns, name, sub):
        with self._lock:
            return 200, self._scale_of(self._existing(res, ns, name)), []

    def _update_scale(self, req, res, ns, name, sub):
        dry, mode = self._options(req, "UpdateOptions")
        scale = self._decode(req, SCALE)
        errs, warnings = self._schema_check(SCALE, scale, mode)
        with self._lock:
            return self._write_scale(res, ns, name, scale, dry, errs, warnings)

    def _patch_scale(self, req, res, ns, name, sub):
        dry, mode = self._options(req, "PatchOptions")
        apply = PATCH_TYPES.get(req.media_type())
        if apply is None:
            raise unsupported_media_type(list(PATCH_TYPES))
        try:
            patch = json.loads(req.body or b"null")
        except ValueError as e:
            raise bad_request(f"error decoding patch: {e}") from None
        with self._lock:
            try:
                scale = apply(self._scale_of(self._existing(res, ns, name)), patch)
            except PatchDecodeError as e:
                raise bad_request(str(e)) from None
            except PatchApplyError as e:
                raise ApiError(422, "the server rejected our request due to an error in our request",
                               details={"causes": [{"reason": "UnexpectedServerResponse", "message": str(e)}]}) from None
            errs, warnings = self._schema_check(SCALE, scale, mode, patched=True)
            return self._write_scale(res, ns, name, scale, dry, errs, warnings)

    def _write_scale(self, res, ns, name, scale, dry, errs, warnings):
        old = self._existing(res, ns, name)
        meta = scale.get("metadata") or {}
        self._check_target(res, meta, ns, name)
        if meta.get("resourceVersion") and meta["resourceVersion"] != old["metadata"]["resourceVersion"]:
            raise conflict(res, name)
        replicas = (scale.get("spec") or {}).get("replicas", 0)
        if isinstance(replicas, int) and replicas < 0:
            errs = errs + [FieldError("Invalid", "spec.replicas", replicas, "must be greater than or equal to 0")]
        if errs:
            raise invalid(SCALE.kind, SCALE.group, name, errs)
        new = copy.deepcopy(old)
        new["spec"]["replicas"] = replicas
        if new != old:
            new["metadata"]["generation"] = old["metadata"].get("generation", 1) + 1
            if not dry:
                self._put(res, new)
        return 200, self._scale_of(new), list(warnings)

    def _log(self, req, res, ns, name, sub):
        with self._lock:
            pod = self._existing(res, ns, name)
            spec = pod.get("spec") or {}
            names = [c["name"] for group in ("initContainers", "containers", "ephemeralContainers")
                     for c in spec.get(group) or []]
            container = req.q("container")
            if not container:
                if len(spec.get("containers") or []) != 1:
                    raise bad_request(f"a container name must be specified for pod {name}, choose one of: "
                                      f"[{' '.join(names)}]")
                container = spec["containers"][0]["name"]
            elif container not in names:
                raise bad_request(f"container {container} is not valid for pod {name}")
            logs = self._logs.get((ns, name, container), {"current": [], "previous": None})
        tail, limit, since = req.int_param("tailLines"), req.int_param("limitBytes"), req.int_param("sinceSeconds")
        since_time = req.q("sinceTime")
        errs = []
        if tail is not None and tail < 0:
            errs.append(FieldError("Invalid", "tailLines", tail, "must be greater than or equal to 0"))
        if limit is not None and limit < 1:
            errs.append(FieldError("Invalid", "limitBytes", limit, "must be greater than 0"))
        if since is not None and since_time is not None:
            errs.append(FieldError("Forbidden", "", None, "at most one of `sinceTime` or `sinceSeconds` may be specified"))
        elif since is not None and since < 1:
            errs.append(FieldError("Invalid", "sinceSeconds", since, "must be greater than 0"))
        if errs:
            raise invalid("PodLogOptions", "", name, errs)
        if req.q("previous") in ("true", "1", "True"):
            lines = logs["previous"]
            if lines is None:
                raise bad_request(f'previous terminated container "{container}" in pod "{name}" not found')
        else:
            lines = logs["current"]
        if since is not None or since_time is not None:
            cutoff = parse_time(since_time) if since_time else \
                datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=since)
            lines = [entry for entry in lines if entry[0] >= cutoff]
        if tail is not None:
            lines = lines[len(lines) - tail:] if tail else []
        stamps = req.q("timestamps") in ("true", "1", "True")
        text = "".join((t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond * 1000:09d}Z " if stamps else "")
                       + line + "\n" for t, line in lines).encode()
        if limit is not None:
            text = text[:limit]
        return 200, text.decode(errors="replace"), [("Content-Type", "text/plain")]

    def _evict(self, req, res, ns, name, sub):
        url_dry = req.query.get("dryRun", [])
        self._options(req, "CreateOptions")
        body = self._decode(req, EVICTION)
        errs, _ = self._schema_check(EVICTION, body, self.field_validation)
        meta = body.get("metadata") or {}
        if meta.get("name") != name:
            raise bad_request("name in URL does not match name in Eviction object")
        self._check_target(res, meta, ns)
        opts = body.get("deleteOptions") or {}
        body_dry = opts.get("dryRun") or []
        if url_dry and body_dry and url_dry != body_dry:
            raise bad_request(f"Non-matching dry-run options in request and content: [{' '.join(url_dry)}] and "
                              f"[{' '.join(body_dry)}]")
        dry, _ = self._options(Request("POST", req.path, {"dryRun": body_dry}, {}, b""), "DeleteOptions")
        dry = dry or bool(url_dry)
        if errs:
            raise invalid(EVICTION.kind, EVICTION.group, name, errs)
        with self._lock:
            pod = self._existing(res, ns, name)
            self._check_preconditions(res, name, pod, opts.get("preconditions") or {})
            phase = (pod.get("status") or {}).get("phase")
            if phase not in ("Pending", "Succeeded", "Failed") and not pod["metadata"].get("deletionTimestamp"):
                self._check_disruption_budget(pod, ns, dry)
            if not dry:
                self._remove(res, ns, name)
        return 201, success_status(201), []

    def _check_disruption_budget(self, pod, ns, dry):
        pdb_res = self._resources[("policy", "v1", "poddisruptionbudgets")]
        labels = pod["metadata"].get("labels") or {}
        pdbs = [o for (store, o_ns, _), o in sorted(self._objects.items()) if store == pdb_res.store and o_ns == ns
                and labels_match(requirements_from_object((o.get("spec") or {}).get("selector") or {}), labels)]
        if len(pdbs) > 1:
            raise ApiError(500, "This pod has more than one PodDisruptionBudget, which the eviction subresource "
                                "does not support.", reason="")
        if not pdbs:
            return
        pdb, message = pdbs[0], "Cannot evict pod as it would violate the pod's disruption budget."
        status, pdb_name = pdb.get("status") or {}, pdb["metadata"]["name"]
        if status.get("observedGeneration", 0) < pdb["metadata"].get("generation", 1):
            raise ApiError(429, message, details={"causes": [{"reason": "DisruptionBudget", "message":
                           f"The disruption budget {pdb_name} is still being processed by the server."}],
                           "retryAfterSeconds": 10}, headers={"Retry-After": "10"})
        if status.get("disruptionsAllowed", 0) <= 0:
            raise ApiError(429, message, details={"causes": [{"reason": "DisruptionBudget", "message":
                           f"The disruption budget {pdb_name} needs {status.get('desiredHealthy', 0)} healthy pods "
                           f"and has {status.get('currentHealthy', 0)} currently"}]})
        if not dry:
            updated = copy.deepcopy(pdb)
            updated["status"]["disruptionsAllowed"] -= 1
            self._put(pdb_res, updated)


def _recorded_body(req):
    if not req.body:
        return None
    text = req.body.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


# -- discovery ----------------------------------------------------------------------------------------------------

def _version(fake, path):
    return {"major": "1", "minor": "34", "gitVersion": "v1.34.1", "gitCommit": "fake", "gitTreeState": "clean",
            "buildDate": "2025-09-09T00:00:00Z", "goVersion": "go1.24.6", "compiler": "gc", "platform": "linux/amd64"}


def _api_versions(fake, path):
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": f"127.0.0.1:{fake.port}"}]}


def _api_groups(fake, path):
    groups = sorted({(r.group, r.version) for r in RESOURCES if r.group})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
        {"name": g, "versions": [{"groupVersion": f"{g}/{v}", "version": v}],
         "preferredVersion": {"groupVersion": f"{g}/{v}", "version": v}} for g, v in groups]}


def _api_resources(fake, path):
    group_version = path[len("/api/"):] if path.startswith("/api/") else path[len("/apis/"):]
    entries = []
    for r in RESOURCES:
        if r.api_version != group_version:
            continue
        verbs = ["get", "list"] + (["create", "update", "patch", "delete"] if r.schema else [])
        entries.append({"name": r.plural, "singularName": r.kind.lower(), "namespaced": r.namespaced, "kind": r.kind,
                        "verbs": verbs})
        entries += [{"name": f"{r.plural}/{s}", "singularName": "", "namespaced": r.namespaced,
                     "kind": {"scale": "Scale", "eviction": "Eviction"}.get(s, r.kind if s == "status" else "Pod"),
                     "verbs": {"log": ["get"], "eviction": ["create"]}.get(s, ["get", "patch", "update"])}
                    for s in r.subresources]
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": entries}


DISCOVERY = {"/version": _version, "/api": _api_versions, "/apis": _api_groups, "/api/v1": _api_resources}
DISCOVERY.update({f"/apis/{r.api_version}": _api_resources for r in RESOURCES if r.group})


# -- control endpoints (/_fake/..., no auth) ------------------------------------------------------------------------

def _c_requests(fake, req, payload):
    return fake.requests(clear=req.q("clear") in ("1", "true"))


def _c_objects(fake, req, payload):
    return fake.objects(req.q("kind"), req.q("namespace"))


def _c_seed(fake, req, payload):
    fake.seed(payload)
    return {"ok": True}


def _c_add_faults(fake, req, payload):
    return [fake.add_fault(**f) for f in (payload if isinstance(payload, list) else [payload])]


def _c_clear_faults(fake, req, payload):
    fake.clear_faults()
    return {"ok": True}


def _c_conflict(fake, req, payload):
    return fake.inject_conflict(payload["path"], payload.get("times", 1))


def _c_tokens(fake, req, payload):
    fake.set_tokens(payload["tokens"])
    return {"ok": True}


def _c_reset(fake, req, payload):
    fake.reset()
    return {"ok": True}


def _c_pdb(fake, req, payload):
    fake.protect_pod(payload["namespace"], payload["pod"], payload.get("pdb"))
    return {"ok": True}


def _c_client_cert(fake, req, payload):
    cert, key = fake.client_cert(payload["user"], payload.get("groups", ()))
    return {"cert": cert, "key": key}


CONTROL = {
    ("GET", "/_fake/requests"): _c_requests,
    ("GET", "/_fake/objects"): _c_objects,
    ("POST", "/_fake/seed"): _c_seed,
    ("GET", "/_fake/faults"): lambda fake, req, payload: fake.faults(),
    ("POST", "/_fake/faults"): _c_add_faults,
    ("DELETE", "/_fake/faults"): _c_clear_faults,
    ("POST", "/_fake/conflicts"): _c_conflict,
    ("POST", "/_fake/tokens"): _c_tokens,
    ("POST", "/_fake/reset"): _c_reset,
    ("POST", "/_fake/pdb"): _c_pdb,
    ("POST", "/_fake/client-certs"): _c_client_cert,
}


# -- HTTP plumbing --------------------------------------------------------------------------------------------------

class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-kube-apiserver"
    timeout = 60

    def log_message(self, *args):
        pass

    def _read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            body = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                chunk = self.rfile.read(size + 2)[:size]
                if size == 0:
                    return body
                body += chunk
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _peer_user(self):
        if not isinstance(self.connection, ssl.SSLSocket):
            return None
        cert = self.connection.getpeercert()
        for rdn in (cert or {}).get("subject", ()):
            for key, value in rdn:
                if key == "commonName":
                    return value
        return None

    def _serve(self):
        url = urllib.parse.urlsplit(self.path)
        req = Request(self.command, url.path, urllib.parse.parse_qs(url.query, keep_blank_values=True), self.headers,
                      self._read_body())
        fake = self.server.fake
        result = fake._control(req) if req.path.startswith("/_fake/") else fake._serve_api(req, self._peer_user())
        if result is None:
            self.close_connection = True
            socket.socket.shutdown(self.connection, socket.SHUT_RDWR)
            return
        code, body, headers = result
        content_type = "application/json"
        for key, value in headers:
            if key == "Content-Type":
                content_type = value
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for key, value in headers:
            if key != "Content-Type":
                self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve


class _Server(http.server.ThreadingHTTPServer):
    """TLS handshakes happen in the connection's own thread; open connections are tracked so stop() can end them."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, address, fake):
        self.fake = fake
        super().__init__(address, _Handler)

    def finish_request(self, request, client_address):
        # http.server sends headers and body in two writes: without NODELAY the
        # body waits for the client's delayed ACK (~40 ms per answer).
        try:
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        conn = request
        if self.fake._ssl:
            request.settimeout(10)
            try:
                conn = self.fake._ssl.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                return
        with self.fake._lock:
            self.fake._conns.add(conn)
        try:
            self.RequestHandlerClass(conn, client_address, self)
        except OSError:
            pass
        finally:
            with self.fake._lock:
                self.fake._conns.discard(conn)
            conn.close()

    def handle_error(self, request, client_address):
        pass


def main(argv=None):
    parser = argparse.ArgumentParser(description="Fake Kubernetes API server for ird's tests")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--tls", action="store_true")
    parser.add_argument("--client-ca", action="store_true", help="also accept client certificates signed by the CA")
    parser.add_argument("--token", action="append", help="an accepted bearer token (repeatable)")
    parser.add_argument("--seed", help="JSON seed file")
    parser.add_argument("--field-validation", choices=FIELD_VALIDATION, default="Strict")
    parser.add_argument("--persist", action="store_true", help="keep objects in STATE_DIR/objects.json")
    args = parser.parse_args(argv)
    fake = FakeK8s(port=args.port, state_dir=args.state_dir, tls=args.tls, tokens=args.token,
                   client_ca=args.client_ca, seed=args.seed, field_validation=args.field_validation,
                   persist=args.persist).start()
    print(json.dumps(fake.info), flush=True)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
