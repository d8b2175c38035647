"""Forms of the administrators' pages: deactivation and the decisions on role requests."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length

from facility.core.inputs import REASON_CHARS


class ConfirmDeactivateForm(FlaskForm):
    """Deactivating signs the person out everywhere: the box must be ticked (no script needed)."""

    confirm = BooleanField(_l("Yes, deactivate this account and end all its sessions and API tokens"),
                           validators=[DataRequired(_l("Tick the box to confirm."))])
    submit = SubmitField(_l("Deactivate account"))


class ButtonForm(FlaskForm):
    """A button that only needs its CSRF token (approve, withdraw, reactivate)."""

    submit = SubmitField(_l("Confirm"))


class RejectRoleRequestForm(FlaskForm):
    reason = TextAreaField(_l("Why (optional, kept in the audit trail)"), validators=[Length(max=REASON_CHARS)])
    submit = SubmitField(_l("Reject"))
