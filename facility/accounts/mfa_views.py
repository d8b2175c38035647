"""Pages: the sign-in's second step, two-step sign-in (enrolment), the step-up confirmation, and the gate.

Rules:
- After the password, a person with two-step sign-in on enters a code (or a recovery code) on
  `/signin/verify`; wrong codes count against the sign-in rate limit (`accounts.limits`).
- A signed-in person who must enrol (`policy.must_enrol`) is sent to the enrolment page from every
  page except enrolment itself, signing out, the language switch and static files.
- `/account/confirm?next=...` proves a fresh factor for step-up actions (`factors.require_fresh_factor`)
  and returns to `next` (same-site paths only).
Pages that show a secret or recovery codes are never cached.
"""
from __future__ import annotations

import segno
from flask import Blueprint, Response, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from markupsafe import Markup

from facility.accounts import mfa, signin_flow, totp
from facility.accounts.factors import note_factor_verified
from facility.accounts.forms import AppCodeForm, RecoveryCodesForm, SecondStepForm, TurnOffForm, TwoStepStartForm
from facility.accounts.limits import signin_limits
from facility.accounts.models import User
from facility.accounts.policy import is_enrolled, must_enrol, needs_mfa, other_factors
from facility.audit.services import record
from facility.core import urls
from facility.core.forms import FAILED, attempt
from facility.extensions import db

bp = Blueprint("mfa", __name__)

# Endpoints a person who must enrol may still reach (besides this blueprint's own).
GATE_OPEN = frozenset({"accounts.signout", "static", "core.set_language", "core.healthz", "favicon"})


def safe_next(target: str | None, default: str | None = None) -> str:
    """`core.urls.safe_next` with the dashboard as the default: only same-site paths are followed."""
    return urls.safe_next(target, default or url_for("core.dashboard"))


def _no_store(body: str, status: int = 200) -> Response:
    response = make_response(body, status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _status(form) -> int:
    return 422 if form.errors or getattr(form, "form_errors", None) else 200


# --- the gate -------------------------------------------------------------------------------------

@bp.before_app_request
def enrolment_gate():
    """A signed-in person who must enrol a second factor may only enrol (and sign out)."""
    endpoint = request.endpoint or ""
    if request.path.startswith("/api/") or endpoint in GATE_OPEN or endpoint.startswith(("mfa.", "passkeys.")) or not endpoint:
        return None
    if current_user.is_authenticated and must_enrol(current_user):
        flash(_("Your role needs two-step sign-in. Set it up now to continue."), "info")
        return redirect(url_for("mfa.two_step"))
    return None


# --- the sign-in's second step --------------------------------------------------------------------

@bp.route("/signin/verify", methods=["GET", "POST"])
@signin_limits
def signin_verify():
    user = signin_flow.pending_user()
    if user is None:
        flash(_("Please sign in again: the first step expired."), "info")
        return redirect(url_for("accounts.signin"))
    form = SecondStepForm()
    if form.validate_on_submit():
        factor = mfa.check_second_factor(user, form.code.data)
        if factor is None:
            record("user.second_factor_failed", actor=user, obj=user)
            db.session.commit()  # the failed attempt stays in the audit trail; nothing else changed
            form.code.errors = [mfa.wrong_code_message()]
        else:
            target = signin_flow.pending_next()
            signin_flow.sign_in(user, factor=factor)
            db.session.commit()
            if factor == mfa.RECOVERY:
                flash(_("You used a recovery code. Make new ones on the Two-step sign-in page if few are left."),
                      "info")
            return redirect(safe_next(target))
    form.email.data = user.email  # the rate limit counts attempts per account
    form.code.data = ""
    return render_template("accounts/signin_verify.html", form=form), _status(form)


# --- enrolment ------------------------------------------------------------------------------------

def _setup_page(user: User, form: AppCodeForm, status: int = 200) -> Response:
    secret = totp.secret_of(user) or ""
    uri = totp.provisioning_uri(user, secret)
    qr = segno.make(uri, error="m").svg_inline(scale=4, dark="#000", light="#fff",
                                                title=_("QR code for your authenticator app"))
    grouped = " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))
    # Reviewed (bandit B704): segno escapes the title it writes; the rest is the path it drew from the URI's bits.
    svg = Markup(qr)  # noqa: S704  # nosec B704
    return _no_store(render_template("accounts/two_step_setup.html", qr=svg, secret=grouped, form=form), status)


def _codes_page(codes: list[str]) -> Response:
    return _no_store(render_template("accounts/two_step_codes.html", codes=codes))


@bp.route("/account/two-step")
@login_required
def two_step():
    user = current_user._get_current_object()
    return _no_store(render_template(
        "accounts/two_step.html", user=user, enrolled=is_enrolled(user), required=needs_mfa(user), totp_on=user.totp_on,
        can_turn_off=not needs_mfa(user) or other_factors(user, without_totp=True) > 0,
        start_form=TwoStepStartForm(prefix="start"), recovery_form=RecoveryCodesForm(prefix="rc"),
        off_form=TurnOffForm(prefix="off")))


@bp.route("/account/two-step/start", methods=["POST"])
@login_required
def two_step_start():
    user = current_user._get_current_object()
    form = TwoStepStartForm(prefix="start")
    if form.validate_on_submit() and attempt(form, mfa.start_enrolment, user=user,
                                             password=form.password.data) is not FAILED:
        db.session.commit()
        return _setup_page(user, AppCodeForm(prefix="on"))
    return _no_store(render_template(
        "accounts/two_step.html", user=user, enrolled=is_enrolled(user), required=needs_mfa(user),
        start_form=form, recovery_form=RecoveryCodesForm(prefix="rc"), off_form=TurnOffForm(prefix="off")), 422)


@bp.route("/account/two-step/confirm", methods=["POST"])
@login_required
def two_step_confirm():
    user = current_user._get_current_object()
    form = AppCodeForm(prefix="on")
    if user.totp_on:
        flash(_("Two-step sign-in is already on."), "info")
        return redirect(url_for("mfa.two_step"))
    if totp.secret_of(user) is None:
        flash(_("Start again: confirm your password to get a new secret."), "info")
        return redirect(url_for("mfa.two_step"))
    if form.validate_on_submit():
        codes = attempt(form, mfa.confirm_enrolment, user=user, code=form.code.data, field_map={"otp": "code"})
        if codes is not FAILED:
            note_factor_verified(user, session_row=signin_flow.current_session_row(user))
            db.session.commit()
            flash(_("Two-step sign-in is on."), "success")
            return _codes_page(codes)
    return _setup_page(user, form, 422)


@bp.route("/account/two-step/recovery-codes", methods=["POST"])
@login_required
def two_step_recovery_codes():
    user = current_user._get_current_object()
    form = RecoveryCodesForm(prefix="rc")
    if form.validate_on_submit():
        codes = attempt(form, mfa.regenerate_recovery_codes, user=user, code=form.code.data,
                        field_map={"otp": "code"})
        if codes is not FAILED:
            db.session.commit()
            flash(_("New recovery codes are ready; the old ones no longer work."), "success")
            return _codes_page(codes)
    return _no_store(render_template(
        "accounts/two_step.html", user=user, enrolled=is_enrolled(user), required=needs_mfa(user),
        start_form=TwoStepStartForm(prefix="start"), recovery_form=form, off_form=TurnOffForm(prefix="off")), 422)


@bp.route("/account/two-step/off", methods=["POST"])
@login_required
def two_step_off():
    user = current_user._get_current_object()
    form = TurnOffForm(prefix="off")
    if form.validate_on_submit() and attempt(form, mfa.turn_off, user=user, code=form.code.data,
                                             field_map={"otp": "code"}) is not FAILED:
        db.session.commit()
        flash(_("Two-step sign-in is off."), "success")
        return redirect(url_for("mfa.two_step"))
    return _no_store(render_template(
        "accounts/two_step.html", user=user, enrolled=is_enrolled(user), required=needs_mfa(user),
        start_form=TwoStepStartForm(prefix="start"), recovery_form=RecoveryCodesForm(prefix="rc"), off_form=form),
        422)


# --- step-up --------------------------------------------------------------------------------------

@bp.route("/account/confirm", methods=["GET", "POST"])
@login_required
@signin_limits
def confirm():
    """Prove a fresh second factor for this session, then go back to `next`."""
    user = current_user._get_current_object()
    target = safe_next(request.args.get("next"))
    if not is_enrolled(user):
        flash(_("Turn two-step sign-in on first; then you can confirm it is you."), "info")
        return redirect(url_for("mfa.two_step"))
    form = SecondStepForm()
    form.submit.label.text = _("Confirm")
    if form.validate_on_submit():
        factor = mfa.check_second_factor(user, form.code.data)
        if factor is None:
            db.session.rollback()  # a refused code writes nothing
            form.code.errors = [mfa.wrong_code_message()]
        else:
            note_factor_verified(user, session_row=signin_flow.current_session_row(user))
            record("user.step_up", actor=user, obj=user, details={"factor": factor})
            db.session.commit()
            return redirect(target)
    form.email.data = user.email
    form.code.data = ""
    return render_template("accounts/confirm.html", form=form, next=target), _status(form)
