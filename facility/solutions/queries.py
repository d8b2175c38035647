"""Reads of the solutions library: what a solution is, the library's pages, a solution's replications.

A solution is derived, never stored: `solution_condition()` is the one place that says which grants are
solutions. Each list reads a page in a fixed number of queries, whatever its length (rows, their accepted
milestones' public summaries, their replications, the replications' results: one query each).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import contains_eager, joinedload

from facility.challenges.models import PUBLIC_STATUSES, Challenge, FocusArea
from facility.cities.models import City
from facility.core.errors import NotFound
from facility.extensions import db
from facility.grants.indicator_models import IndicatorReading, ReadingStatus, TrancheIndicator
from facility.grants.models import Grant, GrantStatus, MilestoneReport, ReportStatus, Tranche, TrancheStatus
from facility.grants.paid import net_paid_by_grant
from facility.solutions import policy
from facility.solutions.models import Replication

ACCEPTED_TRANCHES = (TrancheStatus.ACCEPTED, TrancheStatus.DISBURSING, TrancheStatus.PAID)
"""A tranche whose milestone report was accepted: it may be, is being, or was paid."""
PER_PAGE = 20


def solution_condition() -> sa.ColumnElement[bool]:
    """Which grants are solutions, as one SQL condition on `Grant`: not cancelled, with at least one tranche
    that is not cancelled, every tranche not cancelled accepted (accepted, being paid or paid: all its
    milestones accepted), and every indicator of those tranches verified (it has a verified reading), where
    they had indicators. Every page, API answer and the replication service read it alike."""
    live = sa.select(Tranche.id).where(Tranche.grant_id == Grant.id, Tranche.status != TrancheStatus.CANCELLED)
    unaccepted = live.where(Tranche.status.not_in(ACCEPTED_TRANCHES))
    verified = sa.select(IndicatorReading.id).where(IndicatorReading.indicator_id == TrancheIndicator.id,
                                                    IndicatorReading.status == ReadingStatus.VERIFIED)
    unverified = (sa.select(TrancheIndicator.id).join(Tranche, Tranche.id == TrancheIndicator.tranche_id)
                  .where(Tranche.grant_id == Grant.id, Tranche.status != TrancheStatus.CANCELLED, ~verified.exists()))
    return sa.and_(Grant.status != GrantStatus.CANCELLED, live.exists(), ~unaccepted.exists(), ~unverified.exists())


def is_solution(grant_id: int) -> bool:
    """Grant `grant_id` is a solution (one query)."""
    return db.session.execute(
        sa.select(sa.literal(True)).select_from(Grant).where(Grant.id == grant_id, solution_condition())
    ).scalar() is not None


@dataclass(frozen=True)
class LibraryFilter:
    """The library's filters: a focus area and the piloting city's country (None: any)."""

    focus_area: FocusArea | None = None
    country: str | None = None


def library_query(filters: LibraryFilter | None = None) -> sa.Select[tuple[Grant]]:
    """Every solution, newest award first, with what a row shows loaded in the same query: the proposal (its
    public title), the grantee organisation, the challenge and its city."""
    filters = filters or LibraryFilter()
    query = (sa.select(Grant).join(Challenge, Challenge.id == Grant.challenge_id)
             .join(City, City.id == Challenge.city_id)
             .where(solution_condition())
             .options(joinedload(Grant.organization), joinedload(Grant.proposal),
                      contains_eager(Grant.challenge).contains_eager(Challenge.city))
             .order_by(Grant.awarded_at.desc(), Grant.id.desc()))
    if filters.focus_area is not None:
        query = query.where(Challenge.focus_area == filters.focus_area)
    if filters.country is not None:
        query = query.where(City.country == filters.country)
    return query


@dataclass
class ReplicationRow:
    """A replication as a list shows it: its challenge (and city), and its results so far."""

    replication: Replication
    grants_awarded: int = 0
    paid_cents: int = 0

    @property
    def challenge(self) -> Challenge:
        return self.replication.challenge


@dataclass
class MilestoneResult:
    """An accepted milestone's public summary (never the private report text nor its KPI values)."""

    position: int
    title: str
    public_summary: str


@dataclass
class SolutionRow:
    """A solution as the library lists it."""

    grant: Grant
    results: list[MilestoneResult] = field(default_factory=list)
    replications: list[ReplicationRow] = field(default_factory=list)


def public_results(grant_ids: Sequence[int]) -> dict[int, list[MilestoneResult]]:
    """The public summaries of the accepted milestones of each grant, in milestone order (one query)."""
    if not grant_ids:
        return {}
    rows = db.session.execute(
        sa.select(Tranche.grant_id, Tranche.position, Tranche.title, MilestoneReport.public_summary)
        .join(MilestoneReport, MilestoneReport.tranche_id == Tranche.id)
        .where(Tranche.grant_id.in_(list(grant_ids)), Tranche.status.in_(ACCEPTED_TRANCHES),
               MilestoneReport.status == ReportStatus.ACCEPTED, MilestoneReport.public_summary != "")
        .order_by(Tranche.grant_id, Tranche.position, MilestoneReport.id)).all()
    out: dict[int, list[MilestoneResult]] = {}
    for grant_id, position, title, summary in rows:
        out.setdefault(int(grant_id), []).append(MilestoneResult(int(position), title, summary))
    return out


def replication_results(challenge_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
    """For each challenge: (grants awarded and not cancelled, USD cents paid net of refunds) (one query)."""
    if not challenge_ids:
        return {}
    net = net_paid_by_grant()
    rows = db.session.execute(
        sa.select(Grant.challenge_id,
                  sa.func.sum(sa.case((Grant.status != GrantStatus.CANCELLED, 1), else_=0)),
                  sa.func.coalesce(sa.func.sum(net.c.net_paid_cents), 0))
        .outerjoin(net, net.c.grant_id == Grant.id)
        .where(Grant.challenge_id.in_(list(challenge_ids)))
        .group_by(Grant.challenge_id)).all()
    return {int(challenge_id): (int(count or 0), int(paid or 0)) for challenge_id, count, paid in rows}


def replications_of(user: Any, grant_ids: Sequence[int]) -> dict[int, list[ReplicationRow]]:
    """Each solution's replications that `user` may see (`policy.can_see_replication`), oldest first, with
    their results (two queries for all of them). Anonymous visitors read the public ones only, in SQL."""
    if not grant_ids:
        return {}
    query = (sa.select(Replication).join(Challenge, Challenge.id == Replication.challenge_id)
             .where(Replication.solution_grant_id.in_(list(grant_ids)))
             .options(contains_eager(Replication.challenge))
             .order_by(Replication.id))
    if not getattr(user, "is_authenticated", False):
        query = query.where(Challenge.status.in_(PUBLIC_STATUSES))
    found = [r for r in db.session.execute(query).scalars()
             if policy.can_see_replication(user, r.challenge) is None]
    results = replication_results([r.challenge_id for r in found])
    out: dict[int, list[ReplicationRow]] = {}
    for replication in found:
        count, paid = results.get(replication.challenge_id, (0, 0))
        out.setdefault(replication.solution_grant_id, []).append(ReplicationRow(replication, count, paid))
    return out


def solution_rows(user: Any, grants: Sequence[Grant]) -> list[SolutionRow]:
    """The rows of one page of the library: each grant with its public results and its replications."""
    ids = [grant.id for grant in grants]
    results, replications = public_results(ids), replications_of(user, ids)
    return [SolutionRow(grant, results.get(grant.id, []), replications.get(grant.id, [])) for grant in grants]


def get_solution(grant_id: int) -> Grant:
    """The solution `grant_id` (NotFound for a grant that is not a solution, or none)."""
    grant = db.session.execute(
        sa.select(Grant).where(Grant.id == grant_id, solution_condition())
        .options(joinedload(Grant.organization), joinedload(Grant.proposal),
                 joinedload(Grant.challenge).joinedload(Challenge.city))).unique().scalar_one_or_none()
    if grant is None:
        raise NotFound(_("There is no such solution."))
    return grant


def get_grant(grant_id: int) -> Grant:
    """Any grant (NotFound when there is none): the replication form says why one is not a solution."""
    grant = db.session.get(Grant, grant_id)
    if grant is None:
        raise NotFound(_("There is no such solution."))
    return grant


def replication_of(challenge: Challenge) -> Replication | None:
    """The replication `challenge` is (None: an ordinary challenge), with its solution's title loaded."""
    return db.session.execute(
        sa.select(Replication).where(Replication.challenge_id == challenge.id)
        .options(joinedload(Replication.solution).joinedload(Grant.proposal))).unique().scalar_one_or_none()


def solutions_count() -> int:
    """How many solutions the library holds (the dashboard link)."""
    return int(db.session.execute(sa.select(sa.func.count(Grant.id)).where(solution_condition())).scalar_one())
