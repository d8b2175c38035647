"""Review services: conflicts, assignment, scoring, hidden reviews, ranking arithmetic, release gate."""
from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
import sqlalchemy as sa

from facility.accounts.models import Organization, OrgKind
from facility.audit.models import AuditEvent
from facility.core.errors import Conflict as ConflictError
from facility.core.errors import NotFound, PermissionDenied, ValidationFailed
from facility.core.mail import OutboundEmail
from facility.extensions import db
from facility.proposals.models import ProposalStatus
from facility.review import assignments, conflicts, decisions, facts, panels, policy, queries, ranking, reviews
from facility.review.models import (
    Assignment,
    ConflictKind,
    ConflictReason,
    DecisionKind,
    PanelInvitation,
    PanelRole,
    Review,
)
from tests.review.conftest import assign, review_the_rest, submit


def _actions(prefix: str) -> list[str]:
    return list(db.session.execute(sa.select(AuditEvent.action).where(AuditEvent.action.like(f"{prefix}%"))).scalars())


# --- conflicts ----------------------------------------------------------------------------------------


def test_member_of_applicant_org_is_conflicted(world, make_user):
    insider = make_user("reviewer", email="insider@elsewhere.example", organization=world.orgs[0])
    found = facts.detect_conflicts(world.proposals, [insider])
    assert found == {(world.proposals[0].id, insider.id): [ConflictReason.MEMBER]}


def test_same_email_domain_is_conflicted_but_webmail_is_not(world, make_user):
    colleague = make_user("reviewer", email="someone@zebracorp1.example")
    assert facts.conflict_reasons(world.proposals[1], colleague) == [ConflictReason.DOMAIN]
    assert facts.conflict_reasons(world.proposals[0], colleague) == []
    # Applicant and reviewer both on gmail.com: no conflict from the domain alone.
    make_user("innovator", email="cofounder@gmail.com", organization=world.orgs[2])
    gmail_reviewer = make_user("reviewer", email="reviewer@gmail.com")
    assert facts.conflict_reasons(world.proposals[2], gmail_reviewer) == []


def test_previous_declared_conflict_with_the_organisation_carries_over(world, make_user):
    reviewer = world.reviewers[0]
    conflicts.declare_conflict(actor=reviewer, proposal=world.proposals[0], reason="I advised them last year")
    db.session.commit()
    # The same organisation applies again, to another challenge's panel the reviewer sits on.
    other = _second_challenge_proposal(world, world.orgs[0])
    assert facts.conflict_reasons(other, reviewer) == [ConflictReason.PREVIOUS]
    assert facts.conflict_reasons(other, world.reviewers[1]) == []


def _second_challenge_proposal(world, org):
    from facility.challenges.models import Challenge, Criterion
    from facility.proposals.models import Proposal

    c = world.challenge
    challenge = Challenge(city=c.city, title="Second", summary="s", description="d", focus_area=c.focus_area,
                          prize_pool_cents=1000, max_award_cents=1000, opens_at=c.opens_at, closes_at=c.closes_at,
                          status=c.status)
    db.session.add(challenge)
    db.session.add(Criterion(challenge=challenge, name="All", weight=100, position=0))
    proposal = Proposal(challenge=challenge, organization=org, title="Again", status=ProposalStatus.SUBMITTED)
    db.session.add(proposal)
    db.session.commit()
    return proposal


def test_declare_conflict_removes_assignment_and_blocks_opening(world):
    reviewer, proposal = world.reviewers[0], world.proposals[0]
    a = assign(world, reviewer, proposal)
    submit(world, a, [5, 5], submit=False)
    assert policy.can_open_assignment(reviewer, a) is None
    conflict = conflicts.declare_conflict(actor=reviewer, proposal=proposal, reason="My cousin runs it")
    db.session.commit()
    assert conflict.kind == ConflictKind.DECLARED and conflict.organization_id == world.orgs[0].id
    assert db.session.execute(sa.select(Assignment).where(Assignment.reviewer_id == reviewer.id)).first() is None
    assert db.session.execute(sa.select(Review)).first() is None
    with pytest.raises(ConflictError):
        assign(world, reviewer, proposal)
    assert "review.conflict_declared" in _actions("review.conflict")


def test_abstain_and_declaring_rules(world, make_user):
    reviewer = world.reviewers[1]
    conflicts.declare_conflict(actor=reviewer, proposal=world.proposals[1], reason="Too close", abstain=True)
    assert facts.conflict_reasons(world.proposals[1], reviewer) == ["abstained"]
    with pytest.raises(ConflictError):
        conflicts.declare_conflict(actor=reviewer, proposal=world.proposals[1], reason="again")
    with pytest.raises(ValidationFailed) as info:
        conflicts.declare_conflict(actor=reviewer, proposal=world.proposals[2], reason="   ")
    assert "reason" in info.value.errors
    outsider = make_user("reviewer")  # not on the panel: as if the proposal did not exist
    with pytest.raises(NotFound):
        conflicts.declare_conflict(actor=outsider, proposal=world.proposals[0], reason="x")


# --- assignment ----------------------------------------------------------------------------------------


def test_auto_assign_gives_n_reviewers_without_conflicted_pairs(make_world, make_user):
    world = make_world(n_proposals=6, n_reviewers=4)
    insider = world.reviewers[0]
    insider.organization = world.orgs[0]
    conflicts.declare_conflict(actor=world.reviewers[1], proposal=world.proposals[1], reason="advisor")
    db.session.commit()
    outcome = assignments.auto_assign(actor=world.manager, round_=world.scoring, per_proposal=3)
    db.session.commit()
    rows = db.session.execute(sa.select(Assignment.proposal_id, Assignment.reviewer_id)).all()
    pairs = set(rows)
    assert len(pairs) == len(rows) == 18
    assert (world.proposals[0].id, insider.id) not in pairs
    assert (world.proposals[1].id, world.reviewers[1].id) not in pairs
    for p in world.proposals:
        assert sum(1 for pid, _ in pairs if pid == p.id) == 3
    loads = sorted(outcome.loads.values())
    assert loads[-1] - loads[0] <= 1 and sum(loads) == 18
    assert outcome.shortfalls == {}
    assert "All 6 proposals have 3 reviewers" in outcome.message


def test_auto_assign_says_honestly_when_n_cannot_be_met(world):
    conflicts.declare_conflict(actor=world.reviewers[0], proposal=world.proposals[2], reason="friend")
    outcome = assignments.auto_assign(actor=world.manager, round_=world.scoring, per_proposal=3)
    db.session.commit()
    assert outcome.shortfalls == {world.proposals[2].id: 1}
    assert "1 of 3 proposals cannot reach 3 reviewers" in outcome.message
    assert any("only 2 non-conflicted reviewers for 3 places" in line for line in outcome.details)
    # Running again keeps what exists and adds nothing.
    again = assignments.auto_assign(actor=world.manager, round_=world.scoring, per_proposal=3)
    assert again.added == 0


def test_auto_assign_rules(world, make_user):
    with pytest.raises(PermissionDenied):
        assignments.auto_assign(actor=world.reviewers[0], round_=world.scoring, per_proposal=2)
    with pytest.raises(ValidationFailed):
        assignments.auto_assign(actor=world.manager, round_=world.scoring, per_proposal=0)


def test_manual_assignment_refuses_conflicts_duplicates_and_strangers(world, make_user):
    a = assign(world, world.reviewers[0], world.proposals[0])
    with pytest.raises(ConflictError):
        assign(world, world.reviewers[0], world.proposals[0])
    stranger = make_user("reviewer")
    with pytest.raises(ValidationFailed):
        assign(world, stranger, world.proposals[0])
    assignments.remove_assignment(actor=world.manager, assignment=a)
    db.session.commit()
    assert db.session.get(Assignment, a.id) is None


# --- scoring and visibility ------------------------------------------------------------------------------


def test_draft_then_submit_with_required_comment_and_all_criteria(world):
    a = assign(world, world.reviewers[0], world.proposals[0])
    c1, c2 = world.criteria
    review = reviews.save_review(actor=world.reviewers[0], assignment=a, scores={str(c1.id): 7}, comment="")
    assert review.status.value == "draft" and review.score_map == {c1.id: 7}
    with pytest.raises(ValidationFailed) as info:
        reviews.save_review(actor=world.reviewers[0], assignment=a, scores={c1.id: 7}, comment="", submit=True)
    assert set(info.value.errors) == {"comment", f"scores.{c2.id}"}
    with pytest.raises(ValidationFailed) as info:
        reviews.save_review(actor=world.reviewers[0], assignment=a, scores={c1.id: 11, "999": 3}, comment="x")
    assert set(info.value.errors) == {f"scores.{c1.id}", "scores.999"}
    reviews.save_review(actor=world.reviewers[0], assignment=a, scores={c1.id: 7, c2.id: 3}, comment="Good",
                         submit=True)
    db.session.commit()
    with pytest.raises(ConflictError):
        reviews.save_review(actor=world.reviewers[0], assignment=a, scores={c1.id: 1, c2.id: 1}, comment="Edit")
    db.session.refresh(a.review)
    assert a.review.score_map == {c1.id: 7, c2.id: 3}


def test_review_only_by_the_assigned_reviewer_while_the_round_is_open(clock, world):
    a = assign(world, world.reviewers[0], world.proposals[0])
    with pytest.raises(NotFound):
        reviews.save_review(actor=world.reviewers[1], assignment=a, scores={}, comment="x")
    clock.move_to(world.scoring.closes_at + timedelta(minutes=1))
    with pytest.raises(ConflictError):
        reviews.save_review(actor=world.reviewers[0], assignment=a, scores={}, comment="x")


def test_eligibility_round_is_pass_or_fail_with_a_reason(world):
    a = assign(world, world.reviewers[0], world.proposals[0], round_=world.eligibility)
    with pytest.raises(ValidationFailed) as info:
        reviews.save_review(actor=world.reviewers[0], assignment=a, comment="Fine", submit=True)
    assert "eligible" in info.value.errors
    review = reviews.save_review(actor=world.reviewers[0], assignment=a, comment="Outside the city", eligible=False,
                                  submit=True)
    assert review.eligible is False and review.is_submitted


def test_others_hidden_until_own_review_is_submitted_and_round_allows(world):
    a0 = assign(world, world.reviewers[0], world.proposals[0])
    a1 = assign(world, world.reviewers[1], world.proposals[0])
    submit(world, a1, [9, 9], comment="Excellent")
    assert queries.others_reviews(a0, world.reviewers[0]) is None  # round does not allow it
    world.scoring.can_see_others = True
    db.session.commit()
    assert queries.others_reviews(a0, world.reviewers[0]) is None  # own review not in
    submit(world, a0, [4, 4], submit=False)
    assert queries.others_reviews(a0, world.reviewers[0]) is None  # a draft is not enough
    submit(world, a0, [4, 4])
    others = queries.others_reviews(a0, world.reviewers[0])
    assert [r.comment for r in others] == ["Excellent"]


# --- ranking: normalisation and reliability against a hand-computed example ---------------------------------


def test_ranking_matches_hand_computed_example(make_world):
    world = make_world(n_proposals=3, n_reviewers=2)  # weights 60 / 40
    p0, p1, p2 = world.proposals
    r0, r1 = world.reviewers
    # Weighted = 0.6*c1 + 0.4*c2.
    # r0: p0 (8,6) -> 7.2, p1 (5,5) -> 5.0, p2 (2,4) -> 2.8; mean 5.0, deviations +2.2, 0, -2.2,
    #     population sd = sqrt((2.2^2 * 2) / 3) = 2.2 * sqrt(2/3), so z = +-sqrt(3/2) = +-1.224745, 0.
    # r1: p0 (10,10) -> 10, p1 (9,9) -> 9, p2 (10,5) -> 8; mean 9, deviations +1, 0, -1, z = +-1.224745, 0.
    for reviewer, scores in ((r0, {p0: [8, 6], p1: [5, 5], p2: [2, 4]}), (r1, {p0: [10, 10], p1: [9, 9], p2: [10, 5]})):
        for proposal, s in scores.items():
            submit(world, assign(world, reviewer, proposal), s)
    report = ranking.ranking(world.scoring)
    rows = {row.proposal.id: row.stats for row in report.ranked}
    assert [row.proposal.id for row in report.ranked] == [p0.id, p1.id, p2.id]
    assert [rows[p.id].rank for p in (p0, p1, p2)] == [1, 2, 3]
    assert rows[p0.id].normalised == pytest.approx(1.224745, abs=1e-6)
    assert rows[p1.id].normalised == pytest.approx(0.0, abs=1e-9)
    assert rows[p2.id].normalised == pytest.approx(-1.224745, abs=1e-6)
    # Raw means: (7.2 + 10) / 2 = 8.6, (5 + 9) / 2 = 7.0, (2.8 + 8) / 2 = 5.4.
    assert [rows[p.id].raw_mean for p in (p0, p1, p2)] == pytest.approx([8.6, 7.0, 5.4])
    # Sample sd of p1: |9 - 5| / sqrt(2) = 2.828427; disagreement when the range is >= 4 points.
    assert rows[p1.id].sd == pytest.approx(2.828427, abs=1e-6)
    assert [rows[p.id].disagreement for p in (p0, p1, p2)] == [False, True, True]
    # Krippendorff's interval alpha, units = proposals, two values each (a, b):
    #   observed sum = sum over units 2 * (a - b)^2 = 2 * (2.8^2 + 4^2 + 5.2^2) = 101.76
    #   n = 6 values, total = 42, total_sq = 329.68,
    #   expected sum = 2 * n * total_sq - 2 * total^2 = 3956.16 - 3528 = 428.16
    #   alpha = 1 - (n - 1) * 101.76 / 428.16 = 1 - 508.8 / 428.16 = -0.188341
    assert report.alpha == pytest.approx(1 - 508.8 / 428.16, abs=1e-9)
    assert report.outstanding == 0
    assert {u.id: s.flagged for u, s in report.reviewers} == {r0.id: False, r1.id: False}


def test_ranking_shows_ties_and_missing_reviews(make_world):
    world = make_world(n_proposals=3, n_reviewers=2)
    p0, p1, p2 = world.proposals
    r0, r1 = world.reviewers
    for proposal, s in ((p0, [5, 5]), (p1, [5, 5]), (p2, [2, 4])):
        submit(world, assign(world, r0, proposal), s)
    assign(world, r1, p2)  # assigned, not in yet
    report = ranking.ranking(world.scoring)
    assert [(row.proposal.id, row.stats.rank, row.stats.tied) for row in report.ranked] == [
        (p0.id, 1, True), (p1.id, 1, True)]
    assert [(row.proposal.id, row.stats.reviews, row.stats.missing) for row in report.unranked] == [(p2.id, 1, 1)]
    assert report.outstanding == 1


def test_a_window_of_the_ranking_keeps_the_rounds_ranks_and_counts(make_world):
    """`ranking(rows=...)` (a page) returns the window of the whole order, ranked rows then unranked ones,
    with the round's ranks and totals: the same rows as slicing the whole report."""
    world = make_world(n_proposals=3, n_reviewers=2)
    p0, p1, p2 = world.proposals
    for proposal, s in ((p0, [9, 9]), (p1, [5, 5])):
        submit(world, assign(world, world.reviewers[0], proposal), s)
    assign(world, world.reviewers[1], p2)  # assigned, not in: unranked
    whole = ranking.ranking(world.scoring)
    order = [(r.proposal.id, r.stats.rank) for r in (*whole.ranked, *whole.unranked)]
    for start, stop in ((0, 1), (1, 2), (1, 3), (2, 3), (0, 3), (3, 6)):
        window = ranking.ranking(world.scoring, rows=slice(start, stop))
        assert [(r.proposal.id, r.stats.rank) for r in (*window.ranked, *window.unranked)] == order[start:stop]
        assert (window.ranked_total, window.unranked_total) == (2, 1)


def test_csv_has_a_header_and_defuses_formulas(world):
    world.proposals[0].title = "=HYPERLINK(\"http://evil\")"
    world.proposals[1].title = "@SUM(A1)"
    db.session.commit()
    submit(world, assign(world, world.reviewers[0], world.proposals[0]), [6, 6])
    rows = list(csv.reader(io.StringIO(ranking.ranking_csv(ranking.ranking(world.scoring)))))
    assert rows[0] == ranking.CSV_HEADER
    titles = {r[2]: r[3] for r in rows[1:]}
    assert titles[str(world.proposals[0].id)] == "'=HYPERLINK(\"http://evil\")"
    assert titles[str(world.proposals[1].id)] == "'@SUM(A1)"


def test_csv_scores_are_numbers_not_guarded_text(world):
    """A negative normalised score is written -0.500 (a number), not '-0.500 (text): only text is guarded."""
    for reviewer in world.reviewers[:2]:
        submit(world, assign(world, reviewer, world.proposals[0]), [8, 8])
        submit(world, assign(world, reviewer, world.proposals[1]), [2, 2])
    rows = list(csv.reader(io.StringIO(ranking.ranking_csv(ranking.ranking(world.scoring)))))
    by_id = {r[2]: r for r in rows[1:]}
    top, bottom = by_id[str(world.proposals[0].id)], by_id[str(world.proposals[1].id)]
    assert top[0] == "1" and bottom[0] == "2"
    assert float(bottom[4]) < 0 and bottom[4].startswith("-") and len(bottom[4].split(".")[1]) == 3
    assert float(top[4]) > 0 and top[5] == "8.00" and top[9] == "2"


# --- decisions and the release gate -------------------------------------------------------------------------


def test_release_waits_for_every_review_or_waiver(world):
    p0, p1, p2 = world.proposals
    a = assign(world, world.reviewers[0], p0)
    b = assign(world, world.reviewers[1], p1)
    submit(world, a, [8, 8], comment="Convincing pilot plan")
    decisions.prepare_decision(actor=world.manager, proposal=p0, kind="shortlist")
    decisions.prepare_decision(actor=world.manager, proposal=p1, kind=DecisionKind.DECLINE)
    decisions.prepare_decision(actor=world.manager, proposal=p2, kind="award_recommendation")
    db.session.commit()
    # p2 has no reviewer at all: it holds the release back, named (it used to go out as "missing 0").
    with pytest.raises(ConflictError) as info:
        decisions.release_decisions(actor=world.manager, challenge=world.challenge)
    assert "1 submitted proposal has no reviewer" in info.value.detail and "Solar kiosk plan 2" in info.value.detail
    db.session.rollback()
    submit(world, assign(world, world.reviewers[2], p2), [6, 6])
    with pytest.raises(ConflictError) as info:
        decisions.release_decisions(actor=world.manager, challenge=world.challenge)
    assert "1 assigned review is neither in nor waived" in info.value.detail
    db.session.rollback()
    assert p0.status == ProposalStatus.SUBMITTED
    with pytest.raises(ValidationFailed):
        assignments.waive_assignment(actor=world.manager, assignment=b, reason=" ")
    # Waiving p1's only review would leave it without any reviewer: it needs another one first.
    assignments.waive_assignment(actor=world.manager, assignment=b, reason="Reviewer fell ill")
    db.session.commit()
    with pytest.raises(ConflictError) as info:
        decisions.release_decisions(actor=world.manager, challenge=world.challenge)
    assert "Solar kiosk plan 1" in info.value.detail
    db.session.rollback()
    submit(world, assign(world, world.reviewers[2], p1), [4, 4])
    released = decisions.release_decisions(actor=world.manager, challenge=world.challenge)
    db.session.commit()
    assert len(released) == 3
    assert (p0.status, p1.status, p2.status) == (ProposalStatus.SHORTLISTED, ProposalStatus.DECLINED,
                                                 ProposalStatus.SUBMITTED)
    mails = db.session.execute(sa.select(OutboundEmail.to_address).where(
        OutboundEmail.subject.not_like("Proposals to review%"))).scalars().all()  # not the assignment notices
    assert sorted(mails) == sorted(u.email for u in world.applicants)
    assert {"review.assignment_waived", "review.decision_released"} <= set(_actions("review."))
    with pytest.raises(ConflictError):  # nothing pending any more
        decisions.release_decisions(actor=world.manager, challenge=world.challenge)


def test_feedback_shows_comments_without_names_only_after_release(world, make_user):
    p0 = world.proposals[0]
    submit(world, assign(world, world.reviewers[0], p0), [8, 8], comment="Convincing pilot plan")
    review_the_rest(world)
    decisions.prepare_decision(actor=world.manager, proposal=p0, kind="shortlist")
    db.session.commit()
    with pytest.raises(NotFound):
        decisions.feedback(p0, world.applicants[0])
    decisions.release_decisions(actor=world.manager, challenge=world.challenge)
    db.session.commit()
    fb = decisions.feedback(p0, world.applicants[0])
    assert fb.comments == [("Reviewer 1", "Convincing pilot plan")]
    with pytest.raises(NotFound):
        decisions.feedback(p0, world.applicants[1])


def test_only_fund_managers_prepare_and_release(world):
    with pytest.raises(PermissionDenied):
        decisions.prepare_decision(actor=world.reviewers[0], proposal=world.proposals[0], kind="shortlist")
    with pytest.raises(PermissionDenied):
        decisions.release_decisions(actor=world.official, challenge=world.challenge)
    with pytest.raises(ValidationFailed):
        decisions.prepare_decision(actor=world.manager, proposal=world.proposals[0], kind="crown")


# --- panels, observers, invitations, rounds ----------------------------------------------------------------


def test_panel_membership_rules(world, make_user):
    innovator = make_user("innovator")
    with pytest.raises(ValidationFailed):
        panels.add_panel_member(actor=world.manager, challenge=world.challenge, user=innovator)
    with pytest.raises(ConflictError):
        panels.add_panel_member(actor=world.manager, challenge=world.challenge, user=world.reviewers[0])
    with pytest.raises(PermissionDenied):
        panels.add_panel_member(actor=world.reviewers[0], challenge=world.challenge, user=make_user("reviewer"))
    member = panels.add_panel_member(actor=world.manager, challenge=world.challenge, user=world.official,
                                       role=PanelRole.OBSERVER)
    assert member.role == PanelRole.OBSERVER
    other_official = make_user("city_official", organization=Organization(name="Elsewhere", kind=OrgKind.CITY))
    with pytest.raises(ValidationFailed):
        panels.add_panel_member(actor=world.manager, challenge=world.challenge, user=other_official,
                                  role=PanelRole.OBSERVER)
    assert queries.challenges_of_reviewer(world.reviewers[0]) == [world.challenge]
    assert queries.challenges_of_reviewer(make_user("reviewer")) == []


def test_invitation_creates_a_reviewer_on_the_panel(clock, world, app):
    # The clock stands still so the token signed for the e-mail and the one signed here share a timestamp.
    invitation = panels.invite_reviewer(actor=world.manager, challenge=world.challenge,
                                        email="New.Person@Uni.example", name="New Person")
    db.session.commit()
    assert isinstance(invitation, PanelInvitation) and invitation.email == "new.person@uni.example"
    mail = db.session.execute(sa.select(OutboundEmail)).scalar_one()
    token = panels.invitation_token(invitation)
    assert token in mail.body
    with pytest.raises(ConflictError):
        panels.invite_reviewer(actor=world.manager, challenge=world.challenge, email="new.person@uni.example")
    db.session.rollback()
    assert panels.invitation_for_token(token + "x") is None
    with pytest.raises(ValidationFailed):
        panels.accept_invitation(invitation=invitation, name="New Person", password="short")
    db.session.rollback()
    user = panels.accept_invitation(invitation=invitation, name="New Person", password="a-long-password-for-review")
    db.session.commit()
    assert user.roles == ["reviewer"] and facts.is_panel_reviewer(world.challenge, user)
    assert panels.invitation_for_token(token) is None  # single use
    clock.shift(days=15)
    assert panels.invitation_for_token(panels.invitation_token(invitation)) is None


def test_existing_reviewer_is_added_not_invited(world, make_user):
    reviewer = make_user("reviewer", email="known@panel.example")
    result = panels.invite_reviewer(actor=world.manager, challenge=world.challenge, email="known@panel.example")
    assert result.user_id == reviewer.id


def test_rounds_default_dates_shortlist_and_updates(world):
    rounds = queries.rounds_of(world.challenge)
    assert [r.kind.value for r in rounds] == ["eligibility", "scoring"]
    assert all(r.opens_at == world.challenge.closes_at for r in rounds)
    shortlist = panels.add_shortlist_round(actor=world.manager, challenge=world.challenge)
    assert shortlist.opens_at == world.scoring.closes_at
    with pytest.raises(ConflictError):
        panels.add_shortlist_round(actor=world.manager, challenge=world.challenge)
    with pytest.raises(ValidationFailed):
        panels.update_round(actor=world.manager, round_=shortlist, opens_at=shortlist.closes_at,
                              closes_at=shortlist.opens_at, can_review=True, can_see_others=True)
    panels.close_round(actor=world.manager, round_=world.scoring)
    assert world.scoring.is_closed and not world.scoring.is_open
    # The shortlist round reviews only shortlisted proposals.
    world.proposals[0].status = ProposalStatus.SHORTLISTED
    assert queries.round_proposals(shortlist) == [world.proposals[0]]
