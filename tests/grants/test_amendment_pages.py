"""Amendment pages and policies: a fund manager proposes on the grant's page, another approves, the grantee
accepts; the grant page shows the amendments and every agreement version; the public page the history."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from flask_login import AnonymousUserMixin

from facility.accounts.models import OrgKind
from facility.extensions import db
from facility.grants import amendments, policy
from facility.grants.amendment_models import AmendmentStatus, GrantAmendment
from facility.grants.models import TrancheStatus
from tests import factories
from tests.grants.test_amendments import _rows, amendable  # noqa: F401 - the fixture


def _token(html: str, prefix: str = "") -> str:
    name = f"{prefix}-csrf_token" if prefix else "csrf_token"
    match = re.search(rf'name="{name}"[^>]*value="([^"]+)"', html) or re.search(
        rf'value="([^"]+)"[^>]*name="{name}"', html)
    assert match, f"no {name} on the page"
    return match.group(1)


def test_fund_manager_proposes_on_the_page_and_grantee_accepts(app, login, amendable):  # noqa: F811
    grant, author, approver, grantee = amendable
    manager_client = login(app.test_client(), author)
    page = manager_client.get(f"/grants/{grant.id}")
    assert f"/grants/{grant.id}/amendments/new" in page.get_data(as_text=True)
    form = manager_client.get(f"/grants/{grant.id}/amendments/new")
    html = form.get_data(as_text=True)
    assert form.status_code == 200 and 'name="rows-0-title"' in html and 'name="rows-3-title"' in html
    t1, t2 = grant.tranches
    data = {"csrf_token": _token(html), "reason": "Phase two costs less",
            "rows-0-tranche_id": str(t1.id), "rows-0-title": t1.title, "rows-0-amount": "10,000.00",
            "rows-0-due_date": t1.due_date.isoformat(),
            "rows-1-tranche_id": str(t2.id), "rows-1-title": t2.title, "rows-1-amount": "15,000",
            "rows-1-due_date": t2.due_date.isoformat(),
            "rows-2-tranche_id": "", "rows-2-title": "Evaluation", "rows-2-amount": "1,000", "rows-2-due_date": "",
            "rows-3-tranche_id": "", "rows-3-title": "", "rows-3-amount": "", "rows-3-due_date": ""}
    response = manager_client.post(f"/grants/{grant.id}/amendments/new", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    amendment = db.session.execute(sa.select(GrantAmendment)).scalar_one()
    assert amendment.change_cents == -400_000 and amendment.status is AmendmentStatus.APPROVED
    assert [row.title for row in amendment.tranches][-1] == "Evaluation"

    grantee_client = login(app.test_client(), grantee)
    shown = grantee_client.get(f"/amendments/{amendment.id}")
    html = shown.get_data(as_text=True)
    assert shown.status_code == 200 and "Phase two costs less" in html and "What happens next" in html
    assert f"/amendments/{amendment.id}/accept" in html
    accepted = grantee_client.post(f"/amendments/{amendment.id}/accept", data={"amend-csrf_token": _token(html, "amend")})
    assert accepted.status_code == 302
    db.session.expire_all()
    assert amendment.status is AmendmentStatus.ACCEPTED and grant.amount_cents == 2_600_000
    page = grantee_client.get(f"/grants/{grant.id}").get_data(as_text=True)
    assert "Agreement history" in page and "Version 2" in page and "Amendment 1" in page
    public = app.test_client().get(f"/grants/{grant.id}").get_data(as_text=True)
    assert "Phase two costs less" in public and "Amendment 1" in public


def test_form_errors_show_on_their_rows_and_change_nothing(app, login, amendable):  # noqa: F811
    grant, author, _approver, _grantee = amendable
    client = login(app.test_client(), author)
    html = client.get(f"/grants/{grant.id}/amendments/new").get_data(as_text=True)
    t1, t2 = grant.tranches
    response = client.post(f"/grants/{grant.id}/amendments/new", data={
        "csrf_token": _token(html), "reason": "x",
        "rows-0-tranche_id": str(t1.id), "rows-0-title": "", "rows-0-amount": "10,000",
        "rows-1-tranche_id": str(t2.id), "rows-1-title": t2.title, "rows-1-amount": "abc"})
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert 'id="rows-1-amount-error"' in body or 'id="rows-0-title-error"' in body
    assert db.session.execute(sa.select(sa.func.count(GrantAmendment.id))).scalar_one() == 0


def test_approval_on_the_page_and_rejection_with_a_reason(app, login, amendable):  # noqa: F811
    grant, author, approver, grantee = amendable
    amendment = amendments.propose_amendment(grant=grant, actor=author, reason="Bigger",
                                             tranches=_rows(grant, t2={"amount_cents": 2_500_000}))
    db.session.commit()
    author_page = login(app.test_client(), author).get(f"/amendments/{amendment.id}").get_data(as_text=True)
    assert f"/amendments/{amendment.id}/approve" not in author_page and "Approvals" in author_page
    approver_client = login(app.test_client(), approver)
    html = approver_client.get(f"/amendments/{amendment.id}").get_data(as_text=True)
    assert f"/amendments/{amendment.id}/approve" in html
    assert approver_client.post(f"/amendments/{amendment.id}/approve",
                                data={"amend-csrf_token": _token(html, "amend")}).status_code == 302
    db.session.expire_all()
    assert amendment.status is AmendmentStatus.APPROVED
    grantee_client = login(app.test_client(), grantee)
    html = grantee_client.get(f"/amendments/{amendment.id}").get_data(as_text=True)
    empty = grantee_client.post(f"/amendments/{amendment.id}/reject",
                                data={"reject-csrf_token": _token(html, "reject"), "reject-reason": ""})
    assert empty.status_code == 422
    done = grantee_client.post(f"/amendments/{amendment.id}/reject",
                               data={"reject-csrf_token": _token(html, "reject"), "reject-reason": "Too late"})
    assert done.status_code == 302
    db.session.expire_all()
    assert amendment.status is AmendmentStatus.REJECTED and amendment.rejection_reason == "Too late"


def test_pages_refuse_the_wrong_people(app, login, amendable, make_user, make_org):  # noqa: F811
    grant, author, _approver, grantee = amendable
    amendment = amendments.propose_amendment(grant=grant, actor=author, reason="Bigger",
                                             tranches=_rows(grant, t2={"amount_cents": 2_500_000}))
    db.session.commit()
    stranger = make_user("innovator", organization=make_org(name="Elsewhere", kind=OrgKind.INNOVATOR))
    anonymous = app.test_client()
    assert anonymous.get(f"/amendments/{amendment.id}").status_code == 302  # to sign in
    assert anonymous.get(f"/grants/{grant.id}/amendments/new").status_code in (302, 403)
    stranger_client = login(app.test_client(), stranger)
    assert stranger_client.get(f"/amendments/{amendment.id}").status_code == 404
    assert stranger_client.get(f"/grants/{grant.id}/amendments/new").status_code == 403
    grantee_client = login(app.test_client(), grantee)
    assert grantee_client.get(f"/grants/{grant.id}/amendments/new").status_code == 403


# --- the policies: the wrong role, the wrong organisation, an anonymous caller -----------------------

@pytest.fixture
def people(amendable, make_user, make_org):  # noqa: F811
    grant, author, approver, grantee = amendable
    other_org = make_user("innovator", organization=make_org(name="Other org", kind=OrgKind.INNOVATOR))
    return grant, author, approver, grantee, other_org, make_user("donor"), AnonymousUserMixin()


def test_propose_policy(people):
    grant, author, _approver, grantee, other_org, donor, anonymous = people
    assert policy.can_propose_amendment(author, grant) is None
    for user in (grantee, other_org, donor, anonymous):
        assert policy.can_propose_amendment(user, grant) is not None
    assert policy.can_propose_amendment(make_unenrolled_manager(), grant) is not None


def make_unenrolled_manager():
    return factories.accounts.make_user("fund_manager", enrolled=False)


def test_approve_accept_reject_view_policies(people):
    grant, author, approver, grantee, other_org, donor, anonymous = people
    pending = amendments.propose_amendment(grant=grant, actor=author, reason="Bigger",
                                           tranches=_rows(grant, t2={"amount_cents": 2_500_000}))
    db.session.commit()
    assert policy.can_approve_amendment(approver, pending) is None
    for user in (author, grantee, other_org, donor, anonymous):
        assert policy.can_approve_amendment(user, pending) is not None
    assert policy.can_accept_amendment(grantee, pending).is_state  # not approved yet
    amendments.approve_amendment(amendment=pending, actor=approver)
    db.session.commit()
    assert policy.can_accept_amendment(grantee, pending) is None
    for user in (author, approver, other_org, donor, anonymous):
        assert policy.can_accept_amendment(user, pending) is not None
    for user in (grantee, author, approver):
        assert policy.can_reject_amendment(user, pending) is None
    for user in (other_org, donor, anonymous):
        assert policy.can_reject_amendment(user, pending) is not None
    for user in (grantee, author):
        assert policy.can_view_amendment(user, pending) is None
    for user in (other_org, donor, anonymous):
        assert policy.can_view_amendment(user, pending) is not None


def test_approval_above_the_approvers_limit_is_refused(people):
    grant, author, approver, _grantee, *_ = people
    approver.approval_limit_cents = 100_000  # USD 1,000
    db.session.commit()
    pending = amendments.propose_amendment(grant=grant, actor=author, reason="Bigger",
                                           tranches=_rows(grant, t2={"amount_cents": 2_500_000}))
    refusal = policy.can_approve_amendment(approver, pending)
    assert refusal is not None and "limit" in refusal.reason


def test_a_cancelled_grant_cannot_be_amended(people):
    grant, author, *_ = people
    grant.status = grant.status.__class__("cancelled")  # as a cancellation leaves it (the scene)
    for tranche in grant.tranches:
        tranche.status = TrancheStatus.CANCELLED
    db.session.commit()
    refusal = policy.can_propose_amendment(author, grant)
    assert refusal is not None and refusal.is_state
