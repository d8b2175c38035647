"""Forms of the appeal pages: the applicant's request for reconsideration and the fund manager's outcome."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length

from facility.core.inputs import COMMENT_CHARS, REASON_CHARS
from facility.core.labels import choices
from facility.review.models import AppealGrounds, AppealStatus


class AppealForm(FlaskForm):
    grounds = RadioField(_l("Grounds"), choices=choices(AppealGrounds), validators=[InputRequired()])
    statement = TextAreaField(_l("What went wrong, and why it changes the decision"),
                              validators=[DataRequired(), Length(max=COMMENT_CHARS)],
                              description=_l("A fund manager who took no part in the decision reads it."))
    submit = SubmitField(_l("Ask for reconsideration"))


class OutcomeForm(FlaskForm):
    outcome = RadioField(_l("Outcome"), validators=[InputRequired()], choices=[
        (AppealStatus.UPHELD.value, _l("Uphold: set the decision aside and review the proposal again")),
        (AppealStatus.DISMISSED.value, _l("Dismiss: the decision stands"))])
    reasons = TextAreaField(_l("Reasons"), validators=[DataRequired(), Length(max=REASON_CHARS)],
                            description=_l("The applicant reads them."))
    submit = SubmitField(_l("Decide the appeal"))


class WithdrawForm(FlaskForm):
    """The applicant's button to withdraw an appeal awaiting a decision (only the CSRF token)."""

    submit = SubmitField(_l("Withdraw the appeal"))
