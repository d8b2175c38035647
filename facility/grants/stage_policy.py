"""Who may invite grantees of one stage of a staged prize into the next (`grants.stages`). `can_invite_to_stage`
is re-exported by `grants.policy`, so pages ask `may("grants.invite_to_stage", stage)` like any other
permission; `can_invite` (the same, for one grant) is asked by the service."""
from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

from facility.accounts.policy import fund_manager_refusal, is_fund_manager, role_refusal
from facility.challenges.models import Challenge, ChallengeStatus
from facility.challenges.policy import is_city_official
from facility.core.policy import Decision, conflict
from facility.grants.models import Grant
from facility.grants.stage_facts import advancement_problem


def can_invite_to_stage(user: Any, stage: Challenge) -> Decision:
    """Fund managers and the stage city's officials invite grantees of the previous stage into an
    invitation-only stage once it is published (approved and funded), until its deadline passes."""
    if not (is_city_official(user, stage) or is_fund_manager(user)):
        return role_refusal(user, _("Only fund managers and the city's officials invite organisations to a stage."))
    if not is_city_official(user, stage) and (refusal := fund_manager_refusal(user, "")) is not None:
        return refusal
    if stage.previous_stage_id is None or not stage.invitation_only:
        return conflict(_("Only an invitation-only stage that follows another takes invitations."))
    if stage.status in (ChallengeStatus.DRAFT, ChallengeStatus.PENDING_APPROVAL):
        # An invitation is e-mailed at once: nobody outside is told of a stage the facility has not approved.
        return conflict(_("Invitations open once the facility has approved and published this stage."))
    if stage.status != ChallengeStatus.PUBLISHED or stage.submissions_closed:
        return conflict(_("This stage no longer takes proposals, so no one can be invited to it."))
    return None


def can_invite(user: Any, grant: Grant, stage: Challenge) -> Decision:
    """`can_invite_to_stage`, and the grant may advance (`stage_facts.advancement_problem`)."""
    refusal = can_invite_to_stage(user, stage)
    if refusal is not None:
        return refusal
    problem = advancement_problem(grant, stage)
    return conflict(problem) if problem else None
