"""Pages: sign up, sign in and out, password reset, profile, organisation, admin users."""
from __future__ import annotations

from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from facility.accounts import services
from facility.accounts.forms import (
    ChangePasswordForm,
    ForgotPasswordForm,
    OrganizationForm,
    ProfileForm,
    ResetPasswordForm,
    RevokeTokenForm,
    RolesForm,
    SignInForm,
    SignOutForm,
    SignUpForm,
    role_labels,
)
from facility.accounts.models import ApiToken, Organization, Role, User
from facility.accounts.permissions import role_required
from facility.audit.services import record
from facility.core.errors import DomainError
from facility.core.forms import FAILED, attempt
from facility.core.inputs import page_arg
from facility.extensions import db, limiter, login_manager

bp = Blueprint("accounts", __name__)


def _account_key() -> str:
    """Rate-limit key per account: the e-mail being signed in to, from a form or JSON body."""
    email = request.form.get("email")
    if email is None and request.is_json:
        body = request.get_json(silent=True)
        email = body.get("email") if isinstance(body, dict) else None
    return "account:" + services.normalise_email(str(email or ""))


def _per_account() -> str:
    return current_app.config["SIGNIN_LIMIT_PER_ACCOUNT"]


def _per_address() -> str:
    return current_app.config["SIGNIN_LIMIT_PER_ADDRESS"]


def signin_limits(view):
    """Sign-in attempts are limited per account and per address (POST only)."""
    view = limiter.limit(_per_account, key_func=_account_key, methods=["POST"], scope="signin-account")(view)
    return limiter.limit(_per_address, methods=["POST"], scope="signin-address")(view)


@login_manager.user_loader
def load_user(session_token: str):
    return services.load_session_user(session_token)


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths; anything else goes to the dashboard."""
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("core.dashboard")


@bp.route("/signup", methods=["GET", "POST"])
def signup():
    if current_user.is_authenticated:
        return redirect(url_for("core.dashboard"))
    form = SignUpForm()
    if form.validate_on_submit():
        organization = None
        if form.org_name.data or form.role.data == Role.INNOVATOR.value:
            organization = {"name": form.org_name.data, "country": form.org_country.data,
                            "org_type": form.org_type.data}
        user = attempt(
            form, services.register_user, email=form.email.data, password=form.password.data, name=form.name.data,
            role=form.role.data, organization=organization,
            field_map={"organization": "org_name", "organization.name": "org_name",
                       "organization.country": "org_country", "organization.org_type": "org_type"},
        )
        if user is not FAILED:
            _sign_in(user)
            db.session.commit()
            flash(_("Welcome, %(name)s. Your account is ready.", name=user.name), "success")
            return redirect(url_for("core.dashboard"))
    return render_template("accounts/signup.html", form=form), 422 if form.errors or form.form_errors else 200


def _sign_in(user: User) -> None:
    # A fresh session at sign-in: nothing from before (fixation) survives.
    session.clear()
    services.start_session(user=user)
    login_user(user)
    session.permanent = True


@bp.route("/signin", methods=["GET", "POST"])
@signin_limits
def signin():
    form = SignInForm()
    if form.validate_on_submit():
        user = services.authenticate(email=form.email.data, password=form.password.data)
        if user is None:
            db.session.commit()  # the failed attempt stays in the audit trail
            form.form_errors.append(_("The e-mail address or password is wrong."))
        else:
            target = _safe_next(request.args.get("next"))
            _sign_in(user)
            db.session.commit()
            return redirect(target)
    status = 422 if form.errors or form.form_errors else 200
    return render_template("accounts/signin.html", form=form), status


@bp.route("/signout", methods=["POST"])
@login_required
def signout():
    form = SignOutForm()
    if form.validate_on_submit():
        services.end_session(user=current_user._get_current_object(), token=session.get("_user_id"))
        db.session.commit()
        logout_user()
        session.clear()
        flash(_("You are signed out."), "info")
    return redirect(url_for("core.home"))


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["SIGNIN_LIMIT_PER_ADDRESS"], methods=["POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        services.request_password_reset(email=form.email.data)
        db.session.commit()
        flash(_("If an account uses that address, we have e-mailed it a link to reset the password."), "info")
        return redirect(url_for("accounts.signin"))
    return render_template("accounts/forgot_password.html", form=form)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    user = services.user_for_reset_token(token)
    if user is None:
        return render_template("accounts/reset_invalid.html"), 404
    form = ResetPasswordForm()
    changed = form.validate_on_submit() and attempt(
        form, services.change_password, user=user, new_password=form.password.data) is not FAILED
    if changed:
        db.session.commit()
        logout_user()
        session.clear()
        flash(_("Your password is changed. Sign in with the new one."), "success")
        return redirect(url_for("accounts.signin"))
    return render_template("accounts/reset_password.html", form=form)


@bp.route("/profile", methods=["GET", "POST"])
@login_required
def profile():
    user = current_user._get_current_object()
    form = ProfileForm(obj=user, languages=current_app.config["LANGUAGES"])
    if request.method == "GET":
        form.locale.data = user.locale or ""
    password_form = ChangePasswordForm(prefix="pw")
    if form.submit.data and form.validate_on_submit():
        saved = attempt(form, services.update_profile, user=user, actor=user, name=form.name.data,
                        locale=form.locale.data or None, timezone_name=form.timezone.data)
        if saved is not FAILED:
            db.session.commit()
            flash(_("Profile saved."), "success")
            return redirect(url_for("accounts.profile"))
    return render_template("accounts/profile.html", form=form, password_form=password_form, user=user)


@bp.route("/profile/password", methods=["POST"])
@login_required
def change_password():
    user = current_user._get_current_object()
    form = ChangePasswordForm(prefix="pw")
    profile_form = ProfileForm(obj=user, languages=current_app.config["LANGUAGES"])
    if form.validate_on_submit():
        if not services.verify_password(user, form.current_password.data):
            form.current_password.errors = [_("This is not your current password.")]
        else:
            if attempt(form, services.change_password, user=user, new_password=form.password.data) is not FAILED:
                # Every other session ended; keep this browser signed in with a new one.
                _sign_in(user)
                db.session.commit()
                flash(_("Password changed. Other devices and API tokens were signed out."), "success")
                return redirect(url_for("accounts.profile"))
    return render_template("accounts/profile.html", form=profile_form, password_form=form, user=user), 422


@bp.route("/profile/tokens")
@login_required
def tokens():
    rows = db.session.execute(
        sa.select(ApiToken).where(ApiToken.user_id == current_user.id).order_by(ApiToken.id.desc()).limit(100)
    ).scalars().all()
    return render_template("accounts/tokens.html", tokens=rows, revoke_form=RevokeTokenForm())


@bp.route("/profile/tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke_token(token_id: int):
    form = RevokeTokenForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        services.revoke_api_token(token_id=token_id, actor=current_user._get_current_object())
    except DomainError:
        abort(404)
    db.session.commit()
    flash(_("Token revoked."), "success")
    return redirect(url_for("accounts.tokens"))


@bp.route("/organizations/<int:org_id>", methods=["GET", "POST"])
@login_required
def organization(org_id: int):
    org = db.session.get(Organization, org_id)
    if org is None or not org.can_edit(current_user):
        abort(404)
    form = OrganizationForm(obj=org)
    if form.validate_on_submit():
        org.name = form.name.data.strip()
        org.website = form.website.data or None
        org.description = form.description.data or ""
        record("organization.updated", actor=current_user._get_current_object(), obj=org)
        db.session.commit()
        flash(_("Organisation saved."), "success")
        return redirect(url_for("accounts.organization", org_id=org.id))
    members = db.session.execute(sa.select(User).where(User.organization_id == org.id).order_by(User.name)).scalars().all()
    return render_template("accounts/organization.html", org=org, form=form, members=members)


@bp.route("/admin/users")
@role_required(Role.ADMIN)
def admin_users():
    page = page_arg()
    q = (request.args.get("q") or "").strip()
    query = sa.select(User).options(sa.orm.selectinload(User.organization)).order_by(User.id)
    if q:
        like = f"%{q.lower()}%"
        query = query.where(sa.or_(sa.func.lower(User.email).like(like), sa.func.lower(User.name).like(like)))
    pagination = db.paginate(query, page=page, per_page=50, error_out=False)
    return render_template("accounts/admin_users.html", pagination=pagination, q=q, role_labels=role_labels())


@bp.route("/admin/users/<int:user_id>/roles", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def admin_user_roles(user_id: int):
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    form = RolesForm(data={"roles": user.roles})
    if form.validate_on_submit():
        saved = attempt(form, services.set_roles, user=user, roles=form.roles.data,
                        actor=current_user._get_current_object())
        if saved is not FAILED:
            db.session.commit()
            flash(_("Roles saved for %(email)s.", email=user.email), "success")
            return redirect(url_for("accounts.admin_users"))
    return render_template("accounts/admin_roles.html", form=form, user=user)


def register(app) -> None:
    @app.context_processor
    def _role_labels():
        return {"role_labels": role_labels()}
