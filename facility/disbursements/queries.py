"""Every read the disbursement pages and API need: one function each, the same for both."""
from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy.orm import joinedload, selectinload

from facility.accounts.authority import approver_for
from facility.core.dashboard import Waiting, waiting
from facility.core.errors import NotFound
from facility.core.policy import require
from facility.disbursements.models import Disbursement, DisbursementApproval, DisbursementEvent, DisbursementStatus
from facility.disbursements.policy import can_view
from facility.extensions import db
from facility.grants.models import Grant, Tranche, TrancheStatus

S = DisbursementStatus
NEEDING_ATTENTION = (S.REQUESTED, S.AWAITING_CONFIRMATION, S.FAILED, S.RETRYING)
"""What a fund manager has to act on (or watch): the queue's default."""


def get_visible_disbursement(user: Any, disbursement_id: int) -> Disbursement:
    """A disbursement `user` may see, with what its page and API show, in a fixed number of queries.

    NotFound when there is none or `user` may not see it (a 404 either way).
    """
    disbursement = db.session.execute(
        sa.select(Disbursement).where(Disbursement.id == disbursement_id).options(
            joinedload(Disbursement.grant).joinedload(Grant.organization),
            joinedload(Disbursement.grant).joinedload(Grant.proposal),
            joinedload(Disbursement.tranche),
            joinedload(Disbursement.requested_by),
            selectinload(Disbursement.approvals).joinedload(DisbursementApproval.approver),
            selectinload(Disbursement.events).joinedload(DisbursementEvent.actor),
        ).execution_options(populate_existing=True)
    ).unique().scalar_one_or_none()
    if disbursement is None:
        raise NotFound(_("No disbursement %(id)s.", id=disbursement_id))
    require(can_view(user, disbursement))
    return disbursement


def queue_statuses(wanted: str | None) -> Collection[DisbursementStatus] | None:
    """The page's filter value as statuses: "" needs attention, "all" is everything (None), else one status."""
    if wanted == "all":
        return None
    if wanted:
        return (DisbursementStatus(wanted),)
    return NEEDING_ATTENTION


def disbursement_queue(*, statuses: Collection[DisbursementStatus] | None, page: int, per_page: int) -> Pagination:
    """Disbursements newest first, of `statuses` (None: all), one page, with what the queue and the API list show.

    A fixed number of queries whatever the page size (rows, count, timelines, approvals).
    """
    query = (sa.select(Disbursement).options(
        joinedload(Disbursement.grant).joinedload(Grant.organization), joinedload(Disbursement.tranche),
        joinedload(Disbursement.requested_by), selectinload(Disbursement.events),
        selectinload(Disbursement.approvals))
        .order_by(Disbursement.id.desc()))
    if statuses is not None:
        query = query.where(Disbursement.status.in_(list(statuses)))
    return db.paginate(query, page=page, per_page=per_page, error_out=False)


def grant_disbursements(grant: Grant) -> list[Disbursement]:
    """A grant's disbursements with their timelines, newest first (two queries): the grant page and its API."""
    return list(db.session.execute(
        sa.select(Disbursement).where(Disbursement.grant_id == grant.id)
        .options(selectinload(Disbursement.events).joinedload(DisbursementEvent.actor))
        .order_by(Disbursement.id.desc())
    ).scalars())


# --- dashboard ---


def payments_to_request() -> Waiting:
    """Tranches whose milestone report was accepted and that no disbursement pays yet (first_id: the grant)."""
    return waiting(Tranche.grant_id, Tranche.due_date, Tranche.status == TrancheStatus.ACCEPTED)


def disbursements_to_approve(user: Any) -> Waiting:
    """Requested disbursements `user` may approve: requested by someone else, not yet approved by them, within
    their approval limit (`accounts.authority.approver_for`)."""
    mine = sa.exists().where(DisbursementApproval.disbursement_id == Disbursement.id,
                             DisbursementApproval.approver_id == user.id)
    return waiting(Disbursement.id, Disbursement.created_at, Disbursement.status == S.REQUESTED,
                   Disbursement.requested_by_id != user.id, ~mine,
                   Disbursement.amount_cents <= approver_for(user).limit_cents)


def payments_to_confirm(user: Any) -> Waiting:
    """Manual payments awaiting a bank reference that `user` may confirm: neither requested nor approved by them
    (`policy.can_confirm`: the confirmer is a third person)."""
    approved = sa.exists().where(DisbursementApproval.disbursement_id == Disbursement.id,
                                 DisbursementApproval.approver_id == user.id)
    return waiting(Disbursement.id, Disbursement.updated_at, Disbursement.status == S.AWAITING_CONFIRMATION,
                   Disbursement.requested_by_id != user.id, ~approved)


def in_status(status: DisbursementStatus) -> Waiting:
    """Disbursements in `status` (manual payments to confirm, failed, retrying), the longest waiting first."""
    return waiting(Disbursement.id, Disbursement.updated_at, Disbursement.status == status)
# --- reminders ---

def approvals_waiting_since(before: datetime) -> list[Disbursement]:
    """Disbursements still waiting for approval that were requested at or before `before`, with their approvals."""
    return list(db.session.execute(
        sa.select(Disbursement)
        .where(Disbursement.status == DisbursementStatus.REQUESTED, Disbursement.created_at <= before)
        .options(selectinload(Disbursement.approvals), joinedload(Disbursement.requested_by),
                 joinedload(Disbursement.grant).joinedload(Grant.organization))
        .order_by(Disbursement.created_at, Disbursement.id)
    ).scalars().unique())


# --- payouts in local currency ---

def last_local_currency(grant_id: int) -> str | None:
    """The currency the grant's latest payment in local currency was received in (pre-fills the confirm form)."""
    return db.session.execute(
        sa.select(Disbursement.local_currency)
        .where(Disbursement.grant_id == grant_id, Disbursement.local_currency.is_not(None))
        .order_by(Disbursement.id.desc()).limit(1)).scalar_one_or_none()
