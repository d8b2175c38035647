"""RFC 9457 problem details for every error an API caller can meet."""
from __future__ import annotations

from typing import Any

from flask import Response, json, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from facility.api import API_PREFIX

PROBLEM_TYPE_BASE = "https://facility.example/problems/"
_TITLES = {
    400: "Malformed request",
    401: "Not authenticated",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict with the current state",
    413: "Request too large",
    415: "Unsupported media type",
    422: "Invalid fields",
    429: "Too many requests",
    500: "Internal server error",
}


def is_api_request() -> bool:
    return request.path.startswith(API_PREFIX + "/") or request.path == API_PREFIX


def flatten_errors(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """webargs/marshmallow nest errors by field; problem JSON names them 'a.b.0.c'."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                flat.setdefault(name, []).extend(value)
            elif isinstance(value, str):
                flat.setdefault(name, []).append(value)
            else:
                flat.update(flatten_errors(value, name))
    elif isinstance(messages, list):
        flat.setdefault(prefix or "_schema", []).extend(str(m) for m in messages)
    return flat


def problem(status: int, detail: str = "", *, title: str | None = None,
            errors: dict[str, list[str]] | None = None, headers: dict | None = None) -> Response:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + str(status),
        "title": title or _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail or title or _TITLES.get(status, "Error"),
        "instance": request.path,
    }
    if errors:
        body["errors"] = errors
    response = Response(json.dumps(body), status=status, mimetype="application/problem+json")
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def problem_from_http_exception(error: HTTPException) -> Response:
    data = getattr(error, "data", None) or {}
    status = error.code or 500
    errors = None
    detail = data.get("message") or error.description or ""
    if "messages" in data or "errors" in data:
        raw = data.get("errors") or data.get("messages")
        # webargs groups by location (json, query, ...); callers care about the field.
        if isinstance(raw, dict) and set(raw) <= {"json", "query", "form", "files", "headers", "view_args", "path"}:
            merged: dict[str, list[str]] = {}
            for location_errors in raw.values():
                merged.update(flatten_errors(location_errors))
            errors = merged
        else:
            errors = flatten_errors(raw)
        if status == 400 and errors and list(errors) == ["_schema"] and "Invalid JSON body." in errors["_schema"]:
            detail, errors = "The request body is not valid JSON.", None
        elif status == 422:
            detail = "Some fields are invalid; see errors."
    headers = dict(data.get("headers") or {})
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        headers.setdefault("Allow", ", ".join(error.valid_methods))  # RFC 9110: a 405 lists what is allowed
    if status == 401:
        headers.setdefault("WWW-Authenticate", 'Bearer realm="facility"')
    if status == 429:
        detail = "Too many requests; slow down and try again later."
    if status >= 500:
        detail = "Something went wrong on our side; it has been logged."
    return problem(status, detail, errors=errors, headers=headers)


STEP_UP_DETAIL = ("This action needs a fresh second factor: send the current code from your authenticator app "
                  "in the 'X-OTP' header with this request.")


def step_up_problem() -> Response:
    """`core.errors.StepUpRequired` in the API: 403, and the detail says how to prove a fresh factor."""
    return problem(403, STEP_UP_DETAIL, title="Fresh second factor required")
