"""Racing postings: guards, idempotency keys and reversals hold when many requests run at once.

Each thread works like a separate request: its own app context, hence its own
session and database connection, committing once.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa

from facility.core.errors import Conflict
from facility.extensions import db
from facility.ledger import balances as ledger_balances
from facility.ledger import services as ledger
from facility.ledger import verify as ledger_verify
from facility.ledger.models import LedgerAccount, LedgerTransaction
from tests.ledger.conftest import counts

U, P = ledger.UNALLOCATED, ledger.pool_code(1)
UNIT = 1_00


def _in_request(app, work):
    """Run `work()` in a fresh app context, commit it, and say how it ended."""
    def _run(n):
        with app.app_context():
            try:
                result = work(n)
                db.session.commit()
                return ("ok", result)
            except Conflict as error:
                db.session.rollback()
                return ("conflict", error.detail)
            finally:
                db.session.remove()
    return _run


def _race(app, work, attempts, workers=16):
    db.session.commit()  # the test's own transaction must not hold the SQLite lock
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(_in_request(app, work), range(attempts)))
    db.session.expire_all()
    return results


def test_200_racing_withdrawals_from_100_units(app, chart, contribute):
    contribute(100 * UNIT)

    def withdraw(n):
        return ledger.post_transaction(key=f"race:{n}", kind="allocation", actor=None,
                                       entries=[(P, UNIT), (U, -UNIT)]).id

    results = _race(app, withdraw, 200)
    outcomes = [outcome for outcome, _ in results]
    assert outcomes.count("ok") == 100
    assert outcomes.count("conflict") == 100
    assert all(detail.startswith("Not enough money in") for outcome, detail in results if outcome == "conflict")
    assert ledger_balances.balance(U) == 0
    assert ledger_balances.balance(P) == 100 * UNIT
    assert counts() == (101, 202)
    assert ledger_verify.verify_ledger() == []


def test_racing_retries_of_one_key_book_once(app, chart, contribute):
    contribute(10 * UNIT)

    def retry(_n):
        return ledger.post_transaction(key="approve:1", kind="allocation", actor=None,
                                       entries=[(P, 3 * UNIT), (U, -3 * UNIT)]).id

    results = _race(app, retry, 40, workers=8)
    assert {outcome for outcome, _ in results} == {"ok"}
    assert len({txn_id for _, txn_id in results}) == 1
    assert ledger_balances.balance(U) == 7 * UNIT and ledger_balances.balance(P) == 3 * UNIT
    assert ledger_verify.verify_ledger() == []


def test_racing_reversals_reverse_once(app, chart, contribute):
    original_id = contribute(10 * UNIT).id

    def reverse(n):
        original = db.session.get(LedgerTransaction, original_id)
        return ledger.reverse_transaction(transaction=original, actor=None, key=f"refund:{n}", reason="Refund").id

    results = _race(app, reverse, 30, workers=8)
    outcomes = [outcome for outcome, _ in results]
    assert outcomes.count("ok") == 1 and outcomes.count("conflict") == 29
    assert ledger_balances.balance(U) == 0
    reversals = db.session.execute(
        sa.select(sa.func.count()).select_from(LedgerTransaction).where(LedgerTransaction.reverses_id == original_id)
    ).scalar_one()
    assert reversals == 1
    assert ledger_verify.verify_ledger() == []


def test_racing_account_openings_make_one_account(app):
    results = _race(app, lambda _n: ledger.pool_account(42).id, 24, workers=8)
    assert {outcome for outcome, _ in results} == {"ok"}
    assert len({account_id for _, account_id in results}) == 1
    assert db.session.execute(sa.select(sa.func.count()).select_from(LedgerAccount)).scalar_one() == 1
