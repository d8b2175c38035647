"""Every read the grants pages and the grants API need: one function each, used by both.

Lists return a `Select` (pages and the API paginate it their own way); loaders
`get_visible_<thing>(user, id)` return the object or raise `NotFound` (404), so a caller may
not learn that an object exists which it may not see.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import joinedload, selectinload

from facility.accounts.authority import approver_for
from facility.accounts.models import Organization, OrgType, Role, User, UserRole
from facility.accounts.policy import has_role, is_signed_in, is_staff, reads_everything
from facility.challenges.models import Challenge, ChallengeStatus
from facility.cities.models import City
from facility.core.dashboard import Waiting, waiting
from facility.core.errors import NotFound
from facility.core.policy import Decision
from facility.core.search import narrow
from facility.extensions import db
from facility.grants import policy
from facility.grants.amendment_models import AmendmentApproval, AmendmentStatus, GrantAgreementVersion, GrantAmendment
from facility.grants.indicator_models import TrancheIndicator
from facility.grants.models import (
    Contribution,
    ContributionMethod,
    ContributionStatus,
    EvidenceFile,
    Grant,
    GrantApproval,
    GrantStatus,
    MilestoneReport,
    PayoutAccount,
    ReportStatus,
    Tranche,
    TrancheStatus,
)
from facility.ledger.balances import facility_totals
from facility.proposals.models import COMPETING_STATUSES, Proposal
from facility.review.models import Decision as ReviewDecision
from facility.review.models import DecisionKind

T = TypeVar("T")


def _visible(obj: T | None, decision: Decision, missing: str) -> T:
    if obj is None:
        raise NotFound(missing)
    if decision is not None:
        raise NotFound(decision.reason)
    return obj


# --- facility totals ------------------------------------------------------------------------

# What counts as engaged (the results framework's definitions, stated on /results): a city
# government when its city is verified and has published a challenge (a finished one was published),
# a national government when one of its cities is, a technology company when an innovator
# organisation of type start-up or SME has a proposal in the competition (submitted and beyond).
ENGAGING_CHALLENGE_STATUSES = (ChallengeStatus.PUBLISHED, ChallengeStatus.FINISHED)
TECHNOLOGY_TYPES = (OrgType.STARTUP, OrgType.SME)


def engaged_counts(conditions: Sequence[sa.ColumnElement[bool]] = ()) -> tuple[int, int, int]:
    """National governments, city governments and technology companies engaged (two queries), among the
    cities and challenges meeting `conditions` (over `City` and `Challenge`, e.g. the portfolio filter)."""
    countries, cities = db.session.execute(
        sa.select(sa.func.count(sa.distinct(City.country)), sa.func.count(sa.distinct(City.id)))
        .select_from(City).join(Challenge, Challenge.city_id == City.id)
        .where(City.verified_at.is_not(None), Challenge.status.in_(ENGAGING_CHALLENGE_STATUSES), *conditions)
    ).one()
    companies = db.session.execute(
        sa.select(sa.func.count(sa.distinct(Organization.id)))
        .select_from(Proposal).join(Organization, Organization.id == Proposal.organization_id)
        .join(Challenge, Challenge.id == Proposal.challenge_id).join(City, City.id == Challenge.city_id)
        .where(Organization.org_type.in_(TECHNOLOGY_TYPES), Proposal.status.in_(COMPETING_STATUSES), *conditions)
    ).scalar_one()
    return int(countries), int(cities), int(companies)


def facility_figures() -> dict[str, int]:
    """The ledger totals plus the results-framework counts (a handful of queries, whatever the size),
    engaged as `engaged_counts` defines it."""
    figures = facility_totals()
    countries, cities, companies = engaged_counts()
    figures.update(countries=countries, cities=cities, technology_companies=companies)
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
    """The caller's organisation's grants; every grant for staff and auditors. Newest first, with grantee and proposal."""
    return search_grants(user, None)


def search_grants(user: Any, q: str | None) -> sa.Select[tuple[Grant]]:
    """The grants `user` may see in full (`visible_grants`) whose proposal matches every word of `q` (its
    title, summary and approach, which these readers may see), the best match first, then newest first."""
    query = sa.select(Grant).options(joinedload(Grant.organization), joinedload(Grant.proposal))
    if not reads_everything(user):
        organization_id = user.organization_id if is_signed_in(user) else None
        query = query.where(Grant.organization_id == (organization_id or -1))
    query, rank = narrow(query, table="proposals", id_column=Grant.proposal_id, q=q)
    return query.order_by(*rank, Grant.id.desc())


def get_visible_grant(user: Any, grant_id: int) -> Grant:
    """A grant with its tranches, reports (their files and spending) and payout accounts loaded: for the grantee
    organisation and staff; NotFound for anyone else."""
    grant = db.session.execute(
        sa.select(Grant).where(Grant.id == grant_id).options(
            selectinload(Grant.tranches).selectinload(Tranche.reports).options(
                selectinload(MilestoneReport.files), selectinload(MilestoneReport.spending_lines)),
            selectinload(Grant.tranches).selectinload(Tranche.indicators).selectinload(TrancheIndicator.readings),
            selectinload(Grant.payout_accounts), joinedload(Grant.proposal), joinedload(Grant.organization),
            selectinload(Grant.award_approvals).joinedload(GrantApproval.approver))
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


# --- dashboard ---


def awards_to_make() -> Waiting:
    """Released award recommendations whose proposal has no grant yet (first_id: the proposal)."""
    no_grant = ~sa.exists().where(Grant.proposal_id == ReviewDecision.proposal_id)
    return waiting(ReviewDecision.proposal_id, ReviewDecision.released_at, ReviewDecision.released_at.is_not(None),
                   ReviewDecision.kind == DecisionKind.AWARD_RECOMMENDATION, no_grant,
                   Proposal.status.in_(policy.AWARDABLE_STATUSES),
                   joins=((Proposal, Proposal.id == ReviewDecision.proposal_id),))


def awards_to_approve(user: Any) -> Waiting:
    """Awards awaiting approval that `user` may still approve: not awarded by them, not yet approved by
    them, within their approval limit, the oldest first (first_id: the grant)."""
    mine = GrantApproval.approver_id == (user.id if is_signed_in(user) else -1)
    approved = sa.exists().where(GrantApproval.grant_id == Grant.id, mine)
    return waiting(Grant.id, Grant.awarded_at, Grant.status == GrantStatus.PENDING_APPROVAL,
                   sa.or_(Grant.awarded_by_id.is_(None), Grant.awarded_by_id != user.id), ~approved,
                   Grant.amount_cents <= approver_for(user).limit_cents)


def reports_to_review() -> Waiting:
    """Milestone reports waiting for a fund manager, the oldest first."""
    return waiting(MilestoneReport.id, MilestoneReport.created_at, MilestoneReport.status == ReportStatus.SUBMITTED)


def wires_to_confirm() -> Waiting:
    """Wire pledges whose money has not been confirmed yet, the oldest first."""
    return waiting(Contribution.id, Contribution.created_at, _pending_wires_condition())


def _of_org(organization_id: int) -> sa.ColumnElement[bool]:
    return Grant.organization_id == organization_id


def agreements_to_accept(organization_id: int) -> Waiting:
    """The organisation's offered grants, whose agreement an innovator accepts (first_id: the grant)."""
    return waiting(Grant.id, Grant.awarded_at, _of_org(organization_id), Grant.status == GrantStatus.OFFERED)


def payout_details_to_give(organization_id: int) -> Waiting:
    """The organisation's offered or active grants without payout details in force."""
    current = sa.exists().where(PayoutAccount.grant_id == Grant.id, PayoutAccount.superseded_at.is_(None))
    return waiting(Grant.id, Grant.awarded_at, _of_org(organization_id),
                   Grant.status.in_(policy.PAYABLE_GRANT_STATUSES), ~current)


def milestones_due(organization_id: int) -> Waiting:
    """Milestones of the organisation's active grants still to report, the next due first (first_id: grant)."""
    return waiting(Tranche.grant_id, Tranche.due_date, _of_org(organization_id), Grant.status == GrantStatus.ACTIVE,
                   Tranche.status == TrancheStatus.PENDING, joins=((Grant, Grant.id == Tranche.grant_id),))


def reports_returned(organization_id: int) -> Waiting:
    """Milestones whose last report was sent back and not reported again (first_id: the grant)."""
    return waiting(Tranche.grant_id, MilestoneReport.reviewed_at, _of_org(organization_id),
                   Tranche.status == TrancheStatus.PENDING, MilestoneReport.status == ReportStatus.RETURNED,
                   joins=((Tranche, Tranche.id == MilestoneReport.tranche_id), (Grant, Grant.id == Tranche.grant_id)))


def contributions_by_status(user: Any) -> dict[ContributionStatus, tuple[int, int]]:
    """The donor's (and their organisation's) contributions: how many and how much pledged, per status."""
    base = contributions_of(user).subquery()
    rows = db.session.execute(sa.select(base.c.status, sa.func.count(), sa.func.sum(base.c.amount_cents))
                              .group_by(base.c.status)).all()
    return {ContributionStatus(status): (int(count), int(total or 0)) for status, count, total in rows}


def funded_since_counts() -> dict[str, int]:
    """What the facility has funded: grants awarded and challenges funded (one query)."""
    row = db.session.execute(sa.select(
        sa.select(sa.func.count(Grant.id)).where(Grant.status != GrantStatus.CANCELLED).scalar_subquery(),
        sa.select(sa.func.count(sa.distinct(Grant.organization_id))).scalar_subquery(),
        sa.select(sa.func.count(Challenge.id)).where(Challenge.status.in_(
            (ChallengeStatus.PUBLISHED, ChallengeStatus.FINISHED))).scalar_subquery(),
    )).one()
    return {"grants": int(row[0]), "grantees": int(row[1]), "challenges": int(row[2])}


def grant_of_proposal(proposal: Any) -> Grant | None:
    """The grant awarded to `proposal`, if any (its page links to it; callers ask `can_view_grant`)."""
    return db.session.execute(sa.select(Grant).where(Grant.proposal_id == proposal.id)).scalar_one_or_none()
def money_to_handle() -> dict[str, int]:
    """How many wires wait for confirmation and how many reports for review (the fund manager's panel)."""
    wires = db.session.execute(sa.select(sa.func.count(Contribution.id)).where(_pending_wires_condition())).scalar_one()
    reports = db.session.execute(sa.select(sa.func.count(MilestoneReport.id)).where(
        MilestoneReport.status == ReportStatus.SUBMITTED)).scalar_one()
    return {"wires": int(wires), "reports": int(reports)}


# --- reminders ---

# A milestone has no accepted report while its tranche is pending (nothing reported, or the report sent
# back) or its report is under review; accepted, disbursing and paid tranches have one.
NOT_ACCEPTED = (TrancheStatus.PENDING, TrancheStatus.EVIDENCE_SUBMITTED)


def _tranches_of_active_grants(*conditions: Any) -> list[Tranche]:
    return list(db.session.execute(
        sa.select(Tranche).join(Grant, Grant.id == Tranche.grant_id)
        .where(Grant.status == GrantStatus.ACTIVE, Tranche.due_date.is_not(None), *conditions)
        .options(joinedload(Tranche.grant).joinedload(Grant.organization),
                 joinedload(Tranche.grant).joinedload(Grant.proposal))
        .order_by(Tranche.due_date, Tranche.id)
    ).scalars().unique())


def milestones_due_within(today: date, days: int) -> list[Tranche]:
    """Unreported milestones of active grants due from `today` to `days` days ahead."""
    return _tranches_of_active_grants(Tranche.status == TrancheStatus.PENDING, Tranche.due_date >= today,
                                      Tranche.due_date <= today + timedelta(days=days))


def milestones_overdue(today: date) -> list[Tranche]:
    """Milestones of active grants whose due date has passed with no accepted report."""
    return _tranches_of_active_grants(Tranche.status.in_(NOT_ACCEPTED), Tranche.due_date < today)


def _active_with_role(role: Role, *conditions: Any) -> list[User]:
    return list(db.session.execute(
        sa.select(User).join(UserRole, UserRole.user_id == User.id)
        .where(User.active.is_(True), UserRole.role == role, *conditions).order_by(User.id)
    ).scalars())


def fund_managers() -> list[User]:
    """Every active fund manager (who hears of reports and overdue milestones)."""
    return _active_with_role(Role.FUND_MANAGER)


def grantee_members(organization_ids: set[int]) -> dict[int, list[User]]:
    """The active innovators of each grantee organisation, in one query."""
    people: dict[int, list[User]] = {}
    if organization_ids:
        for user in _active_with_role(Role.INNOVATOR, User.organization_id.in_(organization_ids)):
            people.setdefault(user.organization_id or 0, []).append(user)
    return people


# --- amendments and agreement versions ----------------------------------------------------------

def get_visible_amendment(user: Any, amendment_id: int) -> GrantAmendment:
    """An amendment with its schedule and approvals: for whoever sees its grant's full record; NotFound otherwise."""
    amendment = db.session.execute(
        sa.select(GrantAmendment).where(GrantAmendment.id == amendment_id).options(
            selectinload(GrantAmendment.tranches),
            selectinload(GrantAmendment.approvals).joinedload(AmendmentApproval.approver),
            joinedload(GrantAmendment.grant), joinedload(GrantAmendment.proposed_by))
    ).scalar_one_or_none()
    return _visible(amendment, amendment and policy.can_view_amendment(user, amendment),
                    _("No amendment %(id)s.", id=amendment_id))


def grant_amendments(grant_id: int) -> Sequence[GrantAmendment]:
    """A grant's amendments, newest first (a grant has few; their approvals loaded with them)."""
    return db.session.execute(
        sa.select(GrantAmendment).where(GrantAmendment.grant_id == grant_id)
        .options(selectinload(GrantAmendment.approvals)).order_by(GrantAmendment.number.desc())
    ).scalars().all()


def amendments_in_force(grant_id: int) -> Sequence[GrantAmendment]:
    """A grant's accepted amendments, oldest first: its public amendment history."""
    return db.session.execute(
        sa.select(GrantAmendment).where(GrantAmendment.grant_id == grant_id,
                                        GrantAmendment.status == AmendmentStatus.ACCEPTED)
        .order_by(GrantAmendment.number)
    ).scalars().all()


def agreement_versions(grant_id: int) -> Sequence[GrantAgreementVersion]:
    """Every version of a grant's agreement, newest first."""
    return db.session.execute(
        sa.select(GrantAgreementVersion).where(GrantAgreementVersion.grant_id == grant_id)
        .options(joinedload(GrantAgreementVersion.amendment)).order_by(GrantAgreementVersion.version.desc())
    ).scalars().all()
