"""API: grant amendments (a new tranche schedule with a reason), their approval, acceptance and rejection."""
from __future__ import annotations

from typing import Any

import marshmallow as ma

from facility.accounts.models import Role
from facility.api import api_blueprint, requires
from facility.api.auth import require_user
from facility.api.public_schemas import enum_value
from facility.api.schemas import cents_field, date_field, id_field
from facility.core.inputs import NAME_CHARS, REASON_CHARS
from facility.extensions import db
from facility.grants import amendments, queries
from facility.grants.amendment_models import GrantAmendment

blp = api_blueprint("api_amendments", __name__, "Grant amendments: a new tranche schedule, approved and accepted")


class AmendmentTrancheInSchema(ma.Schema):
    id = id_field(allow_none=True, load_default=None,
                  metadata={"description": "an existing tranche of the grant; omitted for a new tranche"})
    title = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=NAME_CHARS))
    amount_cents = cents_field(required=True)
    due_date = date_field(allow_none=True, load_default=None)


class AmendmentInSchema(ma.Schema):
    reason = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=REASON_CHARS))
    tranches = ma.fields.List(ma.fields.Nested(AmendmentTrancheInSchema), required=True,
                              validate=ma.validate.Length(min=1, max=amendments.MAX_TRANCHES),
                              metadata={"description": "the whole new schedule: paid and disbursing tranches "
                                                       "unchanged; unpaid ones left out are cancelled"})


class RejectAmendmentSchema(ma.Schema):
    reason = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=REASON_CHARS))


class AmendmentTrancheSchema(ma.Schema):
    id = ma.fields.Integer()
    tranche_id = ma.fields.Integer(allow_none=True, metadata={"description": "null: a new tranche"})
    position = ma.fields.Integer()
    title = ma.fields.String()
    amount_cents = ma.fields.Integer()
    due_date = ma.fields.Date(allow_none=True)


class AmendmentApprovalSchema(ma.Schema):
    id = ma.fields.Integer()
    approver_id = ma.fields.Integer()
    limit_cents = ma.fields.Integer(metadata={"description": "the approver's limit when they approved"})
    created_at = ma.fields.AwareDateTime()


class AmendmentSchema(ma.Schema):
    id = ma.fields.Integer()
    status = ma.fields.Function(lambda a: enum_value(a.status),
                                metadata={"description": "pending, approved, accepted or rejected"})
    grant_id = ma.fields.Integer()
    number = ma.fields.Integer()
    reason = ma.fields.String()
    needs_approval = ma.fields.Boolean()
    old_total_cents = ma.fields.Integer()
    new_total_cents = ma.fields.Integer()
    change_cents = ma.fields.Integer(metadata={"description": "new total - old total, US cents"})
    proposed_by_id = ma.fields.Integer(allow_none=True)
    created_at = ma.fields.AwareDateTime()
    approved_at = ma.fields.AwareDateTime(allow_none=True)
    accepted_by_id = ma.fields.Integer(allow_none=True)
    accepted_at = ma.fields.AwareDateTime(allow_none=True)
    rejected_by_id = ma.fields.Integer(allow_none=True)
    rejected_at = ma.fields.AwareDateTime(allow_none=True)
    rejection_reason = ma.fields.String()
    ledger_transaction_id = ma.fields.Integer(allow_none=True)
    old_schedule = ma.fields.List(ma.fields.Dict(), metadata={"description": "the tranches it replaces"})
    tranches = ma.fields.List(ma.fields.Nested(AmendmentTrancheSchema))
    approvals = ma.fields.List(ma.fields.Nested(AmendmentApprovalSchema))
    approvals_needed = ma.fields.Method("_needed", metadata={
        "description": "null when no approval is needed; else how many more (`count`, `senior`) and why"})

    def _needed(self, amendment: GrantAmendment) -> dict[str, Any] | None:
        if not amendment.needs_approval:
            return None
        return amendments.amendment_approval_state(amendment).as_json()


def amendments_brief(grant_id: int) -> list[dict[str, Any]]:
    """A grant's amendments in brief, newest first (`GET /grants/{id}`)."""
    return [{"id": a.id, "number": a.number, "status": enum_value(a.status), "reason": a.reason,
             "old_total_cents": a.old_total_cents, "new_total_cents": a.new_total_cents,
             "change_cents": a.change_cents, "created_at": a.created_at.isoformat(),
             "accepted_at": a.accepted_at.isoformat() if a.accepted_at else None}
            for a in queries.grant_amendments(grant_id)]


@blp.route("/grants/<int:grant_id>/amendments", methods=["POST"])
@requires(Role.FUND_MANAGER, hidden=queries.get_visible_grant)
@blp.arguments(AmendmentInSchema)
@blp.response(201, AmendmentSchema)
def propose(data, grant_id):
    """A fund manager proposes the whole new tranche schedule with a reason: `pending` when it needs approval
    (an increase, or a change above the threshold), else `approved`; 409 when a paid tranche would change or
    another amendment is open."""
    user = require_user()
    grant = queries.get_visible_grant(user, grant_id)
    amendment = amendments.propose_amendment(grant=grant, actor=user, reason=data["reason"],
                                             tranches=data["tranches"])
    db.session.commit()
    return amendment


@blp.route("/amendments/<int:amendment_id>", methods=["GET"])
@blp.response(200, AmendmentSchema)
def get_amendment(amendment_id):
    """An amendment: the grantee organisation and staff."""
    return queries.get_visible_amendment(require_user(), amendment_id)


@blp.route("/amendments/<int:amendment_id>/approve", methods=["POST"])
@requires(Role.FUND_MANAGER, hidden=queries.get_visible_amendment)
@blp.response(200, AmendmentSchema)
def approve(amendment_id):
    """A fund manager other than its author approves an amendment that needs approval (403 for its author)."""
    user = require_user()
    amendment = amendments.approve_amendment(amendment=queries.get_visible_amendment(user, amendment_id), actor=user)
    db.session.commit()
    return amendment


@blp.route("/amendments/<int:amendment_id>/accept", methods=["POST"])
@requires(Role.INNOVATOR, hidden=queries.get_visible_amendment)
@blp.response(200, AmendmentSchema)
def accept(amendment_id):
    """The grantee accepts an approved amendment: it takes effect (409 when the pool is short or a tranche it
    changes is being paid)."""
    user = require_user()
    amendment = amendments.accept_amendment(amendment=queries.get_visible_amendment(user, amendment_id), actor=user)
    db.session.commit()
    return amendment


@blp.route("/amendments/<int:amendment_id>/reject", methods=["POST"])
@requires(Role.INNOVATOR, Role.FUND_MANAGER, hidden=queries.get_visible_amendment)
@blp.arguments(RejectAmendmentSchema)
@blp.response(200, AmendmentSchema)
def reject(data, amendment_id):
    """The grantee or a fund manager rejects an open amendment with a reason."""
    user = require_user()
    amendment = amendments.reject_amendment(amendment=queries.get_visible_amendment(user, amendment_id), actor=user,
                                            reason=data["reason"])
    db.session.commit()
    return amendment
