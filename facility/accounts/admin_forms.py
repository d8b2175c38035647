"""Forms of the administrators' pages: deactivation, the decisions on role requests, approval limits."""
from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length

from facility.core.forms import ParsedFieldMixin, parse_usd
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


class LimitField(ParsedFieldMixin, StringField):
    """An approval limit typed in US dollars ("250,000"); `.data` is integer cents, or None when left empty
    (the default limit)."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.data = parse_usd(valuelist[0] if valuelist else "", allow_zero=True)  # a ValueError shows on the field

    def _value(self) -> str:
        if self.raw_data:
            return str(self.raw_data[0])
        return f"{self.data / 100:,.2f}" if self.data is not None else ""


class ApprovalLimitForm(FlaskForm):
    """An administrator proposes a fund manager's new approval limit; a second administrator approves it."""

    limit_cents = LimitField(_l("New approval limit in US dollars (leave empty for the default limit)"))
    reason = TextAreaField(_l("Why (kept with the request and in the audit trail)"),
                           validators=[DataRequired(_l("Say why the limit should change.")),
                                       Length(max=REASON_CHARS)])
    submit = SubmitField(_l("Propose the new limit"))
