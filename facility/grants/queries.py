"""Every read the grants pages and the grants API need: one function each, used by both.

Lists return a `Select` (pages and the API paginate it their own way); loaders
`get_visible_<thing>(user, id)` return the object or raise `NotFound` (404), so a caller may
not learn that an object exists which it may not see.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import joinedload, selectinload

from facility.accounts.models import Role
from facility.accounts.policy import has_role, is_signed_in, is_staff
from facility.challenges.models import Challenge, ChallengeStatus
from facility.cities.models import City
from facility.core.errors import NotFound
from facility.core.policy import Decision
from facility.extensions import db
from facility.grants import policy
from facility.grants.models import (
    Contribution,
    ContributionMethod,
    ContributionStatus,
    EvidenceFile,
    Grant,
    MilestoneReport,
    ReportStatus,
    Tranche,
)
from facility.ledger.services import facility_totals
from facility.proposals.models import COMPETING_STATUSES, Proposal

T = TypeVar("T")


def _visible(obj: T | None, decision: Decision, missing: str) -> T:
    if obj is None:
        raise NotFound(missing)
    if decision is not None:
        raise NotFound(decision.reason)
    return obj


# --- facility totals ------------------------------------------------------------------------

def facility_figures() -> dict[str, int]:
    """The ledger totals plus the results-framework counts (a handful of queries, whatever the size).

    countries and city governments: of cities with a published or finished
    challenge; technology companies: organisations with a proposal in the competition.
    """
    figures = facility_totals()
    public = (ChallengeStatus.PUBLISHED, ChallengeStatus.FINISHED)
    row = db.session.execute(
        sa.select(sa.func.count(sa.distinct(City.country)), sa.func.count(sa.distinct(City.id)))
        .join(Challenge, Challenge.city_id == City.id)
        .where(Challenge.status.in_(public))
    ).one()
    companies = db.session.execute(
        sa.select(sa.func.count(sa.distinct(Proposal.organization_id))).where(Proposal.status.in_(COMPETING_STATUSES))
    ).scalar_one()
    figures.update(countries=int(row[0]), cities=int(row[1]), technology_companies=int(companies))
    figures["progress_permille"] = min(1000, figures["raised"] * 1000 // figures["target"]) if figures["target"] else 0
    return figures


# --- contributions ----------------------------------------------------------------------------

def contributions_of(user: Any) -> sa.Select[tuple[Contribution]]:
    """A donor's contributions and their organisation's, newest first."""
    condition = Contribution.pledged_by_id == (user.id if is_signed_in(user) else -1)
    if is_signed_in(user) and user.organization_id is not None:
        condition = sa.or_(condition, Contribution.donor_organization_id == user.organization_id)
    return sa.select(Contribution).where(condition).order_by(Contribution.id.desc())


def recent_contributions(user: Any, *, limit: int = 5) -> Sequence[Contribution]:
    """The contributions a donor pledged themselves, newest first (the dashboard panel)."""
    return db.session.execute(
        sa.select(Contribution).where(Contribution.pledged_by_id == user.id)
        .order_by(Contribution.id.desc()).limit(limit)
    ).scalars().all()


def funded_since(contribution: Contribution, *, limit: int = 5) -> dict[str, Any]:
    """What the facility has funded since a contribution arrived (or was pledged): the number and total
    of grants awarded after it, and the newest `limit` of them with their grantee (three queries)."""
    since = contribution.received_at or contribution.created_at
    after = Grant.awarded_at > since
    count, total = db.session.execute(
        sa.select(sa.func.count(Grant.id), sa.func.coalesce(sa.func.sum(Grant.amount_cents), 0)).where(after)).one()
    recent = db.session.execute(
        sa.select(Grant).where(after).options(joinedload(Grant.organization), joinedload(Grant.proposal))
        .order_by(Grant.awarded_at.desc(), Grant.id.desc()).limit(limit)).scalars().all()
    return {"since": since, "count": int(count), "total_cents": int(total), "recent": list(recent)}


def _pending_wires_condition() -> sa.ColumnElement[bool]:
    return sa.and_(Contribution.method == ContributionMethod.WIRE, Contribution.status == ContributionStatus.PLEDGED)


def pending_wires() -> sa.Select[tuple[Contribution]]:
    """Wire pledges waiting for a fund manager to confirm receipt, oldest first, with their donors."""
    return (sa.select(Contribution).where(_pending_wires_condition())
            .options(joinedload(Contribution.donor_organization), joinedload(Contribution.pledged_by))
            .order_by(Contribution.id))


def get_visible_contribution(user: Any, contribution_id: int) -> Contribution:
    """One contribution, for its pledging donor, their organisation and staff; NotFound for anyone else."""
    contribution = db.session.get(Contribution, contribution_id)
    missing = _("No contribution %(id)s.", id=contribution_id)
    return _visible(contribution, contribution and policy.can_view_contribution(user, contribution), missing)


# --- awards -------------------------------------------------------------------------------------

def get_proposal_to_award(user: Any, proposal_id: int) -> Proposal:
    """A proposal, for the staff who award grants (they see every proposal); NotFound for others."""
    proposal = db.session.get(Proposal, proposal_id)
    if proposal is None or not is_staff(user):
        raise NotFound(_("No proposal %(id)s.", id=proposal_id))
    return proposal


def get_challenge_to_release(user: Any, challenge_id: int) -> Challenge:
    """A challenge, for the staff who release prize pools (they see every challenge); NotFound for others."""
    challenge = db.session.get(Challenge, challenge_id)
    if challenge is None or not is_staff(user):
        raise NotFound(_("No challenge %(id)s.", id=challenge_id))
    return challenge


# --- grants -------------------------------------------------------------------------------------

def visible_grants(user: Any) -> sa.Select[tuple[Grant]]:
    """The caller's organisation's grants; every grant for staff. Newest first, with grantee and proposal."""
    query = (sa.select(Grant).options(joinedload(Grant.organization), joinedload(Grant.proposal))
             .order_by(Grant.id.desc()))
    if not is_staff(user):
        organization_id = user.organization_id if is_signed_in(user) else None
        query = query.where(Grant.organization_id == (organization_id or -1))
    return query


def get_visible_grant(user: Any, grant_id: int) -> Grant:
    """A grant with its tranches, reports, evidence files and payout accounts loaded: for the grantee
    organisation and staff; NotFound for anyone else."""
    grant = db.session.execute(
        sa.select(Grant).where(Grant.id == grant_id).options(
            selectinload(Grant.tranches).selectinload(Tranche.reports).selectinload(MilestoneReport.files),
            selectinload(Grant.payout_accounts), joinedload(Grant.proposal), joinedload(Grant.organization))
    ).scalar_one_or_none()
    return _visible(grant, grant and policy.can_view_grant(user, grant), _("No grant %(id)s.", id=grant_id))


def may_see_full_grant(user: Any, grant_id: int) -> bool:
    """Whether `user` sees the grant's full record (grantee organisation, staff); False when there is no
    such grant, so the caller shows the public view (which answers 404 for a grant that does not exist)."""
    grant = db.session.get(Grant, grant_id)
    return grant is not None and policy.can_view_grant(user, grant) is None


def grantee_grants(user: Any, *, limit: int = 10) -> Sequence[Grant]:
    """The grants of an innovator's organisation, newest first, with tranches (the dashboard panel)."""
    if not has_role(user, Role.INNOVATOR) or user.organization_id is None:
        return []
    return db.session.execute(
        sa.select(Grant).where(Grant.organization_id == user.organization_id)
        .options(selectinload(Grant.tranches), joinedload(Grant.proposal)).order_by(Grant.id.desc()).limit(limit)
    ).unique().scalars().all()


# --- tranches and milestone reports ---------------------------------------------------------------

def get_visible_tranche(user: Any, tranche_id: int) -> Tranche:
    """A tranche with its reports, for whoever sees its grant; NotFound for anyone else."""
    tranche = db.session.get(Tranche, tranche_id)
    return _visible(tranche, tranche and policy.can_view_tranche(user, tranche),
                    _("No tranche %(id)s.", id=tranche_id))


def get_visible_report(user: Any, report_id: int) -> MilestoneReport:
    """A milestone report with its files, for whoever sees its grant; NotFound for anyone else."""
    report = db.session.get(MilestoneReport, report_id)
    return _visible(report, report and policy.can_view_report(user, report),
                    _("No milestone report %(id)s.", id=report_id))


def get_visible_evidence_file(user: Any, file_id: int) -> EvidenceFile:
    """An evidence file, for whoever sees its report; NotFound for anyone else."""
    evidence = db.session.get(EvidenceFile, file_id)
    return _visible(evidence, evidence and policy.can_view_evidence(user, evidence),
                    _("No evidence file %(id)s.", id=file_id))


def evidence_queue() -> sa.Select[tuple[MilestoneReport]]:
    """Submitted milestone reports waiting for a fund manager, oldest first, with grant and grantee."""
    return (sa.select(MilestoneReport).where(MilestoneReport.status == ReportStatus.SUBMITTED)
            .options(joinedload(MilestoneReport.tranche).joinedload(Tranche.grant).joinedload(Grant.organization),
                     joinedload(MilestoneReport.submitted_by))
            .order_by(MilestoneReport.id))


def money_to_handle() -> dict[str, int]:
    """How many wires wait for confirmation and how many reports for review (the fund manager's panel)."""
    wires = db.session.execute(sa.select(sa.func.count(Contribution.id)).where(_pending_wires_condition())).scalar_one()
    reports = db.session.execute(sa.select(sa.func.count(MilestoneReport.id)).where(
        MilestoneReport.status == ReportStatus.SUBMITTED)).scalar_one()
    return {"wires": int(wires), "reports": int(reports)}
