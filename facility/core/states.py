"""State machines: each status enum has its transition table beside it, and one way to move.

A table lists, for every status, the statuses it may move to. Everything that changes a
status goes through the table:

- `Transitions.move(obj, to)` for a row the caller holds locked: refuses a move outside the
  table (409) and returns the status it replaced;
- `Transitions.move_if(model, id, to)` for a move that a person and a worker may race for:
  a conditional `UPDATE ... WHERE status IN (<the states that may move to "to">)`, so exactly
  one racer wins. It returns the status the winner actually replaced (PostgreSQL: read under
  the row lock in the same statement, `RETURNING`; SQLite: every transaction already holds
  the write lock), or None when another transaction moved the row first. Timelines and the
  audit trail record that status, never a guess.

Only the package that owns a status changes it; other packages call that package's services.
"""
from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from flask_babel import gettext as _

from facility.core.errors import Conflict
from facility.core.labels import label
from facility.core.models import utcnow
from facility.extensions import db

E = TypeVar("E", bound=enum.Enum)


class Transitions(Generic[E]):
    """The moves a status enum allows: `{from_status: {to_status, ...}}`."""

    def __init__(self, enum_class: type[E], moves: Mapping[E, Iterable[E]]):
        self.enum_class = enum_class
        self.moves: dict[E, frozenset[E]] = {status: frozenset(moves.get(status, ())) for status in enum_class}
        unknown = {to for targets in self.moves.values() for to in targets} - set(enum_class)
        if unknown:
            raise ValueError(f"{enum_class.__name__}: moves to unknown statuses {unknown}")

    def allows(self, from_status: E, to_status: E) -> bool:
        return to_status in self.moves.get(from_status, frozenset())

    def sources(self, to_status: E) -> frozenset[E]:
        """Every status that may move to `to_status`."""
        return frozenset(status for status, targets in self.moves.items() if to_status in targets)

    def pairs(self) -> Iterator[tuple[E, E]]:
        """Every allowed move, for tests that exercise the whole table."""
        for status, targets in self.moves.items():
            for target in sorted(targets, key=lambda s: str(s.value)):
                yield status, target

    @property
    def final(self) -> frozenset[E]:
        """Statuses with no way out."""
        return frozenset(status for status, targets in self.moves.items() if not targets)

    def check(self, from_status: E, to_status: E, *, message: str | None = None) -> None:
        """Conflict unless the table allows `from_status -> to_status`."""
        if not self.allows(from_status, to_status):
            raise Conflict(message or _refused(self.enum_class, from_status, to_status))

    def move(self, obj: Any, to_status: E, *, message: str | None = None) -> E:
        """Set `obj.status` after checking the move against the table; returns the status replaced.

        The caller holds `obj`'s row locked (`core.database.lock_row`) so the status it read is current.
        """
        before: E = obj.status
        self.check(before, to_status, message=message)
        obj.status = to_status
        return before

    def move_if(self, model: Any, row_id: int, to_status: E, *, only_from: Iterable[E] | None = None,
                extra: Any = None, values: Mapping[str, Any] | None = None) -> E | None:
        """Move row `row_id` of `model` to `to_status` only if its status may move there now.

        `only_from` narrows the table's sources (a worker claims only `queued` or `retrying`
        rows, say); `extra` adds a condition on the row; `values` sets other columns in the
        same statement. Returns the status replaced, or None when this call lost the race.
        The ORM object, if loaded, is not refreshed: re-read it with `populate_existing`.
        """
        sources = self.sources(to_status)
        if only_from is not None:
            sources = sources & frozenset(only_from)
        if not sources:
            raise ValueError(f"{self.enum_class.__name__}: nothing may move to {to_status}")
        condition = sa.and_(model.id == row_id, model.status.in_(sorted(sources, key=lambda s: str(s.value))))
        if extra is not None:
            condition = sa.and_(condition, extra)
        updates: dict[str, Any] = {"status": to_status, **(values or {})}
        if hasattr(model, "updated_at") and "updated_at" not in updates:
            updates["updated_at"] = utcnow()
        if db.session.get_bind().dialect.name == "postgresql":
            # The subquery locks the row and reads its latest version (READ COMMITTED re-checks the
            # condition after waiting), so RETURNING gives the status this statement replaced.
            old = sa.select(model.id.label("id"), model.status.label("replaced")).where(condition).with_for_update()
            locked = old.subquery()
            statement = (sa.update(model).where(model.id == locked.c.id).values(**updates)
                         .returning(locked.c.replaced).execution_options(synchronize_session=False))
            replaced = db.session.execute(statement).scalar_one_or_none()
        else:
            # SQLite: the transaction began IMMEDIATE, so nobody writes between these two statements.
            replaced = db.session.execute(sa.select(model.status).where(condition)).scalar_one_or_none()
            if replaced is not None:
                db.session.execute(sa.update(model).where(condition).values(**updates)
                                   .execution_options(synchronize_session=False))
        if replaced is None:
            return None
        return replaced if isinstance(replaced, self.enum_class) else self.enum_class(replaced)


def _refused(enum_class: type[enum.Enum], from_status: enum.Enum, to_status: enum.Enum) -> str:
    return str(_("This cannot move from “%(before)s” to “%(after)s”.", before=label(from_status), after=label(to_status)))
