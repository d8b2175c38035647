"""Who may do what with contributions, grants, tranches, payout details and milestone reports, and when.

One `can_<action>(user, obj) -> Refusal | None` per action, covering the role and the object's
state. Services call it first on the locked row (`require(...)`); pages and the API call the same
function; templates ask `may("grants.<action>", obj)`.
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask_babel import format_datetime
from flask_babel import gettext as _

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
from facility.extensions import db
from facility.grants.models import (
    Contribution,
    ContributionMethod,
    ContributionStatus,
    EvidenceFile,
    Grant,
    GrantStatus,
    MilestoneReport,
    ReportStatus,
    Tranche,
    TrancheStatus,
)
from facility.proposals.models import Proposal, ProposalStatus

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


def can_award(user: Any, proposal: Proposal) -> Decision:
    """Fund managers award a submitted or shortlisted proposal once its challenge has closed, once."""
    return first(
        lambda: _fund_managers_only(user, _("Only fund managers award grants.")),
        lambda: conflict(_("This proposal has already been awarded."))
        if proposal.status == ProposalStatus.AWARDED else None,
        lambda: None if proposal.status in AWARDABLE_STATUSES else conflict(
            _("Only submitted or shortlisted proposals can be awarded; this one is %(status)s.",
              status=label(proposal.status))),
        lambda: _challenge_over(proposal.challenge, _("Awards are made after the challenge closes on %(date)s.",
                                                      date=format_datetime(proposal.challenge.closes_at, "medium"))),
    )


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
        return conflict(_("%(n)s proposals still await a decision; award or decline them first.", n=pending))
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
