"""A disbursement as JSON: the API's schemas, and the grant's payments as its API shows them.

They live here, in the package, so that every reader shares them: the disbursement API, and the
grant API, which includes a grant's payments (`grant_disbursements_data`).

Who acted is shown as `accounts.policy.shown_name` says: staff ids and names only to the facility's
staff and auditors; the grantee reads "a fund manager" (`by`) and no ids.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import marshmallow as ma
from flask_login import current_user

from facility.accounts.policy import sees_people, shown_name
from facility.disbursements.local_currency import rate_text
from facility.disbursements.models import Disbursement
from facility.disbursements.policy import approvals_state
from facility.disbursements.queries import grant_disbursements
from facility.grants.models import Grant


class DisbursementEventSchema(ma.Schema):
    id = ma.fields.Integer()
    from_status = ma.fields.String(allow_none=True)
    to_status = ma.fields.String()
    note = ma.fields.String()
    at = ma.fields.AwareDateTime(attribute="created_at")
    by_staff = ma.fields.Function(lambda e: e.actor_id is not None,
                                  metadata={"description": "false when the system (worker, webhook) acted"})
    by = ma.fields.Function(lambda e: shown_name(current_user, e.actor) if e.actor is not None else None,
                            allow_none=True, metadata={
                                "description": "who acted: a name for staff and auditors, a role (\"a fund manager\") "
                                               "for everyone else; null when the system acted"})


def _staff_id(user_id: int | None) -> int | None:
    return user_id if sees_people(current_user) else None


class DisbursementApprovalSchema(ma.Schema):
    approver_id = ma.fields.Integer(allow_none=True, metadata={"description": "null unless the caller is staff or "
                                                                              "an auditor"})
    name = ma.fields.String(allow_none=True, metadata={"description": "the approver's name; null unless the caller "
                                                                       "is staff or an auditor"})
    counted = ma.fields.Boolean(metadata={"description": "whether this approval counts towards the tier"})
    reason = ma.fields.String(allow_none=True, metadata={"description": "why it does not count (null when it does)"})
    limit_cents = ma.fields.Integer(allow_none=True, metadata={
        "description": "the approver's approval limit when they approved; null unless staff or an auditor"})
    created_at = ma.fields.AwareDateTime()
    at = ma.fields.AwareDateTime(attribute="created_at", dump_only=True, metadata={"description": "the same as created_at"})


class ApprovalsNeededSchema(ma.Schema):
    count = ma.fields.Integer(metadata={"description": "how many more approvals are needed (0: approved)"})
    senior = ma.fields.Integer(metadata={"description": "how many of them must come from a senior limit"})
    required = ma.fields.Integer(metadata={"description": "how many approvals the amount's tier needs"})
    tier_up_to_cents = ma.fields.Integer(allow_none=True, metadata={"description": "the tier's bound (null: none)"})
    reasons = ma.fields.List(ma.fields.String(), metadata={"description": "why, in words: the tier and the limits"})


class Computed(ma.fields.Nested):
    """A nested schema dumped from a value computed from the object (`compute(obj)`), not from an attribute:
    the OpenAPI document still shows the nested schema."""

    def __init__(self, nested: type[ma.Schema], compute: Callable[[Any], Any], **kwargs: Any) -> None:
        super().__init__(nested, dump_only=True, **kwargs)
        self._compute = compute

    def get_value(self, obj: Any, attr: str, accessor: Any = None, default: Any = ma.missing) -> Any:
        return self._compute(obj)


def approvals_data(disbursement: Disbursement) -> list[dict[str, Any]]:
    """`approvals`: each recorded approval, whether it counts and why not, in the order they were given."""
    staff = sees_people(current_user)
    state = approvals_state(disbursement)
    why = {approver.user_id: reason for approver, reason in state.not_counted}
    counted = {approver.user_id for approver in state.counted}
    return [{"approver_id": approval.approver_id if staff else None,
             "name": (approval.approver.name or approval.approver.email) if staff else None,
             "counted": approval.approver_id in counted, "reason": why.get(approval.approver_id),
             "limit_cents": approval.limit_cents if staff else None, "created_at": approval.created_at}
            for approval in disbursement.approvals]


class LocalAmountSchema(ma.Schema):
    currency = ma.fields.String(metadata={"description": "ISO 4217 code of the currency the grantee received"})
    amount_minor = ma.fields.Integer(metadata={"description": "in that currency's minor units (Babel's precision)"})
    formatted = ma.fields.String(metadata={"description": "in the caller's locale"})


def _rate(d: Any) -> str | None:
    return None if d.exchange_rate is None else rate_text(d.exchange_rate)


class DisbursementSchema(ma.Schema):
    id = ma.fields.Integer()
    status = ma.fields.Function(lambda d: d.status.value)
    grant_id = ma.fields.Integer()
    tranche_id = ma.fields.Integer()
    amount_cents = ma.fields.Integer()
    rail = ma.fields.Function(lambda d: d.rail.value)
    attempts = ma.fields.Integer()
    required_approvals = ma.fields.Integer(metadata={"description": "how many approvals the amount's tier needs"})
    provider_reference = ma.fields.String(allow_none=True)
    bank_reference = ma.fields.String(allow_none=True)
    last_error = ma.fields.String()
    next_attempt_at = ma.fields.AwareDateTime(allow_none=True)
    paid_at = ma.fields.AwareDateTime(allow_none=True)
    created_at = ma.fields.AwareDateTime()
    history = ma.fields.List(ma.fields.Nested(DisbursementEventSchema), attribute="events")
    # Paid in the grantee's currency (null for US dollars): information; `amount_cents` alone is booked.
    local_amount = ma.fields.Nested(LocalAmountSchema, allow_none=True, metadata={
        "description": "what the grantee received in their currency: {currency, amount_minor, formatted}; "
                       "null when paid in US dollars"})
    exchange_rate = ma.fields.Function(_rate, allow_none=True, metadata={
        "description": "local units per US dollar, a decimal string; null when paid in US dollars"})
    exchange_rate_source = ma.fields.Function(
        lambda d: d.exchange_rate_source.value if d.exchange_rate_source else None, allow_none=True,
        metadata={"description": "manual (given with the bank reference) or stripe (from the transfer)"})


class DisbursementDetailSchema(DisbursementSchema):
    requested_by_id = ma.fields.Function(lambda d: _staff_id(d.requested_by_id), allow_none=True,
                                         metadata={"description": "null unless the caller is staff or an auditor"})
    approvals = Computed(DisbursementApprovalSchema, approvals_data, many=True, metadata={
        "description": "every approval given, whether it counts and why not"})
    approvals_needed = Computed(ApprovalsNeededSchema, lambda d: approvals_state(d, names=False).as_json(), metadata={
        "description": "how many more approvals are needed, how many of them senior, and why"})
    payment_instruction = ma.fields.Dict(allow_none=True, metadata={
        "description": "manual rail: what the finance team pays (account masked)"})


def grant_disbursements_data(grant: Grant) -> list[dict[str, Any]]:
    """The `disbursements` key of `GET /api/v1/grants/{id}`: the grant's payments, newest first."""
    data: list[dict[str, Any]] = DisbursementSchema(many=True).dump(grant_disbursements(grant))
    return data
