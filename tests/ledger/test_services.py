"""Postings: balanced, integer, idempotent, guarded, reversible once, immutable."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from facility.audit.models import AuditEvent
from facility.core.errors import Conflict, ValidationFailed
from facility.extensions import db
from facility.ledger import balances as ledger_balances
from facility.ledger import services as ledger
from facility.ledger import verify as ledger_verify
from facility.ledger.models import AccountKind, LedgerAccount, LedgerEntry, LedgerTransaction
from tests.ledger.conftest import counts

U, P, C, D = ledger.UNALLOCATED, ledger.pool_code(1), ledger.commitment_code(1), ledger.DISBURSED
DONOR = ledger.contributions_code(1)


def test_balanced_posting_moves_money_and_is_audited(app, chart, make_user):
    manager = make_user("fund_manager")
    txn = ledger.post_transaction(key="contribution:1", kind="contribution", actor=manager,
                                  entries=[(U, 50_000), (chart["donor"], -50_000)],
                                  description="Wire", metadata={"reference": "ABC"})
    db.session.commit()
    db.session.expire_all()
    assert ledger_balances.balance(U) == 50_000
    assert ledger_balances.balance(DONOR) == -50_000
    assert chart["donor"].normal_balance_cents == 50_000
    stored = db.session.get(LedgerTransaction, txn.id)
    assert stored.created_by_id == manager.id and stored.meta == {"reference": "ABC"}
    assert sorted(e.amount_cents for e in stored.entries) == [-50_000, 50_000]
    event = db.session.execute(sa.select(AuditEvent).where(AuditEvent.action == "ledger.posted")).scalar_one()
    assert event.actor_id == manager.id and event.object_id == str(txn.id)
    assert event.details["key"] == "contribution:1"
    assert ledger_verify.verify_ledger() == []


def test_full_flow_and_totals(app, chart, contribute):
    contribute(1_000_00)
    ledger.post_transaction(key="approve:1", kind="allocation", actor=None, entries=[(P, 600_00), (U, -600_00)])
    ledger.post_transaction(key="award:1", kind="award", actor=None, entries=[(C, 400_00), (P, -400_00)])
    ledger.post_transaction(key="pay:1", kind="disbursement", actor=None, entries=[(D, 150_00), (C, -150_00)])
    db.session.commit()
    assert ledger_balances.facility_totals() == {
        "raised": 1_000_00, "unallocated": 400_00, "allocated": 200_00, "committed": 250_00,
        "disbursed": 150_00, "held": 850_00, "target": 100_000_000_000,
    }
    assert ledger_verify.verify_ledger() == []


def test_totals_take_one_query(app, chart, contribute):
    contribute(10)
    statements = []

    def _count(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith("SELECT"):  # not SQLite's BEGIN IMMEDIATE
            statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", _count)
    try:
        ledger_balances.facility_totals()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", _count)
    assert len(statements) == 1


@pytest.mark.parametrize("entries, message", [
    ([(U, 100), (DONOR, -99)], "sum to zero"),
    ([(U, 100)], "at least two"),
    ([], "at least two"),
    ([(U, 0), (DONOR, 0)], "cannot be zero"),
    ([(U, 1.5), (DONOR, -1.5)], "whole numbers"),
    ([(U, 100.0), (DONOR, -100.0)], "whole numbers"),
    ([(U, "100"), (DONOR, "-100")], "whole numbers"),
    ([(U, True), (DONOR, -1)], "whole numbers"),
    ([(U, 10**16), (DONOR, -(10**16))], "larger"),
    ([(U, 100), (U, -100)], "only once"),
    ([(U, 100), ("no:such:account", -100)], "No ledger account"),
    ([(U, 100), (None, -100)], "ledger account"),
    ([(U, 100, 1), (DONOR, -100)], "pairs"),
])
def test_bad_postings_are_refused_and_nothing_written(app, chart, entries, message):
    before = counts()
    with pytest.raises(ValidationFailed) as caught:
        ledger.post_transaction(key="bad", kind="contribution", actor=None, entries=entries)
    assert message in caught.value.detail
    assert "entries" in caught.value.errors
    assert counts() == before  # nothing flushed either
    db.session.rollback()
    assert ledger_balances.balance(U) == 0


@pytest.mark.parametrize("field, kwargs", [
    ("key", {"key": ""}), ("key", {"key": "k" * 201}), ("kind", {"kind": " "}),
])
def test_key_and_kind_are_required(app, chart, field, kwargs):
    arguments = {"key": "k", "kind": "contribution", "actor": None, "entries": [(U, 1), (DONOR, -1)]} | kwargs
    with pytest.raises(ValidationFailed) as caught:
        ledger.post_transaction(**arguments)
    assert field in caught.value.errors


def test_same_key_same_posting_is_booked_once(app, chart):
    first = ledger.post_transaction(key="contribution:7", kind="contribution", actor=None,
                                    entries=[(U, 500), (DONOR, -500)])
    db.session.commit()
    again = ledger.post_transaction(key="contribution:7", kind="contribution", actor=None,
                                    entries=[(DONOR, -500), (chart["unallocated"], 500)])
    db.session.commit()
    assert again.id == first.id
    assert ledger_balances.balance(U) == 500
    assert counts() == (1, 2)
    assert db.session.execute(sa.select(sa.func.count()).select_from(AuditEvent)).scalar_one() == 1


@pytest.mark.parametrize("entries, kind", [
    ([(U, 600), (DONOR, -600)], "contribution"),
    ([(U, 500), (DONOR, -500)], "refund"),
    ([(P, 500), (DONOR, -500)], "contribution"),
])
def test_reusing_a_key_for_another_posting_is_a_conflict(app, chart, entries, kind):
    ledger.post_transaction(key="contribution:7", kind="contribution", actor=None, entries=[(U, 500), (DONOR, -500)])
    db.session.commit()
    with pytest.raises(Conflict, match="already used"):
        ledger.post_transaction(key="contribution:7", kind=kind, actor=None, entries=entries)
    db.session.rollback()
    assert ledger_balances.balance(U) == 500 and counts() == (1, 2)


def test_guarded_account_cannot_go_negative_and_nothing_is_written(app, chart, contribute):
    contribute(100_00)
    before = counts()
    audit_before = db.session.execute(sa.select(sa.func.count()).select_from(AuditEvent)).scalar_one()
    with pytest.raises(Conflict) as caught:
        ledger.post_transaction(key="approve:1", kind="allocation", actor=None, entries=[(P, 100_01), (U, -100_01)])
    message = caught.value.detail
    assert message.startswith("Not enough money in Facility unallocated funds")
    assert "short by USD 0.01" in message
    assert counts() == before
    assert db.session.execute(sa.select(sa.func.count()).select_from(AuditEvent)).scalar_one() == audit_before
    db.session.rollback()
    db.session.expire_all()
    assert ledger_balances.balance(U) == 100_00 and ledger_balances.balance(P) == 0
    # Exactly everything is allowed: the guard is "not below zero".
    ledger.post_transaction(key="approve:1", kind="allocation", actor=None, entries=[(P, 100_00), (U, -100_00)])
    db.session.commit()
    assert ledger_balances.balance(U) == 0 and ledger_balances.balance(P) == 100_00


def test_unguarded_accounts_may_go_negative(app, chart):
    # Contributions are credit balances: negative in normal use.
    ledger.post_transaction(key="c", kind="contribution", actor=None, entries=[(U, 1), (DONOR, -1)])
    db.session.commit()
    assert ledger_balances.balance(DONOR) == -1


def test_database_refuses_a_negative_guarded_balance(app, chart):
    with pytest.raises(sa.exc.IntegrityError):
        db.session.execute(sa.update(LedgerAccount).where(LedgerAccount.code == U).values(balance_cents=-1))
        db.session.flush()
    db.session.rollback()


def test_reversal_negates_and_links(app, chart, contribute, make_user):
    manager = make_user("fund_manager")
    contribute(100_00)
    approval = ledger.post_transaction(key="approve:1", kind="allocation", actor=manager,
                                       entries=[(P, 70_00), (U, -70_00)])
    db.session.commit()
    reversal = ledger.reverse_transaction(transaction=approval, actor=manager, key="unapprove:1",
                                          reason="Challenge withdrawn")
    db.session.commit()
    db.session.expire_all()
    assert reversal.reverses_id == approval.id and reversal.kind == "reversal"
    assert reversal.description == "Challenge withdrawn"
    assert {e.account.code: e.amount_cents for e in reversal.entries} == {P: -70_00, U: 70_00}
    assert ledger_balances.balance(U) == 100_00 and ledger_balances.balance(P) == 0
    assert ledger_verify.verify_ledger() == []
    # A retried reversal request is the same reversal.
    again = ledger.reverse_transaction(transaction=approval, actor=manager, key="unapprove:1",
                                       reason="Challenge withdrawn")
    assert again.id == reversal.id


def test_double_reversal_is_refused(app, chart, contribute):
    txn = contribute(100_00)
    ledger.reverse_transaction(transaction=txn, actor=None, key="refund:1", reason="Returned to donor")
    db.session.commit()
    with pytest.raises(Conflict, match="already reversed"):
        ledger.reverse_transaction(transaction=txn, actor=None, key="refund:2", reason="Again")
    db.session.rollback()
    assert ledger_balances.balance(U) == 0 and counts() == (2, 4)


def test_reversal_of_a_reversal_is_refused(app, chart, contribute):
    txn = contribute(100_00)
    reversal = ledger.reverse_transaction(transaction=txn, actor=None, key="refund:1", reason="Returned")
    db.session.commit()
    with pytest.raises(Conflict, match="itself a reversal"):
        ledger.reverse_transaction(transaction=reversal, actor=None, key="refund:1:undo", reason="Oops")


def test_reversal_respects_the_guards(app, chart, contribute):
    txn = contribute(100_00)
    ledger.post_transaction(key="approve:1", kind="allocation", actor=None, entries=[(P, 80_00), (U, -80_00)])
    db.session.commit()
    with pytest.raises(Conflict, match="short by USD 80.00"):
        ledger.reverse_transaction(transaction=txn, actor=None, key="refund:1", reason="Donor asked")
    db.session.rollback()
    assert ledger_balances.balance(U) == 20_00


def test_reversal_needs_a_reason(app, chart, contribute):
    txn = contribute(1)
    with pytest.raises(ValidationFailed) as caught:
        ledger.reverse_transaction(transaction=txn, actor=None, key="r", reason="  ")
    assert "reason" in caught.value.errors


def test_orm_refuses_changes_to_transactions_and_entries(app, chart, contribute):
    contribute(100)
    txn = db.session.execute(sa.select(LedgerTransaction)).scalar_one()
    txn.description = "rewritten"
    with pytest.raises(RuntimeError, match="immutable"):
        db.session.flush()
    db.session.rollback()
    entry = db.session.execute(sa.select(LedgerEntry).limit(1)).scalar_one()
    entry.amount_cents = 1
    with pytest.raises(RuntimeError, match="immutable"):
        db.session.flush()
    db.session.rollback()
    entry = db.session.execute(sa.select(LedgerEntry).limit(1)).scalar_one()
    db.session.delete(entry)
    with pytest.raises(RuntimeError, match="immutable"):
        db.session.flush()
    db.session.rollback()


@pytest.mark.parametrize("statement", [
    "UPDATE ledger_entries SET amount_cents = amount_cents * 2",
    "DELETE FROM ledger_entries",
    "UPDATE ledger_transactions SET description = 'x'",
    "DELETE FROM ledger_transactions",
])
def test_database_refuses_changes_to_transactions_and_entries(app, chart, contribute, statement):
    contribute(100)
    with pytest.raises(sa.exc.DBAPIError, match="immutable"):
        db.session.execute(sa.text(statement))
        db.session.commit()
    db.session.rollback()
    assert counts() == (1, 2)


def test_get_or_create_account_is_idempotent_and_keeps_its_kind(app):
    first = ledger.pool_account(5)
    again = ledger.pool_account(5)
    assert first.id == again.id and first.guarded and first.kind == AccountKind.ASSET
    with pytest.raises(Conflict):
        ledger.get_or_create_account(code=ledger.pool_code(5), name="x", kind="asset", guarded=False)
    with pytest.raises(ValidationFailed):
        ledger.get_or_create_account(code="", name="x", kind="asset", guarded=False)
    with pytest.raises(ValueError):
        ledger.get_or_create_account(code="x", name="x", kind="bogus", guarded=False)


def test_balance_of_an_unopened_account_is_zero(app):
    assert ledger_balances.balance(ledger.pool_code(999)) == 0
