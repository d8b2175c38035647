"""The row-writing machinery of `seed-scale` (`facility.seed_scale`): the counts at a factor, batched Core
inserts with ids chosen after the highest stored ones, and the constants the seed's parts share."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from facility.extensions import db

BATCH = 5_000
WEIGHTS = (30, 25, 20, 15, 10)
GRANT_CENTS = 10_000_000  # USD 100,000 a grant, in four tranches of USD 25,000
TRANCHES = 4
# (status, phase) of challenge i, by i % 10: every state, most of them published or finished.
CHALLENGE_STATES = ("draft", "pending", "cancelled", "upcoming", "open", "open", "closed", "closed", "finished",
                    "finished")
FUNDED_STATES = ("upcoming", "open", "closed", "finished")
REVIEWED_STATES = ("open", "closed", "finished")
Progress = Callable[[int], None]

@dataclass(frozen=True)
class Scale:
    """The row counts at a factor (1.0: the issue's full scale)."""

    factor: float

    def _n(self, full: int, minimum: int) -> int:
        return max(minimum, round(full * self.factor))

    @property
    def cities(self) -> int:
        return self._n(200, 2)

    @property
    def countries(self) -> int:
        return min(60, self.cities)

    @property
    def challenges(self) -> int:
        return self._n(10_000, 10)

    @property
    def proposals(self) -> int:
        return self._n(100_000, 60)

    @property
    def grants(self) -> int:
        return min(self._n(10_000, 4), self.challenges // 10 * 2 * 5)

    @property
    def ledger_entries(self) -> int:
        return self._n(1_000_000, 200)

    @property
    def audit_events(self) -> int:
        return self._n(100_000, 50)

    @property
    def donors(self) -> int:
        return self._n(1_000, 2)

    @property
    def reviewers(self) -> int:
        return self._n(2_000, 6)

    @property
    def innovators(self) -> int:
        return self._n(5_000, 5)

    @property
    def big_challenge(self) -> int:
        """Proposals of the largest challenge (the ranking benchmark's)."""
        return min(1_000, self.proposals // 4)

def batches(rows: Iterable[dict], size: int = BATCH) -> Iterator[list[dict]]:
    batch: list[dict] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class Writer:
    """Inserts rows in batches (Core executemany) and hands out ids after the highest stored one."""

    def __init__(self, progress: Progress) -> None:
        self.connection = db.session.connection()
        self.progress = progress
        self.counts: dict[str, int] = defaultdict(int)

    def next_id(self, model: Any) -> int:
        return int(self.connection.execute(sa.select(sa.func.coalesce(sa.func.max(model.id), 0))).scalar_one()) + 1

    def insert(self, model: Any, rows: Iterable[dict]) -> None:
        table = model.__table__
        for batch in batches(rows):
            # executemany takes rows of one shape: group a batch by its keys (a missing key keeps its default).
            shapes: dict[frozenset, list[dict]] = defaultdict(list)
            for row in batch:
                shapes[frozenset(row)].append(row)
            for same in shapes.values():
                self.connection.execute(sa.insert(table), same)
            self.counts[table.name] += len(batch)
            self.progress(len(batch))

    def fix_sequences(self) -> None:
        """PostgreSQL: move each id sequence past the ids written here."""
        if self.connection.dialect.name != "postgresql":
            return
        for name in self.counts:
            table = db.metadata.tables[name]
            if "id" in table.c and isinstance(table.c.id.type, sa.Integer):
                # Built by SQLAlchemy from the table object (no SQL text): the name is bound, the table quoted.
                highest = sa.select(sa.func.coalesce(sa.func.max(table.c.id), 1)).scalar_subquery()
                self.connection.execute(sa.select(sa.func.setval(sa.func.pg_get_serial_sequence(name, "id"), highest)))


@dataclass
class ChallengePlan:
    """A challenge being seeded: its state, criteria and proposals, and the grants and pool it gets."""

    id: int
    state: str
    criteria: list[int]
    city_index: int
    proposals: list[int]
    grants: int = 0
    pool_cents: int = 0


