"""Amendments: a new tranche schedule with a reason, approved where needed, accepted by the grantee, and then in
force with the ledger, the tranches and a new agreement version changed together."""
from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from facility.core.errors import Conflict, PermissionDenied, ValidationFailed
from facility.core.mail import OutboundEmail
from facility.extensions import db
from facility.grants import amendments, awards
from facility.grants.amendment_models import AmendmentStatus, GrantAgreementVersion, GrantAmendment
from facility.grants.models import GrantStatus, Tranche, TrancheStatus
from facility.ledger.balances import balance
from facility.ledger.services import commitment_code, disbursed_account, pool_code, transfer
from facility.ledger.verify import ledger_checks, verify_ledger
from tests import factories


@pytest.fixture
def amendable(make_challenge, make_proposal, make_user, fund):
    """An active grant of USD 30,000 in two tranches (10,000 and 20,000), its pool holding USD 20,000 more;
    two fund managers (the author and an approver) and the grantee's innovator."""
    challenge = make_challenge()
    proposal = make_proposal(challenge)
    fund(challenge=challenge, pool=5_000_000)
    author, approver = make_user("fund_manager"), make_user("fund_manager")
    grantee = make_user("innovator", organization=proposal.organization)
    grant = factories.grants.make_grant(proposal, author, grantee, amount_cents=3_000_000)
    return grant, author, approver, grantee


def _rows(grant, **changes):
    """The grant's schedule as amendment input, with `changes` by position: a dict of new values, or None to leave
    the tranche out."""
    rows = []
    for tranche in grant.tranches:
        change = changes.get(f"t{tranche.position}", {})
        if change is None:
            continue
        rows.append({"id": tranche.id, "title": tranche.title, "amount_cents": tranche.amount_cents,
                     "due_date": tranche.due_date, **change})
    return rows


def _invariant_holds():
    assert amendments.check_commitments_match_tranches() == []
    assert verify_ledger() == []


def test_award_writes_agreement_version_one(amendable):
    grant = amendable[0]
    versions = db.session.execute(sa.select(GrantAgreementVersion).where(
        GrantAgreementVersion.grant_id == grant.id)).scalars().all()
    assert [(v.version, v.total_cents, v.amendment_id) for v in versions] == [(1, 3_000_000, None)]
    assert [row["amount_cents"] for row in versions[0].schedule] == [1_000_000, 2_000_000]
    assert versions[0].agreement_text == grant.agreement_text


def test_small_decrease_needs_no_approval_and_returns_money_to_the_pool(amendable):
    grant, author, _approver, grantee = amendable
    pool_before = balance(pool_code(grant.challenge_id))
    amendment = amendments.propose_amendment(grant=grant, actor=author, reason="Smaller second phase",
                                             tranches=_rows(grant, t2={"amount_cents": 1_500_000,
                                                                       "due_date": date(2027, 6, 1)}))
    assert amendment.status is AmendmentStatus.APPROVED and not amendment.needs_approval
    assert amendment.change_cents == -500_000 and amendment.number == 1
    db.session.commit()
    amendments.accept_amendment(amendment=amendment, actor=grantee)
    db.session.commit()
    assert amendment.status is AmendmentStatus.ACCEPTED and amendment.ledger_transaction_id is not None
    assert grant.amount_cents == 2_500_000
    first_due = grant.tranches[0].due_date
    assert [(t.amount_cents, t.due_date) for t in grant.tranches] == [(1_000_000, first_due),
                                                                      (1_500_000, date(2027, 6, 1))]
    assert balance(commitment_code(grant.id)) == 2_500_000
    assert balance(pool_code(grant.challenge_id)) == pool_before + 500_000
    versions = db.session.execute(sa.select(GrantAgreementVersion).where(GrantAgreementVersion.grant_id == grant.id)
                                  .order_by(GrantAgreementVersion.version)).scalars().all()
    assert [(v.version, v.total_cents, v.amendment_id) for v in versions] == [(1, 3_000_000, None),
                                                                              (2, 2_500_000, amendment.id)]
    assert "amendment 1" in grant.agreement_text and "Smaller second phase" in grant.agreement_text
    _invariant_holds()


def test_an_increase_needs_another_fund_managers_approval_then_draws_from_the_pool(amendable):
    grant, author, approver, grantee = amendable
    new = {"title": "Scale-up", "amount_cents": 500_000, "due_date": date(2027, 9, 1)}
    amendment = amendments.propose_amendment(grant=grant, actor=author, reason="Scale up",
                                             tranches=[*_rows(grant), new])
    db.session.commit()
    assert amendment.status is AmendmentStatus.PENDING and amendment.needs_approval
    with pytest.raises(Conflict):  # not approved yet
        amendments.accept_amendment(amendment=amendment, actor=grantee)
    db.session.rollback()
    with pytest.raises(PermissionDenied):  # its author never approves
        amendments.approve_amendment(amendment=amendment, actor=author)
    db.session.rollback()
    amendments.approve_amendment(amendment=amendment, actor=approver)
    db.session.commit()
    assert amendment.status is AmendmentStatus.APPROVED
    assert amendments.amendment_approval_state(amendment).complete
    with pytest.raises(Conflict):  # no second approval of an approved amendment
        amendments.approve_amendment(amendment=amendment, actor=approver)
    db.session.rollback()
    pool_before = balance(pool_code(grant.challenge_id))
    amendments.accept_amendment(amendment=amendment, actor=grantee)
    db.session.commit()
    assert grant.amount_cents == 3_500_000 and [t.title for t in grant.tranches][-1] == "Scale-up"
    assert grant.tranches[-1].position == 3 and grant.tranches[-1].status is TrancheStatus.PENDING
    assert balance(pool_code(grant.challenge_id)) == pool_before - 500_000
    assert balance(commitment_code(grant.id)) == 3_500_000
    _invariant_holds()


def test_a_large_decrease_needs_approval(amendable):
    grant, author, _approver, _grantee = amendable
    amendment = amendments.propose_amendment(grant=grant, actor=author, reason="Phase two dropped",
                                             tranches=_rows(grant, t2=None))  # minus USD 20,000
    assert amendment.needs_approval and amendment.status is AmendmentStatus.PENDING


def test_the_threshold_is_configuration(app, amendable):
    grant, author, _approver, _grantee = amendable
    app.config["AMENDMENT_APPROVAL_ABOVE_CENTS"] = 5_000_000
    try:
        amendment = amendments.propose_amendment(grant=grant, actor=author, reason="Phase two dropped",
                                                 tranches=_rows(grant, t2=None))
    finally:
        app.config.pop("AMENDMENT_APPROVAL_ABOVE_CENTS")
    assert not amendment.needs_approval and amendment.status is AmendmentStatus.APPROVED


def test_an_increase_the_pool_cannot_cover_is_refused_and_nothing_changes(amendable):
    grant, author, approver, grantee = amendable
    held = balance(pool_code(grant.challenge_id))
    amendment = amendments.propose_amendment(grant=grant, actor=author, reason="Much bigger",
                                             tranches=_rows(grant, t2={"amount_cents": 2_000_000 + held + 1}))
    amendments.approve_amendment(amendment=amendment, actor=approver)
    db.session.commit()
    with pytest.raises(Conflict, match="short by"):
        amendments.accept_amendment(amendment=amendment, actor=grantee)
    db.session.rollback()
    db.session.expire_all()
    assert amendment.status is AmendmentStatus.APPROVED and grant.amount_cents == 3_000_000
    assert [t.amount_cents for t in grant.tranches] == [1_000_000, 2_000_000]
    assert balance(pool_code(grant.challenge_id)) == held
    _invariant_holds()


def test_removing_an_unpaid_tranche_cancels_it_when_in_force(amendable, app):
    grant, author, _approver, grantee = amendable
    app.config["AMENDMENT_APPROVAL_ABOVE_CENTS"] = 5_000_000
    try:
        amendment = amendments.propose_amendment(grant=grant, actor=author, reason="Phase one only",
                                                 tranches=_rows(grant, t2=None))
        amendments.accept_amendment(amendment=amendment, actor=grantee)
    finally:
        app.config.pop("AMENDMENT_APPROVAL_ABOVE_CENTS")
    db.session.commit()
    assert [t.status for t in grant.tranches] == [TrancheStatus.PENDING, TrancheStatus.CANCELLED]
    assert grant.amount_cents == 1_000_000 and balance(commitment_code(grant.id)) == 1_000_000
    _invariant_holds()
    # A cancelled tranche cannot be named again.
    with pytest.raises(ValidationFailed) as refused:
        amendments.propose_amendment(grant=grant, actor=author, reason="Back",
                                     tranches=[*_rows(grant, t2=None), {"id": grant.tranches[1].id, "title": "x",
                                                                        "amount_cents": 1}])
    assert "tranches.1.id" in refused.value.errors


def test_paid_and_disbursing_tranches_cannot_change_or_go(amendable):
    grant, author, _approver, _grantee = amendable
    first_tranche = grant.tranches[0]
    for status in (TrancheStatus.DISBURSING, TrancheStatus.PAID):
        first_tranche.status = status  # as the disbursement would have it (the test sets the scene)
        db.session.commit()
        with pytest.raises(Conflict, match="cannot be changed"):
            amendments.propose_amendment(grant=grant, actor=author, reason="x",
                                         tranches=_rows(grant, t1={"amount_cents": 900_000}))
        db.session.rollback()
        with pytest.raises(Conflict, match="stays in the schedule"):
            amendments.propose_amendment(grant=grant, actor=author, reason="x", tranches=_rows(grant, t1=None))
        db.session.rollback()
    # Unchanged, it may stay while the others change.
    amendment = amendments.propose_amendment(grant=grant, actor=author, reason="Later second phase",
                                             tranches=_rows(grant, t2={"due_date": date(2028, 1, 1)}))
    assert amendment.change_cents == 0 and amendment.status is AmendmentStatus.APPROVED


def test_accept_refuses_when_a_tranche_it_changes_started_being_paid(amendable):
    grant, author, _approver, grantee = amendable
    amendment = amendments.propose_amendment(grant=grant, actor=author, reason="Smaller first phase",
                                             tranches=_rows(grant, t1={"amount_cents": 900_000}))
    db.session.commit()
    grant.tranches[0].status = TrancheStatus.DISBURSING  # a disbursement came first
    db.session.commit()
    with pytest.raises(Conflict, match="can no longer change it"):
        amendments.accept_amendment(amendment=amendment, actor=grantee)
    db.session.rollback()
    db.session.expire_all()
    assert grant.tranches[0].amount_cents == 1_000_000 and amendment.status is AmendmentStatus.APPROVED


def test_input_is_checked_field_by_field(amendable):
    grant, author, _approver, _grantee = amendable
    with pytest.raises(ValidationFailed) as refused:
        amendments.propose_amendment(grant=grant, actor=author, reason="x", tranches=[
            {"id": grant.tranches[0].id, "title": "", "amount_cents": 0},
            {"id": grant.tranches[0].id, "title": "Again", "amount_cents": 5},
            {"id": 999_999, "title": "Other", "amount_cents": 5}])
    errors = refused.value.errors
    assert {"tranches.0.title", "tranches.0.amount_cents", "tranches.1.id", "tranches.2.id"} <= set(errors)
    with pytest.raises(ValidationFailed) as refused:
        amendments.propose_amendment(grant=grant, actor=author, reason="", tranches=_rows(grant, t1={"title": "New"}))
    assert "reason" in refused.value.errors
    with pytest.raises(ValidationFailed, match="same as the one in force"):
        amendments.propose_amendment(grant=grant, actor=author, reason="Nothing", tranches=_rows(grant))
    with pytest.raises(ValidationFailed):
        amendments.propose_amendment(grant=grant, actor=author, reason="Nothing", tranches=[])
    assert db.session.execute(sa.select(sa.func.count(GrantAmendment.id))).scalar_one() == 0


def test_one_open_amendment_per_grant_and_rejection(amendable):
    grant, author, approver, grantee = amendable
    first = amendments.propose_amendment(grant=grant, actor=author, reason="One",
                                         tranches=_rows(grant, t1={"title": "Pilot"}))
    db.session.commit()
    with pytest.raises(Conflict, match="still open"):
        amendments.propose_amendment(grant=grant, actor=author, reason="Two", tranches=_rows(grant, t1={"title": "B"}))
    db.session.rollback()
    with pytest.raises(ValidationFailed):
        amendments.reject_amendment(amendment=first, actor=grantee, reason=" ")
    db.session.rollback()
    amendments.reject_amendment(amendment=first, actor=grantee, reason="We prefer the old title")
    db.session.commit()
    assert first.status is AmendmentStatus.REJECTED and first.rejection_reason == "We prefer the old title"
    assert grant.tranches[0].title != "Pilot"
    with pytest.raises(Conflict):
        amendments.accept_amendment(amendment=first, actor=grantee)
    db.session.rollback()
    second = amendments.propose_amendment(grant=grant, actor=author, reason="Two",
                                          tranches=_rows(grant, t1={"title": "B"}))
    assert second.number == 2


def test_an_amendment_that_leaves_only_paid_tranches_completes_the_grant(amendable, app):
    grant, author, _approver, grantee = amendable
    # Pay the first tranche the way disbursements would leave it: paid, its money moved out of the commitment.
    transfer(key="test-paid", source=commitment_code(grant.id), target=disbursed_account(), amount_cents=1_000_000,
             actor=None, kind="disbursement")
    grant.tranches[0].status = TrancheStatus.PAID
    db.session.commit()
    app.config["AMENDMENT_APPROVAL_ABOVE_CENTS"] = 5_000_000
    try:
        amendment = amendments.propose_amendment(grant=grant, actor=author, reason="Stop after phase one",
                                                 tranches=_rows(grant, t2=None))
        amendments.accept_amendment(amendment=amendment, actor=grantee)
    finally:
        app.config.pop("AMENDMENT_APPROVAL_ABOVE_CENTS")
    db.session.commit()
    assert grant.status is GrantStatus.COMPLETED and balance(commitment_code(grant.id)) == 0
    _invariant_holds()


def test_the_invariant_check_finds_a_commitment_that_differs(amendable):
    grant = amendable[0]
    db.session.execute(sa.update(Tranche).where(Tranche.id == grant.tranches[0].id).values(amount_cents=1))
    problems = amendments.check_commitments_match_tranches()
    assert problems == [f"grant {grant.id}: undisbursed tranches 2000001 cents, commitment 3000000 cents"]
    assert any("commitment equals its undisbursed tranches" in name and found
               for name, found in _verify_by_name())
    db.session.rollback()


def _verify_by_name():
    return [(name, list(check())) for name, check in ledger_checks()]


def test_awards_keep_the_invariant(setup):
    _challenge, proposal, manager, _grantee = setup
    awards.award_proposal(proposal=proposal, actor=manager, amount_cents=3_000_000)
    db.session.commit()
    _invariant_holds()


def test_the_grantee_hears_of_an_amendment_to_accept_and_fund_managers_of_one_to_approve(amendable):
    grant, author, approver, grantee = amendable
    db.session.execute(sa.delete(OutboundEmail))
    pending = amendments.propose_amendment(grant=grant, actor=author, reason="Bigger",
                                           tranches=_rows(grant, t2={"amount_cents": 2_100_000}))
    db.session.commit()
    emails = db.session.execute(sa.select(OutboundEmail)).scalars().all()
    assert [e.to_address for e in emails] == [approver.email] and "needs your approval" in emails[0].subject
    assert f"/amendments/{pending.id}" in emails[0].body
    db.session.execute(sa.delete(OutboundEmail))
    amendments.approve_amendment(amendment=pending, actor=approver)
    db.session.commit()
    emails = db.session.execute(sa.select(OutboundEmail)).scalars().all()
    assert [e.to_address for e in emails] == [grantee.email] and "awaits your acceptance" in emails[0].subject


def test_a_new_tranche_makes_a_completed_grant_active_again(amendable):
    grant, author, approver, grantee = amendable
    transfer(key="test-paid-all", source=commitment_code(grant.id), target=disbursed_account(),
             amount_cents=3_000_000, actor=None, kind="disbursement")
    for tranche in grant.tranches:
        tranche.status = TrancheStatus.PAID  # as two paid disbursements leave them (the scene)
    grant.status = GrantStatus.COMPLETED
    db.session.commit()
    amendment = amendments.propose_amendment(grant=grant, actor=author, reason="Follow-up phase", tranches=[
        *_rows(grant), {"title": "Follow-up", "amount_cents": 400_000, "due_date": date(2027, 12, 1)}])
    amendments.approve_amendment(amendment=amendment, actor=approver)
    amendments.accept_amendment(amendment=amendment, actor=grantee)
    db.session.commit()
    assert grant.status is GrantStatus.ACTIVE and grant.amount_cents == 3_400_000
    assert balance(commitment_code(grant.id)) == 400_000
    _invariant_holds()


def test_a_change_in_a_higher_tier_needs_as_many_approvals_as_the_tier(amendable, make_user):
    grant, author, approver, grantee = amendable
    amendment = amendments.propose_amendment(grant=grant, actor=author, reason="Much bigger",
                                             tranches=_rows(grant, t2={"amount_cents": 2_000_000 + 6_000_000}))
    db.session.commit()  # + USD 60,000: the second tier, two approvals
    amendments.approve_amendment(amendment=amendment, actor=approver)
    db.session.commit()
    state = amendments.amendment_approval_state(amendment)
    assert amendment.status is AmendmentStatus.PENDING and state.missing == 1 and len(state.counted) == 1
    amendments.approve_amendment(amendment=amendment, actor=make_user("fund_manager"))
    db.session.commit()
    assert amendment.status is AmendmentStatus.APPROVED and amendment.approved_at is not None
