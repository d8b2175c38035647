"""The public grants register: every read `/grants`, `/grants/<id>` (public view) and the API's public
grant views need, one function each.

The privacy rule (issue 11) is decided here, by what these queries and `public_grant` return: every
grant row is public (a cancelled one says so) with its challenge, city, grantee organisation (name,
type, country), amounts, dates, SDG targets and beneficiary groups, its tranches and the grantee's
public summaries of accepted milestones. Never: payout accounts or bank details, the private report
text, KPI values, evidence files, reviewer names or scores, anything of a draft, anyone's e-mail.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy.orm import contains_eager, joinedload, selectinload
from werkzeug.datastructures import MultiDict
from wtforms import IntegerField, SelectField
from wtforms.validators import NumberRange, Optional

from facility.accounts.models import Organization
from facility.challenges.models import Challenge
from facility.cities.models import City
from facility.core.errors import NotFound
from facility.core.labels import choices
from facility.core.search import words
from facility.disbursements.models import Disbursement, DisbursementStatus
from facility.extensions import db
from facility.grants.amendment_models import GrantAmendment
from facility.grants.indicator_models import TrancheIndicator
from facility.grants.models import Grant, GrantStatus, MilestoneReport, ReportStatus, Tranche, TrancheStatus
from facility.grants.queries import amendments_in_force
from facility.portfolio.filters import PortfolioFilter
from facility.proposals.models import Proposal

FIRST_YEAR, LAST_YEAR = 2000, 2100


class RegisterForm(FlaskForm):
    """The register's own filters beside the portfolio's: status and award year (GET, no CSRF)."""

    class Meta:
        csrf = False

    status = SelectField(_l("Status"), validators=[Optional()], choices=[])
    year = IntegerField(_l("Award year"), validators=[Optional(), NumberRange(FIRST_YEAR, LAST_YEAR)],
                        render_kw={"inputmode": "numeric"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.status.choices = [("", _l("Any")), *choices(GrantStatus)]


@dataclass(frozen=True)
class RegisterFilter:
    """The portfolio filter plus the grant's status and award year; bad values are ignored (and shown)."""

    portfolio: PortfolioFilter = field(default_factory=PortfolioFilter)
    status: GrantStatus | None = None
    year: int | None = None

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> tuple[RegisterFilter, Any, RegisterForm]:
        """The valid filters in `args`, the portfolio filter form and the register form (with errors)."""
        multi = args if hasattr(args, "getlist") else MultiDict(args)
        portfolio, portfolio_form = PortfolioFilter.from_args(multi)
        form = RegisterForm(multi)
        form.validate()
        status = GrantStatus(form.status.data) if form.status.data and not form.status.errors else None
        year = form.year.data if form.year.data is not None and not form.year.errors else None
        return cls(portfolio, status, year), portfolio_form, form

    def args(self) -> dict[str, str]:
        """The filters as query-string arguments (links that keep them)."""
        out = self.portfolio.args()
        if self.status is not None:
            out["status"] = self.status.value
        if self.year is not None:
            out["year"] = str(self.year)
        return out


def register_query(filters: RegisterFilter | None = None) -> sa.Select[tuple[Grant]]:
    """Every grant (cancelled ones too), newest award first, narrowed by `filters`, with what a row
    shows loaded in the same query: grantee, proposal (title, beneficiary groups), challenge and city."""
    filters = filters or RegisterFilter()
    query = (sa.select(Grant).join(Challenge, Challenge.id == Grant.challenge_id)
             .join(City, City.id == Challenge.city_id)
             .options(joinedload(Grant.organization), joinedload(Grant.proposal),
                      contains_eager(Grant.challenge).contains_eager(Challenge.city))
             .order_by(Grant.awarded_at.desc(), Grant.id.desc()))
    query = filters.portfolio.apply(query)
    if filters.status is not None:
        query = query.where(Grant.status == filters.status)
    if filters.year is not None:
        query = query.where(Grant.awarded_at >= datetime(filters.year, 1, 1, tzinfo=UTC),
                            Grant.awarded_at < datetime(filters.year + 1, 1, 1, tzinfo=UTC))
    return query


def search_register(query: sa.Select[tuple[Grant]], q: str | None) -> sa.Select[tuple[Grant]]:
    """The register narrowed to grants whose public record holds every word of `q`: the proposal's title, the
    grantee's name or the challenge's title (what a row shows; never the proposal's private text)."""
    for word in words(q or ""):
        like = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(sa.or_(
            Grant.proposal_id.in_(sa.select(Proposal.id).where(Proposal.title.ilike(like, escape="\\"))),
            Grant.organization_id.in_(sa.select(Organization.id).where(Organization.name.ilike(like, escape="\\"))),
            Challenge.title.ilike(like, escape="\\")))
    return query


@dataclass
class PublicTranche:
    """What the public sees of a tranche: no deliverable text, no report, no evidence."""

    id: int
    position: int
    title: str
    amount_cents: int
    due_date: date | None
    status: TrancheStatus
    paid_on: date | None
    public_summary: str
    summary_report_id: int | None


@dataclass
class PublicGrant:
    """A grant as the public sees it, with its implementation progress."""

    grant: Grant
    tranches: list[PublicTranche]
    milestones_accepted: int
    milestones_total: int
    disbursed_cents: int
    requested_cents: int
    amendments: Sequence[GrantAmendment] = field(default_factory=list)  # in force, oldest first (the history)

    @property
    def amount_changed(self) -> bool:
        """The award differs from what the proposal asked for (the page says so)."""
        return self.grant.amount_cents != self.requested_cents

    @property
    def cancelled(self) -> bool:
        return self.grant.status == GrantStatus.CANCELLED


# A tranche counts as accepted once its milestone report was: from then on it may be, or was, paid.
ACCEPTED_TRANCHES = (TrancheStatus.ACCEPTED, TrancheStatus.DISBURSING, TrancheStatus.PAID)


def paid_dates(tranche_ids: Sequence[int]) -> dict[int, date]:
    """When each paid tranche was paid: its paid disbursement's date (one query for them all)."""
    if not tranche_ids:
        return {}
    rows = db.session.execute(
        sa.select(Disbursement.tranche_id, sa.func.max(Disbursement.paid_at))
        .where(Disbursement.tranche_id.in_(list(tranche_ids)), Disbursement.status == DisbursementStatus.PAID)
        .group_by(Disbursement.tranche_id)
    ).all()
    return {int(row[0]): row[1].date() for row in rows if row[1] is not None}


def public_grant(grant_id: int) -> PublicGrant:
    """A grant's public view (NotFound when there is no such grant): tranches, progress, public summaries."""
    grant = db.session.execute(
        sa.select(Grant).where(Grant.id == grant_id).options(
            selectinload(Grant.tranches).selectinload(Tranche.reports), selectinload(Grant.refunds),
            selectinload(Grant.tranches).selectinload(Tranche.indicators).selectinload(TrancheIndicator.readings),
            joinedload(Grant.organization),
            joinedload(Grant.proposal), joinedload(Grant.challenge).joinedload(Challenge.city))
    ).unique().scalar_one_or_none()
    if grant is None:
        raise NotFound(_("No grant %(id)s.", id=grant_id))
    paid = paid_dates([t.id for t in grant.tranches if t.status == TrancheStatus.PAID])
    tranches = [_public_tranche(t, paid.get(t.id)) for t in grant.tranches]
    return PublicGrant(
        grant=grant, tranches=tranches,
        milestones_accepted=sum(1 for t in grant.tranches if t.status in ACCEPTED_TRANCHES),
        milestones_total=len(grant.tranches),
        # Paid net of refunds (grants.paid): a refunded grant shows what it kept.
        disbursed_cents=sum(t.amount_cents for t in grant.tranches if t.status == TrancheStatus.PAID)
        - sum(refund.amount_cents for refund in grant.refunds),
        requested_cents=grant.proposal.requested_cents,
        amendments=amendments_in_force(grant.id),
    )


def _public_tranche(tranche: Tranche, paid_on: date | None) -> PublicTranche:
    accepted = [r for r in tranche.reports if r.status == ReportStatus.ACCEPTED]
    report: MilestoneReport | None = accepted[-1] if accepted else None
    return PublicTranche(
        id=tranche.id, position=tranche.position, title=tranche.title, amount_cents=tranche.amount_cents,
        due_date=tranche.due_date, status=tranche.status, paid_on=paid_on,
        public_summary=report.public_summary if report is not None else "",
        summary_report_id=report.id if report is not None else None)


def winners_of(challenge: Challenge) -> Sequence[Grant]:
    """The grants a challenge awarded (cancelled ones too), largest first, once its submissions closed;
    empty before that, so an open challenge's page names no winner early."""
    if not challenge.submissions_closed:
        return []
    return db.session.execute(
        sa.select(Grant).where(Grant.challenge_id == challenge.id)
        .options(joinedload(Grant.organization), joinedload(Grant.proposal))
        .order_by(Grant.amount_cents.desc(), Grant.id)
    ).scalars().all()
