"""Amounts in US cents as the grants services accept them (whole, positive, within the ledger's range)."""
from __future__ import annotations

from datetime import date
from typing import Any

from flask_babel import gettext as _

from facility.core.errors import ValidationFailed
from facility.core.inputs import REFERENCE_CHARS, clean_text
from facility.core.models import utcnow
from facility.core.templating import money
from facility.ledger.services import MAX_AMOUNT_CENTS


def cents(value: Any, field: str, *, minimum: int = 1) -> int:
    """Rule: a whole, positive number of cents within the ledger's range, or a 422 on `field`."""
    if isinstance(value, bool) or not isinstance(value, int):
        message = _("Give a whole number of cents.")
        raise ValidationFailed(message, errors={field: [message]})
    if value < minimum:
        message = _("Give at least %(min)s.", min=money(minimum))
        raise ValidationFailed(message, errors={field: [message]})
    if value > MAX_AMOUNT_CENTS:
        message = _("This amount is larger than the facility accepts.")
        raise ValidationFailed(message, errors={field: [message]})
    return value



def money_received(amount_cents: Any, received_on: Any, bank_reference: Any,
                   errors: dict[str, list[str]]) -> tuple[int, date, str]:
    """Rule: money received (a wire, a refund) has an amount in cents, the day it arrived (not in the future)
    and the bank's reference. Each field's problem is added to `errors` (the caller raises once, naming every
    field); the values are meaningful only when `errors` stays empty."""
    values: dict[str, Any] = {"amount_cents": 0, "bank_reference": ""}
    for name, check in (("amount_cents", lambda: cents(amount_cents, "amount_cents")),
                        ("bank_reference", lambda: clean_text(bank_reference, "bank_reference",
                                                              limit=REFERENCE_CHARS, required=True))):
        try:
            values[name] = check()
        except ValidationFailed as error:
            errors.update(error.errors)
    if not isinstance(received_on, date):
        errors["received_on"] = [_("Give the date the money arrived.")]
    elif received_on > utcnow().date():
        errors["received_on"] = [_("The date cannot be in the future.")]
    return values["amount_cents"], received_on, values["bank_reference"]
