"""Staged prizes: advancing a grantee of one stage into the next, by invitation.

A stage is a challenge (`challenges.stages`); an invitation-only stage takes proposals only from the
organisations invited to it (`proposals.policy.invitation_refusal`). Services flush but never commit.
"""
from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

from facility.accounts.models import User
from facility.audit.services import record
from facility.challenges.models import Challenge, ChallengeInvitation
from facility.challenges.services import lock_challenge
from facility.core.errors import ValidationFailed
from facility.core.inputs import REASON_CHARS, clean_text
from facility.core.notify import notify
from facility.core.policy import require
from facility.extensions import db
from facility.grants import stage_policy
from facility.grants.models import Grant
from facility.grants.queries import grantee_members


def _reason(value: Any) -> str:
    if value is not None and not isinstance(value, str):
        raise ValidationFailed(_("Say why."), errors={"reason": [_("Give text.")]})
    reason = clean_text(value or "", "reason", limit=REASON_CHARS, multiline=True)
    if not reason:
        raise ValidationFailed(_("Say why."), errors={
            "reason": [_("Say why the organisation advances; it is shown on the stage's public page.")]})
    return reason


def invite_to_next_stage(*, actor: User, grant: Grant, next_stage: Challenge, reason: Any) -> ChallengeInvitation:
    """Rule `stage_policy.can_invite`: a fund manager or the stage city's official invites the organisation of a
    grant of the previous stage into the invitation-only `next_stage`, once, when every milestone of that
    grant that is not cancelled was accepted; with a public reason. Audited; the organisation's members are
    e-mailed (after commit)."""
    require(stage_policy.can_invite_to_stage(actor, next_stage))  # the role before the lock
    next_stage = lock_challenge(next_stage)  # two invitations of one organisation: one waits
    require(stage_policy.can_invite(actor, grant, next_stage))
    clean = _reason(reason)
    invitation = ChallengeInvitation(challenge_id=next_stage.id, organization_id=grant.organization_id,
                                     source_grant_id=grant.id, reason=clean, invited_by_id=actor.id)
    db.session.add(invitation)
    db.session.flush()
    record("challenge.invited", actor=actor, obj=invitation, details={
        "challenge_id": next_stage.id, "organization_id": grant.organization_id, "grant_id": grant.id,
        "reason": clean})
    members = grantee_members({grant.organization_id}).get(grant.organization_id, [])
    notify(members, "grants/invited_to_stage", grant=grant, stage=next_stage, reason=clean)
    return invitation
