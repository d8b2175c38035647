"""A disbursement's life: the one transition function, its timeline, booking a payment, queueing a job, telling people.

`requests` (people's actions), `payments` (the worker's side) and `webhooks` (Stripe's events)
move disbursements only through `transition`, which checks each move against
`DISBURSEMENT_TRANSITIONS` and records the status it actually replaced, on the timeline and in
the audit trail. Money moves only through the ledger, once per payment:

- ``disbursement:<id>``  Dr facility:disbursed / Cr grant:<id>:commitment
  (after a Stripe reversal the next payment is ``disbursement:<id>:<n>``)
"""
from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from flask_babel import gettext as _

from facility.accounts.models import Role, User, UserRole
from facility.audit.services import record
from facility.core.database import lock_row
from facility.core.models import utcnow
from facility.core.notify import notify
from facility.disbursements.models import (
    DISBURSEMENT_TRANSITIONS,
    INITIAL_STATUS,
    Disbursement,
    DisbursementEvent,
    DisbursementStatus,
)
from facility.extensions import db
from facility.grants.models import Grant, Tranche
from facility.grants.tranches import mark_tranche_paid
from facility.ledger.services import commitment_code, disbursed_account, transfer

S = DisbursementStatus


class Enqueue(Protocol):
    """Puts the payment job of a disbursement on the queue once the transaction commits (`jobs.enqueue_after_commit`)."""

    def __call__(self, disbursement_id: int, *, job_id: str, delay_seconds: float = 0) -> None: ...


def locked(disbursement_id: int) -> Disbursement:
    """The disbursement's row, locked and fresh (the services' first read)."""
    row: Disbursement = lock_row(Disbursement, disbursement_id, missing=_("No disbursement %(id)s.", id=disbursement_id))
    return row


def locked_tranche(tranche_id: int) -> Tranche:
    row: Tranche = lock_row(Tranche, tranche_id, missing=_("No tranche %(id)s.", id=tranche_id))
    return row


def new_job_id(disbursement_id: int) -> str:
    return f"disbursement-{disbursement_id}-{uuid.uuid4().hex[:12]}"


# --- the one transition function and the timeline ---------------------------------------

def transition(disbursement: Disbursement, to: DisbursementStatus, *, actor: Any, note: str = "",
               details: dict[str, Any] | None = None, replaced: DisbursementStatus | None = None) -> DisbursementStatus:
    """Move `disbursement` to `to` if `DISBURSEMENT_TRANSITIONS` allows it (Conflict otherwise), and record it.

    The caller holds the row locked, or has already moved it with `DISBURSEMENT_TRANSITIONS.move_if`
    and passes the status that statement replaced as `replaced`. Returns the status replaced.
    """
    if replaced is None:
        replaced = DISBURSEMENT_TRANSITIONS.move(disbursement, to)
    else:
        DISBURSEMENT_TRANSITIONS.check(replaced, to)
        disbursement.status = to
    _record(disbursement, replaced, to, actor=actor, note=note, details=details)
    return replaced


def start(disbursement: Disbursement, *, actor: Any, note: str, details: dict[str, Any] | None = None) -> None:
    """Record a new disbursement's first status (`INITIAL_STATUS`) on its timeline and in the audit trail."""
    disbursement.status = INITIAL_STATUS
    _record(disbursement, None, INITIAL_STATUS, actor=actor, note=note, details=details)


def _record(disbursement: Disbursement, before: DisbursementStatus | None, to: DisbursementStatus, *, actor: Any,
            note: str, details: dict[str, Any] | None) -> None:
    db.session.add(DisbursementEvent(disbursement_id=disbursement.id, from_status=before.value if before else None,
                                     to_status=to.value, actor_id=getattr(actor, "id", None), note=note))
    record(f"disbursement.{to.value}", actor=actor, obj=disbursement, details={
        "from": before.value if before else None, "grant_id": disbursement.grant_id,
        "tranche_id": disbursement.tranche_id, "amount_cents": disbursement.amount_cents, **(details or {})})


def note(disbursement_id: int, status: DisbursementStatus, text: str, *, actor: Any = None) -> None:
    """A timeline entry that leaves the status as it is (one approval of several, a payout failure, a re-queued job)."""
    db.session.add(DisbursementEvent(disbursement_id=disbursement_id, from_status=status.value,
                                     to_status=status.value, actor_id=getattr(actor, "id", None), note=text))


def times(disbursement: Disbursement, from_status: DisbursementStatus, to_status: DisbursementStatus) -> int:
    """How often the timeline shows this transition: reversals (paid -> failed) give a re-payment a new ledger
    key, re-queues (failed -> queued) a new attempt at the provider."""
    return db.session.execute(
        sa.select(sa.func.count(DisbursementEvent.id)).where(
            DisbursementEvent.disbursement_id == disbursement.id,
            DisbursementEvent.from_status == from_status.value, DisbursementEvent.to_status == to_status.value)
    ).scalar_one()


# --- queueing and paying -------------------------------------------------------------------

def queue_for_payment(disbursement: Disbursement, *, actor: Any, note: str, enqueue: Enqueue,
                      delay_seconds: float = 0) -> None:
    """Mark it queued (or retrying, after `delay_seconds`) under a new job id stored on the row, and have
    `enqueue` put that job on the queue after the commit."""
    disbursement.job_id = new_job_id(disbursement.id)
    to = S.RETRYING if delay_seconds else S.QUEUED
    disbursement.next_attempt_at = utcnow() + timedelta(seconds=delay_seconds) if delay_seconds else None
    transition(disbursement, to, actor=actor, note=note,
               details={"job_id": disbursement.job_id, "delay_seconds": round(delay_seconds, 1)})
    enqueue(disbursement.id, job_id=disbursement.job_id, delay_seconds=delay_seconds)


def ledger_key(disbursement_id: int, reversals: int = 0) -> str:
    """`disbursement:<id>`; after Stripe reversed the first payment, the next is `disbursement:<id>:<n>`."""
    return f"disbursement:{disbursement_id}" if not reversals else f"disbursement:{disbursement_id}:{reversals}"


def mark_paid(disbursement: Disbursement, *, actor: Any, note: str, details: dict[str, Any]) -> None:
    """Book commitment => disbursed once, mark the tranche paid (the grant completed with its last tranche),
    tell the grantee."""
    transaction = transfer(
        key=ledger_key(disbursement.id, times(disbursement, S.PAID, S.FAILED)),
        # Each fund's share of the commitment pays into the same fund's share of `disbursed`, earmarked first.
        source=commitment_code(disbursement.grant_id), target=disbursed_account(),
        amount_cents=disbursement.amount_cents, actor=actor, kind="disbursement", description=f"Disbursement {disbursement.id}",
        metadata={"disbursement_id": disbursement.id, "grant_id": disbursement.grant_id,
                  "tranche_id": disbursement.tranche_id})
    disbursement.ledger_transaction_id = transaction.id
    disbursement.paid_at = utcnow()
    disbursement.next_attempt_at = None
    disbursement.last_error = ""
    transition(disbursement, S.PAID, actor=actor, note=note, details=details)
    tranche = locked_tranche(disbursement.tranche_id)
    mark_tranche_paid(tranche=tranche, actor=actor)
    notify(grantee_innovators(tranche.grant_id), "disbursements/paid", disbursement=disbursement, tranche=tranche)


# --- who hears of it --------------------------------------------------------------------------

def _users_with_role(role: Role, *conditions: Any) -> list[User]:
    return list(db.session.execute(
        sa.select(User).join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == role, User.active.is_(True), *conditions).order_by(User.id)
        .options(sa.orm.lazyload(User.role_rows))  # only their addresses and languages are needed
    ).scalars())


def fund_managers() -> list[User]:
    return _users_with_role(Role.FUND_MANAGER)


def grantee_innovators(grant_id: int) -> list[User]:
    organization_id = db.session.execute(sa.select(Grant.organization_id).where(Grant.id == grant_id)).scalar_one()
    return _users_with_role(Role.INNOVATOR, User.organization_id == organization_id)


def tell_failed(disbursement: Disbursement, reason: str) -> None:
    """Fund managers hear that a disbursement failed, and why (it can be re-queued)."""
    notify(fund_managers(), "disbursements/failed", disbursement=disbursement, reason=reason)
