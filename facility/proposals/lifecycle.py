"""The one way any package changes a proposal's status (review's decisions, grants' awards, withdrawal)."""
from __future__ import annotations

from facility.accounts.models import User
from facility.audit.services import record
from facility.proposals.models import PROPOSAL_TRANSITIONS, Proposal, ProposalStatus


def set_proposal_status(*, proposal: Proposal, to: ProposalStatus, actor: User | None) -> ProposalStatus:
    """Rule: a proposal's status moves only along `PROPOSAL_TRANSITIONS` (409 otherwise).

    Setting the status it already has changes nothing (a second round may confirm a shortlist).
    The caller holds the proposal's row locked or owns it in this transaction; the move is
    audited with the status it replaced. Returns that status.
    """
    before = proposal.status
    if before == to:
        return before
    PROPOSAL_TRANSITIONS.move(proposal, to)
    record("proposal.status_changed", actor=actor, obj=proposal, details={"from": before.value, "to": to.value})
    return before
