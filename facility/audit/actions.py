"""What each audit action means, in words: the audit pages lead with these and show the action's code
beside them (auditors search by code). Every action the code records has a label here (a test checks).

Also the words for the kinds of object a record is about (`object_type`, a model's class name).
"""
from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

ACTION_LABELS: dict[str, Any] = {
    # accounts
    "api_token.issued": _l("API token issued"),
    "api_token.revoked": _l("API token revoked"),
    "approval_limit_request.approved": _l("Approval limit request approved"),
    "approval_limit_request.created": _l("Approval limit requested"),
    "approval_limit_request.rejected": _l("Approval limit request rejected"),
    "approval_limit_request.withdrawn": _l("Approval limit request withdrawn"),
    "organization.updated": _l("Organisation details changed"),
    "passkey.refused": _l("Passkey refused"),
    "passkey.registered": _l("Passkey added"),
    "passkey.removed": _l("Passkey removed"),
    "passkey.used": _l("Signed in with a passkey"),
    "role_request.approved": _l("Role request approved"),
    "role_request.created": _l("Role requested"),
    "role_request.rejected": _l("Role request rejected"),
    "role_request.withdrawn": _l("Role request withdrawn"),
    "user.approval_limit_changed": _l("Approval limit changed"),
    "user.created": _l("Account created"),
    "user.deactivated": _l("Account deactivated"),
    "user.mfa_disabled": _l("Two-step sign-in turned off"),
    "user.mfa_enabled": _l("Two-step sign-in turned on"),
    "user.mfa_enrolment_started": _l("Two-step sign-in set-up started"),
    "user.mfa_recovery_codes_replaced": _l("Recovery codes replaced"),
    "user.password_changed": _l("Password changed"),
    "user.password_reset_requested": _l("Password reset asked for"),
    "user.reactivated": _l("Account reactivated"),
    "user.recovery_code_used": _l("Recovery code used"),
    "user.roles_changed": _l("Roles changed"),
    "user.second_factor_failed": _l("Wrong sign-in code"),
    "user.sessions_ended": _l("Signed out everywhere"),
    "user.sign_in_failed": _l("Sign-in failed"),
    "user.signed_in": _l("Signed in"),
    "user.signed_out": _l("Signed out"),
    "user.signed_up": _l("Signed up"),
    "user.step_up": _l("Identity confirmed again"),
    # cities and challenges
    "city.created": _l("City added"),
    "city.updated": _l("City details changed"),
    "city.verified": _l("City verified"),
    "challenge.approved": _l("Challenge approved"),
    "challenge.created": _l("Challenge drafted"),
    "challenge.deadline_extended": _l("Challenge deadline extended"),
    "challenge.finished": _l("Challenge finished"),
    "challenge.invited": _l("Organisation invited to the next stage"),
    "challenge.pool_released": _l("Prize pool released"),
    "challenge.returned": _l("Challenge sent back to the city"),
    "challenge.stage_added": _l("Next stage of a challenge drafted"),
    "challenge.submitted": _l("Challenge sent for approval"),
    "challenge.updated": _l("Challenge changed"),
    "clarification.answered": _l("Question answered"),
    "clarification.asked": _l("Question asked"),
    # proposals and review
    "proposal.attachment_added": _l("Attachment added to a proposal"),
    "proposal.attachment_deleted": _l("Attachment removed from a proposal"),
    "proposal.created": _l("Proposal drafted"),
    "proposal.indicator_added": _l("Indicator named for a milestone"),
    "proposal.indicator_removed": _l("Indicator removed from a milestone"),
    "proposal.status_changed": _l("Proposal status changed"),
    "proposal.submitted": _l("Proposal submitted"),
    "proposal.updated": _l("Proposal changed"),
    "proposal.withdrawn": _l("Proposal withdrawn"),
    "review.affiliation_added": _l("Affiliation declared"),
    "review.affiliation_removed": _l("Affiliation removed"),
    "review.appeal_dismissed": _l("Appeal dismissed"),
    "review.appeal_submitted": _l("Reconsideration asked for"),
    "review.appeal_upheld": _l("Appeal upheld"),
    "review.appeal_withdrawn": _l("Appeal withdrawn by the applicant"),
    "review.assigned": _l("Reviewers assigned"),
    "review.assignment_added": _l("Reviewer assigned"),
    "review.assignment_removed": _l("Reviewer unassigned"),
    "review.assignment_waived": _l("Review waived"),
    "review.conflict_declared": _l("Conflict of interest declared"),
    "review.decision_prepared": _l("Decision prepared"),
    "review.decision_released": _l("Decisions released"),
    "review.invitation_accepted": _l("Panel invitation accepted"),
    "review.panel_member_added": _l("Panel member added"),
    "review.reviewer_invited": _l("Reviewer invited"),
    "review.round_added": _l("Review round added"),
    "review.round_closed": _l("Review round closed"),
    "review.round_updated": _l("Review round changed"),
    "review.submitted": _l("Review submitted"),
    # money in, grants
    "contribution.card_received": _l("Card payment received"),
    "contribution.confirmed": _l("Bank transfer received"),
    "contribution.pledged": _l("Contribution pledged"),
    "grant.accepted": _l("Grant accepted by the grantee"),
    "grant.amended": _l("Grant amended"),
    "grant.amendment_approved": _l("Grant amendment approved"),
    "grant.amendment_proposed": _l("Grant amendment proposed"),
    "grant.amendment_rejected": _l("Grant amendment rejected"),
    "grant.award_approved": _l("Award approved"),
    "grant.award_override": _l("Awarded against the panel's decision"),
    "grant.awarded": _l("Grant awarded"),
    "grant.cancelled": _l("Grant cancelled"),
    "grant.completed": _l("Grant completed"),
    "grant.offered": _l("Grant offered"),
    "grant.refunded": _l("Money returned by the grantee"),
    "milestone.accepted": _l("Milestone report accepted"),
    "indicator.condition_set": _l("Payment condition of a tranche changed"),
    "indicator.rejected": _l("Indicator value rejected"),
    "indicator.reported": _l("Indicator value reported"),
    "indicator.verified": _l("Indicator value verified"),
    "milestone.public_summary": _l("Public summary of a milestone written"),
    "milestone.reported": _l("Milestone reported"),
    "milestone.returned": _l("Milestone report sent back"),
    "payout_account.changed": _l("Payout details changed"),
    "ledger.posted": _l("Booked in the ledger"),
    # money out
    "disbursement.approved": _l("Payment approved"),
    "disbursement.bank_details_revealed": _l("Bank details shown to a fund manager"),
    "disbursement.payout_failed": _l("The grantee's bank returned a payment"),
    "disbursement.swept": _l("Stalled payment queued again"),
    "disbursement.requested": _l("Payment requested"),
    "disbursement.queued": _l("Payment queued"),
    "disbursement.processing": _l("Payment being made"),
    "disbursement.awaiting_confirmation": _l("Payment waiting for the bank's confirmation"),
    "disbursement.retrying": _l("Payment to be tried again"),
    "disbursement.paid": _l("Payment made"),
    "disbursement.failed": _l("Payment failed"),
    "disbursement.cancelled": _l("Payment cancelled"),
    "stripe.event_ignored": _l("Message from Stripe ignored"),
    "stripe.event_refused": _l("Message from Stripe refused"),
    # solutions
    "solution.replication_started": _l("Replication of a solution started"),
}

OBJECT_LABELS: dict[str, Any] = {
    "Appeal": _l("Appeal"),
    "ApiToken": _l("API token"), "ApprovalLimitRequest": _l("Approval limit request"), "Challenge": _l("Challenge"),
    "City": _l("City"), "Clarification": _l("Question"), "Contribution": _l("Contribution"),
    "Disbursement": _l("Payment"), "Grant": _l("Grant"), "GrantAmendment": _l("Grant amendment"),
    "GrantRefund": _l("Refund"), "LedgerTransaction": _l("Ledger booking"), "MilestoneReport": _l("Milestone report"),
    "Organization": _l("Organisation"), "PasskeyCredential": _l("Passkey"), "PayoutAccount": _l("Payout details"),
    "Proposal": _l("Proposal"), "ReviewRound": _l("Review round"), "Review": _l("Review"),
    "ReviewerAffiliation": _l("Declared affiliation"), "Replication": _l("Replication of a solution"),
    "RoleGrantRequest": _l("Role request"), "StripeEvent": _l("Message from Stripe"), "User": _l("Account"),
}


def action_label(action: str | None) -> Any:
    """The words for an audit action; an action without a label (an old record's) reads "Other action"."""
    return ACTION_LABELS.get(action or "", _l("Other action"))


def object_label(object_type: str | None) -> Any:
    """The words for the kind of object a record is about; an unlisted kind is shown as recorded."""
    return OBJECT_LABELS.get(object_type or "", object_type or "")
