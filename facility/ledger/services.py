"""The facility's double-entry ledger: the only way money moves.

Sign convention
---------------
Every entry is a signed integer number of cents, **debit positive, credit
negative**, and the entries of a transaction sum to zero. An account's stored
`balance_cents` is the plain sum of its entries; nothing is flipped, so
"stored balance = sum of entries" is checked literally.

Chart of accounts
-----------------
The money the facility holds is kept on asset accounts, one per purpose it is
earmarked for. Assets are debit-normal, so every guarded account (unallocated
funds, each prize pool, each grant commitment) is *positive* in normal use and
the rule "never below zero" is simply `balance_cents >= 0`.

=============================  =======  =======  =============================================
code                           kind     guarded  holds
=============================  =======  =======  =============================================
``donor:<org id>:contributions`` income   no       what one donor organisation paid in (credit: < 0)
``facility:contributions``       income   no       contributions not tied to a donor organisation
``facility:unallocated``         asset    yes      money received, not yet given to a challenge
``challenge:<id>:pool``          asset    yes      a challenge's prize pool, not yet awarded
``grant:<id>:commitment``        asset    yes      a grant's undisbursed commitment
``facility:disbursed``           expense  no       everything paid out to grantees
=============================  =======  =======  =============================================

How money flows (debit / credit):

- contribution received:  Dr ``facility:unallocated``  / Cr ``donor:<org>:contributions``
- challenge approved:     Dr ``challenge:<id>:pool``   / Cr ``facility:unallocated``
- proposal awarded:       Dr ``grant:<id>:commitment`` / Cr ``challenge:<id>:pool``
- tranche disbursed:      Dr ``facility:disbursed``    / Cr ``grant:<id>:commitment``

Funds
-----
Money given for one purpose (an earmarked `Fund`) stays apart without a second ledger: each
guarded purpose account above, and ``facility:disbursed``, has a *share* per earmarked fund that
holds some of its money, coded ``<purpose code>/fund:<fund id>`` with ``base_code`` = the purpose
code (the general fund's money stays on the purpose account itself). So:

- a purpose's balance (`balance`, the DESIGN.md totals) is the sum over ``base_code``;
- a fund's balance is the sum over its shares (`fund_balances`);
- money moves between purposes with `transfer`, share by share, each fund's money to the same
  fund's share of the target, in a stated order (`transfer`'s docstring), so an earmark can only
  ever be spent where its money was first placed. Every share is guarded like its purpose.

So raised (minus the sum of income balances) = unallocated + allocated (pools)
+ committed (commitments) + disbursed, and the cash the facility still holds is
unallocated + allocated + committed: no separate cash account is needed, and
`facility.ledger.balances.facility_totals()` reads every DESIGN.md total in one aggregate query;
`facility.ledger.verify` holds the checks of `ledger-verify`.

Concurrency
-----------
`post_transaction` locks the touched accounts in ascending id order
(``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite every transaction is
``BEGIN IMMEDIATE`` and already holds the write lock), then reads fresh
balances, so racing postings can never take a guarded account below zero.
Before those it takes the audit chain's lock (`core.database.lock_audit_chain`),
since every posting is audited in its transaction: the ledger announces each
booked transaction to the listeners `create_app` wires (`on_posted`), and needs
nothing but core.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app
from flask_babel import gettext as _
from sqlalchemy.dialects import postgresql, sqlite

from facility.core.database import lock_audit_chain
from facility.core.errors import Conflict, ValidationFailed
from facility.core.models import utcnow
from facility.core.templating import money
from facility.extensions import db
from facility.ledger.models import AccountKind, Fund, LedgerAccount, LedgerEntry, LedgerTransaction

UNALLOCATED = "facility:unallocated"
DISBURSED = "facility:disbursed"
ANONYMOUS_CONTRIBUTIONS = "facility:contributions"
# Patterns on `LedgerAccount.base_code` (a fund's share has its purpose's base code).
POOL_PATTERN = "challenge:%:pool"
COMMITMENT_PATTERN = "grant:%:commitment"
FUND_SHARE_SEPARATOR = "/fund:"
TARGET_CENTS = 100_000_000_000  # USD 1 billion
# Far above any real posting and far below BIGINT: keeps a typo from overflowing the column.
MAX_AMOUNT_CENTS = 10**15

AccountRef = LedgerAccount | str
EntrySpec = tuple[AccountRef, int]


# --- accounts ----------------------------------------------------------------

def pool_code(challenge_id: int) -> str:
    return f"challenge:{int(challenge_id)}:pool"


def commitment_code(grant_id: int) -> str:
    return f"grant:{int(grant_id)}:commitment"


def contributions_code(organization_id: int | None) -> str:
    return ANONYMOUS_CONTRIBUTIONS if organization_id is None else f"donor:{int(organization_id)}:contributions"


def fund_share_code(base_code: str, fund_id: int | None) -> str:
    """The code of `fund_id`'s share of the purpose account `base_code` (the general fund: the purpose itself)."""
    return base_code if fund_id is None else f"{base_code}{FUND_SHARE_SEPARATOR}{int(fund_id)}"


def get_or_create_account(*, code: str, name: str, kind: AccountKind | str, guarded: bool,
                          fund: Fund | None = None, base_code: str | None = None) -> LedgerAccount:
    """Rule: one account per code, and an existing code keeps its kind, guard and fund.

    A fund's share (`fund` given) is coded from `base_code` (`fund_share_code`); without a fund
    the account is its own purpose.

    Safe under races: the insert is ``ON CONFLICT DO NOTHING`` on both databases,
    so two requests opening the same account both get the one row.
    """
    kind = AccountKind(kind)
    code = (code or "").strip()
    base = code if fund is None else (base_code or "").strip()
    if fund is not None and code != fund_share_code(base, fund.id):
        raise ValidationFailed(_("A fund's share needs the code of its purpose account and fund."),
                               errors={"code": [_("Give the purpose account's code and the fund.")]})
    if not code or len(code) > 100:
        raise ValidationFailed(_("An account needs a code of 1 to 100 characters."),
                               errors={"code": [_("Give a code of 1 to 100 characters.")]})
    if not name or len(name) > 200:
        raise ValidationFailed(_("An account needs a name of 1 to 200 characters."),
                               errors={"name": [_("Give a name of 1 to 200 characters.")]})
    fund_id = fund.id if fund is not None else None
    account = _account_by_code(code)
    if account is None:
        _insert_account(code=code, name=name, kind=kind, guarded=guarded, base_code=base, fund_id=fund_id)
        account = db.session.execute(sa.select(LedgerAccount).where(LedgerAccount.code == code)).scalar_one()
    if account.kind != kind or account.guarded != guarded or account.fund_id != fund_id:
        raise Conflict(_("Ledger account %(code)s already exists with a different kind, guard or fund.", code=code))
    return account


def _insert_account(*, code: str, name: str, kind: AccountKind, guarded: bool, base_code: str,
                    fund_id: int | None) -> None:
    values = {"code": code, "name": name, "kind": kind, "guarded": guarded, "balance_cents": 0, "created_at": utcnow(),
              "base_code": base_code, "fund_id": fund_id}
    if db.session.get_bind().dialect.name == "postgresql":
        statement: Any = postgresql.insert(LedgerAccount).values(**values)
    else:
        statement = sqlite.insert(LedgerAccount).values(**values)
    db.session.execute(statement.on_conflict_do_nothing(index_elements=["code"]))


def _account_by_code(code: str) -> LedgerAccount | None:
    return db.session.execute(sa.select(LedgerAccount).where(LedgerAccount.code == code)).scalar_one_or_none()


def unallocated_account() -> LedgerAccount:
    return get_or_create_account(code=UNALLOCATED, name="Facility unallocated funds",
                                 kind=AccountKind.ASSET, guarded=True)


def disbursed_account() -> LedgerAccount:
    return get_or_create_account(code=DISBURSED, name="Disbursed to grantees",
                                 kind=AccountKind.EXPENSE, guarded=False)


def contributions_account(organization_id: int | None, name: str = "") -> LedgerAccount:
    code = contributions_code(organization_id)
    default = "Contributions" if organization_id is None else f"Contributions of donor {organization_id}"
    return get_or_create_account(code=code, name=name or default, kind=AccountKind.INCOME, guarded=False)


def pool_account(challenge_id: int, name: str = "") -> LedgerAccount:
    return get_or_create_account(code=pool_code(challenge_id), name=name or f"Prize pool of challenge {challenge_id}",
                                 kind=AccountKind.ASSET, guarded=True)


def commitment_account(grant_id: int, name: str = "") -> LedgerAccount:
    return get_or_create_account(code=commitment_code(grant_id), name=name or f"Commitment of grant {grant_id}",
                                 kind=AccountKind.ASSET, guarded=True)


def fund_share(account: LedgerAccount, fund: Fund | None) -> LedgerAccount:
    """`fund`'s share of the purpose account `account` (opened on first use; the general fund: the account)."""
    if fund is None:
        return account
    name = f"{account.name} ({fund.name})"[:200]
    return get_or_create_account(code=fund_share_code(account.code, fund.id), name=name, kind=account.kind,
                                 guarded=account.guarded, fund=fund, base_code=account.code)


def create_fund(*, name: str, earmark_kind: str, earmark_value: str, actor: Any) -> Fund:
    """Rule: an earmarked fund has a name and an earmark (what its money may pay for); the ledger keeps,
    and does not interpret, the earmark."""
    name, earmark_kind, earmark_value = (name or "").strip(), (earmark_kind or "").strip(), str(earmark_value).strip()
    if not name or len(name) > 200:
        raise ValidationFailed(_("A fund needs a name of 1 to 200 characters."),
                               errors={"name": [_("Give a name of 1 to 200 characters.")]})
    if not earmark_kind or len(earmark_kind) > 30 or not earmark_value or len(earmark_value) > 60:
        raise ValidationFailed(_("A fund needs an earmark."), errors={"earmark": [_("Say what the money is for.")]})
    fund = Fund(name=name, earmark_kind=earmark_kind, earmark_value=earmark_value, created_by_id=getattr(actor, "id", None))
    db.session.add(fund)
    db.session.flush()
    return fund


# --- postings ----------------------------------------------------------------

def post_transaction(
    *,
    key: str,
    entries: Sequence[EntrySpec],
    actor: Any,
    kind: str,
    description: str = "",
    metadata: dict | None = None,
) -> LedgerTransaction:
    """Rule: money moves only as a whole, balanced transaction that keeps every guarded account >= 0.

    Two or more entries of non-zero integer cents on distinct accounts, summing
    to zero. A retry with the same `key` returns the transaction already booked
    (same kind and entries) instead of booking it twice; the same key with
    other entries is a Conflict. A posting that would take a guarded account
    below zero is refused with a Conflict and nothing is written.
    """
    return _post(key=key, entries=entries, actor=actor, kind=kind, description=description,
                 metadata=metadata, reverses=None)


def reverse_transaction(*, transaction: LedgerTransaction, actor: Any, key: str, reason: str) -> LedgerTransaction:
    """Rule: a transaction is corrected by one reversing transaction with negated entries, at most once.

    The guards apply to the reversal too (money already moved on cannot be
    taken back), and a reversal itself cannot be reversed: post the original
    again under a new key instead.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(_("Say why the transaction is reversed."),
                               errors={"reason": [_("Give a reason for the reversal.")]})
    if transaction.reverses_id is not None:
        raise Conflict(_("Transaction %(id)s is itself a reversal and cannot be reversed; "
                         "post the original again instead.", id=transaction.id))
    entries = [(entry.account, -entry.amount_cents) for entry in transaction.entries]
    return _post(key=key, entries=entries, actor=actor, kind="reversal", description=reason,
                 metadata={"reason": reason, "reversed_key": transaction.key}, reverses=transaction)


GENERAL_FUND: None = None
"""The general (unrestricted) fund, in `transfer`'s `funds` and in `fund_balances`' keys."""


def transfer(
    *,
    key: str,
    source: str,
    target: LedgerAccount,
    amount_cents: int,
    actor: Any,
    kind: str,
    description: str = "",
    metadata: dict | None = None,
    funds: Sequence[int | None] | None = None,
    general_first: bool = False,
) -> LedgerTransaction:
    """Rule: money moves from one purpose to another fund by fund, each fund's money to the same fund's
    share of `target`, and only as far as the funds drawn hold it.

    `source` is a purpose's code (its general account and every fund share). The shares are drawn
    in this order: the earmarked funds, oldest fund first, then the general fund (earmarked money
    is spent before unrestricted money); `general_first` turns it round (money handed back returns
    unrestricted money first, so earmarked money stays where it was meant to go). `funds` limits
    the draw to those funds (ids; `GENERAL_FUND` for the general fund), in the order given. A draw
    the shares cannot cover is a Conflict and nothing is written. A retry with the same `key`
    returns the transaction already booked. The split is stated in the metadata (`funds`).
    """
    amount_cents = _positive_amount(amount_cents)
    key = (key or "").strip()
    lock_audit_chain()  # every posting takes it first (see the module docstring): no lock-order surprises
    existing = db.session.execute(
        sa.select(LedgerTransaction).where(LedgerTransaction.key == key)).scalar_one_or_none()
    if existing is not None and existing.kind == kind:
        return existing
    shares = _lock_shares(source)
    if not shares:
        message = _("No ledger account %(codes)s.", codes=source)
        raise ValidationFailed(message, errors={"entries": [message]})
    order = _drawing_order(shares, funds=funds, general_first=general_first)
    split: list[tuple[LedgerAccount, int]] = []
    left = amount_cents
    for share in order:
        part = min(left, max(share.balance_cents, 0)) if share.guarded else left
        if part > 0:
            split.append((share, part))
            left -= part
        if left == 0:
            break
    if left > 0:
        held = sum(max(share.balance_cents, 0) for share in order)
        raise Conflict(_("Not enough money in %(name)s: it holds %(holds)s, this needs %(needs)s, "
                         "short by %(short)s.", name=shares[0].name if shares[0].fund_id is None else source,
                         holds=money(held), needs=money(amount_cents), short=money(left)))
    entries: list[EntrySpec] = []
    for share, part in split:
        entries.append((share, -part))
        entries.append((fund_share(target, share.fund), part))
    meta = {**dict(metadata or {}), "funds": [[share.fund_id, part] for share, part in split]}
    return _post(key=key, entries=entries, actor=actor, kind=kind, description=description, metadata=meta,
                 reverses=None)


def _positive_amount(amount_cents: Any) -> int:
    if isinstance(amount_cents, bool) or not isinstance(amount_cents, int) or amount_cents <= 0:
        message = _("Amounts must be whole numbers of cents above zero.")
        raise ValidationFailed(message, errors={"amount_cents": [message]})
    if amount_cents > MAX_AMOUNT_CENTS:
        message = _("An amount is larger than the ledger accepts.")
        raise ValidationFailed(message, errors={"amount_cents": [message]})
    return amount_cents


def _lock_shares(base_code: str) -> list[LedgerAccount]:
    """The purpose account `base_code` and its fund shares, locked, with fresh balances, in id order."""
    return list(db.session.execute(
        sa.select(LedgerAccount).where(LedgerAccount.base_code == base_code).order_by(LedgerAccount.id)
        .with_for_update().execution_options(populate_existing=True)).scalars())


def _drawing_order(shares: Sequence[LedgerAccount], *, funds: Sequence[int | None] | None,
                   general_first: bool) -> list[LedgerAccount]:
    by_fund = {share.fund_id: share for share in shares}
    if funds is not None:
        return [by_fund[fund_id] for fund_id in dict.fromkeys(funds) if fund_id in by_fund]
    earmarked = sorted((share for share in shares if share.fund_id is not None), key=lambda share: share.fund_id or 0)
    general = [by_fund[None]] if None in by_fund else []
    return general + earmarked if general_first else earmarked + general


def _post(
    *,
    key: str,
    entries: Sequence[EntrySpec],
    actor: Any,
    kind: str,
    description: str,
    metadata: dict | None,
    reverses: LedgerTransaction | None,
) -> LedgerTransaction:
    key = (key or "").strip()
    if not key or len(key) > 200:
        raise ValidationFailed(_("A posting needs a key of 1 to 200 characters."),
                               errors={"key": [_("Give a key of 1 to 200 characters.")]})
    kind = (kind or "").strip()
    if not kind or len(kind) > 60:
        raise ValidationFailed(_("A posting needs a kind of 1 to 60 characters."),
                               errors={"kind": [_("Give a kind of 1 to 60 characters.")]})
    amounts = _validated_amounts(entries)
    lock_audit_chain()  # before the account locks: every posting is audited (see core.database)
    accounts = _lock_accounts(amounts)
    wanted = {accounts[ref].id: amount for ref, amount in amounts.items()}

    existing = db.session.execute(
        sa.select(LedgerTransaction).where(LedgerTransaction.key == key)
    ).scalar_one_or_none()
    if existing is not None:
        booked = {entry.account_id: entry.amount_cents for entry in existing.entries}
        same_origin = existing.reverses_id == (reverses.id if reverses is not None else None)
        if booked == wanted and existing.kind == kind and same_origin:
            return existing  # a retry: already booked, book nothing
        raise Conflict(_("The posting key %(key)s was already used for a different transaction.", key=key))
    if reverses is not None:
        earlier = db.session.execute(
            sa.select(LedgerTransaction.id).where(LedgerTransaction.reverses_id == reverses.id)
        ).scalar_one_or_none()
        if earlier is not None:
            raise Conflict(_("Transaction %(id)s was already reversed by transaction %(by)s.",
                             id=reverses.id, by=earlier))

    locked = {account.id: account for account in accounts.values()}
    for account_id in sorted(wanted):
        account, amount = locked[account_id], wanted[account_id]
        if account.guarded and account.balance_cents + amount < 0:
            short = -(account.balance_cents + amount)
            raise Conflict(_("Not enough money in %(name)s: it holds %(holds)s, this needs %(needs)s, "
                             "short by %(short)s.", name=account.name, holds=money(account.balance_cents),
                             needs=money(-amount), short=money(short)))

    transaction = LedgerTransaction(
        key=key, kind=kind, description=description or "", meta=dict(metadata or {}),
        created_by_id=getattr(actor, "id", None), reverses_id=reverses.id if reverses is not None else None,
    )
    db.session.add(transaction)
    for account_id in sorted(wanted):
        transaction.entries.append(LedgerEntry(account=locked[account_id], amount_cents=wanted[account_id]))
        # Fresh under the lock: the plain assignment cannot lose a concurrent update.
        locked[account_id].balance_cents = locked[account_id].balance_cents + wanted[account_id]
    db.session.flush()
    _announce_posted(actor=actor, transaction=transaction, details={
        "key": key, "kind": kind, "reverses": transaction.reverses_id,
        "entries": [[locked[account_id].code, wanted[account_id]] for account_id in sorted(wanted)],
    })
    return transaction


# What to do with every transaction booked, in its database transaction: `create_app` wires the
# audit trail here (`audit.record("ledger.posted", actor=, obj=, details=)`); the ledger needs only core.
PostingListener = Callable[..., Any]
_LISTENERS = "facility_ledger_posted"


def on_posted(app: Flask, listener: PostingListener) -> None:
    """Have `listener(actor=, obj=transaction, details=)` called for every transaction `app` books."""
    app.extensions.setdefault(_LISTENERS, []).append(listener)


def _announce_posted(*, actor: Any, transaction: LedgerTransaction, details: dict[str, Any]) -> None:
    for listener in current_app.extensions.get(_LISTENERS, ()):
        listener(actor=actor, obj=transaction, details=details)


def _validated_amounts(entries: Sequence[EntrySpec]) -> dict[str, int]:
    """Amounts by account reference; refuses anything that is not a balanced set of integer cents."""
    def refuse(message: str) -> ValidationFailed:
        return ValidationFailed(message, errors={"entries": [message]})

    try:
        pairs = [(ref, amount) for ref, amount in entries]
    except (TypeError, ValueError):
        raise refuse(_("Entries must be pairs of an account and an amount in cents.")) from None
    if len(pairs) < 2:
        raise refuse(_("A transaction needs at least two entries."))
    amounts: dict[str, int] = {}
    seen: set[str] = set()
    for ref, amount in pairs:
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise refuse(_("Amounts must be whole numbers of cents."))
        if amount == 0:
            raise refuse(_("An entry cannot be zero."))
        if abs(amount) > MAX_AMOUNT_CENTS:
            raise refuse(_("An amount is larger than the ledger accepts."))
        if isinstance(ref, LedgerAccount):
            code = ref.code
        elif isinstance(ref, str) and ref:
            code = ref
        else:
            raise refuse(_("Each entry needs a ledger account or an account code."))
        if code in seen:
            raise refuse(_("Each account may appear only once in a transaction."))
        seen.add(code)
        amounts[code] = amount
    if sum(amounts.values()) != 0:
        raise refuse(_("The entries must sum to zero; they sum to %(sum)s.", sum=money(sum(amounts.values()))))
    return amounts


def _lock_accounts(amounts: dict[str, int]) -> dict[str, LedgerAccount]:
    """Lock the accounts in ascending id order and load their current balances."""
    codes = list(amounts)
    accounts = db.session.execute(
        sa.select(LedgerAccount)
        .where(LedgerAccount.code.in_(codes))
        .order_by(LedgerAccount.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalars().all()
    by_code = {account.code: account for account in accounts}
    missing = sorted(set(codes) - set(by_code))
    if missing:
        message = _("No ledger account %(codes)s.", codes=", ".join(missing))
        raise ValidationFailed(message, errors={"entries": [message]})
    return by_code
