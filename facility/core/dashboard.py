"""The dashboard's building blocks: what waits for a person, counted in one query, and its line.

Each package's `queries.py` has a `# --- dashboard ---` block of functions returning a `Waiting`
(how many, the oldest one's date, the oldest one's id) from `waiting(...)`: one query per count,
aggregated in SQL, so the dashboard's query count does not grow with the rows. Its views turn
each into a `WorkItem` (a label and the page where the work is done).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import format_date, format_datetime

from facility.extensions import db


@dataclass(frozen=True)
class Waiting:
    """How many things wait, since when the oldest waits (or when the first is due), and its id."""

    count: int
    oldest: date | datetime | None
    first_id: int | None


NOTHING = Waiting(0, None, None)


def waiting(ident: Any, since: Any, *where: Any, joins: tuple[tuple[Any, Any], ...] = ()) -> Waiting:
    """Count the rows matching `where`, with the earliest `since` and that row's `ident`, in one query.

    A window count (`count(*) OVER ()`) rides on the first row, so the total and the oldest come
    back together; no rows means `NOTHING`.
    """
    query = sa.select(ident, since, sa.func.count().over())
    for target, on in joins:
        query = query.join(target, on)
    # Rows without a date go last on every backend (SQLite sorts NULL first, PostgreSQL last).
    row = db.session.execute(query.where(*where).order_by(since.is_(None), since, ident).limit(1)).first()
    if row is None:
        return NOTHING
    return Waiting(int(row[2]), row[1], int(row[0]))


@dataclass(frozen=True)
class WorkItem:
    """One line of a dashboard: how many things wait for the viewer, since when, and where to do them."""

    label: str
    count: int
    href: str
    oldest: date | datetime | None = None
    oldest_label: str = ""  # e.g. "closes first on"; "waiting since" when empty

    @property
    def oldest_text(self) -> str:
        """The oldest waiting item's date in the viewer's locale (and time zone, for a datetime)."""
        if self.oldest is None:
            return ""
        if isinstance(self.oldest, datetime):
            return str(format_datetime(self.oldest, "medium"))
        return str(format_date(self.oldest, "medium"))


def work_item(label: str, figures: Waiting, href: str, oldest_label: str = "") -> WorkItem:
    """A dashboard line from a query's `Waiting`."""
    return WorkItem(label, figures.count, href, figures.oldest, oldest_label)
