"""Appeals: an applicant asks for reconsideration of a released decision; an impartial fund manager decides.

- Only a released decision to decline a proposal is appealable (`policy.can_appeal`): a shortlist or an
  award recommendation leaves the applicant nothing to appeal. The window is `APPEAL_WINDOW_DAYS` days
  (default 14) from the decision's release; each decision may be appealed once (a unique constraint).
- The grounds are one of `AppealGrounds` (procedural error, undeclared conflict of interest, factual error),
  with a statement.
- A fund manager who took no part in the decision (`appeal_facts.took_part`: did not prepare or release it,
  does not sit on the challenge's panel, was never assigned the proposal) decides it, with reasons the
  applicant reads: dismissed (the decision stands) or upheld.
- Upheld, the decision is set aside (`Decision.set_aside_at`) and the proposal returns from declined to
  submitted through `proposals.lifecycle.set_proposal_status` (the table allows that move for this). It is
  then an ordinary submitted proposal awaiting a decision: the fund managers assign a new reviewer through
  the existing assignment flow (a closed round is reopened by giving it new dates), and prepare and release
  a new decision as for any other proposal (`review.decisions`); releasing waits for that review.
- While it awaits a decision, a member of the applicant organisation may withdraw it (`withdraw_appeal`); the
  decision then stands and, appealed once, is not appealed again.
- The applicant organisation's members are e-mailed the outcome after commit (`core.notify`) and read it,
  with the reasons, on the appeal's page. Every step is audited.
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from facility.accounts.models import User
from facility.audit.services import record
from facility.core.database import lock_row
from facility.core.errors import ValidationFailed
from facility.core.inputs import COMMENT_CHARS, REASON_CHARS, clean_text
from facility.core.models import utcnow
from facility.core.notify import notify
from facility.core.policy import require
from facility.extensions import db
from facility.proposals.lifecycle import set_proposal_status
from facility.proposals.models import Proposal, ProposalStatus
from facility.review import facts, policy
from facility.review.decisions import applicant_members
from facility.review.models import APPEAL_TRANSITIONS, Appeal, AppealGrounds, AppealStatus

OUTCOMES = (AppealStatus.UPHELD, AppealStatus.DISMISSED)


def _refuse_role_first(refusal: Any) -> None:
    """Raise a refusal that is not about the object's state (the role, the person) before the input is read."""
    if refusal is not None and not refusal.is_state:
        refusal.raise_()


def _choice(value: Any, enum_class: Any, allowed: Any, field: str, message: str) -> Any:
    try:
        chosen = enum_class(value)
    except ValueError:
        chosen = None
    if chosen not in allowed:
        raise ValidationFailed(_("Some fields need your attention."), errors={field: [message]})
    return chosen


def submit_appeal(*, actor: User, proposal: Proposal, grounds: Any, statement: str) -> Appeal:
    """Rule: a member of the applicant organisation appeals the proposal's released decline once, within
    `APPEAL_WINDOW_DAYS` days of its release, on one of the stated grounds with a statement."""
    refusal = policy.can_appeal(actor, proposal)
    _refuse_role_first(refusal)
    chosen = _choice(grounds, AppealGrounds, tuple(AppealGrounds), "grounds",
                     _("Choose procedural error, undeclared conflict of interest or factual error."))
    statement = clean_text(statement, "statement", limit=COMMENT_CHARS, required=True, multiline=True)
    require(refusal)
    decision = facts.latest_released_decision(proposal)
    assert decision is not None  # the policy checked it
    appeal = Appeal(decision_id=decision.id, proposal_id=proposal.id, organization_id=proposal.organization_id,
                    applicant_id=actor.id, grounds=chosen, statement=statement, status=AppealStatus.SUBMITTED)
    db.session.add(appeal)
    db.session.flush()
    record("review.appeal_submitted", actor=actor, obj=appeal,
           details={"proposal_id": proposal.id, "decision_id": decision.id, "grounds": chosen.value})
    return appeal


def decide_appeal(*, actor: User, appeal: Appeal, outcome: Any, reasons: str) -> Appeal:
    """Rule: a fund manager who took no part in the decision upholds or dismisses an open appeal, with
    reasons; upheld sets the decision aside and returns the proposal to review. The applicant is told."""
    refusal = policy.can_handle_appeal(actor, appeal)
    _refuse_role_first(refusal)
    to = _choice(outcome, AppealStatus, OUTCOMES, "outcome", _("Choose upheld or dismissed."))
    reasons = clean_text(reasons, "reasons", limit=REASON_CHARS, required=True, multiline=True)
    appeal = lock_row(Appeal, appeal.id, missing=_("No such appeal."))
    require(policy.can_handle_appeal(actor, appeal))
    APPEAL_TRANSITIONS.move(appeal, to)
    now = utcnow()
    appeal.handler_id = actor.id
    appeal.outcome_reasons = reasons
    appeal.decided_at = now
    proposal = appeal.proposal
    if to == AppealStatus.UPHELD:
        appeal.decision.set_aside_at = now
        set_proposal_status(proposal=proposal, to=ProposalStatus.SUBMITTED, actor=actor)
    db.session.flush()
    record(f"review.appeal_{to.value}", actor=actor, obj=appeal,
           details={"proposal_id": proposal.id, "decision_id": appeal.decision_id, "reasons": reasons})
    notify(applicant_members({proposal.organization_id}).get(proposal.organization_id, []),
           "review/appeal_decided", proposal=proposal, appeal=appeal)
    return appeal


def withdraw_appeal(*, actor: User, appeal: Appeal) -> Appeal:
    """Rule: a member of the applicant organisation withdraws its appeal while it awaits a decision; the
    decision stands. Nobody is e-mailed (the fund managers' queue no longer lists it as open)."""
    require(policy.can_withdraw_appeal(actor, appeal))
    appeal = lock_row(Appeal, appeal.id, missing=_("No such appeal."))
    require(policy.can_withdraw_appeal(actor, appeal))
    APPEAL_TRANSITIONS.move(appeal, AppealStatus.WITHDRAWN)
    appeal.withdrawn_at = utcnow()
    db.session.flush()
    record("review.appeal_withdrawn", actor=actor, obj=appeal,
           details={"proposal_id": appeal.proposal_id, "decision_id": appeal.decision_id})
    return appeal


def appeal_counts() -> dict[str, int]:
    """For the results framework: appeals submitted (all of them), upheld, dismissed, withdrawn, still open."""
    rows = {AppealStatus(status): int(n) for status, n in db.session.execute(
        sa.select(Appeal.status, sa.func.count(Appeal.id)).group_by(Appeal.status)).all()}
    counts = {status.value: rows.get(status, 0) for status in AppealStatus}
    return {"submitted": sum(counts.values()), "upheld": counts[AppealStatus.UPHELD.value],
            "dismissed": counts[AppealStatus.DISMISSED.value], "withdrawn": counts[AppealStatus.WITHDRAWN.value],
            "open": counts[AppealStatus.SUBMITTED.value]}
