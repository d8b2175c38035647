"""Awards above the approval threshold: fund managers approve them before the grant is offered.

An award above `AWARD_APPROVAL_ABOVE_CENTS` is born `pending_approval` (`awards.award_proposal` has
already moved the money from the prize pool to the grant's commitment, so the pool stays reserved).
Other fund managers approve it; `accounts.authority.approval_state` decides when enough approvals
count (the awarding fund manager is the requester and never counts, nobody counts twice, each
approval counts within the approver's limit). The last approval offers the grant and tells the
grantee. Refusing an award is cancelling its grant (another module's rule).

Every function enforces one rule (its docstring says which), takes the acting user as `actor=`,
flushes and never commits.
"""
from __future__ import annotations

from flask_babel import gettext as _

from facility.accounts.authority import approver_for
from facility.accounts.models import User
from facility.audit.services import record
from facility.core.database import lock_row
from facility.core.policy import require
from facility.extensions import db
from facility.grants.awards import tell_grantee_awarded
from facility.grants.models import GRANT_TRANSITIONS, Grant, GrantApproval, GrantStatus
from facility.grants.policy import award_approval_state, can_approve_award, step_up_to_approve_award


def approve_award(*, grant: Grant, actor: User) -> Grant:
    """Rule: `policy.can_approve_award`: a fund manager other than the one who awarded approves an award
    awaiting approval, once, within their limit (with a fresh second factor when the tier needs more than
    one approval: `policy.step_up_to_approve_award`); once the tier's approvals count, the grant is offered
    and the grantee told.

    The grant's row is locked first, so two approvals at once are counted one after the other.
    """
    require(can_approve_award(actor, grant))  # the role before taking a lock
    grant = lock_row(Grant, grant.id, missing=_("Not found."))
    db.session.refresh(grant, attribute_names=["award_approvals"])
    require(can_approve_award(actor, grant))
    require(step_up_to_approve_award(actor, grant))
    limit = approver_for(actor).limit_cents
    grant.award_approvals.append(GrantApproval(approver_id=actor.id, limit_cents=limit))
    db.session.flush()
    state = award_approval_state(grant)
    record("grant.award_approved", actor=actor, obj=grant, details={
        "amount_cents": grant.amount_cents, "limit_cents": limit, "counted": len(state.counted),
        "required": state.tier.approvals, "missing": state.missing})
    if state.complete:
        GRANT_TRANSITIONS.move(grant, GrantStatus.OFFERED)
        record("grant.offered", actor=actor, obj=grant, details={"approvals": [a.user_id for a in state.counted]})
        tell_grantee_awarded(grant)
    db.session.flush()
    return grant
