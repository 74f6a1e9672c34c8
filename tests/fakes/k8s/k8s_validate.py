"""Request body validation for the fake API server: the real 1.34 JSON schemas plus the semantic checks
a real server makes that a schema cannot (names, label syntax, policyTypes, events.k8s.io rules, Secrets).

Schema errors are sorted the way the API server's decoder and validation would report them:
unknown fields (strict decoding), decode errors (wrong JSON type -> 400) and field errors (-> 422).
"""

import base64
import binascii
import ipaddress
import json
import os
import re

import jsonschema

from k8s_errors import FieldError, not_supported

SCHEMA_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schemas", "k8s-1.34-strict.json")

DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
QUALIFIED_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
CONFIG_KEY = re.compile(r"[-._a-zA-Z0-9]+")

MSG_LABEL = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
             "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
             "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
MSG_SUBDOMAIN = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
                 "must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation "
                 "is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
MSG_QNAME = ("must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
             "character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
             "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
MSG_LABEL_VALUE = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and "
                   "must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', "
                   "regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")
MSG_CONFIG_KEY = ("a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or "
                  "'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')")


# -- name and label syntax (k8s.io/apimachinery pkg/util/validation) --------------------------------------------

def dns_label_errors(value):
    errs = [] if len(value) <= 63 else ["must be no more than 63 characters"]
    return errs + ([] if DNS1123_LABEL.fullmatch(value) else [MSG_LABEL])


def dns_subdomain_errors(value):
    errs = [] if len(value) <= 253 else ["must be no more than 253 characters"]
    return errs + ([] if DNS1123_SUBDOMAIN.fullmatch(value) else [MSG_SUBDOMAIN])


def qualified_name_errors(value):
    parts = value.split("/")
    if len(parts) > 2:
        return ["a qualified name " + MSG_QNAME + " with an optional DNS subdomain prefix and '/' "
                "(e.g. 'example.com/MyName')"]
    errs, name = [], parts[-1]
    if len(parts) == 2:
        errs += ["prefix part " + e for e in dns_subdomain_errors(parts[0])] if parts[0] else \
            ["prefix part must be non-empty"]
    if not name:
        return errs + ["name part must be non-empty"]
    if len(name) > 63:
        errs.append("name part must be no more than 63 characters")
    if not QUALIFIED_NAME.fullmatch(name):
        errs.append("name part " + MSG_QNAME)
    return errs


def label_value_errors(value):
    errs = [] if len(value) <= 63 else ["must be no more than 63 characters"]
    return errs + ([] if LABEL_VALUE.fullmatch(value) else [MSG_LABEL_VALUE])


def _each(errors_fn, field, value):
    return [FieldError("Invalid", field, value, msg) for msg in errors_fn(value)]


def _labels(labels, field):
    errs = []
    for key, value in (labels or {}).items():
        errs += _each(qualified_name_errors, field, key)
        errs += _each(label_value_errors, field, value if isinstance(value, str) else "")
    return errs


def _annotations(annotations, field):
    errs = [e for key in (annotations or {}) for e in _each(qualified_name_errors, field, key)]
    size = sum(len(k) + len(v or "") for k, v in (annotations or {}).items())
    if size > 256 * 1024:
        errs.append(FieldError("TooLong", field, None, f"must have at most {256 * 1024} bytes"))
    return errs


def _label_selector(selector, field):
    if not selector:
        return []
    errs = _labels(selector.get("matchLabels"), field + ".matchLabels")
    for i, expr in enumerate(selector.get("matchExpressions") or []):
        path = f"{field}.matchExpressions[{i}]"
        errs += _each(qualified_name_errors, path + ".key", expr.get("key", ""))
        op, values = expr.get("operator"), expr.get("values") or []
        if op in ("In", "NotIn") and not values:
            errs.append(FieldError("Required", path + ".values", None,
                                   "must be specified when `operator` is 'In' or 'NotIn'"))
        elif op in ("Exists", "DoesNotExist") and values:
            errs.append(FieldError("Forbidden", path + ".values", None,
                                   "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
        elif op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            errs.append(FieldError("Invalid", path + ".operator", op, "not a valid selector operator"))
    return errs


def object_meta_errors(meta, field="metadata"):
    errs = []
    name = meta.get("name")
    if name:
        errs += _each(dns_subdomain_errors, field + ".name", name)
    elif not meta.get("generateName"):
        errs.append(FieldError("Required", field + ".name", None, "name or generateName is required"))
    return errs + _labels(meta.get("labels"), field + ".labels") + \
        _annotations(meta.get("annotations"), field + ".annotations")


# -- JSON schema ------------------------------------------------------------------------------------------------

class Schemas:
    """Draft-4 validators over the bundled definitions, one per root type, built on first use."""

    def __init__(self, path=SCHEMA_FILE):
        with open(path, encoding="utf-8") as f:
            self._definitions = json.load(f)["definitions"]
        self._validators = {}

    def validator(self, definition):
        if definition not in self._validators:
            schema = {"$ref": "#/definitions/" + definition, "definitions": self._definitions}
            self._validators[definition] = jsonschema.Draft4Validator(schema)
        return self._validators[definition]

    def check(self, definition, obj):
        """Return (unknown field paths, decode error texts, FieldErrors) for obj against definition."""
        unknown, decode, fields = [], [], []
        for error in self.validator(definition).iter_errors(obj):
            _classify(error, unknown, decode, fields)
        return unknown, decode, fields


def field_path(parts):
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (("." if out else "") + str(p))
    return out


_JSON_TYPES = ((bool, "bool"), (str, "string"), ((int, float), "number"), (list, "array"), (dict, "object"))


def _json_type(value):
    return next((name for types, name in _JSON_TYPES if isinstance(value, types)), "null")


def _classify(error, unknown, decode, fields):
    path = field_path(error.absolute_path)
    if error.validator == "additionalProperties":
        known = set(error.schema.get("properties", {}))
        unknown += [field_path(list(error.absolute_path) + [k]) for k in error.instance if k not in known]
    elif error.validator in ("anyOf", "oneOf"):
        branches = {}
        for sub in error.context:
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
        # The branch that failed on something deeper than the value's own type is the one the value was meant for.
        deeper = [errs for errs in branches.values() if not any(e.validator == "type" and
                                                               e.path == error.path for e in errs)]
        if deeper:
            for sub in deeper[0]:
                _classify(sub, unknown, decode, fields)
        else:
            decode.append(f"json: cannot unmarshal {_json_type(error.instance)} into Go struct field {path}")
    elif error.validator == "type":
        expected = error.validator_value if isinstance(error.validator_value, str) else \
            "|".join(t for t in error.validator_value if t != "null")
        decode.append(f"json: cannot unmarshal {_json_type(error.instance)} into Go struct field {path} "
                      f"of type {expected}")
    elif error.validator == "enum" and path in ("apiVersion", "kind"):
        decode.append(f"{path} {error.instance!r} is not one of {error.validator_value}")
    elif error.validator == "required":
        present = set(error.instance) if isinstance(error.instance, dict) else set()
        for name in error.validator_value:
            if name not in present:
                fields.append(FieldError("Required", field_path(list(error.absolute_path) + [name])))
    else:
        fields.append(FieldError("Invalid", path, error.instance, error.message))


def drop_fields(obj, paths):
    """Remove the unknown fields listed (as dotted/indexed paths) from obj, as Warn/Ignore decoding does."""
    for path in paths:
        tokens = [int(t) if t.isdigit() else t for t in re.findall(r"[^.\[\]]+", path)]
        node = obj
        for t in tokens[:-1]:
            node = node[t]
        node.pop(tokens[-1], None)


# -- semantic checks per resource --------------------------------------------------------------------------------

def _pod_template(obj, field):
    template = obj.get("spec", {}).get("template") or {}
    meta = template.get("metadata") or {}
    return _labels(meta.get("labels"), field + ".metadata.labels") + \
        _annotations(meta.get("annotations"), field + ".metadata.annotations") + \
        _containers(template.get("spec") or {}, field + ".spec")


def _containers(pod_spec, field):
    errs, seen = [], set()
    for group in ("initContainers", "containers"):
        for i, c in enumerate(pod_spec.get(group) or []):
            name = c.get("name", "")
            errs += _each(dns_label_errors, f"{field}.{group}[{i}].name", name)
            if name in seen:
                errs.append(FieldError("Duplicate", f"{field}.{group}[{i}].name", name))
            seen.add(name)
    return errs


def _replicas(obj):
    replicas = (obj.get("spec") or {}).get("replicas")
    if isinstance(replicas, int) and replicas < 0:
        return [FieldError("Invalid", "spec.replicas", replicas, "must be greater than or equal to 0")]
    return []


def check_workload(obj, old):
    return _replicas(obj) + _label_selector(obj.get("spec", {}).get("selector"), "spec.selector") + \
        _pod_template(obj, "spec.template")


def check_pod(obj, old):
    errs = _containers(obj.get("spec") or {}, "spec")
    if old is not None and _mutable_pod_spec(obj.get("spec")) != _mutable_pod_spec(old.get("spec")):
        errs.append(FieldError("Forbidden", "spec", None,
                               "pod updates may not change fields other than `spec.containers[*].image`,"
                               "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
                               "`spec.tolerations` (only additions to existing tolerations),"
                               "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was "
                               "previously negative)"))
    return errs


def _mutable_pod_spec(spec):
    """The pod spec without the fields an update may change."""
    spec = json.loads(json.dumps(spec or {}))
    for key in ("activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds"):
        spec.pop(key, None)
    for group in ("containers", "initContainers"):
        for c in spec.get(group) or []:
            c.pop("image", None)
    return spec


def _cidr(value, field):
    try:
        return ipaddress.ip_network(value, strict=False), []
    except ValueError:
        return None, [FieldError("Invalid", field, value, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)")]


def _peers_and_ports(rule, field, peer_key):
    errs = []
    for j, peer in enumerate(rule.get(peer_key) or []):
        path = f"{field}.{peer_key}[{j}]"
        errs += _label_selector(peer.get("podSelector"), path + ".podSelector")
        errs += _label_selector(peer.get("namespaceSelector"), path + ".namespaceSelector")
        block = peer.get("ipBlock")
        if block:
            net, cidr_errs = _cidr(block.get("cidr", ""), path + ".ipBlock.cidr")
            errs += cidr_errs
            for k, exc in enumerate(block.get("except") or []):
                sub, exc_errs = _cidr(exc, f"{path}.ipBlock.except[{k}]")
                errs += exc_errs
                if net and sub and (sub.version != net.version or not sub.subnet_of(net)):
                    errs.append(FieldError("Invalid", f"{path}.ipBlock.except[{k}]", exc, "must be a strict subset of `cidr`"))
    for j, port in enumerate(rule.get("ports") or []):
        path = f"{field}.ports[{j}]"
        if port.get("protocol") not in (None, "TCP", "UDP", "SCTP"):
            errs.append(not_supported(path + ".protocol", port.get("protocol"), ["SCTP", "TCP", "UDP"]))
        number = port.get("port")
        if isinstance(number, int) and not 1 <= number <= 65535:
            errs.append(FieldError("Invalid", path + ".port", number, "must be between 1 and 65535, inclusive"))
    return errs


def check_network_policy(obj, old):
    spec = obj.get("spec") or {}
    errs = _label_selector(spec.get("podSelector"), "spec.podSelector")
    types = spec.get("policyTypes") or []
    for i, t in enumerate(types):
        if t not in ("Ingress", "Egress"):
            errs.append(not_supported(f"spec.policyTypes[{i}]", t, ["Egress", "Ingress"]))
    if len(types) > 2:
        errs.append(FieldError("Invalid", "spec.policyTypes", types, "may not specify more than two policyTypes"))
    for i, rule in enumerate(spec.get("ingress") or []):
        errs += _peers_and_ports(rule, f"spec.ingress[{i}]", "from")
    for i, rule in enumerate(spec.get("egress") or []):
        errs += _peers_and_ports(rule, f"spec.egress[{i}]", "to")
    return errs


def secret_decode_errors(obj):
    """Secret data values are []byte: anything that is not standard base64 fails decoding (400)."""
    for key, value in (obj.get("data") or {}).items():
        if not isinstance(value, str):
            continue
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return [f"illegal base64 data at input byte {_bad_base64_offset(value)} (data[{key}])"]
    return []


def _bad_base64_offset(value):
    for i, ch in enumerate(value):
        if not (ch.isalnum() and ch.isascii()) and ch not in "+/=":
            return i
    return len(value)


def check_secret(obj, old):
    errs = []
    total = 0
    for key, value in (obj.get("data") or {}).items():
        if len(key) > 253 or not CONFIG_KEY.fullmatch(key):
            errs.append(FieldError("Invalid", f"data[{key}]", key, MSG_CONFIG_KEY))
        total += len(base64.b64decode(value or ""))
    if total > 1024 * 1024:
        errs.append(FieldError("TooLong", "data", None, f"must have at most {1024 * 1024} bytes"))
    if old is not None:
        if obj.get("type") != old.get("type"):
            errs.append(FieldError("Invalid", "type", obj.get("type"), "field is immutable"))
        if old.get("immutable"):
            if (obj.get("data") or {}) != (old.get("data") or {}):
                errs.append(FieldError("Forbidden", "data", None, "field is immutable when `immutable` is set"))
            if not obj.get("immutable"):
                errs.append(FieldError("Forbidden", "immutable", None, "field is immutable when `immutable` is set"))
    return errs


def check_lease(obj, old):
    spec = obj.get("spec") or {}
    errs = []
    if isinstance(spec.get("leaseDurationSeconds"), int) and spec["leaseDurationSeconds"] <= 0:
        errs.append(FieldError("Invalid", "spec.leaseDurationSeconds", spec["leaseDurationSeconds"], "must be greater than 0"))
    if isinstance(spec.get("leaseTransitions"), int) and spec["leaseTransitions"] < 0:
        errs.append(FieldError("Invalid", "spec.leaseTransitions", spec["leaseTransitions"], "must be greater than or equal to 0"))
    return errs


def _legacy_event(obj, controller_field, note_field):
    """The checks every Event create gets (legacyValidateEvent in pkg/apis/core/validation/events.go)."""
    errs, ns = [], obj.get("metadata", {}).get("namespace", "")
    involved_ns = (obj.get("involvedObject") or {}).get("namespace", "")
    mismatch = FieldError("Invalid", "involvedObject.namespace", involved_ns, "does not match event.namespace")
    if not obj.get("eventTime"):
        if (involved_ns and involved_ns != ns) or (not involved_ns and ns not in ("", "default")):
            errs.append(mismatch)
        return errs
    if not involved_ns and ns not in ("default", "kube-system"):
        errs.append(mismatch)
    controller = obj.get("reportingComponent", "")
    if not controller:
        errs.append(FieldError("Required", controller_field))
    errs += _each(qualified_name_errors, controller_field, controller)
    for name, limit in (("reportingInstance", 128), ("action", 128), ("reason", 128)):
        value = obj.get(name) or ""
        if not value:
            errs.append(FieldError("Required", name))
        elif len(value) > limit:
            errs.append(FieldError("Invalid", name, "", f"can have at most {limit} characters"))
    if len(obj.get("message") or "") > 1024:
        errs.append(FieldError("Invalid", note_field, "", "can have at most 1024 characters"))
    return errs


def check_core_event(obj, old):
    """core/v1 creates (stored form): the legacy checks only."""
    return [] if old is not None else _legacy_event(obj, "reportingComponent", "message")


def check_events_v1_event(obj, old):
    """events.k8s.io/v1 creates (stored core form): the legacy checks plus the strict ones of ValidateEventCreate."""
    if old is not None:
        return []
    errs = _legacy_event(obj, "reportingController", "note")
    if not obj.get("eventTime"):
        errs.append(FieldError("Required", "eventTime"))
    if obj.get("type") not in ("Normal", "Warning"):
        errs.append(FieldError("Invalid", "type", "", f"has invalid value: {obj.get('type') or ''}"))
    for name in ("firstTimestamp", "lastTimestamp"):
        if obj.get(name):
            errs.append(FieldError("Invalid", name, "", "needs to be unset"))
    if obj.get("count"):
        errs.append(FieldError("Invalid", "count", "", "needs to be unset"))
    source = obj.get("source") or {}
    if source.get("component") or source.get("host"):
        errs.append(FieldError("Invalid", "source", "", "needs to be unset"))
    return errs
