"""Kubernetes Status bodies, field errors and the exception that carries them.

Owns the message formats of k8s.io/apimachinery pkg/api/errors/errors.go and
pkg/util/validation/field/errors.go, so every handler of the fake answers the way a real API server does.
"""

import json

REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}

# field.ErrorType -> (text in messages, StatusCause reason)
FIELD_ERROR_TYPES = {
    "Required": ("Required value", "FieldValueRequired"),
    "Invalid": ("Invalid value", "FieldValueInvalid"),
    "NotSupported": ("Unsupported value", "FieldValueNotSupported"),
    "Forbidden": ("Forbidden", "FieldValueForbidden"),
    "TooLong": ("Too long", "FieldValueTooLong"),
    "Duplicate": ("Duplicate value", "FieldValueDuplicate"),
}
_NO_VALUE_TYPES = ("Required", "Forbidden", "TooLong")


def go_value(value):
    """Render a bad value the way field.Error does (%q for strings, []string{...} for lists)."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "[]string{" + ", ".join(go_value(v) for v in value) + "}"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


class FieldError:
    """One field.Error: type is a key of FIELD_ERROR_TYPES, field a path like spec.policyTypes[0]."""

    def __init__(self, type_, field, value=None, detail=""):
        self.type, self.field, self.value, self.detail = type_, field, value, detail

    def body(self):
        text = FIELD_ERROR_TYPES[self.type][0]
        if self.type not in _NO_VALUE_TYPES:
            text += ": " + go_value(self.value)
        if self.detail:
            text += ": " + self.detail
        return text

    def __str__(self):
        return f"{self.field}: {self.body()}"


def not_supported(field, value, supported):
    return FieldError("NotSupported", field, value, "supported values: " + ", ".join(json.dumps(s) for s in supported))


class ApiError(Exception):
    """An error answer: HTTP code, Status body, extra headers."""

    def __init__(self, code, message, reason=None, details=None, headers=None):
        super().__init__(message)
        self.code = code
        self.headers = dict(headers or {})
        self.status = status_body(code, message, REASONS.get(code, "") if reason is None else reason, details)


def status_body(code, message, reason, details=None):
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message}
    if reason:
        body["reason"] = reason
    if details:
        body["details"] = details
    body["code"] = code
    return body


def success_status(code=None, details=None):
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}
    if details:
        body["details"] = details
    if code is not None:
        body["code"] = code
    return body


def resource_details(res, name):
    """details{name, group, kind=plural} as NotFound/AlreadyExists/Conflict and delete Status carry them."""
    details = {"name": name} if name else {}
    if res.group:
        details["group"] = res.group
    details["kind"] = res.plural
    return details


def group_resource(res):
    return f"{res.plural}.{res.group}" if res.group else res.plural


def not_found(res, name):
    return ApiError(404, f'{group_resource(res)} "{name}" not found', details=resource_details(res, name))


def already_exists(res, name):
    return ApiError(409, f'{group_resource(res)} "{name}" already exists', "AlreadyExists", resource_details(res, name))


OPTIMISTIC_LOCK = "the object has been modified; please apply your changes to the latest version and try again"


def conflict(res, name, detail=OPTIMISTIC_LOCK):
    return ApiError(409, f'Operation cannot be fulfilled on {group_resource(res)} "{name}": {detail}',
                    details=resource_details(res, name))


def invalid(kind, group, name, errors):
    """422 Invalid for a list of FieldError; kind/group name the GroupKind (e.g. NetworkPolicy, networking.k8s.io)."""
    qualified = f"{kind}.{group}" if group else kind
    text = str(errors[0]) if len(errors) == 1 else "[" + ", ".join(str(e) for e in errors) + "]"
    details = {"name": name} if name else {}
    if group:
        details["group"] = group
    details["kind"] = kind
    details["causes"] = [{"reason": FIELD_ERROR_TYPES[e.type][1], "message": e.body(), "field": e.field}
                         for e in errors]
    return ApiError(422, f'{qualified} "{name}" is invalid: {text}', details=details)


def options_invalid(options_kind, errors):
    """422 for bad request options (dryRun, fieldValidation, force...): CreateOptions.meta.k8s.io "" is invalid."""
    return invalid(options_kind, "meta.k8s.io", "", errors)


def bad_request(message):
    return ApiError(400, message)


def method_not_allowed():
    return ApiError(405, "the server does not allow this method on the requested resource")


def unsupported_media_type(accepted):
    return ApiError(415, "the body of the request was in an unknown format - accepted media types include: "
                    + ", ".join(accepted))


def path_not_found():
    return ApiError(404, "the server could not find the requested resource", details={})
