"""Funds as a dimension of the accounts: shares per fund, `transfer` fund by fund, balances over shares."""
from __future__ import annotations

import pytest

from facility.core.errors import Conflict, ValidationFailed
from facility.extensions import db
from facility.ledger import balances as ledger_balances
from facility.ledger import services as ledger
from facility.ledger import verify as ledger_verify
from tests.ledger.conftest import counts

U, P, C = ledger.UNALLOCATED, ledger.pool_code(1), ledger.commitment_code(1)


@pytest.fixture
def funds(chart):
    """Two earmarked funds and the general fund, each holding money in unallocated funds."""
    water = ledger.create_fund(name="Water", earmark_kind="focus_area", earmark_value="water", actor=None)
    ldc = ledger.create_fund(name="LDC", earmark_kind="country_group", earmark_value="LDC", actor=None)
    for n, (fund, cents) in enumerate(((water, 300), (ldc, 200), (None, 500))):
        share = ledger.fund_share(chart["unallocated"], fund)
        ledger.post_transaction(key=f"c:{n}", kind="contribution", actor=None,
                                entries=[(share, cents), (chart["donor"], -cents)])
    db.session.commit()
    return water, ldc


def test_balance_of_a_purpose_sums_its_shares(funds):
    water, ldc = funds
    assert ledger_balances.balance(U) == 1000
    assert ledger_balances.balance(ledger.fund_share_code(U, water.id)) == 300
    assert ledger_balances.fund_balances(U) == {None: 500, water.id: 300, ldc.id: 200}
    assert ledger_balances.facility_totals()["unallocated"] == 1000
    assert ledger_verify.verify_ledger() == []


def test_transfer_draws_earmarked_funds_first_oldest_first_and_keeps_each_fund(funds, chart):
    water, ldc = funds
    txn = ledger.transfer(key="t1", source=U, target=chart["pool"], amount_cents=600, actor=None, kind="allocation")
    db.session.commit()
    assert txn.meta["funds"] == [[water.id, 300], [ldc.id, 200], [None, 100]]
    assert ledger_balances.fund_balances(P) == {water.id: 300, ldc.id: 200, None: 100}
    assert ledger_balances.fund_balances(U) == {None: 400, water.id: 0, ldc.id: 0}
    assert ledger_verify.verify_ledger() == []


def test_transfer_limited_to_funds_and_general_first(funds, chart):
    water, ldc = funds
    ledger.transfer(key="t1", source=U, target=chart["pool"], amount_cents=250, actor=None, kind="allocation",
                    funds=[ldc.id, ledger.GENERAL_FUND])
    assert ledger_balances.fund_balances(P) == {ldc.id: 200, None: 50}
    ledger.transfer(key="t2", source=P, target=chart["commitment"], amount_cents=220, actor=None, kind="award",
                    general_first=True)
    assert ledger_balances.fund_balances(C) == {None: 50, ldc.id: 170}


def test_transfer_short_of_the_eligible_funds_is_refused_and_writes_nothing(funds, chart):
    water, _ldc = funds
    before = counts()
    with pytest.raises(Conflict, match="short by"):
        ledger.transfer(key="t1", source=U, target=chart["pool"], amount_cents=301, actor=None, kind="allocation",
                        funds=[water.id])
    db.session.rollback()
    assert counts() == before
    assert ledger_balances.balance(P) == 0


def test_transfer_retry_returns_the_booked_transaction(funds, chart):
    first = ledger.transfer(key="t1", source=U, target=chart["pool"], amount_cents=100, actor=None, kind="allocation")
    again = ledger.transfer(key="t1", source=U, target=chart["pool"], amount_cents=100, actor=None, kind="allocation")
    assert again.id == first.id and ledger_balances.balance(P) == 100


@pytest.mark.parametrize("amount", [0, -5, 1.5, True, "100"])
def test_transfer_refuses_amounts_that_are_not_positive_cents(funds, chart, amount):
    with pytest.raises(ValidationFailed):
        ledger.transfer(key="t1", source=U, target=chart["pool"], amount_cents=amount, actor=None, kind="x")


def test_reversal_of_a_split_transfer_returns_every_fund(funds, chart):
    txn = ledger.transfer(key="t1", source=U, target=chart["pool"], amount_cents=700, actor=None, kind="allocation")
    ledger.reverse_transaction(transaction=txn, actor=None, key="r1", reason="mistake")
    water, ldc = funds
    assert ledger_balances.fund_balances(U) == {None: 500, water.id: 300, ldc.id: 200}
    assert ledger_balances.balance(P) == 0 and ledger_verify.verify_ledger() == []


def test_a_share_with_another_kind_than_its_purpose_is_reported(funds, chart):
    water, _ = funds
    ledger.get_or_create_account(code=ledger.fund_share_code("odd:purpose", water.id), name="Odd", kind="asset",
                                 guarded=False, fund=water, base_code="odd:purpose")
    assert any("odd:purpose" in problem for problem in ledger_verify.verify_ledger())
