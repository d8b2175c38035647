"""proposals.policy: for each action the applicant (or staff, or the city after the deadline) is
allowed, and the wrong role, another innovator organisation, another city's official and an
anonymous visitor are refused."""
from __future__ import annotations

import io

import pytest

from facility.challenges.models import ChallengeStatus
from facility.core.errors import Conflict, NotFound, PermissionDenied
from facility.extensions import db
from facility.proposals import policy, services
from tests.proposals.conftest import AFTER_CLOSE, BEFORE_OPEN

EVERYONE = {"owner", "colleague", "other_innovator", "official", "other_official", "fund_manager", "admin",
            "reviewer", "donor", "anonymous"}


def _allowed(check, people, obj):
    return {name for name, user in people.items() if check(user, obj) is None}


def _error(check, user, obj):
    refusal = check(user, obj)
    assert refusal is not None
    return refusal.error


def test_view_and_attachments(people, challenge, make_proposal, clock):
    proposal = make_proposal(challenge, submit=True)
    for check in (policy.can_view, policy.can_see_attachments):
        assert _allowed(check, people, proposal) == {"owner", "colleague", "fund_manager", "admin"}
        for who in EVERYONE - {"owner", "colleague", "fund_manager", "admin"}:
            assert _error(check, people[who], proposal) is NotFound
    clock.move_to(AFTER_CLOSE)
    assert _allowed(policy.can_view, people, proposal) == {"owner", "colleague", "fund_manager", "admin", "official"}


def test_create(people, challenge, make_challenge, clock):
    assert _allowed(policy.can_create, people, challenge) == {"owner", "colleague", "other_innovator"}
    for who in EVERYONE - {"owner", "colleague", "other_innovator"}:
        assert _error(policy.can_create, people[who], challenge) is PermissionDenied
    draft = make_challenge(status=ChallengeStatus.DRAFT)
    assert _error(policy.can_create, people["owner"], draft) is NotFound
    clock.move_to(AFTER_CLOSE)
    assert _error(policy.can_create, people["owner"], challenge) is Conflict


@pytest.mark.parametrize("check", [policy.can_edit, policy.can_submit, policy.can_withdraw])
def test_applicant_actions(people, challenge, make_proposal, clock, check):
    proposal = make_proposal(challenge)
    assert _allowed(check, people, proposal) == {"owner", "colleague"}
    for who in EVERYONE - {"owner", "colleague"}:
        assert _error(check, people[who], proposal) is PermissionDenied
    clock.move_to(AFTER_CLOSE)
    assert _error(check, people["owner"], proposal) is Conflict


def test_submitted_proposals_may_be_withdrawn_not_changed(people, challenge, make_proposal):
    proposal = make_proposal(challenge, submit=True)
    assert policy.can_withdraw(people["owner"], proposal) is None
    assert _error(policy.can_edit, people["owner"], proposal) is Conflict
    assert _error(policy.can_submit, people["owner"], proposal) is Conflict
    services.withdraw_proposal(actor=people["owner"], proposal=proposal)
    db.session.commit()
    assert _error(policy.can_withdraw, people["owner"], proposal) is Conflict


def test_not_open_yet(people, challenge, make_proposal, clock):
    proposal = make_proposal(challenge)
    clock.move_to(BEFORE_OPEN)
    assert _error(policy.can_submit, people["owner"], proposal) is Conflict
    assert "yet" in policy.can_submit(people["owner"], proposal).reason


def test_delete_attachment(people, challenge, make_proposal, clock):
    from tests.proposals.test_attachments import PDF

    proposal = make_proposal(challenge)
    attachment = services.add_attachment(actor=people["owner"], proposal=proposal, filename="plan.pdf",
                                         stream=io.BytesIO(PDF + b"x" * 50))
    db.session.commit()
    assert _allowed(policy.can_delete_attachment, people, attachment) == {"owner", "colleague"}
    clock.move_to(AFTER_CLOSE)
    assert _error(policy.can_delete_attachment, people["owner"], attachment) is Conflict


def test_list_a_challenges_proposals(people, challenge, clock):
    assert _allowed(policy.can_list, people, challenge) == {"fund_manager", "admin"}
    for who in EVERYONE - {"fund_manager", "admin"}:
        assert _error(policy.can_list, people[who], challenge) is NotFound
    clock.move_to(AFTER_CLOSE)
    assert _allowed(policy.can_list, people, challenge) == {"fund_manager", "admin", "official"}
    assert policy.sees_every_status(people["fund_manager"], challenge)
    assert not policy.sees_every_status(people["official"], challenge)
