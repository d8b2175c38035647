"""What a grant has actually paid out, net of refunds, read from the ledger.

A grant's `amount_cents` minus its commitment is no longer what it paid once it can be cancelled
(the commitment returns to the pool) or refunded: every page, export and figure that says
"disbursed" for a grant reads it here: in SQL for all grants at once (`net_paid_by_grant`, for lists
and totals), as a correlated subquery for a few rows, or for one grant. It is the grant's share of
`facility:disbursed` (every fund's share): the entries on it in the transactions that touch the
grant's commitment (its payments, and reversed transfers, which net out) and in the transactions of
its refunds (which touch no commitment).
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from facility.extensions import db
from facility.grants.models import Grant, GrantRefund
from facility.ledger.balances import commitment_code_sql
from facility.ledger.models import LedgerAccount, LedgerEntry
from facility.ledger.services import DISBURSED


def net_paid_cents_sql(grant_id: Any) -> Any:
    """Paid out net of refunds, in cents, for a grant id column (or literal) of an outer query."""
    commitment_entry, commitment_account = aliased(LedgerEntry), aliased(LedgerAccount)
    paying = (sa.select(commitment_entry.transaction_id)
              .join(commitment_account, commitment_account.id == commitment_entry.account_id)
              .where(commitment_account.base_code == commitment_code_sql(grant_id))
              .correlate_except(commitment_entry, commitment_account))  # the grant is the outermost query's
    refunding = (sa.select(GrantRefund.ledger_transaction_id).where(GrantRefund.grant_id == grant_id)
                 .correlate_except(GrantRefund))
    entry, account = aliased(LedgerEntry), aliased(LedgerAccount)
    return (sa.select(sa.func.coalesce(sa.func.sum(entry.amount_cents), 0))
            .join(account, account.id == entry.account_id)
            .where(account.base_code == DISBURSED,
                   sa.or_(entry.transaction_id.in_(paying), entry.transaction_id.in_(refunding)))
            .correlate_except(entry, account).scalar_subquery())


def net_paid_by_grant() -> sa.Subquery:
    """Every grant's paid-out amount net of refunds, as a subquery (`grant_id`, `net_paid_cents`), one row per
    grant whose commitment or refunds ever moved: the same sum as `net_paid_cents_sql`, computed for all grants at
    once (hash joins over the ledger) for figures that add up many grants, where a subquery per row would
    read the ledger once per grant and per column. Outer-join it and coalesce to 0."""
    grant = aliased(Grant)
    commitment_entry, commitment_account = aliased(LedgerEntry), aliased(LedgerAccount)
    paying = (sa.select(grant.id.label("grant_id"), commitment_entry.transaction_id.label("transaction_id"))
              .join(commitment_account, commitment_account.base_code == commitment_code_sql(grant.id))
              .join(commitment_entry, commitment_entry.account_id == commitment_account.id))
    refunding = sa.select(GrantRefund.grant_id, GrantRefund.ledger_transaction_id)
    # UNION, not UNION ALL: a transaction both paying and refunding a grant counts once, as in the OR above.
    moving = sa.union(paying, refunding).subquery()
    entry, account = aliased(LedgerEntry), aliased(LedgerAccount)
    return (sa.select(moving.c.grant_id, sa.func.sum(entry.amount_cents).label("net_paid_cents"))
            .join(entry, entry.transaction_id == moving.c.transaction_id)
            .join(account, account.id == entry.account_id)
            .where(account.base_code == DISBURSED)
            .group_by(moving.c.grant_id).subquery("net_paid"))


def net_paid_cents(grant_id: int) -> int:
    """What grant `grant_id` paid out net of refunds (one query)."""
    return int(db.session.execute(sa.select(net_paid_cents_sql(sa.literal(int(grant_id))))).scalar_one() or 0)
