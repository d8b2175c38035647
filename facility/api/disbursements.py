"""API: disbursements of grant tranches (request, approve, confirm, fail, cancel, re-queue, read)."""
from __future__ import annotations

import marshmallow as ma
import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from facility.accounts.models import Role
from facility.api import api_blueprint, requires
from facility.api.auth import ApiError, require_role, require_user
from facility.api.schemas import PageArgs, page_of, paginate
from facility.core.errors import NotFound
from facility.disbursements import services
from facility.disbursements.models import Disbursement, DisbursementStatus
from facility.extensions import db
from facility.grants.models import Tranche

blp = api_blueprint("api_disbursements", __name__, "Disbursements: milestone payments to grantees")

_NOT_FOUND = "Not found, or not yours to see."


class DisbursementEventSchema(ma.Schema):
    id = ma.fields.Integer()
    from_status = ma.fields.String(allow_none=True)
    to_status = ma.fields.String()
    note = ma.fields.String()
    at = ma.fields.AwareDateTime(attribute="created_at")
    by_staff = ma.fields.Function(lambda e: e.actor_id is not None,
                                  metadata={"description": "false when the system (worker, webhook) acted"})


class DisbursementApprovalSchema(ma.Schema):
    approver_id = ma.fields.Integer()
    at = ma.fields.AwareDateTime(attribute="created_at")


class DisbursementSchema(ma.Schema):
    id = ma.fields.Integer()
    status = ma.fields.Function(lambda d: d.status.value)
    grant_id = ma.fields.Integer()
    tranche_id = ma.fields.Integer()
    amount_cents = ma.fields.Integer()
    rail = ma.fields.Function(lambda d: d.rail.value)
    attempts = ma.fields.Integer()
    required_approvals = ma.fields.Integer()
    provider_reference = ma.fields.String(allow_none=True)
    bank_reference = ma.fields.String(allow_none=True)
    last_error = ma.fields.String()
    next_attempt_at = ma.fields.AwareDateTime(allow_none=True)
    paid_at = ma.fields.AwareDateTime(allow_none=True)
    created_at = ma.fields.AwareDateTime()
    history = ma.fields.List(ma.fields.Nested(DisbursementEventSchema), attribute="events")


class DisbursementDetailSchema(DisbursementSchema):
    requested_by_id = ma.fields.Integer()
    approvals = ma.fields.List(ma.fields.Nested(DisbursementApprovalSchema))
    payment_instruction = ma.fields.Dict(allow_none=True, metadata={
        "description": "manual rail: what the finance team pays (account masked)"})


class DisbursementListArgs(PageArgs):
    status = ma.fields.String(validate=ma.validate.OneOf([s.value for s in DisbursementStatus]))


class ConfirmPaymentSchema(ma.Schema):
    bank_reference = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=120))


class DisbursementReasonSchema(ma.Schema):
    reason = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=2000))


def _disbursement(disbursement_id: int, user) -> Disbursement:
    try:
        disbursement = services.load(disbursement_id)
    except NotFound:
        raise ApiError(404, _NOT_FOUND) from None
    if not disbursement.can_view(user):
        raise ApiError(404, _NOT_FOUND)
    return disbursement


def _tranche(tranche_id: int, user) -> Tranche:
    tranche = db.session.get(Tranche, tranche_id)
    if tranche is None or not tranche.can_view(user):
        raise ApiError(404, _NOT_FOUND)
    return tranche


def _detail(disbursement: Disbursement) -> Disbursement:
    return services.load(disbursement.id)  # fresh, with its history and approvals


def _managed(disbursement_id: int) -> tuple[Disbursement, object]:
    user = require_user()
    disbursement = _disbursement(disbursement_id, user)
    if not user.has_role(Role.FUND_MANAGER):
        raise ApiError(403, "This needs the role fund_manager.")
    return disbursement, user


def _act(disbursement_id: int, service, **kwargs) -> Disbursement:
    """A fund manager's action on a disbursement: the service, one commit, the fresh disbursement."""
    disbursement, user = _managed(disbursement_id)
    service(disbursement=disbursement, actor=user, **kwargs)
    db.session.commit()
    return _detail(disbursement)


@blp.route("/tranches/<int:tranche_id>/disbursements", methods=["POST"])
@requires(Role.FUND_MANAGER, hidden=_tranche)
@blp.response(201, DisbursementDetailSchema)
def request_disbursement(tranche_id):
    """A fund manager asks to pay a tranche whose evidence was accepted (-> requested; 409 if not payable)."""
    user = require_user()
    tranche = db.session.get(Tranche, tranche_id)
    if tranche is None or not tranche.can_view(user):
        raise ApiError(404, _NOT_FOUND)
    if not user.has_role(Role.FUND_MANAGER):
        raise ApiError(403, "This needs the role fund_manager.")
    disbursement = services.request_disbursement(tranche=tranche, actor=user)
    db.session.commit()
    return _detail(disbursement)


@blp.route("/disbursements", methods=["GET"])
@requires(Role.FUND_MANAGER, Role.ADMIN)
@blp.arguments(DisbursementListArgs, location="query")
@blp.response(200, page_of(DisbursementSchema))
def list_disbursements(args):
    """Every disbursement, newest first, optionally of one `status` (fund managers and admins)."""
    require_role(Role.FUND_MANAGER, Role.ADMIN)
    query = (sa.select(Disbursement).options(selectinload(Disbursement.events))
             .order_by(Disbursement.id.desc()))
    if args.get("status"):
        query = query.where(Disbursement.status == DisbursementStatus(args["status"]))
    return paginate(query, page=args["page"], per_page=args["per_page"])


@blp.route("/disbursements/<int:disbursement_id>", methods=["GET"])
@blp.response(200, DisbursementDetailSchema)
def get_disbursement(disbursement_id):
    """Status and history of a disbursement (grantee organisation, fund managers)."""
    user = require_user()
    return _disbursement(disbursement_id, user)


@blp.route("/disbursements/<int:disbursement_id>/approve", methods=["POST"])
@requires(Role.FUND_MANAGER, hidden=_disbursement)
@blp.response(200, DisbursementDetailSchema)
def approve(disbursement_id):
    """Another fund manager approves (-> queued once enough approve; 403 for the requester)."""
    return _act(disbursement_id, services.approve_disbursement)


@blp.route("/disbursements/<int:disbursement_id>/confirm", methods=["POST"])
@requires(Role.FUND_MANAGER, hidden=_disbursement)
@blp.arguments(ConfirmPaymentSchema)
@blp.response(200, DisbursementDetailSchema)
def confirm(data, disbursement_id):
    """Manual rail: a fund manager confirms the bank transfer with its reference (-> paid)."""
    return _act(disbursement_id, services.confirm_manual_payment, bank_reference=data["bank_reference"])


@blp.route("/disbursements/<int:disbursement_id>/fail", methods=["POST"])
@requires(Role.FUND_MANAGER, hidden=_disbursement)
@blp.arguments(DisbursementReasonSchema)
@blp.response(200, DisbursementDetailSchema)
def fail(data, disbursement_id):
    """Manual rail: the bank refused the transfer (-> failed, with the reason)."""
    return _act(disbursement_id, services.fail_manual_payment, reason=data["reason"])


@blp.route("/disbursements/<int:disbursement_id>/cancel", methods=["POST"])
@requires(Role.FUND_MANAGER, hidden=_disbursement)
@blp.arguments(DisbursementReasonSchema)
@blp.response(200, DisbursementDetailSchema)
def cancel(data, disbursement_id):
    """Cancel before a worker takes it (requested or queued; 409 later)."""
    return _act(disbursement_id, services.cancel_disbursement, reason=data["reason"])


@blp.route("/disbursements/<int:disbursement_id>/requeue", methods=["POST"])
@requires(Role.FUND_MANAGER, hidden=_disbursement)
@blp.response(200, DisbursementDetailSchema)
def requeue(disbursement_id):
    """Queue a failed disbursement again (to the grant's current payout account)."""
    return _act(disbursement_id, services.requeue_disbursement)

