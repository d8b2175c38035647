"""The grant page's indicator forms: the grantee reports a value, a fund manager verifies or rejects it, or makes
an indicator a payment condition. Each form posts to its tranche, naming the indicator by its code; on an error
the grant page is shown again with the form's errors (422)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, abort, current_app, flash, g, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from facility.core.forms import FAILED, attempt
from facility.core.inputs import REASON_CHARS
from facility.core.policy import Decision
from facility.extensions import db
from facility.grants import indicator_policy as policy
from facility.grants import indicators, queries
from facility.grants.indicator_models import TrancheIndicator
from facility.grants.models import Grant

bp = Blueprint("grant_indicators", __name__)


class ReadingForm(FlaskForm):
    code = HiddenField()
    value = StringField(_l("Measured value"), validators=[DataRequired(), Length(max=30)],
                        description=_l("A number, such as 42 or 12.5, in the indicator's unit."))
    note = TextAreaField(_l("How it was measured, and where the evidence is"), validators=[Length(max=REASON_CHARS)],
                         render_kw={"rows": 3})
    submit = SubmitField(_l("Report the value"))


class ReviewReadingForm(FlaskForm):
    code = HiddenField()
    comment = TextAreaField(_l("Comment (required to reject)"), validators=[Optional(), Length(max=REASON_CHARS)],
                            render_kw={"rows": 2})
    verify = SubmitField(_l("Verify the value"))
    reject = SubmitField(_l("Reject the value"))


class ConditionForm(FlaskForm):
    code = HiddenField()
    is_condition = HiddenField()
    submit = SubmitField(_l("Change the payment condition"))


FORMS: dict[str, type[FlaskForm]] = {"reading": ReadingForm, "review": ReviewReadingForm, "condition": ConditionForm}


ASKS: dict[str, Callable[[Any, TrancheIndicator], Decision]] = {
    "reading": policy.can_report_reading, "review": policy.can_review_reading, "condition": policy.can_set_condition}


def _me() -> Any:
    return current_user._get_current_object()


def indicator_forms(grant: Grant) -> dict[tuple[int, str], FlaskForm]:
    """The forms the user may use on the grant page, by (indicator id, kind); the one just posted with its errors."""
    posted = g.get("posted_indicator_form")
    forms: dict[tuple[int, str], FlaskForm] = {}
    for tranche in grant.tranches:
        for item in tranche.indicators:
            for kind, form_class in FORMS.items():
                key = (item.id, kind)
                if posted is not None and posted[0] == key:
                    forms[key] = posted[1]
                elif ASKS[kind](_me(), item) is None:
                    data = {"code": item.code, "is_condition": "" if item.is_condition else "1"}
                    forms[key] = form_class(prefix=f"{kind}-{item.id}", formdata=None, data=data)
    return forms


def _posted(tranche_id: int, kind: str) -> tuple[Any, TrancheIndicator, FlaskForm]:
    """The tranche (404 for those who may not see it), the indicator the form names, and the form."""
    tranche = queries.get_visible_tranche(_me(), tranche_id)
    _refuse_role(policy.can_measure(_me(), tranche.grant) if kind == "reading" else policy.can_verify_values(_me()))
    code = next((value for name, value in request.form.items() if name.endswith("-code")), None)
    item = next((i for i in tranche.indicators if i.code == code), None)
    if item is None:
        abort(400)
    form = FORMS[kind](prefix=f"{kind}-{item.id}")
    return tranche, item, form


def _again(grant_id: int, key: tuple[int, str], form: FlaskForm) -> Any:
    """The grant page again, with the posted form's errors (422)."""
    g.posted_indicator_form = (key, form)
    response = current_app.view_functions["grants.grant"](grant_id=grant_id)
    return response, 422


def _done(grant_id: int, message: str) -> Any:
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("grants.grant", grant_id=grant_id) + "#indicators-heading")


def _refuse_role(decision: Decision) -> None:
    if decision is not None and not decision.is_state:
        decision.raise_()


@bp.route("/tranches/<int:tranche_id>/indicators/reading", methods=["POST"])
@login_required
def report(tranche_id: int) -> Any:
    """The grantee reports the measured value of one of the tranche's indicators."""
    tranche, item, form = _posted(tranche_id, "reading")
    _refuse_role(policy.can_report_reading(_me(), item))
    if form.validate_on_submit() and attempt(form, indicators.report_reading, indicator=item, actor=_me(),
                                             value=form.value.data, note=form.note.data) is not FAILED:
        return _done(tranche.grant_id, _("Value reported; a fund manager will verify it."))
    return _again(tranche.grant_id, (item.id, "reading"), form)


@bp.route("/tranches/<int:tranche_id>/indicators/review", methods=["POST"])
@login_required
def review(tranche_id: int) -> Any:
    """A fund manager verifies or rejects the value awaiting verification."""
    tranche, item, form = _posted(tranche_id, "review")
    _refuse_role(policy.can_review_reading(_me(), item))
    verify = bool(form.verify.data)
    if form.validate_on_submit() and (verify or form.reject.data) and attempt(
            form, indicators.review_pending, indicator=item, actor=_me(), verify=verify,
            comment=form.comment.data) is not FAILED:
        return _done(tranche.grant_id, _("Value verified.") if verify else _("Value rejected."))
    return _again(tranche.grant_id, (item.id, "review"), form)


@bp.route("/tranches/<int:tranche_id>/indicators/condition", methods=["POST"])
@login_required
def condition(tranche_id: int) -> Any:
    """A fund manager makes the indicator a payment condition of the tranche, or not."""
    tranche, item, form = _posted(tranche_id, "condition")
    _refuse_role(policy.can_set_condition(_me(), item))
    if form.validate_on_submit() and attempt(form, indicators.set_condition, indicator=item, actor=_me(),
                                             is_condition=form.is_condition.data == "1") is not FAILED:
        return _done(tranche.grant_id, _("Payment condition changed."))
    return _again(tranche.grant_id, (item.id, "condition"), form)


def register(app: Flask) -> None:
    app.register_blueprint(bp)
    app.jinja_env.globals["indicator_forms"] = indicator_forms
