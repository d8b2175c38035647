"""The JSON API (v1): flask-smorest blueprints, bearer tokens, RFC 9457 problem JSON.

Each endpoint declares its input and output with marshmallow schemas; the
same declarations validate requests, serialise responses and produce the
OpenAPI document at /api/v1/openapi.json.

The conventions every endpoint shares live here, so that no resource module restates them:

- who may call: `@public` (facility.api.auth) opens an endpoint to anonymous callers; every other
  one needs a bearer token (401, checked before anything is parsed). `@requires(Role...)` refuses
  a caller without the role (403), also before the body or query is parsed, so that a caller
  without the right never learns what the endpoint expects from a 422;
- what an error looks like: every 4xx/5xx is `application/problem+json` with the Problem schema,
  and the document says so for every operation, with the statuses it can answer (401, 403, 404,
  409, 422, 429) derived from the endpoint's declarations (see `ProblemResponsesPlugin`).
"""
from __future__ import annotations

import http
import re
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from apispec import BasePlugin
from flask import Flask
from flask_limiter.util import get_qualified_name
from flask_smorest import Api, Blueprint
from flask_smorest.utils import prepare_response

from facility.accounts.models import Role
from facility.api.auth import load_bearer_user, require_role, require_user
from facility.api.schemas import ProblemSchema
from facility.extensions import limiter

API_PREFIX = "/api/v1"
PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_SCHEMA = "Problem"  # the component ProblemSchema is registered as
WRITE_METHODS = frozenset({"post", "put", "patch", "delete"})

View = TypeVar("View", bound=Callable[..., Any])


def requires(*roles: Role | str, hidden: Callable[..., Any] | None = None) -> Callable[[View], View]:
    """The caller must hold one of `roles` (403 otherwise), checked before the request is parsed.

    Put it right under `@blp.route(...)` (under `@public`, if any), above `@blp.arguments`:
    decorators run top-down, so the role is refused before webargs reads the body or the query,
    and a caller without the right never gets a 422 describing what the endpoint expects.

    `hidden` is the endpoint's loader for the object its path names, called as
    `hidden(user=..., <path parameters>)` only when the role is missing: it raises 404 for an
    object the caller may not know exists, so that a refusal never reveals one (404 before 403).

    This is the role part of the endpoint's policy; what depends on the object and its state
    (the grantee's innovators, a draft) stays in the package's policy, which the service applies.
    """
    wanted = tuple(Role(role) for role in roles)

    def decorate(view: View) -> View:
        @wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            user = require_user()
            if not user.has_role(*wanted):
                if hidden is not None:
                    hidden(user=user, **kwargs)
                require_role(*wanted)
            return view(*args, **kwargs)

        checked.required_roles = wanted  # type: ignore[attr-defined]  # read by the document below
        return checked  # type: ignore[return-value]

    return decorate


def required_roles(view: Callable[..., Any] | None) -> tuple[Role, ...]:
    """The roles `@requires` put on a view (empty: any signed-in caller, or anyone if public)."""
    return getattr(view, "required_roles", ())


def _problem_response(description: str, spec: Any, **extra: Any) -> dict[str, Any]:
    response = {"description": description, "schema": ProblemSchema, **extra}
    prepare_response(response, spec, PROBLEM_CONTENT_TYPE)
    return response


class ProblemResponsesPlugin(BasePlugin):
    """Completes every operation of the document with the errors it can answer, as problem JSON.

    Derived from what the endpoint declares, so that a new endpoint is documented right without
    saying anything: 401 unless `@public`; 403 with `@requires` (and for signed-in writes, which
    the package policy may refuse); 404 when the path names an object; 409 and 422 for writes
    (the object's state, the service's own checks); 422 for parsed arguments; 429 when
    rate-limited. Error responses declared without a body (`alt_response(409, description=...)`)
    get the problem body too.
    """

    def __init__(self, app: Flask) -> None:
        super().__init__()
        self.app = app

    def operation_helper(self, path: str | None = None, operations: dict | None = None,
                         **kwargs: Any) -> None:
        rule = kwargs.get("rule")
        if rule is None or not operations:
            return
        view = self.app.view_functions.get(rule.endpoint)
        for method, operation in operations.items():
            if method in {"parameters", "summary", "description"} or not isinstance(operation, dict):
                continue
            self._complete(operation, method, view, has_path_object=bool(rule.arguments))

    def _complete(self, operation: dict, method: str, view: Callable[..., Any] | None, *,
                  has_path_object: bool) -> None:
        responses: dict = operation.setdefault("responses", {})
        present = {str(code) for code in responses}

        def add(status: int, response: Any) -> None:
            if str(status) not in present:
                responses[status] = response
                present.add(str(status))

        public = getattr(view, "public", False)
        write = method in WRITE_METHODS
        roles = required_roles(view)
        if not public:
            add(401, http.HTTPStatus.UNAUTHORIZED.name)
        if roles:
            names = ", ".join(role.value for role in roles)
            add(403, {"description": f"Needs the role {names} (checked before the request is read).",
                      "content": {PROBLEM_CONTENT_TYPE: {"schema": PROBLEM_SCHEMA}}})
        elif write and not public:
            add(403, http.HTTPStatus.FORBIDDEN.name)
        if has_path_object:
            add(404, http.HTTPStatus.NOT_FOUND.name)
        if write:
            add(409, http.HTTPStatus.CONFLICT.name)
            add(422, http.HTTPStatus.UNPROCESSABLE_ENTITY.name)
        if view is not None and _is_rate_limited(self.app, view):
            add(429, http.HTTPStatus.TOO_MANY_REQUESTS.name)
        for code, response in list(responses.items()):
            # Error responses declared with a description only: the body is a problem all the same.
            if (str(code) == "default" or int(str(code)) >= 400) and isinstance(response, dict) \
                    and "content" not in response and "$ref" not in response:
                response["content"] = {PROBLEM_CONTENT_TYPE: {"schema": PROBLEM_SCHEMA}}


def _is_rate_limited(app: Flask, view: Callable[..., Any]) -> bool:
    with app.app_context():  # limits given as functions read the app's configuration
        return bool(limiter.limit_manager.decorated_limits(get_qualified_name(view)))


class FacilityApi(Api):
    """flask-smorest's Api, answering and documenting errors as RFC 9457 problem JSON."""

    def _register_error_handlers(self) -> None:
        # Errors are answered by facility.api.problems for API paths and by the
        # HTML error pages elsewhere; see facility.errors.register.
        pass

    def _init_spec(self, *, extra_plugins: Any = None, **options: Any) -> None:
        plugins = [*(extra_plugins or ()), ProblemResponsesPlugin(self._app)]
        super()._init_spec(extra_plugins=plugins, **options)

    def _register_responses(self) -> None:
        """The shared responses, one per HTTP status: every error one is problem JSON."""
        self.spec.components.schema(PROBLEM_SCHEMA, schema=ProblemSchema)
        for status in http.HTTPStatus:
            if status < 400:
                response: dict[str, Any] = {"description": status.phrase}
                prepare_response(response, self.spec, self.DEFAULT_RESPONSE_CONTENT_TYPE)
            elif status == http.HTTPStatus.UNAUTHORIZED:
                response = _problem_response(
                    "No bearer token, or one that is invalid, expired or revoked.", self.spec,
                    headers={"WWW-Authenticate": {"required": True, "schema": {"type": "string"},
                                                  "description": 'Bearer realm="facility"'}})
            else:
                response = _problem_response(status.phrase, self.spec)
            self.spec.components.response(status.name, response, lazy=True)
        self.spec.components.response(
            self.DEFAULT_ERROR_RESPONSE_NAME,
            _problem_response("Any other error, as RFC 9457 problem JSON.", self.spec), lazy=True)


api = FacilityApi()


def api_blueprint(name: str, import_name: str, description: str) -> Blueprint:
    """A blueprint under /api/v1 whose requests are authenticated by bearer token only."""
    blp = Blueprint(name, import_name, url_prefix=API_PREFIX, description=description)
    blp.before_request(load_bearer_user)
    return blp


def openapi_path(rule: str) -> str:
    """A Flask rule written as an OpenAPI path: /a/<int:id> -> /a/{id}."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)
