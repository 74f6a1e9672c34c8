"""JSON merge patch (RFC 7386) and JSON patch (RFC 6902) on plain Python JSON values.

Error texts follow github.com/evanphx/json-patch, which the API server uses, so a failed op reads like the real 422.
"""

import copy


class PatchDecodeError(ValueError):
    """The patch document itself is malformed (the server answers 400)."""


class PatchApplyError(ValueError):
    """A well-formed operation does not apply to the object (the server answers 422)."""


MAX_JSON_PATCH_OPS = 10000


def merge_patch(target, patch):
    """Return target merged with patch: objects merge recursively, null deletes a key, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _unescape(token):
    return token.replace("~1", "/").replace("~0", "~")


def _split(pointer):
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise PatchApplyError(f"JSON pointer must be empty or start with a \"/\": {pointer}")
    return [_unescape(t) for t in pointer[1:].split("/")]


def _index(container, token, pointer, allow_end):
    if token == "-" and allow_end:
        return len(container)
    if not token.isdigit() or (len(token) > 1 and token[0] == "0"):
        raise PatchApplyError(f"invalid array index {token!r} in {pointer}")
    i = int(token)
    if i > len(container) or (i == len(container) and not allow_end):
        raise PatchApplyError(f"Unable to access invalid index: {i}: invalid index referenced")
    return i


def _parent(doc, pointer, op):
    """Walk to the container holding the last token of pointer; return (container, last token)."""
    tokens = _split(pointer)
    if not tokens:
        raise PatchApplyError(f"{op} operation does not apply: doc is missing path: \"{pointer}\": missing value")
    node = doc
    for token in tokens[:-1]:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise PatchApplyError(f"{op} operation does not apply: doc is missing path: \"{pointer}\": missing value")
    if not isinstance(node, (dict, list)):
        raise PatchApplyError(f"{op} operation does not apply: doc is missing path: \"{pointer}\": missing value")
    return node, tokens[-1]


def _get(doc, pointer, op, what="key"):
    if pointer == "":
        return doc
    node, token = _parent(doc, pointer, op)
    if isinstance(node, dict):
        if token not in node:
            raise PatchApplyError(f"{op} operation does not apply: doc is missing {what}: {pointer}: missing value")
        return node[token]
    return node[_index(node, token, pointer, False)]


def _add(doc, pointer, value):
    if pointer == "":
        return value
    node, token = _parent(doc, pointer, "add")
    if isinstance(node, dict):
        node[token] = value
    else:
        node.insert(_index(node, token, pointer, True), value)
    return doc


def _remove(doc, pointer, op="remove"):
    node, token = _parent(doc, pointer, op)
    if isinstance(node, dict):
        if token not in node:
            raise PatchApplyError(f"{op} operation does not apply: doc is missing path: \"{pointer}\": missing value")
        return node.pop(token)
    return node.pop(_index(node, token, pointer, False))


def _op_add(doc, op):
    return _add(doc, op["path"], copy.deepcopy(op["value"]))


def _op_remove(doc, op):
    _remove(doc, op["path"])
    return doc


def _op_replace(doc, op):
    if op["path"] == "":
        return copy.deepcopy(op["value"])
    _get(doc, op["path"], "replace")
    node, token = _parent(doc, op["path"], "replace")
    if isinstance(node, dict):
        node[token] = copy.deepcopy(op["value"])
    else:
        node[_index(node, token, op["path"], False)] = copy.deepcopy(op["value"])
    return doc


def _op_move(doc, op):
    value = _get(doc, op["from"], "move", "from path")
    _remove(doc, op["from"], "move")
    return _add(doc, op["path"], value)


def _op_copy(doc, op):
    return _add(doc, op["path"], copy.deepcopy(_get(doc, op["from"], "copy", "from path")))


def _op_test(doc, op):
    try:
        current = _get(doc, op["path"], "test")
    except PatchApplyError:
        current = _MISSING
    if current != op["value"] or type(current) is not type(op["value"]):
        raise PatchApplyError(f"testing value {op['path']} failed: test failed")
    return doc


_MISSING = object()
OPERATIONS = {
    "add": (_op_add, ("path", "value")),
    "remove": (_op_remove, ("path",)),
    "replace": (_op_replace, ("path", "value")),
    "move": (_op_move, ("from", "path")),
    "copy": (_op_copy, ("from", "path")),
    "test": (_op_test, ("path", "value")),
}


def json_patch(doc, ops):
    """Apply an RFC 6902 operation list to a deep copy of doc and return it."""
    if not isinstance(ops, list):
        raise PatchDecodeError("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    if len(ops) > MAX_JSON_PATCH_OPS:
        raise PatchDecodeError(f"The allowed maximum operations in a JSON patch is {MAX_JSON_PATCH_OPS}, got {len(ops)}")
    result = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict):
            raise PatchDecodeError("json: cannot unmarshal into Go value of type jsonpatch.Operation")
        kind = op.get("op")
        if kind not in OPERATIONS:
            raise PatchApplyError(f"Unexpected kind: {kind}")
        apply, needed = OPERATIONS[kind]
        for member in needed:
            if member not in op or (member != "value" and not isinstance(op[member], str)):
                raise PatchApplyError(f"{kind} operation missing {member}")
        result = apply(result, op)
    return result
