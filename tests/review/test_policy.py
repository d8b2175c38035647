"""review.policy: every action refused to the wrong role, the wrong organisation or panel and the
anonymous, allowed to the right person, and refused in the wrong state with the right kind of error."""
from __future__ import annotations

from datetime import timedelta

import pytest
from flask_login import AnonymousUserMixin

from facility.accounts.models import Organization, OrgKind
from facility.core.errors import Conflict, NotFound, PermissionDenied
from facility.core.models import utcnow
from facility.core.policy import may
from facility.extensions import db
from facility.proposals.models import ProposalStatus
from facility.review import conflicts, decisions, panels, policy
from facility.review.models import PanelInvitation, PanelRole
from tests.review.conftest import assign, review_the_rest, submit

ANONYMOUS = AnonymousUserMixin()


def refused(decision, error=PermissionDenied) -> bool:
    return decision is not None and decision.error is error and bool(decision.reason)


@pytest.fixture
def people(world, make_user):
    """Everyone who may ask, by the part they play (or do not play) in `world`."""
    elsewhere = Organization(name="Nairobi City County", kind=OrgKind.CITY, country="KEN")
    db.session.add(elsewhere)
    db.session.commit()
    return {
        "manager": world.manager,
        "reviewer": world.reviewers[0],  # on the panel
        "other_reviewer": world.reviewers[1],  # on the panel, not assigned
        "stranger_reviewer": make_user("reviewer"),  # a reviewer not on this panel
        "official": world.official,  # the challenge city's official
        "other_official": make_user("city_official", organization=elsewhere),  # another city's official
        "applicant": world.applicants[0],
        "other_applicant": world.applicants[1],
        "admin": make_user("admin"),
        "anonymous": ANONYMOUS,
    }


def _only(people, allowed: set[str], check, error=PermissionDenied, hidden: set[str] = frozenset()):
    """`check(user)` allows exactly `allowed`, hides from `hidden` (404) and refuses everyone else with `error`."""
    for who, user in people.items():
        decision = check(user)
        if who in allowed:
            assert decision is None, (who, decision)
        elif who in hidden:
            assert refused(decision, NotFound), (who, decision)
        else:
            assert refused(decision, error), (who, decision)


STAFF_ONLY = {"manager"}


# --- staff actions: role, then state ------------------------------------------------------------------


@pytest.mark.parametrize("action", ["manage_panel", "manage_rounds"])
def test_challenge_actions_are_fund_managers_only(world, people, action):
    check = getattr(policy, f"can_{action}")
    _only(people, STAFF_ONLY, lambda user: check(user, world.challenge))


@pytest.mark.parametrize("action", ["edit_round", "assign", "assign_automatically"])
def test_round_actions_are_fund_managers_only(world, people, action):
    check = getattr(policy, f"can_{action}")
    _only(people, STAFF_ONLY, lambda user: check(user, world.scoring))


def test_closing_a_round_and_assigning_automatically_need_it_open(world):
    round_ = world.scoring
    assert policy.can_close_round(world.manager, round_) is None
    assert policy.can_assign_automatically(world.manager, round_) is None
    round_.closed_at = utcnow()
    db.session.commit()
    assert refused(policy.can_close_round(world.manager, round_), Conflict)
    assert refused(policy.can_assign_automatically(world.manager, round_), Conflict)
    assert policy.can_edit_round(world.manager, round_) is None  # new dates reopen it
    assert policy.can_assign(world.manager, round_) is None  # by hand, as always
    assert refused(policy.can_close_round(world.reviewers[0], round_))  # the role is checked first


def test_waiving_and_removing(world, people):
    a = assign(world, world.reviewers[0], world.proposals[0])
    _only(people, STAFF_ONLY, lambda user: policy.can_waive(user, a))
    _only(people, STAFF_ONLY, lambda user: policy.can_remove_assignment(user, a))
    submit(world, a, [7, 7])
    assert refused(policy.can_waive(world.manager, a), Conflict)  # the review is in
    assert refused(policy.can_remove_assignment(world.manager, a), Conflict)
    b = assign(world, world.reviewers[1], world.proposals[0])
    b.waived_at = utcnow()
    db.session.commit()
    assert refused(policy.can_waive(world.manager, b), Conflict)  # already waived


def test_preparing_a_decision(world, people):
    proposal = world.proposals[0]
    _only(people, STAFF_ONLY, lambda user: policy.can_prepare_decision(user, proposal))
    for status in (ProposalStatus.DRAFT, ProposalStatus.WITHDRAWN, ProposalStatus.AWARDED):
        proposal.status = status
        assert refused(policy.can_prepare_decision(world.manager, proposal), Conflict), status
        assert refused(policy.can_prepare_decision(world.reviewers[0], proposal)), status  # role first


def test_releasing_decisions(world, people):
    challenge = world.challenge
    assert refused(policy.can_release_decisions(world.manager, challenge), Conflict)  # nothing pending
    a = assign(world, world.reviewers[0], world.proposals[0])
    decisions.prepare_decision(actor=world.manager, proposal=world.proposals[0], kind="shortlist")
    db.session.commit()
    # The two proposals nobody reviews hold the release back, named (they are not "missing 0").
    unreviewed = policy.can_release_decisions(world.manager, challenge)
    assert refused(unreviewed, Conflict) and "2 submitted proposals have no reviewer" in unreviewed.reason
    assert all(f"{p.id} ({p.title})" in unreviewed.reason for p in world.proposals[1:])
    assert world.proposals[0].title not in unreviewed.reason
    review_the_rest(world)
    outstanding = policy.can_release_decisions(world.manager, challenge)
    assert refused(outstanding, Conflict) and "1 assigned review is neither in nor waived" in outstanding.reason
    submit(world, a, [8, 6])
    _only(people, STAFF_ONLY, lambda user: policy.can_release_decisions(user, challenge))


# --- the panel page and the ranking ----------------------------------------------------------------------------


def test_following_the_panel(world, people):
    """Fund managers and the panel's observers; other officials are told no (403), anyone else is not told (404)."""
    check = lambda user: policy.can_follow_panel(user, world.challenge)  # noqa: E731
    _only(people, STAFF_ONLY, check, hidden={"reviewer", "other_reviewer", "stranger_reviewer", "applicant",
                                             "other_applicant", "admin", "anonymous"})
    panels.add_panel_member(actor=world.manager, challenge=world.challenge, user=world.official,
                            role=PanelRole.OBSERVER)
    db.session.commit()
    _only(people, STAFF_ONLY | {"official"}, check,
          hidden={"reviewer", "other_reviewer", "stranger_reviewer", "applicant", "other_applicant", "admin",
                  "anonymous"})


def test_seeing_the_ranking(world, people):
    """Fund managers always; the challenge city's officials (not another city's) once the round has closed."""
    round_ = world.scoring
    _only(people, STAFF_ONLY, lambda user: policy.can_see_ranking(user, round_))
    round_.closed_at = utcnow()
    db.session.commit()
    _only(people, STAFF_ONLY | {"official"}, lambda user: policy.can_see_ranking(user, round_))


# --- the reviewer's side ------------------------------------------------------------------------------------------------


REVIEWERS = {"reviewer", "other_reviewer", "stranger_reviewer"}


def test_the_queue_is_for_reviewers(world, people):
    _only(people, REVIEWERS, policy.can_see_queue)


def test_a_reviewer_sees_only_the_panels_they_sit_on(world, people):
    """Not a reviewer: 403; a reviewer on another panel is not told this one exists (404)."""
    _only(people, {"reviewer", "other_reviewer"}, lambda user: policy.can_see_reviewer_panel(user, world.challenge),
          hidden={"stranger_reviewer"})


def test_declaring_a_conflict(world, people):
    proposal = world.proposals[0]
    check = lambda user: policy.can_declare_conflict(user, proposal)  # noqa: E731
    _only(people, {"reviewer", "other_reviewer"}, check, hidden={"stranger_reviewer"})
    conflicts.declare_conflict(actor=world.reviewers[0], proposal=proposal, reason="I advised them")
    db.session.commit()
    assert refused(check(world.reviewers[0]), Conflict)  # once
    proposal.status = ProposalStatus.WITHDRAWN
    assert refused(check(world.reviewers[1]), NotFound)  # not in the competition


def test_opening_and_editing_an_assignment(world, people):
    a = assign(world, world.reviewers[0], world.proposals[0])
    for action in (policy.can_open_assignment, policy.can_edit_review):
        _only(people, {"reviewer"}, lambda user, action=action: action(user, a),
              hidden={"other_reviewer", "stranger_reviewer"})
    # Rounds open when submissions close: before that (and after the round closes) no review is written.
    round_ = world.scoring
    opens = round_.opens_at
    round_.opens_at = utcnow() + timedelta(days=1)
    db.session.commit()
    assert policy.can_open_assignment(world.reviewers[0], a) is None
    assert refused(policy.can_edit_review(world.reviewers[0], a), Conflict)
    round_.opens_at, round_.closed_at = opens, utcnow()
    db.session.commit()
    assert refused(policy.can_edit_review(world.reviewers[0], a), Conflict)
    round_.closed_at = None
    db.session.commit()
    submit(world, a, [5, 5])
    assert refused(policy.can_edit_review(world.reviewers[0], a), Conflict)  # a submitted review is final
    assert refused(policy.can_edit_review(world.reviewers[1], a), NotFound)  # another reviewer still sees nothing


def test_a_conflicted_or_waived_assignment_cannot_be_opened(world):
    a = assign(world, world.reviewers[0], world.proposals[0])
    a.waived_at = utcnow()
    db.session.commit()
    assert refused(policy.can_open_assignment(world.reviewers[0], a), NotFound)
    b = assign(world, world.reviewers[0], world.proposals[1])
    world.reviewers[0].organization = world.orgs[1]  # now a member of the applicant organisation
    db.session.commit()
    assert refused(policy.can_open_assignment(world.reviewers[0], b), NotFound)


def test_accepting_an_invitation(world, people):
    invitation = PanelInvitation(challenge=world.challenge, email="new@uni.example", invited_by_id=world.manager.id)
    db.session.add(invitation)
    db.session.commit()
    _only(people, {"anonymous"}, lambda user: policy.can_accept_invitation(user, invitation))
    assert policy.can_accept_invitation(None, invitation) is None
    invitation.accepted_at = utcnow()
    assert refused(policy.can_accept_invitation(ANONYMOUS, invitation), Conflict)


# --- the applicant's feedback ------------------------------------------------------------------------------


def test_seeing_the_feedback(world, people):
    proposal = world.proposals[0]
    check = lambda user: policy.can_see_feedback(user, proposal)  # noqa: E731
    _only(people, set(), check, hidden=set(people))  # nothing released yet: nobody
    a = assign(world, world.reviewers[0], proposal)
    submit(world, a, [6, 6])
    review_the_rest(world)
    decisions.prepare_decision(actor=world.manager, proposal=proposal, kind="decline")
    decisions.release_decisions(actor=world.manager, challenge=world.challenge)
    db.session.commit()
    _only(people, {"manager", "applicant"}, check, hidden=set(people) - {"manager", "applicant"})


# --- the template helper asks the same functions ------------------------------------------------------------


def test_templates_ask_the_same_policy(world, app):
    a = assign(world, world.reviewers[0], world.proposals[0])
    assert may(world.manager, "review.waive", a)
    refusal = may(world.reviewers[0], "review.waive", a)
    assert not refusal and not refusal.explain  # the wrong role: hidden
    submit(world, a, [7, 7])
    done = may(world.manager, "review.waive", a)
    assert not done and done.explain and done.reason  # the right role, the wrong moment: explained
