"""Appeals: an applicant asks for reconsideration of a released decline within the window, on stated
grounds; a fund manager who took no part in the decision upholds (new review) or dismisses it, with reasons."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from facility.audit.models import AuditEvent
from facility.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from facility.core.mail import OutboundEmail
from facility.extensions import db
from facility.proposals.models import ProposalStatus
from facility.review import appeals, assignments, decisions, panels, policy
from facility.review.models import Appeal, AppealStatus
from tests.factories.accounts import enrol
from tests.review.conftest import release_one, submit


def _appeal(world, proposal, **kw):
    appeal = appeals.submit_appeal(actor=kw.get("actor", world.applicants[0]), proposal=proposal,
                                   grounds=kw.get("grounds", "factual_error"),
                                   statement=kw.get("statement", "The budget was read as twice its size."))
    db.session.commit()
    return appeal


def _actions(appeal) -> list[str]:
    return list(db.session.execute(sa.select(AuditEvent.action).where(
        AuditEvent.object_type == "Appeal", AuditEvent.object_id == str(appeal.id)).order_by(AuditEvent.id)).scalars())


@pytest.fixture
def impartial(make_user):
    return make_user("fund_manager", email="impartial@facility.example", name="Ines Impartial")


def test_the_applicant_appeals_a_released_decline_within_the_window(clock, world):
    proposal = release_one(world)
    clock.shift(days=13)
    appeal = _appeal(world, proposal, grounds="undeclared_conflict")
    assert appeal.status == AppealStatus.SUBMITTED and appeal.organization_id == proposal.organization_id
    assert appeal.applicant_id == world.applicants[0].id and appeal.decision.kind.value == "decline"
    assert _actions(appeal) == ["review.appeal_submitted"]


def test_an_appeal_outside_its_window_is_refused(clock, world):
    proposal = release_one(world)
    clock.shift(days=14, minutes=1)
    with pytest.raises(Conflict, match="within 14 days of its release"):
        _appeal(world, proposal)
    assert db.session.execute(sa.select(sa.func.count(Appeal.id))).scalar_one() == 0


def test_the_window_is_configurable(app, clock, world):
    app.config["APPEAL_WINDOW_DAYS"] = 30
    proposal = release_one(world)
    clock.shift(days=20)
    assert _appeal(world, proposal).status == AppealStatus.SUBMITTED
    app.config["APPEAL_WINDOW_DAYS"] = 1
    other = world.proposals[1]
    assert policy.can_appeal(world.applicants[1], other) is not None  # not declined: nothing to appeal


def test_wrong_grounds_and_an_empty_statement_are_refused(world):
    proposal = release_one(world)
    with pytest.raises(ValidationFailed) as refused:
        _appeal(world, proposal, grounds="bad_luck")
    assert "grounds" in refused.value.errors
    with pytest.raises(ValidationFailed) as refused:
        _appeal(world, proposal, statement="   ")
    assert "statement" in refused.value.errors


def test_only_a_member_of_the_applicant_organisation_appeals(world, make_user):
    proposal = release_one(world)
    for outsider in (world.applicants[1], world.manager, world.reviewers[0]):
        with pytest.raises(NotFound):
            _appeal(world, proposal, actor=outsider)


def test_only_a_released_decline_is_appealable_and_only_once(world):
    proposal = release_one(world, kind="shortlist")
    with pytest.raises(Conflict, match="decline"):
        _appeal(world, proposal)
    declined = world.proposals[1]
    decisions.prepare_decision(actor=world.manager, proposal=declined, kind="decline")
    db.session.commit()
    with pytest.raises(Conflict):  # prepared, not released
        _appeal(world, declined, actor=world.applicants[1])
    decisions.release_decisions(actor=world.manager, challenge=world.challenge)
    db.session.commit()
    _appeal(world, declined, actor=world.applicants[1])
    with pytest.raises(Conflict, match="already been appealed"):
        _appeal(world, declined, actor=world.applicants[1])


def test_a_handler_who_took_part_is_refused(world, make_user, impartial):
    releaser = make_user("fund_manager", email="releaser@facility.example")
    panellist = make_user("fund_manager", "reviewer", email="panellist@facility.example")
    panels.add_panel_member(actor=world.manager, challenge=world.challenge, user=panellist)
    db.session.commit()
    proposal = release_one(world, releaser=releaser)
    appeal = _appeal(world, proposal)
    # prepared it, released it, sits on the panel, reviewed the proposal (a fund manager who also reviews)
    reviewer_fm = world.reviewers[0]
    reviewer_fm.add_role("fund_manager")
    enrol(reviewer_fm)
    db.session.commit()
    for took_part in (world.manager, releaser, panellist, reviewer_fm):
        refusal = policy.can_handle_appeal(took_part, appeal)
        assert refusal is not None and "took part" in refusal.reason
        with pytest.raises(PermissionDenied):
            appeals.decide_appeal(actor=took_part, appeal=appeal, outcome="dismissed", reasons="No.")
    with pytest.raises(PermissionDenied):  # not a fund manager at all
        appeals.decide_appeal(actor=world.applicants[0], appeal=appeal, outcome="upheld", reasons="Yes.")
    assert policy.can_handle_appeal(impartial, appeal) is None


def test_dismissed_keeps_the_decision_and_tells_the_applicant_the_reasons(world, impartial):
    proposal = release_one(world)
    appeal = _appeal(world, proposal)
    appeals.decide_appeal(actor=impartial, appeal=appeal, outcome="dismissed",
                          reasons="The budget was read correctly; the score stands.")
    db.session.commit()
    assert appeal.status == AppealStatus.DISMISSED and appeal.handler_id == impartial.id
    assert proposal.status == ProposalStatus.DECLINED and not appeal.decision.is_set_aside
    mail = db.session.execute(sa.select(OutboundEmail).where(OutboundEmail.to_address == world.applicants[0].email)
                              .order_by(OutboundEmail.id.desc())).scalars().first()
    assert "Your appeal" in mail.subject and "The budget was read correctly" in mail.body
    assert "Dismissed" in mail.body and "/review/appeals/" in mail.body
    assert _actions(appeal) == ["review.appeal_submitted", "review.appeal_dismissed"]
    with pytest.raises(Conflict, match="already been decided"):
        appeals.decide_appeal(actor=impartial, appeal=appeal, outcome="upheld", reasons="Changed my mind.")


def test_upheld_sets_the_decision_aside_and_returns_the_proposal_to_review(world, impartial, make_user):
    proposal = release_one(world)
    appeal = _appeal(world, proposal, grounds="procedural_error")
    appeals.decide_appeal(actor=impartial, appeal=appeal, outcome="upheld", reasons="The reviewer was conflicted.")
    db.session.commit()
    assert appeal.status == AppealStatus.UPHELD and appeal.decision.is_set_aside
    assert proposal.status == ProposalStatus.SUBMITTED
    assert _actions(appeal) == ["review.appeal_submitted", "review.appeal_upheld"]
    # the existing flow: a new reviewer, a new review, a new decision released
    newcomer = make_user("reviewer", email="newcomer@panel.example")
    panels.add_panel_member(actor=world.manager, challenge=world.challenge, user=newcomer)
    assignment = assignments.add_assignment(actor=world.manager, round_=world.scoring, proposal=proposal,
                                            reviewer=newcomer)
    db.session.commit()
    with pytest.raises(Conflict):  # the new review holds up the release
        decisions.prepare_decision(actor=world.manager, proposal=proposal, kind="shortlist")
        decisions.release_decisions(actor=world.manager, challenge=world.challenge)
    db.session.rollback()
    submit(world, assignment, [9, 9])
    decisions.prepare_decision(actor=world.manager, proposal=proposal, kind="shortlist")
    decisions.release_decisions(actor=world.manager, challenge=world.challenge)
    db.session.commit()
    assert proposal.status == ProposalStatus.SHORTLISTED
    assert policy.can_appeal(world.applicants[0], proposal) is not None  # nothing to appeal any more


def test_reasons_and_a_known_outcome_are_required(world, impartial):
    appeal = _appeal(world, release_one(world))
    with pytest.raises(ValidationFailed) as refused:
        appeals.decide_appeal(actor=impartial, appeal=appeal, outcome="upheld", reasons=" ")
    assert "reasons" in refused.value.errors
    with pytest.raises(ValidationFailed) as refused:
        appeals.decide_appeal(actor=impartial, appeal=appeal, outcome="submitted", reasons="Why not.")
    assert "outcome" in refused.value.errors
    db.session.rollback()
    assert appeal.status == AppealStatus.SUBMITTED and _actions(appeal) == ["review.appeal_submitted"]


def test_appeal_counts(world, impartial):
    assert appeals.appeal_counts() == {"submitted": 0, "upheld": 0, "dismissed": 0, "withdrawn": 0, "open": 0}
    appeal = _appeal(world, release_one(world))
    assert appeals.appeal_counts() == {"submitted": 1, "upheld": 0, "dismissed": 0, "withdrawn": 0, "open": 1}
    appeals.decide_appeal(actor=impartial, appeal=appeal, outcome="dismissed", reasons="Stands.")
    db.session.commit()
    assert appeals.appeal_counts() == {"submitted": 1, "upheld": 0, "dismissed": 1, "withdrawn": 0, "open": 0}


def test_the_results_framework_shows_the_appeal_counts(client, world, impartial):
    appeal = _appeal(world, release_one(world))
    appeals.decide_appeal(actor=impartial, appeal=appeal, outcome="dismissed", reasons="Stands.")
    db.session.commit()
    page = client.get("/results").get_data(as_text=True)
    section = page[page.index('id="appeal-counts-title"'):page.index('id="filters-heading"')]
    figures = dict(re.findall(r"<dt>([^<]+)</dt><dd>(\d+)</dd>", section))
    assert figures == {"Submitted": "1", "Upheld": "0", "Dismissed": "1", "Withdrawn": "0", "Awaiting a decision": "0"}


def test_the_applicant_withdraws_an_open_appeal_and_the_decision_stands(world, impartial):
    proposal = release_one(world)
    appeal = _appeal(world, proposal)
    for outsider in (world.applicants[1], world.reviewers[0]):
        with pytest.raises(NotFound):
            appeals.withdraw_appeal(actor=outsider, appeal=appeal)
    for staff in (world.manager, impartial):  # they read it, but the appeal is the applicant's to withdraw
        with pytest.raises(PermissionDenied):
            appeals.withdraw_appeal(actor=staff, appeal=appeal)
    appeals.withdraw_appeal(actor=world.applicants[0], appeal=appeal)
    db.session.commit()
    assert appeal.status == AppealStatus.WITHDRAWN and appeal.withdrawn_at is not None
    assert proposal.status == ProposalStatus.DECLINED and not appeal.decision.is_set_aside
    assert _actions(appeal) == ["review.appeal_submitted", "review.appeal_withdrawn"]
    assert appeals.appeal_counts()["withdrawn"] == 1 and appeals.appeal_counts()["open"] == 0
    with pytest.raises(Conflict, match="decided or withdrawn"):
        appeals.withdraw_appeal(actor=world.applicants[0], appeal=appeal)
    with pytest.raises(Conflict, match="decided or withdrawn"):  # nobody decides a withdrawn appeal
        appeals.decide_appeal(actor=impartial, appeal=appeal, outcome="upheld", reasons="Too late.")
    with pytest.raises(Conflict, match="already been appealed"):  # and it is not made again
        _appeal(world, proposal)


def test_a_decided_appeal_cannot_be_withdrawn(world, impartial):
    appeal = _appeal(world, release_one(world))
    appeals.decide_appeal(actor=impartial, appeal=appeal, outcome="dismissed", reasons="Stands.")
    db.session.commit()
    with pytest.raises(Conflict, match="decided or withdrawn"):
        appeals.withdraw_appeal(actor=world.applicants[0], appeal=appeal)
    assert appeal.status == AppealStatus.DISMISSED
