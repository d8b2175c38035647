"""Where a grant is paid: the grantee gives a Stripe account or bank details; only the payment job
reads them decrypted.

Every function enforces one rule (its docstring says which), takes the acting user as `actor=`,
flushes and never commits.
"""
from __future__ import annotations

import re
from typing import Any

from flask_babel import gettext as _

from facility.accounts.models import User
from facility.accounts.services import verify_password
from facility.audit.services import record
from facility.core import crypto
from facility.core.database import lock_row
from facility.core.errors import Conflict, ValidationFailed
from facility.core.inputs import NAME_CHARS, clean_text
from facility.core.models import utcnow
from facility.core.policy import require
from facility.core.providers import STRIPE_PAYOUT_UNAVAILABLE, stripe_configured
from facility.extensions import db
from facility.grants.models import Grant, PayoutAccount, PayoutRail
from facility.grants.policy import can_set_payout

STRIPE_ACCOUNT_CHARS = 80
ACCOUNT_NUMBER_CHARS = 60  # as typed, with spaces and dashes; compacted it has 4 to 34 characters
SWIFT_CHARS = 20
PASSWORD_CHARS = 1024

_STRIPE_ACCOUNT = re.compile(r"^acct_[A-Za-z0-9]{6,64}$")
_SWIFT = re.compile(r"^[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?$")
_ACCOUNT_NUMBER = re.compile(r"^[A-Z0-9]{4,34}$")
_IBAN = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$")


def _compact(value: str | None) -> str:
    return re.sub(r"[\s-]", "", value or "").upper()


def iban_is_valid(iban: str) -> bool:
    """ISO 13616: letters to numbers, rotated, mod 97 == 1."""
    if not _IBAN.match(iban):
        return False
    rotated = iban[4:] + iban[:4]
    return int("".join(str(int(ch, 36)) for ch in rotated)) % 97 == 1


def mask(value: str, visible: int = 4) -> str:
    """Only the last `visible` characters, e.g. '•••• 6789'."""
    return "•••• " + value[-visible:] if value else ""


def _password_ok(user: User, password: str | None) -> bool:
    return bool(password) and bool(verify_password(user, password or ""))


def _stripe_details(account: PayoutAccount, stripe_account_id: str | None, errors: dict[str, list[str]]) -> None:
    stripe_account_id = (stripe_account_id or "").strip()
    if not _STRIPE_ACCOUNT.match(stripe_account_id):
        errors["stripe_account_id"] = [_("Give your Stripe account id, like acct_1A2b3C4d5E.")]
    account.stripe_account_id = stripe_account_id
    account.masked_account = mask(stripe_account_id)


def _named(value: str | None, field: str, message: str, errors: dict[str, list[str]]) -> str:
    """A required name of at most NAME_CHARS characters; `message` says what is missing."""
    try:
        text = clean_text(value, field, limit=NAME_CHARS)
    except ValidationFailed as error:
        errors.update(error.errors)
        return ""
    if not text:
        errors[field] = [message]
    return text


def _bank_details(account: PayoutAccount, errors: dict[str, list[str]], *, account_holder: str | None,
                  bank_name: str | None, account_number: str | None, iban: str | None, swift: str | None) -> None:
    holder = _named(account_holder, "account_holder", _("Give the account holder's name."), errors)
    bank = _named(bank_name, "bank_name", _("Give the bank's or mobile-money provider's name."), errors)
    number, iban_value, swift_value = _compact(account_number), _compact(iban), _compact(swift)
    if bool(number) == bool(iban_value):
        errors["account_number"] = [_("Give either an account number or an IBAN.")]
    elif number and not _ACCOUNT_NUMBER.match(number):
        errors["account_number"] = [_("An account number has 4 to 34 letters and digits.")]
    elif iban_value and not iban_is_valid(iban_value):
        errors["iban"] = [_("This is not a valid IBAN; check it against your bank statement.")]
    if swift_value and not _SWIFT.match(swift_value):
        errors["swift"] = [_("A SWIFT/BIC code has 8 or 11 characters, like DEUTDEFF or DEUTDEFF500.")]
    details = {"swift": swift_value or None}
    details["iban" if iban_value else "account_number"] = iban_value or number
    account.account_holder = holder
    account.bank_name = bank
    if not errors:
        account.encrypted_details = crypto.encrypt_json(details)
    account.masked_account = mask(iban_value or number)
    account.swift_masked = (swift_value[:4] + "••••") if swift_value else None


def set_payout_account(
    *,
    grant: Grant,
    actor: User,
    rail: PayoutRail | str,
    stripe_account_id: str | None = None,
    account_holder: str | None = None,
    bank_name: str | None = None,
    account_number: str | None = None,
    iban: str | None = None,
    swift: str | None = None,
    confirm_password: str | None = None,
) -> PayoutAccount:
    """Rule: the grantee's innovators give where the grant is paid (`policy.can_set_payout`); changing
    an existing account needs their current password, and writes a new row that supersedes the old
    (never edited in place).

    Bank numbers are stored only encrypted, and only their last four characters are kept in clear.
    """
    grant = lock_row(Grant, grant.id, missing=_("Not found."))
    require(can_set_payout(actor, grant))
    current = grant.payout_account
    errors: dict[str, list[str]] = {}
    try:
        rail = PayoutRail(rail)
    except ValueError:
        message = _("Choose Stripe or a bank transfer.") if stripe_configured() else _("Choose a bank transfer.")
        raise ValidationFailed(message, errors={"rail": [message]}) from None
    if rail == PayoutRail.STRIPE and not stripe_configured():
        message = str(STRIPE_PAYOUT_UNAVAILABLE)
        raise ValidationFailed(message, errors={"rail": [message]})
    if current is not None and not _password_ok(actor, confirm_password):
        errors["confirm_password"] = [_("Changing payout details needs your current password.")]
    account = PayoutAccount(grant_id=grant.id, rail=rail, created_by_id=actor.id, created_at=utcnow())
    if rail == PayoutRail.STRIPE:
        _stripe_details(account, stripe_account_id, errors)
    else:
        _bank_details(account, errors, account_holder=account_holder, bank_name=bank_name,
                      account_number=account_number, iban=iban, swift=swift)
    if errors:
        raise ValidationFailed(_("Some payout details need attention."), errors=errors)
    if current is not None:
        current.superseded_at = utcnow()
    grant.payout_accounts.append(account)
    db.session.flush()
    record("payout_account.changed" if current is not None else "payout_account.set", actor=actor, obj=grant,
           details={"payout_account_id": account.id, "rail": rail.value, "masked_account": account.masked_account,
                    "superseded": current.id if current is not None else None})
    db.session.flush()
    return account


def payout_details_for(grant: Grant) -> dict[str, Any]:
    """Where to pay a grant, decrypted: for the disbursement job only (never shown on a page or the API).

    The only path that decrypts bank details. Conflict when no account is given.
    """
    account = grant.payout_account
    if account is None:
        raise Conflict(_("The grantee has not given payout details yet."))
    details: dict[str, Any] = {"rail": account.rail.value, "payout_account_id": account.id}
    if account.rail == PayoutRail.STRIPE:
        details["stripe_account_id"] = account.stripe_account_id
        return details
    details.update(account_holder=account.account_holder, bank_name=account.bank_name)
    details.update(crypto.decrypt_json(account.encrypted_details or ""))
    return details
