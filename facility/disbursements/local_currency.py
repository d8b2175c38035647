"""Payouts in local currency: how much of the grantee's own currency a US-dollar payment became.

A grant is in US dollars and so is the ledger: a disbursement always books its tranche's amount in
US cents. A payment may reach the grantee in another currency (a bank converts it, or Stripe pays a
connected account whose default currency is not USD); the local amount and the exchange rate are then
recorded on the disbursement as information, never as a posting.

- Currency: an ISO 4217 alpha-3 code in use as money (`pycountry`'s list without precious metals,
  testing and fund codes). USD means no conversion and is recorded as nothing.
- Amount: integer minor units of that currency; how many decimals a currency has is Babel's
  `get_currency_precision` (KES 2, UGX 0, BHD 3). Typed amounts are major units in ASCII digits
  (`1,292,500.50`), never floats.
- Rate: local units per US dollar, as Stripe's `balance_transaction.exchange_rate` gives it, a
  Decimal of at most `RATE_DECIMALS` decimals (stored as text, exact on SQLite and PostgreSQL).

Given the USD amount and one of {local amount, rate}, the other is derived (`manual_payment`):
amount = USD x rate, rounded half-even to the currency's minor unit; rate = amount / USD, rounded
half-even to `RATE_DECIMALS` decimals. Given both, they must agree within the precision the rate was
written with (a rate of 129.25 stands for anything from 129.245 to 129.255) and half a minor unit;
both are then kept as given. Everything here is pure apart from the viewer's locale in `format_local`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext

import pycountry
from babel.numbers import format_decimal as babel_format_decimal
from babel.numbers import get_currency_precision
from flask_babel import format_currency, get_locale, ngettext
from flask_babel import gettext as _

from facility.core.errors import ValidationFailed

HOME_CURRENCY = "USD"
RATE_DECIMALS = 8
MAX_RATE = Decimal(10) ** 10  # local units per US dollar; the weakest currencies are near 10**5
MAX_LOCAL_MINOR = 10**18  # fits a BIGINT with room to spare
RATE_CHARS = 24  # the stored text: 10 integer digits, a point, 8 decimals, with room
NOT_MONEY = frozenset({
    # Precious metals, SDRs, bond-market units, testing and "no currency" codes, and fund codes: not paid out.
    "XAG", "XAU", "XPD", "XPT", "XBA", "XBB", "XBC", "XBD", "XDR", "XSU", "XUA", "XTS", "XXX", "XAD",
    "BOV", "CHE", "CHW", "CLF", "COU", "MXV", "USN", "UYI", "UYW",
})
_AMOUNT = re.compile(r"(?P<whole>[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.(?P<fraction>[0-9]+))?")
_RATE = re.compile(r"(?P<whole>[0-9]+)(?:\.(?P<fraction>[0-9]+))?")
FIELDS = ("local_currency", "local_amount", "exchange_rate")
EXACT = Context(prec=60)  # enough digits that no product or quotient of the figures above is ever rounded


def currency_codes() -> list[str]:
    """Every currency a payment may be made in (not USD), sorted by code."""
    return sorted(c.alpha_3 for c in pycountry.currencies if c.alpha_3 not in NOT_MONEY | {HOME_CURRENCY})


def is_currency(code: str) -> bool:
    """An ISO 4217 code (upper case) of money a payment may be made in, USD included."""
    return (len(code) == 3 and code.isascii() and code.isalpha() and code not in NOT_MONEY
            and pycountry.currencies.get(alpha_3=code) is not None)


def minor_digits(currency: str) -> int:
    """How many decimals the currency's minor unit has (Babel: KES 2, UGX 0, BHD 3)."""
    return int(get_currency_precision(currency))


def to_major(amount_minor: int, currency: str) -> Decimal:
    """Minor units as an exact amount in major units with the currency's decimals (129250000 KES -> 1292500.00)."""
    digits = minor_digits(currency)
    return (Decimal(amount_minor) / (Decimal(10) ** digits)).quantize(Decimal(1).scaleb(-digits))


def format_local(amount_minor: int, currency: str) -> str:
    """An amount in the viewer's locale, with the currency's symbol or code ('KES 1,292,500.00', '1 292 500,00 KES').

    Babel does not apply CLDR's currency spacing, so a code written against the digits ('KES1,292,500.00')
    is given the no-break space CLDR asks for."""
    text = str(format_currency(to_major(amount_minor, currency), currency))
    if text.startswith(currency) and text[len(currency):][:1].isdigit():
        text = f"{currency}\xa0{text[len(currency):]}"
    elif text.endswith(currency) and text[:-len(currency)][-1:].isdigit():
        text = f"{text[:-len(currency)]}\xa0{currency}"
    return text


def format_rate(rate: Decimal) -> str:
    """A rate in the viewer's locale, every decimal kept ('129.25', '129,25')."""
    return str(babel_format_decimal(rate, locale=get_locale() or "en", decimal_quantization=False))


def rate_text(rate: Decimal) -> str:
    """The stored and API form of a rate: plain digits, no exponent, no trailing zeros ('129.25')."""
    return format(rate.normalize(), "f")


@dataclass(frozen=True)
class LocalPayment:
    """What the grantee received: `amount_minor` of `currency` at `rate` local units per US dollar."""

    currency: str
    amount_minor: int
    rate: Decimal
    source: str  # "manual" or "stripe" (`models.ExchangeRateSource`)


# --- parsing what a person typed ------------------------------------------------------------

def parse_currency(text: str | None) -> str | None:
    """A currency code typed or sent ('kes ' -> 'KES'); None when blank. ValueError with a message otherwise."""
    raw = (text or "").strip()
    if not raw:
        return None
    code = raw.upper()
    if not is_currency(code):
        raise ValueError(_("Choose the currency from the list, or give its three-letter code, like KES for the Kenyan shilling."))
    return code


def parse_local_amount(text: str | None, currency: str) -> int | None:
    """A local amount in major units ('1,292,500.50') -> integer minor units of `currency`; None when blank.

    ASCII digits only, commas between groups of three, at most the currency's decimals, above zero."""
    raw = (text or "").strip()
    if not raw:
        return None
    if raw.upper().startswith(currency):
        raw = raw[len(currency):].strip()
    digits = minor_digits(currency)
    if raw.startswith("-"):
        raise ValueError(_("Give an amount above zero."))
    match = _AMOUNT.fullmatch(raw)
    if match is None:
        raise ValueError(_("Give the amount in digits 0-9, like 1,250.50: commas between groups of three digits."))
    fraction = match.group("fraction") or ""
    if len(fraction) > digits:
        raise ValueError(ngettext("An amount in %(currency)s has at most %(n)s decimal.",
                                  "An amount in %(currency)s has at most %(n)s decimals.", digits, currency=currency, n=digits)
                         if digits else _("An amount in %(currency)s has no decimals.", currency=currency))
    whole = match.group("whole").replace(",", "")
    if len(whole) > 19:
        raise ValueError(_("This amount is larger than the facility records."))
    amount = int(whole) * 10**digits + int(fraction.ljust(digits, "0") or "0")
    if amount <= 0:
        raise ValueError(_("Give an amount above zero."))
    if amount > MAX_LOCAL_MINOR:
        raise ValueError(_("This amount is larger than the facility records."))
    return amount


def parse_rate(text: str | None) -> Decimal | None:
    """An exchange rate in local units per US dollar ('129.25') -> Decimal; None when blank.

    ASCII digits with an optional decimal point, at most `RATE_DECIMALS` decimals, above zero, below `MAX_RATE`."""
    raw = (text or "").strip()
    if not raw:
        return None
    if raw.startswith("-"):
        raise ValueError(_("Give a rate above zero."))
    match = _RATE.fullmatch(raw)
    if match is None:
        raise ValueError(_("Give the rate in digits 0-9 with a decimal point, like 129.25 (units of the local "
                           "currency for one US dollar)."))
    if len(match.group("fraction") or "") > RATE_DECIMALS:
        raise ValueError(ngettext("Give the rate with at most %(n)s decimal.",
                                  "Give the rate with at most %(n)s decimals.", RATE_DECIMALS, n=RATE_DECIMALS))
    if len(match.group("whole").lstrip("0")) > 10:
        raise ValueError(_("Give a rate below %(max)s.", max="10,000,000,000"))
    rate = Decimal(raw)
    if rate <= 0:
        raise ValueError(_("Give a rate above zero."))
    if rate >= MAX_RATE:
        raise ValueError(_("Give a rate below %(max)s.", max="10,000,000,000"))
    return rate


# --- deriving one from the other ------------------------------------------------------------

def amount_at(usd_cents: int, rate: Decimal, currency: str) -> int:
    """The local amount of `usd_cents` at `rate`, in minor units, rounded half-even to the minor unit."""
    with localcontext(EXACT):
        local_major = Decimal(usd_cents) / 100 * rate
        return int((local_major * (Decimal(10) ** minor_digits(currency))).to_integral_value(rounding=ROUND_HALF_EVEN))


def rate_of(usd_cents: int, amount_minor: int, currency: str) -> Decimal:
    """The rate that turns `usd_cents` into `amount_minor`, rounded half-even to `RATE_DECIMALS` decimals."""
    with localcontext(EXACT):
        rate = to_major(amount_minor, currency) / (Decimal(usd_cents) / 100)
        return rate.quantize(Decimal(1).scaleb(-RATE_DECIMALS), rounding=ROUND_HALF_EVEN)


def agree(usd_cents: int, amount_minor: int, rate: Decimal, currency: str) -> bool:
    """Whether an amount and a rate, both given, describe the same conversion: the amount lies within the
    rate's own precision (half its last written decimal) applied to the USD amount, plus half a minor unit."""
    exponent = rate.as_tuple().exponent
    rate_step = Decimal(1).scaleb(exponent if isinstance(exponent, int) else 0)
    scale = Decimal(10) ** minor_digits(currency)
    slack = Decimal(usd_cents) / 100 * rate_step / 2 * scale + Decimal("0.5")
    return abs(Decimal(amount_minor) - Decimal(usd_cents) / 100 * rate * scale) <= slack


def manual_payment(*, usd_cents: int, currency: str | None, amount: str | None,
                   rate: str | None) -> LocalPayment | None:
    """Rule: a manual payment's local currency, amount and rate, as a fund manager typed them, complete and
    consistent (module docstring), or a 422 with a message on each field at fault. None: paid in US dollars."""
    errors: dict[str, list[str]] = {}
    code = amount_minor = parsed_rate = None
    try:
        code = parse_currency(currency)
    except ValueError as error:
        errors["local_currency"] = [str(error)]
    if code is not None and code != HOME_CURRENCY:
        try:
            amount_minor = parse_local_amount(amount, code)
        except ValueError as error:
            errors["local_amount"] = [str(error)]
    try:
        parsed_rate = parse_rate(rate)
    except ValueError as error:
        errors["exchange_rate"] = [str(error)]
    typed_amount = bool((amount or "").strip())
    typed_rate = bool((rate or "").strip())
    if not errors:
        if code is None and (typed_amount or typed_rate):
            errors["local_currency"] = [_("Say which currency the grantee received.")]
        elif code == HOME_CURRENCY and (typed_amount or typed_rate):
            errors["local_currency"] = [_("A payment in US dollars has no local amount or exchange rate; leave "
                                          "them empty.")]
        elif code is not None and code != HOME_CURRENCY and not (typed_amount or typed_rate):
            errors["local_amount"] = [_("Give the amount received in %(currency)s, or the exchange rate (or choose "
                                        "US dollars if the bank paid in US dollars).", currency=code)]
    if errors:
        raise ValidationFailed(_("Check the local currency, amount and exchange rate."), errors=errors)
    if code is None or code == HOME_CURRENCY:
        return None
    if amount_minor is not None and parsed_rate is not None:
        if not agree(usd_cents, amount_minor, parsed_rate, code):
            expected = format_local(amount_at(usd_cents, parsed_rate, code), code)
            message = _("The amount and the rate do not match: at this rate the payment is %(expected)s. Give one "
                        "of them, or correct one.", expected=expected)
            raise ValidationFailed(message, errors={"exchange_rate": [message]})
        return LocalPayment(code, amount_minor, parsed_rate, "manual")
    if parsed_rate is not None:
        derived = amount_at(usd_cents, parsed_rate, code)
        if not 0 < derived <= MAX_LOCAL_MINOR:
            message = _("At this rate the amount would be %(what)s; check the rate.",
                        what=_("zero") if derived <= 0 else _("too large"))
            raise ValidationFailed(message, errors={"exchange_rate": [message]})
        return LocalPayment(code, derived, parsed_rate, "manual")
    assert amount_minor is not None
    derived_rate = rate_of(usd_cents, amount_minor, code)
    if not 0 < derived_rate < MAX_RATE:
        message = _("This amount gives an exchange rate the facility cannot record; check the amount.")
        raise ValidationFailed(message, errors={"local_amount": [message]})
    return LocalPayment(code, amount_minor, derived_rate, "manual")


def stripe_payment(*, usd_cents: int, currency: str | None, amount_minor: int | None,
                   rate: Decimal | None) -> LocalPayment | None:
    """What Stripe says the connected account received (its balance transaction), or None when it was US
    dollars or Stripe said too little to record. A missing rate is derived from the amounts."""
    code = (currency or "").upper()
    if not code or code == HOME_CURRENCY or not is_currency(code):
        return None
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or not 0 < amount_minor <= MAX_LOCAL_MINOR:
        return None
    if rate is None or not 0 < rate < MAX_RATE:
        rate = rate_of(usd_cents, amount_minor, code)
    rate = rate.quantize(Decimal(1).scaleb(-RATE_DECIMALS), rounding=ROUND_HALF_EVEN)
    if not 0 < rate < MAX_RATE:
        return None
    return LocalPayment(code, amount_minor, rate, "stripe")


def local_details(payment: LocalPayment | None) -> dict[str, object]:
    """The audit record's view of a local payment (nothing for US dollars)."""
    if payment is None:
        return {}
    return {"local_currency": payment.currency, "local_amount_minor": payment.amount_minor,
            "exchange_rate": rate_text(payment.rate), "exchange_rate_source": payment.source}
