"""API: disbursements of grant tranches (request, approve, confirm, fail, cancel, re-queue, read, reveal bank details).

Thin handlers: each loads what the caller may see (`disbursements.queries`), asks the action's
policy (`disbursements.policy`, the same function the page and the service ask), calls the
service and commits once.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import marshmallow as ma
from flask import current_app

from facility.accounts.models import Role
from facility.api import api_blueprint, requires
from facility.api.auth import require_user
from facility.api.schemas import PageArgs, page_of
from facility.core.inputs import REASON_CHARS, REFERENCE_CHARS
from facility.core.policy import Decision, require
from facility.disbursements import bank_details, policy, queries, requests
from facility.disbursements.local_currency import RATE_CHARS
from facility.disbursements.models import Disbursement, DisbursementStatus
from facility.disbursements.schemas import DisbursementDetailSchema, DisbursementSchema
from facility.extensions import db
from facility.grants import queries as grant_queries

blp = api_blueprint("api_disbursements", __name__, "Disbursements: milestone payments to grantees")


class DisbursementListArgs(PageArgs):
    status = ma.fields.String(validate=ma.validate.OneOf([s.value for s in DisbursementStatus]))


class ConfirmPaymentSchema(ma.Schema):
    bank_reference = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=REFERENCE_CHARS))
    # Paid in the grantee's currency: the currency with the amount received, the rate, or both (checked by the
    # service, `disbursements.local_currency.manual_payment`). Omitted for a payment in US dollars.
    local_currency = ma.fields.String(load_default=None, allow_none=True, validate=ma.validate.Length(max=3),
                                      metadata={"description": "ISO 4217 code, like KES; omit for US dollars"})
    local_amount = ma.fields.String(load_default=None, allow_none=True, validate=ma.validate.Length(max=40),
                                    metadata={"description": "the amount received, a decimal string in major units "
                                                             "(\"1292500.00\")"})
    exchange_rate = ma.fields.String(load_default=None, allow_none=True, validate=ma.validate.Length(max=RATE_CHARS),
                                     metadata={"description": "units of the local currency per US dollar, a decimal "
                                                              "string (\"129.25\"); the one of amount and rate not "
                                                              "given is derived, rounded half to even"})


class DisbursementReasonSchema(ma.Schema):
    reason = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=REASON_CHARS))


def _act(disbursement_id: int, can: Callable[[Any, Disbursement], Decision], service: Callable[..., Any],
         **kwargs: Any) -> Disbursement:
    """A fund manager's action on a disbursement: its policy, the service, one commit, the fresh disbursement."""
    user = require_user()
    disbursement = queries.get_visible_disbursement(user, disbursement_id)
    require(can(user, disbursement))
    service(disbursement=disbursement, actor=user, **kwargs)
    db.session.commit()
    return queries.get_visible_disbursement(user, disbursement_id)  # fresh, with its history and approvals


@blp.route("/tranches/<int:tranche_id>/disbursements", methods=["POST"])
@requires(Role.FUND_MANAGER, hidden=grant_queries.get_visible_tranche)
@blp.response(201, DisbursementDetailSchema)
def request_disbursement(tranche_id: int) -> Disbursement:
    """A fund manager asks to pay a tranche whose evidence was accepted (-> requested; 409 if not payable)."""
    user = require_user()
    tranche = grant_queries.get_visible_tranche(user, tranche_id)
    require(policy.can_request(user, tranche))
    disbursement = requests.request_disbursement(tranche=tranche, actor=user)
    db.session.commit()
    return queries.get_visible_disbursement(user, disbursement.id)


@blp.route("/disbursements", methods=["GET"])
@requires(Role.FUND_MANAGER, Role.ADMIN, Role.AUDITOR)
@blp.arguments(DisbursementListArgs, location="query")
@blp.response(200, page_of(DisbursementSchema))
def list_disbursements(args: dict[str, Any]) -> dict[str, Any]:
    """Every disbursement, newest first, optionally of one `status` (fund managers, admins and auditors)."""
    require(policy.can_view_queue(require_user()))
    per_page = min(args["per_page"], current_app.config.get("API_PER_PAGE_MAX", 100))
    page = queries.disbursement_queue(statuses=queries.queue_statuses(args.get("status") or "all"),
                                      page=args["page"], per_page=per_page)
    return {"items": page.items, "page": args["page"], "per_page": per_page, "total": page.total}


@blp.route("/disbursements/<int:disbursement_id>", methods=["GET"])
@blp.response(200, DisbursementDetailSchema)
def get_disbursement(disbursement_id: int) -> Disbursement:
    """Status and history of a disbursement (grantee organisation, fund managers)."""
    return queries.get_visible_disbursement(require_user(), disbursement_id)


@blp.route("/disbursements/<int:disbursement_id>/approve", methods=["POST"])
@requires(Role.FUND_MANAGER, hidden=queries.get_visible_disbursement)
@blp.response(200, DisbursementDetailSchema)
def approve(disbursement_id: int) -> Disbursement:
    """Another fund manager approves (-> queued once the approvals of the amount's tier count, `approvals_needed`).

    403 with the reason for an approval that would not count: the requester's, one above the approver's limit,
    or an ordinary one when only senior approvals are missing (nothing is recorded); 409 for a second approval
    by the same person or a disbursement no longer awaiting approval. Needs a fresh factor (`X-OTP`) when the
    tier needs more than one approval."""
    return _act(disbursement_id, policy.can_approve, requests.approve_disbursement)


@blp.route("/disbursements/<int:disbursement_id>/confirm", methods=["POST"])
@requires(Role.FUND_MANAGER, hidden=queries.get_visible_disbursement)
@blp.arguments(ConfirmPaymentSchema)
@blp.response(200, DisbursementDetailSchema)
def confirm(data: dict[str, Any], disbursement_id: int) -> Disbursement:
    """Manual rail: a fund manager confirms the bank transfer with its reference (-> paid); paid in the grantee's
    currency, with `local_currency` and `local_amount` and/or `exchange_rate` (422 when they are unreadable or
    do not agree; nothing changes)."""
    return _act(disbursement_id, policy.can_confirm, requests.confirm_manual_payment,
                bank_reference=data["bank_reference"], local_currency=data["local_currency"],
                local_amount=data["local_amount"], exchange_rate=data["exchange_rate"])


@blp.route("/disbursements/<int:disbursement_id>/fail", methods=["POST"])
@requires(Role.FUND_MANAGER, hidden=queries.get_visible_disbursement)
@blp.arguments(DisbursementReasonSchema)
@blp.response(200, DisbursementDetailSchema)
def fail(data: dict[str, Any], disbursement_id: int) -> Disbursement:
    """Manual rail: the bank refused the transfer (-> failed, with the reason)."""
    return _act(disbursement_id, policy.can_fail, requests.fail_manual_payment, reason=data["reason"])


@blp.route("/disbursements/<int:disbursement_id>/cancel", methods=["POST"])
@requires(Role.FUND_MANAGER, hidden=queries.get_visible_disbursement)
@blp.arguments(DisbursementReasonSchema)
@blp.response(200, DisbursementDetailSchema)
def cancel(data: dict[str, Any], disbursement_id: int) -> Disbursement:
    """Cancel before a worker takes it (requested or queued; 409 later)."""
    return _act(disbursement_id, policy.can_cancel, requests.cancel_disbursement, reason=data["reason"])


@blp.route("/disbursements/<int:disbursement_id>/requeue", methods=["POST"])
@requires(Role.FUND_MANAGER, hidden=queries.get_visible_disbursement)
@blp.response(200, DisbursementDetailSchema)
def requeue(disbursement_id: int) -> Disbursement:
    """Queue a failed disbursement again (to the grant's current payout account)."""
    return _act(disbursement_id, policy.can_requeue, requests.requeue_disbursement)


class BankDetailsSchema(ma.Schema):
    disbursement_id = ma.fields.Integer()
    account_holder = ma.fields.String()
    bank_name = ma.fields.String()
    account_number = ma.fields.String(allow_none=True)
    iban = ma.fields.String(allow_none=True)
    swift = ma.fields.String(allow_none=True)


@blp.route("/disbursements/<int:disbursement_id>/bank-details", methods=["POST"])
@requires(Role.FUND_MANAGER, hidden=queries.get_visible_disbursement)
@blp.response(200, BankDetailsSchema, headers={"Cache-Control": {"schema": {"type": "string"},
                                                                 "description": "no-store"}})
def reveal_bank_details(disbursement_id: int) -> Any:
    """Manual rail: the full bank details of the payment instruction, for the transfer. Needs a fresh second
    factor (`X-OTP` header); each reveal is audited; the answer is never cached (`Cache-Control: no-store`)."""
    user = require_user()
    disbursement = queries.get_visible_disbursement(user, disbursement_id)
    require(policy.can_reveal_bank_details(user, disbursement))
    details = bank_details.reveal_bank_details(disbursement=disbursement, actor=user)
    db.session.commit()
    return details, 200, {"Cache-Control": "no-store, max-age=0", "Pragma": "no-cache"}
