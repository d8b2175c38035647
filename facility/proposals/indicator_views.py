"""A draft proposal's milestone indicators on its page: a small form to name one for a milestone, a button to
remove one (`proposals.indicators`). On an error the proposal's page is shown again with the form (422)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, abort, current_app, flash, g, redirect, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length

from facility.challenges.indicators import choices
from facility.core.forms import FAILED, attempt, attempt_or_flash
from facility.core.inputs import bounded_int
from facility.core.labels import label
from facility.core.policy import Decision
from facility.extensions import db
from facility.proposals import indicators, policy, queries
from facility.proposals.indicator_models import METHOD_CHARS, UNIT_CHARS, Direction
from facility.proposals.models import Proposal

bp = Blueprint("proposal_indicators", __name__)


class MilestoneIndicatorForm(FlaskForm):
    milestone_position = SelectField(_l("Milestone"), choices=[], validate_choice=False, validators=[DataRequired()])
    code = SelectField(_l("Indicator"), choices=[], validate_choice=False, validators=[DataRequired()])
    unit = StringField(_l("Unit"), validators=[Length(max=UNIT_CHARS)], description=_l("For example %, km or homes."))
    baseline = StringField(_l("Baseline (the value today)"), validators=[DataRequired(), Length(max=30)])
    target = StringField(_l("Target (the value the milestone reaches)"), validators=[DataRequired(), Length(max=30)])
    direction = RadioField(_l("Direction"), choices=[], default="increase", validate_choice=False)
    method = TextAreaField(_l("How it is measured"), validators=[Length(max=METHOD_CHARS)], render_kw={"rows": 3})
    submit = SubmitField(_l("Add the indicator"))


class RemoveIndicatorForm(FlaskForm):
    indicator_id = HiddenField()
    submit = SubmitField(_l("Remove"))


def _me() -> Any:
    return current_user._get_current_object()


def _form(proposal: Proposal, *, formdata: Any = None) -> MilestoneIndicatorForm:
    form = MilestoneIndicatorForm(prefix="indicator", **({} if formdata is None else {"formdata": formdata}))
    form.milestone_position.choices = [(str(m.position), f"{m.position}. {m.title}") for m in proposal.milestones]
    form.code.choices = choices()
    form.direction.choices = [(d.value, label(d)) for d in Direction]
    return form


def milestone_indicator_forms(proposal: Proposal) -> dict[str, Any] | None:
    """The add form (the one just posted, with its errors) and a remove form, when the user may edit the draft."""
    if policy.can_edit(_me(), proposal) is not None:
        return None
    posted = g.get("posted_milestone_indicator_form")
    return {"add": posted or _form(proposal, formdata=None), "remove": RemoveIndicatorForm(prefix="remove")}


def _refuse_role(decision: Decision) -> None:
    if decision is not None and not decision.is_state:
        decision.raise_()


@bp.route("/proposals/<int:proposal_id>/indicators", methods=["POST"])
@login_required
def add(proposal_id: int) -> Any:
    """The applicant names an indicator, baseline, target and method for one of the draft's milestones."""
    proposal = queries.get_visible_proposal(_me(), proposal_id)
    _refuse_role(policy.can_edit(_me(), proposal))
    form = _form(proposal)
    if form.validate_on_submit() and attempt(
            form, indicators.add_milestone_indicator, proposal=proposal, actor=_me(),
            milestone_position=bounded_int(form.milestone_position.data, minimum=1, maximum=1000),
            code=form.code.data, unit=form.unit.data, baseline=form.baseline.data, target=form.target.data,
            direction=form.direction.data, method=form.method.data) is not FAILED:
        db.session.commit()
        flash(_("Indicator added."), "success")
        return redirect(url_for("proposals.show", proposal_id=proposal_id) + "#indicators-heading")
    g.posted_milestone_indicator_form = form
    page = current_app.view_functions["proposals.show"](proposal_id=proposal_id)
    return (page[0] if isinstance(page, tuple) else page), 422


@bp.route("/proposals/<int:proposal_id>/indicators/remove", methods=["POST"])
@login_required
def remove(proposal_id: int) -> Any:
    """The applicant removes one of the draft's milestone indicators."""
    proposal = queries.get_visible_proposal(_me(), proposal_id)
    _refuse_role(policy.can_edit(_me(), proposal))
    form = RemoveIndicatorForm(prefix="remove")
    if not form.validate_on_submit():
        abort(400)
    indicator_id = bounded_int(form.indicator_id.data, minimum=1, maximum=2**31 - 1)
    if attempt_or_flash(indicators.remove_milestone_indicator, proposal=proposal, actor=_me(),
                        indicator_id=indicator_id) is not FAILED:
        db.session.commit()
        flash(_("Indicator removed."), "success")
    return redirect(url_for("proposals.show", proposal_id=proposal_id) + "#indicators-heading")


def register(app: Flask) -> None:
    app.register_blueprint(bp)
    app.jinja_env.globals["milestone_indicator_forms"] = milestone_indicator_forms
