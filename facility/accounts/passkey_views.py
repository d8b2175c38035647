"""Passkey pages and the JSON endpoints `static/js/passkeys.js` calls.

- `/profile/passkeys`: list, add (named) and remove one's own passkeys. Adding needs JavaScript (the
  browser's WebAuthn API); without it the page says so, and the authenticator app keeps working.
- `/signin/passkey`: the second step of sign-in with a passkey, for the person whose password was just
  accepted (`signin_flow.pending_user`); anyone else gets 404.
- `/confirm/passkey`: step-up: a signed-in person proves a passkey and their session is fresh for
  `STEP_UP_SECONDS`.
The JSON endpoints answer problem JSON (RFC 9457 shape) when refused; CSRF is checked on every POST
(the script sends the page's token in `X-CSRFToken`).
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import StringField, SubmitField
from wtforms.validators import DataRequired, Length

from facility.accounts import passkeys, signin_flow
from facility.accounts.factors import note_factor_verified
from facility.accounts.models import PasskeyCredential, User
from facility.accounts.views import _safe_next
from facility.core.errors import DomainError, NotFound, PermissionDenied
from facility.core.forms import note_form_errors
from facility.extensions import db

bp = Blueprint("passkeys", __name__)


class PasskeyNameForm(FlaskForm):
    name = StringField(_l("Name of this passkey"), validators=[DataRequired(), Length(max=passkeys.NAME_CHARS)],
                       description=_l("For example: work laptop, phone."))
    submit = SubmitField(_l("Add a passkey"))


class RemovePasskeyForm(FlaskForm):
    submit = SubmitField(_l("Remove"))


@bp.after_request
def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.app_context_processor
def _passkey_context() -> dict[str, Any]:
    """`passkey_available()` for `_passkey_option.html`: the person (signed in, or between the two steps
    of sign-in) has a passkey to use."""
    def passkey_available() -> bool:
        user = _signed_in_user() or signin_flow.pending_user()
        return user is not None and passkeys.has_passkey(user)

    return {"passkey_available": passkey_available}


def _signed_in_user() -> User | None:
    return current_user._get_current_object() if current_user.is_authenticated else None


def _problem(error: DomainError) -> tuple[Response, int]:
    body: dict[str, Any] = {"type": "about:blank", "title": error.title, "status": error.status,
                            "detail": error.detail}
    if error.errors:
        body["errors"] = error.errors
    response = jsonify(body)
    response.mimetype = "application/problem+json"
    return response, error.status


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else {}


def _signed_in_or_refuse() -> User:
    user = _signed_in_user()
    if user is None:
        raise PermissionDenied(_("Please sign in first."))
    return user


# --- the Passkeys page ----------------------------------------------------------------------------

@bp.route("/profile/passkeys")
@login_required
def manage():
    user = current_user._get_current_object()
    return render_template("accounts/passkeys.html", passkeys=passkeys.passkeys_of(user),
                           add_form=PasskeyNameForm(), remove_form=RemovePasskeyForm(),
                           rp_id=passkeys.rp_id())


@bp.route("/profile/passkeys/options", methods=["POST"])
def registration_options():
    try:
        options = passkeys.registration_options(user=_signed_in_or_refuse())
    except DomainError as error:
        return _problem(error)
    return jsonify(options)


@bp.route("/profile/passkeys", methods=["POST"])
def register():
    data = _body()
    try:
        user = _signed_in_or_refuse()
        passkey = passkeys.verify_registration(user=user, credential=data.get("credential"), name=data.get("name"))
    except DomainError as error:
        db.session.commit()  # the refused attempt stays in the audit trail; nothing else was changed
        return _problem(error)
    db.session.commit()
    flash(_("Passkey “%(name)s” added.", name=passkey.name), "success")
    return jsonify({"id": passkey.id, "name": passkey.name, "redirect": url_for("passkeys.manage")})


@bp.route("/profile/passkeys/<int:passkey_id>/remove", methods=["POST"])
@login_required
def remove(passkey_id: int):
    form = RemovePasskeyForm()
    if not form.validate_on_submit():
        abort(400)
    user = current_user._get_current_object()
    passkey = db.session.get(PasskeyCredential, passkey_id)
    try:
        if passkey is None:
            raise NotFound(_("No such passkey."))
        passkeys.remove_passkey(user=user, passkey=passkey)
    except NotFound:
        db.session.rollback()
        abort(404)
    except DomainError as error:
        db.session.rollback()
        note_form_errors()  # the refusal is shown in an error summary: "Error:" in the title
        return render_template("accounts/passkeys.html", passkeys=passkeys.passkeys_of(user),
                               add_form=PasskeyNameForm(), remove_form=form, rp_id=passkeys.rp_id(),
                               refusal=error.detail), error.status
    db.session.commit()
    flash(_("Passkey removed."), "success")
    return redirect(url_for("passkeys.manage"))


# --- the second step of sign-in -------------------------------------------------------------------

def _pending_or_404() -> User:
    user = signin_flow.pending_user()
    if user is None:
        raise NotFound(_("There is no sign-in waiting for a passkey: sign in with your password first."))
    return user


@bp.route("/signin/passkey")
def signin_page():
    """A page with only the passkey button, for the person between the two steps of sign-in."""
    try:
        _pending_or_404()
    except NotFound:
        abort(404)
    return render_template("accounts/passkeys_signin.html")


@bp.route("/signin/passkey/options", methods=["POST"])
def signin_options():
    try:
        options = passkeys.authentication_options(user=_pending_or_404(), purpose="signin")
    except DomainError as error:
        return _problem(error)
    return jsonify(options)


@bp.route("/signin/passkey", methods=["POST"])
def signin_verify():
    try:
        user = _pending_or_404()
        passkeys.verify_authentication(user=user, credential=_body().get("credential"), purpose="signin")
    except DomainError as error:
        db.session.commit()  # the refused attempt stays in the audit trail
        return _problem(error)
    target = _safe_next(signin_flow.pending_next())  # read before sign_in clears the cookie session
    signin_flow.sign_in(user, factor="passkey")
    db.session.commit()
    return jsonify({"redirect": target})


# --- step-up: a fresh second factor for the current session ---------------------------------------

@bp.route("/confirm/passkey/options", methods=["POST"])
def step_up_options():
    try:
        options = passkeys.authentication_options(user=_signed_in_or_refuse(), purpose="step_up")
    except DomainError as error:
        return _problem(error)
    return jsonify(options)


@bp.route("/confirm/passkey", methods=["POST"])
def step_up_verify():
    data = _body()
    try:
        user = _signed_in_or_refuse()
        passkeys.verify_authentication(user=user, credential=data.get("credential"), purpose="step_up")
    except DomainError as error:
        db.session.commit()  # the refused attempt stays in the audit trail
        return _problem(error)
    note_factor_verified(user, session_row=signin_flow.current_session_row(user))
    db.session.commit()
    next_value = data.get("next")
    return jsonify({"redirect": _safe_next(next_value if isinstance(next_value, str) else None)})
