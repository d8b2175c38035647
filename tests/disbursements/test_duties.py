"""Separation of duties on payments: the confirmer of a manual payment is neither its requester nor an approver;
approving above the two-approval threshold and revealing bank details need a fresh second factor; each
reveal is audited without the details, never logged, never cached."""
# ruff: noqa: F811 - test arguments name the fixtures imported below from the package's conftest
from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa

from facility.accounts.models import OrgKind
from facility.audit.models import AuditEvent
from facility.core.errors import Conflict, PermissionDenied, StepUpRequired
from facility.disbursements import bank_details, policy, queries, requests
from facility.disbursements.models import Disbursement, DisbursementStatus
from facility.extensions import db
from tests.conftest import get_csrf
from tests.factories.accounts import prove_factor, stale_factor

S = DisbursementStatus
IBAN = "GB82WEST12345698765432"  # tests/factories/grants.py MANUAL_ACCOUNT


def _fresh(disbursement_id: int) -> Disbursement:
    db.session.expire_all()
    return db.session.get(Disbursement, disbursement_id)


def _html(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def awaiting(payable, run_jobs, make_user):
    """A manual-rail disbursement awaiting its bank reference; returns (d, requester, approver, finance, grantee)."""
    grant, requester, approver, grantee = payable(rail="manual")
    d = requests.request_disbursement(tranche=grant.tranches[0], actor=requester)
    db.session.commit()
    requests.approve_disbursement(disbursement=d, actor=approver)
    db.session.commit()
    run_jobs()
    d = _fresh(d.id)
    assert d.status is S.AWAITING_CONFIRMATION
    return d, requester, approver, make_user("fund_manager"), grantee


# --- the confirmer is a third person -------------------------------------------------------------

def test_only_a_third_person_is_asked_to_confirm_on_the_dashboard(awaiting):
    """The dashboard's "manual payments to confirm" counts what the viewer may confirm (`policy.can_confirm`)."""
    d, requester, approver, finance, _ = awaiting
    assert queries.payments_to_confirm(finance).count == 1 and queries.payments_to_confirm(finance).first_id == d.id
    assert queries.payments_to_confirm(requester).count == 0
    assert queries.payments_to_confirm(approver).count == 0


def test_can_confirm_refuses_the_requester_and_the_approvers(awaiting, make_user):
    d, requester, approver, finance, grantee = awaiting
    assert policy.can_confirm(finance, d) is None
    for person in (requester, approver):
        refusal = policy.can_confirm(person, d)
        assert refusal is not None and refusal.error is PermissionDenied
        assert "neither requested nor approved" in refusal.reason
    for outsider in (grantee, make_user("admin"), make_user("auditor"), None):
        assert policy.can_confirm(outsider, d).error is PermissionDenied


def test_the_confirm_service_refuses_requester_and_approver_and_books_nothing(awaiting):
    d, requester, approver, finance, _ = awaiting
    for person in (requester, approver):
        with pytest.raises(PermissionDenied):
            requests.confirm_manual_payment(disbursement=d, actor=person, bank_reference="FT-MADE-UP")
        db.session.rollback()
        assert _fresh(d.id).status is S.AWAITING_CONFIRMATION and _fresh(d.id).bank_reference is None
    requests.confirm_manual_payment(disbursement=_fresh(d.id), actor=finance, bank_reference="FT2611230042")
    db.session.commit()
    assert _fresh(d.id).status is S.PAID


def test_the_confirm_page_refuses_the_approver(awaiting, signed_in):
    d, requester, approver, finance, _ = awaiting
    ben = signed_in(approver)
    page = _html(ben.get(f"/disbursements/{d.id}"))
    assert f'action="/disbursements/{d.id}/confirm"' not in page
    assert "You approved this payment" in page
    token = get_csrf(ben, f"/disbursements/{d.id}")
    response = ben.post(f"/disbursements/{d.id}/confirm",
                        data={"confirm-bank_reference": "FT-MADE-UP", "confirm-csrf_token": token})
    assert response.status_code == 302
    assert "You approved this payment" in _html(ben.get(response.location))
    assert _fresh(d.id).status is S.AWAITING_CONFIRMATION and _fresh(d.id).bank_reference is None
    fin = signed_in(finance)
    assert f'action="/disbursements/{d.id}/confirm"' in _html(fin.get(f"/disbursements/{d.id}"))


# --- step-up on large approvals -------------------------------------------------------------------

def test_large_approval_needs_a_fresh_factor_but_the_button_still_shows(payable, signed_in, make_user,
                                                                        two_approvals_above_usd_5000):
    grant, requester, approver, _ = payable()
    d = requests.request_disbursement(tranche=grant.tranches[0], actor=requester)
    db.session.commit()
    assert d.required_approvals == 2 and policy.approval_needs_step_up(d)
    assert policy.can_approve(approver, d) is None  # no freshness in can_approve: templates show the button
    ben = signed_in(approver)
    page = _html(ben.get(f"/disbursements/{d.id}"))
    assert f'href="/disbursements/{d.id}/approve"' in page
    token = get_csrf(ben, f"/disbursements/{d.id}")
    stale_factor(approver)  # the sign-in code was a while ago
    refused = ben.post(f"/disbursements/{d.id}/approve", data={"csrf_token": token})
    assert refused.status_code == 302 and "/account/confirm" in refused.location  # step-up first
    assert _fresh(d.id).approvals == []
    prove_factor(approver)
    approved = ben.post(f"/disbursements/{d.id}/approve", data={"csrf_token": token})
    assert approved.status_code == 302
    assert [a.approver_id for a in _fresh(d.id).approvals] == [approver.id]


def test_the_approve_service_asks_the_step_up_only_above_the_threshold(app, payable,
                                                                      two_approvals_above_usd_5000):
    grant, requester, approver, _ = payable(amounts=(400_000, 2_000_000))
    small = requests.request_disbursement(tranche=grant.tranches[0], actor=requester)
    db.session.commit()
    assert not policy.approval_needs_step_up(small)
    with app.test_request_context("/"):  # a request that proved no factor
        requests.approve_disbursement(disbursement=small, actor=approver)
    db.session.commit()
    assert _fresh(small.id).status is S.QUEUED


def test_step_up_refusal_is_its_own_error(app, payable, two_approvals_above_usd_5000):
    grant, requester, approver, _ = payable()
    d = requests.request_disbursement(tranche=grant.tranches[0], actor=requester)
    db.session.commit()
    with app.test_request_context("/"), pytest.raises(StepUpRequired):
        requests.approve_disbursement(disbursement=d, actor=approver)
    db.session.rollback()
    assert _fresh(d.id).approvals == []


# --- revealing bank details ------------------------------------------------------------------------

def test_disbursement_page_offers_the_reveal_instead_of_ask_an_administrator(awaiting, signed_in):
    d, requester, approver, finance, grantee = awaiting
    page = _html(signed_in(finance).get(f"/disbursements/{d.id}"))
    assert "Reveal bank details" in page and f'action="/disbursements/{d.id}/bank-details"' in page
    assert "ask an administrator" not in page and IBAN not in page
    assert "Reveal bank details" not in _html(signed_in(grantee).get(f"/disbursements/{d.id}"))


def test_a_fund_manager_with_a_fresh_factor_reveals_the_bank_details(awaiting, signed_in, caplog):
    d, requester, approver, finance, _ = awaiting
    fin = signed_in(finance)
    token = get_csrf(fin, f"/disbursements/{d.id}")
    stale_factor(finance)  # the sign-in code was a while ago
    refused = fin.post(f"/disbursements/{d.id}/bank-details", data={"csrf_token": token})
    assert refused.status_code == 302 and "/account/confirm" in refused.location  # step-up first
    assert IBAN not in _html(fin.get(refused.location))
    prove_factor(finance)
    with caplog.at_level(logging.DEBUG):
        response = fin.post(f"/disbursements/{d.id}/bank-details", data={"csrf_token": token})
    assert response.status_code == 200
    assert IBAN in _html(response) and "Dutch-Bangla Bank" in _html(response)
    assert "no-store" in response.headers["Cache-Control"]
    assert IBAN not in caplog.text
    [event] = db.session.execute(sa.select(AuditEvent).where(
        AuditEvent.action == "disbursement.bank_details_revealed")).scalars().all()
    assert (event.actor_id, event.object_id) == (finance.id, str(d.id))
    assert IBAN not in str(event.details) and "5432" not in str(event.details)


def test_the_reveal_is_refused_to_others_and_without_csrf(awaiting, signed_in, make_user, make_org, app):
    d, requester, approver, finance, grantee = awaiting
    prove_factor(grantee)
    mine = signed_in(grantee)  # sees the disbursement, is no fund manager
    assert mine.post(f"/disbursements/{d.id}/bank-details",
                     data={"csrf_token": get_csrf(mine, "/profile")}).status_code == 403
    stranger = signed_in(make_user("donor", organization=make_org(name="Elsewhere", kind=OrgKind.DONOR)))
    assert stranger.post(f"/disbursements/{d.id}/bank-details",
                         data={"csrf_token": get_csrf(stranger, "/profile")}).status_code == 404
    auditor = signed_in(make_user("auditor"))
    assert auditor.post(f"/disbursements/{d.id}/bank-details",
                        data={"csrf_token": get_csrf(auditor, "/profile")}).status_code == 403
    anonymous = app.test_client().post(f"/disbursements/{d.id}/bank-details")
    assert anonymous.status_code in (302, 400, 401) and IBAN not in _html(anonymous)
    fin = signed_in(finance)
    prove_factor(finance)
    assert fin.post(f"/disbursements/{d.id}/bank-details", data={}).status_code == 400  # no CSRF token
    assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id)).where(
        AuditEvent.action == "disbursement.bank_details_revealed")) == 0


def test_the_reveal_service_refuses_a_stripe_payment_and_needs_a_fresh_factor(app, payable, awaiting, make_user):
    d, requester, approver, finance, _ = awaiting
    with app.test_request_context("/"), pytest.raises(StepUpRequired):
        bank_details.reveal_bank_details(disbursement=d, actor=finance)
    details = bank_details.reveal_bank_details(disbursement=d, actor=finance)  # the shell: always fresh
    assert details.iban == IBAN and details.account_number is None
    grant, stripe_requester, _, _ = payable(rail="stripe")
    stripe_d = requests.request_disbursement(tranche=grant.tranches[0], actor=stripe_requester)
    db.session.commit()
    with pytest.raises(Conflict):
        bank_details.reveal_bank_details(disbursement=stripe_d, actor=finance)
    assert policy.can_reveal_bank_details(make_user("admin"), d).error is PermissionDenied
