"""Cancelling a grant: nothing more is paid, and its undisbursed commitment returns to the challenge's pool.

`cancel_grant` does it all in the caller's transaction (the view, API handler or command commits once):

1. the grant's row is locked, then its tranches' rows, then each `before_cancel` listener runs: the
   `disbursements` package registers one (`disbursements.grant_cancellation`) that locks the grant's
   live payments and refuses (409) while one is being paid (processing, retrying or awaiting the bank's
   confirmation), and cancels those not yet taken by a worker (requested, queued). `grants` sits below
   `disbursements`, so it offers this hook and never imports that package; `create_app` wires it;
2. every tranche not paid and not being paid (`UNPAID_TRANCHE_STATUSES`) is cancelled;
3. the whole commitment left is moved back to the challenge's pool with `ledger.transfer`, each fund's
   money to the same fund's share of the pool, unrestricted money first (`general_first`):

   - ``grant-cancel:<grant id>``  Dr challenge:<id>:pool / Cr grant:<id>:commitment (per fund)

4. the grant moves to cancelled with who, when and why; `grant.cancelled` is audited; the grantee's
   innovators are told (the e-mail leaves after the commit).

The proposal stays awarded: `PROPOSAL_TRANSITIONS` has no move out of awarded (the award was made;
the grant records that it was cancelled).

Locks are taken without waiting behind another transaction (PostgreSQL ``FOR UPDATE NOWAIT``): a
payment being recorded holds its disbursement's and tranche's rows, and may need the grant's row to
complete it, so the cancellation gives way (409, "try again") instead of deadlocking: the
disbursement's lock wins. SQLite transactions already hold the write lock (`BEGIN IMMEDIATE`).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app
from flask_babel import gettext as _

from facility.accounts.models import Role, User, UserRole
from facility.audit.services import record
from facility.core.database import lock_row
from facility.core.errors import Conflict
from facility.core.inputs import REASON_CHARS, clean_text
from facility.core.models import utcnow
from facility.core.notify import notify
from facility.core.policy import require
from facility.extensions import db
from facility.grants.models import (
    GRANT_TRANSITIONS,
    UNPAID_TRANCHE_STATUSES,
    Grant,
    GrantStatus,
    Tranche,
    TrancheStatus,
)
from facility.grants.policy import can_cancel_grant
from facility.grants.tranches import cancel_unpaid_tranche
from facility.ledger.balances import balance
from facility.ledger.services import commitment_code, pool_account, transfer

LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's SQLSTATE for FOR UPDATE NOWAIT on a row another transaction holds

# Called as `listener(grant=, actor=, reason=)` with the grant's and its tranches' rows locked, before
# anything is cancelled; raises (Conflict) to refuse. `before_cancel` adds one per app.
BeforeCancel = Callable[..., Any]
_LISTENERS = "facility_grants_before_cancel"


def before_cancel(app: Flask, listener: BeforeCancel) -> None:
    """Have `listener(grant=, actor=, reason=)` called in every cancellation of a grant in `app`, before the
    tranches are cancelled (see the module docstring)."""
    app.extensions.setdefault(_LISTENERS, []).append(listener)


def lock_now(statement: Any, *, busy: str) -> list[Any]:
    """The rows of `statement` locked for update without waiting (PostgreSQL ``NOWAIT``; SQLite: already
    locked), fresh; Conflict with the message `busy` when another transaction holds one of them now."""
    try:
        with db.session.begin_nested():
            return list(db.session.execute(
                statement.with_for_update(nowait=True).execution_options(populate_existing=True)).scalars())
    except sa.exc.OperationalError as error:
        if getattr(error.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
            raise
        raise Conflict(busy) from None


def cancel_grant(*, grant: Grant, actor: User, reason: str) -> Grant:
    """Rule: `policy.can_cancel_grant`: a fund manager cancels a grant awaiting approval, offered or active, with
    a reason; its unpaid tranches are cancelled and its undisbursed commitment returns to the pool in the same
    transaction, and never under a payment being made (409: wait until it is paid or fails)."""
    require(can_cancel_grant(actor, grant))  # the role before taking a lock
    reason = clean_text(reason, "reason", limit=REASON_CHARS, required=True, multiline=True)
    grant = lock_row(Grant, grant.id, missing=_("No grant %(id)s.", id=grant.id))
    require(can_cancel_grant(actor, grant))
    busy = _("A tranche of this grant is being changed right now (a payment, or a milestone report); "
             "try again in a moment.")
    tranches = lock_now(sa.select(Tranche).where(Tranche.grant_id == grant.id).order_by(Tranche.id), busy=busy)
    for listener in current_app.extensions.get(_LISTENERS, ()):
        listener(grant=grant, actor=actor, reason=reason)
    for tranche in tranches:
        if tranche.status is TrancheStatus.DISBURSING:  # a payment no listener could stop
            raise Conflict(_("A payment of tranche %(n)s is under way; wait until it is paid or fails, then cancel.",
                             n=tranche.position))
    cancelled = [tranche for tranche in tranches if tranche.status in UNPAID_TRANCHE_STATUSES]
    for tranche in cancelled:
        cancel_unpaid_tranche(tranche=tranche)
    returned = balance(commitment_code(grant.id))
    transaction = None
    if returned > 0:
        transaction = transfer(
            key=f"grant-cancel:{grant.id}", source=commitment_code(grant.id), target=pool_account(grant.challenge_id),
            amount_cents=returned, actor=actor, kind="grant-cancellation", general_first=True,
            description=f"Grant {grant.id} cancelled: its undisbursed commitment returns to the prize pool",
            metadata={"grant_id": grant.id, "challenge_id": grant.challenge_id})
    before = GRANT_TRANSITIONS.move(grant, GrantStatus.CANCELLED)
    grant.cancelled_at = utcnow()
    grant.cancelled_by_id = actor.id
    grant.cancel_reason = reason
    record("grant.cancelled", actor=actor, obj=grant, details={
        "from": before.value, "reason": reason, "returned_cents": returned,
        "ledger_transaction_id": transaction.id if transaction is not None else None,
        "tranches_cancelled": [tranche.id for tranche in cancelled]})
    notify(_grantee_innovators(grant), "grants/cancelled", grant=grant, returned_cents=returned)
    db.session.flush()
    return grant


def _grantee_innovators(grant: Grant) -> list[User]:
    return list(db.session.execute(
        sa.select(User).join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == Role.INNOVATOR, User.organization_id == grant.organization_id, User.active.is_(True))
        .order_by(User.id)).scalars().unique())
