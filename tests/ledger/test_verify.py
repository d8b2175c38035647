"""verify_ledger and `facility ledger-verify` find tampering, and extra checks can be registered."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from facility.extensions import db
from facility.ledger import services as ledger
from facility.ledger import verify as ledger_verify

U, P = ledger.UNALLOCATED, ledger.pool_code(1)


def _some_postings(contribute):
    contribute(100_00)
    approval = ledger.post_transaction(key="approve:1", kind="allocation", actor=None, entries=[(P, 40_00), (U, -40_00)])
    ledger.reverse_transaction(transaction=approval, actor=None, key="unapprove:1", reason="Withdrawn")
    db.session.commit()


def _without_triggers(backend, statement, params=None):
    """Someone with database rights could drop the guards; the verification must still tell."""
    tables = ("ledger_transactions", "ledger_entries")
    if backend == "postgresql":
        for table in tables:
            db.session.execute(sa.text(f"ALTER TABLE {table} DISABLE TRIGGER {table}_no_change"))
    else:
        for table in tables:
            db.session.execute(sa.text(f"DROP TRIGGER {table}_no_update"))
            db.session.execute(sa.text(f"DROP TRIGGER {table}_no_delete"))
    db.session.execute(sa.text(statement), params or {})
    if backend == "postgresql":
        for table in tables:
            db.session.execute(sa.text(f"ALTER TABLE {table} ENABLE TRIGGER {table}_no_change"))
    db.session.commit()


def test_sound_ledger_passes(app, chart, contribute):
    _some_postings(contribute)
    assert ledger_verify.verify_ledger() == []


def test_tampered_stored_balance_is_found(app, chart, contribute):
    _some_postings(contribute)
    db.session.execute(sa.text("UPDATE ledger_accounts SET balance_cents = balance_cents + 1 WHERE code = :c"), {"c": U})
    db.session.commit()
    problems = ledger_verify.verify_ledger()
    assert problems[0] == f"account {U}: stored balance 10001 cents, entries sum to 10000 cents"
    # The public ledger (ledger.movements, registered when the app is built) no longer adds up either.
    assert problems[1:] == ["public ledger: unallocated movements sum to 10000 cents, "
                            "the stored balances say 10001 cents"]


def test_unbalanced_transaction_is_found(app, backend, chart, contribute):
    _some_postings(contribute)
    _without_triggers(backend, "UPDATE ledger_entries SET amount_cents = amount_cents + 5 WHERE id = 1")
    problems = ledger_verify.verify_ledger()
    assert any(p.startswith("transaction 1 (contribution:test:1): 2 entries summing to 5 cents") for p in problems)
    assert any(p.startswith("account ") for p in problems)  # its stored balance no longer matches either


def test_transaction_with_one_entry_is_found(app, backend, chart, contribute):
    _some_postings(contribute)
    # The reversal (transaction 3) loses an entry: it no longer balances nor mirrors transaction 2.
    entry_id = db.session.execute(sa.text("SELECT MAX(id) FROM ledger_entries")).scalar_one()
    _without_triggers(backend, "DELETE FROM ledger_entries WHERE id = :i", {"i": entry_id})
    problems = ledger_verify.verify_ledger()
    assert any(p.startswith("transaction 3 (unapprove:1): 1 entries") for p in problems)
    assert any(p.startswith("reversal 3 leaves") for p in problems)


def test_negative_guarded_balance_is_found_when_the_constraint_is_bypassed(app, backend, chart, contribute):
    contribute(5)
    # The CHECK constraint stops this; lift it inside this transaction only (PostgreSQL DDL rolls back).
    if backend == "postgresql":
        db.session.execute(sa.text("ALTER TABLE ledger_accounts DROP CONSTRAINT ck_ledger_accounts_guarded_not_negative"))
    else:
        db.session.execute(sa.text("PRAGMA ignore_check_constraints = ON"))
    try:
        db.session.execute(sa.text("UPDATE ledger_accounts SET balance_cents = -3 WHERE code = :c"), {"c": U})
        problems = ledger_verify.verify_ledger()
    finally:
        db.session.rollback()
        if backend == "sqlite":
            db.session.execute(sa.text("PRAGMA ignore_check_constraints = OFF"))
            db.session.commit()
    assert f"guarded account {U} is negative: -3 cents" in problems
    assert f"account {U}: stored balance -3 cents, entries sum to 5 cents" in problems


def test_registered_checks_run_and_can_be_removed(app):
    def every_paid_disbursement_posted_once():
        """Every paid disbursement has exactly one posting"""
        return ["disbursement 9 has no posting"]

    ledger_verify.register_check(every_paid_disbursement_posted_once)
    ledger_verify.register_check(every_paid_disbursement_posted_once)  # once only
    try:
        assert ledger_verify.verify_ledger() == ["disbursement 9 has no posting"]
        names = [name for name, _check in ledger_verify.ledger_checks()]
        assert names[-1] == "Every paid disbursement has exactly one posting"
        result = app.test_cli_runner().invoke(args=["facility", "ledger-verify"])
        assert result.exit_code == 1
        assert "Every paid disbursement has exactly one posting … 1 problem(s)" in result.output
    finally:
        ledger_verify.unregister_check(every_paid_disbursement_posted_once)
    assert ledger_verify.verify_ledger() == []


def test_verification_is_a_constant_number_of_queries(app, chart, contribute):
    _some_postings(contribute)
    for n in range(20):
        contribute(n + 1)
    statements = []

    def _count(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith("SELECT"):  # not SQLite's BEGIN IMMEDIATE
            statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", _count)
    try:
        ledger_verify.verify_ledger()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", _count)
    assert len(statements) == len(ledger_verify.ledger_checks())


def test_cli_passes_on_a_sound_ledger(app, chart, contribute):
    _some_postings(contribute)
    result = app.test_cli_runner().invoke(args=["facility", "ledger-verify"])
    assert result.exit_code == 0, result.output
    assert re.search(r"\[3/\d+\] Every stored balance equals the sum of its entries … ok", result.output)
    assert "raised USD 100.00" in result.output and "Ledger sound" in result.output


@pytest.mark.parametrize("tamper", ["balance", "entry"])
def test_cli_fails_after_tampering(app, backend, chart, contribute, tamper):
    _some_postings(contribute)
    if tamper == "balance":
        db.session.execute(sa.text("UPDATE ledger_accounts SET balance_cents = 0 WHERE code = :c"), {"c": U})
        db.session.commit()
    else:
        _without_triggers(backend, "UPDATE ledger_entries SET amount_cents = 7 WHERE id = 1")
    result = app.test_cli_runner().invoke(args=["facility", "ledger-verify"])
    assert result.exit_code == 1
    assert "problem(s) in the ledger" in result.output
