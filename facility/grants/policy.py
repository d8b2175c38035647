"""Who may do what with contributions, grants, tranches, payout details and milestone reports, and when.

One `can_<action>(user, obj) -> Refusal | None` per action, covering the role and the object's
state. Services call it first on the locked row (`require(...)`); pages and the API call the same
function; templates ask `may("grants.<action>", obj)`.
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import format_datetime, ngettext
from flask_babel import gettext as _

from facility.accounts.authority import ApprovalState, Approver, approval_state, approver_for
from facility.accounts.factors import require_fresh_factor
from facility.accounts.models import Role
from facility.accounts.policy import (
    fund_manager_refusal,
    has_role,
    is_member_of,
    is_signed_in,
    reads_everything,
    role_refusal,
)
from facility.challenges import policy as challenge_policy
from facility.challenges.funding import COFUNDABLE_STATUSES
from facility.challenges.models import Challenge, ChallengeStatus, Phase
from facility.challenges.policy import is_city_official
from facility.core.labels import label
from facility.core.policy import Decision, conflict, first, forbidden, hidden
from facility.core.templating import money
from facility.extensions import db
from facility.grants.amendment_models import OPEN_AMENDMENT_STATUSES, AmendmentStatus, GrantAmendment
from facility.grants.models import (
    GRANT_TRANSITIONS,
    Contribution,
    ContributionMethod,
    ContributionStatus,
    EvidenceFile,
    Grant,
    GrantApproval,
    GrantStatus,
    MilestoneReport,
    ReportStatus,
    Tranche,
    TrancheStatus,
)
from facility.grants.paid import net_paid_cents
from facility.grants.stage_policy import can_invite_to_stage as can_invite_to_stage  # staged prizes (the rules)
from facility.proposals.models import Proposal, ProposalStatus
from facility.review.facts import latest_released_decision
from facility.review.models import DecisionKind

AWARDABLE_STATUSES = (ProposalStatus.SUBMITTED, ProposalStatus.SHORTLISTED)
"""A proposal still in the competition, awaiting a decision."""
PAYABLE_GRANT_STATUSES = (GrantStatus.OFFERED, GrantStatus.ACTIVE)
"""A grant whose payout details may still be given or changed."""


# --- who a user is, for a grant ----------------------------------------------------------

def acts_for_grantee(user: Any, grant: Grant) -> bool:
    """An innovator of the grantee organisation: accepts, gives payout details, reports milestones."""
    return is_member_of(user, grant.organization_id) and has_role(user, Role.INNOVATOR)


def _grantee_only(user: Any, grant: Grant, message: str) -> Decision:
    return None if acts_for_grantee(user, grant) else role_refusal(user, message)


def _fund_managers_only(user: Any, message: str) -> Decision:
    return fund_manager_refusal(user, message)


# --- contributions ---------------------------------------------------------------------------

def can_pledge(user: Any, _obj: Any = None) -> Decision:
    """Donors pledge contributions."""
    if not is_signed_in(user):
        return forbidden(_("Please sign in with a donor account to pledge."))
    if not has_role(user, Role.DONOR):
        return role_refusal(user, _("Only donors pledge contributions; sign in with a donor account."))
    return None


def can_cofund(user: Any, challenge: Challenge) -> Decision:
    """Donors, and the officials of the challenge's own city, co-fund a challenge they can see that is
    waiting for approval or published (a contribution earmarked for it); a challenge they may not see
    does not exist for them."""
    if not is_signed_in(user):
        return forbidden(_("Please sign in with a donor or city account to co-fund a challenge."))
    if not (is_city_official(user, challenge) or has_role(user, Role.DONOR)):
        return role_refusal(user, _("Only donors and the city's officials co-fund a challenge."))
    return first(
        lambda: challenge_policy.can_view(user, challenge),
        lambda: None if challenge.status in COFUNDABLE_STATUSES else conflict(
            _("Only a challenge waiting for approval or published can be co-funded; this one is %(status)s.",
              status=label(challenge.status))),
    )


def can_view_attribution(user: Any, _obj: Any = None) -> Decision:
    """Donors, and cities' officials (who may co-fund), see which grants their own contributions paid for."""
    if not is_signed_in(user):
        return forbidden(_("Please sign in with a donor account to see where your money went."))
    if not (has_role(user, Role.DONOR) or has_role(user, Role.CITY_OFFICIAL)):
        return role_refusal(user, _("Only donors and cities' officials have contributions to follow."))
    return None


def can_view_contribution(user: Any, contribution: Contribution) -> Decision:
    """The pledging donor, their organisation, staff and auditors see a contribution; others may not know it exists."""
    if reads_everything(user) or is_member_of(user, contribution.donor_organization_id):
        return None
    if is_signed_in(user) and user.id == contribution.pledged_by_id:
        return None
    return hidden(_("No contribution %(id)s.", id=contribution.id))


def can_download_receipt(user: Any, contribution: Contribution) -> Decision:
    """Whoever sees a contribution (the donor, their organisation, staff) downloads its receipt, once the
    money was received; a pledge not yet received has none."""
    return first(
        lambda: can_view_contribution(user, contribution),
        lambda: None if contribution.status == ContributionStatus.RECEIVED else conflict(
            _("A receipt is issued once the contribution is received; this one is %(status)s.",
              status=label(contribution.status))),
    )


def can_confirm_contribution(user: Any, contribution: Contribution) -> Decision:
    """Fund managers confirm a pledged wire's receipt, once; card payments confirm themselves."""
    return first(
        lambda: _fund_managers_only(user, _("Only fund managers confirm contributions.")),
        lambda: None if contribution.method == ContributionMethod.WIRE else conflict(
            _("Only wire transfers are confirmed by hand; card payments confirm themselves.")),
        lambda: None if contribution.status == ContributionStatus.PLEDGED else conflict(
            _("Contribution %(ref)s is already %(status)s.", ref=contribution.reference,
              status=label(contribution.status))),
    )


def can_see_money_queues(user: Any, _obj: Any = None) -> Decision:
    """Fund managers see the wires to confirm and the milestone reports to review; auditors read them
    (every action in them stays the fund managers')."""
    if has_role(user, Role.AUDITOR):
        return None
    return _fund_managers_only(user, _("Only fund managers see the facility's work queues."))


# --- awards and prize pools --------------------------------------------------------------------

def _challenge_over(challenge: Challenge, message: str) -> Decision:
    if challenge.status == ChallengeStatus.FINISHED or challenge.phase == Phase.CLOSED:
        return None
    return conflict(message)


def can_award(user: Any, proposal: Proposal, *, overriding: bool = False) -> Decision:
    """Fund managers award a submitted or shortlisted proposal once its challenge has closed, once, and only
    when the panel's released decision selects it (`panel_selects`), unless `overriding` (the service then
    asks for a written reason: `award_override_refusal`)."""
    return first(
        lambda: _fund_managers_only(user, _("Only fund managers award grants.")),
        lambda: conflict(_("This proposal has already been awarded."))
        if proposal.status == ProposalStatus.AWARDED else None,
        lambda: None if proposal.status in AWARDABLE_STATUSES else conflict(
            _("Only submitted or shortlisted proposals can be awarded; this one is %(status)s.",
              status=label(proposal.status))),
        lambda: _challenge_over(proposal.challenge, _("Awards are made after the challenge closes on %(date)s.",
                                                      date=format_datetime(proposal.challenge.closes_at, "medium"))),
        lambda: None if overriding or panel_selects(proposal) else conflict(panel_refusal_reason()),
    )


# --- award governance: the award follows the panel; awards above the threshold are approved ---------------

def can_award_overriding(user: Any, proposal: Proposal) -> Decision:
    """`can_award` with a written reason to override the panel: every rule but the panel's selection (the
    pages link to the award form with it; the form asks for the reason when the panel did not select)."""
    return can_award(user, proposal, overriding=True)


DEFAULT_AWARD_APPROVAL_ABOVE_CENTS = 5_000_000  # USD 50,000
AWARD_OVERRIDE_MIN_CHARS = 20
"""An override's written reason: at least this many characters (a sentence, not "ok")."""


def panel_refusal_reason() -> str:
    """Why an award needs an override (translated when asked)."""
    return str(_("The panel's released decision does not select this proposal; give a reason to override."))


def panel_selects(proposal: Proposal) -> bool:
    """The proposal's latest released panel decision is an award recommendation."""
    decision = latest_released_decision(proposal)
    return decision is not None and decision.kind == DecisionKind.AWARD_RECOMMENDATION


def award_approval_above_cents() -> int:
    """`AWARD_APPROVAL_ABOVE_CENTS` (default USD 50,000): awards above it wait for approval before the offer."""
    return int(current_app.config.get("AWARD_APPROVAL_ABOVE_CENTS", DEFAULT_AWARD_APPROVAL_ABOVE_CENTS))


def award_needs_approval(amount_cents: int) -> bool:
    return amount_cents > award_approval_above_cents()


def award_has_approvals(grant: Grant) -> bool:
    """The grant's award went (or goes) through approval: it awaits approval, or approvals were given."""
    return grant.status == GrantStatus.PENDING_APPROVAL or bool(grant.award_approvals)


def award_approval_state(grant: Grant) -> ApprovalState:
    """Where the award's approval stands (`accounts.authority.approval_state`): the awarding fund manager is
    the requester; each approval counts with the limit its approver held when approving."""
    approvers = [_approver(approval) for approval in grant.award_approvals]
    return approval_state(amount_cents=grant.amount_cents, requester_id=grant.awarded_by_id, approvers=approvers)


def _approver(approval: GrantApproval) -> Approver:
    return approver_for(approval.approver, limit_cents=approval.limit_cents)


def can_approve_award(user: Any, grant: Grant) -> Decision:
    """A fund manager other than the one who awarded approves an award awaiting approval, once, within their
    approval limit (and with a senior limit when only senior approvals are missing)."""
    def awaiting() -> Decision:
        return None if grant.status == GrantStatus.PENDING_APPROVAL else conflict(
            _("This grant is %(status)s, not awaiting approval.", status=label(grant.status)))

    def not_the_requester() -> Decision:
        return forbidden(_("You awarded this grant; other fund managers approve it.")) \
            if user.id == grant.awarded_by_id else None

    def not_twice() -> Decision:
        return conflict(_("You have already approved this award; another fund manager must approve it too.")) \
            if any(approval.approver_id == user.id for approval in grant.award_approvals) else None

    def within_limit() -> Decision:
        me = approver_for(user)
        if grant.amount_cents > me.limit_cents:
            return forbidden(_("This award of %(amount)s is above your approval limit of %(limit)s; a fund manager "
                               "with a higher limit must approve it.", amount=money(grant.amount_cents),
                               limit=money(me.limit_cents)))
        state = award_approval_state(grant)
        if not me.senior and state.missing and state.missing <= state.missing_senior:
            return forbidden(_("The approvals still missing must come from a senior limit; yours is %(limit)s.",
                               limit=money(me.limit_cents)))
        return None

    return first(lambda: _fund_managers_only(user, _("Only fund managers approve awards.")), awaiting,
                 not_the_requester, not_twice, within_limit)


def step_up_to_approve_award(user: Any, grant: Grant) -> Decision:
    """Step-up for `can_approve_award` (apart, so the page still shows the button): when the award's tier needs
    more than one approval, the approver must have proved a second factor in the last few minutes."""
    return require_fresh_factor(user) if award_approval_state(grant).tier.approvals > 1 else None


def can_see_award_approvers(user: Any, grant: Grant) -> Decision:
    """Who approved an award: staff and auditors (the grantee sees how many, and why)."""
    return None if reads_everything(user) else forbidden(_("Only the facility's staff and auditors see who approved."))


def pending_decisions(challenge: Challenge) -> int:
    """Proposals of `challenge` still awaiting an award or a decline."""
    count = db.session.execute(
        sa.select(sa.func.count(Proposal.id)).where(Proposal.challenge_id == challenge.id,
                                                    Proposal.status.in_(AWARDABLE_STATUSES))
    ).scalar_one()
    return int(count)


def _no_pending_decisions(challenge: Challenge) -> Decision:
    if challenge.status == ChallengeStatus.FINISHED:
        return None
    pending = pending_decisions(challenge)
    if pending:
        return conflict(ngettext("%(n)s proposal still awaits a decision; award or decline it first.",
                                 "%(n)s proposals still await a decision; award or decline them first.", pending, n=pending))
    return None


def can_release_pool(user: Any, challenge: Challenge) -> Decision:
    """Fund managers return a challenge's unused prize pool once the challenge is over: finished, or
    closed with no proposal awaiting a decision. (Whether anything is left is the service's question.)"""
    return first(
        lambda: _fund_managers_only(user, _("Only fund managers release prize pools.")),
        lambda: _challenge_over(challenge, _("The challenge is not over yet.")),
        lambda: _no_pending_decisions(challenge),
    )


# --- grants ------------------------------------------------------------------------------------

def can_view_grant(user: Any, grant: Grant) -> Decision:
    """The grantee organisation, staff and auditors see a grant's full record (the public see the register)."""
    if reads_everything(user) or is_member_of(user, grant.organization_id):
        return None
    return hidden(_("No grant %(id)s.", id=grant.id))


def can_accept(user: Any, grant: Grant) -> Decision:
    """The grantee's innovators accept an offered grant's agreement, once."""
    return first(
        lambda: _grantee_only(user, grant, _("Only the grantee organisation's innovators accept a grant.")),
        lambda: None if grant.status == GrantStatus.OFFERED else conflict(
            _("This grant is %(status)s; only an offered grant can be accepted.", status=label(grant.status))),
    )


def can_set_payout(user: Any, grant: Grant) -> Decision:
    """The grantee's innovators give (or change) payout details while the grant is offered or active."""
    return first(
        lambda: _grantee_only(user, grant, _("Only the grantee organisation's innovators give payout details.")),
        lambda: None if grant.status in PAYABLE_GRANT_STATUSES else conflict(
            _("This grant is %(status)s; payout details are given while a grant is offered or active.",
              status=label(grant.status))),
    )


# --- tranches and milestone reports --------------------------------------------------------------

def can_view_tranche(user: Any, tranche: Tranche) -> Decision:
    """Whoever sees the grant sees its tranches."""
    return can_view_grant(user, tranche.grant)


def can_report(user: Any, tranche: Tranche) -> Decision:
    """The grantee's innovators report a pending milestone of an active grant."""
    return first(
        lambda: _grantee_only(user, tranche.grant, _("Only the grantee organisation's innovators report milestones.")),
        lambda: None if tranche.grant.status == GrantStatus.ACTIVE else conflict(
            _("Accept the grant agreement before reporting milestones.")),
        lambda: None if tranche.status == TrancheStatus.PENDING else conflict(
            _("This milestone is %(status)s; only a pending milestone can be reported.", status=label(tranche.status))),
    )


def can_view_report(user: Any, report: MilestoneReport) -> Decision:
    """Whoever sees the grant sees its milestone reports (they are not public)."""
    return can_view_grant(user, report.tranche.grant)


def can_view_evidence(user: Any, evidence: EvidenceFile) -> Decision:
    """Evidence files are seen by whoever sees their report."""
    return can_view_report(user, evidence.report)


def can_review(user: Any, report: MilestoneReport) -> Decision:
    """Fund managers accept or return a submitted report whose tranche awaits review, once."""
    return first(
        lambda: _fund_managers_only(user, _("Only fund managers review milestone reports.")),
        lambda: None if (report.status == ReportStatus.SUBMITTED
                         and report.tranche.status == TrancheStatus.EVIDENCE_SUBMITTED)
        else conflict(_("This report was already reviewed.")),
    )


def can_write_public_summary(user: Any, report: MilestoneReport) -> Decision:
    """The grantee's innovators write (or rewrite) the public summary of an accepted milestone report."""
    return first(
        lambda: _grantee_only(user, report.tranche.grant,
                              _("Only the grantee organisation's innovators write a milestone's public summary.")),
        lambda: None if report.status == ReportStatus.ACCEPTED else conflict(
            _("A public summary is written once the milestone report is accepted; this one is %(status)s.",
              status=label(report.status))),
    )


# --- amendments (grants that change after signature) ----------------------------------------------

AMENDABLE_GRANT_STATUSES = (GrantStatus.OFFERED, GrantStatus.ACTIVE, GrantStatus.COMPLETED)
"""A grant whose schedule may still change: signed or offered, not cancelled, not awaiting its award's approval."""


def open_amendment_number(grant: Grant) -> int | None:
    """The number of the grant's open (pending or approved) amendment, if any."""
    number = db.session.execute(sa.select(GrantAmendment.number).where(
        GrantAmendment.grant_id == grant.id, GrantAmendment.status.in_(OPEN_AMENDMENT_STATUSES))).scalar()
    return None if number is None else int(number)


def _no_open_amendment(grant: Grant) -> Decision:
    number = open_amendment_number(grant)
    if number is None:
        return None
    return conflict(_("Amendment %(n)s of this grant is still open; it is accepted or rejected before another "
                      "is proposed.", n=number))


def _amendable(grant: Grant) -> Decision:
    if grant.status not in AMENDABLE_GRANT_STATUSES:
        return conflict(_("This grant is %(status)s; only an offered, active or completed grant can be amended.",
                          status=label(grant.status)))
    return None


def can_propose_amendment(user: Any, grant: Grant) -> Decision:
    """Fund managers propose an amendment to an offered, active or completed grant, one open amendment at a time."""
    return first(
        lambda: _fund_managers_only(user, _("Only fund managers propose amendments.")),
        lambda: _amendable(grant),
        lambda: _no_open_amendment(grant),
    )


def can_view_amendment(user: Any, amendment: GrantAmendment) -> Decision:
    """Whoever sees the grant's full record sees its amendments (the public see those in force in the register)."""
    return can_view_grant(user, amendment.grant)


def can_approve_amendment(user: Any, amendment: GrantAmendment) -> Decision:
    """A fund manager other than its author approves a pending amendment that needs approval, once, within
    their approval limit."""
    return first(
        lambda: _fund_managers_only(user, _("Only fund managers approve amendments.")),
        lambda: forbidden(_("You proposed this amendment; another fund manager approves it."))
        if user.id == amendment.proposed_by_id else None,
        lambda: None if amendment.status == AmendmentStatus.PENDING else conflict(
            _("This amendment is %(status)s; only an amendment awaiting approval is approved.",
              status=label(amendment.status))),
        lambda: conflict(_("You have already approved this amendment."))
        if any(a.approver_id == user.id for a in amendment.approvals) else None,
        lambda: None if abs(amendment.change_cents) <= approver_for(user).limit_cents else forbidden(
            _("This change is above your approval limit of %(limit)s.",
              limit=money(approver_for(user).limit_cents))),
    )


def can_accept_amendment(user: Any, amendment: GrantAmendment) -> Decision:
    """The grantee's innovators accept an approved amendment (one that needs no approval is approved at once);
    it then takes effect."""
    return first(
        lambda: _grantee_only(user, amendment.grant, _("Only the grantee organisation's innovators accept an "
                                                       "amendment.")),
        lambda: conflict(_("This amendment awaits the fund managers' approval first."))
        if amendment.status == AmendmentStatus.PENDING else None,
        lambda: None if amendment.status == AmendmentStatus.APPROVED else conflict(
            _("This amendment is %(status)s.", status=label(amendment.status))),
        lambda: _amendable(amendment.grant),
    )


def can_reject_amendment(user: Any, amendment: GrantAmendment) -> Decision:
    """The grantee's innovators or a fund manager reject an open amendment, with a reason."""
    return first(
        lambda: None if acts_for_grantee(user, amendment.grant) else _fund_managers_only(
            user, _("Only fund managers or the grantee organisation's innovators reject an amendment.")),
        lambda: None if amendment.status in OPEN_AMENDMENT_STATUSES else conflict(
            _("This amendment is %(status)s and can no longer be rejected.", status=label(amendment.status))),
    )


# --- cancellation and refunds (grants.cancellation, grants.refunds) -------------------------------

def can_cancel_grant(user: Any, grant: Grant) -> Decision:
    """Fund managers cancel a grant awaiting approval, offered or active (as `GRANT_TRANSITIONS` allows), with a
    reason; a completed or already cancelled grant cannot be cancelled."""
    return first(
        lambda: _fund_managers_only(user, _("Only fund managers cancel grants.")),
        lambda: None if GRANT_TRANSITIONS.allows(grant.status, GrantStatus.CANCELLED) else conflict(
            _("This grant is %(status)s and cannot be cancelled; only a grant awaiting approval, offered or "
              "active can be.", status=label(grant.status))),
    )


def can_record_refund(user: Any, grant: Grant) -> Decision:
    """Fund managers record money a grantee paid back, once something was paid to the grant and not all of it
    came back already."""
    return first(
        lambda: _fund_managers_only(user, _("Only fund managers record refunds.")),
        lambda: None if net_paid_cents(grant.id) > 0 else conflict(
            _("Nothing paid to this grant is left to be refunded: a refund is recorded once a tranche was paid.")),
    )


def can_see_refund_references(user: Any, grant: Grant) -> Decision:
    """The bank references of a grant's refunds: the facility's staff and auditors (the public see amount and date)."""
    return None if reads_everything(user) else forbidden(_("Only the facility's staff see a refund's bank reference."))


# --- indicators (grants.indicator_policy, here for `may("grants.<action>", ...)`) -------------------
from facility.grants.indicator_policy import (  # noqa: E402,F401
    can_report_reading,
    can_review_reading,
    can_see_unverified_readings,
    can_set_condition,
    can_verify_reading,
    payment_condition,
)
