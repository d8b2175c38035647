"""API: administrators change people's roles and approval limits, decide role requests and limit changes,
deactivate and reactivate accounts.

The same services as the admin pages (`accounts.roles`), so the same rules: nobody changes their own
roles or limit; granting fund manager, administrator or auditor, and changing a fund manager's approval
limit, file a request that a second administrator approves (with a fresh second factor, the `X-OTP`
header); deactivating ends every session and token.
"""
from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask_babel import gettext as _

from facility.accounts import authority, policy, queries, roles
from facility.accounts.models import ApprovalLimitRequest, Role, RoleGrantRequest, RoleRequestStatus, User
from facility.api import api_blueprint, requires
from facility.api.accounts import UserSchema
from facility.api.auth import require_user
from facility.api.schemas import PageArgs, page_of, paginate
from facility.core.errors import NotFound
from facility.core.inputs import MAX_CENTS, REASON_CHARS
from facility.core.policy import require
from facility.extensions import db

blp = api_blueprint("api_users", __name__,
                    "Users: roles, approval limits, their requests and deactivation (administrators)")


class AdminUserSchema(UserSchema):
    active = ma.fields.Boolean()


class RoleRequestSchema(ma.Schema):
    id = ma.fields.Integer()
    person_id = ma.fields.Integer()
    roles = ma.fields.List(ma.fields.String(), metadata={"description": "the roles to add"})
    requested_by_id = ma.fields.Integer()
    requested_at = ma.fields.AwareDateTime()
    status = ma.fields.Function(lambda r: r.status.value, metadata={"enum": [s.value for s in RoleRequestStatus]})
    decided_by_id = ma.fields.Integer(allow_none=True)
    decided_at = ma.fields.AwareDateTime(allow_none=True)
    reason = ma.fields.String()


class RolesInSchema(ma.Schema):
    roles = ma.fields.List(ma.fields.String(validate=ma.validate.OneOf([r.value for r in Role])), required=True,
                           validate=ma.validate.Length(max=len(Role)),
                           metadata={"description": "every role the person should hold"})


class RoleChangeSchema(ma.Schema):
    user = ma.fields.Nested(AdminUserSchema)
    role_request = ma.fields.Nested(RoleRequestSchema, allow_none=True, metadata={
        "description": "the pending request for fund manager, administrator or auditor, which a second "
                       "administrator approves; null when everything took effect at once"})


class RoleRequestArgs(PageArgs):
    status = ma.fields.String(validate=ma.validate.OneOf([s.value for s in RoleRequestStatus]),
                              metadata={"description": "default: pending"})


class RejectSchema(ma.Schema):
    reason = ma.fields.String(load_default="", validate=ma.validate.Length(max=REASON_CHARS))


@blp.route("/users/<int:user_id>/roles", methods=["PUT"])
@requires(Role.ADMIN)
@blp.arguments(RolesInSchema)
@blp.response(200, RoleChangeSchema)
def set_roles(data: dict[str, Any], user_id: int) -> dict[str, Any]:
    """Set a person's roles (not one's own; needs a fresh factor). Staff roles become a pending request."""
    actor = require_user()
    person = queries.get_manageable_user(actor, user_id)
    change = roles.set_roles(user=person, roles=data["roles"], actor=actor)
    db.session.commit()
    return {"user": change.user, "role_request": change.request}


def _person(user_id: int) -> User:
    return queries.get_manageable_user(require_user(), user_id)


@blp.route("/users/<int:user_id>/deactivate", methods=["POST"])
@requires(Role.ADMIN)
@blp.response(200, AdminUserSchema)
def deactivate(user_id: int) -> User:
    """Deactivate another person's account: their sessions and API tokens end at once."""
    person = roles.deactivate_user(user=_person(user_id), actor=require_user())
    db.session.commit()
    return person


@blp.route("/users/<int:user_id>/reactivate", methods=["POST"])
@requires(Role.ADMIN)
@blp.response(200, AdminUserSchema)
def reactivate(user_id: int) -> User:
    """Reactivate a deactivated account (the person signs in again)."""
    person = roles.reactivate_user(user=_person(user_id), actor=require_user())
    db.session.commit()
    return person


@blp.route("/role-requests", methods=["GET"])
@requires(Role.ADMIN, Role.AUDITOR)
@blp.arguments(RoleRequestArgs, location="query")
@blp.response(200, page_of(RoleRequestSchema))
def list_role_requests(args: dict[str, Any]) -> dict[str, Any]:
    """Role requests, oldest first (pending by default): administrators and auditors."""
    require(policy.can_view_role_requests(require_user()))
    status = RoleRequestStatus(args.get("status") or RoleRequestStatus.PENDING.value)
    return paginate(roles.role_requests(status=status), page=args["page"], per_page=args["per_page"])


@blp.route("/role-requests/<int:request_id>/approve", methods=["POST"])
@requires(Role.ADMIN)
@blp.response(200, RoleRequestSchema)
def approve_role_request(request_id: int) -> RoleGrantRequest:
    """A second administrator (not the requester, not the person) approves, with a fresh factor: the roles apply."""
    actor = require_user()
    role_request = roles.approve_role_request(role_request=roles.get_role_request(actor, request_id), actor=actor)
    db.session.commit()
    return role_request


@blp.route("/role-requests/<int:request_id>/reject", methods=["POST"])
@requires(Role.ADMIN)
@blp.arguments(RejectSchema)
@blp.response(200, RoleRequestSchema)
def reject_role_request(data: dict[str, Any], request_id: int) -> RoleGrantRequest:
    """A second administrator rejects (optionally with a reason); nothing changes for the person."""
    actor = require_user()
    role_request = roles.reject_role_request(role_request=roles.get_role_request(actor, request_id), actor=actor,
                                             reason=data["reason"])
    db.session.commit()
    return role_request


@blp.route("/role-requests/<int:request_id>/withdraw", methods=["POST"])
@requires(Role.ADMIN)
@blp.response(200, RoleRequestSchema)
def withdraw_role_request(request_id: int) -> RoleGrantRequest:
    """The requesting administrator takes back their pending request."""
    actor = require_user()
    role_request = roles.withdraw_role_request(role_request=roles.get_role_request(actor, request_id), actor=actor)
    db.session.commit()
    return role_request


# --- approval limits -----------------------------------------------------------------------------

class LimitRequestSchema(ma.Schema):
    id = ma.fields.Integer()
    person_id = ma.fields.Integer()
    limit_cents = ma.fields.Integer(allow_none=True, metadata={"description": "the new limit; null: the default"})
    previous_limit_cents = ma.fields.Integer(allow_none=True, metadata={
        "description": "the person's limit when it was proposed; null: the default"})
    reason = ma.fields.String(metadata={"description": "why the proposer asks"})
    requested_by_id = ma.fields.Integer()
    requested_at = ma.fields.AwareDateTime()
    status = ma.fields.Function(lambda r: r.status.value, metadata={"enum": [s.value for s in RoleRequestStatus]})
    decided_by_id = ma.fields.Integer(allow_none=True)
    decided_at = ma.fields.AwareDateTime(allow_none=True)
    decision_reason = ma.fields.String(metadata={"description": "why it was rejected (may be empty)"})


class ApprovalLimitSchema(ma.Schema):
    id = ma.fields.Integer(metadata={"description": "the person's user id"})
    limit_cents = ma.fields.Integer(metadata={"description": "the limit in effect (the default when none is set)"})
    personal_limit_cents = ma.fields.Integer(allow_none=True, metadata={
        "description": "the limit set for this person; null: the configured default applies"})
    senior = ma.fields.Boolean(metadata={"description": "whether the limit is a senior limit"})
    pending = ma.fields.Nested(LimitRequestSchema, allow_none=True, metadata={
        "description": "the change awaiting a second administrator, if any"})


class LimitInSchema(ma.Schema):
    limit_cents = ma.fields.Integer(required=True, allow_none=True, strict=True,
                                    validate=ma.validate.Range(min=0, max=MAX_CENTS),
                                    metadata={"description": "the new limit in cents; null: back to the default"})
    reason = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=REASON_CHARS))


class LimitRequestArgs(PageArgs):
    status = ma.fields.String(validate=ma.validate.OneOf([s.value for s in RoleRequestStatus]),
                              metadata={"description": "default: pending"})


def _limit_of(person: User) -> dict[str, Any]:
    approver = authority.approver_for(person)
    pending = roles.pending_limit_requests_for(person)
    return {"id": person.id, "limit_cents": approver.limit_cents, "personal_limit_cents": person.approval_limit_cents,
            "senior": approver.senior, "pending": pending[0] if pending else None}


@blp.route("/users/<int:user_id>/approval-limit", methods=["GET"])
@requires(Role.ADMIN, Role.AUDITOR)
@blp.response(200, ApprovalLimitSchema)
def get_approval_limit(user_id: int) -> dict[str, Any]:
    """A person's approval limit in effect, and the change awaiting a second administrator (admins, auditors)."""
    actor = require_user()
    require(policy.can_view_limit_requests(actor))
    person = db.session.get(User, user_id)
    if person is None:
        raise NotFound(_("There is no such user."))
    return _limit_of(person)


@blp.route("/users/<int:user_id>/approval-limit", methods=["POST"])
@requires(Role.ADMIN)
@blp.arguments(LimitInSchema)
@blp.response(201, LimitRequestSchema)
def propose_approval_limit(data: dict[str, Any], user_id: int) -> ApprovalLimitRequest:
    """Propose a fund manager's new approval limit with a reason (not one's own; needs a fresh factor): a pending
    change that a second administrator approves (409 while another change of it is pending)."""
    actor = require_user()
    limit_request = roles.propose_approval_limit(user=_person(user_id), limit_cents=data["limit_cents"],
                                                 reason=data["reason"], actor=actor)
    db.session.commit()
    return limit_request


@blp.route("/approval-limit-requests", methods=["GET"])
@requires(Role.ADMIN, Role.AUDITOR)
@blp.arguments(LimitRequestArgs, location="query")
@blp.response(200, page_of(LimitRequestSchema))
def list_limit_requests(args: dict[str, Any]) -> dict[str, Any]:
    """Approval limit changes, oldest first (pending by default): administrators and auditors."""
    require(policy.can_view_limit_requests(require_user()))
    status = RoleRequestStatus(args.get("status") or RoleRequestStatus.PENDING.value)
    return paginate(roles.limit_requests(status=status), page=args["page"], per_page=args["per_page"])


@blp.route("/approval-limit-requests/<int:limit_request_id>/approve", methods=["POST"])
@requires(Role.ADMIN)
@blp.response(200, LimitRequestSchema)
def approve_limit_request(limit_request_id: int) -> ApprovalLimitRequest:
    """A second administrator (not the proposer, not the person) approves, with a fresh factor: the limit applies."""
    actor = require_user()
    limit_request = roles.approve_limit_request(limit_request=roles.get_limit_request(actor, limit_request_id),
                                                actor=actor)
    db.session.commit()
    return limit_request


@blp.route("/approval-limit-requests/<int:limit_request_id>/reject", methods=["POST"])
@requires(Role.ADMIN)
@blp.arguments(RejectSchema)
@blp.response(200, LimitRequestSchema)
def reject_limit_request(data: dict[str, Any], limit_request_id: int) -> ApprovalLimitRequest:
    """A second administrator rejects (optionally with a reason); the limit stays as it was."""
    actor = require_user()
    limit_request = roles.reject_limit_request(limit_request=roles.get_limit_request(actor, limit_request_id),
                                               actor=actor, reason=data["reason"])
    db.session.commit()
    return limit_request


@blp.route("/approval-limit-requests/<int:limit_request_id>/withdraw", methods=["POST"])
@requires(Role.ADMIN)
@blp.response(200, LimitRequestSchema)
def withdraw_limit_request(limit_request_id: int) -> ApprovalLimitRequest:
    """The proposing administrator takes back their pending change."""
    actor = require_user()
    limit_request = roles.withdraw_limit_request(limit_request=roles.get_limit_request(actor, limit_request_id),
                                                 actor=actor)
    db.session.commit()
    return limit_request
