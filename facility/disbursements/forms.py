"""Forms for disbursements: the buttons (CSRF only) and the few that take a reason or a bank reference.

Their length limits are `core.inputs`' constants, the same as the API schemas' and the services'.
"""
from __future__ import annotations

from typing import Any

from babel.numbers import get_currency_name
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from facility.core.inputs import REASON_CHARS, REFERENCE_CHARS
from facility.core.labels import choices
from facility.disbursements.local_currency import RATE_CHARS, currency_codes
from facility.disbursements.models import DisbursementStatus

LOCAL_AMOUNT_CHARS = 40


class ButtonForm(FlaskForm):
    """A button that changes state: only the CSRF token."""

    submit = SubmitField(_l("Confirm"))


class ReasonForm(FlaskForm):
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(_l("Say why.")), Length(max=REASON_CHARS)])
    submit = SubmitField(_l("Confirm"))


class ConfirmPaymentForm(FlaskForm):
    """The bank reference and, for a payment made in the grantee's currency, what they received.

    The currency, amount and rate are checked by the service (`local_currency.manual_payment`), as for the API."""

    bank_reference = StringField(_l("Bank reference of the transfer"),
                                 validators=[DataRequired(_l("Give the bank's reference.")),
                                             Length(max=REFERENCE_CHARS)])
    local_currency = SelectField(_l("Currency the grantee received"), validators=[Optional()], validate_choice=False,
                                 description=_l("Leave at US dollars when the bank paid in US dollars."))
    local_amount = StringField(_l("Amount received in that currency"),
                               validators=[Optional(), Length(max=LOCAL_AMOUNT_CHARS)],
                               description=_l("In digits, like 1,292,500.00. Give this, the exchange rate, or both."),
                               render_kw={"inputmode": "decimal", "autocomplete": "off"})
    exchange_rate = StringField(_l("Exchange rate (units of that currency for one US dollar)"),
                                validators=[Optional(), Length(max=RATE_CHARS)],
                                description=_l("Like 129.25. The one not given is worked out from the other "
                                               "(rounded half to even)."),
                                render_kw={"inputmode": "decimal", "autocomplete": "off"})
    submit = SubmitField(_l("Confirm payment"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.local_currency.choices = currency_choices()


def currency_choices() -> list[tuple[str, str]]:
    """US dollars first (no conversion), then every payable currency by its name in the viewer's language."""
    locale = get_locale() or "en"
    named = [(code, f"{get_currency_name(code, locale=locale)} ({code})") for code in currency_codes()]
    return [("", str(_l("US dollars (no conversion)")))] + sorted(named, key=lambda pair: pair[1].casefold())


class FilterForm(FlaskForm):
    """The queue's filter: "" is what needs attention, "all" everything, else one status."""

    class Meta:
        csrf = False

    status = SelectField(_l("Status"), validators=[Optional()],
                         choices=[("", _l("Needing attention"))] + choices(DisbursementStatus) + [("all", _l("All"))])
    submit = SubmitField(_l("Show"))
