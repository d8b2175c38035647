"""Forms for disbursements: the buttons (CSRF only) and the few that take a reason or a bank reference."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from facility.disbursements.models import DisbursementStatus


class ButtonForm(FlaskForm):
    """A button that changes state: only the CSRF token."""

    submit = SubmitField(_l("Confirm"))


class ReasonForm(FlaskForm):
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(_l("Say why.")), Length(max=2000)])
    submit = SubmitField(_l("Confirm"))


class ConfirmPaymentForm(FlaskForm):
    bank_reference = StringField(_l("Bank reference of the transfer"),
                                 validators=[DataRequired(_l("Give the bank's reference.")), Length(max=120)])
    submit = SubmitField(_l("Confirm payment"))


STATUS_LABELS = {
    DisbursementStatus.REQUESTED: _l("Awaiting approval"),
    DisbursementStatus.QUEUED: _l("Queued for payment"),
    DisbursementStatus.PROCESSING: _l("Being paid"),
    DisbursementStatus.AWAITING_CONFIRMATION: _l("Awaiting bank confirmation"),
    DisbursementStatus.RETRYING: _l("Retrying"),
    DisbursementStatus.PAID: _l("Paid"),
    DisbursementStatus.FAILED: _l("Failed"),
    DisbursementStatus.CANCELLED: _l("Cancelled"),
}


class FilterForm(FlaskForm):
    class Meta:
        csrf = False

    status = SelectField(_l("Status"), validators=[Optional()],
                         choices=[("", _l("Needing attention"))] + [(s.value, label) for s, label in STATUS_LABELS.items()]
                         + [("all", _l("All"))])
    submit = SubmitField(_l("Show"))
