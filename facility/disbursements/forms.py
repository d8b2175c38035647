"""Forms for disbursements: the buttons (CSRF only) and the few that take a reason or a bank reference.

Their length limits are `core.inputs`' constants, the same as the API schemas' and the services'.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from facility.core.inputs import REASON_CHARS, REFERENCE_CHARS
from facility.core.labels import choices
from facility.disbursements.models import DisbursementStatus


class ButtonForm(FlaskForm):
    """A button that changes state: only the CSRF token."""

    submit = SubmitField(_l("Confirm"))


class ReasonForm(FlaskForm):
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(_l("Say why.")), Length(max=REASON_CHARS)])
    submit = SubmitField(_l("Confirm"))


class ConfirmPaymentForm(FlaskForm):
    bank_reference = StringField(_l("Bank reference of the transfer"),
                                 validators=[DataRequired(_l("Give the bank's reference.")),
                                             Length(max=REFERENCE_CHARS)])
    submit = SubmitField(_l("Confirm payment"))


class FilterForm(FlaskForm):
    """The queue's filter: "" is what needs attention, "all" everything, else one status."""

    class Meta:
        csrf = False

    status = SelectField(_l("Status"), validators=[Optional()],
                         choices=[("", _l("Needing attention"))] + choices(DisbursementStatus) + [("all", _l("All"))])
    submit = SubmitField(_l("Show"))
