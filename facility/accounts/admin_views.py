"""Administrators' pages: the users list, a person's roles, approval limit and account, role requests and approval
limit changes awaiting a second admin.

The routes belong to the `accounts` blueprint (`register_routes`, called by `accounts.views`), so their
endpoints stay `accounts.admin_users` and `accounts.admin_user_roles`. Each action asks the policy its
service asks (`accounts.policy`); the service refuses anyway.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required

from facility.accounts import queries, roles
from facility.accounts.admin_forms import ApprovalLimitForm, ButtonForm, ConfirmDeactivateForm, RejectRoleRequestForm
from facility.accounts.forms import RolesForm
from facility.accounts.models import Role
from facility.accounts.permissions import role_required
from facility.accounts.policy import can_list_users, can_view_limit_requests, can_view_role_requests
from facility.core.forms import FAILED, attempt, attempt_or_flash
from facility.core.inputs import page_arg
from facility.core.labels import label
from facility.core.policy import require
from facility.extensions import db


def _me() -> Any:
    return current_user._get_current_object()


@login_required
def admin_users() -> ResponseReturnValue:
    require(can_list_users(current_user))  # admins, and auditors (read only)
    q = (request.args.get("q") or "").strip()
    pagination = db.paginate(queries.users(search=q), page=page_arg(), per_page=50, error_out=False)
    pending = db.session.execute(roles.role_requests().limit(roles.ROLE_REQUESTS_SHOWN)).scalars().all() \
        if can_view_role_requests(current_user) is None else []
    limit_pending = db.session.execute(roles.limit_requests().limit(roles.ROLE_REQUESTS_SHOWN)).scalars().all() \
        if can_view_limit_requests(current_user) is None else []
    return render_template("accounts/admin_users.html", pagination=pagination, q=q, pending=pending,
                           limit_pending=limit_pending, button=ButtonForm(), reject_form=RejectRoleRequestForm(),
                           shown_limit=roles.shown_limit, fund_manager=Role.FUND_MANAGER)


def _user_page(user: Any, form: RolesForm, status: int = 200, limit_form: ApprovalLimitForm | None = None
               ) -> ResponseReturnValue:
    return render_template("accounts/admin_roles.html", form=form, user=user, pending=roles.pending_requests_for(user),
                           limit_pending=roles.pending_limit_requests_for(user),
                           limit_form=limit_form or ApprovalLimitForm(prefix="limit"), shown_limit=roles.shown_limit,
                           fund_manager=Role.FUND_MANAGER, button=ButtonForm(),
                           reject_form=RejectRoleRequestForm()), status


@role_required(Role.ADMIN)
def admin_user_roles(user_id: int) -> ResponseReturnValue:
    user = queries.get_manageable_user(current_user, user_id)
    form = RolesForm(data={"roles": user.roles})
    if form.validate_on_submit():
        change = attempt(form, roles.set_roles, user=user, roles=form.roles.data, actor=_me())
        if change is not FAILED:
            db.session.commit()
            if change.request is not None:
                flash(_("Roles saved for %(email)s. Granting %(roles)s needs a second administrator's approval: "
                        "it is pending.", email=user.email,
                        roles=", ".join(str(label(r)) for r in change.request.role_list)), "info")
            else:
                flash(_("Roles saved for %(email)s.", email=user.email), "success")
            return redirect(url_for("accounts.admin_user_roles", user_id=user.id))
        return _user_page(user, form, 422)
    return _user_page(user, form, 422 if form.errors else 200)


@role_required(Role.ADMIN)
def admin_deactivate(user_id: int) -> ResponseReturnValue:
    """GET: the confirmation page; POST (box ticked): deactivate."""
    user = queries.get_manageable_user(current_user, user_id)
    form = ConfirmDeactivateForm()
    if form.validate_on_submit() and attempt(form, roles.deactivate_user, user=user, actor=_me()) is not FAILED:
        db.session.commit()
        flash(_("%(email)s is deactivated; all their sessions and API tokens have ended.", email=user.email),
              "success")
        return redirect(url_for("accounts.admin_user_roles", user_id=user.id))
    status = 422 if form.errors or form.form_errors else 200
    return render_template("accounts/admin_deactivate.html", form=form, user=user), status


@role_required(Role.ADMIN)
def admin_reactivate(user_id: int) -> ResponseReturnValue:
    user = queries.get_manageable_user(current_user, user_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    if attempt_or_flash(roles.reactivate_user, user=user, actor=_me()) is not FAILED:
        db.session.commit()
        flash(_("%(email)s is active again.", email=user.email), "success")
    return redirect(url_for("accounts.admin_user_roles", user_id=user.id))


def _back(role_request: Any) -> ResponseReturnValue:
    if request.form.get("back") == "user":
        return redirect(url_for("accounts.admin_user_roles", user_id=role_request.person_id))
    return redirect(url_for("accounts.admin_users"))


@role_required(Role.ADMIN)
def approve_role_request(request_id: int) -> ResponseReturnValue:
    role_request = roles.get_role_request(_me(), request_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    if attempt_or_flash(roles.approve_role_request, role_request=role_request, actor=_me()) is not FAILED:
        db.session.commit()
        flash(_("Approved: the roles are in effect."), "success")
    return _back(role_request)


@role_required(Role.ADMIN)
def reject_role_request(request_id: int) -> ResponseReturnValue:
    role_request = roles.get_role_request(_me(), request_id)
    form = RejectRoleRequestForm()
    if not form.validate_on_submit():
        if not form.reason.errors:
            abort(400)
        flash(_("The reason is too long."), "error")
        return _back(role_request)
    if attempt_or_flash(roles.reject_role_request, role_request=role_request, actor=_me(),
                        reason=form.reason.data or "") is not FAILED:
        db.session.commit()
        flash(_("Rejected: nothing changed for the person."), "success")
    return _back(role_request)


@role_required(Role.ADMIN)
def withdraw_role_request(request_id: int) -> ResponseReturnValue:
    role_request = roles.get_role_request(_me(), request_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    if attempt_or_flash(roles.withdraw_role_request, role_request=role_request, actor=_me()) is not FAILED:
        db.session.commit()
        flash(_("Request withdrawn."), "success")
    return _back(role_request)


@role_required(Role.ADMIN)
def propose_approval_limit(user_id: int) -> ResponseReturnValue:
    """POST: an administrator proposes another fund manager's new approval limit (a second admin approves)."""
    user = queries.get_manageable_user(current_user, user_id)
    form = ApprovalLimitForm(prefix="limit")
    if form.validate_on_submit():
        limit_request = attempt(form, roles.propose_approval_limit, user=user, limit_cents=form.limit_cents.data,
                                reason=form.reason.data or "", actor=_me())
        if limit_request is not FAILED:
            db.session.commit()
            flash(_("The new approval limit of %(email)s (%(limit)s) needs a second administrator's approval: it is "
                    "pending.", email=user.email, limit=roles.shown_limit(limit_request.limit_cents)), "info")
            return redirect(url_for("accounts.admin_user_roles", user_id=user.id))
    user = queries.get_manageable_user(current_user, user_id)  # after a rollback: fresh rows
    return _user_page(user, RolesForm(data={"roles": user.roles}), 422, limit_form=form)


def _limit_back(limit_request: Any) -> ResponseReturnValue:
    if request.form.get("back") == "user":
        return redirect(url_for("accounts.admin_user_roles", user_id=limit_request.person_id))
    return redirect(url_for("accounts.admin_users"))


@role_required(Role.ADMIN)
def approve_limit_request(limit_request_id: int) -> ResponseReturnValue:
    limit_request = roles.get_limit_request(_me(), limit_request_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    if attempt_or_flash(roles.approve_limit_request, limit_request=limit_request, actor=_me()) is not FAILED:
        db.session.commit()
        flash(_("Approved: the new approval limit is in effect."), "success")
    return _limit_back(limit_request)


@role_required(Role.ADMIN)
def reject_limit_request(limit_request_id: int) -> ResponseReturnValue:
    limit_request = roles.get_limit_request(_me(), limit_request_id)
    form = RejectRoleRequestForm()
    if not form.validate_on_submit():
        if not form.reason.errors:
            abort(400)
        flash(_("The reason is too long."), "error")
        return _limit_back(limit_request)
    if attempt_or_flash(roles.reject_limit_request, limit_request=limit_request, actor=_me(),
                        reason=form.reason.data or "") is not FAILED:
        db.session.commit()
        flash(_("Rejected: the approval limit stays as it was."), "success")
    return _limit_back(limit_request)


@role_required(Role.ADMIN)
def withdraw_limit_request(limit_request_id: int) -> ResponseReturnValue:
    limit_request = roles.get_limit_request(_me(), limit_request_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    if attempt_or_flash(roles.withdraw_limit_request, limit_request=limit_request, actor=_me()) is not FAILED:
        db.session.commit()
        flash(_("Approval limit change withdrawn."), "success")
    return _limit_back(limit_request)


def register_routes(bp: Blueprint) -> None:
    """The administrators' routes, on the accounts blueprint."""
    bp.add_url_rule("/admin/users", "admin_users", admin_users)
    bp.add_url_rule("/admin/users/<int:user_id>/roles", "admin_user_roles", admin_user_roles,
                    methods=["GET", "POST"])
    bp.add_url_rule("/admin/users/<int:user_id>/deactivate", "admin_deactivate", admin_deactivate,
                    methods=["GET", "POST"])
    bp.add_url_rule("/admin/users/<int:user_id>/reactivate", "admin_reactivate", admin_reactivate, methods=["POST"])
    bp.add_url_rule("/admin/role-requests/<int:request_id>/approve", "approve_role_request", approve_role_request,
                    methods=["POST"])
    bp.add_url_rule("/admin/role-requests/<int:request_id>/reject", "reject_role_request", reject_role_request,
                    methods=["POST"])
    bp.add_url_rule("/admin/role-requests/<int:request_id>/withdraw", "withdraw_role_request",
                    withdraw_role_request, methods=["POST"])
    bp.add_url_rule("/admin/users/<int:user_id>/approval-limit", "propose_approval_limit", propose_approval_limit,
                    methods=["POST"])
    bp.add_url_rule("/admin/limit-requests/<int:limit_request_id>/approve", "approve_limit_request",
                    approve_limit_request, methods=["POST"])
    bp.add_url_rule("/admin/limit-requests/<int:limit_request_id>/reject", "reject_limit_request",
                    reject_limit_request, methods=["POST"])
    bp.add_url_rule("/admin/limit-requests/<int:limit_request_id>/withdraw", "withdraw_limit_request",
                    withdraw_limit_request, methods=["POST"])
