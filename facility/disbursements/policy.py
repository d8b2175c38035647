"""Who may do what with disbursements, and when: one function per action, role and state.

Each `can_<action>(user, obj)` returns None when allowed or a `Refusal` saying why not (403 for
the wrong person, 409 for the wrong moment). The pages, the API handlers and the services
(`disbursements.requests`) all ask the same function; templates ask `may("disbursements.<action>", d)`.

Visibility is the loader's business (`queries.get_visible_disbursement` uses `can_view`: 404 for
those who may not know the disbursement exists), so the functions below assume a visible object.
"""
from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

from facility.accounts.authority import (
    ApprovalState,
    Approver,
    approval_refusal,
    approval_state,
    approver_for,
    senior_limit_cents,
    tier_for,
)
from facility.accounts.factors import require_fresh_factor
from facility.accounts.policy import reads_everything, require_fund_manager
from facility.core.labels import label
from facility.core.policy import Decision, conflict, first, forbidden, hidden
from facility.disbursements.models import DISBURSEMENT_TRANSITIONS, Disbursement, DisbursementStatus
from facility.grants.models import GrantStatus, PayoutRail, Tranche, TrancheStatus
from facility.grants.policy import can_view_grant, payment_condition

S = DisbursementStatus


def can_view(user: Any, disbursement: Disbursement) -> Decision:
    """Who sees a disbursement and its timeline: whoever sees its grant's full record (grantee, staff)."""
    if can_view_grant(user, disbursement.grant) is None:
        return None
    return hidden(_("No disbursement %(id)s.", id=disbursement.id))


def can_view_queue(user: Any) -> Decision:
    """The queue of every disbursement: fund managers, admins and auditors."""
    return None if reads_everything(user) else forbidden(
        _("Only fund managers, administrators and auditors see the payment queue."))


def can_see_approvers(user: Any, disbursement: Disbursement) -> Decision:
    """Who approved a payment: fund managers, admins and auditors (the grantee sees only how many)."""
    return None if reads_everything(user) else forbidden(_("Only the facility's staff and auditors see who approved."))


def can_manage(user: Any, disbursement: Disbursement | None = None) -> Decision:
    """Fund managers act on payments and see who approved and the finance team's instruction.

    Every action below starts with this check; each adds its own rule about the person and the state.
    """
    return require_fund_manager(user)


def can_request(user: Any, tranche: Tranche) -> Decision:
    """A fund manager asks to pay a tranche of an active grant whose milestone evidence was accepted,
    once the grantee has given payout details, and, when its payment depends on an indicator, once that
    indicator's latest verified value reaches its target (`grants.policy.payment_condition`)."""
    grant = tranche.grant

    def grant_active() -> Decision:
        if grant.status is not GrantStatus.ACTIVE:
            return conflict(_("Only tranches of an active grant (agreement accepted) can be paid."))
        return None

    def evidence_accepted() -> Decision:
        if tranche.status is not TrancheStatus.ACCEPTED:
            return conflict(_("This tranche cannot be paid now: its milestone evidence must be accepted first, "
                              "and it must not be paid or being paid already."))
        return None

    def payout_details() -> Decision:
        return None if grant.payout_account is not None else conflict(
            _("The grantee has not given payout details yet."))

    return first(lambda: can_manage(user), grant_active, evidence_accepted, lambda: payment_condition(tranche),
                 payout_details)


def approvers_of(disbursement: Disbursement, *, names: bool = True) -> list[Approver]:
    """The recorded approvals as `accounts.authority` approvers, each with the limit they held when approving
    (`names=False` leaves the approvers' users unloaded, for lists)."""
    senior = senior_limit_cents()
    return [Approver(user_id=approval.approver_id, limit_cents=approval.limit_cents,
                     senior=approval.limit_cents >= senior,
                     name=(approval.approver.name or approval.approver.email) if names else "")
            for approval in disbursement.approvals]


def approvals_state(disbursement: Disbursement, *, names: bool = True) -> ApprovalState:
    """Where the disbursement's approval stands (`accounts.authority.approval_state`): its tier, who counts, how
    many more are needed and why. It is queued for payment when the state is complete."""
    return approval_state(amount_cents=disbursement.amount_cents, requester_id=disbursement.requested_by_id,
                          approvers=approvers_of(disbursement, names=names))


def why_approval_would_not_count(user: Any, disbursement: Disbursement) -> str | None:
    """Why `user`'s approval would not bring the disbursement closer to approved (`accounts.authority
    .approval_refusal`: the requester, a second approval, above their limit, not senior), None when it would.
    `can_approve` refuses on it; the approval-needed e-mails and reminders go only to those whose approval counts."""
    return approval_refusal(amount_cents=disbursement.amount_cents, requester_id=disbursement.requested_by_id,
                            approvers=approvers_of(disbursement, names=False), candidate=approver_for(user))


def can_approve(user: Any, disbursement: Disbursement) -> Decision:
    """Four eyes and authority limits: a fund manager other than the requester approves a requested
    disbursement, once, and only when their approval counts (`accounts.authority.approval_refusal`: within
    their personal limit, and a senior limit when only senior approvals are missing).

    An approval that would not count is refused (403, with the reason: the page shows it instead of the
    button), never recorded. With the tier's approvals (`APPROVAL_TIERS`) it is queued for payment.
    """
    def not_the_requester() -> Decision:
        if user.id == disbursement.requested_by_id:
            return forbidden(_("You requested this payment; another fund manager must approve it."))
        return None

    def awaiting_approval() -> Decision:
        if disbursement.status is not S.REQUESTED:
            return conflict(_("Disbursement %(id)s is %(status)s, not awaiting approval.", id=disbursement.id,
                              status=label(disbursement.status)))
        return None

    def not_approved_yet() -> Decision:
        if any(approval.approver_id == user.id for approval in disbursement.approvals):
            return conflict(_("You have already approved this disbursement; another fund manager must approve "
                              "it too."))
        return None

    def within_authority() -> Decision:
        reason = why_approval_would_not_count(user, disbursement)
        return None if reason is None else forbidden(reason)

    return first(lambda: can_manage(user, disbursement), awaiting_approval, not_the_requester, not_approved_yet,
                 within_authority)


def can_cancel(user: Any, disbursement: Disbursement) -> Decision:
    """A fund manager cancels a disbursement before a worker takes it (requested or queued, as the table says)."""
    def before_processing() -> Decision:
        if not DISBURSEMENT_TRANSITIONS.allows(disbursement.status, S.CANCELLED):
            return conflict(_("Disbursement %(id)s is %(status)s and can no longer be cancelled.",
                              id=disbursement.id, status=label(disbursement.status)))
        return None

    return first(lambda: can_manage(user, disbursement), before_processing)


def can_requeue(user: Any, disbursement: Disbursement) -> Decision:
    """A fund manager queues a failed disbursement again, to the grant's current payout account."""
    def failed() -> Decision:
        if disbursement.status is not S.FAILED:
            return conflict(_("Only a failed disbursement can be re-queued; this one is %(status)s.",
                              status=label(disbursement.status)))
        return None

    def payout_details() -> Decision:
        return None if disbursement.grant.payout_account is not None else conflict(
            _("The grantee has not given payout details yet."))

    def grant_active() -> Decision:  # a cancelled grant's failed payment is never paid
        return None if disbursement.grant.status is GrantStatus.ACTIVE else conflict(
            _("Only a payment of an active grant can be re-queued; this grant is %(status)s.",
              status=label(disbursement.grant.status)))

    return first(lambda: can_manage(user, disbursement), failed, grant_active, payout_details)


def _awaiting_confirmation(disbursement: Disbursement) -> Decision:
    if disbursement.status is not S.AWAITING_CONFIRMATION:
        return conflict(_("Disbursement %(id)s is %(status)s, not awaiting a bank confirmation.",
                          id=disbursement.id, status=label(disbursement.status)))
    return None


def can_confirm(user: Any, disbursement: Disbursement) -> Decision:
    """Manual rail: a fund manager confirms the bank transfer with its reference while it awaits confirmation;
    separation of duties: the confirmer is neither the requester nor an approver of this disbursement."""
    def third_person() -> Decision:
        if user.id == disbursement.requested_by_id:
            return forbidden(_("You requested this payment; a fund manager who neither requested nor approved it "
                               "confirms the bank reference."))
        if any(approval.approver_id == user.id for approval in disbursement.approvals):
            return forbidden(_("You approved this payment; a fund manager who neither requested nor approved it "
                               "confirms the bank reference."))
        return None

    return first(lambda: can_manage(user, disbursement), lambda: _awaiting_confirmation(disbursement), third_person)


def can_reveal_bank_details(user: Any, disbursement: Disbursement) -> Decision:
    """Manual rail: a fund manager reveals the full bank details of the payment instruction while the payment
    awaits the finance team's transfer (the service also asks a fresh second factor and audits each reveal)."""
    def manual_instruction() -> Decision:
        if disbursement.rail is not PayoutRail.MANUAL or disbursement.payout_account_id is None:
            return conflict(_("Only a bank or mobile-money payment has bank details to reveal."))
        return _awaiting_confirmation(disbursement)

    return first(lambda: can_manage(user, disbursement), manual_instruction)


def approval_needs_step_up(disbursement: Disbursement) -> bool:
    """Approving a payment whose tier needs more than one approval asks for a fresh second factor."""
    return tier_for(disbursement.amount_cents).approvals > 1


def step_up_to_approve(user: Any, disbursement: Disbursement) -> Decision:
    """Step-up for `can_approve` (kept apart so the page still shows the button): when the amount's tier needs
    more than one approval, the approver must have proved a second factor in the last few minutes."""
    return require_fresh_factor(user) if approval_needs_step_up(disbursement) else None


def can_fail(user: Any, disbursement: Disbursement) -> Decision:
    """Manual rail: a fund manager records that the bank refused the transfer, while it awaits confirmation."""
    return first(lambda: can_manage(user, disbursement), lambda: _awaiting_confirmation(disbursement))
