"""A tranche's life while it is paid: the services `disbursements` calls instead of setting statuses.

Each takes the tranche's row locked by the caller (`core.database.lock_row`) and moves it along
`TRANCHE_TRANSITIONS`; a grant follows its tranches (completed when every one is paid).
"""
from __future__ import annotations

import sqlalchemy as sa

from facility.accounts.models import User
from facility.audit.services import record
from facility.extensions import db
from facility.grants.models import GRANT_TRANSITIONS, TRANCHE_TRANSITIONS, GrantStatus, Tranche, TrancheStatus


def start_tranche_payment(*, tranche: Tranche) -> None:
    """Rule: only a tranche whose milestone evidence was accepted starts being paid (accepted -> disbursing)."""
    TRANCHE_TRANSITIONS.move(tranche, TrancheStatus.DISBURSING)


def cancel_tranche_payment(*, tranche: Tranche) -> None:
    """Rule: a cancelled payment leaves the tranche accepted, ready to be requested again."""
    TRANCHE_TRANSITIONS.move(tranche, TrancheStatus.ACCEPTED)


def mark_tranche_paid(*, tranche: Tranche, actor: User | None) -> bool:
    """Rule: a tranche being paid becomes paid; the grant is completed when no tranche is left unpaid.

    Returns True when this payment completed the grant.
    """
    TRANCHE_TRANSITIONS.move(tranche, TrancheStatus.PAID)
    db.session.flush()
    unpaid = db.session.execute(sa.select(sa.func.count(Tranche.id)).where(
        Tranche.grant_id == tranche.grant_id, Tranche.status != TrancheStatus.PAID)).scalar_one()
    if unpaid:
        return False
    grant = tranche.grant
    GRANT_TRANSITIONS.move(grant, GrantStatus.COMPLETED)
    record("grant.completed", actor=actor, obj=grant, details={"amount_cents": grant.amount_cents})
    return True


def reopen_paid_tranche(*, tranche: Tranche) -> None:
    """Rule: when a paid tranche's transfer is reversed it is being paid again, and a completed grant is active again."""
    TRANCHE_TRANSITIONS.move(tranche, TrancheStatus.DISBURSING)
    if tranche.grant.status == GrantStatus.COMPLETED:
        GRANT_TRANSITIONS.move(tranche.grant, GrantStatus.ACTIVE)


def cancel_unpaid_tranche(*, tranche: Tranche) -> None:
    """Rule: a cancelled grant's tranches not paid and not being paid (`UNPAID_TRANCHE_STATUSES`) are cancelled:
    they are never paid."""
    TRANCHE_TRANSITIONS.move(tranche, TrancheStatus.CANCELLED)
