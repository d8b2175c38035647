"""Hypothesis drives random money flows against the ledger and a shadow model of it.

Contributions, allocations to prize pools, awards to commitments,
disbursements, reversals, retried and conflicting keys, with amounts that
often do not fit. After every step the stored balances, the totals and every
invariant of `verify_ledger` must agree with the model.
"""
from __future__ import annotations

from collections import Counter

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from facility.core.errors import Conflict, ValidationFailed
from facility.extensions import db
from facility.ledger import balances as ledger_balances
from facility.ledger import services as ledger
from facility.ledger import verify as ledger_verify
from facility.ledger.models import LedgerAccount, LedgerTransaction
from tests.conftest import _reset_database

U, D = ledger.UNALLOCATED, ledger.DISBURSED
amounts = st.one_of(st.integers(1, 5_000), st.integers(1, 10**9))
donors, challenges, grants = st.integers(1, 3), st.integers(1, 3), st.integers(1, 4)  # ids
OUTCOMES: Counter[str] = Counter()  # what the runs exercised, checked at the end


class LedgerMachine(RuleBasedStateMachine):
    app = None  # set by the test: the `app` fixture of the backend under test

    def __init__(self) -> None:
        super().__init__()
        db.session.remove()
        _reset_database(self.app)
        self.balances: dict[str, int] = {}
        self.guarded: set[str] = set()
        self.transactions: list[dict] = []  # key, kind, entries, id, reversed, reversal
        self.serial = 0

    def teardown(self) -> None:
        db.session.rollback()
        db.session.remove()

    # --- helpers ---------------------------------------------------------

    def _open(self, code: str) -> None:
        if code == U:
            ledger.unallocated_account()
        elif code == D:
            ledger.disbursed_account()
        elif code.startswith("donor:"):
            ledger.contributions_account(int(code.split(":")[1]))
        elif code.startswith("challenge:"):
            ledger.pool_account(int(code.split(":")[1]))
        else:
            ledger.commitment_account(int(code.split(":")[1]))
        if code in (U,) or code.startswith(("challenge:", "grant:")):
            self.guarded.add(code)

    def _amount(self, data, source: str) -> int:
        """Mostly an amount the source account can pay, otherwise one it cannot."""
        available = self.balances.get(source, 0)
        if available > 0 and data.draw(st.sampled_from([True, True, False])):
            return data.draw(st.integers(1, available))
        return data.draw(st.integers(available + 1, available + 10**9))

    def _fits(self, entries: dict[str, int]) -> bool:
        return all(self.balances.get(code, 0) + amount >= 0 for code, amount in entries.items() if code in self.guarded)

    def _apply(self, entries: dict[str, int]) -> None:
        for code, amount in entries.items():
            self.balances[code] = self.balances.get(code, 0) + amount

    def _post(self, kind: str, entries: dict[str, int], *, count: bool = True) -> None:
        self.serial += 1
        key = f"model-{kind}:{self.serial}"  # not the disbursements package's own keys (it checks those)
        for code in entries:
            self._open(code)
        expected_ok = self._fits(entries)
        try:
            txn = ledger.post_transaction(key=key, kind=kind, actor=None, entries=list(entries.items()))
        except Conflict as error:
            db.session.rollback()
            assert not expected_ok, f"refused a posting that fits: {error.detail}"
            assert error.detail.startswith("Not enough money in")
            OUTCOMES[f"{kind} refused"] += count
            return
        db.session.commit()
        assert expected_ok, "booked a posting that takes a guarded account below zero"
        OUTCOMES[f"{kind} booked"] += count
        self._apply(entries)
        self.transactions.append({"key": key, "kind": kind, "entries": entries, "id": txn.id,
                                  "reversed": False, "reversal": False})

    # --- rules -----------------------------------------------------------

    @initialize(amount=st.integers(4, 10**9))
    def funded_start(self, amount):
        """Money in every stage from the start, so that short runs reach awards and disbursements."""
        self._post("contribution", {U: amount, ledger.contributions_code(1): -amount}, count=False)
        self._post("allocation", {ledger.pool_code(1): amount // 2, U: -(amount // 2)}, count=False)
        self._post("award", {ledger.commitment_code(1): amount // 4, ledger.pool_code(1): -(amount // 4)}, count=False)

    @rule(donor=donors, amount=amounts)
    def contribute(self, donor, amount):
        self._post("contribution", {U: amount, ledger.contributions_code(donor): -amount})

    @rule(challenge=challenges, data=st.data())
    def allocate(self, challenge, data):
        amount = self._amount(data, U)
        self._post("allocation", {ledger.pool_code(challenge): amount, U: -amount})

    def _source(self, data, ids: list[int], code) -> int:
        """Mostly an account that holds money, so that the flows reach their later stages."""
        funded = [n for n in ids if self.balances.get(code(n), 0) > 0]
        return data.draw(st.sampled_from(funded or ids))

    @rule(grant=grants, data=st.data())
    def award(self, grant, data):
        challenge = self._source(data, [1, 2, 3], ledger.pool_code)
        amount = self._amount(data, ledger.pool_code(challenge))
        self._post("award", {ledger.commitment_code(grant): amount, ledger.pool_code(challenge): -amount})

    @rule(data=st.data())
    def disburse(self, data):
        grant = self._source(data, [1, 2, 3, 4], ledger.commitment_code)
        amount = self._amount(data, ledger.commitment_code(grant))
        self._post("disbursement", {D: amount, ledger.commitment_code(grant): -amount})

    @precondition(lambda self: self.transactions)
    @rule(data=st.data())
    def reverse(self, data):
        target = data.draw(st.sampled_from(self.transactions))
        negated = {code: -amount for code, amount in target["entries"].items()}
        self.serial += 1
        key = f"reversal:{self.serial}"
        original = db.session.get(LedgerTransaction, target["id"])
        try:
            txn = ledger.reverse_transaction(transaction=original, actor=None, key=key, reason="Test reversal")
        except Conflict as error:
            db.session.rollback()
            assert target["reversal"] or target["reversed"] or not self._fits(negated), error.detail
            OUTCOMES["reversal refused"] += 1
            return
        db.session.commit()
        assert not target["reversal"] and not target["reversed"] and self._fits(negated)
        target["reversed"] = True
        OUTCOMES["reversal booked"] += 1
        self._apply(negated)
        self.transactions.append({"key": key, "kind": "reversal", "entries": negated, "id": txn.id,
                                  "reversed": False, "reversal": True, "original": target["id"]})

    @precondition(lambda self: self.transactions)
    @rule(data=st.data(), change=st.booleans())
    def retry(self, data, change):
        target = data.draw(st.sampled_from(self.transactions))
        entries = dict(target["entries"])
        if change:  # the same key for another posting
            code = sorted(entries)[0]
            other = next(c for c in entries if c != code)
            entries[code] += 1 if entries[code] > 0 else -1
            entries[other] += 1 if entries[other] > 0 else -1
        if target["reversal"]:
            call = lambda: ledger.reverse_transaction(  # noqa: E731
                transaction=db.session.get(LedgerTransaction, target["original"]), actor=None, key=target["key"],
                reason="again")
        else:
            call = lambda: ledger.post_transaction(  # noqa: E731
                key=target["key"], kind=target["kind"], actor=None, entries=list(entries.items()))
        if change and not target["reversal"]:
            with pytest.raises(Conflict, match="already used"):
                call()
            db.session.rollback()
            return
        assert call().id == target["id"]
        db.session.commit()

    @rule(amount=amounts)
    def unbalanced(self, amount):
        with pytest.raises(ValidationFailed):
            ledger.post_transaction(key="unbalanced", kind="contribution", actor=None,
                                    entries=[(U, amount), (ledger.contributions_code(1), -amount - 1)])
        db.session.rollback()

    # --- invariants ------------------------------------------------------

    @invariant()
    def ledger_is_sound(self):
        assert ledger_verify.verify_ledger() == []

    @invariant()
    def balances_match_the_model(self):
        stored = dict(db.session.execute(sa.select(LedgerAccount.code, LedgerAccount.balance_cents)).all())
        assert {c: b for c, b in stored.items() if b} == {c: b for c, b in self.balances.items() if b}
        assert all(stored.get(code, 0) >= 0 for code in self.guarded)
        count = db.session.execute(sa.select(sa.func.count()).select_from(LedgerTransaction)).scalar_one()
        assert count == len(self.transactions)

    @invariant()
    def totals_match_the_model(self):
        b = self.balances
        expected = {
            "raised": -sum(v for c, v in b.items() if c.startswith("donor:")),
            "unallocated": b.get(U, 0),
            "allocated": sum(v for c, v in b.items() if c.startswith("challenge:")),
            "committed": sum(v for c, v in b.items() if c.startswith("grant:")),
            "disbursed": b.get(D, 0),
        }
        totals = ledger_balances.facility_totals()
        assert {k: totals[k] for k in expected} == expected
        assert totals["raised"] == totals["unallocated"] + totals["allocated"] + totals["committed"] + totals["disbursed"]
        db.session.rollback()  # end the read so the next step starts a fresh transaction


def test_random_money_flows_keep_the_ledger_sound(app):
    LedgerMachine.app = app
    OUTCOMES.clear()
    try:
        run_state_machine_as_test(LedgerMachine, settings=settings(
            max_examples=20, stateful_step_count=30, deadline=None, database=None,
            suppress_health_check=[HealthCheck.too_slow],
        ))
    finally:
        LedgerMachine.app = None
    # The random runs must have gone through both paths of every kind of posting.
    for kind in ("contribution", "allocation", "award", "disbursement", "reversal"):
        assert OUTCOMES[f"{kind} booked"] > 0, OUTCOMES
    for kind in ("allocation", "award", "disbursement", "reversal"):
        assert OUTCOMES[f"{kind} refused"] > 0, OUTCOMES
