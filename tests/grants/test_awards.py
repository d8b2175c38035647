"""Awards: limits, the pool, tranches, ledger effects; accepting; releasing unused pools."""
from datetime import date

import pytest
import sqlalchemy as sa

from facility.audit.models import AuditEvent
from facility.challenges.models import ChallengeStatus
from facility.core.errors import Conflict, PermissionDenied, ValidationFailed
from facility.core.mail import OutboundEmail
from facility.extensions import db
from facility.grants import awards
from facility.grants.models import Grant, GrantStatus, TrancheStatus
from facility.ledger.balances import balance, facility_totals
from facility.ledger.services import UNALLOCATED, commitment_code, pool_code
from facility.ledger.verify import verify_ledger
from facility.proposals.models import ProposalStatus


def _count(model):
    return db.session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()


def test_award_at_requested_amount_uses_milestones(app, setup):
    challenge, proposal, manager, grantee = setup
    grant = awards.award_proposal(proposal=proposal, actor=manager, amount_cents=3_000_000)
    db.session.commit()
    assert grant.status == GrantStatus.OFFERED
    assert [(t.title, t.amount_cents, t.due_date) for t in grant.tranches] == [
        ("Milestone 1", 1_000_000, date(2027, 1, 1)), ("Milestone 2", 2_000_000, date(2027, 2, 1))]
    assert [t.milestone_id for t in grant.tranches] == [m.id for m in proposal.milestones]
    assert proposal.status == ProposalStatus.AWARDED
    assert balance(pool_code(challenge.id)) == 2_000_000
    assert balance(commitment_code(grant.id)) == 3_000_000
    totals = facility_totals()
    assert (totals["allocated"], totals["committed"], totals["unallocated"]) == (2_000_000, 3_000_000, 1_000_000)
    assert verify_ledger() == []
    emails = db.session.execute(sa.select(OutboundEmail)).scalars().all()
    assert [e.to_address for e in emails] == [grantee.email]
    assert "grant.awarded" in db.session.execute(sa.select(AuditEvent.action)).scalars().all()


def test_award_with_own_tranches_must_sum(app, setup):
    _, proposal, manager, _ = setup
    tranches = [{"title": "Pilot", "amount_cents": 1_000_000, "due_date": date(2027, 3, 1)},
                {"title": "Scale", "amount_cents": 500_000}]
    with pytest.raises(ValidationFailed) as caught:
        awards.award_proposal(proposal=proposal, actor=manager, amount_cents=2_000_000, tranches=tranches)
    assert "tranches" in caught.value.errors
    db.session.rollback()
    with pytest.raises(ValidationFailed) as caught:
        awards.award_proposal(proposal=proposal, actor=manager, amount_cents=1_500_000)
    assert "tranches" in caught.value.errors
    db.session.rollback()
    grant = awards.award_proposal(proposal=proposal, actor=manager, amount_cents=1_500_000, tranches=tranches)
    db.session.commit()
    assert [t.amount_cents for t in grant.tranches] == [1_000_000, 500_000]
    assert [t.milestone_id for t in grant.tranches] == [None, None]


def test_award_limits_write_nothing(app, setup, make_challenge, make_proposal):
    challenge, proposal, manager, _ = setup
    with pytest.raises(ValidationFailed) as caught:
        awards.award_proposal(proposal=proposal, actor=manager, amount_cents=5_000_001,
                                tranches=[{"title": "All", "amount_cents": 5_000_001}])
    assert "amount_cents" in caught.value.errors
    db.session.rollback()
    poor = make_challenge()
    poor_proposal = make_proposal(poor)
    with pytest.raises(Conflict, match="pool"):
        awards.award_proposal(proposal=poor_proposal, actor=manager, amount_cents=3_000_000)
    db.session.rollback()
    assert _count(Grant) == 0
    assert poor_proposal.status == ProposalStatus.SUBMITTED
    assert balance(pool_code(challenge.id)) == 5_000_000


def test_award_states_and_roles(app, setup, make_challenge, make_proposal, make_user):
    challenge, proposal, manager, grantee = setup
    with pytest.raises(PermissionDenied):
        awards.award_proposal(proposal=proposal, actor=grantee, amount_cents=3_000_000)
    with pytest.raises(PermissionDenied):
        awards.award_proposal(proposal=proposal, actor=make_user("admin"), amount_cents=3_000_000)
    draft = make_proposal(challenge, status=ProposalStatus.DRAFT)
    with pytest.raises(Conflict):
        awards.award_proposal(proposal=draft, actor=manager, amount_cents=3_000_000)
    open_challenge = make_challenge(closed=False)
    early = make_proposal(open_challenge)
    with pytest.raises(Conflict, match="closes"):
        awards.award_proposal(proposal=early, actor=manager, amount_cents=3_000_000)
    db.session.rollback()
    awards.award_proposal(proposal=proposal, actor=manager, amount_cents=3_000_000)
    db.session.commit()
    with pytest.raises(Conflict, match="already"):
        awards.award_proposal(proposal=proposal, actor=manager, amount_cents=1_000_000)
    db.session.rollback()
    assert _count(Grant) == 1 and balance(pool_code(challenge.id)) == 2_000_000


def test_shortlisted_proposal_can_be_awarded(app, setup, make_proposal):
    challenge, _, manager, _ = setup
    shortlisted = make_proposal(challenge, status=ProposalStatus.SHORTLISTED)
    assert awards.award_proposal(proposal=shortlisted, actor=manager, amount_cents=3_000_000).id


def test_grantee_accepts_once(app, setup, make_user, make_org):
    _, proposal, manager, grantee = setup
    grant = awards.award_proposal(proposal=proposal, actor=manager, amount_cents=3_000_000)
    db.session.commit()
    with pytest.raises(PermissionDenied):
        awards.accept_grant(grant=grant, actor=make_user("innovator", organization=make_org(name="Else")))
    with pytest.raises(PermissionDenied):
        awards.accept_grant(grant=grant, actor=manager)
    awards.accept_grant(grant=grant, actor=grantee)
    db.session.commit()
    assert grant.status == GrantStatus.ACTIVE and grant.accepted_by_id == grantee.id
    with pytest.raises(Conflict):
        awards.accept_grant(grant=grant, actor=grantee)


def test_release_unused_pool(app, setup, make_proposal):
    challenge, proposal, manager, grantee = setup
    awards.award_proposal(proposal=proposal, actor=manager, amount_cents=3_000_000)
    pending = make_proposal(challenge)
    db.session.commit()
    with pytest.raises(Conflict, match="await"):
        awards.release_unused_pool(challenge=challenge, actor=manager)
    with pytest.raises(PermissionDenied):
        awards.release_unused_pool(challenge=challenge, actor=grantee)
    pending.status = ProposalStatus.DECLINED
    db.session.commit()
    before = facility_totals()
    tx = awards.release_unused_pool(challenge=challenge, actor=manager)
    db.session.commit()
    assert tx.key == f"release-pool:{challenge.id}"
    assert balance(pool_code(challenge.id)) == 0
    assert balance(UNALLOCATED) == before["unallocated"] + 2_000_000
    assert facility_totals()["raised"] == before["raised"]
    with pytest.raises(Conflict):
        awards.release_unused_pool(challenge=challenge, actor=manager)


def test_release_refused_while_open(app, make_challenge, make_user, fund):
    challenge = make_challenge(closed=False)
    fund(challenge=challenge, pool=1_000)
    with pytest.raises(Conflict):
        awards.release_unused_pool(challenge=challenge, actor=make_user("fund_manager"))
    challenge.status = ChallengeStatus.FINISHED
    db.session.commit()
    assert awards.release_unused_pool(challenge=challenge, actor=make_user("fund_manager")).id


# --- API -------------------------------------------------------------------------


def test_tranches_start_pending(app, setup):
    _, proposal, manager, _ = setup
    grant = awards.award_proposal(proposal=proposal, actor=manager, amount_cents=3_000_000)
    assert {t.status for t in grant.tranches} == {TrancheStatus.PENDING}
