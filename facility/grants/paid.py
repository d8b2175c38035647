"""What a grant has actually paid out: its paid tranches less the refunds it sent back.

A grant's `amount_cents` minus its commitment is no longer what it paid once it can be cancelled
(the commitment returns to the pool) or refunded: every page, export and figure that says
"disbursed" for a grant reads it here, in SQL (one correlated subquery per figure, no query per row)
or for one grant. The ledger agrees: a paid tranche's money left the grant's commitment for
`facility:disbursed` (a reversed transfer puts the tranche back to "being paid"), and a refund's
money left `facility:disbursed` again.
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from facility.extensions import db
from facility.grants.models import GrantRefund, Tranche, TrancheStatus


def paid_cents_sql(grant_id: Any) -> Any:
    """The grant's paid tranches, in cents, for a grant id column of an outer query."""
    return (sa.select(sa.func.coalesce(sa.func.sum(Tranche.amount_cents), 0))
            .where(Tranche.grant_id == grant_id, Tranche.status == TrancheStatus.PAID).scalar_subquery())


def refunded_cents_sql(grant_id: Any) -> Any:
    """What the grant sent back (refunds and clawbacks), in cents, for a grant id column of an outer query."""
    return (sa.select(sa.func.coalesce(sa.func.sum(GrantRefund.amount_cents), 0))
            .where(GrantRefund.grant_id == grant_id).scalar_subquery())


def net_paid_cents_sql(grant_id: Any) -> Any:
    """Paid out net of refunds, in cents, for a grant id column of an outer query."""
    return paid_cents_sql(grant_id) - refunded_cents_sql(grant_id)


def net_paid_cents(grant_id: int) -> int:
    """What grant `grant_id` paid out net of refunds (one query)."""
    return int(db.session.execute(sa.select(net_paid_cents_sql(sa.literal(int(grant_id))))).scalar_one() or 0)


def refunded_cents(grant_id: int) -> int:
    """What grant `grant_id` sent back so far (one query)."""
    return int(db.session.execute(sa.select(refunded_cents_sql(sa.literal(int(grant_id))))).scalar_one() or 0)
