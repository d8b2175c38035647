"""Pages: sign up, sign in and out, password reset, profile, organisation (admin users: `admin_views`)."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, logout_user

from facility.accounts import admin_views, mfa_views, queries, services, signin_flow
from facility.accounts.forms import (
    SIGNUP_FIELDS,
    ChangePasswordForm,
    ForgotPasswordForm,
    OrganizationForm,
    ProfileForm,
    ReminderPreferencesForm,
    ResetPasswordForm,
    RevokeTokenForm,
    SignInForm,
    SignOutForm,
    SignUpForm,
)
from facility.accounts.limits import reset_limits, signin_limits, signup_limits
from facility.accounts.models import User
from facility.core.errors import DomainError
from facility.core.forms import FAILED, attempt
from facility.core.urls import safe_next
from facility.extensions import db, login_manager

bp = Blueprint("accounts", __name__)
admin_views.register_routes(bp)  # the administrators' pages (accounts.admin_views)


@login_manager.user_loader
def load_user(session_token: str):
    return services.load_session_user(session_token)


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths; anything else goes to the dashboard."""
    return safe_next(target, url_for("core.dashboard"))


def register(app) -> None:
    """The second factor's pages (and their app-wide enrolment gate) live in `accounts.mfa_views`."""
    app.register_blueprint(mfa_views.bp)


@bp.route("/signup", methods=["GET", "POST"])
@signup_limits
def signup():
    if current_user.is_authenticated:
        return redirect(url_for("core.dashboard"))
    form = SignUpForm()
    if form.validate_on_submit():
        user = attempt(form, services.register_user, field_map=SIGNUP_FIELDS, **form.signup_values())
        if user is not FAILED:
            _sign_in(user)
            db.session.commit()
            flash(_("Welcome, %(name)s. Your account is ready.", name=user.name), "success")
            return redirect(url_for("core.dashboard"))
    return render_template("accounts/signup.html", form=form), 422 if form.errors or form.form_errors else 200


def _sign_in(user: User) -> None:
    signin_flow.sign_in(user)


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
            if user.mfa_enrolled_at is not None:  # the second step: a code (accounts.mfa_views)
                signin_flow.begin_second_factor(user, target)
                db.session.commit()
                return redirect(url_for("mfa.signin_verify"))
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
@reset_limits
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
    return render_template("accounts/profile.html", form=form, password_form=password_form, user=user,
                           reminders_form=ReminderPreferencesForm(obj=user, prefix="rem"))


@bp.route("/profile/reminders", methods=["POST"])
@login_required
def reminder_preferences():
    user = current_user._get_current_object()
    form = ReminderPreferencesForm(prefix="rem")
    if form.validate_on_submit():
        saved = attempt(form, services.set_reminder_preference, user=user, actor=user,
                        optional_reminders=bool(form.optional_reminders.data))
        if saved is not FAILED:
            db.session.commit()
            flash(_("Reminder settings saved."), "success")
            return redirect(url_for("accounts.profile") + "#reminders")
    return render_template("accounts/profile.html", form=ProfileForm(obj=user, languages=current_app.config["LANGUAGES"]),
                           password_form=ChangePasswordForm(prefix="pw"), user=user, reminders_form=form), 422


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
    return render_template("accounts/profile.html", form=profile_form, password_form=form, user=user,
                           reminders_form=ReminderPreferencesForm(obj=user, prefix="rem")), 422


@bp.route("/profile/tokens")
@login_required
def tokens():
    rows = db.session.execute(queries.tokens_of(current_user).limit(queries.TOKENS_SHOWN)).scalars().all()
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
    user = current_user._get_current_object()
    org = queries.get_visible_organization(user, org_id)
    form = OrganizationForm(obj=org)
    if form.validate_on_submit() and attempt(form, services.update_organization, organization=org, actor=user,
                                             name=form.name.data, website=form.website.data,
                                             description=form.description.data,
                                             org_identifier=form.org_identifier.data) is not FAILED:
        db.session.commit()
        flash(_("Organisation saved."), "success")
        return redirect(url_for("accounts.organization", org_id=org.id))
    return render_template("accounts/organization.html", org=org, form=form, members=queries.members_of(org))
