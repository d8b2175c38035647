"""The disbursement state machine: every move of DISBURSEMENT_TRANSITIONS made by the code that makes it,
every other move refused, and races that record the status actually replaced (or nothing, when lost)."""
from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
import sqlalchemy as sa
import time_machine

from facility.audit.models import AuditEvent
from facility.core.errors import Conflict
from facility.core.models import utcnow
from facility.disbursements import lifecycle, payments, requests, webhooks
from facility.disbursements.models import (
    DISBURSEMENT_TRANSITIONS,
    Disbursement,
    DisbursementEvent,
    DisbursementStatus,
)
from facility.disbursements.rails import PaymentStatus, RailResult
from facility.extensions import db

S = DisbursementStatus
enqueued: list[tuple[int, str, float]] = []


def _enqueue(disbursement_id: int, *, job_id: str, delay_seconds: float = 0) -> None:
    enqueued.append((disbursement_id, job_id, delay_seconds))


def _fresh(d: Disbursement) -> Disbursement:
    db.session.expire_all()
    return db.session.get(Disbursement, d.id)


def _events(d: Disbursement) -> list[tuple[str | None, str]]:
    return [(e.from_status, e.to_status) for e in db.session.execute(
        sa.select(DisbursementEvent).where(DisbursementEvent.disbursement_id == d.id)
        .order_by(DisbursementEvent.id)).scalars()]


def _audits(d: Disbursement) -> list[AuditEvent]:
    return list(db.session.execute(sa.select(AuditEvent).where(
        AuditEvent.object_type == "Disbursement", AuditEvent.object_id == str(d.id)).order_by(AuditEvent.id)).scalars())


@pytest.fixture
def world(payable, make_user):
    """`world(status)`: a disbursement brought to `status` by the real services; returns (d, people)."""

    def _make(status: S, *, rail: str = "stripe"):
        grant, requester, approver, grantee = payable(rail=rail)
        # The confirmer of a manual payment is neither its requester nor an approver (policy.can_confirm).
        people = {"requester": requester, "approver": approver, "confirmer": make_user("fund_manager")}
        d = requests.request_disbursement(tranche=grant.tranches[0], actor=requester)
        db.session.commit()
        if status is S.REQUESTED:
            return d, people
        requests.approve_disbursement(disbursement=d, actor=approver)
        db.session.commit()
        if status is S.QUEUED:
            return d, people
        payments.claim_disbursement(disbursement_id=d.id)
        db.session.commit()
        answers = {
            S.PROCESSING: None,
            S.RETRYING: RailResult(PaymentStatus.RETRYABLE, message="Stripe had a temporary problem.",
                                   retry_after_seconds=3600),
            S.AWAITING_CONFIRMATION: RailResult(PaymentStatus.AWAITING_CONFIRMATION, message="Pay by transfer.",
                                                instruction={"payee": "WaterWatch", "reference": "UIF-1"}),
            S.PAID: RailResult(PaymentStatus.PAID, provider_reference="tr_states_1"),
            S.FAILED: RailResult(PaymentStatus.FAILED, message="Stripe refused the request.", code="declined"),
        }
        if answers[status] is not None:
            payments.record_payment_result(disbursement_id=d.id, result=answers[status], enqueue=_enqueue)
            db.session.commit()
        assert _fresh(d).status is status
        return _fresh(d), people

    return _make


def _later(minutes: float) -> time_machine.travel:
    return time_machine.travel(utcnow() + timedelta(minutes=minutes))


def _zero_backoff(app) -> None:
    app.config.update(DISBURSEMENT_RETRY_BASE_SECONDS=0)


# Each allowed move, made the way the code makes it: (from, to) -> (how, options for `world`).
Move = Callable[[Disbursement, dict, object], None]
MOVES: dict[tuple[S, S], tuple[Move, dict]] = {
    (S.REQUESTED, S.QUEUED): (lambda d, p, app: requests.approve_disbursement(disbursement=d, actor=p["approver"]), {}),
    (S.REQUESTED, S.CANCELLED): (lambda d, p, app: requests.cancel_disbursement(
        disbursement=d, actor=p["approver"], reason="Wrong tranche"), {}),
    (S.QUEUED, S.PROCESSING): (lambda d, p, app: payments.claim_disbursement(disbursement_id=d.id), {}),
    (S.QUEUED, S.CANCELLED): (lambda d, p, app: requests.cancel_disbursement(
        disbursement=d, actor=p["requester"], reason="Wrong account"), {}),
    (S.QUEUED, S.QUEUED): (lambda d, p, app: payments.requeue_lost(
        disbursement_id=d.id, status="queued", job_id=d.job_id), {}),
    (S.PROCESSING, S.PAID): (lambda d, p, app: payments.record_payment_result(
        disbursement_id=d.id, result=RailResult(PaymentStatus.PAID, provider_reference="tr_1"), enqueue=_enqueue), {}),
    (S.PROCESSING, S.AWAITING_CONFIRMATION): (lambda d, p, app: payments.record_payment_result(
        disbursement_id=d.id, enqueue=_enqueue, result=RailResult(
            PaymentStatus.AWAITING_CONFIRMATION, message="Pay by transfer.", instruction={"payee": "W"})), {}),
    (S.PROCESSING, S.RETRYING): (lambda d, p, app: payments.record_payment_result(
        disbursement_id=d.id, enqueue=_enqueue, result=RailResult(PaymentStatus.RETRYABLE, message="Later.")), {}),
    (S.PROCESSING, S.QUEUED): (lambda d, p, app: (_zero_backoff(app), payments.record_payment_result(
        disbursement_id=d.id, enqueue=_enqueue, result=RailResult(PaymentStatus.RETRYABLE, message="Again."))), {}),
    (S.PROCESSING, S.FAILED): (lambda d, p, app: payments.record_payment_result(
        disbursement_id=d.id, enqueue=_enqueue, result=RailResult(PaymentStatus.FAILED, message="No.")), {}),
    (S.PROCESSING, S.PROCESSING): (lambda d, p, app: _at(10, lambda: payments.claim_disbursement(
        disbursement_id=d.id)), {}),
    (S.RETRYING, S.PROCESSING): (lambda d, p, app: _at(120, lambda: payments.claim_disbursement(
        disbursement_id=d.id)), {}),
    (S.RETRYING, S.RETRYING): (lambda d, p, app: payments.requeue_lost(
        disbursement_id=d.id, status="retrying", job_id=d.job_id), {}),
    (S.AWAITING_CONFIRMATION, S.PAID): (lambda d, p, app: requests.confirm_manual_payment(
        disbursement=d, actor=p["confirmer"], bank_reference="FT1"), {"rail": "manual"}),
    (S.AWAITING_CONFIRMATION, S.FAILED): (lambda d, p, app: requests.fail_manual_payment(
        disbursement=d, actor=p["approver"], reason="Account closed"), {"rail": "manual"}),
    (S.PAID, S.FAILED): (lambda d, p, app: webhooks.reflect_transfer_reversal(
        disbursement_id=d.id, transfer_id="tr_states_1", reason="Reversed."), {}),
    (S.FAILED, S.QUEUED): (lambda d, p, app: requests.requeue_disbursement(disbursement=d, actor=p["approver"]), {}),
}


def _at(minutes: float, call: Callable[[], object]) -> object:
    with _later(minutes):
        return call()


def test_every_move_of_the_table_is_made_somewhere():
    assert set(MOVES) == set(DISBURSEMENT_TRANSITIONS.pairs())
    assert DISBURSEMENT_TRANSITIONS.final == {S.CANCELLED}
    assert DISBURSEMENT_TRANSITIONS.sources(S.CANCELLED) == {S.REQUESTED, S.QUEUED}  # "before processing"


@pytest.mark.parametrize("move", sorted(MOVES, key=lambda pair: (pair[0].value, pair[1].value)),
                         ids=lambda pair: f"{pair[0].value}->{pair[1].value}")
def test_each_move(move, world, paying_app):
    before, after = move
    make, options = MOVES[move]
    d, people = world(before, **options)
    saved = dict(paying_app.config)
    try:
        make(d, people, paying_app)
        db.session.commit()
    finally:
        paying_app.config.clear()
        paying_app.config.update(saved)
    d = _fresh(d)
    assert d.status is after
    assert _events(d)[-1] == (before.value, after.value)  # the timeline names the status replaced
    audit = _audits(d)[-1]
    assert audit.details.get("from", audit.details.get("status")) == before.value


@pytest.mark.parametrize("before", list(S), ids=lambda s: s.value)
def test_moves_outside_the_table_are_refused(app, before):
    for after in S:
        if DISBURSEMENT_TRANSITIONS.allows(before, after):
            continue
        d = Disbursement(id=1, status=before, grant_id=1, tranche_id=1, amount_cents=1)
        with pytest.raises(Conflict):
            lifecycle.transition(d, after, actor=None)
        with pytest.raises(Conflict):
            lifecycle.transition(d, after, actor=None, replaced=before)
        assert d.status is before
    db.session.rollback()


def test_a_refused_move_changes_nothing_in_the_database(world):
    d, people = world(S.PAID)
    events, audits = len(_events(d)), len(_audits(d))
    assert DISBURSEMENT_TRANSITIONS.move_if(Disbursement, d.id, S.CANCELLED) is None
    assert payments.claim_disbursement(disbursement_id=d.id) is None
    with pytest.raises(Conflict):
        requests.cancel_disbursement(disbursement=d, actor=people["approver"], reason="Too late")
    db.session.rollback()
    assert _fresh(d).status is S.PAID
    assert (len(_events(d)), len(_audits(d))) == (events, audits)


def test_a_lost_race_records_nothing(world, monkeypatch):
    """A fund manager cancels while a worker claims: the policy saw `queued`, the worker won; no trace of the cancel."""
    d, people = world(S.QUEUED)
    seen: dict[str, int] = {}
    real_clean_text = requests.clean_text

    def worker_wins_meanwhile(*args, **kwargs):
        assert payments.claim_disbursement(disbursement_id=d.id) is not None
        seen.update(events=len(_events(d)), audits=len(_audits(d)))
        return real_clean_text(*args, **kwargs)

    monkeypatch.setattr(requests, "clean_text", worker_wins_meanwhile)
    with pytest.raises(Conflict, match="can no longer be cancelled"):
        requests.cancel_disbursement(disbursement=d, actor=people["approver"], reason="Wrong account")
    assert (len(_events(d)), len(_audits(d))) == (seen["events"], seen["audits"])
    assert _events(d)[-1] == ("queued", "processing")
    db.session.rollback()
    # Two workers: the second finds nothing to claim and writes nothing.
    assert payments.claim_disbursement(disbursement_id=d.id) is not None
    db.session.commit()
    events, audits = len(_events(d)), len(_audits(d))
    assert payments.claim_disbursement(disbursement_id=d.id) is None
    assert payments.requeue_lost(disbursement_id=d.id, status="processing", job_id="not-its-job") is None
    assert (len(_events(d)), len(_audits(d))) == (events, audits)


def test_the_timeline_records_the_status_the_update_replaced_not_the_one_read_before(world, monkeypatch):
    """The policy read `requested`; another fund manager approved before the cancel's update: `queued` is recorded."""
    d, people = world(S.REQUESTED)
    real_clean_text = requests.clean_text

    def approved_meanwhile(*args, **kwargs):
        requests.approve_disbursement(disbursement=d, actor=people["approver"])
        return real_clean_text(*args, **kwargs)

    monkeypatch.setattr(requests, "clean_text", approved_meanwhile)
    requests.cancel_disbursement(disbursement=d, actor=people["requester"], reason="Wrong tranche")
    db.session.commit()
    d = _fresh(d)
    assert d.status is S.CANCELLED
    assert _events(d)[-2:] == [("requested", "queued"), ("queued", "cancelled")]
    assert _audits(d)[-1].action == "disbursement.cancelled" and _audits(d)[-1].details["from"] == "queued"
