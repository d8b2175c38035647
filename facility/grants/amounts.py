"""Amounts in US cents as the grants services accept them (whole, positive, within the ledger's range)."""
from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

from facility.core.errors import ValidationFailed
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

