"""Approval reminders (disbursements.jobs.approval_reminders) and the approval-needed e-mail.

A payment requested more than two days ago and still waiting for approval is brought, once, to every fund
manager who may still approve it: not its requester, not one who approved it already. It is essential: an
opt-out does not stop it. A new request is told at once to the other fund managers.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from facility.core.mail import OutboundEmail
from facility.disbursements import requests
from facility.disbursements.jobs import approval_reminders
from facility.extensions import db
from facility.grants.models import Tranche
from tests.factories.accounts import make_user
from tests.factories.disbursements import payable_grants


def _mails(to: str, like: str) -> list[OutboundEmail]:
    return list(db.session.execute(sa.select(OutboundEmail).where(
        OutboundEmail.to_address == to, OutboundEmail.subject.like(like)).order_by(OutboundEmail.id)).scalars())


@pytest.fixture
def scene(app, clock):
    (grant,), requester, approver = payable_grants(2, amount_cents=1_000)
    third = make_user("fund_manager", email="third@facility.example")
    tranches = db.session.execute(sa.select(Tranche).where(Tranche.grant_id == grant.id)
                                  .order_by(Tranche.position)).scalars().all()
    return {"requester": requester, "approver": approver, "third": third, "tranches": tranches}


def _request(scene, index=0):
    disbursement = requests.request_disbursement(tranche=scene["tranches"][index], actor=scene["requester"])
    db.session.commit()
    return disbursement


def _run_at(clock, when) -> int:
    clock.move_to(when)
    db.session.commit()  # the job has its own session
    return approval_reminders()


def test_a_request_is_told_to_the_other_fund_managers(scene):
    disbursement = _request(scene)
    for person in (scene["approver"], scene["third"]):
        (mail,) = _mails(person.email, "Payment % needs your approval")
        assert f"/disbursements/{disbursement.id}" in mail.body and "USD 10.00" in mail.body
    assert _mails(scene["requester"].email, "Payment%") == []


def test_waiting_more_than_two_days_reminds_each_possible_approver_once(scene, clock):
    disbursement = _request(scene)
    asked = disbursement.created_at
    assert _run_at(clock, asked + timedelta(days=1, hours=23)) == 0
    assert _run_at(clock, asked + timedelta(days=2, hours=1)) == 2
    assert _run_at(clock, asked + timedelta(days=3)) == 0  # once
    (mail,) = _mails(scene["third"].email, "Payment % has waited for approval since%")
    assert "essential" in mail.body and "/profile#reminders" in mail.body
    assert _mails(scene["requester"].email, "Payment%") == []


def test_one_who_approved_is_not_asked_again_and_an_approved_payment_is_left_alone(scene, clock, app, monkeypatch):
    monkeypatch.setitem(app.config, "APPROVAL_TIERS", [{"up_to_cents": None, "approvals": 2}])  # each needs two
    two = _request(scene, 0)
    requests.approve_disbursement(disbursement=two, actor=scene["approver"])  # one of two
    db.session.commit()
    one = _request(scene, 1)
    assert (two.required_approvals, one.required_approvals) == (2, 2)
    requests.approve_disbursement(disbursement=one, actor=scene["approver"])
    requests.approve_disbursement(disbursement=one, actor=scene["third"])  # fully approved: queued
    db.session.commit()
    assert _run_at(clock, two.created_at + timedelta(days=3)) == 1
    (mail,) = _mails(scene["third"].email, "Payment % has waited%")
    assert f"Payment {two.id} " in mail.subject
    assert _mails(scene["approver"].email, "Payment % has waited%") == []


def test_it_is_essential_and_in_the_recipient_language(scene, clock):
    third = scene["third"]
    third.optional_reminders = False
    third.locale = "fr"
    db.session.commit()
    disbursement = _request(scene)
    assert _run_at(clock, disbursement.created_at + timedelta(days=3)) == 2
    (mail,) = _mails(third.email, "Le paiement % attend une approbation depuis%")
    assert str(disbursement.id) in mail.subject
