"""The cash forecast: what the facility has promised and when it falls due, what is late, what waits to be paid.

- Committed tranches: every unpaid tranche of a grant still in force (offered, active or completed
  with a reversed payment), by the month it is due. Their sum is the ledger's committed money
  (each grant's commitment holds exactly its unpaid tranches), shown against the unallocated money.
- Overdue milestones: a tranche whose due date has passed with no accepted report (still to report,
  or its report under review), with its grantee.
- Payments waiting: disbursements neither paid nor cancelled, by status and by age since requested.

Each is one aggregate query (or one page of rows with what it shows eager-loaded).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy.orm import contains_eager

from facility.challenges.models import Challenge
from facility.cities.models import City
from facility.disbursements.models import Disbursement, DisbursementStatus
from facility.extensions import db
from facility.grants.models import Grant, GrantStatus, Tranche, TrancheStatus
from facility.portfolio.filters import PortfolioFilter

IN_FORCE = (GrantStatus.OFFERED, GrantStatus.ACTIVE, GrantStatus.COMPLETED)
# An award awaiting approval has its money committed already (the pool is reserved): it is part of what is owed.
COMMITTED = (GrantStatus.PENDING_APPROVAL, *IN_FORCE)
NOT_REPORTED = (TrancheStatus.PENDING, TrancheStatus.EVIDENCE_SUBMITTED)
NOT_WAITING = (DisbursementStatus.PAID, DisbursementStatus.CANCELLED)
WAITING = tuple(s for s in DisbursementStatus if s not in NOT_WAITING)
NO_DUE_DATE = "none"


@dataclass(frozen=True)
class AgeBucket:
    key: str
    label: Any
    min_days: int  # inclusive
    max_days: int | None  # exclusive


AGE_BUCKETS = (
    AgeBucket("lt2", _l("Under 2 days"), 0, 2),
    AgeBucket("2to7", _l("2 to 7 days"), 2, 7),
    AgeBucket("7to30", _l("7 to 30 days"), 7, 30),
    AgeBucket("gt30", _l("Over 30 days"), 30, None),
)


def _grant_scope(flt: PortfolioFilter, query: Any) -> Any:
    return flt.apply(query.join(Challenge, Grant.challenge_id == Challenge.id).join(City, Challenge.city_id == City.id))


def committed_by_month(flt: PortfolioFilter) -> list[tuple[str, int]]:
    """Rule: unpaid tranches of grants in force or awaiting approval (their money is committed), summed by month
    due ("YYYY-MM"), months in order, tranches without a due date last (`NO_DUE_DATE`). One query grouped by
    due date."""
    query = _grant_scope(flt, sa.select(Tranche.due_date, sa.func.sum(Tranche.amount_cents))
                         .join(Grant, Tranche.grant_id == Grant.id)
                         .where(Grant.status.in_(COMMITTED), Tranche.status != TrancheStatus.PAID)
                         .group_by(Tranche.due_date))
    months: dict[str, int] = {}
    undated = 0
    for due, cents in db.session.execute(query):
        if due is None:
            undated += int(cents)
        else:
            key = f"{due.year:04d}-{due.month:02d}"
            months[key] = months.get(key, 0) + int(cents)
    rows = sorted(months.items())
    if undated:
        rows.append((NO_DUE_DATE, undated))
    return rows


def cumulative(rows: Iterable[tuple[str, int]]) -> list[int]:
    """The running total of each month's amount: what must be paid by the end of that month."""
    total, out = 0, []
    for _, cents in rows:
        total += cents
        out.append(total)
    return out


def overdue_query(flt: PortfolioFilter, today: date) -> Any:
    """Rule: a milestone is overdue when its due date has passed and no report was accepted
    (its tranche is still to report or under review) on a grant in force; oldest first.
    The grant, its grantee, challenge and city are loaded in the same query."""
    query = (sa.select(Tranche).join(Grant, Tranche.grant_id == Grant.id)
             .where(Tranche.due_date < today, Tranche.status.in_(NOT_REPORTED), Grant.status.in_(IN_FORCE))
             .options(contains_eager(Tranche.grant).joinedload(Grant.organization),
                      contains_eager(Tranche.grant).contains_eager(Grant.challenge).contains_eager(Challenge.city))
             .order_by(Tranche.due_date, Tranche.id))
    return _grant_scope(flt, query)


def overdue_milestones(flt: PortfolioFilter, today: date, *, page: int, per_page: int) -> Pagination:
    """One page of overdue milestones (two queries: the count and the page)."""
    return db.paginate(overdue_query(flt, today), page=page, per_page=per_page, error_out=False)


def _age_bucket(now: datetime) -> Any:
    """The bucket key of a disbursement's age since it was requested, as a SQL CASE."""
    whens = []
    for bucket in AGE_BUCKETS:
        if bucket.max_days is not None:
            whens.append((Disbursement.created_at > now - timedelta(days=bucket.max_days), bucket.key))
    return sa.case(*whens, else_=AGE_BUCKETS[-1].key)


def payments_waiting(flt: PortfolioFilter, now: datetime) -> dict[DisbursementStatus, dict[str, tuple[int, int]]]:
    """Rule: a payment waits from its request until it is paid or cancelled (failed ones wait for a
    re-queue). {status: {age bucket key: (count, cents)}} for every waiting status, one query."""
    bucket = _age_bucket(now).label("bucket")
    query = _grant_scope(flt, sa.select(Disbursement.status, bucket, sa.func.count(),
                                        sa.func.sum(Disbursement.amount_cents))
                         .join(Grant, Disbursement.grant_id == Grant.id)
                         .where(Disbursement.status.in_(WAITING))
                         .group_by(Disbursement.status, bucket))
    out = {status: {b.key: (0, 0) for b in AGE_BUCKETS} for status in WAITING}
    for status, key, n, cents in db.session.execute(query):
        out[DisbursementStatus(status)][key] = (int(n), int(cents))
    return out


def waiting_by_age(waiting: dict[DisbursementStatus, dict[str, tuple[int, int]]]) -> list[tuple[AgeBucket, int, int]]:
    """The waiting payments summed over their statuses, per age bucket: (bucket, count, cents)."""
    return [(b, sum(by_age[b.key][0] for by_age in waiting.values()),
             sum(by_age[b.key][1] for by_age in waiting.values())) for b in AGE_BUCKETS]
