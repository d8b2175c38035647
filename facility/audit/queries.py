"""Every read of the audit trail that the audit page and its CSV export need.

The trail names its actors by id and by the e-mail they had when they acted (`actor_label`).
Their current names come from a join on the users table, declared here as a bare table (the audit
package sits below accounts and imports only core), so a page of events is one query plus a count.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from facility.audit.models import AuditAnchor, AuditEvent
from facility.core.errors import NotFound
from facility.core.pages import Page
from facility.extensions import db

USERS = sa.table("users", sa.column("id", sa.Integer), sa.column("name", sa.String),
                 sa.column("email", sa.String))
"""The accounts' users table, only the columns the trail shows."""

PER_PAGE = 50
EXPORT_BATCH = 1000


@dataclass(frozen=True)
class Criteria:
    """What to search the trail for; None means any. Dates are UTC calendar days, both included."""

    actor_id: int | None = None
    actor_email: str | None = None
    action: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    date_from: date | None = None
    date_to: date | None = None

    def args(self) -> dict[str, str]:
        """The criteria as query-string arguments (the CSV link and the pager keep them)."""
        values = {"actor": str(self.actor_id) if self.actor_id else self.actor_email, "action": self.action,
                  "object_type": self.object_type, "object_id": self.object_id,
                  "date_from": self.date_from.isoformat() if self.date_from else None,
                  "date_to": self.date_to.isoformat() if self.date_to else None}
        return {k: v for k, v in values.items() if v}


@dataclass(frozen=True)
class Row:
    """One event with its actor's current name ("" when the account is gone or it was the system)."""

    event: AuditEvent
    actor_name: str


EventPage = Page[Row]  # one page of the trail, newest first


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def conditions(criteria: Criteria) -> list[sa.ColumnElement[bool]]:
    """The WHERE clauses of a search.

    An e-mail matches the address the actor had when acting, or the account's current address
    (so a person who changed address is still found); object type and action match exactly.
    """
    out: list[sa.ColumnElement[bool]] = []
    if criteria.actor_id is not None:
        out.append(AuditEvent.actor_id == criteria.actor_id)
    if criteria.actor_email:
        email = criteria.actor_email.lower()
        current = sa.select(USERS.c.id).where(sa.func.lower(USERS.c.email) == email).scalar_subquery()
        out.append(sa.or_(sa.func.lower(AuditEvent.actor_label) == email, AuditEvent.actor_id == current))
    if criteria.action:
        out.append(AuditEvent.action == criteria.action)
    if criteria.object_type:
        out.append(AuditEvent.object_type == criteria.object_type)
    if criteria.object_id:
        out.append(AuditEvent.object_id == criteria.object_id)
    if criteria.date_from:
        out.append(AuditEvent.occurred_at >= _day_start(criteria.date_from))
    if criteria.date_to and criteria.date_to < date.max:  # the last representable day has no end bound
        out.append(AuditEvent.occurred_at < _day_start(criteria.date_to + timedelta(days=1)))
    return out


def _rows(criteria: Criteria) -> sa.Select[Any]:
    """Matching events, newest first (the chain's order reversed), each with its actor's name."""
    return (sa.select(AuditEvent, USERS.c.name).outerjoin(USERS, USERS.c.id == AuditEvent.actor_id)
            .where(*conditions(criteria)).order_by(AuditEvent.id.desc()))


def search(criteria: Criteria, *, page: int = 1, per_page: int = PER_PAGE) -> EventPage:
    """One page of matching events, newest first: two queries (count, rows) whatever the page size."""
    total = db.session.execute(
        sa.select(sa.func.count(AuditEvent.id)).where(*conditions(criteria))).scalar_one()
    result = db.session.execute(_rows(criteria).limit(per_page).offset((page - 1) * per_page)).all()
    return EventPage(items=[Row(event, name or "") for event, name in result], total=int(total), page=page,
                     per_page=per_page)


EXPORT_COLUMNS = (AuditEvent.id, AuditEvent.occurred_at, AuditEvent.actor_id, AuditEvent.actor_label, USERS.c.name,
                  AuditEvent.action, AuditEvent.object_type, AuditEvent.object_id, AuditEvent.ip_address,
                  AuditEvent.details, AuditEvent.hash)
"""What the CSV holds, in its order (plain columns: no ORM objects pile up in the session)."""
DETAILS_AT = 9  # the details, written as canonical JSON text


def export_rows(criteria: Criteria) -> Iterator[tuple[Any, ...]]:
    """Every matching event as EXPORT_COLUMNS, newest first, read in batches by id (keyset paging:
    steady cost and bounded memory however long the trail)."""
    last_id: int | None = None
    while True:
        query = (sa.select(*EXPORT_COLUMNS).outerjoin(USERS, USERS.c.id == AuditEvent.actor_id)
                 .where(*conditions(criteria)).order_by(AuditEvent.id.desc()).limit(EXPORT_BATCH))
        if last_id is not None:
            query = query.where(AuditEvent.id < last_id)
        batch = db.session.execute(query).all()
        for row in batch:
            values = list(row)
            values[DETAILS_AT] = json.dumps(values[DETAILS_AT], sort_keys=True, ensure_ascii=False, default=str)
            yield tuple(values)
        if len(batch) < EXPORT_BATCH:
            return
        last_id = batch[-1][0]


def get_event(event_id: int) -> Row:
    """One event with its actor's name; NotFound when there is none."""
    found = db.session.execute(
        sa.select(AuditEvent, USERS.c.name).outerjoin(USERS, USERS.c.id == AuditEvent.actor_id)
        .where(AuditEvent.id == event_id)).first()
    if found is None:
        raise NotFound(_("There is no audit event %(id)s.", id=event_id))
    return Row(found[0], found[1] or "")


def object_events(event: AuditEvent, *, limit: int = 20) -> list[AuditEvent]:
    """The other events on the same object, newest first (the event page's context)."""
    if not event.object_type or not event.object_id:
        return []
    return list(db.session.execute(
        sa.select(AuditEvent).where(AuditEvent.object_type == event.object_type,
                                    AuditEvent.object_id == event.object_id, AuditEvent.id != event.id)
        .order_by(AuditEvent.id.desc()).limit(limit)).scalars())


def known_actions() -> list[str]:
    """Every action recorded so far, alphabetically (the search form's suggestions)."""
    return list(db.session.execute(sa.select(AuditEvent.action).distinct().order_by(AuditEvent.action)).scalars())


@dataclass(frozen=True)
class TrailSummary:
    records: int
    latest_at: datetime | None


def trail_summary() -> TrailSummary:
    """How many records the trail holds and when the latest was made (one query)."""
    count, latest = db.session.execute(
        sa.select(sa.func.count(AuditEvent.id), sa.func.max(AuditEvent.occurred_at))).one()
    return TrailSummary(records=int(count), latest_at=latest)


def anchors_page(page: int, per_page: int) -> Page[AuditAnchor]:
    """One page of the chain's anchors, newest first."""
    total = db.session.execute(sa.select(sa.func.count(AuditAnchor.id))).scalar_one()
    items = db.session.execute(sa.select(AuditAnchor).order_by(AuditAnchor.id.desc())
                               .limit(per_page).offset((page - 1) * per_page)).scalars().all()
    return Page(items=list(items), total=int(total), page=page, per_page=per_page)
