"""Ledger fixtures: the standard chart of accounts, opened and committed."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from facility.extensions import db
from facility.ledger import services as ledger
from facility.ledger.models import LedgerEntry, LedgerTransaction


@pytest.fixture
def chart(app):
    """Donor 1's contributions, unallocated funds, challenge 1's pool, grant 1's commitment, disbursed."""
    accounts = {
        "donor": ledger.contributions_account(1),
        "unallocated": ledger.unallocated_account(),
        "pool": ledger.pool_account(1),
        "commitment": ledger.commitment_account(1),
        "disbursed": ledger.disbursed_account(),
    }
    db.session.commit()
    return accounts


@pytest.fixture
def contribute(chart):
    """Book a contribution from donor 1 and commit it."""
    counter = {"n": 0}

    def _contribute(cents: int, *, actor=None):
        counter["n"] += 1
        txn = ledger.post_transaction(
            key=f"contribution:test:{counter['n']}", kind="contribution", actor=actor,
            entries=[(ledger.UNALLOCATED, cents), (ledger.contributions_code(1), -cents)],
        )
        db.session.commit()
        return txn

    return _contribute


def counts() -> tuple[int, int]:
    """How many transactions and entries the database holds (as seen by this session)."""
    return (
        db.session.execute(sa.select(sa.func.count()).select_from(LedgerTransaction)).scalar_one(),
        db.session.execute(sa.select(sa.func.count()).select_from(LedgerEntry)).scalar_one(),
    )
