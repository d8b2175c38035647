"""Whatever a person types into a page or a URL, the answer is never a 500.

Every form-handling page route of the app (its url_map, so new routes are covered without
touching this file) gets garbage in every form field it could have: NUL bytes, 10,000-character
strings, huge and negative numbers, non-numbers, impossible dates, unknown choices. Every page
with an id in its path gets ids beyond the database's integers, and list pages get silly
`page` values. The world is the demo data, so ids in paths point at real objects.

A refusal (400/403/404/405/422, or the form shown again with its errors) writes nothing: the
audit trail, which every change goes through, does not grow.
"""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_wtf import FlaskForm
from wtforms import FieldList, FormField

from facility.extensions import db, limiter
from tests.conftest import csrf_token_from, sign_in

DEMO_PASSWORD = "demo-facility-2026"
ROLES = {
    "admin": "admin@demo.facility",
    "fund_manager": "fund.manager@demo.facility",
    "city_official": "official@kampala.demo",
    "innovator": "founder@solarkiosk.demo",
    "reviewer": "reviewer1@demo.facility",
    "donor": "donor@foundation.demo",
}
GARBAGE = {
    "nul": "bad\x00value",
    "long": "x" * 10_000,
    "huge": str(10**30),
    "negative": "-5",
    "not_a_number": "abc",
    "nan": "NaN",
    "bad_date": "2027-02-31",
    "unknown_choice": "no_such_choice",
}
HUGE_IDS = ["99999999999999999999", str(2**63), str(2**31)]
BAD_PAGES = ["abc", "-1", "0", str(10**20), "1\x00", "x" * 10_000]
QUERY_ARGS = ("page", "per_page", "q", "status", "round", "country", "focus_area", "sdg_target", "next", "lang")
# Ending the session would sign the client out of the rest of the run; signing in is tested elsewhere.
SKIP_ENDPOINTS = {"accounts.signout", "static"}


@pytest.fixture
def demo_app(app):
    from facility import demo

    demo.seed(echo=lambda _msg: None)
    limiter.enabled = False
    yield app
    limiter.enabled = True


def _signed_in(app: Flask, role: str | None):
    client = app.test_client()
    if role is not None:
        response = sign_in(client, ROLES[role], DEMO_PASSWORD)  # demo staff also pass the second step
        assert response.status_code == 302, response.status_code
    token = csrf_token_from(client.get("/signin" if role is None else "/profile").get_data(as_text=True))
    return client, token


def _form_classes(cls=FlaskForm):
    for sub in cls.__subclasses__():
        yield sub
        yield from _form_classes(sub)


def _field_names_of_form(form_class) -> set[str]:
    # Unbound field lists are built on first instantiation; read them from the class attributes.
    from wtforms.fields.core import UnboundField

    return {name for name, value in vars_of(form_class).items() if isinstance(value, UnboundField)}


def vars_of(cls) -> dict:
    merged: dict = {}
    for klass in reversed(cls.__mro__):
        merged.update(vars(klass))
    return merged


def all_form_field_names(app: Flask) -> set[str]:
    """Every field name of every form class the app defines (FieldList rows as `name-0-sub`)."""
    names: set[str] = set()
    with app.test_request_context():
        for form_class in _form_classes():
            if form_class.__module__.startswith("facility."):
                for name in _field_names_of_form(form_class):
                    names.add(name)
                # FieldList/FormField rows: instantiate the unbound fields' structure.
                for name, value in vars_of(form_class).items():
                    field_class = getattr(value, "field_class", None)
                    if field_class is FieldList and value.args and getattr(value.args[0], "field_class", None) is FormField:
                        for sub in _field_names_of_form(value.args[0].args[0]):
                            names.add(f"{name}-0-{sub}")
                            names.add(f"{name}-1-{sub}")
    names.discard("csrf_token")
    return names


def _page_field_names(client, path: str) -> set[str]:
    response = client.get(path)
    if response.status_code != 200 or "text/html" not in response.content_type:
        return set()
    return set(re.findall(r'name="([^"]+)"', response.get_data(as_text=True))) - {"csrf_token"}


def _ids(app: Flask) -> dict[str, int]:
    """A real id for each kind of path argument, from the demo data."""
    from facility.accounts.models import ApiToken, Organization, User
    from facility.challenges.models import Challenge, Clarification
    from facility.cities.models import City
    from facility.grants.models import Contribution, Grant, MilestoneReport, Tranche
    from facility.proposals.models import Attachment, Proposal
    from facility.review.models import Assignment, ReviewRound

    def first(model):
        return db.session.execute(sa.select(sa.func.min(model.id))).scalar() or 1

    return {
        "user_id": first(User), "org_id": first(Organization), "token_id": first(ApiToken),
        "challenge_id": first(Challenge), "clarification_id": first(Clarification), "city_id": first(City),
        "contribution_id": first(Contribution), "grant_id": first(Grant), "report_id": first(MilestoneReport),
        "tranche_id": first(Tranche), "proposal_id": first(Proposal), "attachment_id": first(Attachment),
        "assignment_id": first(Assignment), "round_id": first(ReviewRound),
    }


def _path(rule, ids: dict[str, int], **override) -> str:
    values = {}
    for name in rule.arguments:
        values[name] = override.get(name, ids.get(name, 1) if "int" in type(rule._converters[name]).__name__.lower()
                                    else "garbage-token")
    path = rule.rule
    for name, value in values.items():
        path = re.sub(rf"<(?:[^:<>]+:)?{name}>", str(value), path)
    return path


def _page_rules(app: Flask, method: str):
    for rule in app.url_map.iter_rules():
        if rule.endpoint in SKIP_ENDPOINTS or rule.rule.startswith("/api/") or method not in rule.methods:
            continue
        yield rule


def _audit_count() -> int:
    from facility.audit.models import AuditEvent

    db.session.rollback()
    return db.session.execute(sa.select(sa.func.count(AuditEvent.id))).scalar()


class _Crash:
    """Stands for the response when the app raised (tests propagate errors: that would be a 500)."""

    def __init__(self, exc: Exception):
        self.status_code = 500
        self.content_type = ""
        self.location = None
        self.error = f"{exc.__class__.__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"


def _send(client, method: str, path: str, **kwargs):
    try:
        response = client.open(path, method=method, **kwargs)
        response.get_data()  # a streamed body (CSV exports) runs to its end and pops its request context
        return response
    except Exception as exc:
        db.session.rollback()
        return _Crash(exc)


def _what(response) -> str:
    return getattr(response, "error", str(response.status_code))


def _refused(response) -> bool:
    return response.status_code in (400, 403, 404, 405, 409, 413, 422) or (
        response.status_code == 200 and "text/html" in response.content_type)


def _roles(*fast):
    """Every kind of caller; those not in `fast` only with -m slow."""
    return [r if r in fast else pytest.param(r, marks=pytest.mark.slow) for r in (None, *ROLES)]


@pytest.mark.parametrize("role", _roles("fund_manager", "city_official", "innovator", "reviewer"))
def test_pages_survive_garbage_posts(demo_app, role):
    app = demo_app
    client, token = _signed_in(app, role)
    ids = _ids(app)
    known = all_form_field_names(app)
    failures = []
    for rule in _page_rules(app, "POST"):
        path = _path(rule, ids)
        names = known | (_page_field_names(client, path) if "GET" in rule.methods else set())
        for kind, value in GARBAGE.items():
            before = _audit_count()
            response = _send(client, "POST", path, data={**dict.fromkeys(names, value), "csrf_token": token})
            if response.status_code >= 500:
                failures.append(f"POST {path} ({kind}) as {role}: {_what(response)}")
            elif _refused(response) and _audit_count() != before:
                failures.append(f"POST {path} ({kind}) as {role}: refused with {response.status_code} but wrote")
            if response.status_code == 302 and "/signin" in (response.location or "") and role is not None:
                client, token = _signed_in(app, role)  # an action ended the session (e.g. a password change)
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("role", _roles(None, "admin", "fund_manager", "innovator"))
def test_pages_answer_huge_ids_with_404(demo_app, role):
    client, _ = _signed_in(demo_app, role)
    ids = _ids(demo_app)
    failures = []
    for rule in _page_rules(demo_app, "GET"):
        int_args = [n for n in rule.arguments if "int" in type(rule._converters[n]).__name__.lower()]
        for name in int_args:
            for huge in HUGE_IDS:
                response = _send(client, "GET", _path(rule, ids, **{name: huge}))
                if response.status_code not in (302, 403, 404):
                    failures.append(f"GET {_path(rule, ids, **{name: huge})}: {_what(response)}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("role", _roles(None, "fund_manager", "innovator"))
def test_pages_survive_bad_query_args(demo_app, role):
    client, _ = _signed_in(demo_app, role)
    ids = _ids(demo_app)
    failures = []
    for rule in _page_rules(demo_app, "GET"):
        path = _path(rule, ids)
        for value in BAD_PAGES:
            response = _send(client, "GET", path, query_string=dict.fromkeys(QUERY_ARGS, value))
            if response.status_code >= 500:
                failures.append(f"GET {path} with {value!r} in every query argument: {_what(response)}")
        response = _send(client, "GET", path, query_string={"q": "\x00", "page": str(10**20), "status": "x" * 10_000})
        if response.status_code >= 500:
            failures.append(f"GET {path} with NUL, huge page and long status: {_what(response)}")
    assert not failures, "\n".join(failures)
