"""The conventions every API endpoint shares (facility/api/__init__.py, schemas.py, problems.py).

Each test walks the whole OpenAPI document or the whole URL map, so a new endpoint is held
to the same rules without a test of its own:
- optional list fields accept `null` as "none";
- a caller without the role is refused (401 anonymous, 403 wrong role) before the body or the
  query is parsed, so never with a 422 that describes the endpoint;
- every error response is documented as application/problem+json with the Problem schema, with
  the statuses the endpoint can answer.
"""
from __future__ import annotations

import re

import marshmallow as ma
import pytest

from facility.accounts.models import Role
from facility.api import PROBLEM_CONTENT_TYPE, openapi_path, required_roles
from facility.api.schemas import NullableList
from facility.challenges.models import Challenge
from facility.extensions import db
from tests.factories.challenges import challenge_json, make_challenge
from tests.factories.cities import make_city

PREFIX = "/api/v1"
WRITES = {"post", "put", "patch", "delete"}
ROLES = [Role.INNOVATOR, Role.CITY_OFFICIAL, Role.FUND_MANAGER, Role.REVIEWER, Role.DONOR, Role.ADMIN]
MISSING_ID = 987654  # no object has it: a path naming it reaches the handler only after parsing


@pytest.fixture
def spec(client) -> dict:
    return client.get(f"{PREFIX}/openapi.json").get_json()


def _operations(spec: dict):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                yield path, method, operation


def _resolve(spec: dict, node: dict) -> dict:
    while "$ref" in node:
        _, section, name = node["$ref"].removeprefix("#/").split("/")
        node = spec["components"][section][name]
    return node


def _body_schema(spec: dict, operation: dict) -> dict | None:
    content = operation.get("requestBody", {}).get("content", {})
    media = content.get("application/json")
    return _resolve(spec, media["schema"]) if media else None


def _optional_lists(spec: dict, schema: dict) -> list[str]:
    required = set(schema.get("required", []))
    return [name for name, prop in schema.get("properties", {}).items()
            if _resolve(spec, prop).get("type") == "array" and name not in required
            and not _resolve(spec, prop).get("readOnly")]


def _url(path: str) -> str:
    return re.sub(r"\{[^}]+\}", str(MISSING_ID), path)


def _views(app) -> dict[tuple[str, str], object]:
    """(method, OpenAPI path) -> the view Flask calls."""
    found = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(PREFIX + "/"):
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                found[(method.lower(), openapi_path(rule.rule))] = app.view_functions[rule.endpoint]
    return found


# --- null as "none" ------------------------------------------------------------------------------

def test_nullable_list_loads_null_as_empty():
    class Schema(ma.Schema):
        tags = NullableList(ma.fields.String(), validate=ma.validate.Length(max=2))
        kept = NullableList(ma.fields.String(), load_default=list)

    assert Schema().load({"tags": None}) == {"tags": [], "kept": []}
    assert Schema().load({"tags": ["a"], "kept": None}) == {"tags": ["a"], "kept": []}
    with pytest.raises(ma.ValidationError):
        Schema().load({"tags": ["a", "b", "c"]})  # the list's own rules still apply


def test_every_optional_list_field_is_documented_nullable(spec):
    seen = []
    for path, method, operation in _operations(spec):
        schema = _body_schema(spec, operation)
        if schema is None:
            continue
        for name in _optional_lists(spec, schema):
            seen.append(f"{method} {path} {name}")
            assert _resolve(spec, schema["properties"][name]).get("nullable") is True, (method, path, name)
    # challenges (create, patch), proposals (create, patch) and awards have optional lists
    assert len(seen) >= 8, seen


def test_every_optional_list_field_accepts_null(app, client, spec, make_user, api_headers):
    """Sent alone as null to every endpoint that has it, by a caller holding every role: whatever
    else is answered (missing fields, no such object), the null field itself is never refused."""
    everyone = make_user(*[role.value for role in ROLES])
    headers = api_headers(everyone)
    checked = 0
    for path, method, operation in _operations(spec):
        schema = _body_schema(spec, operation)
        for name in _optional_lists(spec, schema) if schema else ():
            response = getattr(client, method)(_url(path), json={name: None}, headers=headers)
            assert response.status_code < 500, (method, path, name)
            errors = (response.get_json() or {}).get("errors") or {}
            assert not any(key == name or key.startswith(name + ".") for key in errors), \
                (method, path, name, response.get_json())
            checked += 1
    assert checked >= 8


def test_eligible_countries_null_means_every_country(app, clock, client, make_user, api_headers):
    fund_manager = make_user("fund_manager")
    city, official = make_city(fund_manager=fund_manager)
    body = challenge_json(city.id, eligible_countries=None, eligible_org_types=None)
    response = client.post(f"{PREFIX}/challenges", json=body, headers=api_headers(official))
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["eligible_countries"] == [] and response.get_json()["eligible_org_types"] == []
    challenge = make_challenge(city, official)
    challenge.eligible_countries = ["UGA"]
    db.session.commit()
    patched = client.patch(f"{PREFIX}/challenges/{challenge.id}", json={"eligible_countries": None},
                           headers=api_headers(official))
    assert patched.status_code == 200, patched.get_json()
    assert db.session.get(Challenge, challenge.id).eligible_countries == []
    unchanged = client.patch(f"{PREFIX}/challenges/{challenge.id}", json={"title": "Renamed"},
                             headers=api_headers(official))
    assert unchanged.status_code == 200 and unchanged.get_json()["eligible_countries"] == []


# --- who may call, before what is sent -------------------------------------------------------------

INVALID_BODY = {"no_such_field": ["x"], "title": 12, "reason": None}
INVALID_QUERY = {"page": "0", "per_page": "nope", "status": "no-such-status"}


def _invalid_request(operation: dict) -> dict:
    if "requestBody" in operation:
        content = operation["requestBody"]["content"]
        if "multipart/form-data" in content:
            return {"data": {}, "content_type": "multipart/form-data"}  # no file: invalid
        return {"json": INVALID_BODY}
    return {"query_string": INVALID_QUERY}


def _takes_input(operation: dict) -> bool:
    return "requestBody" in operation or any(p["in"] == "query" for p in operation.get("parameters", []))


def test_anonymous_gets_401_before_the_body_is_read(app, client, spec):
    views = _views(app)
    checked = 0
    for path, method, operation in _operations(spec):
        if getattr(views[(method, path)], "public", False) or not _takes_input(operation):
            continue
        response = getattr(client, method)(_url(path), **_invalid_request(operation))
        assert response.status_code == 401, (method, path, response.get_json())
        assert response.content_type == PROBLEM_CONTENT_TYPE
        checked += 1
    assert checked >= 30


def test_a_caller_without_the_role_gets_403_before_the_body_is_read(app, client, spec, make_user, api_headers):
    """For every endpoint declaring its roles (@requires): a caller holding none of them who sends an
    invalid body or query is refused 403; 404 only where the path names an object that caller may
    not know exists (the endpoint's own loader says so). Never 422, and nothing written."""
    views = _views(app)
    headers_for = {role: api_headers(make_user(role.value)) for role in ROLES}
    checked = 0
    for path, method, operation in _operations(spec):
        roles = required_roles(views[(method, path)])
        if not roles:
            continue
        wrong = next(role for role in ROLES if role not in roles)
        response = getattr(client, method)(_url(path), headers=headers_for[wrong], **_invalid_request(operation))
        allowed = {403, 404} if "{" in path else {403}
        assert response.status_code in allowed, (method, path, wrong.value, response.get_json())
        assert response.content_type == PROBLEM_CONTENT_TYPE
        checked += 1
    assert checked >= 40


def test_a_caller_without_the_role_gets_403_on_objects_they_can_see(world, client, api_headers):
    """A published challenge is visible to everyone: an innovator editing it, extending its deadline
    or answering on it with an invalid body is told 403 (not 404, not 422), and nothing changes."""
    challenge = world.challenge
    headers = api_headers(world.innovator)
    for method, suffix in (("patch", ""), ("post", "/deadline-extensions"), ("post", "/approve")):
        response = getattr(client, method)(f"{PREFIX}/challenges/{challenge.id}{suffix}", json=INVALID_BODY,
                                           headers=headers)
        assert response.status_code == 403, (suffix, response.get_json())
        assert "errors" not in response.get_json()
    db.session.expire_all()
    assert db.session.get(Challenge, challenge.id).title == "Safer walking routes to school"


def test_every_write_with_a_body_declares_its_roles_or_is_open_to_every_signed_in_user(app):
    """The role part of each write is declared (@requires) so it is checked before parsing; the few
    left without are open to any signed-in caller (or public) and say so here."""
    open_to_all = {("post", "/api/v1/auth/tokens"), ("post", "/api/v1/users"),
                   ("post", "/api/v1/challenges/{challenge_id}/clarifications"),
                   ("delete", "/api/v1/auth/tokens/{token_id}"),
                   ("post", "/api/v1/me/mfa/totp"), ("post", "/api/v1/me/mfa/totp/confirm"),  # anyone's own factor
                   # any member of the applicant organisation, whatever their role; the body is read after the
                   # policy, so anyone else gets a 404 and never a field error (review.policy.can_appeal)
                   ("post", "/api/v1/proposals/{proposal_id}/appeals")}
    undeclared = sorted(key for key, view in _views(app).items()
                        if key[0] in WRITES and not required_roles(view) and key not in open_to_all)
    assert not undeclared


# --- the document: every error is problem JSON -----------------------------------------------------

def test_every_error_response_is_problem_json(spec):
    assert spec["components"]["schemas"]["Problem"]["required"] == ["detail", "instance", "status", "title", "type"]
    for path, method, operation in _operations(spec):
        for code, response in operation["responses"].items():
            if code != "default" and int(code) < 400:
                continue
            content = _resolve(spec, response).get("content")
            assert content and list(content) == [PROBLEM_CONTENT_TYPE], (method, path, code)
            assert content[PROBLEM_CONTENT_TYPE]["schema"] == {"$ref": "#/components/schemas/Problem"}


def test_every_operation_declares_the_errors_it_can_answer(app, spec):
    views = _views(app)
    for path, method, operation in _operations(spec):
        view = views[(method, path)]
        codes = set(operation["responses"])
        assert "default" in codes
        if not getattr(view, "public", False):
            assert "401" in codes, (method, path)
            unauthorized = _resolve(spec, operation["responses"]["401"])
            assert unauthorized["headers"]["WWW-Authenticate"]["required"] is True
        if required_roles(view):
            assert "403" in codes and "Needs the role" in operation["responses"]["403"]["description"]
        if "{" in path:
            assert "404" in codes, (method, path)
        if method in WRITES:
            assert {"409", "422"} <= codes, (method, path)
        if _takes_input(operation):
            assert "422" in codes, (method, path)
    token = spec["paths"]["/api/v1/auth/tokens"]["post"]["responses"]
    assert "429" in token  # sign-in is rate-limited


def test_a_405_lists_the_allowed_methods(client):
    response = client.put(f"{PREFIX}/me")
    assert response.status_code == 405 and response.content_type == PROBLEM_CONTENT_TYPE
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET"}
