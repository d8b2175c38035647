"""Ledger tables: accounts with stored balances, transactions and their entries.

Amounts are signed integer cents, debit positive and credit negative; an
account's `balance_cents` is the plain sum of its entries (see the module
docstring of `facility.ledger.services` for the chart of accounts and why the
guarded accounts are positive in normal use).

Transactions and entries are written once and never changed: the ORM refuses
UPDATE and DELETE here, and the database refuses them with triggers
(migration 0003). Corrections are new, reversing transactions.
"""
from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy import event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from facility.core.labels import labelled
from facility.core.models import enum_column, utcnow
from facility.extensions import db


@labelled({"asset": _l("Asset"), "liability": _l("Liability"), "equity": _l("Equity"), "income": _l("Income"),
           "expense": _l("Expense")})
class AccountKind(str, enum.Enum):
    """Debit-normal kinds (asset, expense) hold positive balances in normal use; the others negative."""

    ASSET = "asset"
    LIABILITY = "liability"
    EQUITY = "equity"
    INCOME = "income"
    EXPENSE = "expense"

    @property
    def debit_normal(self) -> bool:
        return self in (AccountKind.ASSET, AccountKind.EXPENSE)


def _kind_column() -> sa.Enum:
    return enum_column(AccountKind)


class Fund(db.Model):
    """An earmarked fund: money given for one purpose, kept apart on the ledger's accounts.

    The facility's general (unrestricted) fund has no row: an account whose `fund_id` is NULL
    holds general money. An earmarked fund's money sits on *fund shares* of the same purpose
    accounts (`facility:unallocated/fund:<id>`, `challenge:<c>:pool/fund:<id>`, ...), so a balance
    per purpose is the sum over its shares and a balance per fund is the sum over its shares of
    every purpose: one ledger with a fund dimension, not a second ledger.

    The earmark is what the money may pay for, as data the ledger does not interpret:
    `earmark_kind` is `focus_area`, `country_group`, `region` or `challenge`, `earmark_value` the
    focus area's value, the group's code ("LDC"), the UN M49 region code or the challenge id.
    Which challenges a fund may pay for is decided above the ledger (`facility.challenges`).
    """

    __tablename__ = "ledger_funds"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    earmark_kind: Mapped[str] = mapped_column(sa.String(30), nullable=False)
    earmark_value: Mapped[str] = mapped_column(sa.String(60), nullable=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)

    def __repr__(self) -> str:
        return f"<Fund {self.id} {self.earmark_kind}={self.earmark_value}>"


class LedgerAccount(db.Model):
    """An account with its balance stored next to it, updated in the same transaction as its entries.

    `guarded` accounts must never go negative: `post_transaction` refuses such
    a posting, and a CHECK constraint is the backstop.

    `base_code` names the purpose account this one is a share of: its own code for the general
    fund's account, the purpose's code for an earmarked fund's share (`fund_id` set). Reads per
    purpose sum over `base_code`.
    """

    __tablename__ = "ledger_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(100), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    kind: Mapped[AccountKind] = mapped_column(_kind_column(), nullable=False)
    guarded: Mapped[bool] = mapped_column(sa.Boolean, default=False, nullable=False)
    balance_cents: Mapped[int] = mapped_column(sa.BigInteger, default=0, nullable=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)
    base_code: Mapped[str] = mapped_column(sa.String(100), nullable=False, index=True)
    fund_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ledger_funds.id"), index=True)

    fund: Mapped[Fund | None] = relationship()

    __table_args__ = (
        sa.CheckConstraint("NOT guarded OR balance_cents >= 0", name="guarded_not_negative"),
        sa.CheckConstraint("(fund_id IS NULL) = (base_code = code)", name="fund_share_code"),
    )

    @property
    def normal_balance_cents(self) -> int:
        """The balance as people read it: positive in normal use whatever the kind."""
        return self.balance_cents if self.kind.debit_normal else -self.balance_cents

    def __repr__(self) -> str:
        return f"<LedgerAccount {self.code} {self.balance_cents}>"


class LedgerTransaction(db.Model):
    """A whole posting: two or more entries summing to zero, written at once and never changed."""

    __tablename__ = "ledger_transactions"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Idempotency key: a retried posting finds its transaction instead of being booked twice.
    key: Mapped[str] = mapped_column(sa.String(200), unique=True, nullable=False)
    kind: Mapped[str] = mapped_column(sa.String(60), nullable=False, index=True)
    description: Mapped[str] = mapped_column(sa.Text, default="", nullable=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, nullable=False)
    # No ON DELETE: whoever moved money stays on record.
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    # Unique: a transaction is reversed at most once, also under races.
    reverses_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ledger_transactions.id"), unique=True)
    meta: Mapped[dict] = mapped_column("metadata", sa.JSON, default=dict, nullable=False)

    entries: Mapped[list[LedgerEntry]] = relationship(
        back_populates="transaction", order_by="LedgerEntry.id", lazy="selectin"
    )
    reverses: Mapped[LedgerTransaction | None] = relationship(
        remote_side="LedgerTransaction.id", foreign_keys=[reverses_id]
    )

    def __repr__(self) -> str:
        return f"<LedgerTransaction {self.id} {self.key}>"


class LedgerEntry(db.Model):
    """One signed amount (debit positive, credit negative) on one account; never zero."""

    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    transaction_id: Mapped[int] = mapped_column(sa.ForeignKey("ledger_transactions.id"), nullable=False)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("ledger_accounts.id"), nullable=False, index=True)
    amount_cents: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)

    transaction: Mapped[LedgerTransaction] = relationship(back_populates="entries")
    account: Mapped[LedgerAccount] = relationship(lazy="joined")

    __table_args__ = (
        sa.CheckConstraint("amount_cents <> 0", name="amount_not_zero"),
        sa.UniqueConstraint("transaction_id", "account_id", name="uq_ledger_entries_transaction_account"),
    )


def _refuse(*_: Any) -> None:
    raise RuntimeError("ledger transactions and entries are immutable; post a reversing transaction")


for _model in (LedgerTransaction, LedgerEntry):
    event.listen(_model, "before_update", _refuse)
    event.listen(_model, "before_delete", _refuse)
