"""Reminders sent once: `send_once(kind=, obj=, person=, due=, template=, **ctx) -> bool`.

A periodic job may run any number of times, on several workers at once, and a reminder
still reaches each person once: `send_once` first inserts a `sent_reminders` row keyed by
(kind, object type, object id, person, due key) with INSERT ... ON CONFLICT DO NOTHING
(PostgreSQL and SQLite both speak it), and renders the e-mail only when that insert made a
row. The row and the e-mail (an outbox row, delivered after the commit) commit together,
so a job that fails before its commit leaves neither.

This module is rank 0 (core): it knows ids, table names and a user-like recipient only.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from facility.core.models import utcnow
from facility.core.notify import notify
from facility.extensions import db


class Person(Protocol):
    """A recipient with an account: an id, an address, a language and the opt-out."""

    id: int
    email: str
    locale: str | None
    optional_reminders: bool


@dataclass(frozen=True)
class Kind:
    name: str
    essential: bool


# Rule: a person may turn off the optional reminders (the nudges: deadlines approaching, reviews due,
# a milestone coming up); the essential ones always go out, because money or a grant's standing waits
# on them: a payment waiting for approval, and a milestone past its due date without an accepted report.
KINDS = {kind.name: kind for kind in (
    Kind("challenges.deadline", essential=False),
    Kind("review.due", essential=False),
    Kind("grants.milestone_due", essential=False),
    Kind("grants.milestone_overdue", essential=True),
    Kind("disbursements.approval_waiting", essential=True),
)}


class SentReminder(db.Model):
    """One reminder that went out: the key `send_once` inserts before it sends."""

    __tablename__ = "sent_reminders"
    __table_args__ = (
        sa.UniqueConstraint("kind", "object_type", "object_id", "user_id", "due_key", name="uq_sent_reminders_once"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(60), nullable=False)
    object_type: Mapped[str] = mapped_column(sa.String(60), nullable=False)
    object_id: Mapped[int] = mapped_column(nullable=False)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True, nullable=False)
    due_key: Mapped[str] = mapped_column(sa.String(40), nullable=False)
    sent_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)


def due_key(due: date | datetime | str) -> str:
    """The due part of the key: a date or time in ISO form (UTC), or a label such as '7d:2027-03-08'."""
    if isinstance(due, datetime | date):
        return due.isoformat()[:40]
    return str(due)[:40]


def wants(person: Person, kind: str) -> bool:
    """Rule: essential kinds always; optional kinds unless the person turned them off."""
    return KINDS[kind].essential or bool(getattr(person, "optional_reminders", True))


def _insert(values: dict[str, Any]) -> bool:
    """Insert the key unless it is there already; True when this call made the row."""
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(SentReminder).values(**values).on_conflict_do_nothing(
        index_elements=["kind", "object_type", "object_id", "user_id", "due_key"]).returning(SentReminder.id)
    # RETURNING says whether a row was made on both backends (rowcount is not reliable through the ORM).
    return db.session.execute(statement).first() is not None


def send_once(*, kind: str, obj: Any, person: Person, due: date | datetime | str, template: str,
              **context: Any) -> bool:
    """Rule: the reminder `kind` about `obj` due at `due` reaches `person` at most once, and an optional
    kind not at all once they turned optional reminders off. Returns whether it was sent now.

    Flushes (the insert), never commits: the job commits once, the e-mail goes out after that commit.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown reminder kind {kind!r}")
    if not wants(person, kind):
        return False
    made = _insert({"kind": kind, "object_type": obj.__tablename__, "object_id": obj.id, "user_id": person.id,
                    "due_key": due_key(due), "sent_at": utcnow()})
    if made:
        notify([person], template, kind=KINDS[kind], **context)
    return made
