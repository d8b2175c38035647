"""Who holds which role, and who may change it: role changes, role grant requests, deactivation.

Rules (each function names the policy it asks, `accounts.policy`):
- nobody changes their own roles (`can_set_roles`);
- removing a role, or granting one that is not staff (innovator, city official, reviewer, donor), acts at once;
- granting fund manager, administrator or auditor (`models.GUARDED_ROLES`) only files a `RoleGrantRequest`:
  it takes effect when a second administrator, neither the requester nor the person, approves it
  (`can_decide_role_request`);
- changing roles and approving a request need a fresh second factor (`factors.require_fresh_factor`);
- an administrator deactivates (and reactivates) someone else's account; deactivating ends all their
  sessions and API tokens (`can_deactivate`, `can_reactivate`);
- a fund manager's personal approval limit (`User.approval_limit_cents`, `accounts.authority`) changes the same
  way as a staff role: an administrator proposes the new limit with a reason (`can_propose_limit`: never their
  own), which files an `ApprovalLimitRequest`; it takes effect when a second administrator, neither the
  proposer nor the person, approves it (`can_decide_limit_request`); rejected or withdrawn, nothing changes.
  Proposing and approving need a fresh second factor. One pending change per person at a time.

The operator's `flask --app wsgi facility create-user` (services.create_user) is not a role change: it creates
staff from the server's shell. Services flush but never commit; every change is in the audit trail.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from facility.accounts import factors, policy
from facility.accounts.authority import default_limit_cents
from facility.accounts.models import (
    GUARDED_ROLES,
    ROLE_REQUEST_TRANSITIONS,
    ApprovalLimitRequest,
    Role,
    RoleGrantRequest,
    RoleRequestStatus,
    User,
)
from facility.accounts.services import end_all_sessions
from facility.audit.services import record
from facility.core.database import lock_row
from facility.core.errors import Conflict, NotFound, ValidationFailed
from facility.core.inputs import MAX_CENTS, REASON_CHARS, clean_text
from facility.core.models import utcnow
from facility.core.policy import require
from facility.core.templating import money
from facility.extensions import db

ROLE_REQUESTS_SHOWN = 50


@dataclass(frozen=True)
class RoleChange:
    """What `set_roles` did: the roles in effect now, and the request filed for the guarded ones (if any)."""

    user: User
    request: RoleGrantRequest | None


def _parse_roles(roles: list[str]) -> set[Role]:
    try:
        return {Role(r) for r in roles}
    except ValueError:
        raise ValidationFailed(_("Some fields need your attention."),
                               errors={"roles": [_("Choose roles from the list.")]}) from None


def set_roles(*, user: User, roles: list[str], actor: User) -> RoleChange:
    """Rule `policy.can_set_roles` (nobody changes their own roles), with a fresh second factor.

    Removals and non-staff grants act at once; fund manager, administrator and auditor become a pending
    `RoleGrantRequest` for a second administrator (an identical pending request is reused).
    """
    wanted = _parse_roles(roles)
    require(policy.can_set_roles(actor, user, wanted))
    require(factors.require_fresh_factor(actor))
    before = sorted(user.roles)
    held = set(user.role_list)
    guarded = {role for role in wanted - held if role in GUARDED_ROLES}
    for role in held - wanted:
        user.remove_role(role)
    for role in wanted - held - guarded:
        user.add_role(role)
    after = sorted(user.roles)
    if after != before:
        record("user.roles_changed", actor=actor, obj=user, details={"before": before, "after": after})
    grant_request = _file_request(user, guarded, actor) if guarded else None
    db.session.flush()
    return RoleChange(user=user, request=grant_request)


def _file_request(user: User, guarded: set[Role], actor: User) -> RoleGrantRequest:
    values = sorted(role.value for role in guarded)
    existing = db.session.execute(sa.select(RoleGrantRequest).where(
        RoleGrantRequest.person_id == user.id, RoleGrantRequest.status == RoleRequestStatus.PENDING)).scalars().all()
    for pending in existing:
        if sorted(pending.roles) == values:
            return pending
    grant_request = RoleGrantRequest(person_id=user.id, roles=values, requested_by_id=actor.id,
                                     requested_at=utcnow(), status=RoleRequestStatus.PENDING, reason="")
    db.session.add(grant_request)
    db.session.flush()
    record("role_request.created", actor=actor, obj=grant_request,
           details={"person_id": user.id, "roles": values})
    return grant_request


def _decide(request: RoleGrantRequest | ApprovalLimitRequest, to: RoleRequestStatus, actor: User) -> None:
    """Move a second-admin request (role grant or limit change) out of pending, stamping who decided and when."""
    ROLE_REQUEST_TRANSITIONS.move(request, to)
    request.decided_by_id, request.decided_at = actor.id, utcnow()


def _locked_request(role_request_id: int) -> RoleGrantRequest:
    return lock_row(RoleGrantRequest, role_request_id, missing=_("There is no such role request."))


def approve_role_request(*, role_request: RoleGrantRequest, actor: User) -> RoleGrantRequest:
    """Rule `policy.can_decide_role_request`: a second administrator (not the requester, not the person)
    approves, with a fresh second factor; the roles then take effect."""
    role_request = _locked_request(role_request.id)
    require(policy.can_decide_role_request(actor, role_request))
    require(factors.require_fresh_factor(actor))
    _decide(role_request, RoleRequestStatus.APPROVED, actor)
    person = role_request.person
    before = sorted(person.roles)
    for value in role_request.roles:
        person.add_role(value)
    record("role_request.approved", actor=actor, obj=role_request,
           details={"person_id": person.id, "roles": list(role_request.roles),
                    "requested_by_id": role_request.requested_by_id})
    record("user.roles_changed", actor=actor, obj=person,
           details={"before": before, "after": sorted(person.roles), "role_request_id": role_request.id})
    db.session.flush()
    return role_request


def reject_role_request(*, role_request: RoleGrantRequest, actor: User, reason: str = "") -> RoleGrantRequest:
    """Rule `policy.can_decide_role_request`: a second administrator rejects, optionally saying why; nothing
    changes for the person."""
    role_request = _locked_request(role_request.id)
    require(policy.can_decide_role_request(actor, role_request))
    reason = clean_text(reason, "reason", limit=REASON_CHARS, multiline=True)
    _decide(role_request, RoleRequestStatus.REJECTED, actor)
    role_request.reason = reason
    record("role_request.rejected", actor=actor, obj=role_request,
           details={"person_id": role_request.person_id, "roles": list(role_request.roles), "reason": reason})
    db.session.flush()
    return role_request


def withdraw_role_request(*, role_request: RoleGrantRequest, actor: User) -> RoleGrantRequest:
    """Rule `policy.can_withdraw_role_request`: the requester takes back their own pending request."""
    role_request = _locked_request(role_request.id)
    require(policy.can_withdraw_role_request(actor, role_request))
    _decide(role_request, RoleRequestStatus.WITHDRAWN, actor)
    record("role_request.withdrawn", actor=actor, obj=role_request,
           details={"person_id": role_request.person_id, "roles": list(role_request.roles)})
    db.session.flush()
    return role_request


# --- personal approval limits --------------------------------------------------------------------

def _limit_value(limit_cents: Any) -> int | None:
    if limit_cents is None:
        return None
    if isinstance(limit_cents, bool) or not isinstance(limit_cents, int) or not 0 <= limit_cents <= MAX_CENTS:
        raise ValidationFailed(_("Some fields need your attention."), errors={"limit_cents": [
            _("Give the limit in cents, from 0 to %(max)s; none for the default.", max=f"{MAX_CENTS:,}")]})
    return limit_cents


def shown_limit(limit_cents: int | None) -> str:
    """A limit as pages show it: the amount, or the default's amount and that it is the default."""
    if limit_cents is None:
        return str(_("%(amount)s (the default)", amount=money(default_limit_cents())))
    return str(money(limit_cents))


def propose_approval_limit(*, user: User, limit_cents: int | None, reason: str, actor: User) -> ApprovalLimitRequest:
    """Rule `policy.can_propose_limit` (an administrator, for a fund manager other than themselves), with a fresh
    second factor and a reason: files a pending `ApprovalLimitRequest` (None: back to the default limit).

    Nothing changes until a second administrator approves it. One pending change per person (409 otherwise);
    the person's row is locked so that two proposals at once file one.
    """
    user = lock_row(User, user.id, missing=_("There is no such user."))
    require(policy.can_propose_limit(actor, user))
    require(factors.require_fresh_factor(actor))
    limit = _limit_value(limit_cents)
    reason = clean_text(reason, "reason", limit=REASON_CHARS, required=True, multiline=True)
    if limit == user.approval_limit_cents:
        raise ValidationFailed(_("Some fields need your attention."), errors={"limit_cents": [
            _("This is their approval limit already.")]})
    pending = db.session.execute(sa.select(ApprovalLimitRequest.id).where(
        ApprovalLimitRequest.person_id == user.id,
        ApprovalLimitRequest.status == RoleRequestStatus.PENDING)).scalar_one_or_none()
    if pending is not None:
        raise Conflict(_("A change of this approval limit is already pending (request %(id)s): it must be decided "
                         "or withdrawn first.", id=pending))
    limit_request = ApprovalLimitRequest(person_id=user.id, limit_cents=limit, previous_limit_cents=user.approval_limit_cents,
                                         reason=reason, requested_by_id=actor.id, requested_at=utcnow(),
                                         status=RoleRequestStatus.PENDING)
    db.session.add(limit_request)
    db.session.flush()
    record("approval_limit_request.created", actor=actor, obj=limit_request,
           details={"person_id": user.id, "limit_cents": limit, "previous_limit_cents": user.approval_limit_cents,
                    "reason": reason})
    return limit_request


def _locked_limit_request(limit_request_id: int) -> ApprovalLimitRequest:
    return lock_row(ApprovalLimitRequest, limit_request_id, missing=_("There is no such approval limit change."))


def approve_limit_request(*, limit_request: ApprovalLimitRequest, actor: User) -> ApprovalLimitRequest:
    """Rule `policy.can_decide_limit_request`: a second administrator (not the proposer, not the person) approves,
    with a fresh second factor; the new limit then takes effect (approvals given before keep the limit they
    were given with)."""
    limit_request = _locked_limit_request(limit_request.id)
    require(policy.can_decide_limit_request(actor, limit_request))
    require(factors.require_fresh_factor(actor))
    _decide(limit_request, RoleRequestStatus.APPROVED, actor)
    person = lock_row(User, limit_request.person_id, missing=_("There is no such user."))
    before = person.approval_limit_cents
    person.approval_limit_cents = limit_request.limit_cents
    record("approval_limit_request.approved", actor=actor, obj=limit_request,
           details={"person_id": person.id, "limit_cents": limit_request.limit_cents,
                    "requested_by_id": limit_request.requested_by_id})
    record("user.approval_limit_changed", actor=actor, obj=person,
           details={"before": before, "after": person.approval_limit_cents, "limit_request_id": limit_request.id})
    db.session.flush()
    return limit_request


def reject_limit_request(*, limit_request: ApprovalLimitRequest, actor: User, reason: str = "") -> ApprovalLimitRequest:
    """Rule `policy.can_decide_limit_request`: a second administrator rejects, optionally saying why; the limit
    stays as it is."""
    limit_request = _locked_limit_request(limit_request.id)
    require(policy.can_decide_limit_request(actor, limit_request))
    reason = clean_text(reason, "reason", limit=REASON_CHARS, multiline=True)
    _decide(limit_request, RoleRequestStatus.REJECTED, actor)
    limit_request.decision_reason = reason
    record("approval_limit_request.rejected", actor=actor, obj=limit_request,
           details={"person_id": limit_request.person_id, "limit_cents": limit_request.limit_cents, "reason": reason})
    db.session.flush()
    return limit_request


def withdraw_limit_request(*, limit_request: ApprovalLimitRequest, actor: User) -> ApprovalLimitRequest:
    """Rule `policy.can_withdraw_limit_request`: the proposer takes back their own pending change."""
    limit_request = _locked_limit_request(limit_request.id)
    require(policy.can_withdraw_limit_request(actor, limit_request))
    _decide(limit_request, RoleRequestStatus.WITHDRAWN, actor)
    record("approval_limit_request.withdrawn", actor=actor, obj=limit_request,
           details={"person_id": limit_request.person_id, "limit_cents": limit_request.limit_cents})
    db.session.flush()
    return limit_request


def deactivate_user(*, user: User, actor: User) -> User:
    """Rule `policy.can_deactivate`: an administrator deactivates someone else's account; every session and
    API token of theirs ends at once (their old cookie and token stop working)."""
    require(policy.can_deactivate(actor, user))
    user.active = False
    end_all_sessions(user=user, actor=actor)
    record("user.deactivated", actor=actor, obj=user)
    db.session.flush()
    return user


def reactivate_user(*, user: User, actor: User) -> User:
    """Rule `policy.can_reactivate`: an administrator reactivates someone else's account (they sign in again)."""
    require(policy.can_reactivate(actor, user))
    user.active = True
    record("user.reactivated", actor=actor, obj=user)
    db.session.flush()
    return user


# --- reads ------------------------------------------------------------------------------------------

def role_requests(*, status: RoleRequestStatus | None = RoleRequestStatus.PENDING) -> sa.Select[Any]:
    """Role requests, oldest first (the pending ones by default; `status=None` for all)."""
    query = sa.select(RoleGrantRequest).order_by(RoleGrantRequest.id)
    return query if status is None else query.where(RoleGrantRequest.status == status)


def pending_requests_for(user: User) -> list[RoleGrantRequest]:
    """The pending requests for `user`'s roles (the admin user page shows them)."""
    return list(db.session.execute(role_requests().where(RoleGrantRequest.person_id == user.id)).scalars())


def get_role_request(actor: Any, role_request_id: int) -> RoleGrantRequest:
    """A role request `actor` may see (`policy.can_view_role_requests`): 403 for others, 404 when missing."""
    require(policy.can_view_role_requests(actor))
    role_request = db.session.get(RoleGrantRequest, role_request_id)
    if role_request is None:
        raise NotFound(_("There is no such role request."))
    return role_request


def limit_requests(*, status: RoleRequestStatus | None = RoleRequestStatus.PENDING,
                   person_id: int | None = None) -> sa.Select[Any]:
    """Approval limit changes, oldest first (the pending ones by default; `status=None` for all), optionally of
    one person."""
    query = sa.select(ApprovalLimitRequest).order_by(ApprovalLimitRequest.id)
    if person_id is not None:
        query = query.where(ApprovalLimitRequest.person_id == person_id)
    return query if status is None else query.where(ApprovalLimitRequest.status == status)


def pending_limit_requests_for(user: User) -> list[ApprovalLimitRequest]:
    """The pending change of `user`'s approval limit, if any (the admin user page shows it)."""
    return list(db.session.execute(limit_requests(person_id=user.id)).scalars())


def get_limit_request(actor: Any, limit_request_id: int) -> ApprovalLimitRequest:
    """An approval limit change `actor` may see (`policy.can_view_limit_requests`): 403 for others, 404 when
    missing."""
    require(policy.can_view_limit_requests(actor))
    limit_request = db.session.get(ApprovalLimitRequest, limit_request_id)
    if limit_request is None:
        raise NotFound(_("There is no such approval limit change."))
    return limit_request
