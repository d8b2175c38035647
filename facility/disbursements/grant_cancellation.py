"""A grant's payments when the grant is cancelled (`grants.cancellation.before_cancel`, wired by `views.register`).

Called with the grant's and its tranches' rows locked, before anything is cancelled:

- the grant's live disbursements are locked (``FOR UPDATE NOWAIT``: a worker recording a payment holds
  its row; the cancellation gives way with a 409 rather than wait for, or deadlock with, it);
- one being paid (processing, retrying, awaiting the bank's confirmation) refuses the cancellation:
  the money may be on its way (409: wait until it is paid or fails, then cancel);
- one not yet taken by a worker (requested, queued) is cancelled as part of the cancellation, by the
  same conditional update a worker's claim races against (`DISBURSEMENT_TRANSITIONS.move_if`): the
  claim either finds it cancelled, or has claimed it and the cancellation is refused;
- a failed one is dropped: it stays failed (the table has no move to cancelled from there) but stops
  being live and is never re-queued (`policy.can_requeue` needs an active grant).

Each cancelled payment's tranche goes back to accepted (`grants.tranches`), and the grant's
cancellation then cancels it with the other unpaid tranches.
"""
from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext as _

from facility.accounts.models import User
from facility.core.errors import Conflict
from facility.disbursements import lifecycle
from facility.disbursements.lifecycle import locked_tranche, transition
from facility.disbursements.models import DISBURSEMENT_TRANSITIONS, Disbursement, DisbursementStatus
from facility.extensions import db
from facility.grants.cancellation import lock_now
from facility.grants.models import Grant
from facility.grants.tranches import cancel_tranche_payment

S = DisbursementStatus
UNDER_WAY = frozenset({S.PROCESSING, S.RETRYING, S.AWAITING_CONFIRMATION})
"""A worker or the bank has the payment: a cancellation waits until it is paid or fails."""


def settle_payments_of_cancelled_grant(*, grant: Grant, actor: User, reason: str) -> None:
    """Rule: a grant is never cancelled under a payment being made (409); its payments not yet taken by a worker
    are cancelled with it, and a failed one is never re-queued."""
    live = lock_now(sa.select(Disbursement).where(Disbursement.grant_id == grant.id,
                                                  Disbursement.live_tranche_id.is_not(None)).order_by(Disbursement.id),
                    busy=_("A payment of this grant is being recorded right now; wait until it is paid or fails, "
                           "then cancel."))
    for disbursement in live:
        if disbursement.status in UNDER_WAY:
            raise Conflict(_("A payment of tranche %(n)s is under way; wait until it is paid or fails, then cancel.",
                             n=disbursement.tranche.position))
    note = _("Cancelled with the grant: %(reason)s", reason=reason)
    for disbursement in live:
        if disbursement.status is S.FAILED:
            _drop_failed(disbursement, actor=actor, note=note)
        elif DISBURSEMENT_TRANSITIONS.allows(disbursement.status, S.CANCELLED):
            _cancel(disbursement, actor=actor, note=note, reason=reason)
    db.session.flush()


def _cancel(disbursement: Disbursement, *, actor: User, note: str, reason: str) -> None:
    replaced = DISBURSEMENT_TRANSITIONS.move_if(Disbursement, disbursement.id, S.CANCELLED,
                                                values={"live_tranche_id": None, "job_id": None})
    if replaced is None:  # a worker claimed it between the lock and here (SQLite never gets here)
        raise Conflict(_("A payment of tranche %(n)s is under way; wait until it is paid or fails, then cancel.",
                         n=disbursement.tranche.position))
    disbursement = lifecycle.locked(disbursement.id)
    cancel_tranche_payment(tranche=locked_tranche(disbursement.tranche_id))
    transition(disbursement, S.CANCELLED, actor=actor, note=note,
               details={"reason": reason, "grant_cancelled": True}, replaced=replaced)


def _drop_failed(disbursement: Disbursement, *, actor: User, note: str) -> None:
    disbursement.live_tranche_id = None
    disbursement.job_id = None
    cancel_tranche_payment(tranche=locked_tranche(disbursement.tranche_id))
    lifecycle.note(disbursement.id, disbursement.status, note, actor=actor)
