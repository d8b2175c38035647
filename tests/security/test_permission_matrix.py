"""The permission matrix: every route of the url map, every method, as every kind of caller, against one table.

For each caller kind (tests/security/matrix_world.py: anonymous, each role, an innovator and a city official
of the wrong organisation, a deactivated account, a fund manager without a second factor) a fresh demo world
is set up and every (endpoint, method) of the url map is called once: pages with the caller's session, its
CSRF token and values a form would accept, the API with the caller's bearer token and an empty JSON object
(or a valid body where the API reads the body before it checks the object's owner). The answer must be the
one tests/security/permission_table.py gives: allowed callers get anything but 401/403/404 (a 400/422 for
the generic body, a 302 to the next page, a 409 for the object's state are fine) and never a 5xx; refused
callers get exactly the table's code (a page sends the signed-out to sign in, the API answers 401), and a
refused write adds no audit event. A route without a row fails the test, naming it.

`MFA_GATE_ENFORCED`: a fund manager without a second factor can only enrol (issue 12): on the routes of
permission_table.ENROLMENT_ENDPOINTS they get what a fund manager gets; every other page is a 302 to the
enrolment page (a Location containing one of ENROLMENT_LOCATION), public pages included, and the API 403.

`MATRIX_RECORD=/tmp/m pytest tests/security` writes what each kind got to /tmp/m.<kind>.json (to write a
new route's row, or to review a change).
"""
from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
from flask import Flask

from facility import create_app
from facility.extensions import limiter
from tests.security import matrix_world
from tests.security.permission_table import (
    CALLER_KINDS,
    ENROLMENT_ENDPOINTS,
    TABLE,
    WRITE_ORDER_LAST,
    Row,
)

# Flip to True when the "sign in only to enrol" gate for staff without a second factor is merged.
MFA_GATE_ENFORCED = True
# Where the gate sends a page request (a Location matching this); the API answers 403.
ENROLMENT_LOCATION = ("two-step",)

FORM_VALUES = {"confirm": "y", "reason": "matrix", "reference": "MATRIX-1", "kind": "award", "note": "n",
               "email": "someone@example.org", "name": "Someone", "question": "Is the deadline firm?",
               "answer": "Yes."}
SPENDING = {f"{name}_cents": 0 for name in ("personnel", "equipment", "services", "travel", "other")}
API_BODIES = {
    "api_amendments.reject": {"reason": "matrix"},
    "api_challenges.answer_clarification": {"answer": "Yes."},
    "api_challenges.ask_clarification": {"question": "Is the deadline firm?"},
    "api_challenges.extend_deadline": {"new_closes_at": "2099-01-01T00:00:00+00:00", "reason": "matrix"},
    "api_challenges.update_challenge": {"title": "Matrix"},
    "api_grants.put_public_summary": {"public_summary": "Matrix"},
    "api_grants.put_payout_account": {"rail": "manual", "account_holder": "Matrix", "bank_name": "Bank",
                                      "iban": "GB82WEST12345698765432", "swift": "DBBLBDDH",
                                      "confirm_password": "demo-facility-2026"},
    "api_grants.submit_evidence": {"text": "Done.", "spending": SPENDING},
    "api_proposals.patch_proposal": {"title": "Matrix"},
    "api_review.declare_conflict": {"reason": "matrix"},
    "api_review.put_review": {},
    # Past the policy, the service refuses these dates (422): nothing is written by the allowed.
    "api_stages.add_stage": {"stage_name": "Scale", "prize_pool_cents": 100, "max_award_cents": 100,
                             "opens_at": "2030-01-02T00:00:00+00:00", "closes_at": "2030-01-01T00:00:00+00:00"},
    "api_stages.invite": {"grant_id": 1, "reason": "matrix"},
}
API_UPLOADS = {"api_proposals.upload_attachment"}
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
# MATRIX_RECORD=<prefix>: write the answers observed (outcome:status) to <prefix>.<kind>.json.
RECORD = os.environ.get("MATRIX_RECORD")


def _routes(app: Flask) -> list[tuple[str, str, str]]:
    """(endpoint, method, rule) for the url map, reads first, then writes, the session-ending ones last."""
    found = sorted({(rule.endpoint, method, rule.rule) for rule in app.url_map.iter_rules()
                    for method in rule.methods - {"HEAD", "OPTIONS"}})
    return sorted(found, key=lambda r: (r[1] in WRITES, r[0] in WRITE_ORDER_LAST, WRITE_ORDER_LAST.get(r[0], 0)))


def unlisted_routes(app: Flask) -> list[str]:
    """The url map's routes ("endpoint METHOD") that have no row in the table."""
    return sorted({f"{endpoint} {method}" for endpoint, method, _ in _routes(app)} - {f"{e} {m}" for e, m in TABLE})


def _path(app: Flask, endpoint: str, rule_text: str, values: dict) -> str:
    rule = next(r for r in app.url_map.iter_rules(endpoint) if r.rule == rule_text)
    args = {name: values.get(f"{endpoint}:{name}", values.get(name)) for name in rule.arguments}
    missing = [name for name, value in args.items() if value is None]
    assert not missing, f"{endpoint}: no value for URL parameter(s) {missing} (add them to matrix_world.parameters)"
    adapter = app.url_map.bind("localhost")
    return adapter.build(endpoint, args, method=None, force_external=False)


def _outcome(response) -> str:
    """What the answer means: ok, signin (302 to sign in, with the page to come back to), enrol (302 to the
    enrolment page), 401, 403, 404 or 5xx. A public form's own redirect to /signin (a reset e-mail sent) is ok."""
    response.get_data()  # read a streamed body to its end
    status = response.status_code
    location = response.headers.get("Location", "")
    if status in (301, 302, 303) and "/signin" in location and "next=" in location:
        return "signin"
    if status in (301, 302, 303) and any(word in location for word in ENROLMENT_LOCATION):
        return "enrol"
    if status in (401, 403, 404):
        return str(status)
    if status >= 500:
        return "5xx"
    return "ok"


def expected(row: Row, kind: str, *, api: bool, endpoint: str) -> str:
    """The table's answer for `kind` (the deactivated account and the un-enrolled fund manager derived)."""
    if kind == "deactivated":
        kind = "anonymous"
    if kind == "unenrolled_fm":
        if not MFA_GATE_ENFORCED:
            kind = "fund_manager"
        elif endpoint in ENROLMENT_ENDPOINTS:
            kind = "fund_manager"  # their own second factor, as any fund manager
        else:
            return "403" if api else "enrol"  # "until enrolled they can sign in only to enrol": public pages too
    if kind in row.allow:
        return "ok"
    if kind in row.codes:
        return str(row.codes[kind])
    if kind == "anonymous":
        return "401" if api else "signin"
    return str(row.refuse)


@pytest.fixture
def no_limits(app):
    limiter.enabled = False
    yield app
    limiter.enabled = True


def _send(caller: matrix_world.Caller, endpoint: str, method: str, path: str, *, api: bool, values: dict):
    """Pages get the CSRF token and values a form would accept (as tests/test_auditor.py sends), so that a
    refusal is the policy's and not a validation error's. The API checks the caller's role before it reads
    the body but the object's owner after (facility/api/__init__.py `requires`), so where the wrong
    organisation matters it gets a valid body (API_BODIES), else an empty object."""
    if api and endpoint in API_UPLOADS:
        return caller.client.open(path, method=method, headers=caller.headers, content_type="multipart/form-data",
                                  data={"file": (io.BytesIO(matrix_world.PDF), "plan.pdf")})
    if api:
        body = API_BODIES.get(endpoint, {})
        return caller.client.open(path, method=method, headers=caller.headers, json=body)
    data = {"csrf_token": caller.csrf, **FORM_VALUES, "file": (io.BytesIO(matrix_world.PNG), "evidence.png"),
            # the answer forms are prefixed with their clarification's id
            f"a{values['clarification_id']}-answer": "Yes."}
    return caller.client.open(path, method=method, data=data, content_type="multipart/form-data")


# The table's answers come from the policies, not the database: every kind runs on SQLite; on PostgreSQL (each
# kind seeds the whole demo there, with no snapshot to copy) the kinds whose answers involve the database's own
# behaviour run: sessions and tokens ended (deactivated), the gate (unenrolled_fm), ownership (other_innovator).
POSTGRES_KINDS = ("anonymous", "fund_manager", "admin", "other_innovator", "deactivated", "unenrolled_fm")


@pytest.mark.parametrize("kind", CALLER_KINDS)
def test_permission_matrix(no_limits, backend, kind):
    if backend != "sqlite" and kind not in POSTGRES_KINDS:
        pytest.skip("the policies' answers are the same on both databases; SQLite runs every kind")
    app = no_limits
    caller, values = matrix_world.build(app, kind)
    failures, observed = [], {}
    routes = _routes(app)
    unlisted = unlisted_routes(app)
    assert RECORD or not unlisted, ("routes without a row in tests/security/permission_table.py (add one saying "
                                    "who may call them): " + ", ".join(unlisted))
    for endpoint, method, rule_text in routes:
        row = TABLE.get((endpoint, method))
        if row is None and not RECORD:
            continue
        api = rule_text.startswith("/api/")
        path = _path(app, endpoint, rule_text, values)
        write = method in WRITES
        before = matrix_world.audit_rows() if write else 0
        response = _send(caller, endpoint, method, path, api=api, values=values)
        got = _outcome(response)
        observed[f"{endpoint} {method}"] = f"{got}:{response.status_code}"
        if row is None:
            continue
        want = expected(row, kind, api=api, endpoint=endpoint)
        if got == "enrol" and want == "ok" and endpoint.startswith("mfa."):
            got = "ok"  # the second factor's own pages send people without one (or with one on) to the two-step page
        if got != want:
            failures.append(f"{method} {path} ({endpoint}) as {kind}: expected {want}, got {got}")
        elif write and want != "ok" and matrix_world.audit_rows() != before:
            failures.append(f"{method} {path} ({endpoint}) as {kind}: refused, but an audit event was written")
    if RECORD:  # one file per caller kind: <RECORD>.<kind>.json (the kinds may run in parallel)
        Path(f"{RECORD}.{kind}.json").write_text(json.dumps(observed, indent=1, sort_keys=True))
    assert not failures, f"{len(failures)} answers differ from the table:\n" + "\n".join(failures)


def test_table_names_only_real_routes(app):
    """A renamed or removed route leaves a stale row; the table names exactly the url map's routes."""
    routes = {(rule.endpoint, method) for rule in app.url_map.iter_rules()
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert not set(TABLE) - routes, f"rows for routes that do not exist: {sorted(set(TABLE) - routes)}"
    assert not set(ENROLMENT_ENDPOINTS) - {endpoint for endpoint, _ in routes} or not MFA_GATE_ENFORCED


def test_table_kinds_are_caller_kinds():
    """Every row speaks of real caller kinds (a typo would silently allow or refuse nobody), and not of the
    derived ones (the deactivated account and the un-enrolled fund manager follow the rule in `expected`)."""
    known = set(CALLER_KINDS) - {"deactivated", "unenrolled_fm"}
    for key, row in TABLE.items():
        assert row.allow <= known, (key, row.allow - known)
        assert set(row.codes) <= known, (key, set(row.codes) - known)


def test_a_new_route_without_a_row_is_named():
    """A route added to the app and not to the table is reported by name (so the matrix fails on it)."""
    fresh = create_app("test", SQLALCHEMY_DATABASE_URI="sqlite://")
    assert unlisted_routes(fresh) == []
    fresh.add_url_rule("/example/<int:thing_id>", "example.new_route", lambda thing_id: "", methods=["GET", "POST"])
    assert unlisted_routes(fresh) == ["example.new_route GET", "example.new_route POST"]
