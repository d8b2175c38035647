"""The auditor reads everything and changes nothing (DESIGN.md section 1).

(a) Every page and API read a fund manager gets, the auditor gets too: the whole url_map's GET
    routes, with real ids from the demo data (and, where state matters, one object of each status).
(b) Every write route of the url_map (POST, PUT, PATCH, DELETE; pages with a session and a CSRF
    token, the API with a bearer token) refuses the auditor with 403, or 404 where the object is
    hidden, and nothing changes: the row count of every table, the audit trail included, is the same
    before and after. New routes are covered without touching this file; the routes an auditor may
    use like anyone else are listed in EXEMPT_WRITES with the reason.
"""
from __future__ import annotations

import io
import re

import pytest
import sqlalchemy as sa
from flask import Flask

from facility.extensions import db, limiter
from tests.conftest import csrf_token_from, sign_in

DEMO_PASSWORD = "demo-facility-2026"
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde"
       b"\x00\x00\x00\x0cIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")
AUDITOR = "auditor@demo.facility"
FUND_MANAGER = "fund.manager@demo.facility"

EXEMPT_WRITES = {
    # The auditor's own session, language and account, as for any signed-in person:
    "accounts.signout": "ends the auditor's own session",
    "accounts.signin": "signing in is how the auditor starts",
    "accounts.signup": "a public form; it creates a new person's account, not the auditor acting",
    "accounts.forgot_password": "a public form; it e-mails a reset link to whoever owns the address",
    "accounts.reset_password": "a public form with a one-time token (a garbage token here)",
    "core.set_language": "the auditor's own language preference",
    "accounts.profile": "the auditor's own profile",
    "accounts.reminder_preferences": "the auditor's own reminder e-mails",
    "accounts.change_password": "the auditor's own password",
    "accounts.revoke_token": "the auditor's own API tokens",
    "mfa.signin_verify": "the sign-in's second step: how the auditor starts",
    "mfa.two_step_start": "the auditor's own second factor",
    "mfa.two_step_confirm": "the auditor's own second factor",
    "mfa.two_step_recovery_codes": "the auditor's own recovery codes",
    "mfa.two_step_off": "the auditor's own second factor (refused: the role needs it)",
    "mfa.confirm": "the auditor proves a fresh second factor for their own session",
    "api_accounts.start_totp": "the auditor's own second factor",
    "api_accounts.confirm_totp": "the auditor's own second factor",
    "passkeys.registration_options": "the auditor's own passkeys (their role needs a second factor)",
    "passkeys.register": "the auditor's own passkeys (their role needs a second factor)",
    "passkeys.remove": "the auditor's own passkeys (never the last factor their role needs)",
    "passkeys.step_up_options": "the auditor proving their own second factor",
    "passkeys.step_up_verify": "the auditor proving their own second factor",
    "api_accounts.create_token": "the auditor's own API tokens",
    "api_accounts.revoke_token": "the auditor's own API tokens",
    "api_accounts.sign_up": "public sign-up; creates a new person's account, not the auditor acting",
    "review.accept_invitation": "needs an e-mailed invitation token and a signed-out person",
    # Not a person acting at all:
    "payments.stripe_webhook": "Stripe's signed callback; without a valid signature it is refused anyway",
}
WRITE_FORM_PAGES = {
    # GET pages whose only content is a form to change something: the auditor is refused them (403/404)
    # like the write they lead to; the objects they are about are read on their own pages.
    "challenges.new", "challenges.edit", "cities.new_city", "cities.edit", "proposals.new", "proposals.edit",
    "grants.award", "grants.confirm_wire", "grants.payout", "grants.evidence", "review.waive", "review.edit_round",
    "accounts.admin_user_roles", "payments.checkout", "grants.contributions", "review.review",
    "accounts.organization", "grants.cancel_grant", "grants.record_refund", "grant_amendments.propose",
    "proposals.withdraw", "disbursements.approve", "disbursements.cancel", "grants.release_pool", "review.release",
    "review.close_round", "appeals.new", "solutions.replicate", "stages.new_stage", "stage_invitations.candidates",
}
NOT_FOR_STAFF = {
    # Pages that belong to one other role, which a fund manager does not get either.
    "challenges.mine", "review.queue", "review.reviewer_panel",
}
SKIP_READS = {"static", "accounts.signin", "accounts.signup", "accounts.forgot_password", "mfa.signin_verify",
              "accounts.reset_password", "review.accept_invitation", "accounts.signout"}


@pytest.fixture
def demo_app(app):
    from facility import demo

    demo.seed(echo=lambda _msg: None)
    limiter.enabled = False
    yield app
    limiter.enabled = True


def _client(app: Flask, email: str):
    client = app.test_client()
    response = sign_in(client, email, DEMO_PASSWORD)  # demo staff also pass the second step
    assert response.status_code == 302, response.status_code
    return client, csrf_token_from(client.get("/profile").get_data(as_text=True))


def _bearer(email: str) -> dict[str, str]:
    from facility.accounts.models import User
    from facility.accounts.services import issue_api_token

    user = db.session.execute(sa.select(User).where(User.email == email)).scalar_one()
    _, plain = issue_api_token(user=user)
    db.session.commit()
    return {"Authorization": f"Bearer {plain}"}


def _candidates() -> dict[str, list[int]]:
    """Real ids for each path argument: the first of each kind, and for the objects whose state
    decides who sees them (challenges, proposals, cities, grants, disbursements) one per status."""
    from facility.accounts.models import ApiToken, Organization, User
    from facility.audit.models import AuditEvent
    from facility.challenges.models import Challenge, Clarification
    from facility.cities.models import City
    from facility.disbursements.models import Disbursement
    from facility.grants.models import Contribution, EvidenceFile, Grant, MilestoneReport, Tranche
    from facility.proposals.models import Attachment, Proposal
    from facility.review.models import Assignment, ReviewRound

    def first(model) -> list[int]:
        return [db.session.execute(sa.select(sa.func.min(model.id))).scalar() or 1]

    def per(column, model) -> list[int]:
        rows = db.session.execute(sa.select(sa.func.min(model.id)).group_by(column)).scalars().all()
        return sorted(rows) or [1]

    return {
        "user_id": first(User), "org_id": first(Organization), "token_id": first(ApiToken),
        "challenge_id": per(Challenge.status, Challenge), "clarification_id": first(Clarification),
        "city_id": per(City.verified_at.is_(None), City), "contribution_id": per(Contribution.status, Contribution),
        "grant_id": per(Grant.status, Grant), "report_id": per(MilestoneReport.status, MilestoneReport),
        "tranche_id": per(Tranche.status, Tranche), "proposal_id": per(Proposal.status, Proposal),
        "attachment_id": first(Attachment), "assignment_id": first(Assignment), "round_id": first(ReviewRound),
        "disbursement_id": per(Disbursement.status, Disbursement), "file_id": first(EvidenceFile),
        "event_id": first(AuditEvent),
    }


def _paths(rule, ids: dict[str, list[int]]) -> list[str]:
    """The rule's path with real ids: one path per candidate of its first argument, the other
    arguments at their first id (an attachment of another proposal is a 404 for everyone alike)."""
    names = list(rule.arguments)
    if not names:
        return [rule.rule]
    out = []
    for lead in ids.get(names[0], [1]):
        path = rule.rule
        for name in names:
            converter = type(rule._converters[name]).__name__.lower()
            value = lead if name == names[0] else ids.get(name, [1])[0]
            path = re.sub(rf"<(?:[^:<>]+:)?{name}>", str(value) if "int" in converter or "id" in converter
                          else "garbage-token", path)
        out.append(path)
    return out


def _rules(app: Flask, methods: set[str], *, api: bool):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/") == api and rule.methods & methods:
            yield rule


def _status(client, path: str, **kwargs) -> int:
    """GET `path` and read the body to its end (a streamed CSV then releases its request context)."""
    response = client.get(path, **kwargs)
    response.get_data()
    return response.status_code


def _row_counts() -> dict[str, int]:
    """Rows in every table of the schema (the audit trail and the e-mail outbox included)."""
    db.session.rollback()
    return {name: db.session.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for name, table in db.metadata.tables.items()}


# --- (a) the auditor reads what a fund manager reads ------------------------------------------------

def test_auditor_gets_every_page_a_fund_manager_gets(demo_app):
    manager, _ = _client(demo_app, FUND_MANAGER)
    auditor, _ = _client(demo_app, AUDITOR)
    ids = _candidates()
    checked, failures = 0, []
    for rule in _rules(demo_app, {"GET"}, api=False):
        if rule.endpoint in SKIP_READS | WRITE_FORM_PAGES | NOT_FOR_STAFF:
            continue
        for path in _paths(rule, ids):
            if _status(manager, path) != 200:
                continue
            checked += 1
            status = _status(auditor, path)
            if status != 200:
                failures.append(f"GET {path} ({rule.endpoint}): fund manager 200, auditor {status}")
    assert not failures, "\n".join(failures)
    assert checked > 40, checked  # the walk reached the object pages, not only the lists


def test_auditor_gets_every_api_read_a_fund_manager_gets(demo_app):
    manager, auditor = _bearer(FUND_MANAGER), _bearer(AUDITOR)
    client = demo_app.test_client()
    ids = _candidates()
    checked, failures = 0, []
    for rule in _rules(demo_app, {"GET"}, api=True):
        for path in _paths(rule, ids):
            if _status(client, path, headers=manager) != 200:
                continue
            checked += 1
            status = _status(client, path, headers=auditor)
            if status != 200:
                failures.append(f"GET {path} ({rule.endpoint}): fund manager 200, auditor {status}")
    assert not failures, "\n".join(failures)
    assert checked > 20, checked


def test_auditor_sees_no_action_buttons(demo_app):
    """The pages an auditor reads offer no form that changes anything (the search and language forms
    are GET or the auditor's own)."""
    auditor, _ = _client(demo_app, AUDITOR)
    ids = _candidates()
    adapter = demo_app.url_map.bind("localhost")
    failures = []
    for rule in _rules(demo_app, {"GET"}, api=False):
        if rule.endpoint in SKIP_READS | WRITE_FORM_PAGES | NOT_FOR_STAFF:
            continue
        for path in _paths(rule, ids):
            response = auditor.get(path)
            response.get_data()
            if response.status_code != 200 or "text/html" not in response.content_type:
                continue
            for action in _post_targets(response.get_data(as_text=True), path):
                endpoint, _args = adapter.match(action.split("?", 1)[0], method="POST")
                if endpoint not in EXEMPT_WRITES:
                    failures.append(f"{path} offers a form posting to {action} ({endpoint})")
    assert not failures, "\n".join(sorted(set(failures)))


def _post_targets(html: str, path: str) -> list[str]:
    """Where each POST form of the page sends (a form without an action posts to the page itself)."""
    targets = []
    for tag in re.findall(r"<form\b[^>]*>", html):
        if re.search(r'method="post"', tag, re.I):
            action = re.search(r'action="([^"]*)"', tag)
            targets.append(action.group(1) if action and action.group(1) else path)
    return targets


# --- (b) every write route refuses the auditor, and nothing changes -------------------------------

def _assert_refused(send, rules, ids, exempt) -> list[str]:
    failures = []
    for rule in rules:
        if rule.endpoint in exempt:
            continue
        for method in sorted(rule.methods & {"POST", "PUT", "PATCH", "DELETE"}):
            for path in _paths(rule, ids):
                before = _row_counts()
                response = send(method, path)
                after = _row_counts()
                if response.status_code not in (403, 404):
                    failures.append(f"{method} {path} ({rule.endpoint}): {response.status_code}, not refused")
                changed = {t: (before[t], after[t]) for t in before if before[t] != after[t]}
                if changed:
                    failures.append(f"{method} {path} ({rule.endpoint}) changed rows: {changed}")
    return failures


def test_every_page_write_refuses_the_auditor(demo_app):
    client, token = _client(demo_app, AUDITOR)
    ids = _candidates()

    def send(method, path):
        # Values a form would accept, so that a refusal is the policy's, not a validation error's.
        data = {"csrf_token": token, "confirm": "y", "reason": "audit", "reference": "AUDIT-1", "kind": "award",
                "note": "n", "email": "someone@example.org", "name": "Someone",
                "question": "Is the deadline firm?", "answer": "Yes.", "file": (io.BytesIO(PNG), "evidence.png")}
        return client.open(path, method=method, data=data, content_type="multipart/form-data")

    failures = _assert_refused(send, _rules(demo_app, {"POST", "PUT", "PATCH", "DELETE"}, api=False), ids,
                               EXEMPT_WRITES)
    assert not failures, "\n".join(failures)


def test_every_api_write_refuses_the_auditor(demo_app):
    headers = _bearer(AUDITOR)
    client = demo_app.test_client()
    ids = _candidates()

    def send(method, path):
        return client.open(path, method=method, headers=headers, json={"question": "Is the deadline firm?"})

    failures = _assert_refused(send, _rules(demo_app, {"POST", "PUT", "PATCH", "DELETE"}, api=True), ids,
                               EXEMPT_WRITES)
    assert not failures, "\n".join(failures)


def test_refusals_say_why(demo_app):
    """A refused auditor is told the role reads and does not change (page and API)."""
    from facility.challenges.models import Challenge, ChallengeStatus

    client, token = _client(demo_app, AUDITOR)
    pending = db.session.execute(sa.select(Challenge.id).where(
        Challenge.status == ChallengeStatus.PUBLISHED).limit(1)).scalar_one()
    page = client.post(f"/challenges/{pending}/finish", data={"csrf_token": token})
    assert page.status_code == 403
    assert "Auditors can read everything but change nothing." in page.get_data(as_text=True)
    api = demo_app.test_client().post(f"/api/v1/challenges/{pending}/finish", headers=_bearer(AUDITOR), json={})
    assert api.status_code == 403 and "Auditors can read everything but change nothing." in api.json["detail"]


def test_exempt_routes_exist():
    """The exemption list names real endpoints (a renamed route would otherwise escape the walk)."""
    from facility import create_app

    endpoints = {rule.endpoint for rule in create_app().url_map.iter_rules()}
    assert not (set(EXEMPT_WRITES) | WRITE_FORM_PAGES | NOT_FOR_STAFF) - endpoints
