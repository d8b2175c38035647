"""PROPOSAL_TRANSITIONS: every move is made by the code that owns it, and nothing else moves."""
from __future__ import annotations

import pytest

from facility.core.errors import Conflict
from facility.extensions import db
from facility.proposals import services
from facility.proposals.lifecycle import set_proposal_status
from facility.proposals.models import PROPOSAL_TRANSITIONS, ProposalStatus

S = ProposalStatus


def _walk(proposal, fund_manager, path):
    """Move `proposal` along `path` with set_proposal_status (review's and grants' way); the moves made."""
    made = []
    for status in path:
        before = set_proposal_status(proposal=proposal, to=status, actor=fund_manager)
        made.append((before, status))
    db.session.commit()
    return made


def test_every_move_of_the_table_is_made(challenge, make_challenge, city, make_proposal, innovator, fund_manager):
    made = set()
    draft = make_proposal(challenge)
    services.submit_proposal(actor=innovator, proposal=draft)
    made.add((S.DRAFT, S.SUBMITTED))
    services.withdraw_proposal(actor=innovator, proposal=draft)
    made.add((S.SUBMITTED, S.WITHDRAWN))
    db.session.commit()
    withdrawn_draft = make_proposal(challenge)
    services.withdraw_proposal(actor=innovator, proposal=withdrawn_draft)
    made.add((S.DRAFT, S.WITHDRAWN))
    db.session.commit()
    # declined -> submitted: an upheld appeal (review.appeals) sets the decline aside for a new review
    for path in ([S.SHORTLISTED, S.DECLINED, S.SHORTLISTED, S.AWARDED], [S.DECLINED, S.SUBMITTED], [S.AWARDED],
                 [S.SHORTLISTED, S.AWARDED]):
        proposal = make_proposal(make_challenge(city), submit=True)  # one live proposal per challenge
        made |= set(_walk(proposal, fund_manager, path))
    assert made == set(PROPOSAL_TRANSITIONS.pairs())


@pytest.mark.parametrize("before, after", [(S.WITHDRAWN, S.SUBMITTED), (S.AWARDED, S.DECLINED),
                                           (S.DECLINED, S.AWARDED), (S.DRAFT, S.AWARDED),
                                           (S.DRAFT, S.SHORTLISTED), (S.SUBMITTED, S.DRAFT)])
def test_a_move_outside_the_table_is_refused(challenge, make_proposal, fund_manager, before, after):
    proposal = make_proposal(challenge)
    proposal.status = before
    db.session.commit()
    assert not PROPOSAL_TRANSITIONS.allows(before, after)
    with pytest.raises(Conflict):
        set_proposal_status(proposal=proposal, to=after, actor=fund_manager)
    assert proposal.status == before


def test_final_statuses():
    assert PROPOSAL_TRANSITIONS.final == {S.WITHDRAWN, S.AWARDED}
