"""Money in the ledger, booked directly (as if contributed) so that challenges and grants can be funded."""
from __future__ import annotations

from facility.extensions import db
from facility.ledger.services import contributions_account, pool_account, post_transaction, unallocated_account


def fund_facility(cents: int = 100_000_000_00, key: str = "test:funding") -> None:
    """Book a contribution straight into the ledger so that challenges can be funded, and commit."""
    post_transaction(key=key, entries=[(unallocated_account(), cents), (contributions_account(None), -cents)],
                     actor=None, kind="contribution", description="test funding")
    db.session.commit()


def fund(*, key: str, unallocated: int = 0, challenge=None, pool: int = 0) -> None:
    """Put `unallocated + pool` in the facility (as if contributed) and `pool` of it in `challenge`'s pool."""
    total = unallocated + pool
    if total:
        post_transaction(key=f"test-contribution-{key}",
                         entries=[(unallocated_account(), total), (contributions_account(None), -total)],
                         actor=None, kind="contribution")
    if pool:
        post_transaction(key=f"test-pool-{key}",
                         entries=[(pool_account(challenge.id), pool), (unallocated_account(), -pool)],
                         actor=None, kind="pool")
    db.session.commit()
