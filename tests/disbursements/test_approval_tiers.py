"""Disbursement approvals by tiers and personal limits (accounts.authority through disbursements.policy):

- an amount needs its tier's approvals, each within the approver's limit as it was when they approved (stored on
  the approval), never the requester's, never one person twice, with the tier's senior approvals;
- an approval that would not count is refused (403 with the reason; the page shows it in place of the button),
  never recorded;
- the page and the API show who approved, whether it counts, and what is still missing and why;
- races: concurrent approvals are recorded once each and queue the payment once (one job); concurrent ordinary
  approvals of a top-tier payment leave it requested, waiting for a senior limit.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import sqlalchemy as sa

from facility.accounts.models import User
from facility.core.errors import Conflict, DomainError, PermissionDenied
from facility.core.mail import OutboundEmail
from facility.disbursements import policy, queries, requests
from facility.disbursements.jobs import approval_reminders
from facility.disbursements.models import Disbursement, DisbursementApproval, DisbursementEvent, DisbursementStatus
from facility.extensions import db
from facility.queue import get_queue
from tests.conftest import get_csrf
from tests.factories.accounts import fresh_code

S = DisbursementStatus
# Small amounts for the tests: up to USD 5,000 one approval, up to USD 15,000 two, above three with one senior
# (a limit of USD 50,000 or more).
TIERS = [{"up_to_cents": 500_000, "approvals": 1}, {"up_to_cents": 1_500_000, "approvals": 2},
         {"up_to_cents": None, "approvals": 3, "senior": 1}]
SENIOR = 5_000_000
TOP = 2_000_000  # USD 20,000: the top tier


@pytest.fixture
def tiers(paying_app, monkeypatch):
    monkeypatch.setitem(paying_app.config, "APPROVAL_TIERS", TIERS)
    monkeypatch.setitem(paying_app.config, "SENIOR_APPROVAL_LIMIT_CENTS", SENIOR)
    return paying_app


@pytest.fixture
def manager(make_user):
    """`manager(limit_cents)`: a fund manager with that personal approval limit."""
    def _make(limit_cents, name=None):
        user = make_user("fund_manager", name=name)
        user.approval_limit_cents = limit_cents
        db.session.commit()
        return user
    return _make


def _fresh(disbursement_id: int) -> Disbursement:
    db.session.expire_all()
    return db.session.get(Disbursement, disbursement_id)


def _requested(payable, amount):
    grant, requester, approver, grantee = payable(amounts=(amount,))
    d = requests.request_disbursement(tranche=grant.tranches[0], actor=requester)
    db.session.commit()
    return d, requester, grantee


def _approve(d, user):
    requests.approve_disbursement(disbursement=_fresh(d.id), actor=user)
    db.session.commit()


def _approvals(d) -> list[int]:
    return list(db.session.execute(sa.select(DisbursementApproval.approver_id).where(
        DisbursementApproval.disbursement_id == d.id).order_by(DisbursementApproval.id)).scalars())


# --- the rule -------------------------------------------------------------------------------------

def test_the_tier_sets_the_number_of_approvals_and_the_step_up(tiers, payable):
    small, _, _ = _requested(payable, 400_000)
    middle, _, _ = _requested(payable, 1_000_000)
    top, _, _ = _requested(payable, TOP)
    assert [d.required_approvals for d in (small, middle, top)] == [1, 2, 3]
    assert [policy.approval_needs_step_up(d) for d in (small, middle, top)] == [False, True, True]
    state = policy.approvals_state(top)
    assert (state.missing, state.missing_senior, state.complete) == (3, 1, False)


def test_an_approval_above_the_approvers_limit_is_refused_and_not_recorded(tiers, payable, manager):
    d, _, _ = _requested(payable, 1_000_000)
    low = manager(800_000)
    refusal = policy.can_approve(low, d)
    assert refusal.error is PermissionDenied and "above your approval limit of USD 8,000.00" in refusal.reason
    with pytest.raises(PermissionDenied, match="approval limit"):
        requests.approve_disbursement(disbursement=d, actor=low)
    db.session.rollback()
    assert _approvals(d) == [] and _fresh(d.id).status is S.REQUESTED
    _approve(d, manager(1_000_000))  # exactly at the limit counts
    assert _fresh(d.id).status is S.REQUESTED and policy.approvals_state(_fresh(d.id)).missing == 1


def test_the_top_tier_waits_for_a_senior_limit(tiers, payable, manager):
    d, _, _ = _requested(payable, TOP)
    first, second, third = manager(3_000_000), manager(3_000_000), manager(3_000_000)
    senior = manager(SENIOR)
    _approve(d, first)
    _approve(d, second)
    state = policy.approvals_state(_fresh(d.id))
    assert (len(state.counted), state.missing, state.missing_senior) == (2, 1, 1)
    refusal = policy.can_approve(third, _fresh(d.id))
    assert refusal.error is PermissionDenied and "senior limit (USD 50,000.00 or more)" in refusal.reason
    with pytest.raises(PermissionDenied, match="senior"):
        requests.approve_disbursement(disbursement=_fresh(d.id), actor=third)
    db.session.rollback()
    assert _fresh(d.id).status is S.REQUESTED and len(_approvals(d)) == 2
    _approve(d, senior)
    assert _fresh(d.id).status is S.QUEUED and len(get_queue("payments")) == 1


def test_an_approval_keeps_the_limit_it_was_given_with(tiers, payable, manager):
    d, _, _ = _requested(payable, 1_000_000)
    approver = manager(1_000_000)
    _approve(d, approver)
    [approval] = _fresh(d.id).approvals
    assert approval.limit_cents == 1_000_000
    approver = db.session.get(User, approver.id)
    approver.approval_limit_cents = 100  # lowered later
    db.session.commit()
    state = policy.approvals_state(_fresh(d.id))
    assert [a.user_id for a in state.counted] == [approver.id] and state.missing == 1


def test_only_those_whose_approval_counts_are_asked_and_see_it_on_their_dashboard(tiers, payable, manager, clock):
    low, able = manager(800_000), manager(3_000_000)
    d, _, _ = _requested(payable, 1_000_000)
    asked = {mail.to_address for mail in db.session.execute(sa.select(OutboundEmail).where(
        OutboundEmail.subject == f"Payment {d.id} needs your approval")).scalars()}
    assert able.email in asked and low.email not in asked
    assert queries.disbursements_to_approve(able).count == 1
    assert queries.disbursements_to_approve(low).count == 0
    clock.move_to(d.created_at + timedelta(days=3))
    db.session.commit()
    approval_reminders()
    reminded = {mail.to_address for mail in db.session.execute(sa.select(OutboundEmail).where(
        OutboundEmail.subject.like(f"Payment {d.id} has waited%"))).scalars()}
    assert able.email in reminded and low.email not in reminded


# --- the page and the API show it ------------------------------------------------------------------

def _html(response) -> str:
    return response.get_data(as_text=True)


def test_the_page_shows_who_approved_what_is_missing_and_why_one_cannot_approve(tiers, payable, manager, signed_in):
    d, requester, grantee = _requested(payable, TOP)
    approver, low = manager(3_000_000, name="Carla Counted"), manager(800_000)
    _approve(d, approver)
    page = _html(signed_in(low).get(f"/disbursements/{d.id}"))
    assert 'id="approvals-heading"' in page
    assert "1 of 3 approvals count so far." in page
    assert "Carla Counted" in page
    assert "1 of them from an approver with a senior limit (USD 50,000.00 or more)." in page
    assert "2 more approvals are needed, each within the approver&#39;s limit." in page
    assert "above your approval limit of USD 8,000.00" in page  # in place of the button
    assert f'href="/disbursements/{d.id}/approve"' not in page
    seen_by_grantee = _html(signed_in(grantee).get(f"/disbursements/{d.id}"))
    assert "1 of 3 approvals count so far." in seen_by_grantee and "Carla Counted" not in seen_by_grantee
    queue = _html(signed_in(requester).get("/disbursements"))
    assert "2 more approvals" in queue


def test_the_page_refuses_an_approval_that_would_not_count(tiers, payable, manager, signed_in):
    d, _, _ = _requested(payable, 1_000_000)
    low = manager(800_000)
    client = signed_in(low)
    token = get_csrf(client, f"/disbursements/{d.id}")
    answer = client.post(f"/disbursements/{d.id}/approve", data={"csrf_token": token})
    assert answer.status_code == 302
    assert "above your approval limit" in _html(client.get(answer.location))
    assert _approvals(d) == []


def test_the_api_shows_approvals_and_approvals_needed(tiers, payable, manager, client, api_headers):
    d, requester, grantee = _requested(payable, TOP)
    approver, low = manager(3_000_000, name="Carla Counted"), manager(800_000)

    def get(user):
        return client.get(f"/api/v1/disbursements/{d.id}", headers=api_headers(user)).json

    assert get(requester)["approvals_needed"]["count"] == 3
    answer = client.post(f"/api/v1/disbursements/{d.id}/approve",
                         headers={**api_headers(approver), "X-OTP": fresh_code(approver)})
    assert answer.status_code == 200, answer.json
    [given] = answer.json["approvals"]
    assert (given["approver_id"], given["name"], given["counted"], given["reason"]) == (
        approver.id, "Carla Counted", True, None)
    assert given["limit_cents"] == 3_000_000 and given["created_at"]
    needed = answer.json["approvals_needed"]
    assert (needed["count"], needed["senior"], needed["required"], needed["tier_up_to_cents"]) == (2, 1, 3, None)
    assert any("senior limit" in reason for reason in needed["reasons"])
    refused = client.post(f"/api/v1/disbursements/{d.id}/approve",
                          headers={**api_headers(low), "X-OTP": fresh_code(low)})
    assert refused.status_code == 403 and "above your approval limit" in refused.json["detail"]
    public = get(grantee)
    assert [(a["approver_id"], a["name"], a["limit_cents"], a["counted"]) for a in public["approvals"]] == [
        (None, None, None, True)]
    assert public["approvals_needed"]["count"] == 2


# --- races ----------------------------------------------------------------------------------------

def _race(app, disbursement_id: int, approver_ids: list[int]) -> list[tuple[str, str]]:
    """Every approver approves at once, each in a request of their own (own session, one commit)."""
    db.session.commit()  # the test's own transaction must not hold the SQLite lock
    start = threading.Barrier(len(approver_ids))

    def approve(user_id: int) -> tuple[str, str]:
        start.wait(timeout=10)
        with app.app_context():
            try:
                requests.approve_disbursement(disbursement=db.session.get(Disbursement, disbursement_id),
                                              actor=db.session.get(User, user_id))
                db.session.commit()
                return ("ok", "")
            except DomainError as error:
                db.session.rollback()
                return (type(error).__name__, error.detail)
            finally:
                db.session.remove()

    with ThreadPoolExecutor(max_workers=len(approver_ids)) as pool:
        results = list(pool.map(approve, approver_ids))
    db.session.expire_all()
    return results


def _queued_events(d) -> int:
    return db.session.scalar(sa.select(sa.func.count(DisbursementEvent.id)).where(
        DisbursementEvent.disbursement_id == d.id, DisbursementEvent.to_status == S.QUEUED.value,
        DisbursementEvent.from_status == S.REQUESTED.value))


def test_two_approvals_at_once_are_recorded_once_each_and_queue_once(app, tiers, payable, manager):
    d, _, _ = _requested(payable, 1_000_000)  # two approvals
    first, second = manager(3_000_000), manager(3_000_000)
    results = _race(app, d.id, [first.id, second.id])
    assert results == [("ok", ""), ("ok", "")]
    assert sorted(_approvals(d)) == sorted([first.id, second.id])
    assert _fresh(d.id).status is S.QUEUED and _queued_events(d) == 1
    assert len(get_queue("payments")) == 1


def test_racing_approvals_of_a_one_approval_payment_queue_it_once(app, tiers, payable, manager):
    d, _, _ = _requested(payable, 400_000)  # one approval
    people = [manager(3_000_000) for _ in range(3)]
    results = _race(app, d.id, [p.id for p in people])
    assert [outcome for outcome, _ in results].count("ok") == 1
    assert all(outcome == Conflict.__name__ and "not awaiting approval" in detail
               for outcome, detail in results if outcome != "ok")
    assert len(_approvals(d)) == 1 and _queued_events(d) == 1 and len(get_queue("payments")) == 1


def test_ordinary_approvals_at_once_never_complete_a_top_tier_payment(app, tiers, payable, manager):
    d, _, _ = _requested(payable, TOP)  # three approvals, one of them senior
    people = [manager(3_000_000) for _ in range(3)]
    results = _race(app, d.id, [p.id for p in people])
    outcomes = [outcome for outcome, _ in results]
    assert outcomes.count("ok") == 2 and outcomes.count(PermissionDenied.__name__) == 1
    assert "senior" in next(detail for outcome, detail in results if outcome != "ok")
    assert len(_approvals(d)) == 2
    assert _fresh(d.id).status is S.REQUESTED and len(get_queue("payments")) == 0
    assert not policy.approvals_state(_fresh(d.id)).complete
