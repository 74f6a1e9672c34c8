"""Label selectors (string form and LabelSelector objects) and field selectors for LIST.

Owns the selector grammar of k8s.io/apimachinery pkg/labels and pkg/fields: =, ==, !=, in, notin, key, !key.
"""

import re

_SET_TERM = re.compile(r"^(!?)\s*([^\s!=(),]+)\s+(in|notin)\s*\(([^)]*)\)$")
_EQ_TERM = re.compile(r"^([^\s!=(),]+)\s*(==|!=|=)\s*([^\s!=(),]*)$")
_EXISTS_TERM = re.compile(r"^(!?)\s*([^\s!=(),]+)$")


class SelectorError(ValueError):
    """A selector that does not parse (the server answers 400)."""


def _split_terms(text):
    terms, depth, current = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            terms.append(current.strip())
            current = ""
        else:
            current += ch
    if current.strip() or terms:
        terms.append(current.strip())
    return terms


def parse_label_selector(text, check_key, check_value):
    """Parse 'a=b,c in (d,e),!f' into [(key, op, [values])]; op is one of = != in notin exists !.

    check_key/check_value return a list of error strings for a key / value (the label syntax rules)."""
    requirements = []
    for term in _split_terms(text or ""):
        m = _SET_TERM.match(term)
        if m and not m.group(1):
            key, op, values = m.group(2), m.group(3), [v.strip() for v in m.group(4).split(",")]
        elif (m := _EQ_TERM.match(term)):
            key, op, values = m.group(1), "=" if m.group(2) == "==" else m.group(2), [m.group(3)]
        elif (m := _EXISTS_TERM.match(term)):
            key, op, values = m.group(2), "!" if m.group(1) else "exists", []
        else:
            raise SelectorError(f"unable to parse requirement: found '{term}', expected: identifier")
        errors = check_key(key) + [e for v in values for e in check_value(v)]
        if errors:
            raise SelectorError(f"unable to parse requirement: {key}: Invalid value: {errors[0]}")
        requirements.append((key, op, values))
    return requirements


def requirements_from_object(selector):
    """Turn a LabelSelector object (matchLabels, matchExpressions) into requirements."""
    ops = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
    reqs = [(k, "=", [v]) for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        reqs.append((expr.get("key"), ops.get(expr.get("operator"), "in"), list(expr.get("values") or [])))
    return reqs


_LABEL_OPS = {
    "=": lambda present, value, values: present and value == values[0],
    "!=": lambda present, value, values: not present or value != values[0],
    "in": lambda present, value, values: present and value in values,
    "notin": lambda present, value, values: not present or value not in values,
    "exists": lambda present, value, values: present,
    "!": lambda present, value, values: not present,
}


def labels_match(requirements, labels):
    labels = labels or {}
    return all(_LABEL_OPS[op](key in labels, labels.get(key), values) for key, op, values in requirements)


def parse_field_selector(text, supported):
    """Parse 'metadata.name=x,spec.nodeName!=y' into [(field, op, value)]; fields must be in supported."""
    result = []
    for term in _split_terms(text or ""):
        m = re.match(r"^([^=!]+)(==|!=|=)(.*)$", term)
        if not m:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{term}'")
        field, op, value = m.group(1).strip(), m.group(2), m.group(3).strip()
        if field not in supported:
            raise SelectorError(f'field label not supported: {field}')
        result.append((field, "!=" if op == "!=" else "=", value))
    return result


def field_value(obj, dotted):
    """The string value of a selectable field; missing is "", booleans are "true"/"false"."""
    node = obj
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, bool):
        return "true" if node else "false"
    return "" if node is None else str(node)


def fields_match(requirements, obj, paths):
    """paths maps a selector field name to the dotted path it reads in the stored object."""
    for field, op, value in requirements:
        actual = field_value(obj, paths[field])
        if (actual == value) != (op == "="):
            return False
    return True
