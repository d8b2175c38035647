"""What a grant has actually paid out, net of refunds, read from the ledger.

A grant's `amount_cents` minus its commitment is no longer what it paid once it can be cancelled
(the commitment returns to the pool) or refunded: every page, export and figure that says
"disbursed" for a grant reads it here: in SQL for all grants at once (`net_paid_by_grant`, for lists
and totals), or for one grant (`net_paid_cents`), with the same statement. It is the grant's share of
`facility:disbursed` (every fund's share): the entries on it in the transactions that touch the
grant's commitment (its payments, and reversed transfers, which net out) and in the transactions of
its refunds (which touch no commitment).
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from facility.extensions import db
from facility.grants.models import Grant, GrantRefund
from facility.ledger.balances import commitment_code_sql
from facility.ledger.models import LedgerAccount, LedgerEntry
from facility.ledger.services import DISBURSED


def net_paid_by_grant(grant_id: int | None = None) -> sa.Subquery:
    """Every grant's paid-out amount net of refunds (or grant `grant_id`'s only), as a subquery (`grant_id`,
    `net_paid_cents`), one row per grant whose commitment or refunds ever moved. For figures that add up many
    grants it reads the ledger once for all of them (hash joins), not once per grant and per column as a
    correlated subquery would. Outer-join it and coalesce to 0."""
    grant = aliased(Grant)
    commitment_entry, commitment_account = aliased(LedgerEntry), aliased(LedgerAccount)
    paying = (sa.select(grant.id.label("grant_id"), commitment_entry.transaction_id.label("transaction_id"))
              .join(commitment_account, commitment_account.base_code == commitment_code_sql(grant.id))
              .join(commitment_entry, commitment_entry.account_id == commitment_account.id))
    refunding = sa.select(GrantRefund.grant_id, GrantRefund.ledger_transaction_id)
    if grant_id is not None:  # one grant: its commitment account and refunds only (by index)
        paying = paying.where(grant.id == grant_id)
        refunding = refunding.where(GrantRefund.grant_id == grant_id)
    # UNION, not UNION ALL: a transaction both paying and refunding a grant counts once.
    moving = sa.union(paying, refunding).subquery()
    entry, account = aliased(LedgerEntry), aliased(LedgerAccount)
    return (sa.select(moving.c.grant_id, sa.func.sum(entry.amount_cents).label("net_paid_cents"))
            .join(entry, entry.transaction_id == moving.c.transaction_id)
            .join(account, account.id == entry.account_id)
            .where(account.base_code == DISBURSED)
            .group_by(moving.c.grant_id).subquery("net_paid"))


def net_paid_cents(grant_id: int) -> int:
    """What grant `grant_id` paid out net of refunds (one query)."""
    net = net_paid_by_grant(int(grant_id))
    return int(db.session.execute(sa.select(net.c.net_paid_cents)).scalar_one_or_none() or 0)
