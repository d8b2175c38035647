"""The facts of each published grant, read in id-ordered batches, and the data's freshness.

Every awarded grant is published (offered, active, completed and cancelled; a cancelled one says
so). A grant exists only for a submitted proposal, so nothing here comes from a draft. Read are
only: the grant's amount, status and dates; its tranches' titles, amounts and due dates; the
payments made (paid disbursements: amount and date); each tranche's indicators (code, unit, baseline, target,
direction) and their latest verified value; the proposal's title and summary; the
challenge, its city and country; the grantee organisation's name, type, country and org-id.
Never read: people (names, e-mails), payout accounts, reviews, reports.
"""
from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, NamedTuple

import sqlalchemy as sa

from facility.accounts.models import Organization
from facility.challenges.models import Challenge
from facility.cities import countries
from facility.cities.models import City
from facility.disbursements.models import Disbursement, DisbursementStatus
from facility.extensions import db
from facility.grants.indicator_models import IndicatorReading, ReadingStatus, TrancheIndicator
from facility.grants.models import Grant, GrantStatus, Tranche
from facility.ledger.models import LedgerTransaction
from facility.proposals.indicator_models import Direction, unscaled
from facility.proposals.models import Proposal

BATCH = 500


# NamedTuples, not frozen dataclasses: an export builds hundreds of thousands of them, and a
# frozen dataclass's __init__ costs several times a tuple's.
class TrancheFacts(NamedTuple):
    position: int
    title: str
    amount_cents: int
    due_date: date | None


class Payment(NamedTuple):
    """A paid disbursement (a reversed one is failed, not paid, and so not here)."""

    id: int
    amount_cents: int
    paid_on: date


class IndicatorFacts(NamedTuple):
    """A tranche's indicator with its latest verified value (values not verified are never published)."""

    tranche_position: int
    code: str
    unit: str
    baseline: Decimal
    target: Decimal
    increase: bool
    verified: Decimal | None


class GrantFacts(NamedTuple):
    id: int
    title: str
    description: str
    status: GrantStatus
    amount_cents: int
    awarded_on: date
    accepted_on: date | None
    updated_at: datetime
    organisation_id: int
    organisation_name: str
    organisation_type: str
    organisation_country: str  # alpha-2, "" when unknown
    org_identifier: str | None
    challenge_id: int
    challenge_title: str
    focus_area: str
    sdg_targets: tuple[str, ...]
    city_id: int
    city_name: str
    country: str  # the city's country, alpha-2 ("" when unknown)
    tranches: tuple[TrancheFacts, ...]
    payments: tuple[Payment, ...]
    indicators: tuple[IndicatorFacts, ...] = ()

    @property
    def disbursed_cents(self) -> int:
        return sum(p.amount_cents for p in self.payments)

    @property
    def planned_start(self) -> date:
        """The grant's work starts when it is awarded."""
        return self.awarded_on

    @property
    def planned_end(self) -> date | None:
        """The last tranche's due date (None when no tranche has one)."""
        dues = [t.due_date for t in self.tranches if t.due_date is not None]
        return max(dues) if dues else None

    @property
    def last_paid_on(self) -> date | None:
        return max((p.paid_on for p in self.payments), default=None)

    @property
    def completed_on(self) -> date | None:
        """A completed grant ended with its last payment."""
        return self.last_paid_on if self.status is GrantStatus.COMPLETED else None


def _day(value: datetime | None) -> date | None:
    return value.date() if value is not None else None


# Plain column rows, not ORM objects: nothing enters the session's identity map, so a long export
# holds one batch at a time and loads nothing it does not publish.
_GRANT_COLUMNS = (Grant.id, Grant.amount_cents, Grant.status, Grant.awarded_at, Grant.accepted_at, Grant.updated_at,
                  Organization.id, Organization.name, Organization.org_type, Organization.country,
                  Organization.org_identifier, Proposal.title, Proposal.summary, Challenge.id, Challenge.title,
                  Challenge.focus_area, Challenge.sdg_targets, City.id, City.name, City.country)


def _grant_rows(conn: sa.Connection, after: int, limit: int) -> list[Any]:
    query = (sa.select(*_GRANT_COLUMNS)
             .join(Organization, Organization.id == Grant.organization_id)
             .join(Proposal, Proposal.id == Grant.proposal_id)
             .join(Challenge, Challenge.id == Grant.challenge_id)
             .join(City, City.id == Challenge.city_id)
             .where(Grant.id > after).order_by(Grant.id).limit(limit))
    return list(conn.execute(query))


# A batch is a run of ids in order, so its tranches and payments are a range of grant ids (one short
# statement the driver prepares once, not an IN list of 500 parameters).
def _tranches(conn: sa.Connection, first: int, last: int) -> dict[int, list[TrancheFacts]]:
    rows = conn.execute(
        sa.select(Tranche.grant_id, Tranche.position, Tranche.title, Tranche.amount_cents, Tranche.due_date)
        .where(Tranche.grant_id.between(first, last)).order_by(Tranche.grant_id, Tranche.position))
    out: dict[int, list[TrancheFacts]] = defaultdict(list)
    for grant_id, position, title, cents, due in rows:
        out[grant_id].append(TrancheFacts(position=position, title=title, amount_cents=cents, due_date=due))
    return out


def _payments(conn: sa.Connection, first: int, last: int) -> dict[int, list[Payment]]:
    rows = conn.execute(
        sa.select(Disbursement.grant_id, Disbursement.id, Disbursement.amount_cents, Disbursement.paid_at)
        .where(Disbursement.grant_id.between(first, last), Disbursement.status == DisbursementStatus.PAID,
               Disbursement.paid_at.is_not(None))
        .order_by(Disbursement.grant_id, Disbursement.paid_at, Disbursement.id))
    out: dict[int, list[Payment]] = defaultdict(list)
    for grant_id, payment_id, cents, paid_at in rows:
        out[grant_id].append(Payment(id=payment_id, amount_cents=cents, paid_on=_day(paid_at) or date.min))
    return out


def _indicators(conn: sa.Connection, first: int, last: int) -> dict[int, list[IndicatorFacts]]:
    latest = (sa.select(IndicatorReading.indicator_id, sa.func.max(IndicatorReading.id).label("reading_id"))
              .where(IndicatorReading.status == ReadingStatus.VERIFIED).group_by(IndicatorReading.indicator_id)
              .subquery())
    rows = conn.execute(
        sa.select(Tranche.grant_id, Tranche.position, TrancheIndicator.code, TrancheIndicator.unit,
                  TrancheIndicator.baseline_scaled, TrancheIndicator.target_scaled, TrancheIndicator.direction,
                  IndicatorReading.value_scaled)
        .join(Tranche, Tranche.id == TrancheIndicator.tranche_id)
        .outerjoin(latest, latest.c.indicator_id == TrancheIndicator.id)
        .outerjoin(IndicatorReading, IndicatorReading.id == latest.c.reading_id)
        .where(Tranche.grant_id.between(first, last))
        .order_by(Tranche.grant_id, Tranche.position, TrancheIndicator.id))
    out: dict[int, list[IndicatorFacts]] = defaultdict(list)
    for grant_id, position, code, unit, baseline, target, direction, value in rows:
        out[grant_id].append(IndicatorFacts(
            tranche_position=position, code=code, unit=unit, baseline=unscaled(baseline), target=unscaled(target),
            increase=Direction(direction) is Direction.INCREASE, verified=None if value is None else unscaled(value)))
    return out


def _facts(row: Any, tranches: list[TrancheFacts], payments: list[Payment],
           indicators: list[IndicatorFacts] | None = None) -> GrantFacts:
    (grant_id, cents, status, awarded_at, accepted_at, updated_at, org_id, org_name, org_type, org_country,
     org_identifier, title, summary, challenge_id, challenge_title, focus_area, sdg_targets, city_id,
     city_name, city_country) = row
    return GrantFacts(
        id=grant_id, title=title, description=summary or challenge_title, status=GrantStatus(status),
        amount_cents=cents, awarded_on=awarded_at.date(), accepted_on=_day(accepted_at), updated_at=updated_at,
        organisation_id=org_id, organisation_name=org_name,
        organisation_type=org_type.value if org_type is not None else "",
        organisation_country=countries.alpha2_of(org_country), org_identifier=org_identifier or None,
        challenge_id=challenge_id, challenge_title=challenge_title, focus_area=focus_area.value,
        sdg_targets=tuple(str(code) for code in sdg_targets or ()), city_id=city_id, city_name=city_name,
        country=countries.alpha2_of(city_country), tranches=tuple(tranches), payments=tuple(payments),
        indicators=tuple(indicators or ()))


def published_grants(engine: sa.Engine, batch: int = BATCH) -> Iterator[GrantFacts]:
    """Every published grant in id order, `batch` at a time (keyset pagination: the next batch starts
    after the last id, so a long export never holds more than one batch of rows).

    It reads on a connection of its own, opened on the first grant asked for and closed when the
    iteration ends or is closed: a streamed response needs no request context (and leaves none behind
    when a client goes away), and on PostgreSQL the whole file is one repeatable-read snapshot.
    """
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        after = 0
        while True:
            rows = _grant_rows(conn, after, batch)
            if not rows:
                return
            ids = [int(r[0]) for r in rows]
            tranches, paid = _tranches(conn, ids[0], ids[-1]), _payments(conn, ids[0], ids[-1])
            measured = _indicators(conn, ids[0], ids[-1])
            for row, grant_id in zip(rows, ids, strict=True):
                yield _facts(row, tranches.get(grant_id, []), paid.get(grant_id, []), measured.get(grant_id, []))
            after = ids[-1]


@dataclass(frozen=True)
class Freshness:
    """What changes whenever a published fact may have changed, cheap to compute (one query)."""

    etag: str
    last_modified: datetime


def _aware(value: datetime | None) -> datetime:
    if value is None:
        return datetime(2026, 1, 1, tzinfo=UTC)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def freshness(salt: str) -> Freshness:
    """The ETag and Last-Modified of the open data: from the newest grant, organisation and challenge
    change, the number of grants, the newest ledger transaction (every payment is one) and the number of
    tranches; `salt` names the format and the publisher's settings."""
    row = db.session.execute(sa.select(
        sa.select(sa.func.max(Grant.updated_at)).scalar_subquery(),
        sa.select(sa.func.count(Grant.id)).scalar_subquery(),
        sa.select(sa.func.max(LedgerTransaction.id)).scalar_subquery(),
        # The newest transaction's time by its id (the primary key's index), not a scan of every transaction.
        sa.select(LedgerTransaction.created_at).order_by(LedgerTransaction.id.desc()).limit(1).scalar_subquery(),
        sa.select(sa.func.max(Organization.updated_at)).scalar_subquery(),
        sa.select(sa.func.max(Challenge.updated_at)).scalar_subquery(),
        sa.select(sa.func.count(Tranche.id)).scalar_subquery(),
        # A verified value is published: a verification (or a new indicator) changes the data.
        sa.select(sa.func.max(IndicatorReading.verified_at)).scalar_subquery(),
        sa.select(sa.func.count(TrancheIndicator.id)).scalar_subquery(),
    )).one()
    stamps = [_aware(row[i]) for i in (0, 3, 4, 5) if row[i] is not None]
    digest = hashlib.sha256(f"{salt}|{'|'.join(map(str, row))}".encode()).hexdigest()[:32]
    return Freshness(etag=digest, last_modified=max(stamps, default=_aware(None)).replace(microsecond=0))
